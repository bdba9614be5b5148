/*
 * Key files: generation, permission-checked loading into sodium_malloc
 * memory, public identity files and fingerprints (DESIGN.md §4). Used by
 * the `concordat keys` verbs, the broker and the agents.
 *
 * A secret key file is binary and fixed-size, so that its bytes go straight
 * from disk into guarded memory without passing through a parser:
 *
 *	magic "CCSKEY01" (8) | role (1: agency, 2: broker, 3: guardian)
 *	| id (32, NUL padded)
 *	| Ed25519 secret (64) | X25519 box secret (32) | CURVE secret (32)
 *	| BLAKE2b-128 checksum of everything before it (16)
 *
 * A guardian's file has the box and CURVE secrets all zero. Public keys
 * are derived from the secrets at load. A public identity file is JSON:
 * {"concordat": "identity/v1", "id", "role" ("agency", "broker",
 * "guardian"), "sign", "box", "transport" (base64), "fingerprint"}; the
 * broker's has no "box", a guardian's neither "box" nor "transport" (their
 * fingerprints hash 32 zero bytes in place of each).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "common/fileio.h"
#include "keys/keys.h"
#include "keys/secretfile.h"

#define MAGIC       "CCSKEY01"
#define ROLE_AGENCY 1
#define ROLE_BROKER 2
#define ROLE_GUARD  3
#define ID_FIELD    32
#define CHECK_LEN   16
#define SECRET_FILE_LEN                                                        \
	(8 + 1 + ID_FIELD + KEYS_SIGN_SK + KEYS_BOX_SK + KEYS_CURVE_KEY +      \
	    CHECK_LEN)

void
keys_fingerprint(struct keys_public *p)
{
	static const char domain[] = "concordat/fingerprint/v1";
	crypto_generichash_state st;
	uint8_t h[32];
	char hex[33];
	size_t o = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(
	    &st, (const uint8_t *)domain, sizeof(domain) - 1);
	crypto_generichash_update(
	    &st, (const uint8_t *)p->id, strlen(p->id) + 1);
	crypto_generichash_update(&st, p->sign_pk, sizeof(p->sign_pk));
	crypto_generichash_update(&st, p->box_pk, sizeof(p->box_pk));
	crypto_generichash_update(
	    &st, p->transport_pk, sizeof(p->transport_pk));
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, sizeof(hex), h, 16);
	for (int g = 0; g < 8; g++) {
		memcpy(p->fingerprint + o, hex + g * 4, 4);
		o += 4;
		p->fingerprint[o++] = g < 7 ? ':' : '\0';
	}
}

/* An agency may not be called "broker": its files would be the broker's. */
static bool
id_ok(const char *id, bool broker)
{
	if (broker)
		return strcmp(id, KEYS_BROKER_ID) == 0;
	return ident_agency_valid(id) && strcmp(id, KEYS_BROKER_ID) != 0;
}

/* Derives the public half of s from its secrets. */
static void
derive_public(struct keys_secret *s)
{
	crypto_sign_ed25519_sk_to_pk(s->pub.sign_pk, s->sign_sk);
	if (s->pub.has_box)
		crypto_scalarmult_base(s->pub.box_pk, s->box_sk);
	else
		memset(s->pub.box_pk, 0, sizeof(s->pub.box_pk));
	if (s->pub.is_guardian)
		memset(s->pub.transport_pk, 0, sizeof(s->pub.transport_pk));
	else
		crypto_scalarmult_base(s->pub.transport_pk, s->transport_sk);
	keys_fingerprint(&s->pub);
}

static int
b64_put(json_t *o, const char *k, const uint8_t *v, size_t n)
{
	char buf[64];

	sodium_bin2base64(
	    buf, sizeof(buf), v, n, sodium_base64_VARIANT_ORIGINAL);
	return json_object_set_new(o, k, json_string(buf)) == 0 ? 0
	                                                        : ERROR_NOMEM;
}

static int
write_public(const char *dir, const struct keys_public *p)
{
	char name[64];
	char *text = NULL;
	json_t *o;
	int rc = ERROR_NOMEM;

	o = json_object();
	if (o == NULL)
		return ERROR_NOMEM;
	const char *role = p->is_broker ? "broker"
	    : p->is_guardian            ? "guardian"
	                                : "agency";
	if (json_object_set_new(o, "concordat", json_string("identity/v1")) ||
	    json_object_set_new(o, "id", json_string(p->id)) ||
	    json_object_set_new(o, "role", json_string(role)))
		goto out;
	if (b64_put(o, "sign", p->sign_pk, sizeof(p->sign_pk)) != 0 ||
	    (p->has_box && b64_put(o, "box", p->box_pk, sizeof(p->box_pk))) ||
	    (!p->is_guardian &&
	        b64_put(o, "transport", p->transport_pk,
	            sizeof(p->transport_pk)) != 0))
		goto out;
	if (json_object_set_new(o, "fingerprint", json_string(p->fingerprint)))
		goto out;
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL)
		goto out;
	snprintf(name, sizeof(name), "%s%s.pub", p->id,
	    p->is_guardian ? ".guardian" : "");
	size_t n = strlen(text);
	text[n] = '\n'; /* json_dumps leaves room for its NUL: reuse it */
	rc = fileio_write_atomic(dir, name, text, n + 1, 0644, FILEIO_EXCL);
