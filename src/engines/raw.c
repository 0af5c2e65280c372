/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "client/client.h"
#include "engines/duetimer.h"
#include "engines/engine_int.h"
#include "engines/slots.h"
#include "engines/testhooks.h"
#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/result.h"
#include "fetchbench/urlset.h"

/* One libuv loop, one uv_tcp_t per transfer slot, and the HTTP/1.1 client
 * core (src/client/) instead of libcurl: the model of async without the
 * library layer. The core says what to do (connect, send, close, done);
 * this file does it with libuv and tells the core what happened, with the
 * time it happened.
 *
 * The slots, their refill in bursts and the end of each request are
 * slots.h's, shared with uring: here they are refilled as async's are, in
 * the loop's check phase once the iteration's reads have all been handled
 * (the rest of a burst on the next iteration, through an idle handle). In
 * an open loop (job->schedule) a URL also waits for its due time, with a
 * timerfd alarm for the next one (duetimer.h), as in async.
 *
 * Reads go into one buffer for the whole loop: libuv calls the alloc
 * callback right before each read and the read callback right after it,
 * and the core parses in place and keeps nothing of it, so no connection,
 * idle or busy, holds a read buffer of its own.
 */

#define RAW_MAX_WORKERS 10000u
#define CANCEL_CHECK_MS 20
#define READ_BUFFER (64u << 10)

#define OWNER(ptr, type, member)                                               \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* slot->tcp_state: the libuv handle, which outlives a connection by its
 * close callback.
 */
enum handle_state { H_NONE, H_CONNECTING, H_OPEN, H_CLOSING };

struct raw;

struct slot {
  struct fb__slot base; /* first: 64-byte aligned */
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_timer_t timer;
  struct raw *r;
  int64_t armed;   /* deadline the timer is set for; INT64_MAX: none */
  size_t send_len; /* bytes of the write in flight */
  const struct sockaddr *wait_addr; /* a CONNECT waiting for the close */
  uint8_t tcp_state;
  uint8_t timer_ready;
};

struct raw {
  struct fb__slots p; /* first (slots.h) */
  uv_loop_t loop;
  uv_timer_t watch; /* polls job->cancel */
  uv_check_t batch; /* refills once the poll phase has run its callbacks */
  uv_idle_t more;   /* refills on the next iteration, before it polls */
  struct fb__due_timer due; /* open loop: refills when the next URL is due */
  int due_ready;            /* due was initialised */
  unsigned handles;         /* of watch, batch and more, those initialised */
  unsigned closing;         /* close callbacks still to run */
  int loop_ready;

  char *rbuf; /* the loop's one read buffer */
  struct fb__loop_counters k;
};

static struct slot *slot_at(struct raw *r, unsigned i) {
  return (struct slot *)(void *)fb__slots_at(&r->p, i);
}

static void on_stop(struct fb__slots *p) {
  struct raw *r = OWNER(p, struct raw, p);

  if (r->loop_ready)
    uv_stop(&r->loop);
}

static int fail_uv(struct raw *r, const char *call, int rc) {
  return fb__slots_fail(&r->p, rc == UV_ENOMEM ? -ENOMEM : FB_EUV, "%s: %s",
                        call, uv_strerror(rc));
}

static void on_tcp_closed(uv_handle_t *h);

/* Closes the slot's handle. A CONNECT waiting for the previous handle's
 * close is dropped with it: the core has given that connection up too.
 */
