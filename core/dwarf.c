/* DWARF 4 encoders. See dwarf.h for the slot scheme and the unit layout. */
#include "dwarf.h"

#include <errno.h>
#include <pthread.h>
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
	DW_TAG_structure_type = 0x13,
	DW_TAG_union_type = 0x17,
	DW_TAG_member = 0x0d,
	DW_TAG_enumeration_type = 0x04,
	DW_TAG_enumerator = 0x28,
	DW_TAG_array_type = 0x01,
	DW_TAG_subrange_type = 0x21,
	DW_TAG_subroutine_type = 0x15,
	DW_TAG_unspecified_parameters = 0x18,
	DW_TAG_volatile_type = 0x35,
	DW_TAG_restrict_type = 0x37,
	DW_TAG_lexical_block = 0x0b,
	DW_TAG_inlined_subroutine = 0x1d,

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
	DW_AT_const_value = 0x1c,
	DW_AT_count = 0x37,
	DW_AT_data_member_location = 0x38,
	DW_AT_declaration = 0x3c,
	DW_AT_bit_size = 0x0d,
	DW_AT_data_bit_offset = 0x6b,
	DW_AT_alignment = 0x88,
	DW_AT_frame_base = 0x40,
	DW_AT_inline = 0x20,
	DW_AT_abstract_origin = 0x31,
	DW_AT_ranges = 0x55,
	DW_AT_call_column = 0x57,
	DW_AT_call_file = 0x58,
	DW_AT_call_line = 0x59,
	DW_AT_noreturn = 0x87,
	DW_AT_APPLE_optimized = 0x3fe1,

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
	DW_FORM_sdata = 0x0d,
	DW_FORM_block = 0x09,

	DW_OP_addr = 0x03,
	DW_OP_reg0 = 0x50,
	DW_OP_breg0 = 0x70,
	DW_OP_regx = 0x90,
	DW_OP_fbreg = 0x91,
	DW_OP_bregx = 0x92,
	DW_OP_consts = 0x11,
	DW_OP_stack_value = 0x9f,

	DW_INL_inlined = 1,

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

/* Abbreviation codes. The fixed ones come first, in the order of fixed_abbrevs; then
 * the families, each a block of 2^bits codes: a family's variant m (a mask of the
 * optional attributes it carries) has code base + m. */
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
	AB_ENUMERATOR_S,          /* const_value sdata */
	AB_ENUMERATOR_U,          /* udata */
	AB_ENUMERATOR_B,          /* block: a value past 64 bits */
	AB_TYPE_PARAM,            /* a subroutine type's parameter: its type only */
	AB_UNSPECIFIED,
	AB_INDEX_TYPE,            /* __ARRAY_SIZE_TYPE__ */
	AB_TYPES_UNIT_LINES,      /* the declarations unit, with a line table for decl_file */
	AB_BASE_ALIGN,            /* a base type with DW_AT_alignment */
	AB_FIXED_END,
};

/* Family variant bits. */
enum {
	AGG_NAME = 1, AGG_SIZE = 2, AGG_DECL = 4, AGG_DECLARATION = 8, AGG_ALIGN = 16,
	AGG_CHILDREN = 32,
	MEM_NAME = 1, MEM_BITS = 2,
	ENUM_TYPE = 1, ENUM_NAME = 2, ENUM_DECL = 4, ENUM_ALIGN = 8, ENUM_CHILDREN = 16,
	ARR_TYPE = 1, ARR_ALIGN = 2, ARR_CHILDREN = 4,
	SUB_COUNT = 1,
	FN_PROTOTYPED = 1, FN_TYPE = 2, FN_CHILDREN = 4,
	MOD_NAME = 1, MOD_TYPE = 2, MOD_DECL = 4, MOD_ALIGN = 8,
	SP_ABSTRACT = 1, SP_FRAME = 2, SP_LINKAGE = 4, SP_PROTO = 8, SP_TYPE = 16, SP_OPT = 32,
	SP_NORET = 64, SP_CHILDREN = 128,
	/* A parameter or variable; its location is a field of three bits. */
	V_NAME = 1, V_TYPE = 2, V_DECL = 4, V_ORIGIN = 8, V_LOC_MASK = 0x70,
	V_LOC_EXPR = 0x10, V_LOC_LIST = 0x20, V_CONST_S = 0x30, V_CONST_U = 0x40,
	BL_RANGES = 1, BL_CHILDREN = 2,
	IN_RANGES = 1, IN_CHILDREN = 2, IN_COL = 4,
};

enum family {
	FAM_STRUCT, FAM_UNION, FAM_MEMBER, FAM_ENUM, FAM_ARRAY, FAM_SUBRANGE, FAM_SUBROUTINE,
	FAM_POINTER, FAM_CONST, FAM_VOLATILE, FAM_RESTRICT, FAM_TYPEDEF, FAM_SUBPROGRAM,
	FAM_PARAM, FAM_VAR, FAM_BLOCK, FAM_INLINED, FAM_COUNT,
};

#define CHILDREN_BIT 0xffffu   /* in attr_spec.at: the variant bit that gives children */

/* An attribute of variant m when (m & mask) == value: {0, 0} always, {b, b} with bit b,
 * {b, 0} without it, and a wider mask selects one value of a field of bits. */
struct attr_spec {
	uint16_t mask, value;
	uint16_t at;
	uint8_t form;
};

struct family_spec {
	uint8_t tag;
	uint8_t bits;      /* 2^bits variants */
	struct attr_spec attrs[16];  /* ends at at == 0; at == CHILDREN_BIT: the children bit */
};

#define DECL_ATTRS(b) {b, b, DW_AT_decl_file, DW_FORM_data4}, \
		      {b, b, DW_AT_decl_line, DW_FORM_data4}
#define AGG_FAMILY(tag) {tag, 6, { \
	{AGG_NAME, AGG_NAME, DW_AT_name, DW_FORM_string}, \
	{AGG_SIZE, AGG_SIZE, DW_AT_byte_size, DW_FORM_udata}, \
	DECL_ATTRS(AGG_DECL), \
	{AGG_DECLARATION, AGG_DECLARATION, DW_AT_declaration, DW_FORM_flag_present}, \
	{AGG_ALIGN, AGG_ALIGN, DW_AT_alignment, DW_FORM_udata}, \
	{AGG_CHILDREN, AGG_CHILDREN, CHILDREN_BIT, 0}}}
#define MOD_ATTRS \
	{MOD_NAME, MOD_NAME, DW_AT_name, DW_FORM_string}, \
	{MOD_TYPE, MOD_TYPE, DW_AT_type, DW_FORM_ref_addr}, \
	DECL_ATTRS(MOD_DECL), \
	{MOD_ALIGN, MOD_ALIGN, DW_AT_alignment, DW_FORM_udata}
