/*
 * The witnessed log's frames (DESIGN.md §7): the ProofRequest naming both
 * sizes, the Proof with the checkpoint at the size asked for and the
 * cosignatures the broker holds, the agents' Cosignature frames, and the
 * AuditProof's tie. wire.c's decoder and encoders call in here.
 */
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "proto/wire_int.h"

#define WHY(...) pbutil_why(why, whylen, ERROR_DECODE, __VA_ARGS__)

static ProtobufCBinaryData
bin(const void *p, size_t n)
{
	ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
	return b;
}

/* Concatenated hashes: a whole number of them, at most WIRE_MAX_PATH. */
static int
hashes(ProtobufCBinaryData b, const uint8_t (**out)[WIRE_HASH_LEN], size_t *n,
    const char *what, char *why, size_t whylen)
{
	if (b.len % WIRE_HASH_LEN != 0 || b.len / WIRE_HASH_LEN > WIRE_MAX_PATH)
		return WHY("%s of %zu bytes is not up to %d hashes of %d bytes",
		    what, b.len, WIRE_MAX_PATH, WIRE_HASH_LEN);
	*out = b.len > 0 ? (const uint8_t(*)[WIRE_HASH_LEN])b.data : NULL;
	*n = b.len / WIRE_HASH_LEN;
	return ERROR_OK;
}

void
wire_decode_proof_request(
    const Concordat__ProofRequest *pr, struct wire_frame *f)
{
	f->u.proof_request_size = pr->tree_size;
	f->u.proof_request_to = pr->has_to_size ? pr->to_size : 0;
}

int
wire_decode_tie(const Concordat__AuditProof *pp, struct wire_audit_proof *p,
    char *why, size_t whylen)
{
	p->has_tie = false;
	p->tie_size = 0;
	p->tie_path = NULL;
	p->n_tie = 0;
	if (!pp->has_tie_size) {
		if (pp->has_tie_path)
			return WHY(
			    "audit proof with a tie path and no tie size");
		return ERROR_OK;
	}
	p->has_tie = true;
	p->tie_size = pp->tie_size;
	if (!pp->has_tie_path)
		return ERROR_OK;
	return hashes(
	    pp->tie_path, &p->tie_path, &p->n_tie, "tie path", why, whylen);
}

void
wire_encode_tie(const struct wire_audit_proof *p, Concordat__AuditProof *pp)
{
	if (!p->has_tie)
		return;
	pp->has_tie_size = 1;
	pp->tie_size = p->tie_size;
	if (p->n_tie > 0) {
		pp->has_tie_path = 1;
		pp->tie_path = bin(p->tie_path, p->n_tie * WIRE_HASH_LEN);
	}
}

/* The members a Witnessed and a Cosignature share. */
static int
decode_cosigned(uint64_t size, bool has_root, ProtobufCBinaryData root,
    bool has_ts, uint64_t ts, bool has_sig, ProtobufCBinaryData sig,
    struct wire_cosignature *c, char *why, size_t whylen)
{
	if (!has_root || pbutil_bytes(c->root, WIRE_HASH_LEN, root) != 0)
		return WHY("cosignature root is not %d bytes", WIRE_HASH_LEN);
	if (!has_ts)
		return WHY("cosignature without a timestamp");
	if (!has_sig || pbutil_bytes(c->signature, WIRE_SIG_LEN, sig) != 0)
		return WHY(
		    "cosignature signature is not %d bytes", WIRE_SIG_LEN);
	c->tree_size = size;
	c->timestamp = ts;
	return ERROR_OK;
}

int
wire_decode_cosignature(const Concordat__Cosignature *pc,
    struct wire_cosignature *c, char *why, size_t whylen)
{
	memset(c, 0, sizeof(*c));
	if (!pc->has_tree_size || pc->tree_size == 0)
		return WHY("cosignature without a tree size");
	return decode_cosigned(pc->tree_size, pc->has_root, pc->root,
	    pc->has_timestamp, pc->timestamp, pc->has_signature, pc->signature,
	    c, why, whylen);
}

static int
decode_witness(const Concordat__Witnessed *pw, struct wire_cosignature *c,
    char *why, size_t whylen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (pbutil_str(c->agency, sizeof(c->agency), pw->agency) != 0 ||
	    !ident_agency_valid(c->agency))
		return WHY("witness without a valid agency");
	if (!pw->has_tree_size || pw->tree_size == 0)
		return WHY("witness '%s' without a tree size", c->agency);
	if ((rc = decode_cosigned(pw->tree_size, pw->has_root, pw->root,
	         pw->has_timestamp, pw->timestamp, pw->has_signature,
	         pw->signature, c, why, whylen)) != 0)
		return rc;
	if (!pw->has_path)
		return ERROR_OK;
	return hashes(
	    pw->path, &c->path, &c->n_path, "witness path", why, whylen);
}

