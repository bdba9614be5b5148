/*
 * concordat-agent's loop: a DEALER socket to the broker with CURVE (the
 * broker's transport key pinned), reconnecting with backoff; a monitor
 * that says when a handshake succeeds, so the agent can greet the broker
 * and resend what is pending; inotify on the outbox; and the frames the
 * broker sends. Started by main.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "agents/agent_int.h"
#include "agents/outwatch.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "proto/envelope.h"

#define MONITOR_ENDPOINT "inproc://concordat-agent-monitor"
#define SCAN_MS          2000 /* outbox rescan even without inotify */
#define TICK_MS          500

static volatile sig_atomic_t got_term;

static void
on_signal(int sig)
{
	(void)sig;
	got_term = 1;
}

void
agent_hex_id(const uint8_t id[WIRE_MSG_ID_LEN], char out[33])
{
	sodium_bin2hex(out, 33, id, WIRE_MSG_ID_LEN);
}

json_t *
agent_fields_json(fieldset set)
{
	json_t *a = json_array();

	for (int f = 1; a != NULL && f <= FIELDS_COUNT; f++)
		if (fields_has(set, f))
			json_array_append_new(a, json_string(fields_name(f)));
	return a;
}

json_t *
agent_strings_json(const char *base, size_t w, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(base + i * w));
	return a;
}

int
agent_write_json(const char *dir, const char *name, json_t *obj)
{
	char *text = json_dumps(obj, JSON_INDENT(2));
	int rc;

	if (text == NULL)
		return ERROR_NOMEM;
	rc = fileio_write_atomic(dir, name, text, strlen(text), 0640, 0);
	free(text);
	return rc;
}

int
agent_send(struct agent *a, const uint8_t *frame, size_t len)
{
	/* ZMQ_IMMEDIATE: fails at once while no connection is up; whatever
	 * is pending is resent when the handshake succeeds. */
	if (zmq_send(a->dealer, frame, len, ZMQ_DONTWAIT) < 0)
		return ERROR_IO;
	return ERROR_OK;
}

int
agent_shared(struct agent *a, const char *peer, uint8_t out[32])
{
	for (size_t i = 0; i < keyring_count(a->keyring); i++) {
		const struct keys_public *k = keyring_at(a->keyring, i);
		if (strcmp(k->id, peer) != 0)
			continue;
		if (!a->have_shared[i]) {
			if (envelope_shared_key(
			        k->box_pk, a->key->box_sk, a->shared[i]) != 0)
				return ERROR_CRYPTO;
			a->have_shared[i] = true;
		}
		memcpy(out, a->shared[i], 32);
		return ERROR_OK;
	}
	return ERROR_UNKNOWN_AGENCY;
}

static int
load(struct agent *a, char *why, size_t n)
{
	int rc;

	if ((rc = keys_load_secret(a->cfg.key, &a->key)) != 0) {
		snprintf(why, n, "%s: %s%s", a->cfg.key, error_strerror(rc),
		    rc == ERROR_PERM ? " (must be mode 0600, owned by the "
		                       "agent's user, not a symlink)"
		                     : "");
		return rc;
	}
	if (a->key->pub.is_broker || strcmp(a->key->pub.id, a->cfg.agency)) {
		snprintf(why, n,
		    "%s: holds the key of '%s', not of agency '%s'", a->cfg.key,
		    a->key->pub.id, a->cfg.agency);
		return ERROR_KEY;
	}
	if ((rc = keys_load_public(a->cfg.broker_key, &a->broker)) != 0 ||
	    !a->broker.is_broker) {
		snprintf(why, n, "%s: %s", a->cfg.broker_key,
		    rc ? error_strerror(rc) : "not the broker's public key");
		return rc ? rc : ERROR_KEY;
	}
	if ((rc = keyring_load(a->cfg.keyring, &a->keyring, why, n)) != 0)
		return rc;
	if (keyring_find(a->keyring, a->cfg.agency) == NULL) {
		snprintf(why, n, "%s: this agency '%s' is not in the keyring",
		    a->cfg.keyring, a->cfg.agency);
		return ERROR_CONFIG;
	}
	if ((rc = keys_pepper_load(a->cfg.pepper, &a->pepper)) != 0) {
		snprintf(why, n, "%s: %s%s", a->cfg.pepper, error_strerror(rc),
		    rc == ERROR_PERM ? " (must be mode 0600)" : "");
		return rc;
	}
	snprintf(a->origin, sizeof(a->origin), "concordat/%s",
	    a->broker.fingerprint);
	return ERROR_OK;
}

