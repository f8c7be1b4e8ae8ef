/* Suite render: the core's acceptance test. A real multi-file C program
 * (tests/unit/progs/) is built for x86_64 and arm64 with clang-16 and ld64.lld-16,
 * dsymutil-16 makes its reference dSYM, tests/tools/dwarf2ctl.py turns that DWARF into
 * control commands, and ctl_run_script feeds them to a registry whose image comes from
 * the executable. The generation's bytes (gen_read) must then pass llvm-dwarfdump-16
 * --verify, show the executable's identity and segments in llvm-objdump-16, and make
 * lldb-16 give exactly the answers it gives with dsymutil's dSYM, for every function,
 * every line-table address and every source line with code. Expected values come from
 * the LLVM tools and from dsymutil's output, never from the core. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "gen.h"
#include "image.h"
#include "unit.h"

/* The test program's sources and the feeder, found from this file's own path (the
 * unit binary runs from the repository root, as tests/run does). */
#define HERE_DIR   "tests/unit"
#define PROGS_DIR  HERE_DIR "/progs"
#define DWARF2CTL  "tests/tools/dwarf2ctl.py"

static const char *const PROG_UNITS[] = {"main", "numbers", "text"};
#define NUNITS (sizeof PROG_UNITS / sizeof PROG_UNITS[0])

/* ---- small helpers ------------------------------------------------------------------ */

/* A tool's output, or a loud failure naming the command. */
static char *tool_out(const char *what, const char *cmd)
{
	char *out = unit_sh_out("%s", cmd);
	if (!out)
		fprintf(stderr, "render: %s failed: %s\n", what, cmd);
	CU_ASSERT_FATAL(out != NULL);
	return out;
}

/* A growable array of strings (owned). */
struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, const char *str)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **bigger = realloc(s->v, cap * sizeof *bigger);
		CU_ASSERT_FATAL(bigger != NULL);
		s->v = bigger;
		s->cap = cap;
	}
	s->v[s->n] = strdup(str);
	CU_ASSERT_FATAL(s->v[s->n] != NULL);
	s->n++;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops duplicates. */
static void strv_uniq(struct strv *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof *s->v, cmp_str);
	size_t w = 1;
	for (size_t i = 1; i < s->n; i++) {
		if (strcmp(s->v[i], s->v[w - 1]))
			s->v[w++] = s->v[i];
		else
			free(s->v[i]);
	}
	s->n = w;
}

struct u64v {
	uint64_t *v;
	size_t n, cap;
};

static void u64v_push(struct u64v *s, uint64_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint64_t *bigger = realloc(s->v, cap * sizeof *bigger);
		CU_ASSERT_FATAL(bigger != NULL);
		s->v = bigger;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void u64v_uniq(struct u64v *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof *s->v, cmp_u64);
	size_t w = 1;
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i] != s->v[w - 1])
			s->v[w++] = s->v[i];
	s->n = w;
}

