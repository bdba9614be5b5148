/*
 * The inbox side of the agent (DESIGN.md §5 "Recipient agent", §8, §9): a
 * delivery is verified (listed, signature, digests), opened, written
 * durably to inbox/ and only then acknowledged; a redelivery is
 * acknowledged but never written twice. Status reports go to receipts/.
 *
 * Exactly once into the local system: the record is first written as
 * inbox/.MSGID.json.part (fsynced), then the msg_id is recorded as seen,
 * then the file is renamed into place. A crash between the two leaves a
 * .part file that the next start either renames (seen) or removes (not
 * seen: the broker will deliver it again).
 *
 * Per loop turn, not per delivery (inbox_flush): the turn's .part files
 * are written with a file fsync each, then the folder is fsynced once so
 * that every .part name is durable, one commit records them all as seen,
 * they are renamed, the folder is fsynced once more and only then is each
 * acknowledged. The same crash cases hold for every file of the turn.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "agents/spool.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/urgency.h"
#include "proto/envelope.h"
#include "proto/jsonval.h"
#include "proto/record.h"

#define PART_SUFFIX ".json.part"

static void
ack(struct agent *a, const uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	uint8_t *frame;
	size_t len;

	if (wire_ack_encode(msg_id, &frame, &len) != 0)
		return;
	link_send(a, frame, len);
	free(frame);
}

static json_t *
hex_json(const uint8_t *b, size_t n)
{
	char hex[2 * 64 + 1];

	sodium_bin2hex(hex, sizeof(hex), b, n);
	return json_string(hex);
}

/* The inbox record: metadata, the disclosed fields, what was withheld. */
static json_t *
inbox_json(struct agent *a, const struct wire_delivery *d,
    const struct envelope_opened *o, const struct event *dec, bool audit_ok,
    const struct checkpoint *cp)
{
	const struct wire_manifest *m = &d->m;
	char ts[40], now[40];
	json_t *rec, *fields = json_object();
	fieldset undecodable = 0;

	for (int f = 1; f <= FIELDS_COUNT; f++) {
		json_t *v = NULL;
		if (!fields_has(o->disclosed, f))
			continue;
		if (record_field_decode(f, o->plain[f], o->plain_len[f], &v) !=
		    0) {
			/* Signed by the sender, but not in the record format:
			 * say so in the record rather than drop it unseen. */
			log_warn("%s of a verified message from %s is not in "
			         "the record format",
			    fields_name(f), m->sender);
			undecodable |= FIELDS_BIT(f);
			continue;
		}
		json_object_set_new(fields, fields_name(f), v);
	}
	clock_format(m->created_at_ms, ts, sizeof(ts));
	clock_format(clock_now_ms(), now, sizeof(now));
	rec = json_pack("{s:o,s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o}",
	    "msg_id", hex_json(m->msg_id, WIRE_MSG_ID_LEN), "sender", m->sender,
	    "recipients",
	    jsonval_strings(
	        m->recipients[0], sizeof(m->recipients[0]), m->n_recipients),
	    "purpose", m->purpose, "urgency", urgency_name(m->urgency), "kind",
	    urgency_kind_name(m->kind), "created_at", ts, "received_at", now,
	    "subject_ref", hex_json(m->subject_ref, WIRE_REF_LEN), "fields",
	    fields, "withheld", jsonval_fields(o->withheld));
	if (rec == NULL)
		return NULL;
	if (undecodable != 0)
		json_object_set_new(
		    rec, "undecodable", jsonval_fields(undecodable));
	json_object_set_new(rec, "in_reply_to",
	    m->has_in_reply_to ? hex_json(m->in_reply_to, WIRE_MSG_ID_LEN)
	                       : json_null());
	if (m->kind == KIND_REQUEST)
		json_object_set_new(
		    rec, "requested_fields", jsonval_fields(m->requested));
	inbox_emergency(a, d, o, rec);
	json_object_set_new(rec, "obligations",
	    jsonval_strings(dec->obligations[0], sizeof(dec->obligations[0]),
	        dec->n_obligations));
	json_object_set_new(rec, "rules",
	    jsonval_strings(
	        dec->rules[0], sizeof(dec->rules[0]), dec->n_rules));
	json_object_set_new(rec, "bases",
	    jsonval_strings(
	        dec->bases[0], sizeof(dec->bases[0]), dec->n_bases));
	json_object_set_new(rec, "breakglass", json_boolean(dec->breakglass));
	if (dec->has_policy_sha256)
		json_object_set_new(
		    rec, "policy_sha256", hex_json(dec->policy_sha256, 32));
	json_object_set_new(rec, "verified",
	    json_pack("{s:b,s:b,s:b,s:b,s:I,s:I}", "sender_signature", 1,
	        "field_digests", 1, "decryption", 1, "audit_proof", audit_ok,
	        "audit_leaf", (json_int_t)d->decision.leaf_index,
	        "audit_tree_size", (json_int_t)(audit_ok ? cp->size : 0)));
	return rec;
}

