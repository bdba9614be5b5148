/*
 * Private to broker/: what the running broker counts for monitoring (its
 * control socket, control.c, and its metrics file, metrics.c), kept in
 * struct broker. broker.c, deliver.c and zap.c call the hooks below; each
 * is cheap and never fails.
 */
#ifndef BROKER_MONITOR_INT_H
#define BROKER_MONITOR_INT_H

#include <stdbool.h>
#include <stdint.h>

/* Commit latency buckets, upper bounds in seconds (metrics.c). */
#define MONITOR_BUCKETS 12

struct monitor {
	int control_fd;      /* the listening control socket, or -1 */
	bool control_open;   /* control_fd is open (b starts zeroed) */
	uint64_t started_ms; /* wall clock */
	uint64_t delivered;  /* deliveries acknowledged by their recipient */
	uint64_t redelivered;
	uint64_t refused;                 /* handshakes refused since start */
	uint64_t refused_minute[60];      /* per minute of the last hour, */
	uint64_t refused_minute_no[60];   /* numbered mono_ms / 60000 */
	uint64_t commits, commits_failed; /* of batches */
	uint64_t latency_bucket[MONITOR_BUCKETS]; /* commits at or below */
	double latency_sum;                       /* seconds */
	uint64_t metrics_due_ms;                  /* monotonic */
	int metrics_err; /* the last write's, logged once */
};

struct broker;
struct status;

/* control.c: the status with the broker's live figures (status.h);
 * the caller frees *out with status_free. */
int monitor_status(struct broker *b, struct status **out);

/* control.c: opens b->cfg.control_socket (logs why not); at stop closes
 * and removes it; answers one client when revents (of control_fd's poll
 * item) says the socket is readable. */
void control_start(struct broker *b);
void control_stop(struct broker *b);
void control_handle(struct broker *b, short revents);

/* metrics.c: hooks, and the metrics file rewritten when due (timers). */
void monitor_refused(struct broker *b);
void monitor_commit(struct broker *b, uint64_t start_us, int rc);
void metrics_tick(struct broker *b, uint64_t now_ms);
struct peer;
void monitor_redelivered(struct broker *b, struct peer *p);
/* Every tick (monotonic now): stale LMDB readers cleared and the store's
 * usage warned of once a minute (*last_reader), the metrics when due. */
void monitor_tick(struct broker *b, uint64_t *last_reader, uint64_t now);
/* Microseconds of the monotonic clock, for monitor_commit. */
uint64_t monitor_now_us(void);

#endif
