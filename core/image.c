/* One image: its generations, their retention and the commit that publishes a new one.
 * See image.h; applying commands is batch.c, the checks are check.c. */
#include "image.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "batch.h"
#include "check.h"
#include "macho.h"
#include "state.h"

struct image {
	char *name;
	struct image_limits lim;
	pthread_mutex_t commit_lock;  /* serializes image_commit; taken before lock */
	pthread_mutex_t lock;         /* guards cur, st, retained, nretained, errors */
	struct gen *cur;
	struct state st;              /* the state cur was built from */
	struct gen **retained;        /* newest first; [0] == cur */
	size_t nretained;
	char *errors[IMAGE_ERRORS_KEPT];  /* ring, oldest at errors_head */
	size_t nerrors, errors_head;
	image_publish_fn hook;        /* set before use; read without lock */
	void *hook_arg;
	image_prepublish_fn prepublish;   /* likewise */
	void *prepublish_arg;
};

/* The segment table of an image without an executable: the usual x86_64/arm64 user
 * layout with an empty __TEXT,__text that the compiler grows with `section`. */
static int default_segtab(struct macho_segtab *t)
{
	t->nsegs = 3;
	t->segs = calloc(3, sizeof *t->segs);
	struct macho_section *text = calloc(1, sizeof *text);
	if (!t->segs || !text) {
		free(t->segs);
		free(text);
		t->nsegs = 0;
		return -ENOMEM;
	}
	strcpy(t->segs[0].segname, "__PAGEZERO");
	t->segs[0].vmsize = 0x100000000;
	strcpy(t->segs[1].segname, "__TEXT");
	t->segs[1].vmaddr = 0x100000000;
	t->segs[1].vmsize = 0x40000000;
	t->segs[1].maxprot = t->segs[1].initprot = 5;
	t->segs[1].nsects = 1;
	t->segs[1].sects = text;
	strcpy(text->sectname, "__text");
	strcpy(text->segname, "__TEXT");
	text->addr = 0x100000000;
	text->align = 4;
	text->flags = 0x80000400;  /* S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS */
	strcpy(t->segs[2].segname, "__LINKEDIT");
	t->segs[2].vmaddr = 0x140000000;
	t->segs[2].vmsize = 0x1000;
	t->segs[2].maxprot = t->segs[2].initprot = 1;
	return 0;
}

void image_origin_of(const struct cmd *c, struct image_origin *o)
{
	*o = (struct image_origin){
		.exe_path = c->u.image.exe,
		.has_uuid = c->u.image.has_uuid,
		.has_arch = c->u.image.has_arch,
		.cputype = c->u.image.cputype,
		.cpusubtype = c->u.image.cpusubtype,
	};
	memcpy(o->uuid, c->u.image.uuid, 16);
}

static bool name_ok(const char *name)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

int image_new(const char *name, const struct image_origin *origin,
	      const struct image_limits *lim, struct image **out, char *err, size_t errlen)
{
	if (!name_ok(name)) {
		snprintf(err, errlen, "image name \"%s\" must be non-empty, not . or .., and "
			 "without '/' or control characters", name);
		return -EINVAL;
	}
	struct image *im = calloc(1, sizeof *im);
	if (!im)
		return -ENOMEM;
	pthread_mutex_init(&im->commit_lock, NULL);
	pthread_mutex_init(&im->lock, NULL);
	im->lim = *lim;
	if (im->lim.keep_generations < 1)
		im->lim.keep_generations = 1;
	int rc = -ENOMEM;
	struct macho_exe exe = {0};
	im->name = strdup(name);
	im->retained = calloc(im->lim.keep_generations, sizeof *im->retained);
	if (!im->name || !im->retained)
		goto fail;
	if (origin->exe_data) {
		char why[512];
		rc = macho_parse_exe(origin->exe_data, origin->exe_len, &exe, why, sizeof why);
		if (rc) {
			snprintf(err, errlen, "%s: %s", origin->exe_path ? origin->exe_path : "exe",
				 why);
			goto fail;
		}
	} else if (origin->exe_path) {
		rc = macho_read_exe(origin->exe_path, &exe, err, errlen);
		if (rc)
			goto fail;
	} else {
		rc = default_segtab(&exe.segtab);
		if (rc)
			goto fail;
		exe.ident.cputype = MACHO_CPU_X86_64;
		exe.ident.cpusubtype = MACHO_SUBTYPE_X86_64_ALL;
		if (origin->has_arch) {
			exe.ident.cputype = origin->cputype;
			exe.ident.cpusubtype = origin->cpusubtype;
		}
		if (origin->has_uuid) {
			memcpy(exe.ident.uuid, origin->uuid, 16);
		} else if (getrandom(exe.ident.uuid, 16, 0) != 16) {
			rc = -EIO;
			snprintf(err, errlen, "no random bytes for a UUID");
			goto fail;
		} else {
			exe.ident.uuid[6] = (exe.ident.uuid[6] & 0x0f) | 0x40;  /* RFC 4122 v4 */
			exe.ident.uuid[8] = (exe.ident.uuid[8] & 0x3f) | 0x80;
		}
	}
	rc = state_init(&im->st, &exe.ident, &exe.segtab);
	if (!rc)
		rc = batch_exe_syms(&im->st, &exe);
	if (!rc)
		rc = gen_new(&im->st, im->name, 1, &im->cur);
	if (rc) {
		snprintf(err, errlen, "out of memory creating image %s", name);
		goto fail;
	}
	im->retained[0] = im->cur;
	gen_ref(im->cur);
	im->nretained = 1;
	macho_exe_free(&exe);
	*out = im;
	return 0;
fail:
	macho_exe_free(&exe);
	image_free(im);
	return rc;
}

