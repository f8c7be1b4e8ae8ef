/* ptree: a persistent (path-copying) treap with subtree weight sums.
 *
 * Every node is immutable once it can be reached from a root handed to a caller; updates
 * build fresh nodes for the changed path only. A node owns one reference to each child
 * and one to its value (through ops), so freeing a node cascades exactly into what no
 * other node or root still reaches.
 *
 * Priorities are a hash of the key, so a given key set always yields the same shape and
 * a replaced key keeps its place; the hash is seeded per process so that the keys a
 * compiler sends (often sequential addresses) cannot line up into a degenerate tree.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ptree.h"
#include "util.h"

/* 88 bytes on LP64, which glibc serves from a 96-byte chunk. A node's own weights are
 * not stored: they are its sums minus its children's sums. The priority keeps the top 32
 * bits of the key's hash so that it packs with the refcount; the rare ties only need a
 * consistent >= in the heap order, and cost nothing measurable in depth. */
struct ptree_node {
	struct ptree_node *l, *r;
	void *val;
	struct ptree_key key;
	uint64_t sum[PTREE_NW];
	uint64_t count;
	uint32_t prio;
	atomic_uint ref;
};

static const uint64_t ptree_zero_sum[PTREE_NW];

/* splitmix64's finalizer: every input bit affects every output bit. */
static uint64_t ptree_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The seed is the module's one piece of process-wide state. It must not change once a
 * node exists, because all trees of the process share nodes and a key's priority must
 * come out the same on every put; so it is drawn once, on first use. */
static uint64_t ptree_seed_value;
static pthread_once_t ptree_seed_once = PTHREAD_ONCE_INIT;

static void ptree_seed_init(void)
{
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
		/* Without entropy a clock reading still differs between runs, which is all
		 * the seed is for. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = ptree_mix((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	}
	ptree_seed_value = seed;
}

static uint32_t ptree_prio(struct ptree_key k)
{
	pthread_once(&ptree_seed_once, ptree_seed_init);
	uint64_t h = ptree_mix(k.a ^ ptree_seed_value);
	h = ptree_mix(h ^ k.b);
	if (k.s) {
		h = ptree_mix(h ^ util_hash_str(k.s));  /* folded into the running hash */
	}
	return (uint32_t)(h >> 32);
}

int ptree_key_cmp(struct ptree_key x, struct ptree_key y)
{
	if (x.a != y.a)
		return x.a < y.a ? -1 : 1;
	if (x.b != y.b)
		return x.b < y.b ? -1 : 1;
	if (!x.s || !y.s)
		return (x.s != NULL) - (y.s != NULL);
	int c = strcmp(x.s, y.s);
	return (c > 0) - (c < 0);
}

static const uint64_t *ptree_sums(const struct ptree_node *n)
{
	return n ? n->sum : ptree_zero_sum;
}

static uint64_t ptree_cnt(const struct ptree_node *n)
{
	return n ? n->count : 0;
}

static void ptree_own(const struct ptree_node *n, uint64_t w[PTREE_NW])
{
	const uint64_t *l = ptree_sums(n->l), *r = ptree_sums(n->r);
	for (int i = 0; i < PTREE_NW; i++)
		w[i] = n->sum[i] - l[i] - r[i];
}

static struct ptree_node *ptree_ref(struct ptree_node *n)
{
	if (n)
		atomic_fetch_add_explicit(&n->ref, 1, memory_order_relaxed);
	return n;
}

static void ptree_unref(const struct ptree_ops *ops, struct ptree_node *n)
{
	while (n) {
		/* Release orders this owner's reads of the node before a free elsewhere; the
		 * acquire fence orders the free after every other owner's reads. */
		if (atomic_fetch_sub_explicit(&n->ref, 1, memory_order_release) != 1)
			return;
		atomic_thread_fence(memory_order_acquire);
		if (ops->val_unref)
			ops->val_unref(n->val);
		ptree_unref(ops, n->l);
		struct ptree_node *next = n->r;
		free(n);
		n = next;
	}
}

/* A new node with refcount 1 holding key -> val over children l and r, whose references
 * it takes over in all cases: on -ENOMEM (NULL) they are released. */
