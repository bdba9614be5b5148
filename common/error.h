/*
 * The project's one error enum. Library code returns these (negative) values
 * and never prints or exits; callers turn them into words with
 * error_strerror().
 */
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#define WUR __attribute__((warn_unused_result))

enum error {
	ERROR_OK = 0,
	ERROR_NOMEM = -1,          /* out of memory */
	ERROR_IO = -2,             /* read, write or fsync failed (see errno) */
	ERROR_NOENT = -3,          /* file or entry does not exist */
	ERROR_PERM = -4,           /* permissions refused (e.g. 0644 secret) */
	ERROR_INVAL = -5,          /* invalid argument or value */
	ERROR_PARSE = -6,          /* syntax error in a file */
	ERROR_TOOBIG = -7,         /* input larger than allowed */
	ERROR_DECODE = -8,         /* bytes are not a valid message */
	ERROR_UNKNOWN_FIELD = -9,  /* message carries unknown fields */
	ERROR_SIGNATURE = -10,     /* signature does not verify */
	ERROR_DIGEST = -11,        /* ciphertext does not match digest */
	ERROR_DECRYPT = -12,       /* authenticated decryption failed */
	ERROR_NOT_RECIPIENT = -13, /* not listed as a recipient */
	ERROR_GRANT = -14,         /* grant for an unlisted recipient etc. */
	ERROR_SENDER = -15,        /* sender differs from authenticated id */
	ERROR_STALE = -16,         /* created_at outside the allowed window */
	ERROR_REPLAY = -17,        /* msg_id already seen */
	ERROR_PURPOSE = -18,       /* purpose not declared by the policy */
	ERROR_MAPFULL = -19,       /* database full: retry later */
	ERROR_NOSPC = -20,         /* disk full: retry later */
	ERROR_DB = -21,            /* other database failure */
	ERROR_EXISTS = -22,        /* refusing to overwrite */
	ERROR_KEY = -23,           /* malformed key file */
	ERROR_PROOF = -24,         /* Merkle proof does not verify */
	ERROR_CHECKPOINT = -25,    /* checkpoint malformed or inconsistent */
	ERROR_UNKNOWN_AGENCY = -26, /* agency not in the keyring */
	ERROR_CRYPTO = -27,         /* libsodium refused an operation */
	ERROR_TAMPERED = -28,       /* stored data fails its integrity check */
	ERROR_POLICY = -29,         /* policy file has errors */
	ERROR_CONFIG = -30,         /* configuration file has errors */
	ERROR_NOTFOUND = -31,       /* no such record */
	ERROR_EMERGENCY = -32,      /* emergency without reason/justification */
	ERROR_INTERNAL = -33,       /* a bug: should not happen */
	ERROR_RATE = -34,           /* over the allowed rate: retry later */
	ERROR_BUSY = -35,           /* held by another process (a lock) */
	ERROR_LAST = -36
};

/* A static string describing e; never NULL. */
const char *error_strerror(int e);

#endif
