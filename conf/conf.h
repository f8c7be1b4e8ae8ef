/* conf: dsymfs's configuration. Owns the INI syntax (read with inih), the table of keys
 * with their defaults and documentation, and the embedded default configuration used
 * when no file is given. It only fills struct conf: fs/registry.h builds the registry and
 * the journal from one.
 *
 * Syntax: a global section `[dsymfs]` and one section `[image NAME]` per image. Every
 * key is in one table (conf.c); unknown sections and keys, repeated keys, bad values and
 * lines inih cannot read are errors, reported as "ORIGIN:LINE: what is wrong". An image
 * takes its identity from `exe = PATH` (a relative path is taken from the configuration
 * file's directory) or from `uuid`/`arch`; exe excludes both. Without any of them an
 * image gets a fresh random UUID and x86_64. `link = PATH` names where the mount keeps a
 * symlink to the image's bundle (relative: from the file's directory, or from the
 * working directory at load time; always stored absolute, since the daemon leaves its
 * directory when it goes to the background). Lines longer than inih's line buffer (about
 * 200 bytes in Debian's build) are refused rather than silently cut.
 */
#ifndef DSYMFS_CONF_H
#define DSYMFS_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "ctl.h"
#include "image.h"

enum conf_log_level {
	CONF_LOG_ERROR,
	CONF_LOG_WARN,
	CONF_LOG_INFO,
	CONF_LOG_DEBUG,
};

/* The highest image count the configuration accepts for max_images (fs/ packs an image
 * index into 16 bits of a node id). */
#define CONF_MAX_IMAGES 65535u

struct conf_image {
	char *name;                 /* owned */
	char *exe;                  /* owned; NULL: identity from origin's uuid/arch */
	char *link;                 /* owned, absolute; NULL: no symlink to the bundle */
	struct image_origin origin; /* origin.exe_path aliases exe */
	unsigned line;              /* line of the section header, for messages */
};

struct conf {
	char *origin;               /* owned: the file name, or "(built-in)" */
	enum conf_log_level log_level;
	struct ctl_limits limits;
	char *state_dir;            /* owned; NULL: memory only */
	uint64_t compact_bytes;     /* journal compaction threshold */
	size_t nimages;
	struct conf_image *images;  /* owned, in the order of their sections */
};

/* Each loader zeroes *c first and fills it; on success the caller owns it (conf_free).
 * On failure *c is left freed and zeroed and err holds "ORIGIN:LINE: message" (or
 * "ORIGIN: message" when no line is at fault). Returns 0, -EINVAL (bad configuration),
 * -ENOMEM, or the -errno of opening/reading the file. */
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen);
/* text is NUL-terminated; origin names it in messages. */
int conf_load_string(struct conf *c, const char *text, const char *origin, char *err,
		     size_t errlen);
/* The embedded default: one image Foo, x86_64, a fresh random UUID. */
int conf_load_default(struct conf *c, char *err, size_t errlen);
/* The embedded default's text. */
const char *conf_default_text(void);

/* Frees what *c owns and zeroes it. Safe on a zeroed or already-freed conf. */
void conf_free(struct conf *c);

/* "error", "warn", "info", "debug". */
const char *conf_log_level_name(enum conf_log_level l);

/* Writes every key with its default and meaning (for --help and docs). */
void conf_print_keys(FILE *f);

#endif
