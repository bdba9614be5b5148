/*
 * The harness's guardians and signed agreements (harness.h): guardian keys
 * made with `concordat keys generate --guardian`, agreements signed with
 * `concordat policy sign` as each agency's guardian does, and the
 * agreements a test wants refused: a guardian missing, a key the keyring
 * does not hold, a byte changed after signing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_int.h"

void
h_guardian_new(struct h_sys *s, const char *id, bool in_ring)
{
	const char *dir =
	    in_ring ? h_p("%s/keys", s->dir) : h_p("%s/rogue", s->dir);
	const char *gen[] = {s->cli, "keys", "generate", "--guardian",
	    "--agency", id, "--out", dir, NULL};

	assert_int_equal(h_run(s, h_p("%s/cli.out", s->dir), NULL, gen), 0);
	if (!in_ring)
		return;
	size_t len;
	char *pub = scratch_read(h_p("%s/%s.guardian.pub", dir, id), &len);
	scratch_spit(
	    h_p("%s/ring/%s.guardian.pub", s->dir, id), pub, len, 0644);
	free(pub);
	assert_true(s->n_guardians < H_MAX_GUARDIANS);
	harness_fmt(
	    s->guardians[s->n_guardians++], sizeof(s->guardians[0]), "%s", id);
}

/*
 * `concordat policy sign path --key keyfile`: its exit status. No h_p
 * here nor in what calls it from h_broker_start and h_broker_reload: a
 * test may hold an h_p path across those.
 */
static int
sign_one(struct h_sys *s, const char *path, const char *keyfile, bool *party)
{
	char err[PATH_MAX], out[PATH_MAX];
	harness_fmt(err, sizeof(err), "%s/sign.err", s->dir);
	harness_fmt(out, sizeof(out), "%s/cli.out", s->dir);
	const char *argv[] = {
	    s->cli, "policy", "sign", path, "--key", keyfile, NULL};
	int rc = h_run(s, out, err, argv);

	*party = true;
	if (rc == 65) {
		char *text = scratch_slurp(err, NULL);
		*party = text == NULL || strstr(text, "is not a party") == NULL;
		free(text);
	}
	return rc;
}

unsigned
h_agreement_sign(struct h_sys *s, const char *path, unsigned mask)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->n_guardians; i++) {
		char key[PATH_MAX];
		bool party;
		if (!(mask & (1u << i)))
			continue;
		harness_fmt(key, sizeof(key), "%s/keys/%s.guardian.key", s->dir,
		    s->guardians[i]);
		int rc = sign_one(s, path, key, &party);
		/* A guardian of no party, or a file with errors, is not
		 * signed: the broker says why it refuses the latter. */
		if (rc == 0)
			n++;
		else if (party && rc != 78)
			fail_msg("policy sign %s as %s's guardian: exit %d",
			    path, s->guardians[i], rc);
	}
	return n;
}

void
h_agreement_sign_key(struct h_sys *s, const char *path, const char *keyfile)
{
	bool party;

	assert_int_equal(sign_one(s, path, keyfile, &party), 0);
}

void
h_agreement_write(struct h_sys *s, const char *path, const char *text,
    unsigned mask, const char *tamper)
{
	scratch_write(path, text, 0644);
	/* A fresh note: no earlier signature of the same text survives. */
	if (unlink(h_p("%s.sig", path)) != 0 && errno != ENOENT)
		fail_msg("cannot remove %s.sig: %s", path, strerror(errno));
	h_agreement_sign(s, path, mask);
	if (tamper == NULL)
		return;
	/* One byte of the YAML changed after signing: the first byte of
	 * tamper's first occurrence gets its case flipped. */
	char *t = scratch_read(path, NULL);
	char *hit = strstr(t, tamper);
	if (hit != NULL)
		*hit ^= 0x20;
	else
		fail_msg("'%s' is not in %s", tamper, path);
	scratch_write(path, t, 0644);
	free(t);
}

void
h_broker_reload(struct h_sys *s)
{
	if (!s->no_auto_sign)
		h_agreement_sign(s, s->policy, H_ALL_GUARDIANS);
	assert_true(s->broker.pid > 0);
	assert_int_equal(kill(s->broker.pid, SIGHUP), 0);
}

int
h_broker_refused(struct h_sys *s, const char *log)
{
	const char *argv[] = {s->broker_bin, "-c", s->broker_yaml, "-f", NULL};

	return h_run_for(s, NULL, log, argv, H_WAIT_MS);
}
