/* SPDX-License-Identifier: MIT */
#ifndef FB_CLI_H
#define FB_CLI_H

/* The fetchbench command: shared pieces of its subcommands. Only the CLI
 * exits the process; everything here returns exit statuses instead.
 */

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "fetchbench/fetchbench.h"

/* Exit statuses, as documented in `fetchbench --help`. */
#define FB_EXIT_OK 0       /* every request succeeded */
#define FB_EXIT_FAILED 1   /* some requests failed (report printed) */
#define FB_EXIT_USAGE 2    /* usage, input or output error */
#define FB_EXIT_SIGINT 130 /* cancelled by SIGINT */
#define FB_EXIT_SIGTERM 143

/* --- Options (opts.c) ---------------------------------------------------- */

/* One option of a subcommand. metavar NULL: a flag without a value. */
struct fb_cli_opt {
  int id;           /* what fb__cli_parse reports: unique within a command */
  const char *name; /* long name without "--" */
  int short_name;   /* 'w', or 0 */
  const char *metavar;
  const char *help;
};

/* Options that several commands share, under a heading of their help. */
struct fb_cli_group {
  const char *heading;           /* "Workload options" */
  const struct fb_cli_opt *opts; /* terminated by a zero name */
};

struct fb_cli_cmd {
  const char *name;
  const char *summary;                /* one line for `fetchbench --help` */
  const char *description;            /* paragraph for the command's help */
  const struct fb_cli_opt *opts;      /* its own, terminated by a zero name */
  const struct fb_cli_group *groups;  /* then these, ended by a zero heading;
                                        or NULL */
  const char *operands;               /* the usage line's operands
                                        ("RESULTS.json"), or NULL when the
                                        command takes none */
  int (*main)(int argc, char **argv); /* argv[0] is the command's name */
};

/* Returned by fb__cli_parse when the command is to go on. */
#define FB_CLI_GO (-1)

/* The id with which fb__cli_parse hands a command each operand. */
#define FB_CLI_OPERAND (-2)

/* Parses argv[1..] of cmd (argv[0] is its name). Each option's value ("" for
 * a flag) goes to seen[id] (nseen entries, NULL when not given) and to
 * parse(ctx, id, value), which returns 0 or FB_EXIT_USAGE after printing
 * why. Accepts --name VALUE, --name=VALUE, -x VALUE, -xVALUE and "--"; an
 * option given twice, an unknown option, a missing or unexpected value are
 * usage errors. An argument that is not an option (every one after "--",
 * and "-") is an operand: handed to parse(ctx, FB_CLI_OPERAND, arg) in
 * order when cmd has operands, else a usage error. Every command has -h,
 * --help.
 * Returns FB_CLI_GO, or the status to exit with at once: FB_EXIT_OK after
 * printing the help for --help, FB_EXIT_USAGE after printing an error.
 */
int fb__cli_parse(const struct fb_cli_cmd *cmd, int argc, char **argv,
                  const char **seen, size_t nseen,
                  int (*parse)(void *ctx, int id, const char *value),
                  void *ctx);

/* Prints "fetchbench CMD: MESSAGE" and a hint to --help on stderr; returns
 * FB_EXIT_USAGE. cmd may be NULL for the top level.
 */
