#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/clock.h"
#include "origin/origin_int.h"

/* One connection's life: read, check the head strictly, parse with llhttp,
 * and answer one request at a time. The parser is paused at the end of every
 * request (on_message_complete returns HPE_PAUSED) and resumed when its
 * response is out, so pipelined requests are answered in order; what arrives
 * meanwhile waits in c->in, bounded, with reading stopped beyond the bound.
 */

#define DRAIN_MAX (1 << 20)

static struct fb__conn *conn_of(llhttp_t *p) {
  return p->data;
}

static void on_close(uv_handle_t *h) {
  struct fb__conn *c = h->data;

  if (--c->open_handles > 0)
    return;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    c->o->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  c->o->nconns--;
  fb__resp_clear(c);
  if (c->url != c->url_inline)
    free(c->url);
  free(c->in);
  free(c);
}

void fb__conn_close(struct fb__conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  fb__alarm_cancel(&c->o->alarms, c);
  uv_close((uv_handle_t *)&c->timer, on_close);
  uv_close((uv_handle_t *)&c->tcp, on_close);
}

void fb__conn_reset(struct fb__conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  fb__alarm_cancel(&c->o->alarms, c);
  uv_close((uv_handle_t *)&c->timer, on_close);
  /* SO_LINGER {1, 0} and close: the peer gets an RST, not a FIN. */
  if (c->draining || uv_tcp_close_reset(&c->tcp, on_close) != 0)
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void fb__conn_fire(struct fb__conn *c) {
  switch (c->phase) {
  case FB__PH_IDLE:
  case FB__PH_HEAD:
  case FB__PH_LINGER:
    fb__conn_close(c);
    break;
  default:
    fb__resp_timer(c);
    break;
  }
}

static void on_timer(uv_timer_t *t) {
  fb__conn_fire(t->data);
}

void fb__conn_timer(struct fb__conn *c, enum fb__phase phase, uint64_t ms) {
  c->phase = phase;
  fb__alarm_cancel(&c->o->alarms, c);
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

void fb__conn_at(struct fb__conn *c, enum fb__phase phase, int64_t due_ns) {
  int64_t wait;

  c->phase = phase;
  uv_timer_stop(&c->timer);
  if (fb__alarm_set(&c->o->alarms, c, due_ns) == 0)
    return;
  /* No alarm clock: late by up to a millisecond or so, never early. */
  wait = due_ns - fb_clock_ns();
  uv_timer_start(&c->timer, on_timer,
                 wait > 0 ? (uint64_t)(wait / FB_NS_PER_MS) + 1 : 0, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct fb__conn *c = h->data;

  /* One buffer for every connection: each read is parsed (or copied into
   * c->in) before the callback returns.
   */
  *buf = uv_buf_init(c->o->rbuf, FB__READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_start(struct fb__conn *c) {
  if (!c->reading && !c->closing && !c->eof &&
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
    c->reading = 1;
}

static void read_stop(struct fb__conn *c) {
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct fb__conn *c = req->data;

  if (c->closing)
    return;
  if (status < 0 || c->eof)
    fb__conn_close(c);
}

void fb__conn_shutdown(struct fb__conn *c) {
  if (c->closing || c->draining)
    return;
  c->draining = 1;
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    fb__conn_close(c);
    return;
  }
  fb__conn_timer(c, FB__PH_LINGER, FB__LINGER_MS);
  read_start(c);
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

void fb__conn_settings(llhttp_settings_t *s) {
  llhttp_settings_init(s);
  s->on_url = on_url;
  s->on_header_field = on_header_field;
  s->on_headers_complete = on_headers_complete;
  s->on_chunk_header = on_chunk_header;
  s->on_chunk_extension_name = on_chunk_extension;
  s->on_chunk_extension_value = on_chunk_extension;
  s->on_body = on_body;
  s->on_message_complete = on_message_complete;
}

/* --- Parsing ------------------------------------------------------------- */

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

/* Parses data until it runs out or a response is under way. Returns the
 * bytes consumed; the rest belongs to later requests.
 */
static size_t feed(struct fb__conn *c, const char *data, size_t len) {
  struct fb_origin *o = c->o;
  size_t off = 0;

  while (off < len && !c->busy && !c->closing && !c->draining) {
    const char *p = data + off;
    size_t n = len - off;
    llhttp_errno_t err;
    int st;

    if (c->in_head) {
      uint32_t before = c->scan.bytes;
      st = fb__scan_head(&c->scan, p, n, o->cfg.max_header_bytes, &n);
      if (before == 0 && c->scan.bytes > 0)
        fb__conn_timer(c, FB__PH_HEAD, o->cfg.header_timeout_ms);
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
  if (!c->busy && !c->closing && !c->draining && c->scan.bytes == 0)
    fb__conn_timer(c, FB__PH_IDLE, o->cfg.idle_timeout_ms);
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
    read_stop(c);
  return 0;
}

static void drop_input(struct fb__conn *c) {
  free(c->in);
  c->in = NULL;
  c->in_off = c->in_len = c->in_cap = 0;
}

void fb__conn_response_done(struct fb__conn *c) {
  c->busy = 0;
  request_reset(c);
  llhttp_resume(&c->parser);
  if (c->in_len > 0) {
    size_t used = feed(c, c->in + c->in_off, c->in_len);
    if (c->closing)
      return;
    c->in_off += used;
    c->in_len -= used;
    if (c->in_len == 0)
      drop_input(c);
  } else {
    fb__conn_timer(c, FB__PH_IDLE, c->o->cfg.idle_timeout_ms);
  }
  if (c->busy || c->draining)
    return;
  if (c->eof) {
    fb__conn_close(c); /* the client said all it had to say */
    return;
  }
  if (c->in_len < FB__MAX_PENDING_INPUT)
    read_start(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct fb__conn *c = s->data;
  size_t used;

  if (nread == 0 || c->closing)
    return;
  if (nread < 0) {
    read_stop(c);
    if (nread != UV_EOF || c->draining || c->phase == FB__PH_STALL ||
        (!c->busy && c->in_len == 0)) {
      fb__conn_close(c);
      return;
    }
    c->eof = 1; /* answer what was asked, then close */
    return;
  }
  if (c->draining) {
    c->drained += (size_t)nread;
    if (c->drained > DRAIN_MAX)
      fb__conn_close(c);
    return;
  }
  if (c->busy || c->in_len > 0) {
    if (keep_input(c, buf->base, (size_t)nread) < 0)
      fb__conn_close(c);
    return;
  }
  used = feed(c, buf->base, (size_t)nread);
  if (c->closing || c->draining || used == (size_t)nread)
    return;
  if (keep_input(c, buf->base + used, (size_t)nread - used) < 0)
    fb__conn_close(c);
}

static void on_close_refused(uv_handle_t *h) {
  free(h->data);
}

/* A new connection, accepted or adopted: its timer, parser and first read. */
static void conn_start(struct fb_origin *o, struct fb__conn *c) {
  o->stats.accepted++;
  c->next = o->conns;
  if (o->conns != NULL)
    o->conns->prev = c;
  o->conns = c;
  o->nconns++;
  uv_timer_init(&o->loop, &c->timer);
  c->timer.data = c;
  c->open_handles = 2;
  uv_tcp_nodelay(&c->tcp, 1);
  llhttp_init(&c->parser, HTTP_REQUEST, &o->settings);
  c->parser.data = c;
  c->url = c->url_inline;
  c->url_cap = sizeof(c->url_inline);
  c->keep_alive = 1;
  request_reset(c);
  /* A new connection must send its request within the header timeout. */
  fb__conn_timer(c, FB__PH_IDLE, o->cfg.header_timeout_ms);
  read_start(c);
  if (!c->reading)
    fb__conn_close(c);
}

void fb__conn_accept(struct fb_origin *o) {
  struct fb__conn *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return;
  c->o = o;
  uv_tcp_init(&o->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept((uv_stream_t *)&o->listener, (uv_stream_t *)&c->tcp) != 0 ||
      o->stopping || o->nconns >= o->cfg.max_connections) {
    o->stats.refused++;
    uv_close((uv_handle_t *)&c->tcp, on_close_refused);
    return;
  }
  conn_start(o, c);
}

int fb__conn_open(struct fb_origin *o, uv_os_sock_t fd) {
  struct fb__conn *c = calloc(1, sizeof(*c));
  int rc;

  if (c == NULL)
    return -ENOMEM;
  c->o = o;
  uv_tcp_init(&o->loop, &c->tcp);
  c->tcp.data = c;
  rc = uv_tcp_open(&c->tcp, fd);
  if (rc != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_close_refused);
    return rc;
  }
  conn_start(o, c);
  return 0;
}
