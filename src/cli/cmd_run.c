/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"

enum {
  O_ENGINE = FB_JOBOPT_COUNT,
  O_WORKERS,
  O_FORMAT,
  O_OUTPUT,
  O_CSV,
  /* --- shard (issue 15) --- */
  O_SHARD,
  /* --- end shard --- */
  O_COUNT,
};

static const struct fb_cli_opt run_opts[] = {
    {O_ENGINE, "engine", 'e', "NAME", "concurrency model (default sequential)"},
    {O_WORKERS, "workers", 'w', "N",
     "most requests in flight (default 8, or the engine's maximum when "
     "lower)"},
    {O_FORMAT, "format", 'f', "text|json|csv",
     "report format: a table, one JSON object, or one CSV row per request "
     "(default text)"},
    {O_OUTPUT, "output", 'o', "FILE", "write the report to FILE"},
    {O_CSV, "csv", 0, "FILE",
     "also write one CSV row per request to FILE (- : standard output), "
     "beside a text or JSON report"},
    /* --- shard (issue 15) --- */
    {O_SHARD, "shard", 0, "I/N|auto",
     "fetch only the URLs whose index is I modulo N (0 <= I < N), so that N "
     "hosts split one list; the reports keep each URL's index in the whole "
     "list (fetchbench merge joins them). auto: I and N from SLURM_PROCID "
     "and SLURM_NTASKS, or JOB_COMPLETION_INDEX and FB_SHARDS"},
    /* --- end shard --- */
    {0},
};

static int run_main(int argc, char **argv);

const struct fb_cli_cmd fb__cmd_run = {
    .name = "run",
    .summary = "Fetch a set of URLs with one engine and report.",
    .description =
        "Without --urls, starts the embedded origin (the Django documentation "
        "when\ninstalled, else a synthetic corpus) with a 70 ms delay per "
        "request, the\noriginal experiment's ~71 ms per page, on another core "
        "than the client, and\nfetches the ten pages of the original "
        "experiment over HTTPS, a new connection\nper page, as it did "
        "(--scheme http: plain HTTP).\n\n"
        "Exit status: 0 every request succeeded; 1 some failed (the report is "
        "still\nprinted); 2 usage or input error, or the report could not be "
        "written;\n130/143 cancelled by SIGINT/SIGTERM (a partial report is "
        "printed; a second\nSIGINT exits at once).",
    .opts = run_opts,
    .groups = fb__jobopt_groups,
    .main = run_main,
};

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_CSV };

struct run_args {
  const char *seen[O_COUNT]; /* the value (or "") of each option given */
  const struct fb_engine *engine;
  enum format format;
  struct fb_job job;
  struct fb_workload w;
  struct fb_output out;
  struct fb_output csv; /* --csv */
  /* --- shard (issue 15) --- */
  unsigned shard, shards;       /* shards 0: the whole list */
  char shard_from[96];          /* where --shard auto found them, or "" */
  struct fb_urlset *shard_urls; /* this shard's part of w.urls */
  /* --- end shard --- */
};

/* What the report writer needs. */
struct report {
  const struct run_args *a;
  const struct fb_summary *s;
  const struct fb_collector *c;
  const char *line;                    /* what ran where */
  const struct fb_report_context *ctx; /* for the JSON report */
  const struct fb_urlset *urls;        /* what this run fetched */
};

/* --- shard (issue 15) --- */
#define SHARDS_MAX 1000000u

/* "I/N" with 0 <= I < N <= SHARDS_MAX; what names it in messages. */
static int shard_pair(struct run_args *a, const char *what, const char *i_s,
                      const char *n_s) {
  char *end;
  unsigned long i, n;

  errno = 0;
  n = strtoul(n_s, &end, 10);
  if (n_s[0] < '0' || n_s[0] > '9' || *end != '\0' || errno != 0 || n < 1 ||
      n > SHARDS_MAX)
    return fb__cli_usage_error(&fb__cmd_run,
                               "--shard: %s: the shard count '%s' is not a "
                               "whole number from 1 to %u",
                               what, n_s, SHARDS_MAX);
  i = strtoul(i_s, &end, 10);
  if (i_s[0] < '0' || i_s[0] > '9' || *end != '\0' || errno != 0 || i >= n)
    return fb__cli_usage_error(&fb__cmd_run,
                               "--shard: %s: the shard index '%s' is not a "
                               "whole number from 0 to %lu",
                               what, i_s, n - 1);
  a->shard = (unsigned)i;
  a->shards = (unsigned)n;
  return 0;
}

