/* util.h: shared declarations of the hand-written test program. */
#ifndef UTIL_H
#define UTIL_H

typedef unsigned long usize;
typedef const char *cstr;
typedef long long wide_t;
typedef wide_t acc_t;

/* Compiled into every unit that calls it: one copy per unit, rows in this header. */
static inline int clamp(int v, int lo, int hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

static inline usize min_size(usize a, usize b) { return a < b ? a : b; }

/* calc.c */
int add(int a, int b);
acc_t poly(acc_t x,
	   acc_t a,
	   acc_t b,
	   acc_t c);
double average(const double *v, usize n);
unsigned gcd(unsigned a, unsigned b);
long fib(int n);
int calc_all(int seed);

/* text.c */
usize str_len(cstr s);
usize count_char(cstr s, char c);
int starts_with(const char *s, const char *prefix);
char *skip_blanks(char *s);
int text_all(cstr s);

/* bits.c */
unsigned reverse_bits(unsigned v);
int popcount(unsigned long v);
_Bool is_pow2(unsigned long v);
unsigned char low_byte(unsigned v);
signed char to_signed(unsigned char c);
int unused_old(int x);
int bits_all(unsigned v);

#endif
