/* records: constructors, reference counts, deep copies and comparisons of the per-id
 * records. The counts live in plain uint32_t fields (the header shares the struct
 * layout with every module), so they are updated through the __atomic builtins. */
#include <stdlib.h>
#include <string.h>

#include "records.h"

/* Acquire-release on the decrement: the thread that drops the last reference must see
 * every write other holders made before dropping theirs. Increments need no ordering
 * because a holder already owns a reference when it makes another. */
static void refs_inc(uint32_t *refs)
{
	__atomic_fetch_add(refs, 1, __ATOMIC_RELAXED);
}

static bool refs_dec_is_last(uint32_t *refs)
{
	return __atomic_sub_fetch(refs, 1, __ATOMIC_ACQ_REL) == 0;
}

/* A copy of s owned by the caller; *ok turns false when the copy could not be made, so a
 * NULL source (an absent optional name) is not mistaken for a failure. */
static char *dup_opt(const char *s, bool *ok)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

static bool str_same(const char *x, const char *y)
{
	if (!x || !y)
		return x == y;
	return strcmp(x, y) == 0;
}

void rec_frag_free(struct rec_frag *fr)
{
	if (!fr)
		return;
	free(fr->bytes);
	free(fr->slots);
	memset(fr, 0, sizeof *fr);
}

/* A copy of n elements of size sz, or NULL with *ok false (n == 0: NULL, ok kept). */
static void *dup_array(const void *src, size_t n, size_t sz, bool *ok)
{
	if (!n || !*ok)
		return NULL;
	void *d = malloc(n * sz);
	if (!d) {
		*ok = false;
		return NULL;
	}
	memcpy(d, src, n * sz);
	return d;
}

/* Locations. */

void rec_loc_free(struct rec_loc *l)
{
	if (!l)
		return;
	free(l->bytes);
	if (l->kind == REC_LOC_LIST)
		for (uint32_t i = 0; i < l->len; i++)
			rec_loc_free(&l->entries[i].loc);
	free(l->entries);
	memset(l, 0, sizeof *l);
}

/* Deep copy of src into *dst (zeroed on entry); *ok turns false on ENOMEM, leaving *dst
 * fit for rec_loc_free. */
static void loc_copy(struct rec_loc *dst, const struct rec_loc *src, bool *ok)
{
	*dst = *src;
	dst->bytes = NULL;
	dst->entries = NULL;
	if (src->kind == REC_LOC_EXPR) {
		dst->bytes = dup_array(src->bytes, src->len, 1, ok);
		if (!dst->bytes)
			dst->len = 0;
	} else if (src->kind == REC_LOC_LIST && src->len) {
		dst->entries = calloc(src->len, sizeof *dst->entries);
		if (!dst->entries) {
			*ok = false;
			dst->len = 0;
			return;
		}
		for (uint32_t i = 0; i < src->len; i++) {
			dst->entries[i].from = src->entries[i].from;
			dst->entries[i].to = src->entries[i].to;
			loc_copy(&dst->entries[i].loc, &src->entries[i].loc, ok);
		}
	}
}

bool rec_loc_same(const struct rec_loc *x, const struct rec_loc *y)
{
	if (x->kind != y->kind || x->reg != y->reg || x->value != y->value || x->len != y->len)
		return false;
	if (x->kind == REC_LOC_EXPR)
		return x->len == 0 || memcmp(x->bytes, y->bytes, x->len) == 0;
	if (x->kind == REC_LOC_LIST)
		for (uint32_t i = 0; i < x->len; i++)
			if (x->entries[i].from != y->entries[i].from ||
			    x->entries[i].to != y->entries[i].to ||
			    !rec_loc_same(&x->entries[i].loc, &y->entries[i].loc))
				return false;
	return true;
}

/* Functions. */

struct rec_fn *rec_fn_new(void)
{
	struct rec_fn *f = calloc(1, sizeof *f);
	if (f)
		f->refs = 1;
	return f;
}

