/*
 * The outbox side of the agent (DESIGN.md §8): a record a local system
 * renames into outbox/ is checked, sealed and stored durably under a new
 * msg_id before its first send; the broker's receipt moves it to sent/ (or
 * failed/) with the receipt beside it. A bad record goes to failed/ with a
 * .error.json naming each problem. Nothing is deleted.
 *
 * What is in outbox/ is untrusted (docs/agent.md §5): the local system is
 * another user. outwatch.c says when an entry is complete; then it is read
 * only if it has a record name and is a regular file with one link, owned
 * by the agent's user or by the owner of outbox/, opened without following
 * links. Anything else with a name that can be quoted moves to failed/
 * with the reason; names that cannot be quoted, and hidden ones, are left
 * alone and reported once in the log. No message quotes a file's bytes.
 *
 * A record rejected `stale` was never accepted (the broker answers an
 * accepted msg_id with its decisions before it looks at the time): it was
 * held through an outage longer than the broker's clock_skew, so it is
 * sealed again under a new msg_id for the same file (docs/agent.md §4).
 * A move that fails (a full disk) is tried again on a timer, logged once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/link.h"
#include "agents/outrecord.h"
#include "agents/outwatch.h"
#include "agents/room.h"
#include "agents/spool.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/urgency.h"
#include "proto/envelope.h"
#include "proto/jsonval.h"

#define OUTBOX_NAME_MAX 200 /* a record name's bytes, .json included */
/* A stale rejection younger than this points at the clocks, not an outage. */
#define OUTBOX_RESEAL_AGE_MS 1000

/* What became of an entry the agent took. */
enum taken {
	TAKEN_SEALED, /* sealed: store it, send it */
	TAKEN_DONE,   /* moved to failed/, or in flight already */
	TAKEN_WAIT,   /* changed, or could not be moved: look again later */
	TAKEN_GONE,   /* no longer there */
};

/*
 * True when name may be quoted and filed: 1 to OUTBOX_NAME_MAX letters,
 * digits and "._-:+@=,", the first a letter or a digit. Otherwise why says
 * what is wrong, by offset and byte value, without quoting the name.
 */
static bool
quotable_name(const char *name, char *why, size_t n)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');
		if (i >= OUTBOX_NAME_MAX) {
			snprintf(
			    why, n, "longer than %d bytes", OUTBOX_NAME_MAX);
			return false;
		}
		if (!alnum && (i == 0 || strchr("._-:+@=,", c) == NULL)) {
			snprintf(why, n,
			    "byte %zu of the name is 0x%02x; a record name is "
			    "letters, digits and . _ - : + @ = , and starts "
			    "with a letter or a digit",
			    i, c);
			return false;
		}
	}
	return true;
}

