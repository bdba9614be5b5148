/*
 * The daemons as services (issue 12): an agent that cannot reach its
 * broker says so, and a wrong broker key is logged backed off; sd_notify
 * READY/WATCHDOG/RELOADING/STOPPING on a real $NOTIFY_SOCKET; the pid file;
 * log_level, -q and -v; `user:`; the warning when going to the background
 * with syslog unreachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int
setup(void **state)
{
	*state = h_sys_new(NULL, NULL, NULL, 1); /* the example agreement */
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

/*
 * Starts prog with argv (after prog), stderr and stdout to p's next log,
 * env added to the test's environment.
 */
static void
start(struct h_sys *s, struct h_proc *p, const char *const argv[],
    const char *const env[])
{
	pid_t parent = getpid();

	p->starts++;
	harness_fmt(p->log, sizeof(p->log), "%s/%s.%u.log", s->logs, p->name,
	    p->starts);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (fd < 0 || in < 0 || chdir(s->dir) != 0)
			_exit(127);
		dup2(in, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		for (size_t i = 0; env != NULL && env[i] != NULL; i++)
			putenv((char *)(uintptr_t)env[i]);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
}

/* ------------------------------------------------- the agent's link */

/* A TCP socket bound to a free port of 127.0.0.1, not listening. */
static int
free_port(int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* An agency's agent.yaml with another broker endpoint or key. */
static void
agent_yaml(struct h_sys *s, int agency, const char *broker, const char *key)
{
	char text[4096];

	snprintf(text, sizeof(text),
	    "agency: %s\nbroker: %s\nbroker_key: %s\nkey: keys/%s.key\n"
	    "keyring: ring\nspool: spool/%s\npepper: keys/pepper\n",
	    fixture_agency[agency], broker, key, fixture_agency[agency],
	    fixture_agency[agency]);
	scratch_write(h_agent_yaml(s, agency), text, 0644);
}

/*
 * Two agents watched over the same 8 s. The police's points at a port
 * nothing listens on: it says so at once, and not at every retry. The
 * ambulance's holds another broker's key: the handshake fails every time,
 * logged a handful of times with a count, not once a retry (about 55
 * lines in 8 s before), and never as an unreachable broker.
 */
static void
link_errors_reported_backed_off(void **state)
{
	struct h_sys *s = *state;
	const char *gen[] = {s->cli, "keys", "generate", "--broker", "--out",
	    h_p("%s/other", s->dir), NULL};
	struct h_proc *police = &s->agent[H_POLICE];
	struct h_proc *amb = &s->agent[H_AMBULANCE];
	int fd, port;
	uint64_t t0;

	assert_int_equal(h_run(s, NULL, NULL, gen), 0);
	h_broker_start(s);
	/* A port nothing listens on: bound, then closed. */
	fd = free_port(&port);
	close(fd);
	agent_yaml(
	    s, H_POLICE, h_p("tcp://127.0.0.1:%d", port), "keys/broker.pub");
	agent_yaml(s, H_AMBULANCE, s->endpoint, "other/broker.pub");
	t0 = h_now_ms();
	h_agent_start(s, H_POLICE, false);
	h_agent_start(s, H_AMBULANCE, false);
	assert_true(h_wait_log(police, "cannot reach the broker", 1, 5000));
	assert_true(h_now_ms() - t0 < 5000);
	assert_int_equal(h_log_count(police, "reason=unreachable"), 1);
	assert_true(
	    h_wait_log(amb, "handshake with the broker failed", 1, 5000));
	sleep_ms(8000);
	/* ZeroMQ retries every 0.1 s at first, then up to every 5 s: the
	 * lines come at 0, 1, 3, 7 s. */
	assert_in_range(h_log_count(police, "cannot reach the broker"), 2, 6);
	assert_true(h_log_count(police, "(repeated ") >= 1);
	assert_in_range(h_log_count(amb, "handshake with the broker"), 2, 6);
	assert_true(h_log_count(amb, "(repeated ") >= 1);
	assert_true(h_log_count(amb, "reason=handshake_failed") >= 2);
	assert_int_equal(h_log_count(amb, "cannot reach the broker"), 0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_AMBULANCE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/* ---------------------------------------------------------- sd_notify */

/* A datagram socket at path, as systemd's $NOTIFY_SOCKET. */
static int
notify_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Waits up to ms for a datagram holding line (e.g. "READY=1"); the whole
 * datagram into got. */
static bool
notify_wait(int fd, const char *line, unsigned ms, char *got, size_t n)
{
	uint64_t end = h_now_ms() + ms;

	while (h_now_ms() < end) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, (int)(end - h_now_ms())) <= 0)
			continue;
		ssize_t len = recv(fd, got, n - 1, 0);
		if (len < 0)
			continue;
		got[len] = '\0';
		for (const char *q = got; (q = strstr(q, line)) != NULL; q++)
			if ((q == got || q[-1] == '\n') &&
			    (q[strlen(line)] == '\0' ||
			        q[strlen(line)] == '\n'))
				return true;
	}
	return false;
}

static void
broker_notifies(void **state)
{
	struct h_sys *s = *state;
	const char *sock = h_p("%s/notify.sock", s->dir);
	char env1[PATH_MAX + 32], got[1024];
	int fd = notify_socket(sock);

	snprintf(env1, sizeof(env1), "NOTIFY_SOCKET=%s", sock);
	const char *env[] = {env1, "WATCHDOG_USEC=1000000", NULL};
	h_broker_start_env(s, env);
	assert_true(notify_wait(fd, "READY=1", 5000, got, sizeof(got)));
	assert_non_null(strstr(got, "STATUS=listening on"));
	/* Half of WATCHDOG_USEC: two pings in well under 3 s. */
	assert_true(notify_wait(fd, "WATCHDOG=1", 3000, got, sizeof(got)));
	assert_true(notify_wait(fd, "WATCHDOG=1", 3000, got, sizeof(got)));
	kill(s->broker.pid, SIGHUP);
	assert_true(notify_wait(fd, "RELOADING=1", 5000, got, sizeof(got)));
	assert_non_null(strstr(got, "MONOTONIC_USEC="));
	assert_true(notify_wait(fd, "READY=1", 5000, got, sizeof(got)));
	kill(s->broker.pid, SIGTERM);
	assert_true(notify_wait(fd, "STOPPING=1", 5000, got, sizeof(got)));
	assert_int_equal(h_broker_stop(s), 0);
	close(fd);
	h_pass(s);
}

static void
agent_notifies(void **state)
{
	struct h_sys *s = *state;
	const char *sock = h_p("%s/notify.sock", s->dir);
	char env1[PATH_MAX + 32], got[1024];
	int fd = notify_socket(sock);
	const char *argv[] = {
	    s->agent_bin, "-c", h_agent_yaml(s, H_POLICE), "-f", NULL};

	snprintf(env1, sizeof(env1), "NOTIFY_SOCKET=%s", sock);
	const char *env[] = {env1, "WATCHDOG_USEC=1000000", NULL};
	/* No broker: an agent is ready once it runs, connected or not. */
	start(s, &s->agent[H_POLICE], argv, env);
	assert_true(notify_wait(fd, "READY=1", 5000, got, sizeof(got)));
	assert_non_null(strstr(got, "STATUS=agency police"));
	assert_true(notify_wait(fd, "WATCHDOG=1", 3000, got, sizeof(got)));
	kill(s->agent[H_POLICE].pid, SIGTERM);
	assert_true(notify_wait(fd, "STOPPING=1", 5000, got, sizeof(got)));
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	close(fd);
	h_pass(s);
}

/* ----------------------------------------------------------- pid file */

static long
pid_in(const char *path)
{
	char *text = scratch_slurp(path, NULL);
	long pid = text != NULL ? strtol(text, NULL, 10) : -1;

	free(text);
	return pid;
}

static void
pid_file_while_running(void **state)
{
	struct h_sys *s = *state;
	const char *pidf = h_p("%s/agent.pid", s->dir);
	const char *argv[] = {s->agent_bin, "-c", h_agent_yaml(s, H_POLICE),
	    "-f", "-p", pidf, NULL};
	char extra[PATH_MAX + 32];

	/* A stale one, from a crash, is replaced. */
	scratch_write(pidf, "999999\n", 0644);
	start(s, &s->agent[H_POLICE], argv, NULL);
	assert_true(h_wait_log(&s->agent[H_POLICE], "spool", 1, H_WAIT_MS));
	assert_true(h_wait_file(pidf, 5000));
	sleep_ms(200);
	assert_int_equal(pid_in(pidf), (long)s->agent[H_POLICE].pid);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(access(pidf, F_OK), -1);
	/* And from broker.yaml's pid_file, relative to its folder. */
	snprintf(extra, sizeof(extra), "pid_file: run/broker.pid\n");
	mkdir(h_p("%s/run", s->dir), 0755);
	FILE *f = fopen(s->broker_yaml, "a");
	assert_non_null(f);
	fputs(extra, f);
	fclose(f);
	h_broker_start(s);
	assert_true(h_wait_file(h_p("%s/run/broker.pid", s->dir), 5000));
	sleep_ms(100);
	assert_int_equal(
	    pid_in(h_p("%s/run/broker.pid", s->dir)), (long)s->broker.pid);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(access(h_p("%s/run/broker.pid", s->dir), F_OK), -1);
	h_pass(s);
}

/*
 * A second broker on a data folder in use, started to go to the
 * background: refused before it detaches, on stderr, naming the first
 * (before, its parent exited 0 and the refusal went to syslog alone).
 */
static void
second_broker_refused_before_detaching(void **state)
{
	struct h_sys *s = *state;
	const char *err = h_p("%s/second.err", s->dir);
	const char *argv[] = {s->broker_bin, "-c", s->broker_yaml, NULL};
	char pid[64], *text;

	h_broker_start(s);
	snprintf(pid, sizeof(pid), "%ld concordat-broker", (long)s->broker.pid);
	assert_int_equal(h_run(s, NULL, err, argv), 75);
	text = scratch_read(err, NULL);
	assert_non_null(strstr(text, "in use by another process"));
	assert_non_null(strstr(text, pid));
	free(text);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/* ---------------------------------------------------------- log level */

static void
log_levels(void **state)
{
	struct h_sys *s = *state;
	const char *conf = h_agent_yaml(s, H_POLICE);
	const char *quiet[] = {s->agent_bin, "-c", conf, "-f", "-q", NULL};
	const char *loud[] = {s->agent_bin, "-c", conf, "-f", "-v", NULL};
	const char *check[] = {s->agent_bin, "-c", conf, "-n", NULL};
	const char *err = h_p("%s/check.err", s->dir);
	struct h_proc *p = &s->agent[H_POLICE];

	/* -q: warnings and errors only; the closed port still shows. */
	h_sys_use_tcp(s);
	start(s, p, quiet, NULL);
	assert_true(h_wait_log(p, "cannot reach the broker", 1, 5000));
	assert_int_equal(h_log_count(p, "spool"), 0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	/* log_level: warning and -v: info again. */
	h_agent_config(s, H_POLICE, "log_level: warning\n");
	start(s, p, loud, NULL);
	assert_true(h_wait_log(p, "spool", 1, 5000));
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	/* log_level: error hides the warning. */
	h_agent_config(s, H_POLICE, "log_level: error\n");
	start(s, p, quiet + 0, NULL);
	sleep_ms(1500);
	assert_int_equal(h_log_count(p, "cannot reach the broker"), 0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	/* A bad level is a configuration error naming file and line. */
	h_agent_config(s, H_POLICE, "log_level: loud\n");
	assert_int_equal(h_run(s, NULL, err, check), 78);
	char *text = scratch_read(err, NULL);
	assert_non_null(strstr(text, "police.yaml:8:"));
	assert_non_null(strstr(text, "log_level: 'loud' is not a level"));
	free(text);
	h_pass(s);
}

/*
 * Under systemd with stderr on the journal ($JOURNAL_STREAM names it):
 * no fork even without -f, and each line starts with its priority.
 */
static void
journal_prefixes(void **state)
{
	struct h_sys *s = *state;
	struct h_proc *p = &s->agent[H_POLICE];
	const char *argv[] = {
	    s->agent_bin, "-c", h_agent_yaml(s, H_POLICE), NULL};
	const char *log = h_p("%s/%s.%u.log", s->logs, p->name, p->starts + 1);
	char env1[96];
	struct stat st;

	h_sys_use_tcp(s);
	scratch_write(log, "", 0644);
	assert_int_equal(stat(log, &st), 0);
	snprintf(env1, sizeof(env1), "JOURNAL_STREAM=%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	const char *env[] = {env1, NULL};
	start(s, p, argv, env);
	assert_string_equal(p->log, log);
	assert_true(h_wait_log(p, "<4>cannot reach the broker", 1, 5000));
	assert_int_equal(h_log_count(p, "<6>agency police: spool"), 1);
	assert_int_equal(h_log_count(p, "concordat-agent: "), 0);
	assert_true(h_proc_running(p)); /* not gone to the background */
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	h_pass(s);
}

/* --------------------------------------------------------------- user */

/* Root with `user: nobody` runs as nobody; an unknown user is refused. */
static void
user_switch(void **state)
{
	struct h_sys *s = *state;
	const char *conf = h_agent_yaml(s, H_POLICE);
	const char *argv[] = {s->agent_bin, "-c", conf, "-f", NULL};
	const char *err = h_p("%s/user.err", s->dir);
	struct passwd *pw = getpwnam("nobody");
	char line[64], *status;
	const char *chown_[] = {"/bin/chown", "-R",
	    h_p("%u:%u", pw ? pw->pw_uid : 0, pw ? pw->pw_gid : 0), s->dir,
	    NULL};

	assert_int_equal(geteuid(), 0); /* the integration tests run as root */
	assert_non_null(pw);
	h_agent_config(s, H_POLICE, "user: no_such_user_here\n");
	assert_int_equal(h_run(s, NULL, err, argv), 67);
	char *text = scratch_read(err, NULL);
	assert_non_null(strstr(text, "no user 'no_such_user_here'"));
	free(text);
	/* -n says so too, before anything is started. */
	const char *check[] = {s->agent_bin, "-c", conf, "-n", NULL};
	assert_int_equal(h_run(s, NULL, err, check), 67);
	text = scratch_read(err, NULL);
	assert_non_null(strstr(text, "no user 'no_such_user_here'"));
	free(text);
	/* The agent's files are nobody's, as an install makes them. */
	h_agent_config(s, H_POLICE, "user: nobody\n");
	assert_int_equal(h_run(s, NULL, NULL, chown_), 0);
	assert_int_equal(chmod(s->dir, 0755), 0);
	start(s, &s->agent[H_POLICE], argv, NULL);
	assert_true(h_wait_log(&s->agent[H_POLICE], "spool", 1, H_WAIT_MS));
	status = scratch_read(
	    h_p("/proc/%ld/status", (long)s->agent[H_POLICE].pid), NULL);
	snprintf(line, sizeof(line), "\nUid:\t%u\t%u\t%u", pw->pw_uid,
	    pw->pw_uid, pw->pw_uid);
	assert_non_null(strstr(status, line));
	free(status);
	assert_int_equal(
	    h_log_count(&s->agent[H_POLICE], "running as root"), 0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	h_pass(s);
}

/* ------------------------------------------------------------- syslog */

/*
 * Without -f and outside systemd the agent goes to the background and logs
 * to syslog: with nothing on /dev/log it says so on stderr first.
 */
static void
syslog_unreachable_warns(void **state)
{
	struct h_sys *s = *state;
	const char *pidf = h_p("%s/bg.pid", s->dir);
	const char *conf = h_agent_yaml(s, H_POLICE);
	const char *argv[] = {s->agent_bin, "-c", conf, "-p", pidf, NULL};
	const char *env[] = {
	    "INVOCATION_ID=", "NOTIFY_SOCKET=", "JOURNAL_STREAM=", NULL};
	struct h_proc *p = &s->agent[H_POLICE];
	struct stat st;
	int status;
	long pid;

	bool reachable = stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
	start(s, p, argv, env);
	/* The parent exits once the child is on its own. */
	assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
	p->pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(h_wait_file(pidf, 5000));
	sleep_ms(100);
	pid = pid_in(pidf);
	assert_true(pid > 1);
	if (reachable)
		assert_int_equal(h_log_count(p, "syslog is unreachable"), 0);
	else
		assert_int_equal(
		    h_log_count(p, "WARNING: syslog is unreachable"), 1);
	assert_int_equal(kill((pid_t)pid, SIGTERM), 0);
	for (int i = 0; i < 500 && kill((pid_t)pid, 0) == 0; i++)
		sleep_ms(10);
	assert_int_equal(kill((pid_t)pid, 0), -1);
	assert_true(h_wait_none(s->dir, "bg.pid", 2000));
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        link_errors_reported_backed_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(broker_notifies, setup, teardown),
	    cmocka_unit_test_setup_teardown(agent_notifies, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        pid_file_while_running, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        second_broker_refused_before_detaching, setup, teardown),
	    cmocka_unit_test_setup_teardown(log_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(journal_prefixes, setup, teardown),
	    cmocka_unit_test_setup_teardown(user_switch, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        syslog_unreachable_warns, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
