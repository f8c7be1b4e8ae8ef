/* Suite state: the units tree is the summary of fn_layout it claims to be. After random
 * puts, moves between units, deletions and file changes, settled at random moments, every
 * unit record must equal a recount made from scratch by walking fn_layout (count, the
 * sums of its functions' weights, its file record and DIE size), with no unit for a file
 * that heads no function, and the chunks tree likewise against a recount of each run of
 * 128 ids; a state with nothing marked settles without building
 * anything; and a unit whose function changed gets a new record, the others keep theirs
 * (a record's identity is what tells a reader its bytes did not change). The recount shares no code with state_settle: it walks every function. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf.h"
#include "state.h"
#include "unit.h"

#define NFILES 12

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void init_state(struct state *s)
{
	struct macho_ident id = {0};
	id.cputype = 0x01000007;  /* CPU_TYPE_X86_64 */
	struct macho_segtab segs = {0};
	CU_ASSERT_FATAL(state_init(s, &id, &segs) == 0);
}

static struct rec_file *make_file(uint64_t id, unsigned version)
{
	struct rec_file *f = rec_file_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = id;
	char path[64];
	snprintf(path, sizeof path, "/src/file_%llu_v%u.c", (unsigned long long)id, version);
	f->path = strdup(path);
	f->dir = version % 2 ? strdup("/src") : NULL;
	CU_ASSERT_FATAL(f->path != NULL);
	return f;
}

static void put_file(struct state *s, struct rec_file *f)
{
	CU_ASSERT_FATAL(state_mark_unit(s, f->id) == 0);
	CU_ASSERT_FATAL(state_put(&s->files, state_id_key(f->id), f) == 0);
	rec_file_unref(f);
}

/* A function of `rows` line rows in file `file`, compile unit `cu` (0: its file). */
static struct rec_fn *make_fn(uint64_t id, uint64_t file, uint64_t cu, uint32_t rows)
{
	struct rec_fn *f = rec_fn_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = id;
	char name[32];
	snprintf(name, sizeof name, "fn_%llu", (unsigned long long)id);
	f->name = strdup(name);
	f->low_pc = 0x100000000 + id * 0x100;
	f->size = 0x40;
	f->file = file;
	f->cu = cu;
	f->line = (int64_t)id;
	f->nrows = rows;
	f->rows = calloc(rows ? rows : 1, sizeof *f->rows);
	CU_ASSERT_FATAL(f->name && f->rows);
	for (uint32_t i = 0; i < rows; i++)
		f->rows[i] = (struct rec_row){i * 4, (int32_t)(id + i), 1, REC_ROW_STMT, 0};
	CU_ASSERT_FATAL(dwarf_encode_fn(f) == 0);
	return f;
}

/* What a unit should be, counted by walking all of fn_layout. */
struct expect_unit {
	uint64_t nfns;
	uint64_t w[PTREE_NW];
};

static bool units_agree(const struct state *s)
{
	struct expect_unit want[NFILES + 1];
	memset(want, 0, sizeof want);
	struct ptree_iter it;
	for (ptree_iter_first(&it, &s->fn_layout); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		const struct rec_fn *f = ptree_iter_val(&it);
		uint64_t cu = rec_fn_cu(f);
		if (cu > NFILES)
			return false;
		want[cu].nfns++;
		want[cu].w[STATE_W_INFO] += f->info.len;
		want[cu].w[STATE_W_LINE] += f->line_prog.len;
		want[cu].w[STATE_W_ARANGES] += DWARF_ARANGES_TUPLE_SIZE;
	}
	size_t seen = 0, expected = 0;
	for (uint64_t cu = 0; cu <= NFILES; cu++)
		expected += want[cu].nfns > 0;
	for (ptree_iter_first(&it, &s->units); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		const struct state_unit *u = ptree_iter_val(&it);
		if (ptree_iter_key(&it).a != u->file || u->file > NFILES)
			return false;
		const struct expect_unit *e = &want[u->file];
		if (u->nfns != e->nfns || memcmp(u->fn_w, e->w, sizeof e->w))
			return false;
		const struct rec_file *src = ptree_get(&s->files, state_id_key(u->file));
		if (u->src != src)
			return false;
		if (u->die_size != dwarf_cu_die_size(src ? src->path : "", src ? src->dir : NULL))
			return false;
		seen++;
	}
	return seen == expected;
}

/* The chunks tree against a recount: one chunk per (unit, id >> STATE_CHUNK_SHIFT) that
 * has functions, weighing what its functions weigh, and no other. */
static bool chunks_agree(const struct state *s)
{
	struct ptree_iter fit, cit;
	ptree_iter_first(&fit, &s->fn_layout);
	ptree_iter_first(&cit, &s->chunks);
	while (ptree_iter_valid(&fit)) {
		const struct rec_fn *f = ptree_iter_val(&fit);
		struct ptree_key k = state_chunk_key(rec_fn_cu(f), f->id);
		uint64_t w[PTREE_NW] = {0};
		while (ptree_iter_valid(&fit)) {
			const struct rec_fn *g = ptree_iter_val(&fit);
			if (ptree_key_cmp(state_chunk_key(rec_fn_cu(g), g->id), k))
				break;
			w[STATE_W_INFO] += g->info.len;
			w[STATE_W_LINE] += g->line_prog.len;
			w[STATE_W_ARANGES] += DWARF_ARANGES_TUPLE_SIZE;
			ptree_iter_next(&fit);
		}
		if (!ptree_iter_valid(&cit) || ptree_key_cmp(ptree_iter_key(&cit), k))
			return false;
		const struct state_chunk *c = ptree_iter_val(&cit);
		if (c->file != k.a || c->index != k.b || memcmp(c->w, w, sizeof w))
			return false;
		ptree_iter_next(&cit);
	}
	return !ptree_iter_valid(&cit);
}

