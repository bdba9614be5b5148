/*
 * One line about an event for people, saying what the query table's other
 * columns do not: the agreement a policy event is about, the version a
 * broker started, why a message was rejected. Used by `audit query`.
 */
#include <inttypes.h>
#include <stdio.h>

#include "audit/audit.h"
#include "common/strbuf.h"

/* The agreement a policy event is about; its hash and signers are
 * columns of their own (policy_sha256, signers). */
static void
agreement(struct strbuf *sb, const struct event *ev)
{
	if (ev->agreement_id[0] != '\0') /* older events name none */
		strbuf_addf(sb, "%s v%" PRIu64, ev->agreement_id,
		    ev->agreement_version);
}

void
audit_event_note(struct strbuf *sb, const struct event *ev)
{
	size_t start = sb->len;

	switch (ev->type) {
	case EVENT_POLICY_ACTIVATED:
	case EVENT_POLICY_REFUSED:
		agreement(sb, ev);
		break;
	case EVENT_BROKER_STARTED:
		if (ev->detail[0] != '\0')
			strbuf_addf(sb, "version %s", ev->detail);
		return;
	case EVENT_KEYRING_CHANGED:
		strbuf_addf(sb, "key %s -> %s",
		    ev->key_before[0] != '\0' ? ev->key_before : "none",
		    ev->key_after[0] != '\0' ? ev->key_after : "none");
		break;
	case EVENT_CONNECTION_REFUSED:
		if (ev->peer[0] != '\0')
			strbuf_addf(sb, "from %s", ev->peer);
		if (ev->count > 1)
			strbuf_addf(sb, "%s%" PRIu64 " times",
			    sb->len > start ? ", " : "", ev->count);
		break;
	default:
		break;
	}
	if (ev->detail[0] != '\0')
		strbuf_addf(
		    sb, "%s%s", sb->len > start ? ": " : "", ev->detail);
}
