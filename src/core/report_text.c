/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/error.h"
#include "fetchbench/report.h"
#include "fetchbench/summary.h"

/* The table is built as strings first so that every column can be as wide
 * as its widest cell: engine names left-aligned, figures right-aligned.
 */
#define COLS 12
#define CELL 32

static const char *const heads[COLS] = {
    "engine",  "workers", "wall s", "user s", "sys s",  "CPU/req ms",
    "RSS MiB", "p50 ms",  "p99 ms", "req/s",  "errors", "eff",
};

/* Fewer workers ran than could have: the pool could not grow. */
static int shrunk(const struct fb_summary *s) {
  size_t could = s->workers < s->urls ? s->workers : s->urls;

  return s->workers_ran < could;
}

static void row_cells(char cells[COLS][CELL], const struct fb_summary *s) {
  snprintf(cells[0], CELL, "%s", s->engine != NULL ? s->engine : "?");
  if (shrunk(s))
    snprintf(cells[1], CELL, "%u of %u", s->workers_ran, s->workers);
  else
    snprintf(cells[1], CELL, "%u", s->workers);
  snprintf(cells[2], CELL, "%.3f", s->wall_s);
  snprintf(cells[3], CELL, "%.3f", s->cpu_user_s);
  snprintf(cells[4], CELL, "%.3f", s->cpu_sys_s);
  if (s->cpu_per_req_ms < 0)
    snprintf(cells[5], CELL, "-");
  else
    snprintf(cells[5], CELL, "%.3f", s->cpu_per_req_ms);
  snprintf(cells[6], CELL, "%.1f", (double)s->rss_sum_kib / 1024.0);
  snprintf(cells[7], CELL, "%.*f", s->latency.p50 < 10 ? 2 : 1, s->latency.p50);
  snprintf(cells[8], CELL, "%.*f", s->latency.p99 < 10 ? 2 : 1, s->latency.p99);
  snprintf(cells[9], CELL, "%.1f", s->req_per_s);
  snprintf(cells[10], CELL, "%zu", s->errors);
  if (s->efficiency < 0)
    snprintf(cells[11], CELL, "-");
  else
    snprintf(cells[11], CELL, "%.0f%%", s->efficiency * 100);
}

static void line(struct fb__out *o, char cells[COLS][CELL],
                 const size_t *width) {
  for (int c = 0; c < COLS; c++) {
    int w = (int)width[c];
    if (c == 0)
      fb__out_printf(o, "%-*s", w, cells[c]);
    else
      fb__out_printf(o, "  %*s", w, cells[c]);
  }
  fb__out_printf(o, "\n");
}

/* Under the table, what went wrong in each row that had errors. */
static void error_line(struct fb__out *o, const struct fb_summary *s) {
  const char *sep = ": ";

  fb__out_printf(o, "%s, %u worker%s: %zu error%s",
                 s->engine != NULL ? s->engine : "?", s->workers,
                 s->workers == 1 ? "" : "s", s->errors,
                 s->errors == 1 ? "" : "s");
  for (int i = 0; i < FB_OUTCOME_COUNT; i++) {
    if (i == FB_OUTCOME_OK || s->outcomes[i] == 0)
      continue;
    fb__out_printf(o, "%s%s %zu", sep, fb_outcome_name(i), s->outcomes[i]);
    sep = ", ";
  }
  if (s->missing > 0)
    fb__out_printf(o, "%smissing %zu", sep, s->missing);
  if (s->duplicates > 0)
    fb__out_printf(o, "; %zu duplicate result%s refused", s->duplicates,
                   s->duplicates == 1 ? "" : "s");
  fb__out_printf(o, "\n");
}

/* "  what: p50 1.2, p90 ..., max 9.9 ms" */
static void pct_line(struct fb__out *o, const char *what,
                     const struct fb_percentiles *p) {
  fb__out_printf(o,
                 "%s: p50 %.2f, p90 %.2f, p99 %.2f, p99.9 %.2f, max %.2f ms\n",
                 what, p->p50, p->p90, p->p99, p->p999, p->max);
}

