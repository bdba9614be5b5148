/*
 * Delivery (DESIGN.md §5 step 9, §9): each agency's durable queue is sent
 * to its current connection, redelivered until acknowledged, and expired
 * per purpose with a non-delivery report to the sender. Status reports
 * travel on the same queue and are acknowledged the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"

struct peer *
deliver_peer(struct broker *b, const char *agency)
{
	for (size_t i = 0; i < b->n_peers; i++)
		if (strcmp(b->peers[i].id, agency) == 0)
			return &b->peers[i];
	return NULL;
}

void
deliver_free_peers(struct broker *b)
{
	for (size_t i = 0; i < b->n_peers; i++)
		free(b->peers[i].flight);
	free(b->peers);
	b->peers = NULL;
	b->n_peers = 0;
}

bool
deliver_pending_add(struct broker *b, const struct pending *p)
{
	/* Bounded: a delivered event left out now is added again the next
	 * time the item is sent, since its mark is not set. */
	if (b->n_pending >= b->max_pending)
		return false;
	b->pending[b->n_pending++] = *p;
	return true;
}

void
deliver_restart(struct peer *p)
{
	p->cursor = 0;
	p->inflight = 0; /* what was in flight is sent again */
}

void
deliver_attach(struct peer *p, const void *rid, size_t rid_len, const char *key)
{
	memcpy(p->rid, rid, rid_len);
	p->rid_len = rid_len;
	p->connected = true;
	p->paused = false;
	snprintf(p->session_key, sizeof(p->session_key), "%s", key);
	deliver_restart(p);
	p->agreement_sent = false; /* a new connection: sent again */
	p->last_progress_ms = clock_mono_ms();
	log_info("%s connected agency=%s", p->id, p->id);
}

int
deliver_proof(struct broker *b, MDB_txn *txn, uint64_t leaf,
    struct wire_audit_proof *p, const struct audit_head *head)
{
	struct audit *a = store_audit(b->store);
	int rc;

	if (leaf >= head->cp.size)
		return ERROR_NOTFOUND;
	if ((rc = audit_inclusion_memo(a, txn, b->memo, leaf, head->cp.size,
	         p->path, &p->n_path)) != 0)
		return rc;
	if ((rc = audit_leaf(a, txn, leaf, &p->leaf, &p->leaf_len)) != 0)
		return rc;
	p->leaf_index = leaf;
	p->checkpoint = head->text;
	p->checkpoint_len = head->text_len;
	p->has_tie = false;
	return ERROR_OK;
}

/* Sends one frame to p's connection; false when p is gone or full. */
static bool
send_to(struct broker *b, struct peer *p, const uint8_t *frame, size_t len)
{
	if (zmq_send(b->router, p->rid, p->rid_len,
	        ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->router, frame, len, ZMQ_DONTWAIT) < 0) {
		if (zmq_errno() == EHOSTUNREACH) {
			log_info("%s disconnected agency=%s", p->id, p->id);
			p->connected = false;
		}
		return false;
	}
	return true;
}

/* Builds the frame for one queue item into *out, proven against head. */
static int
item_frame(struct broker *b, MDB_txn *txn, const struct store_item *it,
    const struct audit_head *head, uint8_t **out, size_t *len)
{
	struct wire_status *st = b->status;
	struct wire_audit_proof *proof = &st->event;
	int rc;

	if ((rc = deliver_proof(b, txn, it->leaf, proof, head)) != 0)
		return rc;
	/* From what the queue's agency trusts (its agency, either kind). */
	witness_tie(b, txn, it->agency, head, proof);
	if (it->type == STORE_DELIVERY)
		return wire_delivery_frame(
		    it->payload, it->payload_len, proof, out, len);
	memcpy(st->msg_id, it->msg_id, WIRE_MSG_ID_LEN);
	snprintf(st->recipient, sizeof(st->recipient), "%s", it->peer);
	st->state = it->state;
	st->at_ms = it->at_ms;
	st->has_event = true;
	return wire_status_encode(st, out, len);
}

/* Remembers item seq as sent on p's connection, for its acknowledgement. */
static void
fly(struct peer *p, const struct store_item *it, uint64_t seq)
{
	struct flight *fl = &p->flight[p->inflight++];

	memcpy(fl->msg_id, it->msg_id, WIRE_MSG_ID_LEN);
	fl->type = (uint8_t)it->type;
	fl->state = (uint8_t)it->state;
	snprintf(fl->peer, sizeof(fl->peer), "%s",
	    it->type == STORE_STATUS ? it->peer : "");
	fl->seq = seq;
}

