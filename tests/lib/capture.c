/*
 * In-process CLI runs with their output captured (see capture.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/capture.h"
#include "tests/lib/scratch.h"

#define ARGS_MAX 64

/* An unnamed file to capture into. */
static int
capture_file(void)
{
	char path[4096];
	const char *base = getenv("TMPDIR");
	int fd;

	if (base == NULL || base[0] != '/')
		base = "/tmp";
	snprintf(path, sizeof(path), "%s/concordat-capture-XXXXXX", base);
	if ((fd = mkstemp(path)) < 0)
		scratch_die("cannot create %s: %s", path, strerror(errno));
	unlink(path);
	return fd;
}

/* What was written to fd, from its start. */
static char *
capture_take(int fd)
{
	struct stat st;
	char *buf;

	if (fstat(fd, &st) != 0)
		scratch_die("fstat of a capture: %s", strerror(errno));
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		scratch_die("out of memory");
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		scratch_die("cannot read a capture: %s", strerror(errno));
	buf[st.st_size] = '\0';
	return buf;
}

int
capture_run(capture_fn fn, int argc, char **argv, char **out, char **err)
{
	int rc, fo, fe, so, se;

	fflush(stdout);
	fflush(stderr);
	fo = capture_file();
	fe = capture_file();
	if ((so = dup(1)) < 0 || (se = dup(2)) < 0)
		scratch_die("dup: %s", strerror(errno));
	if (dup2(fo, 1) != 1 || dup2(fe, 2) != 2)
		scratch_die("dup2: %s", strerror(errno));
	clearerr(stdout);
	clearerr(stderr);
	rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	if (dup2(so, 1) != 1 || dup2(se, 2) != 2)
		scratch_die("dup2: %s", strerror(errno));
	close(so);
	close(se);
	clearerr(stdout);
	clearerr(stderr);
	if (out != NULL)
		*out = capture_take(fo);
	if (err != NULL)
		*err = capture_take(fe);
	close(fo);
	close(fe);
	return rc;
}

int
capture_vrunl(
    capture_fn fn, char **out, char **err, const char *argv0, va_list ap)
{
	char *argv[ARGS_MAX];
	int argc = 0;

	if (argv0 != NULL)
		argv[argc++] = (char *)(uintptr_t)argv0;
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		if (++argc == ARGS_MAX - 1)
			scratch_die("more than %d arguments", ARGS_MAX - 2);
	return capture_run(fn, argc, argv, out, err);
}

int
capture_runl(capture_fn fn, char **out, char **err, ...)
{
	va_list ap;
	int rc;

	va_start(ap, err);
	rc = capture_vrunl(fn, out, err, NULL, ap);
	va_end(ap);
	return rc;
}
