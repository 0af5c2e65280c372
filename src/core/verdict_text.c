/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "core/compare_int.h"
#include "core/report_int.h"

/* The sentence being built and where it goes when it ends. */
struct say {
  const struct fb_compare *cmp;
  void (*emit)(void *ctx, enum fb__verdict_part part, const char *text);
  void *ctx;
  struct fb__sb sb;
  char buf[4096];
};

static void begin(struct say *s) {
  s->sb.buf = s->buf;
  s->sb.size = sizeof(s->buf);
  s->sb.len = 0;
  s->buf[0] = '\0';
}

static void end(struct say *s, enum fb__verdict_part part) {
  s->emit(s->ctx, part, s->buf);
  begin(s);
}

static const char *plural(unsigned n) {
  return n == 1 ? "" : "s";
}

/* "async with 16 workers" */
static void who(struct say *s, int i) {
  const struct fb_compare_cell *c = &s->cmp->cells[i];

  fb__sb_printf(&s->sb, "%s with %u worker%s", c->engine, c->workers,
                plural(c->workers));
}

/* "p=0.041", "p<0.001": without spaces, so that a wrapped line never
 * parts the p from its value.
 */
static void p_value(struct say *s, double p) {
  if (p < 0.001)
    fb__sb_printf(&s->sb, "p<0.001");
  else
    fb__sb_printf(&s->sb, "p=%.2g", p);
}

/* The fewest runs per cell with which the U test can ever reject at
 * FB_STATS_ALPHA: n against n without ties reaches p = 2 / C(2n, n).
 */
static unsigned runs_to_tell(void) {
  unsigned n = 1;
  double c = 2; /* C(2n, n) */

  while (2 / c > FB_STATS_ALPHA) {
    c = c * (2 * n + 1) * (2 * n + 2) / ((double)(n + 1) * (n + 1));
    n++;
  }
  return n;
}

/* x as a factor with two significant decimals: "4.3x". */
static void factor(struct say *s, double x) {
  fb__sb_printf(&s->sb, "%.*fx", x < 10 ? 2 : 1, x);
}

/* What the test says of pair p, after its ratio: " [lo, hi], p = ..." when
 * there is an interval; a tie within noise; or too few runs to tell. pct
 * writes the interval as percentages slower, else as factors.
 */
static void evidence(struct say *s, const struct fb_verdict_pair *p, int pct) {
  const struct fb_compare *cmp = s->cmp;

  if (p->call == FB_CALL_NONE)
    return;
  if (p->call == FB_CALL_CANNOT_TELL) {
    fb__sb_printf(&s->sb,
                  "; %u and %u runs cannot tell (no U test of so few "
                  "reaches p <= %.2g: %u runs per cell can)",
                  cmp->cells[p->a].runs, cmp->cells[p->b].runs, FB_STATS_ALPHA,
                  runs_to_tell());
    return;
  }
  if (!isnan(p->ratio.lo)) {
    if (pct)
      fb__sb_printf(&s->sb, " [%.1f%%, %.1f%%]", (p->ratio.lo - 1) * 100,
                    (p->ratio.hi - 1) * 100);
    else {
      fb__sb_printf(&s->sb, " [");
      factor(s, p->ratio.lo);
      fb__sb_printf(&s->sb, ", ");
      factor(s, p->ratio.hi);
      fb__sb_printf(&s->sb, "]");
    }
  }
  fb__sb_printf(&s->sb, ", ");
  p_value(s, p->test.p);
  if (p->call == FB_CALL_SAME)
    fb__sb_printf(&s->sb, ": a tie within noise");
}

/* The pair's ratio, or the ratio of the medians when the runs give none. */
static double ratio_of(const struct fb_verdict_pair *p, double a, double b) {
  if (!isnan(p->ratio.est))
    return p->ratio.est;
  return b > 0 ? a / b : NAN;
}

/* " [lo, hi]" in the median's decimals, when it has an interval. */
static void median_interval(struct say *s, const struct fb_stat *st, int prec,
                            double scale) {
  if (!isnan(st->lo))
    fb__sb_printf(&s->sb, " [%.*f, %.*f]", prec, st->lo * scale, prec,
                  st->hi * scale);
}

