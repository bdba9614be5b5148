/*
 * kill -9 of the broker in the middle of a burst (DESIGN.md §9): every
 * message that got an ACCEPTED receipt, and every message its sender sent
 * again for want of one, reaches the recipient's inbox exactly once, and
 * the audit log still verifies. Once with a fast custom sender (1,000
 * messages; the test resends what lacked a receipt, as an agent does), once
 * with the police agent as the sender, resending by itself on reconnect.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "tests/integration/harness.h"

#define BURST       1000
#define FIRST       600 /* sent before the kill */
#define KILL_AFTER  150 /* accepted receipts seen before the kill */
#define AGENT_BURST 300

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

static void
pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * Waits until the recipient acknowledged n messages (then nothing is left
 * in its queue to deliver again) while draining the arrivals.
 */
static void
wait_acknowledged(struct h_sys *s, struct h_watch *w, size_t n)
{
	uint64_t end = h_now_ms() + 4 * H_WAIT_MS;
	size_t acked = 0;

	for (;;) {
		h_watch_drain(w);
		if (h_watch_distinct(w) >= n &&
		    (acked = h_audit_stat(s, "acknowledged")) >= n)
			break;
		if (h_now_ms() > end)
			fail_msg("%zu of %zu arrived, %zu acknowledged",
			    h_watch_distinct(w), n, acked);
		pause_ms(50);
	}
	assert_int_equal(acked, n);
	h_watch_drain(w);
}

/* The end of a crash test: clean stops and a log that verifies. */
static void
stop_and_verify(struct h_sys *s)
{
	for (int a = 0; a < H_NAG; a++)
		if (s->agent[a].pid != 0)
			assert_int_equal(h_agent_stop(s, a), 0);
	assert_int_equal(h_broker_stop(s), 0);
	const char *argv[] = {s->cli, "audit", "verify", "--data", s->data,
	    "--broker-key", h_p("%s/keys/broker.pub", s->dir), NULL};
	assert_int_equal(h_run(s, h_p("%s/verify.out", s->dir),
	                     h_p("%s/verify.err", s->dir), argv),
	    0);
}

/* ----------------------------------------------- a fast custom sender */

struct out {
	uint8_t id[WIRE_MSG_ID_LEN];
	char hex[33];
	uint8_t *frame;
	size_t len;
	int state; /* 0 no receipt; 1 accepted; 2 accepted, told by replay */
	bool before_kill;
};

static struct out outs[BURST];

static struct out *
find_out(const uint8_t id[WIRE_MSG_ID_LEN])
{
	for (size_t i = 0; i < BURST; i++)
		if (memcmp(outs[i].id, id, WIRE_MSG_ID_LEN) == 0)
			return &outs[i];
	return NULL;
}

/* Takes receipts until quiet_ms pass without one; returns how many. */
static size_t
take_receipts(
    struct h_client *c, unsigned quiet_ms, size_t *done, size_t *replays)
{
	struct wire_frame *f;
	size_t n = 0;

	while ((f = h_client_recv(c, quiet_ms)) != NULL) {
		if (f->type != WIRE_RECEIPT) {
			wire_frame_free(f);
			continue;
		}
		const struct wire_receipt *r = &f->u.receipt;
		struct out *o = find_out(r->msg_id);
		if (o == NULL)
			fail_msg("a receipt for a message never sent");
		n++;
		if (r->outcome == WIRE_ACCEPTED) {
			assert_true(h_receipt_decided(r));
			if (o->state == 0) {
				o->state = 1;
				(*done)++;
			}
		} else if (r->reason == WIRE_REASON_REPLAY &&
		    h_receipt_decided(r)) {
			/* Stored before the crash; its receipt was lost. */
			if (o->state == 0) {
				o->state = 2;
				(*done)++;
				(*replays)++;
			}
		} else if (!r->retryable) {
			fail_msg("%s rejected: %s: %s", o->hex,
			    wire_reason_name(r->reason), r->detail);
		}
		wire_frame_free(f);
	}
	return n;
}

