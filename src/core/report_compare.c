#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/compare.h"
#include "fetchbench/report.h"

/* --- Text ---------------------------------------------------------------- */

#define COLS 16
#define CELL 40

static const char *const heads[COLS] = {
    "engine", "workers",    "wall s",     "min-max", "user s", "sys s",
    "CPU s",  "children s", "CPU/req ms", "RSS MiB", "p50 ms", "p99 ms",
    "req/s",  "errors",     "ideal s",    "eff",
};

/* v with prec decimals, or "-" when unknown. */
static void fmt(char *cell, int prec, double v) {
  if (isnan(v))
    snprintf(cell, CELL, "-");
  else
    snprintf(cell, CELL, "%.*f", prec, v);
}

static void row_cells(char cells[COLS][CELL], const struct fb_compare_cell *c) {
  snprintf(cells[0], CELL, "%s", c->engine != NULL ? c->engine : "?");
  snprintf(cells[1], CELL, "%u", c->workers);
  fmt(cells[2], 3, c->wall_s.median);
  if (isnan(c->wall_s.min))
    snprintf(cells[3], CELL, "-");
  else
    snprintf(cells[3], CELL, "%.3f-%.3f", c->wall_s.min, c->wall_s.max);
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
    snprintf(cells[13], CELL, "%s", c->failed > 0 ? "FAILED" : "not run");
  else if (c->errors > 0 || c->failed > 0)
    snprintf(cells[13], CELL, "%zu/%zu !", c->errors, c->requests);
  else
    snprintf(cells[13], CELL, "0");
  fmt(cells[14], 3, c->ideal_s >= 0 ? c->ideal_s : NAN);
  if (c->efficiency >= 0)
    snprintf(cells[15], CELL, "%.0f%%", c->efficiency * 100);
  else
    snprintf(cells[15], CELL, "-");
}

static void line(struct fb__out *o, char cells[COLS][CELL], const size_t *width,
                 int ncols) {
  for (int c = 0; c < ncols; c++) {
    if (c == 0)
      fb__out_printf(o, "%-*s", (int)width[c], cells[c]);
    else
      fb__out_printf(o, "  %*s", (int)width[c], cells[c]);
  }
  fb__out_printf(o, "\n");
}

static void cell_problems(struct fb__out *o, const struct fb_compare *cmp,
                          const struct fb_compare_cell *c) {
  const char *sep = ": ";

  if (c->errors == 0 && c->failed == 0)
    return;
  fb__out_printf(o, "! %s with %u worker%s", c->engine, c->workers,
                 c->workers == 1 ? "" : "s");
  if (c->errors > 0) {
    fb__out_printf(o, ": %zu of %zu requests failed", c->errors, c->requests);
    for (int i = 0; i < FB_OUTCOME_COUNT; i++) {
      if (i == FB_OUTCOME_OK || c->outcomes[i] == 0)
        continue;
      fb__out_printf(o, "%s%s %zu", sep, fb_outcome_name(i), c->outcomes[i]);
      sep = ", ";
    }
    sep = "; ";
  }
  if (c->failed > 0)
    fb__out_printf(o, "%s%u of %u runs failed (%s)", sep, c->failed,
                   c->runs + c->failed > cmp->repeats ? c->runs
                                                      : c->runs + c->failed,
                   c->note);
  fb__out_printf(o, "\n");
}

static const char *plural(unsigned n) {
  return n == 1 ? "" : "s";
}

/* "async with 16 workers" */
static void who(struct fb__out *o, const struct fb_compare *cmp, int i) {
  const struct fb_compare_cell *c = &cmp->cells[i];

  fb__out_printf(o, "%s with %u worker%s", c->engine, c->workers,
                 plural(c->workers));
}

