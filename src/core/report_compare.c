#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/compare_int.h"
#include "core/report_int.h"
#include "fetchbench/compare.h"
#include "fetchbench/report.h"

/* --- Text ---------------------------------------------------------------- */

#define COLS FB__TABLE_COLS
#define CELL FB__TABLE_CELL

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

/* A verdict's sentence, wrapped to the terminal's usual width: the title
 * after a blank line, points marked "- ", their continuations indented.
 */
static void verdict_line(void *ctx, enum fb__verdict_part part,
                         const char *text) {
  struct fb__out *o = ctx;
  char buf[4200];
  int n;

  switch (part) {
  case FB__VERDICT_TITLE:
    n = snprintf(buf, sizeof(buf), "\n%s:\n", text);
    break;
  case FB__VERDICT_POINT:
    n = snprintf(buf, sizeof(buf), "- %s\n", text);
    break;
  default:
    n = snprintf(buf, sizeof(buf), "  %s\n", text);
    break;
  }
  if (n > 0)
    wrapped(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

int fb_report_compare_text(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};
  char head[COLS][CELL], cells[COLS][CELL], problems[1024];
  size_t width[COLS];
  int ncols = fb__table_ncols(cmp);

  for (int c = 0; c < COLS; c++) {
    snprintf(head[c], CELL, "%s", fb__table_heads[c]);
    width[c] = strlen(fb__table_heads[c]);
  }
  for (size_t r = 0; r < cmp->ncells; r++) {
    fb__table_row(cells, &cmp->cells[r]);
    for (int c = 0; c < COLS; c++)
      if (strlen(cells[c]) > width[c])
        width[c] = strlen(cells[c]);
  }
  line(&o, head, width, ncols);
  for (size_t r = 0; r < cmp->ncells; r++) {
    fb__table_row(cells, &cmp->cells[r]);
    line(&o, cells, width, ncols);
  }
  for (size_t r = 0; r < cmp->ncells; r++)
    if (fb__table_problems(problems, sizeof(problems), cmp, &cmp->cells[r]))
      fb__out_printf(&o, "! %s\n", problems);
  fb__out_printf(&o, "%s\n", FB__TABLE_RSS_NOTE);
  fb__verdict_text(cmp, verdict_line, &o);
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
