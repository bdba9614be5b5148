/*
 * The subject access report: every disclosure about one person, in plain
 * words for the person, as a printable HTML letter to them, or one JSON
 * object per disclosure, built into a struct strbuf. `concordat audit
 * report` finds the disclosures in the log and writes what this module
 * builds. A disclosure lists what the recipient was allowed to see: the
 * broker cannot know which of those fields the sender left empty.
 */
#ifndef AUDIT_REPORT_H
#define AUDIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
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

enum report_format {
	REPORT_TEXT, /* plain words */
	REPORT_JSON, /* one JSON object per line, no prose */
	REPORT_HTML, /* one self-contained page: a letter to the person */
};

struct report {
	struct strbuf *sb; /* borrowed: where the report is built */
	enum report_format format;
	bool json;       /* format == REPORT_JSON */
	bool table_open; /* HTML: the disclosures' table is begun */
	uint64_t n;      /* disclosures added so far */
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
	/*
	 * A break-glass disclosure's review by the sender's guardian, in
	 * words ("justified, by ... on ..."), or NULL: "not yet reviewed".
	 * Borrowed; the verb fills it. Ignored when not break-glass.
	 */
	const char *review;
};

/* Starts a report into sb; name may be NULL (every agency by its id). */
void report_init(struct report *r, struct strbuf *sb, enum report_format format,
    report_name_fn name, void *name_arg);

/*
 * The heading (nothing in JSON): the identifiers the person was looked up
 * by (n >= 1, each in words: "NHS number 943 476 5919", "name SMITH, John
 * born 1970-01-01"), the log's origin and its number of entries. Several
 * identifiers are said to be merged: "This report covers 2 identifiers:
 * ...".
 */
void report_header(struct report *r, const char *const *ids, size_t n,
    const char *origin, uint64_t entries);

/*
 * A warning line after the heading ("Warning: text"); nothing in JSON,
 * where the caller says it on standard error.
 */
void report_warning(struct report *r, const char *text);

/*
 * Adds one disclosure (a decision that disclosed nothing is skipped: the
 * caller need not filter). ERROR_NOMEM when out of memory.
 */
WUR int report_add(struct report *r, const struct report_disclosure *d);

/*
 * The closing lines (nothing in JSON): the count, or that there is none,
 * why a field listed may have been empty, and in HTML the page's end.
 */
void report_footer(struct report *r);

/* ERROR_NOMEM if any part of the report ran out of memory. */
WUR int report_error(const struct report *r);

#endif
