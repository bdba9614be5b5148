/*
 * `concordat audit query --breakglass --unreviewed`: the review queue, the
 * break-glass decisions no guardian has reviewed yet (audit/review.h), as
 * a table, JSON lines or CSV, each with the leaf hash a guardian signs.
 * audit_verb_query hands the verb here when --unreviewed is given.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "audit/merkle.h"
#include "audit/review.h"
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/html.h"
#include "common/ident.h"
#include "common/table.h"
#include "common/urgency.h"
#include "proto/jsonval.h"

static const struct table_column columns[] = {
    {"seq", "SEQ", 7, NULL},
    {"time", "TIME", 24, NULL},
    {"age", "AGE", 10, NULL},
    {"sender", "FROM", 19, NULL},
    {"recipient", "TO", 19, NULL},
    {"purpose", "PURPOSE", 16, NULL},
    {"emergency_reason", "REASON", 18, NULL},
    {"msg_id", "MSG_ID", 0, NULL},
    {"leaf_hash", "LEAF HASH", 0, NULL},
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

static const char queue_help[] =
    "usage: concordat audit query --data DIR --breakglass --unreviewed\n"
    "           [--older-than DURATION] [--agency A]\n"
    "           [--json | --csv | --html]\n"
    "\n"
    "The review queue: every break-glass decision that no guardian has\n"
    "reviewed (no breakglass_reviewed event names its leaf), oldest first,\n"
    "with its age and the leaf hash `concordat audit review --leaf-hash`\n"
    "signs. A decision a review names leaves the queue, whatever the\n"
    "outcome.\n"
    "\n"
    "--older-than D  only decisions logged more than D ago (7d, 36h, 90m)\n"
    "--agency A      only decisions A sent (its guardian reviews them)\n"
    "--html          the queue as one self-contained page (a table with a\n"
    "                caption, how to review, no script, nothing loaded)\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"breakglass", no_argument, NULL, 'b'},
    {"unreviewed", no_argument, NULL, 'U'},
    {"older-than", required_argument, NULL, 'o'},
    {"agency", required_argument, NULL, 'a'},
    {"json", no_argument, NULL, 'j'},
    {"csv", no_argument, NULL, 'c'},
    {"html", no_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct queue {
	struct reader *r;
	struct audit_reviews reviews;
	struct table t;
	const char *agency;
	uint64_t now_ms;
	uint64_t rows;
};

static int
queue_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct queue *q = arg;
	struct strbuf sb = STRBUF_INIT;
	uint8_t hash[MERKLE_HASH_LEN];
	char hex[2 * MERKLE_HASH_LEN + 1], age[32];
	const uint8_t *leaf;
	size_t len;
	json_t *row;
	int rc;

	if (ev->type != EVENT_DECISION ||
	    audit_reviews_find(&q->reviews, seq) != NULL ||
	    (q->agency != NULL && strcmp(ev->sender, q->agency) != 0))
		return ERROR_OK;
	if ((rc = audit_leaf(q->r->a, q->r->txn, seq, &leaf, &len)) != 0)
		return rc;
	merkle_hash_leaf(leaf, len, hash);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	/* Whole minutes: the queue is read in days. */
	duration_format(q->now_ms > ev->time_ms
	        ? (q->now_ms - ev->time_ms) / 60000 * 60000
	        : 0,
	    age, sizeof(age));
	if ((row = jsonval_event(seq, ev)) == NULL)
		return ERROR_NOMEM;
	json_object_set_new(row, "leaf_hash", json_string(hex));
	json_object_set_new(row, "age", json_string(age));
	json_object_set_new(row, "age_ms",
	    json_integer(
	        (json_int_t)(q->now_ms > ev->time_ms ? q->now_ms - ev->time_ms
	                                             : 0)));
	rc = table_row(&q->t, &sb, row);
	json_decref(row);
	q->rows++;
	if (rc != 0) {
		strbuf_release(&sb);
		return rc;
	}
	return verbs_write(&sb);
}

/* The page around the table (common/html.h): heading, lead, caption. */
static void
page_begin(struct strbuf *sb, const struct queue *q, uint64_t older)
{
	char d[32];

	html_begin(sb, "Break-glass review queue",
	    "Every emergency (break-glass) disclosure in the audit log that "
	    "the sending agency's Caldicott Guardian has not yet reviewed, "
	    "oldest first. A review on the record takes a decision off this "
	    "list, whatever its outcome.");
	html_tag(sb, "h2", NULL, "Waiting for review");
	if (older != 0) {
		duration_format(older, d, sizeof(d));
		html_raw(sb, "<p>");
		html_textf(sb, "Only decisions logged more than %s ago.", d);
		html_raw(sb, "</p>\n");
	}
	if (q->agency != NULL) {
		html_raw(sb, "<p>");
		html_textf(sb, "Only decisions sent by %s.", q->agency);
		html_raw(sb, "</p>\n");
	}
}

static void
page_end(struct strbuf *sb, const struct queue *q, const char *dir)
{
	if (q->rows == 0)
		html_tag(sb, "p", "allowed",
		    "No break-glass decision is waiting for review.");
	else {
		html_raw(sb, "<p class=\"warn\">");
		html_textf(sb,
		    "%" PRIu64 " break-glass decision%s waiting for review.",
		    q->rows, q->rows == 1 ? " is" : "s are");
		html_raw(sb, "</p>\n");
	}
	html_tag(sb, "h2", NULL, "How to review one");
	html_raw(sb, "<p>");
	html_text(sb,
	    "The sending agency's guardian signs the review with the "
	    "guardian key, offline, and drops the file into the "
	    "agency's agent spool (reviews/):");
	html_raw(sb, "</p>\n<pre>");
	html_textf(sb,
	    "concordat audit review --data %s --seq SEQ \\\n"
	    "    --outcome justified|not_justified|needs_follow_up \\\n"
	    "    --reviewer \"NAME, ROLE\" [--note-file NOTE] \\\n"
	    "    --guardian-key AGENCY.guardian.key --out "
	    "SPOOL/reviews/FILE.json",
	    dir);
	html_raw(sb, "</pre>\n");
	html_end(sb);
}

