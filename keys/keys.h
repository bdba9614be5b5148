/*
 * Agency and broker keys (DESIGN.md §4): generation, permission-checked
 * loading of secret files into sodium_malloc memory, public identity files,
 * the keyring, the subject pepper and subject_ref.
 */
#ifndef KEYS_KEYS_H
#define KEYS_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ident.h"

#define KEYS_SIGN_PK       32 /* Ed25519 public */
#define KEYS_SIGN_SK       64 /* Ed25519 secret (seed || public) */
#define KEYS_BOX_PK        32 /* X25519 */
#define KEYS_BOX_SK        32
#define KEYS_CURVE_KEY     32 /* CurveZMQ, binary */
#define KEYS_PEPPER_LEN    32
#define KEYS_REF_LEN       32 /* subject_ref */
#define KEYS_PEPPER_ID_LEN 32 /* pepper_id */
#define KEYS_FINGERPRINT   40 /* "xxxx:xxxx:...": 8 groups of 4 hex, NUL */
#define KEYS_BROKER_ID     "broker"
#define KEYS_MAX_FILE      4096 /* larger key files are refused */

/*
 * A public identity: what an agency's or the broker's .pub file holds. The
 * broker has no box key (box_pk is all zero and has_box false). A guardian
 * key (an agency's guardian, P3: file ID.guardian.pub) has only a
 * sign key: is_guardian, no box, box_pk and transport_pk all zero; its
 * id is the agency's.
 */
struct keys_public {
	char id[IDENT_AGENCY_MAX + 1]; /* agency id, or "broker" */
	bool is_broker;
	bool is_guardian;
	bool has_box;
	uint8_t sign_pk[KEYS_SIGN_PK];
	uint8_t box_pk[KEYS_BOX_PK];
	uint8_t transport_pk[KEYS_CURVE_KEY];
	char fingerprint[KEYS_FINGERPRINT];
};

/*
 * A secret key set, allocated with sodium_malloc and wiped by
 * keys_secret_free. pub is the matching public identity.
 */
struct keys_secret {
	struct keys_public pub;
	uint8_t sign_sk[KEYS_SIGN_SK];
	uint8_t box_sk[KEYS_BOX_SK];
	uint8_t transport_sk[KEYS_CURVE_KEY];
};

/*
 * Generates a key set for agency id (or the broker when id is NULL) and
 * writes DIR/ID.key (0600, O_EXCL: an existing file is refused with
 * ERROR_EXISTS) and DIR/ID.pub (0644). DIR is created 0700 if missing.
 * The agency id is validated before it is used in a path (ERROR_INVAL);
 * "broker" is the broker's and no agency's.
 */
WUR int keys_generate(const char *id, const char *dir);

/*
 * Generates agency id's guardian key: DIR/ID.guardian.key (0600, O_EXCL;
 * the secret file layout with role 3, box and CURVE secrets all zero) and
 * DIR/ID.guardian.pub ({"concordat": "identity/v1", "id", "role":
 * "guardian", "sign", "fingerprint"}). Same errors as keys_generate.
 */
WUR int keys_generate_guardian(const char *id, const char *dir);

/*
 * Loads a secret key file. Refuses a symlink, a file group or world can
 * read (ERROR_PERM), and a malformed file (ERROR_KEY). On success *out is a
 * sodium_malloc'd set the caller frees with keys_secret_free. A guardian
 * key is refused (ERROR_KEY): it signs agreements, never messages.
 */
WUR int keys_load_secret(const char *path, struct keys_secret **out);

/*
 * Loads a guardian's secret key file, the same checks; anything but a
 * guardian key is ERROR_KEY. Only sign_sk and pub are set.
 */
WUR int keys_load_guardian(const char *path, struct keys_secret **out);

/* Wipes and frees s; NULL is a no-op. */
void keys_secret_free(struct keys_secret *s);

/* Loads a public identity file (.pub, JSON) into *out. */
WUR int keys_load_public(const char *path, struct keys_public *out);

/* Computes the fingerprint of p's keys into p->fingerprint. */
void keys_fingerprint(struct keys_public *p);

