/*
 * concordat-broker: the ROUTER socket with CURVE and a ZAP handler, the
 * group-commit loop that turns a burst of frames into one durable LMDB
 * commit and one checkpoint signature, and the replies that follow the
 * commit. Started by main.c.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <sodium.h>
#include <zmq.h>

#include "broker/broker.h"
#include "broker/broker_int.h"
#include "broker/signer.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/service.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 /* a draft option in libzmq 4.3 */
#endif

#define TIMER_MS 1000 /* expiry, redelivery, reader check */
/*
 * New messages are refused (retryable) above FULL_AT of the map, and taken
 * again below FULL_CLEAR: the headroom is for what frees space, the
 * acknowledgements and expiries, whose own audit leaves need room too.
 */
#define FULL_AT    0.9
#define FULL_CLEAR 0.85

/* Delivered events waiting for a commit, at most: two windows a peer of
 * a large keyring. More are added again when their items are resent. */
#define PENDING_MAX 8192
/* ZAP requests answered before the ROUTER gets its turn again. */
#define ZAP_TURN 64
/*
 * The largest message libzmq reads for us: anything up to it gets a
 * too_big receipt from the broker itself (and an audit event); beyond it
 * libzmq drops the connection unread, since reading it would cost that
 * much memory. Per connection at most a batch of messages waits unread
 * in libzmq (ZMQ_RCVHWM): fewer would cap every batch, and so every group
 * commit, at that many messages from a connection.
 */
#define READ_MAX (2 * (int64_t)WIRE_MAX_FRAME + 4096)

static volatile sig_atomic_t got_term, got_hup;

static int timer_work(struct broker *b, MDB_txn *txn);
static void log_refusals(struct broker *b, uint64_t now, bool all);
static int start_qclock(struct broker *b);

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static int
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt zmq_poll. */
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return ERROR_INTERNAL;
	signal(SIGPIPE, SIG_IGN);
	return ERROR_OK;
}

static int
broker_check_zmq(char *why, size_t n)
{
	int major, minor, patch;

	zmq_version(&major, &minor, &patch);
	if (major * 10000 + minor * 100 + patch < 40303) {
		snprintf(why, n, "libzmq %d.%d.%d is older than 4.3.3", major,
		    minor, patch);
		return ERROR_CONFIG;
	}
	if (!zmq_has("curve")) {
		snprintf(why, n, "libzmq was built without CURVE");
		return ERROR_CONFIG;
	}
	return ERROR_OK;
}

/* Loads keys, keyring and policy named by the config (also for -n). */
int
broker_load(struct broker *b, char *why, size_t n)
{
	int rc;

	if ((rc = keys_load_secret(b->cfg.key, &b->key)) != 0) {
		snprintf(why, n, "%s: %s%s", b->cfg.key, error_strerror(rc),
		    rc == ERROR_PERM ? " (must be mode 0600, owned by the "
		                       "broker's user, not a symlink)"
		                     : "");
		return rc;
	}
	if (!b->key->pub.is_broker) {
		snprintf(why, n, "%s: is an agency key, not the broker's",
		    b->cfg.key);
		return ERROR_KEY;
	}
	if ((rc = keyring_load(b->cfg.keyring, &b->keyring, why, n)) != 0)
		return rc;
	if (keyring_count(b->keyring) == 0) {
		snprintf(
		    why, n, "%s: the keyring holds no agency", b->cfg.keyring);
		return ERROR_CONFIG;
	}
	/* Checkpoints name the broker by its key, so agents know the log. */
	snprintf(b->origin, sizeof(b->origin), "concordat/%s",
	    b->key->pub.fingerprint);
	/* Only an agreement every party's guardian signed. */
	agreement_held_free(b->refused);
	b->refused = NULL;
	if ((rc = agreement_load(
	         b->cfg.policy, b->keyring, &b->agreement, why, n)) != 0) {
		b->refused = b->agreement;
		b->agreement = NULL;
		if (snprintf(b->refusal, sizeof(b->refusal), "%s", why) < 0)
			b->refusal[0] = '\0';
		return rc;
	}
	b->policy = b->agreement->policy;
	return ERROR_OK;
}

static int
setup_socket(struct broker *b)
{
	int one = 1, zero = 0, hs = 5000, hb = 5000, hbt = 15000;
	int rcvhwm = (int)b->cfg.batch;
	int64_t max = READ_MAX;
	/*
	 * Room for an agency's receipts of two whole batches and its window
	 * of deliveries: replies are sent without waiting, and a full pipe
	 * would drop a receipt (the default of 1000 is less than the largest
	 * batch allowed).
	 */
	int hwm = 2 * (int)b->cfg.batch + BROKER_WINDOW + 64;

	b->ctx = zmq_ctx_new();
	if (b->ctx == NULL)
		return ERROR_INTERNAL;
	/* ZAP first: without a handler bound, libzmq would admit anyone. */
	if (zap_start(b) != 0)
		return ERROR_INTERNAL;
	b->router = zmq_socket(b->ctx, ZMQ_ROUTER);
	if (b->router == NULL)
		return ERROR_INTERNAL;
	if (zmq_setsockopt(b->router, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
	    zmq_setsockopt(
	        b->router, ZMQ_CURVE_SECRETKEY, b->key->transport_sk, 32) ||
	    zmq_setsockopt(b->router, ZMQ_ZAP_DOMAIN, BROKER_ZAP_DOMAIN,
	        strlen(BROKER_ZAP_DOMAIN)) ||
	    zmq_setsockopt(
	        b->router, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one)) ||
	    zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &max, sizeof(max)) ||
	    zmq_setsockopt(
	        b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) ||
	    zmq_setsockopt(b->router, ZMQ_SNDHWM, &hwm, sizeof(hwm)) ||
	    zmq_setsockopt(b->router, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm)) ||
	    zmq_setsockopt(b->router, ZMQ_HANDSHAKE_IVL, &hs, sizeof(hs)) ||
	    zmq_setsockopt(b->router, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) ||
	    zmq_setsockopt(
	        b->router, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof(hbt)) ||
	    zmq_setsockopt(b->router, ZMQ_LINGER, &zero, sizeof(zero))) {
		log_err("cannot set up the ROUTER socket: %s",
		    zmq_strerror(zmq_errno()));
		return ERROR_INTERNAL;
	}
	if (zmq_bind(b->router, b->cfg.listen) != 0) {
		log_err("cannot listen on %s: %s", b->cfg.listen,
		    zmq_strerror(zmq_errno()));
		return ERROR_IO;
	}
	control_start(b); /* the local control socket, control.h */
	return ERROR_OK;
}

