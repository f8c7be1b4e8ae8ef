/* Suite tree: fs/tree.c, the mount's namespace without a mount. A mount's state (fs_new
 * from a configuration of two images) gets generations through ctl_run_script, then
 * every path of the README's tree is looked up from the root, one component at a time
 * as the kernel does, and its node, attributes, listing and bytes are checked: kinds and
 * generations against the tree the README draws, sizes against the generations' own
 * gen_size and the bytes tree_bytes hands out, text files against the protocol lines
 * that were sent, modes against what the README promises (a read-only tree, a control
 * file for its owner). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "fs.h"
#include "gen.h"
#include "handle.h"
#include "image.h"
#include "node.h"
#include "tree.h"
#include "unit.h"

static const char CONF_TEXT[] =
	"[dsymfs]\n"
	"log_level = error\n"
	"keep_generations = 3\n"
	"[image Foo]\n"
	"uuid = 0F0F0F0F-1111-2222-3333-444444444444\n"
	"[image Bar]\n"
	"uuid = 0B0B0B0B-1111-2222-3333-444444444444\n"
	"arch = arm64\n";

/* docs/protocol.md's example, in its two steps: generations 2 and 3 of Foo. */
static const char FILE_LINE[] = "file 1 path=/src/hello.c";
static const char STEP1[] =
	"image Foo\n"
	"file 1 path=/src/hello.c\n"
	"type 1 kind=base name=int size=4 enc=signed\n"
	"type 2 kind=base name=char size=1 enc=signed_char\n"
	"type 3 kind=pointer to=2\n"
	"section __TEXT __text addr=0x100000400 size=0x40\n"
	"fn 1 name=main low_pc=0x100000400 size=0x20 file=1 line=3 ret=1 params=argc:1,argv:3 "
	"rows=0:3:0,8:4:5:sp,0x18:5:1:se\n"
	"fn 2 name=helper low_pc=0x100000420 size=0x10 file=1 line=8 rows=0:8,4:9:3:sp\n"
	"commit\n";
static const char STEP2[] =
	"image Foo\n"
	"section __TEXT __text addr=0x100000400 size=0x50\n"
	"move-range from=0x100000420 to=0x100000500 by=0x10\n"
	"line-range file=1 from=8 to=1000 by=2\n"
	"fn 1 name=main low_pc=0x100000400 size=0x30 file=1 line=3 ret=1 params=argc:1,argv:3 "
	"rows=0:3:0,8:4:5:sp,0x28:5:1:se\n"
	"commit\n";

static void run(struct fs *fs, const char *script)
{
	char err[512] = "";
	int rc = ctl_run_script(fs->reg, script, strlen(script), err, sizeof err);
	if (rc)
		fprintf(stderr, "tree: script failed: %s\n", err);
	CU_ASSERT_FATAL(rc == 0);
}

/* A mount's state with Foo at generation 3 (1, 2, 3 retained) and Bar at 1. Caller
 * frees it (fs_free). */
static struct fs *new_fs(void)
{
	struct conf c;
	char err[512] = "";
	CU_ASSERT_FATAL(conf_load_string(&c, CONF_TEXT, "tree-test", err, sizeof err) == 0);
	struct fs *fs = NULL;
	int rc = fs_new(&c, &fs, err, sizeof err);
	if (rc)
		fprintf(stderr, "tree: fs_new: %s\n", err);
	CU_ASSERT_FATAL(rc == 0);
	run(fs, STEP1);
	run(fs, STEP2);
	return fs;
}

static struct image *foo(struct fs *fs)
{
	struct image *im = ctl_registry_find(fs->reg, "Foo");
	CU_ASSERT_FATAL(im != NULL);
	return im;
}

static uint64_t current_number(struct image *im)
{
	struct gen *g = image_current(im);
	uint64_t n = gen_number(g);
	gen_unref(g);
	return n;
}

/* Looks path up from the root, one component at a time, each lookup given the
 * generation its directory belongs to. *out is owned by the caller (tree_child_release).
 * Returns 0 or the error of the first lookup that failed. */
