/* SPDX-License-Identifier: MIT */
/* The client core's response path (src/client/): the input is what a
 * server answers to one request, fed to a connection of the core as an
 * engine would feed it, no socket involved.
 *
 * The first input byte holds flags: bit 0 follows redirects (the core then
 * asks for more requests, answered from the rest of the input), bits 1-7
 * set the piece size of the split run below. The rest is the response.
 *
 * Checked besides memory errors and leaks: every run ends with exactly one
 * DONE (after the input, the peer's close and, at worst, the deadline); the
 * ops come in a possible order (SEND only on a connected socket, nothing
 * after DONE); the result is sane (an outcome, a body within the cap, a
 * terminated message, times in order). Without redirects, the verdict does
 * not depend on how the bytes were split: the input fed whole and fed in
 * pieces give the same outcome, status, code, message and, unless the cap
 * cut it (where libcurl too refuses a whole piece), body bytes and
 * checksum.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "fetchbench/clock.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/result.h"
#include "fetchbench/urlset.h"
#include "fuzz.h"

#define MAX_BODY 4096u
#define T0 ((int64_t)1 << 40)

static struct fb_urlset *urls;
static struct fb_job jobs[2]; /* [follow] */
static struct fb_client *clients[2];
static struct fb_client_conn *conn;

static void setup(void) {
  static const char url[] = "http://127.0.0.1:8080/dir/page?q=1";
  char err[256];

  FZ_CHECK(fb_urlset_create(&urls) == 0);
  FZ_CHECK(fb_urlset_add(urls, url, strlen(url), err, sizeof(err)) == 0);
  for (int follow = 0; follow < 2; follow++) {
    struct fb_job *job = &jobs[follow];

    fb_job_init(job);
    job->urls = urls;
    job->max_body = MAX_BODY;
    job->timeout_ms = 1000;
    job->low_speed_secs = 0;
    job->follow_redirects = follow;
    job->max_redirects = 3;
    FZ_CHECK(fb_client_create(&clients[follow], job, T0, err, sizeof(err)) ==
             0);
  }
  conn = aligned_alloc(alignof(struct fb_client_conn), sizeof(*conn));
  FZ_CHECK(conn != NULL);
}

struct verdict {
  struct fb_result r;
  char msg[FB_MESSAGE_MAX];
};

/* Does what the core asks until it waits; returns 1 once DONE came. */
static int ops(struct fb_client_conn *c, int64_t now, int *open, int *done,
               struct verdict *v) {
  struct fb_client_action act;

  for (;;) {
    enum fb_client_op op = fb_client_next(c, &act);

    FZ_CHECK(!*done || op == FB_CLIENT_WAIT);
    switch (op) {
    case FB_CLIENT_WAIT:
      return *done;
    case FB_CLIENT_CLOSE:
      *open = 0;
      break;
    case FB_CLIENT_CONNECT:
      FZ_CHECK(!*open);
      FZ_CHECK(act.addr != NULL && act.addrlen > 0);
      *open = 1;
      fb_client_connected(c, 0, now);
      break;
    case FB_CLIENT_SEND: {
      long n = 0;

      FZ_CHECK(*open);
      FZ_CHECK(act.iovcnt > 0 && act.iovcnt <= 4);
      for (int i = 0; i < act.iovcnt; i++)
        n += (long)act.iov[i].iov_len;
      fb_client_sent(c, n, now);
      break;
    }
    case FB_CLIENT_DONE:
      *done = 1;
      fb_client_result(c, &v->r);
      if (v->r.message != NULL) {
        FZ_CHECK(memchr(v->r.message, '\0', FB_MESSAGE_MAX) != NULL);
        snprintf(v->msg, sizeof(v->msg), "%s", v->r.message);
      } else {
        v->msg[0] = '\0';
      }
      break;
    }
  }
}