static void verdict_speed(struct fb__out *o, const struct fb_compare *cmp,
                          const struct fb_verdict *v) {
  const struct fb_compare_cell *f = &cmp->cells[v->fastest];
  const struct fb_compare_cell *s = &cmp->cells[v->slowest];

  fb__out_printf(o, "- fastest: ");
  who(o, cmp, v->fastest);
  fb__out_printf(o, ", %.3f s median wall", f->wall_s.median);
  if (v->slowest != v->fastest && f->wall_s.median > 0)
    fb__out_printf(o, ", %.1fx faster than the slowest (%s, %u: %.3f s)",
                   s->wall_s.median / f->wall_s.median, s->engine, s->workers,
                   s->wall_s.median);
  fb__out_printf(o, ".\n");
  if (v->runner_up >= 0) {
    const struct fb_compare_cell *r = &cmp->cells[v->runner_up];

    fb__out_printf(o, "  runner-up: ");
    who(o, cmp, v->runner_up);
    fb__out_printf(o, ", %.3f s", r->wall_s.median);
    fb__out_printf(o, " (%.1f%% slower",
                   (r->wall_s.median / f->wall_s.median - 1) * 100);
    if (v->noisy)
      fb__out_printf(o, "): a tie within noise");
    else
      fb__out_printf(o, ", min-max ranges apart)");
    fb__out_printf(o, ".\n");
  }
  if (v->best_efficiency >= 0) {
    const struct fb_compare_cell *e = &cmp->cells[v->best_efficiency];
    size_t rounds = (e->urls + e->workers - 1) / e->workers;
    const char *sep = " (";

    fb__out_printf(o,
                   "- at %u worker%s, closest to the ideal %.3f s (%zu "
                   "round%s of %.0f ms): %s, %.0f%% efficiency",
                   v->top_workers, plural(v->top_workers), e->ideal_s, rounds,
                   rounds == 1 ? "" : "s", cmp->delay_ms, e->engine,
                   e->efficiency * 100);
    for (size_t i = 0; i < cmp->ncells; i++) {
      const struct fb_compare_cell *c = &cmp->cells[i];

      if ((int)i == v->best_efficiency || c->workers != v->top_workers ||
          c->efficiency < 0 || c->runs == 0)
        continue;
      fb__out_printf(o, "%s%s %.0f%%", sep, c->engine, c->efficiency * 100);
      sep = ", ";
    }
    fb__out_printf(o, "%s.\n", sep[0] == ',' ? ")" : "");
  }
}

static void verdict_cost(struct fb__out *o, const struct fb_compare *cmp,
                         const struct fb_verdict *v) {
  const struct fb_compare_cell *c, *m, *h;
  int dearest = -1;

  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *x = &cmp->cells[i];
    if (x->runs == 0 || x->errors > 0 || x->failed > 0)
      continue;
    if (dearest < 0 ||
        x->cpu_per_req_ms.median > cmp->cells[dearest].cpu_per_req_ms.median)
      dearest = (int)i;
  }
  /* A median lost to a failed allocation (NaN) leaves no cheapest cell. */
  if (v->cheapest_cpu >= 0) {
    c = &cmp->cells[v->cheapest_cpu];
    fb__out_printf(o, "- cheapest in CPU: ");
    who(o, cmp, v->cheapest_cpu);
    fb__out_printf(o, ", %.2f ms CPU per request", c->cpu_per_req_ms.median);
    if (dearest >= 0 && dearest != v->cheapest_cpu) {
      const struct fb_compare_cell *d = &cmp->cells[dearest];

      fb__out_printf(o, "; dearest: %s with %u, %.2f ms", d->engine, d->workers,
                     d->cpu_per_req_ms.median);
      if (c->cpu_per_req_ms.median > 0)
        fb__out_printf(o, " (%.1fx)",
                       d->cpu_per_req_ms.median / c->cpu_per_req_ms.median);
    }
    fb__out_printf(o, ".\n");
  }
  if (v->cheapest_memory < 0)
    return;
  m = &cmp->cells[v->cheapest_memory];
  h = &cmp->cells[v->hungriest_memory];
  fb__out_printf(o, "- cheapest in memory: ");
  who(o, cmp, v->cheapest_memory);
  fb__out_printf(o, ", %.1f MiB peak RSS", m->rss_sum_kib.median / 1024.0);
  if (v->hungriest_memory != v->cheapest_memory) {
    fb__out_printf(o, "; most: %s with %u, %.1f MiB", h->engine, h->workers,
                   h->rss_sum_kib.median / 1024.0);
    if (m->rss_sum_kib.median > 0)
      fb__out_printf(o, " (%.1fx)",
                     h->rss_sum_kib.median / m->rss_sum_kib.median);
  }
  fb__out_printf(o, ".\n");
}

