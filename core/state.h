/* state: the complete content of one image at one point in time: identity, segment
 * table, and persistent trees of files, types, functions and symbols, plus the tables
 * derived from files and types that reads need. image.c and batch.c build states;
 * gen.c reads them.
 *
 * A state is a bundle of references: copying one (state_copy) costs O(1) per tree and
 * shares everything; the working copy of a batch is a copy whose trees are replaced as
 * commands apply. Once a state is published in a generation it is never modified.
 *
 * Trees (ptree keys):
 *   files      (id, 0)          -> struct rec_file
 *   types      (id, 0)          -> struct rec_type   weights: [0] info bytes
 *   globals    (id, 0)          -> struct rec_global
 *   fn_by_id   (id, 0)          -> struct rec_fn     every function, abstract ones too
 *   abstracts  (id, 0)          -> struct rec_fn     the abstract functions (no code):
 *                                                    in neither fn_layout nor fn_by_addr
 *   fn_layout  (cu file id, id) -> struct rec_fn     weights: [0] info bytes,
 *                                                     [1] line-program bytes, [2] 16,
 *                                                     [3] .debug_loc, [4] .debug_ranges
 *   fn_by_addr (low_pc, id)     -> struct rec_fn
 *   syms       (h, 0, name)     -> struct rec_sym    the compiler's symbols (`sym`)
 *              (h, k, name)     -> struct rec_sym    the executable's k-th symbol (k >= 1)
 *                                                    weights: [0] 16, [1] strlen + 1
 *              h is a hash of the name, so every entry of one name sits in one key range
 *              (found in O(log n)); an executable may define a name several times
 *              (static functions of two files), so its entries are told apart by k.
 *   units      (cu file id, 0) -> struct state_unit  weights: the unit's bytes in
 *                                                    .debug_info, .debug_line (less the
 *                                                    file tables every unit repeats) and
 *                                                    .debug_aranges
 *   chunks     (cu file id, id >> STATE_CHUNK_SHIFT) -> struct state_chunk
 *                                                    weights: its functions' fn_layout
 *                                                    weights (a run of fn_layout)
 *   names      accel.h's key -> its group            the __apple_names index: every
 *                                                    function with code (name, linkage
 *                                                    name), its variables at fixed
 *                                                    addresses, every global, and under
 *                                                    each abstract function's names its
 *                                                    inlined calls
 *   sites      (origin id, fn id) -> struct state_sites   weights: [0] its count: the
 *                                                    inlined calls of abstract function
 *                                                    `origin` in function `fn`
 * fn_layout is the order functions appear in the file: grouped by compile unit. units is
 * its summary, one node per unit, so that a generation finds any unit and its offsets in
 * O(log U) and lays out nothing per unit.
 *
 * Settling: function and file updates only mark the units (and function chunks) they
 * touch; state_settle brings those records up to date (O(log n) each). A state is
 * settled before it is copied into a generation or handed to another owner: state_copy
 * does not copy marks.
 */
#ifndef DSYMFS_STATE_H
#define DSYMFS_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macho.h"
#include "ptree.h"
#include "records.h"
#include "util.h"

/* Weight dimensions of fn_layout and syms. */
#define STATE_W_INFO 0
#define STATE_W_LINE 1
#define STATE_W_ARANGES 2
#define STATE_W_LOC 3       /* the function's .debug_loc part: no unit headers */
#define STATE_W_RANGES 4    /* its .debug_ranges part */
#define STATE_W_NLIST 0
#define STATE_W_STR 1

struct state_files;
struct state_types;

/* The blocks (1-based indexes) of one function that are inlined calls of one origin, in
 * order. Immutable, reference counted (atomic). */
struct state_sites {
	uint32_t refs;
	uint32_t n;
	uint32_t blocks[];
};

/* A chunk's bytes in one section with every slot resolved against the tables it holds:
 * what gen.c renders on the chunk's first read, so that later reads of any generation
 * with the same tables copy them at once. Immutable; reference counted (atomic). */
struct state_unit_bytes {
	uint32_t refs;
	struct state_files *ftab;  /* references to the tables the slots were resolved with; */
	struct state_types *ttab;  /* NULL where the section has no slot of that kind */
	uint64_t loc_base;         /* .debug_loc and .debug_ranges offsets of the chunk's lists */
	uint64_t ranges_base;      /* (0 for sections that refer to none) */
	uint64_t len;
	uint8_t bytes[];
};

/* A new rendering of len bytes (uninitialized) that holds references to ftab and ttab
 * (either may be NULL); refs = 1. NULL on ENOMEM. */
struct state_unit_bytes *state_unit_bytes_new(uint64_t len, struct state_files *ftab,
					      struct state_types *ttab);
void state_unit_bytes_ref(struct state_unit_bytes *b);
/* Frees b and drops its table references on the last reference; NULL is allowed. */
void state_unit_bytes_unref(struct state_unit_bytes *b);

