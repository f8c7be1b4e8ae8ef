/* DWARF 4 encoders. See dwarf.h for the slot scheme and the unit layout. */
#include "dwarf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "util.h"

/* DWARF constants used here (DWARF 4, section 7). */
enum {
	DW_TAG_compile_unit = 0x11,
	DW_TAG_subprogram = 0x2e,
	DW_TAG_formal_parameter = 0x05,
	DW_TAG_base_type = 0x24,
	DW_TAG_pointer_type = 0x0f,
	DW_TAG_const_type = 0x26,
	DW_TAG_typedef = 0x16,
	DW_TAG_variable = 0x34,

	DW_AT_name = 0x03,
	DW_AT_byte_size = 0x0b,
	DW_AT_stmt_list = 0x10,
	DW_AT_low_pc = 0x11,
	DW_AT_high_pc = 0x12,
	DW_AT_language = 0x13,
	DW_AT_comp_dir = 0x1b,
	DW_AT_producer = 0x25,
	DW_AT_prototyped = 0x27,
	DW_AT_decl_file = 0x3a,
	DW_AT_decl_line = 0x3b,
	DW_AT_encoding = 0x3e,
	DW_AT_external = 0x3f,
	DW_AT_type = 0x49,
	DW_AT_location = 0x02,
	DW_AT_linkage_name = 0x6e,

	DW_FORM_addr = 0x01,
	DW_FORM_data2 = 0x05,
	DW_FORM_data4 = 0x06,
	DW_FORM_data8 = 0x07,
	DW_FORM_string = 0x08,
	DW_FORM_data1 = 0x0b,
	DW_FORM_udata = 0x0f,
	DW_FORM_ref_addr = 0x10,
	DW_FORM_strp = 0x0e,
	DW_FORM_sec_offset = 0x17,
	DW_FORM_flag_present = 0x19,
	DW_FORM_flag = 0x0c,
	DW_FORM_exprloc = 0x18,

	DW_OP_addr = 0x03,

	DW_LANG_C99 = 0x0c,

	DW_ATE_boolean = 0x02,
	DW_ATE_float = 0x04,
	DW_ATE_signed = 0x05,
	DW_ATE_signed_char = 0x06,
	DW_ATE_unsigned = 0x07,
	DW_ATE_unsigned_char = 0x08,
};

enum {
	DW_LNS_copy = 0x01,
	DW_LNS_advance_pc = 0x02,
	DW_LNS_advance_line = 0x03,
	DW_LNS_set_file = 0x04,
	DW_LNS_set_column = 0x05,
	DW_LNS_negate_stmt = 0x06,
	DW_LNS_set_prologue_end = 0x0a,
	DW_LNS_set_epilogue_begin = 0x0b,
	DW_LNE_end_sequence = 0x01,
	DW_LNE_set_address = 0x02,
};

/* Line-program parameters shared by the header and the encoder. */
#define LINE_BASE   (-5)
#define LINE_RANGE  14
#define OPCODE_BASE 13

/* Abbreviation codes; the table below must list them in this order. */
enum abbrev {
	AB_CU = 1,
	AB_TYPES_UNIT,
	AB_TYPES_UNIT_EMPTY,      /* no types: no children */
	AB_SUBPROGRAM,
	AB_SUBPROGRAM_VOID,
	AB_SUBPROGRAM_LEAF,       /* no parameters: no children */
	AB_SUBPROGRAM_VOID_LEAF,
	AB_PARAM,
	AB_BASE,
	AB_POINTER,
	AB_POINTER_VOID,
	AB_CONST,
	AB_CONST_VOID,
	AB_TYPEDEF,
	AB_TYPEDEF_VOID,
	AB_GLOBAL,
	AB_GLOBAL_LINKAGE,
};

/* .debug_abbrev: code, tag, children, (attribute, form) pairs, 0 0; a final 0 ends the
 * table. Every value here is below 0x80, so each ULEB128 is one byte. */
