"""Talks to a dsymfs control file the way a compiler does (a helper of the integration
tests, not a test itself).

    python3 ctl.py CONTROL [TEXT]

Opens CONTROL, writes TEXT (or standard input) with a single write(), closes it, and
prints the handle's result line (read with pread at offset 0). Exit status 0 if the write
succeeded; otherwise prints "errno=N NAME" before the result and exits 3.
"""
import errno
import os
import sys


def send(control, text):
    """Returns (errno or 0, result line) for one write of text on a fresh handle."""
    fd = os.open(control, os.O_RDWR)
    try:
        data = text.encode()
        err = 0
        try:
            n = os.write(fd, data)
            if n != len(data):
                raise SystemExit("short write: %d of %d bytes" % (n, len(data)))
        except OSError as e:
            err = e.errno
        return err, os.pread(fd, 4096, 0).decode()
    finally:
        os.close(fd)


def main():
    text = sys.argv[2] if len(sys.argv) > 2 else sys.stdin.read()
    err, result = send(sys.argv[1], text)
    if err:
        print("errno=%d %s" % (err, errno.errorcode.get(err, "?")))
    sys.stdout.write(result)
    return 3 if err else 0


if __name__ == "__main__":
    sys.exit(main())
