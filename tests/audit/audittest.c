/*
 * Helpers for the audit tests and bench_audit (see audittest.h). Failures
 * here are the harness's, not the code under test's: they abort loudly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audittest.h"
#include "tests/lib/capture.h"
#include "tests/lib/fixture.h"
#include "common/urgency.h"

#define MUST(cond)                                                             \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: harness: %s\n", __FILE__,      \
			    __LINE__, #cond);                                  \
			abort();                                               \
		}                                                              \
	} while (0)

const char *const audittest_agencies[AUDITTEST_AGENCIES] = {
    "police",
    "ambulance",
    "mental_health_trust",
    "social_care",
    "ae",
    "housing",
};

const char *const audittest_purposes[AUDITTEST_PURPOSES] = {
    "triage_advice",
    "place_of_safety",
    "emergency_care",
    "mha_assessment",
    "safeguarding",
    "missing_person",
};

const char *const audittest_rules[AUDITTEST_RULES] = {
    "triage-request",
    "triage-reply",
    "pos-handover",
    "ambulance-to-trust",
    "trust-to-ambulance",
    "amhp-support",
    "dependents-care",
    "missing-from-ward",
};

const char *
audittest_source(const char *rel)
{
	static char buf[4096];

	MUST(snprintf(buf, sizeof(buf), "%s/%s", fixture_source("tests/audit"),
	         rel) < (int)sizeof(buf));
	return buf;
}

void
audittest_open(struct audittest_log *l, const char *dir, size_t mapsize)
{
	MDB_txn *txn;

	MUST(audit_env_open(dir, mapsize, 0, &l->env) == 0);
	MUST(audit_txn_begin(l->env, 0, &txn) == 0);
	MUST(audit_open(l->env, txn, AUDITTEST_ORIGIN, 0, &l->a) == 0);
	MUST(mdb_txn_commit(txn) == 0);
}

void
audittest_close(struct audittest_log *l)
{
	audit_free(l->a);
	audit_env_close(l->env);
	l->a = NULL;
	l->env = NULL;
}

void
audittest_key(struct audittest_key *k, uint8_t seed)
{
	fixture_sign_seed(seed, k->pk, k->sk);
}

uint64_t
audittest_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
audittest_subject(uint64_t i, uint8_t out[WIRE_REF_LEN])
{
	uint8_t in[8];

	memcpy(in, &i, sizeof(in));
	crypto_generichash(out, WIRE_REF_LEN, in, sizeof(in), NULL, 0);
}

void
audittest_event(struct event *ev, uint64_t i, uint64_t subjects, uint64_t *rng)
{
	uint64_t r = audittest_rand(rng), s = audittest_rand(rng);
	unsigned kind = (unsigned)(r % 100);
	int from = (int)(s % AUDITTEST_AGENCIES);
	int to = (int)((from + 1 + (s >> 8) % (AUDITTEST_AGENCIES - 1)) %
	    AUDITTEST_AGENCIES);
	uint64_t msg = i / 3;

	memset(ev, 0, sizeof(*ev));
	ev->type = kind < 50 ? EVENT_DECISION
	    : kind < 70      ? EVENT_ACCEPTED
	    : kind < 80      ? EVENT_DELIVERED
	    : kind < 90      ? EVENT_ACKNOWLEDGED
	    : kind < 95      ? EVENT_REJECTED
	    : kind < 98      ? EVENT_EXPIRED
	                     : EVENT_CONNECTION_REFUSED;
	/* About a second apart, up to five seconds out of order. */
	ev->time_ms = 1795000000000ULL + i * 1000 + (r >> 20) % 10000 - 5000;
	if (ev->type == EVENT_CONNECTION_REFUSED) {
		snprintf(ev->peer, sizeof(ev->peer), "tcp://10.0.0.%u:5555",
		    (unsigned)(s % 250));
		return;
	}
	ev->has_msg_id = true;
	memcpy(ev->msg_id, &msg, sizeof(msg));
	snprintf(
	    ev->sender, sizeof(ev->sender), "%s", audittest_agencies[from]);
	snprintf(ev->purpose, sizeof(ev->purpose), "%s",
	    audittest_purposes[(s >> 16) % AUDITTEST_PURPOSES]);
	ev->urgency = 1 + (int)((s >> 24) % 3);
	ev->kind = 1;
	/* The events of one message are about one person. */
	ev->has_subject_ref = true;
	{
		uint64_t h = msg * 0x9e3779b97f4a7c15ULL;
		audittest_subject((h ^ (h >> 29)) % subjects, ev->subject_ref);
	}
	switch (ev->type) {
	case EVENT_DECISION:
		snprintf(ev->recipient, sizeof(ev->recipient), "%s",
		    audittest_agencies[to]);
		ev->disclosed = (fieldset)(audittest_rand(rng) & FIELDS_ALL);
		ev->withheld = (fieldset)(~ev->disclosed & FIELDS_ALL);
		ev->n_rules = 1 + (size_t)((r >> 8) % 2);
		for (size_t j = 0; j < ev->n_rules; j++)
			snprintf(ev->rules[j], sizeof(ev->rules[j]), "%s",
			    audittest_rules[(r >> (12 + 4 * j)) %
			        AUDITTEST_RULES]);
		ev->n_bases = 1;
		snprintf(ev->bases[0], sizeof(ev->bases[0]),
		    "UK GDPR 6(1)(e), 9(2)(h)");
		ev->n_obligations = 1;
		snprintf(ev->obligations[0], sizeof(ev->obligations[0]),
		    "no_onward_disclosure");
		ev->has_policy_sha256 = true;
		memset(ev->policy_sha256, 0x5a, sizeof(ev->policy_sha256));
		if ((r >> 40) % 100 == 0) {
			ev->breakglass = true;
			ev->urgency = URGENCY_EMERGENCY;
			ev->emergency_reason = 1 + (int)(r % 4);
		}
		break;
	case EVENT_ACCEPTED:
		ev->n_recipients = 1 + (size_t)((r >> 8) % 2);
		for (size_t j = 0; j < ev->n_recipients; j++)
			snprintf(ev->recipients[j], sizeof(ev->recipients[j]),
			    "%s",
			    audittest_agencies[(to + j) % AUDITTEST_AGENCIES]);
		break;
	case EVENT_REJECTED:
		ev->reason = WIRE_REASON_UNDECLARED_PURPOSE;
		snprintf(ev->detail, sizeof(ev->detail),
		    "purpose not declared by the policy");
		break;
	default:
		snprintf(ev->recipient, sizeof(ev->recipient), "%s",
		    audittest_agencies[to]);
		break;
	}
}