#define MOD_FAMILY(tag) {tag, 4, {MOD_ATTRS}}
#define VAR_FAMILY(tag) {tag, 7, { \
	{V_ORIGIN, V_ORIGIN, DW_AT_abstract_origin, DW_FORM_ref_addr}, \
	{V_NAME, V_NAME, DW_AT_name, DW_FORM_string}, \
	{V_TYPE, V_TYPE, DW_AT_type, DW_FORM_ref_addr}, \
	DECL_ATTRS(V_DECL), \
	{V_LOC_MASK, V_LOC_EXPR, DW_AT_location, DW_FORM_exprloc}, \
	{V_LOC_MASK, V_LOC_LIST, DW_AT_location, DW_FORM_sec_offset}, \
	{V_LOC_MASK, V_CONST_S, DW_AT_const_value, DW_FORM_sdata}, \
	{V_LOC_MASK, V_CONST_U, DW_AT_const_value, DW_FORM_udata}}}
#define PC_ATTRS(b) {b, 0, DW_AT_low_pc, DW_FORM_addr}, \
		    {b, 0, DW_AT_high_pc, DW_FORM_data8}, \
		    {b, b, DW_AT_ranges, DW_FORM_sec_offset}

static const struct family_spec families[FAM_COUNT] = {
	[FAM_STRUCT] = AGG_FAMILY(DW_TAG_structure_type),
	[FAM_UNION] = AGG_FAMILY(DW_TAG_union_type),
	[FAM_MEMBER] = {DW_TAG_member, 2, {
		{MEM_NAME, MEM_NAME, DW_AT_name, DW_FORM_string},
		{0, 0, DW_AT_type, DW_FORM_ref_addr},
		{MEM_BITS, 0, DW_AT_data_member_location, DW_FORM_udata},
		{MEM_BITS, MEM_BITS, DW_AT_bit_size, DW_FORM_udata},
		{MEM_BITS, MEM_BITS, DW_AT_data_bit_offset, DW_FORM_udata}}},
	[FAM_ENUM] = {DW_TAG_enumeration_type, 5, {
		{ENUM_TYPE, ENUM_TYPE, DW_AT_type, DW_FORM_ref_addr},
		{ENUM_NAME, ENUM_NAME, DW_AT_name, DW_FORM_string},
		{0, 0, DW_AT_byte_size, DW_FORM_udata},
		DECL_ATTRS(ENUM_DECL),
		{ENUM_ALIGN, ENUM_ALIGN, DW_AT_alignment, DW_FORM_udata},
		{ENUM_CHILDREN, ENUM_CHILDREN, CHILDREN_BIT, 0}}},
	[FAM_ARRAY] = {DW_TAG_array_type, 3, {
		{ARR_TYPE, ARR_TYPE, DW_AT_type, DW_FORM_ref_addr},
		{ARR_ALIGN, ARR_ALIGN, DW_AT_alignment, DW_FORM_udata},
		{ARR_CHILDREN, ARR_CHILDREN, CHILDREN_BIT, 0}}},
	[FAM_SUBRANGE] = {DW_TAG_subrange_type, 1, {
		{0, 0, DW_AT_type, DW_FORM_ref_addr},
		{SUB_COUNT, SUB_COUNT, DW_AT_count, DW_FORM_udata}}},
	[FAM_SUBROUTINE] = {DW_TAG_subroutine_type, 3, {
		{FN_PROTOTYPED, FN_PROTOTYPED, DW_AT_prototyped, DW_FORM_flag_present},
		{FN_TYPE, FN_TYPE, DW_AT_type, DW_FORM_ref_addr},
		{FN_CHILDREN, FN_CHILDREN, CHILDREN_BIT, 0}}},
	[FAM_POINTER] = {DW_TAG_pointer_type, 4, {
		{0, 0, DW_AT_byte_size, DW_FORM_data1}, MOD_ATTRS}},
	[FAM_CONST] = MOD_FAMILY(DW_TAG_const_type),
	[FAM_VOLATILE] = MOD_FAMILY(DW_TAG_volatile_type),
	[FAM_RESTRICT] = MOD_FAMILY(DW_TAG_restrict_type),
	[FAM_TYPEDEF] = MOD_FAMILY(DW_TAG_typedef),
	[FAM_SUBPROGRAM] = {DW_TAG_subprogram, 8, {
		{0, 0, DW_AT_name, DW_FORM_string},
		{SP_LINKAGE, SP_LINKAGE, DW_AT_linkage_name, DW_FORM_string},
		{SP_ABSTRACT, 0, DW_AT_low_pc, DW_FORM_addr},
		{SP_ABSTRACT, 0, DW_AT_high_pc, DW_FORM_data8},
		{SP_FRAME, SP_FRAME, DW_AT_frame_base, DW_FORM_exprloc},
		DECL_ATTRS(0),
		{SP_PROTO, SP_PROTO, DW_AT_prototyped, DW_FORM_flag_present},
		{SP_TYPE, SP_TYPE, DW_AT_type, DW_FORM_ref_addr},
		{SP_OPT, SP_OPT, DW_AT_APPLE_optimized, DW_FORM_flag_present},
		{SP_NORET, SP_NORET, DW_AT_noreturn, DW_FORM_flag_present},
		{SP_ABSTRACT, SP_ABSTRACT, DW_AT_inline, DW_FORM_data1},
		{SP_CHILDREN, SP_CHILDREN, CHILDREN_BIT, 0}}},
	[FAM_PARAM] = VAR_FAMILY(DW_TAG_formal_parameter),
	[FAM_VAR] = VAR_FAMILY(DW_TAG_variable),
	[FAM_BLOCK] = {DW_TAG_lexical_block, 2, {
		PC_ATTRS(BL_RANGES),
		{BL_CHILDREN, BL_CHILDREN, CHILDREN_BIT, 0}}},
	[FAM_INLINED] = {DW_TAG_inlined_subroutine, 3, {
		{0, 0, DW_AT_abstract_origin, DW_FORM_ref_addr},
		PC_ATTRS(IN_RANGES),
		{0, 0, DW_AT_call_file, DW_FORM_data4},
		{0, 0, DW_AT_call_line, DW_FORM_data4},
		{IN_COL, IN_COL, DW_AT_call_column, DW_FORM_data4},
		{IN_CHILDREN, IN_CHILDREN, CHILDREN_BIT, 0}}},
};

/* First code of each family, in table order after the fixed codes. */
static uint32_t family_base(enum family f)
{
	uint32_t code = AB_FIXED_END;  /* see enum abbrev */
	for (int i = 0; i < (int)f; i++)
		code += 1u << families[i].bits;
	return code;
}

static uint32_t ab_code(enum family f, unsigned mask)
{
	return family_base(f) + mask;
}

/* The fixed abbreviations: code, tag, children, (attribute, form) pairs, 0 0, each a
 * one-byte ULEB128 but DW_AT_alignment's (two bytes). */
