/*
 * `audit query`'s check of the names a filter gives (query_names.h): a
 * misspelt --agency, --purpose or --rule is said, with the closest name the
 * log or its agreements know, rather than answered with an empty table.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "audit/verbs/query_names.h"
#include "common/cli.h"
#include "common/suggest.h"
#include "common/urgency.h"
#include "common/yamlconf.h"
#include "policy/policy.h"

/* Distinct names of one kind. */
struct names {
	char **v;
	size_t n, cap;
};

struct known {
	struct names agency, purpose, rule;
	bool nomem;
};

static void
add(struct known *k, struct names *ns, const char *s)
{
	char **grown;

	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], s) == 0)
			return;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		if ((grown = realloc(ns->v, cap * sizeof(*grown))) == NULL) {
			k->nomem = true;
			return;
		}
		ns->v = grown;
		ns->cap = cap;
	}
	if ((ns->v[ns->n] = strdup(s)) == NULL)
		k->nomem = true;
	else
		ns->n++;
}

static void
names_release(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

/* audit_query_stats' fn: the log's names. */
static int
from_log(void *arg, enum audit_stat stat, const char *key, uint64_t count)
{
	struct known *k = arg;

	(void)count;
	if (stat == AUDIT_STAT_AGENCY)
		add(k, &k->agency, key);
	else if (stat == AUDIT_STAT_PURPOSE)
		add(k, &k->purpose, key);
	else if (stat == AUDIT_STAT_RULE)
		add(k, &k->rule, key);
	return k->nomem ? ERROR_NOMEM : ERROR_OK;
}

/*
 * An agreement's names. Its rules have no list of their own in the policy
 * API: each is found as the decisions name it, asked for every pair of
 * agencies and purpose in an emergency (which adds emergency_share to the
 * rules' shares).
 */
static void
from_policy(struct known *k, const struct policy *p)
{
	struct policy_decision *d = malloc(sizeof(*d));
	struct policy_question q = {NULL, NULL, NULL, URGENCY_EMERGENCY,
	    EMERGENCY_REASON_RISK_TO_LIFE, KIND_RECORD};
	size_t na = policy_agency_count(p), np = policy_purpose_count(p);

	if (d == NULL) {
		k->nomem = true;
		return;
	}
	for (size_t i = 0; i < na; i++)
		add(k, &k->agency, policy_agency_id(p, i));
	for (size_t i = 0; i < np; i++)
		add(k, &k->purpose, policy_purpose_name(p, i));
	for (size_t f = 0; f < na; f++)
		for (size_t t = 0; t < na; t++)
			for (size_t u = 0; u < np; u++) {
				q.from = policy_agency_id(p, f);
				q.to = policy_agency_id(p, t);
				q.purpose = policy_purpose_name(p, u);
				if (policy_eval(p, &q, d) != 0)
					continue;
				for (size_t r = 0; r < d->nrules; r++)
					add(k, &k->rule, d->rules[r]);
			}
	free(d);
}

/* Every agreement archived in dir/agreements; one that does not load is
 * left out (`audit verify` and `audit agreement` say what is wrong). */
static void
from_archive(struct known *k, const char *dir)
{
	char path[4200];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/agreements", dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		struct yamlconf_errors errs;
		struct policy *p = NULL;

		if (de->d_name[0] == '.' || l < 6 ||
		    strcmp(de->d_name + l - 5, ".yaml") != 0)
			continue;
		snprintf(
		    path, sizeof(path), "%s/agreements/%s", dir, de->d_name);
		yamlconf_errors_init(&errs);
		if (policy_load_file(path, &errs, &p) == 0)
			from_policy(k, p);
		policy_free(p);
		yamlconf_errors_release(&errs);
	}
	closedir(d);
}

/* 0 when name is among ns; else says so and returns the exit status. */
static int
known(const char *what, const char *name, const struct names *ns)
{
	const char *near;

	if (name == NULL)
		return 0;
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], name) == 0)
			return 0;
	near = suggest_closest(name, (const char *const *)ns->v, ns->n);
	if (near != NULL)
		return cli_fail(QUERY_NAMES_UNKNOWN,
		    "audit query: no %s '%s' in this log or agreement: did "
		    "you mean '%s'?",
		    what, name, near);
	return cli_fail(QUERY_NAMES_UNKNOWN,
	    "audit query: no %s '%s' in this log or agreement (audit stats "
	    "lists the log's)",
	    what, name);
}

int
query_names_check(
    const char *dir, struct reader *r, const struct audit_filter *f)
{
	struct known k;
	int rc;

	if (f->agency == NULL && f->purpose == NULL && f->rule == NULL)
		return 0;
	memset(&k, 0, sizeof(k));
	rc = audit_query_stats(r->a, r->txn, from_log, &k, NULL);
	if (rc == 0)
		from_archive(&k, dir);
	if (rc == 0 && k.nomem)
		rc = ERROR_NOMEM;
	if (rc != 0)
		rc = cli_fail(cli_exit_code(rc), "audit query: %s: %s", dir,
		    error_strerror(rc));
	else if ((rc = known("agency", f->agency, &k.agency)) == 0 &&
	    (rc = known("purpose", f->purpose, &k.purpose)) == 0)
		rc = known("rule", f->rule, &k.rule);
	names_release(&k.agency);
	names_release(&k.purpose);
	names_release(&k.rule);
	return rc;
}

const char *
query_names_event(const char *s)
{
	const char *types[64];
	size_t n = 0;

	for (int t = 1; n < 64 && event_type_name(t)[0] != '?'; t++)
		types[n++] = event_type_name(t);
	return suggest_closest(s, types, n);
}
