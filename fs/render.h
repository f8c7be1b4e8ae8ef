/* render: `dsymfs render [--config FILE] SCRIPT OUTDIR`, the mount's output without a
 * mount. Builds the configured images, applies SCRIPT as if written to the control file
 * in one session (committing what is pending at its end), and writes
 * OUTDIR/NAME.dSYM/Contents/Info.plist and .../Resources/DWARF/NAME for every image:
 * byte for byte what the mount would serve. Used by tests and to snapshot a state. */
#ifndef DSYMFS_RENDER_H
#define DSYMFS_RENDER_H

/* argv[0] is "render", then SCRIPT and OUTDIR; config is the --config file or NULL for
 * the embedded default. Returns the exit status: 0, 1 with a message on stderr, or 2 for
 * a usage error. */
int render_main(const char *config, int argc, char **argv);

#endif
