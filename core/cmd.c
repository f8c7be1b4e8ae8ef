/* cmd: the control protocol's syntax.
 *
 * A line is lexed in a private copy that quotes are decoded into in place, then its words
 * and key=value fields are sorted into the slots a table row declares for the command
 * (positional words, keys, one bare flag), and the command's builder converts the slots
 * into typed fields. Everything the command keeps is copied out of the private buffer.
 *
 * Lexing choices the header leaves open: a bare value runs to the next blank and is taken
 * literally, so it may hold '=' and '\' (the formatter still quotes both); a quote may
 * only open a word or a value and must be followed by a blank or the end; \xHH takes
 * exactly two hex digits. A parameter name cannot contain ',' (it separates entries) but
 * may contain ':' (the last one splits).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "macho.h"

#define MAX_POS   2
#define MAX_KEYS  9
#define SHOW_MAX  48   /* longest rendering of a value inside an error message */
#define WHY_MAX   64
#define SEGNAME_MAX 16 /* the Mach-O segname/sectname fields */

struct parse;

struct key_spec {
	const char *name;
	bool required;
};

struct cmd_spec {
	const char *name;
	enum cmd_kind kind;
	const char *pos[MAX_POS];   /* positional words, all required, upper case */
	struct key_spec keys[MAX_KEYS];
	const char *flag;           /* a bare word that sets a bool, or NULL */
	int (*build)(struct parse *p, struct cmd *c);
};

/* The raw slots of one line; the strings point into the private buffer. */
struct parse {
	const struct cmd_spec *spec;
	const char *pos[MAX_POS];
	unsigned npos;
	const char *val[MAX_KEYS];
	bool flag;
	char *err;
	size_t errlen;
};

/* Error reporting. */

/* Renders s[0..n) for an error message: escaped as in a quoted value so control bytes
 * cannot break the reply line, and cut short so a long value cannot push the reason out
 * of the caller's buffer. */
static const char *show(char out[SHOW_MAX], const char *s, size_t n)
{
	/* Runs on the success path too (labels are prepared before a field is checked), so
	 * it writes bytes directly rather than through snprintf. */
	static const char hex[] = "0123456789abcdef";
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char one[4];
		size_t l = 0;
		if (ch == '"' || ch == '\\') {
			one[l++] = '\\';
			one[l++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			one[l++] = '\\';
			one[l++] = 'x';
			one[l++] = hex[ch >> 4];
			one[l++] = hex[ch & 15];
		} else {
			one[l++] = (char)ch;
		}
		if (w + l + 4 > SHOW_MAX) {
			memcpy(out + w, "...", 3);
			w += 3;
			break;
		}
		memcpy(out + w, one, l);
		w += l;
	}
	out[w] = 0;
	return out;
}

static bool is_positional(const struct cmd_spec *spec, const char *name)
{
	for (unsigned i = 0; i < MAX_POS && spec->pos[i]; i++)
		if (strcmp(spec->pos[i], name) == 0)
			return true;
	return false;
}

/* Writes "<command>: <label><message>" once; label names the field or word at fault. */
static int vfail(struct parse *p, const char *arg, const char *fmt, va_list ap)
{
	if (!p->err || !p->errlen)
		return -EINVAL;
	char msg[256], label[64] = "";
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (arg && is_positional(p->spec, arg))
		snprintf(label, sizeof label, "%s: ", arg);
	else if (arg)
		snprintf(label, sizeof label, "field \"%s\": ", arg);
	snprintf(p->err, p->errlen, "%s%s%s%s", p->spec ? p->spec->name : "",
		 p->spec ? ": " : "", label, msg);
	return -EINVAL;
}

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(p, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int fail_arg(struct parse *p, const char *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_arg(struct parse *p, const char *arg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(p, arg, fmt, ap);
	va_end(ap);
	return rc;
}

static int nomem(struct parse *p)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s%sout of memory", p->spec ? p->spec->name : "",
			 p->spec ? ": " : "");
	return -ENOMEM;
}

/* Numbers. */

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

enum num_scan { NUM_OK, NUM_SYNTAX, NUM_BIG };

/* Splits s[0..n) into a sign and a 64-bit magnitude; decimal or 0x hex, no blanks. */
static enum num_scan num_scan(const char *s, size_t n, bool *neg, uint64_t *mag)
{
	size_t i = 0;
	*neg = n > 0 && s[0] == '-';
	if (*neg)
		i++;
	unsigned base = 10;
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	if (i == n)
		return NUM_SYNTAX;
	uint64_t v = 0;
	bool big = false;
	for (; i < n; i++) {
		int d = hex_digit(s[i]);
		if (d < 0 || (unsigned)d >= base)
			return NUM_SYNTAX;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			big = true;
		v = v * base + (unsigned)d;
	}
	*mag = v;
	return big ? NUM_BIG : NUM_OK;
}

/* An unsigned number no greater than hi; on failure the reason goes to why. */
static bool num_u(const char *s, size_t n, uint64_t hi, uint64_t *out, char why[WHY_MAX])
{
	bool neg;
	uint64_t v;
	switch (num_scan(s, n, &neg, &v)) {
	case NUM_SYNTAX:
		snprintf(why, WHY_MAX, "is not a number");
		return false;
	case NUM_BIG:
		snprintf(why, WHY_MAX, "does not fit in 64 bits");
		return false;
	case NUM_OK:
		break;
	}
	if (neg) {
		snprintf(why, WHY_MAX, "must not be negative");
		return false;
	}
	if (v > hi) {
		snprintf(why, WHY_MAX, "must be at most %" PRIu64, hi);
		return false;
	}
	*out = v;
	return true;
}

