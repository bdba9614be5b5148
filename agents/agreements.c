/*
 * The agreements an agent holds (agreements.h): verified against the
 * agent's own keyring before they are archived or used, so that a broker
 * can carry an agreement but cannot forge or alter one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/agreements.h"
#include "agents/link.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "keys/agreement.h"

#define SIG_SUFFIX ".sig"

static void
hex_of(const uint8_t sha[WIRE_HASH_LEN], char out[2 * WIRE_HASH_LEN + 1])
{
	sodium_bin2hex(out, 2 * WIRE_HASH_LEN + 1, sha, WIRE_HASH_LEN);
}

/* Writes the alert of a refused agreement: what it is and why. */
static void
refused(struct agent *a, const uint8_t sha[WIRE_HASH_LEN], const char *from,
    const struct policy *p, const struct agreement_check *c, const char *why)
{
	char hex[2 * WIRE_HASH_LEN + 1], stem[64], ts[40];
	uint64_t now = clock_now_ms();
	json_t *o, *missing = json_array(), *lines = json_array();

	hex_of(sha, hex);
	log_err(
	    "SECURITY ALERT: agreement %s (%s) refused: %s", hex, from, why);
	for (size_t i = 0; c != NULL && i < c->nmissing; i++)
		json_array_append_new(missing, json_string(c->missing[i]));
	for (size_t i = 0; c != NULL && i < c->nlines; i++)
		if (c->lines[i].status != AGREEMENT_LINE_VALID)
			json_array_append_new(lines,
			    json_pack("{s:s,s:s}", "key", c->lines[i].name,
			        "problem",
			        agreement_line_str(c->lines[i].status)));
	clock_format(now, ts, sizeof(ts));
	o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:s}", "alert",
	    "agreement refused", "sha256", hex, "from", from, "why", why,
	    "missing_signatures", missing, "bad_lines", lines, "at", ts);
	if (o != NULL && p != NULL) {
		json_object_set_new(
		    o, "agreement", json_string(policy_agreement(p)));
		json_object_set_new(
		    o, "version", json_integer(policy_version(p)));
	}
	snprintf(stem, sizeof(stem), "%llu-agreement", (unsigned long long)now);
	if (o == NULL || trust_alert_file(a, stem, o) != 0)
		log_err("cannot write the alert file for agreement %s", hex);
	json_decref(o);
}

/*
 * Loads and verifies an agreement from its bytes: it parses, every agency
 * in it has a valid line by its guardian in this agent's keyring, and this
 * agency is one of them. *out on success; otherwise alerted, and the error.
 */
static int
verify(struct agent *a, const uint8_t *yaml, size_t ylen, const uint8_t *note,
    size_t nlen, const char *from, struct policy **out)
{
	struct yamlconf_errors errs;
	struct agreement_check *c = NULL;
	const char *ids[POLICY_MAX_AGENCIES];
	uint8_t sha[WIRE_HASH_LEN];
	struct policy *p = NULL;
	char why[512];
	size_t n;
	int rc;

	*out = NULL;
	crypto_hash_sha256(sha, yaml, ylen);
	yamlconf_errors_init(&errs);
	rc = policy_load_buffer(yaml, ylen, "agreement", &errs, &p);
	if (rc != 0) {
		snprintf(why, sizeof(why), "it does not load: %s",
		    errs.n > 0 ? errs.msg[0] : error_strerror(rc));
		refused(a, sha, from, NULL, NULL, why);
		goto out;
	}
	n = policy_agency_count(p);
	for (size_t i = 0; i < n && i < POLICY_MAX_AGENCIES; i++)
		ids[i] = policy_agency_id(p, i);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	rc = agreement_verify(yaml, ylen, (const char *)note, nlen,
	    policy_agreement(p), (uint64_t)policy_version(p), ids, n,
	    a->keyring, c);
	if (rc == 0 && !c->complete) {
		size_t len = 0;
		len += (size_t)snprintf(why, sizeof(why),
		    "not signed by every "
		    "party: %s",
		    agreement_text_str(c->text));
		for (size_t i = 0; i < c->nmissing && len < sizeof(why); i++)
			len += (size_t)snprintf(why + len, sizeof(why) - len,
			    "%s%s",
			    i ? ", "
			      : "; no valid signature by the "
			        "guardian of ",
			    c->missing[i]);
		rc = ERROR_SIGNATURE;
	} else if (rc != 0) {
		snprintf(why, sizeof(why), "its note cannot be checked: %s",
		    error_strerror(rc));
	} else if (policy_agency_index(p, a->cfg.agency) < 0) {
		snprintf(why, sizeof(why),
		    "this agency '%s' is not among its agencies",
		    a->cfg.agency);
		rc = ERROR_UNKNOWN_AGENCY;
	}
	if (rc != 0) {
		refused(a, sha, from, p, c, why);
		goto out;
	}
	*out = p;
	p = NULL;
out:
	yamlconf_errors_release(&errs);
	policy_free(p);
	free(c);
	return rc;
}

