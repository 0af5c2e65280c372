/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/clock.h"
#include "origin/origin_int.h"

/* The HTTP layer of a connection: check each request head strictly, parse
 * with llhttp, and answer one request at a time. The parser is paused at
 * the end of every request (on_message_complete returns HPE_PAUSED) and
 * resumed when its response is out, so pipelined requests are answered in
 * order; what arrives meanwhile waits in c->in, bounded, with reading
 * stopped beyond the bound.
 */

static struct fb__conn *conn_of(llhttp_t *p) {
  return p->data;
}

/* --- llhttp callbacks ----------------------------------------------------- */

static int on_url(llhttp_t *p, const char *at, size_t len) {
  struct fb__conn *c = conn_of(p);

  if (c->url_len + len > c->url_cap) {
    size_t cap = c->url_cap * 2;
    char *url;

    while (cap < c->url_len + len)
      cap *= 2;
    url = c->url == c->url_inline ? malloc(cap) : realloc(c->url, cap);
    if (url == NULL) {
      c->err_status = 503;
      return HPE_USER;
    }
    if (c->url == c->url_inline)
      memcpy(url, c->url_inline, c->url_len);
    c->url = url;
    c->url_cap = cap;
  }
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  struct fb__conn *c = conn_of(p);

  /* Trailers of a chunked body: nothing here needs them, and llhttp 8.1
   * checks them less than a head.
   */
  if (c->in_body) {
    c->err_status = 400;
    return HPE_USER;
  }
  /* Is it Host? The name may come in pieces, split across reads. */
  for (size_t i = 0; i < len && c->field_len <= 4; i++) {
    if (c->field_len == 4 || (at[i] | 0x20) != "host"[c->field_len])
      c->field_len = 5; /* not Host */
    else
      c->field_len++;
  }
  return 0;
}

static int on_header_field_complete(llhttp_t *p) {
  struct fb__conn *c = conn_of(p);

  if (c->field_len == 4) {
    c->host_twice = c->host_seen;
    c->host_seen = 1;
  }
  c->field_len = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  struct fb__conn *c = conn_of(p);

  c->in_body = 1;
  c->method = p->method;
  c->http_major = p->http_major;
  c->http_minor = p->http_minor;
  if (p->http_major != 1) {
    c->err_status = p->http_major == 0 ? 400 : 505;
    return -1;
  }
  if ((p->flags & F_CONTENT_LENGTH) &&
      p->content_length > FB__MAX_REQUEST_BODY) {
    c->err_status = 413;
    return -1;
  }
  /* RFC 9112, 3.2: an HTTP/1.1 request without Host, or any request with
   * two, is answered 400.
   */
  if (c->host_twice || (p->http_minor >= 1 && !c->host_seen)) {
    c->err_status = 400;
    return -1;
  }
  return 0;
}

static int on_chunk_header(llhttp_t *p) {
  conn_of(p)->chunk_left = p->content_length;
  return 0;
}

static int on_chunk_extension(llhttp_t *p, const char *at, size_t len) {
  conn_of(p)->err_status = 400;
  return HPE_USER;
}

/* llhttp 8.1 skips the two bytes after a chunk's data without looking at
 * them; they must be CRLF. c->feed_end is where the bytes given to llhttp
 * end; what is not there yet is checked at the start of the next feed.
 */
