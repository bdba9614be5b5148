/*
 * Break-glass reviews: the signed ReviewBody bytes, the signature, the
 * Review frame, the review file (JSON) and the review's members of an
 * AuditEvent (30 to 38). Called by the audit verbs, the agent, the broker
 * and audit/review.c; event.c and wire.c call the _ functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "proto/event.h"
#include "proto/pbutil.h"
#include "proto/review.h"
#include "proto/wire_int.h"

#define REVIEW_VERSION 1
#define WHY(...)       pbutil_why(why, whylen, ERROR_DECODE, __VA_ARGS__)

static const char *const outcomes[] = {
    NULL, "justified", "not_justified", "needs_follow_up"};
#define N_OUTCOMES (sizeof(outcomes) / sizeof(outcomes[0]))

const char *
review_outcome_name(uint32_t outcome)
{
	return outcome >= 1 && outcome < N_OUTCOMES ? outcomes[outcome] : "?";
}

uint32_t
review_outcome_parse(const char *s)
{
	for (uint32_t i = 1; i < N_OUTCOMES; i++)
		if (strcmp(s, outcomes[i]) == 0)
			return i;
	return 0;
}

/* "xxxx:xxxx:...": eight groups of four lower-case hex digits. */
static bool
fingerprint_ok(const char *s)
{
	if (strlen(s) != REVIEW_FINGERPRINT_LEN - 1)
		return false;
	for (size_t i = 0; i < REVIEW_FINGERPRINT_LEN - 1; i++) {
		bool colon = i % 5 == 4;
		if (colon ? s[i] != ':'
		          : !((s[i] >= '0' && s[i] <= '9') ||
		                (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* Well-formed UTF-8 (RFC 3629) without control characters. */
static bool
text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != 0) {
		size_t n = *p < 0x80                    ? 0
		    : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 1
		    : (*p & 0xf0) == 0xe0               ? 2
		    : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 3
		                                        : 4;
		if (n == 4 || (n == 0 && (*p < 0x20 || *p == 0x7f)))
			return false;
		for (size_t i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n + 1;
	}
	return true;
}

int
review_check(const struct review *r, char *why, size_t whylen)
{
	size_t n = strlen(r->reviewer);

	if (!ident_agency_valid(r->agency))
		return pbutil_why(
		    why, whylen, ERROR_INVAL, "review names no valid agency");
	if (review_outcome_name(r->outcome)[0] == '?')
		return pbutil_why(why, whylen, ERROR_INVAL,
		    "unknown outcome %u (justified, not_justified or "
		    "needs_follow_up)",
		    (unsigned)r->outcome);
	if (n == 0 || n > REVIEW_REVIEWER_MAX || !text_ok(r->reviewer))
		return pbutil_why(why, whylen, ERROR_INVAL,
		    "reviewer must be 1 to %d bytes of text without control "
		    "characters",
		    REVIEW_REVIEWER_MAX);
	if (!fingerprint_ok(r->guardian))
		return pbutil_why(why, whylen, ERROR_INVAL,
		    "review's guardian is not a key fingerprint");
	return ERROR_OK;
}

int
review_body_encode(const struct review *r, uint8_t **out, size_t *len)
{
	Concordat__ReviewBody b = CONCORDAT__REVIEW_BODY__INIT;

	b.has_version = 1;
	b.version = REVIEW_VERSION;
	b.has_review_id = 1;
	b.review_id.data = (uint8_t *)(uintptr_t)r->review_id;
	b.review_id.len = REVIEW_ID_LEN;
	b.agency = (char *)(uintptr_t)r->agency;
	b.has_leaf_seq = 1;
	b.leaf_seq = r->leaf_seq;
	b.has_leaf_hash = 1;
	b.leaf_hash.data = (uint8_t *)(uintptr_t)r->leaf_hash;
	b.leaf_hash.len = REVIEW_HASH_LEN;
	b.has_outcome = 1;
	b.outcome = r->outcome;
	b.reviewer = (char *)(uintptr_t)r->reviewer;
	b.has_reviewed_at_ms = 1;
	b.reviewed_at_ms = r->reviewed_at_ms;
	if (r->has_note_digest) {
		b.has_note_digest = 1;
		b.note_digest.data = (uint8_t *)(uintptr_t)r->note_digest;
		b.note_digest.len = REVIEW_HASH_LEN;
	}
	b.guardian = (char *)(uintptr_t)r->guardian;
	return pbutil_pack(&b.base, out, len);
}

/* REVIEW_CONTEXT || body, malloc'd. */
static int
signed_text(const struct review *r, uint8_t **out, size_t *len)
{
	uint8_t *body = NULL, *msg;
	size_t blen, clen = strlen(REVIEW_CONTEXT);
	int rc;

	if ((rc = review_body_encode(r, &body, &blen)) != 0)
		return rc;
	if ((msg = malloc(clen + blen)) == NULL) {
		free(body);
		return ERROR_NOMEM;
	}
	memcpy(msg, REVIEW_CONTEXT, clen);
	memcpy(msg + clen, body, blen);
	free(body);
	*out = msg;
	*len = clen + blen;
	return ERROR_OK;
}

int
review_sign(struct review *r, const uint8_t sk[64])
{
	uint8_t *msg;
	size_t len;
	int rc;

	if ((rc = signed_text(r, &msg, &len)) != 0)
		return rc;
	crypto_sign_detached(r->signature, NULL, msg, len, sk);
	free(msg);
	return ERROR_OK;
}

int
review_verify(const struct review *r, const uint8_t pk[32])
{
	uint8_t *msg;
	size_t len;
	int rc;

	if ((rc = signed_text(r, &msg, &len)) != 0)
		return rc;
	rc = crypto_sign_verify_detached(r->signature, msg, len, pk) == 0
	    ? ERROR_OK
	    : ERROR_SIGNATURE;
	free(msg);
	return rc;
}

int
review_frame_encode(const struct review *r, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Review pr = CONCORDAT__REVIEW__INIT;
	uint8_t *body;
	size_t blen;
	int rc;

	if ((rc = review_body_encode(r, &body, &blen)) != 0)
		return rc;
	pr.has_body = 1;
	pr.body.data = body;
	pr.body.len = blen;
	pr.has_signature = 1;
	pr.signature.data = (uint8_t *)(uintptr_t)r->signature;
	pr.signature.len = REVIEW_SIG_LEN;
	f.body_case = CONCORDAT__FRAME__BODY_REVIEW;
	f.review = &pr;
	rc = pbutil_pack(&f.base, out, len);
	free(body);
	return rc;
}

/*
 * A Review frame's body into *r: every member present (the note digest
 * optional), of its length, and the bytes exactly those review_body_encode
 * writes back, so that one encoding is signed and verify may rebuild it
 * from an audit event. The outcome is not checked here (review_check).
 */
int
wire_decode_review_(
    const Concordat__Review *pr, struct review *r, char *why, size_t whylen)
{
	ProtobufCMessage *pb = NULL;
	Concordat__ReviewBody *b;
	uint8_t *again = NULL;
	size_t alen;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!pr->has_body || !pr->has_signature ||
	    pbutil_bytes(r->signature, REVIEW_SIG_LEN, pr->signature) != 0)
		return WHY("review without a body or a 64-byte signature");
	if (pbutil_unpack(&concordat__review_body__descriptor, pr->body.data,
	        pr->body.len, "review body", &pb, why, whylen) != 0)
		return ERROR_DECODE;
	b = (Concordat__ReviewBody *)pb;
	rc = ERROR_DECODE;
	if (pbutil_has_unknown(&b->base)) {
		(void)WHY("review body carries unknown fields");
		goto out;
	}
	if (!b->has_version || b->version != REVIEW_VERSION) {
		(void)WHY("review body of an unknown version");
		goto out;
	}
	if (!b->has_review_id || !b->has_leaf_seq || !b->has_leaf_hash ||
	    !b->has_outcome || !b->has_reviewed_at_ms ||
	    pbutil_bytes(r->review_id, REVIEW_ID_LEN, b->review_id) != 0 ||
	    pbutil_bytes(r->leaf_hash, REVIEW_HASH_LEN, b->leaf_hash) != 0 ||
	    pbutil_str(r->agency, sizeof(r->agency), b->agency) != 0 ||
	    pbutil_str(r->reviewer, sizeof(r->reviewer), b->reviewer) != 0 ||
	    pbutil_str(r->guardian, sizeof(r->guardian), b->guardian) != 0 ||
	    (b->has_note_digest &&
	        pbutil_bytes(r->note_digest, REVIEW_HASH_LEN, b->note_digest) !=
	            0)) {
		(void)WHY("review body with a member missing or of a bad "
		          "length");
		goto out;
	}
	r->leaf_seq = b->leaf_seq;
	r->outcome = b->outcome;
	r->reviewed_at_ms = b->reviewed_at_ms;
	r->has_note_digest = b->has_note_digest;
	if (review_body_encode(r, &again, &alen) != 0 || alen != pr->body.len ||
	    memcmp(again, pr->body.data, alen) != 0) {
		(void)WHY("review body is not in its one encoding");
		goto out;
	}
	rc = ERROR_OK;
out:
	free(again);
	pbutil_free(pb);
	return rc;
}

/* ---------------------------------------------- the AuditEvent members */

void
review_event_pack_(const struct event *ev, Concordat__AuditEvent *m)
{
	const struct review *r = &ev->review;

	if (ev->type != EVENT_BREAKGLASS_REVIEWED)
		return;
	m->has_review_seq = 1;
	m->review_seq = r->leaf_seq;
	m->has_review_leaf_hash = 1;
	m->review_leaf_hash.data = (uint8_t *)(uintptr_t)r->leaf_hash;
	m->review_leaf_hash.len = REVIEW_HASH_LEN;
	m->has_review_outcome = 1;
	m->review_outcome = r->outcome;
	m->reviewer = (char *)(uintptr_t)r->reviewer;
	if (r->has_note_digest) {
		m->has_review_note_digest = 1;
		m->review_note_digest.data =
		    (uint8_t *)(uintptr_t)r->note_digest;
		m->review_note_digest.len = REVIEW_HASH_LEN;
	}
	m->review_guardian = (char *)(uintptr_t)r->guardian;
	m->has_review_signature = 1;
	m->review_signature.data = (uint8_t *)(uintptr_t)r->signature;
	m->review_signature.len = REVIEW_SIG_LEN;
	m->has_reviewed_at_ms = 1;
	m->reviewed_at_ms = r->reviewed_at_ms;
	m->has_review_id = 1;
	m->review_id.data = (uint8_t *)(uintptr_t)r->review_id;
	m->review_id.len = REVIEW_ID_LEN;
}

int
review_event_unpack_(const Concordat__AuditEvent *m, struct event *ev)
{
	struct review *r = &ev->review;
	bool any = m->has_review_seq || m->has_review_leaf_hash ||
	    m->has_review_outcome || m->reviewer != NULL ||
	    m->has_review_note_digest || m->review_guardian != NULL ||
	    m->has_review_signature || m->has_reviewed_at_ms ||
	    m->has_review_id;

	if (ev->type != EVENT_BREAKGLASS_REVIEWED)
		return any ? ERROR_DECODE : ERROR_OK;
	if (!m->has_review_seq || !m->has_review_leaf_hash ||
	    !m->has_review_outcome || !m->has_review_signature ||
	    !m->has_reviewed_at_ms || !m->has_review_id ||
	    pbutil_bytes(r->leaf_hash, REVIEW_HASH_LEN, m->review_leaf_hash) !=
	        0 ||
	    pbutil_bytes(r->signature, REVIEW_SIG_LEN, m->review_signature) !=
	        0 ||
	    pbutil_bytes(r->review_id, REVIEW_ID_LEN, m->review_id) != 0 ||
	    pbutil_str(r->reviewer, sizeof(r->reviewer), m->reviewer) != 0 ||
	    pbutil_str(r->guardian, sizeof(r->guardian), m->review_guardian) !=
	        0 ||
	    (m->has_review_note_digest &&
	        pbutil_bytes(r->note_digest, REVIEW_HASH_LEN,
	            m->review_note_digest) != 0))
		return ERROR_DECODE;
	r->leaf_seq = m->review_seq;
	r->outcome = m->review_outcome;
	r->reviewed_at_ms = m->reviewed_at_ms;
	r->has_note_digest = m->has_review_note_digest;
	snprintf(r->agency, sizeof(r->agency), "%s", ev->sender);
	return ERROR_OK;
}

/* ------------------------------------------------------- the file */

static json_t *
hex_json(const uint8_t *b, size_t n)
{
	char hex[2 * REVIEW_HASH_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), b, n);
	return json_string(hex);
}

json_t *
review_json(const struct review *r)
{
	char sig[sodium_base64_ENCODED_LEN(
	    REVIEW_SIG_LEN, sodium_base64_VARIANT_ORIGINAL)];
	json_t *o;

	sodium_bin2base64(sig, sizeof(sig), r->signature, REVIEW_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	o = json_pack("{s:s,s:o,s:s,s:I,s:o,s:s,s:s,s:I}", "concordat",
	    "review/v1", "review_id", hex_json(r->review_id, REVIEW_ID_LEN),
	    "agency", r->agency, "leaf_seq", (json_int_t)r->leaf_seq,
	    "leaf_hash", hex_json(r->leaf_hash, REVIEW_HASH_LEN), "outcome",
	    review_outcome_name(r->outcome), "reviewer", r->reviewer,
	    "reviewed_at_ms", (json_int_t)r->reviewed_at_ms);
	if (o == NULL)
		return NULL;
	if (r->has_note_digest)
		json_object_set_new(o, "note_digest",
		    hex_json(r->note_digest, REVIEW_HASH_LEN));
	json_object_set_new(o, "guardian", json_string(r->guardian));
	json_object_set_new(o, "signature", json_string(sig));
	return o;
}

int
review_file_encode(const struct review *r, char **out)
{
	json_t *o = review_json(r);
	char *text;

	if (o == NULL)
		return ERROR_NOMEM;
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return ERROR_NOMEM;
	size_t n = strlen(text);
	if ((*out = malloc(n + 2)) == NULL) {
		free(text);
		return ERROR_NOMEM;
	}
	memcpy(*out, text, n);
	(*out)[n] = '\n';
	(*out)[n + 1] = '\0';
	free(text);
	return ERROR_OK;
}

/* Member key of o, exactly n bytes as 2n lower-case hex digits. */
static int
get_hex(json_t *o, const char *key, uint8_t *out, size_t n, char *why,
    size_t whylen)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t got = 0;

	if (s == NULL || strlen(s) != 2 * n ||
	    sodium_hex2bin(out, n, s, 2 * n, NULL, &got, NULL) != 0 || got != n)
		return WHY("member '%s' must be %zu hex digits", key, 2 * n);
	return ERROR_OK;
}

static int
get_str(
    json_t *o, const char *key, char *out, size_t n, char *why, size_t whylen)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || strlen(s) >= n)
		return WHY("member '%s' must be a string of at most %zu bytes",
		    key, n - 1);
	memcpy(out, s, strlen(s) + 1);
	return ERROR_OK;
}

