/* The namespace. See tree.h. */
#include "tree.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Entries and attributes of generations and fixed nodes never change: the kernel may
 * keep them long (publishes retract what they outdate). */
#define LONG_TIMEOUT 3600.0

bool tree_is_dir(enum node_kind k)
{
	switch (k) {
	case NODE_ROOT:
	case NODE_IMAGES:
	case NODE_IMAGE_DIR:
	case NODE_GENERATIONS:
	case NODE_GEN_DIR:
	case NODE_BUNDLE:
	case NODE_CONTENTS:
	case NODE_RESOURCES:
	case NODE_DWARF_DIR:
		return true;
	default:
		return false;
	}
}

/* The image a node belongs to (NULL for the global nodes); -ESTALE if it has none. */
static int image_of(struct fs *fs, const struct node_id *id, struct image **im)
{
	*im = node_of_image(id->kind) ? ctl_registry_at(fs->reg, id->image) : NULL;
	return node_of_image(id->kind) && !*im ? -ESTALE : 0;
}

struct list {
	struct tree_child *v;
	size_t n, cap;
	int rc;              /* sticky -ENOMEM */
};

/* Appends a child; takes its own reference to g. Failures are kept in l->rc. */
static void add(struct list *l, enum node_kind kind, uint32_t image, struct gen *g,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add(struct list *l, enum node_kind kind, uint32_t image, struct gen *g,
		const char *fmt, ...)
{
	if (l->rc)
		return;
	if (util_grow(&l->v, &l->cap, l->n + 1, sizeof *l->v)) {
		l->rc = -ENOMEM;
		return;
	}
	struct tree_child *c = &l->v[l->n];
	va_list ap;
	va_start(ap, fmt);
	int len = vasprintf(&c->name, fmt, ap);
	va_end(ap);
	if (len < 0) {
		l->rc = -ENOMEM;
		return;
	}
	c->id = (struct node_id){kind, image, g ? gen_number(g) : 0};
	c->g = g;
	if (g)
		gen_ref(g);
	l->n++;
}

void tree_children_free(struct tree_child *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tree_child_release(&v[i]);
	free(v);
}

void tree_child_release(struct tree_child *c)
{
	free(c->name);
	gen_unref(c->g);
	memset(c, 0, sizeof *c);
}

static void list_generations(struct list *l, struct image *im, uint32_t idx)
{
	size_t cap = 0, n;
	struct gen **v = NULL;
	/* A full array may mean more were retained: grow and ask again. The first 16 hold
	 * the default keep_generations in one call. */
	for (;;) {
		if (util_grow(&v, &cap, cap + 16, sizeof *v)) {
			l->rc = -ENOMEM;
			free(v);
			return;
		}
		n = image_retained(im, v, cap);
		if (n < cap)
			break;
		for (size_t i = 0; i < n; i++)
			gen_unref(v[i]);
	}
	for (size_t i = 0; i < n; i++) {
		add(l, NODE_GEN_DIR, idx, v[i], "%" PRIu64, gen_number(v[i]));
		gen_unref(v[i]);
	}
	free(v);
}

int tree_children(struct fs *fs, const struct node_id *dir, struct gen *dg,
		  struct tree_child **out, size_t *n)
{
	if (!tree_is_dir(dir->kind))
		return -ENOTDIR;
	struct list l = {0};
	struct image *im;
	int rc = image_of(fs, dir, &im);
	if (rc)
		return rc;
	/* The current bundle's files are the current generation's nodes. */
	struct gen *fg = dg;
	switch (dir->kind) {
	case NODE_ROOT: {
		add(&l, NODE_CONTROL, 0, NULL, "control");
		add(&l, NODE_STATUS, 0, NULL, "status");
		add(&l, NODE_IMAGES, 0, NULL, "images");
		size_t cnt = ctl_registry_count(fs->reg);
		for (size_t i = 0; i < cnt; i++)
			add(&l, NODE_BUNDLE, (uint32_t)i, NULL, "%s.dSYM",
			    image_name(ctl_registry_at(fs->reg, i)));
		break;
	}
	case NODE_IMAGES: {
		size_t cnt = ctl_registry_count(fs->reg);
		for (size_t i = 0; i < cnt; i++)
			add(&l, NODE_IMAGE_DIR, (uint32_t)i, NULL, "%s",
			    image_name(ctl_registry_at(fs->reg, i)));
		break;
	}
	case NODE_IMAGE_DIR:
		add(&l, NODE_DECLS, dir->image, NULL, "decls");
		add(&l, NODE_FILES, dir->image, NULL, "files");
		add(&l, NODE_TYPES, dir->image, NULL, "types");
		add(&l, NODE_GLOBALS, dir->image, NULL, "globals");
		add(&l, NODE_ERRORS, dir->image, NULL, "errors");
		add(&l, NODE_GENERATIONS, dir->image, NULL, "generations");
		break;
	case NODE_GENERATIONS:
		list_generations(&l, im, dir->image);
		break;
	case NODE_GEN_DIR:
		add(&l, NODE_BUNDLE, dir->image, dg, "%s.dSYM", image_name(im));
		break;
	case NODE_BUNDLE:
		add(&l, NODE_CONTENTS, dir->image, dg, "Contents");
		break;
	case NODE_CONTENTS:
		if (!dg)
			fg = image_current(im);
		add(&l, NODE_PLIST, dir->image, fg, "Info.plist");
		add(&l, NODE_RESOURCES, dir->image, dg, "Resources");
		break;
	case NODE_RESOURCES:
		add(&l, NODE_DWARF_DIR, dir->image, dg, "DWARF");
		break;
	case NODE_DWARF_DIR:
		if (!dg)
			fg = image_current(im);
		add(&l, NODE_DWARF, dir->image, fg, "%s", image_name(im));
		break;
	default:
		break;
	}
	if (fg != dg)
		gen_unref(fg);
	if (l.rc) {
		tree_children_free(l.v, l.n);
		return l.rc;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

int tree_lookup(struct fs *fs, const struct node_id *dir, struct gen *dg, const char *name,
		struct tree_child *out)
{
	struct tree_child *v;
	size_t n;
	int rc = tree_children(fs, dir, dg, &v, &n);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i].name, name)) {
			*out = v[i];
			memset(&v[i], 0, sizeof v[i]);
			rc = 0;
			break;
		}
	}
	tree_children_free(v, n);
	return rc;
}

