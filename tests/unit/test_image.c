/* Suite image: the commit semantics of docs/protocol.md, driven through image_new and
 * image_commit with batches parsed by cmd_parse (numbered as a session numbers them,
 * from 1, comments included). What a generation holds is read back through gen_text
 * (protocol lines, parsed again with cmd_parse) and its bytes through gen_read; the
 * expected values are the protocol's rules applied by hand to the records each test
 * sends, and, for executables, llvm-objdump-16's reading of what ld64.lld-16 wrote. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "gen.h"
#include "image.h"
#include "unit.h"

#define TEXT 0x100000000ull   /* where the default image's __TEXT,__text starts */

static const uint8_t UUID_A[16] = {0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f, 0x40, 0x81,
				   0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8, 0x09};
#define UUID_A_TEXT "1A2B3C4D-5E6F-4081-92A3-B4C5D6E7F809"

/* The committed state most tests start from (generation 2): two functions in two
 * files, types used by functions (1, 3), by a type only (5 via 6), and unused (9), a
 * file used by nothing (3). alpha has a line-0 row and a row in file 2. */
static const char BASE[] =
	"section __TEXT __text addr=0x100000000 size=0x100000\n"
	"file 1 path=/src/a.c\n"
	"file 2 path=/src/b.c dir=/src\n"
	"file 3 path=/src/unused.c\n"
	"type 1 kind=base name=int size=4 enc=signed\n"
	"type 2 kind=pointer to=1\n"
	"type 3 kind=typedef name=myint to=1\n"
	"type 5 kind=base name=short size=2 enc=signed\n"
	"type 6 kind=pointer to=5\n"
	"type 9 kind=base name=unused size=1 enc=unsigned\n"
	"fn 1 name=alpha low_pc=0x100000000 size=0x20 file=1 line=10 ret=1 params=x:1 "
	"rows=0:10,8:11:3,0x10:0:0:,0x18:20:1:s:2\n"
	"fn 2 name=beta low_pc=0x100000100 size=0x20 file=2 line=5 ret=3 rows=0:5,4:6\n";

/* ---- paths and files --------------------------------------------------------------- */

/* ---- images and batches ------------------------------------------------------------ */

static struct image *new_image(const char *name, uint32_t keep, uint64_t max_decls,
			       const char *exe)
{
	struct image_origin o = {.exe_path = exe, .has_uuid = exe == NULL};
	memcpy(o.uuid, UUID_A, 16);
	struct image_limits lim = {max_decls, keep};
	struct image *im = NULL;
	char err[512] = "";
	int rc = image_new(name, &o, &lim, &im, err, sizeof err);
	if (rc)
		fprintf(stderr, "image: image_new(%s): %d %s\n", name, rc, err);
	CU_ASSERT_FATAL(rc == 0);
	return im;
}

struct batch {
	struct image_item *v;
	size_t n, cap;
};

/* Parses a script into items numbered by line as a session numbers them; every line
 * must be valid syntax (these tests are about commit, not parsing). */
static void batch_parse(const char *text, struct batch *b)
{
	memset(b, 0, sizeof *b);
	uint64_t line_no = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		line_no++;
		struct cmd c;
		char err[512] = "";
		int rc = cmd_parse(p, len, &c, err, sizeof err);
		if (rc < 0)
			fprintf(stderr, "image: line %llu does not parse: %.*s: %s\n",
				(unsigned long long)line_no, (int)len, p, err);
		CU_ASSERT_FATAL(rc >= 0);
		if (rc == 0) {
			if (b->n == b->cap) {
				b->cap = b->cap ? b->cap * 2 : 64;
				b->v = realloc(b->v, b->cap * sizeof *b->v);
				CU_ASSERT_FATAL(b->v != NULL);
			}
			b->v[b->n++] = (struct image_item){c, line_no};
		}
		p += len + (nl ? 1 : 0);
	}
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		cmd_free(&b->v[i].cmd);
	free(b->v);
}

static int commit_text(struct image *im, const char *text, struct image_result *res,
		       char *err, size_t errlen)
{
	struct batch b;
	batch_parse(text, &b);
	err[0] = 0;
	int rc = image_commit(im, b.v, b.n, res, err, errlen);
	batch_free(&b);
	return rc;
}

static struct image_result commit_ok(struct image *im, const char *text)
{
	struct image_result res = {0};
	char err[1024];
	int rc = commit_text(im, text, &res, err, sizeof err);
	if (rc)
		fprintf(stderr, "image: commit refused: %d %s\n", rc, err);
	CU_ASSERT_FATAL(rc == 0);
	return res;
}

static uint64_t current_number(struct image *im)
{
	struct gen *g = image_current(im);
	uint64_t n = gen_number(g);
	gen_unref(g);
	return n;
}

/* ---- generation bytes and text ----------------------------------------------------- */

struct snap {
	uint64_t number;
	uint64_t size;
	uint8_t *bytes;
};

/* The whole file as one read sees it. */
static uint8_t *read_all(struct gen *g, uint64_t *size)
{
	*size = gen_size(g);
	uint8_t *buf = malloc(*size ? *size : 1);
	CU_ASSERT_FATAL(buf != NULL);
	uint64_t off = 0;
	while (off < *size) {
		ssize_t n = gen_read(g, off, buf + off, *size - off);
		CU_ASSERT_FATAL(n > 0);
		off += (uint64_t)n;
	}
	return buf;
}

static void snap_take(struct gen *g, struct snap *s)
{
	s->number = gen_number(g);
	s->bytes = read_all(g, &s->size);
}

static void snap_current(struct image *im, struct snap *s)
{
	struct gen *g = image_current(im);
	snap_take(g, s);
	gen_unref(g);
}

static bool snap_matches(const struct snap *s, struct gen *g)
{
	uint64_t size;
	uint8_t *now = read_all(g, &size);
	bool same = size == s->size && !memcmp(now, s->bytes, size);
	free(now);
	return same;
}

static bool snap_matches_current(const struct snap *s, struct image *im)
{
	struct gen *g = image_current(im);
	bool same = gen_number(g) == s->number && snap_matches(s, g);
	gen_unref(g);
	return same;
}

static void snap_free(struct snap *s)
{
	free(s->bytes);
	s->bytes = NULL;
}

static char *text_of(struct gen *g, enum gen_text which)
{
	const char *t;
	size_t len;
	CU_ASSERT_FATAL(gen_text(g, which, &t, &len) == 0);
	char *copy = strndup(t, len);
	CU_ASSERT_FATAL(copy != NULL);
	return copy;
}

static char *current_text(struct image *im, enum gen_text which)
{
	struct gen *g = image_current(im);
	char *t = text_of(g, which);
	gen_unref(g);
	return t;
}

static uint64_t record_id(const struct cmd *c)
{
	switch (c->kind) {
	case CMD_FN:
		return c->u.fn->id;
	case CMD_FILE:
		return c->u.file->id;
	case CMD_TYPE:
		return c->u.type->id;
	default:
		return 0;
	}
}

/* The record `id` of a text view, parsed back into *out (cmd_free it); false if the
 * view has no such record. */
static bool find_record(const char *text, enum cmd_kind kind, uint64_t id, struct cmd *out)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct cmd c;
		char err[512];
		int rc = cmd_parse(p, len, &c, err, sizeof err);
		if (rc < 0)
			fprintf(stderr, "image: a text view line does not parse: %.*s: %s\n",
				(int)len, p, err);
		CU_ASSERT_FATAL(rc >= 0);
		if (rc == 0) {
			if (c.kind == kind && record_id(&c) == id) {
				*out = c;
				return true;
			}
			cmd_free(&c);
		}
		p += len + (nl ? 1 : 0);
	}
	return false;
}