static struct ptree_node *ptree_make(const struct ptree_ops *ops, struct ptree_key key,
				     uint32_t prio, void *val, const uint64_t own[PTREE_NW],
				     struct ptree_node *l, struct ptree_node *r)
{
	struct ptree_node *n = malloc(sizeof *n);
	if (!n) {
		ptree_unref(ops, l);
		ptree_unref(ops, r);
		return NULL;
	}
	const uint64_t *ls = ptree_sums(l), *rs = ptree_sums(r);
	for (int i = 0; i < PTREE_NW; i++)
		n->sum[i] = own[i] + ls[i] + rs[i];
	n->count = 1 + ptree_cnt(l) + ptree_cnt(r);
	n->l = l;
	n->r = r;
	n->val = val;
	n->key = key;
	n->prio = prio;
	atomic_init(&n->ref, 1);
	if (ops->val_ref)
		ops->val_ref(val);
	return n;
}

/* A copy of n over new children l and r (references taken over as in ptree_make). */
static struct ptree_node *ptree_clone(const struct ptree_ops *ops, const struct ptree_node *n,
				      struct ptree_node *l, struct ptree_node *r)
{
	uint64_t own[PTREE_NW];
	ptree_own(n, own);
	return ptree_make(ops, n->key, n->prio, n->val, own, l, r);
}

/* Splits the subtree n into new owned subtrees of keys < k and > k (a node equal to k is
 * left out). Returns 0 or -ENOMEM, with nothing allocated on failure. */
static int ptree_split(const struct ptree_ops *ops, const struct ptree_node *n,
		       struct ptree_key k, struct ptree_node **lo, struct ptree_node **hi)
{
	if (!n) {
		*lo = *hi = NULL;
		return 0;
	}
	int c = ptree_key_cmp(n->key, k);
	if (c == 0) {
		*lo = ptree_ref(n->l);
		*hi = ptree_ref(n->r);
		return 0;
	}
	struct ptree_node *a, *b;
	if (c < 0) {
		int err = ptree_split(ops, n->r, k, &a, &b);
		if (err)
			return err;
		*lo = ptree_clone(ops, n, ptree_ref(n->l), a);
		*hi = b;
		if (!*lo) {
			ptree_unref(ops, b);
			return -ENOMEM;
		}
	} else {
		int err = ptree_split(ops, n->l, k, &a, &b);
		if (err)
			return err;
		*hi = ptree_clone(ops, n, b, ptree_ref(n->r));
		*lo = a;
		if (!*hi) {
			ptree_unref(ops, a);
			return -ENOMEM;
		}
	}
	return 0;
}

/* A new owned subtree equal to n with key -> val, or NULL on -ENOMEM. */
static struct ptree_node *ptree_insert(const struct ptree_ops *ops, const struct ptree_node *n,
				       struct ptree_key k, uint32_t prio, void *val,
				       const uint64_t own[PTREE_NW])
{
	int c = n ? ptree_key_cmp(k, n->key) : 0;
	if (!n || (c != 0 && prio > n->prio)) {
		struct ptree_node *lo, *hi;
		if (ptree_split(ops, n, k, &lo, &hi))
			return NULL;
		return ptree_make(ops, k, prio, val, own, lo, hi);
	}
	if (c == 0)
		return ptree_make(ops, k, n->prio, val, own, ptree_ref(n->l), ptree_ref(n->r));
	if (c < 0) {
		struct ptree_node *l = ptree_insert(ops, n->l, k, prio, val, own);
		return l ? ptree_clone(ops, n, l, ptree_ref(n->r)) : NULL;
	}
	struct ptree_node *r = ptree_insert(ops, n->r, k, prio, val, own);
	return r ? ptree_clone(ops, n, ptree_ref(n->l), r) : NULL;
}

/* Joins subtrees a and b (every key of a below every key of b) into a new owned subtree
 * in *out. Returns 0 or -ENOMEM. */
static int ptree_merge(const struct ptree_ops *ops, struct ptree_node *a,
		       struct ptree_node *b, struct ptree_node **out)
{
	struct ptree_node *sub;
	int err;
	if (!a || !b) {
		*out = ptree_ref(a ? a : b);
		return 0;
	}
	if (a->prio >= b->prio) {
		if ((err = ptree_merge(ops, a->r, b, &sub)))
			return err;
		*out = ptree_clone(ops, a, ptree_ref(a->l), sub);
	} else {
		if ((err = ptree_merge(ops, a, b->l, &sub)))
			return err;
		*out = ptree_clone(ops, b, sub, ptree_ref(b->r));
	}
	return *out ? 0 : -ENOMEM;
}

/* A new owned subtree equal to n without k in *out. Returns 0, -ENOENT or -ENOMEM. */
static int ptree_remove(const struct ptree_ops *ops, const struct ptree_node *n,
			struct ptree_key k, struct ptree_node **out)
{
	if (!n)
		return -ENOENT;
	int c = ptree_key_cmp(k, n->key);
	if (c == 0)
		return ptree_merge(ops, n->l, n->r, out);
	struct ptree_node *sub;
	int err = ptree_remove(ops, c < 0 ? n->l : n->r, k, &sub);
	if (err)
		return err;
	if (c < 0)
		*out = ptree_clone(ops, n, sub, ptree_ref(n->r));
	else
		*out = ptree_clone(ops, n, ptree_ref(n->l), sub);
	return *out ? 0 : -ENOMEM;
}