static const uint8_t abbrev_table[] = {
	AB_CU, DW_TAG_compile_unit, 1,
		DW_AT_producer, DW_FORM_strp, DW_AT_language, DW_FORM_data2,
		DW_AT_name, DW_FORM_string, DW_AT_stmt_list, DW_FORM_sec_offset,
		DW_AT_comp_dir, DW_FORM_string, 0, 0,
	AB_TYPES_UNIT, DW_TAG_compile_unit, 1,
		DW_AT_producer, DW_FORM_strp, DW_AT_language, DW_FORM_data2,
		DW_AT_name, DW_FORM_string, 0, 0,
	AB_TYPES_UNIT_EMPTY, DW_TAG_compile_unit, 0,
		DW_AT_producer, DW_FORM_strp, DW_AT_language, DW_FORM_data2,
		DW_AT_name, DW_FORM_string, 0, 0,
	AB_SUBPROGRAM, DW_TAG_subprogram, 1,
		DW_AT_name, DW_FORM_string, DW_AT_low_pc, DW_FORM_addr,
		DW_AT_high_pc, DW_FORM_data8, DW_AT_decl_file, DW_FORM_data4,
		DW_AT_decl_line, DW_FORM_data4, DW_AT_prototyped, DW_FORM_flag_present,
		DW_AT_type, DW_FORM_ref_addr, 0, 0,
	AB_SUBPROGRAM_VOID, DW_TAG_subprogram, 1,
		DW_AT_name, DW_FORM_string, DW_AT_low_pc, DW_FORM_addr,
		DW_AT_high_pc, DW_FORM_data8, DW_AT_decl_file, DW_FORM_data4,
		DW_AT_decl_line, DW_FORM_data4, DW_AT_prototyped, DW_FORM_flag_present, 0, 0,
	AB_SUBPROGRAM_LEAF, DW_TAG_subprogram, 0,
		DW_AT_name, DW_FORM_string, DW_AT_low_pc, DW_FORM_addr,
		DW_AT_high_pc, DW_FORM_data8, DW_AT_decl_file, DW_FORM_data4,
		DW_AT_decl_line, DW_FORM_data4, DW_AT_prototyped, DW_FORM_flag_present,
		DW_AT_type, DW_FORM_ref_addr, 0, 0,
	AB_SUBPROGRAM_VOID_LEAF, DW_TAG_subprogram, 0,
		DW_AT_name, DW_FORM_string, DW_AT_low_pc, DW_FORM_addr,
		DW_AT_high_pc, DW_FORM_data8, DW_AT_decl_file, DW_FORM_data4,
		DW_AT_decl_line, DW_FORM_data4, DW_AT_prototyped, DW_FORM_flag_present, 0, 0,
	AB_PARAM, DW_TAG_formal_parameter, 0,
		DW_AT_name, DW_FORM_string, DW_AT_type, DW_FORM_ref_addr, 0, 0,
	AB_BASE, DW_TAG_base_type, 0,
		DW_AT_name, DW_FORM_string, DW_AT_encoding, DW_FORM_data1,
		DW_AT_byte_size, DW_FORM_udata, 0, 0,
	AB_POINTER, DW_TAG_pointer_type, 0,
		DW_AT_byte_size, DW_FORM_data1, DW_AT_type, DW_FORM_ref_addr, 0, 0,
	AB_POINTER_VOID, DW_TAG_pointer_type, 0, DW_AT_byte_size, DW_FORM_data1, 0, 0,
	AB_CONST, DW_TAG_const_type, 0, DW_AT_type, DW_FORM_ref_addr, 0, 0,
	AB_CONST_VOID, DW_TAG_const_type, 0, 0, 0,
	AB_TYPEDEF, DW_TAG_typedef, 0,
		DW_AT_name, DW_FORM_string, DW_AT_type, DW_FORM_ref_addr, 0, 0,
	AB_TYPEDEF_VOID, DW_TAG_typedef, 0, DW_AT_name, DW_FORM_string, 0, 0,
	AB_GLOBAL, DW_TAG_variable, 0,
		DW_AT_name, DW_FORM_string, DW_AT_type, DW_FORM_ref_addr,
		DW_AT_external, DW_FORM_flag, DW_AT_decl_file, DW_FORM_data4,
		DW_AT_decl_line, DW_FORM_data4, DW_AT_location, DW_FORM_exprloc, 0, 0,
	AB_GLOBAL_LINKAGE, DW_TAG_variable, 0,
		DW_AT_name, DW_FORM_string, DW_AT_type, DW_FORM_ref_addr,
		DW_AT_external, DW_FORM_flag, DW_AT_decl_file, DW_FORM_data4,
		DW_AT_decl_line, DW_FORM_data4, DW_AT_location, DW_FORM_exprloc,
		DW_AT_linkage_name, DW_FORM_string, 0, 0,
	0,
};

