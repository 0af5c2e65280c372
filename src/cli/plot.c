/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fetchbench/compare.h"
#include "fetchbench/engine.h"
#include "sweep.h"

extern char **environ;

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);

  return n > m && strcmp(s + n - m, suffix) == 0;
}

/* gnuplot's absolute path in *out when it is on PATH. */
static int find_gnuplot(char *out, size_t len) {
  const char *path = getenv("PATH");
  char dirs[4096];
  char *save = NULL;

  snprintf(dirs, sizeof(dirs), "%s", path != NULL ? path : "/usr/bin:/bin");
  for (char *d = strtok_r(dirs, ":", &save); d != NULL;
       d = strtok_r(NULL, ":", &save)) {
    snprintf(out, len, "%s/gnuplot", d[0] ? d : ".");
    if (access(out, X_OK) == 0)
      return 1;
  }
  return 0;
}

/* A figure of a cell, as one plot draws it. */
struct metric {
  const char *name;   /* "wall", "cpu" or "rss" */
  const char *title;  /* "wall time" */
  const char *ylabel; /* with its unit */
  double scale;       /* from the cell's unit to the plot's */
  size_t offset;      /* of the struct fb_stat in a cell */
};

#define STAT(field) offsetof(struct fb_compare_cell, field)

/* Against workers, one line per name. */
static const struct metric line_metrics[] = {
    {"wall", "wall time", "wall time (s)", 1.0, STAT(wall_s)},
    {"cpu", "CPU per request",
     "CPU per request (ms, user + sys, with children)", 1.0,
     STAT(cpu_per_req_ms)},
    {"rss", "peak RSS", "peak RSS, process + children (MiB)", 1.0 / 1024,
     STAT(rss_sum_kib)},
};

/* Against the rate asked, one line per engine and workers: an open-loop
 * sweep (compare --rate LIST).
 */
static const struct metric rate_metrics[] = {
    {"wall", "corrected p99 latency", "p99 latency from the due time (ms)", 1.0,
     STAT(corrected_p99_ms)},
    {"cpu", "CPU per request",
     "CPU per request (ms, user + sys, with children)", 1.0,
     STAT(cpu_per_req_ms)},
    {"rss", "peak RSS", "peak RSS, process + children (MiB)", 1.0 / 1024,
     STAT(rss_sum_kib)},
};

/* A bar per cell, when there are no lines to draw: the throughput view. */
static const struct metric bar_metrics[] = {
    {"wall", "pages/s", "pages/s", 1.0, STAT(req_per_s)},
    {"cpu", "CPU per page", "CPU per page (us, user + sys, with children)",
     1000.0, STAT(cpu_per_req_ms)},
    {"rss", "peak RSS", "peak RSS, process + children (MiB)", 1.0 / 1024,
     STAT(rss_sum_kib)},
};

#define MAX_SERIES 64

/* Colours by kind: the engines strong and the same in every plot (by their
 * place in the registry), other clients (peers) muted, in the order they
 * come, and reference series dark.
 */
static const char *const engine_colours[] = {
    "#7f3fbf", "#1f77b4", "#2ca02c", "#d62728", "#e6a100", "#000000",
};
static const char *const peer_colours[] = {
    "#ff7f0e", "#bcbd22", "#8c564b", "#9e9e9e", "#3a3a3a", "#e377c2",
    "#aec7e8", "#17becf", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
};
static const char *const reference_colours[] = {"#555555", "#1f4e9c", "#2b7a2b",
                                                "#a0261e"};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* One client's cells (and one rate's, in an open-loop sweep): a line, or
 * its bars.
 */
struct series {
  const char *name;   /* the cells' engine or peer */
  double rate;        /* the cells' rate, 0: closed loop */
  unsigned workers;   /* an open-loop sweep's: a line per engine and workers */
  char title[160];    /* the name, "at R/s" in an open loop */
  const char *colour; /* "#rrggbb" */
  int reference;      /* drawn dashed, without min-max bars */
  int fallback;       /* some cell's RSS is its largest process's */
  size_t points;      /* cells with a figure */
};