/* True when n can be reached only through the one reference its parent (or the root
 * handle) holds: nothing else can then read or take it, and it may change in place. */
static bool ptree_sole(const struct ptree_node *n)
{
	return atomic_load_explicit(&n->ref, memory_order_acquire) == 1;
}

static void ptree_resum(struct ptree_node *n, const uint64_t own[PTREE_NW])
{
	const uint64_t *ls = ptree_sums(n->l), *rs = ptree_sums(n->r);
	for (int i = 0; i < PTREE_NW; i++)
		n->sum[i] = own[i] + ls[i] + rs[i];
	n->count = 1 + ptree_cnt(n->l) + ptree_cnt(n->r);
}

/* Splits the subtree n, whose reference the caller gives up, into subtrees of keys < k
 * and > k (a node equal to k is dropped), changing sole nodes in place and copying below
 * the first shared one as ptree_split does. Returns 0 or -ENOMEM; on failure nothing has
 * changed and the caller still holds its reference to n. */
static int ptree_split_sole(const struct ptree_ops *ops, struct ptree_node *n,
			    struct ptree_key k, struct ptree_node **lo, struct ptree_node **hi)
{
	if (!n) {
		*lo = *hi = NULL;
		return 0;
	}
	if (!ptree_sole(n)) {
		int err = ptree_split(ops, n, k, lo, hi);
		if (!err)
			ptree_unref(ops, n);
		return err;
	}
	int c = ptree_key_cmp(n->key, k);
	uint64_t mine[PTREE_NW];
	ptree_own(n, mine);
	struct ptree_node *a, *b;
	if (c == 0) {
		*lo = n->l;
		*hi = n->r;
		if (ops->val_unref)
			ops->val_unref(n->val);
		free(n);
		return 0;
	}
	int err = ptree_split_sole(ops, c < 0 ? n->r : n->l, k, &a, &b);
	if (err)
		return err;
	if (c < 0) {
		n->r = a;
		*lo = n;
		*hi = b;
	} else {
		n->l = b;
		*lo = a;
		*hi = n;
	}
	ptree_resum(n, mine);
	return 0;
}

/* Inserts into the subtree at *np, which the caller reaches through sole nodes only:
 * sole nodes on the way change in place, and below the first shared one (or where the
 * new key must become the subtree's root) a new path is copied as ptree_insert does.
 * Returns 0 or -ENOMEM; on failure nothing has changed. */
static int ptree_insert_sole(const struct ptree_ops *ops, struct ptree_node **np,
			     struct ptree_key k, uint32_t prio, void *val,
			     const uint64_t own[PTREE_NW])
{
	struct ptree_node *n = *np;
	int c = n ? ptree_key_cmp(k, n->key) : 0;
	if (!n || !ptree_sole(n)) {
		struct ptree_node *sub = ptree_insert(ops, n, k, prio, val, own);
		if (!sub)
			return -ENOMEM;
		ptree_unref(ops, n);
		*np = sub;
		return 0;
	}
	if (c != 0 && prio > n->prio) {
		/* The new key roots this subtree: split it under a node allocated first, so
		 * that nothing has moved if the allocation fails. */
		struct ptree_node *top = malloc(sizeof *top);
		if (!top)
			return -ENOMEM;
		struct ptree_node *lo, *hi;
		if (ptree_split_sole(ops, n, k, &lo, &hi)) {
			free(top);
			return -ENOMEM;
		}
		top->l = lo;
		top->r = hi;
		top->val = val;
		top->key = k;
		top->prio = prio;
		atomic_init(&top->ref, 1);
		if (ops->val_ref)
			ops->val_ref(val);
		ptree_resum(top, own);
		*np = top;
		return 0;
	}
	if (c == 0) {
		if (ops->val_ref)
			ops->val_ref(val);
		if (ops->val_unref)
			ops->val_unref(n->val);
		n->val = val;
		n->key = k;  /* its string lives in the new value */
		ptree_resum(n, own);
		return 0;
	}
	uint64_t mine[PTREE_NW];
	ptree_own(n, mine);
	int err = ptree_insert_sole(ops, c < 0 ? &n->l : &n->r, k, prio, val, own);
	if (!err)
		ptree_resum(n, mine);
	return err;
}

