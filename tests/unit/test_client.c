/* client: every call of the client library (client/dsymfs.h) read back by the daemon's
 * own parser (cmd.h), field by field; escaping of every byte value; refusals, which must
 * leave nothing written and say what the parser says of the line the call stood for
 * (written here by hand from docs/protocol.md and the header's spelling rules); batching
 * into bounded write()s; sized structs; failed opens and writes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "dsymfs.h"
#include "macho.h"
#include "unit.h"

#define ERRLEN 512

/* A script client writing to a scratch file, and how much of the file was read back. */
struct sink {
	FILE *f;
	struct dsymfs *c;
	long seen;
};

static void sink_open(struct sink *s)
{
	s->f = tmpfile();
	CU_ASSERT_FATAL(s->f != NULL);
	s->seen = 0;
	CU_ASSERT_FATAL(dsymfs_open_fd(fileno(s->f), DSYMFS_SCRIPT, &s->c) == 0);
}

static void sink_close(struct sink *s)
{
	CU_ASSERT(dsymfs_close(s->c) == 0);
	fclose(s->f);
}

/* What the client wrote since the last call (malloc'd, NUL-terminated). */
static char *drain(struct sink *s)
{
	CU_ASSERT_FATAL(dsymfs_flush(s->c) == 0);
	int fd = fileno(s->f);
	off_t end = lseek(fd, 0, SEEK_END);
	CU_ASSERT_FATAL(end >= s->seen);
	size_t n = (size_t)(end - s->seen);
	char *text = malloc(n + 1);
	CU_ASSERT_FATAL(text != NULL);
	CU_ASSERT_FATAL(pread(fd, text, n, s->seen) == (ssize_t)n);
	text[n] = 0;
	s->seen = end;
	return text;
}

/* The one line the last calls wrote, parsed by the daemon's parser into *c. */
static void one(struct sink *s, struct cmd *c)
{
	char *text = drain(s), err[ERRLEN] = "";
	size_t n = strlen(text);
	char what[ERRLEN + 200];
	CU_ASSERT_FATAL(n > 0 && text[n - 1] == '\n' && memchr(text, '\n', n) == text + n - 1);
	int rc = cmd_parse(text, n - 1, c, err, sizeof err);
	snprintf(what, sizeof what, "parse \"%.150s\": rc %d: %s", text, rc, err);
	CU_assertImplementation(rc == 0, __LINE__, what, __FILE__, "", CU_TRUE);
	free(text);
}

static void test_image_exe(void)
{
	struct sink s;
	struct cmd c;
	sink_open(&s);
	CU_ASSERT(dsymfs_image(s.c, "my app") == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_IMAGE);
	CU_ASSERT_STRING_EQUAL(c.u.image.name, "my app");
	CU_ASSERT(!c.u.image.create && !c.u.image.exe && !c.u.image.has_uuid &&
		  !c.u.image.has_arch);
	cmd_free(&c);

	/* A name spelled like the flag is still the name. */
	CU_ASSERT(dsymfs_image(s.c, "create") == 0);
	one(&s, &c);
	CU_ASSERT_STRING_EQUAL(c.u.image.name, "create");
	CU_ASSERT(!c.u.image.create);
	cmd_free(&c);

	static const uint8_t uuid[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					  0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };
	CU_ASSERT(dsymfs_image_create(s.c, "app", NULL, uuid, DSYMFS_ARCH_ARM64) == 0);
	one(&s, &c);
	CU_ASSERT_STRING_EQUAL(c.u.image.name, "app");
	CU_ASSERT(c.u.image.create && !c.u.image.exe);
	CU_ASSERT(c.u.image.has_uuid && memcmp(c.u.image.uuid, uuid, 16) == 0);
	CU_ASSERT(c.u.image.has_arch && c.u.image.cputype == MACHO_CPU_ARM64);
	cmd_free(&c);

	CU_ASSERT(dsymfs_image_create(s.c, "x", "/b in/a=b", NULL, DSYMFS_ARCH_X86_64) == 0);
	one(&s, &c);
	CU_ASSERT(c.u.image.create && !c.u.image.has_uuid);
	CU_ASSERT_STRING_EQUAL(c.u.image.exe, "/b in/a=b");
	CU_ASSERT(c.u.image.has_arch && c.u.image.cputype == MACHO_CPU_X86_64);
	cmd_free(&c);

	CU_ASSERT(dsymfs_image_create(s.c, "y", NULL, NULL, DSYMFS_ARCH_DEFAULT) == 0);
	one(&s, &c);
	CU_ASSERT(c.u.image.create && !c.u.image.exe && !c.u.image.has_uuid &&
		  !c.u.image.has_arch);
	cmd_free(&c);

	CU_ASSERT(dsymfs_exe(s.c, "/tmp/\"q\"\\x") == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_EXE);
	CU_ASSERT_STRING_EQUAL(c.u.exe.path, "/tmp/\"q\"\\x");
	cmd_free(&c);
	sink_close(&s);
}

static void test_segment_section(void)
{
	struct sink s;
	struct cmd c;
	sink_open(&s);
	CU_ASSERT(dsymfs_segment(s.c, "__TEXT", 0x100000000u, 0x4000, 5, 0) == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_SEGMENT);
	CU_ASSERT_STRING_EQUAL(c.u.segment.name, "__TEXT");
	CU_ASSERT_EQUAL(c.u.segment.vmaddr, 0x100000000u);
	CU_ASSERT_EQUAL(c.u.segment.vmsize, 0x4000);
	CU_ASSERT(c.u.segment.has_maxprot && c.u.segment.maxprot == 5);
	CU_ASSERT(c.u.segment.has_initprot && c.u.segment.initprot == 0);
	cmd_free(&c);

	CU_ASSERT(dsymfs_segment(s.c, "SIXTEEN_BYTES_AB", UINT64_MAX, 0, DSYMFS_PROT_KEEP,
				 7) == 0);
	one(&s, &c);
	CU_ASSERT_STRING_EQUAL(c.u.segment.name, "SIXTEEN_BYTES_AB");
	CU_ASSERT_EQUAL(c.u.segment.vmaddr, UINT64_MAX);
	CU_ASSERT(!c.u.segment.has_maxprot);
	CU_ASSERT(c.u.segment.has_initprot && c.u.segment.initprot == 7);
	cmd_free(&c);

	CU_ASSERT(dsymfs_section(s.c, "__TEXT", "__text", 0x100003f50u, 0x40, 4) == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_SECTION);
	CU_ASSERT_STRING_EQUAL(c.u.section.seg, "__TEXT");
	CU_ASSERT_STRING_EQUAL(c.u.section.sect, "__text");
	CU_ASSERT_EQUAL(c.u.section.addr, 0x100003f50u);
	CU_ASSERT_EQUAL(c.u.section.size, 0x40);
	CU_ASSERT(c.u.section.has_align && c.u.section.align == 4);
	cmd_free(&c);

	CU_ASSERT(dsymfs_section(s.c, "__DATA", "a b", 0, 0, -1) == 0);
	one(&s, &c);
	CU_ASSERT_STRING_EQUAL(c.u.section.sect, "a b");
	CU_ASSERT(!c.u.section.has_align);
	cmd_free(&c);
	sink_close(&s);
}

