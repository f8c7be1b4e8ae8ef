/* dsymfs client: protocol lines formatted straight into one growing buffer.
 *
 * Each call checks its values first, in the order the daemon's parser checks the fields
 * of the line it would get (so the first fault named is the same), then appends the line
 * and writes the buffer out when the line would take it past the write size. Numbers are
 * formatted by hand, not through printf: a compiler sends hundreds of thousands of lines.
 *
 * A refusal is worded from what the line would have held, since that is what the parser
 * would quote: a value as it is spelled (ids in decimal, addresses in hex), cut and
 * escaped as the parser renders values in messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsymfs.h"
#include "util.h"

#define WRITE_SIZE (1u << 20)  /* the daemon's largest single request */
#define ERR_MAX    512
#define SEGNAME_MAX 16
#define LINE_MAX_NO 2147483647u

struct dsymfs {
	int fd;                /* -1 after a failed open */
	bool own_fd;
	bool script;
	bool sent;             /* lines of the pending batch were written to the daemon */
	bool nomem;            /* an append failed; the line being built is void */
	char *buf;
	size_t len, cap;
	size_t wsize;
	char err[ERR_MAX];
};

static const char open_nomem[] = "out of memory";

/* Messages. */

static int say(struct dsymfs *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int say(struct dsymfs *c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return rc;
}

/* The buffer. */

static bool reserve(struct dsymfs *c, size_t more)
{
	if (c->nomem)
		return false;
	size_t need = c->len + more;
	if (util_grow(&c->buf, &c->cap, need < 1u << 16 ? 1u << 16 : need, 1)) {
		c->nomem = true;
		return false;
	}
	return true;
}

static void put(struct dsymfs *c, const char *s, size_t n)
{
	if (!reserve(c, n))
		return;
	memcpy(c->buf + c->len, s, n);
	c->len += n;
}

static void put_str(struct dsymfs *c, const char *s)
{
	put(c, s, strlen(s));
}

/* Number spellings into out, which has room for 24 bytes; each returns the length. */
static size_t fmt_dec(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static size_t fmt_hex(char *out, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0;
	do {
		tmp[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < n; i++)
		out[2 + i] = tmp[n - 1 - i];
	return n + 2;
}

static size_t fmt_sdec(char *out, int64_t v)
{
	if (v >= 0)
		return fmt_dec(out, (uint64_t)v);
	out[0] = '-';
	/* Negated in unsigned arithmetic so INT64_MIN stays representable. */
	return 1 + fmt_dec(out + 1, 0 - (uint64_t)v);
}

static void put_dec(struct dsymfs *c, uint64_t v)
{
	char d[24];
	put(c, d, fmt_dec(d, v));
}

static void put_hex(struct dsymfs *c, uint64_t v)
{
	char d[24];
	put(c, d, fmt_hex(d, v));
}

static void put_sdec(struct dsymfs *c, int64_t v)
{
	char d[24];
	put(c, d, fmt_sdec(d, v));
}

/* Bytes that end a bare value or change its meaning (the protocol's quoting rule). */
static bool needs_quote(unsigned char ch)
{
	return ch <= ' ' || ch == 0x7f || ch == '"' || ch == '\\' || ch == '=';
}

static bool bare(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (needs_quote((unsigned char)*s))
			return false;
	return true;
}

/* s with the protocol's C escapes, without the quotes. */
static void put_escaped(struct dsymfs *c, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (!reserve(c, 4 * strlen(s)))
		return;
	char *w = c->buf + c->len;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		switch (ch) {
		case '"': *w++ = '\\'; *w++ = '"'; break;
		case '\\': *w++ = '\\'; *w++ = '\\'; break;
		case '\n': *w++ = '\\'; *w++ = 'n'; break;
		case '\t': *w++ = '\\'; *w++ = 't'; break;
		case '\r': *w++ = '\\'; *w++ = 'r'; break;
		default:
			if (ch < 0x20 || ch == 0x7f) {
				*w++ = '\\';
				*w++ = 'x';
				*w++ = hex[ch >> 4];
				*w++ = hex[ch & 15];
			} else {
				*w++ = (char)ch;
			}
		}
	}
	c->len = (size_t)(w - c->buf);
}

static void put_value(struct dsymfs *c, const char *s)
{
	if (bare(s)) {
		put_str(c, s);
		return;
	}
	put(c, "\"", 1);
	put_escaped(c, s);
	put(c, "\"", 1);
}

/* " key=" */
static void put_key(struct dsymfs *c, const char *key)
{
	size_t n = strlen(key);
	if (!reserve(c, n + 2))
		return;
	c->buf[c->len++] = ' ';
	memcpy(c->buf + c->len, key, n);
	c->len += n;
	c->buf[c->len++] = '=';
}

/* Writing. */

/* After a refused write: the daemon's result line says why, without "error: ". */
static int daemon_error(struct dsymfs *c, int err)
{
	char res[ERR_MAX];
	ssize_t n = c->script ? -1 : pread(c->fd, res, sizeof res - 1, 0);
	if (n > 0) {
		res[n] = 0;
		res[strcspn(res, "\n")] = 0;
		const char *why = strncmp(res, "error: ", 7) ? res : res + 7;
		return say(c, -err, "%s", why);
	}
	return say(c, -err, "write: %s", strerror(err));
}

static int write_out(struct dsymfs *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(c->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : EIO;
			/* The daemon dropped the batch with the failed write, so does the
			 * client. */
			c->len = 0;
			c->sent = false;
			return daemon_error(c, err);
		}
		p += w;
		n -= (size_t)w;
		c->sent = true;
	}
	return 0;
}

int dsymfs_flush(struct dsymfs *c)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	size_t n = c->len;
	c->len = 0;
	return n ? write_out(c, c->buf, n) : 0;
}

/* Starts a line: returns its offset in the buffer. */
static size_t begin(struct dsymfs *c, const char *word)
{
	c->err[0] = 0;
	size_t start = c->len;
	put_str(c, word);
	return start;
}

/* Ends the line begun at start and writes out what came before it when the line takes
 * the buffer past the write size, so each write() stays one request to the daemon. */
static int end(struct dsymfs *c, size_t start)
{
	put(c, "\n", 1);
	if (c->nomem) {
		c->nomem = false;
		c->len = start;
		return say(c, -ENOMEM, "out of memory");
	}
	if (c->len <= c->wsize || !start)
		return 0;
	int rc = write_out(c, c->buf, start);
	if (rc)
		return rc;
	size_t n = c->len - start;
	memmove(c->buf, c->buf + start, n);
	c->len = n;
	return 0;
}

/* Refusals, worded as the parser words them. */

