/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_int.h"
#include "fetchbench/error.h"
#include "fetchbench/urlset.h"

/* URLs into (endpoint, request target), once per run. libcurl's curl_url
 * costs about a microsecond a URL (five allocations and a normalisation),
 * a tenth of a second at set-up for 100,000 URLs, the whole of the ideal
 * time of a latency-bound run of that size. Most URLs need none of what it
 * does, so a strict parser takes those and leaves libcurl every URL it
 * would change: upper case, dot segments, percent signs, fragments, bytes
 * it encodes, numeric host forms, user info, IPv6 literals.
 * tests/test-client.c checks the two agree.
 */

struct fb__arena_chunk {
  struct fb__arena_chunk *prev;
  size_t cap, used;
  char data[];
};

#define ARENA_CHUNK (64u << 10)

/* Copies len bytes into the arena, where they never move. */
static const char *arena_copy(struct fb_client *cl, const char *s, size_t len) {
  struct fb__arena_chunk *ch = cl->arena;

  if (ch == NULL || ch->cap - ch->used < len) {
    size_t cap = len > ARENA_CHUNK ? len : ARENA_CHUNK;

    ch = malloc(sizeof(*ch) + cap);
    if (ch == NULL)
      return NULL;
    ch->prev = cl->arena;
    ch->cap = cap;
    ch->used = 0;
    cl->arena = ch;
  }
  memcpy(ch->data + ch->used, s, len);
  ch->used += len;
  return ch->data + ch->used - len;
}

void fb__client_arena_free(struct fb_client *cl) {
  while (cl->arena != NULL) {
    struct fb__arena_chunk *prev = cl->arena->prev;

    free(cl->arena);
    cl->arena = prev;
  }
}

/* Bytes of a path or query libcurl leaves as they are. */
static int plain(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || strchr("-._~!$&'()*+,;=:@/", ch) != NULL;
}

/* A host the fast path may take as it is: a dotted IPv4 address in its
 * one canonical form, or a name of lower-case letters, digits, '-' and
 * '.', whose labels are not empty and do not start with a digit (libcurl
 * reads "127.1" or "0x7f.1" as an IPv4 address and rewrites it).
 */
static int plain_host(const char *h, size_t len) {
  char buf[16];
  struct in_addr a;
  int label_start = 1;

  if (len == 0 || len > 253)
    return 0;
  if (len < sizeof(buf)) {
    memcpy(buf, h, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &a) == 1) {
      char canon[INET_ADDRSTRLEN];

      return inet_ntop(AF_INET, &a, canon, sizeof(canon)) != NULL &&
             strcmp(canon, buf) == 0;
    }
  }
  for (size_t i = 0; i < len; i++) {
    char ch = h[i];

    if (ch == '.') {
      if (label_start)
        return 0;
      label_start = 1;
      continue;
    }
    if (label_start && !(ch >= 'a' && ch <= 'z'))
      return 0;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
      return 0;
    label_start = 0;
  }
  return !label_start;
}

int fb__url_fast(const char *url, struct fb__url_parts *p) {
  const char *s, *h, *t;
  unsigned long port = 0;

  if (strncmp(url, "http://", 7) == 0) {
    p->tls = 0;
    s = url + 7;
  } else if (strncmp(url, "https://", 8) == 0) {
    p->tls = 1;
    s = url + 8;
  } else {
    return 0;
  }
  h = s;
  while (*s != '\0' && *s != ':' && *s != '/' && *s != '?')
    s++;
  if (!plain_host(h, (size_t)(s - h)))
    return 0;
  p->host = h;
  p->hostlen = (size_t)(s - h);
  if (*s == ':') {
    s++;
    if (*s < '1' || *s > '9')
      return 0;
    while (*s >= '0' && *s <= '9') {
      port = port * 10 + (unsigned long)(*s - '0');
      if (port > 65535)
        return 0;
      s++;
    }
  }
  p->port = port != 0 ? (unsigned)port : p->tls ? 443 : 80;
  /* "http://h" and "http://h?q" have the path "/": libcurl inserts it. */
  if (*s != '/' && *s != '\0' && *s != '?')
    return 0;
  if (*s != '/')
    return 0;
  t = s;
  for (; *s != '\0' && *s != '?'; s++) {
    if (!plain((unsigned char)*s))
      return 0;
    /* Dot segments ("/./", "/..", a trailing "/.") are removed by libcurl;
     * so is anything it might take for one.
     */
    if (*s == '/' && s[1] == '.' &&
        (s[2] == '/' || s[2] == '.' || s[2] == '\0' || s[2] == '?'))
      return 0;
  }
  if (*s == '?')
    for (s++; *s != '\0'; s++)
      if (!plain((unsigned char)*s) && *s != '?')
        return 0;
  p->target = t;
  p->targetlen = (size_t)(s - t);
  return 1;
}