static void test_file_type_del(void)
{
	struct sink s;
	struct cmd c;
	sink_open(&s);
	struct dsymfs_file f = { .id = UINT64_MAX, .path = "/src/my dir/a.c", .dir = "/src" };
	CU_ASSERT(dsymfs_file(s.c, &f) == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_FILE);
	CU_ASSERT_EQUAL(c.u.file->id, UINT64_MAX);
	CU_ASSERT_STRING_EQUAL(c.u.file->path, "/src/my dir/a.c");
	CU_ASSERT_STRING_EQUAL(c.u.file->dir, "/src");
	cmd_free(&c);
	f = (struct dsymfs_file){ .id = 2, .path = "b.c" };
	CU_ASSERT(dsymfs_file(s.c, &f) == 0);
	one(&s, &c);
	CU_ASSERT_STRING_EQUAL(c.u.file->path, "b.c");
	CU_ASSERT_PTR_NULL(c.u.file->dir);
	cmd_free(&c);

	static const struct {
		enum dsymfs_enc enc;
		enum rec_base_enc rec;
	} encs[] = {
		{ DSYMFS_ENC_SIGNED, REC_ENC_SIGNED },
		{ DSYMFS_ENC_UNSIGNED, REC_ENC_UNSIGNED },
		{ DSYMFS_ENC_BOOL, REC_ENC_BOOL },
		{ DSYMFS_ENC_FLOAT, REC_ENC_FLOAT },
		{ DSYMFS_ENC_SIGNED_CHAR, REC_ENC_SIGNED_CHAR },
		{ DSYMFS_ENC_UNSIGNED_CHAR, REC_ENC_UNSIGNED_CHAR },
	};
	for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++) {
		struct dsymfs_type t = { .id = 10 + i, .kind = DSYMFS_TYPE_BASE,
					 .name = "unsigned long", .size = 8 * i,
					 .enc = encs[i].enc };
		CU_ASSERT(dsymfs_type(s.c, &t) == 0);
		one(&s, &c);
		CU_ASSERT_EQUAL(c.kind, CMD_TYPE);
		CU_ASSERT_EQUAL(c.u.type->id, 10 + i);
		CU_ASSERT_EQUAL(c.u.type->kind, REC_TYPE_BASE);
		CU_ASSERT_STRING_EQUAL(c.u.type->name, "unsigned long");
		CU_ASSERT_EQUAL(c.u.type->size, 8 * i);
		CU_ASSERT_EQUAL(c.u.type->enc, encs[i].rec);
		cmd_free(&c);
	}
	static const struct {
		enum dsymfs_type_kind kind;
		enum rec_type_kind rec;
		const char *name;
		uint64_t to;
	} derived[] = {
		{ DSYMFS_TYPE_POINTER, REC_TYPE_POINTER, NULL, 0 },
		{ DSYMFS_TYPE_POINTER, REC_TYPE_POINTER, "intptr", 3 },
		{ DSYMFS_TYPE_CONST, REC_TYPE_CONST, NULL, UINT64_MAX },
		{ DSYMFS_TYPE_TYPEDEF, REC_TYPE_TYPEDEF, "size_t", 2 },
	};
	for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
		struct dsymfs_type t = { .id = 20 + i, .kind = derived[i].kind,
					 .name = derived[i].name, .to = derived[i].to };
		CU_ASSERT(dsymfs_type(s.c, &t) == 0);
		one(&s, &c);
		CU_ASSERT_EQUAL(c.u.type->id, 20 + i);
		CU_ASSERT_EQUAL(c.u.type->kind, derived[i].rec);
		if (derived[i].name) {
			CU_ASSERT(c.u.type->name && !strcmp(c.u.type->name, derived[i].name));
		} else {
			CU_ASSERT_PTR_NULL(c.u.type->name);
		}
		CU_ASSERT_EQUAL(c.u.type->to, derived[i].to);
		cmd_free(&c);
	}

	static const struct {
		int (*call)(struct dsymfs *, uint64_t);
		enum cmd_kind kind;
	} dels[] = {
		{ dsymfs_delfile, CMD_DELFILE },
		{ dsymfs_deltype, CMD_DELTYPE },
		{ dsymfs_del, CMD_DEL },
	};
	for (size_t i = 0; i < sizeof dels / sizeof dels[0]; i++) {
		CU_ASSERT(dels[i].call(s.c, 77 + i) == 0);
		one(&s, &c);
		CU_ASSERT_EQUAL(c.kind, dels[i].kind);
		CU_ASSERT_EQUAL(c.u.id, 77 + i);
		cmd_free(&c);
	}
	sink_close(&s);
}

static void test_fn(void)
{
	struct sink s;
	struct cmd c;
	sink_open(&s);
	/* Every flag combination, with and without a column and a file, so each way a row
	 * can be shortened is read back. */
	struct dsymfs_row rows[16];
	for (uint32_t i = 0; i < 16; i++)
		rows[i] = (struct dsymfs_row){ .off = i * 7, .line = i % 3 ? i * 1000 : 0,
					       .col = i % 2 ? 0 : i, .flags = i % 8,
					       .file = i % 4 == 3 ? i : 0 };
	rows[15].off = UINT32_MAX;
	rows[15].line = 2147483647u;
	rows[15].col = UINT32_MAX;
	rows[15].file = UINT64_MAX;
	struct dsymfs_param params[] = { { "argc", 1 }, { "a.b", UINT64_MAX }, { "argv", 3 } };
	struct dsymfs_fn fn = { .id = 40, .name = "parse_expr", .low_pc = 0x100000400u,
				.size = 0x84, .file = 1, .line = 2147483647u, .cu = 2, .ret = 5,
				.params = params, .nparams = 3, .rows = rows, .nrows = 16 };
	CU_ASSERT(dsymfs_fn(s.c, &fn) == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_FN);
	struct rec_fn *f = c.u.fn;
	CU_ASSERT_EQUAL(f->id, 40);
	CU_ASSERT_STRING_EQUAL(f->name, "parse_expr");
	CU_ASSERT_EQUAL(f->low_pc, 0x100000400u);
	CU_ASSERT_EQUAL(f->size, 0x84);
	CU_ASSERT_EQUAL(f->file, 1);
	CU_ASSERT_EQUAL(f->line, 2147483647);
	CU_ASSERT_EQUAL(f->cu, 2);
	CU_ASSERT_EQUAL(f->ret, 5);
	CU_ASSERT_FATAL(f->nparams == 3);
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_STRING_EQUAL(f->params[i].name, params[i].name);
		CU_ASSERT_EQUAL(f->params[i].type, params[i].type);
	}
	CU_ASSERT_FATAL(f->nrows == 16);
	for (uint32_t i = 0; i < 16; i++) {
		CU_ASSERT_EQUAL(f->rows[i].off, rows[i].off);
		CU_ASSERT_EQUAL((uint32_t)f->rows[i].line, rows[i].line);
		CU_ASSERT_EQUAL(f->rows[i].col, rows[i].col);
		/* DSYMFS_ROW_* and REC_ROW_* are both the protocol's s, p, e. */
		CU_ASSERT_EQUAL(!!(f->rows[i].flags & REC_ROW_STMT),
				!!(rows[i].flags & DSYMFS_ROW_STMT));
		CU_ASSERT_EQUAL(!!(f->rows[i].flags & REC_ROW_PROLOGUE),
				!!(rows[i].flags & DSYMFS_ROW_PROLOGUE));
		CU_ASSERT_EQUAL(!!(f->rows[i].flags & REC_ROW_EPILOGUE),
				!!(rows[i].flags & DSYMFS_ROW_EPILOGUE));
		CU_ASSERT_EQUAL(f->rows[i].file, rows[i].file);
	}
	cmd_free(&c);

	/* Names that need quoting: the name, and a parameter list quoted as a whole. */
	struct dsymfs_param odd[] = { { "operator new", 1 }, { "x=\"y\"\\", 2 } };
	fn = (struct dsymfs_fn){ .id = 1, .name = "operator new[]", .low_pc = 0, .size = 0,
				 .file = 3, .params = odd, .nparams = 2 };
	CU_ASSERT(dsymfs_fn(s.c, &fn) == 0);
	one(&s, &c);
	f = c.u.fn;
	CU_ASSERT_STRING_EQUAL(f->name, "operator new[]");
	CU_ASSERT_EQUAL(f->line, 0);
	CU_ASSERT(f->cu == 0 && f->ret == 0 && f->nrows == 0);
	CU_ASSERT_FATAL(f->nparams == 2);
	CU_ASSERT_STRING_EQUAL(f->params[0].name, "operator new");
	CU_ASSERT_STRING_EQUAL(f->params[1].name, "x=\"y\"\\");
	CU_ASSERT_EQUAL(f->params[1].type, 2);
	cmd_free(&c);
	sink_close(&s);
}

