/* tree: the mount's namespace: which names each directory holds, what each node's
 * attributes are, and the bytes of its small files. Independent of FUSE requests (the
 * handlers in ops.c call it and reply).
 *
 *   /control  /status  /images/  /NAME.dSYM/Contents/{Info.plist,Resources/DWARF/NAME}
 *   /images/NAME/{decls,files,types,errors,generations/N/NAME.dSYM/...}
 *
 * The current bundle's directories are fixed nodes, and its two files are the current
 * generation's nodes; under generations/N every node belongs to generation N. A node of a
 * generation never changes, so its entry and attributes may be cached for an hour (the
 * notifier retracts the current bundle's entries at each publish). The live text files
 * (status, decls, files, types, errors) are cached for no time at all, and sized by
 * rendering them.
 */
#ifndef DSYMFS_TREE_H
#define DSYMFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "fs.h"
#include "handle.h"
#include "node.h"

struct tree_child {
	char *name;          /* owned */
	struct node_id id;
	struct gen *g;       /* reference to generation id.gen, or NULL when it is 0 */
};

bool tree_is_dir(enum node_kind k);

/* The children of directory `dir`, whose generation the caller holds in dg (NULL when
 * dir->gen is 0). *out is owned by the caller (tree_children_free). -ENOTDIR, -ESTALE
 * (no such image), -ENOMEM. */
int tree_children(struct fs *fs, const struct node_id *dir, struct gen *dg,
		  struct tree_child **out, size_t *n);
void tree_children_free(struct tree_child *v, size_t n);
/* The child called name: *out is owned by the caller (tree_child_release). -ENOENT as
 * well. */
int tree_lookup(struct fs *fs, const struct node_id *dir, struct gen *dg, const char *name,
		struct tree_child *out);
void tree_child_release(struct tree_child *c);

/* Attributes of a node (g: its generation when id->gen != 0, else NULL) and how long
 * the kernel may keep them and the entry naming the node. -ESTALE, -ENOMEM. */
int tree_attr(struct fs *fs, const struct node_id *id, struct gen *g, struct stat *st,
	      double *timeout);
/* The bytes of a small file node (Info.plist or a text file), as one snapshot: *out
 * holds them until handle_bytes_release. -EINVAL for other kinds, -ESTALE, -ENOMEM. */
int tree_bytes(struct fs *fs, const struct node_id *id, struct gen *g,
	       struct handle_bytes *out);

#endif
