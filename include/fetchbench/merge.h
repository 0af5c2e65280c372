/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_MERGE_H
#define FETCHBENCH_MERGE_H

#include <stddef.h>

#include "report.h"
#include "summary.h"

/* One run split over hosts (fetchbench run --shard I/N on each), put back
 * together: counts, bytes and CPU summed, histograms merged and their
 * percentiles read again, the wall time from the earliest start to the
 * latest end by the wall clocks (CLOCK_REALTIME) of the hosts. Their clocks'
 * skew is not seen: it adds to or takes from that wall time.
 */

/* A shard as read back (fb_results_read_run): all borrowed. */
struct fb_merge_shard {
  const struct fb_summary *s;          /* s->hists: its histograms */
  const struct fb_report_context *ctx; /* NULL: none in the report */
  const char *where;                   /* "FILE:LINE", for messages */
};

/* Checks that shards[0..n) are the parts of one run and merges them into
 * *out (out->hists = hists, which the caller provides) and *ctx (its
 * strings borrowed from the first shard's; shards 0, merged n).
 *
 * The checks, each failing with a message in err naming the shard (its
 * FILE:LINE) and, for a URL, its index in the whole list:
 * - every shard has a workload and histograms; all share the engine, the
 *   workers per shard and the workload (the list's size and digest, the
 *   connection policy, corpus, scheme, delay and jitter): FB_ERESULTS;
 * - together they cover every URL index of the list exactly once: a shard
 *   given twice (an index doubled), a shard missing (an index in none), a
 *   shard whose results are not its share of the list, or a result lost
 *   within a shard: FB_ESHARDS.
 * Returns 0, one of those, or -ENOMEM.
 */
int fb_merge(struct fb_summary *out, struct fb_summary_hists *hists,
             struct fb_report_context *ctx, const struct fb_merge_shard *shards,
             size_t n, char *err, size_t errlen);

#endif /* FETCHBENCH_MERGE_H */
