/*
 * The outbox side of the agent (DESIGN.md §8): a record a local system
 * renames into outbox/ is checked, sealed and stored durably under a new
 * msg_id before its first send; the broker's receipt moves it to sent/ (or
 * failed/) with the receipt beside it. A bad record goes to failed/ with a
 * .error.json naming each problem. Nothing is deleted.
 *
 * A record rejected `stale` was never accepted (the broker answers an
 * accepted msg_id with its decisions before it looks at the time): it was
 * held through an outage longer than the broker's clock_skew, so it is
 * sealed again under a new msg_id for the same file (docs/agent.md §4).
 * A move that fails (a full disk) is tried again on a timer, logged once.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/outrecord.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/urgency.h"
#include "proto/envelope.h"

#define OUTBOX_BATCH 64 /* records sealed, then stored in one commit */
/* A stale rejection younger than this points at the clocks, not an outage. */
#define OUTBOX_RESEAL_AGE_MS 1000

/* A name the agent handles: NAME.json, not hidden, no '/'. */
static bool
is_record_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && n < STATE_NAME_MAX - 32 &&
	    strcmp(name + n - 5, ".json") == 0 && strchr(name, '/') == NULL;
}

/* True when dir/comp exists and holds the text mark (a msg_id in hex). */
static bool
companion_holds(const char *dir, const char *comp, const char *mark)
{
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	bool hit;

	if (fileio_join(path, sizeof(path), dir, comp) != 0 ||
	    fileio_read(path, OUTRECORD_MAX_FILE, &buf, &len) != 0)
		return false;
	hit = memmem(buf, len, mark, strlen(mark)) != NULL;
	free(buf);
	return hit;
}

/*
 * Moves outbox/name to dir (sent/ or failed/) and writes its companion
 * (NAME.receipt.json or NAME.error.json) from text. When dir already holds
 * that name (the local system reused it), the msg_id prefixes both.
 */
static int
move_out(struct agent *a, const char *name, int dir, const char *prefix,
    const char *suffix, const char *text)
{
	char src[PATH_MAX], dst[PATH_MAX], base[STATE_NAME_MAX + 40];
	char comp[STATE_NAME_MAX + 64];
	struct stat st;
	bool moved = false;
	int rc;

	snprintf(base, sizeof(base), "%s", name);
	if (fileio_join(dst, sizeof(dst), a->dir[dir], base) != 0 ||
	    fileio_join(src, sizeof(src), a->dir[DIR_OUTBOX], name) != 0)
		return ERROR_TOOBIG;
	if (prefix != NULL && lstat(dst, &st) == 0) {
		/* Taken by an earlier record of that name, or by this one:
		 * moved before a crash kept the move from being recorded.
		 * Then it has left the outbox, and its companion, written
		 * first, names it: finishing means only the syncs. */
		snprintf(comp, sizeof(comp), "%.*s%s", (int)(strlen(name) - 5),
		    name, suffix);
		moved = lstat(src, &st) != 0 && errno == ENOENT &&
		    companion_holds(a->dir[dir], comp, prefix);
		if (!moved)
			snprintf(base, sizeof(base), "%s-%s", prefix, name);
	}
	if (!moved) {
		/* The companion first: a crash leaves it beside the outbox
		 * file, and the move is finished at the next start. */
		snprintf(comp, sizeof(comp), "%.*s%s", (int)(strlen(base) - 5),
		    base, suffix);
		if ((rc = fileio_write_atomic(
		         a->dir[dir], comp, text, strlen(text), 0640, 0)) != 0)
			return rc;
		if (fileio_join(dst, sizeof(dst), a->dir[dir], base) != 0)
			return ERROR_TOOBIG;
		if (rename(src, dst) != 0 && errno != ENOENT)
			return errno == ENOSPC || errno == EDQUOT ? ERROR_NOSPC
			                                          : ERROR_IO;
	}
	if ((rc = fileio_fsync_dir(a->dir[dir])) != 0 ||
	    (rc = fileio_fsync_dir(a->dir[DIR_OUTBOX])) != 0)
		return rc;
	return ERROR_OK;
}

