/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "fetchbench/error.h"
#include "tls/tls.h"

/* https: the TLS layer (src/tls/) between the HTTP side of a connection
 * and its socket. Ciphertext from the engine is fed to the connection's
 * TLS object, the plaintext read out goes to the HTTP parser (in the
 * client's one plaintext buffer, parsed in place); the request is written
 * into TLS in one piece (one record) from the client's scratch buffer, and
 * the ciphertext pending goes out in SENDs of at most four iovecs, one at a
 * time.
 */

#define TLS_PLAIN (16u << 10) /* one record's plaintext */

int fb__wire_ctx(struct fb_client *cl, char *err, size_t errlen) {
  const struct fb_job *job = cl->job;
  struct fb_tls_client_opts o;
  int rc;

  if (cl->tls_ctx != NULL)
    return 0;
  if (cl->tls_plain == NULL) {
    cl->tls_plain = malloc(TLS_PLAIN);
    if (cl->tls_plain == NULL)
      return -ENOMEM;
  }
  if (cl->scratch == NULL) {
    cl->scratch = malloc(TLS_PLAIN);
    if (cl->scratch == NULL)
      return -ENOMEM;
  }
  /* One CA store per process, whatever job->ca_cache says (that option
   * chooses among libcurl's ways); one session cache for the loop.
   */
  memset(&o, 0, sizeof(o));
  o.cafile = job->cacert;
  o.insecure = !job->verify_tls;
  o.no_resume = !job->tls_resume;
  rc = fb_tls_ctx_client(&cl->tls_ctx, &o, err, errlen);
  if (rc != 0)
    cl->tls_ctx = NULL;
  return rc;
}

void fb__wire_ctx_free(struct fb_client *cl) {
  fb_tls_ctx_destroy(cl->tls_ctx);
  cl->tls_ctx = NULL;
  free(cl->tls_plain);
  cl->tls_plain = NULL;
}

void fb__wire_free(struct fb_client_conn *c) {
  fb_tls_destroy(c->tls);
  c->tls = NULL;
  c->tls_dead = 0;
}

/* The verdict for a handshake that failed with rc, in libcurl 7.88's
 * terms: a refused certificate is CURLE_PEER_FAILED_VERIFICATION with its
 * words, anything else CURLE_SSL_CONNECT_ERROR.
 */
static void handshake_failed(struct fb_client_conn *c, int rc) {
  const struct fb__ep *e = &c->cl->eps[c->ep];
  char why[FB_MESSAGE_MAX];

  if (rc == FB_ETLSVERIFY) {
    const char *v = fb_tls_verify_error(c->tls);

    if (v != NULL && strstr(v, "mismatch") != NULL)
      fb__client_fail(c, FB_OUTCOME_TLS, CURLE_PEER_FAILED_VERIFICATION,
                      "SSL: no alternative certificate subject name matches "
                      "target host name '%s' (%s)",
                      e->host, v);
    else
      fb__client_fail(c, FB_OUTCOME_TLS, CURLE_PEER_FAILED_VERIFICATION,
                      "SSL certificate problem: %s",
                      v != NULL ? v : "verification failed");
  } else if (rc == FB_ETLSEOF) {
    fb__client_fail(c, FB_OUTCOME_TLS, CURLE_SSL_CONNECT_ERROR,
                    "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to "
                    "%s:%u (the peer closed the connection)",
                    e->host, e->port);
  } else if (rc == -ENOMEM) {
    fb__client_fail(c, FB_OUTCOME_OTHER, CURLE_OUT_OF_MEMORY,
                    "out of memory in the TLS handshake");
  } else if (rc < 0 && rc > -4096) {
    fb__client_fail(c, FB_OUTCOME_TLS, CURLE_SSL_CONNECT_ERROR,
                    "OpenSSL SSL_connect: %s in connection to %s:%u",
                    strerror(-rc), e->host, e->port);
  } else {
    fb_tls_error(c->tls, why, sizeof(why));
    fb__client_fail(c, FB_OUTCOME_TLS, CURLE_SSL_CONNECT_ERROR,
                    "TLS handshake with %s:%u failed: %s", e->host, e->port,
                    why[0] != '\0' ? why : fb_strerror(rc));
  }
}

/* Writes what is left of the request into TLS, a record at a time. */
static int write_request(struct fb_client_conn *c) {
  char *buf = c->cl->scratch;

  while (c->iovcnt > 0) {
    size_t len = 0;
    ssize_t n;

    for (int i = 0; i < c->iovcnt && len < TLS_PLAIN; i++) {
      size_t take = c->iov[i].iov_len < TLS_PLAIN - len ? c->iov[i].iov_len
                                                        : TLS_PLAIN - len;

      memcpy(buf + len, c->iov[i].iov_base, take);
      len += take;
    }
    n = fb_tls_write(c->tls, buf, len);
    if (n == 0)
      return 0; /* the pending ciphertext is full: after a SEND */
    if (n < 0) {
      char why[FB_MESSAGE_MAX];

      fb_tls_error(c->tls, why, sizeof(why));
      fb__client_fail(c, FB_OUTCOME_SEND, CURLE_SEND_ERROR,
                      "OpenSSL SSL_write: %s",
                      why[0] != '\0' ? why : fb_strerror((int)n));
      return -1;
    }
    fb__client_iov_advance(c, (size_t)n);
  }
  return 0;
}

