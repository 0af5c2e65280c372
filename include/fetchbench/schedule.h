/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_SCHEDULE_H
#define FETCHBENCH_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

/* The arrival schedule of an open-loop run: request i is due at due_ns[i]
 * after the run's start, whatever became of the requests before it. An
 * engine starts it when it is due and a worker or slot is free; until then
 * it waits in the engine's queue, and the wait counts in its latency from
 * the due time (corrected latency, as wrk2 and vegeta report it).
 */
enum fb_arrival {
  FB_ARRIVAL_UNIFORM, /* every 1/rate seconds */
  FB_ARRIVAL_POISSON  /* exponential gaps of mean 1/rate, seeded */
};

struct fb_schedule {
  double rate; /* requests per second asked for */
  enum fb_arrival arrival;
  uint64_t seed;
  size_t n;
  int64_t *due_ns; /* [n], non-decreasing, due_ns[0] = 0 */
};

/* Makes the schedule of n requests at rate per second (0 < rate <=
 * FB_SCHEDULE_MAX_RATE) in *out. Poisson arrivals are the same for the same
 * seed. Returns 0, FB_ERANGE or -ENOMEM.
 */
#define FB_SCHEDULE_MAX_RATE 1e7
int fb_schedule_create(struct fb_schedule **out, size_t n, double rate,
                       enum fb_arrival arrival, uint64_t seed);

/* Frees s. NULL is allowed. */
void fb_schedule_destroy(struct fb_schedule *s);

/* When request i is due, in ns from the run's start: 0 without a schedule
 * (a closed loop: everything is due at once). */
static inline int64_t fb_schedule_due(const struct fb_schedule *s, size_t i) {
  return s != NULL && i < s->n ? s->due_ns[i] : 0;
}

/* "uniform" or "poisson"; parses them back (returns -1 for another). */
const char *fb_arrival_name(enum fb_arrival a);
int fb_arrival_parse(const char *name);

#endif /* FETCHBENCH_SCHEDULE_H */
