/* macho: reading an executable's Mach-O identity and writing an MH_DSYM header.
 *
 * Field layouts below follow <mach-o/loader.h>, <mach-o/fat.h> and <mach-o/nlist.h>;
 * every multi-byte field is little-endian except in the fat header, which is big-endian
 * on disk whatever the slices are. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enc.h"
#include "macho.h"

#define MH_MAGIC      0xfeedfaceu   /* 32-bit, as read little-endian */
#define MH_MAGIC_64   0xfeedfacfu
#define MH_CIGAM      0xcefaedfeu   /* big-endian files, as read little-endian */
#define MH_CIGAM_64   0xcffaedfeu
#define FAT_MAGIC     0xcafebabeu   /* as read big-endian */
#define FAT_MAGIC_64  0xcafebabfu
#define MH_DSYM       0xau

#define LC_SYMTAB        0x02u
#define LC_SEGMENT_64    0x19u
#define LC_UUID          0x1bu
#define LC_BUILD_VERSION 0x32u

/* Capability bits of cpusubtype (LIB64, pointer-authentication ABI): they say nothing
 * about the instruction set, dsymutil drops them from a dSYM, and macho_arch_parse
 * never sets them, so an identity never carries them. */
#define CPU_SUBTYPE_MASK 0xff000000u

#define N_STAB 0xe0u
#define N_TYPE 0x0eu

/* mach_header_64: magic u32, cputype u32, cpusubtype u32, filetype u32, ncmds u32,
 * sizeofcmds u32, flags u32, reserved u32. */
#define MACH_HEADER_SIZE 32u
/* segment_command_64: cmd u32, cmdsize u32, segname[16], vmaddr u64, vmsize u64,
 * fileoff u64, filesize u64, maxprot u32, initprot u32, nsects u32, flags u32. */
#define SEGMENT_CMD_SIZE 72u
/* section_64: sectname[16], segname[16], addr u64, size u64, offset u32, align u32,
 * reloff u32, nreloc u32, flags u32, reserved1 u32, reserved2 u32, reserved3 u32. */
#define SECTION_SIZE     80u
/* uuid_command: cmd u32, cmdsize u32, uuid[16]. */
#define UUID_CMD_SIZE    24u
/* symtab_command: cmd u32, cmdsize u32, symoff u32, nsyms u32, stroff u32, strsize u32. */
#define SYMTAB_CMD_SIZE  24u
/* build_version_command: cmd u32, cmdsize u32, platform u32, minos u32, sdk u32,
 * ntools u32, then ntools build_tool_version {tool u32, version u32}. */
#define BUILD_CMD_SIZE   24u
#define BUILD_TOOL_SIZE  8u
/* fat_header: magic u32, nfat_arch u32 (big-endian). fat_arch: cputype, cpusubtype,
 * offset, size, align (u32 each); fat_arch_64: cputype u32, cpusubtype u32, offset u64,
 * size u64, align u32, reserved u32. */
#define FAT_HEADER_SIZE  8u
#define FAT_ARCH_SIZE    20u
#define FAT_ARCH64_SIZE  32u

#define PAGE_SIZE_DSYM 0x1000u   /* dsymutil rounds __LINKEDIT and __DWARF to 4 KiB */

/* __DWARF protections as dsymutil writes them: maxprot rwx, initprot rw-. */
#define DWARF_MAXPROT  7u
#define DWARF_INITPROT 3u

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		/* Names come from the file: keep the message on one line whatever they hold. */
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return rc;
}

/* True when [off, off + size) lies within [0, limit), without overflowing. */
static bool range_ok(uint64_t off, uint64_t size, uint64_t limit)
{
	return off <= limit && size <= limit - off;
}

