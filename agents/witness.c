/*
 * The witnessed log at the agent (DESIGN.md §7): the leaves written
 * unproven until their checkpoint is tied (then their files say so), the
 * leaves accepted and not yet covered by a checkpoint that `witnesses`
 * other agencies cosigned (alerted once witness_window passes), the
 * cosignatures a Proof carries (a split view alerted), and this agent's
 * own cosignature of what it trusts. trust.c calls in; what must survive
 * a restart is kept in the state under "witness".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "agents/room.h"
#include "agents/spool.h"
#include "audit/cosign.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"

#define HELD_MAX    64
#define UNWIT_MAX   64
#define SEEN_MAX    WIRE_MAX_WITNESSES
#define WITNESS_KEY "witness"
#define WITNESS_V   1
#define JSON_MAX    (4 * 1024 * 1024)

/* A leaf written unproven (witness_hold). */
struct held {
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t leaf;
	uint64_t since_ms; /* wall clock */
	uint8_t kind;      /* enum witness_kind */
	bool alerted;
	char name[96];
};

/* Leaves up to leaf accepted since since_ms, not yet witnessed. */
struct unwit {
	uint64_t leaf;
	uint64_t since_ms; /* wall clock */
};

/* The largest tree each other agency was seen to cosign, in our view. */
struct seen {
	char agency[IDENT_AGENCY_MAX + 1];
	uint64_t size;
};

/* What is kept in the state, as it is in memory (this agent's own). */
struct witness {
	uint32_t version, n_held, n_unwit, n_seen;
	struct held held[HELD_MAX];
	struct unwit unwit[UNWIT_MAX];
	struct seen seen[SEEN_MAX];
	/* Not kept. */
	bool dirty, failing;
	uint64_t saved_ms; /* monotonic */
};

int
witness_open(struct agent *a)
{
	struct witness *w = calloc(1, sizeof(*w));
	size_t len;
	int rc;

	if (w == NULL)
		return ERROR_NOMEM;
	rc = state_meta_get(
	    a->state, WITNESS_KEY, w, offsetof(struct witness, dirty), &len);
	if (rc == 0 &&
	    (len != offsetof(struct witness, dirty) ||
	        w->version != WITNESS_V || w->n_held > HELD_MAX ||
	        w->n_unwit > UNWIT_MAX || w->n_seen > SEEN_MAX)) {
		log_warn("the witness record in the state is not this "
		         "version's: started afresh");
		memset(w, 0, sizeof(*w));
	} else if (rc != 0 && rc != ERROR_NOTFOUND) {
		log_err("cannot read the witness record: %s; started afresh",
		    error_strerror(rc));
		memset(w, 0, sizeof(*w));
	}
	w->version = WITNESS_V;
	for (uint32_t i = 0; i < w->n_held; i++)
		w->held[i].name[sizeof(w->held[i].name) - 1] = '\0';
	for (uint32_t i = 0; i < w->n_seen; i++)
		w->seen[i].agency[IDENT_AGENCY_MAX] = '\0';
	a->witness = w;
	return ERROR_OK;
}

static void
save(struct agent *a)
{
	struct witness *w = a->witness;
	int rc;

	/* While the state is short of room it waits, as the records do
	 * (room.c says so, once); it is kept in memory meanwhile. */
	if (w == NULL || !w->dirty || !room_may_store(a))
		return;
	rc = state_meta_put(
	    a->state, WITNESS_KEY, w, offsetof(struct witness, dirty));
	w->saved_ms = clock_mono_ms();
	if (rc != 0) {
		if (!room_full(rc) && !w->failing)
			log_err("cannot store the witness record: %s",
			    error_strerror(rc));
		w->failing = true;
		return;
	}
	w->dirty = w->failing = false;
}

void
witness_close(struct agent *a)
{
	save(a);
	free(a->witness);
	a->witness = NULL;
}

static bool
same_cp(const struct held *h, const struct checkpoint *cp)
{
	return h->size == cp->size &&
	    sodium_memcmp(h->root, cp->root, MERKLE_HASH_LEN) == 0;
}