/* Splits text into lines in place (the array points into text; caller frees it). */
static char **split_lines(char *text, size_t *n)
{
	size_t cap = 64, k = 0;
	char **lines = malloc(cap * sizeof *lines);
	CU_ASSERT_FATAL(lines != NULL);
	char *p = text;
	while (*p) {
		char *nl = strchr(p, '\n');
		if (k == cap) {
			cap *= 2;
			char **bigger = realloc(lines, cap * sizeof *bigger);
			CU_ASSERT_FATAL(bigger != NULL);
			lines = bigger;
		}
		lines[k++] = p;
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	*n = k;
	return lines;
}

/* Copies src into dst[n], cutting it if needed (the fields compared are short). */
static void copy_str(char *dst, size_t n, const char *src)
{
	size_t len = strnlen(src, n - 1);
	memcpy(dst, src, len);
	dst[len] = 0;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Replaces every occurrence of `from` in text by `to`; returns a new string. */
static char *replace_all(const char *text, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), count = 0;
	for (const char *p = strstr(text, from); p; p = strstr(p + fl, from))
		count++;
	char *out = malloc(strlen(text) + count * (tl > fl ? tl - fl : 0) + 1);
	CU_ASSERT_FATAL(out != NULL);
	char *w = out;
	const char *p = text, *q;
	while ((q = strstr(p, from))) {
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		memcpy(w, to, tl);
		w += tl;
		p = q + fl;
	}
	strcpy(w, p);
	return out;
}

/* ---- the fixture: executable, dsymutil's dSYM, and the rendered dSYM ------------------ */

struct fixture {
	bool ready;
	const char *arch;
	char dir[PATH_MAX];
	char exe[PATH_MAX];
	char ref_dwarf[PATH_MAX];    /* dsymutil-16's */
	char out_dwarf[PATH_MAX];    /* the generation's bytes */
	char out_plist[PATH_MAX];
	char *script;                /* dwarf2ctl.py's output plus "commit" */
	uint64_t generation, size;
};

static struct fixture fixtures[2] = {{.arch = "x86_64"}, {.arch = "arm64"}};

static void mkdirs(const char *path)
{
	CU_ASSERT_FATAL(unit_sh("mkdir -p '%s'", path) == 0);
}

/* Copies every byte of generation g, read in 64 KiB pieces, to path. */
static void write_gen(struct gen *g, const char *path)
{
	uint64_t size = gen_size(g);
	uint8_t *buf = malloc(size ? size : 1);
	CU_ASSERT_FATAL(buf != NULL);
	uint64_t off = 0;
	while (off < size) {
		ssize_t n = gen_read(g, off, buf + off, 65536);
		CU_ASSERT_FATAL(n > 0);
		off += (uint64_t)n;
	}
	CU_ASSERT_FATAL(gen_read(g, off, buf, 1) == 0);
	unit_write_file(path, buf, size);
	free(buf);
}

static void build(struct fixture *fx)
{
	char progs[PATH_MAX], tool[PATH_MAX];
	if (!realpath(PROGS_DIR, progs) || !realpath(DWARF2CTL, tool)) {
		fprintf(stderr, "render: %s or %s not found: run from the repository root\n",
			PROGS_DIR, DWARF2CTL);
		CU_FAIL_FATAL("test program sources not found");
	}
	unit_fmt(fx->dir, sizeof fx->dir, "%s/render/%s", unit_tmpdir(), fx->arch);
	mkdirs(fx->dir);
	unit_fmt(fx->exe, sizeof fx->exe, "%s/prog", fx->dir);
	char srcs[NUNITS][PATH_MAX], cflags[PATH_MAX + 32];
	const char *src_ptrs[NUNITS];
	for (size_t i = 0; i < NUNITS; i++) {
		unit_fmt(srcs[i], sizeof srcs[i], "%s/%s.c", progs, PROG_UNITS[i]);
		src_ptrs[i] = srcs[i];
	}
	unit_fmt(cflags, sizeof cflags, "-g -gdwarf-4 -I'%s'", progs);
	unit_build_macho(fx->dir, fx->arch, cflags, "prog", src_ptrs, NUNITS);
	int rc = unit_sh("cd '%s' && rm -rf prog.dSYM && dsymutil-16 prog -o prog.dSYM", fx->dir);
	if (rc) {
		fprintf(stderr, "render: dsymutil-16 failed for %s (exit %d): is llvm-16 "
			"installed?\n", fx->arch, rc);
		CU_FAIL_FATAL("dsymutil-16 failed");
	}
	unit_fmt(fx->ref_dwarf, sizeof fx->ref_dwarf, "%s/prog.dSYM/Contents/Resources/DWARF/prog",
		 fx->dir);

	char cmd[3 * PATH_MAX];
	unit_fmt(cmd, sizeof cmd, "python3 '%s' '%s'", tool, fx->ref_dwarf);
	char *fns = tool_out("dwarf2ctl.py", cmd);
	size_t flen = strlen(fns);
	fx->script = malloc(flen + sizeof "commit\n");
	CU_ASSERT_FATAL(fx->script != NULL);
	memcpy(fx->script, fns, flen);
	memcpy(fx->script + flen, "commit\n", sizeof "commit\n");
	free(fns);
	char path[PATH_MAX];
	unit_fmt(path, sizeof path, "%s/script.ctl", fx->dir);
	unit_write_file(path, fx->script, strlen(fx->script));

	struct ctl_limits lim;
	ctl_limits_default(&lim);
	struct ctl_registry *r = NULL;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	struct image_origin o = {.exe_path = fx->exe};
	char err[512] = "";
	rc = ctl_registry_add(r, "prog", &o, err, sizeof err);
	if (rc)
		fprintf(stderr, "render: ctl_registry_add(%s): %d %s\n", fx->exe, rc, err);
	CU_ASSERT_FATAL(rc == 0);
	rc = ctl_run_script(r, fx->script, strlen(fx->script), err, sizeof err);
	if (rc)
		fprintf(stderr, "render: ctl_run_script: %d %s\n", rc, err);
	CU_ASSERT_FATAL(rc == 0);
	struct image *im = ctl_registry_find(r, "prog");
	CU_ASSERT_FATAL(im != NULL);
	struct gen *g = image_current(im);
	fx->generation = gen_number(g);
	fx->size = gen_size(g);

	char bundle[PATH_MAX];
	unit_fmt(bundle, sizeof bundle, "%s/out/prog.dSYM/Contents", fx->dir);
	unit_fmt(path, sizeof path, "%s/Resources/DWARF", bundle);
	mkdirs(path);
	unit_fmt(fx->out_dwarf, sizeof fx->out_dwarf, "%s/prog", path);
	unit_fmt(fx->out_plist, sizeof fx->out_plist, "%s/Info.plist", bundle);
	write_gen(g, fx->out_dwarf);
	size_t plen;
	const char *plist = gen_plist(g, &plen);
	unit_write_file(fx->out_plist, plist, plen);
	gen_unref(g);
	ctl_registry_free(r);
	fx->ready = true;
}

static struct fixture *fixture(const char *arch)
{
	struct fixture *fx = !strcmp(arch, "x86_64") ? &fixtures[0] : &fixtures[1];
	if (!fx->ready)
		build(fx);
	return fx;
}

__attribute__((destructor)) static void free_fixtures(void)
{
	for (size_t i = 0; i < 2; i++)
		free(fixtures[i].script);
}

/* ---- (1) llvm-dwarfdump --verify ------------------------------------------------------ */

static void check_verify(const char *arch)
{
	struct fixture *fx = fixture(arch);
	/* One commit of a script with functions: generation 2. */
	CU_ASSERT_EQUAL(fx->generation, 2);
	char cmd[PATH_MAX + 64];
	unit_fmt(cmd, sizeof cmd, "llvm-dwarfdump-16 --verify '%s' 2>&1", fx->out_dwarf);
	char *out = unit_sh_out("%s", cmd);
	if (!out || !strstr(out, "No errors.") || strstr(out, "warning:"))
		fprintf(stderr, "render: %s: %s\n", cmd, out ? out : "(exit status not 0)");
	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "No errors."));
	CU_ASSERT_PTR_NULL(strstr(out, "warning:"));
	free(out);
}