static void
fail_file(struct agent *a, const char *name, json_t *errors)
{
	char ts[40], *text;
	json_t *o;

	clock_format(clock_now_ms(), ts, sizeof(ts));
	o = json_pack(
	    "{s:s,s:s,s:O}", "file", name, "failed_at", ts, "errors", errors);
	text = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	if (text == NULL ||
	    move_out(a, name, DIR_FAILED, "dup", ".error.json", text) != 0)
		log_err("outbox %s: cannot move it to failed/", name);
	else
		log_warn("outbox %s: refused (%zu problems): see failed/", name,
		    json_array_size(errors));
	free(text);
	json_decref(o);
}

/* Checks the record against what this agent knows: keyring, itself. */
static void
check_against_keyring(
    struct agent *a, const struct outrecord *r, json_t *errors)
{
	bool seen;

	for (size_t i = 0; i < r->n_recipients; i++) {
		char path[48];
		snprintf(path, sizeof(path), "recipients[%zu]", i);
		if (strcmp(r->recipients[i], a->cfg.agency) == 0)
			outrecord_error(errors, path,
			    "'%s' is this agency itself", r->recipients[i]);
		else if (keyring_find(a->keyring, r->recipients[i]) == NULL)
			outrecord_error(errors, path,
			    "'%s' is not in the keyring", r->recipients[i]);
	}
	if (r->has_in_reply_to &&
	    (state_seen(a->state, r->in_reply_to, &seen) != 0 || !seen))
		outrecord_error(errors, "in_reply_to",
		    "this agency has received no message with that msg_id");
}

/*
 * Reads, checks and seals outbox/name into *m (which the caller releases);
 * true when m holds a sealed message to store. A bad record is moved to
 * failed/ here.
 */
static bool
process_file(struct agent *a, const char *name, struct state_msg *mp)
{
	struct envelope_seal_args args;
	struct outrecord r;
	struct state_msg m;
	bool sealed = false;
	uint8_t(*shared)[32] = NULL;
	const char *recips[WIRE_MAX_RECIPIENTS];
	char path[PATH_MAX], hex[33];
	uint8_t *buf = NULL;
	size_t len;
	json_t *errors = json_array();
	int rc;

	memset(&r, 0, sizeof(r));
	memset(&m, 0, sizeof(m));
	if (errors == NULL)
		return false;
	if (fileio_join(path, sizeof(path), a->dir[DIR_OUTBOX], name) != 0)
		goto out;
	rc = fileio_read(path, OUTRECORD_MAX_FILE, &buf, &len);
	if (rc == ERROR_NOENT)
		goto out; /* taken back by the local system */
	if (rc != 0) {
		outrecord_error(errors, "", "cannot read the file: %s%s",
		    error_strerror(rc),
		    rc == ERROR_TOOBIG ? " (the limit is 1 MiB)" : "");
		fail_file(a, name, errors);
		goto out;
	}
	/* All problems at once: the keyring's too, even when the format
	 * already failed (the recipients that parsed are still in r). */
	if (outrecord_parse(buf, len, a->pepper, &r, errors) != 0)
		log_debug("outbox %s: not in the record format", name);
	check_against_keyring(a, &r, errors);
	if (json_array_size(errors) > 0) {
		fail_file(a, name, errors);
		goto out;
	}
	shared = sodium_malloc(WIRE_MAX_RECIPIENTS * 32);
	if (shared == NULL)
		goto out;
	for (size_t i = 0; i < r.n_recipients; i++) {
		recips[i] = r.recipients[i];
		if (agent_shared(a, r.recipients[i], shared[i]) != 0)
			goto out;
	}
	memset(&args, 0, sizeof(args));
	args.sender = a->cfg.agency;
	args.sign_sk = a->key->sign_sk;
	args.created_at_ms = clock_now_ms();
	args.kind = r.kind;
	args.urgency = r.urgency;
	args.purpose = r.purpose;
	args.justification = r.justification;
	args.subject_ref = r.subject_ref;
	args.in_reply_to = r.has_in_reply_to ? r.in_reply_to : NULL;
	args.requested = r.requested;
	args.n_recipients = r.n_recipients;
	args.recipients = recips;
	args.shared = (const uint8_t(*)[32])shared;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		args.plain[f] = r.plain[f];
		args.plain_len[f] = r.plain_len[f];
	}
	rc = envelope_seal(&args, m.msg_id, &m.frame, &m.frame_len);
	if (rc != 0) {
		outrecord_error(errors, "", "cannot seal the record: %s",
		    error_strerror(rc));
		fail_file(a, name, errors);
		goto out;
	}
	m.state = STATE_PENDING;
	snprintf(m.file, sizeof(m.file), "%s", name);
	agent_hex_id(m.msg_id, hex);
	log_info("outbox %s: sealed as %s for %zu recipients (%s)", name, hex,
	    r.n_recipients, r.purpose);
	*mp = m;
	memset(&m, 0, sizeof(m)); /* the frame is the caller's now */
	sealed = true;
