/* dsym_check: an independent structural check of a synthesized MH_DSYM file, for the
 * fuzz targets. It knows nothing of how core/ lays the file out; it reads the bytes as a
 * debugger would and returns a message for the first thing that is wrong:
 *   - mach_header_64: magic, MH_DSYM, ncmds load commands filling exactly sizeofcmds;
 *   - every load command at least 8 bytes, 8-byte aligned, inside sizeofcmds;
 *   - every segment's file range, and every section with a file offset, inside the file;
 *     each __DWARF section inside its segment's file range;
 *   - LC_SYMTAB's tables inside the file, every n_strx inside the string table;
 *   - .debug_info, .debug_line and .debug_aranges: 32-bit unit_length fields that chain
 *     exactly to the end of their section, with version 2 to 4.
 * Header-only (static functions) so each target includes it directly. */
#ifndef DSYMFS_FUZZ_DSYM_CHECK_H
#define DSYMFS_FUZZ_DSYM_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t dc_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t dc_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t dc_u64(const uint8_t *p)
{
	return (uint64_t)dc_u32(p) | (uint64_t)dc_u32(p + 4) << 32;
}

static int dc_in(uint64_t off, uint64_t size, uint64_t limit)
{
	return off <= limit && size <= limit - off;
}

/* Walks the units of one DWARF section: each starts with a 32-bit unit_length then a
 * 2-byte version; the last must end exactly at the section's end. */
static int dc_units(const uint8_t *d, uint64_t off, uint64_t size, const char *what,
		    char *err, size_t errlen)
{
	uint64_t pos = 0;
	unsigned n = 0;
	while (pos < size) {
		if (size - pos < 6) {
			snprintf(err, errlen, "%s: %llu stray bytes at section offset 0x%llx", what,
				 (unsigned long long)(size - pos), (unsigned long long)pos);
			return -1;
		}
		uint32_t ul = dc_u32(d + off + pos);
		if (ul >= 0xfffffff0u || ul > size - pos - 4) {
			snprintf(err, errlen, "%s: unit %u at 0x%llx has unit_length 0x%x, past the "
				 "section end (0x%llx)", what, n, (unsigned long long)pos, ul,
				 (unsigned long long)size);
			return -1;
		}
		uint16_t ver = dc_u16(d + off + pos + 4);
		if (ver < 2 || ver > 4) {
			snprintf(err, errlen, "%s: unit %u at 0x%llx has version %u", what, n,
				 (unsigned long long)pos, ver);
			return -1;
		}
		pos += 4 + (uint64_t)ul;
		n++;
	}
	return 0;
}