static bool current_fn(struct image *im, uint64_t id, struct cmd *out)
{
	char *decls = current_text(im, GEN_TEXT_DECLS);
	bool found = find_record(decls, CMD_FN, id, out);
	free(decls);
	return found;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

/* ---- refused batches --------------------------------------------------------------- */

/* A bad command placed between two good ones, so a message naming the first or the
 * last line of the batch instead of the faulty one is caught. They use files and
 * addresses no bad case touches, so they are never at fault themselves. */
static const char GOOD_BEFORE[] =
	"fn 5 name=fine low_pc=0x100000400 size=0x10 file=3 line=30\n";
static const char GOOD_AFTER[] =
	"fn 6 name=fine2 low_pc=0x100000500 size=0x10 file=2 line=40\n";

struct bad_case {
	const char *what;
	const char *bad;      /* the faulty line (line 2 of its batch) */
	const char *needle;   /* what the message must mention */
};

/* The batch is refused with rc, a message "line K: ..." that mentions needle, and the
 * image keeps its current generation: same number, same bytes, same decls. */
static bool expect_refused(struct image *im, const char *script, int want_rc,
			   unsigned want_line, const char *needle, const char *what)
{
	struct snap before;
	snap_current(im, &before);
	char *decls_before = current_text(im, GEN_TEXT_DECLS);
	struct image_result res = {0};
	char err[1024];
	int rc = commit_text(im, script, &res, err, sizeof err);
	char prefix[32];
	snprintf(prefix, sizeof prefix, "line %u: ", want_line);
	char *decls_after = current_text(im, GEN_TEXT_DECLS);
	bool ok = rc == want_rc && !strncmp(err, prefix, strlen(prefix)) &&
		  strstr(err + strlen(prefix), needle) != NULL &&
		  snap_matches_current(&before, im) && !strcmp(decls_before, decls_after);
	if (!ok)
		fprintf(stderr, "image: case \"%s\": want rc %d, \"%s...%s...\", state unchanged; "
			"got rc %d, \"%s\", generation %llu (was %llu)\n", what, want_rc, prefix,
			needle, rc, err, (unsigned long long)current_number(im),
			(unsigned long long)before.number);
	free(decls_before);
	free(decls_after);
	snap_free(&before);
	return ok;
}

static void run_bad_cases(const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct image *im = new_image("Bad", 8, 0, NULL);
		commit_ok(im, BASE);
		char script[1024];
		unit_fmt(script, sizeof script, "%s%s\n%s", GOOD_BEFORE, cases[i].bad, GOOD_AFTER);
		CU_ASSERT(expect_refused(im, script, -EINVAL, 2, cases[i].needle, cases[i].what));
		image_free(im);
	}
}

/* ---- tests: generations ------------------------------------------------------------ */

static void test_first_generation_is_1_empty_and_a_valid_dsym(void)
{
	struct image *im = new_image("First", 8, 0, NULL);
	struct gen *g = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g), 1);
	CU_ASSERT_EQUAL(gen_ndecls(g), 0);
	char *decls = text_of(g, GEN_TEXT_DECLS);
	CU_ASSERT_STRING_EQUAL(decls, "");
	free(decls);
	CU_ASSERT(memcmp(gen_uuid(g), UUID_A, 16) == 0);

	/* Valid: llvm-objdump reads it as a dSYM carrying the UUID it was given, and
	 * llvm-dwarfdump's verifier accepts it. */
	uint64_t size;
	uint8_t *bytes = read_all(g, &size);
	char dir[PATH_MAX], path[PATH_MAX + 16];
	unit_suite_dir(dir, sizeof dir, "image");
	unit_fmt(path, sizeof path, "%s/first.dwarf", dir);
	unit_write_file(path, bytes, size);
	free(bytes);
	char *hdr = unit_sh_out("llvm-objdump-16 --macho --private-headers '%s'", path);
	CU_ASSERT_FATAL(hdr != NULL);
	CU_ASSERT(strstr(hdr, "MH_MAGIC_64") != NULL);
	CU_ASSERT(strstr(hdr, " DSYM ") != NULL);
	CU_ASSERT(strstr(hdr, "uuid " UUID_A_TEXT) != NULL);
	free(hdr);
	CU_ASSERT_EQUAL(unit_sh("llvm-dwarfdump-16 --verify '%s' >/dev/null", path), 0);
	gen_unref(g);
	image_free(im);
}

static void test_each_changing_commit_adds_one_generation(void)
{
	struct image *im = new_image("Count", 8, 0, NULL);
	struct image_result r = commit_ok(im, BASE);
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 2);
	CU_ASSERT_EQUAL(r.ndecls, 2);
	r = commit_ok(im, "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1\n");
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 3);
	CU_ASSERT_EQUAL(r.ndecls, 3);
	r = commit_ok(im, "del 1\n");
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 4);
	CU_ASSERT_EQUAL(r.ndecls, 2);
	CU_ASSERT_EQUAL(current_number(im), 4);
	image_free(im);
}

static void test_empty_commit_reports_current_and_publishes_nothing(void)
{
	struct image *im = new_image("Empty", 8, 0, NULL);
	commit_ok(im, BASE);
	struct snap before;
	snap_current(im, &before);
	struct image_result res = {0};
	char err[256];
	CU_ASSERT_EQUAL(image_commit(im, NULL, 0, &res, err, sizeof err), 0);
	CU_ASSERT_FALSE(res.published);
	CU_ASSERT_EQUAL(res.generation, 2);
	CU_ASSERT_EQUAL(res.ndecls, 2);
	CU_ASSERT(snap_matches_current(&before, im));
	/* Comments alone are an empty batch too. */
	struct image_result r = commit_ok(im, "# nothing\n\n");
	CU_ASSERT_FALSE(r.published);
	CU_ASSERT_EQUAL(r.generation, 2);
	CU_ASSERT(snap_matches_current(&before, im));
	snap_free(&before);
	image_free(im);
}

static void test_writing_back_the_text_views_publishes_nothing(void)
{
	struct image *im = new_image("Back", 8, 0, NULL);
	commit_ok(im, BASE);
	struct snap before;
	snap_current(im, &before);
	char *files = current_text(im, GEN_TEXT_FILES);
	char *types = current_text(im, GEN_TEXT_TYPES);
	char *decls = current_text(im, GEN_TEXT_DECLS);
	/* What BASE sent: 3 files, 6 types, 2 functions. */
	CU_ASSERT_EQUAL(count_lines(files), 3);
	CU_ASSERT_EQUAL(count_lines(types), 6);
	CU_ASSERT_EQUAL(count_lines(decls), 2);
	size_t n = strlen(files) + strlen(types) + strlen(decls) + 1;
	char *all = malloc(n);
	CU_ASSERT_FATAL(all != NULL);
	snprintf(all, n, "%s%s%s", files, types, decls);
	struct image_result r = commit_ok(im, all);
	CU_ASSERT_FALSE(r.published);
	CU_ASSERT_EQUAL(r.generation, 2);
	CU_ASSERT_EQUAL(r.ndecls, 2);
	CU_ASSERT(snap_matches_current(&before, im));
	free(all);
	free(files);
	free(types);
	free(decls);
	snap_free(&before);
	image_free(im);
}

/* ---- tests: refused batches -------------------------------------------------------- */

static void test_missing_files_and_types_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"fn names an unknown file",
		 "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=77 line=1", "77"},
		{"fn row names an unknown file",
		 "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1 rows=0:1:0:s:78",
		 "78"},
		{"fn cu names an unknown file",
		 "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1 cu=79", "79"},
		{"fn returns an unknown type",
		 "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1 ret=88", "88"},
		{"fn parameter has an unknown type",
		 "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1 params=a:89", "89"},
		{"pointer to an unknown type", "type 7 kind=pointer to=90", "90"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
}

static void test_unknown_ids_in_del_move_line_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"del of an unknown function", "del 555", "555"},
		{"move of an unknown function", "move 556 low_pc=0x100000600", "556"},
		{"line of an unknown function", "line 557 delta=1", "557"},
		{"delfile of an unknown file", "delfile 558", "558"},
		{"deltype of an unknown type", "deltype 559", "559"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
}

static void test_overlaps_and_text_bounds_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"new function overlaps alpha",
		 "fn 3 name=gamma low_pc=0x100000010 size=0x10 file=1 line=1", "overlaps"},
		{"moved function overlaps alpha", "move 2 low_pc=0x100000010", "overlaps"},
		{"grown function overlaps beta", "move 1 low_pc=0x100000000 size=0x101",
		 "overlaps"},
		{"function past the end of __text",
		 "fn 3 name=gamma low_pc=0x1000ffff8 size=0x10 file=1 line=1", "outside"},
		{"function below __text",
		 "fn 3 name=gamma low_pc=0xfffffff0 size=0x10 file=1 line=1", "outside"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
	/* Shrinking __text under beta (alone: the good lines would fall outside too). */
	struct image *im = new_image("Shrink", 8, 0, NULL);
	commit_ok(im, BASE);
	CU_ASSERT(expect_refused(im, "file 4 path=/src/other.c\n"
				 "section __TEXT __text addr=0x100000000 size=0x110\n", -EINVAL, 2,
				 "beta", "__text shrunk under beta"));
	image_free(im);
}

static void test_zero_size_and_bad_rows_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"function of size 0",
		 "fn 3 name=gamma low_pc=0x100000200 size=0 file=1 line=1", "size"},
		{"move to size 0", "move 1 low_pc=0x100000000 size=0", "size"},
		{"row at the function's end",
		 "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1 rows=0:1,0x10:2",
		 "past"},
		{"shrinking leaves alpha's last row at its end",
		 "move 1 low_pc=0x100000000 size=0x18", "past"},
		{"rows out of order",
		 "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1 rows=8:1,4:2",
		 "order"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
}

