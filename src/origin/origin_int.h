/* SPDX-License-Identifier: MIT */
#ifndef FB_ORIGIN_INT_H
#define FB_ORIGIN_INT_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "fetchbench/corpus.h"
#include "fetchbench/origin.h"
#include "origin/alarm.h"
#include "origin/tcp.h"
#include "origin/tlsconn.h"

/* Limits that are not worth a setting. */
#define FB__MAX_HEADERS 100            /* header lines per request, else 431 */
#define FB__MAX_REQUEST_BODY (1 << 20) /* request body bytes, else 413 */
#define FB__MAX_PENDING_INPUT (64 << 10) /* read ahead while answering */
#define FB__READ_BUF (64 << 10)
#define FB__MAX_DELAY_MS 3600000u
#define FB__MAX_SEGS 8
#define FB__MAX_RTT_MS 60000u
/* Below this, a corpus body goes out copied, in one sendmsg with its head;
 * from it on, with sendfile (plain HTTP).
 */
#define FB__SENDFILE_MIN (16u << 10)

/* --- Fault spec (faults.c) ------------------------------------------------ */

/* A compiled fault spec: for each mode, the upper end of its slice of
 * [0, 2^64), in enum order, so a request's hash picks at most one mode.
 */
struct fb__faults {
  uint64_t upper[FB_FAULT_COUNT];
  int any;
};

int fb__faults_compile(struct fb__faults *f, const char *spec, char *err,
                       size_t errlen);

/* The fault for a request target under seed, or FB_FAULT_NONE. */
enum fb_fault fb__faults_pick(const struct fb__faults *f, uint64_t seed,
                              const char *target, size_t len);

/* delay_ms moved by up to +/- jitter_ms, from a hash of (seed, target). */
unsigned fb__faults_jitter(unsigned delay_ms, unsigned jitter_ms, uint64_t seed,
                           const char *target, size_t len);

/* --- Request target (path.c, query.c) ------------------------------------- */

/* Decodes and normalises the path of a request target into out (at least
 * len + 1 bytes), without the leading '/': "%2e" and "." segments are
 * resolved, a ".." that would leave the root is refused. Returns the length,
 * or -400 for a target that is malformed or escapes the root.
 */
int fb__path_normalize(const char *target, size_t len, char *out,
                       size_t outlen);

struct fb__query {
  int has_delay, has_jitter, has_rate, has_status, has_rtt;
  unsigned delay_ms, jitter_ms, rtt_ms;
  uint64_t rate;
  int fault; /* -1: none asked, else an enum fb_fault (NONE: "none") */
  int status;
  int close;
};

/* Parses the query string q (after '?', len bytes). Unknown keys are
 * ignored. Returns 0, or -400 for a bad value.
 */
int fb__query_parse(const char *q, size_t len, struct fb__query *out);

/* --- Strict request head scanner (headscan.c) ----------------------------- */

enum fb__headscan_state {
  FB__SCAN_LINE = 0, /* the request line */
  FB__SCAN_LINE_CR,
  FB__SCAN_FIELD_START,
  FB__SCAN_NAME,
  FB__SCAN_VALUE,
  FB__SCAN_VALUE_CR,
  FB__SCAN_END_CR,
  FB__SCAN_DONE,
};

struct fb__headscan {
  uint8_t state;
  uint32_t bytes;
  uint32_t line_bytes;
  uint32_t headers;
};

/* Checks up to len bytes of a request head against RFC 9112 framing (CRLF
 * only, no bare CR or LF, no obs-fold, token field names with no space
 * before the colon, no control bytes). Sets *used to the bytes that belong
 * to the head (through its final CRLF when it ends here). Returns 0, or the
 * status to answer: 400, 414 (request line over max) or 431 (head over max
 * or too many headers).
 */
int fb__headscan(struct fb__headscan *s, const char *p, size_t len, size_t max,
                 size_t *used);

/* --- Responses (respond.c builds, writer.c writes) ------------------------ */

enum fb__after {
  FB__AFTER_KEEP,  /* next request */
  FB__AFTER_CLOSE, /* shut down (TLS: close_notify first), drain, close */
  FB__AFTER_CUT,   /* as CLOSE, without TLS's close_notify */
  FB__AFTER_RESET, /* RST */
  FB__AFTER_STALL, /* say nothing more until the client goes */
};