static void fn_free(struct rec_fn *f)
{
	free(f->name);
	for (uint32_t i = 0; i < f->nparams; i++) {
		free(f->params[i].name);
		rec_loc_free(&f->params[i].loc);
	}
	free(f->params);
	free(f->rows);
	free(f->linkage);
	rec_loc_free(&f->frame_base);
	for (uint32_t i = 0; i < f->nvars; i++) {
		free(f->vars[i].name);
		rec_loc_free(&f->vars[i].loc);
	}
	free(f->vars);
	for (uint32_t i = 0; i < f->nblocks; i++)
		free(f->blocks[i].ranges);
	free(f->blocks);
	rec_frag_free(&f->info);
	rec_frag_free(&f->line_prog);
	free(f);
}

struct rec_fn *rec_fn_clone(const struct rec_fn *f)
{
	struct rec_fn *c = rec_fn_new();
	if (!c)
		return NULL;
	bool ok = true;
	c->id = f->id;
	c->name = dup_opt(f->name, &ok);
	c->low_pc = f->low_pc;
	c->size = f->size;
	c->file = f->file;
	c->line = f->line;
	c->cu = f->cu;
	c->ret = f->ret;
	if (ok && f->nparams) {
		c->params = calloc(f->nparams, sizeof *c->params);
		if (c->params) {
			/* calloc left every name NULL, so fn_free can undo a partial copy. */
			c->nparams = f->nparams;
			for (uint32_t i = 0; i < f->nparams; i++) {
				c->params[i].name = dup_opt(f->params[i].name, &ok);
				c->params[i].type = f->params[i].type;
				c->params[i].line = f->params[i].line;
				loc_copy(&c->params[i].loc, &f->params[i].loc, &ok);
			}
		} else {
			ok = false;
		}
	}
	if (ok && f->nrows) {
		c->rows = malloc(f->nrows * sizeof *c->rows);
		if (c->rows) {
			memcpy(c->rows, f->rows, f->nrows * sizeof *c->rows);
			c->nrows = f->nrows;
		} else {
			ok = false;
		}
	}
	c->linkage = dup_opt(f->linkage, &ok);
	loc_copy(&c->frame_base, &f->frame_base, &ok);
	c->variadic = f->variadic;
	c->unprototyped = f->unprototyped;
	c->optimized = f->optimized;
	c->noreturn = f->noreturn;
	c->abstract = f->abstract;
	if (ok && f->nvars) {
		c->vars = calloc(f->nvars, sizeof *c->vars);
		if (c->vars) {
			c->nvars = f->nvars;
			for (uint32_t i = 0; i < f->nvars; i++) {
				c->vars[i] = f->vars[i];
				c->vars[i].name = dup_opt(f->vars[i].name, &ok);
				c->vars[i].loc = (struct rec_loc){0};
				loc_copy(&c->vars[i].loc, &f->vars[i].loc, &ok);
			}
		} else {
			ok = false;
		}
	}
	if (ok && f->nblocks) {
		c->blocks = calloc(f->nblocks, sizeof *c->blocks);
		if (c->blocks) {
			c->nblocks = f->nblocks;
			for (uint32_t i = 0; i < f->nblocks && ok; i++) {
				c->blocks[i] = f->blocks[i];
				c->blocks[i].ranges = dup_array(f->blocks[i].ranges,
								f->blocks[i].nranges,
								sizeof *f->blocks[i].ranges, &ok);
				if (!ok)
					c->blocks[i].nranges = 0;
			}
		} else {
			ok = false;
		}
	}
	if (!ok) {
		fn_free(c);
		return NULL;
	}
	return c;
}

void rec_fn_ref(struct rec_fn *f)
{
	refs_inc(&f->refs);
}

void rec_fn_unref(struct rec_fn *f)
{
	if (f && refs_dec_is_last(&f->refs))
		fn_free(f);
}

static bool row_same(const struct rec_row *x, const struct rec_row *y)
{
	return x->off == y->off && x->line == y->line && x->col == y->col &&
	       x->flags == y->flags && x->file == y->file;
}

