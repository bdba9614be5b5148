/*
 * The agreements in force at the broker:
 * the current one, with the YAML and signature note bytes the agents are
 * sent, and those it replaced less than agreement_grace ago, under which a
 * message sealed before the change is still decided. A message sealed
 * under any other is rejected agreement_mismatch (retryable), the receipt
 * naming the current one. Agents get the current agreement after their
 * first ProofRequest on a connection and whenever it changes, and any
 * agreement they ask for that is in force or archived. Called by broker.c,
 * ingest.c and deliver.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"

/* Whether a, replaced at a->until_ms (wall clock), is still in grace. */
static bool
in_grace(const struct broker *b, const struct agreement_held *a, uint64_t now)
{
	return a != NULL && a->policy != NULL && a->until_ms != 0 &&
	    now < a->until_ms + b->cfg.agreement_grace_ms;
}

void
inforce_retire(struct broker *b, struct agreement_held **prev)
{
	struct inforce *f = &b->inforce;
	uint64_t now = clock_now_ms();
	size_t slot = INFORCE_RETIRED;

	for (size_t i = 0; i < INFORCE_RETIRED; i++) {
		if (f->retired[i] != NULL && !in_grace(b, f->retired[i], now)) {
			agreement_held_free(f->retired[i]);
			f->retired[i] = NULL;
		}
		if (f->retired[i] == NULL && slot == INFORCE_RETIRED)
			slot = i;
	}
	if (*prev == NULL || !in_grace(b, *prev, now)) {
		agreement_held_free(*prev);
		*prev = NULL;
		return;
	}
	if (slot == INFORCE_RETIRED) { /* the one replaced first goes */
		slot = 0;
		for (size_t i = 1; i < INFORCE_RETIRED; i++)
			if (f->retired[i]->until_ms <
			    f->retired[slot]->until_ms)
				slot = i;
		agreement_held_free(f->retired[slot]);
	}
	f->retired[slot] = *prev;
	*prev = NULL;
}

void
inforce_free(struct broker *b)
{
	for (size_t i = 0; i < INFORCE_RETIRED; i++) {
		agreement_held_free(b->inforce.retired[i]);
		b->inforce.retired[i] = NULL;
	}
}

/* The agreement held in force or in grace whose SHA-256 is sha, or NULL. */
static const struct agreement_held *
held(struct broker *b, const uint8_t sha[WIRE_HASH_LEN], bool grace_only)
{
	uint64_t now = clock_now_ms();

	if (b->agreement != NULL &&
	    memcmp(sha, b->agreement->sha, WIRE_HASH_LEN) == 0)
		return b->agreement;
	if ((in_grace(b, b->agreement_prev, now) || !grace_only) &&
	    b->agreement_prev != NULL &&
	    memcmp(sha, b->agreement_prev->sha, WIRE_HASH_LEN) == 0)
		return b->agreement_prev;
	for (size_t i = 0; i < INFORCE_RETIRED; i++) {
		const struct agreement_held *a = b->inforce.retired[i];
		if (a != NULL && (in_grace(b, a, now) || !grace_only) &&
		    memcmp(sha, a->sha, WIRE_HASH_LEN) == 0)
			return a;
	}
	return NULL;
}

const struct policy *
inforce_pick(struct broker *b, const struct wire_manifest *m)
{
	const struct agreement_held *a;

	if (!m->has_agreement)
		return NULL;
	a = held(b, m->agreement, true);
	return a != NULL ? a->policy : NULL;
}

void
inforce_mismatch(
    struct broker *b, const struct wire_manifest *m, char *why, size_t n)
{
	char hex[2 * WIRE_HASH_LEN + 1];

	if (!m->has_agreement) {
		snprintf(why, n,
		    "the manifest names no agreement; the one in force is %s "
		    "v%lld (%s): seal it again under that",
		    policy_agreement(b->policy), policy_version(b->policy),
		    policy_sha256_hex(b->policy));
		return;
	}
	sodium_bin2hex(hex, sizeof(hex), m->agreement, WIRE_HASH_LEN);
	snprintf(why, n,
	    "sealed under agreement %.16s..., not in force; the one in force "
	    "is %s v%lld (%s): seal it again under that",
	    hex, policy_agreement(b->policy), policy_version(b->policy),
	    policy_sha256_hex(b->policy));
}

void
inforce_receipt(
    const struct broker *b, const struct reply *rep, struct wire_receipt *r)
{
	r->has_agreement = rep->reason == WIRE_REASON_AGREEMENT_MISMATCH;
	if (r->has_agreement)
		memcpy(r->agreement, b->agreement->sha, WIRE_HASH_LEN);
}

/* Sends an Agreement frame of a's YAML and note to p's connection. */
static void
send_pair(struct broker *b, struct peer *p, const struct agreement_held *a)
{
	uint8_t *frame;
	size_t len;

	if (!p->connected || a == NULL || a->note == NULL)
		return;
	if (wire_agreement_encode((const uint8_t *)a->yaml, a->yaml_len,
	        (const uint8_t *)a->note, a->note_len, &frame, &len) != 0) {
		log_err("cannot encode the agreement for %s", p->id);
		return;
	}
	if (zmq_send(b->router, p->rid, p->rid_len,
	        ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->router, frame, len, ZMQ_DONTWAIT) < 0)
		log_warn("cannot send the agreement to %s: %s", p->id,
		    zmq_strerror(zmq_errno()));
	free(frame);
}

void
inforce_hello(struct broker *b, struct peer *p)
{
	if (p->agreement_sent)
		return;
	send_pair(b, p, b->agreement);
	p->agreement_sent = true;
}

void
inforce_broadcast(struct broker *b)
{
	for (size_t i = 0; i < b->n_peers; i++) {
		b->peers[i].agreement_sent = false;
		if (b->peers[i].connected)
			inforce_hello(b, &b->peers[i]);
	}
}

void
inforce_answer(struct broker *b, struct peer *p, const struct wire_agreement *q)
{
	struct agreement_held *a = NULL;
	char hex[2 * WIRE_HASH_LEN + 1];
	int rc;

	if (!q->has_sha) {
		send_pair(b, p, b->agreement);
		return;
	}
	const struct agreement_held *h = held(b, q->sha256, false);
	if (h != NULL) {
		send_pair(b, p, h);
		return;
	}
	/* Any other from the archive of activated agreements. */
	if ((rc = agreement_archived(b->cfg.data, q->sha256, &a)) != 0) {
		sodium_bin2hex(hex, sizeof(hex), q->sha256, WIRE_HASH_LEN);
		log_info("%s asked for agreement %s: %s", p->id, hex,
		    rc == ERROR_NOENT ? "not archived here"
		                      : error_strerror(rc));
		return;
	}
	send_pair(b, p, a);
	agreement_held_free(a);
}
