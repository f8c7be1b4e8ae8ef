/* Suite gen: the read entry point and the generation's contract. Reads of any chunk
 * size and at any offset give the bytes of one whole read; reads at and past EOF clamp;
 * gen_size is the byte count and the file's end in llvm-objdump-16; a generation with
 * no functions is a valid dSYM; a held generation keeps its own bytes after newer ones;
 * the symbol table is the executable's plus `sym` and minus `unsym` (llvm-nm-16); and
 * the text views written back change nothing. Validity and expected symbols come from
 * the LLVM tools; the chunked-read oracle is one whole read whose bytes pass
 * llvm-dwarfdump-16 --verify. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "enc.h"
#include "gen.h"
#include "image.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------------------- */

static void fmt_path(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fmt_path(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	CU_ASSERT_FATAL(n >= 0 && (size_t)n < outlen);
}

static void suite_dir(char *out, size_t outlen)
{
	fmt_path(out, outlen, "%s/gen", unit_tmpdir());
	CU_ASSERT_FATAL(mkdir(out, 0755) == 0 || errno == EEXIST);
}

static void tmp_path(char *out, size_t outlen, const char *name)
{
	char dir[PATH_MAX];
	suite_dir(dir, sizeof dir);
	fmt_path(out, outlen, "%s/%s", dir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

static char *tool_out(const char *fmt, const char *path)
{
	char *out = unit_sh_out(fmt, path);
	if (!out) {
		fprintf(stderr, "gen: ");
		fprintf(stderr, fmt, path);
		fprintf(stderr, " failed: is llvm-16 installed?\n");
	}
	CU_ASSERT_FATAL(out != NULL);
	return out;
}

/* llvm-dwarfdump-16 --verify finds no error; with strict, no warning either. */
static void verify(const char *path, bool strict)
{
	char *out = unit_sh_out("llvm-dwarfdump-16 --verify '%s' 2>&1", path);
	if (!out || !strstr(out, "No errors.") || (strict && strstr(out, "warning:")))
		fprintf(stderr, "gen: llvm-dwarfdump-16 --verify %s:\n%s\n", path,
			out ? out : "(exit status not 0)");
	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "No errors."));
	if (strict)
		CU_ASSERT_PTR_NULL(strstr(out, "warning:"));
	free(out);
}

static void verify_clean(const char *path)
{
	verify(path, true);
}

/* For images without types: see test_no_types_no_warning for the warning they get. */
static void verify_no_errors(const char *path)
{
	verify(path, false);
}

/* xorshift64*: reproducible "random" sizes and offsets. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static struct ctl_registry *new_registry(void)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	struct ctl_registry *r = NULL;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	return r;
}

/* Adds image name, from exe when given, else with a fixed UUID (seed) and arch. */
static struct image *add_image(struct ctl_registry *r, const char *name, const char *exe,
			       bool arm64, uint8_t seed)
{
	struct image_origin o = {.exe_path = exe};
	if (!exe) {
		o.has_uuid = o.has_arch = true;
		for (int i = 0; i < 16; i++)
			o.uuid[i] = (uint8_t)(seed + 0x11 * i);
		o.cputype = arm64 ? 0x0100000cu : 0x01000007u;
		o.cpusubtype = arm64 ? 0 : 3;
	}
	char err[512] = "";
	int rc = ctl_registry_add(r, name, &o, err, sizeof err);
	if (rc)
		fprintf(stderr, "gen: ctl_registry_add(%s): %d %s\n", name, rc, err);
	CU_ASSERT_FATAL(rc == 0);
	struct image *im = ctl_registry_find(r, name);
	CU_ASSERT_FATAL(im != NULL);
	return im;
}

static void run_ok(struct ctl_registry *r, const char *script)
{
	char err[512] = "";
	int rc = ctl_run_script(r, script, strlen(script), err, sizeof err);
	if (rc)
		fprintf(stderr, "gen: script failed: %d %s\n", rc, err);
	CU_ASSERT_FATAL(rc == 0);
}

/* The generation's bytes from a single gen_read call (malloc'd). */
static uint8_t *whole(struct gen *g)
{
	uint64_t size = gen_size(g);
	uint8_t *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_FATAL(gen_read(g, 0, buf, size) == (ssize_t)size);
	return buf;
}

static void write_gen(struct gen *g, const char *path)
{
	uint8_t *buf = whole(g);
	write_file(path, buf, gen_size(g));
	free(buf);
}

/* A script of n functions over four files (one a header) and every kind of type, with
 * rows of all kinds; its section covers them. */
static char *big_script(unsigned n, uint64_t base)
{
	struct enc_buf b;
	enc_buf_init(&b);
	enc_buf_printf(&b,
		"section __TEXT __text addr=0x%llx size=0x%llx\n"
		"file 1 path=a.c dir=/src\nfile 2 path=b.c dir=/src\n"
		"file 3 path=/src/inc/h.h\nfile 4 path=\"/src/d e.c\"\n"
		"type 1 kind=base name=int size=4 enc=signed\n"
		"type 2 kind=base name=char size=1 enc=signed_char\n"
		"type 3 kind=const to=2\ntype 4 kind=pointer to=3\n"
		"type 5 kind=typedef name=cstr to=4\ntype 6 kind=pointer to=0\n"
		"type 7 kind=base name=double size=8 enc=float\n",
		(unsigned long long)base, (unsigned long long)n * 0x40);
	for (unsigned i = 0; i < n; i++) {
		unsigned file = i % 3 == 0 ? 1 : i % 3 == 1 ? 2 : 4;   /* 3 is the header */
		unsigned line = 10 + i * 3;
		enc_buf_printf(&b, "fn %u name=fn_%u low_pc=0x%llx size=0x%x file=%u line=%u",
			       i + 1, i, (unsigned long long)(base + i * 0x40ull), 0x30 + i % 16,
			       i % 7 == 0 ? 3 : file, line);
		if (i % 7 == 0)
			enc_buf_printf(&b, " cu=%u", file);
		if (i % 3)
			enc_buf_printf(&b, " ret=%u", 1 + i % 7);
		if (i % 5)
			enc_buf_printf(&b, " params=a:%u,b:5,c:6", 1 + i % 7);
		enc_buf_printf(&b, " rows=0:%u,4:%u:3:sp,8:%u:1:,0x10:0,0x14:%u:2:e:2,0x20:%u:1:se\n",
			       line, line + 1, line + 2 + i % 50, line + 4, line + 5);
	}
	enc_buf_printf(&b, "commit\n");
	enc_buf_u8(&b, 0);
	CU_ASSERT_FATAL(!enc_buf_error(&b));
	size_t len;
	return (char *)enc_buf_take(&b, &len);
}

/* ---- test programs (executables) ------------------------------------------------------- */

static const char SRC_MAIN[] =
	"int helper(int x);\n"
	"int other(void);\n"
	"void _start(void) { helper(other()); for (;;) ; }\n";
static const char SRC_LIB[] =
	"static int local_fn(int x) { return x * 3; }\n"
	"int helper(int x) { return local_fn(x) + 1; }\n"
	"int other(void) { return 4; }\n";
/* Two units, each with its own static `twice`: two local symbols of one name. */
static const char SRC_DUP_A[] =
	"int helper(int x);\n"
	"static int twice(int x) { return 2 * x; }\n"
	"void _start(void) { helper(twice(1)); for (;;) ; }\n";
static const char SRC_DUP_B[] =
	"static int twice(int x) { return x + x; }\n"
	"int helper(int x) { return twice(x); }\n";

/* Builds (once per run) an x86_64 executable from two sources; out gets its path. */
static void build_exe(const char *name, const char *src1, const char *src2, char *out,
		      size_t outlen)
{
	char dir[PATH_MAX];
	suite_dir(dir, sizeof dir);
	fmt_path(out, outlen, "%s/%s", dir, name);
	if (access(out, R_OK) == 0)
		return;
	char path[PATH_MAX], src1_name[PATH_MAX], src2_name[PATH_MAX];
	fmt_path(src1_name, sizeof src1_name, "%s_1.c", name);
	fmt_path(src2_name, sizeof src2_name, "%s_2.c", name);
	fmt_path(path, sizeof path, "%s/%s", dir, src1_name);
	write_file(path, src1, strlen(src1));
	fmt_path(path, sizeof path, "%s/%s", dir, src2_name);
	write_file(path, src2, strlen(src2));
	const char *srcs[] = {src1_name, src2_name};
	unit_build_macho(dir, "x86_64", "-g -gdwarf-4", name, srcs, 2);
}

/* ---- reads ----------------------------------------------------------------------------- */

static void test_chunked_reads(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Big", NULL, false, 1);
	char *script = big_script(1500, 0x100001000);
	run_ok(r, script);
	free(script);
	struct gen *g = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g), 2);
	CU_ASSERT_EQUAL(gen_ndecls(g), 1500);
	uint64_t size = gen_size(g);
	CU_ASSERT_FATAL(size > 200000);   /* several extents of every kind, many pages */
	uint8_t *ref = whole(g);
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "big.dwarf");
	write_file(path, ref, size);
	verify_clean(path);

	uint8_t *buf = malloc(size + 1);
	CU_ASSERT_FATAL(buf != NULL);
	static const size_t chunks[] = {1, 7, 4096, 65536, 0 /* random */};
	for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
		memset(buf, 0xa5, size + 1);
		uint64_t off = 0;
		size_t calls = 0;
		while (off < size) {
			size_t want = chunks[c] ? chunks[c] : 1 + rnd() % 20000;
			ssize_t n = gen_read(g, off, buf + off, want);
			uint64_t left = size - off;
			CU_ASSERT_FATAL(n == (ssize_t)(want < left ? want : left));
			off += (uint64_t)n;
			calls++;
		}
		CU_ASSERT_EQUAL(gen_read(g, off, buf + off, 4096), 0);
		if (memcmp(buf, ref, size))
			fprintf(stderr, "gen: reads of %zu bytes differ from one whole read\n",
				chunks[c]);
		CU_ASSERT(memcmp(buf, ref, size) == 0);
		CU_ASSERT_EQUAL(buf[size], 0xa5);
		CU_ASSERT(calls >= 2);
	}
	/* Random windows anywhere, including ones that run into EOF. */
	size_t bad = 0;
	for (int i = 0; i < 3000; i++) {
		uint64_t off = rnd() % size;
		size_t len = i % 3 == 0 ? 1 + rnd() % 16 : 1 + rnd() % 70000;
		memset(buf, 0x5a, len < size + 1 ? len + 1 : size + 1);
		size_t cap = len < size - off ? len : size - off;
		ssize_t n = gen_read(g, off, buf, len);
		if (n != (ssize_t)cap || memcmp(buf, ref + off, cap) || buf[cap] != 0x5a) {
			if (bad++ < 5)
				fprintf(stderr, "gen: read(0x%llx, %zu) gave %zd\n",
					(unsigned long long)off, len, n);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(buf);
	free(ref);
	gen_unref(g);
	ctl_registry_free(r);
}

/* Concatenates the slices of (off, len) into out; returns the byte count or the error. */
static ssize_t read_by_slices(struct gen *g, uint64_t off, size_t len, uint8_t *out,
			      size_t *nslices)
{
	struct gen_slices sl;
	ssize_t n = gen_read_slices(g, off, len, &sl);
	if (n < 0)
		return n;
	size_t at = 0;
	for (size_t i = 0; i < sl.n; i++) {
		memcpy(out + at, sl.iov[i].iov_base, sl.iov[i].iov_len);
		at += sl.iov[i].iov_len;
	}
	*nslices = sl.n;
	gen_slices_release(&sl);
	return at == (size_t)n ? n : -EIO;
}

/* Slices are the bytes gen_read copies, anywhere; a read inside the functions of a unit
 * points at bytes the generation shares (the same address on every read) rather than
 * at a copy; and a read made of more pieces than there are slices still comes out
 * whole. The oracle is gen_read, which the chunked-read test holds to one whole read
 * that passes llvm-dwarfdump-16 --verify. */
static void test_slices(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Slices", NULL, false, 5);
	char *script = big_script(1500, 0x100001000);
	run_ok(r, script);
	free(script);
	struct gen *g = image_current(im);
	uint64_t size = gen_size(g);
	uint8_t *ref = whole(g), *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	size_t bad = 0, nsl;
	for (int i = 0; i < 3000; i++) {
		uint64_t off = i < 100 ? (uint64_t)i * (size / 100) : rnd() % size;
		size_t len = i % 3 == 0 ? 1 + rnd() % 16 : 1 + rnd() % 140000;
		size_t cap = len < size - off ? len : size - off;
		ssize_t n = read_by_slices(g, off, len, buf, &nsl);
		if (n != (ssize_t)cap || memcmp(buf, ref + off, cap) || nsl > GEN_SLICES_MAX) {
			if (bad++ < 5)
				fprintf(stderr, "gen: slices(0x%llx, %zu) gave %zd in %zu\n",
					(unsigned long long)off, len, n, nsl);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(read_by_slices(g, size, 10, buf, &nsl), 0);

	/* Inside a unit's functions a read is made of rendered chunks only: find a 4 KiB read
	 * whose every slice is at the same address on a second read (a copy into a read's
	 * own scratch would not be), with the chunks it points at held. */
	const void *first = NULL;
	int shared = 0;
	for (uint64_t off = size / 2; off + 4096 < size && !shared; off += 4096) {
		struct gen_slices a, b;
		CU_ASSERT_FATAL(gen_read_slices(g, off, 4096, &a) == 4096);
		CU_ASSERT_FATAL(gen_read_slices(g, off, 4096, &b) == 4096);
		bool same = a.n == b.n && a.nheld >= 1 && a.nheld == a.n;
		for (size_t i = 0; same && i < a.n; i++)
			same = a.iov[i].iov_base == b.iov[i].iov_base &&
			       a.iov[i].iov_len == b.iov[i].iov_len;
		if (same)
			first = a.iov[0].iov_base, shared = 1;
		gen_slices_release(&a);
		gen_slices_release(&b);
	}
	CU_ASSERT_TRUE(shared);
	CU_ASSERT_PTR_NOT_NULL(first);
	free(buf);
	free(ref);
	gen_unref(g);
	ctl_registry_free(r);

	/* 300 units of one function each: one read of everything needs far more than
	 * GEN_SLICES_MAX pieces. */
	struct enc_buf sb;
	enc_buf_init(&sb);
	enc_buf_printf(&sb, "section __TEXT __text addr=0x100001000 size=0x10000\n"
		       "type 1 kind=base name=int size=4 enc=signed\n");
	for (unsigned i = 1; i <= 300; i++)
		enc_buf_printf(&sb, "file %u path=u%u.c\nfn %u name=f%u low_pc=0x%llx size=0x20 "
			       "file=%u line=%u ret=1 rows=0:%u,4:%u:1:sp\n", i, i, i, i,
			       (unsigned long long)(0x100001000 + (i - 1) * 0x40ull), i, i, i, i + 1);
	enc_buf_printf(&sb, "commit\n");
	enc_buf_u8(&sb, 0);
	CU_ASSERT_FATAL(!enc_buf_error(&sb));
	size_t slen;
	char *many = (char *)enc_buf_take(&sb, &slen);
	r = new_registry();
	im = add_image(r, "Many", NULL, false, 6);
	run_ok(r, many);
	free(many);
	g = image_current(im);
	size = gen_size(g);
	ref = whole(g);
	buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_EQUAL(read_by_slices(g, 0, size, buf, &nsl), (ssize_t)size);
	CU_ASSERT(memcmp(buf, ref, size) == 0);
	CU_ASSERT_EQUAL(nsl, GEN_SLICES_MAX);
	free(buf);
	free(ref);
	gen_unref(g);
	ctl_registry_free(r);
}

/* A unit far larger than the chunks it is rendered in: 4,000 functions of one file. A
 * read renders only the chunks it touches, so reads that start and end anywhere, first
 * touches included, must still give the bytes of one whole read, and that whole read
 * must pass llvm-dwarfdump-16 --verify (a chunk rendered from the wrong place breaks
 * every DIE after it). */
static void test_large_unit(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Large", NULL, false, 7);
	struct enc_buf sb;
	enc_buf_init(&sb);
	enc_buf_printf(&sb, "section __TEXT __text addr=0x100001000 size=0x100000\n"
		       "file 1 path=/src/one_big_file.c\n"
		       "type 1 kind=base name=int size=4 enc=signed\n");
	for (unsigned i = 1; i <= 4000; i++)
		enc_buf_printf(&sb, "fn %u name=function_%u low_pc=0x%llx size=0x30 file=1 "
			       "line=%u ret=1 params=x:1,y:1 rows=0:%u,4:%u:3:sp,0x20:%u:1:se\n",
			       i, i, (unsigned long long)(0x100001000 + (i - 1) * 0x40ull), i * 5,
			       i * 5, i * 5 + 1, i * 5 + 2);
	enc_buf_printf(&sb, "commit\n");
	enc_buf_u8(&sb, 0);
	CU_ASSERT_FATAL(!enc_buf_error(&sb));
	size_t slen;
	char *script = (char *)enc_buf_take(&sb, &slen);
	run_ok(r, script);
	free(script);

	/* Random reads first, on a generation no read has touched yet. */
	struct gen *g = image_current(im);
	uint64_t size = gen_size(g);
	CU_ASSERT_FATAL(size > 4 * 65536);  /* .debug_info alone spans several chunks */
	uint8_t *parts = malloc(size), *buf = malloc(size);
	CU_ASSERT_FATAL(parts && buf);
	memset(parts, 0, size);
	uint8_t *got = calloc(size, 1);  /* which bytes a random read has filled */
	CU_ASSERT_FATAL(got != NULL);
	for (int i = 0; i < 400; i++) {
		uint64_t off = rnd() % size;
		size_t len = 1 + rnd() % 9000;
		size_t nsl;
		ssize_t n = i % 2 ? gen_read(g, off, buf, len) : read_by_slices(g, off, len, buf, &nsl);
		CU_ASSERT_FATAL(n > 0);
		memcpy(parts + off, buf, (size_t)n);
		memset(got + off, 1, (size_t)n);
	}
	uint8_t *ref = whole(g);
	size_t bad = 0;
	for (uint64_t i = 0; i < size; i++)
		bad += got[i] && parts[i] != ref[i];
	CU_ASSERT_EQUAL(bad, 0);
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "large_unit.dwarf");
	write_file(path, ref, size);
	verify_clean(path);
	free(got);
	free(parts);
	free(buf);
	free(ref);
	gen_unref(g);
	ctl_registry_free(r);
}

static void test_eof_and_size(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Eof", NULL, true, 2);
	char *script = big_script(40, 0x100004000);
	run_ok(r, script);
	free(script);
	struct gen *g = image_current(im);
	uint64_t size = gen_size(g);
	uint8_t *ref = whole(g);
	uint8_t *buf = malloc(size + 64);
	CU_ASSERT_FATAL(buf != NULL);

	/* The bytes a reader gets before the first 0 are exactly gen_size. */
	uint64_t total = 0;
	ssize_t n;
	while ((n = gen_read(g, total, buf, 3000)) > 0)
		total += (uint64_t)n;
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(total, size);

	memset(buf, 0xaa, size + 64);
	CU_ASSERT_EQUAL(gen_read(g, size, buf, 10), 0);
	CU_ASSERT_EQUAL(gen_read(g, size + 1, buf, 10), 0);
	CU_ASSERT_EQUAL(gen_read(g, size + 100000, buf, 10), 0);
	CU_ASSERT_EQUAL(gen_read(g, UINT64_MAX, buf, 10), 0);
	CU_ASSERT_EQUAL(gen_read(g, UINT64_MAX - 5, buf, SIZE_MAX), 0);
	CU_ASSERT_EQUAL(gen_read(g, 0, buf, 0), 0);
	CU_ASSERT_EQUAL(gen_read(g, size - 1, buf, 0), 0);
	CU_ASSERT_EQUAL(buf[0], 0xaa);   /* nothing written by any of them */
	CU_ASSERT_EQUAL(gen_read(g, size - 3, buf, 100), 3);
	CU_ASSERT(memcmp(buf, ref + size - 3, 3) == 0);
	CU_ASSERT_EQUAL(buf[3], 0xaa);
	CU_ASSERT_EQUAL(gen_read(g, size - 1, buf, 1), 1);
	CU_ASSERT_EQUAL(buf[0], ref[size - 1]);
	/* A length far past EOF clamps (the buffer holds only what is left). */
	CU_ASSERT_EQUAL(gen_read(g, 5, buf, SIZE_MAX), (ssize_t)(size - 5));
	CU_ASSERT(memcmp(buf, ref + 5, size - 5) == 0);

	/* The file ends where llvm-objdump-16 says its last segment's bytes end. */
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "eof.dwarf");
	write_file(path, ref, size);
	char *text = tool_out("llvm-objdump-16 --macho --private-headers '%s'", path);
	uint64_t end = 0;
	for (char *p = strstr(text, "  fileoff "); p; p = strstr(p + 1, "  fileoff ")) {
		uint64_t fo = strtoull(p + 10, NULL, 0);
		const char *q = strstr(p, " filesize ");
		CU_ASSERT_FATAL(q != NULL);
		uint64_t fs = strtoull(q + 10, NULL, 0);
		if (fo + fs > end)
			end = fo + fs;
	}
	CU_ASSERT_EQUAL(end, size);
	free(text);
	verify_clean(path);
	free(buf);
	free(ref);
	gen_unref(g);
	ctl_registry_free(r);
}

/* ---- generation 1 ---------------------------------------------------------------------- */

struct hdr {
	char cputype[32], filetype[32], uuid[40];
	unsigned nsegs;
	char last_seg[20];
};

static void read_hdr(const char *path, struct hdr *h)
{
	memset(h, 0, sizeof *h);
	char *text = tool_out("llvm-objdump-16 --macho --private-headers '%s'", path);
	const char *p = strstr(text, "MH_MAGIC_64");
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_FATAL(sscanf(p, "MH_MAGIC_64 %31s %*s %*s %31s", h->cputype, h->filetype) == 2);
	p = strstr(text, " uuid ");
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_FATAL(sscanf(p, " uuid %39s", h->uuid) == 1);
	for (p = strstr(text, "  segname "); p; p = strstr(p + 1, "  segname ")) {
		/* A section's segname line is indented by three spaces: skip those. */
		if (p > text && p[-1] == ' ')
			continue;
		h->nsegs++;
		CU_ASSERT_FATAL(sscanf(p, " segname %19s", h->last_seg) == 1);
	}
	free(text);
}

static void check_empty(struct image *im, const char *file, const char *cpu, const char *uuid)
{
	struct gen *g = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g), 1);
	CU_ASSERT_EQUAL(gen_ndecls(g), 0);
	char path[PATH_MAX];
	tmp_path(path, sizeof path, file);
	write_gen(g, path);
	gen_unref(g);
	verify_no_errors(path);
	struct hdr h;
	read_hdr(path, &h);
	CU_ASSERT_STRING_EQUAL(h.filetype, "DSYM");
	CU_ASSERT_STRING_EQUAL(h.cputype, cpu);
	CU_ASSERT_STRING_EQUAL(h.uuid, uuid);
	CU_ASSERT_STRING_EQUAL(h.last_seg, "__DWARF");
	CU_ASSERT(h.nsegs >= 3);
	/* No functions: no subprogram, no line rows, no aranges. */
	char *info = tool_out("llvm-dwarfdump-16 --debug-info --debug-line --debug-aranges '%s'",
			      path);
	CU_ASSERT_PTR_NULL(strstr(info, "DW_TAG_subprogram"));
	CU_ASSERT_PTR_NULL(strstr(info, "end_sequence"));
	CU_ASSERT_PTR_NULL(strstr(info, "Address Range Header"));
	free(info);
}

