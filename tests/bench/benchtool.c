/* benchtool: the benchmark's measuring hands. Each subcommand does one timed thing against
 * a path and prints its figures as `key=value` lines (times in microseconds, rates in
 * MB/s = 10^6 bytes/s) for tests/bench/bench.py to collect.
 *
 *   gen N [GENOPTS]                      the ingest script of N functions, on stdout
 *   format N [GENOPTS] [--chunk B]       the ingest script of N functions formatted and
 *                                        written to /dev/null in B-byte write()s: the
 *                                        producer's own cost; prints secs, fn_per_s, bytes
 *   ingest CONTROL N [GENOPTS] [--chunk B]
 *                                        N functions formatted and sent in B-byte write()s
 *                                        (default 1 MiB), then `commit` in a write of its
 *                                        own; prints secs, fn_per_s, and
 *                                        parse_secs/commit_secs (the time before the commit
 *                                        write, formatting included, and of that write)
 *   commits CONTROL DWARF N K [GENOPTS] [--seed S] [--null PATH] [--noop]
 *                                        K single-function commits (an edited `fn` line and
 *                                        `commit` in one write() on one open handle), each
 *                                        timed until the write returns; after each, stat()
 *                                        and open() of DWARF must show a new inode
 *                                        (stat_miss, open_miss count those that did not);
 *                                        with --null, a 100-byte write() to PATH right
 *                                        before each commit, timed too (write_us_*): the
 *                                        reference measured at the same moments, and
 *                                        ratio_* over the K (commit / that write) pairs; with
 *                                        --noop, each function is sent exactly as `gen`
 *                                        wrote it (a commit that changes nothing: no new
 *                                        generation, no stat/open check)
 *   hold CONTROL DWARF N K [GENOPTS] [--seed S]
 *                                        K single-function commits, each made while an
 *                                        open() of the generation it replaces is kept;
 *                                        prints held=K, then keeps them all open until
 *                                        standard input reaches end of file
 *   pwrite FILE K [--seed S]             K in-place updates of one function's DWARF in a
 *                                        plain file: 3 pwrite()s of 48+36+16 bytes at random
 *                                        offsets in the file's first, middle and last third
 *                                        (a DIE, a line program and an aranges tuple, as
 *                                        the original approach patched them)
 *   seqread PATH [--bs B]                read() the whole file in B-byte calls (1 MiB)
 *   randread PATH K [--seed S]           K pread()s of 4 KiB at random 4 KiB-aligned offsets
 *
 * GENOPTS: --base A (first low_pc, default 0x100000000), --prelude TEXT (lines sent as
 * given before the files, types and functions; default: a __TEXT,__text section covering
 * them), --first ID (first function id, default 1), --per-file N (functions per source
 * file and compile unit, default 1,000), --hand (format the protocol text with
 * printf instead of the client library, client/dsymfs.h: both give the same bytes, so
 * `format`, `ingest` and `commits` with and without --hand show what the library costs),
 * --rich (each function also gets a frame base, located parameters, four locals, one with
 * a location list, and two nested blocks, with a 20-member struct type per 100 functions;
 * formatted with printf, as --hand).
 * With the library, a chunk is the library's write size: its writes end at a line.
 *
 * Latencies are reported as p50, p99, min, max and mean over the K samples.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dsymfs.h"

#define FN_SPAN  0x40u   /* bytes of address space per function */
#define PER_FILE 1000u   /* functions per source file (compile unit), unless --per-file */
#define RICH_GROUP 100u  /* --rich: functions per struct type */
#define RICH_TYPE0 16u   /* --rich: the first struct type's id */

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "benchtool: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

/* A growable text buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 1 << 16;
	while (cap < b->len + more)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p)
		die("%s", "out of memory");
	b->cap = cap;
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("%s", "vsnprintf failed");
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		buf_reserve(b, (size_t)n + 1);
	}
}

struct genopts {
	uint64_t per_file;  /* functions per source file (compile unit) */
	uint64_t base;
	uint64_t first;
	const char *prelude;
	uint64_t chunk;
	uint64_t seed;
	uint64_t bs;
	const char *null;
	bool noop;
	bool hand;
	bool rich;
};