static int refuse(struct dsymfs *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int refuse(struct dsymfs *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int zero_id(struct dsymfs *c, const char *cmd, const char *label)
{
	return refuse(c, "%s: %s: id 0 is reserved (it means none)", cmd, label);
}

/* A required string: NULL is a missing field, "" an empty one; label is the positional
 * word ("NAME") or the key. */
static int check_name(struct dsymfs *c, const char *cmd, const char *label, bool positional,
		      const char *s)
{
	if (!s)
		return positional ? refuse(c, "%s: missing %s", cmd, label)
				  : refuse(c, "%s: missing field \"%s\"", cmd, label);
	if (!*s)
		return positional ? refuse(c, "%s: %s: must not be empty", cmd, label)
				  : refuse(c, "%s: field \"%s\": must not be empty", cmd, label);
	return 0;
}

static int check_segname(struct dsymfs *c, const char *cmd, const char *label, const char *s)
{
	if (!s)
		return refuse(c, "%s: missing %s", cmd, label);
	size_t n = strlen(s);
	char sb[UTIL_SHOW_MAX];
	if (!n || n > SEGNAME_MAX)
		return refuse(c, "%s: %s: \"%s\" must be 1 to %d bytes long", cmd, label,
			      util_show(sb, s, n), SEGNAME_MAX);
	return 0;
}

/* A struct from a caller built against another version of this header: fields this
 * library does not know must be zero, fields the caller does not know read as zero. */
static int take(struct dsymfs *c, void *dst, size_t dsize, const void *src, size_t ssize,
		const char *what)
{
	memset(dst, 0, dsize);
	memcpy(dst, src, ssize < dsize ? ssize : dsize);
	for (size_t i = dsize; i < ssize; i++)
		if (((const unsigned char *)src)[i])
			return say(c, -EINVAL, "%s: the caller sets fields this library does not "
				   "know (it is older than the header the caller was built with)",
				   what);
	return 0;
}

/* Opening and closing. */

static struct dsymfs *client_new(int fd, bool own, bool script)
{
	struct dsymfs *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->fd = fd;
	c->own_fd = own;
	c->script = script;
	c->wsize = WRITE_SIZE;
	return c;
}

int dsymfs_open_fd(int fd, unsigned flags, struct dsymfs **out)
{
	*out = client_new(fd, false, flags & DSYMFS_SCRIPT);
	if (!*out)
		return -ENOMEM;
	if (fd < 0 || (flags & ~DSYMFS_SCRIPT)) {
		(*out)->fd = -1;
		return say(*out, fd < 0 ? -EBADF : -EINVAL, fd < 0 ? "not an open fd (%d)" :
			   "unknown flags 0x%x", fd < 0 ? fd : (int)(flags & ~DSYMFS_SCRIPT));
	}
	return 0;
}

int dsymfs_open(const char *mount, const char *image, struct dsymfs **out)
{
	struct dsymfs *c = *out = client_new(-1, true, false);
	if (!c)
		return -ENOMEM;
	if (!mount)
		return say(c, -EINVAL, "no mount point given");
	size_t n = strlen(mount) + sizeof "/control";
	char *path = malloc(n);
	if (!path)
		return say(c, -ENOMEM, "out of memory");
	snprintf(path, n, "%s/control", mount);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int rc = say(c, -errno, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	free(path);
	c->fd = fd;
	int rc = image ? dsymfs_image(c, image) : 0;
	if (rc) {
		close(fd);
		c->fd = -1;
	}
	return rc;
}

int dsymfs_close(struct dsymfs *c)
{
	if (!c)
		return 0;
	int rc = c->script && c->fd >= 0 ? dsymfs_flush(c) : 0;
	if (c->own_fd && c->fd >= 0 && close(c->fd) && !rc)
		rc = -errno;
	free(c->buf);
	free(c);
	return rc;
}

const char *dsymfs_last_error(const struct dsymfs *c)
{
	return c ? c->err : open_nomem;
}

void dsymfs_set_write_size(struct dsymfs *c, size_t bytes)
{
	c->wsize = bytes ? bytes : WRITE_SIZE;
}

/* Images. */

static const char *const arch_names[] = {
	[DSYMFS_ARCH_X86_64] = "x86_64",
	[DSYMFS_ARCH_ARM64] = "arm64",
};

static int check_image_name(struct dsymfs *c, const char *name)
{
	if (!name)
		return refuse(c, "image: missing NAME");
	char sb[UTIL_SHOW_MAX];
	size_t n = strlen(name);
	/* The name becomes a directory of the mount. */
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return refuse(c, "image: NAME: \"%s\" cannot name a directory (no '/', not . or "
			      "..)", util_show(sb, name, n));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return refuse(c, "image: NAME: \"%s\" contains a control character",
				      util_show(sb, name, n));
	return check_name(c, "image", "NAME", true, name);
}

/* Writes the buffer with the line begun at start: the line takes effect at once. */
static int now(struct dsymfs *c, size_t start)
{
	int rc = end(c, start);
	return rc ? rc : dsymfs_flush(c);
}

int dsymfs_image(struct dsymfs *c, const char *name)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	int rc = check_image_name(c, name);
	if (rc)
		return rc;
	size_t start = begin(c, "image ");
	put_value(c, name);
	return now(c, start);
}

int dsymfs_image_create(struct dsymfs *c, const char *name, const char *exe,
			const uint8_t *uuid, enum dsymfs_arch arch)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	int rc = check_image_name(c, name);
	if (rc)
		return rc;
	if (exe && !*exe)
		return refuse(c, "image: field \"exe\": must not be empty");
	if ((unsigned)arch >= sizeof arch_names / sizeof arch_names[0]) {
		char d[24];
		d[fmt_dec(d, (unsigned)arch)] = 0;
		return refuse(c, "image: field \"arch\": \"%s\" is not x86_64 or arm64", d);
	}
	size_t start = begin(c, "image ");
	put_value(c, name);
	put_str(c, " create");
	if (exe) {
		put_key(c, "exe");
		put_value(c, exe);
	}
	if (uuid) {
		static const char hex[] = "0123456789ABCDEF";
		char u[37];
		size_t o = 0;
		for (size_t i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				u[o++] = '-';
			u[o++] = hex[uuid[i] >> 4];
			u[o++] = hex[uuid[i] & 15];
		}
		put_key(c, "uuid");
		put(c, u, o);
	}
	if (arch) {
		put_key(c, "arch");
		put_str(c, arch_names[arch]);
	}
	return now(c, start);
}

int dsymfs_exe(struct dsymfs *c, const char *path)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	int rc = check_name(c, "exe", "PATH", true, path);
	if (rc)
		return rc;
	size_t start = begin(c, "exe ");
	put_value(c, path);
	return end(c, start);
}

