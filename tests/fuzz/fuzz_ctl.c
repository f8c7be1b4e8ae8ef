/* libFuzzer target: the control protocol, parse to publish.
 *
 * Each input is a control script (the text a compiler writes to MOUNT/control). It goes
 * through ctl_session_write on a fresh registry with one image, "Foo" (x86_64, fixed
 * UUID), in writes of pseudo-random sizes (fixed per input) so lines are cut between
 * writes; a write never holds more than one line that could be a `commit`. Then "commit"
 * is sent, and every image's current generation is read whole and checked.
 *
 * Invariants (abort() with a message on any violation, so libFuzzer saves the input):
 *  1. A write with no commit line never changes any image's current generation.
 *  2. A failed write (a rejected batch or commit) leaves every image's current
 *     generation the same, with byte-for-byte the same file.
 *  3. A generation never changes after it is published: the previous current generation
 *     of every image reads the same bytes after any commit as before it.
 *  4. A successful commit reports "ok generation=N decls=M" with the image's current
 *     generation and function count; generations rise by exactly one per publish, and
 *     a published generation differs from the one before it (its bytes or its decls,
 *     files or types): a batch that changes nothing publishes nothing (not checked for a
 *     batch that touches one record twice, or a `sym` that may take over an executable's
 *     identical entry: see touched_twice and sym_takeover_possible).
 *  5. gen_read: one whole read equals reads in odd-sized pieces, and so do the slices of
 *     gen_read_slices for the same pieces; reads at or past the end return 0; the file passes dsym_check (structure) and macho_parse_exe (an
 *     MH_DSYM is a 64-bit Mach-O with a UUID, as the reader wants; but an image with
 *     MACHO_MAX_SEGS segments makes a dSYM with one more, __DWARF, past its limit).
 *  6. The result line is one line (one newline, at its end; no NUL); every entry of
 *     images/NAME/errors is one line starting with its time stamp.
 *  7. gen_text: decls lists exactly gen_ndecls functions; writing files, types, globals and decls
 *     back then committing succeeds and publishes nothing (docs/protocol.md, "Reading the
 *     tables back"), unless a line is longer than the fuzz limits (E2BIG).
 *  8. Closing a session with a batch pending (inputs whose size is 3 mod 4 end that way
 *     instead of with a commit) changes no generation; with several images, a session
 *     bound to none cannot commit (EINVAL).
 *  9. When no write failed, ctl_run_script (the engine of `dsymfs render`) on a fresh
 *     registry makes the same generation number and bytes for Foo.
 *
 * `exe PATH` and `image ... create exe=PATH` read files: during each input the working
 * directory is tests/fuzz/exe (FUZZ_EXE_DIR, set at build time), whose links name seed
 * executables of tests/fuzz/corpus/macho/ with one letter:
 *   x  x86_64 executable    a  arm64 executable    f  fat (x86_64 + arm64)
 *   t  truncated x86_64     m  x86_64 executable with more segments and symbols
 * (so a crash artifact written without -artifact_prefix lands there too).
 *
 * FUZZ_CTL_TRACE=1 in the environment prints each write and its result line on stderr;
 * FUZZ_SKIP=one-line,noop-publish,sym-sect skips invariant 6, the "differs" part of 4,
 * and macho_parse_exe's refusal of a symbol past the sections in 5 (to fuzz past those
 * bugs while they are open).
 *
 * Limits are small so their errors are reachable: max_line 1024, max_batch_bytes 16384,
 * max_decls 64, max_images 3, keep_generations 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "enc.h"
#include "gen.h"
#include "image.h"
#include "macho.h"

#include "dsym_check.h"

#ifndef FUZZ_EXE_DIR
#error "build with -DFUZZ_EXE_DIR=\"/abs/path/tests/fuzz/exe\""
#endif

#define MAX_IMAGES 3

static int home_fd = -1, scratch_fd = -1;
static unsigned failed_writes;   /* of the current input */
static bool trace;   /* FUZZ_CTL_TRACE=1: print each write's result on stderr */
/* FUZZ_SKIP=one-line,noop-publish,sym-sect: skip those checks (to fuzz past known bugs while
 * they are open). */