/* Function i's line as the compiler would send it; `edit` shifts its source lines. */
static void put_fn(struct buf *b, const struct genopts *o, uint64_t i, unsigned edit)
{
	uint64_t k = i - 1;
	unsigned file = (unsigned)(k / o->per_file) + 1;
	unsigned l = (unsigned)(k % o->per_file) * 10 + 1 + edit;
	buf_printf(b,
		   "fn %" PRIu64 " name=bench_fn_%" PRIu64 " low_pc=0x%" PRIx64 " size=0x%x file=%u"
		   " line=%u ret=1 ", i, i, o->base + k * FN_SPAN, FN_SPAN, file, l);
	if (o->rich)
		/* The rich shape: a frame base, located parameters, four locals (one with a
		 * location list) and two nested blocks, as a C compiler at -O0 describes a small
		 * function. */
		buf_printf(b,
			   "linkage=_bench_fn_%" PRIu64 " frame_base=r6 params=a:1:fb-20:%u,"
			   "p:3:fb-32:%u vars=i:1:fb-4:%u,j:1:fb-8:%u:1,k:1:fb-12:%u:2,s:%" PRIu64
			   ":0..0x10@r5;0x10..0x30@fb-120:%u:2 blocks=0x8..0x30,0x10..0x28:1 ",
			   i, l, l, l + 1, l + 2, l + 3, RICH_TYPE0 + k / RICH_GROUP, l + 4);
	else
		buf_printf(b, "params=a:1,p:3 ");
	buf_printf(b, "rows=0:%u,4:%u:5:sp,0xc:%u:9,0x14:%u:3,0x1c:%u:7,0x24:%u:2,0x2c:%u:5,"
		      "0x38:%u:1:se\n", l, l + 1, l + 2, l + 3, l + 4, l + 5, l + 6, l + 7);
}

/* The rich workload's struct types: one of 20 int members per RICH_GROUP functions. */
static void put_rich_types(struct buf *b, const struct genopts *o, uint64_t first, uint64_t last)
{
	for (uint64_t g = (first - 1) / RICH_GROUP; g <= (last - 1) / RICH_GROUP; g++) {
		buf_printf(b, "type %" PRIu64 " kind=struct name=bench_s_%" PRIu64 " size=0x50 file=%"
			   PRIu64 " line=1 members=", RICH_TYPE0 + g, g, g * RICH_GROUP / o->per_file + 1);
		for (unsigned m = 0; m < 20; m++)
			buf_printf(b, "%sm%u:1:0x%x", m ? "," : "", m, m * 4);
		buf_printf(b, "\n");
	}
}

/* Function i as the library describes it: the same record as put_fn's line. */
struct fn_desc {
	struct dsymfs_fn fn;
	struct dsymfs_param params[2];
	struct dsymfs_row rows[8];
	char name[32];
};

static void describe_fn(struct fn_desc *d, const struct genopts *o, uint64_t i, unsigned edit)
{
	static const struct {
		uint32_t off, col, flags;
	} shape[8] = {
		{ 0x0, 0, DSYMFS_ROW_STMT }, { 0x4, 5, DSYMFS_ROW_STMT | DSYMFS_ROW_PROLOGUE },
		{ 0xc, 9, DSYMFS_ROW_STMT }, { 0x14, 3, DSYMFS_ROW_STMT },
		{ 0x1c, 7, DSYMFS_ROW_STMT }, { 0x24, 2, DSYMFS_ROW_STMT },
		{ 0x2c, 5, DSYMFS_ROW_STMT }, { 0x38, 1, DSYMFS_ROW_STMT | DSYMFS_ROW_EPILOGUE },
	};
	uint64_t k = i - 1;
	unsigned l = (unsigned)(k % o->per_file) * 10 + 1 + edit;
	/* A compiler has its names at hand; making this one must not cost a printf. */
	char digits[24];
	size_t n = 0;
	for (uint64_t v = i; v; v /= 10)
		digits[n++] = (char)('0' + v % 10);
	memcpy(d->name, "bench_fn_", 9);
	for (size_t j = 0; j < n; j++)
		d->name[9 + j] = digits[n - 1 - j];
	d->name[9 + n] = 0;
	d->params[0] = (struct dsymfs_param){ "a", 1 };
	d->params[1] = (struct dsymfs_param){ "p", 3 };
	for (unsigned r = 0; r < 8; r++)
		d->rows[r] = (struct dsymfs_row){ .off = shape[r].off, .line = l + r,
						  .col = shape[r].col, .flags = shape[r].flags };
	d->fn = (struct dsymfs_fn){
		.id = i, .name = d->name, .low_pc = o->base + k * FN_SPAN, .size = FN_SPAN,
		.file = (k / o->per_file) + 1, .line = l, .ret = 1,
		.params = d->params, .nparams = 2, .rows = d->rows, .nrows = 8,
	};
}

