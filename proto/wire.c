/* in progress */
#include "proto/wire.h"
static const char *const reasons[] = {NULL, "too_big", "malformed",
    "sender_mismatch", "bad_signature", "stale", "future", "replay",
    "digest_mismatch", "unknown_recipient", "bad_grant",
    "undeclared_purpose", "not_permitted", "storage_full", "internal"};
const char *
wire_reason_name(int r)
{
	if (r < 1 || r > 14)
		return "?";
	return reasons[r];
}
