/* image: one image (one executable's dSYM): its committed generations, the commit that
 * turns a batch of commands into a new generation, retention of old generations, and the
 * log of rejected batches. The commit's two halves have their own modules behind this
 * header: batch.c applies the commands (batch.h), check.c runs the checks (check.h).
 *
 * Commit semantics (docs/protocol.md states them for users):
 *  - Commands apply in order to a working copy of the current generation's state; a
 *    range command selects what is in its window at that point of the batch.
 *  - Checks that involve other records run once, on the final state: references to
 *    files and types, overlaps, __TEXT,__text bounds, rows inside their function, lines
 *    >= 1 after shifts, delfile/deltype of something still used, unknown ids.
 *  - All or nothing: any error leaves the committed state untouched and names the line.
 *  - A batch that changes nothing publishes nothing and reports the current generation.
 *
 * Cost: a commit touching k functions costs O(k log n) time and new memory; range
 * commands cost O(m log n) for the m functions they move (line-range also scans the
 * image: O(n)); delfile/deltype and exe changes add one O(n) check.
 *
 * Locking: image.lock guards the current pointer, the retained list and the error log
 * and is held only for pointer swaps and copies; image.commit_lock serializes commits
 * (taken first, never while holding lock). Readers never wait for a commit.
 */
#ifndef DSYMFS_IMAGE_H
#define DSYMFS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd.h"
#include "gen.h"

struct state;

struct image;

/* Where a new image takes its identity from: an executable, or a UUID and arch given
 * directly (with a default segment table whose __TEXT,__text is empty). */
struct image_origin {
	const char *exe_path;      /* NULL: use uuid/arch */
	const uint8_t *exe_data;   /* when set: the executable's bytes, already read (exe_path
				    * then only names it in messages) */
	size_t exe_len;
	bool has_uuid;
	uint8_t uuid[16];          /* !has_uuid and no exe: a fresh random UUID */
	bool has_arch;
	uint32_t cputype, cpusubtype;  /* !has_arch and no exe: x86_64 */
};

/* The origin an `image NAME create ...` command describes (pointers alias c). */
void image_origin_of(const struct cmd *c, struct image_origin *o);

struct image_limits {
	uint64_t max_decls;        /* functions per image; 0: unlimited */
	uint32_t keep_generations; /* newest generations kept reachable (>= 1) */
};

/* A command of a batch with the line number it came from (for messages). */
struct image_item {
	struct cmd cmd;
	uint64_t line_no;
};

struct image_result {
	uint64_t generation;   /* the generation current after the commit */
	uint64_t ndecls;       /* functions in it */
	bool published;        /* false when the batch changed nothing */
};

/* Creates an image with generation 1 (a valid dSYM with no functions). On success *out
 * is owned by the caller (image_free). Errors: -EINVAL (bad name), errors of
 * macho_read_exe, -ENOMEM; message in err. */
int image_new(const char *name, const struct image_origin *origin,
	      const struct image_limits *lim, struct image **out, char *err, size_t errlen);
/* Drops the image's own references to its generations and frees it; generations held
 * elsewhere stay valid. Safe on NULL. */
void image_free(struct image *im);

const char *image_name(const struct image *im);

/* A new reference to the current generation (never NULL). */
struct gen *image_current(struct image *im);
/* New references to the retained generations, newest first, at most n; returns how
 * many were written. The current generation is always the first. */
size_t image_retained(struct image *im, struct gen **out, size_t n);
/* A new reference to retained generation `number`, or NULL if it is not retained. */
struct gen *image_generation(struct image *im, uint64_t number);

/* Applies a batch and publishes the result as a new generation. Items are borrowed (the
 * fn/type/file records in them may be encoded in place and shared into the image). On
 * error: -EINVAL (invalid batch), -ENOSPC (a limit), -ENOMEM, or an exe read error;
 * err holds "line K: what and why"; nothing changes. */
int image_commit(struct image *im, struct image_item *items, size_t nitems,
		 struct image_result *res, char *err, size_t errlen);

/* The bytes one `exe` command of a batch read and parsed. */
struct image_blob {
	const uint8_t *data;
	size_t len;
};

/* A batch that is about to publish, as the pre-publish hook sees it. */
struct image_batch_view {
	const struct image_item *items;   /* the whole batch, in order */
	size_t nitems;
	const struct image_blob *exes;    /* the bytes each CMD_EXE item read, in item order */
	size_t nexes;
	const struct state *state;        /* the state being published */
	uint64_t generation;              /* the number it gets */
};

/* Called by image_commit for a batch that changes something, after every check passed
 * and the new generation was built, before it is published, with the commit lock held:
 * the last chance to refuse (a memory limit; a journal that must make the batch durable
 * before it is acknowledged). Returns 0 to publish, or a negative errno with the whole
 * message in err; the commit then fails with that errno and nothing changes. Everything
 * in the view is borrowed for the call. */
typedef int (*image_prepublish_fn)(void *arg, struct image *im,
				   const struct image_batch_view *v, char *err, size_t errlen);
void image_set_prepublish_hook(struct image *im, image_prepublish_fn fn, void *arg);

/* For restoring from a journal before the image is served. image_replay applies a
 * batch with every check of image_commit and makes the result the image's state, but
 * builds no generation, so replaying many small batches costs only what applying them
 * costs; *changed says whether it changed anything. Errors as image_commit. The current
 * generation is stale until image_restore_number replaces it (and drops the other
 * retained ones) by one of the current state numbered `number`, so numbering continues
 * where it stopped: -ENOMEM, -EFBIG. */
int image_replay(struct image *im, struct image_item *items, size_t nitems, bool *changed,
		 char *err, size_t errlen);
int image_restore_number(struct image *im, uint64_t number);
/* The other way to restore: *st (settled, with every record encoded) becomes the
 * image's state as a whole, taken over by the image (*st is zeroed); the generation is
 * stale until image_restore_number, as after image_replay. -ENOSPC (more functions than
 * max_decls; message in err) leaves the image as it was and *st the caller's. */
int image_restore_state(struct image *im, struct state *st, char *err, size_t errlen);

/* A new reference-holding copy of the current state (state_release it). */
void image_state(struct image *im, struct state *out);

/* Called after each publish, outside every image lock, from the committing thread. */
typedef void (*image_publish_fn)(void *arg, struct image *im, uint64_t generation);
void image_set_publish_hook(struct image *im, image_publish_fn fn, void *arg);

/* The log of rejected and dropped batches (newest last, the last IMAGE_ERRORS_KEPT). */
#define IMAGE_ERRORS_KEPT 32
void image_log_error(struct image *im, const char *msg);
/* A malloc'd copy of the log, one entry per line (caller frees). -ENOMEM. */
int image_errors_text(struct image *im, char **out, size_t *len);

#endif
