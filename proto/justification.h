/*
 * The sealed emergency justification (DESIGN.md §5): free text about a
 * person, so content, sealed like a field under its own key and wrapped
 * for every recipient. The manifest carries only the reason code and the
 * digest; the broker forwards the sealed text and the recipient's wrap to
 * every recipient it delivers to, whatever the policy withholds.
 *
 *	plaintext:  UTF-8, at most WIRE_JUSTIFICATION_MAX (2,048) bytes,
 *	            sodium_pad to 256-byte blocks
 *	sealed:     XChaCha20-Poly1305 under a random key k, nonce 24 random
 *	            bytes, associated data
 *	            "concordat/justification/v1" || msg_id
 *	digest:     BLAKE2b-256(nonce || ciphertext) in
 *	            Manifest.justification_digest (16)
 *	wrap:       k as a Wrap with field 14, as every field key is wrapped:
 *	            XChaCha20-Poly1305 under crypto_box_beforenm(recipient,
 *	            sender), associated data
 *	            "concordat/wrap/v1" || msg_id || 0x0E || recipient
 */
#ifndef PROTO_JUSTIFICATION_H
#define PROTO_JUSTIFICATION_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "proto/wire.h"

#define JUSTIFICATION_AD "concordat/justification/v1"

/*
 * A sealed justification. The key is secret: keep the struct in guarded
 * memory (sodium_malloc) and wipe it.
 */
struct justification_sealed {
	uint8_t key[WIRE_KEY_LEN];
	uint8_t nonce[WIRE_NONCE_LEN];
	uint8_t ct[WIRE_JUSTIFICATION_SEALED_MAX];
	size_t ct_len;
	uint8_t digest[WIRE_DIGEST_LEN];
	uint8_t padded[WIRE_JUSTIFICATION_MAX + WIRE_PAD_BLOCK];
};

/*
 * Seals len bytes of text (len may be 0; at most WIRE_JUSTIFICATION_MAX,
 * else ERROR_TOOBIG) for msg_id under a new random key, into *out.
 */
WUR int justification_seal(const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *text, size_t len, struct justification_sealed *out);

/* BLAKE2b-256(nonce || ct). */
void justification_digest(uint8_t out[WIRE_DIGEST_LEN],
    const uint8_t nonce[WIRE_NONCE_LEN], const uint8_t *ct, size_t ct_len);

/*
 * Wraps key for recipient under shared (envelope_shared_key) into *out:
 * a new random nonce and key || tag.
 */
WUR int justification_wrap(const uint8_t msg_id[WIRE_MSG_ID_LEN],
    const char *recipient, const uint8_t key[WIRE_KEY_LEN],
    const uint8_t shared[32], struct wire_wrap *out);

/*
 * The ciphertext of e's sealed justification matches the manifest's
 * digest (ERROR_DIGEST) and every grant carries its wrap (ERROR_GRANT);
 * nothing to check on a message that is not an emergency (wire_decode has
 * already refused a justification there).
 */
WUR int justification_verify(
    const struct wire_envelope *e, char *why, size_t whylen);

/*
 * Opens d's sealed justification as recipient self: checks the ciphertext
 * against the manifest's digest (ERROR_DIGEST), unwraps the key with shared
 * and decrypts under the associated data above (ERROR_DECRYPT), unpads
 * (ERROR_DECRYPT) and refuses more than WIRE_JUSTIFICATION_MAX bytes
 * (ERROR_TOOBIG) or a NUL byte (ERROR_DECODE). On success *text is a new
 * NUL-terminated string (malloc; the caller frees it with wipe_free,
 * common/wipe.h, which wipes it first) of *len bytes, which may be 0: an empty
 * justification, the recipient's to alert on. ERROR_NOENT when d carries
 * none (a message that is not an emergency, or a broker that dropped it).
 */
WUR int justification_open(const struct wire_delivery *d, const char *self,
    const uint8_t shared[32], char **text, size_t *len);

#endif
