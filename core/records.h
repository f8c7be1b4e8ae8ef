/* records: the per-id records an image is made of (functions, types, globals, source
 * files, symbols), reference counted so generations can share them.
 *
 * A record is immutable once it is reachable from a published generation: a mutation
 * makes a new record (rec_*_clone) and leaves the old one to the generations that hold
 * it. Reference counts are atomic. Every pointer field is owned by its record.
 *
 * Ids are compiler-chosen 64-bit values; 0 is reserved ("none": void type, the
 * function's own file).
 */
#ifndef DSYMFS_RECORDS_H
#define DSYMFS_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

/* An encoded fragment: bytes with patch slots whose values depend on other records and
 * are filled in when the bytes are read (see dwarf.h for the slot kinds). */
struct rec_slot {
	uint32_t pos;    /* byte offset in the fragment */
	uint32_t kind;   /* DWARF_SLOT_* */
	uint64_t ref;    /* the id it refers to (a type id or a file id) */
};

struct rec_frag {
	uint8_t *bytes;
	uint32_t len;
	uint32_t nslots;
	struct rec_slot *slots;
};

/* Line-row flags. */
#define REC_ROW_STMT     0x1u  /* is_stmt */
#define REC_ROW_PROLOGUE 0x2u  /* prologue_end */
#define REC_ROW_EPILOGUE 0x4u  /* epilogue_begin */

struct rec_row {
	uint32_t off;    /* pc offset from the function's low_pc */
	int32_t line;    /* 0: no source line; never shifted */
	uint32_t col;
	uint32_t flags;  /* REC_ROW_* */
	uint64_t file;   /* file id; 0: the function's declaring file */
};

/* A location (the protocol's LOC). Register numbers are DWARF numbers of the image's
 * architecture. A list's entries are locations of the other kinds. */
enum rec_loc_kind {
	REC_LOC_NONE = 0,  /* no location at all */
	REC_LOC_FBREG,     /* fb+N: DW_OP_fbreg value */
	REC_LOC_REG,       /* rN: DW_OP_regN / DW_OP_regx reg */
	REC_LOC_BREG,      /* bN+V: DW_OP_bregN / DW_OP_bregx reg, value */
	REC_LOC_ADDR,      /* aADDR: DW_OP_addr (uint64_t)value */
	REC_LOC_CONST,     /* kV: DW_AT_const_value value (in a list: consts, stack_value) */
	REC_LOC_EXPR,      /* xHEX: the expression bytes as given */
	REC_LOC_LIST,      /* FROM..TO@LOC;...: a .debug_loc list, offsets from low_pc */
};

struct rec_loc_entry;

struct rec_loc {
	enum rec_loc_kind kind;
	uint32_t reg;
	int64_t value;
	uint32_t len;                    /* EXPR: bytes; LIST: entries */
	uint8_t *bytes;                  /* EXPR */
	struct rec_loc_entry *entries;   /* LIST: ascending, not overlapping */
};

struct rec_loc_entry {
	uint64_t from, to;   /* pc offsets from the function's low_pc, from < to */
	struct rec_loc loc;  /* never a LIST */
};

struct rec_param {
	char *name;      /* "" for an unnamed parameter */
	uint64_t type;   /* type id; 0 is not allowed for a parameter */
	struct rec_loc loc;
	uint32_t line;   /* declaring line; 0: none */
};

/* A local variable (VAR of the protocol). */
struct rec_var {
	char *name;      /* never empty */
	uint64_t type;   /* 0 only for the concrete instance of an origin's local */
	struct rec_loc loc;
	uint32_t line;   /* 0: none */
	uint32_t block;  /* 1-based index into the function's blocks; 0: the function */
};

struct rec_range {
	uint64_t from, to;   /* pc offsets from the function's low_pc, from < to */
};

/* A lexical block, or with origin != 0 an inlined call of function `origin`. */
struct rec_block {
	uint32_t nranges;
	struct rec_range *ranges;
	uint32_t parent;      /* 1-based index of an earlier block; 0: the function */
	uint64_t origin;      /* an abstract function's id; 0: a plain lexical block */
	uint64_t call_file;   /* origin only */
	uint32_t call_line, call_col;
};

struct rec_fn {
	uint32_t refs;
	uint64_t id;
	char *name;
	uint64_t low_pc;
	uint64_t size;
	uint64_t file;     /* declaring file id */
	int64_t line;      /* declaring line; 0: unknown (never shifted) */
	uint64_t cu;       /* compile unit's file id; 0: the declaring file */
	uint64_t ret;      /* return type id; 0: void */
	uint32_t nparams;
	struct rec_param *params;
	uint32_t nrows;
	struct rec_row *rows;
	char *linkage;     /* DW_AT_linkage_name; NULL: none */
	struct rec_loc frame_base;  /* REC_LOC_NONE: none */
	uint32_t nvars;
	struct rec_var *vars;
	uint32_t nblocks;
	struct rec_block *blocks;
	bool variadic, unprototyped, optimized, noreturn;
	bool abstract;     /* no code (low_pc, size, rows 0): exists to be an inlined origin */
	/* Encoded by dwarf_encode_fn; empty (NULL) until then. */
	struct rec_frag info;  /* the subprogram DIE, its parameters and a null entry */
	struct rec_frag line_prog; /* one line-program sequence ending in end_sequence */
};

enum rec_type_kind {
	REC_TYPE_BASE = 1,
	REC_TYPE_POINTER,
	REC_TYPE_CONST,
	REC_TYPE_TYPEDEF,
	REC_TYPE_STRUCT,
	REC_TYPE_UNION,
	REC_TYPE_ENUM,
	REC_TYPE_ARRAY,
	REC_TYPE_FUNC,
	REC_TYPE_VOLATILE,
	REC_TYPE_RESTRICT,
};