static int walk(struct fs *fs, const char *path, struct tree_child *out)
{
	struct tree_child cur = {.id = {NODE_ROOT, 0, 0}};
	char buf[512], *save = NULL;
	unit_fmt(buf, sizeof buf, "%s", path);
	for (char *name = strtok_r(buf, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		struct tree_child next;
		int rc = tree_lookup(fs, &cur.id, cur.g, name, &next);
		tree_child_release(&cur);
		if (rc)
			return rc;
		cur = next;
	}
	*out = cur;
	return 0;
}

/* The node at path, which must exist. */
static struct tree_child must_walk(struct fs *fs, const char *path)
{
	struct tree_child c;
	int rc = walk(fs, path, &c);
	if (rc)
		fprintf(stderr, "tree: %s: %s\n", path, strerror(-rc));
	CU_ASSERT_FATAL(rc == 0);
	return c;
}

struct expect {
	const char *path;
	enum node_kind kind;
	uint32_t image;
	uint64_t gen;       /* UINT64_MAX: Foo's current generation */
};
#define CURRENT UINT64_MAX

static void check_node(struct fs *fs, const struct expect *e)
{
	struct tree_child c = must_walk(fs, e->path);
	uint64_t gen = e->gen == CURRENT ? current_number(foo(fs)) : e->gen;
	CU_ASSERT_EQUAL(c.id.kind, e->kind);
	CU_ASSERT_EQUAL(c.id.image, e->image);
	CU_ASSERT_EQUAL(c.id.gen, gen);
	/* A node of a generation holds it; the others hold none. */
	CU_ASSERT_EQUAL(c.g != NULL, gen != 0);
	if (c.g)
		CU_ASSERT_EQUAL(gen_number(c.g), gen);
	if (c.id.kind != e->kind || c.id.gen != gen)
		fprintf(stderr, "tree: %s is kind %d gen %llu\n", e->path, c.id.kind,
			(unsigned long long)c.id.gen);
	tree_child_release(&c);
}

static void test_every_path_of_the_readme_tree_is_found(void)
{
	struct fs *fs = new_fs();
	const struct expect paths[] = {
		{"control", NODE_CONTROL, 0, 0},
		{"status", NODE_STATUS, 0, 0},
		{"images", NODE_IMAGES, 0, 0},
		{"Foo.dSYM", NODE_BUNDLE, 0, 0},
		{"Foo.dSYM/Contents", NODE_CONTENTS, 0, 0},
		{"Foo.dSYM/Contents/Info.plist", NODE_PLIST, 0, CURRENT},
		{"Foo.dSYM/Contents/Resources", NODE_RESOURCES, 0, 0},
		{"Foo.dSYM/Contents/Resources/DWARF", NODE_DWARF_DIR, 0, 0},
		{"Foo.dSYM/Contents/Resources/DWARF/Foo", NODE_DWARF, 0, CURRENT},
		{"Bar.dSYM/Contents/Info.plist", NODE_PLIST, 1, 1},
		{"Bar.dSYM/Contents/Resources/DWARF/Bar", NODE_DWARF, 1, 1},
		{"images/Foo", NODE_IMAGE_DIR, 0, 0},
		{"images/Foo/decls", NODE_DECLS, 0, 0},
		{"images/Foo/files", NODE_FILES, 0, 0},
		{"images/Foo/types", NODE_TYPES, 0, 0},
		{"images/Foo/globals", NODE_GLOBALS, 0, 0},
		{"images/Foo/errors", NODE_ERRORS, 0, 0},
		{"images/Foo/generations", NODE_GENERATIONS, 0, 0},
		{"images/Bar/decls", NODE_DECLS, 1, 0},
		{"images/Bar/generations/1/Bar.dSYM/Contents/Resources/DWARF/Bar", NODE_DWARF, 1, 1},
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		check_node(fs, &paths[i]);
	/* Every retained generation of Foo, through generations/N. */
	for (uint64_t n = 1; n <= 3; n++) {
		char p[256];
		const struct {
			const char *suffix;
			enum node_kind kind;
		} under[] = {
			{"", NODE_GEN_DIR},
			{"/Foo.dSYM", NODE_BUNDLE},
			{"/Foo.dSYM/Contents", NODE_CONTENTS},
			{"/Foo.dSYM/Contents/Info.plist", NODE_PLIST},
			{"/Foo.dSYM/Contents/Resources", NODE_RESOURCES},
			{"/Foo.dSYM/Contents/Resources/DWARF", NODE_DWARF_DIR},
			{"/Foo.dSYM/Contents/Resources/DWARF/Foo", NODE_DWARF},
		};
		for (size_t i = 0; i < sizeof under / sizeof under[0]; i++) {
			unit_fmt(p, sizeof p, "images/Foo/generations/%llu%s",
				 (unsigned long long)n, under[i].suffix);
			check_node(fs, &(struct expect){p, under[i].kind, 0, n});
		}
	}
	fs_free(fs);
}

static void test_names_that_are_not_in_the_tree_are_enoent(void)
{
	struct fs *fs = new_fs();
	const char *missing[] = {
		"nope", "Baz.dSYM", "Foo", "Foo.dsym", "images/Baz", "images/Foo/nope",
		"Foo.dSYM/Contents/Resources/DWARF/Bar", "Foo.dSYM/Info.plist",
		"images/Foo/generations/0", "images/Foo/generations/4",
		"images/Foo/generations/01", "images/Foo/generations/3/Bar.dSYM",
		"images/Bar/generations/2",
		/* names that merely start like one */
		"controlx", "images/Foo/decls2", "images/Foo/generations/10",
		"images/Foo/generations/1/Foo.dSYMx", "Foo.dSYM/Contents/Resources/DWARF/Fo",
	};
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		struct tree_child c;
		int rc = walk(fs, missing[i], &c);
		if (rc != -ENOENT)
			fprintf(stderr, "tree: %s: %d\n", missing[i], rc);
		CU_ASSERT_EQUAL(rc, -ENOENT);
	}
	/* Past keep_generations, the oldest generation's directory goes. */
	run(fs, "image Foo\nfile 2 path=/src/two.c\ncommit\n");
	struct tree_child c;
	CU_ASSERT_EQUAL(walk(fs, "images/Foo/generations/1", &c), -ENOENT);
	c = must_walk(fs, "images/Foo/generations/4");
	tree_child_release(&c);
	fs_free(fs);
}

static void test_files_are_not_directories_and_unknown_images_are_stale(void)
{
	struct fs *fs = new_fs();
	const char *files[] = {"control", "status", "images/Foo/decls",
			       "Foo.dSYM/Contents/Info.plist",
			       "Foo.dSYM/Contents/Resources/DWARF/Foo"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		struct tree_child c = must_walk(fs, files[i]), x;
		struct tree_child *v;
		size_t n;
		CU_ASSERT_FALSE(tree_is_dir(c.id.kind));
		CU_ASSERT_EQUAL(tree_children(fs, &c.id, c.g, &v, &n), -ENOTDIR);
		CU_ASSERT_EQUAL(tree_lookup(fs, &c.id, c.g, "x", &x), -ENOTDIR);
		tree_child_release(&c);
	}
	/* Two images: index 2 names none. */
	const struct node_id stale[] = {{NODE_IMAGE_DIR, 2, 0}, {NODE_BUNDLE, 2, 0},
					{NODE_GENERATIONS, 9, 0}};
	for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
		struct tree_child *v;
		size_t n;
		struct stat st;
		double t;
		CU_ASSERT_EQUAL(tree_children(fs, &stale[i], NULL, &v, &n), -ESTALE);
		CU_ASSERT_EQUAL(tree_attr(fs, &stale[i], NULL, &st, &t), -ESTALE);
	}
	struct handle_bytes b;
	struct node_id decls = {NODE_DECLS, 2, 0};
	CU_ASSERT_EQUAL(tree_bytes(fs, &decls, NULL, &b), -ESTALE);
	fs_free(fs);
}

