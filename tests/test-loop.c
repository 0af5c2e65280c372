/* SPDX-License-Identifier: MIT */
/* The loop engines on the client core, raw and uring, each on its own:
 * what the shared conformance, fault and reliability programs cannot see.
 * The test build of the engines (FB_UNITTEST) hands the loop's counters to
 * a hook (src/engines/testhooks.h). uring's own matters (its submissions,
 * features and fallbacks, a ring the system refuses) are test-uring.c's.
 *
 * Run as `test-loop ENGINE GROUP`: the groups are "loop" (quick),
 * "limits" (the open-files limit, cancellation, SIGINT) and "scale" (5,000
 * in flight). An engine this system refuses is skipped (77).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "engines-fixture.h"
#include "engines/testhooks.h"
#include "scratch.h"
#include "tls/tls.h"

#define PAGE "intro/tutorial01.html"

/* The engine under test (argv[1]). */
static const struct fb_engine *engine;

static void add_url(struct fb_urlset *u, const char *url) {
  char err[256];

  if (fb_urlset_add(u, url, strlen(url), err, sizeof(err)) != 0)
    fail_msg("%s: %s", url, err);
}

/* n URLs of PAGE at host:port of the synthetic origin's port. */
static struct fb_urlset *urls_host(size_t n, const char *host) {
  const char *port = strrchr(fx_synthetic.proc.base_url, ':');
  struct fb_urlset *u = NULL;
  char url[512];

  assert_int_equal(fb_urlset_create(&u), 0);
  for (size_t i = 0; i < n; i++) {
    snprintf(url, sizeof(url), "http://%s%s/" PAGE, host, port);
    add_url(u, url);
  }
  return u;
}

/* --- loop ---------------------------------------------------------------- */

/* Keep-alive: every page intact, one connection per slot carried them
 * all, and every URL was started by a refill burst.
 */
static void test_reuse(void **state) {
  struct fx_run r;
  size_t reused;

  (void)state;
  fx_run_init(&r, fx_urls_cycle(300, NULL), 8);
  assert_int_equal(fx_run_go(&r, engine), 0);
  reused = fx_assert_all_ok(&fx_synthetic, r.u, r.c, 8);
  assert_int_equal(reused, 300 - 8);
  assert_int_equal(r.k.connects, 8);
  assert_int_equal(r.k.reuses, 300 - 8);
  assert_int_equal(r.k.max_in_flight, 8);
  assert_true(r.k.reads >= 300);
  assert_int_equal(r.k.retries, 0);
  /* Connections closed as the run ran out of URLs, none at teardown. */
  assert_int_equal(r.k.closes_in_run, 8);
  assert_true(r.k.loop_closed);
  assert_true(fb_collector_stats_const(r.c)->setup_ns > 0);
  fx_run_free(&r);
}

/* Fresh connections: one per request, each closed after it; a slot's next
 * connection waits for the last one's handle to close. (uring: with its
 * completions taken a turn at a time, as libuv's close callbacks come a
 * loop iteration later; asked for again within the turn, the last socket
 * may be closed before the next connect, and test-uring runs that way.)
 */
static void test_fresh(void **state) {
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_cycle(300, NULL), 4);
  r.job.connection = FB_CONN_FRESH;
  fb__test_hooks.uring_off = FB__URING_TASKRUN;
  assert_int_equal(fx_run_go(&r, engine), 0);
  fb__test_hooks.uring_off = 0;
  assert_int_equal(fx_assert_all_ok(&fx_synthetic, r.u, r.c, 4), 0);
  assert_int_equal(r.k.connects, 300);
  assert_int_equal(r.k.reuses, 0);
  assert_int_equal(r.k.closes, 300);
  assert_true(r.k.waited_connects > 0);
  fx_run_free(&r);
}

/* The origin closes every keep-alive connection right after its answer:
 * the core sees the close while the connection is idle (or, when the next
 * request went out first, retries it once on a new connection), so every
 * answer is followed by one or the other but the last of a slot whose
 * connection the run closed itself once every URL had started: at least
 * the last answer's, at most one a slot (two slots can come free together
 * with one URL left, and the one that gets none has seen its close by
 * then). Every page arrives.
 */
