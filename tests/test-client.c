/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 client core alone (src/client/), driven as an engine drives
 * it but without a socket: the test plays the engine and the server, feeds
 * response bytes split at every offset and byte by byte (each piece in a
 * buffer of its own, freed right after, so that a pointer kept into one
 * shows under ASan and valgrind), and checks the ops the core asks for and
 * the results it gives: outcomes as libcurl 7.88 gives them (test-faults.c
 * checks the same against the origin), the request bytes, keep-alive
 * decisions, redirects, 1xx, the cap, decoding, retries and timeouts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "client/client.h"
#include "client/client_int.h"
#include "fetchbench/clock.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/result.h"
#include "fetchbench/urlset.h"
#include "scratch.h"
#include "tls/tls.h"

#define MS FB_NS_PER_MS
#define T0 (1000 * FB_NS_PER_S) /* the run's clock zero in these tests */

/* The test's engine: one slot, its client, the clock. */
struct rig {
  struct fb_urlset *u;
  struct fb_job job;
  struct fb_client *cl;
  struct fb_client_conn *c;
  int64_t now;
  char sent[8192]; /* the bytes of the last SEND, whole */
  size_t sent_len;
  union fb__addr addr; /* the address of the last CONNECT */
};

static void rig_urls(struct rig *t, const char *const *urls) {
  char err[256];

  assert_int_equal(fb_urlset_create(&t->u), 0);
  for (size_t i = 0; urls[i] != NULL; i++)
    if (fb_urlset_add(t->u, urls[i], strlen(urls[i]), err, sizeof(err)) != 0)
      fail_msg("%s: %s", urls[i], err);
}

/* A rig for urls (NULL-terminated); set job fields, then rig_start. */
static void rig_init(struct rig *t, const char *const *urls) {
  memset(t, 0, sizeof(*t));
  rig_urls(t, urls);
  fb_job_init(&t->job);
  t->job.urls = t->u;
  t->job.user_agent = "ua/1";
  t->now = T0;
}

static void rig_start(struct rig *t) {
  char err[256];

  assert_int_equal(fb_client_create(&t->cl, &t->job, T0, err, sizeof(err)), 0);
  t->c = aligned_alloc(alignof(struct fb_client_conn),
                       sizeof(struct fb_client_conn));
  assert_non_null(t->c);
  fb_client_conn_init(t->c, t->cl, 3);
}

static void rig_free(struct rig *t) {
  fb_client_conn_cleanup(t->c);
  free(t->c);
  fb_client_destroy(t->cl);
  fb_urlset_destroy(t->u);
}

static const char *op_name(enum fb_client_op op) {
  static const char *const names[] = {"WAIT", "CLOSE", "CONNECT", "SEND",
                                      "DONE"};
  return names[op];
}

/* Takes the next op, keeping what a SEND or CONNECT carries. */
static enum fb_client_op take(struct rig *t) {
  struct fb_client_action act;
  enum fb_client_op op = fb_client_next(t->c, &act);

  if (op == FB_CLIENT_SEND) {
    t->sent_len = 0;
    for (int i = 0; i < act.iovcnt; i++) {
      assert_true(t->sent_len + act.iov[i].iov_len <= sizeof(t->sent));
      memcpy(t->sent + t->sent_len, act.iov[i].iov_base, act.iov[i].iov_len);
      t->sent_len += act.iov[i].iov_len;
    }
  } else if (op == FB_CLIENT_CONNECT) {
    assert_true(act.addrlen <= sizeof(t->addr));
    memcpy(&t->addr, act.addr, act.addrlen);
  }
  return op;
}

/* What the test is doing, for the failure messages of expect_ops. */
static char what[256];

/* Asserts the ops that come next, in order, then WAIT. */
static void expect_ops(struct rig *t, ...) {
  va_list ap;
  int want;

  va_start(ap, t);
  do {
    enum fb_client_op got;

    want = va_arg(ap, int);
    got = take(t);
    if ((int)got != want)
      fail_msg("%s: op %s, want %s (verdict: %s %s)", what, op_name(got),
               op_name((enum fb_client_op)want), fb_outcome_name(t->c->outcome),
               t->c->msg);
  } while (want != FB_CLIENT_WAIT);
  va_end(ap);
}

static int addr_port(const struct rig *t) {
  return ntohs(t->addr.sa.sa_family == AF_INET6 ? t->addr.in6.sin6_port
                                                : t->addr.in.sin_port);
}

/* Starts URL index: a new connection (CONNECT, connected, SEND, sent). */
static void begin_new(struct rig *t, size_t index) {
  fb_client_start(t->c, index, t->now);
  expect_ops(t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  t->now += MS;
  fb_client_connected(t->c, 0, t->now);
  expect_ops(t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t->c, (long)t->sent_len, t->now);
  expect_ops(t, FB_CLIENT_WAIT);
}

/* Starts URL index on the kept connection. */
static void begin_reused(struct rig *t, size_t index) {
  fb_client_start(t->c, index, t->now);
  expect_ops(t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t->c, (long)t->sent_len, t->now);
  expect_ops(t, FB_CLIENT_WAIT);
}

/* Feeds len bytes in a buffer of their own, gone right after. */
static void feed(struct rig *t, const char *p, size_t len) {
  char *copy;

  if (len == 0)
    return;
  copy = malloc(len);
  assert_non_null(copy);
  memcpy(copy, p, len);
  t->now += MS;
  fb_client_received(t->c, copy, len, t->now);
  memset(copy, 0xa5, len);
  free(copy);
}

static void feed_str(struct rig *t, const char *s) {
  feed(t, s, strlen(s));
}

static void result(struct rig *t, struct fb_result *r) {
  fb_client_result(t->c, r);
  assert_int_equal(r->worker, 3);
}

static void expect_result(struct rig *t, enum fb_outcome outcome,
                          unsigned status, int code) {
  struct fb_result r;

  result(t, &r);
  if (r.outcome != outcome || r.http_status != status || r.error_code != code)
    fail_msg("result %s %u code %d (%s), want %s %u code %d",
             fb_outcome_name(r.outcome), r.http_status, r.error_code,
             r.message ? r.message : "", fb_outcome_name(outcome), status,
             code);
}

/* --- URLs and requests --------------------------------------------------- */

/* The fast URL parser takes only what curl_url would leave as it is, and
 * then agrees with it on every part.
 */
static void test_url_fast(void **state) {
  static const struct {
    const char *url;
    int fast;
  } cases[] = {
      {"http://127.0.0.1:8080/a/b.html?delay=5&x=y", 1},
      {"https://example.com/", 1},
      {"http://h.localhost:1/x/.hidden", 1},
      {"http://a-b.c9.example/p;q=1/@:$!'()*+,=~_-?a/b?c", 1},
      {"http://127.0.0.1:80/", 1},
      {"http://h", 0},
      {"http://h?q", 0},
      {"http://H/", 0},
      {"HTTP://h/", 0},
      {"http://h/a/../b", 0},
      {"http://h/a/./b", 0},
      {"http://h/a/.", 0},
      {"http://h/a/..", 0},
      {"http://h/a%20b", 0},
      {"http://h/a#frag", 0},
      {"http://h/\xc3\xa9", 0},
      {"http://127.1/", 0},
      {"http://0x7f.0.0.1/", 0},
      {"http://127.000.0.1/", 0},
      {"http://1h.com/", 0},
      {"http://h:080/", 0},
      {"http://h:/", 0},
      {"http://h:65536/", 0},
      {"http://u:p@h/", 0},
      {"http://[::1]:8/", 0},
      {"http://h..com/", 0},
      {"http://h.com./", 0},
  };
  CURLU *cu = curl_url();

  (void)state;
  assert_non_null(cu);
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    struct fb__url_parts p;
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL, *scheme;
    char target[512], h[256];
    int fast = fb__url_fast(cases[i].url, &p);

    if (fast != cases[i].fast)
      fail_msg("%s: fast %d, want %d", cases[i].url, fast, cases[i].fast);
    if (!fast)
      continue;
    assert_int_equal(curl_url_set(cu, CURLUPART_URL, cases[i].url, 0), 0);
    assert_int_equal(curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0), 0);
    assert_int_equal(curl_url_get(cu, CURLUPART_HOST, &host, 0), 0);
    assert_int_equal(
        curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT), 0);
    assert_int_equal(curl_url_get(cu, CURLUPART_PATH, &path, CURLU_URLENCODE),
                     0);
    (void)curl_url_get(cu, CURLUPART_QUERY, &query, 0);
    snprintf(target, sizeof(target), "%s%s%s", path, query ? "?" : "",
             query ? query : "");
    snprintf(h, sizeof(h), "%.*s", (int)p.hostlen, p.host);
    assert_string_equal(h, host);
    assert_int_equal(p.port, atoi(port));
    assert_int_equal(p.tls, strcmp(scheme, "https") == 0);
    assert_int_equal(p.targetlen, strlen(target));
    assert_memory_equal(p.target, target, p.targetlen);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
  }
  curl_url_cleanup(cu);
}