static void test_deleting_what_is_still_used_fails_at_the_delete(void)
{
	static const struct bad_case cases[] = {
		{"delfile of alpha's file", "delfile 1", "alpha"},
		{"deltype of beta's return type", "deltype 3", "beta"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
}

/* Type 6 is a pointer to type 5 and nothing else uses 5: the only user left behind is
 * a type no line of the batch touched, and the message must still name the deltype. */
static void test_deltype_of_a_type_another_type_uses_fails_at_the_deltype(void)
{
	static const struct bad_case cases[] = {
		{"deltype of the pointee of type 6", "deltype 5", "6"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
}

/* Two deletes, the first refused, the second legal (type 9 is unused): the message
 * names the first. */
static void test_refused_delfile_is_named_even_when_a_later_delete_follows(void)
{
	struct image *im = new_image("Dels", 8, 0, NULL);
	commit_ok(im, BASE);
	CU_ASSERT(expect_refused(im, "delfile 1\ndeltype 9\n", -EINVAL, 1, "alpha",
				 "delfile 1 then deltype 9"));
	image_free(im);
}

static void test_typedef_cycle_fails_at_its_line(void)
{
	static const struct bad_case cases[] = {
		{"typedef of itself", "type 3 kind=typedef name=myint to=3", "type 3"},
		{"const of itself", "type 7 kind=const to=7", "type 7"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
}

/* Type 3 is `typedef int myint` (committed). Redefining type 1 as a typedef of 3 closes
 * a loop 1 -> 3 -> 1 through a type the batch did not touch: the line at fault is the
 * one redefining type 1. */
static void test_cycle_closed_through_an_untouched_type_names_the_changing_line(void)
{
	struct image *im = new_image("Loop", 8, 0, NULL);
	commit_ok(im, BASE);
	CU_ASSERT(expect_refused(im, "type 1 kind=typedef name=t1 to=3\n"
				 "file 4 path=/src/other.c\n", -EINVAL, 1, "type",
				 "type 1 redefined into a loop"));
	image_free(im);
}

static void test_line_shift_out_of_range_fails_naming_the_function(void)
{
	static const struct bad_case cases[] = {
		{"decl line 10 shifted by -10", "line 1 delta=-10", "alpha"},
		{"line-range takes alpha to 0", "line-range file=1 from=1 to=11 by=-10", "alpha"},
		{"row in file 2 shifted to 0", "line 1 delta=-20 file=2", "alpha"},
		{"decl line shifted past 2^31-1", "line 1 delta=2147483647", "alpha"},
	};
	run_bad_cases(cases, sizeof cases / sizeof *cases);
	/* Rule 5: a later shift back does not rescue it. */
	struct image *im = new_image("Back", 8, 0, NULL);
	commit_ok(im, BASE);
	struct image_result res;
	char err[1024];
	CU_ASSERT_EQUAL(commit_text(im, "line 1 delta=-10\nline 1 delta=10\n", &res, err,
				    sizeof err), -EINVAL);
	CU_ASSERT(strstr(err, "alpha") != NULL);
	CU_ASSERT_EQUAL(current_number(im), 2);
	image_free(im);
}

/* The command at fault is the shift that took the line to 0, not the later one that
 * would have shifted it back. */
static void test_shift_to_zero_names_the_shifting_line_not_a_later_one(void)
{
	struct image *im = new_image("Blame", 8, 0, NULL);
	commit_ok(im, BASE);
	CU_ASSERT(expect_refused(im, "line 1 delta=-10\nline 1 delta=10\n", -EINVAL, 1,
				 "alpha", "shift to 0, then back"));
	image_free(im);
}

/* ---- tests: validation on the final state ------------------------------------------ */

static void test_fn_may_name_a_type_declared_later_in_the_batch(void)
{
	struct image *im = new_image("Later", 8, 0, NULL);
	commit_ok(im, BASE);
	struct image_result r = commit_ok(im,
		"fn 3 name=gamma low_pc=0x100000200 size=0x10 file=4 line=1 ret=20 params=p:21\n"
		"type 21 kind=pointer to=20\n"
		"type 20 kind=base name=long size=8 enc=signed\n"
		"file 4 path=/src/later.c\n");
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 3);
	struct cmd c;
	CU_ASSERT_FATAL(current_fn(im, 3, &c));
	CU_ASSERT_EQUAL(c.u.fn->ret, 20);
	CU_ASSERT_EQUAL(c.u.fn->file, 4);
	cmd_free(&c);
	image_free(im);
}

static void test_two_functions_swap_addresses_in_one_batch(void)
{
	struct image *im = new_image("Swap", 8, 0, NULL);
	commit_ok(im, BASE);
	/* After the first move alpha and beta overlap; only the final state counts. */
	struct image_result r = commit_ok(im, "move 1 low_pc=0x100000100\n"
					  "move 2 low_pc=0x100000000\n");
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 3);
	struct cmd c;
	CU_ASSERT_FATAL(current_fn(im, 1, &c));
	CU_ASSERT_EQUAL(c.u.fn->low_pc, 0x100000100);
	CU_ASSERT_EQUAL(c.u.fn->size, 0x20);
	cmd_free(&c);
	CU_ASSERT_FATAL(current_fn(im, 2, &c));
	CU_ASSERT_EQUAL(c.u.fn->low_pc, 0x100000000);
	cmd_free(&c);
	image_free(im);
}

static void test_a_delta_uses_a_file_declared_three_commits_earlier(void)
{
	struct image *im = new_image("Old", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, "file 40 path=/src/old.c\n");
	commit_ok(im, "type 41 kind=base name=char size=1 enc=signed_char\n");
	commit_ok(im, "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1\n");
	struct image_result r = commit_ok(im, "fn 4 name=delta low_pc=0x100000300 size=0x10 "
					  "file=40 line=7 rows=0:7,4:8:0:s:40\n");
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 6);
	CU_ASSERT_EQUAL(r.ndecls, 4);
	image_free(im);
}

/* ---- tests: ids are image-wide ----------------------------------------------------- */

static void test_repeating_a_file_or_type_identically_is_a_no_op(void)
{
	struct image *im = new_image("Same", 8, 0, NULL);
	commit_ok(im, BASE);
	struct snap before;
	snap_current(im, &before);
	struct image_result r = commit_ok(im, "file 2 path=/src/b.c dir=/src\n"
					  "type 3 kind=typedef name=myint to=1\n");
	CU_ASSERT_FALSE(r.published);
	CU_ASSERT_EQUAL(r.generation, 2);
	CU_ASSERT(snap_matches_current(&before, im));
	snap_free(&before);
	image_free(im);
}

static void test_redefining_a_file_or_type_replaces_it_and_old_generation_keeps_old(void)
{
	struct image *im = new_image("Redef", 8, 0, NULL);
	commit_ok(im, BASE);
	struct gen *old = image_current(im);
	struct snap old_bytes;
	snap_take(old, &old_bytes);
	struct image_result r = commit_ok(im, "file 2 path=/src/renamed.c dir=/elsewhere\n"
					  "type 1 kind=base name=long size=8 enc=signed\n");
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 3);

	struct cmd c;
	char *files = current_text(im, GEN_TEXT_FILES);
	CU_ASSERT_FATAL(find_record(files, CMD_FILE, 2, &c));
	CU_ASSERT_STRING_EQUAL(c.u.file->path, "/src/renamed.c");
	CU_ASSERT_STRING_EQUAL(c.u.file->dir, "/elsewhere");
	cmd_free(&c);
	CU_ASSERT_EQUAL(count_lines(files), 3);   /* replaced, not added */
	free(files);
	char *types = current_text(im, GEN_TEXT_TYPES);
	CU_ASSERT_FATAL(find_record(types, CMD_TYPE, 1, &c));
	CU_ASSERT_STRING_EQUAL(c.u.type->name, "long");
	CU_ASSERT_EQUAL(c.u.type->size, 8);
	cmd_free(&c);
	free(types);

	/* Rule 10: the generation built before keeps its definitions and bytes. */
	files = text_of(old, GEN_TEXT_FILES);
	CU_ASSERT_FATAL(find_record(files, CMD_FILE, 2, &c));
	CU_ASSERT_STRING_EQUAL(c.u.file->path, "/src/b.c");
	CU_ASSERT_STRING_EQUAL(c.u.file->dir, "/src");
	cmd_free(&c);
	free(files);
	types = text_of(old, GEN_TEXT_TYPES);
	CU_ASSERT_FATAL(find_record(types, CMD_TYPE, 1, &c));
	CU_ASSERT_STRING_EQUAL(c.u.type->name, "int");
	CU_ASSERT_EQUAL(c.u.type->size, 4);
	cmd_free(&c);
	free(types);
	CU_ASSERT(snap_matches(&old_bytes, old));
	snap_free(&old_bytes);
	gen_unref(old);
	image_free(im);
}

/* ---- tests: line shifts ------------------------------------------------------------ */

struct want_row {
	uint32_t off;
	int32_t line;
};

static void check_fn_lines(struct image *im, uint64_t id, int64_t decl,
			   const struct want_row *rows, uint32_t nrows)
{
	struct cmd c;
	CU_ASSERT_FATAL(current_fn(im, id, &c));
	CU_ASSERT_EQUAL(c.u.fn->line, decl);
	CU_ASSERT_EQUAL_FATAL(c.u.fn->nrows, nrows);
	for (uint32_t i = 0; i < nrows; i++) {
		CU_ASSERT_EQUAL(c.u.fn->rows[i].off, rows[i].off);
		CU_ASSERT_EQUAL(c.u.fn->rows[i].line, rows[i].line);
	}
	cmd_free(&c);
}

static void test_line_shift_keeps_line_zero_and_moves_decl_and_rows(void)
{
	struct image *im = new_image("Shift", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, "fn 3 name=nodecl low_pc=0x100000200 size=0x10 file=1 line=0 "
		  "rows=0:0,4:7\n");
	/* alpha: decl 10, rows 10, 11, 0 (no line), 20 (in file 2). */
	struct image_result r = commit_ok(im, "line 1 delta=-2\nline 3 delta=-2\n");
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 4);
	check_fn_lines(im, 1, 8,
		       (const struct want_row[]){{0, 8}, {8, 9}, {0x10, 0}, {0x18, 20}}, 4);
	/* A declaration at line 0 stays there too. */
	check_fn_lines(im, 3, 0, (const struct want_row[]){{0, 0}, {4, 5}}, 2);
	image_free(im);
}

static void test_line_shift_with_file_moves_only_that_files_lines(void)
{
	struct image *im = new_image("ShiftF", 8, 0, NULL);
	commit_ok(im, BASE);
	/* alpha is declared in file 1: only its file-2 row moves. */
	commit_ok(im, "line 1 delta=5 file=2\n");
	check_fn_lines(im, 1, 10,
		       (const struct want_row[]){{0, 10}, {8, 11}, {0x10, 0}, {0x18, 25}}, 4);
	/* beta is declared in file 2: its declaration and its (file-0 = file 2) rows. */
	commit_ok(im, "line 2 delta=3 file=2\n");
	check_fn_lines(im, 2, 8, (const struct want_row[]){{0, 8}, {4, 9}}, 2);
	/* beta has nothing in file 1: the shift leaves its lines alone. */
	commit_ok(im, "line 2 delta=3 file=1\n");
	check_fn_lines(im, 2, 8, (const struct want_row[]){{0, 8}, {4, 9}}, 2);
	image_free(im);
}

static void test_line_range_shifts_only_functions_declared_in_the_window(void)
{
	struct image *im = new_image("Range", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im,
		  "fn 10 name=l5 low_pc=0x100001000 size=0x10 file=1 line=5 rows=0:5\n"
		  "fn 11 name=l10 low_pc=0x100001010 size=0x10 file=1 line=10 rows=0:10,4:12\n"
		  "fn 12 name=l29 low_pc=0x100001020 size=0x10 file=1 line=29 rows=0:29\n"
		  "fn 13 name=l30 low_pc=0x100001030 size=0x10 file=1 line=30 rows=0:30\n"
		  "fn 14 name=b10 low_pc=0x100001040 size=0x10 file=2 line=10 rows=0:10\n");
	/* [10, 30) in file 1: alpha (10), l10, l29 shift; l5, l30 and b10 (file 2) stay. */
	commit_ok(im, "line-range file=1 from=10 to=30 by=4\n");
	check_fn_lines(im, 10, 5, (const struct want_row[]){{0, 5}}, 1);
	check_fn_lines(im, 11, 14, (const struct want_row[]){{0, 14}, {4, 16}}, 2);
	check_fn_lines(im, 12, 33, (const struct want_row[]){{0, 33}}, 1);
	check_fn_lines(im, 13, 30, (const struct want_row[]){{0, 30}}, 1);
	check_fn_lines(im, 14, 10, (const struct want_row[]){{0, 10}}, 1);
	check_fn_lines(im, 1, 14,
		       (const struct want_row[]){{0, 14}, {8, 15}, {0x10, 0}, {0x18, 20}}, 4);
	image_free(im);
}

/* ---- tests: ranges ----------------------------------------------------------------- */

#define NFNS 10000
#define FN_SIZE 0x10
#define BUMP 0x40000

static char *many_fns_script(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CU_ASSERT_FATAL(f != NULL);
	fputs("section __TEXT __text addr=0x100000000 size=0x100000\n"
	      "file 1 path=/src/many.c\n", f);
	for (unsigned i = 1; i <= NFNS; i++)
		fprintf(f, "fn %u name=f%u low_pc=0x%llx size=0x%x file=1 line=%u "
			"rows=0:%u,8:%u:2\n", i, i,
			(unsigned long long)(TEXT + (i - 1) * (uint64_t)FN_SIZE), FN_SIZE, i, i,
			i + 1);
	CU_ASSERT_FATAL(fclose(f) == 0);
	return text;
}

static void test_move_range_over_10000_functions_equals_10000_moves(void)
{
	/* Two images made identically; same UUID, same first batch. */
	struct image *a = new_image("RangeA", 8, 0, NULL);
	struct image *b = new_image("RangeB", 8, 0, NULL);
	char *setup = many_fns_script();
	commit_ok(a, setup);
	commit_ok(b, setup);
	free(setup);
	struct snap start;
	snap_current(a, &start);
	CU_ASSERT(snap_matches_current(&start, b));
	char *decls_start = current_text(a, GEN_TEXT_DECLS);

	char range[128];
	unit_fmt(range, sizeof range, "move-range from=0x%llx to=0x%llx by=0x%x\n",
		 TEXT, TEXT + NFNS * (uint64_t)FN_SIZE, BUMP);
	struct image_result ra = commit_ok(a, range);
	char *moves = NULL;
	size_t mlen = 0;
	FILE *f = open_memstream(&moves, &mlen);
	CU_ASSERT_FATAL(f != NULL);
	for (unsigned i = 1; i <= NFNS; i++)
		fprintf(f, "move %u low_pc=0x%llx\n", i,
			(unsigned long long)(TEXT + (i - 1) * (uint64_t)FN_SIZE + BUMP));
	CU_ASSERT_FATAL(fclose(f) == 0);
	struct image_result rb = commit_ok(b, moves);
	free(moves);
	CU_ASSERT(ra.published && rb.published);
	CU_ASSERT_EQUAL(ra.generation, 3);
	CU_ASSERT_EQUAL(rb.generation, 3);
	CU_ASSERT_EQUAL(ra.ndecls, NFNS);

	struct snap moved;
	snap_current(a, &moved);
	CU_ASSERT(snap_matches_current(&moved, b));
	char *da = current_text(a, GEN_TEXT_DECLS), *db = current_text(b, GEN_TEXT_DECLS);
	CU_ASSERT_STRING_EQUAL(da, db);
	free(da);
	free(db);
	struct cmd c;
	CU_ASSERT_FATAL(current_fn(a, 1, &c));
	CU_ASSERT_EQUAL(c.u.fn->low_pc, TEXT + BUMP);
	cmd_free(&c);
	CU_ASSERT_FATAL(current_fn(a, NFNS, &c));
	CU_ASSERT_EQUAL(c.u.fn->low_pc, TEXT + (NFNS - 1) * (uint64_t)FN_SIZE + BUMP);
	cmd_free(&c);

	/* Moving back by a negative amount gives the starting file again, byte for byte. */
	unit_fmt(range, sizeof range, "move-range from=0x%llx to=0x%llx by=-0x%x\n",
		 TEXT + BUMP, TEXT + BUMP + NFNS * (uint64_t)FN_SIZE, BUMP);
	ra = commit_ok(a, range);
	CU_ASSERT(ra.published);
	CU_ASSERT_EQUAL(ra.generation, 4);
	struct gen *g = image_current(a);
	CU_ASSERT(snap_matches(&start, g));
	char *back = text_of(g, GEN_TEXT_DECLS);
	CU_ASSERT_STRING_EQUAL(back, decls_start);
	free(back);
	gen_unref(g);

	/* A window with no function in it is accepted and changes nothing. */
	ra = commit_ok(a, "move-range from=0x100080000 to=0x100090000 by=0x10\n");
	CU_ASSERT_FALSE(ra.published);
	CU_ASSERT_EQUAL(ra.generation, 4);
	CU_ASSERT_EQUAL(current_number(a), 4);

	free(decls_start);
	snap_free(&start);
	snap_free(&moved);
	image_free(a);
	image_free(b);
}

/* Rule 7: by=0 is accepted and changes nothing, so (rule 8) nothing is published, even
 * when the window holds functions (alpha and beta here). */
static void test_move_range_by_zero_publishes_nothing(void)
{
	struct image *im = new_image("Zero", 8, 0, NULL);
	commit_ok(im, BASE);
	struct snap before;
	snap_current(im, &before);
	struct image_result r = commit_ok(im, "move-range from=0x100000000 to=0x100001000 by=0\n");
	CU_ASSERT_FALSE(r.published);
	CU_ASSERT_EQUAL(r.generation, 2);
	CU_ASSERT(snap_matches_current(&before, im));
	snap_free(&before);
	image_free(im);
}

static void test_line_range_by_zero_publishes_nothing(void)
{
	struct image *im = new_image("Zero", 8, 0, NULL);
	commit_ok(im, BASE);
	struct snap before;
	snap_current(im, &before);
	struct image_result r = commit_ok(im, "line-range file=1 from=1 to=100 by=0\n");
	CU_ASSERT_FALSE(r.published);
	CU_ASSERT_EQUAL(r.generation, 2);
	CU_ASSERT(snap_matches_current(&before, im));
	snap_free(&before);
	image_free(im);
}

static uint64_t low_pc_of(struct image *im, uint64_t id)
{
	struct cmd c;
	CU_ASSERT_FATAL(current_fn(im, id, &c));
	uint64_t pc = c.u.fn->low_pc;
	cmd_free(&c);
	return pc;
}

static void test_move_range_window_is_half_open(void)
{
	struct image *im = new_image("HalfOpen", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1\n"
		  "fn 4 name=delta low_pc=0x100000300 size=0x10 file=1 line=2\n");
	/* [0x100, 0x300): beta at `from` and gamma move; delta at `to` and alpha stay. */
	commit_ok(im, "move-range from=0x100000100 to=0x100000300 by=0x1000\n");
	CU_ASSERT_EQUAL(low_pc_of(im, 1), 0x100000000);
	CU_ASSERT_EQUAL(low_pc_of(im, 2), 0x100001100);
	CU_ASSERT_EQUAL(low_pc_of(im, 3), 0x100001200);
	CU_ASSERT_EQUAL(low_pc_of(im, 4), 0x100000300);
	image_free(im);
}

static void test_ranges_select_what_is_in_the_window_at_that_point_of_the_batch(void)
{
	struct image *im = new_image("Order", 8, 0, NULL);
	commit_ok(im, BASE);
	/* gamma is added by the batch and then moved by the range; beta is moved out of the
	 * window before the range runs. */
	commit_ok(im, "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1\n"
		  "move 2 low_pc=0x100010000\n"
		  "move-range from=0x100000100 to=0x100001000 by=0x1000\n");
	struct cmd c;
	CU_ASSERT_FATAL(current_fn(im, 3, &c));
	CU_ASSERT_EQUAL(c.u.fn->low_pc, 0x100001200);
	cmd_free(&c);
	CU_ASSERT_FATAL(current_fn(im, 2, &c));
	CU_ASSERT_EQUAL(c.u.fn->low_pc, 0x100010000);
	cmd_free(&c);
	image_free(im);
}

/* ---- tests: the executable --------------------------------------------------------- */

static const char EXE_V1[] =
	"int twice(int x) { return x + x; }\n"
	"void _start(void) { for (;;) twice(3); }\n";
static const char EXE_V2[] =
	"int twice(int x) { return x * 2 + 1 - 1; }\n"
	"int thrice(int x) { return x * 3; }\n"
	"void _start(void) { for (;;) twice(thrice(3)); }\n";

struct exe_facts {
	char uuid[64];
	uint64_t text_addr, text_size;
};

/* Builds src into dir/prog (the same path every time) and reads its UUID and __text
 * from llvm-objdump-16. */
static void build_exe(const char *dir, const char *src, struct exe_facts *x)
{
	char path[PATH_MAX + 16];
	unit_fmt(path, sizeof path, "%s/prog.c", dir);
	unit_write_file(path, src, strlen(src));
	const char *srcs[] = {"prog.c"};
	unit_build_macho(dir, "x86_64", "-g -gdwarf-4", "prog", srcs, 1);
	char *out = unit_sh_out("llvm-objdump-16 --macho --private-headers '%s/prog'", dir);
	CU_ASSERT_FATAL(out != NULL);
	const char *u = strstr(out, " uuid ");
	CU_ASSERT_FATAL(u != NULL);
	CU_ASSERT_FATAL(sscanf(u, " uuid %63s", x->uuid) == 1);
	const char *t = strstr(out, "sectname __text");
	CU_ASSERT_FATAL(t != NULL);
	const char *a = strstr(t, " addr ");
	const char *s = strstr(t, " size ");
	CU_ASSERT_FATAL(a && s);
	x->text_addr = strtoull(a + 6, NULL, 16);
	x->text_size = strtoull(s + 6, NULL, 16);
	free(out);
}

/* "8-4-4-4-12" hex as llvm-objdump prints it, into bytes. */
static void uuid_bytes(const char *text, uint8_t out[16])
{
	size_t k = 0;
	for (const char *p = text; *p && k < 32; p++) {
		if (*p == '-')
			continue;
		const char *digits = "0123456789ABCDEF";
		const char *d = strchr(digits, *p);
		CU_ASSERT_FATAL(d != NULL && *p != 0);
		unsigned v = (unsigned)(d - digits);
		out[k / 2] = k % 2 ? (uint8_t)(out[k / 2] | v) : (uint8_t)(v << 4);
		k++;
	}
	CU_ASSERT_FATAL(k == 32);
}

static void test_exe_reread_at_the_same_path_takes_the_new_identity(void)
{
	char dir[PATH_MAX], exe[PATH_MAX + 16];
	unit_suite_dir(dir, sizeof dir, "image");
	unit_fmt(exe, sizeof exe, "%s/prog", dir);
	struct exe_facts v1, v2;
	build_exe(dir, EXE_V1, &v1);
	uint8_t uuid1[16];
	uuid_bytes(v1.uuid, uuid1);

	struct image *im = new_image("prog", 8, 0, exe);
	struct gen *g1 = image_current(im);
	CU_ASSERT(memcmp(gen_uuid(g1), uuid1, 16) == 0);
	gen_unref(g1);
	char script[1024];
	unit_fmt(script, sizeof script,
		 "file 1 path=%s/prog.c\n"
		 "type 1 kind=base name=int size=4 enc=signed\n"
		 "fn 1 name=twice low_pc=0x%llx size=4 file=1 line=1 ret=1 params=x:1 rows=0:1\n",
		 dir, (unsigned long long)v1.text_addr);
	commit_ok(im, script);
	struct gen *old = image_current(im);
	CU_ASSERT_EQUAL(gen_number(old), 2);

	build_exe(dir, EXE_V2, &v2);
	CU_ASSERT_FATAL(strcmp(v1.uuid, v2.uuid) != 0);
	/* The function must fit the new __text too, or the commit is refused (rightly). */
	CU_ASSERT_FATAL(v2.text_addr <= v1.text_addr &&
			v1.text_addr + 4 <= v2.text_addr + v2.text_size);
	uint8_t uuid2[16];
	uuid_bytes(v2.uuid, uuid2);

	unit_fmt(script, sizeof script, "exe %s\n", exe);
	struct image_result r = commit_ok(im, script);
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.generation, 3);
	CU_ASSERT_EQUAL(r.ndecls, 1);
	struct gen *now = image_current(im);
	CU_ASSERT(memcmp(gen_uuid(now), uuid2, 16) == 0);
	CU_ASSERT(memcmp(gen_uuid(old), uuid1, 16) == 0);
	static const enum gen_text views[] = {GEN_TEXT_DECLS, GEN_TEXT_FILES, GEN_TEXT_TYPES};
	for (size_t i = 0; i < 3; i++) {
		char *was = text_of(old, views[i]), *is = text_of(now, views[i]);
		CU_ASSERT(count_lines(is) == 1);
		CU_ASSERT_STRING_EQUAL(is, was);
		free(was);
		free(is);
	}
	gen_unref(now);
	gen_unref(old);
	image_free(im);
}

