/* SPDX-License-Identifier: MIT */
#ifndef FB_CLIENT_CLIENT_INT_H
#define FB_CLIENT_CLIENT_INT_H

/* What the client core's files share; nothing outside src/client/ includes
 * it. client.h has the contract.
 */

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "client/client.h"

/* c->sock */
#define FB__SOCK_NONE 0
#define FB__SOCK_CONNECTING 1
#define FB__SOCK_OPEN 2

/* c->pending: ops for fb_client_next, handed out in this order. */
#define FB__OP_CLOSE 0x1u
#define FB__OP_CONNECT 0x2u
#define FB__OP_SEND 0x4u
#define FB__OP_DONE 0x8u

/* c->hdr: the response headers the core reads. */
#define FB__HDR_NONE 0
#define FB__HDR_LOCATION 1
#define FB__HDR_ENCODING 2
#define FB__HDR_OTHER 3 /* a name that can no longer be a wanted one */

/* c->encoding */
#define FB__ENC_IDENTITY 0
#define FB__ENC_GZIP 1    /* gzip or x-gzip: zlib's gzip wrapper */
#define FB__ENC_DEFLATE 2 /* zlib wrapper ... */
#define FB__ENC_RAW 3     /* ... or raw deflate, as some servers send it */

/* libcurl's limit on one response header line (CURL_MAX_HTTP_HEADER). */
#define FB__MAX_HEADER_LINE (100u << 10)

/* Addresses kept per host: both families of localhost, a few of a name. */
#define FB__MAX_ADDRS 8

#define FB__NO_EP UINT32_MAX

union fb__addr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
};

/* One scheme://host:port the run talks to, with what a request to it
 * needs.
 */
struct fb__ep {
  char *host;     /* as the URL spells it ("[::1]" for IPv6) */
  unsigned port;  /* the URL's, or the scheme's default */
  uint8_t tls;    /* https */
  uint8_t dns;    /* resolved with getaddrinfo (not a literal or localhost) */
  uint32_t via;   /* the endpoint connected to: itself, or its proxy */
  int resolve_rc; /* 0, or getaddrinfo's EAI_* code (FB__NO_PROXY_SCHEME:
                   * a proxy this core cannot speak) */
  unsigned naddr;
  union fb__addr addr[FB__MAX_ADDRS];
  /* The request around its target: "GET " prefix target tail, where
   * prefix is "http://host:port" through a proxy (absolute form), else
   * empty, and tail the rest of the head from " HTTP/1.1\r\n" to the blank
   * line.
   */
  char *prefix;
  size_t prefix_len;
  char *tail;
  size_t tail_len;
};

#define FB__NO_PROXY_SCHEME (-10000)

/* One URL of the job: its endpoint and request target. */
struct fb__target {
  const char *path; /* borrowed from the URL set, or in the client's arena */
  uint32_t len;
  uint32_t ep; /* FB__NO_EP: a URL the core could not use (msg says why) */
};

struct fb__arena_chunk;
struct fb_tls_ctx;

struct fb_client {
  const struct fb_job *job;
  int64_t t0;
  struct fb__ep *eps;
  uint32_t neps, eps_cap;
  uint32_t *ep_slots; /* open addressing: endpoint index + 1, 0: empty */
  uint32_t ep_slots_cap;
  struct fb__target *targets;
  size_t ntargets;
  struct fb__arena_chunk *arena;
  CURLU *cu; /* for URLs the fast parser leaves, and redirects */
  llhttp_settings_t settings;
  char *proxy;                /* http_proxy or all_proxy, NULL: none */
  char *no_proxy;             /* no_proxy or NO_PROXY, NULL: none */
  uint32_t proxy_ep;          /* FB__NO_EP until a URL needs it */
  unsigned char *inflate_out; /* shared by the connections' inflaters */
  struct fb_tls_ctx *tls_ctx; /* https, made on first use */
  char *tls_plain;            /* plaintext read out of TLS, parsed in place */
  char *scratch;              /* a request copied whole, for TLS */
  unsigned dns_lookups;
  struct fb_client_counters k;
};

/* --- endpoint.c --------------------------------------------------------- */

/* Reads the proxy variables of the environment once. Returns 0 or
 * -ENOMEM.
 */
int fb__client_proxy_init(struct fb_client *cl);

/* The endpoint for (tls, host, port), created and resolved on first use
 * (a proxy too, when the environment names one for it). host is hostlen
 * bytes as the URL spells it. Returns 0 with *ep, or -ENOMEM.
 */
int fb__client_ep_get(struct fb_client *cl, int tls, const char *host,
                      size_t hostlen, unsigned port, uint32_t *ep);

/* Frees every endpoint. */
void fb__client_eps_free(struct fb_client *cl);

/* --- target.c ----------------------------------------------------------- */

