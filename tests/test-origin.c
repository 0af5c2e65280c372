/* SPDX-License-Identifier: MIT */
/* The origin's parts in isolation: corpora, the synthetic size distribution,
 * request target and query parsing, the strict head scanner, fault specs,
 * the in-process server's lifecycle, and the spawned child.
 *
 *   test-origin units | faults | spawn
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmocka.h>

#include "fetchbench/clock.h"
#include "fetchbench/corpus.h"
#include "fetchbench/error.h"
#include "fetchbench/machine.h"
#include "fetchbench/origin.h"
#include "origin/corpus_int.h"
#include "origin/origin_int.h"
#include "tls/tls.h"

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* --- Corpora -------------------------------------------------------------- */

static void test_synthetic_stats(void **state) {
  struct fb_corpus *c;
  size_t sizes[FB_SYNTHETIC_PAGES], n;
  double sum = 0, median;

  assert_int_equal(fb_corpus_synthetic(&c, 1), 0);
  n = fb_corpus_count(c);
  assert_int_equal(n, FB_SYNTHETIC_PAGES);
  for (size_t i = 0; i < n; i++) {
    sizes[i] = fb_corpus_page(c, i)->len;
    sum += (double)sizes[i];
  }
  qsort(sizes, n, sizeof(sizes[0]), cmp_size);
  median = (double)(sizes[n / 2 - 1] + sizes[n / 2]) / 2;
  /* The Django docs: median 15,804.5 B, mean 41,937 B, max 586,495 B. */
  assert_true(median > 15804.5 * 0.95 && median < 15804.5 * 1.05);
  assert_true(sum / n > 41937 * 0.97 && sum / n < 41937 * 1.03);
  assert_true(sizes[n - 1] > 586495 * 0.99 && sizes[n - 1] < 586495 * 1.01);
  assert_true(sizes[0] >= 4000);
  fb_corpus_destroy(c);
}

static void test_synthetic_deterministic(void **state) {
  struct fb_corpus *a, *b, *d;
  size_t differ = 0;

  assert_int_equal(fb_corpus_synthetic(&a, 42), 0);
  assert_int_equal(fb_corpus_synthetic(&b, 42), 0);
  assert_int_equal(fb_corpus_synthetic(&d, 43), 0);
  for (size_t i = 0; i < fb_corpus_count(a); i++) {
    const struct fb_page *pa = fb_corpus_page(a, i);
    const struct fb_page *pb = fb_corpus_page(b, i);
    const struct fb_page *pd = fb_corpus_page(d, i);

    assert_string_equal(pa->path, pb->path);
    assert_string_equal(pa->path, pd->path);
    assert_int_equal(pa->len, pb->len);
    assert_memory_equal(pa->body, pb->body, pa->len);
    assert_int_equal(pa->xxh3, XXH3_64bits(pa->body, pa->len));
    differ += pa->xxh3 != pd->xxh3;
    /* HTML-looking, exactly its size. */
    assert_memory_equal(pa->body, "<!DOCTYPE html>", 15);
    assert_memory_equal(pa->body + pa->len - 8, "</html>\n", 8);
    assert_string_equal(pa->content_type, "text/html; charset=utf-8");
  }
  assert_int_equal(differ, fb_corpus_count(a));
  fb_corpus_destroy(a);
  fb_corpus_destroy(b);
  fb_corpus_destroy(d);
}

