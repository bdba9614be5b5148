/*
 * The witnessed log (DESIGN.md §7) against brokers that lie, each a rogue
 * ROUTER with the broker's own keys (harness_rogue.c) and logs made up
 * with them (harness_log.c): one that signs a forked tree, one that shows
 * two agencies two logs, one that answers proofs for other sizes, one that
 * never answers, one that withholds every cosignature. The real agents
 * must alert within their witness_window (3 s here) and leave no delivery
 * in inbox/ with "audit_proof": true. Then the honest broker: the agents
 * cosign, the broker keeps and serves the cosignatures across a restart,
 * `concordat audit verify --witnesses` says who witnessed which size, and
 * no agent alerts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/cosign.h"
#include "audit/merkle.h"
#include "tests/integration/harness.h"

#define WINDOW_MS 3000
#define EXTRA     "witness_window: 3s\n"
#define PROVEN    "\"audit_proof\": true"

static const char policy[] =
    "agreement: witness-test\n"
    "version: 1\n"
    "approved_by: Integration tests\n"
    "agencies: [police, ambulance, mental_health_trust, social_care]\n"
    "purposes:\n"
    "  safeguarding:\n"
    "    description: Care for dependents\n"
    "    expires_after: 1h\n"
    "rules:\n"
    "  - id: dependents\n"
    "    from: mental_health_trust\n"
    "    to: [social_care]\n"
    "    purposes: [safeguarding]\n"
    "    share: [identity, dependents]\n"
    "    basis: \"Care Act 2014 s42\"\n";

/*
 * The test system, each agent holding the agreement already: the agents
 * decide every delivery again under it (DESIGN.md §8), and a rogue broker
 * sends none.
 */
static struct h_sys *
sys_new(void)
{
	struct h_sys *s = h_sys_new(policy, NULL, EXTRA, 1);

	for (int a = 0; a < H_NAG; a++)
		h_agent_hold_agreement(s, a);
	return s;
}

/* The next frame of type from the agent of routing id rid (any when
 * rid_len is 0), within ms; others are dropped. The caller frees it. */
static struct wire_frame *
expect(struct h_rogue *r, int type, const uint8_t *rid, size_t rid_len,
    unsigned ms)
{
	uint64_t end = h_now_ms() + ms;
	uint8_t from[256];

	while (h_now_ms() < end) {
		struct wire_frame *f = h_rogue_recv(r, 100);
		if (f == NULL)
			continue;
		size_t n = h_rogue_peer(r, from);
		if ((int)f->type == type &&
		    (rid_len == 0 ||
		        (n == rid_len && memcmp(from, rid, n) == 0)))
			return f;
		wire_frame_free(f);
	}
	return NULL;
}

/* Waits until the agency's alerts name what n times, within ms. */
static bool
alerted(struct h_sys *s, int agency, const char *what, size_t n, unsigned ms)
{
	uint64_t end = h_now_ms() + ms;

	do {
		if (h_tree_grep(h_spool(s, agency, "alerts"), what, NULL, 0) >=
		    n)
			return true;
		usleep(20 * 1000);
	} while (h_now_ms() < end);
	return false;
}

static void
no_proven_delivery(struct h_sys *s, int agency)
{
	char found[PATH_MAX];

	if (h_tree_grep(
	        h_spool(s, agency, "inbox"), PROVEN, found, sizeof(found)) != 0)
		fail_msg("%s says the audit proof held", found);
}

/* Whether the record at path says its proof held, within H_WAIT_MS: the
 * file itself, not the temporary of its rewrite beside it. */
static bool
wait_proven(const char *path)
{
	uint64_t end = h_now_ms() + H_WAIT_MS;

	for (;;) {
		char *text = scratch_slurp(path, NULL);
		bool proven = text != NULL && strstr(text, PROVEN) != NULL;
		free(text);
		if (proven)
			return true;
		if (h_now_ms() > end)
			return false;
		usleep(20 * 1000);
	}
}

static void
send(struct h_rogue *r, uint8_t *frame, size_t len)
{
	h_rogue_send(r, frame, len);
	free(frame);
}

/* The agent's hello, answered with l's checkpoint of size leaves. */
static void
greet(struct h_sys *s, struct h_rogue *r, const struct h_log *l, uint64_t size,
    uint8_t rid[256], size_t *rid_len)
{
	struct wire_frame *f =
	    expect(r, WIRE_PROOF_REQUEST, NULL, 0, H_WAIT_MS);
	uint8_t *frame;
	size_t len;

	assert_non_null(f);
	assert_int_equal(f->u.proof_request_size, 0);
	assert_int_equal(f->u.proof_request_to, 0);
	wire_frame_free(f);
	*rid_len = h_rogue_peer(r, rid);
	h_log_proof(s, l, 0, size, 0, NULL, 0, &frame, &len);
	send(r, frame, len);
}

