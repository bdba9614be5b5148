/*
 * The receipt JSON the sending agent writes beside a record in sent/ or
 * failed/ (docs/agent.md §4): the broker's decisions, as its checked audit
 * leaves say, and, for a request, the fields the agreement never returns
 * to this agency (`never_returned`), as the agent's own evaluation says.
 * Called by outbox.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent_int.h"
#include "agents/agreements.h"
#include "agents/spool.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/urgency.h"
#include "proto/jsonval.h"

/*
 * The fields a request asks for that no rule from a recipient back to this
 * agency allows for the request's purpose, whatever the urgency (the
 * agreement evaluated as for an emergency with a justification, its widest
 * case): {"never_returned": [{"agency": A, "fields": [...], "explanation":
 * {FIELD: "withheld: never entry 1 (line 80)"}}]}, from the agreement the
 * request was sealed under. Nothing when every requested field may come
 * back.
 */
static void
never_returned(struct agent *a, const struct state_msg *m, json_t *o)
{
	struct wire_frame *f = NULL;
	const struct wire_manifest *mf;
	const struct policy *p;
	struct policy_decision *d = NULL;
	struct policy_question q;
	char reason[128], line[160];
	json_t *list = NULL;

	if (m->frame == NULL ||
	    wire_decode(m->frame, m->frame_len, &f, NULL, 0) != 0 ||
	    f->type != WIRE_SUBMIT)
		goto out;
	mf = &f->u.submit.m;
	if (mf->kind != KIND_REQUEST || mf->requested == 0 ||
	    !mf->has_agreement ||
	    (p = agreements_find(a, mf->agreement, false)) == NULL ||
	    (d = malloc(sizeof(*d))) == NULL || (list = json_array()) == NULL)
		goto out;
	for (size_t i = 0; i < mf->n_recipients; i++) {
		memset(&q, 0, sizeof(q));
		q.from = mf->recipients[i];
		q.to = a->cfg.agency;
		q.purpose = mf->purpose;
		q.urgency = URGENCY_EMERGENCY;
		q.reason =
		    EMERGENCY_REASON_RISK_TO_LIFE; /* any reason: all break
		                                      glass alike */
		q.kind = KIND_RECORD;
		if (policy_eval(p, &q, d) != 0)
			continue;
		fieldset never = mf->requested & ~d->disclosed & FIELDS_ALL;
		if (never == 0)
			continue;
		json_t *why = json_object();
		for (int fl = 1; why != NULL && fl <= FIELDS_COUNT; fl++) {
			if (!fields_has(never, fl))
				continue;
			policy_reason_format(
			    &d->field[fl - 1], reason, sizeof(reason));
			snprintf(line, sizeof(line), "withheld: %s", reason);
			json_object_set_new(
			    why, fields_name(fl), json_string(line));
		}
		json_array_append_new(list,
		    json_pack("{s:s,s:o,s:o}", "agency", mf->recipients[i],
		        "fields", jsonval_fields(never), "explanation", why));
	}
	if (json_array_size(list) > 0) {
		json_object_set_new(o, "never_returned", list);
		list = NULL;
	}
out:
	json_decref(list);
	free(d);
	wire_frame_free(f);
}

json_t *
outreceipt_json(struct agent *a, const struct wire_receipt *r,
    const struct state_msg *m, const struct event *evs, const bool *ok,
    bool accepted, bool audit_ok)
{
	char hex[33], ts[40];
	json_t *o, *recips = json_array();

	spool_hex_id(r->msg_id, hex);
	clock_format(clock_now_ms(), ts, sizeof(ts));
	for (size_t i = 0; i < r->n_decisions; i++) {
		const struct event *ev = &evs[i];
		if (!ok[i] || ev->type != EVENT_DECISION)
			continue;
		json_array_append_new(recips,
		    json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:b,s:I}", "agency",
		        ev->recipient, "state",
		        ev->disclosed ? "queued (not yet collected)"
		                      : "nothing disclosed: not sent",
		        "disclosed", jsonval_fields(ev->disclosed), "withheld",
		        jsonval_fields(ev->withheld), "rules",
		        jsonval_strings(
		            ev->rules[0], sizeof(ev->rules[0]), ev->n_rules),
		        "obligations",
		        jsonval_strings(ev->obligations[0],
		            sizeof(ev->obligations[0]), ev->n_obligations),
		        "breakglass", ev->breakglass, "audit_leaf",
		        (json_int_t)r->decisions[i].leaf_index));
	}
	o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "msg_id", hex, "file",
	    m->file, "outcome", accepted ? "accepted" : "rejected",
	    "received_at", ts, "recipients", recips, "audit_verified",
	    audit_ok);
	if (o != NULL && r->detail[0] != '\0')
		json_object_set_new(o, "detail", json_string(r->detail));
	if (o != NULL && r->reason != 0) {
		json_object_set_new(
		    o, "reason", json_string(wire_reason_name(r->reason)));
		json_object_set_new(o, "retryable", json_boolean(r->retryable));
	}
	/* Sealed again after `stale` rejections: the msg_ids it replaced. */
	if (o != NULL && m->n_prev > 0) {
		json_t *prev = json_array();
		for (size_t i = 0; prev != NULL && i < m->n_prev; i++) {
			spool_hex_id(m->prev[i], hex);
			json_array_append_new(prev, json_string(hex));
		}
		json_object_set_new(o, "supersedes", prev);
	}
	if (o != NULL && accepted)
		never_returned(a, m, o);
	return o;
}
