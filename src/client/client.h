/* SPDX-License-Identifier: MIT */
#ifndef FB_CLIENT_CLIENT_H
#define FB_CLIENT_CLIENT_H

/* The HTTP/1.1 client core of the raw and uring engines, sans I/O: it
 * never touches a socket, a timer or the clock. The engine owns the
 * sockets and the timers; it tells the core what happened ("connected",
 * "these bytes arrived", "the peer closed", "this many bytes were sent",
 * "the deadline passed") and asks it what to do next (fb_client_next:
 * close, connect to this address, send these bytes, the request is done).
 * Every event carries `now`, nanoseconds on fb_clock_ns()'s clock, read by
 * the engine when the event happened: the core keeps every timestamp of a
 * result from those, and its deadlines are in the same clock.
 *
 * Two objects:
 *   struct fb_client       one per run: the job's URLs parsed once (a fast
 *                          parser for plain URLs, libcurl's curl_url for
 *                          the rest), their hosts resolved once (IP
 *                          literals, "localhost" and "*.localhost" without
 *                          DNS, as libcurl 7.88 does; other names with
 *                          getaddrinfo, at creation, once per host), the
 *                          request heads prebuilt, the proxy the
 *                          environment names (http_proxy, all_proxy,
 *                          no_proxy, as libcurl reads them), llhttp's
 *                          settings and the scratch buffers the
 *                          connections share (one thread at a time).
 *   struct fb_client_conn  one per transfer slot: at most one connection
 *                          (kept alive between requests unless the job
 *                          says fresh) and the request it carries. Embed
 *                          it in the slot; it needs 64-byte alignment (its
 *                          XXH3 state).
 *
 * A request's life, as libcurl 7.88 lives it (the fault matrix of
 * tests/test-faults.c gets the same outcomes): the response parsed by
 * llhttp (status, headers, Content-Length, chunked and close-delimited
 * bodies, 1xx responses skipped); the body streamed into XXH3 and the
 * job's cap (after decoding: a gzip or deflate body the server sends
 * although asked for identity is inflated with zlib, as libcurl, which asks
 * for any encoding, would); redirects followed up to the job's limit, to
 * http and https only; the connect and whole-request timeouts and the
 * low-speed limit; a reused connection that fails before the first
 * response byte retried once on a new one; https through the TLS layer
 * (src/tls/, between the HTTP side and the socket: the engine moves
 * ciphertext), with the job's CA file or the system's as the process's one
 * store, verification unless the job turns it off, and sessions resumed
 * across the run's connections unless it says not to (job->ca_cache, a
 * choice among libcurl's ways, does not apply). Per transfer, nothing is
 * allocated on the way of a plain request: the request is written from the
 * prebuilt pieces (iovecs), the response parsed in place in the bytes the
 * engine hands over (which may then be reused at once: one read buffer per
 * loop is enough).
 *
 * Results: outcome, status, body bytes and checksum as the curl engines
 * record them; error_code is the CURLcode libcurl gives for the same
 * failure (CURLE_RECV_ERROR for a reset, ...), so that a report's codes
 * read the same whichever engine ran; the message says what happened in
 * the core's words (an llhttp error is llhttp's reason and name).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <llhttp.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t embedded */
#include <xxhash.h>

#include "fetchbench/job.h"
#include "fetchbench/result.h"

struct fb_client;
struct fb_tls;
struct z_stream_s;

/* What the engine must do next (fb_client_next). */
enum fb_client_op {
  FB_CLIENT_WAIT = 0, /* nothing until the next event or the deadline */
  FB_CLIENT_CLOSE,    /* close the socket, connected or still connecting;
                       * its pending connect, writes and reads are void */
  FB_CLIENT_CONNECT,  /* open a TCP connection to act->addr, read from it
                       * once connected; say fb_client_connected */
  FB_CLIENT_SEND,     /* send act->iov[0 .. iovcnt) in order; say
                       * fb_client_sent */
  FB_CLIENT_DONE      /* the request ended: fb_client_result */
};

/* The arguments of an op, borrowed from the core. The bytes of a SEND
 * stay where they are until the engine reports its end (fb_client_sent),
 * the connection's close notwithstanding: an https connection's
 * ciphertext is freed only when the slot's next connection is reported
 * (fb_client_connected) or at cleanup, so an engine must not report a new
 * connection while a send of the old one may still read its bytes. The
 * iovec array itself may be copied at once.
 */
struct fb_client_action {
  const struct sockaddr *addr; /* CONNECT */
  socklen_t addrlen;
  const struct iovec *iov; /* SEND */
  int iovcnt;
};

