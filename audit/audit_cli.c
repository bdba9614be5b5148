/*
 * `concordat audit`: query, report, verify, prove, stats and check-proof,
 * for auditors and the people the log is about. Every verb reads the log in
 * one read-only transaction, so it never blocks a running broker.
 * Dispatched from cli/main.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/audit_int.h" /* AUDIT_VERSION */
#include "common/cliutil.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/isolate.h"
#include "common/urgency.h"
#include "keys/keys.h"

#define EX_INVALID 1 /* check-proof: the proof does not hold */
#define PROOF_FILE_MAX                                                         \
	(1 << 20) /* a proof file larger than this is refused                  \
	           */

static const char usage_text[] =
    "usage: concordat audit query --data DIR [--subject NHS --pepper FILE |\n"
    "           --subject-ref HEX] [--msg-id HEX] [--agency A] [--purpose P]\n"
    "           [--rule R] [--breakglass] [--event TYPE] [--since T]\n"
    "           [--until T] [--json | --csv]\n"
    "       concordat audit report --data DIR --subject NHS --pepper FILE\n"
    "           [--since T] [--until T] [--json]\n"
    "       concordat audit verify --data DIR --broker-key FILE [--indexes]\n"
    "       concordat audit reindex --data DIR\n"
    "       concordat audit prove --data DIR --seq N | --from SIZE [--json]\n"
    "       concordat audit stats --data DIR [--json]\n"
    "       concordat audit check-proof [--broker-key FILE] FILE.json\n"
    "\n"
    "query        list events; filters combine (all must hold)\n"
    "report       a subject access report: every disclosure about a person\n"
    "verify       recompute the log's Merkle tree and check every signed\n"
    "             checkpoint (and, with --indexes, the indexes)\n"
    "reindex      rebuild the indexes from the log's entries\n"
    "prove        the inclusion proof of one entry, or the consistency proof\n"
    "             from an older tree size, to the latest checkpoint\n"
    "stats        counts by event type, agency, purpose and rule\n"
    "check-proof  verify an inclusion or consistency proof file (RFC 6962)\n"
    "\n"
    "Run 'concordat audit VERB --help' for a verb's options.\n";

static int
usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

/* ------------------------------------------------------------ helpers */

/*
 * getopt_long with the house error format. Each verb sets optind = 0 first
 * (glibc then starts afresh), as audit_cli may run many times in a process.
 */
static int
next_opt(const char *verb, int argc, char **argv, const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, ":", longopts, NULL);
	if (c == '?' || c == ':')
		cliutil_fail(EX_USAGE, "audit %s: %s '%s' (see --help)", verb,
		    c == ':' ? "missing value for" : "unknown option",
		    argv[optind - 1]);
	return c;
}

/* A required option or operand is missing. */
static int
missing(const char *verb, const char *what)
{
	return cliutil_fail(
	    EX_USAGE, "audit %s: missing %s (see --help)", verb, what);
}

/* The log a verb reads, in one read-only transaction. */
struct reader {
	MDB_env *env;
	MDB_txn *txn;
	struct audit *a;
};

static void
close_log(struct reader *r)
{
	if (r->txn != NULL)
		mdb_txn_abort(r->txn);
	audit_free(r->a);
	audit_env_close(r->env);
	memset(r, 0, sizeof(*r));
}

/* A damaged log: what is wrong, and the remedy; returns EX_DATAERR. */
static int
damaged(const char *verb, const char *dir, const char *why)
{
	return cliutil_fail(EX_DATAERR,
	    "audit %s: %s: the log is damaged: %s; restore the data folder "
	    "from a backup",
	    verb, dir, why);
}

/* Opens dir read-only; returns 0 or a sysexits code after saying why. */
static int
open_log(const char *verb, const char *dir, struct reader *r)
{
	enum audit_file_state state;
	char why[256];
	int rc;

	memset(r, 0, sizeof(*r));
	rc = audit_env_open(dir, 0, AUDIT_RDONLY, &r->env);
	if (rc == ERROR_TAMPERED) {
		if (audit_env_check(dir, &state, why, sizeof(why)) != 0 ||
		    state == AUDIT_FILE_OK || state == AUDIT_FILE_NONE)
			snprintf(why, sizeof(why),
			    "LMDB refuses data.mdb's meta pages");
		return damaged(verb, dir, why);
	}
	if (rc == ERROR_NOENT)
		return cliutil_fail(EX_NOINPUT,
		    "audit %s: %s: no audit log there (no such folder or "
		    "data.mdb)",
		    verb, dir);
	if (rc == ERROR_PERM)
		return cliutil_fail(EX_NOPERM,
		    "audit %s: %s: permission denied (readers need read "
		    "access to data.mdb and write access to lock.mdb)",
		    verb, dir);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit %s: %s: cannot open: %s", verb, dir,
		    error_strerror(rc));
	if ((rc = audit_txn_begin(r->env, MDB_RDONLY, &r->txn)) == 0)
		rc = audit_open(r->env, r->txn, NULL, AUDIT_RDONLY, &r->a);
	if (rc == ERROR_NOTFOUND) {
		close_log(r);
		return cliutil_fail(EX_NOINPUT,
		    "audit %s: %s: not an audit log (no audit databases)", verb,
		    dir);
	}
	if (rc == ERROR_TAMPERED) {
		close_log(r);
		return damaged(verb, dir,
		    "LMDB finds a page of data.mdb corrupt or missing");
	}
	if (rc != 0) {
		close_log(r);
		return cliutil_fail(
		    rc == ERROR_CONFIG ? EX_DATAERR : cliutil_exit_code(rc),
		    "audit %s: %s: %s", verb, dir,
		    rc == ERROR_CONFIG ? "unsupported audit log version (this "
		                         "program reads version " AUDIT_VERSION
		                         ")"
		                       : error_strerror(rc));
	}
	return EX_OK;
}

/* Reads a 32-byte reference or 16-byte id given in hex. */
static int
parse_hex(const char *s, uint8_t *out, size_t len)
{
	size_t got;
	const char *end;

	if (strlen(s) != len * 2 ||
	    sodium_hex2bin(out, len, s, len * 2, NULL, &got, &end) != 0 ||
	    got != len || *end != '\0')
		return ERROR_INVAL;
	return ERROR_OK;
}

/* subject_ref from an NHS number and the pepper file; a sysexits code. */
static int
subject_ref(const char *verb, const char *nhs, const char *pepper_path,
    uint8_t ref[WIRE_REF_LEN])
{
	uint8_t *pepper = NULL;
	int rc;

	if (!keys_nhs_valid(nhs))
		return cliutil_fail(EX_USAGE,
		    "audit %s: '%s' is not a valid NHS number (ten digits "
		    "with a correct check digit)",
		    verb, nhs);
	if (pepper_path == NULL)
		return cliutil_fail(EX_USAGE,
		    "audit %s: --subject needs --pepper FILE (the subject "
		    "pepper the agencies share)",
		    verb);
	rc = keys_pepper_load(pepper_path, &pepper);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit %s: pepper %s: %s", verb, pepper_path,
		    rc == ERROR_PERM ? "refused: a symlink, or readable by "
		                       "group or others (chmod 600)"
		                     : error_strerror(rc));
	rc = keys_subject_ref_nhs(pepper, nhs, ref);
	keys_pepper_free(pepper);
	if (rc != 0)
		return cliutil_fail(EX_SOFTWARE, "audit %s: subject_ref: %s",
		    verb, error_strerror(rc));
	return EX_OK;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return ERROR_INVAL;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return ERROR_INVAL;
	*v = n;
	return ERROR_OK;
}

/* --since or --until (c 'f' or 'u') into *ms; a sysexits code. */
static int
parse_time(const char *verb, int c, const char *arg, uint64_t *ms)
{
	if (clock_parse(arg, ms) != 0)
		return cliutil_fail(EX_USAGE,
		    "audit %s: --%s '%s': not an RFC 3339 time or a date", verb,
		    c == 'f' ? "since" : "until", arg);
	return EX_OK;
}

