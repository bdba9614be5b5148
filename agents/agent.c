/*
 * concordat-agent's loop: the link to the broker (link.c), whose monitor
 * says when a handshake succeeds, so the agent can greet the broker and
 * resend what is pending; inotify on the outbox; the frames the broker
 * sends, handed to the outbox (outbox.c), inbox (inbox.c) and trust
 * (trust.c) sides; and the timers that watch and prune the agent's own
 * store (room.c) and retry what a full disk refused. SIGHUP reloads the
 * configuration, the keyring and the pepper; SIGTERM and SIGINT stop it. One
 * agent per state folder, held by a lock (docs/agent.md §7). Started by main.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "agents/outwatch.h"
#include "agents/room.h"
#include "agents/spool.h"
#include "agents/status.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/lockfile.h"
#include "common/service.h"
#include "common/log.h"
#include "proto/envelope.h"

#define TICK_MS         500
#define USAGE_MS        1000  /* the state's use of its map */
#define PRUNE_MS        60000 /* retention of sent and seen msg_ids */
#define PRUNE_LIMIT     1000  /* deletions per commit */
#define READER_CHECK_MS 60000
#define LOCK_NAME       "agent.lock"

static volatile sig_atomic_t got_term, got_hup;
/* The state's lock, taken by agent_prepare before daemon(3). */
static int lock_fd = -1;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
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
	if ((rc = retired_load(a, why, n)) != 0 ||
	    (rc = keyring_load(a->cfg.keyring, &a->keyring, why, n)) != 0)
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

/* What the link's monitor said. */
static void
on_event(struct agent *a, enum link_event ev)
{
	switch (ev) {
	case LINK_UP:
		log_info("connected to the broker at %s agency=%s peer=%s",
		    a->cfg.broker, a->cfg.agency, a->cfg.broker);
		a->connected = true;
		a->proof_pending = false;
		/* Greet first, so the broker delivers here; then resend. */
		trust_hello(a);
		outbox_resend(a);
		outreview_resend(a);
		break;
	case LINK_DOWN:
		if (a->connected)
			log_warn("disconnected from the broker; reconnecting "
			         "agency=%s peer=%s reason=disconnected",
			    a->cfg.agency, a->cfg.broker);
		a->connected = false;
		trust_link_down(a);
		break;
	case LINK_REFUSED:   /* logged, backed off, by link_event */
	case LINK_HANDSHAKE: /* likewise */
	case LINK_NONE:
		break;
	}
}

/* A frame from the broker, to the side it is for. */
static void
on_frame(struct agent *a, struct link_frame *lf)
{
	struct wire_frame *f = NULL;
	char why[256];
	int rc;

	rc = wire_decode(
	    link_frame_data(lf), link_frame_size(lf), &f, why, sizeof(why));
	if (rc != 0) {
		inbox_unreadable(
		    a, link_frame_data(lf), link_frame_size(lf), why);
		link_frame_release(lf);
		return;
	}
	switch (f->type) {
	case WIRE_RECEIPT:
		if (outreview_receipt(a, &f->u.receipt))
			break; /* a review's (outreview.c) */
		if (outbox_receipt(a, &f->u.receipt))
			held_receipt_keep(
			    a, link_frame_data(lf), link_frame_size(lf));
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
	case WIRE_AGREEMENT:
		agreements_frame(a, &f->u.agreement);
		break;
	case WIRE_NOTICE:
		notice_frame(a, &f->u.notice);
		break;
	default:
		log_warn("the broker sent a frame brokers do not send");
		break;
	}
	wire_frame_free(f);
	link_frame_release(lf);
	/* A proof, or a leaf's tie, may have proven what receipts wait on. */
	held_receipt_retry(a);
}

/* The turn's deliveries, receipts and reports, each kind in one commit. */
static void
flush_turn(struct agent *a)
{
	inbox_flush(a);
	outbox_flush(a);
}