void
witness_hold(struct agent *a, enum witness_kind kind, const char *name,
    const struct checkpoint *cp, uint64_t leaf_index)
{
	struct witness *w = a->witness;
	struct held *h;

	if (w == NULL)
		return;
	if (w->n_held == HELD_MAX) {
		/* The oldest goes: it stays unproven in its file. */
		log_warn("%s: too many leaves held unproven; %s stays so", name,
		    w->held[0].name);
		memmove(&w->held[0], &w->held[1],
		    (HELD_MAX - 1) * sizeof(w->held[0]));
		w->n_held--;
	}
	h = &w->held[w->n_held++];
	memset(h, 0, sizeof(*h));
	h->size = cp->size;
	memcpy(h->root, cp->root, MERKLE_HASH_LEN);
	h->leaf = leaf_index;
	h->since_ms = clock_now_ms();
	h->kind = (uint8_t)kind;
	snprintf(h->name, sizeof(h->name), "%s", name);
	w->dirty = true;
	log_info("%s: written unproven, until the broker proves its "
	         "checkpoint of %llu leaves consistent with the one trusted",
	    name, (unsigned long long)cp->size);
}

void
witness_accepted(struct agent *a, uint64_t leaf_index)
{
	struct witness *w = a->witness;
	uint64_t now = clock_now_ms();
	uint64_t bucket = a->cfg.witness_window_ms / 32;
	struct unwit *last;

	if (w == NULL || a->cfg.witnesses == 0)
		return;
	last = w->n_unwit > 0 ? &w->unwit[w->n_unwit - 1] : NULL;
	/* Leaves of one stretch of time share an entry: its first time. */
	if (last != NULL &&
	    (now - last->since_ms < bucket || w->n_unwit == UNWIT_MAX)) {
		if (leaf_index > last->leaf)
			last->leaf = leaf_index;
	} else {
		w->unwit[w->n_unwit].leaf = leaf_index;
		w->unwit[w->n_unwit].since_ms = now;
		w->n_unwit++;
	}
	w->dirty = true;
}

/* Sets the audit proof flags of a held leaf's file: it is proven. */
static void
mark_proven(struct agent *a, const struct held *h)
{
	int dir = h->kind == WITNESS_DELIVERY ? DIR_INBOX : DIR_RECEIPTS;
	uid_t me = geteuid();
	struct stat st;
	json_error_t err;
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *o = NULL, *v;
	char *text = NULL;

	/* Ours, as written: never through a link the local system left. */
	if (fileio_read_entry(
	        a->dir[dir], h->name, &me, 1, JSON_MAX, &buf, &len, &st) != 0) {
		log_info("%s: proven, but no longer in %s", h->name,
		    dir == DIR_INBOX ? "inbox/" : "receipts/");
		goto out;
	}
	o = json_loadb((const char *)buf, len, 0, &err);
	if (o == NULL)
		goto out;
	if (h->kind == WITNESS_DELIVERY) {
		v = json_object_get(o, "verified");
		if (!json_is_object(v))
			goto out;
		json_object_set_new(v, "audit_proof", json_true());
		json_object_set_new(
		    v, "audit_tree_size", json_integer((json_int_t)h->size));
	} else {
		json_object_set_new(o, "audit_verified", json_true());
	}
	text = json_dumps(o, JSON_INDENT(2));
	if (text == NULL ||
	    fileio_write_atomic(
	        a->dir[dir], h->name, text, strlen(text), 0640, 0) != 0)
		log_err(
		    "%s: proven, but its file cannot be rewritten", h->name);
	else
		log_info("%s: audit leaf %llu now proven", h->name,
		    (unsigned long long)h->leaf);
out:
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	json_decref(o);
}

void
witness_tied(struct agent *a, const struct checkpoint *cp)
{
	struct witness *w = a->witness;
	uint32_t keep = 0;

	if (w == NULL)
		return;
	for (uint32_t i = 0; i < w->n_held; i++) {
		if (!same_cp(&w->held[i], cp)) {
			w->held[keep++] = w->held[i];
			continue;
		}
		mark_proven(a, &w->held[i]);
		witness_accepted(a, w->held[i].leaf);
	}
	if (keep != w->n_held) {
		w->n_held = keep;
		w->dirty = true;
	}
}

