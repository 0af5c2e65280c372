/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/html_int.h"
#include "fetchbench/compare.h"

/* Line charts against workers in inline SVG, drawn in a 480 x 300 box that
 * CSS scales to the width at hand. Workers go on a log2 axis, values on a
 * linear one from 0. Each engine has a colour (Okabe and Ito's palette,
 * safe for colour-blind readers) and a marker shape, so that a page printed
 * in grey still tells them apart.
 */

#define W 480
#define H 300
#define LEFT 76
#define RIGHT 14
#define TOP 12
#define BOTTOM 46
#define PW (W - LEFT - RIGHT)
#define PH (H - TOP - BOTTOM)

#define MAX_ENGINES 64

static const char *const colours[] = {
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F",
};
#define NCOLOURS (sizeof(colours) / sizeof(colours[0]))

/* One statistic of a chart, drawn as one series per engine. */
struct metric {
  const char *label; /* "p99" in the legend, or NULL */
  size_t offset;     /* of the struct fb_stat in a cell */
  int dashed;
};

struct chart {
  const char *id;    /* data-chart */
  const char *title; /* the caption */
  const char *note;  /* under it */
  const char *axis;  /* the value axis' title, unit included */
  const char *unit;  /* in tooltips */
  double scale;      /* from the statistic to the unit */
  int prec;          /* decimals in tooltips */
  int bars;          /* min-max bars */
  int ideal;         /* the ideal wall time, when the delay is known */
  struct metric metrics[2];
  size_t nmetrics;
};

#define AT(field) offsetof(struct fb_compare_cell, field)

static const struct chart charts[] = {
    {"wall",
     "Wall time",
     "median of the runs; bars: fastest to slowest run",
     "wall time (s)",
     "s",
     1,
     3,
     1,
     1,
     {{NULL, AT(wall_s), 0}},
     1},
    {"cpu",
     "CPU per request",
     "user + sys, process and children; bars: min-max",
     "CPU per request (ms)",
     "ms",
     1,
     2,
     1,
     0,
     {{NULL, AT(cpu_per_req_ms), 0}},
     1},
    {"memory",
     "Memory",
     "peak RSS of the client plus every child's peak; bars: min-max",
     "peak RSS, all processes (MiB)",
     "MiB",
     1 / 1024.0,
     1,
     1,
     0,
     {{NULL, AT(rss_sum_kib), 0}},
     1},
    {"latency",
     "Latency percentiles",
     "median of the runs' percentiles; solid: p50, dashed: p99",
     "latency (ms)",
     "ms",
     1,
     1,
     0,
     0,
     {{"p50", AT(latency_p50_ms), 0}, {"p99", AT(latency_p99_ms), 1}},
     2},
};

static const struct fb_stat *stat_of(const struct fb_compare_cell *c,
                                     const struct metric *m) {
  return (const struct fb_stat *)((const char *)c + m->offset);
}

/* A cell has a point when it finished runs and the median is known. */
static int plotted(const struct fb_compare_cell *c, const struct chart *ch,
                   const struct metric *m) {
  return c->runs > 0 && isfinite(stat_of(c, m)->median * ch->scale);
}

struct axes {
  unsigned wmin, wmax; /* workers */
  double top, step;    /* value axis: 0 to top */
  int decimals;        /* of its tick labels */
};

static double x_of(const struct axes *a, unsigned workers) {
  double lo = log2(a->wmin), hi = log2(a->wmax);

  if (hi <= lo)
    return LEFT + PW / 2.0;
  return LEFT + PW * (0.05 + 0.9 * (log2(workers) - lo) / (hi - lo));
}

/* Values beyond the axis (only a hand-made file has them) stay on its
 * edges, so that every coordinate is a finite number.
 */
static double y_of(const struct axes *a, double v) {
  double f = v / a->top;

  if (!(f > 0))
    f = 0;
  if (f > 1)
    f = 1;
  return TOP + PH * (1 - f);
}

/* 0 to a round top above max, in 4 to 6 round steps. */
static void value_axis(struct axes *a, double max) {
  double raw, mag, norm, step, decimals;

  /* No figure of a sweep is that small: a denormal would make the step 0. */
  if (!(max > 1e-12) || !isfinite(max))
    max = 1;
  raw = max / 5;
  mag = pow(10, floor(log10(raw)));
  norm = raw / mag;
  step = (norm <= 1     ? 1
          : norm <= 2   ? 2
          : norm <= 2.5 ? 2.5
          : norm <= 5   ? 5
                        : 10) *
         mag;
  a->step = step;
  a->top = ceil(max / step - 1e-9) * step;
  if (!isfinite(a->top) || a->top <= 0) {
    a->top = max;
    a->step = max / 5;
  }
  decimals = step >= 1 ? 0 : ceil(-log10(step) - 1e-9);
  if (norm > 2 && norm <= 2.5 && step < 10)
    decimals++;
  a->decimals = decimals > 9 ? 9 : (int)decimals;
}