static void test_verify_x86_64(void) { check_verify("x86_64"); }
static void test_verify_arm64(void) { check_verify("arm64"); }

/* ---- (2) llvm-objdump --macho --private-headers ---------------------------------------- */

struct seg {
	char name[20];
	uint64_t vmaddr, vmsize, fileoff, filesize;
};

struct headers {
	char cputype[32], cpusubtype[32], filetype[32];
	char uuid[40];
	size_t nsegs;
	struct seg segs[16];
	uint64_t text_addr, text_size;   /* __TEXT,__text */
};

/* Parses the verbose private headers: the header line, LC_UUID, and each LC_SEGMENT_64's
 * own fields (a section's segname/addr lines are told apart by the "Section" line that
 * opens them). */
static void read_headers(const char *path, struct headers *h)
{
	memset(h, 0, sizeof *h);
	char cmd[PATH_MAX + 64];
	unit_fmt(cmd, sizeof cmd, "llvm-objdump-16 --macho --private-headers '%s'", path);
	char *text = tool_out("llvm-objdump-16", cmd);
	size_t n;
	char **lines = split_lines(text, &n);
	enum { NONE, SEG, SECT, UUID } where = NONE;
	char sectname[32] = "", sectseg[32] = "";
	for (size_t i = 0; i < n; i++) {
		const char *l = skip_ws(lines[i]);
		char k[64], v[128];
		if (!strncmp(l, "MH_MAGIC_64", 11)) {
			CU_ASSERT_FATAL(sscanf(l, "MH_MAGIC_64 %31s %31s %*s %31s", h->cputype,
					       h->cpusubtype, h->filetype) == 3);
			continue;
		}
		if (!strncmp(l, "Load command", 12)) {
			where = NONE;
			continue;
		}
		if (!strcmp(l, "Section")) {
			where = SECT;
			sectname[0] = sectseg[0] = 0;
			continue;
		}
		if (sscanf(l, "%63s %127s", k, v) != 2)
			continue;
		if (!strcmp(k, "cmd")) {
			if (!strcmp(v, "LC_SEGMENT_64")) {
				CU_ASSERT_FATAL(h->nsegs < 16);
				h->nsegs++;
				where = SEG;
			} else if (!strcmp(v, "LC_UUID")) {
				where = UUID;
			}
			continue;
		}
		if (where == UUID && !strcmp(k, "uuid")) {
			copy_str(h->uuid, sizeof h->uuid, v);
		} else if (where == SEG) {
			struct seg *s = &h->segs[h->nsegs - 1];
			if (!strcmp(k, "segname"))
				copy_str(s->name, sizeof s->name, v);
			else if (!strcmp(k, "vmaddr"))
				s->vmaddr = strtoull(v, NULL, 0);
			else if (!strcmp(k, "vmsize"))
				s->vmsize = strtoull(v, NULL, 0);
			else if (!strcmp(k, "fileoff"))
				s->fileoff = strtoull(v, NULL, 0);
			else if (!strcmp(k, "filesize"))
				s->filesize = strtoull(v, NULL, 0);
		} else if (where == SECT) {
			if (!strcmp(k, "sectname"))
				copy_str(sectname, sizeof sectname, v);
			else if (!strcmp(k, "segname"))
				copy_str(sectseg, sizeof sectseg, v);
			else if (!strcmp(sectname, "__text") && !strcmp(sectseg, "__TEXT") &&
				 !strcmp(k, "addr"))
				h->text_addr = strtoull(v, NULL, 0);
			else if (!strcmp(sectname, "__text") && !strcmp(sectseg, "__TEXT") &&
				 !strcmp(k, "size"))
				h->text_size = strtoull(v, NULL, 0);
		}
	}
	free(lines);
	free(text);
}

