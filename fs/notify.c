/* The notifier thread. See notify.h. */
#include "notify.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A control write waiting for the invalidations of its publish. */
struct reply {
	struct reply *next;
	fuse_req_t req;
	size_t count;
};

struct notify {
	struct ctl_registry *reg;
	struct node_pins *pins;
	enum conf_log_level log_level;
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;          /* guarded by lock */
	bool *pending;      /* guarded by lock; one flag per image index (max_images) */
	uint32_t *queue;    /* guarded by lock; the flagged indices in posting order */
	size_t nqueued;     /* guarded by lock */
	struct reply *replies;     /* guarded by lock; in posting order */
	struct reply **replies_end; /* guarded by lock; the link to append at */
	uint32_t *work;     /* the thread's copy of the queue, used without the lock */
	size_t max;         /* max_images: the size of pending, queue and work */
};

static void inval_entry(struct notify *n, uint64_t parent, const char *name)
{
	int rc = fuse_lowlevel_notify_inval_entry(n->se, parent, name, strlen(name));
	/* -ENOENT: the kernel had not cached that name, which is the common case. */
	if (rc && rc != -ENOENT)
		log_msg(n->log_level, CONF_LOG_DEBUG, "invalidating %s: %s", name, strerror(-rc));
}

static void invalidate(struct notify *n, uint32_t idx)
{
	struct image *im = ctl_registry_at(n->reg, idx);
	if (!im)
		return;
	inval_entry(n, node_encode(NODE_DWARF_DIR, idx, 0), image_name(im));
	inval_entry(n, node_encode(NODE_CONTENTS, idx, 0), "Info.plist");

	/* The kernel can only have cached generations/N for a generation it holds a lookup
	 * of, and those are exactly the pinned ones. */
	uint64_t small[64], *nums = small;
	size_t cnt = node_pinned_numbers(n->pins, idx, small, 64);
	if (cnt > 64) {
		size_t max = cnt;
		nums = malloc(max * sizeof *nums);
		if (!nums)
			return;
		/* Lookups may have pinned more since: those are newer than this publish. */
		cnt = node_pinned_numbers(n->pins, idx, nums, max);
		if (cnt > max)
			cnt = max;
	}
	uint64_t parent = node_encode(NODE_GENERATIONS, idx, 0);
	for (size_t i = 0; i < cnt; i++) {
		struct gen *g = image_generation(im, nums[i]);
		if (!g) {
			char name[24];
			snprintf(name, sizeof name, "%" PRIu64, nums[i]);
			inval_entry(n, parent, name);
		}
		gen_unref(g);
	}
	if (nums != small)
		free(nums);
}

static void answer(struct reply *r)
{
	while (r) {
		struct reply *next = r->next;
		fuse_reply_write(r->req, r->count);
		free(r);
		r = next;
	}
}

/* Each round invalidates the queued images, then answers the writes queued with them: a
 * write is queued after the post of its publish, so that post is in the same round or
 * an earlier one. Stopping drains the queue, so no request is left unanswered. */
static void *run(void *arg)
{
	struct notify *n = arg;
	uint32_t *work = n->work;
	pthread_mutex_lock(&n->lock);
	for (;;) {
		if (!n->nqueued && !n->replies) {
			if (n->stop)
				break;
			pthread_cond_wait(&n->wake, &n->lock);
			continue;
		}
		size_t cnt = n->nqueued;
		memcpy(work, n->queue, cnt * sizeof *work);
		for (size_t i = 0; i < cnt; i++)
			n->pending[work[i]] = false;
		n->nqueued = 0;
		struct reply *replies = n->replies;
		n->replies = NULL;
		n->replies_end = &n->replies;
		pthread_mutex_unlock(&n->lock);
		for (size_t i = 0; i < cnt; i++)
			invalidate(n, work[i]);
		answer(replies);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

static void destroy(struct notify *n)
{
	pthread_cond_destroy(&n->wake);
	pthread_mutex_destroy(&n->lock);
	free(n->pending);
	free(n->queue);
	free(n->work);
	free(n);
}

int notify_start(struct ctl_registry *reg, struct node_pins *pins,
		 enum conf_log_level log_level, struct fuse_session *se, struct notify **out)
{
	struct notify *n = calloc(1, sizeof *n);
	if (!n)
		return -ENOMEM;
	n->reg = reg;
	n->pins = pins;
	n->log_level = log_level;
	n->se = se;
	n->max = ctl_registry_limits(reg)->max_images;
	n->replies_end = &n->replies;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->wake, NULL);
	n->pending = calloc(n->max, sizeof *n->pending);
	n->queue = calloc(n->max, sizeof *n->queue);
	n->work = calloc(n->max, sizeof *n->work);
	if (!n->pending || !n->queue || !n->work) {
		destroy(n);
		return -ENOMEM;
	}
	/* The thread inherits this mask: termination signals go to the session's thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&n->thread, NULL, run, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		destroy(n);
		return -rc;
	}
	*out = n;
	return 0;
}

void notify_stop(struct notify *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	destroy(n);
}

void notify_post(struct notify *n, uint32_t image)
{
	pthread_mutex_lock(&n->lock);
	if (image < n->max && !n->pending[image]) {
		n->pending[image] = true;
		n->queue[n->nqueued++] = image;
		pthread_cond_signal(&n->wake);
	}
	pthread_mutex_unlock(&n->lock);
}

int notify_reply_write(struct notify *n, fuse_req_t req, size_t count)
{
	struct reply *r = malloc(sizeof *r);
	if (!r)
		return -ENOMEM;
	*r = (struct reply){NULL, req, count};
	pthread_mutex_lock(&n->lock);
	*n->replies_end = r;
	n->replies_end = &r->next;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->lock);
	return 0;
}
