/* SPDX-License-Identifier: MIT */
/* The origin's request handling, bytes in and response out: one connection
 * of an in-process origin (synthetic corpus) is fed the input through a
 * socketpair, and the event loop is turned by hand. Its timers (delay,
 * pacing, stalls, timeouts) are fast-forwarded, so every input ends in a
 * few loop turns; the connection is then closed and must be gone.
 *
 * The first input byte holds flags: bit 0 half-closes the client after the
 * request bytes, bit 1 splits them into two writes at a point set by the
 * upper bits (parsing across reads). The rest is what the client sends.
 *
 * Checked besides memory errors and leaks: with no fault mode picked, what
 * the origin sends starts with a well-formed status line; the standalone
 * parts agree with themselves: the strict head scanner gives the same
 * verdict whole or split, a normalised path never climbs out of the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fetchbench/clock.h"
#include "fuzz.h"
#include "origin-loop.h"
#include "origin/origin_int.h"

#define OUT_KEEP (64 << 10) /* what is kept of the response for the checks */
#define OUT_MAX (512 << 10) /* read at most; then the client stops reading */
#define MAX_TURNS 64

static struct fb_origin *origin;
static char out[OUT_KEEP];
static size_t out_len, out_total;

static void origin_init(void) {
  struct fb_origin_config cfg;
  char err[256];

  fb_origin_config_init(&cfg);
  cfg.corpus = "synthetic";
  /* Small, so that short inputs reach 414 and 431. */
  cfg.max_header_bytes = 1024;
  if (fb_origin_create(&origin, &cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "fuzz-origin: %s\n", err);
    abort();
  }
}

/* Reads what the origin sent; returns the bytes read. */
static size_t drain(int fd) {
  char buf[16 << 10];
  size_t got = 0;
  ssize_t n;

  while (out_total < OUT_MAX && (n = read(fd, buf, sizeof(buf))) > 0) {
    size_t keep =
        OUT_KEEP - out_len < (size_t)n ? OUT_KEEP - out_len : (size_t)n;
    memcpy(out + out_len, buf, keep);
    out_len += keep;
    out_total += (size_t)n;
    got += (size_t)n;
  }
  return got;
}

static void send_all(int fd, const uint8_t *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);

    if (n < 0 && errno == EAGAIN) {
      uv_run(&origin->loop, UV_RUN_NOWAIT);
      drain(fd);
      if (origin->nconns == 0)
        return; /* closed on us: the rest goes nowhere */
      continue;
    }
    if (n < 0)
      return; /* EPIPE, ECONNRESET: the origin hung up */
    p += n;
    len -= (size_t)n;
  }
}

/* Turns the loop until nothing more happens; with forward, pending timers
 * are made due each time it goes quiet, the request's end included.
 */
static void turn_until_quiet(int fd, int forward) {
  int idle = 0;

  for (int i = 0; i < MAX_TURNS && origin->nconns > 0 && idle < 3; i++) {
    uv_run(&origin->loop, UV_RUN_NOWAIT);
    if (drain(fd) > 0)
      idle = 0;
    else if (!forward || !fz_origin_fast_forward(origin))
      idle++;
  }
}

static int status_line_ok(const char *p, size_t len) {
  return len >= 13 && memcmp(p, "HTTP/1.1 ", 9) == 0 && p[9] >= '1' &&
         p[9] <= '5' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' &&
         p[11] <= '9' && p[12] == ' ';
}