/* Appends a broker event (started, stopped, policy activated) in txn. */
static int
broker_event(struct broker *b, MDB_txn *txn, int type, const char *detail)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = (enum event_type)type;
	ev.time_ms = clock_now_ms();
	snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
	if (type == EVENT_POLICY_ACTIVATED)
		agreement_event_fill(b->agreement, &ev);
	else if (type == EVENT_POLICY_REFUSED)
		agreement_event_fill(b->refused, &ev);
	return audit_append(store_audit(b->store), txn, &ev, NULL);
}

/* What the signer's refusal of a checkpoint means, for the log. */
static const char *
signer_refusal(int rc)
{
	switch (rc) {
	case ERROR_CHECKPOINT:
		return "it does not extend the last checkpoint signed";
	case ERROR_PROOF:
		return "the consistency proof from the last checkpoint signed "
		       "does not verify";
	case ERROR_IO:
		return "the signer is gone or cannot write its head";
	default:
		return error_strerror(rc);
	}
}

/* The signer is gone or refused: the loop stops, and so does the broker. */
static void
signer_lost(struct broker *b, int rc)
{
	if (b->signer_err == 0)
		b->signer_err = rc != 0 ? rc : ERROR_IO;
	got_term = 1;
}

struct sign_arg {
	struct broker *b;
	MDB_txn *txn;
};

/*
 * audit_checkpoint's signing call: the signer signs cp if it extends what
 * it signed last, shown by the consistency proof built here from txn.
 */
static int
sign_checkpoint(void *arg, const struct checkpoint *cp, char *buf,
    size_t buflen, size_t *len)
{
	struct sign_arg *a = arg;
	struct broker *b = a->b;
	uint64_t from = signer_head(b->signer, NULL);
	size_t n = 0;
	int rc;

	*len = 0;
	if (b->signer_err != 0)
		return b->signer_err;
	/* A log behind the signer gets no proof: it is refused as such. */
	if (from > 0 && from < cp->size &&
	    (rc = audit_consistency(store_audit(b->store), a->txn, from,
	         cp->size, b->sign_path, &n)) != 0) {
		log_err("cannot build the consistency proof from checkpoint "
		        "%llu to %llu: %s",
		    (unsigned long long)from, (unsigned long long)cp->size,
		    error_strerror(rc));
		return rc;
	}
	rc = signer_sign(b->signer, cp->size, cp->root,
	    (const uint8_t(*)[MERKLE_HASH_LEN])b->sign_path, n, buf, buflen,
	    len);
	if (rc != 0) {
		log_err("the signer refused checkpoint %llu (its last is "
		        "%llu): %s; not committed, stopping",
		    (unsigned long long)cp->size,
		    (unsigned long long)signer_head(b->signer, NULL),
		    signer_refusal(rc));
		signer_lost(b, rc);
		return rc;
	}
	b->signed_size = cp->size;
	return ERROR_OK;
}

/* audit_checkpoint through the signer. */
static int
checkpoint(struct broker *b, MDB_txn *txn, struct audit_head *head)
{
	struct sign_arg a = {b, txn};

	b->signed_size = 0;
	audit_memo_reset(b->memo); /* the receipts' proofs, against head */
	return audit_checkpoint(
	    store_audit(b->store), txn, sign_checkpoint, &a, head);
}

/*
 * After the commit (rc) of a transaction that may hold a checkpoint just
 * signed: one that did not reach the log is a signature no later tree can
 * extend. The broker stops rather than be refused at its next commit; the
 * next start withdraws that signature (datadir.h, DESIGN.md §7).
 */
static int
settle_signed(struct broker *b, int rc)
{
	if (rc != 0 && b->signed_size != 0) {
		log_err("checkpoint %llu was signed but its commit failed: "
		        "%s; stopping (the next start withdraws it)",
		    (unsigned long long)b->signed_size, error_strerror(rc));
		signer_lost(b, ERROR_CHECKPOINT);
	}
	b->signed_size = 0;
	return rc;
}

/* Commits one stand-alone broker event, signed. */
int
log_alone(struct broker *b, int type, const char *detail)
{
	struct audit_head head;
	MDB_txn *txn;
	int rc;

	if ((rc = store_begin(b->store, true, &txn)) != 0)
		return rc;
	if ((rc = broker_event(b, txn, type, detail)) != 0 ||
	    (rc = checkpoint(b, txn, &head)) != 0) {
		store_abort(txn);
		return settle_signed(b, rc);
	}
	return settle_signed(b, store_commit(txn));
}

/* A frame that did not decode, refused without a leaf of its own. */
static void
refuse_unread(struct reply *rep, const struct verify_job *job)
{
	rep->outcome = WIRE_REJECTED;
	rep->reason = wire_reason_from_error(job->decode_rc);
	rep->retryable = false;
	rep->n_leaves = 0;
	snprintf(rep->detail, sizeof(rep->detail), "%s", job->why);
}

/* The first byte of a Frame that is a DeliveryAck or a ProofRequest:
 * field 4 or 6 of the oneof, length-delimited (protobuf wire type 2). */
#define FRAME_TAG_ACK           ((4 << 3) | 2)
#define FRAME_TAG_PROOF_REQUEST ((6 << 3) | 2)

/* Refills p's rate bucket and takes one frame from it; false when empty. */
static bool
take_token(struct broker *b, struct peer *p, uint64_t now)
{
	double rate = (double)b->cfg.rate, burst = (double)b->cfg.burst;

	p->tokens += (double)(now - p->tokens_ms) * rate / 1000.0;
	if (p->tokens > burst)
		p->tokens = burst;
	p->tokens_ms = now;
	if (p->tokens < 1.0)
		return false;
	p->tokens -= 1.0;
	return true;
}

/*
 * Takes one ZeroMQ message from the ROUTER into in, without waiting:
 * attributes it to the agency the ZAP handler named (never the payload)
 * and to the key its session authenticated with, and prepares its
 * verification job. A message of more than one part (after the routing
 * id) is read whole and refused as malformed: libzmq hands over only
 * whole messages, so every part is there to be read. Returns false when
 * no message is waiting.
 */
