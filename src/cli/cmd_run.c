#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
  O_ENGINE = FB_JOBOPT_COUNT,
  O_WORKERS,
  O_FORMAT,
  O_OUTPUT,
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
        "experiment.\n\n"
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
};

static int parse_value(void *ctx, int id, const char *v) {
  struct run_args *a = ctx;

  switch (id) {
  case O_ENGINE:
    a->engine = fb__cli_engine(&fb__cmd_run, "--engine", v);
    return a->engine != NULL ? 0 : FB_EXIT_USAGE;
  case O_WORKERS: /* once the engine is known */
  case O_OUTPUT:
    return 0;
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

/* Returns FB_CLI_GO or the status to exit with. */
static int parse(struct run_args *a, int argc, char **argv) {
  int rc =
      fb__cli_parse(&fb__cmd_run, argc, argv, a->seen, O_COUNT, parse_value, a);

  if (rc != FB_CLI_GO)
    return rc;
  if (fb__jobopt_finish(&fb__cmd_run, a->seen, &a->job, &a->w) != 0)
    return FB_EXIT_USAGE;
  if (a->engine == NULL)
    a->engine = fb_engine_find("sequential");
  if (a->engine == NULL)
    a->engine = fb_engines[0];
  if (a->seen[O_WORKERS] != NULL) {
    uint64_t n;
    char what[64];

    snprintf(what, sizeof(what), "for engine %s", a->engine->name);
    if (fb__cli_u64(&fb__cmd_run, "--workers", a->seen[O_WORKERS], 1,
                    a->engine->max_workers, what, &n) != 0)
      return FB_EXIT_USAGE;
    a->job.workers = (unsigned)n;
  } else {
    a->job.workers = a->engine->max_workers < 8 ? a->engine->max_workers : 8;
  }
  return FB_CLI_GO;
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

static int write_report(const struct run_args *a, const struct fb_summary *s,
                        const struct fb_collector *c) {
  char line[1024];
  const char *output = a->seen[O_OUTPUT];
  FILE *out = fb__output_open(&fb__cmd_run, output);
  int err = 0;

  if (out == NULL)
    return FB_EXIT_USAGE;
  fb__workload_describe(&a->w, line, sizeof(line));
  switch (a->format) {
  case FORMAT_TEXT:
    fprintf(out, "# %s; %s connections\n", line,
            a->job.connection == FB_CONN_FRESH ? "fresh" : "reused");
    err = fb_report_text(out, s, 1);
    if (err == 0)
      write_failures(out, s, c, a->w.urls);
    break;
  case FORMAT_JSON:
    fprintf(stderr, "fetchbench run: %s\n", line);
    err = fb_report_json(out, s);
    break;
  case FORMAT_CSV:
    fprintf(stderr, "fetchbench run: %s\n", line);
    err = c != NULL ? fb_report_csv(out, c, a->w.urls, s->engine) : FB_ELOST;
    break;
  }
  return fb__output_close(&fb__cmd_run, out, output, err);
}

static int run_main(int argc, char **argv) {
  struct run_args a;
  struct fb_summary s;
  struct fb_collector *c = NULL;
  int rc, status;

  memset(&a, 0, sizeof(a));
  memset(&s, 0, sizeof(s));
  fb_job_init(&a.job);
  fb__workload_init(&a.w);
  status = parse(&a, argc, argv);
  if (status != FB_CLI_GO)
    return status;
  if (fb__signals_install() != 0) {
    fb__cli_error(&fb__cmd_run, "cannot install signal handlers");
    return FB_EXIT_USAGE;
  }
  status = fb__workload_start(&a.w, &fb__cmd_run);
  if (status != 0)
    goto out;
  a.job.urls = a.w.urls;
  a.job.cancel = &fb__cli_cancel;
  rc = fb_run_measure(a.engine, &a.job, a.w.known_delay_ms, &s, &c);
  if (rc == FB_ERANGE && c == NULL) {
    status = fb__cli_usage_error(&fb__cmd_run, "%s", fb_strerror(rc));
    goto out;
  }
  status = write_report(&a, &s, c);
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
                  fb_strerror(rc));
    status = FB_EXIT_FAILED;
  } else {
    status = s.errors > 0 ? FB_EXIT_FAILED : FB_EXIT_OK;
  }
out:
  fb_collector_destroy(c);
  fb__workload_stop(&a.w);
  return status;
}
