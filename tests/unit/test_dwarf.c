/* Suite dwarf: core/dwarf.c's encoders, seen through llvm-dwarfdump-16 on files rendered
 * by the core (ctl_run_script -> image -> gen_read). Line programs: rows of every flag
 * combination, line deltas inside and outside the special-opcode window, address deltas
 * at each boundary of the special opcodes and beyond 255, columns that need multi-byte
 * ULEB128s, rows in a second file, line 0 rows, and line shifts; every row llvm-dwarfdump
 * decodes must be the row that was sent, and every sequence must end at low_pc + size.
 * Types: every base encoding, pointers and consts of void, typedefs, resolved through
 * DW_FORM_ref_addr from the functions that use them. Aranges: each function once, under
 * its own unit. Expected values are the rows and records the test sends, as decoded by
 * llvm-dwarfdump, never bytes copied from the encoder. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl.h"
#include "enc.h"
#include "gen.h"
#include "image.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------------------- */

static void fmt_path(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fmt_path(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	CU_ASSERT_FATAL(n >= 0 && (size_t)n < outlen);
}

static void tmp_path(char *out, size_t outlen, const char *name)
{
	char dir[PATH_MAX];
	fmt_path(dir, sizeof dir, "%s/dwarf", unit_tmpdir());
	CU_ASSERT_FATAL(mkdir(dir, 0755) == 0 || errno == EEXIST);
	fmt_path(out, outlen, "%s/%s", dir, name);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

static void copy_str(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);
	memcpy(dst, src, len);
	dst[len] = 0;
}

static char *tool_out(const char *fmt, const char *path)
{
	char *out = unit_sh_out(fmt, path);
	if (!out) {
		fprintf(stderr, "dwarf: ");
		fprintf(stderr, fmt, path);
		fprintf(stderr, " failed: is llvm-16 installed?\n");
	}
	CU_ASSERT_FATAL(out != NULL);
	return out;
}

/* Splits text into lines in place; the array points into text (caller frees it). */
static char **split_lines(char *text, size_t *n)
{
	size_t cap = 64, k = 0;
	char **lines = malloc(cap * sizeof *lines);
	CU_ASSERT_FATAL(lines != NULL);
	for (char *p = text; *p;) {
		if (k == cap) {
			cap *= 2;
			char **bigger = realloc(lines, cap * sizeof *bigger);
			CU_ASSERT_FATAL(bigger != NULL);
			lines = bigger;
		}
		lines[k++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	*n = k;
	return lines;
}

/* A registry with one image, "T", with a fixed UUID and the given arch, no executable. */
static struct ctl_registry *new_registry(bool arm64)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	struct ctl_registry *r = NULL;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	struct image_origin o = {.has_uuid = true, .has_arch = true};
	for (int i = 0; i < 16; i++)
		o.uuid[i] = (uint8_t)(0xa0 + i);
	o.cputype = arm64 ? 0x0100000cu : 0x01000007u;
	o.cpusubtype = arm64 ? 0 : 3;
	char err[256] = "";
	CU_ASSERT_FATAL(ctl_registry_add(r, "T", &o, err, sizeof err) == 0);
	return r;
}

static void run_ok(struct ctl_registry *r, const char *script)
{
	char err[512] = "";
	int rc = ctl_run_script(r, script, strlen(script), err, sizeof err);
	if (rc)
		fprintf(stderr, "dwarf: script failed: %d %s\n", rc, err);
	CU_ASSERT_FATAL(rc == 0);
}

/* Writes the image's current generation to path (read in 4 KiB pieces). */
static void write_current(struct ctl_registry *r, const char *path)
{
	struct gen *g = image_current(ctl_registry_find(r, "T"));
	uint64_t size = gen_size(g);
	uint8_t *buf = malloc(size);
	CU_ASSERT_FATAL(buf != NULL);
	for (uint64_t off = 0; off < size;) {
		ssize_t n = gen_read(g, off, buf + off, 4096);
		CU_ASSERT_FATAL(n > 0);
		off += (uint64_t)n;
	}
	write_file(path, buf, size);
	free(buf);
	gen_unref(g);
}

static void verify_clean(const char *path)
{
	char *out = unit_sh_out("llvm-dwarfdump-16 --verify '%s' 2>&1", path);
	if (!out || !strstr(out, "No errors.") || strstr(out, "warning:"))
		fprintf(stderr, "dwarf: llvm-dwarfdump-16 --verify %s:\n%s\n", path,
			out ? out : "(exit status not 0)");
	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "No errors."));
	CU_ASSERT_PTR_NULL(strstr(out, "warning:"));
	free(out);
}

/* ---- the line-table fixture ------------------------------------------------------------ */

#define LOW1 0x100001000ull
#define SIZE1 0x20000ull

/* Rows of function 1 (declared in /src/main.c at line 10). Each comment names the
 * encoder path the row exercises. */
