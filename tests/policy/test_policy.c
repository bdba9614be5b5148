/*
 * Tests of the policy API that do not fit the case folders: the loaders'
 * limits (a 10 MB file, the exact size cap), the SHA-256, accessors,
 * argument checks and invariants of every decision the example can make.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "common/fileio.h"
#include "common/urgency.h"
#include "policy/policy.h"

static char example[4096];

static const char minimal[] =
    "agreement: t\n"
    "version: 1\n"
    "approved_by: me\n"
    "agencies: [a, b]\n"
    "purposes:\n"
    "  p: {description: d, expires_after: 1h}\n"
    "rules:\n"
    "  - {id: r, from: a, to: [b], purposes: [p], share: [identity],\n"
    "     basis: x}\n";

static struct policy *
load_example(void)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;

	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_file(example, &errs, &p), 0);
	assert_int_equal(errs.total, 0);
	yamlconf_errors_release(&errs);
	assert_non_null(p);
	return p;
}

static void
test_accessors(void **state)
{
	struct policy *p = load_example();
	struct policy_never_info ni;
	uint64_t ms = 0;

	(void)state;
	assert_string_equal(policy_name(p), example);
	assert_string_equal(
	    policy_agreement(p), "example-crisis-care-concordat");
	assert_int_equal(policy_version(p), 1);
	assert_string_equal(policy_approved_by(p),
	    "Caldicott Guardian, Example Mental Health NHS Foundation Trust");
	assert_int_equal(policy_agency_count(p), 4);
	assert_string_equal(policy_agency_id(p, 2), "mental_health_trust");
	assert_null(policy_agency_id(p, 4));
	assert_int_equal(policy_agency_index(p, "social_care"), 3);
	assert_int_equal(policy_agency_index(p, "fire"), -1);
	assert_int_equal(policy_agency_index(p, NULL), -1);
	assert_int_equal(policy_purpose_count(p), 6);
	assert_string_equal(policy_purpose_name(p, 0), "triage_advice");
	assert_int_equal(policy_purpose_index(p, "missing_person"), 5);
	assert_int_equal(policy_purpose_index(p, "law_enforcement"), -1);
	assert_int_equal(policy_purpose_expiry(p, 1), 2 * 3600000);
	assert_int_equal(policy_expiry_ms(p, "triage_advice", &ms), 0);
	assert_int_equal(ms, 30 * 60000);
	assert_int_equal(policy_expiry_ms(p, "safeguarding", &ms), 0);
	assert_int_equal(ms, 4 * 3600000); /* S9: two hours offline fit */
	assert_int_equal(
	    policy_expiry_ms(p, "law_enforcement", &ms), ERROR_PURPOSE);
	assert_int_equal(policy_rule_count(p), 8);
	assert_int_equal(policy_never_count(p), 2);
	assert_int_equal(policy_never_get(p, 0, &ni), 0);
	assert_true(ni.any_from);
	assert_true(ni.any_purpose);
	assert_int_equal(ni.to, 1); /* police */
	assert_int_equal(ni.fields, FIELDS_BIT(FIELD_CLINICAL));
	assert_int_equal(policy_never_get(p, 1, &ni), 0);
	assert_false(ni.any_purpose);
	assert_int_equal(ni.purposes, 1 << 4); /* safeguarding */
	assert_int_equal(policy_never_get(p, 2, &ni), ERROR_NOTFOUND);
	policy_free(p);
	policy_free(NULL);
}

