/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/compare_int.h"
#include "core/html_int.h"
#include "fetchbench/compare.h"
#include "fetchbench/fetchbench.h"

/* One page that needs nothing but itself: styles inline, charts as inline
 * SVG, no script. The Content-Security-Policy forbids every load, so that
 * no string from a saved file, however hostile, can make a browser fetch
 * anything; a browser that is asked to says so in its console.
 */

/* --- Escaping ------------------------------------------------------------- */

#define REPLACEMENT "\xef\xbf\xbd"

/* The code point of the well-formed sequence s[0, n). */
static unsigned decode(const unsigned char *s, size_t n) {
  unsigned cp = s[0] & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);

  for (size_t i = 1; i < n; i++)
    cp = cp << 6 | (s[i] & 0x3f);
  return cp;
}

/* C1 controls and noncharacters are parse errors in HTML. */
static int unwelcome(unsigned cp) {
  return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
         (cp & 0xfffe) == 0xfffe;
}

void fb__html_text(struct fb__out *o, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0, run = 0;

  while (i < len) {
    unsigned char c = p[i];
    const char *rep = NULL;
    size_t adv = 1;

    if (c == '&')
      rep = "&amp;";
    else if (c == '<')
      rep = "&lt;";
    else if (c == '>')
      rep = "&gt;";
    else if (c == '"')
      rep = "&quot;";
    else if (c == '\'')
      rep = "&#39;";
    else if (c >= 0x80) {
      size_t bad = 0, n = fb__utf8_valid(p + i, len - i, &bad);

      if (n == 0 || unwelcome(decode(p + i, n))) {
        rep = REPLACEMENT;
        adv = n == 0 ? bad : n;
      } else {
        i += n;
        continue;
      }
    } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
      rep = REPLACEMENT;
    if (rep == NULL) {
      i++;
      continue;
    }
    if (i > run)
      fb__out_printf(o, "%.*s", (int)(i - run), s + run);
    fb__out_printf(o, "%s", rep);
    i += adv;
    run = i;
  }
  if (i > run)
    fb__out_printf(o, "%.*s", (int)(i - run), s + run);
}

void fb__html_str(struct fb__out *o, const char *s, const char *def) {
  if (s == NULL)
    fb__out_printf(o, "%s", def);
  else
    fb__html_text(o, s, strlen(s));
}

/* --- Head ----------------------------------------------------------------- */