static void speed(struct say *s, const struct fb_verdict *v) {
  const struct fb_compare *cmp = s->cmp;
  const struct fb_compare_cell *f = &cmp->cells[v->fastest];

  fb__sb_printf(&s->sb, "fastest: ");
  who(s, v->fastest);
  fb__sb_printf(&s->sb, ", %.3f s median wall", f->wall_s.median);
  median_interval(s, &f->wall_s, 3, 1);
  if (v->slowest_vs.a >= 0) {
    const struct fb_compare_cell *w = &cmp->cells[v->slowest];
    double r = ratio_of(&v->slowest_vs, w->wall_s.median, f->wall_s.median);

    fb__sb_printf(&s->sb, "; ");
    factor(s, r);
    fb__sb_printf(&s->sb, " faster than the slowest (%s, %u: %.3f s)",
                  w->engine, w->workers, w->wall_s.median);
    evidence(s, &v->slowest_vs, 0);
  }
  fb__sb_printf(&s->sb, ".");
  end(s, FB__VERDICT_POINT);
  if (v->runner_up >= 0) {
    const struct fb_compare_cell *r = &cmp->cells[v->runner_up];
    double ratio =
        ratio_of(&v->runner_up_vs, r->wall_s.median, f->wall_s.median);

    fb__sb_printf(&s->sb, "runner-up: ");
    who(s, v->runner_up);
    fb__sb_printf(&s->sb, ", %.3f s: %.1f%% slower", r->wall_s.median,
                  (ratio - 1) * 100);
    evidence(s, &v->runner_up_vs, 1);
    fb__sb_printf(&s->sb, ".");
    end(s, FB__VERDICT_MORE);
  }
  if (v->best_efficiency >= 0) {
    const struct fb_compare_cell *e = &cmp->cells[v->best_efficiency];
    size_t rounds = (e->urls + e->workers - 1) / e->workers;
    const char *sep = " (";

    fb__sb_printf(&s->sb,
                  "at %u worker%s, closest to the ideal %.3f s (%zu "
                  "round%s of %.0f ms): %s, %.0f%% efficiency",
                  v->top_workers, plural(v->top_workers), e->ideal_s, rounds,
                  rounds == 1 ? "" : "s", cmp->delay_ms, e->engine,
                  e->efficiency * 100);
    for (size_t i = 0; i < cmp->ncells; i++) {
      const struct fb_compare_cell *c = &cmp->cells[i];

      if ((int)i == v->best_efficiency || c->workers != v->top_workers ||
          c->efficiency < 0 || c->runs == 0)
        continue;
      fb__sb_printf(&s->sb, "%s%s %.0f%%", sep, c->engine, c->efficiency * 100);
      sep = ", ";
    }
    fb__sb_printf(&s->sb, "%s.", sep[0] == ',' ? ")" : "");
    end(s, FB__VERDICT_POINT);
  }
}

