/* SPDX-License-Identifier: MIT */
/* The origin's TLS path end to end: a connection of an in-process TLS
 * origin (synthetic corpus, one handshake slot at a time) on one end of a
 * socketpair, the project's TLS client on the other, and the input as what
 * the client says once the handshake is done. The loop is turned by hand
 * with the timers fast-forwarded, then every connection is closed and must
 * be gone, its handshake slot given back.
 *
 * The first input byte holds flags: bits 0-2 the server name asked for
 * (0: none, an IP address; 1: localhost; 2-6: the hosts of the handshake
 * faults, tls-stall... tls-expired; 7: the name in the first input line),
 * bit 3 limits the client to TLS 1.2, bit 4 sends the rest raw, as if it
 * were the ClientHello (no client TLS), bit 5 ends with the client's
 * close_notify (else a bare EOF), bit 6 has a second connection hold the
 * handshake slot first (the fuzzed one waits until it goes), bit 7 splits
 * the rest into two writes. The rest is the client's plaintext (HTTP).
 *
 * Checked besides memory errors and leaks: with no fault, a client asking
 * for no fault's host completes the handshake, agrees on http/1.1, and what
 * it reads starts with a status line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuzz.h"
#include "origin-loop.h"
#include "origin/origin_int.h"
#include "tls/tls.h"

#define OUT_KEEP 4096
#define MAX_TURNS 96

static struct fb_origin *origin;
static struct fb_tls_ctx *client13, *client12;

static const char *const names[] = {
    NULL,
    "localhost",
    "tls-stall.localhost",
    "tls-garbage.localhost",
    "tls-reset.localhost",
    "tls-wrong-name.localhost",
    "tls-expired.localhost",
};

static void init(void) {
  struct fb_tls_client_opts co = {.insecure = 1};
  struct fb_origin_config cfg;
  char err[512];

  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  cfg.tls = 1;
  cfg.max_handshakes = 1;
  cfg.max_header_bytes = 1024;
  if (fb_origin_create(&origin, &cfg, err, sizeof(err)) != 0 ||
      fb_tls_ctx_client(&client13, &co, err, sizeof(err)) != 0)
    goto fail;
  co.max_version = FB_TLS_1_2;
  if (fb_tls_ctx_client(&client12, &co, err, sizeof(err)) != 0)
    goto fail;
  return;
fail:
  fprintf(stderr, "fuzz-origin-tls: %s\n", err);
  abort();
}

/* One end of a socketpair served by the origin; the other end, returned,
 * is non-blocking.
 */
static int open_conn(void) {
  int sv[2];

  FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
  FZ_CHECK(fb__conn_open(origin, sv[0]) == 0);
  return sv[1];
}

struct client {
  struct fb_tls *tls; /* NULL: raw */
  int fd;
  const uint8_t *req[2]; /* what to write once the handshake is done */
  size_t req_len[2];
  int next, closed, eof;
  char out[OUT_KEEP]; /* what was read (plaintext, or raw) */
  size_t out_len;
};

static int send_raw(struct client *k, const void *p, size_t len) {
  ssize_t n = write(k->fd, p, len);

  return n < 0 ? (errno == EAGAIN ? 0 : -1) : (int)n;
}

/* One turn of the client: reads what came, writes what it may. Returns
 * whether anything moved.
 */
static int client_turn(struct client *k) {
  char buf[16384];
  int moved = 0;
  ssize_t n = -1;

  while (!k->eof && (n = read(k->fd, buf, sizeof(buf))) != 0) {
    if (n < 0) {
      if (errno != EAGAIN)
        k->eof = 1;
      break;
    }
    moved = 1;
    if (k->tls == NULL) {
      size_t keep =
          OUT_KEEP - k->out_len < (size_t)n ? OUT_KEEP - k->out_len : (size_t)n;
      memcpy(k->out + k->out_len, buf, keep);
      k->out_len += keep;
    } else {
      FZ_CHECK(fb_tls_feed(k->tls, buf, (size_t)n) == 0);
    }
  }
  if (n == 0 && !k->eof) {
    k->eof = 1;
    moved = 1;
    if (k->tls != NULL)
      fb_tls_feed_eof(k->tls);
  }
  if (k->tls == NULL) {
    while (k->next < 2 && !k->closed) {
      int w = send_raw(k, k->req[k->next], k->req_len[k->next]);
      if (w < 0)
        k->closed = 1;
      if (w <= 0)
        break;
      k->req[k->next] += w;
      k->req_len[k->next] -= (size_t)w;
      if (k->req_len[k->next] == 0)
        k->next++;
      moved = 1;
    }
    return moved;
  }
  for (;;) {
    n = fb_tls_read(k->tls, buf, sizeof(buf));
    if (n <= 0)
      break;
    moved = 1;
    if (k->out_len < OUT_KEEP) {
      size_t keep =
          OUT_KEEP - k->out_len < (size_t)n ? OUT_KEEP - k->out_len : (size_t)n;
      memcpy(k->out + k->out_len, buf, keep);
      k->out_len += keep;
    }
  }
  while (fb_tls_handshake_done(k->tls) && k->next < 2 &&
         fb_tls_out_pending(k->tls) < (64 << 10)) {
    n = k->req_len[k->next] > 0
            ? fb_tls_write(k->tls, k->req[k->next], k->req_len[k->next])
            : 0;
    if (n < 0)
      break;
    k->req[k->next] += n;
    k->req_len[k->next] -= (size_t)n;
    if (k->req_len[k->next] == 0)
      k->next++;
    moved = 1;
  }
  while (!k->closed && fb_tls_out_pending(k->tls) > 0) {
    struct iovec iov[8];
    int cnt = fb_tls_out_iov(k->tls, 0, iov, 8);
    ssize_t w = writev(k->fd, iov, cnt);

    if (w < 0 && errno != EAGAIN)
      k->closed = 1;
    if (w <= 0)
      break;
    fb_tls_out_consume(k->tls, (size_t)w);
    moved = 1;
  }
  return moved;
}