static bool
receive_frame(struct broker *b, struct inframe *in)
{
	const char *user, *key;
	unsigned parts = 0;
	int more;

	memset(&in->job, 0, sizeof(in->job));
	in->known = false;
	in->over_rate = false;
	in->ungated = false;
	in->key[0] = '\0';
	zmq_msg_init(&in->rid);
	zmq_msg_init(&in->body);
	if (zmq_msg_recv(&in->rid, b->router, ZMQ_DONTWAIT) < 0)
		return false;
	more = zmq_msg_more(&in->rid);
	if (more && zmq_msg_recv(&in->body, b->router, ZMQ_DONTWAIT) >= 0) {
		parts = 1;
		more = zmq_msg_more(&in->body);
	}
	while (more) {
		zmq_msg_t extra;
		zmq_msg_init(&extra);
		if (zmq_msg_recv(&extra, b->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&extra);
			break;
		}
		more = zmq_msg_more(&extra);
		zmq_msg_close(&extra);
		parts++;
	}
	if (parts == 0)
		return true; /* not a frame we can use; known stays false */
	user = zmq_msg_gets(&in->body, "User-Id");
	key = zmq_msg_gets(&in->body, BROKER_KEY_PROPERTY);
	struct peer *p = user != NULL && ident_agency_valid(user)
	    ? deliver_peer(b, user)
	    : NULL;
	/* P6: the key this session authenticated with must still be the
	 * agency's key in the keyring in force; else it is heard no more. */
	if (p == NULL || zmq_msg_size(&in->rid) > BROKER_RID_MAX ||
	    key == NULL || !peer_key_ok(p, key))
		return revoke_frame(
		    b, p, key, zmq_msg_data(&in->rid), zmq_msg_size(&in->rid));
	in->known = true;
	p->seen_ms = clock_now_ms();
	snprintf(in->key, sizeof(in->key), "%s", key);
	/* Copied: a reload may replace the peers while this batch waits. */
	snprintf(in->job.agency, sizeof(in->job.agency), "%s", user);
	in->job.buf = zmq_msg_data(&in->body);
	in->job.len = zmq_msg_size(&in->body);
	const struct keys_public *k = peer_identity(b, user, key);
	in->job.pk = k != NULL ? k->sign_pk : NULL;
	if (parts != 1) {
		in->job.refused = true;
		in->job.decode_rc = ERROR_DECODE;
		snprintf(in->job.why, sizeof(in->job.why),
		    "a frame is one ZeroMQ message part; this message had %u",
		    parts);
	}
	/*
	 * The rate bounds submissions, not acknowledgements and greetings,
	 * which a busy recipient sends as fast as it is sent to. Those are
	 * told apart by the Frame's first tag (the oneof's field 4 or 6,
	 * bytes sent); one that turns out to be anything else takes its
	 * token once decoded (handle_frame). Over the rate a frame is
	 * decoded but not verified, and refused unread.
	 */
	const uint8_t *body = in->job.buf;
	in->ungated = in->job.len > 0 &&
	    (body[0] == FRAME_TAG_ACK || body[0] == FRAME_TAG_PROOF_REQUEST);
	if (!in->ungated && !take_token(b, p, clock_mono_ms())) {
		in->over_rate = true;
		in->job.decode_only = true;
	}
	return true;
}

static void
release_frame(struct batch *bt, struct inframe *in)
{
	if (in->job.f != NULL) /* freed on the pool (struct batch) */
		bt->spent[bt->n_spent++] = in->job.f;
	in->job.f = NULL;
	zmq_msg_close(&in->rid);
	zmq_msg_close(&in->body);
}

/*
 * Handles one received, pre-checked frame inside the batch's txn. With
 * txn NULL (the batch has failed) a Submit only gets its reply slot, to be
 * refused as retryable. Returns an LMDB failure that makes txn unusable.
 */
static int
handle_frame(struct broker *b, MDB_txn *txn, struct inframe *in)
{
	const char *agency = in->job.agency;
	struct wire_frame *f = in->job.f;
	size_t rid_len = zmq_msg_size(&in->rid);
	const void *rid = zmq_msg_data(&in->rid);
	int rc;

	struct peer *p = deliver_peer(b, agency);
	if (p == NULL) {
		/* Taken off the keyring by a reload since it arrived. */
		log_warn(
		    "frame from %s, no longer in the keyring: dropped", agency);
		return ERROR_OK;
	}
	if (!peer_key_ok(p, in->key)) {
		/* Its key left the keyring while the frame waited. */
		p->stale++;
		return ERROR_OK;
	}
	/* A frame from a connection other than the one we deliver on: the
	 * agency reconnected; deliver there from now on. */
	if (!p->connected || p->rid_len != rid_len ||
	    memcmp(p->rid, rid, rid_len) != 0)
		deliver_attach(p, rid, rid_len, in->key);
	/* A Submit, or a frame that did not decode: ingest rejects it. */
	if (in->job.decode_rc != 0 || f->type == WIRE_SUBMIT) {
		if (b->n_replies >= b->cfg.batch)
			return ERROR_OK; /* cannot happen: batch-bounded */
		struct reply *rep = &b->replies[b->n_replies++];
		memset(rep, 0, sizeof(*rep));
		memcpy(rep->rid, rid, rid_len);
		rep->rid_len = rid_len;
		snprintf(rep->agency, sizeof(rep->agency), "%s", agency);
		if (in->job.decode_rc == 0)
			memcpy(
			    rep->msg_id, f->u.submit.m.msg_id, WIRE_MSG_ID_LEN);
		else if (wire_frame_msg_id(in->job.buf, in->job.len,
		             rep->msg_id) != 0) /* named when it can be read */
			memset(rep->msg_id, 0, WIRE_MSG_ID_LEN);
		/* Claimed to be an acknowledgement, is not: its token now. */
		if (in->ungated && !in->over_rate &&
		    !take_token(b, p, clock_mono_ms()))
			in->over_rate = true;
		if (in->over_rate) {
			/* Refused unread and unlogged, one by one; counted
			 * for one log line and one event a minute. */
			ingest_refuse(rep, ERROR_RATE);
			tally_add(&p->limited);
			wire_frame_free(in->job.f);
			in->job.f = NULL;
			return ERROR_OK;
		}
		/* Frames that do not decode carry nothing worth a leaf each:
		 * the first of a window is audited, the rest counted. */
		if (in->job.decode_rc != 0 && p->unreadable.open) {
			refuse_unread(rep, &in->job);
			tally_add(&p->unreadable);
			return ERROR_OK;
		}
		if (in->job.decode_rc != 0)
			tally_open(&p->unreadable);
		return txn != NULL
		    ? ingest_submit(b, txn, agency, &in->job, rep)
		    : ERROR_OK;
	}
	if (txn == NULL)
		return ERROR_OK;
	rc = ERROR_OK;
	switch (f->type) {
	case WIRE_DELIVERY_ACK:
		if ((rc = deliver_ack(b, txn, agency, f)) != 0)
			log_err("ack from %s: %s", agency, error_strerror(rc));
		break;
	case WIRE_PROOF_REQUEST:
		witness_greeted(b, p, rid, rid_len, in->key, f);
		break;
	case WIRE_COSIGNATURE:
		rc = witness_cosigned(b, txn, p, &f->u.cosignature);
		break;
	case WIRE_AGREEMENT_REQUEST:
		inforce_answer(b, p, &f->u.agreement);
		break;
	case WIRE_REVIEW: /* review.c */
		return review_frame(b, txn, p, rid, rid_len, &f->u.review);
	default:
		log_warn("%s sent a frame agents do not send: ignored", agency);
		break;
	}
	return rc;
}

