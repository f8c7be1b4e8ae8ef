/* faults: an LD_PRELOAD library that makes chosen file calls of the daemon fail with
 * EIO, for the journal-faults test (which builds it). Not part of dsymfs.
 *
 * $DSYMFS_FAULTS names a file of rules, one a line, read again whenever it changes:
 *     CALL PREFIX [COUNT]
 * CALL is pwrite, fdatasync, fsync or ftruncate. The call fails when the file its
 * descriptor is open on has a name (last path component) starting with PREFIX; with
 * COUNT, only the first COUNT such calls since the rules last changed fail. An empty or
 * missing file fails nothing. The real call is never made when it fails, so what is on
 * disk is what a device that lost the request would leave.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RULES 8

struct rule {
	char call[16];
	char prefix[64];
	long left;                /* -1: no limit */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rule rules[MAX_RULES];
static int nrules;
static struct timespec seen_mtime;
static ino_t seen_ino;
static off_t seen_size = -1;

/* Rereads the rules when the file changed (new inode, size or mtime). With lock. */
static void load_rules(void)
{
	const char *path = getenv("DSYMFS_FAULTS");
	struct stat st;
	if (!path || stat(path, &st) < 0) {
		nrules = 0;
		seen_size = -1;
		return;
	}
	if (st.st_ino == seen_ino && st.st_size == seen_size &&
	    st.st_mtim.tv_sec == seen_mtime.tv_sec && st.st_mtim.tv_nsec == seen_mtime.tv_nsec)
		return;
	seen_ino = st.st_ino;
	seen_size = st.st_size;
	seen_mtime = st.st_mtim;
	nrules = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256];
	while (nrules < MAX_RULES && fgets(line, sizeof line, f)) {
		struct rule *r = &rules[nrules];
		r->left = -1;
		if (sscanf(line, "%15s %63s %ld", r->call, r->prefix, &r->left) >= 2)
			nrules++;
	}
	fclose(f);
}

/* Should this call on fd fail? Counts it against its rule if so. */
static int should_fail(const char *call, int fd)
{
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return 0;
	target[n] = 0;
	const char *slash = strrchr(target, '/');
	const char *name = slash ? slash + 1 : target;
	int fail = 0;
	pthread_mutex_lock(&lock);
	load_rules();
	for (int i = 0; i < nrules && !fail; i++) {
		struct rule *r = &rules[i];
		if (strcmp(r->call, call) || strncmp(name, r->prefix, strlen(r->prefix)) ||
		    r->left == 0)
			continue;
		if (r->left > 0)
			r->left--;
		fail = 1;
	}
	pthread_mutex_unlock(&lock);
	return fail;
}

#define REAL(name, type) ((type)dlsym(RTLD_NEXT, name))

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (should_fail("pwrite", fd)) {
		errno = EIO;
		return -1;
	}
	return REAL("pwrite", ssize_t (*)(int, const void *, size_t, off_t))(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	if (should_fail("pwrite", fd)) {
		errno = EIO;
		return -1;
	}
	return REAL("pwrite64", ssize_t (*)(int, const void *, size_t, off_t))(fd, buf, n, off);
}

int fdatasync(int fd)
{
	if (should_fail("fdatasync", fd)) {
		errno = EIO;
		return -1;
	}
	return REAL("fdatasync", int (*)(int))(fd);
}

int fsync(int fd)
{
	if (should_fail("fsync", fd)) {
		errno = EIO;
		return -1;
	}
	return REAL("fsync", int (*)(int))(fd);
}

int ftruncate(int fd, off_t len)
{
	if (should_fail("ftruncate", fd)) {
		errno = EIO;
		return -1;
	}
	return REAL("ftruncate", int (*)(int, off_t))(fd, len);
}

int ftruncate64(int fd, off_t len)
{
	if (should_fail("ftruncate", fd)) {
		errno = EIO;
		return -1;
	}
	return REAL("ftruncate64", int (*)(int, off_t))(fd, len);
}