static const struct seg *find_seg(const struct headers *h, const char *name)
{
	for (size_t i = 0; i < h->nsegs; i++)
		if (!strcmp(h->segs[i].name, name))
			return &h->segs[i];
	return NULL;
}

static void check_headers(const char *arch)
{
	struct fixture *fx = fixture(arch);
	struct headers *exe = calloc(3, sizeof *exe);
	CU_ASSERT_FATAL(exe != NULL);
	struct headers *out = exe + 1, *ref = exe + 2;
	read_headers(fx->exe, exe);
	read_headers(fx->out_dwarf, out);
	read_headers(fx->ref_dwarf, ref);

	CU_ASSERT_STRING_EQUAL(exe->filetype, "EXECUTE");
	CU_ASSERT_STRING_EQUAL(out->filetype, "DSYM");
	CU_ASSERT_STRING_EQUAL(out->cputype, exe->cputype);
	CU_ASSERT_STRING_EQUAL(out->cpusubtype, exe->cpusubtype);
	CU_ASSERT_STRING_EQUAL(out->cputype, !strcmp(arch, "arm64") ? "ARM64" : "X86_64");
	CU_ASSERT_EQUAL(strlen(exe->uuid), 36);
	CU_ASSERT_STRING_EQUAL(out->uuid, exe->uuid);

	/* The executable's segments in its order, then __DWARF last. */
	CU_ASSERT_FATAL(exe->nsegs >= 3);
	if (out->nsegs != exe->nsegs + 1)
		fprintf(stderr, "render: %s: %zu segments in the dSYM, %zu in the executable\n",
			arch, out->nsegs, exe->nsegs);
	CU_ASSERT_FATAL(out->nsegs == exe->nsegs + 1);
	for (size_t i = 0; i < exe->nsegs; i++) {
		const struct seg *e = &exe->segs[i], *o = &out->segs[i];
		CU_ASSERT_STRING_EQUAL(o->name, e->name);
		CU_ASSERT_EQUAL(o->vmaddr, e->vmaddr);
		if (strcmp(e->name, "__LINKEDIT")) {
			CU_ASSERT_EQUAL(o->vmsize, e->vmsize);
			CU_ASSERT_EQUAL(o->fileoff, 0);
			CU_ASSERT_EQUAL(o->filesize, 0);
		} else {
			/* __LINKEDIT holds the dSYM's own symbol and string tables, so its
			 * extent is the dSYM's (dsymutil rounds vmsize up to a page). */
			CU_ASSERT(o->filesize > 0);
			CU_ASSERT(o->fileoff + o->filesize <= fx->size);
			CU_ASSERT_EQUAL(o->vmsize, (o->filesize + 0xfff) & ~(uint64_t)0xfff);
		}
	}
	const struct seg *dw = &out->segs[exe->nsegs];
	CU_ASSERT_STRING_EQUAL(dw->name, "__DWARF");
	CU_ASSERT(dw->fileoff > 0 && dw->fileoff % 0x1000 == 0);
	CU_ASSERT_EQUAL(dw->fileoff + dw->filesize, fx->size);
	/* dsymutil places __DWARF at the first page after __LINKEDIT; so must we, for the
	 * same __LINKEDIT. */
	const struct seg *le = find_seg(out, "__LINKEDIT");
	CU_ASSERT_FATAL(le != NULL);
	CU_ASSERT_EQUAL(dw->vmaddr, le->vmaddr + le->vmsize);
	const struct seg *rdw = find_seg(ref, "__DWARF");
	const struct seg *rle = find_seg(ref, "__LINKEDIT");
	CU_ASSERT_FATAL(rdw != NULL && rle != NULL);
	CU_ASSERT_EQUAL(rdw->vmaddr, rle->vmaddr + rle->vmsize);
	CU_ASSERT_STRING_EQUAL(ref->uuid, exe->uuid);
	free(exe);
}

