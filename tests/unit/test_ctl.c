/* Suite ctl: the session semantics of docs/protocol.md through ctl_registry_*,
 * ctl_session_* and ctl_run_script: result lines, write-time syntax errors and what
 * they drop, lines split across writes, the limits, image binding and creation, what
 * closing and abort do, and concurrent sessions. What an image holds is read back
 * through gen_text (protocol lines, parsed with cmd_parse) and its bytes through
 * gen_read; expected values are the protocol's rules applied by hand to what each test
 * sends. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cmd.h"
#include "ctl.h"
#include "gen.h"
#include "image.h"
#include "unit.h"

static const uint8_t UUID_F[16] = {0xf0, 0x0d, 0xca, 0xfe, 0x12, 0x34, 0x45, 0x67,
				   0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67};

/* Two functions in two files (generation 2 of an image that had room made for them). */
static const char BASE[] =
	"section __TEXT __text addr=0x100000000 size=0x100000\n"
	"file 1 path=/src/a.c\n"
	"file 2 path=/src/b.c\n"
	"type 1 kind=base name=int size=4 enc=signed\n"
	"fn 1 name=alpha low_pc=0x100000000 size=0x20 file=1 line=10 ret=1 params=x:1 "
	"rows=0:10,8:11:3\n"
	"fn 2 name=beta low_pc=0x100000100 size=0x20 file=2 line=5 rows=0:5,4:6\n"
	"commit\n";

/* ---- registries and sessions ------------------------------------------------------- */

/* A registry with the given limits (NULL: the defaults) and images named in names,
 * each without an executable and with the same UUID, so two registries built alike
 * produce the same bytes. */
static struct ctl_registry *new_registry(const struct ctl_limits *lim,
					 const char *const *names, size_t n)
{
	struct ctl_limits def;
	ctl_limits_default(&def);
	struct ctl_registry *r = NULL;
	CU_ASSERT_FATAL(ctl_registry_new(lim ? lim : &def, &r) == 0);
	for (size_t i = 0; i < n; i++) {
		struct image_origin o = {.has_uuid = true};
		memcpy(o.uuid, UUID_F, 16);
		char err[512] = "";
		int rc = ctl_registry_add(r, names[i], &o, err, sizeof err);
		if (rc)
			fprintf(stderr, "ctl: adding image %s: %d %s\n", names[i], rc, err);
		CU_ASSERT_FATAL(rc == 0);
	}
	return r;
}

static const char *const FOO[] = {"Foo"};

static struct ctl_registry *foo_registry(const struct ctl_limits *lim)
{
	return new_registry(lim, FOO, 1);
}

static struct ctl_session *new_session(struct ctl_registry *r)
{
	struct ctl_session *s = NULL;
	CU_ASSERT_FATAL(ctl_session_new(r, &s) == 0);
	return s;
}

/* Writes text in one write; returns a copy of the result line (caller frees) and the
 * write's return value in *rc. */
static char *say(struct ctl_session *s, const char *text, ssize_t *rc)
{
	*rc = ctl_session_write(s, text, strlen(text));
	size_t len;
	const char *res = ctl_session_result(s, &len);
	char *copy = strndup(res, len);
	CU_ASSERT_FATAL(copy != NULL);
	return copy;
}

/* The same through a session of its own, closed afterwards. */
static char *say_once(struct ctl_registry *r, const char *text, ssize_t *rc)
{
	struct ctl_session *s = new_session(r);
	char *res = say(s, text, rc);
	ctl_session_free(s);
	return res;
}

/* A write that must succeed with exactly this result line. */
static void expect_result(struct ctl_session *s, const char *text, const char *want)
{
	ssize_t rc;
	char *res = say(s, text, &rc);
	if (rc != (ssize_t)strlen(text) || strcmp(res, want))
		fprintf(stderr, "ctl: wrote \"%s\": want %zu, \"%s\"; got %zd, \"%s\"\n", text,
			strlen(text), want, rc, res);
	CU_ASSERT_EQUAL(rc, (ssize_t)strlen(text));
	CU_ASSERT_STRING_EQUAL(res, want);
	free(res);
}

/* A write of commands that stay pending: it succeeds and leaves the result line as it
 * was (the result is that of the last commit or error). */
static void expect_pending(struct ctl_session *s, const char *text)
{
	size_t len;
	const char *res = ctl_session_result(s, &len);
	char *was = strndup(res, len);
	CU_ASSERT_FATAL(was != NULL);
	expect_result(s, text, was);
	free(was);
}

static void setup_base(struct ctl_registry *r)
{
	struct ctl_session *s = new_session(r);
	expect_result(s, BASE, "ok generation=2 decls=2\n");
	ctl_session_free(s);
}