static void test_close_idle(void **state) {
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_cycle(100, "?fault=close_idle"), 4);
  assert_int_equal(fx_run_go(&r, engine), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 4);
  assert_true(r.k.idle_closes + r.k.retries >= 100 - 4);
  assert_true(r.k.idle_closes + r.k.retries <= 100 - 1);
  assert_int_equal(r.k.connects, 100);
  fx_run_free(&r);
}

/* localhost and any name under .localhost reach 127.0.0.1 without DNS, as
 * libcurl 7.88 has them; the Host header keeps the name.
 */
static void test_localhost(void **state) {
  static const char *const hosts[] = {"localhost", "tls-stall.localhost",
                                      "A.B.LocalHost"};

  (void)state;
  for (size_t i = 0; i < sizeof(hosts) / sizeof(*hosts); i++) {
    struct fx_run r;

    fx_run_init(&r, urls_host(20, hosts[i]), 4);
    assert_int_equal(fx_run_go(&r, engine), 0);
    assert_int_equal(r.oc[FB_OUTCOME_OK], 20);
    assert_int_equal(r.k.dns_lookups, 0);
    fx_run_free(&r);
  }
}

/* A server of redirects: every request it reads gets a 302 to `location`,
 * on a connection it then closes. Runs in a thread until stopped.
 */
struct redirector {
  int fd;
  int port;
  char location[512];
  int stop;
  unsigned served;
  pthread_t thread;
};

static void *redirector_main(void *arg) {
  struct redirector *rd = arg;

  while (!__atomic_load_n(&rd->stop, __ATOMIC_RELAXED)) {
    struct pollfd pfd = {.fd = rd->fd, .events = POLLIN};
    char req[4096], resp[1024];
    size_t got = 0;
    int c, n;

    if (poll(&pfd, 1, 50) <= 0)
      continue;
    c = accept(rd->fd, NULL, NULL);
    if (c < 0)
      continue;
    while (got < sizeof(req) - 1) {
      ssize_t k = read(c, req + got, sizeof(req) - 1 - got);

      if (k <= 0)
        break;
      got += (size_t)k;
      req[got] = '\0';
      if (strstr(req, "\r\n\r\n") != NULL)
        break;
    }
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n",
                 rd->location);
    if (write(c, resp, (size_t)n) == n)
      rd->served++;
    close(c);
  }
  return NULL;
}

static void redirector_start(struct redirector *rd, const char *location) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);

  memset(rd, 0, sizeof(*rd));
  snprintf(rd->location, sizeof(rd->location), "%s", location);
  rd->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(rd->fd >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(rd->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(rd->fd, 64), 0);
  assert_int_equal(getsockname(rd->fd, (struct sockaddr *)&a, &len), 0);
  rd->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&rd->thread, NULL, redirector_main, rd), 0);
}

static void redirector_stop(struct redirector *rd) {
  __atomic_store_n(&rd->stop, 1, __ATOMIC_RELAXED);
  pthread_join(rd->thread, NULL);
  close(rd->fd);
}

/* An absolute redirect to another origin: the page arrives from there,
 * intact, one redirect per URL.
 */
static void test_redirect_elsewhere(void **state) {
  const struct fb_page *page =
      fb_corpus_find(fx_synthetic.corpus, PAGE, strlen(PAGE));
  struct redirector rd;
  struct fb_urlset *u = NULL;
  char url[512];
  struct fx_run r;

  (void)state;
  if (fx_helper_thread_starves(engine, __func__))
    skip();
  snprintf(url, sizeof(url), "%s/" PAGE, fx_synthetic.proc.base_url);
  redirector_start(&rd, url);
  assert_int_equal(fb_urlset_create(&u), 0);
  for (int i = 0; i < 30; i++) {
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/r%d", rd.port, i);
    add_url(u, url);
  }
  fx_run_init(&r, u, 4);
  assert_int_equal(fx_run_go(&r, engine), 0);
  redirector_stop(&rd);
  assert_int_equal(r.oc[FB_OUTCOME_OK], 30);
  for (size_t i = 0; i < 30; i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    assert_int_equal(res->http_status, 200);
    assert_int_equal(res->body_bytes, page->len);
    assert_int_equal(res->checksum, page->xxh3);
  }
  assert_int_equal(r.k.redirects, 30);
  assert_int_equal(rd.served, 30);
  fx_run_free(&r);
}

