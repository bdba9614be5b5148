/*
 * Outbox records (DESIGN.md §8, docs/record-format.md): what a local record
 * system writes into an agent's outbox, checked against the record format
 * with every problem named. Used by concordat-agent and `concordat send`.
 */
#ifndef AGENTS_OUTRECORD_H
#define AGENTS_OUTRECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "common/fields.h"
#include "common/ident.h"
#include "proto/wire.h"

#define OUTRECORD_MAX_FILE     (1024 * 1024)
#define OUTRECORD_LOCAL_ID_MAX 256
#define OUTRECORD_MAX_ERRORS   100 /* listed; then one "more problems" */

/* A checked record, ready to seal. */
struct outrecord {
	size_t n_recipients;
	char recipients[WIRE_MAX_RECIPIENTS][IDENT_AGENCY_MAX + 1];
	char purpose[IDENT_NAME_MAX + 1];
	int urgency; /* enum urgency */
	int kind;    /* enum kind */
	char local_id[OUTRECORD_LOCAL_ID_MAX];
	/* EMERGENCY only: enum emergency_reason, and the text to seal. */
	int reason;
	char justification[WIRE_JUSTIFICATION_MAX + 1];
	bool has_in_reply_to;
	uint8_t in_reply_to[WIRE_MSG_ID_LEN];
	fieldset requested;
	fieldset filled; /* fields the record gives (the rest seal empty) */
	bool has_subject_ref;
	uint8_t subject_ref[WIRE_REF_LEN];
	/* keys_pepper_id of the pepper subject_ref was made with. */
	bool has_pepper_id;
	uint8_t pepper_id[WIRE_REF_LEN];
	/* Field plaintexts (encoded sub-fields), malloc'd, wiped on release. */
	uint8_t *plain[FIELDS_COUNT + 1];
	size_t plain_len[FIELDS_COUNT + 1];
};

/*
 * Parses and checks len bytes of record JSON into *r. Every problem is
 * appended to errors (a JSON array) as {"path": "fields.risks.self_harm",
 * "message": "..."}, OUTRECORD_MAX_ERRORS at most; returns 0 when there
 * were none, else ERROR_INVAL (r is then released). No message quotes the
 * file's bytes (which may be any file at all): bytes that are not UTF-8
 * and JSON syntax errors are placed by line, column and byte offset, and
 * a key is quoted only when it is a plain name ([A-Za-z_][A-Za-z0-9_]*, 64
 * at most), otherwise named by position ("fields.(key 2)"). With a pepper,
 * subject_ref is computed from the record's subject (NHS number, or surname,
 * forename and date of birth); without one (`concordat send`), the subject is
 * only checked.
 */
WUR int outrecord_parse(const uint8_t *buf, size_t len, const uint8_t *pepper,
    struct outrecord *r, json_t *errors);

struct envelope_seal_args;

/* r's subject_ref and pepper_id into a, for envelope_seal. */
void outrecord_subject_args(
    const struct outrecord *r, struct envelope_seal_args *a);

/* r's reason and justification into a, for envelope_seal. */
void outrecord_emergency_args(
    const struct outrecord *r, struct envelope_seal_args *a);

/* Wipes and frees what r holds; r may be released twice. */
void outrecord_release(struct outrecord *r);

/*
 * Appends {"path": path, "message": formatted} to errors, unless it holds
 * OUTRECORD_MAX_ERRORS already (then one last entry says there are more).
 */
void outrecord_error(json_t *errors, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