void fb__wire_flush(struct fb_client_conn *c, int64_t now) {
  if (c->send_busy || c->sock != FB__SOCK_OPEN)
    return;
  if (!c->tls_hs && c->iovcnt > 0 && write_request(c) != 0) {
    fb__client_fail_close(c, now);
    return;
  }
  if (fb_tls_out_pending(c->tls) > 0) {
    c->outcnt = fb_tls_out_iov(c->tls, 0, c->out, 4);
    c->send_busy = 1;
    c->pending |= FB__OP_SEND;
    return;
  }
  if (c->sending && !c->tls_hs && c->iovcnt == 0)
    fb__client_request_sent(c, now);
}

int fb__wire_open(struct fb_client_conn *c) {
  struct fb_client *cl = c->cl;
  const struct fb__ep *e = &cl->eps[c->ep];
  char host[256];
  size_t len = strlen(e->host);
  const char *h = e->host;
  int rc;

  /* An IPv6 literal without its brackets: checked against IP SANs. */
  if (len >= 2 && h[0] == '[') {
    h++;
    len -= 2;
  }
  snprintf(host, sizeof(host), "%.*s", (int)len, h);
  rc = fb_tls_create(&c->tls, cl->tls_ctx, host, e->port, c);
  if (rc != 0) {
    c->tls = NULL;
    fb__client_fail(c, rc == -ENOMEM ? FB_OUTCOME_OTHER : FB_OUTCOME_TLS,
                    rc == -ENOMEM ? CURLE_OUT_OF_MEMORY
                                  : CURLE_SSL_CONNECT_ERROR,
                    "cannot make a TLS connection: %s", fb_strerror(rc));
    return -1;
  }
  c->tls_hs = 1;
  rc = fb_tls_handshake(c->tls);
  if (rc != -EAGAIN && rc != 0) {
    handshake_failed(c, rc);
    return -1;
  }
  return 0;
}

/* Reads the plaintext TLS has into the HTTP parser. */
static void read_plain(struct fb_client_conn *c, int64_t now) {
  char *buf = c->cl->tls_plain;

  while (c->sock == FB__SOCK_OPEN) {
    ssize_t n = fb_tls_read(c->tls, buf, TLS_PLAIN);

    if (n > 0) {
      fb__client_parse(c, buf, (size_t)n, now);
      continue;
    }
    if (n == -EAGAIN)
      return;
    /* The peer's close_notify, or the socket's end without it: libcurl
     * 7.88 tells them apart no more than the plain end of a socket, and
     * lets the HTTP framing decide (tls.h).
     */
    if (n == 0 || n == FB_ETLSEOF) {
      fb__client_http_eof(c, 0, now);
      return;
    }
    if (!c->active) {
      c->cl->k.idle_closes++;
      fb__client_close(c);
      return;
    }
    {
      char why[FB_MESSAGE_MAX];

      fb_tls_error(c->tls, why, sizeof(why));
      fb__client_fail(c, FB_OUTCOME_RECV, CURLE_RECV_ERROR,
                      "OpenSSL SSL_read: %s",
                      why[0] != '\0' ? why : fb_strerror((int)n));
    }
    fb__client_fail_close(c, now);
    return;
  }
}

/* Drives the handshake with what was fed. Returns 1 when it is done. */
static int handshake(struct fb_client_conn *c, int64_t now) {
  int rc = fb_tls_handshake(c->tls);

  if (rc == -EAGAIN)
    return 0;
  if (rc != 0) {
    handshake_failed(c, rc);
    fb__client_fail_close(c, now);
    return 0;
  }
  c->tls_hs = 0;
  c->t_tls = now;
  c->handshake =
      fb_tls_resumed(c->tls) ? FB_HANDSHAKE_RESUMED : FB_HANDSHAKE_FULL;
  c->connect_deadline = INT64_MAX;
  return 1;
}

void fb__wire_received(struct fb_client_conn *c, const char *buf, size_t len,
                       int64_t now) {
  if (fb_tls_feed(c->tls, buf, len) != 0) {
    fb__client_fail(c, FB_OUTCOME_OTHER, CURLE_OUT_OF_MEMORY,
                    "out of memory for TLS input");
    fb__client_fail_close(c, now);
    return;
  }
  if (c->tls_hs && !handshake(c, now)) {
    fb__wire_flush(c, now);
    return;
  }
  read_plain(c, now);
  fb__wire_flush(c, now);
}

void fb__wire_eof(struct fb_client_conn *c, int err, int64_t now) {
  fb_tls_feed_eof(c->tls);
  if (c->tls_hs) {
    /* A handshake cut short is libcurl's CURLE_SSL_CONNECT_ERROR, reset
     * or closed.
     */
    handshake_failed(c, err != 0 ? err : FB_ETLSEOF);
    fb__client_fail_close(c, now);
    return;
  }
  if (err != 0) {
    fb__client_http_eof(c, err, now);
    return;
  }
  read_plain(c, now);
}

void fb__wire_sent(struct fb_client_conn *c, long n, int64_t now) {
  if (!c->send_busy)
    return;
  c->send_busy = 0;
  if (n < 0) {
    fb__client_send_failed(c, n, now);
    return;
  }
  fb_tls_out_consume(c->tls, (size_t)n);
  fb__wire_flush(c, now);
}
