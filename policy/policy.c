/*
 * The policy engine: a sharing agreement loaded from YAML and checked for
 * meaning (DESIGN.md §6), and the per-field decision the broker asks for
 * every recipient of every message. Load is careful; evaluation is fast and
 * never allocates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/duration.h"
#include "common/fileio.h"
#include "common/ident.h"
#include "common/suggest.h"
#include "common/urgency.h"
#include "policy/policy.h"

#define QUOTE_MAX  64   /* bytes of a user's value quoted in a message */
#define HASH_SLOTS 128  /* twice the most names interned */
#define TEXT_MAX   1000 /* agreement, approved_by, descriptions */
#define EXPIRY_MAX 31536000000ULL /* 365 days in ms */

struct purpose {
	char *name;
	char *description;
	uint64_t expires_ms;
	unsigned line;
};

struct rule {
	char *id;
	char *basis;
	unsigned line;
	int from;
	uint64_t to, purposes;
	fieldset share, emergency;
	unsigned obligations;
};

struct never {
	unsigned line;
	uint64_t from, to, purposes;
	bool any_from, any_purpose;
	fieldset fields;
	char *reason;
};

struct policy {
	char *name;
	char *agreement;
	char *approved_by;
	long long version;
	uint8_t sha256[crypto_hash_sha256_BYTES];
	char sha256_hex[crypto_hash_sha256_BYTES * 2 + 1];

	size_t nagencies;
	char *agencies[POLICY_MAX_AGENCIES];
	char *agency_names[POLICY_MAX_AGENCIES]; /* display names, or NULL */
	unsigned agency_line[POLICY_MAX_AGENCIES];
	size_t npurposes;
	struct purpose purposes[POLICY_MAX_PURPOSES];

	size_t nrules;
	struct rule *rules;
	/* Rule indices grouped by sending agency, in file order within. */
	uint16_t *by_from;
	size_t from_start[POLICY_MAX_AGENCIES + 1];

	size_t nnever;
	struct never *never;
	uint64_t review_ms; /* review_breakglass_within, or 0 */

	/* Interned names: open addressing over FNV-1a, -1 for empty. */
	int8_t agency_hash[HASH_SLOTS];
	int8_t purpose_hash[HASH_SLOTS];
};

/* The state of one load: the policy being built and what went wrong. */
struct loader {
	struct policy *p;
	struct yamlconf *y;
	bool agencies_ok; /* `agencies` was readable: check references */
	bool purposes_ok;
};

static uint32_t
fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static void
hash_insert(int8_t *table, const char *name, int index)
{
	uint32_t h = fnv1a(name);

	for (uint32_t i = 0; i < HASH_SLOTS; i++) {
		int8_t *slot = &table[(h + i) % HASH_SLOTS];

		if (*slot < 0) {
			*slot = (int8_t)index;
			return;
		}
	}
}

static int
hash_find(const int8_t *table, const char *name, const char *const *names,
    size_t stride)
{
	uint32_t h = fnv1a(name);

	for (uint32_t i = 0; i < HASH_SLOTS; i++) {
		int idx = table[(h + i) % HASH_SLOTS];
		const char *cand;

		if (idx < 0)
			return -1;
		cand = *(const char *const *)((const char *)names +
		    (size_t)idx * stride);
		if (strcmp(cand, name) == 0)
			return idx;
	}
	return -1;
}

int
policy_agency_index(const struct policy *p, const char *name)
{
	if (p == NULL || name == NULL)
		return -1;
	return hash_find(p->agency_hash, name, (const char *const *)p->agencies,
	    sizeof(p->agencies[0]));
}

int
policy_purpose_index(const struct policy *p, const char *name)
{
	if (p == NULL || name == NULL)
		return -1;
	return hash_find(p->purpose_hash, name,
	    (const char *const *)&p->purposes[0].name, sizeof(p->purposes[0]));
}

/* Accessors. */

const char *
policy_name(const struct policy *p)
{
	return p->name;
}

const char *
policy_agreement(const struct policy *p)
{
	return p->agreement;
}

long long
policy_version(const struct policy *p)
{
	return p->version;
}

uint64_t
policy_review_within_ms(const struct policy *p)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].obligations & (1u << POLICY_REVIEW_BREAKGLASS))
			return p->review_ms ? p->review_ms
			                    : POLICY_REVIEW_DEFAULT;
	return 0;
}

const char *
policy_approved_by(const struct policy *p)
{
	return p->approved_by;
}

const uint8_t *
policy_sha256(const struct policy *p)
{
	return p->sha256;
}

const char *
policy_sha256_hex(const struct policy *p)
{
	return p->sha256_hex;
}