/* Checks that the broker's decision leaf is about this very delivery. */
static bool
decision_matches(const struct agent *a, const struct wire_delivery *d,
    const struct event *ev)
{
	return ev->type == EVENT_DECISION && ev->has_msg_id &&
	    sodium_memcmp(ev->msg_id, d->m.msg_id, WIRE_MSG_ID_LEN) == 0 &&
	    strcmp(ev->recipient, a->cfg.agency) == 0 &&
	    strcmp(ev->sender, d->m.sender) == 0 && ev->disclosed == d->fields;
}

static void
quarantine(struct agent *a, const struct wire_delivery *d, const char *why)
{
	char hex[33], stem[64];
	json_t *o;

	spool_hex_id(d->m.msg_id, hex);
	trust_alert(a, "delivery refused", why);
	/* A second refusal of the same msg_id gets a file of its own. */
	snprintf(stem, sizeof(stem), "%s-delivery", hex);
	o = json_pack("{s:s,s:s,s:s,s:s}", "msg_id", hex, "claimed_sender",
	    d->m.sender, "purpose", d->m.purpose, "error", why);
	if (o != NULL && trust_alert_file(a, stem, o) != 0)
		log_err("cannot write the alert for %s", hex);
	json_decref(o);
}

/* This turn's entry for msg_id, or NULL. */
static struct inbox_pending *
pending_find(struct agent *a, const uint8_t msg_id[WIRE_MSG_ID_LEN])
{
	for (size_t i = 0; i < a->n_inbox_round; i++)
		if (memcmp(a->inbox_round[i].msg_id, msg_id, WIRE_MSG_ID_LEN) ==
		    0)
			return &a->inbox_round[i];
	return NULL;
}

static void
part_names(const uint8_t msg_id[WIRE_MSG_ID_LEN], char part[64], char final[64])
{
	char hex[33];

	spool_hex_id(msg_id, hex);
	snprintf(part, 64, ".%s" PART_SUFFIX, hex);
	snprintf(final, 64, "%s.json", hex);
}

/*
 * Writes the record text as this turn's .part file for d (fsynced, its
 * name not yet) and keeps what inbox_flush needs. Returns 0 or an error.
 */