/* Removes k from the subtree at *np, reached through sole nodes, as ptree_insert_sole
 * inserts. Returns 0, -ENOENT or -ENOMEM; on failure nothing has changed. */
static int ptree_remove_sole(const struct ptree_ops *ops, struct ptree_node **np,
			     struct ptree_key k)
{
	struct ptree_node *n = *np;
	if (!n)
		return -ENOENT;
	int c = ptree_key_cmp(k, n->key);
	if (!ptree_sole(n) || c == 0) {
		struct ptree_node *sub;
		int err = ptree_remove(ops, n, k, &sub);
		if (err)
			return err;
		ptree_unref(ops, n);
		*np = sub;
		return 0;
	}
	uint64_t mine[PTREE_NW];
	ptree_own(n, mine);
	int err = ptree_remove_sole(ops, c < 0 ? &n->l : &n->r, k);
	if (!err)
		ptree_resum(n, mine);
	return err;
}

int ptree_put_here(struct ptree *t, struct ptree_key k, void *val)
{
	uint64_t own[PTREE_NW] = {0};
	if (t->ops->weigh)
		t->ops->weigh(val, own);
	return ptree_insert_sole(t->ops, &t->root, k, ptree_prio(k), val, own);
}

int ptree_del_here(struct ptree *t, struct ptree_key k)
{
	return ptree_remove_sole(t->ops, &t->root, k);
}

void ptree_copy(const struct ptree *t, struct ptree *out)
{
	out->ops = t->ops;
	out->root = ptree_ref(t->root);
}

void ptree_release(struct ptree *t)
{
	ptree_unref(t->ops, t->root);
	t->root = NULL;
}

int ptree_put(const struct ptree *t, struct ptree_key k, void *val, struct ptree *out)
{
	uint64_t own[PTREE_NW] = {0};
	if (t->ops->weigh)
		t->ops->weigh(val, own);
	struct ptree_node *root = ptree_insert(t->ops, t->root, k, ptree_prio(k), val, own);
	if (!root)
		return -ENOMEM;
	out->ops = t->ops;
	out->root = root;
	return 0;
}

int ptree_del(const struct ptree *t, struct ptree_key k, struct ptree *out)
{
	struct ptree_node *root;
	int err = ptree_remove(t->ops, t->root, k, &root);
	if (err)
		return err;
	out->ops = t->ops;
	out->root = root;
	return 0;
}

void *ptree_get(const struct ptree *t, struct ptree_key k)
{
	const struct ptree_node *n = t->root;
	while (n) {
		int c = ptree_key_cmp(k, n->key);
		if (c == 0)
			return n->val;
		n = c < 0 ? n->l : n->r;
	}
	return NULL;
}

uint64_t ptree_count(const struct ptree *t)
{
	return ptree_cnt(t->root);
}

void ptree_sum(const struct ptree *t, uint64_t w[PTREE_NW])
{
	memcpy(w, ptree_sums(t->root), sizeof(uint64_t[PTREE_NW]));
}

void ptree_sum_before(const struct ptree *t, struct ptree_key k, uint64_t w[PTREE_NW],
		      uint64_t *count)
{
	uint64_t acc[PTREE_NW] = {0}, cnt = 0;
	const struct ptree_node *n = t->root;
	while (n) {
		if (ptree_key_cmp(n->key, k) < 0) {
			/* n and its whole left subtree precede k: that is n's sums minus the
			 * right subtree's. */
			const uint64_t *r = ptree_sums(n->r);
			for (int i = 0; i < PTREE_NW; i++)
				acc[i] += n->sum[i] - r[i];
			cnt += n->count - ptree_cnt(n->r);
			n = n->r;
		} else {
			n = n->l;
		}
	}
	if (w)
		memcpy(w, acc, sizeof acc);
	if (count)
		*count = cnt;
}

static void *ptree_found(const struct ptree_node *n, struct ptree_key *kout)
{
	if (!n)
		return NULL;
	if (kout)
		*kout = n->key;
	return n->val;
}

void *ptree_prev(const struct ptree *t, struct ptree_key k, struct ptree_key *kout)
{
	const struct ptree_node *best = NULL, *n = t->root;
	while (n) {
		if (ptree_key_cmp(n->key, k) < 0) {
			best = n;
			n = n->r;
		} else {
			n = n->l;
		}
	}
	return ptree_found(best, kout);
}

void *ptree_first(const struct ptree *t, struct ptree_key *kout)
{
	const struct ptree_node *n = t->root;
	while (n && n->l)
		n = n->l;
	return ptree_found(n, kout);
}

