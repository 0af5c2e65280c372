/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fetchbench/error.h"
#include "tls/tls_int.h"

#define OUT_MAX_DEFAULT (64 * 1024)
#define SERVER_CACHE_SIZE 1024

static const unsigned char alpn_http11[] = "\x08http/1.1";

int fb__tls_version(int v, int dflt) {
  switch (v ? v : dflt) {
  case FB_TLS_1_2:
    return TLS1_2_VERSION;
  case FB_TLS_1_3:
    return TLS1_3_VERSION;
  default:
    return -1;
  }
}

/* Accepts a client without ALPN; one that offers ALPN without http/1.1 gets
 * the no_application_protocol alert, as RFC 7301 asks. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  unsigned char *sel = NULL;
  unsigned char sellen = 0;

  if (SSL_select_next_proto(&sel, &sellen, alpn_http11, sizeof(alpn_http11) - 1,
                            in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = sel;
  *outlen = sellen;
  return SSL_TLSEXT_ERR_OK;
}

/* OpenSSL calls it with or without an SNI extension. */
static int servername(SSL *ssl, int *alert, void *arg) {
  struct fb_tls_ctx *ctx = arg;
  struct fb_tls *conn = fb__tls_of(ssl);
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const struct fb_tls_cert *cert;

  if (ctx->sni == NULL || conn == NULL)
    return SSL_TLSEXT_ERR_OK;
  cert = ctx->sni(ctx->sni_arg, conn, name);
  if (cert == NULL)
    return SSL_TLSEXT_ERR_OK;
  if (SSL_use_cert_and_key(ssl, cert->x509, cert->key, cert->chain, 1) != 1) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

/* The peer's first flight: OpenSSL moves to the state after reading it. */
static void info(const SSL *ssl, int where, int ret) {
  struct fb_tls *conn = fb__tls_of(ssl);
  OSSL_HANDSHAKE_STATE st;

  if (conn == NULL || (conn->flags & FB__TLS_HELLO) ||
      !(where & (SSL_CB_ACCEPT_LOOP | SSL_CB_CONNECT_LOOP)))
    return;
  st = SSL_get_state(ssl);
  if (st == TLS_ST_SR_CLNT_HELLO || st == TLS_ST_CR_SRVR_HELLO) {
    conn->flags |= FB__TLS_HELLO;
    conn->events |= FB_TLS_EV_HELLO;
  }
}

static struct fb_tls_ctx *ctx_new(const SSL_METHOD *method, int server,
                                  size_t out_max, int keep_buffers,
                                  int min_version, int max_version, char *err,
                                  size_t errlen, int *rc) {
  struct fb_tls_ctx *ctx;
  int lo = fb__tls_version(min_version, FB_TLS_1_2);
  int hi = fb__tls_version(max_version, FB_TLS_1_3);
  long mode = 0;

  if (lo < 0 || hi < 0 || lo > hi) {
    *rc = fb__tls_errf(FB_EUSAGE, err, errlen,
                       "TLS versions: %d..%d is not a range of 12 and 13",
                       min_version, max_version);
    return NULL;
  }
  ctx = OPENSSL_zalloc(sizeof(*ctx));
  if (ctx == NULL) {
    *rc = fb__tls_errf(-ENOMEM, err, errlen, "TLS context: out of memory");
    return NULL;
  }
  if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
    OPENSSL_free(ctx);
    *rc = fb__tls_errf(-ENOMEM, err, errlen, "TLS context: no mutex");
    return NULL;
  }
  ctx->server = server;
  ctx->out_max = out_max ? out_max : OUT_MAX_DEFAULT;
  ctx->keep_buffers = keep_buffers;
  ERR_clear_error();
  ctx->ssl_ctx = SSL_CTX_new(method);
  if (ctx->ssl_ctx == NULL ||
      !SSL_CTX_set_min_proto_version(ctx->ssl_ctx, lo) ||
      !SSL_CTX_set_max_proto_version(ctx->ssl_ctx, hi)) {
    *rc = fb__tls_err(FB_ETLS, err, errlen, "TLS context");
    fb_tls_ctx_destroy(ctx);
    return NULL;
  }
  if (!keep_buffers)
    mode |= SSL_MODE_RELEASE_BUFFERS;
  SSL_CTX_set_mode(ctx->ssl_ctx, mode);
  /* Renegotiation has no use here and is an attack surface: refused. */
  SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_info_callback(ctx->ssl_ctx, info);
  *rc = 0;
  return ctx;
}

