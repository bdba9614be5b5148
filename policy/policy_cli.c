/*
 * The `concordat policy` verbs, for administrators: check a policy file,
 * explain a decision, diff two versions, run expected decisions, and write
 * the plain-English summary for the public (Caldicott principle 8).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>

#include "common/cliutil.h"
#include "common/duration.h"
#include "common/suggest.h"
#include "common/urgency.h"
#include "common/yamlconf.h"
#include "policy/policy.h"
#include "policy/policy_cli.h"
#include "policy/policy_json.h"

#define CASES_FILE_MAX (1024 * 1024)

static const char usage_text[] =
    "usage: concordat policy check FILE\n"
    "       concordat policy explain FILE --from AGENCY --to AGENCY "
    "--purpose PURPOSE\n"
    "                [--urgency routine|urgent|emergency] "
    "[--justification TEXT]\n"
    "                [--kind record|request] [--json]\n"
    "       concordat policy diff OLD NEW [--json]\n"
    "       concordat policy test FILE CASES\n"
    "       concordat policy summary FILE\n"
    "\n"
    "  check    check FILE and print a one-line summary, or every error\n"
    "  explain  what AGENCY --to would receive, field by field, and why\n"
    "  diff     every (from, to, purpose, urgency, field) whose decision\n"
    "           changes from OLD to NEW; exit 1 when there is any\n"
    "  test     run the expected decisions in CASES; exit 1 on a failure\n"
    "  summary  who receives what from whom and why, in plain English\n"
    "\n"
    "See concordat-policy(1) and docs/policy.md.\n";

static int
usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

/* Plain words for the thirteen fields, for the public summary. */
static const char *const plain_fields[FIELDS_COUNT] = {
    "name, address and contact details (or a description when the name "
    "is not known)",
    "relatives, friends or carers to contact (for children, their family "
    "and school)",
    "gender and age",
    "language and communication needs, such as an interpreter or sign "
    "language",
    "a description of how the person is behaving and presenting",
    "whether drink or drugs are likely to be involved",
    "physical impairments, prescribed medicines and dietary needs",
    "contact with the GP and mental health services, and the team and "
    "professional involved",
    "the person's crisis plan and any advance statements",
    "clinical information such as diagnosis, medication and therapy",
    "risks such as self-harm, suicide, aggression, confusion or going "
    "missing",
    "relevant health conditions, such as diabetes",
    "children, other dependents and pets who may need care",
};

static int
load_error_code(int rc)
{
	switch (rc) {
	case ERROR_POLICY:
	case ERROR_CONFIG:
	case ERROR_TOOBIG:
	case ERROR_INVAL:
		return EX_CONFIG;
	case ERROR_NOENT:
		return EX_NOINPUT;
	default:
		return cliutil_exit_code(rc);
	}
}

/*
 * Loads the policy at path for verb, printing every error on failure.
 * Returns 0 with *p set, or the exit code.
 */
static int
load_policy(const char *verb, const char *path, struct policy **p)
{
	struct yamlconf_errors errs;
	int rc;

	yamlconf_errors_init(&errs);
	rc = policy_load_file(path, &errs, p);
	if (rc == ERROR_POLICY) {
		fflush(stdout);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		cliutil_fail(EX_CONFIG, "policy %s: %s: %zu error%s", verb,
		    path, errs.total, errs.total == 1 ? "" : "s");
	} else if (rc != ERROR_OK) {
		cliutil_fail(0, "policy %s: cannot load %s: %s", verb, path,
		    error_strerror(rc));
	}
	yamlconf_errors_release(&errs);
	return rc == ERROR_OK ? 0 : load_error_code(rc);
}

/*
 * Parses the options of one verb: only --help (and --json where json is
 * not NULL). Returns -1 to go on, or an exit code.
 */
static int
simple_options(int argc, char **argv, bool *json)
{
	static const struct option with_json[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", with_json, NULL)) != -1) {
		switch (c) {
		case 'h':
			return usage(stdout, EX_OK);
		case 'j':
			if (json == NULL)
				return cliutil_fail(EX_USAGE,
				    "policy %s: --json is not an option of "
				    "this verb",
				    argv[0]);
			*json = true;
			break;
		default:
			return usage(stderr, EX_USAGE);
		}
	}
	return -1;
}

