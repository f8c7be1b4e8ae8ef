/* Suite dwarf_rich: the DIEs of rich debug info, built from records made in C, laid out
 * by state_rebuild_types, rendered by gen_read (and gen_read_slices, which must agree).
 * Types and globals: the oracle is clang-16, which compiles a C file declaring the same
 * things with -gdwarf-4 for a Mach-O target; llvm-dwarfdump-16 must describe every
 * variable, member, enumerator and named type the same way in both files (type names as
 * it prints them, offsets, bit-fields, sizes, counts, alignments, values). Functions:
 * what llvm-dwarfdump-16 decodes of parameters, locals, nested and inlined blocks, an
 * abstract origin and its concrete children, location and range lists must be the
 * records' values, before and after a move that reuses the fragments, and a chunk's
 * list offsets must follow a grown list before it. lldb-16, given the DWARF beside a real
 * executable, must read a global, the blocks and the variables at a pc. Every
 * generation must pass llvm-dwarfdump-16 --verify without a warning. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf.h"
#include "gen.h"
#include "macho.h"
#include "ptree.h"
#include "state.h"
#include "unit.h"

/* ---- records ----------------------------------------------------------------------- */

static char *dup(const char *s)
{
	char *d = strdup(s);
	CU_ASSERT_FATAL(d != NULL);
	return d;
}

static struct rec_type *new_type(uint64_t id, enum rec_type_kind kind, const char *name)
{
	struct rec_type *t = rec_type_new();
	CU_ASSERT_FATAL(t != NULL);
	t->id = id;
	t->kind = kind;
	t->name = name ? dup(name) : NULL;
	return t;
}

static void put_type(struct state *s, struct rec_type *t)
{
	CU_ASSERT_FATAL(dwarf_encode_type(t) == 0);
	CU_ASSERT_FATAL(state_put(&s->types, state_id_key(t->id), t) == 0);
	rec_type_unref(t);
}

static void base(struct state *s, uint64_t id, const char *name, uint64_t size,
		 enum rec_base_enc enc)
{
	struct rec_type *t = new_type(id, REC_TYPE_BASE, name);
	t->size = size;
	t->enc = enc;
	put_type(s, t);
}

static void modifier(struct state *s, uint64_t id, enum rec_type_kind kind, const char *name,
		     uint64_t to)
{
	struct rec_type *t = new_type(id, kind, name);
	t->to = to;
	put_type(s, t);
}

/* members: "NAME:TYPE:OFF[:BITS:BITOFF]" joined by spaces. */
static void aggregate(struct state *s, uint64_t id, enum rec_type_kind kind, const char *name,
		      uint64_t size, uint64_t scope, uint64_t align, const char *members)
{
	struct rec_type *t = new_type(id, kind, name);
	t->size = size;
	t->scope = scope;
	t->align = align;
	t->file = 1;
	t->line = 1;
	t->members = calloc(16, sizeof *t->members);
	CU_ASSERT_FATAL(t->members != NULL);
	char *copy = dup(members), *save = NULL;
	for (char *m = strtok_r(copy, " ", &save); m; m = strtok_r(NULL, " ", &save)) {
		struct rec_member *mb = &t->members[t->nmembers++];
		char *colon = strchr(m, ':');
		*colon = 0;
		mb->name = dup(m);
		unsigned long long ty = 0, off = 0, bits = 0, bitoff = 0;
		CU_ASSERT_FATAL(sscanf(colon + 1, "%llu:%llu:%llu:%llu", &ty, &off, &bits,
				       &bitoff) >= 2);
		*mb = (struct rec_member){mb->name, ty, off, (uint32_t)bits, (uint32_t)bitoff};
	}
	free(copy);
	put_type(s, t);
}

static void enumeration(struct state *s, uint64_t id, const char *name, uint64_t size,
			uint64_t to, const struct rec_enumerator *e, uint32_t n)
{
	struct rec_type *t = new_type(id, REC_TYPE_ENUM, name);
	t->size = size;
	t->to = to;
	t->file = 1;
	t->line = 2;
	t->enumerators = calloc(n, sizeof *t->enumerators);
	CU_ASSERT_FATAL(t->enumerators != NULL);
	for (uint32_t i = 0; i < n; i++) {
		t->enumerators[i] = e[i];
		t->enumerators[i].name = dup(e[i].name);
	}
	t->nenumerators = n;
	put_type(s, t);
}

static void array(struct state *s, uint64_t id, uint64_t to, const uint64_t *dims, uint32_t n)
{
	struct rec_type *t = new_type(id, REC_TYPE_ARRAY, NULL);
	t->to = to;
	t->dims = calloc(n, sizeof *t->dims);
	CU_ASSERT_FATAL(t->dims != NULL);
	memcpy(t->dims, dims, n * sizeof *dims);
	t->ndims = n;
	put_type(s, t);
}

static void subroutine(struct state *s, uint64_t id, uint64_t ret, const uint64_t *params,
		       uint32_t n, bool variadic, bool unprototyped)
{
	struct rec_type *t = new_type(id, REC_TYPE_FUNC, NULL);
	t->ret = ret;
	t->params = calloc(n ? n : 1, sizeof *t->params);
	CU_ASSERT_FATAL(t->params != NULL);
	if (n)
		memcpy(t->params, params, n * sizeof *params);
	t->nparams = n;
	t->variadic = variadic;
	t->unprototyped = unprototyped;
	put_type(s, t);
}

static void global(struct state *s, uint64_t id, const char *name, uint64_t type)
{
	struct rec_global *g = rec_global_new();
	CU_ASSERT_FATAL(g != NULL);
	g->id = id;
	g->name = dup(name);
	g->type = type;
	g->addr = 0x100008000 + id * 0x40;
	g->file = 1;
	g->line = (uint32_t)id;
	g->ext = true;
	CU_ASSERT_FATAL(state_put_global(s, NULL, g) == 0);
	rec_global_unref(g);
}

