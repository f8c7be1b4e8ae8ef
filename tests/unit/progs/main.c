/* The render suite's test program, unit 1: the entry point and its callers. */
#include "shapes.h"

volatile int sink;
unsigned char buf[64];

/* Same name as the static function in text.c. */
static int step(int x)
{
	return x + 1;
}

static int twice(int x) { return 2 * x; }

void _start(void)
{
	int acc = one();
	acc += sum_to(10);
	acc += (int)poly(3, 1, 2, 3);
	double d = 1.5;
	acc += (int)scale(&d, 2.0f);
	acc += is_even(acc) ? 1 : 0;
	acc += low_byte(0x1234u) + negate_sc(-3) + widen(1, 2);
	acc += (int)count_char("hello world", 'o');
	acc += (int)str_len("dsymfs");
	fill(buf, sizeof buf, 7);
	acc += *(const unsigned char *)advance(buf, 3);
	*(unsigned char *)as_mut(buf) = 9;
	counter_t vals[1];
	vals[0] = acc;
	acc += tally(vals, 1, 100);
	tick();
	acc += bump();
	acc = clamp_int(step(acc), 0, 1000);
	sink = twice(acc);
	for (;;)
		;
}