/* The cosignature the agent of rid sends once it trusts l at size. */
static void
cosigned(struct h_sys *s, struct h_rogue *r, const uint8_t *rid, size_t n,
    int agency, const struct h_log *l, uint64_t size,
    struct wire_cosignature *out)
{
	struct wire_frame *f = expect(r, WIRE_COSIGNATURE, rid, n, H_WAIT_MS);
	struct keys_public pk;
	struct checkpoint cp;
	char note[CHECKPOINT_MAX];
	size_t len;

	assert_non_null(f);
	*out = f->u.cosignature;
	wire_frame_free(f);
	h_log_checkpoint(s, l, size, &cp, note, &len);
	assert_true(out->tree_size == size);
	assert_memory_equal(out->root, cp.root, 32);
	assert_int_equal(
	    keys_load_public(
	        h_p("%s/keys/%s.pub", s->dir, fixture_agency[agency]), &pk),
	    0);
	assert_int_equal(
	    cosign_verify(&cp, out->timestamp, pk.sign_pk, out->signature), 0);
	snprintf(
	    out->agency, sizeof(out->agency), "%s", fixture_agency[agency]);
	out->path = NULL;
	out->n_path = 0;
}

/*
 * A broker that signs a forked tree: another root at the trusted size, and
 * a larger tree of another history with a tie that proves only its own.
 */
static void
forked_tree(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .purpose = "safeguarding",
	    .n_recipients = 1,
	    .recipients = {H_SOCIAL}};
	struct h_log x = {0}, y = {0}, z = {0};
	struct wire_cosignature c;
	uint8_t rid[256], id[16], *frame;
	size_t rid_len, len;

	h_agent_start(s, H_SOCIAL, true);
	h_log_fill(&x, 1, 3);
	greet(s, r, &x, 3, rid, &rid_len);
	cosigned(s, r, rid, rid_len, H_SOCIAL, &x, 3, &c);
	uint64_t t0 = h_now_ms();
	/* Three leaves again, another root. */
	h_log_fill(&y, 2, 2);
	h_delivery_in(s, &m, H_SOCIAL, &y, -1, id, &frame, &len);
	send(r, frame, len);
	/* Five leaves of another history, tied from its own three. */
	h_log_fill(&z, 3, 4);
	h_delivery_in(s, &m, H_SOCIAL, &z, 3, id, &frame, &len);
	send(r, frame, len);
	assert_true(alerted(s, H_SOCIAL, "audit log forked", 2, WINDOW_MS));
	assert_true(h_now_ms() - t0 <= WINDOW_MS);
	assert_true(
	    h_wait_count(h_spool(s, H_SOCIAL, "inbox"), ".json", 2, H_WAIT_MS));
	no_proven_delivery(s, H_SOCIAL);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/* A broker that answers a ProofRequest for other sizes, twice. */
static void
wrong_sizes(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .purpose = "safeguarding",
	    .n_recipients = 1,
	    .recipients = {H_SOCIAL}};
	struct h_log x = {0};
	struct wire_cosignature c;
	struct wire_frame *f;
	uint8_t rid[256], id[16], *frame;
	size_t rid_len, len;

	h_agent_start(s, H_SOCIAL, true);
	h_log_fill(&x, 1, 3);
	greet(s, r, &x, 3, rid, &rid_len);
	cosigned(s, r, rid, rid_len, H_SOCIAL, &x, 3, &c);
	uint64_t t0 = h_now_ms();
	/* A leaf under a newer checkpoint with no tie: the agent asks. */
	h_delivery_in(s, &m, H_SOCIAL, &x, -1, id, &frame, &len);
	send(r, frame, len);
	f = expect(r, WIRE_PROOF_REQUEST, rid, rid_len, WINDOW_MS);
	assert_non_null(f);
	assert_int_equal(f->u.proof_request_size, 3);
	assert_int_equal(f->u.proof_request_to, 4);
	wire_frame_free(f);
	/* From 2, not 3. */
	h_log_proof(s, &x, 2, 4, 2, NULL, 0, &frame, &len);
	send(r, frame, len);
	assert_true(alerted(
	    s, H_SOCIAL, "audit proof for the wrong sizes", 1, WINDOW_MS));
	/* It asks again, after a while; now the checkpoint of 3, not 4. */
	f = expect(r, WIRE_PROOF_REQUEST, rid, rid_len, 2 * WINDOW_MS);
	assert_non_null(f);
	assert_int_equal(f->u.proof_request_size, 3);
	assert_int_equal(f->u.proof_request_to, 4);
	wire_frame_free(f);
	h_log_proof(s, &x, 3, 3, 3, NULL, 0, &frame, &len);
	send(r, frame, len);
	assert_true(alerted(
	    s, H_SOCIAL, "audit proof for the wrong sizes", 2, WINDOW_MS));
	assert_true(h_now_ms() - t0 <= 3 * WINDOW_MS);
	assert_true(
	    h_wait_count(h_spool(s, H_SOCIAL, "inbox"), ".json", 1, H_WAIT_MS));
	no_proven_delivery(s, H_SOCIAL);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/* A broker that never answers: alerted, asked again, never proven. */