static bool lib_fn(struct dsymfs *c, const struct genopts *o, uint64_t i, unsigned edit)
{
	struct fn_desc d;
	describe_fn(&d, o, i, edit);
	return dsymfs_fn(c, &d.fn) == 0;
}

/* The line shift of the j-th edit of a run: unique per (seed, j < 1000), so an edit never
 * sends a function exactly as it already is (which would publish nothing). */
static unsigned edit_of(const struct genopts *o, uint64_t j)
{
	return 1 + (unsigned)(o->seed % 100000) * 1000 + (unsigned)(j % 1000);
}

/* The whole script for functions first..first+n-1, without `commit`. */
static void gen_script(struct buf *b, const struct genopts *o, uint64_t n)
{
	uint64_t last = o->first + n - 1;
	if (o->prelude)
		buf_printf(b, "%s\n", o->prelude);
	else
		buf_printf(b, "section __TEXT __text addr=0x%" PRIx64 " size=0x%" PRIx64 "\n",
			   o->base, (last + 1) * (uint64_t)FN_SPAN);
	for (uint64_t f = (o->first - 1) / o->per_file + 1; f <= (last - 1) / o->per_file + 1; f++)
		buf_printf(b, "file %" PRIu64 " path=/bench/src/unit_%" PRIu64 ".c dir=/bench\n", f,
			   f);
	buf_printf(b, "type 1 kind=base name=int size=0x4 enc=signed\n"
		      "type 2 kind=base name=char size=0x1 enc=signed_char\n"
		      "type 3 kind=pointer to=2\n");
	if (o->rich)
		put_rich_types(b, o, o->first, last);
	for (uint64_t i = o->first; i <= last; i++)
		put_fn(b, o, i, 0);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* gen_script through the library, on a client whose fd received nothing yet. The
 * prelude is raw text: it goes straight to the fd, before the client's first write. */
static bool lib_script(struct dsymfs *c, int fd, const struct genopts *o, uint64_t n)
{
	uint64_t last = o->first + n - 1;
	if (o->prelude) {
		if (!write_all(fd, o->prelude, strlen(o->prelude)) || !write_all(fd, "\n", 1))
			return false;
	} else if (dsymfs_section(c, "__TEXT", "__text", o->base, (last + 1) * (uint64_t)FN_SPAN,
				  -1)) {
		return false;
	}
	for (uint64_t f = (o->first - 1) / o->per_file + 1; f <= (last - 1) / o->per_file + 1; f++) {
		char path[64];
		snprintf(path, sizeof path, "/bench/src/unit_%" PRIu64 ".c", f);
		struct dsymfs_file file = { .id = f, .path = path, .dir = "/bench" };
		if (dsymfs_file(c, &file))
			return false;
	}
	struct dsymfs_type types[] = {
		{ .id = 1, .kind = DSYMFS_TYPE_BASE, .name = "int", .size = 4,
		  .enc = DSYMFS_ENC_SIGNED },
		{ .id = 2, .kind = DSYMFS_TYPE_BASE, .name = "char", .size = 1,
		  .enc = DSYMFS_ENC_SIGNED_CHAR },
		{ .id = 3, .kind = DSYMFS_TYPE_POINTER, .to = 2 },
	};
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
		if (dsymfs_type(c, &types[t]))
			return false;
	for (uint64_t i = o->first; i <= last; i++)
		if (!lib_fn(c, o, i, 0))
			return false;
	return true;
}

/* A library client over fd, writing chunk-byte writes; dies on failure. */
static struct dsymfs *client_or_die(int fd, unsigned flags, const struct genopts *o)
{
	struct dsymfs *c;
	if (dsymfs_open_fd(fd, flags, &c)) {
		fprintf(stderr, "benchtool: %s\n", dsymfs_last_error(c));
		exit(1);
	}
	dsymfs_set_write_size(c, o->chunk);
	return c;
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags);
	if (fd < 0) {
		fprintf(stderr, "benchtool: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Prints the control handle's result line as result="..." and returns whether it is ok. */
static bool print_result(int fd)
{
	char res[4096];
	ssize_t n = pread(fd, res, sizeof res - 1, 0);
	if (n < 0)
		n = 0;
	res[n] = 0;
	if (n && res[n - 1] == '\n')
		res[n - 1] = 0;
	printf("result=\"%s\"\n", res);
	return !strncmp(res, "ok ", 3);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* p50, p99, min, max, mean of v (sorted in place), with a key prefix. */
static void print_lat(const char *key, double *v, size_t n)
{
	if (!n)
		return;
	qsort(v, n, sizeof *v, cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	printf("%s_p50=%.2f\n%s_p99=%.2f\n%s_min=%.2f\n%s_max=%.2f\n%s_mean=%.2f\n%s_n=%zu\n", key,
	       v[n / 2], key, v[(n * 99) / 100], key, v[0], key, v[n - 1], key, sum / (double)n,
	       key, n);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int cmd_gen(uint64_t n, const struct genopts *o)
{
	if (!o->hand) {
		struct dsymfs *c = client_or_die(1, DSYMFS_SCRIPT, o);
		bool ok = lib_script(c, 1, o, n) && dsymfs_commit(c, NULL, NULL) == 0;
		if (!ok)
			fprintf(stderr, "benchtool: gen: %s\n", dsymfs_last_error(c));
		return dsymfs_close(c) || !ok;
	}
	struct buf b = {0};
	gen_script(&b, o, n);
	buf_printf(&b, "commit\n");
	fwrite(b.p, 1, b.len, stdout);
	free(b.p);
	return 0;
}

/* The script into fd, formatted by hand or by the library, in chunk-byte writes (the
 * library's end at a line); returns the bytes written, or 0 after a failure (reported). */
static size_t send_script(int fd, const struct genopts *o, uint64_t n)
{
	if (!o->hand) {
		struct dsymfs *c = client_or_die(fd, DSYMFS_SCRIPT, o);
		bool ok = lib_script(c, fd, o, n) && dsymfs_flush(c) == 0;
		if (!ok)
			fprintf(stderr, "benchtool: %s\n", dsymfs_last_error(c));
		dsymfs_close(c);
		off_t end = lseek(fd, 0, SEEK_CUR);
		return ok && end > 0 ? (size_t)end : 0;
	}
	struct buf b = {0};
	gen_script(&b, o, n);
	size_t len = b.len;
	for (size_t off = 0; off < b.len;) {
		size_t w = b.len - off < o->chunk ? b.len - off : o->chunk;
		if (!write_all(fd, b.p + off, w)) {
			fprintf(stderr, "benchtool: write at byte %zu: %s\n", off,
				strerror(errno));
			len = 0;
			break;
		}
		off += w;
	}
	free(b.p);
	return len;
}

static int cmd_format(uint64_t n, const struct genopts *o)
{
	/* A file, not /dev/null, so the offset counts the library's bytes; its page
	 * cache stands in for the pipe or mount a real producer writes to. */
	char path[] = "/tmp/benchtool-format.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		die("cannot create %s", path);
	unlink(path);
	double t0 = now_us();
	size_t bytes = send_script(fd, o, n);
	double secs = (now_us() - t0) / 1e6;
	close(fd);
	if (!bytes)
		return 1;
	printf("functions=%" PRIu64 "\nbytes=%zu\nsecs=%.4f\nfn_per_s=%.0f\nmb_per_s=%.2f\n", n,
	       bytes, secs, (double)n / secs, (double)bytes / secs / 1e6);
	return 0;
}

/* The bytes of the script as the chosen formatter writes it (not timed). */
static size_t script_bytes(const struct genopts *o, uint64_t n)
{
	char path[] = "/tmp/benchtool-bytes.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		die("cannot create %s", path);
	unlink(path);
	size_t bytes = send_script(fd, o, n);
	close(fd);
	return bytes;
}

static int cmd_ingest(const char *control, uint64_t n, const struct genopts *o)
{
	static const char commit[] = "commit\n";
	int fd = open_or_die(control, O_RDWR);
	size_t writes = 0;
	double t0 = now_us(), t1, t2;
	if (o->hand) {
		struct buf b = {0};
		gen_script(&b, o, n);
		for (size_t off = 0; off < b.len;) {
			size_t len = b.len - off < o->chunk ? b.len - off : o->chunk;
			ssize_t w = write(fd, b.p + off, len);
			if (w < 0) {
				fprintf(stderr, "benchtool: ingest: write at byte %zu: %s\n", off,
					strerror(errno));
				print_result(fd);
				return 1;
			}
			off += (size_t)w;
			writes++;
		}
		free(b.p);
		t1 = now_us();
		/* `commit` in a write of its own, so parsing and committing are timed apart. */
		if (write(fd, commit, sizeof commit - 1) != (ssize_t)sizeof commit - 1) {
			fprintf(stderr, "benchtool: ingest: commit: %s\n", strerror(errno));
			print_result(fd);
			return 1;
		}
		t2 = now_us();
	} else {
		struct dsymfs *c = client_or_die(fd, 0, o);
		if (!lib_script(c, fd, o, n) || dsymfs_flush(c)) {
			fprintf(stderr, "benchtool: ingest: %s\n", dsymfs_last_error(c));
			print_result(fd);
			return 1;
		}
		t1 = now_us();
		/* The batch is written: the commit goes in a write of its own. A result that
		 * is not ok is reported below, as in the hand-formatted run. */
		if (dsymfs_commit(c, NULL, NULL))
			fprintf(stderr, "benchtool: ingest: commit: %s\n", dsymfs_last_error(c));
		t2 = now_us();
		dsymfs_close(c);
	}
	bool ok = print_result(fd);
	close(fd);
	size_t bytes = script_bytes(o, n);
	double secs = (t2 - t0) / 1e6;
	/* The library does not count its writes. */
	if (o->hand)
		printf("writes=%zu\n", writes + 1);
	printf("functions=%" PRIu64 "\nbytes=%zu\nsecs=%.4f\nfn_per_s=%.0f\nmb_per_s=%.2f\n"
	       "parse_secs=%.4f\ncommit_secs=%.4f\n", n, bytes + sizeof commit - 1, secs,
	       (double)n / secs, (double)bytes / secs / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6);
	return ok ? 0 : 1;
}

static int cmd_commits(const char *control, const char *dwarf, uint64_t n, uint64_t k,
		       const struct genopts *o)
{
	struct buf b = {0};
	double *lat = calloc(k, sizeof *lat), *nlat = calloc(k, sizeof *nlat);
	int fd = open_or_die(control, O_RDWR);
	struct dsymfs *c = o->hand ? NULL : client_or_die(fd, 0, o);
	int nfd = o->null ? open_or_die(o->null, O_WRONLY) : -1;
	char nulldata[100];
	memset(nulldata, 'x', sizeof nulldata);
	uint64_t stat_miss = 0, open_miss = 0;
	for (uint64_t j = 0; j < k; j++) {
		/* Look the current generation up first, so the kernel has it cached. */
		struct stat before, after, opened;
		if (stat(dwarf, &before))
			die("stat %s failed", dwarf);
		b.len = 0;
		uint64_t id = o->first + rng() % n;
		unsigned edit = o->noop ? 0 : edit_of(o, j);
		if (o->hand) {
			put_fn(&b, o, id, edit);
			buf_printf(&b, "commit\n");
		}
		double t0;
		ssize_t w;
		if (nfd >= 0) {
			/* The reference, right before: same moment, same noise, and both
			 * daemons idle since the previous round. */
			t0 = now_us();
			w = write(nfd, nulldata, sizeof nulldata);
			nlat[j] = now_us() - t0;
			if (w != (ssize_t)sizeof nulldata)
				die("%s: write failed", o->null);
		}
		/* The library's commit also reads the result back: one more request. */
		t0 = now_us();
		bool sent = c ? lib_fn(c, o, id, edit) && dsymfs_commit(c, NULL, NULL) == 0
			      : (w = write(fd, b.p, b.len)) == (ssize_t)b.len;
		double t1 = now_us();
		if (!sent) {
			fprintf(stderr, "benchtool: commit %" PRIu64 ": %s\n", j,
				c ? dsymfs_last_error(c)
				  : w < 0 ? strerror(errno) : "short write");
			print_result(fd);
			return 1;
		}
		lat[j] = t1 - t0;
		if (o->noop)
			continue;
		if (stat(dwarf, &after))
			die("stat %s failed", dwarf);
		if (after.st_ino == before.st_ino)
			stat_miss++;
		int dfd = open_or_die(dwarf, O_RDONLY);
		if (fstat(dfd, &opened))
			die("fstat %s failed", dwarf);
		if (opened.st_ino == before.st_ino)
			open_miss++;
		close(dfd);
	}
	bool ok = print_result(fd);
	dsymfs_close(c);
	close(fd);
	if (nfd >= 0) {
		/* Each commit over the null write just before it: a ratio that contention
		 * spells cancel out of, as both were slowed together. */
		double *ratio = calloc(k, sizeof *ratio);
		for (uint64_t j = 0; j < k; j++)
			ratio[j] = lat[j] / nlat[j];
		print_lat("ratio", ratio, k);
		free(ratio);
		close(nfd);
		print_lat("write_us", nlat, k);
	}
	print_lat("commit_us", lat, k);
	printf("stat_miss=%" PRIu64 "\nopen_miss=%" PRIu64 "\n", stat_miss, open_miss);
	free(lat);
	free(nlat);
	free(b.p);
	return ok ? 0 : 1;
}

static int cmd_hold(const char *control, const char *dwarf, uint64_t n, uint64_t k,
		    const struct genopts *o)
{
	struct buf b = {0};
	int *fds = calloc(k, sizeof *fds);
	int fd = open_or_die(control, O_RDWR);
	struct dsymfs *c = o->hand ? NULL : client_or_die(fd, 0, o);
	for (uint64_t j = 0; j < k; j++) {
		fds[j] = open_or_die(dwarf, O_RDONLY);
		uint64_t id = o->first + rng() % n;
		bool sent;
		if (c) {
			sent = lib_fn(c, o, id, edit_of(o, j)) &&
			       dsymfs_commit(c, NULL, NULL) == 0;
		} else {
			b.len = 0;
			put_fn(&b, o, id, edit_of(o, j));
			buf_printf(&b, "commit\n");
			sent = write(fd, b.p, b.len) == (ssize_t)b.len;
		}
		if (!sent) {
			fprintf(stderr, "benchtool: hold: commit %" PRIu64 " failed\n", j);
			print_result(fd);
			return 1;
		}
	}
	printf("held=%" PRIu64 "\n", k);
	char ch;
	while (read(0, &ch, 1) > 0)
		;
	for (uint64_t j = 0; j < k; j++)
		close(fds[j]);
	dsymfs_close(c);
	close(fd);
	free(fds);
	free(b.p);
	return 0;
}

static int cmd_pwrite(const char *path, uint64_t k)
{
	int fd = open_or_die(path, O_RDWR);
	struct stat st;
	if (fstat(fd, &st) || st.st_size < 4096)
		die("%s: needs a file of at least 4 KiB", path);
	/* Three fragments of one function, as a DIE, a line program and an aranges tuple
	 * sit in their three sections: the first third, the middle, the last third. */
	uint8_t die_b[48], line_b[36], ar_b[16];
	double *lat = calloc(k, sizeof *lat);
	uint64_t third = (uint64_t)st.st_size / 3;
	for (uint64_t j = 0; j < k; j++) {
		uint64_t r = rng();
		memset(die_b, (int)(r & 0xff), sizeof die_b);
		memset(line_b, (int)(r >> 8 & 0xff), sizeof line_b);
		memset(ar_b, (int)(r >> 16 & 0xff), sizeof ar_b);
		off_t o1 = (off_t)(r % (third - 64));
		off_t o2 = (off_t)(third + (r >> 20) % (third - 64));
		off_t o3 = (off_t)(2 * third + (r >> 40) % (third - 64));
		double t0 = now_us();
		if (pwrite(fd, die_b, sizeof die_b, o1) != (ssize_t)sizeof die_b ||
		    pwrite(fd, line_b, sizeof line_b, o2) != (ssize_t)sizeof line_b ||
		    pwrite(fd, ar_b, sizeof ar_b, o3) != (ssize_t)sizeof ar_b)
			die("%s: pwrite failed", path);
		lat[j] = now_us() - t0;
	}
	close(fd);
	print_lat("pwrite_us", lat, k);
	free(lat);
	return 0;
}

static int cmd_seqread(const char *path, const struct genopts *o)
{
	size_t bs = o->bs;
	char *buf = malloc(bs);
	memset(buf, 0, bs);  /* fault the buffer in before the clock starts */
	int fd = open_or_die(path, O_RDONLY);
	uint64_t total = 0, calls = 0;
	double t0 = now_us();
	for (;;) {
		ssize_t n = read(fd, buf, bs);
		if (n < 0)
			die("%s: read failed", path);
		if (n == 0)
			break;
		total += (uint64_t)n;
		calls++;
	}
	double t1 = now_us();
	close(fd);
	double secs = (t1 - t0) / 1e6;
	printf("bytes=%" PRIu64 "\ncalls=%" PRIu64 "\nsecs=%.5f\nmb_per_s=%.1f\n", total, calls,
	       secs, (double)total / secs / 1e6);
	free(buf);
	return 0;
}

static int cmd_randread(const char *path, uint64_t k)
{
	int fd = open_or_die(path, O_RDONLY);
	struct stat st;
	if (fstat(fd, &st) || st.st_size < 8192)
		die("%s: too small", path);
	uint64_t pages = (uint64_t)st.st_size / 4096;
	char buf[4096];
	double *lat = calloc(k, sizeof *lat);
	for (uint64_t j = 0; j < k; j++) {
		off_t off = (off_t)(rng() % pages * 4096);
		double t0 = now_us();
		ssize_t n = pread(fd, buf, sizeof buf, off);
		lat[j] = now_us() - t0;
		if (n != (ssize_t)sizeof buf)
			die("%s: short pread", path);
	}
	close(fd);
	print_lat("pread_us", lat, k);
	free(lat);
	return 0;
}

static uint64_t num(const char *s)
{
	char *end;
	errno = 0;
	uint64_t v = strtoull(s, &end, 0);
	if (errno || !*s || *end)
		die("not a number: %s", s);
	return v;
}

/* Takes the GENOPTS and friends out of argv[from..); returns the new argc. */
static int take_opts(int argc, char **argv, int from, struct genopts *o)
{
	int out = from;
	for (int i = from; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (!strcmp(a, "--base") && has)
			o->base = num(argv[++i]);
		else if (!strcmp(a, "--first") && has)
			o->first = num(argv[++i]);
		else if (!strcmp(a, "--per-file") && has)
			o->per_file = num(argv[++i]);
		else if (!strcmp(a, "--prelude") && has)
			o->prelude = argv[++i];
		else if (!strcmp(a, "--chunk") && has)
			o->chunk = num(argv[++i]);
		else if (!strcmp(a, "--seed") && has)
			o->seed = num(argv[++i]);
		else if (!strcmp(a, "--noop"))
			o->noop = true;
		else if (!strcmp(a, "--hand"))
			o->hand = true;
		else if (!strcmp(a, "--rich"))
			o->rich = o->hand = true;
		else if (!strcmp(a, "--null") && has)
			o->null = argv[++i];
		else if (!strcmp(a, "--bs") && has)
			o->bs = num(argv[++i]);
		else if (!strncmp(a, "--", 2))
			die("unknown option %s", a);
		else
			argv[out++] = argv[i];
	}
	return out;
}

int main(int argc, char **argv)
{
	struct genopts o = {.per_file = PER_FILE, .base = 0x100000000ull, .first = 1,
			    .chunk = 1 << 20, .bs = 1 << 20};
	if (argc < 2)
		goto usage;
	argc = take_opts(argc, argv, 2, &o);
	if (!o.per_file)
		die("--per-file takes a number above 0%s", "");
	rng_state ^= o.seed * 0x2545f4914f6cdd1dull;
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *c = argv[1];
	if (!strcmp(c, "gen") && argc == 3)
		return cmd_gen(num(argv[2]), &o);
	if (!strcmp(c, "format") && argc == 3)
		return cmd_format(num(argv[2]), &o);
	if (!strcmp(c, "ingest") && argc == 4)
		return cmd_ingest(argv[2], num(argv[3]), &o);
	if (!strcmp(c, "commits") && argc == 6)
		return cmd_commits(argv[2], argv[3], num(argv[4]), num(argv[5]), &o);
	if (!strcmp(c, "hold") && argc == 6)
		return cmd_hold(argv[2], argv[3], num(argv[4]), num(argv[5]), &o);
	if (!strcmp(c, "pwrite") && argc == 4)
		return cmd_pwrite(argv[2], num(argv[3]));
	if (!strcmp(c, "seqread") && argc == 3)
		return cmd_seqread(argv[2], &o);
	if (!strcmp(c, "randread") && argc == 4)
		return cmd_randread(argv[2], num(argv[3]));
usage:
	fprintf(stderr, "usage: benchtool gen|format|ingest|commits|hold|pwrite|seqread|randread"
			" ... (see the comment at the top of tests/bench/benchtool.c)\n");
	return 2;
}