bool rec_fn_same(const struct rec_fn *x, const struct rec_fn *y)
{
	if (x->id != y->id || !str_same(x->name, y->name) || x->low_pc != y->low_pc ||
	    x->size != y->size || x->file != y->file || x->line != y->line ||
	    x->cu != y->cu || x->ret != y->ret || x->nparams != y->nparams ||
	    x->nrows != y->nrows || !str_same(x->linkage, y->linkage) ||
	    !rec_loc_same(&x->frame_base, &y->frame_base) || x->nvars != y->nvars ||
	    x->nblocks != y->nblocks || x->variadic != y->variadic ||
	    x->unprototyped != y->unprototyped || x->optimized != y->optimized ||
	    x->noreturn != y->noreturn || x->abstract != y->abstract)
		return false;
	for (uint32_t i = 0; i < x->nparams; i++)
		if (x->params[i].type != y->params[i].type ||
		    x->params[i].line != y->params[i].line ||
		    !str_same(x->params[i].name, y->params[i].name) ||
		    !rec_loc_same(&x->params[i].loc, &y->params[i].loc))
			return false;
	for (uint32_t i = 0; i < x->nrows; i++)
		if (!row_same(&x->rows[i], &y->rows[i]))
			return false;
	for (uint32_t i = 0; i < x->nvars; i++) {
		const struct rec_var *a = &x->vars[i], *b = &y->vars[i];
		if (a->type != b->type || a->line != b->line || a->block != b->block ||
		    !str_same(a->name, b->name) || !rec_loc_same(&a->loc, &b->loc))
			return false;
	}
	for (uint32_t i = 0; i < x->nblocks; i++) {
		const struct rec_block *a = &x->blocks[i], *b = &y->blocks[i];
		if (a->nranges != b->nranges || a->parent != b->parent ||
		    a->origin != b->origin || a->call_file != b->call_file ||
		    a->call_line != b->call_line || a->call_col != b->call_col ||
		    (a->nranges && memcmp(a->ranges, b->ranges, a->nranges * sizeof *a->ranges)))
			return false;
	}
	return true;
}

/* Types. */

struct rec_type *rec_type_new(void)
{
	struct rec_type *t = calloc(1, sizeof *t);
	if (t)
		t->refs = 1;
	return t;
}

static void type_free(struct rec_type *t)
{
	free(t->name);
	for (uint32_t i = 0; i < t->nmembers; i++)
		free(t->members[i].name);
	free(t->members);
	for (uint32_t i = 0; i < t->nenumerators; i++)
		free(t->enumerators[i].name);
	free(t->enumerators);
	free(t->dims);
	free(t->params);
	rec_frag_free(&t->info);
	free(t);
}

struct rec_type *rec_type_clone(const struct rec_type *t)
{
	struct rec_type *c = rec_type_new();
	if (!c)
		return NULL;
	bool ok = true;
	c->id = t->id;
	c->kind = t->kind;
	c->name = dup_opt(t->name, &ok);
	c->size = t->size;
	c->enc = t->enc;
	c->to = t->to;
	c->file = t->file;
	c->line = t->line;
	c->scope = t->scope;
	c->align = t->align;
	c->decl = t->decl;
	c->ret = t->ret;
	c->variadic = t->variadic;
	c->unprototyped = t->unprototyped;
	if (ok && t->nmembers) {
		c->members = calloc(t->nmembers, sizeof *c->members);
		if (c->members) {
			c->nmembers = t->nmembers;
			for (uint32_t i = 0; i < t->nmembers; i++) {
				c->members[i] = t->members[i];
				c->members[i].name = dup_opt(t->members[i].name, &ok);
			}
		} else {
			ok = false;
		}
	}
	if (ok && t->nenumerators) {
		c->enumerators = calloc(t->nenumerators, sizeof *c->enumerators);
		if (c->enumerators) {
			c->nenumerators = t->nenumerators;
			for (uint32_t i = 0; i < t->nenumerators; i++) {
				c->enumerators[i] = t->enumerators[i];
				c->enumerators[i].name = dup_opt(t->enumerators[i].name, &ok);
			}
		} else {
			ok = false;
		}
	}
	c->dims = dup_array(t->dims, t->ndims, sizeof *t->dims, &ok);
	c->ndims = c->dims ? t->ndims : 0;
	c->params = dup_array(t->params, t->nparams, sizeof *t->params, &ok);
	c->nparams = c->params ? t->nparams : 0;
	if (!ok) {
		type_free(c);
		return NULL;
	}
	return c;
}

void rec_type_ref(struct rec_type *t)
{
	refs_inc(&t->refs);
}

void rec_type_unref(struct rec_type *t)
{
	if (t && refs_dec_is_last(&t->refs))
		type_free(t);
}