/* --shard auto: the batch system's task index and count. Slurm gives both;
 * a Kubernetes Indexed Job only the index, so the count comes from
 * FB_SHARDS (the Job's completions).
 */
static int shard_auto(struct run_args *a) {
  const char *procid = getenv("SLURM_PROCID"), *ntasks = getenv("SLURM_NTASKS");
  const char *index = getenv("JOB_COMPLETION_INDEX");
  const char *total = getenv("FB_SHARDS");

  if (procid != NULL && ntasks != NULL) {
    snprintf(a->shard_from, sizeof(a->shard_from), "SLURM_PROCID/SLURM_NTASKS");
    return shard_pair(a, "SLURM_PROCID/SLURM_NTASKS", procid, ntasks);
  }
  if (index != NULL) {
    if (total == NULL)
      return fb__cli_usage_error(&fb__cmd_run,
                                 "--shard auto: JOB_COMPLETION_INDEX is %s but "
                                 "FB_SHARDS (the number of shards: the Job's "
                                 "completions) is not set",
                                 index);
    snprintf(a->shard_from, sizeof(a->shard_from),
             "JOB_COMPLETION_INDEX/FB_SHARDS");
    return shard_pair(a, "JOB_COMPLETION_INDEX/FB_SHARDS", index, total);
  }
  return fb__cli_usage_error(&fb__cmd_run,
                             "--shard auto: neither SLURM_PROCID and "
                             "SLURM_NTASKS nor JOB_COMPLETION_INDEX (with "
                             "FB_SHARDS) is set; give --shard I/N");
}

static int parse_shard(struct run_args *a, const char *v) {
  char buf[64];
  char *slash;

  if (strcmp(v, "auto") == 0)
    return shard_auto(a);
  snprintf(buf, sizeof(buf), "%s", v);
  slash = strchr(buf, '/');
  if (slash == NULL || strlen(v) >= sizeof(buf))
    return fb__cli_usage_error(&fb__cmd_run,
                               "--shard: '%s' is not I/N (say 0/4) or auto", v);
  *slash = '\0';
  return shard_pair(a, v, buf, slash + 1);
}

/* This shard's URLs: those whose index is shard modulo shards, in order.
 * Returns 0 or FB_EXIT_USAGE after saying why.
 */
static int shard_select(struct run_args *a) {
  size_t total = fb_urlset_count(a->w.urls);
  char err[256] = "";
  int rc = fb_urlset_create(&a->shard_urls);

  for (size_t i = a->shard; rc == 0 && i < total; i += a->shards) {
    const char *u = fb_urlset_get(a->w.urls, i);

    rc = fb_urlset_add(a->shard_urls, u, strlen(u), err, sizeof(err));
  }
  if (rc != 0) {
    fb__cli_error(&fb__cmd_run, "--shard: %s", err[0] ? err : fb_strerror(rc));
    return FB_EXIT_USAGE;
  }
  if (fb_urlset_count(a->shard_urls) == 0)
    return fb__cli_usage_error(&fb__cmd_run,
                               "--shard %u/%u: no URL falls to this shard: the "
                               "list has %zu",
                               a->shard, a->shards, total);
  if (a->shard_from[0] != '\0')
    fb__cli_error(&fb__cmd_run, "shard %u/%u (from %s): %zu of %zu URLs",
                  a->shard, a->shards, a->shard_from,
                  fb_urlset_count(a->shard_urls), total);
  return 0;
}
/* --- end shard --- */

static int parse_value(void *ctx, int id, const char *v) {
  struct run_args *a = ctx;

  switch (id) {
  case O_ENGINE:
    a->engine = fb__cli_engine(&fb__cmd_run, "--engine", v);
    return a->engine != NULL ? 0 : FB_EXIT_USAGE;
  case O_WORKERS: /* once the engine is known */
  case O_OUTPUT:
  case O_CSV:
    return 0;
  /* --- shard (issue 15) --- */
  case O_SHARD:
    return parse_shard(a, v);
  /* --- end shard --- */
  case O_FORMAT:
    if (strcmp(v, "text") == 0)
      a->format = FORMAT_TEXT;
    else if (strcmp(v, "json") == 0)
      a->format = FORMAT_JSON;
    else if (strcmp(v, "csv") == 0)
      a->format = FORMAT_CSV;
    else
      return fb__cli_usage_error(&fb__cmd_run,
                                 "--format: '%s' is not text, json or csv", v);
    return 0;
  default:
    return fb__jobopt_parse(&fb__cmd_run, id, v, &a->job, &a->w);
  }
}

/* An engine this system refuses (io_uring under a seccomp policy, say) is
 * an input error, said before any origin starts. Returns FB_CLI_GO or
 * FB_EXIT_USAGE.
 */
