/* Tests for accel: tables are read back with a reader written here from the format's
 * description (the lookup a debugger does: bucket, hashes of that bucket, data, names
 * compared through .debug_str), against a model of which names hold which DIEs, over
 * random updates; bytes must not depend on the order a set was built in, any window must
 * read as the same slice of the whole, and an old version must keep its bytes. The
 * mounted tables are checked by llvm-dwarfdump and lldb in the integration tests. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "unit.h"

#define STR_BASE 7u  /* as if the fixed strings took 7 bytes */

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t djb(const char *s)
{
	uint32_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* The resolver of these tests: a reference's k-th DIE is at id * 64 + sub + k. */
static void resolve(void *ctx, const struct accel_ref *r, uint32_t *out)
{
	(void)ctx;
	for (uint32_t k = 0; k < r->n; k++)
		out[k] = (uint32_t)(r->id * 64 + r->sub + k);
}

/* A whole table and .debug_str as a debugger would map them. */
struct image {
	uint8_t *table;
	uint64_t len;
	char *str;
	uint64_t str_len;
};

static void image_read(const struct ptree *t, struct image *im)
{
	im->len = accel_table_size(t);
	im->str_len = STR_BASE + accel_strings_size(t);
	im->table = calloc(1, im->len + 1);
	im->str = calloc(1, im->str_len + 1);
	CU_ASSERT_FATAL(im->table && im->str);
	CU_ASSERT_EQUAL(accel_read_table(t, STR_BASE, resolve, NULL, 0, im->len, im->table), 0);
	CU_ASSERT_EQUAL(accel_read_strings(t, 0, im->str_len - STR_BASE,
					   (uint8_t *)im->str + STR_BASE), 0);
}

static void image_free(struct image *im)
{
	free(im->table);
	free(im->str);
}

/* Looks name up as lldb does; returns the DIE count (-1: not found, -2: a malformed
 * table) and the DIEs (and, for the types table, their tags) in dies/tags. */
static int lookup(const struct image *im, const char *name, uint32_t *dies, uint16_t *tags,
		  int max)
{
	const uint8_t *b = im->table;
	if (im->len < 28 || rd32(b) != 0x48415348u || rd16(b + 4) != 1 || rd16(b + 6) != 0)
		return -2;
	uint32_t nb = rd32(b + 8), nh = rd32(b + 12), hdlen = rd32(b + 16);
	uint32_t natoms = rd32(b + 24);
	uint64_t buckets = 20 + (uint64_t)hdlen, hashes = buckets + 4ull * nb;
	uint64_t offsets = hashes + 4ull * nh;
	if (!nb || offsets + 4ull * nh > im->len || (natoms != 1 && natoms != 3))
		return -2;
	uint32_t h = djb(name), bucket = h % nb;
	uint32_t first = rd32(b + buckets + 4ull * bucket);
	if (first == UINT32_MAX)
		return -1;
	if (first >= nh)
		return -2;
	for (uint32_t i = first; i < nh; i++) {
		uint32_t hi = rd32(b + hashes + 4ull * i);
		if (hi % nb != bucket)
			break;
		if (hi != h)
			continue;
		uint64_t p = rd32(b + offsets + 4ull * i);
		for (;;) {
			if (p + 4 > im->len)
				return -2;
			uint32_t strp = rd32(b + p);
			p += 4;
			if (!strp)
				break;
			if (strp >= im->str_len || p + 4 > im->len)
				return -2;
			uint32_t n = rd32(b + p);
			p += 4;
			bool match = !strcmp(im->str + strp, name);
			for (uint32_t k = 0; k < n; k++) {
				if (p + (natoms == 3 ? 7 : 4) > im->len)
					return -2;
				if (match && (int)k < max) {
					dies[k] = rd32(b + p);
					if (tags)
						tags[k] = natoms == 3 ? rd16(b + p + 4) : 0;
				}
				p += natoms == 3 ? 7 : 4;
			}
			if (match)
				return (int)n;
		}
		return -1;
	}
	return -1;
}

static void test_hash(void)
{
	CU_ASSERT_EQUAL(accel_hash(""), 0x1505u);
	CU_ASSERT_EQUAL(accel_hash("a"), 0x2b606u);
	CU_ASSERT_EQUAL(accel_hash("main"), 0x7c9a7f6au);
	CU_ASSERT_EQUAL(accel_hash("__ARRAY_SIZE_TYPE__"), 0xdc8c735bu);
	CU_ASSERT_EQUAL(accel_hash("Ez"), accel_hash("FY"));  /* a known collision */
}

static void test_empty(void)
{
	struct ptree t = {&accel_names_ops, NULL};
	CU_ASSERT_EQUAL(accel_table_size(&t), 0);
	CU_ASSERT_EQUAL(accel_strings_size(&t), 0);
	CU_ASSERT_EQUAL(accel_remove(&t, "x", (struct accel_ref){1, 0, 1, ACCEL_FN, 0}), 0);
	CU_ASSERT_EQUAL(accel_put(&t, "", (struct accel_ref){1, 0, 1, ACCEL_FN, 0}), 0);
	CU_ASSERT_EQUAL(accel_put(&t, NULL, (struct accel_ref){1, 0, 1, ACCEL_FN, 0}), 0);
	CU_ASSERT_EQUAL(ptree_count(&t), 0);
}

/* Colliding names share a hash entry and are told apart by their strings. */
static void test_collision(void)
{
	struct ptree t = {&accel_names_ops, NULL};
	CU_ASSERT_EQUAL(accel_put(&t, "FY", (struct accel_ref){2, 0, 1, ACCEL_FN, 0}), 0);
	CU_ASSERT_EQUAL(accel_put(&t, "Ez", (struct accel_ref){1, 0, 1, ACCEL_FN, 0}), 0);
	CU_ASSERT_EQUAL(accel_put(&t, "Ez", (struct accel_ref){3, 5, 1, ACCEL_MARK, 0}), 0);
	CU_ASSERT_EQUAL(ptree_count(&t), 1);
	struct image im;
	image_read(&t, &im);
	uint32_t d[4];
	CU_ASSERT_EQUAL(lookup(&im, "FY", d, NULL, 4), 1);
	CU_ASSERT_EQUAL(d[0], 2 * 64);
	CU_ASSERT_EQUAL(lookup(&im, "Ez", d, NULL, 4), 2);
	CU_ASSERT_EQUAL(d[0], 1 * 64);   /* references sort by kind: the function first */
	CU_ASSERT_EQUAL(d[1], 3 * 64 + 5);
	CU_ASSERT_EQUAL(lookup(&im, "Fz", d, NULL, 4), -1);
	image_free(&im);
	CU_ASSERT_EQUAL(accel_remove(&t, "FY", (struct accel_ref){2, 0, 1, ACCEL_FN, 0}), 0);
	image_read(&t, &im);
	CU_ASSERT_EQUAL(lookup(&im, "FY", d, NULL, 4), -1);
	CU_ASSERT_EQUAL(lookup(&im, "Ez", d, NULL, 4), 2);
	image_free(&im);
	ptree_release(&t);
}

/* The model: names name_<k> for k < NAMES, each with a set of function ids. */
#define NAMES 400
#define IDS 8

static void model_name(char *out, size_t len, unsigned k)
{
	snprintf(out, len, "name_%u", k);
}

/* Every name of the model is found with exactly its DIEs, and no other name is. */
static bool check_model(const struct ptree *t, bool have[NAMES][IDS], const char *what)
{
	struct image im;
	image_read(t, &im);
	bool ok = true;
	for (unsigned k = 0; k < NAMES && ok; k++) {
		char name[32];
		model_name(name, sizeof name, k);
		uint32_t d[IDS];
		int n = lookup(&im, name, d, NULL, IDS), want = 0;
		uint32_t expect[IDS];
		for (unsigned i = 0; i < IDS; i++)
			if (have[k][i])
				expect[want++] = i * 64;
		if (n == -1)
			n = 0;
		if (n != want || memcmp(d, expect, (size_t)want * sizeof *d)) {
			CU_FAIL(what);
			fprintf(stderr, "%s: %s has %d DIEs, the model %d\n", what, name, n, want);
			ok = false;
		}
	}
	CU_ASSERT(lookup(&im, "name_x", NULL, NULL, 0) == -1 || im.len == 0);
	image_free(&im);
	return ok;
}

static void test_random_model(void)
{
	static bool have[NAMES][IDS];
	memset(have, 0, sizeof have);
	struct ptree t = {&accel_names_ops, NULL};
	srand(7);
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 500; i++) {
			unsigned k = (unsigned)rand() % NAMES, id = (unsigned)rand() % IDS;
			bool add = rand() % 3 != 0;
			char name[32];
			model_name(name, sizeof name, k);
			struct accel_ref r = {id, 0, 1, ACCEL_FN, 0};
			int rc = add ? accel_put(&t, name, r) : accel_remove(&t, name, r);
			CU_ASSERT_EQUAL_FATAL(rc, 0);
			have[k][id] = add;
		}
		if (!check_model(&t, have, "random updates"))
			break;
	}
	ptree_release(&t);
}

