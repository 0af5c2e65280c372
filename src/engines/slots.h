/* SPDX-License-Identifier: MIT */
#ifndef FB_ENGINES_SLOTS_H
#define FB_ENGINES_SLOTS_H

/* The transfer slots of the loop engines on the HTTP/1.1 client core (raw
 * on libuv, uring on io_uring): what does not depend on how the loop waits.
 * The run's client, one struct fb_client_conn per slot and a free list; the
 * refill of free slots in bursts, with the open loop's gate; the end of a
 * request (its result delivered, the slot freed, the connections of the
 * last lap closed); the machinery's first failure; the cancel flag; and, at
 * the end, the transfers still in flight accounted for. The engine owns the
 * loop, the sockets and the timers: it embeds struct fb__slot first in its
 * own slot and answers the calls of struct fb__slots_ops.
 *
 * Refills go in bursts of at most FB__SLOTS_BURST URLs a loop turn, once the
 * turn's events have been handled, so that requests leave together and the
 * first fill of a thousand slots sends requests while later connections are
 * still being opened.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "client/client.h"
#include "engines/testhooks.h"
#include "fetchbench/collector.h"
#include "fetchbench/job.h"
#include "fetchbench/result.h"

#define FB__SLOTS_BURST 64u

struct fb__slots;

/* The head of an engine's slot. */
struct fb__slot {
  struct fb_client_conn cc; /* first: 64-byte aligned */
  struct fb__slot *next_free;
  struct fb__slots *p;
  uint8_t busy; /* a request is in flight */
};

/* What the slots ask of the engine: positional in each engine (one line). */
struct fb__slots_ops {
  /* The core's ops on slot s, handed out by fb__slots_drive (client.h):
   * close its socket, connect to addr, send act's bytes; wait: nothing to
   * do until an event, the timer set for fb_client_deadline.
   */
  void (*close)(struct fb__slot *s);
  void (*connect)(struct fb__slot *s, const struct sockaddr *addr,
                  socklen_t len);
  void (*send)(struct fb__slot *s, const struct fb_client_action *act);
  void (*wait)(struct fb__slot *s);

  /* Leaves the loop: the run is over, cancelled or broken. */
  void (*stop)(struct fb__slots *p);

  /* A slot came free while URLs are left: call fb__slots_burst once the
   * events of this loop turn have been handled.
   */
  void (*refill_soon)(struct fb__slots *p);

  /* The burst ran out with free slots and URLs left: call fb__slots_burst
   * on the next turn, without blocking for events first.
   */
  void (*refill_next)(struct fb__slots *p);

  /* Open loop: call fb__slots_burst once at_ns (fb_clock_ns) has come.
   * Returns 0, or a negative errno (the run then fails).
   */
  int (*refill_at)(struct fb__slots *p, int64_t at_ns);
};

struct fb__slots {
  const struct fb__slots_ops *ops;
  int kept; /* teardown left the engine's memory in place (still in use) */
  const char *engine; /* name, for messages */
  const struct fb_job *job;
  struct fb_collector *c;
  struct fb_client *cl;
  char *mem;     /* the engine's slots, stride bytes apart */
  size_t stride; /* sizeof the engine's slot */
  unsigned nslots;
  struct fb__slot *free;
  size_t n;    /* URLs */
  size_t next; /* next URL index to start */
  unsigned in_flight;
  unsigned budget; /* URLs this burst may still start */
  int last_lap;    /* every URL started: idle connections were closed */
  int err;         /* first failure of the machinery, 0: none */
  char why[FB_MESSAGE_MAX];    /* what failed, for the not_run results */
  int cancelled;               /* job->cancel seen */
  struct fb__loop_counters *k; /* the engine's counters */
};

/* What fb__slots_begin and fb__slots_finish need of a loop engine. Its
 * state is `size` bytes, zeroed, starting with its struct fb__slots.
 */
struct fb__slots_engine {
  unsigned max_workers;
  size_t size;

  /* Makes the loop and the slots (fb__slots_init first). Returns 0 or the
   * failure recorded (fb__slots_fail); teardown follows either way.
   */
  int (*setup)(struct fb__slots *p, const struct fb_job *job,
               struct fb_collector *c);