static void test_headers_x86_64(void) { check_headers("x86_64"); }
static void test_headers_arm64(void) { check_headers("arm64"); }

/* ---- (3) lldb answers: the rendered dSYM against dsymutil's ----------------------------- */

/* The functions of __TEXT,__text, as llvm-nm-16 lists the executable's symbols (names
 * without the Mach-O leading underscore, each once: same-name statics share one). */
static void nm_functions(const struct fixture *fx, const struct headers *exe, struct strv *names,
			 struct u64v *starts)
{
	char cmd[PATH_MAX + 64];
	unit_fmt(cmd, sizeof cmd, "llvm-nm-16 -p -m --defined-only '%s'", fx->exe);
	char *text = tool_out("llvm-nm-16", cmd);
	size_t n;
	char **lines = split_lines(text, &n);
	for (size_t i = 0; i < n; i++) {
		unsigned long long value;
		char where[80];
		if (sscanf(lines[i], "%llx (%79[^)])", &value, where) != 2 ||
		    strcmp(where, "__TEXT,__text"))
			continue;
		/* __mh_execute_header is in section 1 but is the Mach-O header, not code. */
		if (value < exe->text_addr || value >= exe->text_addr + exe->text_size)
			continue;
		const char *name = strrchr(lines[i], ' ') + 1;
		CU_ASSERT_FATAL(name[0] == '_');
		strv_push(names, name + 1);
		u64v_push(starts, value);
	}
	free(lines);
	free(text);
	strv_uniq(names);
	u64v_uniq(starts);
}

/* Every function's [low_pc, low_pc + size) from the fn lines dwarf2ctl.py wrote from
 * dsymutil's DWARF. */
static void script_ranges(const struct fixture *fx, struct u64v *lows, struct u64v *sizes,
			  struct strv *names)
{
	char *copy = strdup(fx->script);
	CU_ASSERT_FATAL(copy != NULL);
	size_t n;
	char **lines = split_lines(copy, &n);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(lines[i], "fn ", 3))
			continue;
		const char *nm = strstr(lines[i], " name=");
		const char *lo = strstr(lines[i], " low_pc=");
		const char *sz = strstr(lines[i], " size=");
		CU_ASSERT_FATAL(nm && lo && sz);
		char name[128];
		CU_ASSERT_FATAL(sscanf(nm, " name=%127s", name) == 1);
		strv_push(names, name);
		u64v_push(lows, strtoull(lo + 8, NULL, 0));
		u64v_push(sizes, strtoull(sz + 6, NULL, 0));
	}
	free(lines);
	free(copy);
}

/* From llvm-dwarfdump-16 --debug-line of dsymutil's dSYM: the address of every row (not
 * the end_sequence ones), and "BASENAME LINE" for every row with a source line. */
static void line_rows(const struct fixture *fx, struct u64v *addrs, struct strv *file_lines)
{
	char cmd[PATH_MAX + 64];
	unit_fmt(cmd, sizeof cmd, "llvm-dwarfdump-16 --debug-line '%s'", fx->ref_dwarf);
	char *text = tool_out("llvm-dwarfdump-16 --debug-line", cmd);
	size_t n;
	char **lines = split_lines(text, &n);
	char files[64][128];
	unsigned nfiles = 0, pending = 0;
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i];
		unsigned idx;
		char name[256];
		unsigned long long addr;
		unsigned line, col, file;
		if (!strncmp(l, "debug_line[", 11)) {
			nfiles = 0;
			memset(files, 0, sizeof files);
		} else if (sscanf(l, "file_names[ %u]:", &idx) == 1) {
			CU_ASSERT_FATAL(idx < 64);
			pending = idx;
			if (idx >= nfiles)
				nfiles = idx + 1;
		} else if (sscanf(skip_ws(l), "name: \"%255[^\"]\"", name) == 1) {
			const char *base = strrchr(name, '/');
			copy_str(files[pending], sizeof files[pending], base ? base + 1 : name);
		} else if (sscanf(l, "0x%llx %u %u %u", &addr, &line, &col, &file) == 4) {
			if (strstr(l, "end_sequence"))
				continue;
			u64v_push(addrs, addr);
			if (line == 0)
				continue;
			CU_ASSERT_FATAL(file < nfiles && files[file][0]);
			char fl[300];
			snprintf(fl, sizeof fl, "%s %u", files[file], line);
			strv_push(file_lines, fl);
		}
	}
	free(lines);
	free(text);
	u64v_uniq(addrs);
	strv_uniq(file_lines);
}

