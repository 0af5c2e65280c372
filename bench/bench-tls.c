/* SPDX-License-Identifier: MIT */
/* What the TLS layer costs, client and server in one thread, in memory (no
 * sockets, so no kernel time in the figures):
 *
 * - CPU of one handshake, client and server together: full and resumed,
 *   TLS 1.3 and 1.2 (median of many, thread CPU time);
 * - memory per connection, counted through OpenSSL's allocator hooks
 *   (fb_tls_mem_count_start): a client before its handshake, both sides in
 *   the middle of one, and established and idle, with OpenSSL's record
 *   buffers released while idle (the default) and kept;
 * - the CA store: parsing the system bundle once (what the layer does per
 *   process) against what libcurl 7.88 does per connection (a new store
 *   loaded from the file);
 * - the output path: our chunked BIO (one copy, sent from where it lies)
 *   against two memory BIOs drained with BIO_read (the copy out a caller
 *   would make), 16 KiB records.
 *
 * stdout: one JSON line per figure; stderr: a human table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fetchbench/compare.h"
#include "fetchbench/machine.h"
#include "fetchbench/report.h"
#include "tls/pair.h"
#include "tls/tls_int.h"

#define HANDSHAKES 400
#define CONNS 1000
#define BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static struct fb_tls_cert *cert;
static char cafile[] = "/tmp/fb-bench-tls-XXXXXX";

static double cpu_us(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char machine[256];

/* The core's statistics: one median for every bench. */
static double median(const double *v, size_t n) {
  struct fb_stat st;

  fb_stat_compute(&st, v, n);
  return st.median;
}

static void die(const char *what) {
  fprintf(stderr, "bench-tls: %s\n", what);
  exit(1);
}

static void report(const char *name, double value, const char *unit,
                   const char *note) {
  printf("{\"bench\":\"tls\",\"name\":\"%s\",\"value\":%.1f,\"unit\":\"%s\","
         "\"machine\":",
         name, value, unit);
  fb_json_string(stdout, machine, strlen(machine));
  printf("}\n");
  fprintf(stderr, "  %-34s %12.1f %-6s %s\n", name, value, unit, note);
}

static struct fb_tls_ctx *server_ctx(int keep_buffers) {
  struct fb_tls_server_opts o = {.cert = cert, .keep_buffers = keep_buffers};
  struct fb_tls_ctx *ctx;
  char err[256];

  if (fb_tls_ctx_server(&ctx, &o, err, sizeof(err)) != 0)
    die(err);
  return ctx;
}

static struct fb_tls_ctx *client_ctx(int version, int keep_buffers) {
  struct fb_tls_client_opts o = {
      .cafile = cafile, .max_version = version, .keep_buffers = keep_buffers};
  struct fb_tls_ctx *ctx;
  char err[256];

  if (fb_tls_ctx_client(&ctx, &o, err, sizeof(err)) != 0)
    die(err);
  return ctx;
}

/* A handshake, then a small request and response (which carries the TLS
 * 1.3 tickets), everything drained and each side's last read "want more",
 * as a caller's loop ends: an established, idle pair. */
static void exchange(struct fb_tls *c, struct fb_tls *s) {
  char buf[64];
  long last;

  if (fb_tls_pair_handshake(c, s, 0, NULL, NULL) != 0 ||
      fb_tls_write(c, "GET / HTTP/1.1\r\n\r\n", 18) != 18 ||
      fb_tls_pair_read(c, s, buf, 18, 0, &last) != 18 ||
      fb_tls_read(s, buf, sizeof(buf)) != -EAGAIN ||
      fb_tls_write(s, "HTTP/1.1 204 OK\r\n\r\n", 19) != 19 ||
      fb_tls_pair_read(s, c, buf, 19, 0, &last) != 19 ||
      fb_tls_read(c, buf, sizeof(buf)) != -EAGAIN ||
      fb_tls_out_pending(c) != 0 || fb_tls_out_pending(s) != 0)
    die("exchange failed");
}

