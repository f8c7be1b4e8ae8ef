#!/usr/bin/env python3
"""The edit-compile-debug loop, end to end, against full rebuilds (run by
tests/integration/e2e-edit-loop; see tests/e2e/README.md).

    scenario.py --work DIR [--dsymfs PATH] [--arch x86_64,arm64] [--programs hand,prog]
                [--break MODE] [--addr-limit N]

For each architecture: builds versions 1..4 of two programs (the hand-written one in
tests/e2e/hand/ and the generated one, genprog.py) with clang-16 and ld64.lld-16, each
with its reference dSYM from dsymutil-16; mounts build/test/dsymfs with one image per
program whose identity is the v1 executable; feeds v1 in full and every later version as
a delta from tests/tools/dwarf2ctl.py --since (one batch, committed once); and asks
lldb-16 the same questions of each mounted generation and of dsymutil's dSYM. A debugger
that loaded v1 before the v1 -> v2 delta must keep answering for v1, and a new target
must see v2. Prints "N/M answers match" per architecture and the delta sizes and
timings; exits 1 on any mismatch. --break MODE (or E2E_BREAK) sends each image's v1 -> v2
delta wrong on purpose (dwarf2ctl.py --break MODE): the run must then fail.
"""
import argparse
import atexit
import concurrent.futures
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DWARF2CTL = os.path.join(ROOT, 'tests', 'tools', 'dwarf2ctl.py')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'tools'))
sys.path.insert(0, HERE)
import dwarf2ctl  # noqa: E402
import genprog    # noqa: E402

VERSIONS = (1, 2, 3, 4)
CFLAGS = ['-ffreestanding', '-fno-stack-protector', '-g', '-gdwarf-4']
LLDB_PRE = 'settings set interpreter.stop-command-source-on-error false'


