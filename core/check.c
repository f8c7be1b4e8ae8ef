/* check: the commit-time checks on a batch's final state. See check.h. */
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "dwarf.h"
#include "util.h"

/* The line of the last touch of id in t, or `otherwise`. */
static uint64_t touch_line(const struct touches *t, uint64_t id, uint64_t otherwise)
{
	for (size_t i = t->n; i-- > 0;)
		if (t->v[i].id == id)
			return t->v[i].line_no;
	return otherwise;
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

/* Touches sorted by id (touch_cmp): the latest line of id, or `otherwise`. */
static uint64_t sorted_line(const struct touches *t, uint64_t id, uint64_t otherwise)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].id <= id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && t->v[lo - 1].id == id ? t->v[lo - 1].line_no : otherwise;
}

static const struct rec_type *type_get(const struct batch *b, uint64_t id)
{
	return ptree_get(&b->w.types, state_id_key(id));
}

static bool is_aggregate(const struct rec_type *t)
{
	return t->kind == REC_TYPE_STRUCT || t->kind == REC_TYPE_UNION;
}

/* The types t refers to, in a fixed order: t's i-th reference for i < type_nrefs(t);
 * 0 (none, or void) is skipped by the callers. Scope is nesting, not a reference. */
static size_t type_nrefs(const struct rec_type *t)
{
	switch (t->kind) {
	case REC_TYPE_BASE:
		return 0;
	case REC_TYPE_STRUCT:
	case REC_TYPE_UNION:
		return t->nmembers;
	case REC_TYPE_FUNC:
		return 1 + (size_t)t->nparams;
	default:
		return 1;
	}
}

static uint64_t type_ref(const struct rec_type *t, size_t i)
{
	switch (t->kind) {
	case REC_TYPE_STRUCT:
	case REC_TYPE_UNION:
		return t->members[i].type;
	case REC_TYPE_FUNC:
		return i ? t->params[i - 1] : t->ret;
	default:
		return t->to;
	}
}

/* Ids and their colors during one cycle walk: an open-addressing table that grows
 * with what the walk visits, never with the image. */
struct colors {
	uint64_t *ids;   /* 0: empty slot (0 is no type id) */
	uint8_t *col;    /* 1 on the walk's path, 2 done */
	size_t cap, n;
};

/* The color of id, entered as 0 when new (after a color_grow). */
static uint8_t *color_of(struct colors *c, uint64_t id)
{
	size_t i = (size_t)(util_hash(&id, sizeof id) & (c->cap - 1));
	while (c->ids[i] && c->ids[i] != id)
		i = (i + 1) & (c->cap - 1);
	if (!c->ids[i])
		c->n++;
	c->ids[i] = id;
	return &c->col[i];
}

/* Room for one more id: the table stays at most half full. */
static int color_grow(struct colors *c)
{
	if (c->cap && (c->n + 1) * 2 <= c->cap)
		return 0;
	struct colors g = { .cap = c->cap ? c->cap * 2 : 64 };
	g.ids = calloc(g.cap, sizeof *g.ids);
	g.col = calloc(g.cap, 1);
	if (!g.ids || !g.col) {
		free(g.ids);
		free(g.col);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->cap; i++)
		if (c->ids[i])
			*color_of(&g, c->ids[i]) = c->col[i];
	free(c->ids);
	free(c->col);
	*c = g;
	return 0;
}

struct frame {
	const struct rec_type *t;
	size_t next;
};