/* The figure of cell c that metric m draws, or NULL when it has none. RSS is
 * the process with its children where the cell knows it (the memory the
 * model took), else the largest process; *fallback says which.
 */
static const struct fb_stat *cell_stat(const struct fb_compare_cell *c,
                                       const struct metric *m, int *fallback) {
  const struct fb_stat *st =
      (const struct fb_stat *)((const char *)c + m->offset);

  *fallback = 0;
  if (c->runs == 0)
    return NULL;
  if (isnan(st->median) && m->offset == STAT(rss_sum_kib)) {
    st = &c->max_rss_kib;
    *fallback = 1;
  }
  return isnan(st->median) ? NULL : st;
}

/* A min or max of st, or its median where a saved file left it unknown. */
static double bound(double v, const struct fb_stat *st) {
  return isnan(v) ? st->median : v;
}

/* An open-loop sweep draws against the rate, not the workers. */
static int by_rate(const struct fb_compare *cmp) {
  for (size_t i = 0; i < cmp->ncells; i++)
    if (cmp->cells[i].rate > 0)
      return 1;
  return 0;
}

static int in_series(const struct fb_compare_cell *c, const struct series *s) {
  if (s->workers > 0)
    return c->workers == s->workers && strcmp(c->engine, s->name) == 0;
  return c->rate == s->rate && strcmp(c->engine, s->name) == 0;
}

/* Where cell c stands on the x axis. */
static double x_of(const struct fb_compare_cell *c, const struct series *s) {
  return s->workers > 0 ? c->rate : (double)c->workers;
}

/* The series of cmp's cells in order of their first cell, with colours:
 * an engine's first in its own, the others from the peers' (or, for
 * references, the dark) palette in order.
 */
static size_t make_series(const struct fb_compare *cmp, struct series *s,
                          size_t max) {
  size_t n = 0, peers = 0, refs = 0;
  unsigned used = 0; /* engines, by place in the registry, given colours */
  int rates = by_rate(cmp);

  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *c = &cmp->cells[i];
    size_t k = 0;

    while (k < n && !in_series(c, &s[k]))
      k++;
    if (k < n) {
      s[k].reference |= c->reference;
      continue;
    }
    if (n == max)
      break;
    memset(&s[n], 0, sizeof(s[n]));
    s[n].name = c->engine;
    s[n].rate = c->rate;
    s[n].reference = c->reference;
    if (rates) {
      s[n].workers = c->workers;
      snprintf(s[n].title, sizeof(s[n].title), "%s, %u worker%s", c->engine,
               c->workers, c->workers == 1 ? "" : "s");
    } else if (c->rate > 0)
      snprintf(s[n].title, sizeof(s[n].title), "%s at %g/s", c->engine,
               c->rate);
    else
      snprintf(s[n].title, sizeof(s[n].title), "%s", c->engine);
    n++;
  }
  for (size_t k = 0; k < n; k++) {
    size_t e = 0;

    while (fb_engines[e] != NULL && strcmp(fb_engines[e]->name, s[k].name) != 0)
      e++;
    if (s[k].reference)
      s[k].colour = reference_colours[refs++ % NELEMS(reference_colours)];
    else if (fb_engines[e] != NULL && e < NELEMS(engine_colours) &&
             !(used & 1u << e)) {
      s[k].colour = engine_colours[e];
      used |= 1u << e;
    } else
      s[k].colour = peer_colours[peers++ % NELEMS(peer_colours)];
  }
  return n;
}

/* Bars when no series has two cells: there is no line to draw through one
 * point per client (the throughput workload: every client at 64 in flight,
 * and sequential at its one).
 */
static int want_bars(const struct fb_compare *cmp) {
  for (size_t i = 0; i < cmp->ncells; i++)
    for (size_t k = i + 1; k < cmp->ncells; k++)
      if (cmp->cells[i].rate == cmp->cells[k].rate &&
          strcmp(cmp->cells[i].engine, cmp->cells[k].engine) == 0)
        return 0;
  return cmp->ncells > 0;
}

