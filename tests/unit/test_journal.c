/* Suite journal: a durable registry comes back from its state_dir with every image's
 * bytes (gen_read), generation number and tables equal to its last acknowledged
 * generation, through snapshots and across executables that changed on disk; a torn
 * tail is dropped and cut off; damage elsewhere (a bad record before good ones, a
 * missing journal file or snapshot, an executable whose bytes changed) refuses to start
 * and changes no file, and journal_recover then keeps exactly the generation before the
 * damage; rejected batches leave no trace; a directory serves one daemon at a time; a
 * failed compaction is reported and retried later. Also the max_memory limit and the
 * status lines. Expected states are the ones the same registry showed before it was
 * freed, so any drift between a live image and its replay fails. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "gen.h"
#include "image.h"
#include "dwarf.h"
#include "journal.h"
#include "ptree.h"
#include "records.h"
#include "state.h"
#include "unit.h"

#define HUGE_COMPACT (1ull << 40)

/* A fresh directory under the run's scratch directory. */
static void fresh_dir(char *out, size_t outlen, const char *name)
{
	unit_fmt(out, outlen, "%s/journal-%s", unit_tmpdir(), name);
	CU_ASSERT_FATAL(unit_sh("rm -rf '%s'", out) == 0);
}

static struct ctl_registry *open_registry(const char *dir, uint64_t compact, int *rc_out,
					  char *err, size_t errlen)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	struct ctl_registry *r;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	int rc = journal_attach(r, dir, compact, err, errlen);
	if (rc_out) {
		*rc_out = rc;
		if (rc) {
			ctl_registry_free(r);
			return NULL;
		}
	} else if (rc) {
		fprintf(stderr, "journal_attach %s: %d %s\n", dir, rc, err);
		CU_FAIL_FATAL("journal_attach failed");
	}
	return r;
}

static struct ctl_registry *open_ok(const char *dir, uint64_t compact)
{
	char err[1024];
	return open_registry(dir, compact, NULL, err, sizeof err);
}

static void run_ok(struct ctl_registry *r, const char *script)
{
	char err[1024] = "";
	int rc = ctl_run_script(r, script, strlen(script), err, sizeof err);
	if (rc)
		fprintf(stderr, "journal: script failed: %d %s\n%s\n", rc, err, script);
	CU_ASSERT_FATAL(rc == 0);
}

/* Everything a reader or a restarting compiler sees of every image. */
struct image_view {
	char name[64];
	uint64_t generation, size;
	uint8_t *bytes;
	char *text[3];
};

struct view {
	size_t n;
	struct image_view im[4];
};

static void take_view(struct ctl_registry *r, struct view *v)
{
	memset(v, 0, sizeof *v);
	v->n = ctl_registry_count(r);
	CU_ASSERT_FATAL(v->n <= 4);
	static const enum gen_text kinds[] = {GEN_TEXT_FILES, GEN_TEXT_TYPES, GEN_TEXT_DECLS};
	for (size_t i = 0; i < v->n; i++) {
		struct image_view *iv = &v->im[i];
		struct gen *g = image_current(ctl_registry_at(r, i));
		snprintf(iv->name, sizeof iv->name, "%s", gen_image_name(g));
		iv->generation = gen_number(g);
		iv->size = gen_size(g);
		iv->bytes = malloc(iv->size);
		CU_ASSERT_FATAL(iv->bytes != NULL);
		CU_ASSERT_FATAL(gen_read(g, 0, iv->bytes, iv->size) == (ssize_t)iv->size);
		for (size_t k = 0; k < 3; k++) {
			const char *t;
			size_t len;
			CU_ASSERT_FATAL(gen_text(g, kinds[k], &t, &len) == 0);
			iv->text[k] = strndup(t, len);
		}
		gen_unref(g);
	}
}

static void free_view(struct view *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->im[i].bytes);
		for (size_t k = 0; k < 3; k++)
			free(v->im[i].text[k]);
	}
}

static void check_same_view(const struct view *want, const struct view *got, const char *when)
{
	char what[256];
	unit_fmt(what, sizeof what, "%s: image count", when);
	CU_assertImplementation(want->n == got->n, __LINE__, what, __FILE__, "", CU_FALSE);
	for (size_t i = 0; i < want->n && i < got->n; i++) {
		const struct image_view *a = &want->im[i], *b = &got->im[i];
		unit_fmt(what, sizeof what, "%s: image %s: name, generation %llu vs %llu, size", when,
		    a->name, (unsigned long long)a->generation, (unsigned long long)b->generation);
		bool same = !strcmp(a->name, b->name) && a->generation == b->generation &&
			    a->size == b->size;
		CU_assertImplementation(same, __LINE__, what, __FILE__, "", CU_FALSE);
		unit_fmt(what, sizeof what, "%s: image %s: bytes", when, a->name);
		CU_assertImplementation(same && !memcmp(a->bytes, b->bytes, a->size), __LINE__,
					what, __FILE__, "", CU_FALSE);
		for (size_t k = 0; k < 3; k++) {
			unit_fmt(what, sizeof what, "%s: image %s: text view %zu", when, a->name, k);
			CU_assertImplementation(!strcmp(a->text[k], b->text[k]), __LINE__, what,
						__FILE__, "", CU_FALSE);
		}
	}
}

/* Frees r, restores a registry from dir, and checks it shows what r showed. */
static struct ctl_registry *restart(struct ctl_registry *r, const char *dir, uint64_t compact,
				    const char *when)
{
	struct view before, after;
	take_view(r, &before);
	ctl_registry_free(r);
	r = open_ok(dir, compact);
	take_view(r, &after);
	check_same_view(&before, &after, when);
	free_view(&before);
	free_view(&after);
	return r;
}

/* Builds src into dir/prog with clang-16 and ld64.lld-16 (a Mach-O x86_64 executable
 * whose __text starts at 0x100000000 + a page or so). */
static void build_exe(const char *dir, const char *src)
{
	char path[4096];
	unit_fmt(path, sizeof path, "%s/prog.c", dir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(src, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
	const char *srcs[] = {"prog.c"};
	unit_build_macho(dir, "x86_64", "-O1", "prog", srcs, 1);
}

static const char EXE_V1[] =
	"int twice(int x) { return x + x; }\n"
	"static int hidden(int x) { return x - 1; }\n"
	"int keep(int x) { return hidden(x) * 5; }\n"
	"void _start(void) { for (;;) keep(twice(3)); }\n";
static const char EXE_V2[] =
	"int twice(int x) { return x * 2 + 1 - 1; }\n"
	"int thrice(int x) { return x * 3; }\n"
	"int keep(int x) { return x * 7; }\n"
	"void _start(void) { for (;;) keep(twice(thrice(3))); }\n";

/* Batches that exercise every command kind; %1$s is the scratch directory. */
static const char *const STEPS[] = {
	"section __TEXT __text addr=0x100000000 size=0x100000\n"
	"file 1 path=/src/a.c\nfile 2 path=\"/src/b c.c\" dir=/src\n"
	"type 1 kind=base name=int size=4 enc=signed\n"
	"type 2 kind=pointer to=1\ntype 3 kind=typedef name=intp to=2\n"
	"fn 1 name=alpha low_pc=0x100000000 size=0x20 file=1 line=10 ret=1 params=x:1,y:3 "
	"rows=0:10,8:11:3,0x10:12:1:pe\n"
	"fn 2 name=beta low_pc=0x100000100 size=0x20 file=2 line=5 rows=0:5,4:6:0::1\n"
	"fn 3 name=\"operator new\" low_pc=0x100000200 size=0x10 file=1 line=40 cu=2\n",
	"sym _mine value=0x100000000 sect=1 ext\nsym abs value=0x42\n",
	"move-range from=0x100000000 to=0x100000150 by=0x400\nline 3 delta=7\n",
	"line-range file=1 from=1 to=100 by=3\ndel 2\n",
	"segment __DATA vmaddr=0x140001000 vmsize=0x1000 maxprot=rw- initprot=3\n"
	"section __DATA __data addr=0x140001000 size=0x10 align=3\n",
	"unsym abs\ntype 1 kind=base name=int size=4 enc=unsigned\ndelfile 2\n"
	"fn 3 name=\"operator new\" low_pc=0x100000200 size=0x10 file=1 line=40\n",
};

static void run_steps(const char *dir, uint64_t compact)
{
	struct ctl_registry *r = open_ok(dir, compact);
	struct image_origin o = {.has_uuid = true, .uuid = {1, 2, 3, 4, 5, 6, 7, 8, 9}};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	r = restart(r, dir, compact, "after create");
	for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0]; i++) {
		run_ok(r, STEPS[i]);
		char when[64];
		unit_fmt(when, sizeof when, "after step %zu", i + 1);
		r = restart(r, dir, compact, when);
	}
	/* A second image with a random UUID keeps it across restarts. */
	struct image_origin rnd = {0};
	CU_ASSERT_FATAL(ctl_registry_add(r, "Random name", &rnd, err, sizeof err) == 0);
	run_ok(r, "image \"Random name\"\nfile 9 path=x.c\n");
	r = restart(r, dir, compact, "second image");
	ctl_registry_free(r);
}

static void test_restore_replays_every_command_kind(void)
{
	char dir[4096];
	fresh_dir(dir, sizeof dir, "kinds");
	run_steps(dir, HUGE_COMPACT);
}

static void test_restore_from_snapshots(void)
{
	char dir[4096];
	fresh_dir(dir, sizeof dir, "snap");
	run_steps(dir, 1);   /* a snapshot after every commit */
	struct stat st;
	char path[4200];
	unit_fmt(path, sizeof path, "%s/snapshot", dir);
	CU_ASSERT(stat(path, &st) == 0);
}