/* The time range of f, checked; a sysexits code. */
static int
check_range(const char *verb, const struct audit_filter *f)
{
	if (f->until_ms != 0 && f->until_ms <= f->since_ms)
		return cliutil_fail(EX_USAGE,
		    "audit %s: --until must be later than --since", verb);
	return EX_OK;
}

/* "mental_health_trust" -> "mental health trust", in place in buf. */
static const char *
plain(const char *id, char *buf, size_t n)
{
	snprintf(buf, n, "%s", id);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '_')
			*p = ' ';
	return buf;
}

/*
 * An agency as a sentence names it: "the police", "the ambulance service",
 * "social care"; any other id as "the" and its plain words.
 */
static const char *
agency_words(const char *id, char *buf, size_t n)
{
	static const struct {
		const char *id, *words;
	} known[] = {
	    {"police", "the police"},
	    {"ambulance", "the ambulance service"},
	    {"mental_health_trust", "the mental health trust"},
	    {"social_care", "social care"},
	};
	char p[IDENT_AGENCY_MAX + 1];

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(id, known[i].id) == 0)
			return known[i].words;
	snprintf(buf, n, "the %s", plain(id, p, sizeof(p)));
	return buf;
}

/* ----------------------------------------------------------------- rows */

/*
 * The columns of a query row, in order: every format prints these from the
 * one json object event_row builds. width is the table column (0: not in
 * the table).
 */
