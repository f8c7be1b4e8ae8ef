/* Tests for ptree: every query is checked against a sorted-array reference model over
 * thousands of random updates; old versions are checked against snapshots taken when
 * they were current; values are refcounted objects whose live count must reach 0. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ptree.h"
#include "unit.h"

/* A failed expectation is reported once and ends the check, so a broken tree gives one
 * line instead of thousands, and the caller still releases everything. */
#define EXPECT(c)                                                                  \
	do {                                                                       \
		if (!(c)) {                                                        \
			CU_assertImplementation(CU_FALSE, __LINE__, "EXPECT(" #c ")", \
						__FILE__, "", CU_FALSE);           \
			return false;                                              \
		}                                                                  \
	} while (0)

/* Counts the values alive, to prove the tree drops every reference it takes, and the
 * references taken, which is the number of nodes built: the cost of an update. */
struct tctx {
	atomic_long live;
	atomic_long refs_taken;
};

struct tval {
	struct tctx *ctx;
	atomic_long refs;
	uint64_t w[PTREE_NW];
	bool has_s;
	char name[12];  /* the key's string: the tree keeps a pointer into it */
};

static void tval_ref(void *p)
{
	struct tval *v = p;
	atomic_fetch_add(&v->refs, 1);
	atomic_fetch_add(&v->ctx->refs_taken, 1);
}

static void tval_unref(void *p)
{
	struct tval *v = p;
	if (atomic_fetch_sub(&v->refs, 1) == 1) {
		atomic_fetch_sub(&v->ctx->live, 1);
		free(v);
	}
}

static void tval_weigh(const void *p, uint64_t w[PTREE_NW])
{
	const struct tval *v = p;
	memcpy(w, v->w, sizeof v->w);
}

static const struct ptree_ops tval_ops = {tval_ref, tval_unref, tval_weigh};

/* A new value holding one reference for its creator. */
static struct tval *tval_new(struct tctx *ctx, const char *s, const uint64_t w[PTREE_NW])
{
	struct tval *v = calloc(1, sizeof *v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	v->ctx = ctx;
	atomic_init(&v->refs, 1);
	if (w)
		memcpy(v->w, w, sizeof v->w);
	if (s) {
		v->has_s = true;
		strncpy(v->name, s, sizeof v->name - 1);
	}
	atomic_fetch_add(&ctx->live, 1);
	return v;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/* ---- the reference model: entries kept sorted by an independently written order ---- */

struct ukey {
	uint64_t a, b;
	const char *s;
};

/* Unsigned a, then unsigned b, then no string before any string, then bytes as unsigned
 * char with a shorter prefix first. */
static int model_cmp(struct ukey x, struct ukey y)
{
	if (x.a != y.a)
		return x.a < y.a ? -1 : 1;
	if (x.b != y.b)
		return x.b < y.b ? -1 : 1;
	if (!x.s || !y.s)
		return x.s ? 1 : y.s ? -1 : 0;
	for (size_t i = 0;; i++) {
		unsigned char cx = (unsigned char)x.s[i], cy = (unsigned char)y.s[i];
		if (cx != cy)
			return cx < cy ? -1 : 1;
		if (!cx)
			return 0;
	}
}

#define MODEL_MAX 64

struct ment {
	struct ukey k;
	struct tval *v;
	uint64_t w[PTREE_NW];
};

struct model {
	struct ment e[MODEL_MAX];
	size_t n;
};

/* Index of the first entry with key >= k. */
static size_t model_lower(const struct model *m, struct ukey k)
{
	size_t i = 0;
	while (i < m->n && model_cmp(m->e[i].k, k) < 0)
		i++;
	return i;
}

static void model_put(struct model *m, struct ukey k, struct tval *v)
{
	size_t i = model_lower(m, k);
	if (i == m->n || model_cmp(m->e[i].k, k) != 0) {
		memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof m->e[0]);
		m->n++;
	}
	m->e[i].k = k;
	m->e[i].k.s = v->has_s ? v->name : NULL;
	m->e[i].v = v;
	memcpy(m->e[i].w, v->w, sizeof v->w);
}

static bool model_del(struct model *m, struct ukey k)
{
	size_t i = model_lower(m, k);
	if (i == m->n || model_cmp(m->e[i].k, k) != 0)
		return false;
	memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof m->e[0]);
	m->n--;
	return true;
}

static struct ptree_key pkey(struct ukey k)
{
	struct ptree_key p = {k.a, k.b, k.s};
	return p;
}

static struct ukey ukey_of(struct ptree_key k)
{
	struct ukey u = {k.a, k.b, k.s};
	return u;
}

static bool same_key(struct ptree_key got, struct ukey want)
{
	return model_cmp(ukey_of(got), want) == 0 && (got.s == NULL) == (want.s == NULL);
}

/* Sums of the first i entries. */
static void model_prefix(const struct model *m, size_t i, uint64_t w[PTREE_NW])
{
	memset(w, 0, sizeof(uint64_t[PTREE_NW]));
	for (size_t j = 0; j < i; j++)
		for (int d = 0; d < PTREE_NW; d++)
			w[d] += m->e[j].w[d];
}

