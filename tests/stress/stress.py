"""The stress test: readers never see a torn file, and no acknowledged commit is ever lost
while the daemon is killed at random moments (the engine of tests/integration/stress and
`make stress`).

    python3 stress.py run --mnt MNT --out DIR --dsymfs BIN [--mode small|large]
                          [--budget SECONDS] [--seed N]

`run` mounts BIN itself, with a state_dir (DIR/state) and two images, Foo and Bar, and
runs the load in epochs. In each epoch, as child processes of its own (only those, and
only its own daemon, are ever killed, by PID):
  - 4 compilers, two per image, each on its own control handle bound to its image. Each
    owns a disjoint range of function ids, addresses, file and type ids, so the batches
    of two compilers of one image never conflict and every batch is valid; every batch
    also renames the compiler's marker function to w<K>_b<SEQ> (SEQ: how many of its
    batches were acknowledged before it), so each commit makes exactly one generation
    and the restored decls say which of its batches survived. After each `ok` the
    compiler reads images/NAME/generations/N/... whole: it records that generation's
    inode, size and sha256 and checks its structure. Now and then it sends a batch that
    commit must refuse (EINVAL, an `error: line` result; it renames the marker to
    w<K>_bad<SEQ>, which must never appear);
  - R readers (8 in the large mode), half on each image, which open the image's current
    DWARF file over and over and read it whole by read() in chunks of mixed sizes, by
    pread() of pieces in random order, or through an mmap touched in random page order,
    some after dropping the page cache, some pausing mid-file;
  - one ops process, which cats status, decls, files, types, errors, Info.plist and the
    generations listing of both images in a loop.

Every epoch but the last ends with a SIGKILL of the daemon at a random moment; then
the mount is taken down (fusermount3 -u), the daemon restarted on the same state_dir,
and before the load resumes the restored state is checked:
  - each compiler's acknowledged batches are all there: its marker says SEQ equal to its
    acknowledged count, or one more when its last batch was sent but never answered (the
    batch then counts as landed and must be there whole); anything less is acknowledged
    commits lost;
  - each compiler's functions in decls are exactly its model's (name, address, size,
    file, line): nothing half-applied, nothing refused, nothing applied twice;
  - each image's generation is 1 + the batches that landed on it, and its bytes are the
    bytes recorded for that generation number before the kill.
An error a child gets after the kill (ENOTCONN, EIO; SIGBUS for an mmap reader) only
ends its epoch. Any error before it fails the run.

How a reader knows which generation it read: by the inode number of its descriptor
(fstat). Each generation is published under a new inode number and keeps it (the
snapshot contract in docs/config.md), so the compilers' tables (image, inode) ->
(generation, size, sha256), made from the stable generations/N path right after each
commit, name the bytes every descriptor of that inode must read (one table per epoch: a
restarted daemon numbers its inodes afresh). A read is torn if its sha256 differs from
the table's, if its length differs from its fstat size, or if the bytes fail the
structure check (tests/stress/dsymcheck.py, which also wants the image's own UUID and
CPU type, so a restart that lost an image's identity fails too). A read of an inode no table has (published
just before a kill, never recorded) is structure-checked only and counted apart.

At the end the load stops without a kill: status must show readers=0 once the readers
have closed, `dsymfs render` of every batch that landed, in generation order, must give
each image's last generation byte for byte, the daemon must exit 0 at unmount, one more
restart must restore the same state, and no daemon log may hold a sanitizer report.
Writes DIR/summary: commits acknowledged, reads, torn reads, acknowledged commits lost,
kills and the daemon's peak RSS (VmHWM, the largest over all epochs).
"""
import argparse
import errno
import hashlib
import json
import mmap
import os
import random
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsymcheck  # noqa: E402

IMAGES = ("Foo", "Bar")
UUIDS = {"Foo": "5A3B1C2D-0E4F-4A5B-8C6D-7E8F9A0B1C2D",
         "Bar": "6B4C2D3E-1F50-4B6C-9D7E-8F9A0B1C2D3E"}
ARCH = {"Foo": "x86_64", "Bar": "arm64"}
COMPILERS = ("Foo", "Foo", "Bar", "Bar")   # compiler K writes to COMPILERS[K]
BASE = 0x100000000
SLOT = 0x100
BAD_IDS = 1000       # ids past a compiler's slots that only refused batches use

MODES = {
    # readers, initial functions and function slots per compiler, source files per
    # compiler, seconds of load, seconds between kills, compact_bytes
    "small": dict(readers=4, fns=150, slots=400, files=3, budget=14, kill=(2.0, 4.0),
                  compact=32768),
    "large": dict(readers=8, fns=2000, slots=4000, files=8, budget=620, kill=(5.0, 40.0),
                  compact=1 << 20),
}


def cur_path(mnt, img):
    return os.path.join(mnt, "%s.dSYM/Contents/Resources/DWARF/%s" % (img, img))


def gen_path(mnt, img, n):
    return os.path.join(mnt, "images/%s/generations/%d/%s.dSYM/Contents/Resources/DWARF/%s"
                        % (img, n, img, img))


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode()


