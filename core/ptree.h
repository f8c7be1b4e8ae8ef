/* ptree: a persistent (path-copying) treap with subtree weight sums.
 *
 * A tree value is immutable once built: every update returns a new root that shares all
 * untouched nodes with the old one, at O(log n) new nodes. Nodes are reference counted,
 * so any number of generations can hold roots at once and a node is freed with the last
 * root that reaches it. Values are opaque pointers whose lifetime the tree manages
 * through the ops (val_ref on insertion into a node, val_unref when the node dies).
 *
 * Keys are (a, b, s) compared in that order: a and b as unsigned, then s with strcmp when
 * both keys have one (a NULL s sorts first). For a key with a string, the tree keeps a
 * pointer to s, which must live as long as the value it belongs to (put it in the value).
 *
 * Each node carries PTREE_NW weights taken from its value by ops->weigh, and the sums of
 * its subtree, so prefix sums, seeks by weight position and range sums are O(log n).
 *
 * Thread safety: a tree that is no longer modified may be read from any number of
 * threads at once. Reference counts are atomic, so releasing roots from several threads
 * is safe; building new versions is up to one writer per version.
 *
 * Depth: priorities come from a seeded hash of the key, so the expected depth is about
 * 3 ln n (about 40 at a million nodes). Iterators hold a stack of PTREE_MAX_DEPTH
 * entries; a deeper tree (which would take an astronomically unlucky hash) makes
 * iteration fail with -EOVERFLOW rather than overrun.
 */
#ifndef DSYMFS_PTREE_H
#define DSYMFS_PTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PTREE_NW 5
#define PTREE_MAX_DEPTH 160

struct ptree_key {
	uint64_t a, b;
	const char *s;
};

struct ptree_ops {
	void (*val_ref)(void *val);
	void (*val_unref)(void *val);
	/* Writes the value's PTREE_NW weights; NULL means all weights are 0. val_ref and
	 * val_unref may be NULL (values whose lifetime is managed elsewhere). */
	void (*weigh)(const void *val, uint64_t w[PTREE_NW]);
};

struct ptree_node;

/* A tree handle: a root and the ops of its values. A zeroed handle with ops set is the
 * empty tree. Handles are values: copying the struct does not take a reference; use
 * ptree_copy for that. */
struct ptree {
	const struct ptree_ops *ops;
	struct ptree_node *root;
};

int ptree_key_cmp(struct ptree_key x, struct ptree_key y);

/* Makes *out another owner of t's root (out->ops = t->ops). */
void ptree_copy(const struct ptree *t, struct ptree *out);
/* Drops this handle's reference; nodes no other root reaches are freed (and their
 * values unref'd). Leaves t empty; safe on an empty tree. */
void ptree_release(struct ptree *t);

/* Insert or replace: on success *out is a new owned tree equal to t with key -> val
 * (val_ref is called once for the new node); t is unchanged and still owned by the
 * caller. -ENOMEM leaves *out untouched. out may alias t only if the caller first keeps
 * t's root alive elsewhere; normally pass a fresh handle and release t afterwards. */
int ptree_put(const struct ptree *t, struct ptree_key k, void *val, struct ptree *out);
/* Remove: like ptree_put; -ENOENT if the key is absent. */
int ptree_del(const struct ptree *t, struct ptree_key k, struct ptree *out);

/* The same two as updates of t itself, for the one owner of a tree under construction
 * (a batch's working copy): nodes that only t reaches are changed in place instead of
 * copied, so a run of updates to a fresh copy copies each shared path once rather than on
 * every update. Other roots that share nodes with t see no change. No iterator may be
 * open on t meanwhile. -ENOMEM (-ENOENT) leave t as it was. */
int ptree_put_here(struct ptree *t, struct ptree_key k, void *val);
int ptree_del_here(struct ptree *t, struct ptree_key k);

/* Borrowed value for key, or NULL. */
void *ptree_get(const struct ptree *t, struct ptree_key k);
uint64_t ptree_count(const struct ptree *t);
/* Sums of weights over the whole tree. */
void ptree_sum(const struct ptree *t, uint64_t w[PTREE_NW]);
/* Sums of weights (and count) over all nodes whose key is < k. */
void ptree_sum_before(const struct ptree *t, struct ptree_key k, uint64_t w[PTREE_NW],
		      uint64_t *count);
/* The value with the largest key < k (its key in *kout if non-NULL), or NULL. */
void *ptree_prev(const struct ptree *t, struct ptree_key k, struct ptree_key *kout);
/* The first and last values in key order, or NULL when empty. */
void *ptree_first(const struct ptree *t, struct ptree_key *kout);
void *ptree_last(const struct ptree *t, struct ptree_key *kout);

/* In-order iteration. An iterator borrows the tree: the tree must outlive it and must
 * not be released while it is used. */
struct ptree_iter {
	const struct ptree_node *stack[PTREE_MAX_DEPTH];
	int depth;  /* 0: past the end */
	int error;  /* -EOVERFLOW if the tree was deeper than the stack */
};

/* Positions at the first node whose key is >= k. */
void ptree_iter_seek_key(struct ptree_iter *it, const struct ptree *t, struct ptree_key k);
/* Positions at the first node. */
void ptree_iter_first(struct ptree_iter *it, const struct ptree *t);
/* Positions at the node whose span in weight dimension wi contains position pos, i.e.
 * the first node with before[wi] + own[wi] > pos (nodes of zero weight are skipped).
 * Writes the sums of all weights of the nodes before it in `before`.
 * Returns 0, -ERANGE if pos >= the total weight (iterator past the end, `before` =
 * the totals), -EINVAL for a bad wi, or -EOVERFLOW. `before` may be NULL. */
int ptree_iter_seek_weight(struct ptree_iter *it, const struct ptree *t, int wi, uint64_t pos,
			   uint64_t before[PTREE_NW]);
/* The same in a stream where every node also spans per_node positions beyond its own
 * weight in dimension wi (a fixed-size piece each node repeats that is not among its
 * weights, such as a table every compile unit's header carries): positions at the first
 * node with before[wi] + k * per_node + own[wi] + per_node > pos, k being the number of
 * nodes before it, written to *count (if non-NULL; the tree's count when past the end).
 * With per_node 0 this is ptree_iter_seek_weight, except that no node is skipped for
 * having a zero weight when per_node > 0. Same returns. */
int ptree_iter_seek_spaced(struct ptree_iter *it, const struct ptree *t, int wi,
			   uint64_t per_node, uint64_t pos, uint64_t before[PTREE_NW],
			   uint64_t *count);
bool ptree_iter_valid(const struct ptree_iter *it);
void *ptree_iter_val(const struct ptree_iter *it);
struct ptree_key ptree_iter_key(const struct ptree_iter *it);
/* The current node's own weights. */
void ptree_iter_weights(const struct ptree_iter *it, uint64_t w[PTREE_NW]);
void ptree_iter_next(struct ptree_iter *it);

#endif
