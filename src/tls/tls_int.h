/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_TLS_INT_H
#define FETCHBENCH_TLS_INT_H

/* What the files of src/tls/ share; nothing outside src/tls/ includes it. */

#include <pthread.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tls/tls.h"

struct fb_tls_cert {
  X509 *x509;
  EVP_PKEY *key;
  STACK_OF(X509) * chain; /* NULL when none */
};

/* One client session cache entry: the latest session for host:port. */
struct fb__tls_session {
  struct fb__tls_session *next;
  SSL_SESSION *session; /* owned reference */
  char key[];           /* "host:port" */
};

struct fb_tls_ctx {
  SSL_CTX *ssl_ctx;
  int server;
  size_t out_max;
  int keep_buffers;
  /* Server: the SNI hook. */
  fb_tls_sni_cb *sni;
  void *sni_arg;
  /* Client: the session cache (NULL list when resumption is off). */
  int resume;
  pthread_mutex_t lock;
  struct fb__tls_session *sessions;
  size_t nsessions;
};

/* A chunk of pending ciphertext; bytes [head, tail) are still to be sent.
 * A chunk never moves or grows once allocated, so the addresses handed out
 * by fb_tls_out_iov stay put until consumed. */
struct fb__tls_chunk {
  struct fb__tls_chunk *next;
  uint32_t head, tail, cap;
  unsigned char data[];
};

enum {
  FB__TLS_HS_DONE = 0x1, /* handshake completed (reported once) */
  FB__TLS_EOF = 0x2,     /* the caller saw the socket's end */
  FB__TLS_SHUT = 0x4,    /* our close_notify queued */
  FB__TLS_CLOSED = 0x8,  /* the peer's close_notify read */
  FB__TLS_HELLO = 0x10,  /* the peer's first flight read */
  FB__TLS_NOMEM = 0x20,  /* an output allocation failed */
  FB__TLS_SERVER = 0x40, /* server side */
};

struct fb_tls {
  SSL *ssl;
  struct fb_tls_ctx *ctx;
  void *data;
  char *key; /* client: "host:port" for the session cache, else NULL */
  /* Ciphertext fed and not yet read by OpenSSL: in[off, len). */
  unsigned char *in;
  size_t in_off, in_len, in_cap;
  /* Ciphertext waiting to be sent. */
  struct fb__tls_chunk *out_head, *out_tail;
  size_t out_pending;
  unsigned long ssl_err; /* first OpenSSL error of the failure, 0 if none */
  int result;            /* the final error once failed, else 0 */
  uint16_t flags;        /* FB__TLS_* */
  uint16_t events;       /* FB_TLS_EV_* not yet read */
};

/* bio.c: the BIO method that connects an SSL to conn's buffers. */
BIO *fb__tls_bio_new(struct fb_tls *conn);
void fb__tls_out_free(struct fb_tls *conn);
void fb__tls_in_release(struct fb_tls *conn);

/* err.c: writes "what: OpenSSL's reason" into err from the error queue
 * (which it empties); returns code. */
int fb__tls_err(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes a message with no OpenSSL reason; returns code. */
int fb__tls_errf(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A file's problem before OpenSSL reads it: -ENOENT, -EACCES, -EISDIR, with
 * a message naming what (e.g. "CA file") and path. 0 when it opens. */
int fb__tls_file_check(const char *what, const char *path, char *err,
                       size_t errlen);

/* session.c: the client session cache of ctx. */
void fb__tls_session_offer(struct fb_tls_ctx *ctx, struct fb_tls *conn);
int fb__tls_session_new_cb(SSL *ssl, SSL_SESSION *session);
void fb__tls_sessions_free(struct fb_tls_ctx *ctx);

/* conn.c: the SSL's app data is its connection. */
static inline struct fb_tls *fb__tls_of(const SSL *ssl) {
  return SSL_get_app_data(ssl);
}

/* Versions of the options to OpenSSL's; -1 when invalid. */
int fb__tls_version(int v, int dflt);

#endif /* FETCHBENCH_TLS_INT_H */
