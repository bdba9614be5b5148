/*
 * The subject access report (report.h), in the plain words of the person
 * it is about, as text, as an HTML letter or as JSON from the same
 * disclosures. `concordat audit report` builds it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit/report.h"
#include "common/clock.h"
#include "common/fields.h"
#include "common/html.h"
#include "common/urgency.h"
#include "proto/jsonval.h"

/* A field in the words of the person it is about (common/fields.c). */
static const char *
your(int f)
{
	return fields_your(f);
}

/* What each disclosure says of the fields, and why it cannot say more. */
#define ALLOWED_WORDS "What the recipient was allowed to see"
#define MAY_BE_EMPTY                                                           \
	"A field listed may have been empty: the broker cannot see which "     \
	"fields the sender filled in, only that each was sealed."
#define NOT_REVIEWED "not yet reviewed"

void
report_init(struct report *r, struct strbuf *sb, enum report_format format,
    report_name_fn name, void *name_arg)
{
	memset(r, 0, sizeof(*r));
	r->sb = sb;
	r->format = format;
	r->json = format == REPORT_JSON;
	r->name = name;
	r->name_arg = name_arg;
}

/* "mental_health_trust" -> "mental health trust" into buf. */
static const char *
plain(const char *id, char *buf, size_t n)
{
	snprintf(buf, n, "%s", id);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '_')
			*p = ' ';
	return buf;
}

/* An agency as a sentence names it, into buf. */
static const char *
agency_words(struct report *r, const char *id, char *buf, size_t n)
{
	const char *name = r->name != NULL ? r->name(r->name_arg, id) : NULL;
	char p[256];

	if (name != NULL && name[0] != '\0')
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "the %s", plain(id, p, sizeof(p)));
	return buf;
}

static void
nice_time(uint64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%-d %B %Y, %H:%M:%S UTC", &tm);
}

static void
header_html(struct report *r, const char *const *ids, size_t n,
    const char *origin, uint64_t entries)
{
	struct strbuf *sb = r->sb;

	html_begin(sb, "Subject access report",
	    "What the audit log records of information shared about you");
	html_raw(sb, "<div class=\"letter\">\n<p>");
	html_textf(sb,
	    "You asked which information about you the agencies shared "
	    "through Concordat. This letter lists every disclosure that the "
	    "audit log %s (%" PRIu64 " entries) records about you.",
	    origin, entries);
	html_raw(sb, "</p>\n<h2>Who this report is about</h2>\n<p>");
	if (n == 1)
		html_text(sb, "This report covers one identifier:");
	else
		html_textf(sb, "This report covers %zu identifiers:", n);
	html_raw(sb, "</p>\n<ul>\n");
	for (size_t i = 0; i < n; i++)
		html_tag(sb, "li", NULL, ids[i]);
	html_raw(sb, "</ul>\n");
}

void
report_header(struct report *r, const char *const *ids, size_t n,
    const char *origin, uint64_t entries)
{
	if (r->json)
		return;
	if (r->format == REPORT_HTML) {
		header_html(r, ids, n, origin, entries);
		return;
	}
	strbuf_addstr(r->sb, "Subject access report\n");
	if (n == 1)
		strbuf_addf(r->sb, "Person: %s\n", ids[0]);
	else {
		strbuf_addf(r->sb, "This report covers %zu identifiers: ", n);
		for (size_t i = 0; i < n; i++)
			strbuf_addf(r->sb, "%s%s", i > 0 ? "; " : "", ids[i]);
		strbuf_addch(r->sb, '\n');
	}
	strbuf_addf(
	    r->sb, "Audit log: %s, %" PRIu64 " entries\n", origin, entries);
}

void
report_warning(struct report *r, const char *text)
{
	if (r->format == REPORT_TEXT)
		strbuf_addf(r->sb, "Warning: %s\n", text);
	else if (r->format == REPORT_HTML) {
		html_raw(r->sb, "<p class=\"warn\"><strong>Warning:</strong> ");
		html_text(r->sb, text);
		html_raw(r->sb, "</p>\n");
	}
}

/* The review line's words: NULL for a disclosure that was not break-glass. */
static const char *
review_words(const struct report_disclosure *d)
{
	if (!d->ev->breakglass)
		return NULL;
	return d->review != NULL ? d->review : NOT_REVIEWED;
}

/* What became of the message, in words, or NULL when nothing is known. */
static const char *
fate_words(int state)
{
	return state == EVENT_ACKNOWLEDGED
	    ? "Received and stored by the recipient"
	    : state == EVENT_DELIVERED ? "Delivered to the recipient"
	    : state == EVENT_EXPIRED ? "Not collected; deleted unread at expiry"
	                             : NULL;
}

