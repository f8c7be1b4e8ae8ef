/* ctl: the control file's semantics, independent of how bytes arrive. A registry of
 * images, and sessions (one per open handle of the control file) that turn written bytes
 * into lines, lines into commands, and batches into commits.
 *
 * Session contract:
 *  - Bytes are split into lines; a line cut between two writes is joined.
 *  - A line is parsed when complete. A syntax error, an over-long line or an over-large
 *    batch fails that write (-EINVAL, -E2BIG) and drops the pending batch.
 *  - `image NAME [create ...]` binds the session to an image (needed only when the
 *    registry has more than one); `create` makes a new image at once.
 *  - `commit` applies the pending batch (image_commit); `abort` drops it.
 *  - The result line (ctl_session_result) is "ok generation=N decls=M\n" after a commit,
 *    "error: line K: ...\n" after a failure, and "" before either.
 *  - Relative paths are resolved against a base directory (ctl_session_set_base) when the
 *    line is read.
 *  - Closing a session with a pending batch drops it and notes that in the image's error
 *    log (a crashed compiler never publishes half a batch).
 * A session is used by one thread at a time (the caller serializes); the registry and
 * images may be used from any thread.
 */
#ifndef DSYMFS_CTL_H
#define DSYMFS_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "enc.h"
#include "image.h"

struct ctl_limits {
	size_t max_line;          /* bytes per line; default 1 MiB */
	size_t max_batch_bytes;   /* bytes of pending batch text; default 1 GiB */
	uint64_t max_decls;       /* functions per image; 0: unlimited */
	uint32_t max_images;      /* default 64 */
	uint32_t keep_generations;/* default 8 */
	uint64_t max_memory;      /* daemon resident bytes; 0: unlimited */
};

void ctl_limits_default(struct ctl_limits *lim);

struct ctl_registry;

/* *out is owned by the caller (ctl_registry_free). -ENOMEM. */
int ctl_registry_new(const struct ctl_limits *lim, struct ctl_registry **out);
/* Frees every image (generations held elsewhere stay valid). Safe on NULL. */
void ctl_registry_free(struct ctl_registry *r);
const struct ctl_limits *ctl_registry_limits(const struct ctl_registry *r);

/* Adds an image (at start-up from configuration, or at run time). -EEXIST, -ENOSPC
 * (max_images), errors of image_new; message in err. */
int ctl_registry_add(struct ctl_registry *r, const char *name, const struct image_origin *o,
		     char *err, size_t errlen);
/* Images are never removed while the registry lives, so these pointers stay valid. */
size_t ctl_registry_count(struct ctl_registry *r);
struct image *ctl_registry_at(struct ctl_registry *r, size_t i);
struct image *ctl_registry_find(struct ctl_registry *r, const char *name);

/* Hooks, called outside registry locks: after any image publishes a generation, and
 * after an image is added. Set them before sessions start. */
void ctl_registry_set_publish_hook(struct ctl_registry *r, image_publish_fn fn, void *arg);
typedef void (*ctl_image_added_fn)(void *arg, struct image *im);
void ctl_registry_set_added_hook(struct ctl_registry *r, ctl_image_added_fn fn, void *arg);

/* Durability (a journal, see journal.h), set once before sessions start. */
struct ctl_durable {
	/* An image is being added, after its name and the limits were checked, before it
	 * becomes visible, with the registry lock held. exe: the bytes it was made from
	 * (NULL when it came from a uuid/arch). Nonzero refuses the add (message in err). */
	int (*created)(void *arg, struct image *im, const uint8_t *exe, size_t exe_len,
		       char *err, size_t errlen);
	/* Every image's pre-publish hook, after the memory limit was checked. */
	image_prepublish_fn committed;
	/* Appends lines describing itself to `status`. */
	void (*status)(void *arg, struct enc_buf *b);
	/* Called by ctl_registry_free after every image is freed: frees arg. */
	void (*release)(void *arg);
	void *arg;
};
void ctl_registry_set_durable(struct ctl_registry *r, const struct ctl_durable *d);

/* The daemon's resident memory in bytes (what max_memory limits), or 0 if unknown. */
uint64_t ctl_memory_used(void);

/* The `status` text: one line per image (name, uuid, arch, generation, decls, bytes,
 * open readers of the current generation), then a limits line with each limit and its
 * current use, then the journal's lines if there is one. Malloc'd; caller frees.
 * -ENOMEM. */
int ctl_status_text(struct ctl_registry *r, char **out, size_t *len);

struct ctl_session;

/* *out is owned by the caller (ctl_session_free). -ENOMEM. */
int ctl_session_new(struct ctl_registry *r, struct ctl_session **out);
/* Drops a pending batch (noting it in the image's error log) and frees. Safe on NULL. */
void ctl_session_free(struct ctl_session *s);
/* Feeds bytes. Returns len, or a negative errno for the first line that failed (lines
 * before it in the same write took effect). */
ssize_t ctl_session_write(struct ctl_session *s, const char *data, size_t len);
/* Relative paths in commands (`exe PATH`, `image NAME create exe=PATH`) are taken from
 * dir, the writer's working directory, and kept absolute from then on (a commit may read
 * the file long after the writer moved elsewhere). dir NULL: the writer's directory is
 * unknown, and a relative path fails its write (-EINVAL) with a message saying paths
 * must be absolute. Without a call, relative paths are left to this process's own working
 * directory (what `dsymfs render` wants). Copies dir; -ENOMEM. */
int ctl_session_set_base(struct ctl_session *s, const char *dir);
/* The current result line (valid until the next write or free). */
const char *ctl_session_result(const struct ctl_session *s, size_t *len);

/* Applies a whole script (as written to a session) and commits what is pending at its
 * end: the engine of `dsymfs render`. Returns 0 or the first error (message in err). */
int ctl_run_script(struct ctl_registry *r, const char *text, size_t len, char *err,
		   size_t errlen);

#endif
