#ifndef FETCHBENCH_ORIGIN_H
#define FETCHBENCH_ORIGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The loopback origin: an HTTP/1.1 server on libuv and llhttp that serves a
 * corpus with emulated latency, bandwidth and faults.
 *
 * Every request may override the server's settings in its query string:
 *   delay=MS         before the first byte (at most one hour)
 *   jitter=MS        delay +/- up to this, from a hash of (seed, target)
 *   rate=BYTES_PER_S the body paced at this rate
 *   fault=NAME       one of FB_FAULT_MAP, or "none" to escape the spec
 *   status=CODE      a small text/plain answer with this status (200-599,
 *                    not 204 or 304)
 *   close=1          answer with Connection: close, then close
 * e.g. GET /intro/tutorial01.html?delay=50&fault=reset_body. Unknown keys
 * are ignored; a bad value is answered 400. Special paths:
 *   /__index         the corpus paths, one per line
 *   /__bytes/N       N bytes (up to 2^40): byte i is
 *                    "a..z0..9A..Z-_"[i % 64]
 *   /__stats         counters as JSON (connections, requests, queued_bytes)
 * Paths are percent-decoded and normalised; a ".." above the root (in any
 * encoding) is answered 400, a missing page 404. "dir/" is dir/index.html,
 * and "dir/page/" or "dir/page" also find dir/page.html. Headers carry no
 * date: the same request gets the same bytes.
 *
 * Requests are parsed strictly: llhttp without lenient flags, and before it
 * a check of the head that refuses bare CR or LF, obs-fold, whitespace
 * before a colon and control bytes (400); heads over max_header_bytes or
 * with more than 100 header lines get 431, request lines over it 414;
 * chunk extensions, trailers and a chunk not followed by CRLF get 400.
 * Every such error answer closes the connection.
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
  XX(CLOSE_IDLE, close_idle, "answered, then the keep-alive closed at once")

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
};

/* Fills cfg with the defaults: 127.0.0.1, port 0, default corpus, no delay,
 * no faults, seed 1, 20000 connections, 10 s header timeout, 60 s idle
 * timeout, 8 KiB of headers, 1 MiB write queue, no pinning.
 */
void fb_origin_config_init(struct fb_origin_config *cfg);

/* Checks a fault spec ("name=probability,..."; probabilities in [0, 1]
 * summing to at most 1). Returns 0 or FB_ESPEC with the reason in err.
 */
int fb_origin_check_faults(const char *spec, char *err, size_t errlen);

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
  char base_url[64]; /* "http://127.0.0.1:PORT" */
};

/* Forks a child that runs the origin (pinned to cfg->cpu when >= 0) and
 * waits until it listens. The child keeps only stderr of the parent's
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