static int check_available(const struct fb_engine *e) {
  char why[FB_MESSAGE_MAX];

  if (fb_engine_available(e, why, sizeof(why)) == 0)
    return FB_CLI_GO;
  fb__cli_error(&fb__cmd_run, "engine %s cannot run here: %s", e->name, why);
  return FB_EXIT_USAGE;
}

/* Returns FB_CLI_GO or the status to exit with. */
static int parse(struct run_args *a, int argc, char **argv) {
  int rc =
      fb__cli_parse(&fb__cmd_run, argc, argv, a->seen, O_COUNT, parse_value, a);

  if (rc != FB_CLI_GO)
    return rc;
  if (fb__jobopt_finish(&fb__cmd_run, a->seen, &a->job, &a->w) != 0)
    return FB_EXIT_USAGE;
  if (a->seen[O_CSV] != NULL && a->format == FORMAT_CSV)
    return fb__cli_usage_error(&fb__cmd_run,
                               "--csv: the report is CSV already (--format "
                               "csv); --csv goes beside a text or JSON one");
  if (a->seen[O_CSV] != NULL &&
      strcmp(a->seen[O_CSV],
             a->seen[O_OUTPUT] != NULL ? a->seen[O_OUTPUT] : "-") == 0)
    return fb__cli_usage_error(&fb__cmd_run,
                               "--csv %s: the report goes there too; give "
                               "each its own file (--output FILE)",
                               a->seen[O_CSV]);
  if (a->engine == NULL)
    a->engine = fb_engine_find("sequential");
  if (a->engine == NULL)
    a->engine = fb_engines[0];
  if (a->seen[O_WORKERS] != NULL) {
    uint64_t n;
    char what[64];

    if (fb__cli_u64(&fb__cmd_run, "--workers", a->seen[O_WORKERS], 0,
                    UINT32_MAX, NULL, &n) != 0)
      return FB_EXIT_USAGE;
    if (a->engine->max_workers == 1 && n > 1)
      return fb__cli_usage_error(
          &fb__cmd_run,
          "--workers %s: engine %s runs one request at a time; choose an "
          "engine with workers with -e (threads, processes, async, ...)",
          a->seen[O_WORKERS], a->engine->name);
    snprintf(what, sizeof(what), "for engine %s", a->engine->name);
    if (fb__cli_u64(&fb__cmd_run, "--workers", a->seen[O_WORKERS], 1,
                    a->engine->max_workers, what, &n) != 0)
      return FB_EXIT_USAGE;
    a->job.workers = (unsigned)n;
  } else {
    a->job.workers = a->engine->max_workers < 8 ? a->engine->max_workers : 8;
  }
  return check_available(a->engine);
}

/* Below the table (which counts failures by kind): one example of each
 * kind, with the URL and what libcurl or the server said.
 */
static void write_failures(FILE *out, const struct fb_summary *s,
                           const struct fb_collector *c,
                           const struct fb_urlset *urls) {
  if (s->errors == 0 || c == NULL)
    return;
  fprintf(out, "\nExamples of failed requests:\n");
  for (int o = 0; o < FB_OUTCOME_COUNT; o++) {
    const struct fb_result *r = NULL;

    if (o == FB_OUTCOME_OK || s->outcomes[o] == 0)
      continue;
    for (size_t i = 0; r == NULL && i < fb_collector_size(c); i++) {
      r = fb_collector_get(c, i);
      if (r != NULL && r->outcome != o)
        r = NULL;
    }
    if (r == NULL)
      continue;
    fprintf(out, "  %s: %s", fb_outcome_name(o), fb_urlset_get(urls, r->index));
    if (r->http_status != 0)
      fprintf(out, ": HTTP %u", r->http_status);
    if (r->message != NULL && r->message[0] != '\0')
      fprintf(out, ": %s", r->message);
    else if (r->http_status == 0)
      fprintf(out, " (%s)", fb_outcome_describe(o));
    fputc('\n', out);
  }
}

/* --- shard (issue 15) --- */
/* What the JSON report says of the workload and the shard: the whole
 * list's identity, so that fetchbench merge can tell one run's shards.
 */