int fb__cli_usage_error(const struct fb_cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "fetchbench CMD: MESSAGE" on stderr (no hint). */
void fb__cli_error(const struct fb_cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes text from column col, wrapped at FB_CLI_WIDTH with continuation
 * lines indented by indent, then a newline.
 */
#define FB_CLI_WIDTH 79
void fb__cli_wrap(FILE *out, int col, int indent, const char *text);

/* Writes the command's help (usage, description, options) to out. Returns 0
 * or -EIO.
 */
int fb__cli_help(FILE *out, const struct fb_cli_cmd *cmd);

/* Strict numbers: decimal digits only (no sign, space or trailing junk),
 * then a range check. On error they print a usage error naming the option
 * and the value ("--workers: 0 is out of range 1..1024") and return
 * FB_EXIT_USAGE; else 0. what, when not NULL, is appended to the range
 * message ("for engine threads").
 */
int fb__cli_u64(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                uint64_t min, uint64_t max, const char *what, uint64_t *out);
int fb__cli_uint(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 unsigned min, unsigned max, unsigned *out);
int fb__cli_long(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 long min, long max, long *out);

/* A byte count: digits with an optional binary suffix k, M or G (also
 * written K, KiB, MB, ...): "65536", "64k", "1MiB".
 */
int fb__cli_bytes(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                  uint64_t min, uint64_t max, uint64_t *out);

/* A rate in requests per second: a positive decimal ("100", "0.5", "2.25";
 * no sign or exponent), at most max.
 */
int fb__cli_rate(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 double max, double *out);

/* A probability in [0, 1]: "0.25", "1", ".5". */
int fb__cli_fraction(const struct fb_cli_cmd *cmd, const char *opt,
                     const char *s, double *out);

/* Splits a comma-separated list into at most max items (pointers into a
 * copy the caller frees with free(*storage)). Empty items and lists are
 * usage errors. Returns 0 or FB_EXIT_USAGE (message printed).
 */
int fb__cli_list(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 char **items, size_t max, size_t *n, char **storage);

/* Resolves an engine name, or prints the valid ones and returns NULL. */
const struct fb_engine *fb__cli_engine(const struct fb_cli_cmd *cmd,
                                       const char *opt, const char *name);

/* Parses "reuse" or "fresh". */
int fb__cli_connection(const struct fb_cli_cmd *cmd, const char *opt,
                       const char *s, enum fb_connection *out);

/* --- Signals (signals.c) ------------------------------------------------- */

/* Raised by SIGINT or SIGTERM; a job's cancel flag points here. */
extern volatile sig_atomic_t fb__cli_cancel;

/* Ignores SIGPIPE process-wide. Call first thing in main. */
void fb__signals_ignore_pipe(void);

/* Installs the SIGINT/SIGTERM handler: the first signal raises
 * fb__cli_cancel (and is forwarded to the process set with
 * fb__signals_forward); a second SIGINT exits at once with status 130.
 * Blocking calls are interrupted (no SA_RESTART) so that loops notice.
 */
int fb__signals_install(void);

/* In a forked child that must finish its work and report: a second signal
 * no longer exits, and nothing is forwarded.
 */
void fb__signals_child(void);

/* The process a first signal is forwarded to (0: none). */
void fb__signals_forward(pid_t pid);

/* The signal that cancelled the run (SIGINT, SIGTERM) or 0, and the exit
 * status that reports it (130, 143).
 */
int fb__signals_caught(void);
int fb__signals_exit_status(void);

/* --- Workload: the embedded origin and the URL set (workload.c) ---------- */

/* What `run` and `compare` fetch, and from where. */
struct fb_workload {
  /* Settings, from options. */
  const char *urls_path;  /* --urls FILE or "-": the user's list */
  const char *origin_url; /* --origin URL: an origin already running */
  const char *corpus;     /* --corpus for the embedded origin */
  int delay_set;          /* --delay given */
  unsigned delay_ms;      /* embedded origin's delay; known delay */
  unsigned jitter_ms;     /* embedded origin's jitter */
  uint64_t seed;          /* embedded origin's seed */
  size_t pages;           /* --pages N; 0: the ten seed pages */
  int pin;                /* pin origin and client to different cores */
  double rate;            /* --rate: open loop at this many requests/s, 0:
                           * closed loop */
  double rate_lo;         /* compare --rate LIST: the lowest (rate is the
                           * highest), 0: one rate */
  int arrival;            /* --arrival: enum fb_arrival */
  int given_origin_cpu;   /* --origin-cpu: the running origin's core, or -1 */
  int https;              /* --scheme: the embedded origin serves TLS */
  unsigned rtt_ms;        /* --rtt: the embedded origin's round trip */
  const char *trust;      /* --cacert: what --origin's index is fetched
                           * trusting (the embedded origin's own when it
                           * runs), NULL: the system's */
  int verify;             /* 0 with --insecure */

  /* Results of fb__workload_start. */
  struct fb_urlset *urls;
  struct fb_origin_proc origin;
  int origin_running;
  int client_cpu; /* -1: not pinned */
  int origin_cpu;
  char corpus_name[256];        /* what the origin serves, or "" */
  char base_url[256];           /* generated URLs start with it, or "" */
  double known_delay_ms;        /* < 0 unknown */
  struct fb_schedule *schedule; /* the open loop's, for the URL set */
  char tmpdir[256];             /* the run's own files, or "" */
  char cacert[300];             /* the embedded origin's certificate (PEM),
                                 * for the clients to trust, or "" */
};

void fb__workload_init(struct fb_workload *w);

/* Starts the embedded origin when no --urls/--origin was given (pinned to
 * another core than the client when pin), pins the client (beside
 * given_origin_cpu when set), and builds the URL set. Returns 0;
 * FB_EXIT_USAGE after printing why; or, when a signal came meanwhile, the
 * status that reports it after saying that nothing ran.
 */
int fb__workload_start(struct fb_workload *w, const struct fb_cli_cmd *cmd);

/* Open loop (--rate): makes w->schedule for n URLs, the URLs the run
 * fetches (a shard's, say), replacing an earlier one; nothing without a
 * rate. Returns 0 or FB_EXIT_USAGE after printing why.
 */
int fb__workload_schedule(struct fb_workload *w, const struct fb_cli_cmd *cmd,
                          size_t n);

/* The least a request of w can take, ms: the known delay, plus, with the
 * embedded origin's --rtt, the round trips of a request (one on a kept
 * connection; a fresh one adds TCP's and, over https, TLS 1.3's). < 0 when
 * the delay is unknown.
 */
double fb__workload_ideal_ms(const struct fb_workload *w, int fresh);

/* One line saying what runs where: corpus, origin URL, delay, cores. */
void fb__workload_describe(const struct fb_workload *w, char *buf, size_t len);

/* Stops the origin and frees the URL set. */
void fb__workload_stop(struct fb_workload *w);

/* --- Options of the job, shared by run and compare (jobopts.c) ---------- */

/* Their ids; a command's own ids start at FB_JOBOPT_COUNT. */
enum fb_jobopt {
  FB_JOBOPT_URLS,
  FB_JOBOPT_PAGES,
  FB_JOBOPT_SEED_PAGES,
  FB_JOBOPT_ORIGIN,
  FB_JOBOPT_ORIGIN_CPU,
  FB_JOBOPT_CORPUS,
  FB_JOBOPT_DELAY,
  FB_JOBOPT_JITTER,
  FB_JOBOPT_SEED,
  FB_JOBOPT_NO_PIN,
  FB_JOBOPT_CONNECTION,
  FB_JOBOPT_TIMEOUT,
  FB_JOBOPT_CONNECT_TIMEOUT,
  FB_JOBOPT_LOW_SPEED_TIME,
  FB_JOBOPT_MAX_BODY,
  FB_JOBOPT_MAX_REDIRECTS,
  FB_JOBOPT_NO_REDIRECTS,
  FB_JOBOPT_USER_AGENT,
  FB_JOBOPT_CHUNK,
  FB_JOBOPT_THREAD_STACK,
  FB_JOBOPT_MAX_RESPAWNS,
  FB_JOBOPT_MEASURE_FORK,
  FB_JOBOPT_CACERT,
  FB_JOBOPT_INSECURE,
  FB_JOBOPT_TLS_RESUME,
  FB_JOBOPT_CA_CACHE,
  FB_JOBOPT_RATE,
  FB_JOBOPT_ARRIVAL,
  FB_JOBOPT_SCHEME,
  FB_JOBOPT_RTT,
  FB_JOBOPT_COUNT
};

/* Their help: what is fetched from where, then how. */
extern const struct fb_cli_group fb__jobopt_groups[];

/* Sets the job or workload setting of option id (< FB_JOBOPT_COUNT) from
 * value. Returns 0 or FB_EXIT_USAGE after printing why.
 */
int fb__jobopt_parse(const struct fb_cli_cmd *cmd, int id, const char *value,
                     struct fb_job *job, struct fb_workload *w);

/* Once the URL set is known (after fb__workload_start): checks what the
 * engines will need of the job (the CA file or store of https, before any
 * request). Returns 0 or FB_EXIT_USAGE after printing why, naming --cacert.
 */
int fb__jobopt_check(const struct fb_cli_cmd *cmd, const char *const *seen,
                     const struct fb_job *job);

/* Once every option is parsed (seen as for fb__cli_parse): rejects the
 * options that exclude each other (--urls and --origin; --pages with --urls;
 * an embedded origin's option with --urls or --origin; ...), then sets the
 * defaults that depend on others (connections are reused with --urls).
 * Returns 0 or FB_EXIT_USAGE after printing why.
 */
int fb__jobopt_finish(const struct fb_cli_cmd *cmd, const char *const *seen,
                      struct fb_job *job, struct fb_workload *w);

/* --- Output (output.c) --------------------------------------------------- */

/* An output named on the command line (--output FILE, --json FILE, ...):
 * checked and opened before the first request, written at the end, and
 * never lost: when writing it fails, the report goes to standard output, or
 * when that fails too, to a file of its own in $TMPDIR, named on stderr.
 */
struct fb_output {
  const char *opt;  /* the option, for messages */
  const char *path; /* NULL or "-": standard output */
  FILE *f;          /* open until written (NULL for a probe) */
  int created;      /* the file did not exist before */
  int written;      /* something was written to it */
};

/* Checks and opens path for option opt: a directory, a path that cannot be
 * created, or one of the input files (inputs: NULL-terminated, may be NULL)
 * is an error, said with the option. With probe_only the file is created and
 * closed again (for a file another program writes, as gnuplot does).
 * Returns 0, or FB_EXIT_USAGE after printing why.
 */
int fb__output_prepare(const struct fb_cli_cmd *cmd, struct fb_output *o,
                       const char *opt, const char *path, int probe_only,
                       const char *const *inputs);

/* Writes the report with writer(f, arg) (0 or -errno) into o and closes it.
 * When that fails, says so, and writes it again to standard output (unless o
 * was standard output) or else to a fallback file, whose name it prints.
 * what names the report ("report", "JSON"). Returns 0, or FB_EXIT_USAGE
 * when o could not be written (the report may still be elsewhere).
 */
int fb__output_write(const struct fb_cli_cmd *cmd, struct fb_output *o,
                     const char *what, int (*writer)(FILE *, const void *),
                     const void *arg);

/* Closes an output that will not be written, and removes the file if this
 * run created it and nothing was written.
 */
void fb__output_discard(struct fb_output *o);

/* Creates a temporary file $TMPDIR/fetchbench-WHAT-XXXXXX<suffix> (/tmp
 * without TMPDIR), its name in name. Returns 0 or -errno.
 */
int fb__output_tmpfile(char *name, size_t len, const char *what,
                       const char *suffix, FILE **out);

/* --- Saved results (cmd_report.c) --------------------------------------- */

struct fb_results;

/* Reads the saved comparison at path ("-": standard input) into *res.
 * Returns 0, or FB_EXIT_USAGE after printing why as cmd (the file and line
 * of a malformed one).
 */
int fb__cli_read_results(const struct fb_cli_cmd *cmd, const char *path,
                         struct fb_results *res);

/* --- Commands ------------------------------------------------------------ */

extern const struct fb_cli_cmd fb__cmd_run;
extern const struct fb_cli_cmd fb__cmd_compare;
extern const struct fb_cli_cmd fb__cmd_origin;
extern const struct fb_cli_cmd fb__cmd_report;
extern const struct fb_cli_cmd fb__cmd_diff;
extern const struct fb_cli_cmd fb__cmd_merge;

#endif /* FB_CLI_H */
