/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "engines/duetimer.h"
#include "fetchbench/clock.h"

static void on_poll(uv_poll_t *h, int status, int events) {
  struct fb__due_timer *t = h->data;
  uint64_t expirations;

  (void)status;
  (void)events;
  /* Clears the readiness; EAGAIN when it was re-armed for later since. */
  if (read(t->fd, &expirations, sizeof(expirations)) < 0 &&
      fb_clock_ns() < t->armed)
    return;
  t->armed = 0;
  t->cb(t);
}

int fb__due_timer_init(struct fb__due_timer *t, uv_loop_t *loop,
                       void (*cb)(struct fb__due_timer *t)) {
  int rc;

  t->armed = 0;
  t->cb = cb;
  t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (t->fd < 0)
    return -errno;
  rc = uv_poll_init(loop, &t->poll, t->fd);
  if (rc == 0) {
    t->poll.data = t;
    rc = uv_poll_start(&t->poll, UV_READABLE, on_poll);
    if (rc != 0)
      uv_close((uv_handle_t *)&t->poll, NULL);
  }
  if (rc != 0) {
    close(t->fd);
    t->fd = -1;
  }
  return rc;
}

int fb__due_timer_arm(struct fb__due_timer *t, int64_t at_ns) {
  struct itimerspec its = {{0, 0}, {0, 0}};

  if (t->armed == at_ns)
    return 0;
  /* 0 would disarm it: a time in the past is 1 ns after the epoch. */
  if (at_ns <= 0)
    at_ns = 1;
  its.it_value.tv_sec = at_ns / FB_NS_PER_S;
  its.it_value.tv_nsec = at_ns % FB_NS_PER_S;
  if (timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
    return -errno;
  t->armed = at_ns;
  return 0;
}

void fb__due_timer_close(struct fb__due_timer *t, uv_close_cb close_cb) {
  if (t->fd < 0)
    return;
  uv_close((uv_handle_t *)&t->poll, close_cb);
  close(t->fd);
  t->fd = -1;
}
