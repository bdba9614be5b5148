/*
 * The subject pepper and subject_ref (DESIGN.md §4): the keyed hash that
 * lets the broker and the audit log name a person without knowing who they
 * are. Agents compute it when sealing; auditors holding the pepper compute
 * it to look a person up.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/fileio.h"
#include "keys/keys.h"
#include "keys/secretfile.h"

#define PEPPER_FILE_LEN (KEYS_PEPPER_LEN * 2 + 1) /* hex and a newline */

int
keys_pepper_generate(const char *path)
{
	uint8_t *pepper;
	char *hex;
	char dir[4096];
	const char *slash, *name;
	int rc;

	slash = strrchr(path, '/');
	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
		name = path;
	} else {
		if ((size_t)(slash - path) >= sizeof(dir))
			return ERROR_TOOBIG;
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		if (dir[0] == '\0')
			snprintf(dir, sizeof(dir), "/");
		name = slash + 1;
	}
	if (name[0] == '\0')
		return ERROR_INVAL;
	pepper = sodium_malloc(KEYS_PEPPER_LEN);
	hex = sodium_malloc(PEPPER_FILE_LEN + 1);
	if (pepper == NULL || hex == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	randombytes_buf(pepper, KEYS_PEPPER_LEN);
	sodium_bin2hex(hex, PEPPER_FILE_LEN + 1, pepper, KEYS_PEPPER_LEN);
	hex[PEPPER_FILE_LEN - 1] = '\n';
	rc = fileio_write_atomic(
	    dir, name, hex, PEPPER_FILE_LEN, 0600, FILEIO_EXCL);
out:
	sodium_free(hex);
	sodium_free(pepper);
	return rc;
}

int
keys_pepper_load(const char *path, uint8_t **pepper)
{
	uint8_t *file, *p = NULL;
	size_t got = 0;
	int rc;

	*pepper = NULL;
	file = sodium_malloc(PEPPER_FILE_LEN);
	if (file == NULL)
		return ERROR_NOMEM;
	if ((rc = secretfile_read(path, file, PEPPER_FILE_LEN)) != 0)
		goto out;
	rc = ERROR_KEY;
	if (file[PEPPER_FILE_LEN - 1] != '\n')
		goto out;
	p = sodium_malloc(KEYS_PEPPER_LEN);
	if (p == NULL) {
		rc = ERROR_NOMEM;
		goto out;
	}
	if (sodium_hex2bin(p, KEYS_PEPPER_LEN, (const char *)file,
	        PEPPER_FILE_LEN - 1, NULL, &got, NULL) != 0 ||
	    got != KEYS_PEPPER_LEN)
		goto out;
	*pepper = p;
	p = NULL;
	rc = ERROR_OK;
out:
	keys_pepper_free(p);
	sodium_free(file);
	return rc;
}

void
keys_pepper_free(uint8_t *pepper)
{
	if (pepper != NULL)
		sodium_free(pepper);
}

/*
 * The ten digits of s into out (11 bytes): "9434765919", or written in
 * the NHS's 3-3-4 groups, "943 476 5919".
 */
static bool
nhs_digits(const char *s, char out[11])
{
	size_t len = strlen(s), n = 0;
	bool grouped = len == 12 && s[3] == ' ' && s[7] == ' ';

	if (len != 10 && !grouped)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (grouped && (i == 3 || i == 7))
			continue;
		if (s[i] < '0' || s[i] > '9')
			return false;
		out[n++] = s[i];
	}
	out[n] = '\0';
	return n == 10;
}

bool
keys_nhs_valid(const char *s)
{
	char d[11];
	int sum = 0, check;

	if (s == NULL || !nhs_digits(s, d))
		return false;
	/* NHS Data Dictionary: weights 10..2 on the first nine digits. */
	for (int i = 0; i < 9; i++)
		sum += (d[i] - '0') * (10 - i);
	check = 11 - sum % 11;
	if (check == 11)
		check = 0;
	if (check == 10)
		return false;
	return check == d[9] - '0';
}

int
keys_subject_ref_nhs(
    const uint8_t *pepper, const char *nhs, uint8_t out[KEYS_REF_LEN])
{
	char d[11];

	if (!keys_nhs_valid(nhs) || !nhs_digits(nhs, d))
		return ERROR_INVAL;
	crypto_generichash(
	    out, KEYS_REF_LEN, (const uint8_t *)d, 10, pepper, KEYS_PEPPER_LEN);
	return ERROR_OK;
}

/*
 * Appends s to buf (at *used, size n) trimmed, with inner white space runs
 * collapsed to one space and ASCII letters lower-cased. Empty is an error.
 */
static int
normalise(char *buf, size_t n, size_t *used, const char *s)
{
	size_t start = *used;
	bool space = false;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\f' || c == '\v') {
			space = *used > start;
			continue;
		}
		if (c == '|')
			return ERROR_INVAL; /* would make the join ambiguous */
		if (*used + 2 >= n)
			return ERROR_TOOBIG;
		if (space) {
			buf[(*used)++] = ' ';
			space = false;
		}
		buf[(*used)++] =
		    (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
	}
	return *used > start ? ERROR_OK : ERROR_INVAL;
}

bool
keys_date_valid(const char *s)
{
	struct tm tm;
	const char *end;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return false;
	/* strptime accepts 31 February; a round trip through timegm does not.
	 */
	int mday = tm.tm_mday, mon = tm.tm_mon;
	tm.tm_hour = 12;
	time_t t = timegm(&tm);
	struct tm back;
	gmtime_r(&t, &back);
	return back.tm_mday == mday && back.tm_mon == mon;
}

int
keys_subject_ref_name(const uint8_t *pepper, const char *surname,
    const char *forename, const char *dob, uint8_t out[KEYS_REF_LEN])
{
	char buf[1024];
	size_t used = 0;
	int rc;

	if (surname == NULL || forename == NULL || dob == NULL)
		return ERROR_INVAL;
	if ((rc = normalise(buf, sizeof(buf), &used, surname)) != 0)
		goto out;
	buf[used++] = '|';
	if ((rc = normalise(buf, sizeof(buf), &used, forename)) != 0)
		goto out;
	buf[used++] = '|';
	if (!keys_date_valid(dob) || used + 11 > sizeof(buf)) {
		rc = ERROR_INVAL;
		goto out;
	}
	memcpy(buf + used, dob, 10);
	used += 10;
	crypto_generichash(out, KEYS_REF_LEN, (const uint8_t *)buf, used,
	    pepper, KEYS_PEPPER_LEN);
out:
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

void
keys_pepper_id(const uint8_t *pepper, uint8_t out[KEYS_PEPPER_ID_LEN])
{
	static const char input[] = KEYS_PEPPER_ID_INPUT;

	_Static_assert(sizeof(input) - 1 == 22, "the documented 22 bytes");
	crypto_generichash(out, KEYS_PEPPER_ID_LEN, (const uint8_t *)input,
	    sizeof(input) - 1, pepper, KEYS_PEPPER_LEN);
}