static void test_seed_pages(void **state) {
  const char *dir = fb_corpus_default_dir();
  struct fb_corpus *c;
  char err[256];

  assert_int_equal(fb_corpus_synthetic(&c, 7), 0);
  assert_non_null(fb_corpus_find(c, "index.html", 10));
  assert_non_null(fb_corpus_find(c, "genindex.html", 13));
  for (int i = 0; i < FB_SEED_PAGE_COUNT; i++) {
    const char *p = fb_seed_pages[i];
    const struct fb_page *page = fb_corpus_find(c, p, strlen(p));
    size_t want = fb__seed_page_size(p);

    assert_non_null(page);
    assert_true(want > 0);
    /* The drawn size nearest to the real one: within 10 %. */
    assert_true(page->len > want * 0.9 && page->len < want * 1.1);
  }
  fb_corpus_destroy(c);
  if (dir == NULL)
    return;
  assert_int_equal(fb_corpus_load(&c, dir, err, sizeof(err)), 0);
  for (int i = 0; i < FB_SEED_PAGE_COUNT; i++) {
    const char *p = fb_seed_pages[i];
    const struct fb_page *page = fb_corpus_find(c, p, strlen(p));
    assert_non_null(page);
    assert_int_equal(page->len, fb__seed_page_size(p));
  }
  fb_corpus_destroy(c);
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_load_directory(void **state) {
  char dir[] = "/tmp/fb-corpus-XXXXXX", path[512], err[512];
  const char *expect[] = {"a.html", "empty.txt", "link.html", "sub/b.css",
                          "sub/deep/c.png"};
  struct fb_corpus *c;
  const struct fb_page *p;

  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/sub", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  snprintf(path, sizeof(path), "%s/sub/deep", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  write_file(dir, "a.html", "<p>a</p>");
  write_file(dir, "empty.txt", "");
  write_file(dir, "sub/b.css", "b{}");
  write_file(dir, "sub/deep/c.png", "png");
  snprintf(path, sizeof(path), "%s/link.html", dir);
  assert_int_equal(symlink("a.html", path), 0);
  /* Links that leave the tree, to a file or a directory, are not served. */
  snprintf(path, sizeof(path), "%s/passwd", dir);
  assert_int_equal(symlink("/etc/passwd", path), 0);
  snprintf(path, sizeof(path), "%s/etc", dir);
  assert_int_equal(symlink("/etc", path), 0);
  snprintf(path, sizeof(path), "%s/sub/up", dir);
  assert_int_equal(symlink("..", path), 0);

  assert_int_equal(fb_corpus_load(&c, dir, err, sizeof(err)), 0);
  assert_int_equal(fb_corpus_count(c), 5);
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(fb_corpus_page(c, i)->path, expect[i]);
  p = fb_corpus_find(c, "link.html", 9);
  assert_non_null(p);
  assert_int_equal(p->len, 8);
  assert_memory_equal(p->body, "<p>a</p>", 8);
  assert_int_equal(p->xxh3, XXH3_64bits("<p>a</p>", 8));
  assert_string_equal(p->content_type, "text/html; charset=utf-8");
  assert_string_equal(fb_corpus_find(c, "sub/b.css", 9)->content_type,
                      "text/css; charset=utf-8");
  assert_string_equal(fb_corpus_find(c, "sub/deep/c.png", 14)->content_type,
                      "image/png");
  assert_int_equal(fb_corpus_find(c, "empty.txt", 9)->len, 0);
  assert_null(fb_corpus_find(c, "passwd", 6));
  assert_null(fb_corpus_find(c, "a.htm", 5));
  assert_null(fb_corpus_find(c, "sub", 3));
  /* Lookups take a length: a longer buffer is fine. */
  assert_non_null(fb_corpus_find(c, "a.html?x=1", 6));
  assert_null(fb_corpus_page(c, 5));
  fb_corpus_destroy(c);

  snprintf(path, sizeof(path), "rm -rf %s", dir);
  assert_int_equal(system(path), 0);
  assert_int_equal(fb_corpus_load(&c, dir, err, sizeof(err)), -ENOENT);
  assert_null(c);
  assert_non_null(strstr(err, dir));
  strcpy(dir, "/tmp/fb-corpus-XXXXXX");
  assert_non_null(mkdtemp(dir));
  assert_int_equal(fb_corpus_load(&c, dir, err, sizeof(err)), FB_ECORPUS);
  assert_non_null(strstr(err, "no files"));
  rmdir(dir);
}

static void test_open_names(void **state) {
  const char *dir = fb_corpus_default_dir();
  struct fb_corpus *c;
  char err[512];

  assert_int_equal(fb_corpus_open(&c, "synthetic", err, sizeof(err)), 0);
  assert_string_equal(fb_corpus_name(c), "synthetic");
  fb_corpus_destroy(c);
  assert_int_equal(fb_corpus_open(&c, NULL, err, sizeof(err)), 0);
  if (dir != NULL)
    assert_string_equal(fb_corpus_name(c), dir);
  else
    assert_string_equal(fb_corpus_name(c), "synthetic");
  fb_corpus_destroy(c);
  assert_int_equal(fb_corpus_open(&c, "", err, sizeof(err)), 0);
  fb_corpus_destroy(c);
  assert_true(fb_corpus_open(&c, "/nonexistent/dir", err, sizeof(err)) < 0);
  assert_non_null(strstr(err, "/nonexistent/dir"));
}

static void test_content_types(void **state) {
  assert_string_equal(fb__content_type("a/b.HTML"), "text/html; charset=utf-8");
  assert_string_equal(fb__content_type("x.js"),
                      "text/javascript; charset=utf-8");
  assert_string_equal(fb__content_type("x.woff2"), "font/woff2");
  assert_string_equal(fb__content_type("x.tar.gz"), "application/gzip");
  assert_string_equal(fb__content_type("dir.d/file"),
                      "application/octet-stream");
  assert_string_equal(fb__content_type("objects.inv"),
                      "application/octet-stream");
}

/* --- Request targets ------------------------------------------------------ */

static void check_path(const char *target, const char *want) {
  char out[512];
  int n = fb__path_normalize(target, strlen(target), out, sizeof(out));

  if (want == NULL) {
    if (n != -400)
      fail_msg("%s: expected 400, got '%s'", target, n >= 0 ? out : "?");
    return;
  }
  if (n < 0)
    fail_msg("%s: expected '%s', got %d", target, want, n);
  assert_string_equal(out, want);
  assert_int_equal((size_t)n, strlen(want));
}

static void test_path_normalize(void **state) {
  check_path("/", "index.html");
  check_path("/intro/", "intro/index.html");
  check_path("/intro/tutorial01.html", "intro/tutorial01.html");
  check_path("/intro/tutorial01.html?delay=5", "intro/tutorial01.html");
  check_path("//intro///tutorial01.html", "intro/tutorial01.html");
  check_path("/./intro/./x.html", "intro/x.html");
  check_path("/intro/../index.html", "index.html");
  check_path("/a/b/../../c", "c");
  check_path("/a/..", "index.html");
  check_path("/a/.", "a/index.html");
  check_path("/%69ntro/%74utorial01.html", "intro/tutorial01.html");
  check_path("/a%2Fb", "a/b");
  check_path("/%252e%252e/etc/passwd", "%2e%2e/etc/passwd");
  check_path("/caf%C3%A9.html", "caf\xc3\xa9.html");
  check_path("http://example.com/intro/x.html?y", "intro/x.html");
  check_path("http://example.com", "index.html");
  /* Escapes and tricks: refused, never resolved outside the root. */
  check_path("/..", NULL);
  check_path("/../etc/passwd", NULL);
  check_path("/a/../../etc/passwd", NULL);
  check_path("/%2e%2e/etc/passwd", NULL);
  check_path("/%2E%2E%2Fetc%2Fpasswd", NULL);
  check_path("/..%2f..%2fetc/passwd", NULL);
  check_path("/.%2e/etc/passwd", NULL);
  check_path("/%c0%ae%c0%ae/etc/passwd", NULL); /* overlong '.' */
  check_path("/%e0%80%ae/x", NULL);
  check_path("/%ed%a0%80", NULL); /* a surrogate */
  check_path("/%f5%80%80%80", NULL);
  check_path("/%c3", NULL);
  check_path("/a%00.html", NULL);
  check_path("/a%5c..%5cb", NULL);
  check_path("/a\\b", NULL);
  check_path("/a%0d%0aX:y", NULL);
  check_path("/a%zz", NULL);
  check_path("/a%2", NULL);
  check_path("/a%7f", NULL);
  check_path("/a\xff", NULL);
  check_path("*", NULL);
  check_path("intro/x.html", NULL);
  check_path("", NULL);
}

static void test_query_parse(void **state) {
  struct fb__query q;
  const char *s;

  assert_int_equal(fb__query_parse("", 0, &q), 0);
  assert_int_equal(q.fault, -1);
  assert_false(q.has_delay);
  s = "delay=50&jitter=10&rate=1000&fault=reset_body&x=y&close=1";
  assert_int_equal(fb__query_parse(s, strlen(s), &q), 0);
  assert_true(q.has_delay && q.delay_ms == 50);
  assert_true(q.has_jitter && q.jitter_ms == 10);
  assert_true(q.has_rate && q.rate == 1000);
  assert_int_equal(q.fault, FB_FAULT_RESET_BODY);
  assert_int_equal(q.close, 1);
  s = "fault=none&status=503&&flag";
  assert_int_equal(fb__query_parse(s, strlen(s), &q), 0);
  assert_int_equal(q.fault, FB_FAULT_NONE);
  assert_true(q.has_status && q.status == 503);
  assert_int_equal(fb__query_parse("delay=1&delay=2", 15, &q), 0);
  assert_int_equal(q.delay_ms, 2);
  assert_int_equal(fb__query_parse("delay=", 6, &q), -400);
  assert_int_equal(fb__query_parse("delay=-1", 8, &q), -400);
  assert_int_equal(fb__query_parse("delay=1x", 8, &q), -400);
  assert_int_equal(fb__query_parse("delay=3600001", 13, &q), -400);
  assert_int_equal(fb__query_parse("rate=99999999999999999999", 25, &q), -400);
  assert_int_equal(fb__query_parse("fault=nope", 10, &q), -400);
  assert_int_equal(fb__query_parse("status=204", 10, &q), -400);
  assert_int_equal(fb__query_parse("status=100", 10, &q), -400);
  assert_int_equal(fb__query_parse("status=600", 10, &q), -400);
  assert_int_equal(fb__query_parse("close=2", 7, &q), -400);
}

/* --- Head scanner --------------------------------------------------------- */

static int scan(const char *head, size_t max, size_t *used) {
  struct fb__headscan s = {0};
  int rc = fb__headscan(&s, head, strlen(head), max, used);

  if (rc == 0 && s.state != FB__SCAN_DONE)
    return -1; /* incomplete */
  return rc;
}

/* The same bytes one at a time must give the same answer. */
static int scan_bytewise(const char *head, size_t max) {
  struct fb__headscan s = {0};
  size_t used;

  for (size_t i = 0; head[i] != '\0'; i++) {
    int rc = fb__headscan(&s, head + i, 1, max, &used);
    if (rc != 0)
      return rc;
    if (s.state == FB__SCAN_DONE)
      return 0;
  }
  return -1;
}

static void test_head_scanner(void **state) {
  static const struct {
    const char *head;
    int want;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nX: a\tb\xff\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},      /* space before colon */
      {"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},     /* tab before colon */
      {"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400}, /* obs-fold */
      {"GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: a\r\n\r\n", 400},           /* empty name */
      {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400}, /* bare CR */
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400},
      {"GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
      {"GET / HTTP/1.1\nHost: a\n\n", 400}, /* bare LF */
      {"GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400},
      {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
      {"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
      {"GET /\ta HTTP/1.1\r\n\r\n", 400},
      {"\r\nGET / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nX\x01Y: a\r\n\r\n", 400},
  };
  char big[10000];
  size_t used, n;

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = scan(cases[i].head, 8192, &used);
    if (rc != cases[i].want)
      fail_msg("case %zu: want %d, got %d", i, cases[i].want, rc);
    assert_int_equal(scan_bytewise(cases[i].head, 8192), cases[i].want);
  }
  /* The head ends at its blank line: the body and next request are not
   * part of it.
   */
  assert_int_equal(scan("GET / HTTP/1.1\r\n\r\nGET /", 8192, &used), 0);
  assert_int_equal(used, 18);
  /* Size: 414 while in the request line, 431 after. */
  memset(big, 'a', sizeof(big));
  memcpy(big, "GET /", 5);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(scan(big, 8192, &used), 414);
  n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
  memset(big + n, 'b', 8200);
  strcpy(big + n + 8200, "\r\n\r\n");
  assert_int_equal(scan(big, 8192, &used), 431);
  assert_int_equal(scan(big, 9000, &used), 0);
  n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
  for (int i = 0; i < FB__MAX_HEADERS; i++)
    n += (size_t)snprintf(big + n, sizeof(big) - n, "X%d: v\r\n", i);
  strcpy(big + n, "\r\n");
  assert_int_equal(scan(big, 8192, &used), 0);
  strcpy(big + n, "Y: z\r\n\r\n");
  assert_int_equal(scan(big, 8192, &used), 431);
}

/* --- In-process server ---------------------------------------------------- */

static void *run_thread(void *arg) {
  static int rc;

  rc = fb_origin_run(arg, 0);
  return &rc;
}

static int connect_port(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* GET path on a new connection with Connection: close; returns the bytes. */
static ssize_t http_get(int port, const char *path, char *buf, size_t len) {
  char req[256];
  ssize_t got = 0, n;
  int fd = connect_port(port);

  if (fd < 0)
    return -1;
  snprintf(req, sizeof(req),
           "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
           path);
  if (write(fd, req, strlen(req)) < 0) {
    close(fd);
    return -1;
  }
  while ((size_t)got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
    got += n;
  buf[got] = '\0';
  close(fd);
  return got;
}

static void test_server_lifecycle(void **state) {
  struct fb_origin_config cfg;
  struct fb_origin *o;
  pthread_t t;
  char err[512], buf[1 << 16];
  void *ret;

  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  /* Created and destroyed without running. */
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), 0);
  assert_true(fb_origin_port(o) > 0);
  fb_origin_destroy(o);
  fb_origin_destroy(NULL);

  /* Run in a thread, stopped from another. */
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), 0);
  assert_int_equal(pthread_create(&t, NULL, run_thread, o), 0);
  assert_true(http_get(fb_origin_port(o), "/intro/tutorial01.html", buf,
                       sizeof(buf)) > 0);
  assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
  assert_non_null(strstr(buf, "Connection: close\r\n"));
  fb_origin_stop(o);
  fb_origin_stop(o);
  assert_int_equal(pthread_join(t, &ret), 0);
  assert_int_equal(*(int *)ret, 0);
  assert_int_equal(fb_origin_run(o, 0), -EALREADY);
  fb_origin_destroy(o);

  /* Stopped before it runs: run returns at once. */
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), 0);
  fb_origin_stop(o);
  assert_int_equal(fb_origin_run(o, 0), 0);
  fb_origin_destroy(o);
}