/* ---- tests: retention and limits --------------------------------------------------- */

static void test_retention_keeps_the_newest_and_held_generations_keep_their_bytes(void)
{
	struct image *im = new_image("Keep", 3, 0, NULL);
	struct gen *first = image_current(im);
	struct snap first_bytes;
	snap_take(first, &first_bytes);
	commit_ok(im, BASE);
	for (unsigned i = 3; i <= 5; i++) {
		char line[128];
		unit_fmt(line, sizeof line, "fn %u name=f%u low_pc=0x%llx size=0x10 file=1 "
			 "line=%u\n", i, i, (unsigned long long)(TEXT + 0x1000 * i), i);
		struct image_result r = commit_ok(im, line);
		CU_ASSERT_EQUAL(r.generation, i);
	}
	struct gen *kept[8];
	size_t n = image_retained(im, kept, 8);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(gen_number(kept[0]), 5);
	CU_ASSERT_EQUAL(gen_number(kept[1]), 4);
	CU_ASSERT_EQUAL(gen_number(kept[2]), 3);
	for (size_t i = 0; i < n; i++)
		gen_unref(kept[i]);
	CU_ASSERT_PTR_NULL(image_generation(im, 2));
	CU_ASSERT_PTR_NULL(image_generation(im, 1));
	struct gen *three = image_generation(im, 3);
	CU_ASSERT_PTR_NOT_NULL(three);
	gen_unref(three);
	/* Generation 1 is no longer retained, but the reference held to it still reads
	 * what it read when it was current. */
	CU_ASSERT_EQUAL(gen_number(first), 1);
	CU_ASSERT_EQUAL(gen_ndecls(first), 0);
	CU_ASSERT(snap_matches(&first_bytes, first));
	snap_free(&first_bytes);
	image_free(im);
	/* ...even after the image itself is gone. */
	CU_ASSERT_EQUAL(gen_number(first), 1);
	gen_unref(first);
}

