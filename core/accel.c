/* Apple accelerator tables as persistent indexes. See accel.h.
 *
 * Table layout (as lldb and llvm-dwarfdump read it, little-endian):
 *   header       magic 'HASH', version 1, hash function 0 (DJB), bucket count,
 *                hash count, header-data length
 *   header data  DIE-offset base (0), atom count, atoms (type, form) each
 *   buckets      per bucket the index of its first hash, or UINT32_MAX when empty
 *   hashes       the distinct hashes, bucket by bucket
 *   offsets      per hash, the table offset of its data
 *   data         per hash: per name (strp, DIE count, the DIEs' atoms), then a 0
 * A bucket's hashes must be contiguous; nothing requires the buckets themselves to come
 * in order, which is what lets the key order (reversed hash bits) serve every size.
 */
#include "accel.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"

#define HASH_MAGIC 0x48415348u
#define ATOM_DIE_OFFSET 1u
#define ATOM_DIE_TAG 3u
#define ATOM_TYPE_FLAGS 5u
#define FORM_DATA1 0x0bu
#define FORM_DATA2 0x05u
#define FORM_DATA4 0x06u
#define HEADER_SIZE 20u

struct accel_name {
	const char *name;   /* inside the group's allocation */
	uint32_t len;       /* strlen */
	uint32_t nrefs;
	uint32_t ndies;     /* sum of its references' n */
	const struct accel_ref *refs;
};

/* One allocation: the group, its names, their references, then their strings. */
struct accel_group {
	atomic_uint refs;
	uint32_t hash;
	uint32_t nnames;
	uint32_t ndies;     /* over all names */
	uint32_t str_len;   /* the names' bytes with their NULs */
	struct accel_name names[];
};

static bool is_types(const struct ptree *t)
{
	return t->ops == &accel_types_ops;
}

/* Bytes of one DIE's atoms: its offset, and in the types table its tag and flags. */
static uint32_t atom_size(bool types)
{
	return types ? 7u : 4u;
}

static void group_ref(void *v)
{
	atomic_fetch_add_explicit(&((struct accel_group *)v)->refs, 1, memory_order_relaxed);
}

static void group_unref(void *v)
{
	struct accel_group *g = v;
	if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		free(g);
}

static uint64_t group_data_size(const struct accel_group *g, bool types)
{
	return (uint64_t)g->nnames * 8 + (uint64_t)g->ndies * atom_size(types) + 4;
}

static void weigh_names(const void *v, uint64_t w[PTREE_NW])
{
	const struct accel_group *g = v;
	memset(w, 0, PTREE_NW * sizeof *w);
	w[ACCEL_W_DATA] = group_data_size(g, false);
	w[ACCEL_W_STR] = g->str_len;
}

static void weigh_types(const void *v, uint64_t w[PTREE_NW])
{
	const struct accel_group *g = v;
	memset(w, 0, PTREE_NW * sizeof *w);
	w[ACCEL_W_DATA] = group_data_size(g, true);
	w[ACCEL_W_STR] = g->str_len;
}

const struct ptree_ops accel_names_ops = {group_ref, group_unref, weigh_names};
const struct ptree_ops accel_types_ops = {group_ref, group_unref, weigh_types};

uint32_t accel_hash(const char *name)
{
	uint32_t h = 5381;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 33u + *p;
	return h;
}

static uint32_t reverse_bits(uint32_t x, unsigned bits)
{
	uint32_t r = 0;
	for (unsigned i = 0; i < bits; i++, x >>= 1)
		r = r << 1 | (x & 1u);
	return r;
}

static struct ptree_key group_key(uint32_t hash)
{
	return (struct ptree_key){reverse_bits(hash, 32), 0, NULL};
}

static int ref_cmp(const struct accel_ref *x, const struct accel_ref *y)
{
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	if (x->sub != y->sub)
		return x->sub < y->sub ? -1 : 1;
	return 0;
}

/* One name of a group being made: a view of an old name's references with at most one
 * of them replaced, inserted or dropped. */
struct name_edit {
	const char *name;
	uint32_t len;
	const struct accel_ref *old;
	uint32_t nold;
	uint32_t at;        /* where the edit applies in old */
	int op;             /* 0: none, 1: insert r at `at`, 2: replace old[at], 3: drop old[at] */
	uint32_t nrefs;     /* after the edit */
};

