/*
 * The integration harness (harness.h): real processes in a temporary
 * folder, deadlines instead of sleeps, and a custom CURVE client built on
 * proto/ and keys/ the way an agent is.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/fields.h"
#include "common/urgency.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "proto/envelope.h"
#include "proto/event.h"
#include "proto/event.h"
#include "proto/record.h"
#include "tests/integration/harness.h"

/* ------------------------------------------------------------- small */

const char *
h_p(const char *fmt, ...)
{
	static char ring[16][PATH_MAX];
	static unsigned next;
	char *b = ring[next++ % 16];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(b, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
	return b;
}

/* snprintf that fails the test instead of cutting a path short. */
static void
fmt(char *buf, size_t n, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	int r = vsnprintf(buf, n, f, ap);
	va_end(ap);
	assert_true(r >= 0 && (size_t)r < n);
}

const char *
h_spool(struct h_sys *s, int agency, const char *sub)
{
	return h_p("%s/spool/%s/%s", s->dir, fixture_agency[agency], sub);
}

uint64_t
h_now_ms(void)
{
	return clock_mono_ms();
}

void
h_hex(const uint8_t *b, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, b, n);
}

json_t *
h_json(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);

	if (j == NULL)
		fail_msg(
		    "%s: not JSON: %s (line %d)", path, err.text, err.line);
	return j;
}

static void
copy_file(const char *from, const char *to)
{
	char *text = scratch_slurp(from, NULL);

	if (text == NULL)
		fail_msg("cannot read %s", from);
	scratch_write(to, text, 0644);
	free(text);
}

static void
mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0750);
		*p = '/';
	}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		fail_msg("cannot create %s: %s", buf, strerror(errno));
}

size_t
h_count(const char *dir, const char *suffix)
{
	size_t n = 0, sl = strlen(suffix);
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] != '.' && l >= sl &&
		    strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

