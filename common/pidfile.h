/*
 * The pid file a daemon writes when asked (pid_file, -p): "PID\n",
 * written atomically (a temporary renamed over it, so a stale one is
 * replaced and a reader never sees half a number) and removed at a clean
 * stop. Which instance runs is decided by the daemon's folder lock, taken
 * before the file is written; the file only tells init scripts the pid.
 */
#ifndef COMMON_PIDFILE_H
#define COMMON_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

/* Writes pid into path (mode 0644); why (size n) says what failed. */
WUR int pidfile_write(const char *path, pid_t pid, char *why, size_t n);

/* Removes path when it still holds pid (another instance may have
 * replaced it since). */
void pidfile_remove(const char *path, pid_t pid);

#endif
