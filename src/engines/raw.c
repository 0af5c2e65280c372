#include <errno.h>
#include <stdalign.h>
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
 * The slots are refilled as async's are: in the loop's check phase, once
 * the iteration's reads have all been handled, at most REFILL_BURST at a
 * time (the rest on the next iteration), so that requests leave in a burst
 * and the first fill of a thousand slots sends requests while later
 * connections are still being opened. In an open loop (job->schedule) a
 * URL also waits for its due time: next_due() is the gate, with a timerfd
 * alarm for the next one (duetimer.h), as in async.
 *
 * Reads go into one buffer for the whole loop: libuv calls the alloc
 * callback right before each read and the read callback right after it,
 * and the core parses in place and keeps nothing of it, so no connection,
 * idle or busy, holds a read buffer of its own.
 */

#define RAW_MAX_WORKERS 10000u
#define CANCEL_CHECK_MS 20
#define REFILL_BURST 64u
#define READ_BUFFER (64u << 10)

#define OWNER(ptr, type, member)                                               \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* slot->tcp_state: the libuv handle, which outlives a connection by its
 * close callback.
 */
enum handle_state { H_NONE, H_CONNECTING, H_OPEN, H_CLOSING };

struct raw;

struct slot {
  struct fb_client_conn cc; /* first: 64-byte aligned */
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_timer_t timer;
  struct raw *r;
  struct slot *next_free;
  int64_t armed;   /* deadline the timer is set for; INT64_MAX: none */
  size_t send_len; /* bytes of the write in flight */
  const struct sockaddr *wait_addr; /* a CONNECT waiting for the close */
  uint8_t tcp_state;
  uint8_t busy;
  uint8_t timer_ready;
};

struct raw {
  uv_loop_t loop;
  uv_timer_t watch; /* polls job->cancel */
  uv_check_t batch; /* refills once the poll phase has run its callbacks */
  uv_idle_t more;   /* refills on the next iteration, before it polls */
  struct fb__due_timer due; /* open loop: refills when the next URL is due */
  int due_ready;            /* due was initialised */
  unsigned handles;         /* of watch, batch and more, those initialised */
  unsigned closing;         /* close callbacks still to run */
  int loop_ready;

  const struct fb_job *job;
  struct fb_collector *c;
  struct fb_client *cl;
  struct slot *slots;
  unsigned nslots;
  struct slot *free;
  size_t n;    /* URLs */
  size_t next; /* next URL index to start */
  unsigned in_flight;
  unsigned budget; /* slots refill may still fill in this burst */
  int last_lap;    /* every URL started: idle connections were closed */
  char *rbuf;      /* the loop's one read buffer */

  int err;                  /* first failure of the machinery, 0: none */
  char why[FB_MESSAGE_MAX]; /* what failed, for the not_run results */
  int cancelled;            /* job->cancel seen */
  struct fb__raw_counters k;
};

static void drive(struct slot *s);

static int fail(struct raw *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the machinery's first failure and leaves the loop; run() then
 * accounts for every transfer in flight. Returns err.
 */
static int fail(struct raw *r, int err, const char *fmt, ...) {
  va_list ap;

  if (r->err == 0) {
    r->err = err;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof(r->why), fmt, ap);
    va_end(ap);
  }
  if (r->loop_ready)
    uv_stop(&r->loop);
  return err;
}

static int fail_uv(struct raw *r, const char *call, int rc) {
  return fail(r, rc == UV_ENOMEM ? -ENOMEM : FB_EUV, "%s: %s", call,
              uv_strerror(rc));
}

static int finished(const struct raw *r) {
  return r->next == r->n && r->in_flight == 0;
}

/* Whether any URL is left to start. */
static int next_ready(const struct raw *r) {
  return r->next < r->n;
}

/* The gate of the next URL: in a closed loop, always open; in an open
 * loop, open once the URL is due, and until then the alarm is set for it.
 */
static int next_due(struct raw *r) {
  int64_t at;
  int err;

  if (r->job->schedule == NULL)
    return 1;
  at = fb__engine_due_at(r->job, fb_collector_t0(r->c), r->next);
  if (at <= fb_clock_ns())
    return 1;
  err = fb__due_timer_arm(&r->due, at);
  if (err != 0)
    fail(r, FB_EUV, "timerfd_settime: %s", strerror(-err));
  return 0;
}

