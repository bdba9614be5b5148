/*
 * Bounded reads and durable writes. Every file the agent hands to a local
 * system and every key file goes through fileio_write_atomic or
 * fileio_write_unique, so a crash leaves either the old file or the whole
 * new one; what a local system puts in a spool folder is read through
 * fileio_read_entry, which follows no link.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/fileio.h"
#include "common/wipe.h"

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

/* Reads the size bytes fstat gave of fd, at most, into a new buffer. */
static int
read_sized(int fd, off_t size, uint8_t **buf, size_t *len)
{
	uint8_t *b = malloc((size_t)size + 1);
	size_t got = 0;

	if (b == NULL)
		return ERROR_NOMEM;
	/* The file may change under us: never read past what was sized. */
	while (got < (size_t)size) {
		ssize_t r = read(fd, b + got, (size_t)size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int rc = errno_error();
			wipe_free(b); /* a part of a record, perhaps */
			return rc;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return ERROR_OK;
}

int
fileio_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd, rc = ERROR_OK;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno_error();
	if (fstat(fd, &st) < 0)
		rc = errno_error();
	else if (!S_ISREG(st.st_mode))
		rc = ERROR_INVAL;
	else if ((uint64_t)st.st_size > max)
		rc = ERROR_TOOBIG;
	else
		rc = read_sized(fd, st.st_size, buf, len);
	close(fd);
	return rc;
}

/* ERROR_PERM or ERROR_INVAL for what st is, when it is not to be read. */
static int
entry_refusal(const struct stat *st, const uid_t *owners, size_t n_owners)
{
	bool owned = false;

	if (S_ISLNK(st->st_mode))
		return ERROR_PERM;
	if (!S_ISREG(st->st_mode))
		return ERROR_INVAL;
	for (size_t i = 0; i < n_owners; i++)
		owned |= st->st_uid == owners[i];
	if (st->st_nlink != 1 || !owned)
		return ERROR_PERM;
	return ERROR_OK;
}

int
fileio_read_entry(const char *dir, const char *name, const uid_t *owners,
    size_t n_owners, size_t max, uint8_t **buf, size_t *len, struct stat *st)
{
	struct stat before;
	int dfd, fd = -1, rc;

	*buf = NULL;
	*len = 0;
	memset(st, 0, sizeof(*st));
	if (name[0] == '\0' || strchr(name, '/') != NULL)
		return ERROR_INVAL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno_error();
	/* Look before opening: a device is never opened at all. */
	if (fstatat(dfd, name, &before, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno_error();
		goto out;
	}
	if ((rc = entry_refusal(&before, owners, n_owners)) != 0) {
		*st = before;
		goto out;
	}
	fd = openat(dfd, name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		/* Replaced since the look: say what is there now. */
		rc = errno == ELOOP ? ERROR_PERM : errno_error();
		if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
			memset(st, 0, sizeof(*st));
		goto out;
	}
	if (fstat(fd, st) < 0) {
		rc = errno_error();
		goto out;
	}
	if ((rc = entry_refusal(st, owners, n_owners)) != 0)
		goto out;
	if ((uint64_t)st->st_size > max) {
		rc = ERROR_TOOBIG;
		goto out;
	}
	if ((rc = read_sized(fd, st->st_size, buf, len)) != 0)
		goto out;
	if (fstat(fd, st) < 0) {
		rc = errno_error();
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rc;
}

void
fileio_tag(char out[FILEIO_TAG_LEN])
{
	static unsigned counter;
	unsigned n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);

	snprintf(out, FILEIO_TAG_LEN, "%06u-%08x", n,
	    (unsigned)randombytes_random());
}

/* Gives the temporary file tmp in dfd the name name, replacing nothing. */
static int
place(int dfd, const char *tmp, const char *name)
{
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) == 0)
		return ERROR_OK;
	if (errno == EEXIST)
		return ERROR_EXISTS;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return errno_error();
	/* No RENAME_NOREPLACE on this file system: link() does not replace
	 * either. */
	if (linkat(dfd, tmp, dfd, name, 0) < 0)
		return errno_error();
	unlinkat(dfd, tmp, 0);
	return ERROR_OK;
}

