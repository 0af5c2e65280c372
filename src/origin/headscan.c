/* SPDX-License-Identifier: MIT */
#include "origin/origin_int.h"

/* RFC 9110 token characters, the only ones allowed in a field name. */
static int tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return 1;
  switch (c) {
  case '!':
  case '#':
  case '$':
  case '%':
  case '&':
  case '\'':
  case '*':
  case '+':
  case '-':
  case '.':
  case '^':
  case '_':
  case '`':
  case '|':
  case '~':
    return 1;
  default:
    return 0;
  }
}

/* llhttp 8.1 without its strict build accepts obs-fold, a space before the
 * colon, an empty field name, bare CR or LF at the end of the head: each a
 * request smuggling vector once a proxy reads the same bytes differently.
 * This pass refuses them before llhttp sees the bytes.
 */
int fb__headscan(struct fb__headscan *s, const char *p, size_t len, size_t max,
                 size_t *used) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];

    if (++s->bytes > max)
      return s->state <= FB__SCAN_LINE_CR ? 414 : 431;
    switch (s->state) {
    case FB__SCAN_LINE:
      if (c == '\r' && s->line_bytes > 0)
        s->state = FB__SCAN_LINE_CR;
      else if (c < 0x20 || c >= 0x7f)
        return 400;
      s->line_bytes++;
      break;
    case FB__SCAN_LINE_CR:
    case FB__SCAN_VALUE_CR:
      if (c != '\n')
        return 400;
      s->state = FB__SCAN_FIELD_START;
      break;
    case FB__SCAN_FIELD_START:
      if (c == '\r') {
        s->state = FB__SCAN_END_CR;
      } else if (tchar(c)) {
        if (++s->headers > FB__MAX_HEADERS)
          return 431;
        s->state = FB__SCAN_NAME;
      } else {
        return 400; /* obs-fold, empty name, bare LF */
      }
      break;
    case FB__SCAN_NAME:
      if (c == ':')
        s->state = FB__SCAN_VALUE;
      else if (!tchar(c))
        return 400; /* includes whitespace before the colon */
      break;
    case FB__SCAN_VALUE:
      if (c == '\r')
        s->state = FB__SCAN_VALUE_CR;
      else if ((c < 0x20 && c != '\t') || c == 0x7f)
        return 400;
      break;
    case FB__SCAN_END_CR:
      if (c != '\n')
        return 400;
      s->state = FB__SCAN_DONE;
      *used = i + 1;
      return 0;
    default:
      return 400;
    }
  }
  *used = len;
  return 0;
}
