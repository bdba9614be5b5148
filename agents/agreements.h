/*
 * Private to agents/: the sharing agreements this agent holds (DESIGN.md §8,
 * P2 and P3). The broker sends its current one (an Agreement frame); the
 * agent asks (AgreementRequest) for one a message names that it lacks.
 * Each is verified against this agent's own keyring (every agency's
 * guardian signed it, keys/agreement.h) and must name this agency under
 * `agencies:` before it is archived or used; a refused one is alerted and
 * logged, never used. The archive is agent.yaml `agreements` (default
 * STATE/agreements): <hex sha256>.yaml and <hex sha256>.yaml.sig, and
 * `current` naming the current one, all written atomically, never
 * deleted. Called by agent.c (frames, start), outbox.c and outseal.c (the
 * sender's decision), inbox.c and indecide.c (the recipient's).
 */
#ifndef AGENTS_AGREEMENTS_H
#define AGENTS_AGREEMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "policy/policy.h"
#include "proto/wire.h"

struct agent;

#define AGREEMENTS_CACHE    4    /* archived agreements kept loaded */
#define AGREEMENTS_REQUESTS 8    /* requests in flight */
#define AGREEMENTS_ASK_MS   5000 /* one request per agreement this often */
#define AGREEMENTS_CURRENT  "current"

struct agreement_held {
	struct policy *policy; /* NULL: empty */
	uint8_t sha[WIRE_HASH_LEN];
	uint64_t used; /* a tick, for eviction */
};

struct agreement_ask {
	bool has_sha; /* false: the current one */
	uint8_t sha[WIRE_HASH_LEN];
	bool current;   /* the broker says this one is current now */
	uint64_t at_ms; /* monotonic: when asked */
};

struct agreements {
	struct agreement_held cur;
	struct agreement_held cache[AGREEMENTS_CACHE];
	struct agreement_ask ask[AGREEMENTS_REQUESTS];
	size_t n_ask;
	uint64_t tick;
	bool told_none; /* "no agreement held yet", said once */
};

/*
 * At start: creates the archive folder (0700) and loads the current
 * agreement it names, verified again against the keyring (a refusal is
 * alerted; the agent then waits for the broker's). ERROR_OK, or the error
 * creating the folder.
 */
WUR int agreements_open(struct agent *a);
/* Frees every policy held. */
void agreements_close(struct agent *a);

/*
 * An Agreement frame from the broker: verified, archived, and made
 * current unless it answers a request for an older one. Refused ones are
 * alerted (alerts/NOW-agreement.json) and logged.
 */
void agreements_frame(struct agent *a, const struct wire_agreement *g);

/* The current agreement, or NULL when none is held yet (said once). */
const struct policy *agreements_current(struct agent *a);

/*
 * The agreement whose YAML has SHA-256 sha: the current one, one loaded,
 * or one in the archive (verified again). NULL when this agent does not
 * hold it: then it is asked of the broker (at most every
 * AGREEMENTS_ASK_MS); as_current says the broker named it current (a
 * receipt's agreement_mismatch). Borrowed until the next agreements_*
 * call that may load or take one (the current one stays until replaced).
 */
const struct policy *agreements_find(
    struct agent *a, const uint8_t sha[WIRE_HASH_LEN], bool as_current);

/*
 * After a reload took a new keyring: the current agreement is verified
 * again from the archive against it (dropped, alerted, when it fails) and
 * the others are forgotten, to be verified again when next needed.
 */
void agreements_rekey(struct agent *a);

/* Asks the broker for the agreement sha (NULL: the current one). */
void agreements_ask(struct agent *a, const uint8_t *sha, bool as_current);

/*
 * The policy question for message m to recipient to: the same for the
 * sender's decision and the recipient's, and the broker's.
 */
void agreements_question(
    const struct wire_manifest *m, const char *to, struct policy_question *q);

#endif