static int check_crlf(struct fb__conn *c, const char *p, const char *end) {
  while (c->crlf_need > 0 && p < end) {
    char want = c->crlf_need == 2 ? '\r' : '\n';
    if (*p++ != want)
      return -1;
    c->crlf_need--;
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  struct fb__conn *c = conn_of(p);

  c->body_bytes += len;
  if (c->body_bytes > FB__MAX_REQUEST_BODY) {
    c->err_status = 413;
    return HPE_USER;
  }
  if (p->flags & F_CHUNKED) {
    c->chunk_left -= len < c->chunk_left ? len : c->chunk_left;
    if (c->chunk_left == 0) {
      c->crlf_need = 2;
      if (check_crlf(c, at + len, c->feed_end) < 0) {
        c->err_status = 400;
        return HPE_USER;
      }
    }
  }
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  struct fb__conn *c = conn_of(p);

  c->ready = 1;
  c->keep_alive =
      llhttp_should_keep_alive(p) && !p->upgrade && p->method != HTTP_CONNECT;
  return HPE_PAUSED;
}

void fb__http_settings(llhttp_settings_t *s) {
  llhttp_settings_init(s);
  s->on_url = on_url;
  s->on_header_field = on_header_field;
  s->on_header_field_complete = on_header_field_complete;
  s->on_headers_complete = on_headers_complete;
  s->on_chunk_header = on_chunk_header;
  s->on_chunk_extension_name = on_chunk_extension;
  s->on_chunk_extension_value = on_chunk_extension;
  s->on_body = on_body;
  s->on_message_complete = on_message_complete;
}

/* --- Parsing -------------------------------------------------------------- */

static void request_reset(struct fb__conn *c) {
  c->url_len = 0;
  memset(&c->scan, 0, sizeof(c->scan));
  c->in_head = 1;
  c->in_body = 0;
  c->ready = 0;
  c->err_status = 0;
  c->chunk_left = 0;
  c->crlf_need = 0;
  c->body_bytes = 0;
  c->host_seen = 0;
  c->host_twice = 0;
  c->field_host = 0;
  c->field_len = 0;
}

static int parse_error_status(struct fb__conn *c, llhttp_errno_t err) {
  if (c->err_status != 0)
    return c->err_status;
  switch (err) {
  case HPE_INVALID_VERSION:
  case HPE_PAUSED_H2_UPGRADE:
    return 505;
  default:
    return 400;
  }
}

/* Whether the connection is over for this layer: it ended it itself, or
 * the transport is closing.
 */
static int gone(const struct fb__conn *c) {
  return c->ended || c->t.closing;
}

static void on_timeout(struct fb__conn *c) {
  /* The idle or header timeout, the only timers of this file. */
  c->ended = 1;
  c->stream->close(c);
}

static void wait_request(struct fb__conn *c, uint64_t ms) {
  c->phase = FB__PH_IDLE;
  fb__tcp_timer(c, ms, on_timeout);
}

/* Parses data until it runs out or a response is under way. Returns the
 * bytes consumed; the rest belongs to later requests.
 */
static size_t feed(struct fb__conn *c, const char *data, size_t len) {
  struct fb_origin *o = c->o;
  size_t off = 0;

  while (off < len && !c->busy && !gone(c)) {
    const char *p = data + off;
    size_t n = len - off;
    llhttp_errno_t err;
    int st;

    if (c->in_head) {
      uint32_t before = c->scan.bytes;
      st = fb__headscan(&c->scan, p, n, o->cfg.max_header_bytes, &n);
      if (before == 0 && c->scan.bytes > 0) {
        c->phase = FB__PH_HEAD;
        fb__tcp_timer(c, o->cfg.header_timeout_ms, on_timeout);
      }
      if (st != 0) {
        c->busy = 1;
        fb__respond_error(c, st);
        break;
      }
      if (c->scan.state == FB__SCAN_DONE)
        c->in_head = 0;
    } else if (check_crlf(c, p, p + n) < 0) {
      c->busy = 1;
      fb__respond_error(c, 400);
      break;
    }
    c->feed_end = p + n;
    err = llhttp_execute(&c->parser, p, n);
    if (err == HPE_OK) {
      off += n;
      continue;
    }
    if (err == HPE_PAUSED && c->ready) {
      off = (size_t)(llhttp_get_error_pos(&c->parser) - data);
      c->busy = 1;
      if (fb__respond(c) != 1)
        break;
      c->busy = 0;
      request_reset(c);
      llhttp_resume(&c->parser);
      continue;
    }
    c->busy = 1;
    fb__respond_error(c, parse_error_status(c, err));
    break;
  }
  if (!c->busy && !gone(c) && c->scan.bytes == 0)
    wait_request(c, o->cfg.idle_timeout_ms);
  return off;
}

/* Keeps bytes that arrived while a response was under way. */
static int keep_input(struct fb__conn *c, const char *data, size_t len) {
  if (c->in_off > 0 && c->in_off + c->in_len + len > c->in_cap) {
    memmove(c->in, c->in + c->in_off, c->in_len);
    c->in_off = 0;
  }
  if (c->in_len + len > c->in_cap) {
    size_t cap = c->in_cap ? c->in_cap : 4096;
    char *in;

    while (cap < c->in_len + len)
      cap *= 2;
    in = realloc(c->in, cap);
    if (in == NULL)
      return -ENOMEM;
    c->in = in;
    c->in_cap = cap;
  }
  memcpy(c->in + c->in_off + c->in_len, data, len);
  c->in_len += len;
  if (c->in_len >= FB__MAX_PENDING_INPUT)
    c->stream->read_stop(c);
  return 0;
}

static void drop_input(struct fb__conn *c) {
  free(c->in);
  c->in = NULL;
  c->in_off = c->in_len = c->in_cap = 0;
}

static void close_now(struct fb__conn *c) {
  c->ended = 1;
  c->stream->close(c);
}

/* A response that keeps the connection is out: the next request. */
static void response_done(struct fb__conn *c) {
  c->busy = 0;
  request_reset(c);
  llhttp_resume(&c->parser);
  if (c->in_len > 0) {
    size_t used = feed(c, c->in + c->in_off, c->in_len);
    if (c->t.closing)
      return;
    c->in_off += used;
    c->in_len -= used;
    if (c->in_len == 0)
      drop_input(c);
  } else {
    wait_request(c, c->o->cfg.idle_timeout_ms);
  }
  if (c->busy || c->ended)
    return;
  if (c->eof) {
    close_now(c); /* the client said all it had to say */
    return;
  }
  if (c->in_len < FB__MAX_PENDING_INPUT)
    c->stream->read_start(c);
}

/* --- Events from the stream below ----------------------------------------- */

static void http_ready(struct fb__conn *c) {
  /* A new connection must send its request within the header timeout. */
  wait_request(c, c->o->cfg.header_timeout_ms);
  c->stream->read_start(c);
}

static void http_data(struct fb__conn *c, const char *p, size_t n) {
  size_t used;

  if (gone(c))
    return;
  if (c->busy || c->in_len > 0) {
    if (keep_input(c, p, n) < 0)
      close_now(c);
    return;
  }
  used = feed(c, p, n);
  if (gone(c) || used == n)
    return;
  if (keep_input(c, p + used, n - used) < 0)
    close_now(c);
}

static void http_eof(struct fb__conn *c) {
  if (gone(c))
    return;
  if (c->phase == FB__PH_STALL || (!c->busy && c->in_len == 0)) {
    close_now(c);
    return;
  }
  c->eof = 1; /* answer what was asked, then close */
}

static void http_writable(struct fb__conn *c) {
  if (!gone(c) && fb__writer_pump(c) == 1)
    response_done(c);
}

const struct fb__up fb__http_up = {
    .ready = http_ready,
    .data = http_data,
    .eof = http_eof,
    .writable = http_writable,
};

void fb__http_init(struct fb__conn *c) {
  llhttp_init(&c->parser, HTTP_REQUEST, &c->o->settings);
  c->parser.data = c;
  c->url = c->url_inline;
  c->url_cap = sizeof(c->url_inline);
  c->keep_alive = 1;
  c->response_done = response_done;
  request_reset(c);
}

void fb__http_free(struct fb__conn *c) {
  fb__writer_clear(c);
  if (c->url != c->url_inline)
    free(c->url);
  c->url = c->url_inline;
  drop_input(c);
}
