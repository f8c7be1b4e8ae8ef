/* Suite macho: the reader against real executables built with clang-16 and ld64.lld-16,
 * the writer against llvm-objdump-16, llvm-nm-16 and dsymutil-16's own dSYM, and every
 * refusal path. Expected values come from the LLVM tools' output, never from macho.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enc.h"
#include "macho.h"
#include "unit.h"

#define LC_SYMTAB        0x02u
#define LC_SEGMENT_64    0x19u
#define LC_UUID          0x1bu
#define LC_BUILD_VERSION 0x32u

/* ---- fixtures --------------------------------------------------------------------- */

static const char SRC_A[] =
	"int counter;\n"
	"int table[4] = {1, 2, 3, 4};\n"
	"int helper(int x);\n"
	"void _start(void) { counter = helper(table[1]); }\n";
static const char SRC_B[] =
	"static int twice(int x) { return 2 * x; }\n"
	"int helper(int x) { return twice(x) + 1; }\n"
	"const char msg[] = \"hi\";\n";

static void tmp_path(char *out, size_t outlen, const char *name)
{
	char dir[256];
	unit_suite_dir(dir, sizeof dir, "macho");
	unit_fmt(out, outlen, "%s/%s", dir, name);
}

/* Builds (once per run; the file on disk is the cache) a two-object executable for
 * arch and puts its path in out. A missing clang-16 or ld64.lld-16 fails the test. */
static void build_prog(const char *arch, char *out, size_t outlen)
{
	char dir[256];
	unit_suite_dir(dir, sizeof dir, "macho");
	unit_fmt(out, outlen, "%s/prog_%s", dir, arch);
	if (access(out, R_OK) == 0)
		return;
	char path[512];
	tmp_path(path, sizeof path, "a.c");
	unit_write_file(path, SRC_A, strlen(SRC_A));
	tmp_path(path, sizeof path, "b.c");
	unit_write_file(path, SRC_B, strlen(SRC_B));
	char name[64];
	unit_fmt(name, sizeof name, "prog_%s", arch);
	const char *srcs[] = {"a.c", "b.c"};
	unit_build_macho(dir, arch, "-g -gdwarf-4", name, srcs, 2);
}

static uint8_t *load_file(const char *path, size_t *len)
{
	uint8_t *data = (uint8_t *)unit_read_file(path, len);
	CU_ASSERT_FATAL(data != NULL);
	return data;
}

static void parse_ok(const char *path, struct macho_exe *e)
{
	char err[512] = "";
	int rc = macho_read_exe(path, e, err, sizeof err);
	if (rc)
		fprintf(stderr, "macho_read_exe(%s): %d %s\n", path, rc, err);
	CU_ASSERT_FATAL(rc == 0);
}

/* ---- llvm-objdump --macho --private-headers --non-verbose, parsed ------------------ */

#define DUMP_MAX_CMDS  32
#define DUMP_MAX_SEGS  16
#define DUMP_MAX_SECTS 16

struct dsect {
	char sectname[32], segname[32];
	uint64_t addr, size, offset, align, reloff, nreloc, flags, reserved1, reserved2;
};

struct dseg {
	char segname[32];
	uint64_t vmaddr, vmsize, fileoff, filesize, maxprot, initprot, nsects, flags;
	uint32_t nsect_seen;
	struct dsect sect[DUMP_MAX_SECTS];
};

struct dump {
	unsigned long magic, cputype, cpusubtype, caps, filetype, ncmds, sizeofcmds, flags;
	uint32_t ncmd_seen;
	char cmd[DUMP_MAX_CMDS][32];
	char uuid[64];
	bool has_build;
	uint64_t platform, sdk, minos, ntools;
	bool has_symtab;
	uint64_t symoff, nsyms, stroff, strsize;
	uint32_t nsegs;
	struct dseg seg[DUMP_MAX_SEGS];
};

static uint64_t num(const char *v)
{
	if (v[0] == '0' && v[1] == 'x')
		return strtoull(v + 2, NULL, 16);
	return strtoull(v, NULL, 10);
}

/* "11.0" or "11.0.1" in LC_BUILD_VERSION's xxxx.yy.zz nibble encoding. */
static uint64_t version(const char *v)
{
	unsigned x = 0, y = 0, z = 0;
	if (sscanf(v, "%u.%u.%u", &x, &y, &z) < 1)
		return 0;
	return (uint64_t)x << 16 | y << 8 | z;
}

/* Copies src into dst[n], cutting it if needed (the fields compared are short). */
static void copy_str(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);
	memcpy(dst, src, len);
	dst[len] = 0;
}

static void dump_segment_key(struct dseg *g, bool in_sect, const char *k, const char *v)
{
	if (in_sect) {
		CU_ASSERT_FATAL(g->nsect_seen > 0 && g->nsect_seen <= DUMP_MAX_SECTS);
		struct dsect *s = &g->sect[g->nsect_seen - 1];
		if (!strcmp(k, "sectname"))
			copy_str(s->sectname, sizeof s->sectname, v);
		else if (!strcmp(k, "segname"))
			copy_str(s->segname, sizeof s->segname, v);
		else if (!strcmp(k, "addr"))
			s->addr = num(v);
		else if (!strcmp(k, "size"))
			s->size = num(v);
		else if (!strcmp(k, "offset"))
			s->offset = num(v);
		else if (!strcmp(k, "align"))
			s->align = strncmp(v, "2^", 2) == 0 ? num(v + 2) : 999;
		else if (!strcmp(k, "reloff"))
			s->reloff = num(v);
		else if (!strcmp(k, "nreloc"))
			s->nreloc = num(v);
		else if (!strcmp(k, "flags"))
			s->flags = num(v);
		else if (!strcmp(k, "reserved1"))
			s->reserved1 = num(v);
		else if (!strcmp(k, "reserved2"))
			s->reserved2 = num(v);
		return;
	}
	if (!strcmp(k, "segname"))
		copy_str(g->segname, sizeof g->segname, v);
	else if (!strcmp(k, "vmaddr"))
		g->vmaddr = num(v);
	else if (!strcmp(k, "vmsize"))
		g->vmsize = num(v);
	else if (!strcmp(k, "fileoff"))
		g->fileoff = num(v);
	else if (!strcmp(k, "filesize"))
		g->filesize = num(v);
	else if (!strcmp(k, "maxprot"))
		g->maxprot = num(v);
	else if (!strcmp(k, "initprot"))
		g->initprot = num(v);
	else if (!strcmp(k, "nsects"))
		g->nsects = num(v);
	else if (!strcmp(k, "flags"))
		g->flags = num(v);
}