static void test_max_decls_is_enospc_at_commit(void)
{
	struct image *im = new_image("Limit", 8, 3, NULL);
	commit_ok(im, BASE);
	struct snap before;
	snap_current(im, &before);
	struct image_result res;
	char err[1024];
	int rc = commit_text(im,
			     "fn 3 name=g3 low_pc=0x100000200 size=0x10 file=1 line=1\n"
			     "fn 4 name=g4 low_pc=0x100000300 size=0x10 file=1 line=1\n",
			     &res, err, sizeof err);
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT(strncmp(err, "line ", 5) == 0);
	CU_ASSERT(strstr(err, "max_decls") != NULL);
	CU_ASSERT(snap_matches_current(&before, im));
	/* Up to the limit is fine; a del and an add in one batch stay at it. */
	struct image_result r = commit_ok(im, "fn 3 name=g3 low_pc=0x100000200 size=0x10 "
					  "file=1 line=1\n");
	CU_ASSERT_EQUAL(r.ndecls, 3);
	r = commit_ok(im, "del 3\nfn 4 name=g4 low_pc=0x100000300 size=0x10 file=1 line=1\n");
	CU_ASSERT_EQUAL(r.ndecls, 3);
	snap_free(&before);
	image_free(im);
}

static void test_image_names_that_cannot_be_directories_are_refused(void)
{
	static const char *const bad[] = {"a/b", "/", "..", ".", "", "a\x01" "b", "tab\tx",
					  "del\x7f"};
	struct image_origin o = {.has_uuid = true};
	struct image_limits lim = {0, 8};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct image *im = NULL;
		char err[512] = "";
		CU_ASSERT_EQUAL(image_new(bad[i], &o, &lim, &im, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NULL(im);
		CU_ASSERT(err[0] != 0);
	}
	struct image *im = NULL;
	char err[512];
	CU_ASSERT_EQUAL(image_new("a..b", &o, &lim, &im, err, sizeof err), 0);
	image_free(im);
}

/* ---- tests: rich debug info records ------------------------------------------------ */

/* BASE plus a data section, a file only a global uses (4), a struct, an enum over type
 * 9, globals and an abstract function with an inlined call of it. */
static const char RICH[] =
	"segment __DATA vmaddr=0x100200000 vmsize=0x1000\n"
	"section __DATA __data addr=0x100200000 size=0x1000\n"
	"type 20 kind=struct name=node size=16 file=1 line=3 members=next:21:0,val:1:8\n"
	"type 21 kind=pointer to=20\n"
	"file 4 path=/src/c.c\n"
	"type 22 kind=enum name=color size=4 to=9 enumerators=RED:0,BLUE:-1\n"
	"global 1 name=head type=21 addr=0x100200000 file=1 line=5 ext\n"
	"global 2 name=count type=1 addr=0x100200010 file=4 line=6 linkage=_count\n"
	"fn 30 name=sq file=1 line=20 ret=1 params=v:1::20 vars=t:1::21 abstract\n"
	"fn 31 name=user low_pc=0x100000300 size=0x40 file=1 line=30 frame_base=r6 "
	"params=n:1:fb-20:30 vars=i:1:fb-24:31:1,t:0:r0:21:2 "
	"blocks=0x4..0x30,0x8..0x10:1:30:1:32:5\n";

static void test_globals_and_abstract_fns_round_trip_through_the_text_views(void)
{
	struct image *im = new_image("Rich", 8, 0, NULL);
	commit_ok(im, BASE);
	struct image_result r = commit_ok(im, RICH);
	CU_ASSERT(r.published);
	char *globals = current_text(im, GEN_TEXT_GLOBALS);
	CU_ASSERT_STRING_EQUAL(globals,
			       "global 1 name=head type=21 addr=0x100200000 file=1 line=5 ext\n"
			       "global 2 name=count type=1 addr=0x100200010 file=4 line=6 "
			       "linkage=_count\n");
	char *decls = current_text(im, GEN_TEXT_DECLS);
	CU_ASSERT_EQUAL(count_lines(decls), 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(decls, " abstract\n"));
	char *types = current_text(im, GEN_TEXT_TYPES);
	char *files = current_text(im, GEN_TEXT_FILES);
	struct snap before;
	snap_current(im, &before);
	size_t n = strlen(files) + strlen(types) + strlen(globals) + strlen(decls) + 1;
	char *all = malloc(n);
	CU_ASSERT_FATAL(all != NULL);
	snprintf(all, n, "%s%s%s%s", files, types, globals, decls);
	r = commit_ok(im, all);
	CU_ASSERT_FALSE(r.published);
	CU_ASSERT(snap_matches_current(&before, im));
	free(all);
	free(globals);
	free(decls);
	free(types);
	free(files);
	snap_free(&before);
	image_free(im);
}

static void test_move_range_moves_globals_in_its_window_and_delglobal_deletes(void)
{
	struct image *im = new_image("Moves", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, RICH);
	commit_ok(im, "move-range from=0x100200008 to=0x100201000 by=0x100\n");
	char *globals = current_text(im, GEN_TEXT_GLOBALS);
	CU_ASSERT_PTR_NOT_NULL(strstr(globals, "name=head type=21 addr=0x100200000 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(globals, "name=count type=1 addr=0x100200110 "));
	free(globals);
	commit_ok(im, "delglobal 1\n");
	globals = current_text(im, GEN_TEXT_GLOBALS);
	CU_ASSERT_EQUAL(count_lines(globals), 1);
	CU_ASSERT_PTR_NULL(strstr(globals, "name=head"));
	free(globals);
	image_free(im);
}

static void test_unknown_global_and_abstract_move_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"delglobal of an unknown global", "delglobal 560", "no global with this id"},
		{"move of an abstract fn",
		 "fn 33 name=inl file=1 line=2 abstract\nmove 33 low_pc=0x100000600",
		 "abstract"},
	};
	/* The second case's move is line 3. */
	struct image *im = new_image("Bad", 8, 0, NULL);
	commit_ok(im, BASE);
	char script[1024];
	unit_fmt(script, sizeof script, "%s%s\n%s", GOOD_BEFORE, cases[0].bad, GOOD_AFTER);
	CU_ASSERT(expect_refused(im, script, -EINVAL, 2, cases[0].needle, cases[0].what));
	unit_fmt(script, sizeof script, "%s%s\n%s", GOOD_BEFORE, cases[1].bad, GOOD_AFTER);
	CU_ASSERT(expect_refused(im, script, -EINVAL, 3, cases[1].needle, cases[1].what));
	image_free(im);
}

