/*
 * `concordat audit stats`: counts of events by type, agency, purpose and
 * rule, and of break-glass events, read from the indexes.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include <jansson.h>

#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"

static const char stats_help[] =
    "usage: concordat audit stats --data DIR [--json]\n"
    "\n"
    "Counts of events by type, by agency (events naming it as sender or\n"
    "recipient), by purpose and by rule, and of break-glass events, read\n"
    "from the indexes; then the break-glass decisions by the outcome of\n"
    "their latest guardian's review (justified, not_justified,\n"
    "needs_follow_up) and those not reviewed.\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *const stat_titles[] = {
    [AUDIT_STAT_TYPE] = "event",
    [AUDIT_STAT_AGENCY] = "agency",
    [AUDIT_STAT_PURPOSE] = "purpose",
    [AUDIT_STAT_RULE] = "rule",
};

struct stats {
	bool json;
	int last; /* the counter added last, for headings */
	json_t *groups[4];
	struct strbuf sb;
};

static int
stats_row(void *arg, enum audit_stat stat, const char *key, uint64_t count)
{
	struct stats *s = arg;

	if (s->json)
		return json_object_set_new(s->groups[stat], key,
		           json_integer((json_int_t)count)) == 0
		    ? ERROR_OK
		    : ERROR_NOMEM;
	if ((int)stat != s->last) {
		strbuf_addf(
		    &s->sb, "\n%-32s %10s\n", stat_titles[stat], "events");
		s->last = (int)stat;
	}
	strbuf_addf(&s->sb, "  %-30s %10" PRIu64 "\n", key, count);
	return strbuf_error(&s->sb);
}

/* The counts as one JSON object into sb. */
static int
as_json(struct stats *s, const char *origin, uint64_t size, uint64_t bg,
    const struct review_counts *rc)
{
	json_t *o;
	char *text;

	o = json_pack("{s:s,s:I,s:I,s:O,s:O,s:O,s:O}", "origin", origin,
	    "events", (json_int_t)size, "breakglass", (json_int_t)bg, "types",
	    s->groups[AUDIT_STAT_TYPE], "agencies",
	    s->groups[AUDIT_STAT_AGENCY], "purposes",
	    s->groups[AUDIT_STAT_PURPOSE], "rules", s->groups[AUDIT_STAT_RULE]);
	if (o != NULL)
		json_object_set_new(o, "reviews", verbs_review_counts_json(rc));
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (text == NULL)
		return ERROR_NOMEM;
	strbuf_addstr(&s->sb, text);
	strbuf_addch(&s->sb, '\n');
	free(text);
	return strbuf_error(&s->sb);
}

/* The counts of the open log into s->sb; a project error. */
static int
count(struct reader *r, struct stats *s)
{
	struct review_counts rv;
	uint64_t size, bg = 0;
	int rc;

	if ((rc = audit_size(r->a, r->txn, &size)) != 0 ||
	    (rc = verbs_review_counts(r, &rv)) != 0)
		return rc;
	if (s->json) {
		for (int i = 0; i < 4; i++)
			if ((s->groups[i] = json_object()) == NULL)
				return ERROR_NOMEM;
	} else {
		strbuf_addf(&s->sb, "audit log %s: %" PRIu64 " events\n",
		    audit_origin(r->a), size);
	}
	if ((rc = audit_query_stats(r->a, r->txn, stats_row, s, &bg)) != 0)
		return rc;
	if (s->json)
		return as_json(s, audit_origin(r->a), size, bg, &rv);
	strbuf_addf(&s->sb, "\nbreak-glass events %24" PRIu64 "\n", bg);
	verbs_review_counts_text(&rv, &s->sb);
	return strbuf_error(&s->sb);
}

int
audit_verb_stats(int argc, char **argv)
{
	struct stats s = {false, -1, {NULL}, STRBUF_INIT};
	struct reader r;
	const char *dir = NULL;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'j':
			s.json = true;
			break;
		case 'h':
			fputs(stats_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return verbs_unexpected("stats", argv[optind]);
	if (dir == NULL)
		return verbs_missing("stats", "--data DIR");
	if ((rc = verbs_open_log("stats", dir, &r)) != 0)
		return rc;
	if ((rc = count(&r, &s)) == 0)
		rc = verbs_write(&s.sb);
	for (int i = 0; i < 4; i++)
		json_decref(s.groups[i]);
	strbuf_release(&s.sb);
	verbs_close_log(&r);
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR; /* the stdout check says why */
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit stats: %s: %s", dir,
		    error_strerror(rc));
	return EX_OK;
}
