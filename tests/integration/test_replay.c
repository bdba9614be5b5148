/*
 * Replays and resends across the freshness window (DESIGN.md §5 steps 4
 * and 5, §11): a broker with a window of two seconds forgets its replay
 * records once they are older than twice the window, yet still answers a
 * resend of a message it accepted with that message's decisions, however
 * old; a message it never accepted is stale past the window, and a msg_id
 * reused for another envelope is a plain replay. The test is the sender:
 * it speaks the wire itself over CURVE with police's real key.
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

#include "tests/integration/harness.h"

#define SKEW_MS 2000

static struct h_sys *sys;

static struct h_client *
client(int agency)
{
	struct h_client *c = h_client_new(
	    sys, h_p("%s/keys/%s.key", sys->dir, fixture_agency[agency]));

	assert_int_equal(
	    h_client_event(c, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, H_WAIT_MS),
	    ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
	return c;
}

static struct wire_frame *
send_frame(
    struct h_client *c, const uint8_t id[16], const uint8_t *frame, size_t len)
{
	struct wire_frame *f;

	h_client_send(c, frame, len);
	f = h_client_receipt(c, id, H_WAIT_MS);
	if (f == NULL)
		fail_msg("no receipt from the broker");
	return f;
}

static void
assert_reason(const struct wire_frame *f, int outcome, int reason)
{
	const struct wire_receipt *r = &f->u.receipt;

	if (r->outcome != outcome || r->reason != reason)
		fail_msg("outcome %d reason %s (%s), expected %d %s",
		    r->outcome, wire_reason_name(r->reason), r->detail, outcome,
		    wire_reason_name(reason));
}

/* The entries of one of the broker's databases, from mdb_stat. */
static long
db_entries(const char *db)
{
	const char *out = h_p("%s/mdb_stat.out", sys->dir);
	const char *argv[] = {"/usr/bin/mdb_stat", "-s", db, sys->data, NULL};
	char *text, *p;
	long n = -1;

	assert_int_equal(h_run(sys, out, NULL, argv), 0);
	text = scratch_slurp(out, NULL);
	assert_non_null(text);
	if ((p = strstr(text, "Entries: ")) != NULL)
		n = strtol(p + 9, NULL, 10);
	free(text);
	return n;
}

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, "clock_skew: 2s\n", NULL, 3);
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

/*
 * Accepted, then the receipt "lost": the same envelope sent again after
 * the window, and again after its replay record is pruned, is answered
 * with the original decisions; it is delivered once.
 */
static void
resend_after_window(void **state)
{
	(void)state;
	struct h_client *c = client(H_POLICE);
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint8_t id[16], *frame;
	size_t len;
	char hex[33];
	struct wire_frame *f;

	h_seal(sys, &m, id, &frame, &len);
	f = send_frame(c, id, frame, len);
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	wire_frame_free(f);
	h_hex(id, 16, hex);
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(sys, H_MHT, "inbox"), hex), H_WAIT_MS));
	assert_true(db_entries("broker.replay") >= 1);

	/* Past the window (the record is still there): a replay with the
	 * decisions, not stale. */
	usleep((SKEW_MS + 500) * 1000);
	f = send_frame(c, id, frame, len);
	assert_reason(f, WIRE_REJECTED, WIRE_REASON_REPLAY);
	assert_false(f->u.receipt.retryable);
	assert_true(h_receipt_decided(&f->u.receipt));
	wire_frame_free(f);

	/* Past twice the window the record is pruned (on the broker's
	 * once-a-second timer); the audit log still answers. */
	uint64_t t0 = h_now_ms();
	while (db_entries("broker.replay") > 0 && h_now_ms() - t0 < H_WAIT_MS)
		usleep(200 * 1000);
	assert_int_equal(db_entries("broker.replay"), 0);
	assert_int_equal(db_entries("broker.replay_time"), 0);
	f = send_frame(c, id, frame, len);
	assert_reason(f, WIRE_REJECTED, WIRE_REASON_REPLAY);
	assert_true(h_receipt_decided(&f->u.receipt));
	/* The decisions are this message's. */
	for (size_t i = 0; i < f->u.receipt.n_decisions; i++)
		assert_true(f->u.receipt.decisions[i].leaf_len > 0);
	wire_frame_free(f);

	/* And across a restart. */
	assert_int_equal(h_broker_stop(sys), 0);
	h_broker_start(sys);
	h_client_free(c);
	c = client(H_POLICE);
	f = send_frame(c, id, frame, len);
	assert_reason(f, WIRE_REJECTED, WIRE_REASON_REPLAY);
	assert_true(h_receipt_decided(&f->u.receipt));
	wire_frame_free(f);
	free(frame);
	h_client_free(c);

	assert_int_equal(h_audit_count(sys, "accepted", hex), 1);
	assert_int_equal(h_audit_count(sys, "acknowledged", hex), 1);
	assert_int_equal(h_count(h_spool(sys, H_MHT, "inbox"), ".json"), 1);
	h_pass(sys);
}

/* Never accepted: past the window it is stale, with nothing to answer. */
static void
never_accepted_is_stale(void **state)
{
	(void)state;
	struct h_client *c = client(H_POLICE);
	struct h_msg m = {
	    .sender = H_POLICE, .signer = -1, .age_ms = 3 * SKEW_MS};
	uint8_t id[16], *frame;
	size_t len;
	struct wire_frame *f;

	h_seal(sys, &m, id, &frame, &len);
	f = send_frame(c, id, frame, len);
	assert_reason(f, WIRE_REJECTED, WIRE_REASON_STALE);
	assert_false(h_receipt_decided(&f->u.receipt));
	wire_frame_free(f);
	free(frame);
	h_client_free(c);
	h_pass(sys);
}

/*
 * Another envelope under an accepted msg_id (the sender's own, signed by
 * it): a plain replay, with no decisions to hand back, within the window
 * and past it.
 */
static void
reused_msg_id(void **state)
{
	(void)state;
	struct h_client *c = client(H_POLICE);
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint8_t id[16], id2[16], *frame, *frame2;
	size_t len, len2;
	struct wire_frame *f;

	h_seal(sys, &m, id, &frame, &len);
	f = send_frame(c, id, frame, len);
	assert_int_equal(f->u.receipt.outcome, WIRE_ACCEPTED);
	wire_frame_free(f);
	/* The same msg_id, another message. */
	struct h_msg m2 = {.sender = H_POLICE,
	    .signer = -1,
	    .fields = "{\"presentation\":{\"description\":\"other\"}}",
	    .reuse_msg_id = id};
	h_seal(sys, &m2, id2, &frame2, &len2);
	assert_memory_equal(id, id2, 16);
	f = send_frame(c, id, frame2, len2);
	assert_reason(f, WIRE_REJECTED, WIRE_REASON_REPLAY);
	assert_false(h_receipt_decided(&f->u.receipt));
	wire_frame_free(f);
	free(frame);
	free(frame2);
	h_client_free(c);
	h_pass(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(resend_after_window),
	    cmocka_unit_test(never_accepted_is_stale),
	    cmocka_unit_test(reused_msg_id),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