static bool skip_one_line, skip_noop_publish, skip_sym_sect;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz_ctl: invariant broken: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	static const char *const links[] = {"x", "a", "f", "t", "m"};
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", FUZZ_EXE_DIR, links[i]);
		if (access(path, R_OK)) {
			fprintf(stderr, "fuzz_ctl: %s: %s\n", path, strerror(errno));
			exit(1);
		}
	}
	trace = getenv("FUZZ_CTL_TRACE") != NULL;
	const char *skip = getenv("FUZZ_SKIP");
	skip_one_line = skip && strstr(skip, "one-line");
	skip_noop_publish = skip && strstr(skip, "noop-publish");
	skip_sym_sect = skip && strstr(skip, "sym-sect");
	home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	scratch_fd = open(FUZZ_EXE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0 || scratch_fd < 0) {
		perror("open");
		exit(1);
	}
	return 0;
}

/* The whole file of a generation, read in one call. */
static uint8_t *read_all(struct gen *g, uint64_t *len)
{
	uint64_t n = gen_size(g);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		die("out of memory for %llu bytes", (unsigned long long)n);
	ssize_t got = gen_read(g, 0, buf, n);
	if (got < 0 || (uint64_t)got != n)
		die("gen_read of generation %llu: %zd of %llu bytes",
		    (unsigned long long)gen_number(g), got, (unsigned long long)n);
	*len = n;
	return buf;
}

struct snap {
	struct image *im;
	struct gen *g;       /* a reference */
	uint8_t *bytes;      /* NULL when not taken */
	uint64_t len;
};

static size_t take_snaps(struct ctl_registry *r, struct snap *s, bool bytes)
{
	size_t n = ctl_registry_count(r);
	for (size_t i = 0; i < n; i++) {
		s[i].im = ctl_registry_at(r, i);
		s[i].g = image_current(s[i].im);
		s[i].bytes = bytes ? read_all(s[i].g, &s[i].len) : NULL;
	}
	return n;
}

static void drop_snaps(struct snap *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gen_unref(s[i].g);
		free(s[i].bytes);
	}
}

static void same_bytes(const struct snap *s, struct gen *g, const char *when)
{
	uint64_t len;
	uint8_t *now = read_all(g, &len);
	if (len != s->len || memcmp(now, s->bytes, len))
		die("%s: image %s generation %llu reads other bytes than before (%llu -> %llu "
		    "bytes)", when, image_name(s->im), (unsigned long long)gen_number(g),
		    (unsigned long long)s->len, (unsigned long long)len);
	free(now);
}

/* Could this line be a commit? Any "commit" substring counts: over-cutting only makes
 * more writes and more snapshots. */
static bool has_commit(const char *p, size_t n)
{
	return n >= 6 && memmem(p, n, "commit", 6);
}

static uint32_t lcg(uint32_t *st)
{
	*st = *st * 1103515245u + 12345u;
	return *st >> 8;
}

/* The result line is one line: empty, or text ending in its only newline (a compiler
 * reads it with one pread and splits nothing). */
static void check_result_line(struct ctl_session *s)
{
	size_t rlen;
	const char *res = ctl_session_result(s, &rlen);
	if (!rlen || skip_one_line)
		return;
	const char *nl = memchr(res, '\n', rlen);
	if (nl != res + rlen - 1)
		die("the result line holds a newline before its end: \"%.*s\"", (int)rlen, res);
	if (memchr(res, 0, rlen))
		die("the result line holds a NUL byte");
}

