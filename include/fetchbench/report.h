#ifndef FETCHBENCH_REPORT_H
#define FETCHBENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

struct fb_summary;
struct fb_collector;
struct fb_urlset;

/* Writers of run reports. Each returns 0, or -errno when writing failed
 * (ENOSPC on /dev/full, say): output errors are checked, never ignored.
 */

/* A human table: a header line, then one row per summary. */
int fb_report_text(FILE *out, const struct fb_summary *rows, size_t n);

/* The summary as one JSON object with "schema": FB_REPORT_SCHEMA, followed by
 * a newline.
 */
#define FB_REPORT_SCHEMA 1
int fb_report_json(FILE *out, const struct fb_summary *s);

/* One CSV row per request, with a header line: index, url, engine, worker,
 * outcome, http_status, error_code, body_bytes, checksum (16 hex digits),
 * reused, handshake (full, resumed or empty), due_ms (open loop: when it
 * was due, from the run's start), start_ms (from the run's start),
 * connect_ms, tls_ms, ttfb_ms, total_ms (from the request's start; empty
 * when the phase did not happen), message. Fields are quoted per RFC 4180
 * where needed.
 */
int fb_report_csv(FILE *out, const struct fb_collector *c,
                  const struct fb_urlset *urls, const char *engine);

/* Writes len bytes of s as a JSON string, quotes included: control
 * characters, quotes and backslashes escaped, invalid UTF-8 replaced by
 * U+FFFD, so that any bytes yield valid JSON. s may hold NUL bytes.
 */
int fb_json_string(FILE *out, const char *s, size_t len);

#endif /* FETCHBENCH_REPORT_H */
