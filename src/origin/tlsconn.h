/* SPDX-License-Identifier: MIT */
#ifndef FB_ORIGIN_TLSCONN_H
#define FB_ORIGIN_TLSCONN_H

#include <stddef.h>
#include <stdint.h>

#include "fetchbench/origin.h"
#include "origin/tcp.h"

/* The origin's TLS: the server's context and certificates (tlsctx.c), and
 * each connection's TLS layer between the transport and HTTP (tlsconn.c),
 * on the sans-IO layer of src/tls.
 */

struct fb_origin;
struct fb_tls;
struct fb_tls_ctx;
struct fb_tls_cert;

/* The server's part, in struct fb_origin. */
struct fb__tlsserver {
  struct fb_tls_ctx *ctx; /* NULL: plain HTTP */
  struct fb_tls_cert *cert, *expired, *other_name;
  int generated;  /* cert is ours, not --cert's */
  char *cert_out; /* where the PEM went, or NULL */
  char *buf;      /* plaintext read buffer, FB__READ_BUF, for every conn */
  int ktls;       /* fb_tls_ktls_available() at start */
  unsigned handshaking, waiting;
  struct fb__conn *wait_head, *wait_tail; /* waiting for a handshake slot */
  uint64_t handshakes, resumed, failed, timeouts, faults, tls12, tls13;
};

/* Builds the certificates (loaded, or generated with those of the faults),
 * writes cert_out, and the server context. Returns 0 or a negative code with
 * the reason in err, naming the file (certificate file X, key file X).
 */
int fb__tlsctx_init(struct fb_origin *o, const struct fb_origin_config *cfg,
                    char *err, size_t errlen);

/* Frees what fb__tlsctx_init made; every connection must be gone. */
void fb__tlsctx_free(struct fb_origin *o);

/* The certificate a client asking for server name `name` gets, and the
 * handshake fault it asked for: see fb_tls_sni_cb (arg is the origin).
 */
const struct fb_tls_cert *fb__tlsconn_sni(void *arg, struct fb_tls *tls,
                                          const char *name);

/* The TLS layer of c, under up (HTTP): the transport's events go to it,
 * and c->stream becomes fb__tlsconn_stream. Returns 0 or -ENOMEM.
 */
int fb__tlsconn_attach(struct fb__conn *c, const struct fb__up *up);

/* Frees c's TLS layer (c is being freed). */
void fb__tlsconn_free(struct fb__conn *c);

extern const struct fb__stream fb__tlsconn_stream;

#endif /* FB_ORIGIN_TLSCONN_H */
