/*
 * Private to agents/: the state of a running concordat-agent, shared by its
 * loop (agent.c), the outbox side (outbox.c), the inbox side (inbox.c) and
 * the checking of the broker's audit proofs (trust.c).
 */
#ifndef AGENTS_AGENT_INT_H
#define AGENTS_AGENT_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agents/agent.h"
#include "agents/state.h"
#include "audit/checkpoint.h"
#include "keys/keys.h"
#include "proto/event.h"
#include "proto/wire.h"

struct outwatch;

struct agent {
	struct agent_config cfg;
	struct keys_secret *key;
	struct keys_public broker;
	struct keyring *keyring;
	uint8_t *pepper;
	struct state *state;
	char origin[128]; /* of the broker's checkpoints */

	/* crypto_box_beforenm per keyring agency, computed when first used */
	uint8_t (*shared)[32]; /* sodium_malloc'd, keyring_count entries */
	bool *have_shared;

	void *ctx, *dealer, *monitor;
	int inotify; /* watches outbox/ (OUTWATCH_EVENTS), or -1 */
	struct outwatch *outwatch; /* what is in outbox/ (outwatch.h) */
	bool connected;
	uint64_t last_send_ms; /* monotonic, of the last (re)send round */

	bool have_trusted;
	struct checkpoint trusted;
	bool proof_pending;

	char dir[7][PATH_MAX]; /* outbox, tmp, sent, failed, inbox, ... */

	/*
	 * Room in the state (agent.c): while it is short, new outbox records
	 * wait in outbox/, said once in the log. Above 90% of the map until
	 * under 85% (full_usage); or a commit refused for want of space
	 * (full_refused), tried again on a timer with backoff, one record at
	 * a time (probing) until a whole scan stores without a refusal.
	 * Times are monotonic.
	 */
	bool full_usage, full_refused, probing, probe_ok, full_logged;
	uint64_t store_retry_ms, store_backoff_ms;
	uint64_t usage_warned_ms; /* the last warning above 80% */
	/* Moves to sent/ or failed/ that failed (outbox.c), on a timer. */
	bool moves_failing;
	uint64_t moves_retry_ms, moves_backoff_ms;
	/* Status reports that could not be written to receipts/ (inbox.c). */
	bool status_failing;
};

enum {
	DIR_OUTBOX,
	DIR_TMP,
	DIR_SENT,
	DIR_FAILED,
	DIR_INBOX,
	DIR_RECEIPTS,
	DIR_ALERTS
};

/* agent.c */
/* Sends a frame now if connected; a failure is not an error: pending
 * messages are resent on the next connection. */
int agent_send(struct agent *a, const uint8_t *frame, size_t len);
/* True once SIGTERM or SIGINT came: long walks stop early. */
bool agent_stopping(void);
/* True when the state has room for new outbox records now. */
bool agent_may_store(struct agent *a);
/* Measures the state's use of its map: warns, stops or resumes storing. */
void agent_check_usage(struct agent *a);
/*
 * How many of the sealed ms[0 .. n-1] fit in the state below 90% of its
 * map; when not all, new records wait (full_usage, said once).
 */
size_t agent_room(struct agent *a, const struct state_msg *ms, size_t n);
/* A commit refused with rc: when storage is short, wait (logged once). */
void agent_store_refused(struct agent *a, int rc);
/* A commit of new records succeeded. */
void agent_store_ok(struct agent *a);
/* An outbox scan ended: if it stored without a refusal, room is back. */
void agent_scan_done(struct agent *a);
/* True for the errors that mean storage is full: MAPFULL, NOSPC. */
bool agent_storage_full(int rc);
/* The next delay of a backoff: 1 s, doubling, at most 60 s. */
uint64_t agent_backoff(uint64_t prev_ms);
WUR int agent_shared(struct agent *a, const char *peer, uint8_t out[32]);
/* Writes obj as DIR/name durably (temporary name, fsync, rename). */
WUR int agent_write_json(const char *dir, const char *name, json_t *obj);

/* outbox.c */
/* Reads the outbox's inotify events (a->inotify) into a->outwatch. */
void outbox_notified(struct agent *a);
/* Takes every outbox entry that is complete, after listing the folder
 * again when rescan is set. */
void outbox_scan(struct agent *a, bool rescan);
void outbox_resend(struct agent *a);
void outbox_recover(struct agent *a);
void outbox_receipt(struct agent *a, const struct wire_receipt *r);
/* Tries the moves that failed again (a->moves_failing, on its timer). */
void outbox_retry_moves(struct agent *a);

/* inbox.c */
void inbox_delivery(struct agent *a, const struct wire_delivery *d);
/*
 * A frame from the broker that did not decode (why): a delivery whose
 * msg_id can still be read is reported in alerts/ and acknowledged, never
 * written to inbox/; anything else is logged.
 */
void inbox_unreadable(
    struct agent *a, const uint8_t *buf, size_t len, const char *why);
void inbox_status(struct agent *a, const struct wire_status *s);
void inbox_recover(struct agent *a);

/* trust.c */
/*
 * Checks an audit proof from the broker: the checkpoint's signature under
 * the broker's key, the leaf's inclusion under it; decodes the leaf into
 * *ev. Asks for a consistency proof when the checkpoint is newer than the
 * one trusted. Returns 0 when all held.
 */
WUR int trust_check(struct agent *a, const struct wire_audit_proof *p,
    struct event *ev, struct checkpoint *cp);
/* A Proof frame answering our ProofRequest. */
void trust_proof(struct agent *a, const struct wire_proof *p);
/* Sends a ProofRequest for the trusted size (on connect). */
void trust_hello(struct agent *a);
/* Logs loudly and writes an alert file. */
void trust_alert(struct agent *a, const char *what, const char *detail);
/*
 * Writes obj durably into alerts/ as STEM.json, or STEM-TAG.json when that
 * is taken (fileio_write_unique): an alert never replaces another.
 */
WUR int trust_alert_file(struct agent *a, const char *stem, json_t *obj);

/* A JSON list of the names in set; of n strings of width w at base. */
json_t *agent_fields_json(fieldset set);
json_t *agent_strings_json(const char *base, size_t w, size_t n);

/* Hex of a msg_id (33 bytes). */
void agent_hex_id(const uint8_t id[WIRE_MSG_ID_LEN], char out[33]);

#endif
