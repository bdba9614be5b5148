/*
 * The agent against a broker that lies (DESIGN.md §5 "Recipient agent",
 * §11 "Refused deliveries"): a rogue ROUTER with the broker's own key,
 * which the trust's real agent pins and connects to, sends it deliveries
 * no honest broker sends. The agent must keep them all out of inbox/,
 * report each in alerts/, and acknowledge each, so that a delivery it
 * cannot take is not sent to it for ever.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/db.h"
#include "tests/integration/harness.h"

static struct h_sys *sys;

static int
setup(void **state)
{
	(void)state;
	sys = h_sys_new(NULL, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	h_sys_free(sys);
	return 0;
}

/* Frames from the agent until one acknowledges msg_id, within ms. */
static bool
acknowledged(struct h_rogue *r, const uint8_t id[16], unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	while (h_now_ms() < end) {
		struct wire_frame *f = h_rogue_recv(r, 200);
		bool hit = f != NULL && f->type == WIRE_DELIVERY_ACK &&
		    f->u.ack_recipient[0] == '\0' &&
		    memcmp(f->u.ack_msg_id, id, 16) == 0;
		wire_frame_free(f);
		if (hit)
			return true;
	}
	return false;
}

/*
 * A delivery cut short (it does not decode, but its manifest names its
 * msg_id): refused, alerted and acknowledged; bytes that name nothing:
 * logged; the agent stays up, and a good delivery after them still
 * reaches inbox/. (The wire's own refusals, a field over 64 KiB among
 * them, are test_wire's and test_envelope's.)
 */
static void
undecodable_deliveries(void **state)
{
	(void)state;
	struct h_rogue *r = h_rogue_new(sys);
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	uint8_t id[16], *frame;
	size_t len;
	char hex[33];

	h_agent_start(sys, H_MHT, true);
	/* The agent greets first: now the rogue knows where it is. */
	struct wire_frame *hello = h_rogue_recv(r, H_WAIT_MS);
	assert_non_null(hello);
	assert_int_equal(hello->type, WIRE_PROOF_REQUEST);
	wire_frame_free(hello);
	/* The agreement every guardian signed, as the broker sends it. */
	h_rogue_agreement(r, sys->policy);

	/* Cut short by one byte. */
	h_delivery(sys, &m, H_MHT, id, &frame, &len);
	h_rogue_send(r, frame, len - 1);
	free(frame);
	assert_true(acknowledged(r, id, H_WAIT_MS));
	h_hex(id, 16, hex);
	assert_true(h_wait_count(
	    h_spool(sys, H_MHT, "alerts"), "-delivery.json", 1, H_WAIT_MS));
	assert_int_equal(
	    h_tree_grep(h_spool(sys, H_MHT, "alerts"), hex, NULL, 0), 2);

	/* Bytes that name no delivery: logged, nothing to acknowledge. */
	static const uint8_t junk[] = {0x1a, 0x05, 0x0a, 0x03, 0x08, 0x01};
	h_rogue_send(r, junk, sizeof(junk));

	/* A good one still goes through. */
	h_delivery(sys, &m, H_MHT, id, &frame, &len);
	h_rogue_send(r, frame, len);
	free(frame);
	assert_true(acknowledged(r, id, H_WAIT_MS));
	h_hex(id, 16, hex);
	assert_true(h_wait_file(
	    h_p("%s/%s.json", h_spool(sys, H_MHT, "inbox"), hex), H_WAIT_MS));
	/* Only the good one in inbox/; the agent stops cleanly. */
	assert_int_equal(h_count(h_spool(sys, H_MHT, "inbox"), ".json"), 1);
	assert_int_equal(h_agent_stop(sys, H_MHT), 0);
	h_rogue_free(r);
	h_pass(sys);
}

/* How many write transactions the agent's state has committed. */
static size_t
state_commits(int agency)
{
	MDB_env *env;
	MDB_envinfo info;

	struct db_open o = {.maxdbs = 16, .flags = DB_RDONLY};

	assert_int_equal(db_env_open(h_state(sys, agency), &o, &env), 0);
	assert_int_equal(mdb_env_info(env, &info), 0);
	db_env_close(env);
	return info.me_last_txnid;
}

#define BURST 32

/*
 * Deliveries that arrive together (they wait while the agent is stopped)
 * are written to inbox/ in turns: one commit records a turn's deliveries
 * as seen, not one commit each (DESIGN.md §5 "Recipient agent"). Every one
 * is in inbox/ once and acknowledged, one sent twice in the same turn is
 * acknowledged twice and written once, and no .part file is left.
 */
