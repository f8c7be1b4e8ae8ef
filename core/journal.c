/* The journal of a durable registry. See journal.h.
 *
 * Record kinds and their payloads (protocol text, one command per line):
 *   HEAD    first record of a snapshot; generation = the first journal index it does
 *           not cover; payload: a binary snapshot's version and image count (journal.h),
 *           or, in a text snapshot, the number of STATE records after it in decimal and
 *           a newline, or empty (text snapshots written before the count was added).
 *   CREATE  `image NAME create exe=BLOB` or `image NAME create uuid=U arch=A`;
 *           generation 1.
 *   BATCH   `image NAME` then the batch's commands (`exe BLOB` for an executable);
 *           generation = the one the commit published.
 *   STATE   (text snapshots, read but no longer written) a CREATE line, then one batch
 *           that rebuilds the image's whole state on top of it; generation = the
 *           image's generation.
 *   NEXT    (journals only) the last record of a journal file that appends moved on
 *           from; generation = the index of the next file; empty payload.
 *   IMAGE, CHUNK  (binary snapshots) see journal.h.
 * BLOB is a name under exe/. Replaying applies the same commands to the same state, and
 * every command is deterministic given the executable's bytes, so the bytes come back;
 * a binary snapshot holds the records those commands left, so loading them gives the
 * same state.
 */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "dwarf.h"
#include "enc.h"
#include "gen.h"
#include "image.h"
#include "macho.h"
#include "state.h"
#include "util.h"

enum { KIND_HEAD = 1, KIND_CREATE, KIND_BATCH, KIND_STATE, KIND_NEXT, KIND_IMAGE,
       KIND_CHUNK };
/* The sections of an image in a binary snapshot, in the order they are written. */
enum { SEC_FILES = 1, SEC_TYPES, SEC_FNS, SEC_SYMS, SEC_GLOBALS, SEC_ABSTRACTS };
#define SEC_LAST_V1 SEC_SYMS
#define NSECS SEC_ABSTRACTS

#define HEADER 32
#define MAGIC "DSJ1"
#define FLUSH_AT (1u << 20)   /* bytes of payload buffered before a write */
#define BLOB_MAX 48
#define SNAP_MAGIC "DSSB"
#define SNAP_VERSION 2
#define SNAP_HEAD_LEN 16
#define SNAP_CHUNK (1u << 20)  /* payload bytes after which a CHUNK record ends */
/* Records in the journal past which a snapshot is due whatever their size: replaying a
 * small batch costs far more per byte than a snapshot's lines do. */
#define COMPACT_RECORDS 65536

struct entry {
	struct image *im;
	char exe[BLOB_MAX];       /* blob of the latest executable, or "" */
	struct state st;          /* the last acknowledged state */
	uint64_t generation;
};

/* A small set of blob names. */
struct names {
	char (*v)[BLOB_MAX];
	size_t n;
};

/* What a snapshot is written from: copies taken when the journal rotates, so the
 * compactor thread touches no image and holds no lock while it writes. */
struct snap_image {
	char *name;               /* the image's name */
	char exe[BLOB_MAX];
	struct state st;
	uint64_t generation;
};

struct journal {
	pthread_mutex_t lock;     /* everything below; taken inside image/registry locks */
	char *dir;                /* dir, dirfd and exefd never change after attach */
	int dirfd, exefd, lockfd;
	int fd;                   /* the journal file appended to */
	uint64_t index;           /* its index */
	uint64_t fsize;           /* its size */
	uint64_t first_index;     /* the snapshot covers every index below */
	uint64_t journal_bytes;   /* in journal files >= first_index */
	uint64_t journal_records; /* likewise */
	uint64_t snapshot_bytes;
	uint64_t compact_bytes;
	struct entry *entries;
	size_t nentries;
	struct names blobs;       /* named by records in files >= the last rotation */
	/* The compactor thread and the snapshot it is writing (compacting: snap is set). */
	pthread_t compactor;
	bool have_compactor, compacting, stopping;
	pthread_cond_t wake;
	struct snap_image *snap;
	size_t nsnap;
	uint64_t snap_next;       /* the journal index the snapshot starts after */
	uint64_t rotated_bytes, rotated_records;  /* in the files it covers */
	uint64_t appended, compactions, compaction_failures;
	bool broken;              /* a failed append could not be cut off: refuse more */
	char broken_msg[700];
	char compact_msg[700];    /* the last compaction failure, or "" */
	/* After a failure the next compaction waits for this much journal: retrying at
	 * every commit would start a journal file per commit. */
	uint64_t retry_bytes, retry_records;
	char restore_msg[1100];
	char restore_warn[1200];  /* what of it the operator must hear of, or "" */
	/* Where restoring found damage (a record, or a missing file), for recovery. */
	bool damaged;
	char damaged_file[32];
	uint64_t damaged_off;     /* UINT64_MAX: the file as a whole */
	char damaged_msg[600];
};

/* ---- CRC-32C (Castagnoli): the SSE 4.2 instruction where there is one (a restart
 * checks every byte of the snapshot), else slicing by 8 ---- */

static uint32_t crc_tab[8][256];
static bool crc_hw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^ crc_tab[0][crc_tab[k - 1][i] & 0xff];
#if defined(__x86_64__)
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
/* The instruction takes 8 bytes as a little-endian integer, the order they are in. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							     size_t n)
{
	uint64_t c = ~crc;
	for (; n >= 8; p += 8, n -= 8)
		c = __builtin_ia32_crc32di(c, enc_get_u64(p));
	uint32_t c32 = (uint32_t)c;
	while (n--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return ~c32;
}
#endif

static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
#if defined(__x86_64__)
	if (crc_hw)
		return crc32c_hw(crc, p, n);
#endif
	crc = ~crc;
	for (; n >= 8; p += 8, n -= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		      crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		      crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		      crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
	}
	while (n--)
		crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- small file helpers ---- */

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int pwrite_all(int fd, uint64_t off, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}


static void journal_name(char out[32], uint64_t index)
{
	snprintf(out, 32, "journal.%016" PRIx64, index);
}

/* ---- writing records: the payload is streamed, the header written last ---- */

struct rec_writer {
	int fd;
	uint64_t start, off;      /* where the record starts; where the next bytes go */
	uint32_t crc;
	struct enc_buf buf;       /* payload not yet written */
	int rc;
	bool header;              /* the header's write was tried: the record may be whole */
};

static void rw_begin(struct rec_writer *w, int fd, uint64_t off)
{
	*w = (struct rec_writer){.fd = fd, .start = off, .off = off + HEADER};
	enc_buf_init(&w->buf);
}

static void rw_flush(struct rec_writer *w)
{
	if (!w->rc && enc_buf_error(&w->buf))
		w->rc = -ENOMEM;
	if (!w->rc && w->buf.len) {
		w->crc = crc32c(w->crc, w->buf.data, w->buf.len);
		w->rc = pwrite_all(w->fd, w->off, w->buf.data, w->buf.len);
		w->off += w->buf.len;
	}
	w->buf.len = 0;
}

static void rw_maybe_flush(struct rec_writer *w)
{
	if (w->buf.len >= FLUSH_AT)
		rw_flush(w);
}

/* Writes the header; returns 0 or -errno. The record's end is w->off. */
static int rw_end(struct rec_writer *w, uint32_t kind, uint64_t generation)
{
	rw_flush(w);
	enc_buf_free(&w->buf);
	if (w->rc)
		return w->rc;
	uint8_t h[HEADER] = {0};
	memcpy(h, MAGIC, 4);
	enc_u32(h + 4, kind);
	enc_u64(h + 8, w->off - w->start - HEADER);
	enc_u64(h + 16, generation);
	enc_u32(h + 24, crc32c(w->crc, h, 24));
	w->header = true;
	return pwrite_all(w->fd, w->start, h, HEADER);
}

static void rw_abandon(struct rec_writer *w)
{
	enc_buf_free(&w->buf);
}

/* ---- executables by content ---- */


static bool blob_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n >= BLOB_MAX)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdef-", *s))
			return false;
	return true;
}

/* Does the file hold exactly data? */
static int blob_equal(int fd, const uint8_t *data, size_t len, bool *same)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	*same = (uint64_t)st.st_size == len;
	uint8_t buf[65536];
	for (size_t off = 0; *same && off < len;) {
		size_t want = len - off < sizeof buf ? len - off : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		*same = !memcmp(buf, data + off, (size_t)n);
		off += (size_t)n;
	}
	return 0;
}

