/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "client/client.h"
#include "engines/engine_int.h"
#include "engines/slots.h"
#include "engines/testhooks.h"
#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/result.h"

/* raw's twin on io_uring instead of libuv: one ring, the HTTP/1.1 client
 * core (src/client/) and the same slots (slots.h). Connects, sends and
 * receives are submission queue entries; each loop turn handles every
 * completion that came, refills free slots, and submits what they all
 * queued in one io_uring_enter, which also waits for the next completion
 * (entering again while the kernel holds completions back): at steady
 * keep-alive state, a system call for several requests.
 *
 * What the kernel has decides how (the features that ran go into the
 * run's stats, fb_engine_stats.features):
 *   receives   one multishot receive per connection (Linux 6.0) into a
 *              ring of buffers the kernel picks from (5.19), each buffer
 *              given back as soon as the core has parsed it: the pool is
 *              sized for the concurrency, not one buffer per connection;
 *              else one receive at a time into that ring; else (no buffer
 *              ring) a poll in the ring, then recv(2) into one buffer.
 *   timeouts   each slot's deadline (fb_client_deadline) as a timeout in
 *              the ring at an absolute time, set lazily: one that fires
 *              early finds the core with nothing to do and is set again,
 *              one that must come sooner is moved (5.11) or removed and
 *              added again; a connect also carries a linked timeout at its
 *              fixed deadline, so the kernel ends it by itself; the open
 *              loop's next due time is a timeout too.
 *   waits      with a cancel flag to watch, the wait itself times out
 *              every 20 ms (5.11's extended argument; liburing queues a
 *              timeout before that); completions run when the loop waits
 *              where the ring can defer them (6.1), and a turn asks again
 *              while the kernel holds more of them (see reap_rest).
 *
 * A socket is closed only once nothing in the ring refers to it: its
 * operations are cancelled and their completions awaited first, and a
 * CONNECT that comes meanwhile waits for the close (as raw's does for its
 * handle). So a send never reads the bytes of a connection whose slot has
 * moved on (client.h: an https connection's ciphertext lives until the
 * slot's next fb_client_connected), and no buffer is freed while the
 * kernel may still write into it: teardown cancels what is left and waits
 * for every completion before it frees anything.
 */

#define URING_MAX_WORKERS 10000u
#define CANCEL_CHECK_MS 20
#define BUF_SIZE (16u << 10) /* a TLS record fits */
#define BUF_MIN 64u
#define BUF_MAX 512u
#define BUF_GROUP 0
#define READ_BUFFER (64u << 10) /* the poll fallback's one buffer */
#define TW_PASSES 64 /* enters a turn makes for deferred completions */
#define DRAIN_NS (5 * FB_NS_PER_S)
#define DRAIN_WAIT_MS 100

/* Descriptors the engine needs before any connection: the ring. */
#define RING_FDS 1u

/* What a completion is for: the low bits of its user_data; above them the
 * slot's index, or ENGINE for the engine's own.
 */
enum kind {
  K_CONNECT = 1,
  K_LINK,      /* the connect's linked timeout */
  K_SEND,      /* sendmsg */
  K_RECV,      /* recv, multishot recv or poll */
  K_TIMER,     /* the slot's timeout */
  K_TIMER_MOD, /* ... moved or removed */
  K_CANCEL,    /* a cancel request */
  K_DUE        /* the open loop's next due time */
};
#define KIND_BITS 4
#define ENGINE 0xffffffu

/* slot->ops: the socket's operations in the ring. */
#define OP_CONNECT 0x1u
#define OP_LINK 0x2u
#define OP_SEND 0x4u
#define OP_RECV 0x8u

enum sock_state { S_NONE, S_CONNECTING, S_OPEN, S_CLOSING };

enum recv_mode { R_MULTISHOT, R_ONESHOT, R_POLL };

#define OWNER(ptr, type, member)                                               \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct uring;

struct slot {
  struct fb__slot base; /* first: 64-byte aligned */
  struct uring *r;
  unsigned idx;
  int fd;
  uint8_t sock;      /* enum sock_state */
  uint8_t ops;       /* OP_*: in the ring */
  uint8_t eof;       /* the socket's reading ended: no receive again */
  uint8_t timer;     /* the slot's timeout is in the ring */
  uint8_t timer_mod; /* ... and a request to move or remove it */
  int64_t armed;     /* the deadline the timeout is set for */
  const struct sockaddr *wait_addr; /* a CONNECT waiting for the close */
  socklen_t wait_len;
  /* Read by the kernel when the entry is submitted, so kept here. */
  struct __kernel_timespec ts;      /* the timeout's */
  struct __kernel_timespec link_ts; /* the connect's linked timeout */
  struct msghdr msg;                /* the SEND in flight */
  struct iovec iov[4];
};

struct uring {
  struct fb__slots p; /* first (slots.h) */
  struct io_uring ring;
  int ring_ready;
  struct fb__uring_counters k;
  unsigned features; /* FB__URING_* the kernel has (and a test left on) */
  unsigned used;     /* ... that ran */
  enum recv_mode mode;

