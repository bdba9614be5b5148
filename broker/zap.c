/*
 * The ZAP handler (RFC 27/ZAP): admits only CURVE clients whose public key
 * is in the keyring, names them by agency id (the User-Id of every frame
 * they send) and tags their session with the key it authenticated with
 * (the metadata property BROKER_KEY_PROPERTY), so that the broker can tell
 * a session of a key that a reload has since removed. Bound at
 * inproc://zeromq.zap.01 before the ROUTER binds, so no handshake can
 * complete without it.
 *
 * Refusals cost the refused, not the log: they are counted per source
 * address and window (BROKER_REFUSAL_WINDOW) in a table of fixed size, and
 * each window becomes at most two connection_refused events (its first
 * refusal at once, the rest when it closes), written by the broker's loop
 * in a transaction of their own and never above the storage threshold.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "broker/broker_int.h"
#include "common/clock.h"
#include "common/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_FRAMES   7

int
zap_start(struct broker *b)
{
	int linger = 0;

	b->zap = zmq_socket(b->ctx, ZMQ_REP);
	if (b->zap == NULL)
		return ERROR_INTERNAL;
	zmq_setsockopt(b->zap, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(b->zap, ZAP_ENDPOINT) != 0) {
		log_err("zap: cannot bind %s: %s", ZAP_ENDPOINT,
		    zmq_strerror(zmq_errno()));
		return ERROR_INTERNAL;
	}
	return ERROR_OK;
}

/*
 * The reply: version, request id, status code and text, user id, and the
 * metadata (ZMTP property encoding: a name of one length byte, a value of
 * four big-endian length bytes).
 */
static void
reply(void *sock, const zmq_msg_t *reqid, const char *code, const char *text,
    const char *user, const char *key_hex)
{
	uint8_t meta[1 + sizeof(BROKER_KEY_PROPERTY) + 4 + BROKER_KEY_HEX];
	size_t nl = strlen(BROKER_KEY_PROPERTY), vl, mlen = 0;
	zmq_msg_t id;

	if (key_hex != NULL) {
		vl = strlen(key_hex);
		meta[0] = (uint8_t)nl;
		memcpy(meta + 1, BROKER_KEY_PROPERTY, nl);
		meta[1 + nl] = (uint8_t)(vl >> 24);
		meta[2 + nl] = (uint8_t)(vl >> 16);
		meta[3 + nl] = (uint8_t)(vl >> 8);
		meta[4 + nl] = (uint8_t)vl;
		memcpy(meta + 5 + nl, key_hex, vl);
		mlen = 5 + nl + vl;
	}
	zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
	zmq_msg_init(&id);
	zmq_msg_copy(&id, (zmq_msg_t *)(uintptr_t)reqid);
	zmq_msg_send(&id, sock, ZMQ_SNDMORE);
	zmq_msg_close(&id);
	zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(sock, meta, mlen, 0);
}

static bool
frame_is(const zmq_msg_t *m, const char *s)
{
	size_t n = strlen(s);

	return zmq_msg_size((zmq_msg_t *)(uintptr_t)m) == n &&
	    memcmp(zmq_msg_data((zmq_msg_t *)(uintptr_t)m), s, n) == 0;
}

/* The window of addr, opened when missing; the last slot takes the rest. */
static struct refusal *
window_of(struct broker *b, const char *addr, uint64_t now)
{
	struct refusal *r;

	for (size_t i = 0; i < b->n_refusals; i++)
		if (strcmp(b->refusals[i].addr, addr) == 0)
			return &b->refusals[i];
	if (b->n_refusals < BROKER_REFUSAL_ADDRS) {
		r = &b->refusals[b->n_refusals++];
		memset(r, 0, sizeof(*r));
		snprintf(r->addr, sizeof(r->addr), "%s", addr);
	} else {
		r = &b->refusals[BROKER_REFUSAL_ADDRS];
		if (r->count > 0)
			return r;
		memset(r, 0, sizeof(*r));
	}
	r->since_ms = now;
	r->first_ms = clock_now_ms();
	return r;
}