  /* Closes every socket and the loop, frees what setup made
   * (fb__slots_cleanup), and hands the counters to a test build's hook
   * (testhooks.h; loop_closed unless kept). Returns 0 or a negative code;
   * sets p->kept when the loop or the kernel may still refer to the
   * engine's memory, which then stays.
   */
  int (*teardown)(struct fb__slots *p);
};

/* The start of struct fb_engine's run() for engine e: workers checked, the
 * state made, setup timed (the stats' setup_ns, workers_started and
 * workers_max), the first fill. Returns 1 when the engine's loop is to run
 * now, 0 when not (finished, cancelled or failed already), both with *out;
 * or the run's negative error when not even the state could be made
 * (every URL then has its result, and *out is NULL).
 */
int fb__slots_begin(const struct fb__slots_engine *e, const struct fb_job *job,
                    struct fb_collector *c, struct fb__slots **out);

/* Whether the loop has work left: no failure, no cancel, URLs to finish. */
int fb__slots_running(const struct fb__slots *p);

/* The end of run(), after the loop: fb__slots_end, teardown, the state
 * freed (unless kept). Returns the run's error, or teardown's when the run
 * had none.
 */
int fb__slots_finish(const struct fb__slots_engine *e, struct fb__slots *p);

/* Makes p the slots of a run of job into c for engine (its name, static):
 * checks that the open-files limit leaves machinery_fds descriptors for the
 * engine's loop (before the engine creates any: fb__engine_check_fds),
 * creates the client, and allocates min(workers, URLs) slots of stride
 * bytes (a multiple of 64), zeroed, each with its connection initialised
 * and on the free list (slot 0 first). k receives the counters. Returns 0,
 * or the failure recorded (fb__slots_fail).
 */
int fb__slots_init(struct fb__slots *p, const struct fb__slots_ops *ops,
                   const char *engine, unsigned machinery_fds, size_t stride,
                   const struct fb_job *job, struct fb_collector *c,
                   struct fb__loop_counters *k);

/* Slot i, 0 <= i < p->nslots. */
static inline struct fb__slot *fb__slots_at(const struct fb__slots *p,
                                            unsigned i) {
  return (struct fb__slot *)(void *)(p->mem + (size_t)i * p->stride);
}

/* Records the machinery's first failure (err, and why as printf) and stops
 * the loop; fb__slots_end then accounts for every transfer in flight.
 * Returns err.
 */
int fb__slots_fail(struct fb__slots *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every URL started and ended. */
int fb__slots_finished(const struct fb__slots *p);

/* Starts URLs on free slots until none is free or ready, at most the
 * burst's budget (then refill_next is asked for): the run's first fill,
 * before the loop.
 */
void fb__slots_refill(struct fb__slots *p);

/* A new burst: unless the run failed or was cancelled, counts a refill and
 * starts up to FB__SLOTS_BURST URLs (fb__slots_refill).
 */
void fb__slots_burst(struct fb__slots *p);

/* Does what the core asks of slot s (fb_client_next) until it waits, through
 * the engine's ops; DONE is fb__slots_done. Call it after every event the
 * engine gave the core.
 */
void fb__slots_drive(struct fb__slot *s);

/* Slot s said DONE: delivers its result and frees it; once every URL has
 * started, its connection is released; stops the loop when the run is
 * finished, or asks for a refill.
 */
void fb__slots_done(struct fb__slots *p, struct fb__slot *s);

/* Looks at job->cancel: when raised, the run is cancelled and the loop
 * stopped.
 */
void fb__slots_watch(struct fb__slots *p);

/* After the loop: the transfers still in flight (cancelled, or lost when
 * the machinery broke) aborted through the engine's drive, the empty
 * results filled (fb__engine_finish), and the core's counters copied into
 * k. Returns the run's error (0, FB_ECANCELED, or the failure).
 */
int fb__slots_end(struct fb__slots *p);

/* Frees what fb__slots_init made (what it did make: safe after a failed
 * init), once the engine has closed its sockets.
 */
void fb__slots_cleanup(struct fb__slots *p);

#endif /* FB_ENGINES_SLOTS_H */
