/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetchbench/compare.h"
#include "sweep.h"

enum {
  O_ENGINES = FB_JOBOPT_COUNT,
  O_WORKERS,
  O_REPEAT,
  O_CELL_TIMEOUT,
  O_LIST_URLS,
  O_JSON,
  O_CSV,
  O_HTML,
  O_PLOT,
  O_PLOT_CPU,
  O_PLOT_RSS,
  O_PROGRESS,
  O_QUIET,
  /* --- repeat auto (issue 15) --- */
  O_PRECISION,
  O_MAX_REPEAT,
  /* --- end repeat auto --- */
  O_SLO_MS,
  O_COUNT,
};

static const struct fb_cli_opt compare_opts[] = {
    {O_ENGINES, "engines", 'e', "LIST",
     "engines to compare, e.g. threads,async (default: all)"},
    {O_WORKERS, "workers", 'w', "LIST",
     "worker counts (default 1,2,4,8,16); engines without workers run once "
     "with 1"},
    {O_REPEAT, "repeat", 'r', "K|auto",
     "runs per cell, interleaved; medians with their 95 % intervals from 6 "
     "runs (default 6); auto: rounds of one run per cell until each cell's "
     "median wall time is within --precision, at least 5 runs"},
    {O_CELL_TIMEOUT, "cell-timeout", 0, "S",
     "kill a run after S seconds and report it failed (default: derived from "
     "--timeout)"},
    {O_LIST_URLS, "list-urls", 0, NULL,
     "print the URLs a sweep would fetch, one per line, and exit without "
     "running it"},
    {O_JSON, "json", 0, "FILE",
     "write JSON Lines to FILE: one object per cell, then a verdict (- : "
     "standard output, the table then goes to standard error)"},
    {O_CSV, "csv", 0, "FILE",
     "write one CSV row per cell to FILE (- as for --json)"},
    {O_HTML, "html", 0, "FILE",
     "write one self-contained HTML page to FILE: the table, the verdict "
     "and charts (- as for --json); FILE is created before the first run"},
    FB_PLOT_OPTS(O_PLOT),
    {O_PROGRESS, "progress", 0, NULL,
     "show progress on standard error even when it is not a terminal"},
    {O_QUIET, "quiet", 'q', NULL, "no progress line"},
    {O_SLO_MS, "slo-ms", 0, "MS",
     "with --rate LIST: name each engine and worker count's knee, the highest "
     "rate whose corrected p99 stayed within MS"},
    /* --- repeat auto (issue 15) --- */
    {O_PRECISION, "precision", 0, "P",
     "with --repeat auto: a cell is done once its median wall time's 95 % "
     "interval lies within +-P % of the median (default 2)"},
    {O_MAX_REPEAT, "max-repeat", 0, "N",
     "with --repeat auto: at most N runs per cell (default 30)"},
    /* --- end repeat auto --- */
    {0},
};

static int compare_main(int argc, char **argv);

const struct fb_cli_cmd fb__cmd_compare = {
    .name = "compare",
    .summary = "Run every engine at several worker counts, side by side.",
    .description =
        "Each cell (engine, workers) runs --repeat times in an interleaved "
        "order, each\nrun in a forked child so that its CPU and peak RSS "
        "are its own and a crash\ncannot take the sweep down. The origin runs "
        "on another core than the client.\nWith no options: the original "
        "experiment's ten pages from the embedded origin\nover https with "
        "70 ms delay and fresh connections, all engines at 1, 2, 4, 8\nand "
        "16 workers, 6 repeats. The table shows medians, with the reach of "
        "their\n95 % interval (order statistics) from 6 runs on; the verdict "
        "under it gives\neach ratio with its interval and each comparison a "
        "Mann-Whitney U test's\np-value.\n\n"
        "Exit status: 0 every request of every run succeeded; 1 a cell had "
        "errors or\nfailed runs; 2 usage, input or output error; 130/143 "
        "cancelled by\nSIGINT/SIGTERM (the finished cells are reported).",
    .opts = compare_opts,
    .groups = fb__jobopt_groups,
    .main = compare_main,
};

#define MAX_ENGINES 16
#define MAX_WORKERS 64
#define MAX_RATES 64

