/* FUSE request handlers. See ops.h. */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"
#include "tree.h"

static struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* Decodes ino and, when the node belongs to a generation, returns a reference to it in
 * *g (else NULL). -ESTALE if the kernel names a node it holds no lookup of. */
static int resolve(struct fs *fs, fuse_ino_t ino, struct node_id *id, struct gen **g)
{
	*g = NULL;
	int rc = node_decode(ino, id);
	if (rc)
		return rc;
	if (node_of_image(id->kind) && !ctl_registry_at(fs->reg, id->image))
		return -ESTALE;
	if (id->gen) {
		*g = node_pinned(fs->pins, id->image, id->gen);
		if (!*g)
			return -ESTALE;
	}
	return 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;
	(void)conn;
	FS_LOG(fs, CONF_LOG_INFO, "mounted with %zu image(s)", ctl_registry_count(fs->reg));
}

static int do_lookup(struct fs *fs, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e, struct node_id *pinned)
{
	struct node_id dir;
	struct gen *dg;
	int rc = resolve(fs, parent, &dir, &dg);
	if (rc)
		return rc;
	struct tree_child c;
	rc = tree_lookup(fs, &dir, dg, name, &c);
	gen_unref(dg);
	if (rc)
		return rc;
	memset(e, 0, sizeof *e);
	e->ino = node_encode(c.id.kind, c.id.image, c.id.gen);
	if (!e->ino) {
		FS_LOG(fs, CONF_LOG_ERROR, "%s: generation %llu is past what node ids can name",
		       name, (unsigned long long)c.id.gen);
		rc = -EOVERFLOW;
		goto out;
	}
	rc = tree_attr(fs, &c.id, c.g, &e->attr, &e->attr_timeout);
	if (rc)
		goto out;
	e->entry_timeout = e->attr_timeout;
	if (c.g) {
		rc = node_pin(fs->pins, c.id.image, c.g);
		if (!rc)
			*pinned = c.id;
	}
out:
	tree_child_release(&c);
	return rc;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct node_id pinned = {0};
	int rc = do_lookup(fs, parent, name, &e, &pinned);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* An interrupted lookup never reaches the kernel, which will not forget it. */
	if (fuse_reply_entry(req, &e) && pinned.gen)
		node_forget(fs->pins, pinned.image, pinned.gen, 1);
}

