/*
 * audit/report.c: the subject access report's words, byte for byte: the
 * heading, a disclosure with everything, names from the caller or from
 * the agency's id, the fates of a message, the closing lines, and JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/report.h"
#include "common/urgency.h"

static struct event *
decision(void)
{
	struct event *ev = calloc(1, sizeof(*ev));

	assert_non_null(ev);
	ev->type = EVENT_DECISION;
	ev->time_ms = 1795440362000ULL; /* 23 November 2026, 13:26:02 UTC */
	strcpy(ev->sender, "police");
	strcpy(ev->recipient, "mental_health_trust");
	strcpy(ev->purpose, "triage_advice");
	ev->urgency = URGENCY_URGENT;
	ev->disclosed = FIELDS_BIT(FIELD_IDENTITY) | FIELDS_BIT(FIELD_RISKS);
	ev->withheld = FIELDS_BIT(FIELD_CLINICAL);
	ev->n_bases = 2;
	strcpy(ev->bases[0], "MHA 1983 s136(1C)");
	strcpy(ev->bases[1], "UK GDPR 6(1)(e)");
	ev->n_rules = 1;
	strcpy(ev->rules[0], "triage-request");
	ev->n_obligations = 1;
	strcpy(ev->obligations[0], "no_onward_disclosure");
	return ev;
}

static const char *
names(void *arg, const char *agency)
{
	(void)arg;
	return strcmp(agency, "police") == 0 ? "West Yorkshire Police" : NULL;
}

/* Names no page may take as markup. */
static const char *
hostile(void *arg, const char *agency)
{
	(void)arg;
	return strcmp(agency, "police") == 0 ? "<img src=x onerror=alert(1)>"
	                                     : "Trust & \"Co\" 'x'";
}

static void
test_text(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct report r;
	struct event *ev = decision();
	struct report_disclosure d = {
	    3, ev, EVENT_ACKNOWLEDGED, 1795440364000ULL, NULL};
	const char *ids[] = {"NHS number 943 476 5919"};

	(void)state;
	report_init(&r, &sb, false, NULL, NULL);
	report_header(&r, ids, 1, "log.example/x", 12);
	assert_int_equal(report_add(&r, &d), 0);
	report_footer(&r);
	assert_int_equal(report_error(&r), 0);
	assert_string_equal(strbuf_str(&sb),
	    "Subject access report\n"
	    "Person: NHS number 943 476 5919\n"
	    "Audit log: log.example/x, 12 entries\n"
	    "\n"
	    "1. 23 November 2026, 13:26:02 UTC\n"
	    "   The police shared information about you with the mental "
	    "health trust.\n"
	    "   Why: triage advice (urgent)\n"
	    "   What the recipient was allowed to see (a field may have been "
	    "empty):\n"
	    "     - your name, address and contact details (or a "
	    "description of you) [identity]\n"
	    "     - risks (self-harm, suicide, aggression, confusion, "
	    "impaired judgement, self-neglect, going missing) [risks]\n"
	    "   Held back (not allowed by the agreement): clinical\n"
	    "   Legal basis: MHA 1983 s136(1C); UK GDPR 6(1)(e)\n"
	    "   Sharing rule: triage-request\n"
	    "   Conditions on the recipient: no_onward_disclosure\n"
	    "   Emergency (break-glass): no\n"
	    "   Received and stored by the recipient: 23 November 2026, "
	    "13:26:04 UTC\n"
	    "   Log entry: 3\n"
	    "\n"
	    "1 disclosure in all. Each log entry can be proved with\n"
	    "'concordat audit prove --seq N'.\n"
	    "A field listed may have been empty: the broker cannot see "
	    "which\nfields the sender filled in, only that each was "
	    "sealed.\n");
	strbuf_release(&sb);
	free(ev);
}

static void
test_names_and_fates(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct report r;
	struct event *ev = decision();
	struct report_disclosure d = {5, ev, EVENT_DELIVERED, 0, NULL};

	(void)state;
	strcpy(ev->sender, "social_care");
	strcpy(ev->recipient, "police");
	ev->breakglass = true;
	ev->emergency_reason = EMERGENCY_REASON_RISK_TO_LIFE;
	ev->urgency = 0;
	ev->purpose[0] = '\0';
	report_init(&r, &sb, false, names, NULL);
	assert_int_equal(report_add(&r, &d), 0);
	d.state = EVENT_EXPIRED;
	assert_int_equal(report_add(&r, &d), 0);
	/* a decision that disclosed nothing is not a disclosure */
	ev->disclosed = 0;
	assert_int_equal(report_add(&r, &d), 0);
	assert_int_equal(r.n, 2);
	report_footer(&r);
	const char *s = strbuf_str(&sb);
	/* no name: the id's words; a name: as given; a capital first */
	assert_non_null(strstr(s,
	    "   The social care shared information about you with West "
	    "Yorkshire Police.\n"));
	assert_non_null(strstr(s, "   Why: not recorded\n"));
	assert_non_null(strstr(s,
	    "   Emergency (break-glass): yes, in an emergency (risk to "
	    "life)\n   Review: not yet reviewed\n"));
	assert_non_null(strstr(s,
	    "   Delivered to the recipient: 1 January "
	    "1970, 00:00:00 UTC\n"));
	assert_non_null(strstr(s,
	    "   Not collected; deleted unread at "
	    "expiry: 1 January 1970, 00:00:00 UTC\n"));
	assert_non_null(strstr(s, "\n2 disclosures in all."));
	strbuf_release(&sb);
	/* none at all */
	report_init(&r, &sb, false, NULL, NULL);
	report_footer(&r);
	assert_string_equal(strbuf_str(&sb),
	    "\nNo disclosure of information about this person is "
	    "recorded.\n");
	strbuf_release(&sb);
	free(ev);
}

