/*
 * Lock files (lockfile.h): flock, not fcntl locks, because a flock belongs
 * to the open file and so passes to the child of daemon(3), while the
 * parent's exit drops nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/lockfile.h"

static int
errno_error(int e)
{
	switch (e) {
	case ENOENT:
		return ERROR_NOENT;
	case EACCES:
	case EPERM:
	case ELOOP:
	case EROFS:
		return ERROR_PERM;
	case ENOSPC:
	case EDQUOT:
		return ERROR_NOSPC;
	default:
		return ERROR_IO;
	}
}

static pid_t
read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || pid <= 0 || pid > 0x7fffffff)
		return 0;
	return (pid_t)pid;
}

int
lockfile_take(const char *path, int *fdp, pid_t *holder)
{
	int fd, e;

	*fdp = -1;
	*holder = 0;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno_error(errno);
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EWOULDBLOCK)
			*holder = read_pid(fd);
		close(fd);
		return e == EWOULDBLOCK ? ERROR_BUSY : errno_error(e);
	}
	*fdp = fd;
	return ERROR_OK;
}

int
lockfile_write_pid(int fd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);

	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return errno_error(errno);
	return ERROR_OK;
}

void
lockfile_release(int fd)
{
	if (fd < 0)
		return;
	/* An empty file tells a reader that nobody holds it. */
	(void)!ftruncate(fd, 0);
	close(fd);
}