static void test_empty_image(void)
{
	struct ctl_registry *r = new_registry();
	check_empty(add_image(r, "E1", NULL, false, 0x10), "empty_x86.dwarf", "X86_64",
		    "10213243-5465-7687-98A9-BACBDCEDFE0F");
	check_empty(add_image(r, "E2", NULL, true, 0x20), "empty_arm.dwarf", "ARM64",
		    "20314253-6475-8697-A8B9-CADBECFD0E1F");

	char exe[PATH_MAX], path[PATH_MAX];
	build_exe("plain", SRC_MAIN, SRC_LIB, exe, sizeof exe);
	struct hdr x;
	read_hdr(exe, &x);
	check_empty(add_image(r, "E3", exe, false, 0), "empty_exe.dwarf", "X86_64", x.uuid);
	tmp_path(path, sizeof path, "empty_exe.dwarf");
	struct hdr h;
	read_hdr(path, &h);
	CU_ASSERT_EQUAL(h.nsegs, x.nsegs + 1);

	/* An empty commit publishes nothing: generation 1 stays. */
	run_ok(r, "image E1\ncommit\n");
	struct gen *g = image_current(ctl_registry_find(r, "E1"));
	CU_ASSERT_EQUAL(gen_number(g), 1);
	gen_unref(g);
	ctl_registry_free(r);
}

