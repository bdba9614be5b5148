/*
 * gen_corpus DIR: writes the seed corpus of fuzz_wire into DIR. Real
 * frames of every type, sealed, signed and wrapped with the fixed keys of
 * fuzz_keys.h (so the deliveries open and the fuzzer starts deep), real
 * audit leaves, and record field plaintexts prefixed with their field's
 * byte. The output is committed in tests/unit/corpus; msg_ids, keys and
 * nonces are random, so each run writes different bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/urgency.h"
#include "proto/envelope.h"
#include "proto/event.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "tests/unit/fuzz_keys.h"
#include "tests/unit/testutil.h"

static const char *out_dir;

static const char *const records[FIELDS_COUNT + 1] = {
    NULL,
    "{\"name\": \"Alex Example\", \"nhs_number\": \"9434765919\","
    " \"date_of_birth\": \"1990-04-01\", \"phone\": \"07700 900123\"}",
    "{\"contacts\": [{\"name\": \"Sam\", \"relationship\": \"sister\","
    " \"phone\": \"07700 900456\"}, {\"name\": \"Jo\"}], \"school\": \"x\"}",
    "{\"gender\": \"female\", \"age\": 34}",
    "{\"language\": \"Polish\", \"interpreter_needed\": false}",
    "{\"description\": \"agitated, talking of voices\"}",
    "{\"alcohol\": true, \"drugs\": false}",
    "{\"impairments\": \"wheelchair\", \"medicines\": \"insulin\"}",
    "{\"gp\": \"Manor Surgery\", \"known_to_mental_health\": true}",
    "{\"has_plan\": true, \"summary\": \"call sister first\"}",
    "{\"diagnosis\": \"bipolar\", \"medication\": \"lithium\"}",
    "{\"self_harm\": \"high\", \"suicide\": \"medium\", \"aggression\":"
    " \"none\", \"missing_from_home\": \"unknown\", \"details\": \"x\"}",
    "{\"conditions\": \"type 1 diabetes\"}",
    "{\"children\": \"two\", \"pets\": \"dog\"}",
};

static void
put(const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: %s: cannot write\n", path);
		exit(1);
	}
}

/* The plaintexts of the sample record into m (replacing random ones). */
static void
fill_record(struct tu_msg *m)
{
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		json_t *j = json_loads(records[f], 0, NULL);
		free(m->plain[f]);
		if (record_field_encode(
		        f, j, &m->plain[f], &m->plain_len[f], NULL, 0) != 0)
			exit(1);
		json_decref(j);
	}
}

static void
leaf(const struct event *ev, uint8_t **out, size_t *len)
{
	if (event_encode(ev, out, len) != 0)
		exit(1);
}

static void
decision_event(struct event *ev, const struct tu_msg *m, const char *to,
    fieldset disclosed)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = EVENT_DECISION;
	ev->time_ms = m->created_at_ms + 12;
	ev->has_msg_id = true;
	memcpy(ev->msg_id, m->msg_id, 16);
	snprintf(ev->sender, sizeof(ev->sender), "%s", m->sender->id);
	snprintf(ev->recipient, sizeof(ev->recipient), "%s", to);
	snprintf(ev->purpose, sizeof(ev->purpose), "%s", m->purpose);
	ev->urgency = m->urgency;
	ev->kind = m->kind;
	ev->has_subject_ref = true;
	memcpy(ev->subject_ref, m->subject_ref, 32);
	ev->disclosed = disclosed;
	ev->withheld = FIELDS_ALL & ~disclosed;
	ev->n_rules = 1;
	snprintf(ev->rules[0], sizeof(ev->rules[0]), "triage-request");
	ev->n_bases = 1;
	snprintf(ev->bases[0], sizeof(ev->bases[0]),
	    "MHA 1983 s136(1C); UK GDPR 6(1)(e), 9(2)(h)");
	ev->n_obligations = 1;
	snprintf(ev->obligations[0], sizeof(ev->obligations[0]),
	    "no_onward_disclosure");
	ev->has_policy_sha256 = true;
	memset(ev->policy_sha256, 0x42, 32);
}

static const char checkpoint[] =
    "concordat.example/west-yorkshire\n"
    "42\n"
    "dGhpcyBpcyBub3QgYSByZWFsIHJvb3QgaGFzaCEhISE=\n"
    "\n"
    "\xe2\x80\x94 broker "
    "Jx8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n";

