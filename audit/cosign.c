/*
 * C2SP tlog-cosignature/v1 for the witnessed log (DESIGN.md §7): agents
 * cosign, the broker checks what it keeps, `concordat audit verify
 * --witnesses` checks what it reads. Format in cosign.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit/cosign.h"

static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN      (sizeof(sig_prefix) - 1)
#define SIG_ALG_COSIGNATURE 0x04 /* signed-note type: timestamped Ed25519 */
#define BLOB_LEN            (COSIGN_KEY_ID_LEN + 8 + COSIGN_SIG_LEN)

void
cosign_name(const char *agency, char out[COSIGN_NAME_MAX])
{
	snprintf(out, COSIGN_NAME_MAX, "%s%s", COSIGN_PREFIX, agency);
}

void
cosign_key_id(const char *name, const uint8_t pk[CHECKPOINT_PK_LEN],
    uint8_t out[COSIGN_KEY_ID_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	static const uint8_t sep[2] = {'\n', SIG_ALG_COSIGNATURE};

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pk, CHECKPOINT_PK_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, COSIGN_KEY_ID_LEN);
}

int
cosign_message(const struct checkpoint *cp, uint64_t timestamp, char *buf,
    size_t buflen, size_t *len)
{
	char root[MERKLE_HASH_B64];
	int n;

	*len = 0;
	if (!checkpoint_origin_valid(cp->origin) || cp->size > MERKLE_MAX_SIZE)
		return ERROR_INVAL;
	merkle_hash_to_base64(cp->root, root);
	n = snprintf(buf, buflen,
	    "cosignature/v1\ntime %" PRIu64 "\n%s\n%" PRIu64 "\n%s\n",
	    timestamp, cp->origin, cp->size, root);
	if (n < 0 || (size_t)n >= buflen)
		return ERROR_TOOBIG;
	*len = (size_t)n;
	return ERROR_OK;
}

int
cosign_sign(const struct checkpoint *cp, uint64_t timestamp,
    const uint8_t sk[CHECKPOINT_SK_LEN], uint8_t sig[COSIGN_SIG_LEN])
{
	char msg[COSIGN_MSG_MAX];
	size_t len;
	int rc;

	if ((rc = cosign_message(cp, timestamp, msg, sizeof(msg), &len)) != 0)
		return rc;
	if (crypto_sign_detached(sig, NULL, (const uint8_t *)msg, len, sk) != 0)
		return ERROR_CRYPTO;
	return ERROR_OK;
}

int
cosign_verify(const struct checkpoint *cp, uint64_t timestamp,
    const uint8_t pk[CHECKPOINT_PK_LEN], const uint8_t sig[COSIGN_SIG_LEN])
{
	char msg[COSIGN_MSG_MAX];
	size_t len;

	if (cosign_message(cp, timestamp, msg, sizeof(msg), &len) != 0)
		return ERROR_SIGNATURE;
	if (crypto_sign_verify_detached(sig, (const uint8_t *)msg, len, pk) !=
	    0)
		return ERROR_SIGNATURE;
	return ERROR_OK;
}

int
cosign_line(const char *agency, const uint8_t pk[CHECKPOINT_PK_LEN],
    uint64_t timestamp, const uint8_t sig[COSIGN_SIG_LEN], char *buf,
    size_t buflen, size_t *len)
{
	char name[COSIGN_NAME_MAX];
	char b64[sodium_base64_ENCODED_LEN(
	    BLOB_LEN, sodium_base64_VARIANT_ORIGINAL)];
	uint8_t blob[BLOB_LEN];
	int n;

	*len = 0;
	cosign_name(agency, name);
	cosign_key_id(name, pk, blob);
	for (int i = 0; i < 8; i++)
		blob[COSIGN_KEY_ID_LEN + i] =
		    (uint8_t)(timestamp >> (8 * (7 - i)));
	memcpy(blob + COSIGN_KEY_ID_LEN + 8, sig, COSIGN_SIG_LEN);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob),
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(buf, buflen, "%s%s %s\n", sig_prefix, name, b64);
	if (n < 0 || (size_t)n >= buflen)
		return ERROR_TOOBIG;
	*len = (size_t)n;
	return ERROR_OK;
}

int
cosign_parse_line(const char *line, size_t len, char name[COSIGN_NAME_MAX],
    uint8_t key_id[COSIGN_KEY_ID_LEN], uint64_t *timestamp,
    uint8_t sig[COSIGN_SIG_LEN])
{
	char b64[256];
	uint8_t blob[BLOB_LEN + 1];
	const char *sp, *end = line + len;
	size_t got, nlen;

	if (len > 0 && line[len - 1] == '\n')
		end--;
	if ((size_t)(end - line) < SIG_PREFIX_LEN ||
	    memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
		return ERROR_CHECKPOINT;
	line += SIG_PREFIX_LEN;
	sp = memchr(line, ' ', (size_t)(end - line));
	if (sp == NULL || sp == line ||
	    (nlen = (size_t)(sp - line)) >= COSIGN_NAME_MAX ||
	    (size_t)(end - sp - 1) >= sizeof(b64))
		return ERROR_CHECKPOINT;
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	memcpy(b64, sp + 1, (size_t)(end - sp - 1));
	b64[end - sp - 1] = '\0';
	if (sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &got,
	        NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != BLOB_LEN)
		return ERROR_CHECKPOINT;
	memcpy(key_id, blob, COSIGN_KEY_ID_LEN);
	*timestamp = 0;
	for (int i = 0; i < 8; i++)
		*timestamp = *timestamp << 8 | blob[COSIGN_KEY_ID_LEN + i];
	memcpy(sig, blob + COSIGN_KEY_ID_LEN + 8, COSIGN_SIG_LEN);
	return ERROR_OK;
}
