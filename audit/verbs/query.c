/*
 * `concordat audit query`: the events that match every filter given, as a
 * table, one JSON object per line, or CSV, from one column table
 * (common/table.h) over the audit row (proto/jsonval.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/ident.h"
#include "common/urgency.h"
#include "common/table.h"
#include "proto/jsonval.h"

/* The audit row's members in order; heads and widths for the table. */
static const struct table_column columns[] = {
    {"seq", "SEQ", 7, NULL},
    {"time", "TIME", 24, NULL},
    {"type", "EVENT", 18, NULL},
    {"msg_id", NULL, 0, NULL},
    {"sender", "FROM", 19, NULL},
    {"recipient", "TO", 19, "recipients"},
    {"recipients", NULL, 0, NULL},
    {"purpose", "PURPOSE", 16, NULL},
    {"urgency", NULL, 0, NULL},
    {"kind", NULL, 0, NULL},
    {"subject_ref", NULL, 0, NULL},
    {"breakglass", "BG", 3, NULL},
    {"disclosed", "DISCLOSED", 0, NULL},
    {"withheld", NULL, 0, NULL},
    {"rules", "RULES", 0, NULL},
    {"bases", NULL, 0, NULL},
    {"obligations", NULL, 0, NULL},
    {"policy_sha256", NULL, 0, NULL},
    {"emergency_reason", NULL, 0, NULL},
    {"emergency", "EMERGENCY", 0, NULL},
    {"reason", "REASON", 0, NULL},
    {"detail", NULL, 0, NULL},
    {"peer", NULL, 0, NULL},
    {"count", NULL, 0, NULL},
    {"agreement_id", NULL, 0, NULL},
    {"agreement_version", NULL, 0, NULL},
    {"signers", NULL, 0, NULL},
    {"key_before", NULL, 0, NULL},
    {"key_after", NULL, 0, NULL},
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

static const char query_help[] =
    "usage: concordat audit query --data DIR [filters] [--json | --csv]\n"
    "\n"
    "filters (all given must hold):\n"
    "  --subject NHS --pepper FILE  events about the person with this NHS\n"
    "                               number\n"
    "  --subject-ref HEX            events about this subject_ref\n"
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
    "output: a table; --json one object per line; --csv with a header.\n"
    "\n"
    "--breakglass --unreviewed [--older-than D]: the review queue, the\n"
    "break-glass decisions no guardian has reviewed (see --unreviewed\n"
    "--help).\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"subject", required_argument, NULL, 's'},
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
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct args {
	const char *dir, *nhs, *pepper, *ref, *msgid;
	enum table_format format;
};

/* One row per event, written as it is found. */
static int
query_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *row = jsonval_event(seq, ev);
	int rc;

	if (row == NULL)
		return ERROR_NOMEM;
	/* The reason in words, for people; the code is emergency_reason. */
	json_object_set_new(row, "emergency",
	    json_string(ev->emergency_reason
	            ? emergency_reason_words(ev->emergency_reason)
	            : ""));
	rc = table_row(arg, &sb, row);
	json_decref(row);
	if (rc != 0) {
		strbuf_release(&sb);
		return rc;
	}
	return verbs_write(&sb);
}

/* The options into *f and *a; -1 to go on, or a sysexits code. */
static int
parse(int argc, char **argv, struct audit_filter *f, struct args *a)
{
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			a->dir = optarg;
			break;
		case 's':
			a->nhs = optarg;
			break;
		case 'p':
			a->pepper = optarg;
			break;
		case 'S':
			a->ref = optarg;
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
				return cli_fail(EX_USAGE,
				    "audit query: unknown event type '%s' (see "
				    "--help)",
				    optarg);
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
check(struct audit_filter *f, const struct args *a)
{
	int rc;

	if (a->dir == NULL)
		return verbs_missing("query", "--data DIR");
	if (a->nhs != NULL && a->ref != NULL)
		return cli_fail(EX_USAGE,
		    "audit query: give --subject or --subject-ref, not both");
	if (a->pepper != NULL && a->nhs == NULL)
		return cli_fail(EX_USAGE,
		    "audit query: --pepper is only used with --subject");
	if (a->nhs != NULL) {
		if ((rc = verbs_subject(
		         "query", a->nhs, a->pepper, f->subject_ref)) != 0)
			return rc;
		f->has_subject = true;
	}
	if (a->ref != NULL) {
		if (cli_parse_hex(a->ref, f->subject_ref, WIRE_REF_LEN) != 0)
			return cli_fail(EX_USAGE,
			    "audit query: --subject-ref '%s': want 64 hex "
			    "digits",
			    a->ref);
		f->has_subject = true;
	}
	if (a->msgid != NULL) {
		if (cli_parse_hex(a->msgid, f->msg_id, WIRE_MSG_ID_LEN) != 0)
			return cli_fail(EX_USAGE,
			    "audit query: --msg-id '%s': want 32 hex digits",
			    a->msgid);
		f->has_msg_id = true;
	}
	return verbs_range("query", f->since_ms, f->until_ms);
}

int
audit_verb_query(int argc, char **argv)
{
	struct audit_filter f;
	struct args a = {NULL, NULL, NULL, NULL, NULL, TABLE_TEXT};
	struct strbuf sb = STRBUF_INIT;
	struct table t;
	struct reader r;
	int rc;

	/* The review queue is a view of its own (review_queue.c). */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--unreviewed") == 0)
			return audit_verb_review_queue(argc, argv);
	memset(&f, 0, sizeof(f));
	if ((rc = parse(argc, argv, &f, &a)) != -1)
		return rc;
	if ((rc = check(&f, &a)) != 0)
		return rc;
	if ((rc = verbs_open_log("query", a.dir, &r)) != 0)
		return rc;
	table_begin(&t, &sb, a.format, columns, N_COLUMNS);
	if ((rc = verbs_write(&sb)) == 0)
		rc = audit_query(r.a, r.txn, &f, query_row, &t, NULL);
	verbs_close_log(&r);
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR; /* the stdout check says why */
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit query: %s: %s", a.dir,
		    error_strerror(rc));
	return EX_OK;
}
