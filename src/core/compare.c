/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/compare.h"
#include "fetchbench/error.h"

int fb_compare_init(struct fb_compare *cmp, size_t ncells, unsigned repeats,
                    double delay_ms) {
  memset(cmp, 0, sizeof(*cmp));
  cmp->ctx.client_cpu = -1;
  cmp->ctx.origin_cpu = -1;
  if (ncells == 0 || repeats == 0)
    return FB_ERANGE;
  cmp->cells = calloc(ncells, sizeof(*cmp->cells));
  if (cmp->cells == NULL)
    return -ENOMEM;
  cmp->ncells = ncells;
  cmp->repeats = repeats;
  cmp->min_repeats = repeats;
  cmp->delay_ms = delay_ms;
  for (size_t i = 0; i < ncells; i++) {
    cmp->cells[i].summaries = calloc(repeats, sizeof(*cmp->cells[i].summaries));
    if (cmp->cells[i].summaries == NULL) {
      fb_compare_cleanup(cmp);
      return -ENOMEM;
    }
    cmp->cells[i].cap = repeats;
  }
  return 0;
}

void fb_compare_cleanup(struct fb_compare *cmp) {
  for (size_t i = 0; cmp->cells != NULL && i < cmp->ncells; i++) {
    free(cmp->cells[i].summaries);
    free(cmp->cells[i].hists);
  }
  free(cmp->cells);
  cmp->cells = NULL;
  cmp->ncells = 0;
}

static const char *const figure_names[FB_FIGURE_COUNT] = {
    "wall_s",         "cpu_per_req_ms", "rss_sum_kib",
    "latency_p50_ms", "latency_p99_ms", "req_per_s",
};

const char *fb_compare_figure_name(enum fb_figure f) {
  return (unsigned)f < FB_FIGURE_COUNT ? figure_names[f] : "?";
}

double fb_compare_figure_value(const struct fb_summary *s, enum fb_figure f) {
  switch (f) {
  case FB_FIGURE_WALL:
    return s->wall_s;
  case FB_FIGURE_CPU_PER_REQ:
    return s->cpu_per_req_ms >= 0 ? s->cpu_per_req_ms : NAN;
  case FB_FIGURE_RSS:
    return (double)s->rss_sum_kib;
  case FB_FIGURE_P50:
    return s->latency.p50;
  case FB_FIGURE_P99:
    return s->latency.p99;
  case FB_FIGURE_REQ_PER_S:
    return s->req_per_s;
  default:
    return NAN;
  }
}

void fb_compare_figure_set(struct fb_summary *s, enum fb_figure f, double v) {
  switch (f) {
  case FB_FIGURE_WALL:
    s->wall_s = v;
    break;
  case FB_FIGURE_CPU_PER_REQ:
    s->cpu_per_req_ms = isnan(v) ? -1 : v;
    break;
  case FB_FIGURE_RSS:
    s->rss_sum_kib = isnan(v) ? 0 : (long)v;
    break;
  case FB_FIGURE_P50:
    s->latency.p50 = v;
    break;
  case FB_FIGURE_P99:
    s->latency.p99 = v;
    break;
  case FB_FIGURE_REQ_PER_S:
    s->req_per_s = v;
    break;
  default:
    break;
  }
}

size_t fb_compare_samples(const struct fb_compare_cell *c, enum fb_figure f,
                          double *out) {
  size_t n = 0;

  for (unsigned r = 0; r < c->runs; r++) {
    double v = fb_compare_figure_value(&c->summaries[r], f);

    if (!isnan(v))
      out[n++] = v;
  }
  return n;
}

int fb_compare_precise(const struct fb_compare *cmp,
                       const struct fb_compare_cell *c) {
  struct fb_stat st;
  double *v;

  if (c->runs == 0 || !(cmp->precision > 0))
    return 0;
  v = malloc(c->runs * sizeof(*v));
  if (v == NULL)
    return 0;
  fb_stat_compute(&st, v, fb_compare_samples(c, FB_FIGURE_WALL, v));
  free(v);
  return fb_stat_reach(&st) <= cmp->precision * st.median;
}

