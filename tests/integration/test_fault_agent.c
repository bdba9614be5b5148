/*
 * kill -9 of a recipient's agent while it writes deliveries, three times
 * in one stream (DESIGN.md §5 "Recipient agent", §9): after each restart
 * it finishes or discards what the crash interrupted, and in the end every
 * message is in the inbox exactly once, acknowledged once, with nothing
 * half-written left behind.
 */
#include <dirent.h>
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

#define STREAM       400
#define SENDER_BURST 150

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
agent_killed_while_writing(void **state)
{
	struct h_sys *s = *state;
	static uint8_t id[STREAM][WIRE_MSG_ID_LEN];
	static char hex[STREAM][33];
	static const size_t kill_at[] = {40, 150, 260};
	char inbox[PATH_MAX];
	struct h_client *c;
	struct h_watch *w;
	size_t accepted = 0;
	const struct h_msg m = {.sender = H_POLICE,
	    .signer = -1,
	    .fields = "{\"presentation\": {\"description\": \"distressed, "
	              "on a bridge\"}, \"risks\": {\"suicide\": \"high\"}}"};

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	snprintf(inbox, sizeof(inbox), "%s", h_spool(s, H_MHT, "inbox"));
	w = h_watch_new(inbox);
	c = h_client_new(s, h_p("%s/keys/police.key", s->dir));
	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	for (size_t i = 0; i < STREAM; i++) {
		uint8_t *frame;
		size_t len;
		h_seal(s, &m, id[i], &frame, &len);
		h_hex(id[i], WIRE_MSG_ID_LEN, hex[i]);
		h_client_send(c, frame, len);
		free(frame);
	}
	/* All stored at the broker before the agent's trouble begins. */
	uint64_t end = h_now_ms() + H_WAIT_MS;
	while (accepted < STREAM) {
		if (h_now_ms() > end)
			fail_msg("%zu of %d accepted", accepted, STREAM);
		struct wire_frame *f = h_client_recv(c, 100);
		if (f == NULL)
			continue;
		if (f->type == WIRE_RECEIPT) {
			assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
			accepted++;
		}
		wire_frame_free(f);
	}

	/* Killed three times while the deliveries are being written. */
	for (size_t k = 0; k < sizeof(kill_at) / sizeof(kill_at[0]); k++) {
		end = h_now_ms() + 2 * H_WAIT_MS;
		do {
			if (h_now_ms() > end)
				fail_msg("%zu of %zu arrived before kill %zu",
				    h_watch_distinct(w), kill_at[k], k + 1);
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			h_watch_drain(w);
		} while (h_watch_distinct(w) < kill_at[k]);
		h_agent_kill(s, H_MHT);
		h_agent_start(s, H_MHT, false);
	}

	/* Acknowledged once each, and so nothing left to redeliver. */
	end = h_now_ms() + 4 * H_WAIT_MS;
	for (;;) {
		h_watch_drain(w);
		if (h_watch_distinct(w) >= STREAM &&
		    h_audit_stat(s, "acknowledged") >= STREAM)
			break;
		if (h_now_ms() > end)
			fail_msg(
			    "%zu of %d arrived", h_watch_distinct(w), STREAM);
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	h_watch_drain(w);
	print_message("%zu names arrived once, %zu more than once\n",
	    h_watch_distinct(w), h_watch_repeated(w));
	for (size_t i = 0; i < STREAM; i++)
		if (h_watch_count(w, hex[i]) != 1)
			fail_msg("%s arrived %u times", hex[i],
			    h_watch_count(w, hex[i]));
	assert_int_equal(h_watch_repeated(w), 0);
	assert_int_equal(h_audit_stat(s, "acknowledged"), STREAM);
	assert_int_equal(h_count(inbox, ".json"), STREAM);
	for (size_t i = 0; i < STREAM; i++) {
		json_t *in = h_json(h_p("%s/%s.json", inbox, hex[i]));
		assert_string_equal(
		    json_string_value(json_object_get(in, "msg_id")), hex[i]);
		assert_true(json_is_true(json_object_get(
		    json_object_get(in, "verified"), "decryption")));
		json_decref(in);
	}
	/* Nothing half-written is left in the inbox. */
	DIR *d = opendir(inbox);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			fail_msg("left in the inbox: %s", de->d_name);
	closedir(d);
	assert_int_equal(h_count(h_spool(s, H_MHT, "alerts"), ".json"), 0);

	h_client_free(c);
	h_watch_free(w);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	const char *argv[] = {s->cli, "audit", "verify", "--data", s->data,
	    "--broker-key", h_p("%s/keys/broker.pub", s->dir), NULL};
	assert_int_equal(h_run(s, NULL, NULL, argv), 0);
	h_pass(s);
}

/*
 * kill -9 of a sender's agent while it files receipts, five times: after
 * the restarts every record is in sent/ once, with its one receipt beside
 * it, and reached the recipient once. (A crash between moving a record and
 * recording the move once left a second, orphan receipt.)
 */
static void
sender_killed_while_filing(void **state)
{
	struct h_sys *s = *state;
	static const size_t kill_at[] = {10, 35, 60, 85, 110};
	char sent[PATH_MAX], tmp[PATH_MAX], outbox[PATH_MAX], text[512];
	struct h_watch *w;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	h_agent_start(s, H_MHT, true);
	w = h_watch_new(h_spool(s, H_MHT, "inbox"));
	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	snprintf(tmp, sizeof(tmp), "%s", h_spool(s, H_POLICE, "tmp"));
	snprintf(outbox, sizeof(outbox), "%s", h_spool(s, H_POLICE, "outbox"));
	for (int i = 0; i < SENDER_BURST; i++) {
		snprintf(text, sizeof(text),
		    "{\"recipients\": [\"mental_health_trust\"],"
		    " \"purpose\": \"place_of_safety\", \"urgency\": "
		    "\"urgent\","
		    " \"subject\": {\"nhs_number\": \"9434765919\"},"
		    " \"fields\": {\"identity\": {\"name\": \"Person %d\"}}}",
		    i);
		scratch_write(h_p("%s/p%03d.json", tmp, i), text, 0640);
	}
	for (int i = 0; i < SENDER_BURST; i++)
		assert_int_equal(rename(h_p("%s/p%03d.json", tmp, i),
		                     h_p("%s/p%03d.json", outbox, i)),
		    0);
	for (size_t k = 0; k < sizeof(kill_at) / sizeof(kill_at[0]); k++) {
		uint64_t end = h_now_ms() + 2 * H_WAIT_MS;
		while (h_count(sent, ".receipt.json") < kill_at[k]) {
			if (h_now_ms() > end)
				fail_msg("%zu receipts before kill %zu",
				    h_count(sent, ".receipt.json"), k + 1);
			struct timespec ts = {0, 200000};
			nanosleep(&ts, NULL);
		}
		h_agent_kill(s, H_POLICE);
		h_agent_start(s, H_POLICE, false);
	}
	if (!h_wait_count(sent, ".receipt.json", SENDER_BURST, 4 * H_WAIT_MS))
		fail_msg("%zu of %d receipts", h_count(sent, ".receipt.json"),
		    SENDER_BURST);
	assert_true(h_wait_count(sent, "", 2 * SENDER_BURST, H_WAIT_MS));
	/* One record and one receipt each, under the record's own name. */
	for (int i = 0; i < SENDER_BURST; i++) {
		assert_int_equal(
		    access(h_p("%s/p%03d.json", sent, i), F_OK), 0);
		json_t *r = h_json(h_p("%s/p%03d.receipt.json", sent, i));
		assert_string_equal(
		    json_string_value(json_object_get(r, "outcome")),
		    "accepted");
		json_decref(r);
	}
	assert_int_equal(h_count(sent, ""), 2 * SENDER_BURST);
	assert_int_equal(h_count(outbox, ""), 0);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "failed"), ""), 0);
	/* Sealed once each: the recipient got each record once. */
	uint64_t end = h_now_ms() + 4 * H_WAIT_MS;
	for (;;) {
		h_watch_drain(w);
		if (h_watch_distinct(w) >= SENDER_BURST &&
		    h_audit_stat(s, "acknowledged") >= SENDER_BURST)
			break;
		if (h_now_ms() > end)
			fail_msg("%zu of %d arrived", h_watch_distinct(w),
			    SENDER_BURST);
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
	h_watch_drain(w);
	assert_int_equal(h_watch_distinct(w), SENDER_BURST);
	assert_int_equal(h_watch_repeated(w), 0);
	assert_int_equal(h_audit_stat(s, "accepted"), SENDER_BURST);
	h_watch_free(w);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

/*
 * What a crash between the two names of an exclusive write left: the
 * receipt beside a record in sent/, still linked from its temporary file,
 * with the record itself in the outbox. The next start takes that receipt
 * for its own, and files the record under its own name, not a second pair
 * under the msg_id (the two links once made the receipt look foreign).
 */
static void
companion_left_linked(void **state)
{
	struct h_sys *s = *state;
	char sent[PATH_MAX], hex[33], text[256];
	const char *mark = "outbox p000.json: sealed as ";
	char *log, *at;

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	assert_int_equal(h_broker_stop(s), 0);
	scratch_write(h_p("%s/p000.json", h_spool(s, H_POLICE, "tmp")),
	    "{\"recipients\": [\"mental_health_trust\"],"
	    " \"purpose\": \"place_of_safety\", \"urgency\": \"urgent\","
	    " \"subject\": {\"nhs_number\": \"9434765919\"},"
	    " \"fields\": {\"identity\": {\"name\": \"Person 0\"}}}",
	    0640);
	assert_int_equal(
	    rename(h_p("%s/p000.json", h_spool(s, H_POLICE, "tmp")),
	        h_p("%s/p000.json", h_spool(s, H_POLICE, "outbox"))),
	    0);
	assert_true(h_wait_log(&s->agent[H_POLICE], mark, 1, H_WAIT_MS));
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	log = scratch_slurp(s->agent[H_POLICE].log, NULL);
	assert_non_null(log);
	at = strstr(log, mark);
	assert_non_null(at);
	snprintf(hex, sizeof(hex), "%.32s", at + strlen(mark));
	free(log);

	snprintf(sent, sizeof(sent), "%s", h_spool(s, H_POLICE, "sent"));
	snprintf(text, sizeof(text),
	    "{\"msg_id\": \"%s\", \"file\": \"p000.json\", "
	    "\"outcome\": \"accepted\"}\n",
	    hex);
	scratch_write(h_p("%s/p000.receipt.json", sent), text, 0640);
	assert_int_equal(link(h_p("%s/p000.receipt.json", sent),
	                     h_p("%s/.tmp.1.000001-0badcafe", sent)),
	    0);

	h_broker_start(s);
	h_agent_start(s, H_POLICE, true);
	assert_true(h_wait_file(h_p("%s/p000.json", sent), H_WAIT_MS));
	assert_int_equal(h_count(sent, ""), 2);
	assert_int_equal(access(h_p("%s/%s-p000.json", sent, hex), F_OK), -1);
	assert_int_equal(
	    access(h_p("%s/.tmp.1.000001-0badcafe", sent), F_OK), -1);
	assert_int_equal(h_count(h_spool(s, H_POLICE, "outbox"), ""), 0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	assert_int_equal(h_broker_stop(s), 0);
	h_pass(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        agent_killed_while_writing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        sender_killed_while_filing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        companion_left_linked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