const uint8_t *dwarf_abbrev_bytes(size_t *len)
{
	*len = sizeof abbrev_table;
	return abbrev_table;
}

static const char producer[] = "dsymfs";

const uint8_t *dwarf_str_bytes(size_t *len)
{
	*len = sizeof producer;
	return (const uint8_t *)producer;
}

/* A fragment under construction: bytes plus the slots that will be patched on read. */
struct frag_builder {
	struct enc_buf b;
	struct rec_slot *slots;
	uint32_t nslots;
	size_t cap;
	int failed;
};

static void fb_slot(struct frag_builder *fb, uint32_t kind, uint64_t ref)
{
	if (util_grow(&fb->slots, &fb->cap, (size_t)fb->nslots + 1, sizeof *fb->slots)) {
		fb->failed = 1;
		return;
	}
	fb->slots[fb->nslots++] = (struct rec_slot){(uint32_t)fb->b.len, kind, ref};
	enc_buf_u32(&fb->b, 0);
}

/* Moves the builder's contents into a fragment; on failure frees them and returns
 * -ENOMEM with the fragment empty. */
static int fb_finish(struct frag_builder *fb, struct rec_frag *out)
{
	rec_frag_free(out);
	if (fb->failed || enc_buf_error(&fb->b) || fb->b.len > UINT32_MAX) {
		enc_buf_free(&fb->b);
		free(fb->slots);
		return -ENOMEM;
	}
	size_t len;
	out->bytes = enc_buf_take(&fb->b, &len);
	if (!out->bytes) {
		free(fb->slots);
		return -ENOMEM;
	}
	out->len = (uint32_t)len;
	out->slots = fb->slots;
	out->nslots = fb->nslots;
	return 0;
}

static int encode_info(const struct rec_fn *f, struct rec_frag *out)
{
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	bool leaf = f->nparams == 0;
	enc_buf_uleb(&fb.b, f->ret ? (leaf ? AB_SUBPROGRAM_LEAF : AB_SUBPROGRAM)
				   : (leaf ? AB_SUBPROGRAM_VOID_LEAF : AB_SUBPROGRAM_VOID));
	enc_buf_cstr(&fb.b, f->name);
	enc_buf_u64(&fb.b, f->low_pc);
	enc_buf_u64(&fb.b, f->size);
	fb_slot(&fb, DWARF_SLOT_FILE_DATA4, f->file);
	enc_buf_u32(&fb.b, (uint32_t)f->line);
	if (f->ret)
		fb_slot(&fb, DWARF_SLOT_TYPE_REF4, f->ret);
	for (uint32_t i = 0; i < f->nparams; i++) {
		enc_buf_uleb(&fb.b, AB_PARAM);
		enc_buf_cstr(&fb.b, f->params[i].name);
		fb_slot(&fb, DWARF_SLOT_TYPE_REF4, f->params[i].type);
	}
	if (!leaf)
		enc_buf_u8(&fb.b, 0);
	return fb_finish(&fb, out);
}

/* Emits the opcodes that add a row moving the address by addr_delta and the line by
 * line_delta, preferring one special opcode (DWARF 4, 6.2.5.1). */
