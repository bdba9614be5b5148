/*
 * Daemon logging, in the manner of OpenBSD's log.c: one line per event,
 * stderr when in the foreground or under systemd, syslog otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

static enum log_dest dest = LOG_DEST_STDERR;
static enum log_level level = LOG_LEVEL_INFO;
static bool level_set;
static const char *log_ident = "concordat";

static const char *const names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

bool
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	return false;
}

const char *
log_level_name(enum log_level l)
{
	return l <= LOG_LEVEL_DEBUG ? names[l] : "?";
}

bool
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

bool
log_under_systemd(void)
{
	const char *id = getenv("INVOCATION_ID");
	const char *ns = getenv("NOTIFY_SOCKET");

	return (id != NULL && id[0] != '\0') || (ns != NULL && ns[0] != '\0') ||
	    log_stderr_is_journal();
}

bool
log_syslog_reachable(const char *path)
{
	struct sockaddr_un sun;
	bool ok;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return false;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	/* syslog(3) tries a datagram socket, then a stream one. */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	if (ok)
		return true;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

enum log_dest
log_choose(bool foreground)
{
	if (log_stderr_is_journal())
		return LOG_DEST_JOURNAL;
	if (foreground || log_under_systemd())
		return LOG_DEST_STDERR;
	return LOG_DEST_SYSLOG;
}

void
log_init(const char *ident, enum log_dest d)
{
	log_ident = ident;
	dest = d;
	if (!level_set && getenv("CONCORDAT_DEBUG") != NULL)
		level = LOG_LEVEL_DEBUG;
	if (d == LOG_DEST_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level l)
{
	level = l;
	level_set = true;
}

enum log_level
log_get_level(void)
{
	return level;
}

static void vlog(enum log_level l, int pri, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
vlog(enum log_level l, int pri, const char *fmt, va_list ap)
{
	char ts[40];

	if (l > level)
		return;
	switch (dest) {
	case LOG_DEST_STDERR:
		clock_format(clock_now_ms(), ts, sizeof(ts));
		flockfile(stderr);
		fprintf(stderr, "%s %s: ", ts, log_ident);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
		break;
	case LOG_DEST_JOURNAL:
		/* journald takes "<N>" at the start of a line as its
		 * priority, and stamps the time itself. */
		flockfile(stderr);
		fprintf(stderr, "<%d>", pri);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
		break;
	case LOG_DEST_SYSLOG:
		vsyslog(pri, fmt, ap);
		break;
	}
}

#define LOG_FN(name, l, pri)                                                   \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(l, pri, fmt, ap);                                         \
		va_end(ap);                                                    \
	}

LOG_FN(log_err, LOG_LEVEL_ERROR, LOG_ERR)
LOG_FN(log_warn, LOG_LEVEL_WARNING, LOG_WARNING)
LOG_FN(log_info, LOG_LEVEL_INFO, LOG_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, LOG_DEBUG)
