/* Configuration: one table of keys feeds inih's handler. See conf.h. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "macho.h"
#include "util.h"

enum sec_kind {
	SEC_NONE,    /* before the first section header */
	SEC_GLOBAL,  /* [dsymfs] */
	SEC_IMAGE,   /* [image NAME] */
	SEC_BAD,     /* a refused header: its keys are ignored, the header was reported */
};

struct parse_ctx;
struct key;

/* Parses value into field (which the key's offset locates). Returns 0, or -EINVAL after
 * calling fail(), or -ENOMEM. */
typedef int (*parse_fn)(struct parse_ctx *x, const struct key *k, const char *value,
			void *field);

struct key {
	enum sec_kind sec;
	const char *name;
	parse_fn parse;
	size_t off;        /* in struct conf (SEC_GLOBAL) or struct conf_image (SEC_IMAGE) */
	size_t width;      /* the field's size (integers are 4 or 8 bytes) */
	const char *def;   /* default, parsed like a written value; NULL: none */
	uint64_t min, max; /* numeric keys only */
	int group;         /* keys of different non-zero groups exclude each other */
	const char *doc;
};

struct parse_ctx {
	struct conf *c;
	const char *dir;        /* directory relative exe paths start from; NULL: cwd */
	/* The reader's position in the text. */
	const char *text;
	size_t len, pos;
	unsigned line;          /* the line the reader handed to inih last */
	/* The section being read. */
	enum sec_kind sec;
	size_t img;             /* index in c->images when sec == SEC_IMAGE */
	unsigned *seen;         /* per key: line it was set on in this scope, 0: not yet */
	unsigned global_line;   /* first [dsymfs] header */
	/* The first error. */
	int rc;
	unsigned err_line;
	char msg[512];
};

static int parse_level(struct parse_ctx *x, const struct key *k, const char *v, void *f);
static int parse_uint(struct parse_ctx *x, const struct key *k, const char *v, void *f);
static int parse_path(struct parse_ctx *x, const struct key *k, const char *v, void *f);
static int parse_link(struct parse_ctx *x, const struct key *k, const char *v, void *f);
static int parse_uuid(struct parse_ctx *x, const struct key *k, const char *v, void *f);
static int parse_arch(struct parse_ctx *x, const struct key *k, const char *v, void *f);

#define G(field) offsetof(struct conf, field), sizeof(((struct conf *)0)->field)
#define I(field) offsetof(struct conf_image, field), sizeof(((struct conf_image *)0)->field)

static const struct key keys[] = {
	{SEC_GLOBAL, "log_level", parse_level, G(log_level), "info", 0, 0, 0,
	 "error, warn, info or debug: what the daemon logs to stderr"},
	{SEC_GLOBAL, "keep_generations", parse_uint, G(limits.keep_generations), "8", 1,
	 UINT32_MAX, 0,
	 "newest generations of each image kept reachable under images/NAME/generations/"},
	{SEC_GLOBAL, "max_line", parse_uint, G(limits.max_line), "1048576", 1, SIZE_MAX, 0,
	 "bytes in one control-file line; a longer line fails with E2BIG"},
	{SEC_GLOBAL, "max_batch_bytes", parse_uint, G(limits.max_batch_bytes), "1073741824", 1,
	 SIZE_MAX, 0, "bytes of uncommitted commands per control handle; more fails with E2BIG"},
	{SEC_GLOBAL, "max_decls", parse_uint, G(limits.max_decls), "0", 0, UINT64_MAX, 0,
	 "functions per image (0: unlimited); a commit past it fails with ENOSPC"},
	{SEC_GLOBAL, "max_images", parse_uint, G(limits.max_images), "64", 1, CONF_MAX_IMAGES,
	 0, "images per mount, configured plus created at run time"},
	{SEC_GLOBAL, "max_memory", parse_uint, G(limits.max_memory), "0", 0, UINT64_MAX, 0,
	 "daemon resident bytes (0: unlimited); a commit or new image past it fails with ENOMEM"},
	{SEC_GLOBAL, "state_dir", parse_path, G(state_dir), NULL, 0, 0, 0,
	 "journal directory: commits survive a restart (relative: to this file); unset: memory only"},
	{SEC_GLOBAL, "compact_bytes", parse_uint, G(compact_bytes), "67108864", 4096, UINT64_MAX,
	 0, "journal bytes past which (and past the snapshot's size) a new snapshot is written"},
	{SEC_IMAGE, "exe", parse_path, I(exe), NULL, 0, 0, 1,
	 "Mach-O executable giving UUID, arch, segments and symbols (relative: to this file)"},
	{SEC_IMAGE, "uuid", parse_uuid, I(origin), NULL, 0, 0, 2,
	 "UUID 8-4-4-4-12 in hex (default: a fresh random one)"},
	{SEC_IMAGE, "arch", parse_arch, I(origin), NULL, 0, 0, 2,
	 "x86_64 or arm64 (default: x86_64)"},
	{SEC_IMAGE, "link", parse_link, I(link), NULL, 0, 0, 0,
	 "symlink to the mounted bundle kept here while mounted, say PROG.dSYM beside PROG "
	 "(relative: to this file)"},
};