out:
	if (shared != NULL)
		sodium_free(shared);
	outrecord_release(&r);
	state_msg_release(&m);
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	json_decref(errors);
	return sealed;
}

/*
 * Stores the sealed messages in one durable commit, before their first
 * send (a restart resends them, never new ones), then sends them. When
 * the state has no room, nothing is stored: the records stay in outbox/
 * and are read again once there is (agent_may_store), said once.
 */
static void
store_and_send(struct agent *a, struct state_msg *ms, size_t n)
{
	int rc[OUTBOX_BATCH], all = ERROR_OK;
	char hex[33];

	if (n == 0)
		return;
	/* Only what fits below 90% of the map; the rest waits. */
	size_t fit = agent_may_store(a) ? agent_room(a, ms, n) : 0;
	if (fit == 0)
		all = ERROR_MAPFULL;
	else if ((all = state_put_msgs(a->state, ms, fit, rc)) != 0 &&
	    agent_storage_full(all))
		agent_store_refused(a, all);
	else if (all == 0)
		agent_store_ok(a);
	for (size_t i = 0; i < n; i++) {
		agent_hex_id(ms[i].msg_id, hex);
		if (all != 0 || i >= fit)
			rc[i] = all != 0 ? all : ERROR_MAPFULL;
		if (agent_storage_full(rc[i]))
			log_debug("outbox %s: waits for room in the state",
			    ms[i].file);
		else if (rc[i] != 0)
			log_err("outbox %s: cannot store the sealed message: "
			        "%s; will try again",
			    ms[i].file, error_strerror(rc[i]));
		else if (a->connected &&
		    agent_send(a, ms[i].frame, ms[i].frame_len) != 0)
			log_debug("send of %s deferred", hex);
		state_msg_release(&ms[i]);
	}
}

void
outbox_scan(struct agent *a)
{
	static struct state_msg ready[OUTBOX_BATCH];
	struct dirent *de;
	struct state_msg m;
	size_t n = 0;
	DIR *d = opendir(a->dir[DIR_OUTBOX]);

	if (d == NULL)
		return;
	/* Stops when the state has no room, or the agent is stopping. */
	while (agent_may_store(a) && !agent_stopping() &&
	    (de = readdir(d)) != NULL) {
		if (!is_record_name(de->d_name)) {
			if (de->d_name[0] != '.')
				log_debug("outbox: ignoring %s (not NAME.json)",
				    de->d_name);
			continue;
		}
		if (state_find_file(a->state, de->d_name, &m) == 0) {
			state_msg_release(&m);
			continue; /* sealed already, waiting for its receipt */
		}
		/* One at a time while room is being tried again. */
		if (process_file(a, de->d_name, &ready[n]) &&
		    (++n == OUTBOX_BATCH || a->probing)) {
			store_and_send(a, ready, n);
			n = 0;
		}
	}
	closedir(d);
	store_and_send(a, ready, n);
}