void
deliver_pump(struct broker *b, struct peer *p)
{
	MDB_txn *txn = NULL;
	struct audit_head head;
	struct store_item it;
	uint64_t seq;
	int rc;

	if (!p->connected || p->paused || p->inflight >= BROKER_WINDOW)
		return;
	if (p->flight == NULL &&
	    (p->flight = calloc(BROKER_WINDOW, sizeof(*p->flight))) == NULL)
		return; /* tried again at the next batch or tick */
	if (store_begin(b->store, false, &txn) != 0)
		return;
	if (audit_latest(store_audit(b->store), txn, &head) != 0) {
		store_abort(txn); /* nothing to prove against yet */
		return;
	}
	audit_memo_reset(b->memo); /* this txn's tree */
	while (p->connected && p->inflight < BROKER_WINDOW) {
		uint8_t *frame = NULL;
		size_t len = 0;

		rc = store_queue_next(
		    b->store, txn, p->id, p->cursor, &it, &seq);
		if (rc == ERROR_NOTFOUND)
			break;
		if (rc != 0) {
			/* The queue itself cannot be read from here: stop
			 * until the next tick rather than spin on it. */
			log_err("queue of %s after item %llu cannot be read: "
			        "%s; trying again in a second (run concordat "
			        "audit verify on %s)",
			    p->id, (unsigned long long)p->cursor,
			    error_strerror(rc), b->cfg.data);
			p->paused = true;
			break;
		}
		if ((rc = item_frame(b, txn, &it, &head, &frame, &len)) != 0) {
			log_err("queue of %s: item %llu: %s", p->id,
			    (unsigned long long)seq, error_strerror(rc));
			p->cursor = seq; /* skip it; redelivery retries */
			continue;
		}
		bool ok = send_to(b, p, frame, len);
		free(frame);
		if (!ok)
			break;
		p->cursor = seq;
		fly(p, &it, seq);
		p->last_progress_ms = clock_mono_ms();
		if (it.type == STORE_DELIVERY && !it.delivered_logged) {
			struct pending pend = {.seq = seq};
			snprintf(pend.agency, sizeof(pend.agency), "%s", p->id);
			(void)deliver_pending_add(b, &pend);
		}
	}
	store_abort(txn);
}

int
deliver_status(struct broker *b, MDB_txn *txn, const char *sender,
    const uint8_t msg_id[WIRE_MSG_ID_LEN], const char *recipient, int state,
    uint64_t leaf)
{
	struct store_item it;
	uint64_t seq;

	memset(&it, 0, sizeof(it));
	it.type = STORE_STATUS;
	memcpy(it.msg_id, msg_id, WIRE_MSG_ID_LEN);
	snprintf(it.agency, sizeof(it.agency), "%s", sender);
	snprintf(it.peer, sizeof(it.peer), "%s", recipient);
	it.state = state;
	it.leaf = leaf;
	it.at_ms = clock_now_ms();
	return store_queue_put(b->store, txn, &it, &seq);
}

/* An event about one delivery item (delivered, acknowledged, expired). */
static int
item_event(struct broker *b, MDB_txn *txn, const struct store_item *it,
    int type, uint64_t *seq)
{
	struct event ev, dec;
	const uint8_t *leaf;
	size_t len;
	int rc;

	memset(&ev, 0, sizeof(ev));
	/* Copy the decision's metadata so each event stands on its own. */
	if (audit_leaf(store_audit(b->store), txn, it->leaf, &leaf, &len) ==
	        0 &&
	    event_decode(leaf, len, &dec) == 0) {
		snprintf(ev.purpose, sizeof(ev.purpose), "%s", dec.purpose);
		ev.urgency = dec.urgency;
		ev.kind = dec.kind;
		ev.has_subject_ref = dec.has_subject_ref;
		memcpy(ev.subject_ref, dec.subject_ref, WIRE_REF_LEN);
		ev.has_pepper_id = dec.has_pepper_id;
		memcpy(ev.pepper_id, dec.pepper_id, WIRE_REF_LEN);
		ev.disclosed = dec.disclosed;
	}
	ev.type = (enum event_type)type;
	ev.time_ms = clock_now_ms();
	ev.has_msg_id = true;
	memcpy(ev.msg_id, it->msg_id, WIRE_MSG_ID_LEN);
	snprintf(ev.sender, sizeof(ev.sender), "%s", it->peer);
	snprintf(ev.recipient, sizeof(ev.recipient), "%s", it->agency);
	if ((rc = audit_append(store_audit(b->store), txn, &ev, seq)) != 0)
		return rc;
	return ERROR_OK;
}

/* The delivered event of item it, and the status report that tells its sender.
 */
static int
log_delivered(struct broker *b, MDB_txn *txn, const struct store_item *it)
{
	uint64_t leaf;
	int rc = item_event(b, txn, it, EVENT_DELIVERED, &leaf);

	if (rc != 0)
		return rc;
	return deliver_status(b, txn, it->peer, it->msg_id, it->agency,
	    WIRE_STATE_DELIVERED, leaf);
}

/*
 * The item of p's connection an acknowledgement names, taken out of the
 * flight: its sequence number, or false when none is in flight (a repeat,
 * or one sent before the connection's queue was sent again).
 */
static bool
land(struct peer *p, const struct wire_frame *f, uint64_t *seq)
{
	bool status = f->u.ack_recipient[0] != '\0';

	for (unsigned i = 0; p->flight != NULL && i < p->inflight; i++) {
		struct flight *fl = &p->flight[i];
		if (memcmp(fl->msg_id, f->u.ack_msg_id, WIRE_MSG_ID_LEN) != 0 ||
		    fl->type != (status ? STORE_STATUS : STORE_DELIVERY) ||
		    (status &&
		        (fl->state != f->u.ack_state ||
		            strcmp(fl->peer, f->u.ack_recipient) != 0)))
			continue;
		*seq = fl->seq;
		*fl = p->flight[--p->inflight];
		return true;
	}
	return false;
}