/* A state with one file, rich.c, heading a unit of DW_AT_language lang (0: C99). */
static void init_state(struct state *s, uint32_t lang)
{
	struct macho_ident id = {0};
	for (int i = 0; i < 16; i++)
		id.uuid[i] = (uint8_t)(0x31 * i + 7);
	id.cputype = 0x01000007;  /* x86_64 */
	id.cpusubtype = 3;
	struct macho_segtab segs = {0};
	CU_ASSERT_FATAL(state_init(s, &id, &segs) == 0);
	struct rec_file *f = rec_file_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = 1;
	f->path = dup("rich.c");
	f->dir = dup("/src");
	f->lang = lang;
	CU_ASSERT_FATAL(state_put(&s->files, state_id_key(1), f) == 0);
	rec_file_unref(f);
	CU_ASSERT_FATAL(state_rebuild_files(s) == 0);
}

/* Renders a state's generation to path (read in odd-sized pieces, so that reads start
 * and end inside DIEs and slots); the slices of one whole read must give the same
 * bytes. */
static void write_state(struct state *s, const char *path)
{
	struct gen *g = NULL;
	CU_ASSERT_FATAL(gen_new(s, "T", 1, &g) == 0);
	uint64_t size = gen_size(g);
	uint8_t *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	for (uint64_t off = 0; off < size;) {
		ssize_t n = gen_read(g, off, buf + off, 37);
		CU_ASSERT_FATAL(n > 0);
		off += (uint64_t)n;
	}
	struct gen_slices sl;
	CU_ASSERT_FATAL(gen_read_slices(g, 0, size, &sl) == (ssize_t)size);
	uint64_t at = 0;
	for (size_t i = 0; i < sl.n; i++) {
		CU_ASSERT_FATAL(at + sl.iov[i].iov_len <= size);
		CU_ASSERT(memcmp(buf + at, sl.iov[i].iov_base, sl.iov[i].iov_len) == 0);
		at += sl.iov[i].iov_len;
	}
	CU_ASSERT_EQUAL(at, size);
	gen_slices_release(&sl);
	unit_write_file(path, buf, size);
	free(buf);
	gen_unref(g);
}

static void verify_clean(const char *path)
{
	char *out = unit_sh_out("llvm-dwarfdump-16 --verify '%s' 2>&1", path);
	if (!out || !strstr(out, "No errors.") || strstr(out, "warning:"))
		fprintf(stderr, "dwarf_rich: llvm-dwarfdump-16 --verify %s:\n%s\n", path,
			out ? out : "(exit status not 0)");
	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "No errors."));
	CU_ASSERT_PTR_NULL(strstr(out, "warning:"));
	free(out);
}

/* ---- what llvm-dwarfdump says ------------------------------------------------------ */

/* Attributes compared between the two files: those whose printed value does not depend
 * on offsets, files or the producer. */
static const char *const COMPARED[] = {
	"DW_AT_type", "DW_AT_byte_size", "DW_AT_data_member_location", "DW_AT_bit_size",
	"DW_AT_data_bit_offset", "DW_AT_const_value", "DW_AT_count", "DW_AT_alignment",
	"DW_AT_prototyped", "DW_AT_declaration", "DW_AT_encoding", NULL,
};

static bool compared(const char *attr, size_t len)
{
	for (int i = 0; COMPARED[i]; i++)
		if (strlen(COMPARED[i]) == len && memcmp(COMPARED[i], attr, len) == 0)
			return true;
	return false;
}

/* One line per compared attribute of every DIE, "TAG PATH ATTR VALUE", where PATH is the
 * names of the DIE and its parents (an unnamed one: "-"), and a DW_AT_type value keeps
 * only the quoted type name. Sorted, joined by newlines; the caller frees it. */
static char *describe(const char *path)
{
	char *dump = unit_sh_out("llvm-dwarfdump-16 --debug-info '%s'", path);
	CU_ASSERT_FATAL(dump != NULL);
	size_t cap = 256, n = 0;
	char **lines = malloc(cap * sizeof *lines);
	CU_ASSERT_FATAL(lines != NULL);
	char names[32][128] = {{0}};  /* by depth */
	char tags[32][64] = {{0}};
	int depth = 0;
	char pending[64][256];
	int npending = 0;
	for (char *p = dump, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		char *tag = strstr(p, "DW_TAG_");
		char *at = strstr(p, "DW_AT_");
		bool null_entry = strstr(p, ": ") && strstr(p, "NULL");
		if (tag || null_entry || !*p) {
			/* The previous DIE is complete: emit its attributes under its path. */
			for (int i = 0; i < npending; i++) {
				char full[1024] = "";
				for (int d = 2; d <= depth; d++) {  /* below the unit */
					strncat(full, "/", sizeof full - strlen(full) - 1);
					strncat(full, names[d][0] ? names[d] : "-",
						sizeof full - strlen(full) - 1);
				}
				if (n == cap) {
					cap *= 2;
					lines = realloc(lines, cap * sizeof *lines);
					CU_ASSERT_FATAL(lines != NULL);
				}
				size_t len = strlen(tags[depth]) + strlen(full) + strlen(pending[i]) + 4;
				lines[n] = malloc(len);
				CU_ASSERT_FATAL(lines[n] != NULL);
				snprintf(lines[n++], len, "%s %s %s", tags[depth], full, pending[i]);
			}
			npending = 0;
		}
		if (tag) {
			/* Indentation gives the depth: 2 columns per level after the offset. */
			char *colon = strstr(p, ": ");
			int ind = (int)(tag - (colon + 2));
			depth = ind / 2;
			CU_ASSERT_FATAL(depth >= 0 && depth < 31);
			depth++;
			size_t tl = strcspn(tag, " \t");
			snprintf(tags[depth], sizeof tags[depth], "%.*s", (int)tl, tag);
			names[depth][0] = 0;
		} else if (at && depth) {
			size_t al = strcspn(at, " \t");
			char *val = at + al + strspn(at + al, " \t");
			if (al == strlen("DW_AT_name") && memcmp(at, "DW_AT_name", al) == 0) {
				snprintf(names[depth], sizeof names[depth], "%s", val);
			} else if (compared(at, al) && npending < 64) {
				char *q = al == strlen("DW_AT_type") && !memcmp(at, "DW_AT_type", al)
					  ? strchr(val, '"') : NULL;
				/* A constant prints in hex or decimal by its form: compare values. */
				char num[32];
				unsigned long long v;
				int used = 0;
				if (!q && sscanf(val, "(0x%llx)%n", &v, &used) == 1 && !val[used]) {
					snprintf(num, sizeof num, "(%llu)", v);
					q = num;
				}
				snprintf(pending[npending++], sizeof pending[0], "%.*s %s", (int)al,
					 at, q ? q : val);
			}
		}
	}
	free(dump);
	/* Sort (insertion: a few hundred lines) and join. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char *t = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = t;
		}
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(lines[i]) + 1;
	char *out = malloc(total);
	CU_ASSERT_FATAL(out != NULL);
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	return out;
}

/* Every line of want appears in got (clang's file has more: functions, its own unit). */
static void expect_lines(const char *want, const char *got)
{
	char *copy = dup(want), *save = NULL;
	int missing = 0;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char needle[600];
		snprintf(needle, sizeof needle, "%s\n", l);
		const char *p = got;
		bool found = false;
		while ((p = strstr(p, needle))) {
			if (p == got || p[-1] == '\n') {
				found = true;
				break;
			}
			p++;
		}
		if (!found) {
			fprintf(stderr, "dwarf_rich: missing: %s\n", l);
			missing++;
		}
	}
	free(copy);
	CU_ASSERT_EQUAL(missing, 0);
}

