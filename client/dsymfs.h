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
 * struct (the rich debug-info fields of dsymfs_file, dsymfs_type and dsymfs_fn came that
 * way) keep callers built against an older header working. Structs that callers put in
 * arrays (dsymfs_param, dsymfs_row, ...) never grow: new per-entry fields come as an
 * array of their own (dsymfs_fn.param_locs).
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

/* DWARF language codes that `lang=` spells by name; any other code is sent as its
 * number (a Zig or Rust front end sends its own). */
#define DSYMFS_LANG_C89 0x0001u
#define DSYMFS_LANG_C99 0x000cu
#define DSYMFS_LANG_C11 0x001du
#define DSYMFS_LANG_C17 0x002cu

/* `file ID path=PATH [dir=DIR] [lang=LANG]`. */
struct dsymfs_file {
	uint64_t id;
	const char *path;
	const char *dir;        /* NULL: none */
	uint32_t lang;          /* DW_AT_language of the unit the file heads; 0: the default */
};
#define dsymfs_file(c, f) dsymfs_file_sized((c), (f), sizeof *(f))
int dsymfs_file_sized(struct dsymfs *c, const struct dsymfs_file *f, size_t fsize);
int dsymfs_delfile(struct dsymfs *c, uint64_t id);

/* `type ID kind=...`: the fields a kind does not use must stay 0 (NULL). Every kind
 * may have an align. */
enum dsymfs_type_kind {
	DSYMFS_TYPE_BASE = 1,   /* name, size, enc */
	DSYMFS_TYPE_POINTER,    /* to, optional name */
	DSYMFS_TYPE_CONST,      /* to, optional name */
	DSYMFS_TYPE_TYPEDEF,    /* name, to, optional file and line */
	DSYMFS_TYPE_STRUCT,     /* optional name, size, file and line, scope, members; or
				 * name and decl (declared, never defined) */
	DSYMFS_TYPE_UNION,      /* as struct */
	DSYMFS_TYPE_ENUM,       /* optional name, size, optional to (the underlying type),
				 * file and line, scope, enumerators */
	DSYMFS_TYPE_ARRAY,      /* to, dims */
	DSYMFS_TYPE_FUNC,       /* optional ret, params, variadic or unprototyped */
	DSYMFS_TYPE_VOLATILE,   /* to, optional name */
	DSYMFS_TYPE_RESTRICT,   /* to, optional name */
};
enum dsymfs_enc {
	DSYMFS_ENC_SIGNED = 1,
	DSYMFS_ENC_UNSIGNED,
	DSYMFS_ENC_BOOL,
	DSYMFS_ENC_FLOAT,
	DSYMFS_ENC_SIGNED_CHAR,
	DSYMFS_ENC_UNSIGNED_CHAR,
};
/* A struct or union member NAME:TYPEID:OFF, or with bits a bit-field
 * NAME:TYPEID:OFF:BITS:BITOFF (bits wide, bitoff bits after byte off). */
struct dsymfs_member {
	const char *name;       /* "" or NULL: anonymous; no ':' or ',' */
	uint64_t type;
	uint64_t off;           /* byte offset */
	uint32_t bits, bitoff;
};
/* An enumerator NAME:VALUE. The value is -2^127 .. 2^128-1 in 128 bits: neg 0, the
 * unsigned hi:lo; neg 1, the negative value whose two's complement is hi:lo.
 * dsymfs_enum_int and dsymfs_enum_uint fill one from a 64-bit value. */
struct dsymfs_enumerator {
	const char *name;       /* no ':' or ',' */
	uint64_t lo, hi;
	int neg;
};
static inline struct dsymfs_enumerator dsymfs_enum_int(const char *name, int64_t v)
{
	struct dsymfs_enumerator e = {name, (uint64_t)v, v < 0 ? UINT64_MAX : 0, v < 0};
	return e;
}
static inline struct dsymfs_enumerator dsymfs_enum_uint(const char *name, uint64_t v)
{
	struct dsymfs_enumerator e = {name, v, 0, 0};
	return e;
}
#define DSYMFS_DIM_UNKNOWN UINT64_MAX   /* an array's unknown first bound ("-") */

