/* libFuzzer target: restoring a state_dir (journal_attach) from damaged journal and
 * snapshot files, and recovering it (journal_recover).
 *
 * Each input is a state_dir packed into one file (tests/fuzz/pack-state makes one from a
 * real directory): one flags byte, then files, each "@@ NAME\n" then its bytes, with
 * "\n" before every "@@ " but the first. NAME is one of snapshot, snapshot.tmp, unknown,
 * unknown.tmp, journal.<16 hex digits> and exe/<blob name>; other parts are ignored.
 * Flags bit 0: before writing, give every record whose header can be walked (magic,
 * length inside the file) a good CRC-32C, so mutations of record payloads and kinds
 * reach the replay instead of stopping at the checksum.
 *
 * The files are written to a fresh directory, and journal_attach restores it into a
 * fresh registry. Invariants (abort() with a message on any violation, so libFuzzer
 * saves the input):
 *  1. A refusal is a negative errno with a one-line message naming the state_dir (out
 *     of memory and a dSYM past 4 GiB excepted), and changes no file of the directory
 *     (attach may add its lock file and the exe/ directory).
 *  2. A restore succeeds with a message of at most one line; every image's current
 *     generation reads whole and passes dsym_check.
 *  3. A commit after the restore (a `sym` on every image) that is answered ok is
 *     durable: freeing the registry and attaching again gives every image the same
 *     generation number and, byte for byte, the same file as before the restart.
 *  4. After a refusal over damage (-EINVAL), journal_recover either refuses (with a
 *     message) or succeeds, and then: every file the directory held is still there
 *     with its bytes, in place or under damaged/; and journal_attach restores what is
 *     left (invariant 2 again).
 *
 * FUZZ_JOURNAL_TRACE=1 in the environment prints each attach's and recover's outcome.
 *
 * Limits: keep_generations 2, max_decls 256, max_images 8; compact_bytes is so large that
 * no snapshot is written while an input runs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "gen.h"
#include "image.h"
#include "journal.h"

#include "dsym_check.h"

#define HEADER 32
#define MAX_IMAGES 8
#define MAX_FILES 64

static char dir[4096];   /* the state_dir every input is written to */
static bool trace;       /* FUZZ_JOURNAL_TRACE=1: print each step's outcome on stderr */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fuzz_journal: invariant broken: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Removes everything under the directory fd (closed here), depth first. */
static void empty_dir(int fd)
{
	DIR *d = fdopendir(fd);
	if (!d)
		die("fdopendir: %s", strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			die("cannot remove %s: %s", de->d_name, strerror(errno));
		empty_dir(sub);
		if (unlinkat(fd, de->d_name, AT_REMOVEDIR))
			die("rmdir %s: %s", de->d_name, strerror(errno));
	}
	closedir(d);
}

/* At exit, the state_dir goes (a crash leaves it, with the input that made it). */
static void remove_dir(void)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		empty_dir(fd);
		rmdir(dir);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/fuzz_journal.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	trace = getenv("FUZZ_JOURNAL_TRACE") != NULL;
	atexit(remove_dir);
	return 0;
}

/* ---- the files of one input ---- */

struct file {
	char name[64];        /* relative to dir */
	const uint8_t *p;     /* into the input, or into `own` */
	size_t len;
	uint8_t *own;         /* a malloc'd copy when checksums are fixed */
};

struct files {
	struct file v[MAX_FILES];
	size_t n;
};

static void files_free(struct files *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->v[i].own);
	fs->n = 0;
}

static bool all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

static bool name_ok(const char *s, size_t n)
{
	static const char *const fixed[] = {"snapshot", "snapshot.tmp", "unknown", "unknown.tmp"};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (n == strlen(fixed[i]) && !memcmp(s, fixed[i], n))
			return true;
	if (n == 24 && !memcmp(s, "journal.", 8))
		return all_of(s + 8, 16, "0123456789abcdef");
	return n > 4 && n < 4 + 48 && !memcmp(s, "exe/", 4) &&
	       all_of(s + 4, n - 4, "0123456789abcdef-");
}

/* Splits the input (after its flags byte) into files; a later file of the same name
 * replaces an earlier one. */
