/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_ORIGIN_H
#define FETCHBENCH_ORIGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The loopback origin: an HTTP/1.1 server on libuv and llhttp that serves a
 * corpus with emulated latency, round trips, bandwidth and faults, over
 * plain TCP or TLS (cfg.tls: TLS 1.2 and 1.3, ALPN http/1.1, session
 * tickets and IDs unless tls_resume is 0).
 *
 * Every request may override the server's settings in its query string:
 *   delay=MS         before the first byte (at most one hour)
 *   jitter=MS        delay +/- up to this, from a hash of (seed, target)
 *   rate=BYTES_PER_S the body paced at this rate
 *   fault=NAME       one of FB_FAULT_MAP, or "none" to escape the spec
 *   status=CODE      a small text/plain answer with this status (200-599,
 *                    not 204 or 304)
 *   close=1          answer with Connection: close, then close
 *   rtt=MS           the emulated round trip from this response on (at
 *                    most one minute)
 * e.g. GET /intro/tutorial01.html?delay=50&fault=reset_body. Unknown keys
 * are ignored; a bad value is answered 400. Special paths:
 *   /__index         the corpus paths, one per line
 *   /__bytes/N       N bytes (up to 2^40): byte i is
 *                    "a..z0..9A..Z-_"[i % 64]
 *   /__stats         counters as JSON (connections, requests, queued_bytes;
 *                    the bytes bodies sent by sendfile and by SSL_write;
 *                    with TLS, handshakes by version, resumed, failed, timed
 *                    out or faulted, those under way and waiting, and
 *                    OpenSSL's heap when the program counts it)
 * Paths are percent-decoded and normalised; a ".." above the root (in any
 * encoding) is answered 400, a missing page 404. "dir/" is dir/index.html,
 * and "dir/page/" or "dir/page" also find dir/page.html. Headers carry no
 * date: the same request gets the same bytes.
 *
 * Round trips: this kernel has no netem, so the transport emulates a path
 * of round trip rtt: each flight of bytes the origin sends (the answer to
 * the client's last flight: a TLS handshake message, a response) leaves
 * one round trip after its first write, and the first flight of a
 * connection one more (the TCP handshake the loopback did at once), less
 * the time the client waited before sending. With rtt 50 and no delay, a
 * page costs ~100 ms on a new plain connection, ~150 ms on a new TLS 1.3
 * one (~200 with TLS 1.2) and ~50 ms on a kept-alive one; a delay adds to
 * it. cfg.rtt_ms sets it for every flight of every connection, the TLS
 * handshake's included; ?rtt= only for what follows the request it rides
 * on (the request was parsed after the handshake and after its own flight
 * arrived): the response, and the flights after it on that connection.
 * Bytes the client sends while an answer is still going out (pipelining)
 * start no new flight.
 *
 * Requests are parsed strictly: llhttp without lenient flags, and before it
 * a check of the head that refuses bare CR or LF, obs-fold, whitespace
 * before a colon and control bytes (400); heads over max_header_bytes or
 * with more than 100 header lines get 431, request lines over it 414;
 * chunk extensions, trailers and a chunk not followed by CRLF get 400, as
 * does an HTTP/1.1 request without Host and any request with two (RFC 9112,
 * 3.2). Every such error answer closes the connection.
 *
 * TLS faults: those of the handshake come before any request, so neither
 * ?fault= nor a fault spec can ask for them: the server name the client
 * sends does, the fault's name with dashes as its first label, e.g.
 * https://tls-stall.localhost:PORT/ (curl resolves every *.localhost name
 * to the loopback itself). tls_cut is asked for like the others.
 */

/* Fault modes. XX(NAME, name, description) */
#define FB_FAULT_MAP(XX)                                                       \
  XX(RESET, reset, "connection reset before the response")                     \
  XX(RESET_BODY, reset_body, "connection reset in the middle of the body")     \
  XX(SHORT, short, "Content-Length larger than the body sent, then close")     \
  XX(STALL, stall, "request read, never answered")                             \
  XX(SLOW_HEADERS, slow_headers, "headers sent one byte at a time")            \
  XX(HTTP500, http500, "500 Internal Server Error")                            \
  XX(HTTP503, http503, "503 Service Unavailable")                              \
  XX(MALFORMED, malformed, "malformed status line")                            \
  XX(CLOSE, close, "connection closed with no reply")                          \
  XX(TRICKLE, trickle, "body sent one byte per second")                        \
  XX(CHUNKED_CUT, chunked_cut, "chunked body cut off before its last chunk")   \
  XX(BAD_CHUNK, bad_chunk, "invalid chunk size")                               \
  XX(BAD_LENGTH, bad_length, "invalid Content-Length")                         \
  XX(NEGATIVE_LENGTH, negative_length, "negative Content-Length")              \
  XX(HTTP09, http09, "HTTP/0.9 reply: body without a status line")             \
  XX(HUGE_HEADER, huge_header, "one response header of 100 KiB")               \
  XX(MANY_HEADERS, many_headers, "5000 response headers")                      \
  XX(REDIRECT_LOOP, redirect_loop, "redirect to itself, forever")              \
  XX(REDIRECT_FILE, redirect_file, "redirect to a file:// URL")                \
  XX(GZIP_BOMB, gzip_bomb, "small gzip body that inflates to 1 GiB")           \
  XX(HUGE_BODY, huge_body, "a 1 GiB body with a correct Content-Length")       \
  XX(ENDLESS, endless, "chunked body that never ends")                         \
  XX(CONTINUE, continue, "100 Continue and no final status")                   \
  XX(CLOSE_IDLE, close_idle, "answered, then the keep-alive closed at once")   \
  XX(TLS_STALL, tls_stall,                                                     \
     "TLS, by server name tls-stall.localhost: ClientHello read, never "       \
     "answered")                                                               \
  XX(TLS_GARBAGE, tls_garbage,                                                 \
     "TLS, by server name tls-garbage.localhost: garbage instead of a "        \
     "ServerHello, then close")                                                \
  XX(TLS_RESET, tls_reset,                                                     \
     "TLS, by server name tls-reset.localhost: the server's first flight "     \
     "cut by a reset")                                                         \
  XX(TLS_WRONG_NAME, tls_wrong_name,                                           \
     "TLS, by server name tls-wrong-name.localhost: a certificate for "        \
     "other.invalid only")                                                     \
  XX(TLS_EXPIRED, tls_expired,                                                 \
     "TLS, by server name tls-expired.localhost: an expired certificate")      \
  XX(TLS_CUT, tls_cut,                                                         \
     "as short, with a FIN but no TLS close_notify (over plain HTTP: short)")

enum fb_fault {
  FB_FAULT_NONE = 0,
#define FB_FAULT_ENUM(NAME, name, desc) FB_FAULT_##NAME,
  FB_FAULT_MAP(FB_FAULT_ENUM)
#undef FB_FAULT_ENUM
      FB_FAULT_COUNT
};

/* Static name of a fault ("none" for FB_FAULT_NONE), or "?". */
const char *fb_fault_name(enum fb_fault f);

/* The fault called name (len bytes), or -1. */
int fb_fault_parse(const char *name, size_t len);

/* 1 for the faults of the TLS handshake, chosen by server name only. */
int fb_fault_in_handshake(enum fb_fault f);

struct fb_origin_config {
  const char *host;           /* bind address, default "127.0.0.1" */
  int port;                   /* 0: an ephemeral port */
  const char *corpus;         /* see fb_corpus_open; NULL: the default */
  unsigned delay_ms;          /* before the first byte of every response */
  unsigned jitter_ms;         /* delay +/- up to this, per request */
  uint64_t rate;              /* body bytes per second, 0: unlimited */
  unsigned rtt_ms;            /* emulated round trip, see above; 0: none */
  const char *faults;         /* "reset=0.01,stall=0.002", NULL: none */
  uint64_t seed;              /* for jitter, faults and the synthetic corpus */
  unsigned max_connections;   /* beyond it new connections are closed */
  unsigned header_timeout_ms; /* a request's headers must arrive by then */
  unsigned idle_timeout_ms;   /* idle keep-alive connections are closed */
  size_t max_header_bytes;    /* over it: 431 */
  size_t max_write_queue;     /* response bytes queued per connection */
  int cpu;                    /* fb_origin_spawn: pin to this CPU, -1: no */
  /* TLS. Without cert_file and key_file (both or neither), a fresh EC
   * P-256 key and a self-signed certificate for 127.0.0.1, ::1 and
   * localhost; cert_out, when set, receives its PEM (and that of the
   * certificates of the tls_wrong_name and tls_expired faults, so that a
   * client trusting the file sees those faults for what they are).
   */
  int tls;                       /* serve TLS instead of plain HTTP */
  const char *cert_file;         /* PEM certificate (and chain) */
  const char *key_file;          /* PEM private key matching it */
  const char *cert_out;          /* the certificates' PEM is written here */
  int tls_resume;                /* 1: session tickets and IDs; 0: none */
  unsigned handshake_timeout_ms; /* a TLS handshake must end by then */
  /* TLS handshakes at once; beyond it new connections wait, unread, for
   * one to end (their handshake timeout runs from the accept).
   */
  unsigned max_handshakes;
};

/* Fills cfg with the defaults: 127.0.0.1, port 0, default corpus, no delay,
 * no round trip, no faults, seed 1, 20000 connections, 10 s header
 * timeout, 60 s idle timeout, 8 KiB of headers, 1 MiB write queue, no
 * pinning; plain HTTP, or TLS with resumption, a 10 s handshake timeout
 * and 256 handshakes at once.
 */
void fb_origin_config_init(struct fb_origin_config *cfg);

/* Checks a fault spec ("name=probability,..."; probabilities in [0, 1]
 * summing to at most 1). Returns 0 or FB_ESPEC with the reason in err.
 */
int fb_origin_check_faults(const char *spec, char *err, size_t errlen);

/* Makes GET /__stats report the heap OpenSSL holds (tls.heap_bytes, for
 * memory per TLS connection). Only before anything in the process has
 * loaded OpenSSL (first thing in main, before curl_global_init). Returns 0,
 * or FB_ETLS when too late; the count then stays 0.
 */
int fb_origin_count_tls_heap(void);

/* --- In-process server --------------------------------------------------- */

struct fb_origin;

/* Loads the corpus, binds and listens on a loop of its own. Returns 0 or a
 * negative code with the reason in err (bad fault spec, unreadable corpus,
 * address in use...). Raises the soft RLIMIT_NOFILE to the hard limit, and
 * ignores SIGPIPE when its action is the default.
 */
int fb_origin_create(struct fb_origin **out, const struct fb_origin_config *cfg,
                     char *err, size_t errlen);

/* The bound port (the real one when cfg->port was 0). */
int fb_origin_port(const struct fb_origin *o);

/* Writes one line (no newline) saying how the origin serves: for TLS, its
 * versions, resumption, the certificate (generated or loaded, and where
 * its PEM went) and the path bodies take (SSL_write from the corpus
 * mapping, and whether the kernel offers kTLS); for plain HTTP, sendfile.
 * Returns buf.
 */
char *fb_origin_describe(const struct fb_origin *o, char *buf, size_t len);

/* Serves until fb_origin_stop or SIGINT/SIGTERM (when handle_signals is
 * non-zero), then closes every connection and handle. Returns 0 or -errno
 * (-EALREADY: a server runs once). With handle_signals, SIGINT and SIGTERM
 * are unblocked in the calling thread once handled: block them before
 * fb_origin_create and one that arrives before run is handled, not fatal.
 */
int fb_origin_run(struct fb_origin *o, int handle_signals);

/* Asks a running server to stop; safe from any thread. */
void fb_origin_stop(struct fb_origin *o);

/* Frees a server that is not running. NULL is allowed. */
void fb_origin_destroy(struct fb_origin *o);

/* --- As a child process -------------------------------------------------- */

struct fb_origin_proc {
  pid_t pid;
  int port;
  char base_url[64]; /* "http://127.0.0.1:PORT", https with cfg->tls */
};

/* Forks a child that runs the origin (pinned to cfg->cpu when >= 0) and
 * waits until it listens (with TLS, its certificate written to
 * cfg->cert_out by then). The child keeps only stderr of the parent's
 * descriptors and dies with the parent (PR_SET_PDEATHSIG: with the calling
 * thread, in fact, so spawn from a thread that outlives the child). The
 * child leads a process group of its own, so a Ctrl-C at the terminal reaches
 * the client only, which then stops the origin with fb_origin_reap. Returns
 * 0 or a negative code with the reason in err; on error no child is left.
 */
int fb_origin_spawn(struct fb_origin_proc *p,
                    const struct fb_origin_config *cfg, char *err,
                    size_t errlen);

/* Stops the child (SIGTERM, then SIGKILL after a grace period) and reaps it.
 * Returns 0 when it exited cleanly, else a negative code.
 */
int fb_origin_reap(struct fb_origin_proc *p);

#endif /* FETCHBENCH_ORIGIN_H */
