/* Node ids and the pin table. See node.h. */
#include "node.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define KIND_BITS  8
#define IMAGE_BITS 16
#define GEN_SHIFT  (KIND_BITS + IMAGE_BITS)

uint64_t node_encode(enum node_kind kind, uint32_t image, uint64_t gen)
{
	if (image > NODE_MAX_IMAGE || gen > NODE_MAX_GEN)
		return 0;
	return gen << GEN_SHIFT | (uint64_t)image << KIND_BITS | (uint64_t)kind;
}

int node_decode(uint64_t ino, struct node_id *out)
{
	unsigned kind = ino & ((1u << KIND_BITS) - 1);
	uint32_t image = (uint32_t)(ino >> KIND_BITS) & NODE_MAX_IMAGE;
	uint64_t gen = ino >> GEN_SHIFT;
	if (kind < NODE_ROOT || kind >= NODE_KIND_END)
		return -ESTALE;
	if (!node_of_image((enum node_kind)kind) && (image || gen))
		return -ESTALE;
	if (kind < NODE_GEN_DIR && gen)
		return -ESTALE;
	if ((kind == NODE_GEN_DIR || kind >= NODE_PLIST) && !gen)
		return -ESTALE;
	*out = (struct node_id){(enum node_kind)kind, image, gen};
	return 0;
}

/* Few generations are pinned at once (the retained ones and those still open): a small
 * fixed hash is enough. */
#define NBUCKETS 64

struct pin {
	struct pin *next;
	uint32_t image;
	uint64_t number;
	uint64_t lookups;
	struct gen *g;     /* the table's reference */
};

struct node_pins {
	pthread_mutex_t lock;
	struct pin *buckets[NBUCKETS];  /* guarded by lock */
};

static struct pin **bucket(struct node_pins *p, uint32_t image, uint64_t number)
{
	uint64_t h = (number * UINT64_C(0x9e3779b97f4a7c15)) ^ image;
	return &p->buckets[(h >> 32) % NBUCKETS];
}

/* The link that points at the pin, or at the NULL ending the chain. Called with lock. */
static struct pin **find(struct node_pins *p, uint32_t image, uint64_t number)
{
	struct pin **link = bucket(p, image, number);
	while (*link && ((*link)->image != image || (*link)->number != number))
		link = &(*link)->next;
	return link;
}

int node_pins_new(struct node_pins **out)
{
	struct node_pins *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

void node_pins_free(struct node_pins *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct pin *next;
		for (struct pin *q = p->buckets[i]; q; q = next) {
			next = q->next;
			gen_unref(q->g);
			free(q);
		}
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int node_pin(struct node_pins *p, uint32_t image, struct gen *g)
{
	uint64_t number = gen_number(g);
	int rc = 0;
	pthread_mutex_lock(&p->lock);
	struct pin **link = find(p, image, number);
	if (*link) {
		(*link)->lookups++;
	} else {
		struct pin *q = malloc(sizeof *q);
		if (q) {
			gen_ref(g);
			*q = (struct pin){NULL, image, number, 1, g};
			*link = q;
		} else {
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

struct gen *node_pinned(struct node_pins *p, uint32_t image, uint64_t gen)
{
	pthread_mutex_lock(&p->lock);
	struct pin *q = *find(p, image, gen);
	struct gen *g = q ? q->g : NULL;
	if (g)
		gen_ref(g);
	pthread_mutex_unlock(&p->lock);
	return g;
}

void node_forget(struct node_pins *p, uint32_t image, uint64_t gen, uint64_t n)
{
	struct gen *drop = NULL;
	pthread_mutex_lock(&p->lock);
	struct pin **link = find(p, image, gen);
	struct pin *q = *link;
	if (q) {
		q->lookups = q->lookups > n ? q->lookups - n : 0;
		if (!q->lookups) {
			*link = q->next;
			drop = q->g;
			free(q);
		}
	}
	pthread_mutex_unlock(&p->lock);
	/* Freeing a generation can take a while: not under the lock. */
	gen_unref(drop);
}

size_t node_pinned_numbers(struct node_pins *p, uint32_t image, uint64_t *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct pin *q = p->buckets[i]; q; q = q->next)
			if (q->image == image) {
				if (n < max)
					out[n] = q->number;
				n++;
			}
	pthread_mutex_unlock(&p->lock);
	return n;
}
