/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "client/client_int.h"
#include "fetchbench/clock.h"
#include "fetchbench/schedule.h"
#include "tls/tls.h"

/* A transfer slot's state machine: its connection (none, connecting, open)
 * and the request in flight, driven by the engine's events and answered
 * with ops (client.h).
 */

void fb__client_fail(struct fb_client_conn *c, enum fb_outcome outcome,
                     int code, const char *fmt, ...) {
  va_list ap;

  if (c->failed)
    return;
  c->failed = 1;
  c->outcome = (uint16_t)outcome;
  c->code = code;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
  va_end(ap);
}

static const struct fb__ep *ep_of(const struct fb_client_conn *c, uint32_t ep) {
  return &c->cl->eps[ep];
}

static int64_t ms_since(int64_t since, int64_t now) {
  return (now - since) / FB_NS_PER_MS;
}

void fb_client_conn_init(struct fb_client_conn *c, struct fb_client *cl,
                         unsigned worker) {
  memset(c, 0, sizeof(*c));
  c->cl = cl;
  c->worker = worker;
  c->conn_ep = FB__NO_EP;
  c->ep = FB__NO_EP;
  c->deadline = INT64_MAX;
  c->connect_deadline = INT64_MAX;
  fb__response_parser(c);
}

void fb_client_conn_cleanup(struct fb_client_conn *c) {
  fb__wire_free(c);
  fb__decode_free(c);
  free(c->url);
  free(c->target);
  free(c->location);
  c->url = c->target = c->location = NULL;
  c->location_cap = 0;
}

/* Forgets the connection; the engine closes it on the next CLOSE, unless
 * it never heard of it (a CONNECT not handed out yet).
 */
static void close_conn(struct fb_client_conn *c) {
  if (c->pending & FB__OP_CONNECT)
    c->pending &= ~FB__OP_CONNECT;
  else if (c->sock != FB__SOCK_NONE)
    c->pending |= FB__OP_CLOSE;
  c->pending &= ~FB__OP_SEND;
  c->sock = FB__SOCK_NONE;
  c->sending = 0;
  c->keep = 0;
  c->conn_ep = FB__NO_EP;
  c->connect_deadline = INT64_MAX;
  /* Its ciphertext may still be on its way out: kept until the slot's
   * next connection (client.h).
   */
  if (c->tls != NULL)
    c->tls_dead = 1;
  c->tls_hs = 0;
  c->send_busy = 0;
}

void fb__client_close(struct fb_client_conn *c) {
  close_conn(c);
}

/* The request ended: the verdict stands, DONE is next. */
static void finish(struct fb_client_conn *c, int64_t now) {
  c->active = 0;
  c->resp_done = 0;
  c->t_done = now;
  c->deadline = INT64_MAX;
  c->pending |= FB__OP_DONE;
  fb__decode_free(c);
}

static void fail_close(struct fb_client_conn *c, int64_t now) {
  close_conn(c);
  finish(c, now);
}

void fb__client_fail_close(struct fb_client_conn *c, int64_t now) {
  fail_close(c, now);
}

/* The connection of the request in flight speaks TLS. */
static int is_tls(const struct fb_client_conn *c) {
  return c->tls != NULL && !c->tls_dead;
}

static void connect_start(struct fb_client_conn *c, int64_t now) {
  long ms = c->cl->job->connect_timeout_ms;

  c->pending |= FB__OP_CONNECT;
  c->sock = FB__SOCK_CONNECTING;
  c->conn_ep = c->ep;
  c->new_conn = 1;
  c->connect_deadline = ms > 0 ? now + ms * FB_NS_PER_MS : INT64_MAX;
  c->cl->k.connects++;
}

