/* check: the commit-time checks on a batch's final state. See check.h. */
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

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

struct type_probe {
	const struct state_types *tt;
	uint64_t id;
};

static bool type_before(const void *arg, size_t i)
{
	const struct type_probe *p = arg;
	return p->tt->recs[i]->id < p->id;
}

static size_t type_index(const struct state_types *tt, uint64_t id)
{
	return util_search(tt->n, type_before, &(struct type_probe){tt, id});
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
		return batch_oom(b);
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
		return batch_fail(b, -EINVAL, line, "type %llu: its const/typedef chain loops back on "
			    "itself", (unsigned long long)bad->id);
	line = touch_line(&b->dropped_types, bad->to,
			  touch_line(&b->types, bad->id, b->line_no));
	return batch_fail(b, -EINVAL, line, "type %llu: refers to type %llu, which does not exist",
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
	return 0;
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

/* After a delfile/deltype: does any function still refer to what went? (Types that
 * refer to a deleted type are caught by check_types.) */
static int check_dropped(struct batch *b)
{
	struct ptree_iter it;
	int rc = 0;
	for (ptree_iter_first(&it, &b->w.fn_by_id); ptree_iter_valid(&it) && !rc;
	     ptree_iter_next(&it))
		rc = check_fn(b, ptree_iter_val(&it), 0);
	return rc ? rc : it.error ? batch_oom(b) : 0;
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
