/* SPDX-License-Identifier: MIT */
#ifndef FB_ENGINES_TESTHOOKS_H
#define FB_ENGINES_TESTHOOKS_H

/* The engines' test seam, after curl's UNITTEST: the engines are compiled a
 * second time with FB_UNITTEST defined (tests/meson.build links the test
 * programs with that build), and only then do the hooks below exist. The
 * fetchbench program, the benches and the fuzz targets are built without
 * them: no public struct carries a test-only field, and no production binary
 * holds a mutable hook.
 */

#include <stddef.h>
#include <stdint.h>

/* What the async engine's loop did, for tests and for curiosity; counted in
 * every build, published only to a test build's hook.
 */
struct fb__async_counters {
  uint64_t actions;           /* curl_multi_socket_action calls */
  uint64_t timer_fires;       /* uv_timer expiries: timeouts over 0 ms */
  uint64_t zero_timeouts;     /* timeouts of 0 ms libcurl asked for */
  uint64_t kicks;             /* ... run on the next loop iteration */
  uint64_t refills;           /* batches of new transfers added */
  unsigned shards;            /* multi handles */
  uint64_t poll_events;       /* poll callbacks */
  uint64_t poll_errors;       /* ... with a status < 0 */
  uint64_t poll_inits;        /* uv_poll_init calls (distinct fd numbers) */
  uint64_t poll_starts;       /* uv_poll_start calls */
  uint64_t poll_stops;        /* uv_poll_stop calls */
  uint64_t idle_events;       /* poll events on sockets libcurl let go of */
  uint64_t stale_sockets;     /* new sockets on an fd number still polled */
  uint64_t closes;            /* sockets closed through on_close_socket */
  uint64_t closes_in_run;     /* ... before teardown */
  unsigned last_lap;          /* transfers told to close their connection */
  uint64_t untracked_sockets; /* sockets not opened through on_sockopt */
  uint64_t untracked_removes; /* ... and their CURL_POLL_REMOVEs */
  unsigned max_in_flight;
  int loop_closed; /* uv_loop_close returned 0 */
};

/* What a loop engine on the HTTP/1.1 client core did (raw, uring), with
 * its core, counted in every build, published only to a test build's hook.
 */
struct fb__loop_counters {
  uint64_t connects;        /* connections the core asked for */
  uint64_t reuses;          /* requests on a kept-alive connection */
  uint64_t retries;         /* ... sent again on a new one */
  uint64_t redirects;       /* redirects followed */
  uint64_t idle_closes;     /* kept-alive connections the server closed */
  uint64_t reads;           /* reads that brought bytes */
  uint64_t timer_fires;     /* slot timers that fired */
  uint64_t refills;         /* refill bursts */
  uint64_t closes;          /* sockets closed */
  uint64_t closes_in_run;   /* ... before teardown */
  uint64_t waited_connects; /* connects that waited for a socket's close */
  unsigned dns_lookups;     /* host names resolved with getaddrinfo */
  unsigned max_in_flight;
  int loop_closed; /* the loop (or ring) closed with nothing left in it */
};

/* The io_uring features the uring engine uses where the kernel has them
 * (a test build can turn each off: fb__test_hooks.uring_off).
 */
#define FB__URING_BUF_RING 0x01u     /* receives into a provided-buffer ring */
#define FB__URING_MULTISHOT 0x02u    /* one multishot receive per connection */
#define FB__URING_LINK_TIMEOUT 0x04u /* connects with a linked timeout */
#define FB__URING_TIMEOUT_UPDATE 0x08u /* slot timeouts moved in place */
#define FB__URING_EXT_ARG 0x10u /* the cancel watch as the wait's timeout */
#define FB__URING_DEFER_TASKRUN 0x20u /* completions run when the loop waits */
#define FB__URING_TASKRUN 0x40u /* ... and are asked for again while held */

/* What the uring engine's loop did, counted in every build, published only
 * to a test build's hook.
 */
struct fb__uring_counters {
  struct fb__loop_counters loop; /* as raw counts them */
  uint64_t turns;                /* loop turns (each a wait for completions) */
  uint64_t submits;        /* io_uring_enter calls: turns, flushes and passes */
  uint64_t flushes;        /* ... of a full submission queue within a turn */
  uint64_t sqes;           /* submission queue entries filled */
  uint64_t cqes;           /* completions handled */
  uint64_t recv_arms;      /* receives (or polls) submitted */
  uint64_t nobufs;         /* receives that found no buffer in the ring */
  uint64_t cancels;        /* cancel requests submitted */
  uint64_t timer_sqes;     /* slot timeouts added, moved or removed */
  uint64_t link_fires;     /* linked connect timeouts that fired */
  uint64_t taskrun_passes; /* enters within a turn for held completions */
  uint64_t taskrun_left;   /* turns that stopped with some still held */
  unsigned features;       /* FB__URING_* in use at the end of the run */
  unsigned buffers;        /* buffers in the ring */
  unsigned buffer_size;    /* bytes each */
  unsigned sq_entries;
  unsigned cq_entries;
};

#ifdef FB_UNITTEST

struct fb__test_hooks {
  /* Called by the worker (thread, child process or loop) right before it
   * starts request index.
   */
  void (*before_request)(size_t index, void *arg);
  void *arg;

  /* processes: a worker calls it instead of writing each result record
   * (len bytes at record, for URL index) to fd, its end of the result pipe.
   * It writes what it likes, then returns (the worker goes on) or _exits.
   * Workers inherit it through fork.
   */
  void (*result_write)(int fd, const void *record, size_t len, size_t index);

  /* async: where the loop's counters go at the end of a run. */
  struct fb__async_counters *async_counters;

  /* raw: the same. */
  struct fb__loop_counters *raw_counters;

  /* uring: the same, and the features (FB__URING_*) not to use although
   * the kernel has them, to run the fallbacks.
   */
  struct fb__uring_counters *uring_counters;
  unsigned uring_off;
  unsigned uring_sq_entries; /* the submission queue's size, 0: its own */
};

/* Zeroed: no hook. Tests set what they need before a run and clear it
 * after.
 */
extern struct fb__test_hooks fb__test_hooks;

#define FB__TEST_BEFORE_REQUEST(index)                                         \
  do {                                                                         \
    if (fb__test_hooks.before_request != NULL)                                 \
      fb__test_hooks.before_request((index), fb__test_hooks.arg);              \
  } while (0)

#else

#define FB__TEST_BEFORE_REQUEST(index) ((void)0)

#endif /* FB_UNITTEST */

#endif /* FB_ENGINES_TESTHOOKS_H */
