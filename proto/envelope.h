/*
 * Field-level sealing (DESIGN.md §1, §5): the sender seals each B8 field
 * under its own key and wraps the keys for each recipient; the broker,
 * holding no agency secret, checks and redacts; the recipient opens what it
 * was given and learns what was withheld.
 */
#ifndef PROTO_ENVELOPE_H
#define PROTO_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/fields.h"
#include "proto/wire.h"

/*
 * Largest plaintext of one field before padding. envelope_seal refuses
 * more; wire_decode refuses a ciphertext longer than this seals to
 * (WIRE_SEALED_MAX), in a Submit at the broker and a Delivery at the agent.
 */
#define ENVELOPE_FIELD_MAX WIRE_FIELD_MAX

/* What a sender seals. Pointers are borrowed for the call. */
struct envelope_seal_args {
	const uint8_t *msg_id;  /* NULL: a new random one (tests reuse one) */
	const char *sender;     /* agency id */
	const uint8_t *sign_sk; /* Ed25519, 64 bytes */
	uint64_t created_at_ms;
	int kind;    /* enum kind */
	int urgency; /* enum urgency */
	const char *purpose;
	/*
	 * EMERGENCY only, and then reason is required (enum
	 * emergency_reason); the justification (NULL is empty, at most
	 * WIRE_JUSTIFICATION_MAX bytes) is sealed for every recipient
	 * (proto/justification.h).
	 */
	int reason;
	const char *justification;
	const uint8_t *subject_ref; /* 32 bytes */
	const uint8_t *in_reply_to; /* NULL or a 16-byte msg_id */
	fieldset requested;         /* REQUEST only */
	size_t n_recipients;
	const char *const *recipients; /* agency ids */
	const uint8_t (*shared)[32];   /* per recipient: envelope_shared_key */
	const fieldset *grants;   /* per recipient fields to wrap; NULL: all */
	const uint8_t *agreement; /* NULL, or the 32-byte SHA-256 of the
	                           * agreement YAML the grants come from */
	const uint8_t *plain[FIELDS_COUNT + 1]; /* [1..13]; NULL is empty */
	size_t plain_len[FIELDS_COUNT + 1];
};

/*
 * The key a sender and a recipient share for wrapping:
 * crypto_box_beforenm(peer_box_pk, own_box_sk). Callers cache it per peer.
 */
WUR int envelope_shared_key(const uint8_t peer_box_pk[32],
    const uint8_t own_box_sk[32], uint8_t out[32]);

/*
 * Seals the thirteen fields, and an emergency's justification, into a
 * Submit frame (a new malloc'd buffer the
 * caller frees) and returns its msg_id (a new random one unless a->msg_id
 * is set). Field plaintexts are
 * padded to 256-byte blocks and sealed even when empty.
 */
WUR int envelope_seal(const struct envelope_seal_args *a,
    uint8_t msg_id[WIRE_MSG_ID_LEN], uint8_t **frame, size_t *len);

/* The sender's signature over the exact manifest bytes (ERROR_SIGNATURE). */
WUR int envelope_verify_signature(
    const struct wire_envelope *e, const uint8_t sign_pk[32]);

/*
 * Every sealed ciphertext matches its digest (ERROR_DIGEST); every grant
 * names a listed recipient and every listed recipient has one
 * (ERROR_GRANT). Recipients being keyring agencies is the broker's check.
 */
WUR int envelope_verify_contents(
    const struct wire_envelope *e, char *why, size_t whylen);

/*
 * The broker's whole check for callers that need no step in between:
 * decode the Submit frame, verify the signature with sender_pk, verify the
 * contents. On success *out is the checked frame (type WIRE_SUBMIT) the
 * caller frees with wire_frame_free.
 */
WUR int envelope_check(const uint8_t *buf, size_t len,
    const uint8_t sender_pk[32], struct wire_frame **out, char *why,
    size_t whylen);

/*
 * Redacts a checked envelope for one recipient: the Delivery message bytes
 * (manifest, signature, and the ciphertexts and this recipient's wraps of
 * the fields in allowed that the sender granted it). *sent gets the fields
 * included. The caller frees *out.
 */
WUR int envelope_redact(const struct wire_envelope *e, const char *recipient,
    fieldset allowed, fieldset *sent, uint8_t **out, size_t *len);

/* What a recipient opened: plaintexts, wiped when it is freed. */
struct envelope_opened {
	fieldset disclosed;
	fieldset withheld; /* digest present, ciphertext absent */
	uint8_t *plain[FIELDS_COUNT + 1];
	size_t plain_len[FIELDS_COUNT + 1];
	/*
	 * An emergency's justification, NUL-terminated, or NULL when the
	 * delivery carried none (a broker that dropped it): the recipient
	 * alerts then, and when it is empty.
	 */
	char *justification;
	size_t justification_len;
};

/*
 * Opens a delivery as recipient self: checks self is listed
 * (ERROR_NOT_RECIPIENT), the sender's signature over the exact manifest
 * bytes received (ERROR_SIGNATURE), each ciphertext against its digest
 * (ERROR_DIGEST), then unwraps, decrypts and unpads (ERROR_DECRYPT), and
 * refuses a plaintext over ENVELOPE_FIELD_MAX (ERROR_TOOBIG: up to a block
 * more seals to the same size, which wire_decode lets through); the same
 * for an emergency's sealed justification (justification_open). shared
 * is envelope_shared_key(sender box_pk, own box_sk). On success the caller
 * frees *out with envelope_opened_free.
 */
WUR int envelope_open(const struct wire_delivery *d, const char *self,
    const uint8_t sender_sign_pk[32], const uint8_t shared[32],
    struct envelope_opened **out);

/* Wipes and frees o; NULL is a no-op. */
void envelope_opened_free(struct envelope_opened *o);

#endif