/* Whether cell c takes part in the next round; a failed run counts. */
static int wants_run(const struct fb_compare *cmp,
                     const struct fb_compare_cell *c) {
  unsigned done = c->runs + c->failed;
  unsigned least = cmp->precision > 0 ? cmp->min_repeats : cmp->repeats;

  if (done < least)
    return 1;
  if (done >= cmp->repeats || !(cmp->precision > 0))
    return 0;
  return !fb_compare_precise(cmp, c);
}

size_t fb_compare_round(const struct fb_compare *cmp, unsigned round,
                        size_t *out) {
  size_t n = 0, shift;

  for (size_t i = 0; i < cmp->ncells; i++)
    if (wants_run(cmp, &cmp->cells[i]))
      out[n++] = i;
  if (n == 0)
    return 0;
  /* Round r starts r/repeats of the way through the cells: with a fixed
   * repeat count, every cell leads a round once in a while.
   */
  shift = cmp->repeats > 0 ? ((size_t)round * n) / cmp->repeats : 0;
  shift %= n;
  if (shift > 0) {
    size_t *tmp = malloc(n * sizeof(*tmp));

    /* Out of memory, the round keeps its plain order. */
    if (tmp != NULL) {
      for (size_t j = 0; j < n; j++)
        tmp[j] = out[(j + shift) % n];
      memcpy(out, tmp, n * sizeof(*tmp));
      free(tmp);
    }
  }
  return n;
}

void fb_compare_runs_range(const struct fb_compare *cmp, unsigned *fewest,
                           unsigned *most) {
  *fewest = *most = 0;
  for (size_t i = 0; i < cmp->ncells; i++) {
    unsigned r = cmp->cells[i].runs;

    if (r == 0 || cmp->cells[i].reference)
      continue;
    if (*fewest == 0 || r < *fewest)
      *fewest = r;
    if (r > *most)
      *most = r;
  }
}

static void set_note(struct fb_compare_cell *cell, int status,
                     const char *note) {
  if (cell->status != 0)
    return;
  cell->status = status != 0 ? status : FB_EWORKERS;
  snprintf(cell->note, sizeof(cell->note), "%s",
           note != NULL && note[0] != '\0' ? note : fb_strerror(status));
}

int fb_compare_add(struct fb_compare *cmp, size_t i, const struct fb_summary *s,
                   int status, const char *note) {
  struct fb_compare_cell *cell;

  if (i >= cmp->ncells)
    return FB_ERANGE;
  cell = &cmp->cells[i];
  if (cell->runs >= cell->cap) {
    unsigned cap = cell->cap > 0 ? cell->cap * 2 : 4;
    struct fb_summary *p;

    if (cap <= cell->cap)
      return FB_ERANGE;
    p = realloc(cell->summaries, cap * sizeof(*p));
    if (p == NULL)
      return -ENOMEM;
    cell->summaries = p;
    cell->cap = cap;
  }
  cmp->runs_done++;
  if (status != 0) {
    cell->failed++;
    set_note(cell, status, note);
  }
  cell->summaries[cell->runs] = *s;
  cell->summaries[cell->runs].hists = NULL;
  cell->runs++;
  return 0;
}

int fb_compare_add_hists(struct fb_compare *cmp, size_t i,
                         const struct fb_summary_hists *h) {
  struct fb_compare_cell *cell;

  if (i >= cmp->ncells)
    return FB_ERANGE;
  cell = &cmp->cells[i];
  if (cell->hists == NULL) {
    cell->hists = malloc(sizeof(*cell->hists));
    if (cell->hists == NULL)
      return -ENOMEM;
    *cell->hists = *h;
    return 0;
  }
  fb_summary_hists_merge(cell->hists, h);
  return 0;
}

void fb_compare_fail(struct fb_compare *cmp, size_t i, int status,
                     const char *note) {
  struct fb_compare_cell *cell;

  if (i >= cmp->ncells)
    return;
  cell = &cmp->cells[i];
  cmp->runs_done++;
  cell->failed++;
  set_note(cell, status, note);
}

