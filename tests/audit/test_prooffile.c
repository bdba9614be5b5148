/*
 * audit/prooffile.c: a proof file written and read back, every way a file
 * is refused named (not a proof file, or a proof invalid as it stands),
 * and every way a well-formed proof fails to hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/prooffile.h"

#define ORIGIN "test.example/prooffile"

struct fixture {
	uint8_t pk[CHECKPOINT_PK_LEN], sk[CHECKPOINT_SK_LEN];
	uint8_t other_pk[CHECKPOINT_PK_LEN], other_sk[CHECKPOINT_SK_LEN];
	uint8_t leaves[2][MERKLE_HASH_LEN]; /* the hashes of "a" and "b" */
	uint8_t root[MERKLE_HASH_LEN];      /* their tree of two */
	char note[CHECKPOINT_MAX];          /* its checkpoint, signed by sk */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct checkpoint cp;
	size_t len;

	if (f == NULL || sodium_init() < 0) {
		free(f);
		return -1;
	}
	crypto_sign_keypair(f->pk, f->sk);
	crypto_sign_keypair(f->other_pk, f->other_sk);
	merkle_hash_leaf((const uint8_t *)"a", 1, f->leaves[0]);
	merkle_hash_leaf((const uint8_t *)"b", 1, f->leaves[1]);
	merkle_hash_children(f->leaves[0], f->leaves[1], f->root);
	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), ORIGIN);
	cp.size = 2;
	memcpy(cp.root, f->root, MERKLE_HASH_LEN);
	if (checkpoint_sign(&cp, f->sk, f->note, sizeof(f->note), &len) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	return 0;
}

/* The inclusion proof of leaf "a" in the tree of two, with leaf and note. */
static void
inclusion(const struct fixture *f, struct prooffile *pf)
{
	memset(pf, 0, sizeof(*pf));
	pf->kind = PROOFFILE_INCLUSION;
	pf->index = 0;
	pf->size = 2;
	memcpy(pf->root, f->root, MERKLE_HASH_LEN);
	memcpy(pf->leaf_hash, f->leaves[0], MERKLE_HASH_LEN);
	memcpy(pf->path[0], f->leaves[1], MERKLE_HASH_LEN);
	pf->path_len = 1;
	assert_non_null(pf->leaf = malloc(1));
	pf->leaf[0] = 'a';
	pf->leaf_len = 1;
	pf->has_leaf = true;
	assert_non_null(pf->checkpoint = strdup(f->note));
	pf->has_checkpoint = true;
}

/* Writes pf, reads it back into *back; returns the text (caller frees). */
static char *
round_trip(const struct prooffile *pf, struct prooffile *back)
{
	struct strbuf sb = STRBUF_INIT;
	struct prooffile_error err;
	char *text;

	assert_int_equal(prooffile_write(&sb, pf), 0);
	assert_int_equal(prooffile_parse(sb.buf, sb.len, back, &err), ERROR_OK);
	assert_non_null(text = strdup(strbuf_str(&sb)));
	strbuf_release(&sb);
	return text;
}

static void
test_inclusion_round_trip(void **state)
{
	struct fixture *f = *state;
	struct prooffile pf, back;
	char why[256], *text;

	inclusion(f, &pf);
	text = round_trip(&pf, &back);
	/* The vectors' member order, then leaf and checkpoint. */
	assert_non_null(strstr(text,
	    "{\n  \"leafIdx\": 0,\n  \"treeSize\": 2,\n"
	    "  \"root\": \""));
	assert_true(strstr(text, "\"proof\"") < strstr(text, "\"leaf\":"));
	assert_true(strstr(text, "\"leaf\":") < strstr(text, "\"checkpoint\""));
	assert_non_null(strstr(text, "\"leaf\": \"YQ==\""));
	assert_int_equal(text[strlen(text) - 1], '\n');
	assert_int_equal(back.kind, PROOFFILE_INCLUSION);
	assert_int_equal(back.index, 0);
	assert_int_equal(back.size, 2);
	assert_memory_equal(back.root, f->root, MERKLE_HASH_LEN);
	assert_memory_equal(back.leaf_hash, f->leaves[0], MERKLE_HASH_LEN);
	assert_int_equal(back.path_len, 1);
	assert_memory_equal(back.path[0], f->leaves[1], MERKLE_HASH_LEN);
	assert_true(back.has_leaf);
	assert_int_equal(back.leaf_len, 1);
	assert_int_equal(back.leaf[0], 'a');
	assert_string_equal(back.checkpoint, f->note);
	assert_int_equal(prooffile_verify(&back, NULL, why, sizeof(why)), 0);
	assert_int_equal(prooffile_verify(&back, f->pk, why, sizeof(why)), 0);
	assert_int_equal(prooffile_verify(&back, f->other_pk, why, sizeof(why)),
	    ERROR_PROOF);
	assert_string_equal(why, "checkpoint is not signed by the broker key");
	free(text);
	prooffile_release(&pf);
	prooffile_release(&back);
	assert_null(back.leaf); /* released is zeroed */
}

