/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/clock.h"
#include "origin/origin_int.h"

/* The response in c->resp, a list of segments, goes out through the stream
 * below: after its delay, paced when asked, and with sendfile for large
 * corpus segments when the stream can (plain TCP).
 */

#define MAX_IOV FB__MAX_IOV

void fb__writer_add(struct fb__resp *r, const void *base, uint64_t len,
                    size_t period) {
  if (len == 0 || r->nsegs == FB__MAX_SEGS)
    return;
  r->segs[r->nsegs++] = (struct fb__seg){base, len, period, -1};
}

void fb__writer_add_file(struct fb__resp *r, const void *base, uint64_t len,
                         int64_t file_off) {
  if (len == 0 || r->nsegs == FB__MAX_SEGS)
    return;
  r->segs[r->nsegs++] = (struct fb__seg){base, len, 0, file_off};
  r->direct = file_off >= 0;
}

void fb__writer_clear(struct fb__conn *c) {
  free(c->resp.owned);
  memset(&c->resp, 0, sizeof(c->resp));
}

const char *fb__writer_printf(struct fb__conn *c, size_t *len, const char *fmt,
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

static void on_tick(struct fb__conn *c);

/* Everything is written: what the response asked for next. Returns 1 when
 * the connection goes on with the next request.
 */
static int finish(struct fb__conn *c) {
  c->o->stats.responses++;
  switch (c->resp.after) {
  case FB__AFTER_KEEP:
    fb__writer_clear(c);
    return 1;
  case FB__AFTER_STALL:
    c->phase = FB__PH_STALL;
    fb__tcp_timer(c, c->o->cfg.idle_timeout_ms, on_tick);
    return 0;
  case FB__AFTER_RESET:
    c->ended = 1;
    c->stream->reset(c);
    return -1;
  case FB__AFTER_CUT:
    c->ended = 1;
    c->stream->cut(c);
    return 0;
  case FB__AFTER_CLOSE:
  default:
    c->ended = 1;
    c->stream->shutdown(c);
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

    c->phase = FB__PH_PACE;
    fb__tcp_at(c, due > (double)now ? (int64_t)due : now, on_tick);
    return 0;
  }
  if ((double)limit > allowed)
    limit = (uint64_t)allowed;
  if (limit > r->pace_to - r->pos)
    limit = r->pace_to - r->pos;
  return limit;
}

/* Below FB__SENDFILE_MIN, a file segment is copied rather than sent with
 * sendfile: one sendmsg of head and body costs less than a sendmsg and a
 * sendfile (measured on loopback: the origin's CPU per small response fell
 * by a fifth).
 */
static int by_sendfile(const struct fb__seg *s, uint64_t off) {
  return s->file_off >= 0 && s->len - off >= FB__SENDFILE_MIN;
}

/* The zero-copy path for a response with corpus file segments: its plain
 * and small file segments with sendmsg (MSG_MORE while sendfile bytes
 * follow, so a head and its body share packets), large file segments with
 * sendfile. Returns 1 when limit bytes (or the rest) went out, 0 when the
 * socket is full (or the flight held), -1 when the connection failed.
 */
static int send_direct(struct fb__conn *c, uint64_t limit) {
  struct fb__resp *r = &c->resp;

  while (limit > 0 && r->seg < r->nsegs) {
    const struct fb__seg *seg = &r->segs[r->seg];
    uint64_t want;
    ssize_t n;

    if (by_sendfile(seg, r->seg_off)) {
      want = seg->len - r->seg_off;
      if (want > limit)
        want = limit;
      if (want > (1u << 30))
        want = 1u << 30;
      n = c->stream->sendfile(c, c->o->corpus_fd,
                              seg->file_off + (int64_t)r->seg_off,
                              (size_t)want);
      if (n > 0)
        c->o->stats.body_sendfile += (uint64_t)n;
    } else {
      struct iovec iov[MAX_IOV];
      int s = r->seg, more = 0, niov = 0;
      uint64_t soff = r->seg_off;

      want = 0;
      while (s < r->nsegs && niov < MAX_IOV && want < limit) {
        const struct fb__seg *p = &r->segs[s];
        uint64_t take = p->len - soff;

        if (by_sendfile(p, soff) || p->period != 0) {
          more = p->file_off >= 0;
          break;
        }
        if (take > limit - want)
          take = limit - want;
        iov[niov].iov_base = (char *)p->base + soff;
        iov[niov++].iov_len = (size_t)take;
        want += take;
        s++;
        soff = 0;
      }
      if (want == 0)
        return 1; /* a repeated segment: the generic path sends it */
      n = c->stream->send(c, iov, niov, more);
    }
    if (n < 0)
      return -1;
    advance(r, (uint64_t)n);
    limit -= (uint64_t)n;
    if ((uint64_t)n < want)
      return 0;
  }
  return 1;
}

int fb__writer_pump(struct fb__conn *c) {
  struct fb__resp *r = &c->resp;
  uint64_t slice = c->o->cfg.max_write_queue;
  uv_buf_t bufs[MAX_IOV];

  if (c->stream->max_slice != 0 && slice > c->stream->max_slice)
    slice = c->stream->max_slice;
  while (!c->ended && !c->t.closing) {
    uint64_t limit = slice, total;
    unsigned n;
    int rc;

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
        c->stream->sendfile != NULL && r->segs[r->seg].period == 0) {
      rc = send_direct(c, limit);
      if (rc < 0)
        return -1;
      if (rc == 1)
        continue;
      /* The socket is full. One byte through a write waits for it to
       * drain; its callback goes on with sendfile.
       */
      limit = 1;
    }
    /* The stream takes the slice whole; the buffers point into the corpus,
     * static patterns or the response's own memory, so nothing is copied
     * and no more than a slice is ever queued.
     */
    n = gather(r, limit, bufs, &total);
    advance(r, total);
    rc = c->stream->write(c, bufs, n);
    if (rc < 0)
      return -1;
    if (rc == 1)
      continue;
    c->phase = FB__PH_WRITE;
    fb__tcp_timer(c, c->o->cfg.idle_timeout_ms, on_tick);
    return 0;
  }
  return -1;
}

int fb__writer_start(struct fb__conn *c) {
  if (c->resp.delay_ms > 0) {
    c->resp.due_ns = fb_clock_ns() + (int64_t)c->resp.delay_ms * FB_NS_PER_MS;
    c->phase = FB__PH_DELAY;
    fb__tcp_at(c, c->resp.due_ns, on_tick);
    return 0;
  }
  return fb__writer_pump(c);
}

/* The writer's timer or alarm: a delay or a pacing wait ended, or a write
 * or a stall outlasted the idle timeout.
 */
static void on_tick(struct fb__conn *c) {
  switch (c->phase) {
  case FB__PH_DELAY:
    if (c->resp.due_ns > fb_clock_ns()) {
      fb__tcp_at(c, c->resp.due_ns, on_tick);
      break;
    }
    fb__tcp_flight(c);
    /* fall through */
  case FB__PH_PACE:
    if (fb__writer_pump(c) == 1)
      c->response_done(c);
    break;
  case FB__PH_WRITE:
    /* The client has not taken a byte for the idle timeout. */
    c->ended = 1;
    c->stream->reset(c);
    break;
  default:
    c->ended = 1;
    c->stream->close(c);
    break;
  }
}
