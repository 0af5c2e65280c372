#include <math.h>
#include <stdio.h>

#include "core/compare_int.h"
#include "core/report_int.h"

const char *const fb__table_heads[FB__TABLE_COLS] = {
    "engine", "workers",    "wall s",     "min-max", "user s", "sys s",
    "CPU s",  "children s", "CPU/req ms", "RSS MiB", "p50 ms", "p99 ms",
    "req/s",  "errors",     "ideal s",    "eff",
};

int fb__table_ncols(const struct fb_compare *cmp) {
  return cmp->delay_ms >= 0 ? FB__TABLE_COLS : FB__TABLE_COLS - 2;
}

/* v with prec decimals, or "-" when unknown. */
static void fmt(char *cell, int prec, double v) {
  if (isnan(v))
    snprintf(cell, FB__TABLE_CELL, "-");
  else
    snprintf(cell, FB__TABLE_CELL, "%.*f", prec, v);
}

void fb__table_row(char cells[FB__TABLE_COLS][FB__TABLE_CELL],
                   const struct fb_compare_cell *c) {
  snprintf(cells[0], FB__TABLE_CELL, "%s", c->engine != NULL ? c->engine : "?");
  snprintf(cells[1], FB__TABLE_CELL, "%u", c->workers);
  fmt(cells[2], 3, c->wall_s.median);
  if (isnan(c->wall_s.min))
    snprintf(cells[3], FB__TABLE_CELL, "-");
  else
    snprintf(cells[3], FB__TABLE_CELL, "%.3f-%.3f", c->wall_s.min,
             c->wall_s.max);
  fmt(cells[4], 3, c->cpu_user_s.median);
  fmt(cells[5], 3, c->cpu_sys_s.median);
  fmt(cells[6], 3, c->cpu_s.median);
  fmt(cells[7], 3, c->child_cpu_s.median);
  fmt(cells[8], 2, c->cpu_per_req_ms.median);
  fmt(cells[9], 1, c->rss_sum_kib.median / 1024.0);
  fmt(cells[10], 1, c->latency_p50_ms.median);
  fmt(cells[11], 1, c->latency_p99_ms.median);
  fmt(cells[12], 1, c->req_per_s.median);
  if (c->runs == 0)
    snprintf(cells[13], FB__TABLE_CELL, "%s",
             c->failed > 0 ? "FAILED" : "not run");
  else if (c->errors > 0 || c->failed > 0)
    snprintf(cells[13], FB__TABLE_CELL, "%zu/%zu !", c->errors, c->requests);
  else
    snprintf(cells[13], FB__TABLE_CELL, "0");
  fmt(cells[14], 3, c->ideal_s >= 0 ? c->ideal_s : NAN);
  if (c->efficiency >= 0)
    snprintf(cells[15], FB__TABLE_CELL, "%.0f%%", c->efficiency * 100);
  else
    snprintf(cells[15], FB__TABLE_CELL, "-");
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
