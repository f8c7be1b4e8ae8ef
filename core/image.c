/* One image: its generations and the commit that makes a new one. See image.h. */
#include "image.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dwarf.h"
#include "macho.h"
#include "state.h"

struct image {
	char *name;
	struct image_limits lim;
	pthread_mutex_t commit_lock;  /* serializes image_commit; taken before lock */
	pthread_mutex_t lock;         /* guards cur, st, retained, nretained, errors */
	struct gen *cur;
	struct state st;              /* the state cur was built from */
	struct gen **retained;        /* newest first; [0] == cur */
	size_t nretained;
	char *errors[IMAGE_ERRORS_KEPT];  /* ring, oldest at errors_head */
	size_t nerrors, errors_head;
	image_publish_fn hook;        /* set before use; read without lock */
	void *hook_arg;
	image_prepublish_fn prepublish;   /* likewise */
	void *prepublish_arg;
};

/* The segment table of an image without an executable: the usual x86_64/arm64 user
 * layout with an empty __TEXT,__text that the compiler grows with `section`. */
static int default_segtab(struct macho_segtab *t)
{
	t->nsegs = 3;
	t->segs = calloc(3, sizeof *t->segs);
	struct macho_section *text = calloc(1, sizeof *text);
	if (!t->segs || !text) {
		free(t->segs);
		free(text);
		t->nsegs = 0;
		return -ENOMEM;
	}
	strcpy(t->segs[0].segname, "__PAGEZERO");
	t->segs[0].vmsize = 0x100000000;
	strcpy(t->segs[1].segname, "__TEXT");
	t->segs[1].vmaddr = 0x100000000;
	t->segs[1].vmsize = 0x40000000;
	t->segs[1].maxprot = t->segs[1].initprot = 5;
	t->segs[1].nsects = 1;
	t->segs[1].sects = text;
	strcpy(text->sectname, "__text");
	strcpy(text->segname, "__TEXT");
	text->addr = 0x100000000;
	text->align = 4;
	text->flags = 0x80000400;  /* S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS */
	strcpy(t->segs[2].segname, "__LINKEDIT");
	t->segs[2].vmaddr = 0x140000000;
	t->segs[2].vmsize = 0x1000;
	t->segs[2].maxprot = t->segs[2].initprot = 1;
	return 0;
}

static int exe_syms_into(struct state *s, const struct macho_exe *exe)
{
	for (uint32_t i = 0; i < exe->nsyms; i++) {
		const struct macho_sym *ms = &exe->syms[i];
		struct rec_sym *old = ptree_get(&s->syms, state_sym_key(ms->name));
		if (old && !old->from_exe)
			continue;  /* the compiler's own definition wins */
		struct rec_sym *rs = rec_sym_new();
		if (!rs || !(rs->name = strdup(ms->name))) {
			rec_sym_unref(rs);
			return -ENOMEM;
		}
		rs->value = ms->value;
		rs->sect = ms->sect;
		rs->ext = (ms->type & MACHO_N_EXT) != 0;
		rs->desc = ms->desc;
		rs->from_exe = true;
		int rc = state_put(&s->syms, state_exe_sym_key(i + 1, rs->name), rs);
		rec_sym_unref(rs);
		if (rc)
			return rc;
	}
	return 0;
}

void image_origin_of(const struct cmd *c, struct image_origin *o)
{
	*o = (struct image_origin){
		.exe_path = c->u.image.exe,
		.has_uuid = c->u.image.has_uuid,
		.has_arch = c->u.image.has_arch,
		.cputype = c->u.image.cputype,
		.cpusubtype = c->u.image.cpusubtype,
	};
	memcpy(o->uuid, c->u.image.uuid, 16);
}

static bool name_ok(const char *name)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

int image_new(const char *name, const struct image_origin *origin,
	      const struct image_limits *lim, struct image **out, char *err, size_t errlen)
{
	if (!name_ok(name)) {
		snprintf(err, errlen, "image name \"%s\" must be non-empty, not . or .., and "
			 "without '/' or control characters", name);
		return -EINVAL;
	}
	struct image *im = calloc(1, sizeof *im);
	if (!im)
		return -ENOMEM;
	pthread_mutex_init(&im->commit_lock, NULL);
	pthread_mutex_init(&im->lock, NULL);
	im->lim = *lim;
	if (im->lim.keep_generations < 1)
		im->lim.keep_generations = 1;
	int rc = -ENOMEM;
	struct macho_exe exe = {0};
	im->name = strdup(name);
	im->retained = calloc(im->lim.keep_generations, sizeof *im->retained);
	if (!im->name || !im->retained)
		goto fail;
	if (origin->exe_data) {
		char why[512];
		rc = macho_parse_exe(origin->exe_data, origin->exe_len, &exe, why, sizeof why);
		if (rc) {
			snprintf(err, errlen, "%s: %s", origin->exe_path ? origin->exe_path : "exe",
				 why);
			goto fail;
		}
	} else if (origin->exe_path) {
		rc = macho_read_exe(origin->exe_path, &exe, err, errlen);
		if (rc)
			goto fail;
	} else {
		rc = default_segtab(&exe.segtab);
		if (rc)
			goto fail;
		exe.ident.cputype = MACHO_CPU_X86_64;
		exe.ident.cpusubtype = MACHO_SUBTYPE_X86_64_ALL;
		if (origin->has_arch) {
			exe.ident.cputype = origin->cputype;
			exe.ident.cpusubtype = origin->cpusubtype;
		}
		if (origin->has_uuid) {
			memcpy(exe.ident.uuid, origin->uuid, 16);
		} else if (getrandom(exe.ident.uuid, 16, 0) != 16) {
			rc = -EIO;
			snprintf(err, errlen, "no random bytes for a UUID");
			goto fail;
		} else {
			exe.ident.uuid[6] = (exe.ident.uuid[6] & 0x0f) | 0x40;  /* RFC 4122 v4 */
			exe.ident.uuid[8] = (exe.ident.uuid[8] & 0x3f) | 0x80;
		}
	}
	rc = state_init(&im->st, &exe.ident, &exe.segtab);
	if (!rc)
		rc = exe_syms_into(&im->st, &exe);
	if (!rc)
		rc = gen_new(&im->st, im->name, 1, &im->cur);
	if (rc) {
		snprintf(err, errlen, "out of memory creating image %s", name);
		goto fail;
	}
	im->retained[0] = im->cur;
	gen_ref(im->cur);
	im->nretained = 1;
	macho_exe_free(&exe);
	*out = im;
	return 0;
fail:
	macho_exe_free(&exe);
	image_free(im);
	return rc;
}

