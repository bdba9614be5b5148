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

/* The plain words of each field: the public's, and the subject's. */
static const struct {
	const char *description, *your;
} words[FIELDS_COUNT] = {
    [FIELD_IDENTITY - 1] = {"name, address and contact details (or a "
                            "description when the name is not known)",
        "your name, address and contact details (or a description of "
        "you)"},
    [FIELD_RELATIVES - 1] = {"relatives, friends or carers to contact "
                             "(for children, their family and school)",
        "relatives, friends or carers to contact (for a child: family "
        "and school)"},
    [FIELD_DEMOGRAPHICS - 1] = {"gender and age", "your gender and age"},
    [FIELD_COMMUNICATION - 1] = {"language and communication needs, such "
                                 "as an interpreter or sign language",
        "your language and communication needs (for example an "
        "interpreter or sign language)"},
    [FIELD_PRESENTATION - 1] = {"a description of how the person is "
                                "behaving and presenting",
        "a description of how you were behaving and presenting"},
    [FIELD_SUBSTANCES - 1] = {"whether drink or drugs are likely to be "
                              "involved",
        "whether you were likely to be affected by drink or drugs"},
    [FIELD_PHYSICAL_NEEDS - 1] = {"physical impairments, prescribed "
                                  "medicines and dietary needs",
        "physical impairments, prescribed medicines and dietary needs"},
    [FIELD_SERVICES - 1] = {"contact with the GP and mental health "
                            "services, and the team and professional "
                            "involved",
        "your contact with your GP and mental health services (team and "
        "professional)"},
    [FIELD_CRISIS_PLAN - 1] = {"the person's crisis plan and any advance "
                               "statements",
        "your crisis plan or other advance statements"},
    [FIELD_CLINICAL - 1] = {"clinical information such as diagnosis, "
                            "medication and therapy",
        "clinical information (for example medication or psychological "
        "therapy)"},
    [FIELD_RISKS - 1] = {"risks such as self-harm, suicide, aggression, "
                         "confusion or going missing",
        "risks (self-harm, suicide, aggression, confusion, impaired "
        "judgement, self-neglect, going missing)"},
    [FIELD_HEALTH - 1] = {"relevant health conditions, such as diabetes",
        "relevant health information (for example diabetes)"},
    [FIELD_DEPENDENTS - 1] = {"children, other dependents and pets who may "
                              "need care",
        "children, dependents or pets, and other things to plan the "
        "response around"},
};

const char *
fields_description(int f)
{
	return f < 1 || f > FIELDS_COUNT ? NULL : words[f - 1].description;
}

const char *
fields_your(int f)
{
	return f < 1 || f > FIELDS_COUNT ? NULL : words[f - 1].your;
}

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
