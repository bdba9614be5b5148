/*
 * Daemon logging, in the manner of OpenBSD's log.c: one line per event,
 * stderr when in the foreground, syslog otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"

static int to_stderr = 1;
static int debug;
static const char *log_ident = "concordat";

void
log_init(const char *ident, int foreground)
{
	log_ident = ident;
	to_stderr = foreground;
	debug = getenv("CONCORDAT_DEBUG") != NULL;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void vlog(int pri, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vlog(int pri, const char *fmt, va_list ap)
{
	char ts[40];

	if (to_stderr) {
		clock_format(clock_now_ms(), ts, sizeof(ts));
		flockfile(stderr);
		fprintf(stderr, "%s %s: ", ts, log_ident);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
	} else {
		vsyslog(pri, fmt, ap);
	}
}

#define LOG_FN(name, pri)                                                      \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(pri, fmt, ap);                                            \
		va_end(ap);                                                    \
	}

LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARNING)
LOG_FN(log_err, LOG_ERR)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!debug)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}