/* A struct or union member; bits != 0 makes it a bit-field of that width starting
 * bitoff bits after byte off. An empty name is an anonymous member. */
struct rec_member {
	char *name;
	uint64_t type;
	uint64_t off;
	uint32_t bits, bitoff;
};

/* An enumerator: a value in -2^127 .. 2^128-1 as 128-bit two's complement (lo, hi),
 * with neg telling a negative value from a large unsigned one. */
struct rec_enumerator {
	char *name;
	uint64_t lo, hi;
	bool neg;
};

#define REC_DIM_UNKNOWN UINT64_MAX  /* "-": an array's unknown first bound */

/* Base-type encodings, in the protocol's spelling order. */
enum rec_base_enc {
	REC_ENC_SIGNED = 1,
	REC_ENC_UNSIGNED,
	REC_ENC_BOOL,
	REC_ENC_FLOAT,
	REC_ENC_SIGNED_CHAR,
	REC_ENC_UNSIGNED_CHAR,
};

struct rec_type {
	uint32_t refs;
	uint64_t id;
	enum rec_type_kind kind;
	char *name;       /* required for base and typedef; NULL otherwise allowed */
	uint64_t size;    /* base only */
	enum rec_base_enc enc; /* base only */
	uint64_t to;      /* pointer/const/typedef/volatile/restrict/array: target type id
			   * (0: void); enum: underlying type (0: none) */
	uint64_t file;    /* declaring file id; 0: none */
	uint32_t line;
	uint64_t scope;   /* struct/union/enum: the struct or union it nests in; 0: the unit */
	uint64_t align;   /* DW_AT_alignment; 0: none */
	bool decl;        /* struct/union declared, never defined */
	uint32_t nmembers;
	struct rec_member *members;
	uint32_t nenumerators;
	struct rec_enumerator *enumerators;
	uint32_t ndims;   /* array: C order, REC_DIM_UNKNOWN first only */
	uint64_t *dims;
	uint64_t ret;     /* func: return type id; 0: void */
	uint32_t nparams; /* func: parameter type ids */
	uint64_t *params;
	bool variadic, unprototyped;   /* func */
	struct rec_frag info;  /* encoded by dwarf_encode_type */
};

/* A variable at file scope. */
struct rec_global {
	uint32_t refs;
	uint64_t id;
	char *name;
	uint64_t type;
	uint64_t addr;
	uint64_t file;
	uint32_t line;
	uint64_t cu;      /* compile unit's file id; 0: the declaring file */
	bool ext;
	char *linkage;    /* NULL: none */
	struct rec_frag info;  /* encoded by dwarf_encode_global */
};

struct rec_file {
	uint32_t refs;
	uint64_t id;
	char *path;
	char *dir;        /* NULL: none */
	uint32_t lang;    /* DW_AT_language of the unit it heads; 0: C99 */
};

struct rec_sym {
	uint32_t refs;
	char *name;
	uint64_t value;
	uint32_t sect;    /* 1-based section ordinal; 0: NO_SECT (absolute) */
	bool ext;
	uint16_t desc;    /* n_desc, as the executable had it (0 for the compiler's) */
	bool from_exe;    /* read from the executable (replaced when it is re-read) */
};

/* Allocation: each *_new returns a zeroed record with refs = 1, or NULL on ENOMEM.
 * *_unref frees the record and everything it owns when the count reaches 0; NULL is
 * allowed. *_clone returns a deep copy (refs = 1, encoded fragments dropped) or NULL. */
struct rec_fn *rec_fn_new(void);
struct rec_fn *rec_fn_clone(const struct rec_fn *f);
void rec_fn_ref(struct rec_fn *f);
void rec_fn_unref(struct rec_fn *f);

struct rec_type *rec_type_new(void);
struct rec_type *rec_type_clone(const struct rec_type *t);
void rec_type_ref(struct rec_type *t);
void rec_type_unref(struct rec_type *t);

struct rec_global *rec_global_new(void);
struct rec_global *rec_global_clone(const struct rec_global *g);
void rec_global_ref(struct rec_global *g);
void rec_global_unref(struct rec_global *g);

/* Frees what a location owns (its expression bytes or list) and zeroes it. */
void rec_loc_free(struct rec_loc *l);

struct rec_file *rec_file_new(void);
void rec_file_ref(struct rec_file *f);
void rec_file_unref(struct rec_file *f);

struct rec_sym *rec_sym_new(void);
void rec_sym_ref(struct rec_sym *s);
void rec_sym_unref(struct rec_sym *s);

void rec_frag_free(struct rec_frag *fr);

/* True when two records define the same thing (ignoring refs and encoded bytes). */
bool rec_type_same(const struct rec_type *x, const struct rec_type *y);
bool rec_file_same(const struct rec_file *x, const struct rec_file *y);
bool rec_fn_same(const struct rec_fn *x, const struct rec_fn *y);
bool rec_global_same(const struct rec_global *x, const struct rec_global *y);
bool rec_loc_same(const struct rec_loc *x, const struct rec_loc *y);

/* The file id a row refers to, with 0 resolved to the function's file. */
static inline uint64_t rec_row_file(const struct rec_fn *f, const struct rec_row *r)
{
	return r->file ? r->file : f->file;
}

/* The function's compile-unit file id, with 0 resolved to its declaring file. */
static inline uint64_t rec_fn_cu(const struct rec_fn *f)
{
	return f->cu ? f->cu : f->file;
}

/* The global's compile-unit file id, with 0 resolved to its declaring file. */
static inline uint64_t rec_global_cu(const struct rec_global *g)
{
	return g->cu ? g->cu : g->file;
}

#endif
