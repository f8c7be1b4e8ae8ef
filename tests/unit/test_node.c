/* Suite node: fs/node.c. Node ids round-trip every (kind, image, generation) that node.h
 * says a node can have, refuse what does not fit in their bit fields and what no node
 * could be, and never collide; the pin table keeps a generation alive while the kernel
 * holds lookups of it, whatever the image did since, and drops it with the last FORGET.
 * Expected values come from node.h's stated layout and rules and from the generations'
 * own accessors, never from node.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "fs.h"
#include "gen.h"
#include "image.h"
#include "node.h"
#include "unit.h"

/* ---- node ids ---------------------------------------------------------------------- */

/* node.h's rules: the global nodes have image 0 and generation 0; per-image nodes up to
 * images/NAME/generations have generation 0; a generations/N directory and the two
 * files of a bundle never have generation 0; the bundle's directories may have any. */
static bool may_have(enum node_kind k, uint32_t image, uint64_t gen)
{
	if (k < NODE_IMAGE_DIR)
		return image == 0 && gen == 0;
	if (k <= NODE_GENERATIONS)
		return gen == 0;
	if (k == NODE_GEN_DIR || k == NODE_PLIST || k == NODE_DWARF)
		return gen != 0;
	return true;
}

static const uint32_t IMAGES[] = {0, 1, 2, 255, 256, 0x1234, NODE_MAX_IMAGE - 1, NODE_MAX_IMAGE};
static const uint64_t GENS[] = {0, 1, 2, 255, 256, 65535, 65536, UINT64_C(1) << 32,
				NODE_MAX_GEN - 1, NODE_MAX_GEN};
#define NIMAGES (sizeof IMAGES / sizeof IMAGES[0])
#define NGENS (sizeof GENS / sizeof GENS[0])

static void test_layout_is_the_documented_bit_fields(void)
{
	CU_ASSERT_EQUAL(NODE_MAX_IMAGE, 0xffffu);
	CU_ASSERT_EQUAL(NODE_MAX_GEN, UINT64_C(0xffffffffff));
	/* bits 0-7 kind, 8-23 image, 24-63 generation */
	CU_ASSERT_EQUAL(node_encode(NODE_DWARF, 0x1234, 0x56789a),
			UINT64_C(0x56789a) << 24 | UINT64_C(0x1234) << 8 | NODE_DWARF);
	CU_ASSERT_EQUAL(node_encode(NODE_ROOT, 0, 0), (uint64_t)FUSE_ROOT_ID);
	struct node_id id;
	CU_ASSERT_EQUAL_FATAL(node_decode(FUSE_ROOT_ID, &id), 0);
	CU_ASSERT_EQUAL(id.kind, NODE_ROOT);
	CU_ASSERT_EQUAL(id.image, 0);
	CU_ASSERT_EQUAL(id.gen, 0);
}

static void test_every_valid_id_round_trips(void)
{
	size_t checked = 0;
	for (int k = NODE_ROOT; k < NODE_KIND_END; k++)
		for (size_t i = 0; i < NIMAGES; i++)
			for (size_t j = 0; j < NGENS; j++) {
				if (!may_have((enum node_kind)k, IMAGES[i], GENS[j]))
					continue;
				uint64_t ino = node_encode((enum node_kind)k, IMAGES[i], GENS[j]);
				CU_ASSERT_NOT_EQUAL(ino, 0);
				struct node_id id = {0};
				CU_ASSERT_EQUAL(node_decode(ino, &id), 0);
				CU_ASSERT_EQUAL(id.kind, k);
				CU_ASSERT_EQUAL(id.image, IMAGES[i]);
				CU_ASSERT_EQUAL(id.gen, GENS[j]);
				checked++;
			}
	CU_ASSERT(checked > 100);
}

