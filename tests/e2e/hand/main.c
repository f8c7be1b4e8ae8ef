/* main.c: the entry point of the hand-written test program. */
#include "util.h"

static volatile long result;

void _start(void)
{
	result = calc_all(7);
	result += text_all("abc def");
	result += bits_all(0x1234u);
	for (;;)
		;
}
