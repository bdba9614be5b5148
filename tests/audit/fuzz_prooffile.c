/*
 * libFuzzer target over the proof file's reader (audit/prooffile.c), which
 * `concordat audit check-proof` runs on files an auditor was handed: any
 * bytes give a proof or a named refusal; a proof that parses verifies
 * without breaking, and writes back to a file that reads the same.
 * Built with -fsanitize=fuzzer when CONCORDAT_FUZZ is on (clang); the seed
 * corpus in tests/audit/corpus/prooffile is replayed in every build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/prooffile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pk[CHECKPOINT_PK_LEN] = {1, 2, 3};
	struct prooffile pf, back;
	struct prooffile_error err;
	struct strbuf sb = STRBUF_INIT;
	char why[256];
	int rc;

	rc = prooffile_parse((const char *)data, size, &pf, &err);
	check(rc == ERROR_OK || rc == ERROR_PARSE || rc == ERROR_PROOF ||
	    rc == ERROR_NOMEM);
	check(memchr(err.why, '\0', sizeof(err.why)) != NULL);
	check(rc == ERROR_OK || err.why[0] != '\0');
	check(err.line == 0 || rc == ERROR_PARSE);
	if (rc != ERROR_OK) {
		prooffile_release(&pf);
		return 0;
	}
	check(
	    pf.kind == PROOFFILE_INCLUSION || pf.kind == PROOFFILE_CONSISTENCY);
	check(pf.path_len <= MERKLE_MAX_PATH);
	check(pf.kind != PROOFFILE_INCLUSION || pf.index < pf.size);
	check(pf.kind != PROOFFILE_CONSISTENCY || pf.size1 <= pf.size);
	rc = prooffile_verify(&pf, NULL, why, sizeof(why));
	check(rc == ERROR_OK || (rc == ERROR_PROOF && why[0] != '\0'));
	rc = prooffile_verify(&pf, pk, why, sizeof(why));
	check(rc == ERROR_OK || rc == ERROR_PROOF);
	/* What was read writes back to a file that reads the same. */
	if (prooffile_write(&sb, &pf) == ERROR_OK) {
		check(prooffile_parse(sb.buf, sb.len, &back, &err) == ERROR_OK);
		check(back.kind == pf.kind && back.index == pf.index &&
		    back.size == pf.size && back.size1 == pf.size1 &&
		    back.path_len == pf.path_len &&
		    back.has_leaf == pf.has_leaf &&
		    back.leaf_len == pf.leaf_len);
		check(memcmp(back.root, pf.root, MERKLE_HASH_LEN) == 0);
		check(memcmp(back.path, pf.path,
		          pf.path_len * MERKLE_HASH_LEN) == 0);
		check(pf.leaf_len == 0 ||
		    memcmp(back.leaf, pf.leaf, pf.leaf_len) == 0);
		check((back.checkpoint == NULL) == (pf.checkpoint == NULL));
		check(pf.checkpoint == NULL ||
		    strcmp(back.checkpoint, pf.checkpoint) == 0);
		prooffile_release(&back);
	}
	strbuf_release(&sb);
	prooffile_release(&pf);
	return 0;
}