/* "GET " prefix target tail, as iovecs into the endpoint and the URL. */
static void send_request(struct fb_client_conn *c, int64_t now) {
  const struct fb__ep *e = ep_of(c, c->ep);
  int n = 0;

  c->iov[n].iov_base = (void *)(uintptr_t) "GET ";
  c->iov[n++].iov_len = 4;
  if (e->prefix_len > 0) {
    c->iov[n].iov_base = e->prefix;
    c->iov[n++].iov_len = e->prefix_len;
  }
  c->iov[n].iov_base = (void *)(uintptr_t)c->path;
  c->iov[n++].iov_len = c->path_len;
  c->iov[n].iov_base = e->tail;
  c->iov[n++].iov_len = e->tail_len;
  c->iovcnt = n;
  c->sending = 1;
  c->resp_bytes = 0;
  c->resp_done = 0;
  c->status = 0;
  fb__response_parser(c);
  fb__response_reset(c);
  if (is_tls(c))
    fb__wire_flush(c, now);
  else
    c->pending |= FB__OP_SEND;
}

/* Sends the current hop's request on the kept connection when it goes to
 * the same place, else on a new one.
 */
static void begin_hop(struct fb_client_conn *c, int64_t now) {
  const struct fb__ep *e = ep_of(c, c->ep);
  const struct fb__ep *via = ep_of(c, e->via);

  if (via->resolve_rc != 0) {
    if (via->resolve_rc == FB__NO_PROXY_SCHEME)
      fb__client_fail(c, FB_OUTCOME_CONNECT, CURLE_COULDNT_CONNECT,
                      "proxy %s: only http:// proxies are spoken here",
                      c->cl->proxy);
    else if (e->via != c->ep)
      fb__client_fail(c, FB_OUTCOME_RESOLVE, CURLE_COULDNT_RESOLVE_PROXY,
                      "Could not resolve proxy: %s", via->host);
    else
      fb__client_fail(c, FB_OUTCOME_RESOLVE, CURLE_COULDNT_RESOLVE_HOST,
                      "Could not resolve host: %s", e->host);
    finish(c, now);
    return;
  }
  if (e->tls && c->cl->tls_ctx == NULL) {
    char err[FB_MESSAGE_MAX];
    int rc = fb__wire_ctx(c->cl, err, sizeof(err));

    if (rc != 0) {
      fb__client_fail(c, FB_OUTCOME_TLS, CURLE_SSL_CACERT_BADFILE,
                      "error setting certificate verify locations: %s", err);
      finish(c, now);
      return;
    }
  }
  if (c->sock == FB__SOCK_OPEN && c->keep && c->conn_ep == c->ep) {
    if (c->t_connected < 0)
      c->t_connected = now;
    c->conn_fresh = 0;
    c->reused_any = 1;
    c->cl->k.reuses++;
    send_request(c, now);
    return;
  }
  close_conn(c);
  c->addr_i = 0;
  connect_start(c, now);
}

void fb_client_start(struct fb_client_conn *c, size_t index, int64_t now) {
  struct fb_client *cl = c->cl;
  const struct fb_job *job = cl->job;
  const struct fb__target *t = &cl->targets[index];

  c->active = 1;
  c->index = index;
  c->failed = 0;
  c->outcome = FB_OUTCOME_OK;
  c->code = 0;
  c->msg[0] = '\0';
  c->status = 0;
  c->redirects = 0;
  c->retried = 0;
  c->too_large = 0;
  c->new_conn = 0;
  c->reused_any = 0;
  c->resp_done = 0;
  c->body_bytes = 0;
  c->resp_bytes = 0;
  c->t_start = now;
  c->t_connected = -1;
  c->t_tls = -1;
  c->handshake = FB_HANDSHAKE_NONE;
  c->t_first_byte = -1;
  c->t_done = -1;
  c->deadline =
      job->timeout_ms > 0 ? now + job->timeout_ms * FB_NS_PER_MS : INT64_MAX;
  c->slow_since = now;
  c->slow_bytes = 0;
  XXH3_64bits_reset(&c->hash);
  free(c->url);
  c->url = NULL;
  fb__response_reset(c);
  c->ep = t->ep;
  c->path = t->path;
  c->path_len = t->len;
  begin_hop(c, now);
}

/* libcurl sends a request again, once, on a new connection when a
 * connection it reused fails before any of the response came: the server
 * may have closed it while it was idle.
 */
static int can_retry(const struct fb_client_conn *c) {
  return !c->conn_fresh && c->resp_bytes == 0 && !c->retried;
}

