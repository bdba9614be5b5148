/*
 * The thirteen B8 fields of the Crisis Care Concordat (DESIGN.md §2): their
 * numbers, policy names and field sets. Used by every part.
 */
#ifndef COMMON_FIELDS_H
#define COMMON_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

enum field {
	FIELD_IDENTITY = 1,
	FIELD_RELATIVES = 2,
	FIELD_DEMOGRAPHICS = 3,
	FIELD_COMMUNICATION = 4,
	FIELD_PRESENTATION = 5,
	FIELD_SUBSTANCES = 6,
	FIELD_PHYSICAL_NEEDS = 7,
	FIELD_SERVICES = 8,
	FIELD_CRISIS_PLAN = 9,
	FIELD_CLINICAL = 10,
	FIELD_RISKS = 11,
	FIELD_HEALTH = 12,
	FIELD_DEPENDENTS = 13,
};

#define FIELDS_COUNT 13

/* A set of fields: bit (f - 1) stands for field f. */
typedef uint16_t fieldset;

#define FIELDS_ALL    ((fieldset)((1u << FIELDS_COUNT) - 1))
#define FIELDS_BIT(f) ((fieldset)(1u << ((f)-1)))

/* The policy name of field f (1..13), or NULL when f is out of range. */
const char *fields_name(int f);

/* The field number of a policy name, or 0 when the name is not a field. */
int fields_lookup(const char *name);

/* True when f is in set. */
bool fields_has(fieldset set, int f);

/* The number of fields in set. */
int fields_count(fieldset set);

/*
 * Writes the names in set, in field order, separated by sep, into buf of
 * size n (always terminated; "-" when the set is empty; whole names only
 * when buf is too small). Returns buf.
 */
char *fields_format(fieldset set, const char *sep, char *buf, unsigned n);

/*
 * The plain words for field f (1..13), NULL when f is out of range: the
 * description the public summary lists ("gender and age"), and the form a
 * subject access report addresses to the person ("your gender and age").
 * Static strings, one table for both (common/fields.c).
 */
const char *fields_description(int f);
const char *fields_your(int f);

/* The thirteen names in field order, for suggestions and tables. */
extern const char *const fields_names[FIELDS_COUNT];

#endif
