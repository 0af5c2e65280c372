/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fetchbench/error.h"
#include "tls/tls_int.h"

/* Plaintext per SSL_write: one full record, so that a write never stops in
 * the middle of one and the caller may pass other memory next time. */
#define RECORD_PLAIN 16384

/* Strips the brackets of "[::1]"; 1 when host is an IP literal (into ip). */
static int ip_literal(const char *host, char *ip, size_t iplen) {
  unsigned char bin[16];
  size_t n = strlen(host);

  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
    host++;
    n -= 2;
  }
  if (n >= iplen)
    return 0;
  memcpy(ip, host, n);
  ip[n] = '\0';
  return inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1;
}

static int client_setup(struct fb_tls *conn, const char *host, unsigned port) {
  char ip[INET6_ADDRSTRLEN + 1];
  size_t keylen = strlen(host) + 8;

  SSL_set_connect_state(conn->ssl);
  if (ip_literal(host, ip, sizeof(ip))) {
    /* No SNI for an address (RFC 6066); the IP SANs are checked. */
    if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), ip))
      return FB_ETLS;
  } else if (!SSL_set_tlsext_host_name(conn->ssl, host) ||
             !SSL_set1_host(conn->ssl, host)) {
    return FB_ETLS;
  }
  conn->key = OPENSSL_malloc(keylen);
  if (conn->key == NULL)
    return -ENOMEM;
  snprintf(conn->key, keylen, "%s:%u", host, port & 0xffff);
  if (conn->ctx->resume)
    fb__tls_session_offer(conn->ctx, conn);
  return 0;
}

int fb_tls_create(struct fb_tls **out, struct fb_tls_ctx *ctx, const char *host,
                  unsigned port, void *data) {
  struct fb_tls *conn;
  BIO *bio;
  int rc = 0;

  *out = NULL;
  if ((host == NULL) != (ctx->server != 0))
    return FB_EUSAGE;
  conn = OPENSSL_zalloc(sizeof(*conn));
  if (conn == NULL)
    return -ENOMEM;
  conn->ctx = ctx;
  conn->data = data;
  ERR_clear_error();
  conn->ssl = SSL_new(ctx->ssl_ctx);
  bio = conn->ssl ? fb__tls_bio_new(conn) : NULL;
  if (bio == NULL) {
    rc = ERR_peek_error() ? FB_ETLS : -ENOMEM;
    goto out;
  }
  /* One BIO both ways: SSL_set_bio takes the one reference. */
  SSL_set_bio(conn->ssl, bio, bio);
  SSL_set_app_data(conn->ssl, conn);
  if (ctx->server) {
    conn->flags |= FB__TLS_SERVER;
    SSL_set_accept_state(conn->ssl);
  } else {
    rc = client_setup(conn, host, port);
  }
out:
  ERR_clear_error();
  if (rc != 0) {
    fb_tls_destroy(conn);
    return rc;
  }
  *out = conn;
  return 0;
}

void fb_tls_destroy(struct fb_tls *conn) {
  if (conn == NULL)
    return;
  /* OpenSSL marks the session of a connection freed without shutdown as
   * not resumable, even the copy in our cache. An HTTP connection closed
   * after a clean exchange is no reason for that; one that failed is (and
   * OpenSSL already dropped the session at its fatal alert). */
  if (conn->ssl != NULL && conn->result == 0 && (conn->flags & FB__TLS_HS_DONE))
    SSL_set_shutdown(conn->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(conn->ssl);
  fb__tls_out_free(conn);
  OPENSSL_free(conn->in);
  OPENSSL_free(conn->key);
  OPENSSL_free(conn);
}

void *fb_tls_data(const struct fb_tls *conn) {
  return conn->data;
}

/* Waiting for input: what can be freed is. SSL_MODE_RELEASE_BUFFERS frees
 * OpenSSL's read buffer when an application record is used up, but not
 * after post-handshake messages (TLS 1.3 tickets) nor while SSL_read waits;
 * SSL_free_buffers frees it whenever it holds no partial record. */
static void idle(struct fb_tls *conn) {
  fb__tls_in_release(conn);
  if (!conn->ctx->keep_buffers && (conn->flags & FB__TLS_HS_DONE) &&
      conn->in_off == conn->in_len)
    SSL_free_buffers(conn->ssl);
}

static void progress(struct fb_tls *conn) {
  if (!(conn->flags & FB__TLS_HS_DONE) && SSL_is_init_finished(conn->ssl)) {
    conn->flags |= FB__TLS_HS_DONE;
    conn->events |= FB_TLS_EV_DONE;
  }
}

/* Turns an SSL call's failure into our code. "Want more input" is not
 * final; anything else is, and keeps OpenSSL's first error for
 * fb_tls_error(). The error queue is left empty: it is per thread, and the
 * next connection's call must not find this one's errors. */
static int outcome(struct fb_tls *conn, int ret) {
  int e = SSL_get_error(conn->ssl, ret);
  unsigned long code = ERR_peek_error();
  int reason = ERR_GET_REASON(code);
  int rc;

  ERR_clear_error();
  progress(conn);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    idle(conn);
    return -EAGAIN;
  }
  if (e == SSL_ERROR_ZERO_RETURN) {
    conn->flags |= FB__TLS_CLOSED;
    conn->events |= FB_TLS_EV_CLOSED;
    return 0;
  }
  if (conn->flags & FB__TLS_NOMEM)
    rc = -ENOMEM;
  else if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
           reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
    rc = FB_ETLSEOF;
  else if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
           reason == SSL_R_CERTIFICATE_VERIFY_FAILED)
    rc = FB_ETLSVERIFY;
  else if (code == 0 && (conn->flags & FB__TLS_EOF))
    rc = FB_ETLSEOF;
  else
    rc = FB_ETLS;
  conn->ssl_err = code;
  conn->result = rc;
  return rc;
}

