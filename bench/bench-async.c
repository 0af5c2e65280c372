/* The async engine's benchmarks (issue 4), against a loopback origin child
 * pinned to one core while every client runs on another:
 *
 *   throughput  the Django mix, no delay, 64 in flight, keep-alive: pages/s
 *               and CPU per page of async, of `curl --parallel
 *               --parallel-max 64` over the same URLs, and of multi-poll (a
 *               plain curl_multi_poll loop over the same easy handles);
 *               every run of the three in one round, median of the rounds.
 *               Goals: async >= 1.5x curl's pages/s, async CPU per page
 *               <= 1.1x multi-poll's.
 *   latency     10,000 URLs at 100 ms, 1,000 in flight: efficiency =
 *               ideal / wall, goal >= 0.95, on small pages (the Django mix
 *               reported beside it), each round paired with raw-client
 *               (plain sockets, the floor: what any client can reach on
 *               this machine and origin), and wrk's rate as a reference.
 *   memory      peak RSS with 5,000 in flight minus the peak of the same
 *               URLs one at a time, per in-flight transfer; goal <= 32 KiB.
 *   epoll       epoll_ctl calls per request (strace -c), keep-alive and
 *               fresh connections, overall and per additional request.
 *
 * The rounds of a figure are run interleaved and the median reported with
 * min-max: on a shared two-core machine single runs swing by half.
 * FB_BENCH_ROUNDS sets the rounds (default 5), FB_BENCH_VERBOSE=1 prints
 * every run.
 *
 *   bench-async [all|throughput|latency|memory|epoll] [MULTI_POLL_PATH
 *               [RAW_CLIENT_PATH]]
 *   bench-async client URLFILE WORKERS reuse|fresh   (what the others run)
 *
 * Every client is a child process started with posix_spawn, so all three
 * contenders are timed the same way: wall from spawn to exit, CPU from
 * wait4. stdout: one JSON line per result; stderr: the tables.
 */

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetchbench/fetchbench.h"

extern char **environ;

#define MAX_ROUNDS 9

static char tmpdir[] = "/tmp/fb-bench-async-XXXXXX";
static char self_path[4096];
static const char *multi_poll_path;
static const char *raw_client_path;
static struct fb_origin_proc origin;
static int client_cpu = -1;
static int origin_cpu = -1;
static char machine[256];

/* --- the client ---------------------------------------------------------- */

/* VmHWM of this process image: unlike ru_maxrss it does not include the
 * parent's pages from before exec.
 */