/* Runs lldb-16 once with every command in cmds against the executable and dwarf;
 * returns its output with dwarf's path replaced by a placeholder. */
static char *run_lldb(const struct fixture *fx, const char *cmds, const char *dwarf)
{
	char cmd[4 * PATH_MAX];
	unit_fmt(cmd, sizeof cmd,
		 "lldb-16 -b -o 'target create %s' -o 'target symbols add %s' -s '%s' 2>&1; "
		 "echo \"lldb exit status $?\"",
		 fx->exe, dwarf, cmds);
	char *raw = tool_out("lldb-16", cmd);
	if (!strstr(raw, "(lldb) target symbols add")) {
		fprintf(stderr, "render: lldb-16 did not run: %s\n", raw);
		CU_FAIL_FATAL("lldb-16 is missing or did not start");
	}
	char *out = replace_all(raw, dwarf, "<DSYM>");
	free(raw);
	return out;
}

/* One command's answer: its "(lldb) ..." line and everything up to the next one. */
struct answer {
	char *text;   /* owned, normalized */
};

/* Cuts lldb's output into answers. When `image lookup -n` finds several functions of
 * one name (same-name statics, the header's static inline in two units), lldb lists the
 * matches in the order it met them, which depends on the DWARF's unit order: those
 * match blocks are compared as a sorted set, not as a sequence. */
static struct answer *split_answers(char *out, size_t *nout)
{
	size_t n;
	char **lines = split_lines(out, &n);
	struct answer *a = calloc(n + 1, sizeof *a);
	CU_ASSERT_FATAL(a != NULL);
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && strncmp(lines[j], "(lldb) ", 7))
			j++;
		struct strv blocks = {0};
		bool multi = j > i + 1 && strstr(lines[i + 1], " matches found in ");
		size_t len = 0;
		for (size_t m = i; m < j; m++)
			len += strlen(lines[m]) + 1;
		char *joined = malloc(len + 1);
		CU_ASSERT_FATAL(joined != NULL);
		joined[0] = 0;
		for (size_t m = multi ? i + 2 : i; m < j; m++) {
			strcat(joined, lines[m]);
			strcat(joined, "\n");
		}
		if (multi) {
			/* lldb-16 also runs one match's Summary into the next one's Address on
			 * the same line: cut at each "Address: " instead of at line ends. */
			char *p = strstr(joined, "Address: ");
			while (p) {
				char *next = strstr(p + 9, "Address: ");
				char save = next ? *next : 0;
				if (next)
					*next = 0;
				char *b = strdup(p);
				CU_ASSERT_FATAL(b != NULL);
				size_t bl = strlen(b);
				while (bl && (b[bl - 1] == ' ' || b[bl - 1] == '\n'))
					b[--bl] = 0;
				strv_push(&blocks, b);
				free(b);
				if (next)
					*next = save;
				p = next;
			}
			qsort(blocks.v, blocks.n, sizeof *blocks.v, cmp_str);
			char *sorted = malloc(len + 2 * blocks.n + 1);
			CU_ASSERT_FATAL(sorted != NULL);
			snprintf(sorted, len + 1, "%s\n%s\n", lines[i], lines[i + 1]);
			for (size_t b = 0; b < blocks.n; b++) {
				strcat(sorted, blocks.v[b]);
				strcat(sorted, "\n");
			}
			strv_free(&blocks);
			free(joined);
			joined = sorted;
		}
		a[k++].text = joined;
		i = j;
	}
	free(lines);
	*nout = k;
	return a;
}

static void free_answers(struct answer *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(a[i].text);
	free(a);
}