size_t fb_compare_engines(const struct fb_compare *cmp, const char **names,
                          size_t max) {
  size_t n = 0;

  for (size_t i = 0; i < cmp->ncells; i++) {
    size_t k;

    for (k = 0; k < i; k++)
      if (strcmp(cmp->cells[k].engine, cmp->cells[i].engine) == 0)
        break;
    if (k < i)
      continue;
    if (n < max)
      names[n] = cmp->cells[i].engine;
    n++;
  }
  return n;
}

/* The statistics of one expression of s over a cell's runs, with v as
 * scratch room for one value per run.
 */
#define STAT(cell, v, field, expr)                                             \
  do {                                                                         \
    for (unsigned r_ = 0; r_ < (cell)->runs; r_++) {                           \
      const struct fb_summary *s = &(cell)->summaries[r_];                     \
      (v)[r_] = (expr);                                                        \
    }                                                                          \
    fb_stat_compute(&(cell)->field, (v), (cell)->runs);                        \
  } while (0)

static void aggregate_cell(struct fb_compare_cell *cell, double delay_ms) {
  unsigned runs = cell->runs;
  double *v;

  memset(cell->outcomes, 0, sizeof(cell->outcomes));
  cell->urls = runs > 0 ? cell->summaries[0].urls : 0;
  cell->requests = 0;
  cell->errors = 0;
  for (unsigned r = 0; r < runs; r++) {
    const struct fb_summary *s = &cell->summaries[r];

    cell->requests += s->urls;
    cell->errors += s->errors;
    for (int o = 0; o < FB_OUTCOME_COUNT; o++)
      cell->outcomes[o] += s->outcomes[o];
  }
  /* Out of memory, every statistic comes out empty (NaN). */
  v = malloc((runs > 0 ? runs : 1) * sizeof(*v));
  if (v == NULL)
    cell->runs = 0;
  STAT(cell, v, wall_s, s->wall_s);
  STAT(cell, v, cpu_user_s, s->cpu_user_s);
  STAT(cell, v, cpu_sys_s, s->cpu_sys_s);
  STAT(cell, v, cpu_s, s->cpu_user_s + s->cpu_sys_s);
  STAT(cell, v, child_cpu_s, s->child_user_s + s->child_sys_s);
  STAT(cell, v, cpu_per_req_ms,
       s->cpu_per_req_ms >= 0 ? s->cpu_per_req_ms : NAN);
  STAT(cell, v, max_rss_kib, (double)s->max_rss_kib);
  STAT(cell, v, rss_sum_kib, (double)s->rss_sum_kib);
  STAT(cell, v, latency_p50_ms, s->latency.p50);
  STAT(cell, v, latency_p99_ms, s->latency.p99);
  STAT(cell, v, ttfb_p50_ms, s->ttfb.p50);
  STAT(cell, v, req_per_s, s->req_per_s);
  STAT(cell, v, run_efficiency, s->efficiency >= 0 ? s->efficiency : NAN);
  STAT(cell, v, corrected_p99_ms, s->open_loop ? s->corrected.p99 : NAN);
  cell->runs = runs;
  free(v);
  cell->ideal_s = -1;
  cell->efficiency = -1;
  /* As for one run (summary.c): the ideal of what was done, none for a
   * delay of 0, and no efficiency above 1 (the delay was not the server's).
   */
  if (delay_ms > 0 && runs > 0 && cell->workers > 0) {
    const struct fb_summary *s = &cell->summaries[0];
    unsigned w = s->workers_ran > 0 ? s->workers_ran : cell->workers;
    size_t done = s->done;
    size_t rounds;

    for (unsigned r = 1; r < runs; r++)
      if (cell->summaries[r].done < done)
        done = cell->summaries[r].done;
    rounds = (done + w - 1) / w;
    if (done > 0)
      cell->ideal_s = (double)rounds * delay_ms / 1000.0;
    if (cell->ideal_s > 0 && cell->wall_s.median > 0)
      cell->efficiency = cell->ideal_s / cell->wall_s.median;
    if (cell->efficiency > 1)
      cell->efficiency = -1;
  }
}

void fb_compare_aggregate(struct fb_compare *cmp) {
  for (size_t i = 0; i < cmp->ncells; i++)
    aggregate_cell(&cmp->cells[i], cmp->delay_ms);
}