#undef G
#undef I

#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static const char default_text[] =
	"# dsymfs's built-in configuration, used when no --config is given.\n"
	"[dsymfs]\n"
	"log_level = info\n"
	"\n"
	"# One image; no uuid key, so it gets a fresh random UUID at each start.\n"
	"[image Foo]\n"
	"arch = x86_64\n";

const char *conf_default_text(void)
{
	return default_text;
}

const char *conf_log_level_name(enum conf_log_level l)
{
	return (unsigned)l < sizeof level_names / sizeof level_names[0] ? level_names[l] : "?";
}

/* Records the first error; later ones are consequences or noise. */
static int fail(struct parse_ctx *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parse_ctx *x, int rc, const char *fmt, ...)
{
	if (x->rc)
		return rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof x->msg, fmt, ap);
	va_end(ap);
	x->rc = rc;
	x->err_line = x->line;
	return rc;
}

/* Decimal or 0x hex, nothing else (no sign, no spaces, no suffix). */
static int parse_number(const char *s, uint64_t *out)
{
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (base == 10 ? !isdigit((unsigned char)*p) : !isxdigit((unsigned char)*p))
			return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, NULL, base);
	if (errno)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_ranged(struct parse_ctx *x, const struct key *k, const char *v,
			uint64_t *out)
{
	int rc = parse_number(v, out);
	if (rc == -EINVAL)
		return fail(x, -EINVAL, "key \"%s\": \"%s\" is not a number (decimal or 0x hex)",
			    k->name, v);
	if (rc || *out < k->min || *out > k->max)
		return fail(x, -EINVAL, "key \"%s\": %s is out of range (%" PRIu64 "..%" PRIu64 ")",
			    k->name, v, k->min, k->max);
	return 0;
}

/* An unsigned integer field of the key's width. */
static int parse_uint(struct parse_ctx *x, const struct key *k, const char *v, void *f)
{
	uint64_t n = 0;
	int rc = parse_ranged(x, k, v, &n);
	if (rc)
		return rc;
	if (k->width == sizeof(uint32_t))
		*(uint32_t *)f = (uint32_t)n;
	else
		*(uint64_t *)f = n;
	return 0;
}

static int parse_level(struct parse_ctx *x, const struct key *k, const char *v, void *f)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (!strcmp(v, level_names[i])) {
			*(enum conf_log_level *)f = (enum conf_log_level)i;
			return 0;
		}
	}
	return fail(x, -EINVAL, "key \"%s\": \"%s\" is not one of error, warn, info, debug",
		    k->name, v);
}