/* The request as prebuilt: GET, the target as libcurl sends it, Host
 * without the default port, User-Agent, Accept-Encoding: identity, and
 * Connection: close in fresh mode.
 */
static void test_request_bytes(void **state) {
  static const char *const urls[] = {
      "http://127.0.0.1:8080/a/b.html?delay=5",
      "http://h.localhost/x/../y?%7e",
      "http://[::1]:8080/v6",
      NULL,
  };
  static const char *const want[] = {
      "GET /a/b.html?delay=5 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "User-Agent: ua/1\r\nAccept-Encoding: identity\r\n",
      "GET /y?%7e HTTP/1.1\r\nHost: h.localhost\r\n"
      "User-Agent: ua/1\r\nAccept-Encoding: identity\r\n",
      "GET /v6 HTTP/1.1\r\nHost: [::1]:8080\r\n"
      "User-Agent: ua/1\r\nAccept-Encoding: identity\r\n",
  };

  (void)state;
  for (int fresh = 0; fresh < 2; fresh++) {
    struct rig t;

    rig_init(&t, urls);
    t.job.connection = fresh ? FB_CONN_FRESH : FB_CONN_REUSE;
    rig_start(&t);
    for (size_t i = 0; i < 3; i++) {
      char w[512];

      snprintf(w, sizeof(w), "%s%s\r\n", want[i],
               fresh ? "Connection: close\r\n" : "");
      fb_client_start(t.c, i, t.now);
      expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
      if (i == 1) {
        /* *.localhost: 127.0.0.1 without DNS (then ::1). */
        assert_int_equal(t.addr.sa.sa_family, AF_INET);
        assert_int_equal(ntohl(t.addr.in.sin_addr.s_addr), INADDR_LOOPBACK);
        assert_int_equal(addr_port(&t), 80);
      } else if (i == 2) {
        assert_int_equal(t.addr.sa.sa_family, AF_INET6);
        assert_int_equal(addr_port(&t), 8080);
      }
      fb_client_connected(t.c, 0, t.now);
      expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
      assert_int_equal(t.sent_len, strlen(w));
      assert_memory_equal(t.sent, w, t.sent_len);
      fb_client_abort(t.c, FB_OUTCOME_CANCELLED, "next", t.now);
      expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
    }
    assert_int_equal(fb_client_dns_lookups(t.cl), 0);
    rig_free(&t);
  }
}

/* A request sent in pieces: each SEND carries what is left. */
static void test_partial_send(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/abc", NULL};
  char whole[256];
  size_t len;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  fb_client_connected(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  len = t.sent_len;
  memcpy(whole, t.sent, len);
  for (size_t done = 0; done < len;) {
    size_t n = done == 0 ? 2 : 7; /* inside "GET ", then across pieces */

    if (n > len - done)
      n = len - done;
    fb_client_sent(t.c, (long)n, t.now);
    done += n;
    if (done < len) {
      expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
      assert_int_equal(t.sent_len, len - done);
      assert_memory_equal(t.sent, whole + done, len - done);
    }
  }
  expect_ops(&t, FB_CLIENT_WAIT);
  rig_free(&t);
}

/* --- responses split every way ------------------------------------------ */

struct body_case {
  const char *name;
  const char *head; /* the response up to the body */
  const char *body; /* NULL: the body is the page below, raw */
  int chunked;      /* the page sent as chunks of 7 bytes */
  int close;        /* delimited by the close */
};

static const char page[] =
    "<html><body>the page, long enough to cross a few pieces: "
    "0123456789abcdefghijklmnopqrstuvwxyz</body></html>\n";

/* The response bytes of a case, whole, "{len}" in its head replaced by the
 * page's length; the caller frees them.
 */
static char *response_of(const struct body_case *bc, size_t *len) {
  size_t cap = 4096, n = 0;
  const char *mark = strstr(bc->head, "{len}");
  char *buf = malloc(cap);

  assert_non_null(buf);
  assert_non_null(mark);
  n += (size_t)snprintf(buf, cap, "%.*s%zu%s", (int)(mark - bc->head), bc->head,
                        strlen(page), mark + 5);
  if (bc->chunked) {
    for (size_t i = 0; i < strlen(page); i += 7) {
      size_t k = strlen(page) - i < 7 ? strlen(page) - i : 7;

      /* A chunk extension on every other chunk, which must be skipped. */
      n += (size_t)snprintf(buf + n, cap - n, "%zx%s\r\n", k,
                            i % 14 ? ";ext=1" : "");
      memcpy(buf + n, page + i, k);
      n += k;
      memcpy(buf + n, "\r\n", 2);
      n += 2;
    }
    n += (size_t)snprintf(buf + n, cap - n, "0\r\nTrailer: x\r\n\r\n");
  } else {
    memcpy(buf + n, page, strlen(page));
    n += strlen(page);
  }
  *len = n;
  return buf;
}

static const struct body_case body_cases[] = {
    {"length", "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nX: y\r\n\r\n", NULL,
     0, 0},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Len: {len}\r\n\r\n",
     NULL, 1, 0},
    {"close-delimited", "HTTP/1.1 200 OK\r\nX-Len: {len}\r\n\r\n", NULL, 0, 1},
    {"1xx first",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n"
     "\r\nHTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n",
     NULL, 0, 0},
    {"bare LF", "HTTP/1.1 200 OK\nContent-Length: {len}\n\n", NULL, 0, 0},
    {"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: {len}\r\n\r\n", NULL, 0,
     0},
};

