/* Prints the libFuzzer dictionary of the control protocol (tests/fuzz/ctl.dict) from the
 * command table, core/cmd.def: every command word and flag, every key as " key=" (an
 * ENUM key once per word it takes, " kind=base"), then values no table lists. `make
 * fuzz-dict` rewrites ctl.dict with it; tests/integration/fuzz-dict fails when ctl.dict
 * differs, so a command or key added to the table reaches the fuzzer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* LABEL: a positional word's label, which is not protocol text. */
enum kind { WORD, FLAG, KEY, LABEL };

struct entry {
	const char *key;
	enum kind kind;
	const char *const *values;   /* the words of an ENUM key; NULL otherwise */
};

#define VALUE(word, v) word,
#define VALUES(table, values) static const char *const table[] = { values NULL };
#include "cmd.def"
#undef VALUE

#define KIND_POS LABEL
#define KIND_REQ KEY
#define KIND_OPT KEY
#define KIND_FLAG FLAG
#define KIND_SELECT KEY
#define KIND_WHEN(applies, needs) KEY
#define KIND_UPPER KEY
#define KIND_WHEN_UNLESS(applies, needs, flag) KEY
#define KIND_UNLESS(flag) KEY
#define WORDS_ID NULL
#define WORDS_HEX NULL
#define WORDS_UDEC(hi) NULL
#define WORDS_SDEC(lo, hi) NULL
#define WORDS_NAME NULL
#define WORDS_SEGNAME NULL
#define WORDS_DIRNAME NULL
#define WORDS_PROT NULL
#define WORDS_ENUM(table) table
#define WORDS_UUID NULL
#define WORDS_ARCH NULL
#define WORDS_PARAMS NULL
#define WORDS_ROWS NULL
#define WORDS_VARS NULL
#define WORDS_BLOCKS NULL
#define WORDS_LOC NULL
#define WORDS_LANG NULL
#define WORDS_MEMBERS NULL
#define WORDS_ENUMERATORS NULL
#define WORDS_DIMS NULL
#define WORDS_TYPEIDS NULL
#define WORDS_BOOL NULL

static const struct entry entries[] = {
#define CMD(kind, word, payload) { word, WORD, NULL },
#define FIELD(kind, key, presence, decoder, member) { #key, KIND_##presence, WORDS_##decoder },
#define FIELD_HAS(kind, key, decoder, member, has) { #key, KEY, WORDS_##decoder },
#include "cmd.def"
};

/* Values worth splicing in that no table spells: architectures (macho.c), section
 * names, number edges, the quoting escapes. */
static const char *const extra[] = {
	" arch=x86_64", " arch=arm64",
	"__TEXT", "__text", "__DATA", "__LINKEDIT", "__DWARF",
	"0x100000000", "0x", "-0x", "\"\\x", "\\\"", "\\\\", "\n", "\t", "r-x", "rw-",
	"4E1F6C2A-0B7D-4C59-9A3E-5D8F2B1C7A60",
	"0xffffffffffffffff", "2147483647", "9223372036854775807", "-9223372036854775808",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char seen[COUNT(entries) * 8][64];
static size_t nseen;

/* One dictionary line, once: the bytes quoted, '"' and '\' escaped, control bytes as
 * \xHH. */
static void put(const char *a, const char *b, const char *c)
{
	char s[64];
	snprintf(s, sizeof s, "%s%s%s", a, b, c);
	for (size_t i = 0; i < nseen; i++)
		if (strcmp(seen[i], s) == 0)
			return;
	if (nseen < COUNT(seen))
		memcpy(seen[nseen++], s, sizeof s);
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	puts("\"");
}

int main(void)
{
	puts("# Words of the control protocol (docs/protocol.md), for -dict. Generated from "
	     "core/cmd.def\n# by tests/fuzz/ctl-dict.c: run `make fuzz-dict`, do not edit.");
	for (size_t i = 0; i < COUNT(entries); i++)
		if (entries[i].kind == WORD || entries[i].kind == FLAG)
			put(entries[i].key, "", "");
	for (size_t i = 0; i < COUNT(entries); i++) {
		if (entries[i].kind != KEY)
			continue;
		if (!entries[i].values)
			put(" ", entries[i].key, "=");
		for (const char *const *v = entries[i].values; v && *v; v++) {
			char key[32];
			snprintf(key, sizeof key, " %s=", entries[i].key);
			put(key, *v, "");
		}
	}
	for (size_t i = 0; i < COUNT(extra); i++)
		put(extra[i], "", "");
	return 0;
}
