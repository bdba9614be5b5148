/*
 * `concordat policy summary FILE`: the plain-English summary for the
 * public, built by policy/summary.c and written here.
 */
#include <stdio.h>

#include "common/cli.h"
#include "common/strbuf.h"
#include "policy/summary.h"
#include "policy/verbs/policy_verbs.h"

int
policy_verb_summary(int argc, char **argv)
{
	struct strbuf sb = STRBUF_INIT;
	struct policy *p = NULL;
	int rc;

	if ((rc = policy_verbs_options(argc, argv, NULL)) >= 0)
		return rc;
	if (argc - optind != 1)
		return policy_verbs_usage(stderr, EX_USAGE);
	if ((rc = policy_verbs_load("policy summary", argv[optind], &p)) != 0)
		return rc;
	if (summary_build(p, &sb) != ERROR_OK)
		rc = cli_fail(EX_OSERR, "policy summary: out of memory");
	else
		fwrite(sb.buf, 1, sb.len, stdout);
	strbuf_release(&sb);
	policy_free(p);
	return rc;
}
