/* link: the symlinks that let a debugger find a mounted bundle by itself. For every
 * image configured with `link = PATH`, PATH points at MOUNT/NAME.dSYM while the mount
 * lives (lldb looks for PROG.dSYM beside PROG).
 *
 * Contract: link_check runs before mounting and refuses a PATH that exists and is not a
 * symlink, or whose directory is missing. link_make_all runs once mounted and replaces
 * whatever symlink is at PATH (one left by an earlier run, or made by hand). At the end,
 * link_remove_all removes PATH only if it still points at this mount's bundle: a
 * symlink someone replaced in the meantime is theirs. Paths are absolute (conf.h).
 */
#ifndef DSYMFS_LINK_H
#define DSYMFS_LINK_H

#include <stddef.h>

#include "conf.h"

/* 0, or -EEXIST/-ENOTDIR/-ENOENT/-errno of lstat with the message in err. */
int link_check(const struct conf *c, char *err, size_t errlen);
/* mountpoint is absolute. On failure, links made so far are removed again and err names
 * the path; returns -errno of symlink/unlink. */
int link_make_all(const struct conf *c, const char *mountpoint, char *err, size_t errlen);
/* Removes the links that still point at mountpoint's bundles; silent about the rest. */
void link_remove_all(const struct conf *c, const char *mountpoint);

#endif
