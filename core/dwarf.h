/* dwarf: DWARF 4 (32-bit format, 8-byte addresses) encoders for one image's debug
 * sections, a piece at a time.
 *
 * Each function and type is encoded once, when it changes, into a fragment of
 * .debug_info bytes (and, for functions, one .debug_line sequence). Values that depend on
 * other records are left as fixed-width slots and filled in when the bytes are read:
 *   DWARF_SLOT_TYPE_REF4   4 bytes, DW_FORM_ref_addr: the .debug_info offset of a type DIE
 *   DWARF_SLOT_FILE_DATA4  4 bytes, DW_FORM_data4: a line-table file index (decl_file)
 *   DWARF_SLOT_FILE_ULEB4  4 bytes, a ULEB128 padded to 4 bytes: the operand of
 *                          DW_LNS_set_file
 *   DWARF_SLOT_INDEX_TYPE4 4 bytes, DW_FORM_ref_addr: the .debug_info offset of the
 *                          __ARRAY_SIZE_TYPE__ DIE (dwarf_index_type) that every array
 *                          subrange refers to
 *   DWARF_SLOT_PC8         8 bytes, DW_FORM_addr: the function's low_pc + ref (every pc
 *                          of a function's fragments is one, so a move re-encodes none)
 *   DWARF_SLOT_ORIGIN4     4 bytes, DW_FORM_ref_addr: the DIE of abstract function ref
 *   DWARF_SLOT_ORIGIN_VAR4 4 bytes, DW_FORM_ref_addr: the parameter or local of abstract
 *                          function ref named like the function's variable whose index
 *                          the slot's own bytes hold (its line picks one of two of that
 *                          name)
 *   DWARF_SLOT_ORIGIN_CODE2 2 bytes, a ULEB128 abbreviation code: the variable code
 *                          the bytes hold, or the matching parameter code when the
 *                          DWARF_SLOT_ORIGIN_VAR4 slot that follows it resolves to a
 *                          parameter (whose concrete instance must be a parameter too)
 *   DWARF_SLOT_LOC4        4 bytes, DW_FORM_sec_offset: where the function's part of
 *                          .debug_loc starts, + ref (that list's place in the part)
 *   DWARF_SLOT_RANGES4     the same in .debug_ranges
 *   DWARF_SLOT_MARK        no bytes: in an abstract function's fragment, where its child
 *                          number ref starts (parameters, then variables), which the
 *                          declarations table records for DWARF_SLOT_ORIGIN_VAR4
 *   DWARF_SLOT_DIE         no bytes: in a function's fragment, where the DIE of its
 *                          block ref (an inlined call) starts, or with DWARF_DIE_VAR set,
 *                          of its variable ref & ~DWARF_DIE_VAR (one at a fixed address):
 *                          the DIEs the accelerator tables name besides the function's
 * so a change to the type or file tables, or a move, never re-encodes a function.
 *
 * The whole-unit pieces (unit headers, unit DIEs, line-program headers, aranges headers)
 * are small and are written per generation by the caller through the put functions
 * below, each with its size function.
 *
 * A function's location lists (.debug_loc) and range lists (.debug_ranges: blocks of
 * more than one range) are made from its record whenever they are read, as they hold
 * its low_pc; each function's part of those sections follows the previous function's
 * in fn_layout order.
 *
 * Layout the caller builds (see gen.c): .debug_info holds the declarations unit first
 * (its DIE, then every type DIE, global variable DIE and abstract function DIE, then a
 * null entry), then one compile unit per source file that declares functions (unit DIE,
 * subprogram DIEs, null entry). Declarations are referenced with DW_FORM_ref_addr so
 * every unit shares them.
 *
 * Abbreviations: the fixed ones the first images used keep their codes (a function or
 * type without the newer fields encodes as before); the rest come in families, one per
 * tag, with a code for every combination of the optional attributes.
 */
#ifndef DSYMFS_DWARF_H
#define DSYMFS_DWARF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

#define DWARF_SLOT_TYPE_REF4  1u
#define DWARF_SLOT_FILE_DATA4 2u
#define DWARF_SLOT_FILE_ULEB4 3u
#define DWARF_SLOT_INDEX_TYPE4 4u
#define DWARF_SLOT_PC8 5u
#define DWARF_SLOT_ORIGIN4 6u
#define DWARF_SLOT_ORIGIN_VAR4 7u
#define DWARF_SLOT_MARK 8u
#define DWARF_SLOT_ORIGIN_CODE2 9u
#define DWARF_SLOT_LOC4 10u
#define DWARF_SLOT_RANGES4 11u
#define DWARF_SLOT_DIE 12u
#define DWARF_DIE_VAR 0x80000000u

#define DWARF_CU_HEADER_SIZE      11u  /* unit_length, version, abbrev offset, addr size */
#define DWARF_ARANGES_HEADER_SIZE 16u  /* 12 bytes of header padded to 2 * address size */
#define DWARF_ARANGES_TUPLE_SIZE  16u
#define DWARF_MAX_FILE_INDEX      ((1u << 28) - 1)  /* what a 4-byte padded ULEB holds */

/* The fixed abbreviation table (.debug_abbrev) and string table (.debug_str). The
 * abbreviation table is built on first use: a length of 0 means that failed (ENOMEM). */
const uint8_t *dwarf_abbrev_bytes(size_t *len);
const uint8_t *dwarf_str_bytes(size_t *len);