/* A signed number in [lo, hi]; on failure the reason goes to why. */
static bool num_s(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out,
		  char why[WHY_MAX])
{
	bool neg;
	uint64_t mag;
	enum num_scan r = num_scan(s, n, &neg, &mag);
	if (r == NUM_SYNTAX) {
		snprintf(why, WHY_MAX, "is not a number");
		return false;
	}
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (r == NUM_BIG || mag > limit) {
		snprintf(why, WHY_MAX, "does not fit in a signed 64-bit number");
		return false;
	}
	/* Negating in unsigned arithmetic keeps INT64_MIN representable. */
	int64_t v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	if (v < lo || v > hi) {
		snprintf(why, WHY_MAX, "must be between %" PRId64 " and %" PRId64, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

/* Slot access. Every get_* returns 0 when it set *out, 1 when the slot is absent (so
 * *out keeps its default), or a negative errno with the message written. */

static const char *arg(const struct parse *p, const char *name)
{
	for (unsigned i = 0; i < MAX_POS && p->spec->pos[i]; i++)
		if (strcmp(p->spec->pos[i], name) == 0)
			return p->pos[i];
	for (unsigned i = 0; i < MAX_KEYS && p->spec->keys[i].name; i++)
		if (strcmp(p->spec->keys[i].name, name) == 0)
			return p->val[i];
	return NULL;
}

static int get_u(struct parse *p, const char *name, uint64_t hi, uint64_t *out)
{
	const char *s = arg(p, name);
	if (!s)
		return 1;
	char why[WHY_MAX], sb[SHOW_MAX];
	if (!num_u(s, strlen(s), hi, out, why))
		return fail_arg(p, name, "\"%s\" %s", show(sb, s, strlen(s)), why);
	return 0;
}

static int get_u32(struct parse *p, const char *name, uint32_t hi, uint32_t *out)
{
	uint64_t v;
	int rc = get_u(p, name, hi, &v);
	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

static int get_s(struct parse *p, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
	const char *s = arg(p, name);
	if (!s)
		return 1;
	char why[WHY_MAX], sb[SHOW_MAX];
	if (!num_s(s, strlen(s), lo, hi, out, why))
		return fail_arg(p, name, "\"%s\" %s", show(sb, s, strlen(s)), why);
	return 0;
}

/* An id that names a record: 0 is the reserved "none" and cannot name one. */
static int get_id(struct parse *p, const char *name, uint64_t *out)
{
	uint64_t v;
	int rc = get_u(p, name, UINT64_MAX, &v);
	if (rc)
		return rc;
	if (v == 0)
		return fail_arg(p, name, "id 0 is reserved (it means none)");
	*out = v;
	return 0;
}

/* A non-empty string; *out is a copy the command owns. */
static int get_name(struct parse *p, const char *name, char **out)
{
	const char *s = arg(p, name);
	if (!s)
		return 1;
	if (!*s)
		return fail_arg(p, name, "must not be empty");
	*out = strdup(s);
	return *out ? 0 : nomem(p);
}

static int get_segname(struct parse *p, const char *name, char **out)
{
	const char *s = arg(p, name);
	char sb[SHOW_MAX];
	if (s && (!*s || strlen(s) > SEGNAME_MAX))
		return fail_arg(p, name, "\"%s\" must be 1 to %d bytes long",
				show(sb, s, strlen(s)), SEGNAME_MAX);
	return get_name(p, name, out);
}

/* Named values, shared by the parser and the formatter. */

struct named {
	const char *name;
	unsigned value;
};

static const struct named type_kinds[] = {
	{ "base", REC_TYPE_BASE },
	{ "pointer", REC_TYPE_POINTER },
	{ "const", REC_TYPE_CONST },
	{ "typedef", REC_TYPE_TYPEDEF },
};

static const struct named base_encs[] = {
	{ "signed", REC_ENC_SIGNED },
	{ "unsigned", REC_ENC_UNSIGNED },
	{ "bool", REC_ENC_BOOL },
	{ "float", REC_ENC_FLOAT },
	{ "signed_char", REC_ENC_SIGNED_CHAR },
	{ "unsigned_char", REC_ENC_UNSIGNED_CHAR },
};

static const struct named row_flags[] = {
	{ "s", REC_ROW_STMT },
	{ "p", REC_ROW_PROLOGUE },
	{ "e", REC_ROW_EPILOGUE },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* "?" for a value outside the table: a hand-built record then formats to a line the
 * parser refuses, instead of crashing the formatter. */
static const char *named_name(const struct named *t, size_t n, unsigned value)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == value)
			return t[i].name;
	return "?";
}

static int get_named(struct parse *p, const char *name, const struct named *t, size_t n,
		     unsigned *out)
{
	const char *s = arg(p, name);
	if (!s)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].name, s) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	char list[128] = "", sb[SHOW_MAX];
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", t[i].name);
	}
	return fail_arg(p, name, "\"%s\" is not one of %s", show(sb, s, strlen(s)), list);
}

/* Mach-O vm_prot_t: a number, or the "r-x" spelling vmmap and otool print. */
static int get_prot(struct parse *p, const char *name, bool *has, uint32_t *out)
{
	const char *s = arg(p, name);
	if (!s)
		return 1;
	static const char letters[3] = { 'r', 'w', 'x' };
	uint64_t v = 0;
	char why[WHY_MAX], sb[SHOW_MAX];
	bool ok = strlen(s) == 3;
	for (unsigned i = 0; ok && i < 3; i++) {
		if (s[i] == letters[i])
			v |= 1u << i;
		else if (s[i] != '-')
			ok = false;
	}
	if (!ok && !num_u(s, strlen(s), 7, &v, why))
		return fail_arg(p, name, "\"%s\" is not a protection (a number 0 to 7 or a "
				"string like \"r-x\")", show(sb, s, strlen(s)));
	*has = true;
	*out = (uint32_t)v;
	return 0;
}

/* Lists inside one value (params=, rows=): comma-separated entries. */

