/* The content of an image at one point in time. See state.h. */
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	free(tt->recs);
	free(tt->offs);
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

int state_rebuild_types(struct state *s)
{
	struct state_types *tt = calloc(1, sizeof *tt);
	if (!tt)
		return -ENOMEM;
	tt->refs = 1;
	tt->n = ptree_count(&s->types);
	tt->recs = calloc(tt->n ? tt->n : 1, sizeof *tt->recs);
	tt->offs = calloc(tt->n ? tt->n : 1, sizeof *tt->offs);
	if (!tt->recs || !tt->offs)
		goto fail;
	struct ptree_iter it;
	size_t i = 0;
	for (ptree_iter_first(&it, &s->types); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		tt->recs[i] = ptree_iter_val(&it);
		rec_type_ref(tt->recs[i]);
		tt->offs[i] = tt->total;
		tt->total += tt->recs[i]->info.len;
		i++;
	}
	if (it.error || i != tt->n)
		goto fail_recs;
	types_unref(s->ttab);
	s->ttab = tt;
	return 0;
fail_recs:
	for (size_t j = 0; j < i; j++)
		rec_type_unref(tt->recs[j]);
fail:
	free(tt->recs);
	free(tt->offs);
	free(tt);
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

uint64_t state_type_offset(const struct state_types *tt, uint64_t id)
{
	struct find_id f = {id, (const void *const *)tt->recs, true};
	size_t i = util_search(tt->n, id_before, &f);
	return i < tt->n && tt->recs[i]->id == id ? tt->offs[i] : UINT64_MAX;
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

int state_put_fn(struct state *s, const struct rec_fn *old, struct rec_fn *f)
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
	if (f->abstract) {
		int rc = ptree_del_here(&s->fn_by_id, state_id_key(f->id));
		return rc ? rc : ptree_del_here(&s->abstracts, state_id_key(f->id));
	}
	if (state_mark_fn(s, f))
		return -ENOMEM;
	struct ptree_key layout = state_layout_key(f), addr = state_addr_key(f);
	int rc = ptree_del_here(&s->fn_by_id, state_id_key(f->id));
	if (!rc)
		rc = ptree_del_here(&s->fn_layout, layout);
	if (!rc)
		rc = ptree_del_here(&s->fn_by_addr, addr);
	return rc;
}
