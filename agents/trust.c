/*
 * Holding the broker to its word (DESIGN.md §7): every receipt, delivery
 * and status carries an audit leaf, its inclusion proof and a signed
 * checkpoint. The agent checks each and accepts a leaf only under a
 * checkpoint tied to the one it trusts: the same, or proved consistent
 * with it in whichever direction the sizes need, by the tie the proof
 * carries or by a ProofRequest naming both sizes. A Proof for other sizes,
 * or none in time, is an alert and a retry with backoff, so a rewritten or
 * forked log is caught by the agencies themselves.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "agents/room.h"
#include "agents/spool.h"
#include "audit/merkle.h"
#include "audit/tie.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/envelope.h"

int
trust_shared(struct agent *a, const char *peer, uint8_t out[32])
{
	for (size_t i = 0; i < keyring_count(a->keyring); i++) {
		const struct keys_public *k = keyring_at(a->keyring, i);
		if (strcmp(k->id, peer) != 0)
			continue;
		if (!a->have_shared[i]) {
			if (envelope_shared_key(
			        k->box_pk, a->key->box_sk, a->shared[i]) != 0)
				return ERROR_CRYPTO;
			a->have_shared[i] = true;
		}
		memcpy(out, a->shared[i], 32);
		return ERROR_OK;
	}
	return ERROR_UNKNOWN_AGENCY;
}

int
trust_alert_file(struct agent *a, const char *stem, json_t *obj)
{
	return spool_write_unique_json(a->dir[DIR_ALERTS], stem, obj);
}

void
trust_alert(struct agent *a, const char *what, const char *detail)
{
	char stem[64], ts[40];
	uint64_t now = clock_now_ms();
	json_t *o;
	int rc;

	log_err("SECURITY ALERT: %s: %s", what, detail);
	clock_format(now, ts, sizeof(ts));
	/* Named by the millisecond, and unique however many share one. */
	snprintf(stem, sizeof(stem), "%llu-audit", (unsigned long long)now);
	o = json_pack(
	    "{s:s,s:s,s:s}", "alert", what, "detail", detail, "at", ts);
	if (o == NULL || (rc = trust_alert_file(a, stem, o)) != 0)
		log_err("cannot write the alert file: %s",
		    error_strerror(o == NULL ? ERROR_NOMEM : rc));
	json_decref(o);
}

/* How long an answer may take: a quarter of the window, 1 s to 30 s. */
static uint64_t
answer_ms(const struct agent *a)
{
	uint64_t t = a->cfg.witness_window_ms / 4;

	return t < 1000 ? 1000 : t > 30000 ? 30000 : t;
}

/* How often the latest checkpoint is asked for: a fifth of the window. */
static uint64_t
poll_ms(const struct agent *a)
{
	uint64_t t = a->cfg.witness_window_ms / 5;

	return t < 200 ? 200 : t > 120000 ? 120000 : t;
}

static void
send_request(struct agent *a)
{
	uint8_t *frame;
	size_t len;

	if (wire_proof_request_between(a->req.from, a->req.to, &frame, &len) !=
	    0)
		return;
	a->req.sent_ms = clock_mono_ms();
	if (link_send(a, frame, len) != 0)
		log_debug("audit proof request deferred");
	free(frame);
}

/* Asks for a proof from checkpoint from (NULL: nothing) to size to. */
static void
request(struct agent *a, const struct checkpoint *from, uint64_t to)
{
	if (a->req.pending || !a->connected)
		return;
	memset(&a->req, 0, sizeof(a->req));
	a->req.pending = true;
	a->req.has_from_cp = from != NULL;
	if (from != NULL)
		a->req.from_cp = *from;
	a->req.from = from != NULL ? from->size : 0;
	a->req.to = to;
	a->req.timeout_ms = answer_ms(a);
	a->proof_pending = true;
	send_request(a);
}

