/*
 * Broker outages longer than its freshness window (broker.yaml clock_skew,
 * 3 s here; DESIGN.md §5 step 4). A record the sending agent held through
 * the outage is rejected `stale`, which means it was never accepted: the
 * agent seals it again under a new msg_id and it is delivered once, its
 * receipt naming the msg_id it replaced. A message the broker did accept
 * just before the outage, whose receipt was lost, is answered `replay`
 * with its decisions whatever its age, and is neither failed nor sent
 * twice (this needs the broker to look for a replay before the time).
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define SKEW_MS 3000

static const char record_fmt[] =
    "{\"recipients\": [\"mental_health_trust\"],"
    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
    " \"local_id\": \"%s\","
    " \"subject\": {\"nhs_number\": \"9434765919\"},"
    " \"fields\": {\"identity\": {\"name\": \"%s\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

static void
drop(struct h_sys *s, const char *name)
{
	char text[1024];

	snprintf(text, sizeof(text), record_fmt, name, name);
	h_drop(s, H_POLICE, h_p("%s.json", name), text);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The msg_id the agent's log gives a file when it seals it. */
static void
sealed_id(const struct h_proc *p, const char *file, char hex[33])
{
	char needle[128];
	char *log = scratch_slurp(p->log, NULL);
	const char *q;

	assert_non_null(log);
	snprintf(needle, sizeof(needle), "outbox %s: sealed as ", file);
	q = strstr(log, needle);
	assert_non_null(q);
	memcpy(hex, q + strlen(needle), 32);
	hex[32] = '\0';
	free(log);
}

/* Waits for the inbox arrivals to reach n, and a little longer. */
static void
arrivals(struct h_watch *iw, size_t n, unsigned settle_ms)
{
	uint64_t end = h_now_ms() + H_WAIT_MS;

	do {
		h_watch_drain(iw);
		sleep_ms(20);
	} while (h_watch_distinct(iw) < n && h_now_ms() < end);
	sleep_ms(settle_ms);
	h_watch_drain(iw);
}

/* The recipient's inbox, watched; freed by teardown, even on a failure. */
static struct h_watch *w;

static int
setup(void **state)
{
	*state = h_sys_new(NULL, "clock_skew: 3s\n", NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	h_watch_free(w);
	w = NULL;
	h_sys_free(*state);
	return 0;
}

/* Held through an outage: sealed again, delivered once, nothing failed. */
static void
outage_longer_than_window(void **state)
{
	struct h_sys *s = *state;
	char sent[PATH_MAX];
	enum { N = 5 };

	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);
	w = h_watch_new(h_spool(s, H_MHT, "inbox"));

	assert_int_equal(h_broker_stop(s), 0);
	for (int i = 0; i < N; i++)
		drop(s, h_p("held-%d", i));
	assert_true(h_wait_log(&s->agent[H_POLICE], "sealed as", N, H_WAIT_MS));
	sleep_ms(SKEW_MS + 1500);
	h_broker_start(s);

	assert_true(h_wait_count(sent, ".receipt.json", N, H_WAIT_MS));
	assert_true(
	    h_wait_none(h_spool(s, H_POLICE, "outbox"), ".json", H_WAIT_MS));
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	arrivals(w, N, 1000);
	assert_int_equal(h_watch_distinct(w), N);
	assert_int_equal(h_watch_repeated(w), 0);
	for (int i = 0; i < N; i++) {
		char first[33];
		sealed_id(&s->agent[H_POLICE], h_p("held-%d.json", i), first);
		json_t *r = h_json(h_p("%s/held-%d.receipt.json", sent, i));
		const char *id =
		    json_string_value(json_object_get(r, "msg_id"));
		json_t *prev = json_object_get(r, "supersedes");
		assert_string_equal(
		    json_string_value(json_object_get(r, "outcome")),
		    "accepted");
		/* Delivered under the new msg_id, which names the first. */
		assert_int_equal(h_watch_count(w, id), 1);
		assert_int_equal(h_watch_count(w, first), 0);
		assert_int_equal(json_array_size(prev), 1);
		assert_string_equal(
		    json_string_value(json_array_get(prev, 0)), first);
		assert_string_not_equal(id, first);
		assert_int_equal(h_audit_count(s, "rejected", first), 1);
		assert_int_equal(h_audit_count(s, "accepted", id), 1);
		json_decref(r);
	}
	assert_int_equal(h_audit_stat(s, "accepted"), N);
	assert_int_equal(
	    h_log_count(&s->agent[H_POLICE], "sealed again as"), N);

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * Accepted, then the receipt lost (the sender frozen, then killed), then
 * an outage longer than the window: the resend is recognised as the
 * message the broker accepted; it ends in sent/, delivered once.
 */
static void
receipt_lost_before_outage(void **state)
{
	struct h_sys *s = *state;
	char hex[33], sent[PATH_MAX];

	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_POLICE, true);
	w = h_watch_new(h_spool(s, H_MHT, "inbox"));

	/* Sent while the broker is frozen; the sender frozen before the
	 * broker answers; then the sender dies with the receipt unread. */
	assert_int_equal(kill(s->broker.pid, SIGSTOP), 0);
	drop(s, "lost");
	assert_true(h_wait_log(&s->agent[H_POLICE], "sealed as", 1, H_WAIT_MS));
	sealed_id(&s->agent[H_POLICE], "lost.json", hex);
	sleep_ms(300);
	assert_int_equal(kill(s->agent[H_POLICE].pid, SIGSTOP), 0);
	assert_int_equal(kill(s->broker.pid, SIGCONT), 0);
	if (!h_wait_audit(s, "accepted", hex, 1, H_WAIT_MS))
		fail_msg("the broker never accepted %s", hex);
	h_agent_kill(s, H_POLICE);
	assert_int_equal(h_count(sent, ".receipt.json"), 0);

	/* An outage longer than the window, then both back. */
	assert_int_equal(h_broker_stop(s), 0);
	sleep_ms(SKEW_MS + 1500);
	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);

	assert_true(h_wait_file(h_p("%s/lost.receipt.json", sent), H_WAIT_MS));
	json_t *r = h_json(h_p("%s/lost.receipt.json", sent));
	assert_string_equal(
	    json_string_value(json_object_get(r, "outcome")), "accepted");
	assert_string_equal(
	    json_string_value(json_object_get(r, "msg_id")), hex);
	assert_null(json_object_get(r, "supersedes"));
	assert_true(json_is_true(json_object_get(r, "audit_verified")));
	json_decref(r);
	assert_true(
	    h_wait_none(h_spool(s, H_POLICE, "outbox"), ".json", H_WAIT_MS));
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ".json"), 0);
	/* Delivered once, under its own msg_id, and nothing else sent. */
	arrivals(w, 1, 2000);
	assert_int_equal(h_watch_distinct(w), 1);
	assert_int_equal(h_watch_count(w, hex), 1);
	assert_int_equal(h_audit_stat(s, "accepted"), 1);
	assert_int_equal(h_log_count(&s->agent[H_POLICE], "sealed again"), 0);

	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        outage_longer_than_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        receipt_lost_before_outage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
