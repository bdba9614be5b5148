/*
 * `concordat status`: the broker at a glance (status.h): asked of the
 * running broker over its control socket, or read from its data folder
 * read-only (while it runs, or not). Tabular for people, --json for
 * machines, from the one JSON document either source gives.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "broker/config.h"
#include "broker/control.h"
#include "broker/status.h"
#include "broker/store.h"
#include "broker/verbs/broker_verbs.h"
#include "common/cli.h"
#include "common/duration.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/table.h"
#include "keys/keys.h"

static const char status_help[] =
    "usage: concordat status [-c broker.yaml | --data DIR [--keyring DIR]]\n"
    "                        [--socket PATH | --no-socket] [--json | --csv]\n"
    "\n"
    "The broker at a glance: per agency its key fingerprint, whether it is\n"
    "connected (or when it was last seen), its queue (depth, the oldest\n"
    "undelivered message and when it expires, sent and not acknowledged,\n"
    "in flight, redelivered); the agreement in force; the store against\n"
    "its map size and the 80%/90% thresholds; connections refused in the\n"
    "last hour.\n"
    "\n"
    "  -c, --config FILE  the broker's configuration: its data folder,\n"
    "                     keyring and control socket\n"
    "  -d, --data DIR     the broker's data folder\n"
    "  -k, --keyring DIR  the keyring, for the agencies and fingerprints\n"
    "  -s, --socket PATH  the control socket (default DIR/control.sock,\n"
    "                     or control_socket in FILE)\n"
    "  -n, --no-socket    read the data folder only\n"
    "  -j, --json         one JSON object (see concordat-status(1))\n"
    "      --csv          the agencies' table as CSV, with a header line\n"
    "\n"
    "The running broker answers on its control socket with what only it\n"
    "knows (connected now, in flight, redelivered, counters since start).\n"
    "When no broker answers, the data folder is read read-only: the broker\n"
    "need not run and is not disturbed; connected, in flight and\n"
    "redelivered are then unknown. The first line (or \"source\") says\n"
    "which. Exit 66 when there is no data folder, 69 when --socket is\n"
    "given alone and nothing answers there.\n";

static const struct option opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"data", required_argument, NULL, 'd'},
    {"keyring", required_argument, NULL, 'k'},
    {"socket", required_argument, NULL, 's'},
    {"no-socket", no_argument, NULL, 'n'},
    {"json", no_argument, NULL, 'j'},
    {"csv", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct args {
	const char *data, *keyring, *socket;
	bool no_socket, json, csv;
	struct broker_config cfg;
};

static int
load_config(const char *path, struct args *a)
{
	struct yamlconf_errors errs;
	int rc;

	yamlconf_errors_init(&errs);
	rc = broker_config_load(path, &a->cfg, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "concordat: status: %s\n", errs.msg[i]);
	yamlconf_errors_release(&errs);
	if (rc == ERROR_CONFIG)
		return EX_CONFIG;
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "status: %s: %s", path,
		    error_strerror(rc));
	if (a->data == NULL)
		a->data = a->cfg.data;
	if (a->keyring == NULL)
		a->keyring = a->cfg.keyring;
	if (a->socket == NULL && a->cfg.control_socket[0] != '\0')
		a->socket = a->cfg.control_socket;
	return EX_OK;
}

/* The document from the data folder, read-only. */
static int
from_data(const struct args *a, struct strbuf *doc)
{
	struct keyring *kr = NULL;
	struct store *s = NULL;
	struct status *st = NULL;
	char why[512];
	int rc, code = EX_OK;

	if (a->keyring != NULL &&
	    keyring_load(a->keyring, &kr, why, sizeof(why)) != 0)
		return cli_fail(
		    EX_CONFIG, "status: keyring %s: %s", a->keyring, why);
	rc = store_open_reader(a->data, &s);
	if (rc == ERROR_NOENT || rc == ERROR_NOTFOUND)
		code = cli_fail(EX_NOINPUT,
		    "status: %s: no broker data there (no such folder, "
		    "data.mdb or broker databases)",
		    a->data);
	else if (rc == ERROR_PERM)
		code = cli_fail(EX_NOPERM,
		    "status: %s: permission denied (reading needs read access "
		    "to data.mdb and write access to lock.mdb)",
		    a->data);
	else if (rc != 0)
		code = cli_fail(cli_exit_code(rc),
		    "status: %s: cannot open: %s", a->data, error_strerror(rc));
	else if ((rc = status_gather(s, kr, clock_now_ms(), 0, &st)) != 0)
		code = cli_fail(cli_exit_code(rc),
		    "status: %s: cannot read: %s", a->data, error_strerror(rc));
	else
		status_json(st, a->data, doc);
	status_free(st);
	store_close(s);
	keyring_free(kr);
	return code;
}

