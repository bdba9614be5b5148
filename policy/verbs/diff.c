/*
 * `concordat policy diff OLD NEW`: every question either version can be
 * asked whose decision changes, one line per change (or JSON); exit 1 when
 * there is any.
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

/* Appends ", item" (or "item" first) to buf of size n, if it fits. */
static void
append_list(char *buf, size_t n, const char *item)
{
	size_t used = strlen(buf);

	snprintf(buf + used, n - used, "%s%s", used ? ", " : "", item);
}

enum outcome { OUT_WITHHELD, OUT_DISCLOSED, OUT_REJECTED };

static const char *const outcome_names[] = {
    "withheld", "disclosed", "rejected"};

/* Every name of a and of b, a's first, each once. */
static size_t
union_names(const char **out, size_t max,
    const char *(*name)(const struct policy *, size_t),
    size_t (*count)(const struct policy *), const struct policy *a,
    const struct policy *b)
{
	size_t n = 0;

	for (int k = 0; k < 2; k++) {
		const struct policy *p = k == 0 ? a : b;

		for (size_t i = 0; i < count(p); i++) {
			const char *s = name(p, i);
			size_t j;

			for (j = 0; j < n; j++)
				if (strcmp(out[j], s) == 0)
					break;
			if (j == n && n < max)
				out[n++] = s;
		}
	}
	return n;
}

static void
outcomes(const struct policy *p, const struct policy_question *q,
    struct policy_decision *d, enum outcome *o)
{
	int rc = policy_eval(p, q, d);

	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (rc != ERROR_OK)
			o[f - 1] = OUT_REJECTED;
		else
			o[f - 1] = fields_has(d->disclosed, f) ? OUT_DISCLOSED
			                                       : OUT_WITHHELD;
	}
}

/* What diff has found so far. */
struct diff {
	json_t *changes;
	size_t total, more, less, other;
	bool json;
	char all[512]; /* every field, as a changed list shows it */
};

/*
 * Compares a and b on question q: one text line per change of decision
 * (from one outcome to another) with the fields it concerns, one JSON
 * entry per field. Returns 0, or -1 when out of memory.
 */
static int
diff_question(const struct policy *a, const struct policy *b,
    const struct policy_question *q, struct policy_decision *d, struct diff *s)
{
	enum outcome oa[FIELDS_COUNT], ob[FIELDS_COUNT];

	outcomes(a, q, d, oa);
	outcomes(b, q, d, ob);
	for (int x = 0; x < 3; x++) {
		for (int y = 0; y < 3; y++) {
			char line[512] = "";

			if (x == y)
				continue;
			for (int f = 1; f <= FIELDS_COUNT; f++) {
				if (oa[f - 1] != (enum outcome)x ||
				    ob[f - 1] != (enum outcome)y)
					continue;
				s->total++;
				if (y == OUT_DISCLOSED)
					s->more++;
				else if (x == OUT_DISCLOSED)
					s->less++;
				else
					s->other++;
				if (json_array_append_new(s->changes,
				        json_pack("{s:s, s:s, s:s, s:s, s:s, "
				                  "s:s, s:s}",
				            "from", q->from, "to", q->to,
				            "purpose", q->purpose, "urgency",
				            urgency_name(q->urgency), "field",
				            fields_name(f), "old",
				            outcome_names[x], "new",
				            outcome_names[y])) < 0)
					return -1;
				append_list(line, sizeof(line), fields_name(f));
			}
			if (line[0] != '\0' && !s->json)
				printf("%s -> %s, %s, %s: %s -> %s: %s\n",
				    q->from, q->to, q->purpose,
				    urgency_name(q->urgency), outcome_names[x],
				    outcome_names[y],
				    strcmp(line, s->all) == 0 ? "all fields"
				                              : line);
		}
	}
	return 0;
}

int
policy_verb_diff(int argc, char **argv)
{
	const char *agencies[2 * POLICY_MAX_AGENCIES];
	const char *purposes[2 * POLICY_MAX_PURPOSES];
	struct policy *a = NULL, *b = NULL;
	struct policy_decision *d = NULL;
	struct diff s = {0};
	json_t *root = NULL;
	size_t na, np;
	int rc;

	if ((rc = policy_verbs_options(argc, argv, &s.json)) >= 0)
		return rc;
	if (argc - optind != 2)
		return policy_verbs_usage(stderr, EX_USAGE);
	fields_format(FIELDS_ALL, ", ", s.all, sizeof(s.all));
	if ((rc = policy_verbs_load("policy diff", argv[optind], &a)) != 0 ||
	    (rc = policy_verbs_load("policy diff", argv[optind + 1], &b)) != 0)
		goto out;
	d = malloc(sizeof(*d));
	s.changes = json_array();
	if (d == NULL || s.changes == NULL) {
		rc = cli_fail(EX_OSERR, "policy diff: out of memory");
		goto out;
	}
	na = union_names(agencies, 2 * POLICY_MAX_AGENCIES, policy_agency_id,
	    policy_agency_count, a, b);
	np = union_names(purposes, 2 * POLICY_MAX_PURPOSES, policy_purpose_name,
	    policy_purpose_count, a, b);
	/* Every question either file can be asked; emergencies justified. */
	for (size_t i = 0; i < np * na * na * 3; i++) {
		size_t pi = i / (na * na * 3), fi = i / (na * 3) % na,
		       ti = i / 3 % na;
		struct policy_question q = {.from = agencies[fi],
		    .to = agencies[ti],
		    .purpose = purposes[pi],
		    .urgency = URGENCY_ROUTINE + (int)(i % 3),
		    .reason = EMERGENCY_REASON_RISK_TO_LIFE,
		    .kind = KIND_RECORD};

		if (fi != ti && diff_question(a, b, &q, d, &s) != 0) {
			rc = cli_fail(EX_OSERR, "policy diff: out of memory");
			goto out;
		}
	}
	if (s.json) {
		root = json_pack("{s:s, s:s, s:s, s:s, s:O, s:{s:i, s:i, s:i, "
		                 "s:i}}",
		    "old", argv[optind], "new", argv[optind + 1], "old_sha256",
		    policy_sha256_hex(a), "new_sha256", policy_sha256_hex(b),
		    "changes", s.changes, "counts", "total",
		    (json_int_t)s.total, "newly_disclosed", (json_int_t)s.more,
		    "newly_withheld", (json_int_t)s.less, "rejected",
		    (json_int_t)s.other);
		if (root == NULL ||
		    json_dumpf(root, stdout, JSON_COMPACT) < 0) {
			rc = cli_fail(
			    EX_OSERR, "policy diff: cannot write JSON");
			goto out;
		}
		putchar('\n');
	} else if (s.total == 0) {
		printf("no decision changes (old sha256 %s, new sha256 %s)\n",
		    policy_sha256_hex(a), policy_sha256_hex(b));
	} else {
		printf("%zu change%s: %zu newly disclosed, %zu newly withheld, "
		       "%zu to or from rejected (purpose undeclared)\n",
		    s.total, s.total == 1 ? "" : "s", s.more, s.less, s.other);
	}
	rc = s.total == 0 ? EX_OK : 1;
out:
	json_decref(root);
	json_decref(s.changes);
	free(d);
	policy_free(a);
	policy_free(b);
	return rc;
}