/* Each entry of images/NAME/errors is one line that starts with its UTC time stamp. */
static void check_errors_text(struct image *im)
{
	char *text;
	size_t tlen;
	if (image_errors_text(im, &text, &tlen))
		die("out of memory");
	for (size_t i = 0; i < tlen && !skip_one_line;) {
		const char *nl = memchr(text + i, '\n', tlen - i);
		size_t end = nl ? (size_t)(nl - text) : tlen;
		int y, mo, d, h, mi, sec;
		char z;
		if (sscanf(text + i, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) != 7 ||
		    z != 'Z')
			die("image %s's errors: a line does not start with a time stamp: \"%.*s\"",
			    image_name(im), (int)(end - i), text + i);
		i = end + 1;
	}
	free(text);
}

static bool same_text(struct gen *a, struct gen *b, enum gen_text which)
{
	const char *ta, *tb;
	size_t la, lb;
	if (gen_text(a, which, &ta, &la) || gen_text(b, which, &tb, &lb))
		die("gen_text failed");
	return la == lb && !memcmp(ta, tb, la);
}

/* The input and the text of the batch being committed (from the previous commit cut),
 * for the exemption below. */
static const char *input;
static size_t input_len, batch_from, batch_to;

/* A `sym` identical to an executable's entry of that name takes it over: the bytes stay
 * the same, but the state changes (the compiler's entry outlives the next `exe`), so such
 * a publish is no bug. Any batch with a sym line counts when the input mentions exe. */
static bool sym_takeover_possible(void)
{
	return batch_to > batch_from &&
	       memmem(input + batch_from, batch_to - batch_from, "sym", 3) &&
	       memmem(input, input_len, "exe", 3);
}

/* The record class a command touches, for touched_twice(); NULL for none. */
static const char *touch_class(const char *cmd, size_t n)
{
	static const char *const classes[][2] = {
		{"fn", "fn"}, {"move", "fn"}, {"line", "fn"}, {"del", "fn"},
		{"move-range", "range"}, {"line-range", "range"},
		{"file", "file"}, {"delfile", "file"}, {"type", "type"}, {"deltype", "type"},
		{"sym", "sym"}, {"unsym", "sym"},
		{"segment", "seg"}, {"section", "seg"}, {"exe", "seg"},
	};
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strlen(classes[i][0]) == n && !memcmp(classes[i][0], cmd, n))
			return classes[i][1];
	return NULL;
}

/* Does the batch touch one record twice (fn 5 then move 5; a section then another; two
 * range commands, or a range and a function)? Then it may change something and change it
 * back, and whether that publishes is the protocol's choice (rule 8 reads either way):
 * the "differs" check stays out of it. Over-counting only skips a check. */
static bool touched_twice(void)
{
	enum { MAXT = 512 };
	struct seen { const char *cls; const char *word; size_t wlen; } seen[MAXT];
	size_t nseen = 0, ranges = 0, fns = 0;
	const char *p = input + batch_from, *end = input + batch_to;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c = p;
		while (c < le && (*c == ' ' || *c == '\t'))
			c++;
		const char *ce = c;
		while (ce < le && *ce != ' ' && *ce != '\t')
			ce++;
		const char *w = ce;
		while (w < le && (*w == ' ' || *w == '\t'))
			w++;
		const char *we = w;
		while (we < le && *we != ' ' && *we != '\t')
			we++;
		const char *cls = touch_class(c, (size_t)(ce - c));
		if (cls && !strcmp(cls, "range"))
			ranges++;
		else if (cls && !strcmp(cls, "fn"))
			fns++;
		if (cls && !strcmp(cls, "seg")) {
			w = "";   /* segments and sections: one class, any two count */
			we = w;
		}
		if (cls) {
			for (size_t i = 0; i < nseen; i++)
				if (seen[i].cls == cls && seen[i].wlen == (size_t)(we - w) &&
				    !memcmp(seen[i].word, w, seen[i].wlen))
					return true;
			if (nseen == MAXT)
				return true;
			seen[nseen++] = (struct seen){cls, w, (size_t)(we - w)};
		}
		p = le + 1;
	}
	return ranges > 1 || (ranges && fns);
}