/* Feeds resp in the pieces [0, a), [a, b), [b, len) and checks the page
 * arrived whole.
 */
static void run_pieces(const struct body_case *bc, const char *resp, size_t len,
                       size_t a, size_t b, int bytewise) {
  static const char *const urls[] = {"http://127.0.0.1:1/p", NULL};
  struct fb_result r;
  struct rig t;

  snprintf(what, sizeof(what), "%s split at %zu, %zu%s", bc->name, a, b,
           bytewise ? " (bytewise)" : "");
  rig_init(&t, urls);
  rig_start(&t);
  begin_new(&t, 0);
  if (bytewise) {
    for (size_t i = 0; i < len; i++)
      feed(&t, resp + i, 1);
  } else {
    feed(&t, resp, a);
    feed(&t, resp + a, b - a);
    feed(&t, resp + b, len - b);
  }
  if (bc->close) {
    expect_ops(&t, FB_CLIENT_WAIT);
    fb_client_eof(t.c, 0, t.now);
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  } else if (strstr(bc->head, "HTTP/1.0") != NULL) {
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  } else {
    expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  }
  result(&t, &r);
  if (r.outcome != FB_OUTCOME_OK || r.body_bytes != strlen(page) ||
      r.checksum != XXH3_64bits(page, strlen(page)))
    fail_msg("%s split at %zu, %zu%s: %s, %llu bytes (%s)", bc->name, a, b,
             bytewise ? " (bytewise)" : "", fb_outcome_name(r.outcome),
             (unsigned long long)r.body_bytes, r.message ? r.message : "");
  assert_int_equal(r.http_status, 200);
  assert_int_equal(r.t_start, 0);
  assert_true(r.t_connected > 0 && r.t_first_byte >= r.t_connected);
  assert_true(r.t_done >= r.t_first_byte);
  assert_int_equal(r.reused, 0);
  rig_free(&t);
}

static void test_split_everywhere(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof(body_cases) / sizeof(*body_cases); k++) {
    const struct body_case *bc = &body_cases[k];
    size_t len;
    char *resp = response_of(bc, &len);

    run_pieces(bc, resp, len, 0, 0, 1);
    for (size_t a = 0; a <= len; a++)
      run_pieces(bc, resp, len, a, a, 0);
    /* Three pieces: every split of the head with one in the body. */
    for (size_t a = 1; a < strlen(bc->head) && a < len; a += 3)
      for (size_t b = a; b < len; b += 11)
        run_pieces(bc, resp, len, a, b, 0);
    free(resp);
  }
}

/* --- keep-alive ---------------------------------------------------------- */

static const char ok_head[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

/* HTTP/1.1 keeps the connection; the next request goes on it, reused. */
static void test_keep_alive(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a",
                                     "http://127.0.0.1:1/b",
                                     "http://127.0.0.1:2/c", NULL};
  struct fb_result r;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  begin_new(&t, 0);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  begin_reused(&t, 1);
  assert_memory_equal(t.sent, "GET /b ", 7);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_OK);
  assert_int_equal(r.reused, 1);
  assert_int_equal(r.t_connected, r.t_start);
  /* Another port: the kept connection is closed, a new one opened. */
  fb_client_start(t.c, 2, t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(addr_port(&t), 2);
  assert_int_equal(fb_client_counters(t.cl)->reuses, 1);
  fb_client_abort(t.c, FB_OUTCOME_CANCELLED, "end", t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  rig_free(&t);
}

/* Connection: close, HTTP/1.0, fresh mode and bytes after the response
 * each end the connection with the response.
 */
static void test_not_kept(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  static const struct {
    const char *resp;
    int fresh;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
       0},
      {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 1},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n", 0},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    struct rig t;

    rig_init(&t, urls);
    t.job.connection = cases[i].fresh ? FB_CONN_FRESH : FB_CONN_REUSE;
    rig_start(&t);
    begin_new(&t, 0);
    feed_str(&t, cases[i].resp);
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
    expect_result(&t, FB_OUTCOME_OK, 200, 0);
    fb_client_start(t.c, 0, t.now);
    expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
    fb_client_abort(t.c, FB_OUTCOME_CANCELLED, "end", t.now);
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
    rig_free(&t);
  }
}

/* A kept connection the server closes while idle: closed at once, and the
 * next request opens a new one. One it closes as the next request goes out
 * (the close not seen yet) fails before any response byte: sent again,
 * once, on a new connection, as libcurl does; a second failure stands.
 */
static void test_idle_close_and_retry(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  struct fb_result r;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  begin_new(&t, 0);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  fb_client_eof(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_WAIT);
  assert_int_equal(fb_client_counters(t.cl)->idle_closes, 1);
  begin_new(&t, 0);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);

  /* Reset on the reused connection: retried. */
  begin_reused(&t, 0);
  fb_client_eof(t.c, -ECONNRESET, t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  fb_client_connected(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_OK);
  assert_int_equal(r.reused, 0);
  assert_int_equal(fb_client_counters(t.cl)->retries, 1);

  /* A send error on a reused connection: retried too; then the new
   * connection closes without a byte: that stands.
   */
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t.c, -EPIPE, t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  fb_client_connected(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  fb_client_eof(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_RECV, 0, CURLE_GOT_NOTHING);
  assert_int_equal(fb_client_counters(t.cl)->retries, 2);

  /* Bytes on an idle connection: it is not reused. */
  begin_new(&t, 0);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  feed_str(&t, "HTTP/1.1 408 Request Timeout\r\n\r\n");
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_WAIT);
  rig_free(&t);
}

/* The response complete before the SEND was: the result waits for it. */
static void test_response_before_sent(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  fb_client_connected(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_WAIT);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_OK, 200, 0);
  rig_free(&t);
}

/* --- failures ------------------------------------------------------------ */

struct bad_case {
  const char *resp;
  int close; /* then the connection ends */
  enum fb_outcome outcome;
  unsigned status;
  int code;
  const char *msg; /* in the message */
};

/* Responses the origin's faults send (test-faults.c), and others: libcurl
 * 7.88's outcome and code, llhttp's words.
 */
