/*
 * The harness's forged logs (harness.h): trees of leaves the rogue broker
 * signs with the broker's own key, their checkpoints, inclusion and
 * consistency proofs, Proof frames with cosignatures, and Delivery frames
 * whose decision leaf is appended to such a tree. What a broker that forks
 * its log, or shows each agency its own, can send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "common/clock.h"
#include "common/fields.h"
#include "proto/envelope.h"
#include "proto/event.h"
#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

void
h_log_fill(struct h_log *l, uint8_t salt, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		uint8_t b[10];
		assert_true(l->n < H_LOG_MAX);
		memcpy(b, &l->n, 8);
		b[8] = salt;
		b[9] = 0x5a;
		merkle_hash_leaf(b, sizeof(b), l->hash[l->n++]);
	}
}

static int
log_get(void *arg, unsigned level, uint64_t index, uint8_t out[32])
{
	const struct h_log *l = arg;
	struct merkle_range r;

	merkle_range_init(&r);
	for (uint64_t i = index << level; i < (index + 1) << level; i++) {
		if (i >= l->n)
			return ERROR_NOTFOUND;
		assert_int_equal(
		    merkle_range_append(&r, l->hash[i], NULL, NULL), 0);
	}
	merkle_range_root(&r, out);
	return 0;
}

void
h_log_checkpoint(struct h_sys *s, const struct h_log *l, uint64_t size,
    struct checkpoint *cp, char note[CHECKPOINT_MAX], size_t *len)
{
	struct merkle_store st = {log_get, (void *)(uintptr_t)l, NULL};
	struct keys_secret *bk = NULL;

	assert_true(size <= l->n);
	assert_int_equal(
	    keys_load_secret(h_p("%s/keys/broker.key", s->dir), &bk), 0);
	memset(cp, 0, sizeof(*cp));
	snprintf(cp->origin, sizeof(cp->origin), "concordat/%s",
	    bk->pub.fingerprint);
	cp->size = size;
	assert_int_equal(merkle_root(&st, size, cp->root), 0);
	assert_int_equal(
	    checkpoint_sign(cp, bk->sign_sk, note, CHECKPOINT_MAX, len), 0);
	keys_secret_free(bk);
}

void
h_log_consistency(const struct h_log *l, uint64_t from, uint64_t to,
    uint8_t path[][32], size_t *n)
{
	struct merkle_store st = {log_get, (void *)(uintptr_t)l, NULL};

	assert_int_equal(merkle_consistency(&st, from, to, path, n), 0);
}

void
h_log_proof(struct h_sys *s, const struct h_log *l, uint64_t from, uint64_t to,
    uint64_t claimed_from, const struct wire_cosignature *w, size_t nw,
    uint8_t **frame, size_t *len)
{
	static struct wire_proof p;
	static char note[CHECKPOINT_MAX];
	struct checkpoint cp;

	memset(&p, 0, sizeof(p));
	h_log_checkpoint(s, l, to, &cp, note, &p.checkpoint_len);
	p.checkpoint = note;
	p.from_size = claimed_from;
	p.to_size = to;
	if (from <= to)
		h_log_consistency(l, from, to, p.path, &p.n_path);
	assert_true(nw <= WIRE_MAX_WITNESSES);
	if (nw > 0)
		memcpy(p.witnesses, w, nw * sizeof(*w));
	p.n_witnesses = nw;
	assert_int_equal(wire_proof_encode(&p, frame, len), 0);
}

void
h_log_event(struct h_sys *s, struct h_log *l, const struct event *ev,
    int64_t tie_from, struct wire_audit_proof *pr)
{
	static uint8_t *leaf;
	static char note[CHECKPOINT_MAX];
	static uint8_t tie[MERKLE_MAX_PATH][32];
	struct merkle_store st = {log_get, l, NULL};
	struct checkpoint cp;
	size_t leaf_len;

	free(leaf);
	assert_int_equal(event_encode(ev, &leaf, &leaf_len), 0);
	assert_true(l->n < H_LOG_MAX);
	merkle_hash_leaf(leaf, leaf_len, l->hash[l->n++]);
	memset(pr, 0, sizeof(*pr));
	pr->leaf_index = l->n - 1;
	pr->leaf = leaf;
	pr->leaf_len = leaf_len;
	assert_int_equal(
	    merkle_inclusion(&st, pr->leaf_index, l->n, pr->path, &pr->n_path),
	    0);
	h_log_checkpoint(s, l, l->n, &cp, note, &pr->checkpoint_len);
	pr->checkpoint = note;
	if (tie_from >= 0) {
		pr->has_tie = true;
		pr->tie_size = (uint64_t)tie_from;
		h_log_consistency(l, (uint64_t)tie_from, l->n, tie, &pr->n_tie);
		pr->tie_path = (const uint8_t(*)[32])tie;
	}
}

void
h_delivery_in(struct h_sys *s, const struct h_msg *m, int recipient,
    struct h_log *l, int64_t tie_from, uint8_t msg_id[WIRE_MSG_ID_LEN],
    uint8_t **frame, size_t *len)
{
	static struct wire_audit_proof pr;
	struct event ev;
	uint8_t *del;
	size_t del_len;

	harness_redacted(s, m, recipient, msg_id, &del, &del_len, &ev);
	h_log_event(s, l, &ev, tie_from, &pr);
	assert_int_equal(wire_delivery_frame(del, del_len, &pr, frame, len), 0);
	free(del);
}
