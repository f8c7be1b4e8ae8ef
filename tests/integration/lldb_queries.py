"""The lldb queries that exercise a control-protocol script (a helper of the lldb test, not
a test itself): `image lookup -n` for every function, `image lookup -a` for every row's
address, and `breakpoint set -f FILE -l LINE` for every source line with an is_stmt row.

    python3 lldb_queries.py < script > lldb-commands

Reads the script's `file` and `fn` lines (the protocol's syntax: rows are
OFF:LINE[:COL[:FLAGS[:FILEID]]], flags default to "s", file 0 or absent means the
function's own file).
"""
import os
import shlex
import sys


def fields(words):
    return dict(w.split("=", 1) for w in words if "=" in w)


def main():
    files, fns = {}, []
    for line in sys.stdin:
        words = shlex.split(line)
        if not words:
            continue
        if words[0] == "file":
            files[int(words[1], 0)] = fields(words[2:])["path"]
        elif words[0] == "fn":
            fns.append(fields(words[2:]))
    addrs, lines = set(), set()
    for f in fns:
        print("image lookup -n %s" % f["name"])
        low = int(f["low_pc"], 0)
        for row in filter(None, f.get("rows", "").split(",")):
            parts = row.split(":")
            off, line = int(parts[0], 0), int(parts[1], 0)
            flags = parts[3] if len(parts) > 3 else "s"
            fid = int(parts[4], 0) if len(parts) > 4 and parts[4] else 0
            addrs.add(low + off)
            if "s" in flags and line > 0:
                lines.add((os.path.basename(files[fid or int(f["file"], 0)]), line))
    for a in sorted(addrs):
        print("image lookup -a 0x%x" % a)
    for name, line in sorted(lines):
        print("breakpoint set -f %s -l %d" % (name, line))


if __name__ == "__main__":
    main()