void
trust_hello(struct agent *a)
{
	a->req.pending = false;
	request(a, a->have_trusted ? &a->trusted : NULL, 0);
	a->next_poll_ms = clock_mono_ms() + poll_ms(a);
}

void
trust_ask(struct agent *a, const struct checkpoint *cp)
{
	if (!a->have_trusted)
		request(a, NULL, cp->size);
	else if (cp->size > a->trusted.size)
		request(a, &a->trusted, cp->size);
	else
		request(a, cp, a->trusted.size);
}

/* The next request a held leaf needs, once none is in flight. */
static void
ask_next(struct agent *a)
{
	struct checkpoint cp;

	if (!a->req.pending && witness_next_unproven(a, &cp))
		trust_ask(a, &cp);
}

void
trust_link_down(struct agent *a)
{
	a->req.pending = false;
	a->proof_pending = false;
}

void
trust_flush(struct agent *a)
{
	int rc;

	/* While the state is short of room it waits, as the records do: an
	 * older checkpoint trusted after a crash is only tied again. */
	if (!a->trusted_dirty || !room_may_store(a))
		return;
	rc = state_put_checkpoint(a->state, &a->trusted);
	a->trusted_saved_ms = clock_mono_ms();
	if (rc != 0) {
		if (!room_full(rc))
			log_err("cannot store the trusted checkpoint: %s",
			    error_strerror(rc));
		return;
	}
	a->trusted_dirty = false;
}

/* cp, tied and larger, becomes the trusted checkpoint. */
static void
advance(struct agent *a, const struct checkpoint *cp)
{
	if (a->have_trusted && cp->size <= a->trusted.size)
		return;
	a->trusted = *cp;
	a->have_trusted = true;
	a->trusted_dirty = true;
	log_debug("trusting the broker's log at %llu leaves",
	    (unsigned long long)cp->size);
}

void
trust_tick(struct agent *a, uint64_t now)
{
	char why[256];

	if (a->req.pending && a->connected && a->req.bad_answer &&
	    now - a->req.sent_ms >= a->req.timeout_ms) {
		/* Alerted when it came: now asked again. */
		a->req.bad_answer = false;
		send_request(a);
	} else if (a->req.pending && a->connected &&
	    now - a->req.sent_ms >= a->req.timeout_ms) {
		snprintf(why, sizeof(why),
		    "asked for the consistency proof from %llu to %llu "
		    "leaves (try %u) and had no answer in %llu ms; asking "
		    "again",
		    (unsigned long long)a->req.from,
		    (unsigned long long)a->req.to, a->req.tries + 1,
		    (unsigned long long)a->req.timeout_ms);
		trust_alert(a, "audit proof not answered", why);
		a->req.tries++;
		if (a->req.timeout_ms < 5 * 60 * 1000)
			a->req.timeout_ms *= 2;
		send_request(a);
	}
	if (a->connected && !a->req.pending && now >= a->next_poll_ms) {
		a->next_poll_ms = now + poll_ms(a);
		request(a, a->have_trusted ? &a->trusted : NULL, 0);
	}
	ask_next(a);
	if (a->trusted_dirty && now - a->trusted_saved_ms >= 1000)
		trust_flush(a);
	/* What it trusts, cosigned once a poll interval at most, and not
	 * while a proof is asked for: just connected, that is what this
	 * agent trusted before, and the answer brings the broker's latest. */
	if (a->connected && !a->req.pending && now >= a->next_cosign_ms &&
	    witness_cosign(a))
		a->next_cosign_ms = now + poll_ms(a);
}

/* Says what contradicts: a fork or a rewrite of the log. */
static void
alert_fork(struct agent *a, const struct checkpoint *cp, const char *how)
{
	char why[320], r1[MERKLE_HASH_B64], r2[MERKLE_HASH_B64];

	merkle_hash_to_base64(cp->root, r1);
	merkle_hash_to_base64(a->trusted.root, r2);
	snprintf(why, sizeof(why),
	    "the broker signed a checkpoint of %llu leaves (root %s) that "
	    "%s the one of %llu leaves this agent trusts (root %s): the log "
	    "was forked or rewritten",
	    (unsigned long long)cp->size, r1, how,
	    (unsigned long long)a->trusted.size, r2);
	trust_alert(a, "audit log forked", why);
}

