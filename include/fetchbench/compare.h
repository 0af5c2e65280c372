#ifndef FETCHBENCH_COMPARE_H
#define FETCHBENCH_COMPARE_H

#include <stddef.h>
#include <stdio.h>

#include "result.h"
#include "summary.h"

/* A sweep: cells of (engine, workers), each measured several times, reduced
 * to the median with min and max, and a verdict computed from the numbers.
 * Nothing here runs an engine: the caller measures each run however it likes
 * (fetchbench compare forks a child per run) and hands in the summaries.
 */

/* Median, smallest and largest of a set of values; all NaN when empty. */
struct fb_stat {
  double median; /* the middle value, or the mean of the middle two */
  double min;
  double max;
};

/* Reduces v[0..n) into *st, leaving NaN values (unknown) out. v is not
 * modified.
 */
void fb_stat_compute(struct fb_stat *st, const double *v, size_t n);

struct fb_compare_cell {
  const char *engine; /* static engine name, set by the caller */
  unsigned workers;   /* as run; 1 for an engine without workers */

  /* Filled by fb_compare_add / fb_compare_fail. */
  unsigned runs;   /* runs with a summary */
  unsigned failed; /* runs that crashed, hung or broke the machinery */
  int status;      /* the first failed run's code, 0 when none */
  char note[160];  /* what became of the first failed run, or "" */
  struct fb_summary *summaries; /* [repeats], the first `runs` valid */

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
  struct fb_stat run_efficiency; /* each run's ideal / wall */
  double ideal_s;                /* ceil(urls / workers) * delay, < 0 unknown */
  double efficiency;             /* ideal_s / median wall, < 0 unknown */
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
};

struct fb_compare {
  struct fb_compare_cell *cells;
  size_t ncells;
  unsigned repeats;
  double delay_ms; /* the origin's known delay per request, < 0 unknown */
  struct fb_compare_context ctx;
  double elapsed_s; /* the whole sweep, set by the caller */
  size_t runs_done; /* runs handed in, set by fb_compare_add/_fail */
  int cancelled;    /* set by the caller when the sweep was stopped */
};

/* Allocates ncells cells of room for repeats summaries each. The caller then
 * sets each cell's engine and workers. Returns 0, FB_ERANGE or -ENOMEM.
 */
int fb_compare_init(struct fb_compare *cmp, size_t ncells, unsigned repeats,
                    double delay_ms);

/* Frees the cells. Safe on a zeroed or cleaned-up cmp. */
void fb_compare_cleanup(struct fb_compare *cmp);

/* The cell that the k-th run of the sweep measures (k < ncells * repeats),
 * and in *repeat which repeat it is. Repeats go round-robin over the cells,
 * each round starting at a different cell, so that slow drift of the machine
 * spreads over every cell instead of favouring the first ones.
 */
size_t fb_compare_order(const struct fb_compare *cmp, size_t k,
                        unsigned *repeat);

/* Records a run of cell i that delivered *s. A status other than 0 (the run
 * broke the one-result rule or the engine failed) also counts the run as
 * failed with note. Returns 0, FB_ERANGE (no room or bad index).
 */
int fb_compare_add(struct fb_compare *cmp, size_t i, const struct fb_summary *s,
                   int status, const char *note);

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

/* A cell index, or -1 when no cell qualifies. */
#define FB_VERDICT_SCALING_MAX 16

/* Where adding workers stopped helping one engine: walking its cells by
 * workers, the first step that cut the median wall time by less than
 * FB_VERDICT_GAIN.
 */
struct fb_verdict_scaling {
  const char *engine;
  unsigned cells; /* its clean cells (the others are left out) */
  int best;       /* its fastest cell */
  int before;     /* the last cell worth its workers */
  int after;      /* the next cell, which gained too little; -1: never */
  double gain;    /* wall time saved by `after` over `before`, 0..1 (or less) */
  int last;       /* its cell with the most workers */
  double last_gain; /* what the last step saved, when after is -1 */
};

#define FB_VERDICT_GAIN 0.10

/* Two cells whose medians differ by less than this, or whose min-max ranges
 * overlap, are a tie within noise.
 */
#define FB_VERDICT_TIE 0.03

struct fb_verdict {
  int clean;            /* cells with runs and no errors or failed runs */
  int fastest;          /* lowest median wall among clean cells */
  int runner_up;        /* second lowest */
  int noisy;            /* the two are a tie (FB_VERDICT_TIE) */
  int cheapest_cpu;     /* lowest median CPU per request */
  int cheapest_memory;  /* lowest median peak RSS */
  int hungriest_memory; /* highest median peak RSS */
  int slowest;          /* highest median wall */
  unsigned top_workers; /* the most workers among clean cells */
  int best_efficiency;  /* highest efficiency at top_workers, when the
                          * delay is known: who stays latency-bound */
  size_t nscaling;
  struct fb_verdict_scaling scaling[FB_VERDICT_SCALING_MAX];
};

/* Computes the verdict from aggregated cells. */
void fb_compare_verdict(const struct fb_compare *cmp, struct fb_verdict *v);

/* Report writers; each returns 0 or -errno when writing failed. */

/* The side-by-side table (median [min-max] of the repeats), a line per cell
 * with errors or failed runs, then the verdict in a few sentences.
 */
int fb_report_compare_text(FILE *out, const struct fb_compare *cmp);

/* JSON Lines: one object per cell ("kind": "cell") holding the statistics
 * as {"median", "min", "max"} objects with the run's context (machine,
 * pinning, workload), then one "kind": "verdict" object. Every line has
 * "schema": FB_REPORT_SCHEMA.
 */
int fb_report_compare_json(FILE *out, const struct fb_compare *cmp);

/* CSV with a header line and one row per cell: medians, with min and max
 * for wall time, CPU per request and peak RSS.
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