static void retry(struct fb_client_conn *c, int64_t now) {
  c->retried = 1;
  c->cl->k.retries++;
  close_conn(c);
  c->addr_i = 0;
  connect_start(c, now);
}

static int nofile(int err) {
  return err == -EMFILE || err == -ENFILE;
}

void fb_client_connected(struct fb_client_conn *c, int status, int64_t now) {
  const struct fb__ep *e, *via;

  if (c->sock != FB__SOCK_CONNECTING || !c->active)
    return;
  /* No send of the last connection reads its ciphertext any more. */
  if (c->tls_dead)
    fb__wire_free(c);
  if (status == 0) {
    c->sock = FB__SOCK_OPEN;
    c->t_connected = now;
    c->conn_fresh = 1;
    c->keep = 0;
    if (ep_of(c, c->ep)->tls) {
      /* The connect timeout runs on through the handshake. */
      if (fb__wire_open(c) != 0) {
        fail_close(c, now);
        return;
      }
    } else {
      c->connect_deadline = INT64_MAX;
    }
    send_request(c, now);
    return;
  }
  c->sock = FB__SOCK_NONE;
  c->conn_ep = FB__NO_EP;
  c->connect_deadline = INT64_MAX;
  e = ep_of(c, c->ep);
  via = ep_of(c, e->via);
  if (nofile(status)) {
    struct rlimit rl;

    fb__client_fail(c, FB_OUTCOME_RESOURCE, CURLE_COULDNT_CONNECT,
                    "%s; open-files limit %lld: connecting to %s port %u",
                    strerror(-status),
                    getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
                            rl.rlim_cur != RLIM_INFINITY
                        ? (long long)rl.rlim_cur
                        : -1LL,
                    via->host, via->port);
    finish(c, now);
    return;
  }
  /* The next address of the host, as libcurl walks them. */
  if (++c->addr_i < via->naddr) {
    connect_start(c, now);
    c->cl->k.connects--; /* one attempt, several addresses */
    return;
  }
  fb__client_fail(c, FB_OUTCOME_CONNECT, CURLE_COULDNT_CONNECT,
                  "Failed to connect to %s port %u after %lld ms: %s",
                  via->host, via->port, (long long)ms_since(c->t_start, now),
                  strerror(-status));
  finish(c, now);
}

static void complete(struct fb_client_conn *c, int64_t now);

void fb__client_send_failed(struct fb_client_conn *c, long err, int64_t now) {
  c->sending = 0;
  if (c->resp_done) {
    c->keep = 0;
    complete(c, now);
    return;
  }
  if (can_retry(c)) {
    retry(c, now);
    return;
  }
  fb__client_fail(c, FB_OUTCOME_SEND, CURLE_SEND_ERROR, "Send failure: %s",
                  strerror((int)-err));
  fail_close(c, now);
}

void fb__client_iov_advance(struct fb_client_conn *c, size_t n) {
  while (n > 0 && c->iovcnt > 0) {
    size_t take = n < c->iov[0].iov_len ? n : c->iov[0].iov_len;

    c->iov[0].iov_base = (char *)c->iov[0].iov_base + take;
    c->iov[0].iov_len -= take;
    n -= take;
    if (c->iov[0].iov_len == 0) {
      memmove(&c->iov[0], &c->iov[1],
              (size_t)(c->iovcnt - 1) * sizeof(c->iov[0]));
      c->iovcnt--;
    }
  }
}

void fb__client_request_sent(struct fb_client_conn *c, int64_t now) {
  c->sending = 0;
  if (c->resp_done)
    complete(c, now);
}

void fb_client_sent(struct fb_client_conn *c, long n, int64_t now) {
  if (c->sock != FB__SOCK_OPEN)
    return;
  if (is_tls(c)) {
    fb__wire_sent(c, n, now);
    return;
  }
  if (!c->sending)
    return;
  if (n < 0) {
    fb__client_send_failed(c, n, now);
    return;
  }
  fb__client_iov_advance(c, (size_t)n);
  if (c->iovcnt > 0) {
    c->pending |= FB__OP_SEND;
    return;
  }
  fb__client_request_sent(c, now);
}

