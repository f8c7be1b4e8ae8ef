#!/usr/bin/env python3
"""Turns a compiler's DWARF into dsymfs control-protocol commands.

Reads `llvm-dwarfdump --debug-info --debug-line` of a dSYM (or object) and prints `file`,
`type` and `fn` lines that describe the same functions, so a test can feed them to dsymfs
and compare a debugger's answers against the original. Ids are stable across runs of the
same input: files and types are numbered by first appearance, functions by their order
in .debug_info (or, with --ids-by-name, by a hash of name and declaring file, and of the
unit for a function declared in another file, such as a header's static inline function
compiled into several units; so two versions of a program give unchanged functions the
same id). With --ids-by-name a declaring file's path is normalized ("/src/./a.h" is
"/src/a.h"), so a header's functions and their rows name one file.

Usage: dwarf2ctl.py [--dwarfdump PATH] [--ids-by-name] [--exe PATH] [--commit] DWARF_FILE
       dwarf2ctl.py --since OLD_DWARF [--exe PATH] [--commit] [--stats] [--break MODE] DWARF_FILE

With --since, prints only what changed from OLD_DWARF to DWARF_FILE, as one batch in the
order docs/protocol.md recommends: `exe` (with --exe), new files and types, `del` for
functions that are gone, `move-range`/`move` for functions whose code only moved,
`line-range`/`line` for functions whose source lines only shifted, `fn` for new and
changed functions, then `delfile`/`deltype` for what nothing uses any more. Before
printing, the delta is applied to a model of OLD_DWARF's functions and must give exactly
DWARF_FILE's. --break MODE makes it wrong on purpose, to prove a test catches it:
skip-line (one function's line shift is not sent), skip-move (one function's move is not
sent), skip-fn (one `fn` line is dropped), skip-del (one `del` line is dropped).
--stats prints counts of functions and commands to stderr.

Supported types: base, pointer, const, typedef; a reference to any other kind of type is
dropped (a pointer to it becomes a pointer to void), which the tests avoid.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys

DIE_RE = re.compile(r'^(0x[0-9a-f]+):( *)(DW_TAG_\w+|NULL)')
ATTR_RE = re.compile(r'^\s+(DW_AT_\w+)\s+\((.*)\)$')
ROW_RE = re.compile(r'^(0x[0-9a-f]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s*(\d+\s+)?(.*)$')
ENCODINGS = {
    'DW_ATE_signed': 'signed', 'DW_ATE_unsigned': 'unsigned', 'DW_ATE_boolean': 'bool',
    'DW_ATE_float': 'float', 'DW_ATE_signed_char': 'signed_char',
    'DW_ATE_unsigned_char': 'unsigned_char',
}
TYPE_TAGS = {'DW_TAG_base_type', 'DW_TAG_pointer_type', 'DW_TAG_const_type', 'DW_TAG_typedef'}


def quote(s):
    if s and not re.search(r'[\s"\\=]', s):
        return s
    out = ''
    for ch in s:
        if ch in '"\\':
            out += '\\' + ch
        elif ch == '\n':
            out += '\\n'
        elif ch == '\t':
            out += '\\t'
        else:
            out += ch
    return '"' + out + '"'


def string_value(v):
    m = re.match(r'^"(.*)"$', v)
    return m.group(1) if m else v


def ref_value(v):
    m = re.match(r'^(0x[0-9a-f]+)', v)
    return int(m.group(1), 16) if m else None


def parse_info(text):
    """Returns a list of DIE dicts: off, tag, depth, attrs, children (list)."""
    root = {'children': [], 'depth': -1}
    stack = [root]
    cur = None
    for line in text.splitlines():
        m = DIE_RE.match(line)
        if m:
            depth = len(m.group(2))
            if m.group(3) == 'NULL':
                while len(stack) > 1 and stack[-1]['depth'] >= depth:
                    stack.pop()
                cur = None
                continue
            die = {'off': int(m.group(1), 16), 'tag': m.group(3), 'depth': depth,
                   'attrs': {}, 'children': []}
            while stack[-1]['depth'] >= depth:
                stack.pop()
            stack[-1]['children'].append(die)
            stack.append(die)
            cur = die
            continue
        m = ATTR_RE.match(line)
        if m and cur is not None:
            cur['attrs'][m.group(1)] = m.group(2)
    return root['children']


def parse_lines(text):
    """Returns {offset: {'files': {index: (dir, name)}, 'dirs': [..], 'rows': [...]}}."""
    tables = {}
    cur = None
    pending_file = None
    for line in text.splitlines():
        m = re.match(r'^debug_line\[(0x[0-9a-f]+)\]', line)
        if m:
            cur = {'files': {}, 'dirs': [], 'rows': []}
            tables[int(m.group(1), 16)] = cur
            continue
        if cur is None:
            continue
        m = re.match(r'^include_directories\[\s*(\d+)\] = "(.*)"$', line)
        if m:
            cur['dirs'].append(m.group(2))
            continue
        m = re.match(r'^file_names\[\s*(\d+)\]:$', line)
        if m:
            pending_file = int(m.group(1))
            cur['files'][pending_file] = ['', 0]
            continue
        m = re.match(r'^\s+name: "(.*)"$', line)
        if m and pending_file is not None:
            cur['files'][pending_file][0] = m.group(1)
            continue
        m = re.match(r'^\s+dir_index: (\d+)$', line)
        if m and pending_file is not None:
            cur['files'][pending_file][1] = int(m.group(1))
            continue
        m = ROW_RE.match(line)
        if m:
            flags = m.group(6).split()
            cur['rows'].append({'addr': int(m.group(1), 16), 'line': int(m.group(2)),
                                'col': int(m.group(3)), 'file': int(m.group(4)),
                                'flags': flags})
    return tables


def resolve(comp_dir, dirs, name, dir_index):
    if name.startswith('/'):
        return name
    if dir_index == 0:
        base = comp_dir
    else:
        base = dirs[dir_index - 1]
        if not base.startswith('/'):
            base = os.path.join(comp_dir, base)
    return os.path.normpath(os.path.join(base, name))


def stable_id(*parts):
    h = hashlib.sha256('\0'.join(parts).encode()).digest()
    return int.from_bytes(h[:8], 'little') >> 1 or 1


class Fn:
    """One function as the protocol sees it (the fields of its `fn` line)."""
    __slots__ = ('id', 'name', 'low', 'size', 'file', 'line', 'cu', 'ret', 'params', 'rows')

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw[k])

    def copy(self):
        f = Fn(**{k: getattr(self, k) for k in self.__slots__})
        f.rows = [list(r) for r in self.rows]
        return f

    def key(self):
        return tuple(getattr(self, k) for k in self.__slots__[1:-1]) + (
            tuple(tuple(r) for r in self.rows),)

    def text(self):
        line = 'fn %d name=%s low_pc=0x%x size=0x%x file=%d line=%d' % (
            self.id, quote(self.name), self.low, self.size, self.file, self.line)
        if self.cu:
            line += ' cu=%d' % self.cu
        if self.ret:
            line += ' ret=%d' % self.ret
        if self.params:
            line += ' params=%s' % quote(self.params)
        if self.rows:
            line += ' rows=%s' % ','.join('%d:%d:%d:%s:%d' % tuple(r) for r in self.rows)
        return line


class Description:
    """What dwarf2ctl says about one DWARF file: its output lines in order, and the
    files, types and functions they define, by id."""

    def __init__(self):
        self.out = []
        self.files = {}   # id -> line
        self.paths = {}   # id -> path
        self.types = {}   # id -> line
        self.fns = {}     # id -> Fn
        self.order = []   # function ids in output order
        self.dups = []    # ids given to two functions


def describe(dwarf, dwarfdump='llvm-dwarfdump-16', ids_by_name=False):
    info = subprocess.run([dwarfdump, '--debug-info', dwarf], check=True,
                          capture_output=True, text=True).stdout
    lines = subprocess.run([dwarfdump, '--debug-line', dwarf], check=True,
                           capture_output=True, text=True).stdout
    units = parse_info(info)
    tables = parse_lines(lines)

    d = Description()
    out = d.out
    file_ids = {}

    def file_id(path):
        if path not in file_ids:
            fid = stable_id('file', path) if ids_by_name else len(file_ids) + 1
            file_ids[path] = fid
            out.append('file %d path=%s' % (fid, quote(path)))
            d.files[fid] = out[-1]
            d.paths[fid] = path
        return file_ids[path]

    dies = {}

    def index(die):
        dies[die['off']] = die
        for c in die['children']:
            index(c)
    for u in units:
        index(u)

    type_ids = {}

    def type_id(off):
        """The protocol id of the type DIE at off, declaring it (and its targets) first."""
        if off is None or off not in dies:
            return 0
        die = dies[off]
        if die['tag'] not in TYPE_TAGS:
            return 0
        if off in type_ids:
            return type_ids[off]
        a = die['attrs']
        name = string_value(a['DW_AT_name']) if 'DW_AT_name' in a else None
        to = type_id(ref_value(a['DW_AT_type'])) if 'DW_AT_type' in a else 0
        key = '%s:%s:%s' % (die['tag'], name, to)
        tid = stable_id('type', key) if ids_by_name else len(type_ids) + 1
        type_ids[off] = tid
        if die['tag'] == 'DW_TAG_base_type':
            enc = ENCODINGS.get(a.get('DW_AT_encoding'), 'signed')
            size = int(a['DW_AT_byte_size'], 0)
            out.append('type %d kind=base name=%s size=%d enc=%s' % (tid, quote(name), size, enc))
        else:
            kind = {'DW_TAG_pointer_type': 'pointer', 'DW_TAG_const_type': 'const',
                    'DW_TAG_typedef': 'typedef'}[die['tag']]
            line = 'type %d kind=%s to=%d' % (tid, kind, to)
            if name:
                line += ' name=%s' % quote(name)
            out.append(line)
        d.types[tid] = out[-1]
        return tid

    nfn = 0
    for cu in units:
        if cu['tag'] != 'DW_TAG_compile_unit':
            continue
        a = cu['attrs']
        comp_dir = string_value(a.get('DW_AT_comp_dir', '""'))
        cu_name = resolve(comp_dir, [], string_value(a['DW_AT_name']), 0)
        table = tables.get(ref_value(a.get('DW_AT_stmt_list', '0x0')), {'files': {}, 'dirs': [], 'rows': []})
        paths = {i: resolve(comp_dir, table['dirs'], n, d) for i, (n, d) in table['files'].items()}
        cu_file = file_id(cu_name)
        for die in cu['children']:
            if die['tag'] != 'DW_TAG_subprogram' or 'DW_AT_low_pc' not in die['attrs']:
                continue
            fa = die['attrs']
            low = int(fa['DW_AT_low_pc'], 16)
            high = fa['DW_AT_high_pc']
            high = int(high, 16) if high.startswith('0x') else low + int(high)
            name = string_value(fa['DW_AT_name'])
            decl_path = string_value(fa['DW_AT_decl_file'])
            if ids_by_name:
                # One file, one id: "/src/./gen.h" is the rows' "/src/gen.h".
                decl_path = os.path.normpath(decl_path)
            fid = file_id(decl_path)
            ret = type_id(ref_value(fa['DW_AT_type'])) if 'DW_AT_type' in fa else 0
            params = []
            for p in die['children']:
                if p['tag'] == 'DW_TAG_formal_parameter' and 'DW_AT_name' in p['attrs']:
                    pt = type_id(ref_value(p['attrs'].get('DW_AT_type', '')))
                    if pt:
                        params.append('%s:%d' % (string_value(p['attrs']['DW_AT_name']), pt))
            rows = []
            for r in table['rows']:
                if low <= r['addr'] < high and 'end_sequence' not in r['flags']:
                    flags = ''.join(f for f, k in (('s', 'is_stmt'), ('p', 'prologue_end'),
                                                   ('e', 'epilogue_begin')) if k in r['flags'])
                    rf = file_id(paths.get(r['file'], decl_path))
                    rows.append([r['addr'] - low, r['line'], r['col'], flags,
                                 0 if rf == fid else rf])
            nfn += 1
            if not ids_by_name:
                fnid = nfn
            elif cu_file != fid:
                # A header's static inline function has one copy per unit that uses it.
                fnid = stable_id('fn', name, decl_path, cu_name)
            else:
                fnid = stable_id('fn', name, decl_path)
            fn = Fn(id=fnid, name=name, low=low, size=high - low, file=fid,
                    line=int(fa.get('DW_AT_decl_line', '0'), 0),
                    cu=cu_file if cu_file != fid else 0, ret=ret, params=','.join(params),
                    rows=rows)
            if fnid in d.fns:
                d.dups.append(fnid)
            d.fns[fnid] = fn
            d.order.append(fnid)
            out.append(fn.text())
    return d


# ---------------------------------------------------------------------------------------
# Deltas: what changed between two descriptions (ids by name), as protocol commands.

class DeltaError(Exception):
    pass


def row_file(fn, row):
    return row[4] or fn.file


def classify(o, n):
    """None if o and n are the same function; 'fn' if it must be sent again; else
    (address shift, {file id: line shift}) for a function that only moved."""
    if o.key() == n.key():
        return None
    if (o.name, o.size, o.file, o.cu, o.ret, o.params, len(o.rows)) != \
       (n.name, n.size, n.file, n.cu, n.ret, n.params, len(n.rows)):
        return 'fn'
    shifts = {}

    def shift(f, a, b):
        if (a == 0) != (b == 0):
            return False
        if a == 0:
            return True
        if shifts.setdefault(f, b - a) != b - a:
            return False
        return True
    if not shift(o.file, o.line, n.line):
        return 'fn'
    for ro, rn in zip(o.rows, n.rows):
        if (ro[0], ro[2], ro[3], ro[4]) != (rn[0], rn[2], rn[3], rn[4]):
            return 'fn'
        if not shift(row_file(o, ro), ro[1], rn[1]):
            return 'fn'
    return (n.low - o.low, {f: v for f, v in shifts.items() if v})


class Model:
    """The functions of an image, and the protocol's commands applied to them (the
    subset a delta uses), to check a delta before it is sent."""

    def __init__(self, fns):
        self.fns = {i: f.copy() for i, f in fns.items()}

    def line(self, i, delta, f=None):
        fn = self.fns[i]
        f = f or fn.file
        if fn.file == f and fn.line:
            fn.line += delta
            if fn.line <= 0:
                raise DeltaError('fn %d: declaration line shifted to %d' % (i, fn.line))
        for r in fn.rows:
            if row_file(fn, r) == f and r[1]:
                r[1] += delta
                if r[1] <= 0:
                    raise DeltaError('fn %d: row line shifted to %d' % (i, r[1]))

    def apply(self, cmd):
        w = cmd.split()
        kv = dict(x.split('=', 1) for x in w[1:] if '=' in x)
        if w[0] == 'del':
            del self.fns[int(w[1])]
        elif w[0] == 'move':
            self.fns[int(w[1])].low = int(kv['low_pc'], 0)
        elif w[0] == 'move-range':
            a, b, by = int(kv['from'], 0), int(kv['to'], 0), int(kv['by'], 0)
            for fn in self.fns.values():
                if a <= fn.low < b:
                    fn.low += by
        elif w[0] == 'line':
            self.line(int(w[1]), int(kv['delta'], 0), int(kv['file']) if 'file' in kv else None)
        elif w[0] == 'line-range':
            f, a, b, by = int(kv['file']), int(kv['from']), int(kv['to']), int(kv['by'])
            for i, fn in list(self.fns.items()):
                if fn.file == f and a <= fn.line < b:
                    self.line(i, by, f)
        else:
            raise DeltaError('the model does not know %r' % cmd)

    def select_moves(self, a, b):
        return {i for i, fn in self.fns.items() if a <= fn.low < b}

    def select_lines(self, f, a, b):
        return {i for i, fn in self.fns.items() if fn.file == f and a <= fn.line < b}


def runs(items):
    """items: (sort key, id, wanted shift or None for "don't care"), sorted. Yields
    (shift, [ids wanting it]) for maximal runs whose wanted shifts agree."""
    cur, ids = None, []
    for _, i, want in items:
        if want is None:
            continue
        if want != cur and ids:
            yield cur, ids
            ids = []
        cur = want
        ids.append(i)
    if ids:
        yield cur, ids


def plan_ranges(model, candidates, select, apply_cmd, want):
    """Orders range candidates (window, shift, members) so none catches a function it
    must not move; a candidate that cannot be placed is dissolved into its members,
    which the caller sends one by one. Returns (range commands, dissolved ids). The
    model is left as the ranges leave it."""
    dissolved = set()
    while True:
        trial = Model({})
        trial.fns = {i: f.copy() for i, f in model.fns.items()}
        cmds, bad = [], None
        pos = sorted((c for c in candidates if c[1] > 0 and c not in dissolved),
                     key=lambda c: -c[0][0])
        neg = sorted((c for c in candidates if c[1] < 0 and c not in dissolved),
                     key=lambda c: c[0][0])
        for c in pos + neg:
            window, by, members = c
            got = select(trial, window)
            if not set(members) <= got or any(want.get(i) is not None for i in
                                               got - set(members)):
                bad = c
                break
            cmd = apply_cmd(window, by)
            try:
                trial.apply(cmd)
            except DeltaError:
                bad = c
                break
            cmds.append(cmd)
        if bad is None:
            model.fns = trial.fns
            return cmds, {i for c in candidates if c in dissolved for i in c[2]}
        dissolved.add(bad)


def delta(old, new, exe=None, break_mode=None):
    """The commands that turn old into new. Returns (commands, stats dict)."""
    for d in (old, new):
        if d.dups:
            raise DeltaError('two functions share id %d (use --ids-by-name on a program '
                             'whose functions differ by name, file or unit)' % d.dups[0])
    gone = [i for i in old.order if i not in new.fns]
    added = [i for i in new.order if i not in old.fns]
    kinds = {i: classify(old.fns[i], new.fns[i]) for i in old.order if i in new.fns}
    resend = [i for i in new.order if i in kinds and kinds[i] == 'fn']
    moved = {i: k for i, k in kinds.items() if k not in (None, 'fn')}

    victim = None
    if break_mode == 'skip-line':
        victim = next((i for i in new.order if i in moved and moved[i][1]), None)
        if victim is not None:
            moved[victim] = (moved[victim][0], {})
    elif break_mode == 'skip-move':
        victim = next((i for i in new.order if i in moved and moved[i][0]), None)
        if victim is not None:
            moved[victim] = (0, moved[victim][1])
    if break_mode and victim is None and break_mode in ('skip-line', 'skip-move'):
        raise DeltaError('--break %s: no function to break' % break_mode)

    cmds = []
    if exe:
        cmds.append('exe %s' % quote(exe))
    for fid, line in new.files.items():
        if old.files.get(fid) != line:
            cmds.append(line)
    for tid, line in new.types.items():
        if old.types.get(tid) != line:
            cmds.append(line)
    cmds += ['del %d' % i for i in gone]

    model = Model({i: old.fns[i] for i in kinds})
    # What each surviving function wants: None for one that is sent again anyway.
    want_move = {i: (None if k == 'fn' else moved[i][0] if k else 0) for i, k in kinds.items()}

    # Moves: runs of functions (in address order) that move by the same amount.
    items = sorted((model.fns[i].low, i, w) for i, w in want_move.items())
    cands = []
    singles = []
    for by, ids in runs(items):
        if by == 0:
            continue
        if len(ids) < 2:
            singles += ids
            continue
        lows = [model.fns[i].low for i in ids]
        cands.append(((min(lows), max(lows) + 1), by, tuple(ids)))
    rcmds, dis = plan_ranges(
        model, cands, lambda m, w: m.select_moves(*w),
        lambda w, by: 'move-range from=0x%x to=0x%x by=%s' % (w[0], w[1], hexs(by)), want_move)
    cmds += rcmds
    for i in sorted(set(singles) | dis, key=lambda i: model.fns[i].low):
        cmds.append('move %d low_pc=0x%x' % (i, new.fns[i].low))
        model.fns[i].low = new.fns[i].low

    # Lines: per declaring file, runs (in line order) that shift by the same amount.
    line_singles = []
    lcmds = []
    for f in sorted({fn.file for fn in model.fns.values()}):
        want = {}
        for i, k in kinds.items():
            fn = model.fns[i]
            if fn.file != f:
                continue
            if k == 'fn':
                want[i] = None
            elif fn.line == 0:
                want[i] = 0   # never selected by a range; sent below if it shifts
            else:
                want[i] = moved[i][1].get(f, 0) if k else 0
        items = sorted((model.fns[i].line, i, w) for i, w in want.items() if model.fns[i].line)
        cands = []
        for by, ids in runs(items):
            if by == 0:
                continue
            if len(ids) < 2:
                line_singles += [(i, f) for i in ids]
                continue
            ls = [model.fns[i].line for i in ids]
            cands.append(((min(ls), max(ls) + 1), by, tuple(ids)))
        rc, dis = plan_ranges(
            model, cands, lambda m, w, f=f: m.select_lines(f, *w),
            lambda w, by, f=f: 'line-range file=%d from=%d to=%d by=%d' % (f, w[0], w[1], by),
            want)
        lcmds += rc
        line_singles += [(i, f) for i in dis]
    cmds += lcmds
    done = set(line_singles)
    pos = {i: n for n, i in enumerate(new.order)}
    for i, k in sorted(moved.items(), key=lambda x: pos[x[0]]):
        for f, by in sorted(k[1].items()):
            if f == model.fns[i].file and model.fns[i].line and (i, f) not in done:
                continue  # shifted by a range
            if f == model.fns[i].file:
                cmds.append('line %d delta=%d' % (i, by))
            else:
                cmds.append('line %d delta=%d file=%d' % (i, by, f))
            model.apply(cmds[-1])

    for i in added + resend:
        cmds.append(new.fns[i].text())
        model.fns[i] = new.fns[i].copy()
    for fid in old.files:
        if fid not in new.files:
            cmds.append('delfile %d' % fid)
    for tid in old.types:
        if tid not in new.types:
            cmds.append('deltype %d' % tid)

    # The delta must turn old into new (except what --break broke on purpose).
    for i, fn in new.fns.items():
        if i not in model.fns or (model.fns[i].key() != fn.key() and i != victim):
            raise DeltaError('internal: the delta leaves fn %d (%s) wrong' % (i, fn.name))
    if set(model.fns) != set(new.fns):
        raise DeltaError('internal: the delta leaves extra functions')

    if break_mode == 'skip-fn':
        i = next((j for j, c in enumerate(cmds) if c.startswith('fn ')), None)
        if i is None:
            raise DeltaError('--break skip-fn: no fn line to drop')
        victim = cmds.pop(i).split()[1]
    elif break_mode == 'skip-del':
        i = next((j for j, c in enumerate(cmds) if c.startswith('del ')), None)
        if i is None:
            raise DeltaError('--break skip-del: no del line to drop')
        victim = cmds.pop(i).split()[1]

    stats = {'functions': len(new.fns), 'unchanged': sum(1 for k in kinds.values() if k is None),
             'moved': len(moved), 'resent': len(resend), 'added': len(added),
             'deleted': len(gone)}
    for c in cmds:
        w = c.split(' ', 1)[0]
        stats['cmd:' + w] = stats.get('cmd:' + w, 0) + 1
    if victim is not None:
        vf = new.fns.get(int(victim))
        stats['broken'] = '%s %s (%s)' % (break_mode, victim, vf.name if vf else '?')
    return cmds, stats


def hexs(v):
    return '-0x%x' % -v if v < 0 else '0x%x' % v


def main():
    ap = argparse.ArgumentParser(
        description='Prints dsymfs control commands that describe a DWARF file, or (with '
                    '--since) only what changed since another one.')
    ap.add_argument('--dwarfdump', default='llvm-dwarfdump-16')
    ap.add_argument('--ids-by-name', action='store_true')
    ap.add_argument('--since', metavar='OLD_DWARF',
                    help='print a delta from OLD_DWARF to DWARF_FILE (implies --ids-by-name)')
    ap.add_argument('--exe', metavar='PATH', help='begin with `exe PATH`')
    ap.add_argument('--commit', action='store_true', help='end with `commit`')
    ap.add_argument('--stats', action='store_true', help='print counts to stderr')
    ap.add_argument('--break', dest='break_mode',
                    choices=['skip-line', 'skip-move', 'skip-fn', 'skip-del'],
                    help='send a wrong delta on purpose (for testing the tests)')
    ap.add_argument('dwarf')
    args = ap.parse_args()
    if args.since:
        old = describe(args.since, args.dwarfdump, True)
        new = describe(args.dwarf, args.dwarfdump, True)
        try:
            out, stats = delta(old, new, args.exe, args.break_mode)
        except DeltaError as e:
            sys.exit('dwarf2ctl: %s' % e)
    else:
        if args.break_mode:
            ap.error('--break needs --since')
        d = describe(args.dwarf, args.dwarfdump, args.ids_by_name)
        out = (['exe %s' % quote(args.exe)] if args.exe else []) + d.out
        stats = {'functions': len(d.fns)}
        for c in out:
            w = c.split(' ', 1)[0]
            stats['cmd:' + w] = stats.get('cmd:' + w, 0) + 1
    if args.commit:
        out = out + ['commit']
    text = '\n'.join(out) + '\n' if out else ''
    sys.stdout.write(text)
    if args.stats:
        stats['commands'] = len(out)
        stats['bytes'] = len(text.encode())
        sys.stderr.write(' '.join('%s=%s' % (k, str(v).replace(' ', '_'))
                                  for k, v in stats.items()) + '\n')


if __name__ == '__main__':
    main()