int
fileio_write_unique(const char *dir, const char *stem, const char *suffix,
    const void *data, size_t len, mode_t mode, char *name, size_t n)
{
	char tmp[64], tag[FILEIO_TAG_LEN];
	size_t longest =
	    strlen(stem) + 1 + strlen("4294967295-ffffffff") + strlen(suffix);
	bool made = false, placed = false;
	int dfd, fd = -1, rc = ERROR_OK;

	if (n > 0)
		name[0] = '\0';
	if (longest >= n || longest > NAME_MAX || strchr(stem, '/') != NULL ||
	    strchr(suffix, '/') != NULL)
		return ERROR_TOOBIG;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno_error();
	fileio_tag(tag);
	snprintf(tmp, sizeof(tmp), ".tmp.%ld.%s", (long)getpid(), tag);
	fd = openat(dfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = errno_error();
		goto out;
	}
	made = true;
	if ((rc = write_all(fd, data, len)) != 0)
		goto out;
	if (fsync(fd) < 0) {
		rc = errno_error();
		goto out;
	}
	close(fd);
	fd = -1;
	/* Taken names are skipped; a tag repeats only if the random bits
	 * and the counter both do, so a few tries are plenty. */
	for (int i = 0; i < 16 && !placed; i++) {
		if (i == 0) {
			snprintf(name, n, "%s%s", stem, suffix);
		} else {
			fileio_tag(tag);
			snprintf(name, n, "%s-%s%s", stem, tag, suffix);
		}
		rc = place(dfd, tmp, name);
		if (rc == ERROR_OK)
			placed = true;
		else if (rc != ERROR_EXISTS)
			goto out;
	}
	if (placed && fsync(dfd) < 0)
		rc = errno_error();
out:
	if (fd >= 0)
		close(fd);
	if (made && !placed)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	if (rc != ERROR_OK && n > 0)
		name[0] = '\0';
	return rc;
}

int
fileio_rename_noreplace(const char *from, const char *to)
{
	struct stat st;

	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return ERROR_OK;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return errno_error();
	/* No RENAME_NOREPLACE on this file system: look first. */
	if (lstat(to, &st) == 0)
		return ERROR_EXISTS;
	if (rename(from, to) < 0)
		return errno_error();
	return ERROR_OK;
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

int
fileio_write_atomic(const char *dir, const char *name, const void *data,
    size_t len, mode_t mode, int flags)
{
	char tmp[4096], dst[4096], tmpname[64], tag[FILEIO_TAG_LEN];
	int fd = -1, rc;

	if ((rc = fileio_join(dst, sizeof(dst), dir, name)) != 0)
		return rc;
	/* A temporary name no one can guess and hold in the way (the
	 * folder may be shared with a less trusted user); never anyone
	 * else's file, which O_EXCL refuses. */
	for (int i = 0; i < 8 && fd < 0; i++) {
		fileio_tag(tag);
		snprintf(tmpname, sizeof(tmpname), ".tmp.%ld.%s",
		    (long)getpid(), tag);
		if ((rc = fileio_join(tmp, sizeof(tmp), dir, tmpname)) != 0)
			return rc;
		fd = open(tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return errno_error();
	if ((rc = write_all(fd, data, len)) != 0)
		goto out;
	if (fsync(fd) < 0) {
		rc = errno_error();
		goto out;
	}
	close(fd);
	fd = -1;
	if (flags & FILEIO_EXCL) {
		/* Never two names at once where the file system allows: a
		 * crash between link() and unlink() would leave dst with two
		 * links, which fileio_read_entry then refuses. */
		if ((rc = place(AT_FDCWD, tmp, dst)) != 0)
			goto out;
	} else if (rename(tmp, dst) < 0) {
		rc = errno_error();
		goto out;
	}
	if (!(flags & FILEIO_NO_DIR_SYNC))
		rc = fileio_fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

size_t
fileio_remove_temporaries(const char *dir)
{
	uid_t me = geteuid();
	struct dirent *de;
	struct stat st;
	size_t n = 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (dfd < 0)
		return 0;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp.", 5) != 0 ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != me)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			n++;
	}
	if (n > 0)
		(void)fsync(dfd);
	closedir(d);
	return n;
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