/* ---- the test ------------------------------------------------------------------------ */

static const char SRC[] =
	"struct bf { int a : 3; unsigned b : 5; int c; union { int x; float y; } u;\n"
	"  struct { int p; }; } __attribute__((aligned(8)));\n"
	"enum E { NEG = -3, POS = 5 };\n"
	"enum U : unsigned { TOP = 0xfffffff0u };\n"
	"typedef int (*fp)(int, ...);\n"
	"struct opaque;\n"
	"typedef int myint;\n"
	"struct bf g;\n"
	"enum E e;\n"
	"enum U u;\n"
	"int arr[3][4];\n"
	"int (*pu)[];\n"
	"fp f;\n"
	"volatile int *restrict rp;\n"
	"struct opaque *op;\n"
	"int (*kr)();\n"
	"myint mi;\n"
	"const volatile char cv[2];\n"
	"enum W : unsigned __int128 { BIG = (unsigned __int128)1 << 100, SMALL = 1 };\n"
	"enum W w;\n"
	"typedef int aligned_int __attribute__((aligned(16)));\n"
	"aligned_int ai;\n";

/* The records of SRC, one by one. */
static void build_rich(struct state *s)
{
	base(s, 1, "int", 4, REC_ENC_SIGNED);
	base(s, 2, "unsigned int", 4, REC_ENC_UNSIGNED);
	base(s, 3, "float", 4, REC_ENC_FLOAT);
	base(s, 4, "char", 1, REC_ENC_SIGNED_CHAR);
	aggregate(s, 10, REC_TYPE_STRUCT, "bf", 16, 0, 8,
		  "a:1:0:3:0 b:2:0:5:3 c:1:4 u:11:8 :12:12");
	aggregate(s, 11, REC_TYPE_UNION, NULL, 4, 10, 0, "x:1:0 y:3:0");
	aggregate(s, 12, REC_TYPE_STRUCT, NULL, 4, 10, 0, "p:1:0");
	static const struct rec_enumerator e[] = {
		{"NEG", (uint64_t)-3, UINT64_MAX, true}, {"POS", 5, 0, false}};
	enumeration(s, 13, "E", 4, 1, e, 2);
	static const struct rec_enumerator u[] = {{"TOP", 0xfffffff0u, 0, false}};
	enumeration(s, 14, "U", 4, 2, u, 1);
	array(s, 15, 1, (const uint64_t[]){3, 4}, 2);
	array(s, 16, 1, (const uint64_t[]){REC_DIM_UNKNOWN}, 1);
	modifier(s, 17, REC_TYPE_POINTER, NULL, 16);
	subroutine(s, 18, 1, (const uint64_t[]){1}, 1, true, false);
	modifier(s, 19, REC_TYPE_POINTER, NULL, 18);
	modifier(s, 20, REC_TYPE_TYPEDEF, "fp", 19);
	modifier(s, 21, REC_TYPE_VOLATILE, NULL, 1);
	modifier(s, 22, REC_TYPE_POINTER, NULL, 21);
	modifier(s, 23, REC_TYPE_RESTRICT, NULL, 22);
	struct rec_type *op = new_type(24, REC_TYPE_STRUCT, "opaque");
	op->decl = true;
	put_type(s, op);
	modifier(s, 25, REC_TYPE_POINTER, NULL, 24);
	subroutine(s, 26, 1, NULL, 0, false, true);
	modifier(s, 27, REC_TYPE_POINTER, NULL, 26);
	modifier(s, 28, REC_TYPE_TYPEDEF, "myint", 1);
	modifier(s, 29, REC_TYPE_VOLATILE, NULL, 4);
	modifier(s, 30, REC_TYPE_CONST, NULL, 29);
	array(s, 31, 30, (const uint64_t[]){2}, 1);
	base(s, 32, "unsigned __int128", 16, REC_ENC_UNSIGNED);
	static const struct rec_enumerator w[] = {
		{"BIG", 0, 1ull << 36, false}, {"SMALL", 1, 0, false}};
	enumeration(s, 33, "W", 16, 32, w, 2);
	struct rec_type *ai = new_type(34, REC_TYPE_TYPEDEF, "aligned_int");
	ai->to = 1;
	ai->align = 16;
	put_type(s, ai);
	struct rec_type *ab = new_type(35, REC_TYPE_BASE, "aligned_long");
	ab->size = 8;
	ab->enc = REC_ENC_SIGNED;
	ab->align = 32;
	put_type(s, ab);
	const char *names[] = {"g", "e", "u", "arr", "pu", "f", "rp", "op", "kr", "mi", "cv", "w",
			       "ai"};
	uint64_t types[] = {10, 13, 14, 15, 17, 20, 23, 25, 27, 28, 31, 33, 34};
	for (int i = 0; i < 13; i++)
		global(s, (uint64_t)i + 1, names[i], types[i]);
	CU_ASSERT_FATAL(state_rebuild_types(s) == 0);
}

