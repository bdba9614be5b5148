/*
 * Break-glass reviews from the spool (docs/agent.md, "Reviews"): review
 * files a guardian signed (`concordat audit review`) are taken from
 * SPOOL/reviews/, checked against this agency and its guardian key in the
 * keyring, sent to the broker as Review frames and sent again until the
 * broker's receipt carries the breakglass_reviewed leaf; then moved to
 * reviews/sent/ with the receipt beside it, or to reviews/failed/ with the
 * reason. The files are the only state: a restart sends again what is
 * still in reviews/. Called from agent.c's loop and frame dispatch.
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
#include "agents/link.h"
#include "agents/spool.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"

#define OUTREVIEW_MAX 64 /* pending at once; more wait in the folder */

struct pending_review {
	char name[NAME_MAX + 1];
	struct review r;
};

struct outreview {
	char dir[PATH_MAX], sent[PATH_MAX], failed[PATH_MAX];
	size_t n;
	struct pending_review p[OUTREVIEW_MAX];
	uint64_t sent_ms; /* monotonic: the last sending round */
};

/* Sets path's mode when the agent owns it (as spool.c does). */
static int
set_mode(const char *path, mode_t mode)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return ERROR_IO;
	if (st.st_uid != geteuid() || (st.st_mode & 07777) == mode)
		return ERROR_OK;
	return chmod(path, mode) == 0 ? ERROR_OK : ERROR_IO;
}

int
outreview_open(struct agent *a)
{
	struct outreview *o = calloc(1, sizeof(*o));
	int rc;

	if (o == NULL)
		return ERROR_NOMEM;
	if (fileio_join(o->dir, sizeof(o->dir), a->cfg.spool, SPOOL_REVIEWS) !=
	        0 ||
	    fileio_join(o->sent, sizeof(o->sent), o->dir, "sent") != 0 ||
	    fileio_join(o->failed, sizeof(o->failed), o->dir, "failed") != 0) {
		free(o);
		return ERROR_TOOBIG;
	}
	/* The guardian's staff drop files in, as the record system does
	 * into outbox/; only the agent writes sent/ and failed/. */
	if ((rc = fileio_mkdirs(o->dir, 0770)) != 0 ||
	    (rc = fileio_mkdirs(o->sent, 0750)) != 0 ||
	    (rc = fileio_mkdirs(o->failed, 0750)) != 0 ||
	    (rc = set_mode(o->dir, 02770)) != 0 ||
	    (rc = set_mode(o->sent, 02750)) != 0 ||
	    (rc = set_mode(o->failed, 02750)) != 0) {
		log_err("%s: cannot create: %s", o->dir, error_strerror(rc));
		free(o);
		return rc;
	}
	(void)fileio_remove_temporaries(o->sent);
	(void)fileio_remove_temporaries(o->failed);
	a->reviews = o;
	return ERROR_OK;
}

void
outreview_close(struct agent *a)
{
	free(a->reviews);
	a->reviews = NULL;
}

/* Moves name to dir (sent/ or failed/) with the JSON obj beside it. */
static void
file_away(struct outreview *o, const char *name, const char *dir,
    const char *suffix, json_t *obj)
{
	char from[PATH_MAX], to[PATH_MAX], side[NAME_MAX + 32];
	int rc;

	char alt[NAME_MAX + 1];
	uint8_t tag[4];

	/* A name used before in dir gets a random tag: nothing replaced. */
	snprintf(alt, sizeof(alt), "%s", name);
	snprintf(to, sizeof(to), "%s/%s", dir, name);
	if (access(to, F_OK) == 0) {
		char hex[9];
		randombytes_buf(tag, sizeof(tag));
		sodium_bin2hex(hex, sizeof(hex), tag, sizeof(tag));
		snprintf(alt, sizeof(alt), "%.200s-%s", name, hex);
	}
	snprintf(side, sizeof(side), "%s%s", alt, suffix);
	if (obj != NULL && (rc = spool_write_json(dir, side, obj, 0)) != 0)
		log_err(
		    "%s/%s: cannot write: %s", dir, side, error_strerror(rc));
	json_decref(obj);
	if (fileio_join(from, sizeof(from), o->dir, name) != 0 ||
	    fileio_join(to, sizeof(to), dir, alt) != 0)
		return;
	if ((rc = fileio_rename_noreplace(from, to)) != 0)
		log_err("review %s: cannot move to %s: %s", name, dir,
		    error_strerror(rc));
	else if ((rc = fileio_fsync_dir(o->dir)) != 0)
		log_warn("%s: cannot sync: %s", o->dir, error_strerror(rc));
}

static void
fail_file(struct outreview *o, const char *name, const char *reason,
    const char *detail)
{
	log_warn("review %s failed: %s: %s", name, reason, detail);
	file_away(o, name, o->failed, ".error.json",
	    json_pack("{s:s,s:s,s:s}", "file", name, "reason", reason,
	        "message", detail));
}

/* The checks the agent can make itself: ours, and our guardian's. */
static int
check_local(struct agent *a, const struct review *r, char *why, size_t n)
{
	const struct keys_public *g =
	    keyring_find_guardian(a->keyring, a->cfg.agency);

	if (strcmp(r->agency, a->cfg.agency) != 0)
		return snprintf(why, n,
		           "a review by the guardian of '%s'; this agent is "
		           "'%s'",
		           r->agency, a->cfg.agency),
		       -1;
	if (g == NULL)
		return snprintf(why, n,
		           "the keyring holds no guardian key of '%s'",
		           a->cfg.agency),
		       -1;
	if (strcmp(g->fingerprint, r->guardian) != 0 ||
	    review_verify(r, g->sign_pk) != 0)
		return snprintf(why, n,
		           "not signed by the guardian key of '%s' in the "
		           "keyring (%s)",
		           a->cfg.agency, g->fingerprint),
		       -1;
	return 0;
}