static void
broker_killed_mid_burst(void **state)
{
	struct h_sys *s = *state;
	struct h_client *c;
	struct h_watch *w;
	size_t done = 0, replays = 0, before = 0;
	const struct h_msg m = {.sender = H_POLICE,
	    .signer = -1,
	    .fields = "{\"risks\": {\"self_harm\": \"high\"}, "
	              "\"identity\": {\"name\": \"Burst\"}}"};

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	w = h_watch_new(h_spool(s, H_MHT, "inbox"));
	for (size_t i = 0; i < BURST; i++) {
		h_seal(s, &m, outs[i].id, &outs[i].frame, &outs[i].len);
		h_hex(outs[i].id, WIRE_MSG_ID_LEN, outs[i].hex);
	}
	c = h_client_new(s, h_p("%s/keys/police.key", s->dir));
	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);

	/* The burst; the broker dies while it works through it. */
	for (size_t i = 0; i < FIRST; i++)
		h_client_send(c, outs[i].frame, outs[i].len);
	uint64_t end = h_now_ms() + H_WAIT_MS;
	while (done < KILL_AFTER) {
		if (h_now_ms() > end)
			fail_msg("only %zu receipts before the kill", done);
		take_receipts(c, 5, &done, &replays);
	}
	h_broker_kill(s);
	/* Whatever the broker wrote before it died still arrives. */
	take_receipts(c, 300, &done, &replays);
	for (size_t i = 0; i < BURST; i++)
		if ((outs[i].before_kill = outs[i].state != 0))
			before++;
	for (size_t i = FIRST; i < BURST; i++)
		h_client_send(c, outs[i].frame, outs[i].len);

	h_broker_start(s);
	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	take_receipts(c, 500, &done, &replays);
	/* Send again what has no receipt, until everything has one. */
	end = h_now_ms() + 4 * H_WAIT_MS;
	unsigned rounds = 0;
	while (done < BURST) {
		if (h_now_ms() > end)
			fail_msg("%zu of %d receipts", done, BURST);
		for (size_t i = 0; i < BURST; i++)
			if (outs[i].state == 0)
				h_client_send(c, outs[i].frame, outs[i].len);
		rounds++;
		take_receipts(c, 500, &done, &replays);
	}
	print_message("burst of %d: %zu receipts before the kill; %zu "
	              "stored but unanswered (replay); %u resend rounds\n",
	    BURST, before, replays, rounds);
	assert_true(before >= KILL_AFTER && before < BURST);

	/* Every message, and first those accepted before the crash: in the
	 * inbox exactly once. */
	wait_acknowledged(s, w, BURST);
	for (size_t i = 0; i < BURST; i++) {
		if (h_watch_count(w, outs[i].hex) != 1)
			fail_msg("%s%s arrived %u times", outs[i].hex,
			    outs[i].before_kill ? " (accepted before the kill)"
			                        : "",
			    h_watch_count(w, outs[i].hex));
		assert_true(h_wait_file(
		    h_p("%s/%s.json", h_spool(s, H_MHT, "inbox"), outs[i].hex),
		    0));
	}
	assert_int_equal(h_watch_distinct(w), BURST);
	assert_int_equal(h_watch_repeated(w), 0);
	assert_int_equal(h_count(h_spool(s, H_MHT, "inbox"), ".json"), BURST);
	/* Accepted once each, however often sent. */
	assert_int_equal(h_audit_stat(s, "accepted"), BURST);
	assert_int_equal(h_audit_stat(s, "decision"), BURST);
	assert_int_equal(h_count(h_spool(s, H_MHT, "alerts"), ".json"), 0);
	h_client_free(c);
	for (size_t i = 0; i < BURST; i++)
		free(outs[i].frame);
	h_watch_free(w);
	stop_and_verify(s);
	h_pass(s);
}

/* ------------------------------------------- the agent as the sender */

