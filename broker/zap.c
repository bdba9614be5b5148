/*
 * The ZAP handler (RFC 27/ZAP): admits only CURVE clients whose public key
 * is in the keyring and names them by agency id (the User-Id of every frame
 * they send). Bound at inproc://zeromq.zap.01 before the ROUTER binds, so
 * no handshake can complete without it; a refused key is audited.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "broker/broker.h"
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

static void
reply(void *sock, const zmq_msg_t *reqid, const char *code, const char *text,
    const char *user)
{
	zmq_msg_t id;

	zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
	zmq_msg_init(&id);
	zmq_msg_copy(&id, (zmq_msg_t *)(uintptr_t)reqid);
	zmq_msg_send(&id, sock, ZMQ_SNDMORE);
	zmq_msg_close(&id);
	zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(sock, "", 0, 0);
}

static bool
frame_is(const zmq_msg_t *m, const char *s)
{
	size_t n = strlen(s);

	return zmq_msg_size((zmq_msg_t *)(uintptr_t)m) == n &&
	    memcmp(zmq_msg_data((zmq_msg_t *)(uintptr_t)m), s, n) == 0;
}

#define RECENT    64
#define RECENT_MS 60000

static bool
recently_refused(const char *peer)
{
	static struct {
		uint8_t hash[16];
		uint64_t at;
	} recent[RECENT];
	static unsigned next;
	uint8_t h[16];
	uint64_t now = clock_mono_ms();

	crypto_generichash(
	    h, sizeof(h), (const uint8_t *)peer, strlen(peer), NULL, 0);
	for (unsigned i = 0; i < RECENT; i++) {
		if (recent[i].at != 0 && now - recent[i].at < RECENT_MS &&
		    memcmp(recent[i].hash, h, sizeof(h)) == 0)
			return true;
	}
	memcpy(recent[next].hash, h, sizeof(h));
	recent[next].at = now;
	next = (next + 1) % RECENT;
	return false;
}

void
zap_handle(struct broker *b)
{
	zmq_msg_t f[ZAP_FRAMES + 1];
	const struct keys_public *who = NULL;
	char addr[64] = "?", keyb64[64] = "?";
	struct pending pend;
	int n = 0, more = 1;

	/* version, request id, domain, address, identity, mechanism, key */
	while (more) {
		zmq_msg_t tmp;
		zmq_msg_t *m = n < ZAP_FRAMES + 1 ? &f[n] : &tmp;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, b->zap, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			if (n == 0)
				return;
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
			reply(b->zap, &f[1], "500", "malformed", "");
		else
			zmq_send(b->zap, "", 0, 0);
		goto out;
	}
	size_t alen = zmq_msg_size(&f[3]);
	if (alen > 0 && alen < sizeof(addr)) {
		memcpy(addr, zmq_msg_data(&f[3]), alen);
		addr[alen] = '\0';
		for (size_t i = 0; i < alen; i++)
			if (addr[i] < 0x20 || addr[i] > 0x7e)
				addr[i] = '?';
	}
	if (!frame_is(&f[0], "1.0") || !frame_is(&f[2], BROKER_ZAP_DOMAIN) ||
	    !frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != 32) {
		reply(b->zap, &f[1], "400", "unsupported", "");
		snprintf(pend.peer, sizeof(pend.peer),
		    "%s (not a CURVE client of domain %s)", addr,
		    BROKER_ZAP_DOMAIN);
		goto refused;
	}
	sodium_bin2base64(keyb64, sizeof(keyb64), zmq_msg_data(&f[6]), 32,
	    sodium_base64_VARIANT_ORIGINAL);
	who = keyring_find_transport(b->keyring, zmq_msg_data(&f[6]));
	if (who == NULL) {
		reply(b->zap, &f[1], "400", "unknown key", "");
		snprintf(
		    pend.peer, sizeof(pend.peer), "%s key %s", addr, keyb64);
		goto refused;
	}
	reply(b->zap, &f[1], "200", "OK", who->id);
	log_debug("zap: admitted %s from %s", who->id, addr);
	goto out;
refused:
	/* A refused client retries every few seconds: log each peer once a
	 * minute, so that it cannot flood the audit log. */
	if (recently_refused(pend.peer))
		goto out;
	log_warn("refused connection from %s", pend.peer);
	pend.type = PENDING_REFUSED;
	pend.agency[0] = '\0';
	pend.seq = 0;
	deliver_pending_add(b, &pend);
out:
	for (int i = 0; i < n && i < ZAP_FRAMES + 1; i++)
		zmq_msg_close(&f[i]);
}