/* Segments and sections. */

static int check_prot(struct dsymfs *c, const char *key, int prot)
{
	if (prot == DSYMFS_PROT_KEEP || (prot >= 0 && prot <= 7))
		return 0;
	char d[24];
	d[fmt_sdec(d, prot)] = 0;
	return refuse(c, "segment: field \"%s\": \"%s\" is not a protection (a number 0 to 7 "
		      "or a string like \"r-x\")", key, d);
}

int dsymfs_segment(struct dsymfs *c, const char *name, uint64_t vmaddr, uint64_t vmsize,
		   int maxprot, int initprot)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	int rc = check_segname(c, "segment", "NAME", name);
	if (!rc)
		rc = check_prot(c, "maxprot", maxprot);
	if (!rc)
		rc = check_prot(c, "initprot", initprot);
	if (rc)
		return rc;
	size_t start = begin(c, "segment ");
	put_value(c, name);
	put_key(c, "vmaddr");
	put_hex(c, vmaddr);
	put_key(c, "vmsize");
	put_hex(c, vmsize);
	if (maxprot != DSYMFS_PROT_KEEP) {
		put_key(c, "maxprot");
		put_dec(c, (unsigned)maxprot);
	}
	if (initprot != DSYMFS_PROT_KEEP) {
		put_key(c, "initprot");
		put_dec(c, (unsigned)initprot);
	}
	return end(c, start);
}

int dsymfs_section(struct dsymfs *c, const char *seg, const char *sect, uint64_t addr,
		   uint64_t size, int align)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	if (!seg || !sect)
		return refuse(c, "section: missing %s", seg ? "SECT" : "SEG");
	int rc = check_segname(c, "section", "SEG", seg);
	if (!rc)
		rc = check_segname(c, "section", "SECT", sect);
	if (rc)
		return rc;
	if (align < -1)
		return refuse(c, "section: field \"align\": \"%d\" must not be negative", align);
	if (align > 15)
		return refuse(c, "section: field \"align\": \"%d\" must be at most 15", align);
	size_t start = begin(c, "section ");
	put_value(c, seg);
	put(c, " ", 1);
	put_value(c, sect);
	put_key(c, "addr");
	put_hex(c, addr);
	put_key(c, "size");
	put_hex(c, size);
	if (align >= 0) {
		put_key(c, "align");
		put_dec(c, (unsigned)align);
	}
	return end(c, start);
}

/* Files and types. */

static void put_lang(struct dsymfs *c, uint32_t lang)
{
	static const struct {
		uint32_t code;
		const char *name;
	} langs[] = {
		{ DSYMFS_LANG_C89, "c89" }, { DSYMFS_LANG_C99, "c99" },
		{ DSYMFS_LANG_C11, "c11" }, { DSYMFS_LANG_C17, "c17" },
	};
	for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
		if (langs[i].code == lang) {
			put_str(c, langs[i].name);
			return;
		}
	put_dec(c, lang);
}

int dsymfs_file_sized(struct dsymfs *c, const struct dsymfs_file *fp, size_t fsize)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	struct dsymfs_file f;
	int rc = take(c, &f, sizeof f, fp, fsize, "file");
	if (rc)
		return rc;
	if (!f.path)
		return refuse(c, "file: missing field \"path\"");
	if (!f.id)
		return zero_id(c, "file", "ID");
	rc = check_name(c, "file", "path", false, f.path);
	if (!rc && f.dir)
		rc = check_name(c, "file", "dir", false, f.dir);
	if (rc)
		return rc;
	size_t start = begin(c, "file ");
	put_dec(c, f.id);
	put_key(c, "path");
	put_value(c, f.path);
	if (f.dir) {
		put_key(c, "dir");
		put_value(c, f.dir);
	}
	if (f.lang) {
		put_key(c, "lang");
		put_lang(c, f.lang);
	}
	return end(c, start);
}

static int del(struct dsymfs *c, const char *word, uint64_t id)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	if (!id)
		return zero_id(c, word, "ID");
	size_t start = begin(c, word);
	put(c, " ", 1);
	put_dec(c, id);
	return end(c, start);
}

int dsymfs_delfile(struct dsymfs *c, uint64_t id)
{
	return del(c, "delfile", id);
}

int dsymfs_deltype(struct dsymfs *c, uint64_t id)
{
	return del(c, "deltype", id);
}

int dsymfs_delglobal(struct dsymfs *c, uint64_t id)
{
	return del(c, "delglobal", id);
}

int dsymfs_del(struct dsymfs *c, uint64_t id)
{
	return del(c, "del", id);
}

static const char *const kind_names[] = {
	[DSYMFS_TYPE_BASE] = "base",
	[DSYMFS_TYPE_POINTER] = "pointer",
	[DSYMFS_TYPE_CONST] = "const",
	[DSYMFS_TYPE_TYPEDEF] = "typedef",
	[DSYMFS_TYPE_STRUCT] = "struct",
	[DSYMFS_TYPE_UNION] = "union",
	[DSYMFS_TYPE_ENUM] = "enum",
	[DSYMFS_TYPE_ARRAY] = "array",
	[DSYMFS_TYPE_FUNC] = "func",
	[DSYMFS_TYPE_VOLATILE] = "volatile",
	[DSYMFS_TYPE_RESTRICT] = "restrict",
};

static const char *const enc_names[] = {
	[DSYMFS_ENC_SIGNED] = "signed",
	[DSYMFS_ENC_UNSIGNED] = "unsigned",
	[DSYMFS_ENC_BOOL] = "bool",
	[DSYMFS_ENC_FLOAT] = "float",
	[DSYMFS_ENC_SIGNED_CHAR] = "signed_char",
	[DSYMFS_ENC_UNSIGNED_CHAR] = "unsigned_char",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The name a table gives v, or NULL: 0 and gaps are no one's. */
static const char *named(const char *const *t, size_t n, unsigned v)
{
	return v < n ? t[v] : NULL;
}

/* The parser's "is not one of" message, the table's names in order. */
static int not_one_of(struct dsymfs *c, const char *key, const char *const *t, size_t n,
		      unsigned v)
{
	char list[128] = "", d[24];
	for (size_t i = 1; i < n; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%s", i > 1 ? ", " : "", t[i]);
	}
	d[fmt_dec(d, v)] = 0;
	return refuse(c, "type: field \"%s\": \"%s\" is not one of %s", key, d, list);
}

/* Names inside a list value (members, enumerators, parameters, variables): ':' and ','
 * separate its parts, so a name cannot hold them. */
static int check_part_name(struct dsymfs *c, const char *cmd, const char *field, size_t i,
			   const char *name)
{
	if (name && strpbrk(name, ":,"))
		return refuse(c, "%s: field \"%s\": entry %zu: a name cannot contain ':' or ','",
			      cmd, field, i + 1);
	return 0;
}

/* Whether a list value must be quoted: some name in it holds a byte that ends a bare
 * value. The rest of a list (numbers, locations) never does. */
static bool quote_names(const char *const *names, size_t n, size_t stride)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = *(const char *const *)((const char *)names + i * stride);
		for (const char *k = name ? name : ""; *k; k++)
			if (needs_quote((unsigned char)*k))
				return true;
	}
	return false;
}

