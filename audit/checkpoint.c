/*
 * Checkpoints as C2SP signed notes (c2sp.org/signed-note and
 * c2sp.org/tlog-checkpoint) with Ed25519: signing for the broker, parsing
 * and verification for agents and auditors, and the consistency step an
 * agent takes from the checkpoint it trusts to a newer one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "audit/checkpoint.h"

/* "— ": U+2014 EM DASH and a space, which starts every signature line. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN  (sizeof(sig_prefix) - 1)
#define SIG_BLOB_LEN    (CHECKPOINT_KEY_ID_LEN + crypto_sign_BYTES)
#define SIG_ALG_ED25519 0x01 /* signed-note signature type */
#define MAX_SIGNATURES  100  /* as golang.org/x/mod/sumdb/note */

bool
checkpoint_origin_valid(const char *origin)
{
	size_t n = 0;

	for (const char *p = origin; *p != '\0'; p++, n++)
		if (*p <= ' ' || *p > '~' || *p == '+')
			return false;
	return n > 0 && n <= CHECKPOINT_ORIGIN_MAX;
}

void
checkpoint_key_id(const char *name, const uint8_t pk[CHECKPOINT_PK_LEN],
    uint8_t out[CHECKPOINT_KEY_ID_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	static const uint8_t sep[2] = {'\n', SIG_ALG_ED25519};

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pk, CHECKPOINT_PK_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, CHECKPOINT_KEY_ID_LEN);
}

int
checkpoint_sign(const struct checkpoint *cp,
    const uint8_t sk[CHECKPOINT_SK_LEN], char *buf, size_t buflen, size_t *len)
{
	uint8_t pk[CHECKPOINT_PK_LEN], blob[SIG_BLOB_LEN];
	char root[MERKLE_HASH_B64];
	char sig[sodium_base64_ENCODED_LEN(
	    SIG_BLOB_LEN, sodium_base64_VARIANT_ORIGINAL)];
	int body, all;

	*len = 0;
	if (!checkpoint_origin_valid(cp->origin) || cp->size > MERKLE_MAX_SIZE)
		return ERROR_INVAL;
	merkle_hash_to_base64(cp->root, root);
	body = snprintf(
	    buf, buflen, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->size, root);
	if (body < 0 || (size_t)body >= buflen)
		return ERROR_TOOBIG;
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	checkpoint_key_id(cp->origin, pk, blob);
	if (crypto_sign_detached(blob + CHECKPOINT_KEY_ID_LEN, NULL,
	        (const uint8_t *)buf, (size_t)body, sk) != 0)
		return ERROR_CRYPTO;
	sodium_bin2base64(sig, sizeof(sig), blob, sizeof(blob),
	    sodium_base64_VARIANT_ORIGINAL);
	all = snprintf(buf + body, buflen - (size_t)body, "\n%s%s %s\n",
	    sig_prefix, cp->origin, sig);
	if (all < 0 || (size_t)all >= buflen - (size_t)body)
		return ERROR_TOOBIG;
	*len = (size_t)body + (size_t)all;
	return ERROR_OK;
}

int
checkpoint_sign_key(void *sk, const struct checkpoint *cp, char *buf,
    size_t buflen, size_t *len)
{
	return checkpoint_sign(cp, sk, buf, buflen, len);
}

/* The next line of [*p, end): its start and length without the newline. */
static int
next_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (nl == NULL)
		return ERROR_CHECKPOINT;
	*line = *p;
	*n = (size_t)(nl - *p);
	*p = nl + 1;
	return ERROR_OK;
}

/*
 * Splits a signed note into its text (with the final newline) and its
 * signature block, after the last blank line; refuses control characters
 * and a note that is not newline-terminated.
 */
static int
split_note(const char *note, size_t len, size_t *text_len, const char **sigs,
    size_t *sigs_len)
{
	size_t split;

	if (len == 0 || len > CHECKPOINT_MAX || note[len - 1] != '\n')
		return ERROR_CHECKPOINT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)note[i];
		if ((c < ' ' && c != '\n') || c == 0x7f)
			return ERROR_CHECKPOINT;
	}
	for (split = len - 1; split > 0; split--)
		if (note[split - 1] == '\n' && note[split] == '\n')
			break;
	if (split == 0)
		return ERROR_CHECKPOINT;
	*text_len = split;
	*sigs = note + split + 1;
	*sigs_len = len - split - 1;
	return *sigs_len > 0 ? ERROR_OK : ERROR_CHECKPOINT;
}

/* The checkpoint body (c2sp.org/tlog-checkpoint): three lines and extras. */
static int
parse_body(const char *text, size_t len, struct checkpoint *out)
{
	const char *p = text, *end = text + len, *line;
	size_t n;
	uint64_t size = 0;

	memset(out, 0, sizeof(*out));
	if (next_line(&p, end, &line, &n) != 0 || n == 0 ||
	    n > CHECKPOINT_ORIGIN_MAX)
		return ERROR_CHECKPOINT;
	memcpy(out->origin, line, n);
	if (!checkpoint_origin_valid(out->origin))
		return ERROR_CHECKPOINT;
	/* Decimal, no sign, no leading zero but for 0 itself. */
	if (next_line(&p, end, &line, &n) != 0 || n == 0 || n > 19 ||
	    (n > 1 && line[0] == '0'))
		return ERROR_CHECKPOINT;
	for (size_t i = 0; i < n; i++) {
		if (line[i] < '0' || line[i] > '9')
			return ERROR_CHECKPOINT;
		size = size * 10 + (uint64_t)(line[i] - '0');
	}
	if (size > MERKLE_MAX_SIZE)
		return ERROR_CHECKPOINT;
	out->size = size;
	if (next_line(&p, end, &line, &n) != 0 ||
	    merkle_hash_from_base64(line, n, out->root) != 0)
		return ERROR_CHECKPOINT;
	/* Extension lines are allowed and ignored, but never empty. */
	while (p < end) {
		if (next_line(&p, end, &line, &n) != 0 || n == 0)
			return ERROR_CHECKPOINT;
	}
	return ERROR_OK;
}