static uint32_t edit_ref_count(const struct name_edit *e)
{
	return e->nold + (e->op == 1) - (e->op == 3);
}

static const struct accel_ref *edit_ref(const struct name_edit *e, uint32_t i,
					const struct accel_ref *r)
{
	if (e->op == 0 || i < e->at)
		return &e->old[i];
	if (e->op == 1)
		return i == e->at ? r : &e->old[i - 1];
	if (e->op == 2)
		return i == e->at ? r : &e->old[i];
	return &e->old[i + 1];
}

/* Position of r's identity among refs (binary search): the first not below it. */
static uint32_t ref_lower_bound(const struct accel_ref *refs, uint32_t n, const struct accel_ref *r)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ref_cmp(&refs[mid], r) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The group old with reference r put under name (or, when drop, removed from it), in
 * *out: a new group (refs = 1), or NULL when no name is left. *same when the edit
 * changes nothing (*out is then NULL too). -ENOMEM. */
static int group_edit(const struct accel_group *old, uint32_t hash, const char *name,
		      const struct accel_ref *r, bool drop, struct accel_group **out, bool *same)
{
	*out = NULL;
	*same = false;
	uint32_t nold = old ? old->nnames : 0;
	struct name_edit small[4];
	struct name_edit *ed = nold + 1 <= 4 ? small : malloc((nold + 1) * sizeof *ed);
	if (!ed)
		return -ENOMEM;
	uint32_t pos = 0;
	while (pos < nold && strcmp(old->names[pos].name, name) < 0)
		pos++;
	bool found = pos < nold && !strcmp(old->names[pos].name, name);
	if (!found && drop) {
		*same = true;
		if (ed != small)
			free(ed);
		return 0;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i <= nold; i++) {
		if (!found && i == pos)
			ed[n++] = (struct name_edit){name, (uint32_t)strlen(name), NULL, 0, 0, 1, 0};
		if (i < nold) {
			const struct accel_name *nm = &old->names[i];
			ed[n++] = (struct name_edit){nm->name, nm->len, nm->refs, nm->nrefs, 0, 0, 0};
		}
	}
	if (found) {
		struct name_edit *e = &ed[pos];
		uint32_t at = ref_lower_bound(e->old, e->nold, r);
		bool hit = at < e->nold && ref_cmp(&e->old[at], r) == 0;
		e->at = at;
		if (drop)
			e->op = hit ? 3 : 0;
		else if (hit)
			e->op = e->old[at].n == r->n && e->old[at].tag == r->tag ? 0 : 2;
		else
			e->op = 1;
		if (!e->op) {
			*same = true;
			if (ed != small)
				free(ed);
			return 0;
		}
	}
	size_t nnames = 0, nrefs = 0, strs = 0;
	for (uint32_t i = 0; i < n; i++) {
		ed[i].nrefs = edit_ref_count(&ed[i]);
		if (!ed[i].nrefs)
			continue;
		nnames++;
		nrefs += ed[i].nrefs;
		strs += ed[i].len + 1;
	}
	int rc = 0;
	if (nnames) {
		size_t head = sizeof(struct accel_group) + nnames * sizeof(struct accel_name);
		struct accel_group *g = malloc(head + nrefs * sizeof(struct accel_ref) + strs);
		if (!g) {
			rc = -ENOMEM;
		} else {
			atomic_init(&g->refs, 1);
			g->hash = hash;
			g->nnames = (uint32_t)nnames;
			g->ndies = 0;
			g->str_len = (uint32_t)strs;
			struct accel_ref *refs = (struct accel_ref *)((char *)g + head);
			char *str = (char *)(refs + nrefs);
			uint32_t k = 0;
			for (uint32_t i = 0; i < n; i++) {
				if (!ed[i].nrefs)
					continue;
				struct accel_name *nm = &g->names[k++];
				memcpy(str, ed[i].name, ed[i].len + 1);
				nm->name = str;
				nm->len = ed[i].len;
				nm->nrefs = ed[i].nrefs;
				nm->refs = refs;
				nm->ndies = 0;
				for (uint32_t j = 0; j < ed[i].nrefs; j++) {
					refs[j] = *edit_ref(&ed[i], j, r);
					nm->ndies += refs[j].n;
				}
				g->ndies += nm->ndies;
				refs += ed[i].nrefs;
				str += ed[i].len + 1;
			}
			*out = g;
		}
	}
	if (ed != small)
		free(ed);
	return rc;
}

