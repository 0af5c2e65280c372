/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/clock.h"
#include "origin/corpus_int.h"
#include "origin/origin_int.h"

/* Largest /__bytes/N body: 1 TiB is beyond any test and any timeout. */
#define MAX_BYTES_BODY (1ULL << 40)

/* Builds the head of a generated body into hbuf. */
static int generated_head(struct fb__conn *c, struct fb__route *route) {
  route->head =
      fb__writer_printf(c, &route->head_len,
                        "HTTP/1.1 200 OK\r\nServer: fetchbench-origin\r\n"
                        "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n",
                        route->content_type, route->body_len);
  return route->head == NULL ? -ENOMEM : 0;
}

/* A page by path; "dir/" is "dir/index.html" and, Sphinx dirhtml style,
 * "intro/tutorial01/" is also "intro/tutorial01.html"; "intro/tutorial01"
 * without a suffix finds the .html page too.
 */
static const struct fb_page *find_page(struct fb_origin *o, char *path,
                                       size_t len, size_t cap) {
  static const char index[] = "/index.html";
  const struct fb_page *p = fb_corpus_find(o->corpus, path, len);
  size_t il = sizeof(index) - 1;

  if (p != NULL)
    return p;
  if (len > il && strcmp(path + len - il, index) == 0) {
    memcpy(path + len - il, ".html", 6);
    return fb_corpus_find(o->corpus, path, len - il + 5);
  }
  if (len + il < cap &&
      strchr(strrchr(path, '/') ? strrchr(path, '/') : path, '.') == NULL) {
    memcpy(path + len, ".html", 6);
    p = fb_corpus_find(o->corpus, path, len + 5);
    if (p != NULL)
      return p;
    memcpy(path + len, index, il + 1);
    return fb_corpus_find(o->corpus, path, len + il);
  }
  return NULL;
}

/* Fills route for path; returns 0, 404, or -ENOMEM. */
static int route_path(struct fb__conn *c, char *path, size_t len, size_t cap,
                      struct fb__route *route) {
  struct fb_origin *o = c->o;
  const struct fb_page *page;

  if (strcmp(path, "__index") == 0) {
    route->head = o->index_head;
    route->head_len = o->index_head_len;
    route->body = o->index_body;
    route->body_len = o->index_body_len;
    route->content_type = "text/plain; charset=utf-8";
    return 0;
  }
  if (strncmp(path, "__bytes/", 8) == 0) {
    uint64_t n = 0;
    const char *d = path + 8;

    if (*d == '\0' || strlen(d) > 13)
      return 404;
    for (; *d != '\0'; d++) {
      if (*d < '0' || *d > '9')
        return 404;
      n = n * 10 + (uint64_t)(*d - '0');
    }
    if (n > MAX_BYTES_BODY)
      return 404;
    route->body = fb__pattern_text();
    route->body_len = n;
    route->body_period = FB__PATTERN;
    route->content_type = "application/octet-stream";
    return generated_head(c, route);
  }
  page = find_page(o, path, len, cap);
  if (page == NULL)
    return 404;
  {
    size_t i = (size_t)(page - fb_corpus_page(o->corpus, 0));
    route->head = o->heads + o->head_off[i];
    route->head_len = o->head_len[i];
  }
  route->body = (const char *)page->body;
  route->body_len = page->len;
  route->content_type = page->content_type;
  if (fb__corpus_file(o->corpus, page, &route->body_file_off) < 0)
    route->body_file_off = -1;
  return 0;
}

/* The plain answer: head, connection line, body. */
static void normal_response(struct fb__conn *c, const struct fb__route *route) {
  const char *line = fb__heads_end(c);

  fb__writer_add(&c->resp, route->head, route->head_len, 0);
  fb__writer_add(&c->resp, line, strlen(line), 0);
  if (!route->head_only && route->body_file_off >= 0)
    fb__writer_add_file(&c->resp, route->body, route->body_len,
                        route->body_file_off);
  else if (!route->head_only)
    fb__writer_add(&c->resp, route->body, route->body_len, route->body_period);
  c->resp.status = 200;
}

