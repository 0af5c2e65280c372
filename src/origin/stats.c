/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "origin/origin_int.h"
#include "tls/tls.h"

/* GET /__stats: the server's counters as JSON, never faulted. */

/* The TLS part: handshakes and what became of them, the path bodies take,
 * and the heap OpenSSL holds (when the program counts it: see
 * fb_tls_mem_count_start), for memory per connection.
 */
static int tls_stats(const struct fb_origin *o, char *buf, size_t len) {
  const struct fb__tlsserver *s = &o->tls;

  if (s->ctx == NULL)
    return snprintf(buf, len, "null");
  return snprintf(
      buf, len,
      "{\"handshakes\":%" PRIu64 ",\"resumed\":%" PRIu64 ",\"tls12\":%" PRIu64
      ",\"tls13\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"timeouts\":%" PRIu64
      ",\"faults\":%" PRIu64
      ",\"in_handshake\":%u,\"waiting\":%u,\"heap_bytes\":%zu,"
      "\"body_path\":\"SSL_write\",\"ktls\":%d}",
      s->handshakes, s->resumed, s->tls12, s->tls13, s->failed, s->timeouts,
      s->faults, s->handshaking, s->waiting, fb_tls_mem_in_use(), s->ktls > 0);
}

int fb_origin_count_tls_heap(void) {
  return fb_tls_mem_count_start();
}

int fb__stats_response(struct fb__conn *c, int head_only) {
  struct fb_origin *o = c->o;
  uint64_t queued = 0;
  char body[1024], tls[512];
  const char *text;
  size_t len;
  int blen;

  for (struct fb__conn *k = o->conns; k != NULL; k = k->next)
    queued += fb__tcp_queued(k);
  tls_stats(o, tls, sizeof(tls));
  blen = snprintf(body, sizeof(body),
                  "{\"connections\":%u,\"accepted\":%" PRIu64
                  ",\"refused\":%" PRIu64 ",\"requests\":%" PRIu64
                  ",\"responses\":%" PRIu64 ",\"errors\":%" PRIu64
                  ",\"faults\":%" PRIu64 ",\"queued_bytes\":%" PRIu64
                  ",\"max_write_queue\":%zu,\"body_sendfile\":%" PRIu64
                  ",\"body_ssl_write\":%" PRIu64 ",\"tls\":%s}\n",
                  o->nconns, o->stats.accepted, o->stats.refused,
                  o->stats.requests, o->stats.responses, o->stats.errors,
                  o->stats.faults, queued, o->cfg.max_write_queue,
                  o->stats.body_sendfile, o->stats.body_ssl_write, tls);
  text = fb__writer_printf(c, &len,
                           "HTTP/1.1 200 OK\r\nServer: fetchbench-origin\r\n"
                           "Content-Type: application/json\r\n"
                           "Content-Length: %d\r\n%s%s",
                           blen, fb__heads_end(c), head_only ? "" : body);
  if (text == NULL)
    return -ENOMEM;
  fb__writer_add(&c->resp, text, len, 0);
  c->resp.status = 200;
  return 0;
}