int
audit_verb_review_queue(int argc, char **argv)
{
	struct audit_filter f = {.type = EVENT_DECISION, .breakglass = true};
	enum table_format format = TABLE_TEXT;
	struct strbuf sb = STRBUF_INIT;
	struct queue q = {0};
	struct reader r;
	const char *dir = NULL;
	uint64_t older = 0;
	bool bg = false;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'b':
			bg = true;
			break;
		case 'U':
			break;
		case 'o':
			if (duration_parse(optarg, &older) != 0)
				return cli_fail(EX_USAGE,
				    "audit query: --older-than '%s' is not a "
				    "duration (7d, 36h, 90m)",
				    optarg);
			break;
		case 'a':
			if (!ident_agency_valid(optarg))
				return cli_fail(EX_USAGE,
				    "audit query: invalid agency id '%s'",
				    optarg);
			q.agency = optarg;
			break;
		case 'j':
			format = TABLE_JSON;
			break;
		case 'c':
			format = TABLE_CSV;
			break;
		case 'H':
			format = TABLE_HTML;
			break;
		case 'h':
			fputs(queue_help, stdout);
			return EX_OK;
		default:
			return cli_fail(EX_USAGE,
			    "audit query: --unreviewed takes only the options "
			    "of the review queue (see --unreviewed --help)");
		}
	}
	if (optind != argc)
		return verbs_unexpected("query", argv[optind]);
	if (dir == NULL)
		return verbs_missing("query", "--data DIR");
	if (!bg)
		return cli_fail(EX_USAGE,
		    "audit query: --unreviewed is for --breakglass decisions: "
		    "give both");
	q.now_ms = clock_now_ms();
	if (older != 0)
		f.until_ms = q.now_ms > older ? q.now_ms - older : 1;
	if ((rc = verbs_open_log("query", dir, &r)) != 0)
		return rc;
	q.r = &r;
	if ((rc = audit_reviews_load(r.a, r.txn, &q.reviews)) == 0) {
		if (format == TABLE_HTML)
			page_begin(&sb, &q, older);
		table_begin_captioned(&q.t, &sb, format, columns, N_COLUMNS,
		    "Break-glass decisions awaiting their guardian's review, "
		    "oldest first (id seq-N)");
		q.t.row_id = "seq";
		if ((rc = verbs_write(&sb)) == 0)
			rc = audit_query(r.a, r.txn, &f, queue_row, &q, NULL);
		audit_reviews_release(&q.reviews);
		if (rc == 0 && format == TABLE_HTML) {
			table_end(&q.t, &sb);
			page_end(&sb, &q, dir);
			rc = verbs_write(&sb);
		}
	}
	verbs_close_log(&r);
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR;
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit query: %s: %s", dir,
		    error_strerror(rc));
	return EX_OK;
}

/* ------------------------------------------------- audit stats' counts */

struct counter {
	struct audit_reviews *reviews;
	struct review_counts *c;
};

static int
count_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct counter *k = arg;
	const struct audit_review_entry *e;

	if (ev->type != EVENT_DECISION)
		return ERROR_OK;
	if ((e = audit_reviews_find(k->reviews, seq)) == NULL)
		k->c->unreviewed++;
	else if (e->review.outcome < 4)
		k->c->outcome[e->review.outcome]++;
	return ERROR_OK;
}

int
verbs_review_counts(struct reader *r, struct review_counts *out)
{
	struct audit_filter f = {.type = EVENT_DECISION, .breakglass = true};
	struct audit_reviews rv;
	struct counter k = {.reviews = &rv, .c = out};
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = audit_reviews_load(r->a, r->txn, &rv)) != 0)
		return rc;
	for (size_t i = 0; i < rv.n; i++)
		out->reviews += rv.e[i].count;
	rc = audit_query(r->a, r->txn, &f, count_row, &k, NULL);
	audit_reviews_release(&rv);
	return rc;
}

json_t *
verbs_review_counts_json(const struct review_counts *c)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I}", "reviews",
	    (json_int_t)c->reviews, "justified",
	    (json_int_t)c->outcome[REVIEW_JUSTIFIED], "not_justified",
	    (json_int_t)c->outcome[REVIEW_NOT_JUSTIFIED], "needs_follow_up",
	    (json_int_t)c->outcome[REVIEW_NEEDS_FOLLOW_UP], "unreviewed",
	    (json_int_t)c->unreviewed);
}

void
verbs_review_counts_text(const struct review_counts *c, struct strbuf *sb)
{
	strbuf_addf(sb,
	    "\n%-32s %10s\n  %-30s %10" PRIu64 "\n  %-30s %10" PRIu64
	    "\n  %-30s %10" PRIu64 "\n  %-30s %10" PRIu64 "\n",
	    "break-glass decisions reviewed", "decisions", "justified",
	    c->outcome[REVIEW_JUSTIFIED], "not_justified",
	    c->outcome[REVIEW_NOT_JUSTIFIED], "needs_follow_up",
	    c->outcome[REVIEW_NEEDS_FOLLOW_UP], "not reviewed", c->unreviewed);
}
