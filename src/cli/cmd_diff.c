/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fetchbench/diff.h"
#include "fetchbench/results.h"

enum {
  O_THRESHOLD,
  O_COUNT,
};

static const struct fb_cli_opt diff_opts[] = {
    {O_THRESHOLD, "threshold", 't', "P",
     "a cell regressed when a figure rose significantly by more than P % "
     "(default 5)"},
    {0},
};

static int diff_main(int argc, char **argv);

const struct fb_cli_cmd fb__cmd_diff = {
    .name = "diff",
    .summary = "Compare two saved comparisons (compare --json), cell by cell.",
    .description =
        "Reads two files that `fetchbench compare --json` wrote and sets each "
        "cell of NEW\nagainst the cell of OLD with the same engine and "
        "workers: wall time, CPU per\nrequest, peak RSS and p99 latency, each "
        "change as new over old (a Hodges-Lehmann\nestimate with its 95 % "
        "interval) with a two-sided Mann-Whitney U test between\nthe two "
        "sweeps' runs. The workload must be the same (URLs, connection, "
        "corpus,\nscheme); a change of the origin's delay or of the machine "
        "is said, not refused.\nWith fewer than 4 runs per cell the test "
        "cannot tell, and nothing regresses.\n\n"
        "Exit status: 0 no cell regressed; 1 a cell regressed (a figure "
        "higher at\np <= 0.05 by more than --threshold); 2 usage error, a "
        "file unreadable or\nmalformed (named with its line), or workloads "
        "that differ (named field by\nfield).",
    .opts = diff_opts,
    .operands = "OLD.json NEW.json",
    .main = diff_main,
};

struct diff_args {
  const char *seen[O_COUNT];
  const char *files[2];
  size_t nfiles;
  double threshold; /* a fraction */
};

/* --threshold P: a percentage from 0 up. */
static int parse_threshold(struct diff_args *a, const char *v) {
  char *end;
  double p;

  errno = 0;
  p = strtod(v, &end);
  if (v[0] == '\0' || *end != '\0' || errno != 0 || !(p >= 0) || p > 1e6 ||
      strchr("+- \t", v[0]) != NULL)
    return fb__cli_usage_error(&fb__cmd_diff,
                               "--threshold: '%s' is not a percentage (0 or "
                               "more)",
                               v);
  a->threshold = p / 100;
  return 0;
}

static int parse_value(void *ctx, int id, const char *v) {
  struct diff_args *a = ctx;

  if (id == O_THRESHOLD)
    return parse_threshold(a, v);
  if (id != FB_CLI_OPERAND)
    return 0;
  if (a->nfiles == 2)
    return fb__cli_usage_error(&fb__cmd_diff,
                               "two files, OLD and NEW ('%s' is a third)", v);
  a->files[a->nfiles++] = v;
  return 0;
}

/* What the diff writer needs. */
struct diff_out {
  const struct fb_diff *d;
  const struct fb_compare *old_cmp, *new_cmp;
  const char *old_name, *new_name;
};

static int write_diff(FILE *out, const void *arg) {
  const struct diff_out *x = arg;

  return fb_report_diff_text(out, x->d, x->old_cmp, x->new_cmp, x->old_name,
                             x->new_name);
}

static const char *name_of(const char *path) {
  return strcmp(path, "-") == 0 ? "standard input" : path;
}

static int diff_main(int argc, char **argv) {
  struct diff_args a = {.threshold = 0.05};
  struct fb_results old_res, new_res;
  struct fb_diff d;
  struct fb_output out = {0};
  struct diff_out x;
  int status, rc;

  memset(&old_res, 0, sizeof(old_res));
  memset(&new_res, 0, sizeof(new_res));
  memset(&d, 0, sizeof(d));
  status = fb__cli_parse(&fb__cmd_diff, argc, argv, a.seen, O_COUNT,
                         parse_value, &a);
  if (status != FB_CLI_GO)
    return status;
  if (a.nfiles != 2)
    return fb__cli_usage_error(&fb__cmd_diff, "give two files, OLD and NEW");
  if (strcmp(a.files[0], "-") == 0 && strcmp(a.files[1], "-") == 0)
    return fb__cli_usage_error(&fb__cmd_diff,
                               "only one of OLD and NEW can be -");
  status = fb__cli_read_results(&fb__cmd_diff, a.files[0], &old_res);
  if (status == 0)
    status = fb__cli_read_results(&fb__cmd_diff, a.files[1], &new_res);
  if (status != 0)
    goto out;
  rc = fb_diff_compute(&d, &old_res.cmp, &new_res.cmp, a.threshold);
  if (rc != 0) {
    fb__cli_error(&fb__cmd_diff, "%s", fb_strerror(rc));
    status = FB_EXIT_USAGE;
    goto out;
  }
  if (d.nworkload > 0) {
    for (size_t i = 0; i < d.nworkload; i++)
      fb__cli_error(&fb__cmd_diff,
                    "the workloads differ: %s is %s in %s, %s "
                    "in %s",
                    d.workload[i].name, d.workload[i].old_value,
                    name_of(a.files[0]), d.workload[i].new_value,
                    name_of(a.files[1]));
    status = FB_EXIT_USAGE;
    goto out;
  }
  x = (struct diff_out){&d, &old_res.cmp, &new_res.cmp, name_of(a.files[0]),
                        name_of(a.files[1])};
  status =
      fb__output_prepare(&fb__cmd_diff, &out, "standard output", NULL, 0, NULL);
  if (status == 0)
    status = fb__output_write(&fb__cmd_diff, &out, "diff", write_diff, &x);
  if (status == 0 && d.regressed > 0)
    status = FB_EXIT_FAILED;
out:
  fb_diff_cleanup(&d);
  fb_results_cleanup(&old_res);
  fb_results_cleanup(&new_res);
  return status;
}