static void test_types_like_clang(void)
{
	char dir[PATH_MAX], src[PATH_MAX + 16], obj[PATH_MAX + 16], ours[PATH_MAX + 16];
	unit_suite_dir(dir, sizeof dir, "dwarf_rich");
	unit_fmt(src, sizeof src, "%s/rich.c", dir);
	unit_fmt(obj, sizeof obj, "%s/rich.o", dir);
	unit_fmt(ours, sizeof ours, "%s/rich.dwarf", dir);
	unit_write_file(src, SRC, strlen(SRC));
	CU_ASSERT_FATAL(unit_sh("clang-16 -target x86_64-apple-macos11 -g -gdwarf-4 "
				"-Wno-fixed-enum-extension -c '%s' -o '%s'", src, obj) == 0);

	struct state s;
	init_state(&s, 0);
	build_rich(&s);
	write_state(&s, ours);
	state_release(&s);
	verify_clean(ours);

	char *want = describe(obj);
	char *got = describe(ours);
	/* The oracle has what the comparison is meant to cover. */
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "DW_TAG_member /(\"bf\")/(\"u\") DW_AT_type \"bf::union \")"));
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "DW_AT_const_value (4294967280)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "DW_AT_const_value (-3)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "DW_AT_const_value (<0x10> 00 00"));
	CU_ASSERT_PTR_NOT_NULL(strstr(want, "DW_AT_alignment (8)"));
	expect_lines(want, got);
	/* What clang-16 leaves out at DWARF 4 but a record may ask for. */
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "DW_TAG_typedef /(\"aligned_int\") DW_AT_alignment (16)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(got, "DW_TAG_base_type /(\"aligned_long\") DW_AT_alignment (32)"));
	free(want);
	free(got);
}

/* ---- functions ------------------------------------------------------------------------ */

#define WORK_PC 0x100001000ull

static struct rec_loc loc(enum rec_loc_kind kind, uint32_t reg, int64_t value)
{
	return (struct rec_loc){.kind = kind, .reg = reg, .value = value};
}

static struct rec_fn *new_fn(uint64_t id, const char *name, uint32_t line)
{
	struct rec_fn *f = rec_fn_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = id;
	f->name = dup(name);
	f->file = 1;
	f->line = line;
	f->ret = 1;
	return f;
}

static void add_param(struct rec_fn *f, const char *name, uint64_t type, struct rec_loc l,
		      uint32_t line)
{
	struct rec_param *p = realloc(f->params, (f->nparams + 1) * sizeof *p);
	CU_ASSERT_FATAL(p != NULL);
	f->params = p;
	p[f->nparams++] = (struct rec_param){dup(name), type, l, line};
}

static void add_var(struct rec_fn *f, const char *name, uint64_t type, struct rec_loc l,
		    uint32_t line, uint32_t block)
{
	struct rec_var *v = realloc(f->vars, (f->nvars + 1) * sizeof *v);
	CU_ASSERT_FATAL(v != NULL);
	f->vars = v;
	v[f->nvars++] = (struct rec_var){dup(name), type, l, line, block};
}

static void add_block(struct rec_fn *f, uint64_t from, uint64_t to, uint32_t parent,
		      uint64_t origin, uint32_t call_line, uint32_t call_col)
{
	struct rec_block *b = realloc(f->blocks, (f->nblocks + 1) * sizeof *b);
	CU_ASSERT_FATAL(b != NULL);
	f->blocks = b;
	struct rec_range *r = malloc(sizeof *r);
	CU_ASSERT_FATAL(r != NULL);
	*r = (struct rec_range){from, to};
	b[f->nblocks++] = (struct rec_block){1, r, parent, origin, origin ? 1 : 0, call_line,
					    call_col};
}

/* An abstract `inl` (a parameter t, two locals u) inlined into `work`, which has
 * parameters of every location kind, locals at its own scope and in nested blocks, and
 * the concrete instances of inl's t and second u in the inlined block. */