static void verdict_scaling(struct fb__out *o, const struct fb_compare *cmp,
                            const struct fb_verdict_scaling *sc) {
  const struct fb_compare_cell *b = &cmp->cells[sc->before];

  fb__out_printf(o, "- %s: ", sc->engine);
  if (sc->after >= 0) {
    const struct fb_compare_cell *a = &cmp->cells[sc->after];

    fb__out_printf(o, "adding workers stopped helping after %u", b->workers);
    if (sc->gain >= 0)
      fb__out_printf(o, " (%u saved %.0f%% of the wall time, under %.0f%%)",
                     a->workers, sc->gain * 100, FB_VERDICT_GAIN * 100);
    else
      fb__out_printf(o, " (%u was %.0f%% slower)", a->workers, -sc->gain * 100);
  } else if (sc->cells < 2) {
    fb__out_printf(o, "one clean worker count only (%u)", b->workers);
  } else {
    fb__out_printf(o,
                   "still gaining at %u workers (the last step saved %.0f%%)",
                   b->workers, sc->last_gain * 100);
  }
  if (sc->best >= 0 && sc->best != sc->before)
    fb__out_printf(o, "; fastest at %u", cmp->cells[sc->best].workers);
  fb__out_printf(o, ".\n");
}

#define WRAP 79

/* Writes text with lines longer than WRAP broken at spaces; continuation
 * lines are indented two columns deeper than the line's own indent.
 */
static void wrapped(struct fb__out *o, const char *text, size_t len) {
  const char *end = text + len;

  while (text < end) {
    const char *nl = memchr(text, '\n', (size_t)(end - text));
    const char *stop = nl != NULL ? nl : end;
    size_t indent = strspn(text, " ") + 2, col = 0;

    if (text == stop)
      fb__out_printf(o, "\n");
    while (text < stop) {
      size_t n = (size_t)(stop - text);

      if (col + n > WRAP) {
        const char *cut = text + (WRAP - col);

        /* Break at the last space that fits, else at the next one. */
        while (cut > text && *cut != ' ')
          cut--;
        if (cut == text) {
          cut = memchr(text, ' ', n);
          if (cut == NULL)
            cut = stop;
        }
        n = (size_t)(cut - text);
      }
      fb__out_printf(o, "%*s%.*s\n", (int)col, "", (int)n, text);
      text += n;
      while (text < stop && *text == ' ')
        text++;
      col = indent;
    }
    text = nl != NULL ? nl + 1 : end;
  }
}

static void verdict_body(struct fb__out *o, const struct fb_compare *cmp) {
  struct fb_verdict v;
  size_t bad = 0;

  fb_compare_verdict(cmp, &v);
  for (size_t i = 0; i < cmp->ncells; i++)
    bad += cmp->cells[i].runs > 0 &&
           (cmp->cells[i].errors > 0 || cmp->cells[i].failed > 0);
  fb__out_printf(o, "\nVerdict (medians of %u run%s per cell):\n", cmp->repeats,
                 plural(cmp->repeats));
  if (v.fastest < 0) {
    fb__out_printf(o, "- no cell ran without errors: nothing to compare.\n");
    return;
  }
  verdict_speed(o, cmp, &v);
  verdict_cost(o, cmp, &v);
  for (size_t k = 0; k < v.nscaling; k++)
    verdict_scaling(o, cmp, &v.scaling[k]);
  if (bad > 0)
    fb__out_printf(o,
                   "- %zu cell%s with errors or failed runs left out of "
                   "the verdict.\n",
                   bad, bad == 1 ? "" : "s");
}

