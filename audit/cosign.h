/*
 * Cosignatures on the broker's checkpoints (C2SP tlog-cosignature/v1):
 * what an agency's agent signs, with its agency's sign key, once it has
 * checked a checkpoint, and what the broker, the other agencies and an
 * auditor verify. Pure: no LMDB and no I/O (auditproof).
 *
 * The signed message is, byte for byte:
 *
 *	cosignature/v1\n
 *	time <timestamp in decimal>\n
 *	<origin>\n
 *	<tree size in decimal>\n
 *	<base64 of the 32-byte root hash>\n
 *
 * (the header, then the checkpoint's note text), signed with Ed25519. The
 * cosigner's name is "concordat/witness/<agency>"; its key id is the first
 * four bytes of SHA-256(name || 0x0A || 0x04 || Ed25519 public key), and
 * its signature line in a note is
 *
 *	\xe2\x80\x94 <name> <base64(key id || timestamp, 8 bytes big-endian ||
 *	signature, 64 bytes)>\n
 *
 * The timestamp is in seconds since the epoch.
 */
#ifndef AUDIT_COSIGN_H
#define AUDIT_COSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/checkpoint.h"
#include "common/error.h"

#define COSIGN_PREFIX     "concordat/witness/"
#define COSIGN_NAME_MAX   64 /* "concordat/witness/" and an agency id, NUL */
#define COSIGN_SIG_LEN    64
#define COSIGN_KEY_ID_LEN 4
#define COSIGN_MSG_MAX    (CHECKPOINT_ORIGIN_MAX + 128)
/* "— ", the name, a space, base64 of 76 bytes (104), "\n" and a NUL */
#define COSIGN_LINE_MAX (4 + COSIGN_NAME_MAX + 1 + 104 + 2)

/* The cosigner name of agency: "concordat/witness/<agency>". */
void cosign_name(const char *agency, char out[COSIGN_NAME_MAX]);

/* The cosignature key id of the Ed25519 key pk named name. */
void cosign_key_id(const char *name, const uint8_t pk[CHECKPOINT_PK_LEN],
    uint8_t out[COSIGN_KEY_ID_LEN]);

/*
 * The signed message for cp at timestamp into buf (buflen bytes, at least
 * COSIGN_MSG_MAX is enough), NUL terminated, its length without the NUL
 * in *len. ERROR_INVAL for a bad origin, ERROR_TOOBIG when buf is short.
 */
WUR int cosign_message(const struct checkpoint *cp, uint64_t timestamp,
    char *buf, size_t buflen, size_t *len);

/*
 * Cosigns cp at timestamp with sk (libsodium's 64-byte Ed25519 secret
 * key) into sig.
 */
WUR int cosign_sign(const struct checkpoint *cp, uint64_t timestamp,
    const uint8_t sk[CHECKPOINT_SK_LEN], uint8_t sig[COSIGN_SIG_LEN]);

/* 0 when sig is pk's cosignature of cp at timestamp; ERROR_SIGNATURE. */
WUR int cosign_verify(const struct checkpoint *cp, uint64_t timestamp,
    const uint8_t pk[CHECKPOINT_PK_LEN], const uint8_t sig[COSIGN_SIG_LEN]);

/*
 * The note signature line of agency's cosignature (key pk) into buf,
 * NUL terminated, with its final newline; *len without the NUL.
 */
WUR int cosign_line(const char *agency, const uint8_t pk[CHECKPOINT_PK_LEN],
    uint64_t timestamp, const uint8_t sig[COSIGN_SIG_LEN], char *buf,
    size_t buflen, size_t *len);

/*
 * Parses one signature line (with or without its newline) as a
 * cosignature: the name after the dash into name (COSIGN_NAME_MAX), the
 * key id, timestamp and signature. ERROR_CHECKPOINT when it is not one
 * (another kind of signature, or malformed).
 */
WUR int cosign_parse_line(const char *line, size_t len,
    char name[COSIGN_NAME_MAX], uint8_t key_id[COSIGN_KEY_ID_LEN],
    uint64_t *timestamp, uint8_t sig[COSIGN_SIG_LEN]);

#endif