/* Minimal case: an image with no types. Its types unit DIE uses an abbreviation with
 * DW_CHILDREN_yes but has no children, which llvm-dwarfdump-16 --verify reports as a
 * warning ("DW_TAG_compile_unit has DW_CHILDREN_yes but DIE has no children"). Every
 * generation 1 has no types, and so has any image whose functions use none. */
static void test_no_types_no_warning(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "NoTypes", NULL, false, 6);
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "notypes1.dwarf");
	struct gen *g = image_current(im);
	write_gen(g, path);
	gen_unref(g);
	verify_clean(path);

	/* With a function that uses no type. */
	run_ok(r, "section __TEXT __text addr=0x100001000 size=0x100\n"
		  "file 1 path=/src/a.c\n"
		  "fn 1 name=f low_pc=0x100001000 size=0x10 file=1 line=1 rows=0:1\ncommit\n");
	tmp_path(path, sizeof path, "notypes2.dwarf");
	g = image_current(im);
	write_gen(g, path);
	gen_unref(g);
	verify_clean(path);
	ctl_registry_free(r);
}

/* ---- a held generation keeps its bytes --------------------------------------------------- */

static const char *const EDITS[10] = {
	"section __TEXT __text addr=0x100001000 size=0x20000\n"
	"move-range from=0x100001000 to=0x100001400 by=0x10000\ncommit\n",
	"line-range file=1 from=1 to=200 by=7\ncommit\n",
	"type 5 kind=typedef name=text to=4\ncommit\n",
	"file 2 path=b2.c dir=/elsewhere\ncommit\n",
	"del 3\ndel 4\ndel 40\ncommit\n",
	"fn 100 name=late low_pc=0x100002000 size=0x20 file=4 line=9 ret=7 rows=0:9,4:10:2:sp\n"
	"commit\n",
	"sym _late value=0x100002000 sect=1 ext\ncommit\n",
	"section __TEXT __text addr=0x100001000 size=0x30000\ncommit\n",
	"type 8 kind=base name=long size=8 enc=signed\n"
	"fn 100 name=late low_pc=0x100002000 size=0x30 file=4 line=9 ret=8 params=x:8 "
	"rows=0:9,4:10:2:sp,0x2f:11\ncommit\n",
	"move 100 low_pc=0x100003000\nline 10 delta=-2\ncommit\n",
};

