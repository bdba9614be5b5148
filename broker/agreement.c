/*
 * The agreement in force at the broker (agreement.h): loaded once from its
 * bytes, checked complete against the keyring, archived in the data folder
 * and read back from there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "broker/agreement.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "common/yamlconf.h"

/* Appends to buf (size n) what fits. */
static void __attribute__((format(printf, 3, 4)))
add(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strnlen(buf, n);
	va_list ap;

	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

void
agreement_held_free(struct agreement_held *a)
{
	if (a == NULL)
		return;
	policy_free(a->policy);
	free(a->yaml);
	free(a->note);
	free(a);
}

/* The policy from a's bytes; every error into why. */
static int
parse(struct agreement_held *a, const char *name, char *why, size_t n)
{
	struct yamlconf_errors errs;
	int rc;

	yamlconf_errors_init(&errs);
	rc = policy_load_buffer(a->yaml, a->yaml_len, name, &errs, &a->policy);
	if (rc != 0) {
		why[0] = '\0';
		for (size_t i = 0; i < errs.n; i++)
			add(why, n, "%s%s", i ? "\n" : "", errs.msg[i]);
		if (errs.n == 0)
			snprintf(why, n, "%s: %s", name, error_strerror(rc));
	}
	yamlconf_errors_release(&errs);
	return rc;
}

/* Why c is not complete, in one paragraph. */
static void
incomplete(
    const char *path, const struct agreement_check *c, char *why, size_t n)
{
	snprintf(why, n,
	    "%s: refused: the agreement is not signed by every "
	    "party's guardian",
	    path);
	if (c->text != AGREEMENT_TEXT_OK)
		add(why, n, ": %s.sig: %s", path, agreement_text_str(c->text));
	add(why, n, "; not signed by the guardian of: ");
	for (size_t i = 0; i < c->nmissing; i++)
		add(why, n, "%s%s", i ? ", " : "", c->missing[i]);
	for (size_t i = 0; i < c->nlines; i++)
		if (c->lines[i].status != AGREEMENT_LINE_VALID)
			add(why, n, "; %s.sig:%zu: %s: %s", path, i + 6,
			    c->lines[i].name[0] ? c->lines[i].name : "?",
			    agreement_line_str(c->lines[i].status));
	add(why, n, " (see `concordat policy verify %s --keyring DIR`)", path);
}

int
agreement_load(const char *path, const struct keyring *kr,
    struct agreement_held **out, char *why, size_t n)
{
	const char *ids[POLICY_MAX_AGENCIES];
	struct agreement_held *a;
	struct agreement_check *c = NULL;
	char sig[4096];
	uint8_t *buf = NULL;
	int rc;

	*out = NULL;
	if (snprintf(sig, sizeof(sig), "%s.sig", path) >= (int)sizeof(sig)) {
		snprintf(why, n, "%s: path too long", path);
		return ERROR_TOOBIG;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ERROR_NOMEM;
	if ((rc = fileio_read(path, POLICY_FILE_MAX, &buf, &a->yaml_len)) !=
	    0) {
		snprintf(why, n, "%s: %s", path,
		    rc == ERROR_TOOBIG ? "larger than a policy may be"
		                       : error_strerror(rc));
		free(a);
		return rc;
	}
	a->yaml = (char *)buf;
	crypto_hash_sha256(a->sha, buf, a->yaml_len);
	*out = a;
	if ((rc = parse(a, path, why, n)) != 0)
		return rc;
	buf = NULL;
	rc = fileio_read(sig, AGREEMENT_NOTE_MAX, &buf, &a->note_len);
	if (rc == ERROR_NOENT) {
		a->note_len = 0;
	} else if (rc != 0) {
		snprintf(why, n, "%s: %s", sig,
		    rc == ERROR_TOOBIG ? "larger than an agreement note may be"
		                       : error_strerror(rc));
		return rc == ERROR_TOOBIG ? ERROR_POLICY : rc;
	}
	a->note = (char *)buf;
	if ((c = malloc(sizeof(*c))) == NULL)
		return ERROR_NOMEM;
	size_t na = policy_agency_count(a->policy);
	for (size_t i = 0; i < na; i++)
		ids[i] = policy_agency_id(a->policy, i);
	rc = agreement_verify(a->yaml, a->yaml_len, a->note, a->note_len,
	    policy_agreement(a->policy), (uint64_t)policy_version(a->policy),
	    ids, na, kr, c);
	if (rc != 0 && rc != ERROR_TOOBIG) {
		snprintf(why, n, "%s: %s", sig, error_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < c->nsigned; i++)
		memcpy(a->signers[i], c->signed_by[i], sizeof(a->signers[i]));
	a->n_signers = c->nsigned;
	a->complete = c->complete;
	if (!c->complete) {
		if (a->note == NULL)
			snprintf(why, n,
			    "%s: refused: %s is missing: no guardian has "
			    "signed the agreement (each agency's guardian "
			    "signs "
			    "with `concordat policy sign`)",
			    path, sig);
		else
			incomplete(path, c, why, n);
		rc = ERROR_POLICY;
		goto out;
	}
	a->since_ms = clock_now_ms();
	rc = ERROR_OK;
out:
	free(c);
	return rc;
}

/* DATA/agreements and the archive's names for sha. */
static int
archive_names(const char *data, const uint8_t sha[AGREEMENT_SHA_LEN], char *dir,
    size_t dn, char *yaml, size_t yn, char *sig, size_t sn)
{
	char hex[2 * AGREEMENT_SHA_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), sha, AGREEMENT_SHA_LEN);
	if (fileio_join(dir, dn, data, AGREEMENT_ARCHIVE_DIR) != 0 ||
	    snprintf(yaml, yn, "%s.yaml", hex) >= (int)yn ||
	    snprintf(sig, sn, "%s.yaml.sig", hex) >= (int)sn)
		return ERROR_TOOBIG;
	return ERROR_OK;
}

int
agreement_archive(const char *data, const struct agreement_held *a)
{
	char dir[4096], yaml[80], sig[80];
	int rc;

	if ((rc = archive_names(data, a->sha, dir, sizeof(dir), yaml,
	         sizeof(yaml), sig, sizeof(sig))) != 0)
		return rc;
	if ((rc = fileio_mkdirs(dir, 0700)) != 0)
		return rc;
	/* Never replaced: the first archive of these bytes stays. */
	rc = fileio_write_atomic(dir, sig, a->note != NULL ? a->note : "",
	    a->note_len, 0600, FILEIO_EXCL);
	if (rc != 0 && rc != ERROR_EXISTS)
		return rc;
	rc = fileio_write_atomic(
	    dir, yaml, a->yaml, a->yaml_len, 0600, FILEIO_EXCL);
	return rc == ERROR_EXISTS ? ERROR_OK : rc;
}

int
agreement_archived(const char *data, const uint8_t sha[AGREEMENT_SHA_LEN],
    struct agreement_held **out)
{
	char dir[4096], yaml[80], sig[80], path[4200], why[1024];
	struct agreement_held *a;
	uint8_t *buf = NULL;
	int rc;

	*out = NULL;
	if ((rc = archive_names(data, sha, dir, sizeof(dir), yaml, sizeof(yaml),
	         sig, sizeof(sig))) != 0)
		return rc;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return ERROR_NOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, yaml);
	if ((rc = fileio_read(path, POLICY_FILE_MAX, &buf, &a->yaml_len)) != 0)
		goto out;
	a->yaml = (char *)buf;
	crypto_hash_sha256(a->sha, buf, a->yaml_len);
	if (sodium_memcmp(a->sha, sha, AGREEMENT_SHA_LEN) != 0) {
		rc = ERROR_TAMPERED;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, sig);
	buf = NULL;
	rc = fileio_read(path, AGREEMENT_NOTE_MAX, &buf, &a->note_len);
	if (rc != 0 && rc != ERROR_NOENT)
		goto out;
	a->note = (char *)buf;
	if (a->note == NULL)
		a->note_len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, yaml);
	if ((rc = parse(a, path, why, sizeof(why))) != 0)
		goto out;
	*out = a;
	a = NULL;
out:
	agreement_held_free(a);
	return rc;
}