size_t
policy_agency_count(const struct policy *p)
{
	return p->nagencies;
}

const char *
policy_agency_id(const struct policy *p, size_t i)
{
	return i < p->nagencies ? p->agencies[i] : NULL;
}

const char *
policy_agency_name(const struct policy *p, const char *agency)
{
	int i = policy_agency_index(p, agency);

	return i < 0 ? NULL : p->agency_names[i];
}

size_t
policy_purpose_count(const struct policy *p)
{
	return p->npurposes;
}

const char *
policy_purpose_name(const struct policy *p, size_t i)
{
	return i < p->npurposes ? p->purposes[i].name : NULL;
}

const char *
policy_purpose_description(const struct policy *p, size_t i)
{
	return i < p->npurposes ? p->purposes[i].description : NULL;
}

uint64_t
policy_purpose_expiry(const struct policy *p, size_t i)
{
	return i < p->npurposes ? p->purposes[i].expires_ms : 0;
}

int
policy_expiry_ms(const struct policy *p, const char *purpose, uint64_t *ms)
{
	int i = policy_purpose_index(p, purpose);

	if (i < 0)
		return ERROR_PURPOSE;
	*ms = p->purposes[i].expires_ms;
	return ERROR_OK;
}

size_t
policy_rule_count(const struct policy *p)
{
	return p->nrules;
}

size_t
policy_never_count(const struct policy *p)
{
	return p->nnever;
}

int
policy_never_get(
    const struct policy *p, size_t i, struct policy_never_info *out)
{
	const struct never *n;

	if (i >= p->nnever)
		return ERROR_NOTFOUND;
	n = &p->never[i];
	out->line = n->line;
	out->from = n->from;
	out->to = n->to;
	out->purposes = n->purposes;
	out->any_from = n->any_from;
	out->any_purpose = n->any_purpose;
	out->fields = n->fields;
	out->reason = n->reason != NULL ? n->reason : "";
	return ERROR_OK;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->agreement);
	free(p->approved_by);
	for (size_t i = 0; i < p->nagencies; i++) {
		free(p->agencies[i]);
		free(p->agency_names[i]);
	}
	for (size_t i = 0; i < p->npurposes; i++) {
		free(p->purposes[i].name);
		free(p->purposes[i].description);
	}
	for (size_t i = 0; i < p->nrules; i++) {
		free(p->rules[i].id);
		free(p->rules[i].basis);
	}
	free(p->rules);
	free(p->by_from);
	for (size_t i = 0; i < p->nnever; i++)
		free(p->never[i].reason);
	free(p->never);
	free(p);
}

/* Loading. */

/*
 * A copy of free text with trailing white space removed, or NULL (error
 * reported) when it is too long or holds control characters; newlines are
 * allowed only where multiline.
 */
static char *
text_copy(struct loader *l, const struct yamlconf_node *n, const char *what,
    size_t max, bool multiline)
{
	size_t len = n->len;
	char *s;

	while (len > 0 &&
	    (n->str[len - 1] == ' ' || n->str[len - 1] == '\n' ||
	        n->str[len - 1] == '\t' || n->str[len - 1] == '\r'))
		len--;
	if (len > max) {
		yamlconf_error(
		    l->y, n, "%s is longer than %zu bytes", what, max);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)n->str[i];

		if ((c < 0x20 && !(multiline && c == '\n')) || c == 0x7f) {
			yamlconf_error(
			    l->y, n, "%s holds a control character", what);
			return NULL;
		}
	}
	s = strndup(n->str, len);
	if (s == NULL)
		yamlconf_error(l->y, n, "out of memory");
	return s;
}

/* The value of key in mapping node when it is a plain string, else NULL. */
static const char *
peek(const struct yamlconf_node *node, const char *key)
{
	if (node == NULL || node->kind != YAMLCONF_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < node->n; i++)
		if (strcmp(node->keys[i]->str, key) == 0 &&
		    node->values[i]->kind == YAMLCONF_NODE_SCALAR)
			return node->values[i]->str;
	return NULL;
}

/* True when mapping node has key, whatever its value. */
static bool
has_key(const struct yamlconf_node *node, const char *key)
{
	if (node == NULL || node->kind != YAMLCONF_NODE_MAP)
		return false;
	for (size_t i = 0; i < node->n; i++)
		if (strcmp(node->keys[i]->str, key) == 0)
			return true;
	return false;
}

static void
unknown_name(struct loader *l, const struct yamlconf_node *n, const char *kind,
    const char *const *cands, size_t ncands, const char *otherwise)
{
	const char *hint = suggest_closest(n->str, cands, ncands);

	if (hint != NULL)
		yamlconf_error(l->y, n, "%s '%.*s' (did you mean '%s'?)", kind,
		    QUOTE_MAX, n->str, hint);
	else
		yamlconf_error(l->y, n, "%s '%.*s' (%s)", kind, QUOTE_MAX,
		    n->str, otherwise);
}

