/*
 * The agent's metrics file (metrics_file in agent.yaml): the Prometheus
 * text exposition format for node_exporter's textfile collector, written
 * atomically every metrics_interval from agent_status_tick (status.c):
 * contact with the broker, what waits in the spool and the state.
 */
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "agents/agent_int.h"
#include "agents/spoolstat.h"
#include "agents/state.h"
#include "agents/status.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/strbuf.h"

struct awaiting {
	uint64_t n, oldest_ms;
};

static int
count_pending(void *arg, const struct state_msg *m)
{
	struct awaiting *w = arg;

	if (m->state == STATE_PENDING) {
		if (w->oldest_ms == 0 || m->sealed_at_ms < w->oldest_ms)
			w->oldest_ms = m->sealed_at_ms;
	}
	return 0;
}

/* One sample with HELP and TYPE, labelled with the agency (an agency id
 * needs no escaping: [a-z][a-z0-9_]*). */
static void
sample(struct strbuf *sb, const struct agent *a, const char *name,
    const char *type, const char *help, double v)
{
	strbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n%s{agency=\"%s\"} %.15g\n",
	    name, help, name, type, name, a->cfg.agency, v);
}

static double
age_s(uint64_t now, uint64_t ms)
{
	return ms == 0 || now <= ms ? 0 : (double)(now - ms) / 1000.0;
}

static void
build(struct agent *a, struct strbuf *sb, uint64_t wall)
{
	static const char *const subs[] = {
	    "outbox", "failed", "alerts", "inbox"};
	static const int dirs[] = {
	    DIR_OUTBOX, DIR_FAILED, DIR_ALERTS, DIR_INBOX};
	struct awaiting w = {0, 0};
	uint64_t used = 0, map = 0, n, oldest;
	char name[96], help[160];

	sample(sb, a, "concordat_agent_connected", "gauge",
	    "1 while the agent is connected to the broker.", a->connected);
	sample(sb, a, "concordat_agent_last_contact_timestamp_seconds", "gauge",
	    "When the agent was last seen connected to the broker.",
	    (double)a->status_contact_ms / 1000.0);
	if (state_count_open(a->state, &w.n) == 0) {
		if (w.n > AGENT_STATUS_WALK_MAX ||
		    state_each_open(a->state, count_pending, &w) != 0)
			w.oldest_ms = 0;
		sample(sb, a, "concordat_agent_awaiting_receipt", "gauge",
		    "Messages sent without the broker's final receipt yet.",
		    (double)w.n);
		sample(sb, a, "concordat_agent_awaiting_oldest_age_seconds",
		    "gauge", "Age of the oldest message awaiting a receipt.",
		    age_s(wall, w.oldest_ms));
	}
	for (size_t i = 0; i < 4; i++) {
		if (spoolstat_count(a->dir[dirs[i]], &n, &oldest) != 0)
			continue;
		snprintf(
		    name, sizeof(name), "concordat_agent_%s_files", subs[i]);
		snprintf(
		    help, sizeof(help), "Files in the spool's %s/.", subs[i]);
		sample(sb, a, name, "gauge", help, (double)n);
		if (dirs[i] == DIR_OUTBOX)
			sample(sb, a,
			    "concordat_agent_outbox_oldest_age_seconds",
			    "gauge",
			    "Age of the oldest record waiting in outbox/.",
			    age_s(wall, oldest));
	}
	if (state_usage(a->state, &used, &map) == 0) {
		sample(sb, a, "concordat_agent_state_used_bytes", "gauge",
		    "Bytes of the agent's state in use.", (double)used);
		sample(sb, a, "concordat_agent_state_map_bytes", "gauge",
		    "The agent state's map size (map_size_mb).", (double)map);
	}
}

void
agent_metrics_tick(struct agent *a, uint64_t now)
{
	char d[PATH_MAX], f[PATH_MAX];
	struct strbuf sb;
	int rc;

	if (a->cfg.metrics_file[0] == '\0' || now < a->metrics_due_ms)
		return;
	a->metrics_due_ms = now + a->cfg.metrics_interval_ms;
	strbuf_init(&sb);
	build(a, &sb, clock_now_ms());
	snprintf(d, sizeof(d), "%s", a->cfg.metrics_file);
	snprintf(f, sizeof(f), "%s", a->cfg.metrics_file);
	rc = strbuf_error(&sb);
	if (rc == 0)
		rc = fileio_write_atomic(
		    dirname(d), basename(f), sb.buf, sb.len, 0644, 0);
	if (rc != 0 && rc != a->metrics_err)
		log_err("metrics %s not written: %s (said once until it "
		        "changes)",
		    a->cfg.metrics_file, error_strerror(rc));
	a->metrics_err = rc;
	strbuf_release(&sb);
}