static void test_moves_lines_syms(void)
{
	struct sink s;
	struct cmd c;
	sink_open(&s);
	CU_ASSERT(dsymfs_move(s.c, 5, 0x1000) == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_MOVE);
	CU_ASSERT(c.u.move.id == 5 && c.u.move.low_pc == 0x1000 && !c.u.move.has_size);
	cmd_free(&c);
	CU_ASSERT(dsymfs_move_resize(s.c, 6, UINT64_MAX, 0) == 0);
	one(&s, &c);
	CU_ASSERT(c.u.move.id == 6 && c.u.move.low_pc == UINT64_MAX && c.u.move.has_size &&
		  c.u.move.size == 0);
	cmd_free(&c);

	static const int64_t bys[] = { 0, -3, 0x10, INT64_MIN, INT64_MAX };
	for (size_t i = 0; i < sizeof bys / sizeof bys[0]; i++) {
		CU_ASSERT(dsymfs_move_range(s.c, 0x10, UINT64_MAX, bys[i]) == 0);
		one(&s, &c);
		CU_ASSERT_EQUAL(c.kind, CMD_MOVE_RANGE);
		CU_ASSERT(c.u.move_range.from == 0x10 && c.u.move_range.to == UINT64_MAX);
		CU_ASSERT_EQUAL(c.u.move_range.by, bys[i]);
		cmd_free(&c);

		CU_ASSERT(dsymfs_line(s.c, 9, bys[i], i) == 0);
		one(&s, &c);
		CU_ASSERT_EQUAL(c.kind, CMD_LINE);
		CU_ASSERT(c.u.line.id == 9 && c.u.line.delta == bys[i] && c.u.line.file == i);
		cmd_free(&c);

		CU_ASSERT(dsymfs_line_range(s.c, 4, 1, 2147483647, bys[i]) == 0);
		one(&s, &c);
		CU_ASSERT_EQUAL(c.kind, CMD_LINE_RANGE);
		CU_ASSERT(c.u.line_range.file == 4 && c.u.line_range.from == 1 &&
			  c.u.line_range.to == 2147483647 && c.u.line_range.by == bys[i]);
		cmd_free(&c);
	}

	CU_ASSERT(dsymfs_sym(s.c, "_main", 0x100000400u, 1, 1) == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_SYM);
	CU_ASSERT_STRING_EQUAL(c.u.sym.name, "_main");
	CU_ASSERT(c.u.sym.value == 0x100000400u && c.u.sym.sect == 1 && c.u.sym.ext);
	cmd_free(&c);
	/* A name spelled like the flag. */
	CU_ASSERT(dsymfs_sym(s.c, "ext", 0, 255, 0) == 0);
	one(&s, &c);
	CU_ASSERT_STRING_EQUAL(c.u.sym.name, "ext");
	CU_ASSERT(c.u.sym.sect == 255 && !c.u.sym.ext);
	cmd_free(&c);
	CU_ASSERT(dsymfs_unsym(s.c, "a b") == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_UNSYM);
	CU_ASSERT_STRING_EQUAL(c.u.unsym.name, "a b");
	cmd_free(&c);

	uint64_t gen = 1, decls = 1;
	CU_ASSERT(dsymfs_commit(s.c, &gen, &decls) == 0);
	CU_ASSERT(gen == 0 && decls == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_COMMIT);
	cmd_free(&c);
	CU_ASSERT(dsymfs_abort(s.c) == 0);
	one(&s, &c);
	CU_ASSERT_EQUAL(c.kind, CMD_ABORT);
	cmd_free(&c);
	sink_close(&s);
}

/* Every byte value but NUL, in random strings, through each kind of string field. */
static void test_escaping(void)
{
	struct sink s;
	struct cmd c;
	sink_open(&s);
	uint64_t r = 0x9e3779b97f4a7c15ull;
	char name[80];
	for (int round = 0; round < 600; round++) {
		size_t n = 1 + (size_t)(round % 70);
		for (size_t i = 0; i < n; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			name[i] = (char)(1 + (r >> 33) % 255);
		}
		/* Every byte value once, in order, early on. */
		if (round < 4)
			for (size_t i = 0; i < n; i++)
				name[i] = (char)(1 + (round * 70 + i) % 255);
		name[n] = 0;
		struct dsymfs_file f = { .id = 1, .path = name, .dir = name };
		CU_ASSERT_FATAL(dsymfs_file(s.c, &f) == 0);
		one(&s, &c);
		CU_ASSERT(strcmp(c.u.file->path, name) == 0 && strcmp(c.u.file->dir, name) == 0);
		cmd_free(&c);
		/* A parameter name cannot hold ',' or ':'. */
		char pname[80];
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (name[i] != ',' && name[i] != ':')
				pname[k++] = name[i];
		pname[k] = 0;
		if (!k)
			continue;
		struct dsymfs_param p[] = { { pname, 1 }, { pname, 2 } };
		struct dsymfs_fn fn = { .id = 1, .name = name, .file = 1, .params = p,
					.nparams = 2 };
		CU_ASSERT_FATAL(dsymfs_fn(s.c, &fn) == 0);
		one(&s, &c);
		CU_ASSERT(strcmp(c.u.fn->name, name) == 0);
		CU_ASSERT(c.u.fn->nparams == 2 && strcmp(c.u.fn->params[1].name, pname) == 0 &&
			  c.u.fn->params[1].type == 2);
		cmd_free(&c);
		CU_ASSERT_FATAL(dsymfs_sym(s.c, name, 1, 0, 0) == 0);
		one(&s, &c);
		CU_ASSERT(strcmp(c.u.sym.name, name) == 0);
		cmd_free(&c);
	}
	sink_close(&s);
}

/* The call must fail with -EINVAL, write nothing, and give the message the parser gives
 * for `line`. */
