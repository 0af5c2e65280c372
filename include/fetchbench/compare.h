/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_COMPARE_H
#define FETCHBENCH_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include "result.h"
#include "stats.h"
#include "summary.h"

/* A sweep: cells of (engine, workers), each measured several times, reduced
 * to medians with their 95 % intervals (stats.h), and a verdict whose every
 * comparison of two cells is a Mann-Whitney U test with its p-value and
 * whose every ratio carries its interval. Nothing here runs an engine: the
 * caller measures each run however it likes (fetchbench compare forks a
 * child per run) and hands in the summaries.
 */

struct fb_compare_cell {
  const char *engine; /* static engine name, set by the caller */
  unsigned workers;   /* as run; 1 for an engine without workers */
  double rate;        /* open loop: requests/s asked (--rate), 0: closed */
  int reference;      /* published figures (a bench suite's reference
                       * cell), not measured here: plotted dashed and
                       * left out of the verdict */

  /* Filled by fb_compare_add / fb_compare_fail / fb_compare_add_hists. */
  unsigned runs;   /* runs with a summary */
  unsigned failed; /* runs that crashed, hung or broke the machinery */
  int status;      /* the first failed run's code, 0 when none */
  char note[160];  /* what became of the first failed run, or "" */
  struct fb_summary *summaries;   /* [cap], the first `runs` valid; their
                                 * hists pointers are NULL */
  unsigned cap;                   /* room in summaries; grows as needed */
  struct fb_summary_hists *hists; /* every run's histograms merged, owned;
                                   * NULL when no run brought any */

  /* Filled by fb_compare_aggregate from the runs. */
  size_t urls;
  size_t requests; /* urls * runs */
  size_t errors;   /* failed requests over every run */
  size_t outcomes[FB_OUTCOME_COUNT];
  struct fb_stat wall_s;
  struct fb_stat cpu_user_s; /* process and children */
  struct fb_stat cpu_sys_s;
  struct fb_stat cpu_s;       /* user + sys */
  struct fb_stat child_cpu_s; /* the children's part of cpu_s */
  struct fb_stat cpu_per_req_ms;
  struct fb_stat max_rss_kib;
  struct fb_stat rss_sum_kib; /* process + children: what the model took */
  struct fb_stat latency_p50_ms;
  struct fb_stat latency_p99_ms;
  struct fb_stat ttfb_p50_ms;
  struct fb_stat req_per_s;
  struct fb_stat run_efficiency;   /* each run's ideal / wall */
  struct fb_stat corrected_p99_ms; /* open loop: p99 from the due time */
  double ideal_s;    /* ceil(urls / workers) * delay, < 0 unknown */
  double efficiency; /* ideal_s / median wall, < 0 unknown */
};

/* Where and how the sweep ran, for the reports. Strings are borrowed and may
 * be NULL.
 */
struct fb_compare_context {
  const char *workload;   /* one line: what was fetched from where */
  const char *machine;    /* fb_machine_describe */
  const char *origin;     /* base URL, or NULL for a user's URL list */
  const char *corpus;     /* what the origin serves */
  const char *connection; /* "fresh" or "reuse" */
  int client_cpu;         /* -1: not pinned */
  int origin_cpu;
  unsigned jitter_ms;
  /* What identifies the workload across sweeps (fetchbench diff): */
  size_t urls;             /* URLs in the list, 0 unknown */
  const char *urls_digest; /* fb_urlset_digest of the list, or NULL */
  const char *scheme;      /* "http", "https" or "mixed", or NULL */
};

/* The figures a cell has one sample of per run, as the verdict and
 * fetchbench diff compare them.
 */
enum fb_figure {
  FB_FIGURE_WALL,        /* wall_s */
  FB_FIGURE_CPU_PER_REQ, /* cpu_per_req_ms */
  FB_FIGURE_RSS,         /* rss_sum_kib */
  FB_FIGURE_P50,         /* latency_p50_ms */
  FB_FIGURE_P99,         /* latency_p99_ms */
  FB_FIGURE_REQ_PER_S,   /* req_per_s */
  FB_FIGURE_COUNT
};

/* The figure's JSON name ("wall_s"); "?" out of range. */
const char *fb_compare_figure_name(enum fb_figure f);

/* Run s's value of figure f; NaN when unknown. */
double fb_compare_figure_value(const struct fb_summary *s, enum fb_figure f);

/* Sets run s's value of figure f, as read back from a report (NaN:
 * unknown).
 */
void fb_compare_figure_set(struct fb_summary *s, enum fb_figure f, double v);

/* Copies cell c's per-run values of figure f into out (room for c->runs),
 * leaving unknown ones out. Returns how many it copied.
 */
size_t fb_compare_samples(const struct fb_compare_cell *c, enum fb_figure f,
                          double *out);

