/*
 * The obligations an agreement's rules may carry (policy.h): their names
 * and plain-English sentences, and the review deadline of the
 * review_breakglass obligation (review_breakglass_within). Used by the
 * policy loader, the summary and the broker's status.
 */
#include <string.h>

#include "common/duration.h"

#include "policy/policy.h"

static const struct obligation {
	const char *name;
	const char *text;
} obligations[POLICY_OBLIGATION_COUNT] = {
    [POLICY_NO_ONWARD_DISCLOSURE] = {"no_onward_disclosure",
        "the recipient must not pass the information on to anyone else "
        "without the sending agency's agreement"},
    [POLICY_RETAIN_30_DAYS] = {"retain_30_days",
        "the recipient keeps the information for no more than 30 days "
        "unless it becomes part of its own care record"},
    [POLICY_REVIEW_BREAKGLASS] = {"review_breakglass",
        "every emergency (break-glass) disclosure is reviewed afterwards "
        "by the sending agency's Caldicott Guardian"},
    [POLICY_INFORM_SUBJECT] = {"inform_subject",
        "the person is told what was shared, and with whom, as soon as it "
        "is safe to do so"},
    [POLICY_DELETE_AFTER_USE] = {"delete_after_use",
        "the recipient deletes the information once the immediate "
        "purpose has been served"},
};

const char *
policy_obligation_name(int o)
{
	return o >= 0 && o < POLICY_OBLIGATION_COUNT ? obligations[o].name
	                                             : NULL;
}

const char *
policy_obligation_text(int o)
{
	return o >= 0 && o < POLICY_OBLIGATION_COUNT ? obligations[o].text
	                                             : NULL;
}

int
policy_obligation_lookup(const char *s)
{
	for (int o = 0; o < POLICY_OBLIGATION_COUNT; o++)
		if (s != NULL && strcmp(s, obligations[o].name) == 0)
			return o;
	return -1;
}

int
policy_review_parse(const char *s, uint64_t *ms)
{
	uint64_t v;

	if (duration_parse(s, &v) != 0 || v < 1000 ||
	    v > 365ULL * 24 * 3600 * 1000)
		return ERROR_INVAL;
	*ms = v;
	return ERROR_OK;
}
