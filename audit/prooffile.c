/*
 * The proof file (prooffile.h): RFC 6962 proofs in the JSON shape of the
 * published test vectors, written by `audit prove --json`, read by
 * `audit check-proof` and the vector tests.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "audit/prooffile.h"

static int say(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes why; returns ERROR_PROOF, so that a check reads `return say(..)`. */
static int
say(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return ERROR_PROOF;
}

static int
get_size(const json_t *o, const char *key, uint64_t *v)
{
	const json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return ERROR_INVAL;
	*v = (uint64_t)json_integer_value(j);
	return ERROR_OK;
}

static int
get_hash(const json_t *o, const char *key, uint8_t h[MERKLE_HASH_LEN])
{
	const json_t *j = json_object_get(o, key);

	if (!json_is_string(j))
		return ERROR_INVAL;
	return merkle_hash_from_base64(
	    json_string_value(j), json_string_length(j), h);
}

/* The proof array (null or missing: empty). */
static int
get_path(const json_t *o, struct prooffile *pf, struct prooffile_error *err)
{
	const json_t *a = json_object_get(o, "proof"), *e;
	size_t i;

	pf->path_len = 0;
	if (a == NULL || json_is_null(a))
		return ERROR_OK;
	if (!json_is_array(a))
		return say(err->why, sizeof(err->why),
		    "proof is not a list of hashes");
	if (json_array_size(a) > MERKLE_MAX_PATH)
		return say(err->why, sizeof(err->why),
		    "proof has %zu hashes; no tree needs more than %d",
		    json_array_size(a), MERKLE_MAX_PATH);
	json_array_foreach(a, i, e)
	{
		if (!json_is_string(e) ||
		    merkle_hash_from_base64(json_string_value(e),
		        json_string_length(e), pf->path[i]) != 0)
			return say(err->why, sizeof(err->why),
			    "proof[%zu] is not a base64 SHA-256 hash", i);
	}
	pf->path_len = json_array_size(a);
	return ERROR_OK;
}

