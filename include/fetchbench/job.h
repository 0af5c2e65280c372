/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_JOB_H
#define FETCHBENCH_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct fb_urlset;
struct fb_schedule;

/* Where the trusted CA certificates of https come from, per connection. */
enum fb_ca_cache {
  FB_CA_OFF = 0, /* libcurl 7.88's stock way: the CA file (and directory)
                  * read and parsed for every new TLS connection */
  FB_CA_SHARED,  /* one store per process, built once and shared by every
                  * connection of every thread (the default) */
  FB_CA_CURL     /* libcurl's own cache: one store per multi handle (per
                  * thread, per async shard), CURLOPT_CAPATH cleared */
};

/* How connections are used. */
enum fb_connection {
  FB_CONN_REUSE, /* keep-alive: each worker reuses its connections */
  FB_CONN_FRESH  /* a new connection per request, closed after it */
};

/* Everything an engine needs to run, and nothing else. Fill it with
 * fb_job_init and change what differs; every limit has an explicit default
 * because libcurl 7.88 has none for several of them.
 */
struct fb_job {
  const struct fb_urlset *urls; /* borrowed; must outlive the run */
  unsigned workers;             /* most requests in flight, >= 1 */
  enum fb_connection connection;
  long connect_timeout_ms;   /* TCP + TLS handshake */
  long timeout_ms;           /* whole request, redirects included */
  long low_speed_bytes;      /* abort below this rate ... */
  long low_speed_secs;       /* ... sustained this long (0: off) */
  uint64_t max_body;         /* body cap in bytes, after decoding */
  long max_redirects;        /* followed redirects, at most */
  int follow_redirects;      /* 0: a 3xx is the final answer */
  int verify_tls;            /* verify peer and host name */
  const char *cacert;        /* PEM file of the CAs to trust instead of the
                            * system's, NULL: the system's (borrowed) */
  int tls_resume;            /* resume TLS sessions as the model can share
                            * them (default 1) */
  enum fb_ca_cache ca_cache; /* default FB_CA_SHARED */
  const char *user_agent;    /* borrowed */
  unsigned chunk;            /* processes: URLs per work request */
  size_t thread_stack;       /* threads: stack bytes per thread */
  unsigned max_respawns;     /* processes: worker deaths tolerated */
  int measure_fork;          /* processes: after the run, time as many bare
                              * fork()s of the same parent in a row as it
                              * has workers, beside the workers' start
                              * (stats bare_fork_ns, per fork) */

  /* Open loop: request i may not start before schedule->due_ns[i] after
   * the run's start (fb_collector_t0); it starts then, or as soon after as
   * a worker or slot is free. NULL: a closed loop, every request starts as
   * soon as a worker is free. Borrowed; covers every URL.
   */
  const struct fb_schedule *schedule;

  /* Set to non-zero (from a signal handler, say) to stop the run: engines
   * stop starting requests, abort those in flight, record every unfinished
   * URL as cancelled and return FB_ECANCELED. NULL: never cancelled.
   */
  volatile sig_atomic_t *cancel;
};

#define FB_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define FB_DEFAULT_TIMEOUT_MS 30000L
#define FB_DEFAULT_MAX_BODY (64ULL << 20)
#define FB_DEFAULT_MAX_REDIRECTS 5L
#define FB_DEFAULT_THREAD_STACK (256u << 10)
#define FB_DEFAULT_LOW_SPEED_BYTES 1L
#define FB_DEFAULT_LOW_SPEED_SECS 10L

/* Fills job with the defaults above: 1 worker, reuse, redirects followed,
 * TLS verified against the system's CAs loaded once per process, sessions
 * resumed, user agent "fetchbench/VERSION", chunk 1, 16 respawns.
 */
void fb_job_init(struct fb_job *job);

/* Non-zero when the job's cancel flag is set. The read is atomic, so the
 * flag may be raised by a signal handler or, with
 * __atomic_store_n(flag, 1, __ATOMIC_RELAXED), by another thread.
 */
static inline int fb_job_cancelled(const struct fb_job *job) {
  return job->cancel != NULL &&
         __atomic_load_n(job->cancel, __ATOMIC_RELAXED) != 0;
}

#endif /* FETCHBENCH_JOB_H */
