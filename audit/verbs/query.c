/*
 * `concordat audit query`: the events that match every filter given, as a
 * table, one JSON object per line, CSV, or a page (query_html.c), from
 * one column table (common/table.h) over the audit row (proto/jsonval.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/query_html.h"
#include "audit/verbs/query_names.h"
#include "audit/verbs/subject.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/ident.h"
#include "common/urgency.h"
#include "common/table.h"
#include "proto/jsonval.h"

/*
 * The audit row's members in order; heads and widths for the table. A
 * negative width bounds the cell (common/table.h): a longer one is cut
 * with an ellipsis so that the columns line up; --json and --csv carry
 * every value whole.
 */
static const struct table_column columns[] = {
    {"seq", "SEQ", 7, NULL},
    {"time", "TIME", 24, NULL},
    {"type", "EVENT", -18, NULL},
    {"msg_id", "MSG_ID", 32, NULL},
    {"sender", "FROM", -19, NULL},
    {"recipient", "TO", -19, "recipients"},
    {"recipients", NULL, 0, NULL},
    {"purpose", "PURPOSE", -16, NULL},
    {"urgency", "URGENCY", 9, NULL},
    {"kind", NULL, 0, NULL},
    {"subject_ref", NULL, 0, NULL},
    {"breakglass", "BG", 3, NULL},
    {"disclosed", "DISCLOSED", -40, NULL},
    {"withheld", NULL, 0, NULL},
    {"rules", "RULES", -24, NULL},
    {"bases", NULL, 0, NULL},
    {"obligations", NULL, 0, NULL},
    {"policy_sha256", NULL, 0, NULL},
    {"emergency_reason", NULL, 0, NULL},
    {"emergency", "EMERGENCY", -20, NULL},
    {"reason", "REASON", -20, NULL},
    {"detail", NULL, 0, NULL},
    {"peer", NULL, 0, NULL},
    {"count", NULL, 0, NULL},
    {"agreement_id", NULL, 0, NULL},
    {"agreement_version", NULL, 0, NULL},
    {"signers", NULL, 0, NULL},
    {"key_before", NULL, 0, NULL},
    {"key_after", NULL, 0, NULL},
    {"note", "NOTE", -60, NULL},
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

static const char query_help[] =
    "usage: concordat audit query --data DIR [filters] [--json | --csv | "
    "--html]\n"
    "\n"
    "filters (all given must hold):\n"
    "  --subject NHS --pepper FILE  events about the person with this NHS\n"
    "                               number\n"
    "  --name SURNAME,FORENAME --dob YYYY-MM-DD --pepper FILE\n"
    "                               events about the person sent by name\n"
    "  --subject-ref HEX            events about this subject_ref\n"
    "                               (these three repeat and combine: the\n"
    "                               events about any of them, one person;\n"
    "                               a pepper no entry was made with is\n"
    "                               refused, exit 65)\n"
    "  --msg-id HEX                 events about one message\n"
    "  --agency A                   A sent, received or was a recipient\n"
    "  --purpose P                  the message's purpose\n"
    "  --rule R                     decisions made under rule R\n"
    "  --breakglass                 emergency (break-glass) disclosures only\n"
    "  --event TYPE                 accepted, rejected, decision, delivered,\n"
    "                               acknowledged, expired, policy_activated,\n"
    "                               broker_started, broker_stopped,\n"
    "                               connection_refused, keyring_changed,\n"
    "                               policy_refused, breakglass_reviewed\n"
    "  --since T, --until T         time_ms in [since, until): RFC 3339\n"
    "                               (2026-11-23T13:00:00Z) or a date\n"
    "                               (2026-11-23, midnight UTC)\n"
    "output: a table; --json one object per line; --csv with a header;\n"
    "--html a page: the table's columns, each row id=\"seq-N\", and every\n"
    "event of each message (id=\"msg-HEX\").\n"
    "The table cuts a long cell with an ellipsis so that the columns line\n"
    "up (--json, --csv and --html hold every value whole); NOTE says what\n"
    "the other columns do not (a policy event's agreement and version, a\n"
    "rejection's why). An --agency, --purpose or --rule that neither the\n"
    "log nor an agreement it archived knows exits 66, naming the closest\n"
    "known name.\n"
    "\n"
    "--breakglass --unreviewed [--older-than D]: the review queue, the\n"
    "break-glass decisions no guardian has reviewed (see --unreviewed\n"
    "--help).\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"subject", required_argument, NULL, 's'},
    {"name", required_argument, NULL, 'N'},
    {"dob", required_argument, NULL, 'B'},
    {"pepper", required_argument, NULL, 'p'},
    {"subject-ref", required_argument, NULL, 'S'},
    {"msg-id", required_argument, NULL, 'm'},
    {"agency", required_argument, NULL, 'a'},
    {"purpose", required_argument, NULL, 'P'},
    {"rule", required_argument, NULL, 'r'},
    {"breakglass", no_argument, NULL, 'b'},
    {"event", required_argument, NULL, 'e'},
    {"since", required_argument, NULL, 'f'},
    {"until", required_argument, NULL, 'u'},
    {"json", no_argument, NULL, 'j'},
    {"csv", no_argument, NULL, 'c'},
    {"html", no_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct args {
	const char *dir, *msgid;
	struct verbs_person person; /* --subject, --name, --subject-ref */
	enum table_format format;
};

/* The table being printed; for a page, the events by message too. */
struct query_out {
	struct table t;
	struct query_html h;
};

/*
 * The members the row adds for people to the audit row: the emergency
 * reason in words (the code is emergency_reason) and the note
 * (audit_event_note: a policy event's agreement and version, a
 * rejection's why).
 */
static int
people_cells(json_t *row, const struct event *ev)
{
	struct strbuf note = STRBUF_INIT;
	int rc;

	json_object_set_new(row, "emergency",
	    json_string(ev->emergency_reason
	            ? emergency_reason_words(ev->emergency_reason)
	            : ""));
	audit_event_note(&note, ev);
	if ((rc = strbuf_error(&note)) == 0)
		rc = json_object_set_new(
		         row, "note", json_string(strbuf_str(&note))) == 0
		    ? ERROR_OK
		    : ERROR_NOMEM;
	strbuf_release(&note);
	return rc;
}

/* One row per event, written as it is found. */
static int
query_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct query_out *o = arg;
	struct strbuf sb = STRBUF_INIT;
	json_t *row = jsonval_event(seq, ev);
	int rc;

	if (row == NULL)
		return ERROR_NOMEM;
	if ((rc = people_cells(row, ev)) != 0) {
		json_decref(row);
		return rc;
	}
	rc = table_row(&o->t, &sb, row);
	if (rc == 0 && o->t.format == TABLE_HTML)
		rc = query_html_row(&o->h, row);
	json_decref(row);
	if (rc != 0) {
		strbuf_release(&sb);
		return rc;
	}
	return verbs_write(&sb);
}

/* An --event that names no type: the closest one, or the list. */
static int
unknown_event(const char *arg)
{
	const char *near = query_names_event(arg);

	if (near != NULL)
		return cli_fail(EX_USAGE,
		    "audit query: unknown event type '%s': did you mean "
		    "'%s'?",
		    arg, near);
	return cli_fail(
	    EX_USAGE, "audit query: unknown event type '%s' (see --help)", arg);
}

/* The options into *f and *a; -1 to go on, or a sysexits code. */
static int
parse(int argc, char **argv, struct audit_filter *f, struct args *a)
{
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		if ((rc = verbs_person_opt("query", &a->person, c, optarg)) !=
		    -1) {
			if (rc != 0)
				return rc;
			continue;
		}
		switch (c) {
		case 'd':
			a->dir = optarg;
			break;
		case 'm':
			a->msgid = optarg;
			break;
		case 'a':
			if (!ident_agency_valid(optarg))
				return cli_fail(EX_USAGE,
				    "audit query: invalid agency id '%s'",
				    optarg);
			f->agency = optarg;
			break;
		case 'P':
			if (!ident_name_valid(optarg))
				return cli_fail(EX_USAGE,
				    "audit query: invalid purpose '%s'",
				    optarg);
			f->purpose = optarg;
			break;
		case 'r':
			if (!ident_name_valid(optarg))
				return cli_fail(EX_USAGE,
				    "audit query: invalid rule id '%s'",
				    optarg);
			f->rule = optarg;
			break;
		case 'b':
			f->breakglass = true;
			break;
		case 'e':
			if ((f->type = event_type_parse(optarg)) == 0)
				return unknown_event(optarg);
			break;
		case 'f':
		case 'u':
			if ((rc = verbs_time("query", c, optarg,
			         c == 'f' ? &f->since_ms : &f->until_ms)) != 0)
				return rc;
			break;
		case 'j':
			a->format = TABLE_JSON;
			break;
		case 'c':
			a->format = TABLE_CSV;
			break;
		case 'H':
			a->format = TABLE_HTML;
			break;
		case 'h':
			fputs(query_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return verbs_unexpected("query", argv[optind]);
	return -1;
}

/* The subject and message filters, checked; a sysexits code. */
static int
check(struct audit_filter *f, struct args *a)
{
	int rc;

	if (a->dir == NULL)
		return verbs_missing("query", "--data DIR");
	if (a->person.pepper != NULL && a->person.s.n == 0)
		return cli_fail(EX_USAGE,
		    "audit query: --pepper is only used with --subject or "
		    "--name");
	if (a->person.s.n > 0 &&
	    (rc = verbs_person_resolve("query", &a->person)) != 0)
		return rc;
	if (a->msgid != NULL) {
		if (cli_parse_hex(a->msgid, f->msg_id, WIRE_MSG_ID_LEN) != 0)
			return cli_fail(EX_USAGE,
			    "audit query: --msg-id '%s': want 32 hex digits",
			    a->msgid);
		f->has_msg_id = true;
	}
	return verbs_range("query", f->since_ms, f->until_ms);
}

/*
 * The events about the person, any of their identifiers, after the pepper
 * is checked; a log older than pepper ids is said on standard error.
 */
static int
query_person(struct reader *r, const struct audit_filter *f,
    const struct verbs_person *p, struct query_out *o, struct strbuf *sb)
{
	struct verbs_found fd;
	enum verbs_pepper state;
	char warn[1024];
	int rc;

	rc = verbs_person_find("query", r, f, p, &fd, &state);
	if (rc == 0 && state == VERBS_PEPPER_NO_IDS) {
		verbs_pepper_warning(p->pepper, warn, sizeof(warn));
		fprintf(stderr, "audit query: warning: %s\n", warn);
	}
	if (rc == 0 && (rc = verbs_write(sb)) == 0)
		rc = verbs_person_rows(r, &fd, query_row, o);
	verbs_found_release(&fd);
	return rc;
}

int
audit_verb_query(int argc, char **argv)
{
	struct audit_filter f;
	struct args a;
	struct strbuf sb = STRBUF_INIT;
	struct query_out o;
	struct reader r;
	int rc;

	/* The review queue is a view of its own (review_queue.c). */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--unreviewed") == 0)
			return audit_verb_review_queue(argc, argv);
	memset(&f, 0, sizeof(f));
	memset(&a, 0, sizeof(a));
	a.format = TABLE_TEXT;
	if ((rc = parse(argc, argv, &f, &a)) != -1)
		return rc;
	if ((rc = check(&f, &a)) != 0)
		return rc;
	if ((rc = verbs_open_log("query", a.dir, &r)) != 0)
		return rc;
	if ((rc = query_names_check(a.dir, &r, &f)) != 0) {
		verbs_close_log(&r);
		return rc;
	}
	memset(&o, 0, sizeof(o));
	if (a.format == TABLE_HTML)
		query_html_begin(
		    &o.h, &sb, &o.t, columns, N_COLUMNS, argc, argv);
	else
		table_begin(&o.t, &sb, a.format, columns, N_COLUMNS);
	if (a.person.s.n > 0)
		rc = query_person(&r, &f, &a.person, &o, &sb);
	else if ((rc = verbs_write(&sb)) == 0)
		rc = audit_query(r.a, r.txn, &f, query_row, &o, NULL);
	if (rc == 0 && a.format == TABLE_HTML) {
		query_html_end(&o.h, &sb, &o.t);
		rc = verbs_write(&sb);
	}
	query_html_release(&o.h);
	verbs_close_log(&r);
	if (rc > 0)
		return rc; /* said */
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR; /* the stdout check says why */
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit query: %s: %s", a.dir,
		    error_strerror(rc));
	return EX_OK;
}
