#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
  O_ENGINE,
  O_WORKERS,
  O_URLS,
  O_PAGES,
  O_ORIGIN,
  O_CORPUS,
  O_DELAY,
  O_JITTER,
  O_SEED,
  O_CONNECTION,
  O_TIMEOUT,
  O_CONNECT_TIMEOUT,
  O_LOW_SPEED_TIME,
  O_MAX_BODY,
  O_MAX_REDIRECTS,
  O_NO_REDIRECTS,
  O_USER_AGENT,
  O_CHUNK,
  O_THREAD_STACK,
  O_MAX_RESPAWNS,
  O_NO_PIN,
  O_FORMAT,
  O_OUTPUT,
  O_HELP,
};

static const struct fb_cli_opt run_opts[] = {
    [O_ENGINE] = {"engine", 'e', "NAME",
                  "concurrency model (default sequential)"},
    [O_WORKERS] = {"workers", 'w', "N",
                   "most requests in flight (default 8, or the engine's "
                   "maximum when lower)"},
    [O_URLS] = {"urls", 'u', "FILE|-",
                "fetch the URLs listed in FILE (- : standard input) instead "
                "of the embedded origin's pages"},
    [O_PAGES] = {"pages", 'n', "N",
                 "fetch N pages of the origin (seed pages first; default: "
                 "the ten seed pages)"},
    [O_ORIGIN] = {"origin", 0, "URL",
                  "use a running `fetchbench origin` at URL instead of "
                  "starting one"},
    [O_CORPUS] = {"corpus", 0, "DIR|synthetic",
                  "embedded origin's corpus (default: the Django docs when "
                  "installed, else synthetic)"},
    [O_DELAY] = {"delay", 'd', "MS",
                 "embedded origin's delay per request (default 70); with "
                 "--urls or --origin: the known delay, for efficiency"},
    [O_JITTER] = {"jitter", 0, "MS",
                  "embedded origin's delay varies by +/- MS (default 0)"},
    [O_SEED] = {"seed", 0, "N",
                "embedded origin's seed for jitter and the synthetic corpus"},
    [O_CONNECTION] = {"connection", 'c', "reuse|fresh",
                      "keep-alive per worker, or a new connection per "
                      "request (default fresh, reuse with --urls)"},
    [O_TIMEOUT] = {"timeout", 't', "MS",
                   "whole-request timeout (default 30000)"},
    [O_CONNECT_TIMEOUT] = {"connect-timeout", 0, "MS",
                           "connection timeout (default 10000)"},
    [O_LOW_SPEED_TIME] = {"low-speed-time", 0, "S",
                          "abort a transfer stalled this long (default 10; "
                          "0: never)"},
    [O_MAX_BODY] = {"max-body", 0, "BYTES",
                    "body size cap, e.g. 64M (default 64M)"},
    [O_MAX_REDIRECTS] = {"max-redirects", 0, "N",
                         "redirects followed at most (default 5)"},
    [O_NO_REDIRECTS] = {"no-redirects", 0, NULL,
                        "do not follow redirects: a 3xx is the answer"},
    [O_USER_AGENT] = {"user-agent", 0, "STRING",
                      "User-Agent header (default fetchbench/VERSION)"},
    [O_CHUNK] = {"chunk", 0, "N",
                 "processes: URLs handed to a worker at a time (default 1)"},
    [O_THREAD_STACK] = {"thread-stack", 0, "BYTES",
                        "threads: stack size per thread (default 256k)"},
    [O_MAX_RESPAWNS] = {"max-respawns", 0, "N",
                        "processes: worker deaths tolerated (default 16)"},
    [O_NO_PIN] = {"no-pin", 0, NULL,
                  "do not pin the client and the embedded origin to "
                  "different cores"},
    [O_FORMAT] = {"format", 'f', "text|json|csv",
                  "report format: a table, one JSON object, or one CSV row "
                  "per request (default text)"},
    [O_OUTPUT] = {"output", 'o', "FILE", "write the report to FILE"},
    [O_HELP] = {"help", 'h', NULL, "show this help and exit"},
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
    .main = run_main,
};

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_CSV };