static void test_server_create_errors(void **state) {
  struct fb_origin_config cfg;
  struct fb_origin *o, *o2;
  char err[2048];

  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  cfg.faults = "reset=0.5,nope=0.1";
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), FB_ESPEC);
  assert_null(o);
  assert_non_null(strstr(err, "unknown fault 'nope'"));
  cfg.faults = NULL;
  cfg.corpus = "/nonexistent/corpus";
  assert_true(fb_origin_create(&o, &cfg, err, sizeof(err)) < 0);
  assert_non_null(strstr(err, "/nonexistent/corpus"));
  cfg.corpus = "synthetic";
  cfg.host = "not-an-address";
  assert_true(fb_origin_create(&o, &cfg, err, sizeof(err)) < 0);
  assert_non_null(strstr(err, "not-an-address"));
  cfg.host = "127.0.0.1";
  cfg.max_header_bytes = 10;
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), FB_ERANGE);
  cfg.max_header_bytes = 8192;
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), 0);
  cfg.port = fb_origin_port(o);
  assert_int_equal(fb_origin_create(&o2, &cfg, err, sizeof(err)),
                   UV_EADDRINUSE);
  assert_non_null(strstr(err, "cannot listen"));
  fb_origin_destroy(o);
  /* TLS: a key without its certificate, a PEM file nobody can write, a
   * round trip over a minute.
   */
  cfg.port = 0;
  cfg.tls = 1;
  cfg.key_file = "/nonexistent/key.pem";
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), FB_EUSAGE);
  assert_non_null(strstr(err, "go together"));
  cfg.key_file = NULL;
  cfg.cert_out = "/nonexistent/dir/origin.pem";
  assert_true(fb_origin_create(&o, &cfg, err, sizeof(err)) < 0);
  assert_non_null(strstr(err, "writing the certificates' PEM: "
                              "/nonexistent/dir/origin.pem"));
  cfg.cert_out = NULL;
  cfg.rtt_ms = 60001;
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), FB_ERANGE);
  cfg.rtt_ms = 0;
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), 0);
  assert_non_null(strstr(fb_origin_describe(o, err, sizeof(err)),
                         "TLS 1.2 and 1.3, ALPN http/1.1, resumption on"));
  fb_origin_destroy(o);
}

