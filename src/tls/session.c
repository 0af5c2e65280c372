/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <openssl/ssl.h>

#include "tls/tls_int.h"

/* The client session cache: the latest session per host:port, shared by
 * every connection of a context and by the threads that share it (one
 * mutex; a cache holds one entry per origin, so a list is enough). Entries
 * beyond MAX_SESSIONS push out the oldest. */
#define MAX_SESSIONS 256

static struct fb__tls_session **find(struct fb_tls_ctx *ctx, const char *key) {
  struct fb__tls_session **p = &ctx->sessions;

  for (; *p != NULL; p = &(*p)->next)
    if (strcmp((*p)->key, key) == 0)
      return p;
  return NULL;
}

void fb__tls_session_offer(struct fb_tls_ctx *ctx, struct fb_tls *conn) {
  struct fb__tls_session **p;

  pthread_mutex_lock(&ctx->lock);
  p = find(ctx, conn->key);
  /* SSL_set_session takes its own reference; a session that no longer
   * resumes simply costs a full handshake, whose new session replaces it. */
  if (p != NULL && SSL_SESSION_is_resumable((*p)->session))
    SSL_set_session(conn->ssl, (*p)->session);
  pthread_mutex_unlock(&ctx->lock);
}

static void entry_free(struct fb__tls_session *s) {
  SSL_SESSION_free(s->session);
  OPENSSL_free(s);
}

int fb__tls_session_new_cb(SSL *ssl, SSL_SESSION *session) {
  struct fb_tls *conn = fb__tls_of(ssl);
  struct fb_tls_ctx *ctx;
  struct fb__tls_session **p, *s;
  size_t len;

  if (conn == NULL || conn->key == NULL)
    return 0;
  ctx = conn->ctx;
  pthread_mutex_lock(&ctx->lock);
  p = find(ctx, conn->key);
  if (p != NULL) {
    /* The newest replaces the older one: a TLS 1.3 ticket is best used
     * once, and the server issues fresh ones on every connection. */
    SSL_SESSION_free((*p)->session);
    (*p)->session = session;
  } else {
    len = strlen(conn->key);
    s = OPENSSL_malloc(sizeof(*s) + len + 1);
    if (s == NULL) {
      pthread_mutex_unlock(&ctx->lock);
      return 0; /* OpenSSL keeps its reference and frees it */
    }
    memcpy(s->key, conn->key, len + 1);
    s->session = session;
    s->next = ctx->sessions;
    ctx->sessions = s;
    if (++ctx->nsessions > MAX_SESSIONS) {
      struct fb__tls_session **last = &ctx->sessions;
      while ((*last)->next != NULL)
        last = &(*last)->next;
      entry_free(*last);
      *last = NULL;
      ctx->nsessions--;
    }
  }
  pthread_mutex_unlock(&ctx->lock);
  conn->events |= FB_TLS_EV_SESSION;
  return 1; /* the cache keeps OpenSSL's reference */
}

void fb__tls_sessions_free(struct fb_tls_ctx *ctx) {
  struct fb__tls_session *s, *next;

  for (s = ctx->sessions; s != NULL; s = next) {
    next = s->next;
    entry_free(s);
  }
  ctx->sessions = NULL;
  ctx->nsessions = 0;
}
