/*
 * `concordat audit report`: the subject access report of one person, every
 * disclosure about them found in the log and written as audit/report.c
 * words it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/report.h"
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "policy/policy.h"
#include "policy/verbs/policy_verbs.h"

static const char report_help[] =
    "usage: concordat audit report --data DIR --subject NHS --pepper FILE\n"
    "           [--policy FILE] [--since T] [--until T] [--json]\n"
    "\n"
    "A subject access report: every disclosure of information about the\n"
    "person with this NHS number, in plain words: who received which\n"
    "information, from whom, when, why, under which legal basis, and\n"
    "whether an emergency (break-glass) was declared. --since and --until\n"
    "limit it to [since, until), as for query. --json prints one object\n"
    "per disclosure.\n"
    "\n"
    "--policy FILE  the agreement whose agency names (name:) the report\n"
    "               uses; an agency without one is called by its id\n"
    "               (\"the mental health trust\" for mental_health_trust)\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"subject", required_argument, NULL, 's'},
    {"pepper", required_argument, NULL, 'p'},
    {"policy", required_argument, NULL, 'P'},
    {"since", required_argument, NULL, 'f'},
    {"until", required_argument, NULL, 'u'},
    {"json", no_argument, NULL, 'j'},
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
	struct report_disclosure d = {seq, ev, col.state, col.at_ms};
	if ((rc = report_add(&w->rep, &d)) != 0)
		return rc;
	return verbs_write(w->rep.sb);
}

int
audit_verb_report(int argc, char **argv)
{
	struct audit_filter f;
	struct reader r;
	struct strbuf sb = STRBUF_INIT;
	struct walk w = {&r, {0}};
	const char *dir = NULL, *nhs = NULL, *pepper = NULL, *path = NULL;
	struct policy *policy = NULL;
	bool json = false;
	uint64_t size;
	int c, rc;

	memset(&f, 0, sizeof(f));
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			nhs = optarg;
			break;
		case 'p':
			pepper = optarg;
			break;
		case 'P':
			path = optarg;
			break;
		case 'f':
		case 'u':
			if ((rc = verbs_time("report", c, optarg,
			         c == 'f' ? &f.since_ms : &f.until_ms)) != 0)
				return rc;
			break;
		case 'j':
			json = true;
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
	if (dir == NULL)
		return verbs_missing("report", "--data DIR");
	if (nhs == NULL)
		return verbs_missing("report", "--subject NHS");
	if ((rc = verbs_range("report", f.since_ms, f.until_ms)) != 0)
		return rc;
	if ((rc = verbs_subject("report", nhs, pepper, f.subject_ref)) != 0)
		return rc;
	f.has_subject = true;
	f.type = EVENT_DECISION;
	if (path != NULL &&
	    (rc = policy_verbs_load("audit report", path, &policy)) != 0)
		return rc;
	if ((rc = verbs_open_log("report", dir, &r)) != 0) {
		policy_free(policy);
		return rc;
	}
	report_init(&w.rep, &sb, json, agency_name, policy);
	if ((rc = audit_size(r.a, r.txn, &size)) == 0) {
		report_header(&w.rep, nhs, audit_origin(r.a), size);
		if ((rc = verbs_write(&sb)) == 0)
			rc = audit_query(r.a, r.txn, &f, report_row, &w, NULL);
	}
	if (rc == 0) {
		report_footer(&w.rep);
		rc = verbs_write(&sb);
	}
	verbs_close_log(&r);
	strbuf_release(&sb);
	policy_free(policy);
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR; /* the stdout check says why */
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit report: %s: %s", dir,
		    error_strerror(rc));
	return EX_OK;
}