bool
h_wait(unsigned ms, bool (*pred)(void *arg), void *arg)
{
	uint64_t end = h_now_ms() + ms;

	for (;;) {
		if (pred(arg))
			return true;
		if (h_now_ms() >= end)
			return false;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static bool
file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

bool
h_wait_file(const char *path, unsigned ms)
{
	return h_wait(ms, file_exists, (void *)(uintptr_t)path);
}

struct count_arg {
	const char *dir, *suffix;
	size_t n;
};

static bool
count_reached(void *arg)
{
	struct count_arg *c = arg;

	return h_count(c->dir, c->suffix) >= c->n;
}

bool
h_wait_count(const char *dir, const char *suffix, size_t n, unsigned ms)
{
	struct count_arg c = {dir, suffix, n};

	return h_wait(ms, count_reached, &c);
}

static bool
count_zero(void *arg)
{
	struct count_arg *c = arg;

	return h_count(c->dir, c->suffix) == 0;
}

bool
h_wait_none(const char *dir, const char *suffix, unsigned ms)
{
	struct count_arg c = {dir, suffix, 0};

	return h_wait(ms, count_zero, &c);
}

void
h_drop(struct h_sys *s, int agency, const char *name, const char *json)
{
	const char *tmp = h_p("%s/%s", h_spool(s, agency, "tmp"), name);
	const char *out = h_p("%s/%s", h_spool(s, agency, "outbox"), name);

	mkdirs(h_spool(s, agency, "tmp"));
	mkdirs(h_spool(s, agency, "outbox"));
	scratch_write(tmp, json, 0640);
	if (rename(tmp, out) != 0)
		fail_msg("cannot move %s into the outbox: %s", name,
		    strerror(errno));
}

static const char *grep_needle;
static size_t grep_hits;
static char *grep_found;
static size_t grep_found_n;

static int
grep_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	size_t len;
	char *buf;

	(void)f;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	buf = scratch_slurp(path, &len);
	if (buf == NULL)
		return 0;
	if (memmem(buf, len, grep_needle, strlen(grep_needle)) != NULL) {
		if (grep_hits++ == 0 && grep_found != NULL)
			snprintf(grep_found, grep_found_n, "%s", path);
	}
	free(buf);
	return 0;
}

size_t
h_tree_grep(const char *root, const char *needle, char *found, size_t n)
{
	grep_needle = needle;
	grep_hits = 0;
	grep_found = found;
	grep_found_n = n;
	if (found != NULL && n > 0)
		found[0] = '\0';
	if (access(root, F_OK) != 0)
		return 0;
	assert_int_equal(nftw(root, grep_one, 16, FTW_PHYS), 0);
	return grep_hits;
}

/* --------------------------------------------------------- processes */

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

int
h_run(
    struct h_sys *s, const char *out, const char *err, const char *const argv[])
{
	int st;
	pid_t pid = spawn(s, out, err, argv, NULL);

	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	return status_code(st);
}

int
h_run_for(struct h_sys *s, const char *out, const char *err,
    const char *const argv[], unsigned ms)
{
	uint64_t end = h_now_ms() + ms;
	pid_t pid = spawn(s, out, err, argv, NULL);
	int st, rc;

	while ((rc = waitpid(pid, &st, WNOHANG)) == 0) {
		if (h_now_ms() > end) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0)
				assert_int_equal(errno, EINTR);
			break;
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_true(rc >= 0);
	return status_code(st);
}

static void
proc_start(struct h_sys *s, struct h_proc *p, const char *const argv[],
    const char *const env[])
{
	assert_int_equal(p->pid, 0);
	p->starts++;
	fmt(p->log, sizeof(p->log), "%s/%s.%u.log", s->logs, p->name,
	    p->starts);
	p->pid = spawn(s, p->log, p->log, argv, env);
}

static void
print_tail(const char *path, unsigned lines)
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
			print_tail(p->log, 20);
			fail_msg("%s exited (status %d) before '%s'", p->name,
			    status_code(st), needle);
		}
		if (h_now_ms() > end) {
			print_tail(p->log, 20);
			fail_msg("%s: no '%s' within %d ms", p->name, needle,
			    H_WAIT_MS);
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int
proc_signal(struct h_proc *p, int sig)
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

	fmt(b, sizeof(buf[0]), "ASAN_OPTIONS=%s%s%s", now ? now : "",
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
	return proc_signal(&s->broker, SIGTERM);
}

void
h_broker_kill(struct h_sys *s)
{
	assert_int_equal(proc_signal(&s->broker, SIGKILL), 128 + SIGKILL);
}

void
h_agent_start(struct h_sys *s, int agency, bool wait)
{
	const char *conf = h_p("%s/%s.yaml", s->dir, fixture_agency[agency]);
	const char *argv[] = {s->agent_bin, "-c", conf, "-f", NULL};

	proc_start(s, &s->agent[agency], argv, NULL);
	proc_ready(
	    &s->agent[agency], wait ? "connected to the broker" : "spool");
}

int
h_agent_stop(struct h_sys *s, int agency)
{
	return proc_signal(&s->agent[agency], SIGTERM);
}

int
h_agent_signal(struct h_sys *s, int agency, int sig)
{
	return proc_signal(&s->agent[agency], sig);
}

void
h_agent_kill(struct h_sys *s, int agency)
{
	assert_int_equal(
	    proc_signal(&s->agent[agency], SIGKILL), 128 + SIGKILL);
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

/* ------------------------------------------------------------ set-up */

static const char *
cli_out(struct h_sys *s)
{
	return h_p("%s/cli.out", s->dir);
}

/* broker.yaml and the agents' configurations, for s->endpoint. */
static void
write_configs(struct h_sys *s)
{
	char text[8192];

	/* 64 MiB unless the test sets its own map size. */
	fmt(text, sizeof(text),
	    "listen: %s\nkey: keys/broker.key\nkeyring: ring\npolicy: %s\n"
	    "data: bdata\n%s%s",
	    s->endpoint, s->policy,
	    strstr(s->broker_extra, "map_size_mb:") ? "" : "map_size_mb: 64\n",
	    s->broker_extra);
	scratch_write(s->broker_yaml, text, 0644);
	for (int i = 0; i < H_NAG; i++)
		h_agent_config(s, i, s->agent_extra);
}

struct h_sys *
h_sys_new(const char *policy_text, const char *broker_extra,
    const char *agent_extra, unsigned tests)
{
	struct h_sys *s = calloc(1, sizeof(*s));
	const char *build = getenv("CONCORDAT_BUILD_DIR");
	const char *source = getenv("CONCORDAT_SOURCE_DIR");

	assert_non_null(s);
	if (build == NULL || source == NULL)
		fail_msg("CONCORDAT_BUILD_DIR and CONCORDAT_SOURCE_DIR must be "
		         "set (ctest sets them)");
	assert_int_equal(sodium_init() >= 0, 1);
	signal(SIGPIPE, SIG_IGN);
	s->tests = tests;
	fmt(s->build, sizeof(s->build), "%s", build);
	fmt(s->source, sizeof(s->source), "%s", source);
	fmt(s->cli, sizeof(s->cli), "%s/cli/concordat", build);
	fmt(s->broker_bin, sizeof(s->broker_bin), "%s/broker/concordat-broker",
	    build);
	fmt(s->agent_bin, sizeof(s->agent_bin), "%s/agents/concordat-agent",
	    build);
	/* Under a short TMPDIR: an ipc:// path must fit in sun_path. */
	scratch_dir_in(s->dir, sizeof(s->dir), "int");
	fmt(s->endpoint, sizeof(s->endpoint), "ipc://%s/broker.sock", s->dir);
	fmt(s->logs, sizeof(s->logs), "%s/logs", s->dir);
	fmt(s->data, sizeof(s->data), "%s/bdata", s->dir);
	mkdirs(s->logs);
	snprintf(s->broker.name, sizeof(s->broker.name), "broker");
	for (int i = 0; i < H_NAG; i++)
		snprintf(s->agent[i].name, sizeof(s->agent[i].name), "%s",
		    fixture_agency[i]);

	/* Keys through the real command, as an administrator makes them. */
	const char *keys = h_p("%s/keys", s->dir);
	const char *gen_broker[] = {
	    s->cli, "keys", "generate", "--broker", "--out", keys, NULL};
	assert_int_equal(h_run(s, cli_out(s), NULL, gen_broker), 0);
	mkdirs(h_p("%s/ring", s->dir));
	for (int i = 0; i < H_NAG; i++) {
		const char *gen[] = {s->cli, "keys", "generate", "--agency",
		    fixture_agency[i], "--out", keys, NULL};
		assert_int_equal(h_run(s, cli_out(s), NULL, gen), 0);
		copy_file(h_p("%s/%s.pub", keys, fixture_agency[i]),
		    h_p("%s/ring/%s.pub", s->dir, fixture_agency[i]));
	}
	const char *pep[] = {
	    s->cli, "keys", "pepper", "--out", h_p("%s/pepper", keys), NULL};
	assert_int_equal(h_run(s, cli_out(s), NULL, pep), 0);

	if (policy_text != NULL) {
		fmt(s->policy, sizeof(s->policy), "%s/policy.yaml", s->dir);
		scratch_write(s->policy, policy_text, 0644);
	} else {
		fmt(s->policy, sizeof(s->policy), "%s", fixture_agreement());
	}
	fmt(s->broker_yaml, sizeof(s->broker_yaml), "%s/broker.yaml", s->dir);
	s->broker_extra = strdup(broker_extra ? broker_extra : "");
	s->agent_extra = strdup(agent_extra ? agent_extra : "");
	assert_true(s->broker_extra != NULL && s->agent_extra != NULL);
	write_configs(s);
	return s;
}

int
h_sys_use_tcp(struct h_sys *s)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(s->broker.pid, 0);
	assert_true(fd >= 0);
	/* Port 0: the kernel picks one that nothing uses; the broker binds
	 * it a moment later (a race only another test could lose). */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	s->port = ntohs(a.sin_port);
	fmt(s->endpoint, sizeof(s->endpoint), "tcp://127.0.0.1:%d", s->port);
	write_configs(s);
	return s->port;
}

int
h_tcp_connect(struct h_sys *s)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s->port > 0);
	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)s->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail_msg("cannot connect to 127.0.0.1:%d: %s", s->port,
		    strerror(errno));
	return fd;
}