static void
burst_in_one_turn(void **state)
{
	(void)state;
	struct h_rogue *r = h_rogue_new(sys);
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	struct h_log l = {0};
	uint8_t id[BURST][16], *frame[BURST];
	size_t len[BURST], acked = 0, again = 0;
	bool seen[BURST] = {false};

	h_agent_start(sys, H_MHT, true);
	struct wire_frame *hello = h_rogue_recv(r, H_WAIT_MS);
	assert_non_null(hello);
	wire_frame_free(hello);
	h_rogue_agreement(r, sys->policy);
	for (int i = 0; i < BURST; i++)
		h_delivery_in(sys, &m, H_MHT, &l, i == 0 ? -1 : (int64_t)i,
		    id[i], &frame[i], &len[i]);
	size_t in_before = h_count(h_spool(sys, H_MHT, "inbox"), ".json");
	assert_int_equal(kill(sys->agent[H_MHT].pid, SIGSTOP), 0);
	size_t before = state_commits(H_MHT);
	for (int i = 0; i < BURST; i++)
		h_rogue_send(r, frame[i], len[i]);
	h_rogue_send(r, frame[0], len[0]); /* the same again */
	assert_int_equal(kill(sys->agent[H_MHT].pid, SIGCONT), 0);
	uint64_t end = h_now_ms() + H_WAIT_MS;
	while ((acked < BURST || again == 0) && h_now_ms() < end) {
		struct wire_frame *f = h_rogue_recv(r, 200);
		for (int i = 0; f != NULL && f->type == WIRE_DELIVERY_ACK &&
		     f->u.ack_recipient[0] == '\0' && i < BURST;
		     i++) {
			if (memcmp(f->u.ack_msg_id, id[i], 16) != 0)
				continue;
			if (seen[i])
				again++;
			else
				acked++;
			seen[i] = true;
		}
		wire_frame_free(f);
	}
	assert_int_equal(acked, BURST);
	assert_int_equal(again, 1);
	size_t commits = state_commits(H_MHT) - before;
	print_message("%d deliveries, %zu commits\n", BURST, commits);
	/* One each before; a few turns now, and room for the agreement's
	 * and the trusted checkpoint's own commits. */
	assert_true(commits < BURST / 2);
	assert_int_equal(
	    h_count(h_spool(sys, H_MHT, "inbox"), ".json"), in_before + BURST);
	assert_int_equal(h_count(h_spool(sys, H_MHT, "inbox"), ".part"), 0);
	for (int i = 0; i < BURST; i++)
		free(frame[i]);
	assert_int_equal(h_agent_stop(sys, H_MHT), 0);
	h_rogue_free(r);
	h_pass(sys);
}

/* How many files in the agent's alerts/ name id. */
static size_t
alerts_naming(struct h_sys *s, const uint8_t id[16])
{
	char hex[33];

	h_hex(id, 16, hex);
	return h_tree_grep(h_spool(s, H_MHT, "alerts"), hex, NULL, 0);
}

/*
 * The agent checks a checkpoint's signature once per note it has not
 * verified before: a note whose signature a broker altered is refused
 * after a good one too (the delivery is written, not backed by the audit
 * log, and alerted), and a good one after it is taken again.
 */
static void
altered_checkpoint_signature(void **state)
{
	(void)state;
	struct h_sys *s = sys;
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_POLICE, .signer = -1};
	struct h_log l = {0};
	uint8_t id[3][16], *frame;
	size_t len;

	h_agent_start(s, H_MHT, true);
	struct wire_frame *hello = h_rogue_recv(r, H_WAIT_MS);
	assert_non_null(hello);
	wire_frame_free(hello);
	h_rogue_agreement(r, s->policy);
	for (int i = 0; i < 3; i++) {
		h_delivery_in(
		    sys, &m, H_MHT, &l, i == 0 ? -1 : 1, id[i], &frame, &len);
		if (i == 1) {
			/* One base64 character of the signature line. */
			static const uint8_t dash[] = {0xe2, 0x80, 0x94, ' '};
			uint8_t *at = NULL;
			for (uint8_t *p = frame; p + 4 <= frame + len; p++)
				if (memcmp(p, dash, 4) == 0)
					at = p;
			uint8_t *b64 =
			    at != NULL ? memchr(at + 4, ' ', 64) : NULL;
			assert_non_null(b64);
			if (b64 != NULL)
				b64[20] = b64[20] == 'A' ? 'B' : 'A';
		}
		h_rogue_send(r, frame, len);
		free(frame);
		assert_true(acknowledged(r, id[i], H_WAIT_MS));
	}
	/* All three in inbox/; only the altered one not backed by the log
	 * (the others wait, held, for the proof the agent asked for). */
	assert_true(
	    h_wait_count(h_spool(s, H_MHT, "inbox"), ".json", 3, H_WAIT_MS));
	assert_int_equal(alerts_naming(s, id[0]), 0);
	assert_true(alerts_naming(s, id[1]) >= 1);
	assert_int_equal(alerts_naming(s, id[2]), 0);
	assert_int_equal(h_log_count(&s->agent[H_MHT],
	                     "checkpoint not signed by the broker"),
	    1);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	h_rogue_free(r);
	h_pass(s);
}

