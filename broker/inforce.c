/*
 * The agreements in force at the broker (TRUST.md, "the sender grants"):
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
#include "common/fileio.h"
#include "common/log.h"

#define SIG_SUFFIX ".sig"

static void
held_release(struct inforce_held *h)
{
	policy_free(h->policy);
	free(h->yaml);
	free(h->note);
	memset(h, 0, sizeof(*h));
}

/* Reads path's bytes and its note (path.sig) into *yaml and *note. */
static int
read_pair(const char *path, uint8_t **yaml, size_t *ylen, uint8_t **note,
    size_t *nlen)
{
	char sig[PATH_MAX];
	int rc;

	*yaml = *note = NULL;
	*ylen = *nlen = 0;
	if (snprintf(sig, sizeof(sig), "%s" SIG_SUFFIX, path) >=
	    (int)sizeof(sig))
		return ERROR_TOOBIG;
	if ((rc = fileio_read(path, POLICY_FILE_MAX, yaml, ylen)) != 0)
		return rc;
	if ((rc = fileio_read(sig, WIRE_NOTE_MAX, note, nlen)) != 0) {
		free(*yaml);
		*yaml = NULL;
		return rc;
	}
	return ERROR_OK;
}

int
inforce_load(struct broker *b, char *why, size_t n)
{
	struct inforce *f = &b->inforce;
	uint8_t sha[WIRE_HASH_LEN];
	int rc;

	free(f->next_yaml);
	free(f->next_note);
	f->next_yaml = f->next_note = NULL;
	rc = read_pair(b->cfg.policy, &f->next_yaml, &f->next_ylen,
	    &f->next_note, &f->next_nlen);
	if (rc != 0) {
		snprintf(why, n,
		    "%s: cannot read the agreement and its signature note "
		    "(%s" SIG_SUFFIX "): %s",
		    b->cfg.policy, b->cfg.policy, error_strerror(rc));
		return rc;
	}
	crypto_hash_sha256(sha, f->next_yaml, f->next_ylen);
	if (memcmp(sha, policy_sha256(b->policy), WIRE_HASH_LEN) != 0) {
		snprintf(why, n, "%s: changed while it was read; try again",
		    b->cfg.policy);
		return ERROR_CONFIG;
	}
	/* At start: current at once. A reload's wait for inforce_activate. */
	if (f->yaml == NULL)
		inforce_activate(b, NULL, false);
	return ERROR_OK;
}

void
inforce_activate(struct broker *b, struct policy **old, bool changed)
{
	struct inforce *f = &b->inforce;
	uint64_t now = clock_mono_ms();
	struct inforce_held *slot = NULL, prev = {0};

	prev.yaml = f->yaml;
	prev.ylen = f->ylen;
	prev.note = f->note;
	prev.nlen = f->nlen;
	f->yaml = f->next_yaml;
	f->ylen = f->next_ylen;
	f->note = f->next_note;
	f->nlen = f->next_nlen;
	f->next_yaml = f->next_note = NULL;
	prev.policy = old != NULL ? *old : NULL;
	if (old != NULL)
		*old = NULL;
	if (prev.policy == NULL || !changed || b->cfg.agreement_grace_ms == 0) {
		held_release(&prev);
		return;
	}
	/* The one it replaces decides for agreement_grace more. */
	for (size_t i = 0; i < INFORCE_RETIRED; i++) {
		struct inforce_held *h = &f->retired[i];
		if (h->policy != NULL && now >= h->until_ms)
			held_release(h);
		if (h->policy == NULL && slot == NULL)
			slot = h;
	}
	if (slot == NULL) { /* the oldest goes */
		slot = &f->retired[0];
		for (size_t i = 1; i < INFORCE_RETIRED; i++)
			if (f->retired[i].until_ms < slot->until_ms)
				slot = &f->retired[i];
		held_release(slot);
	}
	*slot = prev;
	slot->until_ms = now + b->cfg.agreement_grace_ms;
}

void
inforce_free(struct broker *b)
{
	struct inforce *f = &b->inforce;

	for (size_t i = 0; i < INFORCE_RETIRED; i++)
		held_release(&f->retired[i]);
	free(f->yaml);
	free(f->note);
	free(f->next_yaml);
	free(f->next_note);
	memset(f, 0, sizeof(*f));
}

const struct policy *
inforce_pick(struct broker *b, const struct wire_manifest *m)
{
	struct inforce *f = &b->inforce;
	uint64_t now = clock_mono_ms();

	if (!m->has_agreement)
		return NULL;
	if (memcmp(m->agreement, policy_sha256(b->policy), WIRE_HASH_LEN) == 0)
		return b->policy;
	for (size_t i = 0; i < INFORCE_RETIRED; i++) {
		struct inforce_held *h = &f->retired[i];
		if (h->policy == NULL)
			continue;
		if (now >= h->until_ms) {
			held_release(h);
			continue;
		}
		if (memcmp(m->agreement, policy_sha256(h->policy),
		        WIRE_HASH_LEN) == 0)
			return h->policy;
	}
	return NULL;
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
		memcpy(r->agreement, policy_sha256(b->policy), WIRE_HASH_LEN);
}

/* Sends an Agreement frame of yaml and note to p's connection. */
static void
send_pair(struct broker *b, struct peer *p, const uint8_t *yaml, size_t ylen,
    const uint8_t *note, size_t nlen)
{
	uint8_t *frame;
	size_t len;

	if (!p->connected || yaml == NULL || note == NULL)
		return;
	if (wire_agreement_encode(yaml, ylen, note, nlen, &frame, &len) != 0) {
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
	send_pair(b, p, b->inforce.yaml, b->inforce.ylen, b->inforce.note,
	    b->inforce.nlen);
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
	char hex[2 * WIRE_HASH_LEN + 1], name[2 * WIRE_HASH_LEN + 16];
	char dir[PATH_MAX], path[PATH_MAX];
	uint8_t *yaml = NULL, *note = NULL;
	size_t ylen, nlen;

	if (!q->has_sha ||
	    memcmp(q->sha256, policy_sha256(b->policy), WIRE_HASH_LEN) == 0) {
		send_pair(b, p, b->inforce.yaml, b->inforce.ylen,
		    b->inforce.note, b->inforce.nlen);
		return;
	}
	for (size_t i = 0; i < INFORCE_RETIRED; i++) {
		struct inforce_held *h = &b->inforce.retired[i];
		if (h->policy != NULL &&
		    memcmp(q->sha256, policy_sha256(h->policy),
		        WIRE_HASH_LEN) == 0) {
			send_pair(b, p, h->yaml, h->ylen, h->note, h->nlen);
			return;
		}
	}
	/* Any other from the archive of activated agreements. */
	sodium_bin2hex(hex, sizeof(hex), q->sha256, WIRE_HASH_LEN);
	snprintf(name, sizeof(name), "%s.yaml", hex);
	if (fileio_join(dir, sizeof(dir), b->cfg.data, INFORCE_ARCHIVE) != 0 ||
	    fileio_join(path, sizeof(path), dir, name) != 0 ||
	    read_pair(path, &yaml, &ylen, &note, &nlen) != 0) {
		log_info("%s asked for agreement %s, which this broker does "
		         "not hold",
		    p->id, hex);
		return;
	}
	send_pair(b, p, yaml, ylen, note, nlen);
	free(yaml);
	free(note);
}