static void refused(struct sink *s, int rc, const char *line)
{
	char err[ERRLEN] = "", what[2 * ERRLEN + 200];
	struct cmd c;
	int prc = cmd_parse(line, strlen(line), &c, err, sizeof err);
	if (prc == 0)
		cmd_free(&c);
	snprintf(what, sizeof what, "\"%s\": parser %d \"%s\", client %d \"%s\"", line, prc,
		 err, rc, dsymfs_last_error(s->c));
	CU_assertImplementation(prc == -EINVAL && rc == -EINVAL &&
				!strcmp(err, dsymfs_last_error(s->c)), __LINE__, what,
				__FILE__, "", CU_FALSE);
	char *text = drain(s);
	CU_ASSERT_STRING_EQUAL(text, "");
	free(text);
}

/* The call fails with -EINVAL, writes nothing, and its message names what: the library's
 * own words for what only a struct can get wrong, or a rule of the new syntax. */
static void refused_own(struct sink *s, int rc, const char *what)
{
	const char *err = dsymfs_last_error(s->c);
	if (rc != -EINVAL || !strstr(err, what))
		fprintf(stderr, "client: wanted -EINVAL and \"%s\", got %d \"%s\"\n", what, rc,
			err);
	CU_ASSERT(rc == -EINVAL && strstr(err, what) != NULL);
	char *text = drain(s);
	CU_ASSERT_STRING_EQUAL(text, "");
	free(text);
}

static void test_refusals(void)
{
	struct sink s;
	sink_open(&s);
	struct dsymfs *c = s.c;
	/* Images, executables, segments, sections. */
	refused(&s, dsymfs_image(c, "a/b"), "image a/b");
	refused(&s, dsymfs_image(c, ".."), "image ..");
	refused(&s, dsymfs_image(c, ""), "image \"\"");
	refused(&s, dsymfs_image(c, NULL), "image");
	refused(&s, dsymfs_image(c, "tab\there"), "image \"tab\\there\"");
	refused(&s, dsymfs_image_create(c, "app", "", NULL, 0), "image app create exe=\"\"");
	refused(&s, dsymfs_image_create(c, "app", NULL, NULL, 9), "image app create arch=9");
	refused(&s, dsymfs_exe(c, ""), "exe \"\"");
	refused(&s, dsymfs_exe(c, NULL), "exe");
	refused(&s, dsymfs_segment(c, "SEVENTEEN_BYTES_A", 0, 0, -1, -1),
		"segment SEVENTEEN_BYTES_A vmaddr=0x0 vmsize=0x0");
	refused(&s, dsymfs_segment(c, "", 0, 0, -1, -1), "segment \"\" vmaddr=0x0 vmsize=0x0");
	refused(&s, dsymfs_segment(c, "__T", 0, 0, 8, -1),
		"segment __T vmaddr=0x0 vmsize=0x0 maxprot=8");
	refused(&s, dsymfs_segment(c, "__T", 0, 0, 1, -7),
		"segment __T vmaddr=0x0 vmsize=0x0 maxprot=1 initprot=-7");
	refused(&s, dsymfs_segment(c, "__T", 0, 0, 1, 100),
		"segment __T vmaddr=0x0 vmsize=0x0 maxprot=1 initprot=100");
	refused(&s, dsymfs_section(c, NULL, "__text", 0, 0, -1), "section");
	refused(&s, dsymfs_section(c, "__TEXT", NULL, 0, 0, -1), "section __TEXT");
	refused(&s, dsymfs_section(c, "__TEXT", "", 0, 0, -1),
		"section __TEXT \"\" addr=0x0 size=0x0");
	refused(&s, dsymfs_section(c, "__TEXT", "__text", 0, 0, 16),
		"section __TEXT __text addr=0x0 size=0x0 align=16");
	refused(&s, dsymfs_section(c, "__TEXT", "__text", 0, 0, -2),
		"section __TEXT __text addr=0x0 size=0x0 align=-2");

	/* Files and types. */
	struct dsymfs_file f = { .id = 0, .path = "a.c" };
	refused(&s, dsymfs_file(c, &f), "file 0 path=a.c");
	f = (struct dsymfs_file){ .id = 1 };
	refused(&s, dsymfs_file(c, &f), "file 1");
	f = (struct dsymfs_file){ .id = 1, .path = "" };
	refused(&s, dsymfs_file(c, &f), "file 1 path=\"\"");
	f = (struct dsymfs_file){ .id = 1, .path = "a", .dir = "" };
	refused(&s, dsymfs_file(c, &f), "file 1 path=a dir=\"\"");
	refused(&s, dsymfs_delfile(c, 0), "delfile 0");
	refused(&s, dsymfs_deltype(c, 0), "deltype 0");
	refused(&s, dsymfs_del(c, 0), "del 0");

	struct dsymfs_type t = { .id = 0, .kind = DSYMFS_TYPE_POINTER };
	refused(&s, dsymfs_type(c, &t), "type 0 kind=pointer to=0");
	/* Kinds past the last one, named with the protocol's full list of kinds. */
	static const char kinds[] = "is not one of base, pointer, const, typedef, struct, "
		"union, enum, array, func, volatile, restrict";
	t = (struct dsymfs_type){ .id = 1, .kind = 12, .to = 1 };
	refused_own(&s, dsymfs_type(c, &t), kinds);
	t = (struct dsymfs_type){ .id = 1, .kind = 0 };
	refused_own(&s, dsymfs_type(c, &t), kinds);
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_BASE, .name = "int", .size = 4,
				  .enc = DSYMFS_ENC_SIGNED, .to = 2 };
	refused(&s, dsymfs_type(c, &t), "type 1 kind=base name=int size=0x4 enc=signed to=2");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_CONST, .size = 4, .to = 2 };
	refused(&s, dsymfs_type(c, &t), "type 1 kind=const size=0x4 to=2");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_POINTER, .enc = 1, .to = 2 };
	refused(&s, dsymfs_type(c, &t), "type 1 kind=pointer enc=signed to=2");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_BASE, .size = 4,
				  .enc = DSYMFS_ENC_SIGNED };
	refused(&s, dsymfs_type(c, &t), "type 1 kind=base size=0x4 enc=signed");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_TYPEDEF, .to = 2 };
	refused(&s, dsymfs_type(c, &t), "type 1 kind=typedef to=2");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_POINTER, .name = "", .to = 2 };
	refused(&s, dsymfs_type(c, &t), "type 1 kind=pointer name=\"\" to=2");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_BASE, .name = "int", .size = 4,
				  .enc = 7 };
	refused(&s, dsymfs_type(c, &t), "type 1 kind=base name=int size=0x4 enc=7");

	/* Functions. */
	struct dsymfs_fn fn = { .id = 0, .name = "f", .file = 1 };
	refused(&s, dsymfs_fn(c, &fn), "fn 0 name=f low_pc=0x0 size=0x0 file=1 line=0");
	fn = (struct dsymfs_fn){ .id = 1, .file = 1 };
	refused(&s, dsymfs_fn(c, &fn), "fn 1 low_pc=0x0 size=0x0 file=1 line=0");
	fn = (struct dsymfs_fn){ .id = 1, .name = "", .file = 1 };
	refused(&s, dsymfs_fn(c, &fn), "fn 1 name=\"\" low_pc=0x0 size=0x0 file=1 line=0");
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 0 };
	refused(&s, dsymfs_fn(c, &fn), "fn 1 name=f low_pc=0x0 size=0x0 file=0 line=0");
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .line = 2147483648u };
	refused(&s, dsymfs_fn(c, &fn), "fn 1 name=f low_pc=0x0 size=0x0 file=1 line=2147483648");
	fn.line = UINT32_MAX;
	refused(&s, dsymfs_fn(c, &fn), "fn 1 name=f low_pc=0x0 size=0x0 file=1 line=4294967295");
	const char *head = "fn 1 name=f low_pc=0x0 size=0x0 file=1 line=1";
	char line[512];
	static const struct {
		struct dsymfs_param p[3];
		size_t n;
		const char *list;
	} bad_params[] = {
		{ { { "a", 0 } }, 1, "a:0" },
		{ { { "x", 1 }, { "y", 0 } }, 2, "x:1,y:0" },
	};
	for (size_t i = 0; i < sizeof bad_params / sizeof bad_params[0]; i++) {
		fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .line = 1,
					 .params = bad_params[i].p, .nparams = bad_params[i].n };
		unit_fmt(line, sizeof line, "%s params=%s", head, bad_params[i].list);
		refused(&s, dsymfs_fn(c, &fn), line);
	}
	static const struct {
		struct dsymfs_row r;
		const char *text;
	} bad_rows[] = {
		{ { 0, 2147483648u, 0, DSYMFS_ROW_STMT, 0 }, "0:2147483648" },
		{ { 0x10, 4294967295u, 3, DSYMFS_ROW_STMT, 0 }, "0x10:4294967295:3" },
		{ { 4, 2147483648u, 0, 0, 0 }, "4:2147483648:0:" },
		/* Long enough that the message cuts it. */
		{ { 0xfffffff0u, 4294967295u, 4294967295u, 7, UINT64_MAX },
		  "0xfffffff0:4294967295:4294967295:spe:18446744073709551615" },
	};
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		struct dsymfs_row rows[2] = { { 0, 1, 0, DSYMFS_ROW_STMT, 0 }, bad_rows[i].r };
		fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .line = 1,
					 .rows = rows, .nrows = 2 };
		unit_fmt(line, sizeof line, "%s rows=0:1,%s", head, bad_rows[i].text);
		refused(&s, dsymfs_fn(c, &fn), line);
	}
	/* Flags the protocol has no letter for, and arrays missing: the library's own words. */
	struct dsymfs_row weird = { 0, 1, 0, 0x8, 0 };
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .rows = &weird, .nrows = 1 };
	CU_ASSERT_EQUAL(dsymfs_fn(c, &fn), -EINVAL);
	CU_ASSERT(strstr(dsymfs_last_error(c), "entry 1") != NULL);
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .nparams = 2 };
	CU_ASSERT_EQUAL(dsymfs_fn(c, &fn), -EINVAL);
	CU_ASSERT(strstr(dsymfs_last_error(c), "params") != NULL);

	/* Moves, lines, symbols. */
	refused(&s, dsymfs_move(c, 0, 1), "move 0 low_pc=0x1");
	refused(&s, dsymfs_move_resize(c, 0, 1, 2), "move 0 low_pc=0x1 size=0x2");
	refused(&s, dsymfs_move_range(c, 0x20, 0x20, 1), "move-range from=0x20 to=0x20 by=1");
	refused(&s, dsymfs_move_range(c, UINT64_MAX, 0, 1),
		"move-range from=0xffffffffffffffff to=0x0 by=1");
	refused(&s, dsymfs_line(c, 0, 1, 0), "line 0 delta=1");
	refused(&s, dsymfs_line_range(c, 0, 1, 2, 1), "line-range file=0 from=1 to=2 by=1");
	refused(&s, dsymfs_line_range(c, 1, 0, 2, 1), "line-range file=1 from=0 to=2 by=1");
	refused(&s, dsymfs_line_range(c, 1, 1, 2147483648, 1),
		"line-range file=1 from=1 to=2147483648 by=1");
	refused(&s, dsymfs_line_range(c, 1, -5, 2, 1), "line-range file=1 from=-5 to=2 by=1");
	refused(&s, dsymfs_line_range(c, 1, 9, 9, 1), "line-range file=1 from=9 to=9 by=1");
	refused(&s, dsymfs_sym(c, "", 1, 0, 0), "sym \"\" value=0x1");
	refused(&s, dsymfs_sym(c, NULL, 1, 0, 0), "sym");
	refused(&s, dsymfs_sym(c, "s", 1, 256, 1), "sym s value=0x1 sect=256 ext");
	refused(&s, dsymfs_unsym(c, ""), "unsym \"\"");
	refused(&s, dsymfs_unsym(c, NULL), "unsym");

	/* A long value is cut in the message as the parser cuts it. */
	char longname[200];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	longname[3] = '/';
	unit_fmt(line, sizeof line, "image %s", longname);
	refused(&s, dsymfs_image(c, longname), line);
	sink_close(&s);
}