static int is_clean(const struct fb_compare_cell *cell) {
  return cell->runs > 0 && cell->errors == 0 && cell->failed == 0 &&
         !cell->reference;
}

/* The index of the clean cell with the lowest (sign 1) or highest (sign -1)
 * value of key (called with arg), skipping skip; -1 when none.
 */
static int pick(const struct fb_compare *cmp,
                double (*key)(const struct fb_compare_cell *, unsigned),
                unsigned arg, int sign, int skip) {
  int best = -1;
  double best_v = 0;

  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *cell = &cmp->cells[i];
    double v;

    if ((int)i == skip || !is_clean(cell))
      continue;
    v = key(cell, arg);
    if (isnan(v))
      continue;
    if (best < 0 || sign * v < sign * best_v) {
      best = (int)i;
      best_v = v;
    }
  }
  return best;
}

static double key_wall(const struct fb_compare_cell *c, unsigned workers) {
  return c->wall_s.median;
}

static double key_cpu(const struct fb_compare_cell *c, unsigned workers) {
  return c->cpu_per_req_ms.median;
}

static double key_rss(const struct fb_compare_cell *c, unsigned workers) {
  return c->rss_sum_kib.median;
}

/* Only cells with `workers` workers compete on efficiency. */
static double key_efficiency(const struct fb_compare_cell *c,
                             unsigned workers) {
  if (c->workers != workers)
    return NAN;
  return c->efficiency >= 0 ? c->efficiency : NAN;
}

/* One engine's cells by increasing workers, clean ones only. */
static size_t engine_cells(const struct fb_compare *cmp, const char *engine,
                           int *out, size_t max) {
  size_t n = 0;

  for (size_t i = 0; i < cmp->ncells && n < max; i++) {
    const struct fb_compare_cell *cell = &cmp->cells[i];
    size_t j;

    if (strcmp(cell->engine, engine) != 0 || !is_clean(cell))
      continue;
    for (j = n; j > 0 && cmp->cells[out[j - 1]].workers > cell->workers; j--)
      out[j] = out[j - 1];
    out[j] = (int)i;
    n++;
  }
  return n;
}

const char *fb_verdict_call_name(enum fb_verdict_call call) {
  switch (call) {
  case FB_CALL_DIFFERENT:
    return "different";
  case FB_CALL_SAME:
    return "tie";
  case FB_CALL_CANNOT_TELL:
    return "cannot tell";
  default:
    return "none";
  }
}

/* An empty pair: no cells, nothing known. */
static void pair_clear(struct fb_verdict_pair *pair, enum fb_figure f) {
  memset(pair, 0, sizeof(*pair));
  pair->a = pair->b = -1;
  pair->figure = f;
  pair->call = FB_CALL_NONE;
  pair->ratio.est = pair->ratio.lo = pair->ratio.hi = NAN;
  pair->ratio.coverage = NAN;
  pair->test.u = pair->test.p = pair->test.p_min = NAN;
}

static int all_equal(const double *x, size_t nx, const double *y, size_t ny) {
  for (size_t i = 0; i < nx; i++)
    if (x[i] != x[0])
      return 0;
  for (size_t i = 0; i < ny; i++)
    if (y[i] != x[0])
      return 0;
  return nx > 0;
}