static int
verb_check(int argc, char **argv)
{
	struct policy *p = NULL;
	int rc;

	if ((rc = simple_options(argc, argv, NULL)) >= 0)
		return rc;
	if (argc - optind != 1)
		return usage(stderr, EX_USAGE);
	if ((rc = load_policy("check", argv[optind], &p)) != 0)
		return rc;
	printf("%s: ok: agreement %s version %lld, %zu agencies, %zu "
	       "purposes, %zu rules, %zu never entries, sha256 %s\n",
	    argv[optind], policy_agreement(p), policy_version(p),
	    policy_agency_count(p), policy_purpose_count(p),
	    policy_rule_count(p), policy_never_count(p), policy_sha256_hex(p));
	policy_free(p);
	return EX_OK;
}

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
		names[i] = policy_agency_name(p, i);
	hint = suggest_closest(name, names, n);
	if (hint != NULL)
		cliutil_fail(0,
		    "policy %s: unknown agency '%s' (did you mean "
		    "'%s'?)",
		    verb, name, hint);
	else
		cliutil_fail(0,
		    "policy %s: unknown agency '%s' (not listed "
		    "in %s)",
		    verb, name, policy_name(p));
	return false;
}

static bool
has_text(const char *s)
{
	return s != NULL && s[strspn(s, " \t\r\n")] != '\0';
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
    const char *justification, const struct policy_decision *d)
{
	char reason[128], buf[256], dur[32];

	printf("policy:        %s (%s version %lld)\n", policy_name(p),
	    policy_agreement(p), policy_version(p));
	printf("sha256:        %s\n", policy_sha256_hex(p));
	printf("question:      %s -> %s, purpose %s, urgency %s, kind %s\n",
	    q->from, q->to, q->purpose, urgency_name(q->urgency),
	    urgency_kind_name(q->kind));
	if (q->urgency == URGENCY_EMERGENCY)
		printf("justification: %s\n",
		    has_text(justification)
		        ? justification
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

static int
verb_explain(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"purpose", required_argument, NULL, 'p'},
	    {"urgency", required_argument, NULL, 'u'},
	    {"justification", required_argument, NULL, 'J'},
	    {"kind", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_question q = {
	    .urgency = URGENCY_ROUTINE, .kind = KIND_RECORD};
	struct policy_decision *d = NULL;
	struct policy *p = NULL;
	const char *justification = NULL;
	bool json = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
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
				return cliutil_fail(EX_USAGE,
				    "policy explain: bad --urgency '%s' "
				    "(routine, urgent or emergency)",
				    optarg);
			break;
		case 'J':
			justification = optarg;
			break;
		case 'k':
			if ((q.kind = urgency_kind_parse(optarg)) == 0)
				return cliutil_fail(EX_USAGE,
				    "policy explain: bad --kind '%s' (record "
				    "or request)",
				    optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return usage(stdout, EX_OK);
		default:
			return usage(stderr, EX_USAGE);
		}
	}
	if (argc - optind != 1)
		return usage(stderr, EX_USAGE);
	if (q.from == NULL || q.to == NULL || q.purpose == NULL)
		return cliutil_fail(EX_USAGE,
		    "policy explain: --from, --to "
		    "and --purpose are required");
	q.has_justification = has_text(justification);
	if ((rc = load_policy("explain", argv[optind], &p)) != 0)
		return rc;
	if (!agency_known(p, "explain", q.from) ||
	    !agency_known(p, "explain", q.to)) {
		rc = EX_DATAERR;
		goto out;
	}
	if ((d = malloc(sizeof(*d))) == NULL) {
		rc = cliutil_fail(EX_OSERR, "policy explain: out of memory");
		goto out;
	}
	rc = policy_eval(p, &q, d);
	if (rc != ERROR_OK && rc != ERROR_PURPOSE) {
		rc = cliutil_fail(
		    EX_SOFTWARE, "policy explain: %s", error_strerror(rc));
		goto out;
	}
	if (json) {
		json_t *o = policy_json_decision(p, &q, d, rc);

		if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) < 0) {
			json_decref(o);
			rc = cliutil_fail(
			    EX_OSERR, "policy explain: cannot write JSON");
			goto out;
		}
		putchar('\n');
		json_decref(o);
	} else if (rc == ERROR_OK) {
		explain_text(p, &q, justification, d);
	}
	if (rc == ERROR_PURPOSE)
		rc = cliutil_fail(EX_DATAERR,
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

/* diff */

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

static int
verb_diff(int argc, char **argv)
{
	const char *agencies[2 * POLICY_MAX_AGENCIES];
	const char *purposes[2 * POLICY_MAX_PURPOSES];
	struct policy *a = NULL, *b = NULL;
	struct policy_decision *d = NULL;
	struct diff s = {0};
	json_t *root = NULL;
	size_t na, np;
	int rc;

	if ((rc = simple_options(argc, argv, &s.json)) >= 0)
		return rc;
	if (argc - optind != 2)
		return usage(stderr, EX_USAGE);
	fields_format(FIELDS_ALL, ", ", s.all, sizeof(s.all));
	if ((rc = load_policy("diff", argv[optind], &a)) != 0 ||
	    (rc = load_policy("diff", argv[optind + 1], &b)) != 0)
		goto out;
	d = malloc(sizeof(*d));
	s.changes = json_array();
	if (d == NULL || s.changes == NULL) {
		rc = cliutil_fail(EX_OSERR, "policy diff: out of memory");
		goto out;
	}
	na = union_names(agencies, 2 * POLICY_MAX_AGENCIES, policy_agency_name,
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
		    .has_justification = true,
		    .kind = KIND_RECORD};

		if (fi != ti && diff_question(a, b, &q, d, &s) != 0) {
			rc = cliutil_fail(
			    EX_OSERR, "policy diff: out of memory");
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
			rc = cliutil_fail(
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

/* test */

struct expect {
	bool rejected;
	fieldset disclosed, withheld;
	bool check_breakglass, breakglass;
	bool check_obligations;
	unsigned obligations;
	bool check_rules;
	const struct yamlconf_node *rules;
	bool check_expiry;
	uint64_t expires_ms;
};

static fieldset
case_fields(struct yamlconf *y, const struct yamlconf_node *list)
{
	fieldset set = 0;

	for (size_t i = 0; i < yamlconf_count(list); i++) {
		const struct yamlconf_node *n = yamlconf_item(list, i);
		int f = fields_lookup(n->str);
		const char *hint;

		if (f != 0) {
			set |= FIELDS_BIT(f);
			continue;
		}
		hint = suggest_closest(n->str, fields_names, FIELDS_COUNT);
		if (hint != NULL)
			yamlconf_error(y, n,
			    "unknown field '%.64s' (did you mean '%s'?)",
			    n->str, hint);
		else
			yamlconf_error(y, n, "unknown field '%.64s'", n->str);
	}
	return set;
}

static void
case_expect(
    struct yamlconf *y, const struct yamlconf_node *node, struct expect *e)
{
	enum {
		DISCLOSED,
		WITHHELD,
		BREAKGLASS,
		OBLIGATIONS,
		RULES,
		EXPIRES,
		REJECTED,
		NK
	};
	static const struct yamlconf_key keys[NK] = {
	    [DISCLOSED] = {"disclosed", YAMLCONF_LIST, 0},
	    [WITHHELD] = {"withheld", YAMLCONF_ONE_OR_LIST, 0},
	    [BREAKGLASS] = {"breakglass", YAMLCONF_BOOL, 0},
	    [OBLIGATIONS] = {"obligations", YAMLCONF_LIST, 0},
	    [RULES] = {"rules", YAMLCONF_LIST, 0},
	    [EXPIRES] = {"expires_after", YAMLCONF_STRING, 0},
	    [REJECTED] = {"rejected", YAMLCONF_BOOL, 0},
	};
	const struct yamlconf_node *v[NK];

	if (node->kind == YAMLCONF_NODE_SCALAR) {
		if (strcmp(node->str, "rejected") == 0)
			e->rejected = true;
		else
			yamlconf_error(y, node,
			    "'expect': expected a mapping "
			    "or the word 'rejected'");
		return;
	}
	/* On errors, go on with what was readable: report everything. */
	yamlconf_map(y, node, "'expect'", keys, NK, v);
	if (node->kind != YAMLCONF_NODE_MAP)
		return;
	if (v[REJECTED] != NULL) {
		e->rejected = v[REJECTED]->boolean;
		if (e->rejected && node->n > 1)
			yamlconf_error(y, node,
			    "'expect': 'rejected: true' "
			    "takes no other key");
	}
	e->disclosed = case_fields(y, v[DISCLOSED]);
	if (v[WITHHELD] != NULL && v[WITHHELD]->kind == YAMLCONF_NODE_SCALAR &&
	    strcmp(v[WITHHELD]->str, "others") == 0)
		e->withheld = FIELDS_ALL & ~e->disclosed;
	else
		e->withheld = case_fields(y, v[WITHHELD]);
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (v[WITHHELD] != NULL &&
		    fields_has(e->disclosed & e->withheld, f))
			yamlconf_error(y, v[WITHHELD],
			    "field '%s' is expected "
			    "both disclosed and withheld",
			    fields_name(f));
	if (v[BREAKGLASS] != NULL) {
		e->check_breakglass = true;
		e->breakglass = v[BREAKGLASS]->boolean;
	}
	if (v[OBLIGATIONS] != NULL) {
		e->check_obligations = true;
		for (size_t i = 0; i < v[OBLIGATIONS]->n; i++) {
			const struct yamlconf_node *n =
			    v[OBLIGATIONS]->items[i];
			int o = policy_obligation_lookup(n->str);

			if (o < 0)
				yamlconf_error(y, n,
				    "unknown obligation "
				    "'%.64s'",
				    n->str);
			else
				e->obligations |= 1u << o;
		}
	}
	if (v[RULES] != NULL) {
		e->check_rules = true;
		e->rules = v[RULES];
	}
	if (v[EXPIRES] != NULL) {
		e->check_expiry = true;
		if (duration_parse(v[EXPIRES]->str, &e->expires_ms) != 0)
			yamlconf_error(y, v[EXPIRES],
			    "bad expires_after '%.64s' (expected a duration "
			    "such as 30m, 2h or 1h30m)",
			    v[EXPIRES]->str);
	}
	if (!e->rejected && v[DISCLOSED] == NULL && v[WITHHELD] == NULL &&
	    v[BREAKGLASS] == NULL && v[OBLIGATIONS] == NULL &&
	    v[RULES] == NULL && v[EXPIRES] == NULL)
		yamlconf_error(y, node, "'expect' expects nothing");
}

/* Adds "; " and a formatted part to buf. */
static void append(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used >= n - 1)
		return;
	if (used > 0)
		used += (size_t)snprintf(buf + used, n - used, "; ");
	if (used >= n - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

static void
obligations_format(unsigned set, char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int o = 0; o < POLICY_OBLIGATION_COUNT && used < n; o++)
		if (set & (1u << o))
			used += (size_t)snprintf(buf + used, n - used, "%s%s",
			    used ? ", " : "", policy_obligation_name(o));
	if (used == 0)
		snprintf(buf, n, "none");
}

/*
 * Runs one case; prints "ok" or "FAIL" with what was expected and what
 * came. Returns true when it passed.
 */
static bool
run_case(const struct policy *p, const char *file, unsigned line,
    const char *name, const struct policy_question *q, const struct expect *e,
    struct policy_decision *d)
{
	char want[1024] = "", got[1024] = "", wrong[2048] = "", buf[512],
	     buf2[512], reason[128];
	int rc = policy_eval(p, q, d);
	bool pass = true;

	if (e->rejected) {
		snprintf(want, sizeof(want), "rejected (purpose undeclared)");
		pass = rc == ERROR_PURPOSE;
	} else if (rc == ERROR_PURPOSE) {
		pass = false;
		append(wrong, sizeof(wrong),
		    "the message is rejected: "
		    "purpose '%s' is not declared",
		    q->purpose);
	}
	if (!e->rejected) {
		if (e->disclosed)
			append(want, sizeof(want), "disclosed %s",
			    fields_format(
			        e->disclosed, ", ", buf, sizeof(buf)));
		if (e->withheld)
			append(want, sizeof(want), "withheld %s",
			    fields_format(e->withheld, ", ", buf, sizeof(buf)));
		if (e->check_breakglass)
			append(want, sizeof(want), "break-glass %s",
			    e->breakglass ? "yes" : "no");
		if (e->check_obligations) {
			obligations_format(e->obligations, buf, sizeof(buf));
			append(want, sizeof(want), "obligations %s", buf);
		}
		if (e->check_expiry)
			append(want, sizeof(want), "expires after %s",
			    duration_format(e->expires_ms, buf, sizeof(buf)));
	}
	if (rc == ERROR_PURPOSE) {
		snprintf(got, sizeof(got), "rejected (purpose undeclared)");
	} else {
		append(got, sizeof(got), "disclosed %s",
		    fields_format(d->disclosed, ", ", buf, sizeof(buf)));
		append(got, sizeof(got), "break-glass %s",
		    d->breakglass ? fields_format(d->breakglass_fields, ", ",
		                        buf, sizeof(buf))
		                  : "no");
		obligations_format(d->obligations, buf, sizeof(buf));
		append(got, sizeof(got), "obligations %s", buf);
	}
	if (e->rejected && rc == ERROR_OK)
		append(wrong, sizeof(wrong), "the message is accepted");
	if (!e->rejected && rc == ERROR_OK) {
		for (int f = 1; f <= FIELDS_COUNT; f++) {
			bool is = fields_has(d->disclosed, f);

			if (fields_has(e->disclosed, f) == is &&
			    fields_has(e->withheld, f) != is)
				continue;
			if (!fields_has(e->disclosed | e->withheld, f))
				continue;
			policy_reason_format(
			    &d->field[f - 1], reason, sizeof(reason));
			append(wrong, sizeof(wrong), "%s %s: %s",
			    fields_name(f), is ? "disclosed" : "withheld",
			    reason);
		}
		if (e->check_breakglass && e->breakglass != d->breakglass)
			append(wrong, sizeof(wrong), "break-glass %s",
			    d->breakglass ? "used" : "not used");
		if (e->check_obligations && e->obligations != d->obligations) {
			obligations_format(d->obligations, buf, sizeof(buf));
			append(wrong, sizeof(wrong), "obligations %s", buf);
		}
		if (e->check_rules) {
			bool same = e->rules->n == d->nrules;

			for (size_t i = 0; same && i < d->nrules; i++) {
				size_t j;

				for (j = 0; j < e->rules->n; j++)
					if (strcmp(e->rules->items[j]->str,
					        d->rules[i]) == 0)
						break;
				same = j < e->rules->n;
			}
			buf[0] = '\0';
			for (size_t i = 0; i < d->nrules; i++)
				append(buf, sizeof(buf), "%s", d->rules[i]);
			buf2[0] = '\0';
			for (size_t i = 0; i < e->rules->n; i++)
				append(buf2, sizeof(buf2), "%s",
				    e->rules->items[i]->str);
			if (!same)
				append(wrong, sizeof(wrong),
				    "rules applied: %s",
				    d->nrules ? buf : "none");
			append(want, sizeof(want), "rules %s",
			    e->rules->n ? buf2 : "none");
		}
		if (e->check_expiry && e->expires_ms != d->expires_ms)
			append(wrong, sizeof(wrong), "expires after %s",
			    duration_format(d->expires_ms, buf, sizeof(buf)));
		pass = wrong[0] == '\0';
	}
	if (pass) {
		printf("ok    %s\n", name);
		return true;
	}
	printf("FAIL  %s (%s:%u)\n", name, file, line);
	printf("      question: %s -> %s, purpose %s, urgency %s%s\n", q->from,
	    q->to, q->purpose, urgency_name(q->urgency),
	    q->has_justification ? ", with a justification" : "");
	printf("      expected: %s\n", want);
	printf("      actual:   %s\n", got);
	if (wrong[0] != '\0')
		printf("      wrong:    %s\n", wrong);
	return false;
}

static int
verb_test(int argc, char **argv)
{
	enum {
		NAME,
		FROM,
		TO,
		PURPOSE,
		URGENCY,
		JUSTIFICATION,
		KIND,
		EXPECT,
		NK
	};
	static const struct yamlconf_key keys[NK] = {
	    [NAME] = {"name", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [FROM] = {"from", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [TO] = {"to", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [PURPOSE] = {"purpose", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [URGENCY] = {"urgency", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
	    [JUSTIFICATION] = {"justification", YAMLCONF_STRING, 0},
	    [KIND] = {"kind", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
	    [EXPECT] = {"expect", YAMLCONF_ANY, YAMLCONF_REQUIRED},
	};
	struct yamlconf_errors errs;
	struct yamlconf *y = NULL;
	struct policy *p = NULL;
	struct policy_decision *d = NULL;
	struct policy_question *qs = NULL;
	struct expect *es = NULL;
	const struct yamlconf_node *root;
	const char *cases;
	size_t n = 0, failed = 0;
	int rc;

	yamlconf_errors_init(&errs);
	if ((rc = simple_options(argc, argv, NULL)) >= 0)
		return rc;
	if (argc - optind != 2)
		return usage(stderr, EX_USAGE);
	cases = argv[optind + 1];
	if ((rc = load_policy("test", argv[optind], &p)) != 0)
		return rc;
	rc = yamlconf_load_file(cases, CASES_FILE_MAX, &errs, &y);
	if (rc != ERROR_OK && rc != ERROR_CONFIG) {
		rc = cliutil_fail(load_error_code(rc),
		    "policy test: cannot load %s: %s", cases,
		    error_strerror(rc));
		goto out;
	}
	root = y != NULL ? yamlconf_root(y) : NULL;
	if (root != NULL &&
	    yamlconf_expect(y, root, "the cases file", YAMLCONF_MAP_LIST,
	        YAMLCONF_NONEMPTY))
		n = root->n;
	qs = calloc(n + 1, sizeof(*qs));
	es = calloc(n + 1, sizeof(*es));
	d = malloc(sizeof(*d));
	if (qs == NULL || es == NULL || d == NULL) {
		rc = cliutil_fail(EX_OSERR, "policy test: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct yamlconf_node *v[NK];
		struct policy_question *q = &qs[i];

		yamlconf_map(y, root->items[i], "case", keys, NK, v);
		q->from = v[FROM] != NULL ? v[FROM]->str : "";
		q->to = v[TO] != NULL ? v[TO]->str : "";
		q->purpose = v[PURPOSE] != NULL ? v[PURPOSE]->str : "";
		q->urgency = URGENCY_ROUTINE;
		q->kind = KIND_RECORD;
		for (int k = FROM; k <= TO; k++) {
			const char *names[POLICY_MAX_AGENCIES], *hint;

			if (v[k] == NULL ||
			    policy_agency_index(p, v[k]->str) >= 0)
				continue;
			for (size_t j = 0; j < policy_agency_count(p); j++)
				names[j] = policy_agency_name(p, j);
			hint = suggest_closest(
			    v[k]->str, names, policy_agency_count(p));
			yamlconf_error(y, v[k], "unknown agency '%.64s'%s%s%s",
			    v[k]->str, hint ? " (did you mean '" : "",
			    hint ? hint : "", hint ? "'?)" : "");
		}
		if (v[URGENCY] != NULL &&
		    (q->urgency = urgency_parse(v[URGENCY]->str)) == 0)
			yamlconf_error(y, v[URGENCY],
			    "bad urgency '%.64s' "
			    "(routine, urgent or emergency)",
			    v[URGENCY]->str);
		if (v[KIND] != NULL &&
		    (q->kind = urgency_kind_parse(v[KIND]->str)) == 0)
			yamlconf_error(y, v[KIND],
			    "bad kind '%.64s' (record or request)",
			    v[KIND]->str);
		q->has_justification =
		    v[JUSTIFICATION] != NULL && has_text(v[JUSTIFICATION]->str);
		if (v[EXPECT] != NULL)
			case_expect(y, v[EXPECT], &es[i]);
	}
	if (errs.total > 0) {
		yamlconf_errors_sort(&errs, 0);
		fflush(stdout);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		rc = cliutil_fail(EX_CONFIG, "policy test: %s: %zu error%s",
		    cases, errs.total, errs.total == 1 ? "" : "s");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct yamlconf_node *item = root->items[i];
		const char *name = "";

		for (size_t k = 0; k < item->n; k++)
			if (strcmp(item->keys[k]->str, "name") == 0)
				name = item->values[k]->str;
		if (!run_case(p, cases, item->line, name, &qs[i], &es[i], d))
			failed++;
	}
	printf("%zu case%s: %zu passed, %zu failed\n", n, n == 1 ? "" : "s",
	    n - failed, failed);
	rc = failed == 0 ? EX_OK : 1;
out:
	free(qs);
	free(es);
	free(d);
	yamlconf_free(y);
	yamlconf_errors_release(&errs);
	policy_free(p);
	return rc;
}

/* summary */

/* Prints text wrapped at 76 columns, each line indented by indent. */
static void
wrap(int indent, const char *first, const char *text)
{
	int col = indent, width = 76;
	const char *s = text;

	printf("%*s%s", indent, "", first);
	col += (int)strlen(first);
	while (*s != '\0') {
		size_t w;

		while (*s == ' ' || *s == '\n')
			s++;
		w = strcspn(s, " \n");
		if (w == 0)
			break;
		if (col + 1 + (int)w > width &&
		    col > indent + (int)strlen(first)) {
			printf("\n%*s", indent + (int)strlen(first), "");
			col = indent + (int)strlen(first);
		} else if (col > indent + (int)strlen(first)) {
			putchar(' ');
			col++;
		}
		printf("%.*s", (int)w, s);
		col += (int)w;
		s += w;
	}
	putchar('\n');
}

/* "mental_health_trust" -> "mental health trust". */
static const char *
plain_agency(const char *id, char *buf, size_t n)
{
	size_t i;

	for (i = 0; id[i] != '\0' && i + 1 < n; i++)
		buf[i] = id[i] == '_' ? ' ' : id[i];
	buf[i] = '\0';
	return buf;
}

static void
plain_duration(uint64_t ms, char *buf, size_t n)
{
	static const struct {
		uint64_t ms;
		const char *one, *many;
	} units[] = {
	    {86400000, "day", "days"},
	    {3600000, "hour", "hours"},
	    {60000, "minute", "minutes"},
	    {1000, "second", "seconds"},
	    {1, "millisecond", "milliseconds"},
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t u = 0; u < 5 && used < n; u++) {
		uint64_t q = ms / units[u].ms;

		if (q == 0)
			continue;
		ms -= q * units[u].ms;
		used += (size_t)snprintf(buf + used, n - used, "%s%llu %s",
		    used ? (ms == 0 ? " and " : ", ") : "",
		    (unsigned long long)q,
		    q == 1 ? units[u].one : units[u].many);
	}
}

static void
summary_fields(fieldset set)
{
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(set, f))
			wrap(6, "- ", plain_fields[f - 1]);
}

static void
summary_flow(const struct policy *p, const char *purpose, const char *from,
    const char *to, struct policy_decision *d, struct policy_decision *e)
{
	struct policy_question q = {.from = from,
	    .to = to,
	    .purpose = purpose,
	    .urgency = URGENCY_URGENT,
	    .kind = KIND_RECORD};
	char a[64], b[64], line[256];
	fieldset extra;

	if (policy_eval(p, &q, d) != ERROR_OK)
		return;
	q.urgency = URGENCY_EMERGENCY;
	q.has_justification = true;
	if (policy_eval(p, &q, e) != ERROR_OK)
		return;
	extra = e->disclosed & ~d->disclosed;
	if (e->disclosed == 0)
		return;
	snprintf(line, sizeof(line),
	    "From %s to %s:", plain_agency(from, a, sizeof(a)),
	    plain_agency(to, b, sizeof(b)));
	wrap(2, "", line);
	if (d->disclosed == 0)
		wrap(6, "", "nothing, except in an emergency.");
	summary_fields(d->disclosed);
	if (extra != 0) {
		wrap(4, "",
		    "Only in an emergency, when there is a risk to "
		    "life or serious harm and the reason is "
		    "recorded, also:");
		summary_fields(extra);
	}
	for (size_t i = 0; i < e->nrules; i++)
		wrap(4, "Legal basis: ", e->bases[i]);
	for (int o = 0; o < POLICY_OBLIGATION_COUNT; o++)
		if (e->obligations & (1u << o))
			wrap(4, "Condition: ", policy_obligation_text(o));
}

/* Appends " the A or the B" for the agencies in set to buf. */
static void
agency_words(const struct policy *p, uint64_t set, char *buf, size_t n)
{
	size_t na = policy_agency_count(p), k, left = 0;
	char a[64];

	for (k = 0; k < na; k++)
		if (set & ((uint64_t)1 << k))
			left++;
	for (k = 0; k < na; k++) {
		size_t used = strlen(buf);

		if (!(set & ((uint64_t)1 << k)))
			continue;
		snprintf(buf + used, n - used, " %s%s",
		    plain_agency(policy_agency_name(p, k), a, sizeof(a)),
		    left > 2        ? ","
		        : left == 2 ? " or"
		                    : "");
		left--;
	}
}

static void
summary_never(const struct policy *p)
{
	size_t n = policy_never_count(p), np = policy_purpose_count(p);

	if (n == 0)
		return;
	printf("\nWhat is never shared\n");
	for (size_t i = 0; i < n; i++) {
		struct policy_never_info ni;
		char text[2048] = "Never shared";
		size_t used;

		if (policy_never_get(p, i, &ni) != ERROR_OK)
			continue;
		if (!ni.any_from) {
			strcat(text, " by");
			agency_words(p, ni.from, text, sizeof(text));
		}
		strcat(text, " with");
		agency_words(p, ni.to, text, sizeof(text));
		used = strlen(text);
		if (ni.any_purpose) {
			snprintf(text + used, sizeof(text) - used,
			    ", for any purpose, even in an emergency:");
		} else {
			bool first = true;

			for (size_t k = 0; k < np; k++) {
				if (!(ni.purposes & ((uint64_t)1 << k)))
					continue;
				used = strlen(text);
				snprintf(text + used, sizeof(text) - used,
				    "%s%s",
				    first ? " when the purpose is: " : "; or: ",
				    policy_purpose_description(p, k));
				first = false;
			}
			used = strlen(text);
			snprintf(text + used, sizeof(text) - used,
			    " (even in an emergency):");
		}
		printf("\n");
		wrap(2, "", text);
		summary_fields(ni.fields);
		if (ni.reason[0] != '\0')
			wrap(4, "Why: ", ni.reason);
	}
}

static int
verb_summary(int argc, char **argv)
{
	struct policy *p = NULL;
	struct policy_decision *d = NULL, *e = NULL;
	char dur[128], buf[256], a[64];
	size_t na;
	int rc;

	if ((rc = simple_options(argc, argv, NULL)) >= 0)
		return rc;
	if (argc - optind != 1)
		return usage(stderr, EX_USAGE);
	if ((rc = load_policy("summary", argv[optind], &p)) != 0)
		return rc;
	d = malloc(sizeof(*d));
	e = malloc(sizeof(*e));
	if (d == NULL || e == NULL) {
		rc = cliutil_fail(EX_OSERR, "policy summary: out of memory");
		goto out;
	}
	na = policy_agency_count(p);
	printf("How we share information about people in a mental health "
	       "crisis\n\n");
	snprintf(buf, sizeof(buf), "Agreement %s, version %lld.",
	    policy_agreement(p), policy_version(p));
	wrap(0, "", buf);
	wrap(0, "Approved by: ", policy_approved_by(p));
	wrap(0, "Policy fingerprint (SHA-256): ", policy_sha256_hex(p));
	printf("\n");
	wrap(0, "",
	    "When someone is in a mental health crisis, the agencies "
	    "below share the information needed to keep them and "
	    "others safe, and no more. This is a full account of "
	    "what is shared, between whom, for which purposes and on "
	    "what legal basis. Anything not listed here is not shared "
	    "through this system. Every disclosure is recorded in an "
	    "audit log, and you can ask any of these agencies what "
	    "was shared about you.");
	buf[0] = '\0';
	for (size_t i = 0; i < na; i++) {
		size_t used = strlen(buf);

		snprintf(buf + used, sizeof(buf) - used, "%s%s",
		    i == 0 ? "" : (i + 1 == na ? " and " : ", "),
		    plain_agency(policy_agency_name(p, i), a, sizeof(a)));
	}
	printf("\n");
	wrap(0, "The agencies: ", buf);
	for (size_t pi = 0; pi < policy_purpose_count(p); pi++) {
		const char *pn = policy_purpose_name(p, pi);
		bool any = false;

		printf("\n");
		wrap(0, "Purpose: ", policy_purpose_description(p, pi));
		plain_duration(policy_purpose_expiry(p, pi), dur, sizeof(dur));
		snprintf(buf, sizeof(buf),
		    "A message for this purpose that is not collected within "
		    "%s is deleted, and the sender is told.",
		    dur);
		wrap(2, "", buf);
		for (size_t fi = 0; fi < na; fi++)
			for (size_t ti = 0; ti < na; ti++) {
				struct policy_question q = {
				    .from = policy_agency_name(p, fi),
				    .to = policy_agency_name(p, ti),
				    .purpose = pn,
				    .urgency = URGENCY_EMERGENCY,
				    .has_justification = true,
				    .kind = KIND_RECORD};

				if (fi == ti || policy_eval(p, &q, e) != 0 ||
				    e->disclosed == 0)
					continue;
				printf("\n");
				summary_flow(p, pn, q.from, q.to, d, e);
				any = true;
			}
		if (!any)
			wrap(2, "", "Nothing is shared for this purpose.");
	}
	summary_never(p);
	printf("\nAny other purpose\n\n");
	wrap(2, "",
	    "A message for any purpose not listed above is refused, "
	    "and the refusal is recorded. For example, a criminal "
	    "investigation must use the formal disclosure route "
	    "instead.");
	rc = EX_OK;
out:
	free(d);
	free(e);
	policy_free(p);
	return rc;
}

static const struct verb {
	const char *name;
	int (*run)(int, char **);
} verbs[] = {
    {"check", verb_check},
    {"explain", verb_explain},
    {"diff", verb_diff},
    {"test", verb_test},
    {"summary", verb_summary},
};

int
policy_cli(int argc, char **argv)
{
	const char *names[sizeof(verbs) / sizeof(verbs[0])];
	const char *hint;

	if (argc < 2)
		return usage(stderr, EX_USAGE);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout, EX_OK);
	if (strcmp(argv[1], "--version") == 0) {
		printf("concordat %s\n", CONCORDAT_VERSION);
		return EX_OK;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
		names[i] = verbs[i].name;
	}
	hint =
	    suggest_closest(argv[1], names, sizeof(names) / sizeof(names[0]));
	if (hint != NULL)
		return cliutil_fail(EX_USAGE,
		    "policy: unknown verb '%s' (did "
		    "you mean '%s'?)",
		    argv[1], hint);
	return cliutil_fail(EX_USAGE,
	    "policy: unknown verb '%s' (check, "
	    "explain, diff, test or summary)",
	    argv[1]);
}