/* Reads the archive's agreement hex (.yaml and .yaml.sig) and verifies it. */
static int
load_archived(struct agent *a, const char *hex, struct policy **out)
{
	char name[2 * WIRE_HASH_LEN + 16], path[PATH_MAX];
	uint8_t *yaml = NULL, *note = NULL;
	size_t ylen = 0, nlen = 0;
	int rc;

	*out = NULL;
	snprintf(name, sizeof(name), "%s.yaml", hex);
	if ((rc = fileio_join(path, sizeof(path), a->cfg.agreements, name)) !=
	        0 ||
	    (rc = fileio_read(path, POLICY_FILE_MAX, &yaml, &ylen)) != 0)
		goto out;
	snprintf(name, sizeof(name), "%s.yaml" SIG_SUFFIX, hex);
	if ((rc = fileio_join(path, sizeof(path), a->cfg.agreements, name)) !=
	        0 ||
	    (rc = fileio_read(path, WIRE_NOTE_MAX, &note, &nlen)) != 0)
		goto out;
	rc = verify(a, yaml, ylen, note, nlen, "the agent's archive", out);
	if (rc == 0 && strcmp(policy_sha256_hex(*out), hex) != 0) {
		/* Named for other bytes than it holds: not this one. */
		policy_free(*out);
		*out = NULL;
		rc = ERROR_NOENT;
	}
out:
	free(yaml);
	free(note);
	return rc;
}

/* Archives a verified agreement's bytes: the note first, then the YAML. */
static int
archive(struct agent *a, const char *hex, const uint8_t *yaml, size_t ylen,
    const uint8_t *note, size_t nlen)
{
	char name[2 * WIRE_HASH_LEN + 16];
	int rc;

	snprintf(name, sizeof(name), "%s.yaml" SIG_SUFFIX, hex);
	if ((rc = fileio_write_atomic(
	         a->cfg.agreements, name, note, nlen, 0640, 0)) != 0)
		return rc;
	snprintf(name, sizeof(name), "%s.yaml", hex);
	return fileio_write_atomic(
	    a->cfg.agreements, name, yaml, ylen, 0640, 0);
}

static void
set_current(struct agent *a, struct policy **p)
{
	struct agreements *g = &a->agreements;
	char line[2 * WIRE_HASH_LEN + 2];
	int rc;

	policy_free(g->cur.policy);
	g->cur.policy = *p;
	*p = NULL;
	memcpy(g->cur.sha, policy_sha256(g->cur.policy), WIRE_HASH_LEN);
	g->told_none = false;
	snprintf(line, sizeof(line), "%s\n", policy_sha256_hex(g->cur.policy));
	if ((rc = fileio_write_atomic(a->cfg.agreements, AGREEMENTS_CURRENT,
	         line, strlen(line), 0640, 0)) != 0)
		log_err("%s/%s: cannot record the current agreement: %s",
		    a->cfg.agreements, AGREEMENTS_CURRENT, error_strerror(rc));
	log_info("agreement %s v%lld (%s) is current",
	    policy_agreement(g->cur.policy), policy_version(g->cur.policy),
	    policy_sha256_hex(g->cur.policy));
}