/* Commits events built by fn in a transaction of their own, signed. */
int
log_apart(struct broker *b,
    int (*fn)(struct broker *b, MDB_txn *txn, void *arg), void *arg)
{
	struct audit_head head;
	MDB_txn *txn;
	int rc, n;

	if ((rc = store_begin(b->store, true, &txn)) != 0)
		return rc;
	if ((n = fn(b, txn, arg)) < 0 ||
	    (n > 0 && (rc = checkpoint(b, txn, &head)) != 0)) {
		store_abort(txn);
		return settle_signed(b, n < 0 ? n : rc);
	}
	if (n == 0) {
		store_abort(txn);
		return ERROR_OK;
	}
	return settle_signed(b, store_commit(txn));
}

/* Updates b->full from the store's use of its map. */
static void
check_full(struct broker *b)
{
	uint64_t used, map;

	if (store_usage(b->store, &used, &map) == 0 && map != 0) {
		double share = (double)used / (double)map;
		if (!b->map_full && share > FULL_AT) {
			b->map_full = true;
			log_warn("storage %.0f%% full: refusing new messages "
			         "until deliveries free space (map_size_mb "
			         "raises it)",
			    100.0 * share);
		} else if (b->map_full && share < FULL_CLEAR) {
			b->map_full = false;
			log_info("storage %.0f%% full: taking messages again",
			    100.0 * share);
		}
	}
	b->full = b->map_full || b->disk_full;
}

/*
 * The room kept allocated on disk ahead of the log: a tenth of the map, at
 * most 256 MiB (a million acknowledgements and their audit leaves).
 */
#define RESERVE_MAX ((uint64_t)256 << 20)

static uint64_t
reserve_room(const struct broker *b)
{
	uint64_t room = b->cfg.map_size / 10;

	return room > RESERVE_MAX ? RESERVE_MAX : room;
}

/* Keeps the disk's reserve, and refuses new messages while it cannot. */
static void
check_disk(struct broker *b)
{
	int rc = store_reserve(b->store, reserve_room(b));

	if (rc == ERROR_NOSPC && !b->disk_full) {
		b->disk_full = true;
		log_warn("the disk holding %s is full: refusing new messages "
		         "until it has %llu MiB free for the log",
		    b->cfg.data, (unsigned long long)(reserve_room(b) >> 20));
	} else if (rc == 0 && b->disk_full) {
		b->disk_full = false;
		log_info("the disk holding %s has room again", b->cfg.data);
	} else if (rc != 0 && rc != ERROR_NOSPC) {
		log_err("cannot reserve room for %s: %s", b->cfg.data,
		    error_strerror(rc));
	}
	check_full(b);
}

static bool
is_submit(const struct inframe *in)
{
	return in->job.decode_rc != 0 || in->job.f->type == WIRE_SUBMIT;
}

/* Refuses every Submit of the batch as retryable, after a failure. */
static void
refuse_all(struct broker *b, int err)
{
	for (size_t i = 0; i < b->n_replies; i++)
		ingest_refuse(&b->replies[i], err);
}

/*
 * The batch's Submits, in one child of txn. When storage fails the child
 * is undone and they are all refused as retryable; txn stays usable. An
 * error is returned only when txn itself failed.
 */
static int
ingest_batch(struct broker *b, MDB_txn *txn, struct batch *bt)
{
	unsigned nframes = bt->n;
	MDB_txn *child = NULL;
	unsigned long accepted = b->accepted, rejected = b->rejected;
	bool any = false;
	int rc;

	for (unsigned i = 0; i < nframes; i++)
		any |= bt->in[i].known && is_submit(&bt->in[i]);
	if (!any)
		return ERROR_OK;
	/* Before every batch of new messages: a burst must not run the disk
	 * out of the room kept for what frees space. */
	check_disk(b);
	if (b->full) {
		for (unsigned i = 0; i < nframes; i++)
			if (bt->in[i].known && is_submit(&bt->in[i]))
				(void)handle_frame(b, NULL, &bt->in[i]);
		if (b->n_replies > 0)
			refuse_all(b, ERROR_MAPFULL);
		return ERROR_OK;
	}
	if ((rc = store_begin_nested(b->store, txn, &child)) != 0)
		return rc;
	for (unsigned i = 0; i < nframes; i++) {
		if (!bt->in[i].known || !is_submit(&bt->in[i]))
			continue;
		int hrc = handle_frame(b, rc == 0 ? child : NULL, &bt->in[i]);
		if (rc == 0)
			rc = hrc;
	}
	if (rc == 0)
		rc = store_commit(child);
	else
		store_abort(child);
	if (rc != 0) {
		log_err("%zu messages refused for now: %s", b->n_replies,
		    error_strerror(rc));
		refuse_all(b, rc);
		if (rc == ERROR_MAPFULL)
			b->map_full = true;
		if (rc == ERROR_NOSPC)
			b->disk_full = true;
		b->full = b->map_full || b->disk_full;
		b->accepted = accepted;
		b->rejected = rejected;
	}
	return ERROR_OK;
}

/*
 * Receives what is waiting into bt (up to cfg.batch frames) and starts its
 * decoding and verification on the pool.
 */
