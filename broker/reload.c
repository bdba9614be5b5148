/*
 * SIGHUP (broker_int.h): the configuration's keys, keyring and agreement
 * loaded again; a complete agreement, archived first, replaces the running
 * one; anything refused keeps the running ones and is audited as
 * policy_refused; what changed in the keyring is audited too. A keyring
 * that loads is taken even when the agreement beside it is refused.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"

/* One keyring_changed event: the agency as sender, the text in detail. */
static int
changed(struct broker *b, MDB_txn *txn, const char *id, const char *detail,
    const char *before, const char *after)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_KEYRING_CHANGED;
	ev.time_ms = clock_now_ms();
	snprintf(ev.sender, sizeof(ev.sender), "%s", id);
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	snprintf(ev.key_before, sizeof(ev.key_before), "%s", before);
	snprintf(ev.key_after, sizeof(ev.key_after), "%s", after);
	log_warn("keyring: %s %s", id, detail);
	return audit_append(store_audit(b->store), txn, &ev, NULL);
}

/*
 * The change of one agency's keys, was (NULL: added) to now (NULL:
 * removed), as the text of its events: the current key's, then the next
 * key's (a rotation window). Returns the events appended or an error.
 */
static int
agency_changes(struct broker *b, MDB_txn *txn, const struct peer *was,
    const struct peer *now)
{
	char d[EVENT_TEXT_MAX];
	const char *id = was != NULL ? was->id : now->id;
	bool ended = was != NULL && was->connected &&
	    (now == NULL || !peer_key_ok(now, was->session_key));
	const char *end = ended ? "; its session ended" : "";
	int n = 0, rc;

	d[0] = '\0';
	if (was == NULL)
		snprintf(d, sizeof(d), "added with key %s", now->fingerprint);
	else if (now == NULL)
		snprintf(
		    d, sizeof(d), "key %s removed%s", was->fingerprint, end);
	else if (strcmp(was->key, now->key) != 0)
		snprintf(d, sizeof(d), "key %s replaced by %s%s%s",
		    was->fingerprint, now->fingerprint,
		    strcmp(was->next_key, now->key) == 0 ? " (its next key)"
		                                         : "",
		    end);
	if (d[0] != '\0') {
		if ((rc = changed(b, txn, id, d,
		         was != NULL ? was->fingerprint : "",
		         now != NULL ? now->fingerprint : "")) != 0)
			return rc;
		n++;
	}
	const char *wn = was != NULL ? was->next_key : "";
	const char *nn = now != NULL ? now->next_key : "";
	if (strcmp(wn, nn) == 0 ||
	    (now != NULL && strcmp(wn, now->key) == 0 && nn[0] == '\0'))
		return n; /* unchanged, or promoted (said above) */
	if (wn[0] != '\0' && nn[0] != '\0')
		snprintf(d, sizeof(d), "next key %s replaced by %s",
		    was->next_fingerprint, now->next_fingerprint);
	else if (nn[0] != '\0')
		snprintf(d, sizeof(d), "next key %s added (rotation window)",
		    now->next_fingerprint);
	else
		snprintf(d, sizeof(d), "next key %s withdrawn",
		    was->next_fingerprint);
	if ((rc = changed(b, txn, id, d, wn[0] ? was->next_fingerprint : "",
	         nn[0] ? now->next_fingerprint : "")) != 0)
		return rc;
	return n + 1;
}

/*
 * What a reload changed in the keyring, agency by agency, for the log and
 * the audit log (keyring_changed events, with fingerprints), and the keys
 * it revoked (revoke.c: their live sessions are told). old is the peers
 * before the reload (n_old of them); the new ones are b's.
 */
static int
log_keyring_changes(
    struct broker *b, MDB_txn *txn, const struct peer *old, size_t n_old)
{
	int n = 0, rc;

	for (size_t i = 0; i < n_old + b->n_peers; i++) {
		const struct peer *was = NULL, *now = NULL;
		if (i < n_old) {
			was = &old[i];
			now = deliver_peer(b, was->id);
		} else {
			now = &b->peers[i - n_old];
			bool known = false;
			for (size_t j = 0; old != NULL && j < n_old; j++)
				known |= strcmp(old[j].id, now->id) == 0;
			if (known)
				continue;
		}
		if ((rc = agency_changes(b, txn, was, now)) < 0)
			return rc;
		n += rc;
	}
	return n;
}

struct old_peers {
	const struct peer *p;
	size_t n;
};

static int
keyring_changes(struct broker *b, MDB_txn *txn, void *arg)
{
	const struct old_peers *o = arg;

	return log_keyring_changes(b, txn, o->p, o->n);
}

/*
 * The keyring (and key) just loaded replace the running ones: the peers
 * follow it, what changed is logged and audited, and the sessions of the
 * keys it revoked are told (revoke.c).
 */
