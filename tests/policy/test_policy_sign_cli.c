/*
 * The agreement verbs end to end, in-process with what they print
 * captured: `keys generate --guardian`, `policy sign`, `policy verify`,
 * `policy install` (a real process signalled by pid, a data folder no
 * broker holds) and `policy check --against`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>

#include "keys/keys.h"
#include "keys/verbs/keys_verbs.h"
#include "policy/verbs/policy_verbs.h"
#include "tests/lib/capture.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

static char dir[64], yaml[256], ring[256], keys[256];
static char *out, *err;

static const char *
p(const char *fmt, ...)
{
	static char buf[8][512];
	static int k;
	va_list ap;

	k = (k + 1) % 8;
	va_start(ap, fmt);
	vsnprintf(buf[k], sizeof(buf[k]), fmt, ap);
	va_end(ap);
	return buf[k];
}

#define POLICY(...) run(policy_cli, "policy", __VA_ARGS__, (char *)NULL)
#define KEYS(...)   run(keys_cli, "keys", __VA_ARGS__, (char *)NULL)

static int
run(capture_fn fn, ...)
{
	va_list ap;
	int rc;

	free(out);
	free(err);
	va_start(ap, fn);
	rc = capture_vrunl(fn, &out, &err, NULL, ap);
	va_end(ap);
	return rc;
}

static int
setup(void **state)
{
	(void)state;
	umask(022);
	scratch_dir_in(dir, sizeof(dir), "pol");
	snprintf(yaml, sizeof(yaml), "%s/crisis-care.yaml", dir);
	snprintf(ring, sizeof(ring), "%s/ring", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	size_t len;
	char *ex = scratch_read(fixture_agreement(), &len);
	scratch_spit(yaml, ex, len, 0644);
	free(ex);
	for (int i = 0; i < FIXTURE_NAG; i++) {
		assert_int_equal(KEYS("generate", "--agency", fixture_agency[i],
		                     "--out", ring),
		    0);
		assert_int_equal(KEYS("generate", "--guardian", "--agency",
		                     fixture_agency[i], "--out", keys),
		    0);
		char *pub = scratch_read(
		    p("%s/%s.guardian.pub", keys, fixture_agency[i]), &len);
		scratch_spit(p("%s/%s.guardian.pub", ring, fixture_agency[i]),
		    pub, len, 0644);
		free(pub);
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	scratch_rmrf(dir);
	free(out);
	free(err);
	out = err = NULL;
	return 0;
}

static const char *
gkey(int i)
{
	return p("%s/%s.guardian.key", keys, fixture_agency[i]);
}

static void
has(const char *text, const char *want)
{
	if (strstr(text, want) == NULL)
		fail_msg("lacks '%s':\n%s", want, text);
}

static void
test_guardian_keys(void **state)
{
	struct stat st;
	(void)state;

	assert_int_equal(stat(gkey(0), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(
	    KEYS("generate", "--guardian", "--agency", "fire", "--out", keys),
	    0);
	has(out, "fire.guardian.key (secret, 0600)");
	has(out, "keep");
	assert_int_equal(
	    KEYS("generate", "--guardian", "--agency", "fire", "--out", keys),
	    73);
	assert_int_equal(
	    KEYS("generate", "--guardian", "--broker", "--out", keys), 64);
	assert_int_equal(KEYS("generate", "--guardian", "--out", keys), 64);
	assert_int_equal(KEYS("show", p("%s/fire.guardian.pub", keys)), 0);
	has(out, "role:        guardian (signs agreements)");
	has(out, "key name:    fire.guardian (key id ");
	assert_null(strstr(out, "transport:"));
	assert_int_equal(KEYS("show", p("%s/fire.guardian.key", keys)), 0);
	has(out, "secret key (permissions ok)");
}

static void
test_sign_verify(void **state)
{
	json_error_t jerr;
	(void)state;

	/* Nobody yet. */
	assert_int_equal(POLICY("verify", yaml, "--keyring", ring), 1);
	has(out, "missing: no guardian has signed");
	has(out, "NOT complete: 4 of 4");

	for (int i = 0; i < FIXTURE_NAG - 1; i++)
		assert_int_equal(POLICY("sign", yaml, "--key", gkey(i)), 0);
	has(out, "mental_health_trust.guardian");
	has(out, "3 signatures in the note");
	assert_int_equal(POLICY("verify", yaml, "--keyring", ring), 1);
	has(out, "  signed:     police, ambulance, mental_health_trust\n");
	has(out, "  not signed: social_care\n");
	has(out, "NOT complete: 1 of 4 agencies' guardians have not signed");

	assert_int_equal(
	    POLICY("sign", yaml, "--key", gkey(FIXTURE_SOCIAL)), 0);
	assert_int_equal(POLICY("verify", yaml, "--keyring", ring), 0);
	has(out, "complete: signed by the guardians of all 4 agencies");
	assert_int_equal(
	    POLICY("verify", yaml, "--keyring", ring, "--json"), 0);
	json_t *o = json_loads(out, 0, &jerr);
	assert_non_null(o);
	assert_true(json_is_true(json_object_get(o, "complete")));
	assert_int_equal(json_array_size(json_object_get(o, "signed")), 4);
	assert_int_equal(json_array_size(json_object_get(o, "lines")), 4);
	json_decref(o);

	/* Signing again replaces the line: still four. */
	assert_int_equal(POLICY("sign", yaml, "--key", gkey(0)), 0);
	has(out, "4 signatures in the note");

	/* Not a party; not a guardian key; a key others can read. */
	assert_int_equal(
	    KEYS("generate", "--guardian", "--agency", "fire", "--out", keys),
	    0);
	assert_int_equal(
	    POLICY("sign", yaml, "--key", p("%s/fire.guardian.key", keys)), 65);
	has(err, "'fire' is not a party");
	assert_int_equal(
	    POLICY("sign", yaml, "--key", p("%s/police.key", ring)), 65);
	has(err, "not a guardian key");
	assert_int_equal(chmod(gkey(1), 0644), 0);
	assert_int_equal(POLICY("sign", yaml, "--key", gkey(1)), 77);
	assert_int_equal(chmod(gkey(1), 0600), 0);

	/* A guardian's .pub replaced by another key: that line is unknown. */
	char *save = scratch_read(p("%s/police.guardian.pub", ring), NULL);
	char *other = scratch_read(p("%s/fire.guardian.pub", keys), NULL);
	json_t *j = json_loads(other, 0, &jerr);
	json_object_set_new(j, "id", json_string("police"));
	free(other);
	/* The fingerprint no longer matches: an edited file, refused. */
	other = json_dumps(j, 0);
	json_decref(j);
	scratch_write(p("%s/police.guardian.pub", ring), other, 0644);
	free(other);
	assert_int_equal(POLICY("verify", yaml, "--keyring", ring), 78);
	has(err, "police.guardian.pub");
	scratch_write(p("%s/police.guardian.pub", ring), save, 0644);
	free(save);

	/* One byte changed: nothing counts; signing again drops the old. */
	char *text = scratch_read(yaml, NULL);
	*strstr(text, "Caldicott") = 'c';
	scratch_write(yaml, text, 0644);
	free(text);
	assert_int_equal(POLICY("verify", yaml, "--keyring", ring), 1);
	has(out, "signed for other bytes than the file's");
	has(out, "every guardian must sign");
	assert_int_equal(POLICY("sign", yaml, "--key", gkey(0)), 0);
	has(err, "4 earlier signatures signed other bytes");
	has(out, "1 signature in the note");

	/* A file with errors is not signed. */
	scratch_write(yaml, "agreement: [\n", 0644);
	assert_int_equal(POLICY("sign", yaml, "--key", gkey(0)), 78);
	assert_int_equal(POLICY("verify", yaml), 64);
}