/* Each bad line (line 2 of its batch) against BASE and RICH committed. */
static void run_rich_cases(const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct image *im = new_image("Rich", 8, 0, NULL);
		commit_ok(im, BASE);
		commit_ok(im, RICH);
		char script[1024];
		unit_fmt(script, sizeof script, "%s%s\n%s", GOOD_BEFORE, cases[i].bad, GOOD_AFTER);
		CU_ASSERT(expect_refused(im, script, -EINVAL, 2, cases[i].needle, cases[i].what));
		image_free(im);
	}
}

static void test_type_cycles_through_no_named_struct_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"pointer to itself", "type 3 kind=pointer to=3", "3 -> 3"},
		{"new pointer to itself", "type 40 kind=pointer to=40", "40 -> 40"},
		{"unnamed struct holding a pointer to itself",
		 "type 41 kind=struct size=8 members=p:42:0\ntype 42 kind=pointer to=41",
		 "passes through no named struct"},
		{"array of itself", "type 44 kind=array to=44 dims=2", "44 -> 44"},
		{"volatile of itself", "type 45 kind=volatile to=45", "45 -> 45"},
		{"enum over itself", "type 46 kind=enum size=4 to=46", "46 -> 46"},
		{"func returning itself", "type 47 kind=func ret=47", "47 -> 47"},
		{"named struct containing itself by value",
		 "type 48 kind=struct name=self size=8 members=me:48:0", "contains itself by value"},
		{"named struct containing itself through a typedef",
		 "type 20 kind=struct name=node size=16 members=n:49:0\n"
		 "type 49 kind=typedef name=n_t to=20", "contains itself by value"},
		{"scope of itself", "type 50 kind=struct size=4 scope=50", "scope chain loops"},
	};
	/* The two-line cases fail at line 3 (the second closes the loop) or 2: run them
	 * apart where the line differs. */
	run_rich_cases(cases, 2);
	struct image *im = new_image("Rich", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, RICH);
	char script[1024];
	unit_fmt(script, sizeof script, "%s%s\n%s", GOOD_BEFORE, cases[2].bad, GOOD_AFTER);
	CU_ASSERT(expect_refused(im, script, -EINVAL, 3, cases[2].needle, cases[2].what));
	unit_fmt(script, sizeof script, "%s%s\n%s", GOOD_BEFORE, cases[8].bad, GOOD_AFTER);
	CU_ASSERT(expect_refused(im, script, -EINVAL, 3, cases[8].needle, cases[8].what));
	image_free(im);
	run_rich_cases(cases + 3, 5);
	run_rich_cases(cases + 9, 1);
}

