/*
 * The subject access report (report.h), in the plain words of the person
 * it is about. `concordat audit report` builds it.
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
#include "common/urgency.h"
#include "proto/jsonval.h"

/* A field in the words of the person it is about (common/fields.c). */
static const char *
your(int f)
{
	return fields_your(f);
}

void
report_init(struct report *r, struct strbuf *sb, bool json, report_name_fn name,
    void *name_arg)
{
	memset(r, 0, sizeof(*r));
	r->sb = sb;
	r->json = json;
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

void
report_header(
    struct report *r, const char *nhs, const char *origin, uint64_t entries)
{
	char digits[16] = {0};
	size_t n = 0;

	if (r->json)
		return;
	for (const char *p = nhs; *p != '\0' && n < 10; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	strbuf_addf(r->sb,
	    "Subject access report\n"
	    "Person: NHS number %.3s %.3s %.4s\n"
	    "Audit log: %s, %" PRIu64 " entries\n",
	    digits, digits + 3, digits + 6, origin, entries);
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
	    ev->urgency ? urgency_name(ev->urgency) : "", "fields", fields,
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
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL)
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
	strbuf_addstr(sb, "   What was shared:\n");
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
	if (d->state != 0) {
		nice_time(d->state_ms, when, sizeof(when));
		strbuf_addf(sb, "   %s: %s\n",
		    d->state == EVENT_ACKNOWLEDGED
		        ? "Received and stored by the recipient"
		        : d->state == EVENT_DELIVERED
		        ? "Delivered to the recipient"
		        : "Not collected; deleted unread at expiry",
		    when);
	}
	strbuf_addf(sb, "   Log entry: %" PRIu64 "\n", d->seq);
	return strbuf_error(sb);
}

void
report_footer(struct report *r)
{
	if (r->json)
		return;
	if (r->n == 0)
		strbuf_addstr(r->sb,
		    "\nNo disclosure of information about "
		    "this person is recorded.\n");
	else
		strbuf_addf(r->sb,
		    "\n%" PRIu64 " disclosure%s in all. Each log entry can be "
		    "proved with\n'concordat audit prove --seq N'.\n",
		    r->n, r->n == 1 ? "" : "s");
}

int
report_error(const struct report *r)
{
	return strbuf_error(r->sb);
}