/* ------------------------------------------------------------- keyring */

/*
 * A keyring: the agency identities in a folder of .pub files. Agency ids
 * and transport keys are unique in a keyring; a folder where two files
 * claim the same id or key is refused (ERROR_KEY), as is a file whose name
 * differs from the id it holds. A broker.pub in the folder is not an agency
 * and is left out. Guardian keys (ID.guardian.pub, role "guardian") are
 * kept apart from the agencies: keyring_count/keyring_at never list them;
 * a guardian whose agency has no ID.pub in the folder is still loaded.
 */
struct keyring;

/*
 * Loads every *.pub in dir. On error, when errbuf is not NULL, a message
 * naming the file at fault is written into it.
 */
WUR int keyring_load(
    const char *dir, struct keyring **out, char *errbuf, size_t errlen);
void keyring_free(struct keyring *kr);

/* Lookups return pointers valid until keyring_free, or NULL. */
const struct keys_public *keyring_find(
    const struct keyring *kr, const char *id);
/* The current or, in a rotation window, the next identity holding key. */
const struct keys_public *keyring_find_transport(
    const struct keyring *kr, const uint8_t key[KEYS_CURVE_KEY]);
/*
 * The next key of agency id (ID.next.pub: an identity file of the same
 * format, beside ID.pub, during a rotation window; DESIGN.md §4), or NULL.
 * keyring_count/keyring_at never list next keys.
 */
const struct keys_public *keyring_find_next(
    const struct keyring *kr, const char *id);
size_t keyring_count(const struct keyring *kr);
const struct keys_public *keyring_at(const struct keyring *kr, size_t i);
/* The guardian key of agency id (from ID.guardian.pub), or NULL. */
const struct keys_public *keyring_find_guardian(
    const struct keyring *kr, const char *id);
size_t keyring_guardian_count(const struct keyring *kr);
const struct keys_public *keyring_guardian_at(
    const struct keyring *kr, size_t i);

/* ---------------------------------------------- pepper and subject_ref */

/* Writes 32 random bytes as hex to path (0600, O_EXCL). */
WUR int keys_pepper_generate(const char *path);

/*
 * Loads the pepper into a sodium_malloc'd buffer of KEYS_PEPPER_LEN bytes
 * that the caller frees with keys_pepper_free. Same permission checks as a
 * secret key.
 */
WUR int keys_pepper_load(const char *path, uint8_t **pepper);
void keys_pepper_free(uint8_t *pepper);

/* True when s is ten digits with a valid modulus-11 check digit. Spaces
 * between digit groups ("943 476 5919") are accepted. */
bool keys_nhs_valid(const char *s);

/* subject_ref = BLAKE2b-256(key = pepper, the ten NHS digits). */
WUR int keys_subject_ref_nhs(
    const uint8_t *pepper, const char *nhs, uint8_t out[KEYS_REF_LEN]);

/*
 * Without an NHS number: BLAKE2b-256(key = pepper,
 * "surname|forename|YYYY-MM-DD") after trimming each part, collapsing inner
 * white space to one space and lower-casing ASCII letters. dob must be a
 * valid YYYY-MM-DD date.
 */
WUR int keys_subject_ref_name(const uint8_t *pepper, const char *surname,
    const char *forename, const char *dob, uint8_t out[KEYS_REF_LEN]);

/* True when s is a date YYYY-MM-DD that exists (no 31 February). */
bool keys_date_valid(const char *s);

/*
 * The pepper's public name: BLAKE2b-256(key = pepper, the 22 ASCII bytes
 * "concordat pepper-id v1"). Every manifest carries it so that an auditor
 * can tell a pepper the log has seen from one it has not. It reveals
 * nothing of the pepper (a keyed hash, as subject_ref), and it is never a
 * subject_ref: those hash ten digits, or text with two '|', and this
 * string is neither (KEYS_PEPPER_ID_INPUT).
 */
#define KEYS_PEPPER_ID_INPUT "concordat pepper-id v1"
void keys_pepper_id(const uint8_t *pepper, uint8_t out[KEYS_PEPPER_ID_LEN]);

#endif
