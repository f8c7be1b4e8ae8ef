/* A generation: an immutable state plus the layout of its MH_DSYM file. See gen.h.
 *
 * File layout (dsymutil's): mach header and load commands; zeros to the next page; the
 * nlist_64 symbol table; the string table (two NUL bytes, then names); zeros to the next
 * page; the __DWARF sections back to back: __debug_line (the units' line programs, then,
 * when a declaration has a decl_file, the declarations unit's program, a header whose
 * file table is all it holds), __debug_aranges, __debug_loc and __debug_ranges (when a
 * function has lists: each function's part in fn_layout order), __debug_info (the
 * declarations unit first), __debug_abbrev, __debug_str.
 *
 * The layout is a short sorted table of extents (about a dozen, whatever the image holds),
 * each produced by one source: bytes rendered at commit (the Mach-O header, the types
 * unit's head), zeros, a walk of a tree from a weight position, or the compile units of
 * one section. Nothing is laid out per unit or per function: a read finds its unit in the
 * state's units tree by weight (O(log U)), renders the unit's few header bytes, whose
 * offset-dependent fields (DW_AT_stmt_list, the aranges' unit offset) come from the same
 * walk, and copies its functions' fragments from fn_layout (O(log n) to find the first).
 */
#include "gen.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "cmd.h"
#include "dwarf.h"
#include "enc.h"
#include "macho.h"
#include "state.h"
#include "util.h"

#define PAGE 0x1000u

enum ext_kind {
	EXT_BYTES,        /* bytes[0..len) */
	EXT_ZERO,
	EXT_TYPES,        /* the declarations table's DIEs (struct state_types) */
	EXT_SYMTAB,
	EXT_STRTAB,       /* the names, after the two leading NULs */
	EXT_UNITS_LINE,   /* every unit's line program */
	EXT_UNITS_ARANGES,
	EXT_UNITS_INFO,   /* every compile unit of .debug_info after the types unit */
	EXT_FNS_LOC,      /* every function's location lists, in fn_layout order */
	EXT_FNS_RANGES,   /* every function's range lists */
	EXT_NAMES_STR,    /* the __apple_names index's strings, in .debug_str */
	EXT_TYPES_STR,    /* the __apple_types index's */
	EXT_APPLE_NAMES,
	EXT_APPLE_TYPES,
};

/* A generation's file has at most this many extents (see lay_out). */
#define GEN_MAX_EXTENTS 22

struct extent {
	uint64_t off, len;
	enum ext_kind kind;
	const uint8_t *bytes;  /* EXT_BYTES: borrowed from meta or a constant */
};

