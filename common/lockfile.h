/*
 * An exclusive lock on a folder a process must own alone (the agent's
 * state, the broker's data): flock(2) on a lock file inside it, which also
 * holds the owner's pid and name ("PID PROGRAM") so that a second instance
 * can name it. The kernel drops the lock when its holder exits, however it
 * exits. Used by concordat-agent and, through audit_env_lock, by the
 * broker and `concordat audit reindex`.
 */
#ifndef COMMON_LOCKFILE_H
#define COMMON_LOCKFILE_H

#include <sys/types.h>

#include "common/error.h"

/*
 * Opens path (created 0600 when missing, never through a symlink) and
 * takes an exclusive lock on it without waiting. On success *fd holds the
 * lock until lockfile_release (it is inherited by fork, so it survives
 * daemon(3)). ERROR_BUSY when another process holds it: holder (size n,
 * may be NULL) then gets the line that process wrote, made printable, or
 * "" when it wrote none yet.
 */
WUR int lockfile_take(const char *path, int *fd, char *holder, size_t n);

/* The pid at the start of a holder's line, or 0. */
pid_t lockfile_pid(const char *line);

/* Writes "PID WHO" into the locked file, replacing what it held. */
WUR int lockfile_write(int fd, pid_t pid, const char *who);

/* Empties the file and drops the lock; fd < 0 is a no-op. */
void lockfile_release(int fd);

#endif