static void
test_consistency_round_trip(void **state)
{
	struct fixture *f = *state;
	struct prooffile pf, back;
	char why[256], *text;

	memset(&pf, 0, sizeof(pf));
	pf.kind = PROOFFILE_CONSISTENCY;
	pf.size1 = 1;
	pf.size = 2;
	memcpy(pf.root1, f->leaves[0], MERKLE_HASH_LEN);
	memcpy(pf.root, f->root, MERKLE_HASH_LEN);
	memcpy(pf.path[0], f->leaves[1], MERKLE_HASH_LEN);
	pf.path_len = 1;
	text = round_trip(&pf, &back);
	assert_non_null(strstr(text, "{\n  \"size1\": 1,\n  \"size2\": 2,\n"));
	assert_null(strstr(text, "checkpoint"));
	assert_int_equal(back.kind, PROOFFILE_CONSISTENCY);
	assert_int_equal(back.size1, 1);
	assert_false(back.has_checkpoint);
	assert_int_equal(prooffile_verify(&back, NULL, why, sizeof(why)), 0);
	/* a broker key needs a checkpoint to check */
	assert_int_equal(
	    prooffile_verify(&back, f->pk, why, sizeof(why)), ERROR_PROOF);
	assert_string_equal(
	    why, "--broker-key given but the file has no checkpoint");
	/* the wrong old root */
	back.root1[0] ^= 1;
	assert_int_equal(
	    prooffile_verify(&back, NULL, why, sizeof(why)), ERROR_PROOF);
	assert_string_equal(why,
	    "the proof does not show that the tree of size1 is a prefix of "
	    "the tree of size2");
	free(text);
	prooffile_release(&back);
}

/* prooffile_parse of text: the result, and err->why in *why. */
static int
parse(const char *text, char *why, size_t n, int *line)
{
	struct prooffile pf;
	struct prooffile_error err;
	int rc = prooffile_parse(text, strlen(text), &pf, &err);

	snprintf(why, n, "%s", err.why);
	if (line != NULL)
		*line = err.line;
	prooffile_release(&pf);
	return rc;
}

#define H "\"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\""

static void
test_not_a_proof_file(void **state)
{
	char why[256];
	int line;

	(void)state;
	assert_int_equal(
	    parse("{\"leafIdx\": 0,\n", why, sizeof(why), &line), ERROR_PARSE);
	assert_int_equal(line, 2);
	assert_non_null(strstr(why, "not JSON: "));
	assert_int_equal(parse("[1, 2]", why, sizeof(why), &line), ERROR_PARSE);
	assert_int_equal(line, 0);
	assert_string_equal(why, "not a JSON object");
	assert_int_equal(
	    parse("{\"a\": 1}", why, sizeof(why), NULL), ERROR_PARSE);
	assert_string_equal(why,
	    "neither an inclusion proof (leafIdx) nor a consistency proof "
	    "(size1)");
	/* duplicate members are refused, as any reader might take either */
	assert_int_equal(
	    parse("{\"size1\": 1, \"size1\": 2}", why, sizeof(why), NULL),
	    ERROR_PARSE);
	{
		struct prooffile pf;
		struct prooffile_error err;
		assert_int_equal(
		    prooffile_parse("{}", PROOFFILE_MAX + 1, &pf, &err),
		    ERROR_PARSE);
		prooffile_release(&pf);
	}
}

