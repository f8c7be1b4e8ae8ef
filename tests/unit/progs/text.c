/* The render suite's test program, unit 3: strings and pointers. */
#include "shapes.h"

/* Same name as the static function in main.c. */
static int step(int x)
{
	return x - 1;
}

usize count_char(cstr s, const char c)
{
	usize n = 0;
	while (*s) {
		if (*s == c)
			n++;
		s++;
	}
	return (usize)clamp_int(step((int)n + 1), 0, 100);
}

usize str_len(const char *s)
{
	const char *p = s;
	while (*p)
		p++;
	return (usize)(p - s);
}

void fill(unsigned char *dst, usize n, unsigned char v)
{
	for (usize i = 0; i < n; i++)
		dst[i] = v;
}

const void *advance(const void *p, usize n) { return (const char *)p + n; }

void *as_mut(const void *p)
{
	return (void *)p;
}