/* A name inside a list value: escaped when the value is quoted; NULL is "". */
static void put_part_name(struct dsymfs *c, const char *name, bool quote)
{
	if (!name)
		return;
	if (quote)
		put_escaped(c, name);
	else
		put_str(c, name);
}

/* " key=" of a list value, with its opening quote when it needs one. */
static void put_list_key(struct dsymfs *c, const char *key, bool quote)
{
	put_key(c, key);
	if (quote)
		put(c, "\"", 1);
}

static void put_list_end(struct dsymfs *c, bool quote)
{
	if (quote)
		put(c, "\"", 1);
}

/* A 128-bit enumerator value in decimal (into out, 41 bytes at least). */
static size_t fmt_enum_value(char *out, const struct dsymfs_enumerator *e)
{
	unsigned __int128 v = (unsigned __int128)e->hi << 64 | e->lo;
	size_t n = 0;
	if (e->neg) {
		out[n++] = '-';
		v = 0 - v;
	}
	char tmp[40];
	size_t k = 0;
	do {
		tmp[k++] = (char)('0' + (unsigned)(v % 10));
		v /= 10;
	} while (v);
	while (k)
		out[n++] = tmp[--k];
	return n;
}

static int check_type(struct dsymfs *c, const struct dsymfs_type *t, const char *kind)
{
	enum dsymfs_type_kind k = t->kind;
	bool base = k == DSYMFS_TYPE_BASE, agg = k == DSYMFS_TYPE_STRUCT || k == DSYMFS_TYPE_UNION;
	bool en = k == DSYMFS_TYPE_ENUM, arr = k == DSYMFS_TYPE_ARRAY, fn = k == DSYMFS_TYPE_FUNC;
	const char *stray = base && t->to ? "to"
		: !(base || agg || en) && t->size ? "size"
		: !base && t->enc ? "enc"
		: (agg || fn) && t->to ? "to"
		: !agg && t->decl ? "decl"
		: !(agg || en) && t->scope ? "scope"
		: !(agg || en || k == DSYMFS_TYPE_TYPEDEF) && (t->file || t->line) ? "file"
		: !agg && t->nmembers ? "members"
		: !en && t->nenumerators ? "enumerators"
		: !arr && t->ndims ? "dims"
		: !fn && t->ret ? "ret"
		: !fn && t->nparams ? "params"
		: !fn && t->variadic ? "variadic"
		: !fn && t->unprototyped ? "unprototyped" : NULL;
	if (stray)
		return refuse(c, "type: field \"%s\": does not apply to kind=%s", stray, kind);
	if ((base || k == DSYMFS_TYPE_TYPEDEF || t->decl) && !t->name)
		return refuse(c, "type: missing field \"name\" (kind=%s%s needs it)", kind,
			      t->decl ? " decl" : "");
	if (t->name && !*t->name)
		return refuse(c, "type: field \"name\": must not be empty");
	if (t->decl && (t->size || t->nmembers))
		return refuse(c, "type: field \"%s\": a decl type has none",
			      t->size ? "size" : "members");
	if (t->line && !t->file)
		return refuse(c, "type: field \"line\": needs field \"file\"");
	if (arr && !t->ndims)
		return refuse(c, "type: missing field \"dims\" (kind=array needs it)");
	if (t->variadic && t->unprototyped)
		return refuse(c, "type: variadic and unprototyped exclude each other");
	if ((t->nmembers && !t->members) || (t->nenumerators && !t->enumerators) ||
	    (t->ndims && !t->dims) || (t->nparams && !t->params))
		return refuse(c, "type: %s is NULL with entries",
			      t->nmembers && !t->members ? "members"
			      : t->nenumerators && !t->enumerators ? "enumerators"
			      : t->ndims && !t->dims ? "dims" : "params");
	for (size_t i = 0; i < t->nmembers; i++) {
		const struct dsymfs_member *m = &t->members[i];
		int rc = check_part_name(c, "type", "members", i, m->name);
		if (rc)
			return rc;
		if (!m->type)
			return refuse(c, "type: field \"members\": entry %zu: type 0 (void) is "
				      "not allowed for a member", i + 1);
		if (!m->bits && m->bitoff)
			return refuse(c, "type: field \"members\": entry %zu: a bit offset "
				      "without a bit width", i + 1);
	}
	for (size_t i = 0; i < t->nenumerators; i++) {
		const struct dsymfs_enumerator *e = &t->enumerators[i];
		int rc = check_part_name(c, "type", "enumerators", i, e->name);
		if (rc)
			return rc;
		if (!e->name || !*e->name)
			return refuse(c, "type: field \"enumerators\": entry %zu: the name is "
				      "empty", i + 1);
		if (e->neg && !(e->hi >> 63))
			return refuse(c, "type: field \"enumerators\": entry %zu: neg is set "
				      "but the value's top bit is not", i + 1);
	}
	for (size_t i = 1; i < t->ndims; i++)
		if (t->dims[i] == DSYMFS_DIM_UNKNOWN)
			return refuse(c, "type: field \"dims\": entry %zu: only the first bound "
				      "may be unknown", i + 1);
	for (size_t i = 0; i < t->nparams; i++)
		if (!t->params[i])
			return refuse(c, "type: field \"params\": entry %zu: type 0 (void) is "
				      "not allowed for a parameter", i + 1);
	return 0;
}

