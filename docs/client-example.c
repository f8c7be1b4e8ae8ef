/* client-example: the compiler's part of the README walk-through, written with the
 * client library (docs/client.md) instead of hand-typed protocol lines.
 *
 *   client-example MOUNT EXE
 *
 * EXE is `hello`, linked from the README's hello.c, which lies beside it. A compiler
 * knows where it put each function and which source lines its instructions came from;
 * this one knows it for hello.c as clang-16 and ld64.lld-16 build it (the addresses
 * `llvm-nm-16 hello` prints, the rows of `llvm-dwarfdump-16 --debug-line hello.o`).
 * It binds the image named after EXE, sends the executable, the source file, the type
 * and both functions as one batch, and commits it.
 *
 * Build it against an installed library:
 *   cc client-example.c $(pkg-config --cflags --libs dsymfs) -o client-example
 */
#define _XOPEN_SOURCE 700  /* realpath */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dsymfs.h>

/* Prints why the last call on c failed and ends the program; the batch the daemon holds
 * is dropped when the handle closes, so nothing half-made is ever published. */
static void die(struct dsymfs *c, const char *what)
{
	fprintf(stderr, "client-example: %s: %s\n", what, dsymfs_last_error(c));
	dsymfs_close(c);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: client-example MOUNT EXE\n");
		return 2;
	}
	/* The daemon does not share our working directory: send absolute paths. */
	char exe[PATH_MAX], dir[PATH_MAX], src[PATH_MAX + 16], name[PATH_MAX];
	if (!realpath(argv[2], exe)) {
		perror(argv[2]);
		return 1;
	}
	strcpy(dir, exe);
	strcpy(name, exe);
	snprintf(src, sizeof src, "%s/hello.c", dirname(dir));

	struct dsymfs *c;
	if (dsymfs_open(argv[1], basename(name), &c))
		die(c, "open");

	/* Identity, segments and the linker's symbols come from the executable. */
	if (dsymfs_exe(c, exe))
		die(c, "exe");

	struct dsymfs_file file = { .id = 1, .path = src };
	if (dsymfs_file(c, &file))
		die(c, "file");

	struct dsymfs_type int_type = { .id = 1, .kind = DSYMFS_TYPE_BASE, .name = "int",
					.size = 4, .enc = DSYMFS_ENC_SIGNED };
	if (dsymfs_type(c, &int_type))
		die(c, "type");

	/* int square(int x) { return x * x; }: lines 1-3. */
	const unsigned S = DSYMFS_ROW_STMT, P = DSYMFS_ROW_PROLOGUE, E = DSYMFS_ROW_EPILOGUE;
	struct dsymfs_param square_params[] = { { "x", 1 } };
	struct dsymfs_row square_rows[] = {
		{ .off = 0x0, .line = 1, .flags = S },
		{ .off = 0x7, .line = 2, .col = 10, .flags = S | P },
		{ .off = 0xa, .line = 2, .col = 12 },
		{ .off = 0xe, .line = 2, .col = 3, .flags = E },
	};
	struct dsymfs_fn square = {
		.id = 1, .name = "square", .low_pc = 0x100000290, .size = 0x10,
		.file = 1, .line = 1, .ret = 1,
		.params = square_params, .nparams = 1,
		.rows = square_rows, .nrows = sizeof square_rows / sizeof square_rows[0],
	};
	if (dsymfs_fn(c, &square))
		die(c, "fn square");

	/* void _start(void) { for (;;) square(7); }: line 4. */
	struct dsymfs_row start_rows[] = {
		{ .off = 0x0, .line = 4, .flags = S },
		{ .off = 0x4, .line = 4, .col = 21, .flags = S | P },
		{ .off = 0x9, .line = 4, .col = 30 },
		{ .off = 0x13, .line = 4, .col = 21 },
	};
	struct dsymfs_fn start = {
		.id = 2, .name = "_start", .low_pc = 0x1000002a0, .size = 0x18,
		.file = 1, .line = 4,
		.rows = start_rows, .nrows = sizeof start_rows / sizeof start_rows[0],
	};
	if (dsymfs_fn(c, &start))
		die(c, "fn _start");

	uint64_t generation, decls;
	if (dsymfs_commit(c, &generation, &decls))
		die(c, "commit");
	printf("ok generation=%llu decls=%llu\n", (unsigned long long)generation,
	       (unsigned long long)decls);
	return dsymfs_close(c) ? 1 : 0;
}
