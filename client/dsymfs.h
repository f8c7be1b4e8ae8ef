/* dsymfs: the client library a compiler links to feed a dsymfs mount (docs/client.md).
 *
 * A client owns one open handle of MOUNT/control, that is one protocol session with its
 * own pending batch (docs/protocol.md). Each call formats one protocol line: values are
 * quoted and escaped as the protocol needs, and whatever the daemon's parser would refuse
 * when the line is written is refused at the call instead, with the parser's own message
 * text and nothing buffered, so the pending batch stays as it was. What depends on other
 * records (references, overlaps, rows past a function's end, ...) is the daemon's to check
 * at commit.
 *
 * Lines are buffered and written in write()s of at most the write size (1 MiB by default,
 * what the daemon takes in one request; a longer line goes alone), and at commit. A write
 * or commit the daemon refuses has dropped the whole pending batch (the protocol's rule);
 * the call returns its errno and the daemon's result text.
 *
 * Errors: every call returns 0 or a negative errno (-EINVAL for a refused value, or what
 * the failed write() or open() gave). dsymfs_last_error() then says why: a refused value
 * in the parser's words (`fn: field "line": "2147483648" must be at most 2147483647`), a
 * daemon refusal in the result line's words without its "error: " (`line 12: fn 40 ...`).
 *
 * Values are spelled as the messages quote them: ids, lines, columns, deltas, protections
 * and alignments in decimal, addresses and sizes in 0x hex, a row as
 * OFF:LINE[:COL[:FLAGS[:FILEID]]] with its offset in hex from 10 up and the trailing parts
 * that hold their default left out, an unknown enum value as its number.
 *
 * Records are described by structs a caller zero-initializes and fills by field name.
 * Their calls are macros that pass the struct's size, so fields added to the end of a
 * struct later (the rich debug-info records: struct, union, enum, array and function
 * types, variables, blocks) keep older callers working, built against either header.
 *
 * Ownership: the library copies every string and array during the call; the caller keeps
 * its own. A client is used by one thread at a time.
 */
#ifndef DSYMFS_H
#define DSYMFS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dsymfs;

/* Opens MOUNT/control and, when image is not NULL, binds the handle to that image
 * (`image NAME`: needed when the mount serves several). *out receives a client in every
 * case but -ENOMEM (then NULL): after a failure it holds the reason and must still be
 * closed; its other calls return -EBADF. */
int dsymfs_open(const char *mount, const char *image, struct dsymfs **out);

/* Flags of dsymfs_open_fd. */
#define DSYMFS_SCRIPT 0x1u  /* fd is a plain file or pipe (a script for `dsymfs render`):
			     * commit writes the line and reads no result */

/* A client over an fd the caller opened (a control handle, or with DSYMFS_SCRIPT any
 * writable fd). The client writes to fd and never closes it. *out as for dsymfs_open. */
int dsymfs_open_fd(int fd, unsigned flags, struct dsymfs **out);

/* Drops what is buffered and not yet written (a control handle then drops the pending
 * batch when closed, as the protocol does) and frees the client; a script client writes
 * its buffer first and returns that write's result. Closes the handle dsymfs_open opened.
 * Safe on NULL. */
int dsymfs_close(struct dsymfs *c);

/* Why the last call failed; "" after a success. Valid until the next call on c. NULL
 * gives the reason dsymfs_open last failed with -ENOMEM. */
const char *dsymfs_last_error(const struct dsymfs *c);

/* The most bytes per write(); 0 restores the default (1 MiB). */
void dsymfs_set_write_size(struct dsymfs *c, size_t bytes);
/* Writes what is buffered now. */
int dsymfs_flush(struct dsymfs *c);

/* Images: both take effect at once (buffered lines are written first). */
enum dsymfs_arch {
	DSYMFS_ARCH_DEFAULT = 0,  /* x86_64, or the executable's */
	DSYMFS_ARCH_X86_64,
	DSYMFS_ARCH_ARM64,
};
/* `image NAME`: binds the handle (refused while a batch for another image is pending). */
int dsymfs_image(struct dsymfs *c, const char *name);
/* `image NAME create`: a new image from an executable (exe not NULL), or with the given
 * identity (uuid: 16 bytes, NULL for a fresh random one; arch). Binds the handle to it. */
int dsymfs_image_create(struct dsymfs *c, const char *name, const char *exe,
			const uint8_t *uuid, enum dsymfs_arch arch);

/* `exe PATH`: identity, segments, sections and symbols from a Mach-O executable. */
int dsymfs_exe(struct dsymfs *c, const char *path);

/* Mach-O protections for segments: a value 0..7 (r=1, w=2, x=4), or DSYMFS_PROT_KEEP. */
#define DSYMFS_PROT_KEEP (-1)
int dsymfs_segment(struct dsymfs *c, const char *name, uint64_t vmaddr, uint64_t vmsize,
		   int maxprot, int initprot);
/* align: a power-of-two exponent 0..15, or -1 to leave it unset. */
int dsymfs_section(struct dsymfs *c, const char *seg, const char *sect, uint64_t addr,
		   uint64_t size, int align);

