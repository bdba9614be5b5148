/*
 * The B8 field table: numbers and policy names (DESIGN.md §2).
 */
#include <stdio.h>
#include <string.h>

#include "common/fields.h"

const char *const fields_names[FIELDS_COUNT] = {
    "identity",
    "relatives",
    "demographics",
    "communication",
    "presentation",
    "substances",
    "physical_needs",
    "services",
    "crisis_plan",
    "clinical",
    "risks",
    "health",
    "dependents",
};

const char *
fields_name(int f)
{
	if (f < 1 || f > FIELDS_COUNT)
		return NULL;
	return fields_names[f - 1];
}

int
fields_lookup(const char *name)
{
	for (int i = 0; i < FIELDS_COUNT; i++)
		if (strcmp(name, fields_names[i]) == 0)
			return i + 1;
	return 0;
}

bool
fields_has(fieldset set, int f)
{
	return f >= 1 && f <= FIELDS_COUNT && (set & FIELDS_BIT(f)) != 0;
}

int
fields_count(fieldset set)
{
	return __builtin_popcount(set & FIELDS_ALL);
}

char *
fields_format(fieldset set, const char *sep, char *buf, unsigned n)
{
	size_t used = 0;

	if (n == 0)
		return buf;
	buf[0] = '\0';
	if ((set & FIELDS_ALL) == 0) {
		snprintf(buf, n, "-");
		return buf;
	}
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (!fields_has(set, f))
			continue;
		int w = snprintf(buf + used, n - used, "%s%s", used ? sep : "",
		    fields_name(f));
		if (w < 0 || (size_t)w >= n - used) {
			buf[used] = '\0'; /* whole names only */
			break;
		}
		used += (size_t)w;
	}
	return buf;
}