/* Text for a gnuplot single-quoted string: ' doubled, and no control
 * character (a newline would end the command).
 */
static void gp_quote(FILE *f, const char *s) {
  fputc('\'', f);
  for (; s != NULL && *s; s++) {
    if (*s == '\'')
      fputc('\'', f);
    fputc((unsigned char)*s < ' ' ? ' ' : *s, f);
  }
  fputc('\'', f);
}

/* Text for a data file's double-quoted column or comment. */
static void gp_data_text(FILE *f, const char *s) {
  for (; s != NULL && *s; s++)
    fputc(*s == '"' ? '\'' : (unsigned char)*s < ' ' ? ' ' : *s, f);
}

/* Adds w to the set ws (n of max) unless it is there. */
static void add_workers(unsigned *ws, size_t *n, size_t max, unsigned w) {
  for (size_t k = 0; k < *n; k++)
    if (ws[k] == w)
      return;
  if (*n < max)
    ws[(*n)++] = w;
}

/* One data block per series (gnuplot's index i): workers, median, min, max
 * by increasing workers; then the ideal wall time when known, at every
 * workers drawn. *logy: every value is above 0, so that a log axis can
 * show them.
 */
static void write_lines_data(FILE *f, const struct fb_compare *cmp,
                             const struct metric *m, struct series *s, size_t n,
                             int *ideal, int *logy) {
  unsigned ws[256];
  size_t nws = 0, urls = 0;

  *logy = 1;
  for (size_t e = 0; e < n; e++) {
    double last = 0;

    fprintf(f, "# ");
    gp_data_text(f, s[e].title);
    fprintf(f, "\n");
    for (;;) {
      const struct fb_compare_cell *next = NULL;
      const struct fb_stat *st;
      int fallback;

      for (size_t i = 0; i < cmp->ncells; i++) {
        const struct fb_compare_cell *c = &cmp->cells[i];
        if (in_series(c, &s[e]) && x_of(c, &s[e]) > last &&
            (next == NULL || x_of(c, &s[e]) < x_of(next, &s[e])))
          next = c;
      }
      if (next == NULL)
        break;
      last = x_of(next, &s[e]);
      st = cell_stat(next, m, &fallback);
      if (st == NULL)
        continue;
      s[e].points++;
      s[e].fallback |= fallback;
      if (!(bound(st->min, st) > 0))
        *logy = 0;
      fprintf(f, "%.9g %.9g %.9g %.9g\n", last, st->median * m->scale,
              bound(st->min, st) * m->scale, bound(st->max, st) * m->scale);
      if (!s[e].reference && s[e].workers == 0) {
        if (urls == 0)
          urls = next->urls;
        add_workers(ws, &nws, NELEMS(ws), next->workers);
      }
    }
    fprintf(f, "\n\n");
  }
  /* The ideal against workers; an open loop's bound against the rate. */
  if (by_rate(cmp)) {
    *ideal = m->offset == STAT(corrected_p99_ms) && cmp->slo_ms > 0;
    return;
  }
  *ideal = strcmp(m->name, "wall") == 0 && cmp->delay_ms >= 0 && urls > 0;
  if (!*ideal)
    return;
  fprintf(f, "# ideal\n");
  for (unsigned prev = 0;;) {
    unsigned w = 0;

    for (size_t k = 0; k < nws; k++)
      if (ws[k] > prev && (w == 0 || ws[k] < w))
        w = ws[k];
    if (w == 0)
      break;
    fprintf(f, "%u %.9g\n", w,
            (double)((urls + w - 1) / w) * cmp->delay_ms / 1000.0);
    prev = w;
  }
}

/* Two data blocks, a bar per cell in the order of the file: the measured
 * cells (index 0), the reference cells (index 1). Columns: x, median, min,
 * max, colour, label.
 */
