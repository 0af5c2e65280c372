/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "fetchbench/clock.h"
#include "origin/origin_int.h"

/* The transport: a connection's socket, reads, writes, timers, and the
 * emulated round trips. It knows nothing of what the bytes mean; the layer
 * above hears of them through c->t.up.
 */

#define DRAIN_MAX (1 << 20)

static void on_close(uv_handle_t *h) {
  struct fb__conn *c = h->data;

  if (--c->t.open_handles > 0)
    return;
  c->t.release(c);
}

/* Closes the connection; with rst, SO_LINGER {1, 0} first, so that the
 * peer gets an RST, not a FIN.
 */
static void close_with(struct fb__conn *c, int rst) {
  if (c->t.closing)
    return;
  c->t.closing = 1;
  fb__alarm_cancel(&c->o->alarms, &c->t.alarm);
  fb__alarm_cancel(&c->o->alarms, &c->t.hold);
  uv_close((uv_handle_t *)&c->t.timer, on_close);
  if (!rst || c->t.draining || uv_tcp_close_reset(&c->t.handle, on_close) != 0)
    uv_close((uv_handle_t *)&c->t.handle, on_close);
}

void fb__tcp_close(struct fb__conn *c) {
  close_with(c, 0);
}

void fb__tcp_reset(struct fb__conn *c) {
  close_with(c, 1);
}

void fb__tcp_discard(struct fb__conn *c) {
  c->t.closing = 1;
  c->t.open_handles = 1;
  uv_close((uv_handle_t *)&c->t.handle, on_close);
}

/* --- Timers --------------------------------------------------------------- */

static void on_timer(uv_timer_t *timer) {
  struct fb__conn *c = timer->data;

  c->t.tick(c);
}

static void on_alarm(struct fb__alarm *a) {
  struct fb__conn *c = FB__CONTAINER_OF(a, struct fb__conn, t.alarm);

  c->t.tick(c);
}

void fb__tcp_timer(struct fb__conn *c, uint64_t ms,
                   void (*tick)(struct fb__conn *c)) {
  c->t.tick = tick;
  fb__alarm_cancel(&c->o->alarms, &c->t.alarm);
  uv_timer_start(&c->t.timer, on_timer, ms, 0);
}

void fb__tcp_at(struct fb__conn *c, int64_t due_ns,
                void (*tick)(struct fb__conn *c)) {
  int64_t wait;

  c->t.tick = tick;
  uv_timer_stop(&c->t.timer);
  if (fb__alarm_set(&c->o->alarms, &c->t.alarm, due_ns) == 0)
    return;
  /* No alarm clock: late by up to a millisecond or so, never early. */
  wait = due_ns - fb_clock_ns();
  uv_timer_start(&c->t.timer, on_timer,
                 wait > 0 ? (uint64_t)(wait / FB_NS_PER_MS) + 1 : 0, 0);
}

/* --- Reading -------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct fb__conn *c = h->data;

  /* One buffer for every connection: each read is consumed (parsed, or
   * copied) before the callback returns.
   */
  *buf = uv_buf_init(c->o->rbuf, FB__READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct fb__conn *c = s->data;

  if (nread == 0 || c->t.closing)
    return;
  if (nread < 0) {
    fb__tcp_read_stop(c);
    c->t.eof = 1;
    if (nread != UV_EOF || c->t.draining)
      fb__tcp_close(c);
    else
      c->t.up->eof(c);
    return;
  }
  if (c->t.draining) {
    c->t.drained += (size_t)nread;
    if (c->t.drained > DRAIN_MAX)
      fb__tcp_close(c);
    return;
  }
  /* A flight of the client's: what we send next answers it, unless an
   * answer is still going out (the client pipelines).
   */
  if (!c->t.writing) {
    c->t.flight = 1;
    c->t.flight_ns = 0;
  }
  if (c->t.first_in_ns == 0)
    c->t.first_in_ns = fb_clock_ns();
  c->t.up->data(c, buf->base, (size_t)nread);
}

void fb__tcp_read_start(struct fb__conn *c) {
  if (!c->t.reading && !c->t.closing && !c->t.eof &&
      uv_read_start((uv_stream_t *)&c->t.handle, on_alloc, on_read) == 0)
    c->t.reading = 1;
}

