#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/error.h"
#include "fetchbench/report.h"
#include "fetchbench/results.h"

/* Where the reader is, for messages. */
struct reader {
  const char *name;
  size_t line; /* from 1 */
  char *err;
  size_t errlen;
  size_t context_line; /* the line the context was read from, 0: none yet */
  json_t *context;     /* that line, borrowed from the document */
  int verdict;         /* the verdict line was read */
};

static int fail(struct reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...) {
  va_list ap;
  int n;

  if (r->errlen == 0)
    return FB_ERESULTS;
  n = snprintf(r->err, r->errlen, "%s:%zu: ", r->name, r->line);
  if (n < 0 || (size_t)n >= r->errlen)
    return FB_ERESULTS;
  va_start(ap, fmt);
  vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return FB_ERESULTS;
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
    return "a whole number";
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

/* A field's name as messages show it: "wall_s.median" inside "wall_s". */
struct path {
  const char *outer; /* or NULL */
  const char *key;
};

#define FIELD_FMT "field '%s%s%s'"
#define FIELD_ARGS(p)                                                          \
  (p).outer != NULL ? (p).outer : "", (p).outer != NULL ? "." : "", (p).key

static int field(struct reader *r, const json_t *obj, struct path p,
                 json_t **out) {
  *out = json_object_get(obj, p.key);
  if (*out == NULL)
    return fail(r, FIELD_FMT " missing", FIELD_ARGS(p));
  return 0;
}

static int wrong(struct reader *r, struct path p, const json_t *v,
                 const char *expected) {
  return fail(r, FIELD_FMT " is %s, expected %s", FIELD_ARGS(p), type_name(v),
              expected);
}

/* A whole number in [min, max]. */
static int get_count(struct reader *r, const json_t *obj, struct path p,
                     uint64_t min, uint64_t max, uint64_t *out) {
  json_t *v;
  json_int_t i;
  int rc = field(r, obj, p, &v);

  if (rc != 0)
    return rc;
  if (!json_is_integer(v))
    return wrong(r, p, v, "a whole number");
  i = json_integer_value(v);
  if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
    return fail(r, FIELD_FMT " is %lld, out of range %llu..%llu", FIELD_ARGS(p),
                (long long)i, (unsigned long long)min, (unsigned long long)max);
  *out = (uint64_t)i;
  return 0;
}

static int get_unsigned(struct reader *r, const json_t *obj, struct path p,
                        unsigned min, unsigned *out) {
  uint64_t v;
  int rc = get_count(r, obj, p, min, UINT_MAX, &v);

  if (rc == 0)
    *out = (unsigned)v;
  return rc;
}

static int get_size(struct reader *r, const json_t *obj, struct path p,
                    size_t *out) {
  uint64_t v;
  int rc = get_count(r, obj, p, 0, SIZE_MAX, &v);

  if (rc == 0)
    *out = (size_t)v;
  return rc;
}

/* A number, or null for unknown (NaN). */
static int value_number(struct reader *r, const json_t *v, struct path p,
                        double *out) {
  if (json_is_null(v))
    *out = NAN;
  else if (json_is_number(v))
    *out = json_number_value(v);
  else
    return wrong(r, p, v, "a number or null");
  return 0;
}

static int get_number(struct reader *r, const json_t *obj, struct path p,
                      double *out) {
  json_t *v;
  int rc = field(r, obj, p, &v);

  return rc != 0 ? rc : value_number(r, v, p, out);
}

/* A number, or null for unknown (here -1, as the structures say it). */
static int get_maybe(struct reader *r, const json_t *obj, struct path p,
                     double *out) {
  int rc = get_number(r, obj, p, out);

  if (rc == 0 && isnan(*out))
    *out = -1;
  return rc;
}

/* A string, or NULL for null. */
static int get_string(struct reader *r, const json_t *obj, struct path p,
                      const char **out) {
  json_t *v;
  int rc = field(r, obj, p, &v);

  if (rc != 0)
    return rc;
  if (json_is_null(v))
    *out = NULL;
  else if (json_is_string(v))
    *out = json_string_value(v);
  else
    return wrong(r, p, v, "a string or null");
  return 0;
}

/* A CPU number, or null (-1) for not pinned. */
static int get_cpu(struct reader *r, const json_t *obj, struct path p,
                   int *out) {
  json_t *v;
  uint64_t n;
  int rc = field(r, obj, p, &v);

  if (rc != 0)
    return rc;
  if (json_is_null(v)) {
    *out = -1;
    return 0;
  }
  rc = get_count(r, obj, p, 0, INT_MAX, &n);
  if (rc == 0)
    *out = (int)n;
  return rc;
}

/* {"median", "min", "max"}, each a number or null. */
static int get_stat(struct reader *r, const json_t *obj, const char *key,
                    struct fb_stat *st) {
  struct path p = {NULL, key};
  json_t *v;
  int rc = field(r, obj, p, &v);

  if (rc != 0)
    return rc;
  if (!json_is_object(v))
    return wrong(r, p, v, "an object");
  rc = get_number(r, v, (struct path){key, "median"}, &st->median);
  if (rc == 0)
    rc = get_number(r, v, (struct path){key, "min"}, &st->min);
  if (rc == 0)
    rc = get_number(r, v, (struct path){key, "max"}, &st->max);
  return rc;
}

static const struct {
  const char *key;
  size_t offset;
} stats[] = {
#define STAT(name)                                                             \
  { #name, offsetof(struct fb_compare_cell, name) }
    STAT(wall_s),         STAT(cpu_user_s),  STAT(cpu_sys_s),
    STAT(cpu_s),          STAT(child_cpu_s), STAT(cpu_per_req_ms),
    STAT(max_rss_kib),    STAT(rss_sum_kib), STAT(latency_p50_ms),
    STAT(latency_p99_ms), STAT(ttfb_p50_ms), STAT(req_per_s),
    STAT(run_efficiency),
#undef STAT
};

/* "errors": {"recv": 2, ...}, summing to errors_total. */
static int read_outcomes(struct reader *r, const json_t *o,
                         struct fb_compare_cell *c) {
  struct path p = {NULL, "errors"};
  const char *key;
  json_t *v, *count;
  uint64_t sum = 0;
  int rc = field(r, o, p, &v);

  if (rc != 0)
    return rc;
  if (!json_is_object(v))
    return wrong(r, p, v, "an object");
  json_object_foreach(v, key, count) {
    struct path q = {"errors", key};
    int i = fb_outcome_parse(key);
    uint64_t n;

    if (i == FB_OUTCOME_OK)
      return fail(r, FIELD_FMT ": a success is not an error", FIELD_ARGS(q));
    rc = get_count(r, v, q, 0, SIZE_MAX, &n);
    if (rc != 0)
      return rc;
    if (n > SIZE_MAX - sum)
      return fail(r, "field 'errors': the counts overflow");
    sum += n;
    /* An outcome of a later version is still a failed request. */
    c->outcomes[i < 0 ? FB_OUTCOME_OTHER : i] += (size_t)n;
  }
  if (sum != c->errors)
    return fail(r,
                "field 'errors': the counts sum to %llu, 'errors_total' "
                "says %zu",
                (unsigned long long)sum, c->errors);
  return 0;
}

static int read_runs(struct reader *r, const json_t *o,
                     struct fb_compare_cell *c) {
  struct path p = {NULL, "runs_wall_s"};
  json_t *v;
  int rc = field(r, o, p, &v);

  if (rc != 0)
    return rc;
  if (!json_is_array(v))
    return wrong(r, p, v, "an array");
  if (json_array_size(v) != c->runs)
    return fail(r, "field 'runs_wall_s' holds %zu wall times for %u runs",
                json_array_size(v), c->runs);
  c->summaries = calloc(c->runs > 0 ? c->runs : 1, sizeof(*c->summaries));
  if (c->summaries == NULL)
    return -ENOMEM;
  for (unsigned k = 0; k < c->runs; k++) {
    char name[32];

    snprintf(name, sizeof(name), "%u", k);
    rc = value_number(r, json_array_get(v, k),
                      (struct path){"runs_wall_s", name},
                      &c->summaries[k].wall_s);
    if (rc != 0)
      return rc;
    c->summaries[k].engine = c->engine;
    c->summaries[k].workers = c->workers;
    c->summaries[k].urls = c->urls;
  }
  return 0;
}

static int read_cell(struct reader *r, const json_t *o,
                     struct fb_compare_cell *c) {
  const char *failure;
  uint64_t n;
  int rc;

  rc = get_string(r, o, (struct path){NULL, "engine"}, &c->engine);
  if (rc == 0 && (c->engine == NULL || c->engine[0] == '\0'))
    return fail(r, "field 'engine' is %s, expected an engine's name",
                c->engine == NULL ? "null" : "empty");
  if (rc == 0)
    rc = get_unsigned(r, o, (struct path){NULL, "workers"}, 1, &c->workers);
  if (rc == 0)
    rc = get_size(r, o, (struct path){NULL, "urls"}, &c->urls);
  if (rc == 0)
    rc = get_count(r, o, (struct path){NULL, "runs"}, 0, FB_RESULTS_MAX_RUNS,
                   &n);
  if (rc != 0)
    return rc;
  c->runs = (unsigned)n;
  rc = get_unsigned(r, o, (struct path){NULL, "failed_runs"}, 0, &c->failed);
  if (rc == 0)
    rc = get_string(r, o, (struct path){NULL, "failure"}, &failure);
  if (rc == 0)
    rc = get_size(r, o, (struct path){NULL, "requests"}, &c->requests);
  if (rc == 0)
    rc = get_size(r, o, (struct path){NULL, "errors_total"}, &c->errors);
  if (rc != 0)
    return rc;
  if (c->errors > c->requests)
    return fail(r, "field 'errors_total' is %zu, more than the %zu requests",
                c->errors, c->requests);
  snprintf(c->note, sizeof(c->note), "%s", failure != NULL ? failure : "");
  rc = read_outcomes(r, o, c);
  for (size_t i = 0; rc == 0 && i < sizeof(stats) / sizeof(stats[0]); i++)
    rc = get_stat(r, o, stats[i].key,
                  (struct fb_stat *)((char *)c + stats[i].offset));
  if (rc == 0)
    rc = get_maybe(r, o, (struct path){NULL, "ideal_s"}, &c->ideal_s);
  if (rc == 0)
    rc = get_maybe(r, o, (struct path){NULL, "efficiency"}, &c->efficiency);
  if (rc == 0)
    rc = read_runs(r, o, c);
  return rc;
}

static const char *const context_keys[] = {
    "workload",  "origin",  "corpus",  "connection", "delay_ms",
    "jitter_ms", "repeats", "machine", "client_cpu", "origin_cpu",
};

static int read_context(struct reader *r, const json_t *o,
                        struct fb_compare *cmp) {
  struct fb_compare_context *x = &cmp->ctx;
  uint64_t repeats;
  int rc;

  rc = get_string(r, o, (struct path){NULL, "workload"}, &x->workload);
  if (rc == 0)
    rc = get_string(r, o, (struct path){NULL, "origin"}, &x->origin);
  if (rc == 0)
    rc = get_string(r, o, (struct path){NULL, "corpus"}, &x->corpus);
  if (rc == 0)
    rc = get_string(r, o, (struct path){NULL, "connection"}, &x->connection);
  if (rc == 0)
    rc = get_maybe(r, o, (struct path){NULL, "delay_ms"}, &cmp->delay_ms);
  if (rc == 0)
    rc = get_unsigned(r, o, (struct path){NULL, "jitter_ms"}, 0, &x->jitter_ms);
  if (rc == 0)
    rc = get_count(r, o, (struct path){NULL, "repeats"}, 1, FB_RESULTS_MAX_RUNS,
                   &repeats);
  if (rc == 0)
    rc = get_string(r, o, (struct path){NULL, "machine"}, &x->machine);
  if (rc == 0)
    rc = get_cpu(r, o, (struct path){NULL, "client_cpu"}, &x->client_cpu);
  if (rc == 0)
    rc = get_cpu(r, o, (struct path){NULL, "origin_cpu"}, &x->origin_cpu);
  if (rc == 0)
    cmp->repeats = (unsigned)repeats;
  return rc;
}

/* Every line of one sweep carries the same context. */
static int check_context(struct reader *r, const json_t *o,
                         struct fb_compare *cmp) {
  if (r->context == NULL) {
    int rc = read_context(r, o, cmp);

    if (rc == 0) {
      r->context = (json_t *)o;
      r->context_line = r->line;
    }
    return rc;
  }
  for (size_t i = 0; i < sizeof(context_keys) / sizeof(context_keys[0]); i++) {
    struct path p = {NULL, context_keys[i]};
    json_t *v;
    int rc = field(r, o, p, &v);

    if (rc != 0)
      return rc;
    if (!json_equal(v, json_object_get(r->context, p.key)))
      return fail(r,
                  FIELD_FMT " differs from line %zu's: two sweeps in one "
                            "file?",
                  FIELD_ARGS(p), r->context_line);
  }
  return 0;
}

static int add_cell(struct reader *r, const json_t *o, struct fb_compare *cmp,
                    size_t *room) {
  struct fb_compare_cell *c;
  int rc;

  if (cmp->ncells == FB_RESULTS_MAX_CELLS)
    return fail(r, "more than %d cells", FB_RESULTS_MAX_CELLS);
  if (cmp->ncells == *room) {
    size_t n = *room > 0 ? *room * 2 : 16;
    void *p = realloc(cmp->cells, n * sizeof(*cmp->cells));

    if (p == NULL)
      return -ENOMEM;
    cmp->cells = p;
    *room = n;
  }
  c = &cmp->cells[cmp->ncells++];
  memset(c, 0, sizeof(*c));
  rc = read_cell(r, o, c);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i + 1 < cmp->ncells; i++)
    if (cmp->cells[i].workers == c->workers &&
        strcmp(cmp->cells[i].engine, c->engine) == 0)
      return fail(r, "a second cell %s with %u workers", c->engine, c->workers);
  return 0;
}

static int read_verdict(struct reader *r, const json_t *o,
                        struct fb_compare *cmp) {
  json_t *v;
  size_t cells;
  int rc = get_size(r, o, (struct path){NULL, "cells"}, &cells);

  if (rc == 0)
    rc = get_size(r, o, (struct path){NULL, "runs"}, &cmp->runs_done);
  if (rc == 0)
    rc = get_number(r, o, (struct path){NULL, "elapsed_s"}, &cmp->elapsed_s);
  if (rc == 0)
    rc = field(r, o, (struct path){NULL, "cancelled"}, &v);
  if (rc != 0)
    return rc;
  if (!json_is_boolean(v))
    return wrong(r, (struct path){NULL, "cancelled"}, v, "a boolean");
  cmp->cancelled = json_is_true(v);
  if (cells != cmp->ncells)
    return fail(r, "the verdict counts %zu cells, the file holds %zu", cells,
                cmp->ncells);
  r->verdict = 1;
  return 0;
}

/* One line, parsed; *obj is a new reference or NULL for a blank line. */
static int parse_line(struct reader *r, const char *line, size_t len, int last,
                      json_t **obj) {
  json_error_t je;
  size_t i = 0;

  *obj = NULL;
  while (i < len && strchr(" \t\r\n", line[i]) != NULL && line[i] != '\0')
    i++;
  if (i == len)
    return 0;
  *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
  if (*obj == NULL)
    return fail(r, "malformed JSON at column %d: %s%s", je.column, je.text,
                last ? " (the file ends there: truncated?)" : "");
  if (!json_is_object(*obj))
    return fail(r, "a line is %s, expected a JSON object", type_name(*obj));
  return 0;
}

static int read_line(struct reader *r, json_t *o, struct fb_compare *cmp,
                     size_t *room) {
  json_t *v;
  const char *kind;
  int rc = field(r, o, (struct path){NULL, "schema"}, &v);

  if (rc != 0)
    return fail(r, "field 'schema' missing: not what `compare --json` "
                   "writes");
  if (!json_is_integer(v))
    return wrong(r, (struct path){NULL, "schema"}, v, "a whole number");
  if (json_integer_value(v) < 1 || json_integer_value(v) > FB_REPORT_SCHEMA)
    return fail(r, "schema %lld: this fetchbench reads schema 1 to %d",
                (long long)json_integer_value(v), FB_REPORT_SCHEMA);
  rc = field(r, o, (struct path){NULL, "kind"}, &v);
  if (rc != 0)
    return fail(r, "field 'kind' missing: not what `compare --json` writes "
                   "(a `run --format json` report?)");
  if (!json_is_string(v))
    return wrong(r, (struct path){NULL, "kind"}, v, "a string");
  kind = json_string_value(v);
  if (strcmp(kind, "cell") != 0 && strcmp(kind, "verdict") != 0)
    return 0;
  if (r->verdict)
    return fail(r, "a %s after the verdict line: two sweeps in one file?",
                kind);
  rc = check_context(r, o, cmp);
  if (rc != 0)
    return rc;
  if (strcmp(kind, "cell") == 0)
    return add_cell(r, o, cmp, room);
  return read_verdict(r, o, cmp);
}

static int read_all(struct reader *r, FILE *in, struct fb_results *res) {
  char *line = NULL;
  size_t cap = 0, room = 0;
  ssize_t n;
  int rc = 0;

  errno = 0;
  while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
    json_t *o;

    r->line++;
    rc = parse_line(r, line, (size_t)n, n == 0 || line[n - 1] != '\n', &o);
    if (rc == 0 && o != NULL && json_array_append_new(res->doc_, o) != 0)
      rc = -ENOMEM;
    else if (rc == 0 && o != NULL)
      rc = read_line(r, o, &res->cmp, &room);
    else if (o != NULL)
      json_decref(o);
  }
  free(line);
  if (rc == 0 && ferror(in)) {
    rc = errno != 0 ? -errno : -EIO;
    snprintf(r->err, r->errlen, "%s: %s", r->name, fb_strerror(rc));
  }
  return rc;
}

