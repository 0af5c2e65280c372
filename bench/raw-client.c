/* SPDX-License-Identifier: MIT */
/* The floor for the latency-bound benchmark: the least work a client can do
 * for the same job. Plain non-blocking sockets on epoll, one keep-alive
 * connection per slot, requests prebuilt, responses framed by Content-Length
 * and their bodies read and dropped: no HTTP library, no result records, no
 * checksums. What it cannot reach, no engine can on this machine and origin;
 * the async-latency suite reports the async engine's efficiency beside its own.
 *
 *   raw-client URLFILE CONNECTIONS
 *
 * Every URL must be http:// on the same IP literal and port. Prints
 * "ok N n N run_s S" (run_s: from building the requests to the last
 * response, the sockets of the last round closed as they finish, as the
 * async engine's wall time runs from its set-up to its teardown).
 * Exits 0 when every response was a 2xx, 1 when one was not or a connection
 * failed, 2 on a usage or input error.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetchbench/fetchbench.h"

#define HEAD_MAX 8192
/* Connections opened per poll, as the async engine starts its transfers:
 * all at once, every connection would be opened before the first request
 * left, and the answers would come back in one burst (measured: 1.068 s ->
 * 1.050 s for 10,000 small pages at 100 ms over 1,000 connections).
 */
#define CONNECT_BURST 64

struct conn {
  int fd;
  uint32_t events;     /* what epoll watches for it */
  size_t req;          /* URL index of the request in flight */
  size_t sent;         /* its bytes sent */
  size_t head_len;     /* header bytes in head */
  long long body_left; /* -1 until the head is complete */
  char head[HEAD_MAX];
};

struct raw {
  char **reqs; /* prebuilt requests, one per URL */
  size_t *req_len;
  size_t n, next, done, ok;
  int ep;
  struct sockaddr_storage addr;
  socklen_t addr_len;
};

static int fail(const char *what, const char *why) {
  fprintf(stderr, "raw-client: %s: %s\n", what, why);
  return -1;
}

/* A bad URL: which one (its place in the list) and why. */
static int fail_url(size_t i, const char *url, const char *why) {
  fprintf(stderr, "raw-client: URL %zu (%s): %s\n", i + 1, url, why);
  return -1;
}

/* Builds the request for url; the first URL fixes the address. */
static int build(struct raw *r, size_t i, const char *url, char *origin,
                 size_t origin_len) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *path = NULL, *scheme = NULL, here[300];
  int rc = -1;

  if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
    fail_url(i, url, "not a URL this client can fetch");
    goto out;
  }
  snprintf(here, sizeof(here), "%s:%s", host, port);
  if (strcmp(scheme, "http") != 0) {
    fail_url(i, url, "http only");
    goto out;
  }
  if (i == 0) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&r->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&r->addr;
    size_t hl = strlen(host);
    char bare[64];

    /* [::1] comes back with its brackets. */
    snprintf(bare, sizeof(bare), "%.*s", (int)(hl > 1 ? hl - 2 : 0), host + 1);
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons((uint16_t)atoi(port));
      r->addr_len = sizeof(*v4);
    } else if (host[0] == '[' &&
               inet_pton(AF_INET6, bare, &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons((uint16_t)atoi(port));
      r->addr_len = sizeof(*v6);
    } else {
      fail_url(i, url, "the host must be an IP literal");
      goto out;
    }
    snprintf(origin, origin_len, "%s", here);
  } else if (strcmp(origin, here) != 0) {
    fail_url(i, url, "every URL must have the first URL's host and port");
    goto out;
  }
  {
    char *q = NULL;
    int len;

    curl_url_get(u, CURLUPART_QUERY, &q, 0);
    len = asprintf(&r->reqs[i],
                   "GET %s%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
                   "fetchbench-raw\r\nAccept: */*\r\n\r\n",
                   path, q ? "?" : "", q ? q : "", here);
    curl_free(q);
    if (len < 0) {
      r->reqs[i] = NULL;
      fail_url(i, url, "out of memory");
      goto out;
    }
    r->req_len[i] = (size_t)len;
  }
  rc = 0;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_url_cleanup(u);
  return rc;
}

/* One epoll_ctl, and only when what the connection waits for changes. */
static int want(struct raw *r, struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  int op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

  if (c->events == events)
    return 0;
  c->events = events;
  return epoll_ctl(r->ep, op, c->fd, &ev);
}

static void start(struct raw *r, struct conn *c) {
  c->req = r->next++;
  c->sent = 0;
  c->head_len = 0;
  c->body_left = -1;
}

/* Sends what is left of the request, then waits for the response. */
/* Opens up to CONNECT_BURST more of the n connections, *opened so far. */
static int open_some(struct raw *r, struct conn *conns, unsigned n,
                     unsigned *opened) {
  for (unsigned b = 0; b < CONNECT_BURST && *opened < n; b++) {
    struct conn *c = &conns[(*opened)++];
    int one = 1;

    c->fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0 ||
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        (connect(c->fd, (struct sockaddr *)&r->addr, r->addr_len) != 0 &&
         errno != EINPROGRESS) ||
        want(r, c, EPOLLOUT) != 0)
      return fail("connect", strerror(errno));
    start(r, c);
  }
  return 0;
}