static void handshakes(const char *label, int version, int resume) {
  struct fb_tls_ctx *sctx = server_ctx(0), *cctx = client_ctx(version, 0);
  static double us[HANDSHAKES];
  char name[64];
  int resumed = 0;

  for (int i = 0; i < HANDSHAKES; i++) {
    struct fb_tls *c, *s;
    double t0;
    if (!resume)
      fb__tls_sessions_free(cctx); /* no session to offer: a full one */
    t0 = cpu_us();
    if (fb_tls_create(&c, cctx, "localhost", 443, NULL) != 0 ||
        fb_tls_create(&s, sctx, NULL, 0, NULL) != 0)
      die("create failed");
    exchange(c, s);
    resumed += fb_tls_resumed(c);
    fb_tls_destroy(c);
    fb_tls_destroy(s);
    us[i] = cpu_us() - t0;
  }
  if (resume && resumed < HANDSHAKES - 1)
    die("sessions did not resume");
  snprintf(name, sizeof(name), "handshake_%s_us", label);
  report(name, median(us, HANDSHAKES), "us",
         "client+server CPU, with one request/response");
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

/* Bytes per connection in three states, for CONNS pairs at once. */
static void memory(int keep_buffers) {
  struct fb_tls_ctx *sctx = server_ctx(keep_buffers);
  struct fb_tls_ctx *cctx = client_ctx(0, keep_buffers);
  static struct fb_tls *c[CONNS], *s[CONNS];
  const char *tag = keep_buffers ? "kept" : "released";
  size_t base = fb_tls_mem_in_use(), fresh, half, idle, clients;
  char name[64];

  for (int i = 0; i < CONNS; i++)
    if (fb_tls_create(&c[i], cctx, "localhost", 443, NULL) != 0)
      die("create failed");
  fresh = fb_tls_mem_in_use();
  /* Mid-handshake: the client's hello went over, the server answered (its
   * flight still waits in its output) and waits for the client. */
  for (int i = 0; i < CONNS; i++)
    if (fb_tls_create(&s[i], sctx, NULL, 0, NULL) != 0 ||
        fb_tls_handshake(c[i]) != -EAGAIN ||
        fb_tls_pair_move(c[i], s[i], 0, NULL, 0, NULL) <= 0 ||
        fb_tls_handshake(s[i]) != -EAGAIN)
      die("half a handshake failed");
  half = fb_tls_mem_in_use();
  for (int i = 0; i < CONNS; i++)
    exchange(c[i], s[i]);
  idle = fb_tls_mem_in_use();
  for (int i = 0; i < CONNS; i++)
    fb_tls_destroy(s[i]);
  clients = fb_tls_mem_in_use();
  for (int i = 0; i < CONNS; i++)
    fb_tls_destroy(c[i]);

  snprintf(name, sizeof(name), "mem_client_new_%s_bytes", tag);
  report(name, (double)(fresh - base) / CONNS, "B", "client, before handshake");
  snprintf(name, sizeof(name), "mem_pair_handshaking_%s_bytes", tag);
  report(name, (double)(half - base) / CONNS, "B",
         "client + server mid-handshake (server flight pending)");
  snprintf(name, sizeof(name), "mem_server_idle_%s_bytes", tag);
  report(name, (double)(idle - clients) / CONNS, "B",
         "server, established and idle");
  snprintf(name, sizeof(name), "mem_client_idle_%s_bytes", tag);
  report(name, (double)(clients - base) / CONNS, "B",
         "client, established and idle (its session included)");
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

static void ca_store(void) {
  static double us[20];
  X509_STORE *store;
  char err[256];
  double t0 = cpu_us();
  size_t m0 = fb_tls_mem_in_use();

  if (fb_tls_ca_store(NULL, &store, err, sizeof(err)) != 0)
    die(err);
  report("ca_system_once_us", cpu_us() - t0, "us",
         "system store, built once per process");
  report("ca_system_kbytes", (double)(fb_tls_mem_in_use() - m0) / 1024, "KiB",
         "its memory");
  for (int i = 0; i < 20; i++) {
    X509_STORE *fresh = X509_STORE_new();
    t0 = cpu_us();
    if (fresh == NULL || !X509_STORE_load_file(fresh, BUNDLE))
      die("cannot load " BUNDLE);
    us[i] = cpu_us() - t0;
    X509_STORE_free(fresh);
  }
  report("ca_bundle_per_conn_us", median(us, 20), "us",
         "X509_STORE_load_file(bundle): libcurl 7.88, per connection");
}

/* Encrypts `total` bytes in 16 KiB records on an established server
 * connection and hands the ciphertext on; returns MB/s of plaintext. */
static double encrypt_rate(int membio) {
  const size_t total = 256 << 20, rec = 16384;
  struct fb_tls_ctx *sctx = server_ctx(0), *cctx = client_ctx(0, 0);
  static unsigned char plain[16384], sink[65536];
  struct fb_tls *c, *s;
  BIO *rb = NULL, *wb = NULL;
  double t0, us;

  memset(plain, 'x', sizeof(plain));
  if (fb_tls_create(&c, cctx, "localhost", 443, NULL) != 0 ||
      fb_tls_create(&s, sctx, NULL, 0, NULL) != 0)
    die("create failed");
  exchange(c, s);
  if (membio) {
    rb = BIO_new(BIO_s_mem());
    wb = BIO_new(BIO_s_mem());
    if (rb == NULL || wb == NULL)
      die("BIO_new failed");
    SSL_set_bio(s->ssl, rb, wb);
  }
  t0 = cpu_us();
  for (size_t done = 0; done < total; done += rec) {
    if (membio) {
      if (SSL_write(s->ssl, plain, (int)rec) != (int)rec)
        die("SSL_write failed");
      while (BIO_read(wb, sink, sizeof(sink)) > 0)
        ;
    } else {
      struct iovec iov[8];
      if (fb_tls_write(s, plain, rec) != (ssize_t)rec)
        die("fb_tls_write failed");
      /* The caller would writev these; touching them stands for it. */
      for (int i = fb_tls_out_iov(s, 0, iov, 8); i > 0; i--)
        sink[0] ^= ((unsigned char *)iov[i - 1].iov_base)[0];
      fb_tls_out_consume(s, fb_tls_out_pending(s));
    }
  }
  us = cpu_us() - t0;
  fb_tls_destroy(c);
  fb_tls_destroy(s);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
  return (double)total / us;
}

int main(void) {
  const struct fb_tls_cert *one[1];
  char err[256];
  int fd;

  if (fb_tls_mem_count_start() != 0)
    die("OpenSSL allocated before main");
  if (fb_tls_cert_generate(&cert, NULL, err, sizeof(err)) != 0)
    die(err);
  one[0] = cert;
  fd = mkstemp(cafile);
  if (fd < 0 || close(fd) != 0 ||
      fb_tls_cert_write_pem(one, 1, cafile, err, sizeof(err)) != 0)
    die("cannot write the CA file");
  fb_machine_describe(machine, sizeof(machine));
  fprintf(stderr,
          "TLS layer, in memory (P-256, one thread; kTLS offered by "
          "the kernel: %s)\nmachine: %s\n",
          fb_tls_ktls_available() == 1 ? "yes" : "no", machine);
  handshakes("tls13_full", 0, 0);
  handshakes("tls13_resumed", 0, 1);
  handshakes("tls12_full", FB_TLS_1_2, 0);
  handshakes("tls12_resumed", FB_TLS_1_2, 1);
  memory(0);
  memory(1);
  ca_store();
  report("encrypt_own_bio_MBps", encrypt_rate(0), "MB/s",
         "fb_tls_write + iovecs (one copy)");
  report("encrypt_mem_bio_MBps", encrypt_rate(1), "MB/s",
         "SSL_write + BIO_s_mem + BIO_read (two copies)");
  unlink(cafile);
  fb_tls_cert_destroy(cert);
  fb_tls_cleanup();
  return 0;
}
