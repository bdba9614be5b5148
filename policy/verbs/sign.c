/*
 * `concordat policy sign FILE --key GUARDIAN.key`: a guardian signs the
 * agreement, adding (or replacing) its line in FILE.sig, which is created
 * when missing and written atomically.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/cli.h"
#include "common/fileio.h"
#include "keys/agreement.h"
#include "keys/keys.h"
#include "policy/verbs/policy_verbs.h"

static int
load_key(const char *path, struct keys_secret **g)
{
	int rc = keys_load_guardian(path, g);

	if (rc == ERROR_PERM)
		return cli_fail(EX_NOPERM,
		    "policy sign: %s: refused: a secret key must be a regular "
		    "file of mode 0600 owned by you, not a symlink",
		    path);
	if (rc == ERROR_KEY)
		return cli_fail(EX_DATAERR,
		    "policy sign: %s: not a guardian key (make one with "
		    "`concordat keys generate --guardian --agency ID`)",
		    path);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "policy sign: %s: %s", path,
		    error_strerror(rc));
	return EX_OK;
}

/* Writes note as path (FILE.sig) atomically, beside FILE. */
static int
write_note(const char *path, const char *note, size_t len)
{
	char *d = strdup(path), *b = strdup(path);
	int rc = ERROR_NOMEM;

	if (d != NULL && b != NULL)
		rc = fileio_write_atomic(
		    dirname(d), basename(b), note, len, 0644, 0);
	free(d);
	free(b);
	return rc;
}

/* The signature lines of a note written by agreement_note_sign. */
static size_t
count_lines(const char *note)
{
	size_t n = 0;

	for (const char *p = note; (p = strstr(p, "\n\xE2\x80\x94 ")) != NULL;
	     p++)
		n++;
	return n;
}

int
policy_verb_sign(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct policy_verbs_signed s = {0};
	struct keys_secret *g = NULL;
	const char *key = NULL;
	char *out = NULL;
	size_t out_len, dropped = 0, n;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "k:h", opts)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'h':
			return policy_verbs_usage(stdout, EX_OK);
		default:
			return policy_verbs_usage(stderr, EX_USAGE);
		}
	}
	if (argc - optind != 1 || key == NULL)
		return policy_verbs_usage(stderr, EX_USAGE);
	if ((rc = load_key(key, &g)) != 0)
		return rc;
	if ((rc = policy_verbs_signed_load("policy sign", argv[optind], &s)) !=
	    0)
		goto out;
	if (policy_agency_index(s.p, g->pub.id) < 0) {
		rc = cli_fail(EX_DATAERR,
		    "policy sign: %s: '%s' is not a party to agreement %s (not "
		    "in its agencies): its guardian does not sign it",
		    s.path, g->pub.id, policy_agreement(s.p));
		goto out;
	}
	rc = agreement_note_sign(s.note, s.note_len, policy_agreement(s.p),
	    (uint64_t)policy_version(s.p), policy_sha256(s.p), g, &out,
	    &out_len, &dropped);
	if (rc == ERROR_PARSE || rc == ERROR_TOOBIG) {
		rc = cli_fail(EX_DATAERR,
		    "policy sign: %s: not an agreement note, or one with a "
		    "malformed line (move it away to start again)",
		    s.sig);
		goto out;
	}
	if (rc != 0) {
		rc = cli_fail(cli_exit_code(rc), "policy sign: %s: %s", s.sig,
		    error_strerror(rc));
		goto out;
	}
	if ((rc = write_note(s.sig, out, out_len)) != 0) {
		rc = cli_fail(cli_exit_code(rc),
		    "policy sign: cannot write %s: %s", s.sig,
		    error_strerror(rc));
		goto out;
	}
	if (dropped > 0)
		fprintf(stderr,
		    "concordat: policy sign: %s: %zu earlier signature%s "
		    "signed other bytes than %s now holds and %s dropped: "
		    "every guardian signs again\n",
		    s.sig, dropped, dropped == 1 ? "" : "s", s.path,
		    dropped == 1 ? "was" : "were");
	n = count_lines(out);
	printf("%s: signed by %s.guardian (fingerprint %s) for agreement %s "
	       "version %lld, sha256 %s; %zu signature%s in the note (check "
	       "them with `concordat policy verify %s --keyring DIR`)\n",
	    s.sig, g->pub.id, g->pub.fingerprint, policy_agreement(s.p),
	    policy_version(s.p), policy_sha256_hex(s.p), n, n == 1 ? "" : "s",
	    s.path);
	rc = EX_OK;
out:
	free(out);
	policy_verbs_signed_release(&s);
	keys_secret_free(g);
	return rc;
}