static void check_lldb(const char *arch)
{
	struct fixture *fx = fixture(arch);
	struct headers *exe = calloc(1, sizeof *exe);
	CU_ASSERT_FATAL(exe != NULL);
	read_headers(fx->exe, exe);
	CU_ASSERT_FATAL(exe->text_size > 0);

	struct strv names = {0}, fn_names = {0}, file_lines = {0};
	struct u64v starts = {0}, lows = {0}, sizes = {0}, addrs = {0};
	nm_functions(fx, exe, &names, &starts);
	script_ranges(fx, &lows, &sizes, &fn_names);
	line_rows(fx, &addrs, &file_lines);
	/* The program's 22 functions (two pairs share a name: the static `step` of main.c
	 * and text.c, and shapes.h's static inline clamp_int compiled into both), each
	 * described by the dSYM: nm and the DWARF agree on names and start addresses. */
	CU_ASSERT_EQUAL(starts.n, 22);
	CU_ASSERT_EQUAL(names.n, 20);
	CU_ASSERT_EQUAL(lows.n, starts.n);
	strv_uniq(&fn_names);
	CU_ASSERT_EQUAL(fn_names.n, names.n);
	for (size_t i = 0; i < names.n && i < fn_names.n; i++)
		CU_ASSERT_STRING_EQUAL(fn_names.v[i], names.v[i]);

	/* Addresses: every row start, four inside each function, and the first byte of
	 * the alignment padding after it (dsymutil's line table runs one sequence per unit
	 * through the padding; the core ends each function's sequence at its end). */
	for (size_t i = 0; i < lows.n; i++) {
		CU_ASSERT_FATAL(sizes.v[i] >= 4);
		u64v_push(&addrs, lows.v[i] + sizes.v[i] / 4);
		u64v_push(&addrs, lows.v[i] + sizes.v[i] / 2);
		u64v_push(&addrs, lows.v[i] + 3 * sizes.v[i] / 4);
		u64v_push(&addrs, lows.v[i] + sizes.v[i] - 1);
		uint64_t end = lows.v[i] + sizes.v[i], next = UINT64_MAX;
		for (size_t j = 0; j < lows.n; j++)
			if (lows.v[j] >= end && lows.v[j] < next)
				next = lows.v[j];
		if (end < next && next != UINT64_MAX)
			u64v_push(&addrs, end);
	}
	u64v_uniq(&addrs);

	char cmds[PATH_MAX];
	unit_fmt(cmds, sizeof cmds, "%s/lldb.cmds", fx->dir);
	FILE *f = fopen(cmds, "w");
	CU_ASSERT_FATAL(f != NULL);
	size_t ncmds = 0;
	for (size_t i = 0; i < names.n; i++, ncmds++)
		fprintf(f, "image lookup -n %s\n", names.v[i]);
	for (size_t i = 0; i < addrs.n; i++, ncmds++)
		fprintf(f, "image lookup -a 0x%llx\n", (unsigned long long)addrs.v[i]);
	for (size_t i = 0; i < file_lines.n; i++, ncmds++) {
		char file[256];
		unsigned line;
		CU_ASSERT_FATAL(sscanf(file_lines.v[i], "%255s %u", file, &line) == 2);
		fprintf(f, "breakpoint set -f %s -l %u\n", file, line);
	}
	/* Every location of every breakpoint, with its resolved address and line. */
	fprintf(f, "breakpoint list\n");
	ncmds++;
	CU_ASSERT_FATAL(fclose(f) == 0);

	char *ref = run_lldb(fx, cmds, fx->ref_dwarf);
	char *out = run_lldb(fx, cmds, fx->out_dwarf);
	/* Non-trivial answers: no command failed, functions resolved with lines (and
	 * columns), the same-name pairs found twice, every breakpoint with a location. */
	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "lldb exit status 0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "2 matches found"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "at shapes.h:14:"));
	CU_ASSERT_PTR_NULL(strstr(ref, "no locations"));
	CU_ASSERT_PTR_NULL(strstr(ref, "error:"));
	/* Both cut in place below. */
	size_t nref, nout;
	struct answer *ar = split_answers(ref, &nref);
	struct answer *ao = split_answers(out, &nout);
	/* "command source", "target create", "target symbols add", each command, then the
	 * exit status line; lldb stops at the first command that fails, so a complete
	 * transcript also proves no command failed. */
	CU_ASSERT_EQUAL(nref, ncmds + 3);
	size_t same = 0, shown = 0;
	size_t both = nref < nout ? nref : nout;
	for (size_t i = 3; i < both; i++) {
		if (!strcmp(ar[i].text, ao[i].text)) {
			if (i < ncmds + 3)
				same++;
		} else if (shown++ < 5) {
			fprintf(stderr, "render: %s: lldb answers differ:\n--- dsymutil:\n%s"
				"--- dsymfs:\n%s", arch, ar[i].text, ao[i].text);
		}
	}
	/* The answers of the setup commands mention the path only. */
	for (size_t i = 0; i < 3 && i < both; i++)
		CU_ASSERT_STRING_EQUAL(ar[i].text, ao[i].text);
	printf("\n    %s: %zu/%zu lldb answers match (%zu lookups by name, %zu by address, "
	       "%zu breakpoints + list)\n", arch, same, ncmds, names.n, addrs.n, file_lines.n);
	CU_ASSERT_EQUAL(nout, nref);
	CU_ASSERT_EQUAL(same, ncmds);

	free_answers(ar, nref);
	free_answers(ao, nout);
	free(ref);
	free(out);
	strv_free(&names);
	strv_free(&fn_names);
	strv_free(&file_lines);
	free(starts.v);
	free(lows.v);
	free(sizes.v);
	free(addrs.v);
	free(exe);
}

