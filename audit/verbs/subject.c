/*
 * The person `audit report` and `audit query` are about (subject.h):
 * their identifiers, the pepper checked against the pepper ids the
 * manifests carry, and the events about any identifier merged by log
 * sequence.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <sodium.h>

#include "audit/verbs/subject.h"
#include "common/cli.h"

int
verbs_person_opt(
    const char *verb, struct verbs_person *p, int c, const char *arg)
{
	static const char *const names[] = {
	    "subject", "name", "dob", "subject-ref"};
	const char *codes = "sNBS", *at;
	char why[512];

	if (c == 'p') {
		p->pepper = arg;
		return 0;
	}
	if (c == 0 || (at = strchr(codes, c)) == NULL)
		return -1;
	if (cli_subject_add(&p->s, names[at - codes], arg, why, sizeof(why)) !=
	    0)
		return cli_fail(EX_USAGE, "audit %s: %s", verb, why);
	return 0;
}

int
verbs_person_resolve(const char *verb, struct verbs_person *p)
{
	char why[512];
	int rc = cli_subject_resolve(&p->s, p->pepper, why, sizeof(why));

	if (rc != 0)
		return cli_fail(
		    cli_subject_exit(rc), "audit %s: %s", verb, why);
	return EX_OK;
}

static int
found_row(void *arg, uint64_t seq, const struct event *ev)
{
	struct verbs_found *fd = arg;

	if (ev->has_pepper_id) {
		fd->any = true;
		if (fd->p->s.has_pepper_id &&
		    memcmp(ev->pepper_id, fd->p->s.pepper_id,
		        sizeof(ev->pepper_id)) == 0)
			fd->seen = true;
	}
	if (fd->n == fd->cap) {
		size_t cap = fd->cap ? 2 * fd->cap : 64;
		uint64_t *s = realloc(fd->seq, cap * sizeof(*s));
		if (s == NULL)
			return ERROR_NOMEM;
		fd->seq = s;
		fd->cap = cap;
	}
	fd->seq[fd->n++] = seq;
	return ERROR_OK;
}

static int
seq_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Whether any leaf names our pepper id, or any pepper id, newest first:
 * the pepper's 32 bytes, and a pepper id's tag, are looked for in each
 * leaf's bytes before the leaf is decoded, and once some leaf names a
 * pepper only the first look remains.
 */
static int
scan_pepper(struct reader *r, struct verbs_found *fd, struct event *ev)
{
	const uint8_t *id = fd->p->s.pepper_id, *leaf;
	uint64_t size;
	size_t len;
	int rc;

	if ((rc = audit_size(r->a, r->txn, &size)) != 0)
		return rc;
	for (uint64_t seq = size; seq-- > 0 && !fd->seen;) {
		if ((rc = audit_leaf(r->a, r->txn, seq, &leaf, &len)) != 0)
			return rc;
		bool near = memmem(leaf, len, id, CLI_PEPPER_ID_LEN) != NULL;
		if (!near && (fd->any || !event_may_have_pepper_id(leaf, len)))
			continue;
		if (event_decode(leaf, len, ev) != 0)
			continue; /* a damaged leaf: audit verify's to say */
		if (ev->has_pepper_id) {
			fd->any = true;
			fd->seen =
			    memcmp(ev->pepper_id, id, CLI_PEPPER_ID_LEN) == 0;
		}
	}
	return ERROR_OK;
}

/* The pepper's id as the error shows it: 16 hex digits and "..". */
static void
short_id(const uint8_t *id, char out[20])
{
	sodium_bin2hex(out, 17, id, 8);
	memcpy(out + 16, "..", 3);
}

void
verbs_pepper_warning(const char *pepper, char *buf, size_t n)
{
	snprintf(buf, n,
	    "no entry of this log names the pepper it was made with (all "
	    "are older than pepper ids), so whether %s is the agencies' "
	    "pepper cannot be checked: with a wrong pepper nothing about "
	    "the person is found",
	    pepper);
}

int
verbs_person_find(const char *verb, struct reader *r,
    const struct audit_filter *f, const struct verbs_person *p,
    struct verbs_found *fd, enum verbs_pepper *state)
{
	struct audit_filter g = *f;
	struct event *ev = NULL;
	char id[20];
	size_t k = 0;
	int rc;

	memset(fd, 0, sizeof(*fd));
	fd->p = p;
	g.has_subject = true;
	for (size_t i = 0; i < p->s.n; i++) {
		memcpy(g.subject_ref, p->s.s[i].ref, sizeof(g.subject_ref));
		if ((rc = audit_query(r->a, r->txn, &g, found_row, fd, NULL)) !=
		    0)
			return rc;
	}
	/* In log order, each event once (an event matches two identifiers
	 * only when two identifiers are one). */
	if (fd->n > 1) /* qsort is not given NULL, even for none */
		qsort(fd->seq, fd->n, sizeof(*fd->seq), seq_cmp);
	for (size_t i = 0; i < fd->n; i++)
		if (k == 0 || fd->seq[i] != fd->seq[k - 1])
			fd->seq[k++] = fd->seq[i];
	fd->n = k;
	*state = VERBS_PEPPER_NOT_GIVEN;
	if (!p->s.has_pepper_id)
		return 0;
	if (!fd->seen) {
		if ((ev = malloc(sizeof(*ev))) == NULL)
			return ERROR_NOMEM;
		rc = scan_pepper(r, fd, ev);
		free(ev);
		if (rc != 0)
			return rc;
	}
	if (!fd->seen && fd->any) {
		short_id(p->s.pepper_id, id);
		return cli_fail(EX_DATAERR,
		    "audit %s: the pepper %s (id %s) was never used by any "
		    "agency in this log: wrong pepper file?",
		    verb, p->pepper, id);
	}
	*state = fd->seen ? VERBS_PEPPER_SEEN : VERBS_PEPPER_NO_IDS;
	return 0;
}

int
verbs_person_rows(struct reader *r, const struct verbs_found *fd,
    int (*row)(void *arg, uint64_t seq, const struct event *ev), void *arg)
{
	struct event *ev = malloc(sizeof(*ev));
	const uint8_t *leaf;
	size_t len;
	int rc = ERROR_OK;

	if (ev == NULL)
		return ERROR_NOMEM;
	for (size_t i = 0; i < fd->n && rc == 0; i++)
		if ((rc = audit_leaf(r->a, r->txn, fd->seq[i], &leaf, &len)) ==
		        0 &&
		    (rc = event_decode(leaf, len, ev)) == 0)
			rc = row(arg, fd->seq[i], ev);
	free(ev);
	return rc;
}

void
verbs_found_release(struct verbs_found *fd)
{
	free(fd->seq);
	memset(fd, 0, sizeof(*fd));
}
