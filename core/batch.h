/* batch: one batch of commands being applied to a working copy of an image's state, and
 * the record of what each command touched, which the commit-time checks (check.h) use to
 * name the line that caused an error. Shared by image.c, batch.c and check.c only.
 *
 * Contract: commands apply in order, each to the state the ones before it left. A command
 * fails on its own only for what it can judge alone (an unknown id, a full segment table,
 * an unreadable executable); whatever involves other records is left to check_final, on
 * the state the last command leaves. On error b->err holds "line K: what and why" and the
 * working state is fit only for batch_release.
 */
#ifndef DSYMFS_BATCH_H
#define DSYMFS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "macho.h"
#include "state.h"

struct touch {
	uint64_t id;
	uint64_t line_no;
};

struct touches {
	struct touch *v;
	size_t n, cap;
};

struct batch {
	uint64_t max_decls;        /* functions the final state may hold; 0: no limit */
	struct state w;
	struct image_blob *exes;   /* bytes read by `exe` commands, in order (owned) */
	size_t nexes;
	struct touches fns;        /* functions added or changed */
	struct touches types;      /* types added or changed */
	struct touches globals;    /* globals added or changed */
	struct touches dropped_files, dropped_types, dropped_globals;  /* delfile / deltype
								       * / delglobal */
	struct touches dropped_fns;  /* abstract fns deleted or given code: origins an
				      * inlined block may still name */
	struct touches poisoned;   /* functions a line shift took to <= 0, at that line */
	uint64_t segs_line;        /* line of the last segment/section/exe change, or 0 */
	uint64_t sym_line;         /* line of the last sym change, or 0 */
	uint64_t line_no;          /* line of the command being applied */
	/* types_changed: types, globals or abstract functions (the declarations table) */
	bool files_changed, types_changed, changed;
	char *err;
	size_t errlen;
};

/* Writes "line K: <message>" to b->err and returns rc. */
int batch_fail(struct batch *b, int rc, uint64_t line_no, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* batch_fail(b, -ENOMEM, <the current line>, "out of memory"). */
int batch_oom(struct batch *b);

/* Adds the executable's symbols to s (entries the compiler defined keep their place).
 * -ENOMEM may leave some added: s is then only fit to be released. */
int batch_exe_syms(struct state *s, const struct macho_exe *exe);

/* Copies base into b->w and applies the items to it in order; the checks on the result
 * are check_final's, which the caller runs next when b->changed. Items are borrowed, as
 * by image_commit. b holds only max_decls, err and errlen on entry, and is released with
 * batch_release whatever the outcome. Errors as image_commit. */
int batch_run(struct batch *b, const struct state *base, struct image_item *items,
	      size_t nitems);
/* Frees what b owns: the working state, the touch records and the executables' bytes. */
void batch_release(struct batch *b);

#endif