static void test_held_generation(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Held", NULL, false, 3);
	char *script = big_script(60, 0x100001000);
	run_ok(r, script);
	free(script);

	struct gen *held[11];
	uint8_t *snap[11];
	uint64_t size[11];
	for (int i = 0; i <= 10; i++) {
		if (i)
			run_ok(r, EDITS[i - 1]);
		held[i] = image_current(im);
		/* One generation per commit that changes something. */
		CU_ASSERT_EQUAL(gen_number(held[i]), 2 + (uint64_t)i);
		size[i] = gen_size(held[i]);
		snap[i] = whole(held[i]);
		gen_reader_open(held[i]);
	}
	/* The default keeps 8 generations reachable from the image; the first three of
	 * these are no longer retained, yet their holders still read them. */
	struct gen *gone = image_generation(im, 2);
	CU_ASSERT_PTR_NULL(gone);
	gen_unref(gone);

	for (int i = 0; i <= 10; i++) {
		CU_ASSERT_EQUAL(gen_number(held[i]), 2 + (uint64_t)i);
		CU_ASSERT_EQUAL(gen_size(held[i]), size[i]);
		CU_ASSERT_EQUAL(gen_readers(held[i]), 1);
		uint8_t *again = malloc(size[i]);
		CU_ASSERT_FATAL(again != NULL);
		uint64_t off = 0;
		ssize_t n;
		while ((n = gen_read(held[i], off, again + off, 777)) > 0)
			off += (uint64_t)n;
		CU_ASSERT_EQUAL(off, size[i]);
		if (memcmp(again, snap[i], size[i]))
			fprintf(stderr, "gen: generation %d changed after newer ones\n", 2 + i);
		CU_ASSERT(memcmp(again, snap[i], size[i]) == 0);
		free(again);
		/* Each edit changed the file. */
		if (i)
			CU_ASSERT(size[i] != size[i - 1] || memcmp(snap[i], snap[i - 1], size[i]));
	}
	/* The newest, read after every older generation was read again (each with its own
	 * file and type tables), equals what a fresh image makes of the same commands:
	 * bytes a unit renders once and shares are never those of other tables. */
	struct ctl_registry *fresh = new_registry();
	struct image *fim = add_image(fresh, "Held", NULL, false, 3);
	script = big_script(60, 0x100001000);
	run_ok(fresh, script);
	free(script);
	for (int i = 0; i < 10; i++)
		run_ok(fresh, EDITS[i]);
	struct gen *fg = image_current(fim);
	uint8_t *fbytes = whole(fg);
	CU_ASSERT_EQUAL(gen_size(fg), size[10]);
	CU_ASSERT(gen_size(fg) == size[10] && memcmp(fbytes, snap[10], size[10]) == 0);
	free(fbytes);
	gen_unref(fg);
	ctl_registry_free(fresh);

	/* The oldest one, read after all that, is still a valid dSYM. */
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "held.dwarf");
	write_gen(held[0], path);
	verify_clean(path);
	tmp_path(path, sizeof path, "held_last.dwarf");
	write_gen(held[10], path);
	verify_clean(path);

	ctl_registry_free(r);   /* generations held here outlive the image */
	for (int i = 0; i <= 10; i++) {
		uint8_t b[64];
		CU_ASSERT_EQUAL(gen_read(held[i], 0, b, sizeof b), 64);
		CU_ASSERT(memcmp(b, snap[i], 64) == 0);
		gen_reader_close(held[i]);
		CU_ASSERT_EQUAL(gen_readers(held[i]), 0);
		gen_unref(held[i]);
		free(snap[i]);
	}
}

