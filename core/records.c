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
	for (uint32_t i = 0; i < f->nparams; i++)
		free(f->params[i].name);
	free(f->params);
	free(f->rows);
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
	    x->nrows != y->nrows)
		return false;
	for (uint32_t i = 0; i < x->nparams; i++)
		if (x->params[i].type != y->params[i].type ||
		    !str_same(x->params[i].name, y->params[i].name))
			return false;
	for (uint32_t i = 0; i < x->nrows; i++)
		if (!row_same(&x->rows[i], &y->rows[i]))
			return false;
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
	return x->id == y->id && x->kind == y->kind && str_same(x->name, y->name) &&
	       x->size == y->size && x->enc == y->enc && x->to == y->to;
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
	return x->id == y->id && str_same(x->path, y->path) && str_same(x->dir, y->dir);
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
