/* SPDX-License-Identifier: MIT */
/* Soak: mixed faults at a fixed rate through the async engine and the
 * origin for a long time (30 minutes unless --minutes says otherwise), one
 * run after another in this one process, watching for growth: the RSS and
 * the open descriptors of the client (this process) and of the origin (its
 * child), sampled between runs. The verdict compares the last tenth of each
 * series with its second tenth (the first is warm-up), a tenth being at
 * least three samples: flat or growing (RSS by the mean, descriptors by the
 * floor).
 *
 * Each run fetches --urls pages with a query that differs from run to run,
 * so that the origin's seeded fault choice (a hash of the target) falls on
 * other URLs each time; about one request in five meets a fault.
 *
 *   bench-soak [--minutes M] [--interval S] [--urls N] [--workers N]
 *              [--timeout MS] [--fault SPEC]
 *
 * FB_BENCH_QUICK=1 makes the default one minute, sampled every 3 s. The
 * origin and the client are pinned to different cores where two are
 * allowed.
 *
 * stdout: one JSON line per sample, then the outcomes and the verdict, each
 * with the machine and the cores; stderr: a table.
 * Exit status 1 when a run broke the one-result rule or the machinery, or
 * when a series grew.
 */
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetchbench/fetchbench.h"

#define DEFAULT_FAULTS                                                         \
  "reset=0.02,reset_body=0.02,short=0.02,close=0.02,close_idle=0.02,"          \
  "http500=0.015,http503=0.01,malformed=0.01,chunked_cut=0.01,"                \
  "bad_chunk=0.01,bad_length=0.005,negative_length=0.005,http09=0.005,"        \
  "stall=0.003,trickle=0.003,slow_headers=0.003,continue=0.003,"               \
  "huge_header=0.003,many_headers=0.003,redirect_loop=0.005,"                  \
  "redirect_file=0.003,gzip_bomb=0.002,huge_body=0.002,endless=0.002"

#define MAX_SAMPLES 100000

/* Growth allowed between the second and the last tenth: mean RSS by this
 * fraction or this many KiB, whichever is more (allocator noise); the
 * fewest descriptors by this many. The origin's count is read once it
 * settles, yet may still hold a few connections being closed, so a leak
 * shows as a rising floor.
 */
#define RSS_SLACK 0.05
#define RSS_SLACK_KIB 2048.0
#define FD_SLACK 4.0

struct opts {
  double minutes;
  double interval_s;
  unsigned urls;
  unsigned workers;
  long timeout_ms;
  const char *faults;
};

enum { CLIENT_RSS, CLIENT_FDS, ORIGIN_RSS, ORIGIN_FDS, NSERIES };

static const char *const series_names[NSERIES] = {
    "client_rss_kib", "client_fds", "origin_rss_kib", "origin_fds"};

static double samples[NSERIES][MAX_SAMPLES];
static size_t nsamples;
static char machine[256];
static int client_cpu = -1, origin_cpu = -1;

/* Ends a JSON line with where it was measured. */
static void end_line(void) {
  printf(",\"machine\":");
  fb_json_string(stdout, machine, strlen(machine));
  printf(",\"client_cpu\":%d,\"origin_cpu\":%d}\n", client_cpu, origin_cpu);
}

/* Its resident memory now, or -1 when it cannot be read. */
static long rss_kib(pid_t pid) {
  long kib;

  return fb_proc_rss_kib(pid, &kib, NULL) == 0 ? kib : -1;
}

static long fd_count(pid_t pid) {
  char path[64];
  struct dirent *e;
  long n = 0;
  DIR *d;

  snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
  d = opendir(path);
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n - (pid == getpid()); /* the directory being read */
}

/* The origin's descriptors once the connections the last run left have
 * been closed (the client has closed them; the origin notices within
 * milliseconds): read until two readings 50 ms apart agree, at most 1 s.
 */
