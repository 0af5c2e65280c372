/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin/origin_int.h"

/* What each fault mode puts on the wire, one handler per mode. Each sets up
 * c->resp (segments, what happens after them, pacing) from the response the
 * request would have had (route).
 */

#define SERVER "Server: fetchbench-origin\r\n"
#define HUGE_HEADER (100 << 10)
#define MANY_HEADERS 5000
#define ENDLESS_CHUNK (16 << 10)
#define HUGE_BODY (1ULL << 30)

static char many_headers[MANY_HEADERS * 20];
static size_t many_headers_len;
static char endless_chunk[ENDLESS_CHUNK + 16];
static size_t endless_chunk_len;
static pthread_once_t blocks_once = PTHREAD_ONCE_INIT;

static void blocks_init(void) {
  const char *text = fb__pattern_text();
  size_t n = 0;

  for (unsigned i = 0; i < MANY_HEADERS; i++)
    n += (size_t)snprintf(many_headers + n, sizeof(many_headers) - n,
                          "X-Header-%04u: v\r\n", i);
  many_headers_len = n;
  n = (size_t)snprintf(endless_chunk, sizeof(endless_chunk), "%x\r\n",
                       ENDLESS_CHUNK);
  memcpy(endless_chunk + n, text, ENDLESS_CHUNK);
  memcpy(endless_chunk + n + ENDLESS_CHUNK, "\r\n", 2);
  endless_chunk_len = n + ENDLESS_CHUNK + 2;
}

static uint64_t half(const struct fb__route *rt) {
  return rt->head_only ? 0 : rt->body_len / 2;
}

static void add_body(struct fb__resp *r, const struct fb__route *rt,
                     uint64_t len) {
  if (!rt->head_only)
    fb__writer_add(r, rt->body, len, rt->body_period);
}

/* The head and connection line of the normal response. */
static void add_head(struct fb__conn *c, const struct fb__route *rt) {
  const char *line = fb__heads_end(c);

  fb__writer_add(&c->resp, rt->head, rt->head_len, 0);
  fb__writer_add(&c->resp, line, strlen(line), 0);
}

static int normal(struct fb__conn *c, const struct fb__route *rt) {
  add_head(c, rt);
  add_body(&c->resp, rt, rt->body_len);
  c->resp.status = 200;
  return 0;
}

/* A head of our own, formatted into the connection's buffer. */
static int own_head(struct fb__conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int own_head(struct fb__conn *c, const char *fmt, ...) {
  char tmp[512];
  const char *text;
  va_list ap;
  size_t len;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp))
    return -ENOMEM;
  text = fb__writer_printf(c, &len, "%s", tmp);
  if (text == NULL)
    return -ENOMEM;
  fb__writer_add(&c->resp, text, len, 0);
  return 0;
}

static int f_reset(struct fb__conn *c, const struct fb__route *rt) {
  c->resp.after = FB__AFTER_RESET;
  return 0;
}

static int f_reset_body(struct fb__conn *c, const struct fb__route *rt) {
  add_head(c, rt);
  add_body(&c->resp, rt, half(rt));
  c->resp.after = FB__AFTER_RESET;
  return 0;
}

static int f_short(struct fb__conn *c, const struct fb__route *rt) {
  add_head(c, rt);
  add_body(&c->resp, rt, half(rt));
  c->resp.after = FB__AFTER_CLOSE;
  return 0;
}

static int f_stall(struct fb__conn *c, const struct fb__route *rt) {
  c->resp.after = FB__AFTER_STALL;
  return 0;
}

static int f_slow_headers(struct fb__conn *c, const struct fb__route *rt) {
  normal(c, rt);
  c->resp.rate = rt->rate ? rt->rate : 10;
  c->resp.pace_from = 0;
  c->resp.pace_to = c->resp.segs[0].len + c->resp.segs[1].len;
  return 0;
}

static int f_http500(struct fb__conn *c, const struct fb__route *rt) {
  return fb__heads_status(c, 500, rt->head_only);
}

static int f_http503(struct fb__conn *c, const struct fb__route *rt) {
  return fb__heads_status(c, 503, rt->head_only);
}

static int f_malformed(struct fb__conn *c, const struct fb__route *rt) {
  int rc = own_head(c,
                    "HTTP/1.1 2OO OK\r\n" SERVER "Content-Type: %s\r\n"
                    "Content-Length: %" PRIu64 "\r\nConnection: close\r\n\r\n",
                    rt->content_type, rt->body_len);
  add_body(&c->resp, rt, rt->body_len);
  c->resp.after = FB__AFTER_CLOSE;
  return rc;
}

