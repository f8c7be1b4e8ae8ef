"""The readers-never-see-a-torn-file stress test (the engine of tests/integration/stress).

    python3 stress.py run --mnt MNT --out DIR --dsymfs BIN --config INI [--mode small|large]

`run` starts, as child processes of its own (and only those are ever killed):
  - one writer, which commits batches to MNT/control through one handle (every batch
    changes something, so each commit makes exactly generation N+1), and after each
    commit reads images/Foo/generations/N/.../Foo whole: it records that generation's
    inode number, size and sha256, checks its structure, and checks that a fresh stat of
    the current path has that inode. Every so often it sends a batch that commit must
    refuse, and checks EINVAL and that neither the generation nor the inode moved;
  - R readers, which open the current DWARF file over and over and read it whole: by
    read() in chunks of mixed sizes, by pread() of pieces in random order, or through an
    mmap touched in random page order, some after dropping the page cache, some pausing
    mid-file so commits land while the file is open;
  - one ops process, which cats status, decls, and now and then files, types, errors,
    Info.plist and the generations listing, in a loop.

How a reader knows which generation it read: by the inode number of its descriptor
(fstat). Each generation is published under a new inode number and keeps it (the
snapshot contract in docs/config.md; tests/integration/snapshot checks that
generations/N's file has the node the current path had), so the writer's table
inode -> (generation, size, sha256), made from the stable generations/N path right after
each commit, names exactly the bytes every descriptor of that inode must read. The table
is checked to map distinct generations to distinct inodes. A read is torn if its bytes'
sha256 differs from the table's for its inode, if its length differs from its fstat
size, or if the bytes fail the structure check (tests/stress/dsymcheck.py); every
distinct content read is structure-checked once.

At the end: every reader's reads are checked against the table, status must show
readers=0 once the readers have closed (polled: FUSE sends RELEASE after close()
returns), and `dsymfs render` of the accepted batches must produce byte for byte the
last generation. Every wait has a deadline; a process that does not finish in time is
reported with its kernel wait channel (a hung FUSE request shows there) and killed.
Writes DIR/summary with "stress: R readers x C commits, T reads, 0 torn" when it passes.
"""
import argparse
import errno
import hashlib
import json
import mmap
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsymcheck  # noqa: E402

IMAGE = "Foo"
BASE = 0x100000000
SLOT = 0x100

MODES = {
    # readers, commits, initial functions, function slots, source files, time budget (s)
    "small": dict(readers=4, commits=500, fns=1500, slots=3000, files=6, budget=40),
    "large": dict(readers=8, commits=3000, fns=12000, slots=24000, files=24, budget=1000),
}


def cur_path(mnt):
    return os.path.join(mnt, "%s.dSYM/Contents/Resources/DWARF/%s" % (IMAGE, IMAGE))


def gen_path(mnt, n):
    return os.path.join(mnt, "images/%s/generations/%d/%s.dSYM/Contents/Resources/DWARF/%s"
                        % (IMAGE, n, IMAGE, IMAGE))


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode()


def status_line(mnt):
    """The key=value fields of the image's status line."""
    for line in read_text(os.path.join(mnt, "status")).splitlines():
        words = line.split()
        if words and words[0] == IMAGE:
            return dict(w.split("=", 1) for w in words[1:])
    raise RuntimeError("status has no line for %s" % IMAGE)