/* One compile unit: the functions of fn_layout whose unit file is `file`. Immutable and
 * reference counted (atomic), like a record; a change makes a new one. */
struct state_unit {
	uint32_t refs;
	uint64_t file;
	uint64_t nfns;
	uint64_t fn_w[PTREE_NW];  /* sums of its functions' fn_layout weights */
	struct rec_file *src;     /* the unit's file (a reference); NULL if there is none */
	uint32_t die_size;        /* its compile-unit DIE */
};

static inline const char *state_unit_name(const struct state_unit *u)
{
	return u->src ? u->src->path : "";
}
static inline const char *state_unit_dir(const struct state_unit *u)
{
	return u->src ? u->src->dir : NULL;
}

/* Functions are rendered and cached in chunks: the functions of one unit whose ids share
 * id >> STATE_CHUNK_SHIFT (128 ids: 4-18 KiB of .debug_info for dense ids). A chunk's
 * bytes depend on its functions and the tables only, so a commit that changes one
 * function makes one new chunk record, and every other chunk, with whatever it has
 * rendered, carries over to the new generation. */
#define STATE_CHUNK_SHIFT 7

/* One chunk: immutable and reference counted (atomic) like a record, but for its cache
 * of rendered bytes, which any reader may fill or replace under lock. */
struct state_chunk {
	uint32_t refs;
	uint64_t file, index;     /* its key */
	uint64_t w[PTREE_NW];     /* sums of its functions' fn_layout weights */
	pthread_mutex_t lock;     /* guards bytes[] */
	struct state_unit_bytes *bytes[PTREE_NW];  /* per fn_layout dimension; NULL: none */
};

static inline struct ptree_key state_chunk_key(uint64_t file, uint64_t id)
{
	return (struct ptree_key){file, id >> STATE_CHUNK_SHIFT, NULL};
}

/* Units, and chunks (file, index), marked by updates and not yet settled. */
struct state_marks {
	uint64_t *ids;
	size_t n, cap;
	struct ptree_key *chunks;
	size_t nchunks, capchunks;
};

/* A shared, immutable segment table. */
struct state_segs {
	uint32_t refs;
	struct macho_segtab t;
};

/* Files in id order, and the line-program tables every unit's header carries. A file's
 * line-table index is its position + 1. */
struct state_files {
	uint32_t refs;
	size_t n;
	struct rec_file **recs;   /* each holds a reference */
	uint8_t *tables;
	size_t tables_len;
};

/* One piece of the declarations unit, in layout order: a DIE fragment (len of its bytes:
 * all of them, or all but the null entry ending its children when nested types follow
 * it), or with frag NULL the one-byte null entry that ends those nested types. */
struct state_decl {
	const struct rec_frag *frag;  /* borrowed from a record the table holds, or own[] */
	uint32_t len;
	uint64_t off;                 /* from the first declaration DIE */
};

/* The declarations unit's table: every type DIE (a type with scope= right after its
 * scope's members), then every global variable's DIE, then every abstract function's.
 * Types are also listed in id order (recs, with each DIE's offset from the first
 * declaration DIE in offs) for lookups, and so are abstract functions, with the offsets
 * of their children. Rebuilt whole whenever types, globals or abstract functions
 * change. */
struct state_types {
	uint32_t refs;
	size_t n;
	struct rec_type **recs;   /* each holds a reference */
	uint64_t *offs;
	uint64_t total;           /* bytes of every piece */
	size_t nents;
	struct state_decl *ents;
	size_t nown;
	struct rec_frag *own;     /* encodings made for this table (unsigned enums) */
	size_t nglobals;
	struct rec_global **globals;  /* id order; each holds a reference */
	size_t nabstracts;
	struct rec_fn **abstracts;    /* id order; each holds a reference */
	uint64_t *abs_offs;           /* each one's DIE */
	size_t *child_start;          /* its children's first index in child_offs */
	uint64_t *child_offs;         /* parameters, then variables, of each in turn */
	uint64_t *glob_offs;      /* each global's DIE */
	struct ptree type_names;  /* the __apple_types index (accel.h) of these types */
	uint64_t index_off;       /* the __ARRAY_SIZE_TYPE__ DIE; UINT64_MAX: none (no array) */
	bool uses_files;          /* some DIE has a decl_file: the unit needs a line table */
};

struct state {
	struct macho_ident ident;
	struct state_segs *segs;
	struct ptree files, types, globals, fn_by_id, abstracts, fn_layout, fn_by_addr, syms,
		units, chunks, names, sites;
	struct state_marks marks;   /* this owner's own: never shared */
	struct state_files *ftab;
	struct state_types *ttab;
};

extern const struct ptree_ops state_file_ops, state_type_ops, state_global_ops, state_fn_ops,
	state_fn_layout_ops, state_sym_ops, state_unit_ops, state_chunk_ops, state_sites_ops;

