/*
 * `concordat spool status`: an agent's spool at a glance, for the person
 * who runs it: how old the oldest record waiting in outbox/ is, what lies
 * in failed/ and alerts/, and from the agent's status file (STATE/
 * status.json, agents/status.h) whether it is connected, when it last
 * was, and what it has sent without a final receipt. Reads only.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include <jansson.h>

#include "agents/config.h"
#include "agents/spoolstat.h"
#include "agents/status.h"
#include "agents/verbs/agent_verbs.h"
#include "common/cli.h"
#include "common/clock.h"

static const char spool_status_help[] =
    "usage: concordat spool status [-c agent.yaml | --spool DIR\n"
    "                              [--state DIR]] [--json]\n"
    "\n"
    "An agent's spool at a glance: records waiting in outbox/ and the age\n"
    "of the oldest, files in failed/ and alerts/ (each needs a person),\n"
    "records in inbox/ not yet taken by the local system; and, from the\n"
    "agent's status file (STATE/status.json, rewritten every 5 seconds\n"
    "while it runs), whether it is connected to the broker, its last\n"
    "contact, and messages sent without a final receipt yet.\n"
    "\n"
    "  -c, --config FILE  the agent's configuration: spool and state\n"
    "  -s, --spool DIR    the spool folder\n"
    "  -t, --state DIR    the agent's state folder (default DIR/.state)\n"
    "  -j, --json         one JSON object (see concordat(1))\n"
    "\n"
    "A status file older than three of its intervals is reported stale:\n"
    "the agent is not running, or is stuck. Exit 66 when the spool folder\n"
    "is missing.\n";

static const struct option opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"spool", required_argument, NULL, 's'},
    {"state", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* SPOOL/sub's files (spoolstat.h). */
static int
count_dir(const char *spool, const char *sub, json_int_t *n, uint64_t *oldest)
{
	char path[PATH_MAX + 64];
	uint64_t k;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", spool, sub);
	rc = spoolstat_count(path, &k, oldest);
	*n = (json_int_t)k;
	return rc;
}

static json_t *
time_json(uint64_t ms)
{
	char buf[40];
	return ms == 0 ? json_null()
	               : json_string(clock_format(ms, buf, sizeof(buf)));
}

/* The agent's status file's members, with "stale" and "age_seconds". */
static json_t *
agent_json(const char *state, uint64_t now)
{
	char path[PATH_MAX + 32];
	json_error_t err;
	uint64_t at;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", state, AGENT_STATUS_FILE);
	if ((j = json_load_file(path, 0, &err)) == NULL || !json_is_object(j)) {
		json_decref(j);
		return json_pack(
		    "{s:s,s:b}", "status_file", path, "present", 0);
	}
	json_object_set_new(j, "status_file", json_string(path));
	json_object_set_new(j, "present", json_true());
	const char *t = json_string_value(json_object_get(j, "time"));
	json_int_t iv =
	    json_integer_value(json_object_get(j, "interval_seconds"));
	if (t != NULL && clock_parse(t, &at) == 0) {
		uint64_t age = now > at ? (now - at) / 1000 : 0;
		json_object_set_new(
		    j, "age_seconds", json_integer((json_int_t)age));
		json_object_set_new(j, "stale",
		    json_boolean(json_is_true(json_object_get(j, "running")) &&
		        age > 3 * (uint64_t)(iv > 0 ? iv : 10)));
	}
	return j;
}

static const char *
s_of(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v != NULL ? v : dflt;
}

static void
text(const json_t *doc)
{
	const json_t *ag = json_object_get(doc, "agent");
	json_int_t age = json_integer_value(
	    json_object_get(doc, "outbox_oldest_age_seconds"));

	printf("spool: %s\n", s_of(doc, "spool", ""));
	printf("outbox: %" JSON_INTEGER_FORMAT " waiting",
	    json_integer_value(json_object_get(doc, "outbox")));
	if (json_is_integer(json_object_get(doc, "outbox_oldest_age_seconds")))
		printf(", the oldest for %" JSON_INTEGER_FORMAT " s", age);
	printf("\nfailed: %" JSON_INTEGER_FORMAT "%s\n",
	    json_integer_value(json_object_get(doc, "failed")),
	    json_integer_value(json_object_get(doc, "failed")) > 0
	        ? " (records refused for good: read their receipts)"
	        : "");
	printf("alerts: %" JSON_INTEGER_FORMAT "%s\n",
	    json_integer_value(json_object_get(doc, "alerts")),
	    json_integer_value(json_object_get(doc, "alerts")) > 0
	        ? " (a person must read them)"
	        : "");
	printf("inbox: %" JSON_INTEGER_FORMAT " not yet taken by the local "
	       "system\n",
	    json_integer_value(json_object_get(doc, "inbox")));
	if (!json_is_true(json_object_get(ag, "present"))) {
		printf("agent: no status file (%s): the agent has not run\n",
		    s_of(ag, "status_file", ""));
		return;
	}
	printf("agent: %s, pid %" JSON_INTEGER_FORMAT ", status of %s%s\n",
	    json_is_true(json_object_get(ag, "running")) ? "running"
	                                                 : "stopped",
	    json_integer_value(json_object_get(ag, "pid")),
	    s_of(ag, "time", "?"),
	    json_is_true(json_object_get(ag, "stale"))
	        ? " (STALE: not rewritten; "
	          "is the agent stuck?)"
	        : "");
	printf("broker: %s, %s; last contact %s\n", s_of(ag, "broker", ""),
	    json_is_true(json_object_get(ag, "connected")) ? "connected"
	                                                   : "not connected",
	    s_of(ag, "last_contact", "never"));
	printf("sent, awaiting the broker's receipt: %" JSON_INTEGER_FORMAT
	       "%s%s\n",
	    json_integer_value(json_object_get(ag, "awaiting_receipt")),
	    json_is_string(json_object_get(ag, "oldest_awaiting"))
	        ? ", the oldest sealed "
	        : "",
	    s_of(ag, "oldest_awaiting", ""));
}