static void
take_keyring(struct broker *b, struct keyring *oldk)
{
	struct peer *oldpeers = NULL;
	size_t n_old = b->n_peers;
	int rc;

	oldpeers = malloc((n_old ? n_old : 1) * sizeof(*oldpeers));
	if (oldpeers != NULL && n_old > 0)
		memcpy(oldpeers, b->peers, n_old * sizeof(*oldpeers));
	if (setup_peers(b) != 0)
		log_err("reload: out of memory");
	keyring_free(oldk);
	if (oldpeers == NULL)
		return;
	revoke_forget(b);
	for (size_t i = 0; i < n_old; i++)
		revoke_record(b, &oldpeers[i], deliver_peer(b, oldpeers[i].id));
	struct old_peers o = {oldpeers, n_old};
	if ((rc = log_apart(b, keyring_changes, &o)) != 0)
		log_err("could not log the keyring's changes: %s",
		    error_strerror(rc));
	free(oldpeers);
}

/* The broker key file read again must hold the key the signer holds. */
static bool
same_broker_key(
    struct broker *b, const struct keys_secret *oldkey, char *why, size_t n)
{
	/* The signer holds the signing key; this process never keeps it. */
	sodium_memzero(b->key->sign_sk, sizeof(b->key->sign_sk));
	if (oldkey == NULL ||
	    sodium_memcmp(oldkey->pub.sign_pk, b->key->pub.sign_pk,
	        sizeof(oldkey->pub.sign_pk)) == 0)
		return true;
	if (snprintf(why, n,
	        "%s now holds another broker key; its signer holds the key it "
	        "started with (restart to change it)",
	        b->cfg.key) < 0)
		why[0] = '\0';
	return false;
}

void
broker_reload(struct broker *b)
{
	struct policy *oldp = b->policy;
	struct agreement_held *olda = b->agreement;
	struct keyring *oldk = b->keyring;
	struct keys_secret *oldkey = b->key;
	char why[4096];
	bool changed, keyring_only = false;
	int rc;

	/* A batch being verified reads the keyring's keys: let it finish. */
	if (b->batch[b->cur].started) {
		struct batch *bt = &b->batch[b->cur];
		verifier_wait(b->verifier);
		for (size_t i = 0; i < bt->njobs; i++)
			bt->jobs[i].pk = NULL;
	}

	b->policy = NULL;
	b->agreement = NULL;
	b->keyring = NULL;
	b->key = NULL;
	if (broker_load(b, why, sizeof(why)) != 0) {
		/*
		 * Keys and keyring good, the agreement refused: the keyring
		 * is taken all the same (a revocation must not wait for an
		 * agreement), the running agreement stays in force.
		 */
		keyring_only = b->key != NULL && b->keyring != NULL &&
		    keyring_count(b->keyring) > 0 && b->agreement == NULL &&
		    same_broker_key(b, oldkey, why, sizeof(why));
		goto refused;
	}
	if (!same_broker_key(b, oldkey, why, sizeof(why)))
		goto refused;
	changed = memcmp(olda->sha, b->agreement->sha, 32) != 0;
	/* Archived before it decides anything: the text of every decision is
	 * kept. */
	if (changed &&
	    (rc = agreement_archive(b->cfg.data, b->agreement)) != 0) {
		if (snprintf(why, sizeof(why),
		        "%s: cannot archive the agreement: %s", b->cfg.data,
		        error_strerror(rc)) < 0)
			why[0] = '\0';
		goto refused;
	}
	keys_secret_free(oldkey);
	if (changed) {
		/* Kept while agreement_grace lasts (inforce.c). */
		inforce_retire(b, &b->agreement_prev);
		b->agreement_prev = olda;
		olda->until_ms = b->agreement->since_ms;
	} else {
		b->agreement->since_ms = olda->since_ms;
		agreement_held_free(olda);
	}
	log_info("reloaded: policy %s (%s), %zu agencies",
	    policy_sha256_hex(b->policy), changed ? "changed" : "unchanged",
	    keyring_count(b->keyring));
	take_keyring(b, oldk);
	if (changed &&
	    log_alone(b, EVENT_POLICY_ACTIVATED, "reloaded on SIGHUP") != 0)
		log_err("could not log the policy activation");
	if (changed)
		inforce_broadcast(b); /* to every agent connected */
	return;
refused:
	log_err("reload refused, keeping the running policy%s: %s",
	    keyring_only ? " (the keyring and key files were taken)"
	                 : " and keyring",
	    why);
	if (b->agreement != NULL) { /* loaded, refused for another reason */
		agreement_held_free(b->refused);
		b->refused = b->agreement;
	}
	b->agreement = olda;
	b->policy = oldp;
	if (keyring_only) {
		keys_secret_free(oldkey);
		take_keyring(b, oldk);
	} else {
		keyring_free(b->keyring);
		keys_secret_free(b->key);
		b->keyring = oldk;
		b->key = oldkey;
	}
	/* The refusal leaves a trace: the file's SHA-256, who signed, why. */
	if (log_alone(b, EVENT_POLICY_REFUSED, why) != 0)
		log_err("could not log the refused reload");
	agreement_held_free(b->refused);
	b->refused = NULL;
}
