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

/* Draws metric ("wall", "cpu" or "rss") against workers, one line per engine,
 * with gnuplot into path (.svg or .png). Returns 0, or FB_EXIT_USAGE after
 * printing why (gnuplot missing is a skip with a message, returning 0).
 */
int fb__plot(const struct fb_cli_cmd *cmd, const struct fb_compare *cmp,
             const char *metric, const char *path);

/* Checks that path ends in .svg or .png. */
int fb__plot_check_path(const struct fb_cli_cmd *cmd, const char *opt,
                        const char *path);

#endif /* FB_CLI_SWEEP_H */