struct xrow {
	uint32_t off;
	int32_t line;
	uint32_t col;
	const char *flags;   /* protocol letters; "" is none */
	uint64_t file;       /* 0: the function's file */
};

static const struct xrow ROWS1[] = {
	{0x0, 10, 1, "", 0},          /* no flags at all: negate_stmt first */
	{0x4, 11, 2, "s", 0},
	{0x8, 12, 3, "p", 0},
	{0xc, 13, 4, "e", 0},
	{0x10, 14, 5, "sp", 0},
	{0x14, 15, 6, "se", 0},
	{0x18, 16, 7, "pe", 0},
	{0x1c, 17, 8, "spe", 0},
	{0x20, 1017, 9, "s", 0},      /* line +1000: advance_line */
	{0x24, 17, 127, "s", 0},      /* line -1000; the largest 1-byte column */
	{0x25, 12, 128, "s", 0},      /* line -5, addr +1: special; 2-byte column */
	{0x36, 20, 0, "s", 0},        /* line +8, addr +17: past 255, advance_pc */
	{0x47, 15, 65535, "s", 0},    /* line -5, addr +17: special opcode 251 */
	{0x58, 24, 1, "s", 0},        /* line +9: advance_line, then special */
	{0x157, 18, 2, "s", 0},       /* addr +255 */
	{0x257, 19, 3, "s", 0},       /* addr +256 */
	{0x1257, 5, 4, "s", 2},       /* addr +4096, the header file */
	{0x1300, 6, 5, "sp", 2},
	{0x12467, 0, 0, "", 0},       /* addr +70000 (3-byte ULEB), line 0, own file */
	{0x12470, 0, 0, "s", 0},      /* line 0 again */
	{0x12480, 40, 3, "s", 0},     /* from line 0 to 40 */
	{0x12490, 41, 3, "e", 2},
	{0x124a0, 42, 1, "se", 0},    /* the last row: the sequence continues to the end */
};
#define NROWS1 (sizeof ROWS1 / sizeof ROWS1[0])

static const char FILES[] =
	"file 1 path=main.c dir=/src\n"
	"file 2 path=inc/util.h dir=/src\n"
	"file 3 path=/abs/other.c\n"
	"file 4 path=\"with space.c\" dir=\"/my dir\"\n";

static const char TYPES[] =
	"type 1 kind=base name=int size=4 enc=signed\n"
	"type 2 kind=base name=\"unsigned int\" size=4 enc=unsigned\n"
	"type 3 kind=base name=_Bool size=1 enc=bool\n"
	"type 4 kind=base name=double size=8 enc=float\n"
	"type 5 kind=base name=char size=1 enc=signed_char\n"
	"type 6 kind=base name=\"unsigned char\" size=1 enc=unsigned_char\n"
	"type 7 kind=base name=wide size=300 enc=unsigned\n"
	"type 9 kind=pointer to=0\n"
	"type 10 kind=const to=0\n"
	"type 11 kind=pointer to=10\n"
	"type 12 kind=const to=5\n"
	"type 13 kind=pointer to=12\n"
	"type 14 kind=typedef name=cstr to=13\n"
	"type 15 kind=typedef name=handle to=0\n"
	"type 16 kind=typedef name=count_t to=2\n";

/* Function 1's fn line, with its rows. */
static char *fn1_line(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	enc_buf_printf(&b, "fn 1 name=rows_fn low_pc=0x%llx size=0x%llx file=1 line=10 ret=14 "
		       "params=s:14,p:9,q:11,c:12,b:3,d:4,u:6,n:16,x:1,w:7,h:15 rows=",
		       (unsigned long long)LOW1, (unsigned long long)SIZE1);
	for (size_t i = 0; i < NROWS1; i++) {
		const struct xrow *r = &ROWS1[i];
		enc_buf_printf(&b, "%s0x%x:%d:%u:%s", i ? "," : "", r->off, r->line, r->col,
			       r->flags);
		if (r->file)
			enc_buf_printf(&b, ":%llu", (unsigned long long)r->file);
	}
	enc_buf_printf(&b, "\n");
	enc_buf_u8(&b, 0);
	CU_ASSERT_FATAL(!enc_buf_error(&b));
	size_t len;
	return (char *)enc_buf_take(&b, &len);
}

/* The other functions: every subprogram shape (void or not, with or without
 * parameters), one without rows, one with a single row, one declared in the header but
 * compiled into main.c's unit, and units for two more files. */