static void
broker_killed_agent_resends(void **state)
{
	struct h_sys *s = *state;
	char sent[PATH_MAX], tmp[PATH_MAX], outbox[PATH_MAX], text[512];
	struct h_watch *w;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	w = h_watch_new(h_spool(s, H_MHT, "inbox"));
	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	snprintf(tmp, sizeof(tmp), "%s", h_spool(s, H_POLICE, "tmp"));
	snprintf(outbox, sizeof(outbox), "%s", h_spool(s, H_POLICE, "outbox"));
	/* Written first, renamed in together: a local system's burst. */
	for (int i = 0; i < AGENT_BURST; i++) {
		snprintf(text, sizeof(text),
		    "{\"recipients\": [\"mental_health_trust\"],"
		    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
		    " \"local_id\": \"INC-%d\","
		    " \"subject\": {\"nhs_number\": \"9434765919\"},"
		    " \"fields\": {\"risks\": {\"self_harm\": \"high\"},"
		    " \"identity\": {\"name\": \"Person %d\"}}}",
		    i, i);
		scratch_write(h_p("%s/r%03d.json", tmp, i), text, 0640);
	}
	for (int i = 0; i < AGENT_BURST; i++)
		assert_int_equal(rename(h_p("%s/r%03d.json", tmp, i),
		                     h_p("%s/r%03d.json", outbox, i)),
		    0);

	/* The broker dies with deliveries under way. */
	uint64_t end = h_now_ms() + H_WAIT_MS;
	do {
		if (h_now_ms() > end)
			fail_msg("no deliveries before the kill");
		pause_ms(2);
		h_watch_drain(w);
	} while (h_watch_distinct(w) < 20);
	h_broker_kill(s);
	size_t before = h_count(sent, ".receipt.json");
	h_broker_start(s);

	/* The agent resends on reconnect; every record gets its receipt. */
	if (!h_wait_count(sent, ".receipt.json", AGENT_BURST, 4 * H_WAIT_MS))
		fail_msg("%zu of %d receipts", h_count(sent, ".receipt.json"),
		    AGENT_BURST);
	/* Resends of what was stored before the crash are told "replay",
	 * with the decisions; nothing is rejected for another reason. */
	const char *rargs[] = {"--event", "rejected", NULL};
	json_t *rejected = h_audit(s, rargs);
	for (size_t i = 0; i < json_array_size(rejected); i++)
		assert_string_equal(json_string_value(json_object_get(
		                        json_array_get(rejected, i), "reason")),
		    "replay");
	print_message("agent burst of %d: %zu receipts before the kill, %zu "
	              "delivered; %zu resends answered as replays\n",
	    AGENT_BURST, before, h_watch_distinct(w),
	    json_array_size(rejected));
	json_decref(rejected);
	assert_true(h_wait_count(sent, ".json", 2 * AGENT_BURST, H_WAIT_MS));
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ""), 0);
	assert_int_equal(h_count(outbox, ""), 0);
	wait_acknowledged(s, w, AGENT_BURST);
	for (int i = 0; i < AGENT_BURST; i++) {
		json_t *r = h_json(h_p("%s/r%03d.receipt.json", sent, i));
		const char *id =
		    json_string_value(json_object_get(r, "msg_id"));
		assert_string_equal(
		    json_string_value(json_object_get(r, "outcome")),
		    "accepted");
		assert_true(json_is_true(json_object_get(r, "audit_verified")));
		if (h_watch_count(w, id) != 1)
			fail_msg("r%03d (%s) arrived %u times", i, id,
			    h_watch_count(w, id));
		json_t *in =
		    h_json(h_p("%s/%s.json", h_spool(s, H_MHT, "inbox"), id));
		/* The record that arrived is the one this file held. */
		char name[32];
		snprintf(name, sizeof(name), "Person %d", i);
		assert_string_equal(
		    json_string_value(json_object_get(
		        json_object_get(
		            json_object_get(in, "fields"), "identity"),
		        "name")),
		    name);
		json_decref(in);
		json_decref(r);
	}
	assert_int_equal(h_watch_distinct(w), AGENT_BURST);
	assert_int_equal(h_watch_repeated(w), 0);
	assert_int_equal(
	    h_count(h_spool(s, H_MHT, "inbox"), ".json"), AGENT_BURST);
	assert_int_equal(h_audit_stat(s, "accepted"), AGENT_BURST);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "alerts"), ".json"), 0);
	h_watch_free(w);
	stop_and_verify(s);
	h_pass(s);
}

/* ------------------------------------------------------- a full disk */

#define FULL_TRIES 60

/*
 * The broker's map fills while the recipient is away: messages are refused
 * with a retryable storage_full, never lost or half stored; once the
 * recipient collects, the sender's retries go through, each delivered
 * once, and the log verifies.
 */