/* The verdict is written to memory first so that its sentences can be
 * wrapped to the terminal's usual width.
 */
static void verdict(struct fb__out *o, const struct fb_compare *cmp) {
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  struct fb__out m = {mem, 0};

  if (mem == NULL) {
    verdict_body(o, cmp);
    return;
  }
  verdict_body(&m, cmp);
  if (fclose(mem) != 0 || m.rc != 0) {
    free(text);
    verdict_body(o, cmp);
    return;
  }
  wrapped(o, text, len);
  free(text);
}

int fb_report_compare_text(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};
  char head[COLS][CELL], cells[COLS][CELL];
  size_t width[COLS];
  int ncols = cmp->delay_ms >= 0 ? COLS : COLS - 2;

  for (int c = 0; c < COLS; c++) {
    snprintf(head[c], CELL, "%s", heads[c]);
    width[c] = strlen(heads[c]);
  }
  for (size_t r = 0; r < cmp->ncells; r++) {
    row_cells(cells, &cmp->cells[r]);
    for (int c = 0; c < COLS; c++)
      if (strlen(cells[c]) > width[c])
        width[c] = strlen(cells[c]);
  }
  line(&o, head, width, ncols);
  for (size_t r = 0; r < cmp->ncells; r++) {
    row_cells(cells, &cmp->cells[r]);
    line(&o, cells, width, ncols);
  }
  for (size_t r = 0; r < cmp->ncells; r++)
    cell_problems(&o, cmp, &cmp->cells[r]);
  fb__out_printf(&o, "RSS: peak of the client plus the peak of every child "
                     "process it ran (shared pages count in each).\n");
  verdict(&o, cmp);
  return fb__out_end(&o);
}

/* --- Numbers -------------------------------------------------------------- */

/* The shortest text that reads back as v, in positional notation where that
 * is short (4200, not 4.2e+03; 0.0125, not 1.25e-02), so that people and
 * spreadsheets read the files as easily as parsers.
 */
static char *number(char *buf, size_t size, double v) {
  double a = fabs(v);

  if (v == 0) {
    snprintf(buf, size, "0");
    return buf;
  }
  if (a >= 1e-4 && a < 1e15)
    for (int prec = 0; prec <= 20; prec++) {
      snprintf(buf, size, "%.*f", prec, v);
      if (strtod(buf, NULL) == v)
        return buf;
    }
  return fb__shortest_double(buf, size, v);
}

static void json_number(struct fb__out *o, double v) {
  char buf[64];

  if (!isfinite(v))
    fb__out_printf(o, "null");
  else
    fb__out_printf(o, "%s", number(buf, sizeof(buf), v));
}

/* --- JSON Lines ---------------------------------------------------------- */

static void jstr(struct fb__out *o, const char *name, const char *s) {
  fb__out_printf(o, ",\"%s\":", name);
  if (s == NULL)
    fb__out_printf(o, "null");
  else
    fb__out_json_string(o, s, strlen(s));
}

static void jnum(struct fb__out *o, const char *name, double v) {
  fb__out_printf(o, ",\"%s\":", name);
  json_number(o, v);
}

static void jmaybe(struct fb__out *o, const char *name, double v) {
  jnum(o, name, v >= 0 ? v : NAN);
}

static void jstat(struct fb__out *o, const char *name,
                  const struct fb_stat *st) {
  fb__out_printf(o, ",\"%s\":{\"median\":", name);
  json_number(o, st->median);
  fb__out_printf(o, ",\"min\":");
  json_number(o, st->min);
  fb__out_printf(o, ",\"max\":");
  json_number(o, st->max);
  fb__out_printf(o, "}");
}