/* The parts of the URL cu holds, in memory libcurl allocated: the caller
 * curl_frees host, path and query (NULL when absent).
 */
struct curl_parts {
  char *scheme, *host, *port, *path, *query;
};

static void curl_parts_free(struct curl_parts *cp) {
  curl_free(cp->scheme);
  curl_free(cp->host);
  curl_free(cp->port);
  curl_free(cp->path);
  curl_free(cp->query);
  memset(cp, 0, sizeof(*cp));
}

/* As libcurl 7.88 takes a URL apart for a request: the path percent-
 * encoded (bytes outside ASCII), the query as it is. Returns a CURLUcode;
 * for a scheme other than http and https, only cp->scheme is set.
 */
static CURLUcode curl_parts_get(CURLU *cu, struct curl_parts *cp) {
  CURLUcode rc;

  memset(cp, 0, sizeof(*cp));
  rc = curl_url_get(cu, CURLUPART_SCHEME, &cp->scheme, 0);
  /* Only http and https are taken further (file:// has no host). */
  if (rc == CURLUE_OK && strcasecmp(cp->scheme, "http") != 0 &&
      strcasecmp(cp->scheme, "https") != 0)
    return CURLUE_OK;
  if (rc == CURLUE_OK)
    rc = curl_url_get(cu, CURLUPART_HOST, &cp->host, 0);
  if (rc == CURLUE_OK)
    rc = curl_url_get(cu, CURLUPART_PORT, &cp->port, CURLU_DEFAULT_PORT);
  if (rc == CURLUE_OK)
    rc = curl_url_get(cu, CURLUPART_PATH, &cp->path, CURLU_URLENCODE);
  if (rc == CURLUE_OK) {
    rc = curl_url_get(cu, CURLUPART_QUERY, &cp->query, 0);
    if (rc == CURLUE_NO_QUERY)
      rc = CURLUE_OK;
  }
  if (rc != CURLUE_OK)
    curl_parts_free(cp);
  return rc;
}

/* "path?query" into buf (cap bytes); returns its length, or the length it
 * needs when longer than cap.
 */
static size_t join_target(const struct curl_parts *cp, char *buf, size_t cap) {
  size_t plen = strlen(cp->path), qlen = cp->query ? strlen(cp->query) : 0;
  size_t len = plen + (cp->query ? 1 + qlen : 0);

  if (buf != NULL && len <= cap) {
    memcpy(buf, cp->path, plen);
    if (cp->query != NULL) {
      buf[plen] = '?';
      memcpy(buf + plen + 1, cp->query, qlen);
    }
  }
  return len;
}

/* One URL through libcurl's parser into cl's arena. */
static int target_slow(struct fb_client *cl, const char *url,
                       struct fb__target *t, char *err, size_t errlen) {
  struct curl_parts cp;
  CURLUcode rc;
  char *buf = NULL;
  size_t len;
  uint32_t ep;
  int result = 0;

  cl->k.slow_fallback++;
  curl_url_set(cl->cu, CURLUPART_URL, NULL, 0);
  rc = curl_url_set(cl->cu, CURLUPART_URL, url, 0);
  if (rc == CURLUE_OK)
    rc = curl_parts_get(cl->cu, &cp);
  if (rc == CURLUE_OUT_OF_MEMORY)
    return -ENOMEM;
  if (rc != CURLUE_OK) {
    snprintf(err, errlen, "%s: %s", url, curl_url_strerror(rc));
    return FB_EURL;
  }
  if (strcasecmp(cp.scheme, "http") != 0 &&
      strcasecmp(cp.scheme, "https") != 0) {
    snprintf(err, errlen, "%s: scheme %s (only http and https)", url,
             cp.scheme);
    result = FB_EURL;
    goto out;
  }
  len = join_target(&cp, NULL, 0);
  buf = malloc(len);
  if (buf == NULL) {
    result = -ENOMEM;
    goto out;
  }
  join_target(&cp, buf, len);
  t->path = arena_copy(cl, buf, len);
  t->len = (uint32_t)len;
  if (t->path == NULL || len > UINT32_MAX) {
    result = -ENOMEM;
    goto out;
  }
  result = fb__client_ep_get(cl, strcasecmp(cp.scheme, "https") == 0, cp.host,
                             strlen(cp.host),
                             (unsigned)strtoul(cp.port, NULL, 10), &ep);
  t->ep = ep;
out:
  free(buf);
  curl_parts_free(&cp);
  return result;
}