static uint64_t page_round(uint64_t v)
{
	return (v + PAGE_SIZE_DSYM - 1) & ~(uint64_t)(PAGE_SIZE_DSYM - 1);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A 16-byte name field is NUL-padded but need not be NUL-terminated. */
static void get_name16(char dst[17], const uint8_t *src)
{
	size_t n = 0;
	while (n < 16 && src[n])
		n++;
	memcpy(dst, src, n);
	memset(dst + n, 0, 17 - n);
}

static void put_name16(uint8_t *dst, const char *name)
{
	size_t n = strnlen(name, 16);
	memset(dst, 0, 16);
	memcpy(dst, name, n);
}

static const char *cpu_name(uint32_t cputype)
{
	switch (cputype) {
	case MACHO_CPU_X86_64:
		return "x86_64";
	case MACHO_CPU_ARM64:
		return "arm64";
	case 0x00000007u:
		return "i386";
	case 0x0000000cu:
		return "arm";
	case 0x0200000cu:
		return "arm64_32";
	case 0x00000012u:
		return "ppc";
	case 0x01000012u:
		return "ppc64";
	default:
		return NULL;
	}
}

static const char *lc_name(uint32_t cmd)
{
	switch (cmd) {
	case LC_SYMTAB:
		return "LC_SYMTAB";
	case LC_SEGMENT_64:
		return "LC_SEGMENT_64";
	case LC_UUID:
		return "LC_UUID";
	case LC_BUILD_VERSION:
		return "LC_BUILD_VERSION";
	default:
		return "other";
	}
}

/* ---- reading ---------------------------------------------------------------------- */

/* A fat file is always refused; the message names the slices so the user knows what to
 * pass to lipo -thin. */
static int refuse_fat(const uint8_t *data, size_t len, bool is64, char *err, size_t errlen)
{
	if (len < FAT_HEADER_SIZE)
		return fail(err, errlen, -EINVAL,
			    "fat (universal) header truncated: file is %zu bytes", len);
	uint32_t nfat = get_be32(data + 4);
	uint64_t entsize = is64 ? FAT_ARCH64_SIZE : FAT_ARCH_SIZE;
	/* Java class files share the 0xcafebabe magic; their "slice count" is a class
	 * file version that the table size check rules out. */
	if (!range_ok(FAT_HEADER_SIZE, (uint64_t)nfat * entsize, len))
		return fail(err, errlen, -EINVAL,
			    "starts like a fat (universal) Mach-O, but its table of %u slices "
			    "runs past the end of the file (%zu bytes)", nfat, len);
	char list[160] = "";
	size_t used = 0;
	for (uint32_t i = 0; i < nfat && used < sizeof list; i++) {
		uint32_t cpu = get_be32(data + FAT_HEADER_SIZE + i * entsize);
		const char *name = cpu_name(cpu);
		char unknown[24];
		if (!name) {
			snprintf(unknown, sizeof unknown, "cpu 0x%x", cpu);
			name = unknown;
		}
		int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return fail(err, errlen, -ENOTSUP,
		    "fat file with %u slice%s (%s): pick one with lipo -thin", nfat,
		    nfat == 1 ? "" : "s", list);
}

/* Checks the magic and CPU of a thin 64-bit little-endian file. */
static int check_header(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	if (len < 4)
		return fail(err, errlen, -EINVAL,
			    "file is %zu bytes: too short for a Mach-O header", len);
	uint32_t be = get_be32(data);
	if (be == FAT_MAGIC || be == FAT_MAGIC_64)
		return refuse_fat(data, len, be == FAT_MAGIC_64, err, errlen);
	uint32_t magic = enc_get_u32(data);
	if (magic == MH_MAGIC)
		return fail(err, errlen, -ENOTSUP,
			    "32-bit Mach-O: only 64-bit executables (x86_64, arm64) are supported");
	if (magic == MH_CIGAM || magic == MH_CIGAM_64)
		return fail(err, errlen, -ENOTSUP,
			    "big-endian Mach-O: only little-endian executables (x86_64, arm64) "
			    "are supported");
	if (magic != MH_MAGIC_64)
		return fail(err, errlen, -EINVAL,
			    "not a Mach-O file (starts with bytes %02x %02x %02x %02x)",
			    data[0], data[1], data[2], data[3]);
	if (len < MACH_HEADER_SIZE)
		return fail(err, errlen, -EINVAL,
			    "Mach-O header truncated: file is %zu bytes, the header needs %u",
			    len, MACH_HEADER_SIZE);
	uint32_t cpu = enc_get_u32(data + 4);
	if (cpu != MACHO_CPU_X86_64 && cpu != MACHO_CPU_ARM64) {
		const char *name = cpu_name(cpu);
		return fail(err, errlen, -ENOTSUP,
			    "CPU type 0x%x (%s) is not supported: only x86_64 and arm64", cpu,
			    name ? name : "unknown");
	}
	return 0;
}

/* Where LC_SYMTAB pointed; the table is read after the walk, once the number of
 * sections (which bounds n_sect) is known. */
struct symtab_ref {
	bool found;
	uint32_t cmd_index;
	uint32_t symoff, nsyms, stroff, strsize;
};

struct reader {
	const uint8_t *data;
	size_t len;
	char *err;
	size_t errlen;
	struct macho_exe *out;
	size_t cmds_end;   /* end of the header and load commands */
	uint32_t total_sects;
	bool has_uuid;
	uint32_t uuid_index;
	struct symtab_ref symtab;
};

static int read_segment(struct reader *r, uint32_t index, const uint8_t *p, uint32_t cmdsize)
{
	if (cmdsize < SEGMENT_CMD_SIZE)
		return fail(r->err, r->errlen, -EINVAL,
			    "load command %u (LC_SEGMENT_64) is %u bytes, shorter than the "
			    "%u-byte segment header", index, cmdsize, SEGMENT_CMD_SIZE);
	struct macho_segment seg = {0};
	get_name16(seg.segname, p + 8);
	seg.vmaddr = enc_get_u64(p + 24);
	seg.vmsize = enc_get_u64(p + 32);
	uint64_t fileoff = enc_get_u64(p + 40);
	uint64_t filesize = enc_get_u64(p + 48);
	seg.maxprot = enc_get_u32(p + 56);
	seg.initprot = enc_get_u32(p + 60);
	seg.nsects = enc_get_u32(p + 64);
	seg.flags = enc_get_u32(p + 68);

	uint32_t room = (cmdsize - SEGMENT_CMD_SIZE) / SECTION_SIZE;
	if (seg.nsects > room)
		return fail(r->err, r->errlen, -EINVAL,
			    "load command %u (LC_SEGMENT_64 %s) claims %u sections, but its "
			    "cmdsize of %u bytes holds only %u", index, seg.segname, seg.nsects,
			    cmdsize, room);
	if (!range_ok(fileoff, filesize, r->len))
		return fail(r->err, r->errlen, -EINVAL,
			    "segment %s (load command %u) covers file bytes %llu..%llu, past the "
			    "end of the file (%zu bytes): the file is truncated", seg.segname,
			    index, (unsigned long long)fileoff,
			    (unsigned long long)(fileoff + filesize), r->len);
	struct macho_segtab *t = &r->out->segtab;
	if (t->nsegs == MACHO_MAX_SEGS)
		return fail(r->err, r->errlen, -EINVAL,
			    "more than %d segments (load command %u, %s): not a plausible "
			    "executable", MACHO_MAX_SEGS, index, seg.segname);
	if (seg.nsects > MACHO_MAX_SECTS - r->total_sects)
		return fail(r->err, r->errlen, -EINVAL,
			    "segment %s (load command %u) brings the section count past %d, "
			    "more than a symbol's one-byte n_sect can address", seg.segname,
			    index, MACHO_MAX_SECTS);

	if (seg.nsects) {
		seg.sects = calloc(seg.nsects, sizeof *seg.sects);
		if (!seg.sects)
			return fail(r->err, r->errlen, -ENOMEM,
				    "out of memory reading segment %s", seg.segname);
	}
	for (uint32_t i = 0; i < seg.nsects; i++) {
		const uint8_t *s = p + SEGMENT_CMD_SIZE + (size_t)i * SECTION_SIZE;
		struct macho_section *sec = &seg.sects[i];
		get_name16(sec->sectname, s);
		get_name16(sec->segname, s + 16);
		sec->addr = enc_get_u64(s + 32);
		sec->size = enc_get_u64(s + 40);
		/* offset (s + 48), reloff and nreloc are not kept: a dSYM zeroes them. */
		sec->align = enc_get_u32(s + 52);
		sec->flags = enc_get_u32(s + 64);
		sec->reserved1 = enc_get_u32(s + 68);
		sec->reserved2 = enc_get_u32(s + 72);
		sec->reserved3 = enc_get_u32(s + 76);
	}

	struct macho_segment *segs = realloc(t->segs, (t->nsegs + 1) * sizeof *segs);
	if (!segs) {
		free(seg.sects);
		return fail(r->err, r->errlen, -ENOMEM,
			    "out of memory reading segment %s", seg.segname);
	}
	t->segs = segs;
	t->segs[t->nsegs++] = seg;
	r->total_sects += seg.nsects;
	return 0;
}

static int read_uuid(struct reader *r, uint32_t index, const uint8_t *p, uint32_t cmdsize)
{
	if (cmdsize < UUID_CMD_SIZE)
		return fail(r->err, r->errlen, -EINVAL,
			    "load command %u (LC_UUID) is %u bytes, shorter than %u", index,
			    cmdsize, UUID_CMD_SIZE);
	if (r->has_uuid)
		return fail(r->err, r->errlen, -EINVAL,
			    "two LC_UUID load commands (%u and %u): the executable's identity "
			    "is ambiguous", r->uuid_index, index);
	memcpy(r->out->ident.uuid, p + 8, 16);
	r->has_uuid = true;
	r->uuid_index = index;
	return 0;
}

static int read_build(struct reader *r, uint32_t index, const uint8_t *p, uint32_t cmdsize)
{
	if (cmdsize < BUILD_CMD_SIZE)
		return fail(r->err, r->errlen, -EINVAL,
			    "load command %u (LC_BUILD_VERSION) is %u bytes, shorter than %u",
			    index, cmdsize, BUILD_CMD_SIZE);
	uint32_t ntools = enc_get_u32(p + 20);
	if ((uint64_t)ntools * BUILD_TOOL_SIZE > cmdsize - BUILD_CMD_SIZE)
		return fail(r->err, r->errlen, -EINVAL,
			    "load command %u (LC_BUILD_VERSION) lists %u tools, more than its "
			    "cmdsize of %u bytes holds", index, ntools, cmdsize);
	/* A zippered (macOS + Mac Catalyst) binary has two; the first is the primary
	 * platform, as ld64 orders them. */
	struct macho_ident *id = &r->out->ident;
	if (id->has_build)
		return 0;
	id->has_build = true;
	id->platform = enc_get_u32(p + 8);
	id->minos = enc_get_u32(p + 12);
	id->sdk = enc_get_u32(p + 16);
	return 0;
}

static int read_symtab_cmd(struct reader *r, uint32_t index, const uint8_t *p,
			   uint32_t cmdsize)
{
	if (cmdsize < SYMTAB_CMD_SIZE)
		return fail(r->err, r->errlen, -EINVAL,
			    "load command %u (LC_SYMTAB) is %u bytes, shorter than %u", index,
			    cmdsize, SYMTAB_CMD_SIZE);
	if (r->symtab.found)
		return fail(r->err, r->errlen, -EINVAL,
			    "two LC_SYMTAB load commands (%u and %u)", r->symtab.cmd_index, index);
	r->symtab.found = true;
	r->symtab.cmd_index = index;
	r->symtab.symoff = enc_get_u32(p + 8);
	r->symtab.nsyms = enc_get_u32(p + 12);
	r->symtab.stroff = enc_get_u32(p + 16);
	r->symtab.strsize = enc_get_u32(p + 20);
	return 0;
}

static bool keep_symbol(uint8_t type)
{
	return !(type & N_STAB) && (type & N_TYPE) == MACHO_N_SECT;
}

/* nlist_64: n_strx u32, n_type u8, n_sect u8, n_desc u16, n_value u64. */
static int read_symbols(struct reader *r)
{
	const struct symtab_ref *st = &r->symtab;
	if (!st->found)
		return 0;
	if (!range_ok(st->symoff, (uint64_t)st->nsyms * MACHO_NLIST_SIZE, r->len))
		return fail(r->err, r->errlen, -EINVAL,
			    "symbol table (load command %u, LC_SYMTAB: %u symbols at offset %u) "
			    "runs past the end of the file (%zu bytes)", st->cmd_index,
			    st->nsyms, st->symoff, r->len);
	if (!range_ok(st->stroff, st->strsize, r->len))
		return fail(r->err, r->errlen, -EINVAL,
			    "string table (load command %u, LC_SYMTAB: %u bytes at offset %u) "
			    "runs past the end of the file (%zu bytes)", st->cmd_index,
			    st->strsize, st->stroff, r->len);
	uint64_t symend = st->symoff + (uint64_t)st->nsyms * MACHO_NLIST_SIZE;
	uint64_t strend = (uint64_t)st->stroff + st->strsize;
	if ((st->nsyms && st->symoff < r->cmds_end) || (st->strsize && st->stroff < r->cmds_end))
		return fail(r->err, r->errlen, -EINVAL,
			    "symbol or string table (load command %u, LC_SYMTAB) overlaps the "
			    "Mach-O header and load commands", st->cmd_index);
	if (st->nsyms && st->strsize && st->symoff < strend && st->stroff < symend)
		return fail(r->err, r->errlen, -EINVAL,
			    "symbol table and string table (load command %u, LC_SYMTAB) overlap",
			    st->cmd_index);
	const uint8_t *syms = r->data + st->symoff;
	const uint8_t *strs = r->data + st->stroff;

	/* Validate everything before allocating, so the count of kept symbols is exact. */
	uint32_t nkeep = 0;
	for (uint32_t i = 0; i < st->nsyms; i++) {
		const uint8_t *n = syms + (size_t)i * MACHO_NLIST_SIZE;
		uint32_t strx = enc_get_u32(n);
		if (strx >= st->strsize)
			return fail(r->err, r->errlen, -EINVAL,
				    "symbol %u has string index %u, past the end of the string "
				    "table (%u bytes)", i, strx, st->strsize);
		if (!memchr(strs + strx, 0, st->strsize - strx))
			return fail(r->err, r->errlen, -EINVAL,
				    "symbol %u's name (string index %u) is not NUL-terminated "
				    "within the string table (%u bytes)", i, strx, st->strsize);
		if (!keep_symbol(n[4]))
			continue;
		if (n[5] == 0 || n[5] > r->total_sects)
			return fail(r->err, r->errlen, -EINVAL,
				    "symbol %u (%s) is in section %u, but the file has %u sections",
				    i, (const char *)strs + strx, n[5], r->total_sects);
		nkeep++;
	}
	if (!nkeep)
		return 0;
	struct macho_exe *e = r->out;
	e->syms = calloc(nkeep, sizeof *e->syms);
	if (!e->syms)
		return fail(r->err, r->errlen, -ENOMEM, "out of memory reading %u symbols",
			    nkeep);
	for (uint32_t i = 0; i < st->nsyms; i++) {
		const uint8_t *n = syms + (size_t)i * MACHO_NLIST_SIZE;
		if (!keep_symbol(n[4]))
			continue;
		struct macho_sym *s = &e->syms[e->nsyms];
		s->name = strdup((const char *)strs + enc_get_u32(n));
		if (!s->name)
			return fail(r->err, r->errlen, -ENOMEM,
				    "out of memory reading %u symbols", nkeep);
		s->type = n[4];
		s->sect = n[5];
		s->desc = enc_get_u16(n + 6);
		s->value = enc_get_u64(n + 8);
		e->nsyms++;
	}
	return 0;
}

static int read_commands(struct reader *r)
{
	const uint8_t *d = r->data;
	uint32_t ncmds = enc_get_u32(d + 16);
	uint32_t sizeofcmds = enc_get_u32(d + 20);
	if (!range_ok(MACH_HEADER_SIZE, sizeofcmds, r->len))
		return fail(r->err, r->errlen, -EINVAL,
			    "load commands (%u bytes) run past the end of the file (%zu bytes): "
			    "the file is truncated", sizeofcmds, r->len);
	if (ncmds > sizeofcmds / 8)
		return fail(r->err, r->errlen, -EINVAL,
			    "header claims %u load commands in %u bytes, but each needs at "
			    "least 8", ncmds, sizeofcmds);
	size_t off = MACH_HEADER_SIZE;
	size_t end = MACH_HEADER_SIZE + (size_t)sizeofcmds;
	r->cmds_end = end;
	for (uint32_t i = 0; i < ncmds; i++) {
		if (end - off < 8)
			return fail(r->err, r->errlen, -EINVAL,
				    "load command %u starts past the end of the load commands "
				    "(%u commands in %u bytes)", i, ncmds, sizeofcmds);
		const uint8_t *p = d + off;
		uint32_t cmd = enc_get_u32(p);
		uint32_t cmdsize = enc_get_u32(p + 4);
		if (cmdsize < 8)
			return fail(r->err, r->errlen, -EINVAL,
				    "load command %u (%s, cmd 0x%x) has cmdsize %u; it must be at "
				    "least 8", i, lc_name(cmd), cmd, cmdsize);
		if (cmdsize > end - off)
			return fail(r->err, r->errlen, -EINVAL,
				    "load command %u (%s, cmd 0x%x) runs past the end of the load "
				    "commands (cmdsize %u, %zu bytes left)", i, lc_name(cmd), cmd,
				    cmdsize, end - off);
		int rc = 0;
		switch (cmd) {
		case LC_SEGMENT_64:
			rc = read_segment(r, i, p, cmdsize);
			break;
		case LC_UUID:
			rc = read_uuid(r, i, p, cmdsize);
			break;
		case LC_BUILD_VERSION:
			rc = read_build(r, i, p, cmdsize);
			break;
		case LC_SYMTAB:
			rc = read_symtab_cmd(r, i, p, cmdsize);
			break;
		default:
			break;
		}
		if (rc)
			return rc;
		off += cmdsize;
	}
	return 0;
}

int macho_parse_exe(const uint8_t *data, size_t len, struct macho_exe *out,
		    char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	int rc = check_header(data, len, err, errlen);
	if (rc)
		return rc;
	struct reader r = {
		.data = data, .len = len, .err = err, .errlen = errlen, .out = out,
	};
	out->ident.cputype = enc_get_u32(data + 4);
	out->ident.cpusubtype = enc_get_u32(data + 8) & ~CPU_SUBTYPE_MASK;
	rc = read_commands(&r);
	if (!rc && !r.has_uuid)
		rc = fail(err, errlen, -EINVAL,
			  "no LC_UUID load command: debuggers match a dSYM to its executable "
			  "by UUID, so relink without -no_uuid");
	if (!rc)
		rc = read_symbols(&r);
	if (rc)
		macho_exe_free(out);
	return rc;
}

int macho_read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
	*data = NULL;
	*len = 0;
	char eb[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return fail(err, errlen, -e, "cannot open %s: %s", path,
			    strerror_r(e, eb, sizeof eb));
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return fail(err, errlen, -e, "cannot stat %s: %s", path,
			    strerror_r(e, eb, sizeof eb));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return fail(err, errlen, -EISDIR,
			    "%s is a directory; give the executable inside it", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, -EINVAL, "%s is not a regular file", path);
	}
	size_t size = (size_t)st.st_size;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		return fail(err, errlen, -ENOMEM, "out of memory reading %s (%zu bytes)",
			    path, size);
	}
	/* A file that shrinks while being read is parsed as what was read, and then
	 * refused as truncated; one that grows is read up to its size at fstat. */
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return fail(err, errlen, -e, "cannot read %s: %s", path,
				    strerror_r(e, eb, sizeof eb));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = got;
	return 0;
}

