#!/usr/bin/env python3
"""The dsymfs benchmark (`make bench`): every figure beside a reference measured in the
same run, as one table.

    bench.py [--rounds R] [--sizes 1000,10000,...] [--out DIR] [--smoke] [--no-callgrind]
             [--cg-sizes 1000,...] [--profile]

Tools (built by tests/bench/bench.mk into build/bench/): benchtool (timed loops, see
benchtool.c) and flatfs (the flat FUSE reference server, see flatfs.c). The daemon is
build/rel/dsymfs unless DSYMFS names another.

A round, for each size N (functions): a fresh dsymfs mount whose image comes from a
Mach-O executable with room for N functions (built here with clang-16/ld64.lld-16), so
that lldb can load it; bulk ingest of N functions in 1 MiB writes and one commit; memory;
commits that change nothing; single-function commit latency, each commit preceded by a
null write on flatfs (the reference), and the daemon's CPU per commit; in-place pwrite
into a tmpfs copy; memory kept by old generations held open. At the largest size (the file must be >= 64 MiB there for the
read targets): cold/warm sequential reads and cold random reads against flatfs serving
the same bytes and the tmpfs copy, with the mount's read_ahead_kb as it is and at 1024
(root only), then lldb on the mounted file against the tmpfs copy. After the rounds, a
callgrind run counts the daemon's instructions per commit at each size.

Medians are over rounds (and repetitions inside a round); [min-max] beside each. Ratios
are of medians. Results: OUT/latest.txt (the table), OUT/latest.json (every sample),
OUT/scaling.png (gnuplot), OUT/callgrind.txt (the hottest functions per commit).

--profile: instead of the benchmark, perf profiles of the daemon at the largest size
(ingest, commits, cold sequential and random reads) and a callgrind profile of ingest,
in OUT/profile.txt (`make bench-profile`).

--smoke: one round at 1,000 functions, few samples, no drop_caches, no read_ahead change,
no callgrind, targets not checked; writes to a temporary directory unless --out is given.
Exit status 0 if everything ran (targets missed do not fail the run), 1 otherwise.

Everything it starts it stops, by PID; every mount is a fresh mktemp -d directory and is
unmounted on the way out, whatever happens.
"""
import argparse
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build", "bench")
BENCHTOOL = os.path.join(BUILD, "benchtool")
ONE_FILE_MAX = 100000  # the largest one-source-file workload
FLATFS = os.path.join(BUILD, "flatfs")
IMAGE = "prog"
MIB = 1 << 20


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ---- processes and mounts -------------------------------------------------------------

