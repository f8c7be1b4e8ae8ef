/* Control sessions and the image registry. See ctl.h. */
#include "ctl.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enc.h"
#include "macho.h"
#include "util.h"

struct ctl_registry {
	struct ctl_limits lim;
	pthread_mutex_t lock;      /* guards images and nimages */
	struct image **images;     /* lim.max_images slots; entries never move or go */
	size_t nimages;
	image_publish_fn publish;  /* set before sessions start; read without lock */
	void *publish_arg;
	ctl_image_added_fn added;
	void *added_arg;
	struct ctl_durable durable;  /* all NULL when memory-only */
};

void ctl_limits_default(struct ctl_limits *lim)
{
	lim->max_line = 1u << 20;
	lim->max_batch_bytes = 1u << 30;
	lim->max_decls = 0;
	lim->max_images = 64;
	lim->keep_generations = 8;
	lim->max_memory = 0;
}

int ctl_registry_new(const struct ctl_limits *lim, struct ctl_registry **out)
{
	struct ctl_registry *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->lim = *lim;
	if (!r->lim.max_images)
		r->lim.max_images = 1;
	r->images = calloc(r->lim.max_images, sizeof *r->images);
	if (!r->images) {
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void ctl_registry_free(struct ctl_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nimages; i++)
		image_free(r->images[i]);
	free(r->images);
	if (r->durable.release)
		r->durable.release(r->durable.arg);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

const struct ctl_limits *ctl_registry_limits(const struct ctl_registry *r)
{
	return &r->lim;
}

void ctl_registry_set_publish_hook(struct ctl_registry *r, image_publish_fn fn, void *arg)
{
	r->publish = fn;
	r->publish_arg = arg;
	for (size_t i = 0; i < r->nimages; i++)
		image_set_publish_hook(r->images[i], fn, arg);
}

uint64_t ctl_memory_used(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return 0;
	unsigned long long size, resident;
	int n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	return n == 2 ? resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

#define MIB(x) ((unsigned long long)((x) >> 20))

/* max_memory: checked when the memory a commit or a new image needs is already
 * allocated (the new generation is built), so a refusal frees it again. */
static int check_memory(const struct ctl_registry *r, const char *what, char *err,
			size_t errlen)
{
	if (!r->lim.max_memory)
		return 0;
	uint64_t used = ctl_memory_used();
	if (used <= r->lim.max_memory)
		return 0;
	snprintf(err, errlen, "%s refused: the daemon would use %llu MiB, over max_memory "
		 "(%llu MiB); raise max_memory, or free memory (fewer images, keep_generations)",
		 what, MIB(used), MIB(r->lim.max_memory));
	return -ENOMEM;
}

static int prepublish(void *arg, struct image *im, const struct image_batch_view *v,
		      char *err, size_t errlen)
{
	struct ctl_registry *r = arg;
	int rc = check_memory(r, "commit", err, errlen);
	if (!rc && r->durable.committed)
		rc = r->durable.committed(r->durable.arg, im, v, err, errlen);
	return rc;
}

void ctl_registry_set_durable(struct ctl_registry *r, const struct ctl_durable *d)
{
	pthread_mutex_lock(&r->lock);
	r->durable = *d;
	pthread_mutex_unlock(&r->lock);
}

void ctl_registry_set_added_hook(struct ctl_registry *r, ctl_image_added_fn fn, void *arg)
{
	r->added = fn;
	r->added_arg = arg;
}

size_t ctl_registry_count(struct ctl_registry *r)
{
	pthread_mutex_lock(&r->lock);
	size_t n = r->nimages;
	pthread_mutex_unlock(&r->lock);
	return n;
}

struct image *ctl_registry_at(struct ctl_registry *r, size_t i)
{
	pthread_mutex_lock(&r->lock);
	struct image *im = i < r->nimages ? r->images[i] : NULL;
	pthread_mutex_unlock(&r->lock);
	return im;
}

static struct image *find_locked(struct ctl_registry *r, const char *name)
{
	for (size_t i = 0; i < r->nimages; i++)
		if (!strcmp(image_name(r->images[i]), name))
			return r->images[i];
	return NULL;
}

struct image *ctl_registry_find(struct ctl_registry *r, const char *name)
{
	pthread_mutex_lock(&r->lock);
	struct image *im = find_locked(r, name);
	pthread_mutex_unlock(&r->lock);
	return im;
}

int ctl_registry_add(struct ctl_registry *r, const char *name, const struct image_origin *o,
		     char *err, size_t errlen)
{
	struct image_limits il = {r->lim.max_decls, r->lim.keep_generations};
	struct image_origin origin = *o;
	uint8_t *exe = NULL;
	int rc = 0;
	/* A journal stores the executable's bytes as they were parsed: read them once. */
	if (r->durable.created && origin.exe_path && !origin.exe_data) {
		rc = macho_read_file(origin.exe_path, &exe, &origin.exe_len, err, errlen);
		if (rc)
			return rc;
		origin.exe_data = exe;
	}
	/* Reading an executable can take a while: build the image before taking the lock,
	 * then check for a name clash. */
	struct image *im = NULL;
	rc = image_new(name, &origin, &il, &im, err, errlen);
	if (rc)
		goto out;
	image_set_publish_hook(im, r->publish, r->publish_arg);
	image_set_prepublish_hook(im, prepublish, r);
	pthread_mutex_lock(&r->lock);
	if (find_locked(r, name)) {
		rc = -EEXIST;
		snprintf(err, errlen, "image %s already exists", name);
	} else if (r->nimages == r->lim.max_images) {
		rc = -ENOSPC;
		snprintf(err, errlen, "image %s: already %u images (max_images)", name,
			 r->lim.max_images);
	} else {
		char what[300];
		snprintf(what, sizeof what, "image %s", name);
		rc = check_memory(r, what, err, errlen);
		if (!rc && r->durable.created)
			rc = r->durable.created(r->durable.arg, im, origin.exe_data,
						origin.exe_len, err, errlen);
		if (!rc)
			r->images[r->nimages++] = im;
	}
	pthread_mutex_unlock(&r->lock);
	if (!rc && r->added)
		r->added(r->added_arg, im);
out:
	if (rc)
		image_free(im);
	free(exe);
	return rc;
}

int ctl_status_text(struct ctl_registry *r, char **out, size_t *len)
{
	struct enc_buf b;
	enc_buf_init(&b);
	size_t n = ctl_registry_count(r);
	for (size_t i = 0; i < n; i++) {
		struct image *im = ctl_registry_at(r, i);
		struct gen *g = image_current(im);
		char uuid[37];
		macho_uuid_format(gen_uuid(g), uuid);
		enc_buf_printf(&b, "%s uuid=%s arch=%s generation=%llu decls=%llu bytes=%llu "
			       "readers=%llu\n", image_name(im), uuid,
			       macho_arch_name(gen_cputype(g)),
			       (unsigned long long)gen_number(g),
			       (unsigned long long)gen_ndecls(g), (unsigned long long)gen_size(g),
			       (unsigned long long)gen_readers(g));
		gen_unref(g);
	}
	/* Use next to each limit: images and memory here, decls on each image's line. */
	enc_buf_printf(&b, "limits: images=%zu/%u max_decls=%llu max_line=%zu "
		       "max_batch_bytes=%zu keep_generations=%u memory=%llu/%llu\n", n,
		       r->lim.max_images, (unsigned long long)r->lim.max_decls, r->lim.max_line,
		       r->lim.max_batch_bytes, r->lim.keep_generations,
		       (unsigned long long)ctl_memory_used(),
		       (unsigned long long)r->lim.max_memory);
	if (r->durable.status)
		r->durable.status(r->durable.arg, &b);
	*out = (char *)enc_buf_take(&b, len);
	return *out ? 0 : -ENOMEM;
}

/* ---- sessions ---- */

#define RESULT_MAX 1024

struct ctl_session {
	struct ctl_registry *r;
	struct image *im;           /* bound image, or NULL */
	char *partial;              /* the line being assembled across writes */
	size_t plen, pcap;
	bool skipping;              /* discarding up to the next newline */
	bool skip_counted;          /* ... of a line already counted in line_no */
	struct image_item *items;   /* the pending batch */
	size_t nitems, cap;
	size_t batch_bytes;
	uint64_t line_no;           /* lines seen so far */
	uint64_t first_line;        /* line of the batch's first command */
	bool has_base;              /* ctl_session_set_base was called */
	char *base;                 /* ... with this directory (NULL: unknown) */
	char result[RESULT_MAX];
	size_t result_len;
};

int ctl_session_new(struct ctl_registry *r, struct ctl_session **out)
{
	struct ctl_session *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->r = r;
	*out = s;
	return 0;
}

static void drop_batch(struct ctl_session *s)
{
	for (size_t i = 0; i < s->nitems; i++)
		cmd_free(&s->items[i].cmd);
	s->nitems = 0;
	s->batch_bytes = 0;
}

/* The image a command applies to: the bound one, or the only one. */
static struct image *target(struct ctl_session *s)
{
	if (s->im)
		return s->im;
	return ctl_registry_count(s->r) == 1 ? ctl_registry_at(s->r, 0) : NULL;
}

static void log_to_image(struct ctl_session *s, const char *what)
{
	struct image *im = target(s);
	if (!im)
		return;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	char line[RESULT_MAX + 64];
	snprintf(line, sizeof line, "%s %s", stamp, what);
	image_log_error(im, line);
}

void ctl_session_free(struct ctl_session *s)
{
	if (!s)
		return;
	if (s->nitems) {
		char msg[160];
		snprintf(msg, sizeof msg, "closed with %zu uncommitted command(s) from line %llu: "
			 "dropped", s->nitems, (unsigned long long)s->first_line);
		log_to_image(s, msg);
	}
	drop_batch(s);
	free(s->items);
	free(s->partial);
	free(s->base);
	free(s);
}

int ctl_session_set_base(struct ctl_session *s, const char *dir)
{
	char *copy = NULL;
	if (dir && !(copy = strdup(dir)))
		return -ENOMEM;
	free(s->base);
	s->base = copy;
	s->has_base = true;
	return 0;
}

static void set_result(struct ctl_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_result(struct ctl_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->result, sizeof s->result - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof s->result - 2)
		n = sizeof s->result - 2;
	/* Messages quote the writer's values (paths, names), which may hold control
	 * characters: the result is one line. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)s->result[i] < 0x20 || s->result[i] == 0x7f)
			s->result[i] = '?';
	s->result[n] = '\n';
	s->result[n + 1] = 0;
	s->result_len = (size_t)n + 1;
}

/* Records an error: result line, image log, batch dropped. Returns rc. */
static int session_error(struct ctl_session *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int session_error(struct ctl_session *s, int rc, const char *fmt, ...)
{
	char msg[RESULT_MAX - 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	set_result(s, "error: %s", msg);
	char logged[sizeof msg + 64];
	snprintf(logged, sizeof logged, "%s (batch of %zu command(s) dropped)", msg, s->nitems);
	log_to_image(s, logged);
	drop_batch(s);
	return rc;
}

static int do_image(struct ctl_session *s, struct cmd *c)
{
	const char *name = c->u.image.name;
	struct image *bound = target(s);
	if (s->nitems && bound && strcmp(image_name(bound), name))
		return session_error(s, -EINVAL, "line %llu: image %s: a batch for image %s is "
				     "pending; commit or abort it first",
				     (unsigned long long)s->line_no, name, image_name(bound));
	struct image *im = ctl_registry_find(s->r, name);
	if (!c->u.image.create) {
		if (c->u.image.exe || c->u.image.has_uuid || c->u.image.has_arch)
			return session_error(s, -EINVAL, "line %llu: image %s: exe=, uuid= and "
					     "arch= describe a new image and need create",
					     (unsigned long long)s->line_no, name);
		if (!im)
			return session_error(s, -ENOENT, "line %llu: image %s does not exist (add "
					     "create to make it)", (unsigned long long)s->line_no,
					     name);
		s->im = im;
		return 0;
	}
	struct image_origin o;
	image_origin_of(c, &o);
	char err[512];
	int rc = ctl_registry_add(s->r, name, &o, err, sizeof err);
	if (rc)
		return session_error(s, rc, "line %llu: %s", (unsigned long long)s->line_no, err);
	s->im = ctl_registry_find(s->r, name);
	return 0;
}

static int do_commit(struct ctl_session *s)
{
	struct image *im = target(s);
	if (!im && !ctl_registry_count(s->r))
		return session_error(s, -EINVAL, "line %llu: commit: no image is mounted; "
				     "make one with `image NAME create`",
				     (unsigned long long)s->line_no);
	if (!im)
		return session_error(s, -EINVAL, "line %llu: commit: several images are mounted; "
				     "send `image NAME` first", (unsigned long long)s->line_no);
	struct image_result res;
	char err[RESULT_MAX - 32];
	int rc = image_commit(im, s->items, s->nitems, &res, err, sizeof err);
	if (rc)
		return session_error(s, rc, "%s", err);
	drop_batch(s);
	set_result(s, "ok generation=%llu decls=%llu", (unsigned long long)res.generation,
		   (unsigned long long)res.ndecls);
	return 0;
}

/* Makes *path absolute from the session's base. A syntax-level failure: it fails the
 * write that carried the line, like a malformed field. */
static int resolve_path(struct ctl_session *s, const char *what, char **path)
{
	if (!*path || (*path)[0] == '/' || !s->has_base)
		return 0;
	if (!s->base)
		return session_error(s, -EINVAL, "line %llu: %s%s: the writer's working directory "
				     "cannot be read, so paths must be absolute",
				     (unsigned long long)s->line_no, what, *path);
	size_t n = strlen(s->base);
	char *abs;
	if (asprintf(&abs, "%s%s%s", s->base, n && s->base[n - 1] == '/' ? "" : "/", *path) < 0)
		return session_error(s, -ENOMEM, "line %llu: out of memory",
				     (unsigned long long)s->line_no);
	free(*path);
	*path = abs;
	return 0;
}

static int resolve_paths(struct ctl_session *s, struct cmd *c)
{
	if (c->kind == CMD_EXE)
		return resolve_path(s, "exe ", &c->u.exe.path);
	if (c->kind == CMD_IMAGE)
		return resolve_path(s, "exe=", &c->u.image.exe);
	return 0;
}

static int handle_line(struct ctl_session *s, const char *line, size_t len)
{
	s->line_no++;
	struct cmd c;
	char err[RESULT_MAX - 64];
	int rc = cmd_parse(line, len, &c, err, sizeof err);
	if (rc == 1)
		return 0;
	if (rc)
		return session_error(s, rc, "line %llu: %s", (unsigned long long)s->line_no, err);
	rc = resolve_paths(s, &c);
	if (rc) {
		cmd_free(&c);
		return rc;
	}
	switch (c.kind) {
	case CMD_IMAGE:
		rc = do_image(s, &c);
		cmd_free(&c);
		return rc;
	case CMD_COMMIT:
		cmd_free(&c);
		return do_commit(s);
	case CMD_ABORT:
		cmd_free(&c);
		drop_batch(s);
		return 0;
	default:
		break;
	}
	if (s->batch_bytes + len > s->r->lim.max_batch_bytes) {
		cmd_free(&c);
		return session_error(s, -E2BIG, "line %llu: the pending batch passes %zu bytes "
				     "(max_batch_bytes); commit more often",
				     (unsigned long long)s->line_no, s->r->lim.max_batch_bytes);
	}
	if (util_grow(&s->items, &s->cap, s->nitems + 1, sizeof *s->items)) {
		cmd_free(&c);
		return session_error(s, -ENOMEM, "line %llu: out of memory",
				     (unsigned long long)s->line_no);
	}
	if (!s->nitems)
		s->first_line = s->line_no;
	s->items[s->nitems++] = (struct image_item){c, s->line_no};
	s->batch_bytes += len;
	return 0;
}

static int append_partial(struct ctl_session *s, const char *p, size_t n)
{
	if (util_grow(&s->partial, &s->pcap, s->plen + n, 1))
		return -ENOMEM;
	memcpy(s->partial + s->plen, p, n);
	s->plen += n;
	return 0;
}

/* Drops data[from..len) after a failed line: it belonged to the batch just dropped. Its
 * lines are still counted, so later messages keep matching the writer's line numbers. */
static void discard_rest(struct ctl_session *s, const char *data, size_t len, size_t from)
{
	for (size_t k = from; k < len; k++)
		if (data[k] == '\n')
			s->line_no++;
	s->skipping = from < len && data[len - 1] != '\n';
	s->skip_counted = false;
}

ssize_t ctl_session_write(struct ctl_session *s, const char *data, size_t len)
{
	size_t max_line = s->r->lim.max_line;
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t seg = nl ? (size_t)(nl - (data + i)) : len - i;
		if (s->skipping) {
			if (nl) {
				s->skipping = false;
				s->line_no += !s->skip_counted;
				s->skip_counted = false;
			}
			i += seg + (nl ? 1 : 0);
			continue;
		}
		int rc;
		if (s->plen + seg > max_line) {
			s->plen = 0;
			s->line_no++;
			rc = session_error(s, -E2BIG, "line %llu: longer than %zu bytes (max_line)",
					   (unsigned long long)s->line_no, max_line);
			if (nl) {
				discard_rest(s, data, len, i + seg + 1);
			} else {
				s->skipping = true;  /* the long line goes on in later writes */
				s->skip_counted = true;
			}
			return rc;
		}
		if (!nl) {
			rc = append_partial(s, data + i, seg);
			if (rc)
				return session_error(s, rc, "out of memory");
			break;
		}
		if (s->plen) {
			rc = append_partial(s, data + i, seg);
			if (!rc)
				rc = handle_line(s, s->partial, s->plen);
			s->plen = 0;
		} else {
			rc = handle_line(s, data + i, seg);
		}
		i += seg + 1;
		if (rc) {
			discard_rest(s, data, len, i);
			return rc;
		}
	}
	return (ssize_t)len;
}

const char *ctl_session_result(const struct ctl_session *s, size_t *len)
{
	*len = s->result_len;
	return s->result;
}

int ctl_run_script(struct ctl_registry *r, const char *text, size_t len, char *err,
		   size_t errlen)
{
	struct ctl_session *s;
	int rc = ctl_session_new(r, &s);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	ssize_t w = ctl_session_write(s, text, len);
	if (w >= 0 && s->plen) {
		w = ctl_session_write(s, "\n", 1);  /* a script need not end in a newline */
	}
	if (w >= 0 && s->nitems)
		w = do_commit(s);
	rc = w < 0 ? (int)w : 0;
	if (rc) {
		size_t n;
		const char *res = ctl_session_result(s, &n);
		snprintf(err, errlen, "%.*s", (int)(n ? n - 1 : 0), res);
	}
	ctl_session_free(s);
	return rc;
}