static int
agency_ref(struct loader *l, const struct yamlconf_node *n)
{
	struct policy *p = l->p;

	if (!l->agencies_ok)
		return -1;
	for (size_t i = 0; i < p->nagencies; i++)
		if (strcmp(p->agencies[i], n->str) == 0)
			return (int)i;
	unknown_name(l, n, "unknown agency", (const char *const *)p->agencies,
	    p->nagencies, "not listed in 'agencies'");
	return -1;
}

static int
purpose_ref(struct loader *l, const struct yamlconf_node *n)
{
	struct policy *p = l->p;
	const char *names[POLICY_MAX_PURPOSES];

	if (!l->purposes_ok)
		return -1;
	for (size_t i = 0; i < p->npurposes; i++) {
		if (strcmp(p->purposes[i].name, n->str) == 0)
			return (int)i;
		names[i] = p->purposes[i].name;
	}
	unknown_name(l, n, "undeclared purpose", names, p->npurposes,
	    "not declared in 'purposes'");
	return -1;
}

static int
field_ref(struct loader *l, const struct yamlconf_node *n)
{
	int f = fields_lookup(n->str);

	if (f == 0)
		unknown_name(l, n, "unknown field", fields_names, FIELDS_COUNT,
		    "not one of the 13 B8 fields");
	return f;
}

static int
obligation_ref(struct loader *l, const struct yamlconf_node *n)
{
	const char *names[POLICY_OBLIGATION_COUNT];
	int o = policy_obligation_lookup(n->str);

	if (o >= 0)
		return o;
	for (int i = 0; i < POLICY_OBLIGATION_COUNT; i++)
		names[i] = policy_obligation_name(i);
	unknown_name(l, n, "unknown obligation", names, POLICY_OBLIGATION_COUNT,
	    "known: no_onward_disclosure, retain_30_days, review_breakglass, "
	    "inform_subject, delete_after_use");
	return -1;
}

/*
 * The set named by a list (or single name) of agencies, purposes, fields
 * or obligations; each unknown or repeated name is reported.
 */
enum set_kind { SET_AGENCY, SET_PURPOSE, SET_FIELD, SET_OBLIGATION };

static uint64_t
name_set(struct loader *l, const struct yamlconf_node *list, enum set_kind kind)
{
	static const char *const words[] = {
	    "agency", "purpose", "field", "obligation"};
	uint64_t set = 0;

	for (size_t i = 0; i < yamlconf_count(list); i++) {
		const struct yamlconf_node *n = yamlconf_item(list, i);
		int idx = -1;
		uint64_t bit;

		switch (kind) {
		case SET_AGENCY:
			idx = agency_ref(l, n);
			break;
		case SET_PURPOSE:
			idx = purpose_ref(l, n);
			break;
		case SET_FIELD:
			idx = field_ref(l, n) - 1;
			break;
		case SET_OBLIGATION:
			idx = obligation_ref(l, n);
			break;
		}
		if (idx < 0)
			continue;
		bit = (uint64_t)1 << idx;
		if (set & bit)
			yamlconf_error(l->y, n, "%s '%s' is listed twice",
			    words[kind], n->str);
		set |= bit;
	}
	return set;
}

/*
 * One item of `agencies`: an id, or a mapping of `id` and `name` (the
 * agency's display name, for documents people read). Sets *name to the
 * name node or NULL; returns the id node, or NULL after an error.
 */