static long settled_fd_count(pid_t pid) {
  long last = fd_count(pid), now;

  for (int i = 0; i < 20; i++) {
    usleep(50000);
    now = fd_count(pid);
    if (now == last)
      break;
    last = now;
  }
  return last;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
  static const struct option longopts[] = {
      {"minutes", required_argument, NULL, 'm'},
      {"interval", required_argument, NULL, 'i'},
      {"urls", required_argument, NULL, 'u'},
      {"workers", required_argument, NULL, 'w'},
      {"timeout", required_argument, NULL, 't'},
      {"fault", required_argument, NULL, 'f'},
      {NULL, 0, NULL, 0},
  };
  int c;

  o->minutes = 30;
  o->interval_s = 10;
  if (getenv("FB_BENCH_QUICK") != NULL &&
      strcmp(getenv("FB_BENCH_QUICK"), "1") == 0) {
    o->minutes = 1;
    o->interval_s = 3;
  }
  o->urls = 2000;
  o->workers = 64;
  o->timeout_ms = 2000;
  o->faults = DEFAULT_FAULTS;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'm':
      o->minutes = atof(optarg);
      break;
    case 'i':
      o->interval_s = atof(optarg);
      break;
    case 'u':
      o->urls = (unsigned)atoi(optarg);
      break;
    case 'w':
      o->workers = (unsigned)atoi(optarg);
      break;
    case 't':
      o->timeout_ms = atol(optarg);
      break;
    case 'f':
      o->faults = optarg;
      break;
    default:
      return -1;
    }
  }
  if (optind != argc || !(o->minutes > 0) || !(o->interval_s > 0) ||
      o->urls < 1 || o->workers < 1 || o->timeout_ms < 1)
    return -1;
  return 0;
}

/* This run's URLs: the corpus pages round-robin, each with a query of its
 * own so that the faults fall elsewhere than in the last run.
 */
static int make_urls(struct fb_urlset **out, const struct fb_origin_proc *p,
                     const struct fb_corpus *corpus, unsigned n,
                     unsigned long run) {
  size_t pages = fb_corpus_count(corpus);
  char url[2048], err[256];
  int rc;

  rc = fb_urlset_create(out);
  for (unsigned i = 0; rc == 0 && i < n; i++) {
    int len = snprintf(url, sizeof(url), "%s/%s?soak=%lu-%u", p->base_url,
                       fb_corpus_page(corpus, i % pages)->path, run, i);
    if (len < 0 || (size_t)len >= sizeof(url))
      continue; /* a path too long for this buffer: skip the page */
    rc = fb_urlset_add(*out, url, (size_t)len, err, sizeof(err));
    if (rc == FB_EURL)
      rc = 0; /* a corpus path libcurl will not take: skip it */
  }
  return rc;
}

static double mean(const double *v, size_t n) {
  double sum = 0;

  for (size_t i = 0; i < n; i++)
    sum += v[i];
  return n > 0 ? sum / (double)n : NAN;
}

static double min_of(const double *v, size_t n) {
  double m = INFINITY;

  for (size_t i = 0; i < n; i++)
    m = v[i] < m ? v[i] : m;
  return m;
}

/* Least-squares slope of the series after the first tenth, per hour. */
static double slope_per_hour(const double *v, const double *t, size_t from,
                             size_t n) {
  double st = 0, sv = 0, stt = 0, stv = 0, k = (double)(n - from);

  if (n - from < 2)
    return NAN;
  for (size_t i = from; i < n; i++) {
    st += t[i];
    sv += v[i];
    stt += t[i] * t[i];
    stv += t[i] * v[i];
  }
  if (k * stt - st * st == 0)
    return NAN;
  return (k * stv - st * sv) / (k * stt - st * st) * 3600.0;
}

static double sample_t[MAX_SAMPLES];

