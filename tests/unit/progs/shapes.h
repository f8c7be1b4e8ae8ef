/* Shared by the render suite's test program: typedefs, prototypes, and a static inline
 * function that both main.c and text.c use, so it is compiled into two units and its
 * rows live in this header. Only base, pointer, const and typedef types appear in
 * function signatures (dwarf2ctl.py drops the other kinds). */
#ifndef SHAPES_H
#define SHAPES_H

typedef unsigned long usize;
typedef const char *cstr;
typedef int counter_t;

static inline int clamp_int(int v, int lo, int hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

int one(void);
int sum_to(int n);
long long poly(long long x,
	       long long a,
	       long long b,
	       long long c);
double scale(const double *p, float f);
_Bool is_even(long long v);
unsigned char low_byte(unsigned int v);
signed char negate_sc(signed char c);
unsigned short widen(unsigned char a, unsigned char b);
usize count_char(cstr s, const char c);
usize str_len(const char *s);
void fill(unsigned char *dst, usize n, unsigned char v);
const void *advance(const void *p, usize n);
void *as_mut(const void *p);
counter_t tally(const counter_t *vals, usize n, counter_t limit);
void tick(void);
int bump(void);

#endif