static const char OTHER_FNS[] =
	"fn 2 name=void_leaf low_pc=0x100030000 size=0x40 file=1 line=200\n"
	"fn 3 name=ret_leaf low_pc=0x100030040 size=0x10 file=1 line=210 ret=13 rows=0:211:3:sp\n"
	"fn 4 name=void_params low_pc=0x100030050 size=0x30 file=3 line=7 params=v:9,k:10 "
	"rows=0:7,0x10:8:2:sp,0x2f:9:1:se\n"
	"fn 5 name=inl low_pc=0x100030080 size=0x20 file=2 line=3 cu=1 ret=1 params=a:1 "
	"rows=0:3,8:4:5:sp,0x10:5:0:,0x18:2:1:e:1\n"
	"fn 6 name=\"with space\" low_pc=0x1000300a0 size=0x300 file=4 line=1 ret=16 "
	"rows=0:1,0x2ff:2\n";

struct fnx {
	uint64_t id;
	const char *name;
	uint64_t low, size;
	const char *decl_file;   /* the path llvm-dwarfdump shows for DW_AT_decl_file */
	const char *cu_name;     /* DW_AT_name of its compile unit */
	const char *ret;         /* type name, or NULL for void */
	const char *params[12][2];
};

static const struct fnx FNS[] = {
	{1, "rows_fn", LOW1, SIZE1, "/src/main.c", "main.c", "cstr",
	 {{"s", "cstr"}, {"p", "void *"}, {"q", "const void *"}, {"c", "const char"},
	  {"b", "_Bool"}, {"d", "double"}, {"u", "unsigned char"}, {"n", "count_t"},
	  {"x", "int"}, {"w", "wide"}, {"h", "handle"}}},
	{2, "void_leaf", 0x100030000, 0x40, "/src/main.c", "main.c", NULL, {{0}}},
	{3, "ret_leaf", 0x100030040, 0x10, "/src/main.c", "main.c", "const char *", {{0}}},
	{4, "void_params", 0x100030050, 0x30, "/abs/other.c", "/abs/other.c", NULL,
	 {{"v", "void *"}, {"k", "const void"}}},
	{5, "inl", 0x100030080, 0x20, "/src/inc/util.h", "main.c", "int", {{"a", "int"}}},
	{6, "with space", 0x1000300a0, 0x300, "/my dir/with space.c", "with space.c", "count_t",
	 {{0}}},
};
#define NFNS (sizeof FNS / sizeof FNS[0])

static char *base_script(void)
{
	char *fn1 = fn1_line();
	struct enc_buf b;
	enc_buf_init(&b);
	enc_buf_printf(&b, "section __TEXT __text addr=0x100001000 size=0x100000\n%s%s%s%s",
		       FILES, TYPES, fn1, OTHER_FNS);
	enc_buf_u8(&b, 0);
	free(fn1);
	CU_ASSERT_FATAL(!enc_buf_error(&b));
	size_t len;
	return (char *)enc_buf_take(&b, &len);
}

/* ---- llvm-dwarfdump --debug-line, parsed ------------------------------------------------ */

#define F_STMT 1u
#define F_PROLOGUE 2u
#define F_EPILOGUE 4u
#define F_END 8u

struct drow {
	uint64_t addr;
	unsigned line, col, flags;
	char file[128];   /* include directory + "/" + name, or the name alone */
};

struct seq {
	size_t nrows;       /* without the end_sequence row */
	struct drow rows[64];
	uint64_t end;       /* the end_sequence row's address */
};

struct lines {
	size_t nseqs;
	struct seq seqs[32];
};

static unsigned letters_to_flags(const char *s)
{
	unsigned f = 0;
	for (; *s; s++)
		f |= *s == 's' ? F_STMT : *s == 'p' ? F_PROLOGUE : *s == 'e' ? F_EPILOGUE : 0;
	return f;
}

static void read_lines(const char *path, struct lines *out)
{
	memset(out, 0, sizeof *out);
	char *text = tool_out("llvm-dwarfdump-16 --debug-line '%s'", path);
	size_t n;
	char **lines = split_lines(text, &n);
	char dirs[16][128], names[16][128];
	unsigned dir_of[16];
	unsigned ndirs = 0, pending = 0;
	struct seq *cur = &out->seqs[0];
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i];
		unsigned idx, di;
		char s[128];
		unsigned long long addr;
		unsigned line, col, file, isa, disc;
		int used;
		if (!strncmp(l, "debug_line[", 11)) {
			ndirs = 0;
			memset(names, 0, sizeof names);
		} else if (sscanf(l, "include_directories[ %u] = \"%127[^\"]\"", &idx, s) == 2) {
			CU_ASSERT_FATAL(idx >= 1 && idx < 16);
			copy_str(dirs[idx], sizeof dirs[idx], s);
			ndirs = idx;
		} else if (sscanf(l, "file_names[ %u]:", &idx) == 1) {
			CU_ASSERT_FATAL(idx >= 1 && idx < 16);
			pending = idx;
		} else if (sscanf(l, " name: \"%127[^\"]\"", s) == 1) {
			copy_str(names[pending], sizeof names[pending], s);
		} else if (sscanf(l, " dir_index: %u", &di) == 1) {
			CU_ASSERT_FATAL(di <= ndirs);
			dir_of[pending] = di;
		} else if (sscanf(l, "0x%llx %u %u %u %u %u%n", &addr, &line, &col, &file, &isa,
				  &disc, &used) == 6) {
			struct drow r = {.addr = addr, .line = line, .col = col};
			const char *flags = l + used;
			if (strstr(flags, "is_stmt"))
				r.flags |= F_STMT;
			if (strstr(flags, "prologue_end"))
				r.flags |= F_PROLOGUE;
			if (strstr(flags, "epilogue_begin"))
				r.flags |= F_EPILOGUE;
			CU_ASSERT_FATAL(file >= 1 && file < 16 && names[file][0]);
			if (dir_of[file])
				snprintf(r.file, sizeof r.file, "%.60s/%.60s", dirs[dir_of[file]],
					 names[file]);
			else
				copy_str(r.file, sizeof r.file, names[file]);
			if (strstr(flags, "end_sequence")) {
				cur->end = addr;
				CU_ASSERT_FATAL(out->nseqs < 31);
				cur = &out->seqs[++out->nseqs];
			} else {
				CU_ASSERT_FATAL(cur->nrows < 64);
				cur->rows[cur->nrows++] = r;
			}
		}
	}
	free(lines);
	free(text);
}

