/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "engines-fixture.h"
#include "engines/testhooks.h"

void fx_global_init(void) {
  signal(SIGPIPE, SIG_IGN);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "curl_global_init failed\n");
    exit(1);
  }
}

int fx_engine_skip(const struct fb_engine *e) {
  char why[FB_MESSAGE_MAX];

  if (fb_engine_available(e, why, sizeof(why)) == 0)
    return 0;
  fprintf(stderr, "engine %s unavailable here, skipped: %s\n", e->name, why);
  return 77;
}

int fx_under_valgrind(void) {
  return RUNNING_ON_VALGRIND != 0;
}

int fx_helper_thread_starves(const struct fb_engine *e, const char *test) {
  if (!fx_under_valgrind() || strcmp(e->name, "uring") != 0)
    return 0;
  fprintf(stderr,
          "%s skipped: under valgrind 3.19 no other thread of the process "
          "runs while the uring loop waits in io_uring_enter (valgrind "
          "does not mark the call as one that blocks), and this test needs "
          "its own thread during the run\n",
          test);
  return 1;
}

void fx_global_cleanup(void) {
  curl_global_cleanup();
}

int fx_tls;

int fx_scheme_args(int argc, char **argv, int i) {
  if (argc <= i || strcmp(argv[i], "http") == 0)
    return 0;
  if (strcmp(argv[i], "https") != 0)
    return -1;
  fx_tls = 1;
  return 0;
}

void fx_job_init(struct fb_job *job, const struct fx_origin *o) {
  fb_job_init(job);
  if (fx_tls)
    job->cacert = o->cacert;
}

int fx_origin_start(struct fx_origin *o, const char *corpus) {
  struct fb_origin_config cfg;
  char err[256] = "";
  int rc;

  memset(o, 0, sizeof(*o));
  if (fx_tls) {
    /* The certificate goes into a file of its own, for the clients. */
    int fd;

    snprintf(o->cacert, sizeof(o->cacert), "/tmp/fb-test-ca-XXXXXX");
    fd = mkstemp(o->cacert);
    if (fd < 0)
      return -errno;
    close(fd);
  }
  if (strcmp(corpus, "synthetic") == 0)
    rc = fb_corpus_synthetic(&o->corpus, FX_SEED);
  else
    rc = fb_corpus_open(&o->corpus, corpus, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "corpus %s: %s %s\n", corpus, fb_strerror(rc), err);
    return rc;
  }
  fb_origin_config_init(&cfg);
  cfg.corpus = corpus;
  cfg.seed = FX_SEED;
  if (fx_tls) {
    cfg.tls = 1;
    cfg.cert_out = o->cacert;
  }
  rc = fb_origin_spawn(&o->proc, &cfg, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "origin: %s %s\n", fb_strerror(rc), err);
    fb_corpus_destroy(o->corpus);
    o->corpus = NULL;
  }
  return rc;
}

void fx_origin_stop(struct fx_origin *o) {
  if (o->proc.pid > 0)
    fb_origin_reap(&o->proc);
  o->proc.pid = 0;
  fb_corpus_destroy(o->corpus);
  o->corpus = NULL;
  if (o->cacert[0] != '\0')
    unlink(o->cacert);
  o->cacert[0] = '\0';
}

struct fx_origin fx_synthetic;

int fx_group_setup(void **state) {
  (void)state;
  return fx_origin_start(&fx_synthetic, "synthetic") == 0 ? 0 : -1;
}

int fx_group_teardown(void **state) {
  (void)state;
  fx_origin_stop(&fx_synthetic);
  return 0;
}

static void add_url(struct fb_urlset *u, const struct fx_origin *o,
                    const char *path, const char *query) {
  char url[4096];
  char err[256];
  size_t len = (size_t)snprintf(url, sizeof(url), "%s/", o->proc.base_url);

  len += fb_url_encode_path(url + len, sizeof(url) - len, path);
  if (query != NULL)
    len += (size_t)snprintf(url + len, sizeof(url) - len, "%s", query);
  assert_true(len < sizeof(url));
  if (fb_urlset_add(u, url, len, err, sizeof(err)) != 0)
    fail_msg("bad URL %s: %s", url, err);
}

void fx_urls_add_pages(struct fb_urlset *u, const struct fx_origin *o,
                       size_t first, size_t count, const char *query) {
  size_t total = fb_corpus_count(o->corpus);

  if (count == 0 || first + count > total)
    count = total - first;
  for (size_t i = first; i < first + count; i++)
    add_url(u, o, fb_corpus_page(o->corpus, i)->path, query);
}