/* Turns the loop and the client until nothing more happens. A quiet turn
 * comes before timers are made due, so that what is ready (a socket the
 * origin just started reading) runs first.
 */
static void turns(struct client *k, int max) {
  int quiet = 0;

  for (int i = 0; i < max && origin->nconns > 0; i++) {
    uv_run(&origin->loop, UV_RUN_NOWAIT);
    if (client_turn(k)) {
      quiet = 0;
      continue;
    }
    if (++quiet < 2)
      continue;
    if (fz_origin_fast_forward(origin))
      quiet = 0;
    else if (quiet >= 4)
      break;
  }
}

static int status_line_ok(const char *p, size_t len) {
  return len >= 13 && memcmp(p, "HTTP/1.1 ", 9) == 0 && p[9] >= '1' &&
         p[9] <= '5' && p[12] == ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct client k = {0};
  uint64_t faults;
  unsigned flags;
  const char *name;
  char longname[256];
  int holder = -1;
  size_t split;

  if (size < 1)
    return 0;
  if (origin == NULL)
    init();
  flags = data[0];
  data++;
  size--;
  name = (flags & 7) < 7 ? names[flags & 7] : NULL;
  if ((flags & 7) == 7) {
    const uint8_t *eol = memchr(data, '\n', size < 255 ? size : 255);
    size_t n = eol != NULL ? (size_t)(eol - data) : 0;

    memcpy(longname, data, n);
    longname[n] = '\0';
    name = n > 0 && memchr(longname, '\0', n) == NULL ? longname : "x";
    data += eol != NULL ? n + 1 : 0;
    size -= eol != NULL ? n + 1 : 0;
  }
  faults = origin->stats.faults + origin->tls.faults;
  if (flags & 0x40) {
    /* Holds the one handshake slot until it goes, halfway. */
    holder = open_conn();
    uv_run(&origin->loop, UV_RUN_NOWAIT);
  }
  k.fd = open_conn();
  split = (flags & 0x80) ? size / 2 : size;
  k.req[0] = data;
  k.req_len[0] = split;
  k.req[1] = data + split;
  k.req_len[1] = size - split;
  if (!(flags & 0x10)) {
    struct fb_tls_ctx *ctx = (flags & 8) ? client12 : client13;
    /* A name OpenSSL will not send leaves the client raw. */
    if (fb_tls_create(&k.tls, ctx, name != NULL ? name : "127.0.0.1", 443,
                      NULL) == 0)
      FZ_CHECK(fb_tls_handshake(k.tls) == -EAGAIN); /* the ClientHello */
  }
  if (holder >= 0) {
    /* The ClientHello waits, unread, until the holder goes. */
    for (int i = 0; i < 4; i++) {
      uv_run(&origin->loop, UV_RUN_NOWAIT);
      client_turn(&k);
    }
    FZ_CHECK(origin->tls.waiting == 1);
    close(holder);
  }
  turns(&k, MAX_TURNS);
  if (k.tls != NULL && (flags & 0x20) && fb_tls_handshake_done(k.tls)) {
    fb_tls_shutdown(k.tls);
    client_turn(&k);
  }
  shutdown(k.fd, SHUT_WR);
  turns(&k, MAX_TURNS);

  if (getenv("FB_FUZZ_VERBOSE") != NULL) {
    const char *eol = memchr(k.out, '\r', k.out_len);
    fprintf(stderr, "%s %s, %zu bytes in: %.*s\n",
            k.tls == NULL                  ? "raw"
            : fb_tls_handshake_done(k.tls) ? fb_tls_version(k.tls)
                                           : "no handshake",
            name != NULL ? name : "(no name)", k.out_len,
            (int)(eol != NULL ? (size_t)(eol - k.out)
                              : (k.out_len < 40 ? k.out_len : 40)),
            k.out);
  }
  if (k.tls != NULL && (name == NULL || strcmp(name, "localhost") == 0) &&
      origin->tls.faults + origin->stats.faults == faults) {
    FZ_CHECK(fb_tls_handshake_done(k.tls));
    FZ_CHECK(fb_tls_alpn(k.tls) != NULL);
    if (k.out_len > 0)
      FZ_CHECK(status_line_ok(k.out, k.out_len));
  }
  fz_origin_close_all(origin);
  FZ_CHECK(origin->tls.handshaking == 0 && origin->tls.waiting == 0);
  fb_tls_destroy(k.tls);
  close(k.fd);
  return 0;
}
