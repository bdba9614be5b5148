/*
 * Unit tests of keys/: key generation and permission-checked loading, the
 * public identity files and the keyring, the subject pepper, NHS number
 * validation and subject_ref (DESIGN.md §4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "keys/keys.h"
#include "tests/lib/scratch.h"
#include "tests/unit/testutil.h"

/* Secret key file layout (keys/keys.c): magic 8 | role 1 | id 32 |
 * sign 64 | box 32 | curve 32 | BLAKE2b-128 check 16. */
#define SK_LEN   (8 + 1 + 32 + 64 + 32 + 32 + 16)
#define SK_ROLE  8
#define SK_ID    9
#define SK_SIGN  (SK_ID + 32)
#define SK_CHECK (SK_LEN - 16)

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	umask(022);
	scratch_dir_in(dir, sizeof(dir), "unit");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	scratch_rmrf(dir);
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static size_t
count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

static void
gen(const char *id)
{
	assert_int_equal(keys_generate(id, dir), 0);
}

static char *
file_of(const char *id, const char *ext)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s.%s", dir, id, ext);
	return buf;
}

/* ----------------------------------------------------- generate, load */

static void
test_generate_load_roundtrip(void **state)
{
	struct keys_secret *s = NULL;
	struct keys_public p;
	struct stat st;
	uint8_t sig[64], pk[32], shared1[32], shared2[32];
	static const uint8_t msg[] = "manifest";

	(void)state;
	gen("police");
	assert_int_equal(stat(file_of("police", "key"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SK_LEN);
	assert_int_equal(stat(file_of("police", "pub"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(dir), 2); /* no temporaries left */

	assert_int_equal(keys_load_secret(file_of("police", "key"), &s), 0);
	assert_int_equal(keys_load_public(file_of("police", "pub"), &p), 0);
	assert_string_equal(s->pub.id, "police");
	assert_false(s->pub.is_broker);
	assert_true(s->pub.has_box);
	/* The public file is the secret's public half, fingerprint too. */
	assert_memory_equal(&s->pub, &p, sizeof(p));
	assert_int_equal(strlen(p.fingerprint), KEYS_FINGERPRINT - 1);
	/* The keys work: a signature verifies, the box keys agree. */
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), s->sign_sk);
	assert_int_equal(
	    crypto_sign_verify_detached(sig, msg, sizeof(msg), p.sign_pk), 0);
	crypto_scalarmult_base(pk, s->box_sk);
	assert_memory_equal(pk, p.box_pk, 32);
	crypto_scalarmult_base(pk, s->transport_sk);
	assert_memory_equal(pk, p.transport_pk, 32);
	/* Different agencies, different keys. */
	gen("ambulance");
	struct keys_secret *a = NULL;
	assert_int_equal(keys_load_secret(file_of("ambulance", "key"), &a), 0);
	assert_memory_not_equal(a->sign_sk, s->sign_sk, 64);
	assert_string_not_equal(a->pub.fingerprint, s->pub.fingerprint);
	assert_int_equal(
	    crypto_box_beforenm(shared1, a->pub.box_pk, s->box_sk), 0);
	assert_int_equal(
	    crypto_box_beforenm(shared2, s->pub.box_pk, a->box_sk), 0);
	assert_memory_equal(shared1, shared2, 32);
	keys_secret_free(a);
	keys_secret_free(s);
	keys_secret_free(NULL);
}

static void
test_generate_broker(void **state)
{
	struct keys_secret *s = NULL;
	struct keys_public p;
	size_t n;
	char *text;

	(void)state;
	assert_int_equal(keys_generate(NULL, dir), 0);
	assert_int_equal(keys_load_secret(file_of("broker", "key"), &s), 0);
	assert_true(s->pub.is_broker);
	assert_false(s->pub.has_box);
	assert_string_equal(s->pub.id, "broker");
	assert_int_equal(keys_load_public(file_of("broker", "pub"), &p), 0);
	assert_memory_equal(&s->pub, &p, sizeof(p));
	text = (char *)scratch_read(file_of("broker", "pub"), &n);
	assert_null(strstr(text, "\"box\""));
	assert_non_null(strstr(text, "\"role\": \"broker\""));
	free(text);
	keys_secret_free(s);
}

/* The longest agency id, 32 characters, fills the id field of the key
 * file with no NUL: it must still load (it once did not). */
static void
test_generate_longest_id(void **state)
{
	static const char id[] = "abcdefghijklmnopqrstuvwxyz_01234";
	struct keys_secret *s = NULL;
	struct keys_public p;

	(void)state;
	assert_int_equal(strlen(id), IDENT_AGENCY_MAX);
	gen(id);
	assert_int_equal(keys_load_secret(file_of(id, "key"), &s), 0);
	assert_string_equal(s->pub.id, id);
	assert_int_equal(keys_load_public(file_of(id, "pub"), &p), 0);
	assert_memory_equal(&s->pub, &p, sizeof(p));
	keys_secret_free(s);
}

static void
test_generate_twice_refused(void **state)
{
	uint8_t *k1, *p1, *k2, *p2;
	size_t k1n, p1n, k2n, p2n;
	struct stat st1, st2;

	(void)state;
	gen("police");
	k1 = scratch_read(file_of("police", "key"), &k1n);
	p1 = scratch_read(file_of("police", "pub"), &p1n);
	assert_int_equal(stat(file_of("police", "key"), &st1), 0);
	assert_int_equal(keys_generate("police", dir), ERROR_EXISTS);
	/* Untouched: same bytes, same inode, nothing left behind. */
	k2 = scratch_read(file_of("police", "key"), &k2n);
	p2 = scratch_read(file_of("police", "pub"), &p2n);
	assert_int_equal(stat(file_of("police", "key"), &st2), 0);
	assert_int_equal(k1n, k2n);
	assert_memory_equal(k1, k2, k1n);
	assert_int_equal(p1n, p2n);
	assert_memory_equal(p1, p2, p1n);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_mtime, st2.st_mtime);
	assert_int_equal(count_entries(dir), 2);
	free(k1);
	free(p1);
	free(k2);
	free(p2);

	/* A .pub alone in the way: refused, and no secret left without its
	 * public half. */
	scratch_spit(file_of("fire", "pub"), "{}\n", 3, 0644);
	assert_int_equal(keys_generate("fire", dir), ERROR_EXISTS);
	assert_int_equal(access(file_of("fire", "key"), F_OK), -1);
	assert_int_equal(count_entries(dir), 3);
	/* The broker likewise. */
	assert_int_equal(keys_generate(NULL, dir), 0);
	assert_int_equal(keys_generate(NULL, dir), ERROR_EXISTS);
}

static void
test_generate_invalid_id(void **state)
{
	static const char *const bad[] = {"Police", "../x", "a b", "",
	    "abcdefghijklmnopqrstuvwxyz_012345", "1police", "_x", "a-b",
	    "police/../../etc", "police\n", "polic\xc3\xa9", "broker"};
	char sub[128];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/not-yet", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(keys_generate(bad[i], sub), ERROR_INVAL);
		/* Refused before anything is created, the folder included. */
		assert_int_equal(access(sub, F_OK), -1);
	}
	assert_int_equal(count_entries(dir), 0);
}

