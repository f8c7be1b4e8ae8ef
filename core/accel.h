/* accel: the Apple accelerator tables of an image (__apple_names, __apple_types), kept
 * as persistent indexes, so that a commit changes them in O(log n) per name it adds or
 * drops and a read renders any byte of them in O(log n) plus what it copies.
 *
 * A table is a hash table of names, each name with the DIEs that carry it (a debugger
 * trusts it: a DIE it leaves out is not found by name). The on-disk layout (header,
 * buckets, hashes, offsets, data) orders the names by bucket, and the bucket count grows
 * with the table. An index keeps one node per distinct hash, keyed by the hash with its
 * bits reversed: with a power-of-two bucket count b the bucket is the hash's low log2(b)
 * bits, which are the key's top bits, so each bucket is a run of the key order whatever
 * b is, and growing the table re-sorts nothing.
 *
 * A node's value (a group) is immutable and reference counted: every name of that hash
 * (sorted by strcmp), each with its references (sorted), so that a set of names renders
 * to the same bytes whatever order it was built in. A reference names a record, not an
 * offset: DIE offsets move whenever an earlier function changes size, so the reader
 * resolves them, through the caller's resolver, when the bytes are read.
 *
 * The names' strings live in the image's .debug_str (each group's names, NUL-ended, in
 * key order); the caller places that region and passes its offset.
 *
 * Weights of an index (ptree): [ACCEL_W_DATA] the group's bytes in the data area,
 * [ACCEL_W_STR] its strings' bytes; dimension ACCEL_W_NONE is always 0 (for seeking by
 * rank).
 */
#ifndef DSYMFS_ACCEL_H
#define DSYMFS_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptree.h"

#define ACCEL_W_DATA 0
#define ACCEL_W_STR 1
#define ACCEL_W_NONE 2

/* What a reference stands for; the caller's resolver turns it into DIE offsets. */
enum accel_kind {
	ACCEL_FN = 1,     /* function id's subprogram DIE */
	ACCEL_MARK,       /* the DIE at mark `sub` inside function id's fragment */
	ACCEL_INLINED,    /* every inlined call of abstract function id: `n` DIEs */
	ACCEL_GLOBAL,     /* global id's variable DIE */
	ACCEL_TYPE,       /* type id's DIE */
	ACCEL_INDEX_TYPE, /* the index type of array subranges */
};

/* (kind, id, sub) is a reference's identity; n is how many DIEs it stands for (1 but
 * for ACCEL_INLINED); tag is the DIE's tag (written in the types table only). */
struct accel_ref {
	uint64_t id;
	uint32_t sub;
	uint32_t n;
	uint16_t kind;
	uint16_t tag;
};

/* The index ops: one per table, as their entries differ in size. */
extern const struct ptree_ops accel_names_ops, accel_types_ops;

/* The table's hash of a name (DJB, as debuggers compute it). */
uint32_t accel_hash(const char *name);

/* Adds reference r under name in the index t (a working tree: ptree_put_here), or
 * replaces the one with r's identity; r.n == 0 removes it instead. An empty name is
 * never indexed (0, nothing done). -ENOMEM leaves t as it was. */
int accel_put(struct ptree *t, const char *name, struct accel_ref r);
/* Removes the reference with r's identity under name; 0 when there was none. */
int accel_remove(struct ptree *t, const char *name, struct accel_ref r);

/* Writes ref's r->n DIE offsets (.debug_info offsets) at out. */
typedef void accel_resolve_fn(void *ctx, const struct accel_ref *r, uint32_t *out);

/* The table's size in bytes (0 for an empty index: no section), and its strings'. */
uint64_t accel_table_size(const struct ptree *t);
uint64_t accel_strings_size(const struct ptree *t);

/* Copies n bytes of the table at offset off into out; its strings are at .debug_str
 * offset str_base. Returns 0, -ENOMEM (a group too large for the stack, and no memory)
 * or -EOVERFLOW (a tree too deep to walk). Reads the index only. */
int accel_read_table(const struct ptree *t, uint64_t str_base, accel_resolve_fn *resolve,
		     void *ctx, uint64_t off, uint64_t n, uint8_t *out);
/* Copies n bytes of the index's strings region at offset off into out. */
int accel_read_strings(const struct ptree *t, uint64_t off, uint64_t n, uint8_t *out);

#endif
