/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_RESULTS_H
#define FETCHBENCH_RESULTS_H

#include <stddef.h>
#include <stdio.h>

#include "compare.h"
#include "report.h"
#include "summary.h"

/* Saved comparisons read back: the JSON Lines that fb_report_compare_json
 * writes (fetchbench compare --json), rebuilt into the struct fb_compare
 * that every compare writer takes, so that a saved sweep can be reported
 * again or set against another one.
 *
 * What it accepts:
 * - one JSON object per line; blank lines are skipped;
 * - on every line "schema" from 1 to FB_REPORT_SCHEMA (a newer file is
 *   refused, saying which schema it has) and "kind";
 * - "kind": "cell" lines, then one "kind": "verdict" line, the last: a cell
 *   after it, a second verdict or a file that ends without one is an error
 *   (two sweeps in one file, or a truncated file). Lines of another kind
 *   are skipped, for what a later schema may add;
 * - fields it does not know are ignored. The fields it uses are required:
 *   one missing or of the wrong type is named in the error ("field
 *   'wall_s.median' is a string, expected a number or null"). A statistic
 *   may be null (unknown); counts must be whole numbers;
 * - every line holds the sweep's context (workload, origin, corpus,
 *   connection, delay_ms, jitter_ms, repeats, machine, client_cpu,
 *   origin_cpu), the same on each line;
 * - a cell (engine, workers) once; workers from 1; at most
 *   FB_RESULTS_MAX_CELLS cells of at most FB_RESULTS_MAX_RUNS runs; the
 *   outcome counts ("errors") sum to "errors_total", of which there are no
 *   more than "requests"; "runs_wall_s" holds one wall time per run. An
 *   outcome name this version does not know counts as "other".
 *
 * What it rebuilds: each cell's counts, statistics, ideal time, efficiency,
 * failure note and reference mark ("reference": true, optional) as
 * written; its runs' wall times in summaries[r].wall_s (the summaries hold
 * `runs` entries, at least one, and nothing else of theirs is saved: the
 * rest is zero, and cell.status is 0); the context;
 * from the verdict line the elapsed time, the runs done and whether the
 * sweep was cancelled. The verdict itself is not read back:
 * fb_compare_verdict recomputes it from the cells.
 *
 * The rows of a bench suite (bench/README.md, "Outputs"): a file whose first
 * line has a "suite" field is read as one sweep of a suite instead, its
 * engines' cells beside its peers' and its reference cells:
 * - the "kind": "cell" lines are its cells; every other line (a goal, a
 *   ratio, a bench line) is skipped, and no verdict line ends it;
 * - a cell needs "engine" (any name: a peer's too), "workers", "runs",
 *   "runs_wall_s" and "wall_s", as above; the other statistics, "urls",
 *   "failed_runs", "errors_total" (else "errors", a count), "note" (else
 *   "failure"), "ideal_s", "efficiency", "delay_ms" and "reference" (a
 *   boolean: published figures, not measured here) may be missing or null
 *   (unknown), and have their type where given. Its failed requests (no
 *   more than urls x runs) count as the outcome "other";
 * - every row names the same "sweep" (when it names one) and the same
 *   "delay_ms" (when it knows it); the context comes from the first row
 *   that is a cell of compare's (it has "schema"), when one is;
 * - "repeats" becomes the most runs of any cell (at least 1), elapsed_s
 *   NaN (unknown).
 */

#define FB_RESULTS_MAX_CELLS 4096
#define FB_RESULTS_MAX_RUNS 100000

struct fb_results {
  struct fb_compare cmp; /* its strings (engine names, context) belong to
                          * this struct and live until the cleanup */
  int schema;            /* the file's schema */
  int rows;              /* it was a bench suite's rows */
  size_t lines;          /* lines read */
  void *doc_;            /* internal: the parsed lines */
};

/* Reads the JSON Lines of in, called name in messages, into *res. Returns
 * 0; FB_ERESULTS with "NAME:LINE: what is wrong" in err (malformed JSON with
 * its column, a missing or mistyped field by name, a schema or an
 * inconsistency); -ENOMEM; or -errno when reading failed ("NAME: why" in
 * err). On error *res is empty and fb_results_cleanup is still safe.
 * A file with no cell is not an error: cmp.ncells is then 0.
 */
int fb_results_read(struct fb_results *res, FILE *in, const char *name,
                    char *err, size_t errlen);

/* Frees what fb_results_read built. Safe on a zeroed or cleaned-up res. */
void fb_results_cleanup(struct fb_results *res);

/* One `fetchbench run --format json` report read back: a shard, for
 * fetchbench merge. Reports of schema 2 on only (those of schema 1 carry
 * neither histograms nor wall-clock times). Every field the report writes
 * is required, of its type; "workload" and "shard" may be missing (a report
 * written without a context) or null.
 */
struct fb_results_run {
  struct fb_summary s;            /* s.engine and s.hists point into this */
  struct fb_summary_hists *hists; /* owned; NULL when the report has none */
  struct fb_report_context ctx;   /* strings borrowed from doc_ */
  int has_ctx;                    /* the report has a "workload" */
  char where[512];                /* "NAME:LINE", for messages */
  void *doc_;                     /* internal: the parsed line */
};

/* Reads the next report from in, called name in messages: one JSON object
 * per line, blank lines skipped; *line counts the lines read so far (start
 * it at 0). Returns 1 with *run filled; 0 at the end of in; FB_ERESULTS
 * with "NAME:LINE: what is wrong" in err; -ENOMEM; -errno when reading
 * failed. Clean up *run with fb_results_run_cleanup after 1, and only then.
 */
int fb_results_read_run(struct fb_results_run *run, FILE *in, const char *name,
                        size_t *line, char *err, size_t errlen);

void fb_results_run_cleanup(struct fb_results_run *run);

#endif /* FETCHBENCH_RESULTS_H */