/* The number of entries in s, or 0 for an empty list. */
static size_t list_count(const char *s)
{
	if (!*s)
		return 0;
	size_t n = 1;
	for (; *s; s++)
		n += *s == ',';
	return n;
}

/* The end of the entry starting at s. */
static const char *entry_end(const char *s)
{
	const char *e = strchr(s, ',');
	return e ? e : s + strlen(s);
}

static int parse_params(struct parse *p, struct rec_fn *f)
{
	const char *s = arg(p, "params");
	if (!s)
		return 1;
	size_t n = list_count(s);
	if (n > UINT32_MAX)
		return fail_arg(p, "params", "too many entries");
	if (!n)
		return 0;
	f->params = calloc(n, sizeof *f->params);
	if (!f->params)
		return nomem(p);
	/* Set now: calloc left every name NULL, which rec_fn_unref can free. */
	f->nparams = (uint32_t)n;
	char sb[SHOW_MAX], why[WHY_MAX];
	for (size_t i = 0; i < n; i++) {
		const char *e = entry_end(s);
		size_t len = (size_t)(e - s);
		/* The last ':' splits, so a name may itself contain ':'. */
		const char *colon = NULL;
		for (const char *c = s; c < e; c++)
			if (*c == ':')
				colon = c;
		show(sb, s, len);
		if (!colon)
			return fail_arg(p, "params", "entry %zu \"%s\": expected NAME:TYPEID",
					i + 1, sb);
		if (colon == s)
			return fail_arg(p, "params", "entry %zu \"%s\": the name is empty", i + 1,
					sb);
		uint64_t type;
		if (!num_u(colon + 1, (size_t)(e - colon - 1), UINT64_MAX, &type, why)) {
			char tb[SHOW_MAX];
			return fail_arg(p, "params", "entry %zu \"%s\": type \"%s\" %s", i + 1, sb,
					show(tb, colon + 1, (size_t)(e - colon - 1)), why);
		}
		if (type == 0)
			return fail_arg(p, "params", "entry %zu \"%s\": type 0 (void) is not "
					"allowed for a parameter", i + 1, sb);
		f->params[i].name = strndup(s, (size_t)(colon - s));
		if (!f->params[i].name)
			return nomem(p);
		f->params[i].type = type;
		s = *e ? e + 1 : e;
	}
	return 0;
}

/* The parts of a row entry, in order; FLAGS is decoded by letters instead of a bound. */
enum { ROW_OFF, ROW_LINE, ROW_COL, ROW_FLAGS, ROW_FILE, ROW_NPARTS };

static const struct {
	const char *what;
	uint64_t hi;
} row_parts[ROW_NPARTS] = {
	[ROW_OFF] = { "offset", UINT32_MAX },
	[ROW_LINE] = { "line", INT32_MAX },
	[ROW_COL] = { "column", UINT32_MAX },
	[ROW_FLAGS] = { "flags", 0 },
	[ROW_FILE] = { "file", UINT64_MAX },
};

static bool row_flag_bits(const char *s, size_t n, uint64_t *out, char *bad)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (size_t k = 0; k < COUNT(row_flags); k++) {
			if (row_flags[k].name[0] == s[i]) {
				known = true;
				v |= row_flags[k].value;
			}
		}
		if (!known) {
			*bad = s[i];
			return false;
		}
	}
	*out = v;
	return true;
}

static int parse_row(struct parse *p, size_t idx, const char *s, const char *e,
		     struct rec_row *row)
{
	/* Defaults of the optional parts: column 0, flags "s", the function's own file. */
	uint64_t v[ROW_NPARTS] = { [ROW_FLAGS] = REC_ROW_STMT };
	char sb[SHOW_MAX], pb[SHOW_MAX], why[WHY_MAX];
	show(sb, s, (size_t)(e - s));
	unsigned part = 0;
	for (const char *b = s;; part++) {
		const char *c = memchr(b, ':', (size_t)(e - b));
		const char *pe = c ? c : e;
		if (part == ROW_NPARTS)
			return fail_arg(p, "rows", "entry %zu \"%s\": too many parts (at most "
					"OFF:LINE:COL:FLAGS:FILEID)", idx, sb);
		size_t len = (size_t)(pe - b);
		if (part == ROW_FLAGS) {
			char bad;
			if (!row_flag_bits(b, len, &v[ROW_FLAGS], &bad))
				return fail_arg(p, "rows", "entry %zu \"%s\": flag \"%s\" is not "
						"one of s (is_stmt), p (prologue_end), e "
						"(epilogue_begin)", idx, sb, show(pb, &bad, 1));
		} else if (!num_u(b, len, row_parts[part].hi, &v[part], why)) {
			return fail_arg(p, "rows", "entry %zu \"%s\": %s \"%s\" %s", idx, sb,
					row_parts[part].what, show(pb, b, len), why);
		}
		if (!c)
			break;
		b = c + 1;
	}
	/* part is now the index of the last part: OFF alone has no LINE. */
	if (part < ROW_LINE)
		return fail_arg(p, "rows", "entry %zu \"%s\": expected "
				"OFF:LINE[:COL[:FLAGS[:FILEID]]]", idx, sb);
	row->off = (uint32_t)v[ROW_OFF];
	row->line = (int32_t)v[ROW_LINE];
	row->col = (uint32_t)v[ROW_COL];
	row->flags = (uint32_t)v[ROW_FLAGS];
	row->file = v[ROW_FILE];
	return 0;
}

static int parse_rows(struct parse *p, struct rec_fn *f)
{
	const char *s = arg(p, "rows");
	if (!s)
		return 1;
	size_t n = list_count(s);
	if (n > UINT32_MAX)
		return fail_arg(p, "rows", "too many entries");
	if (!n)
		return 0;
	f->rows = calloc(n, sizeof *f->rows);
	if (!f->rows)
		return nomem(p);
	f->nrows = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		const char *e = entry_end(s);
		int rc = parse_row(p, i + 1, s, e, &f->rows[i]);
		if (rc)
			return rc;
		s = *e ? e + 1 : e;
	}
	return 0;
}