static const struct bad_case bad_cases[] = {
    {"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nhi", 0, FB_OUTCOME_PROTOCOL,
     0, CURLE_UNSUPPORTED_PROTOCOL, "HPE_INVALID_STATUS"},
    {"<!DOCTYPE html><html></html>", 1, FB_OUTCOME_PROTOCOL, 0,
     CURLE_UNSUPPORTED_PROTOCOL, "HPE_INVALID_CONSTANT"},
    {"HTTP/1.1 200 OK\r\nContent-Length: x12\r\n\r\n", 0, FB_OUTCOME_PROTOCOL,
     200, CURLE_WEIRD_SERVER_REPLY, "Content-Length"},
    {"HTTP/1.1 200 OK\r\nContent-Length: -12\r\n\r\n", 0, FB_OUTCOME_PROTOCOL,
     200, CURLE_WEIRD_SERVER_REPLY, "HPE_INVALID_CONTENT_LENGTH"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
     FB_OUTCOME_RECV, 200, CURLE_RECV_ERROR, "HPE_INVALID_CHUNK_SIZE"},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", 1,
     FB_OUTCOME_RECV, 200, CURLE_PARTIAL_FILE, "outstanding read data"},
    {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 1, FB_OUTCOME_RECV,
     200, CURLE_PARTIAL_FILE, "with 5 bytes remaining"},
    {"", 1, FB_OUTCOME_RECV, 0, CURLE_GOT_NOTHING, "Empty reply"},
    {"HTTP/1.1 200 OK\r\nConte", 1, FB_OUTCOME_RECV, 200, CURLE_RECV_ERROR,
     "headers"},
    {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nerr", 0,
     FB_OUTCOME_HTTP, 500, 0, NULL},
    {"HTTP/1.1 404 Not Found\r\n\r\nnot here", 1, FB_OUTCOME_HTTP, 404, 0,
     NULL},
    {"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nhi",
     0, FB_OUTCOME_PROTOCOL, 200, CURLE_BAD_CONTENT_ENCODING, "br"},
    {"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"
     "junk",
     0, FB_OUTCOME_PROTOCOL, 200, CURLE_BAD_CONTENT_ENCODING, "unencoding"},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
     "Connection: upgrade\r\n\r\n",
     0, FB_OUTCOME_PROTOCOL, 101, CURLE_WEIRD_SERVER_REPLY, "not asked"},
};

static void test_bad_responses(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};

  (void)state;
  for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
    const struct bad_case *bc = &bad_cases[i];
    struct fb_result r;
    struct rig t;

    snprintf(what, sizeof(what), "bad case %zu", i);
    rig_init(&t, urls);
    rig_start(&t);
    begin_new(&t, 0);
    feed_str(&t, bc->resp);
    if (bc->close)
      fb_client_eof(t.c, 0, t.now);
    /* An HTTP error answered whole keeps its connection. */
    if (bc->outcome == FB_OUTCOME_HTTP && !bc->close)
      expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
    else
      expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
    result(&t, &r);
    if (r.outcome != bc->outcome || r.http_status != bc->status ||
        r.error_code != bc->code ||
        (bc->msg != NULL &&
         (r.message == NULL || strstr(r.message, bc->msg) == NULL)) ||
        (bc->msg == NULL && r.message != NULL))
      fail_msg("case %zu: %s %u code %d \"%s\"", i, fb_outcome_name(r.outcome),
               r.http_status, r.error_code, r.message ? r.message : "");
    rig_free(&t);
  }
}

/* One header line over libcurl's 100 KiB is `other` (libcurl 7.88 says
 * "Out of memory"); 5,000 header lines of a few bytes are fine.
 */
static void test_header_limits(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  static char big[200 << 10];
  struct rig t;
  size_t n = 0;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  begin_new(&t, 0);
  n += (size_t)sprintf(big, "HTTP/1.1 200 OK\r\nX-Huge: ");
  memset(big + n, 'a', 100 << 10);
  n += 100 << 10;
  memcpy(big + n, "\r\n\r\n", 4);
  feed(&t, big, n + 4);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_OTHER, 200, CURLE_OUT_OF_MEMORY);
  rig_free(&t);

  rig_init(&t, urls);
  rig_start(&t);
  begin_new(&t, 0);
  n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
  for (int i = 0; i < 5000; i++)
    n += (size_t)sprintf(big + n, "X-Header-%04d: v\r\n", i);
  n += (size_t)sprintf(big + n, "Content-Length: 2\r\n\r\nhi");
  feed(&t, big, n);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_OK, 200, 0);
  rig_free(&t);
}

/* The cap: a Content-Length over it fails before the body (libcurl's
 * CURLE_FILESIZE_EXCEEDED); a chunked body fails at the piece that would
 * cross it (CURLE_WRITE_ERROR), with what came before counted and hashed.
 */
static void test_cap(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  struct fb_result r;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  t.job.max_body = 10;
  rig_start(&t);
  begin_new(&t, 0);
  feed_str(&t, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n");
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_TOO_LARGE, 200, CURLE_FILESIZE_EXCEEDED);

  begin_new(&t, 0);
  feed_str(&t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_OK, 200, 0);

  begin_reused(&t, 0);
  feed_str(&t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "6\r\n012345\r\n");
  feed_str(&t, "6\r\n6789ab\r\n0\r\n\r\n");
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_TOO_LARGE);
  assert_int_equal(r.error_code, CURLE_WRITE_ERROR);
  assert_int_equal(r.body_bytes, 6);
  assert_int_equal(r.checksum, XXH3_64bits("012345", 6));
  rig_free(&t);
}

/* --- decoding ------------------------------------------------------------ */

/* The page compressed with zlib: windowBits 31 gzip, 15 zlib, -15 raw. */
static size_t deflate_page(unsigned char *out, size_t cap, int bits) {
  z_stream z;

  memset(&z, 0, sizeof(z));
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  z.next_in = (unsigned char *)(uintptr_t)page;
  z.avail_in = (unsigned)strlen(page);
  z.next_out = out;
  z.avail_out = (unsigned)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  deflateEnd(&z);
  return cap - z.avail_out;
}

/* A body the server encodes although asked for identity: inflated, the
 * checksum and the count of the decoded bytes, whatever the pieces.
 */