static int
resend_one(void *arg, const struct state_msg *m)
{
	struct agent *a = arg;

	if (m->state == STATE_PENDING && a->connected)
		agent_send(a, m->frame, m->frame_len);
	return 0;
}

void
outbox_resend(struct agent *a)
{
	if (state_each_open(a->state, resend_one, a) != 0)
		log_err("cannot read the pending messages");
	a->last_send_ms = clock_mono_ms();
}

/* Finishes the move of a message whose receipt was final. */
static int
finish_one(struct agent *a, const struct state_msg *m)
{
	char hex[33];
	int dir = m->state == STATE_ACCEPTED ? DIR_SENT : DIR_FAILED;
	int rc;

	agent_hex_id(m->msg_id, hex);
	rc = move_out(a, m->file, dir, hex,
	    dir == DIR_SENT ? ".receipt.json" : ".error.json",
	    m->receipt != NULL ? m->receipt : "{}");
	/* Moved: the name is free for the local system's next record. */
	if (rc == 0)
		rc = state_close_file(a->state, m->file);
	return rc;
}

/*
 * A move that failed: the record stays in outbox/ (its outcome is in the
 * state) and outbox_retry_moves tries again on a timer. Said once, however
 * many fail, until they are all done.
 */
static void
move_failed(struct agent *a, const char *file, int rc)
{
	if (a->moves_failing)
		return;
	log_err("outbox %s: cannot move it out of outbox/: %s; the moves "
	        "are tried again as space frees",
	    file, error_strerror(rc));
	a->moves_failing = true;
	a->moves_backoff_ms = agent_backoff(0);
	a->moves_retry_ms = clock_mono_ms() + a->moves_backoff_ms;
}

static int
recover_one(void *arg, const struct state_msg *m)
{
	int rc;

	if (m->state != STATE_PENDING && (rc = finish_one(arg, m)) != 0)
		move_failed(arg, m->file, rc);
	return 0;
}

void
outbox_recover(struct agent *a)
{
	if (state_each_open(a->state, recover_one, a) != 0)
		log_err("cannot read the pending messages");
}

struct retry {
	struct agent *a;
	size_t moved;
};

static int
retry_one(void *arg, const struct state_msg *m)
{
	struct retry *r = arg;
	int rc;

	if (m->state == STATE_PENDING)
		return 0;
	if ((rc = finish_one(r->a, m)) != 0)
		return rc; /* still failing: stop until the next try */
	r->moved++;
	return 0;
}

void
outbox_retry_moves(struct agent *a)
{
	struct retry r = {a, 0};
	int rc;

	if ((rc = state_each_open(a->state, retry_one, &r)) != 0) {
		a->moves_backoff_ms = agent_backoff(a->moves_backoff_ms);
		a->moves_retry_ms = clock_mono_ms() + a->moves_backoff_ms;
		log_debug("outbox: moves still failing (%s); next try in %llu "
		          "ms",
		    error_strerror(rc),
		    (unsigned long long)a->moves_backoff_ms);
		return;
	}
	a->moves_failing = false;
	log_info("outbox: moves finished: %zu records moved out of outbox/ "
	         "now that there is room",
	    r.moved);
}

/* The receipt as the local system reads it; evs are the checked leaves. */
static json_t *
receipt_json(const struct wire_receipt *r, const struct state_msg *m,
    const struct event *evs, const bool *ok, bool accepted, bool audit_ok)
{
	char hex[33], ts[40];
	json_t *o, *recips = json_array();

	agent_hex_id(r->msg_id, hex);
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
		        "disclosed", agent_fields_json(ev->disclosed),
		        "withheld", agent_fields_json(ev->withheld), "rules",
		        agent_strings_json(
		            ev->rules[0], sizeof(ev->rules[0]), ev->n_rules),
		        "obligations",
		        agent_strings_json(ev->obligations[0],
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
			agent_hex_id(m->prev[i], hex);
			json_array_append_new(prev, json_string(hex));
		}
		json_object_set_new(o, "supersedes", prev);
	}
	return o;
}

