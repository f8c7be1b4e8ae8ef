/* The content of an image at one point in time. See state.h. */
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "dwarf.h"
#include "util.h"

static void file_ref(void *v) { rec_file_ref(v); }
static void file_unref(void *v) { rec_file_unref(v); }
static void type_ref(void *v) { rec_type_ref(v); }
static void type_unref(void *v) { rec_type_unref(v); }
static void fn_ref(void *v) { rec_fn_ref(v); }
static void fn_unref(void *v) { rec_fn_unref(v); }
static void sym_ref(void *v) { rec_sym_ref(v); }
static void sym_unref(void *v) { rec_sym_unref(v); }
static void global_ref(void *v) { rec_global_ref(v); }
static void global_unref(void *v) { rec_global_unref(v); }

static void weigh_type(const void *v, uint64_t w[PTREE_NW])
{
	const struct rec_type *t = v;
	w[0] = t->info.len;
	w[1] = w[2] = 0;
}

static void weigh_fn_layout(const void *v, uint64_t w[PTREE_NW])
{
	const struct rec_fn *f = v;
	w[STATE_W_INFO] = f->info.len;
	w[STATE_W_LINE] = f->line_prog.len;
	w[STATE_W_ARANGES] = DWARF_ARANGES_TUPLE_SIZE;
	w[STATE_W_LOC] = dwarf_fn_loc_size(f);
	w[STATE_W_RANGES] = dwarf_fn_ranges_size(f);
}

static void files_unref(struct state_files *ft);
static void types_unref(struct state_types *tt);

struct state_unit_bytes *state_unit_bytes_new(uint64_t len, struct state_files *ftab,
					      struct state_types *ttab)
{
	struct state_unit_bytes *b = malloc(sizeof *b + (len ? len : 1));
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = len;
	b->loc_base = b->ranges_base = 0;
	b->ftab = ftab;
	b->ttab = ttab;
	if (ftab)
		__atomic_add_fetch(&ftab->refs, 1, __ATOMIC_RELAXED);
	if (ttab)
		__atomic_add_fetch(&ttab->refs, 1, __ATOMIC_RELAXED);
	return b;
}