/* The response is whole and the request sent: follow a redirect, or end. */
static void complete(struct fb_client_conn *c, int64_t now) {
  int rc;

  c->resp_done = 0;
  if (!c->keep)
    close_conn(c);
  if (!c->redirect) {
    if (!c->failed && c->status >= 400) {
      c->outcome = FB_OUTCOME_HTTP;
      c->code = 0;
    }
    finish(c, now);
    return;
  }
  rc = fb__client_follow(c, c->location, c->location_len);
  if (rc == -ENOMEM)
    fb__client_fail(c, FB_OUTCOME_OTHER, CURLE_OUT_OF_MEMORY,
                    "out of memory following a redirect");
  if (rc != 0) {
    finish(c, now);
    return;
  }
  c->redirects++;
  c->cl->k.redirects++;
  begin_hop(c, now);
}

static void response_complete(struct fb_client_conn *c, int excess,
                              int64_t now) {
  /* Bytes after the response (pipelining we never asked for, or junk)
   * leave the connection in an unknown state: it is not reused.
   */
  c->keep = c->cl->job->connection == FB_CONN_REUSE && !excess &&
            llhttp_should_keep_alive(&c->parser);
  c->resp_done = 1;
  if (!c->sending)
    complete(c, now);
}

/* llhttp refused the response: its reason is the message. In the head it
 * is libcurl's "weird server reply" (or, for a status line it cannot read
 * at all, an unsupported protocol: HTTP/0.9); in a body, a receive error,
 * as libcurl says of bad chunks.
 */
static void parse_error(struct fb_client_conn *c, llhttp_errno_t err) {
  const char *reason = llhttp_get_error_reason(&c->parser);
  enum fb_outcome outcome = FB_OUTCOME_PROTOCOL;
  int code = CURLE_WEIRD_SERVER_REPLY;

  if (c->head_done) {
    outcome = FB_OUTCOME_RECV;
    code = CURLE_RECV_ERROR;
  } else if (err == HPE_INVALID_CONSTANT || err == HPE_INVALID_VERSION ||
             err == HPE_INVALID_STATUS) {
    code = CURLE_UNSUPPORTED_PROTOCOL;
  }
  fb__client_fail(c, outcome, code, "%s (llhttp %s)",
                  reason != NULL ? reason : "parse error",
                  llhttp_errno_name(err));
}

/* What the connection says when no response is awaited: bytes or a close
 * on an idle connection (a late answer, a 408, the server's idle timeout)
 * mean it is not one to reuse; after a complete response whose request is
 * still going out, it is not kept either. Returns 1 when that was the
 * case (or there is no connection), 0 when a response is awaited.
 */
static int idle_or_done(struct fb_client_conn *c) {
  if (c->sock != FB__SOCK_OPEN)
    return 1;
  if (!c->active) {
    c->cl->k.idle_closes++;
    close_conn(c);
    return 1;
  }
  if (c->resp_done) {
    c->keep = 0;
    return 1;
  }
  return 0;
}

void fb__client_parse(struct fb_client_conn *c, const char *buf, size_t len,
                      int64_t now) {
  llhttp_errno_t err;

  if (len == 0 || idle_or_done(c))
    return;
  if (c->resp_bytes == 0)
    c->t_first_byte = now;
  c->resp_bytes += len;
  err = llhttp_execute(&c->parser, buf, len);
  if (err == HPE_OK)
    return;
  if (err == HPE_PAUSED) {
    const char *pos = llhttp_get_error_pos(&c->parser);

    response_complete(c, pos != NULL && pos < buf + len, now);
    return;
  }
  if (err != HPE_USER)
    parse_error(c, err);
  fail_close(c, now);
}

void fb_client_received(struct fb_client_conn *c, const char *buf, size_t len,
                        int64_t now) {
  if (c->sock != FB__SOCK_OPEN || len == 0)
    return;
  c->slow_bytes += len;
  if (is_tls(c))
    fb__wire_received(c, buf, len, now);
  else
    fb__client_parse(c, buf, len, now);
}