static int
pending_add(struct agent *a, const struct wire_delivery *d,
    const struct envelope_opened *o, const char *text, bool held,
    const struct checkpoint *cp)
{
	struct inbox_pending *p;
	char part[64], final[64];
	int rc;

	if (a->n_inbox_round == INBOX_ROUND)
		inbox_flush(a);
	part_names(d->m.msg_id, part, final);
	rc = fileio_write_atomic(a->dir[DIR_INBOX], part, text, strlen(text),
	    0640, FILEIO_NO_DIR_SYNC);
	if (rc != 0)
		return rc;
	p = &a->inbox_round[a->n_inbox_round++];
	memset(p, 0, sizeof(*p));
	memcpy(p->msg_id, d->m.msg_id, WIRE_MSG_ID_LEN);
	snprintf(p->sender, sizeof(p->sender), "%s", d->m.sender);
	snprintf(p->purpose, sizeof(p->purpose), "%s", d->m.purpose);
	p->disclosed = fields_count(o->disclosed);
	p->withheld = fields_count(o->withheld);
	p->held = held;
	if (held)
		p->cp = *cp;
	p->leaf_index = d->decision.leaf_index;
	p->acks = 1;
	return ERROR_OK;
}

/* The turn's n .part files removed: not seen, so they come again. */
static void
pending_drop(struct agent *a, size_t n)
{
	char part[64], final[64], src[PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		part_names(a->inbox_round[i].msg_id, part, final);
		if (fileio_join(src, sizeof(src), a->dir[DIR_INBOX], part) == 0)
			unlink(src);
	}
}

