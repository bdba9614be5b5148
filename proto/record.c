/*
 * Record JSON to field plaintexts and back, driven by the protobuf
 * descriptors of the thirteen field messages, so that the record format
 * and concordat.proto cannot drift apart: a sub-field exists in JSON
 * exactly when it exists in the schema.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fields.h"
#include "common/suggest.h"
#include "common/wipe.h"
#include "proto/pbutil.h"
#include "proto/record.h"

#define MAX_DEPTH       4
#define MAX_LIST        64
#define RECORD_UINT_MAX 200 /* the only number is an age */
#define LEVEL_PREFIX    "LEVEL_"

static const ProtobufCMessageDescriptor *const descs[FIELDS_COUNT + 1] = {
    NULL,
    &concordat__identity__descriptor,
    &concordat__relatives__descriptor,
    &concordat__demographics__descriptor,
    &concordat__communication__descriptor,
    &concordat__presentation__descriptor,
    &concordat__substances__descriptor,
    &concordat__physical_needs__descriptor,
    &concordat__services__descriptor,
    &concordat__crisis_plan__descriptor,
    &concordat__clinical__descriptor,
    &concordat__risks__descriptor,
    &concordat__health__descriptor,
    &concordat__dependents__descriptor,
};

/*
 * Everything allocated while building one message, freed together and
 * wiped: the strings are copies of the record's text.
 */
struct arena {
	void **p;
	size_t n, cap;
};

static void *
arena_add(struct arena *a, void *p)
{
	if (p == NULL)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;
		void **np = realloc(a->p, cap * sizeof(*np));
		if (np == NULL) {
			wipe_free(p);
			return NULL;
		}
		a->p = np;
		a->cap = cap;
	}
	a->p[a->n++] = p;
	return p;
}

static void
arena_free(struct arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		wipe_free(a->p[i]);
	free(a->p);
}

/* The JSON name of an enum value: "LEVEL_HIGH" is "high". */
static const char *
enum_json_name(const ProtobufCEnumValue *v, char *buf, size_t n)
{
	const char *s = v->name;
	size_t i;

	if (strncmp(s, LEVEL_PREFIX, strlen(LEVEL_PREFIX)) == 0)
		s += strlen(LEVEL_PREFIX);
	for (i = 0; s[i] != '\0' && i + 1 < n; i++)
		buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	buf[i] = '\0';
	return buf;
}

static int __attribute__((format(printf, 4, 5)))
fail(char *why, size_t whylen, const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (why != NULL)
		snprintf(why, whylen, "%s: %s", path, msg);
	return ERROR_INVAL;
}

static int build(const ProtobufCMessageDescriptor *d, const json_t *obj,
    const char *path, int depth, struct arena *a, ProtobufCMessage **out,
    char *why, size_t whylen);