/* What the core saw over a run (all connections together), for tests and
 * curiosity.
 */
struct fb_client_counters {
  uint64_t connects;      /* connection attempts */
  uint64_t reuses;        /* requests sent on a kept-alive connection */
  uint64_t retries;       /* ... that failed at once and were sent again */
  uint64_t redirects;     /* redirects followed */
  uint64_t idle_closes;   /* kept-alive connections the server closed */
  uint64_t decoded;       /* responses inflated (Content-Encoding) */
  uint64_t slow_fallback; /* URLs curl_url parsed (not plain enough) */
};

/* Private to the core, spelled out so that an engine can embed it. */
struct fb_client_conn {
  XXH3_state_t hash; /* first: 64-byte aligned */
  llhttp_t parser;
  struct fb_client *cl;
  unsigned worker;

  /* The connection. */
  uint8_t sock;       /* FB__SOCK_*: none, connecting, open */
  uint8_t keep;       /* open connection reusable after this response */
  uint8_t sending;    /* a SEND is with the engine */
  uint8_t conn_fresh; /* opened for the request in flight */
  uint32_t conn_ep;   /* endpoint the open connection goes to */
  unsigned addr_i;    /* address of conn_ep being tried */
  unsigned pending;   /* FB__OP_* bits, fb_client_next hands them out */
  int64_t connect_deadline;

  /* The request. */
  uint8_t active;     /* a request is in flight */
  uint8_t retried;    /* sent again after a reused connection failed */
  uint8_t redirect;   /* this response is a redirect to follow */
  uint8_t too_large;  /* the body cap refused bytes */
  uint8_t head_done;  /* headers of the final response complete */
  uint8_t in_value;   /* llhttp's last header callback was a value */
  uint8_t hdr;        /* FB__HDR_*: the header being read, if we want it */
  uint8_t hdr_match;  /* bytes of a wanted name matched so far */
  uint8_t encoding;   /* FB__ENC_* of the response body */
  uint8_t new_conn;   /* a connection was opened for this request */
  uint8_t reused_any; /* a kept-alive connection carried part of it */
  uint8_t resp_done;  /* the response is complete, the SEND not yet */
  uint8_t loc_done;   /* a Location header was read whole */
  uint8_t handshake;  /* enum fb_handshake of the request's new connection */
  uint16_t status;    /* last status line seen, 0: none */
  size_t index;       /* URL of the request */
  uint32_t ep;        /* endpoint of the current hop */
  const char *path;   /* its request target, path_len bytes */
  size_t path_len;
  unsigned redirects;  /* followed so far */
  size_t hdr_line;     /* bytes of the current header line */
  uint64_t resp_bytes; /* response bytes of this hop on the wire */
  uint64_t body_bytes; /* decoded body bytes hashed */
  struct iovec iov[4]; /* the request (SEND), what is left of it */
  int iovcnt;
  int64_t t_start, t_connected, t_tls, t_first_byte, t_done;
  int64_t deadline;    /* whole request */
  int64_t slow_since;  /* low-speed window start */
  uint64_t slow_bytes; /* bytes in the window */

  /* https: the connection's TLS (ciphertext on the socket side, the
   * request and the response on ours), and the ciphertext SEND in flight.
   */
  struct fb_tls *tls;
  uint8_t tls_hs;    /* handshake in progress (the connect timeout runs) */
  uint8_t tls_dead;  /* tls belongs to a closed connection */
  uint8_t send_busy; /* a SEND of ciphertext is with the engine */
  struct iovec out[4];
  int outcnt;

  /* Rarely used, allocated on demand and kept for the slot's next
   * requests: the redirect's URL and target, the Location header, the
   * inflater.
   */
  char *url;      /* URL of the current hop when redirected */
  char *target;   /* its request target */
  char *location; /* Location header value */
  size_t location_len, location_cap;
  char coding[16]; /* Content-Encoding value (cut: unknown) */
  uint8_t coding_len;
  struct z_stream_s *z;

  /* The verdict. */
  uint8_t failed;   /* a failure was recorded (the first one stands) */
  uint16_t outcome; /* enum fb_outcome */
  int32_t code;     /* CURLcode */
  char msg[FB_MESSAGE_MAX];
};