void image_free(struct image *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->nretained; i++)
		gen_unref(im->retained[i]);
	gen_unref(im->cur);
	state_release(&im->st);
	for (size_t i = 0; i < im->nerrors; i++)
		free(im->errors[(im->errors_head + i) % IMAGE_ERRORS_KEPT]);
	free(im->retained);
	free(im->name);
	pthread_mutex_destroy(&im->lock);
	pthread_mutex_destroy(&im->commit_lock);
	free(im);
}

const char *image_name(const struct image *im)
{
	return im->name;
}

struct gen *image_current(struct image *im)
{
	pthread_mutex_lock(&im->lock);
	struct gen *g = im->cur;
	gen_ref(g);
	pthread_mutex_unlock(&im->lock);
	return g;
}

size_t image_retained(struct image *im, struct gen **out, size_t n)
{
	pthread_mutex_lock(&im->lock);
	size_t k = im->nretained < n ? im->nretained : n;
	for (size_t i = 0; i < k; i++) {
		out[i] = im->retained[i];
		gen_ref(out[i]);
	}
	pthread_mutex_unlock(&im->lock);
	return k;
}

struct gen *image_generation(struct image *im, uint64_t number)
{
	struct gen *g = NULL;
	pthread_mutex_lock(&im->lock);
	for (size_t i = 0; i < im->nretained && !g; i++)
		if (gen_number(im->retained[i]) == number) {
			g = im->retained[i];
			gen_ref(g);
		}
	pthread_mutex_unlock(&im->lock);
	return g;
}

void image_set_publish_hook(struct image *im, image_publish_fn fn, void *arg)
{
	im->hook = fn;
	im->hook_arg = arg;
}

void image_log_error(struct image *im, const char *msg)
{
	char *copy = strdup(msg);
	if (!copy)
		return;  /* the log is best effort; the caller already reported the error */
	for (char *p = copy; *p; p++)  /* one entry, one line */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	pthread_mutex_lock(&im->lock);
	if (im->nerrors == IMAGE_ERRORS_KEPT) {
		free(im->errors[im->errors_head]);
		im->errors[im->errors_head] = copy;
		im->errors_head = (im->errors_head + 1) % IMAGE_ERRORS_KEPT;
	} else {
		im->errors[(im->errors_head + im->nerrors++) % IMAGE_ERRORS_KEPT] = copy;
	}
	pthread_mutex_unlock(&im->lock);
}

int image_errors_text(struct image *im, char **out, size_t *len)
{
	struct enc_buf b;
	enc_buf_init(&b);
	pthread_mutex_lock(&im->lock);
	for (size_t i = 0; i < im->nerrors; i++)
		enc_buf_printf(&b, "%s\n", im->errors[(im->errors_head + i) % IMAGE_ERRORS_KEPT]);
	pthread_mutex_unlock(&im->lock);
	*out = (char *)enc_buf_take(&b, len);
	return *out ? 0 : -ENOMEM;
}

static void publish(struct image *im, struct gen *g, const struct state *st)
{
	pthread_mutex_lock(&im->lock);
	struct gen *old_cur = im->cur;
	im->cur = g;
	struct state old_st = im->st;
	state_copy(st, &im->st);
	struct gen *dropped = NULL;
	if (im->nretained == im->lim.keep_generations)
		dropped = im->retained[--im->nretained];
	memmove(&im->retained[1], &im->retained[0], im->nretained * sizeof *im->retained);
	im->retained[0] = g;
	gen_ref(g);
	im->nretained++;
	pthread_mutex_unlock(&im->lock);
	/* Freeing can take a while for a large generation: do it outside the lock. */
	gen_unref(old_cur);
	gen_unref(dropped);
	state_release(&old_st);
}

