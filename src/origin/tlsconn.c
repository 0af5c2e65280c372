/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/error.h"
#include "origin/origin_int.h"
#include "tls/tls.h"

/* A connection's TLS layer: the transport's bytes go through the sans-IO
 * TLS connection (fb_tls_feed, fb_tls_read) to the HTTP layer above, and
 * what HTTP writes is encrypted in place from its memory (the corpus
 * mapping, patterns, the response's buffers) and handed to the transport
 * as iovecs into the layer's own pending ciphertext. One transport write
 * is in flight at a time (sending); the handshake's faults are played here.
 */

enum tls_state {
  ST_WAITING,   /* for a handshake slot: not read, no TLS object yet */
  ST_HANDSHAKE, /* holding a slot */
  ST_OPEN,      /* established: HTTP above */
  ST_OVER,      /* failed or faulted: flushing what is left, then gone */
};

struct fb__tlsconn {
  struct fb_tls *tls;
  const struct fb__up *up;        /* HTTP */
  struct fb__conn *wprev, *wnext; /* in the origin's queue, while waiting */
  uv_buf_t plain[FB__MAX_IOV];    /* what HTTP wrote, not yet encrypted */
  unsigned nplain, iplain;
  size_t off;     /* bytes of plain[iplain] encrypted */
  size_t sending; /* ciphertext handed to the transport, not yet out */
  enum fb_fault fault;
  enum tls_state state;
  unsigned paused : 1, pumping : 1, repump : 1, want_writable : 1, shut : 1,
      tcp_shut : 1, eof_told : 1, reset_after : 1;
};

static const char garbage[] =
    "this is no ServerHello: the fetchbench origin's tls_garbage fault\r\n";

static void pump(struct fb__conn *c);

/* --- Handshake slots ------------------------------------------------------ */

static void wait_unlink(struct fb__conn *c) {
  struct fb__tlsserver *s = &c->o->tls;
  struct fb__tlsconn *t = c->tls;

  if (t->wprev != NULL)
    t->wprev->tls->wnext = t->wnext;
  else
    s->wait_head = t->wnext;
  if (t->wnext != NULL)
    t->wnext->tls->wprev = t->wprev;
  else
    s->wait_tail = t->wprev;
  t->wprev = t->wnext = NULL;
  s->waiting--;
}

static void on_handshake_timeout(struct fb__conn *c) {
  c->o->tls.timeouts++;
  fb__tcp_close(c);
}

/* Takes a slot: the TLS object, and reading. */
static void begin(struct fb__conn *c) {
  struct fb__tlsserver *s = &c->o->tls;
  struct fb__tlsconn *t = c->tls;

  if (fb_tls_create(&t->tls, s->ctx, NULL, 0, c) != 0) {
    t->state = ST_OVER;
    fb__tcp_close(c);
    return;
  }
  t->state = ST_HANDSHAKE;
  s->handshaking++;
  fb__tcp_read_start(c);
}

/* Lets waiting connections start, as far as the slots go. */
static void admit(struct fb_origin *o) {
  struct fb__tlsserver *s = &o->tls;

  while (s->wait_head != NULL && s->handshaking < o->cfg.max_handshakes) {
    struct fb__conn *c = s->wait_head;

    wait_unlink(c);
    if (c->t.closing) {
      c->tls->state = ST_OVER;
      continue;
    }
    begin(c);
  }
}

/* The handshake ended, one way or another: its slot goes to the next. */
static void leave_handshake(struct fb__conn *c, enum tls_state next) {
  if (c->tls->state == ST_HANDSHAKE) {
    c->o->tls.handshaking--;
    admit(c->o);
  }
  c->tls->state = next;
}

/* --- Ciphertext out ------------------------------------------------------- */

/* Hands the pending ciphertext to the transport. Returns 1 when none is
 * left (and, once the end was asked for, the FIN is queued), 0 while a
 * write is in flight, -1 when the connection is closing.
 */
