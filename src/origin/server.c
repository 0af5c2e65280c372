/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fetchbench/error.h"
#include "origin/corpus_int.h"
#include "origin/origin_int.h"

#define LISTEN_BACKLOG 4096

void fb_origin_config_init(struct fb_origin_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->host = "127.0.0.1";
  cfg->port = 0;
  cfg->seed = 1;
  cfg->max_connections = 20000;
  cfg->header_timeout_ms = 10000;
  cfg->idle_timeout_ms = 60000;
  cfg->max_header_bytes = 8 << 10;
  cfg->max_write_queue = 1 << 20;
  cfg->cpu = -1;
  cfg->tls_resume = 1;
  cfg->handshake_timeout_ms = 10000;
  cfg->max_handshakes = 256;
}

static int check_config(const struct fb_origin_config *cfg, char *err,
                        size_t errlen) {
  const char *what = NULL;

  if (cfg->port < 0 || cfg->port > 65535)
    what = "port must be in [0, 65535]";
  else if (cfg->max_connections < 1)
    what = "max_connections must be at least 1";
  else if (cfg->header_timeout_ms < 1 || cfg->idle_timeout_ms < 1)
    what = "timeouts must be at least 1 ms";
  else if (cfg->max_header_bytes < 256 || cfg->max_header_bytes > (1 << 24))
    what = "max_header_bytes must be in [256, 16 MiB]";
  else if (cfg->max_write_queue < 1024)
    what = "max_write_queue must be at least 1 KiB";
  else if (cfg->delay_ms > FB__MAX_DELAY_MS ||
           cfg->jitter_ms > FB__MAX_DELAY_MS)
    what = "delay and jitter must be at most one hour";
  else if (cfg->rtt_ms > FB__MAX_RTT_MS)
    what = "rtt must be at most one minute";
  else if (cfg->tls &&
           (cfg->handshake_timeout_ms < 1 || cfg->max_handshakes < 1))
    what = "the handshake timeout and max_handshakes must be at least 1";
  if (what == NULL)
    return 0;
  snprintf(err, errlen, "origin: %s", what);
  return FB_ERANGE;
}