static const struct column {
	const char *key;
	const char *head;
	int width;
} columns[] = {
    {"seq", "SEQ", 7},
    {"time", "TIME", 24},
    {"type", "EVENT", 18},
    {"msg_id", NULL, 0},
    {"sender", "FROM", 19},
    {"recipient", "TO", 19},
    {"recipients", NULL, 0},
    {"purpose", "PURPOSE", 16},
    {"urgency", NULL, 0},
    {"kind", NULL, 0},
    {"subject_ref", NULL, 0},
    {"breakglass", "BG", 3},
    {"disclosed", "DISCLOSED", 0},
    {"withheld", NULL, 0},
    {"rules", "RULES", 0},
    {"bases", NULL, 0},
    {"obligations", NULL, 0},
    {"policy_sha256", NULL, 0},
    {"justification", NULL, 0},
    {"reason", "REASON", 0},
    {"detail", NULL, 0},
    {"peer", NULL, 0},
    {"count", NULL, 0},
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

static json_t *
hex_string(const uint8_t *b, size_t n, bool has)
{
	char hex[2 * 64 + 1];

	if (!has)
		return json_string("");
	sodium_bin2hex(hex, sizeof(hex), b, n);
	return json_string(hex);
}

static json_t *
string_list(const char *base, size_t stride, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(base + i * stride)) !=
		    0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
field_list(fieldset set)
{
	json_t *a = json_array();

	for (int f = 1; a != NULL && f <= FIELDS_COUNT; f++)
		if (fields_has(set, f) &&
		    json_array_append_new(a, json_string(fields_name(f))) !=
		        0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* One query row: every column, in column order; NULL when out of memory. */
static json_t *
event_row(uint64_t seq, const struct event *ev)
{
	char when[40];
	json_t *o = json_object(), *v[N_COLUMNS];
	size_t i = 0;
	bool ok = o != NULL;

	clock_format(ev->time_ms, when, sizeof(when));
	v[i++] = json_integer((json_int_t)seq);
	v[i++] = json_string(when);
	v[i++] = json_string(event_type_name(ev->type));
	v[i++] = hex_string(ev->msg_id, sizeof(ev->msg_id), ev->has_msg_id);
	v[i++] = json_string(ev->sender);
	v[i++] = json_string(ev->recipient);
	v[i++] = string_list(
	    ev->recipients[0], sizeof(ev->recipients[0]), ev->n_recipients);
	v[i++] = json_string(ev->purpose);
	v[i++] = json_string(ev->urgency ? urgency_name(ev->urgency) : "");
	v[i++] = json_string(ev->kind ? urgency_kind_name(ev->kind) : "");
	v[i++] = hex_string(
	    ev->subject_ref, sizeof(ev->subject_ref), ev->has_subject_ref);
	v[i++] = json_boolean(ev->breakglass);
	v[i++] = field_list(ev->disclosed);
	v[i++] = field_list(ev->withheld);
	v[i++] = string_list(ev->rules[0], sizeof(ev->rules[0]), ev->n_rules);
	v[i++] = string_list(ev->bases[0], sizeof(ev->bases[0]), ev->n_bases);
	v[i++] = string_list(
	    ev->obligations[0], sizeof(ev->obligations[0]), ev->n_obligations);
	v[i++] = hex_string(ev->policy_sha256, sizeof(ev->policy_sha256),
	    ev->has_policy_sha256);
	v[i++] = json_string(ev->justification);
	v[i++] = json_string(ev->reason ? wire_reason_name(ev->reason) : "");
	v[i++] = json_string(ev->detail);
	v[i++] = json_string(ev->peer);
	v[i++] = json_integer((json_int_t)ev->count);
	for (i = 0; i < N_COLUMNS; i++)
		if (v[i] == NULL || !ok ||
		    json_object_set_new(o, columns[i].key, v[i]) != 0) {
			ok = false;
			json_decref(v[i]);
		}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

enum format { FORMAT_TABLE, FORMAT_JSON, FORMAT_CSV };

/* A cell as text: lists joined by sep, booleans "yes"/"" or true/false. */
static void
cell_text(const json_t *v, const char *sep, bool table, char *buf, size_t n)
{
	size_t i, at = 0;
	json_t *e;

	buf[0] = '\0';
	if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(
		    buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, n, "%s",
		    table ? (json_is_true(v) ? "yes" : "")
		          : (json_is_true(v) ? "true" : "false"));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
		{
			int w = snprintf(buf + at, n - at, "%s%s",
			    i > 0 ? sep : "", json_string_value(e));
			if (w < 0 || (size_t)w >= n - at)
				break;
			at += (size_t)w;
		}
	}
}

/*
 * CSV field (RFC 4180): always quoted, quotes doubled. A text that a
 * spreadsheet would run as a formula (= + - @ first) gets a leading
 * apostrophe: the log's free text comes from agencies.
 */
static void
csv_field(FILE *out, const char *s, bool text)
{
	fputc('"', out);
	if (text && strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0')
		fputc('\'', out);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

struct printer {
	enum format format;
	FILE *out;
	uint64_t rows;
};

/* Ends a table line: no trailing blanks. */
static void
table_end(FILE *out, char *line, size_t len)
{
	while (len > 0 && line[len - 1] == ' ')
		len--;
	fwrite(line, 1, len, out);
	fputc('\n', out);
}

static void
print_header(struct printer *p)
{
	char line[512];
	size_t at = 0;

	if (p->format == FORMAT_CSV) {
		for (size_t i = 0; i < N_COLUMNS; i++) {
			fputs(i > 0 ? "," : "", p->out);
			fputs(columns[i].key, p->out);
		}
		fputs("\r\n", p->out);
	} else if (p->format == FORMAT_TABLE) {
		for (size_t i = 0; i < N_COLUMNS; i++)
			if (columns[i].head != NULL)
				at += (size_t)snprintf(line + at,
				    sizeof(line) - at, "%-*s ",
				    columns[i].width, columns[i].head);
		table_end(p->out, line, at);
	}
}

static int
print_row(struct printer *p, const json_t *row)
{
	char text[8192], line[16384];
	size_t at = 0;

	p->rows++;
	if (p->format == FORMAT_JSON) {
		if (json_dumpf(row, p->out, JSON_COMPACT) != 0)
			return ERROR_IO;
		fputc('\n', p->out);
		return ferror(p->out) ? ERROR_IO : ERROR_OK;
	}
	for (size_t i = 0; i < N_COLUMNS; i++) {
		const json_t *v = json_object_get(row, columns[i].key);
		if (p->format == FORMAT_CSV) {
			cell_text(v, ";", false, text, sizeof(text));
			fputs(i > 0 ? "," : "", p->out);
			csv_field(p->out, text, json_is_string(v));
			continue;
		}
		if (columns[i].head == NULL)
			continue;
		cell_text(v, ",", true, text, sizeof(text));
		/* TO: the recipient, or the listed recipients. */
		if (strcmp(columns[i].key, "recipient") == 0 && text[0] == '\0')
			cell_text(json_object_get(row, "recipients"), ",", true,
			    text, sizeof(text));
		if (text[0] == '\0')
			snprintf(text, sizeof(text), "-");
		if (at < sizeof(line))
			at += (size_t)snprintf(line + at, sizeof(line) - at,
			    "%-*s ", columns[i].width, text);
	}
	if (p->format == FORMAT_CSV)
		fputs("\r\n", p->out);
	else
		table_end(
		    p->out, line, at < sizeof(line) ? at : sizeof(line) - 1);
	return ferror(p->out) ? ERROR_IO : ERROR_OK;
}

static int
query_row(void *arg, uint64_t seq, const struct event *ev)
{
	json_t *row = event_row(seq, ev);
	int rc;

	if (row == NULL)
		return ERROR_NOMEM;
	rc = print_row(arg, row);
	json_decref(row);
	return rc;
}

/* ---------------------------------------------------------------- query */

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
    "                               connection_refused, keyring_changed\n"
    "  --since T, --until T         time_ms in [since, until): RFC 3339\n"
    "                               (2026-11-23T13:00:00Z) or a date\n"
    "                               (2026-11-23, midnight UTC)\n"
    "output: a table; --json one object per line; --csv with a header.\n";

static int
cmd_query(int argc, char **argv)
{
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
	struct audit_filter f;
	struct printer p = {FORMAT_TABLE, stdout, 0};
	struct reader r;
	const char *dir = NULL, *nhs = NULL, *pepper = NULL, *ref = NULL;
	const char *msgid = NULL;
	int c, rc;

	memset(&f, 0, sizeof(f));
	optind = 0;
	while ((c = next_opt("query", argc, argv, opts)) != -1) {
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
		case 'S':
			ref = optarg;
			break;
		case 'm':
			msgid = optarg;
			break;
		case 'a':
			if (!ident_agency_valid(optarg))
				return cliutil_fail(EX_USAGE,
				    "audit query: invalid agency id '%s'",
				    optarg);
			f.agency = optarg;
			break;
		case 'P':
			if (!ident_name_valid(optarg))
				return cliutil_fail(EX_USAGE,
				    "audit query: invalid purpose '%s'",
				    optarg);
			f.purpose = optarg;
			break;
		case 'r':
			if (!ident_name_valid(optarg))
				return cliutil_fail(EX_USAGE,
				    "audit query: invalid rule id '%s'",
				    optarg);
			f.rule = optarg;
			break;
		case 'b':
			f.breakglass = true;
			break;
		case 'e':
			if ((f.type = event_type_parse(optarg)) == 0)
				return cliutil_fail(EX_USAGE,
				    "audit query: unknown event type '%s' (see "
				    "--help)",
				    optarg);
			break;
		case 'f':
		case 'u':
			if ((rc = parse_time("query", c, optarg,
			         c == 'f' ? &f.since_ms : &f.until_ms)) != 0)
				return rc;
			break;
		case 'j':
			p.format = FORMAT_JSON;
			break;
		case 'c':
			p.format = FORMAT_CSV;
			break;
		case 'h':
			fputs(query_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return cliutil_fail(EX_USAGE,
		    "audit query: unexpected argument '%s'", argv[optind]);
	if (dir == NULL)
		return missing("query", "--data DIR");
	if (nhs != NULL && ref != NULL)
		return cliutil_fail(EX_USAGE,
		    "audit query: give --subject or --subject-ref, not both");
	if (pepper != NULL && nhs == NULL)
		return cliutil_fail(EX_USAGE,
		    "audit query: --pepper is only used with --subject");
	if (nhs != NULL) {
		if ((rc = subject_ref("query", nhs, pepper, f.subject_ref)) !=
		    0)
			return rc;
		f.has_subject = true;
	}
	if (ref != NULL) {
		if (parse_hex(ref, f.subject_ref, WIRE_REF_LEN) != 0)
			return cliutil_fail(EX_USAGE,
			    "audit query: --subject-ref '%s': want 64 hex "
			    "digits",
			    ref);
		f.has_subject = true;
	}
	if (msgid != NULL) {
		if (parse_hex(msgid, f.msg_id, WIRE_MSG_ID_LEN) != 0)
			return cliutil_fail(EX_USAGE,
			    "audit query: --msg-id '%s': want 32 hex digits",
			    msgid);
		f.has_msg_id = true;
	}
	if ((rc = check_range("query", &f)) != 0)
		return rc;
	if ((rc = open_log("query", dir, &r)) != 0)
		return rc;
	print_header(&p);
	rc = audit_query(r.a, r.txn, &f, query_row, &p, NULL);
	close_log(&r);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit query: %s: %s", dir, error_strerror(rc));
	if (fflush(stdout) != 0)
		return cliutil_fail(EX_IOERR, "audit query: writing: failed");
	return EX_OK;
}

/* --------------------------------------------------------------- report */

/* The B8 fields in the plain words of a subject access report. */
static const char *const field_words[FIELDS_COUNT + 1] = {
    [FIELD_IDENTITY] = "your name, address and contact details (or a "
                       "description of you)",
    [FIELD_RELATIVES] = "relatives, friends or carers to contact (for "
                        "a child: family and school)",
    [FIELD_DEMOGRAPHICS] = "your gender and age",
    [FIELD_COMMUNICATION] = "your language and communication needs (for "
                            "example an interpreter or sign language)",
    [FIELD_PRESENTATION] = "a description of how you were behaving and "
                           "presenting",
    [FIELD_SUBSTANCES] = "whether you were likely to be affected by drink "
                         "or drugs",
    [FIELD_PHYSICAL_NEEDS] = "physical impairments, prescribed medicines "
                             "and dietary needs",
    [FIELD_SERVICES] = "your contact with your GP and mental health "
                       "services (team and professional)",
    [FIELD_CRISIS_PLAN] = "your crisis plan or other advance statements",
    [FIELD_CLINICAL] = "clinical information (for example medication or "
                       "psychological therapy)",
    [FIELD_RISKS] = "risks (self-harm, suicide, aggression, confusion, "
                    "impaired judgement, self-neglect, going missing)",
    [FIELD_HEALTH] = "relevant health information (for example "
                     "diabetes)",
    [FIELD_DEPENDENTS] = "children, dependents or pets, and other things "
                         "to plan the response around",
};

static const char report_help[] =
    "usage: concordat audit report --data DIR --subject NHS --pepper FILE\n"
    "           [--since T] [--until T] [--json]\n"
    "\n"
    "A subject access report: every disclosure of information about the\n"
    "person with this NHS number, in plain words: who received which\n"
    "information, from whom, when, why, under which legal basis, and\n"
    "whether an emergency (break-glass) was declared. --since and --until\n"
    "limit it to [since, until), as for query. --json prints one object\n"
    "per disclosure.\n";

struct report {
	struct reader *r;
	FILE *out;
	bool json;
	const char *dir;
	uint64_t n;
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

static void
nice_time(uint64_t ms, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, n, "%-d %B %Y, %H:%M:%S UTC", &tm);
}

static int
report_json(struct report *rep, uint64_t seq, const struct event *ev,
    const struct collected *col)
{
	char when[40], at[40] = "";
	json_t *o, *fields = json_array(), *withheld = json_array();
	int rc = ERROR_NOMEM;

	if (fields == NULL || withheld == NULL)
		goto out;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		if (fields_has(ev->disclosed, f) &&
		    json_array_append_new(fields,
		        json_pack("{s:s,s:s}", "field", fields_name(f),
		            "description", field_words[f])) != 0)
			goto out;
		if (fields_has(ev->withheld, f) &&
		    json_array_append_new(
		        withheld, json_string(fields_name(f))) != 0)
			goto out;
	}
	clock_format(ev->time_ms, when, sizeof(when));
	if (col->state != 0)
		clock_format(col->at_ms, at, sizeof(at));
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:o,s:o,s:o,s:b,s:s,"
	              "s:s,s:s}",
	    "seq", (json_int_t)seq, "time", when, "sender", ev->sender,
	    "recipient", ev->recipient, "purpose", ev->purpose, "urgency",
	    ev->urgency ? urgency_name(ev->urgency) : "", "fields", fields,
	    "withheld", withheld, "bases",
	    string_list(ev->bases[0], sizeof(ev->bases[0]), ev->n_bases),
	    "rules",
	    string_list(ev->rules[0], sizeof(ev->rules[0]), ev->n_rules),
	    "obligations",
	    string_list(ev->obligations[0], sizeof(ev->obligations[0]),
	        ev->n_obligations),
	    "breakglass", ev->breakglass, "justification", ev->justification,
	    "status", col->state ? event_type_name(col->state) : "",
	    "status_time", at);
	if (o == NULL)
		goto out;
	rc = json_dumpf(o, rep->out, JSON_COMPACT) == 0 ? ERROR_OK : ERROR_IO;
	fputc('\n', rep->out);
	json_decref(o);
out:
	json_decref(fields);
	json_decref(withheld);
	return rc;
}

static void
report_list(
    FILE *out, const char *label, const char *base, size_t stride, size_t n)
{
	if (n == 0)
		return;
	fprintf(out, "   %s", label);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i > 0 ? "; " : "", base + i * stride);
	fputc('\n', out);
}

static int
report_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct report *rep = arg;
	struct collected col = {ev->recipient, 0, 0};
	struct audit_filter f;
	char when[64], from[IDENT_AGENCY_MAX + 8], to[IDENT_AGENCY_MAX + 8];
	char purpose[IDENT_NAME_MAX + 1];
	FILE *out = rep->out;
	int rc;

	if (ev->disclosed == 0)
		return ERROR_OK; /* a decision that disclosed nothing */
	rep->n++;
	if (ev->has_msg_id) {
		memset(&f, 0, sizeof(f));
		f.has_msg_id = true;
		memcpy(f.msg_id, ev->msg_id, sizeof(f.msg_id));
		if ((rc = audit_query(rep->r->a, rep->r->txn, &f, collected_row,
		         &col, NULL)) != 0)
			return rc;
	}
	if (rep->json)
		return report_json(rep, seq, ev, &col);
	nice_time(ev->time_ms, when, sizeof(when));
	fprintf(out, "\n%" PRIu64 ". %s\n", rep->n, when);
	/* A sentence starts with a capital: "The police", "Social care". */
	const char *who =
	    agency_words(ev->sender[0] ? ev->sender : "?", from, sizeof(from));
	fprintf(out, "   %c%s shared information about you with %s.\n",
	    who[0] >= 'a' && who[0] <= 'z' ? who[0] - 32 : who[0], who + 1,
	    agency_words(
	        ev->recipient[0] ? ev->recipient : "?", to, sizeof(to)));
	fprintf(out, "   Why: %s%s%s%s\n",
	    plain(ev->purpose[0] ? ev->purpose : "not recorded", purpose,
	        sizeof(purpose)),
	    ev->urgency ? " (" : "",
	    ev->urgency ? urgency_name(ev->urgency) : "",
	    ev->urgency ? ")" : "");
	fputs("   What was shared:\n", out);
	for (int fl = 1; fl <= FIELDS_COUNT; fl++)
		if (fields_has(ev->disclosed, fl))
			fprintf(out, "     - %s [%s]\n", field_words[fl],
			    fields_name(fl));
	if (ev->withheld != 0) {
		char names[256];
		fprintf(out,
		    "   Held back (not allowed by the agreement): %s\n",
		    fields_format(ev->withheld, ", ", names, sizeof(names)));
	}
	report_list(out, "Legal basis: ", ev->bases[0], sizeof(ev->bases[0]),
	    ev->n_bases);
	report_list(out, "Sharing rule: ", ev->rules[0], sizeof(ev->rules[0]),
	    ev->n_rules);
	report_list(out, "Conditions on the recipient: ", ev->obligations[0],
	    sizeof(ev->obligations[0]), ev->n_obligations);
	if (ev->breakglass)
		fprintf(out,
		    "   Emergency (break-glass): yes. Justification given: "
		    "\"%s\"\n",
		    ev->justification);
	else
		fputs("   Emergency (break-glass): no\n", out);
	if (col.state != 0) {
		nice_time(col.at_ms, when, sizeof(when));
		fprintf(out, "   %s: %s\n",
		    col.state == EVENT_ACKNOWLEDGED ? "Received and stored by "
		                                      "the recipient"
		        : col.state == EVENT_DELIVERED
		        ? "Delivered to the recipient"
		        : "Not collected; deleted unread at expiry",
		    when);
	}
	fprintf(out, "   Log entry: %" PRIu64 "\n", seq);
	return ferror(out) ? ERROR_IO : ERROR_OK;
}

static int
cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"subject", required_argument, NULL, 's'},
	    {"pepper", required_argument, NULL, 'p'},
	    {"since", required_argument, NULL, 'f'},
	    {"until", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct audit_filter f;
	struct reader r;
	struct report rep = {&r, stdout, false, NULL, 0};
	const char *nhs = NULL, *pepper = NULL;
	uint64_t size;
	int c, rc;

	memset(&f, 0, sizeof(f));
	optind = 0;
	while ((c = next_opt("report", argc, argv, opts)) != -1) {
		switch (c) {
		case 'd':
			rep.dir = optarg;
			break;
		case 's':
			nhs = optarg;
			break;
		case 'p':
			pepper = optarg;
			break;
		case 'f':
		case 'u':
			if ((rc = parse_time("report", c, optarg,
			         c == 'f' ? &f.since_ms : &f.until_ms)) != 0)
				return rc;
			break;
		case 'j':
			rep.json = true;
			break;
		case 'h':
			fputs(report_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return cliutil_fail(EX_USAGE,
		    "audit report: unexpected argument '%s'", argv[optind]);
	if (rep.dir == NULL)
		return missing("report", "--data DIR");
	if (nhs == NULL)
		return missing("report", "--subject NHS");
	if ((rc = check_range("report", &f)) != 0)
		return rc;
	if ((rc = subject_ref("report", nhs, pepper, f.subject_ref)) != 0)
		return rc;
	f.has_subject = true;
	f.type = EVENT_DECISION;
	if ((rc = open_log("report", rep.dir, &r)) != 0)
		return rc;
	if ((rc = audit_size(r.a, r.txn, &size)) != 0)
		goto out;
	if (!rep.json) {
		char digits[16] = {0};
		size_t n = 0;
		for (const char *p = nhs; *p != '\0' && n < 10; p++)
			if (*p >= '0' && *p <= '9')
				digits[n++] = *p;
		fprintf(stdout,
		    "Subject access report\n"
		    "Person: NHS number %.3s %.3s %.4s\n"
		    "Audit log: %s, %" PRIu64 " entries\n",
		    digits, digits + 3, digits + 6, audit_origin(r.a), size);
	}
	rc = audit_query(r.a, r.txn, &f, report_row, &rep, NULL);
	if (rc == 0 && !rep.json) {
		if (rep.n == 0)
			fputs("\nNo disclosure of information about this "
			      "person is recorded.\n",
			    stdout);
		else
			fprintf(stdout,
			    "\n%" PRIu64 " disclosure%s in all. Each log entry "
			    "can be proved with\n'concordat audit prove --seq "
			    "N'.\n",
			    rep.n, rep.n == 1 ? "" : "s");
	}
out:
	close_log(&r);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit report: %s: %s", rep.dir, error_strerror(rc));
	return fflush(stdout) == 0
	    ? EX_OK
	    : cliutil_fail(EX_IOERR, "audit report: writing: failed");
}

/* --------------------------------------------------------------- verify */

static const char verify_help[] =
    "usage: concordat audit verify --data DIR --broker-key FILE "
    "[--indexes]\n"
    "\n"
    "Recomputes the Merkle tree from every leaf, compares it with the\n"
    "stored tree, and checks every signed checkpoint: signed by the broker\n"
    "key in FILE (broker.pub), and its root is the root of the leaves.\n"
    "Then reads every database of the data folder whole (the indexes, the\n"
    "broker's queue), so that a page LMDB cannot read is found now, not\n"
    "by the next query. Exits 0 with a one-line summary, or 65 naming the\n"
    "first bad leaf, checkpoint or page: the log is damaged, and the\n"
    "broker refuses to start on it.\n"
    "\n"
    "--indexes  also check that the indexes queries read hold exactly the\n"
    "           entries the leaves give, none missing, added or altered\n"
    "           (slower: every leaf is decoded)\n";

/* The broker's public signing key from its .pub file; a sysexits code. */
static int
load_broker_key(
    const char *verb, const char *path, uint8_t pk[CHECKPOINT_PK_LEN])
{
	struct keys_public pub;
	int rc;

	rc = keys_load_public(path, &pub);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit %s: broker key %s: %s", verb, path,
		    error_strerror(rc));
	memcpy(pk, pub.sign_pk, CHECKPOINT_PK_LEN);
	return EX_OK;
}

static int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"broker-key", required_argument, NULL, 'k'},
	    {"indexes", no_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct audit_verify_result res;
	struct audit_walk walk;
	struct reader r;
	const char *dir = NULL, *key = NULL;
	uint8_t pk[CHECKPOINT_PK_LEN];
	char root[MERKLE_HASH_B64];
	bool indexes = false;
	int c, rc;

	optind = 0;
	while ((c = next_opt("verify", argc, argv, opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'i':
			indexes = true;
			break;
		case 'h':
			fputs(verify_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return cliutil_fail(EX_USAGE,
		    "audit verify: unexpected argument '%s'", argv[optind]);
	if (dir == NULL)
		return missing("verify", "--data DIR");
	if (key == NULL)
		return missing("verify", "--broker-key FILE");
	if ((rc = load_broker_key("verify", key, pk)) != 0)
		return rc;
	if ((rc = open_log("verify", dir, &r)) != 0)
		return rc;
	rc = audit_verify(r.a, r.txn, pk, &res);
	/* The pages the tree does not cover: the indexes, the queue. */
	if (rc == 0 &&
	    (rc = audit_env_walk(r.env, r.txn, NULL, NULL, &walk)) != 0)
		snprintf(res.why, sizeof(res.why), "%s", walk.why);
	if (rc == 0 && indexes)
		rc = audit_verify_indexes(r.a, r.txn, &res);
	if (rc == 0) {
		fprintf(stdout,
		    "ok: %s: %" PRIu64 " leaves, %" PRIu64
		    " checkpoints verified",
		    audit_origin(r.a), res.leaves, res.checkpoints);
		if (res.has_latest)
			fprintf(stdout, "; latest size %" PRIu64 " root %s",
			    res.latest.size,
			    merkle_hash_to_base64(res.latest.root, root));
		if (!res.has_latest || res.latest.size < res.leaves)
			fprintf(stdout, "; %" PRIu64 " leaves not yet signed",
			    res.leaves -
			        (res.has_latest ? res.latest.size : 0));
		fprintf(stdout,
		    "; %" PRIu64 " databases read whole (%" PRIu64 " entries)",
		    walk.databases, walk.entries);
		if (indexes)
			fprintf(stdout,
			    "; %" PRIu64 " index entries match the leaves",
			    res.index_entries);
		fputc('\n', stdout);
	}
	close_log(&r);
	if (rc == ERROR_TAMPERED || rc == ERROR_SIGNATURE ||
	    rc == ERROR_CHECKPOINT)
		return cliutil_fail(
		    EX_DATAERR, "audit verify: %s: %s", dir, res.why);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit verify: %s: %s", dir, error_strerror(rc));
	return fflush(stdout) == 0
	    ? EX_OK
	    : cliutil_fail(EX_IOERR, "audit verify: writing: failed");
}

/* ---------------------------------------------------------------- prove */

static const char prove_help[] =
    "usage: concordat audit prove --data DIR --seq N [--json]\n"
    "       concordat audit prove --data DIR --from SIZE [--json]\n"
    "\n"
    "--seq N      the RFC 6962 inclusion proof of log entry N in the tree\n"
    "             the latest signed checkpoint covers\n"
    "--from SIZE  the consistency proof from the tree of SIZE entries (an\n"
    "             older checkpoint you hold) to the latest checkpoint\n"
    "--json       print it in the shape of the RFC 6962 test vectors\n"
    "             (leafIdx, treeSize, root, leafHash, proof, with the entry\n"
    "             as leaf; or size1, size2, root1, root2, proof) with the\n"
    "             checkpoint note, for 'concordat audit check-proof'\n";

static json_t *
hash_json(const uint8_t h[MERKLE_HASH_LEN])
{
	char b64[MERKLE_HASH_B64];

	return json_string(merkle_hash_to_base64(h, b64));
}

static json_t *
path_json(const uint8_t path[][MERKLE_HASH_LEN], size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, hash_json(path[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static void
print_path(const uint8_t path[][MERKLE_HASH_LEN], size_t n)
{
	char b64[MERKLE_HASH_B64];

	if (n == 0)
		fputs("proof      (empty)\n", stdout);
	for (size_t i = 0; i < n; i++)
		fprintf(stdout, "%s %s\n", i == 0 ? "proof     " : "          ",
		    merkle_hash_to_base64(path[i], b64));
}

/* The inclusion proof of leaf seq in head's tree; a project error. */
static int
prove_inclusion(
    struct reader *r, const struct audit_head *head, uint64_t seq, bool json)
{
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH_LEN], lh[MERKLE_HASH_LEN];
	char b64[MERKLE_HASH_B64], when[40], *leaf64 = NULL;
	struct event *ev = NULL;
	const uint8_t *leaf;
	json_t *o = NULL;
	size_t n, len, l64;
	int rc;

	if ((rc = audit_leaf(r->a, r->txn, seq, &leaf, &len)) != 0 ||
	    (rc = audit_inclusion(
	         r->a, r->txn, seq, head->cp.size, path, &n)) != 0)
		return rc;
	merkle_hash_leaf(leaf, len, lh);
	rc = ERROR_NOMEM;
	if (json) {
		l64 = sodium_base64_encoded_len(
		    len, sodium_base64_VARIANT_ORIGINAL);
		if ((leaf64 = malloc(l64)) == NULL)
			goto out;
		sodium_bin2base64(
		    leaf64, l64, leaf, len, sodium_base64_VARIANT_ORIGINAL);
		o = json_pack("{s:I,s:I,s:o,s:o,s:o,s:s,s:s}", "leafIdx",
		    (json_int_t)seq, "treeSize", (json_int_t)head->cp.size,
		    "root", hash_json(head->cp.root), "leafHash", hash_json(lh),
		    "proof",
		    path_json((const uint8_t(*)[MERKLE_HASH_LEN])path, n),
		    "leaf", leaf64, "checkpoint", head->text);
		if (o == NULL || json_dumpf(o, stdout, JSON_INDENT(2)) != 0)
			goto out;
		fputc('\n', stdout);
	} else {
		if ((ev = malloc(sizeof(*ev))) == NULL)
			goto out;
		if (event_decode(leaf, len, ev) == 0)
			fprintf(stdout, "leaf       %" PRIu64 ": %s at %s\n",
			    seq, event_type_name(ev->type),
			    clock_format(ev->time_ms, when, sizeof(when)));
		else
			fprintf(stdout,
			    "leaf       %" PRIu64 " (not a valid event)\n",
			    seq);
		fprintf(
		    stdout, "leaf hash  %s\n", merkle_hash_to_base64(lh, b64));
		fprintf(stdout, "tree size  %" PRIu64 "\n", head->cp.size);
		fprintf(stdout, "root       %s\n",
		    merkle_hash_to_base64(head->cp.root, b64));
		print_path((const uint8_t(*)[MERKLE_HASH_LEN])path, n);
		fprintf(stdout, "checkpoint\n%s", head->text);
	}
	rc = ERROR_OK;
out:
	json_decref(o);
	free(leaf64);
	free(ev);
	return rc;
}

/* The consistency proof from size1 to head's tree; a project error. */
static int
prove_consistency(
    struct reader *r, const struct audit_head *head, uint64_t size1, bool json)
{
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH_LEN], root1[MERKLE_HASH_LEN];
	char b64[MERKLE_HASH_B64];
	json_t *o;
	size_t n;
	int rc;

	if ((rc = audit_root(r->a, r->txn, size1, root1)) != 0 ||
	    (rc = audit_consistency(
	         r->a, r->txn, size1, head->cp.size, path, &n)) != 0)
		return rc;
	if (json) {
		o = json_pack("{s:I,s:I,s:o,s:o,s:o,s:s}", "size1",
		    (json_int_t)size1, "size2", (json_int_t)head->cp.size,
		    "root1", hash_json(root1), "root2",
		    hash_json(head->cp.root), "proof",
		    path_json((const uint8_t(*)[MERKLE_HASH_LEN])path, n),
		    "checkpoint", head->text);
		rc = o == NULL || json_dumpf(o, stdout, JSON_INDENT(2)) != 0
		    ? ERROR_NOMEM
		    : ERROR_OK;
		json_decref(o);
		fputc('\n', stdout);
		return rc;
	}
	fprintf(stdout, "from size  %" PRIu64 "\n", size1);
	fprintf(stdout, "old root   %s\n", merkle_hash_to_base64(root1, b64));
	fprintf(stdout, "tree size  %" PRIu64 "\n", head->cp.size);
	fprintf(stdout, "root       %s\n",
	    merkle_hash_to_base64(head->cp.root, b64));
	print_path((const uint8_t(*)[MERKLE_HASH_LEN])path, n);
	fprintf(stdout, "checkpoint\n%s", head->text);
	return ERROR_OK;
}

static int
cmd_prove(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"seq", required_argument, NULL, 'n'},
	    {"from", required_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct reader r;
	struct audit_head head;
	const char *dir = NULL, *seqarg = NULL, *fromarg = NULL;
	uint64_t at;
	bool json = false;
	int c, rc, ex = EX_OK;

	optind = 0;
	while ((c = next_opt("prove", argc, argv, opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			seqarg = optarg;
			break;
		case 'f':
			fromarg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(prove_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return cliutil_fail(EX_USAGE,
		    "audit prove: unexpected argument '%s'", argv[optind]);
	if (dir == NULL)
		return missing("prove", "--data DIR");
	if ((seqarg == NULL) == (fromarg == NULL))
		return cliutil_fail(EX_USAGE,
		    "audit prove: give --seq N or --from SIZE (see --help)");
	if (parse_u64(seqarg != NULL ? seqarg : fromarg, &at) != 0)
		return cliutil_fail(EX_USAGE,
		    "audit prove: --%s '%s': not a %s",
		    seqarg != NULL ? "seq" : "from",
		    seqarg != NULL ? seqarg : fromarg,
		    seqarg != NULL ? "leaf number" : "tree size");
	if ((rc = open_log("prove", dir, &r)) != 0)
		return rc;
	rc = audit_latest(r.a, r.txn, &head);
	if (rc == ERROR_NOTFOUND)
		ex = cliutil_fail(EX_DATAERR,
		    "audit prove: %s: no signed checkpoint yet", dir);
	else if (rc == 0 && seqarg != NULL && at >= head.cp.size)
		ex = cliutil_fail(EX_DATAERR,
		    "audit prove: leaf %" PRIu64
		    " is not covered by the latest "
		    "checkpoint (size %" PRIu64 ")",
		    at, head.cp.size);
	else if (rc == 0 && fromarg != NULL && at > head.cp.size)
		ex = cliutil_fail(EX_DATAERR,
		    "audit prove: size %" PRIu64 " is beyond the latest "
		    "checkpoint (size %" PRIu64 ")",
		    at, head.cp.size);
	else if (rc == 0)
		rc = seqarg != NULL ? prove_inclusion(&r, &head, at, json)
		                    : prove_consistency(&r, &head, at, json);
	if (ex == EX_OK && rc != 0)
		ex = cliutil_fail(cliutil_exit_code(rc), "audit prove: %s: %s",
		    dir, error_strerror(rc));
	close_log(&r);
	if (ex == EX_OK && fflush(stdout) != 0)
		ex = cliutil_fail(EX_IOERR, "audit prove: writing: failed");
	return ex;
}

/* -------------------------------------------------------------- reindex */

static const char reindex_help[] =
    "usage: concordat audit reindex --data DIR\n"
    "\n"
    "Rebuilds the indexes that queries read from the log's entries, which\n"
    "it does not change, and checks them as 'verify --indexes' does: the\n"
    "remedy when that check finds an index damaged. Needs write access to\n"
    "data.mdb and lock.mdb, and the data folder to itself: it refuses\n"
    "(exit 75) while the broker runs, which holds the folder's lock.\n"
    "Stop the broker, reindex (seconds per million entries), start it.\n";

static int
cmd_reindex(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char origin[CHECKPOINT_ORIGIN_MAX + 1], holder[128];
	struct reader r;
	const char *dir = NULL;
	uint64_t used, mapsize, size = 0, indexed = 0, entries = 0;
	int c, rc, lock;

	optind = 0;
	while ((c = next_opt("reindex", argc, argv, opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			fputs(reindex_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return cliutil_fail(EX_USAGE,
		    "audit reindex: unexpected argument '%s'", argv[optind]);
	if (dir == NULL)
		return missing("reindex", "--data DIR");
	/* A log that is there, with its origin and the broker's map size. */
	if ((rc = open_log("reindex", dir, &r)) != 0)
		return rc;
	snprintf(origin, sizeof(origin), "%s", audit_origin(r.a));
	rc = audit_env_usage(r.env, &used, &mapsize);
	close_log(&r);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit reindex: %s: %s", dir, error_strerror(rc));
	/* One writer per data folder: not while the broker runs. */
	rc = audit_env_lock(
	    dir, "concordat audit reindex", &lock, holder, sizeof(holder));
	if (rc == ERROR_BUSY)
		return cliutil_fail(EX_TEMPFAIL,
		    "audit reindex: %s: the data folder is in use (pid and "
		    "program from its lock file: %s); stop the broker first, "
		    "nothing was changed",
		    dir, holder);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit reindex: %s: cannot take the data folder's lock: %s",
		    dir, error_strerror(rc));
	rc = audit_env_open(dir, (size_t)mapsize, 0, &r.env);
	if (rc == 0 && (rc = audit_txn_begin(r.env, 0, &r.txn)) == 0 &&
	    (rc = audit_open(r.env, r.txn, origin, 0, &r.a)) == 0 &&
	    (rc = audit_reindex(r.a, r.txn, &entries)) == 0 &&
	    (rc = audit_size(r.a, r.txn, &size)) == 0 &&
	    (rc = audit_indexed(r.a, r.txn, &indexed)) == 0) {
		rc = audit_mdb_error(mdb_txn_commit(r.txn));
		r.txn = NULL;
	}
	close_log(&r);
	audit_env_unlock(lock);
	if (rc == ERROR_PERM)
		return cliutil_fail(EX_NOPERM,
		    "audit reindex: %s: permission denied (write access to "
		    "data.mdb and lock.mdb is needed)",
		    dir);
	if (rc == ERROR_TAMPERED)
		return cliutil_fail(EX_DATAERR,
		    "audit reindex: %s: the log's entries are damaged; run "
		    "'concordat audit verify'",
		    dir);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit reindex: %s: %s (nothing was changed)", dir,
		    error_strerror(rc));
	if (indexed == 0)
		fprintf(stdout,
		    "reindexed: %s: no index entries: the %" PRIu64
		    " entries are fewer than a batch and are read one by "
		    "one\n",
		    origin, size);
	else
		fprintf(stdout,
		    "reindexed: %s: %" PRIu64
		    " index entries for entries 0 to %" PRIu64
		    "; the last %" PRIu64
		    " are read one by one until a batch fills\n",
		    origin, entries, indexed - 1, size - indexed);
	return fflush(stdout) == 0
	    ? EX_OK
	    : cliutil_fail(EX_IOERR, "audit reindex: writing: failed");
}

/* ---------------------------------------------------------------- stats */

static const char stats_help[] =
    "usage: concordat audit stats --data DIR [--json]\n"
    "\n"
    "Counts of events by type, by agency (events naming it as sender or\n"
    "recipient), by purpose and by rule, and of break-glass events, read\n"
    "from the indexes.\n";

static const char *const stat_titles[] = {
    [AUDIT_STAT_TYPE] = "event",
    [AUDIT_STAT_AGENCY] = "agency",
    [AUDIT_STAT_PURPOSE] = "purpose",
    [AUDIT_STAT_RULE] = "rule",
};

struct stats {
	bool json;
	int last; /* the counter printed last, for headings */
	json_t *groups[4];
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
		fprintf(stdout, "\n%-32s %10s\n", stat_titles[stat], "events");
		s->last = (int)stat;
	}
	fprintf(stdout, "  %-30s %10" PRIu64 "\n", key, count);
	return ERROR_OK;
}

static int
cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct stats s = {false, -1, {NULL}};
	struct reader r;
	const char *dir = NULL;
	uint64_t size, bg = 0;
	json_t *o = NULL;
	int c, rc;

	optind = 0;
	while ((c = next_opt("stats", argc, argv, opts)) != -1) {
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
		return cliutil_fail(EX_USAGE,
		    "audit stats: unexpected argument '%s'", argv[optind]);
	if (dir == NULL)
		return missing("stats", "--data DIR");
	if ((rc = open_log("stats", dir, &r)) != 0)
		return rc;
	if ((rc = audit_size(r.a, r.txn, &size)) != 0)
		goto out;
	if (s.json) {
		rc = ERROR_NOMEM;
		for (int i = 0; i < 4; i++)
			if ((s.groups[i] = json_object()) == NULL)
				goto out;
	} else {
		fprintf(stdout, "audit log %s: %" PRIu64 " events\n",
		    audit_origin(r.a), size);
	}
	if ((rc = audit_query_stats(r.a, r.txn, stats_row, &s, &bg)) != 0)
		goto out;
	if (s.json) {
		o = json_pack("{s:s,s:I,s:I,s:O,s:O,s:O,s:O}", "origin",
		    audit_origin(r.a), "events", (json_int_t)size, "breakglass",
		    (json_int_t)bg, "types", s.groups[AUDIT_STAT_TYPE],
		    "agencies", s.groups[AUDIT_STAT_AGENCY], "purposes",
		    s.groups[AUDIT_STAT_PURPOSE], "rules",
		    s.groups[AUDIT_STAT_RULE]);
		rc = ERROR_NOMEM;
		if (o == NULL || json_dumpf(o, stdout, JSON_COMPACT) != 0)
			goto out;
		fputc('\n', stdout);
	} else {
		fprintf(stdout, "\nbreak-glass events %24" PRIu64 "\n", bg);
	}
	rc = ERROR_OK;
out:
	json_decref(o);
	for (int i = 0; i < 4; i++)
		json_decref(s.groups[i]);
	close_log(&r);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit stats: %s: %s", dir, error_strerror(rc));
	return fflush(stdout) == 0
	    ? EX_OK
	    : cliutil_fail(EX_IOERR, "audit stats: writing: failed");
}

/* ---------------------------------------------------------- check-proof */

static const char check_help[] =
    "usage: concordat audit check-proof [--broker-key FILE] FILE.json\n"
    "\n"
    "Verifies an RFC 6962 proof in the JSON shape of the published test\n"
    "vectors: an inclusion proof (leafIdx, treeSize, root, leafHash,\n"
    "proof) or a consistency proof (size1, size2, root1, root2, proof).\n"
    "Hashes are base64. A proof from 'concordat audit prove --json' also\n"
    "carries the checkpoint, whose size and root must be the proof's (with\n"
    "--broker-key, its signature is checked too), and an inclusion proof\n"
    "the entry itself (leaf), whose hash must be leafHash.\n"
    "Prints 'valid' and exits 0, or 'invalid: ' and why, and exits 1.\n";

/* Why a proof file is invalid: printed, and exit 1. */
static int invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
invalid(const char *fmt, ...)
{
	va_list ap;

	fputs("invalid: ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	return EX_INVALID;
}

static int
json_size(const json_t *o, const char *key, uint64_t *v)
{
	const json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return ERROR_INVAL;
	*v = (uint64_t)json_integer_value(j);
	return ERROR_OK;
}

static int
json_hash(const json_t *o, const char *key, uint8_t h[MERKLE_HASH_LEN])
{
	const json_t *j = json_object_get(o, key);

	if (!json_is_string(j))
		return ERROR_INVAL;
	return merkle_hash_from_base64(
	    json_string_value(j), json_string_length(j), h);
}

/* The proof array (null or missing: empty); a sysexits code. */
static int
json_path(const json_t *o, uint8_t path[][MERKLE_HASH_LEN], size_t *n)
{
	const json_t *a = json_object_get(o, "proof"), *e;
	size_t i;

	*n = 0;
	if (a == NULL || json_is_null(a))
		return EX_OK;
	if (!json_is_array(a))
		return invalid("proof is not a list of hashes");
	if (json_array_size(a) > MERKLE_MAX_PATH)
		return invalid(
		    "proof has %zu hashes; no tree needs more than %d",
		    json_array_size(a), MERKLE_MAX_PATH);
	json_array_foreach(a, i, e)
	{
		if (!json_is_string(e) ||
		    merkle_hash_from_base64(json_string_value(e),
		        json_string_length(e), path[i]) != 0)
			return invalid(
			    "proof[%zu] is not a base64 SHA-256 hash", i);
	}
	*n = json_array_size(a);
	return EX_OK;
}

/*
 * The checkpoint a proof file may carry: its tree must be the proof's, and
 * with pk (--broker-key) it must be signed by that key. A sysexits code.
 */
static int
check_note(const json_t *o, const uint8_t *pk, uint64_t size,
    const uint8_t root[MERKLE_HASH_LEN])
{
	const json_t *note = json_object_get(o, "checkpoint");
	const char *text = json_string_value(note);
	struct checkpoint cp;

	if (note == NULL)
		return pk == NULL ? EX_OK
		                  : invalid("--broker-key given but the file "
		                            "has no checkpoint");
	if (text == NULL || checkpoint_parse(text, strlen(text), &cp) != 0)
		return invalid("checkpoint is not a checkpoint note");
	if (pk != NULL &&
	    checkpoint_verify(text, strlen(text), cp.origin, pk, &cp) != 0)
		return invalid("checkpoint is not signed by the broker key");
	if (cp.size != size || memcmp(cp.root, root, MERKLE_HASH_LEN) != 0)
		return invalid(
		    "the checkpoint is for another tree (size %" PRIu64 ")",
		    cp.size);
	return EX_OK;
}

static int
check_inclusion(const json_t *o, const uint8_t *pk)
{
	uint8_t root[MERKLE_HASH_LEN], lh[MERKLE_HASH_LEN], h[MERKLE_HASH_LEN];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH_LEN];
	const json_t *leaf = json_object_get(o, "leaf");
	uint64_t index, size;
	size_t n;
	int rc;

	if (json_size(o, "leafIdx", &index) != 0)
		return invalid("leafIdx is not a leaf number");
	if (json_size(o, "treeSize", &size) != 0)
		return invalid("treeSize is not a tree size");
	if (json_hash(o, "root", root) != 0)
		return invalid("root is not a base64 SHA-256 hash");
	if (json_hash(o, "leafHash", lh) != 0)
		return invalid("leafHash is not a base64 SHA-256 hash");
	if ((rc = json_path(o, path, &n)) != 0)
		return rc;
	if (index >= size)
		return invalid("leafIdx %" PRIu64
		               " is not in a tree of %" PRIu64 " leaves",
		    index, size);
	if (merkle_verify_inclusion(index, size, lh, path, n, root) != 0)
		return invalid("the proof does not lead from leafHash to root");
	if (leaf != NULL) {
		const char *s = json_string_value(leaf), *end;
		size_t len = s != NULL ? strlen(s) : 0, got;
		uint8_t *bytes = malloc(len + 1);
		if (bytes == NULL)
			return cliutil_fail(
			    EX_OSERR, "audit check-proof: out of memory");
		rc = s == NULL ||
		    sodium_base642bin(bytes, len + 1, s, len, NULL, &got, &end,
		        sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    end != s + len;
		if (rc == 0)
			merkle_hash_leaf(bytes, got, h);
		free(bytes);
		if (rc != 0)
			return invalid("leaf is not base64");
		if (memcmp(h, lh, MERKLE_HASH_LEN) != 0)
			return invalid("leafHash is not the hash of leaf");
	}
	return check_note(o, pk, size, root);
}

static int
check_consistency(const json_t *o, const uint8_t *pk)
{
	uint8_t root1[MERKLE_HASH_LEN], root2[MERKLE_HASH_LEN];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH_LEN];
	uint64_t size1, size2;
	size_t n;
	int rc;

	if (json_size(o, "size1", &size1) != 0 ||
	    json_size(o, "size2", &size2) != 0)
		return invalid("size1 and size2 must be tree sizes");
	if (json_hash(o, "root1", root1) != 0)
		return invalid("root1 is not a base64 SHA-256 hash");
	if (json_hash(o, "root2", root2) != 0)
		return invalid("root2 is not a base64 SHA-256 hash");
	if ((rc = json_path(o, path, &n)) != 0)
		return rc;
	if (size1 > size2)
		return invalid("size1 %" PRIu64
		               " is larger than size2 %" PRIu64,
		    size1, size2);
	if (merkle_verify_consistency(size1, size2, root1, root2, path, n) != 0)
		return invalid("the proof does not show that the tree of size1 "
		               "is a prefix of the tree of size2");
	return check_note(o, pk, size2, root2);
}

static int
cmd_check_proof(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"broker-key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *key = NULL, *path;
	uint8_t pk[CHECKPOINT_PK_LEN], *buf = NULL;
	size_t len;
	json_error_t err;
	json_t *o = NULL;
	int c, rc;

	optind = 0;
	while ((c = next_opt("check-proof", argc, argv, opts)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'h':
			fputs(check_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind == argc)
		return missing("check-proof", "FILE.json");
	if (optind != argc - 1)
		return cliutil_fail(EX_USAGE,
		    "audit check-proof: unexpected argument '%s'",
		    argv[optind + 1]);
	path = argv[optind];
	if (key != NULL && (rc = load_broker_key("check-proof", key, pk)) != 0)
		return rc;
	rc = fileio_read(path, PROOF_FILE_MAX, &buf, &len);
	if (rc != 0)
		return cliutil_fail(cliutil_exit_code(rc),
		    "audit check-proof: %s: %s", path, error_strerror(rc));
	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
	free(buf);
	if (o == NULL && json_error_code(&err) == json_error_numeric_overflow)
		return invalid("a number is out of range (line %d)", err.line);
	if (o == NULL)
		return cliutil_fail(EX_DATAERR,
		    "audit check-proof: %s:%d:%d: not JSON: %s", path, err.line,
		    err.column, err.text);
	if (!json_is_object(o)) {
		rc = cliutil_fail(EX_DATAERR,
		    "audit check-proof: %s: not a JSON object", path);
	} else if (json_object_get(o, "leafIdx") != NULL) {
		rc = check_inclusion(o, key != NULL ? pk : NULL);
	} else if (json_object_get(o, "size1") != NULL) {
		rc = check_consistency(o, key != NULL ? pk : NULL);
	} else {
		rc = cliutil_fail(EX_DATAERR,
		    "audit check-proof: %s: neither an inclusion proof "
		    "(leafIdx) nor a consistency proof (size1)",
		    path);
	}
	json_decref(o);
	if (rc == EX_OK) {
		fputs("valid\n", stdout);
		if (fflush(stdout) != 0)
			return cliutil_fail(
			    EX_IOERR, "audit check-proof: writing: failed");
	}
	return rc;
}

/* -------------------------------------------------------------- dispatch */

static const struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	bool reads_log; /* runs in a child process: see audit_cli */
} verbs[] = {
    {"query", cmd_query, true},
    {"report", cmd_report, true},
    {"verify", cmd_verify, true},
    {"reindex", cmd_reindex, true},
    {"prove", cmd_prove, true},
    {"stats", cmd_stats, true},
    {"check-proof", cmd_check_proof, false},
};

struct call {
	const struct verb *v;
	int argc;
	char **argv;
};

/* isolate_run's function: the verb, its exit code as the answer. */
static int
run_verb(void *arg, void *out, size_t len)
{
	const struct call *c = arg;
	int code = c->v->fn(c->argc, c->argv);

	memcpy(out, &code, len < sizeof(code) ? len : sizeof(code));
	return ERROR_OK;
}

/* The --data operand of a verb's arguments, for the words of a crash. */
static const char *
data_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--data=", 7) == 0)
			return argv[i] + 7;
	}
	return "the data folder";
}

/*
 * A verb that reads a log runs in a child process. LMDB trusts its file:
 * on some corrupt pages it asserts (abort) or reads beyond the page (a
 * segfault), and no check of ours before it can rule every such page out
 * short of reading them all through LMDB. A child that dies is a damaged
 * file to report (exit 65), not a crash of the command. The verb prints
 * from the child, to the same stdout and stderr.
 */
int
audit_cli(int argc, char **argv)
{
	const struct verb *v = NULL;
	char words[128];
	int code = EX_SOFTWARE, death, rc;

	if (argc < 2)
		return usage(stderr, EX_USAGE);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout, EX_OK);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			v = &verbs[i];
	if (v == NULL) {
		cliutil_fail(EX_USAGE, "audit: unknown verb '%s'", argv[1]);
		return usage(stderr, EX_USAGE);
	}
	if (!v->reads_log)
		return v->fn(argc - 1, argv + 1);
	struct call c = {v, argc - 1, argv + 1};
	rc = isolate_run(run_verb, &c, &code, sizeof(code), &death);
	if (rc == 0)
		return code;
	if (death == 0)
		return cliutil_fail(EX_OSERR,
		    "audit %s: cannot start a process to read the log: %s",
		    v->name, error_strerror(rc));
	if (death == SIGPIPE) {
		/* The reader of our output went away: as if we had written. */
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		return EX_IOERR;
	}
	if (!isolate_fault(death))
		return cliutil_fail(EX_OSERR,
		    "audit %s: the reader was stopped from outside (%s)",
		    v->name, isolate_death(death, words, sizeof(words)));
	return cliutil_fail(EX_DATAERR,
	    "audit %s: %s: reading the log killed the reader (%s): its "
	    "file is damaged%s; restore the data folder from a backup",
	    v->name, data_arg(argc - 1, argv + 1),
	    isolate_death(death, words, sizeof(words)),
	    death == SIGBUS ? " (a page lies past the end of data.mdb: the "
	                      "file was truncated)"
	                    : "");
}
