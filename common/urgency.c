/*
 * Names of urgencies and kinds, for records, policy files and audit output.
 */
#include <string.h>

#include "common/urgency.h"

static const char *const urgencies[] = {NULL, "routine", "urgent", "emergency"};
static const char *const kinds[] = {NULL, "record", "request"};
static const char *const reasons[] = {NULL, "risk_to_life", "serious_harm",
    "safeguarding_child", "safeguarding_adult"};
static const char *const reason_words[] = {NULL, "risk to life",
    "risk of serious harm", "safeguarding a child",
    "safeguarding an adult at risk"};

static int
lookup(const char *const *names, int n, const char *s)
{
	for (int i = 1; i < n; i++)
		if (s != NULL && strcmp(s, names[i]) == 0)
			return i;
	return 0;
}

const char *
urgency_name(int u)
{
	return u >= 1 && u <= 3 ? urgencies[u] : "?";
}

int
urgency_parse(const char *s)
{
	return lookup(urgencies, 4, s);
}

const char *
urgency_kind_name(int k)
{
	return k >= 1 && k <= 2 ? kinds[k] : "?";
}

int
urgency_kind_parse(const char *s)
{
	return lookup(kinds, 3, s);
}

const char *
emergency_reason_name(int r)
{
	return r >= 1 && r <= EMERGENCY_REASON_COUNT ? reasons[r] : "?";
}

int
emergency_reason_parse(const char *s)
{
	return lookup(reasons, EMERGENCY_REASON_COUNT + 1, s);
}

const char *
emergency_reason_words(int r)
{
	return r >= 1 && r <= EMERGENCY_REASON_COUNT ? reason_words[r] : "?";
}