static inline struct ptree_key state_id_key(uint64_t id)
{
	return (struct ptree_key){id, 0, NULL};
}
static inline struct ptree_key state_layout_key(const struct rec_fn *f)
{
	return (struct ptree_key){rec_fn_cu(f), f->id, NULL};
}
static inline struct ptree_key state_addr_key(const struct rec_fn *f)
{
	return (struct ptree_key){f->low_pc, f->id, NULL};
}
/* Any stable hash will do; equal names must land in one key range. */
static inline uint64_t state_name_hash(const char *name)
{
	return util_hash_str(name);
}
static inline struct ptree_key state_sym_key(const char *name)
{
	return (struct ptree_key){state_name_hash(name), 0, name};
}
static inline struct ptree_key state_exe_sym_key(uint64_t k, const char *name)
{
	return (struct ptree_key){state_name_hash(name), k, name};
}

/* An empty state with the given identity and segments (copied). -ENOMEM. The caller
 * owns *out (state_release). */
int state_init(struct state *out, const struct macho_ident *ident,
	       const struct macho_segtab *segs);
/* *out becomes another owner of everything in *in (but for its marks: settle first). */
void state_copy(const struct state *in, struct state *out);
/* Drops every reference the state holds and zeroes it. Safe on a zeroed state. */
void state_release(struct state *s);

/* Replaces the segment table with a copy of t (the old one is unref'd). -ENOMEM. */
int state_set_segs(struct state *s, const struct macho_segtab *t);
/* Rebuilds ftab from the files tree (and ttab from types and globals) after they
 * changed; a global not yet encoded is encoded here (dwarf_encode_global). -ENOMEM
 * leaves the old table in place. */
int state_rebuild_files(struct state *s);
int state_rebuild_types(struct state *s);

/* Lookups in the derived tables (binary search). The file's line-table index (1-based)
 * or 0 when absent; the type DIE's offset from the first type DIE, or UINT64_MAX. */
uint32_t state_file_index(const struct state_files *ft, uint64_t id);
uint64_t state_type_offset(const struct state_types *tt, uint64_t id);
uint64_t state_global_offset(const struct state_types *tt, uint64_t id);
/* The offset, from the first declaration DIE, of abstract function id's DIE, or of its
 * parameter or variable called name (of two such, the one declared at line, else the
 * first; *is_param says which kind it is); UINT64_MAX when there is none. */
uint64_t state_abstract_offset(const struct state_types *tt, uint64_t id);
uint64_t state_abstract_child_offset(const struct state_types *tt, uint64_t id,
				     const char *name, uint32_t line, bool *is_param);
const struct rec_file *state_file(const struct state_files *ft, uint64_t id);

/* Updates of one of the state's own trees (ptree_put_here / ptree_del_here: nodes no
 * other state shares change in place). On failure the tree is unchanged. -ENOMEM,
 * -ENOENT. */
int state_put(struct ptree *t, struct ptree_key k, void *val);
int state_del(struct ptree *t, struct ptree_key k);

/* Marks the unit headed by file id `file` for state_settle (a function of it or the
 * file itself changed). -ENOMEM. */
int state_mark_unit(struct state *s, uint64_t file);
/* Marks what a change of function f changes: its unit and its chunk. For code that puts
 * functions into the trees itself (a snapshot's loader); state_put_fn and state_del_fn
 * mark on their own. -ENOMEM. */
int state_mark_fn(struct state *s, const struct rec_fn *f);
/* Brings every marked unit's record in `units` up to date with fn_layout and files, and
 * clears the marks: O(log n) per marked unit. -ENOMEM leaves the marks that are not
 * settled yet (calling it again finishes the work). */
int state_settle(struct state *s);

/* Inserts or replaces function f (already encoded) in the three function trees (an
 * abstract function: in fn_by_id and abstracts only; a caller that adds or removes one
 * rebuilds the declarations table, state_rebuild_types, as for a type),
 * removing `old` (the record f replaces, or NULL) from the keyed trees first; old may be
 * freed by the time it returns. -ENOMEM may leave the three trees out of step: the state
 * is then only fit to be released (a failed batch discards its working copy). */
int state_put_fn(struct state *s, const struct rec_fn *old, struct rec_fn *f);
/* Removes f from the three trees; -ENOMEM as for state_put_fn. Both mark the units they
 * change, and keep names and sites up to date: O(log n) for each name and inlined origin
 * the function has (or had) when they change, nothing when they stay. */
int state_del_fn(struct state *s, const struct rec_fn *f);

/* The same for a global (old: the record g replaces, or NULL): the globals tree and its
 * names. -ENOMEM as for state_put_fn. */
int state_put_global(struct state *s, const struct rec_global *old, struct rec_global *g);
int state_del_global(struct state *s, const struct rec_global *g);

/* Builds names and sites anew from fn_by_id and globals, for code that fills those trees
 * itself (a snapshot's loader). -ENOMEM leaves the state fit only to be released. */
int state_rebuild_names(struct state *s);

#endif