static int parse_path(struct parse_ctx *x, const struct key *k, const char *v, void *f)
{
	if (!*v)
		return fail(x, -EINVAL, "key \"%s\" needs a path", k->name);
	char *path;
	int n;
	if (v[0] == '/' || !x->dir)
		n = asprintf(&path, "%s", v);
	else
		n = asprintf(&path, "%s/%s", x->dir, v);
	if (n < 0)
		return fail(x, -ENOMEM, "out of memory");
	char **slot = f;
	free(*slot);
	*slot = path;
	return 0;
}

/* A path that must stay valid after the daemon leaves its working directory. */
static int parse_link(struct parse_ctx *x, const struct key *k, const char *v, void *f)
{
	int rc = parse_path(x, k, v, f);
	char **slot = f;
	if (rc || (*slot)[0] == '/')
		return rc;
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return fail(x, -errno, "key \"%s\": %s is relative and the working directory "
			    "cannot be read: %s", k->name, v, strerror(errno));
	char *path;
	int n = asprintf(&path, "%s/%s", cwd, *slot);
	free(cwd);
	if (n < 0)
		return fail(x, -ENOMEM, "out of memory");
	free(*slot);
	*slot = path;
	return 0;
}

static int parse_uuid(struct parse_ctx *x, const struct key *k, const char *v, void *f)
{
	struct image_origin *o = f;
	if (macho_uuid_parse(v, o->uuid))
		return fail(x, -EINVAL, "key \"%s\": \"%s\" is not a UUID "
			    "(XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX, hex)", k->name, v);
	o->has_uuid = true;
	return 0;
}

static int parse_arch(struct parse_ctx *x, const struct key *k, const char *v, void *f)
{
	struct image_origin *o = f;
	if (macho_arch_parse(v, &o->cputype, &o->cpusubtype))
		return fail(x, -EINVAL, "key \"%s\": \"%s\" is not x86_64 or arm64", k->name, v);
	o->has_arch = true;
	return 0;
}

static void *field_of(struct parse_ctx *x, const struct key *k)
{
	char *base = k->sec == SEC_GLOBAL ? (char *)x->c : (char *)&x->c->images[x->img];
	return base + k->off;
}

static const char *section_label(struct parse_ctx *x, char *buf, size_t len)
{
	if (x->sec == SEC_GLOBAL)
		return "[dsymfs]";
	snprintf(buf, len, "[image %s]", x->c->images[x->img].name);
	return buf;
}

/* One key = value pair, from inih. Returns nonzero to go on (the first error is kept in
 * the context, and inih notes its line). */
static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *x = user;
	(void)section;  /* the reader tracked the header, with its line and full name */
	char label[128];
	if (x->sec == SEC_BAD)
		return 1;
	if (x->sec == SEC_NONE)
		return !fail(x, -EINVAL, "key \"%s\" comes before any section ([dsymfs] or "
			     "[image NAME])", name);
	const struct key *k = NULL;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == x->sec && !strcmp(keys[i].name, name))
			k = &keys[i];
	if (!k)
		return !fail(x, -EINVAL, "key \"%s\" is unknown in %s", name,
			     section_label(x, label, sizeof label));
	size_t ki = (size_t)(k - keys);
	if (x->seen[ki])
		return !fail(x, -EINVAL, "key \"%s\" is given twice in %s (first on line %u)", name,
			     section_label(x, label, sizeof label), x->seen[ki]);
	for (size_t i = 0; i < NKEYS && k->group; i++)
		if (x->seen[i] && keys[i].sec == k->sec && keys[i].group &&
		    keys[i].group != k->group)
			return !fail(x, -EINVAL, "key \"%s\" cannot be combined with \"%s\" (line %u) "
				     "in %s", name, keys[i].name, x->seen[i],
				     section_label(x, label, sizeof label));
	x->seen[ki] = x->line;
	return !k->parse(x, k, value, field_of(x, k));
}

static int valid_image_name(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; *s; s++)
		if (*s == '/' || isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 0;
	return 1;
}