/* Runs llvm-objdump-16 on path and parses what this suite compares; caller frees. */
static struct dump *dump_file(const char *path)
{
	char *text = unit_sh_out("llvm-objdump-16 --macho --private-headers --non-verbose '%s'",
				 path);
	if (!text)
		fprintf(stderr, "macho: llvm-objdump-16 failed on %s\n", path);
	CU_ASSERT_FATAL(text != NULL);
	struct dump *d = calloc(1, sizeof *d);
	CU_ASSERT_FATAL(d != NULL);
	const char *cur = "";
	bool in_sect = false;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ')
			line++;
		if (!strncmp(line, "0x", 2)) {
			sscanf(line, "%lx %lu %lu %lx %lu %lu %lu %lx", &d->magic, &d->cputype,
			       &d->cpusubtype, &d->caps, &d->filetype, &d->ncmds, &d->sizeofcmds,
			       &d->flags);
			continue;
		}
		if (!strncmp(line, "Load command", 12)) {
			in_sect = false;
			cur = "";
			continue;
		}
		if (!strcmp(line, "Section")) {
			in_sect = true;
			CU_ASSERT_FATAL(d->nsegs > 0);
			d->seg[d->nsegs - 1].nsect_seen++;
			continue;
		}
		char *v = strchr(line, ' ');
		if (!v)
			continue;
		*v++ = 0;
		while (*v == ' ')
			v++;
		if (!strcmp(line, "cmd")) {
			CU_ASSERT_FATAL(d->ncmd_seen < DUMP_MAX_CMDS);
			copy_str(d->cmd[d->ncmd_seen], sizeof d->cmd[0], v);
			cur = d->cmd[d->ncmd_seen++];
			if (!strcmp(cur, "LC_SEGMENT_64")) {
				CU_ASSERT_FATAL(d->nsegs < DUMP_MAX_SEGS);
				d->nsegs++;
			}
			continue;
		}
		if (!strcmp(cur, "LC_SEGMENT_64")) {
			dump_segment_key(&d->seg[d->nsegs - 1], in_sect, line, v);
		} else if (!strcmp(cur, "LC_UUID")) {
			if (!strcmp(line, "uuid"))
				copy_str(d->uuid, sizeof d->uuid, v);
		} else if (!strcmp(cur, "LC_BUILD_VERSION")) {
			d->has_build = true;
			if (!strcmp(line, "platform"))
				d->platform = num(v);
			else if (!strcmp(line, "sdk"))
				d->sdk = version(v);
			else if (!strcmp(line, "minos"))
				d->minos = version(v);
			else if (!strcmp(line, "ntools"))
				d->ntools = num(v);
		} else if (!strcmp(cur, "LC_SYMTAB")) {
			d->has_symtab = true;
			if (!strcmp(line, "symoff"))
				d->symoff = num(v);
			else if (!strcmp(line, "nsyms"))
				d->nsyms = num(v);
			else if (!strcmp(line, "stroff"))
				d->stroff = num(v);
			else if (!strcmp(line, "strsize"))
				d->strsize = num(v);
		}
	}
	free(text);
	CU_ASSERT_FATAL(d->magic == 0xfeedfacfu);
	return d;
}

static const struct dseg *dump_seg(const struct dump *d, const char *name)
{
	for (uint32_t i = 0; i < d->nsegs; i++)
		if (!strcmp(d->seg[i].segname, name))
			return &d->seg[i];
	return NULL;
}

/* ---- llvm-nm -p -m --defined-only, parsed ------------------------------------------ */

struct nm_sym {
	char name[128];
	uint64_t value;
	char seg[32], sect[32];
	bool external;
};

/* The N_SECT symbols llvm-nm-16 lists, in symbol-table order; *n gets the count. */
static struct nm_sym *nm_file(const char *path, uint32_t *n)
{
	char *text = unit_sh_out("llvm-nm-16 -p -m --defined-only '%s'", path);
	CU_ASSERT_FATAL(text != NULL);
	struct nm_sym *syms = calloc(256, sizeof *syms);
	CU_ASSERT_FATAL(syms != NULL);
	*n = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long value;
		char where[80];
		if (sscanf(line, "%llx (%79[^)])", &value, where) != 2 || !strchr(where, ','))
			continue;   /* (absolute), (indirect): not N_SECT */
		CU_ASSERT_FATAL(*n < 256);
		struct nm_sym *s = &syms[(*n)++];
		s->value = value;
		char *comma = strchr(where, ',');
		*comma = 0;
		copy_str(s->seg, sizeof s->seg, where);
		copy_str(s->sect, sizeof s->sect, comma + 1);
		s->external = strstr(line, " external ") && !strstr(line, "non-external");
		copy_str(s->name, sizeof s->name, strrchr(line, ' ') + 1);
	}
	free(text);
	return syms;
}

static const struct macho_section *nth_section(const struct macho_segtab *t, uint32_t ord)
{
	for (uint32_t i = 0; i < t->nsegs; i++) {
		if (ord <= t->segs[i].nsects)
			return &t->segs[i].sects[ord - 1];
		ord -= t->segs[i].nsects;
	}
	return NULL;
}

/* ---- reader against the tools ------------------------------------------------------ */

static void check_exe_against_tools(const char *arch)
{
	char prog[512];
	build_prog(arch, prog, sizeof prog);
	struct macho_exe e;
	parse_ok(prog, &e);
	struct dump *d = dump_file(prog);

	CU_ASSERT_EQUAL(e.ident.cputype, d->cputype);
	CU_ASSERT_EQUAL(e.ident.cpusubtype, d->cpusubtype);
	CU_ASSERT_STRING_EQUAL(macho_arch_name(e.ident.cputype), arch);
	char uuid[37];
	macho_uuid_format(e.ident.uuid, uuid);
	CU_ASSERT_STRING_EQUAL(uuid, d->uuid);

	CU_ASSERT_FATAL(d->has_build);
	CU_ASSERT(e.ident.has_build);
	CU_ASSERT_EQUAL(e.ident.platform, d->platform);
	CU_ASSERT_EQUAL(e.ident.minos, d->minos);
	CU_ASSERT_EQUAL(e.ident.sdk, d->sdk);

	CU_ASSERT_FATAL(e.segtab.nsegs == d->nsegs);
	for (uint32_t i = 0; i < d->nsegs; i++) {
		const struct macho_segment *s = &e.segtab.segs[i];
		const struct dseg *g = &d->seg[i];
		CU_ASSERT_STRING_EQUAL(s->segname, g->segname);
		CU_ASSERT_EQUAL(s->vmaddr, g->vmaddr);
		CU_ASSERT_EQUAL(s->vmsize, g->vmsize);
		CU_ASSERT_EQUAL(s->maxprot, g->maxprot);
		CU_ASSERT_EQUAL(s->initprot, g->initprot);
		CU_ASSERT_EQUAL(s->flags, g->flags);
		CU_ASSERT_FATAL(s->nsects == g->nsects && g->nsects == g->nsect_seen);
		for (uint32_t j = 0; j < s->nsects; j++) {
			const struct macho_section *x = &s->sects[j];
			const struct dsect *y = &g->sect[j];
			CU_ASSERT_STRING_EQUAL(x->sectname, y->sectname);
			CU_ASSERT_STRING_EQUAL(x->segname, y->segname);
			CU_ASSERT_EQUAL(x->addr, y->addr);
			CU_ASSERT_EQUAL(x->size, y->size);
			CU_ASSERT_EQUAL(x->align, y->align);
			CU_ASSERT_EQUAL(x->flags, y->flags);
			CU_ASSERT_EQUAL(x->reserved1, y->reserved1);
			CU_ASSERT_EQUAL(x->reserved2, y->reserved2);
		}
	}
	/* The fixture is meant to exercise several sections and both symbol kinds. */
	CU_ASSERT(macho_segtab_nsects(&e.segtab) >= 4);

	uint32_t nn;
	struct nm_sym *nm = nm_file(prog, &nn);
	CU_ASSERT(nn >= 6);
	CU_ASSERT_FATAL(e.nsyms == nn);
	bool saw_local = false;
	for (uint32_t i = 0; i < nn; i++) {
		const struct macho_sym *s = &e.syms[i];
		CU_ASSERT_STRING_EQUAL(s->name, nm[i].name);
		CU_ASSERT_EQUAL(s->value, nm[i].value);
		CU_ASSERT_EQUAL((s->type & MACHO_N_EXT) != 0, nm[i].external);
		CU_ASSERT_EQUAL(s->type & 0x0e, MACHO_N_SECT);
		const struct macho_section *x = nth_section(&e.segtab, s->sect);
		CU_ASSERT_FATAL(x != NULL);
		CU_ASSERT_STRING_EQUAL(x->segname, nm[i].seg);
		CU_ASSERT_STRING_EQUAL(x->sectname, nm[i].sect);
		if (!strcmp(s->name, "_twice"))
			saw_local = !nm[i].external;
	}
	CU_ASSERT(saw_local);
	free(nm);
	free(d);
	macho_exe_free(&e);
}