static void
sign_all(void)
{
	for (int i = 0; i < FIXTURE_NAG; i++)
		assert_int_equal(POLICY("sign", yaml, "--key", gkey(i)), 0);
}

/* A process that exits 42 on SIGHUP: a stand-in broker for --pid. */
static pid_t
hup_waiter(void)
{
	sigset_t set, old;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	assert_int_equal(sigprocmask(SIG_BLOCK, &set, &old), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int sig;
		alarm(30);
		sigwait(&set, &sig);
		_exit(sig == SIGHUP ? 42 : 1);
	}
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	return pid;
}

static void
test_install(void **state)
{
	const char *live = p("%s/live/policy.yaml", dir);
	char livep[512], livesig[512];
	int st;
	(void)state;

	snprintf(livep, sizeof(livep), "%s", live);
	snprintf(livesig, sizeof(livesig), "%s.sig", live);
	assert_int_equal(mkdir(p("%s/live", dir), 0755), 0);

	/* Unsigned: refused, nothing written. */
	assert_int_equal(
	    POLICY("install", yaml, livep, "--keyring", ring, NULL), 65);
	has(err,
	    "not signed: police, ambulance, mental_health_trust, "
	    "social_care");
	has(err, "left as it was");
	assert_true(access(livep, F_OK) != 0);
	assert_true(access(livesig, F_OK) != 0);

	/* Complete, to a process given by pid: it gets SIGHUP. */
	sign_all();
	pid_t pid = hup_waiter();
	char pids[32];
	snprintf(pids, sizeof(pids), "%ld", (long)pid);
	assert_int_equal(
	    POLICY("install", yaml, livep, "--keyring", ring, "--pid", pids),
	    0);
	has(out, "sent SIGHUP to pid");
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	size_t a, b;
	char *x = scratch_read(yaml, &a), *y = scratch_read(livep, &b);
	assert_int_equal(a, b);
	assert_memory_equal(x, y, a);
	free(x);
	free(y);
	x = scratch_read(p("%s.sig", yaml), &a);
	y = scratch_read(livesig, &b);
	assert_int_equal(a, b);
	assert_memory_equal(x, y, a);
	free(x);
	free(y);
	/* The staged files are gone. */
	DIR *d = opendir(p("%s/live", dir));
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		assert_null(strstr(de->d_name, ".install"));
		n += de->d_name[0] != '.';
	}
	closedir(d);
	assert_int_equal(n, 2);

	/* A data folder no broker holds; and no --data nor --pid. */
	assert_int_equal(mkdir(p("%s/data", dir), 0700), 0);
	assert_int_equal(POLICY("install", yaml, livep, "--keyring", ring,
	                     "--data", p("%s/data", dir)),
	    0);
	has(out, "no broker runs on");
	assert_int_equal(
	    POLICY("install", yaml, livep, "--keyring", ring, NULL), 0);
	has(out, "no --data or --pid");

	/* Incomplete after a complete one: the live pair stays. */
	char *text = scratch_read(yaml, NULL);
	*strstr(text, "Caldicott") = 'c';
	scratch_write(yaml, text, 0644);
	free(text);
	assert_int_equal(POLICY("sign", yaml, "--key", gkey(0)), 0);
	assert_int_equal(
	    POLICY("install", yaml, livep, "--keyring", ring, NULL), 65);
	has(err, "not signed: ambulance, mental_health_trust, social_care");
	text = scratch_read(livep, NULL);
	has(text, "Caldicott");
	free(text);
	assert_int_equal(POLICY("install", yaml, livep, NULL), 64);
}