void
witness_contradicted(struct agent *a, const struct checkpoint *cp)
{
	struct witness *w = a->witness;
	uint32_t keep = 0;

	if (w == NULL)
		return;
	for (uint32_t i = 0; i < w->n_held; i++) {
		if (!same_cp(&w->held[i], cp)) {
			w->held[keep++] = w->held[i];
			continue;
		}
		log_err("%s: its audit leaf %llu is under a checkpoint that "
		        "contradicts the trusted one: it stays unproven",
		    w->held[i].name, (unsigned long long)w->held[i].leaf);
	}
	if (keep != w->n_held) {
		w->n_held = keep;
		w->dirty = true;
	}
}

bool
witness_next_unproven(const struct agent *a, struct checkpoint *cp)
{
	const struct witness *w = a->witness;

	if (w == NULL || w->n_held == 0)
		return false;
	memset(cp, 0, sizeof(*cp));
	snprintf(cp->origin, sizeof(cp->origin), "%s", a->origin);
	cp->size = w->held[0].size;
	memcpy(cp->root, w->held[0].root, MERKLE_HASH_LEN);
	return true;
}

/* The size the `witnesses`-th most advanced other agency cosigned. */
static uint64_t
witnessed_size(const struct agent *a)
{
	const struct witness *w = a->witness;
	uint64_t best = 0;

	if (a->cfg.witnesses == 0 || w->n_seen < a->cfg.witnesses)
		return 0;
	/* The largest s such that at least `witnesses` agencies saw >= s. */
	for (uint32_t i = 0; i < w->n_seen; i++) {
		unsigned n = 0;
		for (uint32_t j = 0; j < w->n_seen; j++)
			n += w->seen[j].size >= w->seen[i].size;
		if (n >= a->cfg.witnesses && w->seen[i].size > best)
			best = w->seen[i].size;
	}
	return best;
}

static void
saw(struct agent *a, const char *agency, uint64_t size)
{
	struct witness *w = a->witness;
	uint32_t i;

	for (i = 0; i < w->n_seen; i++)
		if (strcmp(w->seen[i].agency, agency) == 0)
			break;
	if (i == w->n_seen) {
		if (w->n_seen == SEEN_MAX)
			return;
		snprintf(
		    w->seen[i].agency, sizeof(w->seen[i].agency), "%s", agency);
		w->seen[i].size = 0;
		w->n_seen++;
	}
	if (size > w->seen[i].size) {
		w->seen[i].size = size;
		w->dirty = true;
	}
}

/* Drops the unwitnessed leaves a checkpoint witnessed enough covers. */
static void
covered(struct agent *a)
{
	struct witness *w = a->witness;
	uint64_t upto = witnessed_size(a);
	uint32_t keep = 0;

	for (uint32_t i = 0; i < w->n_unwit; i++)
		if (w->unwit[i].leaf >= upto)
			w->unwit[keep++] = w->unwit[i];
	if (keep != w->n_unwit) {
		w->n_unwit = keep;
		w->dirty = true;
	}
}

/* One other agency's cosignature, under the Proof's checkpoint cp. */
static void
witness_one(struct agent *a, const struct wire_cosignature *c,
    const struct checkpoint *cp, uint64_t upto)
{
	const struct keys_public *k = keyring_find(a->keyring, c->agency);
	struct checkpoint theirs;
	char why[400], r1[MERKLE_HASH_B64], r2[MERKLE_HASH_B64];
	bool holds;

	if (k == NULL || k->is_broker) {
		log_warn("a cosignature by '%s', not an agency of the keyring: "
		         "not counted",
		    c->agency);
		return;
	}
	memset(&theirs, 0, sizeof(theirs));
	snprintf(theirs.origin, sizeof(theirs.origin), "%s", a->origin);
	theirs.size = c->tree_size;
	memcpy(theirs.root, c->root, MERKLE_HASH_LEN);
	/* In a rotation window, the agency may sign with its next key. */
	const struct keys_public *nx = keyring_find_next(a->keyring, c->agency);
	if (cosign_verify(&theirs, c->timestamp, k->sign_pk, c->signature) !=
	        0 &&
	    (nx == NULL ||
	        cosign_verify(
	            &theirs, c->timestamp, nx->sign_pk, c->signature) != 0)) {
		log_warn("the broker served a cosignature by %s of the "
		         "checkpoint of %llu leaves that does not verify: not "
		         "counted",
		    c->agency, (unsigned long long)c->tree_size);
		return;
	}
	/* Their view against ours: the same tree, or one a prefix of the
	 * other, proved by the path the broker gave. */
	if (c->tree_size == cp->size)
		holds = sodium_memcmp(c->root, cp->root, MERKLE_HASH_LEN) == 0;
	else if (c->tree_size < cp->size)
		holds = merkle_verify_consistency(c->tree_size, cp->size,
		            c->root, cp->root, c->path, c->n_path) == 0;
	else
		holds = merkle_verify_consistency(cp->size, c->tree_size,
		            cp->root, c->root, c->path, c->n_path) == 0;
	if (!holds) {
		merkle_hash_to_base64(c->root, r1);
		merkle_hash_to_base64(cp->root, r2);
		snprintf(why, sizeof(why),
		    "%s cosigned the broker's checkpoint of %llu leaves (root "
		    "%s), which is not consistent with this agent's view of "
		    "%llu leaves (root %s): the broker shows the agencies "
		    "different logs",
		    c->agency, (unsigned long long)c->tree_size, r1,
		    (unsigned long long)cp->size, r2);
		trust_alert(a, "split view", why);
		return;
	}
	saw(a, c->agency, c->tree_size < upto ? c->tree_size : upto);
}

