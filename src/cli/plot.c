#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fetchbench/compare.h"
#include "sweep.h"

extern char **environ;

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);

  return n > m && strcmp(s + n - m, suffix) == 0;
}

int fb__plot_check_path(const struct fb_cli_cmd *cmd, const char *opt,
                        const char *path) {
  if (has_suffix(path, ".svg") || has_suffix(path, ".png"))
    return 0;
  return fb__cli_usage_error(cmd, "%s: '%s' must end in .svg or .png", opt,
                             path);
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

struct metric {
  const char *name;
  const char *ylabel;
  const char *title;
  int logy;
  double scale;
  size_t offset; /* of the struct fb_stat in a cell */
};

static const struct metric metrics[] = {
    {"wall", "wall time (s)", "wall time", 1, 1.0,
     offsetof(struct fb_compare_cell, wall_s)},
    {"cpu", "CPU per request (ms, user + sys, with children)",
     "CPU per request", 0, 1.0,
     offsetof(struct fb_compare_cell, cpu_per_req_ms)},
    {"rss", "peak RSS of the largest process (MiB)", "peak RSS", 0, 1.0 / 1024,
     offsetof(struct fb_compare_cell, max_rss_kib)},
};

/* A string for a gnuplot double-quoted string: no quotes or backslashes. */
static void gp_text(FILE *f, const char *s) {
  for (; s != NULL && *s; s++)
    fputc(*s == '"' || *s == '\\' ? '\'' : *s, f);
}

/* A file name for a gnuplot single-quoted string: ' doubled. */
static void gp_name(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '\'')
      fputc('\'', f);
    fputc(*s, f);
  }
}

/* One data block per engine (index i in gnuplot): workers, median, min,
 * max, by increasing workers; then the ideal wall time when known.
 */
static int write_data(FILE *f, const struct fb_compare *cmp,
                      const struct metric *m, const char **names, size_t n,
                      int *ideal) {
  unsigned wmax = 0;

  for (size_t e = 0; e < n; e++) {
    unsigned last = 0;

    fprintf(f, "# %s\n", names[e]);
    for (;;) {
      const struct fb_compare_cell *next = NULL;

      for (size_t i = 0; i < cmp->ncells; i++) {
        const struct fb_compare_cell *c = &cmp->cells[i];
        if (strcmp(c->engine, names[e]) == 0 && c->workers > last &&
            (next == NULL || c->workers < next->workers))
          next = c;
      }
      if (next == NULL)
        break;
      last = next->workers;
      if (last > wmax)
        wmax = last;
      const struct fb_stat *st =
          (const struct fb_stat *)((const char *)next + m->offset);
      if (next->runs > 0 && !(st->median != st->median))
        fprintf(f, "%u %.9g %.9g %.9g\n", next->workers, st->median * m->scale,
                st->min * m->scale, st->max * m->scale);
    }
    fprintf(f, "\n\n");
  }
  *ideal = 0;
  if (strcmp(m->name, "wall") == 0 && cmp->delay_ms >= 0 && wmax > 0) {
    size_t urls = 0;

    for (size_t i = 0; i < cmp->ncells && urls == 0; i++)
      urls = cmp->cells[i].urls;
    fprintf(f, "# ideal\n");
    for (unsigned w = 1; urls > 0 && w <= wmax; w *= 2)
      fprintf(f, "%u %.9g\n", w,
              (double)((urls + w - 1) / w) * cmp->delay_ms / 1000.0);
    *ideal = urls > 0;
  }
  return ferror(f) ? -EIO : 0;
}

