#include <string.h>

#include "json-check.h"

#define MAX_DEPTH 64

struct reader {
  const unsigned char *s;
  size_t len;
  size_t pos;
  char *out; /* decoded string bytes go here when not NULL */
  size_t out_len;
};

static int utf8_seq(const unsigned char *s, size_t len, size_t *n) {
  unsigned char c = s[0], lo = 0x80, hi = 0xbf;
  size_t k;

  if (c < 0x80) {
    *n = 1;
    return 1;
  }
  if (c >= 0xc2 && c <= 0xdf) {
    k = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    k = 2;
    lo = c == 0xe0 ? 0xa0 : 0x80;
    hi = c == 0xed ? 0x9f : 0xbf;
  } else if (c >= 0xf0 && c <= 0xf4) {
    k = 3;
    lo = c == 0xf0 ? 0x90 : 0x80;
    hi = c == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (len < k + 1 || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i <= k; i++)
    if (s[i] < 0x80 || s[i] > 0xbf)
      return 0;
  *n = k + 1;
  return 1;
}

int fz_utf8_valid(const unsigned char *s, size_t len) {
  size_t i = 0, n;

  while (i < len) {
    if (!utf8_seq(s + i, len - i, &n))
      return 0;
    i += n;
  }
  return 1;
}

static void ws(struct reader *r) {
  while (r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t' ||
                             r->s[r->pos] == '\n' || r->s[r->pos] == '\r'))
    r->pos++;
}

static int hex4(struct reader *r, unsigned *v) {
  *v = 0;
  if (r->len - r->pos < 4)
    return 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = r->s[r->pos++];
    unsigned d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10u;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10u;
    else
      return 0;
    *v = *v << 4 | d;
  }
  return 1;
}

static void emit(struct reader *r, const void *p, size_t n) {
  if (r->out != NULL) {
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
  }
}

static void emit_cp(struct reader *r, unsigned cp) {
  unsigned char b[4];
  size_t n;

  if (cp < 0x80) {
    b[0] = (unsigned char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (unsigned char)(0xc0 | cp >> 6);
    b[1] = (unsigned char)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (unsigned char)(0xe0 | cp >> 12);
    b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    b[2] = (unsigned char)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    b[0] = (unsigned char)(0xf0 | cp >> 18);
    b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    b[3] = (unsigned char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  emit(r, b, n);
}

static int string(struct reader *r) {
  if (r->pos >= r->len || r->s[r->pos] != '"')
    return 0;
  r->pos++;
  while (r->pos < r->len) {
    unsigned char c = r->s[r->pos];
    size_t n;

    if (c == '"') {
      r->pos++;
      return 1;
    }
    if (c < 0x20)
      return 0;
    if (c == '\\') {
      unsigned cp, lo;

      if (++r->pos >= r->len)
        return 0;
      c = r->s[r->pos++];
      switch (c) {
      case '"':
      case '\\':
      case '/':
        emit(r, &c, 1);
        continue;
      case 'b':
        emit_cp(r, '\b');
        continue;
      case 'f':
        emit_cp(r, '\f');
        continue;
      case 'n':
        emit_cp(r, '\n');
        continue;
      case 'r':
        emit_cp(r, '\r');
        continue;
      case 't':
        emit_cp(r, '\t');
        continue;
      case 'u':
        if (!hex4(r, &cp))
          return 0;
        if (cp >= 0xdc00 && cp <= 0xdfff)
          return 0; /* a low surrogate alone */
        if (cp >= 0xd800 && cp <= 0xdbff) {
          if (r->len - r->pos < 6 || r->s[r->pos] != '\\' ||
              r->s[r->pos + 1] != 'u')
            return 0;
          r->pos += 2;
          if (!hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return 0;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        emit_cp(r, cp);
        continue;
      default:
        return 0;
      }
    }
    if (!utf8_seq(r->s + r->pos, r->len - r->pos, &n))
      return 0;
    emit(r, r->s + r->pos, n);
    r->pos += n;
  }
  return 0;
}

static int digits(struct reader *r) {
  size_t start = r->pos;

  while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9')
    r->pos++;
  return r->pos > start;
}

static int number(struct reader *r) {
  if (r->pos < r->len && r->s[r->pos] == '-')
    r->pos++;
  if (r->pos < r->len && r->s[r->pos] == '0')
    r->pos++;
  else if (!digits(r))
    return 0;
  if (r->pos < r->len && r->s[r->pos] == '.') {
    r->pos++;
    if (!digits(r))
      return 0;
  }
  if (r->pos < r->len && (r->s[r->pos] == 'e' || r->s[r->pos] == 'E')) {
    r->pos++;
    if (r->pos < r->len && (r->s[r->pos] == '+' || r->s[r->pos] == '-'))
      r->pos++;
    if (!digits(r))
      return 0;
  }
  return 1;
}

static int literal(struct reader *r, const char *word) {
  size_t n = strlen(word);

  if (r->len - r->pos < n || memcmp(r->s + r->pos, word, n) != 0)
    return 0;
  r->pos += n;
  return 1;
}

static int value(struct reader *r, int depth) {
  if (depth > MAX_DEPTH)
    return 0;
  ws(r);
  if (r->pos >= r->len)
    return 0;
  switch (r->s[r->pos]) {
  case '{':
    r->pos++;
    ws(r);
    if (r->pos < r->len && r->s[r->pos] == '}') {
      r->pos++;
      return 1;
    }
    for (;;) {
      ws(r);
      if (!string(r))
        return 0;
      ws(r);
      if (r->pos >= r->len || r->s[r->pos++] != ':')
        return 0;
      if (!value(r, depth + 1))
        return 0;
      ws(r);
      if (r->pos >= r->len)
        return 0;
      if (r->s[r->pos] == '}') {
        r->pos++;
        return 1;
      }
      if (r->s[r->pos++] != ',')
        return 0;
    }
  case '[':
    r->pos++;
    ws(r);
    if (r->pos < r->len && r->s[r->pos] == ']') {
      r->pos++;
      return 1;
    }
    for (;;) {
      if (!value(r, depth + 1))
        return 0;
      ws(r);
      if (r->pos >= r->len)
        return 0;
      if (r->s[r->pos] == ']') {
        r->pos++;
        return 1;
      }
      if (r->s[r->pos++] != ',')
        return 0;
    }
  case '"':
    return string(r);
  case 't':
    return literal(r, "true");
  case 'f':
    return literal(r, "false");
  case 'n':
    return literal(r, "null");
  default:
    return number(r);
  }
}

long fz_json_value(const char *s, size_t len) {
  struct reader r = {(const unsigned char *)s, len, 0, NULL, 0};

  if (!value(&r, 0))
    return -1;
  ws(&r);
  return (long)r.pos;
}

long fz_json_string_decode(const char *s, size_t len, char *out) {
  struct reader r = {(const unsigned char *)s, len, 0, out, 0};

  if (!string(&r) || r.pos != len)
    return -1;
  return (long)r.out_len;
}
