/*
 * The cosignatures the broker keeps (DESIGN.md §7): the latest verified
 * cosignature of each agency, in audit.meta under "witness/<agency>", and
 * the stored checkpoint of a given size that it cosigns. The broker writes
 * them; `concordat audit verify --witnesses` reads them.
 *
 * Value, 80 bytes: be64 tree size || be64 timestamp (seconds) || the
 * 64-byte Ed25519 cosignature (audit/cosign.h). The root is that of the
 * stored checkpoint of that size, in audit.checkpoints.
 */
#ifndef AUDIT_AUDIT_WITNESS_H
#define AUDIT_AUDIT_WITNESS_H

#include "audit/audit.h"
#include "audit/cosign.h"
#include "common/ident.h"

#define AUDIT_WITNESS_PREFIX "witness/"
#define AUDIT_WITNESS_LEN    (8 + 8 + COSIGN_SIG_LEN)

struct audit_witness {
	char agency[IDENT_AGENCY_MAX + 1];
	uint64_t size;
	uint64_t timestamp; /* seconds since the epoch */
	uint8_t sig[COSIGN_SIG_LEN];
};

/*
 * The stored checkpoint of exactly size leaves into *head; ERROR_NOTFOUND
 * when none of that size was signed.
 */
WUR int audit_checkpoint_at(
    struct audit *a, MDB_txn *txn, uint64_t size, struct audit_head *head);

/*
 * Stores w as its agency's cosignature in write transaction txn, replacing
 * the one held. The caller has verified it (audit/cosign.h) against the
 * stored checkpoint of w->size.
 */
WUR int audit_witness_put(
    struct audit *a, MDB_txn *txn, const struct audit_witness *w);

/* The cosignature held for agency; ERROR_NOTFOUND when none. */
WUR int audit_witness_get(
    struct audit *a, MDB_txn *txn, const char *agency, struct audit_witness *w);

/*
 * Calls fn for each cosignature held, in agency order; a non-zero return
 * stops and is returned. ERROR_TAMPERED for an entry of the wrong shape.
 */
WUR int audit_witness_each(struct audit *a, MDB_txn *txn,
    int (*fn)(void *arg, const struct audit_witness *w), void *arg);

#endif
