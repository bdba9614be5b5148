/*
 * The public summary of a policy (Caldicott principle 8): who receives
 * what from whom, for which purposes and on what legal basis, in plain
 * English wrapped at 76 columns. Built into a strbuf; `concordat policy
 * summary` writes it.
 */
#ifndef POLICY_SUMMARY_H
#define POLICY_SUMMARY_H

#include "common/strbuf.h"
#include "policy/policy.h"

/*
 * Appends the summary of p to sb. Agencies are called by their display
 * names (policy_agency_name), or by their ids with '_' read as a space.
 * Returns ERROR_OK, or ERROR_NOMEM (sb then holds an incomplete text).
 */
WUR int summary_build(const struct policy *p, struct strbuf *sb);

#endif