struct run_args {
  const struct fb_engine *engine;
  const char *workers_arg;
  const char *connection_arg;
  const char *seen[O_HELP + 1]; /* the value (or "") of each option given */
  enum format format;
  const char *output;
  struct fb_job job;
  struct fb_workload w;
};

/* Options that only make sense for the embedded origin. */
static int check_conflicts(const struct run_args *a) {
  static const int embedded_only[] = {O_CORPUS, O_JITTER, O_SEED, O_NO_PIN};

  if (a->seen[O_URLS] && a->seen[O_ORIGIN])
    return fb__cli_usage_error(&fb__cmd_run,
                               "--urls and --origin exclude each other");
  if (a->seen[O_URLS] && a->seen[O_PAGES])
    return fb__cli_usage_error(&fb__cmd_run,
                               "--pages picks origin pages; it does not "
                               "apply to --urls");
  for (size_t i = 0; i < sizeof(embedded_only) / sizeof(embedded_only[0]);
       i++) {
    int o = embedded_only[i];

    if (a->seen[o] && (a->seen[O_URLS] || a->seen[O_ORIGIN]))
      return fb__cli_usage_error(
          &fb__cmd_run, "--%s applies to the embedded origin, not with --%s",
          run_opts[o].name, a->seen[O_URLS] ? "urls" : "origin");
  }
  return 0;
}

static int parse_value(struct run_args *a, int o, const char *v) {
  const struct fb_cli_cmd *cmd = &fb__cmd_run;
  struct fb_job *job = &a->job;
  uint64_t u64;
  int rc = 0;

  switch (o) {
  case O_ENGINE:
    a->engine = fb__cli_engine(cmd, "--engine", v);
    return a->engine != NULL ? 0 : FB_EXIT_USAGE;
  case O_WORKERS:
    a->workers_arg = v;
    return 0;
  case O_URLS:
    a->w.urls_path = v;
    return 0;
  case O_PAGES:
    rc = fb__cli_u64(cmd, "--pages", v, 1, 10000000, NULL, &u64);
    a->w.pages = (size_t)u64;
    return rc;
  case O_ORIGIN:
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
      return fb__cli_usage_error(cmd, "--origin: '%s' is not an http(s) URL",
                                 v);
    a->w.origin_url = v;
    return 0;
  case O_CORPUS:
    a->w.corpus = v;
    return 0;
  case O_DELAY:
    a->w.delay_set = 1;
    return fb__cli_uint(cmd, "--delay", v, 0, 600000, &a->w.delay_ms);
  case O_JITTER:
    return fb__cli_uint(cmd, "--jitter", v, 0, 600000, &a->w.jitter_ms);
  case O_SEED:
    return fb__cli_u64(cmd, "--seed", v, 0, UINT64_MAX, NULL, &a->w.seed);
  case O_CONNECTION:
    a->connection_arg = v;
    return fb__cli_connection(cmd, "--connection", v, &job->connection);
  case O_TIMEOUT:
    return fb__cli_long(cmd, "--timeout", v, 1, 86400000L, &job->timeout_ms);
  case O_CONNECT_TIMEOUT:
    return fb__cli_long(cmd, "--connect-timeout", v, 1, 86400000L,
                        &job->connect_timeout_ms);
  case O_LOW_SPEED_TIME:
    return fb__cli_long(cmd, "--low-speed-time", v, 0, 86400L,
                        &job->low_speed_secs);
  case O_MAX_BODY:
    return fb__cli_bytes(cmd, "--max-body", v, 1, 1ULL << 40, &job->max_body);
  case O_MAX_REDIRECTS:
    return fb__cli_long(cmd, "--max-redirects", v, 0, 1000,
                        &job->max_redirects);
  case O_NO_REDIRECTS:
    job->follow_redirects = 0;
    return 0;
  case O_USER_AGENT:
    job->user_agent = v;
    return 0;
  case O_CHUNK:
    return fb__cli_uint(cmd, "--chunk", v, 1, 1000000, &job->chunk);
  case O_THREAD_STACK:
    rc = fb__cli_bytes(cmd, "--thread-stack", v, 16384, 1ULL << 30, &u64);
    job->thread_stack = (size_t)u64;
    return rc;
  case O_MAX_RESPAWNS:
    return fb__cli_uint(cmd, "--max-respawns", v, 0, 1000000,
                        &job->max_respawns);
  case O_NO_PIN:
    a->w.pin = 0;
    return 0;
  case O_FORMAT:
    if (strcmp(v, "text") == 0)
      a->format = FORMAT_TEXT;
    else if (strcmp(v, "json") == 0)
      a->format = FORMAT_JSON;
    else if (strcmp(v, "csv") == 0)
      a->format = FORMAT_CSV;
    else
      return fb__cli_usage_error(cmd, "--format: '%s' is not text, json or csv",
                                 v);
    return 0;
  case O_OUTPUT:
    a->output = v;
    return 0;
  default:
    return 0;
  }
}

