/*
 * concordat-agent as a process (docs/agent.md §6): SIGHUP reloads the
 * configuration, keyring and pepper, or refuses a broken one and keeps
 * running on what it had; SIGTERM and SIGINT stop it cleanly even in the
 * middle of a burst, losing and repeating nothing; and one agent only per
 * state folder, a second one refused with exit status 75 and the pid of
 * the one running.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

/* The example agencies and fire, which joins later. */
static const char policy[] =
    "agreement: agent-process-test\n"
    "version: 1\n"
    "approved_by: Integration tests\n"
    "agencies: [police, ambulance, mental_health_trust, social_care, "
    "fire]\n"
    "purposes:\n"
    "  triage_advice:\n"
    "    description: Street triage\n"
    "    expires_after: 30m\n"
    "rules:\n"
    "  - id: triage\n"
    "    from: police\n"
    "    to: [mental_health_trust, fire]\n"
    "    purposes: [triage_advice]\n"
    "    share: [identity, risks]\n"
    "    basis: \"MHA 1983 s136(1C)\"\n";

static const char record_fmt[] =
    "{\"recipients\": [\"%s\"], \"purpose\": \"triage_advice\","
    " \"urgency\": \"urgent\", \"local_id\": \"%s\","
    " \"subject\": {\"nhs_number\": \"9434765919\"},"
    " \"fields\": {\"identity\": {\"name\": \"%s\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

static void
drop(struct h_sys *s, const char *to, const char *name)
{
	char text[1024];

	snprintf(text, sizeof(text), record_fmt, to, name, name);
	h_drop(s, H_POLICE, h_p("%s.json", name), text);
}

/* Drops a record to the trust and waits for it to be accepted. */
static void
exchange(struct h_sys *s, const char *name)
{
	const char *receipt =
	    h_p("%s/%s.receipt.json", h_spool(s, H_POLICE, "sent"), name);

	drop(s, "mental_health_trust", name);
	if (!h_wait_file(receipt, H_WAIT_MS))
		fail_msg("no receipt for %s", name);
	json_t *r = h_json(receipt);
	assert_string_equal(
	    json_string_value(json_object_get(r, "outcome")), "accepted");
	const char *in = h_p("%s/%s.json", h_spool(s, H_MHT, "inbox"),
	    json_string_value(json_object_get(r, "msg_id")));
	assert_true(h_wait_file(in, H_WAIT_MS));
	json_decref(r);
}

static bool
alive(pid_t pid)
{
	return pid != 0 && kill(pid, 0) == 0;
}

