/*
 * `concordat audit agreement --data DIR --sha HEX [--note]`: the exact
 * text of the agreement that made a decision, from the broker's archive
 * DATA/agreements/HEX.yaml (and, with --note, its signatures, HEX.yaml.sig),
 * checked against the SHA-256 the audit log names it by.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/fileio.h"
#include "keys/agreement.h"
#include "policy/policy.h"

#define VERB "audit agreement"

static const char agreement_help[] =
    "usage: concordat audit agreement --data DIR --sha HEX [--note]\n"
    "\n"
    "Prints, byte for byte, the agreement the broker archived when it\n"
    "activated it: DIR/agreements/HEX.yaml, HEX being the policy_sha256 of\n"
    "the log's policy_activated and decision events. --note prints its\n"
    "signatures (HEX.yaml.sig) instead, for `concordat policy verify`.\n"
    "Exit 66 when none is archived under HEX, 65 when the file's bytes do\n"
    "not hash to HEX.\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"sha", required_argument, NULL, 's'},
    {"note", no_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int
audit_verb_agreement(int argc, char **argv)
{
	const char *data = NULL, *hexarg = NULL, *end;
	uint8_t sha[AGREEMENT_SHA_LEN], got[AGREEMENT_SHA_LEN], *buf = NULL;
	char hex[2 * AGREEMENT_SHA_LEN + 1], path[4200];
	bool note = false;
	size_t n, len;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "d:s:nh", opts)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 's':
			hexarg = optarg;
			break;
		case 'n':
			note = true;
			break;
		case 'h':
			fputs(agreement_help, stdout);
			return EX_OK;
		default:
			fputs(agreement_help, stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return verbs_unexpected(VERB, argv[optind]);
	if (data == NULL)
		return verbs_missing(VERB, "--data DIR");
	if (hexarg == NULL)
		return verbs_missing(VERB, "--sha HEX");
	if (strlen(hexarg) != 2 * AGREEMENT_SHA_LEN ||
	    sodium_hex2bin(sha, sizeof(sha), hexarg, strlen(hexarg), NULL, &n,
	        &end) != 0 ||
	    n != sizeof(sha) || *end != '\0')
		return cli_fail(EX_USAGE,
		    VERB ": --sha: '%s' is not a SHA-256 in hex (64 digits)",
		    hexarg);
	sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	snprintf(path, sizeof(path), "%s/agreements/%s.yaml", data, hex);
	rc = fileio_read(path, POLICY_FILE_MAX, &buf, &len);
	if (rc == ERROR_NOENT)
		return cli_fail(EX_NOINPUT,
		    VERB ": %s: no agreement archived under sha256 %s (the "
		         "broker archives each agreement it activates)",
		    data, hex);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), VERB ": %s: %s", path,
		    error_strerror(rc));
	crypto_hash_sha256(got, buf, len);
	if (sodium_memcmp(got, sha, sizeof(sha)) != 0) {
		free(buf);
		return cli_fail(EX_DATAERR,
		    VERB ": %s: tampered: its bytes do not hash to %s", path,
		    hex);
	}
	if (note) {
		free(buf);
		buf = NULL;
		snprintf(
		    path, sizeof(path), "%s/agreements/%s.yaml.sig", data, hex);
		rc = fileio_read(path, AGREEMENT_NOTE_MAX, &buf, &len);
		if (rc != 0)
			return cli_fail(
			    rc == ERROR_NOENT ? EX_NOINPUT : cli_exit_code(rc),
			    VERB ": %s: %s", path, error_strerror(rc));
	}
	if (len > 0 && fwrite(buf, 1, len, stdout) != len)
		rc = EX_IOERR;
	free(buf);
	return rc == EX_IOERR ? EX_IOERR : EX_OK;
}