/* Writes reach the fd in pieces of at most the write size, each ending a line, and not
 * before a piece is full; a line longer than the write size goes alone. */
static void test_batching(void)
{
	int sv[2];
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	struct dsymfs *c;
	CU_ASSERT_FATAL(dsymfs_open_fd(sv[0], DSYMFS_SCRIPT, &c) == 0);
	const size_t wsize = 1000;
	dsymfs_set_write_size(c, wsize);
	CU_ASSERT_FATAL(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	char pkt[8192], big[3000];
	memset(big, 'b', sizeof big - 1);
	big[sizeof big - 1] = 0;
	size_t sent = 0, got = 0, pieces = 0;
	for (uint64_t i = 1; i <= 400; i++) {
		struct dsymfs_file f = { .id = i, .path = i == 200 ? big : "/src/some/file.c" };
		CU_ASSERT_FATAL(dsymfs_file(c, &f) == 0);
		sent++;
		ssize_t n;
		while ((n = recv(sv[1], pkt, sizeof pkt, 0)) > 0) {
			pieces++;
			CU_ASSERT(pkt[n - 1] == '\n');
			size_t lines = 0;
			for (ssize_t k = 0; k < n; k++)
				lines += pkt[k] == '\n';
			CU_ASSERT((size_t)n <= wsize || lines == 1);
			/* Not written early: the piece and the line after it pass the size
			 * (the long line excepted, which sends what came before it). */
			if (i != 200)
				CU_ASSERT((size_t)n + 40 > wsize);
			got += lines;
		}
	}
	CU_ASSERT(pieces > 10);
	CU_ASSERT(got < sent);
	CU_ASSERT(dsymfs_flush(c) == 0);
	ssize_t n;
	while ((n = recv(sv[1], pkt, sizeof pkt, 0)) > 0)
		for (ssize_t k = 0; k < n; k++)
			got += pkt[k] == '\n';
	CU_ASSERT_EQUAL(got, sent);
	CU_ASSERT(dsymfs_close(c) == 0);
	close(sv[0]);
	close(sv[1]);
}

/* A caller built against an older header passes a shorter struct (its missing fields
 * read as zero); one built against a newer header passes a longer one, refused when it
 * sets what this library does not know. */
static void test_sized(void)
{
	struct sink s;
	struct cmd cm;
	sink_open(&s);
	struct dsymfs_fn fn = { .id = 1, .name = "f", .file = 1, .line = 3, .cu = 9, .ret = 8,
				.nrows = 5 };
	CU_ASSERT(dsymfs_fn_sized(s.c, &fn, offsetof(struct dsymfs_fn, cu)) == 0);
	one(&s, &cm);
	CU_ASSERT(cm.u.fn->line == 3 && cm.u.fn->cu == 0 && cm.u.fn->ret == 0 &&
		  cm.u.fn->nrows == 0);
	cmd_free(&cm);

	struct {
		struct dsymfs_fn fn;
		uint64_t later;
	} newer = { .fn = { .id = 1, .name = "f", .file = 1 } };
	CU_ASSERT(dsymfs_fn_sized(s.c, &newer.fn, sizeof newer) == 0);
	one(&s, &cm);
	cmd_free(&cm);
	newer.later = 1;
	CU_ASSERT_EQUAL(dsymfs_fn_sized(s.c, &newer.fn, sizeof newer), -EINVAL);
	CU_ASSERT(strstr(dsymfs_last_error(s.c), "older") != NULL);
	char *text = drain(&s);
	CU_ASSERT_STRING_EQUAL(text, "");
	free(text);
	sink_close(&s);
}

static void test_failures(void)
{
	struct dsymfs *c;
	char dir[512];
	unit_suite_dir(dir, sizeof dir, "client");
	CU_ASSERT_EQUAL(dsymfs_open(dir, NULL, &c), -ENOENT);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT(strstr(dsymfs_last_error(c), "/control") != NULL);
	struct dsymfs_file f = { .id = 1, .path = "a" };
	CU_ASSERT_EQUAL(dsymfs_file(c, &f), -EBADF);
	CU_ASSERT_EQUAL(dsymfs_commit(c, NULL, NULL), -EBADF);
	CU_ASSERT(dsymfs_close(c) == 0);

	/* A write the fd refuses: the buffered lines are gone with it, as the daemon drops a
	 * batch whose write failed. */
	int fd = open("/dev/null", O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(dsymfs_open_fd(fd, DSYMFS_SCRIPT, &c) == 0);
	CU_ASSERT(dsymfs_file(c, &f) == 0);
	CU_ASSERT_EQUAL(dsymfs_flush(c), -EBADF);
	CU_ASSERT(strstr(dsymfs_last_error(c), "write") != NULL);
	CU_ASSERT(dsymfs_flush(c) == 0);
	CU_ASSERT(dsymfs_close(c) == 0);
	close(fd);

	CU_ASSERT_EQUAL(dsymfs_open_fd(-1, 0, &c), -EBADF);
	CU_ASSERT(dsymfs_close(c) == 0);
	CU_ASSERT_EQUAL(dsymfs_open_fd(0, 0x80, &c), -EINVAL);
	CU_ASSERT(dsymfs_close(c) == 0);
}

/* ---- rich debug info: each call's line, against lines written by hand from the
 * protocol's syntax (TYPE, MEMBER, VALUE, PARAM, VAR, BLOCK, LOC) ---- */

/* What the last calls wrote must be exactly want. */
/* The lines the last calls wrote must be want, and each must be one the daemon's parser
 * takes: the library and the parser agree on every rich field. */
static void expect_text(struct sink *s, const char *want)
{
	char *text = drain(s);
	if (strcmp(text, want))
		fprintf(stderr, "client: wanted\n%sgot\n%s", want, text);
	CU_ASSERT_STRING_EQUAL(text, want);
	for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		struct cmd c;
		char err[ERRLEN] = "", what[ERRLEN + 200];
		int rc = cmd_parse(line, (size_t)(nl - line), &c, err, sizeof err);
		snprintf(what, sizeof what, "parse \"%.*s\": rc %d: %s", (int)(nl - line > 150 ? 150 : nl - line), line, rc, err);
		CU_assertImplementation(rc == 0, __LINE__, what, __FILE__, "", CU_TRUE);
		if (rc == 0)
			cmd_free(&c);
	}
	free(text);
}

static void test_rich_files_types(void)
{
	struct sink s;
	sink_open(&s);
	struct dsymfs *c = s.c;
	struct dsymfs_file f = { .id = 1, .path = "/src/r.c", .lang = DSYMFS_LANG_C11 };
	CU_ASSERT(dsymfs_file(c, &f) == 0);
	f = (struct dsymfs_file){ .id = 2, .path = "z.zig", .dir = "/b", .lang = 0x26 };
	CU_ASSERT(dsymfs_file(c, &f) == 0);
	f = (struct dsymfs_file){ .id = 3, .path = "o.c", .lang = DSYMFS_LANG_C89 };
	CU_ASSERT(dsymfs_file(c, &f) == 0);
	expect_text(&s, "file 1 path=/src/r.c lang=c11\n"
		    "file 2 path=z.zig dir=/b lang=38\n"
		    "file 3 path=o.c lang=c89\n");

	struct dsymfs_member node[] = { { "next", 4, 0, 0, 0 }, { "val", 1, 8, 0, 0 },
					{ "flags", 1, 12, 3, 2 }, { "", 5, 16, 0, 0 } };
	struct dsymfs_type t = { .id = 3, .kind = DSYMFS_TYPE_STRUCT, .name = "node",
				 .size = 24, .file = 1, .line = 3, .align = 8,
				 .members = node, .nmembers = 4 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	struct dsymfs_member u[] = { { "a", 1, 0, 0, 0 }, { NULL, 2, 0, 0, 0 } };
	t = (struct dsymfs_type){ .id = 5, .kind = DSYMFS_TYPE_UNION, .size = 8, .scope = 3,
				  .members = u, .nmembers = 2 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	t = (struct dsymfs_type){ .id = 6, .kind = DSYMFS_TYPE_STRUCT, .name = "opaque",
				  .decl = 1 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	struct dsymfs_member spaced[] = { { "a b", 1, 0, 0, 0 } };
	t = (struct dsymfs_type){ .id = 16, .kind = DSYMFS_TYPE_STRUCT, .size = 4,
				  .members = spaced, .nmembers = 1 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	expect_text(&s, "type 3 kind=struct name=node size=0x18 file=1 line=3 align=8 "
		    "members=next:4:0,val:1:8,flags:1:12:3:2,:5:16\n"
		    "type 5 kind=union size=0x8 scope=3 members=a:1:0,:2:0\n"
		    "type 6 kind=struct name=opaque decl\n"
		    "type 16 kind=struct size=0x4 members=\"a b:1:0\"\n");

	struct dsymfs_enumerator color[] = { dsymfs_enum_int("RED", 0),
					     dsymfs_enum_int("NEG", -3),
					     dsymfs_enum_uint("TOP", 0xfffffff0u) };
	t = (struct dsymfs_type){ .id = 7, .kind = DSYMFS_TYPE_ENUM, .name = "color",
				  .size = 4, .to = 1, .file = 2, .line = 9,
				  .enumerators = color, .nenumerators = 3 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	/* 2^128-1, -2^127 and INT64_MIN: the ends of the range and of 64 bits. */
	struct dsymfs_enumerator wide[] = {
		{ "TOP", UINT64_MAX, UINT64_MAX, 0 },
		{ "MIN", 0, 0x8000000000000000u, 1 },
		dsymfs_enum_int("I64", INT64_MIN),
	};
	t = (struct dsymfs_type){ .id = 8, .kind = DSYMFS_TYPE_ENUM, .name = "wide",
				  .size = 16, .enumerators = wide, .nenumerators = 3 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	expect_text(&s, "type 7 kind=enum name=color size=0x4 to=1 file=2 line=9 "
		    "enumerators=RED:0,NEG:-3,TOP:4294967280\n"
		    "type 8 kind=enum name=wide size=0x10 enumerators="
		    "TOP:340282366920938463463374607431768211455,"
		    "MIN:-170141183460469231731687303715884105728,"
		    "I64:-9223372036854775808\n");

	uint64_t dims[] = { DSYMFS_DIM_UNKNOWN, 4 };
	t = (struct dsymfs_type){ .id = 9, .kind = DSYMFS_TYPE_ARRAY, .to = 1, .dims = dims,
				  .ndims = 2 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	uint64_t fparams[] = { 1, 4 };
	t = (struct dsymfs_type){ .id = 10, .kind = DSYMFS_TYPE_FUNC, .ret = 1,
				  .params = fparams, .nparams = 2, .variadic = 1 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	t = (struct dsymfs_type){ .id = 11, .kind = DSYMFS_TYPE_FUNC, .unprototyped = 1 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	t = (struct dsymfs_type){ .id = 12, .kind = DSYMFS_TYPE_VOLATILE };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	t = (struct dsymfs_type){ .id = 13, .kind = DSYMFS_TYPE_RESTRICT, .to = 4 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	t = (struct dsymfs_type){ .id = 14, .kind = DSYMFS_TYPE_POINTER, .name = "slice_ptr",
				  .to = 2, .align = 8 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	t = (struct dsymfs_type){ .id = 15, .kind = DSYMFS_TYPE_TYPEDEF, .name = "node_t",
				  .to = 3, .file = 2, .line = 4 };
	CU_ASSERT(dsymfs_type(c, &t) == 0);
	expect_text(&s, "type 9 kind=array to=1 dims=-,4\n"
		    "type 10 kind=func ret=1 params=1,4 variadic\n"
		    "type 11 kind=func unprototyped\n"
		    "type 12 kind=volatile to=0\n"
		    "type 13 kind=restrict to=4\n"
		    "type 14 kind=pointer name=slice_ptr to=2 align=8\n"
		    "type 15 kind=typedef name=node_t to=3 file=2 line=4\n");
	sink_close(&s);
}

static void test_rich_globals_fns(void)
{
	struct sink s;
	sink_open(&s);
	struct dsymfs *c = s.c;
	struct dsymfs_global g = { .id = 1, .name = "counter", .type = 1, .addr = 0x140001000,
				   .file = 2, .line = 5, .ext = 1 };
	CU_ASSERT(dsymfs_global(c, &g) == 0);
	g = (struct dsymfs_global){ .id = 2, .name = "table", .type = 9, .addr = 0x140001010,
				    .file = 2, .line = 6, .cu = 1, .linkage = "_table_v2" };
	CU_ASSERT(dsymfs_global(c, &g) == 0);
	CU_ASSERT(dsymfs_delglobal(c, 2) == 0);
	expect_text(&s, "global 1 name=counter type=1 addr=0x140001000 file=2 line=5 ext\n"
		    "global 2 name=table type=9 addr=0x140001010 file=2 line=6 cu=1 "
		    "linkage=_table_v2\n"
		    "delglobal 2\n");

	/* An abstract origin: parameters and locals with no location but a line. */
	struct dsymfs_param xp[] = { { "x", 1 } };
	struct dsymfs_param_loc xl[] = { { dsymfs_loc_of(DSYMFS_LOC_NONE, 0, 0, 0), 30 } };
	struct dsymfs_var tv[] = { { "t", 1, dsymfs_loc_of(DSYMFS_LOC_NONE, 0, 0, 0), 31, 0 } };
	struct dsymfs_fn fn = { .id = 20, .name = "sq", .file = 1, .line = 30, .ret = 1,
				.params = xp, .nparams = 1, .param_locs = xl, .vars = tv,
				.nvars = 1, .abstract = 1 };
	CU_ASSERT(dsymfs_fn(c, &fn) == 0);
	expect_text(&s, "fn 20 name=sq file=1 line=30 ret=1 params=x:1::30 vars=t:1::31 "
		    "abstract\n");

	/* A function with every new field and a location of each kind. */
	struct dsymfs_loc_entry argv_list[] = { { 0, 9, dsymfs_loc_reg(5) },
						{ 9, 0x40, dsymfs_loc_breg(7, 8) } };
	struct dsymfs_param mp[] = { { "argc", 1 }, { "argv", 4 }, { "", 2 } };
	struct dsymfs_param_loc ml[] = { { dsymfs_loc_fbreg(-20), 40 },
					 { dsymfs_loc_list(argv_list, 2), 41 },
					 { dsymfs_loc_of(DSYMFS_LOC_NONE, 0, 0, 0), 0 } };
	static const uint8_t expr[] = { 0x91, 0x70 };
	struct dsymfs_var mv[] = {
		{ "i", 1, dsymfs_loc_const(-3), 42, 1 },
		{ "s", 7, dsymfs_loc_addr(0x140001010), 43, 0 },
		{ "e", 1, dsymfs_loc_expr(expr, 2), 44, 2 },
		{ "x", 0, dsymfs_loc_reg(64), 30, 3 },
	};
	struct dsymfs_range r1[] = { { 0x10, 0x24 }, { 0x40, 0x48 } };
	struct dsymfs_range r2[] = { { 0x12, 0x20 } };
	struct dsymfs_range r3[] = { { 0x50, 0x60 } };
	struct dsymfs_block mb[] = { { r1, 2, 0, 0, 0, 0, 0 }, { r2, 1, 1, 0, 0, 0, 0 },
				     { r3, 1, 0, 20, 2, 45, 7 } };
	struct dsymfs_row rows[] = { { 0, 40, 0, DSYMFS_ROW_STMT, 0 },
				     { 0x10, 42, 3, DSYMFS_ROW_STMT, 0 } };
	fn = (struct dsymfs_fn){ .id = 21, .name = "main", .low_pc = 0x100000000, .size = 0x80,
				 .file = 1, .line = 40, .ret = 1, .linkage = "_main",
				 .frame_base = dsymfs_loc_reg(6), .params = mp, .nparams = 3,
				 .param_locs = ml, .rows = rows, .nrows = 2, .vars = mv,
				 .nvars = 4, .blocks = mb, .nblocks = 3, .variadic = 1,
				 .optimized = 1, .noreturn = 1 };
	CU_ASSERT(dsymfs_fn(c, &fn) == 0);
	expect_text(&s, "fn 21 name=main low_pc=0x100000000 size=0x80 file=1 line=40 ret=1 "
		    "linkage=_main frame_base=r6 "
		    "params=argc:1:fb-20:40,argv:4:0..9@r5;9..0x40@b7+8:41,:2 "
		    "rows=0:40,0x10:42:3 "
		    "vars=i:1:k-3:42:1,s:7:a0x140001010:43,e:1:x9170:44:2,x:0:r64:30:3 "
		    "blocks=0x10..0x24+0x40..0x48,0x12..0x20:1,0x50..0x60:0:20:2:45:7 "
		    "variadic optimized noreturn\n");

	/* fb+, a negative breg, an unprototyped function, a name that needs quoting. */
	struct dsymfs_param yp[] = { { "y", 1 } };
	struct dsymfs_param_loc yl[] = { { dsymfs_loc_fbreg(8), 0 } };
	struct dsymfs_var qv[] = { { "my var", 1, dsymfs_loc_reg(0), 0, 0 } };
	fn = (struct dsymfs_fn){ .id = 22, .name = "old", .low_pc = 0x100000100, .size = 0x10,
				 .file = 2, .line = 5, .cu = 1,
				 .frame_base = dsymfs_loc_breg(31, -16), .params = yp,
				 .nparams = 1, .param_locs = yl, .vars = qv, .nvars = 1,
				 .unprototyped = 1 };
	CU_ASSERT(dsymfs_fn(c, &fn) == 0);
	expect_text(&s, "fn 22 name=old low_pc=0x100000100 size=0x10 file=2 line=5 cu=1 "
		    "frame_base=b31-16 params=y:1:fb+8 vars=\"my var:1:r0\" unprototyped\n");
	sink_close(&s);
}

static void test_rich_refusals(void)
{
	struct sink s;
	sink_open(&s);
	struct dsymfs *c = s.c;
	struct dsymfs_member colon[] = { { "a:b", 1, 0, 0, 0 } };
	struct dsymfs_type t = { .id = 1, .kind = DSYMFS_TYPE_STRUCT, .size = 4,
				 .members = colon, .nmembers = 1 };
	refused_own(&s, dsymfs_type(c, &t), "entry 1: a name cannot contain ':' or ','");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_STRUCT, .name = "s", .size = 4,
				  .decl = 1 };
	refused_own(&s, dsymfs_type(c, &t), "a decl type has none");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_STRUCT, .decl = 1 };
	refused_own(&s, dsymfs_type(c, &t), "missing field \"name\"");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_STRUCT, .size = 4, .to = 2 };
	refused_own(&s, dsymfs_type(c, &t), "field \"to\": does not apply to kind=struct");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_POINTER, .to = 2, .scope = 3 };
	refused_own(&s, dsymfs_type(c, &t), "field \"scope\": does not apply to kind=pointer");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_ARRAY, .to = 2 };
	refused_own(&s, dsymfs_type(c, &t), "missing field \"dims\"");
	uint64_t dims[] = { 2, DSYMFS_DIM_UNKNOWN };
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_ARRAY, .to = 2, .dims = dims,
				  .ndims = 2 };
	refused_own(&s, dsymfs_type(c, &t), "entry 2: only the first bound may be unknown");
	struct dsymfs_enumerator bad = { "B", 1, 0, 1 };
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_ENUM, .size = 4,
				  .enumerators = &bad, .nenumerators = 1 };
	refused_own(&s, dsymfs_type(c, &t), "neg is set");
	t = (struct dsymfs_type){ .id = 1, .kind = DSYMFS_TYPE_FUNC, .variadic = 1,
				  .unprototyped = 1 };
	refused_own(&s, dsymfs_type(c, &t), "exclude each other");
	struct dsymfs_global g = { .id = 1, .name = "g", .file = 1 };
	refused_own(&s, dsymfs_global(c, &g), "global: field \"type\": id 0 is reserved");

	struct dsymfs_param comma[] = { { "x", 1 }, { "a,b", 2 } };
	struct dsymfs_fn fn = { .id = 1, .name = "f", .file = 1, .params = comma, .nparams = 2 };
	refused_own(&s, dsymfs_fn(c, &fn), "field \"params\": entry 2: a name cannot contain");
	struct dsymfs_param colon_p[] = { { "a:b", 2 } };
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .params = colon_p,
				 .nparams = 1 };
	refused_own(&s, dsymfs_fn(c, &fn), "field \"params\": entry 1: a name cannot contain");
	struct dsymfs_var v = { "v", 1, dsymfs_loc_reg(0), 0, 1 };
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .vars = &v, .nvars = 1 };
	refused_own(&s, dsymfs_fn(c, &fn), "block 1 is not one of the function's 0");
	struct dsymfs_loc_entry overlap[] = { { 0, 8, dsymfs_loc_reg(1) },
					      { 4, 9, dsymfs_loc_reg(2) } };
	v = (struct dsymfs_var){ "v", 1, dsymfs_loc_list(overlap, 2), 0, 0 };
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .vars = &v, .nvars = 1 };
	refused_own(&s, dsymfs_fn(c, &fn), "location list entry 2");
	struct dsymfs_loc_entry nested[] = { { 0, 8, dsymfs_loc_list(overlap, 2) } };
	fn.frame_base = dsymfs_loc_list(nested, 1);
	fn.nvars = 0;
	refused_own(&s, dsymfs_fn(c, &fn), "field \"frame_base\": a location list entry");
	v = (struct dsymfs_var){ "v", 1, dsymfs_loc_expr(NULL, 0), 0, 0 };
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .vars = &v, .nvars = 1 };
	refused_own(&s, dsymfs_fn(c, &fn), "an expression location needs bytes");
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .low_pc = 0x10,
				 .abstract = 1 };
	refused_own(&s, dsymfs_fn(c, &fn), "field \"low_pc\": an abstract function has none");
	struct dsymfs_range r = { 0, 4 };
	struct dsymfs_block b[] = { { &r, 1, 2, 0, 0, 0, 0 }, { &r, 1, 0, 0, 0, 0, 0 } };
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .size = 8, .blocks = b,
				 .nblocks = 2 };
	refused_own(&s, dsymfs_fn(c, &fn), "entry 1: parent 2 is not an earlier block");
	struct dsymfs_range empty = { 4, 4 };
	b[0] = (struct dsymfs_block){ &empty, 1, 0, 0, 0, 0, 0 };
	refused_own(&s, dsymfs_fn(c, &fn), "entry 1: range 1 is empty");
	fn = (struct dsymfs_fn){ .id = 1, .name = "f", .file = 1, .variadic = 1,
				 .unprototyped = 1 };
	refused_own(&s, dsymfs_fn(c, &fn), "exclude each other");
	sink_close(&s);
}

