/*
 * Scratch folders and whole files (see scratch.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/scratch.h"

void
scratch_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "test set-up: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void
scratch_dir_in(char *buf, size_t n, const char *tag)
{
	const char *base = getenv("TMPDIR");
	int r;

	if (base == NULL || base[0] != '/' || strlen(base) > 48)
		base = "/tmp";
	r = snprintf(buf, n, "%s/concordat-%s-XXXXXX", base, tag);
	if (r < 0 || (size_t)r >= n) {
		base = "/tmp";
		r = snprintf(buf, n, "%s/concordat-%s-XXXXXX", base, tag);
	}
	if (r < 0 || (size_t)r >= n)
		scratch_die(
		    "a scratch folder's name does not fit %zu bytes", n);
	if (mkdtemp(buf) == NULL)
		scratch_die("cannot create %s: %s", buf, strerror(errno));
}

char *
scratch_dir(const char *tag)
{
	char buf[4096];
	char *p;

	scratch_dir_in(buf, sizeof(buf), tag);
	if ((p = strdup(buf)) == NULL)
		scratch_die("out of memory");
	return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

void
scratch_rmrf(const char *path)
{
	/* Folders a test made read-only still go: unlink needs only the
	 * parent's permission, and the tests run as their folders' owner. */
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void *
scratch_slurp(const char *path, size_t *len)
{
	size_t got = 0, cap = 4096;
	char *buf, *more;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if ((buf = malloc(cap + 1)) == NULL)
		scratch_die("out of memory");
	for (;;) {
		if (got == cap) {
			cap *= 2;
			if ((more = realloc(buf, cap + 1)) == NULL)
				scratch_die("out of memory");
			buf = more;
		}
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			scratch_die(
			    "cannot read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	if (len != NULL)
		*len = got;
	return buf;
}

void *
scratch_read(const char *path, size_t *len)
{
	void *b = scratch_slurp(path, len);

	if (b == NULL)
		scratch_die("cannot open %s: %s", path, strerror(errno));
	return b;
}

void
scratch_spit(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd =
	    open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);

	if (fd < 0)
		scratch_die("cannot create %s: %s", path, strerror(errno));
	if (write(fd, data, len) != (ssize_t)len)
		scratch_die("cannot write %s: %s", path, strerror(errno));
	if (fchmod(fd, (mode_t)mode) != 0)
		scratch_die("cannot chmod %s: %s", path, strerror(errno));
	if (close(fd) != 0)
		scratch_die("cannot close %s: %s", path, strerror(errno));
}

void
scratch_write(const char *path, const char *text, unsigned mode)
{
	scratch_spit(path, text, strlen(text), mode);
}

size_t
scratch_count(const char *haystack, const char *needle)
{
	size_t n = 0, l = strlen(needle);

	if (l == 0)
		return 0;
	for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += l)
		n++;
	return n;
}