static void
test_sha256(void **state)
{
	uint8_t want[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	struct yamlconf_errors errs;
	struct policy *p, *q = NULL;
	uint8_t *buf;
	size_t len;

	(void)state;
	p = load_example();
	assert_int_equal(fileio_read(example, 1 << 20, &buf, &len), 0);
	crypto_hash_sha256(want, buf, len);
	assert_memory_equal(policy_sha256(p), want, sizeof(want));
	sodium_bin2hex(hex, sizeof(hex), want, sizeof(want));
	assert_string_equal(policy_sha256_hex(p), hex);
	/* The same bytes from a buffer: the same policy hash. */
	yamlconf_errors_init(&errs);
	assert_int_equal(policy_load_buffer(buf, len, "x.yaml", &errs, &q), 0);
	assert_string_equal(policy_sha256_hex(q), hex);
	assert_string_equal(policy_name(q), "x.yaml");
	policy_free(q);
	/* One byte more (a trailing newline): another hash. */
	buf = realloc(buf, len + 1);
	assert_non_null(buf);
	buf[len] = '\n';
	assert_int_equal(
	    policy_load_buffer(buf, len + 1, "x.yaml", &errs, &q), 0);
	assert_string_not_equal(policy_sha256_hex(q), hex);
	policy_free(q);
	yamlconf_errors_release(&errs);
	free(buf);
	policy_free(p);
}

static void
write_file(const char *path, const char *head, size_t total, char pad)
{
	FILE *f = fopen(path, "w");
	size_t n = strlen(head);

	assert_non_null(f);
	assert_int_equal(fwrite(head, 1, n, f), n);
	/* Comment lines up to the size wanted. */
	while (n < total) {
		size_t chunk = total - n < 80 ? total - n : 80;
		char line[81];

		memset(line, pad, chunk);
		line[0] = '#';
		line[chunk - 1] = '\n';
		assert_int_equal(fwrite(line, 1, chunk, f), chunk);
		n += chunk;
	}
	assert_int_equal(fclose(f), 0);
}

static void
test_size_limits(void **state)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	char path[] = "/tmp/policy-big-XXXXXX", want[128];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	yamlconf_errors_init(&errs);
	/* Ten megabytes: refused before it is read, no policy. */
	write_file(path, minimal, 10 * 1024 * 1024, 'x');
	assert_int_equal(policy_load_file(path, &errs, &p), ERROR_TOOBIG);
	assert_null(p);
	assert_int_equal(errs.n, 1);
	snprintf(
	    want, sizeof(want), "%s: file is larger than 1048576 bytes", path);
	assert_string_equal(errs.msg[0], want);
	/* Exactly the cap loads; one byte more does not. */
	write_file(path, minimal, POLICY_FILE_MAX, 'x');
	yamlconf_errors_release(&errs);
	assert_int_equal(policy_load_file(path, &errs, &p), 0);
	assert_non_null(p);
	policy_free(p);
	p = NULL;
	write_file(path, minimal, POLICY_FILE_MAX + 1, 'x');
	assert_int_equal(policy_load_file(path, &errs, &p), ERROR_TOOBIG);
	assert_null(p);
	{
		/* The buffer loader applies the same cap. */
		char *big = calloc(1, POLICY_FILE_MAX + 1);

		assert_non_null(big);
		memset(big, '#', POLICY_FILE_MAX + 1);
		assert_int_equal(policy_load_buffer(big, POLICY_FILE_MAX + 1,
		                     "big.yaml", &errs, &p),
		    ERROR_TOOBIG);
		assert_null(p);
		free(big);
	}
	unlink(path);
	assert_int_equal(policy_load_file(path, &errs, &p), ERROR_NOENT);
	assert_int_equal(policy_load_file("/", &errs, &p), ERROR_INVAL);
	assert_null(p);
	yamlconf_errors_release(&errs);
}

static void
test_too_many_errors(void **state)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	char *text = malloc(8192);
	size_t n;

	(void)state;
	assert_non_null(text);
	n = (size_t)snprintf(text, 8192,
	    "agreement: t\nversion: 1\napproved_by: me\nagencies: [a, b]\n"
	    "purposes:\n  p: {description: d, expires_after: 1h}\n"
	    "rules:\n  - id: r\n    from: a\n    to: [b]\n    purposes: [p]\n"
	    "    basis: x\n    share:\n");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(
		    text + n, 8192 - n, "      - bogus%d\n", i);
	yamlconf_errors_init(&errs);
	assert_int_equal(
	    policy_load_buffer(text, n, "p.yaml", &errs, &p), ERROR_POLICY);
	assert_null(p);
	assert_int_equal(errs.total, 150);
	assert_int_equal(errs.n, YAMLCONF_MAX_ERRORS + 1);
	assert_string_equal(errs.msg[0],
	    "p.yaml:14: unknown field 'bogus0' (not one of the 13 B8 fields)");
	assert_string_equal(errs.msg[YAMLCONF_MAX_ERRORS],
	    "p.yaml: too many errors (only the first 100 are shown)");
	yamlconf_errors_release(&errs);
	free(text);
}

