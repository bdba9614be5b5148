/*
 * The policy cases file (cases.h): parsed with the yamlconf walker against
 * a loaded policy, so that a misspelt agency or field is reported with a
 * suggestion, and run with policy_eval. Writes to no stream.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/suggest.h"
#include "common/urgency.h"
#include "policy/cases.h"

#define WANT_LEN  sizeof(((struct cases_result *)0)->expected)
#define GOT_LEN   sizeof(((struct cases_result *)0)->actual)
#define WRONG_LEN sizeof(((struct cases_result *)0)->wrong)

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

struct cases {
	struct yamlconf *y; /* the nodes below point into it */
	size_t n;
	struct policy_question *qs;
	struct expect *es;
	const char **names;
	unsigned *lines;
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
 * Evaluates q and compares the decision with e, into want, got and wrong
 * (each of its size in struct cases_result). Returns true when it passed.
 */
static bool
judge(const struct policy *p, const struct policy_question *q,
    const struct expect *e, struct policy_decision *d, char *want, char *got,
    char *wrong)
{
	char buf[512], buf2[512], reason[128];
	int rc = policy_eval(p, q, d);
	bool pass = true;

	if (e->rejected) {
		snprintf(want, WANT_LEN, "rejected (purpose undeclared)");
		pass = rc == ERROR_PURPOSE;
	} else if (rc == ERROR_PURPOSE) {
		pass = false;
		append(wrong, WRONG_LEN,
		    "the message is rejected: "
		    "purpose '%s' is not declared",
		    q->purpose);
	}
	if (!e->rejected) {
		if (e->disclosed)
			append(want, WANT_LEN, "disclosed %s",
			    fields_format(
			        e->disclosed, ", ", buf, sizeof(buf)));
		if (e->withheld)
			append(want, WANT_LEN, "withheld %s",
			    fields_format(e->withheld, ", ", buf, sizeof(buf)));
		if (e->check_breakglass)
			append(want, WANT_LEN, "break-glass %s",
			    e->breakglass ? "yes" : "no");
		if (e->check_obligations) {
			obligations_format(e->obligations, buf, sizeof(buf));
			append(want, WANT_LEN, "obligations %s", buf);
		}
		if (e->check_expiry)
			append(want, WANT_LEN, "expires after %s",
			    duration_format(e->expires_ms, buf, sizeof(buf)));
	}
	if (rc == ERROR_PURPOSE) {
		snprintf(got, GOT_LEN, "rejected (purpose undeclared)");
	} else {
		append(got, GOT_LEN, "disclosed %s",
		    fields_format(d->disclosed, ", ", buf, sizeof(buf)));
		append(got, GOT_LEN, "break-glass %s",
		    d->breakglass ? fields_format(d->breakglass_fields, ", ",
		                        buf, sizeof(buf))
		                  : "no");
		obligations_format(d->obligations, buf, sizeof(buf));
		append(got, GOT_LEN, "obligations %s", buf);
	}
	if (e->rejected && rc == ERROR_OK)
		append(wrong, WRONG_LEN, "the message is accepted");
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
			append(wrong, WRONG_LEN, "%s %s: %s", fields_name(f),
			    is ? "disclosed" : "withheld", reason);
		}
		if (e->check_breakglass && e->breakglass != d->breakglass)
			append(wrong, WRONG_LEN, "break-glass %s",
			    d->breakglass ? "used" : "not used");
		if (e->check_obligations && e->obligations != d->obligations) {
			obligations_format(d->obligations, buf, sizeof(buf));
			append(wrong, WRONG_LEN, "obligations %s", buf);
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
				append(wrong, WRONG_LEN, "rules applied: %s",
				    d->nrules ? buf : "none");
			append(want, WANT_LEN, "rules %s",
			    e->rules->n ? buf2 : "none");
		}
		if (e->check_expiry && e->expires_ms != d->expires_ms)
			append(wrong, WRONG_LEN, "expires after %s",
			    duration_format(d->expires_ms, buf, sizeof(buf)));
		pass = wrong[0] == '\0';
	}
	return pass;
}

/* Reports v an unknown agency of p when it is one, with a suggestion. */
static void
check_agency(
    struct yamlconf *y, const struct policy *p, const struct yamlconf_node *v)
{
	const char *names[POLICY_MAX_AGENCIES], *hint;
	size_t na = policy_agency_count(p);

	if (v == NULL || policy_agency_index(p, v->str) >= 0)
		return;
	for (size_t j = 0; j < na; j++)
		names[j] = policy_agency_id(p, j);
	hint = suggest_closest(v->str, names, na);
	yamlconf_error(y, v, "unknown agency '%.64s'%s%s%s", v->str,
	    hint ? " (did you mean '" : "", hint ? hint : "",
	    hint ? "'?)" : "");
}

/* One case: its question into q, what it expects into e. */
static void
parse_case(struct yamlconf *y, const struct policy *p,
    const struct yamlconf_node *item, struct policy_question *q,
    struct expect *e)
{
	enum { NAME, FROM, TO, PURPOSE, URGENCY, REASON, KIND, EXPECT, NK };
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
	    [REASON] = {"reason", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
	    [KIND] = {"kind", YAMLCONF_STRING, YAMLCONF_NONEMPTY},
	    [EXPECT] = {"expect", YAMLCONF_ANY, YAMLCONF_REQUIRED},
	};
	const struct yamlconf_node *v[NK];