/* A caller built against the header before rich debug info passes the structs' old
 * sizes: what lies past them is not read. */
static void test_rich_sized(void)
{
	struct sink s;
	sink_open(&s);
	struct dsymfs_file f = { .id = 1, .path = "a.c", .lang = DSYMFS_LANG_C11 };
	CU_ASSERT(dsymfs_file_sized(s.c, &f, offsetof(struct dsymfs_file, lang)) == 0);
	struct dsymfs_type t = { .id = 2, .kind = DSYMFS_TYPE_POINTER, .to = 1, .align = 8,
				 .scope = 3 };
	CU_ASSERT(dsymfs_type_sized(s.c, &t, offsetof(struct dsymfs_type, align)) == 0);
	struct dsymfs_fn fn = { .id = 3, .name = "f", .file = 1, .linkage = "_f",
				.optimized = 1 };
	CU_ASSERT(dsymfs_fn_sized(s.c, &fn, offsetof(struct dsymfs_fn, param_locs)) == 0);
	expect_text(&s, "file 1 path=a.c\n"
		    "type 2 kind=pointer to=1\n"
		    "fn 3 name=f low_pc=0x0 size=0x0 file=1 line=0\n");
	sink_close(&s);
}

static const struct unit_test client_tests[] = {
	{ "image, exe", test_image_exe },
	{ "segment, section", test_segment_section },
	{ "file, type, delfile, deltype, del", test_file_type_del },
	{ "fn", test_fn },
	{ "move, line, sym, commit, abort", test_moves_lines_syms },
	{ "escaping", test_escaping },
	{ "refusals", test_refusals },
	{ "batching", test_batching },
	{ "sized structs", test_sized },
	{ "failures", test_failures },
	{ "rich debug info: files and types", test_rich_files_types },
	{ "rich debug info: globals and functions", test_rich_globals_fns },
	{ "rich debug info: refusals", test_rich_refusals },
	{ "rich debug info: structs of the older header", test_rich_sized },
	{ NULL, NULL },
};

UNIT_SUITE(client, client_tests)
