/*
 * Words for the project's error enum, for logs and command-line messages.
 */
#include "common/error.h"

static const char *const messages[] = {
    [0] = "success",
    [-ERROR_NOMEM] = "out of memory",
    [-ERROR_IO] = "input/output error",
    [-ERROR_NOENT] = "no such file",
    [-ERROR_PERM] = "permission refused",
    [-ERROR_INVAL] = "invalid value",
    [-ERROR_PARSE] = "syntax error",
    [-ERROR_TOOBIG] = "too large",
    [-ERROR_DECODE] = "malformed message",
    [-ERROR_UNKNOWN_FIELD] = "message carries unknown fields",
    [-ERROR_SIGNATURE] = "bad signature",
    [-ERROR_DIGEST] = "ciphertext does not match its digest",
    [-ERROR_DECRYPT] = "decryption failed",
    [-ERROR_NOT_RECIPIENT] = "not a listed recipient",
    [-ERROR_GRANT] = "grant for an unlisted recipient",
    [-ERROR_SENDER] = "sender does not match authenticated agency",
    [-ERROR_STALE] = "created_at outside the allowed window",
    [-ERROR_REPLAY] = "message already seen (replay)",
    [-ERROR_PURPOSE] = "purpose not declared by the policy",
    [-ERROR_MAPFULL] = "database full (retry later)",
    [-ERROR_NOSPC] = "no space left on device (retry later)",
    [-ERROR_DB] = "database error",
    [-ERROR_EXISTS] = "already exists",
    [-ERROR_KEY] = "malformed key file",
    [-ERROR_PROOF] = "proof does not verify",
    [-ERROR_CHECKPOINT] = "checkpoint invalid or inconsistent",
    [-ERROR_UNKNOWN_AGENCY] = "agency not in the keyring",
    [-ERROR_CRYPTO] = "cryptographic operation failed",
    [-ERROR_TAMPERED] = "stored data fails its integrity check",
    [-ERROR_POLICY] = "policy has errors",
    [-ERROR_CONFIG] = "configuration has errors",
    [-ERROR_NOTFOUND] = "not found",
    [-ERROR_EMERGENCY] = "emergency without its reason and justification, or "
                         "either without an emergency",
    [-ERROR_INTERNAL] = "internal error",
    [-ERROR_RATE] = "over the agency's rate",
    [-ERROR_BUSY] = "in use by another process",
};

const char *
error_strerror(int e)
{
	if (e > 0 || e <= ERROR_LAST || messages[-e] == 0)
		return "unknown error";
	return messages[-e];
}