/* struct node { struct node *next; } is legal: the cycle passes through node. */
static void test_a_pointer_cycle_through_a_named_struct_commits(void)
{
	struct image *im = new_image("Node", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, "type 60 kind=struct name=list size=8 members=next:61:0\n"
		      "type 61 kind=pointer to=60\n"
		      "type 62 kind=struct size=8 scope=60 members=:61:0\n");
	image_free(im);
}

static void test_missing_references_of_rich_records_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"member of an unknown type", "type 45 kind=struct name=m size=4 members=a:99:0",
		 "member a: type 99 does not exist"},
		{"enum over an unknown type", "type 46 kind=enum size=4 to=98", "type 98"},
		{"array of an unknown type", "type 47 kind=array to=97 dims=2", "type 97"},
		{"func returning an unknown type", "type 48 kind=func ret=96", "type 96"},
		{"func taking an unknown type", "type 48 kind=func params=1,95", "type 95"},
		{"scope unknown", "type 49 kind=struct size=4 scope=94", "scope type 94"},
		{"scope not a struct", "type 49 kind=struct size=4 scope=1",
		 "scope type 1 is not a struct or union"},
		{"type in an unknown file", "type 49 kind=typedef name=t to=1 file=87 line=1",
		 "file 87"},
		{"global of an unknown type",
		 "global 9 name=x type=93 addr=0x100200020 file=1 line=1", "type 93"},
		{"global in an unknown file",
		 "global 9 name=x type=1 addr=0x100200020 file=92 line=1", "file 92"},
		{"global in an unknown cu",
		 "global 9 name=x type=1 addr=0x100200020 file=1 line=1 cu=91", "cu file 91"},
		{"local of an unknown type",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 vars=i:90:r1",
		 "variable i: type 90"},
		{"inlined call of an unknown fn",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 blocks=0..4:0:89:1:1",
		 "origin fn 89 does not exist"},
		{"inlined call of a fn with code",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 blocks=0..4:0:1:1:1",
		 "origin fn 1 (alpha) is not abstract"},
		{"inlined call from an unknown file",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 blocks=0..4:0:30:88:1",
		 "call file 88"},
		{"local of type 0 outside any inlined block",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 vars=t:0:r0",
		 "variable t has type 0"},
		{"local of type 0 the origin does not have",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 "
		 "blocks=0..4:0:30:1:1 vars=zz:0:r0:0:1", "variable zz has type 0"},
	};
	run_rich_cases(cases, sizeof cases / sizeof *cases);
}

static void test_shape_checks_of_rich_records_fail_at_their_line(void)
{
	static const struct bad_case cases[] = {
		{"member past the struct's end", "type 50 kind=struct name=p size=4 members=a:1:2",
		 "member a at offset 2 runs past the end of the struct (size 4)"},
		{"array member past the end", "type 51 kind=array to=1 dims=2\n"
		 "type 50 kind=struct name=p size=4 members=a:51:0", "XX"},
		{"bit-field past the end", "type 50 kind=union name=p size=4 members=a:1:3:9:0",
		 "runs past the end of the union"},
		{"repeated enumerator", "type 51 kind=enum size=4 enumerators=A:1,B:2,A:3",
		 "enumerator A is given twice"},
		{"0 elements before the last dimension", "type 52 kind=array to=1 dims=0,3",
		 "dimension 1 has 0 elements"},
		{"decl with a size", "type 53 kind=struct name=o decl size=4",
		 "a decl type has no size or members"},
		{"decl with members", "type 53 kind=union name=o decl members=a:1:0",
		 "a decl type has no size or members"},
		{"array of void", "type 54 kind=array to=0 dims=4", "type 54: an array of void"},
		{"global outside every section",
		 "global 9 name=x type=1 addr=0x300000000 file=1 line=1", "in no section"},
		{"block past the fn's end",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 blocks=0..0x40",
		 "block 1: range 0x0..0x40 runs past the function's end"},
		{"block outside its parent",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 blocks=0..8,6..0x10:1",
		 "block 2: range 0x6..0x10 is not inside its parent, block 1"},
		{"local in a block that does not exist",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 vars=i:1:r1:0:3",
		 "variable i: block 3 does not exist"},
		{"location list past the fn's end",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 vars=i:1:0..0x40@r1",
		 "variable i: a location list range runs past"},
		{"parameter location list past the fn's end",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 params=p:1:0..0x21@r1",
		 "parameter p: a location list range runs past"},
		{"frame base given as a location list",
		 "fn 34 name=u low_pc=0x100000600 size=0x20 file=1 line=1 frame_base=0..0x10@r6",
		 "frame_base: a location list is not supported"},
		{"abstract fn with blocks", "fn 35 name=a2 file=1 line=1 blocks=0..4 abstract",
		 "an abstract fn has no code, so no blocks"},
	};
	run_rich_cases(cases, 1);
	/* An array's size is known from its element and dims: it is line 3 that fails. */
	struct image *im = new_image("Rich", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, RICH);
	char script[1024];
	unit_fmt(script, sizeof script, "%s%s\n%s", GOOD_BEFORE, cases[1].bad, GOOD_AFTER);
	CU_ASSERT(expect_refused(im, script, -EINVAL, 3, "member a at offset 0 runs past",
				 cases[1].what));
	image_free(im);
	run_rich_cases(cases + 2, sizeof cases / sizeof *cases - 2);
}

static void test_deleting_what_rich_records_use_fails_at_the_delete(void)
{
	static const struct bad_case cases[] = {
		{"deltype of a member's type", "deltype 21", "type 20 (node): member next"},
		{"deltype of an enum's underlying type", "deltype 9", "type 22 (color)"},
		{"delfile of a global's file", "delfile 4", "global 2 (count): file 4"},
		{"del of an inlined origin", "del 30", "origin fn 30 does not exist"},
		{"an inlined origin given code",
		 "fn 30 name=sq low_pc=0x100000600 size=0x10 file=1 line=20",
		 "fn 31 (user): block 2: origin fn 30 (sq) is not abstract"},
	};
	run_rich_cases(cases, sizeof cases / sizeof *cases);
}

static void test_a_section_shrinking_past_a_global_fails_at_the_section(void)
{
	struct image *im = new_image("Shrink", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, RICH);
	CU_ASSERT(expect_refused(im, "file 4 path=/src/x.c\n"
				 "section __DATA __data addr=0x100200000 size=0x10\n", -EINVAL,
				 2, "global 2 (count): address 0x100200010 is in no section",
				 "section shrinks"));
	image_free(im);
}

/* The worked example of docs/protocol.md, as written there: it commits, and its text
 * views give it back unchanged. */
