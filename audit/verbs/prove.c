/*
 * `concordat audit prove`: the inclusion proof of one entry, or the
 * consistency proof from an older tree, to the latest signed checkpoint;
 * as text for people or, with --json, as a proof file (audit/prooffile.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "audit/prooffile.h"
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/clock.h"

static const char prove_help[] =
    "usage: concordat audit prove --data DIR --seq N [--json]\n"
    "       concordat audit prove --data DIR --from SIZE [--json]\n"
    "\n"
    "--seq N      the RFC 6962 inclusion proof of log entry N in the tree\n"
    "             the latest signed checkpoint covers\n"
    "--from SIZE  the consistency proof from the tree of SIZE entries (an\n"
    "             older checkpoint you hold) to the latest checkpoint\n"
    "--json       print it in the shape of the RFC 6962 test vectors\n"
    "             (leafIdx, treeSize, root, leafHash, proof, with the entry\n"
    "             as leaf; or size1, size2, root1, root2, proof) with the\n"
    "             checkpoint note, for 'concordat audit check-proof'\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"seq", required_argument, NULL, 'n'},
    {"from", required_argument, NULL, 'f'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return ERROR_INVAL;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return ERROR_INVAL;
	*v = n;
	return ERROR_OK;
}

/* The proof as people read it: its lines, then the checkpoint note. */
static void
as_text(struct strbuf *sb, const struct prooffile *pf)
{
	char b64[MERKLE_HASH_B64], when[40];
	struct event *ev;

	if (pf->kind == PROOFFILE_INCLUSION) {
		if ((ev = malloc(sizeof(*ev))) != NULL &&
		    event_decode(pf->leaf, pf->leaf_len, ev) == 0)
			strbuf_addf(sb, "leaf       %" PRIu64 ": %s at %s\n",
			    pf->index, event_type_name(ev->type),
			    clock_format(ev->time_ms, when, sizeof(when)));
		else
			strbuf_addf(sb,
			    "leaf       %" PRIu64 " (not a valid event)\n",
			    pf->index);
		free(ev);
		strbuf_addf(sb, "leaf hash  %s\n",
		    merkle_hash_to_base64(pf->leaf_hash, b64));
	} else {
		strbuf_addf(sb, "from size  %" PRIu64 "\n", pf->size1);
		strbuf_addf(sb, "old root   %s\n",
		    merkle_hash_to_base64(pf->root1, b64));
	}
	strbuf_addf(sb, "tree size  %" PRIu64 "\n", pf->size);
	strbuf_addf(
	    sb, "root       %s\n", merkle_hash_to_base64(pf->root, b64));
	if (pf->path_len == 0)
		strbuf_addstr(sb, "proof      (empty)\n");
	for (size_t i = 0; i < pf->path_len; i++)
		strbuf_addf(sb, "%s %s\n", i == 0 ? "proof     " : "          ",
		    merkle_hash_to_base64(pf->path[i], b64));
	strbuf_addf(sb, "checkpoint\n%s", pf->checkpoint);
}

/* The proof of seq (inclusion) or from size1 to head's tree. */
static int
build(struct reader *r, const struct audit_head *head, bool inclusion,
    uint64_t at, struct prooffile *pf)
{
	const uint8_t *leaf;
	size_t len;
	int rc;

	memset(pf, 0, sizeof(*pf));
	pf->size = head->cp.size;
	memcpy(pf->root, head->cp.root, MERKLE_HASH_LEN);
	if ((pf->checkpoint = strdup(head->text)) == NULL)
		return ERROR_NOMEM;
	pf->has_checkpoint = true;
	if (!inclusion) {
		pf->kind = PROOFFILE_CONSISTENCY;
		pf->size1 = at;
		if ((rc = audit_root(r->a, r->txn, at, pf->root1)) != 0)
			return rc;
		return audit_consistency(
		    r->a, r->txn, at, head->cp.size, pf->path, &pf->path_len);
	}
	pf->kind = PROOFFILE_INCLUSION;
	pf->index = at;
	if ((rc = audit_leaf(r->a, r->txn, at, &leaf, &len)) != 0 ||
	    (rc = audit_inclusion(r->a, r->txn, at, head->cp.size, pf->path,
	         &pf->path_len)) != 0)
		return rc;
	merkle_hash_leaf(leaf, len, pf->leaf_hash);
	if ((pf->leaf = malloc(len > 0 ? len : 1)) == NULL)
		return ERROR_NOMEM;
	memcpy(pf->leaf, leaf, len);
	pf->leaf_len = len;
	pf->has_leaf = true;
	return ERROR_OK;
}

/* The proof for a log whose latest checkpoint is head; a sysexits code. */
static int
prove(const char *dir, struct reader *r, bool inclusion, uint64_t at, bool json)
{
	struct audit_head head;
	struct prooffile pf;
	struct strbuf sb = STRBUF_INIT;
	int rc;

	memset(&pf, 0, sizeof(pf));
	rc = audit_latest(r->a, r->txn, &head);
	if (rc == ERROR_NOTFOUND)
		return cli_fail(EX_DATAERR,
		    "audit prove: %s: no signed checkpoint yet", dir);
	if (rc == 0 && inclusion && at >= head.cp.size)
		return cli_fail(EX_DATAERR,
		    "audit prove: leaf %" PRIu64
		    " is not covered by the latest "
		    "checkpoint (size %" PRIu64 ")",
		    at, head.cp.size);
	if (rc == 0 && !inclusion && at > head.cp.size)
		return cli_fail(EX_DATAERR,
		    "audit prove: size %" PRIu64 " is beyond the latest "
		    "checkpoint (size %" PRIu64 ")",
		    at, head.cp.size);
	if (rc == 0 && (rc = build(r, &head, inclusion, at, &pf)) == 0) {
		if (json)
			rc = prooffile_write(&sb, &pf);
		else
			as_text(&sb, &pf);
		if (rc == 0)
			rc = verbs_write(&sb);
	}
	prooffile_release(&pf);
	strbuf_release(&sb);
	if (rc == ERROR_IO && ferror(stdout))
		return EX_IOERR; /* the stdout check says why */
	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit prove: %s: %s", dir,
		    error_strerror(rc));
	return EX_OK;
}

int
audit_verb_prove(int argc, char **argv)
{
	struct reader r;
	const char *dir = NULL, *seqarg = NULL, *fromarg = NULL;
	uint64_t at;
	bool json = false;
	int c, rc;

	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			seqarg = optarg;
			break;
		case 'f':
			fromarg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(prove_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return verbs_unexpected("prove", argv[optind]);
	if (dir == NULL)
		return verbs_missing("prove", "--data DIR");
	if ((seqarg == NULL) == (fromarg == NULL))
		return cli_fail(EX_USAGE,
		    "audit prove: give --seq N or --from SIZE (see --help)");
	if (parse_u64(seqarg != NULL ? seqarg : fromarg, &at) != 0)
		return cli_fail(EX_USAGE, "audit prove: --%s '%s': not a %s",
		    seqarg != NULL ? "seq" : "from",
		    seqarg != NULL ? seqarg : fromarg,
		    seqarg != NULL ? "leaf number" : "tree size");
	if ((rc = verbs_open_log("prove", dir, &r)) != 0)
		return rc;
	rc = prove(dir, &r, seqarg != NULL, at, json);
	verbs_close_log(&r);
	return rc;
}