static void test_gzbomb_shape(void **state) {
  struct fb_origin_config cfg;
  struct fb_origin *o;
  const unsigned char *gz;
  size_t len;
  char err[512];

  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  assert_int_equal(fb_origin_create(&o, &cfg, err, sizeof(err)), 0);
  assert_int_equal(fb__gzbomb(o, &gz, &len), 0);
  assert_true(len > 1000000 && len < 1100000);
  assert_int_equal(gz[0], 0x1f);
  assert_int_equal(gz[1], 0x8b);
  /* ISIZE: 2^30 mod 2^32, little-endian, in the last four bytes. */
  assert_memory_equal(gz + len - 4, "\x00\x00\x00\x40", 4);
  fb_origin_destroy(o);
}

/* --- Fault specs ---------------------------------------------------------- */

static void test_fault_names(void **state) {
  assert_string_equal(fb_fault_name(FB_FAULT_NONE), "none");
  assert_string_equal(fb_fault_name(FB_FAULT_RESET_BODY), "reset_body");
  assert_string_equal(fb_fault_name(FB_FAULT_COUNT), "?");
  assert_string_equal(fb_fault_name((enum fb_fault) - 1), "?");
  for (int f = FB_FAULT_NONE + 1; f < FB_FAULT_COUNT; f++) {
    const char *name = fb_fault_name((enum fb_fault)f);
    assert_int_equal(fb_fault_parse(name, strlen(name)), f);
  }
  assert_int_equal(fb_fault_parse("none", 4), -1);
  assert_int_equal(fb_fault_parse("reset_bodyx", 11), -1);
  assert_int_equal(fb_fault_parse("reset_body", 5), FB_FAULT_RESET);
}

