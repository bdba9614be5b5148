/*
 * The ingest pipeline (DESIGN.md §5, steps 1 to 8, and step 10's
 * receipt): every Submit frame is decoded, attributed, verified, checked
 * for freshness and replay, its contents checked, decided by the policy
 * per recipient, and written with its audit leaves and queue entries in
 * one nested transaction of the batch's commit. The first failure rejects
 * the message with its own reason, and the rejection is audited. The
 * broker never holds a key that opens a field.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/urgency.h"
#include "proto/envelope.h"

/* Fills the metadata every event about message m carries. */
static void
event_from_manifest(struct event *ev, int type, const struct wire_manifest *m)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (enum event_type)type;
	ev->time_ms = clock_now_ms();
	ev->has_msg_id = true;
	memcpy(ev->msg_id, m->msg_id, WIRE_MSG_ID_LEN);
	snprintf(ev->sender, sizeof(ev->sender), "%s", m->sender);
	snprintf(ev->purpose, sizeof(ev->purpose), "%s", m->purpose);
	ev->urgency = m->urgency;
	ev->emergency_reason =
	    m->reason; /* the code only: the text is sealed */
	ev->kind = m->kind;
	ev->has_subject_ref = true;
	memcpy(ev->subject_ref, m->subject_ref, WIRE_REF_LEN);
	ev->has_pepper_id = m->has_pepper_id;
	memcpy(ev->pepper_id, m->pepper_id, WIRE_REF_LEN);
}

static void
set_policy_hash(const struct policy *p, struct event *ev)
{
	ev->has_policy_sha256 = true;
	memcpy(ev->policy_sha256, policy_sha256(p), 32);
}

/*
 * Rejects the message: fills rep and appends the rejection leaf in txn. m
 * may be NULL when the manifest could not be read.
 */
static int
reject(struct broker *b, MDB_txn *txn, const char *agency,
    const struct wire_manifest *m, int reason, const char *detail,
    struct reply *rep)
{
	struct event ev;
	uint64_t seq;
	int rc;

	if (m != NULL) {
		event_from_manifest(&ev, EVENT_REJECTED, m);
		memcpy(rep->msg_id, m->msg_id, WIRE_MSG_ID_LEN);
	} else {
		static const uint8_t none[WIRE_MSG_ID_LEN];
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_REJECTED;
		ev.time_ms = clock_now_ms();
		/* The msg_id a frame that did not decode still names. */
		if (memcmp(rep->msg_id, none, WIRE_MSG_ID_LEN) != 0) {
			ev.has_msg_id = true;
			memcpy(ev.msg_id, rep->msg_id, WIRE_MSG_ID_LEN);
		}
	}
	/* The authenticated agency, whatever the manifest claims. */
	snprintf(ev.sender, sizeof(ev.sender), "%s", agency);
	if (m != NULL && strcmp(m->sender, agency) != 0)
		snprintf(ev.peer, sizeof(ev.peer),
		    "manifest claims sender '%s'", m->sender);
	ev.reason = reason;
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	rep->outcome = WIRE_REJECTED;
	rep->reason = reason;
	rep->retryable = wire_reason_retryable(reason);
	snprintf(rep->detail, sizeof(rep->detail), "%s", detail);
	if ((rc = audit_append(store_audit(b->store), txn, &ev, &seq)) != 0)
		return rc;
	rep->leaves[0] = seq;
	rep->n_leaves = 1;
	b->rejected++;
	char hex[2 * WIRE_MSG_ID_LEN + 1];
	sodium_bin2hex(hex, sizeof(hex), rep->msg_id, WIRE_MSG_ID_LEN);
	log_info("rejected message from %s: %s: %s from=%s msg_id=%s "
	         "reason=%s",
	    agency, wire_reason_name(reason), detail, agency, hex,
	    wire_reason_name(reason));
	return ERROR_OK;
}

void
ingest_refuse(struct reply *rep, int err)
{
	int reason = wire_reason_from_error(err);

	rep->outcome = WIRE_REJECTED;
	rep->reason = reason == WIRE_REASON_STORAGE_FULL ||
	        reason == WIRE_REASON_RATE_LIMITED
	    ? reason
	    : WIRE_REASON_INTERNAL;
	rep->retryable = true;
	rep->n_leaves = 0;
	snprintf(rep->detail, sizeof(rep->detail), "%s; send it again later",
	    error_strerror(err));
}

