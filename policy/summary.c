/*
 * The public summary of a policy (summary.h): every flow the policy
 * allows, asked of the policy itself with policy_eval, in plain words, or
 * as a page (common/html.h) from the same walk. Called by `concordat
 * policy summary`; writes to no stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/html.h"
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

/* What one flow shares: the two decisions asked of the policy. */
struct flow {
	struct policy_decision *d; /* urgent */
	struct policy_decision *e; /* emergency, risk to life */
	fieldset extra;            /* what an emergency adds */
};

/* Asks p about one flow into f; false when nothing flows. */
static bool
flow_get(const struct policy *p, const char *purpose, const char *from,
    const char *to, struct flow *f)
{
	struct policy_question q = {.from = from,
	    .to = to,
	    .purpose = purpose,
	    .urgency = URGENCY_URGENT,
	    .kind = KIND_RECORD};

	if (policy_eval(p, &q, f->d) != ERROR_OK)
		return false;
	q.urgency = URGENCY_EMERGENCY;
	q.reason = EMERGENCY_REASON_RISK_TO_LIFE;
	if (policy_eval(p, &q, f->e) != ERROR_OK)
		return false;
	f->extra = f->e->disclosed & ~f->d->disclosed;
	return f->e->disclosed != 0;
}

/* One flow: urgent sharing, what an emergency adds, bases, conditions. */
static void
flow(struct strbuf *sb, const struct policy *p, const char *purpose,
    const char *from, const char *to, struct flow *f)
{
	struct policy_decision *d = f->d, *e = f->e;
	char a[64], b[64], line[512];

	if (!flow_get(p, purpose, from, to, f))
		return;
	snprintf(line, sizeof(line),
	    "From %s to %s:", agency_words(p, from, a, sizeof(a)),
	    agency_words(p, to, b, sizeof(b)));
	wrap(sb, 2, "", line);
	if (d->disclosed == 0)
		wrap(sb, 6, "", "nothing, except in an emergency.");
	list_fields(sb, d->disclosed);
	if (f->extra != 0) {
		wrap(sb, 4, "",
		    "Only in an emergency, when there is a risk to "
		    "life or serious harm and the reason is "
		    "recorded, also:");
		list_fields(sb, f->extra);
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

/* The words of one never entry ("Never shared by A with B ...:") in text. */
static void
never_words(struct strbuf *text, const struct policy *p,
    const struct policy_never_info *ni)
{
	size_t np = policy_purpose_count(p);
	bool first = true;

	text->len = 0;
	strbuf_addstr(text, "Never shared");
	if (!ni->any_from) {
		strbuf_addstr(text, " by");
		agency_list(text, p, ni->from);
	}
	strbuf_addstr(text, " with");
	agency_list(text, p, ni->to);
	if (ni->any_purpose) {
		strbuf_addstr(text, ", for any purpose, even in an emergency:");
		return;
	}
	for (size_t k = 0; k < np; k++) {
		if (!(ni->purposes & ((uint64_t)1 << k)))
			continue;
		strbuf_addf(text, "%s%s",
		    first ? " when the purpose is: " : "; or: ",
		    policy_purpose_description(p, k));
		first = false;
	}
	strbuf_addstr(text, " (even in an emergency):");
}

static void
never_entries(struct strbuf *sb, const struct policy *p)
{
	size_t n = policy_never_count(p);
	struct strbuf text = STRBUF_INIT;

	if (n == 0)
		return;
	strbuf_addstr(sb, "\nWhat is never shared\n");
	for (size_t i = 0; i < n; i++) {
		struct policy_never_info ni;

		if (policy_never_get(p, i, &ni) != ERROR_OK)
			continue;
		never_words(&text, p, &ni);
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
purposes(struct strbuf *sb, const struct policy *p, struct flow *fl)
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

				if (fi == ti ||
				    policy_eval(p, &q, fl->e) != 0 ||
				    fl->e->disclosed == 0)
					continue;
				strbuf_addstr(sb, "\n");
				flow(sb, p, pn, q.from, q.to, fl);
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
	struct flow fl = {d, e, 0};
	purposes(sb, p, &fl);
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

/* ------------------------------------------------------------ the page */

/* <ul> of the descriptions of the fields of set; "nothing" when none. */
static void
html_fields(struct strbuf *sb, fieldset set, const char *none)
{
	if (set == 0) {
		html_text(sb, none);
		return;
	}
	html_raw(sb, "<ul>");
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(set, f))
			html_tag(sb, "li", NULL, fields_description(f));
	html_raw(sb, "</ul>");
}

/* Who signed the agreement, as its note says and the keyring checks. */
static void
html_signers(struct strbuf *sb, const struct summary_signed *sig)
{
	static const char *const heads[] = {"Agency", "Key in the note",
	    "Key id", "Guardian key fingerprint", "Signature"};

	html_raw(sb, "<h2 id=\"signers\">Who has signed this agreement</h2>\n");
	if (sig == NULL || !sig->has_note) {
		html_raw(sb,
		    "<p class=\"warn\">No guardian has signed this "
		    "file: there is no agreement note (FILE.sig) "
		    "beside it.</p>\n");
		return;
	}
	html_raw(sb, "<p");
	html_raw(sb, sig->checked && sig->complete ? ">" : " class=\"warn\">");
	if (!sig->checked)
		html_text(sb,
		    "Signatures not checked: these are the lines of "
		    "the agreement note as written. Checked "
		    "against the guardians' keys, they are shown "
		    "valid or not.");
	else if (sig->complete)
		html_text(sb,
		    "Complete: signed by the Caldicott Guardian of "
		    "every agency, each signature checked against "
		    "the guardian's key.");
	else
		html_textf(sb,
		    "NOT complete: %zu agenc%s without a valid guardian "
		    "signature.",
		    sig->nmissing, sig->nmissing == 1 ? "y" : "ies");
	if (sig->problem != NULL) {
		html_text(sb, " The note: ");
		html_text(sb, sig->problem);
		html_text(sb, ".");
	}
	html_raw(sb, "</p>\n");
	html_table_begin(
	    sb, "The guardians' signatures in the agreement note", heads, 5);
	for (size_t i = 0; i < sig->n; i++) {
		const struct summary_signer *g = &sig->signers[i];

		html_row_begin(sb, NULL);
		html_raw(sb, "<th scope=\"row\">");
		html_text(sb, g->agency[0] ? g->agency : "-");
		html_raw(sb, "</th>");
		html_cell(sb, g->key_name);
		html_raw(sb, "<td class=\"fingerprint\">");
		html_text(sb, g->keyid[0] ? g->keyid : "-");
		html_raw(sb, "</td><td class=\"fingerprint\">");
		html_text(sb,
		    g->fingerprint != NULL ? g->fingerprint
		                           : "(no keyring given)");
		html_raw(sb,
		    g->valid ? "</td><td class=\"allowed\">"
		             : "</td><td class=\"warn\">");
		html_text(sb, g->status);
		html_raw(sb, "</td>");
		html_row_end(sb);
	}
	html_table_end(sb);
	if (sig->checked && sig->nmissing > 0) {
		html_raw(sb, "<p>Not signed by the guardian of: ");
		for (size_t i = 0; i < sig->nmissing; i++) {
			if (i > 0)
				html_text(sb, ", ");
			html_text(sb, sig->missing[i]);
		}
		html_raw(sb, ".</p>\n");
	}
}

/* One row of a purpose's table: a flow between two agencies. */
static void
html_flow(struct strbuf *sb, const struct policy *p, const char *from,
    const char *to, const struct flow *f)
{
	char a[64], b[64];

	html_row_begin(sb, NULL);
	html_raw(sb, "<th scope=\"row\">");
	html_text(sb, agency_words(p, from, a, sizeof(a)));
	html_raw(sb, "</th>");
	html_cell(sb, agency_words(p, to, b, sizeof(b)));
	html_raw(sb, "<td>");
	html_fields(sb, f->d->disclosed, "nothing, except in an emergency");
	html_raw(sb, "</td><td>");
	html_fields(sb, f->extra, "nothing more");
	html_raw(sb, "</td><td>");
	for (size_t i = 0; i < f->e->nrules; i++) {
		if (i > 0)
			html_raw(sb, "<br>");
		html_text(sb, f->e->bases[i]);
	}
	html_raw(sb, "</td><td>");
	for (int o = 0, n = 0; o < POLICY_OBLIGATION_COUNT; o++)
		if (f->e->obligations & (1u << o)) {
			if (n++ > 0)
				html_raw(sb, "<br>");
			html_text(sb, policy_obligation_text(o));
		}
	html_raw(sb, "</td>");
	html_row_end(sb);
}

/* Each purpose: a heading, its expiry and a table of its flows. */
static void
html_purposes(struct strbuf *sb, const struct policy *p, struct flow *fl)
{
	static const char *const heads[] = {"From", "To", "What is shared",
	    "Only in an emergency, also", "Legal basis", "Conditions"};
	size_t na = policy_agency_count(p);
	char dur[128];

	html_raw(sb, "<h2 id=\"purposes\">Who may see what, and why</h2>\n");
	for (size_t pi = 0; pi < policy_purpose_count(p); pi++) {
		const char *pn = policy_purpose_name(p, pi);
		bool any = false;

		html_raw(sb, "<h3 id=\"purpose-");
		html_id(sb, pn);
		html_raw(sb, "\">");
		html_textf(
		    sb, "Purpose: %s", policy_purpose_description(p, pi));
		html_raw(sb, "</h3>\n<p>");
		plain_duration(policy_purpose_expiry(p, pi), dur, sizeof(dur));
		html_textf(sb,
		    "A message for this purpose that is not collected within "
		    "%s is deleted, and the sender is told. (Purpose code: "
		    "%s.)",
		    dur, pn);
		html_raw(sb, "</p>\n");
		for (size_t fi = 0; fi < na; fi++)
			for (size_t ti = 0; ti < na; ti++) {
				const char *from = policy_agency_id(p, fi),
				           *to = policy_agency_id(p, ti);

				if (fi == ti || !flow_get(p, pn, from, to, fl))
					continue;
				if (!any)
					html_table_begin(sb,
					    policy_purpose_description(p, pi),
					    heads, 6);
				any = true;
				html_flow(sb, p, from, to, fl);
			}
		if (any)
			html_table_end(sb);
		else
			html_raw(
			    sb, "<p>Nothing is shared for this purpose.</p>\n");
	}
}

/* What is never shared, as summary_build says it, one paragraph each. */
static void
html_never(struct strbuf *sb, const struct policy *p)
{
	struct strbuf text = STRBUF_INIT;

	if (policy_never_count(p) == 0)
		return;
	html_raw(sb, "<h2 id=\"never\">What is never shared</h2>\n");
	/* The words of the text (never_words), escaped. */
	for (size_t i = 0; i < policy_never_count(p); i++) {
		struct policy_never_info ni;

		if (policy_never_get(p, i, &ni) != ERROR_OK)
			continue;
		never_words(&text, p, &ni);
		html_tag(sb, "p", NULL, strbuf_str(&text));
		html_fields(sb, ni.fields, "no field");
		if (ni.reason[0] != '\0') {
			html_raw(sb, "<p>Why: ");
			html_text(sb, ni.reason);
			html_raw(sb, "</p>\n");
		}
	}
	if (strbuf_error(&text) != ERROR_OK)
		sb->failed = true;
	strbuf_release(&text);
}

int
summary_build_html(
    const struct policy *p, const struct summary_signed *sig, struct strbuf *sb)
{
	static const char *const heads[] = {"What", "Value"};
	struct policy_decision *d = malloc(sizeof(*d)), *e = malloc(sizeof(*e));
	struct flow fl = {d, e, 0};
	char a[64];
	int rc = ERROR_NOMEM;

	if (d == NULL || e == NULL)
		goto out;
	html_begin(sb,
	    "How we share information about people in a mental health crisis",
	    "When someone is in a mental health crisis, the agencies below "
	    "share the information needed to keep them and others safe, and "
	    "no more. This is a full account of what is shared, between "
	    "whom, for which purposes and on what legal basis. Anything not "
	    "listed here is not shared through this system. Every "
	    "disclosure is recorded in an audit log, and you can ask any of "
	    "these agencies what was shared about you.");
	html_raw(sb, "<h2 id=\"agreement\">The agreement</h2>\n");
	html_table_begin(sb, "The agreement this page describes", heads, 2);
	html_raw(sb, "<tr><th scope=\"row\">Agreement</th>");
	html_cell(sb, policy_agreement(p));
	html_raw(sb, "</tr>\n<tr><th scope=\"row\">Version</th><td>");
	html_textf(sb, "%lld", policy_version(p));
	html_raw(sb, "</td></tr>\n<tr><th scope=\"row\">Approved by</th>");
	html_cell(sb, policy_approved_by(p));
	html_raw(sb,
	    "</tr>\n<tr><th scope=\"row\">Fingerprint "
	    "(SHA-256 of the file)</th><td class=\"fingerprint\">");
	html_text(sb, policy_sha256_hex(p));
	html_raw(sb, "</td></tr>\n<tr><th scope=\"row\">The agencies</th><td>");
	html_raw(sb, "<ul>");
	for (size_t i = 0; i < policy_agency_count(p); i++)
		html_tag(sb, "li", NULL,
		    agency_words(p, policy_agency_id(p, i), a, sizeof(a)));
	html_raw(sb, "</ul></td></tr>\n");
	html_table_end(sb);
	html_signers(sb, sig);
	html_purposes(sb, p, &fl);
	html_never(sb, p);
	html_raw(sb, "<h2 id=\"other\">Any other purpose</h2>\n");
	html_tag(sb, "p", NULL,
	    "A message for any purpose not listed above is refused, and the "
	    "refusal is recorded. For example, a criminal investigation "
	    "must use the formal disclosure route instead.");
	html_end(sb);
	rc = strbuf_error(sb);
out:
	free(d);
	free(e);
	return rc;
}
