/*
 * `concordat audit verify --keyring DIR --witnesses N`: who witnessed the
 * log. Each agency's latest cosignature the broker kept (audit.meta,
 * audit/audit_witness.h) is checked against the agency's sign key in the
 * keyring and the stored checkpoint it cosigns (C2SP tlog-cosignature/v1,
 * audit/cosign.h); the log is witnessed up to the largest size that at
 * least N agencies cosigned a checkpoint of, or of a log that extends it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit_witness.h"
#include "audit/cosign.h"
#include "audit/verbs/verbs_int.h"
#include "common/clock.h"
#include "keys/keys.h"

#define MAX_SEEN 64

struct seen {
	struct reader *r;
	const struct keyring *kr;
	struct strbuf *sb;
	size_t n_good;
	uint64_t good[MAX_SEEN]; /* sizes of the valid ones */
	uint64_t bad;
	struct audit_head last; /* the largest checkpoint cosigned */
	char lines[MAX_SEEN][COSIGN_LINE_MAX];
	uint64_t line_size[MAX_SEEN];
};

static int
one(void *arg, const struct audit_witness *w)
{
	struct seen *s = arg;
	const struct keys_public *k = keyring_find(s->kr, w->agency);
	struct audit_head head;
	char ts[40], root[MERKLE_HASH_B64];
	size_t len;

	if (k == NULL || k->is_broker) {
		strbuf_addf(s->sb,
		    "not counted: a cosignature by '%s', not an agency of "
		    "the keyring\n",
		    w->agency);
		s->bad++;
		return 0;
	}
	if (audit_checkpoint_at(s->r->a, s->r->txn, w->size, &head) != 0 ||
	    cosign_verify(&head.cp, w->timestamp, k->sign_pk, w->sig) != 0) {
		strbuf_addf(s->sb,
		    "not counted: %s's cosignature of the checkpoint of "
		    "%" PRIu64 " leaves does not verify\n",
		    w->agency, w->size);
		s->bad++;
		return 0;
	}
	clock_format(w->timestamp * 1000, ts, sizeof(ts));
	strbuf_addf(s->sb,
	    "witness: %s cosigned the checkpoint of %" PRIu64
	    " leaves (root %s) at %s\n",
	    w->agency, w->size, merkle_hash_to_base64(head.cp.root, root), ts);
	if (s->n_good == MAX_SEEN)
		return 0;
	if (cosign_line(w->agency, k->sign_pk, w->timestamp, w->sig,
	        s->lines[s->n_good], COSIGN_LINE_MAX, &len) != 0)
		s->lines[s->n_good][0] = '\0';
	s->line_size[s->n_good] = w->size;
	s->good[s->n_good++] = w->size;
	if (w->size > s->last.cp.size)
		s->last = head;
	return 0;
}

/* The largest size at least n of the valid cosignatures reach. */
static uint64_t
witnessed_up_to(const struct seen *s, unsigned n)
{
	uint64_t best = 0;

	for (size_t i = 0; i < s->n_good; i++) {
		unsigned k = 0;
		for (size_t j = 0; j < s->n_good; j++)
			k += s->good[j] >= s->good[i];
		if (k >= n && s->good[i] > best)
			best = s->good[i];
	}
	return best;
}

int
verbs_witnesses(struct reader *r, const char *keyring, unsigned n,
    uint64_t leaves, struct strbuf *sb, char *why, size_t whylen)
{
	static struct seen s;
	struct keyring *kr = NULL;
	char err[256];
	uint64_t upto;
	int rc;

	memset(&s, 0, sizeof(s));
	if ((rc = keyring_load(keyring, &kr, err, sizeof(err))) != 0) {
		snprintf(why, whylen, "%s", err);
		return rc;
	}
	s.r = r;
	s.kr = kr;
	s.sb = sb;
	rc = audit_witness_each(r->a, r->txn, one, &s);
	keyring_free(kr);
	if (rc != 0) {
		snprintf(why, whylen, "the cosignatures kept: %s",
		    error_strerror(rc));
		return rc;
	}
	/* The latest checkpoint cosigned, with every cosignature on it. */
	if (s.last.text_len > 0) {
		strbuf_addf(sb, "cosigned checkpoint:\n%.*s",
		    (int)s.last.text_len, s.last.text);
		for (size_t i = 0; i < s.n_good; i++)
			if (s.line_size[i] == s.last.cp.size)
				strbuf_addf(sb, "%s", s.lines[i]);
	}
	upto = witnessed_up_to(&s, n);
	if (n > 0 && upto == 0) {
		snprintf(why, whylen,
		    "%zu agencies' valid cosignatures; --witnesses asks for "
		    "%u",
		    s.n_good, n);
		return ERROR_SIGNATURE;
	}
	strbuf_addf(sb,
	    "witnessed: %zu agencies' cosignatures valid; by at least %u of "
	    "them: the first %" PRIu64 " of %" PRIu64 " leaves (%" PRIu64
	    " not yet)\n",
	    s.n_good, n, upto, leaves,
	    leaves - (upto < leaves ? upto : leaves));
	return ERROR_OK;
}
