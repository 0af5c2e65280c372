/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/error.h"
#include "fetchbench/merge.h"

static int say(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int say(int rc, char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;

  if (errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static const char *text(const char *s) {
  return s != NULL ? s : "(none)";
}

static int same_text(const char *a, const char *b) {
  return strcmp(text(a), text(b)) == 0;
}

/* Shard b against shard a (the first): the same run's part? */
static int check_same(const struct fb_merge_shard *a,
                      const struct fb_merge_shard *b, char *err,
                      size_t errlen) {
  const struct fb_report_context *x = a->ctx, *y = b->ctx;

#define DIFFER(what, fmt, va, vb)                                              \
  say(FB_ERESULTS, err, errlen,                                                \
      "%s: %s " fmt ", but " fmt " in %s: not a shard of the same run",        \
      b->where, what, vb, va, a->where)
  if (strcmp(a->s->engine, b->s->engine) != 0)
    return DIFFER("engine", "%s", a->s->engine, b->s->engine);
  if (a->s->workers != b->s->workers)
    return DIFFER("workers per shard", "%u", a->s->workers, b->s->workers);
  if (x->workload_urls != y->workload_urls)
    return DIFFER("the list's URLs", "%zu", x->workload_urls, y->workload_urls);
  if (!same_text(x->urls_digest, y->urls_digest))
    return DIFFER("the list's digest (urls_digest)", "%s", text(x->urls_digest),
                  text(y->urls_digest));
  if (!same_text(x->connection, y->connection))
    return DIFFER("connection", "%s", text(x->connection), text(y->connection));
  if (!same_text(x->corpus, y->corpus))
    return DIFFER("corpus", "%s", text(x->corpus), text(y->corpus));
  if (!same_text(x->scheme, y->scheme))
    return DIFFER("scheme", "%s", text(x->scheme), text(y->scheme));
  if (x->delay_ms != y->delay_ms)
    return DIFFER("delay_ms", "%g", x->delay_ms, y->delay_ms);
  if (x->jitter_ms != y->jitter_ms)
    return DIFFER("jitter_ms", "%u", x->jitter_ms, y->jitter_ms);
#undef DIFFER
  return 0;
}

/* A shard's part of the list: index, count (a whole run is 0 of 1). */
static void part(const struct fb_merge_shard *sh, size_t *index,
                 size_t *count) {
  *index = sh->ctx->shards > 0 ? sh->ctx->shard : 0;
  *count = sh->ctx->shards > 0 ? sh->ctx->shards : 1;
}

/* Every index of the list in exactly one shard, each shard holding a result
 * for each of its indices.
 */
static int check_cover(const struct fb_merge_shard *shards, size_t n, char *err,
                       size_t errlen) {
  size_t total = shards[0].ctx->workload_urls, missing = 0, first = 0;
  size_t *owner = malloc((total > 0 ? total : 1) * sizeof(*owner));
  int rc = 0;

  if (owner == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < total; i++)
    owner[i] = SIZE_MAX;
  for (size_t j = 0; j < n && rc == 0; j++) {
    const struct fb_merge_shard *sh = &shards[j];
    size_t index, count, share;

    part(sh, &index, &count);
    share = index < total ? (total - 1 - index) / count + 1 : 0;
    if (sh->s->urls != share)
      rc = say(FB_ESHARDS, err, errlen,
               "%s: shard %zu/%zu holds %zu results, but its share of the "
               "%zu URLs is %zu",
               sh->where, index, count, sh->s->urls, total, share);
    else if (sh->s->missing > 0)
      rc = say(FB_ESHARDS, err, errlen,
               "%s: shard %zu/%zu lost the results of %zu of its URLs (the "
               "report does not say which indices)",
               sh->where, index, count, sh->s->missing);
    for (size_t i = index; rc == 0 && i < total; i += count) {
      if (owner[i] != SIZE_MAX) {
        size_t oi, oc;

        part(&shards[owner[i]], &oi, &oc);
        rc = say(FB_ESHARDS, err, errlen,
                 "URL index %zu is in two shards: %s (shard %zu/%zu) and %s "
                 "(shard %zu/%zu): a shard given twice?",
                 i, shards[owner[i]].where, oi, oc, sh->where, index, count);
        break;
      }
      owner[i] = j;
    }
  }
  for (size_t i = 0; rc == 0 && i < total; i++)
    if (owner[i] == SIZE_MAX && missing++ == 0)
      first = i;
  if (rc == 0 && missing > 0) {
    size_t index, count;

    part(&shards[0], &index, &count);
    rc = say(FB_ESHARDS, err, errlen,
             "URL index %zu is in no shard (%zu of the %zu URLs are missing): "
             "shard %zu/%zu (after %s's count) was not given",
             first, missing, total, first % count, count, shards[0].where);
  }
  free(owner);
  return rc;
}

static void add(struct fb_summary *m, const struct fb_summary *s) {
  m->workers += s->workers;
  m->workers_ran += s->workers_ran;
  m->urls += s->urls;
  m->ok += s->ok;
  m->errors += s->errors;
  m->done += s->done;
  for (int o = 0; o < FB_OUTCOME_COUNT; o++)
    m->outcomes[o] += s->outcomes[o];
  m->missing += s->missing;
  m->duplicates += s->duplicates;
  m->reused += s->reused;
  m->handshakes_full += s->handshakes_full;
  m->handshakes_resumed += s->handshakes_resumed;
  m->bytes += s->bytes;
  m->cpu_user_s += s->cpu_user_s;
  m->cpu_sys_s += s->cpu_sys_s;
  m->child_user_s += s->child_user_s;
  m->child_sys_s += s->child_sys_s;
  /* Memory on several hosts adds up; the largest process stays the
   * largest.
   */
  m->rss_sum_kib += s->rss_sum_kib;
  if (s->max_rss_kib > m->max_rss_kib)
    m->max_rss_kib = s->max_rss_kib;
  m->vcsw += s->vcsw;
  m->ivcsw += s->ivcsw;
  if (s->setup_s > m->setup_s)
    m->setup_s = s->setup_s;
  if (m->start_real_ns == 0 || s->start_real_ns < m->start_real_ns)
    m->start_real_ns = s->start_real_ns;
  if (s->end_real_ns > m->end_real_ns)
    m->end_real_ns = s->end_real_ns;
}

int fb_merge(struct fb_summary *out, struct fb_summary_hists *hists,
             struct fb_report_context *ctx, const struct fb_merge_shard *shards,
             size_t n, char *err, size_t errlen) {
  int rc;

  if (errlen > 0)
    err[0] = '\0';
  if (n == 0)
    return say(FB_ESHARDS, err, errlen, "no shard to merge");
  for (size_t j = 0; j < n; j++) {
    if (shards[j].ctx == NULL)
      return say(FB_ERESULTS, err, errlen,
                 "%s: the report says nothing of its workload (written by "
                 "an older fetchbench?): cannot tell its shard",
                 shards[j].where);
    if (shards[j].s->hists == NULL)
      return say(FB_ERESULTS, err, errlen,
                 "%s: the report has no histograms: its percentiles cannot "
                 "be merged",
                 shards[j].where);
    if (shards[j].s->start_real_ns <= 0)
      return say(FB_ERESULTS, err, errlen,
                 "%s: the report has no wall-clock start time",
                 shards[j].where);
    if (j > 0 && (rc = check_same(&shards[0], &shards[j], err, errlen)) != 0)
      return rc;
  }
  rc = check_cover(shards, n, err, errlen);
  if (rc != 0)
    return rc;
  memset(out, 0, sizeof(*out));
  out->engine = shards[0].s->engine;
  fb_summary_hists_init(hists);
  for (size_t j = 0; j < n; j++) {
    add(out, shards[j].s);
    fb_summary_hists_merge(hists, shards[j].s->hists);
  }
  out->wall_s =
      (double)(out->end_real_ns - out->start_real_ns) / (double)1000000000;
  fb_summary_percentiles(out, hists);
  out->hists = hists;
  fb_summary_derive(out, shards[0].ctx->delay_ms);
  *ctx = *shards[0].ctx;
  ctx->shard = 0;
  ctx->shards = 0;
  ctx->merged = (unsigned)n;
  return 0;
}