/* The whole-request timeout through the slot's timer, and the low-speed
 * limit on a body that comes a byte a second.
 */
static void test_timers(void **state) {
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_small(6, "?delay=3000"), 3);
  r.job.timeout_ms = 150;
  assert_int_equal(fx_run_go(&r, engine), 0);
  assert_int_equal(r.oc[FB_OUTCOME_TIMEOUT], 6);
  assert_true(r.k.timer_fires >= 6);
  for (size_t i = 0; i < 6; i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    assert_true(res->t_done - res->t_start >= 150 * FB_NS_PER_MS);
  }
  fx_run_free(&r);

  fx_run_init(&r, fx_urls_small(2, "?fault=trickle"), 2);
  r.job.timeout_ms = 20000;
  r.job.low_speed_bytes = 100;
  r.job.low_speed_secs = 1;
  assert_int_equal(fx_run_go(&r, engine), 0);
  assert_int_equal(r.oc[FB_OUTCOME_TIMEOUT], 2);
  for (size_t i = 0; i < 2; i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    assert_non_null(strstr(res->message, "too slow"));
    assert_true(res->t_done - res->t_start >= FB_NS_PER_S);
    assert_true(res->t_done - res->t_start < 10 * FB_NS_PER_S);
  }
  fx_run_free(&r);
}

/* A proxy the environment names carries plain http (absolute-form
 * requests: the origin serves those), for every host no_proxy leaves it;
 * no_proxy's hosts are fetched directly.
 */
static void test_proxy(void **state) {
  const struct fb_page *page =
      fb_corpus_find(fx_synthetic.corpus, PAGE, strlen(PAGE));
  char proxy[64];
  struct fx_run r;

  (void)state;
  assert_int_equal(setenv("http_proxy", fx_synthetic.proc.base_url, 1), 0);
  fx_run_init(&r, urls_host(10, "through.proxy.invalid"), 2);
  assert_int_equal(fx_run_go(&r, engine), 0);
  unsetenv("http_proxy");
  assert_int_equal(r.oc[FB_OUTCOME_OK], 10);
  assert_int_equal(fb_collector_get(r.c, 0)->checksum, page->xxh3);
  assert_int_equal(r.k.dns_lookups, 0);
  assert_int_equal(r.k.connects, 2);
  fx_run_free(&r);

  snprintf(proxy, sizeof(proxy), "127.0.0.1:%d", fx_closed_port());
  assert_int_equal(setenv("http_proxy", proxy, 1), 0);
  assert_int_equal(setenv("no_proxy", "example.com, .127.0.0.1", 1), 0);
  fx_run_init(&r, urls_host(10, "127.0.0.1"), 2);
  assert_int_equal(fx_run_go(&r, engine), 0);
  assert_int_equal(r.oc[FB_OUTCOME_OK], 10);
  fx_run_free(&r);
  unsetenv("no_proxy");
  fx_run_init(&r, urls_host(10, "127.0.0.1"), 2);
  assert_int_equal(fx_run_go(&r, engine), 0);
  unsetenv("http_proxy");
  assert_int_equal(r.oc[FB_OUTCOME_CONNECT], 10);
  fx_run_free(&r);
}

/* --- https --------------------------------------------------------------- */

/* A small https server in a thread (the TLS layer's server side on
 * blocking sockets, poll()ed): every request it reads gets the same page,
 * kept alive. The origin serves TLS on a branch of its own; this one
 * stands in for it here.
 */
#define TLS_PAGE_LEN 20000
#define TLS_CONNS 32

struct tls_server {
  int fd;
  int port;
  struct fb_tls_ctx *ctx;
  char page[TLS_PAGE_LEN];
  char head[128];
  int stop;
  unsigned accepted;
  pthread_t thread;
};

struct tls_peer {
  int fd;
  struct fb_tls *conn;
  char req[8192];
  size_t len;
};

static void tls_peer_close(struct tls_peer *p) {
  fb_tls_destroy(p->conn);
  close(p->fd);
  p->fd = -1;
  p->conn = NULL;
}

/* Writes what the peer's TLS has pending; returns -1 when the socket
 * failed.
 */