/* A bounded helping of frames: the rest wait for the next turn. */
static void
on_frames(struct agent *a, const struct link_ready *ready)
{
	struct link_frame lf;

	for (int i = 0;
	     i < INBOX_ROUND && !got_term && ready->frame && link_recv(a, &lf);
	     i++)
		on_frame(a, &lf);
	flush_turn(a);
}

static void
agent_free(struct agent *a)
{
	link_close(a);
	if (a->inotify >= 0)
		close(a->inotify);
	outwatch_free(a->outwatch);
	if (a->state != NULL) {
		trust_flush(a);
		witness_close(a);
	}
	state_close(a->state);
	held_receipt_free(a);
	outreview_close(a);
	agreements_close(a);
	retired_free(a);
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
	struct agent *a = calloc(1, sizeof(*a));
	int rc;

	if (a == NULL) {
		snprintf(why, n, "out of memory");
		return ERROR_NOMEM;
	}
	a->inotify = -1;
	a->cfg = *cfg;
	rc = load(a, why, n);
	/* Its own key against its .pub in the keyring, which is what the
	 * broker and the other agencies know it by. */
	const struct keys_public *own =
	    rc == 0 ? keyring_find(a->keyring, cfg->agency) : NULL;
	const struct keys_public *next =
	    rc == 0 ? keyring_find_next(a->keyring, cfg->agency) : NULL;
	if (own != NULL && strcmp(own->fingerprint, a->key->pub.fingerprint) &&
	    (next == NULL ||
	        strcmp(next->fingerprint, a->key->pub.fingerprint) != 0)) {
		snprintf(why, n,
		    "%s: holds the key of fingerprint %s, but %s/%s.pub in the "
		    "keyring says %s: the broker and the other agencies know "
		    "this agency by the keyring's",
		    cfg->key, a->key->pub.fingerprint, cfg->keyring,
		    cfg->agency, own->fingerprint);
		rc = ERROR_KEY;
	}
	if (rc == 0)
		snprintf(why, n,
		    "configuration ok: agency %s (key %s, as in the keyring); "
		    "broker %s (%s); %zu agencies in %s; spool %s",
		    cfg->agency, a->key->pub.fingerprint, cfg->broker,
		    a->broker.fingerprint, keyring_count(a->keyring),
		    cfg->keyring, cfg->spool);
	agent_free(a);
	free(a);
	return rc;
}

/* Takes the state folder's lock into lock_fd; why names a holder. */
static int
take_lock(const struct agent_config *cfg, char *why, size_t n)
{
	char path[PATH_MAX];
	pid_t holder;
	char line[128];
	int rc;

	if (lock_fd >= 0)
		return ERROR_OK;
	if ((rc = fileio_mkdirs(cfg->state, 0700)) != 0 ||
	    (rc = fileio_join(path, sizeof(path), cfg->state, LOCK_NAME)) !=
	        0) {
		snprintf(why, n, "%s: cannot create the state folder: %s",
		    cfg->state, error_strerror(rc));
		return rc;
	}
	rc = lockfile_take(path, &lock_fd, line, sizeof(line));
	holder = lockfile_pid(line);
	if (rc == ERROR_BUSY && holder > 0)
		snprintf(why, n,
		    "%s is in use by another concordat-agent, pid %ld (lock "
		    "%s): one agent per state folder",
		    cfg->state, (long)holder, path);
	else if (rc == ERROR_BUSY)
		snprintf(why, n,
		    "%s is in use by another concordat-agent that is starting "
		    "(lock %s): one agent per state folder",
		    cfg->state, path);
	else if (rc != 0)
		snprintf(
		    why, n, "%s: cannot lock: %s", path, error_strerror(rc));
	return rc;
}

int
agent_prepare(const struct agent_config *cfg, char *why, size_t n)
{
	return take_lock(cfg, why, n);
}

