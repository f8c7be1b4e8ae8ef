/* macho: the Mach-O side of a dSYM. Reads an executable's identity, segments, sections
 * and defined symbols, and writes the header and load commands of an MH_DSYM file.
 *
 * Scope: 64-bit, little-endian, thin Mach-O only (x86_64 and arm64). A fat (universal)
 * file is refused with a message naming its slices; anything truncated, overlapping or
 * out of bounds is refused with a message, never read past its end. Every field is
 * decoded and encoded byte by byte in little-endian order.
 */
#ifndef DSYMFS_MACHO_H
#define DSYMFS_MACHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MACHO_CPU_X86_64        0x01000007u
#define MACHO_CPU_ARM64         0x0100000cu
#define MACHO_SUBTYPE_X86_64_ALL 3u
#define MACHO_SUBTYPE_ARM64_ALL  0u

#define MACHO_MAX_SECTS 255   /* n_sect is one byte */
#define MACHO_MAX_SEGS  64

/* Identity the debugger matches a dSYM against. */
struct macho_ident {
	uint8_t uuid[16];
	uint32_t cputype;
	uint32_t cpusubtype;
	bool has_build;       /* the executable had LC_BUILD_VERSION */
	uint32_t platform;    /* LC_BUILD_VERSION fields (tools are not kept) */
	uint32_t minos;
	uint32_t sdk;
};

struct macho_section {
	char sectname[17];    /* NUL-terminated copy of the 16-byte field */
	char segname[17];
	uint64_t addr;
	uint64_t size;
	uint32_t align;       /* power of two */
	uint32_t flags;
	uint32_t reserved1, reserved2, reserved3;
};

struct macho_segment {
	char segname[17];
	uint64_t vmaddr;
	uint64_t vmsize;
	uint32_t maxprot;
	uint32_t initprot;
	uint32_t flags;
	uint32_t nsects;
	struct macho_section *sects;   /* owned by the segment table */
};

/* A segment table: owned arrays, freed by macho_segtab_free. */
struct macho_segtab {
	uint32_t nsegs;
	struct macho_segment *segs;
};

struct macho_sym {
	char *name;           /* owned */
	uint64_t value;
	uint8_t type;         /* n_type */
	uint8_t sect;         /* n_sect, 1-based section ordinal */
	uint16_t desc;
};

struct macho_exe {
	struct macho_ident ident;
	struct macho_segtab segtab;
	uint32_t nsyms;
	struct macho_sym *syms;   /* defined (N_SECT) non-debug symbols only */
};

/* Parses an executable image held in memory. On success fills *out (which the caller
 * frees with macho_exe_free). On failure returns -EINVAL (malformed), -ENOTSUP (fat,
 * 32-bit, big-endian, unknown CPU) or -ENOMEM, writes a one-line reason to err, and
 * leaves *out zeroed. */
int macho_parse_exe(const uint8_t *data, size_t len, struct macho_exe *out,
		    char *err, size_t errlen);
/* Reads the whole regular file at path into *data (malloc'd, owned by the caller; set
 * even for an empty file) and its length into *len. -errno from open/read, -EISDIR,
 * -EINVAL (not a regular file), -ENOMEM; a one-line reason in err. */
int macho_read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen);
/* Reads the file at path and parses it; -errno from open/read as well. */
int macho_read_exe(const char *path, struct macho_exe *out, char *err, size_t errlen);
/* Frees everything *e owns and zeroes it; safe on a zeroed struct. */
void macho_exe_free(struct macho_exe *e);

/* Deep copy of a segment table into *out (owned by the caller); -ENOMEM. */
int macho_segtab_copy(const struct macho_segtab *in, struct macho_segtab *out);
void macho_segtab_free(struct macho_segtab *t);
/* The section by names, or NULL. *ordinal (if non-NULL) gets its 1-based ordinal over
 * all sections of all segments in order, as n_sect counts them. */
const struct macho_section *macho_segtab_find(const struct macho_segtab *t, const char *seg,
					      const char *sect, uint32_t *ordinal);
const struct macho_segment *macho_segtab_find_seg(const struct macho_segtab *t,
						  const char *seg);
uint32_t macho_segtab_nsects(const struct macho_segtab *t);

/* Everything the header and load commands of an MH_DSYM depend on. The caller lays the
 * file out; this module only encodes it. */
struct macho_dwarf_sect {
	const char *name;    /* "__debug_info", ... */
	uint64_t offset;     /* file offset */
	uint64_t size;
};

struct macho_dsym_layout {
	const struct macho_ident *ident;
	const struct macho_segtab *segtab;   /* the executable's segments */
	uint64_t symoff;
	uint32_t nsyms;
	uint64_t stroff;
	uint64_t strsize;
	uint64_t dwarf_fileoff;             /* start of the __DWARF segment */
	uint64_t dwarf_filesize;
	uint32_t ndwarf;
	const struct macho_dwarf_sect *dwarf; /* the non-empty debug sections, in file order */
};

/* Size in bytes of the mach header plus load commands for this layout. */
size_t macho_dsym_header_size(const struct macho_dsym_layout *l);
/* Writes exactly macho_dsym_header_size(l) bytes to out: MH_DSYM header, then LC_UUID,
 * LC_BUILD_VERSION (when the identity has one; no tools), LC_SYMTAB, each executable
 * segment with fileoff = filesize = 0 and section offsets zeroed (except __LINKEDIT,
 * which covers the symbol and string tables), then __DWARF last. */
void macho_dsym_write_header(const struct macho_dsym_layout *l, uint8_t *out);

/* One nlist_64 entry (16 bytes). */
#define MACHO_NLIST_SIZE 16
#define MACHO_N_SECT 0x0eu
#define MACHO_N_EXT  0x01u
void macho_put_nlist(uint8_t *out, uint32_t strx, uint8_t type, uint8_t sect, uint16_t desc,
		     uint64_t value);

/* Parses "x86_64" / "arm64" into cputype and subtype; -EINVAL otherwise. */
int macho_arch_parse(const char *s, uint32_t *cputype, uint32_t *cpusubtype);
/* "x86_64", "arm64" or "unknown". */
const char *macho_arch_name(uint32_t cputype);
/* Parses a UUID "8-4-4-4-12" hex string (either case); -EINVAL otherwise. */
int macho_uuid_parse(const char *s, uint8_t uuid[16]);
/* Formats the UUID in upper case with dashes into out (at least 37 bytes). */
void macho_uuid_format(const uint8_t uuid[16], char *out);

#endif