/* A slice of a response: len bytes at base, or, when period is non-zero, the
 * period bytes at base repeated for len bytes (UINT64_MAX: without end).
 */
struct fb__seg {
  const char *base;
  uint64_t len;
  size_t period;
  int64_t file_off; /* the same bytes in the corpus file there, or -1 */
};

struct fb__resp {
  struct fb__seg segs[FB__MAX_SEGS];
  int nsegs;
  int seg;          /* current segment */
  uint64_t seg_off; /* bytes of it already written */
  uint64_t pos;     /* bytes of the response already written */
  uint64_t rate;    /* bytes per second within [pace_from, pace_to) */
  uint64_t pace_from, pace_to;
  int64_t pace_t0; /* when pos reached pace_from, 0 before */
  int direct;      /* unpaced, with file segments: send(MSG_MORE)+sendfile */
  enum fb__after after;
  int status;
  unsigned delay_ms;
  int64_t due_ns; /* the first byte not before then (fb_clock_ns) */
  char *owned;    /* freed when the response ends */
};

/* --- Connections ---------------------------------------------------------- */

/* What the HTTP layer waits for. */
enum fb__phase {
  FB__PH_IDLE,  /* waiting for a request: idle or header timeout */
  FB__PH_HEAD,  /* inside a request: header timeout */
  FB__PH_DELAY, /* emulated latency before the first byte */
  FB__PH_PACE,  /* waiting to send the next paced slice */
  FB__PH_WRITE, /* a write the client does not drain: idle timeout */
  FB__PH_STALL, /* stalled on purpose: idle timeout */
};

struct fb_origin;
struct fb__tlsconn;

/* A connection: the transport at the bottom (t), TLS in the middle when the
 * origin serves it, HTTP on top (the rest).
 */
struct fb__conn {
  struct fb__tcp t;
  struct fb_origin *o;
  struct fb__conn *prev, *next;
  const struct fb__stream *stream; /* what HTTP writes to */
  struct fb__tlsconn *tls;         /* NULL: plain */
  /* The writer's event for the HTTP layer: a response that keeps the
   * connection went out in full outside fb__writer_pump's own call.
   */
  void (*response_done)(struct fb__conn *c);
  llhttp_t parser;
  enum fb__phase phase;
  unsigned busy : 1, eof : 1, ended : 1, in_head : 1, in_body : 1, ready : 1,
      keep_alive : 1, host_seen : 1, host_twice : 1, field_host : 1;
  struct fb__headscan scan;
  int err_status;
  uint8_t method;
  uint8_t http_major, http_minor;
  uint8_t crlf_need; /* bytes of a chunk's CRLF still to check */
  uint8_t field_len; /* bytes of the current field name, up to 5 */
  uint64_t chunk_left;
  uint64_t body_bytes;
  const char *feed_end; /* end of the bytes llhttp is parsing */
  char *url;
  size_t url_len, url_cap;
  char *in; /* input read while answering, not yet parsed */
  size_t in_off, in_len, in_cap;
  struct fb__resp resp;
  char url_inline[128];
  char hbuf[384]; /* small response heads and bodies */
};

/* conn.c: a connection's assembly of the layers. */

/* Accepts a connection from the listener (or refuses it beyond
 * max_connections, or when stopping).
 */
void fb__conn_accept(struct fb_origin *o);

/* Serves an already connected stream socket fd as a connection of o, as if
 * accepted: for the fuzz target, which feeds one end of a socketpair. fd is
 * the connection's once this returns 0. Returns 0 or a negative errno.
 */
int fb__conn_open(struct fb_origin *o, uv_os_sock_t fd);

/* http.c: the HTTP layer's events and its llhttp settings. */
extern const struct fb__up fb__http_up;
void fb__http_settings(llhttp_settings_t *s);

/* Sets up c's HTTP state (parser, buffers) before its stream starts. */
void fb__http_init(struct fb__conn *c);

/* Frees what c's HTTP state holds. */
void fb__http_free(struct fb__conn *c);

/* respond.c: builds the response to the parsed request in c and starts it.
 * Returns as fb__writer_pump.
 */
int fb__respond(struct fb__conn *c);

