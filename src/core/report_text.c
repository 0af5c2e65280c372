#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report_int.h"
#include "fetchbench/report.h"
#include "fetchbench/summary.h"

/* The table is built as strings first so that every column can be as wide
 * as its widest cell: engine names left-aligned, figures right-aligned.
 */
#define COLS 12
#define CELL 32

static const char *const heads[COLS] = {
    "engine",       "workers", "wall s", "user s", "sys s",  "CPU/req ms",
    "peak RSS MiB", "p50 ms",  "p99 ms", "req/s",  "errors", "efficiency",
};

static void row_cells(char cells[COLS][CELL], const struct fb_summary *s) {
  snprintf(cells[0], CELL, "%s", s->engine != NULL ? s->engine : "?");
  snprintf(cells[1], CELL, "%u", s->workers);
  snprintf(cells[2], CELL, "%.3f", s->wall_s);
  snprintf(cells[3], CELL, "%.3f", s->cpu_user_s);
  snprintf(cells[4], CELL, "%.3f", s->cpu_sys_s);
  snprintf(cells[5], CELL, "%.3f", s->cpu_per_req_ms);
  snprintf(cells[6], CELL, "%.1f", (double)s->max_rss_kib / 1024.0);
  snprintf(cells[7], CELL, "%.*f", s->latency.p50 < 10 ? 2 : 1, s->latency.p50);
  snprintf(cells[8], CELL, "%.*f", s->latency.p99 < 10 ? 2 : 1, s->latency.p99);
  snprintf(cells[9], CELL, "%.1f", s->req_per_s);
  snprintf(cells[10], CELL, "%zu", s->errors);
  if (s->efficiency < 0)
    snprintf(cells[11], CELL, "-");
  else
    snprintf(cells[11], CELL, "%.2f", s->efficiency);
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
  return fb__out_end(&o);
}
