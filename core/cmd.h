/* cmd: the control protocol's syntax. A pure function from one line of text to one
 * command, and the inverse formatter for the records that can be read back.
 *
 * Syntax (docs/protocol.md has the full text): UTF-8, one command per line, a command
 * word then fields separated by spaces or tabs. Fields are `key=value` (or bare flags such
 * as `create`, `ext`, and positional words such as an id or a name). A value that
 * contains spaces, quotes, backslashes or `=`, or is empty, is double-quoted with C escapes
 * (\\ \" \n \t \r \xHH). Numbers are decimal or 0x hex; where a value may be negative
 * (by=, delta=) a leading '-' is allowed. A line that is empty or whose first non-blank
 * character is '#' is a comment.
 *
 * Parsing checks syntax only: an unknown command or key, a missing or repeated field, a
 * malformed number, an id of 0, a range with from >= to. Everything that depends on other
 * records is checked when a batch is committed (see image.h).
 */
#ifndef DSYMFS_CMD_H
#define DSYMFS_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enc.h"
#include "records.h"

enum cmd_kind {
	CMD_IMAGE = 1,   /* image NAME [create] [exe=PATH] [uuid=UUID] [arch=x86_64|arm64] */
	CMD_EXE,         /* exe PATH */
	CMD_SEGMENT,     /* segment NAME vmaddr=A vmsize=N [maxprot=P] [initprot=P] */
	CMD_SECTION,     /* section SEG SECT addr=A size=N [align=K] */
	CMD_FILE,        /* file ID path=PATH [dir=DIR] */
	CMD_DELFILE,     /* delfile ID */
	CMD_TYPE,        /* type ID kind=... */
	CMD_DELTYPE,     /* deltype ID */
	CMD_FN,          /* fn ID name=... */
	CMD_MOVE,        /* move ID low_pc=A [size=N] */
	CMD_MOVE_RANGE,  /* move-range from=A to=B by=D */
	CMD_LINE,        /* line ID delta=D [file=F] */
	CMD_LINE_RANGE,  /* line-range file=F from=L1 to=L2 by=D */
	CMD_DEL,         /* del ID */
	CMD_SYM,         /* sym NAME value=A [sect=N] [ext] */
	CMD_UNSYM,       /* unsym NAME */
	CMD_COMMIT,      /* commit */
	CMD_ABORT,       /* abort */
};

struct cmd {
	enum cmd_kind kind;
	union {
		struct {
			char *name;
			bool create;
			char *exe;          /* NULL: absent */
			bool has_uuid;
			uint8_t uuid[16];
			bool has_arch;
			uint32_t cputype, cpusubtype;
		} image;
		struct {
			char *path;
		} exe;
		struct {
			char *name;
			uint64_t vmaddr, vmsize;
			bool has_maxprot, has_initprot;
			uint32_t maxprot, initprot;
		} segment;
		struct {
			char *seg, *sect;
			uint64_t addr, size;
			bool has_align;
			uint32_t align;
		} section;
		struct rec_file *file;   /* CMD_FILE: refs = 1, owned by the command */
		struct rec_type *type;   /* CMD_TYPE: unencoded, owned */
		struct rec_fn *fn;       /* CMD_FN: unencoded, owned */
		uint64_t id;             /* CMD_DELFILE, CMD_DELTYPE, CMD_DEL */
		struct {
			uint64_t id, low_pc, size;
			bool has_size;
		} move;
		struct {
			uint64_t from, to;
			int64_t by;
		} move_range;
		struct {
			uint64_t id;
			int64_t delta;
			uint64_t file;          /* 0: the function's declaring file */
		} line;
		struct {
			uint64_t file;
			int64_t from, to, by;
		} line_range;
		struct {
			char *name;
			uint64_t value;
			uint32_t sect;
			bool ext;
		} sym;
		struct {
			char *name;
		} unsym;
	} u;
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
/* Append one protocol line (with its '\n') that parses back to an equal command, for
 * any kind. */
void cmd_format(struct enc_buf *b, const struct cmd *c);
/* Append s as a protocol value: bare when it is safe, quoted with escapes otherwise. */
void cmd_format_value(struct enc_buf *b, const char *s);

#endif
