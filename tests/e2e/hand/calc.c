/* calc.c: arithmetic of many shapes. */
#include "util.h"

static int helper(int v)
{
	return clamp(v * 3, -1000, 1000);
}

int add(int a, int b) { return a + b; }

acc_t poly(acc_t x,
	   acc_t a,
	   acc_t b,
	   acc_t c)
{
	acc_t r = a;
	r = r * x + b;
	r = r * x + c;
	return r;
}

double average(const double *v, usize n)
{
	double sum = 0;
	usize i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		sum += v[i];
	return sum / (double)n;
}

unsigned gcd(unsigned a, unsigned b)
{
	while (b) {
		unsigned t = a % b;
		a = b;
		b = t;
	}
	return a;
}

long fib(int n)
{
	long a = 0, b = 1;
	int i;

	n = clamp(n, 0, 90);
	for (i = 0; i < n; i++) {
		long t = a + b;
		a = b;
		b = t;
	}
	return a;
}

static long scale_sum(const long *v,
		      usize n,
		      long factor)
{
	long s = 0;
	usize i;

	for (i = 0; i < min_size(n, 16); i++)
		s += v[i] * factor;
	return s;
}

int calc_all(int seed)
{
	long val = seed;
	double d = 2.5;
	int r = 0;

	val += clamp(seed, 0, 9);
	r += add(seed, 2);
	r += (int)poly(seed, 1, 2, 3);
	r += (int)average(&d, 1);
	r += (int)gcd((unsigned)seed, 12);
	r += (int)fib(seed);
	r += (int)scale_sum(&val, 1, 3);
	r += helper(r);
	return r;
}
