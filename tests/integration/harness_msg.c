/*
 * The harness's message builders (harness.h): Submit frames sealed with
 * the agencies' keys, and Delivery frames with an audit proof forged with
 * the broker's keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/clock.h"
#include "common/fields.h"
#include "common/urgency.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "proto/envelope.h"
#include "proto/event.h"
#include "proto/record.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

/* ------------------------------------------------------------ keys */

struct keys_secret *
harness_secret(struct h_sys *s, int i)
{
	if (s->sk[i] == NULL) {
		int rc = keys_load_secret(
		    h_p("%s/keys/%s.key", s->dir, fixture_agency[i]),
		    &s->sk[i]);
		if (rc != 0)
			fail_msg("cannot load the key of %s: %s",
			    fixture_agency[i], error_strerror(rc));
	}
	return s->sk[i];
}

const struct keys_public *
harness_public(struct h_sys *s, int i)
{
	if (s->pk[i].id[0] == '\0')
		assert_int_equal(keys_load_public(h_p("%s/keys/%s.pub", s->dir,
		                                      fixture_agency[i]),
		                     &s->pk[i]),
		    0);
	return &s->pk[i];
}

void
h_seal(struct h_sys *s, const struct h_msg *m, uint8_t msg_id[WIRE_MSG_ID_LEN],
    uint8_t **frame, size_t *len)
{
	struct envelope_seal_args a;
	const char *recips[H_NAG];
	uint8_t shared[H_NAG][32], ref[32];
	uint8_t *plain[FIELDS_COUNT + 1] = {0};
	int signer = m->signer >= 0 ? m->signer : m->sender;
	struct keys_secret *sk = harness_secret(s, signer);
	size_t n = m->n_recipients;

	if (s->pepper == NULL)
		assert_int_equal(
		    keys_pepper_load(h_p("%s/keys/pepper", s->dir), &s->pepper),
		    0);
	assert_int_equal(keys_subject_ref_nhs(s->pepper, "9434765919", ref), 0);
	memset(&a, 0, sizeof(a));
	if (n == 0) {
		recips[0] = fixture_agency[H_MHT];
		n = 1;
		assert_int_equal(
		    envelope_shared_key(harness_public(s, H_MHT)->box_pk,
		        sk->box_sk, shared[0]),
		    0);
	} else {
		for (size_t i = 0; i < n; i++) {
			recips[i] = fixture_agency[m->recipients[i]];
			assert_int_equal(
			    envelope_shared_key(
			        harness_public(s, m->recipients[i])->box_pk,
			        sk->box_sk, shared[i]),
			    0);
		}
	}
	if (m->fields != NULL || m->pad > 0) {
		json_error_t e;
		json_t *o = json_loads(m->fields ? m->fields : "{}", 0, &e), *v;
		const char *key;
		char why[256];
		if (o == NULL)
			fail_msg("h_msg.fields: %s", e.text);
		if (m->pad > 0) {
			/* identity.description of pad bytes, over any given */
			char *d = malloc(m->pad + 1);
			assert_non_null(d);
			memset(d, 'x', m->pad);
			d[m->pad] = '\0';
			json_t *id = json_object_get(o, "identity");
			if (id == NULL) {
				id = json_object();
				json_object_set_new(o, "identity", id);
			}
			json_object_set_new(id, "description", json_string(d));
			free(d);
		}
		json_object_foreach(o, key, v)
		{
			int f = fields_lookup(key);
			assert_true(f > 0);
			if (record_field_encode(f, v, &plain[f],
			        &a.plain_len[f], why, sizeof(why)) != 0)
				fail_msg("h_msg.fields: %s", why);
			a.plain[f] = plain[f];
		}
		json_decref(o);
	}
	a.msg_id = m->reuse_msg_id;
	a.sender = fixture_agency[m->sender];
	a.sign_sk = sk->sign_sk;
	a.created_at_ms = (uint64_t)((int64_t)clock_now_ms() - m->age_ms);
	a.kind = KIND_RECORD;
	a.urgency = m->urgency ? m->urgency : URGENCY_URGENT;
	a.purpose = m->purpose ? m->purpose : "triage_advice";
	a.reason = m->reason;
	a.justification = m->justification;
	a.subject_ref = ref;
	a.n_recipients = n;
	a.recipients = recips;
	a.shared = (const uint8_t(*)[32])shared;
	uint8_t sha[32];
	if (m->agreement != NULL)
		memcpy(sha, m->agreement, sizeof(sha));
	else if (!h_broker_agreement(s, sha))
		h_file_sha(s->policy, sha);
	a.agreement = m->no_agreement ? NULL : sha;
	assert_int_equal(envelope_seal(&a, msg_id, frame, len), 0);
	for (int f = 1; f <= FIELDS_COUNT; f++)
		free(plain[f]);
	sodium_memzero(shared, sizeof(shared));
}