/* The iterator is at entry i of the model (or past the end when i == n). */
static bool iter_at(const struct ptree_iter *it, const struct model *m, size_t i)
{
	EXPECT(it->error == 0);
	if (i == m->n) {
		EXPECT(!ptree_iter_valid(it));
		EXPECT(ptree_iter_val(it) == NULL);
		return true;
	}
	EXPECT(ptree_iter_valid(it));
	EXPECT(ptree_iter_val(it) == m->e[i].v);
	EXPECT(same_key(ptree_iter_key(it), m->e[i].k));
	uint64_t w[PTREE_NW];
	ptree_iter_weights(it, w);
	EXPECT(memcmp(w, m->e[i].w, sizeof w) == 0);
	return true;
}

static bool check_seek_weight(const struct ptree *t, const struct model *m, int wi,
			      uint64_t pos)
{
	size_t i = 0;
	uint64_t acc = 0;
	for (; i < m->n; i++) {
		if (acc + m->e[i].w[wi] > pos)
			break;
		acc += m->e[i].w[wi];
	}
	struct ptree_iter it;
	uint64_t before[PTREE_NW];
	int rc = ptree_iter_seek_weight(&it, t, wi, pos, before);
	if (i == m->n) {
		EXPECT(rc == -ERANGE);
		EXPECT(!ptree_iter_valid(&it));
		return true;
	}
	EXPECT(rc == 0);
	uint64_t want[PTREE_NW];
	model_prefix(m, i, want);
	EXPECT(memcmp(before, want, sizeof want) == 0);
	EXPECT(before[wi] <= pos && pos < before[wi] + m->e[i].w[wi]);
	if (!iter_at(&it, m, i))
		return false;
	ptree_iter_next(&it);
	return iter_at(&it, m, i + 1);
}

/* The spaced seek: every node spans its weight plus per_node. */
static bool check_seek_spaced(const struct ptree *t, const struct model *m, int wi,
			      uint64_t per_node, uint64_t pos)
{
	size_t i = 0;
	uint64_t acc = 0;
	for (; i < m->n; i++) {
		if (acc + m->e[i].w[wi] + per_node > pos)
			break;
		acc += m->e[i].w[wi] + per_node;
	}
	struct ptree_iter it;
	uint64_t before[PTREE_NW], count = ~(uint64_t)0;
	int rc = ptree_iter_seek_spaced(&it, t, wi, per_node, pos, before, &count);
	EXPECT(count == i);
	if (i == m->n) {
		EXPECT(rc == -ERANGE);
		EXPECT(!ptree_iter_valid(&it));
		return true;
	}
	EXPECT(rc == 0);
	uint64_t want[PTREE_NW];
	model_prefix(m, i, want);
	EXPECT(memcmp(before, want, sizeof want) == 0);
	EXPECT(before[wi] + i * per_node == acc);
	if (!iter_at(&it, m, i))
		return false;
	ptree_iter_next(&it);
	return iter_at(&it, m, i + 1);
}

/* Every query of t against the model, for every key in qk (present or not). */
static bool check_tree(const struct ptree *t, const struct model *m, const struct ukey *qk,
		       size_t nq, uint64_t *rng)
{
	EXPECT(ptree_count(t) == m->n);
	uint64_t sum[PTREE_NW], want[PTREE_NW];
	ptree_sum(t, sum);
	model_prefix(m, m->n, want);
	EXPECT(memcmp(sum, want, sizeof sum) == 0);

	struct ptree_key k;
	void *v = ptree_first(t, &k);
	EXPECT(v == (m->n ? m->e[0].v : NULL));
	if (m->n)
		EXPECT(same_key(k, m->e[0].k));
	v = ptree_last(t, &k);
	EXPECT(v == (m->n ? m->e[m->n - 1].v : NULL));
	if (m->n)
		EXPECT(same_key(k, m->e[m->n - 1].k));

	struct ptree_iter it;
	ptree_iter_first(&it, t);
	for (size_t i = 0; i <= m->n; i++) {
		if (!iter_at(&it, m, i))
			return false;
		ptree_iter_next(&it);
	}

	for (size_t q = 0; q < nq; q++) {
		size_t i = model_lower(m, qk[q]);
		bool present = i < m->n && model_cmp(m->e[i].k, qk[q]) == 0;
		EXPECT(ptree_get(t, pkey(qk[q])) == (present ? m->e[i].v : NULL));

		uint64_t cnt = ~(uint64_t)0;
		ptree_sum_before(t, pkey(qk[q]), sum, &cnt);
		model_prefix(m, i, want);
		EXPECT(cnt == i);
		EXPECT(memcmp(sum, want, sizeof sum) == 0);

		k.a = 12345;
		v = ptree_prev(t, pkey(qk[q]), &k);
		EXPECT(v == (i ? m->e[i - 1].v : NULL));
		if (i)
			EXPECT(same_key(k, m->e[i - 1].k));
		else
			EXPECT(k.a == 12345);

		ptree_iter_seek_key(&it, t, pkey(qk[q]));
		for (size_t j = i; j <= m->n; j++) {
			if (!iter_at(&it, m, j))
				return false;
			ptree_iter_next(&it);
		}
	}

	uint64_t totals[PTREE_NW];
	model_prefix(m, m->n, totals);
	for (int wi = 0; wi < PTREE_NW; wi++) {
		uint64_t total = totals[wi], acc = 0;
		for (size_t i = 0; i < m->n; i++) {
			/* The first and last position of each span, and the one just past it. */
			uint64_t w = m->e[i].w[wi];
			if (!check_seek_weight(t, m, wi, acc) ||
			    (w && !check_seek_weight(t, m, wi, acc + w - 1)) ||
			    !check_seek_weight(t, m, wi, acc + w))
				return false;
			acc += w;
		}
		if (!check_seek_weight(t, m, wi, total) ||
		    !check_seek_weight(t, m, wi, total + 1) ||
		    !check_seek_weight(t, m, wi, UINT64_MAX))
			return false;
		for (int r = 0; total && r < 4; r++)
			if (!check_seek_weight(t, m, wi, rng_below(rng, total)))
				return false;
		/* Zero-weight nodes still take per_node positions: none is skipped. */
		static const uint64_t per[] = {1, 7};
		for (size_t p = 0; p < sizeof per / sizeof per[0]; p++) {
			uint64_t span_total = total + m->n * per[p];
			acc = 0;
			for (size_t i = 0; i < m->n; i++) {
				uint64_t w = m->e[i].w[wi] + per[p];
				if (!check_seek_spaced(t, m, wi, per[p], acc) ||
				    !check_seek_spaced(t, m, wi, per[p], acc + w - 1))
					return false;
				acc += w;
			}
			if (!check_seek_spaced(t, m, wi, per[p], span_total) ||
			    !check_seek_spaced(t, m, wi, per[p], UINT64_MAX))
				return false;
		}
	}
	return true;
}

