/* cmd: the control protocol's syntax. A pure function from one line of text to one
 * command, and the inverse formatter for the records that can be read back.
 *
 * Syntax (docs/protocol.md has the full text): UTF-8, one command per line, a command
 * word then fields separated by spaces or tabs. Fields are `key=value` (or bare flags such
 * as `create`, `ext`, and positional words such as an id or a name). A value that
 * contains spaces, quotes, backslashes or `=`, or is empty, is double-quoted with C escapes
 * (\\ \" \n \t \r \xHH). Numbers are decimal or 0x hex; where a value may be negative
 * (by=, delta=, enumerator values, LOC offsets) a leading '-' is allowed. Lists (params=,
 * members=, vars=, ...) separate entries with ',' and parts with ':'; names inside them
 * contain neither. A line that is empty or whose first non-blank
 * character is '#' is a comment.
 *
 * Parsing checks syntax only: an unknown command or key, a missing or repeated field, a
 * malformed number, an id of 0, a range with from >= to, a field the record's kind
 * does not take, an abstract fn given code (low_pc, size, rows). Everything that
 * depends on other records is checked when a batch is committed (see image.h).
 *
 * cmd.def is the one table of commands and their fields: the kinds and payloads below,
 * the parser, the formatter and cmd_free are generated from it, so a command or field
 * is added there (and, for its meaning, in image.c's apply(), whose switch the compiler
 * checks for a missing kind).
 */
#ifndef DSYMFS_CMD_H
#define DSYMFS_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enc.h"
#include "records.h"

/* The command kinds, numbered from 1 in cmd.def's order (0 is no command). */
enum cmd_index {
#define CMD(kind, word, payload) CMD_INDEX_##kind,
#include "cmd.def"
	CMD_COUNT
};
enum cmd_kind {
#define CMD(kind, word, payload) CMD_##kind = CMD_INDEX_##kind + 1,
#include "cmd.def"
};

/* The payloads of the INLINE commands; fields as cmd.def decodes them. */
struct cmd_image {
	char *name;
	bool create;
	char *exe;          /* NULL: absent */
	bool has_uuid;
	uint8_t uuid[16];
	bool has_arch;
	uint32_t cputype, cpusubtype;   /* in this order: the decoder writes both */
};
struct cmd_exe {
	char *path;
};
struct cmd_segment {
	char *name;
	uint64_t vmaddr, vmsize;
	bool has_maxprot, has_initprot;
	uint32_t maxprot, initprot;
};
struct cmd_section {
	char *seg, *sect;
	uint64_t addr, size;
	bool has_align;
	uint32_t align;
};
struct cmd_move {
	uint64_t id, low_pc, size;
	bool has_size;
};
struct cmd_move_range {
	uint64_t from, to;
	int64_t by;
};
struct cmd_line {
	uint64_t id;
	int64_t delta;
	uint64_t file;          /* 0: the function's declaring file */
};
struct cmd_line_range {
	uint64_t file;
	int64_t from, to, by;
};
struct cmd_sym {
	char *name;
	uint64_t value;
	uint32_t sect;
	bool ext;
};
struct cmd_unsym {
	char *name;
};

union cmd_payload {
	uint64_t id;            /* the ID commands: delfile, deltype, del */
	/* INLINE(m): struct cmd_m m; RECORD(r): struct rec_r *r, unencoded, owned by the
	 * command (a file has refs = 1). */
#define CMD_MEMBER_INLINE(m) struct cmd_##m m;
#define CMD_MEMBER_RECORD(r) struct rec_##r *r;
#define CMD_MEMBER_ID
#define CMD_MEMBER_NONE
#define CMD(kind, word, payload) CMD_MEMBER_##payload
#include "cmd.def"
#undef CMD_MEMBER_INLINE
#undef CMD_MEMBER_RECORD
#undef CMD_MEMBER_ID
#undef CMD_MEMBER_NONE
};

struct cmd {
	enum cmd_kind kind;
	union cmd_payload u;
};

/* Parses one line (without its newline; len bytes, need not be NUL-terminated).
 * Returns 0 and fills *out (free with cmd_free), 1 for a blank or comment line (*out
 * untouched), or -EINVAL with a message in err saying what is wrong and where, or
 * -ENOMEM. */
int cmd_parse(const char *line, size_t len, struct cmd *out, char *err, size_t errlen);
/* Frees what the command owns; safe on a zeroed command. */
void cmd_free(struct cmd *c);

/* The protocol's spelling of a command kind ("fn", "move-range", ...). */
const char *cmd_name(enum cmd_kind k);

/* Append one protocol line (with its '\n') that, parsed back, yields the same record. */
void cmd_format_fn(struct enc_buf *b, const struct rec_fn *f);
void cmd_format_type(struct enc_buf *b, const struct rec_type *t);
void cmd_format_file(struct enc_buf *b, const struct rec_file *f);
void cmd_format_global(struct enc_buf *b, const struct rec_global *g);
/* Append one protocol line (with its '\n') that parses back to an equal command, for
 * any kind. */
void cmd_format(struct enc_buf *b, const struct cmd *c);
/* Append s as a protocol value: bare when it is safe, quoted with escapes otherwise. */
void cmd_format_value(struct enc_buf *b, const char *s);

#endif