/* Appends name to list (", "-separated) when old and new differ. */
static void
restart_only(char *list, size_t n, const char *name, char *now,
    const char *running, size_t size)
{
	size_t len = strlen(list);

	if (strcmp(now, running) == 0)
		return;
	snprintf(list + len, n - len, "%s%s", len ? ", " : "", name);
	snprintf(now, size, "%s", running);
}

/* Warns when a key file at the running path now holds another key. */
static void
check_key_files(struct agent *a)
{
	struct keys_secret *k = NULL;
	struct keys_public b;

	if (keys_load_secret(a->cfg.key, &k) != 0 ||
	    memcmp(k->pub.sign_pk, a->key->pub.sign_pk, KEYS_SIGN_PK) != 0 ||
	    memcmp(k->pub.box_pk, a->key->pub.box_pk, KEYS_BOX_PK) != 0 ||
	    memcmp(k->pub.transport_pk, a->key->pub.transport_pk,
	        KEYS_CURVE_KEY) != 0)
		log_warn("reload: %s is not the key this agent runs with (or "
		         "cannot be read): keys are read at start only; "
		         "restart the agent to use a new one",
		    a->cfg.key);
	keys_secret_free(k);
	if (keys_load_public(a->cfg.broker_key, &b) != 0 ||
	    strcmp(b.fingerprint, a->broker.fingerprint) != 0)
		log_warn("reload: %s is not the broker key this agent runs "
		         "with (or cannot be read): restart the agent to use a "
		         "new one",
		    a->cfg.broker_key);
}

/*
 * SIGHUP: reads agent.yaml again and, when all of it loads, takes the new
 * keyring, pepper, map size, resend and retention settings; what only a
 * restart can change (the agency, the broker and its key, the agency's
 * key, the spool and the state) keeps its running value, and the log says
 * which. Anything that fails to load leaves everything as it was.
 */
static void
reload(struct agent *a)
{
	struct agent_config nc;
	struct yamlconf_errors errs;
	struct keyring *kr = NULL;
	uint8_t *pepper = NULL, (*shared)[32] = NULL;
	bool *have = NULL;
	char why[4096], kept[256] = "";
	size_t nk;
	int rc;

	log_info("SIGHUP: reloading %s", a->cfg.path);
	yamlconf_errors_init(&errs);
	if ((rc = agent_config_load(a->cfg.path, &nc, &errs)) != 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_err("reload refused: %s", errs.msg[i]);
		if (errs.n == 0)
			log_err("reload refused: %s: %s", a->cfg.path,
			    error_strerror(rc));
		goto refused;
	}
	restart_only(kept, sizeof(kept), "agency", nc.agency, a->cfg.agency,
	    sizeof(nc.agency));
	restart_only(kept, sizeof(kept), "broker", nc.broker, a->cfg.broker,
	    sizeof(nc.broker));
	restart_only(kept, sizeof(kept), "broker_key", nc.broker_key,
	    a->cfg.broker_key, sizeof(nc.broker_key));
	restart_only(
	    kept, sizeof(kept), "key", nc.key, a->cfg.key, sizeof(nc.key));
	restart_only(kept, sizeof(kept), "spool", nc.spool, a->cfg.spool,
	    sizeof(nc.spool));
	restart_only(kept, sizeof(kept), "state", nc.state, a->cfg.state,
	    sizeof(nc.state));
	restart_only(kept, sizeof(kept), "agreements", nc.agreements,
	    a->cfg.agreements, sizeof(nc.agreements));
	if ((rc = keyring_load(nc.keyring, &kr, why, sizeof(why))) != 0) {
		log_err("reload refused: %s", why);
		goto refused;
	}
	if (keyring_find(kr, a->cfg.agency) == NULL) {
		log_err("reload refused: %s: this agency '%s' is not in the "
		        "keyring",
		    nc.keyring, a->cfg.agency);
		goto refused;
	}
	if ((rc = keys_pepper_load(nc.pepper, &pepper)) != 0) {
		log_err(
		    "reload refused: %s: %s", nc.pepper, error_strerror(rc));
		goto refused;
	}
	nk = keyring_count(kr);
	shared = sodium_malloc((nk ? nk : 1) * 32);
	have = calloc(nk ? nk : 1, sizeof(bool));
	if (shared == NULL || have == NULL) {
		log_err("reload refused: out of memory");
		goto refused;
	}
	if (nc.map_size != a->cfg.map_size &&
	    (rc = state_set_map_size(a->state, nc.map_size)) != 0) {
		log_err("reload refused: map_size_mb: %s", error_strerror(rc));
		goto refused;
	}
	check_key_files(a);
	/* All loaded: take it. The keys shared with peers are recomputed. */
	keyring_free(a->keyring);
	a->keyring = kr;
	kr = NULL;
	keys_pepper_free(a->pepper);
	a->pepper = pepper;
	pepper = NULL;
	sodium_free(a->shared);
	a->shared = shared;
	shared = NULL;
	free(a->have_shared);
	a->have_shared = have;
	have = NULL;
	a->cfg = nc;
	agreements_rekey(a); /* under the keyring now held */
	if (kept[0] != '\0')
		log_warn("reload: %s changed: not taken until a restart "
		         "(running on the previous value)",
		    kept);
	log_info("reloaded: %zu agencies in %s; pepper %s; map_size_mb %llu",
	    nk, a->cfg.keyring, a->cfg.pepper,
	    (unsigned long long)(a->cfg.map_size >> 20));
	room_check_usage(a);
	goto out;
refused:
	log_err("reload refused: still running on the previous configuration");
out:
	yamlconf_errors_release(&errs);
	keyring_free(kr);
	keys_pepper_free(pepper);
	if (shared != NULL)
		sodium_free(shared);
	free(have);
}

