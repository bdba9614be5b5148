/*
 * The figures of `concordat status` (status.h): one read transaction over
 * the queue and the audit log, and the JSON document both the verb and the
 * broker's control socket write. No stream is written here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "broker/status.h"
#include "common/clock.h"

void
status_free(struct status *st)
{
	if (st == NULL)
		return;
	free(st->agreement);
	free(st->agencies);
	free(st);
}

struct status_agency *
status_agency(struct status *st, const char *id)
{
	for (size_t i = 0; i < st->n_agencies; i++)
		if (strcmp(st->agencies[i].id, id) == 0)
			return &st->agencies[i];
	return NULL;
}

static struct status_agency *
add_agency(struct status *st, const char *id)
{
	struct status_agency *a = status_agency(st, id), *n;

	if (a != NULL)
		return a;
	n = realloc(st->agencies, (st->n_agencies + 1) * sizeof(*n));
	if (n == NULL)
		return NULL;
	st->agencies = n;
	a = &n[st->n_agencies++];
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	return a;
}

/* The queue's clock to the wall clock, by the offset last saved. */
static uint64_t
to_wall(uint64_t q, bool known, uint64_t qclock, uint64_t wall)
{
	if (!known || q == 0)
		return q;
	if (wall >= qclock)
		return q + (wall - qclock);
	return q > qclock - wall ? q - (qclock - wall) : 0;
}

static int
agreement_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct status *st = arg;

	(void)seq;
	memcpy(st->agreement, ev, sizeof(*ev));
	st->has_agreement = true;
	return 0;
}

static int
refused_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct status *st = arg;

	(void)seq;
	st->refused_hour += ev->count > 0 ? ev->count : 1;
	return 0;
}

static int
activity_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct status_agency *a = arg;
	bool its =
	    (ev->type == EVENT_ACCEPTED && strcmp(ev->sender, a->id) == 0) ||
	    (ev->type == EVENT_ACKNOWLEDGED &&
	        strcmp(ev->recipient, a->id) == 0);

	(void)seq;
	if (its && ev->time_ms > a->last_activity_ms)
		a->last_activity_ms = ev->time_ms;
	return 0;
}

static int
from_log(struct status *st, struct store *s, MDB_txn *txn, unsigned flags)
{
	struct audit *a = store_audit(s);
	struct audit_filter f;
	int rc;

	snprintf(st->origin, sizeof(st->origin), "%s", audit_origin(a));
	if ((rc = audit_size(a, txn, &st->log_size)) != 0)
		return rc;
	memset(&f, 0, sizeof(f));
	f.type = EVENT_POLICY_ACTIVATED;
	if ((rc = audit_query(a, txn, &f, agreement_row, st, NULL)) != 0)
		return rc;
	memset(&f, 0, sizeof(f));
	f.type = EVENT_CONNECTION_REFUSED;
	f.since_ms =
	    st->now_ms > STATUS_HOUR_MS ? st->now_ms - STATUS_HOUR_MS : 0;
	if ((rc = audit_query(a, txn, &f, refused_row, st, NULL)) != 0)
		return rc;
	for (size_t i = 0; !(flags & STATUS_NO_ACTIVITY) && i < st->n_agencies;
	     i++) {
		memset(&f, 0, sizeof(f));
		f.agency = st->agencies[i].id;
		f.since_ms = st->now_ms > STATUS_ACTIVITY_MS
		    ? st->now_ms - STATUS_ACTIVITY_MS
		    : 0;
		rc = audit_query(
		    a, txn, &f, activity_row, &st->agencies[i], NULL);
		if (rc != 0)
			return rc;
	}
	return ERROR_OK;
}

