#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "fetchbench/clock.h"
#include "origin/origin_int.h"

#define MAX_IOV 16

static char text_pattern[FB__PATTERN];
static const char zero_pattern[FB__PATTERN];
static pthread_once_t text_once = PTHREAD_ONCE_INIT;

static void text_init(void) {
  static const char alphabet[] = FB__ALPHABET;

  for (size_t i = 0; i < FB__PATTERN; i++)
    text_pattern[i] = alphabet[i % 64];
}

const char *fb__text_pattern(void) {
  pthread_once(&text_once, text_init);
  return text_pattern;
}

const char *fb__zero_pattern(void) {
  return zero_pattern;
}

void fb__resp_add(struct fb__resp *r, const void *base, uint64_t len,
                  size_t period) {
  if (len == 0 || r->nsegs == FB__MAX_SEGS)
    return;
  r->segs[r->nsegs++] = (struct fb__seg){base, len, period, -1};
}

void fb__resp_add_file(struct fb__resp *r, const void *base, uint64_t len,
                       int64_t file_off) {
  if (len == 0 || r->nsegs == FB__MAX_SEGS)
    return;
  r->segs[r->nsegs++] = (struct fb__seg){base, len, 0, file_off};
  r->direct = file_off >= 0;
}

void fb__resp_clear(struct fb__conn *c) {
  free(c->resp.owned);
  memset(&c->resp, 0, sizeof(c->resp));
}

