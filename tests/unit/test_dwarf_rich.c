/* Suite dwarf_rich: the DIEs of rich debug info (struct, union, enum, array, subroutine,
 * volatile and restrict types, bit-fields, anonymous and nested members, globals),
 * built from records made in C, laid out by state_rebuild_types, rendered by gen_read.
 * The oracle is clang-16: a C file declaring the same things is compiled with -gdwarf-4
 * for a Mach-O target, and llvm-dwarfdump-16 must describe every variable, member,
 * enumerator and named type of it the same way in both files (type names as it prints
 * them, offsets, bit-fields, sizes, counts, alignments, values). Every generation must
 * pass llvm-dwarfdump-16 --verify without a warning. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf.h"
#include "gen.h"
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
	CU_ASSERT_FATAL(state_put(&s->globals, state_id_key(id), g) == 0);
	rec_global_unref(g);
}

static void init_state(struct state *s)
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
	CU_ASSERT_FATAL(state_put(&s->files, state_id_key(1), f) == 0);
	rec_file_unref(f);
	CU_ASSERT_FATAL(state_rebuild_files(s) == 0);
}

/* Renders a state's generation to path (read in odd-sized pieces, so that reads start
 * and end inside DIEs and slots). */
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
	"enum W w;\n";

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
	const char *names[] = {"g", "e", "u", "arr", "pu", "f", "rp", "op", "kr", "mi", "cv", "w"};
	uint64_t types[] = {10, 13, 14, 15, 17, 20, 23, 25, 27, 28, 31, 33};
	for (int i = 0; i < 12; i++)
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
	init_state(&s);
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
	free(want);
	free(got);
}

static const struct unit_test dwarf_rich_tests[] = {
	{"types_like_clang", test_types_like_clang},
	{NULL, NULL},
};

UNIT_SUITE(dwarf_rich, dwarf_rich_tests)
