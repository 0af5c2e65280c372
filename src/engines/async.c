/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <uv.h>

#include "engines/duetimer.h"
#include "engines/engine_int.h"
#include "engines/fetch.h"
#include "engines/polltab.h"
#include "engines/testhooks.h"
#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/result.h"
#include "fetchbench/urlset.h"

/* One libuv loop drives libcurl's multi interface through
 * curl_multi_socket_action: CURLMOPT_SOCKETFUNCTION maps to one uv_poll_t
 * per fd (polltab.h), CURLMOPT_TIMERFUNCTION to a uv_timer_t (and, for a
 * timeout of 0, a uv_idle_t). libcurl is only ever called from the top of a
 * libuv callback, never from inside one of libcurl's own callbacks, so no
 * multi call is re-entrant: the socket and timer callbacks only start and
 * stop libuv handles, and finished transfers are collected after every
 * curl_multi_socket_action, new ones added in the loop's check phase (a
 * uv_check_t), once the iteration's socket actions have all returned.
 *
 * The transfer slots are spread over shards of at most SHARD_XFERS, each
 * with its own multi handle (and so its own connection cache), timer and
 * idle handle, all on the one loop. libcurl 7.88 looks for a reusable
 * connection by walking every connection to the host in the multi's cache,
 * and curl_multi_remove_handle walks the whole cache again: with one multi
 * at 1,000 in flight these two walks took a quarter of the client's CPU
 * (perf, small pages at 100 ms). A slot stays in its shard, so a keep-alive
 * connection stays with the slots that can reuse it.
 */

#define ASYNC_MAX_WORKERS 10000u
#define CANCEL_CHECK_MS 20
#define SHARD_XFERS 64u
#define REFILL_BURST 64u

#define OWNER(ptr, type, member)                                               \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct async;

/* One multi handle and what drives its timeout. */
struct shard {
  CURLM *multi;
  uv_timer_t timer; /* libcurl's timeout when over 0 ms */
  uv_idle_t kick;   /* libcurl's timeout of 0 ms: the next iteration */
  unsigned handles; /* of timer and kick, those initialised */
  struct async *a;
};

/* A transfer slot; fetch.h's struct needs 64-byte alignment (its hash
 * state), hence aligned_alloc for the pool.
 */
struct xfer {
  struct fb_fetch f;
  struct shard *shard;
  struct xfer *next_free;
  int busy;
};

struct async {
  uv_loop_t loop;
  uv_timer_t watch; /* polls job->cancel */
  uv_check_t batch; /* refills once the poll phase has run its callbacks */
  uv_idle_t more;   /* refills on the next iteration, before it polls */
  struct fb__due_timer due; /* open loop: refills when the next URL is due */
  int due_ready;            /* due was initialised */
  unsigned handles;         /* of watch, batch and more, those initialised */
  unsigned closing;         /* close callbacks still to run */
  int loop_ready;
  struct fb__polltab polls;
  struct fb_fetch_share share; /* TLS sessions of every slot and shard */

  struct shard *shards;
  unsigned nshards;
  const struct fb_job *job;
  struct fb_collector *c;
  struct xfer *xfers;
  unsigned nxfers;
  struct xfer *free;
  size_t n;    /* URLs */
  size_t next; /* next URL index to start */
  unsigned in_flight;

  int err;                  /* first failure of the machinery, 0: none */
  char why[FB_MESSAGE_MAX]; /* what failed, for the not_run results */
  int cancelled;            /* job->cancel seen */
  int last_lap;             /* every URL started: connections are not kept */
  unsigned budget;          /* transfers refill may still start in this burst */
  struct fb__async_counters k;
};

static void on_poll(uv_poll_t *h, int status, int events);
static void on_more(uv_idle_t *h);

/* Records the machinery's first failure, with what failed, and leaves the
 * loop; run() then accounts for every transfer still in flight. Returns err.
 */
static int fail(struct async *a, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct async *a, int err, const char *fmt, ...) {
  va_list ap;

  if (a->err == 0) {
    a->err = err;
    va_start(ap, fmt);
    vsnprintf(a->why, sizeof(a->why), fmt, ap);
    va_end(ap);
  }
  if (a->loop_ready)
    uv_stop(&a->loop);
  return err;
}