/* ---- listings ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The listing of path, its names sorted and joined by spaces, checked to be what a
 * lookup of each name finds. */
static void check_listing(struct fs *fs, const char *path, const char *want)
{
	struct tree_child dir = must_walk(fs, path), *v = NULL;
	size_t n = 0;
	CU_ASSERT_TRUE(tree_is_dir(dir.id.kind));
	CU_ASSERT_EQUAL_FATAL(tree_children(fs, &dir.id, dir.g, &v, &n), 0);
	const char **names = calloc(n + 1, sizeof *names);
	CU_ASSERT_FATAL(names != NULL);
	for (size_t i = 0; i < n; i++) {
		names[i] = v[i].name;
		struct tree_child c;
		CU_ASSERT_EQUAL_FATAL(tree_lookup(fs, &dir.id, dir.g, v[i].name, &c), 0);
		CU_ASSERT(c.id.kind == v[i].id.kind && c.id.image == v[i].id.image &&
			  c.id.gen == v[i].id.gen);
		CU_ASSERT_EQUAL(c.g != NULL, c.id.gen != 0);
		tree_child_release(&c);
	}
	qsort(names, n, sizeof *names, cmp_str);
	char got[1024] = "";
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", i ? " " : "", names[i]);
	CU_ASSERT_FATAL(len < sizeof got);
	if (strcmp(got, want))
		fprintf(stderr, "tree: %s lists \"%s\", not \"%s\"\n", path, got, want);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(names);
	tree_children_free(v, n);
	tree_child_release(&dir);
}

