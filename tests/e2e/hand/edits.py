"""A developer's edits to the hand-written program, one list per version.

Each edit is (file, old text, new text[, count]): old must occur exactly `count` times
(default 1) in the file as the previous edits left it, and every occurrence is replaced.
Version N is version 1 (the .c and .h files next to this one) with the edits of versions
2..N applied in order.
"""

EDITS = {
    2: [
        # poly's body changes (new size, new rows): everything linked after it moves.
        ('calc.c', '\tr = r * x + c;\n\treturn r;\n',
         '\tr = r * x + c;\n\tif (r < 0)\n\t\tr = -r;\n\tr = r * x + a;\n\treturn r;\n'),
        # Lines inserted above count_char: only line numbers move below them.
        ('text.c', 'usize count_char(cstr s, char c)\n',
         '/*\n * Counts the occurrences of c in s.\n */\nusize count_char(cstr s, char c)\n'),
        # A new function.
        ('bits.c', '_Bool is_pow2(unsigned long v)',
         'int parity(unsigned long v)\n{\n\treturn popcount(v) & 1;\n}\n\n'
         '_Bool is_pow2(unsigned long v)'),
        ('util.h', '_Bool is_pow2(unsigned long v);',
         'int parity(unsigned long v);\n_Bool is_pow2(unsigned long v);'),
        ('bits.c', '\tr += is_pow2(v);\n', '\tr += is_pow2(v);\n\tr += parity(v);\n'),
        # A deleted function.
        ('bits.c', 'int unused_old(int x)\n{\n\tint y = x * 7;\n\n\ty ^= y >> 3;\n'
         '\treturn y + 1;\n}\n\n', ''),
        ('util.h', 'int unused_old(int x);\n', ''),
        # A renamed function (and its callers).
        ('text.c', 'str_len(', 'text_length(', 2),
        ('util.h', 'usize str_len(cstr s);', 'usize text_length(cstr s);'),
        # Code moved: reverse_bits goes from the top of bits.c to its end.
        ('bits.c', 'unsigned reverse_bits(unsigned v)\n{\n\tunsigned r = 0;\n\tint i;\n\n'
         '\tfor (i = 0; i < 32; i++) {\n\t\tr = (r << 1) | (v & 1);\n\t\tv >>= 1;\n\t}\n'
         '\treturn r;\n}\n\n', ''),
        ('bits.c', '\tr += clamp((int)min_size(v, 9), 0, 4);\n\treturn r;\n}\n',
         '\tr += clamp((int)min_size(v, 9), 0, 4);\n\treturn r;\n}\n\n'
         'unsigned reverse_bits(unsigned v)\n{\n\tunsigned r = 0;\n\tint i;\n\n'
         '\tfor (i = 0; i < 32; i++) {\n\t\tr = (r << 1) | (v & 1);\n\t\tv >>= 1;\n\t}\n'
         '\treturn r;\n}\n'),
    ],
    3: [
        # The header grows above its static inline functions: every unit's copy of
        # clamp and min_size shifts lines; nothing else in the units changes.
        ('util.h', '/* Compiled into every unit',
         '#define UTIL_VERSION 3\n\n/* Compiled into every unit'),
        # A body shrinks: later functions move down.
        ('calc.c', '\tlong a = 0, b = 1;\n\tint i;\n\n\tn = clamp(n, 0, 90);\n',
         '\tlong a = 0, b = 1;\n\tint i;\n\n'),
        # A signature changes.
        ('text.c', 'int starts_with(const char *s, const char *prefix)\n{\n',
         'int starts_with(const char *s,\n\t\tconst char *prefix,\n\t\tint strict)\n{\n'
         '\tif (strict && !*prefix)\n\t\treturn 0;\n'),
        ('text.c', 'starts_with(s, "ab")', 'starts_with(s, "ab", 1)'),
        ('util.h', 'int starts_with(const char *s, const char *prefix);',
         'int starts_with(const char *s, const char *prefix, int strict);'),
        # Lines removed above functions: negative line shifts.
        ('calc.c', '/* calc.c: arithmetic of many shapes. */\n', ''),
        ('text.c', '/*\n * Counts the occurrences of c in s.\n */\n', ''),
    ],
    4: [
        # A license line on top of every file: everything shifts by one line.
        ('calc.c', '#include "util.h"', '/* SPDX-License-Identifier: MIT */\n#include "util.h"'),
        ('text.c', '/* text.c', '/* SPDX-License-Identifier: MIT */\n/* text.c'),
        ('bits.c', '/* bits.c', '/* SPDX-License-Identifier: MIT */\n/* bits.c'),
        ('main.c', '/* main.c', '/* SPDX-License-Identifier: MIT */\n/* main.c'),
        # One of the two static helpers is renamed; the other keeps its name.
        ('text.c', 'helper(', 'abs_helper(', 2),
        # Two functions come, one goes.
        ('calc.c', 'unsigned gcd(unsigned a, unsigned b)',
         'int sub(int a, int b) { return a - b; }\n\n'
         'long lcm(unsigned a,\n\t unsigned b)\n{\n\tif (!a || !b)\n\t\treturn 0;\n'
         '\treturn (long)a / gcd(a, b) * b;\n}\n\nunsigned gcd(unsigned a, unsigned b)'),
        ('util.h', 'unsigned gcd(unsigned a, unsigned b);',
         'int sub(int a, int b);\nlong lcm(unsigned a, unsigned b);\n'
         'unsigned gcd(unsigned a, unsigned b);'),
        ('bits.c', 'signed char to_signed(unsigned char c) { return (signed char)c; }\n\n', ''),
        ('bits.c', '\tr += to_signed((unsigned char)v);\n', ''),
        ('util.h', 'signed char to_signed(unsigned char c);\n', ''),
    ],
}
