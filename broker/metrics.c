/*
 * The broker's metrics (metrics.h): counters kept as the broker runs
 * (hooks in broker.c, deliver.c and zap.c) and, every metrics_interval,
 * the status figures and those counters written to metrics_file in the
 * Prometheus text format, atomically (a temporary file in the same folder
 * renamed over it), for node_exporter's textfile collector.
 */
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/broker_int.h"
#include "broker/metrics.h"
#include "broker/status.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"

/* Upper bounds of the commit latency buckets, in seconds. */
static const double bounds[MONITOR_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

uint64_t
monitor_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#define READER_CHECK_MS 60000

void
monitor_tick(struct broker *b, uint64_t *last_reader, uint64_t now)
{
	if (now - *last_reader >= READER_CHECK_MS) {
		uint64_t used, map;
		int dead = store_reader_check(b->store);
		if (dead > 0)
			log_info("cleared %d stale LMDB reader slots", dead);
		if (store_usage(b->store, &used, &map) == 0 &&
		    used * 100 > (uint64_t)STATUS_WARN_PERCENT * map)
			log_warn("data %s is %.0f%% full (%llu of %llu MiB): "
			         "raise map_size_mb",
			    b->cfg.data, 100.0 * (double)used / (double)map,
			    (unsigned long long)(used >> 20),
			    (unsigned long long)(map >> 20));
		*last_reader = now;
	}
	metrics_tick(b, now);
}

void
monitor_redelivered(struct broker *b, struct peer *p)
{
	p->redelivered += p->inflight;
	b->mon.redelivered += p->inflight;
}

void
monitor_refused(struct broker *b)
{
	uint64_t minute = clock_mono_ms() / 60000;
	size_t i = (size_t)(minute % 60);

	b->mon.refused++;
	if (b->mon.refused_minute_no[i] != minute) {
		b->mon.refused_minute_no[i] = minute;
		b->mon.refused_minute[i] = 0;
	}
	b->mon.refused_minute[i]++;
}

void
monitor_commit(struct broker *b, uint64_t start_us, int rc)
{
	double s = (double)(monitor_now_us() - start_us) / 1e6;

	if (rc != 0) {
		b->mon.commits_failed++;
		return;
	}
	b->mon.commits++;
	b->mon.latency_sum += s;
	for (size_t i = 0; i < MONITOR_BUCKETS; i++)
		if (s <= bounds[i])
			b->mon.latency_bucket[i]++;
}

void
metrics_label(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			strbuf_addstr(sb, "\\\\");
		else if (*s == '"')
			strbuf_addstr(sb, "\\\"");
		else if (*s == '\n')
			strbuf_addstr(sb, "\\n");
		else
			strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '"');
}