/* Paces the body segment at rate, when the response has one. */
static void pace_body(struct fb__resp *r, const struct fb__route *route,
                      uint64_t rate) {
  uint64_t from = 0;

  if (rate == 0 || route->body == NULL)
    return;
  for (int i = 0; i < r->nsegs; i++) {
    if (r->segs[i].base == route->body) {
      r->rate = rate;
      r->pace_from = from;
      r->pace_to = UINT64_MAX;
      return;
    }
    from += r->segs[i].len;
  }
}

static int close_now(struct fb__conn *c) {
  c->ended = 1;
  c->stream->close(c);
  return -1;
}

int fb__respond(struct fb__conn *c) {
  struct fb_origin *o = c->o;
  const struct fb_origin_config *cfg = &o->cfg;
  struct fb__route route = {.body_file_off = -1};
  struct fb__resp *r = &c->resp;
  const char *target = c->url, *q;
  size_t len = c->url_len, cap = len + 32;
  char small[512], *path = small;
  struct fb__query query;
  unsigned delay, jitter;
  int plen, rc = 0, fault;

  o->stats.requests++;
  fb__writer_clear(c);
  route.head_only = c->method == HTTP_HEAD;
  q = memchr(target, '?', len);
  if (q != NULL &&
      fb__query_parse(q + 1, len - (size_t)(q + 1 - target), &query) < 0)
    return fb__respond_error(c, 400);
  if (q == NULL)
    fb__query_parse("", 0, &query);
  if (c->method != HTTP_GET && c->method != HTTP_HEAD) {
    rc = fb__heads_status(c, 405, 0);
    goto out;
  }
  if (cap > sizeof(small)) {
    path = malloc(cap);
    if (path == NULL) {
      rc = -ENOMEM;
      goto out;
    }
  }
  plen = fb__path_normalize(target, len, path, cap);
  if (plen < 0) {
    rc = fb__heads_status(c, 400, route.head_only);
    goto out;
  }
  if (query.close)
    c->keep_alive = 0;
  if (query.has_rtt)
    fb__tcp_set_rtt(c, (int64_t)query.rtt_ms * FB_NS_PER_MS);
  if (query.has_status) {
    rc = fb__heads_status(c, query.status, route.head_only);
  } else if (strcmp(path, "__stats") == 0) {
    rc = fb__stats_response(c, route.head_only);
  } else {
    rc = route_path(c, path, (size_t)plen, cap, &route);
    if (rc == 404)
      rc = fb__heads_status(c, 404, route.head_only);
    else if (rc == 0) {
      route.rate = query.has_rate ? query.rate : 0;
      route.target = target;
      route.target_len = len;
      fault = query.fault >= 0
                  ? query.fault
                  : (int)fb__faults_pick(&o->faults, cfg->seed, target, len);
      if (fault != FB_FAULT_NONE) {
        o->stats.faults++;
        rc = fb__faultmodes_apply(c, (enum fb_fault)fault, &route);
      } else {
        normal_response(c, &route);
      }
    }
  }
  if (rc < 0)
    goto out;
  if (r->rate == 0)
    pace_body(r, &route, query.has_rate ? query.rate : cfg->rate);
  delay = query.has_delay ? query.delay_ms : cfg->delay_ms;
  jitter = query.has_jitter ? query.jitter_ms : cfg->jitter_ms;
  r->delay_ms = fb__faults_jitter(delay, jitter, cfg->seed, target, len);
out:
  if (path != small)
    free(path);
  if (rc < 0)
    return close_now(c);
  if (r->after == FB__AFTER_KEEP && !c->keep_alive)
    r->after = FB__AFTER_CLOSE;
  return fb__writer_start(c);
}

int fb__respond_error(struct fb__conn *c, int status) {
  c->o->stats.errors++;
  c->keep_alive = 0;
  fb__writer_clear(c);
  if (fb__heads_status(c, status, 0) < 0)
    return close_now(c);
  c->resp.after = FB__AFTER_CLOSE;
  return fb__writer_pump(c);
}
