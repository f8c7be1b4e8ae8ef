/* The registry a configuration describes. See registry.h. */
#include "registry.h"

#include <stdbool.h>
#include <stdio.h>

#include "journal.h"

int registry_from_conf(const struct conf *c, struct ctl_registry **out, char *err,
		       size_t errlen)
{
	struct ctl_registry *r;
	int rc = ctl_registry_new(&c->limits, &r);
	if (rc) {
		snprintf(err, errlen, "%s: out of memory", c->origin);
		return rc;
	}
	char why[512];
	bool notice = false;
	if (c->state_dir) {
		rc = journal_attach(r, c->state_dir, c->compact_bytes, why, sizeof why);
		if (rc) {
			snprintf(err, errlen, "%s: %s", c->origin, why);
			ctl_registry_free(r);
			return rc;
		}
		notice = *why;
		if (notice)
			snprintf(err, errlen, "%s", why);
	}
	for (size_t i = 0; i < c->nimages; i++) {
		const struct conf_image *im = &c->images[i];
		/* An image the journal restored keeps its journaled identity. */
		if (ctl_registry_find(r, im->name))
			continue;
		rc = ctl_registry_add(r, im->name, &im->origin, why, sizeof why);
		if (rc) {
			snprintf(err, errlen, "%s:%u: image %s: %s", c->origin, im->line, im->name,
				 why);
			ctl_registry_free(r);
			return rc;
		}
	}
	if (!notice && errlen)
		*err = 0;
	*out = r;
	return 0;
}
