/* cmd: every command's fields, every class of syntax error, comments, the formatter's
 * exact output, random round trips, and truncated or mangled lines. Expected values
 * are written from the protocol text, not taken from the parser. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "macho.h"
#include "unit.h"

#define ERRLEN 256

#define CHECK_NAMED(cond, what) \
	CU_assertImplementation((cond), __LINE__, (what), __FILE__, "", CU_FALSE)

/* Parses a NUL-terminated line that must be valid; a failure shows the message. */
static void ok(const char *line, struct cmd *c)
{
	char err[ERRLEN] = "";
	int rc = cmd_parse(line, strlen(line), c, err, sizeof err);
	char what[ERRLEN + 300];
	snprintf(what, sizeof what, "parse \"%s\": rc %d: %s", line, rc, err);
	CU_assertImplementation(rc == 0, __LINE__, what, __FILE__, "", CU_TRUE);
}

/* The first five parts of a row, for comparing whole rows at once. */
static void check_row(const struct rec_row *r, uint32_t off, int32_t line, uint32_t col,
		      uint32_t flags, uint64_t file)
{
	CU_ASSERT_EQUAL(r->off, off);
	CU_ASSERT_EQUAL(r->line, line);
	CU_ASSERT_EQUAL(r->col, col);
	CU_ASSERT_EQUAL(r->flags, flags);
	CU_ASSERT_EQUAL(r->file, file);
}

static void test_image(void)
{
	struct cmd c;
	ok("image myapp create exe=\"/tmp/a b/app\" "
	   "uuid=01234567-89ab-cdef-0123-456789ABCDEF arch=arm64", &c);
	static const uint8_t uuid[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	CU_ASSERT_EQUAL(c.kind, CMD_IMAGE);
	CU_ASSERT_STRING_EQUAL(c.u.image.name, "myapp");
	CU_ASSERT(c.u.image.create);
	CU_ASSERT_STRING_EQUAL(c.u.image.exe, "/tmp/a b/app");
	CU_ASSERT(c.u.image.has_uuid);
	CU_ASSERT(memcmp(c.u.image.uuid, uuid, 16) == 0);
	CU_ASSERT(c.u.image.has_arch);
	CU_ASSERT_EQUAL(c.u.image.cputype, MACHO_CPU_ARM64);
	CU_ASSERT_EQUAL(c.u.image.cpusubtype, MACHO_SUBTYPE_ARM64_ALL);
	cmd_free(&c);

	ok("image app", &c);
	CU_ASSERT_STRING_EQUAL(c.u.image.name, "app");
	CU_ASSERT(!c.u.image.create && !c.u.image.exe && !c.u.image.has_uuid &&
		  !c.u.image.has_arch);
	cmd_free(&c);

	/* The name comes first, so a name spelled like the flag is still a name. */
	ok("image create arch=x86_64", &c);
	CU_ASSERT_STRING_EQUAL(c.u.image.name, "create");
	CU_ASSERT(!c.u.image.create);
	CU_ASSERT_EQUAL(c.u.image.cputype, MACHO_CPU_X86_64);
	CU_ASSERT_EQUAL(c.u.image.cpusubtype, MACHO_SUBTYPE_X86_64_ALL);
	cmd_free(&c);

	ok("image \"my app\" create", &c);
	CU_ASSERT_STRING_EQUAL(c.u.image.name, "my app");
	CU_ASSERT(c.u.image.create);
	cmd_free(&c);
}

static void test_exe_segment_section(void)
{
	struct cmd c;
	ok("exe /usr/bin/true", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_EXE);
	CU_ASSERT_STRING_EQUAL(c.u.exe.path, "/usr/bin/true");
	cmd_free(&c);

	ok("segment __TEXT vmaddr=0x100000000 vmsize=0x4000 maxprot=5 initprot=r-x", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_SEGMENT);
	CU_ASSERT_STRING_EQUAL(c.u.segment.name, "__TEXT");
	CU_ASSERT_EQUAL(c.u.segment.vmaddr, 0x100000000u);
	CU_ASSERT_EQUAL(c.u.segment.vmsize, 0x4000);
	CU_ASSERT(c.u.segment.has_maxprot && c.u.segment.has_initprot);
	CU_ASSERT_EQUAL(c.u.segment.maxprot, 5);
	CU_ASSERT_EQUAL(c.u.segment.initprot, 5);
	cmd_free(&c);

	ok("segment __DATA vmaddr=4096 vmsize=16 initprot=rw-", &c);
	CU_ASSERT(!c.u.segment.has_maxprot && c.u.segment.has_initprot);
	CU_ASSERT_EQUAL(c.u.segment.initprot, 3);
	cmd_free(&c);

	ok("segment SIXTEEN_BYTES_AB vmaddr=0 vmsize=0 maxprot=--- initprot=rwx", &c);
	CU_ASSERT_STRING_EQUAL(c.u.segment.name, "SIXTEEN_BYTES_AB");
	CU_ASSERT_EQUAL(c.u.segment.maxprot, 0);
	CU_ASSERT_EQUAL(c.u.segment.initprot, 7);
	cmd_free(&c);

	ok("section __TEXT __text addr=0x100003f50 size=0x40 align=4", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_SECTION);
	CU_ASSERT_STRING_EQUAL(c.u.section.seg, "__TEXT");
	CU_ASSERT_STRING_EQUAL(c.u.section.sect, "__text");
	CU_ASSERT_EQUAL(c.u.section.addr, 0x100003f50u);
	CU_ASSERT_EQUAL(c.u.section.size, 0x40);
	CU_ASSERT(c.u.section.has_align);
	CU_ASSERT_EQUAL(c.u.section.align, 4);
	cmd_free(&c);

	ok("section __DATA __data addr=0 size=0", &c);
	CU_ASSERT(!c.u.section.has_align);
	cmd_free(&c);
}

static void test_file_type_del(void)
{
	struct cmd c;
	ok("file 3 path=\"src/a b.c\" dir=/home/me", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_FILE);
	CU_ASSERT_EQUAL(c.u.file->refs, 1);
	CU_ASSERT_EQUAL(c.u.file->id, 3);
	CU_ASSERT_STRING_EQUAL(c.u.file->path, "src/a b.c");
	CU_ASSERT_STRING_EQUAL(c.u.file->dir, "/home/me");
	cmd_free(&c);

	/* A bare value may hold '=' after the first one. */
	ok("file 0x10 path=a=b", &c);
	CU_ASSERT_EQUAL(c.u.file->id, 16);
	CU_ASSERT_STRING_EQUAL(c.u.file->path, "a=b");
	CU_ASSERT_PTR_NULL(c.u.file->dir);
	cmd_free(&c);

	ok("type 7 kind=base name=\"unsigned int\" size=4 enc=unsigned", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_TYPE);
	CU_ASSERT_EQUAL(c.u.type->refs, 1);
	CU_ASSERT_EQUAL(c.u.type->id, 7);
	CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_BASE);
	CU_ASSERT_STRING_EQUAL(c.u.type->name, "unsigned int");
	CU_ASSERT_EQUAL(c.u.type->size, 4);
	CU_ASSERT_EQUAL(c.u.type->enc, REC_ENC_UNSIGNED);
	CU_ASSERT_EQUAL(c.u.type->to, 0);
	CU_ASSERT_PTR_NULL(c.u.type->info.bytes);
	cmd_free(&c);

	static const struct {
		const char *spelling;
		enum rec_base_enc enc;
	} encs[] = {
		{ "signed", REC_ENC_SIGNED }, { "unsigned", REC_ENC_UNSIGNED },
		{ "bool", REC_ENC_BOOL }, { "float", REC_ENC_FLOAT },
		{ "signed_char", REC_ENC_SIGNED_CHAR },
		{ "unsigned_char", REC_ENC_UNSIGNED_CHAR },
	};
	for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++) {
		char line[128];
		snprintf(line, sizeof line, "type 1 kind=base name=t size=1 enc=%s",
			 encs[i].spelling);
		ok(line, &c);
		CU_ASSERT_EQUAL(c.u.type->enc, encs[i].enc);
		cmd_free(&c);
	}

	ok("type 8 kind=pointer to=7", &c);
	CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_POINTER);
	CU_ASSERT_PTR_NULL(c.u.type->name);
	CU_ASSERT_EQUAL(c.u.type->to, 7);
	CU_ASSERT_EQUAL(c.u.type->size, 0);
	cmd_free(&c);

	ok("type 9 kind=const to=0", &c);
	CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_CONST);
	CU_ASSERT_EQUAL(c.u.type->to, 0);
	cmd_free(&c);

	ok("type 10 kind=typedef name=size_t to=7", &c);
	CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_TYPEDEF);
	CU_ASSERT_STRING_EQUAL(c.u.type->name, "size_t");
	CU_ASSERT_EQUAL(c.u.type->to, 7);
	cmd_free(&c);

	ok("type 11 kind=pointer name=charp to=1", &c);
	CU_ASSERT_STRING_EQUAL(c.u.type->name, "charp");
	cmd_free(&c);

	ok("delfile 3", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_DELFILE);
	CU_ASSERT_EQUAL(c.u.id, 3);
	cmd_free(&c);
	ok("deltype 0xff", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_DELTYPE);
	CU_ASSERT_EQUAL(c.u.id, 255);
	cmd_free(&c);
	ok("del 18446744073709551615", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_DEL);
	CU_ASSERT_EQUAL(c.u.id, UINT64_MAX);
	cmd_free(&c);
	ok("del \"42\"", &c);
	CU_ASSERT_EQUAL(c.u.id, 42);
	cmd_free(&c);
}

static void test_fn(void)
{
	struct cmd c;
	ok("fn 42 name=\"my fn\" low_pc=0x1000 size=32 file=3 line=17 cu=2 ret=5 "
	   "params=a:5,b:6 rows=0:17,0x4:18:5,8:19:2:pe,12:20:1::4,16:0:0:s:0,20:21:3:", &c);
	CU_ASSERT_EQUAL_FATAL(c.kind, CMD_FN);
	struct rec_fn *f = c.u.fn;
	CU_ASSERT_EQUAL(f->refs, 1);
	CU_ASSERT_EQUAL(f->id, 42);
	CU_ASSERT_STRING_EQUAL(f->name, "my fn");
	CU_ASSERT_EQUAL(f->low_pc, 0x1000);
	CU_ASSERT_EQUAL(f->size, 32);
	CU_ASSERT_EQUAL(f->file, 3);
	CU_ASSERT_EQUAL(f->line, 17);
	CU_ASSERT_EQUAL(f->cu, 2);
	CU_ASSERT_EQUAL(f->ret, 5);
	CU_ASSERT_EQUAL_FATAL(f->nparams, 2);
	CU_ASSERT_STRING_EQUAL(f->params[0].name, "a");
	CU_ASSERT_EQUAL(f->params[0].type, 5);
	CU_ASSERT_STRING_EQUAL(f->params[1].name, "b");
	CU_ASSERT_EQUAL(f->params[1].type, 6);
	CU_ASSERT_EQUAL_FATAL(f->nrows, 6);
	check_row(&f->rows[0], 0, 17, 0, REC_ROW_STMT, 0);
	check_row(&f->rows[1], 4, 18, 5, REC_ROW_STMT, 0);
	check_row(&f->rows[2], 8, 19, 2, REC_ROW_PROLOGUE | REC_ROW_EPILOGUE, 0);
	check_row(&f->rows[3], 12, 20, 1, 0, 4);
	check_row(&f->rows[4], 16, 0, 0, REC_ROW_STMT, 0);
	check_row(&f->rows[5], 20, 21, 3, 0, 0);
	CU_ASSERT(!f->info.bytes && !f->line_prog.bytes);
	cmd_free(&c);

	/* Only the required fields, in another order; empty lists mean none. */
	ok("fn 1 line=0 file=2 size=0 low_pc=0 name=f params= rows=\"\"", &c);
	f = c.u.fn;
	CU_ASSERT_STRING_EQUAL(f->name, "f");
	CU_ASSERT(f->line == 0 && f->file == 2 && f->cu == 0 && f->ret == 0);
	CU_ASSERT(f->nparams == 0 && !f->params && f->nrows == 0 && !f->rows);
	cmd_free(&c);

	/* Rows keep the order given; ordering is checked at commit. */
	ok("fn 1 name=f low_pc=0 size=8 file=1 line=2147483647 "
	   "rows=8:2,0:1:4294967295:sps:18446744073709551615,0xffffffff:2147483647", &c);
	f = c.u.fn;
	CU_ASSERT_EQUAL(f->line, INT32_MAX);
	CU_ASSERT_EQUAL_FATAL(f->nrows, 3);
	check_row(&f->rows[0], 8, 2, 0, REC_ROW_STMT, 0);
	check_row(&f->rows[1], 0, 1, UINT32_MAX, REC_ROW_STMT | REC_ROW_PROLOGUE, UINT64_MAX);
	check_row(&f->rows[2], UINT32_MAX, INT32_MAX, 0, REC_ROW_STMT, 0);
	cmd_free(&c);

	/* A parameter name may be empty (unnamed) and, quoted, hold anything but ':' and
	 * ','. */
	ok("fn 1 name=f low_pc=0 size=8 file=1 line=1 params=\":3,a b=\\\"c:4\"", &c);
	f = c.u.fn;
	CU_ASSERT_EQUAL_FATAL(f->nparams, 2);
	CU_ASSERT_STRING_EQUAL(f->params[0].name, "");
	CU_ASSERT_EQUAL(f->params[0].type, 3);
	CU_ASSERT_STRING_EQUAL(f->params[1].name, "a b=\"c");
	CU_ASSERT_EQUAL(f->params[1].type, 4);
	cmd_free(&c);
}

