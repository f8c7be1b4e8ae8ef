/* A generation: an immutable state plus the layout of its MH_DSYM file. See gen.h.
 *
 * File layout (dsymutil's): mach header and load commands; zeros to the next page; the
 * nlist_64 symbol table; the string table (two NUL bytes, then names); zeros to the next
 * page; the __DWARF sections back to back: __debug_line, __debug_aranges, __debug_info,
 * __debug_abbrev, __debug_str.
 *
 * The layout is a sorted table of extents, each produced by one source: bytes rendered
 * at commit (headers, a few hundred bytes per unit), zeros, or a walk of a tree from a
 * weight position. A read binary-searches the extent table, then copies.
 */
#include "gen.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "dwarf.h"
#include "enc.h"
#include "macho.h"
#include "state.h"

#define PAGE 0x1000u

enum ext_kind {
	EXT_BYTES,      /* bytes[0..len) */
	EXT_ZERO,
	EXT_FN_INFO,    /* fn_layout from weight wstart, dimension STATE_W_INFO */
	EXT_FN_LINE,
	EXT_FN_ARANGES,
	EXT_TYPES,      /* every type DIE, in id order */
	EXT_SYMTAB,
	EXT_STRTAB,     /* the names, after the two leading NULs */
};

struct extent {
	uint64_t off, len;
	enum ext_kind kind;
	const uint8_t *bytes;  /* EXT_BYTES: borrowed from meta, the state or a constant */
	uint64_t wstart;       /* tree extents: weight position of the extent's first byte */
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
	struct extent *ext;
	size_t next;
	uint8_t *meta;         /* headers rendered at commit */
	char *plist;
	size_t plist_len;
	pthread_mutex_t text_lock;  /* guards text[] and text_len[] */
	char *text[3];
	size_t text_len[3];
};

/* One compile unit: the functions whose unit file is `file`, a contiguous key range of
 * fn_layout. */
struct unit {
	uint64_t file;
	uint64_t w_before[PTREE_NW];  /* fn_layout weights before the unit's first function */
	uint64_t w[PTREE_NW];         /* the unit's own weights */
	uint64_t count;
	const char *name, *comp_dir;
	uint64_t info_off, line_off;  /* section-relative offsets of the unit and its program */
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static int collect_units(const struct state *st, struct unit **out, size_t *nout)
{
	size_t n = 0, cap = 8;
	struct unit *u = malloc(cap * sizeof *u);
	if (!u)
		return -ENOMEM;
	struct ptree_key k = {0, 0, NULL};
	for (;;) {
		struct ptree_iter it;
		ptree_iter_seek_key(&it, &st->fn_layout, k);
		if (it.error) {
			free(u);
			return it.error;
		}
		if (!ptree_iter_valid(&it))
			break;
		if (n == cap) {
			struct unit *bigger = realloc(u, 2 * cap * sizeof *u);
			if (!bigger) {
				free(u);
				return -ENOMEM;
			}
			u = bigger;
			cap *= 2;
		}
		struct unit *cu = &u[n++];
		memset(cu, 0, sizeof *cu);
		cu->file = ptree_iter_key(&it).a;
		uint64_t count_before, count_after, w_after[PTREE_NW];
		ptree_sum_before(&st->fn_layout, (struct ptree_key){cu->file, 0, NULL},
				 cu->w_before, &count_before);
		if (cu->file == UINT64_MAX) {
			ptree_sum(&st->fn_layout, w_after);
			count_after = ptree_count(&st->fn_layout);
		} else {
			ptree_sum_before(&st->fn_layout, (struct ptree_key){cu->file + 1, 0, NULL},
					 w_after, &count_after);
		}
		for (int i = 0; i < PTREE_NW; i++)
			cu->w[i] = w_after[i] - cu->w_before[i];
		cu->count = count_after - count_before;
		const struct rec_file *f = state_file(st->ftab, cu->file);
		cu->name = f ? f->path : "";
		cu->comp_dir = f ? f->dir : NULL;
		if (cu->file == UINT64_MAX)
			break;
		k = (struct ptree_key){cu->file + 1, 0, NULL};
	}
	*out = u;
	*nout = n;
	return 0;
}

/* Extent table under construction; `failed` makes a single check at the end enough. */
struct layout {
	struct extent *ext;
	size_t n, cap;
	uint64_t pos;
	int failed;
};

static void add_extent(struct layout *l, uint64_t len, enum ext_kind kind, const uint8_t *bytes,
		       uint64_t wstart)
{
	if (!len)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct extent *bigger = realloc(l->ext, cap * sizeof *bigger);
		if (!bigger) {
			l->failed = 1;
			return;
		}
		l->ext = bigger;
		l->cap = cap;
	}
	l->ext[l->n++] = (struct extent){l->pos, len, kind, bytes, wstart};
	l->pos += len;
}