/* The executable's bytes are journaled: the file changing or vanishing after the
 * commit changes nothing, through snapshots too; symbols the compiler replaced or
 * dropped stay replaced or dropped. */
static void test_executables_are_kept_by_content(void)
{
	char dir[4096], state[4200], exe[4200];
	fresh_dir(dir, sizeof dir, "exe");
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	unit_fmt(state, sizeof state, "%s/state", dir);
	unit_fmt(exe, sizeof exe, "%s/prog", dir);
	build_exe(dir, EXE_V1);
	for (int pass = 0; pass < 2; pass++) {
		uint64_t compact = pass ? 1 : HUGE_COMPACT;
		CU_ASSERT_FATAL(unit_sh("rm -rf '%s'", state) == 0);
		build_exe(dir, EXE_V1);
		struct ctl_registry *r = open_ok(state, compact);
		struct image_origin o = {.exe_path = exe};
		char err[512];
		CU_ASSERT_FATAL(ctl_registry_add(r, "prog", &o, err, sizeof err) == 0);
		run_ok(r, "file 1 path=/src/prog.c\nsym _twice value=0x100000000 sect=1 ext\n"
			  "unsym _keep\n");
		build_exe(dir, EXE_V2);   /* the configured path now holds another program */
		r = restart(r, state, compact, "exe changed on disk after create");
		char script[4400];
		unit_fmt(script, sizeof script, "exe %s\nunsym _thrice\n", exe);
		run_ok(r, script);
		CU_ASSERT_FATAL(unlink(exe) == 0);
		r = restart(r, state, compact, "exe re-read, then deleted");
		build_exe(dir, EXE_V1);
		unit_fmt(script, sizeof script, "exe %s\n", exe);
		run_ok(r, script);
		r = restart(r, state, compact, "back to the first exe");
		ctl_registry_free(r);
	}
}

static uint64_t file_size(const char *path)
{
	struct stat st;
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	return (uint64_t)st.st_size;
}

/* The only journal file of a directory that never compacted. */
static void journal_path(const char *dir, char *out, size_t outlen)
{
	unit_fmt(out, outlen, "%s/journal.0000000000000001", dir);
}

/* An append cut short anywhere is dropped (and cut off) as if it never happened. */
static void test_torn_tail_is_dropped(void)
{
	char dir[4096], copy[4200], jp[4300], jc[4300];
	fresh_dir(dir, sizeof dir, "torn");
	struct ctl_registry *r = open_ok(dir, HUGE_COMPACT);
	struct image_origin o = {.has_uuid = true};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	run_ok(r, STEPS[0]);
	journal_path(dir, jp, sizeof jp);
	uint64_t whole = file_size(jp);
	struct view want, got;
	take_view(r, &want);
	run_ok(r, "fn 9 name=last low_pc=0x100000800 size=8 file=1 line=99 rows=0:99\n");
	uint64_t longer = file_size(jp);
	ctl_registry_free(r);
	CU_ASSERT_FATAL(longer > whole + 32);
	unit_fmt(copy, sizeof copy, "%s-copy", dir);
	journal_path(copy, jc, sizeof jc);
	uint64_t cuts[] = {whole + 1, whole + 31, whole + 32, whole + 33, (whole + longer) / 2,
			   longer - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		CU_ASSERT_FATAL(unit_sh("rm -rf '%s' && cp -a '%s' '%s' && truncate -s %llu '%s'",
					copy, dir, copy, (unsigned long long)cuts[i], jc) == 0);
		r = open_ok(copy, HUGE_COMPACT);
		take_view(r, &got);
		char when[64];
		unit_fmt(when, sizeof when, "cut at %llu", (unsigned long long)cuts[i]);
		check_same_view(&want, &got, when);
		free_view(&got);
		CU_ASSERT_EQUAL(file_size(jc), whole);
		char *status;
		size_t len;
		CU_ASSERT_FATAL(ctl_status_text(r, &status, &len) == 0);
		CU_ASSERT(strstr(status, "dropped a torn record") != NULL);
		free(status);
		/* Appends after the cut restore too. */
		run_ok(r, "fn 10 name=after low_pc=0x100000900 size=8 file=1 line=9\n");
		r = restart(r, copy, HUGE_COMPACT, "append after a torn tail");
		ctl_registry_free(r);
	}
	free_view(&want);
}

static void flip_byte(const char *path, uint64_t off)
{
	FILE *f = fopen(path, "r+b");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fseek(f, (long)off, SEEK_SET) == 0);
	int c = fgetc(f);
	CU_ASSERT_FATAL(c != EOF);
	CU_ASSERT_FATAL(fseek(f, (long)off, SEEK_SET) == 0);
	fputc(c ^ 0x20, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

/* Damage before the last record loses acknowledged batches: refuse, and say where. */
static void test_damage_refuses_to_start(void)
{
	char dir[4096], copy[4200], jc[4300], sc[4300];
	fresh_dir(dir, sizeof dir, "damage");
	struct ctl_registry *r = open_ok(dir, HUGE_COMPACT);
	struct image_origin o = {.has_uuid = true};
	char err[1024];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	run_ok(r, STEPS[0]);
	run_ok(r, STEPS[1]);
	ctl_registry_free(r);
	unit_fmt(copy, sizeof copy, "%s-copy", dir);
	journal_path(copy, jc, sizeof jc);
	uint64_t offs[] = {0, 5, 40};   /* the CREATE record: magic, kind, payload */
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		CU_ASSERT_FATAL(unit_sh("rm -rf '%s' && cp -a '%s' '%s'", copy, dir, copy) == 0);
		flip_byte(jc, offs[i]);
		int rc;
		err[0] = 0;
		r = open_registry(copy, HUGE_COMPACT, &rc, err, sizeof err);
		CU_ASSERT(r == NULL);
		ctl_registry_free(r);
		CU_ASSERT_EQUAL(rc, -EINVAL);
		CU_ASSERT(strstr(err, "is damaged at offset 0") != NULL);
	}
	/* A damaged snapshot likewise. */
	CU_ASSERT_FATAL(unit_sh("rm -rf '%s'", copy) == 0);
	r = open_ok(copy, 1);
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	for (size_t i = 0; i < 3; i++)
		run_ok(r, STEPS[i]);
	ctl_registry_free(r);
	unit_fmt(sc, sizeof sc, "%s/snapshot", copy);
	flip_byte(sc, file_size(sc) - 3);
	int rc;
	r = open_registry(copy, 1, &rc, err, sizeof err);
	CU_ASSERT(r == NULL);
	ctl_registry_free(r);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT(strstr(err, "snapshot is damaged") != NULL);
}

static char *status_of(struct ctl_registry *r)
{
	char *status;
	size_t len;
	CU_ASSERT_FATAL(ctl_status_text(r, &status, &len) == 0);
	return status;
}

/* Waits (up to 20 s) until no snapshot is being written; returns the status then. */
static char *settled_status(struct ctl_registry *r)
{
	for (int i = 0; i < 2000; i++) {
		char *s = status_of(r);
		if (!strstr(s, "state=compacting"))
			return s;
		free(s);
		usleep(10000);
	}
	CU_FAIL_FATAL("the compactor never finished");
	return NULL;
}

static size_t count_files(const char *dir, const char *prefix)
{
	char *out = unit_sh_out("ls '%s' | grep -c '^%s' || true", dir, prefix);
	CU_ASSERT_FATAL(out != NULL);
	size_t n = strtoul(out, NULL, 10);
	free(out);
	return n;
}

/* A compaction that cannot write its snapshot says why in status, commits go on, and
 * it is retried once the journal has grown again rather than at every commit (each try
 * starts a journal file). */
static void test_failed_compaction_is_reported(void)
{
	char dir[4096], tmp[4200];
	fresh_dir(dir, sizeof dir, "compact-fail");
	struct ctl_registry *r = open_ok(dir, 4096);
	struct image_origin o = {.has_uuid = true};
	char err[1024];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	run_ok(r, STEPS[0]);
	unit_fmt(tmp, sizeof tmp, "%s/snapshot.tmp", dir);
	CU_ASSERT_FATAL(mkdir(tmp, 0700) == 0);   /* the snapshot cannot be created */
	for (int i = 0; i < 200; i++) {
		char cmd[200];
		unit_fmt(cmd, sizeof cmd, "fn %d name=f%d low_pc=0x%llx size=8 file=1 line=%d\n",
			 100 + i, i, 0x100010000ull + (unsigned)i * 16, i + 1);
		run_ok(r, cmd);
		free(settled_status(r));
	}
	char *s = settled_status(r);
	CU_ASSERT(strstr(s, "compactions=0 ") != NULL);
	CU_ASSERT(strstr(s, "compaction_failures=0 ") == NULL);
	CU_ASSERT(strstr(s, "journal: last compaction failed: cannot create ") != NULL);
	CU_ASSERT(strstr(s, "journal: journal:") == NULL);
	free(s);
	/* About 16 KiB of journal at 4 KiB per try: a handful of files, not one a commit. */
	size_t files = count_files(dir, "journal[.]");
	CU_ASSERT(files >= 2 && files <= 8);
	CU_ASSERT_FATAL(rmdir(tmp) == 0);
	for (int i = 0; i < 100; i++) {
		char cmd[200];
		unit_fmt(cmd, sizeof cmd, "line %d delta=1\n", 100 + i);
		run_ok(r, cmd);
		free(settled_status(r));
	}
	s = settled_status(r);
	CU_ASSERT(strstr(s, "compactions=0 ") == NULL);
	CU_ASSERT(strstr(s, "last compaction failed") == NULL);
	free(s);
	r = restart(r, dir, 4096, "after a failed compaction");
	ctl_registry_free(r);
}