def log(msg):
    print(msg, flush=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        raise SystemExit('FAIL: %s exited %d:\n%s%s' % (' '.join(cmd), r.returncode,
                                                        r.stdout[-3000:], r.stderr[-3000:]))
    return r


# ---------------------------------------------------------------------------------------
# Programs and their versions

class HandProgram:
    name = 'hand'

    def __init__(self):
        d = os.path.join(HERE, 'hand')
        self.base = {}
        for f in sorted(os.listdir(d)):
            if f.endswith(('.c', '.h')):
                with open(os.path.join(d, f)) as fh:
                    self.base[f] = fh.read()
        ns = {}
        with open(os.path.join(d, 'edits.py')) as fh:
            exec(compile(fh.read(), 'hand/edits.py', 'exec'), ns)
        self.edits = ns['EDITS']

    def sources(self, v):
        files = dict(self.base)
        for k in range(2, v + 1):
            for e in self.edits[k]:
                f, old, new = e[:3]
                count = e[3] if len(e) > 3 else 1
                if files[f].count(old) != count:
                    raise SystemExit('FAIL: hand/edits.py v%d: %r occurs %d times in %s, not %d'
                                     % (k, old[:40], files[f].count(old), f, count))
                files[f] = files[f].replace(old, new)
        return files


class GenProgram:
    name = 'prog'

    def __init__(self, files=10, per_file=220, seed=1):
        self.args = (files, per_file, seed)

    def sources(self, v):
        p = genprog.version(v, *self.args)
        files = {'gen.h': p.render_header(), 'main.c': p.render_main()}
        for u in range(len(p.units)):
            files[p.unit_name(u)] = p.render_unit(u)
        return files


def write_sources(src, files):
    """Edits the files in place, like a developer: a file that did not change keeps its
    bytes and mtime; a file that went away is removed."""
    os.makedirs(src, exist_ok=True)
    for f in os.listdir(src):
        if f not in files:
            os.unlink(os.path.join(src, f))
    for f, text in files.items():
        path = os.path.join(src, f)
        if os.path.exists(path):
            with open(path) as fh:
                if fh.read() == text:
                    continue
        with open(path, 'w') as fh:
            fh.write(text)


class Build:
    """One version of one program for one architecture."""

    def __init__(self, arch, prog, v, top):
        self.arch, self.prog, self.v = arch, prog, v
        self.dir = os.path.join(top, 'v%d' % v)
        self.exe = os.path.join(self.dir, prog.name)
        self.dsym = self.exe + '.dSYM'
        self.dwarf = os.path.join(self.dsym, 'Contents', 'Resources', 'DWARF', prog.name)
        self.objs = []
        self.dsymutil_secs = None
        self.desc = None


def build_program(arch, prog, top, pool):
    """Builds every version in turn in one source directory (so file paths are stable),
    compiling a version's units in parallel. Returns [Build]."""
    src = os.path.join(top, 'src')
    target = '%s-apple-macos11' % arch
    builds = []
    for v in VERSIONS:
        b = Build(arch, prog, v, top)
        files = prog.sources(v)
        write_sources(src, files)
        os.makedirs(os.path.join(b.dir, 'obj'))
        units = sorted(f for f in files if f.endswith('.c'))
        b.objs = [os.path.join(b.dir, 'obj', u[:-2] + '.o') for u in units]
        jobs = [pool.submit(run, ['clang-16', '--target=' + target] + CFLAGS +
                            ['-c', u, '-o', o], cwd=src) for u, o in zip(units, b.objs)]
        for j in jobs:
            j.result()
        run(['ld64.lld-16', '-arch', arch, '-platform_version', 'macos', '11.0', '11.0',
             '-e', '__start', '-o', b.exe] + b.objs)
        builds.append(b)
    return builds


def time_dsymutil(b):
    """dsymutil-16 rebuilding the whole dSYM, timed alone (best of 2); then the objects
    go, so lldb cannot fall back to the executable's debug map and read them."""
    best = None
    # dsymutil-16 leaves an empty dsymutil-XXXXXX directory in $TMPDIR per run.
    tmp = os.path.join(b.dir, 'tmp')
    os.makedirs(tmp, exist_ok=True)
    env = dict(os.environ, TMPDIR=tmp)
    for _ in range(2):
        t0 = time.perf_counter()
        run(['dsymutil-16', b.exe, '-o', b.dsym], env=env)
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    b.dsymutil_secs = best


def drop_objects(b):
    shutil.rmtree(os.path.join(b.dir, 'obj'))


# ---------------------------------------------------------------------------------------
# Questions for lldb, and its answers

class Questions:
    def __init__(self, desc, path, addr_limit=None):
        fns = list(desc.fns.values())
        names = sorted({f.name for f in fns})
        addrs = set()
        lines = set()
        for f in fns:
            addrs.add(f.low)
            addrs.add(f.low + f.size - 1)
            for r in f.rows:
                addrs.add(f.low + r[0])
                if r[1]:
                    fid = r[4] or f.file
                    lines.add((os.path.basename(desc.paths[fid]), r[1]))
        addrs = sorted(addrs)
        if addr_limit and len(addrs) > addr_limit:
            step = len(addrs) / addr_limit
            addrs = [addrs[int(k * step)] for k in range(addr_limit)]
        self.cmds = (['image lookup -n %s' % n for n in names] +
                     ['image lookup -a 0x%x' % a for a in addrs] +
                     ['breakpoint set -f %s -l %d' % fl for fl in sorted(lines)])
        self.counts = {'lookup -n': len(names), 'lookup -a': len(addrs),
                       'breakpoint': len(lines)}
        self.path = path
        with open(path, 'w') as fh:
            fh.write('\n'.join(self.cmds + ['breakpoint list']) + '\n')

    def __len__(self):
        return len(self.cmds)


def split_answers(text, q):
    """The answers to q's commands in lldb's output (echoed commands start blocks).
    Returns a list of answers (None where a command never answered)."""
    blocks = {}
    expect = 0
    cur = None
    bplist = None
    for line in text.split('\n'):
        if line.startswith('(lldb) '):
            cmd = line[7:].strip()
            if expect < len(q.cmds) and cmd == q.cmds[expect]:
                cur = blocks.setdefault(expect, [])
                expect += 1
                continue
            if cmd == 'breakpoint list' and expect == len(q.cmds):
                bplist = []
                cur = bplist
                continue
            cur = None
            continue
        if cur is not None:
            cur.append(line.rstrip())
    # Locations of each breakpoint, from the final `breakpoint list`.
    locs = {}
    num = None
    for line in bplist or []:
        m = re.match(r'^(\d+): ', line)
        if m:
            num = int(m.group(1))
            locs[num] = []
            continue
        m = re.match(r'^\s+\d+\.\d+: (.*)$', line)
        if m and num is not None:
            locs[num].append(m.group(1))
    out = []
    for k, cmd in enumerate(q.cmds):
        if k not in blocks:
            out.append(None)
            continue
        body = [l for l in blocks[k] if l]
        if cmd.startswith('image lookup -n'):
            # lldb lists several matches in no fixed order (and glues one's Summary to
            # the next one's Address): compare them as a set.
            joined = ' '.join(l.strip() for l in body)
            parts = re.split(r'\s+(?=Address: )', joined)
            ans = parts[0] + ' | ' + ' | '.join(sorted(parts[1:]))
        elif cmd.startswith('breakpoint set'):
            ans = ' '.join(l.strip() for l in body)
            m = re.match(r'^Breakpoint (\d+):', ans)
            if m:
                ans += ' | ' + ' | '.join(sorted(locs.get(int(m.group(1)), ['(not listed)'])))
        else:
            ans = ' '.join(l.strip() for l in body)
        out.append(ans)
    return out


def preamble_ok(text):
    return 'has been added to' in text


def normalize(text, paths):
    for p in paths:
        text = text.replace(p, '<DSYM>')
    return text


def lldb_batch(exe, dwarf, q, out):
    """Runs lldb-16 in batch mode: target, symbols, q's commands. Returns its output."""
    with open(out, 'w') as fh:
        subprocess.run(['lldb-16', '-b', '-x', '-o', LLDB_PRE, '-o', 'target create ' + exe,
                        '-o', 'target symbols add ' + dwarf,
                        '-o', 'command source -e false ' + q.path],
                       stdout=fh, stderr=subprocess.STDOUT, timeout=600)
    with open(out) as fh:
        return fh.read()


class Tally:
    def __init__(self):
        self.total = 0
        self.match = 0
        self.shown = 0
        self.failures = []

    def compare(self, what, q, want_text, got_text, want_paths, got_paths):
        want = split_answers(normalize(want_text, want_paths), q)
        got = split_answers(normalize(got_text, got_paths), q)
        bad = 0
        if not preamble_ok(want_text):
            self.failures.append('%s: the reference dSYM did not load' % what)
        if not preamble_ok(got_text):
            self.failures.append('%s: the mounted dSYM did not load' % what)
        for k, cmd in enumerate(q.cmds):
            self.total += 1
            if want[k] is not None and want[k] == got[k]:
                self.match += 1
                continue
            bad += 1
            if self.shown < 12:
                self.shown += 1
                log('  MISMATCH %s: %s\n    dsymutil: %s\n    dsymfs:   %s'
                    % (what, cmd, (want[k] or '(no answer)')[:300],
                       (got[k] or '(no answer)')[:300]))
        if bad:
            self.failures.append('%s: %d of %d answers differ' % (what, bad, len(q)))
        return len(q) - bad, len(q)


# ---------------------------------------------------------------------------------------
# The mount

MOUNTS_FILE = None
DAEMONS = []


class Daemon:
    def __init__(self, dsymfs, config, work, arch):
        self.mnt = tempfile.mkdtemp(prefix='dsymfs-e2e-%s.' % arch)
        self.log = os.path.join(work, 'daemon-%s.log' % arch)
        self.logfh = open(self.log, 'w')
        # The daemon writes one byte to ready_fd once it is mounted (EOF: it exited first).
        r, w = os.pipe()
        self.proc = subprocess.Popen([dsymfs, '-f', '--config', config, '-o',
                                      'ready_fd=%d' % w, self.mnt],
                                     stdout=self.logfh, stderr=subprocess.STDOUT,
                                     pass_fds=(w,))
        os.close(w)
        DAEMONS.append(self)
        if MOUNTS_FILE:
            with open(MOUNTS_FILE, 'a') as fh:
                fh.write('%d %s\n' % (self.proc.pid, self.mnt))
        try:
            if not select.select([r], [], [], 30)[0]:
                raise SystemExit('FAIL: dsymfs did not mount %s within 30 s' % self.mnt)
            if os.read(r, 1) != b'R':
                self.proc.wait(timeout=10)
                raise SystemExit('FAIL: dsymfs exited (%s) before mounting:\n%s'
                                 % (self.proc.returncode, self.read_log()))
        finally:
            os.close(r)

    def read_log(self):
        with open(self.log, errors='replace') as fh:
            return fh.read()

    def stop(self):
        """Unmounts, waits for the daemon; returns an error message or None."""
        if self in DAEMONS:
            DAEMONS.remove(self)
        err = None
        if os.path.ismount(self.mnt):
            if subprocess.run(['fusermount3', '-u', self.mnt]).returncode:
                subprocess.run(['fusermount3', '-u', '-z', self.mnt])
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
            err = 'dsymfs did not exit after the unmount'
        self.logfh.close()
        text = self.read_log()
        if err is None and (rc != 0 or 'Sanitizer' in text):
            err = 'dsymfs exited with status %s:\n%s' % (rc, text[-4000:])
        try:
            os.rmdir(self.mnt)
        except OSError:
            pass
        return err


def stop_all():
    for d in list(DAEMONS):
        d.stop()


def image_dwarf(mnt, name, gen=None):
    base = mnt if gen is None else os.path.join(mnt, 'images', name, 'generations', str(gen))
    return os.path.join(base, name + '.dSYM', 'Contents', 'Resources', 'DWARF', name)


def send_batch(mnt, name, text):
    """One handle, one write of the whole batch (`image NAME` first: the mount serves
    several images), the result read back with pread. Returns (result line, seconds from
    the first byte written until the write returned (the commit is done by then), and
    until stat of the current DWARF file shows a new inode, the new inode's size)."""
    cur = image_dwarf(mnt, name)
    st0 = os.stat(cur)
    data = ('image %s\n' % name + text).encode()
    fd = os.open(os.path.join(mnt, 'control'), os.O_RDWR)
    try:
        t0 = time.perf_counter()
        off = 0
        try:
            while off < len(data):
                off += os.write(fd, data[off:])
        except OSError as e:
            res = os.pread(fd, 4096, 0).decode()
            return 'errno %d: %s' % (e.errno, res.strip()), None, None
        t_write = time.perf_counter() - t0
        res = os.pread(fd, 4096, 0).decode().strip()
    finally:
        os.close(fd)
    if not res.startswith('ok '):
        return res, None, None
    deadline = t0 + 20
    while True:
        st = os.stat(cur)
        if st.st_ino != st0.st_ino:
            return res, (t_write, time.perf_counter() - t0), st.st_size
        if time.perf_counter() > deadline:
            return res + ' (but the current file did not change within 20 s)', None, None
        time.sleep(0.0005)


# ---------------------------------------------------------------------------------------
# A debugger session that lives across a delta

class Session:
    def __init__(self, out):
        self.out = out
        self.fh = open(out, 'w')
        self.proc = subprocess.Popen(['lldb-16', '-x'], stdin=subprocess.PIPE,
                                     stdout=self.fh, stderr=subprocess.STDOUT, text=True)
        self.marks = 0
        self.send(LLDB_PRE)

    def send(self, text):
        self.proc.stdin.write(text + '\n')
        self.proc.stdin.flush()

    def sync(self, timeout=300):
        """Waits until lldb has run everything sent so far; returns the mark's text."""
        self.marks += 1
        mark = '@@E2E-MARK-%d@@' % self.marks
        self.send('script print("%s")' % mark)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out) as fh:
                if '\n' + mark + '\n' in fh.read():
                    return mark
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit('FAIL: the lldb session did not answer (see %s)' % self.out)

    def close(self):
        try:
            self.send('quit')
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.fh.close()
        with open(self.out) as fh:
            return fh.read()