void
audittest_fill(struct audittest_log *l, const struct audittest_key *k,
    uint64_t first, uint64_t n, unsigned batch, uint64_t subjects,
    uint64_t *rng)
{
	struct event *ev = malloc(sizeof(*ev));
	struct audit_head *head = malloc(sizeof(*head));
	MDB_txn *txn = NULL;

	MUST(ev != NULL && head != NULL);
	for (uint64_t i = first; i < first + n; i++) {
		if (txn == NULL)
			MUST(audit_txn_begin(l->env, 0, &txn) == 0);
		audittest_event(ev, i, subjects, rng);
		MUST(audit_append(l->a, txn, ev, NULL) == 0);
		if ((i - first + 1) % batch == 0 || i + 1 == first + n) {
			MUST(audit_checkpoint(l->a, txn, checkpoint_sign_key,
			         (void *)(uintptr_t)k->sk, head) == 0);
			MUST(mdb_txn_commit(txn) == 0);
			txn = NULL;
		}
	}
	free(head);
	free(ev);
}

uint64_t
audittest_append_one(struct audittest_log *l, const struct audittest_key *k,
    const struct event *ev)
{
	struct audit_head *head = malloc(sizeof(*head));
	MDB_txn *txn;
	uint64_t seq;

	MUST(head != NULL);
	MUST(audit_txn_begin(l->env, 0, &txn) == 0);
	MUST(audit_append(l->a, txn, ev, &seq) == 0);
	MUST(audit_checkpoint(l->a, txn, checkpoint_sign_key,
	         (void *)(uintptr_t)k->sk, head) == 0);
	MUST(mdb_txn_commit(txn) == 0);
	free(head);
	return seq;
}