static int
from_queue(struct status *st, struct store *s, MDB_txn *txn)
{
	struct store_queue_stat *qs = NULL;
	uint64_t qclock = 0, wall = 0;
	bool known;
	size_t n = 0;
	int rc;

	rc = store_clock_get(s, txn, &qclock, &wall);
	if (rc != 0 && rc != ERROR_NOTFOUND)
		return rc;
	known = rc == 0;
	if ((rc = store_queue_stats(s, txn, &qs, &n)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct status_agency *a = add_agency(st, qs[i].agency);
		if (a == NULL) {
			rc = ERROR_NOMEM;
			break;
		}
		a->q = qs[i];
		a->oldest_expires_ms =
		    to_wall(qs[i].oldest_expires_ms, known, qclock, wall);
		a->next_expiry_ms =
		    to_wall(qs[i].next_expiry_ms, known, qclock, wall);
	}
	free(qs);
	return rc;
}

int
status_gather(struct store *s, const struct keyring *kr, uint64_t now_ms,
    unsigned flags, struct status **out)
{
	struct status *st;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->agreement = calloc(1, sizeof(*st->agreement))) == NULL) {
		status_free(st);
		return ERROR_NOMEM;
	}
	st->now_ms = now_ms;
	for (size_t i = 0; kr != NULL && i < keyring_count(kr); i++) {
		const struct keys_public *p = keyring_at(kr, i);
		struct status_agency *a = add_agency(st, p->id);
		if (a == NULL) {
			rc = ERROR_NOMEM;
			goto out;
		}
		snprintf(a->fingerprint, sizeof(a->fingerprint), "%s",
		    p->fingerprint);
	}
	/* Before the transaction: counting free pages takes one of its own. */
	if ((rc = store_usage(s, &st->used, &st->mapsize)) != 0 ||
	    (rc = store_begin(s, false, &txn)) != 0)
		goto out;
	if ((rc = from_queue(st, s, txn)) == 0)
		rc = from_log(st, s, txn, flags);
out:
	if (txn != NULL)
		store_abort(txn);
	if (rc != 0)
		status_free(st);
	else
		*out = st;
	return rc;
}

/* ------------------------------------------------------------- JSON */

void
status_json_string(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addf(sb, "\\%c", *p);
		else if (*p == '\n')
			strbuf_addstr(sb, "\\n");
		else if (*p < 0x20 || *p == 0x7f)
			strbuf_addf(sb, "\\u%04x", *p);
		else
			strbuf_addch(sb, (char)*p);
	}
	strbuf_addch(sb, '"');
}

/* "name": time, or null for 0. */
static void
time_member(struct strbuf *sb, const char *name, uint64_t ms)
{
	char buf[40];

	strbuf_addf(sb, ",\"%s\":", name);
	if (ms == 0)
		strbuf_addstr(sb, "null");
	else
		strbuf_addf(sb, "\"%s\"", clock_format(ms, buf, sizeof(buf)));
}

static void
agreement_json(const struct status *st, struct strbuf *sb)
{
	const struct event *ev = st->agreement;
	char hex[65];

	strbuf_addstr(sb, ",\"agreement\":");
	if (!st->has_agreement) {
		strbuf_addstr(sb, "null");
		return;
	}
	strbuf_addstr(sb, "{\"id\":");
	status_json_string(sb, ev->agreement_id);
	strbuf_addf(
	    sb, ",\"version\":%" PRIu64 ",\"sha256\":", ev->agreement_version);
	if (ev->has_policy_sha256) {
		sodium_bin2hex(hex, sizeof(hex), ev->policy_sha256, 32);
		strbuf_addf(sb, "\"%s\"", hex);
	} else {
		strbuf_addstr(sb, "null");
	}
	strbuf_addstr(sb, ",\"signers\":[");
	for (size_t i = 0; i < ev->n_signers; i++) {
		if (i > 0)
			strbuf_addch(sb, ',');
		status_json_string(sb, ev->signers[i]);
	}
	strbuf_addch(sb, ']');
	time_member(sb, "activated", ev->time_ms);
	strbuf_addch(sb, '}');
}

static void
storage_json(const struct status *st, struct strbuf *sb)
{
	double pct = st->mapsize > 0
	    ? 100.0 * (double)st->used / (double)st->mapsize
	    : 0.0;
	const char *state = pct > STATUS_FULL_PERCENT ? "full"
	    : pct > STATUS_WARN_PERCENT               ? "warn"
	                                              : "ok";

	strbuf_addf(sb,
	    ",\"storage\":{\"used_bytes\":%" PRIu64 ",\"map_bytes\":%" PRIu64
	    ",\"used_percent\":%.1f,\"warn_percent\":%d,"
	    "\"full_percent\":%d,\"state\":\"%s\"}",
	    st->used, st->mapsize, pct, STATUS_WARN_PERCENT,
	    STATUS_FULL_PERCENT, state);
}