static void
test_check_against(void **state)
{
	const char *old = p("%s/old.yaml", dir);
	char oldp[512];
	(void)state;

	snprintf(oldp, sizeof(oldp), "%s", old);
	char *text = scratch_read(yaml, NULL);
	scratch_write(oldp, text, 0644);
	char *at = strstr(text, "emergency_share: [physical_needs]");
	assert_non_null(at);
	char *more = malloc(strlen(text) + 32);
	sprintf(more, "%.*semergency_share: [physical_needs, relatives]%s",
	    (int)(at - text), text,
	    at + strlen("emergency_share: [physical_needs]"));
	scratch_write(yaml, more, 0644);
	assert_int_equal(POLICY("check", yaml, "--against", oldp), 0);
	has(out, "1 decision changes from");
	has(err, "warning: 1 decision changes");
	has(err, "'version' does not change (1 -> 1)");

	/* The version raised: no warning. */
	at = strstr(more, "version: 1\n");
	at[9] = '2';
	scratch_write(yaml, more, 0644);
	assert_int_equal(POLICY("check", yaml, "--against", oldp), 0);
	assert_null(strstr(err, "warning"));
	/* Unchanged decisions: none either. */
	assert_int_equal(POLICY("check", oldp, "--against", oldp), 0);
	has(out, "0 decisions change");
	assert_null(strstr(err, "warning"));
	/* Gone down with changes: a warning. */
	assert_int_equal(POLICY("check", oldp, "--against", yaml), 0);
	has(err, "'version' goes down (2 -> 1)");
	free(more);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_guardian_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_check_against, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