int macho_read_exe(const char *path, struct macho_exe *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	uint8_t *buf;
	size_t len;
	int rc = macho_read_file(path, &buf, &len, err, errlen);
	if (rc)
		return rc;
	char why[512];
	rc = macho_parse_exe(buf, len, out, why, sizeof why);
	free(buf);
	if (rc)
		return fail(err, errlen, rc, "%s: %s", path, why);
	return 0;
}

void macho_exe_free(struct macho_exe *e)
{
	for (uint32_t i = 0; i < e->nsyms; i++)
		free(e->syms[i].name);
	free(e->syms);
	macho_segtab_free(&e->segtab);
	memset(e, 0, sizeof *e);
}

/* ---- segment tables --------------------------------------------------------------- */

int macho_segtab_copy(const struct macho_segtab *in, struct macho_segtab *out)
{
	memset(out, 0, sizeof *out);
	if (!in->nsegs)
		return 0;
	out->segs = calloc(in->nsegs, sizeof *out->segs);
	if (!out->segs)
		return -ENOMEM;
	for (uint32_t i = 0; i < in->nsegs; i++) {
		struct macho_segment *s = &out->segs[i];
		*s = in->segs[i];
		s->sects = NULL;
		out->nsegs = i + 1;
		if (!s->nsects)
			continue;
		s->sects = calloc(s->nsects, sizeof *s->sects);
		if (!s->sects) {
			macho_segtab_free(out);
			return -ENOMEM;
		}
		memcpy(s->sects, in->segs[i].sects, s->nsects * sizeof *s->sects);
	}
	return 0;
}