static void test_decode(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  static const struct {
    const char *coding;
    int bits;
  } codings[] = {{"gzip", 31},
                 {"x-gzip", 31},
                 {"deflate", 15},
                 {"deflate", -15},
                 {" GZIP ", 31}};

  (void)state;
  for (size_t k = 0; k < sizeof(codings) / sizeof(*codings); k++) {
    unsigned char z[1024];
    char resp[2048];
    size_t zlen = deflate_page(z, sizeof(z), codings[k].bits);
    size_t hlen = (size_t)snprintf(
        resp, sizeof(resp),
        "HTTP/1.1 200 OK\r\nContent-Encoding:%s\r\nContent-Length: %zu\r\n\r\n",
        codings[k].coding, zlen);
    size_t len = hlen + zlen;

    memcpy(resp + hlen, z, zlen);
    for (size_t a = hlen; a <= len; a++) {
      struct fb_result r;
      struct rig t;

      snprintf(what, sizeof(what), "%s (%d) split at %zu", codings[k].coding,
               codings[k].bits, a);
      rig_init(&t, urls);
      rig_start(&t);
      begin_new(&t, 0);
      if (a == len) {
        for (size_t i = 0; i < len; i++)
          feed(&t, resp + i, 1);
      } else {
        feed(&t, resp, a);
        feed(&t, resp + a, len - a);
      }
      expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
      result(&t, &r);
      if (r.outcome != FB_OUTCOME_OK || r.body_bytes != strlen(page) ||
          r.checksum != XXH3_64bits(page, strlen(page)))
        fail_msg("%s (%d) split at %zu: %s %llu bytes (%s)", codings[k].coding,
                 codings[k].bits, a, fb_outcome_name(r.outcome),
                 (unsigned long long)r.body_bytes, r.message ? r.message : "");
      assert_int_equal(fb_client_counters(t.cl)->decoded, 1);
      rig_free(&t);
    }
  }
}

/* A small gzip body that inflates past the cap: too_large, the decoded
 * bytes counted up to the cap at most.
 */
static void test_decode_cap(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  size_t plain = 4 << 20, zcap = 64 << 10, hlen;
  unsigned char *zeros = calloc(1, plain), *z = malloc(zcap);
  char *resp = malloc(zcap + 256);
  uLongf zlen = (uLongf)zcap;
  z_stream zs;
  struct fb_result r;
  struct rig t;

  (void)state;
  assert_true(zeros != NULL && z != NULL && resp != NULL);
  memset(&zs, 0, sizeof(zs));
  assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY),
                   Z_OK);
  zs.next_in = zeros;
  zs.avail_in = (unsigned)plain;
  zs.next_out = z;
  zs.avail_out = (unsigned)zcap;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  zlen = zcap - zs.avail_out;
  deflateEnd(&zs);
  hlen = (size_t)sprintf(resp,
                         "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                         "Content-Length: %lu\r\n\r\n",
                         (unsigned long)zlen);
  memcpy(resp + hlen, z, zlen);

  rig_init(&t, urls);
  t.job.max_body = 1 << 20;
  rig_start(&t);
  begin_new(&t, 0);
  feed(&t, resp, hlen + zlen);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_TOO_LARGE);
  assert_int_equal(r.error_code, CURLE_WRITE_ERROR);
  assert_true(r.body_bytes <= (1 << 20));
  assert_int_equal(r.checksum, XXH3_64bits(zeros, r.body_bytes));
  rig_free(&t);
  free(zeros);
  free(z);
  free(resp);
}

/* --- redirects ----------------------------------------------------------- */

static void redirect_to(struct rig *t, const char *location) {
  char resp[512];

  snprintf(resp, sizeof(resp),
           "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 5\r\n\r\n"
           "moved",
           location);
  feed_str(t, resp);
}

/* Relative and absolute, on the kept connection when it goes to the same
 * place, on a new one elsewhere; the result is the last hop's, its body
 * the only one counted.
 */
static void test_redirects(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/dir/a?x", NULL};
  struct fb_result r;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  begin_new(&t, 0);
  redirect_to(&t, "b?y");
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  assert_memory_equal(t.sent, "GET /dir/b?y HTTP/1.1\r\nHost: 127.0.0.1:1\r\n",
                      42);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  redirect_to(&t, "/up/../top");
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  assert_memory_equal(t.sent, "GET /top HTTP/1.1\r\n", 19);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  redirect_to(&t, "http://other.localhost:9/there");
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(addr_port(&t), 9);
  fb_client_connected(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  assert_memory_equal(t.sent,
                      "GET /there HTTP/1.1\r\nHost: other.localhost:9\r\n", 46);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  /* Relative to the new host now. */
  redirect_to(&t, "//third.localhost:7/x");
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(addr_port(&t), 7);
  fb_client_connected(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  feed_str(&t, ok_head);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_OK);
  assert_int_equal(r.http_status, 200);
  assert_int_equal(r.body_bytes, 2);
  assert_int_equal(r.checksum, XXH3_64bits("hi", 2));
  assert_int_equal(fb_client_counters(t.cl)->redirects, 4);

  /* The next request starts from its own URL again. */
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(addr_port(&t), 1);
  fb_client_abort(t.c, FB_OUTCOME_CANCELLED, "end", t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  rig_free(&t);
}

/* Redirects that end the request: to file:// or an unknown scheme
 * (protocol, libcurl's words), past the limit (redirect), and not followed
 * (the 3xx is the answer, its body counted).
 */
static void test_redirect_ends(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  struct fb_result r;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  t.job.max_redirects = 2;
  rig_start(&t);
  begin_new(&t, 0);
  redirect_to(&t, "file:///etc/passwd");
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_PROTOCOL);
  assert_int_equal(r.http_status, 302);
  assert_int_equal(r.error_code, CURLE_UNSUPPORTED_PROTOCOL);
  assert_string_equal(r.message,
                      "Protocol \"file\" not supported or disabled in libcurl");

  begin_reused(&t, 0);
  redirect_to(&t, "gopherx://h/");
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_PROTOCOL, 302, CURLE_UNSUPPORTED_PROTOCOL);

  begin_reused(&t, 0);
  for (int i = 0; i < 2; i++) {
    redirect_to(&t, "/a");
    expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
    fb_client_sent(t.c, (long)t.sent_len, t.now);
  }
  redirect_to(&t, "/a");
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_REDIRECT);
  assert_int_equal(r.http_status, 302);
  assert_int_equal(r.error_code, CURLE_TOO_MANY_REDIRECTS);
  assert_string_equal(r.message, "more than 2 redirects followed");
  rig_free(&t);

  rig_init(&t, urls);
  t.job.follow_redirects = 0;
  rig_start(&t);
  begin_new(&t, 0);
  redirect_to(&t, "/elsewhere");
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_OK);
  assert_int_equal(r.http_status, 302);
  assert_int_equal(r.body_bytes, 5);
  rig_free(&t);
}

/* --- connecting and timing out ------------------------------------------- */

/* localhost: 127.0.0.1 refused, then ::1; both refused is `connect`. Out
 * of descriptors is `resource`, naming the limit.
 */