/* A name ending in .json: a record's, once it is quotable. */
static bool
is_record_name(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* True when dir/comp is a file of the agent's holding the text mark. */
static bool
companion_holds(const char *dir, const char *comp, const char *mark)
{
	uid_t me = geteuid();
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	bool hit;

	if (fileio_read_entry(
	        dir, comp, &me, 1, OUTRECORD_MAX_FILE, &buf, &len, &st) != 0)
		return false;
	hit = memmem(buf, len, mark, strlen(mark)) != NULL;
	free(buf);
	return hit;
}

static bool
exists_at(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return fileio_join(path, sizeof(path), dir, name) != 0 ||
	    lstat(path, &st) == 0 || errno != ENOENT;
}

/* Whether outbox/name is no longer the file e sealed. */
static bool
replaced_since_sealed(struct agent *a, const struct outwatch_entry *e)
{
	char path[PATH_MAX];
	struct outwatch_id id;
	struct stat st;

	if (e == NULL || !e->sealed ||
	    fileio_join(path, sizeof(path), a->dir[DIR_OUTBOX], e->name) != 0 ||
	    lstat(path, &st) != 0)
		return false;
	outwatch_id_of(&st, &id);
	return !outwatch_id_same(&id, &e->sealed_id);
}

/*
 * Files outbox/name, whose receipt is final, in dir (sent/ or failed/):
 * its companion (NAME.receipt.json, or NAME.error.json) from text first,
 * written exclusively, then the record beside it, moved without replacing
 * anything. When the plain names are taken by another record, hex (the
 * msg_id) prefixes both. A crash in between is finished at the next start:
 * a companion that holds hex is this message's. When this run sealed the
 * file and it has been replaced or changed since, it stays in the outbox,
 * to be taken as a new record, and only the companion is written, under
 * the msg_id.
 */
static int
move_out(struct agent *a, const char *name, int dir, const char *hex,
    const char *suffix, const char *text, bool sync)
{
	struct outwatch_entry *e =
	    a->outwatch != NULL ? outwatch_find(a->outwatch, name) : NULL;
	char src[PATH_MAX], dst[PATH_MAX], base[STATE_NAME_MAX + 40];
	char comp[STATE_NAME_MAX + 64];
	int stem = (int)strlen(name) - 5;
	bool keep = replaced_since_sealed(a, e), ours = false;
	struct stat st;
	int rc = ERROR_OK;

	if (stem < 1 ||
	    fileio_join(src, sizeof(src), a->dir[DIR_OUTBOX], name) != 0)
		return ERROR_INVAL;
	for (int plain = keep ? 0 : 1; plain >= 0; plain--) {
		ours = false;
		if (plain)
			snprintf(base, sizeof(base), "%s", name);
		else
			snprintf(base, sizeof(base), "%s-%s", hex, name);
		snprintf(comp, sizeof(comp), "%.*s%s", (int)strlen(base) - 5,
		    base, suffix);
		if (plain) {
			/* Ours: written before a crash. If the record is
			 * gone from the outbox, or already beside it (what
			 * the outbox has now is a new record), it moved. */
			ours = companion_holds(a->dir[dir], comp, hex);
			if (ours &&
			    ((lstat(src, &st) != 0 && errno == ENOENT) ||
			        exists_at(a->dir[dir], base)))
				break;
			if (!ours &&
			    (exists_at(a->dir[dir], base) ||
			        exists_at(a->dir[dir], comp)))
				continue; /* another record's */
		}
		if (!ours) {
			rc = fileio_write_atomic(a->dir[dir], comp, text,
			    strlen(text), 0640,
			    FILEIO_EXCL | (sync ? 0 : FILEIO_NO_DIR_SYNC));
			if (rc == ERROR_EXISTS && plain)
				continue;
			/* Names under a msg_id are only ever this
			 * message's: written before a crash. */
			if (rc != ERROR_OK && rc != ERROR_EXISTS)
				return rc;
		}
		if (keep) {
			log_warn(
			    "outbox %s: replaced or changed after it was "
			    "sealed as %s; its receipt is %s, and the file "
			    "now there is a new record",
			    name, hex, comp);
			e->sealed = false;
			e->done = false;
			e->ready = true;
			break;
		}
		if (fileio_join(dst, sizeof(dst), a->dir[dir], base) != 0)
			return ERROR_TOOBIG;
		rc = fileio_rename_noreplace(src, dst);
		if (rc == ERROR_EXISTS && plain)
			continue;
		/* ERROR_NOENT: taken back, or moved before a crash; and a
		 * name under the msg_id taken means moved before a crash,
		 * with a new record in the outbox since. */
		if (rc != ERROR_OK && rc != ERROR_NOENT && rc != ERROR_EXISTS)
			return rc;
		break;
	}
	if (sync &&
	    ((rc = fileio_fsync_dir(a->dir[dir])) != 0 ||
	        (rc = fileio_fsync_dir(a->dir[DIR_OUTBOX])) != 0))
		return rc;
	/* Filed: what comes under the name from now on is a new record. */
	if (e != NULL && !keep)
		outwatch_forget(a->outwatch, name);
	return ERROR_OK;
}

/*
 * Moves outbox/name to failed/ as STEM.json (or NAME, for a name not
 * ending in .json) with STEM.error.json beside it, written first and
 * exclusively; a tag makes the stem unique when either name is taken, so
 * nothing in failed/ is ever replaced. A crash in between leaves the error
 * file and the entry in the outbox, which is taken again. seen is what was
 * examined: an entry changed since stays (TAKEN_WAIT). kept gets the name
 * in failed/.
 */
static enum taken
fail_entry(struct agent *a, const char *name, const struct outwatch_id *seen,
    json_t *errors, char *kept, size_t kept_n, int *err)
{
	/* Names are OUTBOX_NAME_MAX bytes at most, so all of these fit. */
	char stem[NAME_MAX + 1], ename[NAME_MAX + 16], tag[FILEIO_TAG_LEN];
	char src[PATH_MAX], dst[PATH_MAX], epath[PATH_MAX], ts[40];
	size_t n = strnlen(name, OUTBOX_NAME_MAX);
	const char *ext = "";
	struct outwatch_id now;
	struct stat st;
	int rc;

	*err = ERROR_OK;
	if (is_record_name(name)) {
		n -= 5;
		ext = ".json";
	}
	if (fileio_join(src, sizeof(src), a->dir[DIR_OUTBOX], name) != 0)
		return TAKEN_WAIT;
	clock_format(clock_now_ms(), ts, sizeof(ts));
	for (int i = 0; i < 8; i++) {
		if (i == 0) {
			snprintf(stem, sizeof(stem), "%.*s", (int)n, name);
		} else {
			fileio_tag(tag);
			snprintf(
			    stem, sizeof(stem), "%.*s-%s", (int)n, name, tag);
		}
		snprintf(kept, kept_n, "%s%s", stem, ext);
		snprintf(ename, sizeof(ename), "%s.error.json", stem);
		if (exists_at(a->dir[DIR_FAILED], kept) ||
		    exists_at(a->dir[DIR_FAILED], ename) ||
		    fileio_join(dst, sizeof(dst), a->dir[DIR_FAILED], kept) ||
		    fileio_join(
		        epath, sizeof(epath), a->dir[DIR_FAILED], ename))
			continue;
		json_t *o = json_pack("{s:s,s:s,s:s,s:O}", "file", name,
		    "kept_as", kept, "failed_at", ts, "errors", errors);
		char *text = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
		json_decref(o);
		if (text == NULL) {
			*err = ERROR_NOMEM;
			return TAKEN_WAIT;
		}
		rc = fileio_write_atomic(a->dir[DIR_FAILED], ename, text,
		    strlen(text), 0640, FILEIO_EXCL);
		free(text);
		if (rc == ERROR_EXISTS)
			continue;
		if (rc != ERROR_OK) {
			*err = rc;
			return TAKEN_WAIT;
		}
		/* Still what was examined? Else the error file is not its. */
		if (lstat(src, &st) != 0) {
			unlink(epath);
			return TAKEN_GONE;
		}
		outwatch_id_of(&st, &now);
		if (seen != NULL && !outwatch_id_same(&now, seen)) {
			unlink(epath);
			return TAKEN_WAIT;
		}
		rc = fileio_rename_noreplace(src, dst);
		if (rc != ERROR_OK)
			unlink(epath); /* our own, just written */
		if (rc == ERROR_EXISTS)
			continue;
		if (rc == ERROR_NOENT)
			return TAKEN_GONE;
		if (rc != ERROR_OK) {
			*err = rc;
			return TAKEN_WAIT;
		}
		if ((rc = fileio_fsync_dir(a->dir[DIR_FAILED])) != 0 ||
		    (rc = fileio_fsync_dir(a->dir[DIR_OUTBOX])) != 0)
			log_err("failed/: cannot sync the folders: %s",
			    error_strerror(rc));
		return TAKEN_DONE;
	}
	*err = ERROR_EXISTS;
	return TAKEN_WAIT;
}

/* Refuses e with the problems in errors (reported once if it cannot). */
static enum taken
refuse(struct agent *a, struct outwatch_entry *e, json_t *errors)
{
	char kept[NAME_MAX + 16];
	enum taken t;
	int err;

	t = fail_entry(a, e->name, &e->id, errors, kept, sizeof(kept), &err);
	if (t == TAKEN_DONE) {
		log_warn("outbox %s: refused (%zu problems): see failed/%s",
		    e->name, json_array_size(errors), kept);
	} else if (t == TAKEN_WAIT && err != ERROR_OK && !e->reported) {
		log_err("outbox %s: refused, but cannot move it to failed/: "
		        "%s; will try again",
		    e->name, error_strerror(err));
		e->reported = true;
	}
	return t;
}

/* Refuses e for one problem, said by fmt. */
static enum taken __attribute__((format(printf, 3, 4)))
refuse_one(struct agent *a, struct outwatch_entry *e, const char *fmt, ...)
{
	char msg[512];
	json_t *errors = json_array();
	enum taken t;
	va_list ap;

	if (errors == NULL)
		return TAKEN_WAIT;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	outrecord_error(errors, "", "%s", msg);
	t = refuse(a, e, errors);
	json_decref(errors);
	return t;
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
 * Reads, checks and seals the record e (a regular file of a record name,
 * with one link and an expected owner, as e->id says) into *mp, which the
 * caller releases after TAKEN_SEALED. A bad record is refused here.
 */
static enum taken
process_file(struct agent *a, struct outwatch_entry *e, const uid_t *owners,
    struct state_msg *mp)
{
	struct envelope_seal_args args;
	struct outrecord r;
	struct state_msg m;
	struct outwatch_id after;
	struct stat st;
	enum taken t = TAKEN_WAIT;
	uint8_t shared[WIRE_MAX_RECIPIENTS][32];
	const char *recips[WIRE_MAX_RECIPIENTS];
	fieldset grants[WIRE_MAX_RECIPIENTS];
	uint8_t sha[WIRE_HASH_LEN];
	char hex[33];
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *errors = json_array();
	int rc;

	memset(&r, 0, sizeof(r));
	memset(&m, 0, sizeof(m));
	if (errors == NULL)
		return TAKEN_WAIT;
	rc = fileio_read_entry(a->dir[DIR_OUTBOX], e->name, owners, 2,
	    OUTRECORD_MAX_FILE, &buf, &len, &st);
	if (rc == ERROR_NOENT) {
		t = TAKEN_GONE; /* taken back by the local system */
		goto out;
	}
	outwatch_id_of(&st, &after);
	if (!outwatch_id_same(&after, &e->id)) {
		/* Changed while it was read: someone writes it still. */
		log_debug("outbox %s: changed while read; later", e->name);
		e->id = after;
		e->changed_ms = clock_mono_ms();
		goto out;
	}
	if (rc == ERROR_TOOBIG) {
		t = refuse_one(a, e,
		    "the file is %jd bytes, over the limit of %d bytes (1 MiB)",
		    (intmax_t)st.st_size, OUTRECORD_MAX_FILE);
		goto out;
	}
	if (rc != 0) {
		t = refuse_one(a, e, "cannot read the file: %s%s",
		    error_strerror(rc),
		    rc == ERROR_PERM ? " (the agent's user must be able to "
		                       "read it)"
		                     : "");
		goto out;
	}
	/* All problems at once: the keyring's too, even when the format
	 * already failed (the recipients that parsed are still in r). */
	if (outrecord_parse(buf, len, a->pepper, &r, errors) != 0)
		log_debug("outbox %s: not in the record format", e->name);
	check_against_keyring(a, &r, errors);
	/* The sender's own decision: what each recipient is granted. */
	if (json_array_size(errors) == 0 &&
	    (rc = outseal_grants(a, &r, grants, sha, errors)) != ERROR_OK &&
	    rc != ERROR_POLICY)
		goto out; /* no agreement held yet (or memory): it waits */
	if (json_array_size(errors) > 0) {
		t = refuse(a, e, errors);
		goto out;
	}
	for (size_t i = 0; i < r.n_recipients; i++) {
		recips[i] = r.recipients[i];
		if ((rc = trust_shared(a, r.recipients[i], shared[i])) != 0) {
			t = refuse_one(a, e,
			    "cannot make the key shared with '%s': %s",
			    r.recipients[i], error_strerror(rc));
			goto out;
		}
	}
	memset(&args, 0, sizeof(args));
	args.sender = a->cfg.agency;
	args.sign_sk = a->key->sign_sk;
	args.created_at_ms = clock_now_ms();
	args.kind = r.kind;
	args.urgency = r.urgency;
	args.purpose = r.purpose;
	outrecord_emergency_args(&r, &args);
	outrecord_subject_args(&r, &args);
	args.in_reply_to = r.has_in_reply_to ? r.in_reply_to : NULL;
	args.requested = r.requested;
	args.n_recipients = r.n_recipients;
	args.recipients = recips;
	args.shared = (const uint8_t(*)[32])shared;
	args.grants = grants;
	args.agreement = sha;
	for (int f = 1; f <= FIELDS_COUNT; f++) {
		args.plain[f] = r.plain[f];
		args.plain_len[f] = r.plain_len[f];
	}
	rc = envelope_seal(&args, m.msg_id, &m.frame, &m.frame_len);
	if (rc != 0) {
		t = refuse_one(
		    a, e, "cannot seal the record: %s", error_strerror(rc));
		goto out;
	}
	m.state = STATE_PENDING;
	snprintf(m.file, sizeof(m.file), "%s", e->name);
	spool_hex_id(m.msg_id, hex);
	log_info("outbox %s: sealed as %s for %zu recipients (%s) msg_id=%s",
	    e->name, hex, r.n_recipients, r.purpose, hex);
	e->sealed = true;
	e->sealed_id = after;
	*mp = m;
	memset(&m, 0, sizeof(m)); /* the frame is the caller's now */
	t = TAKEN_SEALED;
out:
	sodium_memzero(shared, sizeof(shared));
	outrecord_release(&r);
	state_msg_release(&m);
	if (buf != NULL) {
		sodium_memzero(buf, len);
		free(buf);
	}
	json_decref(errors);
	return t;
}

/* What an entry that is not a regular file is, in words. */
static const char *
kind_of(mode_t m)
{
	if (S_ISDIR(m))
		return "a folder";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO (named pipe)";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

/*
 * Takes the due entry e: looks at it without following it, and refuses,
 * reports, skips or reads it. owners: the agent's uid and the outbox's.
 */
static enum taken
take(struct agent *a, struct outwatch_entry *e, const uid_t *owners,
    uint64_t now, struct state_msg *mp)
{
	char path[PATH_MAX], why[256];
	struct outwatch_id id;
	struct state_msg m;
	struct stat st;

	if (fileio_join(path, sizeof(path), a->dir[DIR_OUTBOX], e->name) != 0)
		return TAKEN_WAIT;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? TAKEN_GONE : TAKEN_WAIT;
	outwatch_id_of(&st, &id);
	if (!e->ready && !(e->known && outwatch_id_same(&id, &e->id))) {
		outwatch_saw(e, &st, now); /* changed: settle again */
		return TAKEN_WAIT;
	}
	e->id = id;
	e->known = true;
	e->ready = false;
	if (e->name[0] == '.' || !quotable_name(e->name, why, sizeof(why))) {
		/* Not to be quoted or filed: the log says so, once. */
		if (e->reported)
			;
		else if (e->name[0] == '.' &&
		    quotable_name(e->name + 1, why, sizeof(why)))
			log_info("outbox %s: the name is hidden (it starts "
			         "with '.'), so not a record; left alone",
			    e->name);
		else if (e->name[0] == '.')
			log_info("outbox: an entry (inode %ju) whose name is "
			         "hidden is not a record; left alone",
			    (uintmax_t)st.st_ino);
		else
			log_warn("outbox: an entry (inode %ju) is not a "
			         "record name, so it is left alone and not "
			         "quoted: %s",
			    (uintmax_t)st.st_ino, why);
		e->reported = true;
		return TAKEN_DONE;
	}
	if (is_record_name(e->name) &&
	    state_find_file(a->state, e->name, &m) == 0) {
		state_msg_release(&m);
		return TAKEN_DONE; /* sealed already, waiting for its receipt */
	}
	if (S_ISLNK(st.st_mode))
		return refuse_one(a, e,
		    "a symbolic link, not a record file: the agent never "
		    "follows links in outbox/ (write the record itself)");
	if (S_ISDIR(st.st_mode))
		return refuse_one(a, e,
		    "a folder, not a record file: outbox/ takes files named "
		    "NAME.json");
	if (!S_ISREG(st.st_mode))
		return refuse_one(a, e,
		    "%s, not a record file; it was not opened",
		    kind_of(st.st_mode));
	if (st.st_nlink != 1)
		return refuse_one(a, e,
		    "the file has %ju links (it is a hard link): the agent "
		    "reads only files with one link",
		    (uintmax_t)st.st_nlink);
	if (st.st_uid != owners[0] && st.st_uid != owners[1])
		return refuse_one(a, e,
		    "the file is owned by uid %ju: the agent reads only files "
		    "owned by its own user (uid %ju) or by the owner of "
		    "outbox/ (uid %ju)",
		    (uintmax_t)st.st_uid, (uintmax_t)owners[0],
		    (uintmax_t)owners[1]);
	if (!is_record_name(e->name))
		return refuse_one(a, e,
		    "the name does not end in .json: outbox/ takes only "
		    "records, named NAME.json");
	return process_file(a, e, owners, mp);
}

/*
 * Stores the sealed messages in one durable commit, before their first
 * send (a restart resends them, never new ones), then sends them. When
 * the state has no room, nothing is stored: the records stay in outbox/
 * and are taken again once there is (room_may_store), said once; one that
 * cannot be stored for another reason is taken again after the settle
 * time.
 */
static void
store_and_send(struct agent *a, struct state_msg *ms, size_t n)
{
	int rc[OUTBOX_BATCH], all = ERROR_OK;
	char hex[33];

	if (n == 0)
		return;
	/* Only what fits below 90% of the map; the rest waits. */
	size_t fit = room_may_store(a) ? room_fit(a, ms, n) : 0;
	if (fit == 0)
		all = ERROR_MAPFULL;
	else if ((all = state_put_msgs(a->state, ms, fit, rc)) != 0 &&
	    room_full(all))
		room_refused(a, all);
	else if (all == 0)
		room_stored(a);
	for (size_t i = 0; i < n; i++) {
		spool_hex_id(ms[i].msg_id, hex);
		if (all != 0 || i >= fit)
			rc[i] = all != 0 ? all : ERROR_MAPFULL;
		if (rc[i] != 0) {
			struct outwatch_entry *e =
			    outwatch_find(a->outwatch, ms[i].file);
			if (room_full(rc[i]))
				log_debug("outbox %s: waits for room in the "
				          "state",
				    ms[i].file);
			else
				log_err("outbox %s: cannot store the sealed "
				        "message: "
				        "%s; will try again",
				    ms[i].file, error_strerror(rc[i]));
			if (e != NULL) {
				e->done = false;
				e->sealed = false;
				e->changed_ms = clock_mono_ms();
			}
		} else if (a->connected &&
		    link_send(a, ms[i].frame, ms[i].frame_len) != 0) {
			log_debug("send of %s deferred", hex);
		}
		state_msg_release(&ms[i]);
	}
}

static bool
have_outwatch(struct agent *a)
{
	if (a->outwatch == NULL && outwatch_new(&a->outwatch) != 0 &&
	    !a->outbox.told_nomem) {
		log_err("outbox: out of memory; records wait");
		a->outbox.told_nomem = true;
	}
	return a->outwatch != NULL;
}

void
outbox_notified(struct agent *a)
{
	char buf[16 * 1024]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t now = clock_mono_ms();
	ssize_t n;

	if (a->inotify < 0)
		return;
	/* A bounded helping: a busy writer cannot keep the loop here. */
	for (int i = 0; i < 64 && (n = read(a->inotify, buf, sizeof(buf))) > 0;
	     i++) {
		if (!have_outwatch(a))
			continue;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(void *)p;
			if (!outwatch_event(a->outwatch, ev, now))
				a->outbox.unwatched = true;
			p += sizeof(*ev) + ev->len;
		}
	}
}

void
outbox_scan(struct agent *a, bool rescan)
{
	struct state_msg *ready = a->outbox.ready;
	struct outwatch_entry **due = a->outbox.due;
	uint64_t now = clock_mono_ms();
	uid_t owners[2] = {geteuid(), geteuid()};
	struct stat st;
	size_t n = 0, nd;

	if (!have_outwatch(a))
		return;
	if (rescan) {
		if (a->outbox.unwatched && a->inotify >= 0 &&
		    inotify_add_watch(
		        a->inotify, a->dir[DIR_OUTBOX], OUTWATCH_EVENTS) >= 0)
			a->outbox.unwatched = false;
		size_t full =
		    outwatch_rescan(a->outwatch, a->dir[DIR_OUTBOX], now);
		if (full > 0 && !a->outbox.told_full)
			log_warn("outbox: more than %d entries; %zu wait until "
			         "others leave",
			    OUTWATCH_MAX, full);
		a->outbox.told_full = full > 0;
	}
	nd = outwatch_due(a->outwatch, now, a->cfg.settle_ms, due, OUTBOX_PASS);
	if (nd == 0)
		return;
	if (stat(a->dir[DIR_OUTBOX], &st) == 0)
		owners[1] = st.st_uid;
	/* Stops when the state has no room, or the agent is stopping: the
	 * entries not taken stay due. */
	for (size_t i = 0; i < nd && room_may_store(a) && !agent_stopping(a);
	     i++) {
		struct outwatch_entry *e = due[i];
		switch (take(a, e, owners, now, &ready[n])) {
		case TAKEN_SEALED:
			e->done = true;
			/* One at a time while room is being tried again. */
			if (++n == OUTBOX_BATCH || a->probing) {
				store_and_send(a, ready, n);
				n = 0;
			}
			break;
		case TAKEN_DONE:
			e->done = true;
			break;
		case TAKEN_WAIT:
			/* Not before another settle time. */
			e->changed_ms = now;
			break;
		case TAKEN_GONE:
			outwatch_gone(a->outwatch, e);
			break;
		}
	}
	store_and_send(a, ready, n);
}

int
outbox_move_final(struct agent *a, const struct state_msg *m, bool sync)
{
	char hex[33];
	int dir = m->state == STATE_ACCEPTED ? DIR_SENT : DIR_FAILED;

	spool_hex_id(m->msg_id, hex);
	return move_out(a, m->file, dir, hex,
	    dir == DIR_SENT ? ".receipt.json" : ".error.json",
	    m->receipt != NULL ? m->receipt : "{}", sync);
}

/* Finishes the move of a message whose receipt was final. */
static int
finish_one(struct agent *a, const struct state_msg *m)
{
	int rc = outbox_move_final(a, m, true);

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
void
outbox_move_failed(struct agent *a, const char *file, int rc)
{
	if (a->moves_failing)
		return;
	log_err("outbox %s: cannot move it out of outbox/: %s; the moves "
	        "are tried again as space frees",
	    file, error_strerror(rc));
	a->moves_failing = true;
	a->moves_backoff_ms = room_backoff(0);
	a->moves_retry_ms = clock_mono_ms() + a->moves_backoff_ms;
}

static int
recover_one(void *arg, const struct state_msg *m)
{
	int rc;

	if (m->state != STATE_PENDING && (rc = finish_one(arg, m)) != 0)
		outbox_move_failed(arg, m->file, rc);
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
		a->moves_backoff_ms = room_backoff(a->moves_backoff_ms);
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
 * Reads and seals outbox/name again, as the outbox does (process_file,
 * under the same rules for what may be read); TAKEN_WAIT while the outbox
 * has not been looked at since it started.
 */
static enum taken
seal_again(struct agent *a, const char *name, struct state_msg *mp)
{
	uid_t owners[2] = {geteuid(), geteuid()};
	struct outwatch_entry *e;
	char path[PATH_MAX];
	struct stat st;

	if (!have_outwatch(a) || (e = outwatch_find(a->outwatch, name)) == NULL)
		return TAKEN_WAIT;
	if (fileio_join(path, sizeof(path), a->dir[DIR_OUTBOX], name) != 0)
		return TAKEN_WAIT;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? TAKEN_GONE : TAKEN_WAIT;
	outwatch_id_of(&st, &e->id);
	e->known = true;
	if (stat(a->dir[DIR_OUTBOX], &st) == 0)
		owners[1] = st.st_uid;
	return process_file(a, e, owners, mp);
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
	char hex[33], nhex[33];
	uint64_t now = clock_now_ms();
	int rc;

	spool_hex_id(old->msg_id, hex);
	enum taken t = seal_again(a, old->file, &next);
	if (t == TAKEN_WAIT) {
		log_warn("%s (%s): rejected stale; cannot seal it again now; "
		         "will try again",
		    hex, old->file);
		return true;
	}
	if (t != TAKEN_SEALED)
		return false; /* gone, or refused into failed/ */
	next.n_prev = old->n_prev + 1;
	memcpy(next.prev, old->prev, old->n_prev * WIRE_MSG_ID_LEN);
	memcpy(next.prev[old->n_prev], old->msg_id, WIRE_MSG_ID_LEN);
	cur.receipt = (char *)(uintptr_t)receipt;
	rc = state_supersede(a->state, &cur, &next, now);
	spool_hex_id(next.msg_id, nhex);
	if (rc != 0) {
		if (room_full(rc))
			room_refused(a, rc);
		else
			log_err("%s (%s): cannot store its new seal: %s; will "
			        "try again",
			    hex, old->file, error_strerror(rc));
		state_msg_release(&next);
		return true;
	}
	log_info("%s (%s): rejected (stale, or sealed under an agreement "
	         "no longer in force) after %llu s: sealed again as %s",
	    hex, old->file,
	    (unsigned long long)((now - old->sealed_at_ms) / 1000), nhex);
	if (a->connected && link_send(a, next.frame, next.frame_len) != 0)
		log_debug("send of %s deferred", nhex);
	state_msg_release(&next);
	return true;
}

bool
outbox_receipt(struct agent *a, const struct wire_receipt *r)
{
	struct event *evs = a->outbox.evs;
	bool ok[WIRE_MAX_PROOFS];
	struct state_msg m;
	char hex[33], why[160];
	bool accepted, audit_ok = true, decided = false, stale = false;
	json_t *o;

	spool_hex_id(r->msg_id, hex);
	if (state_get_msg(a->state, r->msg_id, &m) != 0) {
		log_warn("receipt for %s, which this agent did not send or no "
		         "longer keeps",
		    hex);
		return false;
	}
	if (m.state != STATE_PENDING || outturn_final(a, r->msg_id)) {
		state_msg_release(&m);
		return false; /* a second receipt for a resend: final */
	}
	/* Its leaves (claims.c); one unproven keeps it (held_receipt.c). */
	if (claims_receipt_leaves(a, r, evs, ok)) {
		state_msg_release(&m);
		return true;
	}
	for (size_t i = 0; i < r->n_decisions; i++) {
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
	if (!accepted && r->retryable &&
	    r->reason != WIRE_REASON_AGREEMENT_MISMATCH) {
		log_warn("%s (%s): refused for now: %s; will resend", hex,
		    m.file, r->detail);
		state_msg_release(&m);
		return false;
	}
	if (!audit_ok || r->n_decisions == 0)
		trust_alert(a, "receipt not backed by the audit log", hex);
	o = outreceipt_json(
	    a, r, &m, evs, ok, accepted, audit_ok && r->n_decisions > 0);
	free(m.receipt);
	m.receipt = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	/* Sealed again under the agreement the broker names, once held. */
	if (!accepted && r->reason == WIRE_REASON_AGREEMENT_MISMATCH &&
	    m.n_prev < STATE_MAX_PREV &&
	    (!outseal_mismatch(a, r, evs, ok) ||
	        (m.receipt != NULL && reseal(a, &m, m.receipt)))) {
		state_msg_release(&m);
		return false;
	}
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
			return false;
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
	/* Recorded with the turn's others (outbox_flush); the files
	 * follow, and a restart finishes a move a crash interrupted. */
	char note[sizeof(r->detail) + 64] = "";
	if (!accepted)
		snprintf(note, sizeof(note), "%s: %s",
		    wire_reason_name(r->reason), r->detail);
	outturn_receipt(a, &m, note);
	state_msg_release(&m);
	return false;
}
