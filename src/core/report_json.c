/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/report.h"
#include "fetchbench/summary.h"

/* One object on one line, keys in a fixed order, so that a sweep's reports
 * form a JSON Lines file.
 */

static void num(struct fb__out *o, const char *name, double v) {
  fb__out_printf(o, ",\"%s\":", name);
  fb__out_json_number(o, v);
}

static void count(struct fb__out *o, const char *name, uint64_t v) {
  fb__out_printf(o, ",\"%s\":%" PRIu64, name, v);
}

/* A figure that may be unknown (negative): null then. */
static void maybe(struct fb__out *o, const char *name, double v) {
  if (v < 0)
    fb__out_printf(o, ",\"%s\":null", name);
  else
    num(o, name, v);
}

static void percentiles(struct fb__out *o, const char *name,
                        const struct fb_percentiles *p) {
  fb__out_printf(o, ",\"%s\":{\"p50\":", name);
  fb__out_json_number(o, p->p50);
  fb__out_printf(o, ",\"p90\":");
  fb__out_json_number(o, p->p90);
  fb__out_printf(o, ",\"p99\":");
  fb__out_json_number(o, p->p99);
  fb__out_printf(o, ",\"p999\":");
  fb__out_json_number(o, p->p999);
  fb__out_printf(o, ",\"max\":");
  fb__out_json_number(o, p->max);
  fb__out_printf(o, "}");
}

/* Failed requests by outcome name, non-zero counts only. errors_total is
 * urls - ok, so it includes the missing results too.
 */
static void errors(struct fb__out *o, const struct fb_summary *s) {
  const char *sep = "";

  fb__out_printf(o, ",\"errors\":{");
  for (int i = 0; i < FB_OUTCOME_COUNT; i++) {
    if (i == FB_OUTCOME_OK || s->outcomes[i] == 0)
      continue;
    fb__out_printf(o, "%s\"%s\":%zu", sep, fb_outcome_name(i), s->outcomes[i]);
    sep = ",";
  }
  fb__out_printf(o, "}");
  count(o, "errors_total", s->errors);
}

static void str(struct fb__out *o, const char *name, const char *v) {
  fb__out_printf(o, ",\"%s\":", name);
  if (v == NULL)
    fb__out_printf(o, "null");
  else
    fb__out_json_string(o, v, strlen(v));
}

static void context(struct fb__out *o, const struct fb_report_context *x) {
  fb__out_printf(o, ",\"workload\":{\"description\":");
  if (x->workload == NULL)
    fb__out_printf(o, "null");
  else
    fb__out_json_string(o, x->workload, strlen(x->workload));
  str(o, "origin", x->origin);
  str(o, "corpus", x->corpus);
  str(o, "connection", x->connection);
  str(o, "scheme", x->scheme);
  count(o, "urls", x->workload_urls);
  str(o, "urls_digest", x->urls_digest);
  maybe(o, "delay_ms", x->delay_ms);
  count(o, "jitter_ms", x->jitter_ms);
  fb__out_printf(o, "}");
  if (x->shards > 0)
    fb__out_printf(o, ",\"shard\":{\"index\":%u,\"count\":%u}", x->shard,
                   x->shards);
  else
    fb__out_printf(o, ",\"shard\":null");
  if (x->merged > 0)
    fb__out_printf(o, ",\"merged_shards\":%u", x->merged);
  else
    fb__out_printf(o, ",\"merged_shards\":null");
}

int fb_report_json(FILE *out, const struct fb_summary *s) {
  return fb_report_json_ctx(out, s, NULL);
}

int fb_report_json_ctx(FILE *out, const struct fb_summary *s,
                       const struct fb_report_context *ctx) {
  struct fb__out o = {out, 0};

  fb__out_printf(&o, "{\"schema\":%d,\"engine\":", FB_REPORT_SCHEMA);
  if (s->engine != NULL)
    fb__out_json_string(&o, s->engine, strlen(s->engine));
  else
    fb__out_printf(&o, "null");
  count(&o, "workers", s->workers);
  count(&o, "workers_ran", s->workers_ran);
  count(&o, "urls", s->urls);
  count(&o, "done", s->done);
  count(&o, "ok", s->ok);
  errors(&o, s);
  count(&o, "missing", s->missing);
  count(&o, "duplicates", s->duplicates);
  num(&o, "wall_s", s->wall_s);
  num(&o, "setup_s", s->setup_s);
  maybe(&o, "bare_fork_s", s->bare_fork_s);
  num(&o, "cpu_user_s", s->cpu_user_s);
  num(&o, "cpu_sys_s", s->cpu_sys_s);
  num(&o, "child_cpu_user_s", s->child_user_s);
  num(&o, "child_cpu_sys_s", s->child_sys_s);
  maybe(&o, "cpu_per_req_ms", s->cpu_per_req_ms);
  fb__out_printf(&o, ",\"max_rss_kib\":%ld", s->max_rss_kib);
  fb__out_printf(&o, ",\"rss_sum_kib\":%ld", s->rss_sum_kib);
  fb__out_printf(&o, ",\"vcsw\":%ld,\"ivcsw\":%ld", s->vcsw, s->ivcsw);
  num(&o, "req_per_s", s->req_per_s);
  count(&o, "bytes", s->bytes);
  num(&o, "bytes_per_s", s->bytes_per_s);
  count(&o, "reused", s->reused);
  count(&o, "handshakes_full", s->handshakes_full);
  count(&o, "handshakes_resumed", s->handshakes_resumed);
  percentiles(&o, "latency_ms", &s->latency);
  percentiles(&o, "ttfb_ms", &s->ttfb);
  percentiles(&o, "tls_ms", &s->tls);
  maybe(&o, "delay_ms", s->delay_ms);
  maybe(&o, "ideal_s", s->ideal_s);
  maybe(&o, "efficiency", s->efficiency);
  fb__out_printf(&o, ",\"delay_mismatch\":%s",
                 s->delay_mismatch ? "true" : "false");
  /* Open loop: null in a closed one. */
  if (s->open_loop) {
    num(&o, "rate_asked", s->rate_asked);
    num(&o, "rate_achieved", s->rate_achieved);
    count(&o, "late", s->late);
    percentiles(&o, "corrected_ms", &s->corrected);
    percentiles(&o, "queue_ms", &s->queue);
  } else {
    fb__out_printf(&o, ",\"rate_asked\":null,\"rate_achieved\":null,"
                       "\"late\":null,\"corrected_ms\":null,"
                       "\"queue_ms\":null");
  }
  str(&o, "engine_features",
      s->engine_features[0] != '\0' ? s->engine_features : NULL);
  fb__out_printf(&o, ",\"start_real_ns\":%" PRId64 ",\"end_real_ns\":%" PRId64,
                 s->start_real_ns, s->end_real_ns);
  if (ctx != NULL)
    context(&o, ctx);
  fb__out_printf(&o, ",\"histograms\":");
  fb__out_hists(&o, s->hists);
  fb__out_printf(&o, "}\n");
  return fb__out_end(&o);
}