/* The optional members: leaf (inclusion) and checkpoint. */
static int
get_extras(const json_t *o, struct prooffile *pf, struct prooffile_error *err)
{
	const json_t *leaf = json_object_get(o, "leaf");
	const json_t *note = json_object_get(o, "checkpoint");
	const char *s, *end;
	size_t len, got;

	if (pf->kind == PROOFFILE_INCLUSION && leaf != NULL) {
		pf->has_leaf = true;
		if ((s = json_string_value(leaf)) == NULL)
			return say(
			    err->why, sizeof(err->why), "leaf is not base64");
		len = strlen(s);
		if ((pf->leaf = malloc(len + 1)) == NULL)
			return ERROR_NOMEM;
		if (sodium_base642bin(pf->leaf, len + 1, s, len, NULL, &got,
		        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    end != s + len)
			return say(
			    err->why, sizeof(err->why), "leaf is not base64");
		pf->leaf_len = got;
	}
	if (note != NULL) {
		pf->has_checkpoint = true;
		if (json_is_string(note) &&
		    (pf->checkpoint = strdup(json_string_value(note))) == NULL)
			return ERROR_NOMEM;
	}
	return ERROR_OK;
}

static int
parse_inclusion(
    const json_t *o, struct prooffile *pf, struct prooffile_error *err)
{
	int rc;

	pf->kind = PROOFFILE_INCLUSION;
	if (get_size(o, "leafIdx", &pf->index) != 0)
		return say(
		    err->why, sizeof(err->why), "leafIdx is not a leaf number");
	if (get_size(o, "treeSize", &pf->size) != 0)
		return say(
		    err->why, sizeof(err->why), "treeSize is not a tree size");
	if (get_hash(o, "root", pf->root) != 0)
		return say(err->why, sizeof(err->why),
		    "root is not a base64 SHA-256 hash");
	if (get_hash(o, "leafHash", pf->leaf_hash) != 0)
		return say(err->why, sizeof(err->why),
		    "leafHash is not a base64 SHA-256 hash");
	if ((rc = get_path(o, pf, err)) != 0)
		return rc;
	if (pf->index >= pf->size)
		return say(err->why, sizeof(err->why),
		    "leafIdx %" PRIu64 " is not in a tree of %" PRIu64
		    " leaves",
		    pf->index, pf->size);
	return get_extras(o, pf, err);
}

static int
parse_consistency(
    const json_t *o, struct prooffile *pf, struct prooffile_error *err)
{
	int rc;

	pf->kind = PROOFFILE_CONSISTENCY;
	if (get_size(o, "size1", &pf->size1) != 0 ||
	    get_size(o, "size2", &pf->size) != 0)
		return say(err->why, sizeof(err->why),
		    "size1 and size2 must be tree sizes");
	if (get_hash(o, "root1", pf->root1) != 0)
		return say(err->why, sizeof(err->why),
		    "root1 is not a base64 SHA-256 hash");
	if (get_hash(o, "root2", pf->root) != 0)
		return say(err->why, sizeof(err->why),
		    "root2 is not a base64 SHA-256 hash");
	if ((rc = get_path(o, pf, err)) != 0)
		return rc;
	if (pf->size1 > pf->size)
		return say(err->why, sizeof(err->why),
		    "size1 %" PRIu64 " is larger than size2 %" PRIu64,
		    pf->size1, pf->size);
	return get_extras(o, pf, err);
}

int
prooffile_parse(const char *text, size_t len, struct prooffile *pf,
    struct prooffile_error *err)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	memset(pf, 0, sizeof(*pf));
	memset(err, 0, sizeof(*err));
	if (len > PROOFFILE_MAX) {
		snprintf(err->why, sizeof(err->why),
		    "larger than %d bytes: not a proof file", PROOFFILE_MAX);
		return ERROR_PARSE;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL && json_error_code(&jerr) == json_error_numeric_overflow)
		return say(err->why, sizeof(err->why),
		    "a number is out of range (line %d)", jerr.line);
	if (o == NULL) {
		err->line = jerr.line > 0 ? jerr.line : 1;
		err->column = jerr.column > 0 ? jerr.column : 1;
		snprintf(err->why, sizeof(err->why), "not JSON: %s", jerr.text);
		return ERROR_PARSE;
	}
	rc = ERROR_PARSE;
	if (!json_is_object(o))
		snprintf(err->why, sizeof(err->why), "not a JSON object");
	else if (json_object_get(o, "leafIdx") != NULL)
		rc = parse_inclusion(o, pf, err);
	else if (json_object_get(o, "size1") != NULL)
		rc = parse_consistency(o, pf, err);
	else
		snprintf(err->why, sizeof(err->why),
		    "neither an inclusion proof (leafIdx) nor a consistency "
		    "proof (size1)");
	if (rc == ERROR_NOMEM)
		snprintf(err->why, sizeof(err->why), "out of memory");
	json_decref(o);
	return rc;
}

/* The checkpoint the file may carry, against the proof's tree and pk. */
static int
verify_note(const struct prooffile *pf, const uint8_t *pk, char *why, size_t n)
{
	struct checkpoint cp;
	const char *text = pf->checkpoint;

	if (!pf->has_checkpoint)
		return pk == NULL ? ERROR_OK
		                  : say(why, n,
		                        "--broker-key given but the file has "
		                        "no checkpoint");
	if (text == NULL || checkpoint_parse(text, strlen(text), &cp) != 0)
		return say(why, n, "checkpoint is not a checkpoint note");
	if (pk != NULL &&
	    checkpoint_verify(text, strlen(text), cp.origin, pk, &cp) != 0)
		return say(
		    why, n, "checkpoint is not signed by the broker key");
	if (cp.size != pf->size ||
	    memcmp(cp.root, pf->root, MERKLE_HASH_LEN) != 0)
		return say(why, n,
		    "the checkpoint is for another tree (size %" PRIu64 ")",
		    cp.size);
	return ERROR_OK;
}