static void put_type_lists(struct dsymfs *c, const struct dsymfs_type *t)
{
	if (t->nmembers) {
		bool q = quote_names(&t->members[0].name, t->nmembers, sizeof *t->members);
		put_list_key(c, "members", q);
		for (size_t i = 0; i < t->nmembers; i++) {
			const struct dsymfs_member *m = &t->members[i];
			if (i)
				put(c, ",", 1);
			put_part_name(c, m->name, q);
			put(c, ":", 1);
			put_dec(c, m->type);
			put(c, ":", 1);
			put_dec(c, m->off);
			if (m->bits) {
				put(c, ":", 1);
				put_dec(c, m->bits);
				put(c, ":", 1);
				put_dec(c, m->bitoff);
			}
		}
		put_list_end(c, q);
	}
	if (t->nenumerators) {
		bool q = quote_names(&t->enumerators[0].name, t->nenumerators,
				     sizeof *t->enumerators);
		put_list_key(c, "enumerators", q);
		for (size_t i = 0; i < t->nenumerators; i++) {
			char d[48];
			if (i)
				put(c, ",", 1);
			put_part_name(c, t->enumerators[i].name, q);
			put(c, ":", 1);
			put(c, d, fmt_enum_value(d, &t->enumerators[i]));
		}
		put_list_end(c, q);
	}
	if (t->ndims) {
		put_key(c, "dims");
		for (size_t i = 0; i < t->ndims; i++) {
			if (i)
				put(c, ",", 1);
			if (t->dims[i] == DSYMFS_DIM_UNKNOWN)
				put(c, "-", 1);
			else
				put_dec(c, t->dims[i]);
		}
	}
	if (t->nparams) {
		put_key(c, "params");
		for (size_t i = 0; i < t->nparams; i++) {
			if (i)
				put(c, ",", 1);
			put_dec(c, t->params[i]);
		}
	}
}

int dsymfs_type_sized(struct dsymfs *c, const struct dsymfs_type *tp, size_t tsize)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	struct dsymfs_type t;
	int rc = take(c, &t, sizeof t, tp, tsize, "type");
	if (rc)
		return rc;
	if (!t.id)
		return zero_id(c, "type", "ID");
	const char *kind = named(kind_names, COUNT(kind_names), t.kind);
	if (!kind)
		return not_one_of(c, "kind", kind_names, COUNT(kind_names), t.kind);
	rc = check_type(c, &t, kind);
	if (rc)
		return rc;
	bool base = t.kind == DSYMFS_TYPE_BASE;
	const char *enc = named(enc_names, COUNT(enc_names), t.enc);
	if (base && !enc)
		return not_one_of(c, "enc", enc_names, COUNT(enc_names), t.enc);
	bool agg = t.kind == DSYMFS_TYPE_STRUCT || t.kind == DSYMFS_TYPE_UNION;
	bool en = t.kind == DSYMFS_TYPE_ENUM;
	size_t start = begin(c, "type ");
	put_dec(c, t.id);
	put_str(c, " kind=");
	put_str(c, kind);
	if (t.name) {
		put_key(c, "name");
		put_value(c, t.name);
	}
	if (t.decl) {
		put_str(c, " decl");
	} else if (base || agg || en) {
		put_key(c, "size");
		put_hex(c, t.size);
	}
	if (base) {
		put_key(c, "enc");
		put_str(c, enc);
	} else if (!agg && t.kind != DSYMFS_TYPE_FUNC && (!en || t.to)) {
		put_key(c, "to");
		put_dec(c, t.to);
	}
	if (t.ret) {
		put_key(c, "ret");
		put_dec(c, t.ret);
	}
	if (t.file) {
		put_key(c, "file");
		put_dec(c, t.file);
		put_key(c, "line");
		put_dec(c, t.line);
	}
	if (t.scope) {
		put_key(c, "scope");
		put_dec(c, t.scope);
	}
	if (t.align) {
		put_key(c, "align");
		put_dec(c, t.align);
	}
	put_type_lists(c, &t);
	if (t.variadic)
		put_str(c, " variadic");
	if (t.unprototyped)
		put_str(c, " unprototyped");
	return end(c, start);
}

/* Globals. */

int dsymfs_global_sized(struct dsymfs *c, const struct dsymfs_global *gp, size_t gsize)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	struct dsymfs_global g;
	int rc = take(c, &g, sizeof g, gp, gsize, "global");
	if (rc)
		return rc;
	if (!g.id)
		return zero_id(c, "global", "ID");
	rc = check_name(c, "global", "name", false, g.name);
	if (!rc && !g.type)
		rc = zero_id(c, "global", "field \"type\"");
	if (!rc && !g.file)
		rc = zero_id(c, "global", "field \"file\"");
	if (!rc && g.line > LINE_MAX_NO)
		rc = refuse(c, "global: field \"line\": \"%" PRIu32 "\" must be at most %u",
			    g.line, LINE_MAX_NO);
	if (!rc && g.linkage)
		rc = check_name(c, "global", "linkage", false, g.linkage);
	if (rc)
		return rc;
	size_t start = begin(c, "global ");
	put_dec(c, g.id);
	put_key(c, "name");
	put_value(c, g.name);
	put_key(c, "type");
	put_dec(c, g.type);
	put_key(c, "addr");
	put_hex(c, g.addr);
	put_key(c, "file");
	put_dec(c, g.file);
	put_key(c, "line");
	put_dec(c, g.line);
	if (g.cu) {
		put_key(c, "cu");
		put_dec(c, g.cu);
	}
	if (g.ext)
		put_str(c, " ext");
	if (g.linkage) {
		put_key(c, "linkage");
		put_value(c, g.linkage);
	}
	return end(c, start);
}

/* Locations. */

/* A pc offset as rows spell theirs: decimal below 10, hex from 10 up. */
static size_t fmt_off(char *out, uint64_t v)
{
	return v < 10 ? fmt_dec(out, v) : fmt_hex(out, v);
}

/* A signed offset with its sign always written (fb+8, b7-8). */
static size_t fmt_signed(char *out, int64_t v)
{
	if (v < 0)
		return fmt_sdec(out, v);
	out[0] = '+';
	return 1 + fmt_dec(out + 1, (uint64_t)v);
}

/* field: the key (or list) the location is in, for the message; entry: its 1-based
 * place there, 0 for a field of its own. */
static int check_loc(struct dsymfs *c, const char *field, size_t entry,
		     const struct dsymfs_loc *l, bool in_list)
{
	char at[40] = "";
	if (entry)
		snprintf(at, sizeof at, " entry %zu:", entry);
	if ((unsigned)l->kind > DSYMFS_LOC_LIST)
		return refuse(c, "fn: field \"%s\":%s location kind %u is not a DSYMFS_LOC_*",
			      field, at, (unsigned)l->kind);
	if (in_list && (l->kind == DSYMFS_LOC_LIST || l->kind == DSYMFS_LOC_NONE))
		return refuse(c, "fn: field \"%s\":%s a location list entry must be a location "
			      "(not none, not a list)", field, at);
	if (l->kind == DSYMFS_LOC_EXPR && (!l->len || !l->bytes))
		return refuse(c, "fn: field \"%s\":%s an expression location needs bytes",
			      field, at);
	if (l->kind != DSYMFS_LOC_LIST)
		return 0;
	if (!l->nentries || !l->entries)
		return refuse(c, "fn: field \"%s\":%s a location list needs entries", field, at);
	for (size_t i = 0; i < l->nentries; i++) {
		const struct dsymfs_loc_entry *e = &l->entries[i];
		if (e->from >= e->to || (i && e->from < l->entries[i - 1].to))
			return refuse(c, "fn: field \"%s\":%s location list entry %zu: ranges "
				      "must be ascending, not empty, not overlapping", field, at,
				      i + 1);
		int rc = check_loc(c, field, entry, &e->loc, true);
		if (rc)
			return rc;
	}
	return 0;
}