/* Built in two orders, a set gives the same bytes; n = 0 drops a reference. */
static void test_order_independent(void)
{
	struct ptree a = {&accel_names_ops, NULL}, b = {&accel_names_ops, NULL};
	for (unsigned k = 0; k < 300; k++) {
		char name[32];
		model_name(name, sizeof name, k % 97);
		CU_ASSERT_EQUAL(accel_put(&a, name, (struct accel_ref){k, 0, 1, ACCEL_FN, 0}), 0);
		model_name(name, sizeof name, (299 - k) % 97);
		CU_ASSERT_EQUAL(accel_put(&b, name, (struct accel_ref){299 - k, 0, 1, ACCEL_FN, 0}), 0);
	}
	CU_ASSERT_EQUAL(accel_put(&a, "extra", (struct accel_ref){1, 0, 3, ACCEL_INLINED, 0}), 0);
	CU_ASSERT_EQUAL(accel_put(&a, "extra", (struct accel_ref){1, 0, 0, ACCEL_INLINED, 0}), 0);
	struct image x, y;
	image_read(&a, &x);
	image_read(&b, &y);
	CU_ASSERT_EQUAL(x.len, y.len);
	CU_ASSERT(x.len == y.len && !memcmp(x.table, y.table, x.len));
	CU_ASSERT(x.str_len == y.str_len && !memcmp(x.str, y.str, x.str_len));
	CU_ASSERT_EQUAL(lookup(&x, "extra", NULL, NULL, 0), -1);
	image_free(&x);
	image_free(&y);
	ptree_release(&a);
	ptree_release(&b);
}

