/*
 * The agreement in force at the broker: its exact YAML and
 * note bytes read once, the policy parsed from those bytes, completeness
 * against the broker's keyring (keys/agreement.h), and the archive of
 * every activated agreement, DATA/agreements/<hex sha256>.yaml and
 * .yaml.sig, never deleted. Called by broker.c at start, on SIGHUP and
 * for -n; the agreement frames (sending the agreement to agents) read
 * struct broker's current one or the archive through this header.
 */
#ifndef BROKER_AGREEMENT_H
#define BROKER_AGREEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ident.h"
#include "keys/agreement.h"
#include "keys/keys.h"
#include "policy/policy.h"
#include "proto/event.h"

#define AGREEMENT_ARCHIVE_DIR "agreements" /* in the data folder */

/*
 * An agreement as the broker holds it. yaml and note are the exact bytes
 * (each malloc'd with a NUL after the last byte, not counted); note is
 * NULL when the file had no .sig. policy is parsed from yaml (NULL in a
 * refused agreement whose YAML does not load). Freed with
 * agreement_held_free, which frees policy too.
 */
struct agreement_held {
	uint8_t sha[AGREEMENT_SHA_LEN]; /* SHA-256 of yaml */
	char *yaml;
	size_t yaml_len;
	char *note;
	size_t note_len;
	struct policy *policy;
	bool complete;
	size_t n_signers; /* the agencies whose guardians' lines verified */
	char signers[AGREEMENT_MAX_PARTY][IDENT_AGENCY_MAX + 1];
	uint64_t since_ms; /* wall clock: when it became the current one */
	uint64_t until_ms; /* when another replaced it; 0 while current */
};

/*
 * Reads path and path.sig, parses the policy from the bytes read and
 * checks the note against kr. Returns 0 with *out complete. Otherwise the
 * error, why saying what (every policy error, or "not signed by the
 * guardian of: ..." naming each agency missing and each line not counted),
 * and *out, when the YAML could be read at all, holding what was read (for
 * the audit of the refusal; policy may be NULL): ERROR_POLICY for a YAML
 * with errors or an incomplete agreement, the read's error otherwise.
 */
WUR int agreement_load(const char *path, const struct keyring *kr,
    struct agreement_held **out, char *why, size_t n);

/* Frees a (and its policy); NULL is a no-op. */
void agreement_held_free(struct agreement_held *a);

/*
 * Archives a: DATA/agreements/<hex>.yaml.sig, then <hex>.yaml (so that the
 * YAML's presence means both are there), each written whole under a
 * temporary name, fsynced and renamed, the folder fsynced; an archive
 * already there is kept as it is (never replaced or deleted).
 */
WUR int agreement_archive(const char *data, const struct agreement_held *a);

/*
 * Reads the archived agreement sha back from DATA/agreements: *out
 * (caller frees) holds its bytes and its policy; complete and signers are
 * not set (the caller checks against its own keyring when it must).
 * ERROR_NOENT when none is archived under sha; ERROR_TAMPERED when the
 * file's bytes do not hash to sha.
 */
WUR int agreement_archived(const char *data,
    const uint8_t sha[AGREEMENT_SHA_LEN], struct agreement_held **out);

/* Sets ev's policy_sha256, agreement_id, agreement_version and signers
 * from a (a NULL a sets nothing). */
void agreement_event_fill(const struct agreement_held *a, struct event *ev);

/*
 * -n: the keyring against the agreement's agencies. Every agency of the
 * agreement needs ID.pub and ID.guardian.pub (an error, into why,
 * returns ERROR_CONFIG); keyring agencies the agreement does not name,
 * and guardians without an agency, are warnings appended to warn (size
 * wn, may be NULL).
 */
WUR int agreement_crosscheck(const struct policy *p, const struct keyring *kr,
    char *why, size_t n, char *warn, size_t wn);

#endif