static int
add_json(struct report *r, const struct report_disclosure *d)
{
	const struct event *ev = d->ev;
	char when[40], at[40] = "", *text = NULL;
	json_t *o = NULL, *fields = json_array(), *withheld = NULL;
	int rc = ERROR_NOMEM;

	if (fields == NULL || (withheld = jsonval_fields(ev->withheld)) == NULL)
		goto out;
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(ev->disclosed, f) &&
		    json_array_append_new(fields,
		        json_pack("{s:s,s:s}", "field", fields_name(f),
		            "description", your(f))) != 0)
			goto out;
	clock_format(ev->time_ms, when, sizeof(when));
	if (d->state != 0)
		clock_format(d->state_ms, at, sizeof(at));
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:o,s:o,s:o,s:b,s:s,"
	              "s:s,s:s}",
	    "seq", (json_int_t)d->seq, "time", when, "sender", ev->sender,
	    "recipient", ev->recipient, "purpose", ev->purpose, "urgency",
	    ev->urgency ? urgency_name(ev->urgency) : "", "allowed", fields,
	    "withheld", withheld, "bases",
	    jsonval_strings(ev->bases[0], sizeof(ev->bases[0]), ev->n_bases),
	    "rules",
	    jsonval_strings(ev->rules[0], sizeof(ev->rules[0]), ev->n_rules),
	    "obligations",
	    jsonval_strings(ev->obligations[0], sizeof(ev->obligations[0]),
	        ev->n_obligations),
	    "breakglass", ev->breakglass, "emergency_reason",
	    ev->emergency_reason ? emergency_reason_name(ev->emergency_reason)
	                         : "",
	    "status", d->state ? event_type_name(d->state) : "", "status_time",
	    at);
	if (o == NULL ||
	    json_object_set_new(o, "review",
	        json_string(ev->breakglass ? review_words(d) : "")) != 0 ||
	    (text = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	strbuf_addstr(r->sb, text);
	strbuf_addch(r->sb, '\n');
	rc = strbuf_error(r->sb);
out:
	free(text);
	json_decref(o);
	json_decref(fields);
	json_decref(withheld);
	return rc;
}

static void
add_list(struct strbuf *sb, const char *label, const char *base, size_t stride,
    size_t n)
{
	if (n == 0)
		return;
	strbuf_addf(sb, "   %s", label);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(sb, "%s%s", i > 0 ? "; " : "", base + i * stride);
	strbuf_addch(sb, '\n');
}

/* The fields as an HTML list, each in the person's words. */
static void
allowed_html(struct strbuf *sb, fieldset set)
{
	html_raw(sb, "<td class=\"allowed\"><ul>");
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(set, f)) {
			html_raw(sb, "<li>");
			html_text(sb, your(f));
			html_raw(sb, "</li>");
		}
	html_raw(sb, "</ul></td>\n");
}

/* A cell of list items, "; " apart: bases, rules; "-" when none. */
static void
list_html(struct strbuf *sb, const char *base, size_t stride, size_t n)
{
	html_raw(sb, "<td>");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			html_text(sb, "; ");
		html_text(sb, base + i * stride);
	}
	if (n == 0)
		html_text(sb, "-");
	html_raw(sb, "</td>\n");
}

static const char *const html_heads[] = {"Log entry", "When", "From whom",
    "To whom", "Why", "Urgency", "Emergency (break-glass)",
    ALLOWED_WORDS " (a field may have been empty)", "Legal basis",
    "What became of it"};

/* One disclosure as a row of the letter's table. */
static int
add_html(struct report *r, const struct report_disclosure *d)
{
	const struct event *ev = d->ev;
	struct strbuf *sb = r->sb;
	char when[64], id[32], purpose[IDENT_NAME_MAX + 1];

	if (!r->table_open) {
		html_raw(sb, "<h2>Disclosures</h2>\n");
		html_table_begin(sb,
		    "Every disclosure of information about you", html_heads,
		    sizeof(html_heads) / sizeof(html_heads[0]));
		r->table_open = true;
	}
	snprintf(id, sizeof(id), "entry-%" PRIu64, d->seq);
	html_row_begin(sb, id);
	snprintf(id, sizeof(id), "%" PRIu64, d->seq);
	html_cell(sb, id);
	nice_time(ev->time_ms, when, sizeof(when));
	html_cell(sb, when);
	html_cell(sb,
	    agency_words(r, ev->sender[0] ? ev->sender : "?", r->words[0],
	        sizeof(r->words[0])));
	html_cell(sb,
	    agency_words(r, ev->recipient[0] ? ev->recipient : "?", r->words[1],
	        sizeof(r->words[1])));
	html_cell(sb,
	    plain(ev->purpose[0] ? ev->purpose : "not recorded", purpose,
	        sizeof(purpose)));
	html_cell(sb, ev->urgency ? urgency_name(ev->urgency) : NULL);
	html_raw(sb, "<td>");
	if (ev->breakglass) {
		html_raw(sb, "<strong>");
		html_textf(sb, "Yes: %s.",
		    ev->emergency_reason
		        ? emergency_reason_words(ev->emergency_reason)
		        : "reason not recorded");
		html_raw(sb, "</strong><br>");
		html_textf(sb, "Review: %s", review_words(d));
	} else
		html_text(sb, "No");
	html_raw(sb, "</td>\n");
	allowed_html(sb, ev->disclosed);
	list_html(sb, ev->bases[0], sizeof(ev->bases[0]), ev->n_bases);
	if (fate_words(d->state) != NULL) {
		nice_time(d->state_ms, when, sizeof(when));
		html_raw(sb, "<td>");
		html_textf(sb, "%s: %s", fate_words(d->state), when);
		html_raw(sb, "</td>\n");
	} else
		html_cell(sb, "No delivery recorded");
	html_row_end(sb);
	return strbuf_error(sb);
}