static void forget_one(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct node_id id;
	if (!node_decode(ino, &id) && id.gen)
		node_forget(fs->pins, id.image, id.gen, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);
	for (size_t i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static int do_getattr(struct fs *fs, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct node_id id;
	struct gen *g;
	int rc = resolve(fs, ino, &id, &g);
	if (!rc)
		rc = tree_attr(fs, &id, g, st, timeout);
	gen_unref(g);
	return rc;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	double timeout;
	int rc = do_getattr(fs_of(req), ino, &st, &timeout);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static bool is_owner(struct fs *fs, fuse_req_t req)
{
	return fuse_req_ctx(req)->uid == fs->uid;
}

/* Only control accepts anything: truncation to 0 (an O_TRUNC open when the kernel does not
 * pass O_TRUNC to open) and time stamps, both ignored. */
static int do_setattr(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct stat *in,
		      int to_set, struct stat *st, double *timeout)
{
	struct node_id id;
	int rc = node_decode(ino, &id);
	if (rc)
		return rc;
	if (id.kind != NODE_CONTROL)
		return -EROFS;
	if (!is_owner(fs, req))
		return -EACCES;
	const int times = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			  FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
	if (to_set & ~(times | FUSE_SET_ATTR_SIZE))
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_SIZE) && in->st_size != 0)
		return -EINVAL;
	return do_getattr(fs, ino, st, timeout);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	double timeout;
	int rc = do_setattr(fs_of(req), req, ino, attr, to_set, &st, &timeout);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static int do_access(struct fs *fs, fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct node_id id;
	int rc = node_decode(ino, &id);
	if (rc)
		return rc;
	if (id.kind == NODE_CONTROL)
		return is_owner(fs, req) && !(mask & X_OK) ? 0 : -EACCES;
	if (tree_is_dir(id.kind))
		return mask & W_OK ? -EACCES : 0;
	return mask & (W_OK | X_OK) ? -EACCES : 0;
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	fuse_reply_err(req, -do_access(fs_of(req), req, ino, mask));
}

static int open_control(struct fs *fs, fuse_req_t req, struct fuse_file_info *fi,
			struct handle **out)
{
	if (!is_owner(fs, req)) {
		FS_LOG(fs, CONF_LOG_WARN, "control: uid %u refused (only uid %u may use it)",
		       (unsigned)fuse_req_ctx(req)->uid, (unsigned)fs->uid);
		return -EACCES;
	}
	struct handle *h;
	int rc = handle_new(&fs->handles, HANDLE_CONTROL, &h);
	if (rc)
		return rc;
	rc = ctl_session_new(fs->reg, &h->u.ctl);
	if (!rc) {
		/* The opener's directory, read once: relative paths it writes name files there
		 * (the daemon's own directory is / once it runs in the background). */
		char *cwd = fs_process_cwd(fuse_req_ctx(req)->pid);
		rc = ctl_session_set_base(h->u.ctl, cwd);
		free(cwd);
	}
	if (rc) {
		handle_free(&fs->handles, h);
		return rc;
	}
	/* One write() = one request, so a failed line fails the write that carried it. */
	fi->direct_io = 1;
	*out = h;
	return 0;
}

static int open_data(struct fs *fs, const struct node_id *id, struct gen *g,
		     struct fuse_file_info *fi, struct handle **out)
{
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	struct handle *h;
	int rc;
	if (id->kind == NODE_DWARF) {
		rc = handle_new(&fs->handles, HANDLE_DWARF, &h);
		if (rc)
			return rc;
		handle_dwarf_bind(h, g);
		/* The node's bytes never change: keep what the page cache has. */
		fi->keep_cache = 1;
	} else {
		rc = handle_new(&fs->handles, HANDLE_BYTES, &h);
		if (rc)
			return rc;
		rc = tree_bytes(fs, id, g, &h->u.bytes);
		if (rc) {
			handle_free(&fs->handles, h);
			return rc;
		}
		if (id->kind == NODE_PLIST)
			fi->keep_cache = 1;
		else
			fi->direct_io = 1;  /* live text: its size may differ from the last stat */
	}
	*out = h;
	return 0;
}

static int do_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   struct handle **out)
{
	struct node_id id;
	struct gen *g;
	int rc = resolve(fs, ino, &id, &g);
	if (rc)
		return rc;
	if (tree_is_dir(id.kind))
		rc = -EISDIR;
	else if (id.kind == NODE_CONTROL)
		rc = open_control(fs, req, fi, out);
	else
		rc = open_data(fs, &id, g, fi, out);
	gen_unref(g);
	return rc;
}

/* The reply of open and opendir: the handle, or the error of making it. */
static void reply_open(fuse_req_t req, struct fuse_file_info *fi, int rc, struct handle *h)
{
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)h;
	/* If the open was interrupted, no release will come for it. */
	if (fuse_reply_open(req, fi))
		handle_free(&fs_of(req)->handles, h);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = NULL;
	int rc = do_open(fs_of(req), req, ino, fi, &h);
	reply_open(req, fi, rc, h);
}

