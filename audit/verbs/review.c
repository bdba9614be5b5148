/*
 * `concordat audit review`: the sending agency's guardian signs a review
 * of one break-glass decision with the (offline) guardian key, into a
 * review file for the agency's agent (SPOOL/reviews/, docs/agent.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "audit/merkle.h"
#include "audit/review.h"
#include "audit/verbs/audit_verbs.h"
#include "audit/verbs/verbs_int.h"
#include "common/cli.h"
#include "common/clock.h"
#include "common/fileio.h"
#include "keys/keys.h"
#include "proto/event.h"
#include "proto/review.h"

#define NOTE_MAX (1024 * 1024)

static const char review_help[] =
    "usage: concordat audit review --guardian-key ID.guardian.key\n"
    "           (--data DIR --seq N | --seq N --leaf-hash HEX)\n"
    "           --outcome justified|not_justified|needs_follow_up\n"
    "           --reviewer TEXT [--note-file FILE] --out FILE\n"
    "\n"
    "Signs a review of the break-glass decision at leaf N of the audit log\n"
    "with the agency's guardian key and writes the review file FILE (JSON,\n"
    "docs/audit.md) to drop into the agency's agent spool, SPOOL/reviews/,\n"
    "which sends it to the broker to be logged as a breakglass_reviewed\n"
    "event.\n"
    "\n"
    "--data DIR       read leaf N from the log (a copy will do): it must be\n"
    "                 a break-glass decision sent by the guardian's agency;\n"
    "                 its leaf hash is computed\n"
    "--leaf-hash HEX  without the log: the leaf's RFC 6962 hash, 64 hex\n"
    "                 digits, as `audit query --json` prints it\n"
    "--reviewer TEXT  who reviewed (a name or role, 1 to 128 bytes)\n"
    "--note-file FILE a free-text note: only its BLAKE2b-256 digest goes\n"
    "                 into the review; the note stays with the agency\n"
    "--out FILE       the review file; an existing file is not replaced\n";

static const struct option opts[] = {
    {"data", required_argument, NULL, 'd'},
    {"seq", required_argument, NULL, 's'},
    {"leaf-hash", required_argument, NULL, 'H'},
    {"outcome", required_argument, NULL, 'o'},
    {"reviewer", required_argument, NULL, 'r'},
    {"note-file", required_argument, NULL, 'n'},
    {"guardian-key", required_argument, NULL, 'g'},
    {"out", required_argument, NULL, 'O'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct args {
	const char *data, *leaf_hash, *note, *key, *out;
	bool has_seq;
};

/* Leaf r->leaf_seq of the log in dir: a break-glass decision of agency. */
static int
from_log(const char *dir, struct review *r)
{
	struct reader rd;
	struct event ev;
	const uint8_t *leaf;
	size_t len;
	int rc;

	if ((rc = verbs_open_log("review", dir, &rd)) != 0)
		return rc;
	rc = audit_leaf(rd.a, rd.txn, r->leaf_seq, &leaf, &len);
	if (rc == ERROR_NOTFOUND) {
		rc = cli_fail(EX_DATAERR,
		    "audit review: %s has no leaf %" PRIu64, dir, r->leaf_seq);
		goto out;
	}
	if (rc != 0 || (rc = event_decode(leaf, len, &ev)) != 0) {
		rc = cli_fail(EX_DATAERR,
		    "audit review: %s: leaf %" PRIu64 ": %s", dir, r->leaf_seq,
		    error_strerror(rc));
		goto out;
	}
	merkle_hash_leaf(leaf, len, r->leaf_hash);
	if (ev.type != EVENT_DECISION || !ev.breakglass)
		rc = cli_fail(EX_DATAERR,
		    "audit review: leaf %" PRIu64 " is a %s event, not a "
		    "break-glass decision",
		    r->leaf_seq, event_type_name(ev.type));
	else if (strcmp(ev.sender, r->agency) != 0)
		rc = cli_fail(EX_DATAERR,
		    "audit review: leaf %" PRIu64 " was sent by '%s', not by "
		    "the guardian's agency '%s'",
		    r->leaf_seq, ev.sender, r->agency);
out:
	verbs_close_log(&rd);
	return rc;
}

static int
note_digest(const char *path, struct review *r)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = fileio_read(path, NOTE_MAX, &buf, &len);

	if (rc != 0)
		return cli_fail(cli_exit_code(rc), "audit review: %s: %s", path,
		    error_strerror(rc));
	crypto_generichash(r->note_digest, REVIEW_HASH_LEN, buf, len, NULL, 0);
	r->has_note_digest = true;
	sodium_memzero(buf, len);
	free(buf);
	return EX_OK;
}