int
report_add(struct report *r, const struct report_disclosure *d)
{
	const struct event *ev = d->ev;
	struct strbuf *sb = r->sb;
	char when[64], purpose[IDENT_NAME_MAX + 1], names[256];
	const char *who;

	if (ev->disclosed == 0)
		return ERROR_OK; /* a decision that disclosed nothing */
	r->n++;
	if (r->json)
		return add_json(r, d);
	if (r->format == REPORT_HTML)
		return add_html(r, d);
	nice_time(ev->time_ms, when, sizeof(when));
	strbuf_addf(sb, "\n%" PRIu64 ". %s\n", r->n, when);
	/* A sentence starts with a capital: "The police", "Social care". */
	who = agency_words(r, ev->sender[0] ? ev->sender : "?", r->words[0],
	    sizeof(r->words[0]));
	strbuf_addf(sb, "   %c%s shared information about you with %s.\n",
	    who[0] >= 'a' && who[0] <= 'z' ? who[0] - 32 : who[0], who + 1,
	    agency_words(r, ev->recipient[0] ? ev->recipient : "?", r->words[1],
	        sizeof(r->words[1])));
	strbuf_addf(sb, "   Why: %s%s%s%s\n",
	    plain(ev->purpose[0] ? ev->purpose : "not recorded", purpose,
	        sizeof(purpose)),
	    ev->urgency ? " (" : "",
	    ev->urgency ? urgency_name(ev->urgency) : "",
	    ev->urgency ? ")" : "");
	strbuf_addstr(
	    sb, "   " ALLOWED_WORDS " (a field may have been empty):\n");
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(ev->disclosed, f))
			strbuf_addf(
			    sb, "     - %s [%s]\n", your(f), fields_name(f));
	if (ev->withheld != 0)
		strbuf_addf(sb,
		    "   Held back (not allowed by the agreement): %s\n",
		    fields_format(ev->withheld, ", ", names, sizeof(names)));
	add_list(sb, "Legal basis: ", ev->bases[0], sizeof(ev->bases[0]),
	    ev->n_bases);
	add_list(sb, "Sharing rule: ", ev->rules[0], sizeof(ev->rules[0]),
	    ev->n_rules);
	add_list(sb, "Conditions on the recipient: ", ev->obligations[0],
	    sizeof(ev->obligations[0]), ev->n_obligations);
	if (ev->breakglass)
		strbuf_addf(sb,
		    "   Emergency (break-glass): yes, in an emergency "
		    "(%s)\n",
		    ev->emergency_reason
		        ? emergency_reason_words(ev->emergency_reason)
		        : "reason not recorded");
	else
		strbuf_addstr(sb, "   Emergency (break-glass): no\n");
	if (ev->breakglass)
		strbuf_addf(sb, "   Review: %s\n", review_words(d));
	if (fate_words(d->state) != NULL) {
		nice_time(d->state_ms, when, sizeof(when));
		strbuf_addf(sb, "   %s: %s\n", fate_words(d->state), when);
	}
	strbuf_addf(sb, "   Log entry: %" PRIu64 "\n", d->seq);
	return strbuf_error(sb);
}

static void
footer_html(struct report *r)
{
	struct strbuf *sb = r->sb;

	if (r->n == 0)
		html_tag(sb, "p", NULL,
		    "No disclosure of information about this person is "
		    "recorded.");
	else {
		html_table_end(sb);
		html_raw(sb, "<p>");
		html_textf(sb,
		    "%" PRIu64 " disclosure%s in all. Each log entry can be "
		    "proved with 'concordat audit prove --seq N'.",
		    r->n, r->n == 1 ? "" : "s");
		html_raw(sb, "</p>\n");
		html_tag(sb, "p", "small", MAY_BE_EMPTY);
	}
	html_raw(sb, "</div>\n");
	html_end(sb);
}

void
report_footer(struct report *r)
{
	if (r->json)
		return;
	if (r->format == REPORT_HTML) {
		footer_html(r);
		return;
	}
	if (r->n == 0)
		strbuf_addstr(r->sb,
		    "\nNo disclosure of information about "
		    "this person is recorded.\n");
	else
		strbuf_addf(r->sb,
		    "\n%" PRIu64 " disclosure%s in all. Each log entry can be "
		    "proved with\n'concordat audit prove --seq N'.\n"
		    "%s\n",
		    r->n, r->n == 1 ? "" : "s",
		    "A field listed may have been empty: the broker cannot "
		    "see which\nfields the sender filled in, only that each "
		    "was sealed.");
}

int
report_error(const struct report *r)
{
	return strbuf_error(r->sb);
}