struct fb_urlset *fx_urls_pages(const struct fx_origin *o, size_t first,
                                size_t count, const char *query) {
  struct fb_urlset *u = NULL;

  assert_int_equal(fb_urlset_create(&u), 0);
  fx_urls_add_pages(u, o, first, count, query);
  return u;
}

struct fb_urlset *fx_urls_seed(const struct fx_origin *o, const char *query) {
  struct fb_urlset *u = NULL;

  assert_int_equal(fb_urlset_create(&u), 0);
  for (size_t i = 0; i < FB_SEED_PAGE_COUNT; i++)
    add_url(u, o, fb_seed_pages[i], query);
  return u;
}

static int unhex(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

const struct fb_page *fx_page_of(const struct fx_origin *o, const char *url) {
  size_t base = strlen(o->proc.base_url);
  char path[4096];
  size_t n = 0;
  const char *p;

  if (strncmp(url, o->proc.base_url, base) != 0 || url[base] != '/')
    return NULL;
  for (p = url + base + 1; *p && *p != '?' && n + 1 < sizeof(path); p++) {
    if (*p == '%' && unhex(p[1]) >= 0 && unhex(p[2]) >= 0) {
      path[n++] = (char)(unhex(p[1]) * 16 + unhex(p[2]));
      p += 2;
    } else {
      path[n++] = *p;
    }
  }
  path[n] = '\0';
  return fb_corpus_find(o->corpus, path, n);
}

static int loopback_socket(struct sockaddr_in *a) {
  memset(a, 0, sizeof(*a));
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

int fx_black_hole_open(struct fx_black_hole *bh) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  struct pollfd pfd;
  int probe, rc;

  bh->listen_fd = loopback_socket(&a);
  assert_true(bh->listen_fd >= 0);
  assert_int_equal(bind(bh->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(bh->listen_fd, 0), 0);
  assert_int_equal(getsockname(bh->listen_fd, (struct sockaddr *)&a, &len), 0);
  bh->port = ntohs(a.sin_port);
  bh->fill_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(bh->fill_fd >= 0);
  assert_int_equal(connect(bh->fill_fd, (struct sockaddr *)&a, sizeof(a)), 0);

  /* The queue is full when a second connect does not complete. */
  probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  assert_true(probe >= 0);
  rc = connect(probe, (struct sockaddr *)&a, sizeof(a));
  assert_true(rc == 0 || errno == EINPROGRESS);
  pfd.fd = probe;
  pfd.events = POLLOUT;
  rc = rc == 0 ? 1 : poll(&pfd, 1, 300);
  close(probe);
  return rc == 0 ? 0 : -1;
}

void fx_black_hole_close(struct fx_black_hole *bh) {
  close(bh->fill_fd);
  close(bh->listen_fd);
}

int fx_closed_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port;

  assert_true(fd >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

double fx_now(void) {
  return (double)fb_clock_ns() / 1e9;
}

size_t fx_assert_all_ok(const struct fx_origin *o, const struct fb_urlset *u,
                        const struct fb_collector *c, unsigned workers) {
  size_t n = fb_urlset_count(u);
  size_t reused = 0;
  size_t bad = 0;

  assert_int_equal(fb_collector_size(c), n);
  assert_int_equal(fb_collector_check(c, &bad), 0);
  for (size_t i = 0; i < n; i++) {
    const struct fb_result *r = fb_collector_get(c, i);
    const struct fb_page *pg = fx_page_of(o, fb_urlset_get(u, i));

    assert_non_null(r);
    assert_non_null(pg);
    if (r->outcome != FB_OUTCOME_OK || r->http_status != 200 ||
        r->body_bytes != pg->len || r->checksum != pg->xxh3)
      fail_msg("%s: %s status %u, %llu bytes (want %zu), xxh3 %016llx "
               "(want %016llx): %s",
               fb_urlset_get(u, i), fb_outcome_name(r->outcome), r->http_status,
               (unsigned long long)r->body_bytes, pg->len,
               (unsigned long long)r->checksum, (unsigned long long)pg->xxh3,
               r->message != NULL ? r->message : "");
    assert_int_equal(r->index, i);
    assert_true(r->worker < workers);
    assert_true(r->t_start >= 0);
    assert_true(r->t_connected >= r->t_start);
    assert_true(r->t_first_byte >= r->t_connected);
    assert_true(r->t_done >= r->t_first_byte);
    reused += r->reused != 0;
  }
  return reused;
}

void fx_add_cycle(struct fb_urlset *u, size_t n, const char *query) {
  size_t pages = fb_corpus_count(fx_synthetic.corpus);

  for (size_t i = 0; i < n; i += pages)
    fx_urls_add_pages(u, &fx_synthetic, 0, n - i < pages ? n - i : pages,
                      query);
}

void fx_add_small(struct fb_urlset *u, size_t n, const char *query) {
  size_t pages = fb_corpus_count(fx_synthetic.corpus);
  size_t best = 0;

  for (size_t i = 1; i < pages; i++)
    if (fb_corpus_page(fx_synthetic.corpus, i)->len <
        fb_corpus_page(fx_synthetic.corpus, best)->len)
      best = i;
  for (size_t i = 0; i < n; i++)
    fx_urls_add_pages(u, &fx_synthetic, best, 1, query);
}

struct fb_urlset *fx_urls_cycle(size_t n, const char *query) {
  struct fb_urlset *u = NULL;

  assert_int_equal(fb_urlset_create(&u), 0);
  fx_add_cycle(u, n, query);
  return u;
}

struct fb_urlset *fx_urls_small(size_t n, const char *query) {
  struct fb_urlset *u = NULL;

  assert_int_equal(fb_urlset_create(&u), 0);
  fx_add_small(u, n, query);
  return u;
}

int fx_in_child(int (*fn)(void *arg), void *arg, const char *what) {
  int status = 0;
  pid_t pid;

  fflush(NULL);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(fn(arg));
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status))
    fail_msg("%s%schild killed by signal %d", what != NULL ? what : "",
             what != NULL ? ": " : "", WTERMSIG(status));
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

int fx_raise_nofile(unsigned long need) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -errno;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      return -errno;
  }
  return rl.rlim_cur >= need ? 0 : -EMFILE;
}

