/* The render suite's test program, unit 2: arithmetic of many shapes. */
#include "shapes.h"

int calls;

int one(void) { return 1; }

int sum_to(int n)
{
	int total = 0;
	for (int i = 0; i < n; i++) {
		if (i % 3 == 0)
			continue;
		total += i;
	}
	int j = n;
	while (j > 0) {
		total ^= j;
		j /= 2;
	}
	do {
		total += 7;
		j++;
	} while (j < 4);
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			total += a * b;
	return total;
}

long long poly(long long x,
	       long long a,
	       long long b,
	       long long c)
{
	long long r = a;
	r = r * x + b;
	r = r * x + c;
	return r;
}

double scale(const double *p, float f) { return *p * f; }

_Bool is_even(long long v)
{
	return (v & 1) == 0;
}

unsigned char low_byte(unsigned int v) { return (unsigned char)(v & 0xff); }

signed char negate_sc(signed char c)
{
	return (signed char)-c;
}

unsigned short widen(unsigned char a,
		     unsigned char b)
{
	return (unsigned short)(a << 8 | b);
}

counter_t tally(const counter_t *vals, usize n, counter_t limit)
{
	counter_t t = 0;
	for (usize i = 0; i < n; i++) {
		if (vals[i] > limit)
			t += limit;
		else
			t += vals[i];
	}
	return t;
}

void tick(void)
{
	calls++;
}

int bump(void) { return ++calls; }
