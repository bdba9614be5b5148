/*
 * Identifier checks for agency ids and policy names.
 */
#include <string.h>

#include "common/ident.h"

static bool
ident_match(const char *s, size_t max, const char *extra)
{
	size_t n;

	if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (n = 1; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= max)
			return false;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_')
			continue;
		if (c != '\0' && strchr(extra, c) != NULL)
			continue;
		return false;
	}
	return true;
}

bool
ident_agency_valid(const char *s)
{
	return ident_match(s, IDENT_AGENCY_MAX, "");
}

bool
ident_name_valid(const char *s)
{
	return ident_match(s, IDENT_NAME_MAX, "-");
}