/* Starts an error response (400, 413, 414, 431, 505) that closes. */
int fb__respond_error(struct fb__conn *c, int status);

/* stats.c: the answer to GET /__stats in c->resp. Returns 0 or -ENOMEM. */
int fb__stats_response(struct fb__conn *c, int head_only);

/* writer.c: the response in c->resp goes out. */

/* Writes what the response allows now, or after its delay. Returns 1 when
 * it was written in full at once (the connection goes on), 0 when it goes
 * on later (timer, pending write; c->response_done comes if it keeps the
 * connection), -1 when the connection was closed.
 */
int fb__writer_start(struct fb__conn *c);

/* The stream took the pending write: goes on as fb__writer_start. */
int fb__writer_pump(struct fb__conn *c);

/* Response pieces, used by respond.c and the fault modes. */
void fb__writer_add(struct fb__resp *r, const void *base, uint64_t len,
                    size_t period);
/* A segment also held in the corpus file at file_off: it may go out with
 * sendfile, the kernel referencing the pages instead of copying them.
 */
void fb__writer_add_file(struct fb__resp *r, const void *base, uint64_t len,
                         int64_t file_off);
void fb__writer_clear(struct fb__conn *c);

/* Formats into c->hbuf, or a malloc'd buffer owned by the response when it
 * does not fit. Once per response: the buffer is the response's. Returns
 * NULL when out of memory.
 */
const char *fb__writer_printf(struct fb__conn *c, size_t *len, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

/* heads.c: pieces of response heads. */
const char *fb__heads_reason(int status);

/* The end of a head: the Connection line the request calls for and CRLF. */
const char *fb__heads_end(const struct fb__conn *c);

/* A small text/plain response ("404 Not Found\n") in c->resp. */
int fb__heads_status(struct fb__conn *c, int status, int head_only);

/* What a fault mode needs to know about the request. */
struct fb__route {
  const char *head; /* status line and headers, without the final CRLF */
  size_t head_len;
  const char *body;
  uint64_t body_len;
  size_t body_period;    /* see struct fb__seg */
  int64_t body_file_off; /* see struct fb__seg */
  const char *content_type;
  int head_only;      /* HEAD request */
  uint64_t rate;      /* rate= of the query, 0 when absent */
  const char *target; /* the request target, as received */
  size_t target_len;
};

/* faultmodes.c: sets up c->resp for fault f on a response that would have
 * been route. Returns 0 or -ENOMEM.
 */
int fb__faultmodes_apply(struct fb__conn *c, enum fb_fault f,
                         const struct fb__route *route);

/* gzbomb.c: the gzip body of 1 GiB of zeros, built on first use. */
int fb__gzbomb(struct fb_origin *o, const unsigned char **body, size_t *len);

/* pattern.c: the repeated pattern of generated bodies, FB__PATTERN bytes:
 * byte i is FB__ALPHABET[i % 64].
 */
#define FB__PATTERN (64 << 10)
#define FB__ALPHABET                                                           \
  "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
const char *fb__pattern_text(void);

/* --- The server ----------------------------------------------------------- */

struct fb__stats {
  uint64_t accepted, refused, requests, responses, errors, faults;
  uint64_t body_sendfile;  /* bytes sent with sendfile */
  uint64_t body_ssl_write; /* bytes encrypted with SSL_write */
};

struct fb_origin {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t stop_async;
  uv_signal_t sigint, sigterm;
  int stopping, ran, signals;
  struct fb_origin_config cfg; /* strings cleared: only used by create */
  struct fb_corpus *corpus;
  struct fb__faults faults;
  llhttp_settings_t settings;
  int port;
  struct fb__conn *conns;
  unsigned nconns;
  char *rbuf;
  char *heads; /* per page: "HTTP/1.1 200 OK\r\n...Content-Length: N\r\n" */
  uint32_t *head_off, *head_len;
  char *index_head, *index_body;
  size_t index_head_len, index_body_len;
  unsigned char *gzbomb;
  size_t gzbomb_len;
  int corpus_fd; /* the corpus memfd, or -1 */
  struct fb__alarms alarms;
  struct fb__stats stats;
  struct fb__tlsserver tls;
};

#endif /* FB_ORIGIN_INT_H */