/* Creates the run's client for job (borrowed: it, its URL set and strings
 * must outlive the client). Parses every URL, resolves every host once
 * (getaddrinfo for names that are neither IP literals nor localhost; a name
 * that does not resolve is not an error here: its URLs end `resolve`),
 * builds the request heads. t0 is the run's clock zero (fb_collector_t0):
 * result times are relative to it. Returns 0, -ENOMEM, or FB_EURL for a URL
 * that libcurl's parser refuses (the URL set validates them, so only an
 * unvalidated set gets there), with a message in err.
 */
int fb_client_create(struct fb_client **out, const struct fb_job *job,
                     int64_t t0, char *err, size_t errlen);

/* Frees the client. Every connection must have been cleaned up. NULL is
 * allowed.
 */
void fb_client_destroy(struct fb_client *cl);

/* The run's counters, borrowed. */
const struct fb_client_counters *fb_client_counters(const struct fb_client *cl);

/* Host names resolved with getaddrinfo at creation (not IP literals or
 * localhost), for the engine's report.
 */
unsigned fb_client_dns_lookups(const struct fb_client *cl);

/* Makes c an idle slot of cl with no connection; worker goes into its
 * results. Cannot fail.
 */
void fb_client_conn_init(struct fb_client_conn *c, struct fb_client *cl,
                         unsigned worker);

/* Frees what c allocated on demand. The engine closes the socket itself. */
void fb_client_conn_cleanup(struct fb_client_conn *c);

/* --- Events ------------------------------------------------------------- */

/* Starts URL index on c, which must be idle (no request in flight; a kept
 * connection may be open). Then ask fb_client_next.
 */
void fb_client_start(struct fb_client_conn *c, size_t index, int64_t now);

/* The CONNECT ended: status 0 (connected; reading from now on) or a
 * negative errno (-ECONNREFUSED, -EMFILE, ...: the engine has closed or
 * will close the socket itself; no CLOSE follows).
 */
void fb_client_connected(struct fb_client_conn *c, int status, int64_t now);

/* n bytes of the SEND were sent (n may be less than asked: a SEND of the
 * rest follows), or a negative errno when sending failed.
 */
void fb_client_sent(struct fb_client_conn *c, long n, int64_t now);

/* len > 0 bytes arrived on the connection. The core parses them in place
 * and keeps no pointer into buf.
 */
void fb_client_received(struct fb_client_conn *c, const char *buf, size_t len,
                        int64_t now);

/* The connection ended for reading: err 0 at end of file, else a negative
 * errno (-ECONNRESET). Also for an idle kept-alive connection: the core then
 * asks for it to be closed.
 */
void fb_client_eof(struct fb_client_conn *c, int err, int64_t now);

/* The deadline (fb_client_deadline) may have passed: the core checks its
 * timeouts against now.
 */
void fb_client_timer(struct fb_client_conn *c, int64_t now);

/* Ends the request in flight, if any, with outcome and message (static or
 * copied), closing its connection: for the engine's cancel and teardown.
 */
void fb_client_abort(struct fb_client_conn *c, enum fb_outcome outcome,
                     const char *message, int64_t now);

/* The open connection, if any, will not be used again (the run has no more
 * URLs to start): the core asks for it to be closed.
 */
void fb_client_release(struct fb_client_conn *c);

/* --- What next ---------------------------------------------------------- */

/* Hands out the next op, in the order they must be done (a CLOSE before
 * the CONNECT that replaces it, the request's SEND once connected, DONE
 * last), filling *act for CONNECT and SEND. Call it after every event until
 * it says FB_CLIENT_WAIT.
 */
enum fb_client_op fb_client_next(struct fb_client_conn *c,
                                 struct fb_client_action *act);

/* The next instant a timeout of c may pass (connect, whole request,
 * low-speed window), or INT64_MAX when none. The engine arms its timer for
 * it after each event and calls fb_client_timer then.
 */
int64_t fb_client_deadline(const struct fb_client_conn *c);

/* While a CONNECT is out: the instant the connection must be up by (the
 * connect timeout, or the whole request's when that comes first), or
 * INT64_MAX when none; else INT64_MAX. Unlike fb_client_deadline, a fixed
 * point (the low-speed window does not move it): for an engine that bounds
 * the connect itself (io_uring's linked timeout). When it has passed,
 * fb_client_timer ends the request.
 */
int64_t fb_client_connect_deadline(const struct fb_client_conn *c);

/* After DONE: the request's result. r->message is borrowed from c until
 * its next start.
 */
void fb_client_result(const struct fb_client_conn *c, struct fb_result *r);

/* 1 while a request is in flight on c. */
static inline int fb_client_busy(const struct fb_client_conn *c) {
  return c->active;
}

#endif /* FB_CLIENT_CLIENT_H */
