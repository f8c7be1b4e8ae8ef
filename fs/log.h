/* log: the daemon's messages on stderr, one line each, filtered by the configured level.
 * Stateless (the level travels with the caller), so it is safe from any thread. */
#ifndef DSYMFS_LOG_H
#define DSYMFS_LOG_H

#include "conf.h"

/* Writes "dsymfs: LEVEL: message\n" when level is at or below threshold. */
void log_msg(enum conf_log_level threshold, enum conf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