static int dsym_check(const uint8_t *d, uint64_t len, char *err, size_t errlen)
{
	if (len < 32 || dc_u32(d) != 0xfeedfacfu || dc_u32(d + 12) != 0xau) {
		snprintf(err, errlen, "not an MH_DSYM mach_header_64 (%llu bytes)",
			 (unsigned long long)len);
		return -1;
	}
	uint32_t ncmds = dc_u32(d + 16), sizeofcmds = dc_u32(d + 20);
	if (!dc_in(32, sizeofcmds, len)) {
		snprintf(err, errlen, "sizeofcmds %u runs past the file (%llu bytes)", sizeofcmds,
			 (unsigned long long)len);
		return -1;
	}
	uint64_t pos = 32, end = 32 + (uint64_t)sizeofcmds;
	uint64_t info_off = 0, info_size = 0, line_off = 0, line_size = 0, ar_off = 0, ar_size = 0;
	int have_info = 0, have_line = 0, have_ar = 0;
	for (uint32_t i = 0; i < ncmds; i++) {
		if (end - pos < 8) {
			snprintf(err, errlen, "load command %u starts past sizeofcmds", i);
			return -1;
		}
		uint32_t cmd = dc_u32(d + pos), cmdsize = dc_u32(d + pos + 4);
		if (cmdsize < 8 || cmdsize % 8 || cmdsize > end - pos) {
			snprintf(err, errlen, "load command %u (0x%x): bad cmdsize %u", i, cmd,
				 cmdsize);
			return -1;
		}
		const uint8_t *p = d + pos;
		if (cmd == 0x19) {   /* LC_SEGMENT_64 */
			if (cmdsize < 72) {
				snprintf(err, errlen, "segment command %u is %u bytes", i, cmdsize);
				return -1;
			}
			char segname[17] = {0};
			memcpy(segname, p + 8, 16);
			uint64_t fileoff = dc_u64(p + 40), filesize = dc_u64(p + 48);
			uint32_t nsects = dc_u32(p + 64);
			if ((uint64_t)nsects * 80 != cmdsize - 72u) {
				snprintf(err, errlen, "segment %s: %u sections in cmdsize %u", segname,
					 nsects, cmdsize);
				return -1;
			}
			if (!dc_in(fileoff, filesize, len)) {
				snprintf(err, errlen, "segment %s covers 0x%llx+0x%llx, past the file "
					 "(0x%llx)", segname, (unsigned long long)fileoff,
					 (unsigned long long)filesize, (unsigned long long)len);
				return -1;
			}
			int dwarf = !strcmp(segname, "__DWARF");
			for (uint32_t j = 0; j < nsects; j++) {
				const uint8_t *s = p + 72 + (size_t)j * 80;
				char sectname[17] = {0};
				memcpy(sectname, s, 16);
				uint64_t size = dc_u64(s + 40);
				uint32_t off = dc_u32(s + 48);
				if (!off && !dwarf)
					continue;   /* the executable's sections: no file bytes */
				if (!dc_in(off, size, len) ||
				    (dwarf && (off < fileoff || !dc_in(off - fileoff, size, filesize)))) {
					snprintf(err, errlen, "section %s,%s at 0x%x+0x%llx lies outside "
						 "the file (0x%llx) or its segment", segname, sectname,
						 off, (unsigned long long)size, (unsigned long long)len);
					return -1;
				}
				if (dwarf && !strcmp(sectname, "__debug_info")) {
					info_off = off, info_size = size, have_info = 1;
				} else if (dwarf && !strcmp(sectname, "__debug_line")) {
					line_off = off, line_size = size, have_line = 1;
				} else if (dwarf && !strcmp(sectname, "__debug_aranges")) {
					ar_off = off, ar_size = size, have_ar = 1;
				}
			}
		} else if (cmd == 0x2) {   /* LC_SYMTAB */
			if (cmdsize < 24) {
				snprintf(err, errlen, "LC_SYMTAB is %u bytes", cmdsize);
				return -1;
			}
			uint32_t symoff = dc_u32(p + 8), nsyms = dc_u32(p + 12);
			uint32_t stroff = dc_u32(p + 16), strsize = dc_u32(p + 20);
			if (!dc_in(symoff, (uint64_t)nsyms * 16, len) || !dc_in(stroff, strsize, len)) {
				snprintf(err, errlen, "symbol or string table outside the file");
				return -1;
			}
			for (uint32_t k = 0; k < nsyms; k++) {
				uint32_t strx = dc_u32(d + symoff + (uint64_t)k * 16);
				if (strx >= strsize ||
				    !memchr(d + stroff + strx, 0, strsize - strx)) {
					snprintf(err, errlen, "symbol %u: n_strx %u outside the string "
						 "table (%u bytes) or unterminated", k, strx, strsize);
					return -1;
				}
			}
		}
		pos += cmdsize;
	}
	if (pos != end) {
		snprintf(err, errlen, "%u load commands end at 0x%llx, sizeofcmds says 0x%llx", ncmds,
			 (unsigned long long)pos, (unsigned long long)end);
		return -1;
	}
	if (!have_info) {
		snprintf(err, errlen, "no __DWARF,__debug_info section");
		return -1;
	}
	if (dc_units(d, info_off, info_size, "__debug_info", err, errlen))
		return -1;
	if (have_line && dc_units(d, line_off, line_size, "__debug_line", err, errlen))
		return -1;
	if (have_ar && dc_units(d, ar_off, ar_size, "__debug_aranges", err, errlen))
		return -1;
	return 0;
}

#endif