static int
set_field(const ProtobufCFieldDescriptor *fd, char *msg, const json_t *v,
    const char *path, int depth, struct arena *a, char *why, size_t whylen)
{
	protobuf_c_boolean *has =
	    (protobuf_c_boolean *)(void *)(msg + fd->quantifier_offset);
	void *slot = msg + fd->offset;

	if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
		/* Only lists of messages exist in the field schema. */
		size_t n = json_array_size(v);
		ProtobufCMessage **items;
		char sub[300];

		if (!json_is_array(v))
			return fail(why, whylen, path, "expected a list");
		if (n > MAX_LIST)
			return fail(why, whylen, path, "more than %d entries",
			    MAX_LIST);
		items = arena_add(a, calloc(n ? n : 1, sizeof(*items)));
		if (items == NULL)
			return ERROR_NOMEM;
		for (size_t i = 0; i < n; i++) {
			if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) >=
			    (int)sizeof(sub))
				return fail(why, whylen, path, "too deep");
			int rc = build(fd->descriptor, json_array_get(v, i),
			    sub, depth + 1, a, &items[i], why, whylen);
			if (rc != 0)
				return rc;
		}
		memcpy(msg + fd->quantifier_offset, &n, sizeof(n));
		memcpy(slot, &items, sizeof(items));
		return ERROR_OK;
	}
	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING: {
		if (!json_is_string(v))
			return fail(why, whylen, path, "expected text");
		char *s = arena_add(a, strdup(json_string_value(v)));
		if (s == NULL)
			return ERROR_NOMEM;
		if (strlen(s) != json_string_length(v))
			return fail(
			    why, whylen, path, "text holds a NUL character");
		memcpy(slot, &s, sizeof(s));
		return ERROR_OK;
	}
	case PROTOBUF_C_TYPE_BOOL: {
		if (!json_is_boolean(v))
			return fail(
			    why, whylen, path, "expected true or false");
		protobuf_c_boolean b = json_is_true(v);
		memcpy(slot, &b, sizeof(b));
		*has = 1;
		return ERROR_OK;
	}
	case PROTOBUF_C_TYPE_UINT32: {
		json_int_t i = json_integer_value(v);
		if (!json_is_integer(v) || i < 0 || i > RECORD_UINT_MAX)
			return fail(why, whylen, path,
			    "expected a whole number from 0 to %d",
			    RECORD_UINT_MAX);
		uint32_t u = (uint32_t)i;
		memcpy(slot, &u, sizeof(u));
		*has = 1;
		return ERROR_OK;
	}
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = fd->descriptor;
		char name[32], choices[128] = "";
		const char *s = json_string_value(v);
		for (unsigned i = 0; i < ed->n_values; i++) {
			if (ed->values[i].value == 0)
				continue; /* the unset value is not a choice */
			enum_json_name(&ed->values[i], name, sizeof(name));
			if (s != NULL && strcmp(s, name) == 0) {
				int val = ed->values[i].value;
				memcpy(slot, &val, sizeof(val));
				*has = 1;
				return ERROR_OK;
			}
			strncat(choices, choices[0] ? ", " : "",
			    sizeof(choices) - strlen(choices) - 1);
			strncat(choices, name,
			    sizeof(choices) - strlen(choices) - 1);
		}
		return fail(why, whylen, path, "expected one of %s", choices);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage *sub;
		int rc = build(
		    fd->descriptor, v, path, depth + 1, a, &sub, why, whylen);
		if (rc == 0)
			memcpy(slot, &sub, sizeof(sub));
		return rc;
	}
	default:
		return fail(why, whylen, path, "unsupported type");
	}
}

static int
build(const ProtobufCMessageDescriptor *d, const json_t *obj, const char *path,
    int depth, struct arena *a, ProtobufCMessage **out, char *why,
    size_t whylen)
{
	const char *names[32];
	const char *key;
	json_t *v;
	char *msg;
	int rc;

	if (depth > MAX_DEPTH)
		return fail(why, whylen, path, "nested too deeply");
	if (!json_is_object(obj))
		return fail(why, whylen, path, "expected an object");
	msg = arena_add(a, calloc(1, d->sizeof_message));
	if (msg == NULL)
		return ERROR_NOMEM;
	protobuf_c_message_init(d, msg);
	for (unsigned i = 0; i < d->n_fields && i < 32; i++)
		names[i] = d->fields[i].name;
	json_object_foreach((json_t *)(uintptr_t)obj, key, v)
	{
		char sub[300];
		const ProtobufCFieldDescriptor *fd =
		    protobuf_c_message_descriptor_get_field_by_name(d, key);

		if (snprintf(sub, sizeof(sub), "%s.%s", path, key) >=
		    (int)sizeof(sub))
			return fail(why, whylen, path, "key too long");
		if (fd == NULL) {
			const char *near = suggest_closest(
			    key, names, d->n_fields < 32 ? d->n_fields : 32);
			if (near != NULL)
				return fail(why, whylen, sub,
				    "unknown key (did you mean '%s'?)", near);
			return fail(why, whylen, sub, "unknown key");
		}
		if (json_is_null(v))
			continue; /* null is the same as absent */
		if ((rc = set_field(fd, msg, v, sub, depth, a, why, whylen)) !=
		    0)
			return rc;
	}
	*out = (ProtobufCMessage *)(void *)msg;
	return ERROR_OK;
}

int
record_field_encode(int f, const json_t *value, uint8_t **out, size_t *len,
    char *why, size_t whylen)
{
	struct arena a = {0};
	ProtobufCMessage *m = NULL;
	int rc;

	*out = NULL;
	*len = 0;
	if (f < 1 || f > FIELDS_COUNT)
		return ERROR_INVAL;
	if (value == NULL || json_is_null(value)) {
		*out = malloc(1);
		return *out != NULL ? ERROR_OK : ERROR_NOMEM;
	}
	rc = build(descs[f], value, fields_name(f), 0, &a, &m, why, whylen);
	if (rc == 0)
		rc = pbutil_pack(m, out, len);
	arena_free(&a);
	return rc;
}

