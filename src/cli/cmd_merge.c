/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fetchbench/merge.h"
#include "fetchbench/results.h"

enum {
  O_FORMAT,
  O_OUTPUT,
  O_COUNT,
};

static const struct fb_cli_opt merge_opts[] = {
    {O_FORMAT, "format", 'f', "text|json",
     "report format, as `run` writes it (default text)"},
    {O_OUTPUT, "output", 'o', "FILE", "write the report to FILE"},
    {0},
};

static int merge_main(int argc, char **argv);

const struct fb_cli_cmd fb__cmd_merge = {
    .name = "merge",
    .summary = "Merge the shards of a run split over hosts (run --shard).",
    .description =
        "Reads the reports of `fetchbench run --shard I/N --format json`, "
        "one per file or\nseveral as JSON lines (- : standard input), checks "
        "that they are the parts of\none run (engine, workers per shard, "
        "workload) that cover every URL of its\nlist exactly once, and "
        "reports the whole as `run` does: counts, bytes and CPU\nsummed, the "
        "latency histograms merged and their percentiles read again, the\n"
        "wall time from the earliest start to the latest end by each host's "
        "wall clock\n(CLOCK_REALTIME: the hosts' clock skew, which merge "
        "cannot see, adds to or\ntakes from it). Workers are the sum over "
        "the shards.\n\n"
        "Exit status: 0 merged, every request succeeded; 1 merged with "
        "failed requests,\nor the shards do not cover the list exactly "
        "once (a missing or doubled URL\nindex, named with its shard's "
        "file); 2 usage error, a file unreadable or\nmalformed (named with "
        "its line), or reports that are not one run's shards.",
    .opts = merge_opts,
    .operands = "SHARD.json...",
    .main = merge_main,
};

struct merge_args {
  const char *seen[O_COUNT];
  const char **files;
  size_t nfiles;
  int json;
};

static int parse_value(void *ctx, int id, const char *v) {
  struct merge_args *a = ctx;

  switch (id) {
  case O_FORMAT:
    if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
      return fb__cli_usage_error(&fb__cmd_merge,
                                 "--format: '%s' is not text or json", v);
    a->json = strcmp(v, "json") == 0;
    return 0;
  case FB_CLI_OPERAND: {
    const char **p = realloc(a->files, (a->nfiles + 1) * sizeof(*p));

    if (p == NULL) {
      fb__cli_error(&fb__cmd_merge, "out of memory");
      return FB_EXIT_USAGE;
    }
    a->files = p;
    a->files[a->nfiles++] = v;
    return 0;
  }
  default:
    return 0;
  }
}

struct shards {
  struct fb_results_run *runs;
  size_t n, cap;
};

/* Every report of path ("-": standard input) appended to sh. */
static int read_file(const char *path, struct shards *sh) {
  const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
  FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  char err[1024];
  size_t line = 0, before = sh->n;
  int rc;

  if (in == NULL) {
    fb__cli_error(&fb__cmd_merge, "cannot read '%s': %s", path,
                  strerror(errno));
    return FB_EXIT_USAGE;
  }
  for (;;) {
    if (sh->n == sh->cap) {
      size_t cap = sh->cap > 0 ? sh->cap * 2 : 8;
      struct fb_results_run *p = realloc(sh->runs, cap * sizeof(*p));

      if (p == NULL) {
        rc = -ENOMEM;
        snprintf(err, sizeof(err), "%s: %s", name, fb_strerror(rc));
        break;
      }
      sh->runs = p;
      sh->cap = cap;
    }
    rc = fb_results_read_run(&sh->runs[sh->n], in, name, &line, err,
                             sizeof(err));
    if (rc != 1)
      break;
    sh->n++;
  }
  if (in != stdin)
    fclose(in);
  if (rc == 0 && sh->n == before) {
    snprintf(err, sizeof(err), "%s: no report in it", name);
    rc = FB_ERESULTS;
  }
  if (rc != 0) {
    fb__cli_error(&fb__cmd_merge, "%s", err);
    return FB_EXIT_USAGE;
  }
  return 0;
}

