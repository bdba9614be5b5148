/*
 * Signed checkpoints of the audit log: the C2SP tlog-checkpoint format in a
 * C2SP signed note with an Ed25519 signature, and the check an agent makes
 * when a newer checkpoint arrives. Pure: no LMDB and no I/O. The broker
 * signs (through audit.c); agents and auditors verify.
 *
 * A checkpoint note is, byte for byte:
 *
 *	<origin>\n
 *	<tree size in decimal>\n
 *	<base64 of the 32-byte root hash>\n
 *	\n
 *	\xe2\x80\x94 <key name> <base64(key id || signature)>\n
 *
 * where the key name is the origin, the key id is the first four bytes of
 * SHA-256(key name || 0x0A || 0x01 || Ed25519 public key), and the
 * signature is Ed25519 over the first three lines (the note text, with its
 * final newline). The line prefix is an em dash and a space.
 */
#ifndef AUDIT_CHECKPOINT_H
#define AUDIT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/merkle.h"
#include "common/error.h"

#define CHECKPOINT_MAX        4096 /* longest note accepted, in bytes */
#define CHECKPOINT_ORIGIN_MAX 255  /* bytes, without the terminator */
#define CHECKPOINT_KEY_ID_LEN 4
#define CHECKPOINT_PK_LEN     32 /* Ed25519 public key */
#define CHECKPOINT_SK_LEN     64 /* Ed25519 secret key (seed || public) */

/* What a checkpoint says: which log, how many leaves, their root. */
struct checkpoint {
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
};

/*
 * True when origin can name a log and its key: 1 to CHECKPOINT_ORIGIN_MAX
 * bytes of printable ASCII with no space and no '+', e.g.
 * "concordat.example.nhs.uk/west-yorkshire".
 */
bool checkpoint_origin_valid(const char *origin);

/* The signed-note key id of an Ed25519 key named name. */
void checkpoint_key_id(const char *name, const uint8_t pk[CHECKPOINT_PK_LEN],
    uint8_t out[CHECKPOINT_KEY_ID_LEN]);

/*
 * Signs cp with sk (libsodium's 64-byte Ed25519 secret key; its public half
 * gives the key id) and writes the note into buf of size buflen, NUL
 * terminated, with its length without the NUL in *len. ERROR_INVAL for a
 * bad origin or a size beyond MERKLE_MAX_SIZE, ERROR_TOOBIG when buf is too
 * small.
 */
WUR int checkpoint_sign(const struct checkpoint *cp,
    const uint8_t sk[CHECKPOINT_SK_LEN], char *buf, size_t buflen, size_t *len);

/* checkpoint_sign with sk (CHECKPOINT_SK_LEN bytes) as an audit_sign_fn. */
WUR int checkpoint_sign_key(void *sk, const struct checkpoint *cp, char *buf,
    size_t buflen, size_t *len);

/*
 * Parses the note text of len bytes (no terminator needed) into *out
 * without checking any signature: for display only. ERROR_CHECKPOINT when
 * it is not a well-formed checkpoint note.
 */
WUR int checkpoint_parse(const char *text, size_t len, struct checkpoint *out);

/*
 * Parses the note and checks that it is a checkpoint of origin signed by
 * pk under the key name origin. Signatures by other keys (cosigners) are
 * ignored; a signature line with this key's name and id that does not
 * verify, or no such line at all, fails with ERROR_SIGNATURE; a malformed
 * note or another origin with ERROR_CHECKPOINT. *out is filled only on
 * success.
 */
WUR int checkpoint_verify(const char *text, size_t len, const char *origin,
    const uint8_t pk[CHECKPOINT_PK_LEN], struct checkpoint *out);

/*
 * Checks that next extends trusted: same origin, next->size >= trusted->size,
 * and path is a consistency proof from trusted's tree to next's (with equal
 * sizes the roots must be equal and path empty). A log that was rewritten,
 * truncated or forked fails with ERROR_CHECKPOINT. Both checkpoints must
 * already be verified (checkpoint_verify).
 */
WUR int checkpoint_consistent(const struct checkpoint *trusted,
    const struct checkpoint *next, const uint8_t path[][MERKLE_HASH_LEN],
    size_t n);

/*
 * What an agent does when a Proof frame arrives: verify the new note
 * (checkpoint_verify) and its consistency with the one it trusts
 * (checkpoint_consistent). On success *out is the new checkpoint, which the
 * agent may now trust; on failure *out is untouched and trusted stays the
 * one to keep.
 */
WUR int checkpoint_advance(const struct checkpoint *trusted, const char *text,
    size_t len, const uint8_t pk[CHECKPOINT_PK_LEN],
    const uint8_t path[][MERKLE_HASH_LEN], size_t n, struct checkpoint *out);

#endif