/* Applies the batch to a copy of the image's state, then checks and settles the result
 * when it changed anything. */
static int run_batch(struct batch *b, struct image *im, struct image_item *items,
		     size_t nitems)
{
	int rc = batch_run(b, &im->st, items, nitems);
	if (!rc && b->changed)
		rc = check_final(b);
	if (!rc && b->changed && state_settle(&b->w))
		rc = batch_oom(b);
	return rc;
}

int image_commit(struct image *im, struct image_item *items, size_t nitems,
		 struct image_result *res, char *err, size_t errlen)
{
	struct batch b = {.max_decls = im->lim.max_decls, .err = err, .errlen = errlen};
	pthread_mutex_lock(&im->commit_lock);
	int rc = run_batch(&b, im, items, nitems);
	struct gen *g = NULL;
	uint64_t number = 0;
	if (!rc && b.changed) {
		struct gen *cur = image_current(im);
		number = gen_number(cur) + 1;
		gen_unref(cur);
		rc = gen_new(&b.w, im->name, number, &g);
		if (rc == -EFBIG)
			batch_fail(&b, rc, b.line_no, "the dSYM would pass 4 GiB, the limit of "
			     "32-bit DWARF and Mach-O offsets");
		else if (rc)
			batch_oom(&b);
	}
	if (!rc && g && im->prepublish) {
		struct image_batch_view v = {items, nitems, b.exes, b.nexes, &b.w, number};
		rc = im->prepublish(im->prepublish_arg, im, &v, err, errlen);
		if (rc) {
			gen_unref(g);
			g = NULL;
		}
	}
	if (!rc && g)
		publish(im, g, &b.w);
	if (!rc) {
		struct gen *cur = image_current(im);
		res->generation = gen_number(cur);
		res->ndecls = gen_ndecls(cur);
		res->published = g != NULL;
		gen_unref(cur);
	}
	pthread_mutex_unlock(&im->commit_lock);
	batch_release(&b);
	if (!rc && g && im->hook)
		im->hook(im->hook_arg, im, res->generation);
	return rc;
}

int image_replay(struct image *im, struct image_item *items, size_t nitems, bool *changed,
		 char *err, size_t errlen)
{
	struct batch b = {.max_decls = im->lim.max_decls, .err = err, .errlen = errlen};
	pthread_mutex_lock(&im->commit_lock);
	int rc = run_batch(&b, im, items, nitems);
	*changed = !rc && b.changed;
	if (*changed) {
		pthread_mutex_lock(&im->lock);
		struct state old = im->st;
		state_copy(&b.w, &im->st);
		pthread_mutex_unlock(&im->lock);
		state_release(&old);
	}
	pthread_mutex_unlock(&im->commit_lock);
	batch_release(&b);
	return rc;
}

void image_set_prepublish_hook(struct image *im, image_prepublish_fn fn, void *arg)
{
	im->prepublish = fn;
	im->prepublish_arg = arg;
}

void image_state(struct image *im, struct state *out)
{
	pthread_mutex_lock(&im->lock);
	state_copy(&im->st, out);
	pthread_mutex_unlock(&im->lock);
}

int image_restore_number(struct image *im, uint64_t number)
{
	pthread_mutex_lock(&im->commit_lock);
	struct gen *g;
	int rc = gen_new(&im->st, im->name, number, &g);
	if (!rc) {
		pthread_mutex_lock(&im->lock);
		for (size_t i = 0; i < im->nretained; i++)
			gen_unref(im->retained[i]);
		gen_unref(im->cur);
		im->cur = g;
		im->retained[0] = g;
		gen_ref(g);
		im->nretained = 1;
		pthread_mutex_unlock(&im->lock);
	}
	pthread_mutex_unlock(&im->commit_lock);
	return rc;
}

int image_restore_state(struct image *im, struct state *st, char *err, size_t errlen)
{
	uint64_t n = ptree_count(&st->fn_by_id);
	if (im->lim.max_decls && n > im->lim.max_decls) {
		snprintf(err, errlen, "it holds %llu functions; the limit is %llu (max_decls)",
			 (unsigned long long)n, (unsigned long long)im->lim.max_decls);
		return -ENOSPC;
	}
	pthread_mutex_lock(&im->commit_lock);
	pthread_mutex_lock(&im->lock);
	struct state old = im->st;
	im->st = *st;
	pthread_mutex_unlock(&im->lock);
	pthread_mutex_unlock(&im->commit_lock);
	memset(st, 0, sizeof *st);
	state_release(&old);
	return 0;
}
