/* journal: keeps a registry of images durable in a directory (the configuration's
 * state_dir) and restores it from there at start-up.
 *
 * Contract:
 *  - A commit that publishes is acknowledged only after its batch is appended to the
 *    journal and fdatasync'ed; a new image becomes visible only after its creation is.
 *    A failed write or sync fails that commit or creation (its errno, with a message)
 *    and changes nothing; what was written of the record is cut off again. If it can
 *    be neither synced nor cut back, the answer says the outcome is unknown, every
 *    later commit is refused until a restart, and the restart says whether it survived.
 *  - journal_attach brings every image back to its last acknowledged generation: the
 *    same bytes and the same generation number. A bad record at the end of the last
 *    journal file with no good record after it (a crash in the middle of an append) was
 *    never acknowledged: it is dropped and cut off, and status says so. Any other damage
 *    refuses to start, naming file and offset and changing no file: a bad record that a
 *    good one follows, a journal file missing from the sequence the snapshot starts
 *    (each file that appends moved on from names the next), a missing snapshot or one
 *    with fewer images than it counts, an executable under exe/ whose bytes do not
 *    hash to its name.
 *  - journal_recover keeps the longest undamaged prefix of that history and moves the
 *    rest into damaged/N/, never deleting a file.
 *  - The bytes an `exe` command (or `image ... create exe=`) read are stored by content
 *    under exe/, so a replay parses exactly what the commit parsed.
 *  - Compaction: when the journal files outgrow both compact_bytes and the snapshot, or
 *    hold 65,536 records, the journal moves on to a new file and a thread writes a new
 *    snapshot of every image (one batch that rebuilds its state, from copies of the
 *    states as of that moment) aside, syncs it and renames it over the old one; then the
 *    files it covers go. Commits go on meanwhile. A restart replays the snapshot and at
 *    most about as much journal again. If it fails, `status` shows why (whichever
 *    write failed), commits go on and the next try waits until the journal has grown
 *    by compact_bytes again; at shutdown a snapshot in progress is finished first.
 *  - Replaying builds no generation per batch (image_replay): each image's final state
 *    is numbered once at the end.
 *
 * Directory: `lock` (flock'ed while a daemon uses the directory), `snapshot`,
 * `journal.NNNNNNNNNNNNNNNN` (hex index; the snapshot names the first index it does not
 * cover), `exe/NAME` (NAME: a hash and the length of the bytes), `unknown` (the commit
 * whose outcome a failed append left unknown, until the next start settles it),
 * `damaged/N/` (what journal_recover moved aside). A record is a 32-byte header
 * ("DSJ1", kind, payload length, generation, CRC-32C of header and payload) followed by
 * protocol text.
 */
#ifndef DSYMFS_JOURNAL_H
#define DSYMFS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

#define JOURNAL_COMPACT_BYTES_DEFAULT (64ull << 20)

/* Creates dir if needed (mode 0700), locks it, restores every image it holds into r
 * (which must hold no images yet), and makes r durable there: the journal is then
 * owned by r and freed by ctl_registry_free. On success err holds what the operator
 * must hear of (a torn record dropped, whether a commit of unknown outcome survived;
 * status says it too), or "". Errors: -EBUSY (another daemon holds the
 * directory), -errno of the file system, -EINVAL (a damaged journal, or one that no
 * longer replays, e.g. under a lower max_decls), -ENOMEM; message in err. On error r
 * may hold some restored images and is not durable: the caller frees it. */
int journal_attach(struct ctl_registry *r, const char *dir, uint64_t compact_bytes,
		   char *err, size_t errlen);

/* For a directory journal_attach refuses over damage: finds the first damage (as a
 * restore would), moves the damaged file and every later journal file into
 * dir/damaged/N/ (a new N each time), writes the whole records before the damage back
 * under the damaged file's name, moves aside the executables nothing kept names, and
 * checks that what is left restores under lim. A snapshot's damage keeps nothing (the
 * journal files apply to it). Undamaged directories are left as they are. Takes the
 * directory's lock (-EBUSY while a daemon runs). *report (malloc'd or NULL, caller
 * frees, on error too) says what was found and done, a line each. Errors: -EBUSY, -errno
 * of the file system, -ENOMEM, -EINVAL (a journal that fails to restore for another
 * reason than damage, e.g. a lower max_decls); message in err. */
int journal_recover(const char *dir, const struct ctl_limits *lim, char **report, char *err,
		    size_t errlen);

#endif