struct fb_compare {
  struct fb_compare_cell *cells;
  size_t ncells;
  unsigned repeats;     /* runs per cell; with precision, the most */
  unsigned min_repeats; /* with precision, the fewest (else repeats) */
  double precision;     /* 0: exactly `repeats` runs per cell; else a cell
                         * is done once its median wall time's 95 %
                         * interval lies within +- precision (a fraction)
                         * of the median, or after `repeats` runs */
  double delay_ms;      /* the origin's known delay per request, < 0 unknown */
  double slo_ms;        /* open loop: the bound on corrected p99 that names
                         * each cell's knee (--slo-ms), 0: none */
  struct fb_compare_context ctx;
  double elapsed_s; /* the whole sweep, set by the caller */
  size_t runs_done; /* runs handed in, set by fb_compare_add/_fail */
  int cancelled;    /* set by the caller when the sweep was stopped */
};

/* Allocates ncells cells of room for repeats summaries each (the room grows
 * as runs are added). The caller then sets each cell's engine and workers.
 * Returns 0, FB_ERANGE or -ENOMEM.
 */
int fb_compare_init(struct fb_compare *cmp, size_t ncells, unsigned repeats,
                    double delay_ms);

/* Frees the cells. Safe on a zeroed or cleaned-up cmp. */
void fb_compare_cleanup(struct fb_compare *cmp);

/* The cells that round `round` (from 0) runs, once each, in out (room for
 * ncells), in the order to run them; returns their count, 0 when the sweep
 * is done. A cell takes part while it has fewer than min_repeats runs, or
 * fewer than repeats and (with a precision) its interval is still too wide;
 * a failed run counts as a run. Each round starts at a different cell, so
 * that slow drift of the machine spreads over every cell instead of
 * favouring the first ones.
 */
size_t fb_compare_round(const struct fb_compare *cmp, unsigned round,
                        size_t *out);

/* Non-zero when cell c's median wall time is as precise as cmp asks: its
 * 95 % interval lies within +- precision of the median.
 */
int fb_compare_precise(const struct fb_compare *cmp,
                       const struct fb_compare_cell *c);

/* The fewest and the most runs (with a summary) of cmp's measured cells
 * (not the reference ones) that have any; both 0 when none has. With a
 * fixed repeat count and no failures both are cmp->repeats; with a
 * precision (--repeat auto) they say how far the cells went.
 */
void fb_compare_runs_range(const struct fb_compare *cmp, unsigned *fewest,
                           unsigned *most);

/* Records a run of cell i that delivered *s (its hists pointer is not
 * kept: see fb_compare_add_hists). A status other than 0 (the run broke
 * the one-result rule or the engine failed) also counts the run as failed
 * with note. Returns 0, FB_ERANGE (bad index) or -ENOMEM.
 */
int fb_compare_add(struct fb_compare *cmp, size_t i, const struct fb_summary *s,
                   int status, const char *note);

/* Merges a run's histograms into cell i's. Returns 0, FB_ERANGE (bad index)
 * or -ENOMEM.
 */
int fb_compare_add_hists(struct fb_compare *cmp, size_t i,
                         const struct fb_summary_hists *h);

/* Records a run of cell i that delivered nothing (the child crashed or was
 * killed): status is a negative code, note says what happened.
 */
void fb_compare_fail(struct fb_compare *cmp, size_t i, int status,
                     const char *note);

/* The engines of cmp in the order of their first cell: at most max names
 * (borrowed from the cells) into names. Returns how many there are, which
 * may be more than max.
 */
size_t fb_compare_engines(const struct fb_compare *cmp, const char **names,
                          size_t max);

/* Computes every cell's statistics from its runs. Call before the reports. */
void fb_compare_aggregate(struct fb_compare *cmp);

/* What a U test between two cells' runs says. */
enum fb_verdict_call {
  FB_CALL_NONE,       /* no second cell to compare with */
  FB_CALL_DIFFERENT,  /* p <= FB_STATS_ALPHA */
  FB_CALL_SAME,       /* p > FB_STATS_ALPHA: a tie within noise */
  FB_CALL_CANNOT_TELL /* too few runs for the test ever to reject */
};

/* "different", "tie", "cannot tell" or "none". */
const char *fb_verdict_call_name(enum fb_verdict_call call);

/* Cell a against cell b on one figure: how many times larger a is, with its
 * interval, and whether the difference is real.
 */
struct fb_verdict_pair {
  int a, b; /* cell indexes; -1 when there is no pair */
  enum fb_figure figure;
  struct fb_ratio ratio; /* a's runs over b's (stats.h) */
  struct fb_mwu test;    /* a's runs against b's */
  enum fb_verdict_call call;
};

/* Compares cells a and b of cmp on figure f into *pair (a or b -1: no
 * pair, call FB_CALL_NONE). Returns 0 or -ENOMEM.
 */
int fb_compare_pair(const struct fb_compare *cmp, int a, int b,
                    enum fb_figure f, struct fb_verdict_pair *pair);

/* fb_compare_pair for two cells of any sweeps (fetchbench diff): a and b
 * are left -1 in *pair, for the caller to set.
 */
int fb_compare_cells(const struct fb_compare_cell *a,
                     const struct fb_compare_cell *b, enum fb_figure f,
                     struct fb_verdict_pair *pair);