int fb_tls_ctx_server(struct fb_tls_ctx **out,
                      const struct fb_tls_server_opts *o, char *err,
                      size_t errlen) {
  static const unsigned char sid_ctx[] = "fetchbench";
  struct fb_tls_ctx *ctx;
  int rc;

  *out = NULL;
  if (o == NULL || o->cert == NULL)
    return fb__tls_errf(FB_EUSAGE, err, errlen,
                        "TLS server: no certificate given");
  ctx = ctx_new(TLS_server_method(), 1, o->out_max, o->keep_buffers,
                o->min_version, o->max_version, err, errlen, &rc);
  if (ctx == NULL)
    return rc;
  ctx->sni = o->sni;
  ctx->sni_arg = o->sni_arg;
  if (SSL_CTX_use_cert_and_key(ctx->ssl_ctx, o->cert->x509, o->cert->key,
                               o->cert->chain, 1) != 1) {
    rc = fb__tls_err(FB_ETLS, err, errlen, "TLS server certificate");
    goto fail;
  }
  SSL_CTX_set_alpn_select_cb(ctx->ssl_ctx, alpn_select, NULL);
  SSL_CTX_set_tlsext_servername_callback(ctx->ssl_ctx, servername);
  SSL_CTX_set_tlsext_servername_arg(ctx->ssl_ctx, ctx);
  if (o->no_resume) {
    SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
    if (!SSL_CTX_set_num_tickets(ctx->ssl_ctx, 0)) {
      rc = fb__tls_err(FB_ETLS, err, errlen, "TLS server tickets");
      goto fail;
    }
  } else {
    /* Tickets (OpenSSL's default of two per TLS 1.3 handshake, as nginx
     * sends) plus a bounded cache for TLS 1.2 session IDs. */
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx->ssl_ctx, SERVER_CACHE_SIZE);
    if (!SSL_CTX_set_session_id_context(ctx->ssl_ctx, sid_ctx,
                                        sizeof(sid_ctx) - 1)) {
      rc = fb__tls_err(FB_ETLS, err, errlen, "TLS server session cache");
      goto fail;
    }
  }
  *out = ctx;
  return 0;
fail:
  fb_tls_ctx_destroy(ctx);
  return rc;
}

int fb_tls_ctx_client(struct fb_tls_ctx **out,
                      const struct fb_tls_client_opts *o, char *err,
                      size_t errlen) {
  static const struct fb_tls_client_opts defaults;
  struct fb_tls_ctx *ctx;
  X509_STORE *store;
  int rc;

  *out = NULL;
  if (o == NULL)
    o = &defaults;
  ctx = ctx_new(TLS_client_method(), 0, o->out_max, o->keep_buffers,
                o->min_version, o->max_version, err, errlen, &rc);
  if (ctx == NULL)
    return rc;
  rc = fb_tls_ca_store(o->cafile, &store, err, errlen);
  if (rc != 0)
    goto fail;
  SSL_CTX_set1_cert_store(ctx->ssl_ctx, store);
  SSL_CTX_set_verify(ctx->ssl_ctx,
                     o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
  if (!o->no_alpn && SSL_CTX_set_alpn_protos(ctx->ssl_ctx, alpn_http11,
                                             sizeof(alpn_http11) - 1) != 0) {
    rc = fb__tls_err(FB_ETLS, err, errlen, "TLS client ALPN");
    goto fail;
  }
  ctx->resume = !o->no_resume;
  if (ctx->resume) {
    /* Sessions go to our cache only (keyed by host:port, which OpenSSL's
     * internal client cache does not know). */
    SSL_CTX_set_session_cache_mode(
        ctx->ssl_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, fb__tls_session_new_cb);
  } else {
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_TICKET);
  }
  *out = ctx;
  return 0;
fail:
  fb_tls_ctx_destroy(ctx);
  return rc;
}

void fb_tls_ctx_destroy(struct fb_tls_ctx *ctx) {
  if (ctx == NULL)
    return;
  fb__tls_sessions_free(ctx);
  SSL_CTX_free(ctx->ssl_ctx);
  pthread_mutex_destroy(&ctx->lock);
  OPENSSL_free(ctx);
}

size_t fb_tls_ctx_sessions(struct fb_tls_ctx *ctx) {
  size_t n;

  pthread_mutex_lock(&ctx->lock);
  n = ctx->nsessions;
  pthread_mutex_unlock(&ctx->lock);
  return n;
}
