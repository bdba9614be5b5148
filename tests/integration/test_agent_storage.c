/*
 * The sending agent's storage (DESIGN.md §8, §9; docs/agent.md §5): its
 * LMDB stays bounded (a sealed frame is deleted once its receipt is
 * final), fills up politely (above 90% of map_size_mb new records wait in
 * outbox/), and a full file system, under the state or under the spool,
 * is named for what it is, logged once, retried on a timer and recovered
 * from without a restart. The full file systems are real: tmpfs mounts in
 * a mount namespace of the test's own.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

static const char record_fmt[] =
    "{\"recipients\": [\"mental_health_trust\"],"
    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
    " \"local_id\": \"%s\","
    " \"subject\": {\"nhs_number\": \"9434765919\"},"
    " \"fields\": {\"identity\": {\"name\": \"%s\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

static void
drop(struct h_sys *s, int agency, const char *name)
{
	char text[1024];

	snprintf(text, sizeof(text), record_fmt, name, name);
	h_drop(s, agency, h_p("%s.json", name), text);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int
setup(void **state)
{
	*state = h_sys_new(NULL, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

/*
 * The spool's file system fills while receipts come in: the records stay
 * in outbox/ (nothing is lost or failed), the failure is logged once, not
 * in a loop, and once space frees the moves finish by themselves.
 */
static void
spool_full(void **state)
{
	struct h_sys *s = *state;
	const char *spool = h_p("%s/spool/police", s->dir);
	char filler[PATH_MAX];
	enum { N = 6 };

	snprintf(filler, sizeof(filler), "%s/filler", spool);
	h_tmpfs(s, spool, 512 * 1024);
	h_agent_config(s, H_POLICE, "state: pstate\n");
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);

	/* Sealed and stored while the broker is away, then the disk fills. */
	assert_int_equal(h_broker_stop(s), 0);
	for (int i = 0; i < N; i++)
		drop(s, H_POLICE, h_p("full-%d", i));
	assert_true(h_wait_log(&s->agent[H_POLICE], "sealed as", N, H_WAIT_MS));
	h_fill(filler);
	h_broker_start(s);
	assert_true(
	    h_wait_log(&s->agent[H_POLICE], ": accepted", N, H_WAIT_MS));

	/* Three seconds of a full disk: a few lines, not a flood. */
	unsigned lines = h_log_count(&s->agent[H_POLICE], "\n");
	sleep_ms(3000);
	unsigned more = h_log_count(&s->agent[H_POLICE], "\n") - lines;
	print_message("%u log lines in 3 s of a full spool\n", more);
	assert_true(more <= 4);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ".json"), N);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	/* Said once, for what it is. */
	assert_int_equal(h_log_count(&s->agent[H_POLICE],
	                     "cannot move it out of outbox/: no space left"),
	    1);
	assert_int_equal(h_log_count(&s->agent[H_POLICE], "input/output"), 0);
	assert_int_equal(h_log_count(&s->agent[H_POLICE], "database error"), 0);

	/* Space again: every record reaches sent/ without a restart. */
	assert_int_equal(unlink(filler), 0);
	assert_true(h_wait_count(
	    h_spool(s, H_POLICE, "sent"), ".receipt.json", N, H_WAIT_MS));
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ".json"), 0);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	assert_int_equal(
	    h_log_count(&s->agent[H_POLICE], "cannot move it out of outbox/"),
	    1);
	assert_true(h_wait_log(&s->agent[H_POLICE], "moves finished", 1, 1000));
	assert_true(
	    h_wait_count(h_spool(s, H_MHT, "inbox"), ".json", N, H_WAIT_MS));

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(spool_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