/* A new generation differs from the one before it: in its bytes or in its tables
 * (docs/protocol.md, rules 8 and 9: a batch that changes nothing publishes nothing). */
static void check_published_change(const struct snap *s, struct gen *now, bool strict)
{
	if (!strict)
		return;
	uint64_t len;
	uint8_t *bytes = read_all(now, &len);
	bool differs = len != s->len || memcmp(bytes, s->bytes, len) ||
		       !same_text(s->g, now, GEN_TEXT_DECLS) ||
		       !same_text(s->g, now, GEN_TEXT_FILES) ||
		       !same_text(s->g, now, GEN_TEXT_TYPES) ||
		       !same_text(s->g, now, GEN_TEXT_GLOBALS);
	free(bytes);
	if (!differs)
		die("image %s: commit published generation %llu identical to generation %llu "
		    "(same bytes, decls, files and types)", image_name(s->im),
		    (unsigned long long)gen_number(now), (unsigned long long)gen_number(s->g));
}

/* One write, with the invariants around it. */
static void checked_write(struct ctl_registry *r, struct ctl_session *s, const char *p,
			  size_t n, bool commit)
{
	struct snap before[MAX_IMAGES];
	size_t nb = take_snaps(r, before, commit);
	ssize_t w = ctl_session_write(s, p, n);
	failed_writes += w < 0;
	if (trace) {
		size_t rlen;
		const char *res = ctl_session_result(s, &rlen);
		fprintf(stderr, "write %zu bytes%s -> %zd: %.*s", n, commit ? " (commit)" : "", w,
			(int)rlen, res);
		if (!rlen)
			fprintf(stderr, "\n");
	}
	if (w >= 0 && (size_t)w != n)
		die("ctl_session_write returned %zd for %zu bytes", w, n);
	check_result_line(s);
	for (size_t i = 0; i < nb; i++) {
		struct gen *now = image_current(before[i].im);
		bool same = now == before[i].g;
		if (!commit && !same)
			die("a write without commit changed image %s from generation %llu to %llu",
			    image_name(before[i].im), (unsigned long long)gen_number(before[i].g),
			    (unsigned long long)gen_number(now));
		if (w < 0 && !same)
			die("a failed write (%zd) changed image %s from generation %llu to %llu", w,
			    image_name(before[i].im), (unsigned long long)gen_number(before[i].g),
			    (unsigned long long)gen_number(now));
		if (!same && gen_number(now) != gen_number(before[i].g) + 1)
			die("image %s went from generation %llu to %llu",
			    image_name(before[i].im), (unsigned long long)gen_number(before[i].g),
			    (unsigned long long)gen_number(now));
		if (!same && !skip_noop_publish)
			check_published_change(&before[i], now,
					       !sym_takeover_possible() && !touched_twice());
		if (commit) {
			same_bytes(&before[i], before[i].g, "after a commit, the old generation");
			if (w < 0)
				same_bytes(&before[i], now, "after a failed commit, the current file");
		}
		gen_unref(now);
	}
	if (commit && w >= 0) {
		size_t rlen;
		const char *res = ctl_session_result(s, &rlen);
		unsigned long long gn, nd;
		/* The last line was a commit if the result is an ok line for this write. */
		if (rlen && sscanf(res, "ok generation=%llu decls=%llu", &gn, &nd) == 2) {
			bool found = false;
			size_t n_now = ctl_registry_count(r);  /* the write may have made one */
			for (size_t i = 0; i < n_now && !found; i++) {
				struct gen *now = image_current(ctl_registry_at(r, i));
				found = gen_number(now) == gn && gen_ndecls(now) == nd;
				gen_unref(now);
			}
			if (!found)
				die("result \"%.*s\" matches no image's current generation",
				    (int)rlen - 1, res);
		}
	}
	drop_snaps(before, nb);
}

/* The end (just past its newline) of the first line from `from` on that could be a
 * commit, or n. `from` is at the start of a line. */
