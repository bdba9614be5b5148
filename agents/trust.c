/*
 * Holding the broker to its word (DESIGN.md §7): every receipt, delivery
 * and status carries an audit leaf, its inclusion proof and a signed
 * checkpoint. The agent checks each, keeps the last checkpoint it trusts,
 * and asks for a consistency proof whenever a newer one arrives, so a
 * rewritten or forked log is caught by the agencies themselves.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "agents/spool.h"
#include "audit/merkle.h"
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

void
trust_hello(struct agent *a)
{
	uint8_t *frame;
	size_t len;

	if (wire_proof_request_encode(
	        a->have_trusted ? a->trusted.size : 0, &frame, &len) != 0)
		return;
	if (link_send(a, frame, len) == 0)
		a->proof_pending = true;
	free(frame);
}

int
trust_check(struct agent *a, const struct wire_audit_proof *p, struct event *ev,
    struct checkpoint *cp)
{
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	int rc;

	rc = checkpoint_verify(
	    p->checkpoint, p->checkpoint_len, a->origin, a->broker.sign_pk, cp);
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
	/* A log that grew: prove it grew from the one we trust. */
	if ((!a->have_trusted || cp->size > a->trusted.size) &&
	    !a->proof_pending && a->connected)
		trust_hello(a);
	return ERROR_OK;
}

void
trust_proof(struct agent *a, const struct wire_proof *p)
{
	struct checkpoint next;
	char why[256];
	int rc;

	a->proof_pending = false;
	if (!a->have_trusted) {
		/* Trust on first use: the broker's signature alone. */
		rc = checkpoint_verify(p->checkpoint, p->checkpoint_len,
		    a->origin, a->broker.sign_pk, &next);
		if (rc != 0) {
			trust_alert(a, "checkpoint not signed by the broker",
			    error_strerror(rc));
			return;
		}
	} else {
		if (p->from_size != a->trusted.size) {
			snprintf(why, sizeof(why),
			    "asked for a proof from %llu, got one from %llu",
			    (unsigned long long)a->trusted.size,
			    (unsigned long long)p->from_size);
			log_warn("audit proof: %s", why);
			return;
		}
		rc = checkpoint_advance(&a->trusted, p->checkpoint,
		    p->checkpoint_len, a->broker.sign_pk,
		    (const uint8_t(*)[MERKLE_HASH_LEN])p->path, p->n_path,
		    &next);
		if (rc != 0) {
			snprintf(why, sizeof(why),
			    "the broker's log of %llu leaves we trusted is "
			    "not a prefix of its log now: it was rewritten or "
			    "forked (%s)",
			    (unsigned long long)a->trusted.size,
			    error_strerror(rc));
			trust_alert(a, "audit log rewritten", why);
			return;
		}
	}
	if (a->have_trusted && next.size <= a->trusted.size)
		return;
	if ((rc = state_put_checkpoint(a->state, &next)) != 0) {
		log_err("cannot store the trusted checkpoint: %s",
		    error_strerror(rc));
		return;
	}
	a->trusted = next;
	a->have_trusted = true;
	log_debug("trusting the broker's log at %llu leaves",
	    (unsigned long long)next.size);
}