/* Ties cp, under which a leaf came, to the trusted checkpoint. */
static int
tie_leaf(struct agent *a, const struct wire_audit_proof *p,
    const struct checkpoint *cp)
{
	enum tie_result t = tie_check(a->have_trusted ? &a->trusted : NULL, cp,
	    p->has_tie, p->tie_size, p->tie_path, p->n_tie);

	switch (t) {
	case TIE_SAME:
	case TIE_OLDER:
		return ERROR_OK;
	case TIE_NEWER:
		advance(a, cp);
		witness_tied(a, cp);
		return ERROR_OK;
	case TIE_CONTRADICTS:
		alert_fork(a, cp,
		    cp->size == a->trusted.size ? "has the same size as, and "
		                                  "another root than,"
		                                : "is not consistent with");
		return ERROR_CHECKPOINT;
	case TIE_UNPROVEN:
		break;
	}
	trust_ask(a, cp);
	return TRUST_HELD;
}

/*
 * checkpoint_verify, remembering the last checkpoint that verified: the
 * frames of one broker commit all carry the same signed note, so the
 * signature is checked once for them. The memo is keyed by a BLAKE2b-256
 * of the origin, the broker's key and the note's bytes, so only the very
 * bytes already verified against that key skip the check.
 */
static int
verify_checkpoint(
    struct agent *a, const char *text, size_t len, struct checkpoint *cp)
{
	crypto_generichash_state st;
	uint8_t d[sizeof(a->cp_memo.digest)];
	int rc;

	crypto_generichash_init(&st, NULL, 0, sizeof(d));
	crypto_generichash_update(
	    &st, (const uint8_t *)a->origin, strlen(a->origin) + 1);
	crypto_generichash_update(
	    &st, a->broker.sign_pk, sizeof(a->broker.sign_pk));
	crypto_generichash_update(&st, (const uint8_t *)text, len);
	crypto_generichash_final(&st, d, sizeof(d));
	if (a->cp_memo.valid &&
	    sodium_memcmp(d, a->cp_memo.digest, sizeof(d)) == 0) {
		*cp = a->cp_memo.cp;
		return ERROR_OK;
	}
	rc = checkpoint_verify(text, len, a->origin, a->broker.sign_pk, cp);
	if (rc == 0) {
		memcpy(a->cp_memo.digest, d, sizeof(d));
		a->cp_memo.cp = *cp;
		a->cp_memo.valid = true;
	}
	return rc;
}

int
trust_check(struct agent *a, const struct wire_audit_proof *p, struct event *ev,
    struct checkpoint *cp)
{
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	int rc;

	rc = verify_checkpoint(a, p->checkpoint, p->checkpoint_len, cp);
	if (rc != 0) {
		trust_alert(a, "checkpoint not signed by the broker",
		    error_strerror(rc));
		return rc;
	}
	merkle_hash_leaf(p->leaf, p->leaf_len, leaf_hash);
	rc = merkle_verify_inclusion(p->leaf_index, cp->size, leaf_hash,
	    (const uint8_t(*)[MERKLE_HASH_LEN])p->path, p->n_path, cp->root);
	if (rc != 0) {
		trust_alert(a, "audit leaf not in the broker's signed log",
		    error_strerror(rc));
		return rc;
	}
	if ((rc = event_decode(p->leaf, p->leaf_len, ev)) != 0) {
		trust_alert(a, "audit leaf unreadable", error_strerror(rc));
		return rc;
	}
	if ((rc = tie_leaf(a, p, cp)) == ERROR_OK)
		witness_accepted(a, p->leaf_index);
	return rc;
}

