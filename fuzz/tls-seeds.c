/* SPDX-License-Identifier: MIT */
/* Writes seeds for fuzz-tls into a directory: the real flights of
 * handshakes between the layer's own client and server, in memory, each
 * behind the flag byte fuzz-tls.c reads. Usage: tls-seeds DIR. The flights
 * carry fresh keys each time, so the committed seeds are one such run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tls/pair.h"
#include "tls/tls_int.h"

#define CAP (64 << 10)

static int save(const char *dir, const char *name, unsigned char flags,
                const unsigned char *bytes, size_t len) {
  char path[4096];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(&flags, 1, 1, f) != 1 ||
      fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "tls-seeds: %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* One handshake plus a request and a response; the client's and the
 * server's bytes, each direction in full. */
static int record(const char *dir, const char *tag, struct fb_tls_ctx *cctx,
                  struct fb_tls_ctx *sctx, const char *host,
                  unsigned char client_flags) {
  static unsigned char cbytes[CAP], sbytes[CAP];
  size_t clen = 0, slen = 0;
  struct fb_tls *c, *s;
  char name[128], buf[64];
  int rc_c = -EAGAIN, rc_s = -EAGAIN, rc = -1;
  long last;

  if (fb_tls_create(&c, cctx, host, 443, NULL) != 0 ||
      fb_tls_create(&s, sctx, NULL, 0, NULL) != 0)
    return -1;
  for (int turn = 0; turn < 16 && (rc_c != 0 || rc_s != 0); turn++) {
    if (rc_c == -EAGAIN)
      rc_c = fb_tls_handshake(c);
    fb_tls_pair_move(c, s, 0, cbytes, CAP, &clen);
    if (rc_s == -EAGAIN)
      rc_s = fb_tls_handshake(s);
    fb_tls_pair_move(s, c, 0, sbytes, CAP, &slen);
  }
  if (rc_c == 0 && rc_s == 0 && fb_tls_write(c, "GET / HTTP/1.1\r\n\r\n", 18) &&
      fb_tls_pair_move(c, s, 0, cbytes, CAP, &clen) >= 0 &&
      fb_tls_read(s, buf, sizeof(buf)) > 0 && fb_tls_write(s, "HTTP/1.1", 8) &&
      fb_tls_shutdown(s) == 0 &&
      fb_tls_pair_move(s, c, 0, sbytes, CAP, &slen) >= 0 &&
      fb_tls_pair_read(s, c, buf, sizeof(buf), 0, &last) == 8) {
    snprintf(name, sizeof(name), "%s-from-client", tag);
    rc = save(dir, name, 0x00, cbytes, clen);
    snprintf(name, sizeof(name), "%s-from-server", tag);
    if (rc == 0)
      rc = save(dir, name, client_flags, sbytes, slen);
    snprintf(name, sizeof(name), "%s-from-server-pieces-eof", tag);
    if (rc == 0)
      rc = save(dir, name, client_flags | 4 | (3 << 3), sbytes, slen);
  }
  fb_tls_destroy(c);
  fb_tls_destroy(s);
  return rc;
}

int main(int argc, char **argv) {
  struct fb_tls_cert *cert;
  struct fb_tls_ctx *sctx, *c13, *c12;
  struct fb_tls_server_opts so = {0};
  struct fb_tls_client_opts co = {.insecure = 1};
  char err[256];
  int rc = 0;

  if (argc != 2) {
    fprintf(stderr, "usage: tls-seeds DIR\n");
    return 2;
  }
  if (fb_tls_cert_generate(&cert, NULL, err, sizeof(err)) != 0)
    goto fail;
  so.cert = cert;
  if (fb_tls_ctx_server(&sctx, &so, err, sizeof(err)) != 0 ||
      fb_tls_ctx_client(&c13, &co, err, sizeof(err)) != 0)
    goto fail;
  co.max_version = FB_TLS_1_2;
  if (fb_tls_ctx_client(&c12, &co, err, sizeof(err)) != 0)
    goto fail;
  /* As in fuzz-tls.c, so that the server's flights fit its clients. */
  SSL_CTX_clear_options(c13->ssl_ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
  SSL_CTX_clear_options(c12->ssl_ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
  rc |= record(argv[1], "tls13", c13, sctx, "localhost", 0x01);
  rc |= record(argv[1], "tls12", c12, sctx, "localhost", 0x03);
  rc |= record(argv[1], "tls13-ip", c13, sctx, "127.0.0.1", 0x01);
  rc |= record(argv[1], "tls13-sni-fault", c13, sctx, "tls-expired.localhost",
               0x01);
  fb_tls_ctx_destroy(c13);
  fb_tls_ctx_destroy(c12);
  fb_tls_ctx_destroy(sctx);
  fb_tls_cert_destroy(cert);
  fb_tls_cleanup();
  return rc ? 1 : 0;
fail:
  fprintf(stderr, "tls-seeds: %s\n", err);
  return 1;
}
