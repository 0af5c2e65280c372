/* SPDX-License-Identifier: MIT */
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
 * a newline: counts, times, CPU, memory, percentiles, the wall-clock times
 * of the run's start and end (start_real_ns, end_real_ns: CLOCK_REALTIME,
 * for merging shards run on several hosts), and, when s->hists is set, the
 * histograms behind the percentiles (bucket by bucket, lossless at their
 * resolution).
 *
 * Schema 2 (from 1): compare cells' statistics carry "n" and "ci95", cells
 * carry "samples" and "histograms", the verdict carries ratios with
 * intervals and U tests; runs carry start_real_ns, end_real_ns,
 * "histograms" and, with a context, "workload" and "shard".
 */
#define FB_REPORT_SCHEMA 2
int fb_report_json(FILE *out, const struct fb_summary *s);

/* What a run's JSON says beyond its summary: what was fetched from where
 * (so that shards can be checked to be one run's parts) and which part of
 * the list this run fetched. Strings are borrowed and may be NULL.
 */
struct fb_report_context {
  const char *workload;    /* one line, for people */
  const char *origin;      /* base URL, or NULL for a user's list */
  const char *corpus;      /* what the origin serves */
  const char *connection;  /* "fresh" or "reuse" */
  const char *scheme;      /* fb_urlset_scheme of the whole list */
  const char *urls_digest; /* fb_urlset_digest of the whole list */
  size_t workload_urls;    /* URLs in the whole list */
  double delay_ms;         /* known origin delay, < 0 unknown */
  unsigned jitter_ms;
  unsigned shard;  /* this run fetched the URLs whose index is shard ... */
  unsigned shards; /* ... modulo shards; 0: the whole list */
  unsigned merged; /* shards merged into this report (fb_merge), or 0 */
};

/* fb_report_json with ctx's fields added: "workload" {"description",
 * "origin", "corpus", "connection", "scheme", "urls", "urls_digest",
 * "delay_ms", "jitter_ms"}, "shard" ({"index", "count"} or null) and
 * "merged_shards" (a count or null). ctx NULL: as fb_report_json.
 */
int fb_report_json_ctx(FILE *out, const struct fb_summary *s,
                       const struct fb_report_context *ctx);

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

/* fb_report_csv for a shard: the i-th result's index column says
 * first + i * stride, its place in the whole list.
 */
int fb_report_csv_shard(FILE *out, const struct fb_collector *c,
                        const struct fb_urlset *urls, const char *engine,
                        size_t first, size_t stride);

/* Writes len bytes of s as a JSON string, quotes included: control
 * characters, quotes and backslashes escaped, invalid UTF-8 replaced by
 * U+FFFD, so that any bytes yield valid JSON. s may hold NUL bytes.
 */
int fb_json_string(FILE *out, const char *s, size_t len);

#endif /* FETCHBENCH_REPORT_H */