/* The offsets of the records of a journal file, read by the header layout journal.h
 * documents (a 32-byte header whose bytes 8..15 are the payload's length). */
static size_t record_offsets(const char *path, uint64_t *offs, size_t max)
{
	size_t len, n = 0;
	char *data = unit_read_file(path, &len);
	CU_ASSERT_FATAL(data != NULL);
	for (uint64_t off = 0; off + 32 <= len && n < max;) {
		offs[n++] = off;
		uint64_t plen = 0;
		for (int i = 7; i >= 0; i--)
			plen = plen << 8 | (uint8_t)data[off + 8 + (uint64_t)i];
		off += 32 + plen;
	}
	free(data);
	return n;
}

/* Copies dir to copy, and copy to copy-before (to compare against after a refusal). */
static void fresh_copy(const char *dir, const char *copy)
{
	CU_ASSERT_FATAL(unit_sh("rm -rf '%s' '%s-before' && cp -a '%s' '%s'", copy, copy, dir,
				copy) == 0);
}

/* Starting on copy must fail with -EINVAL, say `want` (and `also`, if given), and
 * change no file. */
static void expect_refusal(const char *copy, const char *want, const char *also)
{
	CU_ASSERT_FATAL(unit_sh("rm -rf '%s-before' && cp -a '%s' '%s-before'", copy, copy,
				copy) == 0);
	char err[2048] = "";
	int rc;
	struct ctl_registry *r = open_registry(copy, HUGE_COMPACT, &rc, err, sizeof err);
	CU_ASSERT(r == NULL);
	ctl_registry_free(r);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	bool said = strstr(err, want) && (!also || strstr(err, also)) &&
		    strstr(err, "dsymfs recover");
	if (!said)
		fprintf(stderr, "journal: wanted \"%s\" / \"%s\", got: %s\n", want,
			also ? also : "", err);
	CU_ASSERT(said);
	CU_ASSERT(unit_sh("diff -r '%s' '%s-before' >&2", copy, copy) == 0);
}

/* Runs journal_recover on copy; its report must mention each of the NULL-ended
 * strings. */
static void recover_ok(const char *copy, ...)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	char *report = NULL, err[1024] = "";
	int rc = journal_recover(copy, &lim, &report, err, sizeof err);
	if (rc)
		fprintf(stderr, "journal_recover %s: %d %s\n%s", copy, rc, err,
			report ? report : "");
	CU_ASSERT_FATAL(rc == 0 && report != NULL);
	va_list ap;
	va_start(ap, copy);
	for (const char *want; (want = va_arg(ap, const char *));) {
		if (!strstr(report, want))
			fprintf(stderr, "journal: the report lacks \"%s\":\n%s", want, report);
		CU_ASSERT(strstr(report, want) != NULL);
	}
	va_end(ap);
	free(report);
}

static void expect_view(const char *dir, const struct view *want, const char *when)
{
	struct ctl_registry *r = open_ok(dir, HUGE_COMPACT);
	struct view got;
	take_view(r, &got);
	check_same_view(want, &got, when);
	free_view(&got);
	ctl_registry_free(r);
}

/* A registry with image Foo made and five batches: six records in journal.1; views[k]
 * is what it showed after record k. */
static void six_records(const char *dir, struct view views[7])
{
	struct ctl_registry *r = open_ok(dir, HUGE_COMPACT);
	struct image_origin o = {.has_uuid = true, .uuid = {7, 7, 7}};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	take_view(r, &views[1]);
	for (size_t i = 0; i < 5; i++) {
		run_ok(r, STEPS[i]);
		take_view(r, &views[i + 2]);
	}
	ctl_registry_free(r);
}

/* A bad record that good ones follow is damage, not a tear: refuse, change nothing,
 * and let recovery keep the records before it, moving the file aside whole. A bad last
 * record is a tear: dropped and cut off. */
static void test_bad_record_before_good_ones(void)
{
	char dir[4096], copy[4200], jp[4300], jc[4300], want[4600], also[200];
	fresh_dir(dir, sizeof dir, "six");
	struct view views[7];
	six_records(dir, views);
	journal_path(dir, jp, sizeof jp);
	uint64_t offs[8];
	CU_ASSERT_FATAL(record_offsets(jp, offs, 8) == 6);
	unit_fmt(copy, sizeof copy, "%s-copy", dir);
	journal_path(copy, jc, sizeof jc);

	/* Nothing to recover: nothing changes. */
	fresh_copy(dir, copy);
	CU_ASSERT_FATAL(unit_sh("cp -a '%s' '%s-before'", copy, copy) == 0);
	recover_ok(copy, "no damage found", NULL);
	CU_ASSERT(unit_sh("diff -r '%s' '%s-before' >&2", copy, copy) == 0);

	uint64_t flips[] = {offs[2] + 8, offs[2] + 40, offs[2] + 24};  /* length, text, CRC */
	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		fresh_copy(dir, copy);
		flip_byte(jc, flips[i]);
		unit_fmt(want, sizeof want, "%s is damaged at offset %llu", jc,
			 (unsigned long long)offs[2]);
		unit_fmt(also, sizeof also, "a good one follows at offset %llu",
			 (unsigned long long)offs[3]);
		expect_refusal(copy, want, also);
		recover_ok(copy, "damaged/1/journal.0000000000000001", "kept image Foo at "
			   "generation 2", NULL);
		CU_ASSERT(unit_sh("cmp '%s-before/journal.0000000000000001' "
				  "'%s/damaged/1/journal.0000000000000001'", copy, copy) == 0);
		CU_ASSERT_EQUAL(file_size(jc), offs[2]);
		expect_view(copy, &views[2], "recovered before record 3");
	}

	fresh_copy(dir, copy);
	flip_byte(jc, offs[5] + 40);
	struct ctl_registry *r = open_ok(copy, HUGE_COMPACT);
	struct view got;
	take_view(r, &got);
	check_same_view(&views[5], &got, "a bad last record");
	free_view(&got);
	char *status = status_of(r);
	CU_ASSERT(strstr(status, "dropped a torn record") != NULL);
	free(status);
	ctl_registry_free(r);
	CU_ASSERT_EQUAL(file_size(jc), offs[5]);
	for (size_t i = 1; i < 7; i++)
		free_view(&views[i]);
}

/* The journal files must be the ones the snapshot expects: none missing, no gap, and no
 * journal without the snapshot it continues. */
static void test_missing_files(void)
{
	char dir[4096], copy[4200], path[4400], want[4600];
	fresh_dir(dir, sizeof dir, "missing");
	struct ctl_registry *r = open_ok(dir, 1);  /* snapshots all along */
	struct image_origin o = {.has_uuid = true, .uuid = {9, 9}};
	char err[512];
	struct view gens[7];   /* gens[g]: generation g */
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	take_view(r, &gens[1]);
	for (size_t i = 0; i < 3; i++) {
		run_ok(r, STEPS[i]);
		take_view(r, &gens[i + 2]);
	}
	ctl_registry_free(r);
	r = open_ok(dir, HUGE_COMPACT);
	run_ok(r, STEPS[3]);
	take_view(r, &gens[5]);
	run_ok(r, STEPS[4]);
	take_view(r, &gens[6]);
	ctl_registry_free(r);
	char *name = unit_sh_out("cd '%s' && ls journal.* | tr -d '\\n'", dir);
	CU_ASSERT_FATAL(name != NULL && strlen(name) == 24 && strcmp(name, "journal.0000000000000001"));
	unit_fmt(copy, sizeof copy, "%s-copy", dir);

	/* The journal after the snapshot. */
	fresh_copy(dir, copy);
	unit_fmt(path, sizeof path, "%s/%s", copy, name);
	CU_ASSERT_FATAL(unlink(path) == 0);
	unit_fmt(want, sizeof want, "%s is damaged: it is missing", path);
	expect_refusal(copy, want, "snapshot covers only the journal before it");
	recover_ok(copy, "kept image Foo at generation", NULL);
	/* What the snapshot holds: an acknowledged generation, older than the last. */
	r = open_ok(copy, HUGE_COMPACT);
	struct gen *g = image_current(ctl_registry_at(r, 0));
	uint64_t kept = gen_number(g);
	gen_unref(g);
	ctl_registry_free(r);
	CU_ASSERT_FATAL(kept >= 1 && kept < 6);
	expect_view(copy, &gens[kept], "recovered without the journal");

	/* The snapshot: the journal cannot apply without it. */
	fresh_copy(dir, copy);
	unit_fmt(path, sizeof path, "%s/snapshot", copy);
	CU_ASSERT_FATAL(unlink(path) == 0);
	unit_fmt(want, sizeof want, "%s is damaged: it is missing, yet %s", path, name);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "damaged/1/journal.", NULL);
	r = open_ok(copy, HUGE_COMPACT);
	CU_ASSERT_EQUAL(ctl_registry_count(r), 0);
	ctl_registry_free(r);

	/* A damaged snapshot likewise takes the journal with it. */
	fresh_copy(dir, copy);
	flip_byte(path, file_size(path) / 2);
	unit_fmt(want, sizeof want, "%s is damaged at offset", path);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "damaged/1/snapshot", "damaged/1/journal.", NULL);
	r = open_ok(copy, HUGE_COMPACT);
	CU_ASSERT_EQUAL(ctl_registry_count(r), 0);
	ctl_registry_free(r);

	/* Cut at a record boundary, every record checks out: the count in its head does
	 * not, nor (cut inside the image) the image's count of the records of its last
	 * section. */
	fresh_copy(dir, copy);
	uint64_t offs[16];
	size_t nrec = record_offsets(path, offs, 16);
	CU_ASSERT_FATAL(nrec >= 3 && nrec < 16);
	CU_ASSERT_FATAL(truncate(path, (off_t)offs[1]) == 0);
	unit_fmt(want, sizeof want, "%s is damaged at offset %llu: it ends after 0 of its 1 "
		 "images", path, (unsigned long long)offs[1]);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "damaged/1/snapshot", NULL);
	fresh_copy(dir, copy);
	CU_ASSERT_FATAL(truncate(path, (off_t)offs[nrec - 1]) == 0);
	unit_fmt(want, sizeof want, "%s is damaged at offset %llu: image Foo has 0 of its ",
		 path, (unsigned long long)offs[nrec - 1]);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "damaged/1/snapshot", NULL);
	free(name);

	/* A gap: journal.2 missing between 1 and 3. */
	fresh_dir(dir, sizeof dir, "gap");
	struct view views[7];
	six_records(dir, views);
	fresh_copy(dir, copy);
	unit_fmt(path, sizeof path, "%s/journal.0000000000000003", copy);
	unit_write_file(path, "", 0);
	unit_fmt(want, sizeof want, "%s/journal.0000000000000002 is damaged: it is missing, "
		 "and journal.0000000000000003 follows", copy);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "damaged/1/journal.0000000000000003", NULL);
	expect_view(copy, &views[6], "recovered from a gap");
	for (size_t i = 1; i < 7; i++) {
		free_view(&views[i]);
		free_view(&gens[i]);
	}
}

