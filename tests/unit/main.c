/* The unit-test binary: runs every registered suite, or the one named in argv[1];
 * --list prints the suites' names, one a line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "unit.h"

#define MAX_SUITES 64

static struct {
	const char *name;
	const struct unit_test *tests;
} suites[MAX_SUITES];
static int nsuites;
static char tmpdir[256];

void unit_register(const char *suite, const struct unit_test *tests)
{
	if (nsuites == MAX_SUITES) {
		fprintf(stderr, "unit: too many suites\n");
		abort();
	}
	suites[nsuites].name = suite;
	suites[nsuites].tests = tests;
	nsuites++;
}

static void remove_tmpdir(void)
{
	if (tmpdir[0] && !getenv("DSYMFS_KEEP_TMP"))
		unit_sh("rm -rf '%s'", tmpdir);
}

const char *unit_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/dsymfs-unit.XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			abort();
		}
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

int unit_sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = vformat(fmt, ap);
	va_end(ap);
	if (!cmd)
		return -1;
	fflush(stdout);
	int rc = system(cmd);
	free(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

void unit_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	CU_ASSERT_FATAL(n >= 0 && (size_t)n < outlen);
}

void unit_suite_dir(char *out, size_t outlen, const char *name)
{
	unit_fmt(out, outlen, "%s/%s", unit_tmpdir(), name);
	CU_ASSERT_FATAL(mkdir(out, 0755) == 0 || errno == EEXIST);
}

void unit_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(data, 1, len, f) == len);
	CU_ASSERT_FATAL(fclose(f) == 0);
}

char *unit_sh_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = vformat(fmt, ap);
	va_end(ap);
	if (!cmd)
		return NULL;
	FILE *p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return NULL;
	size_t len = 0, cap = 4096;
	char *out = malloc(cap);
	size_t n;
	while (out && (n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *bigger = realloc(out, cap * 2);
			if (!bigger) {
				free(out);
				out = NULL;
				break;
			}
			out = bigger;
			cap *= 2;
		}
	}
	int rc = pclose(p);
	if (!out)
		return NULL;
	out[len] = 0;
	if (rc != 0) {
		free(out);
		return NULL;
	}
	return out;
}

void unit_build_macho(const char *dir, const char *arch, const char *cflags, const char *out,
		      const char *const *srcs, size_t nsrcs)
{
	char objs[4096] = "";
	size_t used = 0;
	for (size_t i = 0; i < nsrcs; i++) {
		int rc = unit_sh("cd '%s' && clang-16 --target=%s-apple-macos11 -ffreestanding "
				 "-fno-stack-protector %s -c '%s' -o '%s.%zu.o'", dir, arch, cflags,
				 srcs[i], out, i);
		if (rc) {
			fprintf(stderr, "unit: clang-16 failed on %s for %s (exit %d): is clang-16 "
				"installed?\n", srcs[i], arch, rc);
			CU_FAIL_FATAL("clang-16 could not compile a test program");
		}
		int n = snprintf(objs + used, sizeof objs - used, " '%s.%zu.o'", out, i);
		CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof objs - used);
		used += (size_t)n;
	}
	int rc = unit_sh("cd '%s' && ld64.lld-16 -arch %s -platform_version macos 11.0 11.0 "
			 "-e __start -o '%s.new'%s && mv '%s.new' '%s'", dir, arch, out, objs, out,
			 out);
	if (rc) {
		fprintf(stderr, "unit: ld64.lld-16 failed on %s for %s (exit %d): is lld-16 "
			"installed?\n", out, arch, rc);
		CU_FAIL_FATAL("ld64.lld-16 could not link a test program");
	}
}

char *unit_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, got;
	do {
		if (cap - n < 4096) {
			char *bigger = realloc(buf, cap ? cap * 2 : 8192);
			if (!bigger) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = bigger;
			cap = cap ? cap * 2 : 8192;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* One line per suite, with its time, for tests/run to show as progress; CUnit's own
 * output (each test, the run summary) is unchanged. */
static struct timespec suite_start;
static unsigned suite_failed_before;

static void suite_started(const CU_pSuite suite)
{
	(void)suite;
	clock_gettime(CLOCK_MONOTONIC, &suite_start);
	suite_failed_before = CU_get_number_of_tests_failed();
}

static void suite_done(const CU_pSuite suite, const CU_pFailureRecord failures)
{
	(void)failures;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - suite_start.tv_sec) +
		      (double)(now.tv_nsec - suite_start.tv_nsec) / 1e9;
	int ok = CU_get_number_of_tests_failed() == suite_failed_before;
	printf("\n== unit: %s ... %s (%.1f s)\n", suite->pName, ok ? "PASS" : "FAIL", secs);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	if (only && !strcmp(only, "--list")) {
		for (int i = 0; i < nsuites; i++)
			printf("%s\n", suites[i].name);
		return 0;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	int found = 0;
	for (int i = 0; i < nsuites; i++) {
		if (only && strcmp(only, suites[i].name) != 0)
			continue;
		found++;
		CU_pSuite s = CU_add_suite(suites[i].name, NULL, NULL);
		for (const struct unit_test *t = suites[i].tests; s && t->name; t++)
			CU_add_test(s, t->name, t->fn);
	}
	if (only && !found) {
		fprintf(stderr, "unit: no suite named %s\n", only);
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_set_suite_start_handler(suite_started);
	CU_set_suite_complete_handler(suite_done);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
