/*
 * Permission-checked reads of secret files for keys.c and subject.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/secretfile.h"

int
secretfile_read(const char *path, uint8_t *buf, size_t len)
{
	struct stat st;
	size_t got = 0;
	int fd, rc = ERROR_OK;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return ERROR_PERM; /* a symlink */
		return errno == ENOENT ? ERROR_NOENT
		    : errno == EACCES  ? ERROR_PERM
		                       : ERROR_IO;
	}
	if (fstat(fd, &st) < 0) {
		rc = ERROR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
	    st.st_uid != geteuid()) {
		rc = ERROR_PERM;
		goto out;
	}
	if ((size_t)st.st_size != len) {
		rc = ERROR_KEY;
		goto out;
	}
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? ERROR_IO : ERROR_KEY;
			goto out;
		}
		got += (size_t)r;
	}
out:
	close(fd);
	return rc;
}