static int f_close(struct fb__conn *c, const struct fb__route *rt) {
  c->resp.after = FB__AFTER_CLOSE;
  return 0;
}

static int f_trickle(struct fb__conn *c, const struct fb__route *rt) {
  normal(c, rt);
  c->resp.rate = 1;
  c->resp.pace_from = c->resp.segs[0].len + c->resp.segs[1].len;
  c->resp.pace_to = UINT64_MAX;
  return 0;
}

static int chunked_head(struct fb__conn *c, const struct fb__route *rt,
                        const char *first_line) {
  return own_head(c,
                  "HTTP/1.1 200 OK\r\n" SERVER "Content-Type: %s\r\n"
                  "Transfer-Encoding: chunked\r\n%s%s",
                  rt->content_type, fb__heads_end(c), first_line);
}

static int f_chunked_cut(struct fb__conn *c, const struct fb__route *rt) {
  char line[32];
  uint64_t n = rt->head_only ? 0 : rt->body_len - half(rt);
  int rc;

  /* The first chunk holds more than half the body; the rest, and the last
   * chunk, never come.
   */
  snprintf(line, sizeof(line), "%" PRIx64 "\r\n", n);
  rc = chunked_head(c, rt, n ? line : "");
  add_body(&c->resp, rt, n);
  if (n)
    fb__writer_add(&c->resp, "\r\n", 2, 0);
  c->resp.after = FB__AFTER_CLOSE;
  return rc;
}

static int f_bad_chunk(struct fb__conn *c, const struct fb__route *rt) {
  int rc = chunked_head(c, rt, "zz\r\n");

  add_body(&c->resp, rt, rt->body_len);
  c->resp.after = FB__AFTER_CLOSE;
  return rc;
}

/* The body, after a Content-Length that is the body's length with `junk`
 * before it.
 */
static int broken_length(struct fb__conn *c, const struct fb__route *rt,
                         const char *junk) {
  int rc = own_head(c,
                    "HTTP/1.1 200 OK\r\n" SERVER "Content-Type: %s\r\n"
                    "Content-Length: %s%" PRIu64 "\r\n%s",
                    rt->content_type, junk, rt->body_len, fb__heads_end(c));

  add_body(&c->resp, rt, rt->body_len);
  c->resp.after = FB__AFTER_CLOSE;
  return rc;
}

static int f_bad_length(struct fb__conn *c, const struct fb__route *rt) {
  return broken_length(c, rt, "x");
}

static int f_negative_length(struct fb__conn *c, const struct fb__route *rt) {
  return broken_length(c, rt, "-");
}

static int f_http09(struct fb__conn *c, const struct fb__route *rt) {
  add_body(&c->resp, rt, rt->body_len);
  c->resp.after = FB__AFTER_CLOSE;
  return 0;
}

static int f_huge_header(struct fb__conn *c, const struct fb__route *rt) {
  const char *line = fb__heads_end(c);

  fb__writer_add(&c->resp, rt->head, rt->head_len, 0);
  fb__writer_add(&c->resp, "X-Huge: ", 8, 0);
  fb__writer_add(&c->resp, fb__pattern_text(), HUGE_HEADER, FB__PATTERN);
  fb__writer_add(&c->resp, "\r\n", 2, 0);
  fb__writer_add(&c->resp, line, strlen(line), 0);
  add_body(&c->resp, rt, rt->body_len);
  return 0;
}

static int f_many_headers(struct fb__conn *c, const struct fb__route *rt) {
  const char *line = fb__heads_end(c);

  pthread_once(&blocks_once, blocks_init);
  fb__writer_add(&c->resp, rt->head, rt->head_len, 0);
  fb__writer_add(&c->resp, many_headers, many_headers_len, 0);
  fb__writer_add(&c->resp, line, strlen(line), 0);
  add_body(&c->resp, rt, rt->body_len);
  return 0;
}

static int redirect(struct fb__conn *c, const char *location, int len) {
  return own_head(c,
                  "HTTP/1.1 302 Found\r\n" SERVER "Location: %.*s\r\n"
                  "Content-Length: 0\r\n%s",
                  len, location, fb__heads_end(c));
}

static int f_redirect_loop(struct fb__conn *c, const struct fb__route *rt) {
  /* To the very target asked for, query and all: the same fault again. */
  if (rt->target_len > 400)
    return fb__heads_status(c, 414, rt->head_only);
  return redirect(c, rt->target, (int)rt->target_len);
}

static int f_redirect_file(struct fb__conn *c, const struct fb__route *rt) {
  return redirect(c, "file:///etc/passwd", 18);
}