static void
test_secret_permissions(void **state)
{
	static const unsigned modes[] = {
	    0644, 0640, 0604, 0660, 0606, 0601, 0610, 0700 | 0040, 0777};
	struct keys_secret *s = (struct keys_secret *)&s;

	(void)state;
	gen("police");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(file_of("police", "key"), modes[i]), 0);
		assert_int_equal(
		    keys_load_secret(file_of("police", "key"), &s), ERROR_PERM);
		assert_null(s);
	}
	/* Owner-only modes load. */
	assert_int_equal(chmod(file_of("police", "key"), 0400), 0);
	assert_int_equal(keys_load_secret(file_of("police", "key"), &s), 0);
	keys_secret_free(s);
	assert_int_equal(chmod(file_of("police", "key"), 0600), 0);
	assert_int_equal(keys_load_secret(file_of("police", "key"), &s), 0);
	keys_secret_free(s);
	/* Missing. */
	assert_int_equal(
	    keys_load_secret(file_of("nobody", "key"), &s), ERROR_NOENT);
}

static void
test_secret_symlink_and_odd_files(void **state)
{
	struct keys_secret *s = NULL;
	char link[256], sub[256];

	(void)state;
	gen("police");
	snprintf(link, sizeof(link), "%s/link.key", dir);
	assert_int_equal(symlink(file_of("police", "key"), link), 0);
	assert_int_equal(keys_load_secret(link, &s), ERROR_PERM);
	assert_null(s);
	/* A folder is not a key. */
	snprintf(sub, sizeof(sub), "%s/folder.key", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_not_equal(keys_load_secret(sub, &s), 0);
	assert_null(s);
}

/* Writes a copy of police.key, changed by the caller, as bad.key. */
static int
load_changed(const uint8_t *k, size_t n)
{
	struct keys_secret *s = (struct keys_secret *)&s;
	char path[256];
	int rc;

	snprintf(path, sizeof(path), "%s/bad.key", dir);
	unlink(path);
	scratch_spit(path, k, n, 0600);
	rc = keys_load_secret(path, &s);
	if (rc != 0)
		assert_null(s);
	keys_secret_free(s);
	return rc;
}

static void
fix_check(uint8_t *k)
{
	crypto_generichash(k + SK_CHECK, 16, k, SK_CHECK, NULL, 0);
}

static void
test_secret_corrupt(void **state)
{
	uint8_t *k, *c;
	size_t n;

	(void)state;
	gen("police");
	k = scratch_read(file_of("police", "key"), &n);
	assert_int_equal(n, SK_LEN);
	assert_int_equal(load_changed(k, n), 0);
	/* Truncated, extended, empty. */
	assert_int_equal(load_changed(k, n - 1), ERROR_KEY);
	assert_int_equal(load_changed(k, 8), ERROR_KEY);
	assert_int_equal(load_changed(k, 0), ERROR_KEY);
	c = malloc(n + 1);
	memcpy(c, k, n);
	c[n] = '\n';
	assert_int_equal(load_changed(c, n + 1), ERROR_KEY);
	/* Any one byte changed: the checksum catches it. */
	for (size_t i = 0; i < n; i++) {
		memcpy(c, k, n);
		c[i] ^= 0x01;
		assert_int_equal(load_changed(c, n), ERROR_KEY);
	}
	/* With a matching checksum: a bad magic, role, or id. */
	memcpy(c, k, n);
	c[0] = 'X';
	fix_check(c);
	assert_int_equal(load_changed(c, n), ERROR_KEY);
	memcpy(c, k, n);
	c[SK_ROLE] = 3;
	fix_check(c);
	assert_int_equal(load_changed(c, n), ERROR_KEY);
	memcpy(c, k, n);
	c[SK_ROLE] = 2; /* a broker named police */
	fix_check(c);
	assert_int_equal(load_changed(c, n), ERROR_KEY);
	memcpy(c, k, n);
	memcpy(c + SK_ID, "../x", 5);
	fix_check(c);
	assert_int_equal(load_changed(c, n), ERROR_KEY);
	memcpy(c, k, n);
	memset(c + SK_ID, 0, 32);
	fix_check(c);
	assert_int_equal(load_changed(c, n), ERROR_KEY);
	/* Bytes after the id's NUL. */
	memcpy(c, k, n);
	c[SK_ID + 20] = 'x';
	fix_check(c);
	assert_int_equal(load_changed(c, n), ERROR_KEY);
	free(c);
	free(k);
}

/* ------------------------------------------------------- public files */

/* Rewrites police.pub after change(o), as path; loads it. */
static int
load_pub_changed(void (*change)(json_t *), struct keys_public *p)
{
	json_error_t err;
	json_t *o = json_load_file(file_of("police", "pub"), 0, &err);
	char path[256];
	int rc;

	assert_non_null(o);
	change(o);
	snprintf(path, sizeof(path), "%s/changed.pub", dir);
	assert_int_equal(json_dump_file(o, path, 0), 0);
	json_decref(o);
	rc = keys_load_public(path, p);
	if (rc != 0) {
		struct keys_public zero;
		memset(&zero, 0, sizeof(zero));
		assert_memory_equal(p, &zero, sizeof(zero));
	}
	return rc;
}

static void
swap_sign(json_t *o)
{
	uint8_t pk[32], sk[64];
	char b64[64];

	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(
	    b64, sizeof(b64), pk, 32, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(o, "sign", json_string(b64));
}

static void
swap_transport(json_t *o)
{
	uint8_t pk[32] = {9};
	char b64[64];

	sodium_bin2base64(
	    b64, sizeof(b64), pk, 32, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(o, "transport", json_string(b64));
}

static void
change_fingerprint(json_t *o)
{
	char fp[64];

	snprintf(fp, sizeof(fp), "%s",
	    json_string_value(json_object_get(o, "fingerprint")));
	fp[0] = fp[0] == '0' ? '1' : '0';
	json_object_set_new(o, "fingerprint", json_string(fp));
}

static void
change_id(json_t *o)
{
	json_object_set_new(o, "id", json_string("ambulance"));
}

static void
bad_id(json_t *o)
{
	json_object_set_new(o, "id", json_string("../police"));
}

static void
extra_key(json_t *o)
{
	json_object_set_new(o, "comment", json_string("hello"));
}

static void
drop_box(json_t *o)
{
	json_object_del(o, "box");
}

static void
short_key(json_t *o)
{
	json_object_set_new(o, "box", json_string("AAAA"));
}

static void
bad_version(json_t *o)
{
	json_object_set_new(o, "concordat", json_string("identity/v2"));
}

static void
as_broker(json_t *o)
{
	json_object_set_new(o, "role", json_string("broker"));
}

/* Renames the identity and signs it again with a matching fingerprint,
 * so that only the id can be wrong. */
static void
rename_to(json_t *o, const char *id)
{
	struct keys_public q;
	static const char *const k[] = {"sign", "box", "transport"};
	uint8_t *dst[] = {q.sign_pk, q.box_pk, q.transport_pk};

	memset(&q, 0, sizeof(q));
	snprintf(q.id, sizeof(q.id), "%s", id);
	q.has_box = true;
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		    sodium_base642bin(dst[i], 32,
		        json_string_value(json_object_get(o, k[i])), 44, NULL,
		        NULL, NULL, sodium_base64_VARIANT_ORIGINAL),
		    0);
	keys_fingerprint(&q);
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "fingerprint", json_string(q.fingerprint));
}

static void
renamed_fire(json_t *o)
{
	rename_to(o, "fire");
}

static void
renamed_broker(json_t *o)
{
	rename_to(o, "broker");
}

static void
nothing(json_t *o)
{
	(void)o;
}

static void
test_public_tampered(void **state)
{
	struct keys_public p;

	(void)state;
	gen("police");
	assert_int_equal(load_pub_changed(nothing, &p), 0);
	assert_string_equal(p.id, "police");
	/* A changed key no longer matches the fingerprint. */
	assert_int_equal(load_pub_changed(swap_sign, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(swap_transport, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(change_fingerprint, &p), ERROR_KEY);
	/* The id is under the fingerprint too. */
	assert_int_equal(load_pub_changed(change_id, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(bad_id, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(extra_key, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(drop_box, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(short_key, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(bad_version, &p), ERROR_KEY);
	assert_int_equal(load_pub_changed(as_broker, &p), ERROR_KEY);
	/* Renamed with a fingerprint to match: loads, unless it names an
	 * agency "broker". */
	assert_int_equal(load_pub_changed(renamed_fire, &p), 0);
	assert_string_equal(p.id, "fire");
	assert_int_equal(load_pub_changed(renamed_broker, &p), ERROR_KEY);
	/* Not JSON; too big; missing. */
	scratch_spit(file_of("junk", "pub"), "police", 6, 0644);
	assert_int_equal(
	    keys_load_public(file_of("junk", "pub"), &p), ERROR_KEY);
	{
		char *big = malloc(KEYS_MAX_FILE + 1);
		memset(big, ' ', KEYS_MAX_FILE + 1);
		scratch_spit(
		    file_of("big", "pub"), big, KEYS_MAX_FILE + 1, 0644);
		free(big);
		assert_int_equal(
		    keys_load_public(file_of("big", "pub"), &p), ERROR_TOOBIG);
	}
	assert_int_equal(
	    keys_load_public(file_of("nobody", "pub"), &p), ERROR_NOENT);
}

/* ------------------------------------------------------------ keyring */

static void
test_keyring(void **state)
{
	struct keyring *kr = NULL;
	struct keys_public p;
	char err[512] = "";

	(void)state;
	gen("police");
	gen("ambulance");
	gen("mental_health_trust");
	assert_int_equal(keys_generate(NULL, dir), 0);
	/* Other files are not identities. */
	scratch_spit(tu_path(dir, "README"), "x", 1, 0644);
	scratch_spit(tu_path(dir, ".hidden.pub"), "x", 1, 0644);
	scratch_spit(tu_path(dir, ".pub"), "x", 1, 0644);
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), 0);
	/* broker.pub is skipped: not an agency. */
	assert_int_equal(keyring_count(kr), 3);
	assert_null(keyring_find(kr, "broker"));
	assert_null(keyring_find(kr, "fire"));
	const struct keys_public *pol = keyring_find(kr, "police");
	assert_non_null(pol);
	assert_int_equal(keys_load_public(file_of("police", "pub"), &p), 0);
	assert_memory_equal(pol, &p, sizeof(p));
	assert_ptr_equal(keyring_find_transport(kr, p.transport_pk), pol);
	uint8_t other[32] = {0};
	assert_null(keyring_find_transport(kr, other));
	for (size_t i = 0; i < keyring_count(kr); i++)
		assert_non_null(keyring_at(kr, i));
	assert_null(keyring_at(kr, 3));
	keyring_free(kr);
	keyring_free(NULL);
}

static void
test_keyring_refusals(void **state)
{
	struct keyring *kr = (struct keyring *)&kr;
	char err[512] = "", sub[256];
	uint8_t *t;
	size_t n;

	(void)state;
	/* Missing folder. */
	snprintf(sub, sizeof(sub), "%s/none", dir);
	assert_int_equal(keyring_load(sub, &kr, err, sizeof(err)), ERROR_NOENT);
	assert_null(kr);
	assert_non_null(strstr(err, sub));

	/* A file whose name is not the id it holds. */
	gen("police");
	t = scratch_read(file_of("police", "pub"), &n);
	scratch_spit(file_of("fire", "pub"), t, n, 0644);
	err[0] = '\0';
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), ERROR_KEY);
	assert_null(kr);
	assert_non_null(strstr(err, "fire.pub"));
	assert_non_null(strstr(err, "'police'"));
	unlink(file_of("fire", "pub"));

	/* Two identities with one transport key. */
	{
		json_error_t je;
		json_t *o = json_loadb((const char *)t, n, 0, &je);
		struct keys_public q;
		assert_non_null(o);
		memset(&q, 0, sizeof(q));
		snprintf(q.id, sizeof(q.id), "fire");
		q.has_box = true;
		randombytes_buf(q.sign_pk, 32);
		randombytes_buf(q.box_pk, 32);
		assert_int_equal(
		    sodium_base642bin(q.transport_pk, 32,
		        json_string_value(json_object_get(o, "transport")), 44,
		        NULL, NULL, NULL, sodium_base64_VARIANT_ORIGINAL),
		    0);
		keys_fingerprint(&q);
		char b64[64];
		json_object_set_new(o, "id", json_string("fire"));
		sodium_bin2base64(b64, sizeof(b64), q.sign_pk, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(o, "sign", json_string(b64));
		sodium_bin2base64(b64, sizeof(b64), q.box_pk, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(o, "box", json_string(b64));
		json_object_set_new(
		    o, "fingerprint", json_string(q.fingerprint));
		assert_int_equal(
		    json_dump_file(o, file_of("fire", "pub"), 0), 0);
		json_decref(o);
		/* The file on its own is a valid identity... */
		assert_int_equal(
		    keys_load_public(file_of("fire", "pub"), &q), 0);
		/* ...but not beside police's. */
		err[0] = '\0';
		assert_int_equal(
		    keyring_load(dir, &kr, err, sizeof(err)), ERROR_KEY);
		assert_null(kr);
		assert_non_null(strstr(err, "same transport key"));
		unlink(file_of("fire", "pub"));
	}
	/* One bad file spoils the folder, and is named. */
	scratch_spit(file_of("ambulance", "pub"), "{", 1, 0644);
	err[0] = '\0';
	assert_int_equal(keyring_load(dir, &kr, err, sizeof(err)), ERROR_KEY);
	assert_non_null(strstr(err, "ambulance.pub"));
	unlink(file_of("ambulance", "pub"));
	assert_int_equal(keyring_load(dir, &kr, NULL, 0), 0);
	assert_int_equal(keyring_count(kr), 1);
	keyring_free(kr);
	free(t);
}

/* ------------------------------------------------------------- pepper */

static void
test_pepper(void **state)
{
	uint8_t *p1 = NULL, *p2 = NULL, *c;
	char path[256], path2[256];
	struct stat st;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/pepper", dir);
	snprintf(path2, sizeof(path2), "%s/pepper2", dir);
	assert_int_equal(keys_pepper_generate(path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(keys_pepper_load(path, &p1), 0);
	assert_non_null(p1);
	/* The file is the hex of the pepper and a newline. */
	c = scratch_read(path, &n);
	char hex[65];
	sodium_bin2hex(hex, sizeof(hex), p1, KEYS_PEPPER_LEN);
	assert_memory_equal(c, hex, 64);
	assert_int_equal(c[64], '\n');
	/* Never overwritten. */
	assert_int_equal(keys_pepper_generate(path), ERROR_EXISTS);
	assert_int_equal(keys_pepper_load(path, &p2), 0);
	assert_memory_equal(p1, p2, KEYS_PEPPER_LEN);
	keys_pepper_free(p2);
	p2 = NULL;
	/* Two peppers differ. */
	assert_int_equal(keys_pepper_generate(path2), 0);
	assert_int_equal(keys_pepper_load(path2, &p2), 0);
	assert_memory_not_equal(p1, p2, KEYS_PEPPER_LEN);
	keys_pepper_free(p2);
	p2 = (uint8_t *)&p2;

	/* Permissions, as for a secret key. */
	static const unsigned modes[] = {0644, 0640, 0604};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(chmod(path, modes[i]), 0);
		assert_int_equal(keys_pepper_load(path, &p2), ERROR_PERM);
		assert_null(p2);
	}
	assert_int_equal(chmod(path, 0600), 0);
	char link[256];
	snprintf(link, sizeof(link), "%s/pepper.link", dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(keys_pepper_load(link, &p2), ERROR_PERM);

	/* Malformed: not hex, no newline, short, long. */
	char bad[256];
	snprintf(bad, sizeof(bad), "%s/bad", dir);
	c[10] = 'g';
	scratch_spit(bad, c, 65, 0600);
	assert_int_equal(keys_pepper_load(bad, &p2), ERROR_KEY);
	c[10] = hex[10];
	c[64] = ' ';
	scratch_spit(bad, c, 65, 0600);
	assert_int_equal(keys_pepper_load(bad, &p2), ERROR_KEY);
	c[64] = '\n';
	scratch_spit(bad, c, 64, 0600);
	assert_int_equal(keys_pepper_load(bad, &p2), ERROR_KEY);
	scratch_spit(bad, c, 65, 0600);
	assert_int_equal(keys_pepper_load(bad, &p2), 0);
	keys_pepper_free(p2);
	assert_int_equal(
	    keys_pepper_load(tu_path(dir, "none"), &p2), ERROR_NOENT);
	/* A path that is a folder name only. */
	assert_int_equal(keys_pepper_generate(tu_path(dir, "")), ERROR_INVAL);
	free(c);
	keys_pepper_free(p1);
	keys_pepper_free(NULL);
}

/* ---------------------------------------------------------------- NHS */

/* The modulus-11 check digit of nine digits, or 10 (no valid number). */
static int
nhs_check(const char *nine)
{
	int sum = 0;

	for (int i = 0; i < 9; i++)
		sum += (nine[i] - '0') * (10 - i);
	int c = 11 - sum % 11;
	return c == 11 ? 0 : c;
}

static void
test_nhs_numbers(void **state)
{
	static const char *const valid[] = {"9434765919", "4010232137",
	    "943 476 5919", "401 023 2137", "9434765870"};
	static const char *const invalid[] = {"9434765918", "4010232138",
	    "943476591", "94347659190", "943476591a", "", "          ",
	    " 9434765919", "9434765919 ", "943  476 5919", "943-476-5919",
	    "+9434765919", "９434765919", "943\t476\t5919", "94347659 9"};

	(void)state;
	assert_int_equal(nhs_check("943476591"), 9);
	assert_int_equal(nhs_check("943476587"), 0);
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		if (!keys_nhs_valid(valid[i]))
			fail_msg("'%s' refused", valid[i]);
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (keys_nhs_valid(invalid[i]))
			fail_msg("'%s' accepted", invalid[i]);
	assert_false(keys_nhs_valid(NULL));

	/* Exactly one check digit per nine digits is valid, none when the
	 * check computes to 10. */
	tu_seed(11);
	int saw_ten = 0;
	for (int iter = 0; iter < 2000; iter++) {
		char n[11];
		for (int i = 0; i < 9; i++)
			n[i] = (char)('0' + tu_below(10));
		n[10] = '\0';
		int c = nhs_check(n), ok = 0;
		for (int d = 0; d < 10; d++) {
			n[9] = (char)('0' + d);
			if (keys_nhs_valid(n)) {
				ok++;
				assert_int_equal(d, c);
			}
		}
		if (c == 10) {
			saw_ten++;
			assert_int_equal(ok, 0);
		} else {
			assert_int_equal(ok, 1);
		}
	}
	assert_true(saw_ten > 0);
	/* One such number spelt out: 100000001 weighs 10 + 2 = 12, 1 mod
	 * 11, so its check digit would be 10. */
	assert_int_equal(nhs_check("100000001"), 10);
	for (int d = 0; d < 10; d++) {
		char n[11] = "100000001";
		n[9] = (char)('0' + d);
		n[10] = '\0';
		assert_false(keys_nhs_valid(n));
	}
}

/* -------------------------------------------------------- subject_ref */

static void
test_subject_ref_nhs(void **state)
{
	uint8_t pep1[32], pep2[32], a[32], b[32], want[32];

	(void)state;
	randombytes_buf(pep1, 32);
	randombytes_buf(pep2, 32);
	assert_int_equal(keys_subject_ref_nhs(pep1, "9434765919", a), 0);
	assert_int_equal(keys_subject_ref_nhs(pep1, "9434765919", b), 0);
	assert_memory_equal(a, b, 32);
	/* BLAKE2b-256 keyed by the pepper over the ten digits. */
	crypto_generichash(
	    want, 32, (const uint8_t *)"9434765919", 10, pep1, 32);
	assert_memory_equal(a, want, 32);
	/* Spacing does not change the person. */
	assert_int_equal(keys_subject_ref_nhs(pep1, "943 476 5919", b), 0);
	assert_memory_equal(a, b, 32);
	/* Another pepper, another ref; another person, another ref. */
	assert_int_equal(keys_subject_ref_nhs(pep2, "9434765919", b), 0);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(keys_subject_ref_nhs(pep1, "4010232137", b), 0);
	assert_memory_not_equal(a, b, 32);
	/* Invalid numbers are refused. */
	assert_int_equal(
	    keys_subject_ref_nhs(pep1, "9434765918", b), ERROR_INVAL);
	assert_int_equal(keys_subject_ref_nhs(pep1, "123", b), ERROR_INVAL);
}

static void
name_ref(const uint8_t *pep, const char *s, const char *f, const char *d,
    uint8_t out[32])
{
	int rc = keys_subject_ref_name(pep, s, f, d, out);

	if (rc != 0)
		fail_msg("'%s|%s|%s': %s", s, f, d, error_strerror(rc));
}

static void
test_subject_ref_name(void **state)
{
	uint8_t pep[32], pep2[32], a[32], b[32], want[32];
	static const char norm[] = "smith|john paul|1980-01-02";

	(void)state;
	randombytes_buf(pep, 32);
	randombytes_buf(pep2, 32);
	crypto_generichash(
	    want, 32, (const uint8_t *)norm, strlen(norm), pep, 32);
	name_ref(pep, "smith", "john paul", "1980-01-02", a);
	assert_memory_equal(a, want, 32);
	/* Trimmed, inner runs collapsed, ASCII lower-cased. */
	name_ref(pep, "  SMITH ", "John   Paul", "1980-01-02", b);
	assert_memory_equal(b, want, 32);
	name_ref(pep, "\tSmith\n", " john\t \tpaul\r\n", "1980-01-02", b);
	assert_memory_equal(b, want, 32);
	/* Inner space is kept (as one). */
	name_ref(pep, "smith", "johnpaul", "1980-01-02", b);
	assert_memory_not_equal(b, want, 32);
	/* Another pepper, another ref. */
	name_ref(pep2, "smith", "john paul", "1980-01-02", b);
	assert_memory_not_equal(b, want, 32);
	/* Other bytes are kept as given: UTF-8 is not case-folded. */
	{
		static const char upper[] = "\xc5\xbb"
		                            "ab"; /* Żab */
		static const char lower[] = "\xc5\xbc"
		                            "ab"; /* żab */
		static const char normu[] = "\xc5\xbb"
		                            "ab|\xc3\x89mile|2000-02-29";
		name_ref(pep, upper, "\xc3\x89mile", "2000-02-29", a);
		name_ref(pep, lower, "\xc3\x89mile", "2000-02-29", b);
		assert_memory_not_equal(a, b, 32);
		crypto_generichash(
		    want, 32, (const uint8_t *)normu, strlen(normu), pep, 32);
		assert_memory_equal(a, want, 32);
		name_ref(pep,
		    "\xc5\xbb"
		    "AB",
		    " \xc3\x89MILE", "2000-02-29", b);
		assert_memory_equal(a, b, 32);
	}
	/* Dates: valid ones, and ones that are not. */
	name_ref(pep, "a", "b", "2024-02-29", a);
	name_ref(pep, "a", "b", "1900-12-31", a);
	static const char *const bad_dates[] = {"2023-02-29", "2023-02-30",
	    "2023-04-31", "2023-13-01", "2023-00-10", "2023-01-00", "2023-1-01",
	    "2023-01-1", "23-01-01", "2023/01/01", "2023-01-01x", "2023-01-01 ",
	    "", "1900-02-29", "yesterday", "2023-01-01T00:00"};
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		if (keys_subject_ref_name(pep, "a", "b", bad_dates[i], a) !=
		    ERROR_INVAL)
			fail_msg("date '%s' accepted", bad_dates[i]);
	}
	/* Empty parts and the separator are refused. */
	assert_int_equal(
	    keys_subject_ref_name(pep, "", "b", "2000-01-01", a), ERROR_INVAL);
	assert_int_equal(
	    keys_subject_ref_name(pep, "   ", "b", "2000-01-01", a),
	    ERROR_INVAL);
	assert_int_equal(keys_subject_ref_name(pep, "a", "\t", "2000-01-01", a),
	    ERROR_INVAL);
	assert_int_equal(
	    keys_subject_ref_name(pep, "a|b", "c", "2000-01-01", a),
	    ERROR_INVAL);
	assert_int_equal(
	    keys_subject_ref_name(pep, "a", "b|c", "2000-01-01", a),
	    ERROR_INVAL);
	assert_int_equal(keys_subject_ref_name(pep, NULL, "b", "2000-01-01", a),
	    ERROR_INVAL);
	/* Very long names are refused, not cut. */
	{
		char *longname = malloc(2000);
		memset(longname, 'x', 1999);
		longname[1999] = '\0';
		assert_int_equal(
		    keys_subject_ref_name(pep, longname, "b", "2000-01-01", a),
		    ERROR_TOOBIG);
		free(longname);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_generate_load_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_generate_broker, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_generate_longest_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_generate_twice_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_generate_invalid_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_secret_permissions, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_secret_symlink_and_odd_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_secret_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_public_tampered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyring, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_keyring_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pepper, setup, teardown),
	    cmocka_unit_test(test_nhs_numbers),
	    cmocka_unit_test(test_subject_ref_nhs),
	    cmocka_unit_test(test_subject_ref_name),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