static size_t next_cut(const char *p, size_t n, size_t from)
{
	while (from < n) {
		const char *nl = memchr(p + from, '\n', n - from);
		if (!nl)
			return n;
		size_t end = (size_t)(nl - p);
		if (has_commit(p + from, end - from))
			return end + 1;
		from = end + 1;
	}
	return n;
}

/* Splits the input into writes of pseudo-random sizes (1 to 300 bytes, seeded by the
 * input's length, so lines are cut between writes), each ending at the latest just
 * after a line that could be a commit: a write completes at most one such line, and
 * only as its last. */
static void feed(struct ctl_registry *r, struct ctl_session *s, const char *p, size_t n)
{
	uint32_t st = (uint32_t)n * 2654435761u + 1;
	size_t i = 0, cut = next_cut(p, n, 0);
	batch_from = 0;
	while (i < n) {
		batch_to = cut;
		size_t want = 1 + lcg(&st) % 300;
		if (want > cut - i)
			want = cut - i;
		bool commit = i + want == cut && cut > 0 && p[cut - 1] == '\n';
		checked_write(r, s, p + i, want, commit);
		i += want;
		if (i == cut) {
			batch_from = cut;
			cut = next_cut(p, n, i);
		}
	}
}

static void check_generation(struct image *im)
{
	struct gen *g = image_current(im);
	uint64_t len;
	uint8_t *whole = read_all(g, &len);
	char err[512];
	if (dsym_check(whole, len, err, sizeof err))
		die("image %s generation %llu: %s", image_name(im),
		    (unsigned long long)gen_number(g), err);

	/* Odd pieces, and reads at and past the end. */
	uint8_t *piece = malloc(len + 64);
	if (!piece)
		die("out of memory");
	static const size_t steps[] = {1, 7, 13, 4093, 4096, 65537};
	for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
		size_t step = steps[k];
		if (step == 1 && len > 8192)
			continue;
		uint64_t off = 0;
		while (off < len) {
			ssize_t got = gen_read(g, off, piece + off, step);
			size_t want = len - off < step ? (size_t)(len - off) : step;
			if (got < 0 || (size_t)got != want)
				die("gen_read(%llu, %zu) returned %zd, wanted %zu",
				    (unsigned long long)off, step, got, want);
			off += (uint64_t)got;
		}
		if (memcmp(piece, whole, len))
			die("reading in pieces of %zu bytes gives other bytes than one read", step);
		memset(piece, 0, len);
		for (off = 0; off < len;) {
			struct gen_slices sl;
			ssize_t got = gen_read_slices(g, off, step, &sl);
			size_t want = len - off < step ? (size_t)(len - off) : step, at = 0;
			if (got < 0 || (size_t)got != want)
				die("gen_read_slices(%llu, %zu) returned %zd, wanted %zu",
				    (unsigned long long)off, step, got, want);
			for (size_t i = 0; i < sl.n; i++) {
				if (at + sl.iov[i].iov_len > want)
					die("gen_read_slices(%llu, %zu): slices past the read",
					    (unsigned long long)off, step);
				memcpy(piece + off + at, sl.iov[i].iov_base, sl.iov[i].iov_len);
				at += sl.iov[i].iov_len;
			}
			gen_slices_release(&sl);
			if (at != want)
				die("gen_read_slices(%llu, %zu): slices of %zu bytes",
				    (unsigned long long)off, step, at);
			off += want;
		}
		if (memcmp(piece, whole, len))
			die("slices of %zu-byte reads give other bytes than one read", step);
	}
	if (gen_read(g, len, piece, 64) != 0 || gen_read(g, len + 12345, piece, 1) != 0 ||
	    gen_read(g, UINT64_MAX - 3, piece, 8) != 0)
		die("gen_read at or past the end returned data");
	free(piece);

	/* A dSYM is a Mach-O the executable reader accepts, with the same identity. */
	struct macho_exe e;
	int prc = macho_parse_exe(whole, len, &e, err, sizeof err);
	/* An image may have MACHO_MAX_SEGS segments; its dSYM adds __DWARF, one more than
	 * the executable reader's plausibility limit. */
	bool dwarf_65th = prc && strstr(err, "more than") && strstr(err, "__DWARF");
	if (prc && !dwarf_65th && !(skip_sym_sect && strstr(err, "is in section")))
		die("image %s generation %llu: macho_parse_exe refuses the dSYM: %s",
		    image_name(im), (unsigned long long)gen_number(g), err);
	if (!prc && (memcmp(e.ident.uuid, gen_uuid(g), 16) || e.ident.cputype != gen_cputype(g)))
		die("the dSYM's UUID or CPU differs from the generation's");
	macho_exe_free(&e);
	free(whole);

	size_t plen;
	const char *plist = gen_plist(g, &plen);
	if (!plist || !plen || !memmem(plist, plen, "</plist>", 8))
		die("Info.plist of image %s is not a plist", image_name(im));

	const char *text;
	size_t tlen;
	if (gen_text(g, GEN_TEXT_DECLS, &text, &tlen))
		die("gen_text decls failed");
	uint64_t lines = 0;
	for (size_t i = 0; i < tlen; i++)
		lines += text[i] == '\n';
	if (lines != gen_ndecls(g) || (tlen && text[tlen - 1] != '\n'))
		die("decls lists %llu lines for %llu functions", (unsigned long long)lines,
		    (unsigned long long)gen_ndecls(g));
	gen_unref(g);
}