static struct image *image_named(struct ctl_registry *r, const char *name)
{
	struct image *im = ctl_registry_find(r, name);
	CU_ASSERT_FATAL(im != NULL);
	return im;
}

static uint64_t number_of(struct image *im)
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

static void snap_current(struct image *im, struct snap *s)
{
	struct gen *g = image_current(im);
	s->number = gen_number(g);
	s->bytes = read_all(g, &s->size);
	gen_unref(g);
}

/* The image's current generation is the snapshot's, byte for byte. */
static bool unchanged(const struct snap *s, struct image *im)
{
	struct gen *g = image_current(im);
	uint64_t size;
	uint8_t *now = read_all(g, &size);
	bool same = gen_number(g) == s->number && size == s->size &&
		    !memcmp(now, s->bytes, size);
	free(now);
	gen_unref(g);
	return same;
}

static void snap_free(struct snap *s)
{
	free(s->bytes);
	s->bytes = NULL;
}

static char *current_text(struct image *im, enum gen_text which)
{
	struct gen *g = image_current(im);
	const char *t;
	size_t len;
	CU_ASSERT_FATAL(gen_text(g, which, &t, &len) == 0);
	char *copy = strndup(t, len);
	CU_ASSERT_FATAL(copy != NULL);
	gen_unref(g);
	return copy;
}

/* Whether a text view holds record `id` of this kind (each line parsed back). */
static bool has_record(const char *text, enum cmd_kind kind, uint64_t id)
{
	bool found = false;
	for (const char *p = text; *p && !found;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct cmd c;
		char err[512];
		int rc = cmd_parse(p, len, &c, err, sizeof err);
		CU_ASSERT_FATAL(rc >= 0);
		if (rc == 0) {
			uint64_t got = c.kind == CMD_FN     ? c.u.fn->id
				     : c.kind == CMD_FILE ? c.u.file->id
				     : c.kind == CMD_TYPE ? c.u.type->id : 0;
			found = c.kind == kind && got == id;
			cmd_free(&c);
		}
		p += len + (nl ? 1 : 0);
	}
	return found;
}

static bool image_has(struct image *im, enum cmd_kind kind, uint64_t id)
{
	enum gen_text which = kind == CMD_FN ? GEN_TEXT_DECLS
			    : kind == CMD_FILE ? GEN_TEXT_FILES : GEN_TEXT_TYPES;
	char *text = current_text(im, which);
	bool found = has_record(text, kind, id);
	free(text);
	return found;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

/* The error log as a string (its text is counted by length, not NUL-terminated). */
static char *errors_of(struct image *im)
{
	char *text;
	size_t len;
	CU_ASSERT_FATAL(image_errors_text(im, &text, &len) == 0);
	char *copy = strndup(text, len);
	free(text);
	CU_ASSERT_FATAL(copy != NULL);
	return copy;
}

static size_t error_entries(struct image *im)
{
	char *text = errors_of(im);
	size_t n = count_lines(text);
	free(text);
	return n;
}

/* Whether the error log holds an entry mentioning both a and b. */
static bool logged(struct image *im, const char *a, const char *b)
{
	char *text = errors_of(im);
	bool found = false;
	for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n"))
		found = strstr(line, a) && strstr(line, b);
	free(text);
	return found;
}

/* ---- tests: result lines ----------------------------------------------------------- */

static void test_result_is_empty_before_any_commit_or_error(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	struct ctl_session *s = new_session(r);
	size_t len = 99;
	ctl_session_result(s, &len);
	CU_ASSERT_EQUAL(len, 0);
	/* Pending commands and an abort are neither a commit nor an error. */
	expect_result(s, "file 5 path=/src/e.c\n", "");
	expect_result(s, "abort\n", "");
	ctl_session_free(s);
	ctl_registry_free(r);
}

static void test_ok_line_reports_generation_and_total_decls(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	struct ctl_session *s = new_session(r);
	expect_result(s, BASE, "ok generation=2 decls=2\n");
	/* decls counts every function of the image, not the batch's. */
	expect_result(s, "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1\ncommit\n",
		      "ok generation=3 decls=3\n");
	expect_result(s, "del 1\ncommit\n", "ok generation=4 decls=2\n");
	/* An empty commit reports the current generation. */
	expect_result(s, "commit\n", "ok generation=4 decls=2\n");
	ctl_session_free(s);
	CU_ASSERT_EQUAL(number_of(image_named(r, "Foo")), 4);
	ctl_registry_free(r);
}

/* ---- tests: write-time errors ------------------------------------------------------ */

static void test_syntax_errors_fail_the_write_and_drop_the_batch_and_the_rest(void)
{
	static const struct {
		const char *what, *bad;
	} cases[] = {
		{"unknown command", "frobnicate 1"},
		{"bad number", "fn 3 name=g low_pc=0x10zz size=0x10 file=1 line=1"},
		{"missing field", "fn 3 name=g low_pc=0x100000200 size=0x10 file=1"},
		{"unknown key", "file 9 path=/src/z.c colour=red"},
		{"repeated field", "file 9 path=/src/y.c path=/src/z.c"},
		{"id 0 for the thing defined", "file 0 path=/src/z.c"},
		{"range with from >= to", "move-range from=0x100000020 to=0x100000010 by=1"},
	};
	struct ctl_registry *r = foo_registry(NULL);
	setup_base(r);
	struct image *im = image_named(r, "Foo");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct snap before;
		snap_current(im, &before);
		size_t logs = error_entries(im);
		char script[512];
		snprintf(script, sizeof script,
			 "file 7 path=/src/x.c\n%s\nfile 8 path=/src/y.c\ncommit\n", cases[i].bad);
		struct ctl_session *s = new_session(r);
		ssize_t rc;
		char *res = say(s, script, &rc);
		bool ok = rc == -EINVAL && !strncmp(res, "error: line 2: ", 15) &&
			  res[strlen(res) - 1] == '\n' && unchanged(&before, im);
		if (!ok)
			fprintf(stderr, "ctl: case \"%s\": got %zd \"%s\"\n", cases[i].what, rc, res);
		CU_ASSERT(ok);
		CU_ASSERT_EQUAL(error_entries(im), logs + 1);
		free(res);
		/* The commit in the failed write never ran, and the batch (line 1) and the rest
		 * of the write (line 3) are gone: a later commit publishes nothing. */
		expect_result(s, "commit\n", "ok generation=2 decls=2\n");
		CU_ASSERT(unchanged(&before, im));
		CU_ASSERT_FALSE(image_has(im, CMD_FILE, 7));
		CU_ASSERT_FALSE(image_has(im, CMD_FILE, 8));
		ctl_session_free(s);
		snap_free(&before);
	}
	ctl_registry_free(r);
}