static int flush(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  for (;;) {
    struct iovec iov[FB__MAX_IOV];
    uv_buf_t bufs[FB__MAX_IOV];
    int n, rc;

    if (c->t.closing)
      return -1;
    if (t->sending > 0)
      return 0;
    if (t->tls == NULL || fb_tls_out_pending(t->tls) == 0) {
      if (t->shut && !t->tcp_shut) {
        t->tcp_shut = 1;
        fb__tcp_shutdown(c);
      }
      return 1;
    }
    n = fb_tls_out_iov(t->tls, 0, iov, FB__MAX_IOV);
    for (int i = 0; i < n; i++) {
      bufs[i] = uv_buf_init(iov[i].iov_base, (unsigned)iov[i].iov_len);
      t->sending += iov[i].iov_len;
    }
    rc = fb__tcp_write(c, bufs, (unsigned)n);
    if (rc <= 0)
      return rc;
    fb_tls_out_consume(t->tls, t->sending);
    t->sending = 0;
  }
}

/* Encrypts what HTTP wrote, as far as the layer's output bound lets it,
 * and flushes. Returns as flush, 1 meaning all of it is out.
 */
static int send_plain(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  for (;;) {
    int rc;

    while (t->iplain < t->nplain) {
      const uv_buf_t *b = &t->plain[t->iplain];
      ssize_t n;

      if (t->off == b->len) {
        t->iplain++;
        t->off = 0;
        continue;
      }
      n = fb_tls_write(t->tls, b->base + t->off, b->len - t->off);
      if (n == 0)
        break; /* the pending ciphertext is at its bound */
      if (n < 0) {
        fb__tcp_close(c);
        return -1;
      }
      t->off += (size_t)n;
    }
    rc = flush(c);
    if (rc <= 0 || t->iplain == t->nplain)
      return rc;
  }
}

/* --- Faults of the handshake ---------------------------------------------- */

static void on_stall_over(struct fb__conn *c) {
  fb__tcp_close(c);
}

/* The ClientHello was read and the server's flight is pending, unsent. */
static void play_fault(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;
  size_t pending = fb_tls_out_pending(t->tls);
  struct iovec iov[FB__MAX_IOV];
  uv_buf_t buf;
  int n, rc;

  leave_handshake(c, ST_OVER);
  switch (t->fault) {
  case FB_FAULT_TLS_GARBAGE:
    fb_tls_out_consume(t->tls, pending);
    buf = uv_buf_init((char *)garbage, sizeof(garbage) - 1);
    if (fb__tcp_write(c, &buf, 1) >= 0)
      fb__tcp_shutdown(c);
    break;
  case FB_FAULT_TLS_RESET:
    /* The first half of the flight (ServerHello and a little more),
     * then an RST.
     */
    n = fb_tls_out_iov(t->tls, 0, iov, 1);
    if (n < 1 || pending < 2) {
      fb__tcp_reset(c);
      break;
    }
    buf = uv_buf_init(iov[0].iov_base,
                      (unsigned)(iov[0].iov_len < pending / 2 ? iov[0].iov_len
                                                              : pending / 2));
    t->sending = buf.len;
    t->reset_after = 1;
    rc = fb__tcp_write(c, &buf, 1);
    if (rc == 1)
      fb__tcp_reset(c);
    break;
  case FB_FAULT_TLS_STALL:
  default:
    /* Nothing, until the client gives up or the idle timeout. */
    fb_tls_out_consume(t->tls, pending);
    fb__tcp_timer(c, c->o->cfg.idle_timeout_ms, on_stall_over);
    break;
  }
}

/* --- Ciphertext in -------------------------------------------------------- */

/* The connection failed in TLS (a client that speaks no TLS, a bad record,
 * a refused renegotiation gone wrong): the alert OpenSSL queued goes out,
 * then a FIN.
 */
static void fail(struct fb__conn *c) {
  c->tls->shut = 1;
  flush(c);
}

/* Drives the handshake. Returns 0 to go on, -1 when the connection is over
 * for this call (failed, faulted, closing).
 */