static void
never_answers(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .purpose = "safeguarding",
	    .n_recipients = 1,
	    .recipients = {H_SOCIAL}};
	struct wire_frame *f;
	uint8_t id[16], *frame;
	size_t len;

	h_agent_start(s, H_SOCIAL, true);
	f = expect(r, WIRE_PROOF_REQUEST, NULL, 0, H_WAIT_MS);
	assert_non_null(f);
	wire_frame_free(f);
	uint64_t t0 = h_now_ms();
	h_delivery(s, &m, H_SOCIAL, id, &frame, &len);
	send(r, frame, len);
	assert_true(
	    alerted(s, H_SOCIAL, "audit proof not answered", 1, WINDOW_MS));
	assert_true(h_now_ms() - t0 <= WINDOW_MS);
	/* Asked again. */
	f = expect(r, WIRE_PROOF_REQUEST, NULL, 0, WINDOW_MS);
	assert_non_null(f);
	wire_frame_free(f);
	assert_true(
	    h_wait_count(h_spool(s, H_SOCIAL, "inbox"), ".json", 1, H_WAIT_MS));
	no_proven_delivery(s, H_SOCIAL);
	/* The window over, the leaf itself is named. */
	assert_true(alerted(s, H_SOCIAL, "leaf not proven", 1, 2 * WINDOW_MS));
	no_proven_delivery(s, H_SOCIAL);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * A broker that shows social care one log and police another: each
 * agency is shown the other's cosignature of its own view (a split view),
 * and a leaf of police's log shown to social care contradicts its view.
 */
static void
two_views(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .purpose = "safeguarding",
	    .n_recipients = 1,
	    .recipients = {H_SOCIAL}};
	struct h_log x = {0}, y = {0};
	struct wire_cosignature cs, cp;
	struct wire_frame *f;
	uint8_t rs[256], rp[256], id[16], *frame;
	size_t ns, np, len;

	h_log_fill(&x, 1, 3);
	h_log_fill(&y, 2, 3);
	h_agent_start(s, H_SOCIAL, true);
	greet(s, r, &x, 3, rs, &ns);
	cosigned(s, r, rs, ns, H_SOCIAL, &x, 3, &cs);
	h_agent_start(s, H_POLICE, true);
	greet(s, r, &y, 3, rp, &np);
	cosigned(s, r, rp, np, H_POLICE, &y, 3, &cp);
	uint64_t t0 = h_now_ms();
	/* Their next polls, each answered with the other's cosignature. */
	f = expect(r, WIRE_PROOF_REQUEST, rs, ns, WINDOW_MS);
	assert_non_null(f);
	wire_frame_free(f);
	h_log_proof(s, &x, 3, 3, 3, &cp, 1, &frame, &len);
	h_rogue_use(r, rs, ns);
	send(r, frame, len);
	f = expect(r, WIRE_PROOF_REQUEST, rp, np, WINDOW_MS);
	assert_non_null(f);
	wire_frame_free(f);
	h_log_proof(s, &y, 3, 3, 3, &cs, 1, &frame, &len);
	h_rogue_use(r, rp, np);
	send(r, frame, len);
	assert_true(alerted(s, H_SOCIAL, "split view", 1, WINDOW_MS));
	assert_true(alerted(s, H_POLICE, "split view", 1, WINDOW_MS));
	assert_true(h_now_ms() - t0 <= 2 * WINDOW_MS);
	/* A leaf of police's log, tied to police's view, for social care. */
	h_delivery_in(s, &m, H_SOCIAL, &y, 3, id, &frame, &len);
	h_rogue_use(r, rs, ns);
	send(r, frame, len);
	assert_true(alerted(s, H_SOCIAL, "audit log forked", 1, WINDOW_MS));
	assert_true(
	    h_wait_count(h_spool(s, H_SOCIAL, "inbox"), ".json", 1, H_WAIT_MS));
	no_proven_delivery(s, H_SOCIAL);
	no_proven_delivery(s, H_POLICE);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	assert_int_equal(h_agent_stop(s, H_POLICE), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * A broker that proves its log but serves no agency's cosignature: the
 * leaf is proven (audit_proof true) and, once the window passes without a
 * witness, alerted as unwitnessed.
 */
static void
unwitnessed(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .purpose = "safeguarding",
	    .n_recipients = 1,
	    .recipients = {H_SOCIAL}};
	struct h_log x = {0};
	struct wire_cosignature c;
	uint8_t rid[256], id[16], *frame;
	size_t rid_len, len;
	char hex[33];

	h_agent_start(s, H_SOCIAL, true);
	h_log_fill(&x, 1, 3);
	greet(s, r, &x, 3, rid, &rid_len);
	cosigned(s, r, rid, rid_len, H_SOCIAL, &x, 3, &c);
	uint64_t t0 = h_now_ms();
	h_delivery_in(s, &m, H_SOCIAL, &x, 3, id, &frame, &len);
	send(r, frame, len);
	h_hex(id, 16, hex);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s",
	    h_p("%s/%s.json", h_spool(s, H_SOCIAL, "inbox"), hex));
	assert_true(h_wait_file(path, H_WAIT_MS));
	assert_int_equal(
	    h_tree_grep(h_spool(s, H_SOCIAL, "inbox"), PROVEN, NULL, 0), 1);
	/* Every poll answered, never with a cosignature. */
	uint64_t end = t0 + 2 * WINDOW_MS;
	while (h_now_ms() < end &&
	    h_tree_grep(h_spool(s, H_SOCIAL, "alerts"), "unwitnessed leaf",
	        NULL, 0) == 0) {
		struct wire_frame *f =
		    expect(r, WIRE_PROOF_REQUEST, rid, rid_len, 200);
		if (f == NULL)
			continue;
		wire_frame_free(f);
		h_log_proof(s, &x, 4, 4, 4, NULL, 0, &frame, &len);
		send(r, frame, len);
	}
	assert_true(alerted(s, H_SOCIAL, "unwitnessed leaf", 1, 100));
	assert_true(h_now_ms() - t0 <= 2 * WINDOW_MS);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