struct dsymfs_type {
	uint64_t id;
	enum dsymfs_type_kind kind;
	const char *name;
	uint64_t size;          /* bytes (base, struct, union, enum) */
	enum dsymfs_enc enc;    /* base */
	uint64_t to;            /* the type it points to, qualifies, names or repeats (array);
				 * 0: void; enum: the underlying integer type, 0: none */
	/* Fields of rich debug info. */
	uint64_t align;         /* DW_AT_alignment; 0: none */
	uint64_t file;          /* declaring file id (struct, union, enum, typedef); 0: none */
	uint32_t line;          /* with file */
	uint64_t scope;         /* struct, union, enum: the struct or union it nests in */
	int decl;               /* struct, union: declared, never defined (no size, members) */
	const struct dsymfs_member *members;
	size_t nmembers;
	const struct dsymfs_enumerator *enumerators;
	size_t nenumerators;
	const uint64_t *dims;   /* array: element counts in C order; the first may be
				 * DSYMFS_DIM_UNKNOWN */
	size_t ndims;
	uint64_t ret;           /* func: return type; 0: void */
	const uint64_t *params; /* func: parameter type ids */
	size_t nparams;
	int variadic;           /* func: `...` */
	int unprototyped;       /* func: declared without a prototype */
};
#define dsymfs_type(c, t) dsymfs_type_sized((c), (t), sizeof *(t))
int dsymfs_type_sized(struct dsymfs *c, const struct dsymfs_type *t, size_t tsize);
int dsymfs_deltype(struct dsymfs *c, uint64_t id);

/* `global ID name=NAME type=TYPEID addr=A file=F line=L [cu=F] [ext] [linkage=NAME]`: a
 * variable at file scope. */
struct dsymfs_global {
	uint64_t id;
	const char *name;
	uint64_t type;
	uint64_t addr;
	uint64_t file;
	uint32_t line;          /* at most 2^31-1 */
	uint64_t cu;            /* compile unit's file id; 0: the declaring file */
	int ext;                /* DW_AT_external */
	const char *linkage;    /* DW_AT_linkage_name; NULL: none */
};
#define dsymfs_global(c, g) dsymfs_global_sized((c), (g), sizeof *(g))
int dsymfs_global_sized(struct dsymfs *c, const struct dsymfs_global *g, size_t gsize);
int dsymfs_delglobal(struct dsymfs *c, uint64_t id);

/* A location (the protocol's LOC). Register numbers are DWARF numbers of the image's
 * architecture (x86_64: rbp 6, rsp 7; arm64: x29 29, sp 31). */
enum dsymfs_loc_kind {
	DSYMFS_LOC_NONE = 0,    /* no location at all (optimized out) */
	DSYMFS_LOC_FBREG,       /* fb+N: value bytes from the frame base */
	DSYMFS_LOC_REG,         /* rN: in register reg */
	DSYMFS_LOC_BREG,        /* bN+V: value bytes from register reg */
	DSYMFS_LOC_ADDR,        /* aADDR: at address addr */
	DSYMFS_LOC_CONST,       /* kV: the constant value */
	DSYMFS_LOC_EXPR,        /* xHEX: the DWARF expression bytes[0..len) */
	DSYMFS_LOC_LIST,        /* FROM..TO@LOC;...: entries[0..nentries) */
};
struct dsymfs_loc_entry;
struct dsymfs_loc {
	enum dsymfs_loc_kind kind;
	uint32_t reg;
	int64_t value;
	uint64_t addr;
	const uint8_t *bytes;
	size_t len;
	const struct dsymfs_loc_entry *entries;
	size_t nentries;
};
/* One entry of a location list: pc offsets from the function's low_pc, ascending and
 * not overlapping; loc is none of NONE and LIST. */