/* ---- key universes ---- */

#define TOP (UINT64_C(1) << 63)

static size_t int_keys(struct ukey *out)
{
	static const uint64_t as[] = {0, 1, 2, 3, 7, TOP, UINT64_MAX - 1, UINT64_MAX};
	static const uint64_t bs[] = {0, 1, TOP, UINT64_MAX};
	size_t n = 0;
	for (size_t i = 0; i < sizeof as / sizeof as[0]; i++)
		for (size_t j = 0; j < sizeof bs / sizeof bs[0]; j++)
			out[n++] = (struct ukey){as[i], bs[j], NULL};
	return n;
}

static size_t str_keys(struct ukey *out)
{
	static const char *const ss[] = {NULL, "", "a", "ab", "abc", "b", "ba", "\xff", "a\xff"};
	size_t n = 0;
	for (uint64_t a = 0; a < 2; a++)
		for (uint64_t b = 0; b < 3; b++)
			for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++)
				out[n++] = (struct ukey){a, b, ss[i]};
	return n;
}

/* ---- tests ---- */

static void test_key_cmp(void)
{
	struct ukey ks[MODEL_MAX * 2];
	size_t n = int_keys(ks);
	n += str_keys(ks + n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			CU_ASSERT_EQUAL(ptree_key_cmp(pkey(ks[i]), pkey(ks[j])),
					model_cmp(ks[i], ks[j]));
	/* Strings compare by content, not by pointer. */
	char buf[4] = "ab";
	struct ptree_key x = {1, 2, buf}, y = {1, 2, "ab"};
	CU_ASSERT_EQUAL(ptree_key_cmp(x, y), 0);
}

static void test_empty_tree(void)
{
	struct tctx ctx = {0};
	struct ptree t = {&tval_ops, NULL};
	struct ptree_key k = {5, 5, NULL};
	uint64_t w[PTREE_NW] = {9, 9, 9}, cnt = 9;
	CU_ASSERT_EQUAL(ptree_count(&t), 0);
	ptree_sum(&t, w);
	CU_ASSERT(w[0] == 0 && w[1] == 0 && w[2] == 0);
	ptree_sum_before(&t, k, w, &cnt);
	CU_ASSERT(w[0] == 0 && w[1] == 0 && w[2] == 0 && cnt == 0);
	CU_ASSERT_PTR_NULL(ptree_get(&t, k));
	CU_ASSERT_PTR_NULL(ptree_prev(&t, k, NULL));
	CU_ASSERT_PTR_NULL(ptree_first(&t, NULL));
	CU_ASSERT_PTR_NULL(ptree_last(&t, NULL));

	struct ptree_iter it;
	ptree_iter_first(&it, &t);
	CU_ASSERT(!ptree_iter_valid(&it));
	CU_ASSERT_EQUAL(it.error, 0);
	CU_ASSERT_PTR_NULL(ptree_iter_val(&it));
	ptree_iter_next(&it);
	CU_ASSERT(!ptree_iter_valid(&it));
	ptree_iter_seek_key(&it, &t, k);
	CU_ASSERT(!ptree_iter_valid(&it));
	CU_ASSERT_EQUAL(ptree_iter_seek_weight(&it, &t, 0, 0, w), -ERANGE);
	CU_ASSERT(!ptree_iter_valid(&it));

	struct ptree out = {NULL, NULL};
	CU_ASSERT_EQUAL(ptree_del(&t, k, &out), -ENOENT);
	CU_ASSERT_PTR_NULL(out.ops);
	ptree_release(&t);
	ptree_release(&t);

	/* One value: the tree takes exactly one reference and gives it back. */
	uint64_t w1[PTREE_NW] = {1, 2, 3};
	struct tval *v = tval_new(&ctx, NULL, w1);
	CU_ASSERT_EQUAL(ptree_put(&t, k, v, &out), 0);
	CU_ASSERT_EQUAL(atomic_load(&v->refs), 2);
	CU_ASSERT_PTR_EQUAL(out.ops, &tval_ops);
	CU_ASSERT_PTR_EQUAL(ptree_get(&out, k), v);
	CU_ASSERT_EQUAL(ptree_count(&t), 0);
	tval_unref(v);
	ptree_release(&out);
	CU_ASSERT_PTR_NULL(out.root);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
}

static void test_single_and_replace(void)
{
	struct tctx ctx = {0};
	struct ptree t0 = {&tval_ops, NULL}, t1, t2, t3;
	struct ptree_key k = {4, 0, "fn"};
	uint64_t wa[PTREE_NW] = {10, 0, 1}, wb[PTREE_NW] = {0, 7, 1};
	struct tval *a = tval_new(&ctx, "fn", wa), *b = tval_new(&ctx, "fn", wb);
	k.s = a->name;
	CU_ASSERT_EQUAL_FATAL(ptree_put(&t0, k, a, &t1), 0);
	k.s = b->name;
	CU_ASSERT_EQUAL_FATAL(ptree_put(&t1, k, b, &t2), 0);
	tval_unref(a);
	tval_unref(b);

	/* Replacing keeps the count, swaps value and weights, and leaves t1 as it was. */
	uint64_t w[PTREE_NW];
	CU_ASSERT_EQUAL(ptree_count(&t2), 1);
	CU_ASSERT_PTR_EQUAL(ptree_get(&t2, (struct ptree_key){4, 0, "fn"}), b);
	CU_ASSERT_PTR_EQUAL(ptree_get(&t1, (struct ptree_key){4, 0, "fn"}), a);
	ptree_sum(&t2, w);
	CU_ASSERT(memcmp(w, wb, sizeof w) == 0);
	ptree_sum(&t1, w);
	CU_ASSERT(memcmp(w, wa, sizeof w) == 0);

	/* Once t1 is gone, a is freed; t2's key must point into b, not a. */
	ptree_release(&t1);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 1);
	struct ptree_iter it;
	ptree_iter_first(&it, &t2);
	CU_ASSERT_FATAL(ptree_iter_valid(&it));
	CU_ASSERT_PTR_EQUAL(ptree_iter_key(&it).s, b->name);
	CU_ASSERT_STRING_EQUAL(ptree_iter_key(&it).s, "fn");

	/* Deleting an absent key (same a and b, other string) leaves out untouched. */
	struct ptree sentinel = {NULL, (struct ptree_node *)&sentinel};
	t3 = sentinel;
	CU_ASSERT_EQUAL(ptree_del(&t2, (struct ptree_key){4, 0, "fm"}, &t3), -ENOENT);
	CU_ASSERT_EQUAL(ptree_del(&t2, (struct ptree_key){4, 0, NULL}, &t3), -ENOENT);
	CU_ASSERT(memcmp(&t3, &sentinel, sizeof t3) == 0);
	CU_ASSERT_EQUAL(ptree_del(&t2, (struct ptree_key){4, 0, "fn"}, &t3), 0);
	CU_ASSERT_EQUAL(ptree_count(&t3), 0);
	CU_ASSERT_PTR_NULL(t3.root);
	CU_ASSERT_EQUAL(ptree_count(&t2), 1);
	ptree_release(&t2);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
	ptree_release(&t3);
}