static void test_parse_x86_64(void)
{
	check_exe_against_tools("x86_64");
}

static void test_parse_arm64(void)
{
	check_exe_against_tools("arm64");
}

/* The capability bits of cpusubtype (LIB64 on x86_64) are not part of the identity. */
static void test_parse_subtype_caps(void)
{
	char prog[512];
	build_prog("x86_64", prog, sizeof prog);
	struct dump *d = dump_file(prog);
	CU_ASSERT(d->caps != 0);   /* the fixture really has them, or this tests nothing */
	struct macho_exe e;
	parse_ok(prog, &e);
	uint32_t cpu, sub;
	CU_ASSERT(macho_arch_parse("x86_64", &cpu, &sub) == 0);
	CU_ASSERT_EQUAL(e.ident.cpusubtype, sub);
	CU_ASSERT_EQUAL(e.ident.cpusubtype, d->cpusubtype);
	macho_exe_free(&e);
	free(d);
}

static void test_parse_in_memory_matches_file(void)
{
	char prog[512];
	build_prog("arm64", prog, sizeof prog);
	size_t len;
	uint8_t *data = load_file(prog, &len);
	struct macho_exe a, b;
	char err[256];
	CU_ASSERT_FATAL(macho_parse_exe(data, len, &a, err, sizeof err) == 0);
	parse_ok(prog, &b);
	CU_ASSERT(memcmp(&a.ident, &b.ident, sizeof a.ident) == 0);
	CU_ASSERT_EQUAL(a.nsyms, b.nsyms);
	CU_ASSERT_EQUAL(a.segtab.nsegs, b.segtab.nsegs);
	macho_exe_free(&a);
	macho_exe_free(&b);
	free(data);
}

/* ---- segment tables ---------------------------------------------------------------- */

static void test_segtab(void)
{
	char prog[512];
	build_prog("x86_64", prog, sizeof prog);
	struct macho_exe e;
	parse_ok(prog, &e);
	struct dump *d = dump_file(prog);

	/* Ordinals as n_sect counts them: over all segments' sections in order. */
	uint32_t ord = 0, want = 0;
	for (uint32_t i = 0; i < d->nsegs; i++)
		for (uint32_t j = 0; j < d->seg[i].nsects; j++) {
			want++;
			const struct dsect *y = &d->seg[i].sect[j];
			const struct macho_section *x =
				macho_segtab_find(&e.segtab, y->segname, y->sectname, &ord);
			CU_ASSERT_FATAL(x != NULL);
			CU_ASSERT_EQUAL(ord, want);
			CU_ASSERT_EQUAL(x->addr, y->addr);
		}
	CU_ASSERT_EQUAL(macho_segtab_nsects(&e.segtab), want);
	CU_ASSERT(macho_segtab_find(&e.segtab, "__TEXT", "__nope", NULL) == NULL);
	CU_ASSERT(macho_segtab_find(&e.segtab, "__DATA", "__text", NULL) == NULL);
	CU_ASSERT(macho_segtab_find(&e.segtab, "__TEXT", "__text", NULL) != NULL);

	const struct macho_segment *text = macho_segtab_find_seg(&e.segtab, "__TEXT");
	CU_ASSERT_FATAL(text != NULL);
	CU_ASSERT_EQUAL(text->vmaddr, dump_seg(d, "__TEXT")->vmaddr);
	CU_ASSERT(macho_segtab_find_seg(&e.segtab, "__DWARF") == NULL);

	struct macho_segtab copy;
	CU_ASSERT_FATAL(macho_segtab_copy(&e.segtab, &copy) == 0);
	CU_ASSERT_EQUAL(copy.nsegs, e.segtab.nsegs);
	for (uint32_t i = 0; i < copy.nsegs; i++) {
		const struct macho_segment *a = &copy.segs[i], *b = &e.segtab.segs[i];
		CU_ASSERT_STRING_EQUAL(a->segname, b->segname);
		CU_ASSERT_EQUAL(a->nsects, b->nsects);
		if (a->nsects) {
			CU_ASSERT(a->sects != b->sects);
			CU_ASSERT(memcmp(a->sects, b->sects, a->nsects * sizeof *a->sects) == 0);
		}
	}
	macho_exe_free(&e);   /* the copy must not share anything with the original */
	CU_ASSERT(macho_segtab_find(&copy, "__TEXT", "__text", &ord) != NULL);
	CU_ASSERT_EQUAL(ord, 1);
	macho_segtab_free(&copy);
	CU_ASSERT(copy.segs == NULL && copy.nsegs == 0);
	macho_segtab_free(&copy);

	struct macho_segtab empty = {0}, ecopy;
	CU_ASSERT(macho_segtab_copy(&empty, &ecopy) == 0);
	CU_ASSERT(ecopy.nsegs == 0);
	CU_ASSERT_EQUAL(macho_segtab_nsects(&ecopy), 0);
	macho_segtab_free(&ecopy);
	struct macho_exe zero = {0};
	macho_exe_free(&zero);
	free(d);
}

/* ---- small helpers ----------------------------------------------------------------- */

static void test_arch(void)
{
	uint32_t cpu = 1, sub = 1;
	CU_ASSERT(macho_arch_parse("x86_64", &cpu, &sub) == 0);
	CU_ASSERT(cpu == MACHO_CPU_X86_64 && sub == MACHO_SUBTYPE_X86_64_ALL);
	CU_ASSERT(macho_arch_parse("arm64", &cpu, &sub) == 0);
	CU_ASSERT(cpu == MACHO_CPU_ARM64 && sub == MACHO_SUBTYPE_ARM64_ALL);
	CU_ASSERT(macho_arch_parse("arm64e", &cpu, &sub) == -EINVAL);
	CU_ASSERT(macho_arch_parse("i386", &cpu, &sub) == -EINVAL);
	CU_ASSERT(macho_arch_parse("", &cpu, &sub) == -EINVAL);
	CU_ASSERT(macho_arch_parse("X86_64", &cpu, &sub) == -EINVAL);
	CU_ASSERT_STRING_EQUAL(macho_arch_name(MACHO_CPU_X86_64), "x86_64");
	CU_ASSERT_STRING_EQUAL(macho_arch_name(MACHO_CPU_ARM64), "arm64");
	CU_ASSERT_STRING_EQUAL(macho_arch_name(7), "unknown");
}

