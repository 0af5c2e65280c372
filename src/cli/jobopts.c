/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <string.h>

#include "cli.h"

/* Beyond what any engine here can start on one core. */
#define FB_RATE_MAX 1000000.0

static const struct fb_cli_opt workload_opts[] = {
    {FB_JOBOPT_URLS, "urls", 'u', "FILE|-",
     "fetch the URLs listed in FILE (- : standard input) instead of the "
     "embedded origin's pages; efficiency needs --delay"},
    {FB_JOBOPT_PAGES, "pages", 'n', "N",
     "fetch N pages of the origin, seed pages first (beyond the corpus, pages "
     "repeat with distinct query strings)"},
    {FB_JOBOPT_SEED_PAGES, "seed-pages", 0, NULL,
     "fetch the ten pages of the original experiment (the default)"},
    {FB_JOBOPT_ORIGIN, "origin", 0, "URL",
     "use a running `fetchbench origin` at URL instead of starting one"},
    {FB_JOBOPT_ORIGIN_CPU, "origin-cpu", 0, "N",
     "with --origin or --urls: the core that origin is pinned to; the client "
     "pins itself to another core and the reports say so"},
    {FB_JOBOPT_CORPUS, "corpus", 0, "DIR|synthetic",
     "embedded origin's corpus (default: the Django docs when installed, else "
     "synthetic)"},
    {FB_JOBOPT_DELAY, "delay", 'd', "MS",
     "embedded origin's delay per request (default 70); with --urls or "
     "--origin: the known delay, for efficiency"},
    {FB_JOBOPT_JITTER, "jitter", 0, "MS",
     "embedded origin's delay varies by +/- MS (default 0)"},
    {FB_JOBOPT_SEED, "seed", 0, "N",
     "embedded origin's seed for jitter and the synthetic corpus"},
    {FB_JOBOPT_NO_PIN, "no-pin", 0, NULL,
     "do not pin the client and the embedded origin to different cores"},
    {FB_JOBOPT_SCHEME, "scheme", 0, "https|http",
     "the embedded origin serves TLS with a certificate of its own, which the "
     "clients are given to trust (default https, as the original fetched), or "
     "plain HTTP"},
    {FB_JOBOPT_RTT, "rtt", 0, "MS",
     "the embedded origin emulates a network round trip of MS: TCP and TLS "
     "handshakes and every request pay theirs (default 0)"},
    {FB_JOBOPT_RATE, "rate", 0, "R",
     "open loop: request i is due at i/R seconds (R requests per second, "
     "fractions allowed) and starts then, or once a worker is free: latency "
     "is also counted from the due time. compare takes a list (100,200,400): "
     "a cell per rate"},
    {FB_JOBOPT_ARRIVAL, "arrival", 0, "uniform|poisson",
     "with --rate: evenly spaced arrivals, or Poisson ones seeded by --seed "
     "(default uniform)"},
    {0},
};

static const struct fb_cli_opt request_opts[] = {
    {FB_JOBOPT_CONNECTION, "connection", 'c', "reuse|fresh",
     "keep-alive per worker, or a new connection per request (default fresh, "
     "reuse with --urls)"},
    {FB_JOBOPT_TIMEOUT, "timeout", 't', "MS",
     "whole-request timeout (default 30000)"},
    {FB_JOBOPT_CONNECT_TIMEOUT, "connect-timeout", 0, "MS",
     "connection timeout (default 10000)"},
    {FB_JOBOPT_LOW_SPEED_TIME, "low-speed-time", 0, "S",
     "abort a transfer stalled this long (default 10; 0: never)"},
    {FB_JOBOPT_MAX_BODY, "max-body", 0, "BYTES",
     "body size cap, e.g. 64M (default 64M)"},
    {FB_JOBOPT_MAX_REDIRECTS, "max-redirects", 0, "N",
     "redirects followed at most (default 5)"},
    {FB_JOBOPT_NO_REDIRECTS, "no-redirects", 0, NULL,
     "do not follow redirects: a 3xx is the answer"},
    {FB_JOBOPT_USER_AGENT, "user-agent", 0, "STRING",
     "User-Agent header (default fetchbench/VERSION)"},
    {FB_JOBOPT_CHUNK, "chunk", 0, "N",
     "processes: URLs handed to a worker at a time (default 1)"},
    {FB_JOBOPT_THREAD_STACK, "thread-stack", 0, "BYTES",
     "threads: stack size per thread (default 256k)"},
    {FB_JOBOPT_MAX_RESPAWNS, "max-respawns", 0, "N",
     "processes: worker deaths tolerated (default 16)"},
    {FB_JOBOPT_MEASURE_FORK, "measure-fork", 0, NULL,
     "processes: after the run, time as many bare fork()s of the client in "
     "a row as it has workers, to set beside the workers' start-up (JSON "
     "bare_fork_s, per fork)"},
    {0},
};

