/*
 * Error reporting for command-line verbs.
 */
#include <stdarg.h>
#include <stdio.h>

#include "common/cliutil.h"
#include "common/error.h"

int
cliutil_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("concordat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
cliutil_exit_code(int err)
{
	switch (err) {
	case ERROR_OK:
		return EX_OK;
	case ERROR_NOENT:
		return EX_NOINPUT;
	case ERROR_PERM:
		return EX_NOPERM;
	case ERROR_NOMEM:
		return EX_OSERR;
	case ERROR_IO:
	case ERROR_NOSPC:
		return EX_IOERR;
	case ERROR_EXISTS:
		return EX_CANTCREAT;
	case ERROR_POLICY:
	case ERROR_CONFIG:
		return EX_CONFIG;
	case ERROR_INTERNAL:
		return EX_SOFTWARE;
	case ERROR_BUSY:
		return EX_TEMPFAIL;
	default:
		return EX_DATAERR;
	}
}
