/*
 * Logging for the daemons: stderr in the foreground, syslog otherwise.
 * Library code never logs; it returns errors to the daemon that does.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

/* Starts logging as ident; foreground selects stderr over syslog. */
void log_init(const char *ident, int foreground);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Off unless CONCORDAT_DEBUG is set in the environment. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
