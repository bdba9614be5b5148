/*
 * The public summary of a policy (summary.h): every flow the policy
 * allows, asked of the policy itself with policy_eval, in plain words.
 * Called by `concordat policy summary`; writes to no stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/urgency.h"
#include "policy/summary.h"

#define WIDTH 76

/* Appends text wrapped at WIDTH columns, each line indented by indent. */
static void
wrap(struct strbuf *sb, int indent, const char *first, const char *text)
{
	int lead = indent + (int)strlen(first), col = lead;
	const char *s = text;

	strbuf_addf(sb, "%*s%s", indent, "", first);
	while (*s != '\0') {
		size_t w;

		while (*s == ' ' || *s == '\n')
			s++;
		w = strcspn(s, " \n");
		if (w == 0)
			break;
		if (col + 1 + (int)w > WIDTH && col > lead) {
			strbuf_addf(sb, "\n%*s", lead, "");
			col = lead;
		} else if (col > lead) {
			strbuf_addch(sb, ' ');
			col++;
		}
		strbuf_add(sb, s, w);
		col += (int)w;
		s += w;
	}
	strbuf_addch(sb, '\n');
}

/* The agency's display name, or its id with '_' as a space, in buf. */
static const char *
agency_words(const struct policy *p, const char *id, char *buf, size_t n)
{
	const char *name = policy_agency_name(p, id);
	size_t i;

	if (name != NULL)
		return name;
	for (i = 0; id[i] != '\0' && i + 1 < n; i++)
		buf[i] = id[i] == '_' ? ' ' : id[i];
	buf[i] = '\0';
	return buf;
}

/* "1 hour and 30 minutes". */
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
list_fields(struct strbuf *sb, fieldset set)
{
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(set, f))
			wrap(sb, 6, "- ", fields_description(f));
}

/* One flow: urgent sharing, what an emergency adds, bases, conditions. */
static void
flow(struct strbuf *sb, const struct policy *p, const char *purpose,
    const char *from, const char *to, struct policy_decision *d,
    struct policy_decision *e)
{
	struct policy_question q = {.from = from,
	    .to = to,
	    .purpose = purpose,
	    .urgency = URGENCY_URGENT,
	    .kind = KIND_RECORD};
	char a[64], b[64], line[512];
	fieldset extra;

	if (policy_eval(p, &q, d) != ERROR_OK)
		return;
	q.urgency = URGENCY_EMERGENCY;
	q.reason = EMERGENCY_REASON_RISK_TO_LIFE;
	if (policy_eval(p, &q, e) != ERROR_OK)
		return;
	extra = e->disclosed & ~d->disclosed;
	if (e->disclosed == 0)
		return;
	snprintf(line, sizeof(line),
	    "From %s to %s:", agency_words(p, from, a, sizeof(a)),
	    agency_words(p, to, b, sizeof(b)));
	wrap(sb, 2, "", line);
	if (d->disclosed == 0)
		wrap(sb, 6, "", "nothing, except in an emergency.");
	list_fields(sb, d->disclosed);
	if (extra != 0) {
		wrap(sb, 4, "",
		    "Only in an emergency, when there is a risk to "
		    "life or serious harm and the reason is "
		    "recorded, also:");
		list_fields(sb, extra);
	}
	for (size_t i = 0; i < e->nrules; i++)
		wrap(sb, 4, "Legal basis: ", e->bases[i]);
	for (int o = 0; o < POLICY_OBLIGATION_COUNT; o++)
		if (e->obligations & (1u << o))
			wrap(sb, 4, "Condition: ", policy_obligation_text(o));
}

/* Appends " A, B or C" for the agencies in set to sb. */
static void
agency_list(struct strbuf *sb, const struct policy *p, uint64_t set)
{
	size_t na = policy_agency_count(p), k, left = 0;
	char a[64];

	for (k = 0; k < na; k++)
		if (set & ((uint64_t)1 << k))
			left++;
	for (k = 0; k < na; k++) {
		if (!(set & ((uint64_t)1 << k)))
			continue;
		strbuf_addf(sb, " %s%s",
		    agency_words(p, policy_agency_id(p, k), a, sizeof(a)),
		    left > 2        ? ","
		        : left == 2 ? " or"
		                    : "");
		left--;
	}
}

