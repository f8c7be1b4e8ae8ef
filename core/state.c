/* The content of an image at one point in time. See state.h. */
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf.h"

static void file_ref(void *v) { rec_file_ref(v); }
static void file_unref(void *v) { rec_file_unref(v); }
static void type_ref(void *v) { rec_type_ref(v); }
static void type_unref(void *v) { rec_type_unref(v); }
static void fn_ref(void *v) { rec_fn_ref(v); }
static void fn_unref(void *v) { rec_fn_unref(v); }
static void sym_ref(void *v) { rec_sym_ref(v); }
static void sym_unref(void *v) { rec_sym_unref(v); }

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

static void weigh_sym(const void *v, uint64_t w[PTREE_NW])
{
	const struct rec_sym *s = v;
	w[STATE_W_NLIST] = MACHO_NLIST_SIZE;
	w[STATE_W_STR] = strlen(s->name) + 1;
	w[2] = 0;
}

const struct ptree_ops state_file_ops = {file_ref, file_unref, NULL};
const struct ptree_ops state_type_ops = {type_ref, type_unref, weigh_type};
const struct ptree_ops state_fn_ops = {fn_ref, fn_unref, NULL};
const struct ptree_ops state_fn_layout_ops = {fn_ref, fn_unref, weigh_fn_layout};
const struct ptree_ops state_sym_ops = {sym_ref, sym_unref, weigh_sym};

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
	out->fn_by_id.ops = &state_fn_ops;
	out->fn_layout.ops = &state_fn_layout_ops;
	out->fn_by_addr.ops = &state_fn_ops;
	out->syms.ops = &state_sym_ops;
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
	ptree_copy(&in->fn_by_id, &out->fn_by_id);
	ptree_copy(&in->fn_layout, &out->fn_layout);
	ptree_copy(&in->fn_by_addr, &out->fn_by_addr);
	ptree_copy(&in->syms, &out->syms);
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
	ptree_release(&s->fn_by_id);
	ptree_release(&s->fn_layout);
	ptree_release(&s->fn_by_addr);
	ptree_release(&s->syms);
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

/* Index of id in a sorted array of records that start with refs then id, or -1. */
#define FIND_ID(arr, n, want)                                      \
	({                                                         \
		size_t lo_ = 0, hi_ = (n);                         \
		long found_ = -1;                                  \
		while (lo_ < hi_) {                                \
			size_t mid_ = lo_ + (hi_ - lo_) / 2;       \
			uint64_t id_ = (arr)[mid_]->id;            \
			if (id_ == (want)) {                       \
				found_ = (long)mid_;               \
				break;                             \
			}                                          \
			if (id_ < (want))                          \
				lo_ = mid_ + 1;                    \
			else                                       \
				hi_ = mid_;                        \
		}                                                  \
		found_;                                            \
	})

uint32_t state_file_index(const struct state_files *ft, uint64_t id)
{
	long i = FIND_ID(ft->recs, ft->n, id);
	return i < 0 ? 0 : (uint32_t)i + 1;
}

const struct rec_file *state_file(const struct state_files *ft, uint64_t id)
{
	long i = FIND_ID(ft->recs, ft->n, id);
	return i < 0 ? NULL : ft->recs[i];
}

uint64_t state_type_offset(const struct state_types *tt, uint64_t id)
{
	long i = FIND_ID(tt->recs, tt->n, id);
	return i < 0 ? UINT64_MAX : tt->offs[i];
}

int state_put(struct ptree *t, struct ptree_key k, void *val)
{
	struct ptree n = {0};
	int rc = ptree_put(t, k, val, &n);
	if (rc)
		return rc;
	ptree_release(t);
	*t = n;
	return 0;
}

int state_del(struct ptree *t, struct ptree_key k)
{
	struct ptree n = {0};
	int rc = ptree_del(t, k, &n);
	if (rc)
		return rc;
	ptree_release(t);
	*t = n;
	return 0;
}

/* Builds the next version of one keyed function tree: without old's key, with f's. */
static int next_fn_tree(const struct ptree *t, struct ptree_key old_key, bool has_old,
			struct ptree_key new_key, struct rec_fn *f, struct ptree *out)
{
	struct ptree mid = {0};
	int rc;
	if (has_old && ptree_key_cmp(old_key, new_key) != 0) {
		rc = ptree_del(t, old_key, &mid);
		if (rc)
			return rc;
	} else {
		ptree_copy(t, &mid);
	}
	rc = f ? ptree_put(&mid, new_key, f, out) : 0;
	if (!f)
		*out = mid;
	else
		ptree_release(&mid);
	return rc;
}

int state_put_fn(struct state *s, const struct rec_fn *old, struct rec_fn *f)
{
	struct ptree by_id = {0}, layout = {0}, by_addr = {0};
	int rc = ptree_put(&s->fn_by_id, state_id_key(f->id), f, &by_id);
	if (rc)
		return rc;
	rc = next_fn_tree(&s->fn_layout, old ? state_layout_key(old) : state_id_key(0), old,
			  state_layout_key(f), f, &layout);
	if (rc)
		goto fail;
	rc = next_fn_tree(&s->fn_by_addr, old ? state_addr_key(old) : state_id_key(0), old,
			  state_addr_key(f), f, &by_addr);
	if (rc)
		goto fail;
	ptree_release(&s->fn_by_id);
	ptree_release(&s->fn_layout);
	ptree_release(&s->fn_by_addr);
	s->fn_by_id = by_id;
	s->fn_layout = layout;
	s->fn_by_addr = by_addr;
	return 0;
fail:
	ptree_release(&by_id);
	ptree_release(&layout);
	ptree_release(&by_addr);
	return rc;
}

int state_del_fn(struct state *s, const struct rec_fn *f)
{
	struct ptree by_id = {0}, layout = {0}, by_addr = {0};
	int rc = ptree_del(&s->fn_by_id, state_id_key(f->id), &by_id);
	if (!rc)
		rc = ptree_del(&s->fn_layout, state_layout_key(f), &layout);
	if (!rc)
		rc = ptree_del(&s->fn_by_addr, state_addr_key(f), &by_addr);
	if (rc) {
		ptree_release(&by_id);
		ptree_release(&layout);
		ptree_release(&by_addr);
		return rc;
	}
	ptree_release(&s->fn_by_id);
	ptree_release(&s->fn_layout);
	ptree_release(&s->fn_by_addr);
	s->fn_by_id = by_id;
	s->fn_layout = layout;
	s->fn_by_addr = by_addr;
	return 0;
}
