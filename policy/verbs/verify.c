/*
 * `concordat policy verify FILE --keyring DIR [--json]`: who has signed
 * the agreement FILE (its note FILE.sig) and who has not, against the
 * guardian keys of a keyring; exit 0 only when it is complete.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "common/cli.h"
#include "policy/verbs/policy_verbs.h"

int
policy_verb_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"keyring", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_verbs_signed s = {0};
	struct agreement_check *chk = NULL;
	const char *keyring = NULL;
	bool json = false;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "k:h", opts)) != -1) {
		switch (c) {
		case 'k':
			keyring = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return policy_verbs_usage(stdout, EX_OK);
		default:
			return policy_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (argc - optind != 1 || keyring == NULL)
		return policy_verbs_usage(stderr, EX_USAGE);
	if ((rc = policy_verbs_signed_load(
	         "policy verify", argv[optind], &s)) != 0)
		return rc;
	if ((rc = policy_verbs_signed_check(
	         "policy verify", &s, keyring, &chk)) != 0)
		goto out;
	if (json) {
		json_t *o = policy_verbs_check_json(&s, chk);
		if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) < 0) {
			json_decref(o);
			rc = cli_fail(
			    EX_OSERR, "policy verify: cannot write JSON");
			goto out;
		}
		putchar('\n');
		json_decref(o);
	} else {
		policy_verbs_check_print(stdout, &s, chk);
	}
	/* 1, like `policy test` and `diff`: the answer is "no". */
	rc = chk->complete ? EX_OK : 1;
out:
	free(chk);
	policy_verbs_signed_release(&s);
	return rc;
}