static void test_connect_failures(void **state) {
  static const char *const urls[] = {"http://localhost:5/a",
                                     "http://127.0.0.1:5/b", NULL};
  struct fb_result r;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(t.addr.sa.sa_family, AF_INET);
  fb_client_connected(t.c, -ECONNREFUSED, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(t.addr.sa.sa_family, AF_INET6);
  fb_client_connected(t.c, -ECONNREFUSED, t.now);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_CONNECT);
  assert_int_equal(r.error_code, CURLE_COULDNT_CONNECT);
  assert_int_equal(r.t_connected, -1);
  assert_non_null(strstr(r.message, "localhost port 5"));

  fb_client_start(t.c, 1, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  fb_client_connected(t.c, -EMFILE, t.now);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_RESOURCE);
  assert_non_null(strstr(r.message, "open-files limit"));
  rig_free(&t);
}

/* The connect timeout, the whole-request timeout (1xx then silence: the
 * last status seen is kept, as libcurl keeps 100), and the low-speed limit,
 * each at its deadline and not before.
 */
static void test_timeouts(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  struct fb_result r;
  struct rig t;
  int64_t d;

  (void)state;
  rig_init(&t, urls);
  t.job.connect_timeout_ms = 300;
  t.job.timeout_ms = 1000;
  t.job.low_speed_secs = 0;
  rig_start(&t);
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  d = fb_client_deadline(t.c);
  assert_int_equal(d, t.now + 300 * MS);
  fb_client_timer(t.c, d - 1);
  expect_ops(&t, FB_CLIENT_WAIT);
  fb_client_timer(t.c, d);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_TIMEOUT, 0, CURLE_OPERATION_TIMEDOUT);
  assert_int_equal(fb_client_deadline(t.c), INT64_MAX);

  t.now = T0 + 10 * FB_NS_PER_S;
  begin_new(&t, 0);
  feed_str(&t, "HTTP/1.1 100 Continue\r\n\r\n");
  d = fb_client_deadline(t.c);
  assert_int_equal(d, T0 + 11 * FB_NS_PER_S);
  fb_client_timer(t.c, d);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_TIMEOUT);
  assert_int_equal(r.http_status, 100);
  assert_int_equal(r.t_done - r.t_start, 1000 * MS);
  rig_free(&t);

  /* Low speed: at least 100 bytes a second over 2 s. */
  rig_init(&t, urls);
  t.job.low_speed_bytes = 100;
  t.job.low_speed_secs = 2;
  t.job.timeout_ms = 0;
  rig_start(&t);
  begin_new(&t, 0);
  feed_str(&t, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
  {
    char chunk[250];

    memset(chunk, 'x', sizeof(chunk));
    /* 250 bytes a second: fast enough, window after window. */
    for (int s = 0; s < 6; s++) {
      t.now += FB_NS_PER_S - MS;
      feed(&t, chunk, sizeof(chunk));
      if (fb_client_deadline(t.c) <= t.now) {
        fb_client_timer(t.c, t.now);
        expect_ops(&t, FB_CLIENT_WAIT);
      }
    }
    /* Then 50 bytes in a window: too slow at its end, not before. */
    d = fb_client_deadline(t.c);
    assert_true(d > t.now && d <= t.now + 2 * FB_NS_PER_S);
    feed(&t, chunk, 50);
    fb_client_timer(t.c, d - 1);
    expect_ops(&t, FB_CLIENT_WAIT);
    fb_client_timer(t.c, d);
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  }
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_TIMEOUT);
  assert_non_null(strstr(r.message, "too slow"));
  rig_free(&t);
}

/* The connect's own bound (an engine's linked timeout): while a CONNECT is
 * out, the connect timeout or the whole request's, whichever comes first,
 * fixed while the low-speed window moves; none once connected, for a
 * connection kept alive, or when idle.
 */
static void test_connect_deadline(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a",
                                     "http://127.0.0.1:1/b", NULL};
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  t.job.connect_timeout_ms = 300;
  t.job.timeout_ms = 1000;
  t.job.low_speed_bytes = 100;
  t.job.low_speed_secs = 1;
  rig_start(&t);
  assert_int_equal(fb_client_connect_deadline(t.c), INT64_MAX);
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(fb_client_connect_deadline(t.c), T0 + 300 * MS);
  fb_client_connected(t.c, 0, t.now + 10 * MS);
  assert_int_equal(fb_client_connect_deadline(t.c), INT64_MAX);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t.c, (long)t.sent_len, t.now + 10 * MS);
  feed_str(&t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  assert_int_equal(fb_client_connect_deadline(t.c), INT64_MAX);
  /* Kept alive: the next request connects to nothing. */
  fb_client_start(t.c, 1, t.now + 20 * MS);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  assert_int_equal(fb_client_connect_deadline(t.c), INT64_MAX);
  rig_free(&t);

  /* A whole-request timeout shorter than the connect timeout bounds it. */
  rig_init(&t, urls);
  t.job.connect_timeout_ms = 300;
  t.job.timeout_ms = 200;
  rig_start(&t);
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  assert_int_equal(fb_client_connect_deadline(t.c), T0 + 200 * MS);
  fb_client_timer(t.c, T0 + 200 * MS);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  assert_int_equal(fb_client_connect_deadline(t.c), INT64_MAX);
  rig_free(&t);
}

/* Aborted mid-response: the outcome asked for, the connection closed, the
 * bytes so far counted.
 */
static void test_abort(void **state) {
  static const char *const urls[] = {"http://127.0.0.1:1/a", NULL};
  struct fb_result r;
  struct rig t;

  (void)state;
  rig_init(&t, urls);
  rig_start(&t);
  begin_new(&t, 0);
  feed_str(&t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel");
  fb_client_abort(t.c, FB_OUTCOME_CANCELLED, "run cancelled", t.now);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_CANCELLED);
  assert_string_equal(r.message, "run cancelled");
  assert_int_equal(r.body_bytes, 3);
  /* Events after the end change nothing. */
  fb_client_eof(t.c, 0, t.now);
  fb_client_timer(t.c, INT64_MAX - 1);
  fb_client_sent(t.c, 5, t.now);
  expect_ops(&t, FB_CLIENT_WAIT);
  rig_free(&t);
}

/* --- https --------------------------------------------------------------- */

/* The test's TLS server: the TLS layer's server side, in memory. */
struct server {
  struct fb_tls_cert *cert;
  struct fb_tls_ctx *ctx;
  struct fb_tls *conn;
  char req[4096]; /* plaintext read so far */
  size_t req_len;
  const char *resp; /* written once a whole request head came */
  size_t resp_len;
  int answered;
  int close_notify; /* after the response */
};

static const char *ca_file; /* trusts the good certificate */
static struct fb_tls_cert *good, *other, *expired;