static const char *
addr_name(const struct broker *b, const struct refusal *r)
{
	if (r == &b->refusals[BROKER_REFUSAL_ADDRS])
		return "other addresses";
	return r->addr[0] != '\0' ? r->addr : "a local (ipc) peer";
}

static void
refused(struct broker *b, const char *addr, const char *why, const char *key)
{
	uint64_t now = clock_mono_ms();
	struct refusal *r = window_of(b, addr, now);

	if (r->count == 0) {
		snprintf(r->why, sizeof(r->why), "%s", why);
		log_warn("refused connection from %s: %s%s%s (further refusals "
		         "from there are counted for a minute) peer=%s "
		         "reason=handshake_refused%s%s",
		    addr_name(b, r), why, key[0] ? ", key " : "", key,
		    addr[0] ? addr : "ipc", key[0] ? " key=" : "", key);
	}
	r->count++;
	monitor_refused(b);
	if (key[0] != '\0' && r->n_keys < BROKER_REFUSAL_KEYS) {
		for (unsigned i = 0; i < r->n_keys; i++)
			if (strcmp(r->keys[i], key) == 0)
				return;
		snprintf(r->keys[r->n_keys++], sizeof(r->keys[0]), "%s", key);
	}
}

bool
zap_handle(struct broker *b)
{
	zmq_msg_t f[ZAP_FRAMES + 1];
	const struct keys_public *who = NULL;
	char addr[64] = "", keyb64[48] = "", keyhex[BROKER_KEY_HEX];
	int n = 0, more = 1;

	/* version, request id, domain, address, identity, mechanism, key;
	 * extra frames are read and dropped, so none is left behind. */
	while (more) {
		zmq_msg_t tmp;
		zmq_msg_t *m = n < ZAP_FRAMES + 1 ? &f[n] : &tmp;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, b->zap, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			if (n == 0)
				return false;
			break;
		}
		more = zmq_msg_more(m);
		if (m == &tmp)
			zmq_msg_close(m);
		else
			n++;
	}
	if (n < ZAP_FRAMES) {
		/* Malformed request: answer so the REP socket stays usable. */
		if (n >= 2)
			reply(b->zap, &f[1], "500", "malformed", "", NULL);
		else
			zmq_send(b->zap, "", 0, 0);
		goto out;
	}
	size_t alen = zmq_msg_size(&f[3]);
	if (alen < sizeof(addr)) {
		memcpy(addr, zmq_msg_data(&f[3]), alen);
		addr[alen] = '\0';
		for (size_t i = 0; i < alen; i++)
			if (addr[i] < 0x20 || addr[i] > 0x7e)
				addr[i] = '?';
	} else {
		snprintf(addr, sizeof(addr), "?");
	}
	if (!frame_is(&f[0], "1.0") || !frame_is(&f[2], BROKER_ZAP_DOMAIN) ||
	    !frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != 32) {
		reply(b->zap, &f[1], "400", "unsupported", "", NULL);
		refused(b, addr, "not a CURVE client of our domain", "");
		goto out;
	}
	who = keyring_find_transport(b->keyring, zmq_msg_data(&f[6]));
	if (who == NULL) {
		reply(b->zap, &f[1], "400", "unknown key", "", NULL);
		sodium_bin2base64(keyb64, sizeof(keyb64), zmq_msg_data(&f[6]),
		    32, sodium_base64_VARIANT_ORIGINAL);
		refused(b, addr, "key not in the keyring", keyb64);
		goto out;
	}
	sodium_bin2hex(keyhex, sizeof(keyhex), zmq_msg_data(&f[6]), 32);
	reply(b->zap, &f[1], "200", "OK", who->id, keyhex);
	log_debug("zap: admitted %s from %s", who->id, addr);
out:
	for (int i = 0; i < n && i < ZAP_FRAMES + 1; i++)
		zmq_msg_close(&f[i]);
	return true;
}