static void axes_of(struct axes *a, const struct fb_compare *cmp,
                    const struct chart *ch) {
  double max = 0;

  a->wmin = a->wmax = 0;
  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *c = &cmp->cells[i];

    for (size_t k = 0; k < ch->nmetrics; k++) {
      const struct fb_stat *st = stat_of(c, &ch->metrics[k]);
      double v = st->median * ch->scale, hi = st->max * ch->scale;

      if (!plotted(c, ch, &ch->metrics[k]))
        continue;
      if (a->wmin == 0 || c->workers < a->wmin)
        a->wmin = c->workers;
      if (c->workers > a->wmax)
        a->wmax = c->workers;
      max = fmax(max, v);
      if (ch->bars && isfinite(hi))
        max = fmax(max, hi);
    }
    if (ch->ideal && cmp->delay_ms >= 0 && c->ideal_s >= 0 && c->runs > 0)
      max = fmax(max, c->ideal_s);
  }
  value_axis(a, max);
}

static void frame(struct fb__out *o, const struct fb_compare *cmp,
                  const struct chart *ch, const struct axes *a) {
  double last = -1e9;

  /* Value axis: grid lines with their labels. */
  for (int k = 0; k * a->step <= a->top * (1 + 1e-9) && k <= 20; k++) {
    double v = k * a->step, y = y_of(a, v);

    fb__out_printf(o,
                   "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
                   "y2=\"%.1f\"/><text x=\"%d\" y=\"%.1f\" "
                   "text-anchor=\"end\">%.*f</text>\n",
                   LEFT, y, LEFT + PW, y, LEFT - 6, y + 4, a->decimals, v);
  }
  fb__out_printf(o,
                 "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
                 "y2=\"%d\"/><line class=\"axis\" x1=\"%d\" y1=\"%d\" "
                 "x2=\"%d\" y2=\"%d\"/>\n",
                 LEFT, TOP, LEFT, TOP + PH, LEFT, TOP + PH, LEFT + PW,
                 TOP + PH);
  /* Workers axis: a tick per worker count of the sweep, labels that would
   * overlap left out.
   */
  for (unsigned w = 0, prev = 0;; prev = w) {
    double x;

    w = 0;
    for (size_t i = 0; i < cmp->ncells; i++) {
      unsigned cw = cmp->cells[i].workers;
      if (cw > prev && cw >= a->wmin && cw <= a->wmax && (w == 0 || cw < w))
        w = cw;
    }
    if (w == 0)
      break;
    x = x_of(a, w);
    fb__out_printf(o,
                   "<line class=\"axis\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
                   "y2=\"%d\"/>",
                   x, TOP + PH, x, TOP + PH + 5);
    if (x - last >= 22) {
      fb__out_printf(o,
                     "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%u"
                     "</text>",
                     x, TOP + PH + 18, w);
      last = x;
    }
    fb__out_printf(o, "\n");
  }
  fb__out_printf(o,
                 "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">workers "
                 "(most requests in flight)</text>\n"
                 "<text transform=\"rotate(-90)\" x=\"%d\" y=\"14\" "
                 "text-anchor=\"middle\">%s</text>\n",
                 LEFT + PW / 2, H - 8, -(TOP + PH / 2), ch->axis);
}

/* The marker of engine e at (x, y) as path data. */
static void marker(struct fb__out *o, size_t e, double x, double y) {
  switch (e / NCOLOURS % 4 == 0 ? e % 4 : (e + e / NCOLOURS) % 4) {
  case 0:
    fb__out_printf(o, "M%.1f %.1fa4 4 0 1 0 8 0a4 4 0 1 0-8 0Z", x - 4, y);
    break;
  case 1:
    fb__out_printf(o, "M%.1f %.1fh7v7h-7Z", x - 3.5, y - 3.5);
    break;
  case 2:
    fb__out_printf(o, "M%.1f %.1fl4.5 8h-9Z", x, y - 5);
    break;
  default:
    fb__out_printf(o, "M%.1f %.1fl5 5-5 5-5-5Z", x, y - 5);
    break;
  }
}