static void cost(struct say *s, const struct fb_verdict *v) {
  const struct fb_compare *cmp = s->cmp;
  const struct fb_compare_cell *c, *m, *h;

  /* A median lost to a failed allocation (NaN) leaves no cheapest cell. */
  if (v->cheapest_cpu >= 0) {
    c = &cmp->cells[v->cheapest_cpu];
    fb__sb_printf(&s->sb, "cheapest in CPU: ");
    who(s, v->cheapest_cpu);
    fb__sb_printf(&s->sb, ", %.2f ms CPU per request",
                  c->cpu_per_req_ms.median);
    median_interval(s, &c->cpu_per_req_ms, 2, 1);
    if (v->dearest_cpu >= 0 && v->dearest_cpu != v->cheapest_cpu) {
      const struct fb_compare_cell *d = &cmp->cells[v->dearest_cpu];

      fb__sb_printf(&s->sb, "; dearest: %s with %u, %.2f ms (", d->engine,
                    d->workers, d->cpu_per_req_ms.median);
      factor(s, ratio_of(&v->cpu_vs, d->cpu_per_req_ms.median,
                         c->cpu_per_req_ms.median));
      evidence(s, &v->cpu_vs, 0);
      fb__sb_printf(&s->sb, ")");
    }
    fb__sb_printf(&s->sb, ".");
    end(s, FB__VERDICT_POINT);
  }
  if (v->cheapest_memory < 0)
    return;
  m = &cmp->cells[v->cheapest_memory];
  h = &cmp->cells[v->hungriest_memory];
  fb__sb_printf(&s->sb, "cheapest in memory: ");
  who(s, v->cheapest_memory);
  fb__sb_printf(&s->sb, ", %.1f MiB peak RSS", m->rss_sum_kib.median / 1024.0);
  if (v->hungriest_memory != v->cheapest_memory) {
    fb__sb_printf(&s->sb, "; most: %s with %u, %.1f MiB (", h->engine,
                  h->workers, h->rss_sum_kib.median / 1024.0);
    factor(s, ratio_of(&v->memory_vs, h->rss_sum_kib.median,
                       m->rss_sum_kib.median));
    evidence(s, &v->memory_vs, 0);
    fb__sb_printf(&s->sb, ")");
  }
  fb__sb_printf(&s->sb, ".");
  end(s, FB__VERDICT_POINT);
}

/* The step's p-value after its gain, when the test could tell. */
static void step_p(struct say *s, const struct fb_verdict_scaling *sc) {
  if (sc->step.call == FB_CALL_DIFFERENT || sc->step.call == FB_CALL_SAME) {
    fb__sb_printf(&s->sb, ", ");
    p_value(s, sc->step.test.p);
  }
}

static void scaling(struct say *s, const struct fb_verdict_scaling *sc) {
  const struct fb_compare *cmp = s->cmp;
  const struct fb_compare_cell *b = &cmp->cells[sc->before];

  fb__sb_printf(&s->sb, "%s: ", sc->engine);
  if (sc->after >= 0) {
    const struct fb_compare_cell *a = &cmp->cells[sc->after];

    fb__sb_printf(&s->sb, "adding workers stopped helping after %u",
                  b->workers);
    if (sc->gain >= 0)
      fb__sb_printf(&s->sb, " (%u saved %.0f%% of the wall time, under %.0f%%",
                    a->workers, sc->gain * 100, FB_VERDICT_GAIN * 100);
    else
      fb__sb_printf(&s->sb, " (%u was %.0f%% slower", a->workers,
                    -sc->gain * 100);
    step_p(s, sc);
    fb__sb_printf(&s->sb, ")");
  } else if (sc->cells < 2) {
    fb__sb_printf(&s->sb, "one clean worker count only (%u)", b->workers);
  } else if (sc->url_bound) {
    /* More workers than URLs cannot run more requests at once: the list,
     * not the model, stops the scaling here.
     */
    fb__sb_printf(&s->sb,
                  "faster at every step up to %u workers (the last saved "
                  "%.0f%%",
                  b->workers, sc->last_gain * 100);
    step_p(s, sc);
    fb__sb_printf(&s->sb,
                  "), where each of the %zu URL%s has a worker of its own: "
                  "the URL count, not the model, is the limit; a longer list "
                  "(--pages) shows where adding workers stops helping",
                  sc->urls, sc->urls == 1 ? "" : "s");
  } else {
    fb__sb_printf(&s->sb,
                  "still gaining at %u workers (the last step saved "
                  "%.0f%%",
                  b->workers, sc->last_gain * 100);
    step_p(s, sc);
    fb__sb_printf(&s->sb, ")");
  }
  if (sc->best >= 0 && sc->best != sc->before)
    fb__sb_printf(&s->sb, "; fastest at %u", cmp->cells[sc->best].workers);
  fb__sb_printf(&s->sb, ".");
  end(s, FB__VERDICT_POINT);
}

/* "threads with 16 workers kept p99 within 200 ms up to 150/s (182.0 ms);
 * at 200/s it took 2,310 ms" */