static void pad_to(struct layout *l, uint64_t off)
{
	add_extent(l, off - l->pos, EXT_ZERO, NULL, 0);
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
	struct unit *units = NULL;
	size_t nunits = 0;
	int rc = collect_units(st, &units, &nunits);
	if (rc)
		return rc;

	/* Section sizes. */
	size_t prefix = dwarf_line_header_prefix_size();
	size_t tables = st->ftab->tables_len;
	uint64_t line_size = 0, aranges_size = 0;
	bool has_types = st->ttab->n > 0;
	uint64_t types_end = has_types ? 1 : 0;  /* the null entry ending the unit's children */
	uint64_t info_size = DWARF_CU_HEADER_SIZE + dwarf_types_unit_die_size() +
			     st->ttab->total + types_end;
	g->types_base = DWARF_CU_HEADER_SIZE + dwarf_types_unit_die_size();
	size_t meta_len = DWARF_CU_HEADER_SIZE + dwarf_types_unit_die_size();
	for (size_t i = 0; i < nunits; i++) {
		struct unit *u = &units[i];
		u->line_off = line_size;
		u->info_off = info_size;
		size_t die = dwarf_cu_die_size(u->name, u->comp_dir);
		line_size += prefix + tables + u->w[STATE_W_LINE];
		aranges_size += DWARF_ARANGES_HEADER_SIZE + u->w[STATE_W_ARANGES] +
				DWARF_ARANGES_TUPLE_SIZE;
		info_size += DWARF_CU_HEADER_SIZE + die + u->w[STATE_W_INFO] + 1;
		meta_len += prefix + DWARF_ARANGES_HEADER_SIZE + DWARF_CU_HEADER_SIZE + die;
	}
	if (info_size > UINT32_MAX || line_size > UINT32_MAX || aranges_size > UINT32_MAX) {
		free(units);
		return -EFBIG;
	}
	size_t abbrev_len, str_len;
	const uint8_t *abbrev = dwarf_abbrev_bytes(&abbrev_len);
	const uint8_t *str = dwarf_str_bytes(&str_len);

	/* Mach-O layout. */
	uint64_t sym_w[PTREE_NW];
	ptree_sum(&st->syms, sym_w);
	uint64_t nsyms = ptree_count(&st->syms);
	struct macho_dwarf_sect sects[5];
	struct macho_dsym_layout ml = {
		.ident = &st->ident,
		.segtab = &st->segs->t,
		.nsyms = (uint32_t)nsyms,
		.strsize = 2 + sym_w[STATE_W_STR],
		.dwarf = sects,
	};
	const char *names[5] = {"__debug_line", "__debug_aranges", "__debug_info",
				"__debug_abbrev", "__debug_str"};
	uint64_t sizes[5] = {line_size, aranges_size, info_size, abbrev_len, str_len};
	for (int i = 0; i < 5; i++)
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
	if (off > UINT32_MAX) {  /* Mach-O file offsets in load commands are 32-bit */
		free(units);
		return -EFBIG;
	}

	g->meta = malloc(hdr + meta_len);
	if (!g->meta) {
		free(units);
		return -ENOMEM;
	}
	macho_dsym_write_header(&ml, g->meta);
	uint8_t *m = g->meta + hdr;

	struct layout l = {0};
	add_extent(&l, hdr, EXT_BYTES, g->meta, 0);
	pad_to(&l, ml.symoff);
	add_extent(&l, nsyms * MACHO_NLIST_SIZE, EXT_SYMTAB, NULL, 0);
	add_extent(&l, 2, EXT_ZERO, NULL, 0);
	add_extent(&l, sym_w[STATE_W_STR], EXT_STRTAB, NULL, 0);
	pad_to(&l, ml.dwarf_fileoff);

	for (size_t i = 0; i < nunits; i++) {
		const struct unit *u = &units[i];
		dwarf_put_line_header_prefix(m, prefix + tables + u->w[STATE_W_LINE], tables);
		add_extent(&l, prefix, EXT_BYTES, m, 0);
		m += prefix;
		add_extent(&l, tables, EXT_BYTES, st->ftab->tables, 0);
		add_extent(&l, u->w[STATE_W_LINE], EXT_FN_LINE, NULL, u->w_before[STATE_W_LINE]);
	}
	for (size_t i = 0; i < nunits; i++) {
		const struct unit *u = &units[i];
		dwarf_put_aranges_header(m, (uint32_t)u->info_off, u->count);
		add_extent(&l, DWARF_ARANGES_HEADER_SIZE, EXT_BYTES, m, 0);
		m += DWARF_ARANGES_HEADER_SIZE;
		add_extent(&l, u->w[STATE_W_ARANGES], EXT_FN_ARANGES, NULL,
			   u->w_before[STATE_W_ARANGES]);
		add_extent(&l, DWARF_ARANGES_TUPLE_SIZE, EXT_ZERO, NULL, 0);
	}
	size_t tu = DWARF_CU_HEADER_SIZE + dwarf_types_unit_die_size();
	dwarf_put_cu_header(m, tu + st->ttab->total + types_end);
	dwarf_put_types_unit_die(m + DWARF_CU_HEADER_SIZE, has_types);
	add_extent(&l, tu, EXT_BYTES, m, 0);
	m += tu;
	add_extent(&l, st->ttab->total, EXT_TYPES, NULL, 0);
	add_extent(&l, types_end, EXT_ZERO, NULL, 0);
	for (size_t i = 0; i < nunits; i++) {
		const struct unit *u = &units[i];
		size_t die = dwarf_cu_die_size(u->name, u->comp_dir);
		dwarf_put_cu_header(m, DWARF_CU_HEADER_SIZE + die + u->w[STATE_W_INFO] + 1);
		dwarf_put_cu_die(m + DWARF_CU_HEADER_SIZE, u->name, u->comp_dir,
				 (uint32_t)u->line_off);
		add_extent(&l, DWARF_CU_HEADER_SIZE + die, EXT_BYTES, m, 0);
		m += DWARF_CU_HEADER_SIZE + die;
		add_extent(&l, u->w[STATE_W_INFO], EXT_FN_INFO, NULL, u->w_before[STATE_W_INFO]);
		add_extent(&l, 1, EXT_ZERO, NULL, 0);
	}
	add_extent(&l, abbrev_len, EXT_BYTES, abbrev, 0);
	add_extent(&l, str_len, EXT_BYTES, str, 0);
	free(units);
	if (l.failed) {
		free(l.ext);
		return -ENOMEM;
	}
	g->ext = l.ext;
	g->next = l.n;
	g->size = l.pos;
	return 0;
}