int fb_results_read(struct fb_results *res, FILE *in, const char *name,
                    char *err, size_t errlen) {
  struct reader r = {.name = name, .err = err, .errlen = errlen};
  int rc;

  memset(res, 0, sizeof(*res));
  res->cmp.ctx.client_cpu = res->cmp.ctx.origin_cpu = -1;
  res->cmp.delay_ms = -1;
  res->schema = FB_REPORT_SCHEMA;
  if (errlen > 0)
    err[0] = '\0';
  res->doc_ = json_array();
  if (res->doc_ == NULL)
    return -ENOMEM;
  rc = read_all(&r, in, res);
  if (rc == 0 && !r.verdict) {
    r.line++;
    if (r.context == NULL)
      rc = fail(&r, "no cell and no verdict: not what `compare --json` "
                    "writes");
    else
      rc = fail(&r, "the file ends without its verdict line: truncated?");
  }
  if (rc == 0) {
    json_t *first = json_array_get(res->doc_, 0);

    res->schema = (int)json_integer_value(json_object_get(first, "schema"));
    res->lines = r.line;
    return 0;
  }
  if (rc == -ENOMEM && errlen > 0)
    snprintf(err, errlen, "%s: %s", name, fb_strerror(rc));
  fb_results_cleanup(res);
  return rc;
}

void fb_results_cleanup(struct fb_results *res) {
  fb_compare_cleanup(&res->cmp);
  json_decref(res->doc_);
  res->doc_ = NULL;
}
