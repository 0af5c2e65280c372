/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_TLS_PAIR_H
#define FETCHBENCH_TLS_PAIR_H

#include <stddef.h>

#include "tls/tls.h"

/* A client and a server connection of the TLS layer talking in memory, no
 * sockets: for the TLS tests, the TLS bench and the seed corpus of the TLS
 * fuzz targets. Fails nothing by itself (no cmocka here).
 */

/* Moves from's pending ciphertext into to, fed in pieces of at most `piece`
 * bytes (0: all at once) through fb_tls_in_space/fb_tls_in_commit and
 * fb_tls_feed in turn. Returns the bytes moved, or -1 when a feed failed. If
 * log is not NULL, the bytes are appended to it as well (log_cap bytes at
 * most, *log_len updated). */
long fb_tls_pair_move(struct fb_tls *from, struct fb_tls *to, size_t piece,
                      unsigned char *log, size_t log_cap, size_t *log_len);

/* Runs both handshakes until both are done or one fails, moving bytes both
 * ways in pieces of at most `piece` bytes. Returns 0 when both are done,
 * else the client's error if it has one, else the server's; *crc and *src
 * (may be NULL) get each side's last fb_tls_handshake result. */
int fb_tls_pair_handshake(struct fb_tls *c, struct fb_tls *s, size_t piece,
                          int *crc, int *src);

/* Reads from conn into buf until len bytes came, moving from's output into
 * conn first (in pieces of `piece`). Returns the bytes read (< len only at
 * the end of data: close_notify, an error or nothing left to move), and
 * the last fb_tls_read result in *last (may be NULL). */
size_t fb_tls_pair_read(struct fb_tls *from, struct fb_tls *conn, void *buf,
                        size_t len, size_t piece, long *last);

#endif /* FETCHBENCH_TLS_PAIR_H */