static const char style[] =
    ":root{--fg:#1a1a1a;--muted:#5b5b5b;--line:#d5d5d5;--bad:#b00020;"
    "--badbg:#fdecee;--head:#f1f3f5}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0 auto;max-width:1400px;padding:16px;color:var(--fg);"
    "background:#fff;font:15px/1.45 system-ui,-apple-system,'Segoe UI',"
    "Roboto,'DejaVu Sans',sans-serif}\n"
    "h1{font-size:1.5em;margin:0 0 .2em}\n"
    "h2{font-size:1.2em;margin:1.5em 0 .5em;padding-bottom:.2em;"
    "border-bottom:1px solid var(--line)}\n"
    ".workload{margin:.2em 0 .8em;color:var(--muted);overflow-wrap:anywhere}\n"
    "dl.context{display:grid;grid-template-columns:max-content "
    "minmax(0,1fr);gap:.2em 1em;margin:0}\n"
    "dl.context dt{font-weight:600}\n"
    "dl.context dd{margin:0;overflow-wrap:anywhere}\n"
    ".cancelled{color:var(--bad);font-weight:600}\n"
    "#verdict li{margin:.3em 0;overflow-wrap:anywhere}\n"
    ".scroll{overflow-x:auto;width:fit-content;max-width:100%;"
    "border:1px solid var(--line);border-radius:4px}\n"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums}\n"
    "#cells th,#cells td{padding:.3em .6em;text-align:right;"
    "white-space:nowrap;border-bottom:1px solid var(--line)}\n"
    "#cells thead th{background:var(--head);cursor:help}\n"
    "#cells th:first-child{text-align:left;position:sticky;left:0;"
    "background:#fff}\n"
    "#cells thead th:first-child{background:var(--head)}\n"
    "#cells tr.bad td,#cells tr.bad th{background:var(--badbg)}\n"
    "#cells td.err{color:var(--bad);font-weight:600}\n"
    "#cells td.err a{color:inherit}\n"
    ".note{color:var(--muted);font-size:.9em}\n"
    "details{border:1px solid var(--line);border-left:4px solid var(--bad);"
    "border-radius:4px;padding:.4em .8em;margin:.5em 0}\n"
    "summary{cursor:pointer;overflow-wrap:anywhere}\n"
    "table.outcomes{margin:.4em 0}\n"
    "table.outcomes th,table.outcomes td{padding:.2em .6em;text-align:left;"
    "border-bottom:1px solid var(--line)}\n"
    "table.outcomes td.n{text-align:right}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(min(100%,440px),1fr));gap:1.2em 2em}\n"
    "figure{margin:0;min-width:0}\n"
    "figcaption{font-weight:600;margin-bottom:.3em}\n"
    "figcaption span{display:block;font-weight:400;color:var(--muted);"
    "font-size:.85em}\n"
    "svg.chart{display:block;width:100%;height:auto;max-width:640px}\n"
    "svg.chart text{font-size:12px;font-family:system-ui,sans-serif;"
    "fill:#333}\n"
    "svg.chart .grid{stroke:#e8e8e8}\n"
    "svg.chart .axis{stroke:#777}\n"
    "ul.legend{list-style:none;padding:0;margin:.3em 0 0;display:flex;"
    "flex-wrap:wrap;gap:.2em 1.2em;font-size:.9em}\n"
    "ul.legend svg{vertical-align:middle;margin-right:.35em}\n"
    "footer{margin-top:2em;color:var(--muted);font-size:.85em}\n"
    "@media (max-width:600px){body{padding:10px;font-size:14px}"
    "svg.chart text{font-size:14px}}\n"
    "@media print{body{max-width:none;padding:0;font-size:10pt}"
    ".scroll{overflow:visible;border:0}#cells{font-size:7.5pt}"
    "#cells th,#cells td{padding:.15em .3em}"
    "#cells th:first-child{position:static}"
    ".charts{grid-template-columns:1fr 1fr}"
    "figure,details,tr{break-inside:avoid}h2{break-after:avoid}"
    "a{color:inherit;text-decoration:none}}\n";

static void head(struct fb__out *o, const struct fb_compare *cmp) {
  fb__out_printf(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                    "<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, "
                    "initial-scale=1\">\n"
                    "<meta http-equiv=\"Content-Security-Policy\" "
                    "content=\"default-src 'none'; style-src "
                    "'unsafe-inline'\">\n");
  fb__out_printf(o, "<meta name=\"generator\" content=\"fetchbench %s\">\n",
                 fb_version());
  fb__out_printf(o, "<title>fetchbench compare: ");
  fb__html_str(o, cmp->ctx.workload, "saved sweep");
  fb__out_printf(o, "</title>\n<style>\n%s</style>\n</head>\n", style);
}

/* --- The sweep ------------------------------------------------------------ */

static void item(struct fb__out *o, const char *name, const char *value) {
  fb__out_printf(o, "<dt>%s</dt><dd>", name);
  fb__html_str(o, value, "not saved");
  fb__out_printf(o, "</dd>\n");
}