/* Writes "A -> B -> ... -> A" for the cycle on stack[from..n) into out. */
static void cycle_text(char *out, size_t len, const struct frame *stack, size_t from,
		       size_t n)
{
	size_t at = 0;
	out[0] = 0;
	for (size_t i = from; i <= n && at < len; i++) {
		const struct rec_type *t = stack[i < n ? i : from].t;
		int w = snprintf(out + at, len - at, "%s%llu", i > from ? " -> " : "",
				 (unsigned long long)t->id);
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

/* Two walks look for the cycles the protocol refuses. The plain one goes over every
 * reference but stops at named structs and unions: a cycle it finds passes through
 * none, so nothing could give it a size or an end. The by-value one goes through
 * named structs too but not past a pointer or a function type: a cycle it finds is a
 * type that contains itself. */
struct walk {
	bool by_value;
	struct colors c;
	struct frame *stack;
	size_t cap;
};

/* Whether the walk stops at t rather than following its references. */
static bool walk_cut(const struct walk *w, const struct rec_type *t)
{
	if (w->by_value)
		return false;
	return is_aggregate(t) && t->name;
}

static size_t walk_nrefs(const struct walk *w, const struct rec_type *t)
{
	if (w->by_value && (t->kind == REC_TYPE_POINTER || t->kind == REC_TYPE_FUNC))
		return 0;
	return type_nrefs(t);
}

/* Depth-first from start. Only the batch's types start a walk, and colors persist
 * over walks, so each type is walked at most once per commit. */
static int walk_cycles(struct batch *b, const struct rec_type *start, struct walk *w)
{
	struct colors *c = &w->c;
	struct frame **stackp = &w->stack;
	size_t *capp = &w->cap;
	size_t n = 0;
	if (color_grow(c))
		return batch_oom(b);
	if (*color_of(c, start->id))
		return 0;
	for (;;) {
		const struct rec_type *t = n ? NULL : start;
		if (n) {
			struct frame *f = &(*stackp)[n - 1];
			if (f->next == walk_nrefs(w, f->t)) {
				*color_of(c, f->t->id) = 2;
				if (--n == 0)
					return 0;
				continue;
			}
			uint64_t id = type_ref(f->t, f->next++);
			t = id ? type_get(b, id) : NULL;
			if (!t || walk_cut(w, t))
				continue;
			if (color_grow(c))
				return batch_oom(b);
			uint8_t col = *color_of(c, id);
			if (col == 2)
				continue;
			if (col == 1) {
				size_t from = n;
				while (from-- > 0 && (*stackp)[from].t != t)
					;
				uint64_t line = 0;
				for (size_t i = from; i < n; i++) {
					uint64_t l = sorted_line(&b->types, (*stackp)[i].t->id, 0);
					line = l > line ? l : line;
				}
				char text[256];
				cycle_text(text, sizeof text, *stackp, from, n);
				return batch_fail(b, -EINVAL, line ? line : b->line_no,
						  w->by_value ? "type %llu: contains itself by "
						  "value (%s)" : "type %llu: the cycle of type "
						  "references %s passes through no named struct or "
						  "union", (unsigned long long)t->id, text);
			}
		} else if (walk_cut(w, t)) {
			return 0;
		}
		if (util_grow(stackp, capp, n + 1, sizeof **stackp))
			return batch_oom(b);
		(*stackp)[n++] = (struct frame){t, 0};
		*color_of(c, t->id) = 1;
	}
}

/* The byte size of a type where it is known without the target (a pointer's is 8 on
 * both architectures), or 0. depth bounds chains the cycle check has not seen. */
static uint64_t type_size(const struct batch *b, uint64_t id, unsigned depth)
{
	const struct rec_type *t = id && depth < 64 ? type_get(b, id) : NULL;
	if (!t)
		return 0;
	switch (t->kind) {
	case REC_TYPE_BASE:
	case REC_TYPE_STRUCT:
	case REC_TYPE_UNION:
	case REC_TYPE_ENUM:
		return t->decl ? 0 : t->size;
	case REC_TYPE_POINTER:
		return 8;
	case REC_TYPE_ARRAY: {
		uint64_t n = type_size(b, t->to, depth + 1);
		for (uint32_t i = 0; i < t->ndims && n; i++) {
			uint64_t d = t->dims[i];
			if (d == REC_DIM_UNKNOWN || (d && n > UINT64_MAX / d))
				return 0;
			n *= d;
		}
		return n;
	}
	case REC_TYPE_FUNC:
		return 0;
	default:
		return type_size(b, t->to, depth + 1);
	}
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Two enumerators of one name: sorted names side by side, O(m log m). */
static int repeated_enumerator(const struct rec_type *t, const char **dup)
{
	if (t->nenumerators < 2)
		return 0;
	const char **v = malloc(t->nenumerators * sizeof *v);
	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nenumerators; i++)
		v[i] = t->enumerators[i].name;
	qsort(v, t->nenumerators, sizeof *v, name_cmp);
	*dup = NULL;
	for (uint32_t i = 1; i < t->nenumerators && !*dup; i++)
		if (strcmp(v[i - 1], v[i]) == 0)
			*dup = v[i];
	free(v);
	return *dup ? 1 : 0;
}

/* One type's references and shape. `line`: the line that last changed it, or 0 for a
 * type the batch did not touch (a missing reference is then the delete's fault). */
static int check_type(struct batch *b, const struct rec_type *t, uint64_t line)
{
#define REF_LINE(x) (line ? line : touch_line(&b->dropped_types, (x), b->line_no))
	unsigned long long id = t->id;
	char what[160];
	if (t->name)
		snprintf(what, sizeof what, "type %llu (%s)", id, t->name);
	else
		snprintf(what, sizeof what, "type %llu", id);
	if (t->file && !state_file_index(b->w.ftab, t->file))
		return batch_fail(b, -EINVAL, line ? line : touch_line(&b->dropped_files,
				  t->file, b->line_no), "%s: file %llu does not exist", what,
				  (unsigned long long)t->file);
	if (t->decl && (t->size || t->nmembers))
		return batch_fail(b, -EINVAL, line, "%s: a decl type has no size or members",
				  what);
	if (t->kind == REC_TYPE_ARRAY && !t->to)
		return batch_fail(b, -EINVAL, line, "%s: an array of void", what);
	for (size_t i = 0; i < type_nrefs(t); i++) {
		uint64_t r = type_ref(t, i);
		if (!r || type_get(b, r))
			continue;
		if (is_aggregate(t))
			return batch_fail(b, -EINVAL, REF_LINE(r), "%s: member %s: type %llu "
					  "does not exist", what, t->members[i].name,
					  (unsigned long long)r);
		return batch_fail(b, -EINVAL, REF_LINE(r), "%s: refers to type %llu, which "
				  "does not exist", what, (unsigned long long)r);
	}
	if (t->scope) {
		const struct rec_type *s = type_get(b, t->scope);
		if (!s)
			return batch_fail(b, -EINVAL, REF_LINE(t->scope), "%s: scope type %llu "
					  "does not exist", what, (unsigned long long)t->scope);
		if (!is_aggregate(s))
			return batch_fail(b, -EINVAL, line, "%s: scope type %llu is not a struct "
					  "or union", what, (unsigned long long)t->scope);
	}
	/* A type the batch did not touch kept its shape (only a delete brought it here). */
	if (!line)
		return 0;
	for (uint32_t i = 0; i < t->nmembers && !t->decl; i++) {
		const struct rec_member *m = &t->members[i];
		uint64_t sz = type_size(b, m->type, 0);
		bool past = m->bits ? m->off > t->size ||
				      (uint64_t)m->bitoff + m->bits > (t->size - m->off) * 8
				    : sz && (m->off > t->size || sz > t->size - m->off);
		if (past)
			return batch_fail(b, -EINVAL, line, "%s: member %s at offset %llu runs "
					  "past the end of the %s (size %llu)", what,
					  m->name[0] ? m->name : "(anonymous)",
					  (unsigned long long)m->off,
					  t->kind == REC_TYPE_STRUCT ? "struct" : "union",
					  (unsigned long long)t->size);
	}
	const char *dup;
	int rc = repeated_enumerator(t, &dup);
	if (rc < 0)
		return batch_oom(b);
	if (rc)
		return batch_fail(b, -EINVAL, line, "%s: enumerator %s is given twice", what,
				  dup);
	for (uint32_t i = 0; i + 1 < t->ndims; i++)
		if (t->dims[i] == 0)
			return batch_fail(b, -EINVAL, line, "%s: dimension %u has 0 elements (only "
					  "the last may)", what, i + 1);
	return 0;
#undef REF_LINE
}

/* Scope chains end at the unit: a loop would nest DIEs forever. */
static int check_scope_chain(struct batch *b, const struct rec_type *t, uint64_t line)
{
	uint64_t n = ptree_count(&b->w.types);
	const struct rec_type *s = t;
	for (uint64_t steps = 0; s && s->scope; steps++) {
		if (steps > n || s->scope == t->id)
			return batch_fail(b, -EINVAL, line, "type %llu: its scope chain loops "
					  "back on itself", (unsigned long long)t->id);
		s = type_get(b, s->scope);
	}
	return 0;
}

/* The batch's types (sorted by id), then their cycles. */
static int check_types(struct batch *b)
{
	if (b->types.n)
		qsort(b->types.v, b->types.n, sizeof *b->types.v, touch_cmp);
	struct walk w[2] = { { .by_value = false }, { .by_value = true } };
	int rc = 0;
	for (size_t i = 0; i < b->types.n && !rc; i++) {
		if (i + 1 < b->types.n && b->types.v[i + 1].id == b->types.v[i].id)
			continue;
		const struct rec_type *t = type_get(b, b->types.v[i].id);
		if (!t)
			continue;
		rc = check_type(b, t, b->types.v[i].line_no);
		for (int k = 0; k < 2 && !rc; k++)
			rc = walk_cycles(b, t, &w[k]);
		if (!rc)
			rc = check_scope_chain(b, t, b->types.v[i].line_no);
	}
	for (int k = 0; k < 2; k++) {
		free(w[k].c.ids);
		free(w[k].c.col);
		free(w[k].stack);
	}
	return rc;
}

/* A global's references, and its address inside a section of the image. */
static int check_global(struct batch *b, const struct rec_global *g, uint64_t line)
{
	unsigned long long id = g->id;
	uint64_t cu = rec_global_cu(g);
	if (!type_get(b, g->type))
		return batch_fail(b, -EINVAL, line ? line : touch_line(&b->dropped_types, g->type,
				  b->line_no), "global %llu (%s): type %llu does not exist", id,
				  g->name, (unsigned long long)g->type);
	uint64_t files[2] = { g->file, cu };
	for (int i = 0; i < 2; i++)
		if (!state_file_index(b->w.ftab, files[i]))
			return batch_fail(b, -EINVAL, line ? line :
					  touch_line(&b->dropped_files, files[i], b->line_no),
					  "global %llu (%s): %sfile %llu does not exist", id,
					  g->name, i ? "cu " : "", (unsigned long long)files[i]);
	const struct macho_segtab *st = &b->w.segs->t;
	for (uint32_t i = 0; i < st->nsegs; i++)
		for (uint32_t j = 0; j < st->segs[i].nsects; j++) {
			const struct macho_section *s = &st->segs[i].sects[j];
			if (g->addr >= s->addr && g->addr - s->addr < s->size)
				return 0;
		}
	return batch_fail(b, -EINVAL, line ? line : b->segs_line, "global %llu (%s): address "
			  "0x%llx is in no section of the image", id, g->name,
			  (unsigned long long)g->addr);
}

static int check_globals(struct batch *b)
{
	if (b->globals.n)
		qsort(b->globals.v, b->globals.n, sizeof *b->globals.v, touch_cmp);
	for (size_t i = 0; i < b->globals.n; i++) {
		if (i + 1 < b->globals.n && b->globals.v[i + 1].id == b->globals.v[i].id)
			continue;
		const struct rec_global *g = ptree_get(&b->w.globals,
						       state_id_key(b->globals.v[i].id));
		int rc = g ? check_global(b, g, b->globals.v[i].line_no) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* A location list's ranges lie inside the function. */
static bool loc_inside(const struct rec_loc *l, uint64_t size)
{
	return l->kind != REC_LOC_LIST || l->entries[l->len - 1].to <= size;
}

/* Whether [r.from, r.to) lies inside one range of block p. */
static bool range_inside(const struct rec_range *r, const struct rec_block *p)
{
	for (uint32_t i = 0; i < p->nranges; i++)
		if (r->from >= p->ranges[i].from && r->to <= p->ranges[i].to)
			return true;
	return false;
}

/* The origin of the nearest inlined block enclosing block k (1-based; 0: none). */
static const struct rec_block *inlined_at(const struct rec_fn *f, uint32_t k)
{
	while (k && !f->blocks[k - 1].origin)
		k = f->blocks[k - 1].parent;
	return k ? &f->blocks[k - 1] : NULL;
}

static bool origin_has(const struct rec_fn *o, const char *name)
{
	for (uint32_t i = 0; i < o->nparams; i++)
		if (strcmp(o->params[i].name, name) == 0)
			return true;
	for (uint32_t i = 0; i < o->nvars; i++)
		if (strcmp(o->vars[i].name, name) == 0)
			return true;
	return false;
}

/* Frame base, variables and scopes of one function (check_fn did the rest). */
static int check_fn_scopes(struct batch *b, const struct rec_fn *f, uint64_t line)
{
	unsigned long long id = f->id;
	const char *nm = f->name;
	if (f->abstract && f->nblocks)
		return batch_fail(b, -EINVAL, line, "fn %llu (%s): an abstract fn has no code, "
				  "so no blocks", id, nm);
	if (f->frame_base.kind == REC_LOC_LIST)
		return batch_fail(b, -EINVAL, line, "fn %llu (%s): frame_base: a location list "
				  "is not supported here; send the one location the frame base "
				  "has for the whole function", id, nm);
	for (uint32_t i = 0; i < f->nparams; i++)
		if (!loc_inside(&f->params[i].loc, f->size))
			return batch_fail(b, -EINVAL, line, "fn %llu (%s): parameter %s: a "
					  "location list range runs past the function's end (size "
					  "0x%llx)", id, nm, f->params[i].name,
					  (unsigned long long)f->size);
	for (uint32_t i = 0; i < f->nblocks; i++) {
		const struct rec_block *bl = &f->blocks[i];
		const struct rec_block *p = bl->parent ? &f->blocks[bl->parent - 1] : NULL;
		for (uint32_t r = 0; r < bl->nranges; r++) {
			const struct rec_range *rg = &bl->ranges[r];
			if (rg->to > f->size)
				return batch_fail(b, -EINVAL, line, "fn %llu (%s): block %u: range "
						  "0x%llx..0x%llx runs past the function's end (size "
						  "0x%llx)", id, nm, i + 1,
						  (unsigned long long)rg->from,
						  (unsigned long long)rg->to,
						  (unsigned long long)f->size);
			if (p && !range_inside(rg, p))
				return batch_fail(b, -EINVAL, line, "fn %llu (%s): block %u: range "
						  "0x%llx..0x%llx is not inside its parent, block %u",
						  id, nm, i + 1, (unsigned long long)rg->from,
						  (unsigned long long)rg->to, bl->parent);
		}
		if (!bl->origin)
			continue;
		const struct rec_fn *o = ptree_get(&b->w.fn_by_id, state_id_key(bl->origin));
		if (!o)
			return batch_fail(b, -EINVAL, line ? line : touch_line(&b->dropped_fns,
					  bl->origin, b->line_no), "fn %llu (%s): block %u: origin fn "
					  "%llu does not exist", id, nm, i + 1,
					  (unsigned long long)bl->origin);
		if (!o->abstract)
			return batch_fail(b, -EINVAL, line ? line : touch_line(&b->dropped_fns,
					  bl->origin, b->line_no), "fn %llu (%s): "
					  "block %u: origin fn %llu (%s) is not abstract", id, nm,
					  i + 1, (unsigned long long)o->id, o->name);
		if (!state_file_index(b->w.ftab, bl->call_file))
			return batch_fail(b, -EINVAL, line ? line :
					  touch_line(&b->dropped_files, bl->call_file, b->line_no),
					  "fn %llu (%s): block %u: call file %llu does not exist", id,
					  nm, i + 1, (unsigned long long)bl->call_file);
	}
	for (uint32_t i = 0; i < f->nvars; i++) {
		const struct rec_var *v = &f->vars[i];
		if (v->block > f->nblocks)
			return batch_fail(b, -EINVAL, line, "fn %llu (%s): variable %s: block %u "
					  "does not exist (the fn has %u)", id, nm, v->name, v->block,
					  f->nblocks);
		if (!loc_inside(&v->loc, f->size))
			return batch_fail(b, -EINVAL, line, "fn %llu (%s): variable %s: a "
					  "location list range runs past the function's end (size "
					  "0x%llx)", id, nm, v->name, (unsigned long long)f->size);
		if (v->type && !type_get(b, v->type))
			return batch_fail(b, -EINVAL, line ? line : touch_line(&b->dropped_types,
					  v->type, b->line_no), "fn %llu (%s): variable %s: type %llu "
					  "does not exist", id, nm, v->name,
					  (unsigned long long)v->type);
		if (v->type)
			continue;
		const struct rec_block *in = inlined_at(f, v->block);
		const struct rec_fn *o = in ? ptree_get(&b->w.fn_by_id,
						       state_id_key(in->origin)) : NULL;
		if (!o || !origin_has(o, v->name))
			return batch_fail(b, -EINVAL, line ? line : b->line_no, "fn %llu (%s): "
					  "variable %s has type 0 but is no parameter or local of "
					  "an inlined origin", id, nm, v->name);
	}
	return 0;
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
	if (!f->size && !f->abstract)
		return batch_fail(b, -EINVAL, line, "fn %llu (%s): size is 0", id, f->name);
	if (!state_file_index(ft, f->file))
		return batch_fail(b, -EINVAL, FILE_LINE(f->file), "fn %llu (%s): file %llu does not exist", id,
			    f->name, (unsigned long long)f->file);
	if (f->cu && !state_file_index(ft, f->cu))
		return batch_fail(b, -EINVAL, FILE_LINE(f->cu), "fn %llu (%s): cu file %llu does not exist", id,
			    f->name, (unsigned long long)f->cu);
	if (f->line < 0 || f->line > INT32_MAX)
		return batch_fail(b, -EINVAL, touch_line(&b->poisoned, f->id, line), "fn %llu (%s): a line shift takes its declaration "
			    "line to 0 or below (or past 2^31-1)", id, f->name);
	if (f->ret && state_type_offset(tt, f->ret) == UINT64_MAX)
		return batch_fail(b, -EINVAL, TYPE_LINE(f->ret), "fn %llu (%s): return type %llu does not exist", id,
			    f->name, (unsigned long long)f->ret);
	for (uint32_t i = 0; i < f->nparams; i++)
		if (state_type_offset(tt, f->params[i].type) == UINT64_MAX)
			return batch_fail(b, -EINVAL, TYPE_LINE(f->params[i].type), "fn %llu (%s): parameter %s: type %llu does "
				    "not exist", id, f->name, f->params[i].name,
				    (unsigned long long)f->params[i].type);
	for (uint32_t i = 0; i < f->nrows; i++) {
		const struct rec_row *r = &f->rows[i];
		if (r->off >= f->size)
			return batch_fail(b, -EINVAL, line, "fn %llu (%s): row %u at offset 0x%x is past "
				    "the function's end (size 0x%llx)", id, f->name, i, r->off,
				    (unsigned long long)f->size);
		if (r->line < 0)
			return batch_fail(b, -EINVAL, touch_line(&b->poisoned, f->id, line), "fn %llu (%s): a line shift takes row %u to "
				    "line 0 or below", id, f->name, i);
		if (!state_file_index(ft, rec_row_file(f, r)))
			return batch_fail(b, -EINVAL, FILE_LINE(rec_row_file(f, r)), "fn %llu (%s): row %u: file %llu does not "
				    "exist", id, f->name, i,
				    (unsigned long long)rec_row_file(f, r));
	}
	return check_fn_scopes(b, f, line);
#undef FILE_LINE
#undef TYPE_LINE
}

static int check_in_text(struct batch *b, const struct rec_fn *f, uint64_t line)
{
	const struct macho_section *t = text_section(&b->w);
	if (!t)
		return batch_fail(b, -EINVAL, line, "fn %llu (%s): the image has no __TEXT,__text "
			    "section", (unsigned long long)f->id, f->name);
	if (f->low_pc < t->addr || f->size > t->size || f->low_pc - t->addr > t->size - f->size)
		return batch_fail(b, -EINVAL, line, "fn %llu (%s): [0x%llx, 0x%llx) is outside "
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
	return batch_fail(b, -EINVAL, line, "fn %llu (%s) [0x%llx, 0x%llx) overlaps fn %llu (%s) "
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
				return batch_fail(b, -EINVAL, b->segs_line, "section %s,%s [0x%llx, 0x%llx) "
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
			return batch_fail(b, -EINVAL, line, "sym %s: section %u does not exist (the image "
				    "has %u sections)", s->name, s->sect, nsects);
	}
	return it.error ? batch_oom(b) : 0;
}

/* After a delete: does any record still refer to what went? One pass over the types
 * and globals after a delfile/deltype, over the functions after any of them or a del
 * (an inlined block may name the deleted function). */
static int check_dropped(struct batch *b)
{
	struct ptree_iter it;
	int rc = 0;
	if (b->dropped_files.n || b->dropped_types.n) {
		for (ptree_iter_first(&it, &b->w.types); ptree_iter_valid(&it) && !rc;
		     ptree_iter_next(&it))
			rc = check_type(b, ptree_iter_val(&it), 0);
		if (!rc && it.error)
			return batch_oom(b);
		for (ptree_iter_first(&it, &b->w.globals); ptree_iter_valid(&it) && !rc;
		     ptree_iter_next(&it))
			rc = check_global(b, ptree_iter_val(&it), 0);
		if (!rc && it.error)
			return batch_oom(b);
	}
	for (ptree_iter_first(&it, &b->w.fn_by_id); ptree_iter_valid(&it) && !rc;
	     ptree_iter_next(&it))
		rc = check_fn(b, ptree_iter_val(&it), 0);
	return rc ? rc : it.error ? batch_oom(b) : 0;
}

/* A changed segment table may leave a global outside every section. */
static int check_all_globals(struct batch *b)
{
	struct ptree_iter it;
	int rc = 0;
	for (ptree_iter_first(&it, &b->w.globals); ptree_iter_valid(&it) && !rc;
	     ptree_iter_next(&it))
		rc = check_global(b, ptree_iter_val(&it), 0);
	return rc ? rc : it.error ? batch_oom(b) : 0;
}

int check_final(struct batch *b)
{
	uint64_t n = ptree_count(&b->w.fn_by_id);
	if (b->max_decls && n > b->max_decls)
		return batch_fail(b, -ENOSPC, b->line_no, "the batch leaves %llu functions; the limit "
			    "is %llu (max_decls)", (unsigned long long)n,
			    (unsigned long long)b->max_decls);
	if (b->files_changed && state_rebuild_files(&b->w))
		return batch_oom(b);
	if (b->w.ftab->n > DWARF_MAX_FILE_INDEX)
		return batch_fail(b, -ENOSPC, b->line_no, "too many files (%zu)", b->w.ftab->n);
	if (b->types_changed && state_rebuild_types(&b->w))
		return batch_oom(b);
	if (b->types_changed) {
		int rc = check_types(b);
		if (!rc)
			rc = check_globals(b);
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
		if (!rc && !f->abstract)
			rc = check_in_text(b, f, line);
		if (!rc && !f->abstract)
			rc = check_overlap(b, f, line);
		if (rc)
			return rc;
	}
	if (b->segs_line) {
		int rc = check_sections(b);
		if (!rc)
			rc = check_all_globals(b);
		if (rc)
			return rc;
	}
	if (b->segs_line || b->sym_line) {
		int rc = check_sym_sections(b);
		if (rc)
			return rc;
	}
	return b->dropped_files.n || b->dropped_types.n || b->dropped_fns.n ?
	       check_dropped(b) : 0;
}