int
checkpoint_parse(const char *note, size_t len, struct checkpoint *out)
{
	struct checkpoint cp;
	const char *sigs;
	size_t text_len, sigs_len;
	int rc;

	if ((rc = split_note(note, len, &text_len, &sigs, &sigs_len)) != 0 ||
	    (rc = parse_body(note, text_len, &cp)) != 0)
		return rc;
	*out = cp;
	return ERROR_OK;
}

/*
 * One signature line without its newline: "— name base64". Fills name (a
 * valid key name) and the decoded blob.
 */
static int
parse_sig_line(const char *line, size_t n, char name[CHECKPOINT_ORIGIN_MAX + 1],
    uint8_t *blob, size_t blobmax, size_t *blob_len)
{
	const char *sp, *b64, *end = line + n;

	if (n < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
		return ERROR_CHECKPOINT;
	line += SIG_PREFIX_LEN;
	sp = memchr(line, ' ', (size_t)(end - line));
	if (sp == NULL || sp == line ||
	    (size_t)(sp - line) > CHECKPOINT_ORIGIN_MAX)
		return ERROR_CHECKPOINT;
	memcpy(name, line, (size_t)(sp - line));
	name[sp - line] = '\0';
	if (!checkpoint_origin_valid(name))
		return ERROR_CHECKPOINT;
	b64 = sp + 1;
	if (sodium_base642bin(blob, blobmax, b64, (size_t)(end - b64), NULL,
	        blob_len, &sp, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    sp != end || *blob_len <= CHECKPOINT_KEY_ID_LEN)
		return ERROR_CHECKPOINT;
	return ERROR_OK;
}

int
checkpoint_verify(const char *note, size_t len, const char *origin,
    const uint8_t pk[CHECKPOINT_PK_LEN], struct checkpoint *out)
{
	struct checkpoint cp;
	const char *sigs, *p, *end, *line;
	char name[CHECKPOINT_ORIGIN_MAX + 1];
	uint8_t id[CHECKPOINT_KEY_ID_LEN], blob[CHECKPOINT_MAX];
	size_t text_len, sigs_len, n, blob_len;
	int rc, lines = 0, verified = 0;

	if (!checkpoint_origin_valid(origin))
		return ERROR_INVAL;
	if ((rc = split_note(note, len, &text_len, &sigs, &sigs_len)) != 0 ||
	    (rc = parse_body(note, text_len, &cp)) != 0)
		return rc;
	if (strcmp(cp.origin, origin) != 0)
		return ERROR_CHECKPOINT;
	checkpoint_key_id(origin, pk, id);
	for (p = sigs, end = sigs + sigs_len; p < end;) {
		if (next_line(&p, end, &line, &n) != 0 ||
		    ++lines > MAX_SIGNATURES ||
		    parse_sig_line(
		        line, n, name, blob, sizeof(blob), &blob_len) != 0)
			return ERROR_CHECKPOINT;
		if (strcmp(name, origin) != 0 ||
		    memcmp(blob, id, CHECKPOINT_KEY_ID_LEN) != 0)
			continue; /* a cosigner's: not ours to judge */
		if (blob_len != SIG_BLOB_LEN ||
		    crypto_sign_verify_detached(blob + CHECKPOINT_KEY_ID_LEN,
		        (const uint8_t *)note, text_len, pk) != 0)
			return ERROR_SIGNATURE;
		verified = 1;
	}
	if (!verified)
		return ERROR_SIGNATURE;
	*out = cp;
	return ERROR_OK;
}

int
checkpoint_consistent(const struct checkpoint *trusted,
    const struct checkpoint *next, const uint8_t path[][MERKLE_HASH_LEN],
    size_t n)
{
	if (strcmp(trusted->origin, next->origin) != 0 ||
	    next->size < trusted->size)
		return ERROR_CHECKPOINT;
	if (merkle_verify_consistency(trusted->size, next->size, trusted->root,
	        next->root, path, n) != 0)
		return ERROR_CHECKPOINT;
	return ERROR_OK;
}

int
checkpoint_advance(const struct checkpoint *trusted, const char *text,
    size_t len, const uint8_t pk[CHECKPOINT_PK_LEN],
    const uint8_t path[][MERKLE_HASH_LEN], size_t n, struct checkpoint *out)
{
	struct checkpoint next;
	int rc;

	rc = checkpoint_verify(text, len, trusted->origin, pk, &next);
	if (rc != 0)
		return rc;
	rc = checkpoint_consistent(trusted, &next, path, n);
	if (rc != 0)
		return rc;
	*out = next;
	return ERROR_OK;
}