static void
take_batch(struct broker *b, struct batch *bt)
{
	bt->n = 0;
	bt->njobs = 0;
	while (bt->n < b->cfg.batch && receive_frame(b, &bt->in[bt->n]))
		bt->n++;
	for (unsigned i = 0; i < bt->n; i++)
		if (bt->in[i].known)
			bt->jobs[bt->njobs++] = bt->in[i].job;
	verifier_start(
	    b->verifier, bt->jobs, bt->njobs, bt->spent, bt->n_spent);
	bt->n_spent = 0; /* the pool's until verifier_wait */
	bt->started = bt->n > 0;
}

/* One batch: frames already waiting, pending events, timers; one commit. */
static void
run_batch(struct broker *b, bool timers)
{
	struct audit_head head;
	MDB_txn *txn = NULL;
	unsigned nframes = 0;
	int rc;

	b->n_replies = 0;
	struct batch *bt = &b->batch[b->cur];
	if (!bt->started)
		take_batch(b, bt);
	verifier_wait(b->verifier);
	for (unsigned i = 0, j = 0; i < bt->n; i++)
		if (bt->in[i].known)
			bt->in[i].job = bt->jobs[j++];
	bt->started = false;
	nframes = bt->n;
	/* What is waiting now is verified on the pool while this batch is
	 * written: the main thread's LMDB work and the signatures overlap. */
	take_batch(b, &b->batch[!b->cur]);
	b->cur = !b->cur;

	if ((rc = store_begin(b->store, true, &txn)) != 0) {
		log_err("cannot begin a transaction: %s", error_strerror(rc));
		for (unsigned i = 0; i < nframes; i++)
			release_frame(bt, &bt->in[i]);
		bt->n = 0;
		return;
	}
	/*
	 * Acknowledgements and greetings first, in the batch's transaction;
	 * then every Submit in one child transaction. A full map then refuses
	 * the Submits (retryable) while the acknowledgements, which free
	 * space, still commit.
	 */
	rc = ERROR_OK;
	for (unsigned i = 0; i < nframes && rc == 0; i++)
		if (bt->in[i].known && !is_submit(&bt->in[i]))
			rc = handle_frame(b, txn, &bt->in[i]);
	if (rc == 0)
		rc = ingest_batch(b, txn, bt);
	for (unsigned i = 0; i < nframes; i++)
		release_frame(bt, &bt->in[i]);
	bt->n = 0;
	if (rc == 0)
		rc = deliver_flush_pending(b, txn);
	if (rc == 0 && timers)
		rc = timer_work(b, txn);
	if (rc == 0)
		rc = checkpoint(b, txn, &head);
	if (rc == 0)
		for (size_t i = 0; i < b->n_replies; i++)
			ingest_receipt(b, txn, &b->replies[i], &head);
	uint64_t t0 = monitor_now_us();
	if (rc == 0)
		monitor_commit(b, t0, rc = store_commit(txn));
	else
		store_abort(txn);
	rc = settle_signed(b, rc);
	if (rc != 0) {
		/* Nothing of this batch is on disk: refuse its messages so
		 * their senders try again. */
		log_err("commit failed: %s", error_strerror(rc));
		refuse_all(b, rc);
		if (rc == ERROR_NOSPC || rc == ERROR_MAPFULL) {
			/* Until the next tick says otherwise. */
			b->disk_full |= rc == ERROR_NOSPC;
			b->map_full |= rc == ERROR_MAPFULL;
			b->full = true;
		}
		for (size_t i = 0; i < b->n_replies; i++) {
			/* A refusal carries no leaf: no txn, no checkpoint. */
			free(b->replies[i].frame);
			b->replies[i].frame = NULL;
			ingest_receipt(b, NULL, &b->replies[i], NULL);
		}
		/* The acknowledgements it held are lost with it, though
		 * deliver_ack counted them: deliver every queue again from
		 * its start, so that they are made again. */
		for (size_t i = 0; i < b->n_peers; i++)
			deliver_restart(&b->peers[i]);
	}
	/* Only now, with the commit durable, do receipts go out. */
	size_t unsent = 0;
	for (size_t i = 0; i < b->n_replies; i++) {
		struct reply *rep = &b->replies[i];
		if (rep->frame != NULL) {
			if (zmq_send(b->router, rep->rid, rep->rid_len,
			        ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
			    zmq_send(b->router, rep->frame, rep->frame_len,
			        ZMQ_DONTWAIT) < 0)
				unsent++;
			free(rep->frame);
			rep->frame = NULL;
		}
	}
	/* The messages are stored; their senders resend after a while and
	 * get the decisions back with a replay answer. */
	if (unsent > 0)
		log_warn("%zu receipts not sent (agency gone or not reading: "
		         "%s); they are answered when resent",
		    unsent, zmq_strerror(zmq_errno()));
	if (rc == 0)
		b->n_pending = 0; /* logged: the commit holds them */
	else
		b->retry_ms = clock_mono_ms() + TIMER_MS; /* not a busy loop */
	deliver_hellos(b); /* after a failure too: they only read */
	if (rc == 0)
		for (size_t i = 0; i < b->n_peers; i++)
			deliver_pump(b, &b->peers[i]);
}

/* How much the wall clock and the queue clock may drift apart unremarked. */
#define DRIFT_WARN_MS 10000
#define PRUNE_MAX     4096 /* replay records forgotten per tick at most */
/* The queue clock is saved this often: a restart adds the wall clock's
 * time since, so a later save only narrows what a crash can lose. */
#define QCLOCK_SAVE_MS 60000

uint64_t
broker_qclock(const struct broker *b)
{
	return b->qclock_base + (clock_mono_ms() - b->qclock_mono);
}

/* Starts the queue clock where the store left it (§11). */
static int
start_qclock(struct broker *b)
{
	uint64_t q, w, wall = clock_now_ms();
	MDB_txn *txn;
	int rc;

	if ((rc = store_begin(b->store, false, &txn)) != 0)
		return rc;
	rc = store_clock_get(b->store, txn, &q, &w);
	store_abort(txn);
	if (rc == ERROR_NOTFOUND) {
		q = wall;
		w = wall;
	} else if (rc != 0) {
		return rc;
	}
	/* The time the broker was down counts, as the wall clock tells it;
	 * a wall clock set back since then counts as no time at all. */
	b->qclock_base = q + (wall > w ? wall - w : 0);
	b->qclock_saved = b->qclock_base - QCLOCK_SAVE_MS; /* save soon */
	b->qclock_mono = clock_mono_ms();
	b->wall_drift_ms = (int64_t)(wall - b->qclock_base);
	return ERROR_OK;
}

/*
 * The once-a-second work inside a batch's transaction: expiries on the
 * queue clock, the clock saved, replay records past the freshness window
 * forgotten.
 */
static int
timer_work(struct broker *b, MDB_txn *txn)
{
	uint64_t q = broker_qclock(b), wall = clock_now_ms();
	int64_t drift = (int64_t)(wall - q);
	size_t pruned;
	int n, rc;

	if (drift - b->wall_drift_ms > DRIFT_WARN_MS ||
	    b->wall_drift_ms - drift > DRIFT_WARN_MS)
		log_warn("the wall clock moved %+lld s against the monotonic "
		         "clock; expiry follows the monotonic clock",
		    (long long)((drift - b->wall_drift_ms) / 1000));
	b->wall_drift_ms = drift;
	if ((n = deliver_expire(b, txn, q)) < 0)
		return n;
	if (q - b->qclock_saved >= QCLOCK_SAVE_MS) {
		if ((rc = store_clock_put(b->store, txn, q, wall)) != 0)
			return rc;
		b->qclock_saved = q;
	}
	/* Within the window a replay record stops a replay; past it the
	 * freshness check does, and the audit log answers resends. Twice
	 * the window: room for the clocks of broker and agents to differ. */
	if (wall > 2 * b->cfg.clock_skew_ms &&
	    (rc = store_replay_prune(b->store, txn,
	         wall - 2 * b->cfg.clock_skew_ms, PRUNE_MAX, &pruned)) != 0)
		return rc;
	return ERROR_OK;
}

/* One rejected event standing for a tally's window. */
static int
append_tally(struct broker *b, MDB_txn *txn, const struct peer *p,
    const struct tally *t, int reason)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_REJECTED;
	ev.time_ms = clock_now_ms();
	ev.reason = reason;
	ev.count = t->count;
	snprintf(ev.sender, sizeof(ev.sender), "%s", p->id);
	if (reason == WIRE_REASON_RATE_LIMITED)
		snprintf(ev.detail, sizeof(ev.detail),
		    "%llu submissions refused unread over the rate of %u a "
		    "second (burst %u) in a window of a minute",
		    (unsigned long long)t->count, b->cfg.rate, b->cfg.burst);
	else
		snprintf(ev.detail, sizeof(ev.detail),
		    "%llu more frames that did not decode (malformed or too "
		    "big) in a window of a minute, after the one audited",
		    (unsigned long long)t->count);
	return audit_append(store_audit(b->store), txn, &ev, NULL);
}