static void test_fault_spec_check(void **state) {
  static const struct {
    const char *spec;
    const char *reason; /* NULL: valid */
  } cases[] = {
      {NULL, NULL},
      {"", NULL},
      {"reset=0.01", NULL},
      {"reset=0.01,stall=0.002", NULL},
      {" reset = 0.5 , stall = 0.5 ", NULL},
      {"endless=1", NULL},
      {"reset=0", NULL},
      {"reset=1e-3", NULL},
      {"bogus=0.1", "unknown fault 'bogus' (valid: reset, reset_body,"},
      {"none=0.1", "unknown fault 'none'"},
      {"reset", "missing '=probability'"},
      {"reset=", "is not a probability"},
      {"reset=abc", "'abc' is not a number"},
      {"reset=0.1x", "is not a number"},
      {"reset=nan", "is not a number"},
      {"reset=inf", "is not a number"},
      {"reset=-0.1", "not in [0, 1]"},
      {"reset=1.01", "not in [0, 1]"},
      {"reset=0.6,stall=0.5", "sum to 1.1, more than 1"},
      {"reset=0.1,reset=0.2", "given twice"},
      {"reset=0.1,,stall=0.1", "empty entry"},
      {"reset=0.1,", "empty entry"},
  };
  char err[2048];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc;

    err[0] = '\0';
    rc = fb_origin_check_faults(cases[i].spec, err, sizeof(err));
    if (cases[i].reason == NULL) {
      if (rc != 0)
        fail_msg("'%s' rejected: %s", cases[i].spec, err);
    } else {
      assert_int_equal(rc, FB_ESPEC);
      if (strstr(err, cases[i].reason) == NULL)
        fail_msg("'%s': '%s' lacks '%s'", cases[i].spec, err, cases[i].reason);
    }
  }
  /* The list of valid names names them all. */
  fb_origin_check_faults("x=1", err, sizeof(err));
  assert_non_null(strstr(err, "close_idle"));
}

