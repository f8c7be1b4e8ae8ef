/* Symlinks to mounted bundles. See link.h. */
#include "link.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* MOUNT/NAME.dSYM, what an image's link points at. Malloc'd; caller frees. */
static char *bundle_of(const char *mountpoint, const struct conf_image *im)
{
	char *t;
	return asprintf(&t, "%s/%s.dSYM", mountpoint, im->name) < 0 ? NULL : t;
}

int link_check(const struct conf *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nimages; i++) {
		const char *path = c->images[i].link;
		if (!path)
			continue;
		struct stat st;
		if (!lstat(path, &st)) {
			if (S_ISLNK(st.st_mode))
				continue;
			snprintf(err, errlen, "%s:%u: image %s: link %s exists and is not a symlink; "
				 "remove it or choose another path", c->origin, c->images[i].line,
				 c->images[i].name, path);
			return -EEXIST;
		}
		int rc = -errno;
		if (rc == -ENOENT) {
			/* The link itself may be missing, its directory may not. */
			char *dir = strdup(path);
			if (!dir)
				return -ENOMEM;
			/* Paths are absolute: there is a slash; keep it for a link right under /. */
			char *slash = strrchr(dir, '/');
			slash[slash == dir] = 0;
			rc = stat(dir, &st) ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
			free(dir);
		}
		if (rc) {
			snprintf(err, errlen, "%s:%u: image %s: link %s: %s", c->origin,
				 c->images[i].line, c->images[i].name, path,
				 rc == -ENOENT ? "its directory does not exist" : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* True if path is a symlink whose text is target. */
static int points_at(const char *path, const char *target)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof buf);
	return n >= 0 && (size_t)n == strlen(target) && !memcmp(buf, target, (size_t)n);
}

static void remove_first(const struct conf *c, const char *mountpoint, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!c->images[i].link)
			continue;
		char *target = bundle_of(mountpoint, &c->images[i]);
		if (target && points_at(c->images[i].link, target))
			unlink(c->images[i].link);
		free(target);
	}
}

int link_make_all(const struct conf *c, const char *mountpoint, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nimages; i++) {
		const char *path = c->images[i].link;
		if (!path)
			continue;
		char *target = bundle_of(mountpoint, &c->images[i]);
		if (!target) {
			remove_first(c, mountpoint, i);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		/* link_check saw a symlink or nothing here; only a symlink is replaced. */
		struct stat st;
		int rc = 0;
		if (!lstat(path, &st) && S_ISLNK(st.st_mode) && unlink(path))
			rc = -errno;
		if (!rc && symlink(target, path))
			rc = -errno;
		free(target);
		if (rc) {
			remove_first(c, mountpoint, i);
			snprintf(err, errlen, "image %s: cannot make link %s: %s", c->images[i].name,
				 path, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void link_remove_all(const struct conf *c, const char *mountpoint)
{
	remove_first(c, mountpoint, c->nimages);
}