/* One engine's cells by increasing workers: the next after `after`. */
static const struct fb_compare_cell *
next_cell(const struct fb_compare *cmp, const char *engine, unsigned after) {
  const struct fb_compare_cell *next = NULL;

  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *c = &cmp->cells[i];

    if (strcmp(c->engine, engine) == 0 && c->workers > after &&
        (next == NULL || c->workers < next->workers))
      next = c;
  }
  return next;
}

static void point(struct fb__out *o, const struct chart *ch,
                  const struct metric *m, const struct axes *a, size_t e,
                  const struct fb_compare_cell *c) {
  const struct fb_stat *st = stat_of(c, m);
  double x = x_of(a, c->workers), y = y_of(a, st->median * ch->scale);
  int bad = c->errors > 0 || c->failed > 0;

  /* The bars span the runs' min and max: where fb_stat gains a confidence
   * interval of the median, they are the place to draw it.
   */
  if (ch->bars && c->runs > 1 && isfinite(st->min) && isfinite(st->max) &&
      st->max > st->min) {
    double y0 = y_of(a, st->min * ch->scale), y1 = y_of(a, st->max * ch->scale);

    fb__out_printf(o,
                   "<path class=\"bar\" d=\"M%.1f %.1fV%.1fM%.1f %.1fh6M%.1f "
                   "%.1fh6\"/>",
                   x, y0, y1, x - 3, y0, x - 3, y1);
  }
  fb__out_printf(o, "<path class=\"pt%s\" data-engine=\"", bad ? " bad" : "");
  fb__html_str(o, c->engine, "");
  fb__out_printf(o, "\" data-workers=\"%u\" data-metric=\"%s\"%s d=\"",
                 c->workers, m->label != NULL ? m->label : ch->id,
                 bad ? " fill=\"#fff\"" : "");
  marker(o, e, x, y);
  fb__out_printf(o, "\"><title>");
  fb__html_str(o, c->engine, "");
  fb__out_printf(o, ", %u worker%s: %s%s%.*f %s", c->workers,
                 c->workers == 1 ? "" : "s", m->label != NULL ? m->label : "",
                 m->label != NULL ? " " : "", ch->prec, st->median * ch->scale,
                 ch->unit);
  if (c->runs > 1 && isfinite(st->min))
    fb__out_printf(o, " (median of %u runs, min %.*f, max %.*f)", c->runs,
                   ch->prec, st->min * ch->scale, ch->prec,
                   st->max * ch->scale);
  if (bad)
    fb__out_printf(o, "; with errors: %zu of %zu requests failed%s", c->errors,
                   c->requests, c->failed > 0 ? ", runs failed" : "");
  fb__out_printf(o, "</title></path>\n");
}

static void series(struct fb__out *o, const struct fb_compare *cmp,
                   const struct chart *ch, const struct metric *m,
                   const struct axes *a, size_t e, const char *engine) {
  const char *colour = colours[e % NCOLOURS];
  const struct fb_compare_cell *c;
  const char *sep = "";

  fb__out_printf(o, "<g class=\"series\" data-engine=\"");
  fb__html_str(o, engine, "");
  fb__out_printf(o,
                 "\" data-metric=\"%s\" stroke=\"%s\" fill=\"%s\" "
                 "stroke-width=\"1.5\">\n<polyline fill=\"none\" "
                 "stroke-width=\"2\"%s points=\"",
                 m->label != NULL ? m->label : ch->id, colour, colour,
                 m->dashed ? " stroke-dasharray=\"6 4\"" : "");
  for (c = next_cell(cmp, engine, 0); c != NULL;
       c = next_cell(cmp, engine, c->workers)) {
    if (!plotted(c, ch, m))
      continue;
    fb__out_printf(o, "%s%.1f,%.1f", sep, x_of(a, c->workers),
                   y_of(a, stat_of(c, m)->median * ch->scale));
    sep = " ";
  }
  fb__out_printf(o, "\"/>\n");
  for (c = next_cell(cmp, engine, 0); c != NULL;
       c = next_cell(cmp, engine, c->workers))
    if (plotted(c, ch, m))
      point(o, ch, m, a, e, c);
  fb__out_printf(o, "</g>\n");
}

/* The ideal wall time ceil(URLs / workers) x delay at each worker count,
 * as the cells saved it.
 */