void image_free(struct image *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->nretained; i++)
		gen_unref(im->retained[i]);
	gen_unref(im->cur);
	state_release(&im->st);
	for (size_t i = 0; i < im->nerrors; i++)
		free(im->errors[(im->errors_head + i) % IMAGE_ERRORS_KEPT]);
	free(im->retained);
	free(im->name);
	pthread_mutex_destroy(&im->lock);
	pthread_mutex_destroy(&im->commit_lock);
	free(im);
}

const char *image_name(const struct image *im)
{
	return im->name;
}

struct gen *image_current(struct image *im)
{
	pthread_mutex_lock(&im->lock);
	struct gen *g = im->cur;
	gen_ref(g);
	pthread_mutex_unlock(&im->lock);
	return g;
}

size_t image_retained(struct image *im, struct gen **out, size_t n)
{
	pthread_mutex_lock(&im->lock);
	size_t k = im->nretained < n ? im->nretained : n;
	for (size_t i = 0; i < k; i++) {
		out[i] = im->retained[i];
		gen_ref(out[i]);
	}
	pthread_mutex_unlock(&im->lock);
	return k;
}

struct gen *image_generation(struct image *im, uint64_t number)
{
	struct gen *g = NULL;
	pthread_mutex_lock(&im->lock);
	for (size_t i = 0; i < im->nretained && !g; i++)
		if (gen_number(im->retained[i]) == number) {
			g = im->retained[i];
			gen_ref(g);
		}
	pthread_mutex_unlock(&im->lock);
	return g;
}

void image_set_publish_hook(struct image *im, image_publish_fn fn, void *arg)
{
	im->hook = fn;
	im->hook_arg = arg;
}

void image_log_error(struct image *im, const char *msg)
{
	char *copy = strdup(msg);
	if (!copy)
		return;  /* the log is best effort; the caller already reported the error */
	for (char *p = copy; *p; p++)  /* one entry, one line */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	pthread_mutex_lock(&im->lock);
	if (im->nerrors == IMAGE_ERRORS_KEPT) {
		free(im->errors[im->errors_head]);
		im->errors[im->errors_head] = copy;
		im->errors_head = (im->errors_head + 1) % IMAGE_ERRORS_KEPT;
	} else {
		im->errors[(im->errors_head + im->nerrors++) % IMAGE_ERRORS_KEPT] = copy;
	}
	pthread_mutex_unlock(&im->lock);
}

int image_errors_text(struct image *im, char **out, size_t *len)
{
	struct enc_buf b;
	enc_buf_init(&b);
	pthread_mutex_lock(&im->lock);
	for (size_t i = 0; i < im->nerrors; i++)
		enc_buf_printf(&b, "%s\n", im->errors[(im->errors_head + i) % IMAGE_ERRORS_KEPT]);
	pthread_mutex_unlock(&im->lock);
	*out = (char *)enc_buf_take(&b, len);
	return *out ? 0 : -ENOMEM;
}

/* ---- the batch: a working copy of the state and what the commands touched ---- */

struct touch {
	uint64_t id;
	uint64_t line_no;
};

struct touches {
	struct touch *v;
	size_t n, cap;
};

struct batch {
	struct image *im;
	struct state w;
	struct image_blob *exes;   /* bytes read by `exe` commands, in order (owned) */
	size_t nexes;
	struct touches fns;        /* functions added or changed */
	struct touches types;      /* types added or changed */
	struct touches dropped_files, dropped_types;  /* delfile / deltype */
	struct touches poisoned;   /* functions a line shift took to <= 0, at that line */
	uint64_t segs_line;        /* line of the last segment/section/exe change, or 0 */
	uint64_t sym_line;         /* line of the last sym change, or 0 */
	uint64_t line_no;          /* line of the command being applied */
	bool files_changed, types_changed, changed;
	char *err;
	size_t errlen;
};

static int fail(struct batch *b, int rc, uint64_t line_no, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct batch *b, int rc, uint64_t line_no, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(b->err, b->errlen, "line %llu: %s", (unsigned long long)line_no, msg);
	return rc;
}

static int oom(struct batch *b)
{
	return fail(b, -ENOMEM, b->line_no, "out of memory");
}

static int touch(struct batch *b, struct touches *t, uint64_t id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct touch *v = realloc(t->v, cap * sizeof *v);
		if (!v)
			return oom(b);
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = (struct touch){id, b->line_no};
	return 0;
}

/* The line of the last touch of id in t, or `otherwise`. */
static uint64_t touch_line(const struct touches *t, uint64_t id, uint64_t otherwise)
{
	for (size_t i = t->n; i-- > 0;)
		if (t->v[i].id == id)
			return t->v[i].line_no;
	return otherwise;
}

static struct rec_fn *find_fn(struct batch *b, const char *cmd, uint64_t id, int *rc)
{
	struct rec_fn *f = ptree_get(&b->w.fn_by_id, state_id_key(id));
	if (!f)
		*rc = fail(b, -EINVAL, b->line_no, "%s %llu: no function with this id", cmd,
			   (unsigned long long)id);
	return f;
}

/* Encodes f (a record no generation holds yet) and puts it in place of old. */
static int put_fn(struct batch *b, const struct rec_fn *old, struct rec_fn *f)
{
	if (old && rec_fn_same(old, f))  /* by=0, or a move to where it is: nothing to do */
		return 0;
	int rc = dwarf_encode_fn(f);
	if (rc == -EINVAL)
		return fail(b, rc, b->line_no, "fn %llu (%s): rows are not in ascending "
			    "pc offset order", (unsigned long long)f->id, f->name);
	if (rc || state_put_fn(&b->w, old, f))
		return oom(b);
	b->changed = true;
	return touch(b, &b->fns, f->id);
}