/* Step 10, after the checkpoint (broker_int.h). */
void
ingest_receipt(struct broker *b, MDB_txn *txn, struct reply *rep,
    const struct audit_head *head)
{
	struct wire_receipt *r = b->scratch;
	int rc = 0;

	/* Only the header: each decision used is filled in below and the
	 * encoder reads no further. Clearing all 16 proofs' paths (33 KiB a
	 * receipt) was 2.5% of the broker's instructions per message. */
	memset(r, 0, offsetof(struct wire_receipt, decisions));
	memcpy(r->msg_id, rep->msg_id, WIRE_MSG_ID_LEN);
	r->outcome = rep->outcome;
	r->reason = rep->reason;
	r->retryable = rep->retryable;
	snprintf(r->detail, sizeof(r->detail), "%s", rep->detail);
	inforce_receipt(b, rep, r);
	for (size_t i = 0; i < rep->n_leaves && rc == 0; i++) {
		struct wire_audit_proof *p = &r->decisions[i];
		p->leaf_index = rep->leaves[i];
		rc = audit_inclusion_memo(store_audit(b->store), txn, b->memo,
		    rep->leaves[i], head->cp.size, p->path, &p->n_path);
		if (rc == 0)
			rc = audit_leaf(store_audit(b->store), txn,
			    rep->leaves[i], &p->leaf, &p->leaf_len);
		p->checkpoint = head->text;
		p->checkpoint_len = head->text_len;
		witness_tie(b, txn, rep->agency, head, p);
		r->n_decisions = i + 1;
	}
	if (rc == 0)
		rc = wire_receipt_encode(r, &rep->frame, &rep->frame_len);
	if (rc != 0)
		log_err("cannot encode a receipt: %s", error_strerror(rc));
}

/* The hash a replay record keeps of an envelope. */
static void
envelope_hash(const struct wire_envelope *e, uint8_t out[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, e->manifest, e->manifest_len);
	crypto_generichash_update(&st, e->signature, WIRE_SIG_LEN);
	crypto_generichash_final(&st, out, 32);
}

static void
copy_decision(struct event *ev, const struct policy_decision *d, fieldset sent)
{
	ev->disclosed = sent;
	ev->withheld = (fieldset)(FIELDS_ALL & ~sent);
	ev->breakglass = (d->breakglass_fields & sent) != 0;
	for (size_t i = 0; i < d->nrules && ev->n_rules < EVENT_MAX_LIST; i++) {
		snprintf(ev->rules[ev->n_rules++], sizeof(ev->rules[0]), "%s",
		    d->rules[i]);
		bool dup = false;
		for (size_t j = 0; j < ev->n_bases; j++)
			if (strcmp(ev->bases[j], d->bases[i]) == 0)
				dup = true;
		if (!dup && ev->n_bases < EVENT_MAX_LIST)
			snprintf(ev->bases[ev->n_bases++], sizeof(ev->bases[0]),
			    "%s", d->bases[i]);
	}
	for (size_t i = 0;
	     i < d->nobligations && ev->n_obligations < EVENT_MAX_LIST; i++)
		snprintf(ev->obligations[ev->n_obligations++],
		    sizeof(ev->obligations[0]), "%s", d->obligation_names[i]);
}

/*
 * Steps 7 and 8 for a verified envelope: decide per recipient, then write
 * the replay record, the accepted and decision leaves and the queue
 * entries in txn.
 */
static int
accept(struct broker *b, MDB_txn *txn, const struct wire_envelope *e,
    struct reply *rep)
{
	const struct wire_manifest *m = &e->m;
	struct policy_decision *d = b->decisions;
	fieldset sent[WIRE_MAX_RECIPIENTS];
	uint8_t *del[WIRE_MAX_RECIPIENTS] = {0};
	size_t del_len[WIRE_MAX_RECIPIENTS] = {0};
	struct policy_question q;
	struct store_replay rr;
	struct event ev;
	uint64_t expiry, now = clock_now_ms(), qnow = broker_qclock(b), seq;
	const struct policy *pol = inforce_pick(b, m);
	bool any = false;
	char why[WIRE_DETAIL_MAX];
	int rc;