/* The sizes the answer must have: those asked for. */
static bool
sizes_asked(
    struct agent *a, const struct wire_proof *p, const struct checkpoint *next)
{
	char why[256];

	if (p->from_size == a->req.from &&
	    (a->req.to != 0 ? next->size == a->req.to
	                    : next->size >= a->req.from) &&
	    (p->to_size == 0 || p->to_size == next->size))
		return true;
	snprintf(why, sizeof(why),
	    "asked for the consistency proof from %llu to %llu leaves, got "
	    "one from %llu to %llu under a checkpoint of %llu; asking again",
	    (unsigned long long)a->req.from, (unsigned long long)a->req.to,
	    (unsigned long long)p->from_size, (unsigned long long)p->to_size,
	    (unsigned long long)next->size);
	trust_alert(a, "audit proof for the wrong sizes", why);
	return false;
}

/* Asks the same again after an answer that did not do. */
static void
retry(struct agent *a)
{
	a->req.tries++;
	if (a->req.timeout_ms < 5 * 60 * 1000)
		a->req.timeout_ms *= 2;
	/* Not at once: the timer resends when the backoff is over. */
	a->req.sent_ms = clock_mono_ms();
	a->req.bad_answer = true;
}

void
trust_proof(struct agent *a, const struct wire_proof *p)
{
	struct checkpoint next;
	enum tie_result t;
	int rc;

	if (!a->req.pending || a->req.bad_answer) {
		log_warn("audit proof that was not asked for: ignored");
		return;
	}
	rc = verify_checkpoint(a, p->checkpoint, p->checkpoint_len, &next);
	if (rc != 0) {
		trust_alert(a, "checkpoint not signed by the broker",
		    error_strerror(rc));
		retry(a);
		return;
	}
	if (!sizes_asked(a, p, &next)) {
		retry(a);
		return;
	}
	/* Trust on first use: the broker's signature, and the empty tree. */
	t = tie_check(a->req.has_from_cp ? &a->req.from_cp : NULL, &next, true,
	    a->req.from, (const uint8_t(*)[MERKLE_HASH_LEN])p->path, p->n_path);
	if (t == TIE_CONTRADICTS || t == TIE_UNPROVEN || t == TIE_OLDER) {
		alert_fork(a, &next,
		    "the proof the broker sent does not show consistent with");
		if (a->req.has_from_cp)
			witness_contradicted(a, &a->req.from_cp);
		witness_contradicted(a, &next);
		retry(a);
		return;
	}
	a->req.pending = false;
	a->proof_pending = false;
	/* from_cp and next are consistent. Which of them the trusted one is
	 * decides what is now proved. */
	bool from_trusted = !a->have_trusted ||
	    (a->req.has_from_cp && a->req.from_cp.size == a->trusted.size &&
	        sodium_memcmp(a->req.from_cp.root, a->trusted.root,
	            MERKLE_HASH_LEN) == 0);
	t = a->have_trusted ? tie_check(&a->trusted, &next, false, 0, NULL, 0)
	                    : TIE_UNPROVEN;
	if (t == TIE_CONTRADICTS) {
		alert_fork(a, &next,
		    "has the same size as, and another root "
		    "than,");
		witness_contradicted(a, &next);
	} else if (from_trusted || t == TIE_SAME) {
		if (a->req.has_from_cp)
			witness_tied(a, &a->req.from_cp);
		advance(a, &next);
		witness_tied(a, &next);
		witness_proof(a, p, &next, next.size);
	} else {
		/* The trusted one moved on meanwhile (by the ties of leaves):
		 * next extends the checkpoint asked from, which is a prefix of
		 * the trusted one, so the witnesses count up to it; and ask
		 * again from the trusted one. */
		witness_proof(a, p, &next, a->req.from_cp.size);
		trust_ask(a, &next);
	}
	ask_next(a);
}