static void test_edits(void)
{
	struct cmd c;
	ok("move 5 low_pc=0x2000", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_MOVE);
	CU_ASSERT_EQUAL(c.u.move.id, 5);
	CU_ASSERT_EQUAL(c.u.move.low_pc, 0x2000);
	CU_ASSERT(!c.u.move.has_size);
	cmd_free(&c);
	ok("move 5 low_pc=0x2000 size=0", &c);
	CU_ASSERT(c.u.move.has_size);
	CU_ASSERT_EQUAL(c.u.move.size, 0);
	cmd_free(&c);

	ok("move-range from=0x1000 to=0x2000 by=-0x10", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_MOVE_RANGE);
	CU_ASSERT_EQUAL(c.u.move_range.from, 0x1000);
	CU_ASSERT_EQUAL(c.u.move_range.to, 0x2000);
	CU_ASSERT_EQUAL(c.u.move_range.by, -16);
	cmd_free(&c);
	ok("move-range by=0 to=18446744073709551615 from=0", &c);
	CU_ASSERT_EQUAL(c.u.move_range.to, UINT64_MAX);
	CU_ASSERT_EQUAL(c.u.move_range.by, 0);
	cmd_free(&c);
	ok("move-range from=1 to=2 by=-9223372036854775808", &c);
	CU_ASSERT_EQUAL(c.u.move_range.by, INT64_MIN);
	cmd_free(&c);
	ok("move-range from=1 to=2 by=0x7fffffffffffffff", &c);
	CU_ASSERT_EQUAL(c.u.move_range.by, INT64_MAX);
	cmd_free(&c);

	ok("line 9 delta=-3", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_LINE);
	CU_ASSERT_EQUAL(c.u.line.id, 9);
	CU_ASSERT_EQUAL(c.u.line.delta, -3);
	CU_ASSERT_EQUAL(c.u.line.file, 0);
	cmd_free(&c);
	ok("line 9 delta=12 file=4", &c);
	CU_ASSERT_EQUAL(c.u.line.delta, 12);
	CU_ASSERT_EQUAL(c.u.line.file, 4);
	cmd_free(&c);

	ok("line-range file=2 from=10 to=20 by=-5", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_LINE_RANGE);
	CU_ASSERT_EQUAL(c.u.line_range.file, 2);
	CU_ASSERT_EQUAL(c.u.line_range.from, 10);
	CU_ASSERT_EQUAL(c.u.line_range.to, 20);
	CU_ASSERT_EQUAL(c.u.line_range.by, -5);
	cmd_free(&c);

	ok("sym _main value=0x100003f50 sect=1 ext", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_SYM);
	CU_ASSERT_STRING_EQUAL(c.u.sym.name, "_main");
	CU_ASSERT_EQUAL(c.u.sym.value, 0x100003f50u);
	CU_ASSERT_EQUAL(c.u.sym.sect, 1);
	CU_ASSERT(c.u.sym.ext);
	cmd_free(&c);
	ok("sym \"ext\" value=5", &c);
	CU_ASSERT_STRING_EQUAL(c.u.sym.name, "ext");
	CU_ASSERT_EQUAL(c.u.sym.sect, 0);
	CU_ASSERT(!c.u.sym.ext);
	cmd_free(&c);
	ok("sym x ext value=1 sect=255", &c);
	CU_ASSERT(c.u.sym.ext);
	CU_ASSERT_EQUAL(c.u.sym.sect, 255);
	cmd_free(&c);

	ok("unsym _main", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_UNSYM);
	CU_ASSERT_STRING_EQUAL(c.u.unsym.name, "_main");
	cmd_free(&c);
	ok("commit", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_COMMIT);
	cmd_free(&c);
	ok("abort", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_ABORT);
	cmd_free(&c);
}

static void test_lexing(void)
{
	struct cmd c;
	/* Leading blanks, tabs and runs of spaces, escapes, a trailing CR. */
	ok("  fn\t1   name=\"a b=c\\\"d\\\\e\\n\\t\\r\\x41\\xff\"\t\tlow_pc=0x10 size=0X20 "
	   "file=1 line=0\r", &c);
	CU_ASSERT_STRING_EQUAL(c.u.fn->name, "a b=c\"d\\e\n\t\rA\xff");
	CU_ASSERT_EQUAL(c.u.fn->size, 0x20);
	cmd_free(&c);

	/* UTF-8 stands bare; a bare backslash is literal. */
	ok("fn 1 name=h\xc3\xa9llo\\x low_pc=0 size=1 file=1 line=1", &c);
	CU_ASSERT_STRING_EQUAL(c.u.fn->name, "h\xc3\xa9llo\\x");
	cmd_free(&c);

	/* len bounds the line: what follows is not read. */
	const char *line = "commit trailing junk";
	char err[ERRLEN];
	CU_ASSERT_EQUAL(cmd_parse(line, 6, &c, err, sizeof err), 0);
	CU_ASSERT_EQUAL(c.kind, CMD_COMMIT);
	cmd_free(&c);

	/* Decimal with leading zeros is still decimal. */
	ok("del 010", &c);
	CU_ASSERT_EQUAL(c.u.id, 10);
	cmd_free(&c);
}

static void test_comments_and_blanks(void)
{
	static const char *const lines[] = {
		"", " ", "\t \t", "\r", "  \r", "#", "# a comment", "   # fn 1 name=x",
		"\t#commit",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct cmd c = { .kind = CMD_ABORT };
		char err[ERRLEN] = "untouched";
		CHECK_NAMED(cmd_parse(lines[i], strlen(lines[i]), &c, err, sizeof err) == 1,
			    lines[i]);
		CU_ASSERT_EQUAL(c.kind, CMD_ABORT);
	}
}

