/* batch: applying a batch's commands to its working state. See batch.h. */
#include "batch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf.h"
#include "util.h"

int batch_fail(struct batch *b, int rc, uint64_t line_no, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(b->err, b->errlen, "line %llu: %s", (unsigned long long)line_no, msg);
	return rc;
}

int batch_oom(struct batch *b)
{
	return batch_fail(b, -ENOMEM, b->line_no, "out of memory");
}

int batch_exe_syms(struct state *s, const struct macho_exe *exe)
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

static int touch(struct batch *b, struct touches *t, uint64_t id)
{
	if (util_grow(&t->v, &t->cap, t->n + 1, sizeof *t->v))
		return batch_oom(b);
	t->v[t->n++] = (struct touch){id, b->line_no};
	return 0;
}

static struct rec_fn *find_fn(struct batch *b, const char *cmd, uint64_t id, int *rc)
{
	struct rec_fn *f = ptree_get(&b->w.fn_by_id, state_id_key(id));
	if (!f)
		*rc = batch_fail(b, -EINVAL, b->line_no, "%s %llu: no function with this id", cmd,
			   (unsigned long long)id);
	return f;
}

/* Encodes f (a record no generation holds yet) and puts it in place of old. moved: f is
 * old at another low_pc and nothing else, so old's encoding is copied, not redone (every
 * pc in it is relative to low_pc). */
static int put_fn(struct batch *b, const struct rec_fn *old, struct rec_fn *f, bool moved)
{
	if (old && rec_fn_same(old, f))  /* by=0, or a move to where it is: nothing to do */
		return 0;
	/* Abstract functions live in the declarations unit, with the types; old may be
	 * freed once f is in place. */
	bool decls = f->abstract || (old && old->abstract);
	/* An origin that gets code is no origin any more: inlined blocks elsewhere that
	 * name it are found as after a del. */
	bool lost_origin = old && old->abstract && !f->abstract;
	int rc = moved ? dwarf_copy_encoding(f, old) : dwarf_encode_fn(f);
	if (rc == -EINVAL)
		return batch_fail(b, rc, b->line_no, "fn %llu (%s): rows are not in ascending "
			    "pc offset order", (unsigned long long)f->id, f->name);
	if (rc || state_put_fn(&b->w, old, f))
		return batch_oom(b);
	if (decls)
		b->types_changed = true;
	b->changed = true;
	rc = lost_origin ? touch(b, &b->dropped_fns, f->id) : 0;
	return rc ? rc : touch(b, &b->fns, f->id);
}

static int apply_fn(struct batch *b, struct rec_fn *f)
{
	return put_fn(b, ptree_get(&b->w.fn_by_id, state_id_key(f->id)), f, false);
}

static int move_fn(struct batch *b, struct rec_fn *old, uint64_t low_pc, bool has_size,
		   uint64_t size)
{
	if (old->abstract)
		return batch_fail(b, -EINVAL, b->line_no, "move %llu: fn %s is abstract (it has "
				  "no code to move)", (unsigned long long)old->id, old->name);
	struct rec_fn *f = rec_fn_clone(old);
	if (!f)
		return batch_oom(b);
	f->low_pc = low_pc;
	bool resized = has_size && size != old->size;
	if (resized)  /* high_pc and the line program's end depend on it: encoded anew */
		f->size = size;
	int rc = put_fn(b, old, f, !resized);
	rec_fn_unref(f);
	return rc;
}

static int put_global(struct batch *b, struct rec_global *g)
{
	struct rec_global *old = ptree_get(&b->w.globals, state_id_key(g->id));
	if (old && rec_global_same(old, g))
		return 0;
	if (dwarf_encode_global(g) || state_put_global(&b->w, old, g))
		return batch_oom(b);
	b->types_changed = b->changed = true;
	return touch(b, &b->globals, g->id);
}

/* Globals are not indexed by address: a window scans them all, O(globals) per
 * move-range (as line-range scans the functions). */
static int move_globals(struct batch *b, uint64_t from, uint64_t to, int64_t by)
{
	struct ptree snap;
	ptree_copy(&b->w.globals, &snap);
	struct ptree_iter it;
	int rc = 0;
	for (ptree_iter_first(&it, &snap); ptree_iter_valid(&it) && !rc; ptree_iter_next(&it)) {
		const struct rec_global *old = ptree_iter_val(&it);
		if (old->addr < from || old->addr >= to)
			continue;
		uint64_t na = old->addr + (uint64_t)by;
		if ((by < 0 && na > old->addr) || (by > 0 && na < old->addr)) {
			rc = batch_fail(b, -EINVAL, b->line_no, "move-range: global %llu (%s) at "
					"0x%llx cannot move by %lld", (unsigned long long)old->id,
					old->name, (unsigned long long)old->addr, (long long)by);
			break;
		}
		struct rec_global *g = rec_global_clone(old);
		if (!g) {
			rc = batch_oom(b);
			break;
		}
		g->addr = na;
		rc = put_global(b, g);
		rec_global_unref(g);
	}
	if (!rc && it.error)
		rc = batch_oom(b);
	ptree_release(&snap);
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
			rc = batch_fail(b, -EINVAL, b->line_no, "move-range: fn %llu (%s) at 0x%llx "
				  "cannot move by %lld", (unsigned long long)f->id, f->name,
				  (unsigned long long)f->low_pc, (long long)by);
		else
			rc = move_fn(b, f, np, false, 0);
	}
	if (!rc && it.error)
		rc = batch_oom(b);
	ptree_release(&snap);
	return rc ? rc : move_globals(b, from, to, by);
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

