/*
 * An exclusive lock on a folder a daemon must own alone (the agent's
 * state): flock(2) on a lock file inside it, which also holds the owner's
 * pid so that a second instance can name it. The kernel drops the lock
 * when its holder exits, however it exits. Used by concordat-agent.
 */
#ifndef COMMON_LOCKFILE_H
#define COMMON_LOCKFILE_H

#include <sys/types.h>

#include "common/error.h"

/*
 * Opens path (created 0600 when missing, never through a symlink) and
 * takes an exclusive lock on it without waiting. On success *fd holds the
 * lock until lockfile_release (it is inherited by fork, so it survives
 * daemon(3)). ERROR_BUSY when another process holds it: *holder is then
 * the pid that process wrote, or 0 when it wrote none yet.
 */
WUR int lockfile_take(const char *path, int *fd, pid_t *holder);

/* Writes pid into the locked file, replacing what it held. */
WUR int lockfile_write_pid(int fd, pid_t pid);

/* Empties the file and drops the lock; fd < 0 is a no-op. */
void lockfile_release(int fd);

#endif