static void test_copy(void)
{
	struct tctx ctx = {0};
	struct ptree t = {&tval_ops, NULL}, u, c;
	for (uint64_t i = 0; i < 50; i++) {
		struct tval *v = tval_new(&ctx, NULL, NULL);
		CU_ASSERT_EQUAL_FATAL(ptree_put(&t, (struct ptree_key){i, 0, NULL}, v, &u), 0);
		tval_unref(v);
		ptree_release(&t);
		t = u;
	}
	ptree_copy(&t, &c);
	CU_ASSERT_PTR_EQUAL(c.ops, t.ops);
	ptree_release(&t);
	CU_ASSERT_PTR_NULL(t.root);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 50);
	CU_ASSERT_EQUAL(ptree_count(&c), 50);
	uint64_t i = 0;
	struct ptree_iter it;
	for (ptree_iter_first(&it, &c); ptree_iter_valid(&it); ptree_iter_next(&it))
		CU_ASSERT_EQUAL(ptree_iter_key(&it).a, i++);
	CU_ASSERT_EQUAL(i, 50);
	ptree_release(&c);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
}

static void test_null_weigh(void)
{
	/* Without weigh every weight is 0, and there is no position to seek. */
	static const struct ptree_ops ops = {tval_ref, tval_unref, NULL};
	struct tctx ctx = {0};
	uint64_t w[PTREE_NW] = {5, 5, 5};
	struct tval *v = tval_new(&ctx, NULL, w);
	struct ptree t = {&ops, NULL}, u;
	CU_ASSERT_EQUAL_FATAL(ptree_put(&t, (struct ptree_key){1, 1, NULL}, v, &u), 0);
	tval_unref(v);
	ptree_sum(&u, w);
	CU_ASSERT(w[0] == 0 && w[1] == 0 && w[2] == 0);
	struct ptree_iter it;
	CU_ASSERT_EQUAL(ptree_iter_seek_weight(&it, &u, 2, 0, w), -ERANGE);
	CU_ASSERT_EQUAL(ptree_iter_seek_weight(&it, &u, PTREE_NW, 0, w), -EINVAL);
	CU_ASSERT_EQUAL(ptree_iter_seek_weight(&it, &u, -1, 0, NULL), -EINVAL);
	ptree_iter_first(&it, &u);
	ptree_iter_weights(&it, w);
	CU_ASSERT(w[0] == 0 && w[1] == 0 && w[2] == 0);
	ptree_release(&u);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
}