static const char *
str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v != NULL ? v : "";
}

/* A cell: an integer member as text, "" when null. */
static json_t *
num_cell(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	char buf[32];

	if (!json_is_integer(v))
		return json_string("");
	snprintf(
	    buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return json_string(buf);
}

static const struct table_column cols[] = {
    {"agency", "AGENCY", 20, NULL},
    {"fingerprint", "FINGERPRINT", 39, NULL},
    {"contact", "CONTACT", 31, NULL},
    {"queued", "QUEUED", 6, NULL},
    {"oldest_queued", "OLDEST QUEUED", 24, NULL},
    {"oldest_expires", "EXPIRES", 24, NULL},
    {"sent_unacknowledged", "UNACKED", 7, NULL},
    {"in_flight", "IN FLIGHT", 9, NULL},
    {"redelivered", "REDELIVERED", 0, NULL},
};

static int
agency_rows(const json_t *doc, enum table_format f, struct strbuf *sb)
{
	struct table t;
	size_t i;
	json_t *ag;
	int rc = 0;

	table_begin(&t, sb, f, cols, sizeof(cols) / sizeof(cols[0]));
	json_array_foreach(json_object_get(doc, "agencies"), i, ag)
	{
		char contact[64];
		const json_t *c = json_object_get(ag, "connected");
		if (json_is_true(c))
			snprintf(contact, sizeof(contact), "connected");
		else if (json_object_get(ag, "last_seen") != NULL &&
		    *str(ag, "last_seen") != '\0')
			snprintf(contact, sizeof(contact), "seen %s",
			    str(ag, "last_seen"));
		else if (*str(ag, "last_activity") != '\0')
			snprintf(contact, sizeof(contact), "active %s",
			    str(ag, "last_activity"));
		else
			snprintf(contact, sizeof(contact), "%s",
			    json_is_false(c) ? "not connected" : "");
		json_t *row = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:o,s:o,s:o}",
		    "agency", str(ag, "agency"), "fingerprint",
		    str(ag, "fingerprint"), "contact", contact, "queued",
		    num_cell(ag, "queued"), "oldest_queued",
		    str(ag, "oldest_queued"), "oldest_expires",
		    str(ag, "oldest_expires"), "sent_unacknowledged",
		    num_cell(ag, "sent_unacknowledged"), "in_flight",
		    num_cell(ag, "in_flight"), "redelivered",
		    num_cell(ag, "redelivered"));
		rc = row == NULL ? ERROR_NOMEM : table_row(&t, sb, row);
		json_decref(row);
		if (rc != 0)
			break;
	}
	table_end(&t, sb);
	return rc;
}

/* The review deadline (live status only), before the agencies' table. */
static void
review_line(const json_t *r, struct strbuf *sb)
{
	char within[32];

	if (!json_is_object(r))
		return;
	duration_format(
	    (uint64_t)json_integer_value(json_object_get(r, "due_within_ms")),
	    within, sizeof(within));
	strbuf_addf(sb,
	    "break-glass reviews overdue: %" JSON_INTEGER_FORMAT
	    " (due within %s)\n\n",
	    json_integer_value(json_object_get(r, "overdue")), within);
}

