/*
 * Signed agreements: the agreement note FILE.sig beside an
 * agreement's YAML, a C2SP signed note signed by each agency's guardian
 * key, and the completeness rule. Pure: no streams, no files. Used by
 * `concordat policy sign|verify|install`, the broker and the agents.
 *
 * The note (https://c2sp.org/signed-note) is, byte for byte:
 *
 *	concordat/agreement/v1\n
 *	<agreement id>\n
 *	<version, decimal, no leading zeros>\n
 *	<base64 (standard, padded) of SHA-256 of the YAML file's exact bytes>\n
 *	\n
 *	— <agency>.guardian <base64(keyid 4 || Ed25519 signature 64)>\n
 *	...
 *
 * ("—" is U+2014, bytes E2 80 94). The signature is Ed25519 over the text
 * (the first four lines, final newline included); keyid is the first 4
 * bytes of SHA-256("<agency>.guardian" || 0x0A || 0x01 || public key 32).
 * Signature lines are sorted by agency id, one per guardian; re-signing
 * replaces the guardian's line.
 *
 * Complete: the note's text is that of the YAML (its SHA-256, and the id
 * and version the caller parsed from it), and for every agency in the
 * agreement's `agencies:` there is a line by that agency's guardian key in
 * the keyring that verifies. Lines by keys not in the keyring, bad
 * signatures, malformed or duplicate lines, and guardians of agencies not
 * party to the agreement are reported and never counted.
 */
#ifndef KEYS_AGREEMENT_H
#define KEYS_AGREEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/ident.h"
#include "keys/keys.h"

#define AGREEMENT_ORIGIN    "concordat/agreement/v1"
#define AGREEMENT_SHA_LEN   32
#define AGREEMENT_NOTE_MAX  16384 /* larger notes are refused */
#define AGREEMENT_ID_MAX    1000  /* bytes of the agreement id line */
#define AGREEMENT_MAX_LINES 128   /* signature lines in one note */
#define AGREEMENT_MAX_PARTY 64    /* agencies of one agreement */
#define AGREEMENT_NAME_MAX  64    /* a line's key name as reported */
#define AGREEMENT_KEYID_LEN 4
#define AGREEMENT_SIG_LEN   64
#define AGREEMENT_SUFFIX    ".guardian" /* key name = agency || suffix */

/*
 * The note's text for an agreement: the four lines above. id must be
 * non-empty, at most AGREEMENT_ID_MAX bytes, without a newline or other
 * control character (ERROR_INVAL). *out is malloc'd, NUL terminated (the
 * NUL not counted in *len); the caller frees it.
 */
WUR int agreement_note_text(const char *id, uint64_t version,
    const uint8_t sha[AGREEMENT_SHA_LEN], char **out, size_t *len);

/* The C2SP key id of a guardian: SHA-256(agency ".guardian" 0x0A 0x01 pk)[:4].
 */
void agreement_keyid(const char *agency, const uint8_t pk[KEYS_SIGN_PK],
    uint8_t out[AGREEMENT_KEYID_LEN]);

/*
 * Parses the text of a note: *id (malloc'd, caller frees; may be NULL if
 * not wanted), *version and sha. ERROR_PARSE when the note does not start
 * with a well-formed text and the blank line after it; ERROR_TOOBIG over
 * AGREEMENT_NOTE_MAX.
 */
WUR int agreement_note_parse(const char *note, size_t len, char **id,
    uint64_t *version, uint8_t sha[AGREEMENT_SHA_LEN]);

/*
 * Signs: returns the note with the guardian's line added, or replaced if
 * the note already has a line under the same key name, the other lines
 * kept and all sorted by agency id. note may be NULL (len 0): a new note.
 * The text signed is agreement_note_text(id, version, sha); when an
 * existing note's text differs from it (the YAML changed since), its lines
 * are signatures of other bytes: they are dropped and *dropped (may be
 * NULL) gets their number. guardian must be a guardian key (ERROR_KEY
 * otherwise); an existing note that does not parse is ERROR_PARSE. *out
 * is malloc'd and NUL terminated (not counted in *out_len).
 */
