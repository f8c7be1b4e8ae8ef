/* Open handles. See handle.h. */
#include "handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void handle_bytes_release(struct handle_bytes *b)
{
	gen_unref(b->g);
	free(b->owned);
	memset(b, 0, sizeof *b);
}

void handle_list_init(struct handle_list *l)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->lock, NULL);
}

static void handle_destroy(struct handle_list *l, struct handle *h);

void handle_list_destroy(struct handle_list *l)
{
	while (l->head)
		handle_destroy(l, l->head);
	pthread_mutex_destroy(&l->lock);
}

int handle_new(struct handle_list *l, enum handle_kind kind, struct handle **out)
{
	struct handle *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->kind = kind;
	h->refs = 1;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_lock(&l->lock);
	h->next = l->head;
	if (l->head)
		l->head->prev = h;
	l->head = h;
	pthread_mutex_unlock(&l->lock);
	*out = h;
	return 0;
}

void handle_ref(struct handle *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
}

void handle_free(struct handle_list *l, struct handle *h)
{
	if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
		handle_destroy(l, h);
}

static void handle_destroy(struct handle_list *l, struct handle *h)
{
	pthread_mutex_lock(&l->lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		l->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&l->lock);

	switch (h->kind) {
	case HANDLE_DWARF:
		if (h->u.dwarf.g) {
			gen_reader_close(h->u.dwarf.g);
			gen_unref(h->u.dwarf.g);
		}
		break;
	case HANDLE_BYTES:
		handle_bytes_release(&h->u.bytes);
		break;
	case HANDLE_CONTROL:
		ctl_session_free(h->u.ctl);
		break;
	case HANDLE_DIR:
		for (size_t i = 0; i < h->u.dir.n; i++)
			free(h->u.dir.v[i].name);
		free(h->u.dir.v);
		break;
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void handle_dwarf_bind(struct handle *h, struct gen *g)
{
	gen_ref(g);
	gen_reader_open(g);
	h->u.dwarf.g = g;
}

size_t handle_slice(size_t len, uint64_t off, size_t size, size_t *n)
{
	if (off >= len) {
		*n = 0;
		return len;
	}
	size_t left = len - (size_t)off;
	*n = size < left ? size : left;
	return (size_t)off;
}