int fb_tls_handshake(struct fb_tls *conn) {
  int ret;

  if (conn->result != 0)
    return conn->result;
  if (conn->flags & FB__TLS_HS_DONE)
    return 0;
  ERR_clear_error();
  ret = SSL_do_handshake(conn->ssl);
  if (ret == 1) {
    progress(conn);
    return 0;
  }
  ret = outcome(conn, ret);
  /* A close_notify in the middle of a handshake is no clean end. */
  if (ret == 0) {
    conn->result = FB_ETLSEOF;
    return FB_ETLSEOF;
  }
  return ret;
}

ssize_t fb_tls_read(struct fb_tls *conn, void *buf, size_t len) {
  int ret;

  if (conn->result != 0)
    return conn->result;
  if (conn->flags & FB__TLS_CLOSED)
    return 0;
  if (len == 0)
    return -EINVAL;
  /* Nothing fed and nothing buffered: asking OpenSSL would only make it
   * allocate its 17 KiB read buffer to wait in (SSL_MODE_RELEASE_BUFFERS
   * frees it when a record is used up, not while waiting). */
  if ((conn->flags & FB__TLS_HS_DONE) && conn->in_off == conn->in_len &&
      !(conn->flags & FB__TLS_EOF) && !SSL_has_pending(conn->ssl)) {
    idle(conn);
    return -EAGAIN;
  }
  ERR_clear_error();
  ret = SSL_read(conn->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
  if (ret > 0) {
    progress(conn);
    return ret;
  }
  return outcome(conn, ret);
}

ssize_t fb_tls_write(struct fb_tls *conn, const void *buf, size_t len) {
  const unsigned char *p = buf;
  size_t done = 0;

  if (conn->result != 0)
    return conn->result;
  if (conn->flags & FB__TLS_SHUT)
    return -EPIPE;
  if (!(conn->flags & FB__TLS_HS_DONE))
    return -EAGAIN;
  while (done < len && conn->out_pending < conn->ctx->out_max) {
    size_t n = len - done < RECORD_PLAIN ? len - done : RECORD_PLAIN;
    int ret;
    ERR_clear_error();
    ret = SSL_write(conn->ssl, p + done, (int)n);
    if (ret <= 0) {
      ret = outcome(conn, ret);
      /* What was encrypted before the failure is reported first; the
       * failure is kept for the next call. */
      return done > 0 ? (ssize_t)done : ret;
    }
    done += (size_t)ret;
  }
  return (ssize_t)done;
}

int fb_tls_shutdown(struct fb_tls *conn) {
  int ret;

  if (conn->flags & FB__TLS_SHUT)
    return 0;
  if (conn->result != 0)
    return conn->result;
  if (!(conn->flags & FB__TLS_HS_DONE))
    return -ENOTCONN;
  ERR_clear_error();
  ret = SSL_shutdown(conn->ssl);
  if (ret < 0) {
    ret = outcome(conn, ret);
    if (ret != -EAGAIN)
      return ret;
  }
  ERR_clear_error();
  conn->flags |= FB__TLS_SHUT;
  return 0;
}

unsigned fb_tls_events(struct fb_tls *conn) {
  unsigned ev = conn->events;

  conn->events = 0;
  return ev;
}

int fb_tls_handshake_done(const struct fb_tls *conn) {
  return (conn->flags & FB__TLS_HS_DONE) != 0;
}

int fb_tls_resumed(const struct fb_tls *conn) {
  return (conn->flags & FB__TLS_HS_DONE) && SSL_session_reused(conn->ssl);
}

const char *fb_tls_version(const struct fb_tls *conn) {
  if (!(conn->flags & FB__TLS_HS_DONE))
    return NULL;
  return SSL_get_version(conn->ssl);
}

const char *fb_tls_alpn(const struct fb_tls *conn) {
  const unsigned char *p = NULL;
  unsigned int n = 0;

  SSL_get0_alpn_selected(conn->ssl, &p, &n);
  if (n == 8 && memcmp(p, "http/1.1", 8) == 0)
    return "http/1.1";
  return NULL;
}

const char *fb_tls_server_name(const struct fb_tls *conn) {
  if (!(conn->flags & FB__TLS_SERVER))
    return NULL;
  return SSL_get_servername(conn->ssl, TLSEXT_NAMETYPE_host_name);
}

const char *fb_tls_verify_error(const struct fb_tls *conn) {
  long v;

  if (conn->flags & FB__TLS_SERVER)
    return NULL;
  v = SSL_get_verify_result(conn->ssl);
  if (v == X509_V_OK)
    return NULL;
  return X509_verify_cert_error_string(v);
}

char *fb_tls_error(const struct fb_tls *conn, char *buf, size_t len) {
  const char *verify;
  size_t used;

  if (len == 0)
    return buf;
  buf[0] = '\0';
  if (conn->result == 0)
    return buf;
  if (conn->ssl_err != 0)
    ERR_error_string_n(conn->ssl_err, buf, len);
  else if (conn->result == FB_ETLSEOF)
    snprintf(buf, len, "end of input without close_notify");
  else if (conn->result == -ENOMEM)
    snprintf(buf, len, "out of memory");
  else
    snprintf(buf, len, "TLS failure without a reason from OpenSSL");
  verify = conn->result == FB_ETLSVERIFY ? fb_tls_verify_error(conn) : NULL;
  used = strlen(buf);
  if (verify != NULL && used + 2 < len)
    snprintf(buf + used, len - used, ": %s", verify);
  return buf;
}
