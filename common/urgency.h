/*
 * Message urgency and kind (DESIGN.md §5), shared by the policy engine, the
 * wire format and the audit log. The numbers are those of the wire.
 */
#ifndef COMMON_URGENCY_H
#define COMMON_URGENCY_H

enum urgency {
	URGENCY_ROUTINE = 1,
	URGENCY_URGENT = 2,
	URGENCY_EMERGENCY = 3,
};

enum kind {
	KIND_RECORD = 1,
	KIND_REQUEST = 2,
};

/* "routine", "urgent", "emergency"; "?" when out of range. */
const char *urgency_name(int u);

/* The urgency named s, or 0 when s names none. */
int urgency_parse(const char *s);

/* "record", "request"; "?" when out of range. */
const char *urgency_kind_name(int k);

/* The kind named s, or 0 when s names none. */
int urgency_kind_parse(const char *s);

#endif