void
agreement_event_fill(const struct agreement_held *a, struct event *ev)
{
	if (a == NULL)
		return;
	ev->has_policy_sha256 = true;
	memcpy(ev->policy_sha256, a->sha, sizeof(ev->policy_sha256));
	if (a->policy != NULL) {
		snprintf(ev->agreement_id, sizeof(ev->agreement_id), "%s",
		    policy_agreement(a->policy));
		ev->agreement_version = (uint64_t)policy_version(a->policy);
	}
	ev->n_signers = 0;
	for (size_t i = 0; i < a->n_signers && i < EVENT_MAX_SIGNERS; i++)
		memcpy(ev->signers[ev->n_signers++], a->signers[i],
		    sizeof(ev->signers[0]));
}

int
agreement_crosscheck(const struct policy *p, const struct keyring *kr,
    char *why, size_t n, char *warn, size_t wn)
{
	size_t na = policy_agency_count(p);
	int rc = ERROR_OK;

	why[0] = '\0';
	for (size_t i = 0; i < na; i++) {
		const char *id = policy_agency_id(p, i);
		bool pub = keyring_find(kr, id) != NULL;
		bool g = keyring_find_guardian(kr, id) != NULL;
		if (!pub)
			add(why, n,
			    "%sagency '%s' of the agreement has no %s.pub in "
			    "the keyring",
			    why[0] ? "; " : "", id, id);
		if (!g)
			add(why, n,
			    "%sagency '%s' of the agreement has no "
			    "%s.guardian.pub in the keyring",
			    why[0] ? "; " : "", id, id);
		if (!pub || !g)
			rc = ERROR_CONFIG;
	}
	for (size_t i = 0; warn != NULL && i < keyring_count(kr); i++) {
		const char *id = keyring_at(kr, i)->id;
		if (policy_agency_index(p, id) < 0)
			add(warn, wn,
			    "%swarning: keyring agency '%s' is not a party to "
			    "the agreement (it can connect, but no rule names "
			    "it)",
			    warn[0] ? "\n" : "", id);
	}
	for (size_t i = 0; warn != NULL && i < keyring_guardian_count(kr);
	     i++) {
		const char *id = keyring_guardian_at(kr, i)->id;
		if (policy_agency_index(p, id) < 0)
			add(warn, wn,
			    "%swarning: guardian key '%s.guardian.pub' is of "
			    "no party to the agreement",
			    warn[0] ? "\n" : "", id);
	}
	return rc;
}