static void test_every_directory_lists_what_the_readme_shows(void)
{
	struct fs *fs = new_fs();
	check_listing(fs, "", "Bar.dSYM Foo.dSYM control images status");
	check_listing(fs, "images", "Bar Foo");
	check_listing(fs, "images/Foo", "decls errors files generations globals types");
	check_listing(fs, "images/Foo/generations", "1 2 3");
	check_listing(fs, "images/Bar/generations", "1");
	check_listing(fs, "Foo.dSYM", "Contents");
	check_listing(fs, "Foo.dSYM/Contents", "Info.plist Resources");
	check_listing(fs, "Foo.dSYM/Contents/Resources", "DWARF");
	check_listing(fs, "Foo.dSYM/Contents/Resources/DWARF", "Foo");
	check_listing(fs, "Bar.dSYM/Contents/Resources/DWARF", "Bar");
	check_listing(fs, "images/Foo/generations/2", "Foo.dSYM");
	check_listing(fs, "images/Foo/generations/2/Foo.dSYM/Contents", "Info.plist Resources");
	check_listing(fs, "images/Foo/generations/2/Foo.dSYM/Contents/Resources/DWARF", "Foo");
	/* keep_generations = 3: generation 1 leaves the listing with the fourth commit. */
	run(fs, "image Foo\nfile 2 path=/src/two.c\ncommit\n");
	check_listing(fs, "images/Foo/generations", "2 3 4");
	/* An image made at run time joins the root and images/. */
	run(fs, "image Baz create arch=arm64\n");
	check_listing(fs, "", "Bar.dSYM Baz.dSYM Foo.dSYM control images status");
	check_listing(fs, "images", "Bar Baz Foo");
	fs_free(fs);
}

/* ---- attributes -------------------------------------------------------------------- */

static void attr_of(struct fs *fs, const char *path, struct stat *st, double *timeout)
{
	struct tree_child c = must_walk(fs, path);
	CU_ASSERT_EQUAL_FATAL(tree_attr(fs, &c.id, c.g, st, timeout), 0);
	CU_ASSERT_EQUAL(st->st_ino, node_encode(c.id.kind, c.id.image, c.id.gen));
	CU_ASSERT_EQUAL(st->st_uid, getuid());
	CU_ASSERT_EQUAL(st->st_gid, getgid());
	CU_ASSERT_EQUAL(S_ISDIR(st->st_mode), tree_is_dir(c.id.kind));
	CU_ASSERT_EQUAL(st->st_blocks, (st->st_size + 511) / 512);
	tree_child_release(&c);
}

static void test_directories_are_read_only_and_control_is_its_owners(void)
{
	struct fs *fs = new_fs();
	const char *dirs[] = {"", "images", "images/Foo", "images/Foo/generations",
			      "images/Foo/generations/2", "Foo.dSYM", "Foo.dSYM/Contents",
			      "Foo.dSYM/Contents/Resources", "Foo.dSYM/Contents/Resources/DWARF",
			      "images/Foo/generations/3/Foo.dSYM/Contents/Resources/DWARF"};
	struct stat st;
	double t;
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		attr_of(fs, dirs[i], &st, &t);
		CU_ASSERT_EQUAL(st.st_mode, S_IFDIR | 0555);
		CU_ASSERT(st.st_nlink >= 2);
		CU_ASSERT(t > 0);
	}
	attr_of(fs, "control", &st, &t);
	CU_ASSERT_EQUAL(st.st_mode, S_IFREG | 0600);
	CU_ASSERT_EQUAL(st.st_size, 0);
	fs_free(fs);
}

