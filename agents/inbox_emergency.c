/*
 * An emergency delivery's reason and sealed justification in the inbox
 * record (DESIGN.md §5): the reason is the manifest's code, the
 * justification the text envelope_open decrypted, which only the
 * recipients ever hold. A justification that is empty, or that the broker
 * did not deliver, is alerted; the delivery is still written, since an
 * emergency is no time to hold back what was shared.
 */
#include <stdio.h>

#include "agents/agent_int.h"
#include "agents/spool.h"
#include "common/urgency.h"
#include "proto/envelope.h"

void
inbox_emergency(struct agent *a, const struct wire_delivery *d,
    const struct envelope_opened *o, json_t *rec)
{
	const struct wire_manifest *m = &d->m;
	const char *fault = NULL;
	char hex[33], detail[256];
	json_t *text = NULL;

	if (m->urgency != URGENCY_EMERGENCY)
		return;
	json_object_set_new(
	    rec, "reason", json_string(emergency_reason_name(m->reason)));
	if (o->justification == NULL)
		fault = "missing from the delivery";
	else if (o->justification_len == 0)
		fault = "empty";
	else if ((text = json_stringn(
	              o->justification, o->justification_len)) == NULL)
		fault = "not UTF-8 text";
	json_object_set_new(
	    rec, "justification", text != NULL ? text : json_string(""));
	if (fault == NULL)
		return;
	json_object_set_new(rec, "justification_missing", json_true());
	spool_hex_id(m->msg_id, hex);
	snprintf(detail, sizeof(detail),
	    "%s from %s: emergency (%s) whose sealed justification is %s; "
	    "written to inbox/ all the same",
	    hex, m->sender, emergency_reason_words(m->reason), fault);
	trust_alert(a, "emergency without a justification", detail);
}
