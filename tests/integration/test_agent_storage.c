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
	assert_true(
	    h_wait_none(h_spool(s, H_POLICE, "outbox"), ".json", H_WAIT_MS));
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

/* Drops n records named PREFIX-i and waits for their receipts. */
static void
wave(struct h_sys *s, const char *prefix, int n, int *total)
{
	char pre[64];

	snprintf(pre, sizeof(pre), "%s", prefix);
	for (int i = 0; i < n; i++)
		drop(s, H_POLICE, h_p("%s-%d", pre, i));
	*total += n;
	assert_true(h_wait_count(h_spool(s, H_POLICE, "sent"), ".receipt.json",
	    (size_t)*total, H_WAIT_MS));
}

static long
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

/*
 * The state does not grow with what was sent: frames are deleted as
 * receipts come, so 300 messages in waves of 50 leave a store that holds
 * about one wave, where keeping every frame took 8-12 KB each.
 */
static void
state_bounded(void **state)
{
	struct h_sys *s = *state;
	char data[PATH_MAX];
	int total = 0;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	snprintf(data, sizeof(data), "%s/data.mdb", h_state(s, H_POLICE));
	wave(s, "first", 50, &total);
	long one = file_size(data);
	for (int w = 1; w < 6; w++)
		wave(s, h_p("wave%d", w), 50, &total);
	long all = file_size(data);
	print_message("state after 50 messages: %ld KiB; after %d: %ld KiB "
	              "(%ld bytes a message beyond the first wave)\n",
	    one >> 10, total, all >> 10, (all - one) / (total - 50));
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	/* Kept frames would need 250 * 8 KB more than the first wave. */
	assert_true(all - one < 250 * 8192 / 4);

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * map_size_mb 2 and the broker away: above 90% the agent stops taking
 * records, which wait in outbox/ (one line in the log, nothing failed);
 * once the broker is back, receipts free the space and every record goes.
 */
static void
state_map_nearly_full(void **state)
{
	struct h_sys *s = *state;
	struct h_proc *p = &s->agent[H_POLICE];
	enum { N = 300 };

	h_agent_config(s, H_POLICE, "map_size_mb: 2\n");
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	assert_int_equal(h_broker_stop(s), 0);
	for (int i = 0; i < N; i++)
		drop(s, H_POLICE, h_p("many-%03d", i));
	assert_true(h_wait_log(p, "wait in outbox/", 1, H_WAIT_MS));
	sleep_ms(2000);
	unsigned sealed = h_log_count(p, "sealed as");
	print_message(
	    "%u of %d records stored before the state was full\n", sealed, N);
	assert_int_equal(h_log_count(p, "wait in outbox/"), 1);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ".json"), N);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	assert_true(h_log_count(p, "raise map_size_mb") >= 1);

	h_broker_start(s);
	assert_true(h_wait_count(
	    h_spool(s, H_POLICE, "sent"), ".receipt.json", N, 4 * H_WAIT_MS));
	assert_true(
	    h_wait_none(h_spool(s, H_POLICE, "outbox"), ".json", H_WAIT_MS));
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	assert_true(h_log_count(p, "taking outbox records again") >= 1);
	assert_int_equal(h_audit_stat(s, "accepted"), N);

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * The state's file system fills: new records wait in outbox/, said once
 * as "no space left on device" (never "database error" or "input/output
 * error", which LMDB's short writes would otherwise give), tried again on
 * a timer, and stored and sent once there is room.
 */
static void
state_disk_full(void **state)
{
	struct h_sys *s = *state;
	struct h_proc *p = &s->agent[H_POLICE];
	char dir[PATH_MAX], filler[PATH_MAX];
	enum { N = 5 };
	int total = 0;

	snprintf(dir, sizeof(dir), "%s", h_p("%s/pstate", s->dir));
	snprintf(filler, sizeof(filler), "%s", h_p("%s/filler", dir));
	h_tmpfs(s, dir, 1024 * 1024);
	h_agent_config(s, H_POLICE, "state: pstate\n");
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	wave(s, "before", 2, &total);

	h_fill(filler);
	for (int i = 0; i < N; i++)
		drop(s, H_POLICE, h_p("full-%d", i));
	assert_true(h_wait_log(p, "wait in outbox/", 1, H_WAIT_MS));
	unsigned lines = h_log_count(p, "\n");
	sleep_ms(3000);
	unsigned more = h_log_count(p, "\n") - lines;
	/* At most a record tried again at each step of the backoff. */
	print_message("%u log lines in 3 s of a full state\n", more);
	assert_true(more <= 2 * N);
	/* Said once an episode: a frame freed after its receipt can leave
	 * LMDB room for one more record, said as room again, before the
	 * next refusal. */
	assert_int_equal(h_log_count(p, "wait in outbox/"),
	    1 + h_log_count(p, "room again"));
	/* Each failure said once: the state's refusal, and (when a record
	 * was stored before the disk filled, and sent) its move's. */
	assert_int_equal(h_log_count(p,
	                     "cannot store new records: no space "
	                     "left on device"),
	    1 + h_log_count(p, "room again"));
	assert_true(h_log_count(p, "cannot move it out of outbox/") <= 1);
	assert_int_equal(h_log_count(p, "no space left on device"),
	    1 + h_log_count(p, "room again") +
	        h_log_count(p, "cannot move it out of outbox/"));
	assert_int_equal(h_log_count(p, "database error"), 0);
	assert_int_equal(h_log_count(p, "input/output"), 0);
	/* Waiting, or (when LMDB found free pages of its own) sent: none
	 * lost, none failed. */
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ".json") +
	        h_count(h_spool(s, H_POLICE, "sent"), ".receipt.json"),
	    (size_t)total + N);
	assert_true(h_count(h_spool(s, H_POLICE, "outbox"), ".json") > 0);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);

	assert_int_equal(unlink(filler), 0);
	total += N;
	assert_true(h_wait_count(h_spool(s, H_POLICE, "sent"), ".receipt.json",
	    (size_t)total, H_WAIT_MS));
	assert_true(
	    h_wait_none(h_spool(s, H_POLICE, "outbox"), ".json", H_WAIT_MS));
	assert_true(h_wait_log(p, "taking outbox records again", 1, H_WAIT_MS));
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	assert_int_equal(h_audit_stat(s, "accepted"), (size_t)total);

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(spool_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(state_disk_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(state_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        state_map_nearly_full, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
