#include "shapes.h"

struct buffer *last_buffer;
const enum color default_color = RED;

int area(struct shape *s)
{
	int a = 0;
	while (s) {
		if (s->kind == 2) {
			int w = s->w, h = s->h;
			a += scale(w, h);
		} else {
			double r = s->radius;
			a += (int)(r * r * 3);
		}
		s = s->next;
	}
	return a;
}

int combine(struct table *t, int a, int b)
{
	int x = t->ops[0](a, b);
	int y = t->ops[1](x, scale(b, 2));
	if (t->handle) {
		union word w = { .u = (unsigned)y };
		x += w.bytes[0];
	}
	return x * y + t->ticks;
}

long log_all(const char *fmt, ...)
{
	long n = 0;
	while (*fmt++)
		n++;
	return n;
}