static void test_uuid(void)
{
	uint8_t u[16];
	char s[37];
	CU_ASSERT(macho_uuid_parse("4c4c441a-5555-3144-A11F-d503a3b13a6c", u) == 0);
	static const uint8_t want[16] = {0x4c, 0x4c, 0x44, 0x1a, 0x55, 0x55, 0x31, 0x44,
					 0xa1, 0x1f, 0xd5, 0x03, 0xa3, 0xb1, 0x3a, 0x6c};
	CU_ASSERT(memcmp(u, want, 16) == 0);
	macho_uuid_format(u, s);
	CU_ASSERT_STRING_EQUAL(s, "4C4C441A-5555-3144-A11F-D503A3B13A6C");

	uint8_t keep[16];
	memcpy(keep, u, 16);
	static const char *bad[] = {
		"", "4C4C441A-5555-3144-A11F-D503A3B13A6", "4C4C441A-5555-3144-A11F-D503A3B13A6C0",
		"4C4C441A55555-3144-A11F-D503A3B13A6C", "4C4C441A-5555-3144-A11F-D503A3B13A6G",
		"4C4C441-A5555-3144-A11F-D503A3B13A6C", "4C4C441A-5555-3144-A11F-D503A3B13A6C ",
		"4C4C441A55553144A11FD503A3B13A6C", "{4C4C441A-5555-3144-A11F-D503A3B13A6C}",
		NULL,
	};
	for (int i = 0; bad[i]; i++)
		CU_ASSERT(macho_uuid_parse(bad[i], u) == -EINVAL);
	CU_ASSERT(memcmp(u, keep, 16) == 0);   /* a failed parse writes nothing */

	for (int i = 0; i < 16; i++)
		u[i] = (uint8_t)(i * 17);
	macho_uuid_format(u, s);
	CU_ASSERT_STRING_EQUAL(s, "00112233-4455-6677-8899-AABBCCDDEEFF");
	uint8_t back[16];
	CU_ASSERT(macho_uuid_parse(s, back) == 0);
	CU_ASSERT(memcmp(back, u, 16) == 0);
}

static void test_put_nlist(void)
{
	uint8_t b[MACHO_NLIST_SIZE + 1];
	memset(b, 0xaa, sizeof b);
	macho_put_nlist(b, 0x04030201u, MACHO_N_SECT | MACHO_N_EXT, 3, 0x0201,
			0x1122334455667788ull);
	static const uint8_t want[MACHO_NLIST_SIZE + 1] = {
		0x01, 0x02, 0x03, 0x04, 0x0f, 0x03, 0x01, 0x02,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xaa,
	};
	CU_ASSERT(memcmp(b, want, sizeof want) == 0);
}

/* ---- writer ------------------------------------------------------------------------ */

static uint64_t round_page(uint64_t v)
{
	return (v + 0xfff) & ~(uint64_t)0xfff;
}

/* The expected __DWARF vmaddr, from the tool's view of the other segments. */
static uint64_t dwarf_vmaddr_from(const struct dump *d)
{
	uint64_t end = 0;
	for (uint32_t i = 0; i < d->nsegs; i++)
		if (strcmp(d->seg[i].segname, "__DWARF") && d->seg[i].vmaddr + d->seg[i].vmsize > end)
			end = d->seg[i].vmaddr + d->seg[i].vmsize;
	return round_page(end);
}

static void test_writer_own_layout(void)
{
	char prog[512], out[512];
	build_prog("x86_64", prog, sizeof prog);
	tmp_path(out, sizeof out, "own.dwarf");
	struct macho_exe e;
	parse_ok(prog, &e);
	struct dump *x = dump_file(prog);

	static const char strtab[] = "\0\0_alpha\0_beta\0_gamma";   /* + final NUL */
	static const uint32_t strx[3] = {2, 9, 15};
	static const struct macho_dwarf_sect dwarf[] = {
		{"__debug_info", 0x2000, 0x40},
		{"__debug_abbrev", 0x3000, 0x20},
		{"__apple_namespace", 0x4000, 0x24},   /* 17 bytes: the field keeps 16 */
	};
	struct macho_dsym_layout l = {
		.ident = &e.ident, .segtab = &e.segtab,
		.symoff = 0x1000, .nsyms = 3,
		.stroff = 0x1000 + 3 * MACHO_NLIST_SIZE, .strsize = sizeof strtab,
		.dwarf_fileoff = 0x2000, .dwarf_filesize = 0x4024 - 0x2000,
		.ndwarf = 3, .dwarf = dwarf,
	};
	size_t hsize = macho_dsym_header_size(&l);
	CU_ASSERT_FATAL(hsize <= 0x1000);
	size_t flen = 0x4024;
	uint8_t *file = calloc(1, flen);
	CU_ASSERT_FATAL(file != NULL);
	/* Exactly hsize bytes, so ASan catches a writer that overruns its own size. */
	uint8_t *hdr = malloc(hsize);
	CU_ASSERT_FATAL(hdr != NULL);
	macho_dsym_write_header(&l, hdr);
	memcpy(file, hdr, hsize);
	free(hdr);

	uint32_t text_ord;
	const struct macho_section *text = macho_segtab_find(&e.segtab, "__TEXT", "__text",
							     &text_ord);
	CU_ASSERT_FATAL(text != NULL);
	for (uint32_t i = 0; i < 3; i++)
		macho_put_nlist(file + l.symoff + i * MACHO_NLIST_SIZE, strx[i],
				MACHO_N_SECT | MACHO_N_EXT, (uint8_t)text_ord, 0,
				text->addr + 0x10 * i);
	memcpy(file + l.stroff, strtab, sizeof strtab);
	unit_write_file(out, file, flen);
	free(file);

	struct dump *d = dump_file(out);
	CU_ASSERT_EQUAL(d->filetype, 10);   /* MH_DSYM */
	CU_ASSERT_EQUAL(d->flags, 0);
	CU_ASSERT_EQUAL(d->cputype, x->cputype);
	CU_ASSERT_EQUAL(d->cpusubtype, x->cpusubtype);
	CU_ASSERT_EQUAL(d->caps, 0);
	CU_ASSERT_EQUAL(d->sizeofcmds + 32, hsize);
	CU_ASSERT_STRING_EQUAL(d->uuid, x->uuid);

	/* Load-command order: LC_UUID, LC_BUILD_VERSION, LC_SYMTAB, the segments. */
	CU_ASSERT_FATAL(d->ncmd_seen == 3 + x->nsegs + 1 && d->ncmds == d->ncmd_seen);
	CU_ASSERT_STRING_EQUAL(d->cmd[0], "LC_UUID");
	CU_ASSERT_STRING_EQUAL(d->cmd[1], "LC_BUILD_VERSION");
	CU_ASSERT_STRING_EQUAL(d->cmd[2], "LC_SYMTAB");
	for (uint32_t i = 3; i < d->ncmd_seen; i++)
		CU_ASSERT_STRING_EQUAL(d->cmd[i], "LC_SEGMENT_64");
	CU_ASSERT(d->has_build && d->ntools == 0);
	CU_ASSERT_EQUAL(d->platform, x->platform);
	CU_ASSERT_EQUAL(d->minos, x->minos);
	CU_ASSERT_EQUAL(d->sdk, x->sdk);
	CU_ASSERT_EQUAL(d->symoff, 0x1000);
	CU_ASSERT_EQUAL(d->nsyms, 3);
	CU_ASSERT_EQUAL(d->stroff, 0x1030);
	CU_ASSERT_EQUAL(d->strsize, sizeof strtab);

	CU_ASSERT_FATAL(d->nsegs == x->nsegs + 1);
	for (uint32_t i = 0; i < x->nsegs; i++) {
		const struct dseg *g = &d->seg[i], *h = &x->seg[i];
		CU_ASSERT_STRING_EQUAL(g->segname, h->segname);
		CU_ASSERT_EQUAL(g->vmaddr, h->vmaddr);
		CU_ASSERT_EQUAL(g->maxprot, h->maxprot);
		CU_ASSERT_EQUAL(g->initprot, h->initprot);
		CU_ASSERT_EQUAL(g->flags, h->flags);
		if (!strcmp(g->segname, "__LINKEDIT")) {
			CU_ASSERT_EQUAL(g->fileoff, 0x1000);
			CU_ASSERT_EQUAL(g->filesize, 0x30 + sizeof strtab);
			CU_ASSERT_EQUAL(g->vmsize, 0x1000);
		} else {
			CU_ASSERT_EQUAL(g->fileoff, 0);
			CU_ASSERT_EQUAL(g->filesize, 0);
			CU_ASSERT_EQUAL(g->vmsize, h->vmsize);
		}
		CU_ASSERT_FATAL(g->nsect_seen == h->nsect_seen && g->nsects == h->nsects);
		for (uint32_t j = 0; j < g->nsects; j++) {
			const struct dsect *s = &g->sect[j], *t = &h->sect[j];
			CU_ASSERT_STRING_EQUAL(s->sectname, t->sectname);
			CU_ASSERT_STRING_EQUAL(s->segname, t->segname);
			CU_ASSERT_EQUAL(s->addr, t->addr);
			CU_ASSERT_EQUAL(s->size, t->size);
			CU_ASSERT_EQUAL(s->align, t->align);
			CU_ASSERT_EQUAL(s->flags, t->flags);
			CU_ASSERT_EQUAL(s->reserved1, t->reserved1);
			CU_ASSERT_EQUAL(s->reserved2, t->reserved2);
			CU_ASSERT_EQUAL(s->offset, 0);
			CU_ASSERT_EQUAL(s->reloff, 0);
			CU_ASSERT_EQUAL(s->nreloc, 0);
		}
	}
	CU_ASSERT(dump_seg(x, "__LINKEDIT") != NULL);   /* else the branch above is untested */

	const struct dseg *w = &d->seg[d->nsegs - 1];
	CU_ASSERT_STRING_EQUAL(w->segname, "__DWARF");
	uint64_t base = dwarf_vmaddr_from(d);
	CU_ASSERT_EQUAL(w->vmaddr, base);
	CU_ASSERT_EQUAL(w->fileoff, 0x2000);
	CU_ASSERT_EQUAL(w->filesize, 0x2024);
	CU_ASSERT_EQUAL(w->vmsize, 0x3000);
	CU_ASSERT_EQUAL(w->maxprot, 7);
	CU_ASSERT_EQUAL(w->initprot, 3);
	CU_ASSERT_EQUAL(w->flags, 0);
	CU_ASSERT_FATAL(w->nsects == 3 && w->nsect_seen == 3);
	static const char *names[3] = {"__debug_info", "__debug_abbrev", "__apple_namespac"};
	for (uint32_t i = 0; i < 3; i++) {
		const struct dsect *s = &w->sect[i];
		CU_ASSERT_STRING_EQUAL(s->sectname, names[i]);
		CU_ASSERT_STRING_EQUAL(s->segname, "__DWARF");
		CU_ASSERT_EQUAL(s->offset, dwarf[i].offset);
		CU_ASSERT_EQUAL(s->size, dwarf[i].size);
		CU_ASSERT_EQUAL(s->addr, base + dwarf[i].offset - 0x2000);
		CU_ASSERT_EQUAL(s->align, 0);
		CU_ASSERT_EQUAL(s->flags, 0);
	}

	uint32_t nn;
	struct nm_sym *nm = nm_file(out, &nn);
	CU_ASSERT_FATAL(nn == 3);
	static const char *syms[3] = {"_alpha", "_beta", "_gamma"};
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_STRING_EQUAL(nm[i].name, syms[i]);
		CU_ASSERT_EQUAL(nm[i].value, text->addr + 0x10 * i);
		CU_ASSERT_STRING_EQUAL(nm[i].seg, "__TEXT");
		CU_ASSERT_STRING_EQUAL(nm[i].sect, "__text");
		CU_ASSERT(nm[i].external);
	}
	free(nm);
	free(d);
	free(x);
	macho_exe_free(&e);
}

