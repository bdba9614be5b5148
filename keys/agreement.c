/*
 * The agreement note (keys/agreement.h): its text, guardians' signature
 * lines added and checked, and the completeness rule. C2SP signed-note
 * (https://c2sp.org/signed-note) with Ed25519 keys of type 0x01.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/agreement.h"

#define DASH     "\xE2\x80\x94 " /* U+2014 and a space */
#define DASH_LEN 4
#define SIGB_LEN (AGREEMENT_KEYID_LEN + AGREEMENT_SIG_LEN)
#define B64_MAX  256 /* a signature's base64, decoded at most this long */

/* One signature line of a note, pointing into the note's bytes. */
struct rawline {
	const char *line; /* from the dash, without its newline */
	size_t len;
	const char *name; /* NULL when the line does not parse */
	size_t name_len;
	uint8_t sig[B64_MAX];
	size_t sig_len;
};

/* A parsed note: its text and its signature lines. */
struct note {
	const char *text;
	size_t text_len;
	const char *id;
	size_t id_len;
	uint64_t version;
	uint8_t sha[AGREEMENT_SHA_LEN];
	size_t nlines, over;
	struct rawline *lines; /* AGREEMENT_MAX_LINES, malloc'd */
};

static bool
id_text_ok(const char *id, size_t n)
{
	if (n == 0 || n > AGREEMENT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int
agreement_note_text(const char *id, uint64_t version,
    const uint8_t sha[AGREEMENT_SHA_LEN], char **out, size_t *len)
{
	char b64[sodium_base64_ENCODED_LEN(
	    AGREEMENT_SHA_LEN, sodium_base64_VARIANT_ORIGINAL)];
	size_t idlen = id != NULL ? strlen(id) : 0, cap;
	char *t;
	int n;

	*out = NULL;
	*len = 0;
	if (id == NULL || !id_text_ok(id, idlen))
		return ERROR_INVAL;
	sodium_bin2base64(b64, sizeof(b64), sha, AGREEMENT_SHA_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	cap = sizeof(AGREEMENT_ORIGIN) + idlen + 24 + sizeof(b64) + 4;
	if ((t = malloc(cap)) == NULL)
		return ERROR_NOMEM;
	n = snprintf(t, cap, "%s\n%s\n%" PRIu64 "\n%s\n", AGREEMENT_ORIGIN, id,
	    version, b64);
	if (n < 0 || (size_t)n >= cap) {
		free(t);
		return ERROR_INTERNAL;
	}
	*out = t;
	*len = (size_t)n;
	return ERROR_OK;
}

void
agreement_keyid(const char *agency, const uint8_t pk[KEYS_SIGN_PK],
    uint8_t out[AGREEMENT_KEYID_LEN])
{
	static const uint8_t sep[2] = {0x0A, 0x01};
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)agency, strlen(agency));
	crypto_hash_sha256_update(&st, (const uint8_t *)AGREEMENT_SUFFIX,
	    sizeof(AGREEMENT_SUFFIX) - 1);
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pk, KEYS_SIGN_PK);
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, AGREEMENT_KEYID_LEN);
}

/* The next line of buf[*off..len), without its newline; false at the end or
 * when the last line has no newline (*nl false then, the rest returned). */
static bool
next_line(const char *buf, size_t len, size_t *off, const char **line,
    size_t *n, bool *nl)
{
	const char *p, *e;

	if (*off >= len)
		return false;
	p = buf + *off;
	e = memchr(p, '\n', len - *off);
	*line = p;
	*nl = e != NULL;
	*n = e != NULL ? (size_t)(e - p) : len - *off;
	*off += *n + (e != NULL);
	return true;
}