static int handshake(struct fb__conn *c) {
  struct fb__tlsserver *s = &c->o->tls;
  struct fb__tlsconn *t = c->tls;
  int rc = fb_tls_handshake(t->tls);
  const char *version;

  if (fb_fault_in_handshake(t->fault) && t->fault != FB_FAULT_TLS_WRONG_NAME &&
      t->fault != FB_FAULT_TLS_EXPIRED) {
    play_fault(c);
    return -1;
  }
  if (rc == -EAGAIN)
    return 0;
  if (rc < 0) {
    s->failed++;
    leave_handshake(c, ST_OVER);
    fail(c);
    return -1;
  }
  s->handshakes++;
  s->resumed += fb_tls_resumed(t->tls) != 0;
  version = fb_tls_version(t->tls);
  if (version != NULL && strcmp(version, "TLSv1.3") == 0)
    s->tls13++;
  else
    s->tls12++;
  leave_handshake(c, ST_OPEN);
  t->up->ready(c);
  return 0;
}

/* Plaintext up to HTTP, while it reads. */
static void read_plain(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;
  char *buf = c->o->tls.buf;

  while (!t->paused && !c->t.closing && t->state == ST_OPEN) {
    ssize_t n = fb_tls_read(t->tls, buf, FB__READ_BUF);

    if (n > 0) {
      t->up->data(c, buf, (size_t)n);
      continue;
    }
    if (n == -EAGAIN)
      return;
    if (n == 0 || n == FB_ETLSEOF) {
      /* close_notify, or an end without it: a client may leave that way
       * (HTTP knows where its requests end).
       */
      if (!t->eof_told) {
        t->eof_told = 1;
        t->up->eof(c);
      }
      return;
    }
    t->state = ST_OVER;
    fail(c);
    return;
  }
}

static void pump(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  if (t->pumping) {
    t->repump = 1; /* a layer above asked for more inside our call */
    return;
  }
  t->pumping = 1;
  do {
    t->repump = 0;
    if (t->state == ST_HANDSHAKE && handshake(c) < 0)
      break;
    read_plain(c);
    if (t->state == ST_OVER || flush(c) < 0)
      break;
  } while (t->repump);
  t->pumping = 0;
}

/* --- Events from the transport -------------------------------------------- */

static void tls_ready(struct fb__conn *c) {
  struct fb_origin *o = c->o;
  struct fb__tlsconn *t = c->tls;

  fb__tcp_timer(c, o->cfg.handshake_timeout_ms, on_handshake_timeout);
  if (o->tls.handshaking < o->cfg.max_handshakes) {
    begin(c);
    return;
  }
  /* Wait, unread: the kernel holds the ClientHello meanwhile. */
  fb__tcp_read_stop(c);
  t->state = ST_WAITING;
  t->wprev = o->tls.wait_tail;
  if (o->tls.wait_tail != NULL)
    o->tls.wait_tail->tls->wnext = c;
  else
    o->tls.wait_head = c;
  o->tls.wait_tail = c;
  o->tls.waiting++;
}

static void tls_data(struct fb__conn *c, const char *p, size_t n) {
  struct fb__tlsconn *t = c->tls;

  if (t->state != ST_HANDSHAKE && t->state != ST_OPEN)
    return; /* a fault played, or a failure: only the end is left */
  if (fb_tls_feed(t->tls, p, n) != 0) {
    fb__tcp_close(c);
    return;
  }
  pump(c);
}

static void tls_eof(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  if (t->state != ST_HANDSHAKE && t->state != ST_OPEN) {
    fb__tcp_close(c);
    return;
  }
  fb_tls_feed_eof(t->tls);
  pump(c);
}

static void tls_writable(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  if (t->sending > 0 && t->tls != NULL) {
    fb_tls_out_consume(t->tls, t->sending);
    t->sending = 0;
  }
  if (t->reset_after) {
    fb__tcp_reset(c);
    return;
  }
  if (t->state != ST_OPEN) {
    flush(c);
    return;
  }
  if (send_plain(c) == 1 && t->want_writable) {
    t->want_writable = 0;
    t->up->writable(c);
  }
}

static const struct fb__up tls_up = {
    .ready = tls_ready,
    .data = tls_data,
    .eof = tls_eof,
    .writable = tls_writable,
};

/* --- The stream HTTP writes to -------------------------------------------- */

