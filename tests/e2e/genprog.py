#!/usr/bin/env python3
"""Generates the big test program of the edit-loop scenario, at any of its versions.

    genprog.py [--files N] [--per-file K] [--seed S] VERSION OUTDIR

Writes OUTDIR/gen.h, OUTDIR/fNN.c (N files, about K functions each) and OUTDIR/main.c as
they are at VERSION (1..4). The program is freestanding C (no libc, entry `void
_start(void)`) and uses only base, pointer, const and typedef types in signatures.

Version 1 is a deterministic function of the seed. Each later version is the one before
with a developer's edits applied to the model (see EDITS): a body that grows or shrinks
(every later function moves to a new address), lines inserted or removed above a function
(only line numbers move), a function added, deleted or renamed, a function moved to
another place in its file, a signature changed, the header edited above its static inline
functions (their copies in every unit shift lines).

Shapes: one-liners, short and long bodies, multi-line signatures, static functions whose
names repeat in every file (`static long step(...)`), and two `static inline` functions
in gen.h used by every unit. Every static function is called (by its file's entry
function) so the compiler emits it; _start calls every entry function.
"""
import argparse
import os
import random

TYPES = [  # (spelling, kind) kind: i integer, f floating, p pointer, b bool
    ('int', 'i'), ('long', 'i'), ('unsigned', 'i'), ('short', 'i'), ('char', 'i'),
    ('unsigned char', 'i'), ('long long', 'i'), ('unsigned long', 'i'), ('count_t', 'i'),
    ('usize', 'i'), ('double', 'f'), ('float', 'f'), ('_Bool', 'b'),
    ('const char *', 'p'), ('char *', 'p'), ('const int *', 'p'), ('void *', 'p'),
    ('cstr', 'p'), ('const count_t *', 'p'), ('const double *', 'p'),
]
RET_TYPES = [t for t in TYPES if t[1] != 'p'] + [('void', 'v')] * 3 + [('const char *', 'p')]

HEADER_TOP = """\
/* gen.h: shared by every unit of the generated program. */
#ifndef GEN_H
#define GEN_H

typedef unsigned long usize;
typedef const char *cstr;
typedef int count_t;
"""

INLINES = """\
static inline long mix(long a, long b)
{
	long r = a * 31 + b;
	if (r < 0)
		r = -r;
	return r ^ (a >> 3);
}

static inline int clampi(int v,
			 int lo,
			 int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}
"""


class Fn:
    def __init__(self, name, static, ret, params, body, multiline=False, pad=1, comment=None):
        self.name = name
        self.static = static
        self.ret = ret          # (spelling, kind)
        self.params = params    # [(name, (spelling, kind))]
        self.body = body        # list of statement lines (without indentation)
        self.multiline = multiline
        self.pad = pad          # blank lines before
        self.comment = comment  # list of comment lines above, or None

    def signature(self):
        head = ('static ' if self.static else '') + self.ret[0]
        head += '' if head.endswith('*') else ' '
        head += self.name + '('
        if not self.params:
            return [head + 'void)']
        ps = [t[0] + ('' if t[0].endswith('*') else ' ') + n for n, t in self.params]
        if not self.multiline:
            return [head + ', '.join(ps) + ')']
        out = [head + ps[0] + ',']
        ind = '\t' + ' ' * max(0, len(head) - 8)
        for p in ps[1:-1]:
            out.append(ind + p + ',')
        out.append(ind + ps[-1] + ')')
        return out

    def prototype(self):
        sig = self.signature()
        return ' '.join(s.strip() for s in sig) + ';'

    def render(self):
        out = [''] * self.pad
        if self.comment:
            out += self.comment
        sig = self.signature()
        if len(self.body) == 1 and not self.multiline and len(sig[0]) + len(self.body[0]) < 90:
            out.append(sig[0] + ' { ' + self.body[0] + ' }')
            return out
        out += sig
        out.append('{')
        depth = 1
        for s in self.body:
            if s.startswith('}'):
                depth -= 1
            out.append('\t' * depth + s)
            if s.endswith('{'):
                depth += 1
        out.append('}')
        return out


def init_expr(params):
    terms = []
    for n, (t, k) in params:
        if k == 'p':
            terms.append('(%s != 0)' % n)
        else:
            terms.append('(long)%s' % n)
    return ' + '.join(terms) if terms else '1'


def ret_stmt(ret):
    t, k = ret
    if k == 'v':
        return 'sink = acc;'
    if k == 'p':
        return 'return acc ? "odd" : "even";'
    return 'return (%s)acc;' % t