  struct io_uring_buf_ring *br; /* the provided buffers, NULL: none */
  unsigned nbufs;
  char *bufs; /* nbufs * BUF_SIZE bytes, mmap'ed */
  char *rbuf; /* R_POLL: the loop's one read buffer */
  int br_reg; /* br is registered with the ring */

  unsigned pending; /* entries whose last completion has not come */
  int stop;         /* leave the loop */
  int soon;         /* refill once this turn's completions are handled */
  int more;         /* refill on the next turn, without blocking */
  int due;          /* the due-time timeout is in the ring */
  struct __kernel_timespec due_ts;
  int draining; /* teardown: completions are only accounted for */
};

static void sock_connect(struct fb__slot *b, const struct sockaddr *addr,
                         socklen_t len);

static struct slot *slot_at(struct uring *r, unsigned i) {
  return (struct slot *)(void *)fb__slots_at(&r->p, i);
}

static uint64_t tag(unsigned idx, enum kind kind) {
  return ((uint64_t)idx << KIND_BITS) | (uint64_t)kind;
}

static void set_ts(struct __kernel_timespec *ts, int64_t at_ns) {
  ts->tv_sec = at_ns / FB_NS_PER_S;
  ts->tv_nsec = at_ns % FB_NS_PER_S;
}

/* --- The ring ------------------------------------------------------------ */

/* The opcodes every mode needs: Linux 5.7 has them all (and fast poll,
 * without which a receive that would block takes a kernel thread).
 */