/* `file ID path=PATH [dir=DIR]`. */
struct dsymfs_file {
	uint64_t id;
	const char *path;
	const char *dir;        /* NULL: none */
};
#define dsymfs_file(c, f) dsymfs_file_sized((c), (f), sizeof *(f))
int dsymfs_file_sized(struct dsymfs *c, const struct dsymfs_file *f, size_t fsize);
int dsymfs_delfile(struct dsymfs *c, uint64_t id);

/* `type ID kind=...`: the fields a kind does not use must stay 0 (NULL). */
enum dsymfs_type_kind {
	DSYMFS_TYPE_BASE = 1,   /* name, size, enc */
	DSYMFS_TYPE_POINTER,    /* to, optional name */
	DSYMFS_TYPE_CONST,      /* to, optional name */
	DSYMFS_TYPE_TYPEDEF,    /* name, to */
};
enum dsymfs_enc {
	DSYMFS_ENC_SIGNED = 1,
	DSYMFS_ENC_UNSIGNED,
	DSYMFS_ENC_BOOL,
	DSYMFS_ENC_FLOAT,
	DSYMFS_ENC_SIGNED_CHAR,
	DSYMFS_ENC_UNSIGNED_CHAR,
};
struct dsymfs_type {
	uint64_t id;
	enum dsymfs_type_kind kind;
	const char *name;
	uint64_t size;          /* bytes (base) */
	enum dsymfs_enc enc;    /* base */
	uint64_t to;            /* the type it points to, qualifies or names; 0: void */
};
#define dsymfs_type(c, t) dsymfs_type_sized((c), (t), sizeof *(t))
int dsymfs_type_sized(struct dsymfs *c, const struct dsymfs_type *t, size_t tsize);
int dsymfs_deltype(struct dsymfs *c, uint64_t id);

/* `fn ID ...`. */
struct dsymfs_param {
	const char *name;       /* no ',' (it separates parameters) */
	uint64_t type;          /* not 0 */
};
/* Line-row flags. A row's flags are written as given: 0 is none, not the protocol's
 * default of is_stmt (which a debugger needs to stop on the row). */
#define DSYMFS_ROW_STMT     0x1u  /* is_stmt */
#define DSYMFS_ROW_PROLOGUE 0x2u  /* prologue_end */
#define DSYMFS_ROW_EPILOGUE 0x4u  /* epilogue_begin */
struct dsymfs_row {
	uint32_t off;           /* pc offset from low_pc; rows in ascending order */
	uint32_t line;          /* 0: no source line; at most 2^31-1 */
	uint32_t col;           /* 0: none */
	uint32_t flags;         /* DSYMFS_ROW_* */
	uint64_t file;          /* 0: the function's file */
};
struct dsymfs_fn {
	uint64_t id;
	const char *name;
	uint64_t low_pc, size;
	uint64_t file;          /* declaring file id */
	uint32_t line;          /* declaring line, at most 2^31-1; 0: unknown */
	uint64_t cu;            /* compile unit's file id; 0: the declaring file */
	uint64_t ret;           /* return type id; 0: void */
	const struct dsymfs_param *params;
	size_t nparams;
	const struct dsymfs_row *rows;
	size_t nrows;
};
#define dsymfs_fn(c, f) dsymfs_fn_sized((c), (f), sizeof *(f))
int dsymfs_fn_sized(struct dsymfs *c, const struct dsymfs_fn *f, size_t fsize);

int dsymfs_del(struct dsymfs *c, uint64_t id);
/* `move ID low_pc=A`, and with a new size. */
int dsymfs_move(struct dsymfs *c, uint64_t id, uint64_t low_pc);
int dsymfs_move_resize(struct dsymfs *c, uint64_t id, uint64_t low_pc, uint64_t size);
/* Every function with low_pc in [from, to) moves by `by`. */
int dsymfs_move_range(struct dsymfs *c, uint64_t from, uint64_t to, int64_t by);
/* The function's source moved by delta lines in file (0: its declaring file). */
int dsymfs_line(struct dsymfs *c, uint64_t id, int64_t delta, uint64_t file);
/* dsymfs_line for every function declared in file at a line in [from, to); 1 <= from. */
int dsymfs_line_range(struct dsymfs *c, uint64_t file, int64_t from, int64_t to, int64_t by);

/* `sym NAME value=A [sect=N] [ext]`: sect is the 1-based section ordinal (0: absolute,
 * at most 255); ext not 0 makes it external. */
int dsymfs_sym(struct dsymfs *c, const char *name, uint64_t value, uint32_t sect, int ext);
int dsymfs_unsym(struct dsymfs *c, const char *name);

/* `commit`: writes the batch and publishes it. On success the generation now current and
 * the image's function count go to *generation and *decls (either may be NULL; a script
 * client gives 0). */
int dsymfs_commit(struct dsymfs *c, uint64_t *generation, uint64_t *decls);
/* `abort`: drops the pending batch (what is buffered and what the daemon holds). */
int dsymfs_abort(struct dsymfs *c);

#ifdef __cplusplus
}
#endif

#endif