/* An executable whose bytes no longer hash to its name would give the image another
 * identity: refuse; recovery keeps the history before the first record naming it. */
static void test_damaged_executable(void)
{
	char dir[4096], state[4200], exe[4200], copy[4300], blob[4500], want[4600];
	fresh_dir(dir, sizeof dir, "blob");
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	unit_fmt(state, sizeof state, "%s/state", dir);
	unit_fmt(exe, sizeof exe, "%s/prog", dir);
	build_exe(dir, EXE_V1);
	struct ctl_registry *r = open_ok(state, HUGE_COMPACT);
	struct image_origin o = {.exe_path = exe};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "prog", &o, err, sizeof err) == 0);
	run_ok(r, "file 1 path=/src/prog.c\n");
	struct view before_v2;
	take_view(r, &before_v2);
	build_exe(dir, EXE_V2);
	char script[4400];
	unit_fmt(script, sizeof script, "exe %s\n", exe);
	run_ok(r, script);
	ctl_registry_free(r);
	unit_fmt(copy, sizeof copy, "%s-copy", state);
	/* The second executable: the newest file under exe/. */
	char *name = unit_sh_out("cd '%s/exe' && ls -t | head -1 | tr -d '\\n'", state);
	CU_ASSERT_FATAL(name != NULL && *name);
	for (int pass = 0; pass < 2; pass++) {
		fresh_copy(state, copy);
		unit_fmt(blob, sizeof blob, "%s/exe/%s", copy, name);
		if (pass == 0)
			flip_byte(blob, file_size(blob) / 2);
		else
			CU_ASSERT_FATAL(unlink(blob) == 0);
		unit_fmt(want, sizeof want, "%s/journal.0000000000000001 is damaged at offset",
			 copy);
		expect_refusal(copy, want, pass ? "cannot be read" : "whose bytes are not the ones");
		recover_ok(copy, "kept image prog at generation 2", NULL);
		expect_view(copy, &before_v2, "recovered before the damaged executable");
		if (pass == 0)
			CU_ASSERT(unit_sh("test -f '%s/damaged/1/exe/%s'", copy, name) == 0);
	}
	free(name);
	free_view(&before_v2);
}

/* Checks that dir restores to an acknowledged generation below `below` and returns it;
 * gens[g] is what generation g showed. */
static uint64_t expect_older_generation(const char *dir, const struct view *gens,
					uint64_t below, const char *when)
{
	struct ctl_registry *r = open_ok(dir, HUGE_COMPACT);
	struct gen *g = image_current(ctl_registry_at(r, 0));
	uint64_t kept = gen_number(g);
	gen_unref(g);
	ctl_registry_free(r);
	CU_ASSERT_FATAL(kept >= 1 && kept < below);
	expect_view(dir, &gens[kept], when);
	return kept;
}

/* A journal file that appends moved on from names the next one: losing the newest
 * file refuses to start. A crash while that name was being written (the newest file
 * still empty) is a tear. */
static void test_newest_journal_lost(void)
{
	enum { N = 120 };
	char dir[4096], copy[4200], tmp[4200], path[4400], want[4600];
	fresh_dir(dir, sizeof dir, "newest");
	struct ctl_registry *r = open_ok(dir, 4096);
	struct image_origin o = {.has_uuid = true, .uuid = {5, 5}};
	char err[512];
	static struct view gens[N + 3];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	take_view(r, &gens[1]);
	run_ok(r, STEPS[0]);
	take_view(r, &gens[2]);
	unit_fmt(tmp, sizeof tmp, "%s/snapshot.tmp", dir);
	CU_ASSERT_FATAL(mkdir(tmp, 0700) == 0);   /* snapshots fail: journal files pile up */
	for (int i = 0; i < N; i++) {
		char cmd[200];
		unit_fmt(cmd, sizeof cmd, "fn %d name=f%d low_pc=0x%llx size=8 file=1 line=%d\n",
			 100 + i, i, 0x100010000ull + (unsigned)i * 16, i + 1);
		run_ok(r, cmd);
		take_view(r, &gens[3 + i]);
		free(settled_status(r));
	}
	ctl_registry_free(r);
	CU_ASSERT_FATAL(rmdir(tmp) == 0);
	char *names = unit_sh_out("cd '%s' && ls journal.* | tail -2 | tr '\\n' ' '", dir);
	CU_ASSERT_FATAL(names != NULL && strlen(names) == 50);
	char prev[32], newest[32];
	CU_ASSERT_FATAL(sscanf(names, "%31s %31s", prev, newest) == 2);
	free(names);
	unit_fmt(copy, sizeof copy, "%s-copy", dir);

	fresh_copy(dir, copy);
	unit_fmt(path, sizeof path, "%s/%s", copy, newest);
	CU_ASSERT_FATAL(unlink(path) == 0);
	unit_fmt(want, sizeof want, "%s is damaged: it is missing, and %s ends by naming it",
		 path, prev);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "kept image Foo at generation", NULL);
	expect_older_generation(copy, gens, N + 2, "recovered without the newest journal");

	/* The newest file empty, the name of it in the one before torn: a crash in the
	 * middle of moving on. */
	fresh_copy(dir, copy);
	CU_ASSERT_FATAL(truncate(path, 0) == 0);
	unit_fmt(path, sizeof path, "%s/%s", copy, prev);
	uint64_t size = file_size(path);
	CU_ASSERT_FATAL(truncate(path, (off_t)(size - 5)) == 0);
	r = open_ok(copy, HUGE_COMPACT);
	char *status = status_of(r);
	CU_ASSERT(strstr(status, "dropped a torn record") != NULL);
	free(status);
	ctl_registry_free(r);
	CU_ASSERT_EQUAL(file_size(path), size - 32);
	expect_older_generation(copy, gens, N + 2, "a torn name of the next file");
	for (int i = 1; i < N + 3; i++)
		free_view(&gens[i]);
}

/* A rejected batch writes nothing; a directory serves one registry at a time. */
static void test_rejected_batches_leave_no_trace_and_the_lock_holds(void)
{
	char dir[4096], jp[4300];
	fresh_dir(dir, sizeof dir, "reject");
	struct ctl_registry *r = open_ok(dir, HUGE_COMPACT);
	struct image_origin o = {.has_uuid = true};
	char err[1024];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	run_ok(r, STEPS[0]);
	journal_path(dir, jp, sizeof jp);
	uint64_t size = file_size(jp);
	const char *bad = "fn 7 name=x low_pc=0x100000000 size=8 file=1 line=1\n";  /* overlaps */
	CU_ASSERT(ctl_run_script(r, bad, strlen(bad), err, sizeof err) == -EINVAL);
	const char *noop = "file 1 path=/src/a.c\n";
	CU_ASSERT(ctl_run_script(r, noop, strlen(noop), err, sizeof err) == 0);
	CU_ASSERT(ctl_registry_add(r, "Foo", &o, err, sizeof err) == -EEXIST);
	CU_ASSERT_EQUAL(file_size(jp), size);

	int rc;
	struct ctl_registry *second = open_registry(dir, HUGE_COMPACT, &rc, err, sizeof err);
	CU_ASSERT(second == NULL);
	ctl_registry_free(second);
	CU_ASSERT_EQUAL(rc, -EBUSY);
	CU_ASSERT(strstr(err, "in use") != NULL);
	r = restart(r, dir, HUGE_COMPACT, "after rejected batches");
	ctl_registry_free(r);
}