WUR int agreement_note_sign(const char *note, size_t note_len, const char *id,
    uint64_t version, const uint8_t sha[AGREEMENT_SHA_LEN],
    const struct keys_secret *guardian, char **out, size_t *out_len,
    size_t *dropped);

/* Why the note's text is, or is not, the YAML's. */
enum agreement_text {
	AGREEMENT_TEXT_OK = 0,
	AGREEMENT_TEXT_MALFORMED, /* no note text, or not this format */
	AGREEMENT_TEXT_SHA,       /* signed for other bytes than the YAML's */
	AGREEMENT_TEXT_ID,        /* names another agreement id */
	AGREEMENT_TEXT_VERSION,   /* names another version */
};

/* What one signature line is. Only VALID lines are counted. */
enum agreement_line_status {
	AGREEMENT_LINE_VALID = 0,     /* a party's guardian, signature good */
	AGREEMENT_LINE_NOT_PARTY,     /* good, but the agency is not a party */
	AGREEMENT_LINE_UNKNOWN_KEY,   /* no such guardian key in the keyring */
	AGREEMENT_LINE_BAD_SIGNATURE, /* the keyring's key; Ed25519 fails */
	AGREEMENT_LINE_DUPLICATE,     /* a second line under the same name */
	AGREEMENT_LINE_MALFORMED, /* not "— NAME BASE64", or wrong length */
};

struct agreement_line {
	/* The key name as written (bytes outside printable ASCII shown as
	 * '?', truncated to AGREEMENT_NAME_MAX); "" for a malformed line
	 * without one. */
	char name[AGREEMENT_NAME_MAX + 1];
	/* The agency when name is "<valid agency id>.guardian", else "". */
	char agency[IDENT_AGENCY_MAX + 1];
	enum agreement_line_status status;
};

/*
 * The answer of agreement_verify. signed_by and missing partition the
 * agreement's agencies, in the order given; lines are the note's
 * signature lines in the note's order. When text is not OK nothing is
 * counted (every agency is missing) but the lines are still checked
 * against the note's own text, so a caller can say "signed, but for other
 * bytes". Large (about 18 KiB): allocate it, or keep it off small stacks.
 */
struct agreement_check {
	bool complete; /* text OK, nothing missing */
	enum agreement_text text;
	uint8_t sha256[AGREEMENT_SHA_LEN]; /* of the YAML bytes given */
	uint8_t
	    note_sha256[AGREEMENT_SHA_LEN]; /* as the note says (when parsed) */
	uint64_t note_version;              /* as the note says */
	size_t nsigned;
	char signed_by[AGREEMENT_MAX_PARTY][IDENT_AGENCY_MAX + 1];
	size_t nmissing;
	char missing[AGREEMENT_MAX_PARTY][IDENT_AGENCY_MAX + 1];
	size_t nlines;
	struct agreement_line lines[AGREEMENT_MAX_LINES];
	size_t lines_over; /* lines past AGREEMENT_MAX_LINES (not checked) */
};

/*
 * Checks the note against the YAML's bytes, the agreement's id and version
 * (as the caller parsed them from those bytes; id NULL skips the id and
 * version comparison) and its agencies, using the guardian keys of kr
 * (keyring_find_guardian). Returns ERROR_OK when the check was made, out
 * telling the result (out->complete is the answer); ERROR_INVAL when
 * nagencies exceeds AGREEMENT_MAX_PARTY or an agency id is invalid;
 * ERROR_TOOBIG for a note over AGREEMENT_NOTE_MAX (out then says
 * MALFORMED, nothing signed).
 */
WUR int agreement_verify(const void *yaml, size_t yaml_len, const char *note,
    size_t note_len, const char *id, uint64_t version,
    const char *const *agencies, size_t nagencies, const struct keyring *kr,
    struct agreement_check *out);

/* Words for the enums ("signed for other bytes than the file's", ...). */
const char *agreement_text_str(enum agreement_text t);
const char *agreement_line_str(enum agreement_line_status s);

#endif
