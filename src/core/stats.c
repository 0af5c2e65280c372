/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/error.h"
#include "fetchbench/stats.h"

/* The normal quantile of 1 - alpha / 2 for alpha = 0.05. */
#define Z_975 1.959963984540054

/* Probabilities compared with a bound are given this much room, so that a
 * tail of exactly 2.5 % (1/40) is not lost to rounding.
 */
#define SLACK (1 + 1e-9)

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

size_t fb_stats_median_rank(size_t n, double *coverage) {
  double tail = 0, half = (1 - FB_STATS_LEVEL) / 2;
  size_t k = 0;

  if (coverage != NULL)
    *coverage = NAN;
  if (n < FB_STATS_MEDIAN_MIN)
    return 0;
  /* P(B <= j) summed term by term in logs: 2^-n underflows past n = 1074. */
  for (size_t j = 0; j < n; j++) {
    double term = exp(lgamma((double)n + 1) - lgamma((double)j + 1) -
                      lgamma((double)(n - j) + 1) - (double)n * M_LN2);

    if (tail + term > half * SLACK)
      break;
    tail += term;
    k = j + 1;
  }
  if (k > 0 && coverage != NULL)
    *coverage = 1 - 2 * tail;
  return k;
}

void fb_stat_compute(struct fb_stat *st, const double *v, size_t n) {
  double sorted[64];
  double *s = sorted;
  size_t k = 0, rank;

  st->median = st->min = st->max = st->lo = st->hi = st->coverage = NAN;
  st->n = 0;
  for (size_t i = 0; i < n; i++)
    st->n += !isnan(v[i]);
  if (st->n == 0)
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
  qsort(s, n, sizeof(*s), cmp_double);
  st->min = s[0];
  st->max = s[n - 1];
  st->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  rank = fb_stats_median_rank(n, &st->coverage);
  if (rank > 0) {
    st->lo = s[rank - 1];
    st->hi = s[n - rank];
  }
  if (s != sorted)
    free(s);
}

double fb_stat_reach(const struct fb_stat *st) {
  if (isnan(st->lo) || isnan(st->hi) || isnan(st->median))
    return NAN;
  return fmax(st->median - st->lo, st->hi - st->median);
}

/* --- Mann-Whitney U ------------------------------------------------------ */

/* One value of the pooled sample and where it came from. */
struct pooled {
  double v;
  int from_x;
};

static int cmp_pooled(const void *a, const void *b) {
  const struct pooled *x = a, *y = b;

  return (x->v > y->v) - (x->v < y->v);
}

/* The doubled mid-ranks of the pooled sample p[0..n) (sorted in place), so
 * that tied ranks stay whole numbers; and the tie term sum(t^3 - t) over the
 * groups of t equal values.
 */
static void doubled_ranks(struct pooled *p, size_t n, unsigned *r2,
                          double *ties) {
  *ties = 0;
  qsort(p, n, sizeof(*p), cmp_pooled);
  for (size_t i = 0; i < n;) {
    size_t j = i;

    while (j + 1 < n && p[j + 1].v == p[i].v)
      j++;
    /* Positions i+1 .. j+1 share the rank (i + 1 + j + 1) / 2. */
    for (size_t k = i; k <= j; k++)
      r2[k] = (unsigned)(i + j + 2);
    *ties += pow((double)(j - i + 1), 3) - (double)(j - i + 1);
    i = j + 1;
  }
}

/* The permutation distribution of the sum of m of the n doubled ranks
 * r2[0..n): dist[s] ends up as the number of m-subsets whose sum is s, for
 * s in 0..*smax. Returns the table (m + 1 rows, the last one the answer) or
 * NULL when out of memory; the caller frees it.
 */
static double *subset_sums(const unsigned *r2, size_t n, size_t m,
                           size_t *smax) {
  size_t top = 0, width;
  double *t;

  /* The largest sum: the m largest ranks (r2 is sorted ascending). */
  for (size_t i = n - m; i < n; i++)
    top += r2[i];
  width = top + 1;
  t = calloc((m + 1) * width, sizeof(*t));
  if (t == NULL)
    return NULL;
  t[0] = 1;
  for (size_t i = 0; i < n; i++) {
    size_t jmax = i + 1 < m ? i + 1 : m;

    for (size_t j = jmax; j >= 1; j--) {
      double *row = t + j * width;
      const double *prev = t + (j - 1) * width;

      /* Every r2 is at least 2, so s stops above 0. */
      for (size_t s = top; s >= r2[i]; s--)
        row[s] += prev[s - r2[i]];
    }
  }
  *smax = top;
  return t;
}