static int tls_write(struct fb__conn *c, const uv_buf_t *bufs, unsigned n) {
  struct fb__tlsconn *t = c->tls;
  int rc;

  if (c->t.closing || t->state != ST_OPEN)
    return -1;
  if (n > FB__MAX_IOV)
    n = FB__MAX_IOV;
  memcpy(t->plain, bufs, n * sizeof(*bufs));
  t->nplain = n;
  t->iplain = 0;
  t->off = 0;
  for (unsigned i = 0; i < n; i++)
    c->o->stats.body_ssl_write += bufs[i].len;
  rc = send_plain(c);
  if (rc == 0)
    t->want_writable = 1;
  return rc;
}

static void tls_read_start(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  t->paused = 0;
  if (t->state != ST_OPEN)
    return;
  fb__tcp_read_start(c);
  pump(c); /* what the layer holds decrypted or undecrypted already */
}

static void tls_read_stop(struct fb__conn *c) {
  c->tls->paused = 1;
  fb__tcp_read_stop(c);
}

static void tls_shutdown(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  if (t->state == ST_OPEN)
    fb_tls_shutdown(t->tls);
  t->shut = 1;
  flush(c);
}

/* The end without close_notify: a truncation the client can tell only by
 * its absence.
 */
static void tls_cut(struct fb__conn *c) {
  c->tls->shut = 1;
  flush(c);
}

const struct fb__stream fb__tlsconn_stream = {
    .name = "tls",
    /* What the layer encrypts ahead: its output bound (64 KiB). */
    .max_slice = 64 << 10,
    .write = tls_write,
    .send = NULL,
    .sendfile = NULL,
    .read_start = tls_read_start,
    .read_stop = tls_read_stop,
    .shutdown = tls_shutdown,
    .cut = tls_cut,
    .reset = fb__tcp_reset,
    .close = fb__tcp_close,
};

/* --- Server names --------------------------------------------------------- */

/* The handshake fault whose name, dashes for underscores, is the first
 * label of name ("tls-stall.localhost"), or FB_FAULT_NONE.
 */
static enum fb_fault fault_of_name(const char *name) {
  size_t len = strcspn(name, ".");

  for (int f = FB_FAULT_NONE + 1; f < FB_FAULT_COUNT; f++) {
    const char *fname = fb_fault_name((enum fb_fault)f);
    size_t i;

    if (!fb_fault_in_handshake((enum fb_fault)f) || strlen(fname) != len)
      continue;
    for (i = 0; i < len; i++) {
      char want = fname[i] == '_' ? '-' : fname[i];
      if ((name[i] | 0x20) != want)
        break;
    }
    if (i == len)
      return (enum fb_fault)f;
  }
  return FB_FAULT_NONE;
}

const struct fb_tls_cert *fb__tlsconn_sni(void *arg, struct fb_tls *tls,
                                          const char *name) {
  struct fb_origin *o = arg;
  struct fb__conn *c = fb_tls_data(tls);
  enum fb_fault f;

  if (name == NULL || c == NULL)
    return NULL;
  f = fault_of_name(name);
  if (f == FB_FAULT_NONE)
    return NULL;
  c->tls->fault = f;
  o->tls.faults++;
  if (f == FB_FAULT_TLS_WRONG_NAME)
    return o->tls.other_name;
  if (f == FB_FAULT_TLS_EXPIRED)
    return o->tls.expired;
  return NULL;
}

/* --- Life ----------------------------------------------------------------- */

int fb__tlsconn_attach(struct fb__conn *c, const struct fb__up *up) {
  struct fb__tlsconn *t = calloc(1, sizeof(*t));

  if (t == NULL)
    return -ENOMEM;
  t->up = up;
  t->paused = 1; /* until HTTP, once established, reads */
  t->state = ST_WAITING;
  c->tls = t;
  c->t.up = &tls_up;
  c->stream = &fb__tlsconn_stream;
  return 0;
}

void fb__tlsconn_free(struct fb__conn *c) {
  struct fb__tlsconn *t = c->tls;

  if (t == NULL)
    return;
  if (t->state == ST_WAITING && (t->wprev != NULL || c->o->tls.wait_head == c))
    wait_unlink(c);
  else if (t->state == ST_HANDSHAKE)
    leave_handshake(c, ST_OVER);
  fb_tls_destroy(t->tls);
  free(t);
  c->tls = NULL;
}