static const struct {
	const char *line;
	const char *want;  /* a substring of the message */
} bad_lines[] = {
	/* commands and the shape of a line */
	{ "fnn 1", "unknown command \"fnn\"" },
	{ "FN 1", "unknown command \"FN\"" },
	{ "\"fn\" 1", "must start with a command word" },
	{ "name=x", "must start with a command word" },
	{ "commit now", "commit: unexpected word \"now\"" },
	{ "del 1 2", "del: unexpected word \"2\"" },
	/* fields */
	{ "fn 1 name=a low_pc=0 size=12x file=1 line=1", "fn: field \"size\": \"12x\" is not a number" },
	{ "fn 1 name=a size=1 file=1 line=1", "fn: missing field \"low_pc\"" },
	{ "fn name=a low_pc=0 size=1 file=1 line=1", "fn: missing ID" },
	{ "fn 1 name=a name=b low_pc=0 size=1 file=1 line=1", "field \"name\" given twice" },
	{ "fn 1 nmae=a low_pc=0 size=1 file=1 line=1", "fn: unknown field \"nmae\"" },
	{ "fn 1 Name=a low_pc=0 size=1 file=1 line=1", "unknown field \"Name\"" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 =x", "no key before '='" },
	{ "fn 0 name=a low_pc=0 size=1 file=1 line=1", "fn: ID: id 0 is reserved" },
	{ "fn x name=a low_pc=0 size=1 file=1 line=1", "ID: \"x\" is not a number" },
	{ "fn 1 name= low_pc=0 size=1 file=1 line=1", "field \"name\": must not be empty" },
	{ "fn 1 name=\"\" low_pc=0 size=1 file=1 line=1", "field \"name\": must not be empty" },
	{ "fn 1 name=a low_pc=0x10000000000000000 size=1 file=1 line=1", "\"0x10000000000000000\" does not fit in 64 bits" },
	{ "fn 1 name=a low_pc=18446744073709551616 size=1 file=1 line=1", "does not fit in 64 bits" },
	{ "fn 1 name=a low_pc=0x size=1 file=1 line=1", "\"0x\" is not a number" },
	{ "fn 1 name=a low_pc=+1 size=1 file=1 line=1", "\"+1\" is not a number" },
	{ "fn 1 name=a low_pc=\" 1\" size=1 file=1 line=1", "\" 1\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=-1 file=1 line=1", "field \"size\": \"-1\" must not be negative" },
	{ "fn 1 name=a low_pc=0 size=1 file=0 line=1", "field \"file\": id 0 is reserved" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=2147483648", "field \"line\": \"2147483648\" must be at most 2147483647" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=-1", "field \"line\": \"-1\" must not be negative" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 cu=x", "field \"cu\": \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 ret=-1", "field \"ret\": \"-1\" must not be negative" },
	/* params= */
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a", "field \"params\": entry 1 \"a\": expected NAME:TYPEID" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a:1,b", "entry 2 \"b\": expected NAME:TYPEID" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=operator::x:3", "entry 1 \"operator::x:3\": type \"\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a:0", "entry 1 \"a:0\": type 0 (void)" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a:x", "entry 1 \"a:x\": type \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a:1,", "entry 2 \"\": expected NAME:TYPEID" },
	/* rows= */
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=10:x", "field \"rows\": entry 1 \"10:x\": line \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=0:1,2:3,10:x", "entry 3 \"10:x\": line \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1:2:3:s:4:5", "entry 1 \"1:2:3:s:4:5\": too many parts" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1", "entry 1 \"1\": expected OFF:LINE" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1:2:3:sq", "entry 1 \"1:2:3:sq\": flag \"q\"" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1:-2", "line \"-2\" must not be negative" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1:2147483648", "line \"2147483648\" must be at most 2147483647" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=0x100000000:1", "offset \"0x100000000\" must be at most 4294967295" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1:2:4294967296", "column \"4294967296\" must be at most 4294967295" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1:2,,3:4", "entry 2 \"\"" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1:2:3:s:0x1g", "file \"0x1g\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=:2", "offset \"\" is not a number" },
	/* quoting */
	{ "fn 1 name=\"abc low_pc=0 size=1 file=1 line=1", "field \"name\": unterminated quote (opened at column 11)" },
	{ "fn 1 name=\"a\\qb\" low_pc=0 size=1 file=1 line=1", "unknown escape \"\\q\"" },
	{ "fn 1 name=\"a\\x4\" low_pc=0 size=1 file=1 line=1", "\\x must be followed by two hex digits" },
	{ "fn 1 name=\"a\\x00\" low_pc=0 size=1 file=1 line=1", "\\x00 would put a NUL byte" },
	{ "fn 1 name=\"a\\0\" low_pc=0 size=1 file=1 line=1", "\\0 would put a NUL byte" },
	{ "fn 1 name=\"a\\", "unterminated quote" },
	{ "fn 1 name=\"ab\"c low_pc=0 size=1 file=1 line=1", "unexpected text after the closing quote" },
	{ "fn 1 name=a\"b low_pc=0 size=1 file=1 line=1", "field \"name\": stray '\"'" },
	{ "del 1\"2\"", "stray '\"'" },
	{ "sym \"a b\"c value=1", "unexpected text after the closing quote" },
	/* image */
	{ "image", "image: missing NAME" },
	{ "image a/b", "NAME: \"a/b\" cannot name a directory" },
	{ "image .", "NAME: \".\" cannot name a directory" },
	{ "image ..", "NAME: \"..\" cannot name a directory" },
	{ "image \"a\\x01b\"", "NAME: \"a\\x01b\" contains a control character" },
	{ "image \"a\\nb\"", "contains a control character" },
	{ "image \"\"", "NAME: must not be empty" },
	{ "image x create create", "\"create\" given twice" },
	{ "image x \"create\"", "unexpected word \"create\"" },
	{ "image x create=1", "\"create\" is a flag and takes no value" },
	{ "image x uuid=nope", "field \"uuid\": \"nope\" is not a UUID" },
	{ "image x arch=ppc", "field \"arch\": \"ppc\" is not x86_64 or arm64" },
	{ "image x exe=", "field \"exe\": must not be empty" },
	{ "image x foo=1", "image: unknown field \"foo\"" },
	{ "exe", "exe: missing PATH" },
	/* segment, section */
	{ "segment SEVENTEEN_BYTES_X vmaddr=0 vmsize=0", "NAME: \"SEVENTEEN_BYTES_X\" must be 1 to 16 bytes long" },
	{ "segment \"\" vmaddr=0 vmsize=0", "must be 1 to 16 bytes long" },
	{ "segment __TEXT vmaddr=0", "segment: missing field \"vmsize\"" },
	{ "segment __TEXT vmaddr=0 vmsize=0 maxprot=8", "field \"maxprot\": \"8\" is not a protection" },
	{ "segment __TEXT vmaddr=0 vmsize=0 initprot=rxw", "field \"initprot\": \"rxw\" is not a protection" },
	{ "segment __TEXT vmaddr=0 vmsize=0 initprot=r-", "\"r-\" is not a protection" },
	{ "section __TEXT __text addr=0 size=0 align=16", "field \"align\": \"16\" must be at most 15" },
	{ "section __TEXT addr=0 size=0", "section: missing SECT" },
	{ "section __TEXT SEVENTEEN_BYTES_X addr=0 size=0", "SECT: \"SEVENTEEN_BYTES_X\" must be 1 to 16" },
	/* file, type */
	{ "file 1", "file: missing field \"path\"" },
	{ "file 1 path=a dir=", "field \"dir\": must not be empty" },
	{ "file 0 path=a", "ID: id 0 is reserved" },
	{ "type 1 kind=struct2 name=s", "field \"kind\": \"struct2\" is not one of base, pointer, const, typedef, struct, union, enum, array, func, volatile, restrict" },
	{ "type 1 kind=base name=int enc=signed", "missing field \"size\" (kind=base needs it)" },
	{ "type 1 kind=base name=int size=4", "missing field \"enc\" (kind=base needs it)" },
	{ "type 1 kind=base size=4 enc=signed", "missing field \"name\" (kind=base needs it)" },
	{ "type 1 kind=base name=int size=4 enc=signed to=1", "field \"to\": does not apply to kind=base" },
	{ "type 1 kind=base name=int size=4 enc=double", "field \"enc\": \"double\" is not one of signed, unsigned" },
	{ "type 1 kind=pointer", "missing field \"to\" (kind=pointer needs it)" },
	{ "type 1 kind=pointer to=2 size=8", "field \"size\": does not apply to kind=pointer" },
	{ "type 1 kind=const to=2 enc=signed", "field \"enc\": does not apply to kind=const" },
	{ "type 1 kind=typedef to=2", "missing field \"name\" (kind=typedef needs it)" },
	{ "type 1 kind=pointer name= to=2", "field \"name\": must not be empty" },
	{ "type 0 kind=pointer to=2", "ID: id 0 is reserved" },
	{ "type 1 to=2", "type: missing field \"kind\"" },
	{ "delfile x", "delfile: ID: \"x\" is not a number" },
	{ "deltype", "deltype: missing ID" },
	{ "del 0", "del: ID: id 0 is reserved" },
	/* edits */
	{ "move 1", "move: missing field \"low_pc\"" },
	{ "move 1 low_pc=1 size=x", "field \"size\": \"x\" is not a number" },
	{ "move-range from=0x20 to=0x10 by=1", "move-range: from (0x20) must be below to (0x10)" },
	{ "move-range from=0x20 to=0x20 by=1", "from (0x20) must be below to (0x20)" },
	{ "move-range from=1 to=2 by=x", "field \"by\": \"x\" is not a number" },
	{ "move-range from=1 to=2 by=-0x8000000000000001", "field \"by\": \"-0x8000000000000001\" does not fit" },
	{ "move-range from=1 to=2 by=9223372036854775808", "\"9223372036854775808\" does not fit" },
	{ "move-range from=-1 to=2 by=1", "field \"from\": \"-1\" must not be negative" },
	{ "move-range from=1 to=2", "missing field \"by\"" },
	{ "line 1", "line: missing field \"delta\"" },
	{ "line 1 delta=- ", "field \"delta\": \"-\" is not a number" },
	{ "line 1 delta=1 file=-1", "field \"file\": \"-1\" must not be negative" },
	{ "line-range file=1 from=0 to=5 by=1", "field \"from\": \"0\" must be between 1 and 2147483647" },
	{ "line-range file=1 from=5 to=5 by=1", "line-range: from (5) must be below to (5)" },
	{ "line-range file=1 from=9 to=5 by=1", "from (9) must be below to (5)" },
	{ "line-range file=0 from=1 to=5 by=1", "field \"file\": id 0 is reserved" },
	{ "line-range file=1 from=1 to=2147483648 by=1", "field \"to\": \"2147483648\" must be between 1 and" },
	/* rich debug info */
	{ "type 1 kind=struct name=s", "missing field \"size\" (kind=struct needs it)" },
	{ "type 1 kind=enum name=e", "missing field \"size\" (kind=enum needs it)" },
	{ "type 1 kind=struct name=s size=4 members=a:1", "field \"members\": entry 1 \"a:1\": expected NAME:TYPEID:OFF" },
	{ "type 1 kind=struct name=s size=4 members=a:1:0:3", "entry 1 \"a:1:0:3\": expected NAME:TYPEID:OFF" },
	{ "type 1 kind=struct name=s size=4 members=a:0:0", "entry 1 \"a:0:0\": type 0 (void) is not allowed" },
	{ "type 1 kind=struct name=s size=4 members=a:1:0:0:3", "a bit-field is at least 1 bit wide" },
	{ "type 1 kind=struct name=s size=4 members=a:1:x", "offset \"x\" is not a number" },
	{ "type 1 kind=struct name=s size=4 members=a:1:0:1:-1", "bit offset \"-1\" must not be negative" },
	{ "type 1 kind=enum size=4 enumerators=A", "field \"enumerators\": entry 1 \"A\": expected NAME:VALUE" },
	{ "type 1 kind=enum size=4 enumerators=A:0x100000000000000000000000000000000", "value \"0x100000000000000000000000000000000\" is outside -2^127 .. 2^128-1" },
	{ "type 1 kind=enum size=4 enumerators=A:340282366920938463463374607431768211456", "is outside -2^127 .. 2^128-1" },
	{ "type 1 kind=enum size=4 enumerators=A:-0x80000000000000000000000000000001", "is outside -2^127 .. 2^128-1" },
	{ "type 1 kind=enum size=4 enumerators=A:1x", "value \"1x\" is not a number" },
	{ "type 1 kind=enum size=4 enumerators=A:", "value \"\" is not a number" },
	{ "type 1 kind=enum size=4 enumerators=:1", "entry 1 \":1\": the name is empty" },
	{ "type 1 kind=array to=2 dims=3,-", "entry 2 \"-\": only the first dimension may be unknown" },
	{ "type 1 kind=array to=2 dims=3,x", "entry 2 \"x\": count \"x\" is not a number" },
	{ "type 1 kind=array to=2", "missing field \"dims\" (kind=array needs it)" },
	{ "type 1 kind=array dims=2", "missing field \"to\" (kind=array needs it)" },
	{ "type 1 kind=array to=2 dims=", "field \"dims\": must list at least one dimension" },
	{ "type 1 kind=pointer to=2 dims=1", "field \"dims\": does not apply to kind=pointer" },
	{ "type 1 kind=pointer to=2 decl", "field \"decl\": does not apply to kind=pointer" },
	{ "type 1 kind=struct decl", "missing field \"name\" (a decl type needs it)" },
	{ "type 1 kind=pointer to=2 variadic", "field \"variadic\": does not apply to kind=pointer" },
	{ "type 1 kind=struct size=1 unprototyped", "field \"unprototyped\": does not apply to kind=struct" },
	{ "type 1 kind=func variadic unprototyped", "\"variadic\" and \"unprototyped\" exclude each other" },
	{ "type 1 kind=func params=1,0", "field \"params\": entry 2 \"0\": type 0 (void)" },
	{ "type 1 kind=func ret=x", "field \"ret\": \"x\" is not a number" },
	{ "type 1 kind=pointer to=2 ret=1", "field \"ret\": does not apply to kind=pointer" },
	{ "type 1 kind=struct name=s size=4 line=3", "field \"line\" needs field \"file\"" },
	{ "type 1 kind=base name=i size=4 enc=signed members=a:1:0", "field \"members\": does not apply to kind=base" },
	{ "type 1 kind=base name=i size=4 enc=signed file=1", "field \"file\": does not apply to kind=base" },
	{ "type 1 kind=pointer to=2 scope=3", "field \"scope\": does not apply to kind=pointer" },
	{ "type 1 kind=struct size=4 scope=x", "field \"scope\": \"x\" is not a number" },
	{ "type 1 kind=struct size=4 enumerators=A:1", "field \"enumerators\": does not apply to kind=struct" },
	{ "type 1 kind=volatile", "missing field \"to\" (kind=volatile needs it)" },
	{ "type 1 kind=struct size=4 align=-1", "field \"align\": \"-1\" must not be negative" },
	{ "file 1 path=a lang=c23", "field \"lang\": \"c23\" is not c89, c99, c11, c17 or a DWARF language code" },
	{ "file 1 path=a lang=0", "field \"lang\": 0 is no DWARF language code" },
	{ "file 1 path=a lang=0x10000", "must be at most 65535" },
	{ "global 1 name=g type=1 addr=0x10 file=1", "global: missing field \"line\"" },
	{ "global 1 type=1 addr=0x10 file=1 line=1", "global: missing field \"name\"" },
	{ "global 1 name=g type=0 addr=0x10 file=1 line=1", "global: field \"type\": id 0 is reserved" },
	{ "global 1 name=g type=1 addr=x file=1 line=1", "field \"addr\": \"x\" is not a number" },
	{ "global 1 name=g type=1 addr=1 file=1 line=1 ext=1", "\"ext\" is a flag and takes no value" },
	{ "global 1 name=g type=1 addr=1 file=1 line=1 linkage=", "field \"linkage\": must not be empty" },
	{ "delglobal 0", "delglobal: ID: id 0 is reserved" },
	{ "delglobal", "delglobal: missing ID" },
	{ "fn 1 name=a file=1 line=1 abstract low_pc=0", "fn: field \"low_pc\": an abstract fn has no code" },
	{ "fn 1 name=a file=1 line=1 abstract size=4", "fn: field \"size\": an abstract fn has no code" },
	{ "fn 1 name=a file=1 line=1 abstract rows=0:1", "fn: field \"rows\": an abstract fn has no code" },
	{ "fn 1 name=a file=1 line=1", "fn: missing field \"low_pc\"" },
	{ "fn 1 name=a low_pc=0 file=1 line=1", "fn: missing field \"size\"" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 variadic unprototyped", "\"variadic\" and \"unprototyped\" exclude each other" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 abstract abstract", "\"abstract\" given twice" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 linkage=", "field \"linkage\": must not be empty" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=q", "field \"frame_base\": location \"q\" is not fb+N, rN, bN+V, aADDR, kV, xHEX" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=fb20", "field \"frame_base\": frame offset \"20\" needs a sign" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=fb+-2", "frame offset \"+-2\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=fb+", "frame offset \"+\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=fb-0x8000000000000001", "frame offset \"-0x8000000000000001\" does not fit" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=r", "register \"\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=r4294967296", "register \"4294967296\" must be at most 4294967295" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=r6+1", "location \"r6+1\" is not" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=b7", "register offset \"\" needs a sign" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=b+8", "register \"\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=x123", "location \"x123\" is not" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=x", "location \"x\" is not" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=xzz", "location \"xzz\" is not" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=kx", "constant \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=k", "constant \"\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=a-1", "address \"-1\" must not be negative" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 frame_base=0..4@r1@r2", "list entry 1 \"0..4@r1@r2\": register \"1@r2\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5", "field \"vars\": entry 1 \"i:5\": expected NAME:TYPEID:LOC[:LINE[:BLOCK]]" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:r1:2:3:4", "expected NAME:TYPEID:LOC[:LINE[:BLOCK]]" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=:5:r1", "entry 1 \":5:r1\": the name is empty" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:r1:x", "line \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:r1:1:-1", "block \"-1\" must not be negative" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:0..9@r1;5..12@r2", "list entry 2 \"5..12@r2\" starts before the previous one ends" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:9..9@r1", "list entry 1 \"9..9@r1\": range \"9..9\" is empty" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:0..9@", "list entry 1 \"0..9@\": a list entry needs a location" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:0-9@r1", "range \"0-9\" is not FROM..TO" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:0..9", "location \"0..9\" is not" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:0..9@r1;", "list entry 2 \"\" is not FROM..TO@LOC" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 vars=i:5:0..x@r1", "range end \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4:0:7", "field \"blocks\": entry 1 \"0..4:0:7\": expected RANGES[:PARENT[:ORIGIN:CALLFILE:CALLLINE[:CALLCOL]]]" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4:0:7:1:2:3:4", "expected RANGES[:PARENT" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4:1", "parent 1 is not an earlier block" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4,0..2:3", "entry 2 \"0..2:3\": parent 3 is not an earlier block" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4:0:0:1:2", "origin id 0 is reserved" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4:0:7:0:2", "call file id 0 is reserved" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4:0:7:1:x", "call line \"x\" is not a number" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..4:0:7:1:2:-1", "call column \"-1\" must not be negative" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=4..2", "range \"4..2\" is empty" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 blocks=0..2+", "range \"\" is not FROM..TO" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a:1:q", "entry 1 \"a:1:q\": location \"q\" is not" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a:1:r1:2:3", "expected NAME:TYPEID[:LOC[:LINE]]" },
	{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 params=a:1:r1:x", "line \"x\" is not a number" },
	/* symbols */
	{ "sym x", "sym: missing field \"value\"" },
	{ "sym x value=1 sect=256", "field \"sect\": \"256\" must be at most 255" },
	{ "sym x value=1 ext ext", "\"ext\" given twice" },
	{ "sym x value=1 bogus", "unexpected word \"bogus\"" },
	{ "sym \"\" value=1", "NAME: must not be empty" },
	{ "unsym", "unsym: missing NAME" },
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
		struct cmd c = { .kind = CMD_ABORT };
		char err[ERRLEN] = "";
		int rc = cmd_parse(bad_lines[i].line, strlen(bad_lines[i].line), &c, err,
				   sizeof err);
		char what[3 * ERRLEN];
		snprintf(what, sizeof what, "line \"%s\": rc %d, message \"%s\", want \"%s\"",
			 bad_lines[i].line, rc, err, bad_lines[i].want);
		CHECK_NAMED(rc == -EINVAL && strstr(err, bad_lines[i].want), what);
		/* A failed parse leaves *out alone. */
		CHECK_NAMED(c.kind == CMD_ABORT, what);
	}
}

