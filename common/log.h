/*
 * Logging for the daemons: one line per event at a level (error, warning,
 * info, debug), to stderr in the foreground (with journald's "<N>"
 * priority prefixes when stderr is the journal), to syslog otherwise.
 * Library code never logs; it returns errors to the daemon that does.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdbool.h>

/* The levels, most severe first; a line is written when its level is at
 * or above the one set (log_set_level). */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO, /* the default */
	LOG_LEVEL_DEBUG,
};

/* Where lines go. */
enum log_dest {
	LOG_DEST_STDERR,  /* "TIMESTAMP IDENT: text" */
	LOG_DEST_JOURNAL, /* "<N>text", N the syslog priority (sd-daemon.h) */
	LOG_DEST_SYSLOG,  /* syslog(3), facility daemon */
};

/* "error", "warning", "info" or "debug" into *level; false otherwise. */
bool log_level_parse(const char *s, enum log_level *level);
const char *log_level_name(enum log_level level);

/*
 * True when stderr is the journal: $JOURNAL_STREAM ("DEV:INODE", set by
 * systemd) names the file descriptor 2 holds.
 */
bool log_stderr_is_journal(void);

/* True when started by systemd: $INVOCATION_ID, $NOTIFY_SOCKET or stderr
 * connected to the journal. */
bool log_under_systemd(void);

/* True when a datagram can be sent to the syslog socket at path
 * ("/dev/log"). */
bool log_syslog_reachable(const char *path);

/*
 * Where a daemon logs: stderr in the foreground or under systemd (the
 * journal's prefixes when stderr is the journal), syslog otherwise.
 */
enum log_dest log_choose(bool foreground);

/* Starts logging as ident to dest; the level stays as set (default info,
 * debug when $CONCORDAT_DEBUG is set). */
void log_init(const char *ident, enum log_dest dest);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
