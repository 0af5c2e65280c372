/* SPDX-License-Identifier: MIT */
#ifndef FB_CORE_HTML_INT_H
#define FB_CORE_HTML_INT_H

#include <stddef.h>

#include "core/report_int.h"
#include "fetchbench/compare.h"

/* The HTML report's parts: the page (report_html.c) and its charts
 * (report_html_chart.c).
 */

/* Writes len bytes of s as HTML text or a double-quoted attribute's value:
 * & < > " ' as character references; invalid UTF-8, control characters
 * and noncharacters as U+FFFD; so that any bytes make well-formed HTML.
 */
void fb__html_text(struct fb__out *o, const char *s, size_t len);

/* The same for a C string; NULL writes def (a plain literal) instead. */
void fb__html_str(struct fb__out *o, const char *s, const char *def);

/* The charts section's figures: wall time, CPU per request, memory and
 * latency percentiles against workers, as inline SVG with axes, ticks,
 * units and a legend; one marker per cell with finished runs in each of
 * its engine's series (class "pt", data-engine, data-workers), hollow when
 * the cell had errors. A paragraph instead when no cell has a finished run.
 */
void fb__html_charts(struct fb__out *o, const struct fb_compare *cmp);

#endif /* FB_CORE_HTML_INT_H */