struct dsymfs_loc_entry {
	uint64_t from, to;
	struct dsymfs_loc loc;
};
static inline struct dsymfs_loc dsymfs_loc_of(enum dsymfs_loc_kind kind, uint32_t reg,
					      int64_t value, uint64_t addr)
{
	struct dsymfs_loc l = {kind, reg, value, addr, NULL, 0, NULL, 0};
	return l;
}
static inline struct dsymfs_loc dsymfs_loc_fbreg(int64_t off)
{
	return dsymfs_loc_of(DSYMFS_LOC_FBREG, 0, off, 0);
}
static inline struct dsymfs_loc dsymfs_loc_reg(uint32_t reg)
{
	return dsymfs_loc_of(DSYMFS_LOC_REG, reg, 0, 0);
}
static inline struct dsymfs_loc dsymfs_loc_breg(uint32_t reg, int64_t off)
{
	return dsymfs_loc_of(DSYMFS_LOC_BREG, reg, off, 0);
}
static inline struct dsymfs_loc dsymfs_loc_addr(uint64_t addr)
{
	return dsymfs_loc_of(DSYMFS_LOC_ADDR, 0, 0, addr);
}
static inline struct dsymfs_loc dsymfs_loc_const(int64_t v)
{
	return dsymfs_loc_of(DSYMFS_LOC_CONST, 0, v, 0);
}
static inline struct dsymfs_loc dsymfs_loc_expr(const uint8_t *bytes, size_t len)
{
	struct dsymfs_loc l = {DSYMFS_LOC_EXPR, 0, 0, 0, bytes, len, NULL, 0};
	return l;
}
static inline struct dsymfs_loc dsymfs_loc_list(const struct dsymfs_loc_entry *e, size_t n)
{
	struct dsymfs_loc l = {DSYMFS_LOC_LIST, 0, 0, 0, NULL, 0, e, n};
	return l;
}

/* `fn ID ...`. */
struct dsymfs_param {
	const char *name;       /* "" or NULL: unnamed; no ':' or ',' */
	uint64_t type;          /* not 0 */
};
/* A parameter's location and declaring line (PARAM's :LOC:LINE): an array beside
 * params, since dsymfs_param's size is fixed for the arrays of callers built before. */
struct dsymfs_param_loc {
	struct dsymfs_loc loc;
	uint32_t line;          /* 0: none */
};
/* A local variable NAME:TYPEID:LOC[:LINE[:BLOCK]]. */
struct dsymfs_var {
	const char *name;       /* not empty; no ':' or ',' */
	uint64_t type;          /* 0 only for the instance of an inlined origin's variable */
	struct dsymfs_loc loc;  /* NONE: optimized out, or a local of an abstract function */
	uint32_t line;          /* 0: none */
	uint32_t block;         /* 1-based index into the function's blocks; 0: its scope */
};
struct dsymfs_range {
	uint64_t from, to;      /* pc offsets from low_pc, from < to */
};
/* A lexical block RANGES[:PARENT[:ORIGIN:CALLFILE:CALLLINE[:CALLCOL]]]; with origin,
 * an inlined call of that abstract function from call_file:call_line:call_col. */
struct dsymfs_block {
	const struct dsymfs_range *ranges;
	size_t nranges;         /* at least 1 */
	uint32_t parent;        /* 1-based index of an earlier block; 0: the function */
	uint64_t origin;        /* 0: a plain block */
	uint64_t call_file;
	uint32_t call_line, call_col;
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
	/* Fields of rich debug info. */
	const struct dsymfs_param_loc *param_locs;  /* NULL, or nparams entries */
	const char *linkage;    /* DW_AT_linkage_name; NULL: none */
	struct dsymfs_loc frame_base;  /* NONE: none */
	const struct dsymfs_var *vars;
	size_t nvars;
	const struct dsymfs_block *blocks;
	size_t nblocks;
	int variadic;           /* `...` after the parameters */
	int unprototyped;       /* no DW_AT_prototyped */
	int optimized;          /* DW_AT_APPLE_optimized */
	int noreturn;
	int abstract;           /* no code (low_pc, size, rows, blocks 0): an inlined origin */
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