/* A random weight vector: dimension 0 is often 0, dimension 1 spans a wide range,
 * dimension 2 is a count, and any further one is mostly 0 (as lists are). */
static void random_weights(uint64_t *rng, uint64_t w[PTREE_NW])
{
	w[0] = rng_below(rng, 3) ? rng_below(rng, 4) : 0;
	w[1] = rng_below(rng, 4) ? rng_next(rng) >> (24 + rng_below(rng, 40)) : 0;
	w[2] = 1;
	for (int d = 3; d < PTREE_NW; d++)
		w[d] = rng_below(rng, 5) ? 0 : 1 + rng_below(rng, 200);
}

struct version {
	struct ptree t;
	struct model m;
	bool used;
};

/* Mutates one tree through many random puts and deletes, checking after every step,
 * while keeping some older versions alive and rechecking them against their snapshots. */
/* here: updates through ptree_put_here / ptree_del_here on the current version, which
 * must leave every old version (a copy taken earlier) exactly as it was. */
static void run_random(const struct ukey *keys, size_t nkeys, int steps, uint64_t seed,
		       bool here)
{
	struct tctx ctx = {0};
	struct ptree cur = {&tval_ops, NULL};
	struct model *m = calloc(1, sizeof *m);
	struct version *old = calloc(6, sizeof *old);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(old);
	/* Queries also probe keys below and above every stored key. */
	struct ukey *q = calloc(nkeys + 2, sizeof *q);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	memcpy(q, keys, nkeys * sizeof *q);
	q[nkeys] = (struct ukey){0, 0, NULL};
	q[nkeys + 1] = (struct ukey){UINT64_MAX, UINT64_MAX, "\xff\xff"};
	size_t nq = nkeys + 2;
	uint64_t rng = seed;
	bool ok = true;
	int dels = 0, absent = 0, replaces = 0;

	for (int step = 0; ok && step < steps; step++) {
		struct ukey k = keys[rng_below(&rng, nkeys)];
		struct ptree next = {NULL, NULL};
		if (rng_below(&rng, 5) < 3) {
			uint64_t w[PTREE_NW];
			random_weights(&rng, w);
			struct tval *v = tval_new(&ctx, k.s, w);
			struct ptree_key pk = pkey(k);
			pk.s = k.s ? v->name : NULL;
			if (ptree_get(&cur, pk))
				replaces++;
			/* The model's keys point into the values it holds no reference to: an
			 * update in place frees the replaced one at once, so the model goes first. */
			if (here)
				model_put(m, k, v);
			int rc = here ? ptree_put_here(&cur, pk, v) : ptree_put(&cur, pk, v, &next);
			CU_ASSERT_EQUAL(rc, 0);
			ok = rc == 0;
			if (ok && !here)
				model_put(m, k, v);
			tval_unref(v);
		} else {
			bool had = here && model_del(m, k);
			int rc = here ? ptree_del_here(&cur, pkey(k)) : ptree_del(&cur, pkey(k), &next);
			if (!here)
				had = model_del(m, k);
			CU_ASSERT_EQUAL(rc, had ? 0 : -ENOENT);
			ok = rc == (had ? 0 : -ENOENT);
			dels += had;
			absent += !had;
			if (!had && !here)
				ptree_copy(&cur, &next);
		}
		if (!here) {
			ptree_release(&cur);
			cur = next;
		}
		if (!ok)
			break;
		ok = check_tree(&cur, m, q, nq, &rng);

		/* With only one version alive, each value is held by exactly one node: path
		 * copies that outlived their version would show up here. */
		if (ok && step % 97 == 0) {
			bool any_old = false;
			for (int i = 0; i < 6; i++)
				any_old |= old[i].used;
			if (!any_old) {
				CU_ASSERT_EQUAL(atomic_load(&ctx.live), (long)m->n);
				for (size_t i = 0; i < m->n; i++)
					CU_ASSERT_EQUAL(atomic_load(&m->e[i].v->refs), 1);
			}
		}

		if (ok && step % 37 == 0) {
			struct version *slot = &old[rng_below(&rng, 6)];
			if (slot->used) {
				ok = check_tree(&slot->t, &slot->m, q, nq, &rng);
				ptree_release(&slot->t);
			}
			/* Some slots stay empty for a while so the single-version check runs. */
			slot->used = rng_below(&rng, 4) != 0;
			if (slot->used) {
				ptree_copy(&cur, &slot->t);
				slot->m = *m;
			}
		}
		if (ok && step % 11 == 0)
			for (int i = 0; ok && i < 6; i++)
				if (old[i].used)
					ok = check_tree(&old[i].t, &old[i].m, q, nq, &rng);
	}
	CU_ASSERT(ok);
	/* The walk must have exercised every kind of update. */
	CU_ASSERT(!ok || (dels > 100 && absent > 100 && replaces > 100));

	for (int i = 0; i < 6; i++) {
		if (!old[i].used)
			continue;
		CU_ASSERT(check_tree(&old[i].t, &old[i].m, q, nq, &rng));
		ptree_release(&old[i].t);
	}
	ptree_release(&cur);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
	free(q);
	free(old);
	free(m);
}