static int
make_dirs(struct agent *a)
{
	static const char *const names[] = {SPOOL_OUTBOX, SPOOL_TMP, SPOOL_SENT,
	    SPOOL_FAILED, SPOOL_INBOX, SPOOL_RECEIPTS, SPOOL_ALERTS};
	int rc;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (fileio_join(a->dir[i], sizeof(a->dir[i]), a->cfg.spool,
		        names[i]) != 0)
			return ERROR_TOOBIG;
		if ((rc = fileio_mkdirs(a->dir[i], 0750)) != 0) {
			log_err("%s: cannot create: %s", a->dir[i],
			    error_strerror(rc));
			return rc;
		}
	}
	return ERROR_OK;
}

static int
connect_broker(struct agent *a)
{
	int one = 1, zero = 0, ivl = 100, ivl_max = 5000, hb = 5000;
	int hbt = 15000;
	int64_t max = 2 * WIRE_MAX_FRAME;

	a->ctx = zmq_ctx_new();
	a->dealer = a->ctx ? zmq_socket(a->ctx, ZMQ_DEALER) : NULL;
	if (a->dealer == NULL)
		return ERROR_INTERNAL;
	if (zmq_setsockopt(
	        a->dealer, ZMQ_CURVE_SERVERKEY, a->broker.transport_pk, 32) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_CURVE_PUBLICKEY, a->key->pub.transport_pk, 32) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_CURVE_SECRETKEY, a->key->transport_sk, 32) ||
	    zmq_setsockopt(a->dealer, ZMQ_IMMEDIATE, &one, sizeof(one)) ||
	    zmq_setsockopt(a->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) ||
	    zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) ||
	    zmq_setsockopt(
	        a->dealer, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof(hbt)) ||
	    zmq_setsockopt(a->dealer, ZMQ_MAXMSGSIZE, &max, sizeof(max)) ||
	    zmq_setsockopt(a->dealer, ZMQ_LINGER, &zero, sizeof(zero)))
		return ERROR_INTERNAL;
	if (zmq_socket_monitor(a->dealer, MONITOR_ENDPOINT,
	        ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
	            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
		return ERROR_INTERNAL;
	a->monitor = zmq_socket(a->ctx, ZMQ_PAIR);
	if (a->monitor == NULL || zmq_connect(a->monitor, MONITOR_ENDPOINT))
		return ERROR_INTERNAL;
	if (zmq_connect(a->dealer, a->cfg.broker) != 0) {
		log_err("cannot connect to %s: %s", a->cfg.broker,
		    zmq_strerror(zmq_errno()));
		return ERROR_CONFIG;
	}
	return ERROR_OK;
}

static void
on_monitor(struct agent *a)
{
	zmq_msg_t ev, addr;
	uint16_t event;

	zmq_msg_init(&ev);
	zmq_msg_init(&addr);
	if (zmq_msg_recv(&ev, a->monitor, ZMQ_DONTWAIT) < 0)
		goto out;
	if (zmq_msg_more(&ev))
		zmq_msg_recv(&addr, a->monitor, 0);
	if (zmq_msg_size(&ev) < 6)
		goto out;
	memcpy(&event, zmq_msg_data(&ev), sizeof(event));
	switch (event) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		log_info("connected to the broker at %s", a->cfg.broker);
		a->connected = true;
		a->proof_pending = false;
		/* Greet first, so the broker delivers here; then resend. */
		trust_hello(a);
		outbox_resend(a);
		break;
	case ZMQ_EVENT_DISCONNECTED:
		if (a->connected)
			log_warn("disconnected from the broker; reconnecting");
		a->connected = false;
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		log_err("the broker refused this agency's key: is %s.pub in "
		        "the broker's keyring?",
		    a->cfg.agency);
		break;
	default:
		log_err("handshake with the broker failed: is broker_key the "
		        "key of the broker at %s?",
		    a->cfg.broker);
		break;
	}
out:
	zmq_msg_close(&ev);
	zmq_msg_close(&addr);
}

static void
on_frame(struct agent *a)
{
	struct wire_frame *f = NULL;
	char why[256];
	zmq_msg_t msg;
	int rc;

	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, a->dealer, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&msg);
		return;
	}
	rc = wire_decode(
	    zmq_msg_data(&msg), zmq_msg_size(&msg), &f, why, sizeof(why));
	zmq_msg_close(&msg);
	if (rc != 0) {
		log_warn("unreadable frame from the broker: %s", why);
		return;
	}
	switch (f->type) {
	case WIRE_RECEIPT:
		outbox_receipt(a, &f->u.receipt);
		break;
	case WIRE_DELIVERY:
		inbox_delivery(a, &f->u.delivery);
		break;
	case WIRE_STATUS:
		inbox_status(a, &f->u.status);
		break;
	case WIRE_PROOF:
		trust_proof(a, &f->u.proof);
		break;
	default:
		log_warn("the broker sent a frame brokers do not send");
		break;
	}
	wire_frame_free(f);
}