/* max_memory refuses a commit whose generation would pass it, and changes nothing. */
static void test_memory_limit(void)
{
	struct ctl_limits lim;
	ctl_limits_default(&lim);
	uint64_t used = ctl_memory_used();
	CU_ASSERT_FATAL(used > 0);
	lim.max_memory = used + (48u << 20);
	struct ctl_registry *r;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	struct image_origin o = {.has_uuid = true};
	char err[1024];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	run_ok(r, STEPS[0]);
	struct view before, after;
	take_view(r, &before);
	/* About 200,000 functions: far more than 48 MiB once encoded. */
	size_t n = 200000, cap = n * 96 + 128, len = 0;
	char *big = malloc(cap);
	CU_ASSERT_FATAL(big != NULL);
	len += (size_t)snprintf(big, cap, "section __TEXT __text addr=0x100000000 size=0x10000000\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(big + len, cap - len, "fn %zu name=f%zu low_pc=0x%zx size=8 "
					"file=1 line=%zu rows=0:1,4:2\n", 100 + i, i,
					(size_t)0x100010000 + i * 16, i + 1);
	int rc = ctl_run_script(r, big, len, err, sizeof err);
	free(big);
	CU_ASSERT_EQUAL(rc, -ENOMEM);
	CU_ASSERT(strstr(err, "max_memory") != NULL);
	take_view(r, &after);
	check_same_view(&before, &after, "after a refused commit");
	free_view(&before);
	free_view(&after);
	char *status;
	size_t slen;
	CU_ASSERT_FATAL(ctl_status_text(r, &status, &slen) == 0);
	char want[64];
	unit_fmt(want, sizeof want, "/%llu\n", (unsigned long long)lim.max_memory);
	CU_ASSERT(strstr(status, " memory=") != NULL && strstr(status, want) != NULL);
	free(status);
	ctl_registry_free(r);

	/* A new image past the limit is refused too. */
	lim.max_memory = 1;
	CU_ASSERT_FATAL(ctl_registry_new(&lim, &r) == 0);
	CU_ASSERT_EQUAL(ctl_registry_add(r, "Foo", &o, err, sizeof err), -ENOMEM);
	CU_ASSERT(strstr(err, "image Foo refused") != NULL);
	CU_ASSERT_EQUAL(ctl_registry_count(r), 0);
	ctl_registry_free(r);
}

/* Commits alternately add and drop a file with a long path until a snapshot covers
 * every commit (status: no journal bytes after it), so that a restart reads the state
 * from the snapshot alone. */
static void settle_into_snapshot(struct ctl_registry *r, const char *image)
{
	char pad[1100];
	memset(pad, 'p', 1000);
	pad[1000] = 0;
	for (int i = 0; i < 40; i++) {
		char *s = settled_status(r);
		bool done = strstr(s, " journal_bytes=0 ") != NULL;
		free(s);
		if (done)
			return;
		char cmd[1300];
		if (i % 2)
			unit_fmt(cmd, sizeof cmd, "image %s\ndelfile 999\n", image);
		else
			unit_fmt(cmd, sizeof cmd, "image %s\nfile 999 path=/%s\n", image, pad);
		run_ok(r, cmd);
	}
	CU_FAIL_FATAL("no snapshot ever covered the whole journal");
}

/* Every kind of record and every field of one: all type kinds and encodings, files
 * with and without a directory, functions with and without parameters, return type,
 * unit and rows (every flag, a column, a row in another file, line 0), the compiler's
 * symbols (absolute and in a section, external or not), an executable's symbols, a
 * segment table the compiler edited, two images. */
static const char RICH[] =
	"segment __DATA vmaddr=0x140001000 vmsize=0x2000 maxprot=rw- initprot=1\n"
	"section __DATA __data addr=0x140001000 size=0x40 align=4\n"
	"section __TEXT __text addr=0x100000000 size=0x100000 align=2\n"
	"file 1 path=/src/a.c\nfile 2 path=\"/src/b c.h\" dir=/src\nfile 7 path=rel.c dir=/build\n"
	"type 1 kind=base name=int size=4 enc=signed\n"
	"type 2 kind=base name=unsigned size=4 enc=unsigned\n"
	"type 3 kind=base name=_Bool size=1 enc=bool\n"
	"type 4 kind=base name=double size=8 enc=float\n"
	"type 5 kind=base name=char size=1 enc=signed_char\n"
	"type 6 kind=base name=uchar size=1 enc=unsigned_char\n"
	"type 7 kind=pointer to=5\ntype 8 kind=const to=7\ntype 9 kind=typedef name=cstr to=8\n"
	"type 10 kind=pointer to=0\ntype 11 kind=const to=4\n"
	"fn 1 name=alpha low_pc=0x100000000 size=0x40 file=1 line=10 ret=9 params=s:9,n:2,d:11 "
	"rows=0:10,8:11:3:sp,0x10:0:0:,0x18:4:7:e:2,0x30:12:1:spe\n"
	"fn 5 name=beta low_pc=0x100000100 size=0x20 file=2 line=5 cu=1 rows=0:5\n"
	"fn 3 name=\"operator new\" low_pc=0x100000080 size=0x10 file=7 line=0\n"
	"fn 4000000000 name=big_id low_pc=0x100000200 size=0x8 file=2 line=99999 ret=3\n"
	"sym _mine value=0x100000000 sect=1 ext\nsym abs value=0x42\n"
	"sym _data value=0x140001000 sect=2\n";

static void check_binary_head(const char *dir)
{
	char path[4200];
	unit_fmt(path, sizeof path, "%s/snapshot", dir);
	size_t len;
	char *data = unit_read_file(path, &len);
	CU_ASSERT_FATAL(data != NULL);
	CU_ASSERT(len > 48 && !memcmp(data + 32, "DSSB", 4));
	free(data);
}

static void test_binary_snapshot_round_trips_every_field(void)
{
	char dir[4096], state[4200], exe[4200];
	fresh_dir(dir, sizeof dir, "binary");
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	unit_fmt(state, sizeof state, "%s/state", dir);
	unit_fmt(exe, sizeof exe, "%s/prog", dir);
	build_exe(dir, EXE_V1);
	struct ctl_registry *r = open_ok(state, 1);
	struct image_origin o = {.has_uuid = true, .uuid = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3},
				 .has_arch = true, .cputype = 0x0100000c, .cpusubtype = 0};
	struct image_origin px = {.exe_path = exe};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	CU_ASSERT_FATAL(ctl_registry_add(r, "prog", &px, err, sizeof err) == 0);
	char script[sizeof RICH + 16];
	unit_fmt(script, sizeof script, "image Foo\n%s", RICH);
	run_ok(r, script);
	run_ok(r, "image prog\nfile 1 path=/src/prog.c\nsym _twice value=0x100000000 sect=1 ext\n"
		  "unsym _keep\n");
	settle_into_snapshot(r, "Foo");
	check_binary_head(state);
	r = restart(r, state, 1, "restored from a binary snapshot alone");
	/* It was the snapshot alone: nothing after it in the journal. */
	char *s = status_of(r);
	CU_ASSERT(strstr(s, " journal_bytes=0 ") != NULL);
	free(s);
	/* And what it restored keeps taking commits the same way the original did. */
	run_ok(r, "image Foo\nmove-range from=0x100000000 to=0x100000090 by=0x1000\n"
		  "line-range file=1 from=1 to=20 by=2\ndeltype 10\nunsym abs\n");
	r = restart(r, state, 1, "a commit after the restore");
	ctl_registry_free(r);
}

/* A bitwise CRC-32C (Castagnoli, reflected), written apart from the daemon's table
 * version so that a test can forge a record whose checksum is good. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

/* Sets byte `at` of the payload of the record at off to v, with a checksum that
 * verifies, by the header layout journal.h documents. */
static void forge_payload_byte(const char *path, uint64_t off, uint64_t at, uint8_t v)
{
	size_t len;
	uint8_t *d = (uint8_t *)unit_read_file(path, &len);
	CU_ASSERT_FATAL(d != NULL && off + 32 <= len);
	uint64_t plen = 0;
	for (int i = 7; i >= 0; i--)
		plen = plen << 8 | d[off + 8 + (uint64_t)i];
	CU_ASSERT_FATAL(at < plen && off + 32 + plen <= len);
	d[off + 32 + at] = v;
	uint32_t crc = crc32c_bitwise(crc32c_bitwise(0, d + off + 32, plen), d + off, 24);
	for (int i = 0; i < 4; i++)
		d[off + 24 + (uint64_t)i] = (uint8_t)(crc >> (8 * i));
	unit_write_file(path, d, len);
	free(d);
}

/* The binary snapshot's damage refuses to start, naming the record, whether its
 * checksum fails or a record that checks out is not one this format allows; recovery
 * moves it aside with the journal. */
static void test_damaged_binary_snapshot(void)
{
	char dir[4096], copy[4200], sp[4300], want[4600], also[200];
	fresh_dir(dir, sizeof dir, "binary-damage");
	struct ctl_registry *r = open_ok(dir, 1);
	struct image_origin o = {.has_uuid = true, .uuid = {5}};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	char script[sizeof RICH + 16];
	unit_fmt(script, sizeof script, "image Foo\n%s", RICH);
	run_ok(r, script);
	settle_into_snapshot(r, "Foo");
	ctl_registry_free(r);
	check_binary_head(dir);
	unit_fmt(copy, sizeof copy, "%s-copy", dir);
	unit_fmt(sp, sizeof sp, "%s/snapshot", copy);
	unit_fmt(want, sizeof want, "%s/snapshot", dir);
	uint64_t offs[16];
	size_t n = record_offsets(want, offs, 16);
	/* HEAD, IMAGE, then a record for each of files, types, functions, symbols. */
	CU_ASSERT_FATAL(n == 6);

	/* A bad checksum in the IMAGE record and in each section's record. */
	for (size_t i = 1; i < n; i++) {
		fresh_copy(dir, copy);
		flip_byte(sp, offs[i] + 33);
		unit_fmt(want, sizeof want, "%s is damaged at offset %llu: not a whole record with "
			 "a good checksum", sp, (unsigned long long)offs[i]);
		if (i + 1 < n)
			unit_fmt(also, sizeof also, "a good one follows at offset %llu",
				 (unsigned long long)offs[i + 1]);
		expect_refusal(copy, want, i + 1 < n ? also : NULL);
		recover_ok(copy, "damaged/1/snapshot", NULL);
	}

	/* Records that check out but do not belong: a format version this one does not
	 * read, a section that does not exist, a section out of order. */
	fresh_copy(dir, copy);
	forge_payload_byte(sp, 0, 4, 9);
	unit_fmt(want, sizeof want, "%s is damaged at offset 0: it has format version 9", sp);
	expect_refusal(copy, want, NULL);
	fresh_copy(dir, copy);
	forge_payload_byte(sp, offs[3], 0, 7);
	unit_fmt(want, sizeof want, "%s is damaged at offset %llu: a section record that does "
		 "not belong there", sp, (unsigned long long)offs[3]);
	expect_refusal(copy, want, NULL);
	fresh_copy(dir, copy);
	forge_payload_byte(sp, offs[4], 0, 1);
	unit_fmt(want, sizeof want, "%s is damaged at offset %llu: a section record that does "
		 "not belong there", sp, (unsigned long long)offs[4]);
	expect_refusal(copy, want, NULL);
	/* A string's length running past the record's end. */
	fresh_copy(dir, copy);
	forge_payload_byte(sp, offs[1], 0, 0x7f);
	unit_fmt(want, sizeof want, "%s is damaged at offset %llu: an image record that does "
		 "not decode", sp, (unsigned long long)offs[1]);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "damaged/1/snapshot", NULL);
}