static void write_bars_data(FILE *f, const struct fb_compare *cmp,
                            const struct metric *m, struct series *s,
                            size_t n) {
  for (int reference = 0; reference < 2; reference++) {
    for (size_t i = 0; i < cmp->ncells; i++) {
      const struct fb_compare_cell *c = &cmp->cells[i];
      const struct fb_stat *st;
      struct series *se = NULL;
      int fallback;

      for (size_t e = 0; e < n && se == NULL; e++)
        if (in_series(c, &s[e]))
          se = &s[e];
      if (se == NULL || se->reference != reference)
        continue;
      st = cell_stat(c, m, &fallback);
      if (st == NULL)
        continue;
      se->points++;
      se->fallback |= fallback;
      fprintf(f, "%zu %.9g %.9g %.9g 0x%s \"", i, st->median * m->scale,
              bound(st->min, st) * m->scale, bound(st->max, st) * m->scale,
              se->colour + 1);
      gp_data_text(f, se->title);
      fprintf(f, "%s (%u)\"\n", fallback ? "*" : "", c->workers);
    }
    /* gnuplot has no empty data block: a point outside the range. */
    fprintf(f, "-1 NaN NaN NaN 0x000000 \"\"\n\n\n");
  }
}

/* The runs behind the medians: " of 5", " of 3 to 5". */
static void runs_text(const struct fb_compare *cmp, char *buf, size_t len) {
  unsigned fewest, most;

  fb_compare_runs_range(cmp, &fewest, &most);
  if (fewest == most)
    snprintf(buf, len, " of %u", most > 0 ? most : cmp->repeats);
  else
    snprintf(buf, len, " of %u to %u", fewest, most);
}

static void write_head(FILE *f, const struct fb_cli_cmd *cmd,
                       const struct fb_compare *cmp, const struct metric *m,
                       const char *path, const char *subtitle, int bars,
                       int fallback) {
  char title[256], runs[32];

  if (has_suffix(path, ".svg"))
    fprintf(f, "set terminal svg size 960,600 dynamic font 'sans,12' "
               "background rgb 'white'\n");
  else
    fprintf(f, "set terminal pngcairo size 1200,750 font 'sans,11'\n");
  fprintf(f, "set output ");
  gp_quote(f, path);
  runs_text(cmp, runs, sizeof(runs));
  snprintf(title, sizeof(title), "fetchbench %s: %s%s (median%s, bars min-max)",
           cmd->name, m->title,
           bars           ? ""
           : by_rate(cmp) ? " vs rate"
                          : " vs workers",
           runs);
  fprintf(f, "\nset title ");
  gp_quote(f, title);
  if (subtitle != NULL && subtitle[0] != '\0') {
    fprintf(f, " . \"\\n\" . ");
    gp_quote(f, subtitle);
  }
  fprintf(f, " noenhanced\nset ylabel ");
  snprintf(title, sizeof(title), "%s%s", m->ylabel,
           fallback ? "; * the largest process" : "");
  gp_quote(f, title);
  fprintf(f, " noenhanced\nset grid\n");
}