/* The agencies' tallies whose windows closed, one event each. */
static int
append_tallies(struct broker *b, MDB_txn *txn, uint64_t now, bool all)
{
	int n = 0, rc;

	for (size_t i = 0; i < b->n_peers; i++) {
		struct peer *p = &b->peers[i];
		if (tally_closed(&p->limited, now, all) && p->limited.count) {
			if ((rc = append_tally(b, txn, p, &p->limited,
			         WIRE_REASON_RATE_LIMITED)) != 0)
				return rc;
			n++;
		}
		if (tally_closed(&p->unreadable, now, all) &&
		    p->unreadable.count) {
			if ((rc = append_tally(b, txn, p, &p->unreadable,
			         WIRE_REASON_MALFORMED)) != 0)
				return rc;
			n++;
		}
	}
	return n;
}

/* Whether some agency's tally is due for the log. */
static bool
tallies_due(const struct broker *b, uint64_t now)
{
	for (size_t i = 0; i < b->n_peers; i++) {
		const struct peer *p = &b->peers[i];
		if ((tally_closed(&p->limited, now, false) &&
		        p->limited.count) ||
		    (tally_closed(&p->unreadable, now, false) &&
		        p->unreadable.count))
			return true;
	}
	return false;
}

/*
 * After the events' transaction: a closed window is over once logged (or
 * when it counted nothing); when it could not be logged (storage full) its
 * count carries into a new window, to be logged when there is room.
 */
static void
settle_tally(const struct peer *p, struct tally *t, const char *what,
    uint64_t now, bool all, bool logged)
{
	if (!tally_closed(t, now, all))
		return;
	if (t->count > 0)
		log_warn("%s: %llu %s in the last minute", p->id,
		    (unsigned long long)t->count, what);
	if (logged || t->count == 0) {
		t->open = false;
		t->count = 0;
	} else {
		t->since_ms = now;
	}
}

struct apart {
	uint64_t now;
	bool all;
};

static int
refusal_events(struct broker *b, MDB_txn *txn, void *arg)
{
	const struct apart *ap = arg;
	int n, m;

	if ((n = zap_flush(b, txn, ap->now, ap->all)) < 0)
		return n;
	if ((m = append_tallies(b, txn, ap->now, ap->all)) < 0)
		return m;
	return n + m;
}

/*
 * Refusals (handshakes, frames over rate, frames that do not decode)
 * reach the audit log as aggregates, in a transaction apart from
 * acknowledgements, and not at all above the storage threshold: then they
 * are only counted (§11).
 */
static void
log_refusals(struct broker *b, uint64_t now, bool all)
{
	struct apart ap = {now, all};
	bool logged = false;
	int rc;

	if (!b->full && (all || zap_due(b, now) || tallies_due(b, now))) {
		if ((rc = log_apart(b, refusal_events, &ap)) == 0)
			logged = true;
		else
			log_err(
			    "could not log refusals: %s", error_strerror(rc));
	}
	zap_settle(b, now, logged, all);
	for (size_t i = 0; i < b->n_peers; i++) {
		struct peer *p = &b->peers[i];
		settle_tally(p, &p->limited,
		    "submissions refused over its rate", now, all, logged);
		settle_tally(p, &p->unreadable,
		    "more frames that did not decode", now, all, logged);
		if (p->stale > 0) {
			log_warn("%s: %llu frames ignored from a session whose "
			         "key is no longer in the keyring",
			    p->id, (unsigned long long)p->stale);
			p->stale = 0;
		}
	}
	if (b->unknown_frames > 0) {
		log_warn("%llu frames from no agency of the keyring dropped",
		    (unsigned long long)b->unknown_frames);
		b->unknown_frames = 0;
	}
}