static void put(struct raw *r, const struct fb_result *res) {
  /* A refused put is counted by the collector and fails the run's check;
   * -ENOMEM only drops the message copy.
   */
  (void)fb_collector_put(r->c, res);
}

static void release(struct raw *r, struct slot *s) {
  s->busy = 0;
  s->next_free = r->free;
  r->free = s;
  r->in_flight--;
}

static void on_tcp_closed(uv_handle_t *h);

/* Closes the slot's handle. A CONNECT waiting for the previous handle's
 * close is dropped with it: the core has given that connection up too.
 */
static void tcp_close(struct slot *s) {
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
    fb_client_received(&s->cc, buf->base, (size_t)nread, fb_clock_ns());
  } else {
    fb_client_eof(&s->cc, nread == UV_EOF ? eof_error(s) : (int)nread,
                  fb_clock_ns());
  }
  drive(s);
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
      tcp_close(s);
      status = rc;
    }
  } else {
    tcp_close(s);
  }
  fb_client_connected(&s->cc, status, fb_clock_ns());
  drive(s);
}

/* Starts a connection on the slot's handle, or, while the last one is
 * still closing, leaves it to the close callback. A connect libuv refuses
 * at once (out of descriptors: it creates the socket here) is reported to
 * the core as a failed connect.
 */
static void tcp_connect(struct slot *s, const struct sockaddr *addr) {
  int rc;

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
    tcp_close(s);
    fb_client_connected(&s->cc, rc, fb_clock_ns());
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
    tcp_connect(s, addr);
    drive(s);
  }
}

static void on_write(uv_write_t *req, int status) {
  struct slot *s = OWNER(req, struct slot, write);

  if (s->tcp_state != H_OPEN)
    return;
  fb_client_sent(&s->cc, status == 0 ? (long)s->send_len : status,
                 fb_clock_ns());
  drive(s);
}

static void tcp_send(struct slot *s, const struct fb_client_action *act) {
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
    fb_client_sent(&s->cc, rc, fb_clock_ns());
}

static void on_timer(uv_timer_t *h) {
  struct slot *s = OWNER(h, struct slot, timer);

  s->armed = INT64_MAX;
  s->r->k.timer_fires++;
  fb_client_timer(&s->cc, fb_clock_ns());
  drive(s);
}

/* Sets the slot's timer to the core's next deadline when it moved. libuv
 * counts timers in whole milliseconds from the loop's cached time: the
 * time is updated first, the wait rounded up, and a timer that still fires
 * early finds the core with nothing to do and is set again.
 */