static void test_random_int_keys(void)
{
	struct ukey keys[MODEL_MAX];
	size_t n = int_keys(keys);
	run_random(keys, n, 4000, 1, false);
	run_random(keys, 8, 1500, 2, false);
	run_random(keys, n, 4000, 4, true);
	run_random(keys, 8, 1500, 5, true);
}

static void test_random_string_keys(void)
{
	struct ukey keys[MODEL_MAX];
	size_t n = str_keys(keys);
	run_random(keys, n, 4000, 3, false);
	run_random(keys, n, 4000, 6, true);
}

/* Updates of a tree that nothing else shares change its nodes instead of copying paths:
 * N inserts build about N nodes, not N times the depth, and after a copy is taken the
 * next update copies the shared path once, leaving the copy as it was. */
static void test_update_here(void)
{
	enum { N = 4000 };
	struct tctx ctx = {0};
	struct ptree here = {&tval_ops, NULL}, copied = {&tval_ops, NULL};
	for (uint64_t i = 0; i < N; i++) {
		uint64_t w[PTREE_NW] = {1, i, 1};
		struct tval *v = tval_new(&ctx, NULL, w);
		struct tval *u = tval_new(&ctx, NULL, w);
		CU_ASSERT_EQUAL_FATAL(ptree_put_here(&here, (struct ptree_key){i * 7 % N, 0, NULL}, v), 0);
		struct ptree next;
		CU_ASSERT_EQUAL_FATAL(ptree_put(&copied, (struct ptree_key){i * 7 % N, 0, NULL}, u,
						&next), 0);
		ptree_release(&copied);
		copied = next;
		tval_unref(v);
		tval_unref(u);
	}
	long built = atomic_load(&ctx.refs_taken);
	/* Both trees hold N values; the path-copying one built ~depth nodes per insert. */
	CU_ASSERT_EQUAL(ptree_count(&here), N);
	CU_ASSERT_EQUAL(ptree_count(&copied), N);
	CU_ASSERT(built > 5 * N);
	ptree_release(&copied);
	atomic_store(&ctx.refs_taken, 0);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t w[PTREE_NW] = {2, i, 1};
		struct tval *v = tval_new(&ctx, NULL, w);
		CU_ASSERT_EQUAL_FATAL(ptree_put_here(&here, (struct ptree_key){N + i, 0, NULL}, v), 0);
		tval_unref(v);
	}
	long in_place = atomic_load(&ctx.refs_taken);
	/* One node per new key, plus the few that a new root rotates or splits through. */
	CU_ASSERT(in_place < 2 * N);

	struct ptree keep;
	ptree_copy(&here, &keep);
	uint64_t sum_keep[PTREE_NW];
	ptree_sum(&keep, sum_keep);
	atomic_store(&ctx.refs_taken, 0);
	uint64_t w[PTREE_NW] = {5, 5, 5};
	struct tval *v = tval_new(&ctx, NULL, w);
	CU_ASSERT_EQUAL(ptree_put_here(&here, (struct ptree_key){17, 0, NULL}, v), 0);
	tval_unref(v);
	CU_ASSERT(atomic_load(&ctx.refs_taken) < 80);  /* one path, not the tree */
	CU_ASSERT_EQUAL(ptree_del_here(&here, (struct ptree_key){18, 0, NULL}), 0);
	CU_ASSERT_EQUAL(ptree_del_here(&here, (struct ptree_key){18, 0, NULL}), -ENOENT);
	uint64_t after[PTREE_NW];
	ptree_sum(&keep, after);
	CU_ASSERT(memcmp(after, sum_keep, sizeof after) == 0);
	CU_ASSERT_EQUAL(ptree_count(&keep), 2 * N);
	CU_ASSERT_EQUAL(ptree_count(&here), 2 * N - 1);
	CU_ASSERT_PTR_NOT_NULL(ptree_get(&keep, (struct ptree_key){18, 0, NULL}));
	ptree_release(&keep);
	ptree_release(&here);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
}

/* Old versions must iterate exactly as they did when they were current, through long
 * runs of later updates that share and copy their nodes. */