/* A declaration line of a parameter, local or call (0: none, never shifted); false when
 * the shift takes it to 0 or below or past 2^31-1. */
static bool shift_decl(uint32_t *line, int64_t delta)
{
	if (!*line)
		return true;
	int64_t n = *line > INT32_MAX ? INT32_MIN : shift_line(*line, delta);
	if (n <= 0)
		return false;
	*line = (uint32_t)n;
	return true;
}

/* The lines inside f that are declared in file `in`: parameters and locals (in the
 * function's own file) and inlined call sites. Their fields cannot hold a poisoned
 * value, so a shift out of range fails at once, naming what it would take out. */
static int shift_decls(struct batch *b, struct rec_fn *f, int64_t delta, uint64_t in)
{
	const char *what = NULL;
	for (uint32_t i = 0; f->file == in && i < f->nparams && !what; i++)
		if (!shift_decl(&f->params[i].line, delta))
			what = f->params[i].name[0] ? f->params[i].name : "(unnamed parameter)";
	for (uint32_t i = 0; f->file == in && i < f->nvars && !what; i++)
		if (!shift_decl(&f->vars[i].line, delta))
			what = f->vars[i].name;
	for (uint32_t i = 0; i < f->nblocks && !what; i++)
		if (f->blocks[i].call_file == in && !shift_decl(&f->blocks[i].call_line, delta))
			what = "an inlined call site";
	if (!what)
		return 0;
	return batch_fail(b, -EINVAL, b->line_no, "fn %llu (%s): a line shift takes the line "
			  "of %s to 0 or below (or past 2^31-1)", (unsigned long long)f->id,
			  f->name, what);
}

static int shift_fn(struct batch *b, struct rec_fn *old, int64_t delta, uint64_t file)
{
	uint64_t in = file ? file : old->file;
	struct rec_fn *f = rec_fn_clone(old);
	if (!f)
		return batch_oom(b);
	int drc = shift_decls(b, f, delta, in);
	if (drc) {
		rec_fn_unref(f);
		return drc;
	}
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
		rc = put_fn(b, old, f, false);
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
		rc = batch_oom(b);
	ptree_release(&snap);
	return rc;
}

static int apply_file(struct batch *b, struct rec_file *f)
{
	struct rec_file *old = ptree_get(&b->w.files, state_id_key(f->id));
	if (old && rec_file_same(old, f))
		return 0;
	if (state_mark_unit(&b->w, f->id) || state_put(&b->w.files, state_id_key(f->id), f))
		return batch_oom(b);
	b->files_changed = b->changed = true;
	return 0;
}

static int apply_type(struct batch *b, struct rec_type *t)
{
	struct rec_type *old = ptree_get(&b->w.types, state_id_key(t->id));
	if (old && rec_type_same(old, t))
		return 0;
	if (dwarf_encode_type(t) || state_put(&b->w.types, state_id_key(t->id), t))
		return batch_oom(b);
	b->types_changed = b->changed = true;
	return touch(b, &b->types, t->id);
}

/* delfile, deltype, delglobal: the record goes now; whatever still refers to it is found
 * at commit, which names this line. */
static int apply_delete(struct batch *b, enum cmd_kind kind, uint64_t id)
{
	struct ptree *t = kind == CMD_DELFILE ? &b->w.files :
			  kind == CMD_DELTYPE ? &b->w.types : &b->w.globals;
	struct touches *dropped = kind == CMD_DELFILE ? &b->dropped_files :
				  kind == CMD_DELTYPE ? &b->dropped_types : &b->dropped_globals;
	const char *what = kind == CMD_DELFILE ? "file" : kind == CMD_DELTYPE ? "type" :
			   "global";
	if (kind == CMD_DELFILE && state_mark_unit(&b->w, id))
		return batch_oom(b);
	const struct rec_global *g = kind == CMD_DELGLOBAL ? ptree_get(t, state_id_key(id)) : NULL;
	int rc = g ? state_del_global(&b->w, g) : state_del(t, state_id_key(id));
	if (rc == -ENOENT)
		return batch_fail(b, -EINVAL, b->line_no, "%s %llu: no %s with this id",
				  cmd_name(kind), (unsigned long long)id, what);
	if (rc)
		return batch_oom(b);
	if (kind == CMD_DELFILE)
		b->files_changed = true;
	else
		b->types_changed = true;
	b->changed = true;
	return touch(b, dropped, id);
}