const char *
h_agent_yaml(struct h_sys *s, int agency)
{
	return h_p("%s/%s.yaml", s->dir, fixture_agency[agency]);
}

void
h_agent_config(struct h_sys *s, int agency, const char *extra)
{
	char text[8192];

	fmt(text, sizeof(text),
	    "agency: %s\nbroker: %s\nbroker_key: keys/broker.pub\n"
	    "key: keys/%s.key\nkeyring: ring\nspool: spool/%s\n"
	    "pepper: keys/pepper\n%s",
	    fixture_agency[agency], s->endpoint, fixture_agency[agency], fixture_agency[agency],
	    extra ? extra : "");
	scratch_write(h_agent_yaml(s, agency), text, 0644);
}

/* ------------------------------------------------------- file systems */

void
h_tmpfs(struct h_sys *s, const char *dir, size_t bytes)
{
	static bool private;
	char opts[64];

	if (!private) {
		if (unshare(CLONE_NEWNS) != 0)
			fail_msg("unshare(CLONE_NEWNS): %s (the test needs "
			         "root)",
			    strerror(errno));
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			fail_msg(
			    "mount --make-rprivate /: %s", strerror(errno));
		private = true;
	}
	assert_true(s->n_mounts < sizeof(s->mounts) / sizeof(s->mounts[0]));
	mkdirs(dir);
	fmt(opts, sizeof(opts), "size=%zu,mode=0750", bytes);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
		fail_msg("mount tmpfs on %s: %s", dir, strerror(errno));
	fmt(s->mounts[s->n_mounts], sizeof(s->mounts[0]), "%s", dir);
	s->n_mounts++;
}

void
h_fill(const char *path)
{
	static const char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = write(fd, block, sizeof(block));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOSPC)
			break;
		if (n <= 0)
			fail_msg("%s: %s", path, strerror(errno));
	}
	/* And the last bytes a partial block could still take. */
	while (write(fd, block, 1) == 1)
		;
	close(fd);
}

void
h_pass(struct h_sys *s)
{
	s->passed++;
}

