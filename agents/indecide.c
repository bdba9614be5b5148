/*
 * The recipient's own decision:
 * before a delivery reaches inbox/, the receiving agent evaluates the
 * agreement the manifest names, for the same sender, itself as recipient,
 * the same purpose, urgency, reason and kind. A delivery that holds any
 * sealed field outside that decision, that is not fresh, or whose verified
 * decision leaf disagrees, is quarantined: an alert naming the fields,
 * acknowledged, never written to inbox/. The inbox record's obligations,
 * bases and rules are this evaluation's. Called by inbox.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/agreements.h"
#include "agents/spool.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/jsonval.h"

void
indecide_quarantine(struct agent *a, const struct wire_delivery *d,
    const char *what, fieldset fields, const char *why)
{
	char hex[33], stem[64], sha[2 * WIRE_HASH_LEN + 1] = "", ts[40];
	json_t *o;

	spool_hex_id(d->m.msg_id, hex);
	if (d->m.has_agreement)
		sodium_bin2hex(sha, sizeof(sha), d->m.agreement, WIRE_HASH_LEN);
	log_err("SECURITY ALERT: %s: %s from %s (%s): %s", what, hex,
	    d->m.sender, d->m.purpose, why);
	clock_format(clock_now_ms(), ts, sizeof(ts));
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s}", "alert", what,
	    "msg_id", hex, "claimed_sender", d->m.sender, "purpose",
	    d->m.purpose, "agreement", sha, "fields", jsonval_fields(fields),
	    "error", why, "at", ts);
	/* A second refusal of the same msg_id gets a file of its own. */
	snprintf(stem, sizeof(stem), "%s-quarantine", hex);
	if (o == NULL || trust_alert_file(a, stem, o) != 0)
		log_err("cannot write the alert for %s", hex);
	json_decref(o);
}

/* The local decision as the inbox record shows it (an event's members). */
static void
to_event(const struct wire_delivery *d, const struct policy_decision *pd,
    struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = EVENT_DECISION;
	ev->disclosed = pd->disclosed & d->fields;
	ev->withheld = (fieldset)(FIELDS_ALL & ~ev->disclosed);
	ev->breakglass = (pd->breakglass_fields & d->fields) != 0;
	for (size_t i = 0; i < pd->nrules && ev->n_rules < EVENT_MAX_LIST;
	     i++) {
		snprintf(ev->rules[ev->n_rules++], sizeof(ev->rules[0]), "%s",
		    pd->rules[i]);
		bool dup = false;
		for (size_t j = 0; j < ev->n_bases; j++)
			dup |= strcmp(ev->bases[j], pd->bases[i]) == 0;
		if (!dup && ev->n_bases < EVENT_MAX_LIST)
			snprintf(ev->bases[ev->n_bases++], sizeof(ev->bases[0]),
			    "%s", pd->bases[i]);
	}
	for (size_t i = 0;
	     i < pd->nobligations && ev->n_obligations < EVENT_MAX_LIST; i++)
		snprintf(ev->obligations[ev->n_obligations++],
		    sizeof(ev->obligations[0]), "%s", pd->obligation_names[i]);
	ev->has_policy_sha256 = true;
	memcpy(ev->policy_sha256, d->m.agreement, WIRE_HASH_LEN);
}

/* Freshness at the agent: the purpose's expiry plus the clock skew. */
static bool
fresh(struct agent *a, const struct wire_delivery *d, uint64_t expiry,
    char *why, size_t n)
{
	uint64_t now = clock_now_ms(), at = d->m.created_at_ms;
	uint64_t skew = a->cfg.clock_skew_ms;

	if (at > now + skew) {
		snprintf(why, n,
		    "created_at is %llu s in the future, beyond the clock "
		    "skew of %llu s",
		    (unsigned long long)((at - now) / 1000),
		    (unsigned long long)(skew / 1000));
		return false;
	}
	if (at + expiry + skew < now) {
		snprintf(why, n,
		    "created %llu s ago: older than the purpose's "
		    "expires_after (%llu s) and the clock skew (%llu s)",
		    (unsigned long long)((now - at) / 1000),
		    (unsigned long long)(expiry / 1000),
		    (unsigned long long)(skew / 1000));
		return false;
	}
	return true;
}

enum indecide
indecide(struct agent *a, const struct wire_delivery *d, struct event *local)
{
	const struct policy *p;
	struct policy_decision *pd = NULL;
	struct policy_question q;
	char why[512];
	uint64_t expiry;
	fieldset outside;
	enum indecide r = INDECIDE_REFUSED;
	int rc;

	if (!d->m.has_agreement) {
		indecide_quarantine(a, d, "delivery quarantined", d->fields,
		    "the manifest names no agreement, so this agency cannot "
		    "decide what it may receive");
		return INDECIDE_REFUSED;
	}
	if ((p = agreements_find(a, d->m.agreement, false)) == NULL) {
		char hex[33];
		spool_hex_id(d->m.msg_id, hex);
		log_info("%s from %s: sealed under an agreement this agent "
		         "does not hold yet; asked the broker for it, the "
		         "delivery waits (not acknowledged)",
		    hex, d->m.sender);
		return INDECIDE_WAIT;
	}
	if ((pd = malloc(sizeof(*pd))) == NULL)
		return INDECIDE_WAIT;
	agreements_question(&d->m, a->cfg.agency, &q);
	if ((rc = policy_eval(p, &q, pd)) != 0 ||
	    policy_expiry_ms(p, d->m.purpose, &expiry) != 0) {
		snprintf(why, sizeof(why),
		    "the agreement it names (%s v%lld) cannot decide it: %s",
		    policy_agreement(p), policy_version(p),
		    error_strerror(rc ? rc : ERROR_PURPOSE));
		indecide_quarantine(
		    a, d, "delivery quarantined", d->fields, why);
		goto out;
	}
	if (!fresh(a, d, expiry, why, sizeof(why))) {
		indecide_quarantine(a, d, "delivery not fresh", d->fields, why);
		goto out;
	}
	/* Fields 1..13 only: an emergency's sealed justification is not a
	 * policy field and goes to every recipient. */
	outside = d->fields & FIELDS_ALL & ~pd->disclosed;
	if (outside != 0) {
		snprintf(why, sizeof(why),
		    "it holds %d sealed fields that the agreement (%s v%lld, "
		    "%s) withholds from this agency: the broker did not "
		    "redact them",
		    fields_count(outside), policy_agreement(p),
		    policy_version(p), policy_sha256_hex(p));
		indecide_quarantine(
		    a, d, "delivery holds withheld fields", outside, why);
		goto out;
	}
	to_event(d, pd, local);
	r = INDECIDE_OK;
out:
	free(pd);
	return r;
}

bool
indecide_leaf(struct agent *a, const struct wire_delivery *d,
    const struct event *leaf, const struct event *local)
{
	char why[256];

	if (!leaf->has_policy_sha256 ||
	    sodium_memcmp(leaf->policy_sha256, d->m.agreement, WIRE_HASH_LEN) !=
	        0)
		snprintf(why, sizeof(why),
		    "the broker's decision leaf names another agreement than "
		    "the manifest");
	else if ((leaf->disclosed & ~local->disclosed) != 0)
		snprintf(why, sizeof(why),
		    "the broker's decision leaf discloses %d fields this "
		    "agency's own decision withholds",
		    fields_count(leaf->disclosed & ~local->disclosed));
	else
		return true;
	indecide_quarantine(a, d, "decision leaf disagrees",
	    leaf->disclosed & ~local->disclosed, why);
	return false;
}