/* What the report writer needs. */
struct merged {
  const struct merge_args *a;
  const struct fb_summary *s;
  const struct fb_report_context *ctx;
};

static int write_report(FILE *out, const void *arg) {
  const struct merged *m = arg;
  const struct fb_report_context *ctx = m->ctx;

  if (m->a->json)
    return fb_report_json_ctx(out, m->s, ctx);
  {
    fprintf(out,
            "# %u shards merged: %s; %s connections\n"
            "# wall time from the earliest start to the latest end by the "
            "hosts' wall clocks:\n# their skew, not seen here, adds to or "
            "takes from it\n",
            ctx->merged, ctx->workload != NULL ? ctx->workload : "?",
            ctx->connection != NULL ? ctx->connection : "?");
    return fb_report_text(out, m->s, 1);
  }
}

static int merge_main(int argc, char **argv) {
  struct merge_args a;
  struct shards sh = {NULL, 0, 0};
  struct fb_merge_shard *parts = NULL;
  struct fb_summary_hists *hists = NULL;
  struct fb_summary s;
  struct fb_report_context ctx;
  struct fb_output output = {0};
  struct merged m;
  const char **inputs = NULL;
  char err[1024];
  int status, rc;

  memset(&a, 0, sizeof(a));
  status = fb__cli_parse(&fb__cmd_merge, argc, argv, a.seen, O_COUNT,
                         parse_value, &a);
  if (status != FB_CLI_GO)
    goto out;
  status = 0;
  if (a.nfiles == 0) {
    status = fb__cli_usage_error(&fb__cmd_merge,
                                 "give the shards' reports (- : standard "
                                 "input)");
    goto out;
  }
  /* The output checked before anything is read: never one of the inputs. */
  inputs = calloc(a.nfiles + 1, sizeof(*inputs));
  if (inputs == NULL) {
    fb__cli_error(&fb__cmd_merge, "out of memory");
    status = FB_EXIT_USAGE;
    goto out;
  }
  memcpy(inputs, a.files, a.nfiles * sizeof(*inputs));
  status = fb__output_prepare(&fb__cmd_merge, &output, "--output",
                              a.seen[O_OUTPUT], 0, inputs);
  for (size_t i = 0; i < a.nfiles && status == 0; i++)
    status = read_file(a.files[i], &sh);
  if (status != 0)
    goto out;
  parts = calloc(sh.n, sizeof(*parts));
  hists = malloc(sizeof(*hists));
  if (parts == NULL || hists == NULL) {
    fb__cli_error(&fb__cmd_merge, "out of memory");
    status = FB_EXIT_USAGE;
    goto out;
  }
  for (size_t i = 0; i < sh.n; i++) {
    parts[i].s = &sh.runs[i].s;
    parts[i].ctx = sh.runs[i].has_ctx ? &sh.runs[i].ctx : NULL;
    parts[i].where = sh.runs[i].where;
  }
  rc = fb_merge(&s, hists, &ctx, parts, sh.n, err, sizeof(err));
  if (rc != 0) {
    fb__cli_error(&fb__cmd_merge, "%s", err[0] ? err : fb_strerror(rc));
    status = rc == FB_ESHARDS ? FB_EXIT_FAILED : FB_EXIT_USAGE;
    goto out;
  }
  m = (struct merged){&a, &s, &ctx};
  status =
      fb__output_write(&fb__cmd_merge, &output, "report", write_report, &m);
  if (status == 0 && s.errors > 0)
    status = FB_EXIT_FAILED;
out:
  fb__output_discard(&output);
  free(inputs);
  for (size_t i = 0; i < sh.n; i++)
    fb_results_run_cleanup(&sh.runs[i]);
  free(sh.runs);
  free(parts);
  free(hists);
  free(a.files);
  return status;
}