static int tls_peer_flush(struct tls_peer *p) {
  struct iovec iov;

  while (fb_tls_out_iov(p->conn, 0, &iov, 1) == 1) {
    ssize_t n = write(p->fd, iov.iov_base, iov.iov_len);

    if (n <= 0)
      return -1;
    fb_tls_out_consume(p->conn, (size_t)n);
  }
  return 0;
}

static int tls_peer_serve(struct tls_server *ts, struct tls_peer *p) {
  char buf[16384];
  ssize_t n = read(p->fd, buf, sizeof(buf));
  char *end;

  if (n <= 0)
    return -1;
  if (fb_tls_feed(p->conn, buf, (size_t)n) != 0)
    return -1;
  while ((n = fb_tls_read(p->conn, buf, sizeof(buf))) > 0) {
    if (p->len + (size_t)n >= sizeof(p->req))
      return -1;
    memcpy(p->req + p->len, buf, (size_t)n);
    p->len += (size_t)n;
    p->req[p->len] = '\0';
  }
  if (n != -EAGAIN)
    return tls_peer_flush(p) == 0 ? -1 : -1;
  while ((end = strstr(p->req, "\r\n\r\n")) != NULL) {
    size_t used = (size_t)(end + 4 - p->req);

    if (fb_tls_write(p->conn, ts->head, strlen(ts->head)) <= 0 ||
        fb_tls_write(p->conn, ts->page, TLS_PAGE_LEN) != TLS_PAGE_LEN)
      return -1;
    memmove(p->req, p->req + used, p->len - used + 1);
    p->len -= used;
  }
  return tls_peer_flush(p);
}

static void *tls_server_main(void *arg) {
  struct tls_server *ts = arg;
  struct tls_peer peers[TLS_CONNS];

  for (int i = 0; i < TLS_CONNS; i++)
    peers[i].fd = -1;
  while (!__atomic_load_n(&ts->stop, __ATOMIC_RELAXED)) {
    struct pollfd pfd[TLS_CONNS + 1];

    pfd[0].fd = ts->fd;
    pfd[0].events = POLLIN;
    for (int i = 0; i < TLS_CONNS; i++) {
      pfd[i + 1].fd = peers[i].fd;
      pfd[i + 1].events = POLLIN;
    }
    if (poll(pfd, TLS_CONNS + 1, 50) <= 0)
      continue;
    if (pfd[0].revents & POLLIN) {
      int c = accept(ts->fd, NULL, NULL);

      for (int i = 0; c >= 0 && i < TLS_CONNS; i++) {
        if (peers[i].fd >= 0)
          continue;
        peers[i].fd = c;
        peers[i].len = 0;
        peers[i].req[0] = '\0';
        if (fb_tls_create(&peers[i].conn, ts->ctx, NULL, 0, NULL) != 0)
          tls_peer_close(&peers[i]);
        ts->accepted++;
        c = -1;
      }
      if (c >= 0)
        close(c);
    }
    for (int i = 0; i < TLS_CONNS; i++)
      if (peers[i].fd >= 0 && (pfd[i + 1].revents & (POLLIN | POLLHUP)) &&
          tls_peer_serve(ts, &peers[i]) != 0)
        tls_peer_close(&peers[i]);
  }
  for (int i = 0; i < TLS_CONNS; i++)
    if (peers[i].fd >= 0)
      tls_peer_close(&peers[i]);
  return NULL;
}

static void tls_server_start(struct tls_server *ts, struct fb_tls_cert *cert) {
  struct fb_tls_server_opts o;
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  char err[256];

  memset(ts, 0, sizeof(*ts));
  for (size_t i = 0; i < TLS_PAGE_LEN; i++)
    ts->page[i] = "abcdefghijklmnopqrstuvwxyz\n"[i % 27];
  snprintf(ts->head, sizeof(ts->head),
           "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", TLS_PAGE_LEN);
  memset(&o, 0, sizeof(o));
  o.cert = cert;
  assert_int_equal(fb_tls_ctx_server(&ts->ctx, &o, err, sizeof(err)), 0);
  ts->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(ts->fd >= 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(ts->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(ts->fd, 64), 0);
  assert_int_equal(getsockname(ts->fd, (struct sockaddr *)&a, &len), 0);
  ts->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&ts->thread, NULL, tls_server_main, ts), 0);
}

