/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/report.h"
#include "fetchbench/urlset.h"

/* A field goes out bare unless it holds a comma, a quote or a line break;
 * then it is quoted with inner quotes doubled (RFC 4180).
 */
static void field(struct fb__out *o, const char *s) {
  const char *q;

  if (s == NULL)
    return;
  if (strpbrk(s, ",\"\r\n") == NULL) {
    fb__out_printf(o, "%s", s);
    return;
  }
  fb__out_printf(o, "\"");
  while ((q = strchr(s, '"')) != NULL) {
    fb__out_printf(o, "%.*s\"\"", (int)(q - s), s);
    s = q + 1;
  }
  fb__out_printf(o, "%s\"", s);
}

/* A time in ms with 3 decimals: since the run's start for start_ms, else
 * since the request's start; empty when the phase did not happen.
 */
static void ms(struct fb__out *o, int64_t t, int64_t since) {
  int64_t d;

  fb__out_printf(o, ",");
  if (t < 0 || since < 0 || t < since)
    return;
  d = t - since;
  fb__out_printf(o, "%" PRId64 ".%03" PRId64, d / (int64_t)FB_NS_PER_MS,
                 d % (int64_t)FB_NS_PER_MS / 1000);
}

/* enum fb_handshake: empty for none (plain http, or a reused connection). */
static const char *const handshakes[3] = {"", "full", "resumed"};

int fb_report_csv(FILE *out, const struct fb_collector *c,
                  const struct fb_urlset *urls, const char *engine) {
  return fb_report_csv_shard(out, c, urls, engine, 0, 1);
}

int fb_report_csv_shard(FILE *out, const struct fb_collector *c,
                        const struct fb_urlset *urls, const char *engine,
                        size_t first, size_t stride) {
  struct fb__out o = {out, 0};
  size_t n = fb_collector_size(c);

  fb__out_printf(&o, "index,url,engine,worker,outcome,http_status,error_code,"
                     "body_bytes,checksum,reused,handshake,due_ms,start_ms,"
                     "connect_ms,tls_ms,ttfb_ms,total_ms,message\n");
  for (size_t i = 0; i < n && o.rc == 0; i++) {
    const struct fb_result *r = fb_collector_get(c, i);
    const char *url = urls != NULL ? fb_urlset_get(urls, i) : NULL;

    fb__out_printf(&o, "%zu,", first + i * stride);
    field(&o, url);
    fb__out_printf(&o, ",");
    field(&o, engine);
    if (r == NULL) {
      /* A lost result still gets its row, so the file has one per URL. */
      fb__out_printf(&o, ",,missing,,,,,,,,,,,,,\n");
      continue;
    }
    fb__out_printf(
        &o, ",%" PRIu32 ",%s,%u,%" PRId32 ",%" PRIu64 ",%016" PRIx64 ",%u",
        r->worker, fb_outcome_name(r->outcome), r->http_status, r->error_code,
        r->body_bytes, r->checksum, r->reused);
    fb__out_printf(&o, ",%s", handshakes[r->handshake < 3 ? r->handshake : 0]);
    ms(&o, r->t_due, 0);
    ms(&o, r->t_start, 0);
    ms(&o, r->t_connected, r->t_start);
    ms(&o, r->t_tls, r->t_start);
    ms(&o, r->t_first_byte, r->t_start);
    ms(&o, r->t_done, r->t_start);
    fb__out_printf(&o, ",");
    field(&o, r->message);
    fb__out_printf(&o, "\n");
  }
  return fb__out_end(&o);
}