static void test_fault_pick(void **state) {
  struct fb__faults f, g, all;
  char err[256], target[64];
  int counts[FB_FAULT_COUNT] = {0}, same = 0;

  assert_int_equal(
      fb__faults_compile(&f, "reset=0.2,stall=0.1", err, sizeof(err)), 0);
  assert_int_equal(
      fb__faults_compile(&g, "stall=0.1,reset=0.2", err, sizeof(err)), 0);
  assert_int_equal(fb__faults_compile(&all, "http503=1", err, sizeof(err)), 0);
  for (int i = 0; i < 10000; i++) {
    size_t n = (size_t)snprintf(target, sizeof(target), "/page-%d.html", i);
    enum fb_fault a = fb__faults_pick(&f, 1, target, n);

    counts[a]++;
    /* Deterministic, whatever the order of the spec. */
    assert_int_equal(a, fb__faults_pick(&f, 1, target, n));
    assert_int_equal(a, fb__faults_pick(&g, 1, target, n));
    assert_int_equal(fb__faults_pick(&all, 1, target, n), FB_FAULT_HTTP503);
    same += a == fb__faults_pick(&f, 2, target, n);
  }
  assert_true(counts[FB_FAULT_RESET] > 1800 && counts[FB_FAULT_RESET] < 2200);
  assert_true(counts[FB_FAULT_STALL] > 850 && counts[FB_FAULT_STALL] < 1150);
  assert_int_equal(counts[FB_FAULT_RESET] + counts[FB_FAULT_STALL] +
                       counts[FB_FAULT_NONE],
                   10000);
  /* Another seed, other choices (agreeing by chance about 1/2 + ...). */
  assert_true(same < 9000);
  assert_int_equal(fb__faults_compile(&f, NULL, err, sizeof(err)), 0);
  assert_int_equal(fb__faults_pick(&f, 1, "/", 1), FB_FAULT_NONE);
}

static void test_jitter(void **state) {
  unsigned lo = UINT32_MAX, hi = 0;
  char target[64];

  assert_int_equal(fb__faults_jitter(100, 0, 1, "/x", 2), 100);
  for (int i = 0; i < 2000; i++) {
    size_t n = (size_t)snprintf(target, sizeof(target), "/p%d", i);
    unsigned d = fb__faults_jitter(100, 30, 9, target, n);

    assert_true(d >= 70 && d <= 130);
    assert_int_equal(d, fb__faults_jitter(100, 30, 9, target, n));
    lo = d < lo ? d : lo;
    hi = d > hi ? d : hi;
    assert_true(fb__faults_jitter(10, 50, 9, target, n) <= 60);
  }
  assert_true(lo <= 72 && hi >= 128);
}

/* --- Spawned child -------------------------------------------------------- */

static int proc_status_field(pid_t pid, const char *field, char *out,
                             size_t len) {
  char path[64], line[512];
  FILE *f;
  int found = -1;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    size_t fl = strlen(field);
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
      snprintf(out, len, "%s", line + fl + 1 + strspn(line + fl + 1, " \t"));
      out[strcspn(out, "\n")] = '\0';
      found = 0;
      break;
    }
  }
  fclose(f);
  return found;
}

