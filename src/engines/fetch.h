/* SPDX-License-Identifier: MIT */
#ifndef FB_ENGINES_FETCH_H
#define FB_ENGINES_FETCH_H

/* The one place where a curl easy handle is set up from a job and where
 * curl's verdict becomes an outcome. Every curl engine (sequential, threads,
 * processes, async) goes through it, so they differ only in how they schedule
 * transfers.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t may live on the stack */
#include <xxhash.h>

#include "fetchbench/job.h"
#include "fetchbench/result.h"

/* TLS sessions shared by every transfer of a run, as a model allows: a
 * CURLSH of CURL_LOCK_DATA_SSL_SESSION, with a real lock when threads share
 * it (threads), none when one loop does (async). Processes do not share:
 * each worker keeps its easy handle's own cache, which is that model's cost.
 */
struct fb_fetch_share {
  CURLSH *share;
  int threaded;
  pthread_mutex_t lock;
  int lock_ready;
};

/* Sets up s for job: nothing when the job does not resume sessions
 * (s->share stays NULL). Returns 0, -ENOMEM or FB_ECURL.
 */
int fb__fetch_share_init(struct fb_fetch_share *s, const struct fb_job *job,
                         int threaded);

/* Frees s; every easy handle using it must be cleaned up first. Safe on a
 * zeroed s.
 */
void fb__fetch_share_cleanup(struct fb_fetch_share *s);

/* One transfer slot: an easy handle and the state of the request it carries.
 * It is reused request after request; embed it where the engine keeps its
 * per-worker or per-transfer state.
 */
struct fb_fetch {
  CURL *easy;
  const struct fb_job *job;
  int64_t t0; /* the run's clock zero (fb_collector_t0) */
  unsigned worker;
  size_t index;      /* URL of the request in flight */
  int64_t t_start;   /* when fb__fetch_start handed it over, ns */
  uint64_t bytes;    /* body bytes seen by the write callback */
  int too_large;     /* the write callback refused bytes over the cap */
  int socket_errno;  /* why the last socket could not be made, 0: it was */
  uint8_t handshake; /* enum fb_handshake of the connection it opened */
  void *owner;       /* the engine's, untouched here */
  CURLM *multi;      /* fb__fetch_perform's own, created on first use */
  XXH3_state_t hash;
  char errbuf[CURL_ERROR_SIZE];
};

/* Creates f->easy with every option the job implies: protocols http and
 * https only (redirects too), timeouts, low-speed limit, redirect limit, body
 * cap, TLS verification, user agent, connection policy, NOSIGNAL, the write
 * callback that hashes and caps the body, and a progress callback that aborts
 * when the job is cancelled; for https, the CA store the job asks for
 * (job->ca_cache, job->cacert: a bad CA file fails here), the session cache
 * (share, or the handle's own, or none without job->tls_resume) and a count
 * of full and resumed handshakes. CURLOPT_PRIVATE points to f. Returns 0,
 * -ENOMEM or FB_ECURL; on error f->errbuf says what failed (the option
 * libcurl refused, by name) and f holds nothing to clean up.
 */
int fb__fetch_init(struct fb_fetch *f, const struct fb_job *job, int64_t t0,
                   unsigned worker, const struct fb_fetch_share *share);

/* Prepares request index: sets the URL, resets the body state, calls the
 * test build's before_request hook (testhooks.h), and records t_start. Call
 * it right before curl_easy_perform or curl_multi_add_handle. Returns 0 or
 * FB_ECURL (f->errbuf says why).
 */
int fb__fetch_start(struct fb_fetch *f, size_t index);

/* Fills *r for the request that just ended with code: outcome, status,
 * curl's message (r->message points into f->errbuf, or to a static string,
 * until the next start), body bytes and checksum, reuse, and the times
 * relative to t0.
 */
void fb__fetch_finish(struct fb_fetch *f, CURLcode code, struct fb_result *r);

/* The outcome for a curl verdict: code, final HTTP status, whether the body
 * cap was hit, whether the job was cancelled, and the errno libcurl saw
 * last (CURLINFO_OS_ERRNO): EMFILE and its kind make it `resource`.
 */
enum fb_outcome fb__fetch_outcome(CURLcode code, long status, int too_large,
                                  int cancelled, long os_errno);

/* The soft RLIMIT_NOFILE, or -1 when unlimited or unknown. */
long fb__fetch_nofile_limit(void);

/* Runs the request prepared by fb__fetch_start to its end, like
 * curl_easy_perform (which is itself a private multi handle polled in a loop)
 * but on f->multi, polled at most FB_FETCH_POLL_MS apart when the job can be
 * cancelled, so that a cancelled job aborts a stalled transfer within that
 * time instead of libcurl's one-second progress tick. Returns the transfer's
 * CURLcode: CURLE_ABORTED_BY_CALLBACK with "cancelled" in f->errbuf when the
 * job was cancelled, CURLE_OUT_OF_MEMORY or CURLE_FAILED_INIT when the multi
 * handle could not be used. For engines that run one transfer per thread.
 */
#define FB_FETCH_POLL_MS 100
CURLcode fb__fetch_perform(struct fb_fetch *f);

/* Frees the easy handle and f->multi. Safe on a zeroed or already
 * cleaned-up f.
 */
void fb__fetch_cleanup(struct fb_fetch *f);

#endif /* FB_ENGINES_FETCH_H */