	/* 7. under the agreement the sender decided under, if in force. */
	if (pol == NULL) {
		inforce_mismatch(b, m, why, sizeof(why));
		return reject(b, txn, m->sender, m,
		    WIRE_REASON_AGREEMENT_MISMATCH, why, rep);
	}
	if (policy_expiry_ms(pol, m->purpose, &expiry) != 0)
		return reject(b, txn, m->sender, m,
		    WIRE_REASON_UNDECLARED_PURPOSE,
		    "the sharing agreement declares no such purpose", rep);
	for (size_t i = 0; i < m->n_recipients; i++) {
		const struct wire_grant *g = NULL;
		q.from = m->sender;
		q.to = m->recipients[i];
		q.purpose = m->purpose;
		q.urgency = m->urgency;
		q.reason = m->reason;
		q.kind = m->kind;
		if ((rc = policy_eval(pol, &q, &d[i])) != 0)
			return reject(b, txn, m->sender, m,
			    rc == ERROR_PURPOSE ? WIRE_REASON_UNDECLARED_PURPOSE
			                        : WIRE_REASON_MALFORMED,
			    error_strerror(rc), rep);
		for (size_t j = 0; j < e->n_grants; j++)
			if (strcmp(e->grants[j].recipient, q.to) == 0)
				g = &e->grants[j];
		sent[i] =
		    g != NULL ? (fieldset)(d[i].disclosed & g->fields) : 0;
		any |= sent[i] != 0;
	}
	if (!any)
		return reject(b, txn, m->sender, m, WIRE_REASON_NOT_PERMITTED,
		    "the sharing agreement lets no recipient see any field "
		    "of this message",
		    rep);
	/* Everything that can fail without LMDB, before the first write: a
	 * failure after it would leave half a message in the batch. */
	for (size_t i = 0; i < m->n_recipients; i++) {
		fieldset got;
		if (sent[i] != 0 &&
		    (rc = envelope_redact(e, m->recipients[i], sent[i], &got,
		         &del[i], &del_len[i])) != 0)
			goto unwritten;
	}

	event_from_manifest(&ev, EVENT_ACCEPTED, m);
	set_policy_hash(pol, &ev);
	ev.n_recipients = m->n_recipients;
	for (size_t i = 0; i < m->n_recipients; i++)
		snprintf(ev.recipients[i], sizeof(ev.recipients[i]), "%s",
		    m->recipients[i]);
	if ((rc = audit_append(store_audit(b->store), txn, &ev, NULL)) != 0)
		goto out;

	memset(&rr, 0, sizeof(rr));
	snprintf(rr.sender, sizeof(rr.sender), "%s", m->sender);
	rr.created_at_ms = m->created_at_ms;
	envelope_hash(e, rr.hash);
	for (size_t i = 0; i < m->n_recipients; i++) {
		struct store_item it;

		event_from_manifest(&ev, EVENT_DECISION, m);
		snprintf(
		    ev.recipient, sizeof(ev.recipient), "%s", m->recipients[i]);
		set_policy_hash(pol, &ev);
		copy_decision(&ev, &d[i], sent[i]);
		if ((rc = audit_append(
		         store_audit(b->store), txn, &ev, &seq)) != 0)
			goto out;
		rr.decisions[rr.n_decisions++] = seq;
		rep->leaves[rep->n_leaves++] = seq;
		if (sent[i] == 0)
			continue; /* nothing to deliver: the decision says so */
		memset(&it, 0, sizeof(it));
		it.type = STORE_DELIVERY;
		memcpy(it.msg_id, m->msg_id, WIRE_MSG_ID_LEN);
		snprintf(it.agency, sizeof(it.agency), "%s", m->recipients[i]);
		snprintf(it.peer, sizeof(it.peer), "%s", m->sender);
		it.leaf = seq;
		it.expires_ms = qnow + expiry; /* on the queue's clock */
		it.at_ms = now;
		it.payload = del[i];
		it.payload_len = del_len[i];
		if ((rc = store_queue_put(b->store, txn, &it, &seq)) != 0)
			goto out;
	}
	if ((rc = store_replay_put(b->store, txn, m->msg_id, &rr)) != 0)
		goto out;
	rep->outcome = WIRE_ACCEPTED;
	rep->reason = 0;
	b->accepted++;
	log_debug("accepted message from %s for %zu recipients", m->sender,
	    m->n_recipients);
	goto out;
unwritten:
	/* Nothing of this message is in the batch: refuse it alone. */
	ingest_refuse(rep, rc);
	rc = ERROR_OK;
out:
	for (size_t i = 0; i < m->n_recipients; i++)
		free(del[i]);
	return rc;
}