static void test_spawn_reap(void **state) {
  struct fb_origin_config cfg;
  struct fb_origin_proc p;
  char err[512], buf[1 << 16], want[16], cpus[64];
  int client, origin;
  pid_t pid;

  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  fb_cpu_plan(&client, &origin);
  cfg.cpu = origin;
  assert_int_equal(fb_origin_spawn(&p, &cfg, err, sizeof(err)), 0);
  assert_true(p.pid > 0);
  snprintf(want, sizeof(want), ":%d", p.port);
  assert_non_null(strstr(p.base_url, want));
  assert_memory_equal(p.base_url, "http://127.0.0.1:", 17);
  if (origin >= 0) {
    snprintf(want, sizeof(want), "%d", origin);
    assert_int_equal(
        proc_status_field(p.pid, "Cpus_allowed_list", cpus, sizeof(cpus)), 0);
    assert_string_equal(cpus, want);
  } else {
    print_message("one CPU allowed: the child is not pinned\n");
  }
  assert_true(http_get(p.port, "/__index", buf, sizeof(buf)) > 0);
  assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
  pid = p.pid;
  assert_int_equal(fb_origin_reap(&p), 0);
  assert_int_equal(p.pid, -1);
  assert_int_equal(kill(pid, 0), -1); /* reaped: gone */
  assert_int_equal(fb_origin_reap(&p), 0);
}

/* Writes what conn has pending to fd; returns 0 or -1. */
static int tls_send_pending(struct fb_tls *conn, int fd) {
  struct iovec iov[8];
  int n;

  while ((n = fb_tls_out_iov(conn, 0, iov, 8)) > 0) {
    ssize_t w = writev(fd, iov, n);
    if (w <= 0)
      return -1;
    fb_tls_out_consume(conn, (size_t)w);
  }
  return 0;
}

/* GET path over TLS on a new connection (Connection: close), trusting only
 * cafile, with the project's TLS layer as a blocking client. Returns the
 * plaintext bytes read, or a negative code.
 */
static ssize_t tls_get(int port, const char *cafile, const char *path,
                       char *buf, size_t len) {
  struct fb_tls_client_opts opts = {.cafile = cafile};
  struct fb_tls_ctx *ctx = NULL;
  struct fb_tls *conn = NULL;
  char req[256], in[16384], err[256];
  ssize_t got = 0, rc;
  int fd = connect_port(port), sent = 0;

  if (fd < 0)
    return -1;
  rc = fb_tls_ctx_client(&ctx, &opts, err, sizeof(err));
  if (rc == 0)
    rc = fb_tls_create(&conn, ctx, "127.0.0.1", (unsigned)port, NULL);
  snprintf(req, sizeof(req),
           "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
           path);
  while (rc == 0) {
    ssize_t n = fb_tls_read(conn, buf + got, len - 1 - (size_t)got);

    if (n > 0) {
      got += n;
      continue;
    }
    if (n == 0)
      break; /* close_notify */
    if (n != -EAGAIN) {
      rc = n;
      break;
    }
    if (!sent && fb_tls_handshake_done(conn)) {
      if (fb_tls_write(conn, req, strlen(req)) != (ssize_t)strlen(req)) {
        rc = -EIO;
        break;
      }
      sent = 1;
    }
    if (tls_send_pending(conn, fd) < 0) {
      rc = -EIO;
      break;
    }
    n = read(fd, in, sizeof(in));
    if (n <= 0) {
      fb_tls_feed_eof(conn);
      continue;
    }
    if (fb_tls_feed(conn, in, (size_t)n) != 0)
      rc = -ENOMEM;
  }
  buf[got] = '\0';
  fb_tls_destroy(conn);
  fb_tls_ctx_destroy(ctx);
  fb_tls_cleanup();
  close(fd);
  return rc < 0 ? rc : got;
}

static int count(const char *hay, const char *needle) {
  int n = 0;

  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* The spawned origin over TLS: an https base URL, the certificates' PEM
 * written before spawn returns, and a page through the project's own TLS
 * client trusting that file only.
 */
static void test_spawn_tls(void **state) {
  struct fb_origin_config cfg;
  struct fb_origin_proc p;
  char dir[] = "/tmp/fb-spawn-tls-XXXXXX", pem[64], err[512], text[8192];
  char buf[1 << 16];
  ssize_t n;
  FILE *f;

  assert_non_null(mkdtemp(dir));
  snprintf(pem, sizeof(pem), "%s/origin.pem", dir);
  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  cfg.tls = 1;
  cfg.cert_out = pem;
  assert_int_equal(fb_origin_spawn(&p, &cfg, err, sizeof(err)), 0);
  assert_memory_equal(p.base_url, "https://127.0.0.1:", 18);
  f = fopen(pem, "r");
  assert_non_null(f);
  n = (ssize_t)fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n > 0 ? n : 0] = '\0';
  /* Ours, and those of the tls_expired and tls_wrong_name faults. */
  assert_int_equal(count(text, "-----BEGIN CERTIFICATE-----"), 3);
  assert_null(strstr(text, "PRIVATE KEY"));
  n = tls_get(p.port, pem, "/__bytes/20", buf, sizeof(buf));
  if (n < 0)
    fail_msg("TLS GET: %s", fb_strerror((int)n));
  assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
  assert_non_null(strstr(buf, "\r\n\r\nabcdefghijklmnopqrst"));
  assert_int_equal(fb_origin_reap(&p), 0);
  unlink(pem);
  rmdir(dir);
}

