/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/compare.h"
#include "fetchbench/report.h"

/* fetchbench compare's JSON Lines: a line per cell, then the verdict. Each
 * line carries the sweep's context, so that any line read alone says what
 * was measured where.
 */

#define CI_METHOD                                                              \
  "order-statistic interval of the median (binomial ranks, "                   \
  "distribution-free, exact coverage >= 0.95; none below 6 runs)"
#define TEST_METHOD                                                            \
  "two-sided Mann-Whitney U at alpha 0.05: exact permutation distribution "    \
  "(ties by mid-ranks) up to 40 runs in all, else normal approximation with "  \
  "tie-corrected variance and continuity correction"
#define RATIO_METHOD                                                           \
  "Hodges-Lehmann estimate (median of the pairwise ratios) with the "          \
  "distribution-free Moses interval (95 %, from the U distribution)"

static void jstr(struct fb__out *o, const char *name, const char *s) {
  fb__out_printf(o, ",\"%s\":", name);
  if (s == NULL)
    fb__out_printf(o, "null");
  else
    fb__out_json_string(o, s, strlen(s));
}

static void jnum(struct fb__out *o, const char *name, double v) {
  fb__out_printf(o, ",\"%s\":", name);
  fb__out_number(o, v);
}

static void jmaybe(struct fb__out *o, const char *name, double v) {
  jnum(o, name, v >= 0 ? v : NAN);
}

/* {"lo", "hi", "coverage"}, or null when there is no interval. */
static void interval(struct fb__out *o, double lo, double hi, double cov) {
  if (isnan(lo) || isnan(hi)) {
    fb__out_printf(o, "null");
    return;
  }
  fb__out_printf(o, "{\"lo\":");
  fb__out_number(o, lo);
  fb__out_printf(o, ",\"hi\":");
  fb__out_number(o, hi);
  fb__out_printf(o, ",\"coverage\":");
  fb__out_number(o, cov);
  fb__out_printf(o, "}");
}

static void jstat(struct fb__out *o, const char *name,
                  const struct fb_stat *st) {
  fb__out_printf(o, ",\"%s\":{\"median\":", name);
  fb__out_number(o, st->median);
  fb__out_printf(o, ",\"min\":");
  fb__out_number(o, st->min);
  fb__out_printf(o, ",\"max\":");
  fb__out_number(o, st->max);
  fb__out_printf(o, ",\"n\":%u,\"ci95\":", st->n);
  interval(o, st->lo, st->hi, st->coverage);
  fb__out_printf(o, "}");
}

static void jcpu(struct fb__out *o, const char *name, int cpu) {
  if (cpu < 0)
    fb__out_printf(o, ",\"%s\":null", name);
  else
    fb__out_printf(o, ",\"%s\":%d", name, cpu);
}

static void jcontext(struct fb__out *o, const struct fb_compare *cmp) {
  const struct fb_compare_context *x = &cmp->ctx;

  jstr(o, "workload", x->workload);
  jstr(o, "origin", x->origin);
  jstr(o, "corpus", x->corpus);
  jstr(o, "connection", x->connection);
  jstr(o, "scheme", x->scheme);
  if (x->urls > 0)
    fb__out_printf(o, ",\"workload_urls\":%zu", x->urls);
  else
    fb__out_printf(o, ",\"workload_urls\":null");
  jstr(o, "urls_digest", x->urls_digest);
  jmaybe(o, "delay_ms", cmp->delay_ms);
  fb__out_printf(o, ",\"jitter_ms\":%u", x->jitter_ms);
  fb__out_printf(o, ",\"repeats\":%u", cmp->repeats);
  if (cmp->precision > 0) {
    fb__out_printf(o, ",\"min_repeats\":%u,\"precision\":", cmp->min_repeats);
    fb__out_number(o, cmp->precision);
  } else {
    fb__out_printf(o, ",\"min_repeats\":%u,\"precision\":null", cmp->repeats);
  }
  jstr(o, "machine", x->machine);
  jcpu(o, "client_cpu", x->client_cpu);
  jcpu(o, "origin_cpu", x->origin_cpu);
}

/* Each run's value of the figures that verdicts and diff compare, in run
 * order, null where unknown.
 */
static void samples(struct fb__out *o, const struct fb_compare_cell *c) {
  fb__out_printf(o, ",\"samples\":{");
  for (int f = 0; f < FB_FIGURE_COUNT; f++) {
    fb__out_printf(o, "%s\"%s\":[", f > 0 ? "," : "",
                   fb_compare_figure_name(f));
    for (unsigned r = 0; r < c->runs; r++) {
      fb__out_printf(o, r > 0 ? "," : "");
      fb__out_number(o, fb_compare_figure_value(&c->summaries[r], f));
    }
    fb__out_printf(o, "]");
  }
  fb__out_printf(o, "}");
}

