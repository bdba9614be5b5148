/*
 * libFuzzer target over the cases-file parser (policy/cases.c), against
 * the example policy: any bytes give either cases and no error, or errors
 * and no cases, and every parsed case runs. Built with -fsanitize=fuzzer
 * when CONCORDAT_FUZZ is on (clang); the seed corpus in
 * tests/policy/cases-corpus is replayed in every build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cases.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_text[] =
    "agreement: fuzz\n"
    "version: 1\n"
    "approved_by: me\n"
    "agencies: [police, {id: trust, name: the trust}, social_care]\n"
    "purposes:\n"
    "  triage: {description: d, expires_after: 30m}\n"
    "  care: {description: e, expires_after: 2h}\n"
    "rules:\n"
    "  - {id: r, from: police, to: [trust], purposes: [triage],\n"
    "     share: [identity, risks], emergency_share: [clinical],\n"
    "     basis: x, obligations: [no_onward_disclosure]}\n"
    "  - {id: s, from: trust, to: [police, social_care], purposes: [care],\n"
    "     share: [services], basis: y}\n"
    "never:\n"
    "  - {to: social_care, fields: [clinical]}\n";

static void
check(int ok)
{
	if (!ok)
		abort();
}

static struct policy *
example(void)
{
	static struct policy *p;
	struct yamlconf_errors errs;

	if (p != NULL)
		return p;
	yamlconf_errors_init(&errs);
	check(policy_load_buffer(
	          policy_text, strlen(policy_text), "p.yaml", &errs, &p) == 0);
	yamlconf_errors_release(&errs);
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yamlconf_errors errs;
	struct cases_result r;
	struct cases *cs = NULL;
	const struct policy *p = example();
	int rc;

	yamlconf_errors_init(&errs);
	rc = cases_parse(data, size, "fuzz.yaml", p, &errs, &cs);
	check((rc == 0) == (cs != NULL));
	check(rc != 0 || errs.total == 0);
	check(rc != ERROR_CONFIG || errs.total > 0);
	check(errs.n <= YAMLCONF_MAX_ERRORS + 1 && errs.n <= errs.total);
	for (size_t i = 0; i < errs.n; i++)
		check(errs.msg[i] != NULL);
	if (cs != NULL) {
		check(cases_count(cs) > 0);
		for (size_t i = 0; i < cases_count(cs); i++) {
			check(cases_run(cs, p, i, &r) == 0);
			check(r.name != NULL && r.actual[0] != '\0');
			check(r.pass || r.wrong[0] != '\0' || r.expected[0]);
		}
		check(cases_run(cs, p, cases_count(cs), &r) == ERROR_INVAL);
	}
	cases_free(cs);
	yamlconf_errors_release(&errs);
	return 0;
}