void macho_segtab_free(struct macho_segtab *t)
{
	for (uint32_t i = 0; i < t->nsegs; i++)
		free(t->segs[i].sects);
	free(t->segs);
	t->segs = NULL;
	t->nsegs = 0;
}

const struct macho_section *macho_segtab_find(const struct macho_segtab *t, const char *seg,
					      const char *sect, uint32_t *ordinal)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->nsegs; i++) {
		const struct macho_segment *s = &t->segs[i];
		for (uint32_t j = 0; j < s->nsects; j++) {
			n++;
			const struct macho_section *x = &s->sects[j];
			if (strcmp(x->segname, seg) == 0 && strcmp(x->sectname, sect) == 0) {
				if (ordinal)
					*ordinal = n;
				return x;
			}
		}
	}
	return NULL;
}

const struct macho_segment *macho_segtab_find_seg(const struct macho_segtab *t,
						  const char *seg)
{
	for (uint32_t i = 0; i < t->nsegs; i++)
		if (strcmp(t->segs[i].segname, seg) == 0)
			return &t->segs[i];
	return NULL;
}

uint32_t macho_segtab_nsects(const struct macho_segtab *t)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < t->nsegs; i++)
		n += t->segs[i].nsects;
	return n;
}

/* ---- writing ---------------------------------------------------------------------- */