static void context(struct fb__out *o, const struct fb_compare *cmp) {
  const struct fb_compare_context *x = &cmp->ctx;
  unsigned fewest, most;
  char buf[256];

  fb__out_printf(o, "<header>\n<h1>fetchbench compare</h1>\n"
                    "<p class=\"workload\">");
  fb__html_str(o, x->workload, "(workload not saved)");
  fb__out_printf(o, "</p>\n<dl class=\"context\">\n");
  fb_compare_runs_range(cmp, &fewest, &most);
  if (cmp->precision > 0)
    /* --repeat auto: as many runs as each cell needed. */
    snprintf(buf, sizeof(buf), "%zu cells, %u to %u runs each in %.1f s",
             cmp->ncells, fewest, most, cmp->elapsed_s);
  else
    snprintf(buf, sizeof(buf), "%zu cells \xc3\x97 %u repeat%s in %.1f s",
             cmp->ncells, cmp->repeats, cmp->repeats == 1 ? "" : "s",
             cmp->elapsed_s);
  fb__out_printf(o, "<dt>Sweep</dt><dd>%s", buf);
  if (cmp->cancelled)
    fb__out_printf(o,
                   " <span class=\"cancelled\">(cancelled: "
                   "%zu runs done)</span>",
                   cmp->runs_done);
  fb__out_printf(o, "</dd>\n");
  item(o, "Connections", x->connection);
  if (cmp->delay_ms >= 0) {
    snprintf(buf, sizeof(buf), "%.0f ms per request", cmp->delay_ms);
    if (x->jitter_ms > 0)
      snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " \xc2\xb1 %u ms",
               x->jitter_ms);
    item(o, "Delay", buf);
  } else {
    item(o, "Delay", "unknown (no efficiency)");
  }
  item(o, "Machine", x->machine);
  if (x->client_cpu >= 0)
    snprintf(buf, sizeof(buf), "client on CPU %d, origin on CPU %d",
             x->client_cpu, x->origin_cpu);
  else
    snprintf(buf, sizeof(buf), "not pinned");
  item(o, "Pinning", buf);
  if (x->origin != NULL)
    item(o, "Origin", x->origin);
  if (x->corpus != NULL)
    item(o, "Corpus", x->corpus);
  fb__out_printf(o, "</dl>\n</header>\n");
}

/* --- Verdict -------------------------------------------------------------- */

struct verdict_out {
  struct fb__out *o;
  int open; /* an <li> is open */
};

static void verdict_part(void *ctx, enum fb__verdict_part part,
                         const char *text) {
  struct verdict_out *v = ctx;

  switch (part) {
  case FB__VERDICT_TITLE:
    fb__out_printf(v->o, "<section id=\"verdict\">\n<h2>");
    fb__html_str(v->o, text, "");
    fb__out_printf(v->o, "</h2>\n<ul>\n");
    return;
  case FB__VERDICT_POINT:
    fb__out_printf(v->o, "%s<li>", v->open ? "</li>\n" : "");
    v->open = 1;
    break;
  default:
    fb__out_printf(v->o, v->open ? "<br>" : "<li>");
    v->open = 1;
    break;
  }
  fb__html_str(v->o, text, "");
}

static void verdict(struct fb__out *o, const struct fb_compare *cmp) {
  struct verdict_out v = {o, 0};

  fb__verdict_text(cmp, verdict_part, &v);
  fb__out_printf(o, "%s</ul>\n</section>\n", v.open ? "</li>\n" : "");
}

/* --- Table ---------------------------------------------------------------- */

static const char *const explain[FB__TABLE_COLS] = {
    "the concurrency model",
    "workers: the most requests in flight",
    "open loop: requests per second asked for",
    "runs of the cell",
    "wall time, seconds: median of the runs, \xc2\xb1 the reach of its 95 % "
    "interval",
    "CPU per request, process and children, milliseconds",
    "peak RSS of the client plus every child's peak, MiB",
    "median latency of a request, milliseconds",
    "99th percentile of the latency, milliseconds",
    "open loop: 99th percentile of the latency from each request's due "
    "time, milliseconds (corrected for coordinated omission)",
    "requests per second",
    "failed over all requests of the runs; ! marks errors or failed runs",
    "efficiency: ideal / median wall time, the ideal being ceil(URLs / "
    "workers) \xc3\x97 delay",
};