static void test_a_syntax_error_drops_what_earlier_writes_left_pending(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	struct image *im = image_named(r, "Foo");
	struct ctl_session *s = new_session(r);
	expect_pending(s, "file 5 path=/src/a.c\n");
	ssize_t rc;
	/* This write ends inside a line: the rest of that line, in the next write, belongs
	 * to the discarded write and must not be read as a command. */
	char *res = say(s, "file 6 path=/src/b.c\nbogus\nfile 7 pa", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strncmp(res, "error: line 3: ", 15) == 0);
	free(res);
	expect_result(s, "th=/src/c.c\ncommit\n", "ok generation=1 decls=0\n");
	char *files = current_text(im, GEN_TEXT_FILES);
	CU_ASSERT_STRING_EQUAL(files, "");
	free(files);
	ctl_session_free(s);
	ctl_registry_free(r);
}

static void test_commit_error_names_its_line_and_is_logged(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	setup_base(r);
	struct image *im = image_named(r, "Foo");
	struct snap before;
	snap_current(im, &before);
	ssize_t rc;
	char *res = say_once(r,
			     "fn 5 name=fine low_pc=0x100000400 size=0x10 file=1 line=30\n"
			     "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=77 line=1\n"
			     "fn 6 name=fine2 low_pc=0x100000500 size=0x10 file=2 line=40\n"
			     "commit\n", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strncmp(res, "error: line 2: ", 15) == 0);
	CU_ASSERT(strstr(res, "77") != NULL);
	CU_ASSERT(unchanged(&before, im));
	CU_ASSERT(logged(im, "line 2: ", "77"));
	free(res);
	snap_free(&before);
	ctl_registry_free(r);
}

/* ---- tests: lines across writes ---------------------------------------------------- */

static const char SPLIT[] =
	"file 5 path=\"/src/split dir/s.c\"\n"
	"# a comment between commands\n"
	"fn 7 name=\"operator new\" low_pc=0x100000800 size=0x10 file=5 line=3 rows=0:3,4:4\n"
	"commit\n";

