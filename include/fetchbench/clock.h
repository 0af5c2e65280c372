/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_CLOCK_H
#define FETCHBENCH_CLOCK_H

#include <stdint.h>

/* Nanoseconds on CLOCK_MONOTONIC. Read fresh on every call: engines must not
 * time requests with a cached loop time.
 */
int64_t fb_clock_ns(void);

/* Nanoseconds since the epoch on CLOCK_REALTIME: wall-clock time, which
 * hosts can compare (as far as their clocks agree), but which may jump.
 * Only for saying when a run happened, never for timing it.
 */
int64_t fb_clock_real_ns(void);

#define FB_NS_PER_MS 1000000LL
#define FB_NS_PER_S 1000000000LL

#endif /* FETCHBENCH_CLOCK_H */
