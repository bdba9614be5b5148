/*
 * Benchmark of policy_eval: decisions per second on one core over every
 * question the example policy can be asked (names looked up each time,
 * as the broker does). Built, not run by ctest: `bench_policy [POLICY]`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/urgency.h"
#include "policy/policy.h"

#ifndef BENCH_POLICY_FILE
#define BENCH_POLICY_FILE "policy/examples/crisis-care.yaml"
#endif

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : BENCH_POLICY_FILE;
	struct policy_question qs[2048];
	struct yamlconf_errors errs;
	struct policy_decision d;
	struct policy *p = NULL;
	size_t nq = 0, na, np;
	unsigned long long n = 0, disclosed = 0;
	double start, elapsed;

	yamlconf_errors_init(&errs);
	if (policy_load_file(path, &errs, &p) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		return 78;
	}
	yamlconf_errors_release(&errs);
	na = policy_agency_count(p);
	np = policy_purpose_count(p);
	/* One purpose past the end: undeclared, so rejected. */
	for (size_t i = 0; i < (np + 1) * na * na * 3 && nq < 2048; i++) {
		size_t pi = i / (na * na * 3);

		qs[nq++] = (struct policy_question){
		    .from = policy_agency_id(p, i / (na * 3) % na),
		    .to = policy_agency_id(p, i / 3 % na),
		    .purpose = pi < np ? policy_purpose_name(p, pi)
		                       : "law_enforcement",
		    .urgency = URGENCY_ROUTINE + (int)(i % 3),
		    .reason = EMERGENCY_REASON_RISK_TO_LIFE,
		    .kind = KIND_RECORD};
	}
	start = now();
	do {
		for (int rep = 0; rep < 1000; rep++)
			for (size_t i = 0; i < nq; i++) {
				if (policy_eval(p, &qs[i], &d) == 0)
					disclosed += d.disclosed;
				n++;
			}
		elapsed = now() - start;
	} while (elapsed < 2.0);
	printf("%llu decisions in %.2f s over %zu questions: %.0f "
	       "decisions/s (checksum %llu)\n",
	    n, elapsed, nq, (double)n / elapsed, disclosed);
	policy_free(p);
	return 0;
}
