/*
 * The integration harness (harness.h): the test's folder, its keys and
 * configuration files, mounts, and the end of a system. The rest is by
 * concern: processes (harness_proc.c), waits and folders (harness_wait.c),
 * the audit log (harness_audit.c), the message builders (harness_msg.c),
 * the custom client (harness_client.c) and the rogue broker
 * (harness_rogue.c).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

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
void
harness_fmt(char *buf, size_t n, const char *f, ...)
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

const char *
h_state(struct h_sys *s, int agency)
{
	return h_p("%s/spool/%s.state", s->dir, fixture_agency[agency]);
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

void
harness_mkdirs(const char *path)
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

/* ------------------------------------------------------------ set-up */

static const char *
harness_cli_out(struct h_sys *s)
{
	return h_p("%s/cli.out", s->dir);
}

/* broker.yaml and the agents' configurations, for s->endpoint. */
static void
write_configs(struct h_sys *s)
{
	char text[8192];

	/* 64 MiB unless the test sets its own map size. */
	harness_fmt(text, sizeof(text),
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
	harness_fmt(s->build, sizeof(s->build), "%s", build);
	harness_fmt(s->source, sizeof(s->source), "%s", source);
	harness_fmt(s->cli, sizeof(s->cli), "%s/cli/concordat", build);
	harness_fmt(s->broker_bin, sizeof(s->broker_bin),
	    "%s/broker/concordat-broker", build);
	harness_fmt(s->agent_bin, sizeof(s->agent_bin),
	    "%s/agents/concordat-agent", build);
	/* Under a short TMPDIR: an ipc:// path must fit in sun_path. */
	scratch_dir_in(s->dir, sizeof(s->dir), "int");
	harness_fmt(
	    s->endpoint, sizeof(s->endpoint), "ipc://%s/broker.sock", s->dir);
	harness_fmt(s->logs, sizeof(s->logs), "%s/logs", s->dir);
	harness_fmt(s->data, sizeof(s->data), "%s/bdata", s->dir);
	harness_mkdirs(s->logs);
	snprintf(s->broker.name, sizeof(s->broker.name), "broker");
	for (int i = 0; i < H_NAG; i++)
		snprintf(s->agent[i].name, sizeof(s->agent[i].name), "%s",
		    fixture_agency[i]);

	/* Keys through the real command, as an administrator makes them. */
	const char *keys = h_p("%s/keys", s->dir);
	const char *gen_broker[] = {
	    s->cli, "keys", "generate", "--broker", "--out", keys, NULL};
	assert_int_equal(h_run(s, harness_cli_out(s), NULL, gen_broker), 0);
	harness_mkdirs(h_p("%s/ring", s->dir));
	for (int i = 0; i < H_NAG; i++) {
		const char *gen[] = {s->cli, "keys", "generate", "--agency",
		    fixture_agency[i], "--out", keys, NULL};
		assert_int_equal(h_run(s, harness_cli_out(s), NULL, gen), 0);
		copy_file(h_p("%s/%s.pub", keys, fixture_agency[i]),
		    h_p("%s/ring/%s.pub", s->dir, fixture_agency[i]));
	}
	const char *pep[] = {
	    s->cli, "keys", "pepper", "--out", h_p("%s/pepper", keys), NULL};
	assert_int_equal(h_run(s, harness_cli_out(s), NULL, pep), 0);
	for (int i = 0; i < H_NAG; i++)
		h_guardian_new(s, fixture_agency[i], true);

	/* The agreement in the folder, beside its note, signed by all. */
	harness_fmt(s->policy, sizeof(s->policy), "%s/policy.yaml", s->dir);
	if (policy_text != NULL) {
		scratch_write(s->policy, policy_text, 0644);
	} else {
		size_t len;
		char *ex = scratch_read(fixture_agreement(), &len);
		scratch_spit(s->policy, ex, len, 0644);
		free(ex);
	}
	h_agreement_sign(s, s->policy, H_ALL_GUARDIANS);
	harness_fmt(
	    s->broker_yaml, sizeof(s->broker_yaml), "%s/broker.yaml", s->dir);
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
	harness_fmt(
	    s->endpoint, sizeof(s->endpoint), "tcp://127.0.0.1:%d", s->port);
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

	harness_fmt(text, sizeof(text),
	    "agency: %s\nbroker: %s\nbroker_key: keys/broker.pub\n"
	    "key: keys/%s.key\nkeyring: ring\nspool: spool/%s\n"
	    "pepper: keys/pepper\n%s",
	    fixture_agency[agency], s->endpoint, fixture_agency[agency],
	    fixture_agency[agency], extra ? extra : "");
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
	harness_mkdirs(dir);
	harness_fmt(opts, sizeof(opts), "size=%zu,mode=0750", bytes);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0)
		fail_msg("mount tmpfs on %s: %s", dir, strerror(errno));
	harness_fmt(s->mounts[s->n_mounts], sizeof(s->mounts[0]), "%s", dir);
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
		    harness_proc_signal(&s->agent[i], SIGTERM) != 0)
			ok = false;
	if (s->broker.pid != 0 && harness_proc_signal(&s->broker, SIGTERM) != 0)
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
				harness_print_tail(
				    h_p("%s/%s", s->logs, de->d_name), 15);
		if (d != NULL)
			closedir(d);
	}
	free(s);
}