/* A daemon forks into the background after attaching its journal: the child keeps no
 * thread the parent started, so its compactions must still run, and it must still be
 * able to stop. */
static void test_compaction_after_fork(void)
{
	char dir[4096], snap[4200];
	fresh_dir(dir, sizeof dir, "fork");
	struct ctl_registry *r = open_ok(dir, 1);
	struct image_origin o = {.has_uuid = true, .uuid = {4, 2}};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Foo", &o, err, sizeof err) == 0);
	unit_fmt(snap, sizeof snap, "%s/snapshot", dir);
	pid_t pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int rc = ctl_run_script(r, RICH, strlen(RICH), err, sizeof err);
		for (int i = 0; !rc && i < 40 && access(snap, F_OK); i++)
			rc = ctl_run_script(r, "sym _pad value=1\n", 17, err, sizeof err) ||
			     ctl_run_script(r, "unsym _pad\n", 11, err, sizeof err);
		ctl_registry_free(r);
		_exit(rc || access(snap, F_OK) ? 1 : 0);
	}
	int status = -1;
	for (int i = 0; i < 600; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(50000);
	}
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		CU_FAIL("the forked registry hung");
	}
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ctl_registry_free(r);
}

/* ---- rich debug info in the binary snapshot ---- */

static char *dup_str(const char *s)
{
	char *p = strdup(s);
	CU_ASSERT_FATAL(p != NULL);
	return p;
}

static void *zalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	CU_ASSERT_FATAL(p != NULL);
	return p;
}

static struct rec_loc simple_loc(enum rec_loc_kind kind, uint32_t reg, int64_t value)
{
	return (struct rec_loc){.kind = kind, .reg = reg, .value = value};
}

static void put_file_rec(struct state *s, uint64_t id, const char *path, const char *dir,
			 uint32_t lang)
{
	struct rec_file *f = rec_file_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = id;
	f->path = dup_str(path);
	f->dir = dir ? dup_str(dir) : NULL;
	f->lang = lang;
	CU_ASSERT_FATAL(state_put(&s->files, state_id_key(id), f) == 0);
	rec_file_unref(f);
}

static struct rec_type *new_type(uint64_t id, enum rec_type_kind kind, const char *name)
{
	struct rec_type *t = rec_type_new();
	CU_ASSERT_FATAL(t != NULL);
	t->id = id;
	t->kind = kind;
	t->name = name ? dup_str(name) : NULL;
	return t;
}

static void put_type_rec(struct state *s, struct rec_type *t)
{
	CU_ASSERT_FATAL(dwarf_encode_type(t) == 0);
	CU_ASSERT_FATAL(state_put(&s->types, state_id_key(t->id), t) == 0);
	rec_type_unref(t);
}

static void set_member(struct rec_member *m, const char *name, uint64_t type, uint64_t off,
		       uint32_t bits, uint32_t bitoff)
{
	*m = (struct rec_member){dup_str(name), type, off, bits, bitoff};
}

static void set_enumerator(struct rec_enumerator *e, const char *name, uint64_t lo,
			   uint64_t hi, bool neg)
{
	*e = (struct rec_enumerator){dup_str(name), lo, hi, neg};
}

/* Types of every kind with every field the protocol can set. */
static void put_rich_types(struct state *s)
{
	struct rec_type *t = new_type(1, REC_TYPE_BASE, "int");
	t->size = 4;
	t->enc = REC_ENC_SIGNED;
	put_type_rec(s, t);
	t = new_type(2, REC_TYPE_BASE, "unsigned char");
	t->size = 1;
	t->enc = REC_ENC_UNSIGNED_CHAR;
	put_type_rec(s, t);
	/* struct node { struct node *next; int val; int flags : 3; union { ... }; } */
	t = new_type(3, REC_TYPE_STRUCT, "node");
	t->size = 24;
	t->file = 1;
	t->line = 3;
	t->align = 8;
	t->nmembers = 4;
	t->members = zalloc(4, sizeof *t->members);
	set_member(&t->members[0], "next", 4, 0, 0, 0);
	set_member(&t->members[1], "val", 1, 8, 0, 0);
	set_member(&t->members[2], "flags", 1, 12, 3, 2);
	set_member(&t->members[3], "", 5, 16, 0, 0);
	put_type_rec(s, t);
	t = new_type(4, REC_TYPE_POINTER, NULL);
	t->to = 3;
	put_type_rec(s, t);
	t = new_type(5, REC_TYPE_UNION, NULL);
	t->size = 8;
	t->scope = 3;
	t->file = 1;
	t->line = 6;
	t->nmembers = 2;
	t->members = zalloc(2, sizeof *t->members);
	set_member(&t->members[0], "a", 1, 0, 0, 0);
	set_member(&t->members[1], "b", 2, 0, 0, 0);
	put_type_rec(s, t);
	t = new_type(6, REC_TYPE_STRUCT, "opaque");
	t->decl = true;
	put_type_rec(s, t);
	t = new_type(7, REC_TYPE_ENUM, "color");
	t->size = 4;
	t->to = 1;
	t->file = 2;
	t->line = 9;
	t->nenumerators = 2;
	t->enumerators = zalloc(2, sizeof *t->enumerators);
	set_enumerator(&t->enumerators[0], "RED", 0, 0, false);
	set_enumerator(&t->enumerators[1], "NEG", (uint64_t)-3, UINT64_MAX, true);
	put_type_rec(s, t);
	/* A u128 enum: 2^128-1 and a value past 64 bits. */
	t = new_type(8, REC_TYPE_ENUM, "wide");
	t->size = 16;
	t->align = 16;
	t->nenumerators = 2;
	t->enumerators = zalloc(2, sizeof *t->enumerators);
	set_enumerator(&t->enumerators[0], "TOP", UINT64_MAX, UINT64_MAX, false);
	set_enumerator(&t->enumerators[1], "MID", 5, 1, false);
	put_type_rec(s, t);
	t = new_type(9, REC_TYPE_ARRAY, NULL);
	t->to = 1;
	t->ndims = 2;
	t->dims = zalloc(2, sizeof *t->dims);
	t->dims[0] = REC_DIM_UNKNOWN;
	t->dims[1] = 4;
	put_type_rec(s, t);
	t = new_type(10, REC_TYPE_FUNC, NULL);
	t->ret = 1;
	t->nparams = 2;
	t->params = zalloc(2, sizeof *t->params);
	t->params[0] = 1;
	t->params[1] = 4;
	t->variadic = true;
	put_type_rec(s, t);
	t = new_type(11, REC_TYPE_FUNC, NULL);
	t->unprototyped = true;
	put_type_rec(s, t);
	t = new_type(12, REC_TYPE_VOLATILE, NULL);
	t->to = 1;
	put_type_rec(s, t);
	t = new_type(13, REC_TYPE_RESTRICT, NULL);
	t->to = 4;
	put_type_rec(s, t);
	t = new_type(14, REC_TYPE_POINTER, "slice_ptr");
	t->to = 2;
	t->align = 8;
	put_type_rec(s, t);
	t = new_type(15, REC_TYPE_TYPEDEF, "node_t");
	t->to = 3;
	t->file = 2;
	t->line = 4;
	put_type_rec(s, t);
}

static void put_global_rec(struct state *s, uint64_t id, const char *name, uint64_t type,
			   uint64_t addr, uint64_t cu, bool ext, const char *linkage)
{
	struct rec_global *g = rec_global_new();
	CU_ASSERT_FATAL(g != NULL);
	*g = (struct rec_global){.refs = 1, .id = id, .name = dup_str(name), .type = type,
				 .addr = addr, .file = 2, .line = (uint32_t)id + 1, .cu = cu,
				 .ext = ext, .linkage = linkage ? dup_str(linkage) : NULL};
	CU_ASSERT_FATAL(dwarf_encode_global(g) == 0);
	CU_ASSERT_FATAL(state_put_global(s, NULL, g) == 0);
	rec_global_unref(g);
}

static void put_fn_rec(struct state *s, struct rec_fn *f)
{
	CU_ASSERT_FATAL(dwarf_encode_fn(f) == 0);
	CU_ASSERT_FATAL(state_put_fn(s, NULL, f) == 0);
	rec_fn_unref(f);
}

/* An abstract function (an inlined origin) and functions with every new field: linkage
 * name, frame base, parameters with locations of each kind and lines, locals, blocks
 * with several ranges, a parent and an inlined call, every flag. */
