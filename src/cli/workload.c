/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"

void fb__workload_init(struct fb_workload *w) {
  memset(w, 0, sizeof(*w));
  w->delay_ms = 70;
  w->seed = 1;
  w->pin = 1;
  w->client_cpu = -1;
  w->origin_cpu = -1;
  w->given_origin_cpu = -1;
  w->known_delay_ms = -1;
  w->https = 1;
  w->verify = 1;
}

struct buffer {
  char *data;
  size_t len;
  size_t cap;
};

#define INDEX_MAX (64u << 20)

static size_t on_index_data(char *ptr, size_t size, size_t nmemb, void *arg) {
  struct buffer *b = arg;
  size_t n = size * nmemb;

  if (b->len + n + 1 > INDEX_MAX)
    return 0;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    char *p;

    while (cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL)
      return 0;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* Sets a curl option of the index fetch unless one failed already, and
 * keeps the name of the first that failed (as fetch.c does).
 */
#define INDEX_SETOPT(easy, code, failed, opt, val)                             \
  do {                                                                         \
    if ((code) == CURLE_OK) {                                                  \
      (code) = curl_easy_setopt((easy), (opt), (val));                         \
      if ((code) != CURLE_OK)                                                  \
        (failed) = #opt;                                                       \
    }                                                                          \
  } while (0)

/* GET base/__index: the origin's page paths, one per line, trusting cacert
 * (NULL: the system's CAs), or nothing when verify is 0.
 */
static int fetch_index(const char *base, const char *cacert, int verify,
                       struct buffer *b, char *err, size_t errlen) {
  char url[512];
  char cerr[CURL_ERROR_SIZE] = "";
  const char *failed = NULL;
  long status = 0;
  CURLcode code = CURLE_OK;
  CURL *easy = curl_easy_init();

  if (easy == NULL) {
    snprintf(err, errlen, "curl_easy_init failed");
    return -ENOMEM;
  }
  snprintf(url, sizeof(url), "%s/__index?delay=0", base);
  INDEX_SETOPT(easy, code, failed, CURLOPT_URL, url);
  INDEX_SETOPT(easy, code, failed, CURLOPT_PROTOCOLS_STR, "http,https");
  INDEX_SETOPT(easy, code, failed, CURLOPT_NOSIGNAL, 1L);
  INDEX_SETOPT(easy, code, failed, CURLOPT_TIMEOUT_MS, 30000L);
  INDEX_SETOPT(easy, code, failed, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  INDEX_SETOPT(easy, code, failed, CURLOPT_USERAGENT, fb_user_agent());
  INDEX_SETOPT(easy, code, failed, CURLOPT_ERRORBUFFER, cerr);
  INDEX_SETOPT(easy, code, failed, CURLOPT_WRITEFUNCTION, on_index_data);
  INDEX_SETOPT(easy, code, failed, CURLOPT_WRITEDATA, b);
  if (cacert != NULL && cacert[0] != '\0')
    INDEX_SETOPT(easy, code, failed, CURLOPT_CAINFO, cacert);
  if (!verify) {
    INDEX_SETOPT(easy, code, failed, CURLOPT_SSL_VERIFYPEER, 0L);
    INDEX_SETOPT(easy, code, failed, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (failed != NULL) {
    snprintf(err, errlen, "%s: curl_easy_setopt(%s): %s", url, failed,
             curl_easy_strerror(code));
    curl_easy_cleanup(easy);
    return FB_ECURL;
  }
  /* The index is not delayed on purpose; a delay in the query is ignored
   * by other servers and overrides the default delay of ours.
   */
  code = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  if (code != CURLE_OK) {
    snprintf(err, errlen, "%s: %s%s", url,
             cerr[0] ? cerr : curl_easy_strerror(code),
             code == CURLE_PEER_FAILED_VERIFICATION
                 ? " (--cacert FILE trusts its certificate; --insecure "
                   "trusts any)"
                 : "");
    return FB_ECURL;
  }
  if (status != 200 || b->len == 0) {
    snprintf(err, errlen, "%s: HTTP status %ld (not a fetchbench origin?)", url,
             status);
    return FB_ECORPUS;
  }
  return 0;
}

static int ends_with(const char *s, size_t len, const char *suffix) {
  size_t n = strlen(suffix);

  return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static int is_seed(const char *s, size_t len) {
  for (size_t i = 0; i < FB_SEED_PAGE_COUNT; i++)
    if (strlen(fb_seed_pages[i]) == len &&
        memcmp(fb_seed_pages[i], s, len) == 0)
      return 1;
  return 0;
}

static int add_url(struct fb_urlset *set, const char *base, const char *path,
                   size_t len, size_t copy, char *err, size_t errlen) {
  char url[2048];
  int n;

  if (copy > 0)
    n = snprintf(url, sizeof(url), "%s/%.*s?copy=%zu", base, (int)len, path,
                 copy);
  else
    n = snprintf(url, sizeof(url), "%s/%.*s", base, (int)len, path);
  if (n < 0 || (size_t)n >= sizeof(url)) {
    snprintf(err, errlen, "page path too long: %.*s", (int)len, path);
    return FB_EURL;
  }
  return fb_urlset_add(set, url, (size_t)n, err, errlen);
}

struct span {
  const char *s;
  size_t len;
};

/* The first n pages of the origin: the seed pages first, then every other
 * HTML page in index order, then the same again with distinct query strings
 * so that no two URLs are equal.
 */
static int add_pages(struct fb_workload *w, size_t n, char *err,
                     size_t errlen) {
  struct buffer b = {0};
  struct span *pages = NULL;
  size_t count = 0, cap = 0;
  int rc = fetch_index(w->base_url, w->cacert[0] ? w->cacert : w->trust,
                       w->verify, &b, err, errlen);

  if (rc != 0)
    goto out;
  /* Two passes over the lines: seed pages, then the other HTML pages. */
  for (int pass = 0; pass < 2; pass++) {
    char *line = b.data;

    while (line < b.data + b.len) {
      char *nl = memchr(line, '\n', (size_t)(b.data + b.len - line));
      size_t len = nl ? (size_t)(nl - line) : (size_t)(b.data + b.len - line);
      const char *p = line;

      line += len + 1;
      if (len > 0 && p[len - 1] == '\r')
        len--;
      if (len > 0 && p[0] == '/') {
        p++;
        len--;
      }
      if (len == 0 || !ends_with(p, len, ".html"))
        continue;
      if ((pass == 0) != (is_seed(p, len) != 0))
        continue;
      if (count == cap) {
        struct span *np;

        cap = cap ? cap * 2 : 1024;
        np = realloc(pages, cap * sizeof(*pages));
        if (np == NULL) {
          rc = -ENOMEM;
          goto out;
        }
        pages = np;
      }
      pages[count].s = p;
      pages[count].len = len;
      count++;
    }
  }
  if (count == 0) {
    snprintf(err, errlen, "%s/__index lists no .html page", w->base_url);
    rc = FB_ECORPUS;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    rc = add_url(w->urls, w->base_url, pages[i % count].s, pages[i % count].len,
                 i / count, err, errlen);
    if (rc != 0)
      goto out;
  }
out:
  free(pages);
  free(b.data);
  return rc;
}

static int add_seed_pages(struct fb_workload *w, char *err, size_t errlen) {
  for (size_t i = 0; i < FB_SEED_PAGE_COUNT; i++) {
    int rc = add_url(w->urls, w->base_url, fb_seed_pages[i],
                     strlen(fb_seed_pages[i]), 0, err, errlen);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static void pin_client(struct fb_workload *w, const struct fb_cli_cmd *cmd) {
  int rc = fb_pin_self(w->client_cpu);

  if (rc != 0) {
    fb__cli_error(cmd, "warning: cannot pin to CPU %d: %s", w->client_cpu,
                  fb_strerror(rc));
    w->client_cpu = -1;
  }
}

/* With --origin-cpu: the client takes the first allowed core other than the
 * origin's, as the embedded origin's plan does.
 */
static void pin_beside_origin(struct fb_workload *w,
                              const struct fb_cli_cmd *cmd) {
  int cpus[CPU_SETSIZE];
  int n = fb_cpus_allowed(cpus, CPU_SETSIZE);

  w->origin_cpu = w->given_origin_cpu;
  for (int i = 0; i < n && i < CPU_SETSIZE; i++)
    if (cpus[i] != w->origin_cpu) {
      w->client_cpu = cpus[i];
      pin_client(w, cmd);
      return;
    }
  fb__cli_error(cmd, "warning: no core other than %d to pin the client to",
                w->origin_cpu);
}

static int spawn_origin(struct fb_workload *w, const struct fb_cli_cmd *cmd,
                        char *err, size_t errlen) {
  struct fb_origin_config cfg;
  char why[512] = "";
  const char *dir;
  int rc;

  if (w->pin)
    fb_cpu_plan(&w->client_cpu, &w->origin_cpu);
  fb_origin_config_init(&cfg);
  cfg.corpus = w->corpus;
  cfg.delay_ms = w->delay_ms;
  cfg.jitter_ms = w->jitter_ms;
  cfg.seed = w->seed;
  cfg.cpu = w->origin_cpu;
  cfg.rtt_ms = w->rtt_ms;
  if (w->https) {
    /* The origin makes its own certificate; the run's clients trust it. */
    const char *tmp = getenv("TMPDIR");

    snprintf(w->tmpdir, sizeof(w->tmpdir), "%s/fetchbench-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(w->tmpdir) == NULL) {
      snprintf(err, errlen,
               "cannot make a directory for the origin's "
               "certificate: %s: %s",
               w->tmpdir, strerror(errno));
      w->tmpdir[0] = '\0';
      return -errno;
    }
    snprintf(w->cacert, sizeof(w->cacert), "%s/origin-ca.pem", w->tmpdir);
    cfg.tls = 1;
    cfg.cert_out = w->cacert;
  }
  rc = fb_origin_spawn(&w->origin, &cfg, why, sizeof(why));
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the embedded origin: %s",
             why[0] ? why : fb_strerror(rc));
    return rc;
  }
  w->origin_running = 1;
  if (w->client_cpu >= 0)
    pin_client(w, cmd);
  snprintf(w->base_url, sizeof(w->base_url), "%s", w->origin.base_url);
  if (w->corpus != NULL && w->corpus[0] != '\0')
    dir = w->corpus;
  else
    dir = fb_corpus_default_dir();
  snprintf(w->corpus_name, sizeof(w->corpus_name), "%s",
           dir != NULL ? dir : "synthetic");
  w->known_delay_ms = w->delay_ms;
  return 0;
}

double fb__workload_ideal_ms(const struct fb_workload *w, int fresh) {
  /* What a request cannot take less than: the delay, and the emulated
   * round trips of its connection (TCP, a TLS 1.3 handshake) and its own.
   * A kept-alive connection pays its handshakes once: left out here.
   */
  unsigned trips = fresh ? (w->https ? 3 : 2) : 1;

  if (w->known_delay_ms < 0)
    return -1;
  return w->known_delay_ms +
         (double)(w->origin_running ? w->rtt_ms : 0) * trips;
}

/* The URL set: the user's list or the origin's pages. Returns 0 or a
 * negative code with the reason in err.
 */
static int start(struct fb_workload *w, const struct fb_cli_cmd *cmd, char *err,
                 size_t errlen) {
  char why[2048] = "";
  int rc = fb_urlset_create(&w->urls);

  if (rc != 0)
    return rc;
  if (w->urls_path != NULL) {
    rc = fb_urlset_load(w->urls, w->urls_path, err, errlen);
    w->known_delay_ms = w->delay_set ? (double)w->delay_ms : -1;
    return rc;
  }
  if (w->origin_url != NULL) {
    size_t len = strlen(w->origin_url);

    while (len > 0 && w->origin_url[len - 1] == '/')
      len--;
    snprintf(w->base_url, sizeof(w->base_url), "%.*s", (int)len, w->origin_url);
    w->known_delay_ms = w->delay_set ? (double)w->delay_ms : -1;
  } else {
    rc = spawn_origin(w, cmd, err, errlen);
    if (rc != 0)
      return rc;
  }
  if (w->pages > 0)
    rc = add_pages(w, w->pages, why, sizeof(why));
  else
    rc = add_seed_pages(w, why, sizeof(why));
  if (rc != 0)
    snprintf(err, errlen, "cannot build the URL list: %s",
             why[0] ? why : fb_strerror(rc));
  return rc;
}

int fb__workload_start(struct fb_workload *w, const struct fb_cli_cmd *cmd) {
  char err[2048] = "";
  int rc = start(w, cmd, err, sizeof(err));

  /* A signal while the origin starts or the list loads: whatever that did
   * to the start, the user asked to stop before anything was measured.
   */
  if (fb__cli_cancel) {
    fb__cli_error(cmd, "cancelled before any request was made");
    return fb__signals_exit_status();
  }
  if (rc != 0) {
    fb__cli_error(cmd, "%s", err[0] ? err : fb_strerror(rc));
    return FB_EXIT_USAGE;
  }
  if (w->given_origin_cpu >= 0)
    pin_beside_origin(w, cmd);
  return 0;
}

int fb__workload_schedule(struct fb_workload *w, const struct fb_cli_cmd *cmd,
                          size_t n) {
  int rc;

  fb_schedule_destroy(w->schedule);
  w->schedule = NULL;
  if (w->rate <= 0)
    return 0;
  rc = fb_schedule_create(&w->schedule, n, w->rate, (enum fb_arrival)w->arrival,
                          w->seed);
  if (rc != 0) {
    fb__cli_error(cmd, "--rate: %s", fb_strerror(rc));
    return FB_EXIT_USAGE;
  }
  return 0;
}

void fb__workload_describe(const struct fb_workload *w, char *buf, size_t len) {
  char cores[160];

  if (w->client_cpu >= 0)
    snprintf(cores, sizeof(cores), "client on CPU %d, origin on CPU %d",
             w->client_cpu, w->origin_cpu);
  else
    snprintf(cores, sizeof(cores), "not pinned");
  if (w->rate > 0) {
    size_t n = strlen(cores);

    if (w->rate_lo > 0 && w->rate_lo < w->rate)
      snprintf(cores + n, sizeof(cores) - n,
               "; open loop, %.6g to %.6g requests/s, %s", w->rate_lo, w->rate,
               fb_arrival_name((enum fb_arrival)w->arrival));
    else
      snprintf(cores + n, sizeof(cores) - n, "; open loop, %.6g requests/s, %s",
               w->rate, fb_arrival_name((enum fb_arrival)w->arrival));
  }
  if (w->urls_path != NULL) {
    char delay[48] = "delay unknown";

    if (w->known_delay_ms >= 0)
      snprintf(delay, sizeof(delay), "delay %.0f ms (given)",
               w->known_delay_ms);
    size_t n = fb_urlset_count(w->urls);

    snprintf(buf, len, "%zu URL%s from %s, %s, %s", n, n == 1 ? "" : "s",
             strcmp(w->urls_path, "-") == 0 ? "standard input" : w->urls_path,
             delay, cores);
  } else if (!w->origin_running) {
    char delay[48] = "delay unknown";

    if (w->known_delay_ms >= 0)
      snprintf(delay, sizeof(delay), "delay %.0f ms (given)",
               w->known_delay_ms);
    size_t n = fb_urlset_count(w->urls);

    snprintf(buf, len, "%zu page%s of the origin at %s, %s, %s", n,
             n == 1 ? "" : "s", w->base_url, delay, cores);
  } else {
    char jitter[32] = "";

    if (w->jitter_ms > 0)
      snprintf(jitter, sizeof(jitter), " +/- %u ms", w->jitter_ms);
    size_t n = fb_urlset_count(w->urls);

    char rtt[32] = "";

    if (w->rtt_ms > 0)
      snprintf(rtt, sizeof(rtt), ", round trip %u ms", w->rtt_ms);
    snprintf(buf, len,
             "%zu page%s of corpus %s, embedded origin %s, delay %u ms%s%s, "
             "%s",
             n, n == 1 ? "" : "s", w->corpus_name, w->base_url, w->delay_ms,
             jitter, rtt, cores);
  }
}

void fb__workload_stop(struct fb_workload *w) {
  if (w->origin_running) {
    fb_origin_reap(&w->origin);
    w->origin_running = 0;
  }
  fb_urlset_destroy(w->urls);
  w->urls = NULL;
  fb_schedule_destroy(w->schedule);
  w->schedule = NULL;
  if (w->cacert[0] != '\0')
    unlink(w->cacert);
  if (w->tmpdir[0] != '\0')
    rmdir(w->tmpdir);
  w->cacert[0] = w->tmpdir[0] = '\0';
}