bool
h_receipt_decided(const struct wire_receipt *r)
{
	size_t decided = 0;

	/* Every leaf is about this message; one at least is a decision. */
	for (size_t i = 0; i < r->n_decisions; i++) {
		struct event ev;
		if (event_decode(r->decisions[i].leaf, r->decisions[i].leaf_len,
		        &ev) != 0)
			return false;
		if (!ev.has_msg_id ||
		    memcmp(ev.msg_id, r->msg_id, WIRE_MSG_ID_LEN) != 0)
			return false;
		decided += ev.type == EVENT_DECISION;
	}
	return decided > 0;
}

void
harness_redacted(struct h_sys *s, const struct h_msg *m, int recipient,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **del, size_t *del_len,
    struct event *ev)
{
	struct wire_frame *f = NULL;
	uint8_t *sub;
	size_t sub_len;
	fieldset sent;
	char why[256];

	h_seal(s, m, msg_id, &sub, &sub_len);
	if (wire_decode(sub, sub_len, &f, why, sizeof(why)) != 0)
		fail_msg("h_delivery: %s", why);
	fieldset allow = m->unredacted
	    ? FIELDS_ALL
	    : h_allowed(s, m->sender, recipient, f->u.submit.m.purpose,
	          f->u.submit.m.urgency, f->u.submit.m.reason);
	assert_int_equal(
	    envelope_redact(&f->u.submit, fixture_agency[recipient], allow,
	        &sent, del, del_len),
	    0);
	memset(ev, 0, sizeof(*ev));
	ev->type = EVENT_DECISION;
	ev->time_ms = clock_now_ms();
	ev->has_msg_id = true;
	memcpy(ev->msg_id, msg_id, WIRE_MSG_ID_LEN);
	snprintf(
	    ev->sender, sizeof(ev->sender), "%s", fixture_agency[m->sender]);
	snprintf(ev->recipient, sizeof(ev->recipient), "%s",
	    fixture_agency[recipient]);
	ev->disclosed = sent;
	ev->withheld = (fieldset)(FIELDS_ALL & ~sent);
	ev->has_policy_sha256 = f->u.submit.m.has_agreement;
	memcpy(ev->policy_sha256, f->u.submit.m.agreement, 32);
	wire_frame_free(f);
	free(sub);
}

void
h_delivery(struct h_sys *s, const struct h_msg *m, int recipient,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len)
{
	struct wire_audit_proof none;
	struct keys_secret *bk = NULL;
	struct checkpoint cp;
	struct event ev;
	static char note[CHECKPOINT_MAX];
	uint8_t *del, *leaf;
	size_t del_len, leaf_len, note_len;

	harness_redacted(s, m, recipient, msg_id, &del, &del_len, &ev);
	/* The broker's word, forged with its own key: a decision leaf that
	 * says what was sent, alone in a log of one, under a checkpoint the
	 * broker's key signed. */
	assert_int_equal(
	    keys_load_secret(h_p("%s/keys/broker.key", s->dir), &bk), 0);
	assert_int_equal(event_encode(&ev, &leaf, &leaf_len), 0);
	memset(&cp, 0, sizeof(cp));
	snprintf(
	    cp.origin, sizeof(cp.origin), "concordat/%s", bk->pub.fingerprint);
	cp.size = 1;
	merkle_hash_leaf(leaf, leaf_len, cp.root);
	assert_int_equal(
	    checkpoint_sign(&cp, bk->sign_sk, note, sizeof(note), &note_len),
	    0);
	keys_secret_free(bk);
	memset(&none, 0, sizeof(none));
	none.leaf_index = 0;
	none.leaf = leaf;
	none.leaf_len = leaf_len;
	none.checkpoint = note;
	none.checkpoint_len = note_len;
	assert_int_equal(
	    wire_delivery_frame(del, del_len, &none, frame, len), 0);
	free(leaf);
	free(del);
}