static int
get_u64(json_t *o, const char *key, uint64_t *out, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return WHY("member '%s' must be a whole number", key);
	*out = (uint64_t)json_integer_value(v);
	return ERROR_OK;
}

static const char *const members[] = {"concordat", "review_id", "agency",
    "leaf_seq", "leaf_hash", "outcome", "reviewer", "reviewed_at_ms",
    "note_digest", "guardian", "signature"};

static int
decode_members(json_t *o, struct review *r, char *why, size_t whylen)
{
	const char *key, *s;
	json_t *v;
	char sig[128];
	size_t got = 0;
	int rc;

	json_object_foreach(o, key, v)
	{
		size_t i = 0;
		while (i < sizeof(members) / sizeof(members[0]) &&
		    strcmp(key, members[i]) != 0)
			i++;
		if (i == sizeof(members) / sizeof(members[0]))
			return WHY("unknown member '%.64s'", key);
	}
	s = json_string_value(json_object_get(o, "concordat"));
	if (s == NULL || strcmp(s, "review/v1") != 0)
		return WHY("member 'concordat' must be \"review/v1\"");
	if ((rc = get_hex(o, "review_id", r->review_id, REVIEW_ID_LEN, why,
	         whylen)) != 0 ||
	    (rc = get_str(o, "agency", r->agency, sizeof(r->agency), why,
	         whylen)) != 0 ||
	    (rc = get_u64(o, "leaf_seq", &r->leaf_seq, why, whylen)) != 0 ||
	    (rc = get_hex(o, "leaf_hash", r->leaf_hash, REVIEW_HASH_LEN, why,
	         whylen)) != 0 ||
	    (rc = get_str(o, "reviewer", r->reviewer, sizeof(r->reviewer), why,
	         whylen)) != 0 ||
	    (rc = get_u64(
	         o, "reviewed_at_ms", &r->reviewed_at_ms, why, whylen)) != 0 ||
	    (rc = get_str(o, "guardian", r->guardian, sizeof(r->guardian), why,
	         whylen)) != 0 ||
	    (rc = get_str(o, "signature", sig, sizeof(sig), why, whylen)) != 0)
		return rc;
	if (json_object_get(o, "note_digest") != NULL) {
		if ((rc = get_hex(o, "note_digest", r->note_digest,
		         REVIEW_HASH_LEN, why, whylen)) != 0)
			return rc;
		r->has_note_digest = true;
	}
	s = json_string_value(json_object_get(o, "outcome"));
	if (s == NULL || (r->outcome = review_outcome_parse(s)) == 0)
		return WHY("member 'outcome' must be justified, not_justified "
		           "or needs_follow_up");
	if (sodium_base642bin(r->signature, REVIEW_SIG_LEN, sig, strlen(sig),
	        NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != REVIEW_SIG_LEN)
		return WHY("member 'signature' must be 64 bytes in base64");
	return ERROR_OK;
}

int
review_file_decode(
    const uint8_t *buf, size_t len, struct review *r, char *why, size_t whylen)
{
	json_error_t err;
	json_t *o;
	int rc;

	memset(r, 0, sizeof(*r));
	if (len > REVIEW_FILE_MAX)
		return WHY("review file of %zu bytes: at most %d", len,
		    REVIEW_FILE_MAX);
	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
	if (o == NULL)
		return WHY(
		    "not JSON (line %d, column %d)", err.line, err.column);
	if (!json_is_object(o))
		rc = WHY("not a JSON object");
	else if ((rc = decode_members(o, r, why, whylen)) == 0 &&
	    review_check(r, why, whylen) != 0)
		rc = ERROR_DECODE;
	json_decref(o);
	if (rc != 0)
		memset(r, 0, sizeof(*r));
	return rc;
}