void fb_client_eof(struct fb_client_conn *c, int err, int64_t now) {
  if (c->sock != FB__SOCK_OPEN)
    return;
  if (is_tls(c))
    fb__wire_eof(c, err, now);
  else
    fb__client_http_eof(c, err, now);
}

void fb__client_http_eof(struct fb_client_conn *c, int err, int64_t now) {
  llhttp_errno_t e;

  if (idle_or_done(c))
    return;
  if (can_retry(c)) {
    retry(c, now);
    return;
  }
  if (err != 0) {
    fb__client_fail(c, FB_OUTCOME_RECV, CURLE_RECV_ERROR, "Recv failure: %s",
                    strerror(-err));
    fail_close(c, now);
    return;
  }
  e = llhttp_finish(&c->parser);
  if (e == HPE_PAUSED) {
    /* A body delimited by the close, now whole. */
    c->keep = 0;
    c->resp_done = 1;
    if (!c->sending)
      complete(c, now);
    return;
  }
  if (e == HPE_OK && c->resp_bytes == 0)
    fb__client_fail(c, FB_OUTCOME_RECV, CURLE_GOT_NOTHING,
                    "Empty reply from server");
  else if (e == HPE_OK || !c->head_done)
    fb__client_fail(c, FB_OUTCOME_RECV, CURLE_RECV_ERROR,
                    "connection closed before the response headers ended");
  else if (c->parser.flags & F_CHUNKED)
    fb__client_fail(c, FB_OUTCOME_RECV, CURLE_PARTIAL_FILE,
                    "transfer closed with outstanding read data remaining");
  else if (e == HPE_INVALID_EOF_STATE)
    fb__client_fail(c, FB_OUTCOME_RECV, CURLE_PARTIAL_FILE,
                    "transfer closed with %llu bytes remaining to read",
                    (unsigned long long)c->parser.content_length);
  else if (e != HPE_USER)
    parse_error(c, e);
  fail_close(c, now);
}

void fb_client_timer(struct fb_client_conn *c, int64_t now) {
  const struct fb_job *job = c->cl->job;

  if (!c->active)
    return;
  /* libcurl's words for either timeout while connecting. */
  if ((c->sock == FB__SOCK_CONNECTING || c->tls_hs) &&
      (now >= c->connect_deadline || now >= c->deadline)) {
    if (c->tls_hs)
      fb__client_fail(c, FB_OUTCOME_TIMEOUT, CURLE_OPERATION_TIMEDOUT,
                      "SSL connection timeout (after %lld milliseconds)",
                      (long long)ms_since(c->t_start, now));
    else
      fb__client_fail(c, FB_OUTCOME_TIMEOUT, CURLE_OPERATION_TIMEDOUT,
                      "Connection timed out after %lld milliseconds",
                      (long long)ms_since(c->t_start, now));
    fail_close(c, now);
    return;
  }
  if (now >= c->deadline) {
    if (c->head_done && (c->parser.flags & F_CONTENT_LENGTH))
      fb__client_fail(
          c, FB_OUTCOME_TIMEOUT, CURLE_OPERATION_TIMEDOUT,
          "Operation timed out after %lld milliseconds with %llu "
          "out of %llu bytes received",
          (long long)ms_since(c->t_start, now),
          (unsigned long long)c->body_bytes,
          (unsigned long long)(c->body_bytes + c->parser.content_length));
    else
      fb__client_fail(c, FB_OUTCOME_TIMEOUT, CURLE_OPERATION_TIMEDOUT,
                      "Operation timed out after %lld milliseconds with %llu "
                      "bytes received",
                      (long long)ms_since(c->t_start, now),
                      (unsigned long long)c->body_bytes);
    fail_close(c, now);
    return;
  }
  /* libcurl's low-speed limit: fewer than low_speed_bytes a second over
   * low_speed_secs seconds. Counted in windows of that length, each
   * starting when the last one ended well.
   */
  if (job->low_speed_secs > 0 &&
      now >= c->slow_since + job->low_speed_secs * FB_NS_PER_S) {
    if (c->slow_bytes <
        (uint64_t)job->low_speed_bytes * (uint64_t)job->low_speed_secs) {
      fb__client_fail(c, FB_OUTCOME_TIMEOUT, CURLE_OPERATION_TIMEDOUT,
                      "Operation too slow. Less than %ld bytes/sec "
                      "transferred the last %ld seconds",
                      job->low_speed_bytes, job->low_speed_secs);
      fail_close(c, now);
      return;
    }
    c->slow_since = now;
    c->slow_bytes = 0;
  }
}

