/*
 * Decisions as JSON, the one shape shared by `concordat policy explain
 * --json` and the policy case runner in tests/policy. Private to policy/
 * and its tests.
 */
#ifndef POLICY_POLICY_JSON_H
#define POLICY_POLICY_JSON_H

#include <jansson.h>

#include "policy/policy.h"

/*
 * The answer to q as one JSON object: {"from", "to", "purpose", "urgency",
 * "kind", "breakglass", "fields": {NAME: {"decision", "reason", "rule",
 * "breakglass"}, ...}, "rules": [{"id", "basis"}], "obligations": [...],
 * "expires_after_ms", "policy_sha256"}; for a purpose the policy does not
 * declare (rc ERROR_PURPOSE), {"from", "to", "purpose", "urgency", "kind",
 * "rejected": true, "error": "...", "policy_sha256"}. d is the decision
 * policy_eval returned rc for. A new reference, or NULL when out of memory.
 */
json_t *policy_json_decision(const struct policy *p,
    const struct policy_question *q, const struct policy_decision *d, int rc);

#endif
