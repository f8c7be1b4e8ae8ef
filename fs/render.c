/* The render subcommand. See render.h. */
#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "registry.h"

#define CHUNK (1u << 20)

/* mkdir -p for the part of path after base (which exists). */
static int make_dirs(char *path, size_t base)
{
	for (char *p = path + base + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
		*p = '/';
		if (rc)
			return rc;
	}
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes one file from the generation: its plist, or its DWARF file read in chunks. */
static int write_file(const char *path, struct gen *g, int plist, char *buf)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (plist) {
		size_t len;
		const char *p = gen_plist(g, &len);
		rc = write_all(fd, p, len);
	} else {
		for (uint64_t off = 0; !rc;) {
			ssize_t n = gen_read(g, off, buf, CHUNK);
			if (n <= 0) {
				rc = (int)n;
				break;
			}
			rc = write_all(fd, buf, (size_t)n);
			off += (uint64_t)n;
		}
	}
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

static int write_bundle(const char *outdir, struct image *im, char *buf)
{
	const char *name = image_name(im);
	char dir[PATH_MAX], plist[PATH_MAX], dwarf[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof dir, "%s/%s.dSYM/Contents/Resources/DWARF", outdir,
			     name) >= sizeof dir ||
	    (size_t)snprintf(plist, sizeof plist, "%s/%s.dSYM/Contents/Info.plist", outdir,
			     name) >= sizeof plist ||
	    (size_t)snprintf(dwarf, sizeof dwarf, "%s/%s", dir, name) >= sizeof dwarf) {
		fprintf(stderr, "dsymfs render: %s: %s\n", outdir, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	struct gen *g = image_current(im);
	const char *at = dir;
	int rc = make_dirs(dir, strlen(outdir));
	if (!rc) {
		at = plist;
		rc = write_file(plist, g, 1, buf);
	}
	if (!rc) {
		at = dwarf;
		rc = write_file(dwarf, g, 0, buf);
	}
	if (rc)
		fprintf(stderr, "dsymfs render: %s: %s\n", at, strerror(-rc));
	gen_unref(g);
	return rc;
}

/* Maps the script: it may be large, and ctl_run_script only reads it. An empty file
 * needs no mapping. *text is munmap'ed by the caller when *len != 0. */
static int map_script(const char *path, const char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	*text = "";
	*len = 0;
	if (fstat(fd, &st)) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
	} else if (st.st_size) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			rc = -errno;
		} else {
			*text = p;
			*len = (size_t)st.st_size;
		}
	}
	close(fd);
	return rc;
}

int render_main(const char *config, int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: dsymfs render [--config FILE] SCRIPT OUTDIR\n");
		return 2;
	}
	const char *script = argv[1], *outdir = argv[2];

	struct conf conf = {0};
	struct ctl_registry *reg = NULL;
	const char *text = "";
	char *buf = NULL;
	size_t len = 0;
	char err[1024];
	int status = 1;
	int rc = config ? conf_load_file(&conf, config, err, sizeof err)
			: conf_load_default(&conf, err, sizeof err);
	if (rc)
		goto fail;
	/* Rendering is a pure function of configuration and script: it neither restores
	 * nor journals. */
	free(conf.state_dir);
	conf.state_dir = NULL;
	rc = registry_from_conf(&conf, &reg, err, sizeof err);
	if (rc)
		goto fail;
	rc = map_script(script, &text, &len);
	if (rc) {
		snprintf(err, sizeof err, "%s: %s", script,
			 rc == -EINVAL ? "not a regular file" : strerror(-rc));
		goto fail;
	}
	rc = ctl_run_script(reg, text, len, err, sizeof err);
	if (rc)
		goto fail;
	buf = malloc(CHUNK);
	if (!buf) {
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
	if (mkdir(outdir, 0755) && errno != EEXIST) {
		snprintf(err, sizeof err, "%s: %s", outdir, strerror(errno));
		goto fail;
	}
	size_t n = ctl_registry_count(reg);
	for (size_t k = 0; k < n; k++)
		if (write_bundle(outdir, ctl_registry_at(reg, k), buf))
			goto out;
	status = 0;
	goto out;
fail:
	fprintf(stderr, "dsymfs render: %s\n", err);
out:
	free(buf);
	if (len)
		munmap((void *)text, len);
	ctl_registry_free(reg);
	conf_free(&conf);
	return status;
}
