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

/* The holder's first line, printable, into line of size n; "" if none. */
static void
read_holder(int fd, char *line, size_t n)
{
	ssize_t r;
	size_t i;

	if (line == NULL || n == 0)
		return;
	do
		r = pread(fd, line, n - 1, 0);
	while (r < 0 && errno == EINTR);
	line[r > 0 ? r : 0] = '\0';
	for (i = 0; line[i] != '\0'; i++) {
		if (line[i] == '\n') {
			line[i] = '\0';
			break;
		}
		if (line[i] < 0x20 || line[i] > 0x7e)
			line[i] = '?';
	}
}

pid_t
lockfile_pid(const char *line)
{
	char *end;
	long pid = strtol(line, &end, 10);

	if (end == line || pid <= 0 || pid > 0x7fffffff)
		return 0;
	return (pid_t)pid;
}

int
lockfile_take(const char *path, int *fdp, char *holder, size_t n)
{
	int fd, e;

	*fdp = -1;
	if (holder != NULL && n > 0)
		holder[0] = '\0';
	fd = open(
	    path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return errno_error(errno);
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EWOULDBLOCK)
			read_holder(fd, holder, n);
		close(fd);
		return e == EWOULDBLOCK ? ERROR_BUSY : errno_error(e);
	}
	*fdp = fd;
	return ERROR_OK;
}

int
lockfile_write(int fd, pid_t pid, const char *who)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%ld %s\n", (long)pid, who);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return ERROR_INVAL;
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