static int open_image(struct parse_ctx *x, const char *name)
{
	if (!valid_image_name(name))
		return fail(x, -EINVAL, "section [image %s]: an image name is one word without "
			    "'/'", name);
	for (size_t i = 0; i < x->c->nimages; i++)
		if (!strcmp(x->c->images[i].name, name))
			return fail(x, -EINVAL, "image %s is already defined on line %u", name,
				    x->c->images[i].line);
	struct conf_image *v = realloc(x->c->images, (x->c->nimages + 1) * sizeof *v);
	if (!v)
		return fail(x, -ENOMEM, "out of memory");
	x->c->images = v;
	struct conf_image *im = &v[x->c->nimages];
	memset(im, 0, sizeof *im);
	im->line = x->line;
	im->name = strdup(name);
	if (!im->name)
		return fail(x, -ENOMEM, "out of memory");
	x->img = x->c->nimages++;
	x->sec = SEC_IMAGE;
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == SEC_IMAGE)
			x->seen[i] = 0;
	return 0;
}

/* A section header, seen by the reader (inih tells the handler nothing about a section
 * with no keys, nor the header's line). name is the text between the brackets. */
static void open_section(struct parse_ctx *x, char *name)
{
	x->sec = SEC_BAD;
	while (isspace((unsigned char)*name))
		name++;
	char *end = name + strlen(name);
	while (end > name && isspace((unsigned char)end[-1]))
		*--end = 0;
	if (!strcmp(name, "dsymfs")) {
		x->sec = SEC_GLOBAL;
		if (!x->global_line)
			x->global_line = x->line;
		return;
	}
	if (!strncmp(name, "image", 5) && isspace((unsigned char)name[5])) {
		char *n = name + 5;
		while (isspace((unsigned char)*n))
			n++;
		open_image(x, n);
		return;
	}
	fail(x, -EINVAL, "section [%s] is unknown (expected [dsymfs] or [image NAME])", name);
}

/* If line is a section header as inih reads one ('[' after blanks, then ']' before any
 * inline comment), opens that section. */
static void scan_header(struct parse_ctx *x, const char *line, size_t len)
{
	size_t i = 0;
	if (x->line == 1 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && isspace((unsigned char)line[i]))
		i++;
	if (i == len || line[i] != '[')
		return;
	size_t start = ++i;
	for (; i < len && line[i] != ']'; i++)
		if (line[i] == ';' && isspace((unsigned char)line[i - 1]))
			return;
	if (i == len)
		return;
	char name[256];
	size_t n = i - start < sizeof name - 1 ? i - start : sizeof name - 1;
	memcpy(name, line + start, n);
	name[n] = 0;
	open_section(x, name);
}

/* inih's reader: hands out exactly one line per call, so the context's line counter is
 * inih's, and refuses a line that would not fit (inih would cut it and read the rest as
 * another line). */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *x = stream;
	if (x->pos >= x->len)
		return NULL;
	const char *p = x->text + x->pos;
	const char *nl = memchr(p, '\n', x->len - x->pos);
	size_t n = nl ? (size_t)(nl - p) + 1 : x->len - x->pos;
	x->pos += n;
	x->line++;
	/* inih would take an indented line for the continuation of the previous value;
	 * no value of ours spans lines, so indentation is only layout. */
	while (n > 1 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (memchr(p, 0, n)) {
		fail(x, -EINVAL, "line contains a NUL byte");
		n = 0;
	} else if (n + 1 > (size_t)num) {
		fail(x, -EINVAL, "line is longer than %d bytes", num - 2);
		n = 0;
	}
	if (n == 0) {
		strcpy(str, "\n");
		return str;
	}
	memcpy(str, p, n);
	str[n] = 0;
	scan_header(x, str, n);
	return str;
}

static void set_origin(struct conf *c)
{
	for (size_t i = 0; i < c->nimages; i++)
		c->images[i].origin.exe_path = c->images[i].exe;
}

void conf_free(struct conf *c)
{
	for (size_t i = 0; i < c->nimages; i++) {
		free(c->images[i].name);
		free(c->images[i].exe);
		free(c->images[i].link);
	}
	free(c->images);
	free(c->origin);
	free(c->state_dir);
	memset(c, 0, sizeof *c);
}

