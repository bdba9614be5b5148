/*
 * The agent's spool folders (see spool.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agents/agent_int.h"
#include "agents/spool.h"
#include "common/fileio.h"
#include "common/log.h"

/*
 * The permission model (docs/agent.md): the agent's user owns the spool;
 * the record system runs as another user in the spool's group, which may
 * write outbox/ and tmp/ and read the rest, never the state folder or
 * the keys. setgid, so that what is written there keeps the group.
 */
static const mode_t dir_mode[] = {
    [DIR_OUTBOX] = 02770,
    [DIR_TMP] = 02770,
    [DIR_SENT] = 02750,
    [DIR_FAILED] = 02750,
    [DIR_INBOX] = 02770, /* it takes records away */
    [DIR_RECEIPTS] = 02750,
    [DIR_ALERTS] = 02750,
};

/* Sets path's mode to mode (umask aside) when the agent owns it. */
static int
set_mode(const char *path, mode_t mode)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return errno == ENOENT ? ERROR_OK : ERROR_IO;
	if (st.st_uid != geteuid() || (st.st_mode & 07777) == mode)
		return ERROR_OK;
	if (chmod(path, mode) != 0) {
		log_err("%s: cannot set mode %04o: %s", path, (unsigned)mode,
		    strerror(errno));
		return ERROR_IO;
	}
	return ERROR_OK;
}

int
spool_make_dirs(struct agent *a)
{
	static const char *const names[] = {SPOOL_OUTBOX, SPOOL_TMP, SPOOL_SENT,
	    SPOOL_FAILED, SPOOL_INBOX, SPOOL_RECEIPTS, SPOOL_ALERTS};
	int rc;

	/* The state folder is never the group's, wherever it is. */
	if ((rc = fileio_mkdirs(a->cfg.spool, 0750)) != 0 ||
	    (rc = set_mode(a->cfg.spool, 02750)) != 0 ||
	    (rc = set_mode(a->cfg.state, 0700)) != 0) {
		log_err("%s: cannot create or set its mode: %s", a->cfg.spool,
		    error_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (fileio_join(a->dir[i], sizeof(a->dir[i]), a->cfg.spool,
		        names[i]) != 0)
			return ERROR_TOOBIG;
		if ((rc = fileio_mkdirs(a->dir[i], 0750)) != 0 ||
		    (rc = set_mode(a->dir[i], dir_mode[i])) != 0) {
			log_err("%s: cannot create: %s", a->dir[i],
			    error_strerror(rc));
			return rc;
		}
		/*
		 * A crash inside a write leaves its temporary file: in
		 * inbox/ a decrypted record, perhaps half written, that
		 * nothing would read or remove; in sent/ a second link to a
		 * receipt, which then looks like another's (outbox.c).
		 * outbox/ and tmp/ are written by others too, so stay.
		 */
		size_t n = i == DIR_OUTBOX || i == DIR_TMP
		    ? 0
		    : fileio_remove_temporaries(a->dir[i]);
		if (n > 0)
			log_info("%s: removed %zu temporary files left by a "
			         "crash",
			    a->dir[i], n);
	}
	if (a->cfg.state_legacy)
		log_warn("state %s: inside the spool the record system shares; "
		         "stop the agent and move it to %s.state (the default "
		         "now), or set `state:`",
		    a->cfg.state, a->cfg.spool);
	return ERROR_OK;
}

int
spool_write_json(const char *dir, const char *name, json_t *obj, int flags)
{
	char *text = json_dumps(obj, JSON_INDENT(2));
	int rc;

	if (text == NULL)
		return ERROR_NOMEM;
	rc = fileio_write_atomic(dir, name, text, strlen(text), 0640, flags);
	free(text);
	return rc;
}

int
spool_write_unique_json(const char *dir, const char *stem, json_t *obj)
{
	char name[NAME_MAX + 1], *text = json_dumps(obj, JSON_INDENT(2));
	int rc;

	if (text == NULL)
		return ERROR_NOMEM;
	rc = fileio_write_unique(
	    dir, stem, ".json", text, strlen(text), 0640, name, sizeof(name));
	free(text);
	return rc;
}

void
spool_hex_id(const uint8_t id[WIRE_MSG_ID_LEN], char out[33])
{
	sodium_bin2hex(out, 33, id, WIRE_MSG_ID_LEN);
}
