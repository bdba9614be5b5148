/*
 * The broker against a rogue or broken client (DESIGN.md §5): a key not in
 * the keyring, a spoofed sender, a bad signature, a replay (also after a
 * restart), stale and future timestamps, an undeclared purpose and
 * oversized frames. The test speaks the wire itself over CURVE, with the
 * real keys, to a real broker; the trust's real agent receives what gets
 * through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "common/urgency.h"
#include "tests/integration/harness.h"

static struct h_sys *sys;

static const char *
key_of(int agency)
{
	return h_p("%s/keys/%s.key", sys->dir, fixture_agency[agency]);
}

/* A client of agency, connected. */
static struct h_client *
client(int agency)
{
	struct h_client *c = h_client_new(sys, key_of(agency));

	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	return c;
}

/* Seals m, sends it on c, returns the broker's receipt. */
static struct wire_frame *
submit(struct h_client *c, const struct h_msg *m, uint8_t id[16],
    uint8_t **keep, size_t *keep_len)
{
	uint8_t *frame;
	size_t len;
	struct wire_frame *r;

	h_seal(sys, m, id, &frame, &len);
	h_client_send(c, frame, len);
	r = h_client_receipt(c, id, H_WAIT_MS);
	if (r == NULL)
		fail_msg("no receipt from the broker");
	if (keep != NULL) {
		*keep = frame;
		*keep_len = len;
	} else {
		free(frame);
	}
	return r;
}

static void
assert_rejected(const struct wire_frame *f, int reason)
{
	const struct wire_receipt *r = &f->u.receipt;

	if (r->outcome != WIRE_REJECTED || r->reason != reason)
		fail_msg("outcome %d reason %s (%s), expected rejected %s",
		    r->outcome, wire_reason_name(r->reason), r->detail,
		    wire_reason_name(reason));
	assert_false(r->retryable);
}

/* The audit log's one rejection of msg_id, with its reason. */
static json_t *
audited_rejection(const uint8_t id[16], const char *reason)
{
	char hex[33];
	const char *args[] = {"--msg-id", hex, "--event", "rejected", NULL};
	json_t *evs, *e;

	h_hex(id, 16, hex);
	evs = h_audit(sys, args);
	assert_int_equal(json_array_size(evs), 1);
	e = json_incref(json_array_get(evs, 0));
	json_decref(evs);
	assert_string_equal(
	    json_string_value(json_object_get(e, "reason")), reason);
	return e;
}

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, NULL, NULL, 7);
	h_broker_start(sys);
	h_agent_start(sys, H_MHT, true);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	return 0;
}

struct refused {
	const char *key64;
};

static bool
refusal_logged(void *arg)
{
	struct refused *r = arg;
	const char *args[] = {"--event", "connection_refused", NULL};
	json_t *evs = h_audit(sys, args);
	bool hit = false;

	for (size_t i = 0; i < json_array_size(evs); i++) {
		const char *peer = json_string_value(
		    json_object_get(json_array_get(evs, i), "peer"));
		hit |= peer != NULL && strstr(peer, r->key64) != NULL;
	}
	json_decref(evs);
	return hit;
}