static void
never_entries(struct strbuf *sb, const struct policy *p)
{
	size_t n = policy_never_count(p), np = policy_purpose_count(p);
	struct strbuf text = STRBUF_INIT;

	if (n == 0)
		return;
	strbuf_addstr(sb, "\nWhat is never shared\n");
	for (size_t i = 0; i < n; i++) {
		struct policy_never_info ni;
		bool first = true;

		if (policy_never_get(p, i, &ni) != ERROR_OK)
			continue;
		text.len = 0;
		strbuf_addstr(&text, "Never shared");
		if (!ni.any_from) {
			strbuf_addstr(&text, " by");
			agency_list(&text, p, ni.from);
		}
		strbuf_addstr(&text, " with");
		agency_list(&text, p, ni.to);
		if (ni.any_purpose) {
			strbuf_addstr(
			    &text, ", for any purpose, even in an emergency:");
		} else {
			for (size_t k = 0; k < np; k++) {
				if (!(ni.purposes & ((uint64_t)1 << k)))
					continue;
				strbuf_addf(&text, "%s%s",
				    first ? " when the purpose is: " : "; or: ",
				    policy_purpose_description(p, k));
				first = false;
			}
			strbuf_addstr(&text, " (even in an emergency):");
		}
		strbuf_addstr(sb, "\n");
		wrap(sb, 2, "", strbuf_str(&text));
		list_fields(sb, ni.fields);
		if (ni.reason[0] != '\0')
			wrap(sb, 4, "Why: ", ni.reason);
	}
	if (strbuf_error(&text) != ERROR_OK)
		sb->failed = true;
	strbuf_release(&text);
}

/* Each purpose: its expiry and every flow between two agencies. */
static void
purposes(struct strbuf *sb, const struct policy *p, struct policy_decision *d,
    struct policy_decision *e)
{
	size_t na = policy_agency_count(p);
	char dur[128], buf[256];

	for (size_t pi = 0; pi < policy_purpose_count(p); pi++) {
		const char *pn = policy_purpose_name(p, pi);
		bool any = false;

		strbuf_addstr(sb, "\n");
		wrap(sb, 0, "Purpose: ", policy_purpose_description(p, pi));
		plain_duration(policy_purpose_expiry(p, pi), dur, sizeof(dur));
		snprintf(buf, sizeof(buf),
		    "A message for this purpose that is not collected within "
		    "%s is deleted, and the sender is told.",
		    dur);
		wrap(sb, 2, "", buf);
		for (size_t fi = 0; fi < na; fi++)
			for (size_t ti = 0; ti < na; ti++) {
				struct policy_question q = {
				    .from = policy_agency_id(p, fi),
				    .to = policy_agency_id(p, ti),
				    .purpose = pn,
				    .urgency = URGENCY_EMERGENCY,
				    .reason = EMERGENCY_REASON_RISK_TO_LIFE,
				    .kind = KIND_RECORD};

				if (fi == ti || policy_eval(p, &q, e) != 0 ||
				    e->disclosed == 0)
					continue;
				strbuf_addstr(sb, "\n");
				flow(sb, p, pn, q.from, q.to, d, e);
				any = true;
			}
		if (!any)
			wrap(sb, 2, "", "Nothing is shared for this purpose.");
	}
}

int
summary_build(const struct policy *p, struct strbuf *sb)
{
	struct policy_decision *d = NULL, *e = NULL;
	struct strbuf list = STRBUF_INIT;
	size_t na = policy_agency_count(p);
	char buf[256], a[64];
	int rc = ERROR_NOMEM;

	d = malloc(sizeof(*d));
	e = malloc(sizeof(*e));
	if (d == NULL || e == NULL)
		goto out;
	strbuf_addstr(sb,
	    "How we share information about people in a "
	    "mental health crisis\n\n");
	snprintf(buf, sizeof(buf), "Agreement %s, version %lld.",
	    policy_agreement(p), policy_version(p));
	wrap(sb, 0, "", buf);
	wrap(sb, 0, "Approved by: ", policy_approved_by(p));
	wrap(sb, 0, "Policy fingerprint (SHA-256): ", policy_sha256_hex(p));
	strbuf_addstr(sb, "\n");
	wrap(sb, 0, "",
	    "When someone is in a mental health crisis, the agencies "
	    "below share the information needed to keep them and "
	    "others safe, and no more. This is a full account of "
	    "what is shared, between whom, for which purposes and on "
	    "what legal basis. Anything not listed here is not shared "
	    "through this system. Every disclosure is recorded in an "
	    "audit log, and you can ask any of these agencies what "
	    "was shared about you.");
	for (size_t i = 0; i < na; i++)
		strbuf_addf(&list, "%s%s",
		    i == 0 ? "" : (i + 1 == na ? " and " : ", "),
		    agency_words(p, policy_agency_id(p, i), a, sizeof(a)));
	strbuf_addstr(sb, "\n");
	wrap(sb, 0, "The agencies: ", strbuf_str(&list));
	purposes(sb, p, d, e);
	never_entries(sb, p);
	strbuf_addstr(sb, "\nAny other purpose\n\n");
	wrap(sb, 2, "",
	    "A message for any purpose not listed above is refused, "
	    "and the refusal is recorded. For example, a criminal "
	    "investigation must use the formal disclosure route "
	    "instead.");
	rc = strbuf_error(&list) != ERROR_OK ? ERROR_NOMEM : strbuf_error(sb);
out:
	strbuf_release(&list);
	free(d);
	free(e);
	return rc;
}