static void run_context(const struct run_args *a, const char *line,
                        char *digest, struct fb_report_context *x) {
  fb_urlset_digest(a->w.urls, a->w.base_url, digest);
  memset(x, 0, sizeof(*x));
  x->workload = line;
  x->origin = a->w.base_url[0] ? a->w.base_url : NULL;
  x->corpus = a->w.corpus_name[0] ? a->w.corpus_name : NULL;
  x->connection = a->job.connection == FB_CONN_FRESH ? "fresh" : "reuse";
  x->scheme = fb_urlset_scheme(a->w.urls);
  x->urls_digest = digest;
  x->workload_urls = fb_urlset_count(a->w.urls);
  x->delay_ms =
      fb__workload_ideal_ms(&a->w, a->job.connection == FB_CONN_FRESH);
  x->jitter_ms = a->w.origin_running ? a->w.jitter_ms : 0;
  x->shard = a->shard;
  x->shards = a->shards;
}
/* --- end shard --- */

static int write_csv_to(FILE *out, const void *arg) {
  const struct report *rp = arg;
  const struct run_args *a = rp->a;

  return rp->c != NULL
             ? fb_report_csv_shard(out, rp->c, rp->urls, rp->s->engine,
                                   a->shard, a->shards > 0 ? a->shards : 1)
             : FB_ELOST;
}

static int write_report_to(FILE *out, const void *arg) {
  const struct report *rp = arg;
  const struct run_args *a = rp->a;
  int err = 0;

  switch (a->format) {
  case FORMAT_TEXT:
    fprintf(out, "# %s; %s connections\n", rp->line,
            a->job.connection == FB_CONN_FRESH ? "fresh" : "reused");
    err = fb_report_text(out, rp->s, 1);
    if (err == 0)
      write_failures(out, rp->s, rp->c, rp->urls);
    break;
  case FORMAT_JSON:
    err = fb_report_json_ctx(out, rp->s, rp->ctx);
    break;
  case FORMAT_CSV:
    err = write_csv_to(out, rp);
    break;
  }
  return err;
}

/* The report, then the per-request CSV of --csv: each written even when
 * the other could not be.
 */
static int write_report(struct run_args *a, const struct fb_summary *s,
                        const struct fb_collector *c) {
  char line[1024], shown[1100], digest[FB_URLSET_DIGEST_LEN];
  struct fb_report_context ctx;
  const struct fb_urlset *urls = a->shard_urls ? a->shard_urls : a->w.urls;
  struct report rp = {a, s, c, shown, &ctx, urls};
  int status;

  fb__workload_describe(&a->w, line, sizeof(line));
  /* --- shard (issue 15) --- */
  run_context(a, line, digest, &ctx);
  if (a->shards > 0)
    snprintf(shown, sizeof(shown), "%s; shard %u/%u: %zu URLs", line, a->shard,
             a->shards, fb_urlset_count(urls));
  else
    snprintf(shown, sizeof(shown), "%s", line);
  /* --- end shard --- */
  if (a->format != FORMAT_TEXT)
    fprintf(stderr, "fetchbench run: %s\n", shown);
  status =
      fb__output_write(&fb__cmd_run, &a->out, "report", write_report_to, &rp);
  if (a->seen[O_CSV] != NULL &&
      fb__output_write(&fb__cmd_run, &a->csv, "CSV", write_csv_to, &rp) != 0)
    status = FB_EXIT_USAGE;
  return status;
}

/* Open descriptors of this process now, or 0 when /proc cannot tell. */
static long open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  long n = -1; /* the directory's own */

  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n > 0 ? n : 0;
}

/* The message of the first result with outcome o, or NULL. */
static const char *first_message(const struct fb_collector *c,
                                 enum fb_outcome o) {
  for (size_t i = 0; c != NULL && i < fb_collector_size(c); i++) {
    const struct fb_result *r = fb_collector_get(c, i);

    if (r != NULL && r->outcome == o)
      return r->message;
  }
  return NULL;
}

/* What the run's figures alone do not say, once, on stderr: a pool that
 * could not grow, and requests that found no descriptor.
 */