static void put_advance_row(struct enc_buf *b, uint64_t addr_delta, int64_t line_delta)
{
	if (line_delta < LINE_BASE || line_delta >= LINE_BASE + LINE_RANGE) {
		enc_buf_u8(b, DW_LNS_advance_line);
		enc_buf_sleb(b, line_delta);
		line_delta = 0;
	}
	uint64_t special = (uint64_t)(line_delta - LINE_BASE) + LINE_RANGE * addr_delta +
			   OPCODE_BASE;
	if (addr_delta <= 255 && special <= 255) {
		enc_buf_u8(b, (uint8_t)special);
		return;
	}
	enc_buf_u8(b, DW_LNS_advance_pc);
	enc_buf_uleb(b, addr_delta);
	special = (uint64_t)(line_delta - LINE_BASE) + OPCODE_BASE;
	enc_buf_u8(b, (uint8_t)special);
}

static int encode_line(const struct rec_fn *f, struct rec_frag *out)
{
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	/* DW_LNE_set_address: extended opcode, length 9, sub-opcode, 8-byte address. */
	enc_buf_u8(&fb.b, 0);
	enc_buf_uleb(&fb.b, 9);
	enc_buf_u8(&fb.b, DW_LNE_set_address);
	enc_buf_u64(&fb.b, f->low_pc);

	uint64_t cur_file = 0; /* no row yet: the first row always sets the file */
	int64_t cur_line = 1;
	uint64_t cur_col = 0, cur_off = 0;
	int cur_stmt = 1;      /* default_is_stmt in the header */
	for (uint32_t i = 0; i < f->nrows; i++) {
		const struct rec_row *r = &f->rows[i];
		uint64_t file = rec_row_file(f, r);
		if (i == 0 || file != cur_file) {
			enc_buf_u8(&fb.b, DW_LNS_set_file);
			fb_slot(&fb, DWARF_SLOT_FILE_ULEB4, file);
			cur_file = file;
		}
		if (r->col != cur_col) {
			enc_buf_u8(&fb.b, DW_LNS_set_column);
			enc_buf_uleb(&fb.b, r->col);
			cur_col = r->col;
		}
		int stmt = (r->flags & REC_ROW_STMT) != 0;
		if (stmt != cur_stmt) {
			enc_buf_u8(&fb.b, DW_LNS_negate_stmt);
			cur_stmt = stmt;
		}
		if (r->flags & REC_ROW_PROLOGUE)
			enc_buf_u8(&fb.b, DW_LNS_set_prologue_end);
		if (r->flags & REC_ROW_EPILOGUE)
			enc_buf_u8(&fb.b, DW_LNS_set_epilogue_begin);
		put_advance_row(&fb.b, r->off - cur_off, (int64_t)r->line - cur_line);
		cur_off = r->off;
		cur_line = r->line;
	}
	/* The sequence must reach the function's end, or a consumer cannot map the last
	 * rows' addresses. */
	if (f->size > cur_off) {
		enc_buf_u8(&fb.b, DW_LNS_advance_pc);
		enc_buf_uleb(&fb.b, f->size - cur_off);
	}
	enc_buf_u8(&fb.b, 0);
	enc_buf_uleb(&fb.b, 1);
	enc_buf_u8(&fb.b, DW_LNE_end_sequence);
	return fb_finish(&fb, out);
}

int dwarf_encode_fn(struct rec_fn *f)
{
	for (uint32_t i = 1; i < f->nrows; i++)
		if (f->rows[i].off < f->rows[i - 1].off) {
			rec_frag_free(&f->info);
			rec_frag_free(&f->line_prog);
			return -EINVAL;
		}
	int rc = encode_info(f, &f->info);
	if (rc == 0)
		rc = encode_line(f, &f->line_prog);
	if (rc) {
		rec_frag_free(&f->info);
		rec_frag_free(&f->line_prog);
	}
	return rc;
}

static uint8_t base_encoding(enum rec_base_enc e)
{
	switch (e) {
	case REC_ENC_SIGNED: return DW_ATE_signed;
	case REC_ENC_UNSIGNED: return DW_ATE_unsigned;
	case REC_ENC_BOOL: return DW_ATE_boolean;
	case REC_ENC_FLOAT: return DW_ATE_float;
	case REC_ENC_SIGNED_CHAR: return DW_ATE_signed_char;
	case REC_ENC_UNSIGNED_CHAR: return DW_ATE_unsigned_char;
	}
	return DW_ATE_signed;
}