static const struct fb_cli_opt tls_opts[] = {
    {FB_JOBOPT_CACERT, "cacert", 0, "FILE",
     "trust the CA certificates in FILE (PEM) instead of the system's; the "
     "embedded origin's is passed by itself"},
    {FB_JOBOPT_INSECURE, "insecure", 'k', NULL,
     "do not verify certificates (the default verifies; a failed "
     "verification is a `tls` outcome)"},
    {FB_JOBOPT_TLS_RESUME, "tls-resume", 0, "on|off",
     "resume TLS sessions as the model can share them: each thread and the "
     "loop share one cache, each process keeps its own (default on)"},
    {FB_JOBOPT_CA_CACHE, "ca-cache", 0, "shared|curl|off",
     "the curl engines' CA store: built once per process (shared, the "
     "default), once per libcurl multi handle (curl), or read for every new "
     "connection as libcurl 7.88 does by itself (off); raw and uring build "
     "one per process whatever this says"},
    {0},
};

const struct fb_cli_group fb__jobopt_groups[] = {
    {"Workload options (what is fetched, from where)", workload_opts},
    {"Request options", request_opts},
    {"HTTPS options", tls_opts},
    {0},
};

static const char *workload_opt_name(int id) {
  const struct fb_cli_opt *o = workload_opts;

  while (o->name != NULL && o->id != id)
    o++;
  return o->name;
}

static int parse_workload(const struct fb_cli_cmd *cmd, int id, const char *v,
                          struct fb_workload *w) {
  uint64_t u64;
  unsigned u;
  int rc;

  switch (id) {
  case FB_JOBOPT_URLS:
    w->urls_path = v;
    return 0;
  case FB_JOBOPT_PAGES:
    rc = fb__cli_u64(cmd, "--pages", v, 1, 10000000, NULL, &u64);
    w->pages = (size_t)u64;
    return rc;
  case FB_JOBOPT_ORIGIN:
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
      return fb__cli_usage_error(cmd, "--origin: '%s' is not an http(s) URL",
                                 v);
    w->origin_url = v;
    return 0;
  case FB_JOBOPT_ORIGIN_CPU: {
    int cpus[CPU_SETSIZE];
    int n = fb_cpus_allowed(cpus, CPU_SETSIZE), known = n <= 0;

    rc = fb__cli_uint(cmd, "--origin-cpu", v, 0, CPU_SETSIZE - 1, &u);
    if (rc != 0)
      return rc;
    for (int i = 0; i < n && i < CPU_SETSIZE; i++)
      known |= cpus[i] == (int)u;
    if (!known)
      return fb__cli_usage_error(cmd,
                                 "--origin-cpu: CPU %u is not one this "
                                 "machine lets us use (%d allowed: 0..%d)",
                                 u, n, cpus[n - 1]);
    w->given_origin_cpu = (int)u;
    return 0;
  }
  case FB_JOBOPT_CORPUS:
    w->corpus = v;
    return 0;
  case FB_JOBOPT_DELAY:
    w->delay_set = 1;
    return fb__cli_uint(cmd, "--delay", v, 0, 600000, &w->delay_ms);
  case FB_JOBOPT_JITTER:
    return fb__cli_uint(cmd, "--jitter", v, 0, 600000, &w->jitter_ms);
  case FB_JOBOPT_SEED:
    return fb__cli_u64(cmd, "--seed", v, 0, UINT64_MAX, NULL, &w->seed);
  case FB_JOBOPT_NO_PIN:
    w->pin = 0;
    return 0;
  case FB_JOBOPT_RATE:
    return fb__cli_rate(cmd, "--rate", v, FB_RATE_MAX, &w->rate);
  case FB_JOBOPT_SCHEME:
    if (strcmp(v, "https") != 0 && strcmp(v, "http") != 0)
      return fb__cli_usage_error(cmd, "--scheme: '%s' is not https or http", v);
    w->https = strcmp(v, "https") == 0;
    return 0;
  case FB_JOBOPT_RTT:
    return fb__cli_uint(cmd, "--rtt", v, 0, 60000, &w->rtt_ms);
  case FB_JOBOPT_ARRIVAL:
    w->arrival = fb_arrival_parse(v);
    if (w->arrival < 0)
      return fb__cli_usage_error(
          cmd, "--arrival: '%s' is not uniform or poisson", v);
    return 0;
  default: /* --seed-pages: the default */
    return 0;
  }
}