static bool
is_pending(const struct outreview *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->p[i].name, name) == 0)
			return true;
	return false;
}

static void
send_one(struct agent *a, const struct pending_review *p)
{
	uint8_t *frame = NULL;
	size_t len;
	int rc;

	if (!a->connected)
		return;
	if ((rc = review_frame_encode(&p->r, &frame, &len)) == 0)
		rc = link_send(a, frame, len);
	free(frame);
	if (rc != 0)
		log_warn(
		    "review %s: not sent: %s", p->name, error_strerror(rc));
}

/* Takes the review file name from reviews/, when it is one. */
static void
take(struct agent *a, struct outreview *o, const char *name, uid_t owner)
{
	uid_t owners[2] = {geteuid(), owner};
	struct pending_review *p;
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[256];
	int rc;

	rc = fileio_read_entry(
	    o->dir, name, owners, 2, REVIEW_FILE_MAX, &buf, &len, &st);
	if (rc == ERROR_NOENT || (rc == ERROR_INVAL && S_ISDIR(st.st_mode)))
		return;
	if (rc != 0) {
		fail_file(o, name, "unreadable", error_strerror(rc));
		return;
	}
	p = &o->p[o->n];
	rc = review_file_decode(buf, len, &p->r, why, sizeof(why));
	free(buf);
	if (rc != 0) {
		fail_file(o, name, "malformed", why);
		return;
	}
	if (check_local(a, &p->r, why, sizeof(why)) != 0) {
		fail_file(o, name, "bad_signature", why);
		return;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	o->n++;
	log_info("review %s of leaf %llu (%s) taken", name,
	    (unsigned long long)p->r.leaf_seq,
	    review_outcome_name(p->r.outcome));
	send_one(a, p);
}

/* Lists reviews/ for NAME.json files not yet pending. */
static void
scan(struct agent *a, struct outreview *o)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(o->dir)) == NULL)
		return;
	uid_t owner = fstat(dirfd(d), &st) == 0 ? st.st_uid : geteuid();
	while (o->n < OUTREVIEW_MAX && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 6 ||
		    strcmp(de->d_name + n - 5, ".json") != 0 ||
		    is_pending(o, de->d_name))
			continue;
		take(a, o, de->d_name, owner);
	}
	closedir(d);
}

void
outreview_tick(struct agent *a, uint64_t now, bool rescan)
{
	struct outreview *o = a->reviews;

	if (o == NULL)
		return;
	if (rescan)
		scan(a, o);
	if (a->connected && now - o->sent_ms >= a->cfg.resend_ms) {
		for (size_t i = 0; i < o->n; i++)
			send_one(a, &o->p[i]);
		o->sent_ms = now;
	}
}

void
outreview_resend(struct agent *a)
{
	struct outreview *o = a->reviews;

	for (size_t i = 0; o != NULL && i < o->n; i++)
		send_one(a, &o->p[i]);
}

/* Removes pending entry i. */
static void
drop(struct outreview *o, size_t i)
{
	o->p[i] = o->p[--o->n];
}

/* An accepted receipt: its one leaf must be this review, logged. */
static void
accepted(struct agent *a, struct outreview *o, size_t i,
    const struct wire_receipt *rc)
{
	const struct pending_review *p = &o->p[i];
	struct checkpoint cp;
	struct event *ev = &a->outbox.evs[0];
	int t = rc->n_decisions == 1
	    ? trust_check(a, &rc->decisions[0], ev, &cp)
	    : ERROR_DECODE;

	if ((t != 0 && t != TRUST_HELD) ||
	    ev->type != EVENT_BREAKGLASS_REVIEWED ||
	    strcmp(ev->sender, a->cfg.agency) != 0 ||
	    sodium_memcmp(
	        ev->review.review_id, p->r.review_id, REVIEW_ID_LEN) != 0 ||
	    sodium_memcmp(
	        ev->review.signature, p->r.signature, REVIEW_SIG_LEN) != 0) {
		/* Not proof that it is logged: kept, and sent again. */
		trust_alert(a, "review receipt not audit-verified", p->name);
		return;
	}
	log_info("review %s logged at leaf %llu", p->name,
	    (unsigned long long)rc->decisions[0].leaf_index);
	file_away(o, p->name, o->sent, ".receipt.json",
	    json_pack("{s:s,s:s,s:I,s:I,s:b}", "file", p->name, "outcome",
	        "accepted", "reviewed_leaf", (json_int_t)p->r.leaf_seq,
	        "leaf_index", (json_int_t)rc->decisions[0].leaf_index,
	        "audit_proof", t == 0));
	drop(o, i);
}

bool
outreview_receipt(struct agent *a, const struct wire_receipt *r)
{
	struct outreview *o = a->reviews;

	for (size_t i = 0; o != NULL && i < o->n; i++) {
		if (memcmp(o->p[i].r.review_id, r->msg_id, REVIEW_ID_LEN) != 0)
			continue;
		if (r->outcome == WIRE_ACCEPTED) {
			accepted(a, o, i, r);
		} else if (r->retryable) {
			log_info("review %s refused for now (%s): sent again",
			    o->p[i].name, wire_reason_name(r->reason));
		} else {
			fail_file(o, o->p[i].name, wire_reason_name(r->reason),
			    r->detail);
			drop(o, i);
		}
		return true;
	}
	return false;
}
