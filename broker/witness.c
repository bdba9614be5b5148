/*
 * The witnessed log at the broker (DESIGN.md §7): the ProofRequests that
 * name both sizes, answered with the checkpoint at the size asked for and
 * the cosignatures it holds; the agencies' Cosignature frames, checked and
 * kept (the latest of each, in audit.meta); and the tie each audit proof
 * carries from the checkpoint the recipient's agent trusts. Called by
 * broker.c (frames, receipts) and deliver.c (hellos, deliveries).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit/audit_witness.h"
#include "audit/cosign.h"
#include "broker/broker_int.h"
#include "common/log.h"

void
witness_greeted(struct broker *b, struct peer *p, const void *rid,
    size_t rid_len, const char *key, const struct wire_frame *f)
{
	struct hello *h = &b->hellos[b->n_hellos++];

	memcpy(h->rid, rid, rid_len);
	h->rid_len = rid_len;
	snprintf(h->key, sizeof(h->key), "%s", key);
	snprintf(h->agency, sizeof(h->agency), "%s", p->id);
	h->tree_size = f->u.proof_request_size;
	h->to_size = f->u.proof_request_to;
	/* What its agent trusts now: this batch's receipts tie from it. */
	p->tie_known = true;
	p->tie_size = h->tree_size;
}

int
witness_cosigned(struct broker *b, MDB_txn *txn, const struct peer *p,
    const struct wire_cosignature *c)
{
	struct audit *a = store_audit(b->store);
	/* The key of its session: current, or next in a rotation window. */
	const struct keys_public *k = peer_identity(b, p->id, p->session_key);
	struct audit_head head;
	struct audit_witness held, w;
	int rc;

	if (k == NULL)
		return ERROR_OK;
	rc = audit_checkpoint_at(a, txn, c->tree_size, &head);
	if (rc == ERROR_NOTFOUND) {
		log_warn("%s cosigned a checkpoint of %llu leaves, which this "
		         "broker never signed: ignored",
		    p->id, (unsigned long long)c->tree_size);
		return ERROR_OK;
	}
	if (rc != 0)
		return rc == ERROR_TAMPERED ? ERROR_OK : rc;
	if (sodium_memcmp(head.cp.root, c->root, MERKLE_HASH_LEN) != 0 ||
	    cosign_verify(&head.cp, c->timestamp, k->sign_pk, c->signature) !=
	        0) {
		log_warn("%s sent a cosignature of the checkpoint of %llu "
		         "leaves that does not verify: ignored",
		    p->id, (unsigned long long)c->tree_size);
		return ERROR_OK;
	}
	rc = audit_witness_get(a, txn, p->id, &held);
	if (rc == 0 &&
	    (held.size > c->tree_size ||
	        (held.size == c->tree_size && held.timestamp >= c->timestamp)))
		return ERROR_OK; /* it holds a later one */
	if (rc != 0 && rc != ERROR_NOTFOUND && rc != ERROR_TAMPERED)
		return rc;
	memset(&w, 0, sizeof(w));
	snprintf(w.agency, sizeof(w.agency), "%s", p->id);
	w.size = c->tree_size;
	w.timestamp = c->timestamp;
	memcpy(w.sig, c->signature, COSIGN_SIG_LEN);
	if ((rc = audit_witness_put(a, txn, &w)) != 0)
		return rc;
	log_debug("%s witnessed the log at %llu leaves", p->id,
	    (unsigned long long)w.size);
	return ERROR_OK;
}

/* The proof between trees of sizes s1 and s2, smaller to larger. */
static int
between(struct audit *a, MDB_txn *txn, uint64_t s1, uint64_t s2,
    uint8_t (*path)[MERKLE_HASH_LEN], size_t *n)
{
	*n = 0;
	if (s1 == s2)
		return ERROR_OK;
	return audit_consistency(
	    a, txn, s1 < s2 ? s1 : s2, s1 < s2 ? s2 : s1, path, n);
}

struct witnesses {
	struct audit *a;
	MDB_txn *txn;
	struct wire_proof *pr;
	uint64_t to;
	uint8_t (*paths)[MERKLE_HASH_LEN];
};