static void build_fns(struct state *s)
{
	base(s, 1, "int", 4, REC_ENC_SIGNED);
	base(s, 2, "long", 8, REC_ENC_SIGNED);
	struct rec_fn *inl = new_fn(100, "inl", 3);
	inl->abstract = true;
	add_param(inl, "t", 1, loc(REC_LOC_NONE, 0, 0), 3);
	add_var(inl, "u", 1, loc(REC_LOC_NONE, 0, 0), 4, 0);
	add_var(inl, "u", 2, loc(REC_LOC_NONE, 0, 0), 6, 0);
	CU_ASSERT_FATAL(dwarf_encode_fn(inl) == 0);
	CU_ASSERT_FATAL(state_put_fn(s, NULL, inl) == 0);
	rec_fn_unref(inl);

	struct rec_fn *f = new_fn(200, "work", 10);
	f->low_pc = WORK_PC;
	f->size = 0x80;
	f->linkage = dup("_work");
	f->frame_base = loc(REC_LOC_REG, 6, 0);
	f->optimized = true;
	f->variadic = true;
	add_param(f, "a", 1, loc(REC_LOC_FBREG, 0, -20), 10);
	add_param(f, "b", 1, loc(REC_LOC_CONST, 0, -3), 0);
	add_param(f, "", 2, loc(REC_LOC_REG, 5, 0), 0);
	add_var(f, "x", 1, loc(REC_LOC_FBREG, 0, -24), 11, 0);
	add_var(f, "y", 1, loc(REC_LOC_REG, 3, 0), 13, 1);
	add_var(f, "z", 2, loc(REC_LOC_BREG, 7, 8), 14, 2);
	add_var(f, "t", 0, loc(REC_LOC_REG, 5, 0), 0, 3);
	add_var(f, "u", 0, loc(REC_LOC_REG, 4, 0), 6, 3);
	add_var(f, "big", 2, loc(REC_LOC_REG, 40, 0), 15, 1);
	add_var(f, "k", 2, loc(REC_LOC_CONST, 0, 7), 16, 0);
	add_block(f, 0x10, 0x40, 0, 0, 0, 0);
	add_block(f, 0x20, 0x30, 1, 0, 0, 0);
	add_block(f, 0x50, 0x60, 0, 100, 20, 7);
	CU_ASSERT_FATAL(dwarf_encode_fn(f) == 0);
	CU_ASSERT_FATAL(state_put_fn(s, NULL, f) == 0);
	rec_fn_unref(f);

	/* Two functions with lists, so the second's offsets follow the first's lists. */
	for (uint64_t id = 300; id <= 301; id++) {
		struct rec_fn *g = new_fn(id, id == 300 ? "lists_a" : "lists_b", 30);
		g->low_pc = WORK_PC + (id - 299) * 0x1000;
		g->size = 0x100;
		struct rec_loc_entry *e = calloc(2, sizeof *e);
		CU_ASSERT_FATAL(e != NULL);
		e[0] = (struct rec_loc_entry){0, 0x9, loc(REC_LOC_REG, 5, 0)};
		e[1] = (struct rec_loc_entry){0x9, 0xe, loc(REC_LOC_CONST, 0, -2)};
		add_param(g, "p", 1, (struct rec_loc){.kind = REC_LOC_LIST, .len = 2, .entries = e},
			  30);
		add_block(g, 0x10, 0x24, 0, 0, 0, 0);
		struct rec_range *r = realloc(g->blocks[0].ranges, 2 * sizeof *r);
		CU_ASSERT_FATAL(r != NULL);
		r[1] = (struct rec_range){0x40, 0x48};
		g->blocks[0].ranges = r;
		g->blocks[0].nranges = 2;
		add_var(g, "q", 1, loc(REC_LOC_FBREG, 0, -4), 31, 1);
		CU_ASSERT_FATAL(dwarf_encode_fn(g) == 0);
		CU_ASSERT_FATAL(state_put_fn(s, NULL, g) == 0);
		rec_fn_unref(g);
	}
	CU_ASSERT_FATAL(state_rebuild_types(s) == 0);
}

/* Each needle occurs in text, in this order; returns where the last one starts. */
static const char *expect_in_order(const char *text, const char *const *needles)
{
	const char *p = text, *last = NULL;
	for (int i = 0; needles[i]; i++) {
		const char *q = strstr(p, needles[i]);
		if (!q)
			fprintf(stderr, "dwarf_rich: not found (in order): %s\n", needles[i]);
		CU_ASSERT_PTR_NOT_NULL(q);
		if (!q)
			return NULL;
		last = q;
		p = q + strlen(needles[i]);
	}
	return last;
}

/* The offset llvm-dwarfdump prints for the DIE at or before p. */
static unsigned long die_offset(const char *text, const char *p)
{
	while (p > text && !(p[0] == '0' && p[1] == 'x' && (p == text || p[-1] == '\n')))
		p--;
	return strtoul(p, NULL, 16);
}