static void
test_invalid_as_it_stands(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
	    {"{\"leafIdx\": \"0\"}", "leafIdx is not a leaf number"},
	    {"{\"leafIdx\": -1}", "leafIdx is not a leaf number"},
	    {"{\"leafIdx\": 0, \"treeSize\": 1.5}",
	        "treeSize is not a tree size"},
	    {"{\"leafIdx\": 0, \"treeSize\": 1, \"root\": \"AAAA\"}",
	        "root is not a base64 SHA-256 hash"},
	    {"{\"leafIdx\": 0, \"treeSize\": 1, \"root\": " H "}",
	        "leafHash is not a base64 SHA-256 hash"},
	    {"{\"leafIdx\": 0, \"treeSize\": 1, \"root\": " H
	     ", \"leafHash\": " H ", \"proof\": {}}",
	        "proof is not a list of hashes"},
	    {"{\"leafIdx\": 0, \"treeSize\": 1, \"root\": " H
	     ", \"leafHash\": " H ", \"proof\": [" H ", 7]}",
	        "proof[1] is not a base64 SHA-256 hash"},
	    {"{\"leafIdx\": 1, \"treeSize\": 1, \"root\": " H
	     ", \"leafHash\": " H "}",
	        "leafIdx 1 is not in a tree of 1 leaves"},
	    {"{\"leafIdx\": 0, \"treeSize\": 1, \"root\": " H
	     ", \"leafHash\": " H ", \"leaf\": \"!!\"}",
	        "leaf is not base64"},
	    {"{\"leafIdx\": 0, \"treeSize\": 1, \"root\": " H
	     ", \"leafHash\": " H ", \"leaf\": 3}",
	        "leaf is not base64"},
	    {"{\"leafIdx\": 18446744073709551615}",
	        "a number is out of range (line 1)"},
	    {"{\"size1\": 1}", "size1 and size2 must be tree sizes"},
	    {"{\"size1\": 1, \"size2\": 2, \"root1\": 1}",
	        "root1 is not a base64 SHA-256 hash"},
	    {"{\"size1\": 1, \"size2\": 2, \"root1\": " H "}",
	        "root2 is not a base64 SHA-256 hash"},
	    {"{\"size1\": 3, \"size2\": 2, \"root1\": " H ", \"root2\": " H "}",
	        "size1 3 is larger than size2 2"},
	};
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    parse(cases[i].text, why, sizeof(why), NULL), ERROR_PROOF);
		assert_string_equal(why, cases[i].why);
	}
}

static void
test_long_path(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char why[256];

	(void)state;
	strbuf_addstr(&sb,
	    "{\"size1\": 1, \"size2\": 2, \"root1\": " H ", \"root2\": " H
	    ", \"proof\": [");
	for (int i = 0; i <= MERKLE_MAX_PATH; i++)
		strbuf_addstr(&sb, i > 0 ? ", " H : H);
	strbuf_addstr(&sb, "]}");
	assert_int_equal(
	    parse(strbuf_str(&sb), why, sizeof(why), NULL), ERROR_PROOF);
	assert_string_equal(
	    why, "proof has 65 hashes; no tree needs more than 64");
	strbuf_release(&sb);
	/* null and missing proofs are the empty path */
	assert_int_equal(parse("{\"size1\": 2, \"size2\": 2, \"root1\": " H
	                       ", \"root2\": " H ", \"proof\": null}",
	                     why, sizeof(why), NULL),
	    ERROR_OK);
}

static void
test_does_not_hold(void **state)
{
	struct fixture *f = *state;
	struct prooffile pf;
	char why[256], *note;

	inclusion(f, &pf);
	pf.path[0][5] ^= 0x10;
	assert_int_equal(
	    prooffile_verify(&pf, NULL, why, sizeof(why)), ERROR_PROOF);
	assert_string_equal(
	    why, "the proof does not lead from leafHash to root");
	pf.path[0][5] ^= 0x10;
	pf.leaf[0] = 'b';
	assert_int_equal(
	    prooffile_verify(&pf, NULL, why, sizeof(why)), ERROR_PROOF);
	assert_string_equal(why, "leafHash is not the hash of leaf");
	pf.leaf[0] = 'a';
	/* a note that is not a note, or not a string */
	note = pf.checkpoint;
	pf.checkpoint = (char *)(uintptr_t) "not a note\n";
	assert_int_equal(
	    prooffile_verify(&pf, NULL, why, sizeof(why)), ERROR_PROOF);
	assert_string_equal(why, "checkpoint is not a checkpoint note");
	pf.checkpoint = NULL;
	assert_int_equal(
	    prooffile_verify(&pf, NULL, why, sizeof(why)), ERROR_PROOF);
	assert_string_equal(why, "checkpoint is not a checkpoint note");
	pf.checkpoint = note;
	/* a proof that holds, of a tree the note is not about: "a" alone */
	pf.size = 1;
	memcpy(pf.root, f->leaves[0], MERKLE_HASH_LEN);
	pf.path_len = 0;
	assert_int_equal(
	    prooffile_verify(&pf, NULL, why, sizeof(why)), ERROR_PROOF);
	assert_string_equal(why, "the checkpoint is for another tree (size 2)");
	prooffile_release(&pf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inclusion_round_trip),
	    cmocka_unit_test(test_consistency_round_trip),
	    cmocka_unit_test(test_not_a_proof_file),
	    cmocka_unit_test(test_invalid_as_it_stands),
	    cmocka_unit_test(test_long_path),
	    cmocka_unit_test(test_does_not_hold),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