/* A resend of a message accepted before: its decisions, as a replay. */
static int
answer_replay(struct broker *b, MDB_txn *txn, const char *agency,
    const struct wire_manifest *m, const uint64_t *decisions, size_t n,
    struct reply *rep)
{
	int rc = reject(
	    b, txn, agency, m, WIRE_REASON_REPLAY, "already accepted", rep);

	for (size_t i = 0; rc == 0 && i < n && rep->n_leaves < WIRE_MAX_PROOFS;
	     i++)
		rep->leaves[rep->n_leaves++] = decisions[i];
	return rc;
}

/* What the audit log says of an old msg_id. */
struct logged {
	bool accepted;
	size_t n;
	uint64_t decisions[WIRE_MAX_PROOFS];
	const char *agency;
	const struct wire_manifest *m;
};

static int
logged_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct logged *lg = arg;

	/* The same message: its sender, and what the manifest says of it. */
	if (strcmp(ev->sender, lg->agency) != 0 ||
	    strcmp(ev->purpose, lg->m->purpose) != 0 || !ev->has_subject_ref ||
	    memcmp(ev->subject_ref, lg->m->subject_ref, WIRE_REF_LEN) != 0)
		return 0;
	if (ev->type == EVENT_ACCEPTED)
		lg->accepted = true;
	else if (ev->type == EVENT_DECISION && lg->n < WIRE_MAX_PROOFS)
		lg->decisions[lg->n++] = seq;
	return 0;
}

/*
 * Whether agency's message m (older than the freshness window, so its
 * replay record may be pruned) was accepted, from the audit log's msg_id
 * index, with its decision leaves.
 */
static int
accepted_before(struct broker *b, MDB_txn *txn, const char *agency,
    const struct wire_manifest *m, struct logged *lg)
{
	struct audit_filter flt;

	memset(lg, 0, sizeof(*lg));
	lg->agency = agency;
	lg->m = m;
	memset(&flt, 0, sizeof(flt));
	flt.has_msg_id = true;
	memcpy(flt.msg_id, m->msg_id, WIRE_MSG_ID_LEN);
	return audit_query(
	    store_audit(b->store), txn, &flt, logged_row, lg, NULL);
}

/*
 * Steps 1 to 6 for a frame the verifier has decoded and, where it could,
 * checked (signature and contents): the results are read here in the
 * order of the pipeline, so the first failure still names the reason. On
 * success job->f holds the verified frame.
 */
static int
check(struct broker *b, MDB_txn *txn, const char *agency,
    struct verify_job *job, struct reply *rep)
{
	struct wire_frame *f = job->f;
	const struct wire_manifest *m;
	const struct keys_public *sender;
	struct store_replay rr;
	char why[256] = "";
	uint64_t now;
	int rc = job->decode_rc;

	/* 1. size and decode: unknown protobuf fields are rejected. */
	if (rc == 0 && f->type != WIRE_SUBMIT) {
		rc = ERROR_DECODE;
		snprintf(
		    job->why, sizeof(job->why), "frame is not a submission");
	}
	if (rc != 0)
		return reject(b, txn, agency, NULL, wire_reason_from_error(rc),
		    job->why, rep);
	m = &f->u.submit.m;
	memcpy(rep->msg_id, m->msg_id, WIRE_MSG_ID_LEN);

