/*
 * What `concordat status` shows and the control socket answers (DESIGN.md
 * §9 monitoring): per agency its key, queue and contact, the agreement in
 * force, the store against its map and refused connections, gathered from
 * the store in one read transaction and written as one JSON document. The
 * running broker adds what only it knows (control.c); the format is
 * documented in docs/man/concordat.1 and not changed lightly.
 */
#ifndef BROKER_STATUS_H
#define BROKER_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "keys/keys.h"
#include "proto/event.h"

/* The thresholds of DESIGN.md §9: warn above, refuse new messages above. */
#define STATUS_WARN_PERCENT 80
#define STATUS_FULL_PERCENT 90
/* How far back the log is searched for an agency's last activity. */
#define STATUS_ACTIVITY_MS (7ull * 24 * 3600 * 1000)
#define STATUS_HOUR_MS     (3600ull * 1000)

struct status_agency {
	char id[IDENT_AGENCY_MAX + 1];
	char fingerprint[KEYS_FINGERPRINT]; /* "" when not in the keyring */
	struct store_queue_stat q;          /* zero when nothing is queued */
	uint64_t oldest_expires_ms;         /* wall clock, 0: none queued */
	uint64_t next_expiry_ms;            /* wall clock, 0: none queued */
	uint64_t last_activity_ms; /* its last accepted/acknowledged event
	                            * in STATUS_ACTIVITY_MS; 0: none */
	/* Live (st->live): the running broker's own. */
	bool connected;
	uint64_t last_seen_ms; /* wall clock of its last frame; 0: none */
	unsigned in_flight;
	uint64_t redelivered;
};

struct status {
	bool live; /* from the running broker (control socket) */
	uint64_t now_ms;
	char origin[128];
	uint64_t log_size;
	bool has_agreement; /* the latest policy_activated event's */
	struct event *agreement;
	uint64_t used, mapsize; /* bytes */
	uint64_t refused_hour;  /* connections refused in the last hour */
	size_t n_agencies;
	struct status_agency *agencies;
	/* Live only. */
	long pid;
	uint64_t started_ms;
	uint64_t accepted, rejected, delivered; /* since start */
	/* Live only (status_review.c): the agreement's review deadline,
	 * the break-glass decisions past it with no review, the oldest's
	 * time. has_reviews is false when no rule obliges a review. */
	bool has_reviews;
	uint64_t review_within_ms, reviews_overdue, reviews_oldest_ms;
};

/*
 * Gathers *out from s (a reader's or the broker's own store, with no
 * transaction of this thread open) at now_ms: every agency of kr (NULL:
 * only those with something queued), then any other agency with a queue.
 * With STATUS_NO_ACTIVITY the log is not searched for each agency's last
 * activity (the broker knows when it last saw each). The caller frees
 * *out with status_free. Errors as the store's.
 */
#define STATUS_NO_ACTIVITY 0x1 /* skip last_activity (the log search) */
WUR int status_gather(struct store *s, const struct keyring *kr,
    uint64_t now_ms, unsigned flags, struct status **out);
void status_free(struct status *st);

/*
 * status_review.c: fills st's review members from s's log for a deadline
 * of within_ms (0: none obliged); with no transaction of this thread open.
 * status_reviews_json appends the "breakglass_reviews" member.
 */
WUR int status_reviews(struct status *st, struct store *s, uint64_t within_ms);
void status_reviews_json(const struct status *st, struct strbuf *sb);

/* The agency id in st, or NULL. */
struct status_agency *status_agency(struct status *st, const char *id);

/* Appends st as one JSON object and a newline (the format of --json and
 * of the control socket). */
void status_json(const struct status *st, const char *data, struct strbuf *sb);

/* Appends s as a JSON string, quoted and escaped (RFC 8259 §7). */
void status_json_string(struct strbuf *sb, const char *s);

#endif