static int apply_fn(struct batch *b, struct rec_fn *f)
{
	return put_fn(b, ptree_get(&b->w.fn_by_id, state_id_key(f->id)), f);
}

static int move_fn(struct batch *b, struct rec_fn *old, uint64_t low_pc, bool has_size,
		   uint64_t size)
{
	struct rec_fn *f = rec_fn_clone(old);
	if (!f)
		return oom(b);
	f->low_pc = low_pc;
	if (has_size)
		f->size = size;
	int rc = put_fn(b, old, f);
	rec_fn_unref(f);
	return rc;
}

static int apply_move_range(struct batch *b, uint64_t from, uint64_t to, int64_t by)
{
	if (by == 0)  /* nothing moves: skip the walk over the window */
		return 0;
	/* Collect first from a snapshot of the address tree: moving changes the keys. */
	struct ptree snap;
	ptree_copy(&b->w.fn_by_addr, &snap);
	struct ptree_iter it;
	int rc = 0;
	for (ptree_iter_seek_key(&it, &snap, (struct ptree_key){from, 0, NULL});
	     ptree_iter_valid(&it) && ptree_iter_key(&it).a < to && !rc; ptree_iter_next(&it)) {
		struct rec_fn *f = ptree_iter_val(&it);
		uint64_t np = f->low_pc + (uint64_t)by;
		if ((by < 0 && np > f->low_pc) || (by > 0 && np < f->low_pc))
			rc = fail(b, -EINVAL, b->line_no, "move-range: fn %llu (%s) at 0x%llx "
				  "cannot move by %lld", (unsigned long long)f->id, f->name,
				  (unsigned long long)f->low_pc, (long long)by);
		else
			rc = move_fn(b, f, np, false, 0);
	}
	if (!rc && it.error)
		rc = oom(b);
	ptree_release(&snap);
	return rc;
}

/* A shifted line, or a negative "poisoned" value when the shift takes it to 0 or below
 * or past INT32_MAX; a poisoned line is never shifted again, so the commit fails. */
static int64_t shift_line(int64_t line, int64_t delta)
{
	if (line <= 0)
		return line;
	if (delta < -line || delta > INT32_MAX - line)
		return INT32_MIN;
	int64_t n = line + delta;
	return n <= 0 ? INT32_MIN : n;
}

static int shift_fn(struct batch *b, struct rec_fn *old, int64_t delta, uint64_t file)
{
	uint64_t in = file ? file : old->file;
	struct rec_fn *f = rec_fn_clone(old);
	if (!f)
		return oom(b);
	bool poisons = false;
	if (f->file == in) {
		f->line = shift_line(f->line, delta);
		poisons = f->line < 0 && old->line > 0;
	}
	for (uint32_t i = 0; i < f->nrows; i++)
		if (rec_row_file(f, &f->rows[i]) == in) {
			f->rows[i].line = (int32_t)shift_line(f->rows[i].line, delta);
			poisons |= f->rows[i].line < 0 && old->rows[i].line > 0;
		}
	int rc = poisons ? touch(b, &b->poisoned, f->id) : 0;
	if (!rc)
		rc = put_fn(b, old, f);
	rec_fn_unref(f);
	return rc;
}

static int apply_line_range(struct batch *b, uint64_t file, int64_t from, int64_t to,
			    int64_t by)
{
	if (by == 0)
		return 0;
	/* Functions are not indexed by declaring line: scan a snapshot of the image. */
	struct ptree snap;
	ptree_copy(&b->w.fn_by_id, &snap);
	struct ptree_iter it;
	int rc = 0;
	for (ptree_iter_first(&it, &snap); ptree_iter_valid(&it) && !rc; ptree_iter_next(&it)) {
		struct rec_fn *f = ptree_iter_val(&it);
		if (f->file == file && f->line >= from && f->line < to)
			rc = shift_fn(b, f, by, file);
	}
	if (!rc && it.error)
		rc = oom(b);
	ptree_release(&snap);
	return rc;
}

static int apply_file(struct batch *b, struct rec_file *f)
{
	struct rec_file *old = ptree_get(&b->w.files, state_id_key(f->id));
	if (old && rec_file_same(old, f))
		return 0;
	if (state_mark_unit(&b->w, f->id) || state_put(&b->w.files, state_id_key(f->id), f))
		return oom(b);
	b->files_changed = b->changed = true;
	return 0;
}

static int apply_type(struct batch *b, struct rec_type *t)
{
	struct rec_type *old = ptree_get(&b->w.types, state_id_key(t->id));
	if (old && rec_type_same(old, t))
		return 0;
	if (dwarf_encode_type(t) || state_put(&b->w.types, state_id_key(t->id), t))
		return oom(b);
	b->types_changed = b->changed = true;
	return touch(b, &b->types, t->id);
}

static int apply_delete(struct batch *b, struct ptree *t, const char *what, uint64_t id)
{
	if (t == &b->w.files && state_mark_unit(&b->w, id))
		return oom(b);
	int rc = state_del(t, state_id_key(id));
	if (rc == -ENOENT)
		return fail(b, -EINVAL, b->line_no, "%s %llu: no %s with this id",
			    t == &b->w.files ? "delfile" : "deltype", (unsigned long long)id, what);
	if (rc)
		return oom(b);
	if (t == &b->w.files)
		b->files_changed = true;
	else
		b->types_changed = true;
	b->changed = true;
	return touch(b, t == &b->w.files ? &b->dropped_files : &b->dropped_types, id);
}

/* Copy-on-write access to the segment table. */
static int segs_edit(struct batch *b, struct macho_segtab *t)
{
	if (macho_segtab_copy(&b->w.segs->t, t))
		return oom(b);
	return 0;
}