static int edit(struct ptree *t, const char *name, struct accel_ref r, bool drop)
{
	if (!name || !*name)
		return 0;
	uint32_t hash = accel_hash(name);
	struct ptree_key k = group_key(hash);
	const struct accel_group *old = ptree_get(t, k);
	if (!old && drop)
		return 0;
	struct accel_group *g;
	bool same;
	int rc = group_edit(old, hash, name, &r, drop, &g, &same);
	if (rc || same)
		return rc;
	if (!g)
		return ptree_del_here(t, k);
	rc = ptree_put_here(t, k, g);
	group_unref(g);  /* the tree holds it now, or it goes */
	return rc;
}

int accel_put(struct ptree *t, const char *name, struct accel_ref r)
{
	return edit(t, name, r, r.n == 0);
}

int accel_remove(struct ptree *t, const char *name, struct accel_ref r)
{
	return edit(t, name, r, true);
}

/* ---- reading ------------------------------------------------------------------------ */

static uint32_t bucket_bits(uint64_t nhashes)
{
	uint32_t bits = 0;
	while (bits < 31 && (1ull << bits) < nhashes / 2)
		bits++;
	return bits;
}

static uint32_t header_total(bool types)
{
	return HEADER_SIZE + 8 + (types ? 3u : 1u) * 4;
}

uint64_t accel_table_size(const struct ptree *t)
{
	uint64_t h = ptree_count(t);
	if (!h)
		return 0;
	uint64_t w[PTREE_NW];
	ptree_sum(t, w);
	return header_total(is_types(t)) + 4 * (1ull << bucket_bits(h)) + 8 * h + w[ACCEL_W_DATA];
}

uint64_t accel_strings_size(const struct ptree *t)
{
	uint64_t w[PTREE_NW];
	ptree_sum(t, w);
	return w[ACCEL_W_STR];
}

/* A read's destination: positions [off, off + n) of a stream, into out. */
struct dest {
	uint8_t *out;
	uint64_t off, n;
};

/* Copies the part of the len bytes at stream position pos that d wants. */
static void dest_put(const struct dest *d, uint64_t pos, const uint8_t *bytes, uint64_t len)
{
	uint64_t lo = pos > d->off ? pos : d->off;
	uint64_t hi = pos + len < d->off + d->n ? pos + len : d->off + d->n;
	if (lo < hi)
		memcpy(d->out + (lo - d->off), bytes + (lo - pos), hi - lo);
}

static void dest_u32(const struct dest *d, uint64_t pos, uint32_t v)
{
	uint8_t b[4];
	enc_u32(b, v);
	dest_put(d, pos, b, 4);
}

static void put_header(const struct dest *d, bool types, uint32_t nbuckets, uint32_t nhashes)
{
	uint8_t h[HEADER_SIZE + 8 + 3 * 4];
	uint32_t natoms = types ? 3 : 1;
	enc_u32(h, HASH_MAGIC);
	enc_u16(h + 4, 1);
	enc_u16(h + 6, 0);
	enc_u32(h + 8, nbuckets);
	enc_u32(h + 12, nhashes);
	enc_u32(h + 16, 8 + natoms * 4);
	enc_u32(h + 20, 0);
	enc_u32(h + 24, natoms);
	static const uint16_t atoms[3][2] = {{ATOM_DIE_OFFSET, FORM_DATA4},
					     {ATOM_DIE_TAG, FORM_DATA2},
					     {ATOM_TYPE_FLAGS, FORM_DATA1}};
	for (uint32_t i = 0; i < natoms; i++) {
		enc_u16(h + 28 + 4 * i, atoms[i][0]);
		enc_u16(h + 30 + 4 * i, atoms[i][1]);
	}
	dest_put(d, 0, h, header_total(types));
}

/* Bucket i's first hash index: the rank of the first key whose top `bits` bits are i's
 * low bits reversed, if that key has them. */
