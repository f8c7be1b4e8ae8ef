/* The mount's state. See fs.h. */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"

long fs_image_index(struct fs *fs, const struct image *im)
{
	size_t n = ctl_registry_count(fs->reg);
	for (size_t i = 0; i < n; i++)
		if (ctl_registry_at(fs->reg, i) == im)
			return (long)i;
	return -1;
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
	rc = conf_registry_new(&fs->conf, &fs->reg, err, errlen);
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
	return notify_start(fs, se, &fs->notify);
}

void fs_stop(struct fs *fs)
{
	notify_stop(fs->notify);
	fs->notify = NULL;
}