static int parse(struct run_args *a, int argc, char **argv, int *help) {
  struct fb_cli_args it;
  const char *v;
  int o, rc;

  fb__cli_args_init(&it, &fb__cmd_run, argc, argv);
  while ((o = fb__cli_next(&it, &v)) >= 0) {
    if (o == O_HELP) {
      *help = 1;
      return 0;
    }
    if (a->seen[o] != NULL)
      return fb__cli_usage_error(&fb__cmd_run, "--%s given twice",
                                 run_opts[o].name);
    a->seen[o] = v != NULL ? v : "";
    rc = parse_value(a, o, v);
    if (rc != 0)
      return rc;
  }
  if (o == -2)
    return FB_EXIT_USAGE;
  rc = check_conflicts(a);
  if (rc != 0)
    return rc;
  if (a->engine == NULL)
    a->engine = fb_engine_find("sequential");
  if (a->engine == NULL)
    a->engine = fb_engines[0];
  if (a->workers_arg != NULL) {
    uint64_t n;
    char what[64];

    snprintf(what, sizeof(what), "for engine %s", a->engine->name);
    rc = fb__cli_u64(&fb__cmd_run, "--workers", a->workers_arg, 1,
                     a->engine->max_workers, what, &n);
    if (rc != 0)
      return rc;
    a->job.workers = (unsigned)n;
  } else {
    a->job.workers = a->engine->max_workers < 8 ? a->engine->max_workers : 8;
  }
  if (a->connection_arg == NULL)
    a->job.connection = a->w.urls_path != NULL ? FB_CONN_REUSE : FB_CONN_FRESH;
  return 0;
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
  FILE *out = fb__output_open(&fb__cmd_run, a->output);
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
  return fb__output_close(&fb__cmd_run, out, a->output, err);
}

static int run_main(int argc, char **argv) {
  struct run_args a;
  struct fb_summary s;
  struct fb_collector *c = NULL;
  int help = 0, rc, status;

  memset(&a, 0, sizeof(a));
  memset(&s, 0, sizeof(s));
  fb_job_init(&a.job);
  fb__workload_init(&a.w);
  rc = parse(&a, argc, argv, &help);
  if (rc != 0)
    return rc;
  if (help)
    return fb__cli_help(stdout, &fb__cmd_run) == 0 ? FB_EXIT_OK : FB_EXIT_USAGE;
  if (fb__signals_install() != 0) {
    fb__cli_error(&fb__cmd_run, "cannot install signal handlers");
    return FB_EXIT_USAGE;
  }
  status = fb__workload_start(&a.w, &fb__cmd_run);
  if (status != 0)
    goto out;
  if (fb__cli_cancel) {
    status = fb__signals_exit_status();
    goto out;
  }
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