static void test_persistence(void)
{
	enum { N = 300, VERSIONS = 8 };
	struct tctx ctx = {0};
	struct ptree cur = {&tval_ops, NULL}, keep[VERSIONS];
	uint64_t (*snap)[N][2] = calloc(VERSIONS, sizeof *snap);
	void *(*vals)[N] = calloc(VERSIONS, sizeof *vals);
	size_t counts[VERSIONS];
	CU_ASSERT_PTR_NOT_NULL_FATAL(snap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(vals);
	uint64_t rng = 99;
	for (int ver = 0; ver < VERSIONS; ver++) {
		for (int i = 0; i < 400; i++) {
			struct ptree_key k = {rng_below(&rng, N), 0, NULL};
			struct ptree next;
			if (rng_below(&rng, 3)) {
				uint64_t w[PTREE_NW] = {1, rng_below(&rng, 1000), 2};
				struct tval *v = tval_new(&ctx, NULL, w);
				CU_ASSERT_EQUAL_FATAL(ptree_put(&cur, k, v, &next), 0);
				tval_unref(v);
			} else if (ptree_del(&cur, k, &next) != 0) {
				continue;
			}
			ptree_release(&cur);
			cur = next;
		}
		ptree_copy(&cur, &keep[ver]);
		struct ptree_iter it;
		size_t n = 0;
		for (ptree_iter_first(&it, &cur); ptree_iter_valid(&it); ptree_iter_next(&it)) {
			snap[ver][n][0] = ptree_iter_key(&it).a;
			uint64_t w[PTREE_NW];
			ptree_iter_weights(&it, w);
			snap[ver][n][1] = w[1];
			vals[ver][n++] = ptree_iter_val(&it);
		}
		counts[ver] = n;
	}
	ptree_release(&cur);
	for (int ver = 0; ver < VERSIONS; ver++) {
		struct ptree_iter it;
		size_t n = 0;
		bool same = true;
		for (ptree_iter_first(&it, &keep[ver]); ptree_iter_valid(&it); ptree_iter_next(&it)) {
			uint64_t w[PTREE_NW];
			ptree_iter_weights(&it, w);
			same &= n < counts[ver] && ptree_iter_key(&it).a == snap[ver][n][0] &&
				w[1] == snap[ver][n][1] && ptree_iter_val(&it) == vals[ver][n];
			n++;
		}
		CU_ASSERT(same);
		CU_ASSERT_EQUAL(n, counts[ver]);
		CU_ASSERT_EQUAL(ptree_count(&keep[ver]), counts[ver]);
	}
	/* Releasing in an order unrelated to creation frees exactly what each held alone. */
	for (int ver = 1; ver < VERSIONS; ver += 2)
		ptree_release(&keep[ver]);
	CU_ASSERT(atomic_load(&ctx.live) > 0);
	for (int ver = 0; ver < VERSIONS; ver += 2)
		ptree_release(&keep[ver]);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
	free(vals);
	free(snap);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return (a > b) - (a < b);
}

/* Iterates all of t, which must hold exactly the sorted keys want[0..n) in a. */
static bool check_large(const struct ptree *t, const uint64_t *want, size_t n)
{
	EXPECT(ptree_count(t) == n);
	struct ptree_iter it;
	size_t i = 0;
	for (ptree_iter_first(&it, t); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		EXPECT(i < n);
		EXPECT(ptree_iter_key(&it).a == want[i]);
		i++;
	}
	EXPECT(it.error == 0);
	EXPECT(i == n);
	/* With weight 1 per node in dimension 2, position p is the p-th key. */
	uint64_t rng = n;
	for (int r = 0; r < 2000 && n; r++) {
		size_t p = rng_below(&rng, n);
		uint64_t before[PTREE_NW], cnt;
		EXPECT(ptree_iter_seek_weight(&it, t, 2, p, before) == 0);
		EXPECT(ptree_iter_key(&it).a == want[p]);
		EXPECT(before[2] == p);
		ptree_sum_before(t, (struct ptree_key){want[p], 0, NULL}, NULL, &cnt);
		EXPECT(cnt == p);
		ptree_iter_seek_key(&it, t, (struct ptree_key){want[p], 0, NULL});
		EXPECT(it.error == 0 && ptree_iter_key(&it).a == want[p]);
	}
	return true;
}

/* Nodes built by one update: the path to the change and one split or merge below it.
 * A treap's expected depth is about 2 ln n, so the average stays far below this bound,
 * while an unbalanced tree (a list, for sequential keys) exceeds it by orders of
 * magnitude. */
static bool cost_is_logarithmic(long built, size_t ops, long worst, size_t n)
{
	double log2n = 0;
	for (size_t m = n; m > 1; m /= 2)
		log2n++;
	EXPECT((double)built / (double)ops < 3 * log2n);
	EXPECT(worst < PTREE_MAX_DEPTH);
	return true;
}

static void run_large(size_t n, bool sequential)
{
	struct tctx ctx = {0};
	struct ptree cur = {&tval_ops, NULL}, next;
	uint64_t *keys = malloc(n * sizeof *keys);
	CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
	uint64_t rng = 5;
	static const uint64_t w[PTREE_NW] = {0, 3, 1};
	long worst = 0, start = atomic_load(&ctx.refs_taken);
	for (size_t i = 0; i < n; i++) {
		/* Random keys are distinct with overwhelming odds; sequential ones are the
		 * order that would make an unbalanced tree a list. */
		keys[i] = sequential ? i : rng_next(&rng);
		struct tval *v = tval_new(&ctx, NULL, w);
		CU_ASSERT_EQUAL_FATAL(ptree_put(&cur, (struct ptree_key){keys[i], 0, NULL}, v,
						&next), 0);
		tval_unref(v);
		ptree_release(&cur);
		cur = next;
		long built = atomic_load(&ctx.refs_taken) - start;
		worst = built > worst ? built : worst;
		start += built;
	}
	CU_ASSERT(cost_is_logarithmic(start, n, worst, n));
	qsort(keys, n, sizeof *keys, cmp_u64);
	CU_ASSERT(check_large(&cur, keys, n));

	/* Remove every other key; removing one twice is -ENOENT and changes nothing. */
	size_t kept = 0;
	bool dels_ok = true;
	long del_built = 0;
	worst = 0;
	for (size_t i = 0; i < n; i++) {
		struct ptree_key k = {keys[i], 0, NULL};
		if (i % 2) {
			keys[kept++] = keys[i];
			continue;
		}
		start = atomic_load(&ctx.refs_taken);
		dels_ok &= ptree_del(&cur, k, &next) == 0;
		long built = atomic_load(&ctx.refs_taken) - start;
		worst = built > worst ? built : worst;
		del_built += built;
		ptree_release(&cur);
		cur = next;
		dels_ok &= ptree_del(&cur, k, &next) == -ENOENT;
		dels_ok &= ptree_get(&cur, k) == NULL;
	}
	CU_ASSERT(dels_ok);
	CU_ASSERT(cost_is_logarithmic(del_built, n - kept, worst, n));
	CU_ASSERT(check_large(&cur, keys, kept));
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), (long)kept);
	uint64_t sum[PTREE_NW];
	ptree_sum(&cur, sum);
	CU_ASSERT(sum[0] == 0 && sum[1] == 3 * kept && sum[2] == kept);
	ptree_release(&cur);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
	free(keys);
}

