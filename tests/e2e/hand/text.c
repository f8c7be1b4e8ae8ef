/* text.c: strings without libc. */
#include "util.h"

static int helper(int v) { return v > 0 ? v : -v; }

usize str_len(cstr s)
{
	usize n = 0;

	while (s[n])
		n++;
	return n;
}

usize count_char(cstr s, char c)
{
	usize n = 0;

	for (; *s; s++)
		if (*s == c)
			n++;
	return n;
}

int starts_with(const char *s, const char *prefix)
{
	while (*prefix) {
		if (*s != *prefix)
			return 0;
		s++;
		prefix++;
	}
	return 1;
}

char *skip_blanks(char *s) { while (*s == ' ' || *s == '\t') s++; return s; }

static const char *last_of(const char *s,
			   char c)
{
	const char *found = 0;

	for (; *s; s++)
		if (*s == c)
			found = s;
	return found;
}

int text_all(cstr s)
{
	char blank = ' ';
	int r = 0;

	r += (int)str_len(s);
	r += (int)count_char(s, 'a');
	r += starts_with(s, "ab");
	r += skip_blanks(&blank) != 0;
	r += last_of(s, 'z') != 0;
	r += helper(clamp(r, 0, 100));
	return r;
}