def dump(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


class Failure(Exception):
    pass


# ---- writer ------------------------------------------------------------------------------

class Model:
    """What the writer has committed, so every batch it makes is valid (or invalid on
    purpose). Function i lives in slot i: [BASE + i*SLOT, BASE + (i+1)*SLOT)."""

    def __init__(self, rnd, cfg):
        self.rnd = rnd
        self.slots = cfg["slots"]
        self.nfiles = cfg["files"]
        self.fns = {}      # id -> [file, line, off, size]
        self.batch = 0

    def fn_line(self, i, file, line, off, size):
        name = "stress_fn_%d_b%d" % (i, self.batch)
        rows = "0:%d,4:%d:3:sp,0x%x:%d:1:se" % (line, line + 1, size - 4, line + 2)
        return ("fn %d name=%s low_pc=0x%x size=0x%x file=%d line=%d ret=1 params=a:1,b:3 "
                "rows=%s" % (i, name, BASE + i * SLOT + off, size, file, line, rows))

    def new_fn(self, i):
        r = self.rnd
        size = r.choice((0x10, 0x20, 0x40, 0x80))
        off = r.randrange(0, SLOT - size + 1, 4)
        file = r.randint(1, self.nfiles)
        line = r.randint(1, 100000)
        self.fns[i] = [file, line, off, size]
        return self.fn_line(i, file, line, off, size)

    def initial(self, nfns):
        lines = ["file %d path=/src/stress/unit_%d.c dir=/src/stress" % (k, k)
                 for k in range(1, self.nfiles + 1)]
        lines += ["type 1 kind=base name=int size=4 enc=signed",
                  "type 2 kind=base name=char size=1 enc=signed_char",
                  "type 3 kind=pointer to=2",
                  "type 4 kind=typedef name=stress_int to=1",
                  "type 5 kind=const to=4",
                  "section __TEXT __text addr=0x%x size=0x%x" % (BASE, (self.slots + 1) * SLOT)]
        ids = self.rnd.sample(range(1, self.slots + 1), nfns)
        lines += [self.new_fn(i) for i in sorted(ids)]
        return lines

    def next_batch(self):
        """A batch that changes something; every command valid at commit."""
        r = self.rnd
        self.batch += 1
        lines = []
        alive = list(self.fns)
        for i in r.sample(alive, min(len(alive), r.randint(0, 2))):
            lines.append("del %d" % i)
            del self.fns[i]
        alive = list(self.fns)
        for i in r.sample(alive, min(len(alive), r.randint(1, 2))):
            f = self.fns[i]
            f[2] = r.randrange(0, SLOT - f[3] + 1, 4)
            lines.append("move %d low_pc=0x%x" % (i, BASE + i * SLOT + f[2]))
        for i in r.sample(alive, min(len(alive), r.randint(0, 2))):
            f = self.fns[i]
            d = r.randint(-5, 5)
            if f[1] + d < 1:
                d = 3
            f[1] += d
            lines.append("line %d delta=%d" % (i, d))
        if r.random() < 0.2:
            file = r.randint(1, self.nfiles)
            lines.append("line-range file=%d from=1 to=2000000 by=1" % file)
            for f in self.fns.values():
                if f[0] == file and f[1] < 2000000:
                    f[1] += 1
        if r.random() < 0.1:
            lines.append("type 4 kind=typedef name=stress_int_b%d to=1" % self.batch)
        if r.random() < 0.1:
            lines.append("sym _stress_sym_%d value=0x%x sect=1 ext" % (
                self.batch % 50, BASE + r.randrange(self.slots) * SLOT))
        free = [i for i in range(1, self.slots + 1) if i not in self.fns] \
            if len(self.fns) > self.slots * 0.9 else None
        for _ in range(r.randint(1, 5)):
            if r.random() < 0.5 and self.fns:
                i = r.choice(list(self.fns))          # replace one
            else:
                i = r.choice(free) if free else r.randint(1, self.slots)
            lines.append(self.new_fn(i))
        return lines

    def bad_batch(self):
        """A batch commit must refuse: a function in an existing one's slot, overlapping
        it, or naming a file that does not exist."""
        r = self.rnd
        i = r.choice(list(self.fns))
        f = self.fns[i]
        if r.random() < 0.5:
            j = self.slots + 1 + r.randint(0, 1000)   # an id no batch uses, i's slot
            return ["fn %d name=clash low_pc=0x%x size=0x%x file=1 line=1" % (
                j, BASE + i * SLOT + f[2], f[3])]
        return ["fn %d name=stress_bad low_pc=0x%x size=0x10 file=%d line=1" % (
            i, BASE + i * SLOT + f[2], self.nfiles + 1000)]


def writer(a):
    cfg = MODES[a.mode]
    rnd = random.Random(a.seed)
    mnt = a.mnt
    cur = cur_path(mnt)
    table = {}       # str(inode) -> [generation, size, sha256]
    gens = {}        # generation -> inode
    script = []
    result = {"commits": 0, "rejected": 0, "table": table, "errors": []}
    out = os.path.join(a.out, "writer.json")

    def record(n):
        with open(gen_path(mnt, n), "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
        if len(data) != st.st_size:
            raise Failure("generations/%d: read %d bytes, fstat says %d" % (n, len(data), st.st_size))
        err = dsymcheck.check(data)
        if err:
            with open(os.path.join(a.out, "bad-generation-%d.bin" % n), "wb") as f:
                f.write(data)
            raise Failure("generation %d fails the structure check: %s" % (n, err))
        if str(st.st_ino) in table:
            raise Failure("generations %d and %d share inode %d"
                          % (table[str(st.st_ino)][0], n, st.st_ino))
        table[str(st.st_ino)] = [n, st.st_size, hashlib.sha256(data).hexdigest()]
        gens[n] = st.st_ino
        now = os.stat(cur).st_ino
        if now != st.st_ino:
            raise Failure("after commit %d returned, the current path has inode %d, "
                          "generations/%d has %d" % (n, now, n, st.st_ino))

    def send(fd, lines):
        data = ("\n".join(lines) + "\ncommit\n").encode()
        err = 0
        try:
            if os.write(fd, data) != len(data):
                raise Failure("short write to control")
        except OSError as e:
            err = e.errno
        return err, os.pread(fd, 4096, 0).decode()

    model = Model(rnd, cfg)
    gen = int(status_line(mnt)["generation"])
    if gen != 1:
        raise Failure("the daemon starts at generation %d, expected 1" % gen)
    record(1)
    fd = os.open(os.path.join(mnt, "control"), os.O_RDWR)
    try:
        batch = model.initial(cfg["fns"])
        deadline = a.deadline
        bad_every = 15
        while result["commits"] < a.commits and time.time() < deadline:
            if result["commits"] and result["commits"] % bad_every == 0 and \
                    result["rejected"] < result["commits"] // bad_every:
                ino = os.stat(cur).st_ino
                err, res = send(fd, model.bad_batch())
                if err != errno.EINVAL or not res.startswith("error: line "):
                    raise Failure("a batch commit must refuse gave errno %d, %r" % (err, res))
                st = status_line(mnt)
                if int(st["generation"]) != gen or os.stat(cur).st_ino != ino:
                    raise Failure("a refused commit moved generation %d to %s" % (gen, st["generation"]))
                result["rejected"] += 1
                continue
            err, res = send(fd, batch)
            m = re.match(r"ok generation=(\d+) decls=(\d+)\n$", res)
            if err or not m:
                raise Failure("commit %d: errno %d, result %r" % (gen + 1, err, res))
            if int(m.group(1)) != gen + 1 or int(m.group(2)) != len(model.fns):
                raise Failure("commit: %r, expected generation %d decls %d"
                              % (res, gen + 1, len(model.fns)))
            gen += 1
            result["decls"] = len(model.fns)
            script.extend(batch)
            script.append("commit")
            record(gen)
            result["commits"] += 1
            if result["commits"] == 1:
                open(os.path.join(a.out, "ready"), "w").close()
            batch = model.next_batch()
    finally:
        os.close(fd)
    with open(os.path.join(a.out, "script.txt"), "w") as f:
        f.write("\n".join(script) + "\n")
    result["last"] = gen
    result["last_sha"] = table[str(gens[gen])][2]
    dump(out, result)


# ---- readers -----------------------------------------------------------------------------

def read_seq(fd, size, rnd, pause):
    if rnd.random() < 0.3:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    parts = []
    got = 0
    while True:
        n = rnd.choice((4096, 65536, 131072, 1 << 20, 4093, 1000, 7))
        b = os.read(fd, n)
        if not b:
            break
        parts.append(b)
        got += len(b)
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
            raise Failure("pread(%d, %d) of a %d-byte file returned %d bytes" % (n, off, size, len(b)))
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


def reader(a):
    rnd = random.Random(a.seed)
    cur = cur_path(a.mnt)
    stop = os.path.join(a.out, "stop")
    read_fn = READERS[a.kind]
    by_ino = {}      # str(inode) -> {sha: count}
    checked = {}     # sha -> structure error or None
    res = {"kind": a.kind, "reads": 0, "bytes": 0, "straddled": 0, "by_ino": by_ino,
           "errors": []}
    while not os.path.exists(stop) and time.time() < a.deadline:
        fd = os.open(cur, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            data = read_fn(fd, st.st_size, rnd, rnd.random() < 0.3)
        except (Failure, OSError) as e:
            res["reads"] += 1
            res["errors"].append("inode %d (%d bytes): %s" % (st.st_ino, st.st_size, e))
            if len(res["errors"]) > 100:
                break
            continue
        finally:
            os.close(fd)
        res["reads"] += 1
        res["bytes"] += len(data)
        if os.stat(cur).st_ino != st.st_ino:
            res["straddled"] += 1   # a commit happened while the file was open
        if len(data) != st.st_size:
            res["errors"].append("read %d bytes of inode %d, fstat says %d"
                                 % (len(data), st.st_ino, st.st_size))
            continue
        sha = hashlib.sha256(data).hexdigest()
        if sha not in checked:
            checked[sha] = dsymcheck.check(data)
            if checked[sha]:
                name = "torn-%s-%d.bin" % (a.id, res["reads"])
                with open(os.path.join(a.out, name), "wb") as f:
                    f.write(data)
                res["errors"].append("inode %d: %s (bytes in %s)" % (st.st_ino, checked[sha], name))
        counts = by_ino.setdefault(str(st.st_ino), {})
        counts[sha] = counts.get(sha, 0) + 1
    dump(os.path.join(a.out, "reader-%s.json" % a.id), res)


# ---- ops ---------------------------------------------------------------------------------

def ops(a):
    mnt = a.mnt
    stop = os.path.join(a.out, "stop")
    res = {"loops": 0, "errors": []}
    last_gen = 0
    img = os.path.join(mnt, "images", IMAGE)
    while not os.path.exists(stop) and time.time() < a.deadline:
        res["loops"] += 1
        text = read_text(os.path.join(mnt, "status"))
        lines = text.splitlines()
        if not lines or not lines[-1].startswith("limits: ") or not text.endswith("\n"):
            res["errors"].append("status: %r" % text)
        st = status_line(mnt)
        gen = int(st["generation"])
        if gen < last_gen:
            res["errors"].append("status went from generation %d to %d" % (last_gen, gen))
        last_gen = gen
        if int(st["readers"]) > a.readers + 1:   # the writer's read of generations/N counts
            res["errors"].append("status counts %s readers" % st["readers"])
        decls = read_text(os.path.join(img, "decls"))
        if decls and (not decls.endswith("\n") or
                      any(not l.startswith("fn ") for l in decls.splitlines())):
            res["errors"].append("decls is not a list of fn lines")
        if res["loops"] % 5 == 0:
            for name in ("files", "types", "errors"):
                read_text(os.path.join(img, name))
            with open(os.path.join(mnt, "%s.dSYM/Contents/Info.plist" % IMAGE), "rb") as f:
                if b"</plist>" not in f.read():
                    res["errors"].append("Info.plist is not a plist")
            listed = os.listdir(os.path.join(img, "generations"))
            if not listed or not all(x.isdigit() for x in listed):
                res["errors"].append("generations lists %s" % listed)
    dump(os.path.join(a.out, "ops.json"), res)


# ---- driver ------------------------------------------------------------------------------

def wchan(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            w = f.read()
        with open("/proc/%d/stack" % pid) as f:
            return w + "\n" + f.read()
    except OSError:
        return "?"


def run(a):
    cfg = MODES[a.mode]
    readers = a.readers or cfg["readers"]
    commits = a.commits or cfg["commits"]
    budget = a.budget or cfg["budget"]
    start = time.time()
    deadline = start + budget
    me = os.path.abspath(__file__)
    common = ["--mnt", a.mnt, "--out", a.out, "--mode", a.mode]
    procs = {}
    kinds = ["read", "mmap", "pread"]

    def spawn(name, args, until):
        procs[name] = subprocess.Popen([sys.executable, me] + args + common +
                                       ["--deadline", "%f" % until])

    def wait(names, until, check=True):
        """Waits for the named processes; kills (by their own PIDs) any still running
        at `until` and fails; fails on an exit status other than 0 if `check`."""
        hung = []
        for n in names:
            p = procs[n]
            try:
                p.wait(timeout=max(0.1, until - time.time()))
            except subprocess.TimeoutExpired:
                hung.append("%s (pid %d, waiting in %s)" % (n, p.pid, wchan(p.pid)))
        if hung:
            for n in names:
                if procs[n].poll() is None:
                    procs[n].kill()
                    procs[n].wait()
            raise Failure("did not finish in time (deadlock?): " + "; ".join(hung))
        bad = ["%s exited %d" % (n, procs[n].returncode) for n in names if procs[n].returncode]
        if bad and check:
            raise Failure(", ".join(bad))

    try:
        spawn("writer", ["writer", "--commits", str(commits), "--seed", str(a.seed)], deadline)
        ready = os.path.join(a.out, "ready")
        while not os.path.exists(ready):
            if procs["writer"].poll() is not None:
                wait(["writer"], time.time())
                raise Failure("the writer ended before its first commit")
            if time.time() > start + 60:
                raise Failure("no first commit within 60 s")
            time.sleep(0.02)
        names = []
        for i in range(readers):
            name = "reader%d" % i
            spawn(name, ["reader", "--id", str(i), "--kind", kinds[i % len(kinds)],
                         "--seed", str(a.seed * 100 + i)], deadline + 30)
            names.append(name)
        spawn("ops", ["ops", "--readers", str(readers)], deadline + 30)
        wait(["writer"], deadline + 30)
        open(os.path.join(a.out, "stop"), "w").close()
        wait(names + ["ops"], time.time() + 30, check=False)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()

    with open(os.path.join(a.out, "writer.json")) as f:
        w = json.load(f)
    table = w["table"]
    total = torn = straddled = 0
    seen_gens = set()
    problems = []
    by_kind = {}
    for i in range(readers):
        rc = procs["reader%d" % i].returncode
        if rc:
            problems.append("reader %d (%s) exited with status %d%s" % (
                i, kinds[i % len(kinds)], rc,
                " (SIGBUS: a page of its mapping could not be read)" if rc == -7 else ""))
            torn += 1
            continue
        with open(os.path.join(a.out, "reader-%d.json" % i)) as f:
            r = json.load(f)
        total += r["reads"]
        straddled += r["straddled"]
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + r["reads"]
        torn += len(r["errors"])
        problems += ["reader %d (%s): %s" % (i, r["kind"], e) for e in r["errors"]]
        for ino, shas in r["by_ino"].items():
            if ino not in table:
                torn += sum(shas.values())
                problems.append("reader %d read inode %s, which no commit published" % (i, ino))
                continue
            gen, size, want = table[ino]
            seen_gens.add(gen)
            for sha, n in shas.items():
                if sha != want:
                    torn += n
                    problems.append("reader %d (%s): %d read(s) of generation %d (inode %s) "
                                    "got sha256 %s, the generation's is %s"
                                    % (i, r["kind"], n, gen, ino, sha[:16], want[:16]))
    o = {"loops": 0, "errors": []}
    if procs["ops"].returncode:
        problems.append("ops exited with status %d" % procs["ops"].returncode)
    else:
        with open(os.path.join(a.out, "ops.json")) as f:
            o = json.load(f)
    problems += ["ops: " + e for e in o["errors"]]
    if problems:
        for p in problems[:40]:
            print("stress: " + p, file=sys.stderr)
        raise Failure("%d torn or mismatched read(s), %d problem(s)" % (torn, len(problems)))
    if total == 0 or o["loops"] == 0:
        raise Failure("nothing was read (%d reads, %d ops loops)" % (total, o["loops"]))

    # All readers closed: the daemon must count none (RELEASE follows close() shortly).
    until = time.time() + 10
    while True:
        st = status_line(a.mnt)
        if st["readers"] == "0":
            break
        if time.time() > until:
            raise Failure("status still shows readers=%s 10 s after every reader closed"
                          % st["readers"])
        time.sleep(0.05)
    if int(st["generation"]) != w["last"] or int(st["decls"]) != w["decls"]:
        raise Failure("status shows generation %s decls %s; the writer made %d with %d"
                      % (st["generation"], st["decls"], w["last"], w["decls"]))

    # `dsymfs render` of the accepted batches yields the last generation, byte for byte.
    rdir = os.path.join(a.out, "render")
    r = subprocess.run([a.dsymfs, "render", "--config", a.config,
                        os.path.join(a.out, "script.txt"), rdir],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if r.returncode:
        raise Failure("dsymfs render failed (%d): %s" % (r.returncode, r.stdout.decode()[-2000:]))
    with open(os.path.join(rdir, "%s.dSYM/Contents/Resources/DWARF/%s" % (IMAGE, IMAGE)), "rb") as f:
        rendered = hashlib.sha256(f.read()).hexdigest()
    if rendered != w["last_sha"]:
        raise Failure("dsymfs render of the same batches gives sha256 %s, generation %d "
                      "read through the mount %s" % (rendered[:16], w["last"], w["last_sha"][:16]))

    secs = time.time() - start
    detail = ("stress: %s mode, %.1f s: %d commits (+%d refused), %d generations seen by "
              "readers, %d reads (%s) of which %d overlapped a commit, %d ops loops"
              % (a.mode, secs, w["commits"], w["rejected"], len(seen_gens), total,
                 ", ".join("%s %d" % kv for kv in sorted(by_kind.items())), straddled,
                 o["loops"]))
    summary = "stress: %d readers x %d commits, %d reads, %d torn" % (readers, w["commits"],
                                                                      total, torn)
    if w["commits"] < min(commits, 100):
        raise Failure("only %d commits in %d s (wanted %d)" % (w["commits"], budget, commits))
    print(detail)
    with open(os.path.join(a.out, "summary"), "w") as f:
        f.write(summary + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("run", "writer", "reader", "ops"))
    p.add_argument("--mnt", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", default="small", choices=sorted(MODES))
    p.add_argument("--dsymfs")
    p.add_argument("--config")
    p.add_argument("--readers", type=int, default=0)
    p.add_argument("--commits", type=int, default=0)
    p.add_argument("--budget", type=float, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--id")
    p.add_argument("--kind", choices=sorted(READERS))
    p.add_argument("--deadline", type=float, default=0)
    a = p.parse_args()
    try:
        {"run": run, "writer": writer, "reader": reader, "ops": ops}[a.role](a)
    except Failure as e:
        print("stress: FAIL (%s): %s" % (a.role, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
