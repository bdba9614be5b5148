/*
 * The subject access report: every disclosure about one person, in plain
 * words for the person (or, with json, one object per disclosure), built
 * into a struct strbuf. `concordat audit report` finds the disclosures in
 * the log and writes what this module builds.
 */
#ifndef AUDIT_REPORT_H
#define AUDIT_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "proto/event.h"

/*
 * An agency's name as a sentence says it ("the police"), or NULL when the
 * caller knows none: the report then says "the" and the id's words
 * ("mental_health_trust": "the mental health trust"). The returned text
 * must stay valid until the next call.
 */
typedef const char *(*report_name_fn)(void *arg, const char *agency);

struct report {
	struct strbuf *sb; /* borrowed: where the report is built */
	bool json;         /* one JSON object per line, no prose */
	uint64_t n;        /* disclosures added so far */
	report_name_fn name;
	void *name_arg;
	char words[2][512]; /* the two agencies' words of the last entry */
};

/* One disclosure: a decision that disclosed something, and its fate. */
struct report_disclosure {
	uint64_t seq;           /* the decision's log entry */
	const struct event *ev; /* the decision (borrowed) */
	int state; /* EVENT_ACKNOWLEDGED, EVENT_DELIVERED, EVENT_EXPIRED or 0 */
	uint64_t state_ms; /* when the state was reached */
};

/* Starts a report into sb; name may be NULL (every agency by its id). */
void report_init(struct report *r, struct strbuf *sb, bool json,
    report_name_fn name, void *name_arg);

/*
 * The heading (nothing in JSON): the person's NHS number (its ten digits
 * in groups of 3, 3 and 4), the log's origin and its number of entries.
 */
void report_header(
    struct report *r, const char *nhs, const char *origin, uint64_t entries);

/*
 * Adds one disclosure (a decision that disclosed nothing is skipped: the
 * caller need not filter). ERROR_NOMEM when out of memory.
 */
WUR int report_add(struct report *r, const struct report_disclosure *d);

/* The closing lines (nothing in JSON): the count, or that there is none. */
void report_footer(struct report *r);

/* ERROR_NOMEM if any part of the report ran out of memory. */
WUR int report_error(const struct report *r);

#endif