static void
timers(struct broker *b, uint64_t *last_reader, uint64_t now)
{
	for (size_t i = 0; i < b->n_peers; i++) {
		struct peer *p = &b->peers[i];
		/* A queue that failed to read is tried again, once a tick. */
		if (p->paused) {
			p->paused = false;
			deliver_pump(b, p);
		}
		/* No acknowledgement for a while: send everything again. (now
		 * was read before this tick's batch, which may have made
		 * progress since: never a difference that wraps.) */
		uint64_t idle =
		    now > p->last_progress_ms ? now - p->last_progress_ms : 0;
		if (p->connected && p->inflight > 0 &&
		    idle > b->cfg.redeliver_ms) {
			log_info("%s: %u unacknowledged, redelivering", p->id,
			    p->inflight);
			monitor_redelivered(b, p);
			deliver_restart(p);
			p->last_progress_ms = now;
			deliver_pump(b, p);
		}
	}
	check_disk(b);
	log_refusals(b, now, false);
	monitor_tick(b, last_reader, now); /* readers, usage, metrics */
}

static void
broker_free(struct broker *b)
{
	control_stop(b);
	if (b->router != NULL)
		zmq_close(b->router);
	if (b->zap != NULL)
		zmq_close(b->zap);
	if (b->ctx != NULL)
		zmq_ctx_term(b->ctx);
	store_close(b->store);
	(void)signer_stop(b->signer);
	datadir_close(b->datadir);
	inforce_free(b);
	agreement_held_free(b->agreement);
	agreement_held_free(b->agreement_prev);
	agreement_held_free(b->refused);
	keyring_free(b->keyring);
	keys_secret_free(b->key);
	deliver_free_peers(b);
	free(b->replies);
	free(b->hellos);
	free(b->pending);
	free(b->scratch);
	free(b->memo);
	free(b->decisions);
	free(b->status);
	/* A batch taken but not written gets no receipt: its senders send
	 * it again. */
	for (int i = 0; i < 2; i++) {
		struct batch *bt = &b->batch[i];
		if (bt->started) {
			verifier_wait(b->verifier);
			for (size_t j = 0; j < bt->njobs; j++)
				wire_frame_free(bt->jobs[j].f);
		}
		for (unsigned j = 0; bt->in != NULL && j < bt->n; j++) {
			zmq_msg_close(&bt->in[j].rid);
			zmq_msg_close(&bt->in[j].body);
		}
		for (size_t j = 0; j < bt->n_spent; j++)
			wire_frame_free(bt->spent[j]);
		free(bt->in);
		free(bt->jobs);
		free(bt->spent);
	}
	verifier_free(b->verifier);
}

/*
 * At start, once the log is open: a refused agreement is audited and the
 * start refused; the one taken is archived before it decides anything.
 */
static int
start_agreement(struct broker *b, int refusing)
{
	int rc;

	if (refusing != 0) {
		if (log_alone(b, EVENT_POLICY_REFUSED, b->refusal) != 0)
			log_err("could not log the refused agreement");
		return refusing;
	}
	if ((rc = agreement_archive(b->cfg.data, b->agreement)) != 0)
		log_err(
		    "refusing to start: %s: cannot archive the agreement: %s",
		    b->cfg.data, error_strerror(rc));
	return rc;
}

/* SIGHUP, told to the service manager (RELOADING=1, then READY=1). */
static void
reload(struct broker *b)
{
	service_reloading();
	broker_reload(b);
	service_ready("listening on %s", b->cfg.listen);
}

/* Working memory, sized by the configuration. */
static int
alloc_work(struct broker *b)
{
	b->max_pending = PENDING_MAX;
	b->pending = calloc(b->max_pending, sizeof(*b->pending));
	b->replies = calloc(b->cfg.batch, sizeof(*b->replies));
	b->hellos = calloc(b->cfg.batch, sizeof(*b->hellos));
	b->scratch = calloc(1, sizeof(*b->scratch));
	b->memo = calloc(1, sizeof(*b->memo));
	b->decisions = calloc(WIRE_MAX_RECIPIENTS, sizeof(*b->decisions));
	b->status = calloc(1, sizeof(*b->status));
	for (int i = 0; i < 2; i++) {
		b->batch[i].in = calloc(b->cfg.batch, sizeof(*b->batch[i].in));
		b->batch[i].jobs =
		    calloc(b->cfg.batch, sizeof(*b->batch[i].jobs));
		b->batch[i].spent =
		    calloc(b->cfg.batch, sizeof(*b->batch[i].spent));
	}
	if (b->pending == NULL || b->replies == NULL || b->hellos == NULL ||
	    b->scratch == NULL || b->memo == NULL || b->decisions == NULL ||
	    b->status == NULL || b->batch[0].in == NULL ||
	    b->batch[1].in == NULL || b->batch[0].jobs == NULL ||
	    b->batch[1].jobs == NULL || b->batch[0].spent == NULL ||
	    b->batch[1].spent == NULL || verifier_new(0, &b->verifier) != 0 ||
	    setup_peers(b) != 0)
		return ERROR_NOMEM;
	return ERROR_OK;
}

/* The detail of the broker_started event. */
static void
started_detail(const struct broker *b, char *why, size_t n)
{
	if (datadir_withdrawn(b->datadir) != 0)
		snprintf(why, n,
		    "%s; checkpoint %llu, signed before the last stop, never "
		    "reached the log and is withdrawn",
		    CONCORDAT_VERSION,
		    (unsigned long long)datadir_withdrawn(b->datadir));
	else
		snprintf(why, n, "%s", CONCORDAT_VERSION);
}