static void write_lines_script(FILE *f, const struct fb_compare *cmp,
                               const char *data, const struct series *s,
                               size_t n, int ideal, int logy) {
  const char *sep = "plot ";
  int rates = by_rate(cmp);

  /* Log-log where every value allows it (a CPU time of 0 does not). */
  fprintf(f,
          "set xlabel '%s'\n"
          "set logscale x %d\n%s\nset format y '%%g'\n"
          "set key below noenhanced\n"
          "set offsets graph 0.05, graph 0.05, 0, 0\n",
          rates ? "requests per second asked (open loop)"
                : "workers (most requests in flight)",
          rates ? 10 : 2, logy ? "set logscale y 10" : "set yrange [0:*]");
  for (size_t e = 0; e < n; e++) {
    char title[256];

    if (s[e].points == 0)
      continue;
    fprintf(f, "%s", sep);
    sep = ", \\\n     ";
    gp_quote(f, data);
    if (s[e].reference)
      fprintf(f, " index %zu using 1:2 with linespoints dt 3 lw 1.5 pt 6 ", e);
    else
      fprintf(f, " index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 ", e);
    fprintf(f, "lc rgb '%s' title ", s[e].colour);
    snprintf(title, sizeof(title), "%s%s", s[e].title,
             s[e].fallback ? " *" : "");
    gp_quote(f, title);
  }
  if (ideal && rates) {
    fprintf(f, "%s%.9g with lines dt 2 lc rgb 'black' title 'bound: %g ms'",
            sep, cmp->slo_ms, cmp->slo_ms);
  } else if (ideal) {
    fprintf(f, "%s", sep);
    gp_quote(f, data);
    fprintf(f,
            " index %zu using 1:2 with lines dt 2 lc rgb 'black' "
            "title 'ideal: ceil(N/workers) x delay'",
            n);
  }
  fprintf(f, "\n");
}

static void write_bars_script(FILE *f, const struct fb_compare *cmp,
                              const struct metric *m, const char *data) {
  fprintf(f,
          "set style fill solid 0.7 border -1\nset boxwidth 0.7\n"
          "set xtics rotate by -30 noenhanced nomirror\n"
          "set xrange [-0.6:%g]\nunset key\nunset grid\nset grid ytics\n%s\n",
          (double)cmp->ncells - 0.4,
          m->offset == STAT(rss_sum_kib) ? "set logscale y 10"
                                         : "set yrange [0:*]");
  fprintf(f, "plot ");
  gp_quote(f, data);
  fprintf(f, " index 0 using 1:2:5:xtic(6) with boxes lc rgb variable, \\\n"
             "     '' index 0 using 1:2:3:4 with yerrorbars lc rgb 'black' "
             "pt 7 ps 0.4, \\\n"
             "     '' index 1 using 1:2:5:xtic(6) with boxes fs empty dt 2 "
             "lw 2 lc rgb variable\n");
}

/* Writes the data and the script of one plot. Returns 0, FB_EXIT_USAGE
 * after saying that there is nothing to draw, or -EIO.
 */
static int write_plot(FILE *df, FILE *sf, const struct fb_cli_cmd *cmd,
                      const struct fb_compare *cmp, size_t k, const char *path,
                      const char *data, const char *subtitle) {
  struct series s[MAX_SERIES];
  int rates = by_rate(cmp), bars = !rates && want_bars(cmp), ideal = 0;
  int fallback = 0, logy = 0;
  const struct metric *m = rates  ? &rate_metrics[k]
                           : bars ? &bar_metrics[k]
                                  : &line_metrics[k];
  size_t n = make_series(cmp, s, MAX_SERIES), points = 0;

  if (bars)
    write_bars_data(df, cmp, m, s, n);
  else
    write_lines_data(df, cmp, m, s, n, &ideal, &logy);
  for (size_t e = 0; e < n; e++) {
    points += s[e].points;
    fallback |= s[e].fallback;
  }
  if (points == 0) {
    fb__cli_error(cmd, "plot %s: no cell has a figure of %s", path, m->title);
    return FB_EXIT_USAGE;
  }
  write_head(sf, cmd, cmp, m, path, subtitle, bars, fallback);
  if (bars)
    write_bars_script(sf, cmp, m, data);
  else
    write_lines_script(sf, cmp, data, s, n, ideal, logy);
  return ferror(df) || ferror(sf) ? -EIO : 0;
}

/* Runs gnuplot on script. Returns 0, or FB_EXIT_USAGE after saying why. */
static int run_gnuplot(const struct fb_cli_cmd *cmd, char *gnuplot,
                       char *script, const char *path) {
  char *argv[] = {gnuplot, script, NULL};
  int rc, wstatus;
  pid_t pid;

  rc = posix_spawn(&pid, gnuplot, NULL, NULL, argv, environ);
  if (rc != 0) {
    fb__cli_error(cmd, "plot %s: cannot run %s: %s", path, gnuplot,
                  strerror(rc));
    return FB_EXIT_USAGE;
  }
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    fb__cli_error(cmd, "plot %s: gnuplot failed", path);
    return FB_EXIT_USAGE;
  }
  return 0;
}