/* Builders: one per command, run once the slots are known to be complete. Each fills c,
 * whose kind is already set, so cmd_free can release a half-built command. */

#define TRY(x) do { int rc_ = (x); if (rc_ < 0) return rc_; } while (0)

static int build_image(struct parse *p, struct cmd *c)
{
	const char *name = arg(p, "NAME");
	char sb[SHOW_MAX];
	/* The name becomes a directory in the mount. */
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return fail_arg(p, "NAME", "\"%s\" cannot name a directory (no '/', not . "
				"or ..)", show(sb, name, strlen(name)));
	for (const char *s = name; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return fail_arg(p, "NAME", "\"%s\" contains a control character",
					show(sb, name, strlen(name)));
	TRY(get_name(p, "NAME", &c->u.image.name));
	c->u.image.create = p->flag;
	TRY(get_name(p, "exe", &c->u.image.exe));
	const char *uuid = arg(p, "uuid");
	if (uuid) {
		if (macho_uuid_parse(uuid, c->u.image.uuid) < 0)
			return fail_arg(p, "uuid", "\"%s\" is not a UUID (8-4-4-4-12 hex digits)",
					show(sb, uuid, strlen(uuid)));
		c->u.image.has_uuid = true;
	}
	const char *arch = arg(p, "arch");
	if (arch) {
		if (macho_arch_parse(arch, &c->u.image.cputype, &c->u.image.cpusubtype) < 0)
			return fail_arg(p, "arch", "\"%s\" is not x86_64 or arm64",
					show(sb, arch, strlen(arch)));
		c->u.image.has_arch = true;
	}
	return 0;
}

static int build_exe(struct parse *p, struct cmd *c)
{
	TRY(get_name(p, "PATH", &c->u.exe.path));
	return 0;
}

static int build_segment(struct parse *p, struct cmd *c)
{
	TRY(get_segname(p, "NAME", &c->u.segment.name));
	TRY(get_u(p, "vmaddr", UINT64_MAX, &c->u.segment.vmaddr));
	TRY(get_u(p, "vmsize", UINT64_MAX, &c->u.segment.vmsize));
	TRY(get_prot(p, "maxprot", &c->u.segment.has_maxprot, &c->u.segment.maxprot));
	TRY(get_prot(p, "initprot", &c->u.segment.has_initprot, &c->u.segment.initprot));
	return 0;
}

static int build_section(struct parse *p, struct cmd *c)
{
	TRY(get_segname(p, "SEG", &c->u.section.seg));
	TRY(get_segname(p, "SECT", &c->u.section.sect));
	TRY(get_u(p, "addr", UINT64_MAX, &c->u.section.addr));
	TRY(get_u(p, "size", UINT64_MAX, &c->u.section.size));
	int rc = get_u32(p, "align", 15, &c->u.section.align);
	if (rc < 0)
		return rc;
	c->u.section.has_align = rc == 0;
	return 0;
}

static int build_file(struct parse *p, struct cmd *c)
{
	struct rec_file *f = c->u.file = rec_file_new();
	if (!f)
		return nomem(p);
	TRY(get_id(p, "ID", &f->id));
	TRY(get_name(p, "path", &f->path));
	TRY(get_name(p, "dir", &f->dir));
	return 0;
}

static int build_del(struct parse *p, struct cmd *c)
{
	TRY(get_id(p, "ID", &c->u.id));
	return 0;
}

static int build_type(struct parse *p, struct cmd *c)
{
	struct rec_type *t = c->u.type = rec_type_new();
	if (!t)
		return nomem(p);
	TRY(get_id(p, "ID", &t->id));
	unsigned kind = 0;
	TRY(get_named(p, "kind", type_kinds, COUNT(type_kinds), &kind));
	t->kind = (enum rec_type_kind)kind;
	/* A base type is described by its own fields; the others by their target. */
	static const char *const base_keys[] = { "size", "enc", NULL };
	static const char *const target_keys[] = { "to", NULL };
	bool base = t->kind == REC_TYPE_BASE;
	const char *kname = named_name(type_kinds, COUNT(type_kinds), kind);
	for (const char *const *k = base ? base_keys : target_keys; *k; k++)
		if (!arg(p, *k))
			return fail(p, "missing field \"%s\" (kind=%s needs it)", *k, kname);
	for (const char *const *k = base ? target_keys : base_keys; *k; k++)
		if (arg(p, *k))
			return fail_arg(p, *k, "does not apply to kind=%s", kname);
	if ((base || t->kind == REC_TYPE_TYPEDEF) && !arg(p, "name"))
		return fail(p, "missing field \"name\" (kind=%s needs it)", kname);
	TRY(get_name(p, "name", &t->name));
	TRY(get_u(p, "size", UINT64_MAX, &t->size));
	unsigned enc = 0;
	TRY(get_named(p, "enc", base_encs, COUNT(base_encs), &enc));
	t->enc = (enum rec_base_enc)enc;
	TRY(get_u(p, "to", UINT64_MAX, &t->to));
	return 0;
}

static int build_fn(struct parse *p, struct cmd *c)
{
	struct rec_fn *f = c->u.fn = rec_fn_new();
	if (!f)
		return nomem(p);
	uint64_t line;
	TRY(get_id(p, "ID", &f->id));
	TRY(get_name(p, "name", &f->name));
	TRY(get_u(p, "low_pc", UINT64_MAX, &f->low_pc));
	TRY(get_u(p, "size", UINT64_MAX, &f->size));
	TRY(get_id(p, "file", &f->file));
	TRY(get_u(p, "line", INT32_MAX, &line));
	f->line = (int64_t)line;
	TRY(get_u(p, "cu", UINT64_MAX, &f->cu));
	TRY(get_u(p, "ret", UINT64_MAX, &f->ret));
	TRY(parse_params(p, f));
	TRY(parse_rows(p, f));
	return 0;
}

static int build_move(struct parse *p, struct cmd *c)
{
	TRY(get_id(p, "ID", &c->u.move.id));
	TRY(get_u(p, "low_pc", UINT64_MAX, &c->u.move.low_pc));
	int rc = get_u(p, "size", UINT64_MAX, &c->u.move.size);
	if (rc < 0)
		return rc;
	c->u.move.has_size = rc == 0;
	return 0;
}

static int build_move_range(struct parse *p, struct cmd *c)
{
	TRY(get_u(p, "from", UINT64_MAX, &c->u.move_range.from));
	TRY(get_u(p, "to", UINT64_MAX, &c->u.move_range.to));
	TRY(get_s(p, "by", INT64_MIN, INT64_MAX, &c->u.move_range.by));
	if (c->u.move_range.from >= c->u.move_range.to)
		return fail(p, "from (0x%" PRIx64 ") must be below to (0x%" PRIx64 ")",
			    c->u.move_range.from, c->u.move_range.to);
	return 0;
}

static int build_line(struct parse *p, struct cmd *c)
{
	TRY(get_id(p, "ID", &c->u.line.id));
	TRY(get_s(p, "delta", INT64_MIN, INT64_MAX, &c->u.line.delta));
	TRY(get_u(p, "file", UINT64_MAX, &c->u.line.file));
	return 0;
}

static int build_line_range(struct parse *p, struct cmd *c)
{
	TRY(get_id(p, "file", &c->u.line_range.file));
	TRY(get_s(p, "from", 1, INT32_MAX, &c->u.line_range.from));
	TRY(get_s(p, "to", 1, INT32_MAX, &c->u.line_range.to));
	TRY(get_s(p, "by", INT64_MIN, INT64_MAX, &c->u.line_range.by));
	if (c->u.line_range.from >= c->u.line_range.to)
		return fail(p, "from (%" PRId64 ") must be below to (%" PRId64 ")",
			    c->u.line_range.from, c->u.line_range.to);
	return 0;
}

static int build_sym(struct parse *p, struct cmd *c)
{
	TRY(get_name(p, "NAME", &c->u.sym.name));
	TRY(get_u(p, "value", UINT64_MAX, &c->u.sym.value));
	/* n_sect is one byte. */
	TRY(get_u32(p, "sect", 255, &c->u.sym.sect));
	c->u.sym.ext = p->flag;
	return 0;
}

static int build_unsym(struct parse *p, struct cmd *c)
{
	TRY(get_name(p, "NAME", &c->u.unsym.name));
	return 0;
}

/* Required and optional keys of a table row. */
#define REQ(k) { k, true }
#define OPT(k) { k, false }

static const struct cmd_spec specs[] = {
	{ "image", CMD_IMAGE, { "NAME" }, { OPT("exe"), OPT("uuid"), OPT("arch") },
	  "create", build_image },
	{ "exe", CMD_EXE, { "PATH" }, { { 0 } }, NULL, build_exe },
	{ "segment", CMD_SEGMENT, { "NAME" },
	  { REQ("vmaddr"), REQ("vmsize"), OPT("maxprot"), OPT("initprot") },
	  NULL, build_segment },
	{ "section", CMD_SECTION, { "SEG", "SECT" },
	  { REQ("addr"), REQ("size"), OPT("align") }, NULL, build_section },
	{ "file", CMD_FILE, { "ID" }, { REQ("path"), OPT("dir") }, NULL, build_file },
	{ "delfile", CMD_DELFILE, { "ID" }, { { 0 } }, NULL, build_del },
	{ "type", CMD_TYPE, { "ID" },
	  { REQ("kind"), OPT("name"), OPT("size"), OPT("enc"), OPT("to") },
	  NULL, build_type },
	{ "deltype", CMD_DELTYPE, { "ID" }, { { 0 } }, NULL, build_del },
	{ "fn", CMD_FN, { "ID" },
	  { REQ("name"), REQ("low_pc"), REQ("size"), REQ("file"), REQ("line"),
	    OPT("cu"), OPT("ret"), OPT("params"), OPT("rows") },
	  NULL, build_fn },
	{ "move", CMD_MOVE, { "ID" }, { REQ("low_pc"), OPT("size") }, NULL, build_move },
	{ "move-range", CMD_MOVE_RANGE, { 0 }, { REQ("from"), REQ("to"), REQ("by") },
	  NULL, build_move_range },
	{ "line", CMD_LINE, { "ID" }, { REQ("delta"), OPT("file") }, NULL, build_line },
	{ "line-range", CMD_LINE_RANGE, { 0 },
	  { REQ("file"), REQ("from"), REQ("to"), REQ("by") }, NULL, build_line_range },
	{ "del", CMD_DEL, { "ID" }, { { 0 } }, NULL, build_del },
	{ "sym", CMD_SYM, { "NAME" }, { REQ("value"), OPT("sect") }, "ext", build_sym },
	{ "unsym", CMD_UNSYM, { "NAME" }, { { 0 } }, NULL, build_unsym },
	{ "commit", CMD_COMMIT, { 0 }, { { 0 } }, NULL, NULL },
	{ "abort", CMD_ABORT, { 0 }, { { 0 } }, NULL, NULL },
};

const char *cmd_name(enum cmd_kind k)
{
	for (size_t i = 0; i < COUNT(specs); i++)
		if (specs[i].kind == k)
			return specs[i].name;
	return "unknown";
}

/* Lexing. */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

struct token {
	const char *key;    /* NULL for a word */
	const char *val;
	bool quoted;
};

/* Decodes the quoted string opening at q in place (the result starts at q) and returns
 * the position just after the closing quote through *end. `what` names the token for
 * messages; buf gives columns. */
static int unquote(struct parse *p, const char *buf, char *q, char **end, const char *what)
{
	char *w = q, *r = q + 1;
	size_t col = (size_t)(q - buf) + 1;
	for (;; r++) {
		if (!*r || (*r == '\\' && !r[1]))
			return fail(p, "%sunterminated quote (opened at column %zu)", what, col);
		if (*r == '"')
			break;
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		size_t ecol = (size_t)(r - buf) + 1;
		r++;
		switch (*r) {
		case '\\': *w++ = '\\'; break;
		case '"': *w++ = '"'; break;
		case 'n': *w++ = '\n'; break;
		case 't': *w++ = '\t'; break;
		case 'r': *w++ = '\r'; break;
		case 'x': {
			int hi = hex_digit(r[1]), lo = hi < 0 ? -1 : hex_digit(r[2]);
			if (hi < 0 || lo < 0)
				return fail(p, "%s\\x must be followed by two hex digits (column "
					    "%zu)", what, ecol);
			if (hi == 0 && lo == 0)
				return fail(p, "%s\\x00 would put a NUL byte in the value (column "
					    "%zu)", what, ecol);
			*w++ = (char)(hi << 4 | lo);
			r += 2;
			break;
		}
		case '0':
			return fail(p, "%s\\0 would put a NUL byte in the value (column %zu)",
				    what, ecol);
		default: {
			char sb[SHOW_MAX];
			return fail(p, "%sunknown escape \"\\%s\" (column %zu; use \\\\ \\\" \\n "
				    "\\t \\r or \\xHH)", what, show(sb, r, 1), ecol);
		}
		}
	}
	*w = 0;
	r++;
	if (*r && !is_blank(*r))
		return fail(p, "%sunexpected text after the closing quote (column %zu)", what,
			    (size_t)(r - buf) + 1);
	*end = r;
	return 0;
}

/* Reads the token starting at the non-blank *pos of the NUL-terminated working copy buf
 * and moves *pos past it. */
static int next_token(struct parse *p, char *buf, size_t *pos, struct token *t)
{
	char *s = buf + *pos, *e;
	char what[64] = "", sb[SHOW_MAX];
	t->key = NULL;
	t->quoted = *s == '"';
	if (t->quoted) {
		TRY(unquote(p, buf, s, &e, ""));
		t->val = s;
	} else {
		for (e = s; *e && !is_blank(*e) && *e != '=' && *e != '"'; e++)
			;
		if (*e == '=') {
			if (e == s)
				return fail(p, "a field has no key before '=' (column %zu)",
					    (size_t)(s - buf) + 1);
			*e = 0;
			t->key = s;
			s = e + 1;
			snprintf(what, sizeof what, "field \"%s\": ", show(sb, t->key, strlen(t->key)));
			t->quoted = *s == '"';
			if (t->quoted) {
				TRY(unquote(p, buf, s, &e, what));
			} else {
				for (e = s; *e && !is_blank(*e) && *e != '"'; e++)
					;
			}
		}
		if (*e == '"')
			return fail(p, "%sstray '\"' at column %zu (quote the whole value)", what,
				    (size_t)(e - buf) + 1);
		t->val = s;
	}
	*pos = (size_t)(e - buf);
	if (*e) {
		*e = 0;
		++*pos;
	}
	return 0;
}

/* Sorts one token into its slot of the command's table row. */
static int place(struct parse *p, const struct token *t)
{
	const struct cmd_spec *spec = p->spec;
	char sb[SHOW_MAX];
	if (t->key) {
		for (unsigned i = 0; i < MAX_KEYS && spec->keys[i].name; i++) {
			if (strcmp(spec->keys[i].name, t->key) != 0)
				continue;
			if (p->val[i])
				return fail(p, "field \"%s\" given twice", t->key);
			p->val[i] = t->val;
			return 0;
		}
		show(sb, t->key, strlen(t->key));
		if (spec->flag && strcmp(spec->flag, t->key) == 0)
			return fail(p, "\"%s\" is a flag and takes no value", sb);
		return fail(p, "unknown field \"%s\"", sb);
	}
	if (p->npos < MAX_POS && spec->pos[p->npos]) {
		p->pos[p->npos++] = t->val;
		return 0;
	}
	if (!t->quoted && spec->flag && strcmp(spec->flag, t->val) == 0) {
		if (p->flag)
			return fail(p, "\"%s\" given twice", spec->flag);
		p->flag = true;
		return 0;
	}
	return fail(p, "unexpected word \"%s\"", show(sb, t->val, strlen(t->val)));
}

static int parse_line(struct parse *p, char *buf, size_t len, struct cmd *c)
{
	size_t pos = 0;
	bool first = true;
	char sb[SHOW_MAX];
	for (;;) {
		while (pos < len && is_blank(buf[pos]))
			pos++;
		if (pos >= len)
			break;
		struct token t = {0};
		TRY(next_token(p, buf, &pos, &t));
		if (!first) {
			TRY(place(p, &t));
			continue;
		}
		first = false;
		if (t.key || t.quoted)
			return fail(p, "a line must start with a command word");
		for (size_t i = 0; i < COUNT(specs) && !p->spec; i++)
			if (strcmp(specs[i].name, t.val) == 0)
				p->spec = &specs[i];
		if (!p->spec)
			return fail(p, "unknown command \"%s\"", show(sb, t.val, strlen(t.val)));
	}
	const struct cmd_spec *spec = p->spec;
	if (p->npos < MAX_POS && spec->pos[p->npos])
		return fail(p, "missing %s", spec->pos[p->npos]);
	for (unsigned i = 0; i < MAX_KEYS && spec->keys[i].name; i++)
		if (spec->keys[i].required && !p->val[i])
			return fail(p, "missing field \"%s\"", spec->keys[i].name);
	c->kind = spec->kind;
	return spec->build ? spec->build(p, c) : 0;
}

int cmd_parse(const char *line, size_t len, struct cmd *out, char *err, size_t errlen)
{
	struct parse p = { .err = err, .errlen = errlen };
	if (err && errlen)
		err[0] = 0;
	if (len && line[len - 1] == '\r')
		len--;
	const char *nul = memchr(line, 0, len);
	if (nul)
		return fail(&p, "the line contains a NUL byte (column %zu)",
			    (size_t)(nul - line) + 1);
	size_t i = 0;
	while (i < len && is_blank(line[i]))
		i++;
	if (i == len || line[i] == '#')
		return 1;
	char *buf = malloc(len + 1);
	if (!buf)
		return nomem(&p);
	memcpy(buf, line, len);
	buf[len] = 0;
	struct cmd c = { 0 };
	int rc = parse_line(&p, buf, len, &c);
	free(buf);
	if (rc) {
		cmd_free(&c);
		return rc;
	}
	*out = c;
	return 0;
}

void cmd_free(struct cmd *c)
{
	switch (c->kind) {
	case CMD_IMAGE:
		free(c->u.image.name);
		free(c->u.image.exe);
		break;
	case CMD_EXE:
		free(c->u.exe.path);
		break;
	case CMD_SEGMENT:
		free(c->u.segment.name);
		break;
	case CMD_SECTION:
		free(c->u.section.seg);
		free(c->u.section.sect);
		break;
	case CMD_FILE:
		rec_file_unref(c->u.file);
		break;
	case CMD_TYPE:
		rec_type_unref(c->u.type);
		break;
	case CMD_FN:
		rec_fn_unref(c->u.fn);
		break;
	case CMD_SYM:
		free(c->u.sym.name);
		break;
	case CMD_UNSYM:
		free(c->u.unsym.name);
		break;
	case CMD_DELFILE:
	case CMD_DELTYPE:
	case CMD_MOVE:
	case CMD_MOVE_RANGE:
	case CMD_LINE:
	case CMD_LINE_RANGE:
	case CMD_DEL:
	case CMD_COMMIT:
	case CMD_ABORT:
		break;
	}
	memset(c, 0, sizeof *c);
}

/* Formatting. */

/* Bytes that end a bare value or change its meaning; everything else, UTF-8 included,
 * may stand unquoted. */
static bool needs_quote(unsigned char ch)
{
	return ch <= ' ' || ch == 0x7f || ch == '"' || ch == '\\' || ch == '=';
}

static bool all_bare(const char *s)
{
	for (; *s; s++)
		if (needs_quote((unsigned char)*s))
			return false;
	return true;
}

static void put_escaped(struct enc_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		switch (ch) {
		case '"': enc_buf_put(b, "\\\"", 2); break;
		case '\\': enc_buf_put(b, "\\\\", 2); break;
		case '\n': enc_buf_put(b, "\\n", 2); break;
		case '\t': enc_buf_put(b, "\\t", 2); break;
		case '\r': enc_buf_put(b, "\\r", 2); break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				enc_buf_printf(b, "\\x%02x", ch);
			else
				enc_buf_u8(b, ch);
		}
	}
}

