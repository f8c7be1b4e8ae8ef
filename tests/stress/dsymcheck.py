"""Structural check of an MH_DSYM file, as a debugger would read it (a helper of
tests/integration/stress; the same checks as tests/fuzz/dsym_check.h).

    check(data, uuid=None, cpu=None) -> None, or a string saying what is wrong

Checks: mach_header_64 magic and MH_DSYM; ncmds load commands filling exactly
sizeofcmds, each 8-byte aligned; every segment's file range, and every section that has
file bytes, inside the file (and each __DWARF section inside its segment); LC_SYMTAB's
tables inside the file with every n_strx inside the string table; .debug_info,
.debug_line and .debug_aranges made of 32-bit units whose unit_length fields chain
exactly to the end of their section, version 2 to 4. With uuid (a string such as
"5A3B1C2D-0E4F-...") and cpu ("x86_64" or "arm64"): exactly one LC_UUID, holding that
UUID, and the header's CPU type (a restored image must still be the image it was).
"""
import struct

MH_MAGIC_64 = 0xFEEDFACF
MH_DSYM = 0xA
LC_SEGMENT_64 = 0x19
LC_SYMTAB = 0x2
LC_UUID = 0x1B
CPU_TYPES = {"x86_64": 0x01000007, "arm64": 0x0100000C}


def _units(data, off, size, what):
    pos = 0
    n = 0
    while pos < size:
        if size - pos < 6:
            return "%s: %d stray bytes at section offset 0x%x" % (what, size - pos, pos)
        unit_length, version = struct.unpack_from("<IH", data, off + pos)
        if unit_length >= 0xFFFFFFF0 or unit_length > size - pos - 4:
            return "%s: unit %d at 0x%x has unit_length 0x%x, past the section end (0x%x)" % (
                what, n, pos, unit_length, size)
        if not 2 <= version <= 4:
            return "%s: unit %d at 0x%x has version %d" % (what, n, pos, version)
        pos += 4 + unit_length
        n += 1
    return None


def check(data, uuid=None, cpu=None):
    size = len(data)
    if size < 32:
        return "file is %d bytes, shorter than a mach_header_64" % size
    magic, cpu_type, _, ftype, ncmds, sizeofcmds, _, _ = struct.unpack_from("<8I", data, 0)
    if magic != MH_MAGIC_64 or ftype != MH_DSYM:
        return "not an MH_DSYM mach_header_64 (magic 0x%x, filetype 0x%x)" % (magic, ftype)
    end = 32 + sizeofcmds
    if end > size:
        return "sizeofcmds %d runs past the file (%d bytes)" % (sizeofcmds, size)
    if cpu and cpu_type != CPU_TYPES[cpu]:
        return "CPU type 0x%x, the image is %s (0x%x)" % (cpu_type, cpu, CPU_TYPES[cpu])
    pos = 32
    dwarf = {}
    uuids = []
    for i in range(ncmds):
        if end - pos < 8:
            return "load command %d starts past sizeofcmds" % i
        cmd, cmdsize = struct.unpack_from("<II", data, pos)
        if cmdsize < 8 or cmdsize % 8 or cmdsize > end - pos:
            return "load command %d (0x%x): bad cmdsize %d" % (i, cmd, cmdsize)
        if cmd == LC_SEGMENT_64:
            if cmdsize < 72:
                return "segment command %d is %d bytes" % (i, cmdsize)
            segname = data[pos + 8:pos + 24].rstrip(b"\0").decode("latin-1")
            fileoff, filesize = struct.unpack_from("<QQ", data, pos + 40)
            nsects = struct.unpack_from("<I", data, pos + 64)[0]
            if nsects * 80 != cmdsize - 72:
                return "segment %s: %d sections in cmdsize %d" % (segname, nsects, cmdsize)
            if fileoff + filesize > size:
                return "segment %s covers 0x%x+0x%x, past the file (0x%x)" % (
                    segname, fileoff, filesize, size)
            is_dwarf = segname == "__DWARF"
            for j in range(nsects):
                s = pos + 72 + j * 80
                sectname = data[s:s + 16].rstrip(b"\0").decode("latin-1")
                ssize = struct.unpack_from("<Q", data, s + 40)[0]
                soff = struct.unpack_from("<I", data, s + 48)[0]
                if not soff and not is_dwarf:
                    continue  # the executable's sections carry no file bytes in a dSYM
                if soff + ssize > size or (is_dwarf and not (
                        fileoff <= soff and soff + ssize <= fileoff + filesize)):
                    return "section %s,%s at 0x%x+0x%x lies outside the file (0x%x) or its " \
                           "segment" % (segname, sectname, soff, ssize, size)
                if is_dwarf:
                    dwarf[sectname] = (soff, ssize)
        elif cmd == LC_UUID and cmdsize >= 24:
            uuids.append(data[pos + 8:pos + 24].hex().upper())
        elif cmd == LC_SYMTAB:
            symoff, nsyms, stroff, strsize = struct.unpack_from("<4I", data, pos + 8)
            if symoff + nsyms * 16 > size or stroff + strsize > size:
                return "symbol or string table outside the file"
            for k in range(nsyms):
                strx = struct.unpack_from("<I", data, symoff + k * 16)[0]
                if strx >= strsize or data.find(b"\0", stroff + strx, stroff + strsize) < 0:
                    return "symbol %d: n_strx %d outside the string table or unterminated" % (
                        k, strx)
        pos += cmdsize
    if pos != end:
        return "%d load commands end at 0x%x, sizeofcmds says 0x%x" % (ncmds, pos, end)
    if uuid and uuids != [uuid.replace("-", "").upper()]:
        return "LC_UUID %s, the image's is %s" % (uuids, uuid)
    if "__debug_info" not in dwarf:
        return "no __DWARF,__debug_info section"
    for name in ("__debug_info", "__debug_line", "__debug_aranges"):
        if name in dwarf:
            err = _units(data, dwarf[name][0], dwarf[name][1], name)
            if err:
                return err
    return None


if __name__ == "__main__":
    import sys
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            print("%s: %s" % (path, check(f.read()) or "ok"))