static void put_rich_fns(struct state *s)
{
	struct rec_fn *f = rec_fn_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = 20;
	f->name = dup_str("sq");
	f->file = 1;
	f->line = 30;
	f->ret = 1;
	f->abstract = true;
	f->nparams = 1;
	f->params = zalloc(1, sizeof *f->params);
	f->params[0] = (struct rec_param){dup_str("x"), 1, {0}, 30};
	f->nvars = 1;
	f->vars = zalloc(1, sizeof *f->vars);
	f->vars[0] = (struct rec_var){dup_str("t"), 1, {0}, 31, 0};
	put_fn_rec(s, f);

	f = rec_fn_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = 21;
	f->name = dup_str("main");
	f->low_pc = 0x100000000;
	f->size = 0x80;
	f->file = 1;
	f->line = 40;
	f->ret = 1;
	f->linkage = dup_str("_main");
	f->frame_base = simple_loc(REC_LOC_REG, 6, 0);
	f->nparams = 3;
	f->params = zalloc(3, sizeof *f->params);
	f->params[0] = (struct rec_param){dup_str("argc"), 1, simple_loc(REC_LOC_FBREG, 0, -20),
					  40};
	struct rec_loc list = {.kind = REC_LOC_LIST, .len = 2};
	list.entries = zalloc(2, sizeof *list.entries);
	list.entries[0] = (struct rec_loc_entry){0, 9, simple_loc(REC_LOC_REG, 5, 0)};
	list.entries[1] = (struct rec_loc_entry){9, 0x40, simple_loc(REC_LOC_BREG, 7, 8)};
	f->params[1] = (struct rec_param){dup_str("argv"), 4, list, 41};
	f->params[2] = (struct rec_param){dup_str(""), 2, {0}, 0};
	f->nvars = 4;
	f->vars = zalloc(4, sizeof *f->vars);
	f->vars[0] = (struct rec_var){dup_str("i"), 1, simple_loc(REC_LOC_CONST, 0, -3), 42, 1};
	f->vars[1] = (struct rec_var){dup_str("s"), 7,
				      simple_loc(REC_LOC_ADDR, 0, 0x140001010), 43, 0};
	struct rec_loc expr = {.kind = REC_LOC_EXPR, .len = 2};
	expr.bytes = zalloc(2, 1);
	expr.bytes[0] = 0x91;
	expr.bytes[1] = 0x70;
	f->vars[2] = (struct rec_var){dup_str("e"), 1, expr, 44, 2};
	f->vars[3] = (struct rec_var){dup_str("x"), 0, simple_loc(REC_LOC_REG, 64, 0), 30, 3};
	f->nblocks = 3;
	f->blocks = zalloc(3, sizeof *f->blocks);
	struct rec_range *r1 = zalloc(2, sizeof *r1);
	r1[0] = (struct rec_range){0x10, 0x24};
	r1[1] = (struct rec_range){0x40, 0x48};
	f->blocks[0] = (struct rec_block){2, r1, 0, 0, 0, 0, 0};
	struct rec_range *r2 = zalloc(1, sizeof *r2);
	r2[0] = (struct rec_range){0x12, 0x20};
	f->blocks[1] = (struct rec_block){1, r2, 1, 0, 0, 0, 0};
	struct rec_range *r3 = zalloc(1, sizeof *r3);
	r3[0] = (struct rec_range){0x50, 0x60};
	f->blocks[2] = (struct rec_block){1, r3, 0, 20, 2, 45, 7};
	f->nrows = 2;
	f->rows = zalloc(2, sizeof *f->rows);
	f->rows[0] = (struct rec_row){0, 40, 0, REC_ROW_STMT, 0};
	f->rows[1] = (struct rec_row){0x10, 42, 3, REC_ROW_STMT, 0};
	f->variadic = f->optimized = f->noreturn = true;
	put_fn_rec(s, f);

	f = rec_fn_new();
	CU_ASSERT_FATAL(f != NULL);
	f->id = 22;
	f->name = dup_str("old");
	f->low_pc = 0x100000100;
	f->size = 0x10;
	f->file = 2;
	f->line = 5;
	f->cu = 1;
	f->unprototyped = true;
	f->frame_base = simple_loc(REC_LOC_BREG, 31, -16);
	put_fn_rec(s, f);
}

typedef bool (*same_fn)(const void *x, const void *y);

static bool file_same(const void *x, const void *y) { return rec_file_same(x, y); }
static bool type_same(const void *x, const void *y) { return rec_type_same(x, y); }
static bool global_same(const void *x, const void *y) { return rec_global_same(x, y); }
static bool fn_same(const void *x, const void *y) { return rec_fn_same(x, y); }

/* Two trees hold the same keys with records that define the same things. */
static void check_same_tree(const struct ptree *want, const struct ptree *got, same_fn same,
			    const char *what)
{
	struct ptree_iter a, b;
	size_t n = 0;
	ptree_iter_first(&a, want);
	ptree_iter_first(&b, got);
	for (; ptree_iter_valid(&a) && ptree_iter_valid(&b); ptree_iter_next(&a),
	     ptree_iter_next(&b), n++) {
		bool ok = !ptree_key_cmp(ptree_iter_key(&a), ptree_iter_key(&b)) &&
			  same(ptree_iter_val(&a), ptree_iter_val(&b));
		if (!ok)
			fprintf(stderr, "journal: %s: record %zu (key %llu) differs\n", what, n,
				(unsigned long long)ptree_iter_key(&a).a);
		CU_ASSERT(ok);
	}
	if (ptree_iter_valid(&a) || ptree_iter_valid(&b))
		fprintf(stderr, "journal: %s: the counts differ\n", what);
	CU_ASSERT(!ptree_iter_valid(&a) && !ptree_iter_valid(&b));
}

static void check_same_state(const struct state *want, const struct state *got)
{
	check_same_tree(&want->files, &got->files, file_same, "files");
	check_same_tree(&want->types, &got->types, type_same, "types");
	check_same_tree(&want->globals, &got->globals, global_same, "globals");
	check_same_tree(&want->fn_by_id, &got->fn_by_id, fn_same, "fn_by_id");
	check_same_tree(&want->abstracts, &got->abstracts, fn_same, "abstracts");
	check_same_tree(&want->fn_layout, &got->fn_layout, fn_same, "fn_layout");
	check_same_tree(&want->fn_by_addr, &got->fn_by_addr, fn_same, "fn_by_addr");
}

/* An image Rich whose state holds, beside what the protocol gave it, records built here
 * with every field of rich debug info set; the snapshot then covers all of it. */
static struct ctl_registry *rich_registry(const char *dir)
{
	struct ctl_registry *r = open_ok(dir, 1);
	struct image_origin o = {.has_uuid = true, .uuid = {0x17, 0x17},
				 .has_arch = true, .cputype = 0x01000007, .cpusubtype = 3};
	char err[512];
	CU_ASSERT_FATAL(ctl_registry_add(r, "Rich", &o, err, sizeof err) == 0);
	run_ok(r, "image Rich\n"
		  "segment __DATA vmaddr=0x140001000 vmsize=0x2000 maxprot=rw- initprot=3\n"
		  "section __DATA __data addr=0x140001000 size=0x40 align=4\n"
		  "section __TEXT __text addr=0x100000000 size=0x1000 align=2\n");
	struct image *im = ctl_registry_find(r, "Rich");
	struct state s;
	image_state(im, &s);
	put_file_rec(&s, 1, "/src/r.c", NULL, 0x1d);
	put_file_rec(&s, 2, "/src/r.h", "/src", 0);
	put_file_rec(&s, 3, "z.zig", "/build", 0x26);
	put_rich_types(&s);
	put_global_rec(&s, 1, "counter", 1, 0x140001000, 0, true, NULL);
	put_global_rec(&s, 2, "table", 9, 0x140001010, 1, false, "_table_v2");
	put_rich_fns(&s);
	CU_ASSERT_FATAL(state_rebuild_files(&s) == 0 && state_rebuild_types(&s) == 0 &&
			state_settle(&s) == 0);
	CU_ASSERT_FATAL(image_restore_state(im, &s, err, sizeof err) == 0);
	/* A commit hands the journal the state; compactions then make it the snapshot's. */
	run_ok(r, "image Rich\nfile 999 path=/pad\n");
	settle_into_snapshot(r, "Rich");
	return r;
}

/* Every field of rich debug info comes back from a binary snapshot: the records a
 * restart loads define the same things as the ones written, the abstract function is
 * in fn_by_id and abstracts only, and the image's bytes are the same. */
static void test_binary_snapshot_round_trips_rich_records(void)
{
	char dir[4096];
	fresh_dir(dir, sizeof dir, "rich");
	struct ctl_registry *r = rich_registry(dir);
	check_binary_head(dir);
	struct state before, after;
	image_state(ctl_registry_find(r, "Rich"), &before);
	CU_ASSERT_EQUAL(ptree_count(&before.globals), 2);
	CU_ASSERT_EQUAL(ptree_count(&before.abstracts), 1);
	CU_ASSERT_EQUAL(ptree_count(&before.fn_by_id), 3);
	CU_ASSERT_EQUAL(ptree_count(&before.fn_layout), 2);
	r = restart(r, dir, 1, "rich records from a binary snapshot");
	char *st = status_of(r);
	CU_ASSERT(strstr(st, " journal_bytes=0 ") != NULL);
	free(st);
	image_state(ctl_registry_find(r, "Rich"), &after);
	check_same_state(&before, &after);
	state_release(&before);
	state_release(&after);
	ctl_registry_free(r);
}

/* The first record of section sec in the snapshot at path (its offset), by the layout
 * journal.h documents; UINT64_MAX if there is none. */
static uint64_t section_record(const char *path, uint8_t sec)
{
	uint64_t offs[32];
	size_t n = record_offsets(path, offs, 32);
	size_t len;
	uint8_t *d = (uint8_t *)unit_read_file(path, &len);
	CU_ASSERT_FATAL(d != NULL);
	uint64_t at = UINT64_MAX;
	for (size_t i = 2; i < n && at == UINT64_MAX; i++)
		if (d[offs[i] + 32] == sec)
			at = offs[i];
	free(d);
	return at;
}