static const char record_fmt[] =
    "{\"recipients\": [\"mental_health_trust\"],"
    " \"purpose\": \"triage_advice\", \"urgency\": \"urgent\","
    " \"local_id\": \"burst-%d\","
    " \"subject\": {\"nhs_number\": \"9434765919\"},"
    " \"fields\": {\"identity\": {\"name\": \"burst\"},"
    " \"risks\": {\"self_harm\": \"high\"}}}";

/* Index of id among the n of ids, or -1. */
static int
find_id(uint8_t ids[][16], int n, const uint8_t *id)
{
	for (int i = 0; i < n; i++)
		if (memcmp(ids[i], id, 16) == 0)
			return i;
	return -1;
}

/*
 * The sending side's turn: receipts and status reports that arrive
 * together are recorded in one commit (and the moved names forgotten in
 * one more), not two commits a receipt. Every record still moves to sent/
 * with its receipt, every report is written to receipts/ and
 * acknowledged.
 */
static void
receipts_in_one_turn(void **state)
{
	(void)state;
	struct h_rogue *r = h_rogue_new(sys);
	uint8_t id[BURST][16], *frame;
	bool acked[BURST] = {false};
	char text[1024];
	size_t len;
	int n = 0, n_acked = 0;

	h_agent_start(sys, H_POLICE, true);
	struct wire_frame *hello = h_rogue_recv(r, H_WAIT_MS);
	assert_non_null(hello);
	wire_frame_free(hello);
	h_rogue_agreement(r, sys->policy);
	for (int i = 0; i < BURST; i++) {
		snprintf(text, sizeof(text), record_fmt, i);
		h_drop(sys, H_POLICE, h_p("burst-%02d.json", i), text);
	}
	/* Every record sealed and sent; resends are the same msg_ids. */
	uint64_t end = h_now_ms() + H_WAIT_MS;
	while (n < BURST && h_now_ms() < end) {
		struct wire_frame *f = h_rogue_recv(r, 200);
		if (f != NULL && f->type == WIRE_SUBMIT &&
		    find_id(id, n, f->u.submit.m.msg_id) < 0)
			memcpy(id[n++], f->u.submit.m.msg_id, 16);
		wire_frame_free(f);
	}
	assert_int_equal(n, BURST);
	assert_int_equal(kill(sys->agent[H_POLICE].pid, SIGSTOP), 0);
	size_t before = state_commits(H_POLICE);
	for (int i = 0; i < BURST; i++) {
		struct wire_receipt rc = {.outcome = WIRE_ACCEPTED};
		struct wire_status st = {.state = WIRE_STATE_ACKNOWLEDGED};

		memcpy(rc.msg_id, id[i], 16);
		assert_int_equal(wire_receipt_encode(&rc, &frame, &len), 0);
		h_rogue_send(r, frame, len);
		free(frame);
		memcpy(st.msg_id, id[i], 16);
		snprintf(st.recipient, sizeof(st.recipient), "%s",
		    "mental_health_trust");
		st.at_ms = (uint64_t)h_now_ms();
		assert_int_equal(wire_status_encode(&st, &frame, &len), 0);
		h_rogue_send(r, frame, len);
		free(frame);
	}
	assert_int_equal(kill(sys->agent[H_POLICE].pid, SIGCONT), 0);
	end = h_now_ms() + H_WAIT_MS;
	while (n_acked < BURST && h_now_ms() < end) {
		struct wire_frame *f = h_rogue_recv(r, 200);
		int i = f != NULL && f->type == WIRE_DELIVERY_ACK &&
		        f->u.ack_recipient[0] != '\0'
		    ? find_id(id, BURST, f->u.ack_msg_id)
		    : -1;
		if (i >= 0 && !acked[i]) {
			acked[i] = true;
			n_acked++;
		}
		wire_frame_free(f);
	}
	/* Every report acknowledged, after its file and its commit. */
	assert_int_equal(n_acked, BURST);
	assert_true(h_wait_count(
	    h_spool(sys, H_POLICE, "sent"), ".receipt.json", BURST, H_WAIT_MS));
	assert_int_equal(
	    h_count(h_spool(sys, H_POLICE, "receipts"), ".acknowledged.json"),
	    BURST);
	assert_int_equal(h_count(h_spool(sys, H_POLICE, "outbox"), ".json"), 0);
	size_t commits = state_commits(H_POLICE) - before;
	print_message("%d receipts and reports, %zu commits\n", BURST, commits);
	/* Two a receipt before (its outcome, then its moved name). */
	assert_true(commits < BURST / 2);
	assert_int_equal(h_agent_stop(sys, H_POLICE), 0);
	h_rogue_free(r);
	h_pass(sys);
}

int
main(void)
{
	/* A system each: an agent trusts the log a test made up. */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        undecodable_deliveries, setup, teardown),
	    cmocka_unit_test_setup_teardown(burst_in_one_turn, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        receipts_in_one_turn, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        altered_checkpoint_signature, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