/* Signs r with the key file and writes it to a->out. */
static int
sign_and_write(const struct args *a, struct review *r)
{
	struct keys_secret *sk = NULL;
	char *text = NULL, why[160];
	int rc;

	if ((rc = keys_load_guardian(a->key, &sk)) != 0)
		return cli_fail(cli_exit_code(rc), "audit review: %s: %s",
		    a->key, error_strerror(rc));
	snprintf(r->agency, sizeof(r->agency), "%s", sk->pub.id);
	snprintf(r->guardian, sizeof(r->guardian), "%s", sk->pub.fingerprint);
	if (a->data != NULL && (rc = from_log(a->data, r)) != 0)
		goto out;
	if (review_check(r, why, sizeof(why)) != 0) {
		rc = cli_fail(EX_USAGE, "audit review: %s", why);
		goto out;
	}
	if ((rc = review_sign(r, sk->sign_sk)) != 0 ||
	    (rc = review_file_encode(r, &text)) != 0) {
		rc = cli_fail(
		    cli_exit_code(rc), "audit review: %s", error_strerror(rc));
		goto out;
	}
	char dir[4096], *slash;
	const char *name = a->out;
	snprintf(dir, sizeof(dir), "%s", a->out);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		name = slash + 1;
		if (dir[0] == '\0')
			snprintf(dir, sizeof(dir), "/");
	} else {
		snprintf(dir, sizeof(dir), ".");
	}
	rc = fileio_write_atomic(
	    dir, name, text, strlen(text), 0644, FILEIO_EXCL);
	if (rc != 0)
		rc = cli_fail(cli_exit_code(rc), "audit review: %s: %s", a->out,
		    error_strerror(rc));
	else
		printf("review of leaf %" PRIu64 " (%s) by %s's guardian "
		       "written to %s\n",
		    r->leaf_seq, review_outcome_name(r->outcome), r->agency,
		    a->out);
out:
	free(text);
	keys_secret_free(sk);
	return rc;
}

int
audit_verb_review(int argc, char **argv)
{
	struct review r;
	struct args a = {0};
	char *end;
	int c, rc;

	memset(&r, 0, sizeof(r));
	while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'd':
			a.data = optarg;
			break;
		case 's':
			r.leaf_seq = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0')
				return cli_fail(EX_USAGE,
				    "audit review: --seq '%s' is not a leaf "
				    "number",
				    optarg);
			a.has_seq = true;
			break;
		case 'H':
			a.leaf_hash = optarg;
			break;
		case 'o':
			if ((r.outcome = review_outcome_parse(optarg)) == 0)
				return cli_fail(EX_USAGE,
				    "audit review: unknown outcome '%s' "
				    "(justified, not_justified or "
				    "needs_follow_up)",
				    optarg);
			break;
		case 'r':
			if (strlen(optarg) > REVIEW_REVIEWER_MAX)
				return cli_fail(EX_USAGE,
				    "audit review: --reviewer is over %d "
				    "bytes",
				    REVIEW_REVIEWER_MAX);
			snprintf(r.reviewer, sizeof(r.reviewer), "%s", optarg);
			break;
		case 'n':
			a.note = optarg;
			break;
		case 'g':
			a.key = optarg;
			break;
		case 'O':
			a.out = optarg;
			break;
		case 'h':
			fputs(review_help, stdout);
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}
	if (optind != argc)
		return verbs_unexpected("review", argv[optind]);
	if (a.key == NULL)
		return verbs_missing("review", "--guardian-key FILE");
	if (!a.has_seq)
		return verbs_missing("review", "--seq N");
	if (a.data == NULL && a.leaf_hash == NULL)
		return verbs_missing("review", "--data DIR or --leaf-hash HEX");
	if (a.data != NULL && a.leaf_hash != NULL)
		return cli_fail(EX_USAGE,
		    "audit review: --data and --leaf-hash exclude each other");
	if (r.outcome == 0)
		return verbs_missing("review", "--outcome O");
	if (r.reviewer[0] == '\0')
		return verbs_missing("review", "--reviewer TEXT");
	if (a.out == NULL)
		return verbs_missing("review", "--out FILE");
	if (a.leaf_hash != NULL &&
	    cli_parse_hex(a.leaf_hash, r.leaf_hash, REVIEW_HASH_LEN) != 0)
		return cli_fail(EX_USAGE,
		    "audit review: --leaf-hash must be 64 hex digits");
	if (a.note != NULL && (rc = note_digest(a.note, &r)) != 0)
		return rc;
	randombytes_buf(r.review_id, REVIEW_ID_LEN);
	r.reviewed_at_ms = clock_now_ms();
	return sign_and_write(&a, &r);
}

int
verbs_reviews(struct reader *rd, const char *keyring, struct strbuf *sb,
    char *why, size_t whylen)
{
	struct audit_review_check res;
	struct keyring *kr = NULL;
	char err[256] = "";
	int rc;

	if (keyring != NULL &&
	    (rc = keyring_load(keyring, &kr, err, sizeof(err))) != 0) {
		snprintf(why, whylen, "keyring %s: %s", keyring,
		    err[0] ? err : error_strerror(rc));
		return rc;
	}
	rc = audit_review_verify(rd->a, rd->txn, kr, &res);
	keyring_free(kr);
	if (rc != 0) {
		snprintf(why, whylen, "%s",
		    res.why[0] ? res.why : error_strerror(rc));
		return rc;
	}
	if (res.reviews == 0)
		return ERROR_OK;
	if (keyring == NULL)
		strbuf_addf(sb,
		    "reviews: %" PRIu64 " break-glass reviews, signatures not "
		    "checked (give --keyring DIR with the guardians' keys)\n",
		    res.reviews);
	else
		strbuf_addf(sb,
		    "reviews: %" PRIu64 " break-glass review signatures "
		    "verified against the guardians' keys (%" PRIu64
		    " justified, %" PRIu64 " not justified, %" PRIu64
		    " needing follow-up)\n",
		    res.reviews, res.outcomes[REVIEW_JUSTIFIED],
		    res.outcomes[REVIEW_NOT_JUSTIFIED],
		    res.outcomes[REVIEW_NEEDS_FOLLOW_UP]);
	return strbuf_error(sb);
}
