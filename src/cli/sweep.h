/* SPDX-License-Identifier: MIT */
#ifndef FB_CLI_SWEEP_H
#define FB_CLI_SWEEP_H

/* fetchbench compare's runs: each run of a cell happens in a forked child
 * that measures it with fb_run_measure and sends the summary back over a
 * pipe, so that each cell's peak RSS and CPU are its own and a crash in one
 * cell cannot take the sweep down.
 */

#include <stdint.h>

#include "cli.h"

struct fb_compare;

struct fb_sweep {
  const struct fb_job *job; /* workers are set per cell */
  double delay_ms;          /* known origin delay, < 0 unknown */
  unsigned cell_timeout_s;  /* a run is killed after this long, 0: never */
  int arrival;              /* open loop: enum fb_arrival of each cell's */
  uint64_t seed;            /* ... schedule at its rate, and its seed */
  int progress;             /* progress on stderr */
  int tty;                  /* stderr is a terminal: one line, rewritten */
};

/* Runs cell i of cmp once in a child and records the run (a summary, or the
 * crash). Returns 0; FB_ECANCELED when the sweep was cancelled (nothing is
 * recorded); -errno when the child could not be started.
 */
int fb__sweep_cell(const struct fb_sweep *sw, struct fb_compare *cmp, size_t i);

/* "run k of total: engine, workers, repeat r of R, ETA" on stderr, when
 * sw->progress.
 */
void fb__sweep_progress(const struct fb_sweep *sw, const struct fb_compare *cmp,
                        size_t k, size_t total, unsigned repeat, size_t cell,
                        int64_t t0);

/* Clears the progress line. */
void fb__sweep_progress_end(const struct fb_sweep *sw);

/* The two comment lines above compare's table: what was fetched, the
 * connections, cells x repeats and time, the machine. Also what report
 * prints above a saved sweep's table.
 */
void fb__sweep_header(char *buf, size_t len, const struct fb_compare *cmp);

/* The plot options of compare and report, as three consecutive ids from
 * id: --plot, --plot-cpu, --plot-rss.
 */
/* clang-format off */
#define FB_PLOT_OPTS(id)                                                       \
  {(id), "plot", 0, "FILE.svg|.png",                                           \
   "plot wall time vs workers, a line per engine (needs gnuplot); when "       \
   "each engine has one cell, pages/s as a bar per cell"},                     \
  {(id) + 1, "plot-cpu", 0, "FILE.svg|.png",                                   \
   "plot CPU per request the same way"},                                       \
  {(id) + 2, "plot-rss", 0, "FILE.svg|.png",                                   \
   "plot peak RSS (process + children) the same way"}
/* clang-format on */

/* What those options asked for: path[k] (NULL: not asked) for the k-th
 * option, and its output, probed before anything is written.
 */
struct fb_plots {
  const char *path[3];
  struct fb_output out[3];
};

/* Checks that the value of the k-th plot option ends in .svg or .png.
 * Returns 0 or FB_EXIT_USAGE after printing why.
 */
int fb__plots_check(const struct fb_cli_cmd *cmd, int k, const char *path);

/* Sets p's paths from seen (the values of the three options, in order) and
 * checks that each can be written (fb__output_prepare, creating it; inputs
 * as there). Returns 0 or FB_EXIT_USAGE after printing why.
 */
int fb__plots_prepare(const struct fb_cli_cmd *cmd, struct fb_plots *p,
                      const char *const *seen, const char *const *inputs);

/* Draws every plot asked for with gnuplot, in the format its file's suffix
 * says (.svg or .png): --plot wall time, --plot-cpu CPU per request,
 * --plot-rss peak RSS of cmp's cells. Against workers, a line per name (an
 * engine, or a peer of a bench suite's rows) with min-max bars, log-log,
 * and for wall time the ideal when the delay is known; reference cells
 * dashed, without bars. When no name has two cells (every client at one
 * concurrency), a bar per cell instead: pages/s, CPU per page, RSS. RSS is
 * the process with its children where a cell knows it, else its largest
 * process (marked *). The title's second line is subtitle, or the workload
 * when NULL. Returns 0, or FB_EXIT_USAGE when one could not be drawn (said
 * why; the others still are). gnuplot missing is a skip with a message
 * (and the file, if this run created it, is removed again).
 */
int fb__plots_draw(const struct fb_cli_cmd *cmd, struct fb_plots *p,
                   const struct fb_compare *cmp, const char *subtitle);

/* Removes the files probed for plots that were never drawn. */
void fb__plots_discard(struct fb_plots *p);

#endif /* FB_CLI_SWEEP_H */
