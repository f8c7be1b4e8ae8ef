/* Tests for conf: every key and its default, every error with its line, relative exe
 * paths, the embedded default, and the registry built from a configuration. Expected
 * values are written out here (from conf.h's documentation and Mach-O's constants), not
 * read from the key table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "registry.h"
#include "unit.h"

#define CPU_X86_64 0x01000007u   /* <mach/machine.h> CPU_TYPE_X86_64 */
#define CPU_ARM64  0x0100000cu   /* CPU_TYPE_ARM64 */

static char err[1024];

static int load(struct conf *c, const char *text)
{
	err[0] = 0;
	return conf_load_string(c, text, "t.ini", err, sizeof err);
}

/* The text must be refused with -EINVAL and exactly this message, leaving c zeroed. */
static void expect_error(const char *text, const char *message)
{
	struct conf c;
	memset(&c, 0xa5, sizeof c);
	int rc = load(&c, text);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, message);
	if (strcmp(err, message))
		fprintf(stderr, "\n  got:      %s\n  expected: %s\n", err, message);
	CU_ASSERT_EQUAL(c.nimages, 0);
	CU_ASSERT_PTR_NULL(c.images);
	CU_ASSERT_PTR_NULL(c.origin);
	conf_free(&c);
}

static void test_defaults(void)
{
	struct conf c;
	CU_ASSERT_EQUAL_FATAL(load(&c, "[dsymfs]\n"), 0);
	CU_ASSERT_EQUAL(c.log_level, CONF_LOG_INFO);
	CU_ASSERT_EQUAL(c.limits.keep_generations, 8);
	CU_ASSERT_EQUAL(c.limits.max_line, 1048576);
	CU_ASSERT_EQUAL(c.limits.max_batch_bytes, 1073741824);
	CU_ASSERT_EQUAL(c.limits.max_decls, 0);
	CU_ASSERT_EQUAL(c.limits.max_images, 64);
	CU_ASSERT_EQUAL(c.nimages, 0);
	CU_ASSERT_STRING_EQUAL(c.origin, "t.ini");
	/* The core's own defaults agree with the documented ones. */
	struct ctl_limits d;
	ctl_limits_default(&d);
	CU_ASSERT_EQUAL(d.keep_generations, c.limits.keep_generations);
	CU_ASSERT_EQUAL(d.max_line, c.limits.max_line);
	CU_ASSERT_EQUAL(d.max_batch_bytes, c.limits.max_batch_bytes);
	CU_ASSERT_EQUAL(d.max_decls, c.limits.max_decls);
	CU_ASSERT_EQUAL(d.max_images, c.limits.max_images);
	conf_free(&c);

	/* An empty file is a valid configuration with no images. */
	CU_ASSERT_EQUAL_FATAL(load(&c, ""), 0);
	CU_ASSERT_EQUAL(c.nimages, 0);
	CU_ASSERT_EQUAL(c.limits.max_images, 64);
	conf_free(&c);
}

