/*
 * `concordat policy diff OLD NEW`: every question either version can be
 * asked whose decision changes, one line per change naming the rule or
 * never entry behind each side (FILE:LINE), or JSON, or a page built from
 * the same change list (diff_html.c); a warning when
 * decisions change but `version` does not; exit 1 when there is any. The
 * same walk counts the changes for `policy check --against` and `install`.
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

#define WHY_MAX 192

/* The outcome of every field, and what decided it ("rule x at F:12"). */
static void
outcomes(const struct policy *p, const struct policy_question *q,
    struct policy_decision *d, enum outcome *o, char (*why)[WHY_MAX])
{
	int rc = policy_eval(p, q, d);

	for (int f = 1; f <= FIELDS_COUNT; f++) {
		const struct policy_field_decision *fd = &d->field[f - 1];
		char *w = why[f - 1];

		if (rc != ERROR_OK)
			o[f - 1] = OUT_REJECTED;
		else
			o[f - 1] = fields_has(d->disclosed, f) ? OUT_DISCLOSED
			                                       : OUT_WITHHELD;
		if (rc != ERROR_OK)
			snprintf(w, WHY_MAX, "purpose %s not declared in %s",
			    q->purpose, policy_name(p));
		else if (fd->reason == POLICY_ALLOWED)
			snprintf(w, WHY_MAX, "rule %s at %s:%u%s", fd->rule,
			    policy_name(p), fd->line,
			    fd->breakglass ? " (break-glass)" : "");
		else if (fd->reason == POLICY_NEVER)
			snprintf(w, WHY_MAX, "never entry %u at %s:%u",
			    fd->never, policy_name(p), fd->line);
		else
			snprintf(w, WHY_MAX, "no rule in %s", policy_name(p));
	}
}

/* What diff has found so far. */
struct diff {
	json_t *changes;
	size_t total, more, less, other;
	bool json, html, quiet;
	char all[512]; /* every field, as a changed list shows it */
};

/*
 * Compares a and b on question q: one text line per change of decision
 * (from one outcome to another, for the same reasons on each side) with
 * the fields it concerns and what decided them, one JSON entry per field.
 * Returns 0, or -1 when out of memory.
 */
static int
diff_question(const struct policy *a, const struct policy *b,
    const struct policy_question *q, struct policy_decision *d, struct diff *s)
{
	enum outcome oa[FIELDS_COUNT], ob[FIELDS_COUNT];
	char wa[FIELDS_COUNT][WHY_MAX], wb[FIELDS_COUNT][WHY_MAX];
	bool done[FIELDS_COUNT] = {false};

	outcomes(a, q, d, oa, wa);
	outcomes(b, q, d, ob, wb);
	for (int f = 0; f < FIELDS_COUNT; f++) {
		char line[512] = "";
		enum outcome x = oa[f], y = ob[f];

		if (x == y || done[f])
			continue;
		for (int g = f; g < FIELDS_COUNT; g++) {
			if (oa[g] != x || ob[g] != y ||
			    strcmp(wa[g], wa[f]) != 0 ||
			    strcmp(wb[g], wb[f]) != 0)
				continue;
			done[g] = true;
			s->total++;
			if (y == OUT_DISCLOSED)
				s->more++;
			else if (x == OUT_DISCLOSED)
				s->less++;
			else
				s->other++;
			if (s->quiet)
				continue;
			if (json_array_append_new(s->changes,
			        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
			                  "s:s, s:s}",
			            "from", q->from, "to", q->to, "purpose",
			            q->purpose, "urgency",
			            urgency_name(q->urgency), "field",
			            fields_name(g + 1), "old", outcome_names[x],
			            "new", outcome_names[y], "old_why", wa[g],
			            "new_why", wb[g])) < 0)
				return -1;
			append_list(line, sizeof(line), fields_name(g + 1));
		}
		if (!s->quiet && !s->json && !s->html)
			printf("%s -> %s, %s, %s: %s -> %s: %s (was: %s; now: "
			       "%s)\n",
			    q->from, q->to, q->purpose,
			    urgency_name(q->urgency), outcome_names[x],
			    outcome_names[y],
			    strcmp(line, s->all) == 0 ? "all fields" : line,
			    wa[f], wb[f]);
	}
	return 0;
}