static void split(const uint8_t *data, size_t size, struct files *fs)
{
	fs->n = 0;
	const uint8_t *p = data, *end = data + size;
	while (p < end) {
		if (end - p < 3 || memcmp(p, "@@ ", 3))
			return;
		const uint8_t *name = p + 3;
		const uint8_t *nl = memchr(name, '\n', (size_t)(end - name));
		if (!nl)
			return;
		const uint8_t *body = nl + 1;
		const uint8_t *at = memmem(body, (size_t)(end - body), "\n@@ ", 4);
		const uint8_t *stop = at ? at : end;
		size_t nlen = (size_t)(nl - name);
		if (name_ok((const char *)name, nlen)) {
			size_t i = 0;
			while (i < fs->n && (strlen(fs->v[i].name) != nlen ||
					     memcmp(fs->v[i].name, name, nlen)))
				i++;
			if (i == fs->n && fs->n == MAX_FILES)
				return;
			struct file *f = &fs->v[i];
			if (i == fs->n)
				fs->n++;
			memcpy(f->name, name, nlen);
			f->own = NULL;
			f->name[nlen] = 0;
			f->p = body;
			f->len = (size_t)(stop - body);
		}
		p = at ? at + 1 : end;
	}
}

/* CRC-32C (Castagnoli), bitwise: the record checksum of journal.h, written here from its
 * definition so the target does not trust the code it tests. */
static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Gives each record of a journal or snapshot file, walked by its length fields from
 * offset 0, the checksum of its header (bytes 0-23) and payload, and a zero reserved
 * field. Stops at the first header that is not "DSJ1" or runs past the file. */
static void fix_checksums(struct file *f)
{
	if (strncmp(f->name, "journal.", 8) && strcmp(f->name, "snapshot"))
		return;
	f->own = malloc(f->len ? f->len : 1);
	if (!f->own)
		die("out of memory");
	memcpy(f->own, f->p, f->len);
	f->p = f->own;
	uint8_t *m = f->own;
	for (size_t off = 0; f->len - off >= HEADER && !memcmp(m + off, "DSJ1", 4);) {
		uint64_t n = le(m + off + 8, 8);
		if (n > f->len - off - HEADER)
			break;
		uint32_t c = crc32c(crc32c(0, m + off + HEADER, n), m + off, 24);
		for (int i = 0; i < 4; i++) {
			m[off + 24 + i] = (uint8_t)(c >> 8 * i);
			m[off + 28 + i] = 0;
		}
		off += HEADER + n;
	}
}

static void write_files(const struct files *fs)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open %s: %s", dir, strerror(errno));
	empty_dir(dfd);
	if (mkdir(dir, 0700) && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < fs->n; i++) {
		char path[4200];
		if (!strncmp(fs->v[i].name, "exe/", 4)) {
			snprintf(path, sizeof path, "%s/exe", dir);
			if (mkdir(path, 0700) && errno != EEXIST)
				die("mkdir %s: %s", path, strerror(errno));
		}
		snprintf(path, sizeof path, "%s/%s", dir, fs->v[i].name);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, fs->v[i].p, fs->v[i].len) != (ssize_t)fs->v[i].len)
			die("write %s: %s", path, strerror(errno));
		close(fd);
	}
}

/* ---- what the directory holds ---- */

struct tree_file {
	char path[300];
	uint8_t *bytes;
	size_t len;
};

struct tree {
	struct tree_file *v;
	size_t n, cap;
};

static void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].bytes);
	free(t->v);
	memset(t, 0, sizeof *t);
}

static void slurp(int fd, struct tree_file *f)
{
	struct stat st;
	if (fstat(fd, &st))
		die("fstat %s: %s", f->path, strerror(errno));
	f->len = (size_t)st.st_size;
	f->bytes = malloc(f->len ? f->len : 1);
	if (!f->bytes || pread(fd, f->bytes, f->len, 0) != (ssize_t)f->len)
		die("read %s: %s", f->path, strerror(errno));
}