static void arm(struct slot *s) {
  int64_t d = fb_client_deadline(&s->cc);
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

static void on_batch(uv_check_t *h);

static void done(struct slot *s) {
  struct raw *r = s->r;
  struct fb_result res;

  fb_client_result(&s->cc, &res);
  put(r, &res);
  release(r, s);
  /* Every URL has started: a connection coming free is never used again.
   * Closed now, while other transfers still wait for their answers, not
   * all at once after the last one.
   */
  if (!next_ready(r))
    fb_client_release(&s->cc);
  if (finished(r))
    uv_stop(&r->loop);
  else if (next_ready(r) && !r->cancelled)
    (void)uv_check_start(&r->batch, on_batch); /* always 0 */
}

/* Does what the core asks of slot s until it waits. */
static void drive(struct slot *s) {
  struct fb_client_action act;

  for (;;) {
    switch (fb_client_next(&s->cc, &act)) {
    case FB_CLIENT_WAIT:
      arm(s);
      return;
    case FB_CLIENT_CLOSE:
      tcp_close(s);
      break;
    case FB_CLIENT_CONNECT:
      tcp_connect(s, act.addr);
      break;
    case FB_CLIENT_SEND:
      tcp_send(s, &act);
      break;
    case FB_CLIENT_DONE:
      done(s);
      break;
    }
  }
}

static void on_more(uv_idle_t *h);

/* Starts URLs on free slots until none is left or ready, at most
 * REFILL_BURST per loop iteration (see the top of the file).
 */
static void refill(struct raw *r) {
  while (r->free != NULL && next_ready(r)) {
    struct slot *s = r->free;
    size_t index;

    if (r->budget == 0) {
      /* An active idle handle also keeps the poll phase from blocking. */
      (void)uv_idle_start(&r->more, on_more); /* always 0 */
      break;
    }
    if (fb_job_cancelled(r->job)) {
      r->cancelled = 1;
      uv_stop(&r->loop);
      return;
    }
    if (!next_due(r))
      break;
    r->free = s->next_free;
    s->busy = 1;
    r->in_flight++;
    r->budget--;
    index = r->next++;
    if (r->in_flight > r->k.max_in_flight)
      r->k.max_in_flight = r->in_flight;
    FB__TEST_BEFORE_REQUEST(index);
    fb_client_start(&s->cc, index, fb_clock_ns());
    drive(s);
  }
  /* Every URL has started: the idle slots' connections are closed now,
   * while the last transfers run (those close theirs as they end, done()).
   */
  if (!next_ready(r) && !r->last_lap) {
    r->last_lap = 1;
    for (struct slot *s = r->free; s != NULL; s = s->next_free) {
      fb_client_release(&s->cc);
      drive(s);
    }
  }
  if (finished(r))
    uv_stop(&r->loop);
}

static void on_batch(uv_check_t *h) {
  struct raw *r = OWNER(h, struct raw, batch);

  (void)uv_check_stop(h); /* always 0 */
  if (r->err != 0 || r->cancelled)
    return;
  r->k.refills++;
  r->budget = REFILL_BURST;
  refill(r);
}

static void on_more(uv_idle_t *h) {
  struct raw *r = OWNER(h, struct raw, more);

  (void)uv_idle_stop(h); /* always 0 */
  if (r->err != 0 || r->cancelled)
    return;
  r->k.refills++;
  r->budget = REFILL_BURST;
  refill(r);
}

static void on_due(struct fb__due_timer *t) {
  struct raw *r = OWNER(t, struct raw, due);

  if (r->err != 0 || r->cancelled)
    return;
  r->k.refills++;
  r->budget = REFILL_BURST;
  refill(r);
}

static void on_watch(uv_timer_t *h) {
  struct raw *r = OWNER(h, struct raw, watch);

  if (fb_job_cancelled(r->job)) {
    r->cancelled = 1;
    uv_stop(&r->loop);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  OWNER(h->loop, struct raw, loop)->closing--;
}

/* Descriptors the loop needs before any connection: epoll and, for the
 * process's first loop, libuv's signal pipe.
 */
#define LOOP_FDS 3u

static int setup(struct raw *r, const struct fb_job *job,
                 struct fb_collector *c) {
  char err[FB_MESSAGE_MAX];
  int rc;

  r->job = job;
  r->c = c;
  r->n = fb_urlset_count(job->urls);
  r->nslots = job->workers < r->n ? job->workers : (unsigned)r->n;

  /* libuv aborts the process when it cannot make its signal pipe. */
  rc = fb__engine_check_fds("raw", LOOP_FDS + 1, LOOP_FDS + r->nslots, err,
                            sizeof(err));
  if (rc != 0)
    return fail(r, rc, "%s", err);
  rc = fb_client_create(&r->cl, job, fb_collector_t0(c), err, sizeof(err));
  if (rc != 0)
    return fail(r, rc, "%s", err);
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

  r->rbuf = malloc(READ_BUFFER);
  r->slots = aligned_alloc(alignof(struct slot),
                           (size_t)r->nslots * sizeof(*r->slots));
  if (r->rbuf == NULL || r->slots == NULL)
    return fail(r, -ENOMEM, "out of memory");
  memset(r->slots, 0, (size_t)r->nslots * sizeof(*r->slots));
  for (unsigned i = r->nslots; i-- > 0;) {
    struct slot *s = &r->slots[i];

    fb_client_conn_init(&s->cc, r->cl, i);
    s->r = r;
    s->armed = INT64_MAX;
    (void)uv_timer_init(&r->loop, &s->timer);
    s->timer_ready = 1;
    s->next_free = r->free;
    r->free = s;
  }
  if (job->cancel != NULL) {
    rc = uv_timer_start(&r->watch, on_watch, CANCEL_CHECK_MS, CANCEL_CHECK_MS);
    if (rc != 0)
      return fail_uv(r, "uv_timer_start", rc);
  }
  r->budget = REFILL_BURST;
  return 0;
}

/* Accounts for the transfers still in flight when the loop stopped early:
 * each ends as cancelled (or lost, when the machinery broke), its
 * connection closed.
 */
static void abandon(struct raw *r) {
  const char *why = r->err != 0
                        ? (r->why[0] != '\0' ? r->why : fb_strerror(r->err))
                        : "run cancelled";

  for (unsigned i = 0; r->slots != NULL && i < r->nslots; i++) {
    struct slot *s = &r->slots[i];

    if (!s->busy)
      continue;
    fb_client_abort(&s->cc,
                    r->err != 0 ? FB_OUTCOME_LOST : FB_OUTCOME_CANCELLED, why,
                    fb_clock_ns());
    drive(s);
  }
}

static void close_handle(struct raw *r, uv_handle_t *h) {
  r->closing++;
  uv_close(h, on_handle_closed);
}

/* Closes every handle, runs the loop until their close callbacks ran, and
 * frees everything. Returns 0, or FB_EUV when the loop would not close.
 */
static int teardown(struct raw *r) {
  int err = 0;

  if (r->loop_ready) {
    for (unsigned i = 0; r->slots != NULL && i < r->nslots; i++) {
      struct slot *s = &r->slots[i];

      tcp_close(s);
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
    if (uv_loop_close(&r->loop) != 0)
      return FB_EUV; /* handles still point into r: leave it be */
    r->loop_ready = 0;
  }
  for (unsigned i = 0; r->slots != NULL && i < r->nslots; i++)
    fb_client_conn_cleanup(&r->slots[i].cc);
  free(r->slots);
  r->slots = NULL;
  free(r->rbuf);
  r->rbuf = NULL;
  fb_client_destroy(r->cl);
  r->cl = NULL;
  return err;
}

/* A test build hands the loop's counters to its hook (testhooks.h). */
static void publish_counters(struct raw *r) {
#ifdef FB_UNITTEST
  if (fb__test_hooks.raw_counters != NULL)
    *fb__test_hooks.raw_counters = r->k;
#else
  (void)r;
#endif
}

static int run(const struct fb_job *job, struct fb_collector *c) {
  struct fb_engine_stats *stats = fb_collector_stats(c);
  int64_t t = fb_clock_ns();
  struct raw *r;
  int err, terr;

  if (job->workers < 1 || job->workers > RAW_MAX_WORKERS)
    return fb__engine_finish(job, c, FB_ERANGE, NULL);
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return fb__engine_finish(job, c, -ENOMEM, NULL);
  err = setup(r, job, c);
  stats->setup_ns = fb_clock_ns() - t;
  if (err != 0)
    goto out;
  stats->workers_started = r->nslots;
  stats->workers_max = r->nslots;

  refill(r);
  if (r->err == 0 && !r->cancelled && !finished(r)) {
    /* Returns after uv_stop (done, cancelled or failed); returning 0 means
     * it ran out of handles with transfers unfinished, which the slots'
     * timers should make impossible.
     */
    if (uv_run(&r->loop, UV_RUN_DEFAULT) == 0 && !finished(r) &&
        !r->cancelled && r->err == 0)
      fail(r, FB_EUV, "the loop ran out of handles with transfers unfinished");
  }
  if (r->err == 0 && !finished(r) && fb_job_cancelled(job))
    r->cancelled = 1;

out:
  if (!finished(r) || r->err != 0)
    abandon(r);
  err = fb__engine_finish(job, c,
                          r->err != 0    ? r->err
                          : r->cancelled ? FB_ECANCELED
                                         : 0,
                          r->why);
  r->k.closes_in_run = r->k.closes;
  if (r->cl != NULL) {
    const struct fb_client_counters *ck = fb_client_counters(r->cl);

    r->k.connects = ck->connects;
    r->k.reuses = ck->reuses;
    r->k.retries = ck->retries;
    r->k.redirects = ck->redirects;
    r->k.idle_closes = ck->idle_closes;
    r->k.dns_lookups = fb_client_dns_lookups(r->cl);
  }
  terr = teardown(r);
  if (err == 0)
    err = terr;
  r->k.loop_closed = !r->loop_ready;
  publish_counters(r);
  if (!r->loop_ready)
    free(r);
  return err;
}

const struct fb_engine fb_engine_raw = {
    .name = "raw",
    .summary = "one libuv loop, one socket per slot, an HTTP/1.1 client core "
               "on llhttp (no libcurl)",
    .max_workers = RAW_MAX_WORKERS,
    .run = run,
};