static void tcp_close(struct fb__slot *b) {
  struct slot *s = (struct slot *)(void *)b;

  s->wait_addr = NULL;
  if (s->tcp_state == H_NONE || s->tcp_state == H_CLOSING)
    return;
  s->tcp_state = H_CLOSING;
  s->r->closing++;
  s->r->k.closes++;
  uv_close((uv_handle_t *)&s->tcp, on_tcp_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct slot *s = h->data;

  (void)suggested;
  buf->base = s->r->rbuf;
  buf->len = READ_BUFFER;
}

/* The error pending on a socket that libuv reported at end of file, 0 for
 * a clean close. libuv 1.44 turns a hang-up seen right after a short read
 * into UV_EOF without reading again, so a reset that follows data (a body
 * cut by an RST) would pass for a close; the next recv, which libcurl
 * makes, would have said ECONNRESET, and so does the socket's error.
 */
static int eof_error(struct slot *s) {
  uv_os_fd_t fd;
  int e = 0;
  socklen_t len = sizeof(e);

  if (uv_fileno((uv_handle_t *)&s->tcp, &fd) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
    return 0;
  return -e;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  struct slot *s = stream->data;

  if (s->tcp_state != H_OPEN || nread == 0)
    return;
  if (nread > 0) {
    s->r->k.reads++;
    fb_client_received(&s->base.cc, buf->base, (size_t)nread, fb_clock_ns());
  } else {
    fb_client_eof(&s->base.cc, nread == UV_EOF ? eof_error(s) : (int)nread,
                  fb_clock_ns());
  }
  fb__slots_drive(&s->base);
}

static void on_connect(uv_connect_t *req, int status) {
  struct slot *s = OWNER(req, struct slot, connect);
  int rc;

  /* Closed meanwhile (timeout, cancel): the core has moved on. */
  if (s->tcp_state != H_CONNECTING)
    return;
  if (status == 0) {
    s->tcp_state = H_OPEN;
    rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (rc != 0) {
      tcp_close(&s->base);
      status = rc;
    }
  } else {
    tcp_close(&s->base);
  }
  fb_client_connected(&s->base.cc, status, fb_clock_ns());
  fb__slots_drive(&s->base);
}

/* Starts a connection on the slot's handle, or, while the last one is
 * still closing, leaves it to the close callback. A connect libuv refuses
 * at once (out of descriptors: it creates the socket here) is reported to
 * the core as a failed connect.
 */
static void tcp_connect(struct fb__slot *b, const struct sockaddr *addr,
                        socklen_t len) {
  struct slot *s = (struct slot *)(void *)b;
  int rc;

  (void)len; /* libuv takes it from the address's family */
  if (s->tcp_state == H_CLOSING) {
    s->wait_addr = addr;
    s->r->k.waited_connects++;
    return;
  }
  (void)uv_tcp_init(&s->r->loop, &s->tcp); /* cannot fail for AF_UNSPEC */
  s->tcp.data = s;
  s->tcp_state = H_CONNECTING;
  rc = uv_tcp_connect(&s->connect, &s->tcp, addr, on_connect);
  if (rc != 0) {
    tcp_close(&s->base);
    fb_client_connected(&s->base.cc, rc, fb_clock_ns());
    return;
  }
  /* As libcurl: requests are small and go out at once. */
  (void)uv_tcp_nodelay(&s->tcp, 1);
}

static void on_tcp_closed(uv_handle_t *h) {
  struct slot *s = OWNER(h, struct slot, tcp);
  const struct sockaddr *addr = s->wait_addr;

  s->r->closing--;
  s->tcp_state = H_NONE;
  s->wait_addr = NULL;
  if (addr != NULL) {
    tcp_connect(&s->base, addr, 0);
    fb__slots_drive(&s->base);
  }
}

static void on_write(uv_write_t *req, int status) {
  struct slot *s = OWNER(req, struct slot, write);

  if (s->tcp_state != H_OPEN)
    return;
  fb_client_sent(&s->base.cc, status == 0 ? (long)s->send_len : status,
                 fb_clock_ns());
  fb__slots_drive(&s->base);
}

static void tcp_send(struct fb__slot *b, const struct fb_client_action *act) {
  struct slot *s = (struct slot *)(void *)b;
  int rc;

  s->send_len = 0;
  for (int i = 0; i < act->iovcnt; i++)
    s->send_len += act->iov[i].iov_len;
  /* uv_buf_t is struct iovec on Unix (libuv says so); libuv copies the
   * array, the bytes stay with the core until the write callback.
   */
  rc = uv_write(&s->write, (uv_stream_t *)&s->tcp, (const uv_buf_t *)act->iov,
                (unsigned)act->iovcnt, on_write);
  if (rc != 0)
    fb_client_sent(&s->base.cc, rc, fb_clock_ns());
}

static void on_timer(uv_timer_t *h) {
  struct slot *s = OWNER(h, struct slot, timer);

  s->armed = INT64_MAX;
  s->r->k.timer_fires++;
  fb_client_timer(&s->base.cc, fb_clock_ns());
  fb__slots_drive(&s->base);
}

/* Sets the slot's timer to the core's next deadline when it moved. libuv
 * counts timers in whole milliseconds from the loop's cached time: the
 * time is updated first, the wait rounded up, and a timer that still fires
 * early finds the core with nothing to do and is set again.
 */
static void arm(struct fb__slot *b) {
  struct slot *s = (struct slot *)(void *)b;
  int64_t d = fb_client_deadline(&s->base.cc);
  int64_t wait;

  if (d == s->armed)
    return;
  s->armed = d;
  if (d == INT64_MAX) {
    (void)uv_timer_stop(&s->timer); /* always 0 */
    return;
  }
  uv_update_time(&s->r->loop);
  wait = (d - fb_clock_ns() + FB_NS_PER_MS - 1) / FB_NS_PER_MS;
  (void)uv_timer_start(&s->timer, on_timer, wait > 0 ? (uint64_t)wait : 0,
                       0); /* 0: the callback is set */
}

static void on_batch(uv_check_t *h) {
  (void)uv_check_stop(h); /* always 0 */
  fb__slots_burst(&OWNER(h, struct raw, batch)->p);
}

static void on_more(uv_idle_t *h) {
  (void)uv_idle_stop(h); /* always 0 */
  fb__slots_burst(&OWNER(h, struct raw, more)->p);
}

static void on_due(struct fb__due_timer *t) {
  fb__slots_burst(&OWNER(t, struct raw, due)->p);
}

static void refill_soon(struct fb__slots *p) {
  (void)uv_check_start(&OWNER(p, struct raw, p)->batch,
                       on_batch); /* always 0 */
}

/* An active idle handle also keeps the poll phase from blocking. */
static void refill_next(struct fb__slots *p) {
  (void)uv_idle_start(&OWNER(p, struct raw, p)->more, on_more); /* always 0 */
}

static int refill_at(struct fb__slots *p, int64_t at_ns) {
  return fb__due_timer_arm(&OWNER(p, struct raw, p)->due, at_ns);
}

static const struct fb__slots_ops raw_ops = {
    tcp_close, tcp_connect, tcp_send,    arm,
    on_stop,   refill_soon, refill_next, refill_at};

static void on_watch(uv_timer_t *h) {
  fb__slots_watch(&OWNER(h, struct raw, watch)->p);
}

static void on_handle_closed(uv_handle_t *h) {
  OWNER(h->loop, struct raw, loop)->closing--;
}

/* Descriptors the loop needs before any connection: epoll and, for the
 * process's first loop, libuv's signal pipe.
 */
#define LOOP_FDS 3u

static int setup(struct fb__slots *p, const struct fb_job *job,
                 struct fb_collector *c) {
  struct raw *r = OWNER(p, struct raw, p);
  int rc;

  /* libuv aborts the process when it cannot make its signal pipe: the
   * descriptors are checked before the loop exists.
   */
  rc = fb__slots_init(&r->p, &raw_ops, "raw", LOOP_FDS, sizeof(struct slot),
                      job, c, &r->k);
  if (rc != 0)
    return rc;
  rc = uv_loop_init(&r->loop);
  if (rc != 0)
    return fail_uv(r, "uv_loop_init", rc);
  r->loop_ready = 1;
  /* Initialising timer, check and idle handles cannot fail, but says so
   * with 0.
   */
  (void)uv_timer_init(&r->loop, &r->watch);
  r->handles++;
  (void)uv_check_init(&r->loop, &r->batch);
  r->handles++;
  (void)uv_idle_init(&r->loop, &r->more);
  r->handles++;
  if (job->schedule != NULL) {
    rc = fb__due_timer_init(&r->due, &r->loop, on_due);
    if (rc != 0)
      return fail_uv(r, "timerfd for the arrival schedule", rc);
    r->due_ready = 1;
  }
  for (unsigned i = 0; i < r->p.nslots; i++) {
    struct slot *s = slot_at(r, i);

    s->r = r;
    s->armed = INT64_MAX;
    (void)uv_timer_init(&r->loop, &s->timer);
    s->timer_ready = 1;
  }
  r->rbuf = malloc(READ_BUFFER);
  if (r->rbuf == NULL)
    return fb__slots_fail(&r->p, -ENOMEM, "out of memory");
  if (job->cancel != NULL) {
    rc = uv_timer_start(&r->watch, on_watch, CANCEL_CHECK_MS, CANCEL_CHECK_MS);
    if (rc != 0)
      return fail_uv(r, "uv_timer_start", rc);
  }
  return 0;
}

static void close_handle(struct raw *r, uv_handle_t *h) {
  r->closing++;
  uv_close(h, on_handle_closed);
}

/* Closes every handle, runs the loop until their close callbacks ran,
 * frees everything and hands the counters to a test build's hook. Returns
 * 0, or FB_EUV when the loop would not close.
 */
static int teardown(struct fb__slots *p) {
  struct raw *r = OWNER(p, struct raw, p);
  int err = 0;

  if (r->loop_ready) {
    for (unsigned i = 0; r->p.mem != NULL && i < r->p.nslots; i++) {
      struct slot *s = slot_at(r, i);

      tcp_close(&s->base);
      if (s->timer_ready)
        close_handle(r, (uv_handle_t *)&s->timer);
    }
    if (r->handles > 0)
      close_handle(r, (uv_handle_t *)&r->watch);
    if (r->handles > 1)
      close_handle(r, (uv_handle_t *)&r->batch);
    if (r->handles > 2)
      close_handle(r, (uv_handle_t *)&r->more);
    if (r->due_ready) {
      r->closing++;
      fb__due_timer_close(&r->due, on_handle_closed);
      r->due_ready = 0;
    }
    /* A uv_stop left over from the run makes the first uv_run return at
     * once, hence the second try.
     */
    for (int i = 0; i < 2 && r->closing != 0; i++)
      (void)uv_run(&r->loop, UV_RUN_DEFAULT);
    if (r->closing != 0 || uv_loop_alive(&r->loop))
      err = FB_EUV;
    if (uv_loop_close(&r->loop) != 0) {
      r->p.kept = 1; /* handles still point into r: leave it be */
      err = FB_EUV;
      goto out;
    }
    r->loop_ready = 0;
  }
  fb__slots_cleanup(&r->p);
  free(r->rbuf);
  r->rbuf = NULL;
out:
  r->k.loop_closed = !r->p.kept;
#ifdef FB_UNITTEST
  if (fb__test_hooks.raw_counters != NULL)
    *fb__test_hooks.raw_counters = r->k;
#endif
  return err;
}

static const struct fb__slots_engine raw_engine = {
    RAW_MAX_WORKERS, sizeof(struct raw), setup, teardown};

/* uv_run returns after uv_stop (done, cancelled or failed); returning 0
 * means it ran out of handles with transfers unfinished, which the slots'
 * timers should make impossible.
 */
static int run(const struct fb_job *job, struct fb_collector *c) {
  struct fb__slots *p;
  int rc = fb__slots_begin(&raw_engine, job, c, &p);

  if (rc > 0 && uv_run(&OWNER(p, struct raw, p)->loop, UV_RUN_DEFAULT) == 0 &&
      fb__slots_running(p))
    fb__slots_fail(p, FB_EUV,
                   "the loop ran out of handles with transfers unfinished");
  return rc < 0 ? rc : fb__slots_finish(&raw_engine, p);
}

const struct fb_engine fb_engine_raw = {
    .name = "raw",
    .summary = "one libuv loop, one socket per slot, an HTTP/1.1 client core "
               "on llhttp (no libcurl)",
    .max_workers = RAW_MAX_WORKERS,
    .run = run,
};