/*
 * Whether m, rejected `stale`, is to be sealed again: it waited long enough
 * for the time to explain it (a message sealed a moment ago and already
 * stale says that the clocks disagree, which resealing cannot cure), and
 * its chain has room.
 */
static bool
resealable(const struct state_msg *m, uint64_t now, char *why, size_t n)
{
	uint64_t age = now > m->sealed_at_ms ? now - m->sealed_at_ms : 0;

	if (m->n_prev >= STATE_MAX_PREV) {
		snprintf(why, n, "sealed %d times already", STATE_MAX_PREV + 1);
		return false;
	}
	if (m->sealed_at_ms != 0 && age < OUTBOX_RESEAL_AGE_MS) {
		snprintf(why, n,
		    "stale %llu ms after it was sealed: is this machine's "
		    "clock behind the broker's?",
		    (unsigned long long)age);
		return false;
	}
	return true;
}

/*
 * Seals the file of old (pending, rejected stale with receipt text)
 * again under a new msg_id and sends that instead. False when the file is
 * no longer there to seal, or is refused now (process_file moved it to
 * failed/): old is then final. True otherwise, also when the new message
 * could not be stored: old stays pending, is resent, and is tried again.
 */
static bool
reseal(struct agent *a, const struct state_msg *old, const char *receipt)
{
	struct state_msg next, cur = *old;
	char hex[33], nhex[33], path[PATH_MAX];
	uint64_t now = clock_now_ms();
	int rc;

	agent_hex_id(old->msg_id, hex);
	if (!process_file(a, old->file, &next)) {
		if (fileio_join(path, sizeof(path), a->dir[DIR_OUTBOX],
		        old->file) == 0 &&
		    access(path, F_OK) == 0) {
			log_warn("%s (%s): rejected stale; cannot seal it "
			         "again now; will try again",
			    hex, old->file);
			return true;
		}
		return false;
	}
	next.n_prev = old->n_prev + 1;
	memcpy(next.prev, old->prev, old->n_prev * WIRE_MSG_ID_LEN);
	memcpy(next.prev[old->n_prev], old->msg_id, WIRE_MSG_ID_LEN);
	cur.receipt = (char *)(uintptr_t)receipt;
	rc = state_supersede(a->state, &cur, &next, now);
	agent_hex_id(next.msg_id, nhex);
	if (rc != 0) {
		if (agent_storage_full(rc))
			agent_store_refused(a, rc);
		else
			log_err("%s (%s): cannot store its new seal: %s; will "
			        "try again",
			    hex, old->file, error_strerror(rc));
		state_msg_release(&next);
		return true;
	}
	log_info("%s (%s): rejected stale after %llu s in the outbox (held "
	         "through an outage): sealed again as %s",
	    hex, old->file,
	    (unsigned long long)((now - old->sealed_at_ms) / 1000), nhex);
	if (a->connected && agent_send(a, next.frame, next.frame_len) != 0)
		log_debug("send of %s deferred", nhex);
	state_msg_release(&next);
	return true;
}

