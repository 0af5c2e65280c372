/* SPDX-License-Identifier: MIT */
/* The yardstick for the async engine: the plainest way to run libcurl's multi
 * interface, a curl_multi_perform + curl_multi_poll loop, with the very
 * same easy handles (engines/fetch.c), the same result collection and at
 * most WORKERS transfers in flight.
 *
 *   multi-poll URLFILE WORKERS [fresh] [--cacert FILE] [--no-resume]
 *
 * fresh: a new connection per request; --cacert: trust the CAs in FILE
 * (https), through the CA store the engines share; --no-resume: no TLS
 * session resumption (as `run --tls-resume off`).
 *
 * Exits 0 when every URL was fetched ok, 1 when some failed, 2 on a usage or
 * machinery error. Prints "ok N" to stdout.
 */

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "engines/fetch.h"
#include "fetchbench/fetchbench.h"

int main(int argc, char **argv) {
  struct fb_urlset *u = NULL;
  struct fb_collector *c = NULL;
  struct fb_fetch *slots = NULL;
  struct fb_fetch **free_slots = NULL;
  CURLM *multi = NULL;
  struct fb_job job;
  struct fb_fetch_share share;
  size_t n, next = 0, done = 0, nfree = 0, ok = 0;
  unsigned workers;
  char err[1024];
  int rc = 2;

  memset(&share, 0, sizeof(share));
  if (argc < 3) {
    fprintf(stderr,
            "usage: %s URLFILE WORKERS [fresh] [--cacert FILE] "
            "[--no-resume]\n",
            argv[0]);
    return 2;
  }
  workers = (unsigned)strtoul(argv[2], NULL, 10);
  if (workers == 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 2;
  if (fb_urlset_create(&u) != 0 ||
      fb_urlset_load(u, argv[1], err, sizeof(err)) != 0) {
    fprintf(stderr, "%s: %s\n", argv[1], err);
    goto out;
  }
  n = fb_urlset_count(u);
  if (workers > n)
    workers = (unsigned)n;
  fb_job_init(&job);
  job.urls = u;
  job.workers = workers;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "fresh") == 0) {
      job.connection = FB_CONN_FRESH;
    } else if (strcmp(argv[i], "--cacert") == 0 && i + 1 < argc) {
      job.cacert = argv[++i];
    } else if (strcmp(argv[i], "--no-resume") == 0) {
      job.tls_resume = 0;
    } else {
      fprintf(stderr, "%s: unknown argument %s\n", argv[0], argv[i]);
      goto out;
    }
  }
  if (fb__fetch_share_init(&share, &job, 0) != 0)
    goto out;
  if (fb_collector_create(&c, n) != 0)
    goto out;

  multi = curl_multi_init();
  slots = aligned_alloc(alignof(struct fb_fetch), workers * sizeof(*slots));
  free_slots = calloc(workers, sizeof(*free_slots));
  if (multi == NULL || slots == NULL || free_slots == NULL)
    goto out;
  memset(slots, 0, workers * sizeof(*slots));
  if (curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)workers) != CURLM_OK)
    goto out;
  for (unsigned i = 0; i < workers; i++) {
    if (fb__fetch_init(&slots[i], &job, fb_collector_t0(c), i, &share) != 0) {
      fprintf(stderr, "%s: %s\n", argv[0], slots[i].errbuf);
      goto out;
    }
    free_slots[nfree++] = &slots[i];
  }

  while (done < n) {
    struct fb_result r;
    CURLMsg *msg;
    int running, left;

    while (nfree > 0 && next < n) {
      struct fb_fetch *f = free_slots[--nfree];

      if (fb__fetch_start(f, next++) != 0 ||
          curl_multi_add_handle(multi, f->easy) != CURLM_OK)
        goto out;
    }
    if (curl_multi_perform(multi, &running) != CURLM_OK)
      goto out;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
      struct fb_fetch *f = NULL;
      CURLcode code = msg->data.result;
      CURL *easy = msg->easy_handle;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
      if (curl_multi_remove_handle(multi, easy) != CURLM_OK)
        goto out;
      fb__fetch_finish(f, code, &r);
      ok += r.outcome == FB_OUTCOME_OK;
      (void)fb_collector_put(c, &r);
      free_slots[nfree++] = f;
      done++;
    }
    /* Only wait when nothing finished (new transfers start right away)
     * and something is left to wait for.
     */
    if (done < n && (nfree == 0 || next == n))
      if (curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
        goto out;
  }
  printf("ok %zu\n", ok);
  rc = ok == n && fb_collector_check(c, NULL) == 0 ? 0 : 1;

out:
  if (slots != NULL)
    for (unsigned i = 0; i < workers; i++)
      fb__fetch_cleanup(&slots[i]);
  if (multi != NULL)
    curl_multi_cleanup(multi);
  fb__fetch_share_cleanup(&share);
  free(slots);
  free(free_slots);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  curl_global_cleanup();
  return rc;
}
