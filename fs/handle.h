/* handle: what an open file or directory of the mount holds (fi->fh points at one).
 *
 * Kinds:
 *  - HANDLE_DWARF: one generation's DWARF file. Holds a reference to the generation and
 *    counts as one of its readers; reads reply with slices of the generation's bytes
 *    (gen_read_slices), so the handle has no buffer and reads take no lock.
 *  - HANDLE_BYTES: a snapshot of a small file taken at open (Info.plist, status, the
 *    text views): bytes owned by the handle or borrowed from the generation it holds.
 *  - HANDLE_CONTROL: one control session.
 *  - HANDLE_DIR: a directory listing taken at opendir.
 * Every live handle is on its list, so handles the kernel never released (a daemon
 * stopped with files open) are freed at unmount.
 *
 * Locking: handle_list.lock guards the links; handle.lock guards a control handle's
 * session (FUSE may run two requests of one handle at once in multi-threaded mode, and a
 * session is single-threaded). Both are taken alone, except
 * that a control handle's lock is held across ctl_session_write, which takes core locks
 * and may post to the notifier.
 */
#ifndef DSYMFS_HANDLE_H
#define DSYMFS_HANDLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl.h"
#include "gen.h"

enum handle_kind {
	HANDLE_DWARF = 1,
	HANDLE_BYTES,
	HANDLE_CONTROL,
	HANDLE_DIR,
};

/* Bytes of a small file: either owned, or borrowed from g (a reference) while held. */
struct handle_bytes {
	struct gen *g;       /* reference or NULL */
	char *owned;         /* malloc'd or NULL */
	const char *data;    /* owned, or inside g, or a constant */
	size_t len;
};

/* Releases what b holds and zeroes it; safe on a zeroed struct. */
void handle_bytes_release(struct handle_bytes *b);

struct handle_dirent {
	char *name;          /* owned */
	uint64_t ino;
	mode_t mode;         /* S_IFDIR or S_IFREG */
};

struct handle {
	struct handle *prev, *next;   /* guarded by handle_list.lock */
	enum handle_kind kind;
	uint32_t refs;                /* atomic; see handle_free */
	pthread_mutex_t lock;
	union {
		struct {
			struct gen *g;          /* reference; one reader of it */
		} dwarf;
		struct handle_bytes bytes;
		struct ctl_session *ctl;    /* guarded by lock */
		struct {
			struct handle_dirent *v;   /* owned */
			size_t n;
		} dir;
	} u;
};

struct handle_list {
	pthread_mutex_t lock;
	struct handle *head;          /* guarded by lock */
};

void handle_list_init(struct handle_list *l);
/* Frees every handle still on the list. */
void handle_list_destroy(struct handle_list *l);

/* A zeroed handle of that kind, on the list; the caller fills its part of the union and
 * frees it with handle_free (fine on a half-filled handle). -ENOMEM. */
int handle_new(struct handle_list *l, enum handle_kind kind, struct handle **out);
/* Drops a reference to h; the last one unlinks and frees h and what it holds (a
 * control session drops its pending batch; a DWARF handle stops being a reader). The
 * opener's reference goes at RELEASE. A request that still reads what h holds while its
 * reply is sent takes one with handle_ref first: with several threads serving requests,
 * the kernel may hand the RELEASE to another thread as soon as it has taken a READ's
 * reply, before the replying thread is done with the bytes. handle_list_destroy frees
 * every handle whatever it holds (no request runs then). */
void handle_ref(struct handle *h);
void handle_free(struct handle_list *l, struct handle *h);

/* Binds a new DWARF handle to g: takes a reference and counts a reader. */
void handle_dwarf_bind(struct handle *h, struct gen *g);

/* The part of [off, off + size) inside `len` bytes: sets *n (0 past the end) and returns
 * the offset to start at. */
size_t handle_slice(size_t len, uint64_t off, size_t size, size_t *n);

#endif