static void jcell(struct fb__out *o, const struct fb_compare *cmp,
                  const struct fb_compare_cell *c) {
  const char *sep = "";

  fb__out_printf(o, "{\"schema\":%d,\"kind\":\"cell\"", FB_REPORT_SCHEMA);
  jstr(o, "engine", c->engine);
  fb__out_printf(o,
                 ",\"workers\":%u,\"urls\":%zu,\"runs\":%u,"
                 "\"failed_runs\":%u",
                 c->workers, c->urls, c->runs, c->failed);
  /* Only where set: a sweep of compare's own has none. */
  if (c->reference)
    fb__out_printf(o, ",\"reference\":true");
  jstr(o, "failure", c->failed > 0 ? c->note : NULL);
  /* Open loop: the rate asked; null in a closed loop. */
  jmaybe(o, "rate", c->rate > 0 ? c->rate : -1);
  fb__out_printf(o, ",\"requests\":%zu,\"errors_total\":%zu,\"errors\":{",
                 c->requests, c->errors);
  for (int i = 0; i < FB_OUTCOME_COUNT; i++) {
    if (i == FB_OUTCOME_OK || c->outcomes[i] == 0)
      continue;
    fb__out_printf(o, "%s\"%s\":%zu", sep, fb_outcome_name(i), c->outcomes[i]);
    sep = ",";
  }
  fb__out_printf(o, "}");
  jstr(o, "ci_method", CI_METHOD);
  jstat(o, "wall_s", &c->wall_s);
  jstat(o, "cpu_user_s", &c->cpu_user_s);
  jstat(o, "cpu_sys_s", &c->cpu_sys_s);
  jstat(o, "cpu_s", &c->cpu_s);
  jstat(o, "child_cpu_s", &c->child_cpu_s);
  jstat(o, "cpu_per_req_ms", &c->cpu_per_req_ms);
  jstat(o, "max_rss_kib", &c->max_rss_kib);
  jstat(o, "rss_sum_kib", &c->rss_sum_kib);
  jstat(o, "latency_p50_ms", &c->latency_p50_ms);
  jstat(o, "latency_p99_ms", &c->latency_p99_ms);
  jstat(o, "ttfb_p50_ms", &c->ttfb_p50_ms);
  jstat(o, "req_per_s", &c->req_per_s);
  jmaybe(o, "ideal_s", c->ideal_s);
  jmaybe(o, "efficiency", c->efficiency);
  jstat(o, "run_efficiency", &c->run_efficiency);
  jstat(o, "corrected_p99_ms", &c->corrected_p99_ms);
  fb__out_printf(o, ",\"runs_wall_s\":[");
  for (unsigned r = 0; r < c->runs; r++) {
    fb__out_printf(o, r > 0 ? "," : "");
    fb__out_number(o, c->summaries[r].wall_s);
  }
  fb__out_printf(o, "]");
  samples(o, c);
  fb__out_printf(o, ",\"histograms\":");
  fb__out_hists(o, c->hists);
  jcontext(o, cmp);
  fb__out_printf(o, "}\n");
}

static void cell_ref(struct fb__out *o, const struct fb_compare *cmp, int i) {
  fb__out_printf(o, "{\"engine\":");
  fb__out_json_string(o, cmp->cells[i].engine, strlen(cmp->cells[i].engine));
  fb__out_printf(o, ",\"workers\":%u}", cmp->cells[i].workers);
}

static void jref(struct fb__out *o, const char *name,
                 const struct fb_compare *cmp, int i) {
  fb__out_printf(o, ",\"%s\":", name);
  if (i < 0)
    fb__out_printf(o, "null");
  else
    cell_ref(o, cmp, i);
}

/* A comparison of two cells: the first cell, the one it is set against,
 * the ratio with its interval and the U test; null without a pair.
 */
static void pair_body(struct fb__out *o, const struct fb_compare *cmp,
                      const struct fb_verdict_pair *p) {
  fb__out_printf(o, ",\"vs\":");
  cell_ref(o, cmp, p->b);
  fb__out_printf(
      o, ",\"figure\":\"%s\",\"ratio\":", fb_compare_figure_name(p->figure));
  fb__out_number(o, p->ratio.est);
  fb__out_printf(o, ",\"ratio_ci95\":");
  interval(o, p->ratio.lo, p->ratio.hi, p->ratio.coverage);
  jnum(o, "u", p->test.u);
  jnum(o, "p", p->test.p);
  jnum(o, "p_min", p->test.p_min);
  fb__out_printf(o, ",\"exact\":%s", p->test.exact ? "true" : "false");
  jstr(o, "call", fb_verdict_call_name(p->call));
}

/* Cell i (null when -1) and, when p is a pair, how it compares. */
static void jpair(struct fb__out *o, const char *name,
                  const struct fb_compare *cmp, int i,
                  const struct fb_verdict_pair *p) {
  fb__out_printf(o, ",\"%s\":", name);
  if (i < 0) {
    fb__out_printf(o, "null");
    return;
  }
  fb__out_printf(o, "{\"engine\":");
  fb__out_json_string(o, cmp->cells[i].engine, strlen(cmp->cells[i].engine));
  fb__out_printf(o, ",\"workers\":%u", cmp->cells[i].workers);
  if (p->a == i && p->b >= 0)
    pair_body(o, cmp, p);
  fb__out_printf(o, "}");
}

