/*
 * The harness's processes (harness.h): the real programs started, waited
 * for, signalled and measured; every one dies with the test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

static int
status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

static pid_t
spawn(struct h_sys *s, const char *out, const char *err,
    const char *const argv[], const char *const env[])
{
	pid_t parent = getpid();
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Never outlive the test, whatever kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int in = open("/dev/null", O_RDONLY);
		int o = open(out ? out : "/dev/null",
		    O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = err == out && out != NULL
		    ? o
		    : open(err ? err : "/dev/null",
		          O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || o < 0 || e < 0 || chdir(s->dir) != 0)
			_exit(127);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		for (size_t i = 0; env != NULL && env[i] != NULL; i++)
			putenv((char *)(uintptr_t)env[i]);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return pid;
}

/* What a program is waiting in, in the kernel: its wchan, or "?". */
static void
wait_channel(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%ld/wchan", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL || buf[0] == '\0')
		snprintf(buf, len, "?");
	fclose(f);
}

/*
 * Waits up to ms for pid to exit and reaps it. A child still running then
 * is killed (SIGKILL) and reaped, and hung (when not NULL) says what it
 * was waiting in; otherwise hung is left empty. A pidfd wakes the wait the
 * moment the child exits, so a short program costs no polling.
 */
static int
reap_within(pid_t pid, unsigned ms, char *hung, size_t len)
{
	int fd = pidfd_open(pid, 0);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	uint64_t end = h_now_ms() + ms;
	int st, rc;

	assert_true(fd >= 0);
	if (hung != NULL)
		hung[0] = '\0';
	while ((rc = waitpid(pid, &st, WNOHANG)) == 0) {
		uint64_t now = h_now_ms();
		if (now >= end) {
			if (hung != NULL)
				wait_channel(pid, hung, len);
			kill(pid, SIGKILL);
			while ((rc = waitpid(pid, &st, 0)) < 0)
				assert_int_equal(errno, EINTR);
			break;
		}
		if (poll(&pfd, 1, (int)(end - now)) < 0)
			assert_int_equal(errno, EINTR);
	}
	assert_true(rc == pid);
	close(fd);
	return status_code(st);
}

int
h_run(
    struct h_sys *s, const char *out, const char *err, const char *const argv[])
{
	char hung[128];
	int rc = reap_within(
	    spawn(s, out, err, argv, NULL), H_WAIT_MS, hung, sizeof(hung));

	/* A program that hangs fails the test by name, not by ctest's
	 * timeout with nothing said. */
	if (hung[0] != '\0')
		fail_msg("%s %s: still running after %u ms (waiting in %s), "
		         "killed; its stderr: %s",
		    argv[0], argv[1] != NULL ? argv[1] : "",
		    (unsigned)H_WAIT_MS, hung, err != NULL ? err : "/dev/null");
	return rc;
}

int
h_run_for(struct h_sys *s, const char *out, const char *err,
    const char *const argv[], unsigned ms)
{
	return reap_within(spawn(s, out, err, argv, NULL), ms, NULL, 0);
}

static void
proc_start(struct h_sys *s, struct h_proc *p, const char *const argv[],
    const char *const env[])
{
	assert_int_equal(p->pid, 0);
	p->starts++;
	harness_fmt(p->log, sizeof(p->log), "%s/%s.%u.log", s->logs, p->name,
	    p->starts);
	p->pid = spawn(s, p->log, p->log, argv, env);
}

void
harness_print_tail(const char *path, unsigned lines)
{
	size_t len;
	char *text = scratch_slurp(path, &len);
	const char *start;
	unsigned n = 0;

	if (text == NULL)
		return;
	start = text + len;
	while (start > text && n <= lines)
		if (*--start == '\n')
			n++;
	fprintf(stderr, "---- %s (last lines) ----\n%s\n", path, start);
	free(text);
}

