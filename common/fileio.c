/*
 * Bounded reads and durable writes. Every file the agent hands to a local
 * system and every key file goes through fileio_write_atomic, so a crash
 * leaves either the old file or the whole new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"

static int
errno_error(void)
{
	switch (errno) {
	case ENOENT:
		return ERROR_NOENT;
	case EACCES:
	case EPERM:
	case ELOOP:
		return ERROR_PERM;
	case ENOSPC:
	case EDQUOT:
		return ERROR_NOSPC;
	case ENOMEM:
		return ERROR_NOMEM;
	case EEXIST:
		return ERROR_EXISTS;
	default:
		return ERROR_IO;
	}
}

int
fileio_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	int fd, rc = ERROR_OK;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno_error();
	if (fstat(fd, &st) < 0) {
		rc = errno_error();
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = ERROR_INVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = ERROR_TOOBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	/* The file may change under us: never read past what was sized. */
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = errno_error();
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

int
fileio_join(char *buf, size_t n, const char *a, const char *b)
{
	int w = snprintf(buf, n, "%s/%s", a, b);

	if (w < 0 || (size_t)w >= n)
		return ERROR_TOOBIG;
	return ERROR_OK;
}

int
fileio_fsync_dir(const char *path)
{
	int fd, rc = ERROR_OK;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno_error();
	if (fsync(fd) < 0)
		rc = errno_error();
	close(fd);
	return rc;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno_error();
		p += w;
		len -= (size_t)w;
	}
	return ERROR_OK;
}

int
fileio_write_atomic(const char *dir, const char *name, const void *data,
    size_t len, mode_t mode, int excl)
{
	char tmp[4096], dst[4096], tmpname[256];
	int fd = -1, rc;

	snprintf(tmpname, sizeof(tmpname), ".tmp.%ld.%s", (long)getpid(), name);
	if ((rc = fileio_join(tmp, sizeof(tmp), dir, tmpname)) != 0 ||
	    (rc = fileio_join(dst, sizeof(dst), dir, name)) != 0)
		return rc;
	fd = open(tmp,
	    O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0) {
		rc = errno_error();
		goto out;
	}
	if ((rc = write_all(fd, data, len)) != 0)
		goto out;
	if (fsync(fd) < 0) {
		rc = errno_error();
		goto out;
	}
	close(fd);
	fd = -1;
	if (excl) {
		/* link() fails when dst exists, so nothing is replaced. */
		if (link(tmp, dst) < 0) {
			rc = errno_error();
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, dst) < 0) {
		rc = errno_error();
		goto out;
	}
	rc = fileio_fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

int
fileio_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return ERROR_INVAL;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return errno_error();
		buf[i] = c;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return errno_error();
	if (!S_ISDIR(st.st_mode))
		return ERROR_INVAL;
	return ERROR_OK;
}

int
fileio_resolve(const char *base, const char *path, char *out, size_t n)
{
	char *real = NULL;
	const char *slash;
	int w;

	/* Absolute, so that a daemon that leaves its start folder still
	 * finds its files. */
	if (path[0] != '/')
		real = realpath(base, NULL);
	if (real != NULL)
		base = real;
	slash = strrchr(base, '/');
	if (path[0] == '/' || slash == NULL)
		w = snprintf(out, n, "%s", path);
	else
		w = snprintf(
		    out, n, "%.*s/%s", (int)(slash - base), base, path);
	free(real);
	if (w < 0 || (size_t)w >= n)
		return ERROR_TOOBIG;
	return ERROR_OK;
}