static long hwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static int client_main(int argc, char **argv) {
  const struct fb_engine *e = fb_engine_find("async");
  struct fb_urlset *u = NULL;
  struct fb_collector *c = NULL;
  struct fb_job job;
  char err[1024];
  size_t ok = 0, later = 0;
  int64_t t, fill_ns = 0;
  double *later_ms;
  double run_s;
  char *end;
  unsigned long workers;
  int rc;

  if (argc != 5 || e == NULL) {
    fprintf(stderr, "usage: %s client URLFILE WORKERS reuse|fresh\n", argv[0]);
    return 2;
  }
  errno = 0;
  workers = strtoul(argv[3], &end, 10);
  if (errno != 0 || end == argv[3] || *end != '\0' || workers < 1 ||
      workers > e->max_workers) {
    fprintf(stderr, "client: WORKERS '%s': a whole number from 1 to %u\n",
            argv[3], e->max_workers);
    return 2;
  }
  if (strcmp(argv[4], "reuse") != 0 && strcmp(argv[4], "fresh") != 0) {
    fprintf(stderr, "client: connection '%s': reuse or fresh\n", argv[4]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 2;
  if (fb_urlset_create(&u) != 0 ||
      fb_urlset_load(u, argv[2], err, sizeof(err)) != 0) {
    fprintf(stderr, "%s: %s\n", argv[2], err);
    return 2;
  }
  fb_job_init(&job);
  job.urls = u;
  job.workers = (unsigned)workers;
  job.connection =
      strcmp(argv[4], "fresh") == 0 ? FB_CONN_FRESH : FB_CONN_REUSE;
  if (fb_collector_create(&c, fb_urlset_count(u)) != 0)
    return 2;
  t = fb_clock_ns();
  fb_collector_restart(c);
  rc = e->run(&job, c);
  run_s = (double)(fb_clock_ns() - t) / 1e9;
  /* Where the time beyond the ideal goes: fill_ms, when the last request on
   * a new connection started; later_ms, the median time of a request on a
   * reused one.
   */
  later_ms = calloc(fb_urlset_count(u), sizeof(*later_ms));
  for (size_t i = 0; i < fb_urlset_count(u); i++) {
    const struct fb_result *r = fb_collector_get(c, i);

    ok += r != NULL && r->outcome == FB_OUTCOME_OK;
    if (r == NULL || r->t_start < 0 || r->t_done < r->t_start)
      continue;
    if (!r->reused && r->t_start > fill_ns)
      fill_ns = r->t_start;
    if (r->reused && later_ms != NULL)
      later_ms[later++] = (double)(r->t_done - r->t_start) / 1e6;
  }
  if (later > 0)
    qsort(later_ms, later, sizeof(*later_ms), cmp_double);
  printf("ok %zu n %zu run_s %.6f hwm_kib %ld rc %d fill_ms %.3f later_ms "
         "%.3f\n",
         ok, fb_urlset_count(u), run_s, hwm_kib(), rc, (double)fill_ns / 1e6,
         later > 0 ? later_ms[later / 2] : -1.0);
  free(later_ms);
  rc = rc == 0 && ok == fb_urlset_count(u) ? 0 : 1;
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  curl_global_cleanup();
  return rc;
}

/* --- children ------------------------------------------------------------ */

struct child {
  double wall_s;
  double cpu_s;
  int status;
  char out[4096]; /* the start of its stdout */
};

/* Runs argv (stdout captured when capture, else /dev/null; stderr kept)
 * and waits for it.
 */
static int spawn_wait(char *const argv[], struct child *ch) {
  posix_spawn_file_actions_t fa;
  struct rusage ru;
  int fds[2] = {-1, -1};
  int64_t t0;
  pid_t pid;
  ssize_t got = 0;
  int err;

  memset(ch, 0, sizeof(*ch));
  if (pipe(fds) != 0)
    return -errno;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  t0 = fb_clock_ns();
  err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    return -err;
  }
  for (;;) {
    char buf[4096];
    ssize_t r = read(fds[0], buf, sizeof(buf));

    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    if ((size_t)got < sizeof(ch->out) - 1) {
      size_t take = (size_t)r;

      if (take > sizeof(ch->out) - 1 - (size_t)got)
        take = sizeof(ch->out) - 1 - (size_t)got;
      memcpy(ch->out + got, buf, take);
      got += (ssize_t)take;
    }
  }
  close(fds[0]);
  while (wait4(pid, &ch->status, 0, &ru) < 0)
    if (errno != EINTR)
      return -errno;
  ch->wall_s = (double)(fb_clock_ns() - t0) / 1e9;
  ch->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  return WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == 0 ? 0 : -1;
}

/* --- URL lists ----------------------------------------------------------- */

struct urls {
  char **v;
  size_t n;
  uint64_t bytes; /* body bytes of one pass over v */
};

/* The corpus the origin serves (the default: the Django documentation when
 * installed, else the synthetic one), as n URLs cycling over every page (of
 * at most max_len bytes, when max_len > 0), each with query; n == 0: whole
 * passes over the corpus, some 7,000 URLs.
 */
static int make_urls(struct urls *u, size_t n, const char *query,
                     size_t max_len) {
  struct fb_corpus *corpus = NULL;
  char err[512], path[4096];
  int rc = fb_corpus_open(&corpus, NULL, err, sizeof(err));
  size_t pages;

  if (rc != 0) {
    fprintf(stderr, "corpus: %s %s\n", fb_strerror(rc), err);
    return rc;
  }
  pages = fb_corpus_count(corpus);
  size_t *pick = calloc(pages, sizeof(*pick));
  size_t npick = 0;

  for (size_t i = 0; pick != NULL && i < pages; i++)
    if (max_len == 0 || fb_corpus_page(corpus, i)->len <= max_len)
      pick[npick++] = i;
  if (npick == 0) {
    free(pick);
    fb_corpus_destroy(corpus);
    return pick == NULL ? -ENOMEM : FB_ECORPUS;
  }
  if (n == 0)
    n = npick * ((7000 + npick - 1) / npick);
  u->v = calloc(n, sizeof(*u->v));
  u->n = n;
  u->bytes = 0;
  for (size_t i = 0; u->v != NULL && i < n; i++) {
    const struct fb_page *pg = fb_corpus_page(corpus, pick[i % npick]);
    char url[4200];

    fb_url_encode_path(path, sizeof(path), pg->path);
    snprintf(url, sizeof(url), "%s/%s%s", origin.base_url, path, query);
    u->v[i] = strdup(url);
    u->bytes += pg->len;
    if (u->v[i] == NULL)
      rc = -ENOMEM;
  }
  free(pick);
  if (u->v == NULL)
    rc = -ENOMEM;
  fb_corpus_destroy(corpus);
  return rc;
}

static void free_urls(struct urls *u) {
  for (size_t i = 0; i < u->n; i++)
    free(u->v[i]);
  free(u->v);
  u->v = NULL;
  u->n = 0;
}

static int write_list(const struct urls *u, const char *path, int curl_cfg) {
  FILE *f = fopen(path, "w");

  if (f == NULL)
    return -errno;
  for (size_t i = 0; i < u->n; i++)
    if (curl_cfg)
      fprintf(f, "url = \"%s\"\noutput = \"/dev/null\"\n", u->v[i]);
    else
      fprintf(f, "%s\n", u->v[i]);
  return fclose(f) == 0 ? 0 : -errno;
}

/* --- figures ------------------------------------------------------------- */

struct stat3 {
  double med, min, max;
};

static struct stat3 stat3(const double *v, int n) {
  double s[MAX_ROUNDS];
  struct stat3 r;

  memcpy(s, v, (size_t)n * sizeof(*s));
  qsort(s, (size_t)n, sizeof(*s), cmp_double);
  r.min = s[0];
  r.max = s[n - 1];
  r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return r;
}

static void print_pinning(void) {
  fprintf(stderr, "machine: %s\n", machine);
  if (client_cpu >= 0)
    fprintf(stderr, "pinned: origin on CPU %d, clients on CPU %d\n", origin_cpu,
            client_cpu);
  else
    fprintf(stderr, "not pinned: fewer than two CPUs allowed\n");
}

static double parse_field(const char *out, const char *name) {
  const char *p = strstr(out, name);

  return p != NULL ? strtod(p + strlen(name), NULL) : -1;
}

/* --- throughput ---------------------------------------------------------- */

static int bench_throughput(int rounds) {
  enum { ASYNC, CURL, MPOLL, NC };
  static const char *const names[NC] = {"async", "curl --parallel",
                                        "multi-poll"};
  static const char *const keys[NC] = {"async", "curl-parallel", "multi-poll"};
  double pps[NC][MAX_ROUNDS], cpp[NC][MAX_ROUNDS];
  char list[4200], cfg[4200];
  struct urls u;
  size_t n;
  int rc, have_curl = access("/usr/bin/curl", X_OK) == 0;

  /* Every page of the corpus, repeated to some 7,000 requests. */
  rc = make_urls(&u, 0, "", 0);
  if (rc != 0)
    return rc;
  n = u.n;
  snprintf(list, sizeof(list), "%s/urls.txt", tmpdir);
  snprintf(cfg, sizeof(cfg), "%s/curl.cfg", tmpdir);
  if (write_list(&u, list, 0) != 0 || write_list(&u, cfg, 1) != 0)
    return -EIO;

  char *argv_async[] = {self_path, "client", list, "64", "reuse", NULL};
  char *argv_curl[] = {"/usr/bin/curl",
                       "--silent",
                       "--no-progress-meter",
                       "--parallel",
                       "--parallel-immediate",
                       "--parallel-max",
                       "64",
                       "-K",
                       cfg,
                       NULL};
  char *argv_mpoll[] = {(char *)multi_poll_path, list, "64", NULL};
  char *const *argvs[NC] = {argv_async, argv_curl, argv_mpoll};

  /* One warm-up pass each, then the rounds; the order rotates per round. */
  for (int r = -1; r < rounds; r++) {
    for (int j = 0; j < NC; j++) {
      int i = (j + (r < 0 ? 0 : r)) % NC;
      struct child ch;

      if (i == CURL && !have_curl)
        continue;
      if (i == MPOLL && multi_poll_path == NULL)
        continue;
      if (spawn_wait(argvs[i], &ch) != 0) {
        fprintf(stderr, "%s failed (status %#x): %s\n", names[i], ch.status,
                ch.out);
        free_urls(&u);
        return -EIO;
      }
      if (r < 0)
        continue;
      pps[i][r] = (double)n / ch.wall_s;
      cpp[i][r] = ch.cpu_s / (double)n * 1e6;
      if (getenv("FB_BENCH_VERBOSE") != NULL)
        fprintf(stderr, "  round %d %-16s %8.0f pages/s %6.1f us/page\n", r,
                names[i], pps[i][r], cpp[i][r]);
    }
  }

  print_pinning();
  fprintf(stderr,
          "throughput: %zu pages (%.1f MB), 64 in flight, keep-alive, "
          "median of %d rounds [min-max]\n",
          n, (double)u.bytes / 1e6, rounds);
  fprintf(stderr, "  %-16s %22s %24s\n", "client", "pages/s", "CPU us/page");
  struct stat3 sp[NC], sc[NC];
  for (int i = 0; i < NC; i++) {
    if ((i == CURL && !have_curl) || (i == MPOLL && multi_poll_path == NULL))
      continue;
    sp[i] = stat3(pps[i], rounds);
    sc[i] = stat3(cpp[i], rounds);
    fprintf(stderr, "  %-16s %8.0f [%6.0f-%6.0f] %8.1f [%6.1f-%6.1f]\n",
            names[i], sp[i].med, sp[i].min, sp[i].max, sc[i].med, sc[i].min,
            sc[i].max);
    printf("{\"bench\":\"async-throughput\",\"client\":\"%s\",\"pages\":%zu,"
           "\"workers\":64,\"rounds\":%d,\"pages_per_s\":%.1f,"
           "\"pages_per_s_min\":%.1f,\"pages_per_s_max\":%.1f,"
           "\"cpu_us_per_page\":%.2f,\"cpu_us_per_page_min\":%.2f,"
           "\"cpu_us_per_page_max\":%.2f,\"client_cpu\":%d,"
           "\"origin_cpu\":%d}\n",
           keys[i], n, rounds, sp[i].med, sp[i].min, sp[i].max, sc[i].med,
           sc[i].min, sc[i].max, client_cpu, origin_cpu);
  }
  if (have_curl && multi_poll_path != NULL) {
    /* The ratios are taken round by round, then their median: the clients
     * of one round ran back to back, so a slow phase of a shared machine
     * (seen here swinging CPU costs by a quarter for minutes) cancels out.
     */
    double speed_r[MAX_ROUNDS], cpu_r[MAX_ROUNDS];
    struct stat3 speed, cpu;

    for (int r = 0; r < rounds; r++) {
      speed_r[r] = pps[ASYNC][r] / pps[CURL][r];
      cpu_r[r] = cpp[ASYNC][r] / cpp[MPOLL][r];
    }
    speed = stat3(speed_r, rounds);
    cpu = stat3(cpu_r, rounds);
    fprintf(stderr,
            "  async / curl --parallel pages/s: %.2fx [%.2f-%.2f] "
            "(goal >= 1.5: %s)\n"
            "  async / multi-poll CPU per page: %.2fx [%.2f-%.2f] "
            "(goal <= 1.1: %s)\n"
            "  (ratios per round, median [min-max])\n",
            speed.med, speed.min, speed.max,
            speed.med >= 1.5 ? "met" : "MISSED", cpu.med, cpu.min, cpu.max,
            cpu.med <= 1.1 ? "met" : "MISSED");
    printf("{\"bench\":\"async-throughput-ratios\",\"async_over_curl_pages_"
           "per_s\":%.3f,\"async_over_curl_min\":%.3f,\"async_over_curl_"
           "max\":%.3f,\"goal_pages_per_s\":1.5,\"async_over_multi_poll_"
           "cpu_per_page\":%.3f,\"async_over_multi_poll_min\":%.3f,"
           "\"async_over_multi_poll_max\":%.3f,\"goal_cpu_per_page\":1.1}\n",
           speed.med, speed.min, speed.max, cpu.med, cpu.min, cpu.max);
  }
  free_urls(&u);
  return 0;
}

/* --- latency ------------------------------------------------------------ */

/* For scale, what the machine allows: wrk's request rate over 1,000
 * keep-alive connections to one small page at 100 ms, for 3 s (so its
 * connection set-up is mostly amortised), as a fraction of the ideal
 * 1,000 / 0.1 s. Skipped when wrk is not installed.
 */
static void wrk_reference(void) {
  const char *wrk = "/usr/bin/wrk";
  struct urls u;
  struct child ch;
  double rps;

  if (access(wrk, X_OK) != 0 || make_urls(&u, 1, "?delay=100", 4096) != 0)
    return;
  char *argv[] = {(char *)wrk, "-t", "1",    "-c", "1000",
                  "-d",        "3",  u.v[0], NULL};

  if (spawn_wait(argv, &ch) == 0 &&
      (rps = parse_field(ch.out, "Requests/sec:")) > 0) {
    fprintf(stderr,
            "  reference: wrk, 1000 connections, one small page at 100 ms: "
            "%.0f req/s = %.3f of the ideal 10000/s\n",
            rps, rps / 10000);
    printf("{\"bench\":\"async-latency-wrk-reference\",\"connections\":"
           "1000,\"delay_ms\":100,\"req_per_s\":%.1f,\"efficiency\":%.4f}"
           "\n",
           rps, rps / 10000);
  }
  free_urls(&u);
}

/* One latency-bound run: each round runs the async engine and then
 * raw-client, the floor (plain sockets, nothing but the bytes), on the same
 * URLs; medians of the rounds, and async's efficiency as a fraction of the
 * floor's, paired by round. Pages of at most max_len bytes (0: the mix).
 */
static int latency_run(int rounds, const char *what, size_t max_len,
                       int judged) {
  const size_t n = 10000;
  const unsigned workers = 1000;
  const double delay_ms = 100;
  double eff[MAX_ROUNDS], wall[MAX_ROUNDS], floor_eff[MAX_ROUNDS];
  double of_floor[MAX_ROUNDS], fill[MAX_ROUNDS], later[MAX_ROUNDS];
  char list[4200];
  struct urls u;
  uint64_t bytes;
  int rc = make_urls(&u, n, "?delay=100", max_len), have_floor;

  if (rc != 0)
    return rc;
  bytes = u.bytes;
  snprintf(list, sizeof(list), "%s/latency.txt", tmpdir);
  rc = write_list(&u, list, 0);
  free_urls(&u);
  if (rc != 0)
    return rc;

  char *argv[] = {self_path, "client", list, "1000", "reuse", NULL};
  char *argv_raw[] = {(char *)raw_client_path, list, "1000", NULL};
  double ideal = (double)((n + workers - 1) / workers) * delay_ms / 1000;

  have_floor = raw_client_path != NULL;
  for (int r = 0; r < rounds; r++) {
    struct child ch;

    if (spawn_wait(argv, &ch) != 0) {
      fprintf(stderr, "latency client failed: %s\n", ch.out);
      return -EIO;
    }
    wall[r] = parse_field(ch.out, "run_s ");
    eff[r] = ideal / wall[r];
    fill[r] = parse_field(ch.out, "fill_ms ");
    later[r] = parse_field(ch.out, "later_ms ");
    if (have_floor) {
      if (spawn_wait(argv_raw, &ch) != 0) {
        fprintf(stderr, "raw-client failed: %s\n", ch.out);
        return -EIO;
      }
      floor_eff[r] = ideal / parse_field(ch.out, "run_s ");
      of_floor[r] = eff[r] / floor_eff[r];
    }
  }
  struct stat3 se = stat3(eff, rounds), sw = stat3(wall, rounds);
  struct stat3 sfill = stat3(fill, rounds), slater = stat3(later, rounds);

  fprintf(stderr,
          "latency-bound, %s (%.1f MB): %zu URLs at %.0f ms, %u in flight: "
          "ideal %.3f s, wall %.3f s [%.3f-%.3f], efficiency %.3f "
          "[%.3f-%.3f]%s\n",
          what, (double)bytes / 1e6, n, delay_ms, workers, ideal, sw.med,
          sw.min, sw.max, se.med, se.min, se.max,
          !judged          ? ""
          : se.med >= 0.95 ? " (goal >= 0.95: met)"
                           : " (goal >= 0.95: MISSED)");
  fprintf(stderr,
          "  where it goes: the last of the %u first requests (each on a new "
          "connection) started at %.0f ms [%.0f-%.0f]; a request on a "
          "reused connection took %.2f ms [%.2f-%.2f] (median)\n",
          workers, sfill.med, sfill.min, sfill.max, slater.med, slater.min,
          slater.max);
  printf("{\"bench\":\"async-latency\",\"pages\":\"%s\",\"urls\":%zu,"
         "\"bytes\":%llu,\"delay_ms\":%.0f,\"workers\":%u,\"rounds\":%d,"
         "\"ideal_s\":%.3f,\"wall_s\":%.4f,\"efficiency\":%.4f,"
         "\"efficiency_min\":%.4f,\"efficiency_max\":%.4f,%s"
         "\"fill_ms\":%.1f,\"later_request_ms\":%.3f,"
         "\"client_cpu\":%d,\"origin_cpu\":%d}\n",
         what, n, (unsigned long long)bytes, delay_ms, workers, rounds, ideal,
         sw.med, se.med, se.min, se.max, judged ? "\"goal\":0.95," : "",
         sfill.med, slater.med, client_cpu, origin_cpu);
  if (have_floor) {
    struct stat3 sf = stat3(floor_eff, rounds), so = stat3(of_floor, rounds);

    fprintf(stderr,
            "  floor (raw-client, plain sockets): efficiency %.3f "
            "[%.3f-%.3f]; async reaches %.3f [%.3f-%.3f] of it\n",
            sf.med, sf.min, sf.max, so.med, so.min, so.max);
    printf("{\"bench\":\"async-latency-floor\",\"pages\":\"%s\","
           "\"floor_efficiency\":%.4f,\"floor_efficiency_min\":%.4f,"
           "\"floor_efficiency_max\":%.4f,\"async_of_floor\":%.4f,"
           "\"async_of_floor_min\":%.4f,\"async_of_floor_max\":%.4f}\n",
           what, sf.med, sf.min, sf.max, so.med, so.min, so.max);
  }
  return 0;
}

/* The goal is judged where the run is bound by latency: small pages. The
 * whole Django mix at 1,000 in flight and 100 ms asks for some 10,000 pages
 * (420 MB) a second, which is the client's throughput limit on this kind of
 * machine, not a latency-bound job; it is reported beside it.
 */
static int bench_latency(int rounds) {
  int rc;

  print_pinning();
  rc = latency_run(rounds, "small pages (<= 4 KiB)", 4096, 1);
  if (rc == 0)
    rc = latency_run(rounds, "Django mix", 0, 0);
  if (rc == 0)
    wrk_reference();
  return rc;
}

/* --- memory -------------------------------------------------------------- */

static int bench_memory(void) {
  const size_t n = 5000;
  char slow[4200], quick[4200];
  struct urls u;
  struct child ch;
  double base, peak, per;
  int rc = make_urls(&u, n, "?delay=2000", 0);

  if (rc != 0)
    return rc;
  snprintf(slow, sizeof(slow), "%s/memory-slow.txt", tmpdir);
  rc = write_list(&u, slow, 0);
  free_urls(&u);
  if (rc == 0)
    rc = make_urls(&u, n, "", 0);
  if (rc != 0)
    return rc;
  snprintf(quick, sizeof(quick), "%s/memory-quick.txt", tmpdir);
  rc = write_list(&u, quick, 0);
  free_urls(&u);
  if (rc != 0)
    return rc;

  /* The same URL count one at a time is the baseline: URL set, collector,
   * libraries, one transfer.
   */
  char *argv_base[] = {self_path, "client", quick, "1", "reuse", NULL};
  char *argv_peak[] = {self_path, "client", slow, "5000", "reuse", NULL};

  if (spawn_wait(argv_base, &ch) != 0)
    return -EIO;
  base = parse_field(ch.out, "hwm_kib ");
  if (spawn_wait(argv_peak, &ch) != 0) {
    fprintf(stderr, "memory client failed: %s\n", ch.out);
    return -EIO;
  }
  peak = parse_field(ch.out, "hwm_kib ");
  per = (peak - base) / (double)(n - 1);
  fprintf(stderr,
          "memory: peak RSS %.0f KiB with 5000 in flight, %.0f KiB one at "
          "a time: %.1f KiB per in-flight transfer (goal <= 32: %s)\n",
          peak, base, per, per <= 32 ? "met" : "MISSED");
  printf("{\"bench\":\"async-memory\",\"in_flight\":5000,\"peak_kib\":%.0f,"
         "\"baseline_kib\":%.0f,\"kib_per_transfer\":%.2f,\"goal\":32}\n",
         peak, base, per);
  return 0;
}

/* --- epoll_ctl ----------------------------------------------------------- */

/* The calls column of strace -c's epoll_ctl row. */
static long strace_calls(const char *path) {
  FILE *f = fopen(path, "r");
  char line[512];
  long calls = -1;

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    double pct, secs;
    long usecs, c;

    if (strstr(line, "epoll_ctl") != NULL &&
        sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &c) == 4)
      calls = c;
  }
  fclose(f);
  return calls;
}