static void
test_caps(void **state)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	char text[4096];
	size_t n;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
	    "agreement: t\nversion: 1\napproved_by: me\nagencies: [");
	for (int i = 0; i < POLICY_MAX_AGENCIES + 1; i++)
		n += (size_t)snprintf(
		    text + n, sizeof(text) - n, "%sa%d", i ? ", " : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n,
	    "]\npurposes: {}\nrules:\n  - {id: r, from: a0, to: [a64], "
	    "purposes: [], share: [identity], basis: x}\n");
	yamlconf_errors_init(&errs);
	assert_int_equal(
	    policy_load_buffer(text, n, "p.yaml", &errs, &p), ERROR_POLICY);
	assert_null(p);
	/* The cap, once, and no cascade of unknown agencies after it. */
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.msg[0], "p.yaml:4: more than 64 agencies");
	assert_string_equal(
	    errs.msg[1], "p.yaml:7: rule 'r': 'purposes': must not be empty");
	yamlconf_errors_release(&errs);
}

static void
test_eval_arguments(void **state)
{
	struct policy *p = load_example();
	struct policy_decision *d = malloc(sizeof(*d));
	struct policy_question q = {.from = "police",
	    .to = "mental_health_trust",
	    .purpose = "triage_advice",
	    .urgency = URGENCY_URGENT,
	    .kind = KIND_RECORD};
	char buf[128];

	(void)state;
	assert_non_null(d);
	assert_int_equal(policy_eval(p, &q, d), 0);
	assert_int_equal(d->urgency, URGENCY_URGENT);
	assert_int_equal(d->kind, KIND_RECORD);
	assert_string_equal(d->purpose, "triage_advice");
	assert_int_equal(d->expires_ms, 1800000);
	assert_true(d->known_agencies);
	assert_int_equal(d->nrules, 1);
	assert_string_equal(d->rules[0], "triage-request");
	assert_string_equal(d->bases[0],
	    "MHA 1983 s136(1C) consultation; UK "
	    "GDPR Art 6(1)(e), 9(2)(h); DPA 2018 "
	    "Sch 1 para 2");
	assert_int_equal(d->nobligations, 1);
	assert_string_equal(d->obligation_names[0], "no_onward_disclosure");
	assert_int_equal(d->obligations, 1u << POLICY_NO_ONWARD_DISCLOSURE);
	assert_string_equal(
	    policy_reason_format(&d->field[0], buf, sizeof(buf)),
	    "rule triage-request");
	assert_string_equal(
	    policy_reason_format(&d->field[1], buf, sizeof(buf)), "no rule");
	/* kind is reported, not decisive. */
	q.kind = KIND_REQUEST;
	{
		fieldset before = d->disclosed;

		assert_int_equal(policy_eval(p, &q, d), 0);
		assert_int_equal(d->disclosed, before);
		assert_int_equal(d->kind, KIND_REQUEST);
	}
	q.urgency = 0;
	assert_int_equal(policy_eval(p, &q, d), ERROR_INVAL);
	q.urgency = 4;
	assert_int_equal(policy_eval(p, &q, d), ERROR_INVAL);
	q.urgency = URGENCY_ROUTINE;
	q.kind = 3;
	assert_int_equal(policy_eval(p, &q, d), ERROR_INVAL);
	q.kind = KIND_RECORD;
	q.purpose = NULL;
	assert_int_equal(policy_eval(p, &q, d), ERROR_INVAL);
	assert_int_equal(policy_eval(NULL, &q, d), ERROR_INVAL);
	/* An undeclared purpose is rejected, and *d discloses nothing. */
	q.purpose = "law_enforcement";
	assert_int_equal(policy_eval(p, &q, d), ERROR_PURPOSE);
	assert_int_equal(d->disclosed, 0);
	assert_int_equal(d->nrules, 0);
	/* Unknown agencies get nothing, and are flagged. */
	q.purpose = "triage_advice";
	q.from = "fire";
	assert_int_equal(policy_eval(p, &q, d), 0);
	assert_false(d->known_agencies);
	assert_int_equal(d->disclosed, 0);
	q.from = "police";
	q.to = "Police";
	assert_int_equal(policy_eval(p, &q, d), 0);
	assert_int_equal(d->disclosed, 0);
	free(d);
	policy_free(p);
}

