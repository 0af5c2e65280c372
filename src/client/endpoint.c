/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_int.h"

/* Endpoints: each scheme://host:port of the run, resolved once and with its
 * request head prebuilt, found again through a small open-addressing
 * table.
 */

#define DEFAULT_PROXY_PORT 1080u

static int ep_get(struct fb_client *cl, int tls, const char *host,
                  size_t hostlen, unsigned port, int may_proxy, uint32_t *out);

static uint32_t ep_hash(int tls, const char *host, size_t len, unsigned port) {
  uint32_t h = 2166136261u ^ (uint32_t)tls ^ (port << 1);

  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)host[i]) * 16777619u;
  return h;
}

static int ep_equal(const struct fb__ep *e, int tls, const char *host,
                    size_t len, unsigned port) {
  return e->tls == tls && e->port == port && strlen(e->host) == len &&
         memcmp(e->host, host, len) == 0;
}

static int slots_grow(struct fb_client *cl) {
  uint32_t cap = cl->ep_slots_cap ? cl->ep_slots_cap * 2 : 16;
  uint32_t *slots = calloc(cap, sizeof(*slots));

  if (slots == NULL)
    return -ENOMEM;
  for (uint32_t i = 0; i < cl->neps; i++) {
    const struct fb__ep *e = &cl->eps[i];
    uint32_t h = ep_hash(e->tls, e->host, strlen(e->host), e->port);

    while (slots[h & (cap - 1)] != 0)
      h++;
    slots[h & (cap - 1)] = i + 1;
  }
  free(cl->ep_slots);
  cl->ep_slots = slots;
  cl->ep_slots_cap = cap;
  return 0;
}

/* libcurl 7.88 answers "localhost" and any name under ".localhost" itself,
 * with the loopback addresses, without asking DNS. The origin listens on
 * 127.0.0.1, so that comes first; ::1 is tried when it is refused.
 */
static int is_localhost(const char *name) {
  size_t len = strlen(name);

  return strcasecmp(name, "localhost") == 0 ||
         (len > 10 && strcasecmp(name + len - 10, ".localhost") == 0);
}

static void add_in4(struct fb__ep *e, const struct in_addr *a) {
  struct sockaddr_in *in = &e->addr[e->naddr++].in;

  memset(in, 0, sizeof(*in));
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)e->port);
  in->sin_addr = *a;
}

static void add_in6(struct fb__ep *e, const struct in6_addr *a) {
  struct sockaddr_in6 *in6 = &e->addr[e->naddr++].in6;

  memset(in6, 0, sizeof(*in6));
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons((uint16_t)e->port);
  in6->sin6_addr = *a;
}

/* Fills e's addresses from its host. Returns 0 or -ENOMEM; a name that does
 * not resolve leaves e->resolve_rc set.
 */