/* The same for a libuv call that returned rc. */
static int fail_uv(struct async *a, const char *call, int rc) {
  return fail(a, rc == UV_ENOMEM ? -ENOMEM : FB_EUV, "%s: %s%s", call,
              uv_strerror(rc),
              rc == UV_EMFILE || rc == UV_ENFILE ? " (open-files limit)" : "");
}

/* The same for a libcurl multi call. */
static int fail_multi(struct async *a, const char *call, CURLMcode mc) {
  return fail(a, mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : FB_ECURL, "%s: %s", call,
              curl_multi_strerror(mc));
}

static int finished(const struct async *a) {
  return a->next == a->n && a->in_flight == 0;
}

static void release(struct async *a, struct xfer *x) {
  x->busy = 0;
  x->next_free = a->free;
  a->free = x;
  a->in_flight--;
}

static void put(struct async *a, const struct fb_result *r) {
  /* A refused put is counted by the collector and fails the run's check;
   * -ENOMEM only drops the message copy.
   */
  (void)fb_collector_put(a->c, r);
}

/* Collects every finished transfer. After a timeout-driven action the last
 * DONE message may be the only sign that a transfer ended, so the queue is
 * read to its end every time.
 */
static void drain(struct shard *s) {
  struct async *a = s->a;
  struct fb_result r;
  CURLMcode mc;
  CURLMsg *msg;
  int left;

  while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
    CURL *easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    char *priv = NULL;
    struct xfer *x;

    if (msg->msg != CURLMSG_DONE)
      continue;
    /* msg is invalid once its handle is removed: copied above. */
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
        priv == NULL) {
      fail(a, FB_ECURL, "a finished transfer without its slot");
      return;
    }
    x = OWNER(priv, struct xfer, f);
    mc = curl_multi_remove_handle(s->multi, easy);
    if (mc != CURLM_OK) {
      fail_multi(a, "curl_multi_remove_handle", mc);
      return;
    }
    fb__fetch_finish(&x->f, code, &r);
    put(a, &r);
    release(a, x);
  }
}

/* Once every URL has been started, a connection coming free will never be
 * used again: the transfers still in flight close theirs as they end, while
 * the others still wait for their answers, rather than all of them at
 * teardown after the last answer (30 ms for 1,000 connections here, the
 * origin's side of each close included; 24 ms less wall time). With one
 * shard's worth of connections or fewer, teardown is too short to matter
 * (1.5 ms for 64), and idle connections stay with libcurl to the end as
 * usual. FORBID_REUSE is only read when a transfer ends, so setting it on
 * one in flight is what it is meant for.
 */
static void last_lap(struct async *a) {
  a->last_lap = 1;
  for (unsigned i = 0; i < a->nxfers; i++) {
    if (!a->xfers[i].busy)
      continue;
    if (curl_easy_setopt(a->xfers[i].f.easy, CURLOPT_FORBID_REUSE, 1L) !=
        CURLE_OK) {
      fail(a, FB_ECURL, "curl_easy_setopt(CURLOPT_FORBID_REUSE) failed");
      return;
    }
    a->k.last_lap++;
  }
}

/* Starts transfers until `workers` are in flight, at most REFILL_BURST at a
 * time, the rest on the next loop iteration. The first fill of 1,000 slots
 * would otherwise open every connection before the loop polls once, so
 * before the first request leaves (libcurl sends it when the loop reports
 * the socket writable): the requests reached the origin in one burst 60 ms
 * after the start, and their answers came back in a burst the origin and the
 * client took another 40 ms to get through. In bursts of 64, requests leave
 * while further connections are being opened: 40 ms less wall time (10,000
 * small pages at 100 ms, 1,000 in flight, 1.19 s -> 1.15 s). Only called
 * when no multi call is on the stack.
 */
