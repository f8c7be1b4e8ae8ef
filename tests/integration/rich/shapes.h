/* The types the rich-lldb test program shares between its units. */
#ifndef SHAPES_H
#define SHAPES_H

enum color { RED = -3, GREEN = 0, BLUE = 7 };
enum mask { M_LOW = 1u, M_TOP = 0xfffffff0u };

struct opaque;			/* never defined: used only by pointer */

struct flags {
	unsigned ready : 1;
	unsigned mode : 3;
	signed level : 5;
	unsigned char tail;
};

struct shape {
	int kind;
	union {
		struct {
			short w, h;
		};
		double radius;
	};
	struct flags fl;
	enum color col;
	float grid[2][3];
	struct shape *next;
};

union word {
	unsigned int u;
	float f;
	unsigned char bytes[4];
};

struct buffer {
	unsigned len;
	char data[];		/* flexible array member */
};

typedef int (*binop)(int, int);
typedef long (*logger)(const char *, ...);
typedef int (*oldstyle)();

struct table {
	binop ops[2];
	logger log;
	oldstyle legacy;
	struct opaque *handle;
	volatile int ticks;
	const char *restrict label;
};

static inline int scale(int v, int by)
{
	int r = v * by;
	return r + 1;
}

int area(struct shape *s);
int combine(struct table *t, int a, int b);
long log_all(const char *fmt, ...);

extern struct shape origin;
extern union word wordv;
extern struct table table;
extern enum mask top_mask;

#endif