static void test_dwarf_files_have_their_generations_size_and_mtime(void)
{
	struct fs *fs = new_fs();
	struct image *im = foo(fs);
	struct stat st;
	double t;
	for (uint64_t n = 1; n <= 3; n++) {
		char p[256];
		unit_fmt(p, sizeof p, "images/Foo/generations/%llu/Foo.dSYM/Contents/Resources/DWARF/Foo",
			 (unsigned long long)n);
		struct gen *g = image_generation(im, n);
		CU_ASSERT_FATAL(g != NULL);
		attr_of(fs, p, &st, &t);
		CU_ASSERT_EQUAL(st.st_mode, S_IFREG | 0444);
		CU_ASSERT_EQUAL((uint64_t)st.st_size, gen_size(g));
		struct timespec m = gen_mtime(g);
		CU_ASSERT(st.st_mtim.tv_sec == m.tv_sec && st.st_mtim.tv_nsec == m.tv_nsec);
		CU_ASSERT(t > 0);   /* a generation never changes */
		gen_unref(g);
	}
	/* Generation 2 holds two functions more than generation 1: a bigger file. */
	struct stat s1, s2;
	attr_of(fs, "images/Foo/generations/1/Foo.dSYM/Contents/Resources/DWARF/Foo", &s1, &t);
	attr_of(fs, "images/Foo/generations/2/Foo.dSYM/Contents/Resources/DWARF/Foo", &s2, &t);
	CU_ASSERT(s2.st_size > s1.st_size);
	CU_ASSERT_NOT_EQUAL(s1.st_ino, s2.st_ino);
	fs_free(fs);
}

static void test_a_commit_gives_the_current_file_a_new_node_and_leaves_the_old_one(void)
{
	struct fs *fs = new_fs();
	struct image *im = foo(fs);
	const char *path = "Foo.dSYM/Contents/Resources/DWARF/Foo";
	struct tree_child old = must_walk(fs, path);
	struct stat before, after, now;
	double t;
	CU_ASSERT_EQUAL_FATAL(tree_attr(fs, &old.id, old.g, &before, &t), 0);
	CU_ASSERT_EQUAL(old.id.gen, 3);

	run(fs, "image Foo\nfn 3 name=more low_pc=0x100000440 size=0x10 file=1 line=20\n"
		"section __TEXT __text addr=0x100000400 size=0x60\ncommit\n");
	CU_ASSERT_EQUAL(current_number(im), 4);
	struct gen *g4 = image_current(im);
	attr_of(fs, path, &now, &t);
	CU_ASSERT_NOT_EQUAL(now.st_ino, before.st_ino);
	CU_ASSERT_EQUAL((uint64_t)now.st_size, gen_size(g4));
	CU_ASSERT(now.st_size > before.st_size);
	/* The node looked up before the commit still describes generation 3. */
	CU_ASSERT_EQUAL_FATAL(tree_attr(fs, &old.id, old.g, &after, &t), 0);
	CU_ASSERT_EQUAL(after.st_ino, before.st_ino);
	CU_ASSERT_EQUAL(after.st_size, before.st_size);
	gen_unref(g4);
	tree_child_release(&old);
	fs_free(fs);
}

/* ---- small files ------------------------------------------------------------------- */

/* The bytes of the file at path (malloc'd, NUL-terminated; caller frees), checked to be
 * as long as its attributes say. */
static char *bytes_of(struct fs *fs, const char *path, double *timeout)
{
	struct tree_child c = must_walk(fs, path);
	struct handle_bytes b;
	CU_ASSERT_EQUAL_FATAL(tree_bytes(fs, &c.id, c.g, &b), 0);
	char *s = malloc(b.len + 1);
	CU_ASSERT_FATAL(s != NULL);
	memcpy(s, b.data, b.len);
	s[b.len] = 0;
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(tree_attr(fs, &c.id, c.g, &st, timeout), 0);
	if (c.id.kind != NODE_STATUS)   /* status shows memory use, which moves */
		CU_ASSERT_EQUAL((size_t)st.st_size, b.len);
	CU_ASSERT_EQUAL(st.st_mode, S_IFREG | 0444);
	handle_bytes_release(&b);
	CU_ASSERT_PTR_NULL(b.g);
	CU_ASSERT_PTR_NULL(b.owned);
	tree_child_release(&c);
	return s;
}