static int apply_defaults(struct parse_ctx *x)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (!keys[i].def)
			continue;
		int rc = keys[i].parse(x, &keys[i], keys[i].def, field_of(x, &keys[i]));
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_text(struct conf *c, const char *text, size_t len, const char *origin,
		      const char *dir, char *err, size_t errlen)
{
	unsigned seen[NKEYS] = {0};
	struct parse_ctx x = {
		.c = c, .dir = dir, .text = text, .len = len, .seen = seen, .sec = SEC_GLOBAL,
	};
	memset(c, 0, sizeof *c);
	int rc = -ENOMEM;
	c->origin = strdup(origin);
	if (!c->origin) {
		snprintf(err, errlen, "%s: out of memory", origin);
		goto fail;
	}
	rc = apply_defaults(&x);
	if (rc) {
		snprintf(err, errlen, "%s: built-in default: %s", origin, x.msg);
		goto fail;
	}
	x.sec = SEC_NONE;
	int bad = ini_parse_stream(read_line, &x, on_pair, &x);
	if (bad == -2) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", origin);
		goto fail;
	}
	/* inih reports the first line it stopped at; the context knows why, unless inih
	 * itself could not read that line. */
	if (bad > 0 && (!x.rc || (unsigned)bad < x.err_line)) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s:%d: syntax error: expected [section], key = value, or a "
			 "comment", origin, bad);
		goto fail;
	}
	if (x.rc) {
		rc = x.rc;
		snprintf(err, errlen, "%s:%u: %s", origin, x.err_line, x.msg);
		goto fail;
	}
	if (c->nimages > c->limits.max_images) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s:%u: image %s is one more than max_images (%u)", origin,
			 c->images[c->limits.max_images].line, c->images[c->limits.max_images].name,
			 c->limits.max_images);
		goto fail;
	}
	for (size_t i = 0; i < c->nimages; i++)
		for (size_t j = 0; j < i && c->images[i].link; j++)
			if (c->images[j].link && !strcmp(c->images[i].link, c->images[j].link)) {
				rc = -EINVAL;
				snprintf(err, errlen, "%s:%u: image %s: link %s is already image %s's "
					 "(line %u)", origin, c->images[i].line, c->images[i].name,
					 c->images[i].link, c->images[j].name, c->images[j].line);
				goto fail;
			}
	set_origin(c);
	return 0;
fail:
	conf_free(c);
	return rc;
}

int conf_load_string(struct conf *c, const char *text, const char *origin, char *err,
		     size_t errlen)
{
	return parse_text(c, text, strlen(text), origin, NULL, err, errlen);
}

int conf_load_default(struct conf *c, char *err, size_t errlen)
{
	return conf_load_string(c, default_text, "(built-in)", err, errlen);
}

static int read_all(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	for (;;) {
		/* Room for a read of at least a page and the NUL that ends the text. */
		if (util_grow(&buf, &cap, n + 4096 + 1, 1)) {
			rc = -ENOMEM;
			break;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				rc = -EIO;
			break;
		}
	}
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	char *text = NULL, *dir = NULL;
	size_t len = 0;
	int rc = read_all(path, &text, &len);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	const char *slash = strrchr(path, '/');
	if (slash) {
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (!dir) {
			free(text);
			snprintf(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
	}
	rc = parse_text(c, text, len, path, dir, err, errlen);
	free(dir);
	free(text);
	return rc;
}

void conf_print_keys(FILE *f)
{
	enum sec_kind last = SEC_NONE;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (k->sec != last)
			fprintf(f, "%s\n", k->sec == SEC_GLOBAL ? "[dsymfs]" : "[image NAME]");
		last = k->sec;
		char left[64];
		snprintf(left, sizeof left, "%s = %s", k->name, k->def ? k->def : "");
		fprintf(f, "  %-30s %s\n", left, k->doc);
	}
}
