/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "fetchbench/error.h"

int fb_client_create(struct fb_client **out, const struct fb_job *job,
                     int64_t t0, char *err, size_t errlen) {
  struct fb_client *cl;
  int rc;

  *out = NULL;
  if (errlen > 0)
    err[0] = '\0';
  cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    return -ENOMEM;
  cl->job = job;
  cl->t0 = t0;
  fb__client_settings(&cl->settings);
  cl->cu = curl_url();
  rc = cl->cu == NULL ? -ENOMEM : fb__client_proxy_init(cl);
  if (rc == 0)
    rc = fb__client_targets(cl, err, errlen);
  /* https: the TLS context (and, through it, the process's CA store) at
   * set-up, not at the first connection. A redirect to https makes it
   * then.
   */
  for (uint32_t i = 0; rc == 0 && i < cl->neps; i++)
    if (cl->eps[i].tls)
      rc = fb__wire_ctx(cl, err, errlen);
  if (rc != 0) {
    if (rc == -ENOMEM && errlen > 0 && err[0] == '\0')
      snprintf(err, errlen, "out of memory preparing the requests");
    fb_client_destroy(cl);
    return rc;
  }
  *out = cl;
  return 0;
}

void fb_client_destroy(struct fb_client *cl) {
  if (cl == NULL)
    return;
  fb__wire_ctx_free(cl);
  fb__client_eps_free(cl);
  fb__client_arena_free(cl);
  free(cl->targets);
  curl_url_cleanup(cl->cu);
  free(cl->proxy);
  free(cl->no_proxy);
  free(cl->inflate_out);
  free(cl->scratch);
  free(cl);
}

const struct fb_client_counters *
fb_client_counters(const struct fb_client *cl) {
  return &cl->k;
}

unsigned fb_client_dns_lookups(const struct fb_client *cl) {
  return cl->dns_lookups;
}