int fb_compare_cells(const struct fb_compare_cell *ca,
                     const struct fb_compare_cell *cb, enum fb_figure f,
                     struct fb_verdict_pair *pair) {
  double *x = NULL, *y = NULL;
  size_t nx, ny;
  int rc = 0;

  pair_clear(pair, f);
  x = malloc((ca->runs > 0 ? ca->runs : 1) * sizeof(*x));
  y = malloc((cb->runs > 0 ? cb->runs : 1) * sizeof(*y));
  if (x == NULL || y == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  nx = fb_compare_samples(ca, f, x);
  ny = fb_compare_samples(cb, f, y);
  /* A figure of 0 (no RSS read, say) has no ratio; the test still runs. */
  rc = fb_stats_ratio(&pair->ratio, x, nx, y, ny);
  if (rc == -ENOMEM)
    goto out;
  rc = fb_stats_mwu(&pair->test, x, nx, y, ny, FB_MWU_AUTO);
  if (rc != 0) {
    rc = rc == FB_ERANGE ? 0 : rc;
    goto out;
  }
  if (fb_stats_mwu_cannot_tell(&pair->test))
    /* Every run of both the same value (a peak RSS, say): no difference,
     * rather than too few runs.
     */
    pair->call = all_equal(x, nx, y, ny) ? FB_CALL_SAME : FB_CALL_CANNOT_TELL;
  else if (fb_stats_mwu_differ(&pair->test))
    pair->call = FB_CALL_DIFFERENT;
  else
    pair->call = FB_CALL_SAME;
out:
  free(x);
  free(y);
  return rc;
}

int fb_compare_pair(const struct fb_compare *cmp, int a, int b,
                    enum fb_figure f, struct fb_verdict_pair *pair) {
  int rc;

  pair_clear(pair, f);
  if (a < 0 || b < 0 || (size_t)a >= cmp->ncells || (size_t)b >= cmp->ncells)
    return 0;
  rc = fb_compare_cells(&cmp->cells[a], &cmp->cells[b], f, pair);
  pair->a = a;
  pair->b = b;
  return rc;
}

static int scaling(const struct fb_compare *cmp, const char *engine,
                   struct fb_verdict_scaling *sc) {
  int idx[256];
  size_t n = engine_cells(cmp, engine, idx, sizeof(idx) / sizeof(idx[0]));
  size_t use = n;

  memset(sc, 0, sizeof(*sc));
  sc->engine = engine;
  sc->best = sc->before = sc->after = sc->last = -1;
  sc->cells = (unsigned)n;
  sc->step.a = sc->step.b = -1;
  if (n == 0)
    return 0;
  sc->urls = cmp->cells[idx[0]].urls;
  sc->best = idx[0];
  for (size_t k = 1; k < n; k++)
    if (cmp->cells[idx[k]].wall_s.median < cmp->cells[sc->best].wall_s.median)
      sc->best = idx[k];
  sc->last = idx[n - 1];
  /* Past the first cell with a worker per URL, more workers have nothing
   * to do: the walk stops there.
   */
  for (size_t k = 0; k < n && sc->urls > 0; k++)
    if (cmp->cells[idx[k]].workers >= sc->urls) {
      use = k + 1;
      break;
    }
  sc->before = idx[0];
  for (size_t k = 1; k < use; k++) {
    double a = cmp->cells[idx[k - 1]].wall_s.median;
    double b = cmp->cells[idx[k]].wall_s.median;
    double gain = a > 0 ? (a - b) / a : 0;

    if (gain < FB_VERDICT_GAIN) {
      sc->before = idx[k - 1];
      sc->after = idx[k];
      sc->gain = gain;
      return fb_compare_pair(cmp, sc->after, sc->before, FB_FIGURE_WALL,
                             &sc->step);
    }
    sc->before = idx[k];
    sc->last_gain = gain;
  }
  sc->url_bound =
      sc->urls > 0 && cmp->cells[sc->before].workers >= sc->urls && use > 1;
  if (use > 1)
    return fb_compare_pair(cmp, idx[use - 1], idx[use - 2], FB_FIGURE_WALL,
                           &sc->step);
  return 0;
}

/* Each engine x workers of an open-loop sweep: its knee at cmp->slo_ms
 * (cells with errors count as over the bound: they did not keep up).
 */
static void knees(const struct fb_compare *cmp, struct fb_verdict *v) {
  for (size_t i = 0; i < cmp->ncells && v->nknees < FB_VERDICT_KNEE_MAX; i++) {
    const struct fb_compare_cell *c = &cmp->cells[i];
    struct fb_verdict_knee *k;
    double last = -1;
    int seen = 0;

    for (size_t j = 0; j < v->nknees; j++)
      seen |= strcmp(v->knees[j].engine, c->engine) == 0 &&
              v->knees[j].workers == c->workers;
    if (seen || cmp->slo_ms <= 0)
      continue;
    k = &v->knees[v->nknees++];
    k->engine = c->engine;
    k->workers = c->workers;
    k->kept = k->exceeded = -1;
    /* Its cells by rate, lowest first, up to the first over the bound. */
    for (;;) {
      int next = -1;

      for (size_t j = 0; j < cmp->ncells; j++) {
        const struct fb_compare_cell *x = &cmp->cells[j];

        if (strcmp(x->engine, c->engine) != 0 || x->workers != c->workers ||
            x->runs == 0 || x->rate <= last)
          continue;
        if (next < 0 || x->rate < cmp->cells[next].rate)
          next = (int)j;
      }
      if (next < 0)
        break;
      last = cmp->cells[next].rate;
      if (is_clean(&cmp->cells[next]) &&
          cmp->cells[next].corrected_p99_ms.median <= cmp->slo_ms) {
        k->kept = next;
        continue;
      }
      k->exceeded = next;
      break;
    }
  }
}

int fb_compare_verdict(const struct fb_compare *cmp, struct fb_verdict *v) {
  int rc = 0, err;

  memset(v, 0, sizeof(*v));
  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *c = &cmp->cells[i];

    if (!is_clean(c))
      continue;
    if (v->clean == 0 || c->runs < v->min_runs)
      v->min_runs = c->runs;
    if (c->runs > v->max_runs)
      v->max_runs = c->runs;
    if (c->workers > v->top_workers)
      v->top_workers = c->workers;
    v->clean++;
  }
  v->fastest = pick(cmp, key_wall, 0, 1, -1);
  v->runner_up = pick(cmp, key_wall, 0, 1, v->fastest);
  v->slowest = pick(cmp, key_wall, 0, -1, -1);
  v->cheapest_cpu = pick(cmp, key_cpu, 0, 1, -1);
  v->dearest_cpu = pick(cmp, key_cpu, 0, -1, -1);
  v->cheapest_memory = pick(cmp, key_rss, 0, 1, -1);
  v->hungriest_memory = pick(cmp, key_rss, 0, -1, -1);
  v->best_efficiency = pick(cmp, key_efficiency, v->top_workers, -1, -1);
  rc = fb_compare_pair(cmp, v->runner_up, v->fastest, FB_FIGURE_WALL,
                       &v->runner_up_vs);
  err = fb_compare_pair(cmp, v->slowest != v->fastest ? v->slowest : -1,
                        v->fastest, FB_FIGURE_WALL, &v->slowest_vs);
  rc = rc != 0 ? rc : err;
  err = fb_compare_pair(cmp,
                        v->dearest_cpu != v->cheapest_cpu ? v->dearest_cpu : -1,
                        v->cheapest_cpu, FB_FIGURE_CPU_PER_REQ, &v->cpu_vs);
  rc = rc != 0 ? rc : err;
  err = fb_compare_pair(
      cmp, v->hungriest_memory != v->cheapest_memory ? v->hungriest_memory : -1,
      v->cheapest_memory, FB_FIGURE_RSS, &v->memory_vs);
  rc = rc != 0 ? rc : err;
  for (size_t i = 0; i < cmp->ncells; i++)
    v->open_loop |= cmp->cells[i].rate > 0;
  if (v->open_loop) {
    knees(cmp, v);
    return rc;
  }
  /* One scaling entry per engine with at least two worker counts. */
  for (size_t i = 0; i < cmp->ncells && v->nscaling < FB_VERDICT_SCALING_MAX;
       i++) {
    const char *engine = cmp->cells[i].engine;
    int seen = 0, count = 0;

    for (size_t k = 0; k < v->nscaling; k++)
      seen |= strcmp(v->scaling[k].engine, engine) == 0;
    if (seen)
      continue;
    for (size_t k = 0; k < cmp->ncells; k++)
      count += strcmp(cmp->cells[k].engine, engine) == 0;
    if (count < 2)
      continue;
    err = scaling(cmp, engine, &v->scaling[v->nscaling]);
    rc = rc != 0 ? rc : err;
    if (v->scaling[v->nscaling].best >= 0)
      v->nscaling++;
  }
  return rc;
}