int fb__jobopt_parse(const struct fb_cli_cmd *cmd, int id, const char *v,
                     struct fb_job *job, struct fb_workload *w) {
  uint64_t u64;
  int rc;

  switch (id) {
  case FB_JOBOPT_CONNECTION:
    return fb__cli_connection(cmd, "--connection", v, &job->connection);
  case FB_JOBOPT_TIMEOUT:
    return fb__cli_long(cmd, "--timeout", v, 1, 86400000L, &job->timeout_ms);
  case FB_JOBOPT_CONNECT_TIMEOUT:
    return fb__cli_long(cmd, "--connect-timeout", v, 1, 86400000L,
                        &job->connect_timeout_ms);
  case FB_JOBOPT_LOW_SPEED_TIME:
    return fb__cli_long(cmd, "--low-speed-time", v, 0, 86400L,
                        &job->low_speed_secs);
  case FB_JOBOPT_MAX_BODY:
    return fb__cli_bytes(cmd, "--max-body", v, 1, 1ULL << 40, &job->max_body);
  case FB_JOBOPT_MAX_REDIRECTS:
    return fb__cli_long(cmd, "--max-redirects", v, 0, 1000,
                        &job->max_redirects);
  case FB_JOBOPT_NO_REDIRECTS:
    job->follow_redirects = 0;
    return 0;
  case FB_JOBOPT_USER_AGENT:
    job->user_agent = v;
    return 0;
  case FB_JOBOPT_CHUNK:
    return fb__cli_uint(cmd, "--chunk", v, 1, 1000000, &job->chunk);
  case FB_JOBOPT_THREAD_STACK:
    rc = fb__cli_bytes(cmd, "--thread-stack", v, 16384, 1ULL << 30, &u64);
    job->thread_stack = (size_t)u64;
    return rc;
  case FB_JOBOPT_CACERT:
    job->cacert = v;
    return 0;
  case FB_JOBOPT_INSECURE:
    job->verify_tls = 0;
    return 0;
  case FB_JOBOPT_TLS_RESUME:
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
      job->tls_resume = strcmp(v, "on") == 0;
      return 0;
    }
    return fb__cli_usage_error(cmd, "--tls-resume: '%s' is not on or off", v);
  case FB_JOBOPT_CA_CACHE:
    if (strcmp(v, "shared") == 0)
      job->ca_cache = FB_CA_SHARED;
    else if (strcmp(v, "curl") == 0)
      job->ca_cache = FB_CA_CURL;
    else if (strcmp(v, "off") == 0)
      job->ca_cache = FB_CA_OFF;
    else
      return fb__cli_usage_error(
          cmd, "--ca-cache: '%s' is not shared, curl or off", v);
    return 0;
  case FB_JOBOPT_MEASURE_FORK:
    job->measure_fork = 1;
    return 0;
  case FB_JOBOPT_MAX_RESPAWNS:
    return fb__cli_uint(cmd, "--max-respawns", v, 0, 1000000,
                        &job->max_respawns);
  default:
    return parse_workload(cmd, id, v, w);
  }
}