/* Every regular file under the directory fd (closed here), path relative to the top. */
static void tree_walk(int fd, const char *prefix, struct tree *t)
{
	DIR *d = fdopendir(fd);
	if (!d)
		die("fdopendir: %s", strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int sub = openat(fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			die("open %s%s: %s", prefix, de->d_name, strerror(errno));
		char path[300];
		snprintf(path, sizeof path, "%s%s", prefix, de->d_name);
		struct stat st;
		if (fstat(sub, &st))
			die("fstat %s: %s", path, strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			char next[310];
			snprintf(next, sizeof next, "%s/", path);
			tree_walk(sub, next, t);
			continue;
		}
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 16;
			t->v = realloc(t->v, t->cap * sizeof *t->v);
			if (!t->v)
				die("out of memory");
		}
		struct tree_file *f = &t->v[t->n++];
		snprintf(f->path, sizeof f->path, "%s", path);
		slurp(sub, f);
		close(sub);
	}
	closedir(d);
}

static void tree_read(struct tree *t)
{
	memset(t, 0, sizeof *t);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", dir, strerror(errno));
	tree_walk(fd, "", t);
}

static const struct tree_file *tree_find(const struct tree *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].path, path))
			return &t->v[i];
	return NULL;
}

/* Invariant 1's "changes no file": the same files with the same bytes, but the lock
 * file that attach adds. */
static void check_unchanged(const struct tree *before, const char *after_what)
{
	struct tree after;
	tree_read(&after);
	for (size_t i = 0; i < after.n; i++) {
		const struct tree_file *a = &after.v[i], *b = tree_find(before, a->path);
		if (!b && strcmp(a->path, "lock"))
			die("%s: it made %s", after_what, a->path);
		if (b && (a->len != b->len || memcmp(a->bytes, b->bytes, a->len)))
			die("%s: it changed %s (%zu bytes, was %zu)", after_what, a->path, a->len,
			    b->len);
	}
	for (size_t i = 0; i < before->n; i++)
		if (!tree_find(&after, before->v[i].path))
			die("%s: it removed %s", after_what, before->v[i].path);
	tree_free(&after);
}

/* Invariant 4's "never deletes": each file of `before` has a file with its bytes now. */
static void check_kept(const struct tree *before)
{
	struct tree after;
	tree_read(&after);
	for (size_t i = 0; i < before->n; i++) {
		const struct tree_file *b = &before->v[i];
		size_t k = 0;
		while (k < after.n && (after.v[k].len != b->len ||
				       memcmp(after.v[k].bytes, b->bytes, b->len)))
			k++;
		if (k == after.n)
			die("journal_recover lost %s (%zu bytes): no file holds its bytes", b->path,
			    b->len);
	}
	tree_free(&after);
}

/* ---- restoring ---- */

struct image_bytes {
	char name[256];
	uint64_t generation;
	uint8_t *bytes;
	uint64_t len;
};

struct restored {
	struct image_bytes v[MAX_IMAGES];
	size_t n;
};

static void restored_free(struct restored *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].bytes);
	s->n = 0;
}

static void limits(struct ctl_limits *lim)
{
	ctl_limits_default(lim);
	lim->keep_generations = 2;
	lim->max_decls = 256;
	lim->max_images = MAX_IMAGES;
}

static void one_line(const char *what, const char *msg)
{
	const char *nl = strchr(msg, '\n');
	if (nl)
		die("%s: the message is not one line: %s", what, msg);
}

/* Invariant 2 for every image of r: read whole, structure-checked; kept in *out. */
static void take(struct ctl_registry *r, struct restored *out)
{
	out->n = 0;
	size_t n = ctl_registry_count(r);
	if (n > MAX_IMAGES)
		die("restored %zu images, past max_images %d", n, MAX_IMAGES);
	for (size_t i = 0; i < n; i++) {
		struct image *im = ctl_registry_at(r, i);
		struct gen *g = image_current(im);
		struct image_bytes *b = &out->v[out->n++];
		snprintf(b->name, sizeof b->name, "%s", image_name(im));
		b->generation = gen_number(g);
		b->len = gen_size(g);
		b->bytes = malloc(b->len ? b->len : 1);
		if (!b->bytes)
			die("out of memory for %llu bytes", (unsigned long long)b->len);
		ssize_t got = gen_read(g, 0, b->bytes, b->len);
		if (got < 0 || (uint64_t)got != b->len)
			die("image %s generation %llu: gen_read gave %zd of %llu bytes", b->name,
			    (unsigned long long)b->generation, got, (unsigned long long)b->len);
		char err[300];
		if (dsym_check(b->bytes, b->len, err, sizeof err))
			die("image %s generation %llu as restored: %s", b->name,
			    (unsigned long long)b->generation, err);
		gen_unref(g);
	}
}