/* Prints the verdict; returns 0 when every series is flat. */
static int verdict(void) {
  size_t n = nsamples, k = n / 10;
  int growing = 0;

  /* A tenth of at least three samples (as many as a third allows, one at
   * the least): the origin's descriptors between runs include connections
   * it has not yet seen the client close, a few either way, so one sample
   * alone cannot give a floor (a 3-minute soak, 19 samples: 14 to 19 and
   * back).
   */
  if (k < 3)
    k = n / 3 < 3 ? n / 3 : 3;
  if (k == 0)
    k = 1;

  if (n < 3) {
    printf("{\"kind\":\"verdict\",\"samples\":%zu,\"flat\":null", n);
    end_line();
    fprintf(stderr, "too few samples for a verdict\n");
    return 0;
  }
  printf("{\"kind\":\"verdict\",\"samples\":%zu", n);
  fprintf(stderr, "\n%-16s %14s %14s %10s %12s  %s\n", "series", "second tenth",
          "last tenth", "growth", "slope/hour", "verdict");
  for (int s = 0; s < NSERIES; s++) {
    const double *v = samples[s];
    double early = mean(v + k, k), late = mean(v + n - k, k);
    double growth = late - early;
    double slope = slope_per_hour(v, sample_t, k, n);
    int flat;

    if (s == CLIENT_FDS || s == ORIGIN_FDS)
      flat = min_of(v + n - k, k) <= min_of(v + k, k) + FD_SLACK;
    else
      flat = growth <= fmax(RSS_SLACK * early, RSS_SLACK_KIB);
    growing |= !flat;
    printf(",\"%s\":{\"second_tenth\":%.1f,\"last_tenth\":%.1f,"
           "\"growth\":%.1f,\"slope_per_hour\":%.1f,\"flat\":%s}",
           series_names[s], early, late, growth, isfinite(slope) ? slope : 0,
           flat ? "true" : "false");
    fprintf(stderr, "%-16s %14.1f %14.1f %10.1f %12.1f  %s\n", series_names[s],
            early, late, growth, slope, flat ? "flat" : "GROWING");
  }
  printf(",\"flat\":%s", growing ? "false" : "true");
  end_line();
  fprintf(stderr, "verdict: %s\n", growing ? "GROWING" : "flat");
  return growing;
}