/* Answers a READ of h. */
static void reply_read(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	size_t start, n, len;
	const char *data;
	switch (h->kind) {
	case HANDLE_DWARF: {
		/* The generation is immutable and the handle holds it: no lock, and the reply
		 * points at its bytes instead of copying them. */
		struct gen_slices sl;
		ssize_t got = gen_read_slices(h->u.dwarf.g, (uint64_t)off, size, &sl);
		if (got < 0) {
			fuse_reply_err(req, (int)-got);
			return;
		}
		fuse_reply_iov(req, sl.iov, (int)sl.n);
		gen_slices_release(&sl);
		return;
	}
	case HANDLE_BYTES:
		start = handle_slice(h->u.bytes.len, (uint64_t)off, size, &n);
		fuse_reply_buf(req, h->u.bytes.data + start, n);
		return;
	case HANDLE_CONTROL:
		/* The result line; from another offset, the rest of it (a plain read() after
		 * write() starts at the write position: use pread(fd, buf, n, 0)). */
		pthread_mutex_lock(&h->lock);
		data = ctl_session_result(h->u.ctl, &len);
		start = handle_slice(len, (uint64_t)off, size, &n);
		fuse_reply_buf(req, data + start, n);
		pthread_mutex_unlock(&h->lock);
		return;
	case HANDLE_DIR:
		break;
	}
	fuse_reply_err(req, EISDIR);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);  /* req is gone once answered */
	struct handle *h = handle_of(fi);
	handle_ref(h);  /* until the reply is out: see handle_free */
	reply_read(req, h, size, off);
	handle_free(&fs->handles, h);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)off;  /* the control file is a stream: offsets mean nothing */
	struct fs *fs = fs_of(req);
	struct handle *h = handle_of(fi);
	if (h->kind != HANDLE_CONTROL) {
		fuse_reply_err(req, EBADF);
		return;
	}
	uint64_t before = fs_publishes(fs);
	pthread_mutex_lock(&h->lock);
	ssize_t n = ctl_session_write(h->u.ctl, buf, size);
	if (n < 0) {
		size_t len;
		const char *res = ctl_session_result(h->u.ctl, &len);
		FS_LOG(fs, CONF_LOG_WARN, "control: %.*s", (int)(len ? len - 1 : 0), res);
	}
	pthread_mutex_unlock(&h->lock);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	/* After a publish the notifier answers, once the kernel has forgotten the old
	 * generation's entries: an open() after this write() returns sees the new one. */
	if (fs_publishes(fs) != before && fs->notify &&
	    !notify_reply_write(fs->notify, req, (size_t)n))
		return;
	fuse_reply_write(req, (size_t)n);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct fs *fs = fs_of(req);
	handle_free(&fs->handles, handle_of(fi));
	fuse_reply_err(req, 0);
}

/* Takes the listing at opendir, so readdir's offsets index one stable snapshot. */
static int do_opendir(struct fs *fs, fuse_ino_t ino, struct handle **out)
{
	struct node_id id;
	struct gen *g;
	int rc = resolve(fs, ino, &id, &g);
	if (rc)
		return rc;
	struct tree_child *v = NULL;
	size_t n = 0;
	struct handle *h = NULL;
	rc = tree_children(fs, &id, g, &v, &n);
	gen_unref(g);
	if (rc)
		return rc;
	rc = handle_new(&fs->handles, HANDLE_DIR, &h);
	if (rc)
		goto out;
	h->u.dir.v = calloc(n + 2, sizeof *h->u.dir.v);
	if (!h->u.dir.v) {
		rc = -ENOMEM;
		goto out;
	}
	const char *dots[2] = {".", ".."};
	for (size_t i = 0; i < 2; i++) {
		h->u.dir.v[i] = (struct handle_dirent){strdup(dots[i]), ino, S_IFDIR};
		if (!h->u.dir.v[i].name) {
			rc = -ENOMEM;
			goto out;
		}
		h->u.dir.n++;
	}
	for (size_t i = 0; i < n; i++) {
		struct handle_dirent *d = &h->u.dir.v[h->u.dir.n++];
		d->name = v[i].name;
		v[i].name = NULL;
		d->ino = node_encode(v[i].id.kind, v[i].id.image, v[i].id.gen);
		d->mode = tree_is_dir(v[i].id.kind) ? S_IFDIR : S_IFREG;
	}
	*out = h;
	h = NULL;
out:
	if (h)
		handle_free(&fs->handles, h);
	tree_children_free(v, n);
	return rc;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = NULL;
	int rc = do_opendir(fs_of(req), ino, &h);
	reply_open(req, fi, rc, h);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	struct handle *h = handle_of(fi);
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	for (size_t i = off > 0 ? (size_t)off : 0; i < h->u.dir.n; i++) {
		const struct handle_dirent *d = &h->u.dir.v[i];
		struct stat st = {.st_ino = d->ino, .st_mode = d->mode};
		size_t need = fuse_add_direntry(req, buf + used, size - used, d->name, &st,
						(off_t)(i + 1));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	handle_free(&fs_of(req)->handles, handle_of(fi));
	fuse_reply_err(req, 0);
}

/* The namespace is fixed by the images: nothing can be created, removed or renamed. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EROFS);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EROFS);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EROFS);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link, (void)parent, (void)name;
	fuse_reply_err(req, EROFS);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EROFS);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	fuse_reply_err(req, EROFS);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.access = op_access,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.create = op_create,
};

const struct fuse_lowlevel_ops *ops_table(void)
{
	return &ops;
}