void cmd_format_value(struct enc_buf *b, const char *s)
{
	if (*s && all_bare(s)) {
		enc_buf_put(b, s, strlen(s));
		return;
	}
	enc_buf_u8(b, '"');
	put_escaped(b, s);
	enc_buf_u8(b, '"');
}

/* ` key=value`, the value quoted when needed. */
static void put_field(struct enc_buf *b, const char *key, const char *val)
{
	enc_buf_printf(b, " %s=", key);
	cmd_format_value(b, val);
}

void cmd_format_file(struct enc_buf *b, const struct rec_file *f)
{
	enc_buf_printf(b, "file %" PRIu64, f->id);
	put_field(b, "path", f->path);
	if (f->dir)
		put_field(b, "dir", f->dir);
	enc_buf_u8(b, '\n');
}

void cmd_format_type(struct enc_buf *b, const struct rec_type *t)
{
	enc_buf_printf(b, "type %" PRIu64 " kind=%s", t->id,
		       named_name(type_kinds, COUNT(type_kinds), t->kind));
	if (t->name)
		put_field(b, "name", t->name);
	if (t->kind == REC_TYPE_BASE)
		enc_buf_printf(b, " size=0x%" PRIx64 " enc=%s", t->size,
			       named_name(base_encs, COUNT(base_encs), t->enc));
	else
		enc_buf_printf(b, " to=%" PRIu64, t->to);
	enc_buf_u8(b, '\n');
}