/* epoll_ctl calls of one client run over the first n URLs of list. */
static long epoll_calls(const char *list, size_t n, const char *mode) {
  const char *strace = "/usr/bin/strace";
  char part[4200], out[4200], count[32];
  struct child ch;
  FILE *in, *f;
  char line[4400];
  size_t i = 0;

  snprintf(part, sizeof(part), "%s/epoll-part.txt", tmpdir);
  snprintf(out, sizeof(out), "%s/strace.txt", tmpdir);
  snprintf(count, sizeof(count), "%zu", n);
  in = fopen(list, "r");
  f = fopen(part, "w");
  while (in != NULL && f != NULL && i < n &&
         fgets(line, sizeof(line), in) != NULL) {
    fputs(line, f);
    i++;
  }
  if (in != NULL)
    fclose(in);
  if (f == NULL || fclose(f) != 0)
    return -1;

  char *argv[] = {
      (char *)strace, "-f",     "-c", "-e", "trace=epoll_ctl", "-o", out,
      self_path,      "client", part, "64", (char *)mode,      NULL};

  if (spawn_wait(argv, &ch) != 0) {
    fprintf(stderr, "epoll: strace run failed: %s\n", ch.out);
    return -1;
  }
  return strace_calls(out);
}

/* Calls per request overall, and per additional request (runs over n and
 * 2n URLs), which leaves out the fixed cost of opening and closing the 64
 * connections.
 */
