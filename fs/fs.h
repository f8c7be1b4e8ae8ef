/* fs: the state of one mount, shared by every request handler and the notifier thread,
 * and the one place fs/ includes libfuse from.
 *
 * A handler reaches the state through fs_of(req) (the session's userdata); nothing is
 * global, so two mounts could live in one process.
 *
 * Lock order, outermost first: a control handle's lock, then the core's locks (taken
 * inside ctl_session_write, which runs the publish hook), then notify's queue lock.
 * The pin table's lock and the handle list's lock are leaves: nothing is taken while
 * holding them. Neither the notifier nor a handler holds any lock of ours while it talks
 * to the kernel.
 */
#ifndef DSYMFS_FS_H
#define DSYMFS_FS_H

#include "fuse_api.h"

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "conf.h"
#include "ctl.h"
#include "handle.h"
#include "log.h"
#include "node.h"

struct notify;

struct fs {
	struct conf conf;             /* owned; read-only once built */
	struct ctl_registry *reg;     /* owned; has its own locks */
	uid_t uid;                    /* the mounting user, owner of every file */
	gid_t gid;
	struct timespec started;      /* mtime of the nodes that never change */
	struct node_pins *pins;       /* owned; has its own lock */
	struct handle_list handles;   /* has its own lock */
	/* Set by fs_start before the session loop runs and cleared by fs_stop after it
	 * returns; read by the publish hook, which runs inside that loop. */
	struct notify *notify;
	/* Publishes so far (atomic): a control write compares it before and after. */
	uint64_t publishes;
};

/* Takes over *conf (left zeroed), builds the registry and hooks it to the mount. On
 * success *out is owned by the caller (fs_free). On failure err holds the message.
 * -ENOMEM or errors of registry_from_conf. */
int fs_new(struct conf *conf, struct fs **out, char *err, size_t errlen);
/* Stops the notifier if running, frees every handle still open, the pins, the
 * registry. Safe on NULL and on a half-built fs. */
void fs_free(struct fs *fs);

/* Starts the notifier for a mounted session (after fuse_daemonize: threads do not
 * survive its fork). -errno of pthread_create, -ENOMEM. */
int fs_start(struct fs *fs, struct fuse_session *se);
/* Stops it (before the session is destroyed). Safe if not started. */
void fs_stop(struct fs *fs);

static inline struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline uint64_t fs_publishes(struct fs *fs)
{
	return __atomic_load_n(&fs->publishes, __ATOMIC_ACQUIRE);
}

/* The working directory of process pid as a path in this process's file tree, for
 * resolving the relative paths it writes to control. NULL when it cannot be known: the
 * process is gone, /proc is not readable, the directory was removed, or the process
 * sees another root (a container), where its path names something else here. Malloc'd;
 * caller frees. */
char *fs_process_cwd(pid_t pid);

/* The registry index of an image (its node ids' image field), or -1. */
long fs_image_index(struct fs *fs, const struct image *im);

#define FS_LOG(fs, level, ...) log_msg((fs)->conf.log_level, (level), __VA_ARGS__)

#endif