static void put_loc(struct dsymfs *c, const struct dsymfs_loc *l)
{
	static const char hex[] = "0123456789abcdef";
	char d[48];
	size_t n = 0;
	switch (l->kind) {
	case DSYMFS_LOC_NONE:
		return;
	case DSYMFS_LOC_FBREG:
		d[n++] = 'f';
		d[n++] = 'b';
		n += fmt_signed(d + n, l->value);
		break;
	case DSYMFS_LOC_REG:
		d[n++] = 'r';
		n += fmt_dec(d + n, l->reg);
		break;
	case DSYMFS_LOC_BREG:
		d[n++] = 'b';
		n += fmt_dec(d + n, l->reg);
		n += fmt_signed(d + n, l->value);
		break;
	case DSYMFS_LOC_ADDR:
		d[n++] = 'a';
		n += fmt_hex(d + n, l->addr);
		break;
	case DSYMFS_LOC_CONST:
		d[n++] = 'k';
		n += fmt_sdec(d + n, l->value);
		break;
	case DSYMFS_LOC_EXPR:
		put(c, "x", 1);
		if (!reserve(c, 2 * l->len))
			return;
		for (size_t i = 0; i < l->len; i++) {
			c->buf[c->len++] = hex[l->bytes[i] >> 4];
			c->buf[c->len++] = hex[l->bytes[i] & 15];
		}
		return;
	case DSYMFS_LOC_LIST:
		for (size_t i = 0; i < l->nentries; i++) {
			const struct dsymfs_loc_entry *e = &l->entries[i];
			n = 0;
			if (i)
				d[n++] = ';';
			n += fmt_off(d + n, e->from);
			d[n++] = '.';
			d[n++] = '.';
			n += fmt_off(d + n, e->to);
			d[n++] = '@';
			put(c, d, n);
			put_loc(c, &e->loc);
		}
		return;
	}
	put(c, d, n);
}

/* Functions. */

/* A row as the line spells it: OFF:LINE[:COL[:FLAGS[:FILE]]], the parts left out that
 * hold their default (column 0, flags "s", the function's file). */
static size_t fmt_row(char *out, const struct dsymfs_row *r)
{
	size_t n = r->off < 10 ? fmt_dec(out, r->off) : fmt_hex(out, r->off);
	out[n++] = ':';
	n += fmt_dec(out + n, r->line);
	bool file = r->file != 0, flags = file || r->flags != DSYMFS_ROW_STMT;
	if (!flags && !r->col)
		return n;
	out[n++] = ':';
	n += fmt_dec(out + n, r->col);
	if (!flags)
		return n;
	out[n++] = ':';
	if (r->flags & DSYMFS_ROW_STMT)
		out[n++] = 's';
	if (r->flags & DSYMFS_ROW_PROLOGUE)
		out[n++] = 'p';
	if (r->flags & DSYMFS_ROW_EPILOGUE)
		out[n++] = 'e';
	if (!file)
		return n;
	out[n++] = ':';
	return n + fmt_dec(out + n, r->file);
}

#define ROW_MAX (18 + 1 + 10 + 1 + 10 + 1 + 3 + 1 + 20)

static int check_rows(struct dsymfs *c, const struct dsymfs_row *rows, size_t n)
{
	const uint32_t known = DSYMFS_ROW_STMT | DSYMFS_ROW_PROLOGUE | DSYMFS_ROW_EPILOGUE;
	for (size_t i = 0; i < n; i++) {
		const struct dsymfs_row *r = &rows[i];
		if (r->flags & ~known)
			return refuse(c, "fn: field \"rows\": entry %zu: flags 0x%" PRIx32 " are "
				      "not DSYMFS_ROW_* bits", i + 1, r->flags & ~known);
		if (r->line <= LINE_MAX_NO)
			continue;
		char text[ROW_MAX], sb[UTIL_SHOW_MAX], d[24];
		d[fmt_dec(d, r->line)] = 0;
		return refuse(c, "fn: field \"rows\": entry %zu \"%s\": line \"%s\" must be at "
			      "most %u", i + 1, util_show(sb, text, fmt_row(text, r)), d, LINE_MAX_NO);
	}
	return 0;
}

static int check_line(struct dsymfs *c, const char *field, size_t entry, uint32_t line)
{
	if (line <= LINE_MAX_NO)
		return 0;
	return refuse(c, "fn: field \"%s\": entry %zu: line %" PRIu32 " must be at most %u",
		      field, entry, line, LINE_MAX_NO);
}