static void fuzz_connection(unsigned flags, const uint8_t *req, size_t len) {
  uint64_t faults = origin->stats.faults;
  size_t split = len * (flags >> 2) / 64;
  int sv[2];

  out_len = out_total = 0;
  FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
  FZ_CHECK(fb__conn_open(origin, sv[0]) == 0);
  if (flags & 2) {
    send_all(sv[1], req, split);
    turn_until_quiet(sv[1], 0);
    send_all(sv[1], req + split, len - split);
  } else {
    send_all(sv[1], req, len);
  }
  if (flags & 1)
    shutdown(sv[1], SHUT_WR);
  turn_until_quiet(sv[1], 1);

  /* Whatever state it is in, a connection closes and is freed. */
  fz_origin_close_all(origin);
  drain(sv[1]);
  close(sv[1]);

  if (getenv("FB_FUZZ_VERBOSE") != NULL) {
    const char *eol = memchr(out, '\r', out_len);
    fprintf(stderr, "%zu bytes out: %.*s\n", out_total,
            (int)(eol != NULL    ? (size_t)(eol - out)
                  : out_len < 60 ? out_len
                                 : 60),
            out);
  }
  if (origin->stats.faults == faults && out_len > 0)
    FZ_CHECK(status_line_ok(out, out_len));
}

/* The head scanner fed whole and in two pieces must agree. */
static void fuzz_scan(const uint8_t *p, size_t len, size_t split) {
  struct fb__headscan whole = {0}, parts = {0};
  size_t used_whole = 0, used1 = 0, used2 = 0, used_parts;
  int st_whole, st_parts;

  st_whole = fb__headscan(&whole, (const char *)p, len, 1024, &used_whole);
  FZ_CHECK(st_whole == 0 || st_whole == 400 || st_whole == 414 ||
           st_whole == 431);
  FZ_CHECK(st_whole != 0 || used_whole <= len);
  st_parts = fb__headscan(&parts, (const char *)p, split, 1024, &used1);
  used_parts = used1;
  if (st_parts == 0 && parts.state != FB__SCAN_DONE) {
    st_parts = fb__headscan(&parts, (const char *)p + split, len - split, 1024,
                            &used2);
    used_parts = split + used2;
  }
  FZ_CHECK(st_parts == st_whole);
  FZ_CHECK(parts.state == whole.state);
  if (st_whole == 0)
    FZ_CHECK(used_parts == used_whole);
}

/* A normalised path stays inside the root. */
static void fuzz_path(const uint8_t *p, size_t len) {
  char *norm = malloc(len + 17);
  int n;

  FZ_CHECK(norm != NULL);
  n = fb__path_normalize((const char *)p, len, norm, len + 17);
  FZ_CHECK(n == -400 || (n >= 0 && (size_t)n <= len + 16));
  if (n >= 0) {
    FZ_CHECK(norm[n] == '\0' && strlen(norm) == (size_t)n);
    FZ_CHECK(n > 0 && norm[0] != '/' && norm[n - 1] != '/');
    FZ_CHECK(strstr(norm, "//") == NULL && strchr(norm, '\\') == NULL);
    for (const char *seg = norm; seg != NULL;) {
      const char *slash = strchr(seg, '/');
      size_t sl = slash != NULL ? (size_t)(slash - seg) : strlen(seg);
      FZ_CHECK(!(sl == 1 && seg[0] == '.'));
      FZ_CHECK(!(sl == 2 && seg[0] == '.' && seg[1] == '.'));
      seg = slash != NULL ? slash + 1 : NULL;
    }
  }
  free(norm);
}

static void fuzz_query(const uint8_t *p, size_t len) {
  struct fb__query q;
  int rc;

  memset(&q, 0xa5, sizeof(q));
  rc = fb__query_parse((const char *)p, len, &q);
  FZ_CHECK(rc == 0 || rc == -400);
  if (rc == 0) {
    FZ_CHECK(q.fault >= -1 && q.fault < FB_FAULT_COUNT);
    FZ_CHECK(!q.has_delay || q.delay_ms <= FB__MAX_DELAY_MS);
    FZ_CHECK(!q.has_jitter || q.jitter_ms <= FB__MAX_DELAY_MS);
    FZ_CHECK(!q.has_status || (q.status >= 200 && q.status <= 599));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned flags;

  if (size < 1)
    return 0;
  if (origin == NULL)
    origin_init();
  flags = data[0];
  data++;
  size--;
  fuzz_scan(data, size, size * (flags >> 2) / 64);
  fuzz_path(data, size);
  fuzz_query(data, size);
  fuzz_connection(flags, data, size);
  return 0;
}
