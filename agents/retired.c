/*
 * Retired keys (issue 12, DESIGN.md §4 "rotation"): after `concordat keys
 * rotate promote`, the agency's former key stays beside the new one as
 * ID.retired-HEX.key (HEX: its fingerprint without the colons, 32 hex
 * digits; mode 0600), so that what was sealed to its box key, queued at
 * the broker or sealed by a sender whose keyring still names it, still
 * opens. A delivery that does not open with the current keys is tried
 * with each retired key and with the sender's next key (ID.next.pub in
 * the keyring: a sender inside its rotation window). Retired keys are
 * read at start; the operator removes one when nothing sealed to it can
 * still arrive (docs/agent.md).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "common/log.h"
#include "proto/envelope.h"

/* The fingerprint's 32 hex digits, without its colons. */
static void
bare(const char *fp, char out[33])
{
	size_t o = 0;

	for (size_t i = 0; fp[i] != '\0' && o < 32; i++)
		if (fp[i] != ':')
			out[o++] = fp[i];
	out[o] = '\0';
}

static int
load_one(
    struct agent *a, const char *dir, const char *name, char *why, size_t n)
{
	char path[PATH_MAX], hex[33], want[96];
	struct keys_secret *k = NULL;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return ERROR_TOOBIG;
	if ((rc = keys_load_secret(path, &k)) != 0) {
		snprintf(why, n, "%s: %s%s", path, error_strerror(rc),
		    rc == ERROR_PERM ? " (must be mode 0600, owned by the "
		                       "agent's user, not a symlink)"
		                     : "");
		return rc;
	}
	bare(k->pub.fingerprint, hex);
	snprintf(want, sizeof(want), "%s.retired-%s.key", a->cfg.agency, hex);
	if (k->pub.is_broker || strcmp(k->pub.id, a->cfg.agency) != 0 ||
	    strcmp(want, name) != 0) {
		snprintf(why, n,
		    "%s: holds the key of '%s' with fingerprint %s; a retired "
		    "key of this agency is named %s",
		    path, k->pub.id, k->pub.fingerprint, want);
		keys_secret_free(k);
		return ERROR_KEY;
	}
	if (a->n_retired == AGENT_RETIRED_MAX) {
		snprintf(why, n,
		    "%s: more than %d retired keys beside the key file", path,
		    AGENT_RETIRED_MAX);
		keys_secret_free(k);
		return ERROR_TOOBIG;
	}
	a->retired[a->n_retired++] = k;
	log_info("retired key %s kept for opening what was sealed to it "
	         "(fingerprint=%s)",
	    name, k->pub.fingerprint);
	return ERROR_OK;
}

int
retired_load(struct agent *a, char *why, size_t n)
{
	char dir[PATH_MAX], prefix[64];
	const char *slash = strrchr(a->cfg.key, '/');
	struct dirent *de;
	DIR *d;
	int rc = ERROR_OK;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - a->cfg.key),
	             a->cfg.key) < 0)
		return ERROR_INVAL;
	if (dir[0] == '\0')
		snprintf(dir, sizeof(dir), "/");
	snprintf(prefix, sizeof(prefix), "%s.retired-", a->cfg.agency);
	if ((d = opendir(dir)) == NULL)
		return ERROR_OK; /* the key file itself was read: no folder
		                    listing, no retired keys */
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    nl < 4 || strcmp(de->d_name + nl - 4, ".key") != 0)
			continue;
		rc = load_one(a, dir, de->d_name, why, n);
	}
	closedir(d);
	return rc;
}

void
retired_free(struct agent *a)
{
	for (size_t i = 0; i < a->n_retired; i++)
		keys_secret_free(a->retired[i]);
	a->n_retired = 0;
}

int
retired_open(struct agent *a, const struct wire_delivery *d,
    const struct keys_public *sender, int rc, struct envelope_opened **o)
{
	const struct keys_public *from[2] = {
	    sender, keyring_find_next(a->keyring, sender->id)};
	uint8_t shared[32];

	for (int s = 0; s < 2; s++) {
		if (from[s] == NULL)
			continue;
		/* Ours: the current key (with the sender's next one), then
		 * each retired key. */
		for (size_t i = s == 0 ? 1 : 0; i <= a->n_retired; i++) {
			const struct keys_secret *k =
			    i == 0 ? a->key : a->retired[i - 1];
			if (envelope_shared_key(
			        from[s]->box_pk, k->box_sk, shared) != 0)
				continue;
			int r = envelope_open(
			    d, a->cfg.agency, from[s]->sign_pk, shared, o);
			sodium_memzero(shared, sizeof(shared));
			if (r != 0)
				continue;
			log_info("opened with %s%s key %s",
			    s ? "the sender's "
			        "next key and "
			      : "",
			    i ? "our retired" : "our", k->pub.fingerprint);
			return ERROR_OK;
		}
	}
	return rc;
}
