/*
 * `concordat keys rotate begin|promote --agency ID --keys DIR` (issue 12,
 * DESIGN.md §4 "rotation"), on the agency's own host:
 *
 *   begin    a next key: DIR/ID.next.key (0600) and DIR/ID.next.pub, to be
 *            put into every keyring as ID.next.pub (the rotation window);
 *   promote  DIR/ID.key becomes DIR/ID.retired-HEX.key (kept to open what
 *            was sealed to it), the next key becomes DIR/ID.key and
 *            DIR/ID.pub; the agent is restarted with it.
 *
 * Each step refuses to overwrite anything; promote links the retired key
 * before it renames the next key over the current one, so a crash between
 * leaves both keys on disk.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "keys/keys.h"
#include "keys/verbs/keys_verbs.h"

static const char *
path(char *buf, const char *dir, const char *id, const char *suffix)
{
	if (snprintf(buf, PATH_MAX, "%s/%s%s", dir, id, suffix) >= PATH_MAX)
		return NULL;
	return buf;
}

static int
begin(const char *id, const char *dir)
{
	char tmp[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], d[PATH_MAX];
	int rc;

	if (path(tmp, dir, ".rotate-", id) == NULL ||
	    path(a, tmp, id, ".key") == NULL ||
	    path(b, dir, id, ".next.key") == NULL ||
	    path(c, tmp, id, ".pub") == NULL ||
	    path(d, dir, id, ".next.pub") == NULL)
		return cli_fail(
		    EX_USAGE, "keys rotate: %s: path too long", dir);
	if (access(b, F_OK) == 0 || access(d, F_OK) == 0)
		return cli_fail(EX_CANTCREAT,
		    "keys rotate begin: %s or %s already exists: a rotation is "
		    "under way (promote it, or remove both to start again)",
		    b, d);
	if ((rc = keys_generate(id, tmp)) != 0)
		return cli_fail(cli_exit_code(rc), "keys rotate begin: %s: %s",
		    tmp, error_strerror(rc));
	if (link(a, b) != 0 || link(c, d) != 0) {
		int e = errno;
		unlink(b);
		unlink(a);
		unlink(c);
		rmdir(tmp);
		return cli_fail(EX_CANTCREAT, "keys rotate begin: %s: %s", dir,
		    strerror(e));
	}
	unlink(a);
	unlink(c);
	rmdir(tmp);
	if (fileio_fsync_dir(dir) != 0)
		return cli_fail(
		    EX_IOERR, "keys rotate begin: %s: cannot sync", dir);
	printf("wrote %s (secret, 0600) and %s\n"
	       "next: put %s into every keyring (the broker's and every "
	       "agency's) as %s.next.pub and reload them (SIGHUP); then run "
	       "`concordat keys rotate promote --agency %s --keys %s` and "
	       "restart this agency's agent\n",
	    b, d, d, id, id, dir);
	return EX_OK;
}

static int
load(const char *file, const char *id, struct keys_secret **k)
{
	int rc = keys_load_secret(file, k);

	if (rc != 0)
		return cli_fail(
		    rc == ERROR_NOENT ? EX_NOINPUT : cli_exit_code(rc),
		    "keys rotate promote: %s: %s%s", file, error_strerror(rc),
		    rc == ERROR_NOENT && strstr(file, ".next.key") != NULL
		        ? " (no rotation under way: `keys rotate begin` first)"
		        : "");
	if ((*k)->pub.is_broker || strcmp((*k)->pub.id, id) != 0) {
		keys_secret_free(*k);
		return cli_fail(EX_DATAERR,
		    "keys rotate promote: %s: not a key of agency '%s'", file,
		    id);
	}
	return EX_OK;
}

static int
promote(const char *id, const char *dir)
{
	char cur[PATH_MAX], pub[PATH_MAX], nkey[PATH_MAX], npub[PATH_MAX];
	char old[PATH_MAX], sfx[64], hex[33];
	struct keys_secret *k = NULL, *n = NULL;
	size_t o = 0;
	int rc;

	if (path(cur, dir, id, ".key") == NULL ||
	    path(pub, dir, id, ".pub") == NULL ||
	    path(nkey, dir, id, ".next.key") == NULL ||
	    path(npub, dir, id, ".next.pub") == NULL)
		return cli_fail(
		    EX_USAGE, "keys rotate: %s: path too long", dir);
	if ((rc = load(cur, id, &k)) != EX_OK)
		return rc;
	if ((rc = load(nkey, id, &n)) != EX_OK) {
		keys_secret_free(k);
		return rc;
	}
	for (const char *p = k->pub.fingerprint; *p != '\0' && o < 32; p++)
		if (*p != ':')
			hex[o++] = *p;
	hex[o] = '\0';
	snprintf(sfx, sizeof(sfx), ".retired-%s.key", hex);
	printf("retiring key %s, promoting key %s\n", k->pub.fingerprint,
	    n->pub.fingerprint);
	keys_secret_free(k);
	keys_secret_free(n);
	if (path(old, dir, id, sfx) == NULL || link(cur, old) != 0)
		return cli_fail(EX_CANTCREAT, "keys rotate promote: %s: %s",
		    old, strerror(errno));
	if (rename(nkey, cur) != 0 || rename(npub, pub) != 0 ||
	    fileio_fsync_dir(dir) != 0)
		return cli_fail(EX_IOERR, "keys rotate promote: %s: %s", dir,
		    strerror(errno));
	printf("%s is the retired key (0600): the agent opens with it what "
	       "was sealed to it; remove it once nothing sealed to it can "
	       "still arrive (the longest expires_after of the agreement "
	       "after the last step)\n"
	       "next: restart this agency's agent; then replace %s.pub in "
	       "every keyring with %s, remove %s.next.pub there, and reload "
	       "them\n",
	    old, id, pub, id);
	return EX_OK;
}

int
keys_verb_rotate(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"agency", required_argument, NULL, 'a'},
	    {"keys", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *agency = NULL, *dir = NULL;
	int c;

	while ((c = cli_getopt(argc, argv, "a:k:h", opts)) != -1) {
		switch (c) {
		case 'a':
			agency = optarg;
			break;
		case 'k':
			dir = optarg;
			break;
		case 'h':
			return keys_verbs_usage(stdout, EX_OK);
		default:
			return keys_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (optind + 1 != argc || agency == NULL || dir == NULL)
		return keys_verbs_usage(stderr, EX_USAGE);
	if (!ident_agency_valid(agency))
		return cli_fail(EX_USAGE,
		    "keys rotate: invalid agency id '%s' (want "
		    "[a-z][a-z0-9_]{0,31})",
		    agency);
	if (strcmp(argv[optind], "begin") == 0)
		return begin(agency, dir);
	if (strcmp(argv[optind], "promote") == 0)
		return promote(agency, dir);
	return cli_fail(EX_USAGE,
	    "keys rotate: unknown step '%s' (begin or promote)", argv[optind]);
}
