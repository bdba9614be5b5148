/*
 * `concordat policy check FILE [--against OLD]`: loads the policy and
 * prints a one-line summary of it, or every error; with --against, warns
 * when decisions change from OLD but `version` does not go up.
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
	static const struct option opts[] = {
	    {"against", required_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy *p = NULL, *old = NULL;
	const char *against = NULL;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "a:h", opts)) != -1) {
		switch (c) {
		case 'a':
			against = optarg;
			break;
		case 'h':
			return policy_verbs_usage(stdout, EX_OK);
		default:
			return policy_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (argc - optind != 1)
		return policy_verbs_usage(stderr, EX_USAGE);
	if ((rc = policy_verbs_load("policy check", argv[optind], &p)) != 0)
		return rc;
	if (against != NULL) {
		if ((rc = policy_verbs_load("policy check", against, &old)) !=
		    0) {
			policy_free(p);
			return rc;
		}
		long n = policy_verbs_version_warn("policy check", old, p);
		policy_free(old);
		if (n < 0) {
			policy_free(p);
			return cli_fail(
			    EX_OSERR, "policy check: out of memory");
		}
		printf("%s: %ld decision%s change%s from %s\n", argv[optind], n,
		    n == 1 ? "" : "s", n == 1 ? "s" : "", against);
	}
	printf("%s: ok: agreement %s version %lld, %zu agencies, %zu "
	       "purposes, %zu rules, %zu never entries, sha256 %s\n",
	    argv[optind], policy_agreement(p), policy_version(p),
	    policy_agency_count(p), policy_purpose_count(p),
	    policy_rule_count(p), policy_never_count(p), policy_sha256_hex(p));
	policy_free(p);
	return EX_OK;
}