void
h_sys_free(struct h_sys *s)
{
	bool ok;

	if (s == NULL)
		return;
	ok = s->passed >= s->tests;
	/* CONCORDAT_KEEP=1 keeps the folder of a passing test, to read. */
	bool keep = getenv("CONCORDAT_KEEP") != NULL;
	for (int i = 0; i < H_NAG; i++)
		if (s->agent[i].pid != 0 &&
		    proc_signal(&s->agent[i], SIGTERM) != 0)
			ok = false;
	if (s->broker.pid != 0 && proc_signal(&s->broker, SIGTERM) != 0)
		ok = false;
	while (s->n_mounts > 0)
		umount2(s->mounts[--s->n_mounts], MNT_DETACH);
	for (int i = 0; i < H_NAG; i++) {
		keys_secret_free(s->sk[i]);
	}
	keys_pepper_free(s->pepper);
	free(s->broker_extra);
	free(s->agent_extra);
	if (ok && !keep) {
		scratch_rmrf(s->dir);
	} else if (ok) {
		fprintf(stderr, "kept the test folder %s\n", s->dir);
	} else {
		fprintf(stderr, "kept the test folder %s\n", s->dir);
		DIR *d = opendir(s->logs);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				print_tail(
				    h_p("%s/%s", s->logs, de->d_name), 15);
		if (d != NULL)
			closedir(d);
	}
	free(s);
}

/* ------------------------------------------------- arrivals in a folder */

#define WATCH_SLOTS 8192 /* a power of two, well above any test's count */

struct h_watch {
	int fd;
	size_t distinct, repeated;
	struct {
		char id[33];
		unsigned n;
	} slot[WATCH_SLOTS];
};

struct h_watch *
h_watch_new(const char *dir)
{
	struct h_watch *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(w->fd >= 0);
	if (inotify_add_watch(w->fd, dir, IN_MOVED_TO) < 0)
		fail_msg("inotify on %s: %s", dir, strerror(errno));
	return w;
}

void
h_watch_free(struct h_watch *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	free(w);
}

static bool
is_msg_name(const char *n)
{
	if (strlen(n) != 37 || strcmp(n + 32, ".json") != 0)
		return false;
	for (int i = 0; i < 32; i++)
		if (strchr("0123456789abcdef", n[i]) == NULL)
			return false;
	return true;
}

static unsigned *
watch_slot(struct h_watch *w, const char *id, bool add)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 32; i++)
		h = (h ^ (uint8_t)id[i]) * 16777619u;
	for (unsigned k = 0; k < WATCH_SLOTS; k++) {
		unsigned i = (h + k) & (WATCH_SLOTS - 1);
		if (memcmp(w->slot[i].id, id, 32) == 0)
			return &w->slot[i].n;
		if (w->slot[i].id[0] == '\0') {
			if (!add)
				return NULL;
			memcpy(w->slot[i].id, id, 32);
			return &w->slot[i].n;
		}
	}
	fail_msg("h_watch: more than %d names", WATCH_SLOTS);
	return NULL;
}

