/* records: construction, deep copies, comparisons and reference counting. Leaks and
 * double frees are left to ASan/LSan, which the test build always runs under. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"
#include "unit.h"

/* A CUnit assertion that names the case, for loops over fields. */
#define CHECK_NAMED(cond, what) \
	CU_assertImplementation((cond), __LINE__, (what), __FILE__, "", CU_FALSE)

static char *dup(const char *s)
{
	char *d = strdup(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	return d;
}

/* An encoded fragment with a slot, so freeing it is exercised. */
static void fill_frag(struct rec_frag *fr, uint32_t len)
{
	fr->bytes = calloc(len, 1);
	fr->slots = calloc(1, sizeof *fr->slots);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fr->bytes);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fr->slots);
	fr->len = len;
	fr->nslots = 1;
	fr->slots[0] = (struct rec_slot){ .pos = 1, .kind = 2, .ref = 3 };
}

static struct rec_fn *sample_fn(void)
{
	struct rec_fn *f = rec_fn_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->id = 10;
	f->name = dup("main");
	f->low_pc = 0x1000;
	f->size = 0x40;
	f->file = 1;
	f->line = 12;
	f->cu = 2;
	f->ret = 3;
	f->nparams = 2;
	f->params = calloc(2, sizeof *f->params);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->params);
	f->params[0] = (struct rec_param){ .name = dup("argc"), .type = 3 };
	f->params[1] = (struct rec_param){ .name = dup("argv"), .type = 4 };
	f->nrows = 2;
	f->rows = calloc(2, sizeof *f->rows);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->rows);
	f->rows[0] = (struct rec_row){ 0, 12, 1, REC_ROW_STMT, 0 };
	f->rows[1] = (struct rec_row){ 8, 13, 5, REC_ROW_STMT | REC_ROW_PROLOGUE, 4 };
	fill_frag(&f->info, 16);
	fill_frag(&f->line_prog, 24);
	return f;
}

static struct rec_type *sample_type(void)
{
	struct rec_type *t = rec_type_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	t->id = 3;
	t->kind = REC_TYPE_BASE;
	t->name = dup("int");
	t->size = 4;
	t->enc = REC_ENC_SIGNED;
	fill_frag(&t->info, 8);
	return t;
}

static struct rec_file *sample_file(void)
{
	struct rec_file *f = rec_file_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->id = 1;
	f->path = dup("main.c");
	f->dir = dup("/src");
	return f;
}

static void test_new_is_zeroed(void)
{
	struct rec_fn *f = rec_fn_new();
	struct rec_type *t = rec_type_new();
	struct rec_file *fi = rec_file_new();
	struct rec_sym *s = rec_sym_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fi);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(f->refs, 1);
	CU_ASSERT_EQUAL(t->refs, 1);
	CU_ASSERT_EQUAL(fi->refs, 1);
	CU_ASSERT_EQUAL(s->refs, 1);
	CU_ASSERT(f->id == 0 && !f->name && !f->params && !f->rows && !f->info.bytes);
	CU_ASSERT(t->id == 0 && !t->name && t->kind == 0 && !t->info.bytes);
	CU_ASSERT(fi->id == 0 && !fi->path && !fi->dir);
	CU_ASSERT(!s->name && s->value == 0 && s->sect == 0 && !s->ext);
	/* Empty records compare equal to themselves and to each other. */
	struct rec_fn *f2 = rec_fn_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f2);
	CU_ASSERT(rec_fn_same(f, f2));
	rec_fn_unref(f2);
	rec_fn_unref(f);
	rec_type_unref(t);
	rec_file_unref(fi);
	rec_sym_unref(s);
}

static void test_unref_null(void)
{
	rec_fn_unref(NULL);
	rec_type_unref(NULL);
	rec_file_unref(NULL);
	rec_sym_unref(NULL);
	rec_frag_free(NULL);
}

static void test_fn_clone(void)
{
	struct rec_fn *f = sample_fn();
	struct rec_fn *c = rec_fn_clone(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->refs, 1);
	CU_ASSERT(rec_fn_same(f, c));
	CU_ASSERT(rec_fn_same(c, f));
	/* Deep: nothing is shared, so the original can go first. */
	CU_ASSERT_PTR_NOT_EQUAL(c->name, f->name);
	CU_ASSERT_PTR_NOT_EQUAL(c->params, f->params);
	CU_ASSERT_PTR_NOT_EQUAL(c->params[0].name, f->params[0].name);
	CU_ASSERT_PTR_NOT_EQUAL(c->rows, f->rows);
	/* Encoded fragments are dropped. */
	CU_ASSERT(!c->info.bytes && !c->info.slots && c->info.len == 0 && c->info.nslots == 0);
	CU_ASSERT(!c->line_prog.bytes && !c->line_prog.slots && c->line_prog.len == 0);
	rec_fn_unref(f);
	CU_ASSERT_STRING_EQUAL(c->name, "main");
	CU_ASSERT_STRING_EQUAL(c->params[1].name, "argv");
	CU_ASSERT_EQUAL(c->rows[1].file, 4);
	rec_fn_unref(c);
}