/* An executable never has a __DWARF segment, but if one did, dsymutil drops it: the
 * dSYM's own comes last. */
static bool copied_segment(const struct macho_segment *s)
{
	return strcmp(s->segname, "__DWARF") != 0;
}

static bool is_linkedit(const struct macho_segment *s)
{
	return strcmp(s->segname, "__LINKEDIT") == 0;
}

size_t macho_dsym_header_size(const struct macho_dsym_layout *l)
{
	size_t n = MACH_HEADER_SIZE + UUID_CMD_SIZE + SYMTAB_CMD_SIZE;
	if (l->ident->has_build)
		n += BUILD_CMD_SIZE;
	for (uint32_t i = 0; i < l->segtab->nsegs; i++) {
		const struct macho_segment *s = &l->segtab->segs[i];
		if (copied_segment(s))
			n += SEGMENT_CMD_SIZE + (size_t)s->nsects * SECTION_SIZE;
	}
	n += SEGMENT_CMD_SIZE + (size_t)l->ndwarf * SECTION_SIZE;
	return n;
}

static uint8_t *put_segment(uint8_t *p, const char *name, uint64_t vmaddr, uint64_t vmsize,
			    uint64_t fileoff, uint64_t filesize, uint32_t maxprot,
			    uint32_t initprot, uint32_t nsects, uint32_t flags)
{
	enc_u32(p, LC_SEGMENT_64);
	enc_u32(p + 4, SEGMENT_CMD_SIZE + nsects * SECTION_SIZE);
	put_name16(p + 8, name);
	enc_u64(p + 24, vmaddr);
	enc_u64(p + 32, vmsize);
	enc_u64(p + 40, fileoff);
	enc_u64(p + 48, filesize);
	enc_u32(p + 56, maxprot);
	enc_u32(p + 60, initprot);
	enc_u32(p + 64, nsects);
	enc_u32(p + 68, flags);
	return p + SEGMENT_CMD_SIZE;
}