	yamlconf_map(y, item, "case", keys, NK, v);
	q->from = v[FROM] != NULL ? v[FROM]->str : "";
	q->to = v[TO] != NULL ? v[TO]->str : "";
	q->purpose = v[PURPOSE] != NULL ? v[PURPOSE]->str : "";
	q->urgency = URGENCY_ROUTINE;
	q->kind = KIND_RECORD;
	check_agency(y, p, v[FROM]);
	check_agency(y, p, v[TO]);
	if (v[URGENCY] != NULL &&
	    (q->urgency = urgency_parse(v[URGENCY]->str)) == 0)
		yamlconf_error(y, v[URGENCY],
		    "bad urgency '%.64s' (routine, urgent or emergency)",
		    v[URGENCY]->str);
	if (v[KIND] != NULL &&
	    (q->kind = urgency_kind_parse(v[KIND]->str)) == 0)
		yamlconf_error(y, v[KIND],
		    "bad kind '%.64s' (record or request)", v[KIND]->str);
	if (v[REASON] != NULL &&
	    (q->reason = emergency_reason_parse(v[REASON]->str)) == 0)
		yamlconf_error(y, v[REASON], "bad reason '%.64s' (%s)",
		    v[REASON]->str, EMERGENCY_REASON_LIST);
	if (v[EXPECT] != NULL)
		case_expect(y, v[EXPECT], e);
}

void
cases_free(struct cases *c)
{
	if (c == NULL)
		return;
	free(c->qs);
	free(c->es);
	free(c->names);
	free(c->lines);
	yamlconf_free(c->y);
	free(c);
}

/* Walks the loaded document y (taking it) into *out. */
static int
walk(struct yamlconf *y, const struct policy *p, struct yamlconf_errors *errs,
    struct cases **out)
{
	const struct yamlconf_node *root = yamlconf_root(y);
	struct cases *c;
	int rc = ERROR_NOMEM;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		yamlconf_free(y);
		return ERROR_NOMEM;
	}
	c->y = y;
	if (yamlconf_expect(y, root, "the cases file", YAMLCONF_MAP_LIST,
	        YAMLCONF_NONEMPTY))
		c->n = root->n;
	c->qs = calloc(c->n + 1, sizeof(*c->qs));
	c->es = calloc(c->n + 1, sizeof(*c->es));
	c->names = calloc(c->n + 1, sizeof(*c->names));
	c->lines = calloc(c->n + 1, sizeof(*c->lines));
	if (c->qs == NULL || c->es == NULL || c->names == NULL ||
	    c->lines == NULL)
		goto out;
	for (size_t i = 0; i < c->n; i++) {
		const struct yamlconf_node *item = root->items[i];

		parse_case(y, p, item, &c->qs[i], &c->es[i]);
		c->names[i] = "";
		c->lines[i] = item->line;
		for (size_t k = 0;
		     item->kind == YAMLCONF_NODE_MAP && k < item->n; k++)
			if (strcmp(item->keys[k]->str, "name") == 0 &&
			    item->values[k]->kind == YAMLCONF_NODE_SCALAR)
				c->names[i] = item->values[k]->str;
	}
	rc = ERROR_OK;
out:
	if (rc == ERROR_OK)
		*out = c;
	else
		cases_free(c);
	return rc;
}

/*
 * After yamlconf's load (rc, y): walks the cases, then fails the whole
 * file when any error was added to errs since before.
 */
static int
finish(int rc, struct yamlconf *y, const struct policy *p,
    struct yamlconf_errors *errs, size_t before, struct cases **out)
{
	*out = NULL;
	if (rc != ERROR_OK) {
		yamlconf_free(y);
		return rc;
	}
	rc = walk(y, p, errs, out);
	if (rc == ERROR_OK && errs->total > before) {
		cases_free(*out);
		*out = NULL;
		rc = ERROR_CONFIG;
	}
	if (errs->total > before)
		yamlconf_errors_sort(errs, 0);
	return rc;
}

int
cases_parse(const void *buf, size_t len, const char *name,
    const struct policy *p, struct yamlconf_errors *errs, struct cases **out)
{
	struct yamlconf *y = NULL;
	size_t before = errs->total;
	int rc;

	rc = yamlconf_load_buffer(buf, len, name, CASES_FILE_MAX, errs, &y);
	return finish(rc, y, p, errs, before, out);
}

int
cases_load_file(const char *path, const struct policy *p,
    struct yamlconf_errors *errs, struct cases **out)
{
	struct yamlconf *y = NULL;
	size_t before = errs->total;
	int rc;

	rc = yamlconf_load_file(path, CASES_FILE_MAX, errs, &y);
	return finish(rc, y, p, errs, before, out);
}

size_t
cases_count(const struct cases *c)
{
	return c->n;
}

const struct policy_question *
cases_question(const struct cases *c, size_t i)
{
	return i < c->n ? &c->qs[i] : NULL;
}

int
cases_run(const struct cases *c, const struct policy *p, size_t i,
    struct cases_result *r)
{
	struct policy_decision *d;

	if (i >= c->n)
		return ERROR_INVAL;
	if ((d = malloc(sizeof(*d))) == NULL)
		return ERROR_NOMEM;
	memset(r, 0, sizeof(*r));
	r->name = c->names[i];
	r->line = c->lines[i];
	r->pass =
	    judge(p, &c->qs[i], &c->es[i], d, r->expected, r->actual, r->wrong);
	free(d);
	return ERROR_OK;
}
