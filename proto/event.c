/*
 * Audit events to and from their leaf bytes (the AuditEvent message). The
 * broker encodes; audit/ and the agents decode.
 */
#include <stdlib.h>
#include <string.h>

#include "common/urgency.h"
#include "proto/event.h"
#include "proto/pbutil.h"
#include "proto/wire_int.h"

static const char *const type_names[] = {
    NULL,
    "accepted",
    "rejected",
    "decision",
    "delivered",
    "acknowledged",
    "expired",
    "policy_activated",
    "broker_started",
    "broker_stopped",
    "connection_refused",
    "keyring_changed",
    "policy_refused",
    "breakglass_reviewed",
};
#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *
event_type_name(int type)
{
	if (type < 1 || (size_t)type >= N_TYPES)
		return "?";
	return type_names[type];
}

int
event_type_parse(const char *s)
{
	for (size_t i = 1; i < N_TYPES; i++)
		if (strcmp(s, type_names[i]) == 0)
			return (int)i;
	return 0;
}

/* A string member for packing: NULL when empty, so absent on the wire. */
static char *
opt(const char *s)
{
	return s[0] != '\0' ? (char *)(uintptr_t)s : NULL;
}

int
event_encode(const struct event *ev, uint8_t **out, size_t *len)
{
	Concordat__AuditEvent m = CONCORDAT__AUDIT_EVENT__INIT;
	char *recipients[EVENT_MAX_LIST], *rules[EVENT_MAX_LIST];
	char *bases[EVENT_MAX_LIST], *obligations[EVENT_MAX_LIST];
	char *signers[EVENT_MAX_SIGNERS];

	if (ev->n_recipients > EVENT_MAX_LIST || ev->n_rules > EVENT_MAX_LIST ||
	    ev->n_bases > EVENT_MAX_LIST ||
	    ev->n_obligations > EVENT_MAX_LIST ||
	    ev->n_signers > EVENT_MAX_SIGNERS)
		return ERROR_INVAL;
	m.has_type = 1;
	m.type = (Concordat__EventType)ev->type;
	m.has_time_ms = 1;
	m.time_ms = ev->time_ms;
	if (ev->has_msg_id) {
		m.has_msg_id = 1;
		m.msg_id.data = (uint8_t *)(uintptr_t)ev->msg_id;
		m.msg_id.len = WIRE_MSG_ID_LEN;
	}
	m.sender = opt(ev->sender);
	m.recipient = opt(ev->recipient);
	m.purpose = opt(ev->purpose);
	if (ev->urgency) {
		m.has_urgency = 1;
		m.urgency = (Concordat__Urgency)ev->urgency;
	}
	if (ev->kind) {
		m.has_kind = 1;
		m.kind = (Concordat__Kind)ev->kind;
	}
	if (ev->has_subject_ref) {
		m.has_subject_ref = 1;
		m.subject_ref.data = (uint8_t *)(uintptr_t)ev->subject_ref;
		m.subject_ref.len = WIRE_REF_LEN;
	}
	if (ev->has_pepper_id) {
		m.has_pepper_id = 1;
		m.pepper_id.data = (uint8_t *)(uintptr_t)ev->pepper_id;
		m.pepper_id.len = WIRE_REF_LEN;
	}
	for (size_t i = 0; i < ev->n_recipients; i++)
		recipients[i] = (char *)(uintptr_t)ev->recipients[i];
	m.n_recipients = ev->n_recipients;
	m.recipients = recipients;
	if (ev->type == EVENT_DECISION || ev->disclosed || ev->withheld) {
		m.has_disclosed = m.has_withheld = 1;
		m.disclosed = ev->disclosed;
		m.withheld = ev->withheld;
	}
	for (size_t i = 0; i < ev->n_rules; i++)
		rules[i] = (char *)(uintptr_t)ev->rules[i];
	m.n_rules = ev->n_rules;
	m.rules = rules;
	for (size_t i = 0; i < ev->n_bases; i++)
		bases[i] = (char *)(uintptr_t)ev->bases[i];
	m.n_bases = ev->n_bases;
	m.bases = bases;
	for (size_t i = 0; i < ev->n_obligations; i++)
		obligations[i] = (char *)(uintptr_t)ev->obligations[i];
	m.n_obligations = ev->n_obligations;
	m.obligations = obligations;
	if (ev->has_policy_sha256) {
		m.has_policy_sha256 = 1;
		m.policy_sha256.data = (uint8_t *)(uintptr_t)ev->policy_sha256;
		m.policy_sha256.len = sizeof(ev->policy_sha256);
	}
	if (ev->breakglass) {
		m.has_breakglass = 1;
		m.breakglass = 1;
	}
	if (ev->emergency_reason != 0) {
		m.has_emergency_reason = 1;
		m.emergency_reason =
		    (Concordat__EmergencyReason)ev->emergency_reason;
	}
	if (ev->reason) {
		m.has_reason = 1;
		m.reason = (Concordat__Reason)ev->reason;
	}
	m.detail = opt(ev->detail);
	m.peer = opt(ev->peer);
	if (ev->count != 0) {
		m.has_count = 1;
		m.count = ev->count;
	}
	m.agreement_id = opt(ev->agreement_id);
	m.key_before = opt(ev->key_before);
	m.key_after = opt(ev->key_after);
	if (ev->agreement_version != 0) {
		m.has_agreement_version = 1;
		m.agreement_version = ev->agreement_version;
	}
	for (size_t i = 0; i < ev->n_signers; i++)
		signers[i] = (char *)(uintptr_t)ev->signers[i];
	m.n_signers = ev->n_signers;
	m.signers = signers;
	review_event_pack_(ev, &m);
	return pbutil_pack(&m.base, out, len);
}