/* reloff and nreloc are always 0 in a dSYM. */
static uint8_t *put_section(uint8_t *p, const struct macho_section *s, uint32_t offset)
{
	put_name16(p, s->sectname);
	put_name16(p + 16, s->segname);
	enc_u64(p + 32, s->addr);
	enc_u64(p + 40, s->size);
	enc_u32(p + 48, offset);
	enc_u32(p + 52, s->align);
	enc_u32(p + 56, 0);
	enc_u32(p + 60, 0);
	enc_u32(p + 64, s->flags);
	enc_u32(p + 68, s->reserved1);
	enc_u32(p + 72, s->reserved2);
	enc_u32(p + 76, s->reserved3);
	return p + SECTION_SIZE;
}

void macho_dsym_write_header(const struct macho_dsym_layout *l, uint8_t *out)
{
	const struct macho_ident *id = l->ident;
	const struct macho_segtab *t = l->segtab;
	size_t total = macho_dsym_header_size(l);
	uint32_t ncmds = 3 + (id->has_build ? 1 : 0);   /* LC_UUID, LC_SYMTAB, __DWARF */
	for (uint32_t i = 0; i < t->nsegs; i++)
		ncmds += copied_segment(&t->segs[i]);

	uint8_t *p = out;
	enc_u32(p, MH_MAGIC_64);
	enc_u32(p + 4, id->cputype);
	enc_u32(p + 8, id->cpusubtype);
	enc_u32(p + 12, MH_DSYM);
	enc_u32(p + 16, ncmds);
	enc_u32(p + 20, (uint32_t)(total - MACH_HEADER_SIZE));
	enc_u32(p + 24, 0);   /* flags: dsymutil sets none */
	enc_u32(p + 28, 0);
	p += MACH_HEADER_SIZE;

	enc_u32(p, LC_UUID);
	enc_u32(p + 4, UUID_CMD_SIZE);
	memcpy(p + 8, id->uuid, 16);
	p += UUID_CMD_SIZE;

	if (id->has_build) {
		enc_u32(p, LC_BUILD_VERSION);
		enc_u32(p + 4, BUILD_CMD_SIZE);
		enc_u32(p + 8, id->platform);
		enc_u32(p + 12, id->minos);
		enc_u32(p + 16, id->sdk);
		enc_u32(p + 20, 0);   /* ntools: the linker that made the dSYM is not news */
		p += BUILD_CMD_SIZE;
	}

	enc_u32(p, LC_SYMTAB);
	enc_u32(p + 4, SYMTAB_CMD_SIZE);
	enc_u32(p + 8, (uint32_t)l->symoff);
	enc_u32(p + 12, l->nsyms);
	enc_u32(p + 16, (uint32_t)l->stroff);
	enc_u32(p + 20, (uint32_t)l->strsize);
	p += SYMTAB_CMD_SIZE;

	/* __DWARF goes above every segment, as the rewritten __LINKEDIT sizes them, so
	 * its addresses collide with nothing the executable maps. */
	uint64_t end = 0;
	for (uint32_t i = 0; i < t->nsegs; i++) {
		const struct macho_segment *s = &t->segs[i];
		if (!copied_segment(s))
			continue;
		uint64_t vmsize = s->vmsize, fileoff = 0, filesize = 0;
		if (is_linkedit(s)) {
			fileoff = l->symoff;
			filesize = l->stroff + l->strsize - l->symoff;
			vmsize = page_round(filesize);
		}
		if (s->vmaddr + vmsize > end)
			end = s->vmaddr + vmsize;
		p = put_segment(p, s->segname, s->vmaddr, vmsize, fileoff, filesize,
				s->maxprot, s->initprot, s->nsects, s->flags);
		for (uint32_t j = 0; j < s->nsects; j++)
			p = put_section(p, &s->sects[j], 0);
	}

	uint64_t dwarf_vmaddr = page_round(end);
	p = put_segment(p, "__DWARF", dwarf_vmaddr, page_round(l->dwarf_filesize),
			l->dwarf_fileoff, l->dwarf_filesize, DWARF_MAXPROT, DWARF_INITPROT,
			l->ndwarf, 0);
	for (uint32_t i = 0; i < l->ndwarf; i++) {
		const struct macho_dwarf_sect *d = &l->dwarf[i];
		struct macho_section s = {
			.addr = dwarf_vmaddr + (d->offset - l->dwarf_fileoff),
			.size = d->size,
		};
		/* A name longer than 16 bytes is cut, as "__apple_namespace" is. */
		memcpy(s.sectname, d->name, strnlen(d->name, 16));
		memcpy(s.segname, "__DWARF", sizeof "__DWARF");
		p = put_section(p, &s, (uint32_t)d->offset);
	}
}

