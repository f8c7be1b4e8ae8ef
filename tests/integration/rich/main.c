#include "shapes.h"

struct shape origin = { .kind = 2, .w = 3, .h = 4, .fl = { 1, 5, -7, 9 },
			.col = BLUE, .grid = { { 1, 2, 3 }, { 4, 5, 6 } } };
union word wordv = { .u = 0x3f800000u };
enum mask top_mask = M_TOP;
char names[3][8] = { "one", "two", "three" };
static int hidden = 42;

static int add(int a, int b)
{
	return a + b;
}

static int sub(int a, int b)
{
	return a - b;
}

struct table table = { { add, sub }, log_all, 0, 0, 5, "tab" };

int counter(void)
{
	static int calls = 10;
	calls++;
	return calls + hidden;
}

int main(void)
{
	int total = 0;
	for (int i = 0; i < 3; i++) {
		int sq = scale(i, i);
		{
			long deep = sq * 2L;
			total += (int)deep;
		}
		total += combine(&table, i, sq);
	}
	total += area(&origin) + counter();
	return total;
}

void _start(void)
{
	main();
	for (;;)
		;
}