static void test_spawn_error(void **state) {
  struct fb_origin_config cfg;
  struct fb_origin_proc p;
  char err[512];
  int status;

  fb_origin_config_init(&cfg);
  cfg.corpus = "/nonexistent/corpus";
  assert_int_equal(fb_origin_spawn(&p, &cfg, err, sizeof(err)), FB_EORIGIN);
  assert_non_null(strstr(err, "/nonexistent/corpus"));
  assert_int_equal(p.pid, -1);
  /* No child is left behind. */
  assert_int_equal(waitpid(-1, &status, WNOHANG), -1);
  assert_int_equal(errno, ECHILD);
  cfg.corpus = "synthetic";
  cfg.faults = "bad";
  assert_int_equal(fb_origin_spawn(&p, &cfg, err, sizeof(err)), FB_EORIGIN);
  assert_non_null(strstr(err, "missing '=probability'"));
  cfg.faults = NULL;
  cfg.tls = 1;
  cfg.cert_file = "/nonexistent/cert.pem";
  cfg.key_file = "/nonexistent/key.pem";
  assert_int_equal(fb_origin_spawn(&p, &cfg, err, sizeof(err)), FB_EORIGIN);
  assert_non_null(strstr(err, "certificate file /nonexistent/cert.pem"));
}

/* The origin's parent dies without reaping it: the origin goes too. With
 * this process as the subreaper, the orphan becomes our child to wait for.
 */
static void test_spawn_parent_dies(void **state) {
  struct fb_origin_config cfg;
  int fds[2], status;
  pid_t mid, origin = -1;
  int64_t deadline;

  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  assert_int_equal(pipe(fds), 0);
  mid = fork();
  assert_true(mid >= 0);
  if (mid == 0) {
    struct fb_origin_proc p;
    char err[512];

    fb_origin_config_init(&cfg);
    cfg.corpus = "synthetic";
    if (fb_origin_spawn(&p, &cfg, err, sizeof(err)) != 0)
      _exit(1);
    if (write(fds[1], &p.pid, sizeof(p.pid)) != sizeof(p.pid))
      _exit(1);
    _exit(0); /* without reaping */
  }
  close(fds[1]);
  assert_int_equal(read(fds[0], &origin, sizeof(origin)), sizeof(origin));
  close(fds[0]);
  assert_int_equal(waitpid(mid, &status, 0), mid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  deadline = fb_clock_ns() + 5 * FB_NS_PER_S;
  for (;;) {
    pid_t r = waitpid(origin, &status, WNOHANG);
    if (r == origin)
      break;
    assert_true(r == 0);
    if (fb_clock_ns() > deadline) {
      kill(origin, SIGKILL);
      fail_msg("the origin outlived its parent");
    }
    usleep(10000);
  }
  /* PDEATHSIG is SIGTERM: the origin stopped cleanly. */
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest units[] = {
      cmocka_unit_test(test_synthetic_stats),
      cmocka_unit_test(test_synthetic_deterministic),
      cmocka_unit_test(test_seed_pages),
      cmocka_unit_test(test_load_directory),
      cmocka_unit_test(test_open_names),
      cmocka_unit_test(test_content_types),
      cmocka_unit_test(test_path_normalize),
      cmocka_unit_test(test_query_parse),
      cmocka_unit_test(test_head_scanner),
      cmocka_unit_test(test_server_lifecycle),
      cmocka_unit_test(test_server_create_errors),
      cmocka_unit_test(test_gzbomb_shape),
  };
  const struct CMUnitTest faults[] = {
      cmocka_unit_test(test_fault_names),
      cmocka_unit_test(test_fault_spec_check),
      cmocka_unit_test(test_fault_pick),
      cmocka_unit_test(test_jitter),
  };
  const struct CMUnitTest spawn[] = {
      cmocka_unit_test(test_spawn_reap),
      cmocka_unit_test(test_spawn_tls),
      cmocka_unit_test(test_spawn_error),
      cmocka_unit_test(test_spawn_parent_dies),
  };
  const char *group = argc > 1 ? argv[1] : "units";

  if (strcmp(group, "units") == 0)
    return cmocka_run_group_tests_name("origin units", units, NULL, NULL);
  if (strcmp(group, "faults") == 0)
    return cmocka_run_group_tests_name("origin faults", faults, NULL, NULL);
  if (strcmp(group, "spawn") == 0)
    return cmocka_run_group_tests_name("origin spawn", spawn, NULL, NULL);
  fprintf(stderr, "usage: test-origin units|faults|spawn\n");
  return 2;
}