const char *fb__resp_printf(struct fb__conn *c, size_t *len, const char *fmt,
                            ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(c->hbuf, sizeof(c->hbuf), fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  *len = (size_t)n;
  if ((size_t)n < sizeof(c->hbuf))
    return c->hbuf;
  /* One piece per response: an earlier one may be queued already. */
  if (c->resp.owned != NULL)
    return NULL;
  c->resp.owned = malloc((size_t)n + 1);
  if (c->resp.owned == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(c->resp.owned, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return c->resp.owned;
}

static void advance(struct fb__resp *r, uint64_t n) {
  r->pos += n;
  while (r->seg < r->nsegs) {
    uint64_t left = r->segs[r->seg].len - r->seg_off;
    if (n < left) {
      r->seg_off += n;
      return;
    }
    n -= left;
    r->seg++;
    r->seg_off = 0;
  }
}

/* Up to limit bytes from the current position, as iovecs into the segments'
 * own memory: nothing is copied.
 */
static unsigned gather(const struct fb__resp *r, uint64_t limit, uv_buf_t *bufs,
                       uint64_t *total) {
  int s = r->seg;
  unsigned n = 0;
  uint64_t off = r->seg_off;

  *total = 0;
  while (n < MAX_IOV && s < r->nsegs && *total < limit) {
    const struct fb__seg *seg = &r->segs[s];
    uint64_t take = seg->len - off;
    const char *base = seg->base + off;

    if (seg->period != 0) {
      size_t po = (size_t)(off % seg->period);
      base = seg->base + po;
      if (take > seg->period - po)
        take = seg->period - po;
    }
    if (take > limit - *total)
      take = limit - *total;
    if (take > (1u << 30))
      take = 1u << 30;
    bufs[n++] = uv_buf_init((char *)base, (unsigned)take);
    *total += take;
    off += take;
    if (off == seg->len) {
      s++;
      off = 0;
    }
  }
  return n;
}

static void on_write(uv_write_t *req, int status) {
  fb__resp_written(req->data, status);
}

/* Everything is written: what the response asked for next. Returns 1 when
 * the connection goes on with the next request.
 */
static int finish(struct fb__conn *c) {
  c->o->stats.responses++;
  switch (c->resp.after) {
  case FB__AFTER_KEEP:
    fb__resp_clear(c);
    return 1;
  case FB__AFTER_STALL:
    fb__conn_timer(c, FB__PH_STALL, c->o->cfg.idle_timeout_ms);
    return 0;
  case FB__AFTER_RESET:
    fb__conn_reset(c);
    return -1;
  case FB__AFTER_CLOSE:
  default:
    fb__conn_shutdown(c);
    return 0;
  }
}

/* How much pacing lets out now; 0 means the timer was set for later. */
static uint64_t paced(struct fb__conn *c, uint64_t limit) {
  struct fb__resp *r = &c->resp;
  int64_t now = fb_clock_ns();
  uint64_t slice = r->rate / 100 ? r->rate / 100 : 1;
  uint64_t done = r->pos - r->pace_from;
  double allowed;

  if (r->pace_t0 == 0)
    r->pace_t0 = now;
  if (slice > r->pace_to - r->pos)
    slice = r->pace_to - r->pos;
  /* A first slice at once, then the rate, at most 100 writes a second. */
  allowed = (double)r->rate * (double)(now - r->pace_t0) / 1e9 + (double)slice -
            (double)done;
  if (allowed < (double)slice) {
    double due = (double)r->pace_t0 + (double)done * 1e9 / (double)r->rate;

    fb__conn_at(c, FB__PH_PACE, due > (double)now ? (int64_t)due : now);
    return 0;
  }
  if ((double)limit > allowed)
    limit = (uint64_t)allowed;
  if (limit > r->pace_to - r->pos)
    limit = r->pace_to - r->pos;
  return limit;
}

/* Below this, a file segment is copied rather than sent with sendfile: one
 * sendmsg of head and body costs less than a sendmsg and a sendfile (measured
 * on loopback: the origin's CPU per small response fell by a fifth).
 */
#define SENDFILE_MIN (16u << 10)

static int by_sendfile(const struct fb__seg *s, uint64_t off) {
  return s->file_off >= 0 && s->len - off >= SENDFILE_MIN;
}

/* The zero-copy path for a response with corpus file segments: its plain
 * and small file segments with sendmsg (MSG_MORE while sendfile bytes
 * follow, so a head and its body share packets), large file segments with
 * sendfile. Returns 1 when limit bytes (or the rest) went out, 0 when the
 * socket is full, -1 on error.
 */
static int send_direct(struct fb__conn *c, int fd, uint64_t limit) {
  struct fb__resp *r = &c->resp;

  while (limit > 0 && r->seg < r->nsegs) {
    const struct fb__seg *seg = &r->segs[r->seg];
    uint64_t want;
    ssize_t n;

    if (by_sendfile(seg, r->seg_off)) {
      off_t off = (off_t)(seg->file_off + (int64_t)r->seg_off);
      want = seg->len - r->seg_off;
      if (want > limit)
        want = limit;
      if (want > (1u << 30))
        want = 1u << 30;
      n = sendfile(fd, c->o->corpus_fd, &off, (size_t)want);
    } else {
      struct iovec iov[MAX_IOV];
      struct msghdr mh = {.msg_iov = iov};
      int s = r->seg, more = 0;
      uint64_t soff = r->seg_off;

      want = 0;
      while (s < r->nsegs && mh.msg_iovlen < MAX_IOV && want < limit) {
        const struct fb__seg *p = &r->segs[s];
        uint64_t take = p->len - soff;

        if (by_sendfile(p, soff) || p->period != 0) {
          more = p->file_off >= 0;
          break;
        }
        if (take > limit - want)
          take = limit - want;
        iov[mh.msg_iovlen].iov_base = (char *)p->base + soff;
        iov[mh.msg_iovlen++].iov_len = (size_t)take;
        want += take;
        s++;
        soff = 0;
      }
      if (want == 0)
        return 1; /* a repeated segment: the generic path sends it */
      n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
      fb__conn_close(c);
      return -1;
    }
    advance(r, (uint64_t)n);
    limit -= (uint64_t)n;
    if ((uint64_t)n < want)
      return 0;
  }
  return 1;
}

int fb__resp_pump(struct fb__conn *c) {
  struct fb__resp *r = &c->resp;
  uv_buf_t bufs[MAX_IOV];

  while (!c->closing) {
    uint64_t limit = c->o->cfg.max_write_queue, total;
    int rc, drain_wait = 0;
    unsigned n;

    if (r->seg == r->nsegs)
      return finish(c);
    if (r->rate != 0 && r->pos >= r->pace_from && r->pos < r->pace_to) {
      limit = paced(c, limit);
      if (limit == 0)
        return 0;
    } else if (r->rate != 0 && r->pos < r->pace_from &&
               limit > r->pace_from - r->pos) {
      limit = r->pace_from - r->pos;
    }
    if (r->direct && r->rate == 0 && c->o->corpus_fd >= 0 &&
        r->segs[r->seg].period == 0) {
      uv_os_fd_t fd;

      if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
        fb__conn_close(c);
        return -1;
      }
      rc = send_direct(c, fd, limit);
      if (rc < 0)
        return -1;
      if (rc == 1)
        continue;
      /* The socket is full. One byte through libuv waits for it to drain;
       * its callback goes on with sendfile.
       */
      limit = 1;
      drain_wait = 1;
    }
    n = gather(r, limit, bufs, &total);
    rc = drain_wait ? 0 : uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (rc == UV_EAGAIN || rc == UV_ENOSYS)
      rc = 0;
    if (rc < 0) {
      fb__conn_close(c);
      return -1;
    }
    advance(r, (uint64_t)rc);
    if ((uint64_t)rc == total)
      continue;
    /* The rest of this slice waits in libuv's queue; its buffers point into
     * the corpus or static patterns, so the queue holds no copies, and it
     * never holds more than max_write_queue bytes.
     */
    n = gather(r, total - (uint64_t)rc, bufs, &c->inflight);
    c->wreq.data = c;
    rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, on_write);
    if (rc < 0) {
      fb__conn_close(c);
      return -1;
    }
    c->writing = 1;
    fb__conn_timer(c, FB__PH_WRITE, c->o->cfg.idle_timeout_ms);
    return 0;
  }
  return -1;
}

void fb__resp_written(struct fb__conn *c, int status) {
  c->writing = 0;
  if (c->closing)
    return;
  if (status < 0) {
    fb__conn_close(c);
    return;
  }
  advance(&c->resp, c->inflight);
  c->inflight = 0;
  if (c->draining)
    return; /* a shutdown is queued behind this write */
  if (fb__resp_pump(c) == 1)
    fb__conn_response_done(c);
}

void fb__resp_timer(struct fb__conn *c) {
  int64_t early;

  switch (c->phase) {
  case FB__PH_DELAY:
    early = c->resp.due_ns - fb_clock_ns();
    if (early > 0) {
      fb__conn_at(c, FB__PH_DELAY, c->resp.due_ns);
      break;
    }
    /* fall through */
  case FB__PH_PACE:
    if (fb__resp_pump(c) == 1)
      fb__conn_response_done(c);
    break;
  case FB__PH_WRITE:
    /* The client has not taken a byte for the idle timeout. */
    fb__conn_reset(c);
    break;
  default:
    fb__conn_close(c);
    break;
  }
}