static void tls_server_stop(struct tls_server *ts) {
  __atomic_store_n(&ts->stop, 1, __ATOMIC_RELAXED);
  pthread_join(ts->thread, NULL);
  close(ts->fd);
  fb_tls_ctx_destroy(ts->ctx);
}

static struct fb_urlset *urls_https(const struct tls_server *ts, size_t n,
                                    const char *host) {
  struct fb_urlset *u = NULL;
  char url[256];

  assert_int_equal(fb_urlset_create(&u), 0);
  for (size_t i = 0; i < n; i++) {
    snprintf(url, sizeof(url), "https://%s:%d/p%zu", host, ts->port, i);
    add_url(u, url);
  }
  return u;
}

/* The certificates and the CA file that trusts them. */
static struct fb_tls_cert *cert_good, *cert_other;
static char ca_path[512];

/* For the loop group: the synthetic origin, the certificates and their CA
 * file.
 */
static int loop_setup(void **state) {
  struct fb_tls_cert_opts o;
  const struct fb_tls_cert *both[2];
  char err[256];

  if (fx_group_setup(state) != 0 || scratch_create(engine->name) != 0)
    return -1;
  memset(&o, 0, sizeof(o));
  o.kind = FB_TLS_CERT_OTHER_NAME;
  if (fb_tls_cert_generate(&cert_good, NULL, err, sizeof(err)) != 0 ||
      fb_tls_cert_generate(&cert_other, &o, err, sizeof(err)) != 0) {
    fprintf(stderr, "certificates: %s\n", err);
    return -1;
  }
  both[0] = cert_good;
  both[1] = cert_other;
  snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", scratch_dir());
  if (fb_tls_cert_write_pem(both, 2, ca_path, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int loop_teardown(void **state) {
  fb_tls_cert_destroy(cert_good);
  fb_tls_cert_destroy(cert_other);
  fb_tls_cleanup();
  scratch_remove();
  return fx_group_teardown(state);
}

static void check_https_pages(struct fx_run *r, const struct tls_server *ts) {
  uint64_t sum = XXH3_64bits(ts->page, TLS_PAGE_LEN);

  for (size_t i = 0; i < fb_collector_size(r->c); i++) {
    const struct fb_result *res = fb_collector_get(r->c, i);

    if (res->outcome != FB_OUTCOME_OK)
      fail_msg("URL %zu: %s (%s)", i, fb_outcome_name(res->outcome),
               res->message != NULL ? res->message : "");
    assert_int_equal(res->body_bytes, TLS_PAGE_LEN);
    assert_int_equal(res->checksum, sum);
  }
}

/* https kept alive: one full handshake per slot, the rest on the kept
 * connections without one; the TLS time only where a handshake was made.
 */
static void test_https_reuse(void **state) {
  struct tls_server ts;
  size_t full = 0, none = 0;
  struct fx_run r;

  (void)state;
  if (fx_helper_thread_starves(engine, __func__))
    skip();
  tls_server_start(&ts, cert_good);
  fx_run_init(&r, urls_https(&ts, 60, "localhost"), 4);
  r.job.cacert = ca_path;
  assert_int_equal(fx_run_go(&r, engine), 0);
  tls_server_stop(&ts);
  check_https_pages(&r, &ts);
  for (size_t i = 0; i < 60; i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    if (res->handshake == FB_HANDSHAKE_FULL) {
      full++;
      assert_true(res->t_tls > res->t_connected);
    } else {
      none += res->handshake == FB_HANDSHAKE_NONE && res->t_tls == -1;
    }
  }
  assert_int_equal(full, 4);
  assert_int_equal(none, 56);
  assert_int_equal(ts.accepted, 4);
  fx_run_free(&r);
}

/* A new connection per request: sessions resumed after the first full
 * handshakes, or, with resumption off, a full handshake every time.
 */
static void test_https_fresh(void **state) {
  (void)state;
  if (fx_helper_thread_starves(engine, __func__))
    skip();
  for (int resume = 1; resume >= 0; resume--) {
    struct tls_server ts;
    size_t full = 0, resumed = 0;
    struct fx_run r;

    tls_server_start(&ts, cert_good);
    fx_run_init(&r, urls_https(&ts, 30, "127.0.0.1"), 2);
    r.job.cacert = ca_path;
    r.job.connection = FB_CONN_FRESH;
    r.job.tls_resume = resume;
    assert_int_equal(fx_run_go(&r, engine), 0);
    tls_server_stop(&ts);
    check_https_pages(&r, &ts);
    for (size_t i = 0; i < 30; i++) {
      const struct fb_result *res = fb_collector_get(r.c, i);

      full += res->handshake == FB_HANDSHAKE_FULL;
      resumed += res->handshake == FB_HANDSHAKE_RESUMED;
    }
    fprintf(stderr, "https fresh, resumption %s: %zu full, %zu resumed\n",
            resume ? "on" : "off", full, resumed);
    assert_int_equal(full + resumed, 30);
    /* How many depends on how the two slots' connections overlap (each
     * offers the latest session the layer's cache holds, which the server
     * may not take twice): under valgrind 5 of 30 were full here, else 2.
     */
    if (resume)
      assert_true(resumed > 0);
    else
      assert_int_equal(resumed, 0);
    assert_int_equal(ts.accepted, 30);
    fx_run_free(&r);
  }
}

/* A certificate for another name: every URL `tls`, libcurl's code and
 * words; --insecure fetches them.
 */
static void test_https_verify(void **state) {
  (void)state;
  if (fx_helper_thread_starves(engine, __func__))
    skip();
  for (int verify = 1; verify >= 0; verify--) {
    struct tls_server ts;
    struct fx_run r;

    tls_server_start(&ts, cert_other);
    fx_run_init(&r, urls_https(&ts, 10, "localhost"), 2);
    r.job.cacert = ca_path;
    r.job.verify_tls = verify;
    assert_int_equal(fx_run_go(&r, engine), 0);
    tls_server_stop(&ts);
    if (!verify) {
      check_https_pages(&r, &ts);
    } else {
      assert_int_equal(r.oc[FB_OUTCOME_TLS], 10);
      assert_non_null(strstr(fb_collector_get(r.c, 0)->message,
                             "no alternative certificate subject name"));
    }
    fx_run_free(&r);
  }
}

/* More workers than URLs: one slot per URL, all in flight. */
static void test_more_workers_than_urls(void **state) {
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_cycle(5, NULL), 10000);
  assert_int_equal(fx_run_go(&r, engine), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 5);
  assert_int_equal(r.k.max_in_flight, 5);
  assert_int_equal(fb_collector_stats_const(r.c)->workers_started, 5);
  fx_run_free(&r);
}

/* --- limits -------------------------------------------------------------- */

static volatile sig_atomic_t cancel_flag;

/* Quick pages first, then pages that stall: cancelled part-way, the run
 * returns FB_ECANCELED with every URL accounted for, the quick ones ok, the
 * stalled and never-started ones cancelled, every socket closed.
 */
static void check_cancelled(struct fx_run *r) {
  assert_int_equal(fb_collector_check(r->c, NULL), 0);
  assert_int_equal(r->oc[FB_OUTCOME_OK], 20);
  assert_int_equal(r->oc[FB_OUTCOME_CANCELLED], 200);
  assert_int_equal(r->k.max_in_flight, 50);
  assert_int_equal(r->k.closes, r->k.connects);
  assert_true(r->k.loop_closed);
  fx_run_free(r);
}

static void cancel_midrun(int use_signal) {
  struct fx_cancel k;
  struct fx_run r;

  if (fx_helper_thread_starves(engine, use_signal ? "test_cancel_sigint"
                                                  : "test_cancel_flag"))
    skip();
  fx_run_init(&r, fx_urls_small(20, NULL), 50);
  fx_add_cycle(r.u, 200, "?fault=stall");
  r.job.cancel = &cancel_flag;
  fx_cancel_arm(&k, &cancel_flag, 69, use_signal);
  assert_int_equal(fx_run_go(&r, engine), FB_ECANCELED);
  fx_cancel_disarm(&k);
  check_cancelled(&r);
}

static void test_cancel_flag(void **state) {
  (void)state;
  cancel_midrun(0);
}

static void test_cancel_sigint(void **state) {
  (void)state;
  cancel_midrun(1);
}

/* The flag raised from within the loop, when request 69 starts (the
 * before_request hook): no thread and no signal, so that it runs under
 * valgrind for every engine. The same run and checks as above.
 */
static void raise_at_69(size_t index, void *arg) {
  (void)arg;
  if (index == 69)
    cancel_flag = 1;
}

static void test_cancel_inline(void **state) {
  struct fx_run r;

  (void)state;
  cancel_flag = 0;
  fx_run_init(&r, fx_urls_small(20, NULL), 50);
  fx_add_cycle(r.u, 200, "?fault=stall");
  r.job.cancel = &cancel_flag;
  fb__test_hooks.before_request = raise_at_69;
  assert_int_equal(fx_run_go(&r, engine), FB_ECANCELED);
  fb__test_hooks.before_request = NULL;
  cancel_flag = 0;
  check_cancelled(&r);
}

/* Cancelled before it starts: nothing runs, everything is cancelled. */
static void test_cancel_before(void **state) {
  struct fx_run r;

  (void)state;
  cancel_flag = 1;
  fx_run_init(&r, fx_urls_small(10, NULL), 4);
  r.job.cancel = &cancel_flag;
  assert_int_equal(fx_run_go(&r, engine), FB_ECANCELED);
  assert_int_equal(r.oc[FB_OUTCOME_CANCELLED], 10);
  assert_int_equal(r.k.connects, 0);
  assert_true(r.k.loop_closed);
  cancel_flag = 0;
  fx_run_free(&r);
}

/* The open-files limit below the concurrency, in a child so that the limit
 * stays there: the sockets that cannot be opened fail their URLs as
 * `resource`, naming the limit; no crash, one result per URL, the run
 * returns 0 and the loop closes.
 */
static int nofile_child(void *arg) {
  struct rlimit rl;
  struct fx_run r;
  const struct fb_result *res = NULL;
  int rc;

  (void)arg;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 2;
  rl.rlim_cur = 256;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 2;
  fx_run_init(&r, fx_urls_cycle(1000, "?delay=300"), 1000);
  rc = fx_run_go(&r, engine);
  for (size_t i = 0; i < fb_collector_size(r.c) && res == NULL; i++)
    if (fb_collector_get(r.c, i)->outcome == FB_OUTCOME_RESOURCE)
      res = fb_collector_get(r.c, i);
  fprintf(stderr,
          "nofile 256, 1000 in flight: rc %d, ok %zu, resource %zu (%s), "
          "loop closed %d\n",
          rc, r.oc[FB_OUTCOME_OK], r.oc[FB_OUTCOME_RESOURCE],
          res != NULL ? res->message : "", r.k.loop_closed);
  if (rc != 0 || fb_collector_check(r.c, NULL) != 0 ||
      r.oc[FB_OUTCOME_OK] + r.oc[FB_OUTCOME_RESOURCE] != 1000 ||
      r.oc[FB_OUTCOME_OK] == 0 || res == NULL ||
      strstr(res->message, "open-files limit 256") == NULL || !r.k.loop_closed)
    rc = 1;
  fx_run_free(&r);
  return rc;
}

static void test_nofile(void **state) {
  (void)state;
  assert_int_equal(fx_in_child(nofile_child, NULL, NULL), 0);
}

/* --- scale --------------------------------------------------------------- */

/* Resident memory when the last of the 5,000 requests starts (all the
 * others in flight by then), read from the before_request hook.
 */
static long rss_in_flight;

static void on_last_request(size_t index, void *arg) {
  if (index == *(size_t *)arg)
    fb_proc_rss_kib(0, &rss_in_flight, NULL);
}

/* 5,000 transfers in flight at once, every one complete and intact, and
 * the memory they hold: a few KiB each (no read buffer per connection; for
 * uring, a pool of receive buffers for them all), printed, and bounded at
 * issue 14's 8 KiB. Each page is delayed 2 s so that they overlap.
 */
static void test_5000(void **state) {
  size_t last = 4999;
  struct fb_usage u;
  long before, peak;
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_small(5000, "?delay=2000"), 5000);
  fb_usage_begin(&u); /* the peak from here */
  assert_int_equal(fb_proc_rss_kib(0, &before, NULL), 0);
  fb__test_hooks.before_request = on_last_request;
  fb__test_hooks.arg = &last;
  assert_int_equal(fx_run_go(&r, engine), 0);
  fb__test_hooks.before_request = NULL;
  if (fb_proc_rss_kib(0, NULL, &peak) != 0)
    peak = 0;
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 5000);
  assert_int_equal(r.k.max_in_flight, 5000);
  assert_int_equal(r.k.connects, 5000);
  assert_true(r.k.loop_closed);
  /* When the last request starts, and at the run's peak (the answers
   * arriving: uring's pool of receive buffers in use).
   */
  fprintf(stderr,
          "%s, 5,000 in flight: %ld KiB more resident when the last starts, "
          "%.0f bytes per transfer; %ld KiB at the run's peak, %.0f bytes "
          "per transfer\n",
          engine->name, rss_in_flight - before,
          (double)(rss_in_flight - before) * 1024 / 5000, peak - before,
          (double)(peak - before) * 1024 / 5000);
  assert_true(rss_in_flight - before < 5000 * 8);
  if (peak > 0)
    assert_true(peak - before < 5000 * 8);
  fx_run_free(&r);
}