static int ideal(struct fb__out *o, const struct fb_compare *cmp,
                 const struct axes *a) {
  const char *sep = "";
  int n = 0;

  if (cmp->delay_ms < 0)
    return 0;
  fb__out_printf(o, "<polyline class=\"ideal\" fill=\"none\" stroke=\"#000\" "
                    "stroke-width=\"1.2\" stroke-dasharray=\"2 4\" points=\"");
  for (unsigned w = 0, prev = 0;; prev = w) {
    const struct fb_compare_cell *pick = NULL;

    w = 0;
    for (size_t i = 0; i < cmp->ncells; i++) {
      const struct fb_compare_cell *c = &cmp->cells[i];

      if (c->workers > prev && c->runs > 0 && c->ideal_s >= 0 &&
          c->workers >= a->wmin && c->workers <= a->wmax &&
          (w == 0 || c->workers < w)) {
        w = c->workers;
        pick = c;
      }
    }
    if (pick == NULL)
      break;
    fb__out_printf(o, "%s%.1f,%.1f", sep, x_of(a, w), y_of(a, pick->ideal_s));
    sep = " ";
    n++;
  }
  fb__out_printf(o, "\"/>\n");
  return n > 0;
}

static void swatch(struct fb__out *o, size_t e, int dashed) {
  const char *colour = colours[e % NCOLOURS];

  fb__out_printf(o,
                 "<svg width=\"30\" height=\"12\" viewBox=\"0 0 30 12\" "
                 "aria-hidden=\"true\"><line x1=\"1\" y1=\"6\" x2=\"29\" "
                 "y2=\"6\" stroke=\"%s\" stroke-width=\"2\"%s/><path "
                 "fill=\"%s\" d=\"",
                 colour, dashed ? " stroke-dasharray=\"6 4\"" : "", colour);
  marker(o, e, 15, 6);
  fb__out_printf(o, "\"/></svg>");
}

static void legend(struct fb__out *o, const struct chart *ch,
                   const char **names, size_t n, int with_ideal) {
  fb__out_printf(o, "<ul class=\"legend\">\n");
  for (size_t e = 0; e < n; e++)
    for (size_t k = 0; k < ch->nmetrics; k++) {
      const struct metric *m = &ch->metrics[k];

      fb__out_printf(o, "<li>");
      swatch(o, e, m->dashed);
      fb__html_str(o, names[e], "");
      if (m->label != NULL)
        fb__out_printf(o, " %s", m->label);
      fb__out_printf(o, "</li>\n");
    }
  if (with_ideal)
    fb__out_printf(o, "<li><svg width=\"30\" height=\"12\" viewBox=\"0 0 30 "
                      "12\" aria-hidden=\"true\"><line x1=\"1\" y1=\"6\" "
                      "x2=\"29\" y2=\"6\" stroke=\"#000\" "
                      "stroke-dasharray=\"2 4\"/></svg>ideal: ceil(URLs / "
                      "workers) \xc3\x97 delay</li>\n");
  fb__out_printf(o, "</ul>\n");
}

static void chart(struct fb__out *o, const struct fb_compare *cmp,
                  const struct chart *ch, const char **names, size_t n) {
  struct axes a;
  int with_ideal = 0;

  axes_of(&a, cmp, ch);
  fb__out_printf(o,
                 "<figure id=\"chart-%s\">\n<figcaption id=\"caption-%s\">%s "
                 "vs workers<span>%s</span></figcaption>\n"
                 "<svg class=\"chart\" data-chart=\"%s\" viewBox=\"0 0 %d %d\" "
                 "role=\"img\" aria-labelledby=\"caption-%s\">\n",
                 ch->id, ch->id, ch->title, ch->note, ch->id, W, H, ch->id);
  frame(o, cmp, ch, &a);
  if (ch->ideal)
    with_ideal = ideal(o, cmp, &a);
  for (size_t e = 0; e < n; e++)
    for (size_t k = 0; k < ch->nmetrics; k++)
      series(o, cmp, ch, &ch->metrics[k], &a, e, names[e]);
  fb__out_printf(o, "</svg>\n");
  legend(o, ch, names, n, with_ideal);
  fb__out_printf(o, "</figure>\n");
}

void fb__html_charts(struct fb__out *o, const struct fb_compare *cmp) {
  const char *names[MAX_ENGINES];
  size_t n = fb_compare_engines(cmp, names, MAX_ENGINES), runs = 0;

  for (size_t i = 0; i < cmp->ncells; i++)
    runs += cmp->cells[i].runs;
  if (runs == 0) {
    fb__out_printf(o, "<p class=\"note\">No chart: no cell has a finished "
                      "run.</p>\n");
    return;
  }
  if (n > MAX_ENGINES) {
    fb__out_printf(o,
                   "<p class=\"note\">The charts show the first %d of %zu "
                   "engines.</p>\n",
                   MAX_ENGINES, n);
    n = MAX_ENGINES;
  }
  fb__out_printf(o, "<div class=\"charts\">\n");
  for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++)
    chart(o, cmp, &charts[i], names, n);
  fb__out_printf(o, "</div>\n");
}
