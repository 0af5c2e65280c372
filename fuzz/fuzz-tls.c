/* SPDX-License-Identifier: MIT */
/* The TLS layer's receiving side: bytes from a hostile peer fed to a fresh
 * server connection (as a client's flights) or a fresh client connection
 * (as a server's flights, after its ClientHello went out).
 *
 * The first input byte holds flags: bit 0 picks the client role, bit 1
 * limits the client to TLS 1.2, bit 2 ends the input with the socket's end
 * (fb_tls_feed_eof), bits 3-7 a piece size (0: all at once; else fed in
 * pieces of that many times 37 bytes, with the layer driven between). The
 * rest is the peer's bytes.
 *
 * Checked besides memory errors and leaks: every call answers -EAGAIN or
 * one of the layer's TLS errors; an error is final and has a message; the
 * pending output's iovecs add up to fb_tls_out_pending. fuzz/tls-seeds
 * writes the seeds (real handshake flights).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/error.h"
#include "fuzz.h"
#include "tls/tls_int.h"

static struct fb_tls_cert *cert, *alt;
static struct fb_tls_ctx *server, *client13, *client12;

static const struct fb_tls_cert *pick(void *arg, struct fb_tls *conn,
                                      const char *name) {
  return name && strncmp(name, "tls-", 4) == 0 ? alt : NULL;
}

static void fuzz_init(void) {
  struct fb_tls_cert_opts alt_opts = {.kind = FB_TLS_CERT_EXPIRED};
  struct fb_tls_server_opts so = {.sni = pick};
  struct fb_tls_client_opts co = {.insecure = 1};
  char err[256];

  if (fb_tls_cert_generate(&cert, NULL, err, sizeof(err)) != 0 ||
      fb_tls_cert_generate(&alt, &alt_opts, err, sizeof(err)) != 0)
    goto fail;
  so.cert = cert;
  if (fb_tls_ctx_server(&server, &so, err, sizeof(err)) != 0 ||
      fb_tls_ctx_client(&client13, &co, err, sizeof(err)) != 0)
    goto fail;
  co.max_version = FB_TLS_1_2;
  if (fb_tls_ctx_client(&client12, &co, err, sizeof(err)) != 0)
    goto fail;
  /* Without the random legacy session ID of middlebox compatibility mode,
   * a recorded ServerHello still matches a new ClientHello, and inputs
   * reach the key exchange and the certificate. */
  SSL_CTX_clear_options(client13->ssl_ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
  SSL_CTX_clear_options(client12->ssl_ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
  return;
fail:
  fprintf(stderr, "fuzz-tls: %s\n", err);
  abort();
}

static void check_out(struct fb_tls *conn) {
  struct iovec iov[16];
  size_t sum = 0, pending = fb_tls_out_pending(conn);
  int n = fb_tls_out_iov(conn, 0, iov, 16);

  for (int i = 0; i < n; i++)
    sum += iov[i].iov_len;
  FZ_CHECK(n == 16 ? sum <= pending : sum == pending);
  fb_tls_out_consume(conn, pending);
  FZ_CHECK(fb_tls_out_pending(conn) == 0);
}

static int drive(struct fb_tls *conn) {
  unsigned char buf[4096];
  int rc = fb_tls_handshake(conn);

  FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == FB_ETLS || rc == FB_ETLSEOF ||
           rc == FB_ETLSVERIFY);
  if (rc == 0) {
    ssize_t r;
    while ((r = fb_tls_read(conn, buf, sizeof(buf))) > 0)
      ;
    rc = (int)r;
    FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == FB_ETLS || rc == FB_ETLSEOF);
  }
  check_out(conn);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  struct fb_tls *conn;
  struct fb_tls_ctx *ctx;
  size_t piece, at = 1;
  char msg[256];
  int rc = -EAGAIN;

  if (!ready) {
    fuzz_init();
    ready = 1;
  }
  if (size < 1)
    return 0;
  ctx = !(data[0] & 1) ? server : (data[0] & 2) ? client12 : client13;
  piece = (size_t)(data[0] >> 3) * 37;
  FZ_CHECK(fb_tls_create(&conn, ctx, ctx == server ? NULL : "localhost", 443,
                         NULL) == 0);
  if (ctx != server) {
    FZ_CHECK(fb_tls_handshake(conn) == -EAGAIN);
    FZ_CHECK(fb_tls_out_pending(conn) > 0); /* the ClientHello */
    check_out(conn);
  }
  while (at < size && (rc == -EAGAIN || rc == 0)) {
    size_t n = piece && size - at > piece ? piece : size - at;
    FZ_CHECK(fb_tls_feed(conn, data + at, n) == 0);
    at += n;
    rc = drive(conn);
  }
  if (data[0] & 4) {
    fb_tls_feed_eof(conn);
    rc = drive(conn);
    FZ_CHECK(rc != -EAGAIN);
  }
  if (rc != 0 && rc != -EAGAIN) {
    FZ_CHECK(fb_tls_error(conn, msg, sizeof(msg))[0] != '\0');
    FZ_CHECK(fb_tls_handshake(conn) == rc);
  }
  fb_tls_destroy(conn);
  return 0;
}