/* The sequence that ends at end (each function has its own). */
static const struct seq *seq_ending(const struct lines *ls, uint64_t end)
{
	const struct seq *found = NULL;
	for (size_t i = 0; i < ls->nseqs; i++) {
		if (ls->seqs[i].end == end) {
			CU_ASSERT(found == NULL);   /* exactly one */
			found = &ls->seqs[i];
		}
	}
	CU_ASSERT_FATAL(found != NULL);
	return found;
}

static const char *file_path(uint64_t id)
{
	switch (id) {
	case 1: return "/src/main.c";
	case 2: return "/src/inc/util.h";
	case 3: return "/abs/other.c";
	default: return "/my dir/with space.c";
	}
}

/* Function 1's decoded rows against ROWS1, with each row's line moved by the shift its
 * file got: shift_own for the function's own file, shift_hdr for the header. */
static void check_rows1(const struct lines *ls, int shift_own, int shift_hdr)
{
	const struct seq *s = seq_ending(ls, LOW1 + SIZE1);
	CU_ASSERT_EQUAL_FATAL(s->nrows, NROWS1);
	for (size_t i = 0; i < NROWS1; i++) {
		const struct xrow *x = &ROWS1[i];
		const struct drow *d = &s->rows[i];
		unsigned want_line = x->line == 0 ? 0
				     : (unsigned)(x->line + (x->file == 2 ? shift_hdr : shift_own));
		const char *want_file = file_path(x->file ? x->file : 1);
		bool ok = d->addr == LOW1 + x->off && d->line == want_line && d->col == x->col &&
			  d->flags == letters_to_flags(x->flags) && !strcmp(d->file, want_file);
		if (!ok)
			fprintf(stderr, "dwarf: row %zu: got 0x%llx %u:%u flags %u %s, want 0x%llx "
				"%u:%u flags %u %s\n", i, (unsigned long long)d->addr, d->line,
				d->col, d->flags, d->file, (unsigned long long)(LOW1 + x->off),
				want_line, x->col, letters_to_flags(x->flags), want_file);
		CU_ASSERT(ok);
	}
}

static void check_other_rows(const struct lines *ls)
{
	/* No rows: a sequence of its end_sequence row alone, still at low_pc + size. */
	const struct seq *s = seq_ending(ls, 0x100030040);
	CU_ASSERT_EQUAL(s->nrows, 0);

	s = seq_ending(ls, 0x100030050);
	CU_ASSERT_FATAL(s->nrows == 1);
	CU_ASSERT_EQUAL(s->rows[0].addr, 0x100030040);
	CU_ASSERT_EQUAL(s->rows[0].line, 211);
	CU_ASSERT_EQUAL(s->rows[0].col, 3);
	CU_ASSERT_EQUAL(s->rows[0].flags, F_STMT | F_PROLOGUE);
	CU_ASSERT_STRING_EQUAL(s->rows[0].file, "/src/main.c");

	/* The last row one byte before the end. */
	s = seq_ending(ls, 0x100030080);
	CU_ASSERT_FATAL(s->nrows == 3);
	CU_ASSERT_EQUAL(s->rows[2].addr, 0x10003007f);
	CU_ASSERT_EQUAL(s->rows[2].line, 9);
	CU_ASSERT_EQUAL(s->rows[2].flags, F_STMT | F_EPILOGUE);
	CU_ASSERT_STRING_EQUAL(s->rows[0].file, "/abs/other.c");

	/* Declared in the header: its rows default to the header; the last names main.c.
	 * "0x10:5:0:" has flags present but empty: none. */
	s = seq_ending(ls, 0x1000300a0);
	CU_ASSERT_FATAL(s->nrows == 4);
	static const unsigned want[4][4] = {
		{0x0, 3, 0, F_STMT}, {0x8, 4, 5, F_STMT | F_PROLOGUE}, {0x10, 5, 0, 0},
		{0x18, 2, 1, F_EPILOGUE},
	};
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(s->rows[i].addr, 0x100030080 + want[i][0]);
		CU_ASSERT_EQUAL(s->rows[i].line, want[i][1]);
		CU_ASSERT_EQUAL(s->rows[i].col, want[i][2]);
		CU_ASSERT_EQUAL(s->rows[i].flags, want[i][3]);
		CU_ASSERT_STRING_EQUAL(s->rows[i].file, i < 3 ? "/src/inc/util.h" : "/src/main.c");
	}

	s = seq_ending(ls, 0x1000303a0);
	CU_ASSERT_FATAL(s->nrows == 2);
	CU_ASSERT_EQUAL(s->rows[1].addr, 0x10003039f);
	CU_ASSERT_STRING_EQUAL(s->rows[1].file, "/my dir/with space.c");
}