static void test_a_line_split_between_two_writes_is_joined_at_every_byte(void)
{
	/* The oracle: the same script in one write, on a registry built the same way. */
	struct ctl_registry *r0 = foo_registry(NULL);
	setup_base(r0);
	struct snap want;
	{
		struct ctl_session *s = new_session(r0);
		expect_result(s, SPLIT, "ok generation=3 decls=3\n");
		ctl_session_free(s);
		snap_current(image_named(r0, "Foo"), &want);
	}
	CU_ASSERT(image_has(image_named(r0, "Foo"), CMD_FN, 7));
	ctl_registry_free(r0);

	size_t len = strlen(SPLIT);
	for (size_t cut = 1; cut < len; cut++) {
		struct ctl_registry *r = foo_registry(NULL);
		setup_base(r);
		struct ctl_session *s = new_session(r);
		ssize_t a = ctl_session_write(s, SPLIT, cut);
		ssize_t b = ctl_session_write(s, SPLIT + cut, len - cut);
		size_t rlen;
		const char *res = ctl_session_result(s, &rlen);
		bool ok = a == (ssize_t)cut && b == (ssize_t)(len - cut) &&
			  rlen == strlen("ok generation=3 decls=3\n") &&
			  !memcmp(res, "ok generation=3 decls=3\n", rlen) &&
			  unchanged(&want, image_named(r, "Foo"));
		if (!ok)
			fprintf(stderr, "ctl: split at byte %zu: writes %zd %zd, result \"%.*s\"\n",
				cut, a, b, (int)rlen, res);
		CU_ASSERT(ok);
		ctl_session_free(s);
		ctl_registry_free(r);
	}
	snap_free(&want);
}

/* ---- tests: limits ----------------------------------------------------------------- */

static void test_over_long_line_is_e2big_and_drops_the_batch(void)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	lim.max_line = 64;
	struct ctl_registry *r = foo_registry(&lim);
	struct image *im = image_named(r, "Foo");
	struct ctl_session *s = new_session(r);
	expect_pending(s, "file 5 path=/src/a.c\n");
	char longline[160];
	snprintf(longline, sizeof longline, "file 6 path=/%0100d\n", 0);
	ssize_t rc;
	char *res = say(s, longline, &rc);
	CU_ASSERT_EQUAL(rc, -E2BIG);
	CU_ASSERT(strncmp(res, "error: line 2: ", 15) == 0);
	CU_ASSERT(strstr(res, "max_line") != NULL);
	CU_ASSERT(logged(im, "line 2: ", "max_line"));
	free(res);
	expect_result(s, "commit\n", "ok generation=1 decls=0\n");

	/* Too long only once its second part arrives: the third write's head is still that
	 * line and is discarded; what follows it works. */
	expect_pending(s, "file 7 path=/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	res = say(s, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &rc);
	CU_ASSERT_EQUAL(rc, -E2BIG);
	CU_ASSERT(strstr(res, "max_line") != NULL);
	free(res);
	expect_result(s, "cc.c\nfile 9 path=/src/n.c\ncommit\n", "ok generation=2 decls=0\n");
	CU_ASSERT_FALSE(image_has(im, CMD_FILE, 5));
	CU_ASSERT_FALSE(image_has(im, CMD_FILE, 6));
	CU_ASSERT_FALSE(image_has(im, CMD_FILE, 7));
	CU_ASSERT(image_has(im, CMD_FILE, 9));
	ctl_session_free(s);
	ctl_registry_free(r);
}

/* Rule 2 for the over-long line as for a syntax error: the rest of the failed write is
 * discarded, including a line it leaves cut at its end, whose tail comes next. */
static void test_after_an_over_long_line_the_rest_of_its_write_is_discarded(void)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	lim.max_line = 64;
	struct ctl_registry *r = foo_registry(&lim);
	struct image *im = image_named(r, "Foo");
	struct ctl_session *s = new_session(r);
	char text[200];
	snprintf(text, sizeof text, "file 6 path=/%0100d\nfile 7 pa", 0);
	ssize_t rc;
	char *res = say(s, text, &rc);
	CU_ASSERT_EQUAL(rc, -E2BIG);
	free(res);
	expect_result(s, "th=/src/b.c\nfile 8 path=/src/c.c\ncommit\n",
		      "ok generation=2 decls=0\n");
	CU_ASSERT_FALSE(image_has(im, CMD_FILE, 7));
	CU_ASSERT(image_has(im, CMD_FILE, 8));
	ctl_session_free(s);
	ctl_registry_free(r);
}