static void test_ids_that_no_node_has_are_stale(void)
{
	size_t checked = 0;
	for (int k = NODE_ROOT; k < NODE_KIND_END; k++)
		for (size_t i = 0; i < NIMAGES; i++)
			for (size_t j = 0; j < NGENS; j++) {
				if (may_have((enum node_kind)k, IMAGES[i], GENS[j]))
					continue;
				uint64_t ino = GENS[j] << 24 | (uint64_t)IMAGES[i] << 8 | (uint64_t)k;
				struct node_id id = {NODE_ROOT, 7, 7};
				CU_ASSERT_EQUAL(node_decode(ino, &id), -ESTALE);
				/* a refused decode leaves *out alone */
				CU_ASSERT(id.kind == NODE_ROOT && id.image == 7 && id.gen == 7);
				checked++;
			}
	CU_ASSERT(checked > 100);
	/* kinds outside the enum, whatever the other fields */
	struct node_id id;
	const uint64_t bad_kinds[] = {0, NODE_KIND_END, 0x80, 0xff};
	for (size_t i = 0; i < sizeof bad_kinds / sizeof bad_kinds[0]; i++) {
		CU_ASSERT_EQUAL(node_decode(bad_kinds[i], &id), -ESTALE);
		CU_ASSERT_EQUAL(node_decode(UINT64_C(5) << 24 | 3 << 8 | bad_kinds[i], &id), -ESTALE);
	}
}

