/*
 * `concordat policy test FILE CASES`: runs the expected decisions of a
 * cases file (policy/cases.h) and prints each result; exit 1 on a failure.
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/cli.h"
#include "common/urgency.h"
#include "policy/cases.h"
#include "policy/verbs/policy_verbs.h"

static void
print_result(const char *file, const struct policy_question *q,
    const struct cases_result *r)
{
	if (r->pass) {
		printf("ok    %s\n", r->name);
		return;
	}
	printf("FAIL  %s (%s:%u)\n", r->name, file, r->line);
	printf("      question: %s -> %s, purpose %s, urgency %s%s%s\n",
	    q->from, q->to, q->purpose, urgency_name(q->urgency),
	    q->reason != 0 ? ", reason " : "",
	    q->reason != 0 ? emergency_reason_name(q->reason) : "");
	printf("      expected: %s\n", r->expected);
	printf("      actual:   %s\n", r->actual);
	if (r->wrong[0] != '\0')
		printf("      wrong:    %s\n", r->wrong);
}

int
policy_verb_test(int argc, char **argv)
{
	struct yamlconf_errors errs;
	struct policy *p = NULL;
	struct cases *cs = NULL;
	struct cases_result *r = NULL;
	const char *file;
	size_t n, failed = 0;
	int rc;

	if ((rc = policy_verbs_options(argc, argv, NULL)) >= 0)
		return rc;
	if (argc - optind != 2)
		return policy_verbs_usage(stderr, EX_USAGE);
	file = argv[optind + 1];
	if ((rc = policy_verbs_load("policy test", argv[optind], &p)) != 0)
		return rc;
	yamlconf_errors_init(&errs);
	rc = cases_load_file(file, p, &errs, &cs);
	if (rc == ERROR_CONFIG) {
		fflush(stdout);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		rc = cli_fail(EX_CONFIG, "policy test: %s: %zu error%s", file,
		    errs.total, errs.total == 1 ? "" : "s");
		goto out;
	}
	if (rc != ERROR_OK) {
		rc = cli_fail(policy_verbs_load_code(rc),
		    "policy test: cannot load %s: %s", file,
		    error_strerror(rc));
		goto out;
	}
	if ((r = malloc(sizeof(*r))) == NULL) {
		rc = cli_fail(EX_OSERR, "policy test: out of memory");
		goto out;
	}
	n = cases_count(cs);
	for (size_t i = 0; i < n; i++) {
		if ((rc = cases_run(cs, p, i, r)) != ERROR_OK) {
			rc = cli_fail(
			    EX_OSERR, "policy test: %s", error_strerror(rc));
			goto out;
		}
		print_result(file, cases_question(cs, i), r);
		if (!r->pass)
			failed++;
	}
	printf("%zu case%s: %zu passed, %zu failed\n", n, n == 1 ? "" : "s",
	    n - failed, failed);
	rc = failed == 0 ? EX_OK : 1;
out:
	free(r);
	cases_free(cs);
	yamlconf_errors_release(&errs);
	policy_free(p);
	return rc;
}