static const uint8_t fixed_abbrevs[] = {
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
	AB_ENUMERATOR_S, DW_TAG_enumerator, 0,
		DW_AT_name, DW_FORM_string, DW_AT_const_value, DW_FORM_sdata, 0, 0,
	AB_ENUMERATOR_U, DW_TAG_enumerator, 0,
		DW_AT_name, DW_FORM_string, DW_AT_const_value, DW_FORM_udata, 0, 0,
	AB_ENUMERATOR_B, DW_TAG_enumerator, 0,
		DW_AT_name, DW_FORM_string, DW_AT_const_value, DW_FORM_block, 0, 0,
	AB_TYPE_PARAM, DW_TAG_formal_parameter, 0, DW_AT_type, DW_FORM_ref_addr, 0, 0,
	AB_UNSPECIFIED, DW_TAG_unspecified_parameters, 0, 0, 0,
	AB_INDEX_TYPE, DW_TAG_base_type, 0,
		DW_AT_name, DW_FORM_string, DW_AT_byte_size, DW_FORM_data1,
		DW_AT_encoding, DW_FORM_data1, 0, 0,
	AB_TYPES_UNIT_LINES, DW_TAG_compile_unit, 1,
		DW_AT_producer, DW_FORM_strp, DW_AT_language, DW_FORM_data2,
		DW_AT_name, DW_FORM_string, DW_AT_stmt_list, DW_FORM_sec_offset, 0, 0,
	AB_BASE_ALIGN, DW_TAG_base_type, 0,
		DW_AT_name, DW_FORM_string, DW_AT_encoding, DW_FORM_data1,
		DW_AT_byte_size, DW_FORM_udata, (DW_AT_alignment & 0x7f) | 0x80, DW_AT_alignment >> 7,
		DW_FORM_udata, 0, 0,
};

/* The whole table, built once: the fixed part, then every variant of every family. */
static struct {
	pthread_once_t once;
	uint8_t *bytes;
	size_t len;
} abbrevs = {PTHREAD_ONCE_INIT, NULL, 0};

static void build_abbrevs(void)
{
	struct enc_buf b;
	enc_buf_init(&b);
	enc_buf_put(&b, fixed_abbrevs, sizeof fixed_abbrevs);
	for (int f = 0; f < FAM_COUNT; f++) {
		const struct family_spec *fs = &families[f];
		for (unsigned m = 0; m < 1u << fs->bits; m++) {
			enc_buf_uleb(&b, ab_code((enum family)f, m));
			enc_buf_uleb(&b, fs->tag);
			uint8_t children = 0;
			for (const struct attr_spec *a = fs->attrs; a->at; a++)
				if (a->at == CHILDREN_BIT && (m & a->mask) == a->value)
					children = 1;
			enc_buf_u8(&b, children);
			for (const struct attr_spec *a = fs->attrs; a->at; a++) {
				if (a->at == CHILDREN_BIT || (m & a->mask) != a->value)
					continue;
				enc_buf_uleb(&b, a->at);
				enc_buf_uleb(&b, a->form);
			}
			enc_buf_u8(&b, 0);
			enc_buf_u8(&b, 0);
		}
	}
	enc_buf_u8(&b, 0);
	/* An empty table tells the caller the allocation failed (see dwarf.h). */
	abbrevs.bytes = enc_buf_take(&b, &abbrevs.len);
	if (!abbrevs.bytes)
		abbrevs.len = 0;
}