static void test_what_does_not_fit_is_refused(void)
{
	CU_ASSERT_EQUAL(node_encode(NODE_DWARF, NODE_MAX_IMAGE + 1, 1), 0);
	CU_ASSERT_EQUAL(node_encode(NODE_DWARF, UINT32_MAX, 1), 0);
	CU_ASSERT_EQUAL(node_encode(NODE_DWARF, 0, NODE_MAX_GEN + 1), 0);
	CU_ASSERT_EQUAL(node_encode(NODE_DWARF, 0, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(node_encode(NODE_BUNDLE, NODE_MAX_IMAGE + 1, 0), 0);
	CU_ASSERT_EQUAL(node_encode(NODE_GEN_DIR, 1, UINT64_C(1) << 41), 0);
	/* the largest that fit are distinct, valid ids */
	uint64_t top = node_encode(NODE_DWARF, NODE_MAX_IMAGE, NODE_MAX_GEN);
	CU_ASSERT_NOT_EQUAL(top, 0);
	CU_ASSERT_NOT_EQUAL(top, node_encode(NODE_DWARF, NODE_MAX_IMAGE - 1, NODE_MAX_GEN));
	CU_ASSERT_NOT_EQUAL(top, node_encode(NODE_DWARF, NODE_MAX_IMAGE, NODE_MAX_GEN - 1));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_distinct_nodes_get_distinct_ids(void)
{
	size_t cap = (NODE_KIND_END - NODE_ROOT) * NIMAGES * NGENS, n = 0;
	uint64_t *v = malloc(cap * sizeof *v);
	CU_ASSERT_FATAL(v != NULL);
	for (int k = NODE_ROOT; k < NODE_KIND_END; k++)
		for (size_t i = 0; i < NIMAGES; i++)
			for (size_t j = 0; j < NGENS; j++)
				if (may_have((enum node_kind)k, IMAGES[i], GENS[j]))
					v[n++] = node_encode((enum node_kind)k, IMAGES[i], GENS[j]);
	qsort(v, n, sizeof *v, cmp_u64);
	size_t dups = 0;
	for (size_t i = 1; i < n; i++)
		dups += v[i] == v[i - 1];
	CU_ASSERT_EQUAL(dups, 0);
	free(v);
}

/* ---- pins -------------------------------------------------------------------------- */

/* An image Foo (keep_generations = 2) with generations 1 to `last`: each commit adds one
 * file, which is a change, so each publishes. */
static struct ctl_registry *registry_with_generations(uint64_t last)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	lim.keep_generations = 2;
	struct ctl_registry *r = NULL;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	struct image_origin o = {0};
	char err[512] = "";
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	for (uint64_t g = 2; g <= last; g++) {
		char script[128];
		unit_fmt(script, sizeof script, "file %llu path=/src/f%llu.c\ncommit\n",
			 (unsigned long long)g, (unsigned long long)g);
		int rc = ctl_run_script(r, script, strlen(script), err, sizeof err);
		if (rc)
			fprintf(stderr, "node: commit %llu: %s\n", (unsigned long long)g, err);
		CU_ASSERT_FATAL(rc == 0);
	}
	struct gen *cur = image_current(ctl_registry_at(r, 0));
	CU_ASSERT_FATAL(gen_number(cur) == last);
	gen_unref(cur);
	return r;
}

static struct node_pins *new_pins(void)
{
	struct node_pins *p = NULL;
	CU_ASSERT_FATAL(node_pins_new(&p) == 0);
	return p;
}

/* Reads the whole DWARF file of g and checks it is a 64-bit Mach-O of the expected size:
 * through freed memory this fails (or the sanitizer stops the run). */
static void check_readable(struct gen *g, uint64_t size)
{
	CU_ASSERT_EQUAL_FATAL(gen_size(g), size);
	uint8_t *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(gen_read(g, 0, buf, size), (ssize_t)size);
	CU_ASSERT(buf[0] == 0xcf && buf[1] == 0xfa && buf[2] == 0xed && buf[3] == 0xfe);
	free(buf);
}

static void test_a_pin_outlives_the_image_and_the_last_forget_drops_it(void)
{
	struct ctl_registry *r = registry_with_generations(2);
	struct image *im = ctl_registry_at(r, 0);
	struct gen *g1 = image_generation(im, 1);
	CU_ASSERT_FATAL(g1 != NULL);
	uint64_t size1 = gen_size(g1);
	struct node_pins *p = new_pins();
	CU_ASSERT_EQUAL(node_pin(p, 0, g1), 0);   /* one lookup of the DWARF node */
	CU_ASSERT_EQUAL(node_pin(p, 0, g1), 0);   /* and one of its Info.plist */
	gen_unref(g1);
	/* Generation 1 leaves the retained set, then the image goes away altogether. */
	for (int i = 3; i <= 5; i++) {
		char script[64], err[256];
		unit_fmt(script, sizeof script, "file %d path=/x%d.c\ncommit\n", i, i);
		CU_ASSERT_FATAL(ctl_run_script(r, script, strlen(script), err, sizeof err) == 0);
	}
	CU_ASSERT_PTR_NULL(image_generation(im, 1));
	ctl_registry_free(r);

	struct gen *g = node_pinned(p, 0, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_EQUAL(gen_number(g), 1);
	CU_ASSERT_STRING_EQUAL(gen_image_name(g), "Foo");
	check_readable(g, size1);
	gen_unref(g);

	node_forget(p, 0, 1, 1);
	g = node_pinned(p, 0, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);   /* one lookup is left */
	check_readable(g, size1);
	gen_unref(g);
	node_forget(p, 0, 1, 1);
	CU_ASSERT_PTR_NULL(node_pinned(p, 0, 1));
	node_pins_free(p);
}

static void test_lookups_are_counted_per_image_and_generation(void)
{
	struct ctl_registry *r = registry_with_generations(3);
	struct image *im = ctl_registry_at(r, 0);
	struct gen *g2 = image_generation(im, 2), *g3 = image_generation(im, 3);
	CU_ASSERT_FATAL(g2 && g3);
	struct node_pins *p = new_pins();
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(node_pin(p, 0, g2), 0);
	CU_ASSERT_EQUAL(node_pin(p, 0, g3), 0);
	/* Image index 1 with the same generation numbers is another pin. */
	CU_ASSERT_EQUAL(node_pin(p, 1, g3), 0);

	uint64_t nums[4] = {0};
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 0, nums, 4), 2);
	qsort(nums, 2, sizeof nums[0], cmp_u64);
	CU_ASSERT(nums[0] == 2 && nums[1] == 3);
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 1, nums, 4), 1);
	CU_ASSERT_EQUAL(nums[0], 3);
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 2, nums, 4), 0);
	/* A short buffer still gets the full count. */
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 0, nums, 1), 2);
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 0, NULL, 0), 2);

	/* FORGET of unknown pairs changes nothing. */
	node_forget(p, 0, 99, 1);
	node_forget(p, 5, 2, 1);
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 0, nums, 4), 2);

	node_forget(p, 0, 2, 4);
	struct gen *g = node_pinned(p, 0, 2);
	CU_ASSERT_PTR_EQUAL(g, g2);          /* the same generation, not a copy */
	gen_unref(g);
	node_forget(p, 0, 2, 1);
	CU_ASSERT_PTR_NULL(node_pinned(p, 0, 2));
	/* Forgetting image 1's pin leaves image 0's generation 3 pinned. */
	node_forget(p, 1, 3, 1);
	CU_ASSERT_PTR_NULL(node_pinned(p, 1, 3));
	g = node_pinned(p, 0, 3);
	CU_ASSERT_PTR_EQUAL(g, g3);
	gen_unref(g);
	/* More lookups forgotten than counted drops the pin, once. */
	node_forget(p, 0, 3, 1000);
	CU_ASSERT_PTR_NULL(node_pinned(p, 0, 3));
	node_forget(p, 0, 3, 1);
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 0, nums, 4), 0);

	gen_unref(g2);
	gen_unref(g3);
	node_pins_free(p);
	ctl_registry_free(r);
}

