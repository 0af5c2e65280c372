/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "origin/origin_int.h"

/* A connection's assembly: the transport at the bottom, TLS over it when
 * the origin serves TLS, HTTP on top; and the origin's list of them.
 */

static void release(struct fb__conn *c) {
  struct fb_origin *o = c->o;

  if (c->next != NULL || c->prev != NULL || o->conns == c) {
    if (c->prev != NULL)
      c->prev->next = c->next;
    else
      o->conns = c->next;
    if (c->next != NULL)
      c->next->prev = c->prev;
    o->nconns--;
  }
  fb__tlsconn_free(c);
  fb__http_free(c);
  free(c);
}

static struct fb__conn *conn_new(struct fb_origin *o) {
  struct fb__conn *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return NULL;
  c->o = o;
  c->stream = &fb__tcp_stream;
  fb__tcp_init(c, &fb__http_up, release);
  fb__http_init(c);
  if (o->tls.ctx != NULL && fb__tlsconn_attach(c, &fb__http_up) != 0) {
    fb__tcp_discard(c);
    return NULL;
  }
  return c;
}

/* A new connection, accepted or adopted: listed, then started. */
static void conn_start(struct fb_origin *o, struct fb__conn *c) {
  o->stats.accepted++;
  c->next = o->conns;
  if (o->conns != NULL)
    o->conns->prev = c;
  o->conns = c;
  o->nconns++;
  fb__tcp_start(c);
}

void fb__conn_accept(struct fb_origin *o) {
  struct fb__conn *c = conn_new(o);

  if (c == NULL)
    return;
  if (uv_accept((uv_stream_t *)&o->listener, (uv_stream_t *)&c->t.handle) !=
          0 ||
      o->stopping || o->nconns >= o->cfg.max_connections) {
    o->stats.refused++;
    fb__tcp_discard(c);
    return;
  }
  conn_start(o, c);
}

int fb__conn_open(struct fb_origin *o, uv_os_sock_t fd) {
  struct fb__conn *c = conn_new(o);
  int rc;

  if (c == NULL)
    return -ENOMEM;
  rc = uv_tcp_open(&c->t.handle, fd);
  if (rc != 0) {
    fb__tcp_discard(c);
    return rc;
  }
  conn_start(o, c);
  return 0;
}
