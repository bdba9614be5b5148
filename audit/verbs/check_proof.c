/*
 * `concordat audit check-proof`: verify a proof file (audit/prooffile.h),
 * such as 'audit prove --json' writes, and say "valid" or why not.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "audit/prooffile.h"
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/fileio.h"
#include "keys/keys.h"

#define EX_INVALID   1 /* the proof does not hold */
#define EX_UNCHECKED 2 /* it holds, but no key: the signature unchecked */

/* What --broker-key gives: the signing key and the origin it names. */
struct broker_key {
	uint8_t pk[CHECKPOINT_PK_LEN];
	char origin[CHECKPOINT_ORIGIN_MAX + 1]; /* concordat/<fingerprint> */
};

static const char check_help[] =
    "usage: concordat audit check-proof [--broker-key FILE] FILE.json\n"
    "\n"
    "Verifies an RFC 6962 proof in the JSON shape of the published test\n"
    "vectors: an inclusion proof (leafIdx, treeSize, root, leafHash,\n"
    "proof) or a consistency proof (size1, size2, root1, root2, proof).\n"
    "Hashes are base64. A proof from 'concordat audit prove --json' also\n"
    "carries the checkpoint, whose size and root must be the proof's, and\n"
    "an inclusion proof the entry itself (leaf), whose hash must be\n"
    "leafHash. With --broker-key (the broker's .pub file) the checkpoint's\n"
    "signature is checked too, and its origin must be the one the broker\n"
    "names its log by, concordat/<the key's fingerprint>.\n"
    "\n"
    "Prints 'valid' and exits 0 when the proof holds and the broker's\n"
    "signature was checked; 'valid (signature NOT checked: no\n"
    "--broker-key given)' and exits 2 when it holds but, without the key,\n"
    "nothing shows that the broker signed it; 'invalid: ' and why, and\n"
    "exits 1, when it does not hold.\n";

static const struct option opts[] = {
    {"broker-key", required_argument, NULL, 'k'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/*
 * The checkpoint of a proof that verified with key bk: its origin must be
 * the one the broker names its log by, or a key that signs two logs could
 * pass one's proof off as the other's. 0, or ERROR_PROOF with why.
 */
static int
check_origin(const struct prooffile *pf, const struct broker_key *bk, char *why,
    size_t n)
{
	struct checkpoint cp;

	if (pf->checkpoint == NULL ||
	    checkpoint_parse(pf->checkpoint, strlen(pf->checkpoint), &cp) != 0)
		return ERROR_INTERNAL; /* prooffile_verify checked it */
	if (strcmp(cp.origin, bk->origin) == 0)
		return 0;
	snprintf(why, n,
	    "the checkpoint's origin is '%s', not '%s' (the log of the "
	    "broker key given)",
	    cp.origin, bk->origin);
	return ERROR_PROOF;
}

/* Reads, parses and verifies the file at path; a sysexits code. */
static int
check(const char *path, const struct broker_key *bk)
{
	struct prooffile pf;
	struct prooffile_error err;
	char why[2 * CHECKPOINT_ORIGIN_MAX + 256];
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	rc = fileio_read(path, PROOFFILE_MAX, &buf, &len);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit check-proof: %s: %s",
		    path, error_strerror(rc));
	rc = prooffile_parse((const char *)buf, len, &pf, &err);
	free(buf);
	if (rc == 0 &&
	    prooffile_verify(
	        &pf, bk != NULL ? bk->pk : NULL, why, sizeof(why)) != 0)
		rc = ERROR_PROOF;
	else if (rc == 0 && bk != NULL)
		rc = check_origin(&pf, bk, why, sizeof(why));
	else if (rc == ERROR_PROOF)
		snprintf(why, sizeof(why), "%s", err.why);
	prooffile_release(&pf);
	if (rc == ERROR_PROOF) {
		printf("invalid: %s\n", why);
		return EX_INVALID;
	}
	if (rc == ERROR_PARSE && err.line > 0)
		return cli_fail(EX_DATAERR, "audit check-proof: %s:%d:%d: %s",
		    path, err.line, err.column, err.why);
	if (rc != 0)
		return cli_fail(
		    rc == ERROR_PARSE ? EX_DATAERR : cli_exit_code(rc),
		    "audit check-proof: %s: %s", path, err.why);
	if (bk == NULL) {
		fputs("valid (signature NOT checked: no --broker-key given)\n",
		    stdout);
		return EX_UNCHECKED;
	}
	fputs("valid\n", stdout);
	return EX_OK;
}

/* The broker's .pub file: its signing key and the origin of its log. */
static int
load_key(const char *path, struct broker_key *bk)
{
	struct keys_public pub;
	int rc;

	if ((rc = verbs_broker_key("check-proof", path, bk->pk)) != 0)
		return rc;
	if ((rc = keys_load_public(path, &pub)) != 0)
		return cli_fail(cli_exit_code(rc),
		    "audit check-proof: broker key %s: %s", path,
		    error_strerror(rc));
	keys_fingerprint(&pub);
	snprintf(
	    bk->origin, sizeof(bk->origin), "concordat/%s", pub.fingerprint);
	return EX_OK;
}

int
audit_verb_check_proof(int argc, char **argv)
{
	const char *key = NULL;
	struct broker_key bk;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'k':
			key = optarg;
			break;
		case 'h':
			fputs(check_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind == argc)
		return verbs_missing("check-proof", "FILE.json");
	if (optind != argc - 1)
		return verbs_unexpected("check-proof", argv[optind + 1]);
	if (key != NULL && (rc = load_key(key, &bk)) != 0)
		return rc;
	return check(argv[optind], key != NULL ? &bk : NULL);
}
