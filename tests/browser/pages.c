/*
 * The pages of the browser tests and screenshots (pages.h).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/verbs/audit_verbs.h"
#include "common/fields.h"
#include "common/urgency.h"
#include "policy/verbs/policy_verbs.h"
#include "tests/audit/audittest.h"
#include "tests/browser/pages.h"
#include "tests/lib/capture.h"
#include "tests/lib/fixture.h"
#include "tests/lib/scratch.h"

/* The group's dispatcher from its name. */
static capture_fn
group(const char *name)
{
	if (strcmp(name, "policy") == 0)
		return policy_cli;
	if (strcmp(name, "audit") == 0)
		return audit_cli;
	scratch_die("pages: no group %s", name);
}

char *
pages_run(const char *dir, const char *name, char **path, int want, ...)
{
	char file[PATH_MAX], *out = NULL, *err = NULL;
	const char *g;
	va_list ap;
	int rc;

	va_start(ap, want);
	g = va_arg(ap, const char *);
	rc = capture_vrunl(group(g), &out, &err, g, ap);
	va_end(ap);
	if (rc != want)
		scratch_die("pages: %s exited %d, not %d: %s", name, rc, want,
		    err != NULL ? err : "");
	free(err);
	snprintf(file, sizeof(file), "%s/%s.html", dir, name);
	scratch_write(file, out, 0644);
	if (path != NULL && (*path = strdup(file)) == NULL)
		scratch_die("pages: out of memory");
	return out;
}

char *
pages_edit(const char *text, const char *const *pairs, size_t n)
{
	char *out = strdup(text), *p;

	if (out == NULL)
		scratch_die("pages: out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *from = pairs[2 * i], *to = pairs[2 * i + 1];
		size_t a = strlen(from), b = strlen(to), len = strlen(out);
		char *e;

		if ((p = strstr(out, from)) == NULL)
			scratch_die("pages: no '%s' to replace", from);
		if ((e = malloc(len - a + b + 1)) == NULL)
			scratch_die("pages: out of memory");
		memcpy(e, out, (size_t)(p - out));
		memcpy(e + (p - out), to, b);
		memcpy(
		    e + (p - out) + b, p + a, len - (size_t)(p - out) - a + 1);
		free(out);
		out = e;
	}
	return out;
}

const char *
pages_new_policy(const char *dir)
{
	static char path[PATH_MAX];
	static const char *const edits[] = {
	    "version: 1\n",
	    "version: 2\n",
	    /* The trust tells an officer of a person's relatives too. */
	    "share: [services, crisis_plan, risks, communication, health, "
	    "dependents]",
	    "share: [services, crisis_plan, risks, communication, health, "
	    "dependents, relatives]",
	    /* Social care no longer hears of relatives for safeguarding. */
	    "share: [identity, dependents, relatives, demographics, "
	    "communication]",
	    "share: [identity, dependents, demographics, communication]",
	};
	char *yaml = scratch_read(fixture_agreement(), NULL);
	char *edited = pages_edit(yaml, edits, 3);

	snprintf(path, sizeof(path), "%s/new.yaml", dir);
	scratch_write(path, edited, 0644);
	free(edited);
	free(yaml);
	return path;
}

/* One event of message m (its number), of the given type and time. */
static void
event(struct event *ev, enum event_type type, unsigned m, uint64_t t_s,
    const char *from, const char *to, const char *purpose)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->time_ms = 1795000000000ULL + t_s * 1000;
	ev->has_msg_id = true;
	memset(ev->msg_id, 0xa0 + (int)m, sizeof(ev->msg_id));
	snprintf(ev->sender, sizeof(ev->sender), "%s", from);
	snprintf(ev->recipient, sizeof(ev->recipient), "%s", to);
	snprintf(ev->purpose, sizeof(ev->purpose), "%s", purpose);
	ev->urgency = URGENCY_URGENT;
	ev->kind = KIND_RECORD;
	ev->has_subject_ref = true;
	memset(ev->subject_ref, 0x40 + (int)m, sizeof(ev->subject_ref));
}

size_t
pages_example_events(struct event *ev, size_t max)
{
	size_t n = 0;

	if (max < 8)
		scratch_die("pages: room for 8 events needed");
	event(&ev[n++], EVENT_ACCEPTED, 1, 0, "police", "", "triage_advice");
	event(&ev[n], EVENT_DECISION, 1, 1, "police", "mental_health_trust",
	    "triage_advice");
	ev[n].disclosed = FIELDS_BIT(fields_lookup("identity")) |
	    FIELDS_BIT(fields_lookup("risks"));
	ev[n].withheld = FIELDS_ALL & ~ev[n].disclosed;
	ev[n].n_rules = 1;
	snprintf(ev[n].rules[0], sizeof(ev[n].rules[0]), "triage-request");
	n++;
	event(&ev[n++], EVENT_DELIVERED, 1, 30, "police", "mental_health_trust",
	    "triage_advice");
	event(&ev[n++], EVENT_ACKNOWLEDGED, 1, 31, "police",
	    "mental_health_trust", "triage_advice");
	event(&ev[n++], EVENT_ACCEPTED, 2, 100, "mental_health_trust", "",
	    "triage_advice");
	event(&ev[n], EVENT_DECISION, 2, 101, "mental_health_trust", "police",
	    "triage_advice");
	ev[n].urgency = URGENCY_EMERGENCY;
	ev[n].breakglass = true;
	ev[n].emergency_reason = EMERGENCY_REASON_RISK_TO_LIFE;
	ev[n].disclosed = FIELDS_BIT(fields_lookup("physical_needs"));
	ev[n].n_rules = 1;
	snprintf(ev[n].rules[0], sizeof(ev[n].rules[0]), "triage-reply");
	n++;
	event(&ev[n], EVENT_REJECTED, 3, 120, "ambulance", "", "research");
	ev[n].has_subject_ref = false;
	snprintf(ev[n].detail, sizeof(ev[n].detail),
	    "purpose research is not declared");
	n++;
	event(&ev[n++], EVENT_DELIVERED, 2, 130, "mental_health_trust",
	    "police", "triage_advice");
	return n;
}

const char *
pages_log(const char *dir, const struct event *ev, size_t n)
{
	static char path[PATH_MAX];
	struct audittest_log l;
	struct audittest_key k;

	snprintf(path, sizeof(path), "%s/log", dir);
	audittest_key(&k, 7);
	audittest_open(&l, path, 0);
	for (size_t i = 0; i < n; i++)
		audittest_append_one(&l, &k, &ev[i]);
	audittest_close(&l);
	return path;
}
