/*
 * audittest_cli: `concordat audit` run in-process with its output captured
 * (audittest.h). Its own library, so that only the CLI tests link the
 * verbs (auditverbs).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/verbs/audit_verbs.h"
#include "audittest.h"

#define MUST(cond)                                                             \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: harness: %s\n", __FILE__,      \
			    __LINE__, #cond);                                  \
			abort();                                               \
		}                                                              \
	} while (0)

/* Reads and removes the capture file behind fd. */
static char *
slurp(int fd)
{
	struct stat st;
	char *buf;

	MUST(fstat(fd, &st) == 0);
	MUST((buf = malloc((size_t)st.st_size + 1)) != NULL);
	MUST(pread(fd, buf, (size_t)st.st_size, 0) == st.st_size);
	buf[st.st_size] = '\0';
	return buf;
}

static int
capture_fd(void)
{
	char path[] = "/tmp/concordat-audit-out-XXXXXX";
	int fd = mkstemp(path);

	MUST(fd >= 0);
	unlink(path);
	return fd;
}

int
audittest_cli(char **out, char **err, ...)
{
	va_list ap;
	int rc;

	va_start(ap, err);
	rc = audittest_vcli(out, err, ap);
	va_end(ap);
	return rc;
}

int
audittest_vcli(char **out, char **err, va_list ap)
{
	char *argv[64];
	int argc = 0, rc, fo, fe, so, se;

	argv[argc++] = (char *)(uintptr_t) "audit";
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		MUST(++argc < 63);
	fflush(stdout);
	fflush(stderr);
	fo = capture_fd();
	fe = capture_fd();
	MUST((so = dup(1)) >= 0 && (se = dup(2)) >= 0);
	MUST(dup2(fo, 1) == 1 && dup2(fe, 2) == 2);
	rc = audit_cli(argc, argv);
	fflush(stdout);
	fflush(stderr);
	MUST(dup2(so, 1) == 1 && dup2(se, 2) == 2);
	close(so);
	close(se);
	if (out != NULL)
		*out = slurp(fo);
	if (err != NULL)
		*err = slurp(fe);
	close(fo);
	close(fe);
	return rc;
}