void
h_watch_drain(struct h_watch *w)
{
	char buf[64 * 1024]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev =
			    (struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				fail_msg("h_watch: the kernel dropped events");
			if (ev->len > 0 && is_msg_name(ev->name)) {
				unsigned *c = watch_slot(w, ev->name, true);
				if (*c == 0)
					w->distinct++;
				else if (*c == 1)
					w->repeated++;
				(*c)++;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

unsigned
h_watch_count(const struct h_watch *w, const char *msg_id)
{
	unsigned *c = watch_slot((struct h_watch *)(uintptr_t)w, msg_id, false);

	return c != NULL ? *c : 0;
}

size_t
h_watch_distinct(const struct h_watch *w)
{
	return w->distinct;
}

size_t
h_watch_repeated(const struct h_watch *w)
{
	return w->repeated;
}

/* ------------------------------------------------------------- audit */

json_t *
h_audit(struct h_sys *s, const char *const args[])
{
	const char *argv[32] = {
	    s->cli, "audit", "query", "--data", s->data, "--json"};
	const char *out = h_p("%s/audit.out", s->dir);
	const char *err = h_p("%s/audit.err", s->dir);
	size_t n = 6, len;
	json_t *all = json_array();
	char *text, *line, *save = NULL;
	int rc;

	for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
		assert_true(n < 31);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	rc = h_run(s, out, err, argv);
	if (rc != 0) {
		print_tail(err, 10);
		fail_msg("concordat audit query exited %d", rc);
	}
	text = scratch_slurp(out, &len);
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t e;
		json_t *ev = json_loads(line, 0, &e);
		if (ev == NULL)
			fail_msg("audit query: not JSON: %s", line);
		json_array_append_new(all, ev);
	}
	free(text);
	return all;
}

size_t
h_audit_count(struct h_sys *s, const char *type, const char *msg_id)
{
	const char *args[] = {
	    "--event", type, msg_id ? "--msg-id" : NULL, msg_id, NULL};
	json_t *evs = h_audit(s, args);
	size_t n = json_array_size(evs);

	json_decref(evs);
	return n;
}

size_t
h_audit_stat(struct h_sys *s, const char *type)
{
	const char *out = h_p("%s/stats.out", s->dir);
	const char *argv[] = {
	    s->cli, "audit", "stats", "--data", s->data, "--json", NULL};
	json_t *st, *n;
	size_t v;

	assert_int_equal(h_run(s, out, NULL, argv), 0);
	st = h_json(out);
	n = json_object_get(json_object_get(st, "types"), type);
	v = n != NULL ? (size_t)json_integer_value(n) : 0;
	json_decref(st);
	return v;
}

/* ------------------------------------------------- the custom client */

static struct keys_secret *
secret(struct h_sys *s, int i)
{
	if (s->sk[i] == NULL) {
		int rc = keys_load_secret(
		    h_p("%s/keys/%s.key", s->dir, fixture_agency[i]), &s->sk[i]);
		if (rc != 0)
			fail_msg("cannot load the key of %s: %s", fixture_agency[i],
			    error_strerror(rc));
	}
	return s->sk[i];
}

static const struct keys_public *public(struct h_sys *s, int i)
{
	if (s->pk[i].id[0] == '\0')
		assert_int_equal(
		    keys_load_public(
		        h_p("%s/keys/%s.pub", s->dir, fixture_agency[i]), &s->pk[i]),
		    0);
	return &s->pk[i];
}

void
h_seal(struct h_sys *s, const struct h_msg *m, uint8_t msg_id[WIRE_MSG_ID_LEN],
    uint8_t **frame, size_t *len)
{
	struct envelope_seal_args a;
	const char *recips[H_NAG];
	uint8_t shared[H_NAG][32], ref[32];
	uint8_t *plain[FIELDS_COUNT + 1] = {0};
	int signer = m->signer >= 0 ? m->signer : m->sender;
	struct keys_secret *sk = secret(s, signer);
	size_t n = m->n_recipients;

	if (s->pepper == NULL)
		assert_int_equal(
		    keys_pepper_load(h_p("%s/keys/pepper", s->dir), &s->pepper),
		    0);
	assert_int_equal(keys_subject_ref_nhs(s->pepper, "9434765919", ref), 0);
	memset(&a, 0, sizeof(a));
	if (n == 0) {
		recips[0] = fixture_agency[H_MHT];
		n = 1;
		assert_int_equal(envelope_shared_key(public(s, H_MHT)->box_pk,
		                     sk->box_sk, shared[0]),
		    0);
	} else {
		for (size_t i = 0; i < n; i++) {
			recips[i] = fixture_agency[m->recipients[i]];
			assert_int_equal(
			    envelope_shared_key(
			        public(s, m->recipients[i])->box_pk, sk->box_sk,
			        shared[i]),
			    0);
		}
	}
	if (m->fields != NULL || m->pad > 0) {
		json_error_t e;
		json_t *o = json_loads(m->fields ? m->fields : "{}", 0, &e), *v;
		const char *key;
		char why[256];
		if (o == NULL)
			fail_msg("h_msg.fields: %s", e.text);
		if (m->pad > 0) {
			/* identity.description of pad bytes, over any given */
			char *d = malloc(m->pad + 1);
			assert_non_null(d);
			memset(d, 'x', m->pad);
			d[m->pad] = '\0';
			json_t *id = json_object_get(o, "identity");
			if (id == NULL) {
				id = json_object();
				json_object_set_new(o, "identity", id);
			}
			json_object_set_new(id, "description", json_string(d));
			free(d);
		}
		json_object_foreach(o, key, v)
		{
			int f = fields_lookup(key);
			assert_true(f > 0);
			if (record_field_encode(f, v, &plain[f],
			        &a.plain_len[f], why, sizeof(why)) != 0)
				fail_msg("h_msg.fields: %s", why);
			a.plain[f] = plain[f];
		}
		json_decref(o);
	}
	a.msg_id = m->reuse_msg_id;
	a.sender = fixture_agency[m->sender];
	a.sign_sk = sk->sign_sk;
	a.created_at_ms = (uint64_t)((int64_t)clock_now_ms() - m->age_ms);
	a.kind = KIND_RECORD;
	a.urgency = m->urgency ? m->urgency : URGENCY_URGENT;
	a.purpose = m->purpose ? m->purpose : "triage_advice";
	a.justification = m->justification;
	a.subject_ref = ref;
	a.n_recipients = n;
	a.recipients = recips;
	a.shared = (const uint8_t(*)[32])shared;
	assert_int_equal(envelope_seal(&a, msg_id, frame, len), 0);
	for (int f = 1; f <= FIELDS_COUNT; f++)
		free(plain[f]);
	sodium_memzero(shared, sizeof(shared));
}

struct h_client {
	void *ctx, *sock, *mon;
};

const uint8_t *
h_broker_transport_key(struct h_sys *s)
{
	if (s->broker_pk.id[0] == '\0')
		assert_int_equal(
		    keys_load_public(
		        h_p("%s/keys/broker.pub", s->dir), &s->broker_pk),
		    0);
	return s->broker_pk.transport_pk;
}

struct h_client *
h_client_new(struct h_sys *s, const char *keyfile)
{
	struct h_client_opts o = {.keyfile = keyfile};

	return h_client_open(s, &o);
}

struct h_client *
h_client_random(struct h_sys *s)
{
	struct h_client_opts o = {0};

	return h_client_open(s, &o);
}

struct h_client *
h_client_open(struct h_sys *s, const struct h_client_opts *o)
{
	static unsigned serial;
	struct h_client *c = calloc(1, sizeof(*c));
	struct keys_secret *k = NULL;
	uint8_t pk[32], sk[32];
	int zero = 0, ivl = o->once ? -1 : 100;
	const char *mon = h_p("inproc://h-monitor-%u", serial++);

	assert_non_null(c);
	if (o->keyfile != NULL) {
		assert_int_equal(keys_load_secret(o->keyfile, &k), 0);
		memcpy(pk, k->pub.transport_pk, 32);
		memcpy(sk, k->transport_sk, 32);
		keys_secret_free(k);
	} else if (o->public_key != NULL) {
		memcpy(pk, o->public_key, 32);
		memcpy(sk, o->secret_key, 32);
	} else {
		crypto_box_keypair(pk, sk); /* CurveZMQ keys are X25519 */
	}
	c->ctx = zmq_ctx_new();
	c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
	assert_non_null(c->sock);
	assert_int_equal(zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY,
	                     h_broker_transport_key(s), 32),
	    0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, pk, 32), 0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sk, 32), 0);
	sodium_memzero(sk, sizeof(sk));
	/* Unbounded queues by default: a burst must never block on the test
	 * side. A slow reader asks for a small receive queue instead. */
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_SNDHWM, &zero, sizeof(zero)), 0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_RCVHWM, &o->rcvhwm, sizeof(o->rcvhwm)),
	    0);
	if (o->rcvbuf > 0)
		assert_int_equal(zmq_setsockopt(c->sock, ZMQ_RCVBUF, &o->rcvbuf,
		                     sizeof(o->rcvbuf)),
		    0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	assert_int_equal(
	    zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)), 0);
	assert_int_equal(zmq_socket_monitor(c->sock, mon, ZMQ_EVENT_ALL), 0);
	c->mon = zmq_socket(c->ctx, ZMQ_PAIR);
	assert_int_equal(zmq_connect(c->mon, mon), 0);
	assert_int_equal(zmq_connect(c->sock, s->endpoint), 0);
	return c;
}