static const struct {
  int op;
  const char *name;
} required[] = {
    {IORING_OP_CONNECT, "IORING_OP_CONNECT"},
    {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
    {IORING_OP_RECV, "IORING_OP_RECV"},
    {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
    {IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"},
    {IORING_OP_TIMEOUT_REMOVE, "IORING_OP_TIMEOUT_REMOVE"},
    {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
};

/* The features a test build turns off (fb__test_hooks.uring_off). */
static unsigned features_off(void) {
#ifdef FB_UNITTEST
  return fb__test_hooks.uring_off;
#else
  return 0;
#endif
}

/* Sets up ring with sq and cq entries and finds what the kernel offers
 * (*features). Returns 0; FB_EUNAVAIL with why when the kernel refuses the
 * ring or lacks what every mode needs; or -EMFILE / -ENFILE (out of
 * descriptors: not the kernel's refusal) with why.
 */
static int ring_open(struct io_uring *ring, unsigned sq, unsigned cq,
                     unsigned *features, char *why, size_t len) {
  unsigned off = features_off();
  struct io_uring_params prm;
  struct io_uring_probe *probe;
  int rc;

  *features = 0;
  memset(&prm, 0, sizeof(prm));
  prm.flags = IORING_SETUP_CQSIZE;
  prm.cq_entries = cq;
  if (!(off & FB__URING_DEFER_TASKRUN)) {
    prm.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    /* Since 5.19: the kernel flags the completions it holds. */
    if (!(off & FB__URING_TASKRUN))
      prm.flags |= IORING_SETUP_TASKRUN_FLAG;
    rc = io_uring_queue_init_params(sq, ring, &prm);
    if (rc == 0)
      *features |=
          FB__URING_DEFER_TASKRUN |
          (prm.flags & IORING_SETUP_TASKRUN_FLAG ? FB__URING_TASKRUN : 0);
    else if (rc == -EINVAL) /* before Linux 6.1 */
      memset(&prm, 0, sizeof(prm));
  } else {
    rc = -EINVAL;
  }
  if (rc == -EINVAL) {
    prm.flags = IORING_SETUP_CQSIZE;
    prm.cq_entries = cq;
    rc = io_uring_queue_init_params(sq, ring, &prm);
  }
  if (rc != 0) {
    snprintf(why, len, "io_uring unavailable: %s (io_uring_setup: %s)",
             strerror(-rc), fb_err_name(rc));
    return rc == -EMFILE || rc == -ENFILE ? rc : FB_EUNAVAIL;
  }
  if (!(prm.features & IORING_FEAT_NODROP) ||
      !(prm.features & IORING_FEAT_FAST_POLL)) {
    snprintf(why, len,
             "io_uring unavailable: the kernel lacks %s (Linux 5.7 or later "
             "has it)",
             !(prm.features & IORING_FEAT_NODROP) ? "IORING_FEAT_NODROP"
                                                  : "IORING_FEAT_FAST_POLL");
    io_uring_queue_exit(ring);
    return FB_EUNAVAIL;
  }
  probe = io_uring_get_probe_ring(ring);
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
    if (probe != NULL && io_uring_opcode_supported(probe, required[i].op))
      continue;
    snprintf(why, len,
             "io_uring unavailable: the kernel lacks %s (Linux 5.7 or later "
             "has it)",
             probe == NULL ? "IORING_REGISTER_PROBE" : required[i].name);
    io_uring_free_probe(probe);
    io_uring_queue_exit(ring);
    return FB_EUNAVAIL;
  }
  if (io_uring_opcode_supported(probe, IORING_OP_LINK_TIMEOUT))
    *features |= FB__URING_LINK_TIMEOUT;
  /* No flag says so: the opcodes of the same release stand for it. */
  if (io_uring_opcode_supported(probe, IORING_OP_SOCKET)) /* 5.19 */
    *features |= FB__URING_BUF_RING;
  if (io_uring_opcode_supported(probe, IORING_OP_SEND_ZC)) /* 6.0 */
    *features |= FB__URING_MULTISHOT;
  if (prm.features & IORING_FEAT_EXT_ARG) /* 5.11, as timeout updates */
    *features |= FB__URING_EXT_ARG | FB__URING_TIMEOUT_UPDATE;
  io_uring_free_probe(probe);
  *features &= ~off;
  return 0;
}

static int available(char *why, size_t len) {
  struct io_uring ring;
  unsigned features;
  int rc = ring_open(&ring, 4, 8, &features, why, len);

  if (rc == 0)
    io_uring_queue_exit(&ring);
  /* Out of descriptors is the run's to say (the open-files check). */
  return rc == FB_EUNAVAIL ? rc : 0;
}

/* A free submission entry, or NULL when the machinery
 * failed (recorded). A full queue is submitted first (a flush, counted);
 * `room` entries are made free together, for a linked pair.
 */
static struct io_uring_sqe *sqe_get(struct uring *r, unsigned room) {
  struct io_uring_sqe *sqe;

  if (io_uring_sq_space_left(&r->ring) < room) {
    int rc;

    r->k.flushes++;
    r->k.submits++;
    rc = io_uring_submit(&r->ring);
    if (rc < 0 && rc != -EAGAIN && rc != -EBUSY) {
      fb__slots_fail(&r->p, rc, "io_uring_submit: %s", strerror(-rc));
      return NULL;
    }
  }
  sqe = io_uring_get_sqe(&r->ring);
  if (sqe == NULL) {
    fb__slots_fail(&r->p, -EBUSY, "io_uring: the submission queue stays full");
    return NULL;
  }
  r->k.sqes++;
  r->pending++;
  return sqe;
}

static void sqe_done(struct io_uring_sqe *sqe, uint64_t ud) {
  io_uring_sqe_set_data64(sqe, ud);
}

/* --- Sockets ------------------------------------------------------------- */

/* Closes the socket once nothing in the ring refers to it, and starts the
 * CONNECT that waited for that.
 */
static void sock_settle(struct slot *s) {
  const struct sockaddr *addr = s->wait_addr;

  if (s->sock != S_CLOSING || s->ops != 0)
    return;
  close(s->fd);
  s->fd = -1;
  s->sock = S_NONE;
  s->wait_addr = NULL;
  if (addr != NULL && !s->r->draining) {
    sock_connect(&s->base, addr, s->wait_len);
    fb__slots_drive(&s->base);
  }
}

static void cancel(struct slot *s, enum kind kind) {
  struct io_uring_sqe *sqe = sqe_get(s->r, 1);

  if (sqe == NULL)
    return;
  io_uring_prep_cancel64(sqe, tag(s->idx, kind), 0);
  sqe_done(sqe, tag(s->idx, K_CANCEL));
  s->r->k.cancels++;
}

/* Closes the slot's socket: at once when nothing in the ring refers to it,
 * else once the cancelled operations have completed (sock_settle). A
 * CONNECT waiting for the previous close is dropped with it: the core has
 * given that connection up too.
 */
static void sock_close(struct fb__slot *b) {
  struct slot *s = (struct slot *)(void *)b;
  int open = s->sock == S_CONNECTING || s->sock == S_OPEN;

  s->wait_addr = NULL;
  if (!open)
    return;
  s->r->k.loop.closes++;
  s->sock = S_CLOSING;
  /* The linked timeout goes with its connect. */
  if (s->ops & OP_CONNECT)
    cancel(s, K_CONNECT);
  if (s->ops & OP_SEND)
    cancel(s, K_SEND);
  if (s->ops & OP_RECV)
    cancel(s, K_RECV);
  sock_settle(s);
}

/* The next read of an open socket. */
static void recv_arm(struct slot *s) {
  struct uring *r = s->r;
  struct io_uring_sqe *sqe = sqe_get(r, 1);

  if (sqe == NULL)
    return;
  switch (r->mode) {
  case R_MULTISHOT:
    io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
    break;
  case R_ONESHOT:
    io_uring_prep_recv(sqe, s->fd, NULL, BUF_SIZE, 0);
    break;
  case R_POLL:
    io_uring_prep_poll_add(sqe, s->fd, POLLIN);
    break;
  }
  if (r->mode != R_POLL) {
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
  }
  sqe_done(sqe, tag(s->idx, K_RECV));
  s->ops |= OP_RECV;
  r->k.recv_arms++;
}

/* Starts a connection on a new socket, or, while the last one is still
 * closing, leaves it to sock_settle. A socket that cannot be made (out of
 * descriptors) is reported to the core as a failed connect.
 */
static void sock_connect(struct fb__slot *b, const struct sockaddr *addr,
                         socklen_t len) {
  struct slot *s = (struct slot *)(void *)b;
  struct uring *r = s->r;
  struct io_uring_sqe *sqe;
  int64_t bound = fb_client_connect_deadline(&s->base.cc);
  int link = (r->features & FB__URING_LINK_TIMEOUT) && bound != INT64_MAX;
  int one = 1;

  if (s->sock == S_CLOSING) {
    s->wait_addr = addr;
    s->wait_len = len;
    r->k.loop.waited_connects++;
    return;
  }
  s->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (s->fd < 0) {
    fb_client_connected(&s->base.cc, -errno, fb_clock_ns());
    return;
  }
  /* As libcurl: requests are small and go out at once. */
  (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  s->sock = S_CONNECTING;
  s->eof = 0;
  sqe = sqe_get(r, link ? 2 : 1);
  if (sqe == NULL)
    return;
  io_uring_prep_connect(sqe, s->fd, addr, len);
  sqe_done(sqe, tag(s->idx, K_CONNECT));
  s->ops |= OP_CONNECT;
  if (!link)
    return;
  sqe->flags |= IOSQE_IO_LINK;
  sqe = sqe_get(r, 1); /* room was made for it */
  if (sqe == NULL)
    return;
  set_ts(&s->link_ts, bound);
  io_uring_prep_link_timeout(sqe, &s->link_ts, IORING_TIMEOUT_ABS);
  sqe_done(sqe, tag(s->idx, K_LINK));
  s->ops |= OP_LINK;
  r->used |= FB__URING_LINK_TIMEOUT;
}

static void sock_send(struct fb__slot *b, const struct fb_client_action *act) {
  struct slot *s = (struct slot *)(void *)b;
  struct io_uring_sqe *sqe = sqe_get(s->r, 1);
  int n = act->iovcnt < 4 ? act->iovcnt : 4;

  if (sqe == NULL)
    return;
  /* The core keeps the bytes until fb_client_sent; the iovecs are copied
   * here, where the kernel may read them until the send completes.
   */
  memcpy(s->iov, act->iov, (size_t)n * sizeof(s->iov[0]));
  memset(&s->msg, 0, sizeof(s->msg));
  s->msg.msg_iov = s->iov;
  s->msg.msg_iovlen = (size_t)n;
  io_uring_prep_sendmsg(sqe, s->fd, &s->msg, MSG_NOSIGNAL);
  sqe_done(sqe, tag(s->idx, K_SEND));
  s->ops |= OP_SEND;
}

/* --- Timers -------------------------------------------------------------- */

/* Sets the slot's timeout for the core's next deadline. Lazily: a deadline
 * that moved later is left to the timeout already set (it fires, finds
 * nothing due, and is set again); one that came sooner moves it.
 */
static void arm(struct fb__slot *b) {
  struct slot *s = (struct slot *)(void *)b;
  struct uring *r = s->r;
  int64_t d = fb_client_deadline(&s->base.cc);
  struct io_uring_sqe *sqe;

  if (d == INT64_MAX || r->draining)
    return;
  if (s->timer && (d >= s->armed || s->timer_mod))
    return;
  sqe = sqe_get(r, 1);
  if (sqe == NULL)
    return;
  r->k.timer_sqes++;
  if (s->timer) {
    s->timer_mod = 1;
    if (r->features & FB__URING_TIMEOUT_UPDATE) {
      set_ts(&s->ts, d);
      s->armed = d;
      io_uring_prep_timeout_update(sqe, &s->ts, tag(s->idx, K_TIMER),
                                   IORING_TIMEOUT_ABS);
      r->used |= FB__URING_TIMEOUT_UPDATE;
    } else {
      /* Its completion (-ECANCELED) sets it again. */
      io_uring_prep_timeout_remove(sqe, tag(s->idx, K_TIMER), 0);
    }
    sqe_done(sqe, tag(s->idx, K_TIMER_MOD));
    return;
  }
  set_ts(&s->ts, d);
  s->armed = d;
  s->timer = 1;
  io_uring_prep_timeout(sqe, &s->ts, 0, IORING_TIMEOUT_ABS);
  sqe_done(sqe, tag(s->idx, K_TIMER));
}

/* --- Completions --------------------------------------------------------- */

static void on_connect(struct slot *s, int res) {
  int64_t now = fb_clock_ns();

  s->ops &= ~OP_CONNECT;
  if (s->sock != S_CONNECTING || s->r->draining) {
    sock_settle(s);
    return;
  }
  if (res == 0) {
    s->sock = S_OPEN;
    recv_arm(s);
    fb_client_connected(&s->base.cc, 0, now);
  } else if (res == -ECANCELED) {
    /* The linked timeout ended it: the connect deadline has passed, and
     * the core, told so, asks for the close. Should it not, the slot's
     * own timeout, set for the same instant, comes next.
     */
    fb_client_timer(&s->base.cc, now);
  } else {
    /* The core closes nothing after a failed connect: this socket goes
     * once its linked timeout is out of the ring.
     */
    s->sock = S_CLOSING;
    s->r->k.loop.closes++;
    sock_settle(s);
    fb_client_connected(&s->base.cc, res, now);
  }
  fb__slots_drive(&s->base);
}

static void on_link(struct slot *s, int res) {
  s->ops &= ~OP_LINK;
  if (res == -ETIME)
    s->r->k.link_fires++;
  sock_settle(s);
}

static void on_send(struct slot *s, int res) {
  s->ops &= ~OP_SEND;
  if (s->sock != S_OPEN || s->r->draining) {
    sock_settle(s);
    return;
  }
  fb_client_sent(&s->base.cc, res, fb_clock_ns());
  fb__slots_drive(&s->base);
}

static void buf_return(struct uring *r, unsigned bid) {
  io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE,
                        (unsigned short)bid, io_uring_buf_ring_mask(r->nbufs),
                        0);
  io_uring_buf_ring_advance(r->br, 1);
}

/* R_POLL: the socket is readable; one recv(2) into the loop's buffer. */
static void read_polled(struct slot *s, int64_t now) {
  ssize_t n = recv(s->fd, s->r->rbuf, READ_BUFFER, MSG_DONTWAIT);

  if (n > 0) {
    s->r->k.loop.reads++;
    fb_client_received(&s->base.cc, s->r->rbuf, (size_t)n, now);
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    s->eof = 1;
    fb_client_eof(&s->base.cc, n == 0 ? 0 : -errno, now);
  }
}

/* What a receive (or, R_POLL, a poll) brought: bytes in buf (res of
 * them), the end of the stream, or an error.
 */
static void deliver(struct slot *s, int res, const char *buf) {
  struct uring *r = s->r;
  int64_t now = fb_clock_ns();

  if (r->mode == R_POLL && res > 0) {
    read_polled(s, now);
  } else if (res > 0 && buf != NULL) {
    r->k.loop.reads++;
    fb_client_received(&s->base.cc, buf, (size_t)res, now);
  } else if (res == -ENOBUFS) {
    r->k.nobufs++; /* received again below, once buffers are back */
  } else if (res == -EINVAL && r->mode == R_MULTISHOT) {
    /* The kernel refused a multishot receive after all. */
    r->mode = R_ONESHOT;
    r->features &= ~FB__URING_MULTISHOT;
  } else if (res <= 0) {
    s->eof = 1;
    fb_client_eof(&s->base.cc, res, now);
  }
}

static void on_recv(struct slot *s, const struct io_uring_cqe *cqe) {
  struct uring *r = s->r;
  const char *buf = NULL;

  if (!(cqe->flags & IORING_CQE_F_MORE))
    s->ops &= ~OP_RECV;
  if (cqe->flags & IORING_CQE_F_BUFFER)
    buf = r->bufs + (size_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) * BUF_SIZE;
  if (s->sock == S_OPEN && !r->draining) {
    /* The core parses in place and keeps nothing: the buffer goes back
     * before anything else happens.
     */
    deliver(s, cqe->res, buf);
    if (buf != NULL)
      buf_return(r, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    fb__slots_drive(&s->base);
    if (s->sock == S_OPEN && !(s->ops & OP_RECV) && !s->eof)
      recv_arm(s);
  } else if (buf != NULL) {
    buf_return(r, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
  }
  sock_settle(s);
}

static void on_timer(struct slot *s, int res) {
  s->timer = 0;
  s->armed = INT64_MAX;
  if (s->r->draining)
    return;
  if (res == -ETIME) {
    s->r->k.loop.timer_fires++;
    fb_client_timer(&s->base.cc, fb_clock_ns());
  }
  fb__slots_drive(&s->base);
}

static void on_due(struct uring *r, int res) {
  r->due = 0;
  if (!r->draining && res == -ETIME)
    fb__slots_burst(&r->p);
}

static void complete(struct uring *r, const struct io_uring_cqe *cqe) {
  uint64_t ud = io_uring_cqe_get_data64(cqe);
  unsigned idx = (unsigned)(ud >> KIND_BITS);
  enum kind kind = (enum kind)(ud & ((1u << KIND_BITS) - 1));
  struct slot *s;

  /* liburing's own timeout of a wait, before Linux 5.11. */
  if (ud == LIBURING_UDATA_TIMEOUT)
    return;
  /* A multishot receive that goes on keeps its place. */
  if (!(kind == K_RECV && (cqe->flags & IORING_CQE_F_MORE)))
    r->pending--;
  if (idx == ENGINE) {
    if (kind == K_DUE)
      on_due(r, cqe->res);
    return;
  }
  s = slot_at(r, idx);
  switch (kind) {
  case K_CONNECT:
    on_connect(s, cqe->res);
    break;
  case K_LINK:
    on_link(s, cqe->res);
    break;
  case K_SEND:
    on_send(s, cqe->res);
    break;
  case K_RECV:
    on_recv(s, cqe);
    break;
  case K_TIMER:
    on_timer(s, cqe->res);
    break;
  case K_TIMER_MOD:
    /* A deadline that came sooner still meanwhile is set now. */
    s->timer_mod = 0;
    arm(&s->base);
    break;
  case K_CANCEL:
  case K_DUE:
    break;
  }
}

/* Handles every completion in the queue (those that come meanwhile too). */
static void reap(struct uring *r) {
  struct io_uring_cqe *cqe;
  unsigned head, n = 0;

  io_uring_for_each_cqe(&r->ring, head, cqe) {
    complete(r, cqe);
    n++;
  }
  io_uring_cq_advance(&r->ring, n);
  r->k.cqes += n;
}

/* Whether the kernel holds deferred completions it has not run yet. */
static int taskrun_pending(const struct uring *r) {
  return (IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

/* The rest of the turn's completions. Since Linux 6.13 a ring that defers
 * its completions runs at most 20 of them a pass, two passes an
 * io_uring_enter, and keeps the others for the next enter: a turn that
 * handled only those left the rest a whole turn more, and under a burst
 * they queued up in the kernel (10,000 connections opening at once: their
 * connects seen 12 to 75 ms late, the first answers 60 ms late). So while
 * the kernel says it holds more (IORING_SQ_TASKRUN), the turn enters
 * again, submitting what the completions it handled queued: at most
 * TW_PASSES times.
 */
static void reap_rest(struct uring *r) {
  if (!(r->features & FB__URING_TASKRUN))
    return;
  for (unsigned pass = 0; !r->stop && taskrun_pending(r); pass++) {
    int rc;

    if (pass == TW_PASSES) {
      r->k.taskrun_left++;
      return;
    }
    r->k.taskrun_passes++;
    r->k.submits++;
    r->used |= FB__URING_TASKRUN;
    rc = io_uring_submit_and_get_events(&r->ring);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      fb__slots_fail(&r->p, rc, "io_uring_enter: %s", strerror(-rc));
      return;
    }
    reap(r);
  }
}

/* --- The slots' calls ---------------------------------------------------- */

static void on_stop(struct fb__slots *p) {
  OWNER(p, struct uring, p)->stop = 1;
}

static void refill_soon(struct fb__slots *p) {
  OWNER(p, struct uring, p)->soon = 1;
}

static void refill_next(struct fb__slots *p) {
  OWNER(p, struct uring, p)->more = 1;
}

/* The open loop's next due time, as a timeout at that instant. Due times
 * only grow: one already set fires no later than asked, and is set again
 * then.
 */
static int refill_at(struct fb__slots *p, int64_t at_ns) {
  struct uring *r = OWNER(p, struct uring, p);
  struct io_uring_sqe *sqe;

  if (r->due)
    return 0;
  sqe = sqe_get(r, 1);
  if (sqe == NULL)
    return 0; /* the failure is recorded */
  set_ts(&r->due_ts, at_ns);
  io_uring_prep_timeout(sqe, &r->due_ts, 0, IORING_TIMEOUT_ABS);
  sqe_done(sqe, tag(ENGINE, K_DUE));
  r->due = 1;
  return 0;
}

static const struct fb__slots_ops uring_ops = {
    sock_close, sock_connect, sock_send,   arm,
    on_stop,    refill_soon,  refill_next, refill_at};

/* --- The loop ------------------------------------------------------------ */

/* Submits what the turn queued and waits for a completion, in one
 * io_uring_enter: without waiting when a refill is due next turn, and for
 * at most CANCEL_CHECK_MS when a cancel flag is to be watched. Returns 0,
 * or the failure recorded.
 */
static int submit_wait(struct uring *r, int64_t wait_ms) {
  struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000,
                                 .tv_nsec = (wait_ms % 1000) * FB_NS_PER_MS};
  struct io_uring_cqe *cqe;
  int rc;

  if (wait_ms == 0) {
    rc = io_uring_submit_and_get_events(&r->ring);
  } else if (wait_ms > 0) {
    rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
    if (r->features & FB__URING_EXT_ARG)
      r->used |= FB__URING_EXT_ARG;
  } else {
    rc = io_uring_submit_and_wait(&r->ring, 1);
  }
  if (rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
    return 0;
  return fb__slots_fail(&r->p, rc, "io_uring_enter: %s", strerror(-rc));
}

static void loop(struct uring *r) {
  const struct fb_job *job = r->p.job;

  while (!r->stop) {
    if (r->pending == 0 && !r->more && !r->soon) {
      fb__slots_fail(&r->p, -EDEADLK,
                     "the ring ran empty with transfers unfinished");
      break;
    }
    r->k.turns++;
    r->k.submits++;
    if (submit_wait(r, r->more               ? 0
                       : job->cancel != NULL ? CANCEL_CHECK_MS
                                             : -1) != 0)
      break;
    reap(r);
    reap_rest(r);
    if (job->cancel != NULL)
      fb__slots_watch(&r->p);
    if (!r->stop && (r->soon || r->more)) {
      r->soon = 0;
      r->more = 0;
      fb__slots_burst(&r->p);
    }
  }
}

/* --- Set-up and teardown ------------------------------------------------- */

static unsigned pow2_at_least(unsigned n) {
  unsigned p = 1;

  while (p < n)
    p <<= 1;
  return p;
}

/* The provided-buffer ring: a pool of BUF_SIZE buffers for the
 * concurrency (at least BUF_MIN, at most BUF_MAX), the kernel taking one
 * per receive. Returns 0, or -errno when the kernel has none (the caller
 * falls back on polls).
 */
static int buffers_init(struct uring *r) {
  struct io_uring_buf_reg reg;
  size_t ring_bytes;
  int rc;

  r->nbufs = pow2_at_least(r->p.nslots);
  if (r->nbufs < BUF_MIN)
    r->nbufs = BUF_MIN;
  if (r->nbufs > BUF_MAX)
    r->nbufs = BUF_MAX;
  ring_bytes = (size_t)r->nbufs * sizeof(struct io_uring_buf);
  /* mmap: page-aligned as the kernel wants the ring, and memory that
   * valgrind knows to be defined although only the kernel writes it.
   */
  r->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
               MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  r->bufs = mmap(NULL, (size_t)r->nbufs * BUF_SIZE, PROT_READ | PROT_WRITE,
                 MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (r->br == MAP_FAILED || r->bufs == MAP_FAILED)
    return -ENOMEM;
  memset(&reg, 0, sizeof(reg));
  reg.ring_addr = (uint64_t)(uintptr_t)r->br;
  reg.ring_entries = r->nbufs;
  reg.bgid = BUF_GROUP;
  rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
  if (rc != 0)
    return rc;
  r->br_reg = 1;
  io_uring_buf_ring_init(r->br);
  for (unsigned i = 0; i < r->nbufs; i++)
    io_uring_buf_ring_add(r->br, r->bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
                          (unsigned short)i, io_uring_buf_ring_mask(r->nbufs),
                          (int)i);
  io_uring_buf_ring_advance(r->br, (int)r->nbufs);
  r->k.buffers = r->nbufs;
  r->k.buffer_size = BUF_SIZE;
  return 0;
}

static void buffers_free(struct uring *r) {
  if (r->br_reg)
    (void)io_uring_unregister_buf_ring(&r->ring, BUF_GROUP);
  r->br_reg = 0;
  if (r->br != NULL && r->br != MAP_FAILED)
    munmap(r->br, (size_t)r->nbufs * sizeof(struct io_uring_buf));
  if (r->bufs != NULL && r->bufs != MAP_FAILED)
    munmap(r->bufs, (size_t)r->nbufs * BUF_SIZE);
  r->br = NULL;
  r->bufs = NULL;
}

static int setup(struct fb__slots *p, const struct fb_job *job,
                 struct fb_collector *c) {
  struct uring *r = OWNER(p, struct uring, p);
  char why[FB_MESSAGE_MAX];
  unsigned sq, cq;
  int rc;

  rc = fb__slots_init(&r->p, &uring_ops, "uring", RING_FDS, sizeof(struct slot),
                      job, c, &r->k.loop);
  if (rc != 0)
    return rc;
  /* Room for a burst's entries (each connect with its linked timeout and
   * its slot's timeout) and the completions' sends and receives; and for
   * every slot's completions at once. A turn that queues more submits the
   * full queue first (a flush).
   */
  sq = pow2_at_least(r->p.nslots * 2);
  if (sq < 3 * FB__SLOTS_BURST + 16)
    sq = pow2_at_least(3 * FB__SLOTS_BURST + 16);
  sq = sq > 4096 ? 4096 : sq;
#ifdef FB_UNITTEST
  if (fb__test_hooks.uring_sq_entries != 0)
    sq = fb__test_hooks.uring_sq_entries;
#endif
  cq = pow2_at_least(r->p.nslots * 4);
  cq = cq < 2 * sq ? 2 * sq : cq > 65536 ? 65536 : cq;
  rc = ring_open(&r->ring, sq, cq, &r->features, why, sizeof(why));
  if (rc == -EMFILE || rc == -ENFILE)
    return fb__slots_fail(&r->p,
                          fb__engine_nofile("uring", RING_FDS,
                                            RING_FDS + r->p.nslots, why,
                                            sizeof(why)),
                          "%s", why);
  if (rc != 0)
    return fb__slots_fail(&r->p, rc, "%s", why);
  r->ring_ready = 1;
  r->k.sq_entries = r->ring.sq.ring_entries;
  r->k.cq_entries = r->ring.cq.ring_entries;
  r->mode = R_POLL;
  if (r->features & FB__URING_BUF_RING) {
    rc = buffers_init(r);
    if (rc == -ENOMEM)
      return fb__slots_fail(&r->p, rc, "out of memory");
    if (rc == 0)
      r->mode = r->features & FB__URING_MULTISHOT ? R_MULTISHOT : R_ONESHOT;
  }
  if (r->mode == R_POLL) {
    buffers_free(r);
    r->features &= ~(FB__URING_BUF_RING | FB__URING_MULTISHOT);
    r->rbuf = malloc(READ_BUFFER);
    if (r->rbuf == NULL)
      return fb__slots_fail(&r->p, -ENOMEM, "out of memory");
  } else if (r->mode == R_ONESHOT) {
    r->features &= ~FB__URING_MULTISHOT;
  }
  for (unsigned i = 0; i < r->p.nslots; i++) {
    struct slot *s = slot_at(r, i);

    s->r = r;
    s->idx = i;
    s->fd = -1;
    s->armed = INT64_MAX;
  }
  return 0;
}

/* Every socket closed and every entry out of the ring: what is in the
 * ring is cancelled (timeouts removed) and its completions awaited, for at
 * most DRAIN_NS. Returns 0, or -EBUSY when the ring would not empty (its
 * memory must then stay).
 */
static int drain(struct uring *r) {
  int64_t until = fb_clock_ns() + DRAIN_NS;
  struct io_uring_sqe *sqe;

  r->draining = 1;
  for (unsigned i = 0; r->p.mem != NULL && i < r->p.nslots; i++) {
    struct slot *s = slot_at(r, i);

    sock_close(&s->base);
    if (s->timer && (sqe = sqe_get(r, 1)) != NULL) {
      io_uring_prep_timeout_remove(sqe, tag(i, K_TIMER), 0);
      sqe_done(sqe, tag(i, K_CANCEL));
    }
  }
  if (r->due && (sqe = sqe_get(r, 1)) != NULL) {
    io_uring_prep_timeout_remove(sqe, tag(ENGINE, K_DUE), 0);
    sqe_done(sqe, tag(ENGINE, K_CANCEL));
  }
  while (r->pending > 0 && fb_clock_ns() < until) {
    (void)submit_wait(r, DRAIN_WAIT_MS);
    reap(r);
  }
  return r->pending == 0 ? 0 : -EBUSY;
}

/* Drains the ring, closes it and every socket, frees everything and
 * hands the counters to a test build's hook.
 */
static int teardown(struct fb__slots *p) {
  struct uring *r = OWNER(p, struct uring, p);
  int err = 0;

  if (r->ring_ready) {
    err = drain(r);
    if (err != 0) {
      r->p.kept = 1; /* the kernel may still write into r: leave it be */
      goto out;
    }
    buffers_free(r);
    io_uring_queue_exit(&r->ring);
    r->ring_ready = 0;
  }
  /* Every socket closed in drain (none without a ring). */
  buffers_free(r);
  free(r->rbuf);
  r->rbuf = NULL;
  fb__slots_cleanup(&r->p);
out:
  r->k.loop.loop_closed = !r->p.kept;
  r->k.features =
      r->used | (r->features & (FB__URING_BUF_RING | FB__URING_MULTISHOT |
                                FB__URING_DEFER_TASKRUN));
#ifdef FB_UNITTEST
  if (fb__test_hooks.uring_counters != NULL)
    *fb__test_hooks.uring_counters = r->k;
#endif
  return err;
}

/* "io_uring: multishot recv, buffer ring 512 x 16 KiB, ..." */
static void describe(const struct uring *r, char *buf, size_t len) {
  static const char *const modes[] = {
      [R_MULTISHOT] = "multishot recv into a buffer ring",
      [R_ONESHOT] = "recv into a buffer ring",
      [R_POLL] = "poll then recv(2), no buffer ring",
  };
  unsigned u = r->used | (r->features & FB__URING_DEFER_TASKRUN);

  if (!r->ring_ready)
    return;
  snprintf(buf, len, "io_uring: %s", modes[r->mode]);
  if (r->mode != R_POLL)
    snprintf(buf + strlen(buf), len - strlen(buf), " (%u x %u KiB)", r->nbufs,
             BUF_SIZE >> 10);
  snprintf(buf + strlen(buf), len - strlen(buf), ", ring timeouts%s%s%s%s%s",
           u & FB__URING_TIMEOUT_UPDATE ? " (updated)" : "",
           u & FB__URING_LINK_TIMEOUT ? ", linked connect timeouts" : "",
           u & FB__URING_EXT_ARG ? ", timed waits" : "",
           u & FB__URING_DEFER_TASKRUN ? ", deferred task work" : "",
           u & FB__URING_TASKRUN ? " (asked for again while held)" : "");
}

static const struct fb__slots_engine uring_engine = {
    URING_MAX_WORKERS, sizeof(struct uring), setup, teardown};

static int run(const struct fb_job *job, struct fb_collector *c) {
  struct fb__slots *p;
  int rc = fb__slots_begin(&uring_engine, job, c, &p);
  struct fb_engine_stats *stats = fb_collector_stats(c);

  if (rc > 0)
    loop((struct uring *)(void *)p);
  if (p != NULL)
    describe((struct uring *)(void *)p, stats->features,
             sizeof(stats->features));
  return rc < 0 ? rc : fb__slots_finish(&uring_engine, p);
}

const struct fb_engine fb_engine_uring = {
    .name = "uring",
    .summary = "one io_uring, connect, send and receive as submissions, "
               "batched into few system calls; the same HTTP/1.1 client "
               "core as raw",
    .max_workers = URING_MAX_WORKERS,
    .run = run,
    .available = available,
};