static uint32_t bucket_value(const struct ptree *t, uint32_t bits, uint32_t i)
{
	uint64_t lo = (uint64_t)reverse_bits(i, bits) << (32 - bits);
	uint64_t hi = lo + (1ull << (32 - bits));
	struct ptree_key k = {lo, 0, NULL};
	struct ptree_iter it;
	ptree_iter_seek_key(&it, t, k);
	if (!ptree_iter_valid(&it) || ptree_iter_key(&it).a >= hi)
		return UINT32_MAX;
	uint64_t w[PTREE_NW], rank;
	ptree_sum_before(t, k, w, &rank);
	return (uint32_t)rank;
}

/* A group's data: per name its string's offset, its DIE count and its DIEs. */
static int put_group(const struct dest *d, uint64_t pos, const struct accel_group *g, bool types,
		     uint64_t strp, accel_resolve_fn *resolve, void *ctx)
{
	uint64_t size = group_data_size(g, types);
	uint8_t small[512];
	uint8_t *b = size <= sizeof small ? small : malloc(size);
	uint32_t dsmall[16];
	uint32_t maxn = 0;
	for (uint32_t i = 0; i < g->nnames; i++)
		for (uint32_t j = 0; j < g->names[i].nrefs; j++)
			if (g->names[i].refs[j].n > maxn)
				maxn = g->names[i].refs[j].n;
	uint32_t *dies = maxn <= 16 ? dsmall : malloc(maxn * sizeof *dies);
	if (!b || !dies) {
		if (b != small)
			free(b);
		if (dies != dsmall)
			free(dies);
		return -ENOMEM;
	}
	uint8_t *p = b;
	for (uint32_t i = 0; i < g->nnames; i++) {
		const struct accel_name *nm = &g->names[i];
		enc_u32(p, (uint32_t)strp);
		enc_u32(p + 4, nm->ndies);
		p += 8;
		strp += nm->len + 1;
		for (uint32_t j = 0; j < nm->nrefs; j++) {
			const struct accel_ref *r = &nm->refs[j];
			resolve(ctx, r, dies);
			for (uint32_t k = 0; k < r->n; k++) {
				enc_u32(p, dies[k]);
				p += 4;
				if (types) {
					enc_u16(p, r->tag);
					p[2] = 0;  /* type flags: none (no Objective-C classes) */
					p += 3;
				}
			}
		}
	}
	enc_u32(p, 0);
	dest_put(d, pos, b, size);
	if (b != small)
		free(b);
	if (dies != dsmall)
		free(dies);
	return 0;
}

/* The whole table in one walk of the groups: each group's bucket, hash, offset and data
 * together, where a window visits the groups once per region it overlaps. */
static int read_whole(const struct ptree *t, bool types, uint32_t bits, uint64_t str_base,
		      accel_resolve_fn *resolve, void *ctx, uint8_t *out)
{
	uint64_t nh = ptree_count(t), nb = 1ull << bits;
	uint64_t buckets = header_total(types), hashes = buckets + 4 * nb;
	uint64_t offsets = hashes + 4 * nh, data = offsets + 4 * nh;
	struct dest d = {out, 0, accel_table_size(t)};
	put_header(&d, types, (uint32_t)nb, (uint32_t)nh);
	memset(out + buckets, 0xff, 4 * nb);  /* UINT32_MAX: an empty bucket */
	struct ptree_iter it;
	uint64_t own[PTREE_NW], prev = UINT64_MAX, at = data, strp = str_base;
	uint32_t k = 0;
	for (ptree_iter_first(&it, t); ptree_iter_valid(&it); ptree_iter_next(&it), k++) {
		const struct accel_group *g = ptree_iter_val(&it);
		uint64_t b = g->hash & (nb - 1);
		if (b != prev)
			enc_u32(out + buckets + 4 * b, k);
		prev = b;
		enc_u32(out + hashes + 4 * (uint64_t)k, g->hash);
		enc_u32(out + offsets + 4 * (uint64_t)k, (uint32_t)at);
		int rc = put_group(&d, at, g, types, strp, resolve, ctx);
		if (rc)
			return rc;
		ptree_iter_weights(&it, own);
		at += own[ACCEL_W_DATA];
		strp += own[ACCEL_W_STR];
	}
	return it.error;
}