/* The statistic behind a column, with its scale, or NULL. */
static const struct fb_stat *column_stat(const struct fb_compare_cell *c,
                                         int col, double *scale) {
  *scale = 1;
  switch (col) {
  case FB__COL_WALL:
    return &c->wall_s;
  case FB__COL_CPU_PER_REQ:
    return &c->cpu_per_req_ms;
  case FB__COL_RSS:
    *scale = 1 / 1024.0;
    return &c->rss_sum_kib;
  case FB__COL_P50:
    return &c->latency_p50_ms;
  case FB__COL_P99:
    return &c->latency_p99_ms;
  case FB__COL_P99C:
    return &c->corrected_p99_ms;
  case FB__COL_REQ_PER_S:
    return &c->req_per_s;
  default:
    return NULL;
  }
}

/* The spread of a median, as a tooltip: min and max of the runs, and the
 * median's 95 % interval when it has one.
 */
static void spread(struct fb__out *o, const struct fb_compare_cell *c,
                   const struct fb_stat *st, double scale) {
  if (c->runs < 2 || isnan(st->min))
    return;
  fb__out_printf(o, " title=\"median of %u runs; min %.6g, max %.6g", c->runs,
                 st->min * scale, st->max * scale);
  if (!isnan(st->lo))
    fb__out_printf(o, "; 95 %% interval %.6g to %.6g", st->lo * scale,
                   st->hi * scale);
  fb__out_printf(o, "\"");
}

static int has_problems(const struct fb_compare_cell *c) {
  return c->errors > 0 || c->failed > 0;
}

static void row(struct fb__out *o, const struct fb_compare *cmp, size_t i) {
  const struct fb_compare_cell *c = &cmp->cells[i];
  char cells[FB__TABLE_COLS][FB__TABLE_CELL];

  fb__table_row(cells, c);
  fb__out_printf(o, "<tr id=\"cell-%zu\" data-engine=\"", i);
  fb__html_str(o, c->engine, "");
  fb__out_printf(o, "\" data-workers=\"%u\"%s>", c->workers,
                 has_problems(c) ? " class=\"bad\"" : "");
  fb__out_printf(o, "<th scope=\"row\">");
  fb__html_str(o, cells[0], "");
  fb__out_printf(o, "</th>");
  for (int col = 1; col < FB__TABLE_COLS; col++) {
    double scale;
    const struct fb_stat *st = column_stat(c, col, &scale);

    if (!fb__table_shown(cmp, col))
      continue;
    if (col == FB__COL_ERRORS && has_problems(c)) {
      fb__out_printf(o, "<td class=\"err\"><a href=\"#problem-%zu\">", i);
      fb__html_str(o, cells[col], "");
      fb__out_printf(o, "</a></td>");
      continue;
    }
    fb__out_printf(o, "<td");
    if (st != NULL)
      spread(o, c, st, scale);
    fb__out_printf(o, ">");
    fb__html_str(o, cells[col], "");
    fb__out_printf(o, "</td>");
  }
  fb__out_printf(o, "</tr>\n");
}

static void table(struct fb__out *o, const struct fb_compare *cmp) {
  unsigned fewest, most;
  char runs[32];

  fb_compare_runs_range(cmp, &fewest, &most);
  if (cmp->precision > 0 && fewest != most)
    snprintf(runs, sizeof(runs), "%u to %u", fewest, most);
  else
    snprintf(runs, sizeof(runs), "%u", cmp->repeats);

  fb__out_printf(o,
                 "<section id=\"table\">\n<h2>Cells</h2>\n"
                 "<p class=\"note\">Medians of %s run%s per cell; hover a "
                 "figure for the runs' min and max.</p>\n"
                 "<div class=\"scroll\" tabindex=\"0\" role=\"region\" "
                 "aria-label=\"cells, side by side\">\n<table id=\"cells\">\n"
                 "<thead><tr>",
                 runs, strcmp(runs, "1") == 0 ? "" : "s");
  for (int col = 0; col < FB__TABLE_COLS; col++)
    if (fb__table_shown(cmp, col))
      fb__out_printf(o, "<th scope=\"col\" title=\"%s\">%s</th>", explain[col],
                     fb__table_heads[col]);
  fb__out_printf(o, "</tr></thead>\n<tbody>\n");
  for (size_t i = 0; i < cmp->ncells; i++)
    row(o, cmp, i);
  fb__out_printf(o, "</tbody>\n</table>\n</div>\n<p class=\"note\">%s</p>\n",
                 FB__TABLE_RSS_NOTE);
}