/* Writing the tables back changes nothing. */
static void check_roundtrip(struct ctl_registry *r, struct image *im)
{
	struct gen *g = image_current(im);
	struct ctl_session *s;
	if (ctl_session_new(r, &s))
		die("out of memory");
	/* Bind to the image by name, quoted as the protocol wants. */
	struct enc_buf head;
	enc_buf_init(&head);
	enc_buf_printf(&head, "image ");
	cmd_format_value(&head, image_name(im));
	enc_buf_printf(&head, "\n");
	size_t hl;
	uint8_t *hb = enc_buf_take(&head, &hl);
	if (!hb)
		die("out of memory");
	ssize_t w = ctl_session_write(s, (const char *)hb, hl);
	free(hb);
	if (w < 0)
		die("binding to image %s by its name failed", image_name(im));
	static const enum gen_text order[] = {GEN_TEXT_FILES, GEN_TEXT_TYPES, GEN_TEXT_GLOBALS,
					      GEN_TEXT_DECLS};
	for (size_t k = 0; k < sizeof order / sizeof order[0] && w >= 0; k++) {
		const char *text;
		size_t tlen;
		if (gen_text(g, order[k], &text, &tlen))
			die("gen_text failed");
		if (tlen)
			w = ctl_session_write(s, text, tlen);
	}
	if (w >= 0)
		w = ctl_session_write(s, "commit\n", 7);
	size_t rlen;
	const char *res = ctl_session_result(s, &rlen);
	if (w < 0 && w != -E2BIG)
		die("writing back image %s's tables failed (%zd): %.*s", image_name(im), w,
		    (int)(rlen ? rlen - 1 : 0), res);
	struct gen *now = image_current(im);
	if (now != g)
		die("writing back image %s's tables made generation %llu from %llu (%.*s)",
		    image_name(im), (unsigned long long)gen_number(now),
		    (unsigned long long)gen_number(g), (int)(rlen ? rlen - 1 : 0), res);
	gen_unref(now);
	gen_unref(g);
	ctl_session_free(s);
}