struct compare_args {
  const char *seen[O_COUNT];
  const struct fb_engine *engines[MAX_ENGINES];
  size_t nengines;
  unsigned workers[MAX_WORKERS];
  size_t nworkers;
  unsigned repeat;
  /* --- repeat auto (issue 15) --- */
  int repeat_auto;
  double precision_pct;
  unsigned max_repeat;
  /* --- end repeat auto --- */
  unsigned cell_timeout_s;
  int progress; /* -1 auto, 0 off, 1 on */
  struct fb_job job;
  struct fb_workload w;
  struct fb_output json, csv, html; /* --json, --csv, --html */
  struct fb_plots plots;            /* --plot, --plot-cpu, --plot-rss */
  double rates[MAX_RATES]; /* --rate LIST, ascending; none: closed loop */
  size_t nrates;
  double slo_ms; /* --slo-ms */
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

static int cmp_unsigned(const void *a, const void *b) {
  unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

  return (x > y) - (x < y);
}

static int parse_engines(struct compare_args *a, const char *v) {
  char *items[MAX_ENGINES], *storage;
  int rc = fb__cli_list(&fb__cmd_compare, "--engines", v, items, MAX_ENGINES,
                        &a->nengines, &storage);

  if (rc != 0)
    return rc;
  for (size_t i = 0; i < a->nengines; i++) {
    a->engines[i] = fb__cli_engine(&fb__cmd_compare, "--engines", items[i]);
    if (a->engines[i] == NULL) {
      rc = FB_EXIT_USAGE;
      break;
    }
  }
  free(storage);
  return rc;
}

/* Parsed once the engines are known: each count must suit every chosen
 * engine that has workers, and the error names the engine it does not suit.
 */
static int parse_workers(struct compare_args *a, const char *v) {
  char *items[MAX_WORKERS], *storage;
  const struct fb_engine *tight = NULL;
  int rc = fb__cli_list(&fb__cmd_compare, "--workers", v, items, MAX_WORKERS,
                        &a->nworkers, &storage);

  for (size_t e = 0; e < a->nengines; e++)
    if (a->engines[e]->max_workers > 1 &&
        (tight == NULL || a->engines[e]->max_workers < tight->max_workers))
      tight = a->engines[e];
  for (size_t i = 0; rc == 0 && i < a->nworkers; i++) {
    char what[64];
    uint64_t n;

    /* Below 1 is no engine's fault. */
    if (fb__cli_u64(&fb__cmd_compare, "--workers", items[i], 1, UINT32_MAX,
                    NULL, &n) != 0) {
      rc = FB_EXIT_USAGE;
      break;
    }
    if (tight != NULL)
      snprintf(what, sizeof(what), "for engine %s", tight->name);
    rc = fb__cli_u64(&fb__cmd_compare, "--workers", items[i], 1,
                     tight != NULL ? tight->max_workers : UINT32_MAX,
                     tight != NULL ? what : NULL, &n);
    a->workers[i] = (unsigned)n;
  }
  free(storage);
  if (rc == 0)
    qsort(a->workers, a->nworkers, sizeof(a->workers[0]), cmp_unsigned);
  return rc;
}

/* --- repeat auto (issue 15) --- */
#define AUTO_MIN_REPEAT 5

/* --precision P: a percentage above 0 and at most 100. */
static int parse_precision(struct compare_args *a, const char *v) {
  char *end;
  double p;

  errno = 0;
  p = strtod(v, &end);
  if (v[0] == '\0' || *end != '\0' || errno != 0 || !(p > 0) || p > 100 ||
      strchr("+- \t", v[0]) != NULL)
    return fb__cli_usage_error(&fb__cmd_compare,
                               "--precision: '%s' is not a percentage above 0 "
                               "and at most 100",
                               v);
  a->precision_pct = p;
  return 0;
}

static int parse_repeat(struct compare_args *a, const char *v) {
  if (strcmp(v, "auto") == 0) {
    a->repeat_auto = 1;
    return 0;
  }
  return fb__cli_uint(&fb__cmd_compare, "--repeat", v, 1, 1000, &a->repeat);
}

static int check_repeat_auto(const struct compare_args *a) {
  const char *const *seen = a->seen;

  if (!a->repeat_auto && (seen[O_PRECISION] || seen[O_MAX_REPEAT]))
    return fb__cli_usage_error(&fb__cmd_compare, "%s goes with --repeat auto",
                               seen[O_PRECISION] ? "--precision"
                                                 : "--max-repeat");
  return 0;
}
/* --- end repeat auto --- */

/* --rate LIST: the open loop's rates, each a cell of its own, ascending. */
static int parse_rates(struct compare_args *a, const char *v) {
  char *items[MAX_RATES], *storage;
  int rc = fb__cli_list(&fb__cmd_compare, "--rate", v, items, MAX_RATES,
                        &a->nrates, &storage);

  for (size_t i = 0; rc == 0 && i < a->nrates; i++) {
    rc = fb__jobopt_parse(&fb__cmd_compare, FB_JOBOPT_RATE, items[i], &a->job,
                          &a->w);
    a->rates[i] = a->w.rate;
  }
  free(storage);
  if (rc == 0) {
    qsort(a->rates, a->nrates, sizeof(a->rates[0]), cmp_double);
    a->w.rate_lo = a->rates[0];
    a->w.rate = a->rates[a->nrates - 1];
  }
  return rc;
}

static int parse_value(void *ctx, int id, const char *v) {
  const struct fb_cli_cmd *cmd = &fb__cmd_compare;
  struct compare_args *a = ctx;

  switch (id) {
  case O_ENGINES:
    return parse_engines(a, v);
  case O_REPEAT:
    return parse_repeat(a, v);
  /* --- repeat auto (issue 15) --- */
  case O_PRECISION:
    return parse_precision(a, v);
  case O_MAX_REPEAT:
    return fb__cli_uint(cmd, "--max-repeat", v, AUTO_MIN_REPEAT, 1000,
                        &a->max_repeat);
  /* --- end repeat auto --- */
  case O_CELL_TIMEOUT:
    return fb__cli_uint(cmd, "--cell-timeout", v, 1, 86400 * 7,
                        &a->cell_timeout_s);
  case O_PLOT:
  case O_PLOT_CPU:
  case O_PLOT_RSS:
    return fb__plots_check(cmd, id - O_PLOT, v);
  case O_PROGRESS:
    a->progress = 1;
    return 0;
  case O_QUIET:
    a->progress = 0;
    return 0;
  case FB_JOBOPT_RATE:
    return parse_rates(a, v);
  case O_SLO_MS:
    return fb__cli_rate(cmd, "--slo-ms", v, 3600000, &a->slo_ms);
  case O_WORKERS: /* once the engines are known */
  case O_LIST_URLS:
  case O_JSON:
  case O_CSV:
  case O_HTML:
    return 0;
  default:
    return fb__jobopt_parse(cmd, id, v, &a->job, &a->w);
  }
}

/* How many of the files are standard output. */
static int stdout_files(const char *const *seen) {
  int n = 0;

  for (int id = O_JSON; id <= O_HTML; id++)
    n += seen[id] != NULL && strcmp(seen[id], "-") == 0;
  return n;
}

static int check_conflicts(struct compare_args *a) {
  const char *const *seen = a->seen;

  if (seen[O_PROGRESS] && seen[O_QUIET])
    return fb__cli_usage_error(&fb__cmd_compare,
                               "--progress and --quiet exclude each other");
  if (check_repeat_auto(a) != 0)
    return FB_EXIT_USAGE;
  if (seen[O_SLO_MS] && !seen[FB_JOBOPT_RATE])
    return fb__cli_usage_error(&fb__cmd_compare,
                               "--slo-ms goes with --rate LIST");
  if (stdout_files(seen) > 1)
    return fb__cli_usage_error(&fb__cmd_compare,
                               "only one of --json, --csv and --html can be -");
  return fb__jobopt_finish(&fb__cmd_compare, seen, &a->job, &a->w);
}

/* Leaves out the engines this system refuses (io_uring under a seccomp
 * policy, say), one line each saying why. Returns 0, or FB_EXIT_USAGE when
 * none is left.
 */
static int leave_out_unavailable(struct compare_args *a) {
  size_t kept = 0;

  for (size_t e = 0; e < a->nengines; e++) {
    char why[FB_MESSAGE_MAX];

    if (fb_engine_available(a->engines[e], why, sizeof(why)) == 0) {
      a->engines[kept++] = a->engines[e];
      continue;
    }
    fb__cli_error(&fb__cmd_compare, "engine %s left out: %s",
                  a->engines[e]->name, why);
  }
  a->nengines = kept;
  if (kept == 0) {
    fb__cli_error(&fb__cmd_compare, "no engine to compare can run here");
    return FB_EXIT_USAGE;
  }
  return 0;
}

/* Returns FB_CLI_GO or the status to exit with. */
static int parse(struct compare_args *a, int argc, char **argv) {
  static const unsigned default_workers[] = {1, 2, 4, 8, 16};
  int rc = fb__cli_parse(&fb__cmd_compare, argc, argv, a->seen, O_COUNT,
                         parse_value, a);

  if (rc != FB_CLI_GO)
    return rc;
  if (check_conflicts(a) != 0)
    return FB_EXIT_USAGE;
  if (a->nengines == 0)
    for (size_t i = 0; fb_engines[i] != NULL && i < MAX_ENGINES; i++)
      a->engines[a->nengines++] = fb_engines[i];
  if (leave_out_unavailable(a) != 0)
    return FB_EXIT_USAGE;
  if (a->seen[O_WORKERS] != NULL) {
    if (parse_workers(a, a->seen[O_WORKERS]) != 0)
      return FB_EXIT_USAGE;
  } else {
    memcpy(a->workers, default_workers, sizeof(default_workers));
    a->nworkers = sizeof(default_workers) / sizeof(default_workers[0]);
  }
  return FB_CLI_GO;
}

/* The cells: each engine at each worker count; an engine without workers
 * (at most one) once.
 */
static int plan(struct compare_args *a, struct fb_compare *cmp,
                double delay_ms) {
  size_t n = 0;
  int rc;

  size_t nrates = a->nrates > 0 ? a->nrates : 1;

  for (size_t e = 0; e < a->nengines; e++)
    n += (a->engines[e]->max_workers <= 1 ? 1 : a->nworkers) * nrates;
  rc = fb_compare_init(cmp, n, a->repeat_auto ? a->max_repeat : a->repeat,
                       delay_ms);
  if (rc != 0)
    return rc;
  /* --- repeat auto (issue 15) --- */
  if (a->repeat_auto) {
    cmp->min_repeats = AUTO_MIN_REPEAT;
    cmp->precision = a->precision_pct / 100;
  }
  /* --- end repeat auto --- */
  n = 0;
  for (size_t e = 0; e < a->nengines; e++) {
    size_t k = a->engines[e]->max_workers <= 1 ? 1 : a->nworkers;

    for (size_t i = 0; i < k; i++)
      for (size_t r = 0; r < nrates; r++) {
        cmp->cells[n].engine = a->engines[e]->name;
        cmp->cells[n].workers =
            a->engines[e]->max_workers <= 1 ? 1 : a->workers[i];
        cmp->cells[n].rate = a->nrates > 0 ? a->rates[r] : 0;
        n++;
      }
  }
  cmp->slo_ms = a->slo_ms;
  return 0;
}

/* A bound on a run that no healthy engine reaches: every request of the
 * slowest round timing out, plus start-up.
 */
static unsigned derived_cell_timeout(const struct compare_args *a,
                                     size_t urls) {
  unsigned min_workers = a->workers[0];
  uint64_t rounds, ms;

  for (size_t e = 0; e < a->nengines; e++)
    if (a->engines[e]->max_workers <= 1)
      min_workers = 1;
  rounds = (urls + min_workers - 1) / min_workers;
  ms = rounds * (uint64_t)a->job.timeout_ms + 60000;
  return ms / 1000 > 86400 ? 86400 : (unsigned)(ms / 1000);
}

static int write_urls(FILE *out, const void *arg) {
  const struct fb_urlset *urls = arg;

  for (size_t i = 0; i < fb_urlset_count(urls); i++)
    if (fprintf(out, "%s\n", fb_urlset_get(urls, i)) < 0)
      return -EIO;
  return 0;
}

/* --list-urls: the URL set, one per line, on stdout. */
static int list_urls(const struct fb_urlset *urls) {
  struct fb_output o = {.path = "-", .f = stdout};

  return fb__output_write(&fb__cmd_compare, &o, "URL list", write_urls, urls);
}

struct table {
  const struct fb_compare *cmp;
  const char *header;
};

static int write_table(FILE *out, const void *arg) {
  const struct table *t = arg;

  if (fputs(t->header, out) < 0)
    return -EIO;
  return fb_report_compare_text(out, t->cmp);
}

static int write_json(FILE *out, const void *arg) {
  return fb_report_compare_json(out, arg);
}

static int write_csv(FILE *out, const void *arg) {
  return fb_report_compare_csv(out, arg);
}

/* Every output is checked before the first run (fb__output_prepare). */
static int prepare_outputs(struct compare_args *a) {
  const char *inputs[2] = {a->w.urls_path, NULL};

  if (a->seen[O_JSON] &&
      fb__output_prepare(&fb__cmd_compare, &a->json, "--json", a->seen[O_JSON],
                         0, inputs) != 0)
    return FB_EXIT_USAGE;
  if (a->seen[O_CSV] && fb__output_prepare(&fb__cmd_compare, &a->csv, "--csv",
                                           a->seen[O_CSV], 0, inputs) != 0)
    return FB_EXIT_USAGE;
  if (a->seen[O_HTML] &&
      fb__output_prepare(&fb__cmd_compare, &a->html, "--html", a->seen[O_HTML],
                         0, inputs) != 0)
    return FB_EXIT_USAGE;
  return fb__plots_prepare(&fb__cmd_compare, &a->plots, &a->seen[O_PLOT],
                           inputs);
}

static int write_html(FILE *out, const void *arg) {
  return fb_report_compare_html(out, arg);
}

static int write_reports(struct compare_args *a, const struct fb_compare *cmp,
                         const char *header) {
  const char *json = a->seen[O_JSON], *csv = a->seen[O_CSV];
  int to_stdout = stdout_files(a->seen) > 0;
  struct fb_output table = {.path = "-", .f = to_stdout ? stderr : stdout};
  struct table t = {cmp, header};
  int status = 0;

  if (fb__output_write(&fb__cmd_compare, &table, "table", write_table, &t))
    status = FB_EXIT_USAGE;
  if (json && fb__output_write(&fb__cmd_compare, &a->json, "JSON", write_json,
                               cmp) != 0)
    status = FB_EXIT_USAGE;
  if (csv &&
      fb__output_write(&fb__cmd_compare, &a->csv, "CSV", write_csv, cmp) != 0)
    status = FB_EXIT_USAGE;
  if (fb__plots_draw(&fb__cmd_compare, &a->plots, cmp, NULL) != 0)
    status = FB_EXIT_USAGE;
  /* Last, so that the line naming it ends what the table's stream shows. */
  if (a->seen[O_HTML]) {
    if (fb__output_write(&fb__cmd_compare, &a->html, "HTML report", write_html,
                         cmp) != 0)
      status = FB_EXIT_USAGE;
    else if (strcmp(a->seen[O_HTML], "-") != 0 &&
             (fprintf(table.f, "HTML report: %s\n", a->seen[O_HTML]) < 0 ||
              fflush(table.f) != 0))
      status = FB_EXIT_USAGE;
  }
  return status;
}

static int sweep(struct compare_args *a, struct fb_compare *cmp) {
  struct fb_sweep sw = {
      .job = &a->job,
      .delay_ms =
          fb__workload_ideal_ms(&a->w, a->job.connection == FB_CONN_FRESH),
      .cell_timeout_s = a->cell_timeout_s,
      .arrival = a->w.arrival,
      .seed = a->w.seed,
      .progress = a->progress < 0 ? isatty(STDERR_FILENO) : a->progress,
      .tty = isatty(STDERR_FILENO),
  };
  size_t total = cmp->ncells * cmp->repeats, k = 0, n;
  size_t *order = malloc(cmp->ncells * sizeof(*order));
  int64_t t0 = fb_clock_ns();
  int rc = 0;

  if (order == NULL) {
    fb__cli_error(&fb__cmd_compare, "out of memory");
    return -ENOMEM;
  }
  if (sw.cell_timeout_s == 0)
    sw.cell_timeout_s = derived_cell_timeout(a, fb_urlset_count(a->w.urls));
  /* Round by round, one run of every cell that still needs one. */
  for (unsigned round = 0; !fb__cli_cancel; round++) {
    n = fb_compare_round(cmp, round, order);
    if (n == 0)
      break;
    for (size_t j = 0; j < n && !fb__cli_cancel; j++, k++) {
      fb__sweep_progress(&sw, cmp, k, total, round, order[j], t0);
      rc = fb__sweep_cell(&sw, cmp, order[j]);
      if (rc == FB_ECANCELED)
        break;
      if (rc != 0) {
        fb__sweep_progress_end(&sw);
        fb__cli_error(&fb__cmd_compare, "cannot start a run: %s",
                      fb_strerror(rc));
        free(order);
        return rc;
      }
    }
    if (rc == FB_ECANCELED)
      break;
  }
  free(order);
  fb__sweep_progress_end(&sw);
  cmp->elapsed_s = (double)(fb_clock_ns() - t0) / FB_NS_PER_S;
  cmp->cancelled = fb__cli_cancel != 0;
  return 0;
}

static int compare_main(int argc, char **argv) {
  struct compare_args a;
  struct fb_compare cmp;
  char workload[1024], machine[256], header[1536];
  char digest[FB_URLSET_DIGEST_LEN];
  int rc, status;

  memset(&a, 0, sizeof(a));
  memset(&cmp, 0, sizeof(cmp));
  /* Six: the fewest with a 95 % interval of the median, and enough for
   * the U test to tell two cells apart.
   */
  a.repeat = 6;
  a.precision_pct = 2;
  a.max_repeat = 30;
  a.progress = -1;
  fb_job_init(&a.job);
  fb__workload_init(&a.w);
  status = parse(&a, argc, argv);
  if (status != FB_CLI_GO)
    return status;
  if (!a.seen[O_LIST_URLS] && prepare_outputs(&a) != 0) {
    status = FB_EXIT_USAGE;
    goto out;
  }
  if (fb__signals_install() != 0) {
    fb__cli_error(&fb__cmd_compare, "cannot install signal handlers");
    status = FB_EXIT_USAGE;
    goto out;
  }
  /* Before pinning, which narrows the CPUs this process may use. */
  fb_machine_describe(machine, sizeof(machine));
  a.w.trust = a.job.cacert;
  a.w.verify = a.job.verify_tls;
  status = fb__workload_start(&a.w, &fb__cmd_compare);
  if (status != 0)
    goto out;
  if (a.seen[O_LIST_URLS]) {
    status = list_urls(a.w.urls);
    goto out;
  }
  a.job.urls = a.w.urls;
  /* The embedded origin's own certificate, unless one was given. */
  if (a.job.cacert == NULL && a.w.cacert[0] != '\0')
    a.job.cacert = a.w.cacert;
  status = fb__jobopt_check(&fb__cmd_compare, a.seen, &a.job);
  if (status != 0)
    goto out;
  a.job.cancel = &fb__cli_cancel;
  rc = plan(&a, &cmp,
            fb__workload_ideal_ms(&a.w, a.job.connection == FB_CONN_FRESH));
  if (rc != 0) {
    fb__cli_error(&fb__cmd_compare, "%s", fb_strerror(rc));
    status = FB_EXIT_USAGE;
    goto out;
  }
  fb__workload_describe(&a.w, workload, sizeof(workload));
  cmp.ctx.workload = workload;
  cmp.ctx.machine = machine;
  cmp.ctx.origin = a.w.base_url[0] ? a.w.base_url : NULL;
  cmp.ctx.corpus = a.w.corpus_name[0] ? a.w.corpus_name : NULL;
  cmp.ctx.connection = a.job.connection == FB_CONN_FRESH ? "fresh" : "reuse";
  cmp.ctx.client_cpu = a.w.client_cpu;
  cmp.ctx.origin_cpu = a.w.origin_cpu;
  cmp.ctx.jitter_ms = a.w.jitter_ms;
  /* --- workload identity for diff (issue 15) --- */
  fb_urlset_digest(a.w.urls, a.w.base_url, digest);
  cmp.ctx.urls = fb_urlset_count(a.w.urls);
  cmp.ctx.urls_digest = digest;
  cmp.ctx.scheme = fb_urlset_scheme(a.w.urls);
  /* --- end workload identity --- */

  rc = sweep(&a, &cmp);
  if (rc != 0) {
    status = FB_EXIT_USAGE;
    goto out;
  }
  fb_compare_aggregate(&cmp);
  fb__sweep_header(header, sizeof(header), &cmp);
  status = write_reports(&a, &cmp, header);
  if (status != 0)
    goto out;
  if (cmp.cancelled) {
    fb__cli_error(&fb__cmd_compare, "cancelled by %s after %zu of %s%zu runs",
                  strsignal(fb__signals_caught()), cmp.runs_done,
                  a.repeat_auto ? "at most " : "", cmp.ncells * cmp.repeats);
    status = fb__signals_exit_status();
    goto out;
  }
  for (size_t i = 0; i < cmp.ncells; i++)
    if (cmp.cells[i].errors > 0 || cmp.cells[i].failed > 0)
      status = FB_EXIT_FAILED;
out:
  fb__output_discard(&a.json);
  fb__output_discard(&a.csv);
  fb__output_discard(&a.html);
  fb__plots_discard(&a.plots);
  fb_compare_cleanup(&cmp);
  fb__workload_stop(&a.w);
  return status;
}