static int send_request(struct raw *r, struct conn *c) {
  while (c->sent < r->req_len[c->req]) {
    ssize_t n = send(c->fd, r->reqs[c->req] + c->sent,
                     r->req_len[c->req] - c->sent, MSG_NOSIGNAL);

    if (n < 0 && errno == EAGAIN)
      return want(r, c, EPOLLOUT);
    if (n < 0)
      return fail("send", strerror(errno));
    c->sent += (size_t)n;
  }
  return want(r, c, EPOLLIN);
}

/* Reads the head, then drops Content-Length bytes of body. Returns 1 when
 * the response is complete, 0 for more, -1 on a failure.
 */
static int on_readable(struct raw *r, struct conn *c) {
  char buf[65536];

  for (;;) {
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    size_t used = 0;

    if (n == 0)
      return fail("connection", "closed by the server");
    if (n < 0)
      return errno == EAGAIN ? 0 : fail("recv", strerror(errno));
    if (c->body_left < 0) {
      size_t take = (size_t)n;
      char *end, *cl;

      if (take > HEAD_MAX - 1 - c->head_len)
        take = HEAD_MAX - 1 - c->head_len;
      memcpy(c->head + c->head_len, buf, take);
      c->head_len += take;
      c->head[c->head_len] = '\0';
      end = strstr(c->head, "\r\n\r\n");
      if (end == NULL) {
        if (c->head_len == HEAD_MAX - 1)
          return fail("response", "head over 8 KiB");
        continue;
      }
      cl = strcasestr(c->head, "\r\ncontent-length:");
      if (cl == NULL || cl > end)
        return fail("response", "no Content-Length");
      if (strncmp(c->head, "HTTP/1.1 2", 10) == 0)
        r->ok++;
      c->body_left = strtoll(cl + 17, NULL, 10);
      used = (size_t)(end + 4 - c->head) - (c->head_len - take);
    }
    c->body_left -= (long long)((size_t)n - used);
    if (c->body_left < 0)
      return fail("response", "more bytes than its Content-Length");
    if (c->body_left == 0)
      return 1;
  }
}

int main(int argc, char **argv) {
  struct fb_urlset *set = NULL;
  struct raw r = {.ep = -1};
  struct conn *conns = NULL;
  struct epoll_event evs[256];
  char err[512], origin[300] = "";
  unsigned nconn, opened = 0;
  int64_t t0;
  int rc = 2;

  if (argc != 3 || (nconn = (unsigned)atoi(argv[2])) == 0) {
    fprintf(stderr, "usage: %s URLFILE CONNECTIONS\n", argv[0]);
    return 2;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
      fb_urlset_create(&set) != 0)
    return 2;
  if (fb_urlset_load(set, argv[1], err, sizeof(err)) != 0) {
    fprintf(stderr, "%s: %s\n", argv[1], err);
    fb_urlset_destroy(set);
    curl_global_cleanup();
    return 2;
  }
  r.n = fb_urlset_count(set);
  r.reqs = calloc(r.n, sizeof(*r.reqs));
  r.req_len = calloc(r.n, sizeof(*r.req_len));
  if (nconn > r.n)
    nconn = (unsigned)r.n;
  conns = calloc(nconn, sizeof(*conns));
  if (r.reqs == NULL || r.req_len == NULL || conns == NULL)
    goto out;
  for (unsigned i = 0; i < nconn; i++)
    conns[i].fd = -1;
  t0 = fb_clock_ns();
  for (size_t i = 0; i < r.n; i++)
    if (build(&r, i, fb_urlset_get(set, i), origin, sizeof(origin)) != 0)
      goto out;

  rc = 1;
  if ((r.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
    goto out;
  while (r.done < r.n) {
    int k;

    if (open_some(&r, conns, nconn, &opened) != 0)
      goto out;
    k = epoll_wait(r.ep, evs, 256, opened < nconn ? 0 : -1);

    if (k < 0 && errno != EINTR)
      goto out;
    for (int j = 0; j < k; j++) {
      struct conn *c = evs[j].data.ptr;
      int st;

      if (evs[j].events & EPOLLERR) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);

        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        fprintf(stderr, "raw-client: %s: %s\n", origin, strerror(soerr));
        goto out;
      }
      if (evs[j].events & EPOLLOUT) {
        if (send_request(&r, c) != 0)
          goto out;
        continue;
      }
      if ((st = on_readable(&r, c)) < 0)
        goto out;
      if (st == 0)
        continue;
      r.done++;
      if (r.next < r.n) {
        start(&r, c);
        if (send_request(&r, c) != 0)
          goto out;
      } else {
        close(c->fd); /* leaves the epoll set with it */
        c->fd = -1;
      }
    }
  }
  printf("ok %zu n %zu run_s %.6f\n", r.ok, r.n,
         (double)(fb_clock_ns() - t0) / 1e9);
  rc = r.ok == r.n ? 0 : 1;
out:
  for (unsigned i = 0; conns != NULL && i < nconn; i++)
    if (conns[i].fd >= 0)
      close(conns[i].fd);
  if (r.ep >= 0)
    close(r.ep);
  for (size_t i = 0; r.reqs != NULL && i < r.n; i++)
    free(r.reqs[i]);
  free(r.reqs);
  free(r.req_len);
  free(conns);
  fb_urlset_destroy(set);
  curl_global_cleanup();
  return rc;
}