static void test_large_random(void)
{
	run_large(200000, false);
}

static void test_large_sequential(void)
{
	run_large(100000, true);
}

/* ---- concurrent readers and releasers of shared versions ---- */

enum { MT_THREADS = 4, MT_KEYS = 512 };

struct mt_arg {
	struct ptree t;  /* this thread's own reference to the shared base */
	struct tctx *ctx;
	uint64_t seed;
	bool ok;
};

static void *mt_worker(void *p)
{
	struct mt_arg *arg = p;
	bool present[MT_KEYS];
	for (uint64_t i = 0; i < MT_KEYS; i++)
		present[i] = ptree_get(&arg->t, (struct ptree_key){i, 0, NULL}) != NULL;
	struct ptree cur = arg->t, next;
	uint64_t rng = arg->seed;
	arg->ok = true;
	for (int i = 0; i < 3000; i++) {
		uint64_t a = rng_below(&rng, MT_KEYS);
		struct ptree_key k = {a, 0, NULL};
		if (rng_below(&rng, 2)) {
			struct tval *v = tval_new(arg->ctx, NULL, NULL);
			arg->ok &= ptree_put(&cur, k, v, &next) == 0;
			tval_unref(v);
			present[a] = true;
		} else {
			int rc = ptree_del(&cur, k, &next);
			arg->ok &= rc == (present[a] ? 0 : -ENOENT);
			if (rc)
				continue;
			present[a] = false;
		}
		ptree_release(&cur);
		cur = next;
	}
	uint64_t n = 0;
	for (uint64_t i = 0; i < MT_KEYS; i++) {
		n += present[i];
		arg->ok &= (ptree_get(&cur, (struct ptree_key){i, 0, NULL}) != NULL) == present[i];
	}
	arg->ok &= ptree_count(&cur) == n;
	ptree_release(&cur);
	return NULL;
}

static void test_concurrent_release(void)
{
	struct tctx ctx = {0};
	struct ptree base = {&tval_ops, NULL}, next;
	uint64_t rng = 11;
	for (int i = 0; i < 2000; i++) {
		struct tval *v = tval_new(&ctx, NULL, NULL);
		struct ptree_key k = {rng_below(&rng, MT_KEYS), 0, NULL};
		CU_ASSERT_EQUAL_FATAL(ptree_put(&base, k, v, &next), 0);
		tval_unref(v);
		ptree_release(&base);
		base = next;
	}
	struct mt_arg args[MT_THREADS];
	pthread_t th[MT_THREADS];
	int started = 0;
	for (int i = 0; i < MT_THREADS; i++) {
		args[i].ctx = &ctx;
		args[i].seed = 1000 + (uint64_t)i;
		args[i].ok = false;
		ptree_copy(&base, &args[i].t);
		if (pthread_create(&th[i], NULL, mt_worker, &args[i]) != 0) {
			ptree_release(&args[i].t);
			break;
		}
		started++;
	}
	/* The base goes away while the workers still copy paths out of it. */
	ptree_release(&base);
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT(args[i].ok);
	}
	CU_ASSERT_EQUAL(started, MT_THREADS);
	CU_ASSERT_EQUAL(atomic_load(&ctx.live), 0);
}

static const struct unit_test ptree_tests[] = {
	{"key_cmp", test_key_cmp},
	{"empty_tree", test_empty_tree},
	{"single_and_replace", test_single_and_replace},
	{"copy", test_copy},
	{"null_weigh", test_null_weigh},
	{"random_int_keys", test_random_int_keys},
	{"random_string_keys", test_random_string_keys},
	{"persistence", test_persistence},
	{"update_here", test_update_here},
	{"large_random", test_large_random},
	{"large_sequential", test_large_sequential},
	{"concurrent_release", test_concurrent_release},
	{0},
};

UNIT_SUITE(ptree, ptree_tests)