static void test_units_follow_random_edits(void)
{
	struct state s;
	init_state(&s);
	unsigned version[NFILES + 1] = {0};
	for (uint64_t id = 1; id <= NFILES; id++)
		put_file(&s, make_file(id, 0));
	uint64_t rng = 0x9e3779b97f4a7c15u;
	int settles = 0;
	for (int step = 0; step < 4000; step++) {
		uint64_t r = rng_next(&rng);
		uint64_t id = 1 + r % 300;
		struct rec_fn *old = ptree_get(&s.fn_by_id, state_id_key(id));
		switch ((r >> 20) % 8) {
		case 0:
		case 1:
		case 2:
		case 3: {  /* put or replace, sometimes into another file or another unit */
			uint64_t file = 1 + (r >> 24) % NFILES;
			uint64_t cu = (r >> 32) % 4 == 0 ? 1 + (r >> 36) % NFILES : 0;
			struct rec_fn *f = make_fn(id, file, cu, (uint32_t)((r >> 40) % 9));
			CU_ASSERT_FATAL(state_put_fn(&s, old, f) == 0);
			rec_fn_unref(f);
			break;
		}
		case 4:
		case 5:
			if (old)
				CU_ASSERT_FATAL(state_del_fn(&s, old) == 0);
			break;
		case 6: {  /* a file changes: its unit's DIE (name, dir) changes with it */
			uint64_t fid = 1 + (r >> 24) % NFILES;
			put_file(&s, make_file(fid, ++version[fid]));
			break;
		}
		default:
			CU_ASSERT_FATAL(state_settle(&s) == 0);
			settles++;
			CU_ASSERT_FATAL(units_agree(&s));
			CU_ASSERT_FATAL(chunks_agree(&s));
		}
	}
	CU_ASSERT_FATAL(state_settle(&s) == 0);
	CU_ASSERT_TRUE(units_agree(&s));
	CU_ASSERT_TRUE(chunks_agree(&s));
	CU_ASSERT_TRUE(settles > 100);
	state_release(&s);
}

static void test_settle_without_marks_builds_nothing(void)
{
	struct state s;
	init_state(&s);
	put_file(&s, make_file(1, 0));
	put_file(&s, make_file(2, 0));
	for (uint64_t id = 1; id <= 50; id++) {
		struct rec_fn *f = make_fn(id, 1 + id % 2, 0, 3);
		CU_ASSERT_FATAL(state_put_fn(&s, NULL, f) == 0);
		rec_fn_unref(f);
	}
	CU_ASSERT_FATAL(state_settle(&s) == 0);
	CU_ASSERT_EQUAL(ptree_count(&s.units), 2);
	const void *root = s.units.root;
	CU_ASSERT_FATAL(state_settle(&s) == 0);
	CU_ASSERT_PTR_EQUAL(s.units.root, root);

	/* A replacement of a function by one of the same size still makes a new record for
	 * its unit (a move changes bytes, not sizes), and only for its unit. */
	const struct state_unit *u1 = ptree_get(&s.units, state_id_key(1));
	const struct state_unit *u2 = ptree_get(&s.units, state_id_key(2));
	struct rec_fn *moved = make_fn(7, 2, 0, 3);
	moved->low_pc += 0x10000;
	CU_ASSERT_FATAL(dwarf_encode_fn(moved) == 0);
	CU_ASSERT_FATAL(state_put_fn(&s, ptree_get(&s.fn_by_id, state_id_key(7)), moved) == 0);
	rec_fn_unref(moved);
	CU_ASSERT_FATAL(state_settle(&s) == 0);
	CU_ASSERT_PTR_EQUAL(ptree_get(&s.units, state_id_key(1)), u1);
	CU_ASSERT_PTR_NOT_EQUAL(ptree_get(&s.units, state_id_key(2)), u2);
	CU_ASSERT_TRUE(units_agree(&s));

	/* A copy shares the settled units and carries no marks of its own. */
	struct state c;
	state_copy(&s, &c);
	CU_ASSERT_PTR_EQUAL(c.units.root, s.units.root);
	CU_ASSERT_EQUAL(c.marks.n, 0);
	CU_ASSERT_TRUE(units_agree(&c));
	state_release(&c);

	/* Emptying a unit removes it. */
	for (uint64_t id = 1; id <= 50; id += 2) {
		CU_ASSERT_FATAL(state_del_fn(&s, ptree_get(&s.fn_by_id, state_id_key(id))) == 0);
	}
	CU_ASSERT_FATAL(state_settle(&s) == 0);
	CU_ASSERT_EQUAL(ptree_count(&s.units), 1);
	CU_ASSERT_TRUE(units_agree(&s));
	state_release(&s);
}

static const struct unit_test tests[] = {
	{"units follow random edits", test_units_follow_random_edits},
	{"settle without marks builds nothing", test_settle_without_marks_builds_nothing},
	{NULL, NULL},
};
UNIT_SUITE(state, tests)