static bool segtab_same(const struct macho_segtab *x, const struct macho_segtab *y)
{
	if (x->nsegs != y->nsegs)
		return false;
	for (uint32_t i = 0; i < x->nsegs; i++) {
		const struct macho_segment *a = &x->segs[i], *c = &y->segs[i];
		if (strcmp(a->segname, c->segname) || a->vmaddr != c->vmaddr ||
		    a->vmsize != c->vmsize || a->maxprot != c->maxprot ||
		    a->initprot != c->initprot || a->flags != c->flags || a->nsects != c->nsects)
			return false;
		for (uint32_t j = 0; j < a->nsects; j++) {
			const struct macho_section *p = &a->sects[j], *q = &c->sects[j];
			if (strcmp(p->sectname, q->sectname) || strcmp(p->segname, q->segname) ||
			    p->addr != q->addr || p->size != q->size || p->align != q->align ||
			    p->flags != q->flags || p->reserved1 != q->reserved1 ||
			    p->reserved2 != q->reserved2 || p->reserved3 != q->reserved3)
				return false;
		}
	}
	return true;
}

static bool ident_same(const struct macho_ident *x, const struct macho_ident *y)
{
	return !memcmp(x->uuid, y->uuid, 16) && x->cputype == y->cputype &&
	       x->cpusubtype == y->cpusubtype && x->has_build == y->has_build &&
	       x->platform == y->platform && x->minos == y->minos && x->sdk == y->sdk;
}

static bool sym_same(const struct rec_sym *x, const struct rec_sym *y)
{
	return !strcmp(x->name, y->name) && x->value == y->value && x->sect == y->sect &&
	       x->ext == y->ext && x->desc == y->desc && x->from_exe == y->from_exe;
}

/* Two symbol tables with the same entries under the same keys. */
static bool syms_same(const struct ptree *x, const struct ptree *y)
{
	if (ptree_count(x) != ptree_count(y))
		return false;
	struct ptree_iter i, j;
	ptree_iter_first(&i, x);
	ptree_iter_first(&j, y);
	for (; ptree_iter_valid(&i) && ptree_iter_valid(&j);
	     ptree_iter_next(&i), ptree_iter_next(&j))
		if (ptree_key_cmp(ptree_iter_key(&i), ptree_iter_key(&j)) ||
		    !sym_same(ptree_iter_val(&i), ptree_iter_val(&j)))
			return false;
	return !i.error && !j.error && !ptree_iter_valid(&i) && !ptree_iter_valid(&j);
}

static int segs_commit(struct batch *b, struct macho_segtab *t)
{
	if (segtab_same(&b->w.segs->t, t)) {  /* re-sent as it was: nothing changes */
		macho_segtab_free(t);
		return 0;
	}
	int rc = state_set_segs(&b->w, t);
	macho_segtab_free(t);
	if (rc)
		return oom(b);
	b->segs_line = b->line_no;
	b->changed = true;
	return 0;
}

static struct macho_segment *find_seg(struct macho_segtab *t, const char *name)
{
	for (uint32_t i = 0; i < t->nsegs; i++)
		if (!strcmp(t->segs[i].segname, name))
			return &t->segs[i];
	return NULL;
}

static int apply_segment(struct batch *b, const struct cmd *c)
{
	struct macho_segtab t;
	if (segs_edit(b, &t))
		return -ENOMEM;
	struct macho_segment *seg = find_seg(&t, c->u.segment.name);
	if (!seg) {
		if (t.nsegs == MACHO_MAX_SEGS) {
			macho_segtab_free(&t);
			return fail(b, -ENOSPC, b->line_no, "segment %s: already %d segments",
				    c->u.segment.name, MACHO_MAX_SEGS);
		}
		struct macho_segment *v = realloc(t.segs, (t.nsegs + 1) * sizeof *v);
		if (!v) {
			macho_segtab_free(&t);
			return oom(b);
		}
		t.segs = v;
		/* New segments go before __LINKEDIT, which stays last as in any executable. */
		uint32_t at = t.nsegs;
		if (at && !strcmp(t.segs[at - 1].segname, "__LINKEDIT"))
			at--;
		memmove(&t.segs[at + 1], &t.segs[at], (t.nsegs - at) * sizeof *v);
		t.nsegs++;
		seg = &t.segs[at];
		memset(seg, 0, sizeof *seg);
		snprintf(seg->segname, sizeof seg->segname, "%s", c->u.segment.name);
		seg->maxprot = seg->initprot = 5;
	}
	seg->vmaddr = c->u.segment.vmaddr;
	seg->vmsize = c->u.segment.vmsize;
	if (c->u.segment.has_maxprot)
		seg->maxprot = c->u.segment.maxprot;
	if (c->u.segment.has_initprot)
		seg->initprot = c->u.segment.initprot;
	return segs_commit(b, &t);
}

static int apply_section(struct batch *b, const struct cmd *c)
{
	struct macho_segtab t;
	if (segs_edit(b, &t))
		return -ENOMEM;
	struct macho_segment *seg = find_seg(&t, c->u.section.seg);
	if (!seg) {
		macho_segtab_free(&t);
		return fail(b, -EINVAL, b->line_no, "section %s %s: no segment %s",
			    c->u.section.seg, c->u.section.sect, c->u.section.seg);
	}
	struct macho_section *sect = NULL;
	for (uint32_t i = 0; i < seg->nsects; i++)
		if (!strcmp(seg->sects[i].sectname, c->u.section.sect))
			sect = &seg->sects[i];
	if (!sect) {
		if (macho_segtab_nsects(&t) >= MACHO_MAX_SECTS) {
			macho_segtab_free(&t);
			return fail(b, -ENOSPC, b->line_no, "section %s %s: already %d sections",
				    c->u.section.seg, c->u.section.sect, MACHO_MAX_SECTS);
		}
		struct macho_section *v = realloc(seg->sects, (seg->nsects + 1) * sizeof *v);
		if (!v) {
			macho_segtab_free(&t);
			return oom(b);
		}
		seg->sects = v;
		sect = &seg->sects[seg->nsects++];
		memset(sect, 0, sizeof *sect);
		snprintf(sect->sectname, sizeof sect->sectname, "%s", c->u.section.sect);
		snprintf(sect->segname, sizeof sect->segname, "%s", c->u.section.seg);
	}
	sect->addr = c->u.section.addr;
	sect->size = c->u.section.size;
	if (c->u.section.has_align)
		sect->align = c->u.section.align;
	return segs_commit(b, &t);
}

/* Reads an executable and keeps its bytes for the pre-publish hook (a journal stores
 * exactly what was parsed, whatever happens to the file afterwards). */