static int resolve(struct fb_client *cl, struct fb__ep *e) {
  char name[256];
  size_t len = strlen(e->host);
  struct addrinfo hints, *res = NULL, *ai;
  struct in_addr a4;
  struct in6_addr a6;
  int rc;

  const char *start = e->host;

  /* An IPv6 literal keeps its brackets in URLs and Host headers only. */
  if (len >= 2 && start[0] == '[' && start[len - 1] == ']') {
    start++;
    len -= 2;
  }
  if (len >= sizeof(name)) {
    e->resolve_rc = EAI_NONAME;
    return 0;
  }
  memcpy(name, start, len);
  name[len] = '\0';
  if (inet_pton(AF_INET, name, &a4) == 1) {
    add_in4(e, &a4);
    return 0;
  }
  if (inet_pton(AF_INET6, name, &a6) == 1) {
    add_in6(e, &a6);
    return 0;
  }
  if (is_localhost(name)) {
    a4.s_addr = htonl(INADDR_LOOPBACK);
    add_in4(e, &a4);
    add_in6(e, &in6addr_loopback);
    return 0;
  }
  /* A real name (or an IPv6 literal with a zone): the system's resolver,
   * once per host for the whole run, at set-up.
   */
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  e->dns = 1;
  cl->dns_lookups++;
  rc = getaddrinfo(name, NULL, &hints, &res);
  if (rc == EAI_MEMORY)
    return -ENOMEM;
  if (rc != 0) {
    e->resolve_rc = rc;
    return 0;
  }
  for (ai = res; ai != NULL && e->naddr < FB__MAX_ADDRS; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      add_in4(e, &((const struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr);
    else if (ai->ai_family == AF_INET6)
      add_in6(e,
              &((const struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr);
  }
  freeaddrinfo(res);
  if (e->naddr == 0)
    e->resolve_rc = EAI_NODATA;
  return 0;
}

/* The head around the target: " HTTP/1.1\r\nHost: ...\r\n...\r\n". The
 * Host header leaves out the scheme's default port, as libcurl does.
 */
static int build_request(struct fb_client *cl, struct fb__ep *e, int proxied) {
  const struct fb_job *job = cl->job;
  unsigned defport = e->tls ? 443 : 80;
  char hostport[300];
  int n;

  if (e->port == defport)
    n = snprintf(hostport, sizeof(hostport), "%s", e->host);
  else
    n = snprintf(hostport, sizeof(hostport), "%s:%u", e->host, e->port);
  if (n < 0 || (size_t)n >= sizeof(hostport))
    return -ENOMEM; /* the host is at most 255 bytes */
  if (proxied) {
    size_t len = (size_t)n + (e->tls ? 8 : 7) + 1;

    e->prefix = malloc(len);
    if (e->prefix == NULL)
      return -ENOMEM;
    e->prefix_len = (size_t)snprintf(e->prefix, len, "%s%s",
                                     e->tls ? "https://" : "http://", hostport);
  }
  {
    const char *ua = job->user_agent;
    const char *close =
        job->connection == FB_CONN_FRESH ? "Connection: close\r\n" : "";
    size_t len = 64 + (size_t)n + (ua != NULL ? strlen(ua) : 0) + strlen(close);

    e->tail = malloc(len);
    if (e->tail == NULL)
      return -ENOMEM;
    n = snprintf(e->tail, len,
                 " HTTP/1.1\r\nHost: %s\r\n%s%s%sAccept-Encoding: "
                 "identity\r\n%s\r\n",
                 hostport, ua != NULL && ua[0] != '\0' ? "User-Agent: " : "",
                 ua != NULL && ua[0] != '\0' ? ua : "",
                 ua != NULL && ua[0] != '\0' ? "\r\n" : "", close);
    if (n < 0 || (size_t)n >= len)
      return -ENOMEM;
    e->tail_len = (size_t)n;
  }
  return 0;
}

/* no_proxy as libcurl 7.88 reads it: "*" for every host, else names
 * separated by commas (and white space), each matching itself and the
 * names under it, a leading dot ignored; IP addresses match as written.
 */
static int no_proxy_matches(const char *list, const char *host) {
  size_t hlen = strlen(host);
  const char *p = list;

  if (hlen >= 2 && host[0] == '[')
    host++, hlen -= 2;
  while (*p != '\0') {
    size_t n;

    while (*p == ',' || isspace((unsigned char)*p))
      p++;
    n = strcspn(p, ", \t");
    if (n == 1 && p[0] == '*')
      return 1;
    if (n > 0 && p[0] == '.')
      p++, n--;
    if (n > 0 && n <= hlen && strncasecmp(host + hlen - n, p, n) == 0 &&
        (n == hlen || host[hlen - n - 1] == '.'))
      return 1;
    p += n;
  }
  return 0;
}

static char *env_dup(const char *a, const char *b) {
  const char *v = getenv(a);

  if ((v == NULL || v[0] == '\0') && b != NULL)
    v = getenv(b);
  return v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

/* libcurl takes "http_proxy" in lower case only for http (an upper-case
 * HTTP_PROXY may come from a CGI request's Proxy: header), then all_proxy
 * in either case; no_proxy in either case.
 */
int fb__client_proxy_init(struct fb_client *cl) {
  const char *hp = getenv("http_proxy");

  cl->proxy_ep = FB__NO_EP;
  cl->proxy = hp != NULL && hp[0] != '\0' ? strdup(hp)
                                          : env_dup("all_proxy", "ALL_PROXY");
  if ((hp != NULL && hp[0] != '\0' && cl->proxy == NULL))
    return -ENOMEM;
  cl->no_proxy = env_dup("no_proxy", "NO_PROXY");
  return 0;
}

/* The endpoint of the proxy, made on first use. A scheme other than http
 * (socks, https) is one this core does not speak: its endpoint says so.
 */
static int proxy_ep(struct fb_client *cl, uint32_t *out) {
  const char *p = cl->proxy, *host, *end;
  unsigned port = DEFAULT_PROXY_PORT;
  int unsupported = 0;
  uint32_t ep;
  int rc;

  if (cl->proxy_ep != FB__NO_EP) {
    *out = cl->proxy_ep;
    return 0;
  }
  if (strstr(p, "://") != NULL) {
    unsupported = strncasecmp(p, "http://", 7) != 0;
    p = strstr(p, "://") + 3;
  }
  if (strchr(p, '@') != NULL)
    p = strchr(p, '@') + 1;
  host = p;
  if (*p == '[')
    end = strchr(p, ']') != NULL ? strchr(p, ']') + 1 : p + strlen(p);
  else
    end = p + strcspn(p, ":/");
  if (*end == ':')
    port = (unsigned)strtoul(end + 1, NULL, 10);
  if (port == 0 || port > 65535 || end == host)
    unsupported = 1;
  rc = ep_get(cl, 0, host, (size_t)(end - host), port, 0, &ep);
  if (rc != 0)
    return rc;
  if (unsupported && cl->eps[ep].resolve_rc == 0)
    cl->eps[ep].resolve_rc = FB__NO_PROXY_SCHEME;
  cl->proxy_ep = ep;
  *out = ep;
  return 0;
}

int fb__client_ep_get(struct fb_client *cl, int tls, const char *host,
                      size_t hostlen, unsigned port, uint32_t *out) {
  return ep_get(cl, tls, host, hostlen, port, 1, out);
}

static int ep_get(struct fb_client *cl, int tls, const char *host,
                  size_t hostlen, unsigned port, int may_proxy, uint32_t *out) {
  uint32_t h = ep_hash(tls, host, hostlen, port);
  struct fb__ep *e;
  uint32_t i, via;
  int proxied, rc;

  if (cl->ep_slots_cap > 0) {
    for (i = h;; i++) {
      uint32_t s = cl->ep_slots[i & (cl->ep_slots_cap - 1)];

      if (s == 0)
        break;
      if (ep_equal(&cl->eps[s - 1], tls, host, hostlen, port)) {
        *out = s - 1;
        return 0;
      }
    }
  }
  if ((cl->neps + 1) * 2 > cl->ep_slots_cap && slots_grow(cl) != 0)
    return -ENOMEM;
  if (cl->neps == cl->eps_cap) {
    uint32_t cap = cl->eps_cap ? cl->eps_cap * 2 : 4;
    struct fb__ep *eps = realloc(cl->eps, cap * sizeof(*eps));

    if (eps == NULL)
      return -ENOMEM;
    cl->eps = eps;
    cl->eps_cap = cap;
  }
  e = &cl->eps[cl->neps];
  memset(e, 0, sizeof(*e));
  e->host = strndup(host, hostlen);
  if (e->host == NULL)
    return -ENOMEM;
  e->tls = (uint8_t)tls;
  e->port = port;
  e->via = cl->neps;
  cl->neps++;
  for (i = h; cl->ep_slots[i & (cl->ep_slots_cap - 1)] != 0; i++)
    ;
  cl->ep_slots[i & (cl->ep_slots_cap - 1)] = cl->neps;
  i = cl->neps - 1;
  *out = i;

  /* Only plain http goes through the proxy: https would need a CONNECT
   * tunnel, which this core does not build (yet).
   */
  proxied = may_proxy && !tls && cl->proxy != NULL &&
            (cl->no_proxy == NULL ||
             !no_proxy_matches(cl->no_proxy, cl->eps[i].host));
  if (proxied) {
    rc = proxy_ep(cl, &via);
    if (rc != 0)
      return rc;
    cl->eps[i].via = via; /* eps may have moved */
    /* A URL naming the proxy itself: it is its own proxy's address. */
    proxied = via != i;
  }
  if (!proxied) {
    rc = resolve(cl, &cl->eps[i]);
    if (rc != 0)
      return rc;
  }
  return build_request(cl, &cl->eps[i], proxied);
}

void fb__client_eps_free(struct fb_client *cl) {
  for (uint32_t i = 0; i < cl->neps; i++) {
    free(cl->eps[i].host);
    free(cl->eps[i].prefix);
    free(cl->eps[i].tail);
  }
  free(cl->eps);
  free(cl->ep_slots);
  cl->eps = NULL;
  cl->ep_slots = NULL;
  cl->neps = cl->eps_cap = cl->ep_slots_cap = 0;
}