int fb__jobopt_finish(const struct fb_cli_cmd *cmd, const char *const *seen,
                      struct fb_job *job, struct fb_workload *w) {
  static const int embedded_only[] = {FB_JOBOPT_CORPUS, FB_JOBOPT_JITTER,
                                      FB_JOBOPT_SEED,   FB_JOBOPT_NO_PIN,
                                      FB_JOBOPT_SCHEME, FB_JOBOPT_RTT};
  /* --seed also seeds Poisson arrivals, wherever the URLs come from. */
  int seed_for_arrivals = seen[FB_JOBOPT_RATE] != NULL;
  int urls = seen[FB_JOBOPT_URLS] != NULL;
  int origin = seen[FB_JOBOPT_ORIGIN] != NULL;
  int pages = seen[FB_JOBOPT_PAGES] != NULL;

  if (urls && origin)
    return fb__cli_usage_error(cmd, "--urls and --origin exclude each other");
  if (pages && seen[FB_JOBOPT_SEED_PAGES])
    return fb__cli_usage_error(cmd,
                               "--pages and --seed-pages exclude each other");
  if (urls && (pages || seen[FB_JOBOPT_SEED_PAGES]))
    return fb__cli_usage_error(cmd,
                               "--%s picks origin pages; it does not apply "
                               "to --urls",
                               pages ? "pages" : "seed-pages");
  if (seen[FB_JOBOPT_ORIGIN_CPU] && !urls && !origin)
    return fb__cli_usage_error(cmd, "--origin-cpu goes with --origin or --urls "
                                    "(the embedded origin is pinned already)");
  for (size_t i = 0; i < sizeof(embedded_only) / sizeof(embedded_only[0]);
       i++) {
    int id = embedded_only[i];

    if (id == FB_JOBOPT_SEED && seed_for_arrivals)
      continue;
    if (seen[id] && (urls || origin))
      return fb__cli_usage_error(
          cmd, "--%s applies to the embedded origin, not with --%s",
          workload_opt_name(id), urls ? "urls" : "origin");
  }
  if (seen[FB_JOBOPT_ARRIVAL] && !seen[FB_JOBOPT_RATE])
    return fb__cli_usage_error(cmd, "--arrival goes with --rate");
  if (seen[FB_JOBOPT_CONNECTION] == NULL)
    job->connection = w->urls_path != NULL ? FB_CONN_REUSE : FB_CONN_FRESH;
  return 0;
}

int fb__jobopt_check(const struct fb_cli_cmd *cmd, const char *const *seen,
                     const struct fb_job *job) {
  char err[512] = "";
  int rc = fb_engine_check_job(job, err, sizeof(err));

  if (rc != 0) {
    if (seen[FB_JOBOPT_CACERT] != NULL)
      fb__cli_error(cmd, "--cacert: %s", err[0] ? err : fb_strerror(rc));
    else
      fb__cli_error(cmd, "the system's CA certificates: %s",
                    err[0] ? err : fb_strerror(rc));
    return FB_EXIT_USAGE;
  }
  if (seen[FB_JOBOPT_CACERT] != NULL && seen[FB_JOBOPT_INSECURE] != NULL)
    fb__cli_error(cmd,
                  "note: --insecure wins: certificates are not verified, so "
                  "--cacert %s only had to load",
                  seen[FB_JOBOPT_CACERT]);
  return 0;
}
