/* records: the per-id records an image is made of (functions, types, source files,
 * symbols), reference counted so generations can share them.
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

struct rec_param {
	char *name;
	uint64_t type;   /* type id; 0 is not allowed for a parameter */
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
	/* Encoded by dwarf_encode_fn; empty (NULL) until then. */
	struct rec_frag info;  /* the subprogram DIE, its parameters and a null entry */
	struct rec_frag line_prog; /* one line-program sequence ending in end_sequence */
};

enum rec_type_kind {
	REC_TYPE_BASE = 1,
	REC_TYPE_POINTER,
	REC_TYPE_CONST,
	REC_TYPE_TYPEDEF,
};

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
	uint64_t to;      /* pointer/const/typedef: target type id; 0: void */
	struct rec_frag info;  /* encoded by dwarf_encode_type */
};

struct rec_file {
	uint32_t refs;
	uint64_t id;
	char *path;
	char *dir;        /* NULL: none */
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

#endif
