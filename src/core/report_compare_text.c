/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/compare_int.h"
#include "core/report_int.h"
#include "fetchbench/compare.h"

/* fetchbench compare's table and verdict for people: the table's cells
 * (compare_table.c) padded to their widest, then the verdict's sentences
 * (verdict_text.c) wrapped to a terminal's usual width.
 */

#define COLS FB__TABLE_COLS
#define CELL FB__TABLE_CELL

/* Columns a cell takes on a terminal: its UTF-8 characters, not its bytes
 * (a "±" is two bytes, one column).
 */
static size_t columns(const char *s) {
  size_t n = 0;

  for (; *s != '\0'; s++)
    n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

static void line(struct fb__out *o, char cells[COLS][CELL], const size_t *width,
                 const struct fb_compare *cmp) {
  for (int c = 0; c < COLS; c++) {
    int pad = (int)(width[c] - columns(cells[c]));

    if (!fb__table_shown(cmp, c))
      continue;
    if (c == 0)
      fb__out_printf(o, "%s%*s", cells[c], pad, "");
    else
      fb__out_printf(o, "  %*s%s", pad, "", cells[c]);
  }
  fb__out_printf(o, "\n");
}

#define WRAP 79

/* Writes text with lines longer than WRAP broken at spaces; continuation
 * lines are indented two columns deeper than the line's own indent.
 */
static void wrapped(struct fb__out *o, const char *text, size_t len) {
  const char *end = text + len;

  while (text < end) {
    const char *nl = memchr(text, '\n', (size_t)(end - text));
    const char *stop = nl != NULL ? nl : end;
    size_t indent = strspn(text, " ") + 2, col = 0;

    if (text == stop)
      fb__out_printf(o, "\n");
    while (text < stop) {
      size_t n = (size_t)(stop - text);

      if (col + n > WRAP) {
        const char *cut = text + (WRAP - col);

        /* Break at the last space that fits, else at the next one. */
        while (cut > text && *cut != ' ')
          cut--;
        if (cut == text) {
          cut = memchr(text, ' ', n);
          if (cut == NULL)
            cut = stop;
        }
        n = (size_t)(cut - text);
      }
      fb__out_printf(o, "%*s%.*s\n", (int)col, "", (int)n, text);
      text += n;
      while (text < stop && *text == ' ')
        text++;
      col = indent;
    }
    text = nl != NULL ? nl + 1 : end;
  }
}

/* A verdict's sentence, wrapped to the terminal's usual width: the title
 * after a blank line, points marked "- ", their continuations indented.
 */
static void verdict_line(void *ctx, enum fb__verdict_part part,
                         const char *text) {
  struct fb__out *o = ctx;
  char buf[4200];
  int n;

  switch (part) {
  case FB__VERDICT_TITLE:
    n = snprintf(buf, sizeof(buf), "\n%s:\n", text);
    break;
  case FB__VERDICT_POINT:
    n = snprintf(buf, sizeof(buf), "- %s\n", text);
    break;
  default:
    n = snprintf(buf, sizeof(buf), "  %s\n", text);
    break;
  }
  if (n > 0)
    wrapped(o, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

int fb_report_compare_text(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};
  char head[COLS][CELL], cells[COLS][CELL], problems[1024];
  size_t width[COLS];
  int rc;

  for (int c = 0; c < COLS; c++) {
    snprintf(head[c], CELL, "%s", fb__table_heads[c]);
    width[c] = columns(fb__table_heads[c]);
  }
  for (size_t r = 0; r < cmp->ncells; r++) {
    fb__table_row(cells, &cmp->cells[r]);
    for (int c = 0; c < COLS; c++)
      if (columns(cells[c]) > width[c])
        width[c] = columns(cells[c]);
  }
  line(&o, head, width, cmp);
  for (size_t r = 0; r < cmp->ncells; r++) {
    fb__table_row(cells, &cmp->cells[r]);
    line(&o, cells, width, cmp);
  }
  for (size_t r = 0; r < cmp->ncells; r++)
    if (fb__table_problems(problems, sizeof(problems), cmp, &cmp->cells[r]))
      fb__out_printf(&o, "! %s\n", problems);
  fb__out_printf(&o, "%s\n", FB__TABLE_RSS_NOTE);
  for (size_t r = 0; r < cmp->ncells; r++)
    if (!isnan(fb_stat_reach(&cmp->cells[r].wall_s))) {
      fb__out_printf(&o, "%s\n", FB__TABLE_CI_NOTE);
      break;
    }
  rc = fb__verdict_text(cmp, verdict_line, &o);
  /* Written in full, but without some of its tests: not the whole report. */
  return fb__out_end(&o) != 0 ? o.rc : rc;
}
