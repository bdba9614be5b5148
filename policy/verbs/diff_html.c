/*
 * `concordat policy diff OLD NEW --html`: the changes diff.c found, as a
 * page for the IG lead reviewing a change: for each urgency a matrix of
 * (from -> to, purpose) by field, each change marked in words and by class
 * (newly disclosed, newly withheld), and a table of every change with the
 * rule or never entry and line behind each side. Built from the same
 * change list that --json prints; diff.c writes it.
 */
#include <string.h>

#include <jansson.h>

#include "common/fields.h"
#include "common/html.h"
#include "common/urgency.h"
#include "policy/verbs/policy_verbs.h"

static const char *
get(const json_t *c, const char *k)
{
	const char *s = json_string_value(json_object_get(c, k));

	return s != NULL ? s : "";
}

/* Whether changes a and b are of the same (from, to, purpose). */
static bool
same_flow(const json_t *a, const json_t *b)
{
	return strcmp(get(a, "from"), get(b, "from")) == 0 &&
	    strcmp(get(a, "to"), get(b, "to")) == 0 &&
	    strcmp(get(a, "purpose"), get(b, "purpose")) == 0;
}

/* Whether change d is of c's flow and of urgency u. */
static bool
same_run(const json_t *d, const json_t *c, const char *u)
{
	return strcmp(get(d, "urgency"), u) == 0 && same_flow(c, d);
}

/* The link to change i ("#change-N"), its title what decided each side. */
static void
change_href(struct strbuf *sb, size_t i, const json_t *c)
{
	strbuf_addf(sb, "<a href=\"#change-%zu\" title=\"", i + 1);
	html_textf(
	    sb, "was: %s; now: %s", get(c, "old_why"), get(c, "new_why"));
	html_raw(sb, "\">");
}

/* The words of a change, marked: + disclosed, - disclosed now withheld. */
static void
change_words(struct strbuf *sb, const json_t *c)
{
	const char *o = get(c, "old"), *n = get(c, "new");

	if (strcmp(n, "disclosed") == 0) {
		html_raw(sb, "<span class=\"mark-new\">newly disclosed</span>");
		if (strcmp(o, "withheld") != 0)
			html_textf(sb, " (was %s)", o);
	} else if (strcmp(o, "disclosed") == 0) {
		html_raw(sb, "<span class=\"mark-gone\">disclosed</span> ");
		html_textf(sb, "now %s", n);
	} else {
		html_textf(sb, "%s \xe2\x86\x92 %s", o, n);
	}
}

/* One matrix: the changes of urgency u, by flow and field. */
static void
matrix(struct strbuf *sb, const json_t *changes, const char *u)
{
	const char *heads[2 + FIELDS_COUNT];
	int cols[FIELDS_COUNT];
	size_t nc = 0, n = json_array_size(changes);
	char caption[160];

	for (int f = 1; f <= FIELDS_COUNT; f++)
		for (size_t i = 0; i < n; i++) {
			const json_t *c = json_array_get(changes, i);
			if (strcmp(get(c, "urgency"), u) == 0 &&
			    strcmp(get(c, "field"), fields_name(f)) == 0) {
				cols[nc] = f;
				heads[2 + nc++] = fields_name(f);
				break;
			}
		}
	html_raw(sb, "<h2 id=\"");
	html_id(sb, u);
	html_raw(sb, "\">");
	html_textf(sb, "%c%s messages", u[0] - 'a' + 'A', u + 1);
	html_raw(sb, "</h2>\n");
	if (nc == 0) {
		html_raw(sb, "<p>");
		html_textf(sb, "No decision about a %s message changes.", u);
		html_raw(sb, "</p>\n");
		return;
	}
	heads[0] = "From \xe2\x86\x92 to";
	heads[1] = "Purpose";
	snprintf(caption, sizeof(caption),
	    "%c%s messages: what changes, by flow and field (fields that do "
	    "not change for any %s message are left out)",
	    u[0] - 'a' + 'A', u + 1, u);
	html_table_begin(sb, caption, heads, 2 + nc);
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(changes, i);
		size_t end = i;

		/* diff.c asks each question once, so the changes of one flow
		 * and urgency are one run of the list: a row each. */
		if (strcmp(get(c, "urgency"), u) != 0 ||
		    (i > 0 && same_run(json_array_get(changes, i - 1), c, u)))
			continue;
		while (end < n && same_run(json_array_get(changes, end), c, u))
			end++;
		html_row_begin(sb, NULL);
		html_raw(sb, "<th scope=\"row\">");
		html_textf(
		    sb, "%s \xe2\x86\x92 %s", get(c, "from"), get(c, "to"));
		html_raw(sb, "</th>");
		html_cell(sb, get(c, "purpose"));
		for (size_t k = 0; k < nc; k++) {
			size_t j;

			for (j = i; j < end; j++)
				if (strcmp(get(json_array_get(changes, j),
				               "field"),
				        fields_name(cols[k])) == 0)
					break;
			if (j == end) {
				html_raw(
				    sb, "<td class=\"small\">no change</td>");
				continue;
			}
			html_raw(sb, "<td>");
			change_href(sb, j, json_array_get(changes, j));
			change_words(sb, json_array_get(changes, j));
			html_raw(sb, "</a></td>");
		}
		html_row_end(sb);
	}
	html_table_end(sb);
}

