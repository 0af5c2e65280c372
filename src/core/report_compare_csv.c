/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "core/report_int.h"
#include "fetchbench/compare.h"

/* fetchbench compare's CSV: one row per cell, for spreadsheets. */

static void cnum(struct fb__out *o, double v) {
  char buf[40];

  if (isnan(v) || v < 0)
    fb__out_printf(o, ",");
  else
    fb__out_printf(o, ",%s", fb__number(buf, sizeof(buf), v));
}

static void cstat(struct fb__out *o, const struct fb_stat *st, int range) {
  cnum(o, st->median);
  if (range) {
    cnum(o, st->min);
    cnum(o, st->max);
  }
}

/* The ends of the median's 95 % interval, empty when it has none. */
static void cci(struct fb__out *o, const struct fb_stat *st) {
  cnum(o, st->lo);
  cnum(o, st->hi);
}

int fb_report_compare_csv(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};

  fb__out_printf(&o,
                 "engine,workers,urls,runs,failed_runs,requests,errors,"
                 "wall_s,wall_min_s,wall_max_s,cpu_user_s,cpu_sys_s,cpu_s,"
                 "child_cpu_s,cpu_per_req_ms,cpu_per_req_min_ms,"
                 "cpu_per_req_max_ms,max_rss_kib,max_rss_min_kib,"
                 "max_rss_max_kib,latency_p50_ms,latency_p99_ms,ttfb_p50_ms,"
                 "req_per_s,ideal_s,efficiency,wall_ci95_lo_s,wall_ci95_hi_s,"
                 "cpu_per_req_ci95_lo_ms,cpu_per_req_ci95_hi_ms,"
                 "latency_p50_ci95_lo_ms,latency_p50_ci95_hi_ms,"
                 "latency_p99_ci95_lo_ms,latency_p99_ci95_hi_ms,"
                 "req_per_s_ci95_lo,req_per_s_ci95_hi\n");
  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *c = &cmp->cells[i];

    /* Engine names are plain identifiers: no quoting needed. */
    fb__out_printf(&o, "%s,%u,%zu,%u,%u,%zu,%zu", c->engine, c->workers,
                   c->urls, c->runs, c->failed, c->requests, c->errors);
    cstat(&o, &c->wall_s, 1);
    cstat(&o, &c->cpu_user_s, 0);
    cstat(&o, &c->cpu_sys_s, 0);
    cstat(&o, &c->cpu_s, 0);
    cstat(&o, &c->child_cpu_s, 0);
    cstat(&o, &c->cpu_per_req_ms, 1);
    cstat(&o, &c->max_rss_kib, 1);
    cstat(&o, &c->latency_p50_ms, 0);
    cstat(&o, &c->latency_p99_ms, 0);
    cstat(&o, &c->ttfb_p50_ms, 0);
    cstat(&o, &c->req_per_s, 0);
    cnum(&o, c->ideal_s);
    cnum(&o, c->efficiency);
    cci(&o, &c->wall_s);
    cci(&o, &c->cpu_per_req_ms);
    cci(&o, &c->latency_p50_ms);
    cci(&o, &c->latency_p99_ms);
    cci(&o, &c->req_per_s);
    fb__out_printf(&o, "\n");
  }
  return fb__out_end(&o);
}
