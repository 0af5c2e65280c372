#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "fetchbench/clock.h"
#include "origin/origin_int.h"

/* Emulated latency has to be on time to the tenth of a millisecond: libuv's
 * timers count whole milliseconds on a cached clock, so a 100 ms delay came
 * out as 101.4 ms on average, and every engine's efficiency paid for it.
 * Connections waiting for a due time sit in a binary min-heap on due_ns; one
 * timerfd, armed at the heap's top on the absolute monotonic clock (the
 * clock of fb_clock_ns), wakes the loop through a uv_poll.
 */

static struct fb__conn *at(struct fb__alarms *a, size_t i) {
  return a->heap[i];
}

static void put(struct fb__alarms *a, size_t i, struct fb__conn *c) {
  a->heap[i] = c;
  c->alarm_slot = i + 1;
}

static void sift_up(struct fb__alarms *a, size_t i) {
  struct fb__conn *c = at(a, i);

  while (i > 0) {
    size_t parent = (i - 1) / 2;

    if (at(a, parent)->alarm_due <= c->alarm_due)
      break;
    put(a, i, at(a, parent));
    i = parent;
  }
  put(a, i, c);
}

static void sift_down(struct fb__alarms *a, size_t i) {
  struct fb__conn *c = at(a, i);

  for (;;) {
    size_t kid = 2 * i + 1;

    if (kid >= a->n)
      break;
    if (kid + 1 < a->n && at(a, kid + 1)->alarm_due < at(a, kid)->alarm_due)
      kid++;
    if (c->alarm_due <= at(a, kid)->alarm_due)
      break;
    put(a, i, at(a, kid));
    i = kid;
  }
  put(a, i, c);
}

/* Arms the timerfd for the heap's top, or disarms it; one syscall, and only
 * when the earliest due time changed.
 */
static void rearm(struct fb__alarms *a) {
  int64_t due = a->n > 0 ? at(a, 0)->alarm_due : 0;
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
  while (a->n > 0 && at(a, 0)->alarm_due <= now) {
    struct fb__conn *c = at(a, 0);

    fb__alarm_cancel(a, c);
    /* May set or cancel alarms: the heap is consistent here. */
    fb__conn_fire(c);
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
  /* Waiting connections keep the loop alive, not the alarm clock. */
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

int fb__alarm_set(struct fb__alarms *a, struct fb__conn *c, int64_t due_ns) {
  if (c->alarm_slot != 0)
    fb__alarm_cancel(a, c);
  if (a->fd < 0)
    return -EBADF;
  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 256;
    struct fb__conn **heap = realloc(a->heap, cap * sizeof(*heap));

    if (heap == NULL)
      return -ENOMEM;
    a->heap = heap;
    a->cap = cap;
  }
  c->alarm_due = due_ns > 0 ? due_ns : 1;
  put(a, a->n++, c);
  sift_up(a, a->n - 1);
  rearm(a);
  return 0;
}

void fb__alarm_cancel(struct fb__alarms *a, struct fb__conn *c) {
  size_t i = c->alarm_slot;
  struct fb__conn *last;

  if (i-- == 0)
    return;
  c->alarm_slot = 0;
  last = a->heap[--a->n];
  if (last == c)
    return;
  put(a, i, last);
  if (i > 0 && at(a, (i - 1) / 2)->alarm_due > last->alarm_due)
    sift_up(a, i);
  else
    sift_down(a, i);
}
