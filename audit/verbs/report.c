/*
 * `concordat audit report`: the subject access report of one person, every
 * disclosure about them found in the log (under any of the identifiers
 * given) and written as audit/report.c words it: text, an HTML letter, or
 * JSON.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/report.h"
#include "audit/review.h"
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/subject.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "policy/policy.h"
#include "policy/verbs/policy_verbs.h"

static const char report_help[] =
    "usage: concordat audit report --data DIR --pepper FILE\n"
    "           (--subject NHS | --name SURNAME,FORENAME --dob YYYY-MM-DD |\n"
    "            --subject-ref HEX)...\n"
    "           [--policy FILE] [--since T] [--until T] [--json | --html]\n"
    "\n"
    "A subject access report: every disclosure of information about the\n"
    "person, in plain words: who was allowed to see which information,\n"
    "from whom, when, why, under which legal basis, and whether an\n"
    "emergency (break-glass) was declared and reviewed. A field listed may\n"
    "have been empty: the broker cannot see which fields the sender filled\n"
    "in. --since and --until limit it to [since, until), as for query.\n"
    "\n"
    "The person: any number of identifiers at once (a person sent once by\n"
    "NHS number and once by name), merged in log order and named in the\n"
    "report. Each --dob follows its --name. --subject-ref HEX is a\n"
    "subject_ref as `concordat keys subject-ref` prints it.\n"
    "--pepper FILE  the subject pepper the agencies share; a pepper that no\n"
    "               entry of the log was made with is refused (exit 65);\n"
    "               a log older than pepper ids is reported with a warning\n"
    "--policy FILE  the agreement whose agency names (name:) the report\n"
    "               uses; an agency without one is called by its id\n"
    "               (\"the mental health trust\" for mental_health_trust)\n"
    "--json         one object per disclosure\n"
    "--html         one self-contained page: a printable letter to the\n"
    "               person\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"subject", required_argument, NULL, 's'},
    {"name", required_argument, NULL, 'N'},
    {"dob", required_argument, NULL, 'B'},
    {"subject-ref", required_argument, NULL, 'S'},
    {"pepper", required_argument, NULL, 'p'},
    {"policy", required_argument, NULL, 'P'},
    {"since", required_argument, NULL, 'f'},
    {"until", required_argument, NULL, 'u'},
    {"json", no_argument, NULL, 'j'},
    {"html", no_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct walk {
	struct reader *r;
	struct report rep;
};

/* When the recipient collected and stored the message, if it did. */
struct collected {
	const char *recipient;
	int state; /* EVENT_DELIVERED, EVENT_ACKNOWLEDGED, EVENT_EXPIRED */
	uint64_t at_ms;
};

static int
collected_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct collected *c = arg;

	(void)seq;
	/* Acknowledged outranks delivered outranks expired. */
	if (strcmp(ev->recipient, c->recipient) != 0)
		return ERROR_OK;
	if ((ev->type == EVENT_ACKNOWLEDGED) ||
	    (ev->type == EVENT_DELIVERED && c->state != EVENT_ACKNOWLEDGED) ||
	    (ev->type == EVENT_EXPIRED && c->state == 0)) {
		c->state = ev->type;
		c->at_ms = ev->time_ms;
	}
	return ERROR_OK;
}

/* The agreement's display name of agency, or NULL (report.h). */
static const char *
agency_name(void *arg, const char *agency)
{
	return arg != NULL ? policy_agency_name(arg, agency) : NULL;
}

/*
 * The break-glass review of the disclosure d, into d->review through buf
 * (its latest review in the log, in words, or that none is recorded).
 */
static int
report_review(struct walk *w, struct report_disclosure *d, char *buf, size_t n)
{
	d->review =
	    audit_review_words(w->r->a, w->r->txn, d->seq, d->ev, buf, n);
	return ERROR_OK;
}

/* One decision about the person: its fate, then its words, written. */
static int
report_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct walk *w = arg;
	struct collected col = {ev->recipient, 0, 0};
	struct audit_filter f;
	int rc;

	if (ev->disclosed == 0)
		return ERROR_OK; /* a decision that disclosed nothing */
	if (ev->has_msg_id) {
		memset(&f, 0, sizeof(f));
		f.has_msg_id = true;
		memcpy(f.msg_id, ev->msg_id, sizeof(f.msg_id));
		if ((rc = audit_query(w->r->a, w->r->txn, &f, collected_row,
		         &col, NULL)) != 0)
			return rc;
	}
	struct report_disclosure d = {seq, ev, col.state, col.at_ms, NULL};
	char review[256];
	if (ev->breakglass &&
	    (rc = report_review(w, &d, review, sizeof(review))) != 0)
		return rc;
	if ((rc = report_add(&w->rep, &d)) != 0)
		return rc;
	return verbs_write(w->rep.sb);
}

