/* notify: the dedicated thread that tells the kernel what a publish made stale.
 *
 * Request handlers never call libfuse's notify functions: inside a handler of a
 * single-threaded session they can deadlock against the kernel (measured). A handler
 * posts the image instead; this thread then invalidates the current bundle's entries for
 * the DWARF file and Info.plist (so the next lookup gets the new generation's node id)
 * and the generations/N entries whose generation is no longer retained. Posts coalesce:
 * several publishes of one image before the thread wakes cost one round of
 * invalidations.
 *
 * A control write that published is answered by this thread too, after the
 * invalidations queued before it: when the compiler's write() returns, no cache of the
 * kernel still names the old generation, so every open() after a commit sees the new
 * one, exactly as if the file had been renamed into place.
 *
 * The thread blocks the termination signals, so libfuse's handlers always interrupt the
 * session loop's thread instead.
 *
 * Locking: notify.lock guards the queue; it is the innermost lock (taken by the publish
 * hook with core locks possibly held) and never held while talking to the kernel.
 */
#ifndef DSYMFS_NOTIFY_H
#define DSYMFS_NOTIFY_H

#include <stdint.h>

#include "conf.h"
#include "ctl.h"
#include "fuse_api.h"
#include "node.h"

struct notify;

/* Starts the thread for a mounted session: it reads the registry's images and the pins
 * (which generations the kernel still names), and logs at log_level; all three must
 * outlive it. *out is owned by the caller (notify_stop). -ENOMEM or -errno of
 * pthread_create. */
int notify_start(struct ctl_registry *reg, struct node_pins *pins,
		 enum conf_log_level log_level, struct fuse_session *se, struct notify **out);
/* Stops the thread once it has done the queued work (answering every queued write),
 * joins it, frees. Safe on NULL. */
void notify_stop(struct notify *n);
/* Queues image index `image` (never blocks on the kernel). */
void notify_post(struct notify *n, uint32_t image);
/* Takes over req and answers it with fuse_reply_write(req, count) once every image
 * posted so far has been invalidated. -ENOMEM if it cannot queue: then req is still the
 * caller's to answer. */
int notify_reply_write(struct notify *n, fuse_req_t req, size_t count);

#endif