int
broker_run(const struct broker_config *cfg)
{
	struct broker b;
	char why[4096];
	uint64_t last_timer, last_reader;
	int rc, refusing = 0;

	memset(&b, 0, sizeof(b));
	b.cfg = *cfg;
	if ((rc = install_signals()) != 0)
		goto out;
	if ((rc = broker_check_zmq(why, sizeof(why))) != 0 ||
	    (rc = broker_load(&b, why, sizeof(why))) != 0) {
		log_err("refusing to start: %s", why);
		/* An agreement refused is audited once the log is open. */
		if (b.refused == NULL || b.key == NULL)
			goto out;
		refusing = rc;
	}
	/*
	 * The data folder before anything else: its lock, then the log
	 * checked against the head (in a child process, before this one has
	 * threads or sockets). A damaged or lost log is refused here, and
	 * nothing listens.
	 */
	if ((rc = datadir_open(b.cfg.data, b.cfg.map_size, b.cfg.key, b.key,
	         b.origin, &b.datadir, &b.store, why, sizeof(why))) != 0) {
		log_err("refusing to start: %s", why);
		goto out;
	}
	log_info("%s", why);
	if (got_term)
		goto out; /* stopped while the log was checked: rc is 0 */
	/*
	 * The signer, forked before this process has threads or sockets,
	 * takes the head file and the signing key; this process keeps no
	 * copy of the key (signer.h).
	 */
	if (signer_start(b.key, datadir_take_head(b.datadir), b.origin,
	        b.cfg.signer_user[0] != '\0' ? b.cfg.signer_user : NULL,
	        &b.signer, why, sizeof(why)) != 0) {
		log_err("refusing to start: %s", why);
		rc = ERROR_INTERNAL; /* exit 70, as for a signer lost later */
		goto out;
	}
	log_info("signer: pid %ld holds the signing key; its head is "
	         "checkpoint %llu",
	    (long)signer_pid(b.signer),
	    (unsigned long long)signer_head(b.signer, NULL));
	service_raise_fd_limit();
	if ((rc = alloc_work(&b)) != 0)
		goto out;
	if ((rc = start_agreement(&b, refusing)) != 0)
		goto out;
	check_disk(&b);
	if ((rc = start_qclock(&b)) != 0) {
		log_err("%s: cannot read the queue's clock: %s", b.cfg.data,
		    error_strerror(rc));
		goto out;
	}
	if ((rc = setup_socket(&b)) != 0)
		goto out;
	started_detail(&b, why, sizeof(why));
	if ((rc = log_alone(&b, EVENT_BROKER_STARTED, why)) != 0 ||
	    (rc = log_alone(&b, EVENT_POLICY_ACTIVATED, "at start")) != 0) {
		log_err("cannot write the audit log: %s", error_strerror(rc));
		goto out;
	}
	log_info("listening on %s; policy %s (%s v%lld); %zu agencies; "
	         "origin %s",
	    b.cfg.listen, policy_sha256_hex(b.policy),
	    policy_agreement(b.policy), policy_version(b.policy),
	    keyring_count(b.keyring), b.origin);
	service_ready("listening on %s", b.cfg.listen);
	last_timer = last_reader = clock_mono_ms();
	while (!got_term) {
		service_tick();
		/* The signer's socket is readable only when it is gone:
		 * it speaks only when asked. */
		zmq_pollitem_t items[4] = {
		    {b.router, 0, ZMQ_POLLIN, 0},
		    {b.zap, 0, ZMQ_POLLIN, 0},
		    {NULL, signer_fd(b.signer), ZMQ_POLLIN, 0},
		    {NULL, b.mon.control_fd, ZMQ_POLLIN, 0},
		};
		uint64_t now = clock_mono_ms();
		long wait = (long)(last_timer + TIMER_MS) - (long)now;
		bool urgent = (b.n_pending > 0 && now >= b.retry_ms) ||
		    b.batch[b.cur].started;
		if (urgent || wait < 0)
			wait = 0;
		if (zmq_poll(items, b.mon.control_fd < 0 ? 3 : 4, wait) < 0 &&
		    zmq_errno() != EINTR) {
			log_err("poll: %s", zmq_strerror(zmq_errno()));
			break;
		}
		if (items[2].revents != 0) {
			log_err("the signer (pid %ld) is gone: no checkpoint "
			        "can be signed; stopping",
			    (long)signer_pid(b.signer));
			signer_lost(&b, ERROR_IO);
			break;
		}
		control_handle(&b, items[3].revents);
		if (got_hup) {
			got_hup = 0;
			reload(&b);
		}
		/* Bounded, so a flood of handshakes cannot starve the
		 * agencies already connected (nor SIGTERM). */
		for (int i = 0; i < ZAP_TURN &&
		     (items[1].revents & ZMQ_POLLIN) && zap_handle(&b);
		     i++)
			;
		now = clock_mono_ms();
		bool due = now - last_timer >= TIMER_MS;
		if ((items[0].revents & ZMQ_POLLIN) || urgent || due)
			run_batch(&b, due);
		if (due) {
			timers(&b, &last_reader, now);
			last_timer = now;
		}
	}
	service_stopping();
	log_info("stopping: %llu accepted, %llu rejected since start",
	    (unsigned long long)b.accepted, (unsigned long long)b.rejected);
	if (b.signer_err != 0) {
		/* Nothing more can be signed, so nothing more committed;
		 * what was acknowledged is in the log. */
		log_err("stopped: the checkpoint signer failed (%s); the "
		        "messages not acknowledged are sent again by their "
		        "senders after a restart",
		    error_strerror(b.signer_err));
		rc = ERROR_INTERNAL;
		goto out;
	}
	log_refusals(&b, clock_mono_ms(), true);
	if (log_alone(&b, EVENT_BROKER_STOPPED, "on signal") != 0)
		log_err("could not log the stop");
	else if (b.signer_err == 0 && signer_settle(b.signer) != 0)
		log_err("%s: the head stays one checkpoint behind the log",
		    datadir_head_path(b.datadir));
	rc = b.signer_err != 0 ? ERROR_INTERNAL : ERROR_OK;
out:
	broker_free(&b);
	return rc;
}

int
broker_check(const struct broker_config *cfg, char *why, size_t n)
{
	struct broker b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.cfg = *cfg;
	char warn[2048] = "";
	if ((rc = broker_check_zmq(why, n)) == 0)
		rc = broker_load(&b, why, n);
	if (rc == 0)
		rc = agreement_crosscheck(
		    b.policy, b.keyring, why, n, warn, sizeof(warn));
	if (rc == 0)
		snprintf(why, n,
		    "%s%sconfiguration ok: listen %s; policy %s v%lld (%s), "
		    "signed by the guardians of all %zu agencies; %zu agencies "
		    "in %s; data %s",
		    warn, warn[0] ? "\n" : "", cfg->listen,
		    policy_agreement(b.policy), policy_version(b.policy),
		    policy_sha256_hex(b.policy), b.agreement->n_signers,
		    keyring_count(b.keyring), cfg->keyring, cfg->data);
	broker_free(&b);
	return rc;
}