int accel_read_table(const struct ptree *t, uint64_t str_base, accel_resolve_fn *resolve,
		     void *ctx, uint64_t off, uint64_t n, uint8_t *out)
{
	bool types = is_types(t);
	uint64_t nh = ptree_count(t);
	uint32_t bits = bucket_bits(nh);
	uint64_t nb = 1ull << bits;
	uint64_t buckets = header_total(types), hashes = buckets + 4 * nb;
	uint64_t offsets = hashes + 4 * nh, data = offsets + 4 * nh;
	struct dest d = {out, off, n};
	uint64_t end = off + n;
	if (off == 0 && n && n == accel_table_size(t))
		return read_whole(t, types, bits, str_base, resolve, ctx, out);
	if (off < buckets)
		put_header(&d, types, (uint32_t)nb, (uint32_t)nh);
	struct ptree_iter it;
	uint64_t before[PTREE_NW], own[PTREE_NW];
	uint64_t first = off > buckets ? (off - buckets) / 4 : 0, last = first;
	while (last < nb && buckets + 4 * last < end)
		last++;
	/* Buckets are scattered over the tree (a bucket's run sits at its index's bits
	 * reversed), so a window of them costs two seeks each, or one walk of all groups:
	 * whichever is fewer steps. */
	if ((last - first) * 2 * (bits + 1) <= nh) {
		for (uint64_t i = first; i < last; i++)
			dest_u32(&d, buckets + 4 * i, bucket_value(t, bits, (uint32_t)i));
	} else if (first < last) {
		for (uint64_t i = first; i < last; i++)
			dest_u32(&d, buckets + 4 * i, UINT32_MAX);
		uint64_t prev = UINT64_MAX, rank = 0;
		for (ptree_iter_first(&it, t); ptree_iter_valid(&it); ptree_iter_next(&it), rank++) {
			uint64_t b = ((const struct accel_group *)ptree_iter_val(&it))->hash & (nb - 1);
			if (b != prev && b >= first && b < last)
				dest_u32(&d, buckets + 4 * b, (uint32_t)rank);
			prev = b;
		}
		if (it.error)
			return it.error;
	}
	/* Hashes, then offsets: one entry per group, the k-th group's at 4k. */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t base = pass ? offsets : hashes;
		if (end <= base || off >= base + 4 * nh)
			continue;
		uint64_t k = off > base ? (off - base) / 4 : 0;
		int rc = ptree_iter_seek_spaced(&it, t, ACCEL_W_NONE, 4, 4 * k, before, NULL);
		if (rc)
			return rc == -ERANGE ? 0 : rc;
		uint64_t at = data + before[ACCEL_W_DATA];
		for (; ptree_iter_valid(&it) && base + 4 * k < end; k++, ptree_iter_next(&it)) {
			const struct accel_group *g = ptree_iter_val(&it);
			dest_u32(&d, base + 4 * k, pass ? (uint32_t)at : g->hash);
			ptree_iter_weights(&it, own);
			at += own[ACCEL_W_DATA];
		}
		if (it.error)
			return it.error;
	}
	if (end <= data)
		return 0;
	int rc = ptree_iter_seek_weight(&it, t, ACCEL_W_DATA, off > data ? off - data : 0, before);
	if (rc)
		return rc == -ERANGE ? 0 : rc;
	uint64_t pos = data + before[ACCEL_W_DATA], strp = str_base + before[ACCEL_W_STR];
	while (ptree_iter_valid(&it) && pos < end) {
		const struct accel_group *g = ptree_iter_val(&it);
		if ((rc = put_group(&d, pos, g, types, strp, resolve, ctx)))
			return rc;
		ptree_iter_weights(&it, own);
		pos += own[ACCEL_W_DATA];
		strp += own[ACCEL_W_STR];
		ptree_iter_next(&it);
	}
	return it.error;
}

int accel_read_strings(const struct ptree *t, uint64_t off, uint64_t n, uint8_t *out)
{
	struct ptree_iter it;
	uint64_t before[PTREE_NW];
	int rc = ptree_iter_seek_weight(&it, t, ACCEL_W_STR, off, before);
	if (rc)
		return rc == -ERANGE ? 0 : rc;
	struct dest d = {out, off, n};
	uint64_t pos = before[ACCEL_W_STR];
	while (ptree_iter_valid(&it) && pos < off + n) {
		const struct accel_group *g = ptree_iter_val(&it);
		for (uint32_t i = 0; i < g->nnames; i++) {
			dest_put(&d, pos, (const uint8_t *)g->names[i].name, g->names[i].len + 1);
			pos += g->names[i].len + 1;
		}
		ptree_iter_next(&it);
	}
	return it.error;
}
