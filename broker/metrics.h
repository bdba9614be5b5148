/*
 * The broker's metrics file (DESIGN.md §9 monitoring): the Prometheus text
 * exposition format, version 0.0.4, written for node_exporter's textfile
 * collector. The writer is the broker's (metrics.c); this header gives
 * the pieces tests check on their own.
 */
#ifndef BROKER_METRICS_H
#define BROKER_METRICS_H

#include "common/strbuf.h"

/*
 * Appends s as a label value: backslash, double quote and line feed
 * escaped as \\, \" and \n, the exposition format's rule; every other
 * byte as it is (UTF-8).
 */
void metrics_label(struct strbuf *sb, const char *s);

#endif