static void diagnose(const struct run_args *a, const struct fb_summary *s,
                     long fds_before) {
  size_t could = s->workers < s->urls ? s->workers : s->urls;
  size_t starved = s->outcomes[FB_OUTCOME_RESOURCE];
  struct rlimit rl;

  if (s->workers_ran < could)
    fb__cli_error(&fb__cmd_run,
                  "only %u of %u workers of engine %s could start%s%s; the "
                  "report counts the %u that ran",
                  s->workers_ran, s->workers, a->engine->name,
                  s->workers_err != 0 ? ": " : "",
                  s->workers_err != 0 ? fb_strerror(s->workers_err) : "",
                  s->workers_ran);
  if (starved > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
    fb__cli_error(&fb__cmd_run,
                  "%zu of %zu requests found no free descriptor: the "
                  "open-files limit is %llu; this run needed about %lu "
                  "(ulimit -n %lu)",
                  starved, s->urls, (unsigned long long)rl.rlim_cur,
                  (unsigned long)fds_before + 2ul * s->workers + 16,
                  (unsigned long)fds_before + 2ul * s->workers + 16);
}

static int run_main(int argc, char **argv) {
  struct run_args a;
  struct fb_summary s;
  struct fb_collector *c = NULL;
  struct fb_summary_hists *hists = NULL;
  const char *inputs[2] = {NULL, NULL};
  const char *why;
  long fds_before;
  int rc, status;

  memset(&a, 0, sizeof(a));
  memset(&s, 0, sizeof(s));
  fb_job_init(&a.job);
  fb__workload_init(&a.w);
  status = parse(&a, argc, argv);
  if (status != FB_CLI_GO)
    return status;
  inputs[0] = a.w.urls_path;
  status = fb__output_prepare(&fb__cmd_run, &a.out, "--output",
                              a.seen[O_OUTPUT], 0, inputs);
  if (status == 0 && a.seen[O_CSV] != NULL)
    status = fb__output_prepare(&fb__cmd_run, &a.csv, "--csv", a.seen[O_CSV], 0,
                                inputs);
  if (status != 0)
    goto out;
  if (fb__signals_install() != 0) {
    fb__cli_error(&fb__cmd_run, "cannot install signal handlers");
    status = FB_EXIT_USAGE;
    goto out;
  }
  a.w.trust = a.job.cacert;
  a.w.verify = a.job.verify_tls;
  status = fb__workload_start(&a.w, &fb__cmd_run);
  if (status != 0)
    goto out;
  a.job.urls = a.w.urls;
  /* --- shard (issue 15) --- */
  if (a.shards > 0) {
    status = shard_select(&a);
    if (status != 0)
      goto out;
    a.job.urls = a.shard_urls;
  }
  /* --- end shard --- */
  /* Open loop: the schedule of the URLs this run fetches (a shard's). */
  status =
      fb__workload_schedule(&a.w, &fb__cmd_run, fb_urlset_count(a.job.urls));
  if (status != 0)
    goto out;
  a.job.schedule = a.w.schedule;
  /* The embedded origin's own certificate, unless one was given. */
  if (a.job.cacert == NULL && a.w.cacert[0] != '\0')
    a.job.cacert = a.w.cacert;
  status = fb__jobopt_check(&fb__cmd_run, a.seen, &a.job);
  if (status != 0)
    goto out;
  a.job.cancel = &fb__cli_cancel;
  fds_before = open_fds();
  rc = fb_run_measure(
      a.engine, &a.job,
      fb__workload_ideal_ms(&a.w, a.job.connection == FB_CONN_FRESH), &s, &c);
  if (rc == FB_ERANGE && c == NULL) {
    status = fb__cli_usage_error(&fb__cmd_run, "%s", fb_strerror(rc));
    goto out;
  }
  /* The histograms behind the percentiles, for the JSON report. */
  if (c != NULL && a.format == FORMAT_JSON) {
    hists = malloc(sizeof(*hists));
    if (hists != NULL) {
      fb_summary_hists(hists, c);
      s.hists = hists;
    }
  }
  status = write_report(&a, &s, c);
  diagnose(&a, &s, fds_before);
  why = first_message(c, FB_OUTCOME_NOT_RUN);
  if (rc == FB_ENOFILE || rc == FB_EUNAVAIL) {
    /* Not the server's doing nor a failed request: the limit given, or a
     * system that refuses the engine.
     */
    fb__cli_error(&fb__cmd_run, "%s", why != NULL ? why : fb_strerror(rc));
    status = FB_EXIT_USAGE;
    goto out;
  }
  if (status != 0)
    goto out;
  if (fb__signals_caught() != 0) {
    fb__cli_error(&fb__cmd_run,
                  "cancelled by %s: %zu of %zu requests "
                  "unfinished",
                  strsignal(fb__signals_caught()),
                  s.outcomes[FB_OUTCOME_CANCELLED] +
                      s.outcomes[FB_OUTCOME_NOT_RUN],
                  s.urls);
    status = fb__signals_exit_status();
  } else if (rc != 0) {
    fb__cli_error(&fb__cmd_run, "engine %s failed: %s", a.engine->name,
                  why != NULL ? why : fb_strerror(rc));
    status = FB_EXIT_FAILED;
  } else {
    status = s.errors > 0 ? FB_EXIT_FAILED : FB_EXIT_OK;
  }
out:
  fb__output_discard(&a.out);
  fb__output_discard(&a.csv);
  free(hists);
  fb_collector_destroy(c);
  fb_urlset_destroy(a.shard_urls);
  fb__workload_stop(&a.w);
  return status;
}
