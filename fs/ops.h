/* ops: the FUSE low-level request handlers. Each handler decodes its node id, asks
 * tree/handle/node for the answer, and replies exactly once; helpers only return
 * negative errnos.
 *
 * Contract with the kernel:
 *  - LOOKUP of the current DWARF file or Info.plist answers the current generation's
 *    node id and pins that generation until FORGET; open() binds the handle to the
 *    node's generation (keep_cache, page cache allowed, never direct_io), so an fd or a
 *    mapping keeps its bytes across commits.
 *  - Small files (status, the text views) open with direct_io: a snapshot taken at
 *    open, read whole whatever size an earlier stat saw.
 *  - A control write that published is answered by the notifier after it invalidated
 *    the old entries (the one request not answered by its handler).
 *  - control opens with direct_io (one write() is one request) and only for the
 *    mounting user (checked here: root is not special; mount without
 *    default_permissions, with allow_other if other users should even see the tree).
 *  - Data files are read-only: opening one for writing gives EACCES; creating,
 *    removing, renaming or changing attributes gives EROFS.
 * main.c runs them in libfuse's multi-threaded loop, so a read is never queued behind a
 * commit (fuse_session_loop with -s). Every handler is safe to run concurrently with any
 * other: a READ's reply holds its handle (handle_ref) against a RELEASE that another
 * thread may be handed as soon as the kernel has taken the reply.
 */
#ifndef DSYMFS_OPS_H
#define DSYMFS_OPS_H

#include "fs.h"

/* The handler table; the session's userdata must be the struct fs. */
const struct fuse_lowlevel_ops *ops_table(void);

#endif
