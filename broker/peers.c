/*
 * The broker's peers: one per keyring agency, bound to the keys it may
 * use (P6): its current key and, during a rotation window, its next key
 * (ID.next.pub in the keyring, DESIGN.md §4).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "broker/broker_int.h"
#include "common/clock.h"

bool
peer_key_ok(const struct peer *p, const char *key)
{
	return key != NULL &&
	    (strcmp(key, p->key) == 0 ||
	        (p->next_key[0] != '\0' && strcmp(key, p->next_key) == 0));
}

const struct keys_public *
peer_identity(const struct broker *b, const char *agency, const char *key)
{
	const struct keys_public *k[2] = {keyring_find(b->keyring, agency),
	    keyring_find_next(b->keyring, agency)};
	char hex[BROKER_KEY_HEX];

	for (int i = 0; i < 2 && key != NULL; i++) {
		if (k[i] == NULL)
			continue;
		sodium_bin2hex(hex, sizeof(hex), k[i]->transport_pk,
		    sizeof(k[i]->transport_pk));
		if (strcmp(hex, key) == 0)
			return k[i];
	}
	return NULL;
}

/*
 * One peer per keyring agency, keeping what it knew of its connection
 * over a reload. A peer whose key changed loses its session: the key it
 * authenticated with is no longer the agency's (P6), unless it is the
 * agency's next key (a rotation window) or the next key became current.
 */
int
setup_peers(struct broker *b)
{
	size_t n = keyring_count(b->keyring);
	struct peer *np = calloc(n ? n : 1, sizeof(*np));

	if (np == NULL)
		return ERROR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct keys_public *k = keyring_at(b->keyring, i);
		const struct keys_public *x =
		    keyring_find_next(b->keyring, k->id);
		struct peer *old = deliver_peer(b, k->id);
		if (old != NULL) {
			np[i] = *old; /* keep live connections over a reload */
			old->flight = NULL; /* np[i]'s now */
		} else {
			snprintf(np[i].id, sizeof(np[i].id), "%s", k->id);
			np[i].tokens = (double)b->cfg.burst;
			np[i].tokens_ms = clock_mono_ms();
		}
		sodium_bin2hex(np[i].key, sizeof(np[i].key), k->transport_pk,
		    sizeof(k->transport_pk));
		snprintf(np[i].fingerprint, sizeof(np[i].fingerprint), "%s",
		    k->fingerprint);
		np[i].next_key[0] = np[i].next_fingerprint[0] = '\0';
		if (x != NULL) {
			sodium_bin2hex(np[i].next_key, sizeof(np[i].next_key),
			    x->transport_pk, sizeof(x->transport_pk));
			snprintf(np[i].next_fingerprint,
			    sizeof(np[i].next_fingerprint), "%s",
			    x->fingerprint);
		}
		if (np[i].connected &&
		    !peer_key_ok(&np[i], np[i].session_key)) {
			np[i].connected = false;
			deliver_restart(&np[i]);
		}
	}
	deliver_free_peers(b);
	b->peers = np;
	b->n_peers = n;
	return ERROR_OK;
}
