/* check: the checks a batch's final state must pass before it is published: references
 * to files, types and inlined origins (abstract functions); type cycles, each of which
 * must pass through a named struct or union and none of which may hold a type by value;
 * scope chains that end in the unit; members inside their struct, enumerator names
 * unique, only the last array dimension 0, no array of void, decl types without size or
 * members; globals inside a section; functions inside __TEXT,__text and not
 * overlapping, rows, blocks and location lists inside their function, blocks inside
 * their parent, locals in blocks that exist; lines >= 1 after shifts, sections inside
 * their segments, symbols in existing sections, and the max_decls and file-count
 * limits.
 *
 * Contract: they run once, on the state the batch's last command left, and look at what
 * the batch touched (a delfile/deltype adds one pass over every type, global and
 * function, a del of an abstract function one over every function, a segment change
 * one over every global), so a commit touching k records costs O(k log n); the cycle
 * walks start only at the batch's types and visit each type once. An error names the
 * line of the command that caused it: the one that last changed the record, or the
 * delete of what it refers to.
 */
#ifndef DSYMFS_CHECK_H
#define DSYMFS_CHECK_H

struct batch;

/* Rebuilds b->w's file and type tables where the batch changed them, then checks the
 * state. 0, or -EINVAL (a check), -ENOSPC (a limit), -ENOMEM; message in b->err. */
int check_final(struct batch *b);

#endif