int
prooffile_verify(
    const struct prooffile *pf, const uint8_t *pk, char *why, size_t n)
{
	const uint8_t(*path)[MERKLE_HASH_LEN] =
	    (const uint8_t(*)[MERKLE_HASH_LEN])pf->path;
	uint8_t h[MERKLE_HASH_LEN];

	if (pf->kind == PROOFFILE_INCLUSION) {
		if (merkle_verify_inclusion(pf->index, pf->size, pf->leaf_hash,
		        path, pf->path_len, pf->root) != 0)
			return say(why, n,
			    "the proof does not lead from leafHash to root");
		if (pf->has_leaf) {
			merkle_hash_leaf(pf->leaf, pf->leaf_len, h);
			if (memcmp(h, pf->leaf_hash, MERKLE_HASH_LEN) != 0)
				return say(
				    why, n, "leafHash is not the hash of leaf");
		}
	} else if (pf->kind == PROOFFILE_CONSISTENCY) {
		if (merkle_verify_consistency(pf->size1, pf->size, pf->root1,
		        pf->root, path, pf->path_len) != 0)
			return say(why, n,
			    "the proof does not show that the tree of size1 "
			    "is a prefix of the tree of size2");
	} else {
		return say(why, n, "not a proof");
	}
	return verify_note(pf, pk, why, n);
}

static int
set_new(json_t *o, const char *key, json_t *v)
{
	return v == NULL                          ? ERROR_NOMEM
	    : json_object_set_new(o, key, v) == 0 ? ERROR_OK
	                                          : ERROR_NOMEM;
}

static json_t *
hash_json(const uint8_t h[MERKLE_HASH_LEN])
{
	char b64[MERKLE_HASH_B64];

	return json_string(merkle_hash_to_base64(h, b64));
}

static json_t *
path_json(const struct prooffile *pf)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < pf->path_len; i++)
		if (json_array_append_new(a, hash_json(pf->path[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *
leaf_json(const struct prooffile *pf)
{
	size_t l64 = sodium_base64_encoded_len(
	    pf->leaf_len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(l64);
	json_t *s;

	if (b64 == NULL)
		return NULL;
	sodium_bin2base64(
	    b64, l64, pf->leaf, pf->leaf_len, sodium_base64_VARIANT_ORIGINAL);
	s = json_string(b64);
	free(b64);
	return s;
}

int
prooffile_write(struct strbuf *sb, const struct prooffile *pf)
{
	json_t *o = json_object();
	char *text = NULL;
	int rc = ERROR_NOMEM;

	if (o == NULL)
		goto out;
	if (pf->kind == PROOFFILE_INCLUSION) {
		if (set_new(
		        o, "leafIdx", json_integer((json_int_t)pf->index)) ||
		    set_new(
		        o, "treeSize", json_integer((json_int_t)pf->size)) ||
		    set_new(o, "root", hash_json(pf->root)) ||
		    set_new(o, "leafHash", hash_json(pf->leaf_hash)) ||
		    set_new(o, "proof", path_json(pf)) ||
		    (pf->has_leaf && set_new(o, "leaf", leaf_json(pf))))
			goto out;
	} else {
		if (set_new(o, "size1", json_integer((json_int_t)pf->size1)) ||
		    set_new(o, "size2", json_integer((json_int_t)pf->size)) ||
		    set_new(o, "root1", hash_json(pf->root1)) ||
		    set_new(o, "root2", hash_json(pf->root)) ||
		    set_new(o, "proof", path_json(pf)))
			goto out;
	}
	if (pf->checkpoint != NULL &&
	    set_new(o, "checkpoint", json_string(pf->checkpoint)) != 0)
		goto out;
	if ((text = json_dumps(o, JSON_INDENT(2))) == NULL)
		goto out;
	strbuf_addstr(sb, text);
	strbuf_addch(sb, '\n');
	rc = strbuf_error(sb);
out:
	free(text);
	json_decref(o);
	return rc;
}

void
prooffile_release(struct prooffile *pf)
{
	free(pf->leaf);
	free(pf->checkpoint);
	memset(pf, 0, sizeof(*pf));
}