int
wire_decode_proof(
    const Concordat__Proof *pp, struct wire_proof *p, char *why, size_t whylen)
{
	int rc;

	if (!pp->has_checkpoint || pp->checkpoint.len == 0 ||
	    pp->checkpoint.len > WIRE_CHECKPOINT_MAX)
		return WHY("proof without a checkpoint");
	if (pp->n_path > WIRE_MAX_PATH)
		return WHY("consistency path longer than %d", WIRE_MAX_PATH);
	if (pp->n_witnesses > WIRE_MAX_WITNESSES)
		return WHY("more than %d witnesses", WIRE_MAX_WITNESSES);
	p->checkpoint = (const char *)pp->checkpoint.data;
	p->checkpoint_len = pp->checkpoint.len;
	p->from_size = pp->from_size;
	p->to_size = pp->has_to_size ? pp->to_size : 0;
	for (size_t i = 0; i < pp->n_path; i++)
		if (pbutil_bytes(p->path[i], WIRE_HASH_LEN, pp->path[i]) != 0)
			return WHY("consistency hash %zu is not %d bytes", i,
			    WIRE_HASH_LEN);
	p->n_path = pp->n_path;
	for (size_t i = 0; i < pp->n_witnesses; i++) {
		if ((rc = decode_witness(
		         pp->witnesses[i], &p->witnesses[i], why, whylen)) != 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->witnesses[j].agency,
			        p->witnesses[i].agency) == 0)
				return WHY("two witnesses for '%s'",
				    p->witnesses[i].agency);
	}
	p->n_witnesses = pp->n_witnesses;
	return ERROR_OK;
}

/* ------------------------------------------------------------ encoding */

int
wire_proof_request_between(
    uint64_t tree_size, uint64_t to_size, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__ProofRequest pr = CONCORDAT__PROOF_REQUEST__INIT;

	pr.has_tree_size = 1;
	pr.tree_size = tree_size;
	if (to_size != 0) {
		pr.has_to_size = 1;
		pr.to_size = to_size;
	}
	f.body_case = CONCORDAT__FRAME__BODY_PROOF_REQUEST;
	f.proof_request = &pr;
	return pbutil_pack(&f.base, out, len);
}

int
wire_proof_request_encode(uint64_t tree_size, uint8_t **out, size_t *len)
{
	return wire_proof_request_between(tree_size, 0, out, len);
}

int
wire_proof_encode(const struct wire_proof *p, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Proof pp = CONCORDAT__PROOF__INIT;
	ProtobufCBinaryData path[WIRE_MAX_PATH];
	Concordat__Witnessed w[WIRE_MAX_WITNESSES], *wp[WIRE_MAX_WITNESSES];

	if (p->n_path > WIRE_MAX_PATH || p->n_witnesses > WIRE_MAX_WITNESSES)
		return ERROR_INVAL;
	pp.has_checkpoint = 1;
	pp.checkpoint = bin(p->checkpoint, p->checkpoint_len);
	pp.has_from_size = 1;
	pp.from_size = p->from_size;
	for (size_t i = 0; i < p->n_path; i++)
		path[i] = bin(p->path[i], WIRE_HASH_LEN);
	pp.n_path = p->n_path;
	pp.path = path;
	if (p->to_size != 0) {
		pp.has_to_size = 1;
		pp.to_size = p->to_size;
	}
	for (size_t i = 0; i < p->n_witnesses; i++) {
		const struct wire_cosignature *c = &p->witnesses[i];
		if (c->n_path > WIRE_MAX_PATH)
			return ERROR_INVAL;
		concordat__witnessed__init(&w[i]);
		w[i].agency = (char *)(uintptr_t)c->agency;
		w[i].has_tree_size = 1;
		w[i].tree_size = c->tree_size;
		w[i].has_root = 1;
		w[i].root = bin(c->root, WIRE_HASH_LEN);
		w[i].has_timestamp = 1;
		w[i].timestamp = c->timestamp;
		w[i].has_signature = 1;
		w[i].signature = bin(c->signature, WIRE_SIG_LEN);
		if (c->n_path > 0) {
			w[i].has_path = 1;
			w[i].path = bin(c->path, c->n_path * WIRE_HASH_LEN);
		}
		wp[i] = &w[i];
	}
	pp.n_witnesses = p->n_witnesses;
	pp.witnesses = wp;
	f.body_case = CONCORDAT__FRAME__BODY_PROOF;
	f.proof = &pp;
	return pbutil_pack(&f.base, out, len);
}

int
wire_cosignature_encode(
    const struct wire_cosignature *c, uint8_t **out, size_t *len)
{
	Concordat__Frame f = CONCORDAT__FRAME__INIT;
	Concordat__Cosignature pc = CONCORDAT__COSIGNATURE__INIT;

	pc.has_tree_size = 1;
	pc.tree_size = c->tree_size;
	pc.has_root = 1;
	pc.root = bin(c->root, WIRE_HASH_LEN);
	pc.has_timestamp = 1;
	pc.timestamp = c->timestamp;
	pc.has_signature = 1;
	pc.signature = bin(c->signature, WIRE_SIG_LEN);
	f.body_case = CONCORDAT__FRAME__BODY_COSIGNATURE;
	f.cosignature = &pc;
	return pbutil_pack(&f.base, out, len);
}