static void check_work(const char *path, uint64_t pc)
{
	char *dump = unit_sh_out("llvm-dwarfdump-16 --debug-info '%s'", path);
	CU_ASSERT_FATAL(dump != NULL);
	char lo[64], hi[64], b1[64], b2[64], b3[64];
	snprintf(lo, sizeof lo, "DW_AT_low_pc\t(0x%016llx)", (unsigned long long)pc);
	snprintf(hi, sizeof hi, "DW_AT_high_pc\t(0x%016llx)", (unsigned long long)pc + 0x80);
	snprintf(b1, sizeof b1, "DW_AT_low_pc\t(0x%016llx)", (unsigned long long)pc + 0x10);
	snprintf(b2, sizeof b2, "DW_AT_low_pc\t(0x%016llx)", (unsigned long long)pc + 0x20);
	snprintf(b3, sizeof b3, "DW_AT_low_pc\t(0x%016llx)", (unsigned long long)pc + 0x50);
	const char *abstract[] = {
		"DW_TAG_subprogram", "DW_AT_name\t(\"inl\")", "DW_AT_inline\t(DW_INL_inlined)",
		"DW_TAG_formal_parameter", "DW_AT_name\t(\"t\")",
		"DW_TAG_variable", "DW_AT_name\t(\"u\")", "DW_AT_decl_line\t(4)",
		"DW_TAG_variable", "DW_AT_name\t(\"u\")", NULL};
	/* The declarations unit stays C99; the compile unit has its file's language. */
	const char *langs[] = {"DW_AT_language\t(DW_LANG_C99)", "DW_AT_language\t(DW_LANG_C11)",
			       NULL};
	expect_in_order(dump, langs);
	const char *second_u = expect_in_order(dump, abstract);
	CU_ASSERT_FATAL(second_u != NULL);
	unsigned long u6 = die_offset(dump, second_u);
	/* The abstract function has no pc: none between its name and work's. */
	const char *inl = strstr(dump, "(\"inl\")"), *work_at = strstr(dump, "(\"work\")");
	CU_ASSERT_FATAL(inl && work_at && inl < work_at);
	const char *inl_pc = strstr(inl, "DW_AT_low_pc");
	CU_ASSERT(inl_pc > work_at);
	char origin_u[64];
	snprintf(origin_u, sizeof origin_u, "DW_AT_abstract_origin\t(0x%016lx \"u\")", u6);
	const char *work[] = {
		"DW_AT_name\t(\"work\")", "DW_AT_linkage_name\t(\"_work\")", lo, hi,
		"DW_AT_frame_base\t(DW_OP_reg6 RBP)", "DW_AT_decl_line\t(10)",
		"DW_AT_prototyped\t(true)", "DW_AT_type\t(", "\"int\")",
		"DW_AT_APPLE_optimized\t(true)",
		"DW_TAG_formal_parameter", "DW_AT_name\t(\"a\")", "DW_AT_decl_line\t(10)",
		"DW_AT_location\t(DW_OP_fbreg -20)",
		"DW_TAG_formal_parameter", "DW_AT_name\t(\"b\")", "DW_AT_const_value\t(-3)",
		"DW_TAG_formal_parameter", "\"long\")", "DW_AT_location\t(DW_OP_reg5 RDI)",
		"DW_TAG_unspecified_parameters",
		"DW_TAG_variable", "DW_AT_name\t(\"x\")", "DW_AT_location\t(DW_OP_fbreg -24)",
		"DW_TAG_variable", "DW_AT_name\t(\"k\")", "DW_AT_const_value\t(7)",
		"DW_TAG_lexical_block", b1, "DW_AT_high_pc",
		"DW_TAG_variable", "DW_AT_name\t(\"y\")", "DW_AT_location\t(DW_OP_reg3 RBX)",
		"DW_TAG_variable", "DW_AT_name\t(\"big\")", "DW_AT_location\t(DW_OP_regx",
		"DW_TAG_lexical_block", b2,
		"DW_TAG_variable", "DW_AT_name\t(\"z\")", "DW_AT_location\t(DW_OP_breg7 RSP+8)",
		"NULL", "NULL",
		"DW_TAG_inlined_subroutine", "\"inl\")", b3, "DW_AT_call_file\t(\"/src/rich.c\")",
		"DW_AT_call_line\t(20)", "DW_AT_call_column\t(0x00000007)",
		"DW_TAG_formal_parameter", "DW_AT_abstract_origin\t(", "\"t\")",
		"DW_AT_location\t(DW_OP_reg5 RDI)",
		"DW_TAG_variable", origin_u, "DW_AT_location\t(DW_OP_reg4 RSI)",
		"NULL", "NULL", NULL};
	expect_in_order(second_u, work);

	/* lists_b's lists follow lists_a's: a location list of a base selection, an entry
	 * of DW_OP_reg5 (1 byte), one of consts -2, stack_value (3 bytes), an end (16 + 19
	 * + 21 + 16 bytes); a range list of a base selection, two ranges, an end (64). */
	char loc_b[64], ranges_b[64];
	snprintf(loc_b, sizeof loc_b, "DW_AT_location\t(0x%08x: ", 16 + 19 + 21 + 16);
	snprintf(ranges_b, sizeof ranges_b, "DW_AT_ranges\t(0x%08x", 4 * 16);
	const char *lists[] = {
		"(\"lists_a\")", "DW_AT_location\t(0x00000000: ",
		"[0x0000000100002000, 0x0000000100002009): DW_OP_reg5 RDI",
		"[0x0000000100002009, 0x000000010000200e): DW_OP_consts -2, DW_OP_stack_value)",
		"DW_AT_ranges\t(0x00000000", "[0x0000000100002010, 0x0000000100002024)",
		"[0x0000000100002040, 0x0000000100002048))", "(\"q\")",
		"(\"lists_b\")", loc_b,
		"[0x0000000100003000, 0x0000000100003009): DW_OP_reg5 RDI",
		"[0x0000000100003009, 0x000000010000300e): DW_OP_consts -2, DW_OP_stack_value)",
		ranges_b, "[0x0000000100003010, 0x0000000100003024)",
		"[0x0000000100003040, 0x0000000100003048))", "(\"q\")", NULL};
	expect_in_order(dump, lists);
	free(dump);
}

static void test_functions(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], moved[PATH_MAX + 16];
	unit_suite_dir(dir, sizeof dir, "dwarf_rich");
	unit_fmt(path, sizeof path, "%s/fns.dwarf", dir);
	unit_fmt(moved, sizeof moved, "%s/moved.dwarf", dir);
	struct state s;
	init_state(&s, 0x1d);  /* DW_LANG_C11 */
	build_fns(&s);
	write_state(&s, path);
	verify_clean(path);
	check_work(path, WORK_PC);

	/* A move keeps the fragments' bytes: every pc follows the new low_pc. */
	struct rec_fn *old = ptree_get(&s.fn_by_id, state_id_key(200));
	CU_ASSERT_FATAL(old != NULL);
	struct rec_fn *f = rec_fn_clone(old);
	CU_ASSERT_FATAL(f != NULL);
	f->low_pc = WORK_PC + 0x10000;
	CU_ASSERT_FATAL(dwarf_copy_encoding(f, old) == 0);
	CU_ASSERT_FATAL(state_put_fn(&s, old, f) == 0);
	rec_fn_unref(f);
	write_state(&s, moved);
	verify_clean(moved);
	check_work(moved, WORK_PC + 0x10000);
	state_release(&s);
}

/* A function with one parameter whose location list has n entries of DW_OP_reg5. */
static struct rec_fn *list_fn(uint64_t id, uint64_t low_pc, uint32_t n)
{
	struct rec_fn *f = new_fn(id, id == 1 ? "first" : "second", 40);
	f->low_pc = low_pc;
	f->size = 0x100;
	struct rec_loc_entry *e = calloc(n, sizeof *e);
	CU_ASSERT_FATAL(e != NULL);
	for (uint32_t i = 0; i < n; i++)
		e[i] = (struct rec_loc_entry){i * 8, i * 8 + 8, loc(REC_LOC_REG, 5, 0)};
	add_param(f, "p", 1, (struct rec_loc){.kind = REC_LOC_LIST, .len = n, .entries = e}, 40);
	CU_ASSERT_FATAL(dwarf_encode_fn(f) == 0);
	return f;
}

