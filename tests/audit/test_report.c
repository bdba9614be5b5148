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

static void
test_text(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct report r;
	struct event *ev = decision();
	struct report_disclosure d = {
	    3, ev, EVENT_ACKNOWLEDGED, 1795440364000ULL};

	(void)state;
	report_init(&r, &sb, false, NULL, NULL);
	report_header(&r, "943 476 5919", "log.example/x", 12);
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
	    "   What was shared:\n"
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
	    "'concordat audit prove --seq N'.\n");
	strbuf_release(&sb);
	free(ev);
}

static void
test_names_and_fates(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct report r;
	struct event *ev = decision();
	struct report_disclosure d = {5, ev, EVENT_DELIVERED, 0};

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
	    "life)\n"));
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
	struct report_disclosure d = {9, ev, 0, 0};
	json_error_t err;
	json_t *o;

	(void)state;
	report_init(&r, &sb, true, NULL, NULL);
	report_header(&r, "9434765919", "log.example/x", 12);
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
	json_t *fields = json_object_get(o, "fields");
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_names_and_fates),
	    cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