/* ---- the symbol table ---------------------------------------------------------------------- */

struct strv {
	char **v;
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* llvm-nm-16's view of every defined symbol, one "VALUE (WHERE) external|non-external
 * NAME" string each, sorted. The n_desc flag [referenced dynamically] is not part of the
 * comparison (the core keeps no n_desc). */
static void nm_syms(const char *path, struct strv *out)
{
	char *text = tool_out("llvm-nm-16 -p -m --defined-only '%s' 2>/dev/null", path);
	out->n = 0;
	out->v = NULL;
	size_t cap = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char value[32], where[64], name[256];
		if (sscanf(l, "%31s (%63[^)])", value, where) != 2)
			continue;
		const char *nm = strrchr(l, ' ');
		CU_ASSERT_FATAL(nm != NULL);
		snprintf(name, sizeof name, "%s", nm + 1);
		bool ext = strstr(l, " external ") && !strstr(l, "non-external");
		if (out->n == cap) {
			cap = cap ? cap * 2 : 32;
			char **v = realloc(out->v, cap * sizeof *v);
			CU_ASSERT_FATAL(v != NULL);
			out->v = v;
		}
		char *s = NULL;
		CU_ASSERT_FATAL(asprintf(&s, "%s (%s) %s %s", value, where,
					 ext ? "external" : "non-external", name) > 0);
		out->v[out->n++] = s;
	}
	free(text);
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, cmp_str);
}

