/* SPDX-License-Identifier: MIT */
#ifndef FB_ORIGIN_ALARM_H
#define FB_ORIGIN_ALARM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* The origin's alarm clock: wake-ups on the nanosecond (fb_clock_ns), for
 * emulated latency, pacing and round trips. An alarm is embedded in its
 * owner, which gets back to itself from the alarm pointer in fire (with
 * FB__CONTAINER_OF).
 */
struct fb__alarm {
  int64_t due;                       /* fb_clock_ns time, while set */
  size_t slot;                       /* heap index + 1, 0 when not set */
  void (*fire)(struct fb__alarm *a); /* runs once due; a is unset by then */
};

/* The clock: alarms in a binary min-heap on due, one timerfd armed at the
 * heap's top, polled on the loop (unreferenced: pending alarms do not keep
 * the loop alive, their owners' handles do).
 */
struct fb__alarms {
  int fd; /* a timerfd, or -1 */
  uv_poll_t poll;
  struct fb__alarm **heap;
  size_t n, cap;
  int64_t armed; /* the due time the timerfd is set for, 0 when unset */
};

#define FB__CONTAINER_OF(ptr, type, member)                                    \
  ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Opens the timerfd and polls it on loop. Returns 0 or a negative errno; on
 * failure a->fd is -1 and fb__alarm_set fails.
 */
int fb__alarms_init(struct fb__alarms *a, uv_loop_t *loop);

/* Closes the timerfd and frees the heap; the poll handle must be closed
 * (uv_close on a->poll, as for every handle of the loop).
 */
void fb__alarms_free(struct fb__alarms *a);

/* Sets alarm to fire once fb_clock_ns() >= due_ns, replacing its pending
 * time if set; alarm->fire must be set. Fire callbacks may set and cancel
 * any alarm. Returns 0, or a negative errno with the alarm unset.
 */
int fb__alarm_set(struct fb__alarms *a, struct fb__alarm *alarm,
                  int64_t due_ns);

/* Unsets alarm if it is set. */
void fb__alarm_cancel(struct fb__alarms *a, struct fb__alarm *alarm);

#endif /* FB_ORIGIN_ALARM_H */