int fb__client_targets(struct fb_client *cl, char *err, size_t errlen) {
  const struct fb_urlset *urls = cl->job->urls;
  size_t n = fb_urlset_count(urls);
  struct fb__url_parts p;
  uint32_t last_ep = FB__NO_EP;
  int rc;

  cl->targets = calloc(n ? n : 1, sizeof(*cl->targets));
  if (cl->targets == NULL)
    return -ENOMEM;
  cl->ntargets = n;
  for (size_t i = 0; i < n; i++) {
    const char *url = fb_urlset_get(urls, i);
    struct fb__target *t = &cl->targets[i];

    if (!fb__url_fast(url, &p) || p.targetlen > UINT32_MAX) {
      rc = target_slow(cl, url, t, err, errlen);
      if (rc != 0)
        return rc;
      continue;
    }
    t->path = p.target;
    t->len = (uint32_t)p.targetlen;
    /* Runs of URLs to one host are the common case: no hashing for them. */
    if (last_ep != FB__NO_EP) {
      const struct fb__ep *e = &cl->eps[last_ep];

      if (e->tls == p.tls && e->port == p.port &&
          strlen(e->host) == p.hostlen &&
          memcmp(e->host, p.host, p.hostlen) == 0) {
        t->ep = last_ep;
        continue;
      }
    }
    rc = fb__client_ep_get(cl, p.tls, p.host, p.hostlen, p.port, &t->ep);
    if (rc != 0)
      return rc;
    last_ep = t->ep;
  }
  return 0;
}

int fb__client_follow(struct fb_client_conn *c, const char *location,
                      size_t len) {
  struct fb_client *cl = c->cl;
  const char *base =
      c->url != NULL ? c->url : fb_urlset_get(cl->job->urls, c->index);
  struct curl_parts cp;
  char *loc, *url = NULL, *target;
  CURLUcode rc;
  size_t tlen;
  uint32_t ep;
  int result = 0;

  loc = strndup(location, len);
  if (loc == NULL)
    return -ENOMEM;
  /* The Location is resolved against the URL of this hop, as a relative
   * reference when it is one.
   */
  curl_url_set(cl->cu, CURLUPART_URL, NULL, 0);
  rc = curl_url_set(cl->cu, CURLUPART_URL, base, 0);
  if (rc == CURLUE_OK)
    rc = curl_url_set(cl->cu, CURLUPART_URL, loc,
                      CURLU_URLENCODE | CURLU_ALLOW_SPACE);
  if (rc == CURLUE_OK)
    rc = curl_url_get(cl->cu, CURLUPART_URL, &url, 0);
  if (rc == CURLUE_OK)
    rc = curl_parts_get(cl->cu, &cp);
  if (rc == CURLUE_OUT_OF_MEMORY) {
    free(loc);
    curl_free(url);
    return -ENOMEM;
  }
  if (rc == CURLUE_UNSUPPORTED_SCHEME) {
    /* A scheme libcurl's URL parser does not know at all. */
    fb__client_fail(c, FB_OUTCOME_PROTOCOL, CURLE_UNSUPPORTED_PROTOCOL,
                    "Protocol \"%.*s\" not supported or disabled in libcurl",
                    (int)strcspn(loc, ":"), loc);
    free(loc);
    return FB_EURL;
  }
  free(loc);
  if (rc != CURLUE_OK) {
    fb__client_fail(c, FB_OUTCOME_PROTOCOL, CURLE_URL_MALFORMAT,
                    "redirect to a URL libcurl refuses: %s",
                    curl_url_strerror(rc));
    curl_free(url);
    return FB_EURL;
  }
  if (strcasecmp(cp.scheme, "http") != 0 &&
      strcasecmp(cp.scheme, "https") != 0) {
    fb__client_fail(c, FB_OUTCOME_PROTOCOL, CURLE_UNSUPPORTED_PROTOCOL,
                    "Protocol \"%s\" not supported or disabled in libcurl",
                    cp.scheme);
    result = FB_EURL;
    goto out;
  }
  tlen = join_target(&cp, NULL, 0);
  target = realloc(c->target, tlen ? tlen : 1);
  if (target == NULL) {
    result = -ENOMEM;
    goto out;
  }
  c->target = target;
  join_target(&cp, target, tlen);
  result = fb__client_ep_get(cl, strcasecmp(cp.scheme, "https") == 0, cp.host,
                             strlen(cp.host),
                             (unsigned)strtoul(cp.port, NULL, 10), &ep);
  if (result != 0)
    goto out;
  free(c->url);
  c->url = strdup(url);
  if (c->url == NULL) {
    result = -ENOMEM;
    goto out;
  }
  c->ep = ep;
  c->path = c->target;
  c->path_len = tlen;
out:
  curl_free(url);
  curl_parts_free(&cp);
  return result;
}