static void strv_add(struct strv *s, const char *str)
{
	char **v = realloc(s->v, (s->n + 1) * sizeof *v);
	CU_ASSERT_FATAL(v != NULL);
	s->v = v;
	s->v[s->n] = strdup(str);
	CU_ASSERT_FATAL(s->v[s->n] != NULL);
	s->n++;
	qsort(s->v, s->n, sizeof *s->v, cmp_str);
}

/* Drops the entry whose name (last word) is name; returns its string (caller frees). */
static char *strv_take(struct strv *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *nm = strrchr(s->v[i], ' ') + 1;
		if (!strcmp(nm, name)) {
			char *x = s->v[i];
			memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
			s->n--;
			return x;
		}
	}
	CU_FAIL("symbol not found in the executable's table");
	return NULL;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static bool same_syms(const struct strv *got, const struct strv *want)
{
	bool same = got->n == want->n;
	for (size_t i = 0; same && i < got->n; i++)
		same = !strcmp(got->v[i], want->v[i]);
	if (!same) {
		fprintf(stderr, "gen: symbol tables differ\n--- rendered (%zu):\n", got->n);
		for (size_t i = 0; i < got->n; i++)
			fprintf(stderr, "  %s\n", got->v[i]);
		fprintf(stderr, "--- expected (%zu):\n", want->n);
		for (size_t i = 0; i < want->n; i++)
			fprintf(stderr, "  %s\n", want->v[i]);
	}
	return same;
}