/* A cell's failures, open to the outcome counts. */
static void problem(struct fb__out *o, const struct fb_compare *cmp, size_t i) {
  const struct fb_compare_cell *c = &cmp->cells[i];
  char line[1024];

  fb__table_problems(line, sizeof(line), cmp, c);
  fb__out_printf(o, "<details id=\"problem-%zu\" data-engine=\"", i);
  fb__html_str(o, c->engine, "");
  fb__out_printf(o, "\" data-workers=\"%u\">\n<summary>! ", c->workers);
  fb__html_str(o, line, "");
  fb__out_printf(o, "</summary>\n");
  if (c->requests > 0) {
    fb__out_printf(o, "<table class=\"outcomes\">\n<thead><tr><th>outcome</th>"
                      "<th>what it means</th><th>requests</th><th>share</th>"
                      "</tr></thead>\n<tbody>\n");
    for (int k = 0; k < FB_OUTCOME_COUNT; k++) {
      size_t n = k == FB_OUTCOME_OK ? c->requests - c->errors : c->outcomes[k];

      if (n == 0)
        continue;
      fb__out_printf(o,
                     "<tr data-outcome=\"%s\"><td>%s</td><td>%s</td>"
                     "<td class=\"n\">%zu</td><td class=\"n\">%.1f%%</td>"
                     "</tr>\n",
                     fb_outcome_name(k), fb_outcome_name(k),
                     fb_outcome_describe(k), n,
                     100.0 * (double)n / (double)c->requests);
    }
    fb__out_printf(o, "</tbody>\n</table>\n");
  }
  if (c->failed > 0) {
    fb__out_printf(o, "<p>%u run%s failed: ", c->failed,
                   c->failed == 1 ? "" : "s");
    fb__html_str(o, c->note[0] ? c->note : NULL, "no reason saved");
    fb__out_printf(o, "</p>\n");
  }
  fb__out_printf(o, "</details>\n");
}

static void problems(struct fb__out *o, const struct fb_compare *cmp) {
  size_t bad = 0;

  for (size_t i = 0; i < cmp->ncells; i++)
    bad += has_problems(&cmp->cells[i]);
  if (bad > 0) {
    fb__out_printf(o,
                   "<h3 id=\"problems\">Cells with errors or failed runs "
                   "(%zu)</h3>\n",
                   bad);
    for (size_t i = 0; i < cmp->ncells; i++)
      if (has_problems(&cmp->cells[i]))
        problem(o, cmp, i);
  }
  fb__out_printf(o, "</section>\n");
}

int fb_report_compare_html(FILE *out, const struct fb_compare *cmp) {
  struct fb__out o = {out, 0};

  head(&o, cmp);
  fb__out_printf(&o, "<body>\n");
  context(&o, cmp);
  fb__out_printf(&o, "<main>\n");
  verdict(&o, cmp);
  fb__out_printf(&o, "<section id=\"charts\">\n<h2>Charts</h2>\n");
  fb__html_charts(&o, cmp);
  fb__out_printf(&o, "</section>\n");
  table(&o, cmp);
  problems(&o, cmp);
  fb__out_printf(&o,
                 "</main>\n<footer>Written by fetchbench %s. One file: no "
                 "script, no font or image to fetch.</footer>\n"
                 "</body>\n</html>\n",
                 fb_version());
  return fb__out_end(&o);
}
