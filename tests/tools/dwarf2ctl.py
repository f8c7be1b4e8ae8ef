#!/usr/bin/env python3
"""Turns a compiler's DWARF into dsymfs control-protocol commands.

Reads `llvm-dwarfdump --debug-info --debug-line` of a dSYM (or object) and prints `file`,
`type` and `fn` lines that describe the same functions, so a test can feed them to dsymfs
and compare a debugger's answers against the original. Ids are stable across runs of the
same input: files and types are numbered by first appearance, functions by their order
in .debug_info (or, with --ids-by-name, by a hash of name and declaring file, so two
versions of a program give unchanged functions the same id).

Usage: dwarf2ctl.py [--dwarfdump PATH] [--ids-by-name] DWARF_FILE > script
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dwarfdump', default='llvm-dwarfdump-16')
    ap.add_argument('--ids-by-name', action='store_true')
    ap.add_argument('dwarf')
    args = ap.parse_args()
    info = subprocess.run([args.dwarfdump, '--debug-info', args.dwarf], check=True,
                          capture_output=True, text=True).stdout
    lines = subprocess.run([args.dwarfdump, '--debug-line', args.dwarf], check=True,
                           capture_output=True, text=True).stdout
    units = parse_info(info)
    tables = parse_lines(lines)

    out = []
    file_ids = {}

    def file_id(path):
        if path not in file_ids:
            fid = stable_id('file', path) if args.ids_by_name else len(file_ids) + 1
            file_ids[path] = fid
            out.append('file %d path=%s' % (fid, quote(path)))
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
        tid = stable_id('type', key) if args.ids_by_name else len(type_ids) + 1
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
                    rows.append('%d:%d:%d:%s:%d' % (r['addr'] - low, r['line'], r['col'], flags,
                                                    0 if rf == fid else rf))
            nfn += 1
            fnid = stable_id('fn', name, decl_path) if args.ids_by_name else nfn
            line = 'fn %d name=%s low_pc=0x%x size=0x%x file=%d line=%s' % (
                fnid, quote(name), low, high - low, fid, fa.get('DW_AT_decl_line', '0'))
            if cu_file != fid:
                line += ' cu=%d' % cu_file
            if ret:
                line += ' ret=%d' % ret
            if params:
                line += ' params=%s' % quote(','.join(params))
            if rows:
                line += ' rows=%s' % ','.join(rows)
            out.append(line)
    sys.stdout.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