static void test_a_forgotten_pin_can_be_taken_again(void)
{
	struct ctl_registry *r = registry_with_generations(2);
	struct gen *g = image_current(ctl_registry_at(r, 0));
	struct node_pins *p = new_pins();
	for (int round = 0; round < 3; round++) {
		CU_ASSERT_EQUAL(node_pin(p, 0, g), 0);
		struct gen *h = node_pinned(p, 0, 2);
		CU_ASSERT_PTR_EQUAL(h, g);
		gen_unref(h);
		node_forget(p, 0, 2, 1);
		CU_ASSERT_PTR_NULL(node_pinned(p, 0, 2));
	}
	gen_unref(g);
	node_pins_free(p);
	ctl_registry_free(r);
}

static void test_freeing_the_table_drops_what_the_kernel_never_forgot(void)
{
	struct ctl_registry *r = registry_with_generations(3);
	struct image *im = ctl_registry_at(r, 0);
	struct node_pins *p = new_pins();
	/* 400 pins, spread over every bucket of the table, none forgotten. */
	for (uint64_t n = 2; n <= 3; n++) {
		struct gen *g = image_generation(im, n);
		CU_ASSERT_FATAL(g != NULL);
		for (uint32_t image = 0; image < 200; image++)
			CU_ASSERT_EQUAL(node_pin(p, image, g), 0);
		gen_unref(g);
	}
	CU_ASSERT_EQUAL(node_pinned_numbers(p, 199, NULL, 0), 2);
	ctl_registry_free(r);
	/* The leak checker fails the run if any reference is left behind. */
	node_pins_free(p);
	node_pins_free(NULL);
}

static const struct unit_test node_tests[] = {
	{"layout_is_the_documented_bit_fields", test_layout_is_the_documented_bit_fields},
	{"every_valid_id_round_trips", test_every_valid_id_round_trips},
	{"ids_that_no_node_has_are_stale", test_ids_that_no_node_has_are_stale},
	{"what_does_not_fit_is_refused", test_what_does_not_fit_is_refused},
	{"distinct_nodes_get_distinct_ids", test_distinct_nodes_get_distinct_ids},
	{"a_pin_outlives_the_image_and_the_last_forget_drops_it",
	 test_a_pin_outlives_the_image_and_the_last_forget_drops_it},
	{"lookups_are_counted_per_image_and_generation",
	 test_lookups_are_counted_per_image_and_generation},
	{"a_forgotten_pin_can_be_taken_again", test_a_forgotten_pin_can_be_taken_again},
	{"freeing_the_table_drops_what_the_kernel_never_forgot",
	 test_freeing_the_table_drops_what_the_kernel_never_forgot},
	{NULL, NULL},
};

UNIT_SUITE(node, node_tests)