static uint64_t payload_len(const char *path, uint64_t off)
{
	size_t len;
	uint8_t *d = (uint8_t *)unit_read_file(path, &len);
	CU_ASSERT_FATAL(d != NULL && off + 32 <= len);
	uint64_t plen = 0;
	for (int i = 7; i >= 0; i--)
		plen = plen << 8 | d[off + 8 + (uint64_t)i];
	free(d);
	return plen;
}

/* A record of the new sections that checks out but does not decode, or is not what its
 * section holds, is damage like any other. */
static void test_damaged_rich_records(void)
{
	char dir[4096], copy[4200], sp[4300], orig[4300], want[4600];
	fresh_dir(dir, sizeof dir, "rich-damage");
	ctl_registry_free(rich_registry(dir));
	unit_fmt(copy, sizeof copy, "%s-copy", dir);
	unit_fmt(sp, sizeof sp, "%s/snapshot", copy);
	unit_fmt(orig, sizeof orig, "%s/snapshot", dir);
	uint64_t globals = section_record(orig, 5), abstracts = section_record(orig, 6);
	CU_ASSERT_FATAL(globals != UINT64_MAX && abstracts != UINT64_MAX);

	/* A global whose name runs past the record's end. */
	fresh_copy(dir, copy);
	forge_payload_byte(sp, globals, 2, 0x7f);
	unit_fmt(want, sizeof want, "%s is damaged at offset %llu: a record of section 5 that "
		 "does not decode", sp, (unsigned long long)globals);
	expect_refusal(copy, want, NULL);
	recover_ok(copy, "damaged/1/snapshot", NULL);

	/* The abstract function sq's parameter x: its location follows, then its line
	 * (30), the row count (0) and the flags. */
	size_t len;
	uint8_t *d = (uint8_t *)unit_read_file(orig, &len);
	CU_ASSERT_FATAL(d != NULL);
	const uint8_t *p = memmem(d + abstracts + 32, payload_len(orig, abstracts), "\001x\001", 3);
	CU_ASSERT_FATAL(p != NULL);
	uint64_t at = (uint64_t)(p + 3 - (d + abstracts + 32));
	CU_ASSERT_FATAL(p[3] == 0 && p[4] == 30 && p[5] == 0 && (p[6] & 16));
	uint8_t flags = p[6];
	free(d);

	/* The section of abstract functions holding one that is not. */
	fresh_copy(dir, copy);
	forge_payload_byte(sp, abstracts, at + 3, (uint8_t)(flags & ~16));
	unit_fmt(want, sizeof want, "%s is damaged at offset %llu: a record of section 6 that "
		 "does not decode", sp, (unsigned long long)abstracts);
	expect_refusal(copy, want, NULL);

	/* A location of a kind that does not exist. */
	fresh_copy(dir, copy);
	forge_payload_byte(sp, abstracts, at, 0x42);
	expect_refusal(copy, want, NULL);
}

/* A record of the snapshot layout journal.h documents, appended to b at *len. */
static void forge_record(uint8_t *b, size_t *len, uint32_t kind, uint64_t generation,
			 const uint8_t *payload, size_t plen)
{
	uint8_t *h = b + *len;
	memcpy(h, "DSJ1", 4);
	for (int i = 0; i < 4; i++)
		h[4 + i] = (uint8_t)(kind >> (8 * i));
	for (int i = 0; i < 8; i++) {
		h[8 + i] = (uint8_t)((uint64_t)plen >> (8 * i));
		h[16 + i] = (uint8_t)(generation >> (8 * i));
	}
	memcpy(h + 32, payload, plen);
	uint32_t crc = crc32c_bitwise(crc32c_bitwise(0, h + 32, plen), h, 24);
	for (int i = 0; i < 4; i++) {
		h[24 + i] = (uint8_t)(crc >> (8 * i));
		h[28 + i] = 0;
	}
	*len += 32 + plen;
}

/* A snapshot of format version 1, as dsymfs wrote it before rich debug info, is read
 * by its own rules: its records come back with every newer field zero, and the next
 * compaction writes version 2. */
static void test_version_1_snapshot_is_read(void)
{
	char dir[4096], path[4200];
	fresh_dir(dir, sizeof dir, "v1");
	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	static const uint8_t head[] = {'D', 'S', 'S', 'B', 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t image[] = {
		3, 'O', 'l', 'd', 0,                              /* name, no executable */
		0x17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
		7, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0,                                                /* no segments */
		1, 1, 1, 0};                                      /* files types fns syms */
	static const uint8_t files[] = {1, 1, 6, '/', 'o', 'l', 'd', '.', 'c', 0};
	static const uint8_t types[] = {2, 1, 1, 4, 'i', 'n', 't', 4, 1, 0};
	static const uint8_t fns[] = {3, 1, 1, 'f', 0x80, 0x20, 0x10, 1, 3, 0, 1,
				      1, 1, 'n', 1,         /* a parameter n of type 1 */
				      1, 0, 3, 0, 1, 0};    /* a row */
	uint8_t b[512];
	size_t len = 0;
	forge_record(b, &len, 1, 1, head, sizeof head);
	forge_record(b, &len, 6, 3, image, sizeof image);
	forge_record(b, &len, 7, 0, files, sizeof files);
	forge_record(b, &len, 7, 0, types, sizeof types);
	forge_record(b, &len, 7, 0, fns, sizeof fns);
	unit_fmt(path, sizeof path, "%s/snapshot", dir);
	unit_write_file(path, b, len);
	/* The journal it continues, empty: the compaction that wrote it had just moved on. */
	unit_fmt(path, sizeof path, "%s/journal.0000000000000001", dir);
	unit_write_file(path, "", 0);
	unit_fmt(path, sizeof path, "%s/snapshot", dir);

	struct ctl_registry *r = open_ok(dir, 1);
	struct image *im = ctl_registry_find(r, "Old");
	CU_ASSERT_FATAL(im != NULL);
	struct gen *g = image_current(im);
	CU_ASSERT_EQUAL(gen_number(g), 3);
	gen_unref(g);
	struct state s;
	image_state(im, &s);
	struct rec_file want_file = {.id = 1, .path = "/old.c"};
	struct rec_type want_type = {.id = 1, .kind = REC_TYPE_BASE, .name = "int", .size = 4,
				     .enc = REC_ENC_SIGNED};
	struct rec_param want_param = {.name = "n", .type = 1};
	struct rec_row want_row = {.line = 3, .flags = REC_ROW_STMT};
	struct rec_fn want_fn = {.id = 1, .name = "f", .low_pc = 0x1000, .size = 0x10,
				 .file = 1, .line = 3, .ret = 1, .nparams = 1,
				 .params = &want_param, .nrows = 1, .rows = &want_row};
	const struct rec_file *f = ptree_get(&s.files, state_id_key(1));
	const struct rec_type *t = ptree_get(&s.types, state_id_key(1));
	const struct rec_fn *fn = ptree_get(&s.fn_by_id, state_id_key(1));
	CU_ASSERT(f && rec_file_same(f, &want_file));
	CU_ASSERT(t && rec_type_same(t, &want_type));
	CU_ASSERT(fn && rec_fn_same(fn, &want_fn));
	CU_ASSERT(ptree_get(&s.fn_by_addr, state_addr_key(&want_fn)) == fn);
	CU_ASSERT_EQUAL(ptree_count(&s.globals) + ptree_count(&s.abstracts), 0);
	state_release(&s);

	/* The next snapshot is of the current version, and holds the same. */
	run_ok(r, "image Old\nfile 999 path=/pad\n");
	settle_into_snapshot(r, "Old");
	size_t n;
	uint8_t *d = (uint8_t *)unit_read_file(path, &n);
	CU_ASSERT_FATAL(d != NULL && n > 40);
	CU_ASSERT(d[36] == 2 && !d[37] && !d[38] && !d[39]);
	free(d);
	r = restart(r, dir, 1, "from the version 2 snapshot a version 1 one became");
	ctl_registry_free(r);
}

static const struct unit_test journal_tests[] = {
	{ "restore replays every command kind byte for byte", test_restore_replays_every_command_kind },
	{ "restore from snapshots", test_restore_from_snapshots },
	{ "executables are kept by content", test_executables_are_kept_by_content },
	{ "a torn tail is dropped and cut off", test_torn_tail_is_dropped },
	{ "damage refuses to start", test_damage_refuses_to_start },
	{ "a bad record before good ones is damage; recovery keeps those before it",
	  test_bad_record_before_good_ones },
	{ "missing journal files and snapshots refuse; recovery", test_missing_files },
	{ "a damaged executable refuses; recovery", test_damaged_executable },
	{ "the newest journal file lost refuses; a torn move to it does not",
	  test_newest_journal_lost },
	{ "rejected batches leave no trace; one daemon per directory",
	  test_rejected_batches_leave_no_trace_and_the_lock_holds },
	{ "max_memory refuses commits and images", test_memory_limit },
	{ "a failed compaction is reported and retried later", test_failed_compaction_is_reported },
	{ "a binary snapshot round-trips every record kind and field",
	  test_binary_snapshot_round_trips_every_field },
	{ "a damaged binary snapshot refuses; recovery", test_damaged_binary_snapshot },
	{ "a binary snapshot round-trips every field of rich debug info",
	  test_binary_snapshot_round_trips_rich_records },
	{ "damaged records of globals and abstract functions refuse",
	  test_damaged_rich_records },
	{ "a version 1 snapshot is read by its rules", test_version_1_snapshot_is_read },
	{ "compactions run and stop in a process forked after attaching",
	  test_compaction_after_fork },
	{ NULL, NULL },
};

UNIT_SUITE(journal, journal_tests)