def statements(rng, n, params):
    ints = [p for p, (t, k) in params if k == 'i']
    out = []
    for i in range(n):
        c = rng.randrange(8)
        k = rng.randrange(2, 97)
        if c == 0:
            out.append('acc = acc * %d + %d;' % (k, rng.randrange(1000)))
        elif c == 1:
            out += ['if (acc > %d)' % (k * 10), '\tacc -= %d;' % k]
        elif c == 2:
            out += ['for (int i%d = 0; i%d < %d; i%d++) {' % (i, i, k % 9 + 1, i),
                    'acc += i%d ^ %d;' % (i, k), 'acc = mix(acc, i%d);' % i, '}']
        elif c == 3:
            out.append('acc = mix(acc, %d);' % k)
        elif c == 4 and ints:
            out.append('acc += (long)%s * %d;' % (rng.choice(ints), k))
        elif c == 5:
            out += ['long t%d = acc >> %d;' % (i, k % 7 + 1), 'acc ^= t%d;' % i]
        elif c == 6:
            out.append('acc = clampi((int)acc, -%d, %d);' % (k * 100, k * 1000))
        else:
            out += ['while (acc > %d) {' % (k * 1000), 'acc /= %d;' % (k % 5 + 2), '}']
    return out


def make_fn(rng, name, static, shape):
    nparams = {'one': rng.randrange(0, 3), 'short': rng.randrange(0, 4),
               'long': rng.randrange(1, 5), 'multi': rng.randrange(3, 7)}[shape]
    params = [('p%d' % i, rng.choice(TYPES)) for i in range(nparams)]
    ret = rng.choice(RET_TYPES)
    if shape == 'one':
        if ret[1] == 'v':
            ret = ('int', 'i')
        if ret[1] == 'p':
            body = ['return %s ? "yes" : "no";' % (params[0][0] if params else '1')]
        else:
            body = ['return (%s)(%s) + %d;' % (ret[0], init_expr(params), rng.randrange(100))]
        return Fn(name, static, ret, params, body)
    n = {'short': rng.randrange(1, 4), 'long': rng.randrange(8, 16),
         'multi': rng.randrange(2, 6)}[shape]
    body = ['long acc = %s;' % init_expr(params)] + statements(rng, n, params) + [ret_stmt(ret)]
    return Fn(name, static, ret, params, body, multiline=(shape == 'multi'),
              pad=rng.choice([1, 1, 1, 2]),
              comment=['/* %s: %s */' % (name, shape)] if rng.random() < 0.3 else None)