static int bench_epoll(void) {
  static const char *const modes[] = {"reuse", "fresh"};
  char list[4200];
  struct urls u;
  size_t n = 2000;
  int rc;

  if (access("/usr/bin/strace", X_OK) != 0) {
    fprintf(stderr, "epoll: strace not installed, skipped\n");
    return 0;
  }
  rc = make_urls(&u, 2 * n, "", 0);
  if (rc != 0)
    return rc;
  snprintf(list, sizeof(list), "%s/epoll.txt", tmpdir);
  rc = write_list(&u, list, 0);
  free_urls(&u);
  if (rc != 0)
    return rc;
  for (int m = 0; m < 2; m++) {
    long c1 = epoll_calls(list, n, modes[m]);
    long c2 = epoll_calls(list, 2 * n, modes[m]);
    double marginal = (double)(c2 - c1) / (double)n;

    if (c1 < 0 || c2 < 0)
      return -EIO;
    fprintf(stderr,
            "epoll_ctl, %s connections, 64 in flight: %ld calls for %zu "
            "requests (%.2f per request), %.3f per additional request\n",
            modes[m], c2, 2 * n, (double)c2 / (double)(2 * n), marginal);
    printf("{\"bench\":\"async-epoll-ctl\",\"connection\":\"%s\","
           "\"requests\":%zu,\"workers\":64,\"epoll_ctl\":%ld,"
           "\"per_request\":%.3f,\"per_additional_request\":%.3f}\n",
           modes[m], 2 * n, c2, (double)c2 / (double)(2 * n), marginal);
  }
  return 0;
}