static void test_line_rows(void)
{
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "rows.dwarf");
	struct ctl_registry *r = new_registry(false);
	char *script = base_script();
	run_ok(r, script);
	free(script);
	write_current(r, path);
	verify_clean(path);
	struct lines *ls = malloc(sizeof *ls);
	CU_ASSERT_FATAL(ls != NULL);
	read_lines(path, ls);
	CU_ASSERT_EQUAL(ls->nseqs, NFNS);
	check_rows1(ls, 0, 0);
	check_other_rows(ls);
	free(ls);
	ctl_registry_free(r);
}

/* ---- line shifts ------------------------------------------------------------------------ */

/* llvm-dwarfdump's DW_AT_decl_line of the subprogram named name. */
static long decl_line(const char *path, const char *name)
{
	char *text = tool_out("llvm-dwarfdump-16 --debug-info '%s'", path);
	size_t n;
	char **lines = split_lines(text, &n);
	char want[160];
	snprintf(want, sizeof want, "DW_AT_name\t(\"%s\")", name);
	long line = -1;
	for (size_t i = 0; i < n && line < 0; i++) {
		if (!strstr(lines[i], want))
			continue;
		for (size_t j = i + 1; j < n && lines[j][0]; j++) {
			const char *p = strstr(lines[j], "DW_AT_decl_line\t(");
			if (p)
				line = strtol(p + 17, NULL, 0);
		}
	}
	free(lines);
	free(text);
	return line;
}

static void test_line_shifts(void)
{
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "shift.dwarf");
	struct ctl_registry *r = new_registry(true);
	char *script = base_script();
	run_ok(r, script);
	free(script);
	struct lines *ls = malloc(sizeof *ls);
	CU_ASSERT_FATAL(ls != NULL);

	/* +1000 in the function's own file (its decl line too), -3 in the header: every
	 * delta between rows of the same file is unchanged, those across files change. */
	run_ok(r, "line 1 delta=1000\nline 1 delta=-3 file=2\ncommit\n");
	write_current(r, path);
	verify_clean(path);
	read_lines(path, ls);
	check_rows1(ls, 1000, -3);
	CU_ASSERT_EQUAL(decl_line(path, "rows_fn"), 1010);
	CU_ASSERT_EQUAL(decl_line(path, "inl"), 3);

	/* A range shift of -1000 brings own-file rows back; the header keeps its -3. The
	 * header-declared function (file 2) is outside file 1's range. */
	run_ok(r, "line-range file=1 from=1000 to=3000 by=-1000\ncommit\n");
	write_current(r, path);
	verify_clean(path);
	read_lines(path, ls);
	check_rows1(ls, 0, -3);
	CU_ASSERT_EQUAL(decl_line(path, "rows_fn"), 10);

	/* A shift that would take a header row to line 0 is refused, changing nothing. */
	char err[256];
	const char *bad = "line 1 delta=-2 file=2\ncommit\n";
	CU_ASSERT(ctl_run_script(r, bad, strlen(bad), err, sizeof err) == -EINVAL);
	write_current(r, path);
	read_lines(path, ls);
	check_rows1(ls, 0, -3);
	free(ls);
	ctl_registry_free(r);
}

/* ---- llvm-dwarfdump --debug-info, parsed -------------------------------------------------- */

struct attr {
	char name[32];
	char val[160];
};

struct die {
	uint64_t off, cu_off;
	unsigned depth;
	char tag[40];
	unsigned nattrs;
	struct attr attrs[12];
};

struct info {
	size_t n;
	struct die dies[128];
};