/* The .debug_loc offset llvm-dwarfdump shows for `second`'s parameter. */
static unsigned long second_list_offset(const char *path)
{
	char *dump = unit_sh_out("llvm-dwarfdump-16 --debug-info '%s'", path);
	CU_ASSERT_FATAL(dump != NULL);
	const char *p = strstr(dump, "(\"second\")");
	CU_ASSERT_FATAL(p != NULL);
	p = strstr(p, "DW_AT_location\t(0x");
	CU_ASSERT_FATAL(p != NULL);
	unsigned long off = strtoul(p + strlen("DW_AT_location\t("), NULL, 16);
	free(dump);
	return off;
}

/* A chunk rendered once keeps its bytes only while the lists before it keep their size:
 * `second` (another chunk of the same unit) must point past `first`'s grown list. */
static void test_list_offsets_follow(void)
{
	char dir[PATH_MAX], one[PATH_MAX + 16], two[PATH_MAX + 16];
	unit_suite_dir(dir, sizeof dir, "dwarf_rich");
	unit_fmt(one, sizeof one, "%s/lists1.dwarf", dir);
	unit_fmt(two, sizeof two, "%s/lists2.dwarf", dir);
	struct state s;
	init_state(&s, 0);
	base(&s, 1, "int", 4, REC_ENC_SIGNED);
	CU_ASSERT_FATAL(state_rebuild_types(&s) == 0);
	struct rec_fn *a = list_fn(1, 0x100001000, 2), *b = list_fn(1000, 0x100002000, 1);
	CU_ASSERT_FATAL(state_put_fn(&s, NULL, a) == 0);
	CU_ASSERT_FATAL(state_put_fn(&s, NULL, b) == 0);
	rec_fn_unref(a);
	rec_fn_unref(b);
	write_state(&s, one);
	verify_clean(one);
	/* A list: a base selection, per entry a pair, a 2-byte length and DW_OP_reg5, an
	 * end. */
	CU_ASSERT_EQUAL(second_list_offset(one), 16 + 2 * (16 + 2 + 1) + 16);

	struct rec_fn *grown = list_fn(1, 0x100001000, 5);
	CU_ASSERT_FATAL(state_put_fn(&s, ptree_get(&s.fn_by_id, state_id_key(1)), grown) == 0);
	rec_fn_unref(grown);
	write_state(&s, two);
	verify_clean(two);
	CU_ASSERT_EQUAL(second_list_offset(two), 16 + 5 * (16 + 2 + 1) + 16);
	state_release(&s);
}

/* Scopes that nest in a cycle (the commit refuses them, a table must not loop or lose a
 * type): each type is laid out once, and the file stays valid. */
static void test_scope_cycle(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	unit_suite_dir(dir, sizeof dir, "dwarf_rich");
	unit_fmt(path, sizeof path, "%s/cycle.dwarf", dir);
	struct state s;
	init_state(&s, 0);
	base(&s, 1, "int", 4, REC_ENC_SIGNED);
	aggregate(&s, 2, REC_TYPE_STRUCT, "ring_a", 4, 3, 0, "a:1:0");
	aggregate(&s, 3, REC_TYPE_STRUCT, "ring_b", 4, 2, 0, "b:1:0");
	aggregate(&s, 4, REC_TYPE_UNION, "inner", 4, 3, 0, "c:1:0");
	aggregate(&s, 5, REC_TYPE_STRUCT, "self", 4, 5, 0, "d:1:0");
	CU_ASSERT_FATAL(state_rebuild_types(&s) == 0);
	write_state(&s, path);
	state_release(&s);
	verify_clean(path);
	char *dump = unit_sh_out("llvm-dwarfdump-16 --debug-info '%s'", path);
	CU_ASSERT_FATAL(dump != NULL);
	const char *names[] = {"(\"ring_a\")", "(\"ring_b\")", "(\"inner\")", "(\"self\")"};
	for (int i = 0; i < 4; i++) {
		const char *p = strstr(dump, names[i]);
		CU_ASSERT_PTR_NOT_NULL(p);
		CU_ASSERT(p && !strstr(p + 1, names[i]));  /* once */
	}
	free(dump);
}

/* ---- lldb ------------------------------------------------------------------------------ */

static const char PROG[] =
	"struct pt { int x, y; };\n"
	"struct pt g_pt = {3, 4};\n"
	"int work(int a) { int s = 0; for (int i = 0; i < a; i++) s += i * g_pt.x; return s; }\n"
	"void _start(void) { g_pt.y = work(g_pt.y); for (;;) ; }\n";

/* The address of a symbol of exe, from llvm-nm-16. */
static uint64_t nm_addr(const char *exe, const char *sym)
{
	char *out = unit_sh_out("llvm-nm-16 '%s' | awk '$3 == \"%s\" { print $1 }'", exe, sym);
	CU_ASSERT_FATAL(out != NULL && *out);
	uint64_t v = strtoull(out, NULL, 16);
	free(out);
	return v;
}

/* lldb-16 on a real executable with the DWARF built from records: it reads a global
 * through its struct type, and at an address inside work's blocks names the block
 * scopes (the inlined one by its origin) and the variables in them with their
 * locations, and a location list's entry for that pc. Expected text comes from the
 * records. */