static int mwu_exact(struct fb_mwu *t, struct pooled *p, size_t n, size_t m,
                     int m_is_x, size_t nx) {
  unsigned *r2 = malloc(n * sizeof(*r2));
  double ties, total = 0, below = 0, above = 0, lo_p, hi_p, rx;
  size_t smax, obs = 0, smin = (size_t)-1, shigh = 0;
  double *table, *dist;

  if (r2 == NULL)
    return -ENOMEM;
  doubled_ranks(p, n, r2, &ties);
  for (size_t i = 0; i < n; i++)
    if (p[i].from_x == m_is_x)
      obs += r2[i];
  table = subset_sums(r2, n, m, &smax);
  free(r2);
  if (table == NULL)
    return -ENOMEM;
  dist = table + m * (smax + 1);
  for (size_t s = 0; s <= smax; s++) {
    if (dist[s] == 0)
      continue;
    total += dist[s];
    if (s <= obs)
      below += dist[s];
    if (s >= obs)
      above += dist[s];
    if (s < smin)
      smin = s;
    shigh = s;
  }
  lo_p = dist[smin] / total;
  hi_p = dist[shigh] / total;
  free(table);
  /* U of x from x's rank sum: R_x - nx (nx + 1) / 2, R_x = obs / 2 when m
   * is x's size, else (N (N + 1) - obs) / 2.
   */
  rx = m_is_x ? (double)obs / 2
              : ((double)n * (double)(n + 1) - (double)obs) / 2;
  t->u = rx - (double)nx * (double)(nx + 1) / 2;
  t->p = fmin(1, 2 * fmin(below, above) / total);
  t->p_min = fmin(1, 2 * fmin(lo_p, hi_p));
  t->exact = 1;
  return 0;
}

/* The two-sided p-value of U under the normal approximation. */
static double normal_p(double u, double mean, double sd) {
  double z;

  if (!(sd > 0))
    return 1;
  z = (fabs(u - mean) - 0.5) / sd;
  return z <= 0 ? 1 : fmin(1, erfc(z / M_SQRT2));
}

static int mwu_normal(struct fb_mwu *t, struct pooled *p, size_t n, size_t nx,
                      size_t ny) {
  unsigned *r2 = malloc(n * sizeof(*r2));
  double ties, rx = 0, mean, var, nn = (double)n;

  if (r2 == NULL)
    return -ENOMEM;
  doubled_ranks(p, n, r2, &ties);
  for (size_t i = 0; i < n; i++)
    if (p[i].from_x)
      rx += r2[i];
  free(r2);
  rx /= 2;
  t->u = rx - (double)nx * (double)(nx + 1) / 2;
  mean = (double)nx * (double)ny / 2;
  var = (double)nx * (double)ny / 12 * ((nn + 1) - ties / (nn * (nn - 1)));
  t->p = normal_p(t->u, mean, var > 0 ? sqrt(var) : 0);
  t->p_min = normal_p(0, mean, var > 0 ? sqrt(var) : 0);
  t->exact = 0;
  return 0;
}

int fb_stats_mwu(struct fb_mwu *t, const double *x, size_t nx, const double *y,
                 size_t ny, enum fb_mwu_method method) {
  size_t n = nx + ny;
  struct pooled *p;
  int rc;

  t->u = t->p = t->p_min = NAN;
  t->exact = 0;
  t->nx = nx;
  t->ny = ny;
  if (nx == 0 || ny == 0)
    return FB_ERANGE;
  p = malloc(n * sizeof(*p));
  if (p == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < nx; i++)
    p[i] = (struct pooled){x[i], 1};
  for (size_t i = 0; i < ny; i++)
    p[nx + i] = (struct pooled){y[i], 0};
  if (method == FB_MWU_EXACT ||
      (method == FB_MWU_AUTO && n <= FB_STATS_EXACT_MAX))
    /* The smaller sample's rank sum: fewer rows in the table. */
    rc = mwu_exact(t, p, n, nx <= ny ? nx : ny, nx <= ny, nx);
  else
    rc = mwu_normal(t, p, n, nx, ny);
  free(p);
  return rc;
}