int
agreements_open(struct agent *a)
{
	char path[PATH_MAX], hex[2 * WIRE_HASH_LEN + 1];
	struct policy *p = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if ((rc = fileio_mkdirs(a->cfg.agreements, 0700)) != 0) {
		log_err("%s: cannot create the agreements folder: %s",
		    a->cfg.agreements, error_strerror(rc));
		return rc;
	}
	if (fileio_join(path, sizeof(path), a->cfg.agreements,
	        AGREEMENTS_CURRENT) != 0 ||
	    fileio_read(path, sizeof(hex) + 1, &buf, &len) != 0)
		return ERROR_OK; /* none yet: the broker sends it */
	if (len >= sizeof(hex) - 1) {
		memcpy(hex, buf, sizeof(hex) - 1);
		hex[sizeof(hex) - 1] = '\0';
		if (load_archived(a, hex, &p) == 0)
			set_current(a, &p);
	}
	free(buf);
	return ERROR_OK;
}

void
agreements_close(struct agent *a)
{
	struct agreements *g = &a->agreements;

	policy_free(g->cur.policy);
	g->cur.policy = NULL;
	for (size_t i = 0; i < AGREEMENTS_CACHE; i++) {
		policy_free(g->cache[i].policy);
		g->cache[i].policy = NULL;
	}
}

/* Keeps p in the cache of agreements that are not current. */
static const struct policy *
cache_put(struct agent *a, struct policy **p)
{
	struct agreements *g = &a->agreements;
	struct agreement_held *h = &g->cache[0];

	for (size_t i = 0; i < AGREEMENTS_CACHE; i++)
		if (g->cache[i].policy == NULL || g->cache[i].used < h->used)
			h = &g->cache[i];
	policy_free(h->policy);
	h->policy = *p;
	*p = NULL;
	memcpy(h->sha, policy_sha256(h->policy), WIRE_HASH_LEN);
	h->used = ++g->tick;
	return h->policy;
}

/* Takes the request for sha out of the list; whether it said current. */
static bool
answered(struct agent *a, const uint8_t sha[WIRE_HASH_LEN], bool *asked)
{
	struct agreements *g = &a->agreements;
	bool current = false;

	*asked = false;
	for (size_t i = 0; i < g->n_ask;) {
		struct agreement_ask *q = &g->ask[i];
		if (!q->has_sha || memcmp(q->sha, sha, WIRE_HASH_LEN) == 0) {
			*asked |= q->has_sha;
			current |= q->current || !q->has_sha;
			g->ask[i] = g->ask[--g->n_ask];
			continue;
		}
		i++;
	}
	return current;
}

/* Whether p is an earlier version of the agreement cur. */
static bool
older(const struct policy *cur, const struct policy *p)
{
	return cur != NULL &&
	    strcmp(policy_agreement(cur), policy_agreement(p)) == 0 &&
	    policy_version(p) < policy_version(cur);
}

void
agreements_frame(struct agent *a, const struct wire_agreement *w)
{
	struct agreements *g = &a->agreements;
	uint8_t sha[WIRE_HASH_LEN];
	char hex[2 * WIRE_HASH_LEN + 1];
	struct policy *p = NULL;
	bool asked, current;
	int rc;

	crypto_hash_sha256(sha, w->yaml, w->yaml_len);
	hex_of(sha, hex);
	current = answered(a, sha, &asked);
	/* Unasked, it is the broker's current one (sent on connecting and
	 * on every change). */
	if (!asked)
		current = true;
	if (g->cur.policy != NULL &&
	    memcmp(g->cur.sha, sha, WIRE_HASH_LEN) == 0)
		return; /* the one current already */
	if (verify(a, w->yaml, w->yaml_len, w->note, w->note_len, "the broker",
	        &p) != 0)
		return;
	if ((rc = archive(
	         a, hex, w->yaml, w->yaml_len, w->note, w->note_len)) != 0)
		log_err("%s: cannot archive agreement %s: %s",
		    a->cfg.agreements, hex, error_strerror(rc));
	if (current && older(g->cur.policy, p)) {
		/* Every guardian signed it once, but a later version is in
		 * force here: kept for the messages that name it, not made
		 * current (a broker cannot roll an agency back). */
		log_warn("agreement %s v%lld (%s) is older than v%lld in "
		         "force here: held, not made current",
		    policy_agreement(p), policy_version(p), hex,
		    policy_version(g->cur.policy));
		cache_put(a, &p);
	} else if (current) {
		set_current(a, &p);
		/* What was sealed under the old one comes back
		 * agreement_mismatch, to be sealed again under this. */
		if (a->connected)
			outbox_resend(a);
	} else {
		log_info("agreement %s v%lld (%s) held, as asked",
		    policy_agreement(p), policy_version(p), hex);
		cache_put(a, &p);
	}
}

