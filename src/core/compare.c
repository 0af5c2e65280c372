#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/compare.h"
#include "fetchbench/error.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

void fb_stat_compute(struct fb_stat *st, const double *v, size_t n) {
  double sorted[64];
  double *s = sorted;
  size_t k = 0;

  st->median = st->min = st->max = NAN;
  if (n == 0)
    return;
  if (n > sizeof(sorted) / sizeof(sorted[0])) {
    s = malloc(n * sizeof(*s));
    if (s == NULL) {
      /* Without room to sort, min and max are still exact (fmin and fmax
       * pass over NaN).
       */
      for (size_t i = 0; i < n; i++) {
        st->min = fmin(st->min, v[i]);
        st->max = fmax(st->max, v[i]);
      }
      return;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (!isnan(v[i]))
      s[k++] = v[i];
  n = k;
  if (n == 0) {
    if (s != sorted)
      free(s);
    return;
  }
  qsort(s, n, sizeof(*s), cmp_double);
  st->min = s[0];
  st->max = s[n - 1];
  st->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  if (s != sorted)
    free(s);
}

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
  cmp->delay_ms = delay_ms;
  for (size_t i = 0; i < ncells; i++) {
    cmp->cells[i].summaries = calloc(repeats, sizeof(*cmp->cells[i].summaries));
    if (cmp->cells[i].summaries == NULL) {
      fb_compare_cleanup(cmp);
      return -ENOMEM;
    }
  }
  return 0;
}

void fb_compare_cleanup(struct fb_compare *cmp) {
  for (size_t i = 0; cmp->cells != NULL && i < cmp->ncells; i++)
    free(cmp->cells[i].summaries);
  free(cmp->cells);
  cmp->cells = NULL;
  cmp->ncells = 0;
}

size_t fb_compare_order(const struct fb_compare *cmp, size_t k,
                        unsigned *repeat) {
  size_t n = cmp->ncells;
  size_t r = k / n, j = k % n;
  /* Round r starts r/repeats of the way through the cells. */
  size_t shift = cmp->repeats > 0 ? (r * n) / cmp->repeats : 0;

  if (repeat != NULL)
    *repeat = (unsigned)r;
  return (j + shift) % n;
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
  if (cell->runs >= cmp->repeats)
    return FB_ERANGE;
  cmp->runs_done++;
  if (status != 0) {
    cell->failed++;
    set_note(cell, status, note);
  }
  cell->summaries[cell->runs++] = *s;
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
  return cell->runs > 0 && cell->errors == 0 && cell->failed == 0;
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

static void scaling(const struct fb_compare *cmp, const char *engine,
                    struct fb_verdict_scaling *sc) {
  int idx[256];
  size_t n = engine_cells(cmp, engine, idx, sizeof(idx) / sizeof(idx[0]));

  memset(sc, 0, sizeof(*sc));
  sc->engine = engine;
  sc->best = sc->before = sc->after = sc->last = -1;
  sc->cells = (unsigned)n;
  if (n == 0)
    return;
  sc->best = idx[0];
  for (size_t k = 1; k < n; k++)
    if (cmp->cells[idx[k]].wall_s.median < cmp->cells[sc->best].wall_s.median)
      sc->best = idx[k];
  sc->last = idx[n - 1];
  sc->before = idx[0];
  for (size_t k = 1; k < n; k++) {
    double a = cmp->cells[idx[k - 1]].wall_s.median;
    double b = cmp->cells[idx[k]].wall_s.median;
    double gain = a > 0 ? (a - b) / a : 0;

    if (gain < FB_VERDICT_GAIN) {
      sc->before = idx[k - 1];
      sc->after = idx[k];
      sc->gain = gain;
      return;
    }
    sc->before = idx[k];
    sc->last_gain = gain;
  }
}

void fb_compare_verdict(const struct fb_compare *cmp, struct fb_verdict *v) {
  memset(v, 0, sizeof(*v));
  for (size_t i = 0; i < cmp->ncells; i++)
    v->clean += is_clean(&cmp->cells[i]);
  v->fastest = pick(cmp, key_wall, 0, 1, -1);
  v->runner_up = pick(cmp, key_wall, 0, 1, v->fastest);
  v->slowest = pick(cmp, key_wall, 0, -1, -1);
  v->cheapest_cpu = pick(cmp, key_cpu, 0, 1, -1);
  v->cheapest_memory = pick(cmp, key_rss, 0, 1, -1);
  v->hungriest_memory = pick(cmp, key_rss, 0, -1, -1);
  for (size_t i = 0; i < cmp->ncells; i++)
    if (is_clean(&cmp->cells[i]) && cmp->cells[i].workers > v->top_workers)
      v->top_workers = cmp->cells[i].workers;
  v->best_efficiency = pick(cmp, key_efficiency, v->top_workers, -1, -1);
  if (v->fastest >= 0 && v->runner_up >= 0) {
    const struct fb_stat *f = &cmp->cells[v->fastest].wall_s;
    const struct fb_stat *r = &cmp->cells[v->runner_up].wall_s;

    v->noisy = r->min <= f->max || r->median < f->median * (1 + FB_VERDICT_TIE);
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
    scaling(cmp, engine, &v->scaling[v->nscaling]);
    if (v->scaling[v->nscaling].best >= 0)
      v->nscaling++;
  }
}