const uint8_t *dwarf_abbrev_bytes(size_t *len)
{
	pthread_once(&abbrevs.once, build_abbrevs);
	*len = abbrevs.len;
	return abbrevs.bytes;
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

/* A slot whose placeholder bytes carry a value the resolver reads (see dwarf.h). */
static void fb_slot_val(struct frag_builder *fb, uint32_t kind, uint64_t ref, uint32_t held)
{
	fb_slot(fb, kind, ref);
	if (!fb->failed && !fb->b.failed)
		enc_u32(fb->b.data + fb->b.len - 4, held);
}

/* An 8-byte pc slot: the function's low_pc plus off, filled in when the bytes are read,
 * so that a moved function's fragments stay valid as they are. */
static void fb_pc(struct frag_builder *fb, uint64_t off)
{
	if (util_grow(&fb->slots, &fb->cap, (size_t)fb->nslots + 1, sizeof *fb->slots)) {
		fb->failed = 1;
		return;
	}
	fb->slots[fb->nslots++] = (struct rec_slot){(uint32_t)fb->b.len, DWARF_SLOT_PC8, off};
	enc_buf_u64(&fb->b, 0);
}

/* A slot of no bytes (DWARF_SLOT_MARK, DWARF_SLOT_DIE): where a DIE starts. */
static void fb_mark_kind(struct frag_builder *fb, uint32_t kind, uint64_t ref)
{
	if (util_grow(&fb->slots, &fb->cap, (size_t)fb->nslots + 1, sizeof *fb->slots)) {
		fb->failed = 1;
		return;
	}
	fb->slots[fb->nslots++] = (struct rec_slot){(uint32_t)fb->b.len, kind, ref};
}

/* Where child `ordinal` of an abstract function's DIE starts. */
static void fb_mark(struct frag_builder *fb, uint64_t ordinal)
{
	fb_mark_kind(fb, DWARF_SLOT_MARK, ordinal);
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

static void put_decl(struct frag_builder *fb, uint64_t file, uint32_t line)
{
	fb_slot(fb, DWARF_SLOT_FILE_DATA4, file);
	enc_buf_u32(&fb->b, line);
}

static bool has_name(const char *name)
{
	return name && *name;
}

/* Writes the operations of a location (ops_size(l) bytes) at out: nothing for none or
 * a list; for a constant, the value pushed as a stack value (lists only). */
static void put_ops_at(uint8_t *out, const struct rec_loc *l)
{
	switch (l->kind) {
	case REC_LOC_FBREG:
		*out++ = DW_OP_fbreg;
		enc_sleb(out, l->value);
		break;
	case REC_LOC_REG:
		if (l->reg < 32) {
			*out = (uint8_t)(DW_OP_reg0 + l->reg);
		} else {
			*out++ = DW_OP_regx;
			enc_uleb(out, l->reg);
		}
		break;
	case REC_LOC_BREG:
		if (l->reg < 32) {
			*out++ = (uint8_t)(DW_OP_breg0 + l->reg);
		} else {
			*out++ = DW_OP_bregx;
			out += enc_uleb(out, l->reg);
		}
		enc_sleb(out, l->value);
		break;
	case REC_LOC_ADDR:
		*out++ = DW_OP_addr;
		enc_u64(out, (uint64_t)l->value);
		break;
	case REC_LOC_CONST:
		*out++ = DW_OP_consts;
		out += enc_sleb(out, l->value);
		*out = DW_OP_stack_value;
		break;
	case REC_LOC_EXPR:
		if (l->len)
			memcpy(out, l->bytes, l->len);
		break;
	case REC_LOC_NONE:
	case REC_LOC_LIST:
		break;
	}
}

/* The size of put_ops's bytes for l. */
static size_t ops_size(const struct rec_loc *l)
{
	switch (l->kind) {
	case REC_LOC_FBREG: return 1 + enc_sleb_size(l->value);
	case REC_LOC_REG: return l->reg < 32 ? 1 : 1 + enc_uleb_size(l->reg);
	case REC_LOC_BREG:
		return (l->reg < 32 ? 1 : 1 + enc_uleb_size(l->reg)) + enc_sleb_size(l->value);
	case REC_LOC_ADDR: return 9;
	case REC_LOC_CONST: return 2 + enc_sleb_size(l->value);
	case REC_LOC_EXPR: return l->len;
	case REC_LOC_NONE:
	case REC_LOC_LIST: return 0;
	}
	return 0;
}

/* An exprloc: the length of the operations, then them. */
static void put_exprloc(struct enc_buf *b, const struct rec_loc *l)
{
	size_t n = ops_size(l);
	enc_buf_uleb(b, n);
	uint8_t *p = n ? enc_buf_grow(b, n) : NULL;
	if (p)
		put_ops_at(p, l);
}

/* The location field of a parameter's or variable's variant. A constant's form follows
 * its sign: its type is not known here, and lldb reads the value through the type
 * either way. */
static unsigned loc_variant(const struct rec_loc *l)
{
	switch (l->kind) {
	case REC_LOC_NONE:
		return 0;
	case REC_LOC_LIST:
		return V_LOC_LIST;
	case REC_LOC_CONST:
		return l->value < 0 ? V_CONST_S : V_CONST_U;
	default:
		return V_LOC_EXPR;
	}
}

/* list_off: where a list's bytes start in the function's .debug_loc part. */
static void put_loc_attr(struct frag_builder *fb, const struct rec_loc *l, unsigned variant,
			 uint64_t list_off)
{
	if (variant == V_LOC_LIST)
		fb_slot(fb, DWARF_SLOT_LOC4, list_off);
	else if (variant == V_LOC_EXPR)
		put_exprloc(&fb->b, l);
	else if (variant == V_CONST_S)
		enc_buf_sleb(&fb->b, l->value);
	else if (variant == V_CONST_U)
		enc_buf_uleb(&fb->b, (uint64_t)l->value);
}

/* A parameter or variable DIE. origin != 0 makes it the concrete instance of a child of
 * abstract function `origin`, found by the name and line of this function's var_index-th
 * variable when the bytes are read; it then carries its location only. */
static void put_var(struct frag_builder *fb, enum family fam, const char *name, uint64_t type,
		    const struct rec_loc *loc, uint32_t line, uint64_t file, uint64_t origin,
		    uint32_t var_index, uint64_t list_off)
{
	unsigned lv = loc_variant(loc);
	unsigned mask = lv | (origin ? V_ORIGIN
				     : (has_name(name) ? V_NAME : 0) | (type ? V_TYPE : 0) |
				       (line ? V_DECL : 0));
	if (origin) {
		/* The tag follows the origin's child (a parameter's instance is one too). */
		if (util_grow(&fb->slots, &fb->cap, (size_t)fb->nslots + 1, sizeof *fb->slots))
			fb->failed = 1;
		else
			fb->slots[fb->nslots++] = (struct rec_slot){(uint32_t)fb->b.len,
								    DWARF_SLOT_ORIGIN_CODE2, origin};
		enc_buf_uleb(&fb->b, ab_code(FAM_VAR, mask));  /* two bytes: codes past 127 */
		fb_slot_val(fb, DWARF_SLOT_ORIGIN_VAR4, origin, var_index);
	} else {
		enc_buf_uleb(&fb->b, ab_code(fam, mask));
	}
	if (mask & V_NAME)
		enc_buf_cstr(&fb->b, name);
	if (mask & V_TYPE)
		fb_slot(fb, DWARF_SLOT_TYPE_REF4, type);
	if (mask & V_DECL)
		put_decl(fb, file, line);
	put_loc_attr(fb, loc, lv, list_off);
}

/* .debug_loc and .debug_ranges (DWARF 4, 2.6.2 and 2.17.3): each list opens with a base
 * address selection entry (all ones, then the function's low_pc), so its entries are
 * the records' own offsets from low_pc, and ends with a (0, 0) entry. A location list
 * entry's expression length is 2 bytes: a longer expression is written empty. */
#define LIST_PAIR 16u
#define LOC_EXPR_MAX 0xffffu

static size_t loc_entry_ops(const struct rec_loc *l)
{
	size_t n = ops_size(l);
	return n > LOC_EXPR_MAX ? 0 : n;
}

static uint64_t loc_list_size(const struct rec_loc *l)
{
	if (l->kind != REC_LOC_LIST)
		return 0;
	uint64_t n = 2 * LIST_PAIR;
	for (uint32_t i = 0; i < l->len; i++)
		n += LIST_PAIR + 2 + loc_entry_ops(&l->entries[i].loc);
	return n;
}

static uint64_t range_list_size(const struct rec_block *bl)
{
	return bl->nranges > 1 ? (2 + (uint64_t)bl->nranges) * LIST_PAIR : 0;
}

uint64_t dwarf_fn_loc_size(const struct rec_fn *f)
{
	if (f->abstract)
		return 0;
	uint64_t n = 0;
	for (uint32_t i = 0; i < f->nparams; i++)
		n += loc_list_size(&f->params[i].loc);
	for (uint32_t i = 0; i < f->nvars; i++)
		n += loc_list_size(&f->vars[i].loc);
	return n;
}

uint64_t dwarf_fn_ranges_size(const struct rec_fn *f)
{
	if (f->abstract)
		return 0;
	uint64_t n = 0;
	for (uint32_t k = 0; k < f->nblocks; k++)
		n += range_list_size(&f->blocks[k]);
	return n;
}

static uint8_t *put_pair(uint8_t *out, uint64_t a, uint64_t b)
{
	enc_u64(out, a);
	enc_u64(out + 8, b);
	return out + LIST_PAIR;
}

static uint8_t *put_loc_list(uint8_t *out, const struct rec_fn *f, const struct rec_loc *l)
{
	if (l->kind != REC_LOC_LIST)
		return out;
	out = put_pair(out, UINT64_MAX, f->low_pc);
	for (uint32_t i = 0; i < l->len; i++) {
		const struct rec_loc_entry *e = &l->entries[i];
		out = put_pair(out, e->from, e->to);
		size_t n = loc_entry_ops(&e->loc);
		enc_u16(out, (uint16_t)n);
		out += 2;
		if (n)
			put_ops_at(out, &e->loc);
		out += n;
	}
	return put_pair(out, 0, 0);
}

void dwarf_put_fn_loc(const struct rec_fn *f, uint8_t *out)
{
	if (f->abstract)
		return;
	for (uint32_t i = 0; i < f->nparams; i++)
		out = put_loc_list(out, f, &f->params[i].loc);
	for (uint32_t i = 0; i < f->nvars; i++)
		out = put_loc_list(out, f, &f->vars[i].loc);
}

void dwarf_put_fn_ranges(const struct rec_fn *f, uint8_t *out)
{
	if (f->abstract)
		return;
	for (uint32_t k = 0; k < f->nblocks; k++) {
		const struct rec_block *bl = &f->blocks[k];
		if (bl->nranges < 2)
			continue;
		out = put_pair(out, UINT64_MAX, f->low_pc);
		for (uint32_t i = 0; i < bl->nranges; i++)
			out = put_pair(out, bl->ranges[i].from, bl->ranges[i].to);
		out = put_pair(out, 0, 0);
	}
}

/* A function that the fixed abbreviations describe: what every image had before rich
 * debug info, encoded as it always was. */
static bool fn_is_plain(const struct rec_fn *f)
{
	if (f->abstract || f->frame_base.kind != REC_LOC_NONE || f->linkage || f->unprototyped ||
	    f->optimized || f->noreturn || f->variadic || f->nvars || f->nblocks)
		return false;
	for (uint32_t i = 0; i < f->nparams; i++)
		if (!has_name(f->params[i].name) || f->params[i].loc.kind != REC_LOC_NONE ||
		    f->params[i].line)
			return false;
	return true;
}

static int encode_plain(const struct rec_fn *f, struct rec_frag *out)
{
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	bool leaf = f->nparams == 0;
	enc_buf_uleb(&fb.b, f->ret ? (leaf ? AB_SUBPROGRAM_LEAF : AB_SUBPROGRAM)
				   : (leaf ? AB_SUBPROGRAM_VOID_LEAF : AB_SUBPROGRAM_VOID));
	enc_buf_cstr(&fb.b, f->name);
	fb_pc(&fb, 0);
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

/* The blocks' tree: each scope's first child block and variable, and their next
 * siblings (1-based indexes, 0: none; scope 0 is the function), in record order. */
struct scopes {
	uint32_t *first_block, *next_block, *first_var, *next_var, *cursor, *stack;
	uint64_t *origin;   /* the nearest enclosing inlined block's origin; 0: none */
	uint64_t *var_list, *block_list;  /* where each one's list starts in the function's
					   * .debug_loc / .debug_ranges part */
};

static void scopes_free(struct scopes *sc)
{
	free(sc->first_block);
	free(sc->next_block);
	free(sc->first_var);
	free(sc->next_var);
	free(sc->cursor);
	free(sc->stack);
	free(sc->origin);
	free(sc->var_list);
	free(sc->block_list);
}

/* A parent or block index that does not name an earlier block (the commit refuses it)
 * is taken as the function's own scope. */
static int scopes_build(const struct rec_fn *f, struct scopes *sc)
{
	size_t nb = (size_t)f->nblocks + 1, nv = (size_t)f->nvars + 1;
	sc->first_block = calloc(nb, sizeof *sc->first_block);
	sc->next_block = calloc(nb, sizeof *sc->next_block);
	sc->first_var = calloc(nb, sizeof *sc->first_var);
	sc->next_var = calloc(nv, sizeof *sc->next_var);
	sc->cursor = calloc(nb, sizeof *sc->cursor);
	sc->stack = calloc(nb, sizeof *sc->stack);
	sc->origin = calloc(nb, sizeof *sc->origin);
	sc->var_list = calloc(nv, sizeof *sc->var_list);
	sc->block_list = calloc(nb, sizeof *sc->block_list);
	if (!sc->first_block || !sc->next_block || !sc->first_var || !sc->next_var ||
	    !sc->cursor || !sc->stack || !sc->origin || !sc->var_list || !sc->block_list)
		return -ENOMEM;
	uint64_t off = 0;
	for (uint32_t i = 0; i < f->nparams; i++)
		off += loc_list_size(&f->params[i].loc);
	for (uint32_t i = 0; i < f->nvars; i++) {
		sc->var_list[i] = off;
		off += loc_list_size(&f->vars[i].loc);
	}
	off = 0;
	for (uint32_t k = 1; k <= f->nblocks; k++) {
		sc->block_list[k] = off;
		off += range_list_size(&f->blocks[k - 1]);
	}
	for (uint32_t k = f->nblocks; k >= 1; k--) {
		uint32_t p = f->blocks[k - 1].parent < k ? f->blocks[k - 1].parent : 0;
		sc->next_block[k] = sc->first_block[p];
		sc->first_block[p] = k;
	}
	for (uint32_t k = 1; k <= f->nblocks; k++) {
		const struct rec_block *bl = &f->blocks[k - 1];
		uint32_t p = bl->parent < k ? bl->parent : 0;
		sc->origin[k] = bl->origin ? bl->origin : sc->origin[p];
	}
	for (uint32_t i = f->nvars; i >= 1; i--) {
		uint32_t b = f->vars[i - 1].block <= f->nblocks ? f->vars[i - 1].block : 0;
		sc->next_var[i] = sc->first_var[b];
		sc->first_var[b] = i;
	}
	return 0;
}

/* The variables of scope s. In an inlined scope a variable without a type is the
 * concrete instance of its origin's parameter or local of that name. */
static void put_scope_vars(struct frag_builder *fb, const struct rec_fn *f,
			   const struct scopes *sc, uint32_t s)
{
	for (uint32_t i = sc->first_var[s]; i; i = sc->next_var[i]) {
		const struct rec_var *v = &f->vars[i - 1];
		uint64_t origin = v->type ? 0 : sc->origin[s];
		if (dwarf_var_indexed(v))
			fb_mark_kind(fb, DWARF_SLOT_DIE, DWARF_DIE_VAR | (i - 1));
		put_var(fb, FAM_VAR, v->name, v->type, &v->loc, v->line, f->file, origin, i - 1,
			sc->var_list[i - 1]);
	}
}

/* A block's pcs: low_pc and high_pc for one range, else its list in .debug_ranges. */
static void put_block_pcs(struct frag_builder *fb, const struct rec_block *bl, uint64_t list_off)
{
	if (bl->nranges > 1) {
		fb_slot(fb, DWARF_SLOT_RANGES4, list_off);
		return;
	}
	uint64_t from = bl->nranges ? bl->ranges[0].from : 0;
	uint64_t to = bl->nranges ? bl->ranges[0].to : 0;
	fb_pc(fb, from);
	enc_buf_u64(&fb->b, to - from);
}

/* A block's DIE up to its children. */
static void put_block(struct frag_builder *fb, const struct rec_fn *f, const struct scopes *sc,
		      uint32_t k)
{
	const struct rec_block *bl = &f->blocks[k - 1];
	bool children = sc->first_block[k] || sc->first_var[k];
	bool ranges = bl->nranges > 1;
	if (bl->origin) {
		fb_mark_kind(fb, DWARF_SLOT_DIE, k);
		unsigned mask = (children ? IN_CHILDREN : 0) | (bl->call_col ? IN_COL : 0) |
				(ranges ? IN_RANGES : 0);
		enc_buf_uleb(&fb->b, ab_code(FAM_INLINED, mask));
		fb_slot(fb, DWARF_SLOT_ORIGIN4, bl->origin);
		put_block_pcs(fb, bl, sc->block_list[k]);
		fb_slot(fb, DWARF_SLOT_FILE_DATA4, bl->call_file ? bl->call_file : f->file);
		enc_buf_u32(&fb->b, bl->call_line);
		if (bl->call_col)
			enc_buf_u32(&fb->b, bl->call_col);
	} else {
		unsigned mask = (children ? BL_CHILDREN : 0) | (ranges ? BL_RANGES : 0);
		enc_buf_uleb(&fb->b, ab_code(FAM_BLOCK, mask));
		put_block_pcs(fb, bl, sc->block_list[k]);
	}
}

/* The subprogram DIE and everything under it: parameters, variables and blocks nested
 * by parent, depth first without recursion. An abstract function's variables all sit
 * at its own scope, each child after a mark giving its ordinal (parameters, then
 * variables) for the declarations table. */
static int encode_rich(const struct rec_fn *f, struct rec_frag *out)
{
	struct scopes sc = {0};
	int rc = scopes_build(f, &sc);
	if (rc) {
		scopes_free(&sc);
		return rc;
	}
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	bool children = f->nparams || f->variadic || f->nvars || (f->nblocks && !f->abstract);
	/* A frame base is an expression: clang never gives it a list, and none is kept. */
	bool frame = !f->abstract && f->frame_base.kind != REC_LOC_NONE &&
		     f->frame_base.kind != REC_LOC_LIST;
	unsigned mask = (f->abstract ? SP_ABSTRACT : 0) | (frame ? SP_FRAME : 0) |
			(f->linkage ? SP_LINKAGE : 0) | (f->unprototyped ? 0 : SP_PROTO) |
			(f->ret ? SP_TYPE : 0) | (f->optimized ? SP_OPT : 0) |
			(f->noreturn ? SP_NORET : 0) | (children ? SP_CHILDREN : 0);
	enc_buf_uleb(&fb.b, ab_code(FAM_SUBPROGRAM, mask));
	enc_buf_cstr(&fb.b, f->name);
	if (f->linkage)
		enc_buf_cstr(&fb.b, f->linkage);
	if (!f->abstract) {
		fb_pc(&fb, 0);
		enc_buf_u64(&fb.b, f->size);
	}
	if (mask & SP_FRAME)
		put_exprloc(&fb.b, &f->frame_base);
	put_decl(&fb, f->file, (uint32_t)f->line);
	if (f->ret)
		fb_slot(&fb, DWARF_SLOT_TYPE_REF4, f->ret);
	if (f->abstract)
		enc_buf_u8(&fb.b, DW_INL_inlined);
	uint64_t list_off = 0;
	for (uint32_t i = 0; i < f->nparams; i++) {
		const struct rec_param *p = &f->params[i];
		if (f->abstract)
			fb_mark(&fb, i);
		put_var(&fb, FAM_PARAM, p->name, p->type, &p->loc, p->line, f->file, 0, 0,
			list_off);
		list_off += loc_list_size(&p->loc);
	}
	if (f->variadic)
		enc_buf_uleb(&fb.b, AB_UNSPECIFIED);
	if (f->abstract) {
		for (uint32_t i = 0; i < f->nvars; i++) {
			const struct rec_var *v = &f->vars[i];
			fb_mark(&fb, (uint64_t)f->nparams + i);
			put_var(&fb, FAM_VAR, v->name, v->type, &v->loc, v->line, f->file, 0, 0,
				sc.var_list[i]);
		}
	} else {
		put_scope_vars(&fb, f, &sc, 0);
		size_t sp = 0;
		sc.stack[sp++] = 0;
		sc.cursor[0] = sc.first_block[0];
		while (sp) {
			uint32_t s = sc.stack[sp - 1], k = sc.cursor[s];
			if (k) {
				sc.cursor[s] = sc.next_block[k];
				put_block(&fb, f, &sc, k);
				put_scope_vars(&fb, f, &sc, k);
				sc.cursor[k] = sc.first_block[k];
				sc.stack[sp++] = k;
				continue;
			}
			sp--;
			if (s && (sc.first_block[s] || sc.first_var[s]))
				enc_buf_u8(&fb.b, 0);
		}
	}
	if (children)
		enc_buf_u8(&fb.b, 0);
	scopes_free(&sc);
	return fb_finish(&fb, out);
}

static int encode_info(const struct rec_fn *f, struct rec_frag *out)
{
	return fn_is_plain(f) ? encode_plain(f, out) : encode_rich(f, out);
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
	fb_pc(&fb, 0);

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
	if (rc == 0 && f->abstract)  /* no code: no line program */
		rc = fb_finish(&(struct frag_builder){0}, &f->line_prog);
	else if (rc == 0)
		rc = encode_line(f, &f->line_prog);
	if (rc) {
		rec_frag_free(&f->info);
		rec_frag_free(&f->line_prog);
	}
	return rc;
}

static int frag_copy(const struct rec_frag *from, struct rec_frag *to)
{
	rec_frag_free(to);
	to->bytes = malloc(from->len ? from->len : 1);
	to->slots = malloc((from->nslots ? from->nslots : 1) * sizeof *to->slots);
	if (!to->bytes || !to->slots) {
		free(to->bytes);
		free(to->slots);
		*to = (struct rec_frag){0};
		return -ENOMEM;
	}
	if (from->len)
		memcpy(to->bytes, from->bytes, from->len);
	if (from->nslots)
		memcpy(to->slots, from->slots, from->nslots * sizeof *to->slots);
	to->len = from->len;
	to->nslots = from->nslots;
	return 0;
}

int dwarf_copy_encoding(struct rec_fn *f, const struct rec_fn *old)
{
	int rc = frag_copy(&old->info, &f->info);
	if (!rc)
		rc = frag_copy(&old->line_prog, &f->line_prog);
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

static void put_members(struct frag_builder *fb, const struct rec_type *t)
{
	for (uint32_t i = 0; i < t->nmembers; i++) {
		const struct rec_member *m = &t->members[i];
		unsigned mask = (has_name(m->name) ? MEM_NAME : 0) | (m->bits ? MEM_BITS : 0);
		enc_buf_uleb(&fb->b, ab_code(FAM_MEMBER, mask));
		if (mask & MEM_NAME)
			enc_buf_cstr(&fb->b, m->name);
		fb_slot(fb, DWARF_SLOT_TYPE_REF4, m->type);
		if (m->bits) {
			enc_buf_uleb(&fb->b, m->bits);
			enc_buf_uleb(&fb->b, m->off * 8 + m->bitoff);
		} else {
			enc_buf_uleb(&fb->b, m->off);
		}
	}
}

static void put_aggregate(struct frag_builder *fb, const struct rec_type *t)
{
	bool children = t->nmembers && !t->decl;
	unsigned mask = (has_name(t->name) ? AGG_NAME : 0) | (t->decl ? AGG_DECLARATION : AGG_SIZE) |
			(t->file ? AGG_DECL : 0) | (t->align ? AGG_ALIGN : 0) |
			(children ? AGG_CHILDREN : 0);
	enc_buf_uleb(&fb->b, ab_code(t->kind == REC_TYPE_UNION ? FAM_UNION : FAM_STRUCT, mask));
	if (mask & AGG_NAME)
		enc_buf_cstr(&fb->b, t->name);
	if (mask & AGG_SIZE)
		enc_buf_uleb(&fb->b, t->size);
	if (mask & AGG_DECL)
		put_decl(fb, t->file, t->line);
	if (mask & AGG_ALIGN)
		enc_buf_uleb(&fb->b, t->align);
	if (children) {
		put_members(fb, t);
		enc_buf_u8(&fb->b, 0);
	}
}

/* An enumerator's value in the form clang gives it: sdata (udata for an unsigned
 * underlying type), or for an enum wider than 64 bits, or a value that does not fit
 * 64 bits, a block of the enum's size, little-endian. */
static void put_enumerator(struct frag_builder *fb, const struct rec_enumerator *e,
			   uint64_t size, bool is_unsigned)
{
	bool fits_s = e->hi == ((e->lo >> 63) ? UINT64_MAX : 0);
	bool fits_u = e->hi == 0 && !e->neg;
	uint32_t code = size > 8 ? AB_ENUMERATOR_B
			: is_unsigned && fits_u ? AB_ENUMERATOR_U
			: !is_unsigned && fits_s ? AB_ENUMERATOR_S : AB_ENUMERATOR_B;
	enc_buf_uleb(&fb->b, code);
	enc_buf_cstr(&fb->b, e->name);
	if (code == AB_ENUMERATOR_U) {
		enc_buf_uleb(&fb->b, e->lo);
	} else if (code == AB_ENUMERATOR_S) {
		enc_buf_sleb(&fb->b, (int64_t)e->lo);
	} else {
		uint64_t n = size > 8 && size < 16 ? size : 16;
		enc_buf_uleb(&fb->b, n);
		for (uint64_t i = 0; i < n; i++)
			enc_buf_u8(&fb->b, (uint8_t)(i < 8 ? e->lo >> (8 * i) : e->hi >> (8 * (i - 8))));
	}
}

static int encode_enum(const struct rec_type *t, bool is_unsigned, struct rec_frag *out)
{
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	unsigned mask = (t->to ? ENUM_TYPE : 0) | (has_name(t->name) ? ENUM_NAME : 0) |
			(t->file ? ENUM_DECL : 0) | (t->align ? ENUM_ALIGN : 0) |
			(t->nenumerators ? ENUM_CHILDREN : 0);
	enc_buf_uleb(&fb.b, ab_code(FAM_ENUM, mask));
	if (t->to)
		fb_slot(&fb, DWARF_SLOT_TYPE_REF4, t->to);
	if (mask & ENUM_NAME)
		enc_buf_cstr(&fb.b, t->name);
	enc_buf_uleb(&fb.b, t->size);
	if (mask & ENUM_DECL)
		put_decl(&fb, t->file, t->line);
	if (mask & ENUM_ALIGN)
		enc_buf_uleb(&fb.b, t->align);
	if (t->nenumerators) {
		for (uint32_t i = 0; i < t->nenumerators; i++)
			put_enumerator(&fb, &t->enumerators[i], t->size, is_unsigned);
		enc_buf_u8(&fb.b, 0);
	}
	return fb_finish(&fb, out);
}

int dwarf_encode_enum_unsigned(const struct rec_type *t, struct rec_frag *out)
{
	return encode_enum(t, true, out);
}

static void put_array(struct frag_builder *fb, const struct rec_type *t)
{
	unsigned mask = (t->to ? ARR_TYPE : 0) | (t->align ? ARR_ALIGN : 0) |
			(t->ndims ? ARR_CHILDREN : 0);
	enc_buf_uleb(&fb->b, ab_code(FAM_ARRAY, mask));
	if (t->to)
		fb_slot(fb, DWARF_SLOT_TYPE_REF4, t->to);
	if (t->align)
		enc_buf_uleb(&fb->b, t->align);
	for (uint32_t i = 0; i < t->ndims; i++) {
		bool known = t->dims[i] != REC_DIM_UNKNOWN;
		enc_buf_uleb(&fb->b, ab_code(FAM_SUBRANGE, known ? SUB_COUNT : 0));
		fb_slot(fb, DWARF_SLOT_INDEX_TYPE4, 0);
		if (known)
			enc_buf_uleb(&fb->b, t->dims[i]);
	}
	if (t->ndims)
		enc_buf_u8(&fb->b, 0);
}

/* An unprototyped function type gets unspecified_parameters too, as clang gives it:
 * `int (*)()` takes any arguments. */
static void put_subroutine(struct frag_builder *fb, const struct rec_type *t)
{
	bool unspecified = t->variadic || t->unprototyped;
	bool children = t->nparams || unspecified;
	unsigned mask = (t->unprototyped ? 0 : FN_PROTOTYPED) | (t->ret ? FN_TYPE : 0) |
			(children ? FN_CHILDREN : 0);
	enc_buf_uleb(&fb->b, ab_code(FAM_SUBROUTINE, mask));
	if (t->ret)
		fb_slot(fb, DWARF_SLOT_TYPE_REF4, t->ret);
	for (uint32_t i = 0; i < t->nparams; i++) {
		enc_buf_uleb(&fb->b, AB_TYPE_PARAM);
		fb_slot(fb, DWARF_SLOT_TYPE_REF4, t->params[i]);
	}
	if (unspecified)
		enc_buf_uleb(&fb->b, AB_UNSPECIFIED);
	if (children)
		enc_buf_u8(&fb->b, 0);
}

/* Pointer, const, volatile, restrict and typedef. The plain pointer, const and typedef
 * keep their original abbreviations, so images without the newer fields encode as they
 * always have. */
static void put_modifier(struct frag_builder *fb, const struct rec_type *t)
{
	bool named = t->kind == REC_TYPE_TYPEDEF || has_name(t->name);
	unsigned mask = (named ? MOD_NAME : 0) | (t->to ? MOD_TYPE : 0) |
			(t->file ? MOD_DECL : 0) | (t->align ? MOD_ALIGN : 0);
	bool plain = !(mask & (MOD_DECL | MOD_ALIGN)) &&
		     (t->kind == REC_TYPE_TYPEDEF || (t->kind != REC_TYPE_VOLATILE &&
						      t->kind != REC_TYPE_RESTRICT && !named));
	if (plain) {
		uint32_t code = t->kind == REC_TYPE_POINTER ? (t->to ? AB_POINTER : AB_POINTER_VOID)
				: t->kind == REC_TYPE_CONST ? (t->to ? AB_CONST : AB_CONST_VOID)
				: (t->to ? AB_TYPEDEF : AB_TYPEDEF_VOID);
		enc_buf_uleb(&fb->b, code);
		if (t->kind == REC_TYPE_POINTER)
			enc_buf_u8(&fb->b, 8);
		if (t->kind == REC_TYPE_TYPEDEF)
			enc_buf_cstr(&fb->b, t->name ? t->name : "");
		if (t->to)
			fb_slot(fb, DWARF_SLOT_TYPE_REF4, t->to);
		return;
	}
	enum family f = t->kind == REC_TYPE_POINTER ? FAM_POINTER
			: t->kind == REC_TYPE_CONST ? FAM_CONST
			: t->kind == REC_TYPE_VOLATILE ? FAM_VOLATILE
			: t->kind == REC_TYPE_RESTRICT ? FAM_RESTRICT : FAM_TYPEDEF;
	enc_buf_uleb(&fb->b, ab_code(f, mask));
	if (f == FAM_POINTER)
		enc_buf_u8(&fb->b, 8);
	if (named)
		enc_buf_cstr(&fb->b, t->name ? t->name : "");
	if (t->to)
		fb_slot(fb, DWARF_SLOT_TYPE_REF4, t->to);
	if (t->file)
		put_decl(fb, t->file, t->line);
	if (t->align)
		enc_buf_uleb(&fb->b, t->align);
}

int dwarf_encode_type(struct rec_type *t)
{
	if (t->kind == REC_TYPE_ENUM)
		return encode_enum(t, false, &t->info);
	struct frag_builder fb = {0};
	enc_buf_init(&fb.b);
	switch (t->kind) {
	case REC_TYPE_BASE:
		enc_buf_uleb(&fb.b, t->align ? AB_BASE_ALIGN : AB_BASE);
		enc_buf_cstr(&fb.b, t->name ? t->name : "");
		enc_buf_u8(&fb.b, base_encoding(t->enc));
		enc_buf_uleb(&fb.b, t->size);
		if (t->align)
			enc_buf_uleb(&fb.b, t->align);
		break;
	case REC_TYPE_STRUCT:
	case REC_TYPE_UNION:
		put_aggregate(&fb, t);
		break;
	case REC_TYPE_ARRAY:
		put_array(&fb, t);
		break;
	case REC_TYPE_FUNC:
		put_subroutine(&fb, t);
		break;
	case REC_TYPE_POINTER:
	case REC_TYPE_CONST:
	case REC_TYPE_VOLATILE:
	case REC_TYPE_RESTRICT:
	case REC_TYPE_TYPEDEF:
		put_modifier(&fb, t);
		break;
	case REC_TYPE_ENUM:  /* encoded above */
		break;
	}
	return fb_finish(&fb, &t->info);
}

/* __ARRAY_SIZE_TYPE__, the index type of every subrange, as clang emits it. */
static const uint8_t index_type_die[] = {
	AB_INDEX_TYPE, '_', '_', 'A', 'R', 'R', 'A', 'Y', '_', 'S', 'I', 'Z', 'E', '_', 'T', 'Y',
	'P', 'E', '_', '_', 0, 8, DW_ATE_unsigned,
};

const struct rec_frag *dwarf_index_type(void)
{
	static const struct rec_frag fr = {(uint8_t *)index_type_die, sizeof index_type_die, 0,
					   NULL};
	return &fr;
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

bool dwarf_var_indexed(const struct rec_var *v)
{
	return v->loc.kind == REC_LOC_ADDR && has_name(v->name);
}

const char *dwarf_type_name(const struct rec_type *t)
{
	switch (t->kind) {
	case REC_TYPE_ARRAY:
	case REC_TYPE_FUNC:
		return NULL;
	case REC_TYPE_STRUCT:
	case REC_TYPE_UNION:
		return t->decl || !has_name(t->name) ? NULL : t->name;
	default:
		return has_name(t->name) ? t->name : NULL;
	}
}

uint16_t dwarf_type_tag(const struct rec_type *t)
{
	static const uint16_t tags[] = {
		[REC_TYPE_BASE] = DW_TAG_base_type,
		[REC_TYPE_POINTER] = DW_TAG_pointer_type,
		[REC_TYPE_CONST] = DW_TAG_const_type,
		[REC_TYPE_TYPEDEF] = DW_TAG_typedef,
		[REC_TYPE_STRUCT] = DW_TAG_structure_type,
		[REC_TYPE_UNION] = DW_TAG_union_type,
		[REC_TYPE_ENUM] = DW_TAG_enumeration_type,
		[REC_TYPE_ARRAY] = DW_TAG_array_type,
		[REC_TYPE_FUNC] = DW_TAG_subroutine_type,
		[REC_TYPE_VOLATILE] = DW_TAG_volatile_type,
		[REC_TYPE_RESTRICT] = DW_TAG_restrict_type,
	};
	return (size_t)t->kind < sizeof tags / sizeof *tags ? tags[t->kind] : 0;
}

size_t dwarf_slot_size(uint32_t kind)
{
	return kind == DWARF_SLOT_PC8 ? 8 : kind == DWARF_SLOT_MARK || kind == DWARF_SLOT_DIE ? 0
	       : kind == DWARF_SLOT_ORIGIN_CODE2 ? 2 : 4;
}

uint32_t dwarf_origin_code(const uint8_t *held, bool is_param)
{
	uint32_t code = (held[0] & 0x7fu) | (uint32_t)held[1] << 7;
	return is_param ? code - family_base(FAM_VAR) + family_base(FAM_PARAM) : code;
}

void dwarf_put_slot(uint8_t *out, uint32_t kind, uint64_t value)
{
	if (kind == DWARF_SLOT_FILE_ULEB4)
		enc_uleb_padded(out, value, 4);
	else if (kind == DWARF_SLOT_ORIGIN_CODE2)
		enc_uleb_padded(out, value, 2);
	else if (kind == DWARF_SLOT_PC8)
		enc_u64(out, value);
	else if (kind != DWARF_SLOT_MARK && kind != DWARF_SLOT_DIE)
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

size_t dwarf_types_unit_die_size(bool with_lines)
{
	return 1 + 4 + 2 + sizeof types_unit_name + (with_lines ? 4 : 0);
}

void dwarf_put_types_unit_die(uint8_t *out, bool has_types, bool with_lines, uint32_t stmt_list)
{
	out[0] = with_lines ? AB_TYPES_UNIT_LINES : has_types ? AB_TYPES_UNIT : AB_TYPES_UNIT_EMPTY;
	enc_u32(out + 1, 0);  /* producer: offset 0 of .debug_str */
	enc_u16(out + 5, DW_LANG_C99);
	memcpy(out + 7, types_unit_name, sizeof types_unit_name);
	if (with_lines)
		enc_u32(out + 7 + sizeof types_unit_name, stmt_list);
}

size_t dwarf_cu_die_size(const char *name, const char *comp_dir)
{
	return 1 + 4 + 2 + strlen(name) + 1 + 4 + strlen(comp_dir ? comp_dir : "") + 1;
}

void dwarf_put_cu_die(uint8_t *out, const char *name, const char *comp_dir, uint32_t stmt_list,
		      uint32_t lang)
{
	size_t n = strlen(name) + 1, d = strlen(comp_dir ? comp_dir : "") + 1;
	out[0] = AB_CU;
	enc_u32(out + 1, 0);
	enc_u16(out + 5, lang ? (uint16_t)lang : DW_LANG_C99);
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
