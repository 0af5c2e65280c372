/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "fetchbench/clock.h"
#include "origin/alarm.h"

/* Emulated latency has to be on time to the tenth of a millisecond: libuv's
 * timers count whole milliseconds on a cached clock, so a 100 ms delay came
 * out as 101.4 ms on average, and every engine's efficiency paid for it.
 * Alarms waiting for their due time sit in a binary min-heap on due; one
 * timerfd, armed at the heap's top on the absolute monotonic clock (the
 * clock of fb_clock_ns), wakes the loop through a uv_poll.
 */

static struct fb__alarm *at(const struct fb__alarms *a, size_t i) {
  return a->heap[i];
}

static void put(struct fb__alarms *a, size_t i, struct fb__alarm *e) {
  a->heap[i] = e;
  e->slot = i + 1;
}

static void sift_up(struct fb__alarms *a, size_t i) {
  struct fb__alarm *e = at(a, i);

  while (i > 0) {
    size_t parent = (i - 1) / 2;

    if (at(a, parent)->due <= e->due)
      break;
    put(a, i, at(a, parent));
    i = parent;
  }
  put(a, i, e);
}

static void sift_down(struct fb__alarms *a, size_t i) {
  struct fb__alarm *e = at(a, i);

  for (;;) {
    size_t kid = 2 * i + 1;

    if (kid >= a->n)
      break;
    if (kid + 1 < a->n && at(a, kid + 1)->due < at(a, kid)->due)
      kid++;
    if (e->due <= at(a, kid)->due)
      break;
    put(a, i, at(a, kid));
    i = kid;
  }
  put(a, i, e);
}

/* Arms the timerfd for the heap's top, or disarms it; one syscall, and only
 * when the earliest due time changed.
 */
static void rearm(struct fb__alarms *a) {
  int64_t due = a->n > 0 ? at(a, 0)->due : 0;
  struct itimerspec its = {{0, 0}, {0, 0}};

  if (due == a->armed)
    return;
  a->armed = due;
  if (due > 0) {
    its.it_value.tv_sec = due / FB_NS_PER_S;
    its.it_value.tv_nsec = due % FB_NS_PER_S;
  }
  timerfd_settime(a->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  struct fb__alarms *a = p->data;
  uint64_t expirations;
  int64_t now;

  (void)status;
  (void)events;
  /* Clears the readiness. It fails with EAGAIN when the timer was moved to
   * a later time since: then nothing is due, and rearm() sets it again.
   */
  if (read(a->fd, &expirations, sizeof(expirations)) < 0)
    expirations = 0;
  a->armed = 0;
  now = fb_clock_ns();
  while (a->n > 0 && at(a, 0)->due <= now) {
    struct fb__alarm *e = at(a, 0);

    fb__alarm_cancel(a, e);
    /* May set or cancel alarms: the heap is consistent here. */
    e->fire(e);
  }
  rearm(a);
}

int fb__alarms_init(struct fb__alarms *a, uv_loop_t *loop) {
  int rc;

  a->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (a->fd < 0)
    return -errno;
  rc = uv_poll_init(loop, &a->poll, a->fd);
  if (rc == 0)
    rc = uv_poll_start(&a->poll, UV_READABLE, on_poll);
  if (rc != 0) {
    close(a->fd);
    a->fd = -1;
    return rc;
  }
  a->poll.data = a;
  /* Owners keep the loop alive with their handles, not the alarm clock. */
  uv_unref((uv_handle_t *)&a->poll);
  return 0;
}

void fb__alarms_free(struct fb__alarms *a) {
  if (a->fd >= 0)
    close(a->fd);
  a->fd = -1;
  free(a->heap);
  a->heap = NULL;
  a->n = a->cap = 0;
}

int fb__alarm_set(struct fb__alarms *a, struct fb__alarm *e, int64_t due_ns) {
  if (e->slot != 0)
    fb__alarm_cancel(a, e);
  if (a->fd < 0)
    return -EBADF;
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 256;
    struct fb__alarm **heap = realloc(a->heap, cap * sizeof(*heap));

    if (heap == NULL)
      return -ENOMEM;
    a->heap = heap;
    a->cap = cap;
  }
  e->due = due_ns > 0 ? due_ns : 1;
  put(a, a->n++, e);
  sift_up(a, a->n - 1);
  rearm(a);
  return 0;
}

void fb__alarm_cancel(struct fb__alarms *a, struct fb__alarm *e) {
  size_t i = e->slot;
  struct fb__alarm *last;

  if (i-- == 0)
    return;
  e->slot = 0;
  last = a->heap[--a->n];
  if (last == e)
    return;
  put(a, i, last);
  if (i > 0 && at(a, (i - 1) / 2)->due > last->due)
    sift_up(a, i);
  else
    sift_down(a, i);
}
