/* recover: `dsymfs recover --config FILE`, for a state_dir that the daemon refuses to
 * start on because it is damaged. Keeps the longest undamaged prefix of the
 * acknowledged history and moves the damaged files into STATE_DIR/damaged/N/, never
 * deleting one (journal_recover), and says on stderr what it found, what it moved and
 * which generation each image is left at. A directory with no damage is left as it is.
 * Run it while no daemon uses the directory (it takes the same lock). */
#ifndef DSYMFS_RECOVER_H
#define DSYMFS_RECOVER_H

/* argv[0] is "recover"; config is the --config file (required: it names the state_dir
 * and the limits a restore runs under). Returns the exit status: 0 (recovered, or
 * nothing to recover), 1 with the error on stderr, 2 for a usage error. */
int recover_main(const char *config, int argc, char **argv);

#endif