static void read_info(const char *path, struct info *out)
{
	memset(out, 0, sizeof *out);
	char *text = tool_out("llvm-dwarfdump-16 --debug-info '%s'", path);
	size_t n;
	char **lines = split_lines(text, &n);
	uint64_t cu_off = 0;
	struct die *cur = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i];
		unsigned long long off;
		int used = 0, used2 = 0;
		if (sscanf(l, "0x%llx: Compile Unit:%n", &off, &used) == 1 && used > 0) {
			cu_off = off;
			cur = NULL;
		} else if (sscanf(l, "0x%llx:%n", &off, &used2) == 1 && used2 > 0) {
			used = used2;
			const char *p = l + used;
			unsigned spaces = 0;
			while (p[spaces] == ' ')
				spaces++;
			cur = NULL;
			if (!strncmp(p + spaces, "NULL", 4))
				continue;
			CU_ASSERT_FATAL(out->n < 128);
			cur = &out->dies[out->n++];
			cur->off = off;
			cur->cu_off = cu_off;
			cur->depth = (spaces - 1) / 2;
			copy_str(cur->tag, sizeof cur->tag, p + spaces);
		} else if (cur) {
			const char *p = l;
			while (*p == ' ')
				p++;
			const char *open = strchr(p, '(');
			const char *close = strrchr(p, ')');
			if (strncmp(p, "DW_AT_", 6) || !open || !close || close < open)
				continue;
			CU_ASSERT_FATAL(cur->nattrs < 12);
			struct attr *a = &cur->attrs[cur->nattrs++];
			size_t nl = (size_t)(open - p);
			while (nl && (p[nl - 1] == '\t' || p[nl - 1] == ' '))
				nl--;
			copy_str(a->name, nl + 1 < sizeof a->name ? nl + 1 : sizeof a->name, p);
			size_t vl = (size_t)(close - open - 1);
			copy_str(a->val, vl + 1 < sizeof a->val ? vl + 1 : sizeof a->val, open + 1);
		}
	}
	free(lines);
	free(text);
}

static const char *attr(const struct die *d, const char *name)
{
	for (unsigned i = 0; i < d->nattrs; i++)
		if (!strcmp(d->attrs[i].name, name))
			return d->attrs[i].val;
	return NULL;
}

/* The quoted name llvm-dwarfdump gives a DW_AT_type reference, or NULL. */
static const char *type_name(const struct die *d, char *buf, size_t len)
{
	const char *v = attr(d, "DW_AT_type");
	if (!v)
		return NULL;
	const char *q = strchr(v, '"');
	const char *e = q ? strrchr(v, '"') : NULL;
	if (!q || e == q)
		return "";
	size_t n = (size_t)(e - q - 1);
	copy_str(buf, n + 1 < len ? n + 1 : len, q + 1);
	return buf;
}

/* The DIE with this tag whose DW_AT_name is name ("" matches an unnamed DIE whose
 * DW_AT_type resolves to `to`). */
static const struct die *find_die(const struct info *in, const char *tag, const char *name,
				  const char *to)
{
	char buf[128];
	for (size_t i = 0; i < in->n; i++) {
		const struct die *d = &in->dies[i];
		if (strcmp(d->tag, tag))
			continue;
		const char *nm = attr(d, "DW_AT_name");
		char quoted[140];
		snprintf(quoted, sizeof quoted, "\"%s\"", name);
		if (*name ? nm && !strcmp(nm, quoted) : !nm) {
			const char *t = type_name(d, buf, sizeof buf);
			if (!to || (t ? !strcmp(t, to) : !*to))
				return d;
		}
	}
	return NULL;
}

static struct info *render_info(char *path, size_t pathlen)
{
	tmp_path(path, pathlen, "types.dwarf");
	struct ctl_registry *r = new_registry(false);
	char *script = base_script();
	run_ok(r, script);
	free(script);
	write_current(r, path);
	ctl_registry_free(r);
	verify_clean(path);
	struct info *in = malloc(sizeof *in);
	CU_ASSERT_FATAL(in != NULL);
	read_info(path, in);
	return in;
}