/* A CURVE key not in the keyring gets no handshake, no receipt; audited. */
static void
unknown_key_refused(void **state)
{
	(void)state;
	const char *rogue = h_p("%s/rogue", sys->dir);
	const char *gen[] = {sys->cli, "keys", "generate", "--agency",
	    "intruder", "--out", rogue, NULL};
	struct keys_secret *k = NULL;
	char key64[64];
	uint8_t id[16], *frame;
	size_t len;

	assert_int_equal(h_run(sys, NULL, NULL, gen), 0);
	assert_int_equal(
	    keys_load_secret(h_p("%s/intruder.key", rogue), &k), 0);
	sodium_bin2base64(key64, sizeof(key64), k->pub.transport_pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	keys_secret_free(k);

	struct h_client *c = h_client_new(sys, h_p("%s/intruder.key", rogue));
	/* A well-formed message, signed by police, queued to go out. */
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	h_seal(sys, &m, id, &frame, &len);
	h_client_send(c, frame, len);
	free(frame);
	assert_int_equal(
	    h_client_event(c,
	        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
	        H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	struct refused r = {key64};
	assert_true(h_wait(H_WAIT_MS, refusal_logged, &r));
	/* Nothing came back and nothing of the message reached the log. */
	assert_null(h_client_recv(c, 0));
	char hex[33];
	h_hex(id, 16, hex);
	const char *args[] = {"--msg-id", hex, NULL};
	json_t *evs = h_audit(sys, args);
	assert_int_equal(json_array_size(evs), 0);
	json_decref(evs);
	h_client_free(c);
	h_pass(sys);
}

/* Police's connection submitting what ambulance signed: sender_mismatch. */
static void
spoofed_sender(void **state)
{
	(void)state;
	struct h_client *c = client(H_POLICE);
	uint8_t id[16];

	struct h_msg m = {
	    .sender = H_AMBULANCE, .signer = -1, .purpose = "emergency_care"};
	struct wire_frame *f = submit(c, &m, id, NULL, NULL);
	assert_rejected(f, WIRE_REASON_SENDER_MISMATCH);
	wire_frame_free(f);
	json_t *e = audited_rejection(id, "sender_mismatch");
	/* Logged against the authenticated agency, with the claim. */
	assert_string_equal(
	    json_string_value(json_object_get(e, "sender")), "police");
	assert_non_null(
	    strstr(json_string_value(json_object_get(e, "peer")), "ambulance"));
	json_decref(e);

	/* Police's name, ambulance's signature: bad_signature. */
	struct h_msg m2 = {.sender = H_POLICE, .signer = H_AMBULANCE};
	f = submit(c, &m2, id, NULL, NULL);
	assert_rejected(f, WIRE_REASON_BAD_SIGNATURE);
	wire_frame_free(f);
	json_decref(audited_rejection(id, "bad_signature"));
	h_client_free(c);
	h_pass(sys);
}

/* The same envelope again: replay, before and after a broker restart. */
static void
replay_rejected(void **state)
{
	(void)state;
	struct h_client *c = client(H_POLICE);
	uint8_t id[16], *frame;
	size_t len;
	char hex[33];
	struct h_msg m = {.sender = H_POLICE, .signer = -1};

	struct wire_frame *f = submit(c, &m, id, &frame, &len);
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	assert_true(h_receipt_decided(&f->u.receipt));
	wire_frame_free(f);
	h_hex(id, 16, hex);
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(sys, H_MHT, "inbox"), hex), H_WAIT_MS));

	h_client_send(c, frame, len);
	f = h_client_receipt(c, id, H_WAIT_MS);
	assert_non_null(f);
	assert_rejected(f, WIRE_REASON_REPLAY);
	/* Its sender is told the original decisions, to stop resending. */
	assert_true(h_receipt_decided(&f->u.receipt));
	wire_frame_free(f);
	h_client_free(c);

	/* The broker remembers across a clean restart and a crash. */
	for (int crash = 0; crash < 2; crash++) {
		if (crash)
			h_broker_kill(sys);
		else
			assert_int_equal(h_broker_stop(sys), 0);
		h_broker_start(sys);
		c = client(H_POLICE);
		h_client_send(c, frame, len);
		f = h_client_receipt(c, id, H_WAIT_MS);
		assert_non_null(f);
		assert_rejected(f, WIRE_REASON_REPLAY);
		wire_frame_free(f);
		h_client_free(c);
	}
	free(frame);
	/* The trust's agent is back after the restarts. */
	assert_true(h_wait_log(
	    &sys->broker, "mental_health_trust connected", 1, H_WAIT_MS));

	assert_int_equal(h_audit_count(sys, "accepted", hex), 1);
	assert_int_equal(h_audit_count(sys, "rejected", hex), 3);
	/* Delivered once: the trust saw one message, acknowledged once. */
	assert_int_equal(h_audit_count(sys, "acknowledged", hex), 1);
	assert_int_equal(h_count(h_spool(sys, H_MHT, "inbox"), ".json"), 1);
	h_pass(sys);
}

/* created_at ten minutes old, or ten minutes ahead: stale and future. */
static void
stale_and_future(void **state)
{
	(void)state;
	struct h_client *c = client(H_POLICE);
	uint8_t id[16];

	struct h_msg old = {
	    .sender = H_POLICE, .signer = -1, .age_ms = 10 * 60 * 1000};
	struct wire_frame *f = submit(c, &old, id, NULL, NULL);
	assert_rejected(f, WIRE_REASON_STALE);
	wire_frame_free(f);
	json_decref(audited_rejection(id, "stale"));

	struct h_msg ahead = {
	    .sender = H_POLICE, .signer = -1, .age_ms = -10 * 60 * 1000};
	f = submit(c, &ahead, id, NULL, NULL);
	assert_rejected(f, WIRE_REASON_FUTURE);
	wire_frame_free(f);
	json_decref(audited_rejection(id, "future"));
	h_client_free(c);
	h_pass(sys);
}

