"""The crash test's driver (a helper of tests/integration/crash, not a test itself).

    python3 crash.py check MNT STATE DSYMFS CONF
    python3 crash.py run MNT STATE PID SEED

A deterministic stream of batches (batch i depends only on i) goes to two images. `run`
sends batches, one per write on a fresh handle, after the last one the restored daemon
holds, records each acknowledged one in STATE, and kills the daemon (SIGKILL) at a random
moment. `check` reads the restored generations, works out how many batches they hold,
and demands: every acknowledged batch is there, at most one more (its ack was lost in
the crash; it must then be there whole), and each image's DWARF file equals, byte for
byte, what `dsymfs render` makes of exactly that prefix of the stream.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

IMAGES = ("Foo", "Bar")
TEXT = 0x100000000


def image_of(i):
    return "Bar" if i % 4 == 3 else "Foo"


class Stream:
    """Batches 0, 1, ...: a model of what each image holds keeps every batch valid."""

    def __init__(self):
        self.batches = []
        self.alive = {name: [] for name in IMAGES}

    def batch(self, i):
        while len(self.batches) <= i:
            self.batches.append(self._make(len(self.batches)))
        return self.batches[i]

    def _make(self, i):
        name = image_of(i)
        rnd = random.Random(i)
        lines = ["image %s" % name]
        if i < 4 and (i == 0 or i == 3):
            lines += ["section __TEXT __text addr=0x%x size=0x1000000" % TEXT,
                      "file 1 path=/src/a.c dir=/src", "file 2 path=\"/src/b c.c\"",
                      "type 1 kind=base name=int size=4 enc=signed",
                      "type 2 kind=pointer to=1"]
        alive = self.alive[name]
        if alive and rnd.random() < 0.15:
            victim = alive.pop(rnd.randrange(len(alive)))
            lines.append("del %d" % victim)
        if alive and rnd.random() < 0.2:
            fid = rnd.choice(alive)
            lines.append("move %d low_pc=0x%x" % (fid, TEXT + 0x800000 + i * 0x40))
        if rnd.random() < 0.1:
            lines.append("line-range file=1 from=1 to=1000000 by=%d" % rnd.randint(1, 3))
        if rnd.random() < 0.1:
            lines.append("sym _s%d value=0x%x sect=1 ext" % (i, TEXT + i * 0x40))
        fid = i + 1
        alive.append(fid)
        line = 10 + i
        lines.append("fn %d name=f%d low_pc=0x%x size=0x20 file=%d line=%d ret=1 "
                     "params=a:1,b:2 rows=0:%d,8:%d:4,0x10:%d" %
                     (fid, i, TEXT + i * 0x40, 1 + i % 2, line, line, line + 1, line + 2))
        return "\n".join(lines) + "\ncommit\n"

    def generations(self, n):
        """Each image's generation after batches 0..n-1 (every batch publishes)."""
        gens = {name: 1 for name in IMAGES}
        for i in range(n):
            gens[image_of(i)] += 1
        return gens


def status(mnt):
    gens = {}
    with open(os.path.join(mnt, "status")) as f:
        for line in f:
            words = line.split()
            if words and words[0] in IMAGES:
                fields = dict(w.split("=", 1) for w in words[1:] if "=" in w)
                gens[words[0]] = int(fields["generation"])
    return gens


def read_acked(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except FileNotFoundError:
        return 0


def check(mnt, state, dsymfs, conf):
    stream = Stream()
    acked = read_acked(state)   # batches 0..acked-1 were acknowledged
    gens = status(mnt)
    held = None
    for n in (acked, acked + 1):
        if stream.generations(n) == gens:
            held = n
    if held is None:
        sys.exit("FAIL: restored generations %s match neither the %d acknowledged batches "
                 "(%s) nor one more (%s)" % (gens, acked, stream.generations(acked),
                                               stream.generations(acked + 1)))
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "script")
        with open(script, "w") as f:
            f.write("".join(stream.batch(i) for i in range(held)))
        out = os.path.join(tmp, "out")
        subprocess.run([dsymfs, "render", "--config", conf, script, out], check=True)
        for name in IMAGES:
            rel = "%s.dSYM/Contents/Resources/DWARF/%s" % (name, name)
            with open(os.path.join(out, rel), "rb") as f:
                want = f.read()
            with open(os.path.join(mnt, rel), "rb") as f:
                got = f.read()
            if want != got:
                sys.exit("FAIL: image %s after %d batches: the restored file (%d bytes) is "
                         "not what render makes of them (%d bytes)" %
                         (name, held, len(got), len(want)))
    with open(state, "w") as f:
        f.write("%d\n" % held)
    print("restored %d batches (%d acknowledged) %s" % (held, acked, gens))


def run(mnt, state, pid, seed):
    stream = Stream()
    start = read_acked(state)
    acked = [start]
    stop = threading.Event()

    def writer():
        i = start
        control = os.path.join(mnt, "control")
        while not stop.is_set():
            text = stream.batch(i).encode()
            try:
                fd = os.open(control, os.O_RDWR)
                try:
                    os.write(fd, text)
                    res = os.pread(fd, 4096, 0).decode()
                finally:
                    os.close(fd)
            except OSError:
                return   # the daemon is gone
            if not res.startswith("ok generation="):
                sys.stderr.write("FAIL: batch %d refused: %s" % (i, res))
                os._exit(1)
            i += 1
            acked[0] = i

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(random.Random(seed).uniform(0.05, 0.9))
    os.kill(pid, signal.SIGKILL)
    stop.set()
    t.join(30)
    if t.is_alive():
        sys.exit("FAIL: the writer hung after the daemon died")
    with open(state, "w") as f:
        f.write("%d\n" % acked[0])
    print("sent %d batches, %d acknowledged in all" % (acked[0] - start, acked[0]))


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(*sys.argv[2:6])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