static int read_exe(struct batch *b, const char *path, struct macho_exe *exe)
{
	struct image_blob *v = realloc(b->exes, (b->nexes + 1) * sizeof *v);
	if (!v)
		return oom(b);
	b->exes = v;
	uint8_t *data;
	size_t len;
	char msg[512];
	int rc = macho_read_file(path, &data, &len, msg, sizeof msg);
	if (rc)
		return fail(b, rc, b->line_no, "exe %s: %s", path, msg);
	b->exes[b->nexes++] = (struct image_blob){data, len};
	rc = macho_parse_exe(data, len, exe, msg, sizeof msg);
	if (rc)
		return fail(b, rc, b->line_no, "exe %s: %s: %s", path, path, msg);
	return 0;
}

static int apply_exe(struct batch *b, const char *path)
{
	struct macho_exe exe = {0};
	int rc = read_exe(b, path, &exe);
	if (rc)
		return rc;
	/* A relink that changed nothing must not publish: compare before replacing. */
	bool same = ident_same(&b->w.ident, &exe.ident) &&
		    segtab_same(&b->w.segs->t, &exe.segtab);
	struct ptree old_syms;
	ptree_copy(&b->w.syms, &old_syms);
	b->w.ident = exe.ident;
	if (!same && state_set_segs(&b->w, &exe.segtab)) {
		ptree_release(&old_syms);
		macho_exe_free(&exe);
		return oom(b);
	}
	/* The executable's old symbols go; the compiler's own stay. */
	struct ptree snap;
	ptree_copy(&b->w.syms, &snap);
	struct ptree_iter it;
	for (ptree_iter_first(&it, &snap); ptree_iter_valid(&it) && !rc; ptree_iter_next(&it)) {
		struct rec_sym *s = ptree_iter_val(&it);
		if (s->from_exe)
			rc = state_del(&b->w.syms, ptree_iter_key(&it));
	}
	ptree_release(&snap);
	if (!rc)
		rc = exe_syms_into(&b->w, &exe);
	macho_exe_free(&exe);
	if (rc) {
		ptree_release(&old_syms);
		return oom(b);
	}
	if (same && syms_same(&old_syms, &b->w.syms)) {
		ptree_release(&b->w.syms);
		b->w.syms = old_syms;
		return 0;
	}
	ptree_release(&old_syms);
	b->segs_line = b->line_no;
	b->changed = true;
	return 0;
}

/* Removes the symbols named `name` (only the executable's when exe_only); *found says
 * whether there were any. */
static int drop_syms(struct state *s, const char *name, bool exe_only, bool *found)
{
	uint64_t h = state_name_hash(name);
	struct ptree snap;
	ptree_copy(&s->syms, &snap);
	struct ptree_iter it;
	int rc = 0;
	*found = false;
	for (ptree_iter_seek_key(&it, &snap, (struct ptree_key){h, 0, NULL});
	     ptree_iter_valid(&it) && ptree_iter_key(&it).a == h && !rc; ptree_iter_next(&it)) {
		struct rec_sym *sym = ptree_iter_val(&it);
		if (strcmp(sym->name, name) || (exe_only && !sym->from_exe))
			continue;
		*found = true;
		rc = state_del(&s->syms, ptree_iter_key(&it));
	}
	ptree_release(&snap);
	return rc ? rc : it.error;
}

static int apply_sym(struct batch *b, const struct cmd *c)
{
	struct rec_sym *s = rec_sym_new();
	if (!s || !(s->name = strdup(c->u.sym.name))) {
		rec_sym_unref(s);
		return oom(b);
	}
	s->value = c->u.sym.value;
	s->sect = c->u.sym.sect;
	s->ext = c->u.sym.ext;
	bool found;
	/* The compiler's definition replaces the executable's entries of the name. */
	int rc = drop_syms(&b->w, s->name, true, &found);
	const struct rec_sym *old = ptree_get(&b->w.syms, state_sym_key(s->name));
	if (!rc && !found && old && sym_same(old, s)) {
		rec_sym_unref(s);
		return 0;
	}
	if (!rc)
		rc = state_put(&b->w.syms, state_sym_key(s->name), s);
	rec_sym_unref(s);
	if (rc)
		return oom(b);
	b->sym_line = b->line_no;
	b->changed = true;
	return 0;
}

static int apply_unsym(struct batch *b, const char *name)
{
	bool found;
	if (drop_syms(&b->w, name, false, &found))
		return oom(b);
	if (!found)
		return fail(b, -EINVAL, b->line_no, "unsym %s: no such symbol", name);
	b->changed = true;
	return 0;
}

static int apply(struct batch *b, struct image_item *it)
{
	struct cmd *c = &it->cmd;
	int rc = 0;
	struct rec_fn *f;
	b->line_no = it->line_no;
	switch (c->kind) {
	case CMD_EXE:
		return apply_exe(b, c->u.exe.path);
	case CMD_SEGMENT:
		return apply_segment(b, c);
	case CMD_SECTION:
		return apply_section(b, c);
	case CMD_FILE:
		return apply_file(b, c->u.file);
	case CMD_DELFILE:
		return apply_delete(b, &b->w.files, "file", c->u.id);
	case CMD_TYPE:
		return apply_type(b, c->u.type);
	case CMD_DELTYPE:
		return apply_delete(b, &b->w.types, "type", c->u.id);
	case CMD_FN:
		return apply_fn(b, c->u.fn);
	case CMD_MOVE:
		f = find_fn(b, "move", c->u.move.id, &rc);
		return f ? move_fn(b, f, c->u.move.low_pc, c->u.move.has_size, c->u.move.size)
			 : rc;
	case CMD_MOVE_RANGE:
		return apply_move_range(b, c->u.move_range.from, c->u.move_range.to,
					c->u.move_range.by);
	case CMD_LINE:
		f = find_fn(b, "line", c->u.line.id, &rc);
		return f ? shift_fn(b, f, c->u.line.delta, c->u.line.file) : rc;
	case CMD_LINE_RANGE:
		return apply_line_range(b, c->u.line_range.file, c->u.line_range.from,
					c->u.line_range.to, c->u.line_range.by);
	case CMD_DEL:
		f = find_fn(b, "del", c->u.id, &rc);
		if (!f)
			return rc;
		if (state_del_fn(&b->w, f))
			return oom(b);
		b->changed = true;
		return 0;
	case CMD_SYM:
		return apply_sym(b, c);
	case CMD_UNSYM:
		return apply_unsym(b, c->u.unsym.name);
	case CMD_IMAGE:
	case CMD_COMMIT:
	case CMD_ABORT:
		break;
	}
	return fail(b, -EINVAL, b->line_no, "%s is not allowed inside a batch", cmd_name(c->kind));
}