static volatile sig_atomic_t *cancel_flag;

static void on_before_request(size_t index, void *arg) {
  struct fx_cancel *k = arg;

  if (index == k->after_index)
    __atomic_store_n(&k->started, 1, __ATOMIC_RELEASE);
}

static void *cancel_later(void *arg) {
  struct fx_cancel *k = arg;
  struct timespec ts = {0, 10 * 1000000L};

  while (!__atomic_load_n(&k->started, __ATOMIC_ACQUIRE))
    nanosleep(&ts, NULL);
  ts.tv_nsec = 200 * 1000000L;
  nanosleep(&ts, NULL);
  if (k->use_signal)
    kill(getpid(), SIGINT);
  else
    __atomic_store_n(cancel_flag, 1, __ATOMIC_RELAXED);
  return NULL;
}

static void on_sigint(int sig) {
  (void)sig;
  *cancel_flag = 1;
}

void fx_cancel_arm(struct fx_cancel *k, volatile sig_atomic_t *flag,
                   size_t after_index, int use_signal) {
  struct sigaction sa;

  memset(k, 0, sizeof(*k));
  k->after_index = after_index;
  k->use_signal = use_signal;
  cancel_flag = flag;
  *flag = 0;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGINT, &sa, &k->old), 0);
  fb__test_hooks.before_request = on_before_request;
  fb__test_hooks.arg = k;
  assert_int_equal(pthread_create(&k->thread, NULL, cancel_later, k), 0);
}

void fx_cancel_disarm(struct fx_cancel *k) {
  fb__test_hooks.before_request = NULL;
  fb__test_hooks.arg = NULL;
  assert_int_equal(pthread_join(k->thread, NULL), 0);
  assert_int_equal(sigaction(SIGINT, &k->old, NULL), 0);
}

void fx_run_init(struct fx_run *r, struct fb_urlset *u, unsigned workers) {
  memset(r, 0, sizeof(*r));
  fb_job_init(&r->job);
  r->u = u;
  r->job.urls = u;
  r->job.workers = workers;
}

int fx_run_go(struct fx_run *r, const struct fb_engine *e) {
  int rc;

  assert_int_equal(fb_collector_create(&r->c, fb_urlset_count(r->u)), 0);
  fb__test_hooks.raw_counters = &r->k;
  fb__test_hooks.uring_counters = &r->uk;
  fb_collector_restart(r->c);
  rc = e->run(&r->job, r->c);
  fb__test_hooks.raw_counters = NULL;
  fb__test_hooks.uring_counters = NULL;
  if (strcmp(e->name, "uring") == 0)
    r->k = r->uk.loop;
  for (size_t i = 0; i < fb_collector_size(r->c); i++) {
    const struct fb_result *res = fb_collector_get(r->c, i);

    if (res != NULL && res->outcome < FB_OUTCOME_COUNT)
      r->oc[res->outcome]++;
  }
  return rc;
}

void fx_run_free(struct fx_run *r) {
  fb_collector_destroy(r->c);
  fb_urlset_destroy(r->u);
}