void
h_client_free(struct h_client *c)
{
	if (c == NULL)
		return;
	zmq_socket_monitor(c->sock, NULL, 0);
	zmq_close(c->mon);
	zmq_close(c->sock);
	zmq_ctx_term(c->ctx);
	free(c);
}

int
h_client_event(struct h_client *c, int mask, unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	for (;;) {
		uint64_t now = h_now_ms();
		zmq_pollitem_t it = {c->mon, 0, ZMQ_POLLIN, 0};
		if (now >= end)
			return 0;
		if (zmq_poll(&it, 1, (long)(end - now)) <= 0)
			continue;
		zmq_msg_t ev, addr;
		uint16_t event = 0;
		zmq_msg_init(&ev);
		zmq_msg_init(&addr);
		if (zmq_msg_recv(&ev, c->mon, 0) >= 0) {
			if (zmq_msg_size(&ev) >= 6)
				memcpy(
				    &event, zmq_msg_data(&ev), sizeof(event));
			if (zmq_msg_more(&ev))
				zmq_msg_recv(&addr, c->mon, 0);
		}
		zmq_msg_close(&ev);
		zmq_msg_close(&addr);
		if (event & mask)
			return event;
	}
}

void
h_client_send(struct h_client *c, const void *buf, size_t len)
{
	int rc = zmq_send(c->sock, buf, len, 0);

	if (rc != (int)len)
		fail_msg("client send: %s", zmq_strerror(zmq_errno()));
}