static int check_params(struct dsymfs *c, const struct dsymfs_fn *f)
{
	for (size_t i = 0; i < f->nparams; i++) {
		const struct dsymfs_param *p = &f->params[i];
		int rc = check_part_name(c, "fn", "params", i, p->name);
		if (rc)
			return rc;
		if (!p->type) {
			char sb[UTIL_SHOW_MAX];
			const char *name = p->name ? p->name : "";
			return refuse(c, "fn: field \"params\": entry %zu \"%s:0\": type 0 (void) "
				      "is not allowed for a parameter", i + 1,
				      util_show(sb, name, strlen(name)));
		}
		if (!f->param_locs)
			continue;
		rc = check_loc(c, "params", i + 1, &f->param_locs[i].loc, false);
		if (!rc)
			rc = check_line(c, "params", i + 1, f->param_locs[i].line);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_vars(struct dsymfs *c, const struct dsymfs_fn *f)
{
	for (size_t i = 0; i < f->nvars; i++) {
		const struct dsymfs_var *v = &f->vars[i];
		int rc = check_part_name(c, "fn", "vars", i, v->name);
		if (rc)
			return rc;
		if (!v->name || !*v->name)
			return refuse(c, "fn: field \"vars\": entry %zu: the name is empty", i + 1);
		if (v->block > f->nblocks)
			return refuse(c, "fn: field \"vars\": entry %zu: block %" PRIu32 " is not "
				      "one of the function's %zu", i + 1, v->block, f->nblocks);
		rc = check_loc(c, "vars", i + 1, &v->loc, false);
		if (!rc)
			rc = check_line(c, "vars", i + 1, v->line);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_blocks(struct dsymfs *c, const struct dsymfs_fn *f)
{
	for (size_t i = 0; i < f->nblocks; i++) {
		const struct dsymfs_block *k = &f->blocks[i];
		if (!k->nranges || !k->ranges)
			return refuse(c, "fn: field \"blocks\": entry %zu: a block needs ranges",
				      i + 1);
		for (size_t r = 0; r < k->nranges; r++)
			if (k->ranges[r].from >= k->ranges[r].to)
				return refuse(c, "fn: field \"blocks\": entry %zu: range %zu is "
					      "empty (from 0x%" PRIx64 " to 0x%" PRIx64 ")", i + 1,
					      r + 1, k->ranges[r].from, k->ranges[r].to);
		if (k->parent > i)
			return refuse(c, "fn: field \"blocks\": entry %zu: parent %" PRIu32 " is "
				      "not an earlier block", i + 1, k->parent);
		if (!k->origin && (k->call_file || k->call_line || k->call_col))
			return refuse(c, "fn: field \"blocks\": entry %zu: a call site without "
				      "an origin", i + 1);
		int rc = check_line(c, "blocks", i + 1, k->call_line);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_fn(struct dsymfs *c, const struct dsymfs_fn *f)
{
	if (!f->name)
		return refuse(c, "fn: missing field \"name\"");
	if (!f->id)
		return zero_id(c, "fn", "ID");
	if (!*f->name)
		return refuse(c, "fn: field \"name\": must not be empty");
	if (!f->file)
		return zero_id(c, "fn", "field \"file\"");
	if (f->line > LINE_MAX_NO)
		return refuse(c, "fn: field \"line\": \"%" PRIu32 "\" must be at most %u", f->line,
			      LINE_MAX_NO);
	if ((f->nparams && !f->params) || (f->nrows && !f->rows) || (f->nvars && !f->vars) ||
	    (f->nblocks && !f->blocks))
		return refuse(c, "fn: %s is NULL with entries",
			      f->nparams && !f->params ? "params"
			      : f->nrows && !f->rows ? "rows"
			      : f->nvars && !f->vars ? "vars" : "blocks");
	const char *stray = !f->abstract ? NULL : f->low_pc ? "low_pc" : f->size ? "size"
		: f->nrows ? "rows" : f->nblocks ? "blocks" : NULL;
	if (stray)
		return refuse(c, "fn: field \"%s\": an abstract function has none", stray);
	if (f->variadic && f->unprototyped)
		return refuse(c, "fn: variadic and unprototyped exclude each other");
	if (f->linkage && !*f->linkage)
		return refuse(c, "fn: field \"linkage\": must not be empty");
	int rc = check_params(c, f);
	if (!rc)
		rc = check_loc(c, "frame_base", 0, &f->frame_base, false);
	if (!rc)
		rc = check_vars(c, f);
	if (!rc)
		rc = check_blocks(c, f);
	return rc ? rc : check_rows(c, f->rows, f->nrows);
}

/* NAME:TYPEID[:LOC[:LINE]], the parts that hold their default left out. */
static void put_params(struct dsymfs *c, const struct dsymfs_fn *f)
{
	bool q = quote_names(&f->params[0].name, f->nparams, sizeof *f->params);
	put_list_key(c, "params", q);
	for (size_t i = 0; i < f->nparams; i++) {
		if (i)
			put(c, ",", 1);
		put_part_name(c, f->params[i].name, q);
		put(c, ":", 1);
		put_dec(c, f->params[i].type);
		const struct dsymfs_param_loc *pl = f->param_locs ? &f->param_locs[i] : NULL;
		if (!pl || (pl->loc.kind == DSYMFS_LOC_NONE && !pl->line))
			continue;
		put(c, ":", 1);
		put_loc(c, &pl->loc);
		if (pl->line) {
			put(c, ":", 1);
			put_dec(c, pl->line);
		}
	}
	put_list_end(c, q);
}

/* NAME:TYPEID:LOC[:LINE[:BLOCK]]. */
static void put_vars(struct dsymfs *c, const struct dsymfs_fn *f)
{
	bool q = quote_names(&f->vars[0].name, f->nvars, sizeof *f->vars);
	put_list_key(c, "vars", q);
	for (size_t i = 0; i < f->nvars; i++) {
		const struct dsymfs_var *v = &f->vars[i];
		if (i)
			put(c, ",", 1);
		put_part_name(c, v->name, q);
		put(c, ":", 1);
		put_dec(c, v->type);
		put(c, ":", 1);
		put_loc(c, &v->loc);
		if (v->line || v->block) {
			put(c, ":", 1);
			put_dec(c, v->line);
		}
		if (v->block) {
			put(c, ":", 1);
			put_dec(c, v->block);
		}
	}
	put_list_end(c, q);
}

/* RANGES[:PARENT[:ORIGIN:CALLFILE:CALLLINE[:CALLCOL]]], RANGES as FROM..TO+... */
static void put_blocks(struct dsymfs *c, const struct dsymfs_fn *f)
{
	put_key(c, "blocks");
	for (size_t i = 0; i < f->nblocks; i++) {
		const struct dsymfs_block *k = &f->blocks[i];
		char d[48];
		if (i)
			put(c, ",", 1);
		for (size_t r = 0; r < k->nranges; r++) {
			size_t n = 0;
			if (r)
				d[n++] = '+';
			n += fmt_off(d + n, k->ranges[r].from);
			d[n++] = '.';
			d[n++] = '.';
			n += fmt_off(d + n, k->ranges[r].to);
			put(c, d, n);
		}
		if (!k->parent && !k->origin)
			continue;
		put(c, ":", 1);
		put_dec(c, k->parent);
		if (!k->origin)
			continue;
		put(c, ":", 1);
		put_dec(c, k->origin);
		put(c, ":", 1);
		put_dec(c, k->call_file);
		put(c, ":", 1);
		put_dec(c, k->call_line);
		if (k->call_col) {
			put(c, ":", 1);
			put_dec(c, k->call_col);
		}
	}
}

static void put_rows(struct dsymfs *c, const struct dsymfs_row *rows, size_t n)
{
	put_str(c, " rows=");
	if (!reserve(c, n * (ROW_MAX + 1)))
		return;
	char *w = c->buf + c->len;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*w++ = ',';
		w += fmt_row(w, &rows[i]);
	}
	c->len = (size_t)(w - c->buf);
}

int dsymfs_fn_sized(struct dsymfs *c, const struct dsymfs_fn *fp, size_t fsize)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	struct dsymfs_fn f;
	int rc = take(c, &f, sizeof f, fp, fsize, "fn");
	if (!rc)
		rc = check_fn(c, &f);
	if (rc)
		return rc;
	size_t start = begin(c, "fn ");
	put_dec(c, f.id);
	put_key(c, "name");
	put_value(c, f.name);
	if (!f.abstract) {
		put_key(c, "low_pc");
		put_hex(c, f.low_pc);
		put_key(c, "size");
		put_hex(c, f.size);
	}
	put_key(c, "file");
	put_dec(c, f.file);
	put_key(c, "line");
	put_dec(c, f.line);
	if (f.cu) {
		put_key(c, "cu");
		put_dec(c, f.cu);
	}
	if (f.ret) {
		put_key(c, "ret");
		put_dec(c, f.ret);
	}
	if (f.linkage) {
		put_key(c, "linkage");
		put_value(c, f.linkage);
	}
	if (f.frame_base.kind != DSYMFS_LOC_NONE) {
		put_key(c, "frame_base");
		put_loc(c, &f.frame_base);
	}
	if (f.nparams)
		put_params(c, &f);
	if (f.nrows)
		put_rows(c, f.rows, f.nrows);
	if (f.nvars)
		put_vars(c, &f);
	if (f.nblocks)
		put_blocks(c, &f);
	if (f.variadic)
		put_str(c, " variadic");
	if (f.unprototyped)
		put_str(c, " unprototyped");
	if (f.optimized)
		put_str(c, " optimized");
	if (f.noreturn)
		put_str(c, " noreturn");
	if (f.abstract)
		put_str(c, " abstract");
	return end(c, start);
}

/* Moves and shifts. */

static int move(struct dsymfs *c, uint64_t id, uint64_t low_pc, bool resize, uint64_t size)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	if (!id)
		return zero_id(c, "move", "ID");
	size_t start = begin(c, "move ");
	put_dec(c, id);
	put_key(c, "low_pc");
	put_hex(c, low_pc);
	if (resize) {
		put_key(c, "size");
		put_hex(c, size);
	}
	return end(c, start);
}

int dsymfs_move(struct dsymfs *c, uint64_t id, uint64_t low_pc)
{
	return move(c, id, low_pc, false, 0);
}

int dsymfs_move_resize(struct dsymfs *c, uint64_t id, uint64_t low_pc, uint64_t size)
{
	return move(c, id, low_pc, true, size);
}

int dsymfs_move_range(struct dsymfs *c, uint64_t from, uint64_t to, int64_t by)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	if (from >= to)
		return refuse(c, "move-range: from (0x%" PRIx64 ") must be below to (0x%" PRIx64
			      ")", from, to);
	size_t start = begin(c, "move-range from=");
	put_hex(c, from);
	put_key(c, "to");
	put_hex(c, to);
	put_key(c, "by");
	put_sdec(c, by);
	return end(c, start);
}

int dsymfs_line(struct dsymfs *c, uint64_t id, int64_t delta, uint64_t file)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	if (!id)
		return zero_id(c, "line", "ID");
	size_t start = begin(c, "line ");
	put_dec(c, id);
	put_key(c, "delta");
	put_sdec(c, delta);
	if (file) {
		put_key(c, "file");
		put_dec(c, file);
	}
	return end(c, start);
}

int dsymfs_line_range(struct dsymfs *c, uint64_t file, int64_t from, int64_t to, int64_t by)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	if (!file)
		return zero_id(c, "line-range", "field \"file\"");
	const struct {
		const char *key;
		int64_t v;
	} bounds[] = { { "from", from }, { "to", to } };
	for (size_t i = 0; i < COUNT(bounds); i++)
		if (bounds[i].v < 1 || bounds[i].v > (int64_t)LINE_MAX_NO)
			return refuse(c, "line-range: field \"%s\": \"%" PRId64 "\" must be "
				      "between 1 and %u", bounds[i].key, bounds[i].v, LINE_MAX_NO);
	if (from >= to)
		return refuse(c, "line-range: from (%" PRId64 ") must be below to (%" PRId64 ")",
			      from, to);
	size_t start = begin(c, "line-range file=");
	put_dec(c, file);
	put_key(c, "from");
	put_sdec(c, from);
	put_key(c, "to");
	put_sdec(c, to);
	put_key(c, "by");
	put_sdec(c, by);
	return end(c, start);
}