int gen_new(const struct state *st, const char *name, uint64_t number, struct gen **out)
{
	struct gen *g = calloc(1, sizeof *g);
	if (!g)
		return -ENOMEM;
	g->refs = 1;
	g->number = number;
	pthread_mutex_init(&g->text_lock, NULL);
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
	free(g->ext);
	free(g->meta);
	free(g->name);
	free(g->plist);
	for (int i = 0; i < 3; i++)
		free(g->text[i]);
	pthread_mutex_destroy(&g->text_lock);
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

/* A destination window: produce bytes for positions [from, from + len) of a stream into
 * out, given pieces of that stream one after another. */
struct window {
	uint8_t *out;
	uint64_t from, len;   /* what is wanted, in stream positions */
	uint64_t pos;         /* stream position of the next piece */
};

static bool window_full(const struct window *w)
{
	return w->pos >= w->from + w->len;
}

/* Offers the next n bytes of the stream (NULL: zeros); copies the part the window
 * wants. */
static void window_piece(struct window *w, const uint8_t *bytes, uint64_t n)
{
	uint64_t lo = w->pos > w->from ? w->pos : w->from;
	uint64_t hi = w->pos + n < w->from + w->len ? w->pos + n : w->from + w->len;
	if (lo < hi && bytes)
		memcpy(w->out + (lo - w->from), bytes + (lo - w->pos), hi - lo);
	else if (lo < hi)
		memset(w->out + (lo - w->from), 0, hi - lo);
	w->pos += n;
}

/* Offers a fragment, then overwrites its slots' parts inside the window with the
 * resolved values. */
static void window_frag(struct window *w, const struct gen *g, const struct rec_frag *fr)
{
	uint64_t start = w->pos;
	window_piece(w, fr->bytes, fr->len);
	for (uint32_t i = 0; i < fr->nslots; i++) {
		const struct rec_slot *s = &fr->slots[i];
		uint64_t spos = start + s->pos;
		if (spos + 4 <= w->from || spos >= w->from + w->len)
			continue;
		uint64_t v;
		if (s->kind == DWARF_SLOT_TYPE_REF4) {
			uint64_t o = state_type_offset(g->st.ttab, s->ref);
			v = o == UINT64_MAX ? 0 : g->types_base + o;
		} else {
			v = state_file_index(g->st.ftab, s->ref);
		}
		uint8_t tmp[4];
		dwarf_put_slot(tmp, s->kind, v);
		struct window sw = {w->out, w->from, w->len, spos};
		window_piece(&sw, tmp, 4);
	}
}

static int read_tree(const struct gen *g, const struct extent *e, uint64_t local, uint64_t n,
		     uint8_t *out)
{
	const struct ptree *t = e->kind == EXT_SYMTAB || e->kind == EXT_STRTAB ? &g->st.syms
									       : &g->st.fn_layout;
	int dim;
	switch (e->kind) {
	case EXT_FN_INFO: dim = STATE_W_INFO; break;
	case EXT_FN_LINE: dim = STATE_W_LINE; break;
	case EXT_FN_ARANGES: dim = STATE_W_ARANGES; break;
	case EXT_SYMTAB: dim = STATE_W_NLIST; break;
	default: dim = STATE_W_STR; break;
	}
	struct ptree_iter it;
	uint64_t before[PTREE_NW];
	int rc = ptree_iter_seek_weight(&it, t, dim, e->wstart + local, before);
	if (rc)
		return rc;
	struct window w = {out, e->wstart + local, n, before[dim]};
	while (!window_full(&w) && ptree_iter_valid(&it)) {
		const void *v = ptree_iter_val(&it);
		uint8_t tmp[MACHO_NLIST_SIZE];
		if (e->kind == EXT_FN_INFO) {
			window_frag(&w, g, &((const struct rec_fn *)v)->info);
		} else if (e->kind == EXT_FN_LINE) {
			window_frag(&w, g, &((const struct rec_fn *)v)->line_prog);
		} else if (e->kind == EXT_FN_ARANGES) {
			const struct rec_fn *f = v;
			dwarf_put_aranges_tuple(tmp, f->low_pc, f->size);
			window_piece(&w, tmp, DWARF_ARANGES_TUPLE_SIZE);
		} else if (e->kind == EXT_SYMTAB) {
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
		ptree_iter_next(&it);
	}
	return it.error;
}

static void read_types(const struct gen *g, uint64_t local, uint64_t n, uint8_t *out)
{
	const struct state_types *tt = g->st.ttab;
	size_t lo = 0, hi = tt->n;
	while (hi - lo > 1) {  /* last type whose offset is <= local */
		size_t mid = lo + (hi - lo) / 2;
		if (tt->offs[mid] <= local)
			lo = mid;
		else
			hi = mid;
	}
	struct window w = {out, local, n, tt->offs[lo]};
	for (size_t i = lo; i < tt->n && !window_full(&w); i++)
		window_frag(&w, g, &tt->recs[i]->info);
}

ssize_t gen_read(const struct gen *g, uint64_t off, void *buf, size_t len)
{
	if (off >= g->size)
		return 0;
	if (len > g->size - off)
		len = g->size - off;
	size_t lo = 0, hi = g->next;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->ext[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	uint8_t *out = buf;
	size_t done = 0;
	for (size_t i = lo; done < len; i++) {
		const struct extent *e = &g->ext[i];
		uint64_t local = off + done - e->off;
		uint64_t n = e->len - local < len - done ? e->len - local : len - done;
		int rc = 0;
		switch (e->kind) {
		case EXT_BYTES: memcpy(out + done, e->bytes + local, n); break;
		case EXT_ZERO: memset(out + done, 0, n); break;
		case EXT_TYPES: read_types(g, local, n, out + done); break;
		default: rc = read_tree(g, e, local, n, out + done); break;
		}
		if (rc)
			return rc;
		done += n;
	}
	return (ssize_t)done;
}

static int render_text(struct gen *g, enum gen_text which, struct enc_buf *b)
{
	const struct ptree *t = which == GEN_TEXT_DECLS ? &g->st.fn_by_id
				: which == GEN_TEXT_FILES ? &g->st.files : &g->st.types;
	struct ptree_iter it;
	for (ptree_iter_first(&it, t); ptree_iter_valid(&it); ptree_iter_next(&it)) {
		if (which == GEN_TEXT_DECLS)
			cmd_format_fn(b, ptree_iter_val(&it));
		else if (which == GEN_TEXT_FILES)
			cmd_format_file(b, ptree_iter_val(&it));
		else
			cmd_format_type(b, ptree_iter_val(&it));
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