static json_t *to_json(const ProtobufCMessage *m, int *err);

/*
 * The JSON of one value, or NULL when it is absent (and *err untouched) or
 * cannot be made (*err = ERROR_DECODE): text that is not UTF-8, which
 * protobuf-c does not check and jansson refuses, or a level that is none
 * of the choices.
 */
static json_t *
value_json(const ProtobufCFieldDescriptor *fd, const char *slot, int *err)
{
	char name[32];

	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s;
		json_t *j;
		memcpy(&s, slot, sizeof(s));
		if (s == NULL)
			return NULL;
		j = json_string(s);
		if (j == NULL)
			*err = ERROR_DECODE;
		return j;
	}
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean b;
		memcpy(&b, slot, sizeof(b));
		return json_boolean(b);
	}
	case PROTOBUF_C_TYPE_UINT32: {
		uint32_t u;
		memcpy(&u, slot, sizeof(u));
		if (u > RECORD_UINT_MAX) {
			/* Out of the range the encoder allows. */
			*err = ERROR_DECODE;
			return NULL;
		}
		return json_integer(u);
	}
	case PROTOBUF_C_TYPE_ENUM: {
		int e;
		memcpy(&e, slot, sizeof(e));
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value(fd->descriptor, e);
		if (ev == NULL || e == 0) {
			/* Present but no level: never silently left out. */
			*err = ERROR_DECODE;
			return NULL;
		}
		return json_string(enum_json_name(ev, name, sizeof(name)));
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub;
		memcpy(&sub, slot, sizeof(sub));
		return sub != NULL ? to_json(sub, err) : NULL;
	}
	default:
		return NULL;
	}
}

/* The JSON object of m, or NULL with *err set. */
static json_t *
to_json(const ProtobufCMessage *m, int *err)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	json_t *o = json_object();

	if (o == NULL) {
		*err = ERROR_NOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		json_t *v = NULL;

		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			const char *items;
			memcpy(&n, base + fd->quantifier_offset, sizeof(n));
			memcpy(&items, base + fd->offset, sizeof(items));
			if (n == 0)
				continue;
			v = json_array();
			for (size_t j = 0; v != NULL && j < n; j++)
				json_array_append_new(v,
				    value_json(
				        fd, items + j * sizeof(void *), err));
		} else {
			if (fd->type != PROTOBUF_C_TYPE_STRING &&
			    fd->type != PROTOBUF_C_TYPE_MESSAGE) {
				protobuf_c_boolean has;
				memcpy(&has, base + fd->quantifier_offset,
				    sizeof(has));
				if (!has)
					continue;
			}
			v = value_json(fd, base + fd->offset, err);
		}
		if (*err != 0) {
			/* Never a record with a value silently left out. */
			json_decref(v);
			json_decref(o);
			return NULL;
		}
		if (v != NULL)
			json_object_set_new(o, fd->name, v);
	}
	return o;
}

int
record_field_decode(int f, const uint8_t *plain, size_t len, json_t **out)
{
	ProtobufCMessage *m;
	json_t *o;
	int err = 0;

	*out = NULL;
	if (f < 1 || f > FIELDS_COUNT)
		return ERROR_INVAL;
	if (pbutil_unpack(descs[f], plain, len, fields_name(f), &m, NULL, 0) !=
	    0)
		return ERROR_DECODE;
	/*
	 * Unknown fields, and any encoding but the canonical one
	 * record_field_encode writes: protobuf-c cuts text at a NUL byte,
	 * which only a repacked size shows.
	 */
	if (pbutil_has_unknown(m) ||
	    protobuf_c_message_get_packed_size(m) != len) {
		pbutil_free(m);
		return ERROR_DECODE;
	}
	o = to_json(m, &err);
	pbutil_free(m);
	if (o == NULL)
		return err != 0 ? err : ERROR_NOMEM;
	*out = o;
	return ERROR_OK;
}

void
record_wipe_on_free(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}