static const char record_fmt[] =
    "{\"recipients\": [\"social_care\"], \"purpose\": \"safeguarding\",\n"
    " \"urgency\": \"urgent\", \"kind\": \"record\", \"local_id\": \"%s\",\n"
    " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
    " \"fields\": {\"identity\": {\"name\": \"%s\"}}}\n";

/* A leaf held unproven, then proven by the answer: its file says so. */
static void
late_proof(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .purpose = "safeguarding",
	    .n_recipients = 1,
	    .recipients = {H_SOCIAL}};
	struct h_log x = {0};
	struct wire_cosignature c;
	struct wire_frame *f;
	uint8_t rid[256], id[16], *frame;
	size_t rid_len, len;
	char hex[33];

	h_agent_start(s, H_SOCIAL, true);
	h_log_fill(&x, 1, 3);
	greet(s, r, &x, 3, rid, &rid_len);
	cosigned(s, r, rid, rid_len, H_SOCIAL, &x, 3, &c);
	h_delivery_in(s, &m, H_SOCIAL, &x, -1, id, &frame, &len);
	send(r, frame, len);
	f = expect(r, WIRE_PROOF_REQUEST, rid, rid_len, WINDOW_MS);
	assert_non_null(f);
	assert_int_equal(f->u.proof_request_size, 3);
	assert_int_equal(f->u.proof_request_to, 4);
	wire_frame_free(f);
	h_hex(id, 16, hex);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s",
	    h_p("%s/%s.json", h_spool(s, H_SOCIAL, "inbox"), hex));
	assert_true(h_wait_file(path, H_WAIT_MS));
	no_proven_delivery(s, H_SOCIAL);
	h_log_proof(s, &x, 3, 4, 3, NULL, 0, &frame, &len);
	send(r, frame, len);
	wait_proven(path);
	json_t *o = h_json(path);
	json_t *v = json_object_get(o, "verified");
	assert_true(json_is_true(json_object_get(v, "audit_proof")));
	assert_int_equal(
	    json_integer_value(json_object_get(v, "audit_tree_size")), 4);
	json_decref(o);
	assert_int_equal(
	    h_tree_grep(h_spool(s, H_SOCIAL, "alerts"), "forked", NULL, 0), 0);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * A leaf held unproven when the agent stops: the agent's state keeps the
 * trusted checkpoint and the held leaf, and the proof after the restart
 * still marks the file proven.
 */