static void test_symtab(void)
{
	char exe[PATH_MAX], path[PATH_MAX];
	build_exe("plain", SRC_MAIN, SRC_LIB, exe, sizeof exe);
	struct strv want, got;
	nm_syms(exe, &want);
	CU_ASSERT_FATAL(want.n >= 5);   /* __mh_execute_header, __start, _helper, ... */

	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Sym", exe, false, 0);
	tmp_path(path, sizeof path, "sym1.dwarf");
	struct gen *g = image_current(im);
	write_gen(g, path);
	gen_unref(g);
	nm_syms(path, &got);
	CU_ASSERT(same_syms(&got, &want));   /* generation 1: the executable's own */
	strv_free(&got);

	/* Additions (in a section, absolute), a replacement of an executable symbol, and
	 * removals of one executable symbol and of an addition of the same batch. */
	run_ok(r, "sym _added value=0x100000400 sect=1 ext\n"
		  "sym _abs_one value=0x1234\n"
		  "sym _gone_again value=0x100000401 sect=1\n"
		  "sym _helper value=0x100000410 sect=1\n"
		  "unsym _other\n"
		  "unsym _gone_again\n"
		  "commit\n");
	strv_add(&want, "0000000100000400 (__TEXT,__text) external _added");
	strv_add(&want, "0000000000001234 (absolute) non-external _abs_one");
	free(strv_take(&want, "_other"));
	free(strv_take(&want, "_helper"));
	strv_add(&want, "0000000100000410 (__TEXT,__text) non-external _helper");
	g = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g), 2);
	tmp_path(path, sizeof path, "sym2.dwarf");
	write_gen(g, path);
	gen_unref(g);
	verify_no_errors(path);
	nm_syms(path, &got);
	CU_ASSERT(same_syms(&got, &want));
	strv_free(&got);

	/* Removing every symbol leaves a valid, empty table. */
	struct enc_buf b;
	enc_buf_init(&b);
	for (size_t i = 0; i < want.n; i++)
		enc_buf_printf(&b, "unsym %s\n", strrchr(want.v[i], ' ') + 1);
	enc_buf_printf(&b, "commit\n");
	enc_buf_u8(&b, 0);
	CU_ASSERT_FATAL(!enc_buf_error(&b));
	size_t len;
	char *script = (char *)enc_buf_take(&b, &len);
	run_ok(r, script);
	free(script);
	g = image_current(im);
	tmp_path(path, sizeof path, "sym3.dwarf");
	write_gen(g, path);
	gen_unref(g);
	verify_no_errors(path);
	nm_syms(path, &got);
	CU_ASSERT_EQUAL(got.n, 0);
	strv_free(&got);
	strv_free(&want);
	ctl_registry_free(r);
}

/* Minimal case: an executable whose two units each define a static `twice` has two
 * local symbols named _twice (llvm-nm-16 lists both); the dSYM must list both too, as
 * dsymutil-16's does. */
static void test_symtab_same_name_locals(void)
{
	char exe[PATH_MAX], path[PATH_MAX];
	build_exe("dups", SRC_DUP_A, SRC_DUP_B, exe, sizeof exe);
	struct strv want, got;
	nm_syms(exe, &want);
	size_t twice = 0;
	for (size_t i = 0; i < want.n; i++)
		twice += strstr(want.v[i], " _twice") != NULL;
	CU_ASSERT_EQUAL_FATAL(twice, 2);

	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Dups", exe, false, 0);
	tmp_path(path, sizeof path, "dups.dwarf");
	struct gen *g = image_current(im);
	write_gen(g, path);
	gen_unref(g);
	nm_syms(path, &got);
	CU_ASSERT(same_syms(&got, &want));
	strv_free(&got);
	strv_free(&want);
	ctl_registry_free(r);
}

/* ---- text views ------------------------------------------------------------------------- */

/* Everything the text views must carry: quoted paths and names, empty dir, each type
 * kind, cu=, params, rows with every flag set, empty flags, line 0 and other files. */
static const char RICH[] =
	"section __TEXT __text addr=0x100001000 size=0x10000\n"
	"file 1 path=main.c dir=/src\n"
	"file 2 path=\"/src/my dir/h \\\"q\\\".h\"\n"
	"file 3 path=x.c\n"
	"file 7 path=\"tab\\there=.c\" dir=\"/a b\"\n"
	"type 1 kind=base name=int size=4 enc=signed\n"
	"type 2 kind=base name=\"unsigned char\" size=1 enc=unsigned_char\n"
	"type 3 kind=base name=_Bool size=1 enc=bool\n"
	"type 4 kind=base name=float size=4 enc=float\n"
	"type 5 kind=base name=char size=1 enc=signed_char\n"
	"type 6 kind=base name=unsigned size=4 enc=unsigned\n"
	"type 9 kind=pointer to=0\n"
	"type 10 kind=const to=5\n"
	"type 11 kind=pointer to=10 name=named_ptr\n"
	"type 12 kind=typedef name=\"my t\" to=11\n"
	"type 13 kind=const to=0\n"
	"fn 1 name=main low_pc=0x100001000 size=0x40 file=1 line=3 ret=1 "
	"params=argc:1,argv:11 rows=0:3,4:4:5:sp,8:0:0:,0xc:5:1:e,0x10:6:2:pe:2,0x14:7:3:spe:7,"
	"0x3f:2000000000:4294967295:s\n"
	"fn 2 name=\"operator new\" low_pc=0x100001040 size=0x10 file=2 line=1 cu=1 ret=9 "
	"params=\"a b:12\"\n"
	"fn 30 name=\"q\\\"uote=\" low_pc=0x100001050 size=0x8 file=3 line=0\n"
	"fn 18446744073709551615 name=maxid low_pc=0x100001060 size=0x8 file=7 line=9 ret=13 "
	"rows=0:9:0:\n";