void
inbox_flush(struct agent *a)
{
	struct state_op ops[INBOX_ROUND];
	char part[64], final[64], src[PATH_MAX], dst[PATH_MAX];
	bool moved[INBOX_ROUND];
	size_t n = a->n_inbox_round;
	int rc;

	if (n == 0)
		return;
	a->n_inbox_round = 0;
	for (size_t i = 0; i < n; i++)
		ops[i] = (struct state_op){
		    .kind = STATE_OP_SEEN, .msg_id = a->inbox_round[i].msg_id};
	/* Every .part name durable before the commit that vouches for it. */
	if ((rc = fileio_fsync_dir(a->dir[DIR_INBOX])) != 0 ||
	    (rc = state_apply(a->state, ops, n, clock_now_ms())) != 0) {
		log_err("inbox/: cannot store %zu deliveries: %s; not "
		        "acknowledged",
		    n, error_strerror(rc));
		pending_drop(a, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		part_names(a->inbox_round[i].msg_id, part, final);
		moved[i] = fileio_join(src, sizeof(src), a->dir[DIR_INBOX],
		               part) == 0 &&
		    fileio_join(dst, sizeof(dst), a->dir[DIR_INBOX], final) ==
		        0 &&
		    rename(src, dst) == 0;
		if (!moved[i])
			log_err("%s: cannot move it into inbox/: %s", final,
			    strerror(errno));
	}
	if ((rc = fileio_fsync_dir(a->dir[DIR_INBOX])) != 0) {
		/* Seen, so the next start finishes what a crash leaves. */
		log_err("inbox/: cannot sync the folder: %s; %zu deliveries "
		        "not acknowledged",
		    error_strerror(rc), n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct inbox_pending *p = &a->inbox_round[i];
		char hex[33];

		if (!moved[i])
			continue;
		spool_hex_id(p->msg_id, hex);
		part_names(p->msg_id, part, final);
		log_info("%s from %s (%s): %d fields to inbox/, %d withheld "
		         "msg_id=%s from=%s",
		    hex, p->sender, p->purpose, p->disclosed, p->withheld, hex,
		    p->sender);
		if (p->held)
			witness_hold(
			    a, WITNESS_DELIVERY, final, &p->cp, p->leaf_index);
		for (unsigned k = 0; k < p->acks; k++)
			ack(a, p->msg_id);
	}
}

void
inbox_delivery(struct agent *a, const struct wire_delivery *d)
{
	const struct keys_public *sender;
	struct envelope_opened *o = NULL;
	struct checkpoint cp;
	struct event dec, *local = NULL;
	struct inbox_pending *p;
	char hex[33], why[256];
	uint8_t shared[32];
	bool seen, audit_ok, held;
	char *text = NULL;
	json_t *rec = NULL;
	int rc;

	spool_hex_id(d->m.msg_id, hex);
	if ((rc = state_seen(a->state, d->m.msg_id, &seen)) != 0) {
		log_err("%s: cannot read the seen list: %s", hex,
		    error_strerror(rc));
		return; /* no ack: the broker delivers it again */
	}
	if (seen) {
		log_debug("%s: delivered again; acknowledged again", hex);
		ack(a, d->m.msg_id);
		return;
	}
	if ((p = pending_find(a, d->m.msg_id)) != NULL) {
		/* Again in the same turn: acknowledged with the first. */
		p->acks++;
		return;
	}
	sender = keyring_find(a->keyring, d->m.sender);
	if (sender == NULL) {
		snprintf(why, sizeof(why),
		    "%s: sender '%s' is not in our keyring, so its signature "
		    "cannot be checked",
		    hex, d->m.sender);
		quarantine(a, d, why);
		ack(a, d->m.msg_id);
		return;
	}
	if (trust_shared(a, d->m.sender, shared) != 0)
		return;
	rc = envelope_open(d, a->cfg.agency, sender->sign_pk, shared, &o);
	sodium_memzero(shared, sizeof(shared));
	if (rc != 0) /* sealed to a retired key, or by a sender's next key */
		rc = retired_open(a, d, sender, rc, &o);
	if (rc != 0) {
		/* Nothing unverified reaches the local system. */
		snprintf(why, sizeof(why), "%s from %s: %s", hex, d->m.sender,
		    error_strerror(rc));
		quarantine(a, d, why);
		ack(a, d->m.msg_id);
		return;
	}
	/* The agency's own decision, under the agreement named. */
	if ((local = malloc(sizeof(*local))) == NULL ||
	    (rc = indecide(a, d, local)) == INDECIDE_WAIT)
		goto out; /* not acknowledged: it comes again */
	if (rc == INDECIDE_REFUSED)
		goto refused;
	rc = d->has_decision ? trust_check(a, &d->decision, &dec, &cp)
	                     : ERROR_NOTFOUND;
	/* Under a checkpoint not yet tied: written, unproven until it is. */
	held = rc == TRUST_HELD && decision_matches(a, d, &dec);
	audit_ok = rc == 0 && decision_matches(a, d, &dec);
	/* The broker's word, when there is one, must be the agency's too. */
	if ((audit_ok || held) && !indecide_leaf(a, d, &dec, local))
		goto refused;
	if (!audit_ok && !held)
		trust_alert(a, "delivery not backed by the audit log", hex);
	rec = inbox_json(a, d, o, local, audit_ok, &cp);
	text = rec != NULL ? json_dumps(rec, JSON_INDENT(2)) : NULL;
	if (text == NULL)
		goto out;
	if ((rc = pending_add(a, d, o, text, held, &cp)) != 0)
		log_err("%s: cannot store the delivery: %s; not acknowledged",
		    hex, error_strerror(rc));
	goto out;
refused:
	ack(a, d->m.msg_id); /* quarantined: alerted, never in inbox/ */
out:
	free(local);
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	json_decref(rec);
	envelope_opened_free(o);
}

void
inbox_unreadable(
    struct agent *a, const uint8_t *buf, size_t len, const char *why)
{
	uint8_t id[WIRE_MSG_ID_LEN];
	char hex[33], stem[64], detail[512];
	json_t *o;

	/* Not one of ours to name: a frame of some other kind, or garbage. */
	if (wire_delivery_msg_id(buf, len, id) != 0) {
		log_warn("unreadable frame from the broker: %s", why);
		return;
	}
	spool_hex_id(id, hex);
	snprintf(detail, sizeof(detail), "%s: the delivery does not decode: %s",
	    hex, why);
	trust_alert(a, "delivery refused", detail);
	snprintf(stem, sizeof(stem), "%s-delivery", hex);
	o = json_pack("{s:s,s:s}", "msg_id", hex, "error", detail);
	if (o != NULL && trust_alert_file(a, stem, o) != 0)
		log_err("cannot write the alert for %s", hex);
	json_decref(o);
	/* Acknowledged, so that it is not sent again for ever; nothing of it
	 * reaches the local system (DESIGN.md §11, refused deliveries). */
	ack(a, id);
}

void
inbox_recover(struct agent *a)
{
	struct dirent *de;
	DIR *dir = opendir(a->dir[DIR_INBOX]);

	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		uint8_t id[WIRE_MSG_ID_LEN];
		char src[PATH_MAX], dst[PATH_MAX], final[64];
		size_t got = 0;
		bool seen = false;

		if (n[0] != '.' || len != 1 + 32 + strlen(PART_SUFFIX) ||
		    strcmp(n + 33, PART_SUFFIX) != 0 ||
		    sodium_hex2bin(
		        id, sizeof(id), n + 1, 32, NULL, &got, NULL) != 0 ||
		    got != sizeof(id))
			continue;
		if (fileio_join(src, sizeof(src), a->dir[DIR_INBOX], n) != 0)
			continue;
		if (state_seen(a->state, id, &seen) == 0 && seen) {
			snprintf(final, sizeof(final), "%.32s.json", n + 1);
			if (fileio_join(dst, sizeof(dst), a->dir[DIR_INBOX],
			        final) == 0 &&
			    rename(src, dst) == 0)
				log_info("inbox: finished writing %s", final);
		} else {
			unlink(src); /* not acknowledged: it comes again */
		}
	}
	closedir(dir);
	if (fileio_fsync_dir(a->dir[DIR_INBOX]) != 0)
		log_err("inbox: cannot sync the folder");
}

void
inbox_status(struct agent *a, const struct wire_status *s)
{
	struct state_msg m;
	struct checkpoint cp;
	struct event ev;
	char hex[33], name[128], ts[40];
	bool audit_ok, held;
	json_t *o;
	int rc;

	spool_hex_id(s->msg_id, hex);
	rc =
	    s->has_event ? trust_check(a, &s->event, &ev, &cp) : ERROR_NOTFOUND;
	held = rc == TRUST_HELD && claims_status(a, s, &ev);
	audit_ok = rc == 0 && claims_status(a, s, &ev);
	if (!audit_ok && !held)
		trust_alert(
		    a, "status report not backed by the audit log", hex);
	memset(&m, 0, sizeof(m));
	if (state_get_msg(a->state, s->msg_id, &m) != 0)
		snprintf(m.file, sizeof(m.file), "?");
	clock_format(s->at_ms, ts, sizeof(ts));
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "msg_id", hex, "file",
	    m.file, "recipient", s->recipient, "state",
	    wire_state_name(s->state), "at", ts, "audit_verified", audit_ok);
	if (o != NULL && s->state == WIRE_STATE_EXPIRED)
		json_object_set_new(o, "note",
		    json_string("non-delivery report: the recipient did not "
		                "collect the message before its purpose's "
		                "expiry; the broker deleted the ciphertexts"));
	snprintf(name, sizeof(name), "%s.%s.%s.json", hex, s->recipient,
	    wire_state_name(s->state));
	state_msg_release(&m);
	rc = o != NULL ? spool_write_json(
	                     a->dir[DIR_RECEIPTS], name, o, FILEIO_NO_DIR_SYNC)
	               : ERROR_NOMEM;
	json_decref(o);
	if (rc != 0) {
		/* Once while it lasts: every report fails alike. */
		if (!a->status_failing)
			log_err("receipts/: cannot write status reports (%s, "
			        "first %s): the broker sends them again",
			    error_strerror(rc), name);
		a->status_failing = true;
		return; /* no ack: it comes again */
	}
	if (a->status_failing)
		log_info("receipts/: status reports written again");
	a->status_failing = false;
	/* Recorded, witnessed and acknowledged with the turn's others. */
	outturn_status(a, s, name, held, &cp);
}