static void
proof(struct wire_audit_proof *p, const uint8_t *l, size_t n, size_t paths)
{
	memset(p, 0, sizeof(*p));
	p->leaf_index = 41;
	p->leaf = l;
	p->leaf_len = n;
	p->n_path = paths;
	for (size_t i = 0; i < paths; i++)
		randombytes_buf(p->path[i], WIRE_HASH_LEN);
	p->checkpoint = checkpoint;
	p->checkpoint_len = sizeof(checkpoint) - 1;
}

static void
delivery(
    const char *name, const struct tu_msg *m, const char *to, fieldset allowed)
{
	struct wire_frame *f = NULL;
	struct wire_audit_proof p;
	struct event ev;
	uint8_t *d, *fr, *l;
	size_t dlen, flen, llen;
	fieldset sent;

	if (envelope_check(m->frame, m->len, m->sender->sign_pk, &f, NULL, 0) !=
	        0 ||
	    envelope_redact(&f->u.submit, to, allowed, &sent, &d, &dlen) != 0)
		exit(1);
	decision_event(&ev, m, to, sent);
	leaf(&ev, &l, &llen);
	proof(&p, l, llen, 6);
	if (wire_delivery_frame(d, dlen, &p, &fr, &flen) != 0)
		exit(1);
	put(name, fr, flen);
	free(fr);
	free(l);
	free(d);
	wire_frame_free(f);
}

