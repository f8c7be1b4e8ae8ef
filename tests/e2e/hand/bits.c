/* bits.c: bit twiddling. */
#include "util.h"

unsigned reverse_bits(unsigned v)
{
	unsigned r = 0;
	int i;

	for (i = 0; i < 32; i++) {
		r = (r << 1) | (v & 1);
		v >>= 1;
	}
	return r;
}

int popcount(unsigned long v)
{
	int n = 0;

	while (v) {
		v &= v - 1;
		n++;
	}
	return n;
}

_Bool is_pow2(unsigned long v) { return v && !(v & (v - 1)); }

unsigned char low_byte(unsigned v) { return (unsigned char)(v & 0xff); }

signed char to_signed(unsigned char c) { return (signed char)c; }

int unused_old(int x)
{
	int y = x * 7;

	y ^= y >> 3;
	return y + 1;
}

static unsigned rotate(unsigned v,
		       int by)
{
	by &= 31;
	return (v << by) | (v >> ((32 - by) & 31));
}

int bits_all(unsigned v)
{
	int r = 0;

	r += (int)reverse_bits(v);
	r += popcount(v);
	r += is_pow2(v);
	r += low_byte(v);
	r += to_signed((unsigned char)v);
	r += (int)rotate(v, 5);
	r += clamp((int)min_size(v, 9), 0, 4);
	return r;
}
