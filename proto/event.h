/*
 * Audit events (DESIGN.md §7): the metadata-only leaves of the audit log,
 * and their exact byte encoding (the AuditEvent message of concordat.proto).
 * The broker builds events; audit/ stores and hashes their bytes; agents
 * decode the leaves carried in receipts and deliveries.
 */
#ifndef PROTO_EVENT_H
#define PROTO_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/fields.h"
#include "common/ident.h"
#include "proto/review.h"
#include "proto/wire.h"

enum event_type {
	EVENT_ACCEPTED = 1,
	EVENT_REJECTED = 2,
	EVENT_DECISION = 3,
	EVENT_DELIVERED = 4,
	EVENT_ACKNOWLEDGED = 5,
	EVENT_EXPIRED = 6,
	EVENT_POLICY_ACTIVATED = 7,
	EVENT_BROKER_STARTED = 8,
	EVENT_BROKER_STOPPED = 9,
	EVENT_CONNECTION_REFUSED = 10,
	EVENT_KEYRING_CHANGED = 11,
	EVENT_POLICY_REFUSED = 12,
	EVENT_BREAKGLASS_REVIEWED = 13, /* a guardian's review (review) */
};

#define EVENT_MAX_LIST         16   /* recipients, rules, bases, obligations */
#define EVENT_TEXT_MAX         512  /* basis, detail, peer */
#define EVENT_AGREEMENT_ID_MAX 1000 /* bytes of agreement_id */
#define EVENT_MAX_SIGNERS      64   /* an agreement's agencies at most */
#define EVENT_FINGERPRINT_LEN  40   /* key_before, key_after: 39 and a NUL */

/*
 * One audit event. Every member is optional: zero, empty strings and empty
 * lists are absent. Fixed sizes keep events free of allocation; decoding
 * refuses an encoding that does not fit (ERROR_DECODE).
 */
struct event {
	enum event_type type;
	uint64_t time_ms;
	bool has_msg_id;
	uint8_t msg_id[WIRE_MSG_ID_LEN];
	char sender[IDENT_AGENCY_MAX + 1];
	char recipient[IDENT_AGENCY_MAX + 1];
	char purpose[IDENT_NAME_MAX + 1];
	int urgency; /* enum urgency, or 0 */
	int kind;    /* enum kind, or 0 */
	bool has_subject_ref;
	uint8_t subject_ref[WIRE_REF_LEN];
	/* The manifest's pepper_id; absent in events older than it. */
	bool has_pepper_id;
	uint8_t pepper_id[WIRE_REF_LEN];
	size_t n_recipients;
	char recipients[EVENT_MAX_LIST][IDENT_AGENCY_MAX + 1];
	fieldset disclosed;
	fieldset withheld;
	size_t n_rules;
	char rules[EVENT_MAX_LIST][IDENT_NAME_MAX + 1];
	size_t n_bases;
	char bases[EVENT_MAX_LIST][EVENT_TEXT_MAX];
	size_t n_obligations;
	char obligations[EVENT_MAX_LIST][IDENT_NAME_MAX + 1];
	bool has_policy_sha256;
	uint8_t policy_sha256[32];
	bool breakglass;
	/* enum emergency_reason, or 0: never the justification itself */
	int emergency_reason;
	int reason; /* enum wire_reason, or 0 */
	char detail[EVENT_TEXT_MAX];
	char peer[EVENT_TEXT_MAX];
	uint64_t count; /* refusals an aggregate event stands for, or 0 */
	/* policy_activated and policy_refused: the agreement's id, version
	 * and the agencies whose guardians' signatures verified. */
	char agreement_id[EVENT_AGREEMENT_ID_MAX + 1];
	uint64_t agreement_version;
	size_t n_signers;
	char signers[EVENT_MAX_SIGNERS][IDENT_AGENCY_MAX + 1];
	/* keyring_changed: the fingerprint of the key (or, for a next key,
	 * of the next key) before and after; "" for none. */
	char key_before[EVENT_FINGERPRINT_LEN];
	char key_after[EVENT_FINGERPRINT_LEN];
	/* breakglass_reviewed: the signed review (proto/review.h), its
	 * agency the event's sender (members 30 to 38). */
	struct review review;
};

/*
 * Encodes ev into a new malloc'd buffer *out of *len bytes; the caller
 * frees it. Strings longer than their member's size cannot occur (the
 * struct bounds them).
 */
WUR int event_encode(const struct event *ev, uint8_t **out, size_t *len);

/*
 * Decodes exactly len bytes into *ev (zeroed first). Unknown fields,
 * over-long strings and lists, and bad lengths of fixed-size byte strings
 * are refused with ERROR_DECODE / ERROR_UNKNOWN_FIELD.
 */
WUR int event_decode(const uint8_t *buf, size_t len, struct event *ev);

/*
 * False when the encoded event buf cannot hold a pepper_id (its tag and
 * length bytes are nowhere in it): a scan for pepper ids decodes only the
 * entries this says true of. Never false for an event that has one.
 */
bool event_may_have_pepper_id(const uint8_t *buf, size_t len);

/* "accepted", "rejected", "decision", ...; "?" when out of range. */
const char *event_type_name(int type);

/* The event type named s, or 0. */
int event_type_parse(const char *s);

#endif
