/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_ENGINE_H
#define FETCHBENCH_ENGINE_H

#include <stddef.h>

struct fb_job;
struct fb_collector;

/* A concurrency model. Each engine lives in one file of src/engines/ and
 * exports one const struct fb_engine; fb_engines lists them.
 */
struct fb_engine {
  const char *name;     /* "sequential", "threads", ..., "uring" */
  const char *summary;  /* one line for --help */
  unsigned max_workers; /* largest job->workers it accepts */

  /* Runs job and delivers exactly one result per URL index to c, from any
   * thread it likes; per-engine statistics go to fb_collector_stats(c).
   * Needs curl_global_init done by the caller (the engines never call it).
   *
   * Returns 0 when the machinery worked, however many requests failed.
   * Returns a negative code when it broke (FB_ECANCELED when job->cancel was
   * raised, FB_EWORKERS when workers kept dying, -ENOMEM, ...); even then
   * every URL it did not finish holds a cancelled, not_run or lost result.
   * Never exits the process and never leaves a thread or child behind.
   */
  int (*run)(const struct fb_job *job, struct fb_collector *c);

  /* Optional, NULL when the engine runs wherever it builds. Whether this
   * system lets it run (a kernel interface that a seccomp policy, a sysctl
   * or an old kernel may refuse): returns 0, or FB_EUNAVAIL with why (len
   * bytes) saying what was refused and naming the errno. It makes and
   * frees what it probes, so it may be called before any run; run() itself
   * then fails the same way (FB_EUNAVAIL, every URL not_run with why).
   */
  int (*available)(char *why, size_t len);
};

/* The engines, NULL-terminated, in the order reports list them. */
extern const struct fb_engine *const fb_engines[];

/* The engine called name, or NULL. */
const struct fb_engine *fb_engine_find(const char *name);

/* Whether e can run here (its available slot): 0, or FB_EUNAVAIL with why
 * (len bytes). An engine without the slot is always available. Callers
 * never need to know which engine might not be.
 */
int fb_engine_available(const struct fb_engine *e, char *why, size_t len);

/* Checks, before a run, what every engine will need of job beyond its URLs:
 * the trusted CAs of https (job->cacert, or the system's) load. For a job
 * with https URLs and the shared CA store, the store is built here, once
 * for the process (threads share it, forked workers inherit it). Returns 0,
 * or a negative code with err (errlen bytes) naming the file and what is
 * wrong with it (missing, unreadable, a directory, not PEM).
 */
int fb_engine_check_job(const struct fb_job *job, char *err, size_t errlen);

#endif /* FETCHBENCH_ENGINE_H */