	/* 2. the sender is who the CURVE handshake says it is. */
	if (strcmp(m->sender, agency) != 0)
		return reject(b, txn, agency, m, WIRE_REASON_SENDER_MISMATCH,
		    "manifest sender differs from the authenticated agency",
		    rep);
	/* 3. the sender's signature over the exact manifest bytes. */
	sender = keyring_find(b->keyring, agency);
	if (sender != NULL && !job->verified) {
		const struct keys_public *nx =
		    keyring_find_next(b->keyring, agency);
		job->sig_rc =
		    envelope_verify_signature(&f->u.submit, sender->sign_pk);
		if (job->sig_rc != 0 && nx != NULL) /* a rotation window */
			job->sig_rc = envelope_verify_signature(
			    &f->u.submit, nx->sign_pk);
		if (job->sig_rc == 0)
			job->contents_rc = envelope_verify_contents(
			    &f->u.submit, job->why, sizeof(job->why));
		job->verified = true;
	}
	if (sender == NULL || job->sig_rc != 0)
		return reject(b, txn, agency, m, WIRE_REASON_BAD_SIGNATURE,
		    "manifest signature does not verify with the sender's "
		    "key",
		    rep);
	/*
	 * 4. replay, before freshness: a msg_id this broker accepted is
	 * answered with its decisions whatever its age, so a sender whose
	 * receipt was lost learns the outcome even after an outage longer
	 * than the window (§11).
	 */
	rc = store_replay_get(b->store, txn, m->msg_id, &rr);
	if (rc == 0) {
		uint8_t h[32];
		envelope_hash(&f->u.submit, h);
		/*
		 * The same envelope again from its sender is a resend after a
		 * lost receipt: still a replay, but the sender gets the
		 * original decisions so that it can stop resending.
		 */
		if (strcmp(rr.sender, agency) == 0 &&
		    sodium_memcmp(h, rr.hash, 32) == 0)
			return answer_replay(b, txn, agency, m, rr.decisions,
			    rr.n_decisions, rep);
		return reject(b, txn, agency, m, WIRE_REASON_REPLAY,
		    "msg_id already used", rep);
	}
	if (rc != ERROR_NOTFOUND)
		return rc;
	/* 5. freshness; past it, replay records are pruned, and the log
	 * itself says whether this message was accepted. */
	now = clock_now_ms();
	if (m->created_at_ms + b->cfg.clock_skew_ms < now) {
		struct logged lg;
		if ((rc = accepted_before(b, txn, agency, m, &lg)) != 0)
			return rc;
		if (lg.accepted)
			return answer_replay(
			    b, txn, agency, m, lg.decisions, lg.n, rep);
		return reject(b, txn, agency, m, WIRE_REASON_STALE,
		    "created_at is older than the allowed clock skew", rep);
	}
	if (m->created_at_ms > now + b->cfg.clock_skew_ms)
		return reject(b, txn, agency, m, WIRE_REASON_FUTURE,
		    "created_at is in the future beyond the allowed clock "
		    "skew",
		    rep);
	/* 6. contents, recipients, grants. */
	if (job->contents_rc != 0)
		return reject(b, txn, agency, m,
		    wire_reason_from_error(job->contents_rc), job->why, rep);
	for (size_t i = 0; i < m->n_recipients; i++) {
		if (keyring_find(b->keyring, m->recipients[i]) == NULL) {
			snprintf(why, sizeof(why),
			    "recipient '%s' is not in the keyring",
			    m->recipients[i]);
			return reject(b, txn, agency, m,
			    WIRE_REASON_UNKNOWN_RECIPIENT, why, rep);
		}
	}
	return ERROR_OK;
}

int
ingest_submit(struct broker *b, MDB_txn *txn, const char *agency,
    struct verify_job *job, struct reply *rep)
{
	int rc;

	rep->outcome = 0;
	rep->n_leaves = 0;
	rc = check(b, txn, agency, job, rep);
	if (rc == 0 && rep->outcome == 0)
		rc = accept(b, txn, &job->f->u.submit, rep);
	if (rc != 0)
		log_err("could not store a message from %s: %s", agency,
		    error_strerror(rc));
	return rc;
}