bool
witness_cosign(struct agent *a)
{
	struct wire_cosignature c;
	uint8_t *frame;
	size_t len;
	bool sent = false;

	if (!a->have_trusted || a->trusted.size == 0 ||
	    a->trusted.size <= a->cosigned_size || !a->connected)
		return false;
	memset(&c, 0, sizeof(c));
	c.tree_size = a->trusted.size;
	memcpy(c.root, a->trusted.root, MERKLE_HASH_LEN);
	c.timestamp = clock_now_ms() / 1000;
	if (cosign_sign(
	        &a->trusted, c.timestamp, a->key->sign_sk, c.signature) != 0 ||
	    wire_cosignature_encode(&c, &frame, &len) != 0)
		return false;
	if (link_send(a, frame, len) == 0) {
		a->cosigned_size = a->trusted.size;
		sent = true;
		log_debug("cosigned the broker's log at %llu leaves",
		    (unsigned long long)c.tree_size);
	}
	free(frame);
	return sent;
}

void
witness_proof(struct agent *a, const struct wire_proof *p,
    const struct checkpoint *cp, uint64_t upto)
{
	if (a->witness == NULL)
		return;
	for (size_t i = 0; i < p->n_witnesses; i++)
		if (strcmp(p->witnesses[i].agency, a->cfg.agency) != 0)
			witness_one(a, &p->witnesses[i], cp, upto);
	covered(a);
}

void
witness_tick(struct agent *a, uint64_t now)
{
	struct witness *w = a->witness;
	uint64_t wall = clock_now_ms(), win = a->cfg.witness_window_ms;
	char why[320];
	uint32_t keep = 0;

	if (w == NULL)
		return;
	for (uint32_t i = 0; i < w->n_unwit; i++) {
		if (wall - w->unwit[i].since_ms < win) {
			w->unwit[keep++] = w->unwit[i];
			continue;
		}
		snprintf(why, sizeof(why),
		    "audit leaves up to %llu, accepted %llu s ago, are not "
		    "covered by a checkpoint that %u other agencies cosigned "
		    "(witness_window %llu s)",
		    (unsigned long long)w->unwit[i].leaf,
		    (unsigned long long)((wall - w->unwit[i].since_ms) / 1000),
		    a->cfg.witnesses, (unsigned long long)(win / 1000));
		trust_alert(a, "unwitnessed leaf", why);
	}
	if (keep != w->n_unwit) {
		w->n_unwit = keep;
		w->dirty = true;
	}
	for (uint32_t i = 0; i < w->n_held; i++) {
		struct held *h = &w->held[i];
		if (h->alerted || wall - h->since_ms < win)
			continue;
		snprintf(why, sizeof(why),
		    "%s: its audit leaf %llu, under the broker's checkpoint of "
		    "%llu leaves, is still not proven consistent with the log "
		    "this agent trusts after %llu s",
		    h->name, (unsigned long long)h->leaf,
		    (unsigned long long)h->size,
		    (unsigned long long)((wall - h->since_ms) / 1000));
		trust_alert(a, "leaf not proven", why);
		h->alerted = true;
		w->dirty = true;
	}
	if (w->dirty && now - w->saved_ms >= 1000)
		save(a);
}