int main(int argc, char **argv) {
  struct fb_origin_config cfg;
  struct fb_origin_proc origin;
  struct fb_corpus *corpus = NULL;
  const struct fb_engine *async = fb_engine_find("async");
  size_t outcomes[FB_OUTCOME_COUNT] = {0};
  unsigned long run = 0, requests = 0;
  int64_t t0, next_sample, end;
  char err[512];
  struct opts o;
  int status = 0, rc;

  if (parse_opts(argc, argv, &o) != 0) {
    fprintf(stderr,
            "usage: %s [--minutes M] [--interval S] [--urls N] "
            "[--workers N] [--timeout MS] [--fault SPEC]\n",
            argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || async == NULL)
    return 1;
  rc = fb_corpus_synthetic(&corpus, 1);
  if (rc != 0) {
    fprintf(stderr, "bench-soak: corpus: %s\n", fb_strerror(rc));
    return 1;
  }
  fb_machine_describe(machine, sizeof(machine));
  fb_cpu_plan(&client_cpu, &origin_cpu);
  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  cfg.faults = o.faults;
  cfg.cpu = origin_cpu;
  rc = fb_origin_spawn(&origin, &cfg, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "bench-soak: %s\n", err);
    return 1;
  }
  if (client_cpu >= 0 && fb_pin_self(client_cpu) != 0)
    client_cpu = -1;
  fprintf(stderr,
          "soak: %.1f min, async engine, %u workers, %u URLs per run, "
          "timeout %ld ms, origin %s (pid %ld)\nfaults: %s\nmachine: %s\n",
          o.minutes, o.workers, o.urls, o.timeout_ms, origin.base_url,
          (long)origin.pid, o.faults, machine);
  if (client_cpu >= 0)
    fprintf(stderr, "pinned: origin on CPU %d, client on CPU %d\n\n",
            origin_cpu, client_cpu);
  else
    fprintf(stderr, "not pinned: fewer than two CPUs allowed\n\n");
  fprintf(stderr, "%8s %6s %9s %12s %10s %12s %10s\n", "t_s", "runs",
          "requests", "client_rss", "client_fds", "origin_rss", "origin_fds");

  t0 = fb_clock_ns();
  end = t0 + (int64_t)(o.minutes * 60 * FB_NS_PER_S);
  next_sample = t0;
  while (fb_clock_ns() < end && nsamples < MAX_SAMPLES) {
    struct fb_collector *c = NULL;
    struct fb_urlset *u = NULL;
    struct fb_summary s;
    struct fb_job job;

    rc = make_urls(&u, &origin, corpus, o.urls, run);
    if (rc != 0) {
      fprintf(stderr, "bench-soak: URLs: %s\n", fb_strerror(rc));
      status = 1;
      fb_urlset_destroy(u);
      break;
    }
    fb_job_init(&job);
    job.urls = u;
    job.workers = o.workers;
    job.connection = FB_CONN_REUSE;
    job.timeout_ms = o.timeout_ms;
    job.connect_timeout_ms = o.timeout_ms;
    job.max_body = 4u << 20;
    rc = fb_run_measure(async, &job, -1, &s, &c);
    run++;
    requests += fb_urlset_count(u);
    for (int k = 0; k < FB_OUTCOME_COUNT; k++)
      outcomes[k] += s.outcomes[k];
    fb_collector_destroy(c);
    fb_urlset_destroy(u);
    if (rc != 0) {
      fprintf(stderr, "bench-soak: run %lu: %s\n", run, fb_strerror(rc));
      status = 1;
      break;
    }
    if (fb_clock_ns() >= next_sample) {
      double t = (double)(fb_clock_ns() - t0) / (double)FB_NS_PER_S;
      size_t i = nsamples++;

      sample_t[i] = t;
      samples[CLIENT_RSS][i] = (double)rss_kib(getpid());
      samples[CLIENT_FDS][i] = (double)fd_count(getpid());
      samples[ORIGIN_RSS][i] = (double)rss_kib(origin.pid);
      samples[ORIGIN_FDS][i] = (double)settled_fd_count(origin.pid);
      printf("{\"kind\":\"sample\",\"t_s\":%.1f,\"runs\":%lu,"
             "\"requests\":%lu,\"client_rss_kib\":%.0f,\"client_fds\":%.0f,"
             "\"origin_rss_kib\":%.0f,\"origin_fds\":%.0f",
             t, run, requests, samples[CLIENT_RSS][i], samples[CLIENT_FDS][i],
             samples[ORIGIN_RSS][i], samples[ORIGIN_FDS][i]);
      end_line();
      fflush(stdout);
      fprintf(stderr, "%8.1f %6lu %9lu %12.0f %10.0f %12.0f %10.0f\n", t, run,
              requests, samples[CLIENT_RSS][i], samples[CLIENT_FDS][i],
              samples[ORIGIN_RSS][i], samples[ORIGIN_FDS][i]);
      next_sample += (int64_t)(o.interval_s * FB_NS_PER_S);
    }
  }

  fprintf(stderr, "\n%lu runs, %lu requests:", run, requests);
  printf("{\"kind\":\"outcomes\",\"runs\":%lu,\"requests\":%lu", run, requests);
  for (int k = 0; k < FB_OUTCOME_COUNT; k++) {
    if (outcomes[k] == 0)
      continue;
    fprintf(stderr, " %s %zu", fb_outcome_name(k), outcomes[k]);
    printf(",\"%s\":%zu", fb_outcome_name(k), outcomes[k]);
  }
  end_line();
  fprintf(stderr, "\n");
  /* Lost, cancelled or not-run results would mean the machinery broke. */
  if (outcomes[FB_OUTCOME_LOST] + outcomes[FB_OUTCOME_CANCELLED] +
          outcomes[FB_OUTCOME_NOT_RUN] >
      0)
    status = 1;
  if (verdict() != 0)
    status = 1;
  if (fb_origin_reap(&origin) != 0) {
    fprintf(stderr, "bench-soak: the origin did not stop cleanly\n");
    status = 1;
  }
  fb_corpus_destroy(corpus);
  curl_global_cleanup();
  return status;
}