int fb_stats_mwu_differ(const struct fb_mwu *t) {
  return !fb_stats_mwu_cannot_tell(t) && t->p <= FB_STATS_ALPHA * SLACK;
}

int fb_stats_mwu_cannot_tell(const struct fb_mwu *t) {
  return !(t->p_min <= FB_STATS_ALPHA * SLACK);
}

/* --- Ratios -------------------------------------------------------------- */

/* The Moses rank k for sizes m and n: the interval is the k-th smallest to
 * the k-th largest of the m n pairwise ratios. 0 when no interval reaches
 * the level. *coverage receives its coverage.
 */
static int moses_rank(size_t m, size_t n, size_t *k, double *coverage) {
  size_t big = m * n, nn = m + n;

  *k = 0;
  *coverage = NAN;
  if (nn <= FB_STATS_EXACT_MAX) {
    unsigned *r2 = malloc(nn * sizeof(*r2));
    size_t smax, small = m < n ? m : n, base;
    double *table, *dist, total = 0, cum = 0, half = (1 - FB_STATS_LEVEL) / 2;

    if (r2 == NULL)
      return -ENOMEM;
    /* Ranks 1..N without ties, doubled as subset_sums wants them. */
    for (size_t i = 0; i < nn; i++)
      r2[i] = (unsigned)(2 * (i + 1));
    table = subset_sums(r2, nn, small, &smax);
    free(r2);
    if (table == NULL)
      return -ENOMEM;
    dist = table + small * (smax + 1);
    for (size_t s = 0; s <= smax; s++)
      total += dist[s];
    /* U = R - small (small + 1) / 2; in doubled units the smallest sum is
     * small (small + 1), and U = u at doubled sum base + 2 u.
     */
    base = small * (small + 1);
    for (size_t u = 0; u <= big; u++) {
      double pu = dist[base + 2 * u] / total;

      if ((cum + pu) > half * SLACK)
        break;
      cum += pu;
      *k = u + 1;
    }
    free(table);
    if (*k > 0)
      *coverage = 1 - 2 * cum;
    return 0;
  }
  {
    double mean = (double)big / 2;
    double sd = sqrt((double)big * (double)(nn + 1) / 12);
    double kk = floor(mean + 0.5 - Z_975 * sd);

    if (kk >= 1) {
      *k = (size_t)kk;
      /* 1 - 2 Phi((k - 1/2 - mean) / sd); Phi(z) = erfc(-z / sqrt 2) / 2. */
      *coverage = 1 - erfc(-((kk - 0.5 - mean) / sd) / M_SQRT2);
    }
  }
  return 0;
}

int fb_stats_ratio(struct fb_ratio *r, const double *x, size_t nx,
                   const double *y, size_t ny) {
  size_t big = nx * ny, k;
  double *q;
  int rc;

  r->est = r->lo = r->hi = r->coverage = NAN;
  if (nx == 0 || ny == 0)
    return FB_ERANGE;
  for (size_t i = 0; i < nx; i++)
    if (!(x[i] > 0) || !isfinite(x[i]))
      return FB_ERANGE;
  for (size_t i = 0; i < ny; i++)
    if (!(y[i] > 0) || !isfinite(y[i]))
      return FB_ERANGE;
  q = malloc(big * sizeof(*q));
  if (q == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < nx; i++)
    for (size_t j = 0; j < ny; j++)
      q[i * ny + j] = x[i] / y[j];
  qsort(q, big, sizeof(*q), cmp_double);
  r->est = big % 2 ? q[big / 2] : sqrt(q[big / 2 - 1] * q[big / 2]);
  rc = moses_rank(nx, ny, &k, &r->coverage);
  if (rc == 0 && k > 0) {
    r->lo = q[k - 1];
    r->hi = q[big - k];
  }
  free(q);
  return rc;
}
