/* check: the checks a batch's final state must pass before it is published: references
 * to files and types, const/typedef chains that end, functions inside __TEXT,__text and
 * not overlapping, rows inside their function, lines >= 1 after shifts, sections inside
 * their segments, symbols in existing sections, and the max_decls and file-count limits.
 *
 * Contract: they run once, on the state the batch's last command left, and look at what
 * the batch touched (a delfile/deltype adds one pass over every function), so a commit
 * touching k functions costs O(k log n). An error names the line of the command that
 * caused it: the one that last changed the record, or the delete of what it refers to.
 */
#ifndef DSYMFS_CHECK_H
#define DSYMFS_CHECK_H

struct batch;

/* Rebuilds b->w's file and type tables where the batch changed them, then checks the
 * state. 0, or -EINVAL (a check), -ENOSPC (a limit), -ENOMEM; message in b->err. */
int check_final(struct batch *b);

#endif
