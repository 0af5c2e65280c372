/* SPDX-License-Identifier: MIT */
#ifndef FB_ENGINES_DUETIMER_H
#define FB_ENGINES_DUETIMER_H

/* An alarm on a libuv loop for the open loop's due times: a timerfd armed
 * at an absolute time on fb_clock_ns()'s clock and polled by the loop. A
 * uv_timer counts whole milliseconds from a cached loop time, so requests
 * due every millisecond would start up to a millisecond late; this wakes
 * the loop within tens of microseconds.
 */

#include <stdint.h>
#include <uv.h>

struct fb__due_timer {
  int fd; /* the timerfd, -1 when none */
  uv_poll_t poll;
  int64_t armed; /* the time it is set for, 0: not set */
  void (*cb)(struct fb__due_timer *t);
};

/* Opens the timerfd and polls it on loop; cb runs once the armed time has
 * come (the timer is then unarmed). Returns 0, or a negative errno or libuv
 * code (t->fd is then -1 and nothing needs closing).
 */
int fb__due_timer_init(struct fb__due_timer *t, uv_loop_t *loop,
                       void (*cb)(struct fb__due_timer *t));

/* Sets the alarm for at_ns (replacing an earlier setting); a time already
 * past fires on the loop's next iteration. Returns 0 or -errno.
 */
int fb__due_timer_arm(struct fb__due_timer *t, int64_t at_ns);

/* Closes the poll handle (close_cb runs with it, as for uv_close) and the
 * timerfd. Safe when init failed.
 */
void fb__due_timer_close(struct fb__due_timer *t, uv_close_cb close_cb);

#endif /* FB_ENGINES_DUETIMER_H */
