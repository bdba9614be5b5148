/*
 * SIGHUP (broker_int.h): the configuration's keys, keyring and agreement
 * loaded again; a complete agreement, archived first, replaces the running
 * one; anything refused keeps the running ones and is audited as
 * policy_refused; what changed in the keyring is audited too.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"

/*
 * What a reload changed in the keyring, agency by agency, for the log and
 * the audit log (keyring_changed events, with fingerprints). old is the
 * peers before the reload (n_old of them); the new ones are b's.
 */
static int
log_keyring_changes(
    struct broker *b, MDB_txn *txn, const struct peer *old, size_t n_old)
{
	struct event ev;
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
		if (was != NULL && now != NULL &&
		    strcmp(was->key, now->key) == 0)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_KEYRING_CHANGED;
		ev.time_ms = clock_now_ms();
		snprintf(ev.sender, sizeof(ev.sender), "%s",
		    was != NULL ? was->id : now->id);
		bool ended = was != NULL && was->connected;
		if (was == NULL)
			snprintf(ev.detail, sizeof(ev.detail),
			    "added with key %s", now->fingerprint);
		else if (now == NULL)
			snprintf(ev.detail, sizeof(ev.detail),
			    "key %s removed%s", was->fingerprint,
			    ended ? "; its session ended" : "");
		else
			snprintf(ev.detail, sizeof(ev.detail),
			    "key %s replaced by %s%s", was->fingerprint,
			    now->fingerprint,
			    ended ? "; the session of the old key ended" : "");
		log_warn("keyring: %s %s", ev.sender, ev.detail);
		if ((rc = audit_append(
		         store_audit(b->store), txn, &ev, NULL)) != 0)
			return rc;
		n++;
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

void
broker_reload(struct broker *b)
{
	struct policy *oldp = b->policy;
	struct agreement_held *olda = b->agreement;
	struct keyring *oldk = b->keyring;
	struct keys_secret *oldkey = b->key;
	struct peer *oldpeers = NULL;
	size_t n_old = b->n_peers;
	char why[4096];
	bool changed;
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
	if (broker_load(b, why, sizeof(why)) != 0)
		goto refused;

	/* The signer holds the signing key; this process never keeps it. */
	sodium_memzero(b->key->sign_sk, sizeof(b->key->sign_sk));
	if (oldkey != NULL &&
	    sodium_memcmp(oldkey->pub.sign_pk, b->key->pub.sign_pk,
	        sizeof(oldkey->pub.sign_pk)) != 0) {
		if (snprintf(why, sizeof(why),
		        "%s now holds another broker key; its signer holds "
		        "the key it started with (restart to change it)",
		        b->cfg.key) < 0)
			why[0] = '\0';
		goto refused;
	}
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
	oldpeers = malloc((n_old ? n_old : 1) * sizeof(*oldpeers));
	if (oldpeers != NULL && n_old > 0)
		memcpy(oldpeers, b->peers, n_old * sizeof(*oldpeers));
	if (setup_peers(b) != 0)
		log_err("reload: out of memory");
	if (changed) {
		/* Kept while agreement_grace lasts (inforce.c). */
		inforce_retire(b, &b->agreement_prev);
		b->agreement_prev = olda;
		olda->until_ms = b->agreement->since_ms;
	} else {
		b->agreement->since_ms = olda->since_ms;
		agreement_held_free(olda);
	}
	keyring_free(oldk);
	log_info("reloaded: policy %s (%s), %zu agencies",
	    policy_sha256_hex(b->policy), changed ? "changed" : "unchanged",
	    keyring_count(b->keyring));
	if (oldpeers != NULL) {
		struct old_peers o = {oldpeers, n_old};
		if ((rc = log_apart(b, keyring_changes, &o)) != 0)
			log_err("could not log the keyring's changes: %s",
			    error_strerror(rc));
	}
	free(oldpeers);
	if (changed &&
	    log_alone(b, EVENT_POLICY_ACTIVATED, "reloaded on SIGHUP") != 0)
		log_err("could not log the policy activation");
	if (changed)
		inforce_broadcast(b); /* to every agent connected */
	return;
refused:
	log_err(
	    "reload refused, keeping the running policy and keyring: %s", why);
	if (b->agreement != NULL) { /* loaded, refused for another reason */
		agreement_held_free(b->refused);
		b->refused = b->agreement;
	}
	b->agreement = olda;
	b->policy = oldp;
	keyring_free(b->keyring);
	keys_secret_free(b->key);
	b->keyring = oldk;
	b->key = oldkey;
	/* The refusal leaves a trace: the file's SHA-256, who signed, why. */
	if (log_alone(b, EVENT_POLICY_REFUSED, why) != 0)
		log_err("could not log the refused reload");
	agreement_held_free(b->refused);
	b->refused = NULL;
}