/* Stores data under exe/ (unless it is there already) and names it in name. */
static int store_blob(struct journal *j, const uint8_t *data, size_t len,
		      char name[BLOB_MAX], char *err, size_t errlen)
{
	snprintf(name, BLOB_MAX, "%016" PRIx64 "-%zx", util_hash(data, len), len);
	int fd = openat(j->exefd, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		bool same;
		int rc = blob_equal(fd, data, len, &same);
		close(fd);
		if (rc)
			return say(err, errlen, rc, "journal: cannot read %s/exe/%s: %s", j->dir,
				   name, strerror(-rc));
		if (!same)
			return say(err, errlen, -EIO, "journal: %s/exe/%s holds other bytes than "
				   "the executable with that hash", j->dir, name);
		return 0;
	}
	char tmp[BLOB_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	fd = openat(j->exefd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : pwrite_all(fd, 0, data, len);
	if (!rc && fdatasync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (!rc && renameat(j->exefd, tmp, j->exefd, name) < 0)
		rc = -errno;
	if (!rc && fsync(j->exefd) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(j->exefd, tmp, 0);
		return say(err, errlen, rc, "journal: cannot store an executable in %s/exe: %s",
			   j->dir, strerror(-rc));
	}
	return 0;
}

static bool names_has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return true;
	return false;
}

static int names_add(struct names *s, const char *name)
{
	if (!*name || names_has(s, name))
		return 0;
	char (*v)[BLOB_MAX] = realloc(s->v, (s->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	s->v = v;
	snprintf(s->v[s->n++], BLOB_MAX, "%s", name);
	return 0;
}

static void names_clear(struct names *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* ---- appending ---- */

/* Notes in `unknown` which commit's outcome is unknown, so that the next start can say
 * whether it survived. Returns 0 or -errno. */
static int note_unknown(struct journal *j, const char *image, uint64_t generation)
{
	char text[600];
	int len = snprintf(text, sizeof text, "%" PRIu64 " %s\n", generation, image);
	int fd = openat(j->dirfd, "unknown.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -errno : pwrite_all(fd, 0, text, (size_t)len);
	if (!rc && fdatasync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (!rc && (renameat(j->dirfd, "unknown.tmp", j->dirfd, "unknown") < 0 ||
		    fsync(j->dirfd) < 0))
		rc = -errno;
	return rc;
}

/* Makes the record ending at w->off durable, or cuts it off again. When it can be
 * neither synced nor cut back and its header was written, nobody can tell whether it
 * is durable: the answer says so, and every later commit is refused until a restart
 * settles it (the record is whole on disk, or it is a torn tail). image: the image a
 * commit or creation is of; NULL for a record no answer depends on (NEXT). */
static int finish_append(struct journal *j, struct rec_writer *w, uint32_t kind,
			 const char *image, uint64_t generation, char *err, size_t errlen)
{
	int rc = rw_end(w, kind, generation);
	if (!rc && fdatasync(j->fd) < 0)
		rc = -errno;
	if (!rc) {
		j->journal_bytes += w->off - j->fsize;
		j->journal_records++;
		j->fsize = w->off;
		j->appended++;
		return 0;
	}
	char name[32];
	journal_name(name, j->index);
	if (ftruncate(j->fd, (off_t)j->fsize) == 0 && fdatasync(j->fd) == 0)
		return say(err, errlen, rc, "journal: cannot write %s/%s: %s%s", j->dir, name,
			   strerror(-rc), image ? "; nothing was committed" : "");
	int cut = errno;
	j->broken = true;
	if (!w->header || !image) {
		snprintf(j->broken_msg, sizeof j->broken_msg, "%s/%s could not be written (%s) "
			 "nor cut back (%s); restart the daemon", j->dir, name, strerror(-rc),
			 strerror(cut));
		return say(err, errlen, rc, "journal: cannot write %s/%s: %s; nothing was "
			   "committed, but the journal cannot be cut back (%s): commits are "
			   "refused until the daemon is restarted", j->dir, name, strerror(-rc),
			   strerror(cut));
	}
	int noted = note_unknown(j, image, generation);
	char note[200] = "";
	if (noted)
		snprintf(note, sizeof note, " (it could not be noted in %s/unknown: %s, so the "
			 "restart cannot tell)", j->dir, strerror(-noted));
	snprintf(j->broken_msg, sizeof j->broken_msg, "%s/%s could not be synced (%s) nor cut "
		 "back (%s): whether image %s generation %" PRIu64 " survives is unknown; "
		 "restart the daemon%s", j->dir, name, strerror(-rc), strerror(cut), image,
		 generation, note);
	return say(err, errlen, rc, "journal: cannot write %s/%s (%s) nor cut it back (%s): "
		   "the outcome of this commit is unknown; after a restart `status` says whether "
		   "it survived%s; commits are refused until the daemon is restarted", j->dir, name,
		   strerror(-rc), strerror(cut), note);
}

static void put_create_line(struct enc_buf *b, struct image *im, const char *exe)
{
	enc_buf_printf(b, "image ");
	cmd_format_value(b, image_name(im));
	if (*exe) {
		enc_buf_printf(b, " create exe=%s\n", exe);
		return;
	}
	struct gen *g = image_current(im);
	char uuid[37];
	macho_uuid_format(gen_uuid(g), uuid);
	enc_buf_printf(b, " create uuid=%s arch=%s\n", uuid, macho_arch_name(gen_cputype(g)));
	gen_unref(g);
}

static struct entry *find_entry(struct journal *j, const struct image *im)
{
	for (size_t i = 0; i < j->nentries; i++)
		if (j->entries[i].im == im)
			return &j->entries[i];
	return NULL;
}

static int add_entry(struct journal *j, struct image *im, const char *exe)
{
	struct entry *v = realloc(j->entries, (j->nentries + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	j->entries = v;
	struct entry *e = &v[j->nentries++];
	memset(e, 0, sizeof *e);
	e->im = im;
	snprintf(e->exe, sizeof e->exe, "%s", exe);
	image_state(im, &e->st);
	struct gen *g = image_current(im);
	e->generation = gen_number(g);
	gen_unref(g);
	return 0;
}

static int refuse_broken(struct journal *j, char *err, size_t errlen)
{
	return say(err, errlen, -EIO, "journal: %s", j->broken_msg);
}

static void maybe_compact(struct journal *j);

static int on_created(void *arg, struct image *im, const uint8_t *exe, size_t exe_len,
		      char *err, size_t errlen)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->lock);
	char blob[BLOB_MAX] = "";
	int rc = j->broken ? refuse_broken(j, err, errlen) : 0;
	if (!rc && exe)
		rc = store_blob(j, exe, exe_len, blob, err, errlen);
	if (!rc && names_add(&j->blobs, blob))
		rc = say(err, errlen, -ENOMEM, "journal: out of memory; nothing was committed");
	if (!rc) {
		struct rec_writer w;
		rw_begin(&w, j->fd, j->fsize);
		put_create_line(&w.buf, im, blob);
		rc = finish_append(j, &w, KIND_CREATE, image_name(im), 1, err, errlen);
	}
	/* Only memory can fail now, and the creation is durable: a later snapshot then
	 * misses the image, so refuse to go on rather than lose it. */
	if (!rc && add_entry(j, im, blob)) {
		j->broken = true;
		snprintf(j->broken_msg, sizeof j->broken_msg, "out of memory; restart "
			 "the daemon");
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

static int on_committed(void *arg, struct image *im, const struct image_batch_view *v,
			char *err, size_t errlen)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->lock);
	struct entry *e = find_entry(j, im);
	char (*blobs)[BLOB_MAX] = calloc(v->nexes ? v->nexes : 1, BLOB_MAX);
	int rc = j->broken ? refuse_broken(j, err, errlen) : 0;
	if (!rc && (!e || !blobs))
		rc = say(err, errlen, -ENOMEM, "journal: out of memory; nothing was committed");
	for (size_t i = 0; !rc && i < v->nexes; i++) {
		rc = store_blob(j, v->exes[i].data, v->exes[i].len, blobs[i], err, errlen);
		if (!rc && names_add(&j->blobs, blobs[i]))
			rc = say(err, errlen, -ENOMEM, "journal: out of memory; nothing was "
				 "committed");
	}
	if (!rc) {
		struct rec_writer w;
		rw_begin(&w, j->fd, j->fsize);
		enc_buf_printf(&w.buf, "image ");
		cmd_format_value(&w.buf, image_name(im));
		enc_buf_u8(&w.buf, '\n');
		size_t k = 0;
		for (size_t i = 0; i < v->nitems && !w.rc; i++) {
			struct cmd c = v->items[i].cmd;
			if (c.kind == CMD_EXE)
				c.u.exe.path = blobs[k++];
			cmd_format(&w.buf, &c);
			rw_maybe_flush(&w);
		}
		rc = finish_append(j, &w, KIND_BATCH, image_name(im), v->generation, err,
				   errlen);
	}
	if (!rc) {
		state_release(&e->st);
		state_copy(v->state, &e->st);
		e->generation = v->generation;
		if (v->nexes)
			snprintf(e->exe, sizeof e->exe, "%s", blobs[v->nexes - 1]);
		maybe_compact(j);
	}
	free(blobs);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

static void on_status(void *arg, struct enc_buf *b)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->lock);
	enc_buf_printf(b, "journal: state_dir=");
	cmd_format_value(b, j->dir);
	enc_buf_printf(b, " snapshot_bytes=%" PRIu64 " journal_bytes=%" PRIu64
		       " journal_records=%" PRIu64 " compact_bytes=%" PRIu64 " compactions=%" PRIu64
		       " compaction_failures=%" PRIu64 " state=%s\n", j->snapshot_bytes,
		       j->journal_bytes, j->journal_records, j->compact_bytes, j->compactions,
		       j->compaction_failures,
		       j->broken ? "broken" : j->compacting ? "compacting" : "ok");
	if (*j->restore_msg)
		enc_buf_printf(b, "journal: %s\n", j->restore_msg);
	if (j->broken)
		enc_buf_printf(b, "journal: %s\n", j->broken_msg);
	if (*j->compact_msg)
		enc_buf_printf(b, "journal: last compaction failed: %s\n", j->compact_msg);
	pthread_mutex_unlock(&j->lock);
}

static void journal_free(void *arg)
{
	struct journal *j = arg;
	if (!j)
		return;
	if (j->have_compactor) {
		/* A snapshot in progress is finished: it is what makes the next start fast. */
		pthread_mutex_lock(&j->lock);
		j->stopping = true;
		pthread_cond_signal(&j->wake);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->compactor, NULL);
	}
	for (size_t i = 0; i < j->nentries; i++)
		state_release(&j->entries[i].st);
	free(j->entries);
	names_clear(&j->blobs);
	pthread_cond_destroy(&j->wake);
	if (j->fd >= 0)
		close(j->fd);
	if (j->exefd >= 0)
		close(j->exefd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	if (j->lockfd >= 0)
		close(j->lockfd);   /* releases the flock */
	free(j->dir);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* ---- snapshots ---- */

/* Binary snapshots (see journal.h for the layout). Every integer goes through enc.h's
 * little-endian and LEB128 encoders, field by field. */

static void put_str(struct enc_buf *b, const char *s)
{
	size_t n = strlen(s);
	enc_buf_uleb(b, n);
	enc_buf_put(b, s, n);
}

/* A string that may be absent: its length + 1, or 0 for NULL. */
static void put_opt_str(struct enc_buf *b, const char *s)
{
	if (!s) {
		enc_buf_uleb(b, 0);
		return;
	}
	size_t n = strlen(s);
	enc_buf_uleb(b, n + 1);
	enc_buf_put(b, s, n);
}

/* The IMAGE record: what the image is (name, executable, identity, segment table) and
 * how many records each section holds. */
static void put_image_head(struct enc_buf *b, const struct snap_image *e)
{
	const struct state *s = &e->st;
	put_str(b, e->name);
	put_str(b, e->exe);
	enc_buf_put(b, s->ident.uuid, sizeof s->ident.uuid);
	enc_buf_u32(b, s->ident.cputype);
	enc_buf_u32(b, s->ident.cpusubtype);
	enc_buf_u8(b, s->ident.has_build);
	enc_buf_u32(b, s->ident.platform);
	enc_buf_u32(b, s->ident.minos);
	enc_buf_u32(b, s->ident.sdk);
	const struct macho_segtab *t = &s->segs->t;
	enc_buf_uleb(b, t->nsegs);
	for (uint32_t i = 0; i < t->nsegs; i++) {
		const struct macho_segment *seg = &t->segs[i];
		put_str(b, seg->segname);
		enc_buf_u64(b, seg->vmaddr);
		enc_buf_u64(b, seg->vmsize);
		enc_buf_u32(b, seg->maxprot);
		enc_buf_u32(b, seg->initprot);
		enc_buf_u32(b, seg->flags);
		enc_buf_uleb(b, seg->nsects);
		for (uint32_t k = 0; k < seg->nsects; k++) {
			const struct macho_section *sect = &seg->sects[k];
			put_str(b, sect->sectname);
			put_str(b, sect->segname);
			enc_buf_u64(b, sect->addr);
			enc_buf_u64(b, sect->size);
			enc_buf_u32(b, sect->align);
			enc_buf_u32(b, sect->flags);
			enc_buf_u32(b, sect->reserved1);
			enc_buf_u32(b, sect->reserved2);
			enc_buf_u32(b, sect->reserved3);
		}
	}
	enc_buf_uleb(b, ptree_count(&s->files));
	enc_buf_uleb(b, ptree_count(&s->types));
	enc_buf_uleb(b, ptree_count(&s->fn_by_id));
	enc_buf_uleb(b, ptree_count(&s->syms));
	enc_buf_uleb(b, ptree_count(&s->globals));
	enc_buf_uleb(b, ptree_count(&s->abstracts));
}

static void put_file(struct enc_buf *b, const struct rec_file *f)
{
	enc_buf_uleb(b, f->id);
	put_str(b, f->path);
	put_opt_str(b, f->dir);
	enc_buf_uleb(b, f->lang);
}

/* Every field of a location of its kind, so that it comes back equal. A location of kind
 * none, which most parameters have, is its kind byte alone (its other fields are zero). */
static void put_loc(struct enc_buf *b, const struct rec_loc *l)
{
	enc_buf_u8(b, (uint8_t)l->kind);
	if (l->kind == REC_LOC_NONE)
		return;
	enc_buf_uleb(b, l->reg);
	enc_buf_sleb(b, l->value);
	enc_buf_uleb(b, l->len);
	if (l->kind == REC_LOC_EXPR)
		enc_buf_put(b, l->bytes, l->len);
	if (l->kind != REC_LOC_LIST)
		return;
	for (uint32_t i = 0; i < l->len; i++) {
		enc_buf_uleb(b, l->entries[i].from);
		enc_buf_uleb(b, l->entries[i].to);
		put_loc(b, &l->entries[i].loc);
	}
}

static void put_type(struct enc_buf *b, const struct rec_type *t)
{
	enc_buf_uleb(b, t->id);
	enc_buf_u8(b, (uint8_t)t->kind);
	put_opt_str(b, t->name);
	enc_buf_uleb(b, t->size);
	enc_buf_u8(b, (uint8_t)t->enc);
	enc_buf_uleb(b, t->to);
	enc_buf_uleb(b, t->file);
	enc_buf_uleb(b, t->line);
	enc_buf_uleb(b, t->scope);
	enc_buf_uleb(b, t->align);
	enc_buf_u8(b, (uint8_t)(t->decl | t->variadic << 1 | t->unprototyped << 2));
	enc_buf_uleb(b, t->nmembers);
	for (uint32_t i = 0; i < t->nmembers; i++) {
		const struct rec_member *m = &t->members[i];
		put_opt_str(b, m->name);
		enc_buf_uleb(b, m->type);
		enc_buf_uleb(b, m->off);
		enc_buf_uleb(b, m->bits);
		enc_buf_uleb(b, m->bitoff);
	}
	enc_buf_uleb(b, t->nenumerators);
	for (uint32_t i = 0; i < t->nenumerators; i++) {
		const struct rec_enumerator *e = &t->enumerators[i];
		put_opt_str(b, e->name);
		enc_buf_u64(b, e->lo);
		enc_buf_u64(b, e->hi);
		enc_buf_u8(b, e->neg);
	}
	enc_buf_uleb(b, t->ndims);
	for (uint32_t i = 0; i < t->ndims; i++)
		enc_buf_uleb(b, t->dims[i]);
	enc_buf_uleb(b, t->ret);
	enc_buf_uleb(b, t->nparams);
	for (uint32_t i = 0; i < t->nparams; i++)
		enc_buf_uleb(b, t->params[i]);
}

static void put_global(struct enc_buf *b, const struct rec_global *g)
{
	enc_buf_uleb(b, g->id);
	put_str(b, g->name);
	enc_buf_uleb(b, g->type);
	enc_buf_uleb(b, g->addr);
	enc_buf_uleb(b, g->file);
	enc_buf_uleb(b, g->line);
	enc_buf_uleb(b, g->cu);
	enc_buf_u8(b, g->ext);
	put_opt_str(b, g->linkage);
}

static void put_fn(struct enc_buf *b, const struct rec_fn *f)
{
	enc_buf_uleb(b, f->id);
	put_str(b, f->name);
	enc_buf_uleb(b, f->low_pc);
	enc_buf_uleb(b, f->size);
	enc_buf_uleb(b, f->file);
	enc_buf_sleb(b, f->line);
	enc_buf_uleb(b, f->cu);
	enc_buf_uleb(b, f->ret);
	enc_buf_uleb(b, f->nparams);
	for (uint32_t i = 0; i < f->nparams; i++) {
		put_str(b, f->params[i].name);
		enc_buf_uleb(b, f->params[i].type);
		put_loc(b, &f->params[i].loc);
		enc_buf_uleb(b, f->params[i].line);
	}
	enc_buf_uleb(b, f->nrows);
	for (uint32_t i = 0; i < f->nrows; i++) {
		const struct rec_row *r = &f->rows[i];
		enc_buf_uleb(b, r->off);
		enc_buf_sleb(b, r->line);
		enc_buf_uleb(b, r->col);
		enc_buf_uleb(b, r->flags);
		enc_buf_uleb(b, r->file);
	}
	/* Flag 32 says that the fields most functions lack follow. */
	bool rich = f->linkage || f->frame_base.kind != REC_LOC_NONE || f->nvars || f->nblocks;
	enc_buf_u8(b, (uint8_t)(f->variadic | f->unprototyped << 1 | f->optimized << 2 |
				f->noreturn << 3 | f->abstract << 4 | rich << 5));
	if (!rich)
		return;
	put_opt_str(b, f->linkage);
	put_loc(b, &f->frame_base);
	enc_buf_uleb(b, f->nvars);
	for (uint32_t i = 0; i < f->nvars; i++) {
		const struct rec_var *v = &f->vars[i];
		put_opt_str(b, v->name);
		enc_buf_uleb(b, v->type);
		put_loc(b, &v->loc);
		enc_buf_uleb(b, v->line);
		enc_buf_uleb(b, v->block);
	}
	enc_buf_uleb(b, f->nblocks);
	for (uint32_t i = 0; i < f->nblocks; i++) {
		const struct rec_block *k = &f->blocks[i];
		enc_buf_uleb(b, k->nranges);
		for (uint32_t n = 0; n < k->nranges; n++) {
			enc_buf_uleb(b, k->ranges[n].from);
			enc_buf_uleb(b, k->ranges[n].to);
		}
		enc_buf_uleb(b, k->parent);
		enc_buf_uleb(b, k->origin);
		enc_buf_uleb(b, k->call_file);
		enc_buf_uleb(b, k->call_line);
		enc_buf_uleb(b, k->call_col);
	}
}

/* k: the symbol's place in its key (0 for the compiler's, the executable's index + 1). */
static void put_sym(struct enc_buf *b, uint64_t k, const struct rec_sym *sym)
{
	enc_buf_uleb(b, k);
	put_str(b, sym->name);
	enc_buf_uleb(b, sym->value);
	enc_buf_uleb(b, sym->sect);
	enc_buf_u8(b, (uint8_t)(sym->ext | sym->from_exe << 1));
	enc_buf_uleb(b, sym->desc);
}

/* Writes one section of an image as CHUNK records of about SNAP_CHUNK bytes each. */
static int put_section(struct rec_writer *w, int fd, uint64_t *off, uint8_t sec,
		       const struct ptree *t)
{
	struct ptree_iter it;
	bool open = false;
	int rc = 0;
	for (ptree_iter_first(&it, t); ptree_iter_valid(&it) && !rc; ptree_iter_next(&it)) {
		if (!open) {
			rw_begin(w, fd, *off);
			enc_buf_u8(&w->buf, sec);
			open = true;
		}
		const void *v = ptree_iter_val(&it);
		switch (sec) {
		case SEC_FILES:
			put_file(&w->buf, v);
			break;
		case SEC_TYPES:
			put_type(&w->buf, v);
			break;
		case SEC_FNS:
		case SEC_ABSTRACTS:
			put_fn(&w->buf, v);
			break;
		case SEC_GLOBALS:
			put_global(&w->buf, v);
			break;
		default:
			put_sym(&w->buf, ptree_iter_key(&it).b, v);
		}
		if (w->buf.len >= SNAP_CHUNK) {
			rc = rw_end(w, KIND_CHUNK, 0);
			*off = w->off;
			open = false;
		}
	}
	if (open && !it.error) {
		rc = rw_end(w, KIND_CHUNK, 0);
		*off = w->off;
	} else if (open) {
		rw_abandon(w);
	}
	return rc ? rc : it.error;
}

/* One image: its IMAGE record, then its files, types, functions, symbols, globals and
 * abstract functions. */
static int put_image(int fd, uint64_t *off, const struct snap_image *e)
{
	struct rec_writer w;
	rw_begin(&w, fd, *off);
	put_image_head(&w.buf, e);
	int rc = rw_end(&w, KIND_IMAGE, e->generation);
	*off = w.off;
	/* Functions in fn_layout order: the tree a restart fills in file order, and the one
	 * that marks each unit once. */
	const struct ptree *trees[NSECS] = {&e->st.files, &e->st.types, &e->st.fn_layout,
					    &e->st.syms, &e->st.globals, &e->st.abstracts};
	for (uint8_t k = 0; k < NSECS && !rc; k++)
		rc = put_section(&w, fd, off, SEC_FILES + k, trees[k]);
	return rc;
}

/* A listing of the directory open as dirfd, from its start (a dup shares the offset of
 * earlier listings). */
static DIR *open_dir(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return NULL;
	}
	rewinddir(d);
	return d;
}

/* Removes journal files below first_index, temporary files, and executables that
 * neither `keep` nor a record of the live journal names. Failures only leave garbage
 * behind. */
static void collect_garbage(struct journal *j, const struct names *keep)
{
	DIR *d = open_dir(j->dirfd);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			uint64_t index;
			char tail;
			if ((sscanf(de->d_name, "journal.%16" SCNx64 "%c", &index, &tail) == 1 &&
			     index < j->first_index) || !strcmp(de->d_name, "snapshot.tmp") ||
			    !strcmp(de->d_name, "unknown.tmp"))
				unlinkat(j->dirfd, de->d_name, 0);
		}
		closedir(d);
	}
	d = open_dir(j->exefd);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!names_has(keep, de->d_name) && !names_has(&j->blobs, de->d_name))
			unlinkat(j->exefd, de->d_name, 0);
	}
	closedir(d);
}

/* Opens (creating if needed, durably) journal file `index`: *fd and *size. */
static int open_journal_fd(struct journal *j, uint64_t index, int *fd, uint64_t *size,
			   char *err, size_t errlen)
{
	char name[32];
	journal_name(name, index);
	*fd = openat(j->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (*fd < 0 || fstat(*fd, &st) < 0 || fsync(j->dirfd) < 0) {
		int e = errno;
		if (*fd >= 0)
			close(*fd);
		return say(err, errlen, -e, "cannot open %s/%s: %s", j->dir, name, strerror(e));
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Makes journal file `index` the one appended to. */
static int open_journal_file(struct journal *j, uint64_t index, char *err, size_t errlen)
{
	int fd;
	uint64_t size;
	int rc = open_journal_fd(j, index, &fd, &size, err, errlen);
	if (rc)
		return rc;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->index = index;
	j->fsize = size;
	return 0;
}

/* Moves appends on to the next journal file. The old file ends by naming the new one
 * (a NEXT record), written only once the new one is durably there: a restart that
 * finds a NEXT record naming a missing file knows the newest journal was lost. */
static int rotate(struct journal *j, char *err, size_t errlen)
{
	int fd;
	uint64_t size;
	int rc = open_journal_fd(j, j->index + 1, &fd, &size, err, errlen);
	if (rc)
		return rc;
	struct rec_writer w;
	rw_begin(&w, j->fd, j->fsize);
	rc = finish_append(j, &w, KIND_NEXT, NULL, j->index + 1, err, errlen);
	if (rc) {
		close(fd);
		return rc;
	}
	close(j->fd);
	j->fd = fd;
	j->index++;
	j->fsize = size;
	return 0;
}

static void snap_free(struct snap_image *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		state_release(&v[i].st);
	}
	free(v);
}

/* Writes snapshot.tmp from the copies, syncs it and renames it over `snapshot`. Runs
 * without the lock: it reads only the copies and the journal's fixed fields. *size gets
 * the snapshot's size. */
static int write_snapshot(struct journal *j, const struct snap_image *v, size_t n,
			  uint64_t next, uint64_t *size, char *err, size_t errlen)
{
	int fd = openat(j->dirfd, "snapshot.tmp", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return say(err, errlen, -errno, "cannot create %s/snapshot.tmp: %s", j->dir,
			   strerror(errno));
	struct rec_writer w;
	rw_begin(&w, fd, 0);
	enc_buf_put(&w.buf, SNAP_MAGIC, 4);
	enc_buf_u32(&w.buf, SNAP_VERSION);
	enc_buf_u64(&w.buf, n);
	int rc = rw_end(&w, KIND_HEAD, next);
	uint64_t off = w.off;
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_image(fd, &off, &v[i]);
	if (rc)
		say(err, errlen, rc, "cannot write %s/snapshot.tmp: %s", j->dir, strerror(-rc));
	if (!rc && fsync(fd) < 0)
		rc = say(err, errlen, -errno, "cannot sync %s/snapshot.tmp: %s", j->dir,
			 strerror(errno));
	close(fd);
	if (!rc && (renameat(j->dirfd, "snapshot.tmp", j->dirfd, "snapshot") < 0 ||
		    fsync(j->dirfd) < 0))
		rc = say(err, errlen, -errno, "cannot replace %s/snapshot: %s", j->dir,
			 strerror(errno));
	if (rc)
		unlinkat(j->dirfd, "snapshot.tmp", 0);
	*size = off;
	return rc;
}

/* Notes why a compaction failed (for `status`) and puts the next try off until the
 * journal has grown again. With the lock held. */
static void compaction_failed(struct journal *j, const char *why)
{
	snprintf(j->compact_msg, sizeof j->compact_msg, "%s", why);
	j->compaction_failures++;
	j->retry_bytes = j->journal_bytes + j->compact_bytes;
	j->retry_records = j->journal_records + COMPACT_RECORDS;
}

/* The compactor thread: writes each snapshot the journal rotated for, then retires the
 * journal files it covers. Commits go on meanwhile, into the new journal file. */
static void *compactor(void *arg)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->compacting && !j->stopping)
			pthread_cond_wait(&j->wake, &j->lock);
		if (!j->compacting)
			break;
		struct snap_image *v = j->snap;
		size_t n = j->nsnap;
		uint64_t next = j->snap_next, size = 0;
		pthread_mutex_unlock(&j->lock);
		char err[300] = "";
		int rc = write_snapshot(j, v, n, next, &size, err, sizeof err);
		pthread_mutex_lock(&j->lock);
		if (!rc) {
			/* From here a restart ignores the files below `next`. */
			j->snapshot_bytes = size;
			j->first_index = next;
			j->journal_bytes -= j->rotated_bytes;
			j->journal_records -= j->rotated_records;
			j->compactions++;
			j->compact_msg[0] = 0;
			j->retry_bytes = j->retry_records = 0;
			struct names keep = {0};
			bool ok = true;
			for (size_t i = 0; i < n; i++)
				ok &= names_add(&keep, v[i].exe) == 0;
			if (ok)
				collect_garbage(j, &keep);
			names_clear(&keep);
		} else {
			compaction_failed(j, *err ? err : strerror(-rc));
		}
		snap_free(v, n);
		j->snap = NULL;
		j->nsnap = 0;
		j->compacting = false;
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* Called after each append, with the lock held: when the journal has grown past the
 * snapshot (and compact_bytes), or holds many records, starts a new journal file and
 * hands copies of every image's state to the compactor. */
static void maybe_compact(struct journal *j)
{
	bool big = j->journal_bytes >= j->compact_bytes && j->journal_bytes >= j->snapshot_bytes &&
		   j->journal_bytes >= j->retry_bytes;
	bool many = j->journal_records >= COMPACT_RECORDS && j->journal_records >= j->retry_records;
	if (j->compacting || j->broken || (!big && !many))
		return;
	/* Started at the first compaction, not at attach: a daemon that forks into the
	 * background after attaching would keep no thread started before the fork. */
	int rc = j->have_compactor ? 0 : -pthread_create(&j->compactor, NULL, compactor, j);
	if (rc) {
		char why[100];
		snprintf(why, sizeof why, "cannot start the compactor: %s", strerror(-rc));
		compaction_failed(j, why);
		return;
	}
	j->have_compactor = true;
	struct snap_image *v = calloc(j->nentries ? j->nentries : 1, sizeof *v);
	bool ok = v != NULL;
	for (size_t i = 0; ok && i < j->nentries; i++) {
		const struct entry *e = &j->entries[i];
		v[i].name = strdup(image_name(e->im));
		ok = v[i].name != NULL;
		snprintf(v[i].exe, sizeof v[i].exe, "%s", e->exe);
		state_copy(&e->st, &v[i].st);
		v[i].generation = e->generation;
	}
	char err[600];
	if (!ok || rotate(j, err, sizeof err)) {
		compaction_failed(j, ok ? err : "out of memory");
		if (v)
			snap_free(v, j->nentries);
		return;
	}
	j->snap = v;
	j->nsnap = j->nentries;
	j->snap_next = j->index;
	j->rotated_bytes = j->journal_bytes;
	j->rotated_records = j->journal_records;
	names_clear(&j->blobs);
	j->compacting = true;
	pthread_cond_signal(&j->wake);
}

/* ---- restoring ---- */

struct mapped {
	const uint8_t *p;
	size_t len;
};

static int map_file(struct journal *j, const char *name, struct mapped *m, char *err,
		    size_t errlen)
{
	*m = (struct mapped){NULL, 0};
	int fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return say(err, errlen, -e, "cannot read %s/%s: %s", j->dir, name, strerror(e));
	}
	m->len = (size_t)st.st_size;
	if (m->len) {
		void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			int e = errno;
			close(fd);
			return say(err, errlen, -e, "cannot map %s/%s: %s", j->dir, name,
				   strerror(e));
		}
		m->p = p;
	}
	close(fd);
	return 0;
}

static void unmap_file(struct mapped *m)
{
	if (m->len)
		munmap((void *)m->p, m->len);
}

/* Is there a whole record with a good checksum at off? Fills its fields if so. */
static bool record_at(const struct mapped *m, uint64_t off, uint32_t *kind,
		      uint64_t *generation, const char **payload, size_t *len)
{
	if (m->len - off < HEADER)
		return false;
	const uint8_t *h = m->p + off;
	uint64_t n = enc_get_u64(h + 8);
	if (memcmp(h, MAGIC, 4) || enc_get_u32(h + 28) || n > m->len - off - HEADER)
		return false;
	if (crc32c(crc32c(0, h + HEADER, n), h, 24) != enc_get_u32(h + 24))
		return false;
	*kind = enc_get_u32(h + 4);
	*generation = enc_get_u64(h + 16);
	*payload = (const char *)h + HEADER;
	*len = (size_t)n;
	return true;
}

/* The offset of the first whole record with a good checksum after off, or UINT64_MAX.
 * This is what tells a tear from damage: an append cut short by a crash is the last
 * thing in its file, while a damaged record that a good one follows is not. */
static uint64_t next_good_record(const struct mapped *m, uint64_t off)
{
	for (uint64_t at = off + 1; at + HEADER <= m->len; at++) {
		const void *hit = memmem(m->p + at, m->len - at, MAGIC, 4);
		if (!hit)
			break;
		at = (uint64_t)((const uint8_t *)hit - m->p);
		uint32_t kind;
		uint64_t generation;
		const char *payload;
		size_t len;
		if (record_at(m, at, &kind, &generation, &payload, &len))
			return at;
	}
	return UINT64_MAX;
}

/* Refuses to start over damage at name:off (UINT64_MAX: the file as a whole) and
 * remembers where, for journal_recover. The message says how to recover. */
static int damaged(struct journal *j, const char *name, uint64_t off, char *err,
		   size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int damaged(struct journal *j, const char *name, uint64_t off, char *err,
		   size_t errlen, const char *fmt, ...)
{
	char why[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	char at[40] = "";
	if (off != UINT64_MAX)
		snprintf(at, sizeof at, " at offset %" PRIu64, off);
	j->damaged = true;
	snprintf(j->damaged_file, sizeof j->damaged_file, "%s", name);
	j->damaged_off = off;
	snprintf(j->damaged_msg, sizeof j->damaged_msg, "%s/%s is damaged%s: %s", j->dir, name,
		 at, why);
	return say(err, errlen, -EINVAL, "%s; not starting, as acknowledged commits would be "
		   "missing (no file was changed; `dsymfs recover --config FILE` keeps the "
		   "history before the damage and moves the damaged files aside)", j->damaged_msg);
}

/* A parsed payload: its first line, and the commands after it as a batch. */
struct parsed {
	struct cmd head;
	struct image_item *items;
	size_t nitems;
};

static void parsed_free(struct parsed *p)
{
	cmd_free(&p->head);
	for (size_t i = 0; i < p->nitems; i++)
		cmd_free(&p->items[i].cmd);
	free(p->items);
	memset(p, 0, sizeof *p);
}

/* Does exe/name hold the bytes it is named after (their hash and length)? */
static int verify_blob(struct journal *j, const char *name, char *err, size_t errlen)
{
	int fd = openat(j->exefd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return say(err, errlen, e == ENOENT ? -EINVAL : -e, "names executable exe/%s, "
			   "which cannot be read: %s", name, strerror(e));
	}
	size_t len = (size_t)st.st_size;
	const uint8_t *p = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	int e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return say(err, errlen, -e, "cannot map exe/%s: %s", name, strerror(e));
	char want[BLOB_MAX];
	snprintf(want, sizeof want, "%016" PRIx64 "-%zx", util_hash(p, len), len);
	if (len)
		munmap((void *)p, len);
	if (strcmp(want, name))
		return say(err, errlen, -EINVAL, "names executable exe/%s, whose bytes are not "
			   "the ones it is named after (they hash to %s)", name, want);
	return 0;
}

/* Turns `exe BLOB` into the blob's path, checking the blob the first time it is
 * named. */
static int blob_path(struct journal *j, char **path, char *err, size_t errlen)
{
	if (!blob_name_ok(*path))
		return say(err, errlen, -EINVAL, "names an executable \"%s\" that is not "
			   "one of exe/", *path);
	if (!names_has(&j->blobs, *path)) {
		int rc = verify_blob(j, *path, err, errlen);
		if (!rc && names_add(&j->blobs, *path))
			rc = say(err, errlen, -ENOMEM, "out of memory");
		if (rc)
			return rc;
	}
	size_t n = strlen(j->dir) + strlen(*path) + 6;
	char *full = malloc(n);
	if (!full)
		return say(err, errlen, -ENOMEM, "out of memory");
	snprintf(full, n, "%s/exe/%s", j->dir, *path);
	free(*path);
	*path = full;
	return 0;
}

static int parse_payload(struct journal *j, const char *text, size_t len, struct parsed *p,
			 char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	size_t cap = 0;
	bool have_head = false;
	uint64_t line_no = 0;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		line_no++;
		struct cmd c;
		char why[300];
		int rc = cmd_parse(text + i, n, &c, why, sizeof why);
		i += n + 1;
		if (rc == 1)
			continue;
		if (rc)
			return say(err, errlen, rc, "line %" PRIu64 ": %s", line_no, why);
		if (!have_head) {
			p->head = c;
			have_head = true;
			if (c.kind != CMD_IMAGE)
				return say(err, errlen, -EINVAL, "does not start with an image line");
			if (c.u.image.exe && (rc = blob_path(j, &p->head.u.image.exe, err, errlen)))
				return rc;
			continue;
		}
		if (util_grow(&p->items, &cap, p->nitems + 1, sizeof *p->items)) {
			cmd_free(&c);
			return say(err, errlen, -ENOMEM, "out of memory");
		}
		p->items[p->nitems++] = (struct image_item){c, line_no};
		if (c.kind == CMD_EXE &&
		    (rc = blob_path(j, &p->items[p->nitems - 1].cmd.u.exe.path, err, errlen)))
			return rc;
	}
	return have_head ? 0 : say(err, errlen, -EINVAL, "is empty");
}

static const char *blob_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static int replay_create(struct journal *j, struct ctl_registry *r, const struct parsed *p,
			 char *err, size_t errlen)
{
	const struct cmd *c = &p->head;
	if (!c->u.image.create)
		return say(err, errlen, -EINVAL, "an image is made without create");
	struct image_origin o;
	image_origin_of(c, &o);
	/* The daemon journals every creation with the identity it gave the image; without
	 * one, each replay would draw another random UUID and serve other bytes. */
	if (!o.exe_path && (!o.has_uuid || !o.has_arch))
		return say(err, errlen, -EINVAL, "an image is made without its identity (exe=, or "
			   "uuid= and arch=)");
	int rc = ctl_registry_add(r, c->u.image.name, &o, err, errlen);
	if (rc)
		return rc;
	struct image *im = ctl_registry_find(r, c->u.image.name);
	rc = add_entry(j, im, c->u.image.exe ? blob_of(c->u.image.exe) : "");
	return rc ? say(err, errlen, rc, "out of memory") : 0;
}

/* Applies the parsed batch to its image (without building generations: restore()
 * numbers each image's final state once) and checks it lands on `generation`: the
 * next one for a journaled batch, which must change something; any for a snapshot's. */
static int replay_batch(struct journal *j, struct ctl_registry *r, struct parsed *p,
			uint64_t generation, bool from_snapshot, char *err, size_t errlen)
{
	struct image *im = ctl_registry_find(r, p->head.u.image.name);
	struct entry *e = im ? find_entry(j, im) : NULL;
	if (!e)
		return say(err, errlen, -EINVAL, "names image %s, which it never made",
			   p->head.u.image.name);
	if (!from_snapshot && generation != e->generation + 1)
		return say(err, errlen, -EINVAL, "image %s: a batch numbered generation %" PRIu64
			   " follows generation %" PRIu64, image_name(im), generation,
			   e->generation);
	bool changed;
	char why[1024];
	int rc = image_replay(im, p->items, p->nitems, &changed, why, sizeof why);
	if (rc)
		return say(err, errlen, rc, "image %s does not replay: %s", image_name(im), why);
	if (!from_snapshot && !changed)
		return say(err, errlen, -EINVAL, "image %s: the batch of generation %" PRIu64
			   " changes nothing on replay", image_name(im), generation);
	for (size_t i = 0; i < p->nitems; i++)
		if (p->items[i].cmd.kind == CMD_EXE)
			snprintf(e->exe, sizeof e->exe, "%s", blob_of(p->items[i].cmd.u.exe.path));
	e->generation = generation;
	return 0;
}

static int replay_record(struct journal *j, struct ctl_registry *r, uint32_t kind,
			 uint64_t generation, const char *payload, size_t len, char *err,
			 size_t errlen)
{
	struct parsed p;
	int rc = parse_payload(j, payload, len, &p, err, errlen);
	if (!rc) {
		switch (kind) {
		case KIND_CREATE:
			rc = replay_create(j, r, &p, err, errlen);
			break;
		case KIND_BATCH:
			rc = replay_batch(j, r, &p, generation, false, err, errlen);
			break;
		case KIND_STATE:
			rc = replay_create(j, r, &p, err, errlen);
			if (!rc)
				rc = replay_batch(j, r, &p, generation, true, err, errlen);
			break;
		default:
			rc = say(err, errlen, -EINVAL, "unknown record kind %u", kind);
		}
	}
	parsed_free(&p);
	return rc;
}

/* A HEAD record's payload: a decimal count and a newline. */
static bool parse_count(const char *p, size_t len, uint64_t *out)
{
	if (len < 2 || len > 21 || p[len - 1] != '\n')
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

/* Replays every record of a file. A damaged record is an error, except an append cut
 * short at the end of the last journal file (`tail_ok`): *torn_at gets its offset
 * (UINT64_MAX: none). *next gets the index a NEXT record names (0: none). Nothing is
 * ever appended after a record that was cut short (the next start cuts it off first),
 * so only the end of the last file (or of the one before an empty last file) can be
 * torn: a bad record that a good one follows is damage. */
static int replay_file(struct journal *j, struct ctl_registry *r, const char *name,
		       bool is_snapshot, bool tail_ok, uint64_t *torn_at, uint64_t *first_index,
		       uint64_t *next, char *err, size_t errlen)
{
	struct mapped m;
	int rc = map_file(j, name, &m, err, errlen);
	if (rc)
		return rc;
	*torn_at = UINT64_MAX;
	*next = 0;
	uint64_t states = 0, want_states = UINT64_MAX;
	for (uint64_t off = 0; off < m.len;) {
		uint32_t kind;
		uint64_t generation;
		const char *payload;
		size_t len;
		if (!record_at(&m, off, &kind, &generation, &payload, &len)) {
			uint64_t good = next_good_record(&m, off);
			if (tail_ok && good == UINT64_MAX) {
				*torn_at = off;
				break;
			}
			if (good == UINT64_MAX)
				rc = damaged(j, name, off, err, errlen, "not a whole record with a "
					     "good checksum");
			else
				rc = damaged(j, name, off, err, errlen, "not a whole record with a "
					     "good checksum, yet a good one follows at offset %"
					     PRIu64, good);
			break;
		}
		bool head = kind == KIND_HEAD;
		bool fits = is_snapshot ? (off == 0) == head && (head || kind == KIND_STATE)
					: kind == KIND_CREATE || kind == KIND_BATCH ||
					  (kind == KIND_NEXT && off + HEADER + len == m.len);
		if (!fits) {
			rc = damaged(j, name, off, err, errlen, "record kind %u does not belong "
				     "there", kind);
			break;
		}
		j->journal_records += !is_snapshot;
		states += kind == KIND_STATE;
		char why[1024];
		if (kind == KIND_NEXT) {
			*next = generation;
		} else if (head) {
			*first_index = generation;
			if (len && !parse_count(payload, len, &want_states)) {
				rc = damaged(j, name, off, err, errlen, "its first record does not "
					     "count the images");
				break;
			}
		} else if ((rc = replay_record(j, r, kind, generation, payload, len, why,
					       sizeof why))) {
			if (rc == -EINVAL)
				damaged(j, name, off, err, errlen, "%s", why);
			else
				say(err, errlen, rc, "%s/%s, record at offset %" PRIu64 ": %s",
				    j->dir, name, off, why);
			break;
		}
		off += HEADER + len;
	}
	if (!rc && is_snapshot && !m.len)
		rc = damaged(j, name, 0, err, errlen, "it is empty");
	if (!rc && want_states != UINT64_MAX && states != want_states)
		rc = damaged(j, name, m.len, err, errlen, "it ends after %" PRIu64 " of its %"
			     PRIu64 " images", states, want_states);
	unmap_file(&m);
	return rc;
}

/* ---- loading a binary snapshot ---- */

/* A bounds-checked reader of one record's payload: reading past its end sets `bad` and
 * yields zeros, so a decoder checks once per record rather than once per field. v1: the
 * payload is of format version 1, whose records end before the fields of rich debug
 * info (those come back zero). */
struct dec {
	const uint8_t *p, *end;
	bool bad;
	bool v1;
};

static uint64_t get_uleb(struct dec *d)
{
	uint64_t v = 0;
	for (unsigned shift = 0; d->p < d->end && shift < 64; shift += 7) {
		uint8_t c = *d->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	d->bad = true;
	return 0;
}

static int64_t get_sleb(struct dec *d)
{
	uint64_t v = 0;
	for (unsigned shift = 0; d->p < d->end && shift < 64;) {
		uint8_t c = *d->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
		if (!(c & 0x80)) {
			if (shift < 64 && (c & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
	d->bad = true;
	return 0;
}

static const uint8_t *get_bytes(struct dec *d, uint64_t n)
{
	if ((uint64_t)(d->end - d->p) < n) {
		d->bad = true;
		d->p = d->end;
		return NULL;
	}
	const uint8_t *p = d->p;
	d->p += n;
	return p;
}

static uint8_t get_u8(struct dec *d)
{
	const uint8_t *p = get_bytes(d, 1);
	return p ? *p : 0;
}

static uint32_t get_u32(struct dec *d)
{
	const uint8_t *p = get_bytes(d, 4);
	return p ? enc_get_u32(p) : 0;
}

static uint64_t get_u64(struct dec *d)
{
	const uint8_t *p = get_bytes(d, 8);
	return p ? enc_get_u64(p) : 0;
}

/* A ULEB that must fit in 32 bits. */
static uint32_t get_uleb32(struct dec *d)
{
	uint64_t v = get_uleb(d);
	if (v > UINT32_MAX)
		d->bad = true;
	return (uint32_t)v;
}

/* A count of items that take at least min bytes each: one past what is left is damage,
 * not an allocation to try. */
static uint32_t get_count(struct dec *d, unsigned min)
{
	uint64_t n = get_uleb(d);
	if (n > (uint64_t)(d->end - d->p) / min || n > UINT32_MAX)
		d->bad = true;
	return d->bad ? 0 : (uint32_t)n;
}

/* A string (put_str; put_opt_str when opt) into *out, malloc'd; NULL when absent or
 * bad. -ENOMEM. */
static int get_str(struct dec *d, bool opt, char **out)
{
	*out = NULL;
	uint64_t n = get_uleb(d);
	if (opt && !n)
		return 0;
	n -= opt;
	const uint8_t *p = get_bytes(d, n);
	if (!p)
		return 0;
	if (memchr(p, 0, n)) {
		d->bad = true;
		return 0;
	}
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, p, n);
	(*out)[n] = 0;
	return 0;
}

/* A string into a fixed field of cap bytes (a Mach-O name). */
static void get_name(struct dec *d, char *out, size_t cap)
{
	uint64_t n = get_uleb(d);
	const uint8_t *p = n < cap ? get_bytes(d, n) : NULL;
	if (!p || memchr(p, 0, n)) {
		d->bad = true;
		n = 0;
	}
	if (n)
		memcpy(out, p, n);
	out[n] = 0;
}

/* The image a snapshot is loading: its records go straight into a state of its own,
 * which becomes the image's once its last section is read. */
struct snap_load {
	bool active;
	size_t entry;             /* its index in j->entries */
	uint64_t generation;
	struct state st;
	uint64_t want[NSECS];     /* records per section, as the IMAGE record counts them */
	uint8_t sec;              /* the section being read; 0: none yet */
	bool any;                 /* a record of it was read: last is set */
	struct ptree_key last;    /* its key (files, types: the id) */
	struct rec_fn **fns;      /* in fn_layout order; [owned, nfns) hold a reference */
	size_t nfns, owned;
};

static void load_reset(struct snap_load *l)
{
	for (size_t i = l->owned; i < l->nfns; i++)
		rec_fn_unref(l->fns[i]);
	state_release(&l->st);
	free(l->fns);
	memset(l, 0, sizeof *l);
}

/* The IMAGE record: creates the image (with the snapshot's identity; its state comes
 * from the sections). */
static int load_image_head(struct journal *j, struct ctl_registry *r, struct snap_load *l,
			   struct dec *d, uint64_t generation, char *err, size_t errlen)
{
	char *name = NULL, *exe = NULL;
	struct macho_ident id = {0};
	struct macho_segtab t = {0};
	int rc = get_str(d, false, &name);
	if (!rc)
		rc = get_str(d, false, &exe);
	const uint8_t *uuid = get_bytes(d, sizeof id.uuid);
	if (uuid)
		memcpy(id.uuid, uuid, sizeof id.uuid);
	id.cputype = get_u32(d);
	id.cpusubtype = get_u32(d);
	id.has_build = get_u8(d) != 0;
	id.platform = get_u32(d);
	id.minos = get_u32(d);
	id.sdk = get_u32(d);
	uint64_t nsegs = get_uleb(d);
	if (nsegs > MACHO_MAX_SEGS)
		d->bad = true;
	t.segs = !rc && !d->bad && nsegs ? calloc(nsegs, sizeof *t.segs) : NULL;
	if (nsegs && !d->bad && !t.segs)
		rc = -ENOMEM;
	for (uint32_t i = 0; !rc && !d->bad && i < nsegs; i++) {
		struct macho_segment *seg = &t.segs[i];
		t.nsegs++;
		get_name(d, seg->segname, sizeof seg->segname);
		seg->vmaddr = get_u64(d);
		seg->vmsize = get_u64(d);
		seg->maxprot = get_u32(d);
		seg->initprot = get_u32(d);
		seg->flags = get_u32(d);
		uint64_t nsects = get_uleb(d);
		if (nsects > MACHO_MAX_SECTS)
			d->bad = true;
		seg->sects = !d->bad && nsects ? calloc(nsects, sizeof *seg->sects) : NULL;
		if (nsects && !d->bad && !seg->sects)
			rc = -ENOMEM;
		for (uint32_t k = 0; !rc && !d->bad && k < nsects; k++) {
			struct macho_section *sect = &seg->sects[k];
			seg->nsects++;
			get_name(d, sect->sectname, sizeof sect->sectname);
			get_name(d, sect->segname, sizeof sect->segname);
			sect->addr = get_u64(d);
			sect->size = get_u64(d);
			sect->align = get_u32(d);
			sect->flags = get_u32(d);
			sect->reserved1 = get_u32(d);
			sect->reserved2 = get_u32(d);
			sect->reserved3 = get_u32(d);
		}
	}
	for (int k = 0; k < (d->v1 ? SEC_LAST_V1 : NSECS); k++)
		l->want[k] = get_uleb(d);
	if (!rc && (d->bad || d->p != d->end))
		rc = say(err, errlen, -EINVAL, "an image record that does not decode");
	else if (rc)
		say(err, errlen, rc, "out of memory");
	if (!rc && *exe && !blob_name_ok(exe))
		rc = say(err, errlen, -EINVAL, "names an executable \"%s\" that is not one of "
			 "exe/", exe);
	if (!rc && *exe && !names_has(&j->blobs, exe)) {
		rc = verify_blob(j, exe, err, errlen);
		if (!rc && names_add(&j->blobs, exe))
			rc = say(err, errlen, -ENOMEM, "out of memory");
	}
	if (!rc) {
		struct image_origin o = {.has_uuid = true, .has_arch = true,
					 .cputype = id.cputype, .cpusubtype = id.cpusubtype};
		memcpy(o.uuid, id.uuid, sizeof o.uuid);
		rc = ctl_registry_add(r, name, &o, err, errlen);
	}
	if (!rc && add_entry(j, ctl_registry_find(r, name), exe))
		rc = say(err, errlen, -ENOMEM, "out of memory");
	if (!rc && state_init(&l->st, &id, &t))
		rc = say(err, errlen, -ENOMEM, "out of memory");
	if (!rc) {
		l->active = true;
		l->entry = j->nentries - 1;
		l->generation = generation;
	}
	macho_segtab_free(&t);
	free(name);
	free(exe);
	return rc;
}

static int load_file(struct snap_load *l, struct dec *d)
{
	struct rec_file *f = rec_file_new();
	if (!f)
		return -ENOMEM;
	f->id = get_uleb(d);
	int rc = get_str(d, false, &f->path);
	if (!rc)
		rc = get_str(d, true, &f->dir);
	if (!d->v1)
		f->lang = get_uleb32(d);
	if (!rc && d->bad)
		rc = -EINVAL;
	if (!rc)
		rc = state_put(&l->st.files, state_id_key(f->id), f);
	l->last = state_id_key(f->id);
	rec_file_unref(f);
	return rc;
}

/* A location (put_loc) into *l, zeroed on entry; a list only where in_list is false.
 * *l is left fit for rec_loc_free whatever happens. -ENOMEM. */
static int get_loc(struct dec *d, struct rec_loc *l, bool in_list)
{
	uint8_t kind = get_u8(d);
	if (kind > REC_LOC_LIST || (kind == REC_LOC_LIST && in_list))
		d->bad = true;
	if (d->bad || kind == REC_LOC_NONE)
		return 0;
	l->reg = get_uleb32(d);
	l->value = get_sleb(d);
	uint64_t len = get_uleb(d);
	if (len > UINT32_MAX)
		d->bad = true;
	if (d->bad)
		return 0;
	l->kind = (enum rec_loc_kind)kind;
	if (kind == REC_LOC_EXPR) {
		const uint8_t *p = get_bytes(d, len);
		if (!p || !len)
			return 0;
		l->bytes = malloc(len);
		if (!l->bytes)
			return -ENOMEM;
		memcpy(l->bytes, p, len);
		l->len = (uint32_t)len;
		return 0;
	}
	if (kind != REC_LOC_LIST) {
		l->len = (uint32_t)len;
		return 0;
	}
	/* An entry takes at least 3 bytes. */
	if (len > (uint64_t)(d->end - d->p) / 3) {
		d->bad = true;
		return 0;
	}
	l->entries = len ? calloc(len, sizeof *l->entries) : NULL;
	if (len && !l->entries)
		return -ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; !rc && !d->bad && i < len; i++) {
		struct rec_loc_entry *e = &l->entries[i];
		l->len++;
		e->from = get_uleb(d);
		e->to = get_uleb(d);
		rc = get_loc(d, &e->loc, true);
	}
	return rc;
}

/* The fields of a type that format version 2 added: declaration, scope, alignment,
 * members, enumerators, dimensions and a function type's signature. -ENOMEM. */
static int load_type_rich(struct dec *d, struct rec_type *t)
{
	t->file = get_uleb(d);
	t->line = get_uleb32(d);
	t->scope = get_uleb(d);
	t->align = get_uleb(d);
	uint8_t flags = get_u8(d);
	if (flags > 7)
		d->bad = true;
	t->decl = flags & 1;
	t->variadic = (flags & 2) != 0;
	t->unprototyped = (flags & 4) != 0;
	uint32_t n = get_count(d, 5);
	t->members = n ? calloc(n, sizeof *t->members) : NULL;
	if (n && !t->members)
		return -ENOMEM;
	int rc = 0;
	for (uint32_t i = 0; !rc && !d->bad && i < n; i++) {
		struct rec_member *m = &t->members[i];
		t->nmembers++;
		rc = get_str(d, true, &m->name);
		m->type = get_uleb(d);
		m->off = get_uleb(d);
		m->bits = get_uleb32(d);
		m->bitoff = get_uleb32(d);
	}
	n = rc ? 0 : get_count(d, 18);
	t->enumerators = n ? calloc(n, sizeof *t->enumerators) : NULL;
	if (n && !t->enumerators)
		return -ENOMEM;
	for (uint32_t i = 0; !rc && !d->bad && i < n; i++) {
		struct rec_enumerator *e = &t->enumerators[i];
		t->nenumerators++;
		rc = get_str(d, true, &e->name);
		e->lo = get_u64(d);
		e->hi = get_u64(d);
		uint8_t neg = get_u8(d);
		if (neg > 1)
			d->bad = true;
		e->neg = neg;
	}
	n = rc ? 0 : get_count(d, 1);
	t->dims = n ? calloc(n, sizeof *t->dims) : NULL;
	if (n && !t->dims)
		return -ENOMEM;
	t->ndims = n;
	for (uint32_t i = 0; i < n; i++)
		t->dims[i] = get_uleb(d);
	t->ret = get_uleb(d);
	n = rc ? 0 : get_count(d, 1);
	t->params = n ? calloc(n, sizeof *t->params) : NULL;
	if (n && !t->params)
		return -ENOMEM;
	t->nparams = n;
	for (uint32_t i = 0; i < n; i++)
		t->params[i] = get_uleb(d);
	return rc;
}

static int load_type(struct snap_load *l, struct dec *d)
{
	struct rec_type *t = rec_type_new();
	if (!t)
		return -ENOMEM;
	t->id = get_uleb(d);
	uint8_t kind = get_u8(d);
	t->kind = (enum rec_type_kind)kind;
	int rc = get_str(d, true, &t->name);
	t->size = get_uleb(d);
	uint8_t enc = get_u8(d);
	t->enc = (enum rec_base_enc)enc;
	t->to = get_uleb(d);
	if (!rc && !d->v1)
		rc = load_type_rich(d, t);
	if (!rc && (d->bad || kind < REC_TYPE_BASE ||
		    kind > (d->v1 ? REC_TYPE_TYPEDEF : REC_TYPE_RESTRICT) ||
		    enc > REC_ENC_UNSIGNED_CHAR))
		rc = -EINVAL;
	if (!rc)
		rc = dwarf_encode_type(t);
	if (!rc)
		rc = state_put(&l->st.types, state_id_key(t->id), t);
	l->last = state_id_key(t->id);
	rec_type_unref(t);
	return rc;
}

/* The fields of a function that format version 2 added, after its rows: flags, then
 * when flag 32 says so linkage name, frame base, variables and blocks. -ENOMEM. */
static int load_fn_rich(struct dec *d, struct rec_fn *f)
{
	uint8_t flags = get_u8(d);
	if (flags > 63)
		d->bad = true;
	f->variadic = flags & 1;
	f->unprototyped = (flags & 2) != 0;
	f->optimized = (flags & 4) != 0;
	f->noreturn = (flags & 8) != 0;
	f->abstract = (flags & 16) != 0;
	if (!(flags & 32) || d->bad)
		return 0;
	int rc = get_str(d, true, &f->linkage);
	if (!rc)
		rc = get_loc(d, &f->frame_base, false);
	uint32_t n = rc ? 0 : get_count(d, 5);
	f->vars = n ? calloc(n, sizeof *f->vars) : NULL;
	if (n && !f->vars)
		return -ENOMEM;
	for (uint32_t i = 0; !rc && !d->bad && i < n; i++) {
		struct rec_var *v = &f->vars[i];
		f->nvars++;
		rc = get_str(d, true, &v->name);
		v->type = get_uleb(d);
		if (!rc)
			rc = get_loc(d, &v->loc, false);
		v->line = get_uleb32(d);
		v->block = get_uleb32(d);
	}
	n = rc ? 0 : get_count(d, 6);
	f->blocks = n ? calloc(n, sizeof *f->blocks) : NULL;
	if (n && !f->blocks)
		return -ENOMEM;
	for (uint32_t i = 0; !rc && !d->bad && i < n; i++) {
		struct rec_block *k = &f->blocks[i];
		f->nblocks++;
		uint32_t nr = get_count(d, 2);
		k->ranges = nr ? calloc(nr, sizeof *k->ranges) : NULL;
		if (nr && !k->ranges)
			return -ENOMEM;
		k->nranges = nr;
		for (uint32_t r = 0; r < nr; r++) {
			k->ranges[r].from = get_uleb(d);
			k->ranges[r].to = get_uleb(d);
		}
		k->parent = get_uleb32(d);
		k->origin = get_uleb(d);
		k->call_file = get_uleb(d);
		k->call_line = get_uleb32(d);
		k->call_col = get_uleb32(d);
	}
	return rc;
}

/* One function, encoded; *out holds a reference. abstract: whether the section it is
 * read from holds the abstract functions (a function of the other kind is damage).
 * Touches nothing shared, so chunks of functions decode on several threads at once. */
static int load_fn(struct dec *d, bool abstract, struct rec_fn **out)
{
	struct rec_fn *f = rec_fn_new();
	if (!f)
		return -ENOMEM;
	f->id = get_uleb(d);
	int rc = get_str(d, false, &f->name);
	f->low_pc = get_uleb(d);
	f->size = get_uleb(d);
	f->file = get_uleb(d);
	f->line = get_sleb(d);
	f->cu = get_uleb(d);
	f->ret = get_uleb(d);
	uint64_t np = get_uleb(d);
	/* Each parameter and row takes at least 2 and 5 bytes: a count past what is left
	 * is damage, not an allocation to try. */
	if (np > (uint64_t)(d->end - d->p) / 2)
		d->bad = true;
	f->params = !rc && !d->bad && np ? calloc(np, sizeof *f->params) : NULL;
	if (np && !d->bad && !f->params)
		rc = -ENOMEM;
	for (uint32_t i = 0; !rc && !d->bad && i < np; i++) {
		f->nparams++;
		rc = get_str(d, false, &f->params[i].name);
		f->params[i].type = get_uleb(d);
		if (!rc && !d->v1) {
			rc = get_loc(d, &f->params[i].loc, false);
			f->params[i].line = get_uleb32(d);
		}
	}
	uint64_t nr = get_uleb(d);
	if (nr > (uint64_t)(d->end - d->p) / 5)
		d->bad = true;
	f->rows = !rc && !d->bad && nr ? calloc(nr, sizeof *f->rows) : NULL;
	if (nr && !d->bad && !f->rows)
		rc = -ENOMEM;
	for (uint32_t i = 0; !rc && !d->bad && i < nr; i++) {
		struct rec_row *row = &f->rows[i];
		f->nrows++;
		row->off = get_uleb32(d);
		int64_t line = get_sleb(d);
		if (line < INT32_MIN || line > INT32_MAX)
			d->bad = true;
		row->line = (int32_t)line;
		row->col = get_uleb32(d);
		row->flags = get_uleb32(d);
		row->file = get_uleb(d);
	}
	if (!rc && !d->bad && !d->v1)
		rc = load_fn_rich(d, f);
	if (!rc && (d->bad || f->abstract != abstract))
		rc = -EINVAL;
	if (!rc)
		rc = dwarf_encode_fn(f);
	if (rc) {
		rec_fn_unref(f);
		return rc;
	}
	*out = f;
	return 0;
}

static int load_sym(struct snap_load *l, struct dec *d)
{
	struct rec_sym *s = rec_sym_new();
	if (!s)
		return -ENOMEM;
	uint64_t k = get_uleb(d);
	int rc = get_str(d, false, &s->name);
	s->value = get_uleb(d);
	s->sect = get_uleb32(d);
	uint8_t flags = get_u8(d);
	s->ext = flags & 1;
	s->from_exe = (flags & 2) != 0;
	uint64_t desc = get_uleb(d);
	s->desc = (uint16_t)desc;
	if (!rc && (d->bad || flags > 3 || desc > UINT16_MAX || (k != 0) != s->from_exe))
		rc = -EINVAL;
	if (!rc)
		rc = state_put(&l->st.syms, k ? state_exe_sym_key(k, s->name) : state_sym_key(s->name),
			       s);
	rec_sym_unref(s);
	return rc;
}

static int load_global(struct snap_load *l, struct dec *d)
{
	struct rec_global *g = rec_global_new();
	if (!g)
		return -ENOMEM;
	g->id = get_uleb(d);
	int rc = get_str(d, false, &g->name);
	g->type = get_uleb(d);
	g->addr = get_uleb(d);
	g->file = get_uleb(d);
	g->line = get_uleb32(d);
	g->cu = get_uleb(d);
	uint8_t ext = get_u8(d);
	g->ext = ext;
	if (!rc)
		rc = get_str(d, true, &g->linkage);
	if (!rc && (d->bad || ext > 1))
		rc = -EINVAL;
	if (!rc)
		rc = dwarf_encode_global(g);
	if (!rc)
		rc = state_put(&l->st.globals, state_id_key(g->id), g);
	l->last = state_id_key(g->id);
	rec_global_unref(g);
	return rc;
}

/* An abstract function: into `abstracts` here, and into fn_by_id once that is built. */
static int load_abstract(struct snap_load *l, struct dec *d)
{
	struct rec_fn *f;
	int rc = load_fn(d, true, &f);
	if (rc)
		return rc;
	rc = state_put(&l->st.abstracts, state_id_key(f->id), f);
	l->last = state_id_key(f->id);
	rec_fn_unref(f);
	return rc;
}

/* Checks that a CHUNK record of section sec may come next (v1: in a snapshot of format
 * version 1, which has the first four sections only). */
static int chunk_fits(const struct snap_load *l, uint8_t sec, bool v1, char *err,
		      size_t errlen)
{
	if (!l->active || sec < SEC_FILES || sec > (v1 ? SEC_LAST_V1 : NSECS) || sec < l->sec)
		return say(err, errlen, -EINVAL, "a section record that does not belong there");
	return 0;
}

/* A CHUNK record of any section but functions: records in key order to the payload's
 * end. */
static int load_chunk(struct snap_load *l, struct dec *d, char *err, size_t errlen)
{
	uint8_t sec = get_u8(d);
	int fit = chunk_fits(l, sec, d->v1, err, errlen);
	if (fit)
		return fit;
	if (sec != l->sec)
		l->any = false;
	l->sec = sec;
	while (d->p < d->end) {
		struct ptree_key prev = l->last;
		int rc;
		switch (sec) {
		case SEC_FILES:
			rc = load_file(l, d);
			break;
		case SEC_TYPES:
			rc = load_type(l, d);
			break;
		case SEC_GLOBALS:
			rc = load_global(l, d);
			break;
		case SEC_ABSTRACTS:
			rc = load_abstract(l, d);
			break;
		default:
			rc = load_sym(l, d);
		}
		/* Records of every section but symbols come in strictly increasing id order,
		 * so the trees fill in order and a repeat is damage. */
		if (!rc && sec != SEC_SYMS && l->any && ptree_key_cmp(l->last, prev) <= 0)
			rc = -EINVAL;
		l->any = true;
		if (rc == -ENOMEM)
			return say(err, errlen, rc, "out of memory");
		if (rc)
			return say(err, errlen, rc, "a record of section %u that does not decode",
				   sec);
	}
	return 0;
}

/* A record of the snapshot, verified. */
struct snap_rec {
	uint64_t off;
	uint32_t kind;
	uint64_t generation;
	const uint8_t *p;
	size_t len;
};

/* Functions of CHUNK records [from, to) decoded by one thread: v holds them in order,
 * each with a reference; on failure rc, the record's offset and why. */
struct fn_job {
	const struct snap_rec *recs;
	size_t from, to;
	bool v1;                  /* the snapshot's format version is 1 */
	struct rec_fn **v;
	size_t n, cap;
	int rc;
	uint64_t off;
	char why[200];
};

static void *fn_job_run(void *arg)
{
	struct fn_job *job = arg;
	for (size_t i = job->from; i < job->to && !job->rc; i++) {
		struct dec d = {job->recs[i].p + 1, job->recs[i].p + job->recs[i].len, false,
				job->v1};
		while (d.p < d.end && !job->rc) {
			if (util_grow(&job->v, &job->cap, job->n + 1, sizeof *job->v)) {
				job->rc = -ENOMEM;
				break;
			}
			job->rc = load_fn(&d, false, &job->v[job->n]);
			job->n += !job->rc;
		}
		if (job->rc) {
			job->off = job->recs[i].off;
			snprintf(job->why, sizeof job->why, "%s", job->rc == -ENOMEM ? "out of memory"
				 : "a record of section 3 that does not decode");
		}
	}
	return NULL;
}

static void fn_job_free(struct fn_job *job)
{
	for (size_t i = 0; i < job->n; i++)
		rec_fn_unref(job->v[i]);
	free(job->v);
}

/* Runs job on a thread of its own (*started says whether it could) or, failing that,
 * right here: the result is the same, only slower. */
static void run_aside(pthread_t *t, bool *started, void *(*fn)(void *), void *job)
{
	*started = pthread_create(t, NULL, fn, job) == 0;
	if (!*started)
		fn(job);
}

/* Decodes the function CHUNK records [from, to) into l->fns, on two threads: the
 * decoding and encoding of functions is most of a restart's work. On failure *fail_off
 * is the offset of the first record that failed. */
static int load_fn_chunks(struct snap_load *l, const struct snap_rec *recs, size_t from,
			  size_t to, bool v1, uint64_t *fail_off, char *err, size_t errlen)
{
	size_t total = 0, half = 0, mid = from;
	for (size_t i = from; i < to; i++)
		total += recs[i].len;
	while (mid < to && half < total / 2)
		half += recs[mid++].len;
	struct fn_job jobs[2] = {{.recs = recs, .from = from, .to = mid, .v1 = v1},
				 {.recs = recs, .from = mid, .to = to, .v1 = v1}};
	pthread_t t;
	bool started;
	run_aside(&t, &started, fn_job_run, &jobs[1]);
	fn_job_run(&jobs[0]);
	if (started)
		pthread_join(t, NULL);
	int rc = 0;
	for (int k = 0; k < 2 && !rc; k++)
		if (jobs[k].rc) {
			rc = say(err, errlen, jobs[k].rc == -ENOMEM ? -ENOMEM : -EINVAL, "%s",
				 jobs[k].why);
			*fail_off = jobs[k].off;
		}
	size_t n = l->nfns + jobs[0].n + jobs[1].n;
	struct rec_fn **v = rc ? NULL : realloc(l->fns, (n ? n : 1) * sizeof *v);
	if (!rc && !v) {
		rc = say(err, errlen, -ENOMEM, "out of memory");
		*fail_off = recs[from].off;
	}
	if (rc) {
		fn_job_free(&jobs[0]);
		fn_job_free(&jobs[1]);
		return rc;
	}
	l->fns = v;
	for (int k = 0; k < 2; k++) {
		if (jobs[k].n)
			memcpy(l->fns + l->nfns, jobs[k].v, jobs[k].n * sizeof *v);
		l->nfns += jobs[k].n;
		free(jobs[k].v);
	}
	l->sec = SEC_FNS;
	return 0;
}

static int id_cmp(const void *x, const void *y)
{
	const struct rec_fn *f = *(const struct rec_fn *const *)x;
	const struct rec_fn *g = *(const struct rec_fn *const *)y;
	return f->id < g->id ? -1 : f->id > g->id;
}

static int addr_cmp(const void *x, const void *y)
{
	const struct rec_fn *f = *(const struct rec_fn *const *)x;
	const struct rec_fn *g = *(const struct rec_fn *const *)y;
	if (f->low_pc != g->low_pc)
		return f->low_pc < g->low_pc ? -1 : 1;
	return f->id < g->id ? -1 : f->id > g->id;
}

/* Sorts the functions unless they already are in that order (a compiler that numbers
 * functions in file or address order leaves nothing to sort). */
static void sort_fns(struct rec_fn **v, size_t n, int (*cmp)(const void *, const void *))
{
	for (size_t i = 1; i < n; i++)
		if (cmp(&v[i - 1], &v[i]) > 0) {
			qsort(v, n, sizeof *v, cmp);
			return;
		}
}

/* fn_by_id or fn_by_addr, built beside fn_layout from a copy of the functions it
 * borrows (they stay referenced by the array or fn_layout meanwhile). */
struct tree_job {
	struct ptree *t;
	bool by_addr;
	struct rec_fn **v;
	size_t n;
	int rc;
};

static void *tree_job_run(void *arg)
{
	struct tree_job *job = arg;
	sort_fns(job->v, job->n, job->by_addr ? addr_cmp : id_cmp);
	for (size_t i = 0; i < job->n && !job->rc; i++) {
		struct rec_fn *f = job->v[i];
		job->rc = state_put(job->t, job->by_addr ? state_addr_key(f) : state_id_key(f->id),
				    f);
	}
	return NULL;
}

/* The image's sections are all read: builds the three function trees side by side,
 * derives the tables and units, and hands the state to the image.
 * Each tree is filled in key order, so each insertion walks the path the previous one
 * left in the cache. */
static int load_image_end(struct journal *j, struct snap_load *l, char *err, size_t errlen)
{
	struct state *s = &l->st;
	struct entry *e = &j->entries[l->entry];
	size_t n = l->nfns;
	struct tree_job jobs[2] = {{&s->fn_by_id, false, NULL, n, 0},
				   {&s->fn_by_addr, true, NULL, n, 0}};
	pthread_t t[2];
	bool started[2] = {false, false};
	int rc = 0;
	for (int k = 0; k < 2 && !rc; k++) {
		jobs[k].v = malloc((n ? n : 1) * sizeof *l->fns);
		if (!jobs[k].v)
			rc = -ENOMEM;
		else if (n)
			memcpy(jobs[k].v, l->fns, n * sizeof *l->fns);
	}
	for (int k = 0; k < 2 && !rc; k++)
		run_aside(&t[k], &started[k], tree_job_run, &jobs[k]);
	/* Functions come in strictly increasing layout order: a repeat is damage, caught
	 * before it could replace a record the other threads still read. */
	for (size_t i = 0; i < n && !rc; i++) {
		struct rec_fn *f = l->fns[i];
		if (i && ptree_key_cmp(state_layout_key(l->fns[i - 1]), state_layout_key(f)) >= 0)
			rc = -EINVAL;
		if (!rc)
			rc = state_put(&s->fn_layout, state_layout_key(f), f);
		if (!rc)
			rc = state_mark_fn(s, f);
		if (!rc) {
			rec_fn_unref(f);  /* fn_layout holds it now */
			l->owned = i + 1;
		}
	}
	for (int k = 0; k < 2; k++) {
		if (started[k])
			pthread_join(t[k], NULL);
		free(jobs[k].v);
		if (!rc)
			rc = jobs[k].rc;
	}
	/* Abstract functions have no code, so no place in the layout or the address order:
	 * they join fn_by_id only. An id that a function with code has too replaces it
	 * there, and the count below finds it. */
	struct ptree_iter it;
	for (ptree_iter_first(&it, &s->abstracts); !rc && ptree_iter_valid(&it);
	     ptree_iter_next(&it)) {
		struct rec_fn *f = ptree_iter_val(&it);
		rc = state_put(&s->fn_by_id, state_id_key(f->id), f);
	}
	if (!rc)
		rc = it.error;
	if (rc == -ENOMEM)
		return say(err, errlen, rc, "out of memory");
	if (rc == -EINVAL)
		return say(err, errlen, rc, "image %s has functions out of order", image_name(e->im));
	const struct ptree *trees[NSECS] = {&s->files, &s->types, &s->fn_by_id, &s->syms,
					    &s->globals, &s->abstracts};
	static const char *const what[NSECS] = {"files", "types", "functions", "symbols",
						"globals", "abstract functions"};
	for (int k = 0; k < NSECS; k++)
		if (ptree_count(trees[k]) != l->want[k])
			return say(err, errlen, -EINVAL, "image %s has %" PRIu64 " of its %" PRIu64
				   " %s", image_name(e->im), ptree_count(trees[k]), l->want[k],
				   what[k]);
	rc = state_rebuild_names(s);
	if (!rc)
		rc = state_rebuild_files(s);
	if (!rc)
		rc = state_rebuild_types(s);
	if (!rc)
		rc = state_settle(s);
	if (rc)
		return say(err, errlen, rc, "out of memory");
	char why[300];
	rc = image_restore_state(e->im, s, why, sizeof why);
	if (rc)
		return say(err, errlen, rc, "image %s does not restore: %s", image_name(e->im),
			   why);
	e->generation = l->generation;
	load_reset(l);
	return 0;
}

/* Reports a failure of the snapshot's record at off: damage for -EINVAL. */
static int snapshot_failed(struct journal *j, int rc, uint64_t off, const char *why,
			   char *err, size_t errlen)
{
	if (rc == -EINVAL)
		return damaged(j, "snapshot", off, err, errlen, "%s", why);
	return say(err, errlen, rc, "%s/snapshot, record at offset %" PRIu64 ": %s", j->dir, off,
		   why);
}

/* The snapshot's records, each verified (damage otherwise), into *out (malloc'd). */
static int snapshot_records(struct journal *j, const struct mapped *m, struct snap_rec **out,
			    size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	for (uint64_t off = 0; off < m->len;) {
		uint32_t kind;
		uint64_t generation;
		const char *payload;
		size_t len;
		if (!record_at(m, off, &kind, &generation, &payload, &len)) {
			uint64_t good = next_good_record(m, off);
			if (good == UINT64_MAX)
				return damaged(j, "snapshot", off, err, errlen, "not a whole record "
					       "with a good checksum");
			return damaged(j, "snapshot", off, err, errlen, "not a whole record with a "
				       "good checksum, yet a good one follows at offset %" PRIu64,
				       good);
		}
		if ((off == 0) != (kind == KIND_HEAD) ||
		    (kind != KIND_HEAD && kind != KIND_IMAGE && kind != KIND_CHUNK))
			return damaged(j, "snapshot", off, err, errlen, "record kind %u does not "
				       "belong there", kind);
		if (util_grow(out, &cap, *n + 1, sizeof **out))
			return say(err, errlen, -ENOMEM, "out of memory");
		(*out)[(*n)++] = (struct snap_rec){off, kind, generation,
						   (const uint8_t *)payload, len};
		off += HEADER + len;
	}
	return 0;
}

static bool is_fn_chunk(const struct snap_rec *r)
{
	return r->kind == KIND_CHUNK && r->len && r->p[0] == SEC_FNS;
}

/* Restores every image of the snapshot; *first_index gets the journal index it does not
 * cover. A snapshot of protocol text (written before the binary format) is replayed. */
static int load_snapshot(struct journal *j, struct ctl_registry *r, uint64_t *first_index,
			 char *err, size_t errlen)
{
	struct mapped m;
	int rc = map_file(j, "snapshot", &m, err, errlen);
	if (rc)
		return rc;
	uint32_t kind;
	uint64_t generation;
	const char *payload;
	size_t len;
	if (record_at(&m, 0, &kind, &generation, &payload, &len) && kind == KIND_HEAD &&
	    (len != SNAP_HEAD_LEN || memcmp(payload, SNAP_MAGIC, 4))) {
		unmap_file(&m);
		uint64_t torn, none;
		return replay_file(j, r, "snapshot", true, false, &torn, first_index, &none, err,
				   errlen);
	}
	struct snap_rec *recs = NULL;
	size_t n = 0;
	rc = snapshot_records(j, &m, &recs, &n, err, errlen);
	if (!rc && !n)
		rc = damaged(j, "snapshot", 0, err, errlen, "it is empty");
	struct snap_load l = {0};
	uint64_t images = 0, want_images = 0;
	bool v1 = false;
	char why[1024];
	for (size_t i = 0; i < n && !rc;) {
		const struct snap_rec *sr = &recs[i];
		struct dec d = {sr->p, sr->p + sr->len, false, v1};
		uint64_t fail_off = sr->off;
		if (sr->kind == KIND_HEAD) {
			get_bytes(&d, 4);
			uint32_t version = get_u32(&d);
			want_images = get_u64(&d);
			*first_index = sr->generation;
			/* Version 1 is read by its own rules: a state_dir written before rich
			 * debug info must survive the upgrade, and its records are a prefix of
			 * version 2's. */
			v1 = version == 1;
			if (version != 1 && version != SNAP_VERSION)
				rc = damaged(j, "snapshot", sr->off, err, errlen, "it has format "
					     "version %" PRIu32 ", which this dsymfs does not read (it "
					     "reads 1 and %d)", version, SNAP_VERSION);
			i++;
			continue;
		}
		if (sr->kind == KIND_IMAGE) {
			rc = l.active ? load_image_end(j, &l, why, sizeof why) : 0;
			if (!rc)
				rc = load_image_head(j, r, &l, &d, sr->generation, why, sizeof why);
			images++;
			i++;
		} else if (is_fn_chunk(sr)) {
			size_t to = i;
			while (to < n && is_fn_chunk(&recs[to]))
				to++;
			rc = chunk_fits(&l, SEC_FNS, v1, why, sizeof why);
			if (!rc)
				rc = load_fn_chunks(&l, recs, i, to, v1, &fail_off, why, sizeof why);
			i = to;
		} else {
			rc = load_chunk(&l, &d, why, sizeof why);
			i++;
		}
		if (rc)
			snapshot_failed(j, rc, fail_off, why, err, errlen);
	}
	if (!rc && l.active && (rc = load_image_end(j, &l, why, sizeof why)))
		snapshot_failed(j, rc, m.len, why, err, errlen);
	if (!rc && images != want_images)
		rc = damaged(j, "snapshot", m.len, err, errlen, "it ends after %" PRIu64 " of its %"
			     PRIu64 " images", images, want_images);
	load_reset(&l);
	free(recs);
	unmap_file(&m);
	return rc;
}

static int index_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* The indices of the journal files at or above `from`, ascending (malloc'd). */
static int list_journals(struct journal *j, uint64_t from, uint64_t **out, size_t *n,
			 char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	DIR *d = open_dir(j->dirfd);
	if (!d)
		return say(err, errlen, -errno, "cannot list %s: %s", j->dir, strerror(errno));
	size_t cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) && !rc) {
		uint64_t index;
		char tail;
		if (strlen(de->d_name) != 24 ||
		    sscanf(de->d_name, "journal.%16" SCNx64 "%c", &index, &tail) != 1 ||
		    index < from)
			continue;
		if (util_grow(out, &cap, *n + 1, sizeof **out)) {
			rc = say(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		(*out)[(*n)++] = index;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof **out, index_cmp);
	return rc;
}

/* After a restore: says whether the commit whose outcome a failed append left unknown
 * survived, and forgets it (it is settled now: the journal holds it whole or not). */
static void settle_unknown(struct journal *j, struct ctl_registry *r, char *out,
			   size_t outlen)
{
	int fd = openat(j->dirfd, "unknown", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char text[600];
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	char *nl = strchr(text, '\n'), *name = strchr(text, ' ');
	uint64_t generation = strtoull(text, NULL, 10);
	if (!nl || !name || name > nl)
		return;
	*nl = 0;
	name++;
	struct image *im = ctl_registry_find(r, name);
	uint64_t now = 0;
	if (im) {
		struct gen *g = image_current(im);
		now = gen_number(g);
		gen_unref(g);
	}
	snprintf(out, outlen, "; the commit of image %s generation %" PRIu64 ", whose outcome "
		 "was unknown, %s", name, generation, now >= generation ? "survived" :
		 "did not survive: send it again");
	unlinkat(j->dirfd, "unknown", 0);
	fsync(j->dirfd);
}

/* "; ..." when damaged/ holds what journal_recover moved aside, else "": a reminder at
 * every start until someone has looked at it. */
static const char *recovered_note(struct journal *j)
{
	static const char note[] = "; damaged/ holds files that dsymfs recover moved aside "
				   "(look, then remove them)";
	int fd = openat(j->dirfd, "damaged", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return "";
	}
	bool any = false;
	struct dirent *de;
	while (!any && (de = readdir(d)))
		any = de->d_name[0] != '.';
	closedir(d);
	return any ? note : "";
}

/* Checks that the journal files are the ones the snapshot expects: from the first
 * index it does not cover (1 without a snapshot) on, none missing. A journal file is
 * created before the snapshot that names it, so it exists even if empty. */
static int check_sequence(struct journal *j, bool have_snapshot, const uint64_t *idx,
			  size_t n, char *err, size_t errlen)
{
	char name[32];
	if (!have_snapshot && n && idx[0] != 1) {
		journal_name(name, idx[0]);
		return damaged(j, "snapshot", UINT64_MAX, err, errlen, "it is missing, yet %s "
			       "(not the first journal file) needs it", name);
	}
	if (have_snapshot && (!n || idx[0] != j->first_index)) {
		journal_name(name, j->first_index);
		return damaged(j, name, UINT64_MAX, err, errlen, "it is missing, and the "
			       "snapshot covers only the journal before it");
	}
	for (size_t i = 1; i < n; i++)
		if (idx[i] != idx[i - 1] + 1) {
			char next[32];
			journal_name(name, idx[i - 1] + 1);
			journal_name(next, idx[i]);
			return damaged(j, name, UINT64_MAX, err, errlen, "it is missing, and %s "
				       "follows it", next);
		}
	return 0;
}

/* Restores r from the directory. `dry` (for journal_recover) changes no file: a torn
 * tail stays, nothing is collected, no journal file is opened for appending. */
static int restore(struct journal *j, struct ctl_registry *r, bool dry, char *err,
		   size_t errlen)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t torn_at = UINT64_MAX;
	j->first_index = 1;
	struct stat st;
	int rc = 0;
	bool have_snapshot = fstatat(j->dirfd, "snapshot", &st, 0) == 0;
	if (have_snapshot) {
		j->snapshot_bytes = (uint64_t)st.st_size;
		rc = load_snapshot(j, r, &j->first_index, err, errlen);
	} else if (errno != ENOENT) {
		rc = say(err, errlen, -errno, "cannot read %s/snapshot: %s", j->dir,
			 strerror(errno));
	}
	uint64_t *idx = NULL;
	size_t n = 0;
	if (!rc)
		rc = list_journals(j, j->first_index, &idx, &n, err, errlen);
	if (!rc)
		rc = check_sequence(j, have_snapshot, idx, n, err, errlen);
	uint64_t *sizes = n ? calloc(n, sizeof *sizes) : NULL;
	if (n && !sizes)
		rc = say(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		char name[32];
		journal_name(name, idx[i]);
		if (fstatat(j->dirfd, name, &st, 0) == 0)
			sizes[i] = (uint64_t)st.st_size;
		j->journal_bytes += sizes[i];
	}
	/* A tear can end the last file, or the one before it when the last is empty: a
	 * crash while the old file was being closed with its NEXT record. */
	char torn_file[32] = "";
	uint64_t torn_off = 0, torn_size = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		char name[32];
		journal_name(name, idx[i]);
		bool tail_ok = i + 1 == n || (i + 2 == n && !sizes[n - 1]);
		uint64_t next;
		rc = replay_file(j, r, name, false, tail_ok, &torn_at, &j->first_index, &next, err,
				 errlen);
		if (!rc && torn_at != UINT64_MAX) {
			snprintf(torn_file, sizeof torn_file, "%s", name);
			torn_off = torn_at;
			torn_size = sizes[i];
		}
		if (!rc && next && (i + 1 == n || idx[i + 1] != next)) {
			char missing[32];
			journal_name(missing, next);
			rc = damaged(j, missing, UINT64_MAX, err, errlen, "it is missing, and %s "
				     "ends by naming it", name);
		}
	}
	free(sizes);
	uint64_t append_index = n ? idx[n - 1] : j->first_index;
	free(idx);
	for (size_t i = 0; i < j->nentries && !rc; i++) {
		struct entry *e = &j->entries[i];
		rc = image_restore_number(e->im, e->generation);
		if (rc)
			say(err, errlen, rc, "image %s: %s", image_name(e->im),
			    rc == -EFBIG ? "the dSYM would pass 4 GiB" : "out of memory");
		state_release(&e->st);
		image_state(e->im, &e->st);
	}
	if (rc || dry)
		return rc;
	char torn[160] = "";
	if (*torn_file) {
		/* Never acknowledged: cut it off so appends follow whole records. */
		int fd = openat(j->dirfd, torn_file, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)torn_off) < 0 || fsync(fd) < 0)
			rc = say(err, errlen, -errno, "cannot cut the torn end off %s/%s: %s",
				 j->dir, torn_file, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (rc)
			return rc;
		snprintf(torn, sizeof torn, "; dropped a torn record (never acknowledged) at %s "
			 "offset %" PRIu64, torn_file, torn_off);
		j->journal_bytes -= torn_size - torn_off;
	}
	rc = open_journal_file(j, append_index, err, errlen);
	if (rc)
		return rc;
	char settled[400] = "";
	settle_unknown(j, r, settled, sizeof settled);
	struct names none = {0};
	collect_garbage(j, &none);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	uint64_t decls = 0;
	for (size_t i = 0; i < j->nentries; i++) {
		struct gen *g = image_current(j->entries[i].im);
		decls += gen_ndecls(g);
		gen_unref(g);
	}
	char notes[900];
	snprintf(notes, sizeof notes, "%s%s%s", torn, settled, recovered_note(j));
	if (*notes)
		snprintf(j->restore_warn, sizeof j->restore_warn, "state_dir %s: %s", j->dir,
			 notes + 2);
	snprintf(j->restore_msg, sizeof j->restore_msg, "restored %zu image(s), %" PRIu64
		 " functions, in %.3f s%s", j->nentries, decls,
		 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, notes);
	return 0;
}

/* mkdir -p, each new level 0700. */
static int make_dirs(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return -ENOMEM;
	int rc = 0;
	for (char *s = p + 1; ; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			rc = -errno;
		*s = c;
		if (!c || rc)
			break;
	}
	free(p);
	return rc;
}

/* A journal for dir (created, if `create`, else it must exist), its lock taken. On
 * error *out is NULL and err says why. */
static int open_state_dir(const char *dir, bool create, uint64_t compact_bytes,
			  struct journal **out, char *err, size_t errlen)
{
	*out = NULL;
	struct journal *j = calloc(1, sizeof *j);
	if (!j)
		return say(err, errlen, -ENOMEM, "out of memory");
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->wake, NULL);
	j->dirfd = j->exefd = j->lockfd = j->fd = -1;
	j->compact_bytes = compact_bytes;
	j->dir = strdup(dir);
	int rc = !j->dir ? -ENOMEM : create ? make_dirs(dir) : 0;
	if (rc) {
		say(err, errlen, rc, "state_dir %s: cannot create it: %s", dir, strerror(-rc));
		goto fail;
	}
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0 || (mkdirat(j->dirfd, "exe", 0700) < 0 && errno != EEXIST) ||
	    (j->exefd = openat(j->dirfd, "exe", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (j->lockfd = openat(j->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		rc = say(err, errlen, -errno, "state_dir %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK
			? say(err, errlen, -EBUSY, "state_dir %s is in use by another dsymfs", dir)
			: say(err, errlen, -errno, "state_dir %s: cannot lock it: %s", dir,
			      strerror(errno));
		goto fail;
	}
	*out = j;
	return 0;
fail:
	journal_free(j);
	return rc;
}

int journal_attach(struct ctl_registry *r, const char *dir, uint64_t compact_bytes,
		   char *err, size_t errlen)
{
	if (ctl_registry_count(r))
		return say(err, errlen, -EINVAL, "state_dir: the registry already has images");
	struct journal *j;
	int rc = open_state_dir(dir, true, compact_bytes, &j, err, errlen);
	if (rc)
		return rc;
	rc = restore(j, r, false, err, errlen);
	if (rc) {
		journal_free(j);
		return rc;
	}
	say(err, errlen, 0, "%s", j->restore_warn);
	struct ctl_durable d = {on_created, on_committed, on_status, journal_free, j};
	ctl_registry_set_durable(r, &d);
	return 0;
}

/* ---- recovery ---- */

/* Forgets what a restore learnt, for another one. */
static void forget_restore(struct journal *j)
{
	for (size_t i = 0; i < j->nentries; i++)
		state_release(&j->entries[i].st);
	free(j->entries);
	j->entries = NULL;
	j->nentries = 0;
	names_clear(&j->blobs);
	j->journal_bytes = j->journal_records = j->snapshot_bytes = 0;
	j->damaged = false;
}

/* Renames name (relative to the directory) into aside/, saying so. */
static int move_aside(struct journal *j, const char *name, const char *aside,
		      struct enc_buf *rep, char *err, size_t errlen)
{
	char to[320];
	snprintf(to, sizeof to, "%s/%s", aside, name);
	if (renameat(j->dirfd, name, j->dirfd, to) < 0)
		return say(err, errlen, -errno, "cannot move %s/%s to %s/%s: %s", j->dir, name,
			   j->dir, to, strerror(errno));
	enc_buf_printf(rep, "moved %s/%s to %s/%s\n", j->dir, name, j->dir, to);
	return 0;
}

/* Writes journal file `name` anew from the first `len` bytes of `from` (both relative
 * to the directory): written aside, synced, renamed into place. */
static int write_prefix(struct journal *j, const char *from, const char *name, uint64_t len,
			char *err, size_t errlen)
{
	char tmp[48];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int in = len ? openat(j->dirfd, from, O_RDONLY | O_CLOEXEC) : -1;
	int out = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = out < 0 || (len && in < 0) ? -errno : 0;
	uint8_t buf[65536];
	for (uint64_t off = 0; !rc && off < len;) {
		size_t want = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;
		ssize_t n = pread(in, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		rc = n < 0 ? -errno : n == 0 ? -EIO : pwrite_all(out, off, buf, (size_t)n);
		off += n > 0 ? (uint64_t)n : 0;
	}
	if (!rc && fsync(out) < 0)
		rc = -errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (!rc && renameat(j->dirfd, tmp, j->dirfd, name) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(j->dirfd, tmp, 0);
		return say(err, errlen, rc, "cannot write %s/%s: %s", j->dir, name, strerror(-rc));
	}
	return 0;
}

/* A new directory damaged/N (the first N free) for this recovery's files. */
static int make_aside(struct journal *j, char aside[32], char *err, size_t errlen)
{
	if (mkdirat(j->dirfd, "damaged", 0700) < 0 && errno != EEXIST)
		return say(err, errlen, -errno, "cannot create %s/damaged: %s", j->dir,
			   strerror(errno));
	for (unsigned n = 1; n < 100000; n++) {
		snprintf(aside, 32, "damaged/%u", n);
		if (mkdirat(j->dirfd, aside, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	return say(err, errlen, -errno, "cannot create a directory in %s/damaged: %s", j->dir,
		   strerror(errno));
}

/* Moves the damaged file and everything after it aside, leaving the history before the
 * damage: the snapshot's damage takes every journal file with it (they apply to it); a
 * journal file's keeps its good records in a new file of the same name. */
static int cut_at_damage(struct journal *j, const char *aside, struct enc_buf *rep,
			 char *err, size_t errlen)
{
	bool snap = !strcmp(j->damaged_file, "snapshot");
	uint64_t k = 0;
	if (!snap && sscanf(j->damaged_file, "journal.%16" SCNx64, &k) != 1)
		return say(err, errlen, -EINVAL, "unexpected damaged file %s", j->damaged_file);
	uint64_t *idx;
	size_t n;
	int rc = list_journals(j, snap ? 0 : k + 1, &idx, &n, err, errlen);
	if (rc)
		return rc;
	struct stat st;
	if (snap && fstatat(j->dirfd, "snapshot", &st, 0) == 0)
		rc = move_aside(j, "snapshot", aside, rep, err, errlen);
	for (size_t i = 0; i < n && !rc; i++) {
		char name[32];
		journal_name(name, idx[i]);
		rc = move_aside(j, name, aside, rep, err, errlen);
	}
	free(idx);
	if (rc || snap)
		return rc;
	uint64_t keep = j->damaged_off == UINT64_MAX ? 0 : j->damaged_off;
	char from[64] = "";
	if (fstatat(j->dirfd, j->damaged_file, &st, 0) == 0) {
		rc = move_aside(j, j->damaged_file, aside, rep, err, errlen);
		snprintf(from, sizeof from, "%s/%s", aside, j->damaged_file);
	}
	if (!rc)
		rc = write_prefix(j, from, j->damaged_file, keep, err, errlen);
	if (!rc)
		enc_buf_printf(rep, "wrote %s/%s: its first %" PRIu64 " bytes, the whole records "
			       "before the damage\n", j->dir, j->damaged_file, keep);
	return rc;
}

/* Moves aside every executable that the kept history does not name (the next start
 * would remove them). */
static int move_unnamed_blobs(struct journal *j, const char *aside, struct enc_buf *rep,
			      char *err, size_t errlen)
{
	DIR *d = open_dir(j->exefd);
	if (!d)
		return say(err, errlen, -errno, "cannot list %s/exe: %s", j->dir, strerror(errno));
	char sub[48];
	snprintf(sub, sizeof sub, "%s/exe", aside);
	bool made = false;
	int rc = 0;
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		if (de->d_name[0] == '.' || names_has(&j->blobs, de->d_name))
			continue;
		if (!made && mkdirat(j->dirfd, sub, 0700) < 0 && errno != EEXIST) {
			rc = say(err, errlen, -errno, "cannot create %s/%s: %s", j->dir, sub,
				 strerror(errno));
			break;
		}
		made = true;
		char name[sizeof de->d_name + 8];
		snprintf(name, sizeof name, "exe/%s", de->d_name);
		rc = move_aside(j, name, aside, rep, err, errlen);
	}
	closedir(d);
	return rc;
}

int journal_recover(const char *dir, const struct ctl_limits *lim, char **report, char *err,
		    size_t errlen)
{
	*report = NULL;
	struct journal *j;
	int rc = open_state_dir(dir, false, JOURNAL_COMPACT_BYTES_DEFAULT, &j, err, errlen);
	if (rc)
		return rc;
	struct enc_buf rep;
	enc_buf_init(&rep);
	struct ctl_registry *r = NULL;
	char why[1024];
	char aside[32];
	rc = ctl_registry_new(lim, &r);
	if (rc) {
		say(err, errlen, rc, "out of memory");
		goto out;
	}
	rc = restore(j, r, true, why, sizeof why);
	ctl_registry_free(r);
	r = NULL;
	if (!rc) {
		enc_buf_printf(&rep, "%s: no damage found; nothing changed\n", dir);
		goto out;
	}
	if (!j->damaged) {
		say(err, errlen, rc, "%s", why);
		goto out;
	}
	enc_buf_printf(&rep, "found: %s\n", j->damaged_msg);
	rc = make_aside(j, aside, err, errlen);
	if (!rc)
		rc = cut_at_damage(j, aside, &rep, err, errlen);
	if (!rc && fsync(j->dirfd) < 0)
		rc = say(err, errlen, -errno, "cannot sync %s: %s", dir, strerror(errno));
	if (rc)
		goto out;
	/* What is left must restore: it is what the next start will serve. */
	forget_restore(j);
	rc = ctl_registry_new(lim, &r);
	if (rc) {
		say(err, errlen, rc, "out of memory");
		goto out;
	}
	rc = restore(j, r, true, why, sizeof why);
	if (rc) {
		say(err, errlen, rc, "what was kept does not restore: %s", why);
		goto out;
	}
	rc = move_unnamed_blobs(j, aside, &rep, err, errlen);
	if (!rc && fsync(j->exefd) < 0)
		rc = say(err, errlen, -errno, "cannot sync %s/exe: %s", dir, strerror(errno));
	if (rc)
		goto out;
	if (!ctl_registry_count(r))
		enc_buf_printf(&rep, "no image is kept: configured images start afresh\n");
	for (size_t i = 0; i < ctl_registry_count(r); i++) {
		struct gen *g = image_current(ctl_registry_at(r, i));
		enc_buf_printf(&rep, "kept image %s at generation %" PRIu64 " (%" PRIu64
			       " functions)\n", gen_image_name(g), gen_number(g), gen_ndecls(g));
		gen_unref(g);
	}
	enc_buf_printf(&rep, "nothing was deleted: the damaged file and every later one are in "
		       "%s/%s\n", dir, aside);
out:
	ctl_registry_free(r);
	journal_free(j);
	enc_buf_u8(&rep, 0);
	size_t len;
	*report = (char *)enc_buf_take(&rep, &len);
	if (!rc && !*report)
		rc = say(err, errlen, -ENOMEM, "out of memory");
	return rc;
}
