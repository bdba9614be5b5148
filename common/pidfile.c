/*
 * The daemons' pid file (pidfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/pidfile.h"

int
pidfile_write(const char *path, pid_t pid, char *why, size_t n)
{
	char tmp[4200], line[32];
	int fd, len, rc = ERROR_IO;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)pid) >=
	    (int)sizeof(tmp)) {
		snprintf(why, n, "pid_file: %s: path too long", path);
		return ERROR_CONFIG;
	}
	len = snprintf(line, sizeof(line), "%ld\n", (long)pid);
	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(why, n, "pid_file: cannot create %s: %s", tmp,
		    strerror(errno));
		return errno == EACCES ? ERROR_PERM : ERROR_IO;
	}
	if (fchmod(fd, 0644) != 0 || write(fd, line, (size_t)len) != len ||
	    fsync(fd) != 0) {
		snprintf(why, n, "pid_file: cannot write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		snprintf(why, n, "pid_file: cannot rename %s to %s: %s", tmp,
		    path, strerror(errno));
		goto out;
	}
	return ERROR_OK;
out:
	unlink(tmp);
	return rc;
}

void
pidfile_remove(const char *path, pid_t pid)
{
	char buf[32];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = '\0';
	if (strtol(buf, NULL, 10) == (long)pid)
		unlink(path);
}