static int
setup(void **state)
{
	struct h_sys *s = h_sys_new(policy, NULL, NULL, 1);
	/* fire joins later, but its guardian signed from the start. */
	h_guardian_new(s, "fire", true);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

/* The keyring gains an agency: after SIGHUP the agent sends to it. */
static void
sighup_new_agency(void **state)
{
	struct h_sys *s = *state;
	char failed[PATH_MAX], sent[PATH_MAX];

	snprintf(failed, sizeof(failed), "%s", h_spool(s, H_POLICE, "failed"));
	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);
	pid_t pid = s->agent[H_POLICE].pid;

	/* Not yet in the keyring: refused by the agent itself. */
	drop(s, "fire", "early");
	assert_true(h_wait_file(h_p("%s/early.error.json", failed), H_WAIT_MS));
	char *err = scratch_slurp(h_p("%s/early.error.json", failed), NULL);
	assert_non_null(strstr(err, "'fire' is not in the keyring"));
	free(err);

	/* Fire's key reaches the keyring; broker and agent are told. */
	const char *gen[] = {s->cli, "keys", "generate", "--agency", "fire",
	    "--out", h_p("%s/keys", s->dir), NULL};
	assert_int_equal(h_run(s, NULL, NULL, gen), 0);
	char *pub = scratch_slurp(h_p("%s/keys/fire.pub", s->dir), NULL);
	assert_non_null(pub);
	scratch_write(h_p("%s/ring/fire.pub", s->dir), pub, 0644);
	free(pub);
	h_broker_reload(s);
	assert_true(h_wait_log(&s->broker, "5 agencies", 1, H_WAIT_MS));
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(h_wait_log(
	    &s->agent[H_POLICE], "reloaded: 5 agencies", 1, H_WAIT_MS));
	assert_int_equal(s->agent[H_POLICE].pid, pid);
	assert_true(alive(pid));

	drop(s, "fire", "later");
	assert_true(h_wait_file(h_p("%s/later.receipt.json", sent), H_WAIT_MS));
	json_t *r = h_json(h_p("%s/later.receipt.json", sent));
	assert_string_equal(
	    json_string_value(json_object_get(r, "outcome")), "accepted");
	json_t *r0 = json_array_get(json_object_get(r, "recipients"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(r0, "agency")), "fire");
	assert_true(json_is_true(json_object_get(r, "audit_verified")));
	json_decref(r);
	/* What it knew before still works. */
	exchange(s, "as-before");

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * A broken configuration, a broken keyring, a keyring without this agency
 * and a missing pepper are each refused with the reason in the log; the
 * agent keeps running on what it had, and keeps working. A setting only a
 * restart can change is named and kept.
 */
static void
sighup_refused(void **state)
{
	struct h_sys *s = *state;
	struct h_proc *p = &s->agent[H_POLICE];
	char yaml[PATH_MAX];

	snprintf(yaml, sizeof(yaml), "%s", h_agent_yaml(s, H_POLICE));
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);
	pid_t pid = p->pid;
	exchange(s, "first");

	/* Not YAML at all. */
	scratch_write(yaml, "agency: [police\n", 0644);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(
	    h_wait_log(p, "still running on the previous", 1, H_WAIT_MS));
	assert_true(h_log_count(p, "reload refused: ") >= 2);
	assert_true(h_log_count(p, "police.yaml:") >= 1);
	exchange(s, "after-bad-yaml");

	/* A key in the keyring that is not one. */
	h_agent_config(s, H_POLICE, NULL);
	scratch_write(
	    h_p("%s/ring/garbage.pub", s->dir), "{\"not\": \"a key\"}\n", 0644);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(
	    h_wait_log(p, "still running on the previous", 2, H_WAIT_MS));
	assert_true(h_log_count(p, "garbage.pub") >= 1);
	assert_int_equal(unlink(h_p("%s/ring/garbage.pub", s->dir)), 0);
	exchange(s, "after-bad-keyring");

	/* A keyring that lacks this agency; a pepper that is not there. */
	mkdir(h_p("%s/ring2", s->dir), 0750);
	char *pub =
	    scratch_slurp(h_p("%s/ring/mental_health_trust.pub", s->dir), NULL);
	scratch_write(
	    h_p("%s/ring2/mental_health_trust.pub", s->dir), pub, 0644);
	free(pub);
	char text[8192];
	snprintf(text, sizeof(text),
	    "agency: police\nbroker: %s\nbroker_key: keys/broker.pub\n"
	    "key: keys/police.key\nkeyring: ring2\nspool: spool/police\n"
	    "pepper: keys/pepper\n",
	    s->endpoint);
	scratch_write(yaml, text, 0644);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(
	    h_wait_log(p, "still running on the previous", 3, H_WAIT_MS));
	assert_true(h_log_count(p, "'police' is not in the keyring") >= 1);
	snprintf(text, sizeof(text),
	    "agency: police\nbroker: %s\nbroker_key: keys/broker.pub\n"
	    "key: keys/police.key\nkeyring: ring\nspool: spool/police\n"
	    "pepper: keys/no-such-pepper\n",
	    s->endpoint);
	scratch_write(yaml, text, 0644);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(
	    h_wait_log(p, "still running on the previous", 4, H_WAIT_MS));
	assert_true(h_log_count(p, "no-such-pepper") >= 1);
	exchange(s, "after-bad-pepper");
	assert_int_equal(h_log_count(p, "reloaded:"), 0);

	/* A new broker endpoint needs a restart: named, and not taken. */
	snprintf(text, sizeof(text),
	    "agency: police\nbroker: ipc://%s/elsewhere.sock\n"
	    "broker_key: keys/broker.pub\nkey: keys/police.key\n"
	    "keyring: ring\nspool: spool/police\npepper: keys/pepper\n"
	    "resend_after: 10s\n",
	    s->dir);
	scratch_write(yaml, text, 0644);
	assert_int_equal(kill(pid, SIGHUP), 0);
	assert_true(h_wait_log(p, "reloaded:", 1, H_WAIT_MS));
	assert_true(
	    h_log_count(p, "broker changed: not taken until a restart") == 1);
	exchange(s, "after-restart-only");

	assert_int_equal(p->pid, pid);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * SIGTERM in the middle of a burst stops the agent at once (well under the
 * seconds the rest of the burst takes to read), exit 0; SIGINT
 * the same after a restart; and after a last restart every record is
 * accepted by the broker exactly once, nothing failed. (The recipient is
 * away: what counts is what the sender sends.)
 */
static void
stop_while_busy(void **state)
{
	struct h_sys *s = *state;
	struct h_proc *p = &s->agent[H_POLICE];
	static const int sigs[] = {SIGTERM, SIGINT};
	/* Enough, and large enough, that reading them all takes seconds. */
	enum { N = 500, PAD = 30 * 1024 };
	char *text = malloc(PAD + 1024), *pad = malloc(PAD + 1);

	assert_non_null(text);
	assert_non_null(pad);
	memset(pad, 'x', PAD);
	pad[PAD] = '\0';
	h_broker_start(s);
	/* The burst is in place before the agent starts reading it. */
	for (int i = 0; i < N; i++) {
		snprintf(text, PAD + 1024, record_fmt, "mental_health_trust",
		    "b", pad);
		h_drop(s, H_POLICE, h_p("burst-%04d.json", i), text);
	}
	free(pad);
	free(text);
	for (int round = 0; round < 2; round++) {
		h_agent_start(s, H_POLICE, false);
		assert_true(h_wait_log(p, "sealed as", 20, H_WAIT_MS));
		uint64_t t0 = h_now_ms();
		int st = h_agent_signal(s, H_POLICE, sigs[round]);
		uint64_t took = h_now_ms() - t0;
		print_message(
		    "signal %d: stopped %llu ms after it, %zu records "
		    "still in outbox/\n",
		    sigs[round], (unsigned long long)took,
		    h_count(h_spool(s, H_POLICE, "outbox"), ".json"));
		assert_int_equal(st, 0);
		assert_true(took < 1500);
		assert_int_equal(h_log_count(p, "stopping"), 1);
	}
	assert_true(h_count(h_spool(s, H_POLICE, "outbox"), ".json") > 0);

	h_agent_start(s, H_POLICE, true);
	assert_true(h_wait_count(
	    h_spool(s, H_POLICE, "sent"), ".receipt.json", N, 4 * H_WAIT_MS));
	/* The receipt is written first, then the record moves beside it. */
	assert_true(
	    h_wait_none(h_spool(s, H_POLICE, "outbox"), ".json", H_WAIT_MS));
	assert_int_equal(
	    h_count(h_spool(s, H_POLICE, "sent"), ".receipt.json"), N);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	assert_int_equal(h_audit_stat(s, "accepted"), N);

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/* A second agent on the same state is refused, naming the first. */
static void
one_agent_per_state(void **state)
{
	struct h_sys *s = *state;
	char yaml[PATH_MAX], out[PATH_MAX], err[PATH_MAX], want[64];

	snprintf(yaml, sizeof(yaml), "%s", h_agent_yaml(s, H_POLICE));
	snprintf(out, sizeof(out), "%s", h_p("%s/second.out", s->dir));
	snprintf(err, sizeof(err), "%s", h_p("%s/second.err", s->dir));

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);
	pid_t pid = s->agent[H_POLICE].pid;
	snprintf(want, sizeof(want), "pid %ld", (long)pid);

	/* In the foreground, and as a daemon: refused before it detaches. */
	const char *fg[] = {s->agent_bin, "-c", yaml, "-f", NULL};
	assert_int_equal(h_run_for(s, out, err, fg, H_WAIT_MS), 75);
	char *e = scratch_slurp(err, NULL);
	print_message("second agent: %s", e);
	assert_non_null(strstr(e, want));
	assert_non_null(strstr(e, "in use by another concordat-agent"));
	assert_non_null(strstr(e, "agent.lock"));
	free(e);
	const char *bg[] = {s->agent_bin, "-c", yaml, NULL};
	assert_int_equal(h_run_for(s, out, err, bg, H_WAIT_MS), 75);
	e = scratch_slurp(err, NULL);
	assert_non_null(strstr(e, want));
	free(e);
	/* The lock file names the running agent. */
	char *lock =
	    scratch_slurp(h_p("%s/agent.lock", h_state(s, H_POLICE)), NULL);
	assert_non_null(lock);
	assert_int_equal(strtol(lock, NULL, 10), pid);
	free(lock);

	/* Checking the configuration takes no lock. */
	const char *check[] = {s->agent_bin, "-c", yaml, "-n", NULL};
	assert_int_equal(h_run_for(s, out, err, check, H_WAIT_MS), 0);
	e = scratch_slurp(out, NULL);
	assert_non_null(strstr(e, "configuration ok"));
	free(e);

	/* The first is untouched, and the lock goes with it. */
	assert_true(alive(pid));
	exchange(s, "still-one");
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	h_agent_start(s, H_POLICE, true);
	exchange(s, "next-one");
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	/* Killed, it leaves a stale pid behind, which does not count. */
	h_agent_start(s, H_POLICE, true);
	h_agent_kill(s, H_POLICE);
	h_agent_start(s, H_POLICE, true);
	exchange(s, "after-kill");

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * The state database is not in the spool the record system shares: by
 * default it is SPOOL.state, beside it, mode 0700. A state folder where
 * earlier versions kept it (SPOOL/.state) is used as it is, with a
 * warning, so an upgrade loses nothing it held.
 */
static void
state_beside_spool(void **state)
{
	struct h_sys *s = *state;
	struct stat st;

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);
	exchange(s, "beside");
	assert_int_equal(stat(h_state(s, H_POLICE), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(
	    access(h_p("%s/data.mdb", h_state(s, H_POLICE)), F_OK), 0);
	assert_int_equal(access(h_spool(s, H_POLICE, ".state"), F_OK), -1);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);

	/* An earlier version's layout: the agent keeps to it, and says so. */
	assert_int_equal(
	    rename(h_state(s, H_POLICE), h_spool(s, H_POLICE, ".state")), 0);
	h_agent_start(s, H_POLICE, true);
	assert_true(h_wait_log(&s->agent[H_POLICE],
	    "inside the spool the record system", 1, H_WAIT_MS));
	exchange(s, "legacy");
	assert_int_equal(access(h_state(s, H_POLICE), F_OK), -1);
	assert_int_equal(
	    access(h_p("%s/data.mdb", h_spool(s, H_POLICE, ".state")), F_OK),
	    0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(sighup_new_agency, setup, teardown),
	    cmocka_unit_test_setup_teardown(sighup_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(stop_while_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        state_beside_spool, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        one_agent_per_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