void
h_client_send_parts(
    struct h_client *c, size_t n, const void *const buf[], const size_t len[])
{
	for (size_t i = 0; i < n; i++) {
		int rc = zmq_send(
		    c->sock, buf[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0);
		if (rc != (int)len[i])
			fail_msg("client send (part %zu of %zu): %s", i + 1, n,
			    zmq_strerror(zmq_errno()));
	}
}

struct wire_frame *
h_client_recv(struct h_client *c, unsigned ms)
{
	return h_client_recv_raw(c, ms, NULL, NULL);
}

struct wire_frame *
h_client_recv_raw(
    struct h_client *c, unsigned ms, uint8_t **raw, size_t *raw_len)
{
	zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
	struct wire_frame *f = NULL;
	char why[256];
	zmq_msg_t msg;
	int rc;

	if (zmq_poll(&it, 1, (long)ms) <= 0)
		return NULL;
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return NULL;
	}
	rc = wire_decode(
	    zmq_msg_data(&msg), zmq_msg_size(&msg), &f, why, sizeof(why));
	if (raw != NULL) {
		*raw_len = zmq_msg_size(&msg);
		*raw = malloc(*raw_len ? *raw_len : 1);
		assert_non_null(*raw);
		memcpy(*raw, zmq_msg_data(&msg), *raw_len);
	}
	zmq_msg_close(&msg);
	if (rc != 0)
		fail_msg(
		    "the broker sent a frame that does not decode: %s", why);
	if (f->type == WIRE_STATUS) {
		uint8_t *ack;
		size_t len;
		assert_int_equal(
		    wire_status_ack_encode(f->u.status.msg_id,
		        f->u.status.recipient, f->u.status.state, &ack, &len),
		    0);
		zmq_send(c->sock, ack, len, ZMQ_DONTWAIT);
		free(ack);
	}
	return f;
}

struct wire_frame *
h_client_receipt(
    struct h_client *c, const uint8_t msg_id[WIRE_MSG_ID_LEN], unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	for (;;) {
		uint64_t now = h_now_ms();
		if (now >= end)
			return NULL;
		struct wire_frame *f = h_client_recv(c, (unsigned)(end - now));
		if (f == NULL)
			continue;
		if (f->type == WIRE_RECEIPT &&
		    memcmp(f->u.receipt.msg_id, msg_id, WIRE_MSG_ID_LEN) == 0)
			return f;
		wire_frame_free(f);
	}
}

struct h_client *
h_client_of(struct h_sys *s, int agency)
{
	struct h_client *c =
	    h_client_new(s, h_p("%s/keys/%s.key", s->dir, fixture_agency[agency]));

	if (h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS) !=
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
		fail_msg("%s: no handshake with the broker", fixture_agency[agency]);
	return c;
}

void
h_client_hello(struct h_client *c)
{
	uint8_t *frame;
	size_t len;

	assert_int_equal(wire_proof_request_encode(0, &frame, &len), 0);
	h_client_send(c, frame, len);
	free(frame);
}

struct wire_frame *
h_submit(struct h_sys *s, struct h_client *c, const struct h_msg *m,
    uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	uint8_t id[WIRE_MSG_ID_LEN], *frame;
	size_t len;
	struct wire_frame *r;

	h_seal(s, m, id, &frame, &len);
	h_client_send(c, frame, len);
	free(frame);
	r = h_client_receipt(c, id, H_WAIT_MS);
	if (r == NULL)
		fail_msg("no receipt from the broker within %d ms", H_WAIT_MS);
	if (msg_id != NULL)
		memcpy(msg_id, id, WIRE_MSG_ID_LEN);
	return r;
}

bool
h_receipt_decided(const struct wire_receipt *r)
{
	size_t decided = 0;

	/* Every leaf is about this message; one at least is a decision. */
	for (size_t i = 0; i < r->n_decisions; i++) {
		struct event ev;
		if (event_decode(r->decisions[i].leaf, r->decisions[i].leaf_len,
		        &ev) != 0)
			return false;
		if (!ev.has_msg_id ||
		    memcmp(ev.msg_id, r->msg_id, WIRE_MSG_ID_LEN) != 0)
			return false;
		decided += ev.type == EVENT_DECISION;
	}
	return decided > 0;
}

/* ------------------------------------------------------ a rogue broker */

struct h_rogue {
	void *ctx, *sock;
	uint8_t rid[256];
	size_t rid_len;
};

