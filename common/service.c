/*
 * sd_notify(3) and the pid file for the daemons (service.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/pidfile.h"
#include "common/service.h"

static char pid_path[PATH_MAX];
static bool pid_written;
static pid_t pid_owner;
static uint64_t watchdog_ms, last_ping_ms;

void
service_init(const char *pid_file)
{
	uint64_t usec = 0;

	snprintf(pid_path, sizeof(pid_path), "%s", pid_file);
	/* 0 unset_environment: a child (the broker's signer) must not ping
	 * in our name, but it never calls sd_notify. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000)
		watchdog_ms = usec / 1000;
	last_ping_ms = clock_mono_ms();
}

uint64_t
service_watchdog_ms(void)
{
	return watchdog_ms;
}

static void vnotify(const char *head, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vnotify(const char *head, const char *fmt, va_list ap)
{
	char status[512], msg[640];

	vsnprintf(status, sizeof(status), fmt, ap);
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", head, status);
	if (sd_notify(0, msg) < 0)
		log_warn("sd_notify: cannot reach $NOTIFY_SOCKET");
}

void
service_ready(const char *fmt, ...)
{
	va_list ap;
	char why[4400];

	if (!pid_written && pid_path[0] != '\0') {
		pid_owner = getpid();
		if (pidfile_write(pid_path, pid_owner, why, sizeof(why)) != 0)
			log_err("%s", why);
		else
			pid_written = true;
	}
	va_start(ap, fmt);
	vnotify("READY=1\n", fmt, ap);
	va_end(ap);
}

void
service_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/* MONOTONIC_USEC: what systemd 253 and later want with RELOADING=1
	 * (Type=notify-reload); older ones ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ull +
	        (unsigned long long)ts.tv_nsec / 1000);
	(void)sd_notify(0, msg);
}

void
service_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnotify("", fmt, ap);
	va_end(ap);
}

void
service_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void
service_tick(void)
{
	uint64_t now;

	if (watchdog_ms == 0)
		return;
	now = clock_mono_ms();
	if (now - last_ping_ms < watchdog_ms / 2)
		return;
	last_ping_ms = now;
	(void)sd_notify(0, "WATCHDOG=1");
}

void
service_done(void)
{
	if (pid_written)
		pidfile_remove(pid_path, pid_owner);
	pid_written = false;
}

void
service_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the descriptor limit: %s",
			    strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("up to %llu descriptors (connections)",
		    (unsigned long long)rl.rlim_cur);
}