static size_t count_lines(const char *s, const char *prefix)
{
	size_t n = 0;
	for (const char *l = s; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		n += !strncmp(l, prefix, strlen(prefix));
	return n;
}

static void test_text_files_hold_what_was_committed_and_are_never_cached(void)
{
	struct fs *fs = new_fs();
	double t;
	char *s = bytes_of(fs, "images/Foo/files", &t);
	CU_ASSERT_EQUAL(t, 0);
	char want[128];
	unit_fmt(want, sizeof want, "%s\n", FILE_LINE);
	CU_ASSERT_STRING_EQUAL(s, want);
	free(s);

	s = bytes_of(fs, "images/Foo/types", &t);
	CU_ASSERT_EQUAL(t, 0);
	CU_ASSERT_EQUAL(count_lines(s, "type "), 3);
	CU_ASSERT_EQUAL(count_lines(s, ""), 3);
	free(s);

	s = bytes_of(fs, "images/Foo/decls", &t);
	CU_ASSERT_EQUAL(t, 0);
	CU_ASSERT_EQUAL(count_lines(s, "fn 1 name=main "), 1);
	CU_ASSERT_EQUAL(count_lines(s, "fn 2 name=helper "), 1);
	/* step 2 moved helper by 0x10 and its lines by 2 */
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "low_pc=0x100000430"));
	CU_ASSERT_EQUAL(count_lines(s, ""), 2);
	free(s);

	s = bytes_of(fs, "images/Bar/decls", &t);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);

	s = bytes_of(fs, "status", &t);
	CU_ASSERT_EQUAL(t, 0);
	CU_ASSERT_EQUAL(count_lines(s, "Foo "), 1);
	CU_ASSERT_EQUAL(count_lines(s, "Bar "), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, " generation=3 "));
	free(s);
	fs_free(fs);
}

static void test_errors_show_a_rejected_batch(void)
{
	struct fs *fs = new_fs();
	double t;
	char *s = bytes_of(fs, "images/Foo/errors", &t);
	CU_ASSERT_EQUAL(t, 0);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	const char bad[] = "image Foo\nfn 9 name=x low_pc=0x100000400 size=4 file=77 line=1\ncommit\n";
	char err[512];
	CU_ASSERT_NOT_EQUAL(ctl_run_script(fs->reg, bad, strlen(bad), err, sizeof err), 0);
	s = bytes_of(fs, "images/Foo/errors", &t);
	CU_ASSERT(strlen(s) > 0);
	free(s);
	s = bytes_of(fs, "images/Bar/errors", &t);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	CU_ASSERT_EQUAL(current_number(foo(fs)), 3);
	fs_free(fs);
}

static void test_info_plist_is_a_plist_of_its_generation(void)
{
	struct fs *fs = new_fs();
	double t;
	char *cur = bytes_of(fs, "Foo.dSYM/Contents/Info.plist", &t);
	CU_ASSERT(t > 0);
	CU_ASSERT_EQUAL(strncmp(cur, "<?xml", 5), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(cur, "<plist"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cur, "Foo"));
	char *g3 = bytes_of(fs, "images/Foo/generations/3/Foo.dSYM/Contents/Info.plist", &t);
	CU_ASSERT_STRING_EQUAL(cur, g3);
	free(cur);
	free(g3);
	/* Only small files have bytes here: the DWARF file is read through its generation. */
	struct tree_child c = must_walk(fs, "Foo.dSYM/Contents/Resources/DWARF/Foo");
	struct handle_bytes b;
	CU_ASSERT_EQUAL(tree_bytes(fs, &c.id, c.g, &b), -EINVAL);
	tree_child_release(&c);
	c = must_walk(fs, "control");
	CU_ASSERT_EQUAL(tree_bytes(fs, &c.id, c.g, &b), -EINVAL);
	tree_child_release(&c);
	fs_free(fs);
}

static const struct unit_test tree_tests[] = {
	{"every_path_of_the_readme_tree_is_found", test_every_path_of_the_readme_tree_is_found},
	{"names_that_are_not_in_the_tree_are_enoent",
	 test_names_that_are_not_in_the_tree_are_enoent},
	{"files_are_not_directories_and_unknown_images_are_stale",
	 test_files_are_not_directories_and_unknown_images_are_stale},
	{"every_directory_lists_what_the_readme_shows",
	 test_every_directory_lists_what_the_readme_shows},
	{"directories_are_read_only_and_control_is_its_owners",
	 test_directories_are_read_only_and_control_is_its_owners},
	{"dwarf_files_have_their_generations_size_and_mtime",
	 test_dwarf_files_have_their_generations_size_and_mtime},
	{"a_commit_gives_the_current_file_a_new_node_and_leaves_the_old_one",
	 test_a_commit_gives_the_current_file_a_new_node_and_leaves_the_old_one},
	{"text_files_hold_what_was_committed_and_are_never_cached",
	 test_text_files_hold_what_was_committed_and_are_never_cached},
	{"errors_show_a_rejected_batch", test_errors_show_a_rejected_batch},
	{"info_plist_is_a_plist_of_its_generation", test_info_plist_is_a_plist_of_its_generation},
	{NULL, NULL},
};

UNIT_SUITE(tree, tree_tests)
