/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_RESULT_H
#define FETCHBENCH_RESULT_H

#include <stdint.h>

/* What became of one request. A failed request is data, not an error of the
 * run: every URL of a run ends with exactly one of these.
 *
 * XX(NAME, name, description)
 */
#define FB_OUTCOME_MAP(XX)                                                     \
  XX(OK, ok, "success")                                                        \
  XX(HTTP, http, "HTTP status 400 or above")                                   \
  XX(RESOLVE, resolve, "host name not resolved")                               \
  XX(CONNECT, connect, "connection failed")                                    \
  XX(TLS, tls, "TLS failure")                                                  \
  XX(SEND, send, "sending failed")                                             \
  XX(RECV, recv, "receiving failed or response cut short")                     \
  XX(TIMEOUT, timeout, "timed out")                                            \
  XX(RESOURCE, resource, "out of a local resource (open files, memory)")       \
  XX(TOO_LARGE, too_large, "body over the size cap")                           \
  XX(PROTOCOL, protocol, "malformed response or refused protocol")             \
  XX(REDIRECT, redirect, "too many redirects")                                 \
  XX(LOST, lost, "worker lost while holding the request")                      \
  XX(CANCELLED, cancelled, "run cancelled before the request ended")           \
  XX(NOT_RUN, not_run, "run aborted before the request started")               \
  XX(OTHER, other, "other failure")

enum fb_outcome {
#define FB_OUTCOME_ENUM(NAME, name, desc) FB_OUTCOME_##NAME,
  FB_OUTCOME_MAP(FB_OUTCOME_ENUM)
#undef FB_OUTCOME_ENUM
      FB_OUTCOME_COUNT
};

/* Static lower-case name ("ok", "too_large", ...), or "?" when out of range. */
const char *fb_outcome_name(enum fb_outcome outcome);

/* Static one-line description. */
const char *fb_outcome_describe(enum fb_outcome outcome);

/* Parses a name back; returns the outcome or -1. */
int fb_outcome_parse(const char *name);

/* Longest error message a result keeps (libcurl's CURL_ERROR_SIZE). */
#define FB_MESSAGE_MAX 256

/* How a request's TLS session began, when it opened a connection. */
enum fb_handshake {
  FB_HANDSHAKE_NONE = 0, /* plain http, or a connection already open */
  FB_HANDSHAKE_FULL,     /* a full TLS handshake */
  FB_HANDSHAKE_RESUMED   /* an abbreviated one: a session resumed */
};

/* One request's result. Times are nanoseconds on the monotonic clock,
 * relative to the run's start (fb_collector_t0); a phase that did not happen
 * is -1.
 */
struct fb_result {
  uint32_t index;       /* URL index in the set */
  uint32_t worker;      /* 0-based worker that did it */
  uint16_t outcome;     /* enum fb_outcome */
  uint16_t http_status; /* last response status, 0 when none */
  int32_t error_code;   /* CURLcode; for lost: signal or exit status */
  uint8_t reused;       /* 1 when an existing connection carried it */
  uint8_t handshake;    /* enum fb_handshake of its connection */
  uint8_t pad_[6];      /* keeps the record's layout fixed */
  uint64_t body_bytes;  /* body bytes received (kept on failure too) */
  uint64_t checksum;    /* XXH3-64 of the body bytes received */
  int64_t t_due;        /* open loop: when it was due to start; else -1 */
  int64_t t_start;      /* request handed to the client library */
  int64_t t_connected;  /* TCP connected */
  int64_t t_tls;        /* TLS established (https on a new connection) */
  int64_t t_first_byte; /* first response byte */
  int64_t t_done;       /* request ended, success or not */
  const char *message;  /* error text, NULL when none; see collector.h */
};

/* Zeroes *r and sets every time to -1 (no phase happened yet). */
void fb_result_init(struct fb_result *r);

#endif /* FETCHBENCH_RESULT_H */