/* What a figure of the row needs said: a pool that could not grow, a delay
 * that cannot have been the server's, figures of a run cut short.
 */
static void notes(struct fb__out *o, const struct fb_summary *s) {
  const char *e = s->engine != NULL ? s->engine : "?";

  if (shrunk(s))
    fb__out_printf(
        o,
        "%s: only %u of %u workers could start%s%s; the ideal "
        "counts the %u that ran\n",
        e, s->workers_ran, s->workers, s->workers_err != 0 ? ": " : "",
        s->workers_err != 0 ? fb_strerror(s->workers_err) : "", s->workers_ran);
  if (s->delay_mismatch)
    fb__out_printf(o,
                   "%s: faster than the ideal for a delay of %.0f ms per "
                   "request (time to first byte p50 %.1f ms): the delay given "
                   "does not match the server's, so no efficiency\n",
                   e, s->delay_ms, s->ttfb.p50);
  if (s->open_loop) {
    fb__out_printf(o,
                   "%s, open loop: %.6g requests/s asked, %.6g achieved; %zu "
                   "started more than 1 ms late\n",
                   e, s->rate_asked, s->rate_achieved, s->late);
    pct_line(o, "  latency from the due time (corrected)", &s->corrected);
    pct_line(o, "  latency from the start (service time)", &s->latency);
    pct_line(o, "  wait for a worker (queue)", &s->queue);
    if (s->corrected.p99 > 2 * s->latency.p99)
      fb__out_printf(o,
                     "  Corrected latency counts from when each request was "
                     "due, so it includes the wait for a free worker that "
                     "service time leaves out: a closed-loop tool would have "
                     "shown only the service time (coordinated omission).\n");
  }
  /* The pool's start beside the floor the machine sets for it. */
  if (s->bare_fork_s > 0 && s->workers_ran > 0)
    fb__out_printf(o,
                   "%s: start-up %.2f ms for %u workers, %.3f ms each: "
                   "%.2fx a bare fork() of this client (%.3f ms), the part "
                   "any process pool pays on this machine\n",
                   e, s->setup_s * 1000, s->workers_ran,
                   s->setup_s * 1000 / s->workers_ran,
                   s->setup_s / s->workers_ran / s->bare_fork_s,
                   s->bare_fork_s * 1000);
  if (s->handshakes_full + s->handshakes_resumed > 0)
    fb__out_printf(o,
                   "%s, TLS: %zu handshake%s (%zu full, %zu resumed); to TLS "
                   "established p50 %.2f, p99 %.2f ms\n",
                   e, s->handshakes_full + s->handshakes_resumed,
                   s->handshakes_full + s->handshakes_resumed == 1 ? "" : "s",
                   s->handshakes_full, s->handshakes_resumed, s->tls.p50,
                   s->tls.p99);
  if (s->engine_features[0] != '\0')
    fb__out_printf(o, "%s: %s\n", e, s->engine_features);
  if (s->done < s->urls)
    fb__out_printf(o,
                   "%s: %zu of %zu requests ran to an end; rates, CPU per "
                   "request and the ideal count those\n",
                   e, s->done, s->urls);
}

int fb_report_text(FILE *out, const struct fb_summary *rows, size_t n) {
  struct fb__out o = {out, 0};
  char head[COLS][CELL], cells[COLS][CELL];
  size_t width[COLS];

  for (int c = 0; c < COLS; c++) {
    snprintf(head[c], CELL, "%s", heads[c]);
    width[c] = strlen(heads[c]);
  }
  for (size_t r = 0; r < n; r++) {
    row_cells(cells, &rows[r]);
    for (int c = 0; c < COLS; c++)
      if (strlen(cells[c]) > width[c])
        width[c] = strlen(cells[c]);
  }
  line(&o, head, width);
  for (size_t r = 0; r < n; r++) {
    row_cells(cells, &rows[r]);
    line(&o, cells, width);
  }
  for (size_t r = 0; r < n; r++)
    if (rows[r].errors > 0 || rows[r].duplicates > 0)
      error_line(&o, &rows[r]);
  for (size_t r = 0; r < n; r++)
    notes(&o, &rows[r]);
  return fb__out_end(&o);
}
