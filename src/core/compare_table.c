/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "core/compare_int.h"
#include "core/report_int.h"

const char *const fb__table_heads[FB__TABLE_COLS] = {
    "engine",     "workers", "rate/s", "runs",   "wall s",
    "CPU/req ms", "RSS MiB", "p50 ms", "p99 ms", "p99 corr ms",
    "req/s",      "errors",  "eff",
};

int fb__table_shown(const struct fb_compare *cmp, int col) {
  int open_loop = 0;

  for (size_t i = 0; i < cmp->ncells; i++)
    open_loop |= cmp->cells[i].rate > 0;
  switch (col) {
  case FB__COL_EFF:
    return cmp->delay_ms >= 0;
  case FB__COL_RATE:
  case FB__COL_P99C:
    return open_loop;
  default:
    return col >= 0 && col < FB__TABLE_COLS;
  }
}

/* The median with prec decimals and, when it has an interval, the reach of
 * the interval ("0.072 ±0.002"); "-" when unknown. scale turns KiB into
 * MiB.
 */
static void stat_cell(char *cell, int prec, const struct fb_stat *st,
                      double scale) {
  double reach = fb_stat_reach(st);

  if (isnan(st->median))
    snprintf(cell, FB__TABLE_CELL, "-");
  else if (isnan(reach))
    snprintf(cell, FB__TABLE_CELL, "%.*f", prec, st->median * scale);
  else
    snprintf(cell, FB__TABLE_CELL, "%.*f \u00b1%.*f", prec, st->median * scale,
             prec, reach * scale);
}

void fb__table_row(char cells[FB__TABLE_COLS][FB__TABLE_CELL],
                   const struct fb_compare_cell *c) {
  snprintf(cells[FB__COL_ENGINE], FB__TABLE_CELL, "%s",
           c->engine != NULL ? c->engine : "?");
  snprintf(cells[FB__COL_WORKERS], FB__TABLE_CELL, "%u", c->workers);
  snprintf(cells[FB__COL_RUNS], FB__TABLE_CELL, "%u", c->runs);
  if (c->rate > 0)
    snprintf(cells[FB__COL_RATE], FB__TABLE_CELL, "%.6g", c->rate);
  else
    snprintf(cells[FB__COL_RATE], FB__TABLE_CELL, "-");
  stat_cell(cells[FB__COL_P99C], 1, &c->corrected_p99_ms, 1);
  stat_cell(cells[FB__COL_WALL], 3, &c->wall_s, 1);
  stat_cell(cells[FB__COL_CPU_PER_REQ], 2, &c->cpu_per_req_ms, 1);
  stat_cell(cells[FB__COL_RSS], 1, &c->rss_sum_kib, 1 / 1024.0);
  stat_cell(cells[FB__COL_P50], 1, &c->latency_p50_ms, 1);
  stat_cell(cells[FB__COL_P99], 1, &c->latency_p99_ms, 1);
  stat_cell(cells[FB__COL_REQ_PER_S], 1, &c->req_per_s, 1);
  if (c->runs == 0)
    snprintf(cells[FB__COL_ERRORS], FB__TABLE_CELL, "%s",
             c->failed > 0 ? "FAILED" : "not run");
  else if (c->errors > 0 || c->failed > 0)
    snprintf(cells[FB__COL_ERRORS], FB__TABLE_CELL, "%zu/%zu !", c->errors,
             c->requests);
  else
    snprintf(cells[FB__COL_ERRORS], FB__TABLE_CELL, "0");
  if (c->efficiency >= 0)
    snprintf(cells[FB__COL_EFF], FB__TABLE_CELL, "%.0f%%", c->efficiency * 100);
  else
    snprintf(cells[FB__COL_EFF], FB__TABLE_CELL, "-");
}

int fb__table_problems(char *buf, size_t len, const struct fb_compare *cmp,
                       const struct fb_compare_cell *c) {
  struct fb__sb b = {buf, len, 0};
  const char *sep = ": ";

  buf[0] = '\0';
  if (c->errors == 0 && c->failed == 0)
    return 0;
  fb__sb_printf(&b, "%s with %u worker%s", c->engine, c->workers,
                c->workers == 1 ? "" : "s");
  if (c->errors > 0) {
    fb__sb_printf(&b, ": %zu of %zu requests failed", c->errors, c->requests);
    for (int i = 0; i < FB_OUTCOME_COUNT; i++) {
      if (i == FB_OUTCOME_OK || c->outcomes[i] == 0)
        continue;
      fb__sb_printf(&b, "%s%s %zu", sep, fb_outcome_name(i), c->outcomes[i]);
      sep = ", ";
    }
    sep = "; ";
  }
  if (c->failed > 0)
    fb__sb_printf(&b, "%s%u of %u runs failed (%s)", sep, c->failed,
                  c->runs + c->failed > cmp->repeats ? c->runs
                                                     : c->runs + c->failed,
                  c->note);
  return 1;
}