/* The parts of an absolute URL the core uses. */
struct fb__url_parts {
  int tls;
  const char *host; /* hostlen bytes */
  size_t hostlen;
  unsigned port;
  const char *target; /* path and query, targetlen bytes */
  size_t targetlen;
};

/* Splits a URL that needs no normalising (lower-case http(s), a plain host
 * name or dotted IPv4, a port without leading zeros, a path without dot
 * segments, '%', '#' or bytes libcurl would encode) into *p, pointing into
 * url. Returns 1, or 0 when libcurl must parse it.
 */
int fb__url_fast(const char *url, struct fb__url_parts *p);

/* Parses every URL of the job into cl->targets. Returns 0, -ENOMEM or
 * FB_EURL (err says which URL and why).
 */
int fb__client_targets(struct fb_client *cl, char *err, size_t errlen);

/* Resolves location against the URL of c's current hop, as libcurl
 * follows a redirect: on success c->url, c->target, c->path and c->ep
 * describe the next hop and 0 is returned; a scheme other than http and
 * https gives FB_EURL with c->msg set (libcurl's words), a URL libcurl
 * refuses FB_EURL too, memory -ENOMEM.
 */
int fb__client_follow(struct fb_client_conn *c, const char *location,
                      size_t len);

/* Frees the arena. */
void fb__client_arena_free(struct fb_client *cl);

/* --- response.c --------------------------------------------------------- */

/* llhttp's settings for responses. */
void fb__client_settings(llhttp_settings_t *s);

/* (Re)initialises c's parser for a response, as lenient as libcurl about
 * header lines.
 */
void fb__response_parser(struct fb_client_conn *c);

/* Resets the response state of c for a new response on its connection. */
void fb__response_reset(struct fb_client_conn *c);

/* Feeds body bytes (decoded or not) to the hash and the cap. Returns 0, or
 * -1 when the cap refused them (c->too_large set, the verdict recorded).
 */
int fb__body_sink(struct fb_client_conn *c, const char *p, size_t len);

/* --- decode.c ----------------------------------------------------------- */

/* Starts inflating a body of c->encoding. Returns 0 or -ENOMEM. */
int fb__decode_start(struct fb_client_conn *c);

/* Inflates len bytes of the body into the sink. Returns 0, -1 when the
 * sink refused (cap) or the data is not valid (verdict recorded).
 */
int fb__decode(struct fb_client_conn *c, const char *p, size_t len);

/* Frees c's inflater. */
void fb__decode_free(struct fb_client_conn *c);

/* --- wire.c ------------------------------------------------------------- */

/* Makes cl's TLS client context (the job's CA file or the system's, as the
 * process's one store; verification; resumption) unless it exists.
 * Returns 0 or a negative code with err.
 */
int fb__wire_ctx(struct fb_client *cl, char *err, size_t errlen);
void fb__wire_ctx_free(struct fb_client *cl);

/* The TCP connection of an https hop is up: makes its TLS object and
 * starts the handshake. Returns 0, or -1 with the verdict recorded.
 */
int fb__wire_open(struct fb_client_conn *c);

/* Writes what is left of the request into TLS once the handshake is done,
 * and hands the pending ciphertext out as a SEND (one at a time); says
 * fb__client_request_sent when the request is all out.
 */
void fb__wire_flush(struct fb_client_conn *c, int64_t now);

/* The engine's events on an https connection. */
void fb__wire_received(struct fb_client_conn *c, const char *buf, size_t len,
                       int64_t now);
void fb__wire_eof(struct fb_client_conn *c, int err, int64_t now);
void fb__wire_sent(struct fb_client_conn *c, long n, int64_t now);

/* Frees c's TLS object. */
void fb__wire_free(struct fb_client_conn *c);

/* --- conn.c ------------------------------------------------------------- */

/* Records the verdict of c's request (outcome, CURLcode, printf message);
 * the first one recorded wins.
 */
void fb__client_fail(struct fb_client_conn *c, enum fb_outcome outcome,
                     int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Closes c's connection (a CLOSE op follows unless the engine never heard
 * of it) and, for fail_close, ends the request with its verdict.
 */
void fb__client_close(struct fb_client_conn *c);
void fb__client_fail_close(struct fb_client_conn *c, int64_t now);

/* The HTTP side of a connection: response bytes (plaintext) in, the end
 * of the stream (err 0, or a negative errno), the request all sent, a
 * send that failed.
 */
void fb__client_parse(struct fb_client_conn *c, const char *buf, size_t len,
                      int64_t now);
void fb__client_http_eof(struct fb_client_conn *c, int err, int64_t now);
void fb__client_request_sent(struct fb_client_conn *c, int64_t now);
void fb__client_send_failed(struct fb_client_conn *c, long err, int64_t now);

/* Drops the first n bytes of the request's iovecs (c->iov). */
void fb__client_iov_advance(struct fb_client_conn *c, size_t n);

#endif /* FB_CLIENT_CLIENT_INT_H */