static void test_global_keys(void)
{
	struct conf c;
	CU_ASSERT_EQUAL_FATAL(load(&c, "; comment\n"
				      "[dsymfs]\n"
				      "log_level = debug\n"
				      "keep_generations = 3\n"
				      "max_line=0x100\n"
				      "  max_batch_bytes   =   4096   ; inline comment\n"
				      "# another comment\n"
				      "max_decls = 18446744073709551615\n"
				      "max_images = 65535\n"), 0);
	CU_ASSERT_EQUAL(c.log_level, CONF_LOG_DEBUG);
	CU_ASSERT_EQUAL(c.limits.keep_generations, 3);
	CU_ASSERT_EQUAL(c.limits.max_line, 256);
	CU_ASSERT_EQUAL(c.limits.max_batch_bytes, 4096);
	CU_ASSERT_EQUAL(c.limits.max_decls, UINT64_MAX);
	CU_ASSERT_EQUAL(c.limits.max_images, 65535);
	conf_free(&c);

	static const struct {
		const char *word;
		enum conf_log_level level;
	} levels[] = {
		{"error", CONF_LOG_ERROR}, {"warn", CONF_LOG_WARN},
		{"info", CONF_LOG_INFO}, {"debug", CONF_LOG_DEBUG},
	};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		char text[64];
		snprintf(text, sizeof text, "[dsymfs]\nlog_level = %s\n", levels[i].word);
		CU_ASSERT_EQUAL_FATAL(load(&c, text), 0);
		CU_ASSERT_EQUAL(c.log_level, levels[i].level);
		CU_ASSERT_STRING_EQUAL(conf_log_level_name(c.log_level), levels[i].word);
		conf_free(&c);
	}

	/* [dsymfs] may appear twice; its keys still only once. */
	CU_ASSERT_EQUAL_FATAL(load(&c, "[dsymfs]\nmax_decls = 5\n[image A]\n[dsymfs]\n"
				      "max_images = 9\n"), 0);
	CU_ASSERT_EQUAL(c.limits.max_decls, 5);
	CU_ASSERT_EQUAL(c.limits.max_images, 9);
	CU_ASSERT_EQUAL(c.nimages, 1);
	conf_free(&c);
}

