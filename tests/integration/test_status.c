/*
 * `concordat status` and the broker's monitoring (DESIGN.md §9): messages
 * queued for an offline agency show as its queue depth, its oldest message
 * and when it expires, read-only from the data folder while the broker
 * runs and live over the control socket; connecting and collecting empties
 * the queue and shows the agency connected; after a stop the read-only
 * view says so. The metrics file is in the Prometheus text format, its
 * names typed and its label values escaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "common/clock.h"
#include "keys/keys.h"
#include "tests/integration/harness.h"

/* An agreement id a label and a JSON string must escape. */
static const char policy[] =
    "agreement: 'status \"test\" \\ one'\n"
    "version: 3\n"
    "approved_by: Integration tests\n"
    "agencies: [police, ambulance, mental_health_trust, social_care]\n"
    "purposes:\n"
    "  safeguarding:\n"
    "    description: Care for dependents, collected within the hour\n"
    "    expires_after: 1h\n"
    "rules:\n"
    "  - id: dependents\n"
    "    from: mental_health_trust\n"
    "    to: [social_care]\n"
    "    purposes: [safeguarding]\n"
    "    share: [identity, dependents]\n"
    "    basis: \"Care Act 2014 s42\"\n";
static const char agreement_id[] = "status \"test\" \\ one";

static const char record_fmt[] =
    "{\"recipients\": [\"social_care\"], \"purpose\": \"safeguarding\",\n"
    " \"urgency\": \"urgent\", \"kind\": \"record\", \"local_id\": \"%s\",\n"
    " \"subject\": {\"nhs_number\": \"9434765919\"},\n"
    " \"fields\": {\"identity\": {\"name\": \"%s\"},\n"
    "   \"dependents\": {\"pets\": \"two dogs at home\"}}}\n";

/* Social care's fingerprint, from its public key file. */
static const char *
social_fp(struct h_sys *s)
{
	static struct keys_public pk;

	assert_int_equal(
	    keys_load_public(h_p("%s/keys/social_care.pub", s->dir), &pk), 0);
	return pk.fingerprint;
}

static void
send_drop(struct h_sys *s, const char *name)
{
	char text[1024];

	snprintf(text, sizeof(text), record_fmt, name, name);
	h_drop(s, H_MHT, h_p("%s.json", name), text);
}

static void
send_one(struct h_sys *s, const char *name)
{
	char text[1024];
	const char *receipt =
	    h_p("%s/%s.receipt.json", h_spool(s, H_MHT, "sent"), name);

	snprintf(text, sizeof(text), record_fmt, name, name);
	h_drop(s, H_MHT, h_p("%s.json", name), text);
	if (!h_wait_file(receipt, H_WAIT_MS))
		fail_msg("no receipt for %s", name);
}

/* `concordat status ARGS --json`, its document; exit code must be 0. */
static json_t *
status(struct h_sys *s, const char *const *args)
{
	const char *argv[16] = {s->cli, "status"};
	const char *out = h_p("%s/status.json", s->dir);
	const char *err = h_p("%s/status.err", s->dir);
	size_t n = 2;
	json_error_t jerr;

	while (*args != NULL)
		argv[n++] = *args++;
	argv[n++] = "--json";
	argv[n] = NULL;
	int rc = h_run(s, out, err, argv);
	if (rc != 0)
		fail_msg("concordat status exit %d: %s", rc,
		    (char *)scratch_slurp(err, NULL));
	json_t *j = json_load_file(out, 0, &jerr);
	if (j == NULL)
		fail_msg("status --json is not JSON: %s", jerr.text);
	return j;
}

static json_t *
agency(json_t *doc, const char *id)
{
	size_t i;
	json_t *a;

	json_array_foreach(json_object_get(doc, "agencies"), i,
	    a) if (strcmp(json_string_value(json_object_get(a, "agency")),
	               id) == 0) return a;
	fail_msg("no agency %s in the status", id);
	return NULL;
}

static long long
num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", k);
	return json_integer_value(v);
}

static uint64_t
time_of(json_t *o, const char *k)
{
	uint64_t ms;
	const char *v = json_string_value(json_object_get(o, k));

	if (v == NULL || clock_parse(v, &ms) != 0)
		fail_msg("%s is not a time", k);
	return ms;
}