static void write_script(FILE *f, const struct fb_compare *cmp,
                         const struct metric *m, const char *path,
                         const char *data, const char **names, size_t n,
                         int ideal) {
  unsigned fewest, most;
  char runs[32];

  if (has_suffix(path, ".svg"))
    fprintf(f, "set terminal svg size 960,600 dynamic font 'sans,12' "
               "background rgb 'white'\n");
  else
    fprintf(f, "set terminal pngcairo size 1200,750 font 'sans,11'\n");
  fprintf(f, "set output '");
  gp_name(f, path);
  fb_compare_runs_range(cmp, &fewest, &most);
  if (fewest == most)
    snprintf(runs, sizeof(runs), "%u", most > 0 ? most : cmp->repeats);
  else
    snprintf(runs, sizeof(runs), "%u to %u", fewest, most);
  fprintf(f,
          "'\nset title \"fetchbench compare: %s vs workers "
          "(median of %s, bars min-max)\\n{/*0.75 ",
          m->title, runs);
  gp_text(f, cmp->ctx.workload);
  fprintf(f, "}\"\n");
  fprintf(f, "set xlabel 'workers (most requests in flight)'\n");
  fprintf(f, "set ylabel '%s'\n", m->ylabel);
  fprintf(f, "set logscale x 2\nset grid\nset key below "
             "noenhanced\nset offsets graph 0.05, graph 0.05, 0, 0\n");
  if (m->logy)
    fprintf(f, "set logscale y 10\n");
  else
    fprintf(f, "set yrange [0:*]\n");
  fprintf(f, "plot ");
  for (size_t e = 0; e < n; e++) {
    fprintf(f, "%s'", e > 0 ? ", \\\n     " : "");
    gp_name(f, data);
    fprintf(f,
            "' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 "
            "title '%s'",
            e, names[e]);
  }
  if (ideal) {
    fprintf(f, ", \\\n     '");
    gp_name(f, data);
    fprintf(f,
            "' index %zu using 1:2 with lines dt 2 lc rgb 'black' "
            "title 'ideal: ceil(N/workers) x delay'",
            n);
  }
  fprintf(f, "\n");
}

int fb__plot(const struct fb_cli_cmd *cmd, const struct fb_compare *cmp,
             const char *metric, const char *path) {
  char gnuplot[4096], data[4096], script[4096];
  const char *names[64];
  const struct metric *m = NULL;
  FILE *df = NULL, *sf = NULL;
  int rc, ideal = 0, status = FB_EXIT_USAGE, wstatus;
  size_t n;
  pid_t pid;

  for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
    if (strcmp(metrics[i].name, metric) == 0)
      m = &metrics[i];
  if (m == NULL)
    return FB_EXIT_USAGE;
  if (!find_gnuplot(gnuplot, sizeof(gnuplot))) {
    fb__cli_error(cmd, "gnuplot not found: plot %s skipped", path);
    return 0;
  }
  data[0] = script[0] = '\0';
  n = fb_compare_engines(cmp, names, sizeof(names) / sizeof(names[0]));
  if (n > sizeof(names) / sizeof(names[0]))
    n = sizeof(names) / sizeof(names[0]);
  rc = fb__output_tmpfile(data, sizeof(data), "plot", ".dat", &df);
  if (rc == 0)
    rc = fb__output_tmpfile(script, sizeof(script), "plot", ".gp", &sf);
  if (rc != 0) {
    fb__cli_error(cmd, "plot %s: temporary file: %s", path, fb_strerror(rc));
    goto out;
  }
  rc = write_data(df, cmp, m, names, n, &ideal);
  write_script(sf, cmp, m, path, data, names, n, ideal);
  if (fclose(df) != 0 || rc != 0 || ferror(sf)) {
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
  {
    char *argv[] = {gnuplot, script, NULL};

    rc = posix_spawn(&pid, gnuplot, NULL, NULL, argv, environ);
  }
  if (rc != 0) {
    fb__cli_error(cmd, "plot %s: cannot run %s: %s", path, gnuplot,
                  strerror(rc));
    goto out;
  }
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    fb__cli_error(cmd, "plot %s: gnuplot failed", path);
    goto out;
  }
  status = 0;
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