static void test_types(void)
{
	char path[PATH_MAX];
	struct info *in = render_info(path, sizeof path);
	static const struct {
		const char *name, *enc, *size;
	} bases[] = {
		{"int", "DW_ATE_signed", "4"},
		{"unsigned int", "DW_ATE_unsigned", "4"},
		{"_Bool", "DW_ATE_boolean", "1"},
		{"double", "DW_ATE_float", "8"},
		{"char", "DW_ATE_signed_char", "1"},
		{"unsigned char", "DW_ATE_unsigned_char", "1"},
		{"wide", "DW_ATE_unsigned", "300"},   /* a 2-byte ULEB128 size */
	};
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		const struct die *d = find_die(in, "DW_TAG_base_type", bases[i].name, NULL);
		if (!d)
			fprintf(stderr, "dwarf: no base type %s\n", bases[i].name);
		CU_ASSERT_FATAL(d != NULL);
		CU_ASSERT_STRING_EQUAL(attr(d, "DW_AT_encoding"), bases[i].enc);
		CU_ASSERT_EQUAL(strtoull(attr(d, "DW_AT_byte_size"), NULL, 0),
				strtoull(bases[i].size, NULL, 10));
		CU_ASSERT_EQUAL(d->depth, 1);
	}
	/* pointer to void, const void, pointer to const void, const char, pointer to
	 * const char, and the typedefs; "" for to means "no DW_AT_type" (void). */
	static const struct {
		const char *tag, *name, *to;
	} derived[] = {
		{"DW_TAG_pointer_type", "", ""},
		{"DW_TAG_const_type", "", ""},
		{"DW_TAG_pointer_type", "", "const void"},
		{"DW_TAG_const_type", "", "char"},
		{"DW_TAG_pointer_type", "", "const char"},
		{"DW_TAG_typedef", "cstr", "const char *"},
		{"DW_TAG_typedef", "handle", ""},
		{"DW_TAG_typedef", "count_t", "unsigned int"},
	};
	for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
		const struct die *d = find_die(in, derived[i].tag, derived[i].name, derived[i].to);
		if (!d)
			fprintf(stderr, "dwarf: no %s %s to \"%s\"\n", derived[i].tag, derived[i].name,
				derived[i].to);
		CU_ASSERT_FATAL(d != NULL);
		if (!strcmp(derived[i].tag, "DW_TAG_pointer_type"))
			CU_ASSERT_EQUAL(strtoull(attr(d, "DW_AT_byte_size"), NULL, 0), 8);
	}
	/* 15 types sent, 15 type DIEs: no duplicates, nothing else in the types unit. */
	size_t ntypes = 0;
	for (size_t i = 0; i < in->n; i++)
		if (strstr(in->dies[i].tag, "_type") || !strcmp(in->dies[i].tag, "DW_TAG_typedef"))
			ntypes++;
	CU_ASSERT_EQUAL(ntypes, 15);
	free(in);
}

static void test_functions(void)
{
	char path[PATH_MAX];
	struct info *in = render_info(path, sizeof path);
	char buf[128], quoted[140];
	size_t nsub = 0;
	for (size_t i = 0; i < in->n; i++)
		nsub += !strcmp(in->dies[i].tag, "DW_TAG_subprogram");
	CU_ASSERT_EQUAL(nsub, NFNS);
	for (size_t k = 0; k < NFNS; k++) {
		const struct fnx *f = &FNS[k];
		const struct die *d = find_die(in, "DW_TAG_subprogram", f->name, NULL);
		if (!d)
			fprintf(stderr, "dwarf: no subprogram %s\n", f->name);
		CU_ASSERT_FATAL(d != NULL);
		CU_ASSERT_EQUAL(d->depth, 1);
		CU_ASSERT_EQUAL(strtoull(attr(d, "DW_AT_low_pc"), NULL, 0), f->low);
		/* llvm-dwarfdump shows a constant-class high_pc as the address it implies. */
		CU_ASSERT_EQUAL(strtoull(attr(d, "DW_AT_high_pc"), NULL, 0), f->low + f->size);
		snprintf(quoted, sizeof quoted, "\"%s\"", f->decl_file);
		CU_ASSERT_STRING_EQUAL(attr(d, "DW_AT_decl_file"), quoted);
		CU_ASSERT_PTR_NOT_NULL(attr(d, "DW_AT_decl_line"));
		const char *t = type_name(d, buf, sizeof buf);
		if (f->ret) {
			CU_ASSERT(t && !strcmp(t, f->ret));
		} else {
			CU_ASSERT_PTR_NULL(t);
		}
		/* Its unit. */
		const struct die *cu = NULL;
		for (size_t i = 0; i < in->n; i++)
			if (in->dies[i].cu_off == d->cu_off &&
			    !strcmp(in->dies[i].tag, "DW_TAG_compile_unit"))
				cu = &in->dies[i];
		CU_ASSERT_FATAL(cu != NULL);
		snprintf(quoted, sizeof quoted, "\"%s\"", f->cu_name);
		CU_ASSERT_STRING_EQUAL(attr(cu, "DW_AT_name"), quoted);
		/* Its parameters, in order, and nothing else under it. */
		size_t at = (size_t)(d - in->dies) + 1, np = 0;
		while (f->params[np][0])
			np++;
		for (size_t p = 0; p < np; p++) {
			CU_ASSERT_FATAL(at + p < in->n);
			const struct die *pd = &in->dies[at + p];
			CU_ASSERT_STRING_EQUAL(pd->tag, "DW_TAG_formal_parameter");
			CU_ASSERT_EQUAL(pd->depth, 2);
			snprintf(quoted, sizeof quoted, "\"%s\"", f->params[p][0]);
			CU_ASSERT_STRING_EQUAL(attr(pd, "DW_AT_name"), quoted);
			t = type_name(pd, buf, sizeof buf);
			if (!t || strcmp(t, f->params[p][1]))
				fprintf(stderr, "dwarf: %s param %s: type %s, want %s\n", f->name,
					f->params[p][0], t ? t : "(none)", f->params[p][1]);
			CU_ASSERT(t && !strcmp(t, f->params[p][1]));
		}
		if (at + np < in->n)
			CU_ASSERT(in->dies[at + np].depth <= 1);
	}
	/* One unit per file that declares (or hosts) functions, plus the types unit. */
	size_t ncu = 0;
	for (size_t i = 0; i < in->n; i++)
		ncu += !strcmp(in->dies[i].tag, "DW_TAG_compile_unit");
	CU_ASSERT_EQUAL(ncu, 4);
	free(in);
}