static void
agent_free(struct agent *a)
{
	if (a->monitor != NULL)
		zmq_close(a->monitor);
	if (a->dealer != NULL) {
		zmq_socket_monitor(a->dealer, NULL, 0);
		zmq_close(a->dealer);
	}
	if (a->ctx != NULL)
		zmq_ctx_term(a->ctx);
	if (a->inotify >= 0)
		close(a->inotify);
	outwatch_free(a->outwatch);
	state_close(a->state);
	keys_secret_free(a->key);
	keys_pepper_free(a->pepper);
	keyring_free(a->keyring);
	if (a->shared != NULL)
		sodium_free(a->shared);
	free(a->have_shared);
}

int
agent_check(const struct agent_config *cfg, char *why, size_t n)
{
	struct agent a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.inotify = -1;
	a.cfg = *cfg;
	rc = load(&a, why, n);
	if (rc == 0)
		snprintf(why, n,
		    "configuration ok: agency %s; broker %s (%s); %zu agencies "
		    "in %s; spool %s",
		    cfg->agency, cfg->broker, a.broker.fingerprint,
		    keyring_count(a.keyring), cfg->keyring, cfg->spool);
	agent_free(&a);
	return rc;
}

int
agent_run(const struct agent_config *cfg)
{
	struct agent a;
	struct sigaction sa;
	char why[4096];
	uint64_t last_scan = 0;
	int rc;

	memset(&a, 0, sizeof(a));
	a.inotify = -1;
	a.cfg = *cfg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = load(&a, why, sizeof(why))) != 0) {
		log_err("%s", why);
		goto out;
	}
	size_t nk = keyring_count(a.keyring);
	a.shared = sodium_malloc((nk ? nk : 1) * 32);
	a.have_shared = calloc(nk ? nk : 1, sizeof(bool));
	if (a.shared == NULL || a.have_shared == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	if ((rc = make_dirs(&a)) != 0)
		goto out;
	if ((rc = state_open(a.cfg.state, &a.state)) != 0) {
		log_err("%s: cannot open the agent's state: %s", a.cfg.state,
		    error_strerror(rc));
		goto out;
	}
	if (state_get_checkpoint(a.state, &a.trusted) == 0)
		a.have_trusted = true;
	/* Finish what a crash interrupted before anything new. */
	inbox_recover(&a);
	outbox_recover(&a);
	a.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a.inotify >= 0 &&
	    inotify_add_watch(a.inotify, a.dir[DIR_OUTBOX], OUTWATCH_EVENTS) <
	        0) {
		close(a.inotify);
		a.inotify = -1;
	}
	if ((rc = connect_broker(&a)) != 0)
		goto out;
	log_info("agency %s: spool %s; broker %s", a.cfg.agency, a.cfg.spool,
	    a.cfg.broker);

	while (!got_term) {
		zmq_pollitem_t items[3] = {
		    {a.dealer, 0, ZMQ_POLLIN, 0},
		    {a.monitor, 0, ZMQ_POLLIN, 0},
		    {NULL, a.inotify, ZMQ_POLLIN, 0},
		};
		int n = zmq_poll(items, a.inotify >= 0 ? 3 : 2, TICK_MS);
		if (n < 0 && zmq_errno() != EINTR) {
			log_err("poll: %s", zmq_strerror(zmq_errno()));
			rc = ERROR_INTERNAL;
			break;
		}
		if (n < 0)
			continue;
		if (items[1].revents & ZMQ_POLLIN)
			on_monitor(&a);
		for (int i = 0; i < 64 && (items[0].revents & ZMQ_POLLIN);
		     i++) {
			on_frame(&a);
			zmq_pollitem_t d = {a.dealer, 0, ZMQ_POLLIN, 0};
			if (zmq_poll(&d, 1, 0) <= 0)
				break;
		}
		uint64_t now = clock_mono_ms();
		bool notified =
		    a.inotify >= 0 && (items[2].revents & ZMQ_POLLIN);
		if (notified)
			outbox_notified(&a);
		bool rescan = now - last_scan >= SCAN_MS;
		if (rescan)
			last_scan = now;
		outbox_scan(&a, rescan);
		if (a.connected && now - a.last_send_ms >= a.cfg.resend_ms)
			outbox_resend(&a);
	}
	log_info("stopping");
	rc = ERROR_OK;
out:
	agent_free(&a);
	return rc;
}