int
deliver_ack(struct broker *b, MDB_txn *txn, const char *agency,
    const struct wire_frame *f)
{
	struct store_item it;
	struct peer *p = deliver_peer(b, agency);
	uint64_t seq, leaf;
	int rc;

	if (p == NULL || !land(p, f, &seq))
		return ERROR_OK;
	p->last_progress_ms = clock_mono_ms();
	rc = store_queue_take(b->store, txn, agency, seq, &it);
	if (rc == ERROR_NOTFOUND)
		return ERROR_OK; /* expired meanwhile */
	if (rc != 0)
		return rc;
	if (it.type != STORE_DELIVERY)
		return ERROR_OK;
	/* Acknowledged before its delivered event was logged: that comes
	 * with the batch after the send, and this batch took the
	 * acknowledgement first. Logged now, so the log never holds an
	 * acknowledgement without its delivery. */
	if (!it.delivered_logged && (rc = log_delivered(b, txn, &it)) != 0)
		return rc;
	b->mon.delivered++;
	if ((rc = item_event(b, txn, &it, EVENT_ACKNOWLEDGED, &leaf)) != 0)
		return rc;
	return deliver_status(
	    b, txn, it.peer, it.msg_id, agency, WIRE_STATE_ACKNOWLEDGED, leaf);
}

int
deliver_flush_pending(struct broker *b, MDB_txn *txn)
{
	int rc = ERROR_OK;

	for (size_t i = 0; i < b->n_pending && rc == 0; i++) {
		struct pending *p = &b->pending[i];
		struct store_item it;
		uint64_t seq;

		/* Delivered: once per item, however often it was sent. */
		rc = store_queue_next(
		    b->store, txn, p->agency, p->seq - 1, &it, &seq);
		if (rc == ERROR_NOTFOUND || (rc == 0 && seq != p->seq) ||
		    (rc == 0 && it.delivered_logged)) {
			rc = ERROR_OK; /* acknowledged or expired meanwhile */
			continue;
		}
		if (rc != 0)
			break;
		if ((rc = store_queue_mark(b->store, txn, p->agency, seq)) == 0)
			rc = log_delivered(b, txn, &it);
	}
	/* The caller forgets them once the commit holding them is durable. */
	return rc;
}

int
deliver_expire(struct broker *b, MDB_txn *txn, uint64_t now)
{
	struct store_item it;
	uint64_t leaf;
	int n = 0, rc;

	while ((rc = store_queue_expire(b->store, txn, now, &it)) == 0) {
		if ((rc = item_event(b, txn, &it, EVENT_EXPIRED, &leaf)) != 0)
			return rc;
		if ((rc = deliver_status(b, txn, it.peer, it.msg_id, it.agency,
		         WIRE_STATE_EXPIRED, leaf)) != 0)
			return rc;
		char hex[2 * WIRE_MSG_ID_LEN + 1];
		sodium_bin2hex(hex, sizeof(hex), it.msg_id, WIRE_MSG_ID_LEN);
		log_info("message for %s from %s expired undelivered; "
		         "ciphertexts deleted msg_id=%s from=%s to=%s "
		         "reason=expired",
		    it.agency, it.peer, hex, it.peer, it.agency);
		n++;
	}
	return rc == ERROR_NOTFOUND ? n : rc;
}

void
deliver_hellos(struct broker *b)
{
	MDB_txn *txn = NULL;
	struct audit_head head;
	struct wire_proof *pr = NULL;
	uint8_t(*paths)[MERKLE_HASH_LEN] = NULL;
	uint8_t *frame;
	size_t len;

	if (b->n_hellos > 0) {
		pr = malloc(sizeof(*pr));
		paths = malloc((size_t)WIRE_MAX_WITNESSES * MERKLE_MAX_PATH *
		    MERKLE_HASH_LEN);
	}
	for (size_t i = 0; i < b->n_hellos; i++) {
		struct hello *h = &b->hellos[i];
		struct peer *p = deliver_peer(b, h->agency);

		if (p == NULL)
			continue;
		/* A newer connection of the same agency replaces the older;
		 * a greeting on the current one changes nothing. */
		if (!p->connected || p->rid_len != h->rid_len ||
		    memcmp(p->rid, h->rid, h->rid_len) != 0)
			deliver_attach(p, h->rid, h->rid_len, h->key);
		if (pr == NULL || paths == NULL ||
		    store_begin(b->store, false, &txn) != 0)
			continue;
		if (witness_answer(b, txn, p, h, pr, &head, paths) == 0 &&
		    wire_proof_encode(pr, &frame, &len) == 0) {
			send_to(b, p, frame, len);
			free(frame);
		}
		store_abort(txn);
		txn = NULL;
		inforce_hello(b, p);
		deliver_pump(b, p);
	}
	free(pr);
	free(paths);
	b->n_hellos = 0;
}
