/* cmd: the control protocol's syntax, driven by the table in cmd.def.
 *
 * A line is lexed in a private copy that quotes are decoded into in place, then its words
 * and key=value fields are sorted into the slots of the command's fields (positional
 * words in order, keys by name, flags by their word), and each field's decoder converts
 * its slot into the member the row names, in row order. Everything the command keeps is
 * copied out of the private buffer. The formatter walks the same rows, so what it writes
 * parses back to the same command.
 *
 * Lexing choices the header leaves open: a bare value runs to the next blank and is taken
 * literally, so it may hold '=' and '\' (the formatter still quotes both); a quote may
 * only open a word or a value and must be followed by a blank or the end; \xHH takes
 * exactly two hex digits. Names inside lists (parameters, members, enumerators, locals)
 * contain neither ',' (it separates entries) nor ':' (it separates parts), and a LOC
 * contains neither, so every list entry splits on both without escapes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "macho.h"
#include "util.h"

#define MAX_FIELDS 24  /* fields of one command (checked for every row) */
#define WHY_MAX   64
#define SEGNAME_MAX 16 /* the Mach-O segname/sectname fields */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The table's vocabulary (cmd.def explains each word). */

enum presence { P_POS, P_REQ, P_OPT, P_FLAG, P_SELECT, P_WHEN, P_UPPER, P_UNLESS };

enum decoder {
	D_ID, D_HEX, D_UDEC, D_SDEC, D_NAME, D_SEGNAME, D_DIRNAME, D_PROT, D_ENUM, D_UUID,
	D_ARCH, D_PARAMS, D_ROWS, D_VARS, D_BLOCKS, D_LOC, D_LANG, D_MEMBERS, D_ENUMERATORS,
	D_DIMS, D_TYPEIDS, D_BOOL,
};

/* What a member is, from its C type: the decoder writes it and the formatter reads it. */
enum store {
	ST_BOOL, ST_U32, ST_U64, ST_I64, ST_STR, ST_BYTES, ST_PARAMS, ST_ROWS, ST_VARS,
	ST_BLOCKS, ST_LOC, ST_MEMBERS, ST_ENUMERATORS, ST_U64S, ST_OTHER
};

struct named {
	const char *name;
	unsigned value;
};

struct field {
	const char *key;
	enum presence pres;
	enum decoder dec;
	enum store store;
	uint32_t applies, needs;    /* P_WHEN: masks of BIT(selector value) */
	const char *waiver;         /* P_UNLESS, P_WHEN: the FLAG key that lifts the need */
	int64_t lo;                 /* D_SDEC */
	uint64_t hi;                /* D_UDEC, D_SDEC */
	const struct named *values; /* D_ENUM */
	size_t nvalues;
	size_t off;                 /* of the member in the payload */
	size_t has;                 /* offset + 1 of the presence bool; 0: none */
};

struct cmd_spec {
	const char *word;
	enum cmd_kind kind;
	const struct field *fields; /* up to the first with a NULL key */
	/* The payload the fields live in (writable when c is); make allocates a record,
	 * drop frees what the payload owns. */
	void *(*payload)(const struct cmd *c);
	int (*make)(struct cmd *c);
	void (*drop)(const struct cmd_spec *spec, struct cmd *c);
};

static void free_strings(const struct cmd_spec *spec, void *base);

/* The VALUES tables. */
#define VALUE(word, v) { word, v },
#define VALUES(table, values) static const struct named table[] = { values };
#include "cmd.def"
#undef VALUE

/* Each command's payload type, so rows can name members: cmd_base_KIND. */
#define BASE_INLINE(m) struct cmd_##m
#define BASE_RECORD(r) struct rec_##r
#define BASE_ID union cmd_payload
#define BASE_NONE union cmd_payload
#define CMD(kind, word, payload) typedef BASE_##payload cmd_base_##kind;
#include "cmd.def"

/* Each command's payload access. */
#define PAYLOAD_INLINE(m) return (void *)&c->u.m;
#define PAYLOAD_RECORD(r) return c->u.r;
#define PAYLOAD_ID return (void *)&c->u.id;
#define PAYLOAD_NONE return (void *)&c->u;
#define MAKE_INLINE(m) (void)c; return 0;
#define MAKE_RECORD(r) return (c->u.r = rec_##r##_new()) ? 0 : -ENOMEM;
#define MAKE_ID (void)c; return 0;
#define MAKE_NONE (void)c; return 0;
#define DROP_INLINE(m) free_strings(spec, &c->u.m);
#define DROP_RECORD(r) (void)spec; rec_##r##_unref(c->u.r);
#define DROP_ID (void)spec; (void)c;
#define DROP_NONE (void)spec; (void)c;
#define CMD(kind, word, payload) \
	static void *payload_##kind(const struct cmd *c) { PAYLOAD_##payload } \
	static int make_##kind(struct cmd *c) { MAKE_##payload } \
	static void drop_##kind(const struct cmd_spec *spec, struct cmd *c) \
	{ DROP_##payload }
#include "cmd.def"

/* Field indices: every command's fields follow the slot its CMD row takes, which stays
 * zeroed as the end of the previous command's fields. */
enum field_index {
#define CMD(kind, word, payload) FIELDS_##kind,
#define FIELD(kind, key, presence, decoder, member) FIELD_##kind##_##key,
#define FIELD_HAS(kind, key, decoder, member, has) FIELD_##kind##_##key,
#include "cmd.def"
	NFIELDS
};

/* Row columns as initializers. */
#define ALL UINT32_MAX
#define BIT(v) (1u << (v))
#define PRES_POS .pres = P_POS
#define PRES_REQ .pres = P_REQ
#define PRES_OPT .pres = P_OPT
#define PRES_FLAG .pres = P_FLAG
#define PRES_SELECT .pres = P_SELECT
#define PRES_WHEN(a, n) .pres = P_WHEN, .applies = (a), .needs = (n)
#define PRES_UPPER .pres = P_UPPER
#define PRES_WHEN_UNLESS(a, n, flag) .pres = P_WHEN, .applies = (a), .needs = (n), \
	.waiver = #flag
#define PRES_UNLESS(flag) .pres = P_UNLESS, .waiver = #flag
/* Type kinds that share fields. */
#define AGGREGATES (BIT(REC_TYPE_STRUCT) | BIT(REC_TYPE_UNION))
#define MODIFIERS (BIT(REC_TYPE_POINTER) | BIT(REC_TYPE_CONST) | BIT(REC_TYPE_VOLATILE) | \
		   BIT(REC_TYPE_RESTRICT))
#define DEC_ID .dec = D_ID
#define DEC_HEX .dec = D_HEX
#define DEC_UDEC(h) .dec = D_UDEC, .hi = (h)
#define DEC_SDEC(l, h) .dec = D_SDEC, .lo = (l), .hi = (h)
#define DEC_NAME .dec = D_NAME
#define DEC_SEGNAME .dec = D_SEGNAME
#define DEC_DIRNAME .dec = D_DIRNAME
#define DEC_PROT .dec = D_PROT
#define DEC_ENUM(t) .dec = D_ENUM, .values = (t), .nvalues = COUNT(t)
#define DEC_UUID .dec = D_UUID
#define DEC_ARCH .dec = D_ARCH
#define DEC_PARAMS .dec = D_PARAMS
#define DEC_ROWS .dec = D_ROWS
#define DEC_VARS .dec = D_VARS
#define DEC_BLOCKS .dec = D_BLOCKS
#define DEC_LOC .dec = D_LOC
#define DEC_LANG .dec = D_LANG
#define DEC_MEMBERS .dec = D_MEMBERS
#define DEC_ENUMERATORS .dec = D_ENUMERATORS
#define DEC_DIMS .dec = D_DIMS
#define DEC_TYPEIDS .dec = D_TYPEIDS
#define DEC_BOOL .dec = D_BOOL

#define MEMBER(base, m) (((base *)0)->m)
#define STORE(base, m) _Generic(MEMBER(base, m), bool: ST_BOOL, uint32_t: ST_U32, \
	uint64_t: ST_U64, int64_t: ST_I64, char *: ST_STR, uint8_t *: ST_BYTES, \
	struct rec_param *: ST_PARAMS, struct rec_row *: ST_ROWS, struct rec_var *: ST_VARS, \
	struct rec_block *: ST_BLOCKS, struct rec_loc: ST_LOC, \
	struct rec_member *: ST_MEMBERS, struct rec_enumerator *: ST_ENUMERATORS, \
	uint64_t *: ST_U64S, default: ST_OTHER)

