/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_COLLECTOR_H
#define FETCHBENCH_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "result.h"

/* The collector holds one slot per URL index and enforces the run's rule:
 * every index receives exactly one result. A second result for a slot is
 * refused and counted; an empty slot at the end is a lost result and fails
 * the run (fb_collector_check).
 *
 * Threads may call fb_collector_put concurrently for *distinct* indices
 * without a lock; the slot's state is claimed atomically, so even a buggy
 * double delivery from two threads is detected rather than torn. Everything
 * else is for the thread that created the collector.
 */
struct fb_collector;

/* Room for an engine's note on what it used (fb_engine_stats.features). */
#define FB_ENGINE_FEATURES_MAX 160

/* What an engine reports about itself beside the results. The engine's
 * controlling thread writes it (fb_collector_stats) during run().
 */
struct fb_engine_stats {
  int64_t setup_ns;           /* starting threads/processes/loop, in wall */
  int64_t bare_fork_ns;       /* processes with job->measure_fork: one of
                               * as many bare fork()s of the same parent in
                               * a row as it has workers, 0: not timed */
  uint64_t thread_stack;      /* threads: stack size per thread, bytes */
  unsigned chunk;             /* processes: URLs handed out per request */
  unsigned workers_started;   /* threads or processes started, respawns too */
  unsigned workers_max;       /* most workers (or slots) alive at once */
  int workers_err;            /* why fewer than asked could start (-errno) */
  unsigned workers_lost;      /* workers that died during the run */
  struct timeval child_utime; /* CPU of reaped children (wait4) */
  struct timeval child_stime;
  long child_max_rss_kib; /* largest reaped child's peak RSS */
  long child_rss_sum_kib; /* sum of every reaped child's peak RSS */
  /* What the engine chose on this system that a reader of its figures
   * should know, one line ("io_uring: buffer ring, multishot recv, ..."),
   * "" when nothing.
   */
  char features[FB_ENGINE_FEATURES_MAX];
};

/* Creates a collector for n URLs (n >= 1) in *out. Its clock zero t0 is set
 * to now; fb_collector_restart moves it. Returns 0, FB_ERANGE or -ENOMEM.
 */
int fb_collector_create(struct fb_collector **out, size_t n);

/* Frees the collector and every message it copied. NULL is allowed. */
void fb_collector_destroy(struct fb_collector *c);

/* Sets t0 to now. Call it right before starting an engine. */
void fb_collector_restart(struct fb_collector *c);

/* The run's clock zero, in fb_clock_ns() nanoseconds. */
int64_t fb_collector_t0(const struct fb_collector *c);

/* Number of slots. */
size_t fb_collector_size(const struct fb_collector *c);

/* Stores a copy of *r in slot r->index, including a copy of the string
 * r->message points to (which may be transient; NULL or "" store no message,
 * longer than FB_MESSAGE_MAX - 1 bytes is cut). Returns 0; FB_ERANGE for an
 * index out of range; FB_EDUPLICATE when the slot is already filled (the
 * first result is kept and the duplicate counted); -ENOMEM when the message
 * cannot be copied (the result is stored without it).
 */
int fb_collector_put(struct fb_collector *c, const struct fb_result *r);

/* Fills every empty slot with outcome (FB_OUTCOME_CANCELLED or
 * FB_OUTCOME_NOT_RUN) and message. Returns how many slots it filled. For
 * engines that stop early; never use it to hide a lost result.
 */
size_t fb_collector_fill(struct fb_collector *c, enum fb_outcome outcome,
                         const char *message);

/* Slot i, or NULL when it is empty. Borrowed: valid until destroy. */
const struct fb_result *fb_collector_get(const struct fb_collector *c,
                                         size_t i);

/* Counts of filled slots, empty slots and refused duplicates. */
size_t fb_collector_filled(const struct fb_collector *c);
size_t fb_collector_missing(const struct fb_collector *c);
size_t fb_collector_duplicates(const struct fb_collector *c);

/* Checks the rule at the end of a run: returns 0 when every slot holds one
 * result and no duplicate was offered; FB_ELOST when a slot is empty (the
 * first empty index goes to *first_bad); FB_EDUPLICATE otherwise (the first
 * index offered twice goes to *first_bad). first_bad may be NULL.
 */
int fb_collector_check(const struct fb_collector *c, size_t *first_bad);

/* The engine's statistics; writable by the engine during run(). */
struct fb_engine_stats *fb_collector_stats(struct fb_collector *c);
const struct fb_engine_stats *
fb_collector_stats_const(const struct fb_collector *c);

#endif /* FETCHBENCH_COLLECTOR_H */