static void test_over_large_batch_is_e2big_and_drops_the_batch(void)
{
	/* Each line is 29 bytes (30 with its newline): two fit in 70, three do not. */
	static const char *const lines[] = {"file 5 path=/src/aaaaaaaaaa.c\n",
					    "file 6 path=/src/bbbbbbbbbb.c\n",
					    "file 7 path=/src/cccccccccc.c\n"};
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	lim.max_batch_bytes = 70;
	struct ctl_registry *r = foo_registry(&lim);
	struct image *im = image_named(r, "Foo");
	struct ctl_session *s = new_session(r);
	expect_pending(s, lines[0]);
	expect_pending(s, lines[1]);
	ssize_t rc;
	char *res = say(s, lines[2], &rc);
	CU_ASSERT_EQUAL(rc, -E2BIG);
	CU_ASSERT(strncmp(res, "error: line 3: ", 15) == 0);
	CU_ASSERT(strstr(res, "max_batch_bytes") != NULL);
	CU_ASSERT(logged(im, "line 3: ", "max_batch_bytes"));
	free(res);
	expect_result(s, "commit\n", "ok generation=1 decls=0\n");
	/* The limit is per pending batch: two batches of two lines each commit. */
	expect_pending(s, lines[0]);
	expect_pending(s, lines[1]);
	expect_result(s, "commit\n", "ok generation=2 decls=0\n");
	expect_pending(s, lines[2]);
	expect_result(s, "file 8 path=/src/dddddddddd.c\ncommit\n", "ok generation=3 decls=0\n");
	ctl_session_free(s);
	ctl_registry_free(r);
}

static void test_max_decls_exceeded_is_enospc_at_commit(void)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	lim.max_decls = 2;
	struct ctl_registry *r = foo_registry(&lim);
	setup_base(r);
	struct image *im = image_named(r, "Foo");
	struct snap before;
	snap_current(im, &before);
	ssize_t rc;
	char *res = say_once(r, "fn 3 name=gamma low_pc=0x100000200 size=0x10 file=1 line=1\n"
			     "commit\n", &rc);
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT(strncmp(res, "error: line ", 12) == 0);
	CU_ASSERT(strstr(res, "max_decls") != NULL);
	CU_ASSERT(unchanged(&before, im));
	CU_ASSERT(logged(im, "line ", "max_decls"));
	free(res);
	snap_free(&before);
	ctl_registry_free(r);
}

static void test_image_create_beyond_max_images_is_enospc(void)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	lim.max_images = 2;
	struct ctl_registry *r = foo_registry(&lim);
	struct ctl_session *s = new_session(r);
	expect_pending(s, "image Bar create\n");
	ssize_t rc;
	char *res = say(s, "image Baz create\n", &rc);
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT(strncmp(res, "error: line 2: ", 15) == 0);
	CU_ASSERT(strstr(res, "max_images") != NULL);
	free(res);
	CU_ASSERT_EQUAL(ctl_registry_count(r), 2);
	CU_ASSERT_PTR_NULL(ctl_registry_find(r, "Baz"));
	ctl_session_free(s);
	ctl_registry_free(r);
}

/* ---- tests: images ----------------------------------------------------------------- */

static void test_image_create_of_an_existing_name_is_eexist(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	setup_base(r);
	struct image *im = image_named(r, "Foo");
	struct snap before;
	snap_current(im, &before);
	ssize_t rc;
	char *res = say_once(r, "image Foo create arch=arm64\n", &rc);
	CU_ASSERT_EQUAL(rc, -EEXIST);
	CU_ASSERT(strncmp(res, "error: line 1: ", 15) == 0);
	free(res);
	CU_ASSERT_EQUAL(ctl_registry_count(r), 1);
	CU_ASSERT(ctl_registry_find(r, "Foo") == im);
	CU_ASSERT(unchanged(&before, im));
	snap_free(&before);
	ctl_registry_free(r);
}

static void test_commit_with_several_images_needs_an_image_line(void)
{
	static const char *const names[] = {"One", "Two"};
	struct ctl_registry *r = new_registry(NULL, names, 2);
	struct image *one = image_named(r, "One"), *two = image_named(r, "Two");
	ssize_t rc;
	char *res = say_once(r, "file 1 path=/src/a.c\ncommit\n", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strncmp(res, "error: line 2: ", 15) == 0);
	CU_ASSERT(strstr(res, "image") != NULL);
	free(res);
	CU_ASSERT_EQUAL(number_of(one), 1);
	CU_ASSERT_EQUAL(number_of(two), 1);
	/* Bound, the same batch goes to the named image and only there. */
	struct ctl_session *s = new_session(r);
	expect_result(s, "image Two\nfile 1 path=/src/a.c\ncommit\n", "ok generation=2 decls=0\n");
	ctl_session_free(s);
	CU_ASSERT_EQUAL(number_of(one), 1);
	CU_ASSERT_EQUAL(number_of(two), 2);
	CU_ASSERT(image_has(two, CMD_FILE, 1));
	ctl_registry_free(r);

	/* With no image at all, the message says how to make one. */
	r = new_registry(NULL, names, 0);
	res = say_once(r, "file 1 path=/src/a.c\ncommit\n", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strstr(res, "no image is mounted") != NULL);
	CU_ASSERT(strstr(res, "image NAME create") != NULL);
	free(res);
	ctl_registry_free(r);
}