struct h_rogue *
h_rogue_new(struct h_sys *s)
{
	struct h_rogue *r = calloc(1, sizeof(*r));
	struct keys_secret *k = NULL;
	int one = 1, zero = 0;

	assert_non_null(r);
	assert_int_equal(s->broker.pid, 0);
	assert_int_equal(
	    keys_load_secret(h_p("%s/keys/broker.key", s->dir), &k), 0);
	r->ctx = zmq_ctx_new();
	r->sock = zmq_socket(r->ctx, ZMQ_ROUTER);
	assert_non_null(r->sock);
	/* The broker's own key, and no ZAP handler: it takes any agent. */
	assert_int_equal(
	    zmq_setsockopt(r->sock, ZMQ_CURVE_SERVER, &one, sizeof(one)), 0);
	assert_int_equal(
	    zmq_setsockopt(r->sock, ZMQ_CURVE_SECRETKEY, k->transport_sk, 32),
	    0);
	assert_int_equal(
	    zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	keys_secret_free(k);
	if (zmq_bind(r->sock, s->endpoint) != 0)
		fail_msg("rogue broker: cannot bind %s: %s", s->endpoint,
		    zmq_strerror(zmq_errno()));
	return r;
}

void
h_rogue_free(struct h_rogue *r)
{
	if (r == NULL)
		return;
	zmq_close(r->sock);
	zmq_ctx_term(r->ctx);
	free(r);
}

struct wire_frame *
h_rogue_recv(struct h_rogue *r, unsigned ms)
{
	zmq_pollitem_t it = {r->sock, 0, ZMQ_POLLIN, 0};
	struct wire_frame *f = NULL;
	zmq_msg_t rid, body;
	char why[256];

	if (zmq_poll(&it, 1, (long)ms) <= 0)
		return NULL;
	zmq_msg_init(&rid);
	zmq_msg_init(&body);
	assert_true(zmq_msg_recv(&rid, r->sock, 0) >= 0);
	assert_true(zmq_msg_more(&rid));
	assert_true(zmq_msg_recv(&body, r->sock, 0) >= 0);
	assert_true(zmq_msg_size(&rid) <= sizeof(r->rid));
	memcpy(r->rid, zmq_msg_data(&rid), zmq_msg_size(&rid));
	r->rid_len = zmq_msg_size(&rid);
	if (wire_decode(zmq_msg_data(&body), zmq_msg_size(&body), &f, why,
	        sizeof(why)) != 0)
		fail_msg("rogue broker: an agent sent a frame that does not "
		         "decode: %s",
		    why);
	zmq_msg_close(&rid);
	zmq_msg_close(&body);
	return f;
}

void
h_rogue_send(struct h_rogue *r, const void *buf, size_t len)
{
	assert_true(r->rid_len > 0);
	assert_int_equal(zmq_send(r->sock, r->rid, r->rid_len, ZMQ_SNDMORE),
	    (int)r->rid_len);
	assert_int_equal(zmq_send(r->sock, buf, len, 0), (int)len);
}

void
h_delivery(struct h_sys *s, const struct h_msg *m, int recipient,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len)
{
	struct wire_audit_proof none;
	struct wire_frame *f = NULL;
	uint8_t *sub, *del;
	size_t sub_len, del_len;
	fieldset sent;
	char why[256];

	h_seal(s, m, msg_id, &sub, &sub_len);
	if (wire_decode(sub, sub_len, &f, why, sizeof(why)) != 0)
		fail_msg("h_delivery: %s", why);
	assert_int_equal(envelope_redact(&f->u.submit, fixture_agency[recipient],
	                     FIELDS_ALL, &sent, &del, &del_len),
	    0);
	/* The broker's word, forged with its own key: a decision leaf that
	 * says what was sent, alone in a log of one, under a checkpoint the
	 * broker's key signed. */
	struct keys_secret *bk = NULL;
	struct checkpoint cp;
	struct event ev;
	static char note[CHECKPOINT_MAX];
	uint8_t *leaf;
	size_t leaf_len, note_len;

	assert_int_equal(
	    keys_load_secret(h_p("%s/keys/broker.key", s->dir), &bk), 0);
	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_DECISION;
	ev.time_ms = clock_now_ms();
	ev.has_msg_id = true;
	memcpy(ev.msg_id, msg_id, WIRE_MSG_ID_LEN);
	snprintf(ev.sender, sizeof(ev.sender), "%s", fixture_agency[m->sender]);
	snprintf(ev.recipient, sizeof(ev.recipient), "%s", fixture_agency[recipient]);
	ev.disclosed = sent;
	ev.withheld = (fieldset)(FIELDS_ALL & ~sent);
	assert_int_equal(event_encode(&ev, &leaf, &leaf_len), 0);
	memset(&cp, 0, sizeof(cp));
	snprintf(
	    cp.origin, sizeof(cp.origin), "concordat/%s", bk->pub.fingerprint);
	cp.size = 1;
	merkle_hash_leaf(leaf, leaf_len, cp.root);
	assert_int_equal(
	    checkpoint_sign(&cp, bk->sign_sk, note, sizeof(note), &note_len),
	    0);
	keys_secret_free(bk);
	memset(&none, 0, sizeof(none));
	none.leaf_index = 0;
	none.leaf = leaf;
	none.leaf_len = leaf_len;
	none.checkpoint = note;
	none.checkpoint_len = note_len;
	assert_int_equal(
	    wire_delivery_frame(del, del_len, &none, frame, len), 0);
	free(leaf);
	free(del);
	wire_frame_free(f);
	free(sub);
}