/* Any window reads as the same slice of the whole table, and of the strings. */
static void test_windows(void)
{
	struct ptree t = {&accel_types_ops, NULL};
	for (unsigned k = 0; k < 40; k++) {
		char name[32];
		model_name(name, sizeof name, k);
		CU_ASSERT_EQUAL(accel_put(&t, name, (struct accel_ref){k, 0, 1, ACCEL_TYPE, 0x13}), 0);
	}
	CU_ASSERT_EQUAL(accel_put(&t, "many", (struct accel_ref){9, 0, 40, ACCEL_INLINED, 0x1d}), 0);
	struct image im;
	image_read(&t, &im);
	uint8_t buf[2048];
	bool ok = im.len <= sizeof buf;
	CU_ASSERT_FATAL(ok);
	for (uint64_t off = 0; off < im.len && ok; off += 3)
		for (uint64_t n = 1; off + n <= im.len && n < 64 && ok; n += 5) {
			memset(buf, 0xa5, sizeof buf);
			CU_ASSERT_EQUAL(accel_read_table(&t, STR_BASE, resolve, NULL, off, n, buf), 0);
			ok = !memcmp(buf, im.table + off, n) && buf[n] == 0xa5;
		}
	CU_ASSERT(ok);
	uint64_t sl = im.str_len - STR_BASE;
	for (uint64_t off = 0; off < sl && ok; off++) {
		memset(buf, 0xa5, sizeof buf);
		CU_ASSERT_EQUAL(accel_read_strings(&t, off, sl - off, buf), 0);
		ok = !memcmp(buf, im.str + STR_BASE + off, sl - off);
	}
	CU_ASSERT(ok);
	/* The types table carries each DIE's tag. */
	uint32_t d[64];
	uint16_t tags[64];
	CU_ASSERT_EQUAL(lookup(&im, "name_3", d, tags, 64), 1);
	CU_ASSERT_EQUAL(d[0], 3 * 64);
	CU_ASSERT_EQUAL(tags[0], 0x13);
	CU_ASSERT_EQUAL(lookup(&im, "many", d, tags, 64), 40);
	CU_ASSERT(d[39] == 9 * 64 + 39 && tags[39] == 0x1d);
	image_free(&im);
	ptree_release(&t);
}

/* A copy taken before an update keeps its bytes (an old generation's table). */
static void test_persistence(void)
{
	struct ptree t = {&accel_names_ops, NULL}, old;
	for (unsigned k = 0; k < 50; k++) {
		char name[32];
		model_name(name, sizeof name, k);
		CU_ASSERT_EQUAL(accel_put(&t, name, (struct accel_ref){k, 0, 1, ACCEL_FN, 0}), 0);
	}
	struct image before, after;
	image_read(&t, &before);
	ptree_copy(&t, &old);
	CU_ASSERT_EQUAL(accel_put(&t, "name_7", (struct accel_ref){99, 0, 1, ACCEL_FN, 0}), 0);
	CU_ASSERT_EQUAL(accel_remove(&t, "name_8", (struct accel_ref){8, 0, 1, ACCEL_FN, 0}), 0);
	image_read(&old, &after);
	CU_ASSERT(before.len == after.len && !memcmp(before.table, after.table, before.len));
	uint32_t d[4];
	CU_ASSERT_EQUAL(lookup(&after, "name_8", d, NULL, 4), 1);
	image_free(&after);
	image_read(&t, &after);
	CU_ASSERT_EQUAL(lookup(&after, "name_8", d, NULL, 4), -1);
	CU_ASSERT_EQUAL(lookup(&after, "name_7", d, NULL, 4), 2);
	image_free(&before);
	image_free(&after);
	ptree_release(&old);
	ptree_release(&t);
}

static const struct unit_test accel_tests[] = {
	{"hash", test_hash},
	{"empty", test_empty},
	{"collision", test_collision},
	{"random_model", test_random_model},
	{"order_independent", test_order_independent},
	{"windows", test_windows},
	{"persistence", test_persistence},
	{0},
};

UNIT_SUITE(accel, accel_tests)