/* Given dsymutil's own file layout, our header must be dsymutil's, byte for byte. */
static void check_against_dsymutil(const char *arch)
{
	char prog[512], bundle[512], theirs[512], ours[512], dir[256];
	build_prog(arch, prog, sizeof prog);
	unit_suite_dir(dir, sizeof dir, "macho");
	char name[64];
	snprintf(name, sizeof name, "prog_%s.dSYM", arch);
	tmp_path(bundle, sizeof bundle, name);
	unit_fmt(theirs, sizeof theirs, "%s/Contents/Resources/DWARF/prog_%s", bundle, arch);
	snprintf(name, sizeof name, "ours_%s", arch);
	tmp_path(ours, sizeof ours, name);
	CU_ASSERT_FATAL(unit_sh("dsymutil-16 -o '%s' '%s'", bundle, prog) == 0);

	struct macho_exe e;
	parse_ok(prog, &e);
	struct dump *t = dump_file(theirs);
	const struct dseg *w = dump_seg(t, "__DWARF");
	CU_ASSERT_FATAL(w != NULL && t->has_symtab && w->nsect_seen == w->nsects);
	struct macho_dwarf_sect dw[DUMP_MAX_SECTS];
	for (uint32_t i = 0; i < w->nsects; i++) {
		dw[i].name = w->sect[i].sectname;
		dw[i].offset = w->sect[i].offset;
		dw[i].size = w->sect[i].size;
	}
	struct macho_dsym_layout l = {
		.ident = &e.ident, .segtab = &e.segtab,
		.symoff = t->symoff, .nsyms = (uint32_t)t->nsyms,
		.stroff = t->stroff, .strsize = t->strsize,
		.dwarf_fileoff = w->fileoff, .dwarf_filesize = w->filesize,
		.ndwarf = (uint32_t)w->nsects, .dwarf = dw,
	};
	size_t hsize = macho_dsym_header_size(&l);
	CU_ASSERT_EQUAL(hsize, 32 + t->sizeofcmds);

	size_t len;
	uint8_t *file = load_file(theirs, &len);
	CU_ASSERT_FATAL(len >= hsize);
	uint8_t *hdr = malloc(hsize);
	CU_ASSERT_FATAL(hdr != NULL);
	macho_dsym_write_header(&l, hdr);
	bool same = memcmp(hdr, file, hsize) == 0;
	CU_ASSERT(same);
	/* Our header over dsymutil's body: the dumps must be identical; on a mismatch the
	 * diff in the log says which field. */
	memcpy(file, hdr, hsize);
	unit_write_file(ours, file, len);
	CU_ASSERT(unit_sh("cd '%s' && llvm-objdump-16 --macho --private-headers '%s' | tail -n +2 "
			  "> ours.txt && llvm-objdump-16 --macho --private-headers '%s' | "
			  "tail -n +2 > theirs.txt && diff -u theirs.txt ours.txt",
			  dir, ours, theirs) == 0);
	/* And the whole file, with our header, still makes sense to the tools. */
	CU_ASSERT(unit_sh("llvm-dwarfdump-16 --verify '%s' >/dev/null", ours) == 0);
	free(hdr);
	free(file);
	free(t);
	macho_exe_free(&e);
}

static void test_writer_vs_dsymutil_x86_64(void)
{
	check_against_dsymutil("x86_64");
}

static void test_writer_vs_dsymutil_arm64(void)
{
	check_against_dsymutil("arm64");
}