/* The list is quoted as a whole when a name needs it; ':' and ',' never do. Names that
 * contain ',' cannot be written (the parser never makes one). */
static void put_params(struct enc_buf *b, const struct rec_fn *f)
{
	bool quote = false;
	for (uint32_t i = 0; i < f->nparams; i++)
		quote |= !all_bare(f->params[i].name);
	enc_buf_put(b, quote ? " params=\"" : " params=", quote ? 9 : 8);
	for (uint32_t i = 0; i < f->nparams; i++) {
		if (i)
			enc_buf_u8(b, ',');
		if (quote)
			put_escaped(b, f->params[i].name);
		else
			enc_buf_put(b, f->params[i].name, strlen(f->params[i].name));
		enc_buf_printf(b, ":%" PRIu64, f->params[i].type);
	}
	if (quote)
		enc_buf_u8(b, '"');
}

static void put_rows(struct enc_buf *b, const struct rec_fn *f)
{
	enc_buf_put(b, " rows=", 6);
	for (uint32_t i = 0; i < f->nrows; i++) {
		const struct rec_row *r = &f->rows[i];
		enc_buf_printf(b, "%s0x%" PRIx32 ":%" PRId32 ":%" PRIu32 ":", i ? "," : "",
			       r->off, r->line, r->col);
		for (size_t k = 0; k < COUNT(row_flags); k++)
			if (r->flags & row_flags[k].value)
				enc_buf_put(b, row_flags[k].name, 1);
		enc_buf_printf(b, ":%" PRIu64, r->file);
	}
}

