/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_ERROR_H
#define FETCHBENCH_ERROR_H

/* Errors of the machinery. Every fallible function returns 0 or a negative
 * code: either -errno (a system call failed) or one of the FB_E* codes below,
 * which sit far below any errno value. A failed *request* is not an error of
 * this kind: it is an outcome recorded in its result (result.h).
 */

/* XX(name, message) */
#define FB_ERRNO_MAP(XX)                                                       \
  XX(USAGE, "invalid argument or option")                                      \
  XX(URL, "invalid URL")                                                       \
  XX(EMPTY, "no URLs")                                                         \
  XX(RANGE, "value out of range")                                              \
  XX(SPEC, "invalid specification")                                            \
  XX(CURL, "libcurl failure")                                                  \
  XX(UV, "libuv failure")                                                      \
  XX(DUPLICATE, "second result for one URL")                                   \
  XX(LOST, "URL without a result")                                             \
  XX(CANCELED, "run cancelled")                                                \
  XX(WORKERS, "workers keep dying")                                            \
  XX(CORPUS, "corpus unusable")                                                \
  XX(ORIGIN, "origin failed to start")                                         \
  XX(NOFILE, "open-files limit too low")                                       \
  XX(TLS, "TLS failure")                                                       \
  XX(TLSEOF, "TLS connection cut without close_notify")                        \
  XX(TLSVERIFY, "TLS certificate verification failed")                         \
  XX(CERT, "unusable certificate or key")                                      \
  XX(RESULTS, "malformed results file")                                        \
  XX(SHARDS, "shards do not cover the list exactly once")                      \
  XX(UNAVAIL, "engine unavailable on this system")

enum fb_errno {
  FB__EBASE = -5000,
#define FB_ERRNO_ENUM(name, msg) FB_E##name,
  FB_ERRNO_MAP(FB_ERRNO_ENUM)
#undef FB_ERRNO_ENUM
      FB__ELAST
};

/* Returns a static description of err (an FB_E* code or -errno). */
const char *fb_strerror(int err);

/* Returns the static name of err ("FB_EURL", "ENOENT", ...). */
const char *fb_err_name(int err);

#endif /* FETCHBENCH_ERROR_H */