static void test_writer_no_build_version(void)
{
	struct macho_section sects[2] = {
		{.sectname = "__text", .segname = "__TEXT", .addr = 0x100000f00, .size = 0x20,
		 .align = 4, .flags = 0x80000400},
		{.sectname = "__data", .segname = "__DATA", .addr = 0x100001000, .size = 8,
		 .align = 3},
	};
	struct macho_segment segs[3] = {
		{.segname = "__TEXT", .vmaddr = 0x100000000, .vmsize = 0x1000, .maxprot = 5,
		 .initprot = 5, .nsects = 1, .sects = &sects[0]},
		{.segname = "__DATA", .vmaddr = 0x100001000, .vmsize = 0x1000, .maxprot = 3,
		 .initprot = 3, .nsects = 1, .sects = &sects[1]},
		/* Lower than __DATA's end: __DWARF must still go above the highest end. */
		{.segname = "__LINKEDIT", .vmaddr = 0x100000800, .vmsize = 0x10, .maxprot = 1,
		 .initprot = 1},
	};
	struct macho_segtab t = {.nsegs = 3, .segs = segs};
	struct macho_ident id = {.cputype = MACHO_CPU_ARM64,
				 .cpusubtype = MACHO_SUBTYPE_ARM64_ALL};
	CU_ASSERT(macho_uuid_parse("01234567-89AB-CDEF-0123-456789ABCDEF", id.uuid) == 0);
	static const struct macho_dwarf_sect dwarf[1] = {{"__debug_line", 0x2000, 0x10}};
	struct macho_dsym_layout l = {
		.ident = &id, .segtab = &t, .symoff = 0x1000, .nsyms = 0, .stroff = 0x1000,
		.strsize = 2, .dwarf_fileoff = 0x2000, .dwarf_filesize = 0x10, .ndwarf = 1,
		.dwarf = dwarf,
	};
	size_t hsize = macho_dsym_header_size(&l);
	uint8_t *file = calloc(1, 0x2010);
	CU_ASSERT_FATAL(file != NULL);
	uint8_t *hdr = malloc(hsize);
	CU_ASSERT_FATAL(hdr != NULL);
	macho_dsym_write_header(&l, hdr);
	memcpy(file, hdr, hsize);
	free(hdr);
	char out[512];
	tmp_path(out, sizeof out, "nobuild.dwarf");
	unit_write_file(out, file, 0x2010);
	free(file);

	struct dump *d = dump_file(out);
	CU_ASSERT_FALSE(d->has_build);
	CU_ASSERT_FATAL(d->ncmd_seen == 6);
	CU_ASSERT_STRING_EQUAL(d->cmd[0], "LC_UUID");
	CU_ASSERT_STRING_EQUAL(d->cmd[1], "LC_SYMTAB");
	CU_ASSERT_STRING_EQUAL(d->uuid, "01234567-89AB-CDEF-0123-456789ABCDEF");
	CU_ASSERT_EQUAL(d->cputype, MACHO_CPU_ARM64);
	const struct dseg *w = dump_seg(d, "__DWARF");
	CU_ASSERT_FATAL(w != NULL);
	CU_ASSERT_EQUAL(w->vmaddr, 0x100002000);
	CU_ASSERT_EQUAL(w->sect[0].addr, 0x100002000);
	const struct dseg *le = dump_seg(d, "__LINKEDIT");
	CU_ASSERT_FATAL(le != NULL);
	CU_ASSERT_EQUAL(le->vmaddr, 0x100000800);
	CU_ASSERT_EQUAL(le->fileoff, 0x1000);
	CU_ASSERT_EQUAL(le->filesize, 2);
	CU_ASSERT_EQUAL(le->vmsize, 0x1000);
	free(d);
}

/* ---- refusals ---------------------------------------------------------------------- */

/* Parses a private copy of exactly len bytes, so ASan sees any read past the end. */
static int parse_copy(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	uint8_t *copy = malloc(len ? len : 1);
	CU_ASSERT_FATAL(copy != NULL);
	if (len)
		memcpy(copy, data, len);
	struct macho_exe e;
	memset(&e, 0x5a, sizeof e);
	err[0] = 0;
	int rc = macho_parse_exe(copy, len, &e, err, errlen);
	free(copy);
	if (rc) {
		struct macho_exe zero;
		memset(&zero, 0, sizeof zero);
		CU_ASSERT(memcmp(&e, &zero, sizeof e) == 0);
		CU_ASSERT(err[0] != 0);
	} else {
		macho_exe_free(&e);
	}
	return rc;
}

static void expect_refusal(const uint8_t *data, size_t len, int want, const char *word)
{
	char err[512];
	int rc = parse_copy(data, len, err, sizeof err);
	if (rc != want || !strstr(err, word))
		fprintf(stderr, "macho: want %d with \"%s\", got %d: %s\n", want, word, rc, err);
	CU_ASSERT_EQUAL(rc, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, word));
}

/* The offset of the first load command with this cmd (and segname, for segments). */
static size_t find_cmd(const uint8_t *d, uint32_t cmd, const char *segname)
{
	uint32_t ncmds = enc_get_u32(d + 16);
	size_t off = 32;
	for (uint32_t i = 0; i < ncmds; i++) {
		if (enc_get_u32(d + off) == cmd &&
		    (!segname || strncmp((const char *)d + off + 8, segname, 16) == 0))
			return off;
		off += enc_get_u32(d + off + 4);
	}
	CU_FAIL_FATAL("load command not found in the fixture");
	return 0;
}

static uint8_t *load_prog(const char *arch, size_t *len)
{
	char prog[512];
	build_prog(arch, prog, sizeof prog);
	return load_file(prog, len);
}

static void check_prefixes(const char *arch, size_t limit)
{
	size_t len;
	uint8_t *data = load_prog(arch, &len);
	char err[512];
	CU_ASSERT_FATAL(parse_copy(data, len, err, sizeof err) == 0);
	if (limit > len)
		limit = len;
	size_t bad = 0, first_bad = 0;
	int first_rc = 0;
	for (size_t n = 0; n < limit; n++) {
		int rc = parse_copy(data, n, err, sizeof err);
		if (rc != -EINVAL && bad++ == 0) {
			first_bad = n;
			first_rc = rc;
		}
	}
	if (bad)
		fprintf(stderr, "macho: %s prefix of %zu bytes gave %d (%zu bad prefixes)\n",
			arch, first_bad, first_rc, bad);
	CU_ASSERT_EQUAL(bad, 0);
	free(data);
}

static void test_truncated_first_4k(void)
{
	check_prefixes("x86_64", 4096);
	check_prefixes("arm64", 4096);
}

/* The linker puts the string table (or the code signature) last, so every proper
 * prefix of the whole file is truncated too. */
static void test_truncated_every_prefix(void)
{
	check_prefixes("x86_64", SIZE_MAX);
	check_prefixes("arm64", SIZE_MAX);
}