int dwarf_encode_type(struct rec_type *t)
{
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	switch (t->kind) {
	case REC_TYPE_BASE:
		enc_buf_uleb(&fb.b, AB_BASE);
		enc_buf_cstr(&fb.b, t->name ? t->name : "");
		enc_buf_u8(&fb.b, base_encoding(t->enc));
		enc_buf_uleb(&fb.b, t->size);
		break;
	case REC_TYPE_POINTER:
		enc_buf_uleb(&fb.b, t->to ? AB_POINTER : AB_POINTER_VOID);
		enc_buf_u8(&fb.b, 8);
		if (t->to)
			fb_slot(&fb, DWARF_SLOT_TYPE_REF4, t->to);
		break;
	case REC_TYPE_CONST:
		enc_buf_uleb(&fb.b, t->to ? AB_CONST : AB_CONST_VOID);
		if (t->to)
			fb_slot(&fb, DWARF_SLOT_TYPE_REF4, t->to);
		break;
	case REC_TYPE_TYPEDEF:
		enc_buf_uleb(&fb.b, t->to ? AB_TYPEDEF : AB_TYPEDEF_VOID);
		enc_buf_cstr(&fb.b, t->name ? t->name : "");
		if (t->to)
			fb_slot(&fb, DWARF_SLOT_TYPE_REF4, t->to);
		break;
	default:  /* kinds the protocol does not send yet */
		break;
	}
	return fb_finish(&fb, &t->info);
}

int dwarf_encode_global(struct rec_global *g)
{
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	enc_buf_uleb(&fb.b, g->linkage ? AB_GLOBAL_LINKAGE : AB_GLOBAL);
	enc_buf_cstr(&fb.b, g->name);
	fb_slot(&fb, DWARF_SLOT_TYPE_REF4, g->type);
	enc_buf_u8(&fb.b, g->ext);
	fb_slot(&fb, DWARF_SLOT_FILE_DATA4, g->file);
	enc_buf_u32(&fb.b, g->line);
	enc_buf_uleb(&fb.b, 9);  /* DW_OP_addr and its 8-byte operand */
	enc_buf_u8(&fb.b, DW_OP_addr);
	enc_buf_u64(&fb.b, g->addr);
	if (g->linkage)
		enc_buf_cstr(&fb.b, g->linkage);
	return fb_finish(&fb, &g->info);
}

void dwarf_put_slot(uint8_t *out, uint32_t kind, uint64_t value)
{
	if (kind == DWARF_SLOT_FILE_ULEB4)
		enc_uleb_padded(out, value, 4);
	else
		enc_u32(out, (uint32_t)value);
}

void dwarf_put_cu_header(uint8_t *out, uint64_t unit_total)
{
	enc_u32(out, (uint32_t)(unit_total - 4));
	enc_u16(out + 4, 4);
	enc_u32(out + 6, 0);  /* abbrev offset: one table for every unit */
	out[10] = 8;          /* address size */
}

static const char types_unit_name[] = "<types>";

size_t dwarf_types_unit_die_size(void)
{
	return 1 + 4 + 2 + sizeof types_unit_name;
}

void dwarf_put_types_unit_die(uint8_t *out, bool has_types)
{
	out[0] = has_types ? AB_TYPES_UNIT : AB_TYPES_UNIT_EMPTY;
	enc_u32(out + 1, 0);  /* producer: offset 0 of .debug_str */
	enc_u16(out + 5, DW_LANG_C99);
	memcpy(out + 7, types_unit_name, sizeof types_unit_name);
}

size_t dwarf_cu_die_size(const char *name, const char *comp_dir)
{
	return 1 + 4 + 2 + strlen(name) + 1 + 4 + strlen(comp_dir ? comp_dir : "") + 1;
}

