/*
 * `concordat policy explain FILE --from A --to B --purpose P`: what B would
 * receive from A, field by field, and why (a table, or JSON).
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

/* Checks that name is an agency of p, suggesting one when misspelt. */
static bool
agency_known(const struct policy *p, const char *verb, const char *name)
{
	const char *names[POLICY_MAX_AGENCIES];
	const char *hint;
	size_t n = policy_agency_count(p);

	if (policy_agency_index(p, name) >= 0)
		return true;
	for (size_t i = 0; i < n; i++)
		names[i] = policy_agency_id(p, i);
	hint = suggest_closest(name, names, n);
	if (hint != NULL)
		cli_fail(0,
		    "policy %s: unknown agency '%s' (did you mean "
		    "'%s'?)",
		    verb, name, hint);
	else
		cli_fail(0,
		    "policy %s: unknown agency '%s' (not listed "
		    "in %s)",
		    verb, name, policy_name(p));
	return false;
}

static void
print_list(const char *const *items, size_t n, const char *none)
{
	if (n == 0)
		fputs(none, stdout);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", items[i]);
	putchar('\n');
}

static void
explain_text(const struct policy *p, const struct policy_question *q,
    const struct policy_decision *d)
{
	char reason[128], buf[256], dur[32];

	printf("policy:        %s (%s version %lld)\n", policy_name(p),
	    policy_agreement(p), policy_version(p));
	printf("sha256:        %s\n", policy_sha256_hex(p));
	printf("question:      %s -> %s, purpose %s, urgency %s, kind %s\n",
	    q->from, q->to, q->purpose, urgency_name(q->urgency),
	    urgency_kind_name(q->kind));
	if (q->urgency == URGENCY_EMERGENCY)
		printf("reason:        %s\n",
		    q->reason != 0 ? emergency_reason_words(q->reason)
		                   : "none (emergency_share does not apply)");
	printf("break-glass:   %s\n",
	    d->breakglass
	        ? fields_format(d->breakglass_fields, ", ", buf, sizeof(buf))
	        : "no");
	printf("\n%-16s %-10s %s\n", "FIELD", "DECISION", "REASON");
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct policy_field_decision *fd = &d->field[f - 1];

		policy_reason_format(fd, reason, sizeof(reason));
		if (fd->reason == POLICY_ALLOWED)
			snprintf(buf, sizeof(buf), "rule %s (line %u)%s",
			    fd->rule, fd->line,
			    fd->breakglass ? ", break-glass" : "");
		else
			snprintf(buf, sizeof(buf), "%s", reason);
		printf("%-16s %-10s %s\n", fields_name(f),
		    fields_has(d->disclosed, f) ? "disclosed" : "withheld",
		    buf);
	}
	printf("\nrules:         ");
	if (d->nrules == 0)
		printf("none\n");
	for (size_t i = 0; i < d->nrules; i++)
		printf("%s%s (basis: %s)\n", i ? "               " : "",
		    d->rules[i], d->bases[i]);
	printf("obligations:   ");
	print_list(d->obligation_names, d->nobligations, "none");
	printf("expires:       %s (an undelivered message is then deleted "
	       "and the sender told)\n",
	    duration_format(d->expires_ms, dur, sizeof(dur)));
}

int
policy_verb_explain(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"urgency", required_argument, NULL, 'u'},
	    {"reason", required_argument, NULL, 'r'},
	    {"kind", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_question q = {
	    .urgency = URGENCY_ROUTINE, .kind = KIND_RECORD};
	struct policy_decision *d = NULL;
	struct policy *p = NULL;
	bool json = false;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "h", opts)) != -1) {
		switch (c) {
		case 'f':
			q.from = optarg;
			break;
		case 't':
			q.to = optarg;
			break;
		case 'p':
			q.purpose = optarg;
			break;
		case 'u':
			if ((q.urgency = urgency_parse(optarg)) == 0)
				return cli_fail(EX_USAGE,
				    "policy explain: bad --urgency '%s' "
				    "(routine, urgent or emergency)",
				    optarg);
			break;
		case 'r':
			if ((q.reason = emergency_reason_parse(optarg)) == 0)
				return cli_fail(EX_USAGE,
				    "policy explain: bad --reason '%s' (%s)",
				    optarg, EMERGENCY_REASON_LIST);
			break;
		case 'k':
			if ((q.kind = urgency_kind_parse(optarg)) == 0)
				return cli_fail(EX_USAGE,
				    "policy explain: bad --kind '%s' (record "
				    "or request)",
				    optarg);
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
	if (argc - optind != 1)
		return policy_verbs_usage(stderr, EX_USAGE);
	if (q.from == NULL || q.to == NULL || q.purpose == NULL)
		return cli_fail(EX_USAGE,
		    "policy explain: --from, --to "
		    "and --purpose are required");
	if ((rc = policy_verbs_load("policy explain", argv[optind], &p)) != 0)
		return rc;
	if (!agency_known(p, "explain", q.from) ||
	    !agency_known(p, "explain", q.to)) {
		rc = EX_DATAERR;
		goto out;
	}
	if ((d = malloc(sizeof(*d))) == NULL) {
		rc = cli_fail(EX_OSERR, "policy explain: out of memory");
		goto out;
	}
	rc = policy_eval(p, &q, d);
	if (rc != ERROR_OK && rc != ERROR_PURPOSE) {
		rc = cli_fail(
		    EX_SOFTWARE, "policy explain: %s", error_strerror(rc));
		goto out;
	}
	if (json) {
		json_t *o = policy_json_decision(p, &q, d, rc);

		if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) < 0) {
			json_decref(o);
			rc = cli_fail(
			    EX_OSERR, "policy explain: cannot write JSON");
			goto out;
		}
		putchar('\n');
		json_decref(o);
	} else if (rc == ERROR_OK) {
		explain_text(p, &q, d);
	}
	if (rc == ERROR_PURPOSE)
		rc = cli_fail(EX_DATAERR,
		    "policy explain: purpose '%s' is not declared by %s: such "
		    "a message is rejected",
		    q.purpose, argv[optind]);
	else
		rc = EX_OK;
out:
	free(d);
	policy_free(p);
	return rc;
}