void fb__tcp_read_stop(struct fb__conn *c) {
  if (c->t.reading) {
    uv_read_stop((uv_stream_t *)&c->t.handle);
    c->t.reading = 0;
  }
}

/* --- Round trips ---------------------------------------------------------- */

void fb__tcp_set_rtt(struct fb__conn *c, int64_t rtt_ns) {
  c->t.rtt_ns = rtt_ns > 0 ? rtt_ns : 0;
}

void fb__tcp_flight(struct fb__conn *c) {
  c->t.flight = 1;
  c->t.flight_ns = fb_clock_ns();
}

/* Whether what is written now must wait for its flight's release time.
 * The first write after the client's bytes starts a flight: it leaves one
 * round trip later (the client's bytes travelling here and the answer
 * back), plus, for the first flight of the connection, the round trip of
 * the TCP handshake that the loopback did at once, less the time the
 * client let pass before it sent anything. Later writes of the flight wait
 * for the same time.
 */
static int held(struct fb__conn *c) {
  struct fb__tcp *t = &c->t;
  int first = !t->sent;
  int64_t now;

  t->sent = 1;
  if (t->flight) {
    t->flight = 0;
    if (t->rtt_ns > 0) {
      /* From when the flight began: its bytes may only get here once an
       * earlier flight has gone (a TLS 1.3 ticket before a delayed
       * answer).
       */
      now = t->flight_ns > 0 ? t->flight_ns : fb_clock_ns();
      t->flight_ns = 0;
      t->release_ns = now + t->rtt_ns;
      if (first && t->accepted_ns + t->rtt_ns > t->first_in_ns)
        t->release_ns += t->accepted_ns + t->rtt_ns - t->first_in_ns;
      return 1;
    }
  }
  if (t->release_ns == 0)
    return 0;
  if (fb_clock_ns() < t->release_ns)
    return 1;
  t->release_ns = 0;
  return 0;
}

/* --- Writing -------------------------------------------------------------- */

static void write_done(struct fb__conn *c) {
  c->t.writing = 0;
  if (c->t.want_shutdown) {
    c->t.want_shutdown = 0;
    fb__tcp_shutdown(c);
    return;
  }
  if (!c->t.draining)
    c->t.up->writable(c);
}

static void on_write(uv_write_t *req, int status) {
  struct fb__conn *c = req->data;

  if (c->t.closing)
    return;
  if (status < 0) {
    fb__tcp_close(c);
    return;
  }
  write_done(c);
}

static size_t total_of(const uv_buf_t *bufs, unsigned n) {
  size_t total = 0;

  for (unsigned i = 0; i < n; i++)
    total += bufs[i].len;
  return total;
}

/* Writes what the socket takes now and queues the rest in libuv, whose
 * queue holds the buffers, not copies of them.
 */
static int write_now(struct fb__conn *c, const uv_buf_t *bufs, unsigned n) {
  uv_buf_t rest[FB__MAX_IOV];
  size_t total = total_of(bufs, n), done;
  unsigned k = 0;
  int rc;

  rc = uv_try_write((uv_stream_t *)&c->t.handle, bufs, n);
  if (rc == UV_EAGAIN || rc == UV_ENOSYS)
    rc = 0;
  if (rc < 0) {
    fb__tcp_close(c);
    return -1;
  }
  if ((size_t)rc == total)
    return 1;
  done = (size_t)rc;
  for (unsigned i = 0; i < n; i++) {
    if (done >= bufs[i].len) {
      done -= bufs[i].len;
      continue;
    }
    rest[k++] =
        uv_buf_init(bufs[i].base + done, (unsigned)(bufs[i].len - done));
    done = 0;
  }
  c->t.wreq.data = c;
  rc = uv_write(&c->t.wreq, (uv_stream_t *)&c->t.handle, rest, k, on_write);
  if (rc < 0) {
    fb__tcp_close(c);
    return -1;
  }
  c->t.writing = 1;
  return 0;
}

static void on_release(struct fb__alarm *a) {
  struct fb__conn *c = FB__CONTAINER_OF(a, struct fb__conn, t.hold);
  int rc;

  c->t.held = 0;
  rc = write_now(c, c->t.held_bufs, c->t.nheld);
  c->t.nheld = 0;
  if (rc == 1)
    write_done(c);
}