/* One run: the response in pieces of `piece` bytes (0: whole). */
static void run(int follow, const uint8_t *data, size_t size, size_t piece,
                struct verdict *v) {
  struct fb_client_conn *c = conn;
  int64_t now = T0;
  int open = 0, done = 0;
  size_t at = 0;

  memset(v, 0, sizeof(*v));
  fb_client_conn_init(c, clients[follow], 0);
  fb_client_start(c, 0, now);
  ops(c, now, &open, &done, v);
  while (!done && at < size) {
    size_t n = piece == 0 || size - at < piece ? size - at : piece;
    /* A buffer of its own, freed at once: nothing may point into it. */
    char *copy = malloc(n);

    FZ_CHECK(copy != NULL);
    memcpy(copy, data + at, n);
    now += FB_NS_PER_MS;
    if (open)
      fb_client_received(c, copy, n, now);
    free(copy);
    at += n;
    ops(c, now, &open, &done, v);
  }
  if (!done && open) {
    fb_client_eof(c, 0, now);
    ops(c, now, &open, &done, v);
  }
  /* A retry or a redirect may be waiting on a connection that says no
   * more; the deadline ends it.
   */
  for (int i = 0; i < 8 && !done; i++) {
    int64_t d = fb_client_deadline(c);

    FZ_CHECK(d != INT64_MAX);
    if (open) {
      fb_client_eof(c, 0, now);
      ops(c, now, &open, &done, v);
      continue;
    }
    now = d;
    fb_client_timer(c, now);
    ops(c, now, &open, &done, v);
  }
  FZ_CHECK(done);
  FZ_CHECK(!fb_client_busy(c));
  FZ_CHECK(v->r.outcome < FB_OUTCOME_COUNT);
  FZ_CHECK(v->r.body_bytes <= MAX_BODY);
  FZ_CHECK(v->r.t_start == 0);
  FZ_CHECK(v->r.t_done >= v->r.t_start);
  FZ_CHECK(v->r.t_first_byte == -1 || v->r.t_first_byte >= v->r.t_start);
  FZ_CHECK((v->r.outcome == FB_OUTCOME_OK || v->r.outcome == FB_OUTCOME_HTTP) ==
           (v->r.error_code == 0));
  FZ_CHECK(v->r.outcome != FB_OUTCOME_HTTP || v->r.http_status >= 400);
  fb_client_conn_cleanup(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct verdict whole, split;
  int follow;
  size_t piece;

  if (urls == NULL)
    setup();
  if (size < 1)
    return 0;
  follow = data[0] & 1;
  piece = (size_t)(data[0] >> 1) + 1;
  data++;
  size--;

  run(follow, data, size, 0, &whole);
  run(follow, data, size, piece, &split);
  if (follow)
    return 0;
  if (whole.r.outcome != split.r.outcome || strcmp(whole.msg, split.msg) != 0 ||
      (whole.r.outcome != FB_OUTCOME_TOO_LARGE &&
       whole.r.body_bytes != split.r.body_bytes))
    fprintf(
        stderr, "whole: %s %u %d %llu \"%s\"\nsplit: %s %u %d %llu \"%s\"\n",
        fb_outcome_name(whole.r.outcome), whole.r.http_status,
        whole.r.error_code, (unsigned long long)whole.r.body_bytes, whole.msg,
        fb_outcome_name(split.r.outcome), split.r.http_status,
        split.r.error_code, (unsigned long long)split.r.body_bytes, split.msg);
  FZ_CHECK(whole.r.outcome == split.r.outcome);
  FZ_CHECK(whole.r.http_status == split.r.http_status);
  FZ_CHECK(whole.r.error_code == split.r.error_code);
  FZ_CHECK(strcmp(whole.msg, split.msg) == 0);
  if (whole.r.outcome != FB_OUTCOME_TOO_LARGE) {
    FZ_CHECK(whole.r.body_bytes == split.r.body_bytes);
    FZ_CHECK(whole.r.checksum == split.r.checksum);
  }
  return 0;
}