/* Symbols. */

int dsymfs_sym(struct dsymfs *c, const char *name, uint64_t value, uint32_t sect, int ext)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	int rc = check_name(c, "sym", "NAME", true, name);
	if (rc)
		return rc;
	if (sect > 255)
		return refuse(c, "sym: field \"sect\": \"%" PRIu32 "\" must be at most 255", sect);
	size_t start = begin(c, "sym ");
	put_value(c, name);
	put_key(c, "value");
	put_hex(c, value);
	if (sect) {
		put_key(c, "sect");
		put_dec(c, sect);
	}
	if (ext)
		put_str(c, " ext");
	return end(c, start);
}

int dsymfs_unsym(struct dsymfs *c, const char *name)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	int rc = check_name(c, "unsym", "NAME", true, name);
	if (rc)
		return rc;
	size_t start = begin(c, "unsym ");
	put_value(c, name);
	return end(c, start);
}

/* Batches. */

/* "ok generation=N decls=M": the numbers, or false. */
static bool parse_ok(const char *s, uint64_t *gen, uint64_t *decls)
{
	char *e;
	if (strncmp(s, "ok generation=", 14))
		return false;
	errno = 0;
	*gen = strtoull(s + 14, &e, 10);
	if (errno || e == s + 14 || strncmp(e, " decls=", 7))
		return false;
	s = e + 7;
	*decls = strtoull(s, &e, 10);
	return !errno && e != s && (*e == '\n' || !*e);
}

int dsymfs_commit(struct dsymfs *c, uint64_t *generation, uint64_t *decls)
{
	if (c->fd < 0)
		return -EBADF;
	uint64_t g = 0, d = 0;
	size_t start = begin(c, "commit");
	int rc = now(c, start);
	if (rc)
		return rc;
	c->sent = false;
	if (!c->script) {
		char res[ERR_MAX];
		ssize_t n = pread(c->fd, res, sizeof res - 1, 0);
		if (n < 0)
			return say(c, -errno, "reading the commit's result: %s", strerror(errno));
		res[n] = 0;
		if (!parse_ok(res, &g, &d)) {
			res[strcspn(res, "\n")] = 0;
			return say(c, -EIO, "unexpected commit result \"%s\"", res);
		}
	}
	if (generation)
		*generation = g;
	if (decls)
		*decls = d;
	return 0;
}

int dsymfs_abort(struct dsymfs *c)
{
	if (c->fd < 0)
		return -EBADF;
	c->err[0] = 0;
	c->len = 0;
	if (!c->sent && !c->script)
		return 0;
	c->sent = false;
	size_t start = begin(c, "abort");
	return now(c, start);
}