static void test_fat(void)
{
	char x86[512], arm[512], fat[512];
	build_prog("x86_64", x86, sizeof x86);
	build_prog("arm64", arm, sizeof arm);
	tmp_path(fat, sizeof fat, "prog_fat");
	CU_ASSERT_FATAL(unit_sh("llvm-lipo-16 -create '%s' '%s' -output '%s'", x86, arm, fat) == 0);
	struct macho_exe e;
	char err[512] = "";
	CU_ASSERT_EQUAL(macho_read_exe(fat, &e, err, sizeof err), -ENOTSUP);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "2 slices"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "x86_64"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "arm64"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lipo -thin"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, fat));
	CU_ASSERT(e.nsyms == 0 && e.segtab.segs == NULL);

	size_t len;
	uint8_t *data = load_file(fat, &len);
	expect_refusal(data, len, -ENOTSUP, "2 slices");
	/* Cut inside the slice table: not a usable fat header at all. */
	expect_refusal(data, 8 + 20 + 5, -EINVAL, "fat");
	expect_refusal(data, 6, -EINVAL, "fat");
	free(data);

	/* A Java class file shares the magic; its version is not a slice count. */
	static const uint8_t java[16] = {0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x34};
	expect_refusal(java, sizeof java, -EINVAL, "fat");

	/* FAT_MAGIC_64 with one slice of an unknown CPU. */
	uint8_t fat64[8 + 32] = {0xca, 0xfe, 0xba, 0xbf, 0, 0, 0, 1, 0x01, 0x00, 0xab, 0xcd};
	expect_refusal(fat64, sizeof fat64, -ENOTSUP, "1 slice (cpu 0x100abcd)");
}

static void test_bad_magic_and_cpu(void)
{
	size_t len;
	uint8_t *data = load_prog("x86_64", &len);
	uint8_t *m = malloc(len);
	CU_ASSERT_FATAL(m != NULL);

	memcpy(m, data, len);
	enc_u32(m + 4, 0x01000012u);   /* ppc64 */
	expect_refusal(m, len, -ENOTSUP, "CPU type 0x1000012 (ppc64)");
	enc_u32(m + 4, 0x0100abcdu);
	expect_refusal(m, len, -ENOTSUP, "CPU");

	memcpy(m, data, len);
	enc_u32(m, 0xfeedfaceu);
	expect_refusal(m, len, -ENOTSUP, "32-bit");
	static const uint8_t be64[4] = {0xfe, 0xed, 0xfa, 0xcf};
	memcpy(m, be64, 4);
	expect_refusal(m, len, -ENOTSUP, "big-endian");
	static const uint8_t be32[4] = {0xfe, 0xed, 0xfa, 0xce};
	memcpy(m, be32, 4);
	expect_refusal(m, len, -ENOTSUP, "big-endian");

	static const char text[] = "#!/bin/sh\necho hello\n";
	expect_refusal((const uint8_t *)text, sizeof text - 1, -EINVAL, "not a Mach-O");
	expect_refusal(data, 3, -EINVAL, "too short");
	expect_refusal(data, 20, -EINVAL, "header");
	free(m);
	free(data);
}

static void test_bad_load_commands(void)
{
	size_t len;
	uint8_t *data = load_prog("x86_64", &len);
	uint8_t *m = malloc(len);
	CU_ASSERT_FATAL(m != NULL);
	uint32_t sizeofcmds = enc_get_u32(data + 20);

	memcpy(m, data, len);
	enc_u32(m + 32 + 4, 0);
	expect_refusal(m, len, -EINVAL, "cmdsize 0");

	memcpy(m, data, len);
	enc_u32(m + 32 + 4, 4);
	expect_refusal(m, len, -EINVAL, "at least 8");

	memcpy(m, data, len);
	enc_u32(m + 32 + 4, sizeofcmds + 8);
	expect_refusal(m, len, -EINVAL, "runs past the end of the load commands");

	/* The last command overflowing by one byte. */
	memcpy(m, data, len);
	size_t off = 32;
	uint32_t ncmds = enc_get_u32(data + 16);
	for (uint32_t i = 0; i + 1 < ncmds; i++)
		off += enc_get_u32(data + off + 4);
	enc_u32(m + off + 4, (uint32_t)(32 + sizeofcmds - off + 1));
	expect_refusal(m, len, -EINVAL, "load command");

	memcpy(m, data, len);
	enc_u32(m + 16, 0xffffffffu);
	expect_refusal(m, len, -EINVAL, "load commands");

	memcpy(m, data, len);
	enc_u32(m + 16, ncmds + 1);   /* one more than there is room for */
	expect_refusal(m, len, -EINVAL, "past the end of the load commands");

	memcpy(m, data, len);
	enc_u32(m + 20, (uint32_t)len);
	expect_refusal(m, len, -EINVAL, "past the end of the file");

	memcpy(m, data, len);
	off = find_cmd(data, LC_SEGMENT_64, "__TEXT");
	uint32_t room = (enc_get_u32(data + off + 4) - 72) / 80;
	CU_ASSERT_FATAL(room > 0);
	enc_u32(m + off + 64, room + 1);
	char want[64];
	snprintf(want, sizeof want, "claims %u sections", room + 1);
	expect_refusal(m, len, -EINVAL, want);
	enc_u32(m + off + 64, 0x7fffffffu);
	expect_refusal(m, len, -EINVAL, "cmdsize");

	memcpy(m, data, len);
	enc_u32(m + off + 4, 40);   /* shorter than a segment header */
	expect_refusal(m, len, -EINVAL, "segment header");

	memcpy(m, data, len);
	off = find_cmd(data, LC_SEGMENT_64, "__LINKEDIT");
	enc_u64(m + off + 48, enc_get_u64(data + off + 48) + 1);
	expect_refusal(m, len, -EINVAL, "truncated");

	memcpy(m, data, len);
	off = find_cmd(data, LC_UUID, NULL);
	enc_u32(m + off, 0x7ffffff0u);   /* an unknown command: ignored, so no UUID */
	expect_refusal(m, len, -EINVAL, "LC_UUID");
	memcpy(m, data, len);
	enc_u32(m + off + 4, 16);
	expect_refusal(m, len, -EINVAL, "LC_UUID");

	memcpy(m, data, len);
	off = find_cmd(data, LC_BUILD_VERSION, NULL);
	enc_u32(m + off, LC_UUID);   /* 32 bytes: a well-formed second LC_UUID */
	expect_refusal(m, len, -EINVAL, "two LC_UUID");

	memcpy(m, data, len);
	enc_u32(m + off + 20, 2);   /* cmdsize 32 holds one tool */
	expect_refusal(m, len, -EINVAL, "tools");

	free(m);
	free(data);
}