struct args {
	const char *dir, *path;
	struct verbs_person person;
	enum report_format format;
};

/* The options into *f and *a; -1 to go on, or a sysexits code. */
static int
parse(int argc, char **argv, struct audit_filter *f, struct args *a)
{
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		if ((rc = verbs_person_opt("report", &a->person, c, optarg)) !=
		    -1) {
			if (rc != 0)
				return rc;
			continue;
		}
		switch (c) {
		case 'd':
			a->dir = optarg;
			break;
		case 'P':
			a->path = optarg;
			break;
		case 'f':
		case 'u':
			if ((rc = verbs_time("report", c, optarg,
			         c == 'f' ? &f->since_ms : &f->until_ms)) != 0)
				return rc;
			break;
		case 'j':
		case 'H':
			if (a->format != REPORT_TEXT)
				return cli_fail(EX_USAGE,
				    "audit report: give --json or --html, not "
				    "both");
			a->format = c == 'j' ? REPORT_JSON : REPORT_HTML;
			break;
		case 'h':
			fputs(report_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return verbs_unexpected("report", argv[optind]);
	if (a->dir == NULL)
		return verbs_missing("report", "--data DIR");
	if (a->person.s.n == 0)
		return verbs_missing("report",
		    "--subject NHS (or --name SURNAME,FORENAME --dob "
		    "YYYY-MM-DD, or --subject-ref HEX)");
	if ((rc = verbs_range("report", f->since_ms, f->until_ms)) != 0)
		return rc;
	rc = verbs_person_resolve("report", &a->person);
	return rc != 0 ? rc : -1;
}

/*
 * The heading, the warning a log without pepper ids needs, the rows: 0, a
 * sysexits code (positive) after saying why, or an ERROR_*.
 */
static int
report_body(struct walk *w, const struct args *a, const struct audit_filter *f)
{
	const char *ids[CLI_SUBJECTS_MAX];
	struct verbs_found fd;
	enum verbs_pepper state;
	char warn[1024];
	uint64_t size;
	int rc;

	for (size_t i = 0; i < a->person.s.n; i++)
		ids[i] = a->person.s.s[i].words;
	if ((rc = audit_size(w->r->a, w->r->txn, &size)) != 0)
		return rc;
	rc = verbs_person_find("report", w->r, f, &a->person, &fd, &state);
	if (rc == 0) {
		report_header(
		    &w->rep, ids, a->person.s.n, audit_origin(w->r->a), size);
		if (state == VERBS_PEPPER_NO_IDS) {
			verbs_pepper_warning(
			    a->person.pepper, warn, sizeof(warn));
			report_warning(&w->rep, warn);
			if (w->rep.json)
				fprintf(stderr, "audit report: warning: %s\n",
				    warn);
		}
		if ((rc = verbs_write(w->rep.sb)) == 0)
			rc = verbs_person_rows(w->r, &fd, report_row, w);
	}
	verbs_found_release(&fd);
	if (rc == 0) {
		report_footer(&w->rep);
		rc = verbs_write(w->rep.sb);
	}
	return rc;
}

int
audit_verb_report(int argc, char **argv)
{
	struct audit_filter f;
	struct reader r;
	struct strbuf sb = STRBUF_INIT;
	struct walk w = {&r, {0}};
	struct args a;
	struct policy *policy = NULL;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&a, 0, sizeof(a));
	if ((rc = parse(argc, argv, &f, &a)) != -1)
		return rc;
	f.type = EVENT_DECISION;
	if (a.path != NULL &&
	    (rc = policy_verbs_load("audit report", a.path, &policy)) != 0)
		return rc;
	if ((rc = verbs_open_log("report", a.dir, &r)) != 0) {
		policy_free(policy);
		return rc;
	}
	report_init(&w.rep, &sb, a.format, agency_name, policy);
	rc = report_body(&w, &a, &f);
	verbs_close_log(&r);
	strbuf_release(&sb);
	policy_free(policy);
	if (rc > 0)
		return rc; /* said */
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR; /* the stdout check says why */
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit report: %s: %s",
		    a.dir, error_strerror(rc));
	return EX_OK;
}
