/*
 * `concordat policy check FILE`: loads the policy and prints a one-line
 * summary of it, or every error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cli.h"
#include "common/duration.h"
#include "common/suggest.h"
#include "common/urgency.h"
#include "policy/policy.h"
#include "policy/policy_json.h"
#include "policy/verbs/policy_verbs.h"

int
policy_verb_check(int argc, char **argv)
{
	struct policy *p = NULL;
	int rc;

	if ((rc = policy_verbs_options(argc, argv, NULL)) >= 0)
		return rc;
	if (argc - optind != 1)
		return policy_verbs_usage(stderr, EX_USAGE);
	if ((rc = policy_verbs_load("policy check", argv[optind], &p)) != 0)
		return rc;
	printf("%s: ok: agreement %s version %lld, %zu agencies, %zu "
	       "purposes, %zu rules, %zu never entries, sha256 %s\n",
	    argv[optind], policy_agreement(p), policy_version(p),
	    policy_agency_count(p), policy_purpose_count(p),
	    policy_rule_count(p), policy_never_count(p), policy_sha256_hex(p));
	policy_free(p);
	return EX_OK;
}