static int
add_witness(void *arg, const struct audit_witness *w)
{
	struct witnesses *ws = arg;
	struct wire_cosignature *c;
	struct audit_head head;
	uint8_t(*path)[MERKLE_HASH_LEN];

	if (ws->pr->n_witnesses >= WIRE_MAX_WITNESSES || w->size > ws->to)
		return ERROR_OK; /* newer than what is answered: next time */
	c = &ws->pr->witnesses[ws->pr->n_witnesses];
	path = ws->paths + ws->pr->n_witnesses * MERKLE_MAX_PATH;
	if (audit_checkpoint_at(ws->a, ws->txn, w->size, &head) != 0 ||
	    between(ws->a, ws->txn, w->size, ws->to, path, &c->n_path) != 0)
		return ERROR_OK; /* not this broker's: not served */
	snprintf(c->agency, sizeof(c->agency), "%s", w->agency);
	c->tree_size = w->size;
	memcpy(c->root, head.cp.root, MERKLE_HASH_LEN);
	c->timestamp = w->timestamp;
	memcpy(c->signature, w->sig, COSIGN_SIG_LEN);
	c->path =
	    c->n_path > 0 ? (const uint8_t(*)[MERKLE_HASH_LEN])path : NULL;
	ws->pr->n_witnesses++;
	return ERROR_OK;
}

int
witness_answer(struct broker *b, MDB_txn *txn, struct peer *p,
    const struct hello *h, struct wire_proof *pr, struct audit_head *head,
    uint8_t (*paths)[MERKLE_HASH_LEN])
{
	struct audit *a = store_audit(b->store);
	struct witnesses ws;
	int rc;

	memset(pr, 0, sizeof(*pr));
	if ((rc = audit_latest(a, txn, head)) != 0)
		return rc;
	if (h->to_size != 0 && h->to_size != head->cp.size &&
	    audit_checkpoint_at(a, txn, h->to_size, head) != 0) {
		/* Not a size this broker signed: the latest, and the agent
		 * says that it is not what it asked for. */
		log_warn("%s asked for the checkpoint of %llu leaves, which "
		         "this log does not hold",
		    p->id, (unsigned long long)h->to_size);
		if ((rc = audit_latest(a, txn, head)) != 0)
			return rc;
	}
	pr->from_size = h->tree_size;
	pr->to_size = head->cp.size;
	if (h->tree_size <= head->cp.size) {
		if ((rc = audit_consistency(a, txn, h->tree_size, head->cp.size,
		         pr->path, &pr->n_path)) != 0)
			return rc;
	} else {
		/* The agent trusts a longer log than ours: say so with our
		 * checkpoint and no proof. */
		log_warn("%s trusts a log of %llu leaves; ours has %llu", p->id,
		    (unsigned long long)h->tree_size,
		    (unsigned long long)head->cp.size);
	}
	pr->checkpoint = head->text;
	pr->checkpoint_len = head->text_len;
	ws.a = a;
	ws.txn = txn;
	ws.pr = pr;
	ws.to = head->cp.size;
	ws.paths = paths;
	if ((rc = audit_witness_each(a, txn, add_witness, &ws)) != 0)
		log_warn("cannot read the cosignatures held: %s",
		    error_strerror(rc));
	if (h->tree_size <= head->cp.size) {
		p->tie_known = true;
		p->tie_size = head->cp.size;
	}
	return ERROR_OK;
}

void
witness_tie(struct broker *b, MDB_txn *txn, const char *agency,
    const struct audit_head *head, struct wire_audit_proof *proof)
{
	struct peer *p = deliver_peer(b, agency);

	proof->has_tie = false;
	proof->tie_size = 0;
	proof->tie_path = NULL;
	proof->n_tie = 0;
	if (p == NULL || !p->tie_known || txn == NULL)
		return;
	if (between(store_audit(b->store), txn, p->tie_size, head->cp.size,
	        b->tie_path, &proof->n_tie) != 0) {
		proof->n_tie = 0;
		return;
	}
	proof->has_tie = true;
	proof->tie_size = p->tie_size;
	proof->tie_path = proof->n_tie > 0
	    ? (const uint8_t(*)[MERKLE_HASH_LEN])b->tie_path
	    : NULL;
	/* Its agent trusts this one once it has checked the tie. */
	if (head->cp.size > p->tie_size)
		p->tie_size = head->cp.size;
}