/* Sends req (may be empty) to the control socket; what came back. */
static char *
ask_raw(const char *path, const char *req)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static char buf[4096];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (*req != '\0')
		assert_int_equal(
		    write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < sizeof(buf) - 1 &&
	    (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return buf;
}

/* The figures both views agree on, with two messages waiting. */
static void
check_queued(struct h_sys *s, json_t *doc, uint64_t before, uint64_t after)
{
	json_t *sc = agency(doc, "social_care");
	json_t *ag = json_object_get(doc, "agreement");

	assert_int_equal(num(sc, "queued"), 2);
	assert_int_equal(num(sc, "deliveries"), 2);
	assert_int_equal(num(sc, "sent_unacknowledged"), 0);
	uint64_t oldest = time_of(sc, "oldest_queued");
	assert_true(oldest >= before - 1000 && oldest <= after + 1000);
	uint64_t exp = time_of(sc, "oldest_expires");
	/* An hour after it was queued, on the queue's clock. */
	assert_true(exp >= oldest + 3600000 - 5000);
	assert_true(exp <= oldest + 3600000 + 5000);
	assert_string_equal(
	    json_string_value(json_object_get(sc, "fingerprint")),
	    social_fp(s));
	assert_int_equal(num(agency(doc, "police"), "queued"), 0);
	assert_true(json_is_null(
	    json_object_get(agency(doc, "police"), "oldest_queued")));
	assert_string_equal(
	    json_string_value(json_object_get(ag, "id")), agreement_id);
	assert_int_equal(num(ag, "version"), 3);
	assert_int_equal(
	    strlen(json_string_value(json_object_get(ag, "sha256"))), 64);
	assert_int_equal(json_array_size(json_object_get(ag, "signers")), 4);
	json_t *st = json_object_get(doc, "storage");
	assert_int_equal(num(st, "map_bytes"), 64ll << 20);
	assert_true(num(st, "used_bytes") > 0);
	assert_string_equal(
	    json_string_value(json_object_get(st, "state")), "ok");
	assert_int_equal(num(st, "full_percent"), 90);
}

/* A sample's value in the metrics text, or -1 when absent. */
static double
sample(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* Every sample's name has a TYPE line before it, of the right type. */
static void
check_format(const char *text)
{
	char *copy = strdup(text), *save = NULL, types[8192] = "";

	for (char *l = strtok_r(copy, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		char name[256];
		if (strncmp(l, "# TYPE ", 7) == 0) {
			assert_true(
			    strlen(types) + strlen(l) + 2 < sizeof(types));
			strcat(types, l + 7);
			strcat(types, "\n");
			continue;
		}
		if (l[0] == '#')
			continue;
		size_t k = strcspn(l, "{ ");
		assert_true(k > 0 && k < sizeof(name));
		memcpy(name, l, k);
		name[k] = '\0';
		for (char *c = name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || *c == '_' ||
			    (*c >= '0' && *c <= '9'));
		/* A histogram's series are under its own name. */
		char *h = strstr(name, "_bucket");
		if (h == NULL)
			h = strstr(name, "_count");
		if (h == NULL && strstr(name, "duration_seconds_sum") != NULL)
			h = strstr(name, "_sum");
		char base[256];
		snprintf(base, sizeof(base), "%.*s",
		    (int)(h != NULL ? (size_t)(h - name) : k), name);
		char want[300];
		snprintf(want, sizeof(want), "%s ", base);
		if (strstr(types, want) == NULL)
			fail_msg("no TYPE line before %s", name);
		if (strstr(base, "_total") != NULL) {
			snprintf(want, sizeof(want), "%s counter\n", base);
			assert_non_null(strstr(types, want));
		}
	}
	free(copy);
}

static void
check_metrics(struct h_sys *s)
{
	const char *path = h_p("%s/metrics.prom", s->dir);
	struct stat st;
	char *text = NULL;

	/* Rewritten every second: wait for the one after the delivery. */
	for (uint64_t end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;
	     usleep(100000)) {
		free(text);
		text = scratch_slurp(path, NULL);
		if (text != NULL &&
		    sample(text, "concordat_broker_messages_delivered_total") ==
		        2)
			break;
	}
	assert_non_null(text);
	assert_true(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	check_format(text);
	assert_true(
	    sample(text, "concordat_broker_messages_accepted_total") == 2);
	assert_true(
	    sample(text, "concordat_broker_messages_rejected_total") == 0);
	assert_true(
	    sample(text, "concordat_broker_connections_refused_total") == 2);
	assert_non_null(strstr(text,
	    "# TYPE concordat_broker_connections_refused_total counter\n"));
	assert_true(
	    sample(text, "concordat_broker_messages_delivered_total") == 2);
	assert_non_null(strstr(
	    text, "# TYPE concordat_broker_messages_accepted_total counter\n"));
	assert_non_null(strstr(text,
	    "# TYPE concordat_broker_commit_duration_seconds histogram\n"));
	assert_non_null(
	    strstr(text, "# HELP concordat_broker_storage_used_bytes "));
	assert_true(sample(text,
	                "concordat_broker_commit_duration_seconds_count") >= 1);
	assert_true(sample(text,
	                "concordat_broker_commit_duration_seconds_bucket{le=\"+"
	                "Inf\"}") ==
	    sample(text, "concordat_broker_commit_duration_seconds_count"));
	assert_true(sample(text, "concordat_broker_storage_map_bytes") ==
	    (double)(64 << 20));
	assert_true(sample(text, "concordat_broker_storage_used_bytes") > 0);
	assert_true(
	    sample(text,
	        "concordat_broker_queue_depth{agency=\"social_care\"}") == 0);
	assert_true(
	    sample(text,
	        "concordat_broker_agency_connected{agency=\"social_care\"}") ==
	    1);
	assert_true(
	    sample(text,
	        "concordat_broker_agency_connected{agency=\"police\"}") == 0);
	/* The label value escaped: \" and \\. */
	assert_non_null(strstr(text,
	    "concordat_broker_agreement_info{agreement=\"status \\\"test\\\" "
	    "\\\\ one\",version=\"3\",sha256=\""));
	/* No temporary file left beside it. */
	assert_int_equal(h_count(s->dir, ".prom"), 1);
	free(text);
}

static void
status_views(void **state)
{
	struct h_sys *s = *state;
	const char *ring = h_p("%s/ring", s->dir);
	char data[PATH_MAX], ringp[PATH_MAX];

	snprintf(data, sizeof(data), "%s", s->data);
	snprintf(ringp, sizeof(ringp), "%s", ring);
	const char *ro[] = {
	    "--data", data, "--keyring", ringp, "--no-socket", NULL};
	const char *live[] = {"-c", s->broker_yaml, NULL};

	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	uint64_t before = clock_now_ms();
	send_one(s, "one");
	send_one(s, "two");
	uint64_t after = clock_now_ms();

	/* Read-only, while the broker runs. */
	json_t *doc = status(s, ro);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "source")), "data");
	check_queued(s, doc, before, after);
	json_t *sc = agency(doc, "social_care");
	assert_true(json_is_null(json_object_get(sc, "connected")));
	assert_true(json_is_null(json_object_get(sc, "in_flight")));
	/* The sender's acceptances are its activity in the log. */
	uint64_t act =
	    time_of(agency(doc, "mental_health_trust"), "last_activity");
	assert_true(act >= before - 1000 && act <= after + 1000);
	json_decref(doc);

	/* Live, over the control socket the configuration names. */
	struct stat st;
	assert_int_equal(stat(h_p("%s/control.sock", s->data), &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	doc = status(s, live);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "source")), "broker");
	check_queued(s, doc, before, after);
	sc = agency(doc, "social_care");
	assert_true(json_is_false(json_object_get(sc, "connected")));
	assert_int_equal(num(sc, "in_flight"), 0);
	json_t *mht = agency(doc, "mental_health_trust");
	assert_true(json_is_true(json_object_get(mht, "connected")));
	assert_true(time_of(mht, "last_seen") >= before - 1000);
	assert_int_equal(num(json_object_get(doc, "broker"), "accepted"), 2);
	json_decref(doc);

	/* A wrong request is answered with an error line; a silent client
	 * is dropped soon; neither stops the broker answering. */
	const char *sock = h_p("%s/control.sock", s->data);
	assert_string_equal(ask_raw(sock, "bogus\n"),
	    "error: unknown request (expected: status)\n");
	uint64_t t0 = h_now_ms();
	assert_string_equal(
	    ask_raw(sock, ""), "error: expected one line: status\n");
	assert_true(h_now_ms() - t0 < 2000);
	assert_int_equal(
	    strncmp(ask_raw(sock, "status\n"), "{\"status_version\":1,", 20),
	    0);

	/* Two strangers refused: counted live at once. */
	for (int i = 0; i < 2; i++) {
		struct h_client *c = h_client_random(s);
		assert_int_equal(h_client_event(c,
		                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
		                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
		                     H_WAIT_MS),
		    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
		h_client_free(c);
	}
	doc = status(s, live);
	assert_int_equal(num(doc, "refused_connections_last_hour"), 2);
	json_decref(doc);

	/* Social care collects: its queue empties, it shows connected. */
	h_agent_start(s, H_SOCIAL, true);
	if (!h_wait_count(h_spool(s, H_SOCIAL, "inbox"), ".json", 2, H_WAIT_MS))
		fail_msg("social care did not collect its two messages");
	for (uint64_t end = h_now_ms() + H_WAIT_MS;; usleep(100000)) {
		doc = status(s, live);
		sc = agency(doc, "social_care");
		if (num(sc, "queued") == 0 &&
		    num(json_object_get(doc, "broker"), "delivered") == 2)
			break;
		json_decref(doc);
		if (h_now_ms() > end)
			fail_msg("the queue of social care did not empty");
	}
	assert_true(json_is_true(json_object_get(sc, "connected")));
	assert_true(json_is_null(json_object_get(sc, "oldest_queued")));
	assert_true(time_of(sc, "last_seen") >= after);
	json_decref(doc);
	check_metrics(s);

	/* Stopped: the socket is gone, the data folder still answers. */
	h_agent_stop(s, H_SOCIAL);
	h_agent_stop(s, H_MHT);
	assert_int_equal(h_broker_stop(s), 0);
	assert_int_not_equal(access(h_p("%s/control.sock", s->data), F_OK), 0);
	const char *fall[] = {"-c", s->broker_yaml, NULL};
	doc = status(s, fall);
	assert_string_equal(
	    json_string_value(json_object_get(doc, "source")), "data");
	sc = agency(doc, "social_care");
	assert_int_equal(num(sc, "queued"), 0);
	assert_true(time_of(sc, "last_activity") >= after);
	/* The refusals, logged by the broker as it stopped, are in the log. */
	assert_int_equal(num(doc, "refused_connections_last_hour"), 2);
	json_decref(doc);

	/* The table for people says where its figures came from. */
	const char *out = h_p("%s/status.txt", s->dir);
	const char *argv[] = {s->cli, "status", "-c", s->broker_yaml, NULL};
	assert_int_equal(h_run(s, out, NULL, argv), 0);
	char *text = scratch_slurp(out, NULL);
	assert_non_null(strstr(text, "read-only (no broker answers"));
	assert_non_null(strstr(text, "social_care"));
	assert_non_null(strstr(text, social_fp(s)));
	free(text);

	/* CSV for spreadsheets: a header, then one row an agency. */
	const char *csv[] = {
	    s->cli, "status", "-c", s->broker_yaml, "--csv", NULL};
	assert_int_equal(h_run(s, out, NULL, csv), 0);
	text = scratch_slurp(out, NULL);
	assert_int_equal(
	    strncmp(text, "agency,fingerprint,contact,queued,", 34), 0);
	assert_non_null(strstr(text, "\n\"social_care\",\""));
	assert_int_equal(scratch_count(text, "\n"), 5);
	free(text);

	/* --socket alone, nothing there: 69. */
	const char *none[] = {s->cli, "status", "--socket",
	    h_p("%s/control.sock", s->data), NULL};
	assert_int_equal(h_run(s, NULL, NULL, none), 69);
	h_pass(s);
}

/* `concordat spool status -c agent.yaml --json` of mental health. */
static json_t *
spool_status(struct h_sys *s)
{
	const char *out = h_p("%s/spool.json", s->dir);
	const char *err = h_p("%s/spool.err", s->dir);
	const char *argv[] = {s->cli, "spool", "status", "-c",
	    h_agent_yaml(s, H_MHT), "--json", NULL};
	json_error_t jerr;

	int rc = h_run(s, out, err, argv);
	if (rc != 0)
		fail_msg("concordat spool status exit %d: %s", rc,
		    (char *)scratch_slurp(err, NULL));
	json_t *j = json_load_file(out, 0, &jerr);
	if (j == NULL)
		fail_msg("spool status --json is not JSON: %s", jerr.text);
	return j;
}

/* Polls spool status until the agent's figures satisfy want. */
static json_t *
spool_until(
    struct h_sys *s, bool (*want)(json_t *agent, json_t *doc), const char *what)
{
	for (uint64_t end = h_now_ms() + H_WAIT_MS;; usleep(200000)) {
		json_t *doc = spool_status(s);
		if (want(json_object_get(doc, "agent"), doc))
			return doc;
		json_decref(doc);
		if (h_now_ms() > end)
			fail_msg("spool status never showed %s", what);
	}
}

static bool
connected_now(json_t *ag, json_t *doc)
{
	(void)doc;
	return json_is_true(json_object_get(ag, "connected"));
}

static bool
offline_waiting(json_t *ag, json_t *doc)
{
	(void)doc;
	return json_is_true(json_object_get(ag, "running")) &&
	    json_is_false(json_object_get(ag, "connected")) &&
	    json_integer_value(json_object_get(ag, "awaiting_receipt")) == 1;
}

static bool
online_done(json_t *ag, json_t *doc)
{
	return json_is_true(json_object_get(ag, "connected")) &&
	    json_integer_value(json_object_get(ag, "awaiting_receipt")) == 0 &&
	    json_integer_value(json_object_get(doc, "outbox")) == 0;
}

static bool
stopped(json_t *ag, json_t *doc)
{
	(void)doc;
	return json_is_false(json_object_get(ag, "running"));
}

/* The agent's metrics, offline with one record waiting. */
static void
check_agent_metrics(const char *path)
{
	char *text = NULL;

	for (uint64_t end = h_now_ms() + H_WAIT_MS; h_now_ms() < end;
	     usleep(100000)) {
		free(text);
		text = scratch_slurp(path, NULL);
		if (text != NULL &&
		    sample(text,
		        "concordat_agent_awaiting_receipt{agency="
		        "\"mental_health_trust\"}") == 1 &&
		    sample(text,
		        "concordat_agent_connected{agency="
		        "\"mental_health_trust\"}") == 0)
			break;
	}
	assert_non_null(text);
	check_format(text);
	assert_true(sample(text,
	                "concordat_agent_outbox_files{agency="
	                "\"mental_health_trust\"}") == 1);
	assert_true(sample(text,
	                "concordat_agent_failed_files{agency="
	                "\"mental_health_trust\"}") == 1);
	assert_true(sample(text,
	                "concordat_agent_alerts_files{agency="
	                "\"mental_health_trust\"}") == 1);
	assert_true(sample(text,
	                "concordat_agent_outbox_oldest_age_seconds{"
	                "agency=\"mental_health_trust\"}") >= 0);
	assert_true(sample(text,
	                "concordat_agent_last_contact_timestamp_"
	                "seconds{agency=\"mental_health_trust\"}") > 1e9);
	assert_non_null(
	    strstr(text, "# TYPE concordat_agent_state_map_bytes gauge\n"));
	free(text);
}

static void
spool_view(void **state)
{
	struct h_sys *s = *state;

	/* The agent gets the agreement, then the broker goes: the record
	 * waits, sealed, without a receipt. */
	uint64_t before = clock_now_ms();
	char prom[PATH_MAX + 32];
	snprintf(prom, sizeof(prom), "%s/agent-mht.prom", s->dir);
	h_agent_config(
	    s, H_MHT, h_p("metrics_file: %s\nmetrics_interval: 1s\n", prom));
	h_broker_start(s);
	h_agent_start(s, H_MHT, true);
	json_decref(spool_until(s, connected_now, "the agent connected"));
	assert_int_equal(h_broker_stop(s), 0);
	send_drop(s, "early");
	scratch_write(h_p("%s/x.receipt.json", h_spool(s, H_MHT, "failed")),
	    "{}\n", 0640);
	scratch_write(
	    h_p("%s/a.json", h_spool(s, H_MHT, "alerts")), "{}\n", 0640);
	json_t *doc = spool_until(s, offline_waiting, "the record awaiting");
	json_t *ag = json_object_get(doc, "agent");
	assert_int_equal(num(doc, "outbox"), 1);
	assert_true(time_of(doc, "outbox_oldest") >= before - 2000);
	assert_true(num(doc, "outbox_oldest_age_seconds") >= 0);
	assert_int_equal(num(doc, "failed"), 1);
	assert_int_equal(num(doc, "alerts"), 1);
	assert_true(time_of(ag, "last_contact") >= before);
	assert_true(json_is_false(json_object_get(ag, "stale")));
	assert_true(time_of(ag, "oldest_awaiting") >= before - 1000);
	json_decref(doc);
	check_agent_metrics(prom);

	/* The broker comes: sent, receipted, and the contact recorded. */
	h_broker_start(s);
	doc = spool_until(s, online_done, "the agent connected, outbox empty");
	ag = json_object_get(doc, "agent");
	assert_true(time_of(ag, "last_contact") >= time_of(ag, "started"));
	assert_true(json_is_null(json_object_get(doc, "outbox_oldest")));
	json_decref(doc);

	/* Stopped: the file says so at once. */
	assert_int_equal(h_agent_stop(s, H_MHT), 0);
	doc = spool_until(s, stopped, "the agent stopped");
	assert_true(json_is_false(
	    json_object_get(json_object_get(doc, "agent"), "connected")));
	json_decref(doc);

	/* And for people, what needs one. */
	const char *out = h_p("%s/spool.txt", s->dir);
	const char *argv[] = {
	    s->cli, "spool", "status", "-c", h_agent_yaml(s, H_MHT), NULL};
	assert_int_equal(h_run(s, out, NULL, argv), 0);
	char *text = scratch_slurp(out, NULL);
	assert_non_null(strstr(text, "alerts: 1 (a person must read them)"));
	assert_non_null(strstr(text, "agent: stopped"));
	free(text);
	const char *missing[] = {s->cli, "spool", "status", "--spool",
	    h_p("%s/nowhere", s->dir), NULL};
	assert_int_equal(h_run(s, NULL, NULL, missing), 66);
	h_pass(s);
}

/* `PROG -n -c FILE` with extra appended to FILE: its exit, stderr in err. */
static int
check_config(struct h_sys *s, const char *prog, const char *yaml,
    const char *extra, const char *err)
{
	const char *bad = h_p("%s/bad.yaml", s->dir);
	char *text = scratch_slurp(yaml, NULL);
	char *all = NULL;

	assert_true(asprintf(&all, "%s%s", text, extra) > 0);
	scratch_write(bad, all, 0600);
	free(text);
	free(all);
	const char *argv[] = {prog, "-n", "-c", bad, NULL};
	return h_run(s, NULL, err, argv);
}

static void
bad_monitoring_keys(void **state)
{
	struct h_sys *s = *state;
	const char *err = h_p("%s/bad.err", s->dir);
	char *text;
	char sock[200];

	memset(sock, 'x', 150);
	sock[150] = '\0';
	assert_int_equal(check_config(s, s->broker_bin, s->broker_yaml,
	                     h_p("control_socket: /tmp/%s\n", sock), err),
	    78);
	text = scratch_slurp(err, NULL);
	assert_non_null(strstr(text, "control_socket: '/tmp/xxx"));
	assert_non_null(strstr(text, "is longer than a unix socket's path"));
	free(text);
	assert_int_equal(check_config(s, s->broker_bin, s->broker_yaml,
	                     "metrics_interval: 10ms\n", err),
	    78);
	text = scratch_slurp(err, NULL);
	assert_non_null(strstr(text, "metrics_interval: at least 1s"));
	free(text);
	assert_int_equal(check_config(s, s->agent_bin, h_agent_yaml(s, H_MHT),
	                     "metrics_interval: soon\n", err),
	    78);
	text = scratch_slurp(err, NULL);
	assert_non_null(strstr(text, "metrics_interval"));
	free(text);
	h_pass(s);
}

static int
setup(void **state)
{
	*state = h_sys_new(policy,
	    "metrics_file: metrics.prom\nmetrics_interval: 1s\n", NULL, 1);
	return 0;
}

static int
setup_plain(void **state)
{
	*state = h_sys_new(policy, NULL, NULL, 1);
	return 0;
}

static int
teardown(void **state)
{
	h_sys_free(*state);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(status_views, setup, teardown),
	    cmocka_unit_test_setup_teardown(spool_view, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        bad_monitoring_keys, setup_plain, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