static void test_image_names_that_cannot_be_directories_are_refused(void)
{
	static const char *const lines[] = {
		"image a/b create\n", "image .. create\n", "image . create\n",
		"image \"a\\x01b\" create\n", "image \"tab\\there\" create\n",
	};
	struct ctl_registry *r = foo_registry(NULL);
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		ssize_t rc;
		char *res = say_once(r, lines[i], &rc);
		if (rc != -EINVAL)
			fprintf(stderr, "ctl: %s -> %zd %s", lines[i], rc, res);
		CU_ASSERT_EQUAL(rc, -EINVAL);
		CU_ASSERT(strncmp(res, "error: line 1: ", 15) == 0);
		free(res);
	}
	static const char *const names[] = {"a/b", "..", ".", "", "a\x01" "b"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		struct image_origin o = {.has_uuid = true};
		char err[512] = "";
		CU_ASSERT_EQUAL(ctl_registry_add(r, names[i], &o, err, sizeof err), -EINVAL);
		CU_ASSERT(err[0] != 0);
	}
	CU_ASSERT_EQUAL(ctl_registry_count(r), 1);
	ctl_registry_free(r);
}

static void test_binding_another_image_with_a_batch_pending_is_refused(void)
{
	static const char *const names[] = {"One", "Two"};
	struct ctl_registry *r = new_registry(NULL, names, 2);
	struct image *one = image_named(r, "One"), *two = image_named(r, "Two");
	struct ctl_session *s = new_session(r);
	ssize_t rc;
	char *res = say(s, "image One\nfile 5 path=/src/a.c\nimage Two\n", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strncmp(res, "error: line 3: ", 15) == 0);
	free(res);
	/* The batch went with the error; the session is still bound to One. */
	expect_result(s, "commit\n", "ok generation=1 decls=0\n");
	CU_ASSERT_EQUAL(number_of(one), 1);
	CU_ASSERT_EQUAL(number_of(two), 1);
	ctl_session_free(s);
	ctl_registry_free(r);
}

/* With one image every handle is bound to it, so a pending batch is that image's:
 * `image Bar create` then binds to another image while it is pending, which is refused,
 * and Bar must never receive Foo's batch. */