/* --- main ---------------------------------------------------------------- */

static void remove_tmp(void) {
  static const char *const files[] = {
      "urls.txt",         "curl.cfg",  "latency.txt", "memory-slow.txt",
      "memory-quick.txt", "epoll.txt", "strace.txt",  "epoll-part.txt",
  };
  char path[4200];

  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
    unlink(path);
  }
  rmdir(tmpdir);
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "all";
  struct fb_origin_config cfg;
  struct rlimit rl;
  char err[512];
  int rounds = 5;
  int rc = 0;
  ssize_t len;

  if (strcmp(what, "client") == 0)
    return client_main(argc, argv);
  if (argc > 2)
    multi_poll_path = realpath(argv[2], NULL);
  if (argc > 3)
    raw_client_path = realpath(argv[3], NULL);
  if (getenv("FB_BENCH_ROUNDS") != NULL)
    rounds = atoi(getenv("FB_BENCH_ROUNDS"));
  if (rounds < 1 || rounds > MAX_ROUNDS)
    rounds = 5;
  len = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
  if (len <= 0)
    return 1;
  self_path[len] = '\0';
  signal(SIGPIPE, SIG_IGN);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  /* 5,000 connections on each side; children inherit the limit. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  fb_machine_describe(machine, sizeof(machine));
  fb_cpu_plan(&client_cpu, &origin_cpu);
  fb_origin_config_init(&cfg);
  cfg.cpu = origin_cpu;
  rc = fb_origin_spawn(&origin, &cfg, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "origin: %s %s\n", fb_strerror(rc), err);
    return 1;
  }
  /* Every client spawned from here on inherits this CPU. */
  if (client_cpu >= 0 && fb_pin_self(client_cpu) != 0)
    client_cpu = -1;
  if (mkdtemp(tmpdir) == NULL) {
    fb_origin_reap(&origin);
    return 1;
  }

  if (rc == 0 && (!strcmp(what, "all") || !strcmp(what, "throughput")))
    rc = bench_throughput(rounds);
  if (rc == 0 && (!strcmp(what, "all") || !strcmp(what, "latency")))
    rc = bench_latency(rounds < 3 ? rounds : 3);
  if (rc == 0 && (!strcmp(what, "all") || !strcmp(what, "memory")))
    rc = bench_memory();
  if (rc == 0 && (!strcmp(what, "all") || !strcmp(what, "epoll")))
    rc = bench_epoll();

  remove_tmp();
  free((char *)multi_poll_path);
  free((char *)raw_client_path);
  fb_origin_reap(&origin);
  curl_global_cleanup();
  if (rc != 0)
    fprintf(stderr, "bench-async: %s\n", fb_strerror(rc));
  return rc == 0 ? 0 : 1;
}
