/* unit: how a CUnit suite joins the test binary. Each tests/unit/test_*.c declares its
 * tests in a table and registers it with UNIT_SUITE; main.c runs every suite, or only
 * the one named on the command line. Tests that need external tools (clang-16, lldb-16)
 * call them by name from PATH and fail loudly when they are missing. */
#ifndef DSYMFS_UNIT_H
#define DSYMFS_UNIT_H

#include <stddef.h>

#include <CUnit/CUnit.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

void unit_register(const char *suite, const struct unit_test *tests);

#define UNIT_SUITE(name, table) \
	__attribute__((constructor)) static void unit_register_##name(void) \
	{ unit_register(#name, table); }

/* A scratch directory for this run (created on first use, removed at exit unless
 * DSYMFS_KEEP_TMP is set). Never NULL. */
const char *unit_tmpdir(void);
/* Runs a shell command; returns its exit status (or -1). Output goes to the test log. */
int unit_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command and returns its stdout (malloc'd, NUL-terminated; caller frees),
 * or NULL if it could not run or exited non-zero. */
char *unit_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* snprintf into out that must fit: a test needing a longer buffer fails (fatally). */
void unit_fmt(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* tmpdir/name, created if needed: a suite's own directory, so file names of different
 * suites cannot collide. */
void unit_suite_dir(char *out, size_t outlen, const char *name);
/* Writes a whole file or fails the test (fatally). */
void unit_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file (malloc'd, NUL-terminated; caller frees); NULL on error. */
char *unit_read_file(const char *path, size_t *len);
/* Builds a Mach-O executable dir/out for arch (x86_64 or arm64): compiles each of the
 * nsrcs C files (paths absolute or relative to dir) with clang-16 for
 * ARCH-apple-macos11, freestanding, plus cflags (e.g. "-g -gdwarf-4"), and links them with
 * ld64.lld-16 (entry _start), replacing dir/out only once the link succeeded. Fails the
 * test (fatally), naming the tools, if either fails. */
void unit_build_macho(const char *dir, const char *arch, const char *cflags, const char *out,
		      const char *const *srcs, size_t nsrcs);

#endif