/* The ProofRequests, and the witnessed log's Proof and Cosignature. */
static int
witness_seeds(void)
{
	static const char note[] =
	    "concordat.test/seed\n41\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	static struct wire_proof p;
	static uint8_t wpath[3][WIRE_HASH_LEN];
	uint8_t *buf;
	size_t len;

	if (wire_proof_request_encode(41, &buf, &len) != 0)
		return 1;
	put("proof-request", buf, len);
	free(buf);
	if (wire_proof_request_between(17, 41, &buf, &len) != 0)
		return 1;
	put("proof-request-between", buf, len);
	free(buf);
	memset(&p, 0, sizeof(p));
	p.checkpoint = note;
	p.checkpoint_len = sizeof(note) - 1;
	p.from_size = 17;
	p.to_size = 41;
	p.n_path = 2;
	for (size_t i = 0; i < 2; i++)
		randombytes_buf(p.path[i], WIRE_HASH_LEN);
	randombytes_buf(wpath, sizeof(wpath));
	p.n_witnesses = 2;
	for (size_t i = 0; i < 2; i++) {
		struct wire_cosignature *c = &p.witnesses[i];
		snprintf(c->agency, sizeof(c->agency), "%s",
		    i ? "police" : "ambulance");
		c->tree_size = 30 + i;
		randombytes_buf(c->root, WIRE_HASH_LEN);
		c->timestamp = 1764662400 + i;
		randombytes_buf(c->signature, WIRE_SIG_LEN);
		c->path = (const uint8_t(*)[WIRE_HASH_LEN])wpath;
		c->n_path = 3;
	}
	if (wire_proof_encode(&p, &buf, &len) != 0)
		return 1;
	put("proof-witnesses", buf, len);
	free(buf);
	if (wire_cosignature_encode(&p.witnesses[0], &buf, &len) != 0)
		return 1;
	put("cosignature", buf, len);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct tu_agency pol, amb, mht, soc;
	const struct tu_agency *three[3] = {&amb, &mht, &soc};
	struct tu_msg m1, m3;
	uint8_t *buf, *l[3];
	size_t len, llen[3];
	struct event ev;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 64;
	}
	out_dir = argv[1];
	if (sodium_init() < 0)
		return 1;
	tu_agency_init(&pol, FUZZ_SENDER, FUZZ_SENDER_SEED);
	tu_agency_init(&amb, FUZZ_RECIPIENT, FUZZ_RECIPIENT_SEED);
	tu_agency_init(&mht, "mental_health_trust", 3);
	tu_agency_init(&soc, "social_care", 4);
	{
		/* The derivations agree. */
		uint8_t a[32], b[64], c[32], d[32];
		fuzz_keys(FUZZ_SENDER_SEED, a, b, c, d);
		if (memcmp(a, pol.sign_pk, 32) != 0 ||
		    memcmp(d, pol.box_sk, 32) != 0)
			return 1;
	}

	/* Submissions. */
	tu_msg_init(&m1, &pol, three, 1, NULL);
	fill_record(&m1);
	if (tu_seal(&m1) != 0)
		return 1;
	put("submit-1-recipient", m1.frame, m1.len);
	static const fieldset grants[3] = {FIELDS_ALL, 0x0f0f, 0x0400};
	tu_msg_init(&m3, &pol, three, 3, NULL);
	fill_record(&m3);
	m3.grants = grants;
	m3.urgency = URGENCY_EMERGENCY;
	m3.reason = EMERGENCY_REASON_RISK_TO_LIFE;
	m3.justification = "imminent risk to life; Caldicott principle 7";
	m3.purpose = "place_of_safety";
	if (tu_seal(&m3) != 0)
		return 1;
	put("submit-3-recipients-emergency", m3.frame, m3.len);

	{
		struct envelope_seal_args a;
		const char *ids[1] = {"ambulance"};
		uint8_t shared[1][32], id[16];
		memset(&a, 0, sizeof(a));
		tu_shared(&pol, &amb, shared[0]);
		a.sender = "police";
		a.sign_sk = pol.sign_sk;
		a.created_at_ms = 1795000000000ull;
		a.kind = KIND_REQUEST;
		a.urgency = URGENCY_ROUTINE;
		a.purpose = "triage_advice";
		a.subject_ref = m1.subject_ref;
		a.in_reply_to = m1.msg_id;
		a.requested = FIELDS_BIT(FIELD_CRISIS_PLAN) |
		    FIELDS_BIT(FIELD_RISKS) | FIELDS_BIT(FIELD_SERVICES);
		a.n_recipients = 1;
		a.recipients = ids;
		a.shared = (const uint8_t(*)[32])shared;
		if (envelope_seal(&a, id, &buf, &len) != 0)
			return 1;
		put("submit-request-reply", buf, len);
		free(buf);
	}

	/*
	 * Submissions the broker refuses: an unknown field and a field over
	 * the size limit, whose msg_id a malformed receipt still carries;
	 * and a flood of empty sealed entries, over the decode budget.
	 */
	{
		static const Concordat__Sealed empty = CONCORDAT__SEALED__INIT;
		Concordat__Frame *pf = tu_frame_unpack(m1.frame, m1.len);
		Concordat__Envelope *pe = pf->submit->envelope;
		Concordat__Sealed **sealed = pe->sealed, **many;
		size_t n_sealed = pe->n_sealed, n = 8000;
		uint8_t *big;

		tu_add_unknown(&pe->base, 9, PROTOBUF_C_WIRE_TYPE_VARINT);
		buf = tu_pack(&pf->base, &len);
		put("submit-unknown-field", buf, len);
		free(buf);
		concordat__frame__free_unpacked(pf, NULL);

		pf = tu_frame_unpack(m1.frame, m1.len);
		big = calloc(1, WIRE_SEALED_MAX + WIRE_PAD_BLOCK);
		if (big == NULL)
			return 1;
		tu_set_bytes(
		    &pf->submit->envelope->sealed[FIELD_RISKS - 1]->ciphertext,
		    big, WIRE_SEALED_MAX + WIRE_PAD_BLOCK);
		free(big);
		buf = tu_pack(&pf->base, &len);
		put("submit-field-too-big", buf, len);
		free(buf);
		concordat__frame__free_unpacked(pf, NULL);

		pf = tu_frame_unpack(m1.frame, m1.len);
		pe = pf->submit->envelope;
		sealed = pe->sealed;
		n_sealed = pe->n_sealed;
		many = malloc(n * sizeof(*many));
		if (many == NULL)
			return 1;
		for (size_t i = 0; i < n; i++)
			many[i] = (Concordat__Sealed *)(uintptr_t)&empty;
		pe->sealed = many;
		pe->n_sealed = n;
		buf = tu_pack(&pf->base, &len);
		put("submit-flood", buf, len);
		free(buf);
		pe->sealed = sealed;
		pe->n_sealed = n_sealed;
		free(many);
		concordat__frame__free_unpacked(pf, NULL);
	}

	/* Deliveries to ambulance: all fields, some, none. */
	delivery("delivery-all", &m1, "ambulance", FIELDS_ALL);
	delivery("delivery-some", &m3, "ambulance",
	    FIELDS_BIT(FIELD_IDENTITY) | FIELDS_BIT(FIELD_RISKS) |
	        FIELDS_BIT(FIELD_RELATIVES) | FIELDS_BIT(FIELD_HEALTH));
	delivery("delivery-none", &m3, "ambulance", 0);
	delivery(
	    "delivery-other-recipient", &m3, "mental_health_trust", 0x0f0f);

	/* Receipts. */
	{
		struct wire_receipt r;
		memset(&r, 0, sizeof(r));
		memcpy(r.msg_id, m3.msg_id, 16);
		r.outcome = WIRE_ACCEPTED;
		r.n_decisions = 3;
		for (size_t i = 0; i < 3; i++) {
			decision_event(
			    &ev, &m3, three[i]->id, grants[i] & 0x1e3f);
			leaf(&ev, &l[i], &llen[i]);
			proof(&r.decisions[i], l[i], llen[i], 3 + i);
		}
		if (wire_receipt_encode(&r, &buf, &len) != 0)
			return 1;
		put("receipt-accepted", buf, len);
		free(buf);
		for (size_t i = 0; i < 3; i++)
			free(l[i]);

		memset(&r, 0, sizeof(r));
		randombytes_buf(r.msg_id, 16);
		r.outcome = WIRE_REJECTED;
		r.reason = WIRE_REASON_DIGEST_MISMATCH;
		snprintf(r.detail, sizeof(r.detail),
		    "ciphertext of risks does not match its digest");
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_REJECTED;
		ev.time_ms = 1795000000000ull;
		ev.has_msg_id = true;
		memcpy(ev.msg_id, r.msg_id, 16);
		snprintf(ev.sender, sizeof(ev.sender), "police");
		ev.reason = WIRE_REASON_DIGEST_MISMATCH;
		snprintf(ev.detail, sizeof(ev.detail), "%s", r.detail);
		leaf(&ev, &l[0], &llen[0]);
		r.n_decisions = 1;
		proof(&r.decisions[0], l[0], llen[0], 0);
		if (wire_receipt_encode(&r, &buf, &len) != 0)
			return 1;
		put("receipt-rejected", buf, len);
		free(buf);
		put("event-rejected", l[0], llen[0]);
		free(l[0]);
	}

	/* Status, ack, proof request, proof. */
	{
		struct wire_status s;
		memset(&s, 0, sizeof(s));
		memcpy(s.msg_id, m1.msg_id, 16);
		snprintf(s.recipient, sizeof(s.recipient), "ambulance");
		s.state = WIRE_STATE_DELIVERED;
		s.at_ms = 1795000000500ull;
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_DELIVERED;
		ev.time_ms = s.at_ms;
		ev.has_msg_id = true;
		memcpy(ev.msg_id, s.msg_id, 16);
		snprintf(ev.recipient, sizeof(ev.recipient), "ambulance");
		leaf(&ev, &l[0], &llen[0]);
		s.has_event = true;
		proof(&s.event, l[0], llen[0], 5);
		if (wire_status_encode(&s, &buf, &len) != 0)
			return 1;
		put("status-delivered", buf, len);
		free(buf);
		s.state = WIRE_STATE_EXPIRED;
		s.has_event = false;
		if (wire_status_encode(&s, &buf, &len) != 0)
			return 1;
		put("status-expired", buf, len);
		free(buf);
		free(l[0]);
	}
	if (wire_ack_encode(m1.msg_id, &buf, &len) != 0)
		return 1;
	put("ack", buf, len);
	free(buf);
	if (wire_status_ack_encode(
	        m1.msg_id, "ambulance", WIRE_STATE_DELIVERED, &buf, &len) != 0)
		return 1;
	put("ack-status", buf, len);
	free(buf);
	{
		struct wire_proof p;
		memset(&p, 0, sizeof(p));
		p.checkpoint = checkpoint;
		p.checkpoint_len = sizeof(checkpoint) - 1;
		p.from_size = 17;
		p.n_path = 4;
		for (size_t i = 0; i < 4; i++)
			randombytes_buf(p.path[i], WIRE_HASH_LEN);
		if (wire_proof_encode(&p, &buf, &len) != 0)
			return 1;
		put("proof", buf, len);
		free(buf);
	}
	if (witness_seeds() != 0)
		return 1;

	/* A decision leaf, and every field's plaintext after its byte. */
	decision_event(&ev, &m1, "ambulance", FIELDS_ALL);
	ev.breakglass = true;
	ev.emergency_reason = EMERGENCY_REASON_RISK_TO_LIFE;
	leaf(&ev, &l[0], &llen[0]);
	put("event-decision", l[0], llen[0]);
	free(l[0]);
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		char name[64];
		uint8_t *b = malloc(m1.plain_len[f] + 1);
		b[0] = (uint8_t)(f - 1);
		memcpy(b + 1, m1.plain[f], m1.plain_len[f]);
		snprintf(
		    name, sizeof(name), "record-%02d-%s", f, fields_name(f));
		put(name, b, m1.plain_len[f] + 1);
		free(b);
	}
	tu_msg_release(&m1);
	tu_msg_release(&m3);
	return 0;
}
