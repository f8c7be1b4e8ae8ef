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

Usage: dwarf2ctl.py [--dwarfdump PATH] [--ids-by-name] [--rich] [--exe PATH] [--commit] DWARF_FILE
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

--rich describes everything the rich debug-info records of docs/protocol.md carry: every
kind of type (members with bit-fields, enumerators, array bounds, function types, types
nested in a struct as scope=), each unit's language, `global` lines for file-scope
variables at an address, and per function its linkage name, frame base, parameter and
variable locations, lexical blocks and inlined calls; a function inlined somewhere
(DW_AT_inline) also becomes an `abstract` fn record, the origin of its inlined calls.
A location is one of the protocol's LOC forms where one says it, else the expression's
bytes (re-assembled from llvm-dwarfdump's text); a .debug_loc list becomes offsets from
the function's low_pc. What DWARF has and the protocol cannot say is left out: call sites,
variables whose value is a block constant (DW_AT_const_value of a double), file-scope
constants without an address. Types are numbered per DIE, as dsymutil keeps a copy per
unit. --rich does not take --since.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys

DIE_RE = re.compile(r'^(0x[0-9a-f]+):( *)(DW_TAG_\w+|NULL)')
ATTR_RE = re.compile(r'^\s+(DW_AT_\w+)\s+\((.*)$')
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
    """Returns a list of DIE dicts: off, tag, depth, attrs, children (list). An attribute
    whose value spans several lines (a location list, DW_AT_ranges) keeps them, joined by
    newlines; the value is the text between the outer parentheses."""
    root = {'children': [], 'depth': -1}
    stack = [root]
    cur = None
    last = None

    def close(die, name):
        if die is not None and name is not None:
            v = die['attrs'][name].rstrip()
            die['attrs'][name] = v[:-1] if v.endswith(')') else v
    for line in text.splitlines():
        m = DIE_RE.match(line)
        if m:
            close(cur, last)
            last = None
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
        if cur is None:
            continue
        m = ATTR_RE.match(line)
        if m:
            close(cur, last)
            last = m.group(1)
            cur['attrs'][last] = m.group(2)
        elif last is not None and line.strip():
            cur['attrs'][last] += '\n' + line.strip()
    close(cur, last)
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
    __slots__ = ('id', 'name', 'low', 'size', 'file', 'line', 'cu', 'ret', 'params', 'extra',
                 'abstract', 'rows')

    def __init__(self, **kw):
        # extra: the --rich fields after params, as protocol text; abstract: no code.
        kw.setdefault('extra', '')
        kw.setdefault('abstract', False)
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
        if self.abstract:
            line = 'fn %d name=%s file=%d line=%d' % (self.id, quote(self.name), self.file,
                                                       self.line)
        else:
            line = 'fn %d name=%s low_pc=0x%x size=0x%x file=%d line=%d' % (
                self.id, quote(self.name), self.low, self.size, self.file, self.line)
        if self.cu:
            line += ' cu=%d' % self.cu
        if self.ret:
            line += ' ret=%d' % self.ret
        if self.params:
            line += ' params=%s' % quote(self.params)
        if self.extra:
            line += ' ' + self.extra
        if self.rows:
            line += ' rows=%s' % ','.join('%d:%d:%d:%s:%d' % tuple(r) for r in self.rows)
        if self.abstract:
            line += ' abstract'
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


def read_dwarf(dwarf, dwarfdump):
    """The dSYM's units (parse_info) and line tables (parse_lines), as dwarfdump prints them."""
    def dump(what):
        return subprocess.run([dwarfdump, what, dwarf], check=True, capture_output=True,
                              text=True).stdout
    return parse_info(dump('--debug-info')), parse_lines(dump('--debug-line'))


def describe(dwarf, dwarfdump='llvm-dwarfdump-16', ids_by_name=False):
    units, tables = read_dwarf(dwarf, dwarfdump)

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
# --rich: every record of the rich debug-info protocol (struct/union/enum/array/func types,
# globals, frame bases, parameter and variable locations, blocks, inlined calls).

RICH_TYPE_TAGS = TYPE_TAGS | {
    'DW_TAG_structure_type', 'DW_TAG_union_type', 'DW_TAG_enumeration_type',
    'DW_TAG_array_type', 'DW_TAG_subroutine_type', 'DW_TAG_volatile_type',
    'DW_TAG_restrict_type'}
KINDS = {
    'DW_TAG_pointer_type': 'pointer', 'DW_TAG_const_type': 'const',
    'DW_TAG_typedef': 'typedef', 'DW_TAG_volatile_type': 'volatile',
    'DW_TAG_restrict_type': 'restrict', 'DW_TAG_structure_type': 'struct',
    'DW_TAG_union_type': 'union', 'DW_TAG_enumeration_type': 'enum',
    'DW_TAG_array_type': 'array', 'DW_TAG_subroutine_type': 'func'}
LANGS = {'DW_LANG_C89': 'c89', 'DW_LANG_C': 'c89', 'DW_LANG_C99': 'c99',
         'DW_LANG_C11': 'c11', 'DW_LANG_C17': 'c17'}
LANG_CODES = {'DW_LANG_C_plus_plus': 0x4, 'DW_LANG_C_plus_plus_11': 0x1a,
              'DW_LANG_C_plus_plus_14': 0x21, 'DW_LANG_Rust': 0x1c, 'DW_LANG_Zig': 0x26,
              'DW_LANG_Mips_Assembler': 0x8001, 'DW_LANG_ObjC': 0x10}

# DWARF expression operations: name -> (opcode, operand kinds). u1/s1/u2/s2/u4/s4/u8/s8:
# fixed-size integers; uleb/sleb: LEB128; addr: 8 bytes; expr: a nested expression
# preceded by its uleb length; block: uleb length then that many bytes.
OPS = {
    'DW_OP_addr': (0x03, ['addr']), 'DW_OP_deref': (0x06, []),
    'DW_OP_const1u': (0x08, ['u1']), 'DW_OP_const1s': (0x09, ['s1']),
    'DW_OP_const2u': (0x0a, ['u2']), 'DW_OP_const2s': (0x0b, ['s2']),
    'DW_OP_const4u': (0x0c, ['u4']), 'DW_OP_const4s': (0x0d, ['s4']),
    'DW_OP_const8u': (0x0e, ['u8']), 'DW_OP_const8s': (0x0f, ['s8']),
    'DW_OP_constu': (0x10, ['uleb']), 'DW_OP_consts': (0x11, ['sleb']),
    'DW_OP_dup': (0x12, []), 'DW_OP_drop': (0x13, []), 'DW_OP_over': (0x14, []),
    'DW_OP_pick': (0x15, ['u1']), 'DW_OP_swap': (0x16, []), 'DW_OP_rot': (0x17, []),
    'DW_OP_xderef': (0x18, []), 'DW_OP_abs': (0x19, []), 'DW_OP_and': (0x1a, []),
    'DW_OP_div': (0x1b, []), 'DW_OP_minus': (0x1c, []), 'DW_OP_mod': (0x1d, []),
    'DW_OP_mul': (0x1e, []), 'DW_OP_neg': (0x1f, []), 'DW_OP_not': (0x20, []),
    'DW_OP_or': (0x21, []), 'DW_OP_plus': (0x22, []),
    'DW_OP_plus_uconst': (0x23, ['uleb']), 'DW_OP_shl': (0x24, []),
    'DW_OP_shr': (0x25, []), 'DW_OP_shra': (0x26, []), 'DW_OP_xor': (0x27, []),
    'DW_OP_bra': (0x28, ['s2']), 'DW_OP_eq': (0x29, []), 'DW_OP_ge': (0x2a, []),
    'DW_OP_gt': (0x2b, []), 'DW_OP_le': (0x2c, []), 'DW_OP_lt': (0x2d, []),
    'DW_OP_ne': (0x2e, []), 'DW_OP_skip': (0x2f, ['s2']),
    'DW_OP_regx': (0x90, ['reg']), 'DW_OP_fbreg': (0x91, ['sleb']),
    'DW_OP_bregx': (0x92, ['regoff']), 'DW_OP_piece': (0x93, ['uleb']),
    'DW_OP_deref_size': (0x94, ['u1']), 'DW_OP_nop': (0x96, []),
    'DW_OP_push_object_address': (0x97, []), 'DW_OP_form_tls_address': (0x9b, []),
    'DW_OP_call_frame_cfa': (0x9c, []), 'DW_OP_bit_piece': (0x9d, ['uleb', 'uleb']),
    'DW_OP_implicit_value': (0x9e, ['block']), 'DW_OP_stack_value': (0x9f, []),
    'DW_OP_entry_value': (0xa3, ['expr']), 'DW_OP_GNU_entry_value': (0xf3, ['expr']),
}
for _n in range(32):
    OPS['DW_OP_lit%d' % _n] = (0x30 + _n, [])
    OPS['DW_OP_reg%d' % _n] = (0x50 + _n, ['name'])
    OPS['DW_OP_breg%d' % _n] = (0x70 + _n, ['nameoff'])


class FeedError(Exception):
    pass


def uleb(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def sleb(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        if (v == 0 and not b & 0x40) or (v == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def reg_number(name):
    """The DWARF number of a register as llvm-dwarfdump names it (the operand of
    DW_OP_regx/bregx, so only registers numbered 32 and up matter)."""
    if re.fullmatch(r'\d+', name):
        return int(name)
    m = re.fullmatch(r'[BHSDQV](\d+)', name)   # arm64 SIMD and floating point: v0 is 64
    if m:
        return 64 + int(m.group(1))
    m = re.fullmatch(r'[WX](\d+)', name)
    if m:
        return int(m.group(1))
    m = re.fullmatch(r'XMM(\d+)', name)        # x86_64: xmm0 is 17
    if m:
        return 17 + int(m.group(1))
    x86 = ['RAX', 'RDX', 'RCX', 'RBX', 'RSI', 'RDI', 'RBP', 'RSP']
    if name in x86:
        return x86.index(name)
    m = re.fullmatch(r'R(\d+)', name)
    if m:
        return int(m.group(1))
    raise FeedError('unknown register %s' % name)


def split_ops(text):
    """Splits "DW_OP_a x, DW_OP_b(DW_OP_c y)" at the commas outside parentheses."""
    out, depth, cur = [], 0, ''
    for ch in text:
        if ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
            continue
        depth += ch == '('
        depth -= ch == ')'
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def assemble(text):
    """The bytes of a DWARF expression printed by llvm-dwarfdump."""
    out = bytearray()
    for op in split_ops(text):
        m = re.match(r'^(DW_OP_\w+)\s*(?:\((.*)\)$)?(.*)$', op)
        name, nested, rest = m.group(1), m.group(2), m.group(3).split()
        if name not in OPS:
            raise FeedError('unknown expression operation %s' % name)
        code, kinds = OPS[name]
        out.append(code)
        for k in kinds:
            if k == 'expr':
                sub = assemble(nested)
                out += uleb(len(sub)) + sub
                continue
            if k == 'name':
                rest.pop(0) if rest else None
                continue
            v = rest.pop(0)
            if k in ('nameoff', 'regoff'):
                r, off = re.fullmatch(r'(\w*?)([+-]\d+)', v).groups()
                if k == 'regoff':
                    out += uleb(reg_number(r))
                out += sleb(int(off))
            elif k == 'reg':
                out += uleb(reg_number(v))
            elif k == 'uleb':
                out += uleb(int(v, 0))
            elif k == 'sleb':
                out += sleb(int(v, 0))
            elif k == 'addr':
                out += int(v, 0).to_bytes(8, 'little')
            elif k == 'block':
                data = [int(b, 0) for b in rest]
                rest = []
                out += uleb(int(v, 0)) + bytes(data)
            else:
                n = int(k[1])
                out += (int(v, 0) & ((1 << 8 * n) - 1)).to_bytes(n, 'little')
    return bytes(out)


def one_loc(expr, in_list):
    """The protocol's LOC for one DWARF expression (printed by llvm-dwarfdump)."""
    e = expr.strip()
    m = re.fullmatch(r'DW_OP_fbreg ([+-]?\d+)', e)
    if m:
        return 'fb%+d' % int(m.group(1))
    m = re.fullmatch(r'DW_OP_reg(\d+) \S+', e)
    if m:
        return 'r%d' % int(m.group(1))
    m = re.fullmatch(r'DW_OP_regx (\S+)', e)
    if m:
        return 'r%d' % reg_number(m.group(1))
    m = re.fullmatch(r'DW_OP_breg(\d+) \w*?([+-]\d+)', e)
    if m:
        return 'b%d%+d' % (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r'DW_OP_bregx (\w*?)([+-]\d+)', e)
    if m:
        return 'b%d%+d' % (reg_number(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r'DW_OP_addr (0x[0-9a-f]+)', e)
    if m:
        return 'a0x%x' % int(m.group(1), 16)
    m = re.fullmatch(r'DW_OP_consts ([+-]?\d+), DW_OP_stack_value', e)
    if m and in_list:
        return 'k%d' % int(m.group(1))
    return 'x' + assemble(e).hex()


def location(attrs, low):
    """The LOC of a DIE's DW_AT_location or DW_AT_const_value ('' for none); list offsets
    are from low."""
    if 'DW_AT_const_value' in attrs:
        v = attrs['DW_AT_const_value']
        if re.fullmatch(r'[+-]?\d+', v):
            return 'k%d' % int(v)
        return ''   # a block constant (a double, a struct): no LOC says it
    v = attrs.get('DW_AT_location')
    if v is None or not v.strip():
        return ''
    m = re.match(r'^0x[0-9a-f]+:\s*(.*)$', v, re.S)
    if not m:
        return one_loc(v, False)
    entries = []
    for a, b, expr in re.findall(r'\[(0x[0-9a-f]+), (0x[0-9a-f]+)\): (.*)', m.group(1)):
        a, b = int(a, 16), int(b, 16)
        if a == b:
            continue
        entries.append('0x%x..0x%x@%s' % (a - low, b - low, one_loc(expr, True)))
    return ';'.join(entries)


def pc_ranges(attrs, low):
    """A block's RANGES ("FROM..TO+..."), offsets from low; None if it has no code."""
    if 'DW_AT_low_pc' in attrs:
        a = int(attrs['DW_AT_low_pc'], 16)
        h = attrs['DW_AT_high_pc']
        b = int(h, 16) if h.startswith('0x') and len(h) > 12 else a + int(h, 0)
        return '0x%x..0x%x' % (a - low, b - low)
    if 'DW_AT_ranges' in attrs:
        rs = ['0x%x..0x%x' % (int(a, 16) - low, int(b, 16) - low) for a, b in
              re.findall(r'\[(0x[0-9a-f]+), (0x[0-9a-f]+)\)', attrs['DW_AT_ranges'])
              if a != b]
        return '+'.join(rs) or None
    return None


def const_int(v, signed, size):
    """An enumerator's value: a decimal, or a block (<0xN> bytes, little-endian)."""
    if re.fullmatch(r'[+-]?\d+', v):
        return int(v)
    data = [int(b, 16) for b in re.sub(r'^<0x[0-9a-f]+>', '', v).split()]
    n = int.from_bytes(bytes(data), 'little')
    if signed and data and data[-1] & 0x80:
        n -= 1 << (8 * len(data))
    return n


def value_text(n):
    return '%d' % n if -(1 << 63) <= n < (1 << 63) else ('0x%x' % n if n > 0 else '%d' % n)


def hexv(v):
    return '0x%x' % v


def describe_rich(dwarf, dwarfdump='llvm-dwarfdump-16', ids_by_name=False):
    """Like describe(), with every kind of type, globals and the rich fn fields; functions
    inlined somewhere (DW_AT_inline) also become `abstract` fn records."""
    units, tables = read_dwarf(dwarf, dwarfdump)
    d = Description()
    d.globals = {}
    out = d.out
    file_ids = {}
    langs = {}

    def file_id(path, lang=None):
        if path not in file_ids:
            fid = stable_id('file', path) if ids_by_name else len(file_ids) + 1
            file_ids[path] = fid
            line = 'file %d path=%s' % (fid, quote(path))
            if lang:
                line += ' lang=%s' % lang
            out.append(line)
            d.files[fid] = line
            d.paths[fid] = path
        return file_ids[path]

    dies, parent, unit_of = {}, {}, {}

    def index(die, up, unit):
        dies[die['off']] = die
        parent[die['off']] = up
        unit_of[die['off']] = unit
        for c in die['children']:
            index(c, die, unit)
    for u in units:
        index(u, None, u)

    def attr_str(a, k):
        return string_value(a[k]) if k in a else None

    def part(a):
        """The name of a member, enumerator, parameter or variable: one field of a
        colon-separated item of a comma-separated list."""
        n = attr_str(a, 'DW_AT_name') or ''
        if re.search(r'[:,\s]', n):
            raise FeedError('the name %r cannot be sent (it has a ":", "," or a space)' % n)
        return n

    def decl(a, unit_name):
        """' file=F line=L' of a declaration, '' without a decl_file."""
        if 'DW_AT_decl_file' not in a:
            return ''
        path = string_value(a['DW_AT_decl_file'])
        if ids_by_name:
            path = os.path.normpath(path)
        return ' file=%d line=%d' % (file_id(path), int(a.get('DW_AT_decl_line', '0'), 0))

    type_ids = {}
    ordinal = {}

    def type_id(off):
        """The id of the type DIE at off (0: void or a kind the protocol lacks), its line
        written when first seen; a type may refer to later ones, so cycles are fine."""
        if off is None or off not in dies or dies[off]['tag'] not in RICH_TYPE_TAGS:
            return 0
        if dies[off]['attrs'].get('DW_AT_name') == '"__ARRAY_SIZE_TYPE__"':
            return 0   # clang's index type of subranges: the encoder makes its own
        if off in type_ids:
            return type_ids[off]
        die = dies[off]
        a = die['attrs']
        name = attr_str(a, 'DW_AT_name')
        unit = unit_of[off]
        if ids_by_name:
            # Named by what it is and where: the nth DIE of that tag, name and line in its
            # unit, so a rebuild that does not change a type keeps its id.
            k = (string_value(unit['attrs'].get('DW_AT_name', '')), die['tag'], name or '',
                 a.get('DW_AT_decl_line', ''))
            ordinal[k] = ordinal.get(k, 0) + 1
            tid = stable_id('type', *k, str(ordinal[k]))
        else:
            tid = len(type_ids) + 1
        type_ids[off] = tid
        unit_name = string_value(unit['attrs'].get('DW_AT_name', ''))
        tag = die['tag']
        ref = lambda k: type_id(ref_value(a[k])) if k in a else 0   # noqa: E731
        line = 'type %d' % tid
        if tag == 'DW_TAG_base_type':
            enc = ENCODINGS.get(a.get('DW_AT_encoding'), 'signed')
            line += ' kind=base name=%s size=%d enc=%s' % (
                quote(name), int(a.get('DW_AT_byte_size', '0'), 0), enc)
        else:
            kind = KINDS[tag]
            line += ' kind=%s' % kind
            if name:
                line += ' name=%s' % quote(name)
            if kind in ('struct', 'union') and a.get('DW_AT_declaration') == 'true':
                line += ' decl'
            elif kind in ('struct', 'union', 'enum'):
                line += ' size=%d' % int(a.get('DW_AT_byte_size', '0'), 0)
                if kind == 'enum' and 'DW_AT_type' in a:
                    line += ' to=%d' % ref('DW_AT_type')
                line += decl(a, unit_name)
                up = parent[off]
                if up is not None and up['tag'] in ('DW_TAG_structure_type',
                                                    'DW_TAG_union_type'):
                    line += ' scope=%d' % type_id(up['off'])
                if kind == 'enum':
                    ut = dies.get(ref_value(a.get('DW_AT_type', '')))
                    signed = ut is None or 'unsigned' not in ut['attrs'].get(
                        'DW_AT_encoding', '')
                    size = int(a.get('DW_AT_byte_size', '0'), 0)
                    ens = ['%s:%s' % (part(c['attrs']), value_text(
                        const_int(c['attrs']['DW_AT_const_value'], signed, size)))
                        for c in die['children'] if c['tag'] == 'DW_TAG_enumerator']
                    if ens:
                        line += ' enumerators=%s' % quote(','.join(ens))
                else:
                    ms = [member(c) for c in die['children'] if c['tag'] == 'DW_TAG_member']
                    if ms:
                        line += ' members=%s' % quote(','.join(ms))
                    for c in die['children']:
                        type_id(c['off'])   # nested types (scope=) even if unreferenced
            elif kind == 'array':
                dims = []
                for c in die['children']:
                    if c['tag'] != 'DW_TAG_subrange_type':
                        continue
                    ca = c['attrs']
                    if 'DW_AT_count' in ca:
                        dims.append(str(int(ca['DW_AT_count'], 0)))
                    elif 'DW_AT_upper_bound' in ca:
                        dims.append(str(int(ca['DW_AT_upper_bound'], 0) + 1))
                    else:
                        dims.append('-')
                line += ' to=%d dims=%s' % (ref('DW_AT_type'), ','.join(dims))
            elif kind == 'func':
                if 'DW_AT_type' in a:
                    line += ' ret=%d' % ref('DW_AT_type')
                ps = [str(type_id(ref_value(c['attrs'].get('DW_AT_type', ''))))
                      for c in die['children'] if c['tag'] == 'DW_TAG_formal_parameter']
                if ps:
                    line += ' params=%s' % ','.join(ps)
                if a.get('DW_AT_prototyped') != 'true':
                    line += ' unprototyped'
                elif any(c['tag'] == 'DW_TAG_unspecified_parameters'
                         for c in die['children']):
                    line += ' variadic'
            else:
                line += ' to=%d' % ref('DW_AT_type')
                if kind == 'typedef':
                    line += decl(a, unit_name)
        if 'DW_AT_alignment' in a:
            line += ' align=%d' % int(a['DW_AT_alignment'], 0)
        d.types[tid] = line
        out.append(line)
        return tid

    def member_loc(ca):
        # DWARF 2 and 3 may give the offset as an expression: DW_OP_plus_uconst N.
        v = ca.get('DW_AT_data_member_location', '0')
        m = re.fullmatch(r'DW_OP_plus_uconst (\w+)', v)
        return int(m.group(1) if m else v, 0)

    def member(c):
        ca = c['attrs']
        name = part(ca)
        t = type_id(ref_value(ca.get('DW_AT_type', '')))
        if 'DW_AT_bit_size' not in ca:
            return '%s:%d:%d' % (name, t, member_loc(ca))
        bits = int(ca['DW_AT_bit_size'], 0)
        if 'DW_AT_data_bit_offset' in ca:
            dbo = int(ca['DW_AT_data_bit_offset'], 0)
        else:
            # DWARF 2: bit_offset counts from the storage unit's most significant bit.
            unit_bytes = int(ca['DW_AT_byte_size'], 0)
            dbo = (member_loc(ca) * 8 + unit_bytes * 8 -
                   int(ca['DW_AT_bit_offset'], 0) - bits)
        td = dies.get(ref_value(ca.get('DW_AT_type', '')))
        while td is not None and 'DW_AT_byte_size' not in td['attrs'] and \
                'DW_AT_type' in td['attrs']:
            td = dies.get(ref_value(td['attrs']['DW_AT_type']))
        size = int(td['attrs'].get('DW_AT_byte_size', '1'), 0) if td else 1
        # The byte offset of the storage unit that holds it, so OFF plus the member
        # type's size stays inside the struct.
        off = dbo // (size * 8) * size
        return '%s:%d:%d:%d:%d' % (name, t, off, bits, dbo - off * 8)

    # Every subprogram that gets a record, by DIE offset -> fn id: code first, in order.
    subs = []
    for cu in units:
        for die in cu['children']:
            if die['tag'] == 'DW_TAG_subprogram' and (
                    'DW_AT_low_pc' in die['attrs'] or 'DW_AT_inline' in die['attrs']):
                subs.append((cu, die))
    fn_ids = {}

    def origin_of(die):
        o = dies.get(ref_value(die['attrs'].get('DW_AT_abstract_origin', '')))
        return o if o is not None else die

    def fa_get(die, k):
        """An attribute of a DIE or of its abstract origin."""
        a = die['attrs']
        return a[k] if k in a else origin_of(die)['attrs'].get(k)

    def glob(die, cu_file, cu_name):
        a = die['attrs']
        m = re.fullmatch(r'DW_OP_addr (0x[0-9a-f]+)', a.get('DW_AT_location', ''))
        if not m or 'DW_AT_name' not in a:
            return   # a declaration, or a constant folded into DW_AT_const_value
        name = attr_str(a, 'DW_AT_name')
        t = type_id(ref_value(a.get('DW_AT_type', '')))
        gid = stable_id('global', name, cu_name) if ids_by_name else len(d.globals) + 1
        where = decl(a, cu_name) or ' file=%d line=0' % cu_file
        line = 'global %d name=%s type=%d addr=0x%x%s' % (gid, quote(name), t,
                                                           int(m.group(1), 16), where)
        if int(where.split()[0][5:]) != cu_file:
            line += ' cu=%d' % cu_file
        if a.get('DW_AT_external') == 'true':
            line += ' ext'
        if 'DW_AT_linkage_name' in a:
            line += ' linkage=%s' % quote(attr_str(a, 'DW_AT_linkage_name'))
        if gid in d.globals:
            d.dups.append(gid)
        d.globals[gid] = line
        out.append(line)

    def joined(parts, keep):
        """NAME:TYPE:... with empty trailing optional parts dropped (keep: always kept)."""
        while len(parts) > keep and parts[-1] in ('', 0):
            parts.pop()
        return ':'.join(str(p) for p in parts)

    def rich_fn(die, cu_file, cu_name, table, paths):
        fa = die['attrs']
        abstract = 'DW_AT_low_pc' not in fa
        name = string_value(fa_get(die, 'DW_AT_name'))
        decl_path = string_value(fa_get(die, 'DW_AT_decl_file') or '"%s"' % cu_name)
        if ids_by_name:
            decl_path = os.path.normpath(decl_path)
        fid = file_id(decl_path)
        ret = type_id(ref_value(fa_get(die, 'DW_AT_type') or ''))
        low = high = 0
        if not abstract:
            low = int(fa['DW_AT_low_pc'], 16)
            high = fa['DW_AT_high_pc']
            high = int(high, 16) if high.startswith('0x') and len(high) > 12 else \
                low + int(high, 0)
        params, vars_, blocks = [], [], []

        def var(c, block, inl):
            o = origin_of(c)
            vname = part(o['attrs'])
            if not vname:
                return
            t = 0 if inl is not None and o is not c else \
                type_id(ref_value(o['attrs'].get('DW_AT_type', '')))
            loc = '' if abstract else location(c['attrs'], low)
            vars_.append(joined([vname, t, loc, int(o['attrs'].get('DW_AT_decl_line', '0'), 0),
                                 block], 3))

        def walk(children, block, inl):
            for c in children:
                tag = c['tag']
                if tag == 'DW_TAG_variable' or (tag == 'DW_TAG_formal_parameter' and
                                                 inl is not None):
                    var(c, block, inl)
                elif tag == 'DW_TAG_lexical_block':
                    r = None if abstract else pc_ranges(c['attrs'], low)
                    if r is None:
                        walk(c['children'], block, inl)
                        continue
                    blocks.append('%s:%d' % (r, block))
                    walk(c['children'], len(blocks), inl)
                elif tag == 'DW_TAG_inlined_subroutine' and not abstract:
                    ca = c['attrs']
                    org = dies.get(ref_value(ca.get('DW_AT_abstract_origin', '')))
                    if org is None or org['off'] not in fn_ids:
                        raise FeedError('inlined call at 0x%x of no known function' % c['off'])
                    r = pc_ranges(ca, low)
                    if r is None:
                        continue
                    cf = file_id(os.path.normpath(string_value(ca['DW_AT_call_file']))
                                 if ids_by_name else string_value(ca['DW_AT_call_file']))
                    b = '%s:%d:%d:%d:%d' % (r, block, fn_ids[org['off']], cf,
                                            int(ca.get('DW_AT_call_line', '0'), 0))
                    if 'DW_AT_call_column' in ca:
                        b += ':%d' % int(ca['DW_AT_call_column'], 0)
                    blocks.append(b)
                    walk(c['children'], len(blocks), org)

        for c in die['children']:
            if c['tag'] == 'DW_TAG_formal_parameter':
                o = origin_of(c)
                pt = type_id(ref_value(o['attrs'].get('DW_AT_type', '')))
                loc = '' if abstract else location(c['attrs'], low)
                params.append(joined([part(o['attrs']), pt, loc,
                                      int(o['attrs'].get('DW_AT_decl_line', '0'), 0)], 2))
        walk(die['children'], 0, None)

        extra = []
        if fa_get(die, 'DW_AT_linkage_name'):
            extra.append('linkage=%s' % quote(string_value(fa_get(die, 'DW_AT_linkage_name'))))
        if 'DW_AT_frame_base' in fa:
            extra.append('frame_base=%s' % one_loc(fa['DW_AT_frame_base'], False))
        if vars_:
            extra.append('vars=%s' % quote(','.join(vars_)))
        if blocks:
            extra.append('blocks=%s' % ','.join(blocks))
        kids = die['children'] + origin_of(die)['children']
        if fa_get(die, 'DW_AT_prototyped') != 'true':
            extra.append('unprototyped')
        elif any(c['tag'] == 'DW_TAG_unspecified_parameters' for c in kids):
            extra.append('variadic')
        if fa_get(die, 'DW_AT_APPLE_optimized') == 'true':
            extra.append('optimized')
        if fa_get(die, 'DW_AT_noreturn') == 'true':
            extra.append('noreturn')

        rows = []
        for r in table['rows'] if not abstract else []:
            if low <= r['addr'] < high and 'end_sequence' not in r['flags']:
                flags = ''.join(f for f, k in (('s', 'is_stmt'), ('p', 'prologue_end'),
                                               ('e', 'epilogue_begin')) if k in r['flags'])
                rp = paths.get(r['file'], decl_path)
                rf = file_id(os.path.normpath(rp) if ids_by_name else rp)
                rows.append([r['addr'] - low, r['line'], r['col'], flags,
                             0 if rf == fid else rf])
        return Fn(id=fn_ids[die['off']], name=name, low=low, size=high - low, file=fid,
                  line=int(fa_get(die, 'DW_AT_decl_line') or '0', 0),
                  cu=cu_file if cu_file != fid else 0, ret=ret, params=','.join(params),
                  extra=' '.join(extra), abstract=abstract, rows=rows)

    nfn = 0
    for cu, die in subs:
        nfn += 1
        if ids_by_name:
            name = string_value(fa_get(die, 'DW_AT_name') or '')
            ab = 'abstract' if 'DW_AT_low_pc' not in die['attrs'] else ''
            fn_ids[die['off']] = stable_id('fn', name, string_value(
                fa_get(die, 'DW_AT_decl_file') or ''),
                string_value(cu['attrs'].get('DW_AT_name', '')), ab)
        else:
            fn_ids[die['off']] = nfn

    for cu in units:
        if cu['tag'] != 'DW_TAG_compile_unit':
            continue
        a = cu['attrs']
        comp_dir = string_value(a.get('DW_AT_comp_dir', '""'))
        cu_name = resolve(comp_dir, [], string_value(a['DW_AT_name']), 0)
        table = tables.get(ref_value(a.get('DW_AT_stmt_list', '0x0')),
                           {'files': {}, 'dirs': [], 'rows': []})
        paths = {i: resolve(comp_dir, table['dirs'], n, di)
                 for i, (n, di) in table['files'].items()}
        lang = a.get('DW_AT_language', 'DW_LANG_C99')
        if lang in LANGS:
            lang = LANGS[lang]
        elif lang in LANG_CODES:
            lang = str(LANG_CODES[lang])
        else:
            raise FeedError('unknown language %s of %s' % (lang, cu_name))
        cu_file = file_id(cu_name, lang)
        if d.files[cu_file].find(' lang=') < 0:
            raise FeedError('%s heads a unit but was first seen as a header' % cu_name)
        for die in cu['children']:
            if die['tag'] in RICH_TYPE_TAGS:
                type_id(die['off'])
            elif die['tag'] == 'DW_TAG_variable':
                glob(die, cu_file, cu_name)
            elif die['off'] in fn_ids:
                fn = rich_fn(die, cu_file, cu_name, table, paths)
                if fn.id in d.fns:
                    d.dups.append(fn.id)
                d.fns[fn.id] = fn
                d.order.append(fn.id)
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
    if (o.name, o.size, o.file, o.cu, o.ret, o.params, o.extra, o.abstract, len(o.rows)) != \
       (n.name, n.size, n.file, n.cu, n.ret, n.params, n.extra, n.abstract, len(n.rows)):
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
    ap.add_argument('--rich', action='store_true',
                    help='describe every type, global, variable, block and inlined call')
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
    if args.rich and args.since:
        ap.error('--rich does not take --since')
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
        try:
            d = (describe_rich if args.rich else describe)(args.dwarf, args.dwarfdump,
                                                             args.ids_by_name)
        except FeedError as e:
            sys.exit('dwarf2ctl: %s' % e)
        if d.dups:
            sys.exit('dwarf2ctl: two records share id %d' % d.dups[0])
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