static void test_creating_an_image_does_not_take_the_only_images_pending_batch(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	struct ctl_session *s = new_session(r);
	ssize_t rc;
	char *res = say(s, "file 5 path=/src/a.c\nimage Bar create\ncommit\n", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	free(res);
	struct image *bar = ctl_registry_find(r, "Bar");
	if (bar) {
		CU_ASSERT_EQUAL(number_of(bar), 1);
		CU_ASSERT_FALSE(image_has(bar, CMD_FILE, 5));
	}
	ctl_session_free(s);
	ctl_registry_free(r);
}

/* ---- tests: closing and aborting --------------------------------------------------- */

static void test_closing_with_a_pending_batch_publishes_nothing_and_logs_it(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	setup_base(r);   /* its session closed with nothing pending: no log entry */
	struct image *im = image_named(r, "Foo");
	CU_ASSERT_EQUAL(error_entries(im), 0);
	struct snap before;
	snap_current(im, &before);
	struct ctl_session *s = new_session(r);
	expect_pending(s, "file 5 path=/src/a.c\nfn 3 name=gamma low_pc=0x100000200 size=0x10 "
		      "file=5 line=1\n");
	ctl_session_free(s);
	CU_ASSERT(unchanged(&before, im));
	CU_ASSERT_FALSE(image_has(im, CMD_FILE, 5));
	CU_ASSERT_EQUAL(error_entries(im), 1);
	snap_free(&before);
	ctl_registry_free(r);
}

static void test_abort_drops_the_pending_batch(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	struct image *im = image_named(r, "Foo");
	struct ctl_session *s = new_session(r);
	expect_pending(s, "file 5 path=/src/a.c\n");
	expect_result(s, "abort\nfile 6 path=/src/b.c\ncommit\n", "ok generation=2 decls=0\n");
	CU_ASSERT_FALSE(image_has(im, CMD_FILE, 5));
	CU_ASSERT(image_has(im, CMD_FILE, 6));
	expect_result(s, "file 7 path=/src/c.c\nabort\ncommit\n", "ok generation=2 decls=0\n");
	ctl_session_free(s);
	/* Nothing was pending at close and nothing failed: the log stays empty. */
	CU_ASSERT_EQUAL(error_entries(im), 0);
	ctl_registry_free(r);
}

/* ---- tests: scripts and concurrency ------------------------------------------------ */

static void test_run_script_commits_what_is_pending_at_its_end(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	struct image *im = image_named(r, "Foo");
	char err[512] = "";
	/* No commit and no final newline. */
	static const char script[] = "file 5 path=/src/a.c\nfile 6 path=/src/b.c";
	CU_ASSERT_EQUAL(ctl_run_script(r, script, strlen(script), err, sizeof err), 0);
	CU_ASSERT_EQUAL(number_of(im), 2);
	CU_ASSERT(image_has(im, CMD_FILE, 5));
	CU_ASSERT(image_has(im, CMD_FILE, 6));
	static const char bad[] = "file 7 path=/src/c.c\nfn 3 name=g low_pc=0x100000000 "
				  "size=0x10 file=99 line=1\n";
	CU_ASSERT_EQUAL(ctl_run_script(r, bad, strlen(bad), err, sizeof err), -EINVAL);
	CU_ASSERT(strstr(err, "line 2: ") != NULL);
	CU_ASSERT_EQUAL(number_of(im), 2);
	ctl_registry_free(r);
}

/* A relative exe path names a file in the session's base directory: the commit that
 * reads it reports the joined path. Nothing exists at either path, so the message
 * shows which one was opened. */
static void test_relative_exe_paths_are_taken_from_the_base(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	struct ctl_session *s = new_session(r);
	CU_ASSERT_EQUAL(ctl_session_set_base(s, "/no/such/dir"), 0);
	ssize_t rc;
	char *res = say(s, "exe sub/prog\ncommit\n", &rc);
	CU_ASSERT(rc < 0);
	CU_ASSERT(strstr(res, "/no/such/dir/sub/prog") != NULL);
	free(res);
	/* A base of "/" does not double the slash; an absolute path ignores the base. */
	CU_ASSERT_EQUAL(ctl_session_set_base(s, "/"), 0);
	res = say(s, "exe prog\ncommit\n", &rc);
	CU_ASSERT(strstr(res, " /prog") != NULL || strstr(res, "\"/prog") != NULL);
	CU_ASSERT(strstr(res, "//prog") == NULL);
	free(res);
	res = say(s, "exe /elsewhere/prog\ncommit\n", &rc);
	CU_ASSERT(strstr(res, "/elsewhere/prog") != NULL);
	CU_ASSERT(strstr(res, "//elsewhere") == NULL && strstr(res, "/no/such") == NULL);
	free(res);
	ctl_session_free(s);
	CU_ASSERT_EQUAL(number_of(image_named(r, "Foo")), 1);
	ctl_registry_free(r);
}

/* With the writer's directory unknown, a relative path fails its write at once and drops
 * the batch; an absolute one still goes through to the commit. */
static void test_relative_paths_without_a_base_are_refused(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	setup_base(r);
	struct ctl_session *s = new_session(r);
	CU_ASSERT_EQUAL(ctl_session_set_base(s, NULL), 0);
	ssize_t rc;
	char *res = say(s, "del 1\nexe prog\ncommit\n", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strncmp(res, "error: line 2: ", 15) == 0);
	CU_ASSERT(strstr(res, "must be absolute") != NULL);
	free(res);
	res = say(s, "image Foo create exe=prog\n", &rc);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strstr(res, "must be absolute") != NULL);
	free(res);
	res = say(s, "commit\n", &rc);
	CU_ASSERT_STRING_EQUAL(res, "ok generation=2 decls=2\n");
	free(res);
	res = say(s, "exe /no/such/prog\ncommit\n", &rc);
	CU_ASSERT(rc < 0);
	CU_ASSERT(strstr(res, "must be absolute") == NULL && strstr(res, "/no/such/prog"));
	free(res);
	ctl_session_free(s);
	CU_ASSERT_EQUAL(number_of(image_named(r, "Foo")), 2);
	ctl_registry_free(r);
}

/* Without a base (dsymfs render), a relative path is left as written. */
static void test_without_a_base_relative_paths_stay_as_written(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	ssize_t rc;
	char *res = say_once(r, "exe no-such-prog\ncommit\n", &rc);
	CU_ASSERT(rc < 0);
	CU_ASSERT(strstr(res, "no-such-prog") != NULL && strstr(res, "/no-such-prog") == NULL);
	free(res);
	ctl_registry_free(r);
}

#define PER_WORKER 20

struct worker {
	struct ctl_registry *r;
	unsigned first_id;
	unsigned long long first_addr;
	int failures;
};

