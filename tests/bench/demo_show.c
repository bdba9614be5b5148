/*
 * demo_show: prints the spool files of a running demo (outbox records,
 * receipts, inbox records, status reports) for people, so that scripts/demo
 * needs nothing beyond bash, coreutils and the project's own libraries.
 * Not part of the product; `make demo` builds and runs it.
 *
 *	demo_show record FILE			what a sender's record holds
 *	demo_show receipt FILE			the broker's answer to a sender
 *	demo_show inbox FILE [EXPLAIN [POLICY [RECORD]]]
 *						what a recipient received, and
 *						why the rest was withheld
 *	demo_show statuses DIR MSGID		the status reports in receipts/
 *	demo_show get FILE KEY			one top-level string value
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define WIDTH 100

static json_t *
load(const char *path)
{
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);

	if (j == NULL)
		fprintf(
		    stderr, "demo_show: %s:%d: %s\n", path, err.line, err.text);
	return j;
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* Appends to a bounded buffer. */
struct buf {
	char s[4096];
	size_t n;
};

static void __attribute__((format(printf, 2, 3)))
bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->n >= sizeof(b->s) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->n += (size_t)n < sizeof(b->s) - b->n
		    ? (size_t)n
		    : sizeof(b->s) - 1 - b->n;
}

/* A short rendering of a JSON value: "k: v; k: v", lists joined. */
static void
render(struct buf *b, json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;
	bool first = true;

	switch (json_typeof(v)) {
	case JSON_STRING:
		bput(b, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		bput(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		bput(b, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		bput(b, "yes");
		break;
	case JSON_FALSE:
		bput(b, "no");
		break;
	case JSON_NULL:
		bput(b, "-");
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
		{
			bput(b, "%s", i ? ", " : "");
			if (json_is_object(x)) {
				/* A contact: "name (relationship, phone)". */
				const char *name = str(x, "name");
				bput(b, "%s (", name);
				bool f2 = true;
				json_t *y;
				json_object_foreach(x, k, y)
				{
					if (strcmp(k, "name") == 0)
						continue;
					bput(b, "%s", f2 ? "" : ", ");
					render(b, y);
					f2 = false;
				}
				bput(b, ")");
			} else {
				render(b, x);
			}
		}
		break;
	case JSON_OBJECT:
		json_object_foreach(v, k, x)
		{
			bput(b, "%s%s: ", first ? "" : "; ", k);
			render(b, x);
			first = false;
		}
		break;
	}
}

/* Prints text after a label, wrapped to WIDTH with the label's indent. */
static void
wrapped(const char *label, int indent, const char *text)
{
	int col = printf("%*s%-*s", indent, "", 16, label);
	int start = col;
	const char *p = text;

	while (*p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t w = sp != NULL ? (size_t)(sp - p) : strlen(p);
		if (col > start && col + (int)w + 1 > WIDTH) {
			printf("\n%*s", start, "");
			col = start;
		} else if (col > start) {
			putchar(' ');
			col++;
		}
		fwrite(p, 1, w, stdout);
		col += (int)w;
		p += w;
		while (*p == ' ')
			p++;
	}
	putchar('\n');
}

static void
join(struct buf *b, json_t *a, const char *sep)
{
	size_t i;
	json_t *x;

	if (json_array_size(a) == 0) {
		bput(b, "none");
		return;
	}
	json_array_foreach(a, i, x) bput(b, "%s%s", i ? sep : "",
	    json_string_value(x) ? json_string_value(x) : "?");
}

static int
cmd_record(const char *path)
{
	json_t *r = load(path), *fields;
	struct buf b = {0};
	const char *k;
	json_t *v;

	if (r == NULL)
		return 1;
	fields = json_object_get(r, "fields");
	join(&b, json_object_get(r, "recipients"), ", ");
	printf("  to %s; purpose %s; urgency %s; kind %s\n", b.s,
	    str(r, "purpose"), str(r, "urgency"),
	    json_object_get(r, "kind") ? str(r, "kind") : "record");
	b.n = 0;
	b.s[0] = '\0';
	json_object_foreach(fields, k, v) bput(&b, "%s%s", b.n ? ", " : "", k);
	char label[64];
	snprintf(label, sizeof(label), "holds %zu:", json_object_size(fields));
	wrapped(label, 2, b.s);
	if (json_object_get(r, "requested_fields") != NULL) {
		b.n = 0;
		b.s[0] = '\0';
		join(&b, json_object_get(r, "requested_fields"), ", ");
		wrapped("asks for:", 2, b.s);
	}
	if (json_object_get(r, "reason") != NULL)
		wrapped("reason:", 2, str(r, "reason"));
	if (json_object_get(r, "justification") != NULL)
		wrapped("justification:", 2, str(r, "justification"));
	json_decref(r);
	return 0;
}

static int
cmd_receipt(const char *path)
{
	json_t *r = load(path), *x;
	size_t i;

	if (r == NULL)
		return 1;
	if (json_object_get(r, "errors") != NULL) {
		/* Refused by the sender's own agent: nothing was sent. */
		json_array_foreach(json_object_get(r, "errors"), i, x) printf(
		    "  refused by the sender's agent, not sent: %s: %s\n",
		    str(x, "path"), str(x, "message"));
		json_decref(r);
		return 0;
	}
	if (strcmp(str(r, "outcome"), "accepted") != 0) {
		printf("  broker: REJECTED, reason %s: %s\n", str(r, "reason"),
		    str(r, "detail"));
		printf("  the rejection is in the audit log (proof verified by "
		       "the sender's agent: %s)\n",
		    json_is_true(json_object_get(r, "audit_verified")) ? "yes"
		                                                       : "no");
		json_decref(r);
		return 0;
	}
	printf("  broker: accepted as msg %s (receipt audit proof verified "
	       "by the sender: %s)\n",
	    str(r, "msg_id"),
	    json_is_true(json_object_get(r, "audit_verified")) ? "yes" : "NO");
	json_array_foreach(json_object_get(r, "recipients"), i, x)
	{
		printf("  for %s: %s; %zu field(s) disclosed, %zu withheld; "
		       "audit leaf %lld\n",
		    str(x, "agency"), str(x, "state"),
		    json_array_size(json_object_get(x, "disclosed")),
		    json_array_size(json_object_get(x, "withheld")),
		    (long long)json_integer_value(
		        json_object_get(x, "audit_leaf")));
	}
	json_decref(r);
	return 0;
}

/* The reason text of the never entry that starts at line of policy. */
static void
never_reason(const char *policy, long line, char *out, size_t n)
{
	FILE *f = policy != NULL ? fopen(policy, "r") : NULL;
	char l[1024];
	long no = 0;

	out[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(l, sizeof(l), f) != NULL) {
		no++;
		if (no < line)
			continue;
		if (no > line && strstr(l, "- ") != NULL &&
		    strspn(l, " ") + 2 <= strlen(l) &&
		    strncmp(l + strspn(l, " "), "- ", 2) == 0)
			break; /* the next entry */
		char *r = strstr(l, "reason:");
		if (r != NULL) {
			r += strlen("reason:");
			r += strspn(r, " ");
			r[strcspn(r, "\n")] = '\0';
			snprintf(out, n, "%s", r);
			break;
		}
	}
	fclose(f);
}

static int
cmd_inbox(const char *path, const char *explain, const char *policy,
    const char *record)
{
	json_t *r = load(path), *ex = NULL, *sent = NULL, *x, *ver;
	const char *k;
	struct buf b;
	size_t i;

	if (r == NULL)
		return 1;
	if (explain != NULL && (ex = load(explain)) == NULL)
		return 1;
	if (record != NULL && (sent = load(record)) == NULL)
		return 1;
	printf("  msg %s from %s, purpose %s, urgency %s\n", str(r, "msg_id"),
	    str(r, "sender"), str(r, "purpose"), str(r, "urgency"));
	if (json_is_string(json_object_get(r, "in_reply_to")))
		printf("  in reply to msg %s\n", str(r, "in_reply_to"));
	json_object_foreach(json_object_get(r, "fields"), k, x)
	{
		char label[40];
		memset(&b, 0, sizeof(b));
		render(&b, x);
		if (b.n > 160)
			snprintf(b.s + 157, sizeof(b.s) - 157, "...");
		snprintf(label, sizeof(label), "%s", k);
		wrapped(label, 4,
		    b.n ? b.s : "(nothing: empty in the sender's record)");
	}
	/* What the sender's record held, when known: a withheld field it
	 * left empty is only named, one held is explained. */
	json_t *given = json_object_get(sent, "fields");
	struct buf empty;
	size_t n_held = 0;
	memset(&empty, 0, sizeof(empty));
	json_array_foreach(json_object_get(r, "withheld"), i, x)
	{
		const char *f = json_string_value(x);
		if (f == NULL)
			continue;
		if (sent != NULL && json_object_get(given, f) == NULL) {
			bput(&empty, "%s%s", empty.n ? ", " : "", f);
			continue;
		}
		if (n_held++ == 0)
			printf(
			    "  withheld, with the reason (the broker forwarded "
			    "only their digests):\n");
		json_t *fx = json_object_get(json_object_get(ex, "fields"), f);
		const char *why = fx ? str(fx, "reason") : "";
		char reason[512] = "", label[40];
		memset(&b, 0, sizeof(b));
		if (strncmp(why, "never entry", 11) == 0) {
			const char *ln = strstr(why, "line ");
			never_reason(policy, ln ? atol(ln + 5) : 0, reason,
			    sizeof(reason));
			bput(&b, "%s%s%s", why, reason[0] ? ": " : "", reason);
		} else if (strcmp(why, "no rule") == 0) {
			bput(&b,
			    "no rule of the agreement shares it for this "
			    "purpose");
		} else {
			bput(&b, "%s", why[0] ? why : "withheld");
		}
		snprintf(label, sizeof(label), "%s", f);
		wrapped(label, 4, b.s);
	}
	if (n_held == 0)
		printf("  withheld: nothing the sender's record held\n");
	if (empty.n > 0) {
		bput(&empty, " (empty in the sender's record)");
		wrapped("also withheld:", 2, empty.s);
	}
	memset(&b, 0, sizeof(b));
	join(&b, json_object_get(r, "rules"), ", ");
	wrapped("rules:", 2, b.s);
	memset(&b, 0, sizeof(b));
	join(&b, json_object_get(r, "bases"), " | ");
	wrapped("legal basis:", 2, b.s);
	memset(&b, 0, sizeof(b));
	join(&b, json_object_get(r, "obligations"), ", ");
	wrapped("obligations:", 2, b.s);
	memset(&b, 0, sizeof(b));
	if (json_is_true(json_object_get(r, "breakglass"))) {
		bput(&b,
		    "YES, flagged for review; reason %s; justification "
		    "(sealed for this recipient): %s",
		    str(r, "reason"), str(r, "justification"));
		wrapped("break-glass:", 2, b.s);
	} else {
		wrapped("break-glass:", 2, "no");
	}
	ver = json_object_get(r, "verified");
	memset(&b, 0, sizeof(b));
	bput(&b,
	    "sender signature %s, field digests %s, decryption %s, audit "
	    "proof %s (leaf %lld of %lld)",
	    json_is_true(json_object_get(ver, "sender_signature")) ? "ok"
	                                                           : "FAILED",
	    json_is_true(json_object_get(ver, "field_digests")) ? "ok"
	                                                        : "FAILED",
	    json_is_true(json_object_get(ver, "decryption")) ? "ok" : "FAILED",
	    json_is_true(json_object_get(ver, "audit_proof")) ? "ok" : "FAILED",
	    (long long)json_integer_value(json_object_get(ver, "audit_leaf")),
	    (long long)json_integer_value(
	        json_object_get(ver, "audit_tree_size")));
	wrapped("verified:", 2, b.s);
	json_decref(r);
	json_decref(ex);
	json_decref(sent);
	return 0;
}

static int
cmd_statuses(const char *dir, const char *msg_id)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char *names[64];
	size_t n = 0;

	if (d == NULL) {
		fprintf(stderr, "demo_show: %s: cannot open\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < 64)
		if (strncmp(de->d_name, msg_id, strlen(msg_id)) == 0 &&
		    strstr(de->d_name, ".json") != NULL)
			names[n++] = strdup(de->d_name);
	closedir(d);
	/* delivered before acknowledged before expired, per recipient */
	for (int pass = 0; pass < 3; pass++) {
		static const char *const st[] = {
		    "delivered", "acknowledged", "expired"};
		for (size_t i = 0; i < n; i++) {
			char path[4096];
			json_t *o;
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			if ((o = load(path)) == NULL)
				continue;
			if (strcmp(str(o, "state"), st[pass]) == 0)
				printf("  status: %-12s by %s at %s (audit "
				       "proof verified: %s)\n",
				    str(o, "state"), str(o, "recipient"),
				    str(o, "at"),
				    json_is_true(
				        json_object_get(o, "audit_verified"))
				        ? "yes"
				        : "NO");
			json_decref(o);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return 0;
}

static int
cmd_get(const char *path, const char *key)
{
	json_t *r = load(path);
	const char *s;

	if (r == NULL)
		return 1;
	s = json_string_value(json_object_get(r, key));
	if (s != NULL)
		printf("%s\n", s);
	json_decref(r);
	return s != NULL ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "record") == 0)
		return cmd_record(argv[2]);
	if (argc == 3 && strcmp(argv[1], "receipt") == 0)
		return cmd_receipt(argv[2]);
	if (argc >= 3 && argc <= 6 && strcmp(argv[1], "inbox") == 0)
		return cmd_inbox(argv[2], argc > 3 ? argv[3] : NULL,
		    argc > 4 ? argv[4] : NULL, argc > 5 ? argv[5] : NULL);
	if (argc == 4 && strcmp(argv[1], "statuses") == 0)
		return cmd_statuses(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "get") == 0)
		return cmd_get(argv[2], argv[3]);
	fprintf(stderr,
	    "usage: demo_show record|receipt FILE\n"
	    "       demo_show inbox FILE [EXPLAIN.json [POLICY [RECORD]]]\n"
	    "       demo_show statuses DIR MSGID\n"
	    "       demo_show get FILE KEY\n");
	return 64;
}
