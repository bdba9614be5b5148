/*
 * A function run in a child process, its answer read back through a pipe
 * (isolate.h). The child is told to die with its parent, so a broker
 * killed during its start check leaves no checker behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/isolate.h"

static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads up to len bytes, until end of file; returns how many. */
static size_t
read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, p + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void
child(int fd, pid_t parent, int (*fn)(void *, void *, size_t), void *arg,
    void *out, size_t len)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	/* What would kill the child kills it: no handler of the parent's
	 * (a test framework's, a sanitizer's) may carry it on. */
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], SIG_DFL);
	rc = fn(arg, out, len);
	fflush(NULL);
	if (write_all(fd, &rc, sizeof(rc)) != 0 || write_all(fd, out, len) != 0)
		_exit(1);
	_exit(0);
}

int
isolate_run(int (*fn)(void *arg, void *out, size_t len), void *arg, void *out,
    size_t len, int *death)
{
	pid_t parent = getpid(), pid;
	int fds[2], st, rc = 0;
	size_t got;

	*death = 0;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return ERROR_NOMEM;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return ERROR_NOMEM;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], parent, fn, arg, out, len);
	}
	close(fds[1]);
	got = read_all(fds[0], &rc, sizeof(rc));
	if (got == sizeof(rc))
		got += read_all(fds[0], out, len);
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return ERROR_INTERNAL;
	if (got == sizeof(rc) + len && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return rc;
	memset(out, 0, len);
	*death =
	    WIFSIGNALED(st) ? WTERMSIG(st) : ISOLATE_EXITED + WEXITSTATUS(st);
	return ERROR_INTERNAL;
}

bool
isolate_fault(int death)
{
	switch (death) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGABRT:
	case SIGSYS:
		return true;
	default:
		return death >= ISOLATE_EXITED;
	}
}

const char *
isolate_death(int death, char *buf, size_t n)
{
	if (death >= ISOLATE_EXITED)
		snprintf(
		    buf, n, "exited with status %d", death - ISOLATE_EXITED);
	else if (death > 0)
		snprintf(buf, n, "killed by signal SIG%s (%s)",
		    sigabbrev_np(death) ? sigabbrev_np(death) : "?",
		    strsignal(death));
	else
		snprintf(buf, n, "finished");
	return buf;
}