const struct policy *
agreements_current(struct agent *a)
{
	struct agreements *g = &a->agreements;

	if (g->cur.policy == NULL && !g->told_none) {
		log_warn("no sharing agreement held yet: records wait in "
		         "outbox/ until the broker sends one");
		g->told_none = true;
	}
	return g->cur.policy;
}

void
agreements_ask(struct agent *a, const uint8_t *sha, bool as_current)
{
	struct agreements *g = &a->agreements;
	uint64_t now = clock_mono_ms();
	struct agreement_ask *q = NULL;
	uint8_t *frame;
	size_t len;

	for (size_t i = 0; i < g->n_ask; i++)
		if (g->ask[i].has_sha == (sha != NULL) &&
		    (sha == NULL ||
		        memcmp(g->ask[i].sha, sha, WIRE_HASH_LEN) == 0))
			q = &g->ask[i];
	if (q != NULL && now - q->at_ms < AGREEMENTS_ASK_MS) {
		q->current |= as_current;
		return;
	}
	if (q == NULL) {
		if (g->n_ask == AGREEMENTS_REQUESTS)
			g->n_ask--; /* the last one is asked again later */
		q = &g->ask[g->n_ask++];
		memset(q, 0, sizeof(*q));
	}
	q->has_sha = sha != NULL;
	if (sha != NULL)
		memcpy(q->sha, sha, WIRE_HASH_LEN);
	q->current |= as_current;
	q->at_ms = now;
	if (!a->connected ||
	    wire_agreement_request_encode(sha, &frame, &len) != 0)
		return;
	link_send(a, frame, len);
	free(frame);
}

const struct policy *
agreements_find(
    struct agent *a, const uint8_t sha[WIRE_HASH_LEN], bool as_current)
{
	struct agreements *g = &a->agreements;
	char hex[2 * WIRE_HASH_LEN + 1];
	struct policy *p = NULL;

	if (g->cur.policy != NULL &&
	    memcmp(g->cur.sha, sha, WIRE_HASH_LEN) == 0)
		return g->cur.policy;
	for (size_t i = 0; i < AGREEMENTS_CACHE; i++)
		if (g->cache[i].policy != NULL &&
		    memcmp(g->cache[i].sha, sha, WIRE_HASH_LEN) == 0) {
			g->cache[i].used = ++g->tick;
			if (!as_current)
				return g->cache[i].policy;
			if (older(g->cur.policy, g->cache[i].policy))
				return g->cache[i].policy;
			p = g->cache[i].policy;
			g->cache[i].policy = NULL;
			set_current(a, &p);
			return g->cur.policy;
		}
	hex_of(sha, hex);
	if (load_archived(a, hex, &p) == 0) {
		if (!as_current || older(g->cur.policy, p))
			return cache_put(a, &p);
		set_current(a, &p);
		return g->cur.policy;
	}
	agreements_ask(a, sha, as_current);
	return NULL;
}

void
agreements_question(
    const struct wire_manifest *m, const char *to, struct policy_question *q)
{
	memset(q, 0, sizeof(*q));
	q->from = m->sender;
	q->to = to;
	q->purpose = m->purpose;
	q->urgency = m->urgency;
	/* The emergency reason code, as the broker asks it. */
	q->reason = m->reason;
	q->kind = m->kind;
}

void
agreements_rekey(struct agent *a)
{
	struct agreements *g = &a->agreements;
	char hex[2 * WIRE_HASH_LEN + 1];
	struct policy *p = NULL;

	/* Those not current are verified again when next loaded. */
	for (size_t i = 0; i < AGREEMENTS_CACHE; i++) {
		policy_free(g->cache[i].policy);
		g->cache[i].policy = NULL;
	}
	if (g->cur.policy == NULL)
		return;
	hex_of(g->cur.sha, hex);
	if (load_archived(a, hex, &p) != 0) {
		/* Alerted: no longer signed by every party's key now held. */
		log_err(
		    "the agreement in force is not verified by the new "
		    "keyring: records wait until the broker sends one that is");
		policy_free(g->cur.policy);
		g->cur.policy = NULL;
		g->told_none = false;
		return;
	}
	policy_free(g->cur.policy);
	g->cur.policy = p;
}
