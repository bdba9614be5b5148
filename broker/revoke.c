/*
 * Revoked keys (issue 12): a reload that removes or replaces an agency's
 * key ends that key's session at once (P6, peers.c) and remembers the key
 * here, so that the session, still connected, is told why it is no longer
 * heard: a Notice frame naming the key's fingerprint, when it was revoked
 * and what replaced it. The agent logs it and raises an alert
 * (agents/notice.c). A notice is sent at the reload to a live session, and
 * again at most once a minute per key to a session that keeps sending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"

#define REVOKE_RETELL_MS 60000

static void
tell(struct broker *b, struct revoked *r, const void *rid, size_t rid_len)
{
	struct wire_notice n;
	uint8_t *frame = NULL;
	size_t len;

	memset(&n, 0, sizeof(n));
	n.kind = WIRE_NOTICE_KEY_REVOKED;
	snprintf(n.agency, sizeof(n.agency), "%s", r->id);
	snprintf(n.fingerprint, sizeof(n.fingerprint), "%s", r->fingerprint);
	snprintf(n.replaced_by, sizeof(n.replaced_by), "%s", r->replaced_by);
	n.revoked_at = r->at_ms;
	r->told_ms = clock_mono_ms() | 1; /* never 0: 0 is "not told" */
	if (wire_notice_encode(&n, &frame, &len) != 0)
		return;
	if (zmq_send(b->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->router, frame, len, ZMQ_DONTWAIT) < 0)
		log_debug("revoked: cannot tell %s's session: %s", r->id,
		    zmq_strerror(zmq_errno()));
	else
		log_info("told %s's session that key %s is revoked", r->id,
		    r->fingerprint);
	free(frame);
}

static struct revoked *
find(struct broker *b, const char *key)
{
	for (size_t i = 0; i < b->n_revoked; i++)
		if (strcmp(b->revoked[i].key, key) == 0)
			return &b->revoked[i];
	return NULL;
}

bool
revoke_frame(struct broker *b, struct peer *p, const char *key, const void *rid,
    size_t rid_len)
{
	struct revoked *r;

	if (p == NULL || rid_len > BROKER_RID_MAX)
		b->unknown_frames++;
	else
		p->stale++;
	if (key == NULL || (r = find(b, key)) == NULL ||
	    rid_len > BROKER_RID_MAX)
		return true;
	if (r->told_ms != 0 && clock_mono_ms() - r->told_ms < REVOKE_RETELL_MS)
		return true;
	tell(b, r, rid, rid_len);
	return true;
}

static void
record(struct broker *b, const struct peer *was, const char *key,
    const char *fingerprint, const struct peer *now)
{
	struct revoked *r;

	if (key[0] == '\0' || (now != NULL && peer_key_ok(now, key)))
		return; /* still one of the agency's keys */
	if ((r = find(b, key)) == NULL) {
		if (b->n_revoked == BROKER_REVOKED_MAX) {
			memmove(&b->revoked[0], &b->revoked[1],
			    (BROKER_REVOKED_MAX - 1) * sizeof(b->revoked[0]));
			b->n_revoked--;
		}
		r = &b->revoked[b->n_revoked++];
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", was->id);
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->fingerprint, sizeof(r->fingerprint), "%s", fingerprint);
	if (now != NULL)
		snprintf(r->replaced_by, sizeof(r->replaced_by), "%s",
		    now->fingerprint);
	r->at_ms = clock_now_ms();
	if (was->connected && strcmp(was->session_key, key) == 0)
		tell(b, r, was->rid, was->rid_len);
}

void
revoke_record(struct broker *b, const struct peer *was, const struct peer *now)
{
	record(b, was, was->key, was->fingerprint, now);
	record(b, was, was->next_key, was->next_fingerprint, now);
}

void
revoke_forget(struct broker *b)
{
	size_t keep = 0;

	for (size_t i = 0; i < b->n_revoked; i++) {
		struct peer *p = deliver_peer(b, b->revoked[i].id);
		if (p != NULL && peer_key_ok(p, b->revoked[i].key))
			continue;
		b->revoked[keep++] = b->revoked[i];
	}
	b->n_revoked = keep;
}