static void test_image_keys(void)
{
	struct conf c;
	CU_ASSERT_EQUAL_FATAL(load(&c, "[image Foo]\n"
				      "uuid = 01234567-89ab-CDEF-0123-456789ABCDEF\n"
				      "arch = arm64\n"
				      "[image Bar]\n"
				      "exe = /opt/bin/bar\n"
				      "[image Baz]\n"
				      "arch = x86_64\n"
				      "[image   Empty  ]\n"), 0);
	CU_ASSERT_EQUAL_FATAL(c.nimages, 4);
	const struct conf_image *im = c.images;
	CU_ASSERT_STRING_EQUAL(im[0].name, "Foo");
	CU_ASSERT_EQUAL(im[0].line, 1);
	CU_ASSERT_PTR_NULL(im[0].exe);
	CU_ASSERT_PTR_NULL(im[0].origin.exe_path);
	CU_ASSERT_TRUE(im[0].origin.has_uuid);
	static const unsigned char want[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					       0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
	CU_ASSERT_EQUAL(memcmp(im[0].origin.uuid, want, 16), 0);
	CU_ASSERT_TRUE(im[0].origin.has_arch);
	CU_ASSERT_EQUAL(im[0].origin.cputype, CPU_ARM64);
	CU_ASSERT_EQUAL(im[0].origin.cpusubtype, 0);

	CU_ASSERT_STRING_EQUAL(im[1].name, "Bar");
	CU_ASSERT_EQUAL(im[1].line, 4);
	CU_ASSERT_STRING_EQUAL(im[1].exe, "/opt/bin/bar");
	CU_ASSERT_PTR_EQUAL(im[1].origin.exe_path, im[1].exe);
	CU_ASSERT_FALSE(im[1].origin.has_uuid);
	CU_ASSERT_FALSE(im[1].origin.has_arch);

	CU_ASSERT_STRING_EQUAL(im[2].name, "Baz");
	CU_ASSERT_TRUE(im[2].origin.has_arch);
	CU_ASSERT_EQUAL(im[2].origin.cputype, CPU_X86_64);
	CU_ASSERT_EQUAL(im[2].origin.cpusubtype, 3);
	CU_ASSERT_FALSE(im[2].origin.has_uuid);

	/* A section without keys still makes an image, with every default. */
	CU_ASSERT_STRING_EQUAL(im[3].name, "Empty");
	CU_ASSERT_EQUAL(im[3].line, 8);
	CU_ASSERT_FALSE(im[3].origin.has_uuid);
	CU_ASSERT_FALSE(im[3].origin.has_arch);
	CU_ASSERT_PTR_NULL(im[3].exe);
	conf_free(&c);
	CU_ASSERT_EQUAL(c.nimages, 0);
	conf_free(&c);  /* twice is fine */
}

static void test_exe_relative(void)
{
	char dir[512], path[600];
	snprintf(dir, sizeof dir, "%s/conf", unit_tmpdir());
	CU_ASSERT_EQUAL_FATAL(unit_sh("mkdir -p '%s'", dir), 0);
	snprintf(path, sizeof path, "%s/dsymfs.ini", dir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("[image A]\nexe = build/prog\nlink = build/prog.dSYM\n[image B]\nexe = /abs/prog\n"
	      "link = /abs/prog.dSYM\n", f);
	fclose(f);

	struct conf c;
	CU_ASSERT_EQUAL_FATAL(conf_load_file(&c, path, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c.origin, path);
	CU_ASSERT_EQUAL_FATAL(c.nimages, 2);
	char want[700];
	snprintf(want, sizeof want, "%s/build/prog", dir);
	CU_ASSERT_STRING_EQUAL(c.images[0].exe, want);
	CU_ASSERT_STRING_EQUAL(c.images[1].exe, "/abs/prog");
	snprintf(want, sizeof want, "%s/build/prog.dSYM", dir);
	CU_ASSERT_STRING_EQUAL(c.images[0].link, want);
	CU_ASSERT_STRING_EQUAL(c.images[1].link, "/abs/prog.dSYM");
	conf_free(&c);

	/* Without a file's directory, a relative link starts from the working directory:
	 * the daemon leaves it, so the link is kept absolute. */
	CU_ASSERT_EQUAL_FATAL(load(&c, "[image A]\nlink = a.dSYM\n[image B]\n"), 0);
	char *cwd = getcwd(NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cwd);
	snprintf(want, sizeof want, "%s/a.dSYM", cwd);
	free(cwd);
	CU_ASSERT_STRING_EQUAL(c.images[0].link, want);
	CU_ASSERT_PTR_NULL(c.images[1].link);
	conf_free(&c);

	/* Two images cannot keep the same link. */
	CU_ASSERT_EQUAL(load(&c, "[image A]\nlink = /x/a.dSYM\n[image B]\n\nlink = /x/a.dSYM\n"),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "t.ini:3: image B: link /x/a.dSYM is already image A's "
			       "(line 1)");
	CU_ASSERT_EQUAL(c.nimages, 0);

	/* A file's errors are named by the path it was opened with. */
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("[dsymfs]\n\nkeep_generation = 2\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(conf_load_file(&c, path, err, sizeof err), -EINVAL);
	snprintf(want, sizeof want, "%s:3: key \"keep_generation\" is unknown in [dsymfs]", path);
	CU_ASSERT_STRING_EQUAL(err, want);

	snprintf(path, sizeof path, "%s/missing.ini", dir);
	CU_ASSERT_EQUAL(conf_load_file(&c, path, err, sizeof err), -ENOENT);
	snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(c.nimages, 0);
}

static void test_errors_keys(void)
{
	expect_error("[dsymfs]\nlog_level = info\n\n# x\n\n\nkeep_generation = 2\n",
		     "t.ini:7: key \"keep_generation\" is unknown in [dsymfs]");
	expect_error("[image Foo]\narch = x86_64\nexe_path = /bin/true\n",
		     "t.ini:3: key \"exe_path\" is unknown in [image Foo]");
	expect_error("[image Foo]\nlog_level = info\n",
		     "t.ini:2: key \"log_level\" is unknown in [image Foo]");
	expect_error("[dsymfs]\narch = x86_64\n",
		     "t.ini:2: key \"arch\" is unknown in [dsymfs]");
	expect_error("max_line = 5\n[dsymfs]\n",
		     "t.ini:1: key \"max_line\" comes before any section ([dsymfs] or "
		     "[image NAME])");
	expect_error("[dsymfs]\nmax_line = 5\nmax_line = 6\n",
		     "t.ini:3: key \"max_line\" is given twice in [dsymfs] (first on line 2)");
	expect_error("[dsymfs]\nmax_line = 5\n[dsymfs]\nmax_line = 6\n",
		     "t.ini:4: key \"max_line\" is given twice in [dsymfs] (first on line 2)");
	expect_error("[image A]\narch = arm64\narch = arm64\n",
		     "t.ini:3: key \"arch\" is given twice in [image A] (first on line 2)");
	/* exe excludes uuid and arch, in either order. */
	expect_error("[image A]\nexe = /bin/a\nuuid = 01234567-89AB-CDEF-0123-456789ABCDEF\n",
		     "t.ini:3: key \"uuid\" cannot be combined with \"exe\" (line 2) in "
		     "[image A]");
	expect_error("[image A]\narch = arm64\n\nexe = /bin/a\n",
		     "t.ini:4: key \"exe\" cannot be combined with \"arch\" (line 2) in "
		     "[image A]");
	/* Only the section's own keys count: another image may use exe. */
	struct conf c;
	CU_ASSERT_EQUAL(load(&c, "[image A]\narch = arm64\n[image B]\nexe = /bin/b\n"), 0);
	conf_free(&c);
}

static void test_errors_values(void)
{
	expect_error("[dsymfs]\nlog_level = loud\n",
		     "t.ini:2: key \"log_level\": \"loud\" is not one of error, warn, info, debug");
	expect_error("[dsymfs]\nlog_level = INFO\n",
		     "t.ini:2: key \"log_level\": \"INFO\" is not one of error, warn, info, debug");
	expect_error("[dsymfs]\nmax_line = 12x\n",
		     "t.ini:2: key \"max_line\": \"12x\" is not a number (decimal or 0x hex)");
	expect_error("[dsymfs]\nmax_line =\n",
		     "t.ini:2: key \"max_line\": \"\" is not a number (decimal or 0x hex)");
	expect_error("[dsymfs]\nmax_decls = -1\n",
		     "t.ini:2: key \"max_decls\": \"-1\" is not a number (decimal or 0x hex)");
	expect_error("[dsymfs]\nmax_batch_bytes = 0x\n",
		     "t.ini:2: key \"max_batch_bytes\": \"0x\" is not a number (decimal or 0x hex)");
	expect_error("[dsymfs]\nkeep_generations = 0\n",
		     "t.ini:2: key \"keep_generations\": 0 is out of range (1..4294967295)");
	expect_error("[dsymfs]\nkeep_generations = 4294967296\n",
		     "t.ini:2: key \"keep_generations\": 4294967296 is out of range "
		     "(1..4294967295)");
	expect_error("[dsymfs]\nmax_images = 65536\n",
		     "t.ini:2: key \"max_images\": 65536 is out of range (1..65535)");
	expect_error("[dsymfs]\nmax_images = 0\n",
		     "t.ini:2: key \"max_images\": 0 is out of range (1..65535)");
	expect_error("[dsymfs]\nmax_line = 0\n",
		     "t.ini:2: key \"max_line\": 0 is out of range (1..18446744073709551615)");
	expect_error("[dsymfs]\nmax_decls = 18446744073709551616\n",
		     "t.ini:2: key \"max_decls\": 18446744073709551616 is out of range "
		     "(0..18446744073709551615)");
	expect_error("[image A]\nuuid = 01234567-89AB-CDEF-0123-456789ABCDE\n",
		     "t.ini:2: key \"uuid\": \"01234567-89AB-CDEF-0123-456789ABCDE\" is not a UUID "
		     "(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX, hex)");
	expect_error("[image A]\narch = i386\n",
		     "t.ini:2: key \"arch\": \"i386\" is not x86_64 or arm64");
	expect_error("[image A]\nexe =\n", "t.ini:2: key \"exe\" needs a path");
}

static void test_errors_sections(void)
{
	expect_error("[dsymfs]\n[images Foo]\narch = arm64\n",
		     "t.ini:2: section [images Foo] is unknown (expected [dsymfs] or "
		     "[image NAME])");
	expect_error("[global]\n", "t.ini:1: section [global] is unknown (expected [dsymfs] or "
		     "[image NAME])");
	expect_error("[image Foo]\n\n[image Foo]\n",
		     "t.ini:3: image Foo is already defined on line 1");
	expect_error("[image a/b]\n",
		     "t.ini:1: section [image a/b]: an image name is one word without '/'");
	expect_error("[image Foo Bar]\n",
		     "t.ini:1: section [image Foo Bar]: an image name is one word without '/'");
	expect_error("[image ..]\n",
		     "t.ini:1: section [image ..]: an image name is one word without '/'");
	expect_error("[image]\n",
		     "t.ini:1: section [image] is unknown (expected [dsymfs] or [image NAME])");
	/* The image count is checked against max_images wherever the key is. */
	expect_error("[image A]\n[image B]\n[image C]\n[dsymfs]\nmax_images = 2\n",
		     "t.ini:3: image C is one more than max_images (2)");
}

static void test_errors_syntax(void)
{
	expect_error("[dsymfs]\nmax_line 5\n",
		     "t.ini:2: syntax error: expected [section], key = value, or a comment");
	expect_error("[dsymfs\n",
		     "t.ini:1: syntax error: expected [section], key = value, or a comment");
	/* The first error wins, whichever kind it is. */
	expect_error("[dsymfs]\nbogus = 1\nmax_line 5\n",
		     "t.ini:2: key \"bogus\" is unknown in [dsymfs]");
	expect_error("[dsymfs]\nmax_line 5\nbogus = 1\n",
		     "t.ini:2: syntax error: expected [section], key = value, or a comment");
	/* A line inih would cut in two is refused, not half read. */
	char text[600];
	snprintf(text, sizeof text, "[image A]\n\nexe = /%0400d\n", 0);
	struct conf c;
	CU_ASSERT_EQUAL(load(&c, text), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.ini:3: line is longer than "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, " bytes"));
	/* A line without a final newline is still read. */
	CU_ASSERT_EQUAL_FATAL(load(&c, "[dsymfs]\nmax_decls = 7"), 0);
	CU_ASSERT_EQUAL(c.limits.max_decls, 7);
	conf_free(&c);
	/* CRLF line ends. */
	CU_ASSERT_EQUAL_FATAL(load(&c, "[dsymfs]\r\nmax_decls = 9\r\n[image W]\r\n"), 0);
	CU_ASSERT_EQUAL(c.limits.max_decls, 9);
	CU_ASSERT_EQUAL_FATAL(c.nimages, 1);
	CU_ASSERT_STRING_EQUAL(c.images[0].name, "W");
	conf_free(&c);
}

static void test_default(void)
{
	struct conf c;
	CU_ASSERT_EQUAL_FATAL(conf_load_default(&c, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c.origin, "(built-in)");
	CU_ASSERT_EQUAL(c.log_level, CONF_LOG_INFO);
	CU_ASSERT_EQUAL(c.limits.keep_generations, 8);
	CU_ASSERT_EQUAL_FATAL(c.nimages, 1);
	CU_ASSERT_STRING_EQUAL(c.images[0].name, "Foo");
	CU_ASSERT_PTR_NULL(c.images[0].exe);
	CU_ASSERT_FALSE(c.images[0].origin.has_uuid);
	CU_ASSERT_TRUE(c.images[0].origin.has_arch);
	CU_ASSERT_EQUAL(c.images[0].origin.cputype, CPU_X86_64);
	CU_ASSERT_PTR_NOT_NULL(strstr(conf_default_text(), "[image Foo]"));

	/* Two registries from the default: one image Foo each, x86_64, different UUIDs. */
	struct ctl_registry *r1 = NULL, *r2 = NULL;
	CU_ASSERT_EQUAL_FATAL(registry_from_conf(&c, &r1, err, sizeof err), 0);
	CU_ASSERT_EQUAL_FATAL(registry_from_conf(&c, &r2, err, sizeof err), 0);
	CU_ASSERT_EQUAL(ctl_registry_count(r1), 1);
	struct image *i1 = ctl_registry_find(r1, "Foo"), *i2 = ctl_registry_find(r2, "Foo");
	CU_ASSERT_PTR_NOT_NULL_FATAL(i1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(i2);
	struct gen *g1 = image_current(i1), *g2 = image_current(i2);
	CU_ASSERT_EQUAL(gen_cputype(g1), CPU_X86_64);
	CU_ASSERT_EQUAL(gen_number(g1), 1);
	CU_ASSERT_NOT_EQUAL(memcmp(gen_uuid(g1), gen_uuid(g2), 16), 0);
	/* The limits travel into the registry. */
	CU_ASSERT_EQUAL(ctl_registry_limits(r1)->max_images, 64);
	gen_unref(g1);
	gen_unref(g2);
	ctl_registry_free(r1);
	ctl_registry_free(r2);
	conf_free(&c);
}

static void test_registry(void)
{
	struct conf c;
	CU_ASSERT_EQUAL_FATAL(load(&c, "[dsymfs]\nkeep_generations = 2\nmax_images = 3\n"
				      "[image A]\nuuid = 00112233-4455-6677-8899-AABBCCDDEEFF\n"
				      "arch = arm64\n[image B]\n"), 0);
	struct ctl_registry *r = NULL;
	CU_ASSERT_EQUAL_FATAL(registry_from_conf(&c, &r, err, sizeof err), 0);
	CU_ASSERT_EQUAL(ctl_registry_count(r), 2);
	CU_ASSERT_EQUAL(ctl_registry_limits(r)->keep_generations, 2);
	CU_ASSERT_EQUAL(ctl_registry_limits(r)->max_images, 3);
	struct image *a = ctl_registry_at(r, 0);
	CU_ASSERT_STRING_EQUAL(image_name(a), "A");
	struct gen *g = image_current(a);
	static const unsigned char want[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	CU_ASSERT_EQUAL(memcmp(gen_uuid(g), want, 16), 0);
	CU_ASSERT_EQUAL(gen_cputype(g), CPU_ARM64);
	gen_unref(g);
	CU_ASSERT_STRING_EQUAL(image_name(ctl_registry_at(r, 1)), "B");
	ctl_registry_free(r);
	conf_free(&c);

	/* An image the core refuses is reported with its section's line. */
	CU_ASSERT_EQUAL_FATAL(load(&c, "[dsymfs]\n[image A]\narch = arm64\n\n"
				      "[image Bad]\nexe = /nonexistent/dsymfs-test-exe\n"), 0);
	r = NULL;
	int rc = registry_from_conf(&c, &r, err, sizeof err);
	CU_ASSERT_TRUE(rc < 0);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT_EQUAL(strncmp(err, "t.ini:5: image Bad: ", 20), 0);
	conf_free(&c);
}

static void test_print_keys(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	conf_print_keys(f);
	fclose(f);
	static const char *const want[] = {
		"[dsymfs]", "[image NAME]", "log_level = info", "keep_generations = 8",
		"max_line = 1048576", "max_batch_bytes = 1073741824", "max_decls = 0",
		"max_images = 64", "exe = ", "uuid = ", "arch = ",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		CU_ASSERT_PTR_NOT_NULL(strstr(text, want[i]));
	free(text);
}

static const struct unit_test conf_tests[] = {
	{"defaults", test_defaults},
	{"global keys", test_global_keys},
	{"image keys", test_image_keys},
	{"relative exe and files", test_exe_relative},
	{"errors: keys", test_errors_keys},
	{"errors: values", test_errors_values},
	{"errors: sections", test_errors_sections},
	{"errors: syntax", test_errors_syntax},
	{"embedded default", test_default},
	{"registry", test_registry},
	{"print keys", test_print_keys},
	{0},
};

UNIT_SUITE(conf, conf_tests)