/* CUnit is not thread-safe: a worker counts its failures for the main thread. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct ctl_session *s;
	if (ctl_session_new(w->r, &s)) {
		w->failures++;
		return NULL;
	}
	for (unsigned k = 0; k < PER_WORKER; k++) {
		char text[256];
		int n = snprintf(text, sizeof text, "fn %u name=w%u low_pc=0x%llx size=0x10 "
				 "file=1 line=%u\ncommit\n", w->first_id + k, w->first_id + k,
				 w->first_addr + 0x10ull * k, k + 1);
		size_t rlen;
		ssize_t rc = ctl_session_write(s, text, (size_t)n);
		const char *res = ctl_session_result(s, &rlen);
		if (rc != n || rlen < 14 || memcmp(res, "ok generation=", 14))
			w->failures++;
	}
	ctl_session_free(s);
	return NULL;
}

static void test_two_sessions_commit_concurrently_and_both_land(void)
{
	struct ctl_registry *r = foo_registry(NULL);
	setup_base(r);
	struct image *im = image_named(r, "Foo");
	struct worker w[2] = {
		{r, 100, 0x100001000ull, 0},
		{r, 200, 0x100002000ull, 0},
	};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CU_ASSERT_FATAL(pthread_create(&t[i], NULL, worker_run, &w[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_EQUAL(w[0].failures, 0);
	CU_ASSERT_EQUAL(w[1].failures, 0);
	/* Every commit added one function, so each made exactly one generation. */
	CU_ASSERT_EQUAL(number_of(im), 2 + 2 * PER_WORKER);
	char *decls = current_text(im, GEN_TEXT_DECLS);
	CU_ASSERT_EQUAL(count_lines(decls), 2 + 2 * PER_WORKER);
	for (unsigned k = 0; k < PER_WORKER; k++) {
		CU_ASSERT(has_record(decls, CMD_FN, 100 + k));
		CU_ASSERT(has_record(decls, CMD_FN, 200 + k));
	}
	free(decls);
	ctl_registry_free(r);
}

static const struct unit_test ctl_tests[] = {
	{"result_is_empty_before_any_commit_or_error",
	 test_result_is_empty_before_any_commit_or_error},
	{"ok_line_reports_generation_and_total_decls",
	 test_ok_line_reports_generation_and_total_decls},
	{"syntax_errors_fail_the_write_and_drop_the_batch_and_the_rest",
	 test_syntax_errors_fail_the_write_and_drop_the_batch_and_the_rest},
	{"a_syntax_error_drops_what_earlier_writes_left_pending",
	 test_a_syntax_error_drops_what_earlier_writes_left_pending},
	{"commit_error_names_its_line_and_is_logged",
	 test_commit_error_names_its_line_and_is_logged},
	{"a_line_split_between_two_writes_is_joined_at_every_byte",
	 test_a_line_split_between_two_writes_is_joined_at_every_byte},
	{"over_long_line_is_e2big_and_drops_the_batch",
	 test_over_long_line_is_e2big_and_drops_the_batch},
	{"after_an_over_long_line_the_rest_of_its_write_is_discarded",
	 test_after_an_over_long_line_the_rest_of_its_write_is_discarded},
	{"over_large_batch_is_e2big_and_drops_the_batch",
	 test_over_large_batch_is_e2big_and_drops_the_batch},
	{"max_decls_exceeded_is_enospc_at_commit", test_max_decls_exceeded_is_enospc_at_commit},
	{"image_create_beyond_max_images_is_enospc",
	 test_image_create_beyond_max_images_is_enospc},
	{"image_create_of_an_existing_name_is_eexist",
	 test_image_create_of_an_existing_name_is_eexist},
	{"commit_with_several_images_needs_an_image_line",
	 test_commit_with_several_images_needs_an_image_line},
	{"image_names_that_cannot_be_directories_are_refused",
	 test_image_names_that_cannot_be_directories_are_refused},
	{"binding_another_image_with_a_batch_pending_is_refused",
	 test_binding_another_image_with_a_batch_pending_is_refused},
	{"creating_an_image_does_not_take_the_only_images_pending_batch",
	 test_creating_an_image_does_not_take_the_only_images_pending_batch},
	{"closing_with_a_pending_batch_publishes_nothing_and_logs_it",
	 test_closing_with_a_pending_batch_publishes_nothing_and_logs_it},
	{"abort_drops_the_pending_batch", test_abort_drops_the_pending_batch},
	{"run_script_commits_what_is_pending_at_its_end",
	 test_run_script_commits_what_is_pending_at_its_end},
	{"two_sessions_commit_concurrently_and_both_land",
	 test_two_sessions_commit_concurrently_and_both_land},
	{"relative_exe_paths_are_taken_from_the_base",
	 test_relative_exe_paths_are_taken_from_the_base},
	{"relative_paths_without_a_base_are_refused",
	 test_relative_paths_without_a_base_are_refused},
	{"without_a_base_relative_paths_stay_as_written",
	 test_without_a_base_relative_paths_stay_as_written},
	{NULL, NULL},
};

UNIT_SUITE(ctl, ctl_tests)