#define FB_VERDICT_SCALING_MAX 16

/* Where adding workers stopped helping one engine: walking its cells by
 * workers, the first step that cut the median wall time by less than
 * FB_VERDICT_GAIN. Cell indexes are -1 when no cell qualifies.
 */
struct fb_verdict_scaling {
  const char *engine;
  unsigned cells; /* its clean cells (the others are left out) */
  int best;       /* its fastest cell */
  int before;     /* the last cell worth its workers */
  int after;      /* the next cell, which gained too little; -1: never */
  double gain;    /* wall time saved by `after` over `before`, 0..1 (or less) */
  int last;       /* its cell with the most workers */
  double last_gain;            /* what the last step saved, when after is -1 */
  struct fb_verdict_pair step; /* the step that stopped helping (after over
                                * before), or the last step */
  size_t urls;   /* URLs per run: workers beyond it have nothing to do */
  int url_bound; /* 1: `before` (when after is -1) or `after` already had
                   * a worker per URL, so more workers cannot help */
};

#define FB_VERDICT_GAIN 0.10

/* An open-loop sweep's answer for one engine at one worker count: walking
 * its cells by rate, the highest rate whose median corrected p99 stayed
 * within cmp->slo_ms before the first that did not.
 */
#define FB_VERDICT_KNEE_MAX 64
struct fb_verdict_knee {
  const char *engine;
  unsigned workers;
  int kept;     /* cell of the highest rate within the bound, -1: none */
  int exceeded; /* cell of the first rate over it, -1: none was */
};

struct fb_verdict {
  int clean;            /* measured cells with runs and no errors or failed
                         * runs (reference cells are left out) */
  int fastest;          /* lowest median wall among clean cells */
  int runner_up;        /* second lowest */
  int cheapest_cpu;     /* lowest median CPU per request */
  int dearest_cpu;      /* highest median CPU per request */
  int cheapest_memory;  /* lowest median peak RSS */
  int hungriest_memory; /* highest median peak RSS */
  int slowest;          /* highest median wall */
  unsigned top_workers; /* the most workers among clean cells */
  int best_efficiency;  /* highest efficiency at top_workers, when the
                          * delay is known: who stays latency-bound */
  unsigned min_runs;    /* fewest and most runs of the clean cells */
  unsigned max_runs;
  struct fb_verdict_pair runner_up_vs; /* runner-up over fastest, wall */
  struct fb_verdict_pair slowest_vs;   /* slowest over fastest, wall */
  struct fb_verdict_pair cpu_vs;       /* dearest over cheapest, CPU/request */
  struct fb_verdict_pair memory_vs;    /* hungriest over cheapest, RSS */
  size_t nscaling;
  struct fb_verdict_scaling scaling[FB_VERDICT_SCALING_MAX];
  int open_loop; /* cells have rates: knees, not scaling by workers */
  size_t nknees;
  struct fb_verdict_knee knees[FB_VERDICT_KNEE_MAX];
};

/* Computes the verdict from aggregated cells. Returns 0, or -ENOMEM when a
 * test could not be computed (its call is then FB_CALL_NONE).
 */
int fb_compare_verdict(const struct fb_compare *cmp, struct fb_verdict *v);

/* Report writers; each returns 0 or -errno when writing failed, or -ENOMEM
 * (after writing the rest) when the verdict's tests could not be computed
 * in full.
 */

/* The side-by-side table (medians, +- the reach of their 95 % interval
 * from 6 runs on), a line per cell with errors or failed runs, then the
 * verdict in a few sentences, with intervals and p-values.
 */
int fb_report_compare_text(FILE *out, const struct fb_compare *cmp);

/* JSON Lines: one object per cell ("kind": "cell") holding the statistics
 * as {"median", "min", "max", "n", "ci95"} objects, each run's samples of
 * the figures the verdict and diff compare, the merged histograms, the
 * sweep's context (machine, pinning, workload), and "reference": true on a
 * reference cell; then one "kind": "verdict" object with the comparisons'
 * ratios, intervals and p-values. Every line has "schema":
 * FB_REPORT_SCHEMA.
 */
int fb_report_compare_json(FILE *out, const struct fb_compare *cmp);

/* CSV with a header line and one row per cell: medians, with min and max
 * for wall time, CPU per request and peak RSS, and the 95 % interval's ends
 * of the median wall time and CPU per request.
 */
int fb_report_compare_csv(FILE *out, const struct fb_compare *cmp);

/* One self-contained HTML5 page (UTF-8): the sweep's context, the verdict
 * (the text report's sentences), charts of wall time, CPU per request,
 * memory and latency percentiles against workers (inline SVG, one marker
 * per cell with finished runs), the table with the text table's columns
 * and marks, and for each cell with errors or failed runs its outcome
 * counts. Styles inline, no script, nothing to fetch (its
 * Content-Security-Policy forbids every load); every string escaped.
 */
int fb_report_compare_html(FILE *out, const struct fb_compare *cmp);

#endif /* FETCHBENCH_COMPARE_H */
