/*
 * What a service manager expects of a daemon (sd_notify(3)): READY=1 once
 * it listens or runs, RELOADING=1 and READY=1 around a SIGHUP reload,
 * STOPPING=1, STATUS= lines, and WATCHDOG=1 pings at half of
 * $WATCHDOG_USEC from the main loop; and the pid file (pid_file, -p),
 * written when the daemon is ready and removed at a clean stop. Without
 * $NOTIFY_SOCKET the notifications are no-ops. Used by daemon_main and by
 * the broker's and agent's main loops.
 */
#ifndef COMMON_SERVICE_H
#define COMMON_SERVICE_H

#include <stdint.h>

#include "common/error.h"

/* Called once, before the daemon runs: the pid file to write ("" for
 * none) and the watchdog's interval from the environment. */
void service_init(const char *pid_file);

/*
 * The daemon is ready: the first time, the pid file is written (a failure
 * is logged, and the daemon goes on); then READY=1 and STATUS=status.
 */
void service_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A reload starts; service_ready ends it. */
void service_reloading(void);

/* STATUS=text, for `systemctl status`. */
void service_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The daemon stops: STOPPING=1. */
void service_stopping(void);

/* From the main loop at every turn: WATCHDOG=1 when half the watchdog's
 * interval has passed since the last one. */
void service_tick(void);

/* The watchdog's interval in ms (0: no watchdog). */
uint64_t service_watchdog_ms(void);

/*
 * Every connection is a descriptor, a half-open one too until the
 * handshake interval closes it: takes all the descriptors the system
 * allows (the hard limit), so a flood of them runs into the handshake
 * timeout first. Logs the limit.
 */
void service_raise_fd_limit(void);

/* At the end of a clean stop: the pid file removed. */
void service_done(void);

#endif