static int tls_setup(void **state) {
  struct fb_tls_cert_opts o;
  char err[256];

  (void)state;
  if (scratch_create("client") != 0)
    return -1;
  memset(&o, 0, sizeof(o));
  if (fb_tls_cert_generate(&good, NULL, err, sizeof(err)) != 0)
    return -1;
  o.kind = FB_TLS_CERT_OTHER_NAME;
  if (fb_tls_cert_generate(&other, &o, err, sizeof(err)) != 0)
    return -1;
  o.kind = FB_TLS_CERT_EXPIRED;
  if (fb_tls_cert_generate(&expired, &o, err, sizeof(err)) != 0)
    return -1;
  {
    const struct fb_tls_cert *all[] = {good, other, expired};
    static char path[512];

    snprintf(path, sizeof(path), "%s/ca.pem", scratch_dir());
    if (fb_tls_cert_write_pem(all, 3, path, err, sizeof(err)) != 0)
      return -1;
    ca_file = path;
  }
  return 0;
}

static int tls_teardown(void **state) {
  (void)state;
  fb_tls_cert_destroy(good);
  fb_tls_cert_destroy(other);
  fb_tls_cert_destroy(expired);
  fb_tls_cleanup();
  return scratch_remove();
}

static void server_init(struct server *sv, struct fb_tls_cert *cert,
                        const char *resp) {
  struct fb_tls_server_opts o;
  char err[256];

  memset(sv, 0, sizeof(*sv));
  memset(&o, 0, sizeof(o));
  o.cert = cert;
  assert_int_equal(fb_tls_ctx_server(&sv->ctx, &o, err, sizeof(err)), 0);
  sv->resp = resp;
  sv->resp_len = strlen(resp);
}

/* A new connection reaches the server. */
static void server_accept(struct server *sv) {
  fb_tls_destroy(sv->conn);
  assert_int_equal(fb_tls_create(&sv->conn, sv->ctx, NULL, 0, NULL), 0);
  sv->req_len = 0;
  sv->req[0] = '\0';
  sv->answered = 0;
}

static void server_free(struct server *sv) {
  fb_tls_destroy(sv->conn);
  fb_tls_ctx_destroy(sv->ctx);
}

/* Feeds the server what the client sent and runs it: handshake, request,
 * response once the request's head is whole.
 */
static void server_run(struct server *sv, const char *in, size_t len) {
  char buf[4096];
  ssize_t n;

  if (len > 0)
    assert_int_equal(fb_tls_feed(sv->conn, in, len), 0);
  while ((n = fb_tls_read(sv->conn, buf, sizeof(buf))) > 0) {
    assert_true(sv->req_len + (size_t)n < sizeof(sv->req));
    memcpy(sv->req + sv->req_len, buf, (size_t)n);
    sv->req_len += (size_t)n;
    sv->req[sv->req_len] = '\0';
  }
  if (!sv->answered && strstr(sv->req, "\r\n\r\n") != NULL) {
    size_t done = 0;

    sv->answered = 1;
    while (done < sv->resp_len) {
      n = fb_tls_write(sv->conn, sv->resp + done, sv->resp_len - done);
      if (n <= 0)
        fail_msg("%s: the server's write: %zd (%s), done %d, req %zu [%s]",
                 what, n, fb_strerror((int)n), fb_tls_handshake_done(sv->conn),
                 sv->req_len, sv->req);
      done += (size_t)n;
    }
    if (sv->close_notify)
      assert_int_equal(fb_tls_shutdown(sv->conn), 0);
  }
}

/* The server's pending ciphertext to the client, in pieces of `piece`
 * bytes (0: at once).
 */
static void server_to_client(struct rig *t, struct server *sv, size_t piece) {
  struct iovec iov;

  while (fb_tls_out_iov(sv->conn, 0, &iov, 1) == 1) {
    size_t n = piece > 0 && iov.iov_len > piece ? piece : iov.iov_len;

    feed(t, iov.iov_base, n);
    fb_tls_out_consume(sv->conn, n);
  }
}

/* Plays the network both ways until the client is done or waits with
 * nothing in flight. Returns the last op seen (DONE or WAIT).
 */
static enum fb_client_op exchange(struct rig *t, struct server *sv,
                                  size_t piece) {
  for (int round = 0; round < 100; round++) {
    enum fb_client_op op = take(t);

    if (op == FB_CLIENT_SEND) {
      server_run(sv, t->sent, t->sent_len);
      fb_client_sent(t->c, (long)t->sent_len, t->now);
      continue;
    }
    if (op == FB_CLIENT_DONE || op == FB_CLIENT_CLOSE)
      return op;
    assert_int_equal(op, FB_CLIENT_WAIT);
    if (fb_tls_out_pending(sv->conn) == 0)
      return op;
    server_to_client(t, sv, piece);
  }
  fail_msg("no end to the exchange");
  return FB_CLIENT_WAIT;
}

/* A new https connection for URL index: CONNECT, connected, the server's
 * side accepted.
 */
static void https_connect(struct rig *t, struct server *sv, size_t index) {
  fb_client_start(t->c, index, t->now);
  if (take(t) != FB_CLIENT_CONNECT)
    fail_msg("%s: no CONNECT", what);
  expect_ops(t, FB_CLIENT_WAIT);
  t->now += MS;
  server_accept(sv);
  fb_client_connected(t->c, 0, t->now);
}

static const char https_ok[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/* An https page: the handshake (full, then resumed on a new connection),
 * the request the server reads, the page, the TLS time; a second request
 * on the kept connection makes no handshake. Ciphertext in pieces of every
 * size from a byte up.
 */
static void test_https(void **state) {
  static const char *const urls[] = {"https://localhost:4/s?x", NULL};
  static const size_t pieces[] = {0, 1, 7, 100, 1000};

  (void)state;
  for (size_t k = 0; k < sizeof(pieces) / sizeof(*pieces); k++) {
    struct server sv;
    struct fb_result r;
    struct rig t;

    snprintf(what, sizeof(what), "https, pieces of %zu", pieces[k]);
    server_init(&sv, good, https_ok);
    rig_init(&t, urls);
    t.job.cacert = ca_file;
    rig_start(&t);
    https_connect(&t, &sv, 0);
    if (exchange(&t, &sv, pieces[k]) != FB_CLIENT_DONE)
      fail_msg("%s: not done (%s)", what, t.c->msg);
    result(&t, &r);
    if (r.outcome != FB_OUTCOME_OK)
      fail_msg("%s: %s (%s)", what, fb_outcome_name(r.outcome), r.message);
    assert_int_equal(r.body_bytes, 5);
    assert_int_equal(r.checksum, XXH3_64bits("hello", 5));
    assert_int_equal(r.handshake, FB_HANDSHAKE_FULL);
    assert_true(r.t_tls > r.t_connected && r.t_first_byte >= r.t_tls);
    assert_non_null(
        strstr(sv.req, "GET /s?x HTTP/1.1\r\nHost: localhost:4\r\n"));

    /* Kept alive: no handshake for the next one. */
    sv.answered = 0;
    sv.req_len = 0;
    sv.req[0] = '\0';
    fb_client_start(t.c, 0, t.now);
    assert_int_equal(exchange(&t, &sv, pieces[k]), FB_CLIENT_DONE);
    result(&t, &r);
    assert_int_equal(r.outcome, FB_OUTCOME_OK);
    assert_int_equal(r.handshake, FB_HANDSHAKE_NONE);
    assert_int_equal(r.t_tls, -1);
    assert_int_equal(r.reused, 1);

    /* A new connection resumes the session the server gave. */
    fb_client_release(t.c);
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_WAIT);
    https_connect(&t, &sv, 0);
    assert_int_equal(exchange(&t, &sv, pieces[k]), FB_CLIENT_DONE);
    result(&t, &r);
    assert_int_equal(r.outcome, FB_OUTCOME_OK);
    assert_int_equal(r.handshake, FB_HANDSHAKE_RESUMED);
    rig_free(&t);
    server_free(&sv);
  }
}