/* The first fill of 1,000 slots goes in bursts: some transfer is connected
 * before the last one is even started.
 */
static void test_fill_bursts(void **state) {
  int64_t first_connected = INT64_MAX, last_start = 0;
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_small(1000, "?delay=1000"), 1000);
  assert_int_equal(fx_run_go(&r, engine), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 1000);
  assert_int_equal(r.k.max_in_flight, 1000);
  assert_true(r.k.refills >= 1000 / 64);
  for (size_t i = 0; i < fb_collector_size(r.c); i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    if (res->t_start > last_start)
      last_start = res->t_start;
    if (res->t_connected >= 0 && res->t_connected < first_connected)
      first_connected = res->t_connected;
  }
  assert_true(first_connected < last_start);
  fx_run_free(&r);
}

/* ------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  const struct CMUnitTest loop[] = {
      cmocka_unit_test(test_reuse),
      cmocka_unit_test(test_fresh),
      cmocka_unit_test(test_close_idle),
      cmocka_unit_test(test_localhost),
      cmocka_unit_test(test_redirect_elsewhere),
      cmocka_unit_test(test_timers),
      cmocka_unit_test(test_proxy),
      cmocka_unit_test(test_https_reuse),
      cmocka_unit_test(test_https_fresh),
      cmocka_unit_test(test_https_verify),
      cmocka_unit_test(test_more_workers_than_urls),
  };
  const struct CMUnitTest limits[] = {
      cmocka_unit_test(test_cancel_flag),
      cmocka_unit_test(test_cancel_sigint),
      cmocka_unit_test(test_cancel_inline),
      cmocka_unit_test(test_cancel_before),
      cmocka_unit_test(test_nofile),
  };
  const struct CMUnitTest scale[] = {
      cmocka_unit_test(test_5000),
      cmocka_unit_test(test_fill_bursts),
  };
  const char *group = argc > 2 ? argv[2] : "loop";
  char name[64];
  int rc;

  if (argc < 2 || (engine = fb_engine_find(argv[1])) == NULL) {
    fprintf(stderr, "usage: %s ENGINE loop|limits|scale\n", argv[0]);
    return 2;
  }
  if (fx_engine_skip(engine) != 0)
    return 77;
  /* Both sides of 5,000 connections need 5,000 fds and some: the origin
   * child inherits the limit raised here.
   */
  if (fx_raise_nofile(5200) != 0 && strcmp(group, "scale") == 0) {
    fprintf(stderr, "RLIMIT_NOFILE hard limit below 5200: skipped\n");
    return 77;
  }
  if (getenv("FB_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("FB_TEST_FILTER"));
  snprintf(name, sizeof(name), "%s-%s", engine->name, group);
  fx_global_init();
  if (strcmp(group, "loop") == 0)
    rc = cmocka_run_group_tests_name(name, loop, loop_setup, loop_teardown);
  else if (strcmp(group, "limits") == 0)
    rc = cmocka_run_group_tests_name(name, limits, fx_group_setup,
                                     fx_group_teardown);
  else if (strcmp(group, "scale") == 0)
    rc = cmocka_run_group_tests_name(name, scale, fx_group_setup,
                                     fx_group_teardown);
  else {
    fprintf(stderr, "usage: %s ENGINE loop|limits|scale\n", argv[0]);
    rc = 2;
  }
  fx_global_cleanup();
  return rc;
}