static void
agency_json(
    const struct status *st, const struct status_agency *a, struct strbuf *sb)
{
	strbuf_addstr(sb, "{\"agency\":");
	status_json_string(sb, a->id);
	strbuf_addstr(sb, ",\"fingerprint\":");
	if (a->fingerprint[0] != '\0')
		status_json_string(sb, a->fingerprint);
	else
		strbuf_addstr(sb, "null");
	strbuf_addf(
	    sb, ",\"in_keyring\":%s", a->fingerprint[0] ? "true" : "false");
	if (st->live) {
		strbuf_addf(
		    sb, ",\"connected\":%s", a->connected ? "true" : "false");
		time_member(sb, "last_seen", a->last_seen_ms);
	} else {
		strbuf_addstr(sb, ",\"connected\":null");
		time_member(sb, "last_seen", 0);
	}
	time_member(sb, "last_activity", a->last_activity_ms);
	strbuf_addf(sb,
	    ",\"queued\":%" PRIu64 ",\"deliveries\":%" PRIu64
	    ",\"statuses\":%" PRIu64 ",\"sent_unacknowledged\":%" PRIu64,
	    a->q.items, a->q.deliveries, a->q.statuses, a->q.sent);
	time_member(
	    sb, "oldest_queued", a->q.deliveries > 0 ? a->q.oldest_at_ms : 0);
	if (a->q.deliveries > 0 && st->now_ms > a->q.oldest_at_ms)
		strbuf_addf(sb, ",\"oldest_age_seconds\":%" PRIu64,
		    (st->now_ms - a->q.oldest_at_ms) / 1000);
	else if (a->q.deliveries > 0)
		strbuf_addstr(sb, ",\"oldest_age_seconds\":0");
	else
		strbuf_addstr(sb, ",\"oldest_age_seconds\":null");
	time_member(sb, "oldest_expires", a->oldest_expires_ms);
	time_member(sb, "next_expiry", a->next_expiry_ms);
	if (st->live)
		strbuf_addf(sb, ",\"in_flight\":%u,\"redelivered\":%" PRIu64,
		    a->in_flight, a->redelivered);
	else
		strbuf_addstr(sb, ",\"in_flight\":null,\"redelivered\":null");
	strbuf_addch(sb, '}');
}

void
status_json(const struct status *st, const char *data, struct strbuf *sb)
{
	strbuf_addf(sb, "{\"status_version\":1,\"source\":\"%s\"",
	    st->live ? "broker" : "data");
	time_member(sb, "time", st->now_ms);
	strbuf_addstr(sb, ",\"data\":");
	status_json_string(sb, data != NULL ? data : "");
	strbuf_addstr(sb, ",\"origin\":");
	status_json_string(sb, st->origin);
	strbuf_addf(sb, ",\"log_size\":%" PRIu64, st->log_size);
	if (st->live) {
		strbuf_addf(sb, ",\"broker\":{\"pid\":%ld", st->pid);
		time_member(sb, "started", st->started_ms);
		strbuf_addf(sb,
		    ",\"accepted\":%" PRIu64 ",\"rejected\":%" PRIu64
		    ",\"delivered\":%" PRIu64 "}",
		    st->accepted, st->rejected, st->delivered);
	} else {
		strbuf_addstr(sb, ",\"broker\":null");
	}
	agreement_json(st, sb);
	storage_json(st, sb);
	strbuf_addf(sb, ",\"refused_connections_last_hour\":%" PRIu64,
	    st->refused_hour);
	status_reviews_json(st, sb);
	strbuf_addstr(sb, ",\"agencies\":[");
	for (size_t i = 0; i < st->n_agencies; i++) {
		if (i > 0)
			strbuf_addch(sb, ',');
		agency_json(st, &st->agencies[i], sb);
	}
	strbuf_addstr(sb, "]}\n");
}
