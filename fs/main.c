/* dsymfs: mounts live dSYM bundles (or renders them, with the render subcommand).
 *
 *   dsymfs [--config FILE] [FUSE options: -f, -d, -o OPT ...] MOUNTPOINT
 *   dsymfs render [--config FILE] SCRIPT OUTDIR
 *   dsymfs recover --config FILE
 *
 * The mount runs until fusermount3 -u or SIGINT/SIGTERM/SIGHUP, then frees everything
 * and exits 0. -o ready_fd=N tells a parent that the mount is in place without polling. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fs.h"
#include "ops.h"
#include "recover.h"
#include "render.h"

#define VERSION "0.1.0"

/* Takes --config FILE or --config=FILE out of argv (a fuse_opt table cannot accept both
 * spellings: every template that matches an argument applies to it). Returns 0, or -1
 * when --config has no value. */
static int take_config(int *argc, char **argv, const char **config)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 == *argc)
				return -1;
			*config = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			*config = argv[i] + 9;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [--config FILE] [options] MOUNTPOINT\n"
		   "       %s render [--config FILE] SCRIPT OUTDIR\n"
		   "       %s recover --config FILE\n\n"
		   "Serves live dSYM bundles that a compiler updates through MOUNTPOINT/control.\n"
		   "Without --config, one image Foo (x86_64, a fresh random UUID) is mounted.\n\n"
		   "    --config FILE          read the configuration (INI) from FILE\n"
		   "    -o ready_fd=N          once mounted, write one byte to descriptor N and\n"
		   "                           close it (N must be open for writing)\n"
		   "Requests are always served by one thread (-s, -o max_threads and\n"
		   "-o max_idle_threads change nothing).\n",
		prog, prog, prog);
}

static void help(const char *prog)
{
	usage(stdout, prog);
	printf("\nFUSE options:\n");
	fflush(stdout);
	fuse_cmdline_help();
	fuse_lowlevel_help();
	printf("\nConfiguration keys (defaults after '='):\n");
	conf_print_keys(stdout);
}

/* Options of the daemon itself that ride in -o lists; the rest stay for libfuse. */
struct main_opts {
	int ready_fd;
};

static const struct fuse_opt main_opt_spec[] = {
	{"ready_fd=%d", offsetof(struct main_opts, ready_fd), 0},
	FUSE_OPT_END
};

/* The mount is in place: one byte, then EOF, so a reader of the other end can tell a
 * mount from a daemon that exited first. Closes fd. */
static void signal_ready(struct fs *fs, int fd)
{
	if (fd < 0)
		return;
	if (write(fd, "R", 1) != 1)
		FS_LOG(fs, CONF_LOG_WARN, "ready_fd=%d: %s", fd, strerror(errno));
	close(fd);
}

/* Mounts fs at the mount point and serves until unmounted or signalled; signals ready_fd
 * (if not -1) once mounted. */
static int serve(struct fs *fs, struct fuse_args *args, const struct fuse_cmdline_opts *o,
		 int ready_fd)
{
	int status = 1;
	struct fuse_session *se = fuse_session_new(args, ops_table(), sizeof *ops_table(), fs);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se))
		goto destroy;
	if (fuse_session_mount(se, o->mountpoint))
		goto signals;
	fuse_daemonize(o->foreground);
	int rc = fs_start(fs, se);
	if (rc) {
		FS_LOG(fs, CONF_LOG_ERROR, "cannot start the notifier: %s", strerror(-rc));
		goto unmount;
	}
	signal_ready(fs, ready_fd);
	/* A positive result is the signal that ended the loop: a requested, clean stop. */
	rc = fuse_session_loop(se);
	fs_stop(fs);
	if (rc < 0)
		FS_LOG(fs, CONF_LOG_ERROR, "session ended: %s", strerror(-rc));
	else
		status = 0;
	FS_LOG(fs, CONF_LOG_INFO, "unmounting %s", o->mountpoint);
unmount:
	fuse_session_unmount(se);
signals:
	fuse_remove_signal_handlers(se);
destroy:
	fuse_session_destroy(se);
	return status;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	if (take_config(&argc, argv, &config)) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (argc > 1 && !strcmp(argv[1], "render"))
		return render_main(config, argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "recover"))
		return recover_main(config, argc - 1, argv + 1);
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct conf conf = {0};
	struct main_opts mo = {.ready_fd = -1};
	struct fs *fs = NULL;
	char err[1024];
	int status = 1;

	if (fuse_opt_parse(&args, &mo, main_opt_spec, NULL) || fuse_parse_cmdline(&args, &cmd))
		goto out;
	if (cmd.show_help) {
		help(argv[0]);
		status = 0;
		goto out;
	}
	if (cmd.show_version) {
		printf("dsymfs " VERSION "\n");
		status = 0;
		goto out;
	}
	if (!cmd.mountpoint) {
		usage(stderr, argv[0]);
		status = 2;
		goto out;
	}
	if (mo.ready_fd != -1 && (mo.ready_fd < 0 || fcntl(mo.ready_fd, F_GETFD) < 0)) {
		fprintf(stderr, "dsymfs: ready_fd=%d is not an open file descriptor\n", mo.ready_fd);
		status = 2;
		goto out;
	}
	int rc = config ? conf_load_file(&conf, config, err, sizeof err)
			: conf_load_default(&conf, err, sizeof err);
	if (!rc)
		rc = fs_new(&conf, &fs, err, sizeof err);
	if (rc) {
		fprintf(stderr, "dsymfs: %s\n", err);
		goto out;
	}
	status = serve(fs, &args, &cmd, mo.ready_fd);
out:
	fs_free(fs);
	conf_free(&conf);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