static void jcpu(struct fb__out *o, const char *name, int cpu) {
  if (cpu < 0)
    fb__out_printf(o, ",\"%s\":null", name);
  else
    fb__out_printf(o, ",\"%s\":%d", name, cpu);
}

static void jcontext(struct fb__out *o, const struct fb_compare *cmp) {
  const struct fb_compare_context *x = &cmp->ctx;

  jstr(o, "workload", x->workload);
  jstr(o, "origin", x->origin);
  jstr(o, "corpus", x->corpus);
  jstr(o, "connection", x->connection);
  jmaybe(o, "delay_ms", cmp->delay_ms);
  fb__out_printf(o, ",\"jitter_ms\":%u", x->jitter_ms);
  fb__out_printf(o, ",\"repeats\":%u", cmp->repeats);
  jstr(o, "machine", x->machine);
  jcpu(o, "client_cpu", x->client_cpu);
  jcpu(o, "origin_cpu", x->origin_cpu);
}

static void jcell(struct fb__out *o, const struct fb_compare *cmp,
                  const struct fb_compare_cell *c) {
  const char *sep = "";

  fb__out_printf(o, "{\"schema\":%d,\"kind\":\"cell\"", FB_REPORT_SCHEMA);
  jstr(o, "engine", c->engine);
  fb__out_printf(o,
                 ",\"workers\":%u,\"urls\":%zu,\"runs\":%u,"
                 "\"failed_runs\":%u",
                 c->workers, c->urls, c->runs, c->failed);
  jstr(o, "failure", c->failed > 0 ? c->note : NULL);
  fb__out_printf(o, ",\"requests\":%zu,\"errors_total\":%zu,\"errors\":{",
                 c->requests, c->errors);
  for (int i = 0; i < FB_OUTCOME_COUNT; i++) {
    if (i == FB_OUTCOME_OK || c->outcomes[i] == 0)
      continue;
    fb__out_printf(o, "%s\"%s\":%zu", sep, fb_outcome_name(i), c->outcomes[i]);
    sep = ",";
  }
  fb__out_printf(o, "}");
  jstat(o, "wall_s", &c->wall_s);
  jstat(o, "cpu_user_s", &c->cpu_user_s);
  jstat(o, "cpu_sys_s", &c->cpu_sys_s);
  jstat(o, "cpu_s", &c->cpu_s);
  jstat(o, "child_cpu_s", &c->child_cpu_s);
  jstat(o, "cpu_per_req_ms", &c->cpu_per_req_ms);
  jstat(o, "max_rss_kib", &c->max_rss_kib);
  jstat(o, "rss_sum_kib", &c->rss_sum_kib);
  jstat(o, "latency_p50_ms", &c->latency_p50_ms);
  jstat(o, "latency_p99_ms", &c->latency_p99_ms);
  jstat(o, "ttfb_p50_ms", &c->ttfb_p50_ms);
  jstat(o, "req_per_s", &c->req_per_s);
  jmaybe(o, "ideal_s", c->ideal_s);
  jmaybe(o, "efficiency", c->efficiency);
  jstat(o, "run_efficiency", &c->run_efficiency);
  fb__out_printf(o, ",\"runs_wall_s\":[");
  for (unsigned r = 0; r < c->runs; r++) {
    fb__out_printf(o, r > 0 ? "," : "");
    json_number(o, c->summaries[r].wall_s);
  }
  fb__out_printf(o, "]");
  jcontext(o, cmp);
  fb__out_printf(o, "}\n");
}

static void jref(struct fb__out *o, const char *name,
                 const struct fb_compare *cmp, int i) {
  if (i < 0) {
    fb__out_printf(o, ",\"%s\":null", name);
    return;
  }
  fb__out_printf(o, ",\"%s\":{\"engine\":", name);
  fb__out_json_string(o, cmp->cells[i].engine, strlen(cmp->cells[i].engine));
  fb__out_printf(o, ",\"workers\":%u}", cmp->cells[i].workers);
}