static const struct yamlconf_node *
agency_item(struct loader *l, const struct yamlconf_node *n,
    const struct yamlconf_node **name)
{
	enum { ID, NAME, NK };
	static const struct yamlconf_key keys[NK] = {
	    [ID] = {"id", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [NAME] = {"name", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	};
	const struct yamlconf_node *v[NK];

	*name = NULL;
	if (n->kind == YAMLCONF_NODE_SCALAR)
		return n;
	if (n->kind != YAMLCONF_NODE_MAP) {
		yamlconf_error(l->y, n,
		    "'agencies': expected an agency id or a mapping of 'id' "
		    "and 'name', found %s",
		    yamlconf_kind_name(n));
		return NULL;
	}
	yamlconf_map(l->y, n, "agency", keys, NK, v);
	*name = v[NAME];
	return v[ID];
}

static void
load_agencies(struct loader *l, const struct yamlconf_node *list)
{
	struct policy *p = l->p;

	if (list == NULL)
		return;
	if (list->kind != YAMLCONF_NODE_LIST || list->n == 0) {
		/* The words yamlconf has for a list that is not one. */
		(void)yamlconf_expect(
		    l->y, list, "'agencies'", YAMLCONF_LIST, YAMLCONF_NONEMPTY);
		return;
	}
	l->agencies_ok = true;
	for (size_t i = 0; i < list->n; i++) {
		const struct yamlconf_node *name,
		    *n = agency_item(l, list->items[i], &name);
		size_t j;

		if (n == NULL)
			continue;
		if (!ident_agency_valid(n->str))
			yamlconf_error(l->y, n,
			    "invalid agency id '%.*s' (a lower-case letter, "
			    "then up to 31 of a-z, 0-9 and _)",
			    QUOTE_MAX, n->str);
		for (j = 0; j < p->nagencies; j++)
			if (strcmp(p->agencies[j], n->str) == 0)
				break;
		if (j < p->nagencies) {
			yamlconf_error(l->y, n,
			    "agency '%.*s' is listed twice (first at line %u)",
			    QUOTE_MAX, n->str, p->agency_line[j]);
			continue;
		}
		if (p->nagencies == POLICY_MAX_AGENCIES) {
			yamlconf_error(l->y, n, "more than %d agencies",
			    POLICY_MAX_AGENCIES);
			l->agencies_ok = false; /* no cascade of unknowns */
			return;
		}
		/* Kept even when invalid, so that uses of it do not also
		 * report it unknown: the load fails anyway. */
		p->agencies[p->nagencies] = strdup(n->str);
		p->agency_names[p->nagencies] =
		    name != NULL ? strdup(name->str) : NULL;
		if (p->agencies[p->nagencies] == NULL ||
		    (name != NULL && p->agency_names[p->nagencies] == NULL)) {
			free(p->agencies[p->nagencies]);
			free(p->agency_names[p->nagencies]);
			yamlconf_error(l->y, n, "out of memory");
			return;
		}
		p->agency_line[p->nagencies++] = n->line;
	}
}

static void
load_purposes(struct loader *l, const struct yamlconf_node *map)
{
	static const struct yamlconf_key keys[] = {
	    {"description", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    {"expires_after", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	};
	struct policy *p = l->p;

	if (map == NULL)
		return;
	l->purposes_ok = true;
	for (size_t i = 0; i < map->n; i++) {
		const struct yamlconf_node *kn = map->keys[i];
		const struct yamlconf_node *v[2];
		struct purpose *pu;
		char what[QUOTE_MAX + 16];
		int rc;

		if (p->npurposes == POLICY_MAX_PURPOSES) {
			yamlconf_error(l->y, kn, "more than %d purposes",
			    POLICY_MAX_PURPOSES);
			l->purposes_ok = false;
			return;
		}
		if (!ident_name_valid(kn->str))
			yamlconf_error(l->y, kn,
			    "invalid purpose name '%.*s' (a lower-case "
			    "letter, then up to 63 of a-z, 0-9, _ and -)",
			    QUOTE_MAX, kn->str);
		/* A duplicate was reported at load; keep the first. */
		for (size_t j = 0; j < p->npurposes; j++)
			if (strcmp(p->purposes[j].name, kn->str) == 0)
				goto next;
		pu = &p->purposes[p->npurposes];
		pu->line = kn->line;
		pu->name = strdup(kn->str);
		if (pu->name == NULL) {
			yamlconf_error(l->y, kn, "out of memory");
			return;
		}
		p->npurposes++;
		snprintf(
		    what, sizeof(what), "purpose '%.*s'", QUOTE_MAX, kn->str);
		yamlconf_map(l->y, map->values[i], what, keys, 2, v);
		if (v[0] != NULL) {
			char label[QUOTE_MAX + 48];

			snprintf(
			    label, sizeof(label), "%s: the description", what);
			pu->description =
			    text_copy(l, v[0], label, TEXT_MAX, true);
		}
		if (v[1] == NULL)
			continue;
		rc = duration_parse(v[1]->str, &pu->expires_ms);
		if (rc == ERROR_TOOBIG ||
		    (rc == ERROR_OK && pu->expires_ms > EXPIRY_MAX))
			yamlconf_error(l->y, v[1],
			    "%s: expires_after '%.*s' is more than 365 days",
			    what, QUOTE_MAX, v[1]->str);
		else if (rc != ERROR_OK)
			yamlconf_error(l->y, v[1],
			    "%s: bad expires_after '%.*s' (expected a "
			    "duration such as 30m, 2h or 1h30m)",
			    what, QUOTE_MAX, v[1]->str);
	next:;
	}
}

static void
load_rule(struct loader *l, const struct yamlconf_node *node)
{
	enum { ID, FROM, TO, PURPOSES, SHARE, EMERGENCY, BASIS, OBLIG, NK };
	static const struct yamlconf_key keys[NK] = {
	    [ID] = {"id", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [FROM] = {"from", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [TO] = {"to", YAMLCONF_LIST, YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [PURPOSES] = {"purposes", YAMLCONF_LIST,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [SHARE] = {"share", YAMLCONF_LIST, 0},
	    [EMERGENCY] = {"emergency_share", YAMLCONF_LIST, 0},
	    [BASIS] = {"basis", YAMLCONF_STRING, 0},
	    [OBLIG] = {"obligations", YAMLCONF_LIST, 0},
	};
	struct policy *p = l->p;
	const struct yamlconf_node *v[NK];
	const char *id = peek(node, "id");
	char what[QUOTE_MAX + 32], label[QUOTE_MAX + 64];
	struct rule *r;
	fieldset both;

	if (p->nrules >= POLICY_MAX_RULES) {
		if (p->nrules++ == POLICY_MAX_RULES) /* report once */
			yamlconf_error(
			    l->y, node, "more than %d rules", POLICY_MAX_RULES);
		return;
	}
	r = &p->rules[p->nrules++];
	r->line = node->line;
	r->from = -1;
	if (id != NULL && *id != '\0')
		snprintf(what, sizeof(what), "rule '%.*s'", QUOTE_MAX, id);
	else
		snprintf(what, sizeof(what), "rule %zu", p->nrules);
	yamlconf_map(l->y, node, what, keys, NK, v);
	if (node->kind != YAMLCONF_NODE_MAP)
		return; /* reported: nothing more to say about it */

	if (v[ID] != NULL) {
		if (!ident_name_valid(v[ID]->str))
			yamlconf_error(l->y, v[ID],
			    "invalid rule id '%.*s' (a lower-case letter, "
			    "then up to 63 of a-z, 0-9, _ and -)",
			    QUOTE_MAX, v[ID]->str);
		for (size_t i = 0; i + 1 < p->nrules; i++) {
			if (p->rules[i].id == NULL ||
			    strcmp(p->rules[i].id, v[ID]->str) != 0)
				continue;
			yamlconf_error(l->y, v[ID],
			    "duplicate rule id '%.*s' (first at line %u)",
			    QUOTE_MAX, v[ID]->str, p->rules[i].line);
			break;
		}
		r->id = strdup(v[ID]->str);
		if (r->id == NULL)
			yamlconf_error(l->y, v[ID], "out of memory");
	}
	if (v[FROM] != NULL)
		r->from = agency_ref(l, v[FROM]);
	if (v[TO] != NULL)
		r->to = name_set(l, v[TO], SET_AGENCY);
	if (r->from >= 0 && (r->to & ((uint64_t)1 << r->from)))
		yamlconf_error(l->y, v[TO], "%s shares from '%s' to itself",
		    what, v[FROM]->str);
	if (v[PURPOSES] != NULL)
		r->purposes = name_set(l, v[PURPOSES], SET_PURPOSE);
	if (v[SHARE] != NULL)
		r->share = (fieldset)name_set(l, v[SHARE], SET_FIELD);
	if (v[EMERGENCY] != NULL)
		r->emergency = (fieldset)name_set(l, v[EMERGENCY], SET_FIELD);
	both = r->share & r->emergency;
	for (int f = 1; f <= FIELDS_COUNT; f++)
		if (fields_has(both, f))
			yamlconf_error(l->y, v[EMERGENCY],
			    "%s: field '%s' is in both share and "
			    "emergency_share",
			    what, fields_name(f));
	if ((v[SHARE] != NULL || !has_key(node, "share")) &&
	    (v[EMERGENCY] != NULL || !has_key(node, "emergency_share")) &&
	    yamlconf_count(v[SHARE]) + yamlconf_count(v[EMERGENCY]) == 0)
		yamlconf_error(l->y, node,
		    "%s shares no fields (give 'share' or 'emergency_share')",
		    what);
	if (v[OBLIG] != NULL)
		r->obligations =
		    (unsigned)name_set(l, v[OBLIG], SET_OBLIGATION);
	if (v[BASIS] == NULL ||
	    strspn(v[BASIS]->str, " \t\n\r") == v[BASIS]->len) {
		if (v[BASIS] != NULL || !has_key(node, "basis"))
			yamlconf_error(l->y, v[BASIS] != NULL ? v[BASIS] : node,
			    "%s has no basis: every disclosure needs a lawful "
			    "basis (Caldicott principle 6)",
			    what);
	} else {
		snprintf(label, sizeof(label), "%s: the basis", what);
		r->basis =
		    text_copy(l, v[BASIS], label, POLICY_BASIS_MAX, false);
	}
}

static void
load_never(struct loader *l, const struct yamlconf_node *node, size_t num)
{
	enum { FROM, TO, PURPOSES, FIELDS, REASON, NK };
	static const struct yamlconf_key keys[NK] = {
	    [FROM] = {"from", YAMLCONF_ONE_OR_LIST, YAMLCONF_NONEMPTY},
	    [TO] = {"to", YAMLCONF_ONE_OR_LIST,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [PURPOSES] = {"purposes", YAMLCONF_ONE_OR_LIST, YAMLCONF_NONEMPTY},
	    [FIELDS] = {"fields", YAMLCONF_LIST,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [REASON] = {"reason", YAMLCONF_STRING, 0},
	};
	struct policy *p = l->p;
	const struct yamlconf_node *v[NK];
	char what[48];
	struct never *n;

	if (p->nnever >= POLICY_MAX_NEVER) {
		if (p->nnever++ == POLICY_MAX_NEVER)
			yamlconf_error(l->y, node, "more than %d never entries",
			    POLICY_MAX_NEVER);
		return;
	}
	n = &p->never[p->nnever++];
	n->line = node->line;
	snprintf(what, sizeof(what), "never entry %zu", num);
	yamlconf_map(l->y, node, what, keys, NK, v);
	if (node->kind != YAMLCONF_NODE_MAP)
		return;
	n->any_from = v[FROM] == NULL;
	n->any_purpose = v[PURPOSES] == NULL;
	n->from =
	    v[FROM] != NULL ? name_set(l, v[FROM], SET_AGENCY) : UINT64_MAX;
	n->purposes = v[PURPOSES] != NULL
	    ? name_set(l, v[PURPOSES], SET_PURPOSE)
	    : UINT64_MAX;
	if (v[TO] != NULL)
		n->to = name_set(l, v[TO], SET_AGENCY);
	if (v[FIELDS] != NULL)
		n->fields = (fieldset)name_set(l, v[FIELDS], SET_FIELD);
	if (v[REASON] != NULL) {
		char label[80];

		snprintf(label, sizeof(label), "%s: the reason", what);
		n->reason = text_copy(l, v[REASON], label, TEXT_MAX, true);
	}
}

/* Indexes for evaluation: interned names and rules by sending agency. */
static int
build_index(struct policy *p)
{
	size_t k = 0;

	memset(p->agency_hash, -1, sizeof(p->agency_hash));
	memset(p->purpose_hash, -1, sizeof(p->purpose_hash));
	for (size_t i = 0; i < p->nagencies; i++)
		hash_insert(p->agency_hash, p->agencies[i], (int)i);
	for (size_t i = 0; i < p->npurposes; i++)
		hash_insert(p->purpose_hash, p->purposes[i].name, (int)i);
	p->by_from = calloc(p->nrules + 1, sizeof(*p->by_from));
	if (p->by_from == NULL)
		return ERROR_NOMEM;
	for (size_t a = 0; a < p->nagencies; a++) {
		p->from_start[a] = k;
		for (size_t i = 0; i < p->nrules; i++)
			if (p->rules[i].from == (int)a)
				p->by_from[k++] = (uint16_t)i;
	}
	p->from_start[p->nagencies] = k;
	return ERROR_OK;
}

static void
load(struct loader *l)
{
	enum {
		AGREEMENT,
		VERSION,
		APPROVED,
		AGENCIES,
		PURPOSES,
		RULES,
		NEVER,
		REVIEW,
		NK
	};
	static const struct yamlconf_key keys[NK] = {
	    [AGREEMENT] = {"agreement", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    [VERSION] = {"version", YAMLCONF_INT, YAMLCONF_REQUIRED},
	    [APPROVED] = {"approved_by", YAMLCONF_STRING,
	        YAMLCONF_REQUIRED | YAMLCONF_NONEMPTY},
	    /* A list of ids or of {id, name}: load_agencies checks it. */
	    [AGENCIES] = {"agencies", YAMLCONF_ANY, YAMLCONF_REQUIRED},
	    [PURPOSES] = {"purposes", YAMLCONF_MAP, YAMLCONF_REQUIRED},
	    [RULES] = {"rules", YAMLCONF_MAP_LIST, YAMLCONF_REQUIRED},
	    [NEVER] = {"never", YAMLCONF_MAP_LIST, 0},
	    [REVIEW] = {"review_breakglass_within", YAMLCONF_STRING, 0},
	};
	struct policy *p = l->p;
	const struct yamlconf_node *v[NK];
	size_t nr, nn;

	yamlconf_map(l->y, yamlconf_root(l->y), NULL, keys, NK, v);
	if (v[AGREEMENT] != NULL)
		p->agreement =
		    text_copy(l, v[AGREEMENT], "'agreement'", TEXT_MAX, false);
	if (v[VERSION] != NULL) {
		p->version = v[VERSION]->integer;
		if (p->version < 1 || p->version > INT32_MAX)
			yamlconf_error(l->y, v[VERSION],
			    "'version' must be a positive whole number");
	}
	if (v[APPROVED] != NULL)
		p->approved_by =
		    text_copy(l, v[APPROVED], "'approved_by'", TEXT_MAX, false);
	load_agencies(l, v[AGENCIES]);
	load_purposes(l, v[PURPOSES]);
	if (v[REVIEW] != NULL &&
	    policy_review_parse(v[REVIEW]->str, &p->review_ms) != 0)
		yamlconf_error(l->y, v[REVIEW],
		    "bad review_breakglass_within '%.*s' (expected a duration "
		    "from 1s to 365d, such as 7d or 72h)",
		    QUOTE_MAX, v[REVIEW]->str);

	nr = v[RULES] != NULL ? v[RULES]->n : 0;
	nn = v[NEVER] != NULL ? v[NEVER]->n : 0;
	p->rules = calloc(nr < POLICY_MAX_RULES ? nr + 1 : POLICY_MAX_RULES,
	    sizeof(*p->rules));
	p->never = calloc(nn < POLICY_MAX_NEVER ? nn + 1 : POLICY_MAX_NEVER,
	    sizeof(*p->never));
	if (p->rules == NULL || p->never == NULL) {
		yamlconf_error(l->y, NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < nr; i++)
		load_rule(l, v[RULES]->items[i]);
	for (size_t i = 0; i < nn; i++)
		load_never(l, v[NEVER]->items[i], i + 1);
	/* Counts past the caps were kept only to report them once. */
	if (p->nrules > POLICY_MAX_RULES)
		p->nrules = POLICY_MAX_RULES;
	if (p->nnever > POLICY_MAX_NEVER)
		p->nnever = POLICY_MAX_NEVER;
	if (build_index(p) != ERROR_OK)
		yamlconf_error(l->y, NULL, "out of memory");
}

int
policy_load_buffer(const void *buf, size_t len, const char *name,
    struct yamlconf_errors *errs, struct policy **out)
{
	struct loader l = {0};
	size_t before = errs->total, first = errs->n;
	int rc;

	*out = NULL;
	if (sodium_init() < 0) {
		yamlconf_errors_add(errs, name, 0, "libsodium failed to start");
		return ERROR_CRYPTO;
	}
	rc = yamlconf_load_buffer(buf, len, name, POLICY_FILE_MAX, errs, &l.y);
	if (rc != ERROR_OK) {
		rc = rc == ERROR_CONFIG ? ERROR_POLICY : rc;
		goto out;
	}
	l.p = calloc(1, sizeof(*l.p));
	if (l.p == NULL || (l.p->name = strdup(name)) == NULL) {
		yamlconf_errors_add(errs, name, 0, "out of memory");
		rc = ERROR_NOMEM;
		goto out;
	}
	crypto_hash_sha256(l.p->sha256, buf, len);
	sodium_bin2hex(l.p->sha256_hex, sizeof(l.p->sha256_hex), l.p->sha256,
	    sizeof(l.p->sha256));
	load(&l);
	/* Any error at all, and there is no policy. */
	if (errs->total != before)
		rc = ERROR_POLICY;
out:
	yamlconf_errors_sort(errs, first);
	yamlconf_free(l.y);
	if (rc != ERROR_OK) {
		policy_free(l.p);
		return rc;
	}
	*out = l.p;
	return ERROR_OK;
}

int
policy_load_file(
    const char *path, struct yamlconf_errors *errs, struct policy **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = fileio_read(path, POLICY_FILE_MAX, &buf, &len);
	if (rc == ERROR_TOOBIG)
		yamlconf_errors_add(errs, path, 0,
		    "file is larger than %d bytes", POLICY_FILE_MAX);
	else if (rc == ERROR_INVAL)
		yamlconf_errors_add(errs, path, 0, "not a regular file");
	else if (rc != ERROR_OK)
		yamlconf_errors_add(errs, path, 0, "%s", error_strerror(rc));
	if (rc != ERROR_OK)
		return rc;
	rc = policy_load_buffer(buf, len, path, errs, out);
	free(buf);
	return rc;
}

/* Evaluation: the hot path. No allocation, no string compare but two. */

int
policy_eval(const struct policy *p, const struct policy_question *q,
    struct policy_decision *d)
{
	uint16_t matched[POLICY_MAX_RULES];
	size_t nmatched = 0;
	fieldset share = 0, glass = 0, never = 0, m;
	uint64_t fbit, tbit, pbit;
	bool emergency;
	int f, t, pu;

	if (p == NULL || q == NULL || d == NULL || q->from == NULL ||
	    q->to == NULL || q->purpose == NULL)
		return ERROR_INVAL;
	if (q->urgency < URGENCY_ROUTINE || q->urgency > URGENCY_EMERGENCY ||
	    q->kind < KIND_RECORD || q->kind > KIND_REQUEST)
		return ERROR_INVAL;
	memset(d->field, 0, sizeof(d->field));
	d->disclosed = 0;
	d->breakglass_fields = 0;
	d->breakglass = false;
	d->known_agencies = false;
	d->urgency = q->urgency;
	d->kind = q->kind;
	d->purpose = NULL;
	d->expires_ms = 0;
	d->nrules = 0;
	d->obligations = 0;
	d->nobligations = 0;

	pu = policy_purpose_index(p, q->purpose);
	if (pu < 0)
		return ERROR_PURPOSE;
	d->purpose = p->purposes[pu].name;
	d->expires_ms = p->purposes[pu].expires_ms;
	f = policy_agency_index(p, q->from);
	t = policy_agency_index(p, q->to);
	if (f < 0 || t < 0)
		return ERROR_OK;
	d->known_agencies = true;
	fbit = (uint64_t)1 << f;
	tbit = (uint64_t)1 << t;
	pbit = (uint64_t)1 << pu;
	emergency = q->urgency == URGENCY_EMERGENCY && q->reason > 0;

	for (size_t k = p->from_start[f]; k < p->from_start[f + 1]; k++) {
		const struct rule *r = &p->rules[p->by_from[k]];

		if (!(r->to & tbit) || !(r->purposes & pbit))
			continue;
		matched[nmatched++] = p->by_from[k];
		for (m = r->share & ~share; m != 0; m &= m - 1) {
			struct policy_field_decision *fd =
			    &d->field[__builtin_ctz(m)];

			fd->reason = POLICY_ALLOWED;
			fd->rule = r->id;
			fd->line = r->line;
		}
		share |= r->share;
		if (emergency)
			glass |= r->emergency;
	}
	/* Break-glass: what emergency_share adds beyond every share. */
	glass &= ~share;
	for (m = glass; m != 0; m &= m - 1) {
		int i = __builtin_ctz(m);
		struct policy_field_decision *fd = &d->field[i];

		for (size_t k = 0; k < nmatched; k++) {
			const struct rule *r = &p->rules[matched[k]];

			if (r->emergency & (1u << i)) {
				fd->reason = POLICY_ALLOWED;
				fd->breakglass = true;
				fd->rule = r->id;
				fd->line = r->line;
				break;
			}
		}
	}
	/* never wins over everything, emergency included. */
	for (size_t i = 0; i < p->nnever; i++) {
		const struct never *n = &p->never[i];

		if (!(n->from & fbit) || !(n->to & tbit) ||
		    !(n->purposes & pbit))
			continue;
		for (m = n->fields & ~never; m != 0; m &= m - 1) {
			struct policy_field_decision *fd =
			    &d->field[__builtin_ctz(m)];

			fd->reason = POLICY_NEVER;
			fd->breakglass = false;
			fd->rule = NULL;
			fd->never = (unsigned)i + 1;
			fd->line = n->line;
		}
		never |= n->fields;
	}
	d->disclosed = (share | glass) & ~never;
	d->breakglass_fields = glass & ~never;
	d->breakglass = d->breakglass_fields != 0;

	for (size_t k = 0; k < nmatched; k++) {
		const struct rule *r = &p->rules[matched[k]];
		fieldset gave = r->share | (emergency ? r->emergency : 0);

		if ((gave & d->disclosed) == 0)
			continue;
		d->rules[d->nrules] = r->id;
		d->bases[d->nrules++] = r->basis;
		d->obligations |= r->obligations;
	}
	for (int o = 0; o < POLICY_OBLIGATION_COUNT; o++)
		if (d->obligations & (1u << o))
			d->obligation_names[d->nobligations++] =
			    policy_obligation_name(o);
	return ERROR_OK;
}

char *
policy_reason_format(
    const struct policy_field_decision *fd, char *buf, size_t n)
{
	switch (fd->reason) {
	case POLICY_ALLOWED:
		snprintf(buf, n, "rule %s%s", fd->rule != NULL ? fd->rule : "?",
		    fd->breakglass ? " (break-glass)" : "");
		break;
	case POLICY_NEVER:
		snprintf(
		    buf, n, "never entry %u (line %u)", fd->never, fd->line);
		break;
	default:
		snprintf(buf, n, "no rule");
		break;
	}
	return buf;
}