/* Every question either file can be asked; emergencies justified. */
static int
diff_walk(const struct policy *a, const struct policy *b,
    struct policy_decision *d, struct diff *s)
{
	const char *agencies[2 * POLICY_MAX_AGENCIES];
	const char *purposes[2 * POLICY_MAX_PURPOSES];
	size_t na, np;

	na = union_names(agencies, 2 * POLICY_MAX_AGENCIES, policy_agency_id,
	    policy_agency_count, a, b);
	np = union_names(purposes, 2 * POLICY_MAX_PURPOSES, policy_purpose_name,
	    policy_purpose_count, a, b);
	for (size_t i = 0; i < np * na * na * 3; i++) {
		size_t pi = i / (na * na * 3), fi = i / (na * 3) % na,
		       ti = i / 3 % na;
		struct policy_question q = {.from = agencies[fi],
		    .to = agencies[ti],
		    .purpose = purposes[pi],
		    .urgency = URGENCY_ROUTINE + (int)(i % 3),
		    .reason = EMERGENCY_REASON_RISK_TO_LIFE,
		    .kind = KIND_RECORD};

		if (fi != ti && diff_question(a, b, &q, d, s) != 0)
			return -1;
	}
	return 0;
}

long
policy_verbs_diff_count(const struct policy *a, const struct policy *b)
{
	struct policy_decision *d = malloc(sizeof(*d));
	struct diff s = {.quiet = true};
	int rc;

	if (d == NULL)
		return -1;
	rc = diff_walk(a, b, d, &s);
	free(d);
	return rc != 0 ? -1 : (long)s.total;
}

/* The warning, when n decisions change and the version does not go up. */
static void
version_warn(
    const char *who, const struct policy *old, const struct policy *new, long n)
{
	if (n <= 0 || policy_version(new) > policy_version(old))
		return;
	fflush(stdout);
	fprintf(stderr,
	    "concordat: %s: warning: %ld decision%s change%s from %s to %s "
	    "but 'version' %s (%lld -> %lld): raise it, so that every party "
	    "and the audit log can tell the agreements apart\n",
	    who, n, n == 1 ? "" : "s", n == 1 ? "s" : "", policy_name(old),
	    policy_name(new),
	    policy_version(new) == policy_version(old) ? "does not change"
	                                               : "goes down",
	    policy_version(old), policy_version(new));
}

long
policy_verbs_version_warn(
    const char *who, const struct policy *old, const struct policy *new)
{
	long n = policy_verbs_diff_count(old, new);

	version_warn(who, old, new, n);
	return n;
}

int
policy_verb_diff(int argc, char **argv)
{
	struct policy *a = NULL, *b = NULL;
	struct policy_decision *d = NULL;
	struct diff s = {0};
	json_t *root = NULL;
	int rc;

	if ((rc = policy_verbs_format_options(argc, argv, &s.json, &s.html)) >=
	    0)
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
	if (diff_walk(a, b, d, &s) != 0) {
		rc = cli_fail(EX_OSERR, "policy diff: out of memory");
		goto out;
	}
	bool same_version = policy_version(b) <= policy_version(a);
	version_warn("policy diff", a, b, (long)s.total);
	if (s.html) {
		struct strbuf sb = STRBUF_INIT;
		const size_t counts[4] = {s.total, s.more, s.less, s.other};

		policy_verbs_diff_html(&sb, argv[optind], a, argv[optind + 1],
		    b, s.changes, counts, s.total > 0 && same_version);
		if (strbuf_error(&sb) != ERROR_OK)
			rc = cli_fail(EX_OSERR, "policy diff: out of memory");
		else
			fwrite(sb.buf, 1, sb.len, stdout);
		strbuf_release(&sb);
		if (rc != 0)
			goto out;
	} else if (s.json) {
		root = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:O, "
		                 "s:{s:i, s:i, s:i, s:i}}",
		    "old", argv[optind], "new", argv[optind + 1], "old_sha256",
		    policy_sha256_hex(a), "new_sha256", policy_sha256_hex(b),
		    "old_version", (json_int_t)policy_version(a), "new_version",
		    (json_int_t)policy_version(b), "version_warning",
		    s.total > 0 && same_version, "changes", s.changes, "counts",
		    "total", (json_int_t)s.total, "newly_disclosed",
		    (json_int_t)s.more, "newly_withheld", (json_int_t)s.less,
		    "rejected", (json_int_t)s.other);
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