void *ptree_last(const struct ptree *t, struct ptree_key *kout)
{
	const struct ptree_node *n = t->root;
	while (n && n->r)
		n = n->r;
	return ptree_found(n, kout);
}

/* The iterator's stack holds the current node on top and, below it, the ancestors whose
 * left subtree the walk is in: exactly the nodes still to visit on the way up. */
static bool ptree_iter_push(struct ptree_iter *it, const struct ptree_node *n)
{
	if (it->depth == PTREE_MAX_DEPTH) {
		it->depth = 0;
		it->error = -EOVERFLOW;
		return false;
	}
	it->stack[it->depth++] = n;
	return true;
}

static void ptree_iter_descend_left(struct ptree_iter *it, const struct ptree_node *n)
{
	for (; n; n = n->l)
		if (!ptree_iter_push(it, n))
			return;
}

static void ptree_iter_reset(struct ptree_iter *it)
{
	it->depth = 0;
	it->error = 0;
}

void ptree_iter_first(struct ptree_iter *it, const struct ptree *t)
{
	ptree_iter_reset(it);
	ptree_iter_descend_left(it, t->root);
}

void ptree_iter_seek_key(struct ptree_iter *it, const struct ptree *t, struct ptree_key k)
{
	ptree_iter_reset(it);
	const struct ptree_node *n = t->root;
	while (n) {
		if (ptree_key_cmp(n->key, k) >= 0) {
			if (!ptree_iter_push(it, n))
				return;
			n = n->l;
		} else {
			n = n->r;
		}
	}
}

int ptree_iter_seek_weight(struct ptree_iter *it, const struct ptree *t, int wi, uint64_t pos,
			   uint64_t before[PTREE_NW])
{
	return ptree_iter_seek_spaced(it, t, wi, 0, pos, before, NULL);
}

int ptree_iter_seek_spaced(struct ptree_iter *it, const struct ptree *t, int wi,
			   uint64_t per_node, uint64_t pos, uint64_t before[PTREE_NW],
			   uint64_t *count)
{
	ptree_iter_reset(it);
	uint64_t acc[PTREE_NW] = {0}, nacc = 0;
	int err = -ERANGE;
	if (wi < 0 || wi >= PTREE_NW) {
		err = -EINVAL;
		goto out;
	}
	if (pos >= ptree_sums(t->root)[wi] + ptree_cnt(t->root) * per_node) {
		memcpy(acc, ptree_sums(t->root), sizeof acc);
		nacc = ptree_cnt(t->root);
		goto out;
	}
	/* pos is relative to the start of subtree n throughout. */
	const struct ptree_node *n = t->root;
	while (n) {
		const uint64_t *ls = ptree_sums(n->l);
		uint64_t lspan = ls[wi] + ptree_cnt(n->l) * per_node;
		if (pos < lspan) {
			if (!ptree_iter_push(it, n))
				return it->error;
			n = n->l;
			continue;
		}
		uint64_t own[PTREE_NW];
		ptree_own(n, own);
		uint64_t span = own[wi] + per_node;
		if (pos - lspan < span) {
			for (int i = 0; i < PTREE_NW; i++)
				acc[i] += ls[i];
			nacc += ptree_cnt(n->l);
			if (!ptree_iter_push(it, n))
				return it->error;
			err = 0;
			break;
		}
		pos -= lspan + span;
		for (int i = 0; i < PTREE_NW; i++)
			acc[i] += ls[i] + own[i];
		nacc += ptree_cnt(n->l) + 1;
		n = n->r;
	}
out:
	if (err)
		it->depth = 0;
	if (before)
		memcpy(before, acc, sizeof acc);
	if (count)
		*count = nacc;
	return err;
}

bool ptree_iter_valid(const struct ptree_iter *it)
{
	return it->depth > 0;
}

void *ptree_iter_val(const struct ptree_iter *it)
{
	return it->depth > 0 ? it->stack[it->depth - 1]->val : NULL;
}

struct ptree_key ptree_iter_key(const struct ptree_iter *it)
{
	struct ptree_key none = {0};
	return it->depth > 0 ? it->stack[it->depth - 1]->key : none;
}

void ptree_iter_weights(const struct ptree_iter *it, uint64_t w[PTREE_NW])
{
	if (it->depth > 0)
		ptree_own(it->stack[it->depth - 1], w);
	else
		memset(w, 0, sizeof(uint64_t[PTREE_NW]));
}

void ptree_iter_next(struct ptree_iter *it)
{
	if (it->depth == 0)
		return;
	const struct ptree_node *n = it->stack[--it->depth];
	ptree_iter_descend_left(it, n->r);
}
