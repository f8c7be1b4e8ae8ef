/* The mount's state. See fs.h. */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify.h"
#include "registry.h"

long fs_image_index(struct fs *fs, const struct image *im)
{
	size_t n = ctl_registry_count(fs->reg);
	for (size_t i = 0; i < n; i++)
		if (ctl_registry_at(fs->reg, i) == im)
			return (long)i;
	return -1;
}

char *fs_process_cwd(pid_t pid)
{
	char proc[64], path[PATH_MAX];
	struct stat theirs, ours;
	snprintf(proc, sizeof proc, "/proc/%ld/root", (long)pid);
	if (pid <= 0 || stat(proc, &theirs) || stat("/", &ours) || theirs.st_dev != ours.st_dev ||
	    theirs.st_ino != ours.st_ino)
		return NULL;
	snprintf(proc, sizeof proc, "/proc/%ld/cwd", (long)pid);
	ssize_t n = readlink(proc, path, sizeof path);
	if (n <= 0 || (size_t)n == sizeof path || path[0] != '/')
		return NULL;
	path[n] = 0;
	static const char deleted[] = " (deleted)";
	size_t d = sizeof deleted - 1;
	if ((size_t)n > d && !strcmp(path + n - d, deleted) && access(path, F_OK))
		return NULL;
	return strdup(path);
}

/* Runs in the committing request's thread: it must not talk to the kernel (a notify call
 * from inside a handler can deadlock), so it only queues the work. */
static void on_publish(void *arg, struct image *im, uint64_t generation)
{
	struct fs *fs = arg;
	struct gen *g = image_current(im);
	FS_LOG(fs, CONF_LOG_INFO, "image %s: generation %llu published (%llu decls, %llu bytes)",
	       image_name(im), (unsigned long long)generation,
	       (unsigned long long)gen_ndecls(g), (unsigned long long)gen_size(g));
	gen_unref(g);
	long i = fs_image_index(fs, im);
	if (fs->notify && i >= 0)
		notify_post(fs->notify, (uint32_t)i);
	__atomic_add_fetch(&fs->publishes, 1, __ATOMIC_RELEASE);
}

/* New images need no notification: lookups of missing names are never cached and
 * listings are read afresh at each opendir. */
static void on_added(void *arg, struct image *im)
{
	struct fs *fs = arg;
	FS_LOG(fs, CONF_LOG_INFO, "image %s added", image_name(im));
}

int fs_new(struct conf *conf, struct fs **out, char *err, size_t errlen)
{
	struct fs *fs = calloc(1, sizeof *fs);
	if (!fs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fs->conf = *conf;
	memset(conf, 0, sizeof *conf);
	fs->uid = getuid();
	fs->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs->started);
	handle_list_init(&fs->handles);
	int rc = node_pins_new(&fs->pins);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = registry_from_conf(&fs->conf, &fs->reg, err, errlen);
	if (rc)
		goto fail;
	if (*err)
		FS_LOG(fs, CONF_LOG_WARN, "%s", err);
	ctl_registry_set_publish_hook(fs->reg, on_publish, fs);
	ctl_registry_set_added_hook(fs->reg, on_added, fs);
	*out = fs;
	return 0;
fail:
	fs_free(fs);
	return rc;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	fs_stop(fs);
	/* Handles first: a control session logs its dropped batch into its image. */
	handle_list_destroy(&fs->handles);
	node_pins_free(fs->pins);
	ctl_registry_free(fs->reg);
	conf_free(&fs->conf);
	free(fs);
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	return notify_start(fs->reg, fs->pins, fs->conf.log_level, se, &fs->notify);
}

void fs_stop(struct fs *fs)
{
	notify_stop(fs->notify);
	fs->notify = NULL;
}
