/*
 * libFuzzer target over the policy loader: any bytes at all must give
 * either a policy and no error, or errors and no policy, and a loaded
 * policy must answer every question without breaking its invariants.
 * Built with -fsanitize=fuzzer when CONCORDAT_FUZZ is on (clang); the seed
 * corpus in tests/policy/corpus is replayed in every build.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/urgency.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy_decision d;
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	size_t na, np;
	int rc;

	yamlconf_errors_init(&errs);
	rc = policy_load_buffer(data, size, "fuzz.yaml", &errs, &p);
	/* Fail closed: a policy exactly when there is no error. */
	check((rc == 0) == (p != NULL));
	check((rc == 0) == (errs.total == 0));
	check(errs.n <= YAMLCONF_MAX_ERRORS + 1 && errs.n <= errs.total);
	for (size_t i = 0; i < errs.n; i++)
		check(errs.msg[i] != NULL);
	yamlconf_errors_release(&errs);
	if (p == NULL)
		return 0;
	na = policy_agency_count(p) < 6 ? policy_agency_count(p) : 6;
	np = policy_purpose_count(p) < 6 ? policy_purpose_count(p) : 6;
	for (size_t i = 0; i < np * na * na * 3; i++) {
		struct policy_question q = {
		    .from = policy_agency_id(p, i / (na * 3) % na),
		    .to = policy_agency_id(p, i / 3 % na),
		    .purpose = policy_purpose_name(p, i / (na * na * 3)),
		    .urgency = URGENCY_ROUTINE + (int)(i % 3),
		    .reason = EMERGENCY_REASON_RISK_TO_LIFE,
		    .kind = KIND_RECORD};

		check(policy_eval(p, &q, &d) == 0);
		check((d.breakglass_fields & ~d.disclosed) == 0);
		check(d.breakglass == (d.breakglass_fields != 0));
		check(q.urgency == URGENCY_EMERGENCY || !d.breakglass);
		check((d.nrules > 0) == (d.disclosed != 0));
		for (size_t k = 0; k < d.nrules; k++)
			check(d.rules[k] != NULL && d.bases[k] != NULL &&
			    d.bases[k][0] != '\0');
	}
	policy_free(p);
	return 0;
}
