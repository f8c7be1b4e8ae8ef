/* dsymfs: mounts live dSYM bundles (or renders them, with the render subcommand).
 *
 *   dsymfs [--config FILE] [FUSE options: -f, -d, -o OPT ...] MOUNTPOINT
 *   dsymfs render [--config FILE] SCRIPT OUTDIR
 *   dsymfs recover --config FILE
 *
 * The mount runs until fusermount3 -u or SIGINT/SIGTERM/SIGHUP, then frees everything
 * and exits 0. A mount point that already holds a FUSE mount is refused; configured
 * links (link.h) exist from mount to clean end. -o ready_fd=N tells a parent that the
 * mount is in place without polling. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fs.h"
#include "link.h"
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
		   "Requests are served by a pool of threads (-o max_threads=N, default 10), so\n"
		   "reads never wait for a commit; -s serves them all with one thread.\n",
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

/* Undoes mountinfo's octal escapes (\040 for a space, \134 for a backslash) in place. */
static void unescape_mountinfo(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = 0;
}

/* A FUSE file system mounted at path (absolute), found in /proc/self/mountinfo: the
 * kernel would stack a second mount on it, hiding the first one's tree while its daemon
 * keeps running. Writes the mounted file system's type and source to what. */
static int fuse_mounted_at(const char *path, char *what, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;
	while (!found && getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ... */
		char *save = NULL, *mnt = NULL;
		char *tok = strtok_r(line, " \n", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " \n", &save);
		mnt = tok;
		while (tok && strcmp(tok, "-"))
			tok = strtok_r(NULL, " \n", &save);
		char *type = tok ? strtok_r(NULL, " \n", &save) : NULL;
		char *source = type ? strtok_r(NULL, " \n", &save) : NULL;
		if (!mnt || !type || strncmp(type, "fuse", 4))
			continue;
		unescape_mountinfo(mnt);
		if (strcmp(mnt, path))
			continue;
		snprintf(what, len, "%s from %s", type, source ? source : "?");
		found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

/* Runs the session until it ends: one thread with -s, else a pool, so that a read never
 * queues behind a commit that another thread is applying (the core and every handler
 * are safe to run concurrently; fs.h gives the lock order). 0 or a positive signal
 * number for a clean end, -errno otherwise. */
static int run_session(struct fuse_session *se, const struct fuse_cmdline_opts *o)
{
	if (o->singlethread)
		return fuse_session_loop(se);
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	if (!lc)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(lc, (unsigned int)o->clone_fd);
	fuse_loop_cfg_set_max_threads(lc, o->max_threads);
	if (o->max_idle_threads != UINT_MAX)  /* UINT_MAX: not given */
		fuse_loop_cfg_set_idle_threads(lc, o->max_idle_threads);
	int rc = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return rc;
}

/* Mounts fs at the mount point (absolute) and serves until unmounted or signalled;
 * signals ready_fd (if not -1) once mounted. */
static int serve(struct fs *fs, struct fuse_args *args, const char *mountpoint,
		 const struct fuse_cmdline_opts *o, int ready_fd)
{
	int status = 1;
	char err[1024];
	if (fuse_mounted_at(mountpoint, err, sizeof err)) {
		fprintf(stderr, "dsymfs: %s is already a FUSE mount (%s); unmount it first "
			"(fusermount3 -u %s)\n", mountpoint, err, mountpoint);
		return 1;
	}
	if (link_check(&fs->conf, err, sizeof err)) {
		fprintf(stderr, "dsymfs: %s\n", err);
		return 1;
	}
	struct fuse_session *se = fuse_session_new(args, ops_table(), sizeof *ops_table(), fs);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se))
		goto destroy;
	if (fuse_session_mount(se, mountpoint))
		goto signals;
	/* Before fuse_daemonize: when the command returns, the links are there. */
	if (link_make_all(&fs->conf, mountpoint, err, sizeof err)) {
		fprintf(stderr, "dsymfs: %s\n", err);
		goto unmount;
	}
	/* Said before fuse_daemonize, while stderr still reaches whoever started us. */
	FS_LOG(fs, CONF_LOG_INFO, "mounted at %s; stop with %sfusermount3 -u %s", mountpoint,
	       o->foreground ? "Ctrl-C or " : "", mountpoint);
	fuse_daemonize(o->foreground);
	int rc = fs_start(fs, se);
	if (rc) {
		FS_LOG(fs, CONF_LOG_ERROR, "cannot start the notifier: %s", strerror(-rc));
		goto links;
	}
	signal_ready(fs, ready_fd);
	/* A positive result is the signal that ended the loop: a requested, clean stop. */
	rc = run_session(se, o);
	fs_stop(fs);
	if (rc < 0)
		FS_LOG(fs, CONF_LOG_ERROR, "session ended: %s", strerror(-rc));
	else
		status = 0;
	FS_LOG(fs, CONF_LOG_INFO, "unmounting %s", mountpoint);
links:
	link_remove_all(&fs->conf, mountpoint);
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
	/* Links point into the mount and outlive the daemon's working directory. */
	char mountpoint[PATH_MAX];
	if (!realpath(cmd.mountpoint, mountpoint)) {
		fprintf(stderr, "dsymfs: mount point %s: %s\n", cmd.mountpoint, strerror(errno));
		goto out;
	}
	status = serve(fs, &args, mountpoint, &cmd, mo.ready_fd);
out:
	fs_free(fs);
	conf_free(&conf);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
