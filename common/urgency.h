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

/*
 * Why an emergency message breaks glass (the wire's EmergencyReason): the
 * ICO's emergency-sharing cases. The manifest, the broker, the policy and
 * the audit log see only this code; the free-text justification is sealed
 * for the recipients.
 */
enum emergency_reason {
	EMERGENCY_REASON_RISK_TO_LIFE = 1,
	EMERGENCY_REASON_SERIOUS_HARM = 2,
	EMERGENCY_REASON_SAFEGUARDING_CHILD = 3,
	EMERGENCY_REASON_SAFEGUARDING_ADULT = 4,
};

#define EMERGENCY_REASON_COUNT 4

/* The list of names, for messages: "risk_to_life, serious_harm, ...". */
#define EMERGENCY_REASON_LIST                                                  \
	"risk_to_life, serious_harm, safeguarding_child, safeguarding_adult"

/* "risk_to_life", ...; "?" when out of range. */
const char *emergency_reason_name(int r);

/* The reason named s, or 0 when s names none. */
int emergency_reason_parse(const char *s);

/* The reason in words ("risk to life", ...); "?" when out of range. */
const char *emergency_reason_words(int r);

/* "routine", "urgent", "emergency"; "?" when out of range. */
const char *urgency_name(int u);

/* The urgency named s, or 0 when s names none. */
int urgency_parse(const char *s);

/* "record", "request"; "?" when out of range. */
const char *urgency_kind_name(int k);

/* The kind named s, or 0 when s names none. */
int urgency_kind_parse(const char *s);

#endif
