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
 *    hold 65,536 records, the journal moves on to a new file and a thread (started at
 *    the first compaction) writes a new snapshot of every image's records, from copies
 *    of the states as of that moment, aside, syncs it and renames it over the old one;
 *    then the files it covers go. Commits go on meanwhile. If it fails, `status` shows
 *    why (whichever write failed), commits go on and the next try waits until the
 *    journal has grown by compact_bytes again; at shutdown a snapshot in progress is
 *    finished first.
 *  - A restart loads the snapshot's records straight into each image's state (no
 *    protocol parsing, no batch checks: the records are the ones a commit accepted, and
 *    checksummed), then replays the journal after it, building no generation per batch
 *    (image_replay): each image's final state is numbered once at the end. A snapshot
 *    of protocol text (STATE records, from before the binary format) is still replayed.
 *
 * Directory: `lock` (flock'ed while a daemon uses the directory), `snapshot`,
 * `journal.NNNNNNNNNNNNNNNN` (hex index; the snapshot names the first index it does not
 * cover), `exe/NAME` (NAME: a hash and the length of the bytes), `unknown` (the commit
 * whose outcome a failed append left unknown, until the next start settles it),
 * `damaged/N/` (what journal_recover moved aside).
 *
 * Records, in journal files and the snapshot alike: a 32-byte header, little-endian
 * ("DSJ1"; u32 kind; u64 payload length; u64 generation; u32 CRC-32C of the payload
 * and then of the header's first 24 bytes; u32 0), then the payload. A journal file's
 * payloads are protocol text (CREATE, BATCH, NEXT: see journal.c).
 *
 * Snapshot, format version 2, a record each:
 *   HEAD   generation: the first journal index the snapshot does not cover; payload:
 *          "DSSB", u32 version (2), u64 number of images.
 *   IMAGE  one per image; generation: the image's; payload: name, executable blob
 *          ("": none), uuid (16 bytes), u32 cputype, u32 cpusubtype, u8 has_build, u32
 *          platform, u32 minos, u32 sdk; uleb segment count, per segment: name, u64
 *          vmaddr, u64 vmsize, u32 maxprot, u32 initprot, u32 flags, uleb section count,
 *          per section: name, segment name, u64 addr, u64 size, u32 align, u32 flags,
 *          u32 reserved1..3; then uleb counts of files, types, functions (abstract ones
 *          included), symbols, globals, abstract functions.
 *   CHUNK  after its IMAGE, about 1 MiB of one section's records each, the sections in
 *          the order files (1), types (2), functions (3), symbols (4), globals (5),
 *          abstract functions (6); payload: u8 section, then records to the end:
 *            file      uleb id, path, opt dir, uleb language (0: the default)
 *            type      uleb id, u8 kind (1 base, 2 pointer, 3 const, 4 typedef, 5
 *                      struct, 6 union, 7 enum, 8 array, 9 func, 10 volatile, 11
 *                      restrict), opt name, uleb size, u8 encoding (0, or 1..6: signed,
 *                      unsigned, bool, float, signed_char, unsigned_char), uleb target
 *                      id, uleb file, uleb line, uleb scope, uleb alignment, u8 flags (1
 *                      decl, 2 variadic, 4 unprototyped); uleb member count, per member:
 *                      opt name, uleb type, uleb byte offset, uleb bits, uleb bit offset;
 *                      uleb enumerator count, per enumerator: opt name, u64 low and u64
 *                      high half of the value, u8 negative; uleb dimension count, per
 *                      dimension a uleb (2^64-1: unknown); uleb return type; uleb
 *                      parameter count, per parameter a uleb type id
 *            function  uleb id, name, uleb low_pc, uleb size, uleb file, sleb line, uleb
 *                      cu, uleb return type, uleb parameter count, per parameter: name,
 *                      uleb type, LOC, uleb line; uleb row count, per row: uleb offset,
 *                      sleb line, uleb column, uleb flags, uleb file; u8 flags (1
 *                      variadic, 2 unprototyped, 4 optimized, 8 noreturn, 16 abstract:
 *                      set in section 6 and only there; 32: what follows is there),
 *                      then with flag 32: opt linkage name, LOC frame base; uleb
 *                      variable count, per variable: opt name, uleb type, LOC, uleb
 *                      line, uleb block; uleb block count, per block: uleb range count,
 *                      per range uleb from and uleb to, then uleb parent, uleb origin,
 *                      uleb call file, uleb call line, uleb call column
 *            symbol    uleb k (0: the compiler's; i + 1: the executable's i-th), name,
 *                      uleb value, uleb section, u8 flags (1 ext, 2 from the
 *                      executable), uleb n_desc
 *            global    uleb id, name, uleb type, uleb addr, uleb file, uleb line, uleb
 *                      cu, u8 ext, opt linkage name
 *          A LOC is u8 kind (0 none, 1 fbreg, 2 reg, 3 breg, 4 addr, 5 const, 6 expr, 7
 *          list) and, but for none, uleb register, sleb value, uleb length; then for
 *          expr that many bytes, for a list that many entries of uleb from, uleb to and a
 *          LOC that is no list.
 *          Files, types, globals and abstract functions in increasing id, functions in
 *          increasing (unit, id): the order of the trees they fill, so the trees are
 *          built in key order.
 * Format version 1 (written before rich debug info) is still read: its IMAGE counts stop
 * after symbols, it has sections 1 to 4 only, and its records stop before the fields
 * version 2 added (files after dir; types after the target id; a parameter after its
 * type; functions after the rows), which then read as zero or absent. A restart writes
 * version 2 at its next compaction.
 * A string is a uleb length and its bytes (no NUL); an opt string is uleb length + 1,
 * or 0 for none. Records are stored, not their DWARF encoding: a restart encodes each
 * function and type again, so a snapshot does not depend on the encoder's version.
 * Damage: any record that does not verify, decode or belong where it is, counts that
 * do not match what follows, an unknown version. A new format gets a new version;
 * readers refuse versions they do not know.
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
