/* SPDX-License-Identifier: MIT */
#ifndef FB_FUZZ_HTML_CHECK_H
#define FB_FUZZ_HTML_CHECK_H

#include <stddef.h>

/* Checks (FZ_CHECK) an HTML report: valid UTF-8, no control character but
 * tab, newline and carriage return, and as many '>' as '<': every one of
 * them is markup, since text never holds them unescaped.
 */
void fz_html_check(const char *html, size_t len);

#endif /* FB_FUZZ_HTML_CHECK_H */