/* Encodes f->info and f->line_prog (replacing any previous encoding): the subprogram DIE
 * with its parameters, variables and blocks (an abstract function: DW_AT_inline, no pc,
 * an empty line program). Neither depends on f->low_pc. The function's
 * rows must be in non-decreasing offset order (-EINVAL otherwise). Rows at or past the
 * function's size are encoded as they are (the caller refuses them before publishing).
 * -ENOMEM leaves f's previous encoding freed and its fragments empty. */
int dwarf_encode_fn(struct rec_fn *f);
/* For a move: f is old with another low_pc (nothing else differs), and gets copies of
 * old's fragments, which hold every pc as a slot relative to low_pc; nothing is
 * re-encoded. -ENOMEM leaves f's fragments empty. */
int dwarf_copy_encoding(struct rec_fn *f, const struct rec_fn *old);
/* A function's part of .debug_loc (its parameters' lists, then its variables', in
 * record order) and of .debug_ranges (its blocks' lists): the size, and the bytes,
 * written at out (exactly that many). */
uint64_t dwarf_fn_loc_size(const struct rec_fn *f);
void dwarf_put_fn_loc(const struct rec_fn *f, uint8_t *out);
uint64_t dwarf_fn_ranges_size(const struct rec_fn *f);
void dwarf_put_fn_ranges(const struct rec_fn *f, uint8_t *out);
/* Encodes t->info. An enum's enumerators use DW_FORM_sdata there; a table that finds the
 * enum's underlying type unsigned uses dwarf_encode_enum_unsigned's encoding instead.
 * -ENOMEM. */
int dwarf_encode_type(struct rec_type *t);
/* Encodes enum t into *out (replacing what it held; the caller frees it with
 * rec_frag_free) with DW_FORM_udata enumerators, as clang gives an enum whose
 * underlying type is unsigned. -ENOMEM leaves *out empty. */
int dwarf_encode_enum_unsigned(const struct rec_type *t, struct rec_frag *out);
/* The __ARRAY_SIZE_TYPE__ base-type DIE (static: never freed). */
const struct rec_frag *dwarf_index_type(void);
/* Encodes g->info: a file-scope DW_TAG_variable at g->addr. -ENOMEM. */
int dwarf_encode_global(struct rec_global *g);

/* What the accelerator tables index (as dsymutil does): a variable of a function that
 * has a fixed address (a function-scope static) and a name; a type's name as its DIE
 * carries it, NULL for a type the types table leaves out (unnamed, or a struct or union
 * only declared); and the tag of a type's DIE. */
bool dwarf_var_indexed(const struct rec_var *v);
const char *dwarf_type_name(const struct rec_type *t);
uint16_t dwarf_type_tag(const struct rec_type *t);
/* The index type's DIE name and tag (see dwarf_index_type). */
#define DWARF_INDEX_TYPE_NAME "__ARRAY_SIZE_TYPE__"
#define DWARF_INDEX_TYPE_TAG 0x24u

/* The bytes a slot of this kind covers, and writes them for its resolved value at out. */
size_t dwarf_slot_size(uint32_t kind);
/* The code a DWARF_SLOT_ORIGIN_CODE2 slot resolves to, from its held bytes. */
uint32_t dwarf_origin_code(const uint8_t *held, bool is_param);
void dwarf_put_slot(uint8_t *out, uint32_t kind, uint64_t value);

/* Unit header of .debug_info; unit_total is the unit's whole size (header included). */
void dwarf_put_cu_header(uint8_t *out, uint64_t unit_total);

/* The declarations unit's DIE. Without types it has no children, and the caller writes
 * no null entry after it. with_lines adds DW_AT_stmt_list (the .debug_line offset of a
 * line program that holds the file table only), so that decl_file resolves. */
size_t dwarf_types_unit_die_size(bool with_lines);
void dwarf_put_types_unit_die(uint8_t *out, bool has_types, bool with_lines, uint32_t stmt_list);

/* A compile unit's DIE: name (the unit's source path), comp_dir (may be NULL), the
 * .debug_line offset of its line program and its DW_AT_language (0: C99). */
size_t dwarf_cu_die_size(const char *name, const char *comp_dir);
void dwarf_put_cu_die(uint8_t *out, const char *name, const char *comp_dir,
		      uint32_t stmt_list, uint32_t lang);

/* The include_directories and file_names tables of a line-program header, for files
 * given in file-index order (index = position + 1). Returns a malloc'd buffer the caller
 * frees, with its length in *len; NULL on ENOMEM. */
uint8_t *dwarf_line_tables(const struct rec_file *const *files, size_t nfiles, size_t *len);
/* The fixed part of a line-program header that precedes those tables. program_total is
 * the whole line program's size (header included); tables_len the tables' size. */
size_t dwarf_line_header_prefix_size(void);
void dwarf_put_line_header_prefix(uint8_t *out, uint64_t program_total, uint64_t tables_len);

/* An aranges set header for the unit at cu_offset with ntuples (address, length) pairs;
 * the set ends with a 16-byte zero terminator the caller places after the tuples. */
void dwarf_put_aranges_header(uint8_t *out, uint32_t cu_offset, uint64_t ntuples);
void dwarf_put_aranges_tuple(uint8_t *out, uint64_t addr, uint64_t len);

#endif
