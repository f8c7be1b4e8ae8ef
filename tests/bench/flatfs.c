/* flatfs: the benchmark's "flat FUSE" reference. A minimal libfuse3 low-level server that
 * serves the bytes of one file from one contiguous buffer, the way dsymfs serves a
 * generation but without synthesizing anything: what FUSE itself costs.
 *
 *   flatfs DATAFILE MOUNTPOINT [FUSE options]
 *
 * Same choices as dsymfs's data path: keep_cache at open, fuse_reply_buf, one thread
 * (fuse_session_loop), long entry/attr timeouts, default mount options. The tree:
 *
 *   MOUNT/dN    N = 0, 1, 2, ...: every name is a distinct inode (N + 16) serving the same
 *               bytes, so the first read of a new name is cold by construction
 *   MOUNT/null  opened with direct_io (like dsymfs's control); write() does nothing and
 *               returns its length: the cost of one FUSE write round trip
 *
 * Read-only except for null. Exits 0 when unmounted or on SIGINT/SIGTERM/SIGHUP.
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INO_NULL  2
#define INO_DATA0 16
#define TIMEOUT   3600.0

struct flat {
	uint8_t *data;
	size_t size;
	uid_t uid;
	gid_t gid;
};

static struct flat *flat_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fill_attr(const struct flat *f, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_nlink = 1;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (ino == INO_NULL) {
		st->st_mode = S_IFREG | 0600;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_size = (off_t)f->size;
		st->st_blocks = (blkcnt_t)((f->size + 511) / 512);
	}
}

/* The inode a name in the root stands for, or 0. */
static fuse_ino_t name_ino(const char *name)
{
	if (!strcmp(name, "null"))
		return INO_NULL;
	if (name[0] != 'd' || name[1] < '0' || name[1] > '9')
		return 0;
	char *end;
	unsigned long long n = strtoull(name + 1, &end, 10);
	if (*end || n > (1ull << 40))
		return 0;
	return (fuse_ino_t)(INO_DATA0 + n);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_ino_t ino = parent == FUSE_ROOT_ID ? name_ino(name) : 0;
	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = {.ino = ino, .attr_timeout = TIMEOUT,
				     .entry_timeout = TIMEOUT};
	fill_attr(flat_of(req), ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	fill_attr(flat_of(req), ino, &st);
	fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)attr, (void)fi;
	if (ino != INO_NULL || (to_set & FUSE_SET_ATTR_SIZE && attr->st_size)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	struct stat st;
	fill_attr(flat_of(req), ino, &st);
	fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (ino == INO_NULL) {
		fi->direct_io = 1;
	} else {
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			fuse_reply_err(req, EACCES);
			return;
		}
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)fi;
	const struct flat *f = flat_of(req);
	if (ino == INO_NULL || (uint64_t)off >= f->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t left = f->size - (size_t)off;
	fuse_reply_buf(req, (const char *)f->data + off, size < left ? size : left);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)buf, (void)off, (void)fi;
	if (ino != INO_NULL)
		fuse_reply_err(req, EBADF);
	else
		fuse_reply_write(req, size);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FUSE_ROOT_ID)
		fuse_reply_err(req, ENOTDIR);
	else
		fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	static const char *const names[] = {".", "..", "null", "d0"};
	const fuse_ino_t inos[] = {FUSE_ROOT_ID, FUSE_ROOT_ID, INO_NULL, INO_DATA0};
	char buf[512];
	size_t used = 0;
	if (size > sizeof buf)
		size = sizeof buf;
	for (off_t i = off; i < 4; i++) {
		struct stat st;
		fill_attr(flat_of(req), inos[i], &st);
		size_t need = fuse_add_direntry(req, buf + used, size - used, names[i], &st, i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	(void)ino;
	fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
};

static int load(const char *path, struct flat *f)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	f->size = (size_t)st.st_size;
	f->data = malloc(f->size ? f->size : 1);
	size_t done = 0;
	while (f->data && done < f->size) {
		ssize_t n = read(fd, f->data + done, f->size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (!f->data || done != f->size) {
		fprintf(stderr, "flatfs: cannot load %s\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DATAFILE MOUNTPOINT [FUSE options]\n", argv[0]);
		return 2;
	}
	struct flat f = {.uid = getuid(), .gid = getgid()};
	if (load(argv[1], &f))
		return 1;
	/* FUSE sees: argv[0] [options...]; the mount point is ours to pass. */
	const char *mnt = argv[2];
	argv[2] = argv[0];
	struct fuse_args args = FUSE_ARGS_INIT(argc - 2, argv + 2);
	int status = 1;
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, &f);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se))
		goto destroy;
	if (fuse_session_mount(se, mnt))
		goto signals;
	status = fuse_session_loop(se) < 0;
	fuse_session_unmount(se);
signals:
	fuse_remove_signal_handlers(se);
destroy:
	fuse_session_destroy(se);
out:
	fuse_opt_free_args(&args);
	free(f.data);
	return status;
}
