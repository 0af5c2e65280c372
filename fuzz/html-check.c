/* SPDX-License-Identifier: MIT */
#include "html-check.h"
#include "fuzz.h"
#include "json-check.h"

void fz_html_check(const char *html, size_t len) {
  size_t open = 0, close = 0;

  FZ_CHECK(fz_utf8_valid((const unsigned char *)html, len));
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)html[i];

    FZ_CHECK((c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t' || c == '\r');
    open += c == '<';
    close += c == '>';
  }
  FZ_CHECK(open == close);
}