out:
	free(text);
	json_decref(o);
	return rc;
}

static int
generate(const char *id, const char *dir, int role)
{
	struct keys_secret *s = NULL;
	uint8_t *file = NULL;
	uint8_t box_pk[KEYS_BOX_PK], tr_pk[KEYS_CURVE_KEY];
	uint8_t sign_pk[KEYS_SIGN_PK];
	char name[64];
	bool broker = role == ROLE_BROKER, guard = role == ROLE_GUARD;
	int rc;

	if (!id_ok(id, broker))
		return ERROR_INVAL;
	if ((rc = fileio_mkdirs(dir, 0700)) != 0)
		return rc;
	s = sodium_malloc(sizeof(*s));
	file = sodium_malloc(SECRET_FILE_LEN);
	if (s == NULL || file == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	memset(s, 0, sizeof(*s));
	snprintf(s->pub.id, sizeof(s->pub.id), "%s", id);
	s->pub.is_broker = broker;
	s->pub.is_guardian = guard;
	s->pub.has_box = role == ROLE_AGENCY;
	crypto_sign_keypair(sign_pk, s->sign_sk);
	if (s->pub.has_box)
		crypto_box_keypair(box_pk, s->box_sk);
	if (!guard)
		crypto_box_keypair(tr_pk, s->transport_sk);
	derive_public(s);

	memset(file, 0, SECRET_FILE_LEN);
	uint8_t *p = file;
	memcpy(p, MAGIC, 8);
	p += 8;
	*p++ = (uint8_t)role;
	memcpy(p, id, strlen(id));
	p += ID_FIELD;
	memcpy(p, s->sign_sk, KEYS_SIGN_SK);
	p += KEYS_SIGN_SK;
	memcpy(p, s->box_sk, KEYS_BOX_SK);
	p += KEYS_BOX_SK;
	memcpy(p, s->transport_sk, KEYS_CURVE_KEY);
	p += KEYS_CURVE_KEY;
	crypto_generichash(p, CHECK_LEN, file, (size_t)(p - file), NULL, 0);

	snprintf(name, sizeof(name), "%s%s.key", id, guard ? ".guardian" : "");
	if ((rc = fileio_write_atomic(
	         dir, name, file, SECRET_FILE_LEN, 0600, 1)) != 0)
		goto out;
	rc = write_public(dir, &s->pub);
	if (rc != 0) {
		/* Leave no secret without its public half. */
		char path[4096];
		if (fileio_join(path, sizeof(path), dir, name) == 0)
			unlink(path);
	}
out:
	sodium_memzero(sign_pk, sizeof(sign_pk));
	sodium_free(file);
	keys_secret_free(s);
	return rc;
}

int
keys_generate(const char *id, const char *dir)
{
	if (id == NULL)
		return generate(KEYS_BROKER_ID, dir, ROLE_BROKER);
	return generate(id, dir, ROLE_AGENCY);
}

int
keys_generate_guardian(const char *id, const char *dir)
{
	if (id == NULL)
		return ERROR_INVAL;
	return generate(id, dir, ROLE_GUARD);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static int
load_secret(const char *path, bool guardian, struct keys_secret **out)
{
	struct keys_secret *s = NULL;
	uint8_t *file = NULL, check[CHECK_LEN];
	int rc;

	*out = NULL;
	file = sodium_malloc(SECRET_FILE_LEN);
	if (file == NULL)
		return ERROR_NOMEM;
	if ((rc = secretfile_read(path, file, SECRET_FILE_LEN)) != 0)
		goto out;
	rc = ERROR_KEY;
	if (memcmp(file, MAGIC, 8) != 0)
		goto out;
	crypto_generichash(
	    check, CHECK_LEN, file, SECRET_FILE_LEN - CHECK_LEN, NULL, 0);
	if (sodium_memcmp(
	        check, file + SECRET_FILE_LEN - CHECK_LEN, CHECK_LEN) != 0)
		goto out;
	uint8_t role = file[8];
	const uint8_t *p = file + 9;
	/* The id is NUL padded; a 32-character id fills the field. */
	size_t idlen = strnlen((const char *)p, ID_FIELD);
	if (guardian ? role != ROLE_GUARD
	             : role != ROLE_AGENCY && role != ROLE_BROKER)
		goto out;
	for (size_t i = idlen; i < ID_FIELD; i++)
		if (p[i] != 0)
			goto out;
	s = sodium_malloc(sizeof(*s));
	if (s == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	memset(s, 0, sizeof(*s));
	memcpy(s->pub.id, p, idlen);
	s->pub.id[idlen] = '\0';
	s->pub.is_broker = role == ROLE_BROKER;
	s->pub.is_guardian = role == ROLE_GUARD;
	s->pub.has_box = role == ROLE_AGENCY;
	if (!id_ok(s->pub.id, s->pub.is_broker))
		goto out;
	p += ID_FIELD;
	memcpy(s->sign_sk, p, KEYS_SIGN_SK);
	p += KEYS_SIGN_SK;
	/* A guardian's file carries no box or CURVE secret: zeros only. */
	if (guardian && !all_zero(p, KEYS_BOX_SK + KEYS_CURVE_KEY))
		goto out;
	memcpy(s->box_sk, p, KEYS_BOX_SK);
	p += KEYS_BOX_SK;
	memcpy(s->transport_sk, p, KEYS_CURVE_KEY);
	derive_public(s);
	*out = s;
	s = NULL;
	rc = ERROR_OK;
out:
	sodium_memzero(check, sizeof(check));
	sodium_free(file);
	keys_secret_free(s);
	return rc;
}

int
keys_load_secret(const char *path, struct keys_secret **out)
{
	return load_secret(path, false, out);
}

int
keys_load_guardian(const char *path, struct keys_secret **out)
{
	return load_secret(path, true, out);
}

void
keys_secret_free(struct keys_secret *s)
{
	/* sodium_free wipes the memory before releasing it. */
	if (s != NULL)
		sodium_free(s);
}

static int
b64_get(json_t *o, const char *k, uint8_t *out, size_t n)
{
	const char *v = json_string_value(json_object_get(o, k));
	size_t got = 0;

	if (v == NULL)
		return ERROR_KEY;
	if (sodium_base642bin(out, n, v, strlen(v), NULL, &got, NULL,
	        sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != n)
		return ERROR_KEY;
	return ERROR_OK;
}

int
keys_load_public(const char *path, struct keys_public *out)
{
	static const char *const allowed[] = {"concordat", "id", "role", "sign",
	    "box", "transport", "fingerprint"};
	uint8_t *buf = NULL;
	size_t len;
	json_t *o = NULL;
	const char *k, *s;
	json_t *v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = fileio_read(path, KEYS_MAX_FILE, &buf, &len)) != 0)
		return rc;
	rc = ERROR_KEY;
	o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o))
		goto out;
	json_object_foreach(o, k, v)
	{
		size_t i;
		for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (i == sizeof(allowed) / sizeof(allowed[0]))
			goto out;
	}
	s = json_string_value(json_object_get(o, "concordat"));
	if (s == NULL || strcmp(s, "identity/v1") != 0)
		goto out;
	s = json_string_value(json_object_get(o, "role"));
	if (s == NULL ||
	    (strcmp(s, "agency") && strcmp(s, "broker") &&
	        strcmp(s, "guardian")))
		goto out;
	out->is_broker = strcmp(s, "broker") == 0;
	out->is_guardian = strcmp(s, "guardian") == 0;
	out->has_box = !out->is_broker && !out->is_guardian;
	s = json_string_value(json_object_get(o, "id"));
	if (s == NULL || !id_ok(s, out->is_broker))
		goto out;
	snprintf(out->id, sizeof(out->id), "%s", s);
	if (b64_get(o, "sign", out->sign_pk, sizeof(out->sign_pk)) != 0)
		goto out;
	if (out->is_guardian ? json_object_get(o, "transport") != NULL
	                     : b64_get(o, "transport", out->transport_pk,
	                           sizeof(out->transport_pk)) != 0)
		goto out;
	if (out->has_box &&
	    b64_get(o, "box", out->box_pk, sizeof(out->box_pk)) != 0)
		goto out;
	if (!out->has_box && json_object_get(o, "box") != NULL)
		goto out;
	s = json_string_value(json_object_get(o, "fingerprint"));
	keys_fingerprint(out);
	/* A fingerprint that does not match the keys means an edited file. */
	if (s == NULL || strcmp(s, out->fingerprint) != 0)
		goto out;
	rc = ERROR_OK;
out:
	json_decref(o);
	free(buf);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