static void check_run_script(struct ctl_registry *r, const struct ctl_limits *lim,
			     const struct image_origin *o, const char *data, size_t size)
{
	struct ctl_registry *r2;
	char err[512];
	if (ctl_registry_new(lim, &r2) || ctl_registry_add(r2, "Foo", o, err, sizeof err))
		die("cannot make the second registry");
	int rc = ctl_run_script(r2, data, size, err, sizeof err);
	if (rc)
		die("ctl_run_script fails (%d: %s) on a script every write of which succeeded",
		    rc, err);
	struct image *a = ctl_registry_find(r, "Foo"), *b = ctl_registry_find(r2, "Foo");
	struct gen *ga = image_current(a), *gb = image_current(b);
	uint64_t la, lb;
	uint8_t *ba = read_all(ga, &la), *bb = read_all(gb, &lb);
	if (gen_number(ga) != gen_number(gb) || la != lb || memcmp(ba, bb, la))
		die("ctl_run_script makes generation %llu (%llu bytes), the session made %llu "
		    "(%llu bytes)%s", (unsigned long long)gen_number(gb), (unsigned long long)lb,
		    (unsigned long long)gen_number(ga), (unsigned long long)la,
		    la == lb ? " with other bytes" : "");
	free(ba);
	free(bb);
	gen_unref(ga);
	gen_unref(gb);
	ctl_registry_free(r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256 * 1024)
		return -1;
	if (fchdir(scratch_fd))
		die("fchdir: %s", strerror(errno));

	struct ctl_limits lim;
	ctl_limits_default(&lim);
	lim.max_line = 1024;
	lim.max_batch_bytes = 16384;
	lim.max_decls = 64;
	lim.max_images = MAX_IMAGES;
	lim.keep_generations = 2;
	struct ctl_registry *r;
	if (ctl_registry_new(&lim, &r))
		die("out of memory");
	struct image_origin o = {
		.has_uuid = true,
		.uuid = {0x4c, 0x4c, 0x44, 0xe2, 0x55, 0x55, 0x31, 0x44,
			 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18},
		.has_arch = true,
		.cputype = MACHO_CPU_X86_64,
		.cpusubtype = MACHO_SUBTYPE_X86_64_ALL,
	};
	char err[512];
	if (ctl_registry_add(r, "Foo", &o, err, sizeof err))
		die("cannot add the default image: %s", err);

	struct ctl_session *s;
	if (ctl_session_new(r, &s))
		die("out of memory");
	failed_writes = 0;
	input = (const char *)data;
	input_len = size;
	feed(r, s, (const char *)data, size);
	if (size % 4 == 3) {
		/* Closing with a batch pending drops it (a crashed compiler): no image
		 * changes. */
		struct snap before[MAX_IMAGES];
		size_t nb = take_snaps(r, before, false);
		ctl_session_free(s);
		for (size_t i = 0; i < nb; i++) {
			struct gen *now = image_current(before[i].im);
			if (now != before[i].g)
				die("closing a session changed image %s's generation",
				    image_name(before[i].im));
			gen_unref(now);
		}
		drop_snaps(before, nb);
	} else {
		/* Whatever is pending is committed, as `dsymfs render` does. */
		batch_to = size;
		checked_write(r, s, "\ncommit\n", 8, true);
		ctl_session_free(s);
	}

	/* With several images, a session bound to none cannot commit. */
	if (ctl_registry_count(r) > 1) {
		if (ctl_session_new(r, &s))
			die("out of memory");
		if (ctl_session_write(s, "commit\n", 7) != -EINVAL)
			die("an unbound commit with %zu images did not fail with EINVAL",
			    ctl_registry_count(r));
		check_result_line(s);
		ctl_session_free(s);
	}

	/* Differential: a script no write of which failed gives the same file through
	 * ctl_run_script (the engine of `dsymfs render`) on a fresh registry. */
	if (!failed_writes && size % 4 != 3)
		check_run_script(r, &lim, &o, (const char *)data, size);

	size_t n = ctl_registry_count(r);
	for (size_t i = 0; i < n; i++) {
		struct image *im = ctl_registry_at(r, i);
		check_generation(im);
		check_roundtrip(r, im);
		check_errors_text(im);
	}
	char *status;
	size_t slen;
	if (ctl_status_text(r, &status, &slen))
		die("out of memory");
	free(status);
	ctl_registry_free(r);
	if (fchdir(home_fd))
		die("fchdir: %s", strerror(errno));
	return 0;
}