int
agent_verb_spool_status(int argc, char **argv)
{
	const char *config = NULL, *spool = NULL, *state = NULL;
	char dstate[PATH_MAX + 16];
	struct agent_config cfg;
	bool json = false;
	uint64_t now = clock_now_ms(), oldest, t;
	json_int_t n_out, n_failed, n_alerts, n_inbox;
	struct stat st;
	int c;

	while ((c = cli_getopt(argc, argv, "c:s:t:jh", opts)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			spool = optarg;
			break;
		case 't':
			state = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(spool_status_help, stdout);
			return EX_OK;
		default:
			fputs(spool_status_help, stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return cli_fail(EX_USAGE,
		    "spool status: unexpected argument '%s'", argv[optind]);
	if (config != NULL) {
		struct yamlconf_errors errs;
		yamlconf_errors_init(&errs);
		int rc = agent_config_load(config, &cfg, &errs);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "concordat: spool status: %s\n",
			    errs.msg[i]);
		yamlconf_errors_release(&errs);
		if (rc != 0)
			return rc == ERROR_CONFIG
			    ? EX_CONFIG
			    : cli_fail(cli_exit_code(rc),
			          "spool status: %s: %s", config,
			          error_strerror(rc));
		if (spool == NULL)
			spool = cfg.spool;
		if (state == NULL)
			state = cfg.state;
	}
	if (spool == NULL)
		return cli_fail(EX_USAGE,
		    "spool status: missing -c FILE or --spool DIR (see "
		    "--help)");
	if (stat(spool, &st) != 0 || !S_ISDIR(st.st_mode))
		return cli_fail(
		    EX_NOINPUT, "spool status: %s: no such folder", spool);
	if (state == NULL) {
		bool legacy;
		if (agent_config_default_state(
		        spool, dstate, sizeof(dstate), &legacy) != 0)
			return cli_fail(
			    EX_USAGE, "spool status: %s: path too long", spool);
		state = dstate;
	}
	if (count_dir(spool, "outbox", &n_out, &oldest) != 0 ||
	    count_dir(spool, "failed", &n_failed, &t) != 0 ||
	    count_dir(spool, "alerts", &n_alerts, &t) != 0 ||
	    count_dir(spool, "inbox", &n_inbox, &t) != 0)
		return cli_fail(EX_NOPERM, "spool status: %s: cannot read: %s",
		    spool, strerror(errno));
	json_t *doc = json_pack("{s:i,s:s,s:o,s:I,s:o,s:o,s:I,s:I,s:I,s:o}",
	    "status_version", 1, "spool", spool, "time", time_json(now),
	    "outbox", n_out, "outbox_oldest", time_json(oldest),
	    "outbox_oldest_age_seconds",
	    oldest == 0
	        ? json_null()
	        : json_integer(
	              (json_int_t)(now > oldest ? (now - oldest) / 1000 : 0)),
	    "failed", n_failed, "alerts", n_alerts, "inbox", n_inbox, "agent",
	    agent_json(state, now));
	if (doc == NULL)
		return cli_fail(EX_SOFTWARE, "spool status: out of memory");
	if (json) {
		char *s = json_dumps(doc, JSON_COMPACT);
		if (s != NULL)
			printf("%s\n", s);
		free(s);
	} else {
		text(doc);
	}
	json_decref(doc);
	return EX_OK;
}

int
agent_cli_spool(int argc, char **argv)
{
	static const struct cli_verb verbs[] = {
	    {"status",
	        "an agent's spool at a glance: outbox age, failed/, "
	        "alerts/, its contact with the broker",
	        agent_verb_spool_status},
	};
	return cli_group("spool", NULL, verbs, 1, argc, argv);
}