static void refill(struct async *a) {
  while (a->free != NULL && a->next < a->n) {
    struct xfer *x = a->free;
    CURLMcode mc;
    int err;

    if (a->budget == 0) {
      /* An active idle handle also keeps the poll phase from blocking. */
      (void)uv_idle_start(&a->more, on_more); /* always 0 */
      break;
    }
    if (fb_job_cancelled(a->job)) {
      a->cancelled = 1;
      uv_stop(&a->loop);
      return;
    }
    /* Open loop: the next URL waits for its due time, on the alarm. */
    if (a->job->schedule != NULL) {
      int64_t at = fb__engine_due_at(a->job, fb_collector_t0(a->c), a->next);

      if (at > fb_clock_ns()) {
        err = fb__due_timer_arm(&a->due, at);
        if (err != 0)
          fail(a, FB_EUV, "timerfd_settime: %s", strerror(-err));
        break;
      }
    }
    err = fb__fetch_start(&x->f, a->next);
    if (err != 0) {
      fail(a, err, "%s", x->f.errbuf);
      return;
    }
    /* add_handle asks, through the timer callback, for a 0 ms timeout:
     * the transfer really starts on the next loop iteration.
     */
    mc = curl_multi_add_handle(x->shard->multi, x->f.easy);
    if (mc != CURLM_OK) {
      fail_multi(a, "curl_multi_add_handle", mc);
      return;
    }
    a->free = x->next_free;
    x->busy = 1;
    a->next++;
    a->in_flight++;
    a->budget--;
  }
  if (a->in_flight > a->k.max_in_flight)
    a->k.max_in_flight = a->in_flight;
  if (a->next == a->n && !a->last_lap && a->nshards > 1 &&
      a->job->connection == FB_CONN_REUSE)
    last_lap(a);
  if (finished(a))
    uv_stop(&a->loop);
}

static void on_due(struct fb__due_timer *t) {
  struct async *a = OWNER(t, struct async, due);

  if (a->err != 0 || a->cancelled || a->shards == NULL)
    return;
  a->k.refills++;
  a->budget = REFILL_BURST;
  refill(a);
}

static void on_batch(uv_check_t *h) {
  struct async *a = OWNER(h, struct async, batch);

  (void)uv_check_stop(h); /* always 0 */
  /* A later callback of the same iteration may have stopped the run. */
  if (a->err != 0 || a->cancelled || a->shards == NULL)
    return;
  a->k.refills++;
  a->budget = REFILL_BURST;
  refill(a);
}

static void on_more(uv_idle_t *h) {
  struct async *a = OWNER(h, struct async, more);

  (void)uv_idle_stop(h); /* always 0 */
  if (a->err != 0 || a->cancelled || a->shards == NULL)
    return;
  a->k.refills++;
  a->budget = REFILL_BURST;
  refill(a);
}

/* One socket action, then what may only follow it: results, and new
 * transfers. From a poll callback, new transfers wait until every socket
 * ready in this iteration had its action: added right away, they would be
 * started by the next socket's action, one request between every two
 * responses read, each waking the server up again (measured: 4 times the
 * server's context switches, 15% more client CPU per page). Added together in
 * the check phase, one timeout action on the next iteration starts them all
 * and their requests leave in a burst, as in a curl_multi_perform loop.
 * Timer and idle callbacks run before the poll phase, which may block: they
 * refill at once.
 */
static void action(struct shard *s, curl_socket_t fd, int flags, int batch) {
  struct async *a = s->a;
  CURLMcode mc;
  int running;

  a->k.actions++;
  mc = curl_multi_socket_action(s->multi, fd, flags, &running);
  if (mc != CURLM_OK) {
    fail_multi(a, "curl_multi_socket_action", mc);
    return;
  }
  drain(s);
  if (a->err != 0)
    return;
  if (!batch)
    refill(a);
  else if (finished(a))
    uv_stop(&a->loop);
  else if (a->free != NULL && a->next < a->n)
    (void)uv_check_start(&a->batch, on_batch); /* always 0 */
}

static struct async *loop_owner(uv_handle_t *h) {
  return OWNER(h->loop, struct async, loop);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct fb__poll *p = OWNER(h, struct fb__poll, handle);
  struct async *a = loop_owner((uv_handle_t *)h);
  int flags = 0;
  int err;

