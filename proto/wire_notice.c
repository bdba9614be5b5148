/*
 * The Notice frame (broker -> agent): why the broker no longer hears a
 * session (its key was revoked by a keyring reload). wire.c's decoder
 * calls wire_decode_notice_; the encoder is wire.h's.
 */
#include <stdio.h>
#include <string.h>

#include "proto/pbutil.h"
#include "proto/wire.h"

#define WHY(...) pbutil_why(why, whylen, ERROR_DECODE, __VA_ARGS__)

/* "xxxx:xxxx:...": eight groups of four lower-case hex digits. */
static bool
fingerprint_valid(const char *s)
{
	if (strlen(s) != WIRE_FINGERPRINT_LEN - 1)
		return false;
	for (size_t i = 0; i < WIRE_FINGERPRINT_LEN - 1; i++) {
		bool colon = i % 5 == 4;
		if (colon ? s[i] != ':'
		          : !((s[i] >= '0' && s[i] <= '9') ||
		                (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

int
wire_decode_notice_(const Concordat__Notice *pn, struct wire_notice *n,
    char *why, size_t whylen)
{
	memset(n, 0, sizeof(*n));
	if (!pn->has_kind ||
	    pn->kind != CONCORDAT__NOTICE_KIND__NOTICE_KEY_REVOKED)
		return WHY("notice of an unknown kind");
	n->kind = WIRE_NOTICE_KEY_REVOKED;
	if (pn->agency == NULL || !ident_agency_valid(pn->agency))
		return WHY("notice without a valid agency");
	snprintf(n->agency, sizeof(n->agency), "%s", pn->agency);
	if (pn->fingerprint == NULL || !fingerprint_valid(pn->fingerprint))
		return WHY("notice without a valid fingerprint");
	snprintf(n->fingerprint, sizeof(n->fingerprint), "%s", pn->fingerprint);
	if (pn->replaced_by != NULL) {
		if (!fingerprint_valid(pn->replaced_by))
			return WHY("notice replaced_by is not a fingerprint");
		snprintf(n->replaced_by, sizeof(n->replaced_by), "%s",
		    pn->replaced_by);
	}
	n->revoked_at = pn->has_revoked_at ? pn->revoked_at : 0;
	return ERROR_OK;
}

int
wire_notice_encode(const struct wire_notice *n, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Notice pn = CONCORDAT__NOTICE__INIT;

	if (n->kind != WIRE_NOTICE_KEY_REVOKED ||
	    !ident_agency_valid(n->agency) ||
	    !fingerprint_valid(n->fingerprint))
		return ERROR_INVAL;
	pn.has_kind = 1;
	pn.kind = CONCORDAT__NOTICE_KIND__NOTICE_KEY_REVOKED;
	pn.agency = (char *)(uintptr_t)n->agency;
	pn.fingerprint = (char *)(uintptr_t)n->fingerprint;
	pn.has_revoked_at = 1;
	pn.revoked_at = n->revoked_at;
	if (n->replaced_by[0] != '\0')
		pn.replaced_by = (char *)(uintptr_t)n->replaced_by;
	f.body_case = CONCORDAT__FRAME__BODY_NOTICE;
	f.notice = &pn;
	return pbutil_pack(&f.base, out, len);
}