# ---------------------------------------------------------------------------------------

def run_arch(arch, args, pool):
    t_start = time.perf_counter()
    work = os.path.join(args.work, arch)
    progs = [p for p in (HandProgram(), GenProgram(per_file=args.per_file))
             if p.name in args.programs]
    builds = {}
    t0 = time.perf_counter()
    for p in progs:
        builds[p.name] = build_program(arch, p, os.path.join(work, p.name), pool)
    for p in progs:
        for b in builds[p.name]:
            time_dsymutil(b)
            drop_objects(b)
    t_build = time.perf_counter() - t0

    # Each version's reference description (the feeder's view of dsymutil's DWARF), and
    # the questions asked of it.
    descs = {}
    for p in progs:
        for b in builds[p.name]:
            b.desc = dwarf2ctl.describe(b.dwarf, 'llvm-dwarfdump-16', True)
            b.q = Questions(b.desc, os.path.join(b.dir, 'questions'), args.addr_limit)
            descs[(p.name, b.v)] = b.desc
    # Reference answers (dsymutil's dSYMs), two lldb processes at a time.
    refs = {}
    jobs = {}
    for p in progs:
        for b in builds[p.name]:
            jobs[(p.name, b.v)] = pool.submit(lldb_batch, b.exe, b.dwarf, b.q,
                                              os.path.join(b.dir, 'lldb-ref.out'))
    for k, j in jobs.items():
        refs[k] = j.result()

    config = os.path.join(work, 'dsymfs.ini')
    with open(config, 'w') as fh:
        fh.write('[dsymfs]\nkeep_generations = 16\n')
        for p in progs:
            fh.write('[image %s]\nexe = %s\n' % (p.name, builds[p.name][0].exe))
    tally = Tally()
    daemon = Daemon(args.dsymfs, config, args.work, arch)
    rows = []
    try:
        mnt = daemon.mnt
        gens = {}
        sessions = {}
        for p in progs:
            b1 = builds[p.name][0]
            script = run([sys.executable, DWARF2CTL, '--ids-by-name', '--commit', '--stats',
                          b1.dwarf])
            res, secs, size = send_batch(mnt, p.name, script.stdout)
            want = 'ok generation=2 decls=%d' % len(b1.desc.fns)
            if res != want:
                raise SystemExit('FAIL: %s %s v1: %s (wanted %s)' % (arch, p.name, res, want))
            gens[p.name] = 2
            rows.append((p.name, 'v1 (full)', len(b1.desc.fns), script.stdout.count('\n'),
                         len(script.stdout.encode()), secs, b1.dsymutil_secs, size,
                         os.path.getsize(b1.dwarf)))

        def check(p, b, gen):
            got = lldb_batch(b.exe, image_dwarf(mnt, p.name, gen), b.q,
                             os.path.join(b.dir, 'lldb-dsymfs.out'))
            return tally.compare('%s %s v%d (generation %d)' % (arch, p.name, b.v, gen), b.q,
                                 refs[(p.name, b.v)], got, [b.dwarf],
                                 [image_dwarf(mnt, p.name, gen)])

        for p in progs:
            ok, n = check(p, builds[p.name][0], 2)
            log('%s %s v1: %d/%d answers match' % (arch, p.name, ok, n))

        for i in range(1, len(VERSIONS)):
            for p in progs:
                prev, b = builds[p.name][i - 1], builds[p.name][i]
                if i == 1:
                    # A debugger that loaded v1 through the current path before the delta.
                    s = Session(os.path.join(prev.dir, 'lldb-session.out'))
                    s.send('target create %s\ntarget symbols add %s'
                           % (prev.exe, image_dwarf(mnt, p.name)))
                    s.sync()
                    sessions[p.name] = s
                cmd = [sys.executable, DWARF2CTL, '--since', prev.dwarf, '--exe', b.exe,
                       '--commit', '--stats', b.dwarf]
                if args.break_mode and i == 1:
                    cmd[2:2] = ['--break', args.break_mode]   # one wrong delta per image
                t0 = time.perf_counter()
                d = run(cmd)
                feeder_secs = time.perf_counter() - t0
                stats = dict(kv.split('=', 1) for kv in d.stderr.split())
                res, secs, size = send_batch(mnt, p.name, d.stdout)
                want = 'ok generation=%d decls=%d' % (gens[p.name] + 1, len(b.desc.fns))
                if res != want:
                    raise SystemExit('FAIL: %s %s v%d delta: %s (wanted %s)'
                                     % (arch, p.name, b.v, res, want))
                gens[p.name] += 1
                rows.append((p.name, 'v%d->v%d' % (prev.v, b.v), len(b.desc.fns),
                             d.stdout.count('\n'), len(d.stdout.encode()), secs,
                             b.dsymutil_secs, size, os.path.getsize(b.dwarf)))
                log('%s %s v%d->v%d delta: %s (feeder %.2f s)%s'
                    % (arch, p.name, prev.v, b.v,
                       ' '.join('%s=%s' % (k[4:], v) for k, v in stats.items()
                                if k.startswith('cmd:')),
                       feeder_secs, ('  BROKEN ON PURPOSE: ' + stats['broken'])
                       if 'broken' in stats else ''))
            for p in progs:
                b = builds[p.name][i]
                ok, n = check(p, b, gens[p.name])
                log('%s %s v%d: %d/%d answers match' % (arch, p.name, b.v, ok, n))
            if i == 1:
                for p in progs:
                    # The old session still answers for v1; a new target there sees v2.
                    s = sessions.pop(p.name)
                    b1, b2 = builds[p.name][0], builds[p.name][1]
                    s.send('command source -e false ' + b1.q.path)
                    mark = s.sync()
                    s.send('target create %s\ntarget symbols add %s\ncommand source -e false %s'
                           % (b2.exe, image_dwarf(mnt, p.name), b2.q.path))
                    text = s.close()
                    before, _, after = text.partition('\n' + mark + '\n')
                    cur = [image_dwarf(mnt, p.name)]
                    ok1, n1 = tally.compare('%s %s session opened at v1, asked after the '
                                            'delta' % (arch, p.name), b1.q,
                                            refs[(p.name, 1)], before, [b1.dwarf], cur)
                    ok2, n2 = tally.compare('%s %s same session, new target' % (arch, p.name),
                                            b2.q, refs[(p.name, 2)], after, [b2.dwarf], cur)
                    log('%s %s lldb session across the v1->v2 delta: old target %d/%d, '
                        'new target %d/%d answers match' % (arch, p.name, ok1, n1, ok2, n2))
        # The current path serves the last version too.
        for p in progs:
            b = builds[p.name][-1]
            got = lldb_batch(b.exe, image_dwarf(mnt, p.name), b.q,
                             os.path.join(b.dir, 'lldb-current.out'))
            ok, n = tally.compare('%s %s v%d (current path)' % (arch, p.name, b.v), b.q,
                                  refs[(p.name, b.v)], got, [b.dwarf], [image_dwarf(mnt, p.name)])
            log('%s %s v%d via the current path: %d/%d answers match' % (arch, p.name, b.v,
                                                                           ok, n))
    finally:
        err = daemon.stop()
    if err:
        tally.failures.append(err)

    log('')
    log('%s: updates sent to %s (commands and bytes of the feeder\'s batch; "committed": '
        'first byte written until the write returned; "visible": until stat of the current '
        'DWARF file shows the new inode; "dsymutil-16": the whole dSYM rebuilt, best of 2)'
        % (arch, os.path.relpath(args.dsymfs, ROOT)))
    log('  %-5s %-9s %5s %8s %8s %10s %10s %12s %12s %10s' % (
        'image', 'change', 'fns', 'commands', 'bytes', 'committed', 'visible', 'dsymutil-16',
        'dsymfs size', 'ref size'))
    for name, what, nfn, ncmd, nbytes, secs, dsu, size, refsize in rows:
        log('  %-5s %-9s %5d %8d %8d %7.1f ms %7.1f ms %9.1f ms %12d %10d' % (
            name, what, nfn, ncmd, nbytes, secs[0] * 1000, secs[1] * 1000, dsu * 1000, size,
            refsize))
    log('%s: built in %.0f s, whole run %.0f s' % (arch, t_build, time.perf_counter() - t_start))
    log('%s: %d/%d answers match' % (arch, tally.match, tally.total))
    return tally


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--work', required=True)
    ap.add_argument('--dsymfs', default=os.path.join(ROOT, 'build', 'test', 'dsymfs'))
    ap.add_argument('--arch', default='x86_64,arm64')
    ap.add_argument('--programs', default='hand,prog')
    ap.add_argument('--per-file', type=int, default=220)
    ap.add_argument('--break', dest='break_mode', default=os.environ.get('E2E_BREAK') or None)
    ap.add_argument('--addr-limit', type=int, default=int(os.environ.get('E2E_ADDR_LIMIT', 0)))
    args = ap.parse_args()
    args.programs = args.programs.split(',')
    global MOUNTS_FILE
    MOUNTS_FILE = os.path.join(args.work, 'mounts')
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    t0 = time.perf_counter()
    failures = []
    summary = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for arch in args.arch.split(','):
            log('== %s' % arch)
            t = run_arch(arch, args, pool)
            failures += t.failures
            summary.append('%s: %d/%d answers match' % (arch, t.match, t.total))
    log('')
    for s in summary:
        log(s)
    log('total %.0f s' % (time.perf_counter() - t0))
    if failures:
        for f in failures:
            log('FAIL: ' + f)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