static void
storage_full_is_retryable(void **state)
{
	struct h_sys *s = *state;
	static struct out big[FULL_TRIES];
	size_t accepted = 0, refused = 0;
	char *fields, *p;
	const size_t each = 60 * 1024;
	struct h_client *c;
	struct h_watch *w;

	/* Eight disclosed fields of 60 KiB: about 500 KB queued apiece. */
	fields = malloc(16 * each);
	assert_non_null(fields);
	p = fields + sprintf(fields, "{");
	static const char *const names[] = {"identity", "demographics",
	    "communication", "presentation", "substances", "risks", "health",
	    "dependents"};
	static const char *const member[] = {"description", "gender", "needs",
	    "description", "details", "details", "notes", "notes"};
	for (size_t i = 0; i < 8; i++) {
		p += sprintf(p, "%s\"%s\": {\"%s\": \"", i ? ", " : "",
		    names[i], member[i]);
		memset(p, 'a' + (int)i, each);
		p += each;
		p += sprintf(p, "\"}");
	}
	sprintf(p, "}");
	const struct h_msg m = {
	    .sender = H_POLICE, .signer = -1, .fields = fields};

	h_broker_start(s);
	c = h_client_new(s, h_p("%s/keys/police.key", s->dir));
	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	for (size_t i = 0; i < FULL_TRIES; i++) {
		h_seal(s, &m, big[i].id, &big[i].frame, &big[i].len);
		h_hex(big[i].id, WIRE_MSG_ID_LEN, big[i].hex);
		h_client_send(c, big[i].frame, big[i].len);
		struct wire_frame *f =
		    h_client_receipt(c, big[i].id, H_WAIT_MS);
		assert_non_null(f);
		const struct wire_receipt *r = &f->u.receipt;
		if (r->outcome == WIRE_ACCEPTED) {
			big[i].state = 1;
			accepted++;
		} else if (r->reason == WIRE_REASON_STORAGE_FULL) {
			assert_true(r->retryable);
			refused++;
		} else {
			fail_msg("%s: %s: %s", big[i].hex,
			    wire_reason_name(r->reason), r->detail);
		}
		wire_frame_free(f);
	}
	free(fields);
	print_message("map of 16 MiB: %zu accepted, %zu refused as full\n",
	    accepted, refused);
	assert_true(accepted > 0 && refused > 0);
	/* A refusal stored nothing: its msg_id is not in the log. */
	for (size_t i = 0; i < FULL_TRIES; i++)
		if (big[i].state == 0)
			assert_int_equal(
			    h_audit_count(s, "accepted", big[i].hex), 0);

	/* The recipient collects; the sender retries until all are in. */
	h_agent_start(s, H_MHT, true);
	w = h_watch_new(h_spool(s, H_MHT, "inbox"));
	uint64_t end = h_now_ms() + 4 * H_WAIT_MS;
	while (accepted < FULL_TRIES) {
		if (h_now_ms() > end)
			fail_msg("%zu of %d accepted after retries", accepted,
			    FULL_TRIES);
		for (size_t i = 0; i < FULL_TRIES; i++) {
			if (big[i].state != 0)
				continue;
			h_client_send(c, big[i].frame, big[i].len);
			struct wire_frame *f =
			    h_client_receipt(c, big[i].id, H_WAIT_MS);
			assert_non_null(f);
			if (f->u.receipt.outcome == WIRE_ACCEPTED) {
				big[i].state = 1;
				accepted++;
			} else {
				assert_int_equal(f->u.receipt.reason,
				    WIRE_REASON_STORAGE_FULL);
			}
			wire_frame_free(f);
		}
		pause_ms(50);
	}
	wait_acknowledged(s, w, FULL_TRIES);
	for (size_t i = 0; i < FULL_TRIES; i++) {
		assert_int_equal(h_watch_count(w, big[i].hex), 1);
		free(big[i].frame);
	}
	assert_int_equal(h_audit_stat(s, "accepted"), FULL_TRIES);
	h_client_free(c);
	h_watch_free(w);
	stop_and_verify(s);
	h_pass(s);
}

static int
setup_small_map(void **state)
{
	*state = h_sys_new(NULL, NULL, NULL, 1);
	/* The smallest map the broker takes. */
	struct h_sys *s = *state;
	char *conf = scratch_slurp(s->broker_yaml, NULL);
	char *at = strstr(conf, "map_size_mb: 64");
	assert_non_null(at);
	memcpy(at, "map_size_mb: 16", 15);
	scratch_write(s->broker_yaml, conf, 0644);
	free(conf);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        broker_killed_mid_burst, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        broker_killed_agent_resends, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        storage_full_is_retryable, setup_small_map, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