/* Copy-on-write access to the segment table. */
static int segs_edit(struct batch *b, struct macho_segtab *t)
{
	if (macho_segtab_copy(&b->w.segs->t, t))
		return batch_oom(b);
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
		return batch_oom(b);
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
			return batch_fail(b, -ENOSPC, b->line_no, "segment %s: already %d segments",
				    c->u.segment.name, MACHO_MAX_SEGS);
		}
		struct macho_segment *v = realloc(t.segs, (t.nsegs + 1) * sizeof *v);
		if (!v) {
			macho_segtab_free(&t);
			return batch_oom(b);
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
		return batch_fail(b, -EINVAL, b->line_no, "section %s %s: no segment %s",
			    c->u.section.seg, c->u.section.sect, c->u.section.seg);
	}
	struct macho_section *sect = NULL;
	for (uint32_t i = 0; i < seg->nsects; i++)
		if (!strcmp(seg->sects[i].sectname, c->u.section.sect))
			sect = &seg->sects[i];
	if (!sect) {
		if (macho_segtab_nsects(&t) >= MACHO_MAX_SECTS) {
			macho_segtab_free(&t);
			return batch_fail(b, -ENOSPC, b->line_no, "section %s %s: already %d sections",
				    c->u.section.seg, c->u.section.sect, MACHO_MAX_SECTS);
		}
		struct macho_section *v = realloc(seg->sects, (seg->nsects + 1) * sizeof *v);
		if (!v) {
			macho_segtab_free(&t);
			return batch_oom(b);
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
		return batch_oom(b);
	b->exes = v;
	uint8_t *data;
	size_t len;
	char msg[512];
	int rc = macho_read_file(path, &data, &len, msg, sizeof msg);
	if (rc)
		return batch_fail(b, rc, b->line_no, "exe %s: %s", path, msg);
	b->exes[b->nexes++] = (struct image_blob){data, len};
	rc = macho_parse_exe(data, len, exe, msg, sizeof msg);
	if (rc)
		return batch_fail(b, rc, b->line_no, "exe %s: %s: %s", path, path, msg);
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
		return batch_oom(b);
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
		rc = batch_exe_syms(&b->w, &exe);
	macho_exe_free(&exe);
	if (rc) {
		ptree_release(&old_syms);
		return batch_oom(b);
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
		return batch_oom(b);
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
		return batch_oom(b);
	b->sym_line = b->line_no;
	b->changed = true;
	return 0;
}

static int apply_unsym(struct batch *b, const char *name)
{
	bool found;
	if (drop_syms(&b->w, name, false, &found))
		return batch_oom(b);
	if (!found)
		return batch_fail(b, -EINVAL, b->line_no, "unsym %s: no such symbol", name);
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
		return apply_delete(b, c->kind, c->u.id);
	case CMD_TYPE:
		return apply_type(b, c->u.type);
	case CMD_DELTYPE:
		return apply_delete(b, c->kind, c->u.id);
	case CMD_FN:
		return apply_fn(b, c->u.fn);
	case CMD_GLOBAL:
		return put_global(b, c->u.global);
	case CMD_DELGLOBAL:
		return apply_delete(b, c->kind, c->u.id);
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
		/* Only an abstract fn can be an origin: deleting any other one needs no
		 * pass over the image. */
		bool origin = f->abstract;
		if (origin)
			b->types_changed = true;
		if (state_del_fn(&b->w, f))
			return batch_oom(b);
		b->changed = true;
		return origin ? touch(b, &b->dropped_fns, c->u.id) : 0;
	case CMD_SYM:
		return apply_sym(b, c);
	case CMD_UNSYM:
		return apply_unsym(b, c->u.unsym.name);
	case CMD_IMAGE:
	case CMD_COMMIT:
	case CMD_ABORT:
		break;
	}
	return batch_fail(b, -EINVAL, b->line_no, "%s is not allowed inside a batch", cmd_name(c->kind));
}

int batch_run(struct batch *b, const struct state *base, struct image_item *items,
	      size_t nitems)
{
	state_copy(base, &b->w);
	int rc = 0;
	for (size_t i = 0; i < nitems && !rc; i++)
		rc = apply(b, &items[i]);
	return rc;
}

void batch_release(struct batch *b)
{
	state_release(&b->w);
	free(b->fns.v);
	free(b->types.v);
	free(b->dropped_files.v);
	free(b->dropped_types.v);
	free(b->globals.v);
	free(b->dropped_globals.v);
	free(b->dropped_fns.v);
	free(b->poisoned.v);
	for (size_t i = 0; i < b->nexes; i++)
		free((void *)b->exes[i].data);
	free(b->exes);
}