static bool
window_due(const struct refusal *r, uint64_t now, bool all)
{
	return r->count > r->logged &&
	    (r->logged == 0 || all ||
	        now - r->since_ms >= BROKER_REFUSAL_WINDOW);
}

bool
zap_due(const struct broker *b, uint64_t now)
{
	for (size_t i = 0; i <= BROKER_REFUSAL_ADDRS; i++)
		if ((i < b->n_refusals || i == BROKER_REFUSAL_ADDRS) &&
		    window_due(&b->refusals[i], now, false))
			return true;
	return b->refusals_dropped > 0;
}

/* One connection_refused event for the part of r not yet logged. */
static int
append_refusal(struct broker *b, MDB_txn *txn, const struct refusal *r)
{
	struct event ev;
	char first[40];
	size_t o;

	memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_CONNECTION_REFUSED;
	ev.time_ms = clock_now_ms();
	ev.count = r->count - r->logged;
	o = (size_t)snprintf(ev.peer, sizeof(ev.peer), "%s", addr_name(b, r));
	for (unsigned i = 0; i < r->n_keys && o < sizeof(ev.peer); i++)
		o += (size_t)snprintf(ev.peer + o, sizeof(ev.peer) - o, "%s%s",
		    i == 0 ? " key " : ", ", r->keys[i]);
	clock_format(r->first_ms, first, sizeof(first));
	snprintf(ev.detail, sizeof(ev.detail),
	    "%llu handshake%s refused (%s) in the window from %s",
	    (unsigned long long)ev.count, ev.count == 1 ? "" : "s", r->why,
	    first);
	return audit_append(store_audit(b->store), txn, &ev, NULL);
}

int
zap_flush(struct broker *b, MDB_txn *txn, uint64_t now, bool all)
{
	int n = 0, rc;

	if (b->refusals_dropped > 0) {
		struct event ev;
		memset(&ev, 0, sizeof(ev));
		ev.type = EVENT_CONNECTION_REFUSED;
		ev.time_ms = clock_now_ms();
		ev.count = b->refusals_dropped;
		snprintf(ev.detail, sizeof(ev.detail),
		    "%llu refused handshakes not recorded one by one while "
		    "storage was full",
		    (unsigned long long)b->refusals_dropped);
		if ((rc = audit_append(
		         store_audit(b->store), txn, &ev, NULL)) != 0)
			return rc;
		n++;
	}
	for (size_t i = 0; i <= BROKER_REFUSAL_ADDRS; i++) {
		struct refusal *r = &b->refusals[i];
		if (i >= b->n_refusals && i != BROKER_REFUSAL_ADDRS)
			continue;
		if (!window_due(r, now, all))
			continue;
		if ((rc = append_refusal(b, txn, r)) != 0)
			return rc;
		n++;
	}
	return n;
}

void
zap_settle(struct broker *b, uint64_t now, bool logged, bool all)
{
	size_t keep = 0;

	if (logged)
		b->refusals_dropped = 0;
	for (size_t i = 0; i <= BROKER_REFUSAL_ADDRS; i++) {
		struct refusal *r = &b->refusals[i];
		bool last = i == BROKER_REFUSAL_ADDRS;
		if (i >= b->n_refusals && !last)
			continue;
		if (logged && window_due(r, now, all))
			r->logged = r->count;
		bool closed = r->count > 0 &&
		    (all || now - r->since_ms >= BROKER_REFUSAL_WINDOW);
		if (closed) {
			if (r->count > 1)
				log_warn("%llu connections refused from %s in "
				         "the last minute peer=%s "
				         "reason=handshake_refused",
				    (unsigned long long)r->count,
				    addr_name(b, r),
				    r->addr[0] ? r->addr : "ipc");
			b->refusals_dropped += r->count - r->logged;
			memset(r, 0, sizeof(*r));
		} else if (!last && r->count > 0) {
			if (keep != i)
				b->refusals[keep] = *r;
			keep++;
		}
	}
	b->n_refusals = keep;
}