/* ---- checks on the final state ---- */

static size_t type_index(const struct state_types *tt, uint64_t id)
{
	size_t lo = 0, hi = tt->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tt->recs[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Every type's target exists, and const/typedef chains end. A pointer ends a chain:
 * pointer cycles are how C spells recursive types. An error names the command that
 * caused it: the deltype of a missing target, or a redefinition on the loop. */
static int check_types(struct batch *b)
{
	const struct state_types *tt = b->w.ttab;
	uint8_t *color = calloc(tt->n ? tt->n : 1, 1);  /* 0 new, 1 on this chain, 2 done */
	size_t *chain = calloc(tt->n ? tt->n : 1, sizeof *chain);
	if (!color || !chain) {
		free(color);
		free(chain);
		return oom(b);
	}
	const struct rec_type *bad = NULL;
	uint64_t line = 0;
	for (size_t i = 0; i < tt->n && !bad; i++) {
		size_t depth = 0, j = i;
		while (color[j] == 0) {
			const struct rec_type *t = tt->recs[j];
			color[j] = 1;
			chain[depth++] = j;
			if (!t->to || t->kind == REC_TYPE_POINTER) {
				if (t->to && state_type_offset(tt, t->to) == UINT64_MAX)
					bad = t;
				break;
			}
			if (state_type_offset(tt, t->to) == UINT64_MAX) {
				bad = t;
				break;
			}
			j = type_index(tt, t->to);
			if (color[j] != 1)
				continue;
			bad = t;
			/* The loop runs from j's place on the chain to its end. */
			for (size_t k = depth; k-- > 0;) {
				uint64_t l = touch_line(&b->types, tt->recs[chain[k]]->id, 0);
				line = l > line ? l : line;
				if (chain[k] == j)
					break;
			}
		}
		for (size_t k = 0; k < depth; k++)
			color[chain[k]] = 2;
	}
	free(color);
	free(chain);
	if (!bad)
		return 0;
	if (line)
		return fail(b, -EINVAL, line, "type %llu: its const/typedef chain loops back on "
			    "itself", (unsigned long long)bad->id);
	line = touch_line(&b->dropped_types, bad->to,
			  touch_line(&b->types, bad->id, b->line_no));
	return fail(b, -EINVAL, line, "type %llu: refers to type %llu, which does not exist",
		    (unsigned long long)bad->id, (unsigned long long)bad->to);
}

static const struct macho_section *text_section(const struct state *s)
{
	return macho_segtab_find(&s->segs->t, "__TEXT", "__text", NULL);
}

/* Checks one function's references and bounds; the message names it. `line` is the
 * line of the command that last changed it, or 0 for a function the batch did not touch:
 * then a missing file or type is blamed on the command that deleted it. */
static int check_fn(struct batch *b, const struct rec_fn *f, uint64_t line)
{
#define FILE_LINE(x) (line ? line : touch_line(&b->dropped_files, (x), b->line_no))
#define TYPE_LINE(x) (line ? line : touch_line(&b->dropped_types, (x), b->line_no))
	unsigned long long id = f->id;
	const struct state_files *ft = b->w.ftab;
	const struct state_types *tt = b->w.ttab;
	if (!f->size)
		return fail(b, -EINVAL, line, "fn %llu (%s): size is 0", id, f->name);
	if (!state_file_index(ft, f->file))
		return fail(b, -EINVAL, FILE_LINE(f->file), "fn %llu (%s): file %llu does not exist", id,
			    f->name, (unsigned long long)f->file);
	if (f->cu && !state_file_index(ft, f->cu))
		return fail(b, -EINVAL, FILE_LINE(f->cu), "fn %llu (%s): cu file %llu does not exist", id,
			    f->name, (unsigned long long)f->cu);
	if (f->line < 0 || f->line > INT32_MAX)
		return fail(b, -EINVAL, touch_line(&b->poisoned, f->id, line), "fn %llu (%s): a line shift takes its declaration "
			    "line to 0 or below (or past 2^31-1)", id, f->name);
	if (f->ret && state_type_offset(tt, f->ret) == UINT64_MAX)
		return fail(b, -EINVAL, TYPE_LINE(f->ret), "fn %llu (%s): return type %llu does not exist", id,
			    f->name, (unsigned long long)f->ret);
	for (uint32_t i = 0; i < f->nparams; i++)
		if (state_type_offset(tt, f->params[i].type) == UINT64_MAX)
			return fail(b, -EINVAL, TYPE_LINE(f->params[i].type), "fn %llu (%s): parameter %s: type %llu does "
				    "not exist", id, f->name, f->params[i].name,
				    (unsigned long long)f->params[i].type);
	for (uint32_t i = 0; i < f->nrows; i++) {
		const struct rec_row *r = &f->rows[i];
		if (r->off >= f->size)
			return fail(b, -EINVAL, line, "fn %llu (%s): row %u at offset 0x%x is past "
				    "the function's end (size 0x%llx)", id, f->name, i, r->off,
				    (unsigned long long)f->size);
		if (r->line < 0)
			return fail(b, -EINVAL, touch_line(&b->poisoned, f->id, line), "fn %llu (%s): a line shift takes row %u to "
				    "line 0 or below", id, f->name, i);
		if (!state_file_index(ft, rec_row_file(f, r)))
			return fail(b, -EINVAL, FILE_LINE(rec_row_file(f, r)), "fn %llu (%s): row %u: file %llu does not "
				    "exist", id, f->name, i,
				    (unsigned long long)rec_row_file(f, r));
	}
	return 0;
#undef FILE_LINE
#undef TYPE_LINE
}

static int check_in_text(struct batch *b, const struct rec_fn *f, uint64_t line)
{
	const struct macho_section *t = text_section(&b->w);
	if (!t)
		return fail(b, -EINVAL, line, "fn %llu (%s): the image has no __TEXT,__text "
			    "section", (unsigned long long)f->id, f->name);
	if (f->low_pc < t->addr || f->size > t->size || f->low_pc - t->addr > t->size - f->size)
		return fail(b, -EINVAL, line, "fn %llu (%s): [0x%llx, 0x%llx) is outside "
			    "__TEXT,__text [0x%llx, 0x%llx)", (unsigned long long)f->id, f->name,
			    (unsigned long long)f->low_pc,
			    (unsigned long long)(f->low_pc + f->size),
			    (unsigned long long)t->addr, (unsigned long long)(t->addr + t->size));
	return 0;
}

static int check_overlap(struct batch *b, const struct rec_fn *f, uint64_t line)
{
	struct ptree_key k = state_addr_key(f);
	const struct rec_fn *prev = ptree_prev(&b->w.fn_by_addr, k, NULL);
	struct ptree_iter it;
	ptree_iter_seek_key(&it, &b->w.fn_by_addr, k);
	if (ptree_iter_valid(&it))
		ptree_iter_next(&it);
	const struct rec_fn *next = ptree_iter_valid(&it) ? ptree_iter_val(&it) : NULL;
	const struct rec_fn *other = NULL;
	if (prev && prev->low_pc + prev->size > f->low_pc)
		other = prev;
	else if (next && f->low_pc + f->size > next->low_pc)
		other = next;
	if (!other)
		return 0;
	return fail(b, -EINVAL, line, "fn %llu (%s) [0x%llx, 0x%llx) overlaps fn %llu (%s) "
		    "[0x%llx, 0x%llx)", (unsigned long long)f->id, f->name,
		    (unsigned long long)f->low_pc, (unsigned long long)(f->low_pc + f->size),
		    (unsigned long long)other->id, other->name,
		    (unsigned long long)other->low_pc,
		    (unsigned long long)(other->low_pc + other->size));
}

static int check_sections(struct batch *b)
{
	const struct macho_segtab *t = &b->w.segs->t;
	for (uint32_t i = 0; i < t->nsegs; i++) {
		const struct macho_segment *sg = &t->segs[i];
		for (uint32_t j = 0; j < sg->nsects; j++) {
			const struct macho_section *s = &sg->sects[j];
			if (s->addr < sg->vmaddr || s->size > sg->vmsize ||
			    s->addr - sg->vmaddr > sg->vmsize - s->size)
				return fail(b, -EINVAL, b->segs_line, "section %s,%s [0x%llx, 0x%llx) "
					    "lies outside segment %s", sg->segname, s->sectname,
					    (unsigned long long)s->addr,
					    (unsigned long long)(s->addr + s->size), sg->segname);
		}
	}
	/* Functions were inside the old bounds; only the outermost can fall outside. */
	const struct rec_fn *first = ptree_first(&b->w.fn_by_addr, NULL);
	const struct rec_fn *last = ptree_last(&b->w.fn_by_addr, NULL);
	int rc = first ? check_in_text(b, first, b->segs_line) : 0;
	if (!rc && last)
		rc = check_in_text(b, last, b->segs_line);
	return rc;
}

/* Every symbol's n_sect names a section of the final segment table. */
static int check_sym_sections(struct batch *b)
{
	uint32_t nsects = macho_segtab_nsects(&b->w.segs->t);
	uint64_t line = b->segs_line > b->sym_line ? b->segs_line : b->sym_line;
	struct ptree_iter it;
	for (ptree_iter_first(&it, &b->w.syms); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		const struct rec_sym *s = ptree_iter_val(&it);
		if (s->sect > nsects)
			return fail(b, -EINVAL, line, "sym %s: section %u does not exist (the image "
				    "has %u sections)", s->name, s->sect, nsects);
	}
	return it.error ? oom(b) : 0;
}

/* After a delfile/deltype: does any function still refer to what went? (Types that
 * refer to a deleted type are caught by check_types.) */
static int check_dropped(struct batch *b)
{
	struct ptree_iter it;
	int rc = 0;
	for (ptree_iter_first(&it, &b->w.fn_by_id); ptree_iter_valid(&it) && !rc;
	     ptree_iter_next(&it))
		rc = check_fn(b, ptree_iter_val(&it), 0);
	return rc ? rc : it.error ? oom(b) : 0;
}

/* By id, then by line, so the last entry of an id is its latest touch whatever the
 * qsort implementation's stability. */
static int touch_cmp(const void *x, const void *y)
{
	const struct touch *a = x, *c = y;
	if (a->id != c->id)
		return a->id < c->id ? -1 : 1;
	return a->line_no < c->line_no ? -1 : a->line_no > c->line_no;
}

static int check_final(struct batch *b)
{
	uint64_t n = ptree_count(&b->w.fn_by_id);
	if (b->im->lim.max_decls && n > b->im->lim.max_decls)
		return fail(b, -ENOSPC, b->line_no, "the batch leaves %llu functions; the limit "
			    "is %llu (max_decls)", (unsigned long long)n,
			    (unsigned long long)b->im->lim.max_decls);
	if (b->files_changed && state_rebuild_files(&b->w))
		return oom(b);
	if (b->w.ftab->n > DWARF_MAX_FILE_INDEX)
		return fail(b, -ENOSPC, b->line_no, "too many files (%zu)", b->w.ftab->n);
	if (b->types_changed && state_rebuild_types(&b->w))
		return oom(b);
	if (b->types_changed) {
		int rc = check_types(b);
		if (rc)
			return rc;
	}
	/* Sorting puts every touch of one id together; the last is the latest line. */
	if (b->fns.n)  /* qsort's array may not be NULL, even when empty */
		qsort(b->fns.v, b->fns.n, sizeof *b->fns.v, touch_cmp);
	for (size_t i = 0; i < b->fns.n; i++) {
		if (i + 1 < b->fns.n && b->fns.v[i + 1].id == b->fns.v[i].id)
			continue;
		const struct rec_fn *f = ptree_get(&b->w.fn_by_id, state_id_key(b->fns.v[i].id));
		if (!f)
			continue;
		uint64_t line = b->fns.v[i].line_no;
		int rc = check_fn(b, f, line);
		if (!rc)
			rc = check_in_text(b, f, line);
		if (!rc)
			rc = check_overlap(b, f, line);
		if (rc)
			return rc;
	}
	if (b->segs_line) {
		int rc = check_sections(b);
		if (rc)
			return rc;
	}
	if (b->segs_line || b->sym_line) {
		int rc = check_sym_sections(b);
		if (rc)
			return rc;
	}
	return b->dropped_files.n || b->dropped_types.n ? check_dropped(b) : 0;
}

static void publish(struct image *im, struct gen *g, const struct state *st)
{
	pthread_mutex_lock(&im->lock);
	struct gen *old_cur = im->cur;
	im->cur = g;
	struct state old_st = im->st;
	state_copy(st, &im->st);
	struct gen *dropped = NULL;
	if (im->nretained == im->lim.keep_generations)
		dropped = im->retained[--im->nretained];
	memmove(&im->retained[1], &im->retained[0], im->nretained * sizeof *im->retained);
	im->retained[0] = g;
	gen_ref(g);
	im->nretained++;
	pthread_mutex_unlock(&im->lock);
	/* Freeing can take a while for a large generation: do it outside the lock. */
	gen_unref(old_cur);
	gen_unref(dropped);
	state_release(&old_st);
}

/* Applies the batch to a working copy of the image's state and checks the result. */
static int run_batch(struct batch *b, struct image_item *items, size_t nitems)
{
	state_copy(&b->im->st, &b->w);
	int rc = 0;
	for (size_t i = 0; i < nitems && !rc; i++)
		rc = apply(b, &items[i]);
	if (!rc && b->changed)
		rc = check_final(b);
	if (!rc && b->changed && state_settle(&b->w))
		rc = oom(b);
	return rc;
}

static void batch_free(struct batch *b)
{
	state_release(&b->w);
	free(b->fns.v);
	free(b->types.v);
	free(b->dropped_files.v);
	free(b->dropped_types.v);
	free(b->poisoned.v);
	for (size_t i = 0; i < b->nexes; i++)
		free((void *)b->exes[i].data);
	free(b->exes);
}

int image_commit(struct image *im, struct image_item *items, size_t nitems,
		 struct image_result *res, char *err, size_t errlen)
{
	struct batch b = {.im = im, .err = err, .errlen = errlen};
	pthread_mutex_lock(&im->commit_lock);
	int rc = run_batch(&b, items, nitems);
	struct gen *g = NULL;
	uint64_t number = 0;
	if (!rc && b.changed) {
		struct gen *cur = image_current(im);
		number = gen_number(cur) + 1;
		gen_unref(cur);
		rc = gen_new(&b.w, im->name, number, &g);
		if (rc == -EFBIG)
			fail(&b, rc, b.line_no, "the dSYM would pass 4 GiB, the limit of "
			     "32-bit DWARF and Mach-O offsets");
		else if (rc)
			oom(&b);
	}
	if (!rc && g && im->prepublish) {
		struct image_batch_view v = {items, nitems, b.exes, b.nexes, &b.w, number};
		rc = im->prepublish(im->prepublish_arg, im, &v, err, errlen);
		if (rc) {
			gen_unref(g);
			g = NULL;
		}
	}
	if (!rc && g)
		publish(im, g, &b.w);
	if (!rc) {
		struct gen *cur = image_current(im);
		res->generation = gen_number(cur);
		res->ndecls = gen_ndecls(cur);
		res->published = g != NULL;
		gen_unref(cur);
	}
	pthread_mutex_unlock(&im->commit_lock);
	batch_free(&b);
	if (!rc && g && im->hook)
		im->hook(im->hook_arg, im, res->generation);
	return rc;
}

int image_replay(struct image *im, struct image_item *items, size_t nitems, bool *changed,
		 char *err, size_t errlen)
{
	struct batch b = {.im = im, .err = err, .errlen = errlen};
	pthread_mutex_lock(&im->commit_lock);
	int rc = run_batch(&b, items, nitems);
	*changed = !rc && b.changed;
	if (*changed) {
		pthread_mutex_lock(&im->lock);
		struct state old = im->st;
		state_copy(&b.w, &im->st);
		pthread_mutex_unlock(&im->lock);
		state_release(&old);
	}
	pthread_mutex_unlock(&im->commit_lock);
	batch_free(&b);
	return rc;
}

void image_set_prepublish_hook(struct image *im, image_prepublish_fn fn, void *arg)
{
	im->prepublish = fn;
	im->prepublish_arg = arg;
}

void image_state(struct image *im, struct state *out)
{
	pthread_mutex_lock(&im->lock);
	state_copy(&im->st, out);
	pthread_mutex_unlock(&im->lock);
}

int image_restore_number(struct image *im, uint64_t number)
{
	pthread_mutex_lock(&im->commit_lock);
	struct gen *g;
	int rc = gen_new(&im->st, im->name, number, &g);
	if (!rc) {
		pthread_mutex_lock(&im->lock);
		for (size_t i = 0; i < im->nretained; i++)
			gen_unref(im->retained[i]);
		gen_unref(im->cur);
		im->cur = g;
		im->retained[0] = g;
		gen_ref(g);
		im->nretained = 1;
		pthread_mutex_unlock(&im->lock);
	}
	pthread_mutex_unlock(&im->commit_lock);
	return rc;
}

int image_restore_state(struct image *im, struct state *st, char *err, size_t errlen)
{
	uint64_t n = ptree_count(&st->fn_by_id);
	if (im->lim.max_decls && n > im->lim.max_decls) {
		snprintf(err, errlen, "it holds %llu functions; the limit is %llu (max_decls)",
			 (unsigned long long)n, (unsigned long long)im->lim.max_decls);
		return -ENOSPC;
	}
	pthread_mutex_lock(&im->commit_lock);
	pthread_mutex_lock(&im->lock);
	struct state old = im->st;
	im->st = *st;
	pthread_mutex_unlock(&im->lock);
	pthread_mutex_unlock(&im->commit_lock);
	memset(st, 0, sizeof *st);
	state_release(&old);
	return 0;
}