def status_lines(mnt):
    """{image: {key: value}} of status's image lines, and its journal lines."""
    imgs, journal = {}, []
    for line in read_text(os.path.join(mnt, "status")).splitlines():
        words = line.split()
        if words and words[0] in IMAGES:
            imgs[words[0]] = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        elif line.startswith("journal: "):
            journal.append(line)
    return imgs, journal


def dump(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


class Failure(Exception):
    pass


# ---- compilers ---------------------------------------------------------------------------

class Span:
    """What compiler k owns: function ids k*span+1 .. k*span+slots (function i lives in
    slot i: [BASE + i*SLOT, BASE + (i+1)*SLOT)), BAD_IDS more for refused batches, its
    marker, files and types k*100+1 ...."""

    def __init__(self, k, cfg):
        self.k = k
        self.slots = cfg["slots"]
        self.nfiles = cfg["files"]
        self.span = self.slots + BAD_IDS + 1
        self.first = k * self.span + 1
        self.marker = k * self.span + self.span
        self.files = [k * 100 + j for j in range(1, self.nfiles + 1)]
        self.t = k * 100     # types t+1 .. t+5

    def ids(self):
        return range(self.first, self.marker + 1)


def text_size(cfg):
    return (len(COMPILERS) * Span(0, cfg).span + 1) * SLOT


class Model:
    """Compiler k's functions (id -> [file, line, offset in slot, size]) as of its last
    acknowledged batch. A batch is made on a copy, which becomes the model only once the
    daemon answers ok, or the restart shows the batch landed."""

    def __init__(self, sp, cfg, rnd, fns):
        self.sp = sp
        self.cfg = cfg
        self.rnd = rnd
        self.fns = fns

    def fn_line(self, i, f, tag):
        file, line, off, size = f
        t = self.sp.t
        rows = "0:%d,4:%d:3:sp,0x%x:%d:1:se" % (line, line + 1, size - 4, line + 2)
        return ("fn %d name=stress_fn_%d_%s low_pc=0x%x size=0x%x file=%d line=%d ret=%d "
                "params=a:%d,b:%d rows=%s" % (i, i, tag, BASE + i * SLOT + off, size, file,
                                             line, t + 1, t + 1, t + 3, rows))

    def new_fn(self, fns, i, tag):
        r = self.rnd
        size = r.choice((0x10, 0x20, 0x40, 0x80))
        fns[i] = [r.choice(self.sp.files), r.randint(1, 100000),
                  r.randrange(0, SLOT - size + 1, 4), size]
        return self.fn_line(i, fns[i], tag)

    def initial(self, tag):
        sp, t = self.sp, self.sp.t
        fns = {}
        lines = ["file %d path=/src/stress/w%d_unit_%d.c dir=/src/stress" % (f, sp.k, f)
                 for f in sp.files]
        lines += ["type %d kind=base name=int size=4 enc=signed" % (t + 1),
                  "type %d kind=base name=char size=1 enc=signed_char" % (t + 2),
                  "type %d kind=pointer to=%d" % (t + 3, t + 2),
                  "type %d kind=typedef name=stress_int_w%d to=%d" % (t + 4, sp.k, t + 1),
                  "type %d kind=const to=%d" % (t + 5, t + 4),
                  "section __TEXT __text addr=0x%x size=0x%x" % (BASE, text_size(self.cfg))]
        ids = self.rnd.sample(range(sp.first, sp.first + sp.slots), self.cfg["fns"])
        lines += [self.new_fn(fns, i, tag) for i in sorted(ids)]
        return lines, fns

    def next_batch(self, tag):
        """A batch valid at commit, and the functions it leaves."""
        r, sp = self.rnd, self.sp
        fns = {i: list(f) for i, f in self.fns.items()}
        lines = []
        for i in r.sample(sorted(fns), min(len(fns), r.randint(0, 2))):
            lines.append("del %d" % i)
            del fns[i]
        alive = sorted(fns)
        for i in r.sample(alive, min(len(alive), r.randint(1, 2))):
            f = fns[i]
            f[2] = r.randrange(0, SLOT - f[3] + 1, 4)
            lines.append("move %d low_pc=0x%x" % (i, BASE + i * SLOT + f[2]))
        for i in r.sample(alive, min(len(alive), r.randint(0, 2))):
            f = fns[i]
            d = r.randint(-5, 5)
            if f[1] + d < 1:
                d = 3
            f[1] += d
            lines.append("line %d delta=%d" % (i, d))
        if r.random() < 0.2:
            file = r.choice(sp.files)
            lines.append("line-range file=%d from=1 to=2000000 by=1" % file)
            for f in fns.values():
                if f[0] == file and f[1] < 2000000:
                    f[1] += 1
        if r.random() < 0.1:
            lines.append("type %d kind=typedef name=stress_int_w%d_%s to=%d"
                         % (sp.t + 4, sp.k, tag, sp.t + 1))
        if r.random() < 0.1:
            lines.append("sym _stress_w%d_sym_%d value=0x%x sect=1 ext" % (
                sp.k, r.randrange(50), BASE + r.randrange(sp.first, sp.first + sp.slots) * SLOT))
        free = [i for i in range(sp.first, sp.first + sp.slots) if i not in fns]
        for _ in range(r.randint(1, 5)):
            if fns and (r.random() < 0.5 or not free):
                i = r.choice(sorted(fns))           # replace one
            else:
                i = free.pop(r.randrange(len(free)))
            lines.append(self.new_fn(fns, i, tag))
        return lines, fns

    def bad_batch(self):
        """A batch commit must refuse: a function in an existing one's slot, overlapping
        it, or naming a file that does not exist."""
        r, sp = self.rnd, self.sp
        i = r.choice(sorted(self.fns))
        f = self.fns[i]
        if r.random() < 0.5:
            j = sp.first + sp.slots + r.randrange(BAD_IDS)
            return ["fn %d name=clash low_pc=0x%x size=0x%x file=%d line=1"
                    % (j, BASE + i * SLOT + f[2], f[3], sp.files[0])]
        return ["fn %d name=stress_bad low_pc=0x%x size=0x10 file=9999 line=1"
                % (i, BASE + i * SLOT + f[2])]


def marker_line(sp, name):
    return "fn %d name=%s low_pc=0x%x size=0x10 file=%d line=1" % (
        sp.marker, name, BASE + sp.marker * SLOT, sp.files[0])


def compiler_state(out, k):
    st = load(os.path.join(out, "compiler-%d.json" % k))
    if st is None:
        return {"fns": {}, "seq": 0, "pending": None, "acked": 0, "landed": 0,
                "refused": 0, "lost": 0}
    st["fns"] = {int(i): f for i, f in st["fns"].items()}
    if st["pending"]:
        st["pending"]["fns"] = {int(i): f for i, f in st["pending"]["fns"].items()}
    return st


def log_batch(out, img, gen, lines):
    with open(os.path.join(out, "batches-%s.jsonl" % img), "a") as f:
        f.write(json.dumps({"gen": gen, "lines": lines}) + "\n")


def landed_batches(out, img):
    """[{"gen": N, "lines": [...]}] of every batch known to have landed on img."""
    try:
        with open(os.path.join(out, "batches-%s.jsonl" % img)) as f:
            return [json.loads(line) for line in f]
    except FileNotFoundError:
        return []


def compiler(a):
    cfg = MODES[a.mode]
    k = int(a.id)
    img = COMPILERS[k]
    sp = Span(k, cfg)
    edir = a.epoch_dir
    killed = os.path.join(edir, "killed")
    stop = os.path.join(edir, "stop")
    st = compiler_state(a.out, k)
    if st["pending"]:
        raise Failure("compiler %d starts with an unsettled batch" % k)
    model = Model(sp, cfg, random.Random(a.seed), st["fns"])
    table = {}

    def gone(e):
        """True if e comes from the kill; a Failure if it came before it."""
        if os.path.exists(killed):
            return True
        raise Failure("compiler %d (%s): %s before any kill" % (k, img, e))

    def record(n):
        try:
            with open(gen_path(a.mnt, img, n), "rb") as f:
                st_ = os.fstat(f.fileno())
                data = f.read()
        except FileNotFoundError:
            return    # the other compiler of the image ran past keep_generations
        if len(data) != st_.st_size:
            raise Failure("%s generations/%d: read %d bytes, fstat says %d"
                          % (img, n, len(data), st_.st_size))
        err = dsymcheck.check(data, UUIDS[img], ARCH[img])
        if err:
            with open(os.path.join(edir, "bad-%s-%d.bin" % (img, n)), "wb") as f:
                f.write(data)
            raise Failure("%s generation %d fails the structure check: %s" % (img, n, err))
        key = "%s:%d" % (img, st_.st_ino)
        if key in table and table[key][0] != n:
            raise Failure("%s generations %d and %d share inode %d"
                          % (img, table[key][0], n, st_.st_ino))
        table[key] = [n, st_.st_size, hashlib.sha256(data).hexdigest()]

    def send(fd, lines):
        data = ("\n".join(lines) + "\ncommit\n").encode()
        err = 0
        try:
            if os.write(fd, data) != len(data):
                raise Failure("short write to control")
        except OSError as e:
            err = e.errno
        return err, os.pread(fd, 4096, 0).decode()

    fd = None
    try:
        fd = os.open(os.path.join(a.mnt, "control"), os.O_RDWR)
        os.write(fd, ("image %s\n" % img).encode())
        n = 0
        while not os.path.exists(stop) and time.time() < a.deadline:
            n += 1
            tag = "s%d" % (st["seq"] + 1)
            if st["seq"] and n % 15 == 0:
                lines = model.bad_batch() + [marker_line(sp, "w%d_bad%d" % (k, st["seq"] + 1))]
                err, res = send(fd, lines)
                if err == errno.EINVAL and res.startswith("error: line "):
                    st["refused"] += 1
                    continue
                if err and gone("%s, %r" % (os.strerror(err), res)):
                    break
                raise Failure("compiler %d: a batch commit must refuse gave errno %d, %r"
                              % (k, err, res))
            if st["seq"] == 0:
                lines, fns = model.initial(tag)
            else:
                lines, fns = model.next_batch(tag)
            lines.append(marker_line(sp, "w%d_b%d" % (k, st["seq"] + 1)))
            st["pending"] = {"lines": lines, "fns": fns}
            err, res = send(fd, lines)
            if err and gone("%s, %r" % (os.strerror(err), res)):
                break
            m = re.match(r"ok generation=(\d+) decls=\d+\n$", res)
            if not m:
                raise Failure("compiler %d (%s) commit %d: result %r"
                              % (k, img, st["seq"] + 1, res))
            gen = int(m.group(1))
            log_batch(a.out, img, gen, lines)
            st.update(fns=fns, pending=None)
            model.fns = fns
            st["seq"] += 1
            st["acked"] += 1
            record(gen)
    except OSError as e:
        gone(e)
    finally:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        dump(os.path.join(a.out, "compiler-%d.json" % k), st)
        dump(os.path.join(edir, "table-%d.json" % k), table)


# ---- readers -----------------------------------------------------------------------------

def read_seq(fd, size, rnd, pause):
    if rnd.random() < 0.3:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    parts = []
    while True:
        b = os.read(fd, rnd.choice((4096, 65536, 131072, 1 << 20, 4093, 1000, 7)))
        if not b:
            break
        parts.append(b)
        if pause and rnd.random() < 0.1:
            time.sleep(rnd.uniform(0, 0.01))
    return b"".join(parts)


def read_random(fd, size, rnd, pause):
    if rnd.random() < 0.5:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    pieces = []
    off = 0
    while off < size:
        n = min(size - off, rnd.choice((1, 13, 4096, 4099, 30000, 65536, 200000)))
        pieces.append((off, n))
        off += n
    rnd.shuffle(pieces)
    buf = bytearray(size)
    for off, n in pieces:
        b = os.pread(fd, n, off)
        if len(b) != n:
            raise Failure("pread(%d, %d) of a %d-byte file returned %d bytes"
                          % (n, off, size, len(b)))
        buf[off:off + n] = b
        if pause and rnd.random() < 0.05:
            time.sleep(rnd.uniform(0, 0.01))
    if os.pread(fd, 100, size) != b"":
        raise Failure("pread at the end of file returned data")
    return bytes(buf)


def read_mmap(fd, size, rnd, pause):
    if size == 0:
        return b""
    if rnd.random() < 0.3:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    try:
        pages = list(range(0, size, 4096))
        rnd.shuffle(pages)
        for k, p in enumerate(pages):
            mm[p]
            if pause and k % 16 == 0 and rnd.random() < 0.2:
                time.sleep(rnd.uniform(0, 0.005))
        return mm[:]
    finally:
        mm.close()


READERS = {"read": read_seq, "pread": read_random, "mmap": read_mmap}
KINDS = ("read", "pread", "mmap")


def reader(a):
    """Reads until stop or the kill. Its results are written every second, so an mmap
    reader that a kill ends with SIGBUS keeps all but its last second's reads."""
    rnd = random.Random(a.seed)
    img = IMAGES[int(a.id) % len(IMAGES)]
    cur = cur_path(a.mnt, img)
    stop = os.path.join(a.epoch_dir, "stop")
    killed = os.path.join(a.epoch_dir, "killed")
    out = os.path.join(a.epoch_dir, "reader-%s.json" % a.id)
    read_fn = READERS[a.kind]
    by_ino = {}      # "image:inode" -> {sha: count}
    checked = {}     # sha -> structure error or None
    res = {"kind": a.kind, "image": img, "reads": 0, "interrupted": 0, "bytes": 0,
           "straddled": 0, "by_ino": by_ino, "errors": []}
    last_dump = time.time()
    while not os.path.exists(stop) and time.time() < a.deadline:
        if time.time() - last_dump > 1:
            dump(out, res)
            last_dump = time.time()
        st = None
        try:
            fd = os.open(cur, os.O_RDONLY)
            try:
                st = os.fstat(fd)
                data = read_fn(fd, st.st_size, rnd, rnd.random() < 0.3)
            finally:
                os.close(fd)
            moved = os.stat(cur).st_ino != st.st_ino
        except (Failure, OSError) as e:
            if os.path.exists(killed):
                res["interrupted"] += 1
                break
            res["reads"] += 1
            res["errors"].append("%s (%s): %s" % (img, st and "inode %d, %d bytes"
                                                  % (st.st_ino, st.st_size), e))
            dump(out, res)
            if len(res["errors"]) > 100:
                break
            continue
        res["reads"] += 1
        res["bytes"] += len(data)
        if moved:
            res["straddled"] += 1   # a commit happened while the file was open
        if len(data) != st.st_size:
            res["errors"].append("read %d bytes of %s inode %d, fstat says %d"
                                 % (len(data), img, st.st_ino, st.st_size))
            dump(out, res)
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha not in checked:
            checked[sha] = dsymcheck.check(data, UUIDS[img], ARCH[img])
            if checked[sha]:
                name = "torn-%s-%d.bin" % (a.id, res["reads"])
                with open(os.path.join(a.epoch_dir, name), "wb") as f:
                    f.write(data)
                res["errors"].append("%s inode %d: %s (bytes in %s)"
                                     % (img, st.st_ino, checked[sha], name))
                dump(out, res)
        counts = by_ino.setdefault("%s:%d" % (img, st.st_ino), {})
        counts[sha] = counts.get(sha, 0) + 1
    dump(out, res)


# ---- ops ---------------------------------------------------------------------------------

def ops(a):
    mnt = a.mnt
    stop = os.path.join(a.epoch_dir, "stop")
    killed = os.path.join(a.epoch_dir, "killed")
    res = {"loops": 0, "errors": []}
    last_gen = {}
    try:
        while not os.path.exists(stop) and time.time() < a.deadline:
            res["loops"] += 1
            text = read_text(os.path.join(mnt, "status"))
            lines = text.splitlines()
            if not any(l.startswith("limits: ") for l in lines) or not text.endswith("\n"):
                res["errors"].append("status: %r" % text)
            imgs, _ = status_lines(mnt)
            for img in IMAGES:
                if img not in imgs:
                    res["errors"].append("status has no line for %s" % img)
                    continue
                gen = int(imgs[img]["generation"])
                if gen < last_gen.get(img, 0):
                    res["errors"].append("%s went from generation %d to %d"
                                         % (img, last_gen[img], gen))
                last_gen[img] = gen
                idir = os.path.join(mnt, "images", img)
                decls = read_text(os.path.join(idir, "decls"))
                if decls and (not decls.endswith("\n") or
                              any(not l.startswith("fn ") for l in decls.splitlines())):
                    res["errors"].append("%s decls is not a list of fn lines" % img)
                if res["loops"] % 5:
                    continue
                for name in ("files", "types", "errors"):
                    read_text(os.path.join(idir, name))
                with open(os.path.join(mnt, "%s.dSYM/Contents/Info.plist" % img), "rb") as f:
                    if b"</plist>" not in f.read():
                        res["errors"].append("%s Info.plist is not a plist" % img)
                listed = os.listdir(os.path.join(idir, "generations"))
                if not listed or not all(x.isdigit() for x in listed):
                    res["errors"].append("%s generations lists %s" % (img, listed))
    except OSError as e:
        if not os.path.exists(killed):
            res["errors"].append("before any kill: %s" % e)
    dump(os.path.join(a.epoch_dir, "ops.json"), res)


# ---- driver ------------------------------------------------------------------------------

def wchan(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            w = f.read()
        with open("/proc/%d/stack" % pid) as f:
            return w + "\n" + f.read()
    except OSError:
        return "?"


def parse_decls(text):
    """{id: {key: value}} of decls's fn lines."""
    fns = {}
    for line in text.splitlines():
        words = line.split()
        fns[int(words[1])] = dict(w.split("=", 1) for w in words[2:])
    return fns


class Daemon:
    """The daemon under test: started with -o ready_fd, killed only by its own PID."""

    def __init__(self, a, conf):
        self.a = a
        self.conf = conf
        self.n = 0
        self.p = None
        self.logs = []

    def start(self):
        self.n += 1
        path = os.path.join(self.a.out, "daemon-%d.log" % self.n)
        self.logs.append(path)
        r, w = os.pipe()
        with open(path, "wb") as log:
            self.p = subprocess.Popen([self.a.dsymfs, "-f", "-o", "ready_fd=%d" % w,
                                       "--config", self.conf, self.a.mnt],
                                      stdout=log, stderr=subprocess.STDOUT, pass_fds=(w,))
        os.close(w)
        try:
            ready, _, _ = select.select([r], [], [], 60)
            byte = os.read(r, 1) if ready else b""
        finally:
            os.close(r)
        if not byte:
            if self.p.poll() is None:
                self.p.kill()
            self.p.wait()
            raise Failure("daemon %d %s: %s" % (
                self.n, "exited with %d before mounting" % self.p.returncode if ready
                else "did not mount within 60 s", read_text(path)[-2000:]))

    def peak_rss(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0

    def unmount(self):
        if subprocess.run(["fusermount3", "-u", self.a.mnt], stderr=subprocess.DEVNULL).returncode:
            subprocess.run(["fusermount3", "-u", "-z", self.a.mnt], check=True)

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        self.p = None

    def stop(self):
        """Unmounts and waits: the daemon must exit 0."""
        self.unmount()
        try:
            rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise Failure("the daemon did not exit within 30 s of the unmount")
        self.p = None
        if rc:
            raise Failure("the daemon exited with %d at unmount: %s"
                          % (rc, read_text(self.logs[-1])[-2000:]))

    def reap(self):
        """On the way out (of a failure too): kills the daemon if it runs and takes down
        its mount if one is left, alive or dead."""
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        subprocess.run(["fusermount3", "-u", "-z", self.a.mnt], stderr=subprocess.DEVNULL)


def write_confs(a, cfg):
    images = "".join("[image %s]\nuuid = %s\narch = %s\n" % (img, UUIDS[img], ARCH[img])
                     for img in IMAGES)
    conf = os.path.join(a.out, "dsymfs.ini")
    with open(conf, "w") as f:
        f.write("[dsymfs]\nlog_level = warn\nstate_dir = %s\ncompact_bytes = %d\n%s"
                % (os.path.join(a.out, "state"), cfg["compact"], images))
    render = os.path.join(a.out, "render.ini")
    with open(render, "w") as f:
        f.write("[dsymfs]\nlog_level = warn\n%s" % images)
    return conf, render


class Run:
    def __init__(self, a):
        self.a = a
        self.cfg = MODES[a.mode]
        self.readers = a.readers or self.cfg["readers"]
        self.budget = a.budget or self.cfg["budget"]
        self.rnd = random.Random(a.seed)
        self.gen_sha = {img: {} for img in IMAGES}   # generation -> sha256, all epochs
        self.problems = []
        self.reads = self.torn = self.unverified = self.interrupted = self.straddled = 0
        self.by_kind = {}
        self.lost = 0
        self.kills = 0
        self.peak = 0
        self.compactions = 0
        self.ops_loops = 0
        self.procs = {}

    def problem(self, text):
        self.problems.append(text[:500])

    # The state a restart (or the end of the load) must show.
    def settle(self, edir, restarted):
        a, cfg = self.a, self.cfg
        imgs, journal = status_lines(a.mnt)
        if restarted and not any(l.startswith("journal: restored") for l in journal):
            self.problem("after restart %d, status does not say what was restored: %s"
                         % (self.kills, journal))
        decls = {img: parse_decls(read_text(os.path.join(a.mnt, "images", img, "decls")))
                 for img in IMAGES}
        landed = {img: [] for img in IMAGES}
        for k, img in enumerate(COMPILERS):
            sp = Span(k, cfg)
            st = compiler_state(a.out, k)
            name = decls[img].get(sp.marker, {}).get("name", "w%d_b0" % k)
            m = re.match(r"w%d_b(\d+)$" % k, name)
            if not m:
                self.problem("compiler %d's marker in %s is %s: a refused batch landed"
                             % (k, img, name))
                continue
            seq = int(m.group(1))
            p = st["pending"]
            if p and seq == st["seq"] + 1:
                st.update(fns=p["fns"], seq=seq, landed=st["landed"] + 1)
                landed[img].append(p["lines"])
            elif seq < st["seq"]:
                self.lost += st["seq"] - seq
                st["lost"] += st["seq"] - seq
                self.problem("compiler %d (%s): %d acknowledged batch(es) lost: the "
                             "restored marker says %d, %d were acknowledged"
                             % (k, img, st["seq"] - seq, seq, st["seq"]))
            elif seq != st["seq"]:
                self.problem("compiler %d (%s): the marker says batch %d, only %d were sent"
                             % (k, img, seq, st["seq"] + (1 if p else 0)))
            st["pending"] = None
            dump(os.path.join(a.out, "compiler-%d.json" % k), st)
            model = Model(sp, cfg, None, st["fns"])
            got = {i: f for i, f in decls[img].items() if i in sp.ids() and i != sp.marker}
            bad = sorted(set(got) ^ set(st["fns"]))
            for i in sorted(set(got) & set(st["fns"])):
                file, line, off, size = st["fns"][i]
                f = got[i]
                if (int(f["file"]), int(f["line"]), int(f["low_pc"], 16), int(f["size"], 16)) \
                        != (file, line, BASE + i * SLOT + off, size):
                    bad.append(i)
            if bad:
                i = bad[0]
                self.problem("compiler %d (%s): %d function(s) differ from its %d "
                             "batch(es), e.g. fn %d: %s, expected %s"
                             % (k, img, len(bad), st["seq"], i, got.get(i),
                                model.fn_line(i, st["fns"][i], "*") if i in st["fns"]
                                else "none"))
        table = {}
        for img in IMAGES:
            gen = int(imgs[img]["generation"])
            batches = landed_batches(a.out, img)
            known = {b["gen"] for b in batches}
            missing = sorted(set(range(2, gen + 1)) - known)
            if len(known) != len(batches) or len(missing) != len(landed[img]) or \
                    (known and max(known) > gen):
                self.problem("%s is at generation %d after %d acknowledged and %d landed "
                             "batch(es) (generations answered: %d distinct)"
                             % (img, gen, len(batches), len(landed[img]), len(known)))
            for n, lines in zip(missing, landed[img]):
                log_batch(a.out, img, n, lines)
            with open(cur_path(a.mnt, img), "rb") as f:
                st_ = os.fstat(f.fileno())
                data = f.read()
            sha = hashlib.sha256(data).hexdigest()
            want = self.gen_sha[img].get(gen)
            if want and want != sha:
                self.problem("%s generation %d after restart %d: sha256 %s, before it %s"
                             % (img, gen, self.kills, sha[:16], want[:16]))
            err = dsymcheck.check(data, UUIDS[img], ARCH[img])
            if err:
                self.problem("%s generation %d fails the structure check: %s" % (img, gen, err))
            self.gen_sha[img][gen] = sha
            table["%s:%d" % (img, st_.st_ino)] = [gen, len(data), sha]
        dump(os.path.join(edir, "table-restore.json"), table)

    def spawn(self, name, args, edir, until):
        me = os.path.abspath(__file__)
        self.procs[name] = subprocess.Popen(
            [sys.executable, me] + args + ["--mnt", self.a.mnt, "--out", self.a.out,
                                           "--mode", self.a.mode, "--epoch-dir", edir,
                                           "--deadline", "%f" % until])

    def wait_all(self, until):
        """Waits for every child; kills (by PID) any still running at `until` and fails."""
        hung = []
        for n, p in self.procs.items():
            try:
                p.wait(timeout=max(0.1, until - time.time()))
            except subprocess.TimeoutExpired:
                hung.append("%s (pid %d, waiting in %s)" % (n, p.pid, wchan(p.pid)))
        self.reap()
        if hung:
            raise Failure("did not finish in time (deadlock?): " + "; ".join(hung))

    def reap(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()

    def epoch(self, e, edir, daemon, final):
        """One epoch of load; ends with a kill unless final."""
        rnd = self.rnd
        self.procs = {}
        now = time.time()
        length = self.end - now if final else rnd.uniform(*self.cfg["kill"])
        until = now + length
        for k in range(len(COMPILERS)):
            self.spawn("compiler%d" % k, ["compiler", "--id", str(k),
                                          "--seed", str(self.a.seed * 1000003 + e * 101 + k)],
                       edir, until + 600)
        for i in range(self.readers):
            self.spawn("reader%d" % i, ["reader", "--id", str(i), "--kind", KINDS[i % 3],
                                        "--seed", str(self.a.seed * 7919 + e * 101 + i)],
                       edir, until + 600)
        self.spawn("ops", ["ops"], edir, until + 600)
        while time.time() < until:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                open(os.path.join(edir, "stop"), "w").close()
                self.wait_all(time.time() + 60)
                raise Failure("%s ended before the epoch did (exit status %s)" % (
                    dead[0], self.procs[dead[0]].returncode))
            time.sleep(min(0.1, max(0, until - time.time())))
        self.peak = max(self.peak, daemon.peak_rss())
        _, journal = status_lines(self.a.mnt)
        m = re.search(r"compactions=(\d+)", " ".join(journal))
        self.compactions += int(m.group(1)) if m else 0
        open(os.path.join(edir, "killed" if not final else "stop"), "w").close()
        if not final:
            daemon.kill()
            self.kills += 1
        self.wait_all(time.time() + 60)
        self.collect(edir, final)

    def collect(self, edir, final):
        table = load(os.path.join(edir, "table-restore.json"), {})
        for k in range(len(COMPILERS)):
            rc = self.procs["compiler%d" % k].returncode
            if rc:
                self.problem("compiler %d exited with status %d" % (k, rc))
            table.update(load(os.path.join(edir, "table-%d.json" % k), {}))
        for key, (gen, size, sha) in table.items():
            img = key.split(":")[0]
            if self.gen_sha[img].setdefault(gen, sha) != sha:
                self.problem("%s generation %d has two contents" % (img, gen))
        for i in range(self.readers):
            rc = self.procs["reader%d" % i].returncode
            r = load(os.path.join(edir, "reader-%d.json" % i))
            if rc and not (rc == -signal.SIGBUS and not final and r is not None):
                self.problem("reader %d exited with status %d" % (i, rc))
            if r is None:
                continue
            self.reads += r["reads"]
            self.interrupted += r["interrupted"] + (rc == -signal.SIGBUS)
            self.straddled += r["straddled"]
            self.by_kind[r["kind"]] = self.by_kind.get(r["kind"], 0) + r["reads"]
            self.torn += len(r["errors"])
            self.problems += ["reader %d (%s): %s" % (i, r["kind"], x[:500]) for x in r["errors"]]
            for key, shas in r["by_ino"].items():
                if key not in table:
                    self.unverified += sum(shas.values())
                    continue
                gen, size, want = table[key]
                for sha, n in shas.items():
                    if sha != want:
                        self.torn += n
                        self.problem("reader %d (%s): %d read(s) of %s generation %d got "
                                     "sha256 %s, the generation's is %s"
                                     % (i, r["kind"], n, key, gen, sha[:16], want[:16]))
        o = load(os.path.join(edir, "ops.json"), {"loops": 0, "errors": []})
        if self.procs["ops"].returncode:
            self.problem("ops exited with status %d" % self.procs["ops"].returncode)
        self.ops_loops += o["loops"]
        self.problems += ["ops: " + x[:500] for x in o["errors"]]
        if self.problems:
            raise Failure("epoch %s: %s" % (os.path.basename(edir), "; ".join(self.problems[:20])))

    def render_check(self, render_conf):
        """`dsymfs render` of every batch that landed, in generation order, gives each
        image's last generation byte for byte."""
        a = self.a
        script = os.path.join(a.out, "script.txt")
        with open(script, "w") as f:
            for img in IMAGES:
                batches = landed_batches(a.out, img)
                f.write("image %s\n" % img)
                for b in sorted(batches, key=lambda b: b["gen"]):
                    f.write("\n".join(b["lines"]) + "\ncommit\n")
        rdir = os.path.join(a.out, "render")
        r = subprocess.run([a.dsymfs, "render", "--config", render_conf, script, rdir],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if r.returncode:
            raise Failure("dsymfs render failed (%d): %s"
                          % (r.returncode, r.stdout.decode()[-2000:]))
        for img in IMAGES:
            rel = "%s.dSYM/Contents/Resources/DWARF/%s" % (img, img)
            with open(os.path.join(rdir, rel), "rb") as f:
                want = hashlib.sha256(f.read()).hexdigest()
            with open(cur_path(a.mnt, img), "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            if want != got:
                raise Failure("dsymfs render of %s's batches gives sha256 %s, the mount %s"
                              % (img, want[:16], got[:16]))

    def main(self):
        a, cfg = self.a, self.cfg
        conf, render_conf = write_confs(a, cfg)
        daemon = Daemon(a, conf)
        start = time.time()
        self.end = start + self.budget
        try:
            daemon.start()
            e = 0
            while True:
                e += 1
                edir = os.path.join(a.out, "e%d" % e)
                os.mkdir(edir)
                self.settle(edir, e > 1)
                final = self.end - time.time() < cfg["kill"][1] + cfg["kill"][0]
                self.epoch(e, edir, daemon, final)
                if final:
                    break
                daemon.unmount()
                daemon.start()
            # All readers closed: the daemon must count none (RELEASE follows close()).
            until = time.time() + 10
            while any(s["readers"] != "0" for s in status_lines(a.mnt)[0].values()):
                if time.time() > until:
                    raise Failure("status still shows readers 10 s after every reader closed")
                time.sleep(0.05)
            self.settle(edir, False)
            self.render_check(render_conf)
            daemon.stop()
            daemon.start()
            self.settle(os.path.join(a.out, "e%d" % e), True)
            daemon.stop()
        finally:
            self.reap()
            daemon.reap()
        for path in daemon.logs:
            text = read_text(path)
            if "Sanitizer" in text or "runtime error" in text:
                raise Failure("%s holds a sanitizer report: %s" % (path, text[-3000:]))
        if self.problems:
            raise Failure("; ".join(self.problems[:20]))
        sts = [compiler_state(a.out, k) for k in range(len(COMPILERS))]
        acked = sum(s["acked"] for s in sts)
        landed = sum(s["landed"] for s in sts)
        refused = sum(s["refused"] for s in sts)
        if min(s["acked"] for s in sts) < 10 or self.reads == 0 or self.ops_loops == 0:
            raise Failure("too little load: commits per compiler %s, %d reads, %d ops loops"
                          % ([s["acked"] for s in sts], self.reads, self.ops_loops))
        secs = time.time() - start
        print("stress: %s mode, %.0f s, %d kills: %d commits acknowledged (%s), %d more "
              "landed unanswered, %d refused; %d reads (%s), %d overlapped a commit, %d of "
              "generations published just before a kill (structure-checked only), %d ended "
              "by a kill; %d ops loops; %d compactions; daemon peak RSS %.0f MiB"
              % (a.mode, secs, self.kills, acked, ", ".join(str(s["acked"]) for s in sts),
                 landed, refused, self.reads,
                 ", ".join("%s %d" % kv for kv in sorted(self.by_kind.items())),
                 self.straddled, self.unverified, self.interrupted, self.ops_loops,
                 self.compactions, self.peak / 1048576.0))
        summary = ("stress: %d compilers x %d images, %d readers, %d kills: %d commits "
                   "acknowledged, %d reads, %d torn, %d acknowledged commits lost, peak RSS "
                   "%.0f MiB" % (len(COMPILERS), len(IMAGES), self.readers, self.kills, acked,
                                 self.reads, self.torn, self.lost, self.peak / 1048576.0))
        with open(os.path.join(a.out, "summary"), "w") as f:
            f.write(summary + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("run", "compiler", "reader", "ops"))
    p.add_argument("--mnt", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", default="small", choices=sorted(MODES))
    p.add_argument("--dsymfs")
    p.add_argument("--readers", type=int, default=0)
    p.add_argument("--budget", type=float, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--id")
    p.add_argument("--kind", choices=sorted(READERS))
    p.add_argument("--epoch-dir")
    p.add_argument("--deadline", type=float, default=0)
    a = p.parse_args()
    # A timeout's SIGTERM unwinds, so the driver's children and daemon are killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if a.role == "run":
            Run(a).main()
        else:
            {"compiler": compiler, "reader": reader, "ops": ops}[a.role](a)
    except Failure as e:
        print("stress: FAIL (%s): %s" % (a.role, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
