/* gen: one immutable generation of an image's dSYM, and the read entry that produces
 * its bytes.
 *
 * A generation is built once by image.c at commit and never changes afterwards: its
 * size, mtime, identity and every byte are fixed. Its layout (a dozen extents built at
 * commit, and the state's persistent units tree) maps any file offset to the record that
 * produces it in O(log n), so a read costs what it copies. Generations share unchanged records and tree nodes with each
 * other, so keeping an old one alive costs only what differs.
 *
 * Lifetime: reference counted (atomic). image_current() and friends hand out a reference;
 * gen_unref() drops it; the last drop frees the generation and whatever only it used.
 * Every accessor below may be called from any thread on a generation the caller holds.
 */
#ifndef DSYMFS_GEN_H
#define DSYMFS_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

struct gen;
struct state;
struct state_unit_bytes;

/* Builds generation `number` of image `name` from a state (for image.c): settles *st
 * (state_settle), takes its own references to everything in it, lays the file out and
 * stamps the mtime: O(1) in the size of the image. *out is owned
 * by the caller (gen_unref). -ENOMEM, or -EFBIG if the file would pass 4 GiB
 * (32-bit DWARF and Mach-O file offsets). */
int gen_new(struct state *st, const char *name, uint64_t number, struct gen **out);

void gen_ref(struct gen *g);
void gen_unref(struct gen *g);

/* 1 for the image's first generation (served before any commit), +1 per commit that
 * changes something. */
uint64_t gen_number(const struct gen *g);
const char *gen_image_name(const struct gen *g);
/* Exact size in bytes of the DWARF file (the MH_DSYM Mach-O). */
uint64_t gen_size(const struct gen *g);
/* When the generation was committed (CLOCK_REALTIME). */
struct timespec gen_mtime(const struct gen *g);
uint64_t gen_ndecls(const struct gen *g);
const uint8_t *gen_uuid(const struct gen *g);
uint32_t gen_cputype(const struct gen *g);

/* Copies up to len bytes of the DWARF file starting at off into buf; clamps at the end
 * of the file. Returns the number of bytes copied (0 at or past EOF) or -EOVERFLOW if
 * an internal tree was too deep to walk (never expected). */
ssize_t gen_read(const struct gen *g, uint64_t off, void *buf, size_t len);

/* A read's bytes as slices to hand to writev() or fuse_reply_iov() without copying them:
 * the generation's own immutable bytes wherever they exist (each unit's rendered
 * functions, the headers made at commit, the file tables, the fixed sections, a page of
 * zeros), and the few bytes that exist only for this read (unit headers, the symbol
 * table) in the slices' own scratch. A caller declares one on its stack; nothing else in
 * it is the caller's but iov and n. */
#define GEN_SLICES_MAX 256
struct gen_slices {
	struct iovec iov[GEN_SLICES_MAX];
	size_t n;
	/* Private to gen.c. */
	int failed;
	bool all;                 /* out of slices: every byte from here on is copied */
	size_t all_start;
	uint64_t want;
	uint8_t small[512];
	size_t small_used;
	uint8_t *big;             /* scratch past small: malloc'd once, `want` bytes */
	size_t big_used;
	struct state_unit_bytes *held[GEN_SLICES_MAX];  /* references behind the slices */
	size_t nheld;
};

/* Fills *s with the bytes gen_read would copy for (off, len). Returns their count, or
 * -ENOMEM / -EOVERFLOW with *s released. The slices stay valid until
 * gen_slices_release(s), which the caller must call after a successful return; g must be
 * held at least as long. Takes no lock that a commit holds. */
ssize_t gen_read_slices(const struct gen *g, uint64_t off, size_t len, struct gen_slices *s);
void gen_slices_release(struct gen_slices *s);

/* The bundle's Info.plist bytes (valid while g is held). */
const char *gen_plist(const struct gen *g, size_t *len);

/* Text views for operators and restarting compilers, rendered on first use and cached in
 * the generation (valid while g is held). Files and types are written in the control
 * protocol's own syntax, one line each, so writing them back is a no-op; decls likewise,
 * one `fn` line per function (abstract ones too), in id order; globals one `global`
 * line each. Returns 0 or -ENOMEM. */
enum gen_text {
	GEN_TEXT_DECLS,
	GEN_TEXT_FILES,
	GEN_TEXT_TYPES,
	GEN_TEXT_GLOBALS,  /* one `global` line per global variable, in id order */
	GEN_TEXT_COUNT
};
int gen_text(struct gen *g, enum gen_text which, const char **out, size_t *len);

/* Open-reader accounting for `status`: the file system calls open on each open() of
 * the generation's DWARF file and close on its release. */
void gen_reader_open(struct gen *g);
void gen_reader_close(struct gen *g);
uint64_t gen_readers(const struct gen *g);

#endif