/* Fields that do not apply to a kind are compared too: the parser leaves them zero, so
 * comparing them costs nothing and keeps a hand-built record from hiding a difference. */
bool rec_type_same(const struct rec_type *x, const struct rec_type *y)
{
	if (!(x->id == y->id && x->kind == y->kind && str_same(x->name, y->name) &&
	      x->size == y->size && x->enc == y->enc && x->to == y->to &&
	      x->file == y->file && x->line == y->line && x->scope == y->scope &&
	      x->align == y->align && x->decl == y->decl && x->ret == y->ret &&
	      x->variadic == y->variadic && x->unprototyped == y->unprototyped &&
	      x->nmembers == y->nmembers && x->nenumerators == y->nenumerators &&
	      x->ndims == y->ndims && x->nparams == y->nparams))
		return false;
	for (uint32_t i = 0; i < x->nmembers; i++) {
		const struct rec_member *a = &x->members[i], *b = &y->members[i];
		if (a->type != b->type || a->off != b->off || a->bits != b->bits ||
		    a->bitoff != b->bitoff || !str_same(a->name, b->name))
			return false;
	}
	for (uint32_t i = 0; i < x->nenumerators; i++) {
		const struct rec_enumerator *a = &x->enumerators[i], *b = &y->enumerators[i];
		if (a->lo != b->lo || a->hi != b->hi || a->neg != b->neg ||
		    !str_same(a->name, b->name))
			return false;
	}
	return (!x->ndims || !memcmp(x->dims, y->dims, x->ndims * sizeof *x->dims)) &&
	       (!x->nparams || !memcmp(x->params, y->params, x->nparams * sizeof *x->params));
}

/* Globals. */

struct rec_global *rec_global_new(void)
{
	struct rec_global *g = calloc(1, sizeof *g);
	if (g)
		g->refs = 1;
	return g;
}

static void global_free(struct rec_global *g)
{
	free(g->name);
	free(g->linkage);
	rec_frag_free(&g->info);
	free(g);
}

struct rec_global *rec_global_clone(const struct rec_global *g)
{
	struct rec_global *c = rec_global_new();
	if (!c)
		return NULL;
	bool ok = true;
	*c = *g;
	c->refs = 1;
	c->info = (struct rec_frag){0};
	c->name = dup_opt(g->name, &ok);
	c->linkage = dup_opt(g->linkage, &ok);
	if (!ok) {
		global_free(c);
		return NULL;
	}
	return c;
}

void rec_global_ref(struct rec_global *g)
{
	refs_inc(&g->refs);
}

void rec_global_unref(struct rec_global *g)
{
	if (g && refs_dec_is_last(&g->refs))
		global_free(g);
}

bool rec_global_same(const struct rec_global *x, const struct rec_global *y)
{
	return x->id == y->id && str_same(x->name, y->name) && x->type == y->type &&
	       x->addr == y->addr && x->file == y->file && x->line == y->line &&
	       x->cu == y->cu && x->ext == y->ext && str_same(x->linkage, y->linkage);
}

/* Source files. */

struct rec_file *rec_file_new(void)
{
	struct rec_file *f = calloc(1, sizeof *f);
	if (f)
		f->refs = 1;
	return f;
}

void rec_file_ref(struct rec_file *f)
{
	refs_inc(&f->refs);
}

void rec_file_unref(struct rec_file *f)
{
	if (f && refs_dec_is_last(&f->refs)) {
		free(f->path);
		free(f->dir);
		free(f);
	}
}

bool rec_file_same(const struct rec_file *x, const struct rec_file *y)
{
	return x->id == y->id && str_same(x->path, y->path) && str_same(x->dir, y->dir) &&
	       x->lang == y->lang;
}

/* Symbols. */

struct rec_sym *rec_sym_new(void)
{
	struct rec_sym *s = calloc(1, sizeof *s);
	if (s)
		s->refs = 1;
	return s;
}

void rec_sym_ref(struct rec_sym *s)
{
	refs_inc(&s->refs);
}

void rec_sym_unref(struct rec_sym *s)
{
	if (s && refs_dec_is_last(&s->refs)) {
		free(s->name);
		free(s);
	}
}
