/*
 * `concordat audit verify`: recompute the Merkle tree from the leaves,
 * check every signed checkpoint, read every database whole and, with
 * --indexes, check the indexes against the leaves.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"

static const char verify_help[] =
    "usage: concordat audit verify --data DIR --broker-key FILE "
    "[--indexes]\n"
    "                              [--keyring DIR --witnesses N]\n"
    "\n"
    "Recomputes the Merkle tree from every leaf, compares it with the\n"
    "stored tree, and checks every signed checkpoint: signed by the broker\n"
    "key in FILE (broker.pub), and its root is the root of the leaves.\n"
    "Then reads every database of the data folder whole (the indexes, the\n"
    "broker's queue), so that a page LMDB cannot read is found now, not\n"
    "by the next query. Exits 0 with a one-line summary, or 65 naming the\n"
    "first bad leaf, checkpoint or page: the log is damaged, and the\n"
    "broker refuses to start on it.\n"
    "\n"
    "--indexes  also check that the indexes queries read hold exactly the\n"
    "           entries the leaves give, none missing, added or altered\n"
    "           (slower: every leaf is decoded)\n"
    "--keyring DIR, --witnesses N\n"
    "           also check each agency's latest cosignature of the log\n"
    "           (C2SP tlog-cosignature/v1) against its sign key in DIR,\n"
    "           say which agency witnessed which size, print the latest\n"
    "           cosigned checkpoint with its cosignatures, and fail (65)\n"
    "           unless at least N agencies' cosignatures are valid\n"
    "           (N defaults to 1 with --keyring); and check the signature\n"
    "           of every break-glass review (breakglass_reviewed) under\n"
    "           its agency's guardian key in DIR (ID.guardian.pub), and\n"
    "           that the leaf it reviews is that agency's break-glass\n"
    "           decision with the leaf hash it signs: a forged review\n"
    "           fails (65). Without --keyring reviews are counted and\n"
    "           said not to be checked.\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"broker-key", required_argument, NULL, 'k'},
    {"indexes", no_argument, NULL, 'i'},
    {"keyring", required_argument, NULL, 'K'},
    {"witnesses", required_argument, NULL, 'W'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The one-line summary of a log that verified. */
static void
summary(struct strbuf *sb, const char *origin,
    const struct audit_verify_result *res, const struct audit_walk *walk,
    bool indexes)
{
	char root[MERKLE_HASH_B64];

	strbuf_addf(sb,
	    "ok: %s: %" PRIu64 " leaves, %" PRIu64 " checkpoints verified",
	    origin, res->leaves, res->checkpoints);
	if (res->has_latest)
		strbuf_addf(sb, "; latest size %" PRIu64 " root %s",
		    res->latest.size,
		    merkle_hash_to_base64(res->latest.root, root));
	if (!res->has_latest || res->latest.size < res->leaves)
		strbuf_addf(sb, "; %" PRIu64 " leaves not yet signed",
		    res->leaves - (res->has_latest ? res->latest.size : 0));
	strbuf_addf(sb,
	    "; %" PRIu64 " databases read whole (%" PRIu64 " entries)",
	    walk->databases, walk->entries);
	if (indexes)
		strbuf_addf(sb, "; %" PRIu64 " index entries match the leaves",
		    res->index_entries);
	strbuf_addch(sb, '\n');
}

int
audit_verb_verify(int argc, char **argv)
{
	struct audit_verify_result res;
	struct audit_walk walk;
	struct reader r;
	struct strbuf sb = STRBUF_INIT;
	const char *dir = NULL, *key = NULL, *keyring = NULL;
	uint8_t pk[CHECKPOINT_PK_LEN];
	bool indexes = false;
	long witnesses = -1;
	char *end;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'i':
			indexes = true;
			break;
		case 'K':
			keyring = optarg;
			break;
		case 'W':
			witnesses = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || witnesses < 0 ||
			    witnesses > 64)
				return cli_fail(EX_USAGE,
				    "audit verify: --witnesses '%s' is not a "
				    "number from 0 to 64",
				    optarg);
			break;
		case 'h':
			fputs(verify_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return verbs_unexpected("verify", argv[optind]);
	if (dir == NULL)
		return verbs_missing("verify", "--data DIR");
	if (key == NULL)
		return verbs_missing("verify", "--broker-key FILE");
	if (witnesses >= 0 && keyring == NULL)
		return verbs_missing("verify", "--keyring DIR");
	if ((rc = verbs_broker_key("verify", key, pk)) != 0)
		return rc;
	if ((rc = verbs_open_log("verify", dir, &r)) != 0)
		return rc;
	rc = audit_verify(r.a, r.txn, pk, &res);
	/* The pages the tree does not cover: the indexes, the queue. */
	if (rc == 0 &&
	    (rc = audit_env_walk(r.env, r.txn, NULL, NULL, &walk)) != 0)
		snprintf(res.why, sizeof(res.why), "%s", walk.why);
	if (rc == 0 && indexes)
		rc = audit_verify_indexes(r.a, r.txn, &res);
	if (rc == 0)
		summary(&sb, audit_origin(r.a), &res, &walk, indexes);
	if (rc == 0)
		rc = verbs_reviews(&r, keyring, &sb, res.why, sizeof(res.why));
	if (rc == 0 && keyring != NULL)
		rc = verbs_witnesses(&r, keyring,
		    witnesses < 0 ? 1 : (unsigned)witnesses, res.leaves, &sb,
		    res.why, sizeof(res.why));
	if (rc == 0 || rc == ERROR_SIGNATURE) {
		int wrc = verbs_write(&sb);
		rc = rc != 0 ? rc : wrc;
	} else {
		strbuf_release(&sb);
	}
	verbs_close_log(&r);
	if (rc == ERROR_TAMPERED || rc == ERROR_SIGNATURE ||
	    rc == ERROR_CHECKPOINT)
		return cli_fail(
		    EX_DATAERR, "audit verify: %s: %s", dir, res.why);
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR; /* the stdout check says why */
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit verify: %s: %s", dir,
		    error_strerror(rc));
	return EX_OK;
}