class Program:
    """A model of the program: units in link order, each a list of Fn."""

    def __init__(self, nfiles, per_file, seed):
        rng = random.Random(seed)
        self.rng = rng
        self.header_pad = 0           # blank lines added above the inline functions
        self.units = []
        self.counter = 0
        for u in range(nfiles):
            fns = []
            for j in range(per_file):
                shape = rng.choice(['one', 'one', 'short', 'short', 'short', 'long', 'multi'])
                static = rng.random() < 0.2
                name = self.fresh('s' if static else 'f%02d' % u)
                fns.append(make_fn(rng, name, static, shape))
            # A static function with the same name in every unit.
            fns.insert(per_file // 2, make_fn(rng, 'step', True, 'short'))
            self.units.append(fns)

    def fresh(self, prefix):
        self.counter += 1
        return '%s_%04d' % (prefix, self.counter)

    def unit_name(self, u):
        return 'f%02d.c' % u

    # -- rendering -----------------------------------------------------------------
    def render_unit(self, u):
        fns = self.units[u]
        out = ['/* %s: generated by genprog.py */' % self.unit_name(u), '#include "gen.h"', '',
               'static long sink;']
        for f in fns:
            out += f.render()
        # The entry calls every static function, so each one is emitted.
        out += ['', 'long entry_%02d(long x)' % u, '{', '\tlong acc = x;']
        for f in fns:
            if not f.static:
                continue
            args = ', '.join('0' if t[1] == 'p' else str(i + 1)
                             for i, (n, t) in enumerate(f.params))
            call = '%s(%s)' % (f.name, args)
            if f.ret[1] == 'v':
                out.append('\t%s;' % call)
            elif f.ret[1] == 'p':
                out.append('\tacc += %s != 0;' % call)
            else:
                out.append('\tacc += (long)%s;' % call)
        out += ['\treturn acc + sink;', '}', '']
        return '\n'.join(out)

    def render_header(self):
        out = [HEADER_TOP] + [''] * self.header_pad + [INLINES]
        for u, fns in enumerate(self.units):
            out.append('long entry_%02d(long x);' % u)
            for f in fns:
                if not f.static:
                    out.append(f.prototype())
        out += ['', '#endif', '']
        return '\n'.join(out)

    def render_main(self):
        out = ['/* main.c: the entry point of the generated program. */', '#include "gen.h"',
               '', 'void _start(void)', '{', '\tvolatile long r = 0;']
        for u in range(len(self.units)):
            out.append('\tr += entry_%02d(%d);' % (u, u))
        out += ['\tfor (;;)', '\t\t;', '}', '']
        return '\n'.join(out)

    def write(self, outdir):
        os.makedirs(outdir, exist_ok=True)
        files = {'gen.h': self.render_header(), 'main.c': self.render_main()}
        for u in range(len(self.units)):
            files[self.unit_name(u)] = self.render_unit(u)
        for name, text in files.items():
            path = os.path.join(outdir, name)
            old = None
            if os.path.exists(path):
                with open(path) as f:
                    old = f.read()
            if old != text:  # like an editor: untouched files keep their mtime
                with open(path, 'w') as f:
                    f.write(text)
        return sorted(files)

    # -- edits ---------------------------------------------------------------------
    def find(self, u, static=None, shape_min=0):
        """A deterministic pick of a function of unit u (not `step`)."""
        cands = [i for i, f in enumerate(self.units[u]) if f.name != 'step'
                 and (static is None or f.static == static) and len(f.body) >= shape_min]
        return cands[len(cands) // 3]

    def grow(self, u, extra=3):
        f = self.units[u][self.find(u, shape_min=3)]
        f.body[-1:-1] = statements(self.rng, extra, f.params)

    def shrink(self, u):
        f = self.units[u][self.find(u, shape_min=8)]
        f.body = [f.body[0], 'acc = acc * 3 + 1;', f.body[-1]]

    def insert_lines(self, u, n, at=None):
        i = self.find(u) if at is None else at
        f = self.units[u][i]
        f.comment = (f.comment or []) + ['/* note %d */' % k for k in range(n)]

    def remove_lines(self, u):
        for f in self.units[u][len(self.units[u]) // 2:]:
            if f.pad > 1:
                f.pad = 1
                return
            if f.comment:
                f.comment = None
                return

    def add(self, u, where, shape='short', static=False):
        name = self.fresh('s' if static else 'n%02d' % u)
        self.units[u].insert(where, make_fn(self.rng, name, static, shape))
        return name

    def delete(self, u):
        del self.units[u][self.find(u, static=False)]

    def rename(self, u):
        f = self.units[u][self.find(u, static=False)]
        f.name = f.name + '_renamed'

    def move(self, u):
        fns = self.units[u]
        f = fns.pop(2)
        fns.insert(len(fns) - 3, f)

    def change_signature(self, u):
        f = self.units[u][self.find(u, static=False, shape_min=3)]
        f.params = f.params + [('extra', ('long', 'i'))]

    def edit_header(self, n):
        self.header_pad += n


def version(v, nfiles, per_file, seed):
    p = Program(nfiles, per_file, seed)
    n = nfiles
    if v >= 2:
        p.grow(1)                      # a body grows: later functions move
        p.insert_lines(0, 2)           # only line numbers move below it (f00 links
                                       # before the growing body: no address moves)
        p.insert_lines(3, 3)           # line numbers and addresses move
        p.add(5, len(p.units[5]) // 2)  # a new function in the middle of a unit
        p.delete(6 % n)
        p.rename(7 % n)
        p.move(n - 1)                  # code moved within a unit
    if v >= 3:
        p.shrink(2)                    # later functions move down (negative shift)
        p.remove_lines(4)              # negative line shift
        p.change_signature(0)
        p.edit_header(2)               # the inline functions' copies shift lines
        p.add(n - 2, len(p.units[n - 2]), 'long')
        p.add(n - 2, len(p.units[n - 2]), 'one', static=True)
    if v >= 4:
        for u in range(n):             # a license line on top of every unit
            p.insert_lines(u, 1, at=0)
        p.grow(0, 1)                   # and everything moves
        p.delete(3)
        p.rename(1)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--files', type=int, default=10)
    ap.add_argument('--per-file', type=int, default=220)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('version', type=int, choices=[1, 2, 3, 4])
    ap.add_argument('outdir')
    args = ap.parse_args()
    if args.files < 8:
        ap.error('--files must be at least 8')
    p = version(args.version, args.files, args.per_file, args.seed)
    for name in p.write(args.outdir):
        print(name)


if __name__ == '__main__':
    main()