static int
copy_list(char (*dst)[IDENT_NAME_MAX + 1], size_t *n, char **src, size_t count,
    size_t width)
{
	if (count > EVENT_MAX_LIST)
		return ERROR_DECODE;
	for (size_t i = 0; i < count; i++) {
		int rc = pbutil_str((char *)dst + i * width, width, src[i]);
		if (rc != 0)
			return rc;
	}
	*n = count;
	return ERROR_OK;
}

int
event_decode(const uint8_t *buf, size_t len, struct event *ev)
{
	ProtobufCMessage *pb;
	Concordat__AuditEvent *m;
	int rc = ERROR_DECODE;

	memset(ev, 0, sizeof(*ev));
	if (pbutil_unpack(&concordat__audit_event__descriptor, buf, len,
	        "audit event", &pb, NULL, 0) != 0)
		return ERROR_DECODE;
	m = (Concordat__AuditEvent *)pb;
	if (pbutil_has_unknown(&m->base)) {
		rc = ERROR_UNKNOWN_FIELD;
		goto out;
	}
	if (!m->has_type || event_type_name(m->type)[0] == '?')
		goto out;
	ev->type = (enum event_type)m->type;
	ev->time_ms = m->time_ms;
	if (m->has_msg_id) {
		if (pbutil_bytes(ev->msg_id, WIRE_MSG_ID_LEN, m->msg_id) != 0)
			goto out;
		ev->has_msg_id = true;
	}
	if (m->has_subject_ref) {
		if (pbutil_bytes(
		        ev->subject_ref, WIRE_REF_LEN, m->subject_ref) != 0)
			goto out;
		ev->has_subject_ref = true;
	}
	if (m->has_pepper_id) {
		if (pbutil_bytes(ev->pepper_id, WIRE_REF_LEN, m->pepper_id) !=
		    0)
			goto out;
		ev->has_pepper_id = true;
	}
	if (m->has_policy_sha256) {
		if (pbutil_bytes(ev->policy_sha256, 32, m->policy_sha256) != 0)
			goto out;
		ev->has_policy_sha256 = true;
	}
	if (pbutil_str(ev->sender, sizeof(ev->sender), m->sender) != 0 ||
	    pbutil_str(ev->recipient, sizeof(ev->recipient), m->recipient) !=
	        0 ||
	    pbutil_str(ev->purpose, sizeof(ev->purpose), m->purpose) != 0 ||
	    pbutil_str(ev->detail, sizeof(ev->detail), m->detail) != 0 ||
	    pbutil_str(ev->peer, sizeof(ev->peer), m->peer) != 0 ||
	    pbutil_str(ev->agreement_id, sizeof(ev->agreement_id),
	        m->agreement_id) != 0 ||
	    pbutil_str(ev->key_before, sizeof(ev->key_before), m->key_before) !=
	        0 ||
	    pbutil_str(ev->key_after, sizeof(ev->key_after), m->key_after) != 0)
		goto out;
	ev->agreement_version =
	    m->has_agreement_version ? m->agreement_version : 0;
	if (m->n_signers > EVENT_MAX_SIGNERS)
		goto out;
	for (size_t i = 0; i < m->n_signers; i++)
		if (pbutil_str(ev->signers[i], sizeof(ev->signers[i]),
		        m->signers[i]) != 0)
			goto out;
	ev->n_signers = m->n_signers;
	if (m->has_urgency && (m->urgency < 1 || m->urgency > 3))
		goto out;
	ev->urgency = m->has_urgency ? (int)m->urgency : 0;
	if (m->has_kind && (m->kind < 1 || m->kind > 2))
		goto out;
	ev->kind = m->has_kind ? (int)m->kind : 0;
	if ((m->disclosed & ~(uint32_t)FIELDS_ALL) != 0 ||
	    (m->withheld & ~(uint32_t)FIELDS_ALL) != 0)
		goto out;
	ev->disclosed = (fieldset)m->disclosed;
	ev->withheld = (fieldset)m->withheld;
	ev->breakglass = m->has_breakglass && m->breakglass;
	if (m->has_emergency_reason &&
	    emergency_reason_name((int)m->emergency_reason)[0] == '?')
		goto out;
	ev->emergency_reason =
	    m->has_emergency_reason ? (int)m->emergency_reason : 0;
	if (m->has_reason && wire_reason_name(m->reason)[0] == '?')
		goto out;
	ev->reason = m->has_reason ? (int)m->reason : 0;
	ev->count = m->has_count ? m->count : 0;
	if (m->n_recipients > EVENT_MAX_LIST || m->n_bases > EVENT_MAX_LIST)
		goto out;
	for (size_t i = 0; i < m->n_recipients; i++)
		if (pbutil_str(ev->recipients[i], sizeof(ev->recipients[i]),
		        m->recipients[i]) != 0)
			goto out;
	ev->n_recipients = m->n_recipients;
	for (size_t i = 0; i < m->n_bases; i++)
		if (pbutil_str(
		        ev->bases[i], sizeof(ev->bases[i]), m->bases[i]) != 0)
			goto out;
	ev->n_bases = m->n_bases;
	if (copy_list(ev->rules, &ev->n_rules, m->rules, m->n_rules,
	        sizeof(ev->rules[0])) != 0 ||
	    copy_list(ev->obligations, &ev->n_obligations, m->obligations,
	        m->n_obligations, sizeof(ev->obligations[0])) != 0 ||
	    review_event_unpack_(m, ev) != 0)
		goto out;
	rc = ERROR_OK;
out:
	pbutil_free(m);
	if (rc != 0)
		memset(ev, 0, sizeof(*ev));
	return rc;
}

bool
event_may_have_pepper_id(const uint8_t *buf, size_t len)
{
	/* AuditEvent.pepper_id = 29, length-delimited: the tag (29 << 3 | 2)
	 * as a varint, then the length 32. */
	static const uint8_t key[] = {0xea, 0x01, 0x20};

	_Static_assert(((0xea & 0x7f) | (0x01 << 7)) == ((29 << 3) | 2),
	    "the tag's varint");
	return memmem(buf, len, key, sizeof(key)) != NULL;
}