void
outbox_receipt(struct agent *a, const struct wire_receipt *r)
{
	static struct event evs[WIRE_MAX_PROOFS];
	bool ok[WIRE_MAX_PROOFS];
	struct state_msg m;
	char hex[33], why[160];
	bool accepted, audit_ok = true, decided = false, stale = false;
	json_t *o;
	int rc;

	agent_hex_id(r->msg_id, hex);
	if (state_get_msg(a->state, r->msg_id, &m) != 0) {
		log_warn("receipt for %s, which this agent did not send or no "
		         "longer keeps",
		    hex);
		return;
	}
	if (m.state != STATE_PENDING) {
		state_msg_release(&m);
		return; /* a second receipt for a resend: already final */
	}
	/* Check every leaf the broker offers as its word. */
	for (size_t i = 0; i < r->n_decisions; i++) {
		struct checkpoint cp;
		ok[i] = trust_check(a, &r->decisions[i], &evs[i], &cp) == 0 &&
		    evs[i].has_msg_id &&
		    sodium_memcmp(evs[i].msg_id, r->msg_id, WIRE_MSG_ID_LEN) ==
		        0;
		audit_ok &= ok[i];
		decided |= ok[i] && evs[i].type == EVENT_DECISION;
		stale |= ok[i] && evs[i].type == EVENT_REJECTED &&
		    evs[i].reason == WIRE_REASON_STALE;
	}
	accepted = r->outcome == WIRE_ACCEPTED;
	/* A replay of our own message means an earlier send was accepted
	 * and its receipt lost: the broker hands back the decisions. */
	if (r->outcome == WIRE_REJECTED && r->reason == WIRE_REASON_REPLAY &&
	    decided)
		accepted = true;
	if (!accepted && r->retryable) {
		log_warn("%s (%s): refused for now: %s; will resend", hex,
		    m.file, r->detail);
		state_msg_release(&m);
		return;
	}
	if (!audit_ok || r->n_decisions == 0)
		trust_alert(a, "receipt not backed by the audit log", hex);
	o = receipt_json(
	    r, &m, evs, ok, accepted, audit_ok && r->n_decisions > 0);
	free(m.receipt);
	m.receipt = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	/* Sealed again only on the audit log's word: a broker cannot make
	 * the agent send a message twice without leaving the evidence. */
	if (!accepted && r->reason == WIRE_REASON_STALE) {
		if (!stale)
			log_warn("%s (%s): rejected stale, not sealed again: "
			         "the rejection is not in the audit log",
			    hex, m.file);
		else if (!resealable(&m, clock_now_ms(), why, sizeof(why)))
			log_warn("%s (%s): rejected stale, not sealed again: "
			         "%s",
			    hex, m.file, why);
		else if (m.receipt != NULL && reseal(a, &m, m.receipt)) {
			state_msg_release(&m);
			return;
		}
	}
	m.state = accepted ? STATE_ACCEPTED : STATE_REJECTED;
	/* Who will report on it: recipients disclosed something to. */
	m.n_waiting = 0;
	for (size_t i = 0; accepted && i < r->n_decisions; i++)
		if (ok[i] && evs[i].type == EVENT_DECISION &&
		    evs[i].disclosed != 0 && m.n_waiting < WIRE_MAX_RECIPIENTS)
			snprintf(m.waiting[m.n_waiting++], sizeof(m.waiting[0]),
			    "%s", evs[i].recipient);
	if (accepted && !audit_ok)
		m.n_waiting = STATE_WAITING_UNKNOWN;
	/* Record the outcome first; the files follow, and a restart
	 * finishes a move a crash interrupted. */
	if ((rc = state_finish_msg(a->state, &m, clock_now_ms())) != 0) {
		/* It stays pending: the resend brings the receipt again. */
		if (agent_storage_full(rc))
			agent_store_refused(a, rc);
		else
			log_err("%s: cannot record its receipt: %s", hex,
			    error_strerror(rc));
		log_debug(
		    "%s: receipt not recorded: %s", hex, error_strerror(rc));
		state_msg_release(&m);
		return;
	}
	if (accepted)
		log_info("%s (%s): accepted", hex, m.file);
	else
		log_warn("%s (%s): rejected: %s: %s", hex, m.file,
		    wire_reason_name(r->reason), r->detail);
	if ((rc = finish_one(a, &m)) != 0)
		move_failed(a, m.file, rc);
	state_msg_release(&m);
}