static void knee(struct say *s, const struct fb_verdict_knee *k) {
  const struct fb_compare *cmp = s->cmp;

  fb__sb_printf(&s->sb, "%s with %u worker%s: ", k->engine, k->workers,
                plural(k->workers));
  if (k->kept >= 0)
    fb__sb_printf(&s->sb,
                  "corrected p99 within %.0f ms up to %.6g requests/s "
                  "(%.1f ms)",
                  cmp->slo_ms, cmp->cells[k->kept].rate,
                  cmp->cells[k->kept].corrected_p99_ms.median);
  else
    fb__sb_printf(&s->sb, "corrected p99 over %.0f ms at every rate tried",
                  cmp->slo_ms);
  if (k->exceeded >= 0) {
    const struct fb_compare_cell *x = &cmp->cells[k->exceeded];

    if (x->errors > 0 || x->failed > 0)
      fb__sb_printf(&s->sb, "; at %.6g/s requests failed", x->rate);
    else
      fb__sb_printf(&s->sb, "; at %.6g/s it was %.1f ms", x->rate,
                    x->corrected_p99_ms.median);
  } else if (k->kept >= 0) {
    fb__sb_printf(&s->sb, ", the highest rate tried");
  }
  fb__sb_printf(&s->sb, ".");
  end(s, FB__VERDICT_POINT);
}

int fb__verdict_text(const struct fb_compare *cmp,
                     void (*emit)(void *ctx, enum fb__verdict_part part,
                                  const char *text),
                     void *ctx) {
  struct say s = {.cmp = cmp, .emit = emit, .ctx = ctx};
  struct fb_verdict v;
  size_t bad = 0;
  int rc;

  begin(&s);
  rc = fb_compare_verdict(cmp, &v);
  for (size_t i = 0; i < cmp->ncells; i++)
    bad += cmp->cells[i].runs > 0 &&
           (cmp->cells[i].errors > 0 || cmp->cells[i].failed > 0);
  if (v.clean > 0 && v.min_runs != v.max_runs)
    fb__sb_printf(&s.sb, "Verdict (medians of %u to %u runs per cell)",
                  v.min_runs, v.max_runs);
  else
    fb__sb_printf(&s.sb, "Verdict (medians of %u run%s per cell)",
                  v.clean > 0 ? v.max_runs : cmp->repeats,
                  plural(v.clean > 0 ? v.max_runs : cmp->repeats));
  end(&s, FB__VERDICT_TITLE);
  if (v.fastest < 0) {
    fb__sb_printf(&s.sb, "no cell ran without errors: nothing to compare.");
    end(&s, FB__VERDICT_POINT);
    return rc;
  }
  if (v.open_loop) {
    /* Wall time follows the schedule in an open loop: the question is how
     * fast each model keeps up.
     */
    for (size_t k = 0; k < v.nknees; k++)
      knee(&s, &v.knees[k]);
    if (cmp->slo_ms <= 0) {
      fb__sb_printf(&s.sb, "give --slo-ms to name each cell's knee: the "
                           "highest rate that kept its corrected p99 within "
                           "the bound.");
      end(&s, FB__VERDICT_POINT);
    }
    cost(&s, &v);
  } else {
    speed(&s, &v);
    cost(&s, &v);
    for (size_t k = 0; k < v.nscaling; k++)
      scaling(&s, &v.scaling[k]);
  }
  if (bad > 0) {
    fb__sb_printf(&s.sb,
                  "%zu cell%s with errors or failed runs left out of the "
                  "verdict.",
                  bad, bad == 1 ? "" : "s");
    end(&s, FB__VERDICT_POINT);
  }
  fb__sb_printf(&s.sb,
                "ratios are Hodges-Lehmann estimates over the runs, "
                "[95 %% intervals]; p: two-sided Mann-Whitney U test between "
                "the two cells' runs, a difference at p <= %.2g.",
                FB_STATS_ALPHA);
  end(&s, FB__VERDICT_POINT);
  if (rc != 0) {
    fb__sb_printf(&s.sb, "out of memory: some tests and intervals of this "
                         "verdict are missing.");
    end(&s, FB__VERDICT_POINT);
  }
  return rc;
}
