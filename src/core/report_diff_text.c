/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "core/report_int.h"
#include "fetchbench/diff.h"

/* fetchbench diff for people: a block per cell, a line per figure. */

static const struct {
  const char *label;
  double scale; /* KiB to MiB for the RSS */
} figures[FB_DIFF_FIGURES] = {
    {"wall s", 1},
    {"CPU/req ms", 1},
    {"RSS MiB", 1 / 1024.0},
    {"p99 ms", 1},
};

/* "+12.3%" (or "-"), the change a ratio stands for. */
static void change(char *buf, size_t len, double ratio) {
  if (isnan(ratio))
    snprintf(buf, len, "-");
  else
    snprintf(buf, len, "%+.1f%%", (ratio - 1) * 100);
}

static void figure_line(struct fb__out *o, const struct fb_diff_row *r, int k,
                        const struct fb_compare *old_cmp,
                        const struct fb_compare *new_cmp) {
  const struct fb_verdict_pair *p = &r->fig[k];
  const struct fb_compare_cell *a = &old_cmp->cells[r->old_i];
  const struct fb_compare_cell *b = &new_cmp->cells[r->new_i];
  const struct fb_stat *sa, *sb;
  char est[32], lo[32], hi[32], interval[80] = "", pv[32] = "";

  switch (fb_diff_figures[k]) {
  case FB_FIGURE_CPU_PER_REQ:
    sa = &a->cpu_per_req_ms, sb = &b->cpu_per_req_ms;
    break;
  case FB_FIGURE_RSS:
    sa = &a->rss_sum_kib, sb = &b->rss_sum_kib;
    break;
  case FB_FIGURE_P99:
    sa = &a->latency_p99_ms, sb = &b->latency_p99_ms;
    break;
  default:
    sa = &a->wall_s, sb = &b->wall_s;
    break;
  }
  change(est, sizeof(est), p->ratio.est);
  if (!isnan(p->ratio.lo)) {
    change(lo, sizeof(lo), p->ratio.lo);
    change(hi, sizeof(hi), p->ratio.hi);
    snprintf(interval, sizeof(interval), "[%s, %s]", lo, hi);
  }
  if (!isnan(p->test.p))
    snprintf(pv, sizeof(pv), p->test.p < 0.001 ? "p<0.001" : "p=%.2g",
             p->test.p);
  fb__out_printf(o, "  %-10s %10.4g -> %-10.4g %8s %-20s %-8s %s\n",
                 figures[k].label, sa->median * figures[k].scale,
                 sb->median * figures[k].scale, est, interval, pv,
                 fb_diff_mark_name(r->mark[k]));
}

static void cell_block(struct fb__out *o, const struct fb_diff *d,
                       const struct fb_diff_row *r,
                       const struct fb_compare *old_cmp,
                       const struct fb_compare *new_cmp, const char *old_name,
                       const char *new_name) {
  const struct fb_compare_cell *c =
      r->old_i >= 0 ? &old_cmp->cells[r->old_i] : &new_cmp->cells[r->new_i];

  fb__out_printf(o, "%s, %u worker%s", c->engine, c->workers,
                 c->workers == 1 ? "" : "s");
  if (r->old_i < 0 || r->new_i < 0) {
    fb__out_printf(o, ": only in %s\n", r->old_i < 0 ? new_name : old_name);
    return;
  }
  fb__out_printf(o, ": %u -> %u runs\n", c->runs,
                 new_cmp->cells[r->new_i].runs);
  for (int k = 0; k < FB_DIFF_FIGURES; k++)
    figure_line(o, r, k, old_cmp, new_cmp);
  (void)d;
}

int fb_report_diff_text(FILE *out, const struct fb_diff *d,
                        const struct fb_compare *old_cmp,
                        const struct fb_compare *new_cmp, const char *old_name,
                        const char *new_name) {
  struct fb__out o = {out, 0};
  size_t compared = 0;

  fb__out_printf(&o, "# fetchbench diff: %s -> %s\n", old_name, new_name);
  fb__out_printf(&o, "# workload: %s\n",
                 new_cmp->ctx.workload != NULL ? new_cmp->ctx.workload
                                               : "(not saved)");
  for (size_t i = 0; i < d->nconditions; i++)
    fb__out_printf(&o, "# conditions differ: %s %s -> %s\n",
                   d->conditions[i].name, d->conditions[i].old_value,
                   d->conditions[i].new_value);
  fb__out_printf(&o,
                 "# change: new over old, Hodges-Lehmann, [95 %% interval]; "
                 "p: two-sided Mann-Whitney U\n# between the runs; "
                 "REGRESSED: higher at p <= %.2g by more than %g %%\n",
                 FB_STATS_ALPHA, d->threshold * 100);
  for (size_t i = 0; i < d->nrows; i++) {
    fb__out_printf(&o, "\n");
    cell_block(&o, d, &d->rows[i], old_cmp, new_cmp, old_name, new_name);
    compared += d->rows[i].old_i >= 0 && d->rows[i].new_i >= 0;
  }
  fb__out_printf(&o, "\n%zu of %zu cell%s regressed.\n", d->regressed, compared,
                 compared == 1 ? "" : "s");
  return fb__out_end(&o);
}