static bool is_live_text(enum node_kind k)
{
	return k == NODE_STATUS || k == NODE_DECLS || k == NODE_FILES || k == NODE_TYPES ||
	       k == NODE_GLOBALS || k == NODE_ERRORS;
}

int tree_bytes(struct fs *fs, const struct node_id *id, struct gen *g,
	       struct handle_bytes *out)
{
	memset(out, 0, sizeof *out);
	struct image *im;
	int rc = image_of(fs, id, &im);
	if (rc)
		return rc;
	switch (id->kind) {
	case NODE_PLIST:
		gen_ref(g);
		out->g = g;
		out->data = gen_plist(g, &out->len);
		break;
	case NODE_STATUS:
		rc = ctl_status_text(fs->reg, &out->owned, &out->len);
		out->data = out->owned;
		break;
	case NODE_ERRORS:
		rc = image_errors_text(im, &out->owned, &out->len);
		out->data = out->owned;
		break;
	case NODE_DECLS:
	case NODE_FILES:
	case NODE_TYPES:
	case NODE_GLOBALS: {
		enum gen_text which = id->kind == NODE_DECLS ? GEN_TEXT_DECLS :
				      id->kind == NODE_FILES ? GEN_TEXT_FILES :
				      id->kind == NODE_TYPES ? GEN_TEXT_TYPES : GEN_TEXT_GLOBALS;
		out->g = image_current(im);
		rc = gen_text(out->g, which, &out->data, &out->len);
		break;
	}
	default:
		return -EINVAL;
	}
	if (rc)
		handle_bytes_release(out);
	return rc;
}

int tree_attr(struct fs *fs, const struct node_id *id, struct gen *g, struct stat *st,
	      double *timeout)
{
	struct image *im;
	int stale = image_of(fs, id, &im);
	if (stale)
		return stale;
	memset(st, 0, sizeof *st);
	st->st_ino = node_encode(id->kind, id->image, id->gen);
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_nlink = 1;
	st->st_mtim = g ? gen_mtime(g) : fs->started;
	*timeout = LONG_TIMEOUT;
	if (tree_is_dir(id->kind)) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (id->kind == NODE_CONTROL) {
		st->st_mode = S_IFREG | 0600;
	} else if (id->kind == NODE_DWARF) {
		st->st_mode = S_IFREG | 0444;
		st->st_size = (off_t)gen_size(g);
	} else {
		struct handle_bytes b;
		int rc = tree_bytes(fs, id, g, &b);
		if (rc)
			return rc;
		st->st_mode = S_IFREG | 0444;
		st->st_size = (off_t)b.len;
		if (b.g)
			st->st_mtim = gen_mtime(b.g);
		else
			clock_gettime(CLOCK_REALTIME, &st->st_mtim);
		handle_bytes_release(&b);
		if (is_live_text(id->kind))
			*timeout = 0;
	}
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}