static void test_bad_symtab(void)
{
	size_t len;
	uint8_t *data = load_prog("x86_64", &len);
	uint8_t *m = malloc(len);
	CU_ASSERT_FATAL(m != NULL);
	size_t st = find_cmd(data, LC_SYMTAB, NULL);
	uint32_t symoff = enc_get_u32(data + st + 8);
	uint32_t nsyms = enc_get_u32(data + st + 12);
	uint32_t stroff = enc_get_u32(data + st + 16);
	uint32_t strsize = enc_get_u32(data + st + 20);
	/* A defined N_SECT symbol the parser keeps, for the n_sect check. */
	uint32_t kept = nsyms;
	for (uint32_t i = 0; i < nsyms && kept == nsyms; i++)
		if ((data[symoff + i * 16 + 4] & 0xee) == MACHO_N_SECT)
			kept = i;
	CU_ASSERT_FATAL(kept < nsyms);

	memcpy(m, data, len);
	enc_u32(m + st + 8, (uint32_t)len);
	expect_refusal(m, len, -EINVAL, "symbol table");
	enc_u32(m + st + 8, 0xfffffff0u);
	expect_refusal(m, len, -EINVAL, "symbol table");

	memcpy(m, data, len);
	enc_u32(m + st + 12, nsyms + 1000);
	expect_refusal(m, len, -EINVAL, "symbol table");

	memcpy(m, data, len);
	enc_u32(m + st + 20, (uint32_t)(len - stroff + 1));
	expect_refusal(m, len, -EINVAL, "string table");

	memcpy(m, data, len);
	enc_u32(m + st + 8, 64);
	expect_refusal(m, len, -EINVAL, "overlaps the Mach-O header");
	memcpy(m, data, len);
	enc_u32(m + st + 16, symoff + 16);
	enc_u32(m + st + 20, 32);
	expect_refusal(m, len, -EINVAL, "overlap");

	memcpy(m, data, len);
	enc_u32(m + symoff, strsize + 5);
	expect_refusal(m, len, -EINVAL, "string index");
	enc_u32(m + symoff, strsize);
	expect_refusal(m, len, -EINVAL, "string index");

	memcpy(m, data, len);
	enc_u32(m + symoff, strsize - 1);
	m[stroff + strsize - 1] = 'x';
	expect_refusal(m, len, -EINVAL, "NUL-terminated");

	memcpy(m, data, len);
	m[symoff + kept * 16 + 5] = 200;
	expect_refusal(m, len, -EINVAL, "section 200");
	m[symoff + kept * 16 + 5] = 0;
	expect_refusal(m, len, -EINVAL, "section 0");

	/* Without LC_SYMTAB the executable is still usable: it just has no symbols. */
	memcpy(m, data, len);
	enc_u32(m + st, 0x7ffffff1u);
	struct macho_exe e;
	char err[256];
	CU_ASSERT_FATAL(macho_parse_exe(m, len, &e, err, sizeof err) == 0);
	CU_ASSERT_EQUAL(e.nsyms, 0);
	CU_ASSERT(e.syms == NULL);
	CU_ASSERT(e.segtab.nsegs > 0);
	macho_exe_free(&e);

	free(m);
	free(data);
}

/* Hand-built files for the limits a linker never produces. */
static size_t synth(uint8_t *b, uint32_t nsegs, uint32_t sects_per_seg)
{
	size_t off = 32;
	for (uint32_t i = 0; i < nsegs; i++) {
		uint32_t size = 72 + 80 * sects_per_seg;
		enc_u32(b + off, LC_SEGMENT_64);
		enc_u32(b + off + 4, size);
		snprintf((char *)b + off + 8, 16, "__S%u", i);
		enc_u32(b + off + 64, sects_per_seg);
		for (uint32_t j = 0; j < sects_per_seg; j++) {
			uint8_t *s = b + off + 72 + 80 * j;
			snprintf((char *)s, 16, "__s%u", j);
			snprintf((char *)s + 16, 16, "__S%u", i);
		}
		off += size;
	}
	enc_u32(b + off, LC_UUID);
	enc_u32(b + off + 4, 24);
	memset(b + off + 8, 0x42, 16);
	off += 24;
	enc_u32(b, 0xfeedfacfu);
	enc_u32(b + 4, MACHO_CPU_ARM64);
	enc_u32(b + 12, 2);
	enc_u32(b + 16, nsegs + 1);
	enc_u32(b + 20, (uint32_t)(off - 32));
	return off;
}

static void test_limits(void)
{
	size_t cap = 32 + 70 * 72 + 24 + 4 * (72 + 80 * 64) + 1024;
	uint8_t *b = calloc(1, cap);
	CU_ASSERT_FATAL(b != NULL);

	size_t len = synth(b, MACHO_MAX_SEGS, 0);
	struct macho_exe e;
	char err[512];
	CU_ASSERT_FATAL(macho_parse_exe(b, len, &e, err, sizeof err) == 0);
	CU_ASSERT_EQUAL(e.segtab.nsegs, MACHO_MAX_SEGS);
	CU_ASSERT(!e.ident.has_build);
	CU_ASSERT_STRING_EQUAL(e.segtab.segs[63].segname, "__S63");
	macho_exe_free(&e);

	memset(b, 0, cap);
	len = synth(b, MACHO_MAX_SEGS + 1, 0);
	expect_refusal(b, len, -EINVAL, "more than 64 segments");

	memset(b, 0, cap);
	len = synth(b, 3, 85);   /* 255 sections: the most n_sect can name */
	CU_ASSERT_FATAL(macho_parse_exe(b, len, &e, err, sizeof err) == 0);
	CU_ASSERT_EQUAL(macho_segtab_nsects(&e.segtab), 255);
	uint32_t ord;
	CU_ASSERT(macho_segtab_find(&e.segtab, "__S2", "__s84", &ord) != NULL);
	CU_ASSERT_EQUAL(ord, 255);
	macho_exe_free(&e);

	memset(b, 0, cap);
	len = synth(b, 4, 64);
	expect_refusal(b, len, -EINVAL, "255");

	/* A 16-byte name with no NUL is a full name, not an overrun. */
	memset(b, 0, cap);
	len = synth(b, 1, 1);
	memcpy(b + 32 + 8, "__ABCDEFGHIJKLMN", 16);
	memcpy(b + 32 + 72, "__abcdefghijklmn", 16);
	CU_ASSERT_FATAL(macho_parse_exe(b, len, &e, err, sizeof err) == 0);
	CU_ASSERT_STRING_EQUAL(e.segtab.segs[0].segname, "__ABCDEFGHIJKLMN");
	CU_ASSERT_STRING_EQUAL(e.segtab.segs[0].sects[0].sectname, "__abcdefghijklmn");
	macho_exe_free(&e);
	free(b);
}

static void test_read_errors(void)
{
	struct macho_exe e;
	char err[512] = "";
	char path[512];
	tmp_path(path, sizeof path, "does-not-exist");
	CU_ASSERT_EQUAL(macho_read_exe(path, &e, err, sizeof err), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_EQUAL(macho_read_exe(unit_tmpdir(), &e, err, sizeof err), -EISDIR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "directory"));
	tmp_path(path, sizeof path, "empty");
	unit_write_file(path, "", 0);
	CU_ASSERT_EQUAL(macho_read_exe(path, &e, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too short"));
	CU_ASSERT(e.segtab.segs == NULL && e.syms == NULL);
	/* A NULL or empty message buffer is allowed. */
	CU_ASSERT_EQUAL(macho_read_exe(path, &e, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(macho_parse_exe((const uint8_t *)"", 0, &e, err, 0), -EINVAL);
}

static const struct unit_test macho_tests[] = {
	{"parse_x86_64", test_parse_x86_64},
	{"parse_arm64", test_parse_arm64},
	{"parse_subtype_caps", test_parse_subtype_caps},
	{"parse_in_memory_matches_file", test_parse_in_memory_matches_file},
	{"segtab", test_segtab},
	{"arch", test_arch},
	{"uuid", test_uuid},
	{"put_nlist", test_put_nlist},
	{"writer_own_layout", test_writer_own_layout},
	{"writer_vs_dsymutil_x86_64", test_writer_vs_dsymutil_x86_64},
	{"writer_vs_dsymutil_arm64", test_writer_vs_dsymutil_arm64},
	{"writer_no_build_version", test_writer_no_build_version},
	{"truncated_first_4k", test_truncated_first_4k},
	{"truncated_every_prefix", test_truncated_every_prefix},
	{"fat", test_fat},
	{"bad_magic_and_cpu", test_bad_magic_and_cpu},
	{"bad_load_commands", test_bad_load_commands},
	{"bad_symtab", test_bad_symtab},
	{"limits", test_limits},
	{"read_errors", test_read_errors},
	{NULL, NULL},
};

UNIT_SUITE(macho, macho_tests)