static const char DOC_EXAMPLE[] =
	"file 1 path=/src/norm.c lang=c11\n"
	"type 1 kind=base name=int size=4 enc=signed\n"
	"type 2 kind=struct name=point size=8 file=1 line=1 members=x:1:0,y:1:4\n"
	"section __TEXT __text addr=0x100000f00 size=0x100\n"
	"segment __DATA vmaddr=0x100008000 vmsize=0x1000\n"
	"section __DATA __data addr=0x100008000 size=0x10\n"
	"global 1 name=origin type=2 addr=0x100008000 file=1 line=2 ext\n"
	"fn 10 name=sq file=1 line=3 ret=1 params=v:1::3 vars=t:1::3 abstract\n"
	"fn 11 name=norm low_pc=0x100000f00 size=0x40 file=1 line=4 ret=1 params=p:2:fb-8:4 rows=0:4,0x8:5,0x10:6,0x18:3,0x30:8 frame_base=r6 vars=r:1:fb-12:5,d:1:fb-16:6:1,v:0:fb-20:0:2,t:0:fb-24:3:2 blocks=0x10..0x30,0x18..0x28:1:10:1:7:11\n";

static void test_the_documented_example_commits(void)
{
	struct image *im = new_image("Doc", 8, 0, NULL);
	struct image_result r = commit_ok(im, DOC_EXAMPLE);
	CU_ASSERT(r.published);
	CU_ASSERT_EQUAL(r.ndecls, 2);
	char *globals = current_text(im, GEN_TEXT_GLOBALS);
	CU_ASSERT_STRING_EQUAL(globals, "global 1 name=origin type=2 addr=0x100008000 file=1 "
			       "line=2 ext\n");
	free(globals);
	image_free(im);
}

/* A line shift moves the declaration lines of parameters, locals and inlined call
 * sites with the function's own; taking one to 0 fails at the shifting line. */
static void test_line_shift_moves_locals_and_call_sites(void)
{
	struct image *im = new_image("Shift", 8, 0, NULL);
	commit_ok(im, BASE);
	commit_ok(im, RICH);
	commit_ok(im, "line 31 delta=5\n");
	char *decls = current_text(im, GEN_TEXT_DECLS);
	CU_ASSERT_PTR_NOT_NULL(strstr(decls, "fn 31 name=user low_pc=0x100000300 size=0x40 "
				      "file=1 line=35 params=n:1:fb-20:35 frame_base=r6 "
				      "vars=i:1:fb-24:36:1,t:0:r0:26:2 "
				      "blocks=0x4..0x30,0x8..0x10:1:30:1:37:5\n"));
	free(decls);
	/* Line 26 of t is the lowest: -26 takes it to 0. */
	CU_ASSERT(expect_refused(im, "file 9 path=/x.c\nline 31 delta=-26\n", -EINVAL, 2,
				 "fn 31 (user): a line shift takes the line of t to 0",
				 "local shifted to 0"));
	image_free(im);
}

static const struct unit_test image_tests[] = {
	{"first_generation_is_1_empty_and_a_valid_dsym",
	 test_first_generation_is_1_empty_and_a_valid_dsym},
	{"each_changing_commit_adds_one_generation",
	 test_each_changing_commit_adds_one_generation},
	{"empty_commit_reports_current_and_publishes_nothing",
	 test_empty_commit_reports_current_and_publishes_nothing},
	{"writing_back_the_text_views_publishes_nothing",
	 test_writing_back_the_text_views_publishes_nothing},
	{"globals_and_abstract_fns_round_trip_through_the_text_views",
	 test_globals_and_abstract_fns_round_trip_through_the_text_views},
	{"move_range_moves_globals_in_its_window_and_delglobal_deletes",
	 test_move_range_moves_globals_in_its_window_and_delglobal_deletes},
	{"unknown_global_and_abstract_move_fail_at_their_line",
	 test_unknown_global_and_abstract_move_fail_at_their_line},
	{"the_documented_example_commits",
	 test_the_documented_example_commits},
	{"line_shift_moves_locals_and_call_sites",
	 test_line_shift_moves_locals_and_call_sites},
	{"type_cycles_through_no_named_struct_fail_at_their_line",
	 test_type_cycles_through_no_named_struct_fail_at_their_line},
	{"a_pointer_cycle_through_a_named_struct_commits",
	 test_a_pointer_cycle_through_a_named_struct_commits},
	{"missing_references_of_rich_records_fail_at_their_line",
	 test_missing_references_of_rich_records_fail_at_their_line},
	{"shape_checks_of_rich_records_fail_at_their_line",
	 test_shape_checks_of_rich_records_fail_at_their_line},
	{"deleting_what_rich_records_use_fails_at_the_delete",
	 test_deleting_what_rich_records_use_fails_at_the_delete},
	{"a_section_shrinking_past_a_global_fails_at_the_section",
	 test_a_section_shrinking_past_a_global_fails_at_the_section},
	{"missing_files_and_types_fail_at_their_line",
	 test_missing_files_and_types_fail_at_their_line},
	{"unknown_ids_in_del_move_line_fail_at_their_line",
	 test_unknown_ids_in_del_move_line_fail_at_their_line},
	{"overlaps_and_text_bounds_fail_at_their_line",
	 test_overlaps_and_text_bounds_fail_at_their_line},
	{"zero_size_and_bad_rows_fail_at_their_line",
	 test_zero_size_and_bad_rows_fail_at_their_line},
	{"deleting_what_is_still_used_fails_at_the_delete",
	 test_deleting_what_is_still_used_fails_at_the_delete},
	{"deltype_of_a_type_another_type_uses_fails_at_the_deltype",
	 test_deltype_of_a_type_another_type_uses_fails_at_the_deltype},
	{"refused_delfile_is_named_even_when_a_later_delete_follows",
	 test_refused_delfile_is_named_even_when_a_later_delete_follows},
	{"typedef_cycle_fails_at_its_line", test_typedef_cycle_fails_at_its_line},
	{"cycle_closed_through_an_untouched_type_names_the_changing_line",
	 test_cycle_closed_through_an_untouched_type_names_the_changing_line},
	{"line_shift_out_of_range_fails_naming_the_function",
	 test_line_shift_out_of_range_fails_naming_the_function},
	{"shift_to_zero_names_the_shifting_line_not_a_later_one",
	 test_shift_to_zero_names_the_shifting_line_not_a_later_one},
	{"fn_may_name_a_type_declared_later_in_the_batch",
	 test_fn_may_name_a_type_declared_later_in_the_batch},
	{"two_functions_swap_addresses_in_one_batch",
	 test_two_functions_swap_addresses_in_one_batch},
	{"a_delta_uses_a_file_declared_three_commits_earlier",
	 test_a_delta_uses_a_file_declared_three_commits_earlier},
	{"repeating_a_file_or_type_identically_is_a_no_op",
	 test_repeating_a_file_or_type_identically_is_a_no_op},
	{"redefining_a_file_or_type_replaces_it_and_old_generation_keeps_old",
	 test_redefining_a_file_or_type_replaces_it_and_old_generation_keeps_old},
	{"line_shift_keeps_line_zero_and_moves_decl_and_rows",
	 test_line_shift_keeps_line_zero_and_moves_decl_and_rows},
	{"line_shift_with_file_moves_only_that_files_lines",
	 test_line_shift_with_file_moves_only_that_files_lines},
	{"line_range_shifts_only_functions_declared_in_the_window",
	 test_line_range_shifts_only_functions_declared_in_the_window},
	{"move_range_over_10000_functions_equals_10000_moves",
	 test_move_range_over_10000_functions_equals_10000_moves},
	{"move_range_by_zero_publishes_nothing", test_move_range_by_zero_publishes_nothing},
	{"line_range_by_zero_publishes_nothing", test_line_range_by_zero_publishes_nothing},
	{"move_range_window_is_half_open", test_move_range_window_is_half_open},
	{"ranges_select_what_is_in_the_window_at_that_point_of_the_batch",
	 test_ranges_select_what_is_in_the_window_at_that_point_of_the_batch},
	{"exe_reread_at_the_same_path_takes_the_new_identity",
	 test_exe_reread_at_the_same_path_takes_the_new_identity},
	{"retention_keeps_the_newest_and_held_generations_keep_their_bytes",
	 test_retention_keeps_the_newest_and_held_generations_keep_their_bytes},
	{"max_decls_is_enospc_at_commit", test_max_decls_is_enospc_at_commit},
	{"image_names_that_cannot_be_directories_are_refused",
	 test_image_names_that_cannot_be_directories_are_refused},
	{NULL, NULL},
};

UNIT_SUITE(image, image_tests)