/* Certificates the client refuses: tls with libcurl's code and words; and
 * with verification off, the same servers answer.
 */
static void test_https_verify(void **state) {
  static const char *const urls[] = {"https://localhost:4/", NULL};
  const struct {
    struct fb_tls_cert **cert;
    int cacert;
    const char *words;
  } cases[] = {
      {&other, 1, "no alternative certificate subject name"},
      {&expired, 1, "SSL certificate problem: certificate has expired"},
      {&good, 0, "SSL certificate problem: self-signed certificate"},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    for (int verify = 1; verify >= 0; verify--) {
      struct server sv;
      struct fb_result r;
      struct rig t;

      snprintf(what, sizeof(what), "verify case %zu, verify %d", i, verify);
      server_init(&sv, *cases[i].cert, https_ok);
      rig_init(&t, urls);
      t.job.cacert = cases[i].cacert ? ca_file : NULL;
      t.job.verify_tls = verify;
      rig_start(&t);
      https_connect(&t, &sv, 0);
      exchange(&t, &sv, 0);
      if (t.c->active)
        fail_msg("%s: still going", what);
      result(&t, &r);
      if (verify) {
        assert_int_equal(r.outcome, FB_OUTCOME_TLS);
        assert_int_equal(r.error_code, CURLE_PEER_FAILED_VERIFICATION);
        if (strstr(r.message, cases[i].words) == NULL)
          fail_msg("%s: \"%s\"", what, r.message);
        assert_int_equal(r.t_tls, -1);
      } else {
        assert_int_equal(r.outcome, FB_OUTCOME_OK);
      }
      rig_free(&t);
      server_free(&sv);
    }
  }
}

/* The connection ends in the handshake (closed, reset): tls, libcurl's
 * CURLE_SSL_CONNECT_ERROR; garbage instead of a ServerHello too. A body
 * cut without close_notify is judged by the HTTP framing, as libcurl 7.88
 * does: short of its Content-Length it is recv, a close-delimited one ok.
 * A handshake that stalls ends at the connect timeout.
 */
static void test_https_ends(void **state) {
  static const char *const urls[] = {"https://localhost:4/", NULL};
  struct fb_result r;
  struct server sv;
  struct rig t;

  (void)state;
  for (int reset = 0; reset < 3; reset++) {
    snprintf(what, sizeof(what), "handshake cut %d", reset);
    server_init(&sv, good, https_ok);
    rig_init(&t, urls);
    t.job.cacert = ca_file;
    rig_start(&t);
    https_connect(&t, &sv, 0);
    expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
    fb_client_sent(t.c, (long)t.sent_len, t.now);
    if (reset == 2)
      feed_str(&t, "HTTP/1.1 400 Bad Request\r\n\r\n");
    else
      fb_client_eof(t.c, reset ? -ECONNRESET : 0, t.now);
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
    expect_result(&t, FB_OUTCOME_TLS, 0, CURLE_SSL_CONNECT_ERROR);
    rig_free(&t);
    server_free(&sv);
  }

  for (int delimited = 0; delimited < 2; delimited++) {
    server_init(&sv, good,
                delimited ? "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhel"
                          : "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
    rig_init(&t, urls);
    t.job.cacert = ca_file;
    rig_start(&t);
    https_connect(&t, &sv, 0);
    assert_int_equal(exchange(&t, &sv, 0), FB_CLIENT_WAIT);
    fb_client_eof(t.c, 0, t.now);
    expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
    result(&t, &r);
    assert_int_equal(r.outcome, delimited ? FB_OUTCOME_OK : FB_OUTCOME_RECV);
    assert_int_equal(r.body_bytes, 3);
    rig_free(&t);
    server_free(&sv);
  }

  /* With close_notify before the close, the same. */
  server_init(&sv, good, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhel");
  sv.close_notify = 1;
  rig_init(&t, urls);
  t.job.cacert = ca_file;
  rig_start(&t);
  https_connect(&t, &sv, 0);
  assert_int_equal(exchange(&t, &sv, 0), FB_CLIENT_CLOSE);
  expect_ops(&t, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  expect_result(&t, FB_OUTCOME_OK, 200, 0);
  rig_free(&t);
  server_free(&sv);

  /* A handshake with no answer: the connect timeout, libcurl's words. */
  rig_init(&t, urls);
  t.job.cacert = ca_file;
  t.job.connect_timeout_ms = 500;
  rig_start(&t);
  fb_client_start(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_CONNECT, FB_CLIENT_WAIT);
  fb_client_connected(t.c, 0, t.now);
  expect_ops(&t, FB_CLIENT_SEND, FB_CLIENT_WAIT);
  fb_client_sent(t.c, (long)t.sent_len, t.now);
  assert_int_equal(fb_client_deadline(t.c), T0 + 500 * MS);
  fb_client_timer(t.c, T0 + 500 * MS);
  expect_ops(&t, FB_CLIENT_CLOSE, FB_CLIENT_DONE, FB_CLIENT_WAIT);
  result(&t, &r);
  assert_int_equal(r.outcome, FB_OUTCOME_TIMEOUT);
  assert_non_null(strstr(r.message, "SSL connection timeout"));
  rig_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_fast),
      cmocka_unit_test(test_request_bytes),
      cmocka_unit_test(test_partial_send),
      cmocka_unit_test(test_split_everywhere),
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_not_kept),
      cmocka_unit_test(test_idle_close_and_retry),
      cmocka_unit_test(test_response_before_sent),
      cmocka_unit_test(test_bad_responses),
      cmocka_unit_test(test_header_limits),
      cmocka_unit_test(test_cap),
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_decode_cap),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_redirect_ends),
      cmocka_unit_test(test_connect_failures),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_connect_deadline),
      cmocka_unit_test(test_abort),
  };

  const struct CMUnitTest https[] = {
      cmocka_unit_test(test_https),
      cmocka_unit_test(test_https_verify),
      cmocka_unit_test(test_https_ends),
  };
  int rc = cmocka_run_group_tests_name("client", tests, NULL, NULL);

  return rc | cmocka_run_group_tests_name("client-https", https, tls_setup,
                                          tls_teardown);
}