/* One plot: metric k of cmp into path. Returns 0; 1 when gnuplot is
 * missing (after saying so: nothing drawn); or FB_EXIT_USAGE after saying
 * why.
 */
static int draw(const struct fb_cli_cmd *cmd, const struct fb_compare *cmp,
                size_t k, const char *path, const char *subtitle) {
  char gnuplot[4096], data[4096], script[4096];
  FILE *df = NULL, *sf = NULL;
  int rc, status = FB_EXIT_USAGE;

  if (!find_gnuplot(gnuplot, sizeof(gnuplot))) {
    fb__cli_error(cmd, "gnuplot not found: plot %s skipped", path);
    return 1;
  }
  data[0] = script[0] = '\0';
  rc = fb__output_tmpfile(data, sizeof(data), "plot", ".dat", &df);
  if (rc == 0)
    rc = fb__output_tmpfile(script, sizeof(script), "plot", ".gp", &sf);
  if (rc != 0) {
    fb__cli_error(cmd, "plot %s: temporary file: %s", path, fb_strerror(rc));
    goto out;
  }
  rc = write_plot(df, sf, cmd, cmp, k, path, data,
                  subtitle != NULL ? subtitle : cmp->ctx.workload);
  if (rc == FB_EXIT_USAGE)
    goto out;
  if (fclose(df) != 0 || rc != 0) {
    df = NULL;
    fb__cli_error(cmd, "plot %s: cannot write temporary files", path);
    goto out;
  }
  df = NULL;
  if (fclose(sf) != 0) {
    sf = NULL;
    fb__cli_error(cmd, "plot %s: cannot write temporary files", path);
    goto out;
  }
  sf = NULL;
  status = run_gnuplot(cmd, gnuplot, script, path);
out:
  if (df != NULL)
    fclose(df);
  if (sf != NULL)
    fclose(sf);
  if (data[0])
    unlink(data);
  if (script[0])
    unlink(script);
  return status;
}

/* The plot options, in the order of the metrics they draw. */
static const char *const plot_opts[3] = {"--plot", "--plot-cpu", "--plot-rss"};

int fb__plots_check(const struct fb_cli_cmd *cmd, int k, const char *path) {
  if (has_suffix(path, ".svg") || has_suffix(path, ".png"))
    return 0;
  return fb__cli_usage_error(cmd, "%s: '%s' must end in .svg or .png",
                             plot_opts[k], path);
}

int fb__plots_prepare(const struct fb_cli_cmd *cmd, struct fb_plots *p,
                      const char *const *seen, const char *const *inputs) {
  for (int k = 0; k < 3; k++) {
    p->path[k] = seen[k];
    if (seen[k] != NULL && fb__output_prepare(cmd, &p->out[k], plot_opts[k],
                                              seen[k], 1, inputs) != 0)
      return FB_EXIT_USAGE;
  }
  return 0;
}

int fb__plots_draw(const struct fb_cli_cmd *cmd, struct fb_plots *p,
                   const struct fb_compare *cmp, const char *subtitle) {
  int status = 0;

  for (int k = 0; k < 3; k++) {
    int rc = p->path[k] != NULL
                 ? draw(cmd, cmp, (size_t)k, p->path[k], subtitle)
                 : 1;

    /* A plot skipped or failed leaves no file that this run created. */
    if (rc == FB_EXIT_USAGE)
      status = FB_EXIT_USAGE;
    p->out[k].written = rc == 0;
  }
  return status;
}

void fb__plots_discard(struct fb_plots *p) {
  for (int k = 0; k < 3; k++)
    fb__output_discard(&p->out[k]);
}
