/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "fetchbench/clock.h"

int64_t fb_clock_ns(void) {
  struct timespec ts;

  /* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * FB_NS_PER_S + ts.tv_nsec;
}

int64_t fb_clock_real_ns(void) {
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * FB_NS_PER_S + ts.tv_nsec;
}
