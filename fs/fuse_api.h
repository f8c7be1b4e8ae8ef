/* fuse_api: the one place that says which libfuse API fs/ is written against (3.14, what
 * Debian 12 ships), so every fs/ module that needs libfuse's types includes it and none
 * needs fs.h for them. */
#ifndef DSYMFS_FUSE_API_H
#define DSYMFS_FUSE_API_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#endif
