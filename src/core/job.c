/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "fetchbench/job.h"
#include "fetchbench/version.h"

void fb_job_init(struct fb_job *job) {
  memset(job, 0, sizeof(*job));
  job->workers = 1;
  job->connection = FB_CONN_REUSE;
  job->connect_timeout_ms = FB_DEFAULT_CONNECT_TIMEOUT_MS;
  job->timeout_ms = FB_DEFAULT_TIMEOUT_MS;
  job->low_speed_bytes = FB_DEFAULT_LOW_SPEED_BYTES;
  job->low_speed_secs = FB_DEFAULT_LOW_SPEED_SECS;
  job->max_body = FB_DEFAULT_MAX_BODY;
  job->max_redirects = FB_DEFAULT_MAX_REDIRECTS;
  job->follow_redirects = 1;
  job->verify_tls = 1;
  job->tls_resume = 1;
  job->ca_cache = FB_CA_SHARED;
  job->user_agent = fb_user_agent();
  job->chunk = 1;
  job->thread_stack = FB_DEFAULT_THREAD_STACK;
  job->max_respawns = 16;
}