  a->k.poll_events++;
  if (status < 0)
    fb__poll_stopped(p); /* libuv did it before calling us */
  if (p->want == 0) {
    /* A socket libcurl let go of (see on_socket) says something: a
     * keep-alive connection the server closed, say. Nobody waits for it;
     * libcurl finds out by itself if it ever reuses the connection.
     */
    a->k.idle_events++;
    fb__poll_stop(&a->polls, p);
    return;
  }
  if (status < 0) {
    /* libuv reports POLLERR as an error status and drops which events were
     * ready. curl_easy_perform's own poll() would have seen the socket
     * readable (POLLERR and POLLHUP count as readable there) and read the
     * error; CURL_CSELECT_ERR alone makes libcurl fail the transfer with
     * "select/poll returned error" instead, without retrying a keep-alive
     * connection the server had closed. So the error goes to libcurl
     * together with the events it was waiting for.
     */
    a->k.poll_errors++;
    flags = CURL_CSELECT_ERR;
    if (p->want & UV_READABLE)
      flags |= CURL_CSELECT_IN;
    if (p->want & UV_WRITABLE)
      flags |= CURL_CSELECT_OUT;
  } else {
    if (events & UV_READABLE)
      flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
      flags |= CURL_CSELECT_OUT;
  }
  action(p->owner, p->fd, flags, 1);
  /* libcurl only calls the socket callback when what it wants changes: if it
   * still wants this socket after the error, poll it again ourselves.
   */
  if (status < 0 && p->want != 0 && p->active == 0) {
    err = fb__poll_set(&a->polls, p, p->want, on_poll);
    if (err != 0)
      fail_uv(a, "uv_poll_start", err);
  }
}

/* CURLMOPT_SOCKETFUNCTION. CURL_POLL_REMOVE is taken lazily for libcurl's
 * connection sockets: they stay polled, because libcurl removes a keep-alive
 * connection's socket at the end of every transfer and adds it back for the
 * next one, and each uv_poll_stop / uv_poll_start pair costs three
 * epoll_ctl calls (libuv 1.44's uv_poll_start begins with a stop). Polling
 * stops for real when an event arrives that nobody wants (on_poll), and
 * always before the fd is closed: libcurl opens these sockets through
 * on_sockopt (which marks them tracked) and closes them through
 * on_close_socket. Any other socket (the threaded resolver's socketpair,
 * which libcurl closes by itself) is stopped at CURL_POLL_REMOVE.
 */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp) {
  struct shard *s = userp;
  struct async *a = s->a;
  struct fb__poll *p = socketp;
  CURLMcode mc;
  int events = 0;
  int err;

  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (p != NULL) {
      p->want = 0;
      if (!p->tracked) {
        a->k.untracked_removes++;
        fb__poll_stop(&a->polls, p);
      }
    }
    return 0;
  }
  if (p == NULL) {
    /* New to libcurl's socket hash: a new socket, or a cached connection
     * coming back, whose slot may well be polling still.
     */
    err = fb__polltab_get(&a->polls, fd, &p);
    if (err != 0) {
      fail_uv(a, "uv_poll_init", err);
      return 0;
    }
    if (p->active != 0 && !p->tracked) {
      /* An untracked socket on this number was closed without a
       * CURL_POLL_REMOVE: libuv must forget its registration.
       */
      a->k.stale_sockets++;
      fb__poll_stop(&a->polls, p);
    }
    if (!p->tracked)
      a->k.untracked_sockets++;
    mc = curl_multi_assign(s->multi, fd, p);
    if (mc != CURLM_OK) {
      fail_multi(a, "curl_multi_assign", mc);
      return 0;
    }
  }
  p->owner = s;
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  p->want = events;
  err = fb__poll_set(&a->polls, p, events, on_poll);
  if (err != 0)
    fail_uv(a, "uv_poll_start", err);
  return 0;
}

/* CURLOPT_SOCKOPTFUNCTION: libcurl has just created a connection socket,
 * which it will close through on_close_socket. A slot still polling its fd
 * number means the previous socket was closed behind our back; libuv must
 * forget that registration before the new socket's.
 */
