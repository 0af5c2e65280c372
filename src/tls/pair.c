/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "tls/pair.h"

long fb_tls_pair_move(struct fb_tls *from, struct fb_tls *to, size_t piece,
                      unsigned char *log, size_t log_cap, size_t *log_len) {
  size_t moved = 0;
  int turn = 0;
  struct iovec iov;

  while (fb_tls_out_iov(from, 0, &iov, 1) == 1) {
    size_t n = iov.iov_len;
    if (piece > 0 && n > piece)
      n = piece;
    if (log != NULL && *log_len < log_cap) {
      size_t k = log_cap - *log_len < n ? log_cap - *log_len : n;
      memcpy(log + *log_len, iov.iov_base, k);
      *log_len += k;
    }
    /* Both ways in: the zero-copy room and the copying feed. */
    if (turn++ & 1) {
      void *room;
      size_t cap;
      if (fb_tls_in_space(to, n, &room, &cap) != 0 || cap < n)
        return -1;
      memcpy(room, iov.iov_base, n);
      fb_tls_in_commit(to, n);
    } else if (fb_tls_feed(to, iov.iov_base, n) != 0) {
      return -1;
    }
    fb_tls_out_consume(from, n);
    moved += n;
    if (piece > 0)
      return (long)moved; /* one piece per call: the peer reads between */
  }
  return (long)moved;
}

int fb_tls_pair_handshake(struct fb_tls *c, struct fb_tls *s, size_t piece,
                          int *crc, int *src) {
  int rc_c = -EAGAIN, rc_s = -EAGAIN;
  int idle = 0;

  while (idle < 4) {
    long moved = 0, m;
    if (rc_c == -EAGAIN)
      rc_c = fb_tls_handshake(c);
    m = fb_tls_pair_move(c, s, piece, NULL, 0, NULL);
    if (m < 0)
      break;
    moved += m;
    if (rc_s == -EAGAIN)
      rc_s = fb_tls_handshake(s);
    m = fb_tls_pair_move(s, c, piece, NULL, 0, NULL);
    if (m < 0)
      break;
    moved += m;
    if (rc_c == 0 && rc_s == 0)
      break;
    if (rc_c != -EAGAIN && rc_c != 0)
      break;
    if (rc_s != -EAGAIN && rc_s != 0)
      break;
    idle = moved ? 0 : idle + 1;
  }
  if (crc != NULL)
    *crc = rc_c;
  if (src != NULL)
    *src = rc_s;
  if (rc_c != 0)
    return rc_c;
  return rc_s;
}

size_t fb_tls_pair_read(struct fb_tls *from, struct fb_tls *conn, void *buf,
                        size_t len, size_t piece, long *last) {
  unsigned char *p = buf;
  size_t got = 0;
  long r = -EAGAIN;

  while (got < len) {
    r = (long)fb_tls_read(conn, p + got, len - got);
    if (r > 0) {
      got += (size_t)r;
      continue;
    }
    if (r != -EAGAIN)
      break;
    if (fb_tls_pair_move(from, conn, piece, NULL, 0, NULL) <= 0)
      break;
  }
  if (last != NULL)
    *last = r;
  return got;
}