/* Open loop: each engine x workers' highest rate within --slo-ms. */
static void jknees(struct fb__out *o, const struct fb_compare *cmp,
                   const struct fb_verdict *v) {
  fb__out_printf(o, ",\"open_loop\":%s", v->open_loop ? "true" : "false");
  jmaybe(o, "slo_ms", cmp->slo_ms > 0 ? cmp->slo_ms : -1);
  fb__out_printf(o, ",\"knees\":[");
  for (size_t k = 0; k < v->nknees; k++) {
    const struct fb_verdict_knee *kn = &v->knees[k];

    fb__out_printf(o, "%s{\"engine\":", k > 0 ? "," : "");
    fb__out_json_string(o, kn->engine, strlen(kn->engine));
    fb__out_printf(o, ",\"workers\":%u", kn->workers);
    jmaybe(o, "rate", kn->kept >= 0 ? cmp->cells[kn->kept].rate : -1);
    jmaybe(o, "corrected_p99_ms",
           kn->kept >= 0 ? cmp->cells[kn->kept].corrected_p99_ms.median : -1);
    jmaybe(o, "over_at_rate",
           kn->exceeded >= 0 ? cmp->cells[kn->exceeded].rate : -1);
    fb__out_printf(o, "}");
  }
  fb__out_printf(o, "]");
}

static void jscaling(struct fb__out *o, const struct fb_compare *cmp,
                     const struct fb_verdict *v) {
  fb__out_printf(o, ",\"scaling\":[");
  for (size_t k = 0; k < v->nscaling; k++) {
    const struct fb_verdict_scaling *sc = &v->scaling[k];

    fb__out_printf(o, "%s{\"engine\":", k > 0 ? "," : "");
    fb__out_json_string(o, sc->engine, strlen(sc->engine));
    fb__out_printf(o, ",\"clean_cells\":%u,\"fastest_workers\":%u", sc->cells,
                   cmp->cells[sc->best].workers);
    fb__out_printf(o, ",\"stopped_helping_after\":");
    if (sc->after >= 0) {
      fb__out_printf(o, "%u,\"next_gain\":", cmp->cells[sc->before].workers);
      fb__out_number(o, sc->gain);
    } else {
      fb__out_printf(o, "null,\"last_gain\":");
      fb__out_number(o, sc->last_gain);
    }
    fb__out_printf(o, ",\"urls\":%zu,\"url_bound\":%s", sc->urls,
                   sc->url_bound ? "true" : "false");
    jpair(o, "step", cmp, sc->step.a, &sc->step);
    fb__out_printf(o, "}");
  }
  fb__out_printf(o, "]");
}

/* Returns fb_compare_verdict's code: -ENOMEM when a test is missing. */
static int jverdict(struct fb__out *o, const struct fb_compare *cmp) {
  struct fb_verdict v;
  int rc = fb_compare_verdict(cmp, &v);

  fb__out_printf(o, "{\"schema\":%d,\"kind\":\"verdict\"", FB_REPORT_SCHEMA);
  fb__out_printf(o, ",\"cells\":%zu,\"clean_cells\":%d,\"runs\":%zu",
                 cmp->ncells, v.clean, cmp->runs_done);
  fb__out_printf(o, ",\"cancelled\":%s", cmp->cancelled ? "true" : "false");
  jnum(o, "elapsed_s", cmp->elapsed_s);
  jstr(o, "test_method", TEST_METHOD);
  jstr(o, "ratio_method", RATIO_METHOD);
  jnum(o, "alpha", FB_STATS_ALPHA);
  jref(o, "fastest", cmp, v.fastest);
  jpair(o, "runner_up", cmp, v.runner_up, &v.runner_up_vs);
  fb__out_printf(o, ",\"tie\":%s",
                 v.runner_up_vs.call == FB_CALL_SAME ? "true" : "false");
  jpair(o, "slowest", cmp, v.slowest, &v.slowest_vs);
  jref(o, "cheapest_cpu", cmp, v.cheapest_cpu);
  jpair(o, "dearest_cpu", cmp, v.dearest_cpu, &v.cpu_vs);
  jref(o, "cheapest_memory", cmp, v.cheapest_memory);
  jpair(o, "most_memory", cmp, v.hungriest_memory, &v.memory_vs);
  jref(o, "best_efficiency", cmp, v.best_efficiency);
  fb__out_printf(o, ",\"gain_threshold\":");
  fb__out_number(o, FB_VERDICT_GAIN);
  jscaling(o, cmp, &v);
  jknees(o, cmp, &v);
  /* false: out of memory, some tests and intervals above are missing. */
  fb__out_printf(o, ",\"complete\":%s", rc == 0 ? "true" : "false");
  jcontext(o, cmp);
  fb__out_printf(o, "}\n");
  return rc;
}

int fb_report_compare_json(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};

  int rc;

  for (size_t i = 0; i < cmp->ncells; i++)
    jcell(&o, cmp, &cmp->cells[i]);
  rc = jverdict(&o, cmp);
  return fb__out_end(&o) != 0 ? o.rc : rc;
}