static char *text_of(struct gen *g, enum gen_text which)
{
	const char *t = NULL;
	size_t len = 0;
	CU_ASSERT_FATAL(gen_text(g, which, &t, &len) == 0);
	CU_ASSERT_FATAL(t != NULL || len == 0);
	/* The contract gives a length, not a terminator: use only len bytes. */
	CU_ASSERT(len == 0 || memchr(t, 0, len) == NULL);
	const char *again = NULL;
	size_t len2 = 0;
	CU_ASSERT(gen_text(g, which, &again, &len2) == 0 && again == t && len2 == len);
	char *copy = malloc(len + 1);
	CU_ASSERT_FATAL(copy != NULL);
	if (len)
		memcpy(copy, t, len);
	copy[len] = 0;
	return copy;
}

static size_t count_lines(const char *s, const char *word)
{
	size_t n = 0;
	for (const char *p = s; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		n += !strncmp(p, word, strlen(word));
	return n;
}

static void test_text_round_trip(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "Txt", NULL, false, 4);
	run_ok(r, RICH);
	/* A second generation: the views show the current state, not the first batch. */
	run_ok(r, "line 1 delta=5\nmove 30 low_pc=0x100001058\n"
		  "type 4 kind=base name=double size=8 enc=float\ncommit\n");
	struct gen *g = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g), 3);
	char *files = text_of(g, GEN_TEXT_FILES);
	char *types = text_of(g, GEN_TEXT_TYPES);
	char *decls = text_of(g, GEN_TEXT_DECLS);
	CU_ASSERT_EQUAL(count_lines(files, "file "), 4);
	CU_ASSERT_EQUAL(count_lines(types, "type "), 11);
	CU_ASSERT_EQUAL(count_lines(decls, "fn "), 4);
	CU_ASSERT_EQUAL(gen_ndecls(g), 4);
	CU_ASSERT_PTR_NOT_NULL(strstr(decls, "0x100001058"));
	CU_ASSERT_PTR_NOT_NULL(strstr(decls, "2000000005"));
	CU_ASSERT_PTR_NOT_NULL(strstr(types, "type 4 kind=base name=double "));
	CU_ASSERT_PTR_NULL(strstr(types, "name=float"));

	/* In id order: the largest id last. */
	const char *last = strstr(decls, "fn 18446744073709551615 ");
	CU_ASSERT_PTR_NOT_NULL(last);
	CU_ASSERT(last && !strchr(last, '\n')[1]);

	/* Written back on the same image: nothing changes, no new generation. */
	size_t total = strlen(files) + strlen(types) + strlen(decls) + 64;
	char *back = malloc(total);
	CU_ASSERT_FATAL(back != NULL);
	snprintf(back, total, "%s%s%scommit\n", files, types, decls);
	run_ok(r, back);
	struct gen *g2 = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g2), 3);
	gen_unref(g2);

	/* In any order of the three views (types before files, decls first). */
	snprintf(back, total, "%s%s%scommit\n", decls, types, files);
	run_ok(r, back);
	g2 = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g2), 3);
	gen_unref(g2);

	/* Written to a fresh image with the same identity and section: the same bytes. */
	struct image *im2 = add_image(r, "Txt2", NULL, false, 4);
	char *fresh = malloc(total + 128);
	CU_ASSERT_FATAL(fresh != NULL);
	snprintf(fresh, total + 128, "image Txt2\nsection __TEXT __text addr=0x100001000 "
		 "size=0x10000\n%s%s%scommit\n", files, types, decls);
	run_ok(r, fresh);
	g2 = image_current(im2);
	CU_ASSERT_EQUAL(gen_size(g2), gen_size(g));
	if (gen_size(g2) == gen_size(g)) {
		uint8_t *a = whole(g), *b2 = whole(g2);
		CU_ASSERT(memcmp(a, b2, gen_size(g)) == 0);
		free(a);
		free(b2);
	}
	char *decls2 = text_of(g2, GEN_TEXT_DECLS);
	CU_ASSERT_STRING_EQUAL(decls2, decls);
	free(decls2);
	gen_unref(g2);

	char path[PATH_MAX];
	tmp_path(path, sizeof path, "text.dwarf");
	write_gen(g, path);
	verify_clean(path);

	free(fresh);
	free(back);
	free(files);
	free(types);
	free(decls);
	gen_unref(g);
	ctl_registry_free(r);
}

/* Generation 1's views are empty; they are valid input (a no-op). */
static void test_text_empty(void)
{
	struct ctl_registry *r = new_registry();
	struct image *im = add_image(r, "T0", NULL, false, 5);
	struct gen *g = image_current(im);
	for (int w = GEN_TEXT_DECLS; w <= GEN_TEXT_TYPES; w++) {
		char *t = text_of(g, (enum gen_text)w);
		CU_ASSERT_STRING_EQUAL(t, "");
		free(t);
	}
	gen_unref(g);
	ctl_registry_free(r);
}

static const struct unit_test gen_tests[] = {
	{"chunked_reads", test_chunked_reads},
	{"eof_and_size", test_eof_and_size},
	{"empty_image", test_empty_image},
	{"no_types_no_warning", test_no_types_no_warning},
	{"held_generation", test_held_generation},
	{"slices", test_slices},
	{"large_unit", test_large_unit},
	{"symtab", test_symtab},
	{"symtab_same_name_locals", test_symtab_same_name_locals},
	{"text_round_trip", test_text_round_trip},
	{"text_empty", test_text_empty},
	{NULL, NULL},
};

UNIT_SUITE(gen, gen_tests)