static bool
parse_version(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

static bool
parse_sha(const char *s, size_t n, uint8_t sha[AGREEMENT_SHA_LEN])
{
	char again[sodium_base64_ENCODED_LEN(
	    AGREEMENT_SHA_LEN, sodium_base64_VARIANT_ORIGINAL)];
	size_t got = 0;

	if (n != sizeof(again) - 1)
		return false;
	if (sodium_base642bin(sha, AGREEMENT_SHA_LEN, s, n, NULL, &got, NULL,
	        sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != AGREEMENT_SHA_LEN)
		return false;
	/* Only the canonical encoding: the text is compared byte for byte. */
	sodium_bin2base64(again, sizeof(again), sha, AGREEMENT_SHA_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	return memcmp(again, s, n) == 0;
}

/* "— NAME BASE64": the name has no space or '+', the base64 decodes. */
static void
parse_sigline(struct rawline *r)
{
	const char *p = r->line, *sp;
	size_t n = r->len;

	r->name = NULL;
	if (n < DASH_LEN || memcmp(p, DASH, DASH_LEN) != 0)
		return;
	p += DASH_LEN;
	n -= DASH_LEN;
	sp = memchr(p, ' ', n);
	if (sp == NULL || sp == p)
		return;
	size_t nl = (size_t)(sp - p);
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == '+' || p[i] == 0x7f)
			return;
	const char *b = sp + 1;
	size_t bl = n - nl - 1;
	if (bl == 0 ||
	    bl > sodium_base64_ENCODED_LEN(
	             B64_MAX, sodium_base64_VARIANT_ORIGINAL))
		return;
	if (sodium_base642bin(r->sig, sizeof(r->sig), b, bl, NULL, &r->sig_len,
	        NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return;
	r->name = p;
	r->name_len = nl;
}

static void
note_release(struct note *n)
{
	free(n->lines);
	memset(n, 0, sizeof(*n));
}

/* Splits a note into its text and lines; ERROR_PARSE for a bad text. */
static int
note_parse(const char *buf, size_t len, struct note *n)
{
	const char *l[5];
	size_t ln[5], off = 0;
	bool nl;

	memset(n, 0, sizeof(*n));
	if (len > AGREEMENT_NOTE_MAX)
		return ERROR_TOOBIG;
	for (int i = 0; i < 5; i++)
		if (!next_line(buf, len, &off, &l[i], &ln[i], &nl) || !nl)
			return ERROR_PARSE;
	if (ln[0] != sizeof(AGREEMENT_ORIGIN) - 1 ||
	    memcmp(l[0], AGREEMENT_ORIGIN, ln[0]) != 0 ||
	    !id_text_ok(l[1], ln[1]) ||
	    !parse_version(l[2], ln[2], &n->version) ||
	    !parse_sha(l[3], ln[3], n->sha) || ln[4] != 0)
		return ERROR_PARSE;
	n->text = buf;
	n->text_len = (size_t)(l[4] - buf);
	n->id = l[1];
	n->id_len = ln[1];
	n->lines = calloc(AGREEMENT_MAX_LINES, sizeof(*n->lines));
	if (n->lines == NULL)
		return ERROR_NOMEM;
	const char *line;
	size_t ll;
	while (next_line(buf, len, &off, &line, &ll, &nl)) {
		if (n->nlines == AGREEMENT_MAX_LINES) {
			n->over++;
			continue;
		}
		struct rawline *r = &n->lines[n->nlines++];
		r->line = line;
		r->len = ll;
		/* A last line without its newline is not a line. */
		if (nl)
			parse_sigline(r);
	}
	return ERROR_OK;
}

/* The agency of a key name "<agency>.guardian", into out ("" if none). */
static void
name_agency(const char *name, size_t n, char out[IDENT_AGENCY_MAX + 1])
{
	size_t sl = sizeof(AGREEMENT_SUFFIX) - 1;

	out[0] = '\0';
	if (n <= sl || n - sl > IDENT_AGENCY_MAX ||
	    memcmp(name + n - sl, AGREEMENT_SUFFIX, sl) != 0)
		return;
	memcpy(out, name, n - sl);
	out[n - sl] = '\0';
	if (!ident_agency_valid(out))
		out[0] = '\0';
}

static int
sigline_new(const char *agency, const struct keys_secret *g, const char *text,
    size_t text_len, char **out, size_t *len)
{
	uint8_t sig[SIGB_LEN];
	char b64[sodium_base64_ENCODED_LEN(
	    SIGB_LEN, sodium_base64_VARIANT_ORIGINAL)];
	size_t cap = DASH_LEN + IDENT_AGENCY_MAX + sizeof(AGREEMENT_SUFFIX) +
	    sizeof(b64) + 2;
	char *t;

	agreement_keyid(agency, g->pub.sign_pk, sig);
	if (crypto_sign_ed25519_detached(sig + AGREEMENT_KEYID_LEN, NULL,
	        (const uint8_t *)text, text_len, g->sign_sk) != 0)
		return ERROR_CRYPTO;
	sodium_bin2base64(
	    b64, sizeof(b64), sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	if ((t = malloc(cap)) == NULL)
		return ERROR_NOMEM;
	int n = snprintf(t, cap, DASH "%s%s %s", agency, AGREEMENT_SUFFIX, b64);
	if (n < 0 || (size_t)n >= cap) {
		free(t);
		return ERROR_INTERNAL;
	}
	*out = t;
	*len = (size_t)n;
	return ERROR_OK;
}

/* A line to write: its bytes and its key name, for the sort. */
struct outline {
	const char *bytes;
	size_t len;
	const char *name;
	size_t name_len;
};

static int
outline_cmp(const void *a, const void *b)
{
	const struct outline *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

int
agreement_note_sign(const char *note, size_t note_len, const char *id,
    uint64_t version, const uint8_t sha[AGREEMENT_SHA_LEN],
    const struct keys_secret *guardian, char **out, size_t *out_len,
    size_t *dropped)
{
	struct note old = {0};
	struct outline *ol = NULL;
	char *text = NULL, *mine = NULL, *buf = NULL;
	size_t text_len, mine_len, n = 0, cap;
	char myname[IDENT_AGENCY_MAX + sizeof(AGREEMENT_SUFFIX)];
	int rc;

	*out = NULL;
	*out_len = 0;
	if (dropped != NULL)
		*dropped = 0;
	if (guardian == NULL || !guardian->pub.is_guardian ||
	    !ident_agency_valid(guardian->pub.id))
		return ERROR_KEY;
	if ((rc = agreement_note_text(id, version, sha, &text, &text_len)) != 0)
		return rc;
	if (note != NULL && note_len > 0 &&
	    (rc = note_parse(note, note_len, &old)) != 0)
		goto out;
	for (size_t i = 0; i < old.nlines; i++)
		if (old.lines[i].name == NULL) {
			rc = ERROR_PARSE;
			goto out;
		}
	if (old.over > 0) {
		rc = ERROR_TOOBIG;
		goto out;
	}
	if ((rc = sigline_new(guardian->pub.id, guardian, text, text_len, &mine,
	         &mine_len)) != 0)
		goto out;
	snprintf(
	    myname, sizeof(myname), "%s%s", guardian->pub.id, AGREEMENT_SUFFIX);
	ol = calloc(old.nlines + 1, sizeof(*ol));
	if (ol == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	bool same = old.text != NULL && old.text_len == text_len &&
	    memcmp(old.text, text, text_len) == 0;
	if (!same && dropped != NULL)
		*dropped = old.nlines;
	cap = text_len + 1 + mine_len + 1;
	for (size_t i = 0; same && i < old.nlines; i++) {
		const struct rawline *r = &old.lines[i];
		if (r->name_len == strlen(myname) &&
		    memcmp(r->name, myname, r->name_len) == 0)
			continue; /* replaced by the new line */
		ol[n++] =
		    (struct outline){r->line, r->len, r->name, r->name_len};
		cap += r->len + 1;
	}
	ol[n++] =
	    (struct outline){mine, mine_len, mine + DASH_LEN, strlen(myname)};
	qsort(ol, n, sizeof(*ol), outline_cmp);
	if ((buf = malloc(cap + 1)) == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	size_t o = 0;
	memcpy(buf, text, text_len);
	o = text_len;
	buf[o++] = '\n';
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + o, ol[i].bytes, ol[i].len);
		o += ol[i].len;
		buf[o++] = '\n';
	}
	buf[o] = '\0';
	if (o > AGREEMENT_NOTE_MAX) {
		rc = ERROR_TOOBIG;
		goto out;
	}
	*out = buf;
	*out_len = o;
	buf = NULL;
	rc = ERROR_OK;
out:
	free(buf);
	free(ol);
	free(mine);
	free(text);
	note_release(&old);
	return rc;
}

int
agreement_note_parse(const char *note, size_t len, char **id, uint64_t *version,
    uint8_t sha[AGREEMENT_SHA_LEN])
{
	struct note n;
	int rc;

	if (id != NULL)
		*id = NULL;
	if ((rc = note_parse(note, len, &n)) != 0) {
		note_release(&n);
		return rc;
	}
	if (id != NULL) {
		if ((*id = malloc(n.id_len + 1)) == NULL) {
			note_release(&n);
			return ERROR_NOMEM;
		}
		memcpy(*id, n.id, n.id_len);
		(*id)[n.id_len] = '\0';
	}
	*version = n.version;
	memcpy(sha, n.sha, AGREEMENT_SHA_LEN);
	note_release(&n);
	return ERROR_OK;
}

/* The status of one parsed line against the note's text. */
static enum agreement_line_status
line_check(const struct rawline *r, const char *agency, const struct note *n,
    const struct keyring *kr)
{
	const struct keys_public *g;
	uint8_t kid[AGREEMENT_KEYID_LEN];

	if (r->name == NULL)
		return AGREEMENT_LINE_MALFORMED;
	if (agency[0] == '\0' || kr == NULL ||
	    (g = keyring_find_guardian(kr, agency)) == NULL)
		return AGREEMENT_LINE_UNKNOWN_KEY;
	if (r->sig_len < AGREEMENT_KEYID_LEN)
		return AGREEMENT_LINE_MALFORMED;
	agreement_keyid(agency, g->sign_pk, kid);
	if (memcmp(kid, r->sig, AGREEMENT_KEYID_LEN) != 0)
		return AGREEMENT_LINE_UNKNOWN_KEY;
	if (r->sig_len != SIGB_LEN ||
	    crypto_sign_ed25519_verify_detached(r->sig + AGREEMENT_KEYID_LEN,
	        (const uint8_t *)n->text, n->text_len, g->sign_pk) != 0)
		return AGREEMENT_LINE_BAD_SIGNATURE;
	return AGREEMENT_LINE_VALID;
}

static void
report_name(const struct rawline *r, char out[AGREEMENT_NAME_MAX + 1])
{
	const char *s = r->name != NULL ? r->name : NULL;
	size_t n = r->name != NULL ? r->name_len : 0, i;

	for (i = 0; i < n && i < AGREEMENT_NAME_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[i] = '\0';
}

static bool
is_party(const char *agency, const char *const *agencies, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(agencies[i], agency) == 0)
			return true;
	return false;
}

static void
check_lines(const struct note *n, const char *const *agencies, size_t na,
    const struct keyring *kr, struct agreement_check *out)
{
	for (size_t i = 0; i < n->nlines; i++) {
		const struct rawline *r = &n->lines[i];
		struct agreement_line *l = &out->lines[i];

		report_name(r, l->name);
		if (r->name != NULL)
			name_agency(r->name, r->name_len, l->agency);
		l->status = AGREEMENT_LINE_DUPLICATE;
		for (size_t j = 0; r->name != NULL && j < i; j++)
			if (n->lines[j].name != NULL &&
			    n->lines[j].name_len == r->name_len &&
			    memcmp(n->lines[j].name, r->name, r->name_len) == 0)
				goto next;
		l->status = line_check(r, l->agency, n, kr);
		if (l->status == AGREEMENT_LINE_VALID &&
		    !is_party(l->agency, agencies, na))
			l->status = AGREEMENT_LINE_NOT_PARTY;
	next:;
	}
	out->nlines = n->nlines;
	out->lines_over = n->over;
}

static enum agreement_text
text_check(const struct note *n, const char *id, uint64_t version,
    const struct agreement_check *out)
{
	if (memcmp(n->sha, out->sha256, AGREEMENT_SHA_LEN) != 0)
		return AGREEMENT_TEXT_SHA;
	if (id == NULL)
		return AGREEMENT_TEXT_OK;
	if (strlen(id) != n->id_len || memcmp(id, n->id, n->id_len) != 0)
		return AGREEMENT_TEXT_ID;
	if (version != n->version)
		return AGREEMENT_TEXT_VERSION;
	return AGREEMENT_TEXT_OK;
}

int
agreement_verify(const void *yaml, size_t yaml_len, const char *note,
    size_t note_len, const char *id, uint64_t version,
    const char *const *agencies, size_t nagencies, const struct keyring *kr,
    struct agreement_check *out)
{
	struct note n = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	out->text = AGREEMENT_TEXT_MALFORMED;
	if (nagencies > AGREEMENT_MAX_PARTY)
		return ERROR_INVAL;
	for (size_t i = 0; i < nagencies; i++)
		if (agencies[i] == NULL || !ident_agency_valid(agencies[i]))
			return ERROR_INVAL;
	crypto_hash_sha256(out->sha256, yaml, yaml_len);
	for (size_t i = 0; i < nagencies; i++)
		snprintf(out->missing[i], sizeof(out->missing[i]), "%s",
		    agencies[i]);
	out->nmissing = nagencies;
	rc = note != NULL ? note_parse(note, note_len, &n) : ERROR_PARSE;
	if (rc == ERROR_PARSE || rc == ERROR_TOOBIG) {
		note_release(&n);
		return rc == ERROR_TOOBIG ? rc : ERROR_OK;
	}
	if (rc != ERROR_OK) {
		note_release(&n);
		return rc;
	}
	memcpy(out->note_sha256, n.sha, AGREEMENT_SHA_LEN);
	out->note_version = n.version;
	out->text = text_check(&n, id, version, out);
	check_lines(&n, agencies, nagencies, kr, out);
	note_release(&n);
	if (out->text != AGREEMENT_TEXT_OK)
		return ERROR_OK;
	out->nmissing = 0;
	for (size_t i = 0; i < nagencies; i++) {
		bool ok = false;
		for (size_t j = 0; j < out->nlines && !ok; j++)
			ok = out->lines[j].status == AGREEMENT_LINE_VALID &&
			    strcmp(out->lines[j].agency, agencies[i]) == 0;
		char(*dst)[IDENT_AGENCY_MAX + 1] = ok
		    ? &out->signed_by[out->nsigned++]
		    : &out->missing[out->nmissing++];
		snprintf(*dst, sizeof(*dst), "%s", agencies[i]);
	}
	out->complete = out->nmissing == 0;
	return ERROR_OK;
}

const char *
agreement_text_str(enum agreement_text t)
{
	switch (t) {
	case AGREEMENT_TEXT_OK:
		return "the note is that of the file";
	case AGREEMENT_TEXT_MALFORMED:
		return "not an agreement note (concordat/agreement/v1)";
	case AGREEMENT_TEXT_SHA:
		return "signed for other bytes than the file's (its SHA-256 "
		       "differs)";
	case AGREEMENT_TEXT_ID:
		return "the note names another agreement id than the file's";
	case AGREEMENT_TEXT_VERSION:
		return "the note names another version than the file's";
	}
	return "unknown";
}

const char *
agreement_line_str(enum agreement_line_status s)
{
	switch (s) {
	case AGREEMENT_LINE_VALID:
		return "valid";
	case AGREEMENT_LINE_NOT_PARTY:
		return "valid, but that agency is not a party to the agreement";
	case AGREEMENT_LINE_UNKNOWN_KEY:
		return "signed by a key not in the keyring";
	case AGREEMENT_LINE_BAD_SIGNATURE:
		return "the signature does not verify";
	case AGREEMENT_LINE_DUPLICATE:
		return "a second line under the same key name (not counted)";
	case AGREEMENT_LINE_MALFORMED:
		return "malformed signature line";
	}
	return "unknown";
}