void cmd_format_fn(struct enc_buf *b, const struct rec_fn *f)
{
	enc_buf_printf(b, "fn %" PRIu64, f->id);
	put_field(b, "name", f->name);
	enc_buf_printf(b, " low_pc=0x%" PRIx64 " size=0x%" PRIx64 " file=%" PRIu64
		       " line=%" PRId64, f->low_pc, f->size, f->file, f->line);
	if (f->cu)
		enc_buf_printf(b, " cu=%" PRIu64, f->cu);
	if (f->ret)
		enc_buf_printf(b, " ret=%" PRIu64, f->ret);
	if (f->nparams)
		put_params(b, f);
	if (f->nrows)
		put_rows(b, f);
	enc_buf_u8(b, '\n');
}

/* Any command, for a journal that replays batches: numbers in the spelling the parser
 * reads back exactly, names and paths quoted when needed, optional fields only when set. */
void cmd_format(struct enc_buf *b, const struct cmd *c)
{
	char uuid[37];
	switch (c->kind) {
	case CMD_IMAGE:
		enc_buf_printf(b, "image ");
		cmd_format_value(b, c->u.image.name);
		if (c->u.image.create)
			enc_buf_printf(b, " create");
		if (c->u.image.exe)
			put_field(b, "exe", c->u.image.exe);
		if (c->u.image.has_uuid) {
			macho_uuid_format(c->u.image.uuid, uuid);
			enc_buf_printf(b, " uuid=%s", uuid);
		}
		if (c->u.image.has_arch)
			enc_buf_printf(b, " arch=%s", macho_arch_name(c->u.image.cputype));
		break;
	case CMD_EXE:
		enc_buf_printf(b, "exe ");
		cmd_format_value(b, c->u.exe.path);
		break;
	case CMD_SEGMENT:
		enc_buf_printf(b, "segment ");
		cmd_format_value(b, c->u.segment.name);
		enc_buf_printf(b, " vmaddr=0x%" PRIx64 " vmsize=0x%" PRIx64, c->u.segment.vmaddr,
			       c->u.segment.vmsize);
		if (c->u.segment.has_maxprot)
			enc_buf_printf(b, " maxprot=%" PRIu32, c->u.segment.maxprot);
		if (c->u.segment.has_initprot)
			enc_buf_printf(b, " initprot=%" PRIu32, c->u.segment.initprot);
		break;
	case CMD_SECTION:
		enc_buf_printf(b, "section ");
		cmd_format_value(b, c->u.section.seg);
		enc_buf_u8(b, ' ');
		cmd_format_value(b, c->u.section.sect);
		enc_buf_printf(b, " addr=0x%" PRIx64 " size=0x%" PRIx64, c->u.section.addr,
			       c->u.section.size);
		if (c->u.section.has_align)
			enc_buf_printf(b, " align=%" PRIu32, c->u.section.align);
		break;
	case CMD_FILE:
		cmd_format_file(b, c->u.file);
		return;
	case CMD_TYPE:
		cmd_format_type(b, c->u.type);
		return;
	case CMD_FN:
		cmd_format_fn(b, c->u.fn);
		return;
	case CMD_DELFILE:
	case CMD_DELTYPE:
	case CMD_DEL:
		enc_buf_printf(b, "%s %" PRIu64, cmd_name(c->kind), c->u.id);
		break;
	case CMD_MOVE:
		enc_buf_printf(b, "move %" PRIu64 " low_pc=0x%" PRIx64, c->u.move.id,
			       c->u.move.low_pc);
		if (c->u.move.has_size)
			enc_buf_printf(b, " size=0x%" PRIx64, c->u.move.size);
		break;
	case CMD_MOVE_RANGE:
		enc_buf_printf(b, "move-range from=0x%" PRIx64 " to=0x%" PRIx64 " by=%" PRId64,
			       c->u.move_range.from, c->u.move_range.to, c->u.move_range.by);
		break;
	case CMD_LINE:
		enc_buf_printf(b, "line %" PRIu64 " delta=%" PRId64, c->u.line.id,
			       c->u.line.delta);
		if (c->u.line.file)
			enc_buf_printf(b, " file=%" PRIu64, c->u.line.file);
		break;
	case CMD_LINE_RANGE:
		enc_buf_printf(b, "line-range file=%" PRIu64 " from=%" PRId64 " to=%" PRId64
			       " by=%" PRId64, c->u.line_range.file, c->u.line_range.from,
			       c->u.line_range.to, c->u.line_range.by);
		break;
	case CMD_SYM:
		enc_buf_printf(b, "sym ");
		cmd_format_value(b, c->u.sym.name);
		enc_buf_printf(b, " value=0x%" PRIx64, c->u.sym.value);
		if (c->u.sym.sect)
			enc_buf_printf(b, " sect=%" PRIu32, c->u.sym.sect);
		if (c->u.sym.ext)
			enc_buf_printf(b, " ext");
		break;
	case CMD_UNSYM:
		enc_buf_printf(b, "unsym ");
		cmd_format_value(b, c->u.unsym.name);
		break;
	case CMD_COMMIT:
	case CMD_ABORT:
		enc_buf_printf(b, "%s", cmd_name(c->kind));
		break;
	}
	enc_buf_u8(b, '\n');
}