void macho_put_nlist(uint8_t *out, uint32_t strx, uint8_t type, uint8_t sect, uint16_t desc,
		     uint64_t value)
{
	enc_u32(out, strx);
	out[4] = type;
	out[5] = sect;
	enc_u16(out + 6, desc);
	enc_u64(out + 8, value);
}

/* ---- names ------------------------------------------------------------------------ */

int macho_arch_parse(const char *s, uint32_t *cputype, uint32_t *cpusubtype)
{
	if (strcmp(s, "x86_64") == 0) {
		*cputype = MACHO_CPU_X86_64;
		*cpusubtype = MACHO_SUBTYPE_X86_64_ALL;
		return 0;
	}
	if (strcmp(s, "arm64") == 0) {
		*cputype = MACHO_CPU_ARM64;
		*cpusubtype = MACHO_SUBTYPE_ARM64_ALL;
		return 0;
	}
	return -EINVAL;
}

const char *macho_arch_name(uint32_t cputype)
{
	if (cputype == MACHO_CPU_X86_64)
		return "x86_64";
	if (cputype == MACHO_CPU_ARM64)
		return "arm64";
	return "unknown";
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool uuid_dash_at(size_t i)
{
	return i == 8 || i == 13 || i == 18 || i == 23;
}

int macho_uuid_parse(const char *s, uint8_t uuid[16])
{
	uint8_t tmp[16];
	size_t nibbles = 0, i = 0;
	for (; s[i] && i < 36; i++) {
		if (uuid_dash_at(i)) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		int v = hex_value(s[i]);
		if (v < 0)
			return -EINVAL;
		if (nibbles % 2 == 0)
			tmp[nibbles / 2] = (uint8_t)(v << 4);
		else
			tmp[nibbles / 2] |= (uint8_t)v;
		nibbles++;
	}
	if (i != 36 || s[i] != 0)
		return -EINVAL;
	memcpy(uuid, tmp, 16);
	return 0;
}

void macho_uuid_format(const uint8_t uuid[16], char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = digits[uuid[i] >> 4];
		out[o++] = digits[uuid[i] & 0xf];
	}
	out[o] = 0;
}
