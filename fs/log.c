/* Log lines on stderr. See log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void log_msg(enum conf_log_level threshold, enum conf_log_level level, const char *fmt, ...)
{
	if (level > threshold)
		return;
	/* One fprintf per line, so lines from two threads do not interleave. */
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "dsymfs: %s: %s\n", conf_log_level_name(level), msg);
}