static void jverdict(struct fb__out *o, const struct fb_compare *cmp) {
  struct fb_verdict v;

  fb_compare_verdict(cmp, &v);
  fb__out_printf(o, "{\"schema\":%d,\"kind\":\"verdict\"", FB_REPORT_SCHEMA);
  fb__out_printf(o, ",\"cells\":%zu,\"clean_cells\":%d,\"runs\":%zu",
                 cmp->ncells, v.clean, cmp->runs_done);
  fb__out_printf(o, ",\"cancelled\":%s", cmp->cancelled ? "true" : "false");
  jnum(o, "elapsed_s", cmp->elapsed_s);
  jref(o, "fastest", cmp, v.fastest);
  jref(o, "runner_up", cmp, v.runner_up);
  fb__out_printf(o, ",\"tie\":%s", v.noisy ? "true" : "false");
  jref(o, "slowest", cmp, v.slowest);
  jref(o, "cheapest_cpu", cmp, v.cheapest_cpu);
  jref(o, "cheapest_memory", cmp, v.cheapest_memory);
  jref(o, "most_memory", cmp, v.hungriest_memory);
  jref(o, "best_efficiency", cmp, v.best_efficiency);
  fb__out_printf(o, ",\"gain_threshold\":");
  json_number(o, FB_VERDICT_GAIN);
  fb__out_printf(o, ",\"scaling\":[");
  for (size_t k = 0; k < v.nscaling; k++) {
    const struct fb_verdict_scaling *sc = &v.scaling[k];

    fb__out_printf(o, "%s{\"engine\":", k > 0 ? "," : "");
    fb__out_json_string(o, sc->engine, strlen(sc->engine));
    fb__out_printf(o, ",\"clean_cells\":%u,\"fastest_workers\":%u", sc->cells,
                   cmp->cells[sc->best].workers);
    fb__out_printf(o, ",\"stopped_helping_after\":");
    if (sc->after >= 0) {
      fb__out_printf(o, "%u,\"next_gain\":", cmp->cells[sc->before].workers);
      json_number(o, sc->gain);
    } else {
      fb__out_printf(o, "null,\"last_gain\":");
      json_number(o, sc->last_gain);
    }
    fb__out_printf(o, "}");
  }
  fb__out_printf(o, "]");
  jcontext(o, cmp);
  fb__out_printf(o, "}\n");
}

int fb_report_compare_json(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};

  for (size_t i = 0; i < cmp->ncells; i++)
    jcell(&o, cmp, &cmp->cells[i]);
  jverdict(&o, cmp);
  return fb__out_end(&o);
}

/* --- CSV ----------------------------------------------------------------- */

static void cnum(struct fb__out *o, double v) {
  char buf[40];

  if (isnan(v) || v < 0)
    fb__out_printf(o, ",");
  else
    fb__out_printf(o, ",%s", number(buf, sizeof(buf), v));
}

static void cstat(struct fb__out *o, const struct fb_stat *st, int range) {
  cnum(o, st->median);
  if (range) {
    cnum(o, st->min);
    cnum(o, st->max);
  }
}

int fb_report_compare_csv(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};

  fb__out_printf(&o,
                 "engine,workers,urls,runs,failed_runs,requests,errors,"
                 "wall_s,wall_min_s,wall_max_s,cpu_user_s,cpu_sys_s,cpu_s,"
                 "child_cpu_s,cpu_per_req_ms,cpu_per_req_min_ms,"
                 "cpu_per_req_max_ms,max_rss_kib,max_rss_min_kib,"
                 "max_rss_max_kib,latency_p50_ms,latency_p99_ms,ttfb_p50_ms,"
                 "req_per_s,ideal_s,efficiency\n");
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
    fb__out_printf(&o, "\n");
  }
  return fb__out_end(&o);
}