int fb__tcp_write(struct fb__conn *c, const uv_buf_t *bufs, unsigned n) {
  if (c->t.closing)
    return -1;
  if (n > FB__MAX_IOV)
    n = FB__MAX_IOV;
  if (held(c)) {
    memcpy(c->t.held_bufs, bufs, n * sizeof(*bufs));
    c->t.nheld = n;
    c->t.held = 1;
    c->t.writing = 1;
    if (fb__alarm_set(&c->o->alarms, &c->t.hold, c->t.release_ns) == 0)
      return 0;
    /* No alarm clock: the flight goes now. */
    c->t.held = 0;
    c->t.writing = 0;
  }
  return write_now(c, bufs, n);
}

static ssize_t sent(struct fb__conn *c, ssize_t n) {
  if (n >= 0)
    return n;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return 0;
  fb__tcp_close(c);
  return -1;
}

static ssize_t tcp_send(struct fb__conn *c, const struct iovec *iov, int n,
                        int more) {
  struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};

  if (c->t.closing)
    return -1;
  if (held(c))
    return 0;
  return sent(c, sendmsg(c->t.fd, &mh,
                         MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0)));
}

static ssize_t tcp_sendfile(struct fb__conn *c, int in, int64_t off,
                            size_t len) {
  off_t o = (off_t)off;

  if (c->t.closing)
    return -1;
  if (held(c))
    return 0;
  return sent(c, sendfile(c->t.fd, in, &o, len));
}

size_t fb__tcp_queued(const struct fb__conn *c) {
  return uv_stream_get_write_queue_size((const uv_stream_t *)&c->t.handle);
}

/* --- Ending --------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct fb__conn *c = req->data;

  if (c->t.closing)
    return;
  if (status < 0 || c->t.eof)
    fb__tcp_close(c);
}

static void on_linger(struct fb__conn *c) {
  fb__tcp_close(c);
}

void fb__tcp_shutdown(struct fb__conn *c) {
  if (c->t.closing || c->t.draining)
    return;
  if (c->t.held) {
    /* libuv would send the FIN before the held flight. */
    c->t.want_shutdown = 1;
    return;
  }
  c->t.draining = 1;
  c->t.sreq.data = c;
  if (uv_shutdown(&c->t.sreq, (uv_stream_t *)&c->t.handle, on_shutdown) != 0) {
    fb__tcp_close(c);
    return;
  }
  fb__tcp_timer(c, FB__LINGER_MS, on_linger);
  fb__tcp_read_start(c);
}

/* --- Starting ------------------------------------------------------------- */

void fb__tcp_init(struct fb__conn *c, const struct fb__up *up,
                  void (*release)(struct fb__conn *c)) {
  uv_tcp_init(&c->o->loop, &c->t.handle);
  c->t.handle.data = c;
  c->t.up = up;
  c->t.release = release;
  c->t.alarm.fire = on_alarm;
  c->t.hold.fire = on_release;
}

int fb__tcp_start(struct fb__conn *c) {
  uv_os_fd_t fd;

  uv_timer_init(&c->o->loop, &c->t.timer);
  c->t.timer.data = c;
  c->t.open_handles = 2;
  if (uv_fileno((uv_handle_t *)&c->t.handle, &fd) != 0) {
    fb__tcp_close(c);
    return -EBADF;
  }
  c->t.fd = fd;
  c->t.accepted_ns = fb_clock_ns();
  c->t.rtt_ns = (int64_t)c->o->cfg.rtt_ms * FB_NS_PER_MS;
  uv_tcp_nodelay(&c->t.handle, 1);
  fb__tcp_read_start(c);
  if (!c->t.reading) {
    fb__tcp_close(c);
    return -EIO;
  }
  c->t.up->ready(c);
  return 0;
}

const struct fb__stream fb__tcp_stream = {
    .name = "tcp",
    .max_slice = 0,
    .write = fb__tcp_write,
    .send = tcp_send,
    .sendfile = tcp_sendfile,
    .read_start = fb__tcp_read_start,
    .read_stop = fb__tcp_read_stop,
    .shutdown = fb__tcp_shutdown,
    .cut = fb__tcp_shutdown,
    .reset = fb__tcp_reset,
    .close = fb__tcp_close,
};