static void
held_across_restart(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	struct h_msg m = {.sender = H_MHT,
	    .signer = -1,
	    .purpose = "safeguarding",
	    .n_recipients = 1,
	    .recipients = {H_SOCIAL}};
	struct h_log x = {0};
	struct wire_cosignature c;
	struct wire_frame *f = NULL;
	uint8_t rid[256], id[16], *frame;
	size_t rid_len, len;
	char hex[33];

	h_agent_start(s, H_SOCIAL, true);
	h_log_fill(&x, 1, 3);
	greet(s, r, &x, 3, rid, &rid_len);
	cosigned(s, r, rid, rid_len, H_SOCIAL, &x, 3, &c);
	h_delivery_in(s, &m, H_SOCIAL, &x, -1, id, &frame, &len);
	send(r, frame, len);
	h_hex(id, 16, hex);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s",
	    h_p("%s/%s.json", h_spool(s, H_SOCIAL, "inbox"), hex));
	f = expect(r, WIRE_PROOF_REQUEST, rid, rid_len, WINDOW_MS);
	assert_non_null(f);
	assert_int_equal(f->u.proof_request_to, 4);
	wire_frame_free(f);
	f = NULL;
	assert_true(h_wait_file(path, H_WAIT_MS));
	no_proven_delivery(s, H_SOCIAL);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);

	/* It greets from the size it trusted, and is answered to 4. */
	h_agent_start(s, H_SOCIAL, true);
	do {
		wire_frame_free(f);
		f = expect(r, WIRE_PROOF_REQUEST, NULL, 0, H_WAIT_MS);
		assert_non_null(f);
	} while (f->u.proof_request_to != 0);
	assert_int_equal(f->u.proof_request_size, 3);
	wire_frame_free(f);
	h_log_proof(s, &x, 3, 4, 3, NULL, 0, &frame, &len);
	send(r, frame, len);
	/* Its first cosignature since is of what the answer proved, not of
	 * the size it trusted before the restart. */
	cosigned(s, r, NULL, 0, H_SOCIAL, &x, 4, &c);
	assert_true(wait_proven(path));
	assert_int_equal(
	    h_tree_grep(h_spool(s, H_SOCIAL, "inbox"), PROVEN, NULL, 0), 1);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

static void
event_of(struct event *ev, int type, const uint8_t id[16], int recipient)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (enum event_type)type;
	ev->time_ms = 1;
	ev->has_msg_id = true;
	memcpy(ev->msg_id, id, 16);
	snprintf(ev->sender, sizeof(ev->sender), "%s", fixture_agency[H_MHT]);
	snprintf(ev->recipient, sizeof(ev->recipient), "%s",
	    fixture_agency[recipient]);
}

/*
 * Receipts and status reports whose leaf, proven in the log, records
 * another event than the one claimed: an accepted receipt over a
 * rejection, a "delivered" report over an expiry. Neither is backed.
 */