void dwarf_put_cu_die(uint8_t *out, const char *name, const char *comp_dir, uint32_t stmt_list)
{
	size_t n = strlen(name) + 1, d = strlen(comp_dir ? comp_dir : "") + 1;
	out[0] = AB_CU;
	enc_u32(out + 1, 0);
	enc_u16(out + 5, DW_LANG_C99);
	memcpy(out + 7, name, n);
	enc_u32(out + 7 + n, stmt_list);
	memcpy(out + 11 + n, comp_dir ? comp_dir : "", d);
}

uint8_t *dwarf_line_tables(const struct rec_file *const *files, size_t nfiles, size_t *len)
{
	struct enc_buf b;
	enc_buf_init(&b);
	/* include_directories: each distinct dir once, in first-use order. A linear search
	 * keeps this simple; file tables change rarely and are rebuilt only then. */
	size_t *dir_index = calloc(nfiles ? nfiles : 1, sizeof *dir_index);
	if (!dir_index)
		return NULL;
	size_t ndirs = 0;
	for (size_t i = 0; i < nfiles; i++) {
		const char *dir = files[i]->dir;
		if (!dir || !*dir)
			continue;
		size_t j;
		for (j = 0; j < i; j++)
			if (files[j]->dir && strcmp(files[j]->dir, dir) == 0 && dir_index[j])
				break;
		if (j < i) {
			dir_index[i] = dir_index[j];
		} else {
			dir_index[i] = ++ndirs;
			enc_buf_cstr(&b, dir);
		}
	}
	enc_buf_u8(&b, 0);
	for (size_t i = 0; i < nfiles; i++) {
		enc_buf_cstr(&b, files[i]->path);
		enc_buf_uleb(&b, dir_index[i]);
		enc_buf_uleb(&b, 0);  /* mtime: unknown */
		enc_buf_uleb(&b, 0);  /* length: unknown */
	}
	enc_buf_u8(&b, 0);
	free(dir_index);
	return enc_buf_take(&b, len);
}

/* unit_length, version, header_length, then six one-byte fields and the standard opcode
 * lengths. */
#define LINE_PREFIX_SIZE (4 + 2 + 4 + 6 + (OPCODE_BASE - 1))

size_t dwarf_line_header_prefix_size(void)
{
	return LINE_PREFIX_SIZE;
}

void dwarf_put_line_header_prefix(uint8_t *out, uint64_t program_total, uint64_t tables_len)
{
	static const uint8_t std_opcode_lengths[OPCODE_BASE - 1] = {0, 1, 1, 1, 1, 0,
								      0, 0, 1, 0, 0, 1};
	enc_u32(out, (uint32_t)(program_total - 4));
	enc_u16(out + 4, 4);
	/* header_length counts from after itself to the first opcode. */
	enc_u32(out + 6, (uint32_t)(LINE_PREFIX_SIZE - 10 + tables_len));
	out[10] = 1;                  /* minimum_instruction_length */
	out[11] = 1;                  /* maximum_operations_per_instruction */
	out[12] = 1;                  /* default_is_stmt */
	out[13] = (uint8_t)LINE_BASE; /* line_base, signed */
	out[14] = LINE_RANGE;
	out[15] = OPCODE_BASE;
	memcpy(out + 16, std_opcode_lengths, sizeof std_opcode_lengths);
}

void dwarf_put_aranges_header(uint8_t *out, uint32_t cu_offset, uint64_t ntuples)
{
	uint64_t total = DWARF_ARANGES_HEADER_SIZE + (ntuples + 1) * DWARF_ARANGES_TUPLE_SIZE;
	enc_u32(out, (uint32_t)(total - 4));
	enc_u16(out + 4, 2);
	enc_u32(out + 6, cu_offset);
	out[10] = 8;  /* address size */
	out[11] = 0;  /* segment selector size */
	memset(out + 12, 0, 4);  /* tuples start at a multiple of 2 * address size */
}

void dwarf_put_aranges_tuple(uint8_t *out, uint64_t addr, uint64_t len)
{
	enc_u64(out, addr);
	enc_u64(out + 8, len);
}