void fb_client_abort(struct fb_client_conn *c, enum fb_outcome outcome,
                     const char *message, int64_t now) {
  if (!c->active)
    return;
  fb__client_fail(c, outcome, CURLE_ABORTED_BY_CALLBACK, "%s", message);
  fail_close(c, now);
}

void fb_client_release(struct fb_client_conn *c) {
  if (!c->active && c->sock != FB__SOCK_NONE)
    close_conn(c);
}

enum fb_client_op fb_client_next(struct fb_client_conn *c,
                                 struct fb_client_action *act) {
  if (c->pending & FB__OP_CLOSE) {
    c->pending &= ~FB__OP_CLOSE;
    return FB_CLIENT_CLOSE;
  }
  if (c->pending & FB__OP_CONNECT) {
    const struct fb__ep *via = ep_of(c, ep_of(c, c->ep)->via);
    const union fb__addr *a = &via->addr[c->addr_i];

    c->pending &= ~FB__OP_CONNECT;
    act->addr = &a->sa;
    act->addrlen = a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
    return FB_CLIENT_CONNECT;
  }
  if (c->pending & FB__OP_SEND) {
    c->pending &= ~FB__OP_SEND;
    act->iov = is_tls(c) ? c->out : c->iov;
    act->iovcnt = is_tls(c) ? c->outcnt : c->iovcnt;
    return FB_CLIENT_SEND;
  }
  if (c->pending & FB__OP_DONE) {
    c->pending &= ~FB__OP_DONE;
    return FB_CLIENT_DONE;
  }
  return FB_CLIENT_WAIT;
}

int64_t fb_client_deadline(const struct fb_client_conn *c) {
  const struct fb_job *job = c->cl->job;
  int64_t d;

  if (!c->active)
    return INT64_MAX;
  d = c->deadline;
  if ((c->sock == FB__SOCK_CONNECTING || c->tls_hs) && c->connect_deadline < d)
    d = c->connect_deadline;
  if (job->low_speed_secs > 0 &&
      c->slow_since + job->low_speed_secs * FB_NS_PER_S < d)
    d = c->slow_since + job->low_speed_secs * FB_NS_PER_S;
  return d;
}

int64_t fb_client_connect_deadline(const struct fb_client_conn *c) {
  if (!c->active || c->sock != FB__SOCK_CONNECTING)
    return INT64_MAX;
  return c->connect_deadline < c->deadline ? c->connect_deadline : c->deadline;
}

void fb_client_result(const struct fb_client_conn *c, struct fb_result *r) {
  int64_t t0 = c->cl->t0;

  fb_result_init(r);
  r->index = (uint32_t)c->index;
  r->worker = c->worker;
  r->outcome = c->outcome;
  r->http_status = c->status;
  r->error_code = c->code;
  r->body_bytes = c->body_bytes;
  r->checksum = XXH3_64bits_digest(&c->hash);
  r->t_start = c->t_start - t0;
  if (c->cl->job->schedule != NULL)
    r->t_due = fb_schedule_due(c->cl->job->schedule, c->index);
  if (c->t_connected >= 0)
    r->t_connected = c->t_connected - t0;
  if (c->t_tls >= 0)
    r->t_tls = c->t_tls - t0;
  if (c->t_first_byte >= 0)
    r->t_first_byte = c->t_first_byte - t0;
  r->t_done = c->t_done - t0;
  r->reused = !c->new_conn && c->t_connected >= 0;
  r->handshake = c->handshake;
  r->message = c->failed ? c->msg : NULL;
}
