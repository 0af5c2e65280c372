/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_H
#define FETCHBENCH_H

/* fetchbench: how one thread, a pool of threads, a pool of processes and an
 * event loop compare on an I/O-bound job. Data flows one way:
 * URL set -> job -> engine -> collector -> summary -> report.
 */

#include "clock.h"
#include "collector.h"
#include "compare.h"
#include "corpus.h"
#include "diff.h"
#include "engine.h"
#include "error.h"
#include "histogram.h"
#include "job.h"
#include "machine.h"
#include "merge.h"
#include "origin.h"
#include "report.h"
#include "result.h"
#include "results.h"
#include "run.h"
#include "schedule.h"
#include "stats.h"
#include "summary.h"
#include "urlset.h"
#include "version.h"

#endif /* FETCHBENCH_H */