static void
head(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	strbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
one(struct strbuf *sb, const char *name, const char *type, const char *help,
    uint64_t v)
{
	head(sb, name, type, help);
	strbuf_addf(sb, "%s %" PRIu64 "\n", name, v);
}

/* One sample per agency of st, of the value fn gives (skipped if < 0). */
static void
per_agency(struct strbuf *sb, const struct status *st, const char *name,
    const char *type, const char *help,
    double (*fn)(const struct status *, const struct status_agency *))
{
	head(sb, name, type, help);
	for (size_t i = 0; i < st->n_agencies; i++) {
		double v = fn(st, &st->agencies[i]);
		if (v < 0)
			continue;
		strbuf_addf(sb, "%s{agency=", name);
		metrics_label(sb, st->agencies[i].id);
		strbuf_addf(sb, "} %.15g\n", v);
	}
}

static double
depth(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return (double)a->q.items;
}

static double
messages(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return (double)a->q.deliveries;
}

static double
unacked(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return (double)a->q.sent;
}

static double
oldest_age(const struct status *st, const struct status_agency *a)
{
	if (a->q.deliveries == 0 || st->now_ms <= a->q.oldest_at_ms)
		return 0;
	return (double)(st->now_ms - a->q.oldest_at_ms) / 1000.0;
}

static double
oldest_expiry(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return a->q.deliveries == 0 ? -1
	                            : (double)a->oldest_expires_ms / 1000.0;
}

static double
connected(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return a->connected ? 1 : 0;
}

static double
in_flight(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return a->in_flight;
}

static double
redelivered(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return (double)a->redelivered;
}

static double
last_seen(const struct status *st, const struct status_agency *a)
{
	(void)st;
	return a->last_seen_ms == 0 ? -1 : (double)a->last_seen_ms / 1000.0;
}

static void
latency(struct strbuf *sb, const struct monitor *m)
{
	const char *n = "concordat_broker_commit_duration_seconds";

	head(sb, n, "histogram",
	    "Time to commit one batch (messages, audit leaves, queue) to "
	    "disk.");
	for (size_t i = 0; i < MONITOR_BUCKETS; i++)
		strbuf_addf(sb, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", n,
		    bounds[i], m->latency_bucket[i]);
	strbuf_addf(sb, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", n, m->commits);
	strbuf_addf(sb, "%s_sum %.9f\n%s_count %" PRIu64 "\n", n,
	    m->latency_sum, n, m->commits);
}

static void
agreement(struct strbuf *sb, const struct status *st)
{
	char hex[65] = "";

	head(sb, "concordat_broker_agreement_info", "gauge",
	    "The agreement in force (the log's latest policy_activated).");
	if (!st->has_agreement)
		return;
	if (st->agreement->has_policy_sha256)
		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x",
			    st->agreement->policy_sha256[i]);
	strbuf_addstr(sb, "concordat_broker_agreement_info{agreement=");
	metrics_label(sb, st->agreement->agreement_id);
	strbuf_addf(sb, ",version=\"%" PRIu64 "\",sha256=\"%s\"} 1\n",
	    st->agreement->agreement_version, hex);
}

/* The whole file's text from st and b's counters. */
static void
build(struct strbuf *sb, const struct broker *b, const struct status *st)
{
	const struct monitor *m = &b->mon;

	head(sb, "concordat_broker_start_time_seconds", "gauge",
	    "When the broker started, in seconds since the epoch.");
	strbuf_addf(sb, "concordat_broker_start_time_seconds %.3f\n",
	    (double)m->started_ms / 1000.0);
	one(sb, "concordat_broker_messages_accepted_total", "counter",
	    "Messages accepted (committed, receipt sent) since start.",
	    b->accepted);
	one(sb, "concordat_broker_messages_rejected_total", "counter",
	    "Messages rejected (refused by policy or checks) since start.",
	    b->rejected);
	one(sb, "concordat_broker_messages_delivered_total", "counter",
	    "Deliveries acknowledged by their recipient since start.",
	    m->delivered);
	one(sb, "concordat_broker_redeliveries_total", "counter",
	    "Deliveries sent again for want of an acknowledgement.",
	    m->redelivered);
	one(sb, "concordat_broker_connections_refused_total", "counter",
	    "Handshakes refused (unknown or revoked keys) since start.",
	    m->refused);
	one(sb, "concordat_broker_connections_refused_last_hour", "gauge",
	    "Handshakes refused in the last hour.", st->refused_hour);
	one(sb, "concordat_broker_commits_failed_total", "counter",
	    "Batches whose commit failed (their messages refused, retryable).",
	    m->commits_failed);
	latency(sb, m);
	one(sb, "concordat_broker_storage_used_bytes", "gauge",
	    "Bytes of the store in use (pages less those free for reuse).",
	    st->used);
	one(sb, "concordat_broker_storage_map_bytes", "gauge",
	    "The store's map size (map_size_mb): the most it can hold.",
	    st->mapsize);
	one(sb, "concordat_broker_storage_full", "gauge",
	    "1 while new messages are refused for want of storage.",
	    b->full ? 1 : 0);
	one(sb, "concordat_broker_audit_log_leaves", "gauge",
	    "Events in the audit log.", st->log_size);
	agreement(sb, st);
	if (st->has_reviews)
		one(sb, "concordat_broker_breakglass_reviews_overdue", "gauge",
		    "Break-glass decisions not reviewed within the agreement's "
		    "review_breakglass_within.",
		    st->reviews_overdue);
	per_agency(sb, st, "concordat_broker_queue_depth", "gauge",
	    "Items queued for the agency (deliveries and status reports).",
	    depth);
	per_agency(sb, st, "concordat_broker_queue_messages", "gauge",
	    "Messages queued for the agency, not yet acknowledged.", messages);
	per_agency(sb, st, "concordat_broker_queue_unacknowledged", "gauge",
	    "Items sent to the agency at least once, not yet acknowledged.",
	    unacked);
	per_agency(sb, st, "concordat_broker_queue_oldest_age_seconds", "gauge",
	    "Age of the oldest message queued for the agency (0: none).",
	    oldest_age);
	per_agency(sb, st,
	    "concordat_broker_queue_oldest_expiry_timestamp_seconds", "gauge",
	    "When the oldest message queued for the agency expires.",
	    oldest_expiry);
	per_agency(sb, st, "concordat_broker_agency_connected", "gauge",
	    "1 while the agency's agent is connected.", connected);
	per_agency(sb, st, "concordat_broker_agency_in_flight", "gauge",
	    "Items sent on the agency's connection, not yet acknowledged.",
	    in_flight);
	per_agency(sb, st, "concordat_broker_agency_redeliveries_total",
	    "counter", "Items sent again to the agency since start.",
	    redelivered);
	per_agency(sb, st,
	    "concordat_broker_agency_last_seen_timestamp_seconds", "gauge",
	    "When the broker last heard from the agency's agent.", last_seen);
}

static int
write_file(const char *path, const struct strbuf *sb)
{
	char d[PATH_MAX], f[PATH_MAX];

	snprintf(d, sizeof(d), "%s", path);
	snprintf(f, sizeof(f), "%s", path);
	return fileio_write_atomic(
	    dirname(d), basename(f), sb->buf, sb->len, 0644, 0);
}

void
metrics_tick(struct broker *b, uint64_t now_ms)
{
	struct status *st = NULL;
	struct strbuf sb;
	int rc;

	if (b->cfg.metrics_file[0] == '\0' || now_ms < b->mon.metrics_due_ms)
		return;
	b->mon.metrics_due_ms = now_ms + b->cfg.metrics_interval_ms;
	strbuf_init(&sb);
	if ((rc = monitor_status(b, &st)) == 0) {
		build(&sb, b, st);
		rc = strbuf_error(&sb);
	}
	if (rc == 0)
		rc = write_file(b->cfg.metrics_file, &sb);
	if (rc != 0 && rc != b->mon.metrics_err)
		log_err("metrics %s not written: %s (said once until it "
		        "changes)",
		    b->cfg.metrics_file, error_strerror(rc));
	else if (rc == 0 && b->mon.metrics_err != 0)
		log_info("metrics %s written again", b->cfg.metrics_file);
	b->mon.metrics_err = rc;
	status_free(st);
	strbuf_release(&sb);
}
