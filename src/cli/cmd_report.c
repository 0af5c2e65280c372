/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fetchbench/compare.h"
#include "fetchbench/results.h"
#include "sweep.h"

enum {
  O_HTML,
  O_PLOT,
  O_PLOT_CPU,
  O_PLOT_RSS,
  O_TITLE,
  O_COUNT,
};

static const struct fb_cli_opt report_opts[] = {
    {O_HTML, "html", 0, "FILE",
     "write one self-contained HTML page to FILE (- : standard output) "
     "instead of the table"},
    FB_PLOT_OPTS(O_PLOT),
    {O_TITLE, "title", 0, "TEXT",
     "the plots' second title line (default: the workload)"},
    {0},
};

static int report_main(int argc, char **argv);

const struct fb_cli_cmd fb__cmd_report = {
    .name = "report",
    .summary = "Report a saved comparison again (compare --json).",
    .description =
        "Reads the JSON Lines that `fetchbench compare --json FILE` wrote "
        "(- : standard\ninput) and prints its table and verdict, recomputed "
        "from the saved cells, as\ncompare printed them; with --html, "
        "writes the HTML page that compare --html\nwould have written; with "
        "--plot, --plot-cpu and --plot-rss, compare's plots.\nAlso reads one "
        "sweep of a bench suite's rows (bench/README.md), its peers and\n"
        "reference cells beside the engines.\n\n"
        "Exit status: 0 the report was written; 2 usage or output error, a "
        "malformed\nor truncated file (named with its line), or a sweep "
        "with nothing to report\n(no cell, or no run that finished).",
    .opts = report_opts,
    .operands = "RESULTS.json",
    .main = report_main,
};

struct report_args {
  const char *seen[O_COUNT];
  const char *input;
  struct fb_output html; /* --html */
  struct fb_plots plots; /* --plot, --plot-cpu, --plot-rss */
};

static int parse_value(void *ctx, int id, const char *v) {
  struct report_args *a = ctx;

  if (id == O_PLOT || id == O_PLOT_CPU || id == O_PLOT_RSS)
    return fb__plots_check(&fb__cmd_report, id - O_PLOT, v);
  if (id != FB_CLI_OPERAND)
    return 0;
  if (a->input != NULL)
    return fb__cli_usage_error(&fb__cmd_report,
                               "one results file at a time ('%s' and '%s')",
                               a->input, v);
  a->input = v;
  return 0;
}

int fb__cli_read_results(const struct fb_cli_cmd *cmd, const char *path,
                         struct fb_results *res) {
  const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
  FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  char err[1024];
  int rc;

  if (in == NULL) {
    fb__cli_error(cmd, "cannot read '%s': %s", path, strerror(errno));
    return FB_EXIT_USAGE;
  }
  rc = fb_results_read(res, in, name, err, sizeof(err));
  if (in != stdin)
    fclose(in);
  if (rc != 0) {
    fb__cli_error(cmd, "%s", err);
    return FB_EXIT_USAGE;
  }
  return 0;
}

/* A sweep without a single finished run has nothing to show: say so rather
 * than write an empty page.
 */
static int check_not_empty(const char *path, const struct fb_compare *cmp) {
  size_t runs = 0, failed = 0;

  for (size_t i = 0; i < cmp->ncells; i++) {
    runs += cmp->cells[i].runs;
    failed += cmp->cells[i].failed;
  }
  if (cmp->ncells == 0) {
    fb__cli_error(&fb__cmd_report, "%s: no cell: nothing to report", path);
    return FB_EXIT_USAGE;
  }
  if (runs == 0) {
    fb__cli_error(&fb__cmd_report,
                  "%s: none of its %zu cells has a finished run (%zu runs "
                  "failed%s): nothing to report",
                  path, cmp->ncells, failed,
                  cmp->cancelled ? ", the sweep was cancelled" : "");
    return FB_EXIT_USAGE;
  }
  return 0;
}

static int write_text(FILE *out, const void *arg) {
  const struct fb_compare *cmp = arg;
  char header[2048];

  fb__sweep_header(header, sizeof(header), cmp);
  if (fputs(header, out) < 0)
    return -EIO;
  return fb_report_compare_text(out, cmp);
}

static int write_html(FILE *out, const void *arg) {
  return fb_report_compare_html(out, arg);
}

/* Checked only once the input is read: a file that cannot be read leaves no
 * page or plot behind; and all of them before any is written.
 */
static int prepare_outputs(struct report_args *a) {
  const char *inputs[2] = {a->input, NULL};

  a->html.path = "-";
  a->html.f = stdout;
  if (a->seen[O_HTML] != NULL &&
      fb__output_prepare(&fb__cmd_report, &a->html, "--html", a->seen[O_HTML],
                         0, inputs) != 0)
    return FB_EXIT_USAGE;
  return fb__plots_prepare(&fb__cmd_report, &a->plots, &a->seen[O_PLOT],
                           inputs);
}

static int report_main(int argc, char **argv) {
  struct report_args a;
  struct fb_results res;
  int status;

  memset(&a, 0, sizeof(a));
  memset(&res, 0, sizeof(res));
  status = fb__cli_parse(&fb__cmd_report, argc, argv, a.seen, O_COUNT,
                         parse_value, &a);
  if (status != FB_CLI_GO)
    return status;
  if (a.input == NULL)
    return fb__cli_usage_error(&fb__cmd_report,
                               "which results file? (RESULTS.json, as "
                               "compare --json wrote it)");
  if (a.seen[O_TITLE] != NULL && a.seen[O_PLOT] == NULL &&
      a.seen[O_PLOT_CPU] == NULL && a.seen[O_PLOT_RSS] == NULL)
    return fb__cli_usage_error(&fb__cmd_report,
                               "--title: a title of plots, with --plot, "
                               "--plot-cpu or --plot-rss");
  status = fb__cli_read_results(&fb__cmd_report, a.input, &res);
  if (status == 0)
    status = check_not_empty(a.input, &res.cmp);
  if (status == 0)
    status = prepare_outputs(&a);
  if (status != 0)
    goto out;
  if (a.seen[O_HTML] == NULL)
    status = fb__output_write(&fb__cmd_report, &a.html, "report", write_text,
                              &res.cmp);
  else if (fb__output_write(&fb__cmd_report, &a.html, "HTML report", write_html,
                            &res.cmp) != 0)
    status = FB_EXIT_USAGE;
  else if (strcmp(a.seen[O_HTML], "-") != 0 &&
           (printf("HTML report: %s\n", a.seen[O_HTML]) < 0 ||
            fflush(stdout) != 0))
    status = FB_EXIT_USAGE;
  if (fb__plots_draw(&fb__cmd_report, &a.plots, &res.cmp, a.seen[O_TITLE]) != 0)
    status = FB_EXIT_USAGE;
out:
  fb__output_discard(&a.html);
  fb__plots_discard(&a.plots);
  fb_results_cleanup(&res);
  return status;
}