/* Every change, one row each, with what decided it on each side. */
static void
change_table(struct strbuf *sb, const json_t *changes)
{
	static const char *const heads[] = {"Change", "From \xe2\x86\x92 to",
	    "Purpose", "Urgency", "Field", "Was", "Now", "Old: rule and line",
	    "New: rule and line"};
	struct strbuf id = STRBUF_INIT;

	html_raw(sb,
	    "<h2 id=\"changes\">Every change, with the rule on both "
	    "sides</h2>\n");
	html_table_begin(sb,
	    "Each change: what decided it in the old file and in the new one "
	    "(FILE:LINE)",
	    heads, sizeof(heads) / sizeof(heads[0]));
	for (size_t i = 0; i < json_array_size(changes); i++) {
		const json_t *c = json_array_get(changes, i);

		id.len = 0;
		strbuf_addf(&id, "change-%zu", i + 1);
		html_row_begin(sb, strbuf_str(&id));
		html_raw(sb, "<th scope=\"row\">");
		html_textf(sb, "%zu", i + 1);
		html_raw(sb, "</th>");
		html_raw(sb, "<td>");
		html_textf(
		    sb, "%s \xe2\x86\x92 %s", get(c, "from"), get(c, "to"));
		html_raw(sb, "</td>");
		html_cell(sb, get(c, "purpose"));
		html_cell(sb, get(c, "urgency"));
		html_cell(sb, get(c, "field"));
		html_cell(sb, get(c, "old"));
		html_raw(sb, "<td>");
		change_words(sb, c);
		html_raw(sb, "</td>");
		html_cell(sb, get(c, "old_why"));
		html_cell(sb, get(c, "new_why"));
		html_row_end(sb);
	}
	html_table_end(sb);
	if (strbuf_error(&id) != 0)
		sb->failed = true;
	strbuf_release(&id);
}

/* The two files compared: path, agreement, version, fingerprint. */
static void
versions(struct strbuf *sb, const char *old_path, const struct policy *a,
    const char *new_path, const struct policy *b)
{
	static const char *const heads[] = {
	    "Side", "File", "Agreement", "Version", "Fingerprint (SHA-256)"};

	html_table_begin(sb, "The two versions compared", heads, 5);
	for (int k = 0; k < 2; k++) {
		const struct policy *p = k == 0 ? a : b;

		html_row_begin(sb, NULL);
		html_raw(sb,
		    k == 0 ? "<th scope=\"row\">Old</th>"
		           : "<th scope=\"row\">New</th>");
		html_cell(sb, k == 0 ? old_path : new_path);
		html_cell(sb, policy_agreement(p));
		html_raw(sb, "<td>");
		html_textf(sb, "%lld", policy_version(p));
		html_raw(sb, "</td><td class=\"fingerprint\">");
		html_text(sb, policy_sha256_hex(p));
		html_raw(sb, "</td>");
		html_row_end(sb);
	}
	html_table_end(sb);
}

void
policy_verbs_diff_html(struct strbuf *sb, const char *old_path,
    const struct policy *a, const char *new_path, const struct policy *b,
    const json_t *changes, const size_t counts[4], bool version_warning)
{
	static const char *const urgencies[] = {
	    "routine", "urgent", "emergency"};
	struct strbuf lead = STRBUF_INIT;

	if (counts[0] == 0)
		strbuf_addstr(&lead, "No decision changes.");
	else
		strbuf_addf(&lead,
		    "%zu change%s: %zu newly disclosed, %zu newly withheld, "
		    "%zu to or from rejected (purpose undeclared).",
		    counts[0], counts[0] == 1 ? "" : "s", counts[1], counts[2],
		    counts[3]);
	html_begin(sb, "What changes between two versions of the agreement",
	    strbuf_str(&lead));
	versions(sb, old_path, a, new_path, b);
	if (version_warning) {
		html_raw(sb, "<p class=\"warn\">");
		html_textf(sb,
		    "Warning: decisions change but the version does not go "
		    "up (%lld to %lld): raise it, so that every party and the "
		    "audit log can tell the agreements apart.",
		    policy_version(a), policy_version(b));
		html_raw(sb, "</p>\n");
	}
	html_raw(sb,
	    "<p>Marks: <span class=\"mark-new\">newly "
	    "disclosed</span> (the field is now shared), <span "
	    "class=\"mark-gone\">disclosed</span> now withheld (no "
	    "longer shared); each mark links to the rule and line "
	    "on both sides.</p>\n");
	for (size_t u = 0; u < 3; u++)
		matrix(sb, changes, urgencies[u]);
	if (json_array_size(changes) > 0)
		change_table(sb, changes);
	html_end(sb);
	if (strbuf_error(&lead) != 0)
		sb->failed = true;
	strbuf_release(&lead);
}