/* 10,000 connections need more descriptors than the usual soft limit. */
static void raise_nofile(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* A write to a connection the client closed raises SIGPIPE, which would
 * kill the process; libuv leaves the choice to the program. Only the
 * default action is replaced, never a handler someone installed.
 */
static void ignore_sigpipe(void) {
  struct sigaction sa;

  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
}

#define PAGE_HEAD                                                              \
  "HTTP/1.1 200 OK\r\nServer: fetchbench-origin\r\n"                           \
  "Content-Type: %s\r\nContent-Length: %zu\r\n"

/* Every page's status line and headers, formatted once: the fast path
 * writes them straight from here.
 */
static int make_heads(struct fb_origin *o) {
  size_t n = fb_corpus_count(o->corpus), total = 0;

  o->head_off = calloc(n, sizeof(*o->head_off));
  o->head_len = calloc(n, sizeof(*o->head_len));
  if (o->head_off == NULL || o->head_len == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const struct fb_page *p = fb_corpus_page(o->corpus, i);
    total += (size_t)snprintf(NULL, 0, PAGE_HEAD, p->content_type, p->len);
  }
  o->heads = malloc(total + 1);
  if (o->heads == NULL)
    return -ENOMEM;
  total = 0;
  for (size_t i = 0; i < n; i++) {
    const struct fb_page *p = fb_corpus_page(o->corpus, i);
    int len = sprintf(o->heads + total, PAGE_HEAD, p->content_type, p->len);
    o->head_off[i] = (uint32_t)total;
    o->head_len[i] = (uint32_t)len;
    total += (size_t)len;
  }
  return 0;
}

static int make_index(struct fb_origin *o) {
  size_t n = fb_corpus_count(o->corpus), total = 0;
  int len;

  for (size_t i = 0; i < n; i++)
    total += strlen(fb_corpus_page(o->corpus, i)->path) + 1;
  o->index_body = malloc(total + 1);
  if (o->index_body == NULL)
    return -ENOMEM;
  total = 0;
  for (size_t i = 0; i < n; i++)
    total += (size_t)sprintf(o->index_body + total, "%s\n",
                             fb_corpus_page(o->corpus, i)->path);
  o->index_body_len = total;
  len = snprintf(NULL, 0, PAGE_HEAD, "text/plain; charset=utf-8", total);
  o->index_head = malloc((size_t)len + 1);
  if (o->index_head == NULL)
    return -ENOMEM;
  o->index_head_len = (size_t)sprintf(o->index_head, PAGE_HEAD,
                                      "text/plain; charset=utf-8", total);
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  struct fb_origin *o = server->data;

  if (status == 0)
    fb__conn_accept(o);
}

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void close_walk(uv_handle_t *h, void *arg) {
  close_handle(h);
}

/* Closes everything but the stop handle, which lives until destroy. */
static void begin_stop(struct fb_origin *o) {
  if (o->stopping)
    return;
  o->stopping = 1;
  close_handle((uv_handle_t *)&o->listener);
  if (o->signals) {
    close_handle((uv_handle_t *)&o->sigint);
    close_handle((uv_handle_t *)&o->sigterm);
  }
  for (struct fb__conn *c = o->conns; c != NULL; c = c->next)
    fb__tcp_close(c);
}

static void on_stop(uv_async_t *a) {
  begin_stop(a->data);
}

static void on_signal(uv_signal_t *s, int signum) {
  begin_stop(s->data);
}

static int bind_listen(struct fb_origin *o, const struct fb_origin_config *cfg,
                       char *err, size_t errlen) {
  struct sockaddr_storage ss;
  int len = sizeof(ss), rc;

  if (uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&ss) != 0) {
    snprintf(err, errlen, "origin: '%s' is not an IP address", cfg->host);
    return FB_EUSAGE;
  }
  rc = uv_tcp_bind(&o->listener, (struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&o->listener, LISTEN_BACKLOG, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&o->listener, (struct sockaddr *)&ss, &len);
  if (rc != 0) {
    snprintf(err, errlen, "origin: cannot listen on %s port %d: %s", cfg->host,
             cfg->port, uv_strerror(rc));
    return rc;
  }
  o->port =
      ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

int fb_origin_create(struct fb_origin **out, const struct fb_origin_config *cfg,
                     char *err, size_t errlen) {
  struct fb_origin *o;
  int rc;

  *out = NULL;
  rc = check_config(cfg, err, errlen);
  if (rc < 0)
    return rc;
  o = calloc(1, sizeof(*o));
  if (o == NULL)
    return -ENOMEM;
  o->corpus_fd = -1;
  o->alarms.fd = -1;
  o->cfg = *cfg;
  o->cfg.host = NULL;
  o->cfg.corpus = NULL;
  o->cfg.faults = NULL;
  o->cfg.cert_file = NULL;
  o->cfg.key_file = NULL;
  o->cfg.cert_out = NULL;
  rc = fb__faults_compile(&o->faults, cfg->faults, err, errlen);
  if (rc < 0)
    goto out;
  raise_nofile();
  ignore_sigpipe();
  if (cfg->tls) {
    rc = fb__tlsctx_init(o, cfg, err, errlen);
    if (rc < 0)
      goto out;
  }
  rc = fb__corpus_open(&o->corpus, cfg->corpus, cfg->seed, err, errlen);
  if (rc < 0)
    goto out;
  o->corpus_fd = o->corpus->fd;
  fb__http_settings(&o->settings);
  o->rbuf = malloc(FB__READ_BUF);
  rc = -ENOMEM;
  if (o->rbuf == NULL || make_heads(o) < 0 || make_index(o) < 0) {
    snprintf(err, errlen, "origin: out of memory");
    goto out;
  }
  rc = uv_loop_init(&o->loop);
  if (rc != 0) {
    snprintf(err, errlen, "origin: uv_loop_init: %s", uv_strerror(rc));
    goto out;
  }
  o->loop.data = o;
  uv_tcp_init(&o->loop, &o->listener);
  o->listener.data = o;
  uv_async_init(&o->loop, &o->stop_async, on_stop);
  o->stop_async.data = o;
  /* Not a reason to keep the loop running: the loop ends when the listener
   * and the connections are closed.
   */
  uv_unref((uv_handle_t *)&o->stop_async);
  rc = fb__alarms_init(&o->alarms, &o->loop);
  if (rc != 0) {
    snprintf(err, errlen, "origin: timerfd: %s", uv_strerror(rc));
    goto out;
  }
  rc = bind_listen(o, cfg, err, errlen);
out:
  if (rc < 0) {
    fb_origin_destroy(o);
    return rc;
  }
  *out = o;
  return 0;
}

int fb_origin_port(const struct fb_origin *o) {
  return o->port;
}

int fb_origin_run(struct fb_origin *o, int handle_signals) {
  sigset_t set;
  int rc;

  if (o->ran)
    return -EALREADY;
  o->ran = 1;
  if (handle_signals && !o->stopping) {
    uv_signal_init(&o->loop, &o->sigint);
    uv_signal_init(&o->loop, &o->sigterm);
    o->sigint.data = o;
    o->sigterm.data = o;
    o->signals = 1;
    rc = uv_signal_start(&o->sigint, on_signal, SIGINT);
    if (rc == 0)
      rc = uv_signal_start(&o->sigterm, on_signal, SIGTERM);
    if (rc != 0) {
      begin_stop(o);
      uv_run(&o->loop, UV_RUN_DEFAULT);
      return rc;
    }
    /* A caller that blocked them before create (to close the window between
     * announcing the port and this point) gets them delivered now.
     */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  }
  uv_run(&o->loop, UV_RUN_DEFAULT);
  begin_stop(o);
  uv_run(&o->loop, UV_RUN_DEFAULT);
  return 0;
}

void fb_origin_stop(struct fb_origin *o) {
  uv_async_send(&o->stop_async);
}

void fb_origin_destroy(struct fb_origin *o) {
  if (o == NULL)
    return;
  if (o->loop.data == o) {
    begin_stop(o);
    uv_walk(&o->loop, close_walk, NULL);
    /* Close callbacks run in uv_run; a loop with handles left is busy. */
    for (int i = 0; i < 100 && uv_loop_close(&o->loop) == UV_EBUSY; i++)
      uv_run(&o->loop, UV_RUN_DEFAULT);
  }
  fb__alarms_free(&o->alarms);
  fb__tlsctx_free(o);
  fb_corpus_destroy(o->corpus);
  free(o->heads);
  free(o->head_off);
  free(o->head_len);
  free(o->index_head);
  free(o->index_body);
  free(o->rbuf);
  free(o->gzbomb);
  free(o);
}