static int f_gzip_bomb(struct fb__conn *c, const struct fb__route *rt) {
  const unsigned char *gz;
  size_t len;
  int rc = fb__gzbomb(c->o, &gz, &len);

  if (rc < 0)
    return rc;
  rc = own_head(c,
                "HTTP/1.1 200 OK\r\n" SERVER
                "Content-Type: text/html; charset=utf-8\r\n"
                "Content-Encoding: gzip\r\nContent-Length: %zu\r\n%s",
                len, fb__heads_end(c));
  if (!rt->head_only)
    fb__writer_add(&c->resp, gz, len, 0);
  return rc;
}

static int f_huge_body(struct fb__conn *c, const struct fb__route *rt) {
  int rc = own_head(c,
                    "HTTP/1.1 200 OK\r\n" SERVER
                    "Content-Type: application/octet-stream\r\n"
                    "Content-Length: %llu\r\n%s",
                    (unsigned long long)HUGE_BODY, fb__heads_end(c));

  if (!rt->head_only)
    fb__writer_add(&c->resp, fb__pattern_text(), HUGE_BODY, FB__PATTERN);
  return rc;
}

static int f_endless(struct fb__conn *c, const struct fb__route *rt) {
  int rc;

  pthread_once(&blocks_once, blocks_init);
  rc = chunked_head(c, rt, "");
  if (!rt->head_only)
    fb__writer_add(&c->resp, endless_chunk, UINT64_MAX, endless_chunk_len);
  return rc;
}

static int f_continue(struct fb__conn *c, const struct fb__route *rt) {
  fb__writer_add(&c->resp, "HTTP/1.1 100 Continue\r\n\r\n", 25, 0);
  c->resp.after = FB__AFTER_STALL;
  return 0;
}

static int f_close_idle(struct fb__conn *c, const struct fb__route *rt) {
  normal(c, rt);
  c->resp.after = FB__AFTER_CLOSE;
  return 0;
}

/* As short, but over TLS the FIN comes without close_notify: the cut is
 * seen by the TLS layer too (curl, which ignores a missing close_notify,
 * still sees the body end short of its Content-Length).
 */
static int f_tls_cut(struct fb__conn *c, const struct fb__route *rt) {
  f_short(c, rt);
  c->resp.after = FB__AFTER_CUT;
  return 0;
}

typedef int (*fault_fn)(struct fb__conn *c, const struct fb__route *rt);

static const fault_fn handlers[FB_FAULT_COUNT] = {
    [FB_FAULT_RESET] = f_reset,
    [FB_FAULT_RESET_BODY] = f_reset_body,
    [FB_FAULT_SHORT] = f_short,
    [FB_FAULT_STALL] = f_stall,
    [FB_FAULT_SLOW_HEADERS] = f_slow_headers,
    [FB_FAULT_HTTP500] = f_http500,
    [FB_FAULT_HTTP503] = f_http503,
    [FB_FAULT_MALFORMED] = f_malformed,
    [FB_FAULT_CLOSE] = f_close,
    [FB_FAULT_TRICKLE] = f_trickle,
    [FB_FAULT_CHUNKED_CUT] = f_chunked_cut,
    [FB_FAULT_BAD_CHUNK] = f_bad_chunk,
    [FB_FAULT_BAD_LENGTH] = f_bad_length,
    [FB_FAULT_NEGATIVE_LENGTH] = f_negative_length,
    [FB_FAULT_HTTP09] = f_http09,
    [FB_FAULT_HUGE_HEADER] = f_huge_header,
    [FB_FAULT_MANY_HEADERS] = f_many_headers,
    [FB_FAULT_REDIRECT_LOOP] = f_redirect_loop,
    [FB_FAULT_REDIRECT_FILE] = f_redirect_file,
    [FB_FAULT_GZIP_BOMB] = f_gzip_bomb,
    [FB_FAULT_HUGE_BODY] = f_huge_body,
    [FB_FAULT_ENDLESS] = f_endless,
    [FB_FAULT_CONTINUE] = f_continue,
    [FB_FAULT_CLOSE_IDLE] = f_close_idle,
    [FB_FAULT_TLS_CUT] = f_tls_cut,
};

int fb__faultmodes_apply(struct fb__conn *c, enum fb_fault f,
                         const struct fb__route *rt) {
  if ((int)f <= FB_FAULT_NONE || f >= FB_FAULT_COUNT || handlers[f] == NULL)
    return normal(c, rt);
  c->resp.status = 200;
  return handlers[f](c, rt);
}
