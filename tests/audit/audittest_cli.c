/*
 * audittest_cli: `concordat audit` run in-process with its output captured
 * (audittest.h). Its own library, so that only the CLI tests link the
 * verbs (auditverbs).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/verbs/audit_verbs.h"
#include "audittest.h"
#include "tests/lib/capture.h"

int
audittest_cli(char **out, char **err, ...)
{
	va_list ap;
	int rc;

	va_start(ap, err);
	rc = audittest_vcli(out, err, ap);
	va_end(ap);
	return rc;
}

int
audittest_vcli(char **out, char **err, va_list ap)
{
	return capture_vrunl(audit_cli, out, err, "audit", ap);
}
