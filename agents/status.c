/*
 * STATE/status.json (status.h): what only the running agent knows, for
 * `concordat spool status`. Written atomically (a temporary file renamed
 * over it) in the state folder, which the record system never writes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agents/agent_int.h"
#include "agents/spool.h"
#include "agents/state.h"
#include "agents/status.h"
#include "common/clock.h"
#include "common/log.h"

struct open_count {
	uint64_t n;
	uint64_t oldest_ms; /* sealed_at of the oldest, 0: none */
};

static int
count_open(void *arg, const struct state_msg *m)
{
	struct open_count *c = arg;

	if (m->state != STATE_PENDING)
		return 0;
	if (c->oldest_ms == 0 || m->sealed_at_ms < c->oldest_ms)
		c->oldest_ms = m->sealed_at_ms;
	return 0;
}

static json_t *
time_or_null(uint64_t ms)
{
	char buf[40];

	return ms == 0 ? json_null()
	               : json_string(clock_format(ms, buf, sizeof(buf)));
}

void
agent_status_tick(struct agent *a, uint64_t now, bool final)
{
	struct open_count oc = {0, 0};
	uint64_t wall = clock_now_ms(), used = 0, map = 0;
	json_t *o;
	int rc;

	if (a->connected)
		a->status_contact_ms = wall;
	agent_metrics_tick(a, now);
	/* A change of contact is written at once, else when due. */
	if (!final && now < a->status_due_ms &&
	    a->connected == a->status_connected)
		return;
	a->status_connected = a->connected;
	a->status_due_ms = now + AGENT_STATUS_MS;
	if (a->status_started_ms == 0)
		a->status_started_ms = wall;
	/* The count from LMDB; the oldest by a walk only while that is
	 * cheap (a walk reads every message). A failure says nothing rather
	 * than a wrong count. */
	uint64_t open_n = 0;
	bool counted = state_count_open(a->state, &open_n) == 0;
	if (counted && open_n <= AGENT_STATUS_WALK_MAX &&
	    state_each_open(a->state, count_open, &oc) != 0)
		oc.oldest_ms = 0;
	oc.n = open_n;
	if (state_usage(a->state, &used, &map) != 0)
		used = map = 0;
	o = json_pack(
	    "{s:i,s:s,s:I,s:o,s:o,s:b,s:s,s:b,s:o,s:o,s:o,s:I,s:I,s:i}",
	    "status_version", 1, "agency", a->cfg.agency, "pid",
	    (json_int_t)getpid(), "time", time_or_null(wall), "started",
	    time_or_null(a->status_started_ms), "running", !final, "broker",
	    a->cfg.broker, "connected", a->connected && !final, "last_contact",
	    time_or_null(a->status_contact_ms), "awaiting_receipt",
	    counted ? json_integer((json_int_t)oc.n) : json_null(),
	    "oldest_awaiting", time_or_null(oc.oldest_ms), "state_used_bytes",
	    (json_int_t)used, "state_map_bytes", (json_int_t)map,
	    "interval_seconds", AGENT_STATUS_MS / 1000);
	rc = o == NULL
	    ? ERROR_NOMEM
	    : spool_write_json(a->cfg.state, AGENT_STATUS_FILE, o, 0);
	json_decref(o);
	if (rc != 0 && !a->status_failing_file)
		log_warn("%s/%s not written: %s (said once)", a->cfg.state,
		    AGENT_STATUS_FILE, error_strerror(rc));
	a->status_failing_file = rc != 0;
}
