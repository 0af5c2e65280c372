/* SPDX-License-Identifier: MIT */
/* The TLS layer (src/tls/) alone: a client and a server connection talking
 * in memory, with no socket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fetchbench/error.h"
#include "scratch.h"
#include "tls/pair.h"
#include "tls/tls_int.h" /* test_renegotiation_refused reaches the SSL */

/* Certificates of the whole program, made once (group setup). */
static struct fb_tls_cert *good, *expired, *other;
static const char *cafile;     /* good, expired and other: all trusted */
static const char *cafile_one; /* good only */

static const char *const fault_names[] = {"tls-expired.localhost",
                                          "tls-other.localhost", NULL};

static int group_setup(void **state) {
  char err[256];
  struct fb_tls_cert_opts o = {.dns_names = fault_names};
  const struct fb_tls_cert *all[3];

  if (scratch_create("tls") != 0)
    return -1;
  if (fb_tls_cert_generate(&good, &o, err, sizeof(err)) != 0)
    return -1;
  o.kind = FB_TLS_CERT_EXPIRED;
  o.common_name = "fetchbench expired";
  if (fb_tls_cert_generate(&expired, &o, err, sizeof(err)) != 0)
    return -1;
  o.kind = FB_TLS_CERT_OTHER_NAME;
  o.common_name = "fetchbench other";
  if (fb_tls_cert_generate(&other, &o, err, sizeof(err)) != 0)
    return -1;
  all[0] = good;
  all[1] = expired;
  all[2] = other;
  cafile = strdup(scratch_path("ca.pem"));
  cafile_one = strdup(scratch_path("ca-one.pem"));
  if (fb_tls_cert_write_pem(all, 3, cafile, err, sizeof(err)) != 0 ||
      fb_tls_cert_write_pem(all, 1, cafile_one, err, sizeof(err)) != 0)
    return -1;
  return 0;
}

static int group_teardown(void **state) {
  fb_tls_cert_destroy(good);
  fb_tls_cert_destroy(expired);
  fb_tls_cert_destroy(other);
  free((void *)cafile);
  free((void *)cafile_one);
  fb_tls_cleanup();
  return scratch_remove();
}

/* The SNI hook of the tests: fault host names pick their certificate, and
 * every call is counted with the name it saw. */
static int sni_calls;
static char sni_seen[64];

static const struct fb_tls_cert *pick(void *arg, struct fb_tls *conn,
                                      const char *name) {
  sni_calls++;
  snprintf(sni_seen, sizeof(sni_seen), "%s", name ? name : "(none)");
  assert_ptr_equal(fb_tls_data(conn), arg);
  if (name && strcmp(name, "tls-expired.localhost") == 0)
    return expired;
  if (name && strcmp(name, "tls-other.localhost") == 0)
    return other;
  return NULL;
}

static int sni_arg_token;

static struct fb_tls_ctx *server_ctx(const struct fb_tls_cert *cert,
                                     int no_resume, int max_version) {
  struct fb_tls_server_opts o = {.cert = cert,
                                 .no_resume = no_resume,
                                 .max_version = max_version,
                                 .sni = pick,
                                 .sni_arg = &sni_arg_token};
  struct fb_tls_ctx *ctx;
  char err[256];
  int rc = fb_tls_ctx_server(&ctx, &o, err, sizeof(err));

  if (rc != 0)
    fail_msg("server ctx: %s", err);
  return ctx;
}

static struct fb_tls_ctx *client_ctx_opts(const struct fb_tls_client_opts *o) {
  struct fb_tls_ctx *ctx;
  char err[256];
  int rc = fb_tls_ctx_client(&ctx, o, err, sizeof(err));

  if (rc != 0)
    fail_msg("client ctx: %s", err);
  return ctx;
}

static struct fb_tls_ctx *client_ctx(const char *ca, int insecure,
                                     int max_version) {
  struct fb_tls_client_opts o = {
      .cafile = ca, .insecure = insecure, .max_version = max_version};
  return client_ctx_opts(&o);
}

struct pair {
  struct fb_tls *c, *s;
};

static void pair_open(struct pair *p, struct fb_tls_ctx *cctx,
                      struct fb_tls_ctx *sctx, const char *host) {
  assert_int_equal(fb_tls_create(&p->c, cctx, host, 443, NULL), 0);
  assert_int_equal(fb_tls_create(&p->s, sctx, NULL, 0, &sni_arg_token), 0);
}

static void pair_close(struct pair *p) {
  fb_tls_destroy(p->c);
  fb_tls_destroy(p->s);
  p->c = p->s = NULL;
}

/* Sends msg from one side and reads it back whole on the other. */
static void send_recv(struct fb_tls *from, struct fb_tls *to, const char *msg) {
  char buf[256];
  size_t n = strlen(msg);
  long last;

  assert_int_equal(fb_tls_write(from, msg, n), (ssize_t)n);
  assert_int_equal(fb_tls_pair_read(from, to, buf, n, 0, &last), n);
  assert_memory_equal(buf, msg, n);
}

