/*
 * `concordat audit check-proof`: verify a proof file (audit/prooffile.h),
 * such as 'audit prove --json' writes, and say "valid" or why not.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "audit/prooffile.h"
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/fileio.h"

#define EX_INVALID 1 /* the proof does not hold */

static const char check_help[] =
    "usage: concordat audit check-proof [--broker-key FILE] FILE.json\n"
    "\n"
    "Verifies an RFC 6962 proof in the JSON shape of the published test\n"
    "vectors: an inclusion proof (leafIdx, treeSize, root, leafHash,\n"
    "proof) or a consistency proof (size1, size2, root1, root2, proof).\n"
    "Hashes are base64. A proof from 'concordat audit prove --json' also\n"
    "carries the checkpoint, whose size and root must be the proof's (with\n"
    "--broker-key, its signature is checked too), and an inclusion proof\n"
    "the entry itself (leaf), whose hash must be leafHash.\n"
    "Prints 'valid' and exits 0, or 'invalid: ' and why, and exits 1.\n";

static const struct option opts[] = {
    {"broker-key", required_argument, NULL, 'k'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Reads, parses and verifies the file at path; a sysexits code. */
static int
check(const char *path, const uint8_t *pk)
{
	struct prooffile pf;
	struct prooffile_error err;
	char why[256];
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	rc = fileio_read(path, PROOFFILE_MAX, &buf, &len);
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit check-proof: %s: %s",
		    path, error_strerror(rc));
	rc = prooffile_parse((const char *)buf, len, &pf, &err);
	free(buf);
	if (rc == 0 && prooffile_verify(&pf, pk, why, sizeof(why)) != 0)
		rc = ERROR_PROOF;
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
	fputs("valid\n", stdout);
	return EX_OK;
}

int
audit_verb_check_proof(int argc, char **argv)
{
	const char *key = NULL;
	uint8_t pk[CHECKPOINT_PK_LEN];
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
	if (key != NULL && (rc = verbs_broker_key("check-proof", key, pk)) != 0)
		return rc;
	return check(argv[optind], key != NULL ? pk : NULL);
}
