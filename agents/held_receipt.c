/*
 * Receipts kept pending because a leaf they hold is under a checkpoint
 * not yet proven consistent with the trusted one. The frame is kept as it
 * came, and taken again whenever the trusted checkpoint has grown, so a
 * receipt is filed as soon as its proof arrives rather than at the next
 * resend. Only the newest HELD_RECEIPTS_MAX are kept: one dropped comes
 * back with the resend, which the broker answers as a replay.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent_int.h"
#include "common/log.h"
#include "proto/wire.h"

#define HELD_RECEIPTS_MAX 64

struct held_receipts {
	size_t n;
	uint64_t tried_at; /* the trusted size they were last taken at */
	struct {
		uint8_t *data;
		size_t len;
	} slot[HELD_RECEIPTS_MAX];
};

void
held_receipt_keep(struct agent *a, const void *data, size_t len)
{
	struct held_receipts *h = a->held_receipts;

	if (h == NULL && (h = a->held_receipts = calloc(1, sizeof(*h))) == NULL)
		return; /* the resend brings it again */
	if (h->n == HELD_RECEIPTS_MAX) {
		free(h->slot[0].data);
		memmove(&h->slot[0], &h->slot[1],
		    (HELD_RECEIPTS_MAX - 1) * sizeof(h->slot[0]));
		h->n--;
	}
	if ((h->slot[h->n].data = malloc(len > 0 ? len : 1)) == NULL)
		return;
	memcpy(h->slot[h->n].data, data, len);
	h->slot[h->n].len = len;
	h->n++;
	h->tried_at = a->have_trusted ? a->trusted.size : 0;
}

void
held_receipt_retry(struct agent *a)
{
	struct held_receipts *h = a->held_receipts;
	size_t n, kept = 0;
	char why[128];

	if (h == NULL || h->n == 0 || !a->have_trusted ||
	    a->trusted.size <= h->tried_at)
		return;
	h->tried_at = a->trusted.size;
	n = h->n;
	for (size_t i = 0; i < n; i++) {
		struct wire_frame *f = NULL;
		bool again = false;

		if (wire_decode(h->slot[i].data, h->slot[i].len, &f, why,
		        sizeof(why)) == 0 &&
		    f->type == WIRE_RECEIPT)
			again = outbox_receipt(a, &f->u.receipt);
		wire_frame_free(f);
		if (again)
			h->slot[kept++] = h->slot[i];
		else
			free(h->slot[i].data);
	}
	/* outbox_receipt adds none meanwhile: only on_frame keeps. */
	h->n = kept;
	if (kept < n)
		log_debug("%zu held receipts filed once their checkpoint was "
		          "proven; %zu still held",
		    n - kept, kept);
}

void
held_receipt_free(struct agent *a)
{
	struct held_receipts *h = a->held_receipts;

	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		free(h->slot[i].data);
	free(h);
	a->held_receipts = NULL;
}