/*
 * Invariants over every question the example policy can be asked: they
 * hold for any policy, and each one could fail.
 */
static void
test_invariants(void **state)
{
	struct policy *p = load_example();
	struct policy_decision *d = malloc(sizeof(*d)), *e = malloc(sizeof(*e));
	size_t na = policy_agency_count(p), np = policy_purpose_count(p);
	int police = policy_agency_index(p, "police"), checked = 0;

	(void)state;
	assert_non_null(d);
	assert_non_null(e);
	for (size_t pi = 0; pi < np; pi++)
		for (size_t fi = 0; fi < na; fi++)
			for (size_t ti = 0; ti < na; ti++) {
				struct policy_question q = {
				    .from = policy_agency_id(p, fi),
				    .to = policy_agency_id(p, ti),
				    .purpose = policy_purpose_name(p, pi),
				    .urgency = URGENCY_ROUTINE,
				    .kind = KIND_RECORD};
				fieldset routine;

				assert_int_equal(policy_eval(p, &q, d), 0);
				routine = d->disclosed;
				assert_false(d->breakglass);
				q.urgency = URGENCY_URGENT;
				assert_int_equal(policy_eval(p, &q, d), 0);
				assert_int_equal(d->disclosed, routine);
				q.urgency = URGENCY_EMERGENCY;
				assert_int_equal(policy_eval(p, &q, d), 0);
				assert_int_equal(d->disclosed,
				    routine); /* no justification */
				assert_false(d->breakglass);
				q.reason = EMERGENCY_REASON_RISK_TO_LIFE;
				assert_int_equal(policy_eval(p, &q, e), 0);
				/* Break-glass only adds, and flags exactly what
				 * it added. */
				assert_int_equal(
				    e->disclosed & routine, routine);
				assert_int_equal(e->breakglass_fields,
				    e->disclosed & ~routine);
				assert_int_equal(
				    e->breakglass, e->breakglass_fields != 0);
				/* Never clinical to police, emergency or not.
				 */
				if ((int)ti == police)
					assert_false(fields_has(
					    e->disclosed, FIELD_CLINICAL));
				/* Nobody shares with themselves. */
				if (fi == ti)
					assert_int_equal(e->disclosed, 0);
				for (int f = 1; f <= FIELDS_COUNT; f++) {
					const struct policy_field_decision *fd =
					    &e->field[f - 1];

					assert_int_equal(
					    fields_has(e->disclosed, f),
					    fd->reason == POLICY_ALLOWED);
					assert_int_equal(fd->breakglass,
					    fields_has(
					        e->breakglass_fields, f));
					assert_int_equal(fd->rule != NULL,
					    fd->reason == POLICY_ALLOWED);
				}
				assert_int_equal(
				    e->nrules > 0, e->disclosed != 0);
				checked++;
			}
	assert_int_equal(checked, 6 * 4 * 4);
	free(d);
	free(e);
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accessors),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_size_limits),
	    cmocka_unit_test(test_too_many_errors),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_eval_arguments),
	    cmocka_unit_test(test_invariants),
	};
	const char *src = getenv("CONCORDAT_SOURCE_DIR");

	if (sodium_init() < 0)
		return 1;
	snprintf(example, sizeof(example),
	    "%s/policy/examples/crisis-care.yaml", src ? src : ".");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
