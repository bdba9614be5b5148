/*
 * The keyring: a folder of public identity files, mapping agency ids to
 * their keys and CURVE transport keys to agency ids (for the broker's ZAP
 * handler), and agency ids to their guardians' keys (ID.guardian.pub, for
 * the agreement's signatures: keys/agreement.c), and agency ids to the
 * next key of an agency in a rotation window (ID.next.pub).
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys/keys.h"

#define KEYRING_MAX 1024

struct keyring {
	size_t n;
	struct keys_public *ids;
	size_t ng;
	struct keys_public *guardians;
	size_t nn;
	struct keys_public *nexts; /* ID.next.pub: next keys in a rotation */
};

static int __attribute__((format(printf, 4, 5)))
fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int
add(struct keys_public **v, size_t *n, const struct keys_public *p,
    const char *dir, char *errbuf, size_t errlen)
{
	if (*n == KEYRING_MAX)
		return fail(errbuf, errlen, ERROR_TOOBIG,
		    "%s: more than 1024 identities", dir);
	struct keys_public *grown = realloc(*v, (*n + 1) * sizeof(*grown));
	if (grown == NULL)
		return ERROR_NOMEM;
	*v = grown;
	grown[(*n)++] = *p;
	return ERROR_OK;
}

/*
 * Every next key belongs to an agency of the keyring and shares its
 * transport key with no identity (so the ZAP handler names one agency).
 */
static int
check_nexts(struct keyring *kr, const char *dir, char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < kr->nn; i++) {
		const struct keys_public *x = &kr->nexts[i];
		if (keyring_find(kr, x->id) == NULL)
			return fail(errbuf, errlen, ERROR_KEY,
			    "%s/%s.next.pub: no %s.pub beside it (a next key "
			    "is of an agency of the keyring)",
			    dir, x->id, x->id);
		for (size_t j = 0; j < kr->n + kr->nn; j++) {
			const struct keys_public *y =
			    j < kr->n ? &kr->ids[j] : &kr->nexts[j - kr->n];
			if (y != x &&
			    sodium_memcmp(y->transport_pk, x->transport_pk,
			        KEYS_CURVE_KEY) == 0)
				return fail(errbuf, errlen, ERROR_KEY,
				    "%s/%s.next.pub: same transport key as "
				    "%s's %s key",
				    dir, x->id, y->id,
				    j < kr->n ? "current" : "next");
		}
	}
	return ERROR_OK;
}

int
keyring_load(const char *dir, struct keyring **out, char *errbuf, size_t errlen)
{
	struct keyring *kr;
	struct dirent *de;
	DIR *d;
	int rc = ERROR_OK;

	*out = NULL;
	d = opendir(dir);
	if (d == NULL)
		return fail(errbuf, errlen, ERROR_NOENT,
		    "%s: cannot open the keyring folder", dir);
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL) {
		closedir(d);
		return ERROR_NOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096], want[64];
		struct keys_public p;
		size_t nl = strlen(de->d_name);

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".pub") != 0 ||
		    de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((rc = keys_load_public(path, &p)) != 0) {
			fail(errbuf, errlen, rc, "%s: %s", path,
			    error_strerror(rc));
			goto out;
		}
		if (p.is_broker)
			continue;
		snprintf(want, sizeof(want), "%s.next.pub", p.id);
		if (!p.is_guardian && strcmp(want, de->d_name) == 0) {
			if ((rc = add(&kr->nexts, &kr->nn, &p, dir, errbuf,
			         errlen)) != 0)
				goto out;
			continue;
		}
		snprintf(want, sizeof(want), "%s%s.pub", p.id,
		    p.is_guardian ? ".guardian" : "");
		if (strcmp(want, de->d_name) != 0) {
			rc = fail(errbuf, errlen, ERROR_KEY,
			    "%s: holds the %s of '%s'", path,
			    p.is_guardian ? "guardian key" : "identity", p.id);
			goto out;
		}
		if (p.is_guardian) {
			/* The file name is unique, so is the guardian's id. */
			if ((rc = add(&kr->guardians, &kr->ng, &p, dir, errbuf,
			         errlen)) != 0)
				goto out;
			continue;
		}
		for (size_t i = 0; i < kr->n; i++) {
			if (sodium_memcmp(kr->ids[i].transport_pk,
			        p.transport_pk, KEYS_CURVE_KEY) == 0) {
				rc = fail(errbuf, errlen, ERROR_KEY,
				    "%s: same transport key as '%s'", path,
				    kr->ids[i].id);
				goto out;
			}
		}
		if ((rc = add(&kr->ids, &kr->n, &p, dir, errbuf, errlen)) != 0)
			goto out;
	}
	if ((rc = check_nexts(kr, dir, errbuf, errlen)) != 0)
		goto out;
	*out = kr;
	kr = NULL;
out:
	closedir(d);
	keyring_free(kr);
	return rc;
}

void
keyring_free(struct keyring *kr)
{
	if (kr == NULL)
		return;
	free(kr->ids);
	free(kr->guardians);
	free(kr->nexts);
	free(kr);
}

const struct keys_public *
keyring_find(const struct keyring *kr, const char *id)
{
	for (size_t i = 0; i < kr->n; i++)
		if (strcmp(kr->ids[i].id, id) == 0)
			return &kr->ids[i];
	return NULL;
}

const struct keys_public *
keyring_find_transport(
    const struct keyring *kr, const uint8_t key[KEYS_CURVE_KEY])
{
	for (size_t i = 0; i < kr->n; i++)
		if (sodium_memcmp(
		        kr->ids[i].transport_pk, key, KEYS_CURVE_KEY) == 0)
			return &kr->ids[i];
	for (size_t i = 0; i < kr->nn; i++)
		if (sodium_memcmp(
		        kr->nexts[i].transport_pk, key, KEYS_CURVE_KEY) == 0)
			return &kr->nexts[i];
	return NULL;
}

const struct keys_public *
keyring_find_next(const struct keyring *kr, const char *id)
{
	for (size_t i = 0; i < kr->nn; i++)
		if (strcmp(kr->nexts[i].id, id) == 0)
			return &kr->nexts[i];
	return NULL;
}

size_t
keyring_count(const struct keyring *kr)
{
	return kr->n;
}

const struct keys_public *
keyring_at(const struct keyring *kr, size_t i)
{
	return i < kr->n ? &kr->ids[i] : NULL;
}

const struct keys_public *
keyring_find_guardian(const struct keyring *kr, const char *id)
{
	for (size_t i = 0; i < kr->ng; i++)
		if (strcmp(kr->guardians[i].id, id) == 0)
			return &kr->guardians[i];
	return NULL;
}

size_t
keyring_guardian_count(const struct keyring *kr)
{
	return kr->ng;
}

const struct keys_public *
keyring_guardian_at(const struct keyring *kr, size_t i)
{
	return i < kr->ng ? &kr->guardians[i] : NULL;
}