/* A purpose the agreement does not declare. */
static void
undeclared_purpose(void **state)
{
	(void)state;
	struct h_client *c = client(H_POLICE);
	uint8_t id[16];

	struct h_msg m = {
	    .sender = H_POLICE, .signer = -1, .purpose = "law_enforcement"};
	struct wire_frame *f = submit(c, &m, id, NULL, NULL);
	assert_rejected(f, WIRE_REASON_UNDECLARED_PURPOSE);
	wire_frame_free(f);
	json_t *e = audited_rejection(id, "undeclared_purpose");
	assert_string_equal(json_string_value(json_object_get(e, "purpose")),
	    "law_enforcement");
	json_decref(e);
	h_client_free(c);
	h_pass(sys);
}

/* Frames over the limit: refused, the broker does not grow, and serves. */
static void
oversized_frames(void **state)
{
	(void)state;
	const size_t big = 8u << 20;
	uint8_t *junk = malloc(big), zero[16] = {0}, id[16];
	char hex[33];
	struct h_client *c;
	struct wire_frame *f;

	assert_non_null(junk);
	randombytes_buf(junk, big);

	/* Just over 1 MiB: within the transport's slack, refused by the
	 * wire's limit before any decoding, with a receipt that says so. */
	c = client(H_POLICE);
	h_client_send(c, junk, WIRE_MAX_FRAME + 100);
	f = h_client_receipt(c, zero, H_WAIT_MS);
	assert_non_null(f);
	assert_rejected(f, WIRE_REASON_TOO_BIG);
	wire_frame_free(f);
	h_client_free(c);

	/* 8 MiB frames: the transport drops the connection unread. */
	pid_t pid = sys->broker.pid;
	long rss0 = h_proc_kb(pid, "VmRSS:"), hwm0 = h_proc_kb(pid, "VmHWM:");
	for (int i = 0; i < 6; i++) {
		c = client(H_POLICE);
		junk[0] = (uint8_t)i;
		h_client_send(c, junk, big);
		assert_int_equal(
		    h_client_event(c, ZMQ_EVENT_DISCONNECTED, H_WAIT_MS),
		    ZMQ_EVENT_DISCONNECTED);
		assert_null(h_client_recv(c, 0));
		h_client_free(c);
	}
	long rss1 = h_proc_kb(pid, "VmRSS:"), hwm1 = h_proc_kb(pid, "VmHWM:");
	print_message("broker VmRSS %ld -> %ld kB, VmHWM %ld -> %ld kB after "
	              "6 frames of %zu MiB\n",
	    rss0, rss1, hwm0, hwm1, big >> 20);
	/* Reading even one frame would have cost 8 MiB. */
	assert_true(rss1 - rss0 < 4096);
	assert_true(hwm1 - hwm0 < 4096);
	free(junk);

	/* And the broker still serves. */
	c = client(H_POLICE);
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	f = submit(c, &m, id, NULL, NULL);
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	wire_frame_free(f);
	h_client_free(c);
	h_hex(id, 16, hex);
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(sys, H_MHT, "inbox"), hex), H_WAIT_MS));
	const char *args[] = {"--event", "rejected", NULL};
	json_t *evs = h_audit(sys, args);
	size_t too_big = 0;
	for (size_t i = 0; i < json_array_size(evs); i++)
		too_big += strcmp(json_string_value(json_object_get(
		                      json_array_get(evs, i), "reason")),
		               "too_big") == 0;
	json_decref(evs);
	assert_int_equal(too_big, 1);
	h_pass(sys);
}

/* After all that: a clean stop and a log that verifies. */
static void
clean_stop_and_verify(void **state)
{
	(void)state;
	assert_int_equal(h_agent_stop(sys, H_MHT), 0);
	assert_int_equal(h_broker_stop(sys), 0);
	const char *argv[] = {sys->cli, "audit", "verify", "--data", sys->data,
	    "--broker-key", h_p("%s/keys/broker.pub", sys->dir), NULL};
	assert_int_equal(h_run(sys, NULL, NULL, argv), 0);
	/* No alert at the trust: everything it got verified. */
	assert_int_equal(h_count(h_spool(sys, H_MHT, "alerts"), ".json"), 0);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(unknown_key_refused),
	    cmocka_unit_test(spoofed_sender),
	    cmocka_unit_test(replay_rejected),
	    cmocka_unit_test(stale_and_future),
	    cmocka_unit_test(undeclared_purpose),
	    cmocka_unit_test(oversized_frames),
	    cmocka_unit_test(clean_stop_and_verify),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