void state_unit_bytes_ref(struct state_unit_bytes *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

void state_unit_bytes_unref(struct state_unit_bytes *b)
{
	if (!b || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	files_unref(b->ftab);
	types_unref(b->ttab);
	free(b);
}

static void unit_ref(void *v)
{
	struct state_unit *u = v;
	__atomic_add_fetch(&u->refs, 1, __ATOMIC_RELAXED);
}

static void unit_unref(void *v)
{
	struct state_unit *u = v;
	if (!u || __atomic_sub_fetch(&u->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	rec_file_unref(u->src);
	free(u);
}

static void chunk_ref(void *v)
{
	struct state_chunk *c = v;
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

static void chunk_unref(void *v)
{
	struct state_chunk *c = v;
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (int i = 0; i < PTREE_NW; i++)
		state_unit_bytes_unref(c->bytes[i]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void weigh_chunk(const void *v, uint64_t w[PTREE_NW])
{
	memcpy(w, ((const struct state_chunk *)v)->w, sizeof ((const struct state_chunk *)v)->w);
}

static void weigh_unit(const void *v, uint64_t w[PTREE_NW])
{
	const struct state_unit *u = v;
	w[STATE_W_INFO] = DWARF_CU_HEADER_SIZE + u->die_size + u->fn_w[STATE_W_INFO] + 1;
	w[STATE_W_LINE] = dwarf_line_header_prefix_size() + u->fn_w[STATE_W_LINE];
	w[STATE_W_ARANGES] = DWARF_ARANGES_HEADER_SIZE + u->fn_w[STATE_W_ARANGES] +
			     DWARF_ARANGES_TUPLE_SIZE;
}

static void weigh_sym(const void *v, uint64_t w[PTREE_NW])
{
	const struct rec_sym *s = v;
	w[STATE_W_NLIST] = MACHO_NLIST_SIZE;
	w[STATE_W_STR] = strlen(s->name) + 1;
	w[2] = 0;
}

static void sites_ref(void *v)
{
	__atomic_add_fetch(&((struct state_sites *)v)->refs, 1, __ATOMIC_RELAXED);
}

static void sites_unref(void *v)
{
	struct state_sites *st = v;
	if (st && __atomic_sub_fetch(&st->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(st);
}

static void weigh_sites(const void *v, uint64_t w[PTREE_NW])
{
	memset(w, 0, PTREE_NW * sizeof *w);
	w[0] = ((const struct state_sites *)v)->n;
}

const struct ptree_ops state_sites_ops = {sites_ref, sites_unref, weigh_sites};
const struct ptree_ops state_file_ops = {file_ref, file_unref, NULL};
const struct ptree_ops state_type_ops = {type_ref, type_unref, weigh_type};
const struct ptree_ops state_global_ops = {global_ref, global_unref, NULL};
const struct ptree_ops state_fn_ops = {fn_ref, fn_unref, NULL};
const struct ptree_ops state_fn_layout_ops = {fn_ref, fn_unref, weigh_fn_layout};
const struct ptree_ops state_sym_ops = {sym_ref, sym_unref, weigh_sym};
const struct ptree_ops state_unit_ops = {unit_ref, unit_unref, weigh_unit};
const struct ptree_ops state_chunk_ops = {chunk_ref, chunk_unref, weigh_chunk};

static void segs_unref(struct state_segs *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		macho_segtab_free(&s->t);
		free(s);
	}
}

static void files_unref(struct state_files *ft)
{
	if (!ft || __atomic_sub_fetch(&ft->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < ft->n; i++)
		rec_file_unref(ft->recs[i]);
	free(ft->recs);
	free(ft->tables);
	free(ft);
}

static void types_unref(struct state_types *tt)
{
	if (!tt || __atomic_sub_fetch(&tt->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < tt->n; i++)
		rec_type_unref(tt->recs[i]);
	for (size_t i = 0; i < tt->nown; i++)
		rec_frag_free(&tt->own[i]);
	for (size_t i = 0; i < tt->nglobals; i++)
		rec_global_unref(tt->globals[i]);
	for (size_t i = 0; i < tt->nabstracts; i++)
		rec_fn_unref(tt->abstracts[i]);
	ptree_release(&tt->type_names);
	free(tt->glob_offs);
	free(tt->abstracts);
	free(tt->abs_offs);
	free(tt->child_start);
	free(tt->child_offs);
	free(tt->recs);
	free(tt->offs);
	free(tt->ents);
	free(tt->own);
	free(tt->globals);
	free(tt);
}

int state_set_segs(struct state *s, const struct macho_segtab *t)
{
	struct state_segs *n = calloc(1, sizeof *n);
	if (!n)
		return -ENOMEM;
	if (macho_segtab_copy(t, &n->t)) {
		free(n);
		return -ENOMEM;
	}
	n->refs = 1;
	segs_unref(s->segs);
	s->segs = n;
	return 0;
}

int state_init(struct state *out, const struct macho_ident *ident,
	       const struct macho_segtab *segs)
{
	memset(out, 0, sizeof *out);
	out->ident = *ident;
	out->files.ops = &state_file_ops;
	out->types.ops = &state_type_ops;
	out->globals.ops = &state_global_ops;
	out->abstracts.ops = &state_fn_ops;
	out->fn_by_id.ops = &state_fn_ops;
	out->fn_layout.ops = &state_fn_layout_ops;
	out->fn_by_addr.ops = &state_fn_ops;
	out->syms.ops = &state_sym_ops;
	out->units.ops = &state_unit_ops;
	out->chunks.ops = &state_chunk_ops;
	out->names.ops = &accel_names_ops;
	out->sites.ops = &state_sites_ops;
	if (state_set_segs(out, segs) || state_rebuild_files(out) || state_rebuild_types(out)) {
		state_release(out);
		return -ENOMEM;
	}
	return 0;
}

void state_copy(const struct state *in, struct state *out)
{
	out->ident = in->ident;
	out->segs = in->segs;
	__atomic_add_fetch(&out->segs->refs, 1, __ATOMIC_RELAXED);
	ptree_copy(&in->files, &out->files);
	ptree_copy(&in->types, &out->types);
	ptree_copy(&in->globals, &out->globals);
	ptree_copy(&in->abstracts, &out->abstracts);
	ptree_copy(&in->fn_by_id, &out->fn_by_id);
	ptree_copy(&in->fn_layout, &out->fn_layout);
	ptree_copy(&in->fn_by_addr, &out->fn_by_addr);
	ptree_copy(&in->syms, &out->syms);
	ptree_copy(&in->units, &out->units);
	ptree_copy(&in->chunks, &out->chunks);
	ptree_copy(&in->names, &out->names);
	ptree_copy(&in->sites, &out->sites);
	out->marks = (struct state_marks){0};
	out->ftab = in->ftab;
	__atomic_add_fetch(&out->ftab->refs, 1, __ATOMIC_RELAXED);
	out->ttab = in->ttab;
	__atomic_add_fetch(&out->ttab->refs, 1, __ATOMIC_RELAXED);
}

void state_release(struct state *s)
{
	segs_unref(s->segs);
	ptree_release(&s->files);
	ptree_release(&s->types);
	ptree_release(&s->globals);
	ptree_release(&s->abstracts);
	ptree_release(&s->fn_by_id);
	ptree_release(&s->fn_layout);
	ptree_release(&s->fn_by_addr);
	ptree_release(&s->syms);
	ptree_release(&s->units);
	ptree_release(&s->chunks);
	ptree_release(&s->names);
	ptree_release(&s->sites);
	free(s->marks.ids);
	free(s->marks.chunks);
	files_unref(s->ftab);
	types_unref(s->ttab);
	memset(s, 0, sizeof *s);
}

int state_rebuild_files(struct state *s)
{
	struct state_files *ft = calloc(1, sizeof *ft);
	if (!ft)
		return -ENOMEM;
	ft->refs = 1;
	ft->n = ptree_count(&s->files);
	ft->recs = calloc(ft->n ? ft->n : 1, sizeof *ft->recs);
	if (!ft->recs)
		goto fail;
	struct ptree_iter it;
	size_t i = 0;
	for (ptree_iter_first(&it, &s->files); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		ft->recs[i] = ptree_iter_val(&it);
		rec_file_ref(ft->recs[i]);
		i++;
	}
	if (it.error || i != ft->n)
		goto fail_recs;
	ft->tables = dwarf_line_tables((const struct rec_file *const *)ft->recs, ft->n,
				       &ft->tables_len);
	if (!ft->tables)
		goto fail_recs;
	files_unref(s->ftab);
	s->ftab = ft;
	return 0;
fail_recs:
	for (size_t j = 0; j < i; j++)
		rec_file_unref(ft->recs[j]);
fail:
	free(ft->recs);
	free(ft);
	return -ENOMEM;
}

#define NONE SIZE_MAX

/* What laying out the declarations needs beside the table: the nesting of types (each
 * type's first nested type and next sibling, by index into recs) and the walk's marks. */
struct decl_build {
	struct state_types *tt;
	size_t *child, *sib, *next_child, *stack;
	bool *seen, *opened;
	const struct rec_frag **frag;  /* each type's fragment: its own or an own[] one */
};

static void decl_add(struct state_types *tt, const struct rec_frag *fr, uint32_t len)
{
	tt->ents[tt->nents++] = (struct state_decl){fr, len, tt->total};
	tt->total += len;
	for (uint32_t i = 0; fr && i < fr->nslots; i++)
		tt->uses_files |= fr->slots[i].kind == DWARF_SLOT_FILE_DATA4;
}

static size_t type_index_of(const struct state_types *tt, uint64_t id);

/* True when the enum's underlying type, through typedefs and qualifiers, is an unsigned
 * base type: clang then writes its enumerators as DW_FORM_udata. */
static bool enum_unsigned(const struct state_types *tt, const struct rec_type *t)
{
	uint64_t id = t->to;
	for (size_t hops = 0; id && hops < tt->n; hops++) {
		size_t i = type_index_of(tt, id);
		if (i == NONE)
			return false;
		const struct rec_type *u = tt->recs[i];
		if (u->kind == REC_TYPE_BASE)
			return u->enc == REC_ENC_UNSIGNED || u->enc == REC_ENC_UNSIGNED_CHAR ||
			       u->enc == REC_ENC_BOOL;
		if (u->kind != REC_TYPE_TYPEDEF && u->kind != REC_TYPE_CONST &&
		    u->kind != REC_TYPE_VOLATILE)
			return false;
		id = u->to;
	}
	return false;
}

/* Lays type i out, then its nested types depth first; no recursion, as nesting may be
 * as deep as the batch makes it. A type already laid out (a scope cycle, which the
 * commit refuses but a table must survive) is not laid out again. */
static void decl_enter(struct decl_build *d, size_t i)
{
	d->seen[i] = true;
	d->opened[i] = false;
	for (size_t c = d->child[i]; c != NONE; c = d->sib[c])
		if (!d->seen[c])
			d->opened[i] = true;
	d->next_child[i] = d->child[i];
	d->tt->offs[i] = d->tt->total;
	decl_add(d->tt, d->frag[i], d->frag[i]->len - (d->opened[i] ? 1 : 0));
}

static void decl_walk(struct decl_build *d, size_t root)
{
	size_t sp = 0;
	decl_enter(d, root);
	d->stack[sp++] = root;
	while (sp) {
		size_t i = d->stack[sp - 1], c = d->next_child[i];
		while (c != NONE && d->seen[c])
			c = d->sib[c];
		if (c != NONE) {
			d->next_child[i] = d->sib[c];
			decl_enter(d, c);
			d->stack[sp++] = c;
			continue;
		}
		sp--;
		if (d->opened[i])
			decl_add(d->tt, NULL, 1);
	}
}

/* A type that can hold nested type DIEs: a defined struct or union with members (its
 * DIE has children). */
static bool is_scope(const struct rec_type *t)
{
	return (t->kind == REC_TYPE_STRUCT || t->kind == REC_TYPE_UNION) && !t->decl &&
	       t->nmembers;
}

static int decl_lay_out(struct state_types *tt)
{
	size_t n = tt->n;
	struct decl_build d = {.tt = tt};
	size_t m = n ? n : 1;
	d.child = malloc(m * sizeof *d.child);
	d.sib = malloc(m * sizeof *d.sib);
	d.next_child = malloc(m * sizeof *d.next_child);
	d.stack = malloc(m * sizeof *d.stack);
	d.seen = calloc(m, sizeof *d.seen);
	d.opened = calloc(m, sizeof *d.opened);
	d.frag = malloc(m * sizeof *d.frag);
	tt->own = calloc(m, sizeof *tt->own);
	/* Every type, a null entry per scope, the index type, globals, abstract functions. */
	tt->ents = malloc((2 * n + 1 + tt->nglobals + tt->nabstracts) * sizeof *tt->ents);
	int rc = -ENOMEM;
	if (!d.child || !d.sib || !d.next_child || !d.stack || !d.seen || !d.opened ||
	    !d.frag || !tt->own || !tt->ents)
		goto out;
	bool arrays = false;
	for (size_t i = 0; i < n; i++) {
		const struct rec_type *t = tt->recs[i];
		d.child[i] = d.sib[i] = NONE;
		d.frag[i] = &t->info;
		arrays |= t->kind == REC_TYPE_ARRAY;
		if (t->kind == REC_TYPE_ENUM && t->nenumerators && enum_unsigned(tt, t)) {
			if (dwarf_encode_enum_unsigned(t, &tt->own[tt->nown]))
				goto out;
			d.frag[i] = &tt->own[tt->nown++];
		}
	}
	/* Nested types in id order under their scope: append each to its scope's list. */
	for (size_t i = n; i-- > 0;) {
		const struct rec_type *t = tt->recs[i];
		size_t s = t->scope ? type_index_of(tt, t->scope) : NONE;
		if (s != NONE && s != i && is_scope(tt->recs[s])) {
			d.sib[i] = d.child[s];
			d.child[s] = i;
			d.seen[i] = true;  /* not a root */
		}
	}
	bool *nested = d.seen;
	d.seen = calloc(m, sizeof *d.seen);
	if (!d.seen) {
		d.seen = nested;
		goto out;
	}
	tt->index_off = UINT64_MAX;
	if (arrays) {
		tt->index_off = tt->total;
		decl_add(tt, dwarf_index_type(), dwarf_index_type()->len);
	}
	for (size_t i = 0; i < n; i++)
		if (!nested[i] && !d.seen[i])
			decl_walk(&d, i);
	for (size_t i = 0; i < n; i++)  /* scope cycles: no member of one is a root */
		if (!d.seen[i])
			decl_walk(&d, i);
	free(nested);
	for (size_t i = 0; i < tt->nglobals; i++) {
		tt->glob_offs[i] = tt->total;
		decl_add(tt, &tt->globals[i]->info, tt->globals[i]->info.len);
	}
	for (size_t i = 0; i < tt->nabstracts; i++) {
		const struct rec_fn *f = tt->abstracts[i];
		tt->abs_offs[i] = tt->total;
		for (uint32_t k = 0; k < f->info.nslots; k++) {
			const struct rec_slot *sl = &f->info.slots[k];
			if (sl->kind == DWARF_SLOT_MARK && sl->ref < (uint64_t)f->nparams + f->nvars)
				tt->child_offs[tt->child_start[i] + sl->ref] = tt->total + sl->pos;
		}
		decl_add(tt, &f->info, f->info.len);
	}
	rc = 0;
out:
	free(d.child);
	free(d.sib);
	free(d.next_child);
	free(d.stack);
	free(d.seen);
	free(d.opened);
	free(d.frag);
	return rc;
}

/* The types index: every type whose DIE has a name, but a struct or union only
 * declared (as dsymutil leaves those out, a debugger finds their definitions by name). */
static int index_types(struct state_types *tt)
{
	for (size_t i = 0; i < tt->n; i++) {
		const struct rec_type *t = tt->recs[i];
		struct accel_ref r = {t->id, 0, 1, ACCEL_TYPE, dwarf_type_tag(t)};
		int rc = accel_put(&tt->type_names, dwarf_type_name(t), r);
		if (rc)
			return rc;
	}
	if (tt->index_off == UINT64_MAX)
		return 0;
	struct accel_ref r = {0, 0, 1, ACCEL_INDEX_TYPE, DWARF_INDEX_TYPE_TAG};
	return accel_put(&tt->type_names, DWARF_INDEX_TYPE_NAME, r);
}

int state_rebuild_types(struct state *s)
{
	struct state_types *tt = calloc(1, sizeof *tt);
	if (!tt)
		return -ENOMEM;
	tt->refs = 1;
	size_t n = ptree_count(&s->types);
	tt->recs = calloc(n ? n : 1, sizeof *tt->recs);
	tt->offs = calloc(n ? n : 1, sizeof *tt->offs);
	size_t ng = ptree_count(&s->globals);
	tt->globals = calloc(ng ? ng : 1, sizeof *tt->globals);
	tt->glob_offs = calloc(ng ? ng : 1, sizeof *tt->glob_offs);
	tt->type_names.ops = &accel_types_ops;
	if (!tt->recs || !tt->offs || !tt->globals || !tt->glob_offs)
		goto fail;
	struct ptree_iter it;
	for (ptree_iter_first(&it, &s->types); ptree_iter_valid(&it) && tt->n < n;
	     ptree_iter_next(&it)) {
		tt->recs[tt->n] = ptree_iter_val(&it);
		rec_type_ref(tt->recs[tt->n++]);
	}
	if (it.error || tt->n != n)
		goto fail;
	for (ptree_iter_first(&it, &s->globals); ptree_iter_valid(&it) && tt->nglobals < ng;
	     ptree_iter_next(&it)) {
		struct rec_global *g = ptree_iter_val(&it);
		/* Encoded once, on the first table that holds it: a global is never shared
		 * with a published generation before then. */
		if (!g->info.len && dwarf_encode_global(g))
			goto fail;
		rec_global_ref(g);
		tt->globals[tt->nglobals++] = g;
	}
	if (it.error || tt->nglobals != ng)
		goto fail;
	size_t na = ptree_count(&s->abstracts), nchildren = 0;
	tt->abstracts = calloc(na ? na : 1, sizeof *tt->abstracts);
	tt->abs_offs = calloc(na ? na : 1, sizeof *tt->abs_offs);
	tt->child_start = calloc(na ? na : 1, sizeof *tt->child_start);
	if (!tt->abstracts || !tt->abs_offs || !tt->child_start)
		goto fail;
	for (ptree_iter_first(&it, &s->abstracts); ptree_iter_valid(&it) && tt->nabstracts < na;
	     ptree_iter_next(&it)) {
		struct rec_fn *f = ptree_iter_val(&it);
		rec_fn_ref(f);
		tt->child_start[tt->nabstracts] = nchildren;
		tt->abstracts[tt->nabstracts++] = f;
		nchildren += (size_t)f->nparams + f->nvars;
	}
	tt->child_offs = malloc((nchildren ? nchildren : 1) * sizeof *tt->child_offs);
	if (it.error || tt->nabstracts != na || !tt->child_offs)
		goto fail;
	for (size_t i = 0; i < nchildren; i++)
		tt->child_offs[i] = UINT64_MAX;
	if (decl_lay_out(tt) || index_types(tt))
		goto fail;
	types_unref(s->ttab);
	s->ttab = tt;
	return 0;
fail:
	types_unref(tt);
	return -ENOMEM;
}

/* util_search predicates: record i's id sorts before the wanted one. */
struct find_id {
	uint64_t want;
	const void *const *recs;
	bool types;
};

static bool id_before(const void *arg, size_t i)
{
	const struct find_id *f = arg;
	uint64_t id = f->types ? ((const struct rec_type *)f->recs[i])->id
			       : ((const struct rec_file *)f->recs[i])->id;
	return id < f->want;
}

/* Index of the file record with this id in ft, or ft->n. */
static size_t file_at(const struct state_files *ft, uint64_t id)
{
	struct find_id f = {id, (const void *const *)ft->recs, false};
	size_t i = util_search(ft->n, id_before, &f);
	return i < ft->n && ft->recs[i]->id == id ? i : ft->n;
}

uint32_t state_file_index(const struct state_files *ft, uint64_t id)
{
	size_t i = file_at(ft, id);
	return i == ft->n ? 0 : (uint32_t)i + 1;
}

const struct rec_file *state_file(const struct state_files *ft, uint64_t id)
{
	size_t i = file_at(ft, id);
	return i == ft->n ? NULL : ft->recs[i];
}

/* Index of the type with this id in tt->recs, or NONE. */
static size_t type_index_of(const struct state_types *tt, uint64_t id)
{
	struct find_id f = {id, (const void *const *)tt->recs, true};
	size_t i = util_search(tt->n, id_before, &f);
	return i < tt->n && tt->recs[i]->id == id ? i : NONE;
}

static bool abstract_before(const void *arg, size_t i)
{
	const struct find_id *f = arg;
	return ((const struct rec_fn *)f->recs[i])->id < f->want;
}

static size_t abstract_index_of(const struct state_types *tt, uint64_t id)
{
	struct find_id f = {id, (const void *const *)tt->abstracts, false};
	size_t i = util_search(tt->nabstracts, abstract_before, &f);
	return i < tt->nabstracts && tt->abstracts[i]->id == id ? i : NONE;
}

uint64_t state_abstract_offset(const struct state_types *tt, uint64_t id)
{
	size_t i = abstract_index_of(tt, id);
	return i == NONE ? UINT64_MAX : tt->abs_offs[i];
}

uint64_t state_abstract_child_offset(const struct state_types *tt, uint64_t id,
				     const char *name, uint32_t line, bool *is_param)
{
	size_t i = abstract_index_of(tt, id);
	if (i == NONE)
		return UINT64_MAX;
	const struct rec_fn *f = tt->abstracts[i];
	size_t first = NONE;
	for (uint32_t k = 0; k < f->nparams + f->nvars; k++) {
		const char *n = k < f->nparams ? f->params[k].name : f->vars[k - f->nparams].name;
		uint32_t l = k < f->nparams ? f->params[k].line : f->vars[k - f->nparams].line;
		if (!n || strcmp(n, name) != 0)
			continue;
		if (l == line) {
			first = k;
			break;
		}
		if (first == NONE)
			first = k;
	}
	if (first == NONE)
		return UINT64_MAX;
	*is_param = first < f->nparams;
	return tt->child_offs[tt->child_start[i] + first];
}

uint64_t state_type_offset(const struct state_types *tt, uint64_t id)
{
	size_t i = type_index_of(tt, id);
	return i == NONE ? UINT64_MAX : tt->offs[i];
}

static bool global_before(const void *arg, size_t i)
{
	const struct find_id *f = arg;
	return ((const struct rec_global *)f->recs[i])->id < f->want;
}

uint64_t state_global_offset(const struct state_types *tt, uint64_t id)
{
	struct find_id f = {id, (const void *const *)tt->globals, false};
	size_t i = util_search(tt->nglobals, global_before, &f);
	return i < tt->nglobals && tt->globals[i]->id == id ? tt->glob_offs[i] : UINT64_MAX;
}

int state_put(struct ptree *t, struct ptree_key k, void *val)
{
	return ptree_put_here(t, k, val);
}

int state_del(struct ptree *t, struct ptree_key k)
{
	return ptree_del_here(t, k);
}

/* Moves f's entry of one keyed function tree from old_key (if has_old) to new_key. */
static int move_fn_entry(struct ptree *t, struct ptree_key old_key, bool has_old,
			 struct ptree_key new_key, struct rec_fn *f)
{
	if (has_old && ptree_key_cmp(old_key, new_key) != 0) {
		int rc = ptree_del_here(t, old_key);
		if (rc)
			return rc;
	}
	return ptree_put_here(t, new_key, f);
}

int state_mark_unit(struct state *s, uint64_t file)
{
	struct state_marks *m = &s->marks;
	if (m->n && m->ids[m->n - 1] == file)  /* a batch of one unit's functions: one mark */
		return 0;
	if (util_grow(&m->ids, &m->cap, m->n + 1, sizeof *m->ids))
		return -ENOMEM;
	m->ids[m->n++] = file;
	return 0;
}

/* Marks function id's chunk of unit `file`. */
static int mark_chunk(struct state *s, uint64_t file, uint64_t id)
{
	struct state_marks *m = &s->marks;
	struct ptree_key k = state_chunk_key(file, id);
	if (m->nchunks && !ptree_key_cmp(m->chunks[m->nchunks - 1], k))
		return 0;
	if (util_grow(&m->chunks, &m->capchunks, m->nchunks + 1, sizeof *m->chunks))
		return -ENOMEM;
	m->chunks[m->nchunks++] = k;
	return 0;
}

int state_mark_fn(struct state *s, const struct rec_fn *f)
{
	int rc = state_mark_unit(s, rec_fn_cu(f));
	return rc ? rc : mark_chunk(s, rec_fn_cu(f), f->id);
}

static int key_cmp(const void *x, const void *y)
{
	return ptree_key_cmp(*(const struct ptree_key *)x, *(const struct ptree_key *)y);
}

/* Makes the chunks tree agree with fn_layout for chunk k: a new record (nothing
 * rendered) when it still has functions, none when it has none. */
static int settle_chunk(struct state *s, struct ptree_key k)
{
	uint64_t lo[PTREE_NW], hi[PTREE_NW], nlo, nhi;
	ptree_sum_before(&s->fn_layout, (struct ptree_key){k.a, k.b << STATE_CHUNK_SHIFT, NULL},
			 lo, &nlo);
	if (k.b == UINT64_MAX >> STATE_CHUNK_SHIFT) {  /* the last chunk of its unit's ids */
		if (k.a == UINT64_MAX) {
			ptree_sum(&s->fn_layout, hi);
			nhi = ptree_count(&s->fn_layout);
		} else {
			ptree_sum_before(&s->fn_layout, state_id_key(k.a + 1), hi, &nhi);
		}
	} else {
		ptree_sum_before(&s->fn_layout,
				 (struct ptree_key){k.a, (k.b + 1) << STATE_CHUNK_SHIFT, NULL}, hi,
				 &nhi);
	}
	if (nhi == nlo) {
		int rc = state_del(&s->chunks, k);
		return rc == -ENOENT ? 0 : rc;
	}
	struct state_chunk *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->refs = 1;
	c->file = k.a;
	c->index = k.b;
	for (int i = 0; i < PTREE_NW; i++)
		c->w[i] = hi[i] - lo[i];
	pthread_mutex_init(&c->lock, NULL);
	int rc = state_put(&s->chunks, k, c);
	chunk_unref(c);
	return rc;
}

static int id_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Makes the units tree agree with fn_layout and files for the unit of `file`. A marked
 * unit always gets a new record, even when its sums come out the same: a function can
 * change its bytes and not its size (a move), and the record's identity is what says
 * that the unit's bytes are unchanged. */
static int settle_unit(struct state *s, uint64_t file)
{
	uint64_t lo[PTREE_NW], hi[PTREE_NW], nlo, nhi;
	ptree_sum_before(&s->fn_layout, state_id_key(file), lo, &nlo);
	if (file == UINT64_MAX) {
		ptree_sum(&s->fn_layout, hi);
		nhi = ptree_count(&s->fn_layout);
	} else {
		ptree_sum_before(&s->fn_layout, state_id_key(file + 1), hi, &nhi);
	}
	struct state_unit *old = ptree_get(&s->units, state_id_key(file));
	if (nhi == nlo)
		return old ? state_del(&s->units, state_id_key(file)) : 0;
	uint64_t w[PTREE_NW];
	for (int i = 0; i < PTREE_NW; i++)
		w[i] = hi[i] - lo[i];
	struct rec_file *src = ptree_get(&s->files, state_id_key(file));
	struct state_unit *u = calloc(1, sizeof *u);
	if (!u)
		return -ENOMEM;
	u->refs = 1;
	u->file = file;
	u->nfns = nhi - nlo;
	memcpy(u->fn_w, w, sizeof w);
	u->src = src;
	if (src)
		rec_file_ref(src);
	u->die_size = (uint32_t)dwarf_cu_die_size(state_unit_name(u), state_unit_dir(u));
	int rc = state_put(&s->units, state_id_key(file), u);
	unit_unref(u);
	return rc;
}

int state_settle(struct state *s)
{
	struct state_marks *m = &s->marks;
	if (m->nchunks) {
		qsort(m->chunks, m->nchunks, sizeof *m->chunks, key_cmp);
		size_t n = 0;
		for (size_t i = 0; i < m->nchunks; i++)
			if (!n || ptree_key_cmp(m->chunks[n - 1], m->chunks[i]))
				m->chunks[n++] = m->chunks[i];
		m->nchunks = n;
		while (m->nchunks) {
			int rc = settle_chunk(s, m->chunks[m->nchunks - 1]);
			if (rc)
				return rc;
			m->nchunks--;
		}
	}
	if (!m->n)
		return 0;
	qsort(m->ids, m->n, sizeof *m->ids, id_cmp);
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		if (!n || m->ids[n - 1] != m->ids[i])
			m->ids[n++] = m->ids[i];
	m->n = n;
	/* From the end, so a failure leaves exactly the unsettled marks behind. */
	while (m->n) {
		int rc = settle_unit(s, m->ids[m->n - 1]);
		if (rc)
			return rc;
		m->n--;
	}
	return 0;
}

/* ---- names and inlined calls ------------------------------------------------------ */

static bool same_str(const char *x, const char *y)
{
	return x == y || (x && y && !strcmp(x, y));
}

/* A linkage name the index holds beside the name: one that differs from it. */
static const char *other_linkage(const char *name, const char *linkage)
{
	return linkage && !same_str(name, linkage) ? linkage : NULL;
}

static int put_names(struct state *s, const char *name, const char *linkage, struct accel_ref r)
{
	int rc = accel_put(&s->names, name, r);
	return rc ? rc : accel_put(&s->names, other_linkage(name, linkage), r);
}

/* How many inlined calls of abstract function `origin` the image holds. */
static uint32_t sites_count(const struct state *s, uint64_t origin)
{
	uint64_t lo[PTREE_NW], hi[PTREE_NW], n;
	ptree_sum_before(&s->sites, state_id_key(origin), lo, &n);
	if (origin == UINT64_MAX)
		ptree_sum(&s->sites, hi);
	else
		ptree_sum_before(&s->sites, state_id_key(origin + 1), hi, &n);
	return (uint32_t)(hi[0] - lo[0]);
}

/* Brings the entry of abstract function `origin` (if it is one) up to date with its
 * count of inlined calls: a reference standing for them all, or none without calls. */
static int refresh_origin(struct state *s, uint64_t origin)
{
	const struct rec_fn *a = ptree_get(&s->abstracts, state_id_key(origin));
	if (!a)
		return 0;
	struct accel_ref r = {origin, 0, sites_count(s, origin), ACCEL_INLINED, 0};
	return put_names(s, a->name, a->linkage, r);
}

/* Adds (or removes) f's inlined calls of each origin in sites, then refreshes those
 * origins' entries. Blocks are few: origins are found by a pass per block. */
static int index_sites(struct state *s, const struct rec_fn *f, bool add)
{
	for (uint32_t k = 1; k <= f->nblocks; k++) {
		uint64_t o = f->blocks[k - 1].origin;
		bool first = o != 0;
		for (uint32_t j = 1; j < k && first; j++)
			first = f->blocks[j - 1].origin != o;
		if (!first)
			continue;
		struct ptree_key key = {o, f->id, NULL};
		int rc;
		if (add) {
			uint32_t n = 0;
			for (uint32_t j = k; j <= f->nblocks; j++)
				n += f->blocks[j - 1].origin == o;
			struct state_sites *st = malloc(sizeof *st + n * sizeof *st->blocks);
			if (!st)
				return -ENOMEM;
			st->refs = 1;
			st->n = 0;
			for (uint32_t j = k; j <= f->nblocks; j++)
				if (f->blocks[j - 1].origin == o)
					st->blocks[st->n++] = j;
			rc = ptree_put_here(&s->sites, key, st);
			sites_unref(st);
		} else {
			rc = ptree_del_here(&s->sites, key);
			if (rc == -ENOENT)
				rc = 0;
		}
		if (rc || (rc = refresh_origin(s, o)))
			return rc;
	}
	return 0;
}

/* Adds f's entries to names and sites (or, with add false, removes them). */
static int index_fn(struct state *s, const struct rec_fn *f, bool add)
{
	if (f->abstract) {
		struct accel_ref r = {f->id, 0, add ? sites_count(s, f->id) : 0, ACCEL_INLINED, 0};
		return put_names(s, f->name, f->linkage, r);
	}
	struct accel_ref r = {f->id, 0, add, ACCEL_FN, 0};
	int rc = put_names(s, f->name, f->linkage, r);
	for (uint32_t i = 0; i < f->nvars && !rc; i++) {
		if (!dwarf_var_indexed(&f->vars[i]))
			continue;
		struct accel_ref v = {f->id, DWARF_DIE_VAR | i, add, ACCEL_MARK, 0};
		rc = accel_put(&s->names, f->vars[i].name, v);
	}
	return rc ? rc : index_sites(s, f, add);
}

/* True when old and f give the indexes the same entries (most edits: a new body). */
static bool index_same(const struct rec_fn *old, const struct rec_fn *f)
{
	if (old->abstract != f->abstract || !same_str(old->name, f->name) ||
	    !same_str(other_linkage(old->name, old->linkage), other_linkage(f->name, f->linkage)) ||
	    old->nblocks != f->nblocks || old->nvars != f->nvars)
		return false;
	for (uint32_t k = 0; k < f->nblocks; k++)
		if (old->blocks[k].origin != f->blocks[k].origin)
			return false;
	for (uint32_t i = 0; i < f->nvars; i++) {
		bool a = dwarf_var_indexed(&old->vars[i]), b = dwarf_var_indexed(&f->vars[i]);
		if (a != b || (a && strcmp(old->vars[i].name, f->vars[i].name)))
			return false;
	}
	return true;
}

int state_put_global(struct state *s, const struct rec_global *old, struct rec_global *g)
{
	struct accel_ref r = {g->id, 0, 1, ACCEL_GLOBAL, 0};
	bool same = old && same_str(old->name, g->name) &&
		    same_str(other_linkage(old->name, old->linkage), other_linkage(g->name, g->linkage));
	int rc = 0;
	if (old && !same) {
		r.n = 0;
		rc = put_names(s, old->name, old->linkage, r);
		r.n = 1;
	}
	if (!rc)
		rc = ptree_put_here(&s->globals, state_id_key(g->id), g);
	return rc || same ? rc : put_names(s, g->name, g->linkage, r);
}

int state_del_global(struct state *s, const struct rec_global *g)
{
	struct accel_ref r = {g->id, 0, 0, ACCEL_GLOBAL, 0};
	int rc = put_names(s, g->name, g->linkage, r);
	return rc ? rc : ptree_del_here(&s->globals, state_id_key(g->id));
}

int state_rebuild_names(struct state *s)
{
	ptree_release(&s->names);
	ptree_release(&s->sites);
	s->names.ops = &accel_names_ops;
	s->sites.ops = &state_sites_ops;
	struct ptree_iter it;
	int rc = 0;
	for (ptree_iter_first(&it, &s->fn_by_id); !rc && ptree_iter_valid(&it); ptree_iter_next(&it))
		rc = index_fn(s, ptree_iter_val(&it), true);
	if (rc || (rc = it.error))
		return rc;
	for (ptree_iter_first(&it, &s->globals); !rc && ptree_iter_valid(&it); ptree_iter_next(&it)) {
		const struct rec_global *g = ptree_iter_val(&it);
		rc = put_names(s, g->name, g->linkage, (struct accel_ref){g->id, 0, 1, ACCEL_GLOBAL, 0});
	}
	return rc ? rc : it.error;
}

static int place_fn(struct state *s, const struct rec_fn *old, struct rec_fn *f);

int state_put_fn(struct state *s, const struct rec_fn *old, struct rec_fn *f)
{
	/* old's entries go while old is certainly alive; f's come once it is in place, so
	 * that an abstract f finds its own count of calls. */
	bool reindex = !old || !index_same(old, f);
	int rc = reindex && old ? index_fn(s, old, false) : 0;
	if (rc || (rc = place_fn(s, old, f)))
		return rc;
	return reindex ? index_fn(s, f, true) : 0;
}

static int place_fn(struct state *s, const struct rec_fn *old, struct rec_fn *f)
{
	bool old_code = old && !old->abstract;
	if ((old_code && state_mark_fn(s, old)) || (!f->abstract && state_mark_fn(s, f)))
		return -ENOMEM;
	/* Keys are computed before any tree drops its reference to old. */
	struct ptree_key old_layout = old_code ? state_layout_key(old) : state_id_key(0);
	struct ptree_key old_addr = old_code ? state_addr_key(old) : state_id_key(0);
	int rc = ptree_put_here(&s->fn_by_id, state_id_key(f->id), f);
	if (rc)
		return rc;
	if (f->abstract) {
		if (old_code && ((rc = ptree_del_here(&s->fn_layout, old_layout)) ||
				 (rc = ptree_del_here(&s->fn_by_addr, old_addr))))
			return rc;
		return ptree_put_here(&s->abstracts, state_id_key(f->id), f);
	}
	if (old && old->abstract && (rc = ptree_del_here(&s->abstracts, state_id_key(f->id))))
		return rc;
	rc = move_fn_entry(&s->fn_layout, old_layout, old_code, state_layout_key(f), f);
	if (!rc)
		rc = move_fn_entry(&s->fn_by_addr, old_addr, old_code, state_addr_key(f), f);
	return rc;
}

int state_del_fn(struct state *s, const struct rec_fn *f)
{
	int rc = index_fn(s, f, false);
	if (rc)
		return rc;
	if (f->abstract) {
		rc = ptree_del_here(&s->fn_by_id, state_id_key(f->id));
		return rc ? rc : ptree_del_here(&s->abstracts, state_id_key(f->id));
	}
	if (state_mark_fn(s, f))
		return -ENOMEM;
	struct ptree_key layout = state_layout_key(f), addr = state_addr_key(f);
	rc = ptree_del_here(&s->fn_by_id, state_id_key(f->id));
	if (!rc)
		rc = ptree_del_here(&s->fn_layout, layout);
	if (!rc)
		rc = ptree_del_here(&s->fn_by_addr, addr);
	return rc;
}