/* Removes what has outlived its retention; again soon when more is due. */
static uint64_t
prune(struct agent *a, uint64_t now)
{
	struct state_pruned p;
	int rc;

	rc = state_prune(a->state, clock_now_ms(), a->cfg.sent_keep_ms,
	    a->cfg.seen_keep_ms, PRUNE_LIMIT, &p);
	if (rc != 0) {
		log_err("state %s: cannot prune: %s", a->cfg.state,
		    error_strerror(rc));
		return now;
	}
	if (p.msgs + p.seen > 0)
		log_debug(
		    "pruned %zu sent and %zu seen msg_ids", p.msgs, p.seen);
	return p.more ? now - PRUNE_MS + 200 : now;
}

/*
 * How long one wait for frames and events may last: TICK_MS, or less when
 * the outbox's settle time or rescan period is shorter, so that a file
 * written in place is taken close to its settle time.
 */
static unsigned
tick_ms(const struct agent *a)
{
	uint64_t t = TICK_MS;

	if (a->cfg.settle_ms / 2 < t)
		t = a->cfg.settle_ms / 2;
	if (a->cfg.rescan_ms < t)
		t = a->cfg.rescan_ms;
	return (unsigned)t;
}

int
agent_run(const struct agent_config *cfg)
{
	struct agent *a;
	struct sigaction sa;
	struct link_ready ready;
	char why[4096];
	uint64_t last_scan = 0, last_usage = 0, last_prune = 0, last_check;
	int rc, dead;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt the poll. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = take_lock(cfg, why, sizeof(why))) != 0) {
		log_err("%s", why);
		return rc;
	}
	/* The pid of this process, which daemon(3) made. */
	if ((rc = lockfile_write(lock_fd, getpid(), "concordat-agent")) != 0)
		log_warn("%s/%s: cannot write the pid: %s", cfg->state,
		    LOCK_NAME, error_strerror(rc));
	/* On the heap: the outbox's scratch makes it large. */
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_err("out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	a->inotify = -1;
	a->cfg = *cfg;
	a->stopping = &got_term;
	if ((rc = load(a, why, sizeof(why))) != 0) {
		log_err("%s", why);
		goto out;
	}
	size_t nk = keyring_count(a->keyring);
	a->shared = sodium_malloc((nk ? nk : 1) * 32);
	a->have_shared = calloc(nk ? nk : 1, sizeof(bool));
	if (a->shared == NULL || a->have_shared == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	if ((rc = spool_make_dirs(a)) != 0 || (rc = outreview_open(a)) != 0)
		goto out;
	if ((rc = state_open(a->cfg.state, a->cfg.map_size, &a->state)) != 0) {
		log_err("%s: cannot open the agent's state: %s", a->cfg.state,
		    error_strerror(rc));
		goto out;
	}
	if (state_get_checkpoint(a->state, &a->trusted) == 0)
		a->have_trusted = true;
	if ((rc = agreements_open(a)) != 0)
		goto out;
	if ((rc = witness_open(a)) != 0)
		goto out;
	/* Finish what a crash interrupted before anything new. */
	inbox_recover(a);
	outbox_recover(a);
	last_prune = prune(a, clock_mono_ms());
	room_check_usage(a);
	a->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->inotify >= 0 &&
	    inotify_add_watch(a->inotify, a->dir[DIR_OUTBOX], OUTWATCH_EVENTS) <
	        0) {
		close(a->inotify);
		a->inotify = -1;
	}
	if ((rc = link_open(a)) != 0)
		goto out;
	log_info("agency %s: spool %s; broker %s", a->cfg.agency, a->cfg.spool,
	    a->cfg.broker);
	service_ready("agency %s: broker %s", a->cfg.agency, a->cfg.broker);
	last_check = last_usage = clock_mono_ms();

	while (!got_term) {
		service_tick();
		if ((rc = link_poll(a, a->inotify, tick_ms(a), &ready)) != 0)
			break;
		if (got_hup) {
			got_hup = 0;
			service_reloading();
			reload(a);
			service_ready("agency %s: reloaded", a->cfg.agency);
		}
		if (ready.interrupted)
			continue;
		if (ready.event)
			on_event(a, link_event(a));
		on_frames(a, &ready);
		uint64_t now = clock_mono_ms();
		if (ready.watched)
			outbox_notified(a);
		if (now - last_usage >= USAGE_MS) {
			room_check_usage(a);
			last_usage = now;
		}
		bool rescan = now - last_scan >= a->cfg.rescan_ms;
		if (rescan)
			last_scan = now;
		/* A full state stops scans; the records wait in outbox/. */
		if (room_may_store(a)) {
			outbox_scan(a, rescan);
			/* Receipts that could not be recorded come again at
			 * once, now that there is room. */
			if ((rescan || ready.watched) && room_scan_done(a) &&
			    a->connected)
				outbox_resend(a);
		}
		if (a->connected && now - a->last_send_ms >= a->cfg.resend_ms)
			outbox_resend_due(a);
		outreview_tick(a, now, rescan);
		trust_tick(a, now);
		witness_tick(a, now);
		agent_status_tick(a, now, false); /* STATE/status.json */
		if (a->moves_failing && now >= a->moves_retry_ms)
			outbox_retry_moves(a);
		if (now - last_prune >= PRUNE_MS)
			last_prune = prune(a, now);
		if (now - last_check >= READER_CHECK_MS) {
			if (state_reader_check(a->state, &dead) == 0 &&
			    dead > 0)
				log_info(
				    "cleared %d stale LMDB reader slots", dead);
			last_check = now;
		}
	}
	flush_turn(a); /* what a turn cut short by a signal holds */
	service_stopping();
	log_info("stopping");
	agent_status_tick(a, clock_mono_ms(), true);
	rc = ERROR_OK;
out:
	if (a != NULL) {
		agent_free(a);
		free(a);
	}
	/* After the state is closed: the next agent may open it. */
	lockfile_release(lock_fd);
	lock_fd = -1;
	return rc;
}