static void same(const struct restored *a, const struct restored *b)
{
	if (a->n != b->n)
		die("a restart restored %zu images, before it there were %zu", b->n, a->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct image_bytes *x = &a->v[i];
		size_t k = 0;
		while (k < b->n && strcmp(b->v[k].name, x->name))
			k++;
		if (k == b->n)
			die("image %s is gone after a restart", x->name);
		const struct image_bytes *y = &b->v[k];
		if (x->generation != y->generation || x->len != y->len ||
		    memcmp(x->bytes, y->bytes, x->len))
			die("image %s: generation %llu (%llu bytes) before a restart, %llu (%llu "
			    "bytes) after it", x->name, (unsigned long long)x->generation,
			    (unsigned long long)x->len, (unsigned long long)y->generation,
			    (unsigned long long)y->len);
	}
}

/* Invariant 3's commit: one `sym` per image, each on its own session. */
static void commit_one(struct ctl_registry *r)
{
	for (size_t i = 0; i < ctl_registry_count(r); i++) {
		struct ctl_session *s;
		if (ctl_session_new(r, &s))
			die("out of memory");
		char text[400];
		int n = snprintf(text, sizeof text, "image %s\nsym _fuzz_journal value=0x%zx\ncommit\n",
				 image_name(ctl_registry_at(r, i)), i + 1);
		ssize_t rc = ctl_session_write(s, text, (size_t)n);
		size_t len;
		const char *res = ctl_session_result(s, &len);
		if (rc >= 0 && strncmp(res, "ok generation=", 14))
			die("a commit succeeded with the result %.*s", (int)len, res);
		ctl_session_free(s);
	}
}

/* journal_attach into a fresh registry; on success, *out holds what it restored. */
static int attach(struct restored *out, bool commit, char *err, size_t errlen)
{
	struct ctl_limits lim;
	limits(&lim);
	struct ctl_registry *r;
	if (ctl_registry_new(&lim, &r))
		die("out of memory");
	*err = 0;
	int rc = journal_attach(r, dir, UINT64_MAX / 2, err, errlen);
	if (trace)
		fprintf(stderr, "journal_attach: %d, %zu image(s): %s\n", rc, ctl_registry_count(r),
			err);
	if (rc > 0)
		die("journal_attach returned %d", rc);
	if (!rc) {
		one_line("journal_attach", err);
		if (commit)
			commit_one(r);
		take(r, out);
	}
	ctl_registry_free(r);
	return rc;
}

static void refusal(int rc, const char *err, const char *what)
{
	if (!*err)
		die("%s refused (%d) with no message", what, rc);
	one_line(what, err);
	if (rc != -ENOMEM && rc != -EFBIG && !strstr(err, dir))
		die("%s refused (%d) without naming the state_dir: %s", what, rc, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct files fs;
	split(data + 1, size - 1, &fs);
	if (data[0] & 1)
		for (size_t i = 0; i < fs.n; i++)
			fix_checksums(&fs.v[i]);
	write_files(&fs);
	files_free(&fs);

	struct tree before;
	tree_read(&before);
	char err[2048];
	struct restored first = {0}, again = {0};
	int rc = attach(&first, true, err, sizeof err);
	if (!rc) {
		int rc2 = attach(&again, false, err, sizeof err);
		if (rc2)
			die("a restart after a restore was refused (%d): %s", rc2, err);
		same(&first, &again);
	} else {
		refusal(rc, err, "journal_attach");
		check_unchanged(&before, "a refused journal_attach");
		if (rc == -EINVAL) {
			struct ctl_limits lim;
			limits(&lim);
			char *report = NULL;
			int rrc = journal_recover(dir, &lim, &report, err, sizeof err);
			if (trace)
				fprintf(stderr, "journal_recover: %d: %s\n%s", rrc, err,
					report ? report : "");
			free(report);
			if (rrc) {
				refusal(rrc, err, "journal_recover");
			} else {
				check_kept(&before);
				int rc3 = attach(&again, false, err, sizeof err);
				if (rc3)
					die("journal_recover succeeded, then journal_attach refused "
					    "(%d): %s", rc3, err);
			}
		}
	}
	restored_free(&first);
	restored_free(&again);
	tree_free(&before);
	return 0;
}