static void
claimed_events(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	static struct wire_receipt rc;
	static struct wire_status st;
	struct h_log x = {0};
	struct wire_cosignature c;
	struct wire_frame *f;
	struct event ev;
	uint8_t rid[256], id[16], *frame;
	size_t rid_len, len;
	char hex[33], text[1024];

	h_agent_start(s, H_MHT, true);
	h_log_fill(&x, 1, 3);
	greet(s, r, &x, 3, rid, &rid_len);
	cosigned(s, r, rid, rid_len, H_MHT, &x, 3, &c);
	snprintf(text, sizeof(text), record_fmt, "w1", "Claimed One");
	h_drop(s, H_MHT, "w1.json", text);
	f = expect(r, WIRE_SUBMIT, rid, rid_len, H_WAIT_MS);
	assert_non_null(f);
	memcpy(id, f->u.submit.m.msg_id, 16);
	wire_frame_free(f);
	h_hex(id, 16, hex);

	/* "Accepted", over the leaf of a rejection. */
	memset(&rc, 0, sizeof(rc));
	memcpy(rc.msg_id, id, 16);
	rc.outcome = WIRE_ACCEPTED;
	event_of(&ev, EVENT_REJECTED, id, H_SOCIAL);
	ev.reason = WIRE_REASON_NOT_PERMITTED;
	h_log_event(s, &x, &ev, 3, &rc.decisions[0]);
	rc.n_decisions = 1;
	assert_int_equal(wire_receipt_encode(&rc, &frame, &len), 0);
	send(r, frame, len);
	char rpath[PATH_MAX];
	snprintf(rpath, sizeof(rpath), "%s",
	    h_p("%s/w1.receipt.json", h_spool(s, H_MHT, "sent")));
	assert_true(h_wait_file(rpath, H_WAIT_MS));
	json_t *o = h_json(rpath);
	assert_true(json_is_false(json_object_get(o, "audit_verified")));
	json_decref(o);
	assert_true(alerted(s, H_MHT, "receipt not backed", 1, WINDOW_MS));

	/* "Delivered", over the leaf of an expiry; then a true report. */
	memset(&st, 0, sizeof(st));
	memcpy(st.msg_id, id, 16);
	snprintf(st.recipient, sizeof(st.recipient), "%s", "social_care");
	st.state = WIRE_STATE_DELIVERED;
	st.at_ms = 1;
	st.has_event = true;
	event_of(&ev, EVENT_EXPIRED, id, H_SOCIAL);
	h_log_event(s, &x, &ev, 4, &st.event);
	assert_int_equal(wire_status_encode(&st, &frame, &len), 0);
	send(r, frame, len);
	st.state = WIRE_STATE_ACKNOWLEDGED;
	event_of(&ev, EVENT_ACKNOWLEDGED, id, H_SOCIAL);
	h_log_event(s, &x, &ev, 5, &st.event);
	assert_int_equal(wire_status_encode(&st, &frame, &len), 0);
	send(r, frame, len);
	char dpath[PATH_MAX];
	snprintf(dpath, sizeof(dpath), "%s",
	    h_p("%s/%s.social_care.delivered.json",
	        h_spool(s, H_MHT, "receipts"), hex));
	char apath[PATH_MAX];
	snprintf(apath, sizeof(apath), "%s",
	    h_p("%s/%s.social_care.acknowledged.json",
	        h_spool(s, H_MHT, "receipts"), hex));
	assert_true(h_wait_file(dpath, H_WAIT_MS));
	assert_true(h_wait_file(apath, H_WAIT_MS));
	o = h_json(dpath);
	assert_true(json_is_false(json_object_get(o, "audit_verified")));
	json_decref(o);
	o = h_json(apath);
	assert_true(json_is_true(json_object_get(o, "audit_verified")));
	json_decref(o);
	assert_true(
	    alerted(s, H_MHT, "status report not backed", 1, WINDOW_MS));
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/*
 * An accepted receipt whose leaf is under a checkpoint not yet proven: it
 * stays pending until the proof, and is filed when the proof comes, not
 * only when a resend brings the receipt again (this broker never answers
 * a resend, so before, the record stayed in the outbox).
 */
static void
receipt_late_proof(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	struct h_rogue *r = h_rogue_new(s);
	static struct wire_receipt rc;
	struct h_log x = {0};
	struct wire_cosignature c;
	struct wire_frame *f;
	struct event ev;
	uint8_t rid[256], id[16], *frame;
	size_t rid_len, len;
	char text[1024], rpath[PATH_MAX];

	h_agent_start(s, H_MHT, true);
	h_log_fill(&x, 1, 3);
	greet(s, r, &x, 3, rid, &rid_len);
	cosigned(s, r, rid, rid_len, H_MHT, &x, 3, &c);
	snprintf(text, sizeof(text), record_fmt, "w1", "Late One");
	h_drop(s, H_MHT, "w1.json", text);
	f = expect(r, WIRE_SUBMIT, rid, rid_len, H_WAIT_MS);
	assert_non_null(f);
	memcpy(id, f->u.submit.m.msg_id, 16);
	wire_frame_free(f);

	memset(&rc, 0, sizeof(rc));
	memcpy(rc.msg_id, id, 16);
	rc.outcome = WIRE_ACCEPTED;
	event_of(&ev, EVENT_DECISION, id, H_SOCIAL);
	h_log_event(s, &x, &ev, -1, &rc.decisions[0]);
	rc.n_decisions = 1;
	assert_int_equal(wire_receipt_encode(&rc, &frame, &len), 0);
	send(r, frame, len);
	f = expect(r, WIRE_PROOF_REQUEST, rid, rid_len, WINDOW_MS);
	assert_non_null(f);
	assert_int_equal(f->u.proof_request_size, 3);
	assert_int_equal(f->u.proof_request_to, 4);
	wire_frame_free(f);
	snprintf(rpath, sizeof(rpath), "%s",
	    h_p("%s/w1.receipt.json", h_spool(s, H_MHT, "sent")));
	assert_int_equal(access(rpath, F_OK), -1);
	h_log_proof(s, &x, 3, 4, 3, NULL, 0, &frame, &len);
	send(r, frame, len);
	assert_true(h_wait_file(rpath, H_WAIT_MS));
	json_t *o = h_json(rpath);
	assert_string_equal(
	    json_string_value(json_object_get(o, "outcome")), "accepted");
	assert_true(json_is_true(json_object_get(o, "audit_verified")));
	json_decref(o);
	assert_int_equal(h_count(h_spool(s, H_MHT, "outbox"), ".json"), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	h_rogue_free(r);
	h_pass(s);
	h_sys_free(s);
}

/* `concordat audit verify --keyring ring --witnesses n`: its exit. */
static int
verify(struct h_sys *s, unsigned n, const char *out)
{
	char num[8];
	snprintf(num, sizeof(num), "%u", n);
	const char *argv[] = {s->cli, "audit", "verify", "--data", s->data,
	    "--broker-key", h_p("%s/keys/broker.pub", s->dir), "--keyring",
	    h_p("%s/ring", s->dir), "--witnesses", num, NULL};
	return h_run(s, out, NULL, argv);
}

/*
 * The honest broker: both agents cosign, the broker keeps the latest of
 * each across a restart and serves them, every leaf is witnessed in time
 * (no alert), and the auditor sees who witnessed which size.
 */
static void
honest(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	char out[PATH_MAX + 16], text[1024];

	snprintf(out, sizeof(out), "%s/verify.out", s->dir);
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_SOCIAL, true);
	snprintf(text, sizeof(text), record_fmt, "w1", "Witnessed One");
	h_drop(s, H_MHT, "w1.json", text);
	assert_true(h_wait_file(
	    h_p("%s/w1.receipt.json", h_spool(s, H_MHT, "sent")), H_WAIT_MS));
	assert_true(
	    h_wait_count(h_spool(s, H_SOCIAL, "inbox"), ".json", 1, H_WAIT_MS));
	assert_int_equal(
	    h_tree_grep(h_spool(s, H_SOCIAL, "inbox"), PROVEN, NULL, 0), 1);
	/* Past the window: witnessed, and nothing to say. */
	sleep(2 * WINDOW_MS / 1000);
	assert_int_equal(h_count(h_spool(s, H_MHT, "alerts"), ".json"), 0);
	assert_int_equal(h_count(h_spool(s, H_SOCIAL, "alerts"), ".json"), 0);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	/* Kept across a restart of the broker. */
	assert_int_equal(h_broker_stop(s), 0);
	h_broker_start(s);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(verify(s, 2, out), 0);
	char *got = scratch_slurp(out, NULL);
	assert_non_null(strstr(got, "witness: mental_health_trust cosigned"));
	assert_non_null(strstr(got, "witness: social_care cosigned"));
	assert_non_null(strstr(got, "cosigned checkpoint:\n"));
	assert_non_null(strstr(got, "\xe2\x80\x94 concordat/witness/"));
	assert_non_null(strstr(got,
	    "witnessed: 2 agencies' cosignatures valid; by at least 2 of them: "
	    "the first "));
	free(got);
	/* Three asked for, two there. */
	assert_int_equal(verify(s, 3, out), 65);
	h_pass(s);
	h_sys_free(s);
}

/* The Proof the broker answers c's ProofRequest(from, to) with. */
static struct wire_frame *
ask(struct h_client *c, uint64_t from, uint64_t to)
{
	uint8_t *frame;
	size_t len;
	uint64_t end = h_now_ms() + H_WAIT_MS;

	assert_int_equal(wire_proof_request_between(from, to, &frame, &len), 0);
	h_client_send(c, frame, len);
	free(frame);
	while (h_now_ms() < end) {
		struct wire_frame *f = h_client_recv(c, 200);
		if (f != NULL && f->type == WIRE_PROOF)
			return f;
		wire_frame_free(f);
	}
	fail_msg("no answer to the ProofRequest from %llu to %llu",
	    (unsigned long long)from, (unsigned long long)to);
	return NULL;
}

static struct checkpoint
answered(struct h_sys *s, const struct wire_frame *f)
{
	struct keys_public bk;
	struct checkpoint cp;

	assert_int_equal(
	    keys_load_public(h_p("%s/keys/broker.pub", s->dir), &bk), 0);
	assert_int_equal(
	    checkpoint_verify(f->u.proof.checkpoint, f->u.proof.checkpoint_len,
	        h_p("concordat/%s", bk.fingerprint), bk.sign_pk, &cp),
	    0);
	assert_true(f->u.proof.to_size == cp.size);
	return cp;
}

/*
 * The real broker's answers: the checkpoint of the size asked for (an
 * earlier one from its store), the proof between the two sizes, and the
 * agents' cosignatures it holds, each with its proof to the answer; a
 * cosignature that does not verify is not kept, one that does is.
 */
static void
broker_answers(void **state)
{
	(void)state;
	struct h_sys *s = sys_new();
	char out[PATH_MAX + 16], text[1024];
	struct wire_frame *f;
	struct keys_public pk;

	snprintf(out, sizeof(out), "%s/verify.out", s->dir);
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	h_agent_start(s, H_SOCIAL, true);
	snprintf(text, sizeof(text), record_fmt, "w1", "Answered One");
	h_drop(s, H_MHT, "w1.json", text);
	assert_true(
	    h_wait_count(h_spool(s, H_SOCIAL, "inbox"), ".json", 1, H_WAIT_MS));
	struct h_client *c = h_client_of(s, H_POLICE);

	/* The latest, and the cosignatures held. */
	f = ask(c, 0, 0);
	struct checkpoint latest = answered(s, f);
	assert_true(f->u.proof.from_size == 0);
	assert_true(f->u.proof.n_witnesses >= 2);
	struct wire_cosignature w = f->u.proof.witnesses[0];
	for (size_t i = 0; i < f->u.proof.n_witnesses; i++) {
		const struct wire_cosignature *ws = &f->u.proof.witnesses[i];
		struct checkpoint theirs = latest;
		theirs.size = ws->tree_size;
		memcpy(theirs.root, ws->root, 32);
		int a =
		    strcmp(ws->agency, "social_care") == 0 ? H_SOCIAL : H_MHT;
		assert_int_equal(
		    keys_load_public(
		        h_p("%s/keys/%s.pub", s->dir, fixture_agency[a]), &pk),
		    0);
		assert_int_equal(cosign_verify(&theirs, ws->timestamp,
		                     pk.sign_pk, ws->signature),
		    0);
		assert_true(ws->tree_size <= latest.size);
		if (ws->tree_size < latest.size)
			assert_int_equal(
			    merkle_verify_consistency(ws->tree_size,
			        latest.size, ws->root, latest.root, ws->path,
			        ws->n_path),
			    0);
	}
	wire_frame_free(f);
	/* An earlier size: its own checkpoint, and the proof from it. */
	f = ask(c, 0, w.tree_size);
	struct checkpoint older = answered(s, f);
	assert_true(older.size == w.tree_size);
	assert_memory_equal(older.root, w.root, 32);
	wire_frame_free(f);
	if (older.size < latest.size) {
		f = ask(c, older.size, latest.size);
		struct checkpoint again = answered(s, f);
		assert_true(again.size == latest.size);
		assert_true(f->u.proof.from_size == older.size);
		assert_int_equal(merkle_verify_consistency(older.size,
		                     latest.size, older.root, latest.root,
		                     (const uint8_t(*)[32])f->u.proof.path,
		                     f->u.proof.n_path),
		    0);
		wire_frame_free(f);
	}
	/* A size never signed: the latest, which says what it is. */
	f = ask(c, 0, 1000000);
	assert_true(answered(s, f).size == latest.size);
	wire_frame_free(f);

	/* Police's cosignature: a bad one is not kept, a good one is. */
	struct keys_secret *sk = NULL;
	struct wire_cosignature mine;
	uint8_t *frame;
	size_t len;
	assert_int_equal(
	    keys_load_secret(h_p("%s/keys/police.key", s->dir), &sk), 0);
	memset(&mine, 0, sizeof(mine));
	mine.tree_size = latest.size;
	memcpy(mine.root, latest.root, 32);
	mine.timestamp = 1764662400;
	assert_int_equal(cosign_sign(&latest, mine.timestamp + 1, sk->sign_sk,
	                     mine.signature),
	    0);
	assert_int_equal(wire_cosignature_encode(&mine, &frame, &len), 0);
	h_client_send(c, frame, len);
	free(frame);
	f = ask(c, 0, 0);
	for (size_t i = 0; i < f->u.proof.n_witnesses; i++)
		assert_string_not_equal(
		    f->u.proof.witnesses[i].agency, "police");
	wire_frame_free(f);
	assert_int_equal(
	    cosign_sign(&latest, mine.timestamp, sk->sign_sk, mine.signature),
	    0);
	keys_secret_free(sk);
	assert_int_equal(wire_cosignature_encode(&mine, &frame, &len), 0);
	h_client_send(c, frame, len);
	free(frame);
	f = ask(c, 0, 0);
	bool kept = false;
	for (size_t i = 0; i < f->u.proof.n_witnesses; i++)
		kept |= strcmp(f->u.proof.witnesses[i].agency, "police") == 0;
	assert_true(kept);
	wire_frame_free(f);
	h_client_free(c);
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	assert_int_equal(h_agent_stop(s, H_SOCIAL), 0);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_equal(verify(s, 3, out), 0);
	h_pass(s);
	h_sys_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(forked_tree),
	    cmocka_unit_test(wrong_sizes),
	    cmocka_unit_test(never_answers),
	    cmocka_unit_test(two_views),
	    cmocka_unit_test(unwitnessed),
	    cmocka_unit_test(late_proof),
	    cmocka_unit_test(held_across_restart),
	    cmocka_unit_test(claimed_events),
	    cmocka_unit_test(receipt_late_proof),
	    cmocka_unit_test(honest),
	    cmocka_unit_test(broker_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