struct gen {
	uint32_t refs;         /* atomic */
	uint64_t readers;      /* atomic */
	uint64_t number;
	char *name;
	struct timespec mtime;
	struct state st;
	uint64_t size;
	uint64_t types_base;   /* .debug_info offset of the first type DIE */
	uint64_t units_base;   /* .debug_info offset of the first compile unit */
	uint64_t names_str, types_str;  /* .debug_str offsets of the two indexes' strings */
	struct extent ext[GEN_MAX_EXTENTS];
	size_t next;
	uint8_t *meta;         /* the Mach-O header, the types unit's head and the prefix of
				* its line program */
	char *plist;
	size_t plist_len;
	pthread_mutex_t text_lock;  /* guards text[] and text_len[] */
	char *text[GEN_TEXT_COUNT];
	size_t text_len[GEN_TEXT_COUNT];
	/* The two accelerator tables, rendered whole by the first read that touches one:
	 * the one cache a reader fills (under accel_lock; accel_tried[i] is set, with
	 * release order, once it was tried, so later readers take no lock). NULL after a
	 * failed render: reads then render their window alone. */
	pthread_mutex_t accel_lock;
	int accel_tried[2];       /* atomic */
	uint8_t *accel[2];
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Extent table under construction. */
struct layout {
	struct extent *ext;
	size_t n;
	uint64_t pos;
};

static void add_extent(struct layout *l, uint64_t len, enum ext_kind kind, const uint8_t *bytes)
{
	if (!len)
		return;
	l->ext[l->n++] = (struct extent){l->pos, len, kind, bytes};
	l->pos += len;
}

static void pad_to(struct layout *l, uint64_t off)
{
	add_extent(l, off - l->pos, EXT_ZERO, NULL);
}

static char *render_plist(const char *name, size_t *len)
{
	struct enc_buf esc, b;
	enc_buf_init(&esc);
	for (const char *p = name; *p; p++) {
		switch (*p) {
		case '&': enc_buf_printf(&esc, "&amp;"); break;
		case '<': enc_buf_printf(&esc, "&lt;"); break;
		case '>': enc_buf_printf(&esc, "&gt;"); break;
		default: enc_buf_u8(&esc, (uint8_t)*p);
		}
	}
	enc_buf_u8(&esc, 0);
	enc_buf_init(&b);
	enc_buf_printf(&b,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<!DOCTYPE plist PUBLIC \"-//Apple Computer//DTD PLIST 1.0//EN\" "
		"\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
		"<plist version=\"1.0\">\n"
		"\t<dict>\n"
		"\t\t<key>CFBundleDevelopmentRegion</key>\n\t\t<string>English</string>\n"
		"\t\t<key>CFBundleIdentifier</key>\n\t\t<string>com.apple.xcode.dsym.%s</string>\n"
		"\t\t<key>CFBundleInfoDictionaryVersion</key>\n\t\t<string>6.0</string>\n"
		"\t\t<key>CFBundlePackageType</key>\n\t\t<string>dSYM</string>\n"
		"\t\t<key>CFBundleSignature</key>\n\t\t<string>??\?\?</string>\n"
		"\t\t<key>CFBundleShortVersionString</key>\n\t\t<string>1.0</string>\n"
		"\t\t<key>CFBundleVersion</key>\n\t\t<string>1</string>\n"
		"\t</dict>\n"
		"</plist>\n",
		esc.failed ? "" : (const char *)esc.data);
	enc_buf_free(&esc);
	return (char *)enc_buf_take(&b, len);
}

static int lay_out(struct gen *g)
{
	const struct state *st = &g->st;

	/* Section sizes, from the units tree's sums: the file tables are the one piece every
	 * line program repeats that its unit's weight leaves out. */
	uint64_t uw[PTREE_NW];
	ptree_sum(&st->units, uw);
	uint64_t nunits = ptree_count(&st->units);
	uint64_t units_line = uw[STATE_W_LINE] + nunits * st->ftab->tables_len;
	/* The declarations unit's line program (file table only) follows the units'. */
	bool decl_lines = st->ttab->uses_files;
	size_t prefix = dwarf_line_header_prefix_size();
	uint64_t decl_line_size = decl_lines ? prefix + st->ftab->tables_len : 0;
	uint64_t line_size = units_line + decl_line_size;
	uint64_t aranges_size = uw[STATE_W_ARANGES];
	uint64_t fw[PTREE_NW];
	ptree_sum(&st->fn_layout, fw);
	uint64_t loc_size = fw[STATE_W_LOC], ranges_size = fw[STATE_W_RANGES];
	bool has_types = st->ttab->nents > 0;
	uint64_t types_end = has_types ? 1 : 0;  /* the null entry ending the unit's children */
	size_t tu = DWARF_CU_HEADER_SIZE + dwarf_types_unit_die_size(decl_lines);
	g->types_base = tu;
	g->units_base = tu + st->ttab->total + types_end;
	uint64_t info_size = g->units_base + uw[STATE_W_INFO];
	if (info_size > UINT32_MAX || line_size > UINT32_MAX || aranges_size > UINT32_MAX ||
	    loc_size > UINT32_MAX || ranges_size > UINT32_MAX)
		return -EFBIG;
	size_t abbrev_len, str_len;
	const uint8_t *abbrev = dwarf_abbrev_bytes(&abbrev_len);
	const uint8_t *str = dwarf_str_bytes(&str_len);
	if (!abbrev_len)
		return -ENOMEM;
	const struct ptree *types_index = &st->ttab->type_names;
	uint64_t names_size = accel_table_size(&st->names);
	uint64_t types_size = accel_table_size(types_index);
	uint64_t names_str = accel_strings_size(&st->names);
	uint64_t types_str = accel_strings_size(types_index);
	g->names_str = str_len;
	g->types_str = str_len + names_str;
	uint64_t str_size = g->types_str + types_str;
	if (str_size > UINT32_MAX || names_size > UINT32_MAX || types_size > UINT32_MAX)
		return -EFBIG;

	/* Mach-O layout. */
	uint64_t sym_w[PTREE_NW];
	ptree_sum(&st->syms, sym_w);
	uint64_t nsyms = ptree_count(&st->syms);
	struct macho_dwarf_sect sects[9];
	struct macho_dsym_layout ml = {
		.ident = &st->ident,
		.segtab = &st->segs->t,
		.nsyms = (uint32_t)nsyms,
		.strsize = 2 + sym_w[STATE_W_STR],
		.dwarf = sects,
	};
	const char *names[9] = {"__debug_line", "__debug_aranges", "__debug_loc",
				"__debug_ranges", "__debug_info", "__debug_abbrev", "__debug_str",
				"__apple_names", "__apple_types"};
	uint64_t sizes[9] = {line_size, aranges_size, loc_size, ranges_size, info_size,
			     abbrev_len, str_size, names_size, types_size};
	for (int i = 0; i < 9; i++)
		if (sizes[i])
			sects[ml.ndwarf++] = (struct macho_dwarf_sect){names[i], 0, sizes[i]};
	size_t hdr = macho_dsym_header_size(&ml);
	ml.symoff = align_up(hdr, PAGE);
	ml.stroff = ml.symoff + nsyms * MACHO_NLIST_SIZE;
	ml.dwarf_fileoff = align_up(ml.stroff + ml.strsize, PAGE);
	uint64_t off = ml.dwarf_fileoff;
	for (uint32_t i = 0; i < ml.ndwarf; i++) {
		sects[i].offset = off;
		off += sects[i].size;
	}
	ml.dwarf_filesize = off - ml.dwarf_fileoff;
	if (off > UINT32_MAX)  /* Mach-O file offsets in load commands are 32-bit */
		return -EFBIG;

	g->meta = malloc(hdr + tu + prefix);
	if (!g->meta)
		return -ENOMEM;
	macho_dsym_write_header(&ml, g->meta);
	dwarf_put_cu_header(g->meta + hdr, tu + st->ttab->total + types_end);
	dwarf_put_types_unit_die(g->meta + hdr + DWARF_CU_HEADER_SIZE, has_types, decl_lines,
				 (uint32_t)units_line);
	if (decl_lines)
		dwarf_put_line_header_prefix(g->meta + hdr + tu, decl_line_size,
					     st->ftab->tables_len);

	struct layout l = {g->ext, 0, 0};
	add_extent(&l, hdr, EXT_BYTES, g->meta);
	pad_to(&l, ml.symoff);
	add_extent(&l, nsyms * MACHO_NLIST_SIZE, EXT_SYMTAB, NULL);
	add_extent(&l, 2, EXT_ZERO, NULL);
	add_extent(&l, sym_w[STATE_W_STR], EXT_STRTAB, NULL);
	pad_to(&l, ml.dwarf_fileoff);
	add_extent(&l, units_line, EXT_UNITS_LINE, NULL);
	if (decl_lines) {
		add_extent(&l, prefix, EXT_BYTES, g->meta + hdr + tu);
		add_extent(&l, st->ftab->tables_len, EXT_BYTES, st->ftab->tables);
	}
	add_extent(&l, aranges_size, EXT_UNITS_ARANGES, NULL);
	add_extent(&l, loc_size, EXT_FNS_LOC, NULL);
	add_extent(&l, ranges_size, EXT_FNS_RANGES, NULL);
	add_extent(&l, tu, EXT_BYTES, g->meta + hdr);
	add_extent(&l, st->ttab->total, EXT_TYPES, NULL);
	add_extent(&l, types_end, EXT_ZERO, NULL);
	add_extent(&l, uw[STATE_W_INFO], EXT_UNITS_INFO, NULL);
	add_extent(&l, abbrev_len, EXT_BYTES, abbrev);
	add_extent(&l, str_len, EXT_BYTES, str);
	add_extent(&l, names_str, EXT_NAMES_STR, NULL);
	add_extent(&l, types_str, EXT_TYPES_STR, NULL);
	add_extent(&l, names_size, EXT_APPLE_NAMES, NULL);
	add_extent(&l, types_size, EXT_APPLE_TYPES, NULL);
	g->next = l.n;
	g->size = l.pos;
	return 0;
}

int gen_new(struct state *st, const char *name, uint64_t number, struct gen **out)
{
	if (state_settle(st))
		return -ENOMEM;
	struct gen *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->refs = 1;
	g->number = number;
	pthread_mutex_init(&g->text_lock, NULL);
	pthread_mutex_init(&g->accel_lock, NULL);
	state_copy(st, &g->st);
	clock_gettime(CLOCK_REALTIME, &g->mtime);
	g->name = strdup(name);
	g->plist = render_plist(name, &g->plist_len);
	int rc = g->name && g->plist ? lay_out(g) : -ENOMEM;
	if (rc) {
		gen_unref(g);
		return rc;
	}
	*out = g;
	return 0;
}

void gen_ref(struct gen *g)
{
	__atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
}

void gen_unref(struct gen *g)
{
	if (!g || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	state_release(&g->st);
	free(g->meta);
	free(g->name);
	free(g->plist);
	for (int i = 0; i < GEN_TEXT_COUNT; i++)
		free(g->text[i]);
	pthread_mutex_destroy(&g->text_lock);
	pthread_mutex_destroy(&g->accel_lock);
	free(g->accel[0]);
	free(g->accel[1]);
	free(g);
}

uint64_t gen_number(const struct gen *g) { return g->number; }
const char *gen_image_name(const struct gen *g) { return g->name; }
uint64_t gen_size(const struct gen *g) { return g->size; }
struct timespec gen_mtime(const struct gen *g) { return g->mtime; }
uint64_t gen_ndecls(const struct gen *g) { return ptree_count(&g->st.fn_by_id); }
const uint8_t *gen_uuid(const struct gen *g) { return g->st.ident.uuid; }
uint32_t gen_cputype(const struct gen *g) { return g->st.ident.cputype; }

const char *gen_plist(const struct gen *g, size_t *len)
{
	*len = g->plist_len;
	return g->plist;
}

void gen_reader_open(struct gen *g)
{
	__atomic_add_fetch(&g->readers, 1, __ATOMIC_RELAXED);
}

void gen_reader_close(struct gen *g)
{
	__atomic_sub_fetch(&g->readers, 1, __ATOMIC_RELAXED);
}

uint64_t gen_readers(const struct gen *g)
{
	return __atomic_load_n(&g->readers, __ATOMIC_RELAXED);
}

/* ---- slices ------------------------------------------------------------------------- */

static const uint8_t zero_page[4096];

static void slices_add(struct gen_slices *s, const uint8_t *p, size_t n)
{
	struct iovec *last = s->n ? &s->iov[s->n - 1] : NULL;
	if (last && (const uint8_t *)last->iov_base + last->iov_len == p) {
		last->iov_len += n;
		return;
	}
	s->iov[s->n++] = (struct iovec){(void *)p, n};
}

/* Room for the next n bytes in the scratch, NULL once an allocation failed. When one
 * slice is left, every later byte is copied behind it, so it can cover them all. */
static uint8_t *slices_room(struct gen_slices *s, size_t n)
{
	if (s->failed)
		return NULL;
	if (!s->all && s->n + 1 >= GEN_SLICES_MAX) {
		s->all = true;
		s->all_start = s->big_used;
	}
	uint8_t *p;
	if (!s->all && !s->big && s->small_used + n <= sizeof s->small) {
		p = s->small + s->small_used;
		s->small_used += n;
	} else {
		/* Every scratch byte is a byte of the read: `want` always suffices. */
		if (!s->big && !(s->big = malloc(s->want))) {
			s->failed = -ENOMEM;
			return NULL;
		}
		p = s->big + s->big_used;
		s->big_used += n;
	}
	if (!s->all)
		slices_add(s, p, n);
	return p;
}

/* The next n bytes are at p, which lives as long as the slices (or longer). */
static void slices_point(struct gen_slices *s, const uint8_t *p, size_t n)
{
	if (s->all || s->n + 1 >= GEN_SLICES_MAX) {
		uint8_t *q = slices_room(s, n);
		if (q)
			memcpy(q, p, n);
		return;
	}
	slices_add(s, p, n);
}

static void slices_zero(struct gen_slices *s, size_t n)
{
	while (n) {
		size_t k = n < sizeof zero_page ? n : sizeof zero_page;
		slices_point(s, zero_page, k);
		n -= k;
	}
}

void gen_slices_release(struct gen_slices *s)
{
	for (size_t i = 0; i < s->nheld; i++)
		state_unit_bytes_unref(s->held[i]);
	free(s->big);
	s->nheld = s->n = 0;
	s->big = NULL;
}

/* ---- windows ------------------------------------------------------------------------- */

/* A destination window: produce bytes for positions [from, from + len) of a stream, given
 * pieces of that stream one after another, into out (copying), or into sl (gathering
 * slices). */
struct window {
	uint8_t *out;
	uint64_t from, len;   /* what is wanted, in stream positions */
	uint64_t pos;         /* stream position of the next piece */
	struct gen_slices *sl;
	int failed;           /* -ENOMEM once a piece could not be made */
};

static bool window_full(const struct window *w)
{
	return w->pos >= w->from + w->len;
}

static void window_offer(struct window *w, const uint8_t *bytes, uint64_t n, bool lasting)
{
	uint64_t lo = w->pos > w->from ? w->pos : w->from;
	uint64_t hi = w->pos + n < w->from + w->len ? w->pos + n : w->from + w->len;
	if (lo < hi && w->sl) {
		if (!bytes) {
			slices_zero(w->sl, hi - lo);
		} else if (lasting) {
			slices_point(w->sl, bytes + (lo - w->pos), hi - lo);
		} else {
			uint8_t *q = slices_room(w->sl, hi - lo);
			if (q)
				memcpy(q, bytes + (lo - w->pos), hi - lo);
		}
	} else if (lo < hi && bytes) {
		memcpy(w->out + (lo - w->from), bytes + (lo - w->pos), hi - lo);
	} else if (lo < hi) {
		memset(w->out + (lo - w->from), 0, hi - lo);
	}
	w->pos += n;
}

/* Offers the next n bytes of the stream (NULL: zeros), made for this read only. */
static void window_piece(struct window *w, const uint8_t *bytes, uint64_t n)
{
	window_offer(w, bytes, n, false);
}

/* The same for bytes that outlive the read (the generation's own). */
static void window_lasting(struct window *w, const uint8_t *bytes, uint64_t n)
{
	window_offer(w, bytes, n, true);
}

/* The part of the next len stream bytes that the window wants: their first position
 * (relative to the piece) in *skip and the count in *n; false if it wants none. Does
 * not advance the window. */
static bool window_wants(const struct window *w, uint64_t len, uint64_t *skip, uint64_t *n)
{
	uint64_t lo = w->pos > w->from ? w->pos : w->from;
	uint64_t hi = w->pos + len < w->from + w->len ? w->pos + len : w->from + w->len;
	if (lo >= hi)
		return false;
	*skip = lo - w->pos;
	*n = hi - lo;
	return true;
}

/* Whose fragment is being offered: a function, with where its parts of .debug_loc and
 * .debug_ranges start. */
struct frag_ctx {
	const struct rec_fn *f;
	uint64_t loc_base, ranges_base;
};

/* The value of slot s of fragment fr, whose function cx gives (NULL for the declarations
 * table, whose fragments hold no pc, list or variable slot). An id with no record (the
 * commit refuses those) resolves to 0. */
static uint64_t slot_value(const struct gen *g, const struct rec_frag *fr,
			   const struct rec_slot *s, const struct frag_ctx *cx)
{
	const struct rec_fn *f = cx ? cx->f : NULL;
	const struct state_types *tt = g->st.ttab;
	uint64_t o;
	switch (s->kind) {
	case DWARF_SLOT_TYPE_REF4:
		o = state_type_offset(tt, s->ref);
		break;
	case DWARF_SLOT_INDEX_TYPE4:
		o = tt->index_off;
		break;
	case DWARF_SLOT_ORIGIN4:
		o = state_abstract_offset(tt, s->ref);
		break;
	case DWARF_SLOT_ORIGIN_VAR4:
	case DWARF_SLOT_ORIGIN_CODE2: {
		/* The variable's index is held by the ORIGIN_VAR4 slot, which follows the
		 * code's. */
		const struct rec_slot *vs = s->kind == DWARF_SLOT_ORIGIN_VAR4 ? s : s + 1;
		uint32_t i = vs < fr->slots + fr->nslots ? enc_get_u32(fr->bytes + vs->pos)
							 : UINT32_MAX;
		bool is_param = false;
		o = f && i < f->nvars ? state_abstract_child_offset(tt, s->ref, f->vars[i].name,
								     f->vars[i].line, &is_param)
				      : UINT64_MAX;
		if (s->kind == DWARF_SLOT_ORIGIN_CODE2)
			return dwarf_origin_code(fr->bytes + s->pos, is_param);
		break;
	}
	case DWARF_SLOT_PC8:
		return (f ? f->low_pc : 0) + s->ref;
	case DWARF_SLOT_LOC4:
		return (cx ? cx->loc_base : 0) + s->ref;
	case DWARF_SLOT_RANGES4:
		return (cx ? cx->ranges_base : 0) + s->ref;
	default:
		return state_file_index(g->st.ftab, s->ref);
	}
	return o == UINT64_MAX ? 0 : g->types_base + o;
}

/* Offers the first len bytes of a fragment (of cx's function, or NULL), then overwrites
 * its slots' parts inside the window with the resolved values. */
static void window_frag_part(struct window *w, const struct gen *g, const struct rec_frag *fr,
			     uint32_t len, const struct frag_ctx *cx)
{
	uint64_t start = w->pos;
	window_piece(w, fr->bytes, len);
	for (uint32_t i = 0; i < fr->nslots; i++) {
		const struct rec_slot *s = &fr->slots[i];
		size_t width = dwarf_slot_size(s->kind);
		uint64_t spos = start + s->pos;
		if (!width || s->pos + width > len || spos + width <= w->from ||
		    spos >= w->from + w->len)
			continue;
		uint8_t tmp[8];
		dwarf_put_slot(tmp, s->kind, slot_value(g, fr, s, cx));
		struct window sw = {w->out, w->from, w->len, spos, NULL, 0};
		window_piece(&sw, tmp, width);
	}
}

static void window_frag(struct window *w, const struct gen *g, const struct rec_frag *fr,
			const struct frag_ctx *cx)
{
	window_frag_part(w, g, fr, fr->len, cx);
}

/* Offers a function's part of .debug_loc or .debug_ranges, made from its record. */
static void window_lists(struct window *w, const struct rec_fn *f, bool ranges, uint64_t n)
{
	uint64_t skip, k;
	if (!window_wants(w, n, &skip, &k)) {
		w->pos += n;
		return;
	}
	uint8_t small[256];
	uint8_t *b = n <= sizeof small ? small : malloc(n);
	if (!b) {
		/* Nothing to copy from: the window keeps its place, and the read fails. */
		w->failed = -ENOMEM;
		w->pos += n;
		return;
	}
	if (ranges)
		dwarf_put_fn_ranges(f, b);
	else
		dwarf_put_fn_loc(f, b);
	window_piece(w, b, n);
	if (b != small)
		free(b);
}

/* Reads n bytes of a tree's stream in weight dimension dim from weight position wpos:
 * function fragments, aranges tuples or lists from fn_layout (syms false), or the symbol
 * and string tables from syms (syms true). */
static int read_tree(const struct gen *g, bool syms, int dim, uint64_t wpos, uint64_t n,
		     uint8_t *out)
{
	const struct ptree *t = syms ? &g->st.syms : &g->st.fn_layout;
	struct ptree_iter it;
	uint64_t before[PTREE_NW];
	int rc = ptree_iter_seek_weight(&it, t, dim, wpos, before);
	if (rc)
		return rc;
	struct window w = {out, wpos, n, before[dim], NULL, 0};
	struct frag_ctx cx = {NULL, before[STATE_W_LOC], before[STATE_W_RANGES]};
	while (!window_full(&w) && ptree_iter_valid(&it)) {
		const void *v = ptree_iter_val(&it);
		uint8_t tmp[MACHO_NLIST_SIZE];
		uint64_t own[PTREE_NW];
		ptree_iter_weights(&it, own);
		cx.f = v;
		if (!syms && dim == STATE_W_INFO) {
			window_frag(&w, g, &((const struct rec_fn *)v)->info, &cx);
		} else if (!syms && dim == STATE_W_LINE) {
			window_frag(&w, g, &((const struct rec_fn *)v)->line_prog, &cx);
		} else if (!syms && (dim == STATE_W_LOC || dim == STATE_W_RANGES)) {
			window_lists(&w, v, dim == STATE_W_RANGES, own[dim]);
		} else if (!syms) {
			const struct rec_fn *f = v;
			dwarf_put_aranges_tuple(tmp, f->low_pc, f->size);
			window_piece(&w, tmp, DWARF_ARANGES_TUPLE_SIZE);
		} else if (dim == STATE_W_NLIST) {
			const struct rec_sym *s = v;
			uint8_t type = (s->sect ? MACHO_N_SECT : 0x02 /* N_ABS */) |
				       (s->ext ? MACHO_N_EXT : 0);
			macho_put_nlist(tmp, (uint32_t)(2 + before[STATE_W_STR]), type,
					(uint8_t)s->sect, s->desc, s->value);
			window_piece(&w, tmp, MACHO_NLIST_SIZE);
			before[STATE_W_STR] += strlen(s->name) + 1;
		} else {
			const struct rec_sym *s = v;
			window_piece(&w, (const uint8_t *)s->name, strlen(s->name) + 1);
		}
		cx.loc_base += own[STATE_W_LOC];
		cx.ranges_base += own[STATE_W_RANGES];
		ptree_iter_next(&it);
	}
	return w.failed ? w.failed : it.error;
}


/* Chunk c's bytes in dimension dim as this generation's tables resolve them: the
 * chunk's cached rendering when it was made with the same tables and, in .debug_info,
 * with its lists at the same offsets (before[] holds the fn_layout sums before the
 * chunk), else a new one (from fn_layout weight position before[dim]), which replaces
 * it. Two generations with different tables that read one chunk in turn render it in
 * turn; tables change only when files or types do, list offsets when an earlier
 * function's lists change size. Returns a reference (state_unit_bytes_unref), or NULL
 * with *rc set. */
static struct state_unit_bytes *chunk_bytes(const struct gen *g, struct state_chunk *c, int dim,
					    const uint64_t before[PTREE_NW], int *rc)
{
	struct state_files *ft = dim == STATE_W_ARANGES ? NULL : g->st.ftab;
	struct state_types *tt = dim == STATE_W_INFO ? g->st.ttab : NULL;
	uint64_t lb = dim == STATE_W_INFO ? before[STATE_W_LOC] : 0;
	uint64_t rb = dim == STATE_W_INFO ? before[STATE_W_RANGES] : 0;
	pthread_mutex_lock(&c->lock);
	struct state_unit_bytes *b = c->bytes[dim];
	bool hit = b && b->ftab == ft && b->ttab == tt && b->loc_base == lb && b->ranges_base == rb;
	if (hit)
		state_unit_bytes_ref(b);
	pthread_mutex_unlock(&c->lock);
	if (hit)
		return b;

	b = state_unit_bytes_new(c->w[dim], ft, tt);
	if (!b) {
		*rc = -ENOMEM;
		return NULL;
	}
	b->loc_base = lb;
	b->ranges_base = rb;
	*rc = read_tree(g, false, dim, before[dim], c->w[dim], b->bytes);
	if (*rc) {
		state_unit_bytes_unref(b);
		return NULL;
	}
	state_unit_bytes_ref(b);  /* one for the cache, one for the caller */
	pthread_mutex_lock(&c->lock);
	struct state_unit_bytes *old = c->bytes[dim];
	c->bytes[dim] = b;
	pthread_mutex_unlock(&c->lock);
	state_unit_bytes_unref(old);
	return b;
}

/* Offers the unit's functions' bytes in dimension dim (their fragments, or their aranges
 * tuples), chunk by chunk from the chunks tree, whose weights are fn_layout's. */
static int unit_fns(const struct gen *g, struct window *w, const struct state_unit *u, int dim)
{
	uint64_t len = u->fn_w[dim], skip, n;
	int rc = 0;
	if (window_wants(w, len, &skip, &n)) {
		uint64_t base[PTREE_NW], count, before[PTREE_NW];
		ptree_sum_before(&g->st.chunks, state_id_key(u->file), base, &count);
		struct ptree_iter it;
		rc = ptree_iter_seek_weight(&it, &g->st.chunks, dim, base[dim] + skip, before);
		uint8_t *out = w->out ? w->out + (w->pos + skip - w->from) : NULL;
		uint64_t at = before[dim] - base[dim];  /* unit-relative start of the chunk */
		for (uint64_t done = skip; !rc && done < skip + n && ptree_iter_valid(&it);
		     ptree_iter_next(&it)) {
			struct state_chunk *c = ptree_iter_val(&it);  /* only its cache changes */
			uint64_t clen = c->w[dim], start[PTREE_NW];
			memcpy(start, before, sizeof start);
			for (int i = 0; i < PTREE_NW; i++)
				before[i] += c->w[i];
			if (!clen)
				continue;
			start[dim] = base[dim] + at;
			struct state_unit_bytes *b = chunk_bytes(g, c, dim, start, &rc);
			if (!b)
				break;
			uint64_t in = done - at;
			uint64_t k = clen - in < skip + n - done ? clen - in : skip + n - done;
			if (w->sl && w->sl->nheld < GEN_SLICES_MAX) {
				w->sl->held[w->sl->nheld++] = b;  /* lives as long as the slices */
				slices_point(w->sl, b->bytes + in, k);
			} else {
				uint8_t *q = w->sl ? slices_room(w->sl, k) : out + (done - skip);
				if (q)
					memcpy(q, b->bytes + in, k);
				state_unit_bytes_unref(b);
			}
			done += k;
			at += clen;
		}
		if (!rc)
			rc = it.error;
	}
	w->pos += len;
	return rc;
}

/* Offers a unit's compile-unit header and DIE, whose line program is at line_off. */
static int unit_info_head(struct window *w, const struct state_unit *u, uint64_t line_off)
{
	uint64_t len = DWARF_CU_HEADER_SIZE + u->die_size, skip, n;
	if (!window_wants(w, len, &skip, &n)) {
		w->pos += len;
		return 0;
	}
	/* Unit paths are short; a long one costs an allocation on this read only. */
	uint8_t small[512];
	uint8_t *b = len <= sizeof small ? small : malloc(len);
	if (!b)
		return -ENOMEM;
	dwarf_put_cu_header(b, len + u->fn_w[STATE_W_INFO] + 1);
	dwarf_put_cu_die(b + DWARF_CU_HEADER_SIZE, state_unit_name(u), state_unit_dir(u),
			 (uint32_t)line_off, u->src ? u->src->lang : 0);
	window_piece(w, b, len);
	if (b != small)
		free(b);
	return 0;
}

/* Offers the whole of one unit's part of a section. info_off and line_off are the unit's
 * offsets in .debug_info and .debug_line. */
static int unit_piece(const struct gen *g, struct window *w, const struct state_unit *u,
		      int dim, uint64_t info_off, uint64_t line_off)
{
	int rc;
	if (dim == STATE_W_INFO) {
		rc = unit_info_head(w, u, line_off);
		if (!rc)
			rc = unit_fns(g, w, u, dim);
		window_piece(w, NULL, 1);  /* the null entry ending the unit's children */
	} else if (dim == STATE_W_LINE) {
		const struct state_files *ft = g->st.ftab;
		uint8_t prefix[64];
		size_t plen = dwarf_line_header_prefix_size();
		dwarf_put_line_header_prefix(prefix, plen + ft->tables_len + u->fn_w[STATE_W_LINE],
					     ft->tables_len);
		window_piece(w, prefix, plen);
		window_lasting(w, ft->tables, ft->tables_len);
		rc = unit_fns(g, w, u, dim);
	} else {
		uint8_t head[DWARF_ARANGES_HEADER_SIZE];
		dwarf_put_aranges_header(head, (uint32_t)info_off, u->nfns);
		window_piece(w, head, sizeof head);
		rc = unit_fns(g, w, u, dim);
		window_piece(w, NULL, DWARF_ARANGES_TUPLE_SIZE);  /* the terminator */
	}
	return rc;
}

/* Reads n bytes at offset local of one section's run of compile units, into out or sl. */
static int read_units(const struct gen *g, int dim, uint64_t local, uint64_t n, uint8_t *out,
		      struct gen_slices *sl)
{
	uint64_t tables = g->st.ftab->tables_len;
	struct ptree_iter it;
	uint64_t before[PTREE_NW], k;
	int rc = ptree_iter_seek_spaced(&it, &g->st.units, dim, dim == STATE_W_LINE ? tables : 0,
					local, before, &k);
	if (rc)
		return rc;
	uint64_t info_off = g->units_base + before[STATE_W_INFO];
	uint64_t line_off = before[STATE_W_LINE] + k * tables;
	struct window w = {out, local, n, dim == STATE_W_LINE ? line_off : before[dim], sl, 0};
	while (!rc && !window_full(&w) && ptree_iter_valid(&it)) {
		const struct state_unit *u = ptree_iter_val(&it);
		uint64_t own[PTREE_NW];
		ptree_iter_weights(&it, own);
		rc = unit_piece(g, &w, u, dim, info_off, line_off);
		info_off += own[STATE_W_INFO];
		line_off += own[STATE_W_LINE] + tables;
		ptree_iter_next(&it);
	}
	return rc ? rc : it.error;
}

/* util_search predicates over sorted start offsets: entry i starts at or before *arg. */
struct offset_at {
	uint64_t off;
	const struct gen *g;
};

static bool decl_starts_by(const void *arg, size_t i)
{
	const struct offset_at *a = arg;
	return a->g->st.ttab->ents[i].off <= a->off;
}

static bool extent_starts_by(const void *arg, size_t i)
{
	const struct offset_at *a = arg;
	return a->g->ext[i].off <= a->off;
}

static void read_types(const struct gen *g, uint64_t local, uint64_t n, uint8_t *out)
{
	const struct state_types *tt = g->st.ttab;
	struct offset_at a = {local, g};
	size_t lo = util_search(tt->nents, decl_starts_by, &a) - 1;  /* the first starts at 0 */
	struct window w = {out, local, n, tt->ents[lo].off, NULL, 0};
	for (size_t i = lo; i < tt->nents && !window_full(&w); i++) {
		const struct state_decl *d = &tt->ents[i];
		if (d->frag)
			window_frag_part(&w, g, d->frag, d->len, NULL);
		else
			window_piece(&w, NULL, 1);
	}
}

/* The extent holding off: the last whose start is <= off (the first starts at 0). */
static size_t extent_at(const struct gen *g, uint64_t off)
{
	struct offset_at a = {off, g};
	return util_search(g->next, extent_starts_by, &a) - 1;
}

/* ---- accelerator tables ------------------------------------------------------------ */

/* The .debug_info offset of function f's subprogram DIE: its unit's offset, the unit's
 * head, and the functions before it in the unit. */
static uint64_t fn_die(const struct gen *g, const struct rec_fn *f)
{
	uint64_t cu = rec_fn_cu(f), w[PTREE_NW], first[PTREE_NW], at[PTREE_NW], n;
	const struct state_unit *u = ptree_get(&g->st.units, state_id_key(cu));
	if (!u)
		return 0;
	ptree_sum_before(&g->st.units, state_id_key(cu), w, &n);
	ptree_sum_before(&g->st.fn_layout, (struct ptree_key){cu, 0, NULL}, first, &n);
	ptree_sum_before(&g->st.fn_layout, state_layout_key(f), at, &n);
	return g->units_base + w[STATE_W_INFO] + DWARF_CU_HEADER_SIZE + u->die_size +
	       at[STATE_W_INFO] - first[STATE_W_INFO];
}

/* A function's DIE offset in the map; off 0 marks an empty slot (no function DIE sits at
 * .debug_info offset 0: the types unit's header does). */
struct die_slot {
	uint64_t id;
	uint64_t off;
};

/* What resolve_die reads: the generation and, while a whole table is rendered, a map of
 * function id -> DIE offset (dies NULL: resolve each entry by walking the trees). */
struct resolver {
	const struct gen *g;
	struct die_slot *dies;
	uint64_t mask;
};

static uint64_t die_slot_of(uint64_t id, uint64_t mask)
{
	return (id * 0x9e3779b97f4a7c15u >> 17) & mask;
}

/* Fills r's function id -> DIE offset map in one in-order walk of the units and their
 * functions: O(n), where resolving each table entry by itself walks three trees with a
 * cache miss at most steps. Leaves r->dies NULL when out of memory. The map is r's
 * (free()). */
static void build_die_map(struct resolver *r)
{
	const struct gen *g = r->g;
	uint64_t w[PTREE_NW];
	uint64_t n = ptree_count(&g->st.fn_layout), cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	struct die_slot *m = calloc(cap, sizeof *m);
	if (!m)
		return;
	struct ptree_iter ui, fi;
	uint64_t next_unit = g->units_base, cu = UINT64_MAX, at = 0;
	bool in_unit = false;
	ptree_iter_first(&ui, &g->st.units);
	for (ptree_iter_first(&fi, &g->st.fn_layout); ptree_iter_valid(&fi); ptree_iter_next(&fi)) {
		const struct rec_fn *f = ptree_iter_val(&fi);
		if (rec_fn_cu(f) != cu) {
			cu = rec_fn_cu(f);
			in_unit = false;
			for (; ptree_iter_valid(&ui) && ptree_iter_key(&ui).a <= cu; ptree_iter_next(&ui)) {
				const struct state_unit *u = ptree_iter_val(&ui);
				at = next_unit + DWARF_CU_HEADER_SIZE + u->die_size;
				ptree_iter_weights(&ui, w);
				next_unit += w[STATE_W_INFO];
				in_unit = ptree_iter_key(&ui).a == cu;
			}
		}
		if (!in_unit)
			continue;
		uint64_t k = die_slot_of(f->id, cap - 1);
		while (m[k].off)
			k = (k + 1) & (cap - 1);
		m[k] = (struct die_slot){f->id, at};
		ptree_iter_weights(&fi, w);
		at += w[STATE_W_INFO];
	}
	if (ui.error || fi.error) {
		free(m);
		return;
	}
	r->dies = m;
	r->mask = cap - 1;
}

/* The DIE offset of function id (f: its record if the caller has it, else NULL), or 0 if
 * the generation has no such function in a unit. */
static uint64_t fn_die_of(const struct resolver *r, uint64_t id, const struct rec_fn *f)
{
	if (r->dies) {
		for (uint64_t k = die_slot_of(id, r->mask); r->dies[k].off; k = (k + 1) & r->mask)
			if (r->dies[k].id == id)
				return r->dies[k].off;
		return 0;
	}
	if (!f)
		f = ptree_get(&r->g->st.fn_by_id, state_id_key(id));
	return f ? fn_die(r->g, f) : 0;
}

/* Where the DIE at DWARF_SLOT_DIE mark `sub` starts in f's fragment. */
static uint64_t mark_pos(const struct rec_fn *f, uint32_t sub)
{
	for (uint32_t i = 0; i < f->info.nslots; i++)
		if (f->info.slots[i].kind == DWARF_SLOT_DIE && f->info.slots[i].ref == sub)
			return f->info.slots[i].pos;
	return 0;
}

/* accel_resolve_fn over this generation. A record the index names but the state lacks
 * (never expected) resolves to 0. */
static void resolve_die(void *ctx, const struct accel_ref *r, uint32_t *out)
{
	const struct resolver *rs = ctx;
	const struct gen *g = rs->g;
	const struct state_types *tt = g->st.ttab;
	uint64_t o = UINT64_MAX;
	const struct rec_fn *f;
	switch (r->kind) {
	case ACCEL_FN:
		out[0] = (uint32_t)fn_die_of(rs, r->id, NULL);
		return;
	case ACCEL_MARK:
		f = ptree_get(&g->st.fn_by_id, state_id_key(r->id));
		out[0] = !f ? 0 : (uint32_t)(fn_die_of(rs, r->id, f) + mark_pos(f, r->sub));
		return;
	case ACCEL_INLINED: {
		struct ptree_iter it;
		uint32_t k = 0;
		for (ptree_iter_seek_key(&it, &g->st.sites, state_id_key(r->id));
		     ptree_iter_valid(&it) && ptree_iter_key(&it).a == r->id; ptree_iter_next(&it)) {
			const struct state_sites *st = ptree_iter_val(&it);
			f = ptree_get(&g->st.fn_by_id, state_id_key(ptree_iter_key(&it).b));
			uint64_t base = f ? fn_die_of(rs, f->id, f) : 0;
			for (uint32_t i = 0; i < st->n && k < r->n; i++)
				out[k++] = f ? (uint32_t)(base + mark_pos(f, st->blocks[i])) : 0;
		}
		while (k < r->n)
			out[k++] = 0;
		return;
	}
	case ACCEL_GLOBAL: o = state_global_offset(tt, r->id); break;
	case ACCEL_TYPE: o = state_type_offset(tt, r->id); break;
	case ACCEL_INDEX_TYPE: o = tt->index_off; break;
	}
	out[0] = o == UINT64_MAX ? 0 : (uint32_t)(g->types_base + o);
}

static const struct ptree *accel_tree(const struct gen *g, int which)
{
	return which ? &g->st.ttab->type_names : &g->st.names;
}

/* Renders accelerator table `which` whole into a new buffer (the caller's, free()), or
 * returns NULL when out of memory. Only the names table points at functions' DIEs. */
static uint8_t *render_accel(const struct gen *g, int which)
{
	const struct ptree *t = accel_tree(g, which);
	uint64_t size = accel_table_size(t);
	struct resolver r = {g, NULL, 0};
	if (!which) {
		build_die_map(&r);
		if (!r.dies)
			return NULL;
	}
	uint8_t *b = malloc(size ? size : 1);
	if (b && accel_read_table(t, which ? g->types_str : g->names_str, resolve_die, &r, 0, size,
				  b)) {
		free(b);
		b = NULL;
	}
	free(r.dies);
	return b;
}

/* n bytes at offset local of accelerator table `which`. The first read renders the table
 * whole, once per generation: every entry's DIE offset moves with the units before it,
 * so a table can only be made at read time, and made whole it costs one walk of each
 * tree instead of a few seeks per entry of every window. */
static int read_accel(const struct gen *cg, int which, uint64_t local, uint64_t n, uint8_t *out)
{
	struct gen *g = (struct gen *)cg;  /* the lazily rendered tables are its one cache */
	if (!__atomic_load_n(&g->accel_tried[which], __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&g->accel_lock);
		if (!g->accel_tried[which]) {
			g->accel[which] = render_accel(g, which);
			__atomic_store_n(&g->accel_tried[which], 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&g->accel_lock);
	}
	if (g->accel[which]) {
		memcpy(out, g->accel[which] + local, n);
		return 0;
	}
	struct resolver r = {g, NULL, 0};
	return accel_read_table(accel_tree(g, which), which ? g->types_str : g->names_str,
				resolve_die, &r, local, n, out);
}

/* Copies n bytes at offset local of an extent into out: everything but the units
 * sections, which read_units serves. */
static int read_extent(const struct gen *g, const struct extent *e, uint64_t local, uint64_t n,
		       uint8_t *out)
{
	switch (e->kind) {
	case EXT_BYTES: memcpy(out, e->bytes + local, n); return 0;
	case EXT_ZERO: memset(out, 0, n); return 0;
	case EXT_TYPES: read_types(g, local, n, out); return 0;
	case EXT_SYMTAB: return read_tree(g, true, STATE_W_NLIST, local, n, out);
	case EXT_STRTAB: return read_tree(g, true, STATE_W_STR, local, n, out);
	case EXT_UNITS_LINE: return read_units(g, STATE_W_LINE, local, n, out, NULL);
	case EXT_UNITS_ARANGES: return read_units(g, STATE_W_ARANGES, local, n, out, NULL);
	case EXT_UNITS_INFO: return read_units(g, STATE_W_INFO, local, n, out, NULL);
	case EXT_FNS_LOC: return read_tree(g, false, STATE_W_LOC, local, n, out);
	case EXT_FNS_RANGES: return read_tree(g, false, STATE_W_RANGES, local, n, out);
	case EXT_NAMES_STR: return accel_read_strings(&g->st.names, local, n, out);
	case EXT_TYPES_STR: return accel_read_strings(&g->st.ttab->type_names, local, n, out);
	case EXT_APPLE_NAMES: return read_accel(g, 0, local, n, out);
	case EXT_APPLE_TYPES: return read_accel(g, 1, local, n, out);
	}
	return -EINVAL;
}

ssize_t gen_read(const struct gen *g, uint64_t off, void *buf, size_t len)
{
	if (off >= g->size)
		return 0;
	if (len > g->size - off)
		len = g->size - off;
	uint8_t *out = buf;
	size_t done = 0;
	for (size_t i = extent_at(g, off); done < len; i++) {
		const struct extent *e = &g->ext[i];
		uint64_t local = off + done - e->off;
		uint64_t n = e->len - local < len - done ? e->len - local : len - done;
		int rc = read_extent(g, e, local, n, out + done);
		if (rc)
			return rc;
		done += n;
	}
	return (ssize_t)done;
}

ssize_t gen_read_slices(const struct gen *g, uint64_t off, size_t len, struct gen_slices *s)
{
	s->n = s->nheld = s->small_used = s->big_used = 0;
	s->failed = 0;
	s->all = false;
	s->big = NULL;
	if (off >= g->size)
		return 0;
	if (len > g->size - off)
		len = g->size - off;
	s->want = len;
	size_t done = 0;
	int rc = 0;
	for (size_t i = extent_at(g, off); done < len && !rc && !s->failed; i++) {
		const struct extent *e = &g->ext[i];
		uint64_t local = off + done - e->off;
		uint64_t n = e->len - local < len - done ? e->len - local : len - done;
		if (e->kind == EXT_BYTES) {
			slices_point(s, e->bytes + local, n);
		} else if (e->kind == EXT_ZERO) {
			slices_zero(s, n);
		} else if (e->kind == EXT_UNITS_LINE || e->kind == EXT_UNITS_ARANGES ||
			   e->kind == EXT_UNITS_INFO) {
			int dim = e->kind == EXT_UNITS_LINE ? STATE_W_LINE
				  : e->kind == EXT_UNITS_ARANGES ? STATE_W_ARANGES : STATE_W_INFO;
			rc = read_units(g, dim, local, n, NULL, s);
		} else {
			/* The declarations, the lists and the symbol table are made per
			 * read: copied. */
			uint8_t *q = slices_room(s, n);
			if (q)
				rc = read_extent(g, e, local, n, q);
		}
		done += n;
	}
	if (!rc)
		rc = s->failed;
	if (!rc && s->all && s->big_used > s->all_start)
		s->iov[s->n++] = (struct iovec){s->big + s->all_start, s->big_used - s->all_start};
	if (rc) {
		gen_slices_release(s);
		return rc;
	}
	return (ssize_t)done;
}

static int render_text(struct gen *g, enum gen_text which, struct enc_buf *b)
{
	const struct ptree *t = which == GEN_TEXT_DECLS ? &g->st.fn_by_id
				: which == GEN_TEXT_FILES ? &g->st.files
				: which == GEN_TEXT_TYPES ? &g->st.types : &g->st.globals;
	struct ptree_iter it;
	for (ptree_iter_first(&it, t); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		if (which == GEN_TEXT_DECLS)
			cmd_format_fn(b, ptree_iter_val(&it));
		else if (which == GEN_TEXT_FILES)
			cmd_format_file(b, ptree_iter_val(&it));
		else if (which == GEN_TEXT_TYPES)
			cmd_format_type(b, ptree_iter_val(&it));
		else
			cmd_format_global(b, ptree_iter_val(&it));
	}
	return it.error ? it.error : enc_buf_error(b);
}

int gen_text(struct gen *g, enum gen_text which, const char **out, size_t *len)
{
	int rc = 0;
	pthread_mutex_lock(&g->text_lock);
	if (!g->text[which]) {
		struct enc_buf b;
		enc_buf_init(&b);
		rc = render_text(g, which, &b);
		if (!rc) {
			size_t n;
			g->text[which] = (char *)enc_buf_take(&b, &n);
			g->text_len[which] = n;
			if (!g->text[which])
				rc = -ENOMEM;
		}
		enc_buf_free(&b);
	}
	if (!rc) {
		*out = g->text[which];
		*len = g->text_len[which];
	}
	pthread_mutex_unlock(&g->text_lock);
	return rc;
}