class Mount:
    """A FUSE daemon in the foreground on a fresh mount point; stop() unmounts it and
    waits for it, killing it by PID only if it does not exit."""

    def __init__(self, argv, mnt, ready, logpath, timeout=60, ready_fd=False):
        """ready_fd: the daemon says when it is mounted (dsymfs's -o ready_fd); else the
        mount point is polled until `ready` can be stat()ed in it (flatfs)."""
        self.mnt = mnt
        self.log = open(logpath, "w")
        r = w = None
        if ready_fd:
            r, w = os.pipe()
            argv = argv[:-1] + ["-o", "ready_fd=%d" % w, argv[-1]]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, pass_fds=(w,) if ready_fd else ())
        self.pid = self.proc.pid
        try:
            if ready_fd:
                os.close(w)
                self.wait_signal(argv[0], r, logpath, timeout)
            else:
                self.wait_ready(argv[0], ready, logpath, timeout)
        except BaseException:
            self.stop(timeout=10)  # whatever it got to, by its PID
            raise
        finally:
            if r is not None:
                os.close(r)

    def wait_signal(self, prog, r, logpath, timeout):
        """One byte on r once mounted; end of file without it: the daemon exited first."""
        if not select.select([r], [], [], timeout)[0]:
            raise Failure("%s did not mount %s in %d s" % (prog, self.mnt, timeout))
        if os.read(r, 1) != b"R":
            self.proc.wait(timeout=10)
            raise Failure("%s exited with %s before mounting (log: %s)"
                          % (prog, self.proc.returncode, logpath))

    def wait_ready(self, prog, ready, logpath, timeout):
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Failure("%s exited with %d before mounting (log: %s)"
                              % (prog, self.proc.returncode, logpath))
            if os.path.ismount(self.mnt) and subprocess.run(
                    ["timeout", "5", "stat", os.path.join(self.mnt, ready)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                return
            if time.time() > deadline:
                raise Failure("%s did not mount %s in %d s" % (prog, self.mnt, timeout))
            time.sleep(0.05)

    def status(self, key):
        """A field of /proc/PID/status, in kB (VmRSS, VmHWM)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def cpu_ns(self):
        """CPU time of every thread so far (schedstat), in ns."""
        total = 0
        for t in os.listdir("/proc/%d/task" % self.pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (self.pid, t)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
        return total

    def bdi(self):
        minor = os.minor(os.stat(self.mnt).st_dev)
        return "/sys/class/bdi/0:%d/read_ahead_kb" % minor

    def stop(self, timeout=60):
        """Unmounts and waits; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return 0
        if os.path.ismount(self.mnt):
            if subprocess.run(["fusermount3", "-u", self.mnt],
                              stderr=subprocess.DEVNULL).returncode:
                subprocess.run(["fusermount3", "-u", "-z", self.mnt], stderr=subprocess.DEVNULL)
        rc = None
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        self.log.close()
        return rc


def tool(*args, timeout=900, check=True):
    """Runs benchtool; returns its key=value lines as a dict (numbers as floats)."""
    argv = [BENCHTOOL] + [str(a) for a in args]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v.strip('"')
    if check and p.returncode:
        raise Failure("benchtool %s failed (%d): %s %s" % (args[0], p.returncode,
                                                            p.stderr.strip(), out.get("result", "")))
    return out


def med(v):
    return statistics.median(v) if v else float("nan")


# ---- the benchmark ----------------------------------------------------------------------

class Bench:
    def __init__(self, opts):
        self.o = opts
        self.root = os.geteuid() == 0
        self.mounts = []
        self.work = tempfile.mkdtemp(prefix="dsymfs-bench.")
        self.shm = tempfile.mkdtemp(prefix="dsymfs-bench.", dir="/dev/shm")
        self.dsymfs = os.environ.get("DSYMFS", os.path.join(ROOT, "build", "rel", "dsymfs"))
        self.s = {}          # samples: name -> list
        self.info = {}       # single values: read_ahead_kb, sizes, ...
        self.flat_names = 0
        self.seed = 1

    # -- bookkeeping
    def add(self, name, value):
        self.s.setdefault(name, []).append(value)

    def mount(self, argv, ready, name, timeout=60, ready_fd=False):
        mnt = tempfile.mkdtemp(prefix="mnt.", dir=self.work)
        m = Mount(argv + [mnt], mnt, ready, os.path.join(self.work, name + ".log"), timeout,
                  ready_fd)
        self.mounts.append(m)
        return m

    def unmount(self, m, what):
        rc = m.stop()
        self.mounts.remove(m)
        os.rmdir(m.mnt)
        if rc != 0:
            raise Failure("%s exited with status %s (log in %s)" % (what, rc, self.work))

    def cleanup(self, failed=False):
        # Signals now would only cut the cleanup short.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for m in reversed(self.mounts):
            log("cleanup: unmounting %s (pid %d)" % (m.mnt, m.pid))
            try:
                m.stop(timeout=20)
            except Exception as e:  # keep unmounting the others
                log("cleanup: %s" % e)
            if os.path.isdir(m.mnt) and not os.path.ismount(m.mnt):
                os.rmdir(m.mnt)
        self.mounts = []
        shutil.rmtree(self.shm, ignore_errors=True)
        with open("/proc/mounts") as f:
            busy = [l.split()[1] for l in f if l.split()[1].startswith(self.work + "/")]
        if busy:
            log("cleanup: still mounted, left in place: %s" % " ".join(busy))
        elif failed or os.environ.get("BENCH_KEEP"):
            log("kept %s (daemon logs, configurations, executables)" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def drop_caches(self):
        if self.root and not self.o.smoke:
            os.sync()
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")

    # -- the image: an executable with room for n functions
    def build_exe(self, n):
        src = os.path.join(self.work, "prog%d.s" % n)
        exe = os.path.join(self.work, "prog%d" % n)
        with open(src, "w") as f:
            f.write(".text\n.globl __start\n__start:\n  jmp __start\n"
                    ".p2align 6\n.globl _bench_base\n_bench_base:\n"
                    ".space %d, 0xcc\n" % (n * 64 + 256))
        subprocess.run(["clang-16", "--target=x86_64-apple-macos11", "-c", src, "-o",
                        exe + ".o"], check=True)
        subprocess.run(["ld64.lld-16", "-arch", "x86_64", "-platform_version", "macos", "11.0",
                        "11.0", "-e", "__start", "-o", exe, exe + ".o"], check=True)
        nm = subprocess.run(["llvm-nm-16", exe], stdout=subprocess.PIPE, text=True,
                            check=True).stdout
        base = [int(l.split()[0], 16) for l in nm.splitlines() if l.endswith(" _bench_base")]
        if not base:
            raise Failure("no _bench_base in %s" % exe)
        cfg = os.path.join(self.work, "prog%d.ini" % n)
        with open(cfg, "w") as f:
            f.write("[dsymfs]\nlog_level = warn\nkeep_generations = 1\n"
                    "[image %s]\nexe = %s\n" % (IMAGE, exe))
        return {"exe": exe, "base": base[0], "cfg": cfg}

    def start_dsymfs(self, img, name, wrap=(), timeout=60):
        m = self.mount(list(wrap) + [self.dsymfs, "-f", "--config", img["cfg"]], "status",
                       name, timeout, ready_fd=True)
        m.control = os.path.join(m.mnt, "control")
        m.dwarf = os.path.join(m.mnt, "%s.dSYM/Contents/Resources/DWARF/%s" % (IMAGE, IMAGE))
        return m

    def commit_one(self, d, n, img, k=1):
        self.seed += 1
        return tool("commits", d.control, d.dwarf, n, k, "--base", img["base"],
                    "--prelude", "#", "--seed", self.seed)

    def fresh_flat(self, f):
        self.flat_names += 1
        return os.path.join(f.mnt, "d%d" % self.flat_names)

    def one_file_sizes(self):
        """The sizes of the one-source-file workload: every size up to 100,000."""
        return [n for n in self.o.sizes if n <= ONE_FILE_MAX]

    def one_file_round(self, n, img, null):
        """One-function commits when all n functions are in one source file, so one
        compile unit holds them all: what a commit costs must not grow with its unit."""
        o = self.o
        d = self.start_dsymfs(img, "dsymfs-1f-%d" % n)
        try:
            tool("ingest", d.control, n, "--base", img["base"], "--prelude", "#",
                 "--per-file", n)
            self.seed += 1
            c = tool("commits", d.control, d.dwarf, n, o.commits, "--base", img["base"],
                     "--prelude", "#", "--seed", self.seed, "--per-file", n, "--null",
                     os.path.join(null.mnt, "null"))
            self.add("commit_1f_p50@%d" % n, c["commit_us_p50"])
            self.add("null_1f_p50@%d" % n, c["write_us_p50"])
            self.add("pair_ratio_1f_p50@%d" % n, c["ratio_p50"])
        finally:
            self.unmount(d, "dsymfs (%d functions in one file)" % n)

    def rich_sizes(self):
        """The sizes of the rich workload: the smallest and the largest."""
        return sorted({min(self.o.sizes), max(self.o.sizes)})

    def rich_round(self, n, img, null):
        """The rich workload (frame base, located parameters, four locals, a location list,
        two nested blocks per function; a 20-member struct per 100 functions): ingest and
        one-function commits, to set beside the plain workload's of the same round."""
        o = self.o
        d = self.start_dsymfs(img, "dsymfs-rich-%d" % n)
        try:
            ing = tool("ingest", d.control, n, "--base", img["base"], "--prelude", "#", "--rich")
            self.add("rich_ingest_fn_s@%d" % n, ing["fn_per_s"])
            self.add("rich_file_bytes@%d" % n, os.stat(d.dwarf).st_size)
            self.seed += 1
            c = tool("commits", d.control, d.dwarf, n, o.commits, "--base", img["base"],
                     "--prelude", "#", "--seed", self.seed, "--rich", "--null",
                     os.path.join(null.mnt, "null"))
            self.add("rich_commit_p50@%d" % n, c["commit_us_p50"])
            self.add("rich_pair_ratio_p50@%d" % n, c["ratio_p50"])
        finally:
            self.unmount(d, "dsymfs (%d functions, rich)" % n)

    # -- one size of one round
    def size_round(self, n, img, null, last):
        o = self.o
        d = self.start_dsymfs(img, "dsymfs-%d" % n)
        try:
            ing = tool("ingest", d.control, n, "--base", img["base"], "--prelude", "#")
            self.add("ingest_fn_s@%d" % n, ing["fn_per_s"])
            self.add("ingest_secs@%d" % n, ing["secs"])
            self.add("ingest_parse_s@%d" % n, ing["parse_secs"])
            self.add("ingest_commit_s@%d" % n, ing["commit_secs"])
            self.info["ingest_bytes@%d" % n] = ing["bytes"]
            if n == max(o.sizes):
                # What the client library costs a compiler: formatting the same script
                # with it and with printf (--hand), in turn, without a daemon.
                for hand in (False, True):
                    f = tool("format", n, "--base", img["base"], "--prelude", "#",
                             *(["--hand"] if hand else []))
                    self.add("format_%s_s@%d" % ("hand" if hand else "lib", n), f["secs"])
                # The transport's own ceiling: the same bytes in 1 MiB writes to a
                # handler that does nothing.
                ref = tool("ingest", os.path.join(null.mnt, "null"), n, "--base", img["base"],
                           "--prelude", "#", check=False)
                self.add("null_ingest_fn_s@%d" % n, ref["fn_per_s"])
            size = os.stat(d.dwarf).st_size
            self.add("file_bytes@%d" % n, size)
            self.add("rss_ingest_kb@%d" % n, d.status("VmRSS"))

            # Commits that change nothing (every function is still as ingested): the
            # cost of parsing and applying one function without publishing.
            self.seed += 1
            nc = tool("commits", d.control, d.dwarf, n, o.commits, "--base", img["base"],
                      "--prelude", "#", "--seed", self.seed, "--noop", "--null",
                      os.path.join(null.mnt, "null"))
            self.add("noop_p50@%d" % n, nc["commit_us_p50"])
            self.add("noop_null_p50@%d" % n, nc["write_us_p50"])
            self.add("noop_pair_ratio_p50@%d" % n, nc["ratio_p50"])

            cpu0 = d.cpu_ns()
            self.seed += 1
            # Each commit is preceded by a null write on flatfs: the reference is measured
            # at the same moments, under the same noise.
            c = tool("commits", d.control, d.dwarf, n, o.commits, "--base", img["base"],
                     "--prelude", "#", "--seed", self.seed, "--null",
                     os.path.join(null.mnt, "null"))
            cpu = (d.cpu_ns() - cpu0) / o.commits / 1000
            for k in ("p50", "p99", "mean"):
                self.add("commit_%s@%d" % (k, n), c["commit_us_" + k])
                self.add("null_%s@%d" % (k, n), c["write_us_" + k])
            self.add("pair_ratio_p50@%d" % n, c["ratio_p50"])
            self.add("commit_cpu_us@%d" % n, cpu)
            self.add("misses@%d" % n, c["stat_miss"] + c["open_miss"])

            copy = os.path.join(self.shm, IMAGE)
            shutil.copyfile(d.dwarf, copy)
            p = tool("pwrite", copy, o.writes)
            self.add("pwrite_p50@%d" % n, p["pwrite_us_p50"])
            self.add("pwrite_p99@%d" % n, p["pwrite_us_p99"])

            self.held_generations(d, n, img)
            self.add("rss_kb@%d" % n, d.status("VmRSS"))
            self.add("hwm_kb@%d" % n, d.status("VmHWM"))

            if last:
                if size < 64 * MIB and not o.smoke:
                    log("warning: the file at %d functions is %.1f MiB (< 64 MiB)"
                        % (n, size / MIB))
                shutil.copyfile(d.dwarf, copy)
                self.reads(d, n, img, copy)
                self.lldb(d, n, img, copy)
        finally:
            self.unmount(d, "dsymfs (%d functions)" % n)

    def durability(self, n, img):
        """state_dir: ingest and commits when each is fsync'ed to a journal, then the time
        a restart takes to restore the image (snapshot plus the journaled commits) and
        whether it came back byte for byte."""
        o = self.o
        state = tempfile.mkdtemp(prefix="state.", dir=self.work)
        cfg = img["cfg"] + ".durable"
        with open(img["cfg"]) as f, open(cfg, "w") as g:
            g.write(f.read().replace("[dsymfs]\n", "[dsymfs]\nstate_dir = %s\n" % state, 1))
        dur = dict(img, cfg=cfg)
        d = self.start_dsymfs(dur, "durable-%d" % n)
        try:
            ing = tool("ingest", d.control, n, "--base", img["base"], "--prelude", "#")
            self.add("durable_ingest_fn_s@%d" % n, ing["fn_per_s"])
            self.seed += 1
            c = tool("commits", d.control, d.dwarf, n, o.commits, "--base", img["base"],
                     "--prelude", "#", "--seed", self.seed)
            self.add("durable_commit_p50@%d" % n, c["commit_us_p50"])
            self.add("durable_commit_p99@%d" % n, c["commit_us_p99"])
            with open(d.dwarf, "rb") as f:
                before = hashlib.sha256(f.read()).hexdigest()
        finally:
            self.unmount(d, "dsymfs with state_dir (%d functions)" % n)
        t0 = time.monotonic()
        d = self.start_dsymfs(dur, "restored-%d" % n, timeout=900)
        try:
            self.add("restore_wall_s@%d" % n, time.monotonic() - t0)
            with open(os.path.join(d.mnt, "status")) as f:
                said = [l for l in f if l.startswith("journal: restored")]
            m = re.search(r" in ([0-9.]+) s", said[0]) if said else None
            if not m:
                raise Failure("the restarted daemon does not say what it restored")
            self.add("restore_s@%d" % n, float(m.group(1)))
            with open(d.dwarf, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != before:
                    raise Failure("the restored image differs from the one before restart")
            self.add("rss_restored_kb@%d" % n, d.status("VmRSS"))
        finally:
            self.unmount(d, "restored dsymfs (%d functions)" % n)
            shutil.rmtree(state, ignore_errors=True)

    def held_generations(self, d, n, img):
        """RSS growth per commit while each replaced generation stays open, minus the
        growth of as many commits that keep nothing (keep_generations = 1)."""
        k = self.o.held
        r0 = d.status("VmRSS")
        self.commit_one(d, n, img, k)
        r1 = d.status("VmRSS")
        self.seed += 1
        p = subprocess.Popen([BENCHTOOL, "hold", d.control, d.dwarf, str(n), str(k), "--base",
                              str(img["base"]), "--prelude", "#", "--seed", str(self.seed)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            if not line.startswith("held="):
                raise Failure("benchtool hold: %r" % line)
            r2 = d.status("VmRSS")
        finally:
            p.stdin.close()
            p.wait(60)
        self.add("held_kb@%d" % n, ((r2 - r1) - (r1 - r0)) / k)

    def set_readahead(self, mounts, kb):
        for m in mounts:
            with open(m.bdi(), "w") as f:
                f.write("%d\n" % kb)

    def reads(self, d, n, img, copy):
        o = self.o
        f = self.mount([FLATFS, copy], "null", "flatfs-data")
        try:
            default_kb = int(open(d.bdi()).read())
            self.info["read_ahead_kb_default"] = default_kb
            settings = [default_kb]
            if self.root and not o.smoke and default_kb != 1024:
                settings.append(1024)
            for kb in settings:
                if kb != default_kb:
                    self.set_readahead([d, f], kb)
                for _ in range(o.reps):
                    # Both files are new inodes (cold by construction); drop_caches too.
                    self.commit_one(d, n, img)
                    fpath = self.fresh_flat(f)
                    self.drop_caches()
                    cold = tool("seqread", d.dwarf)
                    fcold = tool("seqread", fpath)
                    self.add("seq_cold@ra%d" % kb, cold["mb_per_s"])
                    self.add("flat_cold@ra%d" % kb, fcold["mb_per_s"])
                    self.info["seq_bytes"] = cold["bytes"]
                    # Warm re-reads, interleaved, each side first in turn.
                    sides = [("seq_warm", d.dwarf), ("flat_warm", fpath), ("tmpfs_seq", copy)]
                    for i in range(o.warm):
                        for name, path in sides[i % 3:] + sides[:i % 3]:
                            self.add("%s@ra%d" % (name, kb), tool("seqread", path)["mb_per_s"])
                for _ in range(o.rand_reps):
                    self.commit_one(d, n, img)
                    fpath = self.fresh_flat(f)
                    self.drop_caches()
                    r = tool("randread", d.dwarf, o.rand, "--seed", self.seed)
                    fr = tool("randread", fpath, o.rand, "--seed", self.seed)
                    tr = tool("randread", copy, o.rand, "--seed", self.seed)
                    self.add("rand_p50@ra%d" % kb, r["pread_us_p50"])
                    self.add("rand_p99@ra%d" % kb, r["pread_us_p99"])
                    self.add("flat_rand_p50@ra%d" % kb, fr["pread_us_p50"])
                    self.add("flat_rand_p99@ra%d" % kb, fr["pread_us_p99"])
                    self.add("tmpfs_rand_p50@ra%d" % kb, tr["pread_us_p50"])
            if len(settings) > 1:
                self.set_readahead([d], default_kb)
        finally:
            self.unmount(f, "flatfs")

    def warm_lldb(self, img):
        """After drop_caches: page lldb itself and the executable back in, so that the
        first side measured does not pay for loading them and the second not."""
        subprocess.run(["lldb-16", "-b", "-o", "target create %s" % img["exe"]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)

    def lldb(self, d, n, img, copy):
        o = self.o
        if not shutil.which("lldb-16"):
            log("lldb-16 is not installed: no lldb figures")
            return
        rng = random.Random(7)
        addrs = ["image lookup -a 0x%x" % (img["base"] + rng.randrange(n) * 64 + rng.randrange(64))
                 for _ in range(o.lookups)]
        scripts = {}
        for side, path in (("mount", d.dwarf), ("tmpfs", copy)):
            scripts[side] = os.path.join(self.work, "lldb-%s.cmd" % side)
            with open(scripts[side], "w") as f:
                f.write("target create %s\ntarget symbols add %s\n%s\n"
                        % (img["exe"], path, "\n".join(addrs)))
        def run(side):
            t0 = time.monotonic()
            p = subprocess.run(["lldb-16", "-b", "-s", scripts[side]], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=600)
            secs = time.monotonic() - t0
            found = p.stdout.count("Summary: ")
            if p.returncode or found != o.lookups:
                raise Failure("lldb on the %s file: status %d, %d of %d lookups found:\n%s"
                              % (side, p.returncode, found, o.lookups, p.stdout[-2000:]))
            return secs

        for _ in range(o.lldb_reps):
            self.commit_one(d, n, img)   # a fresh generation: cold by construction
            self.drop_caches()
            self.warm_lldb(img)
            self.add("lldb_mount_s", run("mount"))
            self.add("lldb_tmpfs_s", run("tmpfs"))
            # The same generation again, now in the page cache: what is left is lldb.
            self.add("lldb_mount_warm_s", run("mount"))
        self.lldb_names(d, n, img)

    def lldb_names(self, d, n, img):
        """lldb `b NAME` and `image lookup -n` on a fresh generation, against a tmpfs copy
        of the same bytes whose accelerator tables dsymutil-16 --update rewrote: lldb
        answers from the tables when they are there, and indexes the DWARF when not."""
        o = self.o
        if not shutil.which("dsymutil-16"):
            log("dsymutil-16 is not installed: no lldb name-lookup figures")
            return
        rng = random.Random(11)
        names = ["bench_fn_%d" % rng.randrange(n) for _ in range(o.name_lookups)]
        cmds = "".join("breakpoint set -n %s\nimage lookup -n %s\n" % (x, x) for x in names)
        bundle = os.path.join(self.shm, "ref.dSYM")
        ref = os.path.join(bundle, "Contents/Resources/DWARF", IMAGE)
        scripts = {}
        for side, path in (("mount", d.dwarf), ("ref", ref)):
            scripts[side] = os.path.join(self.work, "lldb-names-%s.cmd" % side)
            with open(scripts[side], "w") as f:
                f.write("target create %s\ntarget symbols add %s\n%s" % (img["exe"], path, cmds))

        def run(side):
            t0 = time.monotonic()
            p = subprocess.run(["lldb-16", "-b", "-s", scripts[side]], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=600)
            secs = time.monotonic() - t0
            bps = len(re.findall(r"^Breakpoint \d+: where = ", p.stdout, re.M))
            found = p.stdout.count("Summary: ")
            if p.returncode or bps != len(names) or found < len(names):
                raise Failure("lldb names on the %s file: status %d, %d breakpoints and %d "
                              "lookups of %d names:\n%s" % (side, p.returncode, bps, found,
                                                              len(names), p.stdout[-2000:]))
            return secs

        try:
            for _ in range(o.lldb_reps):
                self.commit_one(d, n, img)
                os.makedirs(os.path.dirname(ref), exist_ok=True)
                shutil.copyfile(d.dwarf, ref)
                p = subprocess.run(["dsymutil-16", "--update", bundle], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=900)
                if p.returncode:
                    raise Failure("dsymutil-16 --update: status %d\n%s"
                                  % (p.returncode, p.stdout[-2000:]))
                self.drop_caches()
                self.warm_lldb(img)
                self.add("lldb_names_mount_s", run("mount"))
                self.add("lldb_names_ref_s", run("ref"))
        finally:
            shutil.rmtree(bundle, ignore_errors=True)

    def callgrind(self, images):
        """Instructions the daemon executes per single-function commit (all threads,
        including answering the stat/open check), at each size."""
        out = []
        k = self.o.cg_commits
        for n in self.o.cg_sizes:
            img = images[n]
            cgout = os.path.join(self.work, "callgrind.%d.out" % n)
            d = self.start_dsymfs(img, "callgrind-%d" % n,
                                  wrap=["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                        "--callgrind-out-file=" + cgout], timeout=180)
            try:
                tool("ingest", d.control, n, "--base", img["base"], "--prelude", "#",
                     timeout=3600)
                self.commit_one(d, n, img, 5)  # warm-up
                subprocess.run(["callgrind_control", "-i", "on", str(d.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                self.commit_one(d, n, img, k)
                subprocess.run(["callgrind_control", "-i", "off", str(d.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            finally:
                self.unmount(d, "dsymfs under callgrind (%d functions)" % n)
            total = None
            with open(cgout) as f:
                for line in f:
                    if line.startswith(("summary:", "totals:")):
                        total = int(line.split()[1])
            if total is None:
                raise Failure("no totals in %s" % cgout)
            self.info["cg_ir@%d" % n] = total / k
            out.append("== %d functions: %.0f instructions per commit (costs below: totals "
                       "over %d commits)\n%s\n" % (n, total / k, k, annotate(cgout)))
        return "\n".join(out)

    def run(self):
        o = self.o
        t_start = time.monotonic()
        self.info["load_before"] = " ".join(open("/proc/loadavg").read().split()[:3])
        images = {n: self.build_exe(n) for n in sorted(set(o.sizes) | set(o.cg_sizes))}
        tiny = os.path.join(self.work, "tiny")
        with open(tiny, "wb") as f:
            f.write(b"\0" * 4096)
        null = self.mount([FLATFS, tiny], "null", "flatfs-null")
        try:
            for r in range(o.rounds):
                for n in o.sizes:
                    log("round %d/%d: %d functions" % (r + 1, o.rounds, n))
                    self.size_round(n, images[n], null, n == max(o.sizes))
                for n in self.one_file_sizes():
                    log("round %d/%d: %d functions in one source file" % (r + 1, o.rounds, n))
                    self.one_file_round(n, images[n], null)
                for n in self.rich_sizes():
                    log("round %d/%d: %d functions, rich debug info" % (r + 1, o.rounds, n))
                    self.rich_round(n, images[n], null)
                log("round %d/%d: state_dir at %d functions" % (r + 1, o.rounds, max(o.sizes)))
                self.durability(max(o.sizes), images[max(o.sizes)])
        finally:
            self.unmount(null, "flatfs")
        cg = ""
        if o.cg_sizes:
            log("callgrind: %s functions" % ",".join(map(str, o.cg_sizes)))
            cg = self.callgrind(images)
        self.info["elapsed_s"] = time.monotonic() - t_start
        self.info["load_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
        return cg


def annotate(cgout, self_rows=10, incl_rows=16):
    """The hottest functions of a callgrind profile: by own cost, then dsymfs's own
    functions by inclusive cost (callees included)."""
    def rows(inclusive):
        ann = subprocess.run(["callgrind_annotate", "--inclusive=" + inclusive, cgout],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        out, seen = [], set()
        for l in ann.splitlines():
            if not l.strip()[:1].isdigit() or "???" in l or ":" not in l:
                continue
            l = l.split(" [")[0].replace(ROOT + "/", "")
            name = l.split(")", 1)[-1].strip()
            if "'" in name:  # a recursion level: its inclusive cost double-counts
                continue
            if name not in seen:  # callgrind names a function once per spelling of its file
                seen.add(name)
                out.append(l)
        return out
    own = rows("no")[:self_rows]
    incl = [l for l in rows("yes") if "core/" in l or "fs/" in l][:incl_rows]
    return ("-- own cost\n" + "\n".join(own) + "\n-- inclusive (dsymfs functions)\n"
            + "\n".join(incl))


def profile(b):
    """perf profiles of the daemon at the largest size (ingest, commits, cold reads) and a
    callgrind profile of ingest at 20,000 functions (inclusive costs): text for
    OUT/profile.txt."""
    o = b.o
    n = max(o.sizes)
    img = b.build_exe(n)
    out = ["dsymfs profile at %s functions, %s\n" % (f"{n:,}", time.strftime("%Y-%m-%d %H:%M"))]
    d = b.start_dsymfs(img, "profile")
    try:
        def rec(name, fn):
            data = os.path.join(b.work, "perf.data")
            p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-p",
                                  str(d.pid), "-o", data], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            try:
                res = fn()
            finally:
                p.send_signal(signal.SIGINT)
                p.wait(120)
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort",
                                  "dso,symbol", "--stdio"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True).stdout
            top = [l.rstrip() for l in rep.splitlines() if l.strip()[:1].isdigit()][:20]
            out.append("== %s: %s (perf, daemon CPU samples by own cost)\n%s\n"
                       % (name, res, "\n".join(top)))
            log("profiled %s" % name)

        rec("bulk ingest", lambda: "%.0f fn/s" % tool(
            "ingest", d.control, n, "--base", img["base"], "--prelude", "#")["fn_per_s"])
        rec("single-function commits", lambda: "p50 %.0f us" % b.commit_one(
            d, n, img, 300)["commit_us_p50"])

        def cold():
            v = []
            for _ in range(3):
                b.commit_one(d, n, img)
                b.drop_caches()
                v.append(tool("seqread", d.dwarf)["mb_per_s"])
            return "%.0f MB/s" % med(v)
        rec("cold sequential read", cold)

        def rand():
            b.commit_one(d, n, img)
            b.drop_caches()
            return "p50 %.1f us" % tool("randread", d.dwarf, 3000)["pread_us_p50"]
        rec("cold random 4 KiB reads", rand)
    finally:
        b.unmount(d, "dsymfs (profile)")

    m = min(n, 20000)
    cgout = os.path.join(b.work, "callgrind.ingest.out")
    img = b.build_exe(m)
    d = b.start_dsymfs(img, "callgrind-ingest", timeout=180,
                       wrap=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cgout])
    try:
        r = tool("ingest", d.control, m, "--base", img["base"], "--prelude", "#", timeout=3600)
    finally:
        b.unmount(d, "dsymfs under callgrind (ingest)")
    out.append("== bulk ingest of %s functions under callgrind (whole daemon run; commit "
               "write %.0f%% of the ingest time)\n%s\n"
               % (f"{m:,}", 100 * r["commit_secs"] / r["secs"], annotate(cgout, 12, 30)))
    return "\n".join(out)


# ---- the report ---------------------------------------------------------------------------

def fmt(v, unit):
    if v != v:
        return "-"
    if unit == "MB/s":
        return "%.0f" % v
    if unit == "us":
        return "%.1f" % v if v < 100 else "%.0f" % v
    if unit == "fn/s":
        return "%.0f" % v
    if unit == "MiB":
        return "%.1f" % v
    if unit == "KiB":
        return "%.1f" % v
    if unit == "s":
        return "%.2f" % v
    return "%g" % v


def cell(v, unit):
    if not v:
        return "-"
    if len(v) == 1:
        return "%s %s" % (fmt(v[0], unit), unit)
    return "%s %s [%s-%s]" % (fmt(med(v), unit), unit, fmt(min(v), unit), fmt(max(v), unit))


def report(b, cg, opts):
    s, info = b.s, b.info
    sizes = opts.sizes
    big = max(sizes)
    rows = []  # (measure, dsymfs cell, reference cell, ratio, target, verdict)
    verdicts = []

    def row(measure, mine, mine_unit, ref, ref_unit, ratio, target=None, ok=None):
        verdict = "-"
        if target and not opts.smoke and ratio == ratio:
            verdict = "ok" if ok(ratio) else "MISSED"
            verdicts.append(verdict)
        rows.append((measure, cell(mine, mine_unit), cell(ref, ref_unit) if ref is not None else "-",
                     "%.2fx" % ratio if ratio == ratio else "-", target or "-", verdict))

    def ratio(a, b_):
        return med(a) / med(b_) if a and b_ and med(b_) else float("nan")

    ras = sorted({int(k.split("@ra")[1]) for k in s if k.startswith("seq_cold@ra")})
    dflt = info.get("read_ahead_kb_default")
    for kb in ras:
        tag = "read_ahead_kb=%d%s" % (kb, " (default)" if kb == dflt else "")
        main = kb == dflt
        a, r = s["seq_cold@ra%d" % kb], s["flat_cold@ra%d" % kb]
        row("cold sequential read, 1 MiB read()s, %s vs flat FUSE" % tag, a, "MB/s", r, "MB/s",
            ratio(a, r), ">= 0.9x" if main else None, lambda x: x >= 0.9)
    for kb in ras:
        main = kb == dflt
        a, r = s["seq_warm@ra%d" % kb], s["tmpfs_seq@ra%d" % kb]
        row("warm re-read of the same generation%s vs tmpfs" % ("" if main else ", ra %d" % kb),
            a, "MB/s", r, "MB/s", ratio(a, r), ">= 0.95x" if main else None,
            lambda x: x >= 0.95)
        if main:
            f_ = s["flat_warm@ra%d" % kb]
            row("  (flat FUSE warm re-read vs tmpfs: FUSE's own share)", f_, "MB/s", r, "MB/s",
                ratio(f_, r))
    for kb in ras:
        main = kb == dflt
        a, r = s["rand_p50@ra%d" % kb], s["flat_rand_p50@ra%d" % kb]
        row("cold random 4 KiB pread p50%s vs flat FUSE" % ("" if main else ", ra %d" % kb),
            a, "us", r, "us", ratio(a, r), "<= 1.1x" if main else None, lambda x: x <= 1.1)
        a, r = s["rand_p99@ra%d" % kb], s["flat_rand_p99@ra%d" % kb]
        row("cold random 4 KiB pread p99%s vs flat FUSE" % ("" if main else ", ra %d" % kb),
            a, "us", r, "us", ratio(a, r))
    if ras:
        a = s["tmpfs_rand_p50@ra%d" % ras[0]]
        row("(warm random 4 KiB pread p50 on the tmpfs copy)", a, "us", None, None, float("nan"))
    # Commit rows: the ratio is the median over rounds of each round's median of
    # (commit / the null write timed just before it), which spells of contention from
    # other processes cancel out of; the cells are the plain medians.
    for n in sizes:
        a, r = s["commit_p50@%d" % n], s["null_p50@%d" % n]
        row("commit of one function p50, %s fns, vs null write p50 (paired)" % f"{n:,}", a, "us",
            r, "us", med(s["pair_ratio_p50@%d" % n]), "<= 2x", lambda x: x <= 2)
    for n in sizes:
        a, r = s["noop_p50@%d" % n], s["noop_null_p50@%d" % n]
        row("  commit that changes nothing p50 (parse + apply, no publish), %s fns (paired)"
            % f"{n:,}", a, "us", r, "us", med(s["noop_pair_ratio_p50@%d" % n]))
    for n in sizes:
        a, r = s["commit_p99@%d" % n], s["null_p99@%d" % n]
        row("commit of one function p99, %s fns, vs null write p99" % f"{n:,}", a, "us", r, "us",
            ratio(a, r))
    for n in b.one_file_sizes():
        a, r = s["commit_1f_p50@%d" % n], s["null_1f_p50@%d" % n]
        row("commit of one function p50, %s fns all in one source file, vs null write (paired)"
            % f"{n:,}", a, "us", r, "us", med(s["pair_ratio_1f_p50@%d" % n]), "<= 2x",
            lambda x: x <= 2)
    small = min(sizes)
    if big != small:
        a, r = s["commit_p50@%d" % big], s["commit_p50@%d" % small]
        row("commit p50 at %s fns vs at %s fns (each over its paired null write)"
            % (f"{big:,}", f"{small:,}"), a, "us", r, "us",
            ratio(s["pair_ratio_p50@%d" % big], s["pair_ratio_p50@%d" % small]), "<= 1.5x",
            lambda x: x <= 1.5)
    for n in sizes:
        a, r = s["pwrite_p50@%d" % n], s["commit_p50@%d" % n]
        row("in-place pwrite of one function (3 pwrites, tmpfs) p50, %s fns, vs commit p50"
            % f"{n:,}", a, "us", r, "us", ratio(a, r))
    misses = [sum(s["misses@%d" % n]) for n in sizes]
    total = sum(misses)
    checks = sum(len(s["misses@%d" % n]) for n in sizes) * opts.commits * 2
    rows.append(("first stat()/open() after a commit sees the new generation: misses",
                 "%d of %d checks" % (total, checks), "-", "-", "0",
                 "-" if opts.smoke else ("ok" if total == 0 else "MISSED")))
    if not opts.smoke:
        verdicts.append("ok" if total == 0 else "MISSED")
    a = s["ingest_fn_s@%d" % big]
    row("bulk ingest, %s fns x 8 rows, 1 MiB writes, one commit (vs target 500,000 fn/s)"
        % f"{big:,}", a, "fn/s", [500000], "fn/s", med(a) / 500000, ">= 1x", lambda x: x >= 1)
    for n in sizes:
        a, c_, t_ = (s["ingest_fn_s@%d" % n], s["ingest_commit_s@%d" % n],
                     s["ingest_secs@%d" % n])
        rows.append(("  ingest at %s fns: the `commit` write's time of the whole" % f"{n:,}",
                     cell(a, "fn/s"), "%.3g s of %.3g s" % (med(c_), med(t_)),
                     "%.0f%%" % (100 * med(c_) / med(t_)), "-", "-"))
    if "format_lib_s@%d" % big in s:
        lib, hand, t_ = (med(s["format_lib_s@%d" % big]), med(s["format_hand_s@%d" % big]),
                         med(s["ingest_secs@%d" % big]))
        extra = max(lib - hand, 0) / t_
        rows.append(("  client library vs printf: formatting %s fns (extra share of ingest)"
                     % f"{big:,}", "%.3g s" % lib, "%.3g s" % hand, "%.1f%%" % (100 * extra),
                     "<= 5%", "-" if opts.smoke else ("ok" if extra <= 0.05 else "MISSED")))
        if not opts.smoke:
            verdicts.append("ok" if extra <= 0.05 else "MISSED")
    for n in b.rich_sizes():
        a, r = s["rich_ingest_fn_s@%d" % n], s["ingest_fn_s@%d" % n]
        row("rich workload: bulk ingest, %s fns, vs the plain workload" % f"{n:,}", a, "fn/s",
            r, "fn/s", ratio(a, r), ">= 0.7x", lambda x: x >= 0.7)
        a, r = s["rich_commit_p50@%d" % n], s["commit_p50@%d" % n]
        row("rich workload: commit of one function p50, %s fns, vs the plain workload (each "
            "over its paired null write)" % f"{n:,}", a, "us", r, "us",
            ratio(s["rich_pair_ratio_p50@%d" % n], s["pair_ratio_p50@%d" % n]), "<= 1.2x",
            lambda x: x <= 1.2)
    if "null_ingest_fn_s@%d" % big in s:
        r = s["null_ingest_fn_s@%d" % big]
        row("  same bytes to a null FUSE write handler (transport ceiling)", a, "fn/s", r,
            "fn/s", ratio(a, r))
    rss = [v / 1024 for v in s["rss_kb@%d" % big]]
    fsz = [v / MIB for v in s["file_bytes@%d" % big]]
    limit = [2 * v + 32 for v in fsz]
    row("resident memory (VmRSS) at %s fns vs 2x file size + 32 MiB" % f"{big:,}", rss, "MiB",
        limit, "MiB", ratio(rss, limit), "<= 1x", lambda x: x <= 1)
    for n in sizes:
        r_ = [v / 1024 for v in s["rss_kb@%d" % n]]
        f_ = [v / MIB for v in s["file_bytes@%d" % n]]
        h_ = [v / 1024 for v in s["hwm_kb@%d" % n]]
        row("  VmRSS at %s fns vs file size (VmHWM %s MiB)" % (f"{n:,}", fmt(med(h_), "MiB")),
            r_, "MiB", f_, "MiB", ratio(r_, f_))
    a = s["held_kb@%d" % big]
    row("extra memory per old generation kept open across a commit, %s fns (vs 64 KiB)"
        % f"{big:,}", a, "KiB", [64], "KiB", med(a) / 64, "<= 1x", lambda x: x <= 1)
    for n in sizes:
        if n != big:
            a = s["held_kb@%d" % n]
            row("  same, %s fns" % f"{n:,}", a, "KiB", [64], "KiB", med(a) / 64)
    if "lldb_mount_s" in s:
        a, r = s["lldb_mount_s"], s["lldb_tmpfs_s"]
        row("lldb-16: target create + symbols add + %d image lookup -a, %s fns, vs tmpfs copy"
            % (opts.lookups, f"{big:,}"), a, "s", r, "s", ratio(a, r), "<= 1.1x",
            lambda x: x <= 1.1)
        w_ = s.get("lldb_mount_warm_s", [])
        row("  the same lldb run again on the mounted file, now in the page cache", w_, "s", r,
            "s", ratio(w_, r))
    if "lldb_names_mount_s" in s:
        a, r = s["lldb_names_mount_s"], s["lldb_names_ref_s"]
        row("lldb-16: target create + %d b NAME + image lookup -n, fresh %s-fn generation, vs "
            "tmpfs copy after dsymutil-16 --update" % (opts.name_lookups, f"{big:,}"), a, "s", r,
            "s", ratio(a, r), "<= 1.2x", lambda x: x <= 1.2)
    for n in sizes:
        a = s["commit_cpu_us@%d" % n]
        cgk = "cg_ir@%d" % n
        extra = " (callgrind: %.0f instructions)" % info[cgk] if cgk in info else ""
        row("daemon CPU per commit (schedstat), %s fns%s" % (f"{n:,}", extra), a, "us", None,
            None, float("nan"))
    if "restore_s@%d" % big in s:
        a, r = s["durable_ingest_fn_s@%d" % big], s["ingest_fn_s@%d" % big]
        row("state_dir: bulk ingest, %s fns, journaled, vs memory only" % f"{big:,}", a, "fn/s",
            r, "fn/s", ratio(a, r))
        a, r = s["durable_commit_p50@%d" % big], s["commit_p50@%d" % big]
        row("state_dir: commit of one function p50, %s fns, fsync'ed, vs memory only"
            % f"{big:,}", a, "us", r, "us", ratio(a, r))
        a = s["restore_s@%d" % big]
        row("state_dir: restore of %s fns (snapshot + %d journaled commits), daemon's own "
            "figure; restart to mounted: %s s" % (f"{big:,}", opts.commits,
                                                 fmt(med(s["restore_wall_s@%d" % big]), "s")),
            a, "s", None, None, float("nan"))
    if dflt is not None:
        rows.append(("bdi read_ahead_kb of the mount (as mounted)", str(dflt), "-", "-", "-", "-"))

    headers = ("measure", "dsymfs: median [min-max]", "reference: median [min-max]", "ratio",
               "target", "verdict")
    widths = [max(len(r[i]) for r in rows + [headers]) for i in range(6)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    missed = verdicts.count("MISSED")
    head = ("dsymfs benchmark, %s, %d round(s), sizes %s; %s; %.0f s\n"
            % (time.strftime("%Y-%m-%d %H:%M"), opts.rounds, ",".join(map(str, sizes)),
               "smoke run (targets not checked)" if opts.smoke
               else "%d of %d targets met" % (len(verdicts) - missed, len(verdicts)),
               info.get("elapsed_s", 0)))
    head += "Load average before/after: %s / %s (other busy processes skew absolute figures).\n" % (
        info.get("load_before", "?"), info.get("load_after", "?"))
    head += ("Commit rows: ratio = median of (commit / the null write just before it); "
             "the cells are plain medians.\n")
    head += ("Reads at %s functions (%.1f MiB file). Medians over rounds/repetitions, "
             "[min-max]; ratio = median / median.\n"
             % (f"{big:,}", med(s["file_bytes@%d" % big]) / MIB))
    cmdline = "command: make bench%s\n" % (" BENCH_ARGS='%s'" % " ".join(opts.argv)
                                           if opts.argv else "")
    return head + cmdline + "\n" + "\n".join(out) + "\n"


def plot(b, opts, outdir):
    if not shutil.which("gnuplot"):
        log("gnuplot is not installed: no scaling.png")
        return
    s = b.s
    dat = os.path.join(b.work, "scaling.dat")
    with open(dat, "w") as f:
        f.write("# functions commit_p50_us commit_p99_us null_p50_us rss_mib file_mib hwm_mib"
                " pwrite_p50_us commit_one_file_p50_us\n")
        for n in opts.sizes:
            one = s.get("commit_1f_p50@%d" % n)
            f.write("%d %g %g %g %g %g %g %g %s\n" % (
                n, med(s["commit_p50@%d" % n]), med(s["commit_p99@%d" % n]),
                med(s["null_p50@%d" % n]), med(s["rss_kb@%d" % n]) / 1024,
                med(s["file_bytes@%d" % n]) / MIB, med(s["hwm_kb@%d" % n]) / 1024,
                med(s["pwrite_p50@%d" % n]), "%g" % med(one) if one else "NaN"))
    png = os.path.join(outdir, "scaling.png")
    script = """
set terminal pngcairo size 1200,500 font ",10"
set output '%s'
set multiplot layout 1,2 title 'dsymfs scaling (medians of %d round(s))'
set logscale xy
set format x "10^{%%L}"
set xrange [%s]
set grid
set key top left
set xlabel 'functions in the image'
set ylabel 'microseconds'
set title 'single-function commit latency (until write() returns)'
plot '%s' using 1:2 with linespoints lw 2 title 'commit p50', \\
     '' using 1:3 with linespoints lw 2 title 'commit p99', \\
     '' using 1:4 with linespoints dt 2 title 'null FUSE write p50', \\
     '' using 1:(2*$4) with lines dt 4 title 'target: p50 <= 2x null write', \\
     '' using 1:8 with linespoints dt 3 title 'in-place pwrite p50 (tmpfs)', \\
     '' using 1:9 with linespoints lw 2 title 'commit p50, all functions in one source file'
set ylabel 'MiB'
set title 'daemon memory'
plot '%s' using 1:5 with linespoints lw 2 title 'VmRSS', \\
     '' using 1:7 with linespoints dt 3 title 'VmHWM', \\
     '' using 1:6 with linespoints dt 2 title 'file size', \\
     '' using 1:(2*$6+32) with lines dt 4 title 'target: 2x file + 32 MiB'
unset multiplot
""" % (png, opts.rounds,
       "%g:%g" % (min(opts.sizes) / 2, max(opts.sizes) * 2),
       dat, dat)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--out", default=None)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--no-plot", action="store_true", help="no scaling.png (no gnuplot)")
    ap.add_argument("--cg-sizes", default=None, help="sizes for callgrind (default: --sizes)")
    ap.add_argument("--profile", action="store_true",
                    help="profile the daemon instead (perf, callgrind): OUT/profile.txt")
    o = ap.parse_args()
    o.argv = sys.argv[1:]
    o.sizes = [int(x) for x in o.sizes.split(",")]
    if o.smoke:
        o.rounds, o.sizes = 1, [1000]
        o.commits, o.writes, o.held, o.reps, o.rand, o.rand_reps = 20, 50, 4, 1, 50, 1
        o.warm = 1
        o.lookups, o.lldb_reps, o.name_lookups = 50, 1, 5
        o.no_callgrind = True
    else:
        o.commits, o.writes, o.held, o.reps, o.rand, o.rand_reps = 200, 500, 32, 3, 1000, 1
        o.warm = 3
        o.lookups, o.lldb_reps, o.name_lookups = 1000, 1, 20
    o.cg_commits = 20
    o.cg_sizes = [] if o.no_callgrind or not shutil.which("valgrind") else (
        [int(x) for x in o.cg_sizes.split(",")] if o.cg_sizes else o.sizes)
    outdir = o.out or (tempfile.mkdtemp(prefix="dsymfs-bench-out.") if o.smoke
                       else os.path.join(ROOT, "build", "bench", "results"))
    os.makedirs(outdir, exist_ok=True)

    for t in (BENCHTOOL, FLATFS):
        if not os.access(t, os.X_OK):
            sys.exit("bench: %s is not built (make bench builds it)" % t)

    def on_signal(sig, frame):
        raise SystemExit(128 + sig)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    b = Bench(o)
    status = 1
    try:
        if o.profile:
            text = profile(b)
            sys.stdout.write(text)
            with open(os.path.join(outdir, "profile.txt"), "w") as f:
                f.write(text)
            log("results in %s" % outdir)
            status = 0
            return status
        cg = b.run()
        table = report(b, cg, o)
        sys.stdout.write(table)
        with open(os.path.join(outdir, "latest.txt"), "w") as f:
            f.write(table)
        with open(os.path.join(outdir, "latest.json"), "w") as f:
            json.dump({"samples": b.s, "info": b.info}, f, indent=1, sort_keys=True)
        if cg:
            with open(os.path.join(outdir, "callgrind.txt"), "w") as f:
                f.write(cg)
        if not o.no_plot:
            plot(b, o, outdir)
        log("results in %s" % outdir)
        status = 0
    except Failure as e:
        log("FAILED: %s" % e)
    finally:
        b.cleanup(failed=status != 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
