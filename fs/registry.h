/* registry: builds the registry a configuration describes: its images and, with
 * state_dir, the journal that makes it durable. Configuration (conf/) only fills struct
 * conf; the mount (fs.c) and `dsymfs render` assemble from it here.
 */
#ifndef DSYMFS_REGISTRY_H
#define DSYMFS_REGISTRY_H

#include <stddef.h>

#include "conf.h"
#include "ctl.h"

/* Builds a registry holding every configured image. With state_dir, the journal there
 * is restored first (journal_attach) and the registry made durable; a configured image
 * the journal already holds keeps its journaled identity. *out is owned by the caller
 * (ctl_registry_free). Errors are those of ctl_registry_new, journal_attach and
 * ctl_registry_add; err names the image section ("ORIGIN:LINE: image NAME: ..."). On
 * success err holds the journal's notice for the log (journal_attach), or "". */
int registry_from_conf(const struct conf *c, struct ctl_registry **out, char *err,
		       size_t errlen);

#endif