static void test_lldb_x86_64(void) { check_lldb("x86_64"); }
static void test_lldb_arm64(void) { check_lldb("arm64"); }

/* ---- (4) Info.plist --------------------------------------------------------------------- */

/* Python's plistlib parses both files; the rendered one must hold exactly the keys and
 * values dsymutil-16 writes for an executable of the same name. */
static const char PLIST_CHECK[] =
	"import plistlib, sys\n"
	"got = plistlib.load(open(sys.argv[1], 'rb'))\n"
	"want = plistlib.load(open(sys.argv[2], 'rb'))\n"
	"assert len(want) == 7, want\n"
	"assert want['CFBundleIdentifier'] == 'com.apple.xcode.dsym.' + sys.argv[3], want\n"
	"if got != want:\n"
	"    sys.exit('got %r\\nwant %r' % (got, want))\n";

static void render_plist_for(const char *name, const char *path)
{
	struct image_origin o = {.has_uuid = true, .has_arch = true,
				 .cputype = 0x01000007u, .cpusubtype = 3};
	struct image_limits lim = {.keep_generations = 2};
	struct image *im = NULL;
	char err[256];
	CU_ASSERT_FATAL(image_new(name, &o, &lim, &im, err, sizeof err) == 0);
	struct gen *g = image_current(im);
	size_t len;
	const char *p = gen_plist(g, &len);
	CU_ASSERT_FATAL(p != NULL && len > 0);
	CU_ASSERT_EQUAL(strlen(p), len);
	unit_write_file(path, p, len);
	gen_unref(g);
	image_free(im);
}

static void test_plist(void)
{
	struct fixture *fx = fixture("x86_64");
	char dir[PATH_MAX], check[PATH_MAX], ref[PATH_MAX];
	unit_fmt(dir, sizeof dir, "%s/render/plist", unit_tmpdir());
	mkdirs(dir);
	unit_fmt(check, sizeof check, "%s/check.py", dir);
	unit_write_file(check, PLIST_CHECK, sizeof PLIST_CHECK - 1);
	unit_fmt(ref, sizeof ref, "%s/prog.dSYM/Contents/Info.plist", fx->dir);
	CU_ASSERT_EQUAL(unit_sh("python3 '%s' '%s' '%s' prog", check, fx->out_plist, ref), 0);

	/* A name with XML's special characters: dsymutil-16 run on a copy of the executable
	 * of that name gives the expected plist, and the rendered one must parse to it. */
	static const char odd[] = "a&b<c>'d";
	char *q = replace_all(odd, "'", "'\\''");
	CU_ASSERT_EQUAL(unit_sh("cd '%s' && cp '%s' '%s' && rm -rf '%s.dSYM' && "
				"dsymutil-16 '%s' -o '%s.dSYM'", dir, fx->exe, q, q, q, q), 0);
	char got[PATH_MAX];
	unit_fmt(got, sizeof got, "%s/odd.plist", dir);
	render_plist_for(odd, got);
	CU_ASSERT_EQUAL(unit_sh("cd '%s' && python3 '%s' '%s' '%s.dSYM/Contents/Info.plist' '%s'",
				dir, check, got, q, q), 0);
	free(q);
}

static const struct unit_test render_tests[] = {
	{"verify_x86_64", test_verify_x86_64},
	{"verify_arm64", test_verify_arm64},
	{"headers_x86_64", test_headers_x86_64},
	{"headers_arm64", test_headers_arm64},
	{"lldb_x86_64", test_lldb_x86_64},
	{"lldb_arm64", test_lldb_arm64},
	{"plist", test_plist},
	{NULL, NULL},
};

UNIT_SUITE(render, render_tests)