static void test_nul_and_buffers(void)
{
	struct cmd c;
	char err[ERRLEN];
	static const char with_nul[] = "fn 1 name=a\0b low_pc=0 size=1 file=1 line=1";
	CU_ASSERT_EQUAL(cmd_parse(with_nul, sizeof with_nul - 1, &c, err, sizeof err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NUL byte (column 12)"));
	/* Even in what would otherwise be a comment. */
	static const char comment_nul[] = "# a\0b";
	CU_ASSERT_EQUAL(cmd_parse(comment_nul, sizeof comment_nul - 1, &c, err, sizeof err),
			-EINVAL);

	/* No message buffer, or a tiny one, is fine. */
	CU_ASSERT_EQUAL(cmd_parse("fnn", 3, &c, NULL, 0), -EINVAL);
	char tiny[6];
	CU_ASSERT_EQUAL(cmd_parse("fnn", 3, &c, tiny, sizeof tiny), -EINVAL);
	CU_ASSERT_STRING_EQUAL(tiny, "unkno");

	/* A long value is cut short in the message, never overflowing it. */
	char line[600];
	memset(line, 'z', sizeof line);
	static const char head[] = "fn 1 name=a size=1 file=1 line=1 low_pc=";
	memcpy(line, head, sizeof head - 1);
	CU_ASSERT_EQUAL(cmd_parse(line, sizeof line, &c, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "zzz...\" is not a number"));

	/* Control bytes in a bad value are escaped in the message. */
	CU_ASSERT_EQUAL(cmd_parse("fnn\x01", 4, &c, err, sizeof err), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "unknown command \"fnn\\x01\"");
}

static void test_free_and_names(void)
{
	struct cmd c = { 0 };
	cmd_free(&c);
	CU_ASSERT_EQUAL(c.kind, 0);
	static const struct {
		enum cmd_kind k;
		const char *name;
	} names[] = {
		{ CMD_IMAGE, "image" }, { CMD_EXE, "exe" }, { CMD_SEGMENT, "segment" },
		{ CMD_SECTION, "section" }, { CMD_FILE, "file" }, { CMD_DELFILE, "delfile" },
		{ CMD_TYPE, "type" }, { CMD_DELTYPE, "deltype" }, { CMD_FN, "fn" },
		{ CMD_MOVE, "move" }, { CMD_MOVE_RANGE, "move-range" }, { CMD_LINE, "line" },
		{ CMD_LINE_RANGE, "line-range" }, { CMD_DEL, "del" }, { CMD_SYM, "sym" },
		{ CMD_UNSYM, "unsym" }, { CMD_COMMIT, "commit" }, { CMD_ABORT, "abort" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		CHECK_NAMED(strcmp(cmd_name(names[i].k), names[i].name) == 0, names[i].name);
}

/* Formatting. */

/* The buffer's text as a C string the caller frees. */
static char *take_text(struct enc_buf *b)
{
	enc_buf_u8(b, 0);
	CU_ASSERT_EQUAL_FATAL(enc_buf_error(b), 0);
	size_t len;
	char *s = (char *)enc_buf_take(b, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

static void test_format_exact(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	struct rec_param params[] = { { .name = "argc", .type = 2 }, { .name = "ar gv", .type = 5 } };
	struct rec_row rows[] = {
		{ 0, 3, 0, REC_ROW_STMT, 0 },
		{ 8, 4, 5, REC_ROW_STMT | REC_ROW_PROLOGUE, 0 },
		{ 0x10, 0, 0, 0, 2 },
		{ 0x14, 5, 1, REC_ROW_EPILOGUE, 0 },
	};
	struct rec_fn f = {
		.id = 7, .name = "main", .low_pc = 0x100003f50, .size = 0x20, .file = 1,
		.line = 3, .ret = 2, .nparams = 2, .params = params, .nrows = 4, .rows = rows,
	};
	cmd_format_fn(&b, &f);
	char *s = take_text(&b);
	CU_ASSERT_STRING_EQUAL(s, "fn 7 name=main low_pc=0x100003f50 size=0x20 file=1 line=3 "
			       "ret=2 params=\"argc:2,ar gv:5\" "
			       "rows=0x0:3:0:s:0,0x8:4:5:sp:0,0x10:0:0::2,0x14:5:1:e:0\n");
	free(s);

	struct rec_fn bare = { .id = 1, .name = "f", .file = 2, .cu = 3, .nparams = 1,
			       .params = params };
	cmd_format_fn(&b, &bare);
	s = take_text(&b);
	CU_ASSERT_STRING_EQUAL(s, "fn 1 name=f low_pc=0x0 size=0x0 file=2 line=0 cu=3 "
			       "params=argc:2\n");
	free(s);

	struct rec_type base = { .id = 3, .kind = REC_TYPE_BASE, .name = "int", .size = 4,
				 .enc = REC_ENC_SIGNED };
	struct rec_type ptr = { .id = 4, .kind = REC_TYPE_POINTER, .to = 0 };
	struct rec_type td = { .id = 5, .kind = REC_TYPE_TYPEDEF, .name = "my t", .to = 3 };
	struct rec_type uc = { .id = 6, .kind = REC_TYPE_BASE, .name = "unsigned char",
			       .size = 1, .enc = REC_ENC_UNSIGNED_CHAR };
	cmd_format_type(&b, &base);
	cmd_format_type(&b, &ptr);
	cmd_format_type(&b, &td);
	cmd_format_type(&b, &uc);
	s = take_text(&b);
	CU_ASSERT_STRING_EQUAL(s, "type 3 kind=base name=int size=0x4 enc=signed\n"
			       "type 4 kind=pointer to=0\n"
			       "type 5 kind=typedef name=\"my t\" to=3\n"
			       "type 6 kind=base name=\"unsigned char\" size=0x1 "
			       "enc=unsigned_char\n");
	free(s);

	struct rec_file fa = { .id = 1, .path = "/src/a b.c", .dir = "/src" };
	struct rec_file fb = { .id = 2, .path = "b.c" };
	cmd_format_file(&b, &fa);
	cmd_format_file(&b, &fb);
	s = take_text(&b);
	CU_ASSERT_STRING_EQUAL(s, "file 1 path=\"/src/a b.c\" dir=/src\nfile 2 path=b.c\n");
	free(s);

	static const struct {
		const char *in, *out;
	} values[] = {
		{ "", "\"\"" },
		{ "plain", "plain" },
		{ "h\xc3\xa9", "h\xc3\xa9" },
		{ "a b", "\"a b\"" },
		{ "k=v", "\"k=v\"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "C:\\x", "\"C:\\\\x\"" },
		{ "\n\t\r\x01\x7f", "\"\\n\\t\\r\\x01\\x7f\"" },
		{ "a:b,c#", "a:b,c#" },
	};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		cmd_format_value(&b, values[i].in);
		s = take_text(&b);
		CHECK_NAMED(strcmp(s, values[i].out) == 0, values[i].out);
		free(s);
	}
	enc_buf_free(&b);
}

/* Random records: a small deterministic generator keeps failures reproducible. */

static uint64_t next_rand(uint64_t *state)
{
	/* xorshift64* */
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Mostly awkward edge values, sometimes anything, within [0, hi]. */
static uint64_t rand_num(uint64_t *st, uint64_t hi)
{
	uint64_t r = next_rand(st);
	switch (r % 5) {
	case 0: return 0;
	case 1: return hi;
	case 2: return (r >> 8) % 100 > hi ? hi : (r >> 8) % 100;
	default: return hi == UINT64_MAX ? next_rand(st) : next_rand(st) % (hi + 1);
	}
}

static uint64_t rand_id(uint64_t *st)
{
	uint64_t v = rand_num(st, UINT64_MAX);
	return v ? v : 1;
}

/* Names built from pieces a quoting bug would trip over. `list_safe` leaves out ':' and
 * ',' for names inside lists (params=, members=, ...). */
static char *rand_name(uint64_t *st, bool list_safe)
{
	static const char *const pieces[] = {
		"a", "Z9", "_", " ", "\"", "\\", "=", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
		"\t", "\n", "\r", "\x01", "\x7f", "#", "x y", "\\x41", "0x", ":", ",",
	};
	size_t npieces = sizeof pieces / sizeof pieces[0] - (list_safe ? 2 : 0);
	char buf[128] = "";
	unsigned n = 1 + (unsigned)(next_rand(st) % 6);
	for (unsigned i = 0; i < n; i++)
		strcat(buf, pieces[next_rand(st) % npieces]);
	char *s = strdup(buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

static void *rand_array(uint64_t *st, uint32_t max, size_t size, uint32_t *n)
{
	*n = (uint32_t)(next_rand(st) % (max + 1));
	if (!*n)
		return NULL;
	void *a = calloc(*n, size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	return a;
}

/* Any LOC; a list's entries are of the simple kinds, ascending. */
static void rand_loc(uint64_t *st, struct rec_loc *l, bool in_list)
{
	memset(l, 0, sizeof *l);
	l->kind = (enum rec_loc_kind)(next_rand(st) % (in_list ? REC_LOC_LIST : REC_LOC_LIST + 1));
	if (in_list && l->kind == REC_LOC_NONE)
		l->kind = REC_LOC_REG;
	switch (l->kind) {
	case REC_LOC_NONE:
		break;
	case REC_LOC_FBREG:
	case REC_LOC_CONST:
	case REC_LOC_ADDR:
		l->value = (int64_t)rand_num(st, UINT64_MAX);
		break;
	case REC_LOC_REG:
		l->reg = (uint32_t)rand_num(st, UINT32_MAX);
		break;
	case REC_LOC_BREG:
		l->reg = (uint32_t)rand_num(st, UINT32_MAX);
		l->value = (int64_t)rand_num(st, UINT64_MAX);
		break;
	case REC_LOC_EXPR:
		l->len = 1 + (uint32_t)(next_rand(st) % 4);
		l->bytes = malloc(l->len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l->bytes);
		for (uint32_t i = 0; i < l->len; i++)
			l->bytes[i] = (uint8_t)next_rand(st);
		break;
	case REC_LOC_LIST: {
		l->entries = rand_array(st, 3, sizeof *l->entries, &l->len);
		if (!l->len) {
			l->kind = REC_LOC_NONE;
			break;
		}
		uint64_t at = rand_num(st, 100);
		for (uint32_t i = 0; i < l->len; i++) {
			l->entries[i].from = at;
			l->entries[i].to = at += 1 + next_rand(st) % 50;
			rand_loc(st, &l->entries[i].loc, true);
		}
		break;
	}
	}
}

static struct rec_fn *rand_fn(uint64_t *st)
{
	struct rec_fn *f = rec_fn_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->id = rand_id(st);
	f->name = rand_name(st, false);
	f->low_pc = rand_num(st, UINT64_MAX);
	f->size = rand_num(st, UINT64_MAX);
	f->file = rand_id(st);
	f->line = (int64_t)rand_num(st, INT32_MAX);
	f->cu = rand_num(st, UINT64_MAX);
	f->ret = rand_num(st, UINT64_MAX);
	f->nparams = (uint32_t)(next_rand(st) % 4);
	if (f->nparams) {
		f->params = calloc(f->nparams, sizeof *f->params);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f->params);
	}
	for (uint32_t i = 0; i < f->nparams; i++) {
		f->params[i].name = next_rand(st) % 4 ? rand_name(st, true) : strdup("");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f->params[i].name);
		f->params[i].type = rand_id(st);
		rand_loc(st, &f->params[i].loc, false);
		f->params[i].line = (uint32_t)rand_num(st, UINT32_MAX);
	}
	if (next_rand(st) % 2) {
		f->linkage = rand_name(st, false);
		rand_loc(st, &f->frame_base, false);
	}
	f->vars = rand_array(st, 3, sizeof *f->vars, &f->nvars);
	for (uint32_t i = 0; i < f->nvars; i++) {
		f->vars[i].name = rand_name(st, true);
		f->vars[i].type = rand_num(st, UINT64_MAX);
		rand_loc(st, &f->vars[i].loc, false);
		f->vars[i].line = (uint32_t)rand_num(st, UINT32_MAX);
		f->vars[i].block = (uint32_t)rand_num(st, UINT32_MAX);
	}
	f->blocks = rand_array(st, 3, sizeof *f->blocks, &f->nblocks);
	for (uint32_t i = 0; i < f->nblocks; i++) {
		struct rec_block *bl = &f->blocks[i];
		bl->ranges = rand_array(st, 2, sizeof *bl->ranges, &bl->nranges);
		if (!bl->nranges) {
			bl->ranges = calloc(1, sizeof *bl->ranges);
			CU_ASSERT_PTR_NOT_NULL_FATAL(bl->ranges);
			bl->nranges = 1;
		}
		for (uint32_t r = 0; r < bl->nranges; r++) {
			bl->ranges[r].from = rand_num(st, UINT64_MAX - 1);
			bl->ranges[r].to = bl->ranges[r].from + 1;
		}
		bl->parent = (uint32_t)(next_rand(st) % (i + 1));
		if (next_rand(st) % 2) {
			bl->origin = rand_id(st);
			bl->call_file = rand_id(st);
			bl->call_line = (uint32_t)rand_num(st, UINT32_MAX);
			bl->call_col = (uint32_t)rand_num(st, UINT32_MAX);
		}
	}
	uint64_t flags = next_rand(st);
	f->variadic = flags & 1;
	f->unprototyped = !f->variadic && (flags & 2);
	f->optimized = flags & 4;
	f->noreturn = flags & 8;
	f->abstract = (flags & 48) == 48;
	f->nrows = (uint32_t)(next_rand(st) % 5);
	if (f->nrows) {
		f->rows = calloc(f->nrows, sizeof *f->rows);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f->rows);
	}
	for (uint32_t i = 0; i < f->nrows; i++) {
		f->rows[i].off = (uint32_t)rand_num(st, UINT32_MAX);
		f->rows[i].line = (int32_t)rand_num(st, INT32_MAX);
		f->rows[i].col = (uint32_t)rand_num(st, UINT32_MAX);
		f->rows[i].flags = (uint32_t)(next_rand(st) % 8);
		f->rows[i].file = rand_num(st, UINT64_MAX);
	}
	if (f->abstract) {
		f->low_pc = f->size = 0;
		free(f->rows);
		f->rows = NULL;
		f->nrows = 0;
	}
	return f;
}

static struct rec_type *rand_type(uint64_t *st)
{
	struct rec_type *t = rec_type_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	t->id = rand_id(st);
	t->kind = (enum rec_type_kind)(REC_TYPE_BASE + next_rand(st) % 11);
	bool aggregate = t->kind == REC_TYPE_STRUCT || t->kind == REC_TYPE_UNION;
	t->decl = aggregate && next_rand(st) % 4 == 0;
	bool named = t->kind == REC_TYPE_BASE || t->kind == REC_TYPE_TYPEDEF || t->decl ||
		     next_rand(st) % 2;
	if (named)
		t->name = rand_name(st, false);
	t->align = rand_num(st, UINT64_MAX);
	switch (t->kind) {
	case REC_TYPE_BASE:
		t->size = rand_num(st, UINT64_MAX);
		t->enc = (enum rec_base_enc)(REC_ENC_SIGNED + next_rand(st) % 6);
		return t;
	case REC_TYPE_STRUCT:
	case REC_TYPE_UNION:
		if (!t->decl)
			t->size = rand_num(st, UINT64_MAX);
		t->members = rand_array(st, 3, sizeof *t->members, &t->nmembers);
		for (uint32_t i = 0; i < t->nmembers; i++) {
			struct rec_member *m = &t->members[i];
			m->name = next_rand(st) % 4 ? rand_name(st, true) : strdup("");
			CU_ASSERT_PTR_NOT_NULL_FATAL(m->name);
			m->type = rand_id(st);
			m->off = rand_num(st, UINT64_MAX);
			if (next_rand(st) % 2) {
				m->bits = (uint32_t)rand_num(st, UINT32_MAX);
				m->bits += !m->bits;
				m->bitoff = (uint32_t)rand_num(st, UINT32_MAX);
			}
		}
		break;
	case REC_TYPE_ENUM:
		t->size = rand_num(st, UINT64_MAX);
		t->to = rand_num(st, UINT64_MAX);
		t->enumerators = rand_array(st, 3, sizeof *t->enumerators, &t->nenumerators);
		for (uint32_t i = 0; i < t->nenumerators; i++) {
			struct rec_enumerator *e = &t->enumerators[i];
			e->name = rand_name(st, true);
			e->lo = rand_num(st, UINT64_MAX);
			e->hi = rand_num(st, UINT64_MAX);
			/* Negative: the top bit of the 128-bit value set, and not -0. */
			e->neg = (e->hi >> 63) && next_rand(st) % 2;
		}
		break;
	case REC_TYPE_ARRAY:
		t->to = rand_num(st, UINT64_MAX);
		t->dims = rand_array(st, 3, sizeof *t->dims, &t->ndims);
		if (!t->ndims) {
			t->dims = calloc(1, sizeof *t->dims);
			CU_ASSERT_PTR_NOT_NULL_FATAL(t->dims);
			t->ndims = 1;
		}
		for (uint32_t i = 0; i < t->ndims; i++)
			t->dims[i] = rand_num(st, UINT64_MAX - 1);
		if (next_rand(st) % 2)
			t->dims[0] = REC_DIM_UNKNOWN;
		return t;
	case REC_TYPE_FUNC:
		t->ret = rand_num(st, UINT64_MAX);
		t->params = rand_array(st, 3, sizeof *t->params, &t->nparams);
		for (uint32_t i = 0; i < t->nparams; i++)
			t->params[i] = rand_id(st);
		t->variadic = next_rand(st) % 2;
		t->unprototyped = !t->variadic && next_rand(st) % 2;
		return t;
	default:
		t->to = rand_num(st, UINT64_MAX);
		if (t->kind != REC_TYPE_TYPEDEF)
			return t;
		break;
	}
	t->file = rand_num(st, UINT64_MAX);
	t->line = t->file ? (uint32_t)rand_num(st, UINT32_MAX) : 0;
	if (t->kind != REC_TYPE_TYPEDEF)
		t->scope = rand_num(st, UINT64_MAX);
	return t;
}

static struct rec_global *rand_global(uint64_t *st)
{
	struct rec_global *g = rec_global_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	g->id = rand_id(st);
	g->name = rand_name(st, false);
	g->type = rand_id(st);
	g->addr = rand_num(st, UINT64_MAX);
	g->file = rand_id(st);
	g->line = (uint32_t)rand_num(st, UINT32_MAX);
	g->cu = rand_num(st, UINT64_MAX);
	g->ext = next_rand(st) % 2;
	if (next_rand(st) % 2)
		g->linkage = rand_name(st, false);
	return g;
}

static struct rec_file *rand_file(uint64_t *st)
{
	struct rec_file *f = rec_file_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	f->id = rand_id(st);
	f->path = rand_name(st, false);
	if (next_rand(st) % 2)
		f->dir = rand_name(st, false);
	static const uint32_t langs[] = { 0, 0x1, 0xc, 0x1d, 0x2c, 0x1c, 0xffff };
	f->lang = langs[next_rand(st) % (sizeof langs / sizeof langs[0])];
	return f;
}

/* Parses the single line in text (its '\n' dropped) expecting kind. */
static bool parse_back(const char *text, enum cmd_kind kind, struct cmd *c)
{
	size_t len = strlen(text);
	CU_ASSERT_FATAL(len > 0 && text[len - 1] == '\n');
	CU_ASSERT_PTR_NULL(memchr(text, '\n', len - 1));
	char err[ERRLEN] = "";
	int rc = cmd_parse(text, len - 1, c, err, sizeof err);
	char what[ERRLEN + 1024];
	snprintf(what, sizeof what, "parse back \"%s\": rc %d: %s", text, rc, err);
	CHECK_NAMED(rc == 0, what);
	if (rc != 0)
		return false;
	CU_ASSERT_EQUAL(c->kind, kind);
	return c->kind == kind;
}

#define ROUNDS 400

static void test_round_trip(void)
{
	uint64_t st = 0x9e3779b97f4a7c15ull;
	struct enc_buf b;
	enc_buf_init(&b);
	for (int i = 0; i < ROUNDS; i++) {
		struct cmd c;
		struct rec_fn *f = rand_fn(&st);
		cmd_format_fn(&b, f);
		char *s = take_text(&b);
		if (parse_back(s, CMD_FN, &c)) {
			CHECK_NAMED(rec_fn_same(f, c.u.fn), s);
			/* Formatting again gives the same line. */
			cmd_format_fn(&b, c.u.fn);
			char *again = take_text(&b);
			CU_ASSERT_STRING_EQUAL(again, s);
			free(again);
			cmd_free(&c);
		}
		free(s);
		rec_fn_unref(f);

		struct rec_type *t = rand_type(&st);
		cmd_format_type(&b, t);
		s = take_text(&b);
		if (parse_back(s, CMD_TYPE, &c)) {
			CHECK_NAMED(rec_type_same(t, c.u.type), s);
			cmd_free(&c);
		}
		free(s);
		rec_type_unref(t);

		struct rec_file *fi = rand_file(&st);
		cmd_format_file(&b, fi);
		s = take_text(&b);
		if (parse_back(s, CMD_FILE, &c)) {
			CHECK_NAMED(rec_file_same(fi, c.u.file), s);
			cmd_free(&c);
		}
		free(s);
		rec_file_unref(fi);

		struct rec_global *g = rand_global(&st);
		cmd_format_global(&b, g);
		s = take_text(&b);
		if (parse_back(s, CMD_GLOBAL, &c)) {
			CHECK_NAMED(rec_global_same(g, c.u.global), s);
			cmd_free(&c);
		}
		free(s);
		rec_global_unref(g);
	}
	enc_buf_free(&b);
}

/* Truncated and mangled lines: each either parses, is blank, or fails with a message,
 * and nothing leaks (LSan) or is read out of bounds (ASan: each prefix is copied to a
 * buffer of exactly its length). */

static const char *const valid_lines[] = {
	"image myapp create exe=\"/tmp/a b/app\" uuid=01234567-89ab-cdef-0123-456789ABCDEF "
	"arch=arm64",
	"exe \"/usr/bin/a\\x20b\"",
	"segment __TEXT vmaddr=0x100000000 vmsize=0x4000 maxprot=r-x initprot=5",
	"section __TEXT __text addr=0x100003f50 size=0x40 align=4",
	"file 3 path=\"src/a b.c\" dir=/home/me",
	"delfile 3",
	"type 7 kind=base name=\"unsigned int\" size=4 enc=unsigned",
	"type 8 kind=typedef name=t to=7",
	"deltype 8",
	"fn 42 name=\"my \\\"fn\\\"\" low_pc=0x1000 size=32 file=3 line=17 cu=2 ret=5 "
	"params=\"a b:5,c:6\" rows=0:17,0x4:18:5,8:19:2:pe,12:20:1::4,16:0:0:s:0",
	"move 5 low_pc=0x2000 size=0x10",
	"move-range from=0x1000 to=0x2000 by=-0x10",
	"line 9 delta=-3 file=4",
	"line-range file=2 from=10 to=20 by=-5",
	"del 12",
	"sym _main value=0x100003f50 sect=1 ext",
	"unsym \"_ma in\"",
	"commit",
	"abort",
	"  # comment",
};

static void parse_owned_copy(const char *line, size_t len)
{
	char *copy = malloc(len ? len : 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, line, len);
	struct cmd c;
	char err[ERRLEN] = "";
	int rc = cmd_parse(copy, len, &c, err, sizeof err);
	char what[ERRLEN + 700];
	snprintf(what, sizeof what, "\"%.*s\": rc %d: %s", (int)len, line, rc, err);
	CHECK_NAMED(rc == 0 || rc == 1 || (rc == -EINVAL && err[0]), what);
	if (rc == 0)
		cmd_free(&c);
	free(copy);
}

static void test_prefixes_and_mangling(void)
{
	static const char mangle[] = { '"', '\\', '=', ' ', ',', ':', '-', 'x', '0', '\r',
				       '\t', '#', 0 };
	uint64_t st = 12345;
	for (size_t i = 0; i < sizeof valid_lines / sizeof valid_lines[0]; i++) {
		const char *line = valid_lines[i];
		size_t len = strlen(line);
		for (size_t n = 0; n <= len; n++)
			parse_owned_copy(line, n);
		char buf[512];
		CU_ASSERT_FATAL(len < sizeof buf);
		for (int k = 0; k < 200; k++) {
			memcpy(buf, line, len);
			unsigned edits = 1 + (unsigned)(next_rand(&st) % 3);
			for (unsigned e = 0; e < edits; e++)
				buf[next_rand(&st) % len] = mangle[next_rand(&st) % sizeof mangle];
			parse_owned_copy(buf, len);
		}
	}
}


/* Every field of two commands, records by rec_*_same. */
static bool cmd_same(const struct cmd *x, const struct cmd *y)
{
	if (x->kind != y->kind)
		return false;
#define STR_EQ(a, b) ((!(a) && !(b)) || ((a) && (b) && !strcmp((a), (b))))
	switch (x->kind) {
	case CMD_IMAGE:
		return STR_EQ(x->u.image.name, y->u.image.name) &&
		       x->u.image.create == y->u.image.create &&
		       STR_EQ(x->u.image.exe, y->u.image.exe) &&
		       x->u.image.has_uuid == y->u.image.has_uuid &&
		       !memcmp(x->u.image.uuid, y->u.image.uuid, 16) &&
		       x->u.image.has_arch == y->u.image.has_arch &&
		       x->u.image.cputype == y->u.image.cputype &&
		       x->u.image.cpusubtype == y->u.image.cpusubtype;
	case CMD_EXE:
		return STR_EQ(x->u.exe.path, y->u.exe.path);
	case CMD_SEGMENT:
		return STR_EQ(x->u.segment.name, y->u.segment.name) &&
		       x->u.segment.vmaddr == y->u.segment.vmaddr &&
		       x->u.segment.vmsize == y->u.segment.vmsize &&
		       x->u.segment.has_maxprot == y->u.segment.has_maxprot &&
		       x->u.segment.has_initprot == y->u.segment.has_initprot &&
		       x->u.segment.maxprot == y->u.segment.maxprot &&
		       x->u.segment.initprot == y->u.segment.initprot;
	case CMD_SECTION:
		return STR_EQ(x->u.section.seg, y->u.section.seg) &&
		       STR_EQ(x->u.section.sect, y->u.section.sect) &&
		       x->u.section.addr == y->u.section.addr &&
		       x->u.section.size == y->u.section.size &&
		       x->u.section.has_align == y->u.section.has_align &&
		       x->u.section.align == y->u.section.align;
	case CMD_FILE:
		return rec_file_same(x->u.file, y->u.file);
	case CMD_TYPE:
		return rec_type_same(x->u.type, y->u.type);
	case CMD_FN:
		return rec_fn_same(x->u.fn, y->u.fn);
	case CMD_GLOBAL:
		return rec_global_same(x->u.global, y->u.global);
	case CMD_DELFILE:
	case CMD_DELTYPE:
	case CMD_DELGLOBAL:
	case CMD_DEL:
		return x->u.id == y->u.id;
	case CMD_MOVE:
		return x->u.move.id == y->u.move.id && x->u.move.low_pc == y->u.move.low_pc &&
		       x->u.move.has_size == y->u.move.has_size &&
		       x->u.move.size == y->u.move.size;
	case CMD_MOVE_RANGE:
		return x->u.move_range.from == y->u.move_range.from &&
		       x->u.move_range.to == y->u.move_range.to &&
		       x->u.move_range.by == y->u.move_range.by;
	case CMD_LINE:
		return x->u.line.id == y->u.line.id && x->u.line.delta == y->u.line.delta &&
		       x->u.line.file == y->u.line.file;
	case CMD_LINE_RANGE:
		return x->u.line_range.file == y->u.line_range.file &&
		       x->u.line_range.from == y->u.line_range.from &&
		       x->u.line_range.to == y->u.line_range.to &&
		       x->u.line_range.by == y->u.line_range.by;
	case CMD_SYM:
		return STR_EQ(x->u.sym.name, y->u.sym.name) && x->u.sym.value == y->u.sym.value &&
		       x->u.sym.sect == y->u.sym.sect && x->u.sym.ext == y->u.sym.ext;
	case CMD_UNSYM:
		return STR_EQ(x->u.unsym.name, y->u.unsym.name);
	case CMD_COMMIT:
	case CMD_ABORT:
		return true;
	}
#undef STR_EQ
	return false;
}

/* cmd_format: the canonical spelling (written from the protocol text), and for every
 * valid line, extreme values included, parse(format(parse(line))) equals parse(line). */
static void test_format_any(void)
{
	static const char *const pairs[][2] = {
		{ "image \"my app\" create arch=arm64", "image \"my app\" create arch=arm64\n" },
		{ "image a uuid=01234567-89ab-cdef-0123-456789ABCDEF",
		  "image a uuid=01234567-89AB-CDEF-0123-456789ABCDEF\n" },
		{ "exe  /a/b", "exe /a/b\n" },
		{ "segment __X vmaddr=16 vmsize=0x10 maxprot=r-x", "segment __X vmaddr=0x10 "
		  "vmsize=0x10 maxprot=5\n" },
		{ "section __TEXT __text addr=1 size=2", "section __TEXT __text addr=0x1 size=0x2\n" },
		{ "move 5 low_pc=32", "move 5 low_pc=0x20\n" },
		{ "move-range from=1 to=2 by=-0x10", "move-range from=0x1 to=0x2 by=-16\n" },
		{ "line 9 delta=-3", "line 9 delta=-3\n" },
		{ "line 9 delta=3 file=4", "line 9 delta=3 file=4\n" },
		{ "line-range file=2 from=10 to=20 by=0", "line-range file=2 from=10 to=20 by=0\n" },
		{ "del 12", "del 12\n" },
		{ "type 3 kind=struct name=node size=16 file=1 line=2 members=next:4:0,val:5:8,b:5:12:3:1",
		  "type 3 kind=struct name=node size=0x10 file=1 line=2 members=next:4:0,val:5:8,b:5:12:3:1\n" },
		{ "type 12 kind=union size=8 scope=3 members=\"a b:5:0,:6:0\"",
		  "type 12 kind=union size=0x8 scope=3 members=\"a b:5:0,:6:0\"\n" },
		{ "type 4 kind=struct name=opaque decl",
		  "type 4 kind=struct name=opaque decl\n" },
		{ "type 13 kind=struct size=0",
		  "type 13 kind=struct size=0x0\n" },
		{ "type 5 kind=enum name=e size=4 to=6 align=4 enumerators=NEG:-3,TOP:0xfffffff0,BIG:0x100000000000000000,M:-0x80000000000000000000000000000000",
		  "type 5 kind=enum name=e size=0x4 to=6 align=4 enumerators=NEG:-3,TOP:4294967280,BIG:0x100000000000000000,M:-0x80000000000000000000000000000000\n" },
		{ "type 6 kind=array to=5 dims=-,0x3",
		  "type 6 kind=array to=5 dims=-,3\n" },
		{ "type 7 kind=func variadic params=5,6 ret=5",
		  "type 7 kind=func ret=5 params=5,6 variadic\n" },
		{ "type 8 kind=volatile to=0",
		  "type 8 kind=volatile to=0\n" },
		{ "type 9 kind=pointer name=\"?*u8\" to=3",
		  "type 9 kind=pointer name=?*u8 to=3\n" },
		{ "file 2 path=a.c lang=c11",
		  "file 2 path=a.c lang=c11\n" },
		{ "file 2 path=a.zig lang=0x1c",
		  "file 2 path=a.zig lang=28\n" },
		{ "global 1 linkage=_g ext name=g type=5 addr=4096 file=1 line=3",
		  "global 1 name=g type=5 addr=0x1000 file=1 line=3 ext linkage=_g\n" },
		{ "delglobal 0x7",
		  "delglobal 7\n" },
		{ "fn 9 abstract name=sq file=1 line=2 ret=5 params=x:5::3 vars=t:5:",
		  "fn 9 name=sq file=1 line=2 ret=5 params=x:5::3 vars=t:5: abstract\n" },
		{ "fn 1 name=m low_pc=0x1000 size=0x40 file=1 line=1 params=argc:5:fb-20:1,v:6:b7+0x8,w:6:a16 rows=0:1 linkage=_m frame_base=r6 vars=i:5:fb-24:3:1,j:5:0..0x9@r5;0x9..0xe@k3:4:2,k:5:x9170,l:5::0:1 blocks=0x10..0x24+0x30..0x38,0x12..0x20:1:9:1:5:7,0x12..0x14:2:9:1:6 noreturn optimized unprototyped",
		  "fn 1 name=m low_pc=0x1000 size=0x40 file=1 line=1 params=argc:5:fb-20:1,v:6:b7+8,w:6:a0x10 rows=0x0:1:0:s:0 linkage=_m frame_base=r6 vars=i:5:fb-24:3:1,j:5:0x0..0x9@r5;0x9..0xe@k3:4:2,k:5:x9170,l:5::0:1 blocks=0x10..0x24+0x30..0x38,0x12..0x20:1:9:1:5:7,0x12..0x14:2:9:1:6 unprototyped optimized noreturn\n" },
		{ "deltype 0x10", "deltype 16\n" },
		{ "sym \"a=b\" value=1", "sym \"a=b\" value=0x1\n" },
		{ "sym _m value=1 sect=3 ext", "sym _m value=0x1 sect=3 ext\n" },
		{ "unsym \"_ma in\"", "unsym \"_ma in\"\n" },
		{ "commit", "commit\n" },
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		struct cmd c;
		ok(pairs[i][0], &c);
		struct enc_buf b;
		enc_buf_init(&b);
		cmd_format(&b, &c);
		size_t len;
		char *text = (char *)enc_buf_take(&b, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		CHECK_NAMED(len == strlen(pairs[i][1]) && !memcmp(text, pairs[i][1], len),
			    pairs[i][1]);
		free(text);
		cmd_free(&c);
	}
	static const char *const extremes[] = {
		"move-range from=0 to=0xffffffffffffffff by=-9223372036854775808",
		"line 1 delta=9223372036854775807 file=18446744073709551615",
		"line-range file=1 from=1 to=2147483647 by=-9223372036854775808",
		"sym \"\\x01\\\\\\\"\" value=0xffffffffffffffff sect=255",
		"segment __LINKEDIT vmaddr=0 vmsize=0 maxprot=0 initprot=rwx",
	};
	const char *const *sets[] = { valid_lines, extremes };
	size_t counts[] = { sizeof valid_lines / sizeof valid_lines[0],
			    sizeof extremes / sizeof extremes[0] };
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < counts[s]; i++) {
			struct cmd c1, c2;
			char err[ERRLEN];
			if (cmd_parse(sets[s][i], strlen(sets[s][i]), &c1, err, sizeof err) != 0)
				continue;  /* comments */
			struct enc_buf b;
			enc_buf_init(&b);
			cmd_format(&b, &c1);
			size_t len;
			char *text = (char *)enc_buf_take(&b, &len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(text);
			CU_ASSERT_FATAL(len > 0 && text[len - 1] == '\n');
			int rc = cmd_parse(text, len - 1, &c2, err, sizeof err);
			CHECK_NAMED(rc == 0, sets[s][i]);
			if (rc == 0) {
				CHECK_NAMED(cmd_same(&c1, &c2), sets[s][i]);
				cmd_free(&c2);
			}
			free(text);
			cmd_free(&c1);
		}
	}
}

/* A line with several faults is refused for the first, in the order of the command's
 * synopsis in docs/protocol.md: the words, then which keys are missing, then each field
 * in turn (a type's kind rules right after its kind), then a range's bounds against each
 * other. Two faults per line, so a reordered table shows here. */
static void test_first_fault(void)
{
	static const struct {
		const char *line, *want;
	} lines[] = {
		{ "fn name=a low_pc=x size=1 file=1 line=1", "fn: missing ID" },
		{ "fn 1 low_pc=x size=1 file=1", "fn: missing field \"name\"" },
		{ "fn 1 name=a low_pc=0 file=1", "fn: missing field \"size\"" },
		{ "fn 0 name=\"\" low_pc=0 size=1 file=1 line=1", "fn: ID: id 0 is reserved" },
		{ "fn 1 name=\"\" low_pc=x size=1 file=1 line=1",
		  "fn: field \"name\": must not be empty" },
		{ "fn 1 name=a low_pc=0 size=1 file=1 line=1 rows=1 params=a",
		  "fn: field \"params\": entry 1 \"a\": expected NAME:TYPEID" },
		{ "section __TEXT \"\" addr=x size=1", "section: SECT: \"\" must be 1 to 16" },
		{ "segment __T vmaddr=1 vmsize=1 initprot=9 maxprot=9",
		  "segment: field \"maxprot\": \"9\" is not a protection" },
		{ "image x arch=ppc uuid=nope", "image: field \"uuid\": \"nope\" is not a UUID" },
		{ "image a/b exe=\"\"", "image: NAME: \"a/b\" cannot name a directory" },
		{ "type 1 kind=pointer size=x", "type: missing field \"to\" (kind=pointer needs it)" },
		{ "type 1 kind=pointer to=x size=x",
		  "type: field \"size\": does not apply to kind=pointer" },
		{ "type 1 kind=base size=4 to=1", "type: missing field \"enc\" (kind=base needs it)" },
		{ "type 1 kind=base size=4 enc=signed to=1",
		  "type: field \"to\": does not apply to kind=base" },
		{ "type 1 kind=typedef name=\"\" to=x", "type: field \"name\": must not be empty" },
		{ "type 1 kind=base name=i size=x enc=bogus", "type: field \"size\": \"x\" is not a "
		  "number" },
		{ "move-range from=9 to=1 by=x", "move-range: field \"by\": \"x\" is not a number" },
		{ "line-range file=1 from=9 to=0 by=1",
		  "line-range: field \"to\": \"0\" must be between 1 and 2147483647" },
		{ "sym a value=x sect=256", "sym: field \"value\": \"x\" is not a number" },
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct cmd c = { .kind = CMD_ABORT };
		char err[ERRLEN] = "";
		int rc = cmd_parse(lines[i].line, strlen(lines[i].line), &c, err, sizeof err);
		char what[3 * ERRLEN];
		snprintf(what, sizeof what, "%s: rc %d: \"%s\", want \"%s\"", lines[i].line, rc,
			 err, lines[i].want);
		CHECK_NAMED(rc == -EINVAL && strncmp(err, lines[i].want, strlen(lines[i].want)) == 0,
			    what);
	}
}

/* Commands built by hand, as the journal builds them from a state: flags and optional
 * fields are written where the synopsis puts them, and only when set. */
static void test_format_built(void)
{
	static const uint8_t uuid[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	struct cmd cs[8] = {
		{ .kind = CMD_IMAGE, .u.image = { .name = "a", .create = true, .exe = "/e",
						  .has_arch = true, .cputype = MACHO_CPU_ARM64,
						  .cpusubtype = MACHO_SUBTYPE_ARM64_ALL } },
		{ .kind = CMD_IMAGE, .u.image = { .name = "b", .has_uuid = true } },
		{ .kind = CMD_SEGMENT, .u.segment = { .name = "__T", .vmaddr = 1, .vmsize = 2,
						      .has_initprot = true } },
		{ .kind = CMD_SECTION, .u.section = { .seg = "__T", .sect = "__t" } },
		{ .kind = CMD_SECTION, .u.section = { .seg = "__T", .sect = "__t",
						      .has_align = true } },
		{ .kind = CMD_MOVE, .u.move = { .id = 3, .low_pc = 16, .has_size = true } },
		{ .kind = CMD_SYM, .u.sym = { .name = "_s", .value = 5, .sect = 0, .ext = true } },
		{ .kind = CMD_DELTYPE, .u.id = 9 },
	};
	memcpy(cs[1].u.image.uuid, uuid, 16);
	struct enc_buf b;
	enc_buf_init(&b);
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
		cmd_format(&b, &cs[i]);
	char *s = take_text(&b);
	CU_ASSERT_STRING_EQUAL(s, "image a create exe=/e arch=arm64\n"
			       "image b uuid=01234567-89AB-CDEF-0123-456789ABCDEF\n"
			       "segment __T vmaddr=0x1 vmsize=0x2 initprot=0\n"
			       "section __T __t addr=0x0 size=0x0\n"
			       "section __T __t addr=0x0 size=0x0 align=0\n"
			       "move 3 low_pc=0x10 size=0x0\n"
			       "sym _s value=0x5 ext\n"
			       "deltype 9\n");
	free(s);
	/* Each parses back to what was built. */
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		enc_buf_init(&b);
		cmd_format(&b, &cs[i]);
		char *line = take_text(&b);
		struct cmd c;
		char err[ERRLEN] = "";
		int rc = cmd_parse(line, strlen(line) - 1, &c, err, sizeof err);
		CHECK_NAMED(rc == 0 && cmd_same(&cs[i], &c), line);
		if (rc == 0)
			cmd_free(&c);
		free(line);
	}
}

/* The rich type kinds: every field as the protocol text spells it. */
static void test_rich_types(void)
{
	struct cmd c;
	ok("type 3 kind=struct name=node size=0x18 file=1 line=4 align=8 "
	   "members=next:3:0,:12:8,flag:5:16:3:2", &c);
	struct rec_type *t = c.u.type;
	CU_ASSERT_EQUAL(t->kind, REC_TYPE_STRUCT);
	CU_ASSERT_STRING_EQUAL(t->name, "node");
	CU_ASSERT_EQUAL(t->size, 24);
	CU_ASSERT_EQUAL(t->file, 1);
	CU_ASSERT_EQUAL(t->line, 4);
	CU_ASSERT_EQUAL(t->align, 8);
	CU_ASSERT_EQUAL_FATAL(t->nmembers, 3);
	CU_ASSERT_STRING_EQUAL(t->members[0].name, "next");
	CU_ASSERT_EQUAL(t->members[0].type, 3);
	CU_ASSERT_EQUAL(t->members[0].off, 0);
	CU_ASSERT_EQUAL(t->members[0].bits, 0);
	CU_ASSERT_STRING_EQUAL(t->members[1].name, "");
	CU_ASSERT_EQUAL(t->members[1].type, 12);
	CU_ASSERT_EQUAL(t->members[1].off, 8);
	CU_ASSERT_EQUAL(t->members[2].off, 16);
	CU_ASSERT_EQUAL(t->members[2].bits, 3);
	CU_ASSERT_EQUAL(t->members[2].bitoff, 2);
	cmd_free(&c);

	ok("type 12 kind=union size=8 scope=3", &c);
	CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_UNION);
	CU_ASSERT_PTR_NULL(c.u.type->name);
	CU_ASSERT_EQUAL(c.u.type->scope, 3);
	cmd_free(&c);

	ok("type 4 kind=struct name=opaque decl", &c);
	CU_ASSERT(c.u.type->decl);
	CU_ASSERT_EQUAL(c.u.type->size, 0);
	cmd_free(&c);

	/* -2^127, 2^128-1, and the 64-bit edges either side. */
	ok("type 5 kind=enum name=e size=16 to=6 enumerators=NEG:-3,TOP:0xfffffff0,"
	   "MIN:-0x80000000000000000000000000000000,MAX:340282366920938463463374607431768211455,"
	   "U64:18446744073709551615,BIG:0x10000000000000000,Z:-0", &c);
	t = c.u.type;
	CU_ASSERT_EQUAL(t->to, 6);
	CU_ASSERT_EQUAL_FATAL(t->nenumerators, 7);
	CU_ASSERT_STRING_EQUAL(t->enumerators[0].name, "NEG");
	CU_ASSERT(t->enumerators[0].lo == (uint64_t)-3 && t->enumerators[0].hi == UINT64_MAX &&
		  t->enumerators[0].neg);
	CU_ASSERT(t->enumerators[1].lo == 0xfffffff0u && t->enumerators[1].hi == 0 &&
		  !t->enumerators[1].neg);
	CU_ASSERT(t->enumerators[2].lo == 0 && t->enumerators[2].hi == 1ull << 63 &&
		  t->enumerators[2].neg);
	CU_ASSERT(t->enumerators[3].lo == UINT64_MAX && t->enumerators[3].hi == UINT64_MAX &&
		  !t->enumerators[3].neg);
	CU_ASSERT(t->enumerators[4].lo == UINT64_MAX && t->enumerators[4].hi == 0 &&
		  !t->enumerators[4].neg);
	CU_ASSERT(t->enumerators[5].lo == 0 && t->enumerators[5].hi == 1 &&
		  !t->enumerators[5].neg);
	CU_ASSERT(t->enumerators[6].lo == 0 && t->enumerators[6].hi == 0 &&
		  !t->enumerators[6].neg);
	cmd_free(&c);

	ok("type 6 kind=array to=5 dims=-,3,0", &c);
	t = c.u.type;
	CU_ASSERT_EQUAL_FATAL(t->ndims, 3);
	CU_ASSERT_EQUAL(t->dims[0], REC_DIM_UNKNOWN);
	CU_ASSERT_EQUAL(t->dims[1], 3);
	CU_ASSERT_EQUAL(t->dims[2], 0);
	cmd_free(&c);

	ok("type 7 kind=func ret=5 params=5,6 variadic", &c);
	t = c.u.type;
	CU_ASSERT_EQUAL(t->ret, 5);
	CU_ASSERT_EQUAL_FATAL(t->nparams, 2);
	CU_ASSERT_EQUAL(t->params[1], 6);
	CU_ASSERT(t->variadic && !t->unprototyped);
	cmd_free(&c);

	ok("type 8 kind=func unprototyped", &c);
	CU_ASSERT(c.u.type->unprototyped && c.u.type->nparams == 0 && c.u.type->ret == 0);
	cmd_free(&c);

	ok("type 9 kind=volatile to=0", &c);
	CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_VOLATILE);
	cmd_free(&c);
	ok("type 10 kind=restrict name=\"?*u8\" to=3", &c);
	CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_RESTRICT);
	CU_ASSERT_STRING_EQUAL(c.u.type->name, "?*u8");
	cmd_free(&c);
	ok("type 11 kind=typedef name=t to=3 file=2 line=9", &c);
	CU_ASSERT(c.u.type->file == 2 && c.u.type->line == 9);
	cmd_free(&c);
}

/* file lang=, global, delglobal. */
static void test_lang_global(void)
{
	static const struct {
		const char *line;
		uint32_t lang;
	} langs[] = {
		{ "file 1 path=a.c", 0 },
		{ "file 1 path=a.c lang=c89", 0x1 },
		{ "file 1 path=a.c lang=c99", 0xc },
		{ "file 1 path=a.c lang=c11", 0x1d },
		{ "file 1 path=a.c lang=c17", 0x2c },
		{ "file 1 path=a.zig lang=0x1c", 0x1c },
		{ "file 1 path=a.zig lang=65535", 0xffff },
	};
	struct cmd c;
	for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
		ok(langs[i].line, &c);
		CHECK_NAMED(c.u.file->lang == langs[i].lang, langs[i].line);
		cmd_free(&c);
	}
	ok("global 7 name=counter type=5 addr=0x100008000 file=1 line=3 cu=2 ext "
	   "linkage=_counter", &c);
	CU_ASSERT_EQUAL_FATAL(c.kind, CMD_GLOBAL);
	struct rec_global *g = c.u.global;
	CU_ASSERT_EQUAL(g->id, 7);
	CU_ASSERT_STRING_EQUAL(g->name, "counter");
	CU_ASSERT_EQUAL(g->type, 5);
	CU_ASSERT_EQUAL(g->addr, 0x100008000ull);
	CU_ASSERT_EQUAL(g->file, 1);
	CU_ASSERT_EQUAL(g->line, 3);
	CU_ASSERT_EQUAL(g->cu, 2);
	CU_ASSERT(g->ext);
	CU_ASSERT_STRING_EQUAL(g->linkage, "_counter");
	cmd_free(&c);
	ok("global 8 name=s type=5 addr=0 file=1 line=0", &c);
	CU_ASSERT(!c.u.global->ext && !c.u.global->linkage && !c.u.global->cu);
	cmd_free(&c);
	ok("delglobal 8", &c);
	CU_ASSERT_EQUAL(c.kind, CMD_DELGLOBAL);
	CU_ASSERT_EQUAL(c.u.id, 8);
	cmd_free(&c);
}

/* Every LOC form of the table, as frame_base=. */
static void test_locs(void)
{
	static const struct {
		const char *loc;
		enum rec_loc_kind kind;
		uint32_t reg;
		int64_t value;
	} forms[] = {
		{ "fb-20", REC_LOC_FBREG, 0, -20 },
		{ "fb+8", REC_LOC_FBREG, 0, 8 },
		{ "fb+0x10", REC_LOC_FBREG, 0, 16 },
		{ "r6", REC_LOC_REG, 6, 0 },
		{ "r64", REC_LOC_REG, 64, 0 },
		{ "b7+8", REC_LOC_BREG, 7, 8 },
		{ "b31-8", REC_LOC_BREG, 31, -8 },
		{ "a0x100008000", REC_LOC_ADDR, 0, 0x100008000ll },
		{ "k3", REC_LOC_CONST, 0, 3 },
		{ "k-3", REC_LOC_CONST, 0, -3 },
		{ "k-9223372036854775808", REC_LOC_CONST, 0, INT64_MIN },
	};
	char line[200];
	struct cmd c;
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		snprintf(line, sizeof line, "fn 1 name=f low_pc=0 size=8 file=1 line=1 "
			 "frame_base=%s", forms[i].loc);
		ok(line, &c);
		const struct rec_loc *l = &c.u.fn->frame_base;
		CHECK_NAMED(l->kind == forms[i].kind && l->reg == forms[i].reg &&
			    l->value == forms[i].value, line);
		cmd_free(&c);
	}
	ok("fn 1 name=f low_pc=0 size=8 file=1 line=1 frame_base=x9170", &c);
	const struct rec_loc *l = &c.u.fn->frame_base;
	CU_ASSERT_EQUAL_FATAL(l->kind, REC_LOC_EXPR);
	CU_ASSERT_EQUAL_FATAL(l->len, 2);
	CU_ASSERT(l->bytes[0] == 0x91 && l->bytes[1] == 0x70);
	cmd_free(&c);

	ok("fn 1 name=f low_pc=0 size=0x20 file=1 line=1 vars=i:5:0..0x9@r5;0x9..0xe@k-1;"
	   "0x10..0x20@fb-4", &c);
	CU_ASSERT_EQUAL_FATAL(c.u.fn->nvars, 1);
	l = &c.u.fn->vars[0].loc;
	CU_ASSERT_EQUAL_FATAL(l->kind, REC_LOC_LIST);
	CU_ASSERT_EQUAL_FATAL(l->len, 3);
	CU_ASSERT(l->entries[0].from == 0 && l->entries[0].to == 9 &&
		  l->entries[0].loc.kind == REC_LOC_REG && l->entries[0].loc.reg == 5);
	CU_ASSERT(l->entries[1].from == 9 && l->entries[1].to == 0xe &&
		  l->entries[1].loc.kind == REC_LOC_CONST && l->entries[1].loc.value == -1);
	CU_ASSERT(l->entries[2].from == 0x10 && l->entries[2].loc.kind == REC_LOC_FBREG &&
		  l->entries[2].loc.value == -4);
	cmd_free(&c);
}

/* fn's new fields: params with locations and lines, vars, blocks, flags, abstract. */
static void test_rich_fn(void)
{
	struct cmd c;
	ok("fn 1 name=main low_pc=0x1000 size=0x40 file=1 line=1 params=argc:5:fb-20:1,"
	   "_:6,:7::9 linkage=_main frame_base=r6 vars=i:5:fb-24:3:1,buf:7::67,j:0:r3 "
	   "blocks=0x10..0x24+0x30..0x38,0x12..0x20:1:9:2:5:7,0x14..0x18:2 "
	   "variadic optimized noreturn", &c);
	struct rec_fn *f = c.u.fn;
	CU_ASSERT_STRING_EQUAL(f->linkage, "_main");
	CU_ASSERT(f->frame_base.kind == REC_LOC_REG && f->frame_base.reg == 6);
	CU_ASSERT_EQUAL_FATAL(f->nparams, 3);
	CU_ASSERT_STRING_EQUAL(f->params[0].name, "argc");
	CU_ASSERT(f->params[0].loc.kind == REC_LOC_FBREG && f->params[0].loc.value == -20);
	CU_ASSERT_EQUAL(f->params[0].line, 1);
	CU_ASSERT(f->params[1].loc.kind == REC_LOC_NONE && f->params[1].line == 0);
	CU_ASSERT_STRING_EQUAL(f->params[2].name, "");
	CU_ASSERT(f->params[2].loc.kind == REC_LOC_NONE && f->params[2].line == 9);
	CU_ASSERT_EQUAL_FATAL(f->nvars, 3);
	CU_ASSERT(f->vars[0].line == 3 && f->vars[0].block == 1 && f->vars[0].type == 5);
	CU_ASSERT(f->vars[1].loc.kind == REC_LOC_NONE && f->vars[1].line == 67 &&
		  f->vars[1].block == 0);
	CU_ASSERT(f->vars[2].type == 0 && f->vars[2].loc.kind == REC_LOC_REG);
	CU_ASSERT_EQUAL_FATAL(f->nblocks, 3);
	CU_ASSERT_EQUAL_FATAL(f->blocks[0].nranges, 2);
	CU_ASSERT(f->blocks[0].ranges[0].from == 0x10 && f->blocks[0].ranges[0].to == 0x24);
	CU_ASSERT(f->blocks[0].ranges[1].from == 0x30 && f->blocks[0].ranges[1].to == 0x38);
	CU_ASSERT(f->blocks[0].parent == 0 && f->blocks[0].origin == 0);
	CU_ASSERT(f->blocks[1].parent == 1 && f->blocks[1].origin == 9 &&
		  f->blocks[1].call_file == 2 && f->blocks[1].call_line == 5 &&
		  f->blocks[1].call_col == 7);
	CU_ASSERT(f->blocks[2].parent == 2 && f->blocks[2].origin == 0);
	CU_ASSERT(f->variadic && !f->unprototyped && f->optimized && f->noreturn &&
		  !f->abstract);
	cmd_free(&c);

	ok("fn 9 name=sq file=1 line=2 ret=5 params=x:5::3 vars=t:5: abstract", &c);
	f = c.u.fn;
	CU_ASSERT(f->abstract && f->low_pc == 0 && f->size == 0 && f->nrows == 0);
	CU_ASSERT_EQUAL(f->nvars, 1);
	cmd_free(&c);
}

static const struct unit_test cmd_tests[] = {
	{ "image", test_image },
	{ "exe, segment, section", test_exe_segment_section },
	{ "file, type, delfile, deltype, del", test_file_type_del },
	{ "fn", test_fn },
	{ "rich type kinds and their fields", test_rich_types },
	{ "file lang=, global, delglobal", test_lang_global },
	{ "every LOC form", test_locs },
	{ "fn: locations, vars, blocks, flags, abstract", test_rich_fn },
	{ "move, move-range, line, line-range, sym, unsym, commit, abort", test_edits },
	{ "lexing: blanks, quotes, escapes, CR", test_lexing },
	{ "comments and blank lines give 1", test_comments_and_blanks },
	{ "syntax errors give -EINVAL and name the culprit", test_errors },
	{ "NUL bytes and message buffers", test_nul_and_buffers },
	{ "cmd_free on zeroed, cmd_name", test_free_and_names },
	{ "formatter output", test_format_exact },
	{ "random records round trip", test_round_trip },
	{ "prefixes and mangled lines fail cleanly", test_prefixes_and_mangling },
	{ "cmd_format: canonical spelling, every kind round trips", test_format_any },
	{ "a line with two faults names the first", test_first_fault },
	{ "hand-built commands format where the synopsis puts each field", test_format_built },
	{ NULL, NULL },
};

UNIT_SUITE(cmd, cmd_tests)