static void test_lldb_reads_it(void)
{
	char dir[PATH_MAX], exe[PATH_MAX + 16], dw[PATH_MAX + 16], src[PATH_MAX + 16];
	unit_suite_dir(dir, sizeof dir, "dwarf_rich");
	unit_fmt(src, sizeof src, "%s/prog.c", dir);
	unit_fmt(exe, sizeof exe, "%s/prog", dir);
	unit_fmt(dw, sizeof dw, "%s/prog.dwarf", dir);
	unit_write_file(src, PROG, strlen(PROG));
	const char *srcs[] = {"prog.c"};
	unit_build_macho(dir, "x86_64", "-O1", "prog", srcs, 1);
	uint64_t work = nm_addr(exe, "_work"), start = nm_addr(exe, "__start");
	uint64_t gpt = nm_addr(exe, "_g_pt");
	CU_ASSERT_FATAL(work && start > work + 8 && gpt);

	struct macho_exe me;
	char err[256];
	CU_ASSERT_FATAL(macho_read_exe(exe, &me, err, sizeof err) == 0);
	struct state s;
	CU_ASSERT_FATAL(state_init(&s, &me.ident, &me.segtab) == 0);
	macho_exe_free(&me);
	struct rec_file *file = rec_file_new();
	CU_ASSERT_FATAL(file != NULL);
	file->id = 1;
	file->path = dup("prog.c");
	file->dir = dup(dir);
	CU_ASSERT_FATAL(state_put(&s.files, state_id_key(1), file) == 0);
	rec_file_unref(file);
	CU_ASSERT_FATAL(state_rebuild_files(&s) == 0);

	base(&s, 1, "int", 4, REC_ENC_SIGNED);
	aggregate(&s, 2, REC_TYPE_STRUCT, "pt", 8, 0, 0, "x:1:0 y:1:4");
	struct rec_global *g = rec_global_new();
	CU_ASSERT_FATAL(g != NULL);
	*g = (struct rec_global){.refs = 1, .id = 1, .name = dup("g_pt"), .type = 2, .addr = gpt,
				 .file = 1, .line = 2, .ext = true};
	CU_ASSERT_FATAL(state_put_global(&s, NULL, g) == 0);
	rec_global_unref(g);

	struct rec_fn *inl = new_fn(10, "step", 1);
	inl->abstract = true;
	add_param(inl, "v", 1, loc(REC_LOC_NONE, 0, 0), 1);
	CU_ASSERT_FATAL(dwarf_encode_fn(inl) == 0);
	CU_ASSERT_FATAL(state_put_fn(&s, NULL, inl) == 0);
	rec_fn_unref(inl);

	uint64_t size = start - work, half = size / 2;
	struct rec_fn *f = new_fn(20, "work", 3);
	f->low_pc = work;
	f->size = size;
	f->frame_base = loc(REC_LOC_REG, 7, 0);
	add_param(f, "a", 1, loc(REC_LOC_REG, 5, 0), 3);
	struct rec_loc_entry *e = calloc(2, sizeof *e);
	CU_ASSERT_FATAL(e != NULL);
	e[0] = (struct rec_loc_entry){0, half, loc(REC_LOC_REG, 0, 0)};
	e[1] = (struct rec_loc_entry){half, size, loc(REC_LOC_CONST, 0, 9)};
	add_var(f, "s", 1, (struct rec_loc){.kind = REC_LOC_LIST, .len = 2, .entries = e}, 3, 0);
	add_var(f, "i", 1, loc(REC_LOC_REG, 3, 0), 3, 1);
	add_var(f, "v", 0, loc(REC_LOC_REG, 2, 0), 0, 2);
	add_block(f, 1, size, 0, 0, 0, 0);
	add_block(f, half, size, 1, 10, 3, 40);
	f->rows = calloc(1, sizeof *f->rows);
	CU_ASSERT_FATAL(f->rows != NULL);
	f->rows[0] = (struct rec_row){0, 3, 1, REC_ROW_STMT, 0};
	f->nrows = 1;
	CU_ASSERT_FATAL(dwarf_encode_fn(f) == 0);
	CU_ASSERT_FATAL(state_put_fn(&s, NULL, f) == 0);
	rec_fn_unref(f);
	CU_ASSERT_FATAL(state_rebuild_types(&s) == 0);
	write_state(&s, dw);
	state_release(&s);
	verify_clean(dw);

	char *out = unit_sh_out("lldb-16 -b -o 'target create %s' -o 'target symbols add %s' "
				"-o 'target variable g_pt' -o 'image lookup -v -a 0x%llx' "
				"-o 'image lookup -v -a 0x%llx' 2>&1",
				exe, dw, (unsigned long long)(work + 1),
				(unsigned long long)(work + half));
	CU_ASSERT_FATAL(out != NULL);
	char r1[96], r2[96];
	snprintf(r1, sizeof r1, "range = [0x%llx-0x%llx)", (unsigned long long)work + 1,
		 (unsigned long long)(work + size));
	snprintf(r2, sizeof r2, "range = [0x%llx-0x%llx), name = \"step\", decl = prog.c:1",
		 (unsigned long long)(work + half), (unsigned long long)(work + size));
	const char *want[] = {
		"(pt) g_pt = (x = 3, y = 4)",
		"image lookup -v -a", "Function: ", "name = \"work\"", "Blocks: ", r1,
		"name = \"i\", type = \"int\", valid ranges = <block>, location = DW_OP_reg3 RBX",
		"name = \"a\", type = \"int\", valid ranges = <block>, location = DW_OP_reg5 RDI",
		"name = \"s\", type = \"int\"", "-> DW_OP_reg0 RAX",
		"image lookup -v -a", "[inlined] step", "name = \"work\"", r2,
		/* the concrete parameter: its name, type and line are its origin's */
		"name = \"v\", type = \"int\", valid ranges = <block>, location = DW_OP_reg2 RCX, "
		"decl = prog.c:1",
		"name = \"s\", type = \"int\"", "-> DW_OP_consts +9, DW_OP_stack_value", NULL};
	if (!expect_in_order(out, want))
		fprintf(stderr, "%s\n", out);
	free(out);
}

static const struct unit_test dwarf_rich_tests[] = {
	{"types_like_clang", test_types_like_clang},
	{"functions", test_functions},
	{"list_offsets_follow", test_list_offsets_follow},
	{"scope_cycle", test_scope_cycle},
	{"lldb_reads_it", test_lldb_reads_it},
	{NULL, NULL},
};

UNIT_SUITE(dwarf_rich, dwarf_rich_tests)