static void
test_json(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct report r;
	struct event *ev = decision();
	struct report_disclosure d = {9, ev, 0, 0, NULL};
	const char *ids[] = {"NHS number 943 476 5919"};
	json_error_t err;
	json_t *o;

	(void)state;
	report_init(&r, &sb, true, NULL, NULL);
	report_header(&r, ids, 1, "log.example/x", 12);
	assert_int_equal(report_add(&r, &d), 0);
	report_footer(&r);
	/* one line, nothing but the object */
	assert_non_null(strchr(strbuf_str(&sb), '\n'));
	assert_int_equal(
	    strchr(strbuf_str(&sb), '\n') - strbuf_str(&sb) + 1, (long)sb.len);
	assert_non_null(o = json_loads(strbuf_str(&sb), 0, &err));
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 9);
	assert_string_equal(
	    json_string_value(json_object_get(o, "sender")), "police");
	assert_null(json_object_get(o, "fields")); /* allowed, not shared */
	json_t *fields = json_object_get(o, "allowed");
	assert_int_equal(json_array_size(fields), 2);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(fields, 1), "field")),
	    "risks");
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(fields, 0), "description")),
	    fields_your(FIELD_IDENTITY));
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(o, "withheld"), 0)),
	    "clinical");
	assert_string_equal(
	    json_string_value(json_object_get(o, "status")), "");
	assert_string_equal(
	    json_string_value(json_object_get(o, "status_time")), "");
	json_decref(o);
	strbuf_release(&sb);
	free(ev);
}

/* Several identifiers are named and said to be merged; a warning line. */
static void
test_identifiers(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct report r;
	struct event *ev = decision();
	struct report_disclosure d = {
	    4, ev, 0, 0, "justified, by the guardian"};
	const char *ids[] = {
	    "NHS number 943 476 5919", "name SMITH, John born 1970-01-01"};

	(void)state;
	report_init(&r, &sb, REPORT_TEXT, NULL, NULL);
	report_header(&r, ids, 2, "log.example/x", 7);
	report_warning(&r, "cannot check the pepper");
	ev->breakglass = true;
	assert_int_equal(report_add(&r, &d), 0);
	ev->breakglass = false;
	d.review = "ignored when not break-glass";
	assert_int_equal(report_add(&r, &d), 0);
	report_footer(&r);
	const char *s = strbuf_str(&sb);
	assert_non_null(strstr(s,
	    "Subject access report\n"
	    "This report covers 2 identifiers: NHS number 943 476 5919; "
	    "name SMITH, John born 1970-01-01\n"
	    "Audit log: log.example/x, 7 entries\n"
	    "Warning: cannot check the pepper\n"));
	assert_non_null(strstr(s, "   Review: justified, by the guardian\n"));
	assert_null(strstr(s, "ignored"));
	assert_null(strstr(s, "What was shared"));
	strbuf_release(&sb);
	free(ev);
}

/* The HTML letter: escaped, both disclosures, the identifiers. */
static void
test_html(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct report r;
	struct event *ev = decision();
	struct report_disclosure d = {3, ev, EVENT_ACKNOWLEDGED, 0, NULL};
	const char *ids[] = {"NHS number 943 476 5919",
	    "name <b>SMITH</b>, John born 1970-01-01"};

	(void)state;
	report_init(&r, &sb, REPORT_HTML, hostile, NULL);
	report_header(&r, ids, 2, "log.example/<x>", 12);
	report_warning(&r, "a \"warning\" & more");
	assert_int_equal(report_add(&r, &d), 0);
	d.seq = 8;
	ev->breakglass = true;
	ev->emergency_reason = EMERGENCY_REASON_RISK_TO_LIFE;
	strcpy(ev->sender, "mental_health_trust");
	strcpy(ev->recipient, "police");
	strcpy(ev->bases[0], "s136 <script>");
	assert_int_equal(report_add(&r, &d), 0);
	report_footer(&r);
	assert_int_equal(report_error(&r), 0);
	const char *s = strbuf_str(&sb);
	assert_true(strncmp(s, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(s, "class=\"letter\""));
	assert_non_null(strstr(s, "<h2>Who this report is about</h2>"));
	assert_non_null(strstr(s, "This report covers 2 identifiers:"));
	assert_non_null(
	    strstr(s, "<li>name &lt;b&gt;SMITH&lt;/b&gt;, John born "));
	assert_non_null(strstr(s, "log.example/&lt;x&gt;"));
	assert_non_null(strstr(s, "a &quot;warning&quot; &amp; more"));
	/* both disclosures, each a row with its anchor */
	assert_non_null(strstr(s, "<tr id=\"entry-3\">"));
	assert_non_null(strstr(s, "<tr id=\"entry-8\">"));
	/* a hostile agency name is text, never markup */
	assert_non_null(strstr(s, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_null(strstr(s, "<img"));
	assert_null(strstr(s, "<script>"));
	assert_non_null(strstr(s, "s136 &lt;script&gt;"));
	assert_non_null(strstr(s, "Review: not yet reviewed"));
	assert_non_null(strstr(s, "What the recipient was allowed to see"));
	assert_non_null(strstr(s, "the broker cannot see which fields"));
	assert_non_null(strstr(s, "Received and stored by the recipient"));
	assert_non_null(strstr(s, "2 disclosures in all."));
	assert_null(strstr(s, "What was shared"));
	assert_non_null(strstr(s, "</html>\n"));
	strbuf_release(&sb);
	free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_names_and_fates),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_identifiers),
	    cmocka_unit_test(test_html),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