static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose) {
  struct async *a = clientp;
  struct fb__poll *p;

  (void)purpose;
  /* Without a slot (out of memory), the socket is simply not tracked, and
   * on_socket reports the failure when it cannot get one either.
   */
  if (fb__polltab_get(&a->polls, fd, &p) != 0)
    return CURL_SOCKOPT_OK;
  if (p->active != 0) {
    a->k.stale_sockets++;
    fb__poll_stop(&a->polls, p);
  }
  p->want = 0;
  p->tracked = 1;
  return CURL_SOCKOPT_OK;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the fd stops being polled, then closes. */
static int on_close_socket(void *clientp, curl_socket_t fd) {
  struct async *a = clientp;
  struct fb__poll *p = fb__polltab_find(&a->polls, fd);

  if (p != NULL) {
    p->want = 0;
    p->tracked = 0;
    fb__poll_stop(&a->polls, p);
  }
  a->k.closes++;
  return close(fd) == 0 ? 0 : 1;
}

static void on_kick(uv_idle_t *h) {
  struct shard *s = OWNER(h, struct shard, kick);

  (void)uv_idle_stop(h); /* always 0 */
  s->a->k.kicks++;
  action(s, CURL_SOCKET_TIMEOUT, 0, 0);
}

static void on_timer(uv_timer_t *h) {
  struct shard *s = OWNER(h, struct shard, timer);

  s->a->k.timer_fires++;
  action(s, CURL_SOCKET_TIMEOUT, 0, 0);
}

static int on_timeout(CURLM *multi, long ms, void *userp) {
  struct shard *s = userp;
  struct async *a = s->a;
  int err = 0;

  (void)multi;
  /* uv_timer_stop and uv_idle_stop always return 0. */
  if (ms < 0) {
    (void)uv_timer_stop(&s->timer);
    (void)uv_idle_stop(&s->kick);
  } else if (ms == 0) {
    /* "As soon as possible", which must not become 1 ms (a closed loop of
     * small requests would then wait a millisecond per request), nor a 0 ms
     * uv_timer: libuv 1.44 runs a timer re-armed from a timer callback in
     * the same pass, so libcurl could be driven over and over without the
     * loop polling any socket in between. An idle handle runs once in the
     * next iteration, and makes that iteration's poll not block.
     */
    a->k.zero_timeouts++;
    (void)uv_timer_stop(&s->timer);
    err = uv_idle_start(&s->kick, on_kick);
  } else {
    (void)uv_idle_stop(&s->kick);
    /* Timers count from the loop's cached time, which may be a whole
     * iteration old by now.
     */
    uv_update_time(&a->loop);
    err = uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
  }
  if (err != 0)
    fail_uv(a, "uv_timer_start", err);
  return 0;
}

static void on_watch(uv_timer_t *h) {
  struct async *a = loop_owner((uv_handle_t *)h);

  if (fb_job_cancelled(a->job)) {
    a->cancelled = 1;
    uv_stop(&a->loop);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  loop_owner(h)->closing--;
}

/* A shard's multi handle for `slots` transfer slots, and its timer and idle
 * handle on the loop.
 */
static int shard_init(struct async *a, struct shard *s, unsigned slots) {
  const char *failed = NULL;
  CURLMcode mc = CURLM_OK;

  s->a = a;
  /* Initialising timer and idle handles cannot fail, but says so with 0. */
  (void)uv_timer_init(&a->loop, &s->timer);
  s->handles++;
  (void)uv_idle_init(&a->loop, &s->kick);
  s->handles++;
  /* libcurl 7.88 makes a socketpair for curl_multi_wakeup here: out of
   * descriptors looks like out of memory.
   */
  s->multi = curl_multi_init();
  if (s->multi == NULL)
    return fail(a, -ENOMEM,
                "curl_multi_init failed (out of memory or descriptors, "
                "open-files limit %ld)",
                fb__fetch_nofile_limit());
#define MSETOPT(opt, val)                                                      \
  do {                                                                         \
    mc = curl_multi_setopt(s->multi, (opt), (val));                            \
    if (mc != CURLM_OK) {                                                      \
      failed = "curl_multi_setopt(" #opt ")";                                  \
      goto out;                                                                \
    }                                                                          \
  } while (0)
  MSETOPT(CURLMOPT_SOCKETFUNCTION, on_socket);
  MSETOPT(CURLMOPT_SOCKETDATA, s);
  MSETOPT(CURLMOPT_TIMERFUNCTION, on_timeout);
  MSETOPT(CURLMOPT_TIMERDATA, s);
  /* Keep-alive: one idle connection per transfer slot. libcurl's default,
   * four per easy handle *currently added*, shrinks as a run drains.
   * The total is capped to the same number: with one host it never binds
   * (a transfer is only added once another has given its connection back),
   * and with many hosts it keeps the open fds at `workers` instead of
   * workers in use plus as many idle ones, libcurl closing the oldest idle
   * connection to make room. Measured: no cost on the throughput bench.
   */
  MSETOPT(CURLMOPT_MAXCONNECTS, (long)slots);
  MSETOPT(CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)slots);
#undef MSETOPT
out:
  return failed != NULL ? fail_multi(a, failed, mc) : 0;
}

/* Descriptors the loop needs before any connection: epoll and, for the
 * process's first loop, libuv's signal pipe; per multi handle, libcurl's
 * wake-up socketpair.
 */
#define LOOP_FDS 3u
#define SHARD_FDS 2u

static int setup(struct async *a, const struct fb_job *job,
                 struct fb_collector *c) {
  char why[FB_MESSAGE_MAX];
  unsigned nshards;
  int err;

  a->job = job;
  a->c = c;
  a->n = fb_urlset_count(job->urls);
  a->nxfers = job->workers < a->n ? job->workers : (unsigned)a->n;
  nshards = (a->nxfers + SHARD_XFERS - 1) / SHARD_XFERS;
  if (nshards == 0)
    nshards = 1;

  /* libuv aborts the process when it cannot make its signal pipe. */
  err = fb__engine_check_fds("async", LOOP_FDS + SHARD_FDS * nshards + 1,
                             LOOP_FDS + SHARD_FDS * nshards + a->nxfers, why,
                             sizeof(why));
  if (err != 0)
    return fail(a, err, "%s", why);
  err = uv_loop_init(&a->loop);
  if (err != 0)
    return fail_uv(a, "uv_loop_init", err);
  a->loop_ready = 1;
  /* Initialising timer, check and idle handles cannot fail, but says so
   * with 0.
   */
  (void)uv_timer_init(&a->loop, &a->watch);
  a->handles++;
  (void)uv_check_init(&a->loop, &a->batch);
  a->handles++;
  (void)uv_idle_init(&a->loop, &a->more);
  a->handles++;
  fb__polltab_init(&a->polls, &a->loop);
  if (job->schedule != NULL) {
    err = fb__due_timer_init(&a->due, &a->loop, on_due);
    if (err != 0)
      return fail_uv(a, "timerfd for the arrival schedule", err);
    a->due_ready = 1;
  }

  a->budget = REFILL_BURST;
  a->shards = calloc(nshards, sizeof(*a->shards));
  if (a->shards == NULL)
    return fail(a, -ENOMEM, "out of memory");
  /* Slot i goes to shard i % nshards, so shards differ by one slot at most
   * and the first refill deals URLs round the shards.
   */
  for (unsigned i = 0; i < nshards; i++) {
    a->nshards++;
    err = shard_init(a, &a->shards[i],
                     a->nxfers / nshards + (i < a->nxfers % nshards));
    if (err != 0)
      return err;
  }
  a->k.shards = a->nshards;
  err = fb__fetch_share_init(&a->share, job, 0);
  if (err != 0)
    return fail(a, err, "curl_share_init failed");
  a->xfers = aligned_alloc(alignof(struct xfer), a->nxfers * sizeof(*a->xfers));
  if (a->xfers == NULL)
    return fail(a, -ENOMEM, "out of memory");
  memset(a->xfers, 0, a->nxfers * sizeof(*a->xfers));
  for (unsigned i = a->nxfers; i-- > 0;) {
    struct xfer *x = &a->xfers[i];
    const char *failed = NULL;
    CURLcode rc;

    x->shard = &a->shards[i % a->nshards];
    err = fb__fetch_init(&x->f, job, fb_collector_t0(c), i, &a->share);
    if (err != 0)
      return fail(a, err, "%s", x->f.errbuf);
    /* The loop must see every socket libcurl opens and closes. */
    if ((rc = curl_easy_setopt(x->f.easy, CURLOPT_SOCKOPTFUNCTION,
                               on_sockopt)) != CURLE_OK)
      failed = "CURLOPT_SOCKOPTFUNCTION";
    else if ((rc = curl_easy_setopt(x->f.easy, CURLOPT_SOCKOPTDATA, a)) !=
             CURLE_OK)
      failed = "CURLOPT_SOCKOPTDATA";
    else if ((rc = curl_easy_setopt(x->f.easy, CURLOPT_CLOSESOCKETFUNCTION,
                                    on_close_socket)) != CURLE_OK)
      failed = "CURLOPT_CLOSESOCKETFUNCTION";
    else if ((rc = curl_easy_setopt(x->f.easy, CURLOPT_CLOSESOCKETDATA, a)) !=
             CURLE_OK)
      failed = "CURLOPT_CLOSESOCKETDATA";
    if (failed != NULL)
      return fail(a, FB_ECURL, "curl_easy_setopt(%s): %s", failed,
                  curl_easy_strerror(rc));
    x->next_free = a->free;
    a->free = x;
  }
  if (job->cancel != NULL) {
    err = uv_timer_start(&a->watch, on_watch, CANCEL_CHECK_MS, CANCEL_CHECK_MS);
    if (err != 0)
      return fail_uv(a, "uv_timer_start", err);
  }
  return 0;
}

/* Accounts for the transfers still in flight when the loop stopped early:
 * those libcurl finished keep their result, the others are removed and
 * recorded as cancelled (or lost, when the machinery broke).
 */
static void abandon(struct async *a) {
  struct fb_result r;

  for (unsigned i = 0; i < a->nshards && a->err == 0; i++)
    if (a->shards[i].multi != NULL)
      drain(&a->shards[i]);
  /* Busy slots were added to their shard's multi, which exists. */
  for (unsigned i = 0; a->xfers != NULL && i < a->nxfers; i++) {
    struct xfer *x = &a->xfers[i];

    if (!x->busy)
      continue;
    if (curl_multi_remove_handle(x->shard->multi, x->f.easy) != CURLM_OK)
      fail(a, FB_ECURL, "curl_multi_remove_handle failed");
    fb__fetch_finish(&x->f, CURLE_ABORTED_BY_CALLBACK, &r);
    if (a->err == 0) {
      r.outcome = FB_OUTCOME_CANCELLED;
      r.message = "run cancelled";
    } else {
      r.outcome = FB_OUTCOME_LOST;
      r.message = a->why[0] != '\0' ? a->why : fb_strerror(a->err);
    }
    put(a, &r);
    release(a, x);
  }
}

/* Frees everything in the order libcurl and libuv need: easy handles out of
 * the multi, the multi handle (whose cleanup may still call the socket and
 * timer callbacks, so the loop and the polls must be alive), then every
 * libuv handle closed and the loop run until their close callbacks ran, then
 * the loop. Returns 0, or FB_ECURL / FB_EUV when one of these failed.
 */
static void close_handle(struct async *a, uv_handle_t *h) {
  a->closing++;
  uv_close(h, on_handle_closed);
}

static int teardown(struct async *a) {
  int err = 0;

  for (unsigned i = 0; a->xfers != NULL && i < a->nxfers; i++)
    fb__fetch_cleanup(&a->xfers[i].f);
  for (unsigned i = 0; i < a->nshards; i++) {
    struct shard *s = &a->shards[i];

    if (s->multi != NULL && curl_multi_cleanup(s->multi) != CURLM_OK)
      err = FB_ECURL;
    s->multi = NULL;
  }
  fb__fetch_share_cleanup(&a->share);
  free(a->xfers);
  a->xfers = NULL;
  a->nxfers = 0;

  if (!a->loop_ready)
    return err;
  fb__polltab_close(&a->polls);
  for (unsigned i = 0; i < a->nshards; i++) {
    struct shard *s = &a->shards[i];

    if (s->handles > 0)
      close_handle(a, (uv_handle_t *)&s->timer);
    if (s->handles > 1)
      close_handle(a, (uv_handle_t *)&s->kick);
  }
  if (a->handles > 0)
    close_handle(a, (uv_handle_t *)&a->watch);
  if (a->handles > 1)
    close_handle(a, (uv_handle_t *)&a->batch);
  if (a->handles > 2)
    close_handle(a, (uv_handle_t *)&a->more);
  if (a->due_ready) {
    a->closing++;
    fb__due_timer_close(&a->due, on_handle_closed);
    a->due_ready = 0;
  }
  /* Runs the close callbacks. A uv_stop left over from the run (say, the
   * cancel flag seen before the loop ever ran) makes the first uv_run return
   * at once, hence the second try.
   */
  for (int i = 0; i < 2 && (a->closing != 0 || fb__polltab_closing(&a->polls));
       i++)
    (void)uv_run(&a->loop, UV_RUN_DEFAULT);
  if ((a->closing != 0 || fb__polltab_closing(&a->polls) != 0 ||
       uv_loop_alive(&a->loop)) &&
      err == 0)
    err = FB_EUV;
  if (uv_loop_close(&a->loop) != 0)
    return FB_EUV; /* handles still point into a: leave it be */
  a->loop_ready = 0;
  fb__polltab_free(&a->polls);
  free(a->shards);
  a->shards = NULL;
  a->nshards = 0;
  return err;
}

/* A test build hands the loop's counters to its hook (testhooks.h). */
static void publish_counters(const struct async *a, int loop_closed) {
#ifdef FB_UNITTEST
  struct fb__async_counters k = a->k;

  if (fb__test_hooks.async_counters == NULL)
    return;
  k.poll_inits = a->polls.inits;
  k.poll_starts = a->polls.starts;
  k.poll_stops = a->polls.stops;
  k.loop_closed = loop_closed;
  *fb__test_hooks.async_counters = k;
#else
  (void)a;
  (void)loop_closed;
#endif
}

static int run(const struct fb_job *job, struct fb_collector *c) {
  struct fb_engine_stats *stats = fb_collector_stats(c);
  int64_t t = fb_clock_ns();
  struct async *a;
  int err;
  int terr;

  if (job->workers < 1 || job->workers > ASYNC_MAX_WORKERS)
    return fb__engine_finish(job, c, FB_ERANGE, NULL);
  /* uv_loop_t wants no particular alignment, but fetch slots do: they live
   * in their own aligned array.
   */
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return fb__engine_finish(job, c, -ENOMEM, NULL);
  err = setup(a, job, c);
  stats->setup_ns = fb_clock_ns() - t;
  if (err != 0)
    goto out;
  stats->workers_started = a->nxfers;
  stats->workers_max = a->nxfers;

  refill(a);
  if (a->err == 0 && !a->cancelled && !finished(a)) {
    /* Returns after uv_stop (done, cancelled or failed); returning 0 means
     * it ran out of handles with transfers unfinished, which libcurl's
     * timers should make impossible.
     */
    if (uv_run(&a->loop, UV_RUN_DEFAULT) == 0 && !finished(a) &&
        !a->cancelled && a->err == 0)
      fail(a, FB_EUV, "the loop ran out of handles with transfers unfinished");
  }
  if (a->err == 0 && !finished(a) && fb_job_cancelled(job))
    a->cancelled = 1;

out:
  if (!finished(a) || a->err != 0)
    abandon(a);
  err = fb__engine_finish(job, c,
                          a->err != 0    ? a->err
                          : a->cancelled ? FB_ECANCELED
                                         : 0,
                          a->why);
  a->k.closes_in_run = a->k.closes;
  terr = teardown(a);
  if (err == 0)
    err = terr;
  publish_counters(a, !a->loop_ready);
  if (!a->loop_ready)
    free(a);
  return err;
}

const struct fb_engine fb_engine_async = {
    .name = "async",
    .summary = "one libuv loop drives libcurl's multi interface",
    .max_workers = ASYNC_MAX_WORKERS,
    .run = run,
};