static const struct field fields[NFIELDS + 1] = {
#define FIELD(kind, k, presence, decoder, m) \
	[FIELD_##kind##_##k] = { .key = #k, PRES_##presence, DEC_##decoder, \
				 .store = STORE(cmd_base_##kind, m), \
				 .off = offsetof(cmd_base_##kind, m) },
#define FIELD_HAS(kind, k, decoder, m, h) \
	[FIELD_##kind##_##k] = { .key = #k, .pres = P_OPT, DEC_##decoder, \
				 .store = STORE(cmd_base_##kind, m), \
				 .off = offsetof(cmd_base_##kind, m), \
				 .has = offsetof(cmd_base_##kind, h) + 1 },
#include "cmd.def"
};

/* Rows that the table's machinery cannot serve fail to build: a member whose type its
 * decoder does not write, a presence bool that is not a bool, too many fields. */
#define M(st) (1u << (st))
#define STORES_ID M(ST_U64)
#define STORES_HEX M(ST_U64)
#define STORES_UDEC(h) (M(ST_U32) | M(ST_U64) | M(ST_I64))
#define STORES_SDEC(l, h) M(ST_I64)
#define STORES_NAME M(ST_STR)
#define STORES_SEGNAME M(ST_STR)
#define STORES_DIRNAME M(ST_STR)
#define STORES_PROT M(ST_U32)
#define STORES_ENUM(t) M(ST_U32)
#define STORES_UUID M(ST_BYTES)
#define STORES_ARCH M(ST_U32)
#define STORES_PARAMS M(ST_PARAMS)
#define STORES_ROWS M(ST_ROWS)
#define STORES_VARS M(ST_VARS)
#define STORES_BLOCKS M(ST_BLOCKS)
#define STORES_LOC M(ST_LOC)
#define STORES_LANG M(ST_U32)
#define STORES_MEMBERS M(ST_MEMBERS)
#define STORES_ENUMERATORS M(ST_ENUMERATORS)
#define STORES_DIMS M(ST_U64S)
#define STORES_TYPEIDS M(ST_U64S)
#define STORES_BOOL M(ST_BOOL)
#define CHECK_ROW(kind, k, decoder, m) \
	_Static_assert(STORES_##decoder & M(STORE(cmd_base_##kind, m)), \
		       "cmd.def: " #kind " " #k ": the member's type does not suit " #decoder); \
	_Static_assert(FIELD_##kind##_##k - FIELDS_##kind <= MAX_FIELDS, \
		       "cmd.def: " #kind " has more than MAX_FIELDS fields");
#define FIELD(kind, k, presence, decoder, m) CHECK_ROW(kind, k, decoder, m)
#define FIELD_HAS(kind, k, decoder, m, h) CHECK_ROW(kind, k, decoder, m) \
	_Static_assert(STORE(cmd_base_##kind, h) == ST_BOOL, \
		       "cmd.def: " #kind " " #k ": " #h " is not a bool");
#include "cmd.def"
_Static_assert(offsetof(struct cmd_image, cpusubtype) ==
	       offsetof(struct cmd_image, cputype) + sizeof(uint32_t),
	       "ARCH writes cpusubtype right after cputype");

/* Indexed by kind - 1. */
static const struct cmd_spec specs[CMD_COUNT] = {
#define CMD(k, w, pl) \
	[CMD_INDEX_##k] = { .word = w, .kind = CMD_##k, .fields = &fields[FIELDS_##k + 1], \
			    .payload = payload_##k, .make = make_##k, .drop = drop_##k },
#include "cmd.def"
};

const char *cmd_name(enum cmd_kind k)
{
	return k >= 1 && (unsigned)k <= (unsigned)CMD_COUNT ? specs[k - 1].word : "unknown";
}

static const struct cmd_spec *spec_of(enum cmd_kind k)
{
	return k >= 1 && (unsigned)k <= (unsigned)CMD_COUNT ? &specs[k - 1] : NULL;
}

/* The raw slots of one line, by field index within the command; the strings point into
 * the private buffer. */
struct parse {
	const struct cmd_spec *spec;
	const char *val[MAX_FIELDS];
	unsigned npos;
	char *err;
	size_t errlen;
};

/* Error reporting. */

/* Writes "<command>: <label><message>" once; the label names the field or word at
 * fault, f (NULL: the message names what it is about). */
static int vfail(struct parse *p, const struct field *f, const char *fmt, va_list ap)
{
	if (!p->err || !p->errlen)
		return -EINVAL;
	char msg[256], label[64] = "";
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (f && f->pres == P_POS)
		snprintf(label, sizeof label, "%s: ", f->key);
	else if (f)
		snprintf(label, sizeof label, "field \"%s\": ", f->key);
	snprintf(p->err, p->errlen, "%s%s%s%s", p->spec ? p->spec->word : "",
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

static int fail_at(struct parse *p, const struct field *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_at(struct parse *p, const struct field *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(p, f, fmt, ap);
	va_end(ap);
	return rc;
}

static int nomem(struct parse *p)
{
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s%sout of memory", p->spec ? p->spec->word : "",
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


/* Named values, shared by the parser and the formatter. */

static const struct named row_flags[] = {
	{ "s", REC_ROW_STMT },
	{ "p", REC_ROW_PROLOGUE },
	{ "e", REC_ROW_EPILOGUE },
};

/* "?" for a value outside the table: a hand-built record then formats to a line the
 * parser refuses, instead of crashing the formatter. */
static const char *named_name(const struct named *t, size_t n, unsigned value)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == value)
			return t[i].name;
	return "?";
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

/* The parts of one list entry [s, e), split at each ':'. */
struct part {
	const char *s;
	size_t n;
};

/* Returns the number of parts, or max + 1 when there are more than max. */
static unsigned split_parts(const char *s, const char *e, char sep, struct part *pt,
			    unsigned max)
{
	unsigned k = 0;
	for (const char *b = s;; k++) {
		const char *c = memchr(b, sep, (size_t)(e - b));
		if (k == max)
			return max + 1;
		pt[k].s = b;
		pt[k].n = (size_t)((c ? c : e) - b);
		if (!c)
			return k + 1;
		b = c + 1;
	}
}

/* What went wrong inside one entry, for the field's message (truncated to fit). */
#define BAD_MAX 160

static void say(char bad[BAD_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char bad[BAD_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(bad, BAD_MAX, fmt, ap);
	va_end(ap);
}

/* One part as an unsigned number no greater than hi; what names the part. */
static bool part_u(const struct part *pt, const char *what, uint64_t hi, uint64_t *v,
		   char bad[BAD_MAX])
{
	char why[WHY_MAX], sb[UTIL_SHOW_MAX];
	if (num_u(pt->s, pt->n, hi, v, why))
		return true;
	say(bad, "%s \"%s\" %s", what, util_show(sb, pt->s, pt->n), why);
	return false;
}

/* A type id inside a list: 0 (void) refused where `of` names what cannot be void. */
static bool part_type(const struct part *pt, const char *of, uint64_t *v, char bad[BAD_MAX])
{
	if (!part_u(pt, "type", UINT64_MAX, v, bad))
		return false;
	if (*v == 0 && of) {
		say(bad, "type 0 (void) is not allowed for a %s", of);
		return false;
	}
	return true;
}

/* A signed value; with need_sign the text must start with '+' or '-'. */
static bool signed_text(const char *s, size_t n, bool need_sign, int64_t *v,
			char bad[BAD_MAX], const char *what)
{
	char why[WHY_MAX], sb[UTIL_SHOW_MAX];
	bool plus = n && s[0] == '+';
	if (need_sign && !plus && !(n && s[0] == '-')) {
		say(bad, "%s \"%s\" needs a sign (+ or -)", what,
			 util_show(sb, s, n));
		return false;
	}
	/* "+-5" is no number: the sign is given once. */
	if (plus && (n == 1 || s[1] == '-')) {
		say(bad, "%s \"%s\" is not a number", what, util_show(sb, s, n));
		return false;
	}
	if (num_s(s + plus, n - plus, INT64_MIN, INT64_MAX, v, why))
		return true;
	say(bad, "%s \"%s\" %s", what, util_show(sb, s, n), why);
	return false;
}

/* A LOC other than a list; an empty one only where empty_ok. */
static bool loc_simple(const char *s, size_t n, bool empty_ok, struct rec_loc *l,
		       char bad[BAD_MAX])
{
	char why[WHY_MAX], sb[UTIL_SHOW_MAX];
	uint64_t u;
	memset(l, 0, sizeof *l);
	if (n == 0) {
		if (empty_ok)
			return true;
		say(bad, "a list entry needs a location");
		return false;
	}
	if (n >= 2 && s[0] == 'f' && s[1] == 'b') {
		l->kind = REC_LOC_FBREG;
		return signed_text(s + 2, n - 2, true, &l->value, bad, "frame offset");
	}
	switch (s[0]) {
	case 'r':
	case 'b': {
		size_t d = 1;
		while (d < n && s[d] != '+' && s[d] != '-')
			d++;
		if (s[0] == 'r' && d != n)
			break;
		if (!num_u(s + 1, d - 1, UINT32_MAX, &u, why)) {
			say(bad, "register \"%s\" %s", util_show(sb, s + 1, d - 1),
				 why);
			return false;
		}
		l->reg = (uint32_t)u;
		if (s[0] == 'r') {
			l->kind = REC_LOC_REG;
			return true;
		}
		l->kind = REC_LOC_BREG;
		return signed_text(s + d, n - d, true, &l->value, bad, "register offset");
	}
	case 'a':
		if (!num_u(s + 1, n - 1, UINT64_MAX, &u, why)) {
			say(bad, "address \"%s\" %s", util_show(sb, s + 1, n - 1),
				 why);
			return false;
		}
		l->kind = REC_LOC_ADDR;
		l->value = (int64_t)u;
		return true;
	case 'k':
		l->kind = REC_LOC_CONST;
		return signed_text(s + 1, n - 1, false, &l->value, bad, "constant");
	case 'x':
		if (n < 3 || (n - 1) % 2)
			break;
		for (size_t i = 1; i < n; i++)
			if (hex_digit(s[i]) < 0)
				goto unknown;
		l->bytes = malloc((n - 1) / 2);
		if (!l->bytes) {
			say(bad, "out of memory");
			return false;
		}
		l->kind = REC_LOC_EXPR;
		l->len = (uint32_t)((n - 1) / 2);
		for (uint32_t i = 0; i < l->len; i++)
			l->bytes[i] = (uint8_t)(hex_digit(s[1 + 2 * i]) << 4 |
						hex_digit(s[2 + 2 * i]));
		return true;
	}
unknown:
	say(bad, "location \"%s\" is not fb+N, rN, bN+V, aADDR, kV, xHEX or "
		 "a FROM..TO@LOC;... list", util_show(sb, s, n));
	return false;
}

/* FROM..TO into two pc offsets with from < to. */
static bool pc_range(const char *s, size_t n, uint64_t *from, uint64_t *to,
		     char bad[BAD_MAX])
{
	char sb[UTIL_SHOW_MAX];
	const char *dots = NULL;
	for (size_t i = 0; i + 1 < n && !dots; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			dots = s + i;
	if (!dots) {
		say(bad, "range \"%s\" is not FROM..TO", util_show(sb, s, n));
		return false;
	}
	struct part a = { s, (size_t)(dots - s) };
	struct part b = { dots + 2, n - a.n - 2 };
	if (!part_u(&a, "range start", UINT64_MAX, from, bad) ||
	    !part_u(&b, "range end", UINT64_MAX, to, bad))
		return false;
	if (*from >= *to) {
		say(bad, "range \"%s\" is empty (FROM must be below TO)",
			 util_show(sb, s, n));
		return false;
	}
	return true;
}

/* Any LOC: a list when it holds '@', else one of the simple forms. On failure l holds
 * whatever was allocated, for rec_loc_free. */
static bool loc_parse(const char *s, size_t n, struct rec_loc *l, char bad[BAD_MAX])
{
	if (!memchr(s, '@', n))
		return loc_simple(s, n, true, l, bad);
	memset(l, 0, sizeof *l);
	size_t count = 1;
	for (size_t i = 0; i < n; i++)
		count += s[i] == ';';
	if (count > UINT32_MAX || !(l->entries = calloc(count, sizeof *l->entries))) {
		say(bad, "out of memory");
		return false;
	}
	l->kind = REC_LOC_LIST;
	l->len = (uint32_t)count;
	const char *e = s + n;
	char eb[BAD_MAX], sb[UTIL_SHOW_MAX];
	for (size_t i = 0; i < count; i++) {
		const char *end = memchr(s, ';', (size_t)(e - s));
		end = end ? end : e;
		struct rec_loc_entry *en = &l->entries[i];
		const char *at = memchr(s, '@', (size_t)(end - s));
		util_show(sb, s, (size_t)(end - s));
		if (!at) {
			say(bad, "list entry %zu \"%s\" is not FROM..TO@LOC", i + 1,
				 sb);
			return false;
		}
		if (!pc_range(s, (size_t)(at - s), &en->from, &en->to, eb) ||
		    !loc_simple(at + 1, (size_t)(end - at - 1), false, &en->loc, eb)) {
			say(bad, "list entry %zu \"%s\": %s", i + 1, sb, eb);
			return false;
		}
		if (i && en->from < l->entries[i - 1].to) {
			say(bad, "list entry %zu \"%s\" starts before the previous "
				 "one ends (ascending, not overlapping)", i + 1, sb);
			return false;
		}
		s = end + (end < e);
	}
	return true;
}

/* A whole list value: counts the entries, allocates them zeroed (so a failure part way
 * leaves what the record's free can undo) and parses each with one. */
typedef bool (*entry_fn)(struct parse *p, size_t idx, const char *s, const char *e,
			 void *item, char bad[BAD_MAX]);

static int parse_list(struct parse *p, const struct field *lf, const char *s, size_t size,
		      void **arr, uint32_t *count, entry_fn one)
{
	size_t n = list_count(s);
	if (n > UINT32_MAX)
		return fail_at(p, lf, "too many entries");
	if (!n)
		return 0;
	*arr = calloc(n, size);
	if (!*arr)
		return nomem(p);
	*count = (uint32_t)n;
	char bad[BAD_MAX] = "", sb[UTIL_SHOW_MAX];
	for (size_t i = 0; i < n; i++) {
		const char *e = entry_end(s);
		if (!one(p, i + 1, s, e, (char *)*arr + i * size, bad)) {
			if (strcmp(bad, "out of memory") == 0)
				return nomem(p);
			return fail_at(p, lf, "entry %zu \"%s\": %s", i + 1,
				       util_show(sb, s, (size_t)(e - s)), bad);
		}
		s = *e ? e + 1 : e;
	}
	return 0;
}

static bool name_part(const struct part *pt, bool empty_ok, char **out, char bad[BAD_MAX])
{
	if (!pt->n && !empty_ok) {
		say(bad, "the name is empty");
		return false;
	}
	*out = strndup(pt->s, pt->n);
	if (!*out)
		say(bad, "out of memory");
	return *out != NULL;
}

static bool loc_part(const struct part *pt, struct rec_loc *l, char bad[BAD_MAX])
{
	char eb[BAD_MAX];
	if (loc_parse(pt->s, pt->n, l, eb))
		return true;
	memcpy(bad, eb, BAD_MAX);
	return false;
}

/* NAME:TYPEID[:LOC[:LINE]] */
static bool param_entry(struct parse *p, size_t idx, const char *s, const char *e,
			void *item, char bad[BAD_MAX])
{
	(void)p;
	(void)idx;
	struct rec_param *pa = item;
	struct part pt[4];
	unsigned k = split_parts(s, e, ':', pt, 4);
	uint64_t v = 0;
	if (k < 2 || k > 4) {
		say(bad, "expected NAME:TYPEID[:LOC[:LINE]]");
		return false;
	}
	if (!part_type(&pt[1], "parameter", &pa->type, bad) ||
	    (k > 2 && !loc_part(&pt[2], &pa->loc, bad)) ||
	    (k > 3 && !part_u(&pt[3], "line", UINT32_MAX, &v, bad)))
		return false;
	pa->line = (uint32_t)v;
	return name_part(&pt[0], true, &pa->name, bad);
}

/* NAME:TYPEID:LOC[:LINE[:BLOCK]] */
static bool var_entry(struct parse *p, size_t idx, const char *s, const char *e,
		      void *item, char bad[BAD_MAX])
{
	(void)p;
	(void)idx;
	struct rec_var *va = item;
	struct part pt[5];
	unsigned k = split_parts(s, e, ':', pt, 5);
	uint64_t line = 0, block = 0;
	if (k < 3 || k > 5) {
		say(bad, "expected NAME:TYPEID:LOC[:LINE[:BLOCK]]");
		return false;
	}
	if (!part_type(&pt[1], NULL, &va->type, bad) || !loc_part(&pt[2], &va->loc, bad) ||
	    (k > 3 && !part_u(&pt[3], "line", UINT32_MAX, &line, bad)) ||
	    (k > 4 && !part_u(&pt[4], "block", UINT32_MAX, &block, bad)))
		return false;
	va->line = (uint32_t)line;
	va->block = (uint32_t)block;
	return name_part(&pt[0], false, &va->name, bad);
}

/* RANGES[:PARENT[:ORIGIN:CALLFILE:CALLLINE[:CALLCOL]]] */
static bool block_entry(struct parse *p, size_t idx, const char *s, const char *e,
			void *item, char bad[BAD_MAX])
{
	(void)p;
	struct rec_block *bl = item;
	struct part pt[6];
	unsigned k = split_parts(s, e, ':', pt, 6);
	uint64_t v[6] = { 0 };
	if (k > 6 || k == 3 || k == 4) {
		say(bad, "expected RANGES[:PARENT[:ORIGIN:CALLFILE:CALLLINE"
			 "[:CALLCOL]]]");
		return false;
	}
	if ((k > 1 && !part_u(&pt[1], "parent", UINT32_MAX, &v[1], bad)) ||
	    (k > 2 && (!part_u(&pt[2], "origin", UINT64_MAX, &v[2], bad) ||
		       !part_u(&pt[3], "call file", UINT64_MAX, &v[3], bad) ||
		       !part_u(&pt[4], "call line", UINT32_MAX, &v[4], bad))) ||
	    (k > 5 && !part_u(&pt[5], "call column", UINT32_MAX, &v[5], bad)))
		return false;
	if (v[1] >= idx) {
		say(bad, "parent %" PRIu64 " is not an earlier block", v[1]);
		return false;
	}
	if (k > 2 && (!v[2] || !v[3])) {
		say(bad, "%s id 0 is reserved (it means none)",
			 v[2] ? "call file" : "origin");
		return false;
	}
	bl->parent = (uint32_t)v[1];
	bl->origin = v[2];
	bl->call_file = v[3];
	bl->call_line = (uint32_t)v[4];
	bl->call_col = (uint32_t)v[5];
	struct part r = pt[0];
	size_t n = 1;
	for (size_t i = 0; i < r.n; i++)
		n += r.s[i] == '+';
	if (!(bl->ranges = calloc(n, sizeof *bl->ranges))) {
		say(bad, "out of memory");
		return false;
	}
	bl->nranges = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		const char *end = memchr(r.s, '+', r.n);
		size_t len = end ? (size_t)(end - r.s) : r.n;
		if (!pc_range(r.s, len, &bl->ranges[i].from, &bl->ranges[i].to, bad))
			return false;
		r.s += len + (end != NULL);
		r.n -= len + (end != NULL);
	}
	return true;
}

/* NAME:TYPEID:OFF[:BITS:BITOFF] */
static bool member_entry(struct parse *p, size_t idx, const char *s, const char *e,
			 void *item, char bad[BAD_MAX])
{
	(void)p;
	(void)idx;
	struct rec_member *m = item;
	struct part pt[5];
	unsigned k = split_parts(s, e, ':', pt, 5);
	uint64_t bits = 0, bitoff = 0;
	if (k != 3 && k != 5) {
		say(bad, "expected NAME:TYPEID:OFF or NAME:TYPEID:OFF:BITS:BITOFF");
		return false;
	}
	if (!part_type(&pt[1], "member", &m->type, bad) ||
	    !part_u(&pt[2], "offset", UINT64_MAX, &m->off, bad) ||
	    (k == 5 && (!part_u(&pt[3], "bit width", UINT32_MAX, &bits, bad) ||
			!part_u(&pt[4], "bit offset", UINT32_MAX, &bitoff, bad))))
		return false;
	if (k == 5 && !bits) {
		say(bad, "a bit-field is at least 1 bit wide");
		return false;
	}
	m->bits = (uint32_t)bits;
	m->bitoff = (uint32_t)bitoff;
	return name_part(&pt[0], true, &m->name, bad);
}

/* VALUE: -2^127 .. 2^128-1, decimal or 0x hex, as 128-bit two's complement. */
static bool value128(const struct part *pt, struct rec_enumerator *en, char bad[BAD_MAX])
{
	char sb[UTIL_SHOW_MAX];
	const char *s = pt->s;
	size_t n = pt->n, i = 0;
	bool neg = n && s[0] == '-';
	i += neg;
	unsigned base = 10;
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	unsigned __int128 v = 0, max = ~(unsigned __int128)0;
	bool ok = i < n, big = false;
	for (; ok && i < n; i++) {
		int d = hex_digit(s[i]);
		if (d < 0 || (unsigned)d >= base)
			ok = false;
		else if (v > (max - (unsigned)d) / base)
			big = true;
		else
			v = v * base + (unsigned)d;
	}
	util_show(sb, s, n);
	if (!ok) {
		say(bad, "value \"%s\" is not a number", sb);
		return false;
	}
	if (big || (neg && v > (unsigned __int128)1 << 127)) {
		say(bad, "value \"%s\" is outside -2^127 .. 2^128-1", sb);
		return false;
	}
	if (neg)
		v = -v;
	en->lo = (uint64_t)v;
	en->hi = (uint64_t)(v >> 64);
	en->neg = neg && v != 0;
	return true;
}

/* NAME:VALUE */
static bool enumerator_entry(struct parse *p, size_t idx, const char *s, const char *e,
			     void *item, char bad[BAD_MAX])
{
	(void)p;
	(void)idx;
	struct rec_enumerator *en = item;
	struct part pt[2];
	if (split_parts(s, e, ':', pt, 2) != 2) {
		say(bad, "expected NAME:VALUE");
		return false;
	}
	return value128(&pt[1], en, bad) && name_part(&pt[0], false, &en->name, bad);
}

/* N, or "-" for the first dimension's unknown bound. */
static bool dim_entry(struct parse *p, size_t idx, const char *s, const char *e,
		      void *item, char bad[BAD_MAX])
{
	(void)p;
	struct part pt = { s, (size_t)(e - s) };
	uint64_t *d = item;
	if (pt.n == 1 && s[0] == '-') {
		if (idx != 1) {
			say(bad, "only the first dimension may be unknown (\"-\")");
			return false;
		}
		*d = REC_DIM_UNKNOWN;
		return true;
	}
	return part_u(&pt, "count", REC_DIM_UNKNOWN - 1, d, bad);
}

static bool typeid_entry(struct parse *p, size_t idx, const char *s, const char *e,
			 void *item, char bad[BAD_MAX])
{
	(void)p;
	(void)idx;
	struct part pt = { s, (size_t)(e - s) };
	return part_type(&pt, "parameter", item, bad);
}

static int parse_params(struct parse *p, const struct field *pf, const char *s,
			struct rec_fn *f)
{
	return parse_list(p, pf, s, sizeof *f->params, (void **)&f->params, &f->nparams,
			  param_entry);
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

static int parse_row(struct parse *p, const struct field *rf, size_t idx, const char *s,
		     const char *e, struct rec_row *row)
{
	/* Defaults of the optional parts: column 0, flags "s", the function's own file. */
	uint64_t v[ROW_NPARTS] = { [ROW_FLAGS] = REC_ROW_STMT };
	char sb[UTIL_SHOW_MAX], pb[UTIL_SHOW_MAX], why[WHY_MAX];
	util_show(sb, s, (size_t)(e - s));
	unsigned part = 0;
	for (const char *b = s;; part++) {
		const char *c = memchr(b, ':', (size_t)(e - b));
		const char *pe = c ? c : e;
		if (part == ROW_NPARTS)
			return fail_at(p, rf, "entry %zu \"%s\": too many parts (at most "
					"OFF:LINE:COL:FLAGS:FILEID)", idx, sb);
		size_t len = (size_t)(pe - b);
		if (part == ROW_FLAGS) {
			char bad;
			if (!row_flag_bits(b, len, &v[ROW_FLAGS], &bad))
				return fail_at(p, rf, "entry %zu \"%s\": flag \"%s\" is not "
						"one of s (is_stmt), p (prologue_end), e "
						"(epilogue_begin)", idx, sb, util_show(pb, &bad, 1));
		} else if (!num_u(b, len, row_parts[part].hi, &v[part], why)) {
			return fail_at(p, rf, "entry %zu \"%s\": %s \"%s\" %s", idx, sb,
					row_parts[part].what, util_show(pb, b, len), why);
		}
		if (!c)
			break;
		b = c + 1;
	}
	/* part is now the index of the last part: OFF alone has no LINE. */
	if (part < ROW_LINE)
		return fail_at(p, rf, "entry %zu \"%s\": expected "
				"OFF:LINE[:COL[:FLAGS[:FILEID]]]", idx, sb);
	row->off = (uint32_t)v[ROW_OFF];
	row->line = (int32_t)v[ROW_LINE];
	row->col = (uint32_t)v[ROW_COL];
	row->flags = (uint32_t)v[ROW_FLAGS];
	row->file = v[ROW_FILE];
	return 0;
}

static int parse_rows(struct parse *p, const struct field *rf, const char *s,
		      struct rec_fn *f)
{
	size_t n = list_count(s);
	if (n > UINT32_MAX)
		return fail_at(p, rf, "too many entries");
	if (!n)
		return 0;
	f->rows = calloc(n, sizeof *f->rows);
	if (!f->rows)
		return nomem(p);
	f->nrows = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		const char *e = entry_end(s);
		int rc = parse_row(p, rf, i + 1, s, e, &f->rows[i]);
		if (rc)
			return rc;
		s = *e ? e + 1 : e;
	}
	return 0;
}

/* Members. The table's checks guarantee each pointer's type. */

static void *member(const void *base, const struct field *f)
{
	return (char *)base + f->off;
}

static uint64_t get_num(const void *base, const struct field *f)
{
	const void *at = member(base, f);
	switch (f->store) {
	case ST_U32: return *(const uint32_t *)at;
	case ST_I64: return (uint64_t)*(const int64_t *)at;
	default: return *(const uint64_t *)at;
	}
}

static void set_num(void *base, const struct field *f, uint64_t v)
{
	void *at = member(base, f);
	switch (f->store) {
	case ST_U32: *(uint32_t *)at = (uint32_t)v; break;
	case ST_I64: *(int64_t *)at = (int64_t)v; break;
	default: *(uint64_t *)at = v; break;
	}
}

/* A number as the protocol spells it back: hex for HEX fields, decimal otherwise. */
static void num_text(char out[24], const void *base, const struct field *f)
{
	uint64_t v = get_num(base, f);
	if (f->dec == D_HEX)
		snprintf(out, 24, "0x%" PRIx64, v);
	else if (f->store == ST_I64)
		snprintf(out, 24, "%" PRId64, (int64_t)v);
	else
		snprintf(out, 24, "%" PRIu64, v);
}

static bool in_mask(uint32_t mask, uint64_t v)
{
	return v < 32 && (mask >> v & 1);
}

/* Decoders: each converts one present slot into its member, or writes the message. */

static int decode_name(struct parse *p, const struct field *f, const char *s, void *base)
{
	char sb[UTIL_SHOW_MAX];
	size_t n = strlen(s);
	if (f->dec == D_SEGNAME && (!n || n > SEGNAME_MAX))
		return fail_at(p, f, "\"%s\" must be 1 to %d bytes long", util_show(sb, s, n),
			       SEGNAME_MAX);
	if (f->dec == D_DIRNAME) {
		/* The name becomes a directory in the mount. */
		if (strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
			return fail_at(p, f, "\"%s\" cannot name a directory (no '/', not . "
				       "or ..)", util_show(sb, s, n));
		for (const char *c = s; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return fail_at(p, f, "\"%s\" contains a control character",
					       util_show(sb, s, n));
	}
	if (!n)
		return fail_at(p, f, "must not be empty");
	char *copy = strdup(s);
	if (!copy)
		return nomem(p);
	*(char **)member(base, f) = copy;
	return 0;
}

static int decode_enum(struct parse *p, const struct field *f, const char *s, void *base)
{
	for (size_t i = 0; i < f->nvalues; i++) {
		if (strcmp(f->values[i].name, s) == 0) {
			set_num(base, f, f->values[i].value);
			return 0;
		}
	}
	char list[128] = "", sb[UTIL_SHOW_MAX];
	for (size_t i = 0; i < f->nvalues; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", f->values[i].name);
	}
	return fail_at(p, f, "\"%s\" is not one of %s", util_show(sb, s, strlen(s)), list);
}

/* DW_LANG codes by the names C compilers know them by; any other code as a number. */
static const struct named langs[] = {
	{ "c89", 0x1 },
	{ "c99", 0xc },
	{ "c11", 0x1d },
	{ "c17", 0x2c },
};

static int decode_lang(struct parse *p, const struct field *f, const char *s, void *base)
{
	char why[WHY_MAX], sb[UTIL_SHOW_MAX];
	uint64_t v;
	for (size_t i = 0; i < COUNT(langs); i++) {
		if (strcmp(langs[i].name, s) == 0) {
			set_num(base, f, langs[i].value);
			return 0;
		}
	}
	if (!num_u(s, strlen(s), 0xffff, &v, why))
		return fail_at(p, f, "\"%s\" is not c89, c99, c11, c17 or a DWARF language "
			       "code (%s)", util_show(sb, s, strlen(s)), why);
	if (!v)
		return fail_at(p, f, "0 is no DWARF language code");
	set_num(base, f, v);
	return 0;
}

/* Mach-O vm_prot_t: a number, or the "r-x" spelling vmmap and otool print. */
static int decode_prot(struct parse *p, const struct field *f, const char *s, void *base)
{
	static const char letters[3] = { 'r', 'w', 'x' };
	uint64_t v = 0;
	char why[WHY_MAX], sb[UTIL_SHOW_MAX];
	bool ok = strlen(s) == 3;
	for (unsigned i = 0; ok && i < 3; i++) {
		if (s[i] == letters[i])
			v |= 1u << i;
		else if (s[i] != '-')
			ok = false;
	}
	if (!ok && !num_u(s, strlen(s), 7, &v, why))
		return fail_at(p, f, "\"%s\" is not a protection (a number 0 to 7 or a "
			       "string like \"r-x\")", util_show(sb, s, strlen(s)));
	set_num(base, f, v);
	return 0;
}

static int decode(struct parse *p, const struct field *f, const char *s, void *base)
{
	char why[WHY_MAX], sb[UTIL_SHOW_MAX];
	size_t n = strlen(s);
	int rc = 0;
	switch (f->dec) {
	case D_ID:
	case D_HEX:
	case D_UDEC: {
		uint64_t v;
		if (!num_u(s, n, f->dec == D_UDEC ? f->hi : UINT64_MAX, &v, why))
			return fail_at(p, f, "\"%s\" %s", util_show(sb, s, n), why);
		if (f->dec == D_ID && v == 0)
			return fail_at(p, f, "id 0 is reserved (it means none)");
		set_num(base, f, v);
		break;
	}
	case D_SDEC: {
		int64_t v;
		if (!num_s(s, n, f->lo, (int64_t)f->hi, &v, why))
			return fail_at(p, f, "\"%s\" %s", util_show(sb, s, n), why);
		set_num(base, f, (uint64_t)v);
		break;
	}
	case D_NAME:
	case D_SEGNAME:
	case D_DIRNAME:
		rc = decode_name(p, f, s, base);
		break;
	case D_PROT:
		rc = decode_prot(p, f, s, base);
		break;
	case D_ENUM:
		rc = decode_enum(p, f, s, base);
		break;
	case D_UUID:
		if (macho_uuid_parse(s, member(base, f)) < 0)
			return fail_at(p, f, "\"%s\" is not a UUID (8-4-4-4-12 hex digits)",
				       util_show(sb, s, n));
		break;
	case D_ARCH: {
		/* cpusubtype follows cputype (checked with the table). */
		uint32_t *type = member(base, f);
		uint32_t *sub = (uint32_t *)((char *)base + f->off + sizeof *type);
		if (macho_arch_parse(s, type, sub) < 0)
			return fail_at(p, f, "\"%s\" is not x86_64 or arm64", util_show(sb, s, n));
		break;
	}
	case D_PARAMS:
		rc = parse_params(p, f, s, base);
		break;
	case D_ROWS:
		rc = parse_rows(p, f, s, base);
		break;
	case D_VARS: {
		struct rec_fn *fn = base;
		rc = parse_list(p, f, s, sizeof *fn->vars, (void **)&fn->vars, &fn->nvars,
				var_entry);
		break;
	}
	case D_BLOCKS: {
		struct rec_fn *fn = base;
		rc = parse_list(p, f, s, sizeof *fn->blocks, (void **)&fn->blocks,
				&fn->nblocks, block_entry);
		break;
	}
	case D_MEMBERS: {
		struct rec_type *t = base;
		rc = parse_list(p, f, s, sizeof *t->members, (void **)&t->members,
				&t->nmembers, member_entry);
		break;
	}
	case D_ENUMERATORS: {
		struct rec_type *t = base;
		rc = parse_list(p, f, s, sizeof *t->enumerators, (void **)&t->enumerators,
				&t->nenumerators, enumerator_entry);
		break;
	}
	case D_DIMS: {
		struct rec_type *t = base;
		rc = parse_list(p, f, s, sizeof *t->dims, (void **)&t->dims, &t->ndims,
				dim_entry);
		break;
	}
	case D_TYPEIDS: {
		struct rec_type *t = base;
		rc = parse_list(p, f, s, sizeof *t->params, (void **)&t->params, &t->nparams,
				typeid_entry);
		break;
	}
	case D_LOC: {
		char bad[BAD_MAX];
		if (!loc_parse(s, n, member(base, f), bad))
			rc = strcmp(bad, "out of memory") == 0 ? nomem(p) :
				fail_at(p, f, "%s", bad);
		break;
	}
	case D_LANG:
		rc = decode_lang(p, f, s, base);
		break;
	case D_BOOL:
		*(bool *)member(base, f) = true;
		break;
	}
	if (rc == 0 && f->has)
		*(bool *)((char *)base + f->has - 1) = true;
	return rc;
}

/* The index of the command's row spelled key, or -1. */
static int field_index(const struct cmd_spec *spec, const char *key)
{
	for (unsigned i = 0; spec->fields[i].key; i++)
		if (strcmp(spec->fields[i].key, key) == 0)
			return (int)i;
	return -1;
}

/* Whether the line gave the FLAG that lifts f's need. */
static bool waived(const struct parse *p, const struct field *f)
{
	int i = f->waiver ? field_index(p->spec, f->waiver) : -1;
	return i >= 0 && p->val[i];
}

/* Whether a decoded payload has the FLAG that lifts f's need. */
static bool waived_in(const struct cmd_spec *spec, const struct field *f, const void *base)
{
	int i = f->waiver ? field_index(spec, f->waiver) : -1;
	return i >= 0 && *(const bool *)member(base, &spec->fields[i]);
}

/* The WHEN fields against the value of the SELECT field sel: first the keys that only
 * some values allow and this one needs, then the keys it does not allow, then the keys
 * every value allows and this one needs. */
static int check_selected(struct parse *p, const struct field *sel, const void *base)
{
	const struct field *fs = p->spec->fields;
	uint64_t v = get_num(base, sel);
	const char *word = named_name(sel->values, sel->nvalues, (unsigned)v);
	for (unsigned pass = 0; pass < 3; pass++) {
		for (unsigned i = 0; fs[i].key; i++) {
			const struct field *f = &fs[i];
			if (f->pres != P_WHEN)
				continue;
			bool everywhere = f->applies == ALL;
			if (pass == 1 && p->val[i] && !in_mask(f->applies, v))
				return fail_at(p, f, "does not apply to %s=%s", sel->key, word);
			if (pass != 1 && everywhere == (pass == 2) && !p->val[i] &&
			    in_mask(f->needs, v) && !waived(p, f))
				return fail(p, "missing field \"%s\" (%s=%s needs it)", f->key,
					    sel->key, word);
		}
	}
	return 0;
}

/* The rule of a type that ties fields to one another rather than to the kind. */
static int check_type(struct parse *p, const struct rec_type *t)
{
	const struct field *fs = p->spec->fields;
	const char *word = named_name(type_kinds, COUNT(type_kinds), t->kind);
	bool aggregate = t->kind == REC_TYPE_STRUCT || t->kind == REC_TYPE_UNION;
	if (t->decl && !aggregate)
		return fail_at(p, &fs[FIELD_TYPE_decl - FIELDS_TYPE - 1],
			       "does not apply to kind=%s (only struct and union)", word);
	if (t->decl && !t->name)
		return fail(p, "missing field \"name\" (a decl type needs it)");
	if (t->kind != REC_TYPE_FUNC && (t->variadic || t->unprototyped))
		return fail_at(p, &fs[t->variadic ? FIELD_TYPE_variadic - FIELDS_TYPE - 1 :
				       FIELD_TYPE_unprototyped - FIELDS_TYPE - 1],
			       "does not apply to kind=%s", word);
	if (t->variadic && t->unprototyped)
		return fail(p, "\"variadic\" and \"unprototyped\" exclude each other");
	if (t->line && !t->file)
		return fail(p, "field \"line\" needs field \"file\"");
	if (t->kind == REC_TYPE_ARRAY && !t->ndims)
		return fail_at(p, &fs[FIELD_TYPE_dims - FIELDS_TYPE - 1],
			       "must list at least one dimension");
	return 0;
}

static int check_fn(struct parse *p, const struct rec_fn *f)
{
	const struct field *fs = p->spec->fields;
	static const unsigned codeless[] = {
		FIELD_FN_low_pc - FIELDS_FN - 1,
		FIELD_FN_size - FIELDS_FN - 1,
		FIELD_FN_rows - FIELDS_FN - 1,
	};
	for (size_t i = 0; f->abstract && i < COUNT(codeless); i++)
		if (p->val[codeless[i]])
			return fail_at(p, &fs[codeless[i]], "an abstract fn has no code, so "
				       "no low_pc, size or rows");
	if (f->variadic && f->unprototyped)
		return fail(p, "\"variadic\" and \"unprototyped\" exclude each other");
	return 0;
}

/* Fills c's payload from the slots, in row order. */
static int decode_fields(struct parse *p, struct cmd *c)
{
	const struct cmd_spec *spec = p->spec;
	const struct field *fs = spec->fields;
	if (spec->make(c))
		return nomem(p);
	void *base = spec->payload(c);
	for (unsigned i = 0; fs[i].key; i++) {
		int rc = p->val[i] ? decode(p, &fs[i], p->val[i], base) : 0;
		if (rc == 0 && fs[i].pres == P_SELECT)
			rc = check_selected(p, &fs[i], base);
		if (rc)
			return rc;
	}
	int rc = 0;
	if (spec->kind == CMD_TYPE)
		rc = check_type(p, base);
	else if (spec->kind == CMD_FN)
		rc = check_fn(p, base);
	if (rc)
		return rc;
	/* A range's bounds, once every field is known to be well-formed. */
	for (unsigned i = 0; fs[i].key; i++) {
		if (fs[i].pres != P_UPPER || i == 0)
			continue;
		const struct field *lo = &fs[i - 1], *hi = &fs[i];
		uint64_t a = get_num(base, lo), b = get_num(base, hi);
		bool below = hi->store == ST_I64 ? (int64_t)a < (int64_t)b : a < b;
		if (!below) {
			char at[24], bt[24];
			num_text(at, base, lo);
			num_text(bt, base, hi);
			return fail(p, "%s (%s) must be below %s (%s)", lo->key, at, hi->key, bt);
		}
	}
	return 0;
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
			char sb[UTIL_SHOW_MAX];
			return fail(p, "%sunknown escape \"\\%s\" (column %zu; use \\\\ \\\" \\n "
				    "\\t \\r or \\xHH)", what, util_show(sb, r, 1), ecol);
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
	char what[64] = "", sb[UTIL_SHOW_MAX];
	int rc;
	t->key = NULL;
	t->quoted = *s == '"';
	if (t->quoted) {
		if ((rc = unquote(p, buf, s, &e, "")))
			return rc;
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
			snprintf(what, sizeof what, "field \"%s\": ", util_show(sb, t->key, strlen(t->key)));
			t->quoted = *s == '"';
			if (t->quoted) {
				if ((rc = unquote(p, buf, s, &e, what)))
					return rc;
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

/* Sorts one token into its field's slot. */
static int place(struct parse *p, const struct token *t)
{
	const struct field *fs = p->spec->fields;
	char sb[UTIL_SHOW_MAX];
	if (t->key) {
		for (unsigned i = 0; fs[i].key; i++) {
			if (fs[i].pres == P_POS || fs[i].pres == P_FLAG ||
			    strcmp(fs[i].key, t->key) != 0)
				continue;
			if (p->val[i])
				return fail(p, "field \"%s\" given twice", t->key);
			p->val[i] = t->val;
			return 0;
		}
		util_show(sb, t->key, strlen(t->key));
		for (unsigned i = 0; fs[i].key; i++)
			if (fs[i].pres == P_FLAG && strcmp(fs[i].key, t->key) == 0)
				return fail(p, "\"%s\" is a flag and takes no value", sb);
		return fail(p, "unknown field \"%s\"", sb);
	}
	/* A word fills the next positional slot while there is one. */
	for (unsigned i = 0, n = 0; fs[i].key; i++) {
		if (fs[i].pres != P_POS || n++ != p->npos)
			continue;
		p->val[i] = t->val;
		p->npos++;
		return 0;
	}
	for (unsigned i = 0; !t->quoted && fs[i].key; i++) {
		if (fs[i].pres != P_FLAG || strcmp(fs[i].key, t->val) != 0)
			continue;
		if (p->val[i])
			return fail(p, "\"%s\" given twice", fs[i].key);
		p->val[i] = t->val;
		return 0;
	}
	return fail(p, "unexpected word \"%s\"", util_show(sb, t->val, strlen(t->val)));
}

static int parse_line(struct parse *p, char *buf, size_t len, struct cmd *c)
{
	size_t pos = 0;
	char sb[UTIL_SHOW_MAX];
	for (;;) {
		while (pos < len && is_blank(buf[pos]))
			pos++;
		if (pos >= len)
			break;
		struct token t = {0};
		int rc = next_token(p, buf, &pos, &t);
		if (rc)
			return rc;
		if (p->spec) {
			if ((rc = place(p, &t)))
				return rc;
			continue;
		}
		if (t.key || t.quoted)
			return fail(p, "a line must start with a command word");
		for (size_t i = 0; i < COUNT(specs) && !p->spec; i++)
			if (strcmp(specs[i].word, t.val) == 0)
				p->spec = &specs[i];
		if (!p->spec)
			return fail(p, "unknown command \"%s\"", util_show(sb, t.val, strlen(t.val)));
	}
	const struct field *fs = p->spec->fields;
	for (unsigned i = 0; fs[i].key; i++) {
		if (p->val[i])
			continue;
		if (fs[i].pres == P_POS)
			return fail(p, "missing %s", fs[i].key);
		if (fs[i].pres == P_REQ || fs[i].pres == P_SELECT || fs[i].pres == P_UPPER ||
		    (fs[i].pres == P_UNLESS && !waived(p, &fs[i])))
			return fail(p, "missing field \"%s\"", fs[i].key);
	}
	c->kind = p->spec->kind;
	return decode_fields(p, c);
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

/* The strings an INLINE payload owns (a record frees its own). */
static void free_strings(const struct cmd_spec *spec, void *base)
{
	for (const struct field *f = spec->fields; f->key; f++)
		if (f->store == ST_STR)
			free(*(char **)member(base, f));
}

void cmd_free(struct cmd *c)
{
	const struct cmd_spec *spec = spec_of(c->kind);
	if (spec)
		spec->drop(spec, c);
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

/* A list value is written whole to a scratch buffer, then quoted as a whole when a name
 * in it needs it; ':' and ',' never do. Names that contain ',' or ':' cannot be written
 * (the parser never makes one). */
static void put_scratch(struct enc_buf *b, struct enc_buf *tmp)
{
	enc_buf_u8(tmp, 0);
	if (enc_buf_error(tmp))
		b->failed = 1;
	else
		cmd_format_value(b, (const char *)tmp->data);
	enc_buf_free(tmp);
}

static void put_loc(struct enc_buf *b, const struct rec_loc *l)
{
	switch (l->kind) {
	case REC_LOC_NONE:
		break;
	case REC_LOC_FBREG:
		enc_buf_printf(b, "fb%+" PRId64, l->value);
		break;
	case REC_LOC_REG:
		enc_buf_printf(b, "r%" PRIu32, l->reg);
		break;
	case REC_LOC_BREG:
		enc_buf_printf(b, "b%" PRIu32 "%+" PRId64, l->reg, l->value);
		break;
	case REC_LOC_ADDR:
		enc_buf_printf(b, "a0x%" PRIx64, (uint64_t)l->value);
		break;
	case REC_LOC_CONST:
		enc_buf_printf(b, "k%" PRId64, l->value);
		break;
	case REC_LOC_EXPR:
		enc_buf_u8(b, 'x');
		for (uint32_t i = 0; i < l->len; i++)
			enc_buf_printf(b, "%02x", l->bytes[i]);
		break;
	case REC_LOC_LIST:
		for (uint32_t i = 0; i < l->len; i++) {
			const struct rec_loc_entry *en = &l->entries[i];
			enc_buf_printf(b, "%s0x%" PRIx64 "..0x%" PRIx64 "@", i ? ";" : "",
				       en->from, en->to);
			put_loc(b, &en->loc);
		}
		break;
	}
}

static void put_params(struct enc_buf *b, const struct rec_fn *f)
{
	struct enc_buf t;
	enc_buf_init(&t);
	for (uint32_t i = 0; i < f->nparams; i++) {
		const struct rec_param *pa = &f->params[i];
		enc_buf_printf(&t, "%s%s:%" PRIu64, i ? "," : "", pa->name, pa->type);
		if (pa->loc.kind != REC_LOC_NONE || pa->line) {
			enc_buf_u8(&t, ':');
			put_loc(&t, &pa->loc);
		}
		if (pa->line)
			enc_buf_printf(&t, ":%" PRIu32, pa->line);
	}
	put_scratch(b, &t);
}

static void put_vars(struct enc_buf *b, const struct rec_fn *f)
{
	struct enc_buf t;
	enc_buf_init(&t);
	for (uint32_t i = 0; i < f->nvars; i++) {
		const struct rec_var *v = &f->vars[i];
		enc_buf_printf(&t, "%s%s:%" PRIu64 ":", i ? "," : "", v->name, v->type);
		put_loc(&t, &v->loc);
		if (v->line || v->block)
			enc_buf_printf(&t, ":%" PRIu32, v->line);
		if (v->block)
			enc_buf_printf(&t, ":%" PRIu32, v->block);
	}
	put_scratch(b, &t);
}

static void put_blocks(struct enc_buf *b, const struct rec_fn *f)
{
	for (uint32_t i = 0; i < f->nblocks; i++) {
		const struct rec_block *bl = &f->blocks[i];
		if (i)
			enc_buf_u8(b, ',');
		for (uint32_t r = 0; r < bl->nranges; r++)
			enc_buf_printf(b, "%s0x%" PRIx64 "..0x%" PRIx64, r ? "+" : "",
				       bl->ranges[r].from, bl->ranges[r].to);
		if (bl->parent || bl->origin)
			enc_buf_printf(b, ":%" PRIu32, bl->parent);
		if (bl->origin)
			enc_buf_printf(b, ":%" PRIu64 ":%" PRIu64 ":%" PRIu32, bl->origin,
				       bl->call_file, bl->call_line);
		if (bl->origin && bl->call_col)
			enc_buf_printf(b, ":%" PRIu32, bl->call_col);
	}
}

static void put_members(struct enc_buf *b, const struct rec_type *ty)
{
	struct enc_buf t;
	enc_buf_init(&t);
	for (uint32_t i = 0; i < ty->nmembers; i++) {
		const struct rec_member *m = &ty->members[i];
		enc_buf_printf(&t, "%s%s:%" PRIu64 ":%" PRIu64, i ? "," : "", m->name, m->type,
			       m->off);
		if (m->bits)
			enc_buf_printf(&t, ":%" PRIu32 ":%" PRIu32, m->bits, m->bitoff);
	}
	put_scratch(b, &t);
}

/* Decimal where the value fits 64 bits, hex (with its sign) beyond. */
static void put_value128(struct enc_buf *b, const struct rec_enumerator *en)
{
	unsigned __int128 v = (unsigned __int128)en->hi << 64 | en->lo;
	if (!en->neg && !en->hi) {
		enc_buf_printf(b, "%" PRIu64, en->lo);
		return;
	}
	if (en->neg && en->hi == UINT64_MAX && en->lo >> 63) {
		enc_buf_printf(b, "%" PRId64, (int64_t)en->lo);
		return;
	}
	unsigned __int128 mag = en->neg ? -v : v;
	uint64_t hi = (uint64_t)(mag >> 64), lo = (uint64_t)mag;
	enc_buf_printf(b, "%s0x%" PRIx64 "%016" PRIx64, en->neg ? "-" : "", hi, lo);
}

static void put_enumerators(struct enc_buf *b, const struct rec_type *ty)
{
	struct enc_buf t;
	enc_buf_init(&t);
	for (uint32_t i = 0; i < ty->nenumerators; i++) {
		enc_buf_printf(&t, "%s%s:", i ? "," : "", ty->enumerators[i].name);
		put_value128(&t, &ty->enumerators[i]);
	}
	put_scratch(b, &t);
}

static void put_ids(struct enc_buf *b, const uint64_t *v, uint32_t n, bool dims)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			enc_buf_u8(b, ',');
		if (dims && v[i] == REC_DIM_UNKNOWN)
			enc_buf_u8(b, '-');
		else
			enc_buf_printf(b, "%" PRIu64, v[i]);
	}
}

static void put_rows(struct enc_buf *b, const struct rec_fn *f)
{
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

/* Whether the formatter writes f: what is required always, an optional field only when
 * set (its presence bool, or not 0), a WHEN field when the selected value allows it and
 * needs it or it is set. A NULL string is never written (it cannot be spelled). */
static bool shown(const struct cmd_spec *spec, const struct field *f, const void *base,
		  uint64_t sel)
{
	const void *at = member(base, f);
	bool set;
	switch (f->store) {
	case ST_STR:
		if (!*(char *const *)at)
			return false;
		set = true;
		break;
	case ST_BOOL:
		set = *(const bool *)at;
		break;
	case ST_PARAMS:
		set = ((const struct rec_fn *)base)->nparams != 0;
		break;
	case ST_ROWS:
		set = ((const struct rec_fn *)base)->nrows != 0;
		break;
	case ST_VARS:
		set = ((const struct rec_fn *)base)->nvars != 0;
		break;
	case ST_BLOCKS:
		set = ((const struct rec_fn *)base)->nblocks != 0;
		break;
	case ST_LOC:
		set = ((const struct rec_loc *)at)->kind != REC_LOC_NONE;
		break;
	case ST_MEMBERS:
		set = ((const struct rec_type *)base)->nmembers != 0;
		break;
	case ST_ENUMERATORS:
		set = ((const struct rec_type *)base)->nenumerators != 0;
		break;
	case ST_U64S:
		set = (f->dec == D_DIMS ? ((const struct rec_type *)base)->ndims :
		       ((const struct rec_type *)base)->nparams) != 0;
		break;
	case ST_U32:
	case ST_U64:
	case ST_I64:
		set = get_num(base, f) != 0;
		break;
	default:
		set = true;
		break;
	}
	if (f->has)
		set = *(const bool *)((const char *)base + f->has - 1);
	switch (f->pres) {
	case P_POS:
	case P_REQ:
	case P_SELECT:
	case P_UPPER:
		return true;
	case P_WHEN:
		return in_mask(f->applies, sel) &&
		       ((in_mask(f->needs, sel) && !waived_in(spec, f, base)) || set);
	case P_UNLESS:
		return !waived_in(spec, f, base) || set;
	case P_OPT:
	case P_FLAG:
		break;
	}
	return set;
}

static void put_value(struct enc_buf *b, const struct field *f, const void *base)
{
	const void *at = member(base, f);
	char text[37];
	switch (f->dec) {
	case D_ID:
	case D_HEX:
	case D_UDEC:
	case D_SDEC:
	case D_PROT:
		num_text(text, base, f);
		enc_buf_put(b, text, strlen(text));
		break;
	case D_NAME:
	case D_SEGNAME:
	case D_DIRNAME:
		cmd_format_value(b, *(char *const *)at);
		break;
	case D_ENUM: {
		const char *w = named_name(f->values, f->nvalues, (unsigned)get_num(base, f));
		enc_buf_put(b, w, strlen(w));
		break;
	}
	case D_UUID:
		macho_uuid_format(at, text);
		enc_buf_put(b, text, strlen(text));
		break;
	case D_ARCH: {
		const char *w = macho_arch_name(*(const uint32_t *)at);
		enc_buf_put(b, w, strlen(w));
		break;
	}
	case D_PARAMS:
		put_params(b, base);
		break;
	case D_ROWS:
		put_rows(b, base);
		break;
	case D_VARS:
		put_vars(b, base);
		break;
	case D_BLOCKS:
		put_blocks(b, base);
		break;
	case D_LOC:
		put_loc(b, at);
		break;
	case D_LANG: {
		const char *w = named_name(langs, COUNT(langs), (unsigned)get_num(base, f));
		if (strcmp(w, "?") == 0) {
			num_text(text, base, f);
			w = text;
		}
		enc_buf_put(b, w, strlen(w));
		break;
	}
	case D_MEMBERS:
		put_members(b, base);
		break;
	case D_ENUMERATORS:
		put_enumerators(b, base);
		break;
	case D_DIMS: {
		const struct rec_type *t = base;
		put_ids(b, t->dims, t->ndims, true);
		break;
	}
	case D_TYPEIDS: {
		const struct rec_type *t = base;
		put_ids(b, t->params, t->nparams, false);
		break;
	}
	case D_BOOL:
		break;
	}
}

/* One line in the spelling the parser reads back exactly: the fields in row order,
 * names and paths quoted when needed, optional fields only when set. */
static void format_fields(struct enc_buf *b, const struct cmd_spec *spec, const void *base)
{
	uint64_t sel = 0;
	enc_buf_put(b, spec->word, strlen(spec->word));
	for (const struct field *f = spec->fields; f->key; f++) {
		if (f->pres == P_SELECT)
			sel = get_num(base, f);
		if (!shown(spec, f, base, sel))
			continue;
		enc_buf_u8(b, ' ');
		if (f->pres != P_POS)
			enc_buf_put(b, f->key, strlen(f->key));
		if (f->pres == P_FLAG)
			continue;
		if (f->pres != P_POS)
			enc_buf_u8(b, '=');
		put_value(b, f, base);
	}
	enc_buf_u8(b, '\n');
}

void cmd_format_file(struct enc_buf *b, const struct rec_file *f)
{
	format_fields(b, &specs[CMD_INDEX_FILE], f);
}

void cmd_format_type(struct enc_buf *b, const struct rec_type *t)
{
	format_fields(b, &specs[CMD_INDEX_TYPE], t);
}

void cmd_format_global(struct enc_buf *b, const struct rec_global *g)
{
	format_fields(b, &specs[CMD_INDEX_GLOBAL], g);
}

void cmd_format_fn(struct enc_buf *b, const struct rec_fn *f)
{
	format_fields(b, &specs[CMD_INDEX_FN], f);
}

void cmd_format(struct enc_buf *b, const struct cmd *c)
{
	const struct cmd_spec *spec = spec_of(c->kind);
	if (spec)
		format_fields(b, spec, spec->payload(c));
	else
		enc_buf_u8(b, '\n');
}
