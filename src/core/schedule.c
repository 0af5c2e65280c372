/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/clock.h"
#include "fetchbench/error.h"
#include "fetchbench/schedule.h"

/* splitmix64: a seeded stream of 64-bit values, enough for arrival gaps. */
static uint64_t next_u64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so its logarithm is finite. */
static double unit(uint64_t *state) {
  return ((double)(next_u64(state) >> 11) + 1.0) / 9007199254740992.0;
}

int fb_schedule_create(struct fb_schedule **out, size_t n, double rate,
                       enum fb_arrival arrival, uint64_t seed) {
  struct fb_schedule *s;
  uint64_t state = seed;
  double t = 0;

  *out = NULL;
  if (n == 0 || !(rate > 0) || rate > FB_SCHEDULE_MAX_RATE ||
      (arrival != FB_ARRIVAL_UNIFORM && arrival != FB_ARRIVAL_POISSON))
    return FB_ERANGE;
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return -ENOMEM;
  s->due_ns = malloc(n * sizeof(*s->due_ns));
  if (s->due_ns == NULL) {
    free(s);
    return -ENOMEM;
  }
  s->rate = rate;
  s->arrival = arrival;
  s->seed = seed;
  s->n = n;
  /* Times are kept in double seconds and rounded once per request, so that
   * a uniform schedule does not drift by a rounding error per step.
   */
  for (size_t i = 0; i < n; i++) {
    if (arrival == FB_ARRIVAL_UNIFORM)
      t = (double)i / rate;
    else if (i > 0)
      t += -log(unit(&state)) / rate;
    s->due_ns[i] = (int64_t)llround(t * (double)FB_NS_PER_S);
  }
  *out = s;
  return 0;
}

void fb_schedule_destroy(struct fb_schedule *s) {
  if (s == NULL)
    return;
  free(s->due_ns);
  free(s);
}

const char *fb_arrival_name(enum fb_arrival a) {
  return a == FB_ARRIVAL_POISSON ? "poisson" : "uniform";
}

int fb_arrival_parse(const char *name) {
  if (strcmp(name, "uniform") == 0)
    return FB_ARRIVAL_UNIFORM;
  if (strcmp(name, "poisson") == 0)
    return FB_ARRIVAL_POISSON;
  return -1;
}
