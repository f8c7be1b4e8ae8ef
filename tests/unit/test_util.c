/* Tests for util: growth keeps contents and leaves a refused array untouched, the search
 * agrees with a linear scan in O(log n) probes, and the hash matches the published FNV-1a
 * test vectors. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "unit.h"
#include "util.h"

static void test_grow_keeps_contents(void)
{
	uint64_t *v = NULL;
	size_t cap = 0, changes = 0;
	for (size_t n = 0; n < 5000; n++) {
		size_t before = cap;
		CU_ASSERT_EQUAL_FATAL(util_grow(&v, &cap, n + 1, sizeof *v), 0);
		CU_ASSERT_FATAL(v != NULL && cap >= n + 1);
		changes += cap != before;
		v[n] = n * 0x9e3779b97f4a7c15u;
	}
	for (size_t n = 0; n < 5000; n++)
		CU_ASSERT_EQUAL(v[n], n * 0x9e3779b97f4a7c15u);
	/* Doubling from 8 elements to 8192: eleven allocations for 5000 appends. */
	CU_ASSERT(changes <= 11);
	free(v);
}

static void test_grow_first_and_large_requests(void)
{
	char *s = NULL;
	size_t cap = 0;
	CU_ASSERT_EQUAL(util_grow(&s, &cap, 0, 1), 0);
	CU_ASSERT_PTR_NOT_NULL(s);
	CU_ASSERT(cap >= UTIL_GROW_MIN);
	size_t first = cap;
	CU_ASSERT_EQUAL(util_grow(&s, &cap, first, 1), 0);
	CU_ASSERT_EQUAL(cap, first);  /* room enough: nothing moves */
	/* A request past double the room is met exactly. */
	CU_ASSERT_EQUAL(util_grow(&s, &cap, 100000, 1), 0);
	CU_ASSERT_EQUAL(cap, 100000);
	memset(s, 'x', cap);
	free(s);
}

static void test_grow_refusal_leaves_array(void)
{
	uint32_t *v = NULL;
	size_t cap = 0;
	CU_ASSERT_EQUAL_FATAL(util_grow(&v, &cap, 3, sizeof *v), 0);
	v[0] = 7, v[1] = 8, v[2] = 9;
	uint32_t *was = v;
	size_t was_cap = cap;
	/* More elements than any object may hold, and a count whose bytes overflow size_t. */
	CU_ASSERT_EQUAL(util_grow(&v, &cap, (size_t)PTRDIFF_MAX / sizeof *v + 1, sizeof *v),
			-ENOMEM);
	CU_ASSERT_EQUAL(util_grow(&v, &cap, SIZE_MAX / 2, sizeof *v), -ENOMEM);
	CU_ASSERT_PTR_EQUAL(v, was);
	CU_ASSERT_EQUAL(cap, was_cap);
	CU_ASSERT(v[0] == 7 && v[1] == 8 && v[2] == 9);
	free(v);
}

struct probe {
	const int *a;
	int key;
	size_t calls;
};

static bool less_than_key(const void *arg, size_t i)
{
	struct probe *p = (struct probe *)arg;
	p->calls++;
	return p->a[i] < p->key;
}

static bool at_most_key(const void *arg, size_t i)
{
	struct probe *p = (struct probe *)arg;
	p->calls++;
	return p->a[i] <= p->key;
}

static size_t ceil_log2(size_t n)
{
	size_t k = 0;
	while (((size_t)1 << k) < n)
		k++;
	return k;
}

static void test_search_matches_scan(void)
{
	srand(14);
	int a[64];
	for (size_t n = 0; n <= 64; n++) {
		for (size_t i = 0; i < n; i++)  /* sorted, with runs of equal values */
			a[i] = (i ? a[i - 1] : 0) + rand() % 3;
		int top = n ? a[n - 1] : 0;
		for (int key = -1; key <= top + 1; key++) {
			size_t lower = 0, upper = 0;
			while (lower < n && a[lower] < key)
				lower++;
			while (upper < n && a[upper] <= key)
				upper++;
			struct probe p = {a, key, 0};
			CU_ASSERT_EQUAL(util_search(n, less_than_key, &p), lower);
			CU_ASSERT(p.calls <= ceil_log2(n + 1));
			p.calls = 0;
			CU_ASSERT_EQUAL(util_search(n, at_most_key, &p), upper);
			CU_ASSERT(p.calls <= ceil_log2(n + 1));
		}
	}
}

static void test_hash_vectors(void)
{
	/* The FNV reference test vectors for 64-bit FNV-1a. */
	CU_ASSERT_EQUAL(util_hash(NULL, 0), 0xcbf29ce484222325u);
	CU_ASSERT_EQUAL(util_hash_str(""), 0xcbf29ce484222325u);
	CU_ASSERT_EQUAL(util_hash_str("a"), 0xaf63dc4c8601ec8cu);
	CU_ASSERT_EQUAL(util_hash_str("foobar"), 0x85944171f73967e8u);
	CU_ASSERT_EQUAL(util_hash("foobar", 6), 0x85944171f73967e8u);
	/* Bytes past a NUL count when a length is given. */
	CU_ASSERT_NOT_EQUAL(util_hash("a\0b", 3), util_hash_str("a"));
	/* Symbol keys are built from it. */
	CU_ASSERT_EQUAL(state_name_hash("foobar"), 0x85944171f73967e8u);
}

static const struct unit_test util_tests[] = {
	{"grow_keeps_contents", test_grow_keeps_contents},
	{"grow_first_and_large_requests", test_grow_first_and_large_requests},
	{"grow_refusal_leaves_array", test_grow_refusal_leaves_array},
	{"search_matches_scan", test_search_matches_scan},
	{"hash_vectors", test_hash_vectors},
	{0},
};

UNIT_SUITE(util, util_tests)