/* Replacing a type changes what every user's reference resolves to, with no change to
 * the functions. */
static void test_type_replaced(void)
{
	char path[PATH_MAX];
	tmp_path(path, sizeof path, "retype.dwarf");
	struct ctl_registry *r = new_registry(false);
	char *script = base_script();
	run_ok(r, script);
	free(script);
	run_ok(r, "type 14 kind=typedef name=text_t to=13\n"
		  "type 12 kind=const to=6\ncommit\n");
	write_current(r, path);
	ctl_registry_free(r);
	verify_clean(path);
	struct info *in = malloc(sizeof *in);
	CU_ASSERT_FATAL(in != NULL);
	read_info(path, in);
	char buf[128];
	const struct die *d = find_die(in, "DW_TAG_subprogram", "rows_fn", NULL);
	CU_ASSERT_FATAL(d != NULL);
	const char *t = type_name(d, buf, sizeof buf);
	CU_ASSERT(t && !strcmp(t, "text_t"));
	CU_ASSERT_PTR_NOT_NULL(find_die(in, "DW_TAG_typedef", "text_t", "const unsigned char *"));
	CU_ASSERT_PTR_NULL(find_die(in, "DW_TAG_typedef", "cstr", NULL));
	d = find_die(in, "DW_TAG_subprogram", "ret_leaf", NULL);
	CU_ASSERT_FATAL(d != NULL);
	t = type_name(d, buf, sizeof buf);
	CU_ASSERT(t && !strcmp(t, "const unsigned char *"));
	free(in);
}

/* ---- aranges ------------------------------------------------------------------------------ */

static void test_aranges(void)
{
	char path[PATH_MAX];
	struct info *in = render_info(path, sizeof path);
	char *text = tool_out("llvm-dwarfdump-16 --debug-aranges '%s'", path);
	size_t n;
	char **lines = split_lines(text, &n);
	unsigned long long cu_off = ~0ull;
	size_t seen[NFNS] = {0}, nranges = 0, nsets = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned long long lo, hi;
		const char *p = strstr(lines[i], "cu_offset = ");
		if (!strncmp(lines[i], "Address Range Header:", 21)) {
			CU_ASSERT_FATAL(p != NULL);
			cu_off = strtoull(p + 12, NULL, 0);
			nsets++;
			CU_ASSERT_PTR_NOT_NULL(strstr(lines[i], "version = 0x0002"));
			CU_ASSERT_PTR_NOT_NULL(strstr(lines[i], "addr_size = 0x08"));
		} else if (sscanf(lines[i], "[0x%llx, 0x%llx)", &lo, &hi) == 2) {
			nranges++;
			size_t k;
			for (k = 0; k < NFNS; k++)
				if (FNS[k].low == lo && FNS[k].low + FNS[k].size == hi)
					break;
			if (k == NFNS) {
				fprintf(stderr, "dwarf: arange [0x%llx, 0x%llx) is no function\n", lo, hi);
				CU_FAIL("an arange that is no function's range");
				continue;
			}
			seen[k]++;
			/* The set's unit is the one whose DIEs hold this function. */
			const struct die *d = find_die(in, "DW_TAG_subprogram", FNS[k].name, NULL);
			CU_ASSERT_FATAL(d != NULL);
			CU_ASSERT_EQUAL(d->cu_off, cu_off);
		}
	}
	for (size_t k = 0; k < NFNS; k++) {
		if (seen[k] != 1)
			fprintf(stderr, "dwarf: %s covered %zu times\n", FNS[k].name, seen[k]);
		CU_ASSERT_EQUAL(seen[k], 1);
	}
	CU_ASSERT_EQUAL(nranges, NFNS);
	CU_ASSERT_EQUAL(nsets, 3);   /* main.c, other.c, "with space.c" */
	free(lines);
	free(text);
	free(in);
}

static const struct unit_test dwarf_tests[] = {
	{"line_rows", test_line_rows},
	{"line_shifts", test_line_shifts},
	{"types", test_types},
	{"functions", test_functions},
	{"type_replaced", test_type_replaced},
	{"aranges", test_aranges},
	{NULL, NULL},
};

UNIT_SUITE(dwarf, dwarf_tests)