static int
text(const json_t *doc, const char *from, struct strbuf *sb)
{
	const json_t *ag = json_object_get(doc, "agreement");
	const json_t *sto = json_object_get(doc, "storage");
	size_t i;
	json_t *v;

	strbuf_addf(sb, "source: %s\n", from);
	strbuf_addf(sb, "log: %s, %" JSON_INTEGER_FORMAT " leaves\n",
	    str(doc, "origin"),
	    json_integer_value(json_object_get(doc, "log_size")));
	if (json_is_object(ag)) {
		strbuf_addf(sb,
		    "agreement: %s version %" JSON_INTEGER_FORMAT
		    ", sha256 %s, activated %s, signed by",
		    str(ag, "id"),
		    json_integer_value(json_object_get(ag, "version")),
		    str(ag, "sha256"), str(ag, "activated"));
		json_array_foreach(json_object_get(ag, "signers"), i, v)
		    strbuf_addf(
		        sb, "%s %s", i > 0 ? "," : "", json_string_value(v));
		strbuf_addch(sb, '\n');
	} else {
		strbuf_addstr(sb, "agreement: none activated in the log\n");
	}
	strbuf_addf(sb,
	    "storage: %.1f of %.1f MiB (%.1f%%): %s (warning above %d%%, "
	    "new messages refused above %d%%)\n",
	    (double)json_integer_value(json_object_get(sto, "used_bytes")) /
	        1048576.0,
	    (double)json_integer_value(json_object_get(sto, "map_bytes")) /
	        1048576.0,
	    json_number_value(json_object_get(sto, "used_percent")),
	    str(sto, "state"), STATUS_WARN_PERCENT, STATUS_FULL_PERCENT);
	strbuf_addf(sb,
	    "refused connections in the last hour: %" JSON_INTEGER_FORMAT
	    "\n\n",
	    json_integer_value(
	        json_object_get(doc, "refused_connections_last_hour")));
	review_line(json_object_get(doc, "breakglass_reviews"), sb);
	return agency_rows(doc, TABLE_TEXT, sb);
}

static int
show(const struct args *a, const struct strbuf *doc, const char *from)
{
	struct strbuf sb;
	json_error_t jerr;
	json_t *j;
	int rc;

	if (a->json) {
		fputs(strbuf_str(doc), stdout);
		return EX_OK;
	}
	if ((j = json_loads(strbuf_str(doc), 0, &jerr)) == NULL)
		return cli_fail(EX_PROTOCOL,
		    "status: %s: not a status document "
		    "(line %d: %s)",
		    from, jerr.line, jerr.text);
	strbuf_init(&sb);
	rc = a->csv ? agency_rows(j, TABLE_CSV, &sb) : text(j, from, &sb);
	if (rc == 0 && (rc = strbuf_error(&sb)) == 0)
		fputs(strbuf_str(&sb), stdout);
	strbuf_release(&sb);
	json_decref(j);
	return rc == 0
	    ? EX_OK
	    : cli_fail(cli_exit_code(rc), "status: %s", error_strerror(rc));
}

static int
parse(int argc, char **argv, struct args *a)
{
	const char *config = NULL;
	int c;

	while ((c = cli_getopt(argc, argv, "c:d:k:s:njh", opts)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			a->data = optarg;
			break;
		case 'k':
			a->keyring = optarg;
			break;
		case 's':
			a->socket = optarg;
			break;
		case 'n':
			a->no_socket = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'v':
			a->csv = true;
			break;
		case 'h':
			fputs(status_help, stdout);
			return -1;
		default:
			fputs(status_help, stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return cli_fail(
		    EX_USAGE, "status: unexpected argument '%s'", argv[optind]);
	if (config != NULL)
		return load_config(config, a);
	if (a->data == NULL && a->socket == NULL)
		return cli_fail(EX_USAGE,
		    "status: missing -c FILE, --data DIR or --socket PATH "
		    "(see --help)");
	return EX_OK;
}

int
broker_verb_status(int argc, char **argv)
{
	struct args a;
	struct strbuf doc;
	char sock[4200], from[4300];
	int rc, code;

	memset(&a, 0, sizeof(a));
	if ((code = parse(argc, argv, &a)) != EX_OK)
		return code < 0 ? EX_OK : code;
	if (a.socket == NULL && a.data != NULL) {
		snprintf(
		    sock, sizeof(sock), "%s/%s", a.data, CONTROL_SOCKET_NAME);
		a.socket = sock;
	}
	strbuf_init(&doc);
	rc = a.no_socket ? ERROR_NOENT : control_ask(a.socket, &doc);
	if (rc == 0) {
		snprintf(
		    from, sizeof(from), "the running broker (%s)", a.socket);
		code = show(&a, &doc, from);
	} else if (a.data == NULL) {
		code = cli_fail(EX_UNAVAILABLE, "status: %s: %s", a.socket,
		    rc == ERROR_NOENT ? "no broker answers there"
		                      : error_strerror(rc));
	} else {
		strbuf_release(&doc);
		strbuf_init(&doc);
		snprintf(from, sizeof(from), "%s, read-only (%s)", a.data,
		    a.no_socket ? "--no-socket"
		        : rc == ERROR_NOENT
		        ? "no broker answers on its control socket"
		        : "its control socket failed");
		if ((code = from_data(&a, &doc)) == EX_OK)
			code = show(&a, &doc, from);
	}
	strbuf_release(&doc);
	return code;
}
