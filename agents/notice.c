/*
 * A Notice from the broker (issue 12): the key this agent's session
 * authenticated with was revoked by a keyring reload, so the broker no
 * longer hears it. Logged as an error an operator can grep
 * (reason=key_revoked fingerprint=...) and written to alerts/ as
 * <ms>-key.json, at most once a minute (the broker's pace).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agents/agent_int.h"
#include "agents/spool.h"
#include "common/clock.h"
#include "common/log.h"

void
notice_frame(struct agent *a, const struct wire_notice *n)
{
	char at[40], stem[64], detail[512];
	bool ours = strcmp(n->fingerprint, a->key->pub.fingerprint) == 0;
	json_t *o;
	int rc;

	clock_format(n->revoked_at, at, sizeof(at));
	snprintf(detail, sizeof(detail),
	    "the broker no longer accepts %s key (fingerprint %s): revoked at "
	    "%s, %s%s%s; nothing is sent or received until the agent runs "
	    "with a key of the broker's keyring",
	    ours ? "this agency's" : "a", n->fingerprint, at,
	    n->replaced_by[0] ? "replaced by " : "removed from its keyring",
	    n->replaced_by, n->replaced_by[0] ? " in its keyring" : "");
	log_err("%s (agency=%s reason=key_revoked fingerprint=%s "
	        "replaced_by=%s)",
	    detail, n->agency, n->fingerprint,
	    n->replaced_by[0] ? n->replaced_by : "none");
	snprintf(
	    stem, sizeof(stem), "%llu-key", (unsigned long long)clock_now_ms());
	o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "alert", "key_revoked", "agency",
	    n->agency, "fingerprint", n->fingerprint, "revoked_at", at,
	    "detail", detail);
	if (o == NULL ||
	    (rc = spool_write_unique_json(a->dir[DIR_ALERTS], stem, o)) != 0)
		log_err("cannot write the alert file: %s",
		    error_strerror(o == NULL ? ERROR_NOMEM : rc));
	json_decref(o);
}