static void handshake_ok(struct pair *p, size_t piece) {
  char err[256];
  int rc = fb_tls_pair_handshake(p->c, p->s, piece, NULL, NULL);

  if (rc != 0)
    fail_msg("handshake: %s / %s", fb_tls_error(p->c, err, sizeof(err)),
             fb_tls_verify_error(p->c) ? fb_tls_verify_error(p->c) : "-");
}

static void test_handshake_13(void **state) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx = client_ctx(cafile_one, 0, 0);
  struct pair p;
  unsigned ev;

  pair_open(&p, cctx, sctx, "localhost");
  assert_int_equal(fb_tls_handshake_done(p.c), 0);
  assert_null(fb_tls_version(p.c));
  sni_calls = 0;
  handshake_ok(&p, 0);
  assert_int_equal(sni_calls, 1);
  assert_string_equal(sni_seen, "localhost");
  assert_string_equal(fb_tls_server_name(p.s), "localhost");
  assert_true(fb_tls_handshake_done(p.c) && fb_tls_handshake_done(p.s));
  assert_string_equal(fb_tls_version(p.c), "TLSv1.3");
  assert_string_equal(fb_tls_version(p.s), "TLSv1.3");
  assert_string_equal(fb_tls_alpn(p.c), "http/1.1");
  assert_string_equal(fb_tls_alpn(p.s), "http/1.1");
  assert_int_equal(fb_tls_resumed(p.c), 0);
  assert_null(fb_tls_verify_error(p.c));
  ev = fb_tls_events(p.c);
  assert_true(ev & FB_TLS_EV_HELLO);
  assert_true(ev & FB_TLS_EV_DONE);
  assert_int_equal(fb_tls_events(p.c), 0); /* reading cleared them */
  ev = fb_tls_events(p.s);
  assert_true((ev & (FB_TLS_EV_HELLO | FB_TLS_EV_DONE)) ==
              (FB_TLS_EV_HELLO | FB_TLS_EV_DONE));
  send_recv(p.c, p.s, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  send_recv(p.s, p.c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  /* The response carried the server's tickets along. */
  assert_true(fb_tls_events(p.c) & FB_TLS_EV_SESSION);
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

static void test_handshake_12(void **state) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx = client_ctx(cafile_one, 0, FB_TLS_1_2);
  struct pair p;

  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  assert_string_equal(fb_tls_version(p.c), "TLSv1.2");
  assert_string_equal(fb_tls_version(p.s), "TLSv1.2");
  assert_string_equal(fb_tls_alpn(p.c), "http/1.1");
  send_recv(p.c, p.s, "ping");
  send_recv(p.s, p.c, "pong");
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* Two connections in a row to one host:port: the second resumes, unless
 * either side has resumption off. */
static void resume_case(int version, int server_off, int client_off) {
  struct fb_tls_ctx *sctx = server_ctx(good, server_off, 0);
  struct fb_tls_client_opts co = {
      .cafile = cafile_one, .no_resume = client_off, .max_version = version};
  struct fb_tls_ctx *cctx = client_ctx_opts(&co);
  int expect = !server_off && !client_off;
  struct pair p;

  for (int round = 0; round < 3; round++) {
    pair_open(&p, cctx, sctx, "localhost");
    handshake_ok(&p, 0);
    if (fb_tls_resumed(p.c) != (round > 0 && expect) ||
        fb_tls_resumed(p.s) != (round > 0 && expect))
      fail_msg("v%d s%d c%d round %d: resumed %d %d", version, server_off,
               client_off, round, fb_tls_resumed(p.c), fb_tls_resumed(p.s));
    send_recv(p.c, p.s, "request");
    send_recv(p.s, p.c, "response");
    if (fb_tls_ctx_sessions(cctx) != (size_t)(client_off ? 0 : expect))
      fail_msg("v%d s%d c%d round %d: %zu sessions", version, server_off,
               client_off, round, fb_tls_ctx_sessions(cctx));
    pair_close(&p);
  }
  /* Another port is another key: no session for it. */
  assert_int_equal(fb_tls_create(&p.c, cctx, "localhost", 8443, NULL), 0);
  assert_int_equal(fb_tls_create(&p.s, sctx, NULL, 0, &sni_arg_token), 0);
  handshake_ok(&p, 0);
  assert_int_equal(fb_tls_resumed(p.c), 0);
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

static void test_resume(void **state) {
  resume_case(0, 0, 0);
  resume_case(FB_TLS_1_2, 0, 0);
  resume_case(0, 1, 0);
  resume_case(FB_TLS_1_2, 1, 0);
  resume_case(0, 0, 1);
  resume_case(FB_TLS_1_2, 0, 1);
}

static void test_no_alpn(void **state) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_client_opts co = {.cafile = cafile_one, .no_alpn = 1};
  struct fb_tls_ctx *cctx = client_ctx_opts(&co);
  struct pair p;

  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  assert_null(fb_tls_alpn(p.c));
  assert_null(fb_tls_alpn(p.s));
  send_recv(p.c, p.s, "no alpn is fine");
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* Handshakes moved in pieces of every size from 1 byte up to 40, then a few
 * larger ones, in both versions. */
static void test_handshake_pieces(void **state) {
  static const size_t big[] = {100, 517, 1000, 4096, 16384};
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx[2] = {client_ctx(cafile_one, 0, 0),
                                client_ctx(cafile_one, 0, FB_TLS_1_2)};
  struct pair p;

  for (int v = 0; v < 2; v++) {
    for (size_t i = 0; i < 40 + sizeof(big) / sizeof(big[0]); i++) {
      size_t piece = i < 40 ? i + 1 : big[i - 40];
      pair_open(&p, cctx[v], sctx, "localhost");
      handshake_ok(&p, piece);
      send_recv(p.c, p.s, "after a handshake in pieces");
      pair_close(&p);
    }
  }
  fb_tls_ctx_destroy(cctx[0]);
  fb_tls_ctx_destroy(cctx[1]);
  fb_tls_ctx_destroy(sctx);
}

/* One small record split at every offset: nothing before its last byte,
 * all of it after. */
static void test_split_every_offset(void **state) {
  static const char msg[] =
      "GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n";
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx = client_ctx(cafile_one, 0, 0);
  unsigned char rec[512];
  char buf[128];
  struct iovec iov[4];
  struct pair p;
  size_t len;

  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  send_recv(p.s, p.c, "tickets first");
  for (size_t k = 0;; k++) {
    int n;
    assert_int_equal(fb_tls_write(p.c, msg, sizeof(msg) - 1),
                     (ssize_t)sizeof(msg) - 1);
    n = fb_tls_out_iov(p.c, 0, iov, 4);
    assert_int_equal(n, 1);
    len = iov[0].iov_len;
    assert_true(len < sizeof(rec));
    memcpy(rec, iov[0].iov_base, len);
    fb_tls_out_consume(p.c, len);
    assert_int_equal(fb_tls_out_pending(p.c), 0);
    if (k >= len)
      break;
    assert_int_equal(fb_tls_feed(p.s, rec, k), 0);
    assert_int_equal(fb_tls_read(p.s, buf, sizeof(buf)), -EAGAIN);
    assert_int_equal(fb_tls_feed(p.s, rec + k, len - k), 0);
    assert_int_equal(fb_tls_read(p.s, buf, sizeof(buf)),
                     (ssize_t)sizeof(msg) - 1);
    assert_memory_equal(buf, msg, sizeof(msg) - 1);
    assert_int_equal(fb_tls_read(p.s, buf, sizeof(buf)), -EAGAIN);
  }
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* A 3 MiB body written from one buffer and read back byte-exact, moved in
 * pieces whose size runs 1, 2, 3, ... (every size up to past a record). */
static void test_large_body(void **state) {
  const size_t size = 3 * 1024 * 1024 + 12345;
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx = client_ctx(cafile_one, 0, 0);
  unsigned char *body = malloc(size), *got = malloc(size);
  size_t sent = 0, recvd = 0, piece = 1;
  uint64_t x = 88172645463325252ULL;
  struct pair p;

  assert_non_null(body);
  assert_non_null(got);
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    body[i] = (unsigned char)x;
  }
  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  while (recvd < size) {
    struct iovec iov;
    ssize_t r;
    if (sent < size) {
      r = fb_tls_write(p.s, body + sent, size - sent);
      assert_true(r >= 0);
      sent += (size_t)r;
      /* Never more than the bound plus one record waits. */
      assert_true(fb_tls_out_pending(p.s) <= 64 * 1024 + 16384 + 512);
    }
    if (fb_tls_out_iov(p.s, 0, &iov, 1) == 1) {
      size_t n = iov.iov_len < piece ? iov.iov_len : piece;
      assert_int_equal(fb_tls_feed(p.c, iov.iov_base, n), 0);
      fb_tls_out_consume(p.s, n);
      piece = piece % 20000 + 1;
    }
    while (recvd < size) {
      r = fb_tls_read(p.c, got + recvd, size - recvd);
      if (r == -EAGAIN)
        break;
      if (r <= 0) {
        char err[256];
        fail_msg("read %zd at %zu: %s", r, recvd,
                 fb_tls_error(p.c, err, sizeof(err)));
      }
      recvd += (size_t)r;
    }
  }
  assert_int_equal(sent, size);
  assert_memory_equal(got, body, size);
  assert_int_equal(fb_tls_out_pending(p.s), 0);
  pair_close(&p);
  free(body);
  free(got);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* The output bound, the skip of fb_tls_out_iov, and addresses that do not
 * move while more output is queued. */
static void test_output_buffers(void **state) {
  struct fb_tls_server_opts so = {.cert = good, .out_max = 20000};
  struct fb_tls_ctx *sctx, *cctx = client_ctx(cafile_one, 0, 0);
  static unsigned char body[100000];
  struct iovec a[8], b[8];
  char err[256];
  struct pair p;
  int na, nb;
  ssize_t r;

  assert_int_equal(fb_tls_ctx_server(&sctx, &so, err, sizeof(err)), 0);
  memset(body, 'x', sizeof(body));
  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  r = fb_tls_write(p.s, body, sizeof(body));
  assert_int_equal(r, 2 * 16384); /* stops once 20,000 bytes wait */
  assert_int_equal(fb_tls_write(p.s, body, sizeof(body)), 0);
  na = fb_tls_out_iov(p.s, 0, a, 8);
  assert_true(na >= 2);
  nb = fb_tls_out_iov(p.s, a[0].iov_len + 10, b, 8);
  assert_int_equal(nb, na - 1);
  assert_ptr_equal(b[0].iov_base, (char *)a[1].iov_base + 10);
  /* Half of the first chunk "in flight"; more output queued meanwhile. */
  fb_tls_out_consume(p.s, 100);
  assert_int_equal(fb_tls_shutdown(p.s), 0);
  nb = fb_tls_out_iov(p.s, 0, b, 8);
  assert_ptr_equal(b[0].iov_base, (char *)a[0].iov_base + 100);
  assert_ptr_equal(b[1].iov_base, a[1].iov_base);
  assert_int_equal(fb_tls_write(p.s, "late", 4), -EPIPE);
  assert_int_equal(fb_tls_shutdown(p.s), 0); /* once */
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

static void test_close_notify_and_truncation(void **state) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx = client_ctx(cafile_one, 0, 0);
  char buf[64], err[256];
  struct pair p;
  long last;

  /* Clean: the body, close_notify, then the socket's end. */
  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  assert_int_equal(fb_tls_write(p.s, "body", 4), 4);
  assert_int_equal(fb_tls_shutdown(p.s), 0);
  assert_int_equal(fb_tls_pair_read(p.s, p.c, buf, sizeof(buf), 0, &last), 4);
  assert_int_equal(last, 0);
  assert_true(fb_tls_events(p.c) & FB_TLS_EV_CLOSED);
  fb_tls_feed_eof(p.c);
  assert_int_equal(fb_tls_read(p.c, buf, sizeof(buf)), 0);
  assert_string_equal(fb_tls_error(p.c, err, sizeof(err)), "");
  pair_close(&p);

  /* Cut: the body, then the socket's end with no close_notify. */
  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  assert_int_equal(fb_tls_write(p.s, "body", 4), 4);
  assert_int_equal(fb_tls_pair_read(p.s, p.c, buf, sizeof(buf), 0, &last), 4);
  assert_int_equal(last, -EAGAIN);
  fb_tls_feed_eof(p.c);
  assert_int_equal(fb_tls_read(p.c, buf, sizeof(buf)), FB_ETLSEOF);
  assert_non_null(strstr(fb_tls_error(p.c, err, sizeof(err)),
                         "unexpected eof while reading"));
  assert_false(fb_tls_events(p.c) & FB_TLS_EV_CLOSED);
  /* Final: it says so again. */
  assert_int_equal(fb_tls_read(p.c, buf, sizeof(buf)), FB_ETLSEOF);
  pair_close(&p);

  /* Cut in the middle of a record. */
  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  send_recv(p.s, p.c, "tickets first");
  assert_int_equal(fb_tls_write(p.s, "a longer body", 13), 13);
  assert_int_equal(fb_tls_pair_move(p.s, p.c, 10, NULL, 0, NULL), 10);
  assert_int_equal(fb_tls_read(p.c, buf, sizeof(buf)), -EAGAIN);
  fb_tls_feed_eof(p.c);
  assert_int_equal(fb_tls_read(p.c, buf, sizeof(buf)), FB_ETLSEOF);
  pair_close(&p);

  /* The end during the handshake. */
  pair_open(&p, cctx, sctx, "localhost");
  assert_int_equal(fb_tls_handshake(p.c), -EAGAIN);
  fb_tls_feed_eof(p.c);
  assert_int_equal(fb_tls_handshake(p.c), FB_ETLSEOF);
  assert_int_equal(fb_tls_shutdown(p.s), -ENOTCONN);
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* A handshake that the client must refuse, with the reason it gives; in
 * insecure mode the same handshake passes and the reason is still known. */
static void refused(struct fb_tls_ctx *sctx, const char *ca, const char *host,
                    const char *why) {
  struct fb_tls_ctx *cctx = client_ctx(ca, 0, 0);
  struct fb_tls_ctx *ictx = client_ctx(ca, 1, 0);
  char err[256];
  struct pair p;
  int crc, src;

  pair_open(&p, cctx, sctx, host);
  assert_int_equal(fb_tls_pair_handshake(p.c, p.s, 0, &crc, &src),
                   FB_ETLSVERIFY);
  assert_int_equal(crc, FB_ETLSVERIFY);
  assert_non_null(fb_tls_verify_error(p.c));
  assert_string_equal(fb_tls_verify_error(p.c), why);
  fb_tls_error(p.c, err, sizeof(err));
  assert_non_null(strstr(err, "certificate verify failed"));
  assert_non_null(strstr(err, why));
  /* The server hears of it through the client's alert. */
  fb_tls_pair_move(p.c, p.s, 0, NULL, 0, NULL);
  assert_int_equal(fb_tls_handshake(p.s), FB_ETLS);
  assert_non_null(strstr(fb_tls_error(p.s, err, sizeof(err)), "alert"));
  pair_close(&p);

  pair_open(&p, ictx, sctx, host);
  handshake_ok(&p, 0);
  assert_string_equal(fb_tls_verify_error(p.c), why);
  send_recv(p.c, p.s, "insecure but working");
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(ictx);
}

static void accepted(struct fb_tls_ctx *sctx, const char *ca,
                     const char *host) {
  struct fb_tls_ctx *cctx = client_ctx(ca, 0, 0);
  struct pair p;

  pair_open(&p, cctx, sctx, host);
  handshake_ok(&p, 0);
  assert_null(fb_tls_verify_error(p.c));
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
}

static void test_verify(void **state) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *sother = server_ctx(other, 0, 0);

  /* Trusted, by name and by both IP SANs. */
  accepted(sctx, cafile_one, "localhost");
  accepted(sctx, cafile_one, "127.0.0.1");
  accepted(sctx, cafile_one, "[::1]");
  accepted(sctx, cafile_one, "::1");
  /* Not in the CA file: the system store does not know it either. */
  refused(sctx, NULL, "localhost", "self-signed certificate");
  /* The SNI hook presents an expired certificate, another name's. */
  refused(sctx, cafile, "tls-expired.localhost", "certificate has expired");
  refused(sctx, cafile, "tls-other.localhost", "hostname mismatch");
  /* A name or an address the certificate does not carry. */
  refused(sctx, cafile_one, "example.localhost", "hostname mismatch");
  refused(sctx, cafile_one, "127.0.0.2", "IP address mismatch");
  refused(sother, cafile, "127.0.0.1", "IP address mismatch");
  fb_tls_ctx_destroy(sother);
  fb_tls_ctx_destroy(sctx);
}

/* No SNI from a client that connects to an address; the hook still runs
 * and the default certificate is shown. */
static void test_sni(void **state) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx = client_ctx(cafile, 1, 0);
  struct pair p;

  sni_calls = 0;
  pair_open(&p, cctx, sctx, "127.0.0.1");
  handshake_ok(&p, 0);
  assert_int_equal(sni_calls, 1);
  assert_string_equal(sni_seen, "(none)");
  assert_null(fb_tls_server_name(p.s));
  assert_null(fb_tls_verify_error(p.c));
  pair_close(&p);
  pair_open(&p, cctx, sctx, "tls-expired.localhost");
  handshake_ok(&p, 0);
  assert_string_equal(sni_seen, "tls-expired.localhost");
  assert_string_equal(fb_tls_server_name(p.s), "tls-expired.localhost");
  assert_string_equal(fb_tls_verify_error(p.c), "certificate has expired");
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* A certificate written out and loaded back serves like the original. */
static void test_pem_roundtrip(void **state) {
  const char *crt = scratch_path("rt.crt"), *key = scratch_path("rt.key");
  const struct fb_tls_cert *one[1] = {good};
  struct fb_tls_cert *loaded;
  struct fb_tls_ctx *sctx, *cctx;
  struct stat st;
  char err[256];
  struct pair p;

  assert_int_equal(fb_tls_cert_write_pem(one, 1, crt, err, sizeof(err)), 0);
  assert_int_equal(fb_tls_cert_write_key_pem(good, key, err, sizeof(err)), 0);
  assert_int_equal(stat(key, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(fb_tls_cert_load(&loaded, crt, key, err, sizeof(err)), 0);
  sctx = server_ctx(loaded, 0, 0);
  fb_tls_cert_destroy(loaded); /* the context holds its own references */
  cctx = client_ctx(crt, 0, 0);
  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

static void expect_load(const char *crt, const char *key, int code,
                        const char *needle1, const char *needle2) {
  struct fb_tls_cert *cert = (void *)1;
  char err[512];

  assert_int_equal(fb_tls_cert_load(&cert, crt, key, err, sizeof(err)), code);
  assert_null(cert);
  if (strstr(err, needle1) == NULL || strstr(err, needle2) == NULL)
    fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err, needle1, needle2);
}

static void expect_ca(const char *ca, int code, const char *needle1,
                      const char *needle2) {
  struct fb_tls_client_opts o = {.cafile = ca};
  struct fb_tls_ctx *ctx = (void *)1;
  char err[512];

  assert_int_equal(fb_tls_ctx_client(&ctx, &o, err, sizeof(err)), code);
  assert_null(ctx);
  if (strstr(err, needle1) == NULL || strstr(err, needle2) == NULL)
    fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", err, needle1, needle2);
}

static void test_bad_files(void **state) {
  const char *crt = scratch_path("bad.crt"), *key = scratch_path("bad.key");
  const char *missing = scratch_path("missing.pem");
  const char *text = scratch_write("text.pem", "hello\n", 6);
  const char *dir = scratch_dir();
  const struct fb_tls_cert *one[1] = {good};
  char err[256];

  assert_int_equal(fb_tls_cert_write_pem(one, 1, crt, err, sizeof(err)), 0);
  assert_int_equal(fb_tls_cert_write_key_pem(other, key, err, sizeof(err)), 0);
  expect_load(missing, key, -ENOENT, missing, "No such file");
  expect_load(dir, key, -EISDIR, dir, "directory");
  expect_load(text, key, FB_ECERT, text, "no PEM certificate");
  expect_load(crt, missing, -ENOENT, missing, "key file");
  expect_load(crt, text, FB_ECERT, text, "no PEM private key");
  expect_load(crt, crt, FB_ECERT, crt, "no PEM private key");
  expect_load(crt, key, FB_ECERT, key, "does not match");
  if (geteuid() != 0) {
    const char *locked = scratch_write("locked.pem", "x", 1);
    assert_int_equal(chmod(locked, 0), 0);
    expect_load(locked, key, -EACCES, locked, "ermission");
    expect_ca(locked, -EACCES, locked, "ermission");
  }
  expect_ca(missing, -ENOENT, missing, "No such file");
  expect_ca(dir, -EISDIR, dir, "directory");
  expect_ca(text, FB_ECERT, text, "no PEM certificate");
  expect_ca(key, FB_ECERT, key, "no PEM certificate");
  expect_ca("", -ENOENT, "CA file", "empty");
  /* A failure is not kept: the file fixed, the next try works. */
  scratch_write("late.pem", "", 0);
  expect_ca(scratch_path("late.pem"), FB_ECERT, "late.pem", "no PEM");
  assert_int_equal(
      fb_tls_cert_write_pem(one, 1, scratch_path("late.pem"), err, sizeof(err)),
      0);
  fb_tls_ctx_destroy(client_ctx(scratch_path("late.pem"), 0, 0));
}

static void test_bad_options(void **state) {
  const char *const bad[] = {"*.localhost", NULL};
  struct fb_tls_cert_opts o = {.dns_names = bad};
  struct fb_tls_server_opts so = {.cert = NULL};
  struct fb_tls_client_opts co = {.min_version = 13, .max_version = 12};
  struct fb_tls_cert *cert;
  struct fb_tls_ctx *ctx;
  struct fb_tls *conn;
  char err[256];

  assert_int_equal(fb_tls_cert_generate(&cert, &o, err, sizeof(err)),
                   FB_EUSAGE);
  assert_non_null(strstr(err, "*.localhost"));
  assert_int_equal(fb_tls_ctx_server(&ctx, &so, err, sizeof(err)), FB_EUSAGE);
  assert_int_equal(fb_tls_ctx_client(&ctx, &co, err, sizeof(err)), FB_EUSAGE);
  ctx = client_ctx(cafile_one, 0, 0);
  assert_int_equal(fb_tls_create(&conn, ctx, NULL, 0, NULL), FB_EUSAGE);
  fb_tls_ctx_destroy(ctx);
}

/* Bytes that are no TLS at all: an error and maybe an alert, no crash, and
 * every later call says the same. */
static void garbage_case(const void *bytes, size_t len) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls *s;
  char buf[64], err[256];

  assert_int_equal(fb_tls_create(&s, sctx, NULL, 0, &sni_arg_token), 0);
  assert_int_equal(fb_tls_feed(s, bytes, len), 0);
  assert_int_equal(fb_tls_read(s, buf, sizeof(buf)), FB_ETLS);
  assert_int_equal(fb_tls_handshake(s), FB_ETLS);
  assert_int_equal(fb_tls_write(s, "x", 1), FB_ETLS);
  assert_true(strlen(fb_tls_error(s, err, sizeof(err))) > 0);
  fb_tls_destroy(s);
  fb_tls_ctx_destroy(sctx);
}

static void test_garbage(void **state) {
  static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  /* An SSLv2-style ClientHello (the old 2-byte header, msg type 1). */
  static const unsigned char sslv2[] = {
      0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07,
      0x00, 0xc0, 0x05, 0x00, 0x80, 0x03, 0x00, 0x80, 0x01, 0x00, 0x80, 0x06,
      0x00, 0x40, 0x04, 0x00, 0x80, 0x02, 0x00, 0x80, 0x01, 0x02, 0x03, 0x04,
      0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
  /* A handshake record that claims a huge message. */
  static const unsigned char huge[] = {0x16, 0x03, 0x01, 0x00, 0x04,
                                       0x01, 0xff, 0xff, 0xff};
  unsigned char noise[4096];
  uint32_t x = 2463534242u;

  garbage_case(http, sizeof(http) - 1);
  garbage_case(sslv2, sizeof(sslv2));
  garbage_case(huge, sizeof(huge));
  for (int round = 0; round < 20; round++) {
    for (size_t i = 0; i < sizeof(noise); i++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      noise[i] = (unsigned char)x;
    }
    if (round & 1)
      noise[0] = 0x16; /* looks like a handshake record at first */
    garbage_case(noise, sizeof(noise));
  }
}

static size_t put16(unsigned char *p, size_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
  return 2;
}

/* A TLS 1.2 ClientHello whose server_name is namelen bytes long, in as
 * many records as it needs. Returns its length. */
static size_t hello_with_sni(unsigned char *out, size_t cap, size_t namelen) {
  static const unsigned char suites[] = {0xc0, 0x2b, 0xc0, 0x2f, 0x13, 0x01};
  unsigned char *msg = malloc(namelen + 256);
  size_t n = 0, ext_at, sni_at, len = 0;

  assert_non_null(msg);
  msg[n++] = 0x01; /* client_hello */
  n += 3;          /* length, below */
  msg[n++] = 0x03;
  msg[n++] = 0x03;
  memset(msg + n, 0x42, 32);
  n += 32;
  msg[n++] = 0; /* session id */
  n += put16(msg + n, sizeof(suites));
  memcpy(msg + n, suites, sizeof(suites));
  n += sizeof(suites);
  msg[n++] = 1;
  msg[n++] = 0;
  ext_at = n;
  n += 2;
  n += put16(msg + n, 0x0000); /* server_name */
  sni_at = n;
  n += 2;
  n += put16(msg + n, namelen + 3);
  msg[n++] = 0; /* host_name */
  n += put16(msg + n, namelen);
  memset(msg + n, 'a', namelen);
  n += namelen;
  put16(msg + sni_at, n - sni_at - 2);
  n += put16(msg + n, 0x000a); /* supported_groups: P-256 */
  n += put16(msg + n, 4);
  n += put16(msg + n, 2);
  n += put16(msg + n, 0x0017);
  n += put16(msg + n, 0x000d); /* signature_algorithms */
  n += put16(msg + n, 4);
  n += put16(msg + n, 2);
  n += put16(msg + n, 0x0403);
  put16(msg + ext_at, n - ext_at - 2);
  msg[1] = (unsigned char)((n - 4) >> 16);
  msg[2] = (unsigned char)((n - 4) >> 8);
  msg[3] = (unsigned char)(n - 4);
  for (size_t at = 0; at < n;) {
    size_t k = n - at > 16384 ? 16384 : n - at;
    assert_true(len + 5 + k <= cap);
    out[len++] = 0x16;
    out[len++] = 0x03;
    out[len++] = 0x01;
    len += put16(out + len, k);
    memcpy(out + len, msg + at, k);
    len += k;
    at += k;
  }
  free(msg);
  return len;
}

static void test_long_sni(void **state) {
  static unsigned char hello[20000];
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls *s;
  char err[256];
  size_t len;
  struct iovec iov;

  /* The hand-made hello is sound: with a short name it gets an answer. */
  len = hello_with_sni(hello, sizeof(hello), 9);
  assert_int_equal(fb_tls_create(&s, sctx, NULL, 0, &sni_arg_token), 0);
  assert_int_equal(fb_tls_feed(s, hello, len), 0);
  assert_int_equal(fb_tls_handshake(s), -EAGAIN);
  assert_string_equal(fb_tls_server_name(s), "aaaaaaaaa");
  assert_true(fb_tls_out_pending(s) > 100); /* ServerHello and on */
  fb_tls_destroy(s);

  len = hello_with_sni(hello, sizeof(hello), 16384);
  assert_true(len > 16384 + 5);
  assert_int_equal(fb_tls_create(&s, sctx, NULL, 0, &sni_arg_token), 0);
  assert_int_equal(fb_tls_feed(s, hello, len), 0);
  assert_int_equal(fb_tls_handshake(s), FB_ETLS);
  assert_true(strlen(fb_tls_error(s, err, sizeof(err))) > 0);
  /* Refused with an alert record, nothing else. */
  assert_int_equal(fb_tls_out_iov(s, 0, &iov, 1), 1);
  assert_int_equal(((unsigned char *)iov.iov_base)[0], 0x15);
  assert_int_equal(fb_tls_out_pending(s), 7);
  fb_tls_destroy(s);
  fb_tls_ctx_destroy(sctx);
}

/* A TLS 1.2 client that asks to renegotiate gets an alert, and the
 * server's connection goes on. */
static void test_renegotiation_refused(void **state) {
  struct fb_tls_ctx *sctx = server_ctx(good, 0, 0);
  struct fb_tls_ctx *cctx = client_ctx(cafile_one, 0, FB_TLS_1_2);
  unsigned char buf[64];
  struct iovec iov;
  struct pair p;

  pair_open(&p, cctx, sctx, "localhost");
  handshake_ok(&p, 0);
  /* The client side of the layer refuses it too: go around it. */
  SSL_clear_options(p.c->ssl, SSL_OP_NO_RENEGOTIATION);
  assert_int_equal(SSL_renegotiate(p.c->ssl), 1);
  SSL_do_handshake(p.c->ssl);
  assert_true(fb_tls_pair_move(p.c, p.s, 0, NULL, 0, NULL) > 0);
  assert_int_equal(fb_tls_read(p.s, buf, sizeof(buf)), -EAGAIN);
  assert_int_equal(fb_tls_out_iov(p.s, 0, &iov, 1), 1);
  assert_int_equal(((unsigned char *)iov.iov_base)[0], 0x15); /* alert */
  /* The server goes on (what the client makes of the refusal is
   * OpenSSL's business). */
  assert_int_equal(fb_tls_write(p.s, "still here", 10), 10);
  assert_int_equal(fb_tls_read(p.s, buf, sizeof(buf)), -EAGAIN);
  pair_close(&p);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* Bytes an established, idle pair holds (both sides), counted through
 * OpenSSL's allocator. */
static size_t idle_pair_bytes(int keep_buffers) {
  struct fb_tls_server_opts so = {.cert = good, .keep_buffers = keep_buffers};
  struct fb_tls_client_opts co = {.cafile = cafile_one,
                                  .keep_buffers = keep_buffers};
  struct fb_tls_ctx *sctx = NULL, *cctx;
  char err[256], buf[64];
  size_t before, after = 0;
  struct pair p;

  assert_int_equal(fb_tls_ctx_server(&sctx, &so, err, sizeof(err)), 0);
  cctx = client_ctx_opts(&co);
  for (int round = 0; round < 2; round++) {
    /* Round 0 warms the contexts and the session cache up. */
    before = fb_tls_mem_in_use();
    pair_open(&p, cctx, sctx, "localhost");
    handshake_ok(&p, 0);
    send_recv(p.c, p.s, "GET / HTTP/1.1\r\n\r\n");
    send_recv(p.s, p.c, "HTTP/1.1 204 No Content\r\n\r\n");
    assert_int_equal(fb_tls_read(p.s, buf, sizeof(buf)), -EAGAIN);
    assert_int_equal(fb_tls_read(p.c, buf, sizeof(buf)), -EAGAIN);
    after = fb_tls_mem_in_use();
    pair_close(&p);
  }
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
  return after - before;
}

/* Idle connections give their record buffers back (two of ~17 KiB a side
 * when kept). */
static void test_idle_memory(void **state) {
  size_t released = idle_pair_bytes(0), kept = idle_pair_bytes(1);

  if (fb_tls_mem_in_use() == 0)
    skip(); /* counting could not start */
  print_message("idle pair: %zu bytes (buffers kept: %zu)\n", released, kept);
  assert_true(released > 4096);
  assert_true(released < 48 * 1024);
  assert_true(kept > released + 4 * 16 * 1024);
}

static void test_ktls_probe(void **state) {
  int k = fb_tls_ktls_available();
  FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
  char line[256] = "";

  if (f == NULL) {
    assert_true(k < 0);
    return;
  }
  if (fgets(line, sizeof(line), f) == NULL)
    line[0] = '\0';
  fclose(f);
  /* The same answer as reading the list by hand, word by word. */
  {
    int found = 0;
    for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n"))
      found |= strcmp(t, "tls") == 0;
    assert_int_equal(k, found);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handshake_13),
      cmocka_unit_test(test_handshake_12),
      cmocka_unit_test(test_resume),
      cmocka_unit_test(test_no_alpn),
      cmocka_unit_test(test_handshake_pieces),
      cmocka_unit_test(test_split_every_offset),
      cmocka_unit_test(test_large_body),
      cmocka_unit_test(test_output_buffers),
      cmocka_unit_test(test_close_notify_and_truncation),
      cmocka_unit_test(test_verify),
      cmocka_unit_test(test_sni),
      cmocka_unit_test(test_pem_roundtrip),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_long_sni),
      cmocka_unit_test(test_renegotiation_refused),
      cmocka_unit_test(test_idle_memory),
      cmocka_unit_test(test_ktls_probe),
  };
  /* Before OpenSSL allocates anything: test_idle_memory counts. */
  if (fb_tls_mem_count_start() != 0)
    fprintf(stderr, "test-tls: OpenSSL's allocations cannot be counted\n");
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
