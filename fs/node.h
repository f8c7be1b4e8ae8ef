/* node: what a FUSE node id means, and the generations the kernel holds through them.
 *
 * A node id encodes (kind, image index, generation number) and nothing else, so every
 * node can be named without a table and the same node always gets the same id:
 *   bits 0-7 kind, bits 8-23 image index (the registry's order), bits 24-63 generation.
 * Global nodes (the root, control, status, images/) have image 0 and generation 0; the
 * root is kind 1, so FUSE_ROOT_ID decodes to it. Generation 0 in a bundle directory means
 * "the current bundle"; any other generation names one immutable generation, which makes
 * a new node id (a new inode number) per generation, as snapshots need.
 *
 * Pins: while the kernel holds a lookup of any node id that names a generation, that
 * generation stays alive. The pin table keeps one reference per (image, generation) and
 * counts lookups over all its node ids; FORGET drops them, and the last one drops the
 * reference. Lookup counts are only ever summed, so sharing one count per generation is
 * exact.
 *
 * Locking: pins.lock guards the table; it is a leaf lock (nothing else is taken or called
 * into while holding it, except gen_ref).
 */
#ifndef DSYMFS_NODE_H
#define DSYMFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen.h"

enum node_kind {
	NODE_ROOT = 1,
	NODE_CONTROL,
	NODE_STATUS,
	NODE_IMAGES,       /* images/ */
	/* Per image, generation 0. */
	NODE_IMAGE_DIR,    /* images/NAME */
	NODE_DECLS,
	NODE_FILES,
	NODE_TYPES,
	NODE_GLOBALS,
	NODE_ERRORS,
	NODE_GENERATIONS,  /* images/NAME/generations */
	/* Per image; generation 0: the current bundle, N: generations/N's bundle. */
	NODE_GEN_DIR,      /* images/NAME/generations/N (never 0) */
	NODE_BUNDLE,       /* NAME.dSYM */
	NODE_CONTENTS,
	NODE_RESOURCES,
	NODE_DWARF_DIR,
	/* Per image and generation (never 0). */
	NODE_PLIST,
	NODE_DWARF,
	NODE_KIND_END,
};

/* Kinds from NODE_IMAGE_DIR on belong to one image, named by their id's image field. */
static inline bool node_of_image(enum node_kind k)
{
	return k >= NODE_IMAGE_DIR;
}

struct node_id {
	enum node_kind kind;
	uint32_t image;
	uint64_t gen;
};

#define NODE_MAX_IMAGE 0xffffu
#define NODE_MAX_GEN   ((UINT64_C(1) << 40) - 1)

/* The id of a node, or 0 if image or gen do not fit (see NODE_MAX_*). */
uint64_t node_encode(enum node_kind kind, uint32_t image, uint64_t gen);
/* Splits an id; -ESTALE if no node could have it (the image index is not checked). */
int node_decode(uint64_t ino, struct node_id *out);

struct node_pins;

/* *out is owned by the caller (node_pins_free). -ENOMEM. */
int node_pins_new(struct node_pins **out);
/* Drops every reference still held (the kernel forgets nothing at unmount). Safe on
 * NULL. */
void node_pins_free(struct node_pins *p);
/* Counts one lookup of a node of generation g of image `image`; the first takes its own
 * reference to g (the caller keeps its own). -ENOMEM. */
int node_pin(struct node_pins *p, uint32_t image, struct gen *g);
/* A new reference to a pinned generation (caller unrefs), or NULL if none is pinned. */
struct gen *node_pinned(struct node_pins *p, uint32_t image, uint64_t gen);
/* Drops n lookups (FORGET); the last drops the reference. Unknown pairs are ignored. */
void node_forget(struct node_pins *p, uint32_t image, uint64_t gen, uint64_t n);
/* Writes up to max pinned generation numbers of an image to out; returns how many there
 * are (which may exceed max). */
size_t node_pinned_numbers(struct node_pins *p, uint32_t image, uint64_t *out, size_t max);

#endif
