"""The lldb queries of the rich-lldb test, read from a feed of rich debug-info records
(a helper of that test, not a test itself):

    python3 queries.py < feed > lldb-commands

`image lookup -t` for every named type, `target variable` for every global,
`image lookup -v -a` at the start and the last byte of every block and inlined call, of
every location-list entry and of every function, `breakpoint set -n` for every function
(an abstract one's breakpoint lands in its inlined calls) and `breakpoint set -f FILE -l
LINE` for every source line with an is_stmt row.
Reads the protocol's syntax (docs/protocol.md), not DWARF, so it asks about exactly what
the feed describes.
"""
import os
import shlex
import sys


def fields(words):
    return dict(w.split("=", 1) for w in words if "=" in w)


def spans(text):
    """The (from, to) pc offsets of RANGES ("A..B+C..D")."""
    for r in text.split("+"):
        a, b = r.split("..")
        yield int(a, 0), int(b, 0)


def main():
    files, types, globs, fns, names = {}, [], [], [], set()
    for line in sys.stdin:
        words = shlex.split(line)
        if not words:
            continue
        kv = fields(words[2:])
        if words[0] == "file":
            files[int(words[1], 0)] = kv["path"]
        elif words[0] == "type" and "name" in kv:
            types.append(kv["name"])
        elif words[0] == "global":
            globs.append(kv["name"])
        elif words[0] == "fn":
            names.add(kv["name"])
            if "abstract" not in words:
                fns.append(kv)
    addrs, lines = set(), set()
    for f in fns:
        low = int(f["low_pc"], 0)
        addrs.add(low)
        ranges = []
        for b in filter(None, f.get("blocks", "").split(",")):
            ranges += spans(b.split(":")[0])
        for item in filter(None, (f.get("params", "") + "," + f.get("vars", "")).split(",")):
            parts = item.split(":")
            if len(parts) > 2 and "@" in parts[2]:
                ranges += [tuple(int(x, 0) for x in e.split("@")[0].split(".."))
                           for e in parts[2].split(";")]
        for a, b in ranges:
            addrs.update((low + a, low + b - 1))
        for row in filter(None, f.get("rows", "").split(",")):
            parts = row.split(":")
            line = int(parts[1], 0)
            flags = parts[3] if len(parts) > 3 else "s"
            fid = int(parts[4], 0) if len(parts) > 4 and parts[4] else 0
            if "s" in flags and line > 0:
                lines.add((os.path.basename(files[fid or int(f["file"], 0)]), line))
    for name in sorted(set(types)):
        print("image lookup -t %s" % shlex.quote(name))
    for name in sorted(set(globs)):
        print("target variable %s" % name)
    for a in sorted(addrs):
        print("image lookup -v -a 0x%x" % a)
    for name in sorted(names):
        print("breakpoint set -n %s" % name)
    for name, line in sorted(lines):
        print("breakpoint set -f %s -l %d" % (name, line))


if __name__ == "__main__":
    main()
