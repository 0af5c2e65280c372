/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/diff.h"

const enum fb_figure fb_diff_figures[FB_DIFF_FIGURES] = {
    FB_FIGURE_WALL,
    FB_FIGURE_CPU_PER_REQ,
    FB_FIGURE_RSS,
    FB_FIGURE_P99,
};

const char *fb_diff_mark_name(enum fb_diff_mark m) {
  switch (m) {
  case FB_DIFF_SAME:
    return "same";
  case FB_DIFF_CANNOT_TELL:
    return "cannot tell";
  case FB_DIFF_BETTER:
    return "better";
  case FB_DIFF_WORSE:
    return "worse";
  case FB_DIFF_REGRESSED:
    return "REGRESSED";
  default:
    return "-";
  }
}

static const char *text(const char *s) {
  return s != NULL ? s : "(none)";
}

/* Records field name when its two values differ. */
static void field(struct fb_diff_field *list, size_t *n, const char *name,
                  const char *old_value, const char *new_value) {
  if (strcmp(text(old_value), text(new_value)) == 0 || *n >= FB_DIFF_FIELDS)
    return;
  list[*n].name = name;
  snprintf(list[*n].old_value, sizeof(list[*n].old_value), "%s",
           text(old_value));
  snprintf(list[*n].new_value, sizeof(list[*n].new_value), "%s",
           text(new_value));
  (*n)++;
}

static void number(char *buf, size_t len, double v, int known) {
  if (known)
    snprintf(buf, len, "%g", v);
  else
    snprintf(buf, len, "unknown");
}

static void fields(struct fb_diff *d, const struct fb_compare *o,
                   const struct fb_compare *n) {
  const struct fb_compare_context *a = &o->ctx, *b = &n->ctx;
  char x[64], y[64];

  number(x, sizeof(x), (double)a->urls, a->urls > 0);
  number(y, sizeof(y), (double)b->urls, b->urls > 0);
  field(d->workload, &d->nworkload, "workload_urls", x, y);
  field(d->workload, &d->nworkload, "urls_digest", a->urls_digest,
        b->urls_digest);
  field(d->workload, &d->nworkload, "connection", a->connection, b->connection);
  field(d->workload, &d->nworkload, "corpus", a->corpus, b->corpus);
  field(d->workload, &d->nworkload, "scheme", a->scheme, b->scheme);
  number(x, sizeof(x), o->delay_ms, o->delay_ms >= 0);
  number(y, sizeof(y), n->delay_ms, n->delay_ms >= 0);
  field(d->conditions, &d->nconditions, "delay_ms", x, y);
  number(x, sizeof(x), a->jitter_ms, 1);
  number(y, sizeof(y), b->jitter_ms, 1);
  field(d->conditions, &d->nconditions, "jitter_ms", x, y);
  field(d->conditions, &d->nconditions, "machine", a->machine, b->machine);
  number(x, sizeof(x), a->client_cpu, a->client_cpu >= 0);
  number(y, sizeof(y), b->client_cpu, b->client_cpu >= 0);
  field(d->conditions, &d->nconditions, "client_cpu", x, y);
  number(x, sizeof(x), a->origin_cpu, a->origin_cpu >= 0);
  number(y, sizeof(y), b->origin_cpu, b->origin_cpu >= 0);
  field(d->conditions, &d->nconditions, "origin_cpu", x, y);
}

static int find(const struct fb_compare *cmp, const struct fb_compare_cell *c) {
  for (size_t i = 0; i < cmp->ncells; i++)
    if (cmp->cells[i].workers == c->workers &&
        strcmp(cmp->cells[i].engine, c->engine) == 0)
      return (int)i;
  return -1;
}

static enum fb_diff_mark mark(const struct fb_verdict_pair *p,
                              double threshold) {
  switch (p->call) {
  case FB_CALL_SAME:
    return FB_DIFF_SAME;
  case FB_CALL_CANNOT_TELL:
    return FB_DIFF_CANNOT_TELL;
  case FB_CALL_DIFFERENT:
    /* Higher or lower as the U statistic says: more than half of the
     * pairs of runs (new, old) have new above.
     */
    if (p->test.u * 2 < (double)p->test.nx * (double)p->test.ny)
      return FB_DIFF_BETTER;
    return p->ratio.est > 1 + threshold ? FB_DIFF_REGRESSED : FB_DIFF_WORSE;
  default:
    return FB_DIFF_NONE;
  }
}

static int row(struct fb_diff *d, const struct fb_compare *o,
               const struct fb_compare *n, int oi, int ni) {
  struct fb_diff_row *r = &d->rows[d->nrows++];
  int rc = 0, regressed = 0;

  r->old_i = oi;
  r->new_i = ni;
  for (int k = 0; k < FB_DIFF_FIGURES; k++) {
    struct fb_verdict_pair *p = &r->fig[k];

    r->mark[k] = FB_DIFF_NONE;
    if (oi < 0 || ni < 0) {
      memset(p, 0, sizeof(*p));
      p->a = ni;
      p->b = oi;
      p->figure = fb_diff_figures[k];
      p->call = FB_CALL_NONE;
      p->ratio.est = p->ratio.lo = p->ratio.hi = p->ratio.coverage = NAN;
      p->test.u = p->test.p = p->test.p_min = NAN;
      continue;
    }
    rc = fb_compare_cells(&n->cells[ni], &o->cells[oi], fb_diff_figures[k], p);
    if (rc != 0)
      return rc;
    p->a = ni;
    p->b = oi;
    r->mark[k] = mark(p, d->threshold);
    regressed |= r->mark[k] == FB_DIFF_REGRESSED;
  }
  d->regressed += regressed;
  return 0;
}

int fb_diff_compute(struct fb_diff *d, const struct fb_compare *old_cmp,
                    const struct fb_compare *new_cmp, double threshold) {
  int rc = 0;

  memset(d, 0, sizeof(*d));
  d->threshold = threshold;
  fields(d, old_cmp, new_cmp);
  if (d->nworkload > 0)
    return 0;
  d->rows = calloc(old_cmp->ncells + new_cmp->ncells + 1, sizeof(*d->rows));
  if (d->rows == NULL)
    return -ENOMEM;
  for (size_t i = 0; rc == 0 && i < old_cmp->ncells; i++)
    rc = row(d, old_cmp, new_cmp, (int)i, find(new_cmp, &old_cmp->cells[i]));
  for (size_t i = 0; rc == 0 && i < new_cmp->ncells; i++)
    if (find(old_cmp, &new_cmp->cells[i]) < 0)
      rc = row(d, old_cmp, new_cmp, -1, (int)i);
  if (rc != 0)
    fb_diff_cleanup(d);
  return rc;
}

void fb_diff_cleanup(struct fb_diff *d) {
  free(d->rows);
  d->rows = NULL;
  d->nrows = 0;
}