static void test_fn_clone_empty_lists(void)
{
	struct rec_fn *f = rec_fn_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->id = 1;
	struct rec_fn *c = rec_fn_clone(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT(!c->name && !c->params && !c->rows && c->nparams == 0 && c->nrows == 0);
	CU_ASSERT(rec_fn_same(f, c));
	rec_fn_unref(f);
	rec_fn_unref(c);
}

/* Each case changes one defining field of a copy; the copy must then differ. */
enum fn_field {
	FN_ID, FN_NAME, FN_NAME_NULL, FN_LOW_PC, FN_SIZE, FN_FILE, FN_LINE, FN_CU, FN_RET,
	FN_NPARAMS, FN_PARAM_NAME, FN_PARAM_TYPE, FN_NROWS, FN_ROW_OFF, FN_ROW_LINE,
	FN_ROW_COL, FN_ROW_FLAGS, FN_ROW_FILE, FN_NFIELDS
};

static const char *const fn_field_names[FN_NFIELDS] = {
	"id", "name", "name NULL", "low_pc", "size", "file", "line", "cu", "ret", "nparams",
	"param name", "param type", "nrows", "row off", "row line", "row col", "row flags",
	"row file",
};

static void mutate_fn(struct rec_fn *f, enum fn_field k)
{
	switch (k) {
	case FN_ID: f->id++; break;
	case FN_NAME: f->name[0] = 'M'; break;
	case FN_NAME_NULL: free(f->name); f->name = NULL; break;
	case FN_LOW_PC: f->low_pc++; break;
	case FN_SIZE: f->size++; break;
	case FN_FILE: f->file++; break;
	case FN_LINE: f->line++; break;
	case FN_CU: f->cu = 0; break;
	case FN_RET: f->ret = 0; break;
	case FN_NPARAMS: f->nparams--; break;
	case FN_PARAM_NAME: f->params[1].name[3] = 'c'; break;
	case FN_PARAM_TYPE: f->params[0].type++; break;
	case FN_NROWS: f->nrows--; break;
	case FN_ROW_OFF: f->rows[1].off++; break;
	case FN_ROW_LINE: f->rows[1].line++; break;
	case FN_ROW_COL: f->rows[1].col++; break;
	case FN_ROW_FLAGS: f->rows[1].flags ^= REC_ROW_EPILOGUE; break;
	case FN_ROW_FILE: f->rows[1].file = 0; break;
	case FN_NFIELDS: break;
	}
}

static void test_fn_same_detects_each_field(void)
{
	struct rec_fn *f = sample_fn();
	for (int k = 0; k < FN_NFIELDS; k++) {
		struct rec_fn *c = rec_fn_clone(f);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		/* The nparams case hides the last name from the free: restore the count. */
		uint32_t np = c->nparams;
		mutate_fn(c, (enum fn_field)k);
		CHECK_NAMED(!rec_fn_same(f, c), fn_field_names[k]);
		CHECK_NAMED(!rec_fn_same(c, f), fn_field_names[k]);
		c->nparams = np;
		rec_fn_unref(c);
	}
	/* Encoded bytes and refs are not defining. */
	struct rec_fn *c = rec_fn_clone(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rec_fn_ref(c);
	CU_ASSERT(rec_fn_same(f, c));
	rec_fn_unref(c);
	rec_fn_unref(c);
	rec_fn_unref(f);
}

static void test_type_clone_and_same(void)
{
	struct rec_type *t = sample_type();
	struct rec_type *c = rec_type_clone(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->refs, 1);
	CU_ASSERT(rec_type_same(t, c));
	CU_ASSERT_PTR_NOT_EQUAL(c->name, t->name);
	CU_ASSERT(!c->info.bytes && !c->info.slots && c->info.len == 0);

	static const char *const fields[] = { "id", "kind", "name", "name NULL", "size",
					      "enc", "to" };
	for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
		struct rec_type *m = rec_type_clone(t);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		switch (k) {
		case 0: m->id++; break;
		case 1: m->kind = REC_TYPE_TYPEDEF; break;
		case 2: m->name[0] = 'u'; break;
		case 3: free(m->name); m->name = NULL; break;
		case 4: m->size = 8; break;
		case 5: m->enc = REC_ENC_UNSIGNED; break;
		case 6: m->to = 9; break;
		}
		CHECK_NAMED(!rec_type_same(t, m), fields[k]);
		CHECK_NAMED(!rec_type_same(m, t), fields[k]);
		rec_type_unref(m);
	}

	/* A pointer without a name clones and compares with its NULL name. */
	struct rec_type *p = rec_type_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p->id = 4;
	p->kind = REC_TYPE_POINTER;
	p->to = 3;
	struct rec_type *pc = rec_type_clone(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pc);
	CU_ASSERT_PTR_NULL(pc->name);
	CU_ASSERT(rec_type_same(p, pc));
	rec_type_unref(pc);
	rec_type_unref(p);
	rec_type_unref(c);
	rec_type_unref(t);
}

static void test_file_same(void)
{
	struct rec_file *a = sample_file(), *b = sample_file();
	CU_ASSERT(rec_file_same(a, b));
	b->id = 2;
	CU_ASSERT(!rec_file_same(a, b));
	b->id = 1;
	b->path[0] = 'x';
	CU_ASSERT(!rec_file_same(a, b));
	b->path[0] = 'm';
	CU_ASSERT(rec_file_same(a, b));
	free(b->dir);
	b->dir = NULL;
	CU_ASSERT(!rec_file_same(a, b));
	CU_ASSERT(!rec_file_same(b, a));
	free(a->dir);
	a->dir = NULL;
	CU_ASSERT(rec_file_same(a, b));
	rec_file_unref(a);
	rec_file_unref(b);
}

static void test_refcount_lifecycle(void)
{
	struct rec_fn *f = sample_fn();
	rec_fn_ref(f);
	rec_fn_ref(f);
	CU_ASSERT_EQUAL(f->refs, 3);
	rec_fn_unref(f);
	rec_fn_unref(f);
	CU_ASSERT_EQUAL(f->refs, 1);
	CU_ASSERT_STRING_EQUAL(f->name, "main");
	rec_fn_unref(f); /* frees; LSan reports anything left behind */

	struct rec_type *t = sample_type();
	rec_type_ref(t);
	rec_type_unref(t);
	CU_ASSERT_EQUAL(t->refs, 1);
	rec_type_unref(t);

	struct rec_file *fi = sample_file();
	rec_file_ref(fi);
	rec_file_unref(fi);
	CU_ASSERT_EQUAL(fi->refs, 1);
	rec_file_unref(fi);

	struct rec_sym *s = rec_sym_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	s->name = dup("_main");
	rec_sym_ref(s);
	rec_sym_unref(s);
	CU_ASSERT_EQUAL(s->refs, 1);
	rec_sym_unref(s);
}

static void test_frag_free(void)
{
	struct rec_frag fr;
	fill_frag(&fr, 32);
	rec_frag_free(&fr);
	CU_ASSERT(!fr.bytes && !fr.slots && fr.len == 0 && fr.nslots == 0);
	rec_frag_free(&fr); /* a freed fragment is empty, so freeing again is harmless */
}

#define THREADS 4
#define ROUNDS  20000

static void *ref_churn(void *arg)
{
	struct rec_fn *f = arg;
	for (int i = 0; i < ROUNDS; i++) {
		rec_fn_ref(f);
		rec_fn_unref(f);
	}
	/* Each thread was handed a reference of its own and drops it last. */
	rec_fn_unref(f);
	return NULL;
}

static void test_refcount_threads(void)
{
	struct rec_fn *f = sample_fn();
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		rec_fn_ref(f);
	for (int i = 0; i < THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, ref_churn, f), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL(f->refs, 1);
	rec_fn_unref(f);
}

static const struct unit_test records_tests[] = {
	{ "new records are zeroed with one reference", test_new_is_zeroed },
	{ "unref of NULL is a no-op", test_unref_null },
	{ "fn clone is deep, equal, and drops fragments", test_fn_clone },
	{ "fn clone of a record with no lists", test_fn_clone_empty_lists },
	{ "fn_same detects a change in each field", test_fn_same_detects_each_field },
	{ "type clone and type_same", test_type_clone_and_same },
	{ "file_same, with NULL dir", test_file_same },
	{ "refcount lifecycle", test_refcount_lifecycle },
	{ "frag_free frees bytes and slots", test_frag_free },
	{ "refcounts from several threads", test_refcount_threads },
	{ NULL, NULL },
};

UNIT_SUITE(records, records_tests)