/* Waits for needle in p's log; fails when p exits first. */
static void
proc_ready(struct h_proc *p, const char *needle)
{
	uint64_t end = h_now_ms() + H_WAIT_MS;
	int st;

	while (h_log_count(p, needle) == 0) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			harness_print_tail(p->log, 20);
			fail_msg("%s exited (status %d) before '%s'", p->name,
			    status_code(st), needle);
		}
		if (h_now_ms() > end) {
			harness_print_tail(p->log, 20);
			fail_msg("%s: no '%s' within %d ms", p->name, needle,
			    H_WAIT_MS);
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int
harness_proc_signal(struct h_proc *p, int sig)
{
	uint64_t end = h_now_ms() + H_WAIT_MS;
	int st, rc;

	if (p->pid == 0)
		return -1;
	kill(p->pid, sig);
	for (;;) {
		rc = waitpid(p->pid, &st, WNOHANG);
		if (rc == p->pid)
			break;
		if (h_now_ms() > end) {
			fprintf(stderr, "%s did not stop on signal %d\n",
			    p->name, sig);
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			p->pid = 0;
			return -1;
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	p->pid = 0;
	return status_code(st);
}

void
h_broker_start(struct h_sys *s)
{
	h_broker_start_env(s, NULL);
}

void
h_broker_start_env(struct h_sys *s, const char *const env[])
{
	const char *argv[] = {s->broker_bin, "-c", s->broker_yaml, "-f", NULL};

	if (!s->no_auto_sign)
		h_agreement_sign(s, s->policy, H_ALL_GUARDIANS);
	proc_start(s, &s->broker, argv, env);
	proc_ready(&s->broker, "listening on");
}

#if defined(__SANITIZE_ADDRESS__)
#define H_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H_ASAN 1
#endif
#endif

const char *
h_env_asan(const char *extra)
{
#ifdef H_ASAN
	static char buf[16][1024];
	static unsigned next;
	char *b = buf[next++ % 16];
	const char *now = getenv("ASAN_OPTIONS");

	harness_fmt(b, sizeof(buf[0]), "ASAN_OPTIONS=%s%s%s", now ? now : "",
	    now && *now ? ":" : "", extra);
	return b;
#else
	(void)extra;
	return NULL;
#endif
}

int
h_broker_stop(struct h_sys *s)
{
	return harness_proc_signal(&s->broker, SIGTERM);
}

void
h_broker_kill(struct h_sys *s)
{
	assert_int_equal(
	    harness_proc_signal(&s->broker, SIGKILL), 128 + SIGKILL);
}

void
h_agent_start(struct h_sys *s, int agency, bool wait)
{
	const char *conf = h_p("%s/%s.yaml", s->dir, fixture_agency[agency]);
	const char *argv[] = {s->agent_bin, "-c", conf, "-f", NULL};

	proc_start(s, &s->agent[agency], argv, NULL);
	proc_ready(
	    &s->agent[agency], wait ? "connected to the broker" : "spool");
	/* A real broker sends its agreement on connecting; until the agent
	 * holds one it seals nothing, so a test that stops the broker next
	 * would race it. */
	if (wait && s->broker.pid != 0)
		proc_ready(&s->agent[agency], "is current");
}

int
h_agent_stop(struct h_sys *s, int agency)
{
	return harness_proc_signal(&s->agent[agency], SIGTERM);
}

int
h_agent_signal(struct h_sys *s, int agency, int sig)
{
	return harness_proc_signal(&s->agent[agency], sig);
}

void
h_agent_kill(struct h_sys *s, int agency)
{
	assert_int_equal(
	    harness_proc_signal(&s->agent[agency], SIGKILL), 128 + SIGKILL);
}

unsigned
h_log_count(const struct h_proc *p, const char *needle)
{
	char *text = scratch_slurp(p->log, NULL);
	unsigned n = 0;

	if (text == NULL)
		return 0;
	for (const char *q = text; (q = strstr(q, needle)) != NULL; q++)
		n++;
	free(text);
	return n;
}

struct log_arg {
	const struct h_proc *p;
	const char *needle;
	unsigned n;
};

static bool
log_reached(void *arg)
{
	struct log_arg *l = arg;

	return h_log_count(l->p, l->needle) >= l->n;
}

bool
h_wait_log(const struct h_proc *p, const char *needle, unsigned n, unsigned ms)
{
	struct log_arg l = {p, needle, n};

	return h_wait(ms, log_reached, &l);
}

long
h_proc_kb(pid_t pid, const char *key)
{
	char *text = scratch_slurp(h_p("/proc/%d/status", (int)pid), NULL);
	const char *q;
	long kb = -1;

	assert_non_null(text);
	q = strstr(text, key);
	if (q != NULL)
		kb = strtol(q + strlen(key) + 1, NULL, 10);
	free(text);
	assert_true(kb > 0);
	return kb;
}

long
h_proc_fds(pid_t pid)
{
	DIR *d = opendir(h_p("/proc/%d/fd", (int)pid));
	struct dirent *de;
	long n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

long
h_proc_cpu_ms(pid_t pid)
{
	char *text = scratch_slurp(h_p("/proc/%d/stat", (int)pid), NULL);
	unsigned long long utime, stime;
	const char *q;

	assert_non_null(text);
	/* Fields 14 and 15, counted after the command's closing bracket
	 * (the command itself may hold spaces). */
	q = strrchr(text, ')');
	assert_non_null(q);
	assert_int_equal(sscanf(q + 2,
	                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	                     "%llu %llu",
	                     &utime, &stime),
	    2);
	free(text);
	return (long)((utime + stime) * 1000 /
	    (unsigned long long)sysconf(_SC_CLK_TCK));
}

bool
h_proc_running(struct h_proc *p)
{
	int st;

	if (p->pid == 0)
		return false;
	if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
		p->pid = 0;
		return false;
	}
	return true;
}
