/* SPDX-License-Identifier: MIT */
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
#include "fetchbench/histogram.h"
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
  int schema;          /* the current line's */
  int rows;            /* a bench suite's rows (1), compare's (0), not yet
                        * known (-1) */
  const char *sweep;   /* the rows' sweep, once a row named one */
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
  uint64_t v = 0;
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
  uint64_t n = 0;
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

/* The median's interval, "ci95": {"lo", "hi", "coverage"} or null (schema
 * 2 on).
 */
static int get_interval(struct reader *r, const json_t *obj, const char *key,
                        struct fb_stat *st) {
  struct path p = {key, "ci95"};
  json_t *v = json_object_get(obj, "ci95");
  int rc;

  if (v == NULL)
    return fail(r, FIELD_FMT " missing", FIELD_ARGS(p));
  if (json_is_null(v))
    return 0;
  if (!json_is_object(v))
    return wrong(r, p, v, "an object or null");
  rc = get_number(r, v, (struct path){key, "lo"}, &st->lo);
  if (rc == 0)
    rc = get_number(r, v, (struct path){key, "hi"}, &st->hi);
  if (rc == 0)
    rc = get_number(r, v, (struct path){key, "coverage"}, &st->coverage);
  if (rc == 0 && !(st->lo <= st->median && st->median <= st->hi))
    return fail(r, FIELD_FMT " does not hold the median", FIELD_ARGS(p));
  return rc;
}

/* {"median", "min", "max"}, each a number or null; from schema 2 also "n"
 * and "ci95".
 */
static int get_stat(struct reader *r, const json_t *obj, const char *key,
                    unsigned runs, struct fb_stat *st) {
  struct path p = {NULL, key};
  json_t *v;
  int rc = field(r, obj, p, &v);

  st->lo = st->hi = st->coverage = NAN;
  st->n = runs;
  if (rc != 0)
    return rc;
  if (!json_is_object(v))
    return wrong(r, p, v, "an object");
  rc = get_number(r, v, (struct path){key, "median"}, &st->median);
  if (rc == 0)
    rc = get_number(r, v, (struct path){key, "min"}, &st->min);
  if (rc == 0)
    rc = get_number(r, v, (struct path){key, "max"}, &st->max);
  if (rc == 0 && r->schema >= 2)
    rc = get_unsigned(r, v, (struct path){key, "n"}, 0, &st->n);
  if (rc == 0 && r->schema >= 2)
    rc = get_interval(r, v, key, st);
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

/* "errors": {"recv": 2, ...}, summing to errors_total, into outcomes. */
static int read_outcomes(struct reader *r, const json_t *o, size_t *outcomes,
                         size_t errors) {
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
    outcomes[i < 0 ? FB_OUTCOME_OTHER : i] += (size_t)n;
  }
  if (sum != errors)
    return fail(r,
                "field 'errors': the counts sum to %llu, 'errors_total' "
                "says %zu",
                (unsigned long long)sum, errors);
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
  c->cap = c->runs > 0 ? c->runs : 1;
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

/* "reference": true marks published figures (not measured here); missing
 * means false.
 */
static int read_reference(struct reader *r, const json_t *o,
                          struct fb_compare_cell *c) {
  json_t *v = json_object_get(o, "reference");

  if (v != NULL && !json_is_boolean(v))
    return wrong(r, (struct path){NULL, "reference"}, v, "a boolean");
  c->reference = json_is_true(v);
  return 0;
}

/* "samples": {figure: [one value per run, or null]} (schema 2 on), into
 * the runs' summaries: what the verdict and fetchbench diff test.
 */
static int read_samples(struct reader *r, const json_t *o,
                        struct fb_compare_cell *c) {
  struct path p = {NULL, "samples"};
  json_t *v;
  int rc = field(r, o, p, &v);

  if (rc != 0)
    return rc;
  if (!json_is_object(v))
    return wrong(r, p, v, "an object");
  for (int f = 0; f < FB_FIGURE_COUNT; f++) {
    struct path q = {"samples", fb_compare_figure_name(f)};
    json_t *a;

    rc = field(r, v, q, &a);
    if (rc != 0)
      return rc;
    if (!json_is_array(a))
      return wrong(r, q, a, "an array");
    if (json_array_size(a) != c->runs)
      return fail(r, FIELD_FMT " holds %zu values for %u runs", FIELD_ARGS(q),
                  json_array_size(a), c->runs);
    for (unsigned k = 0; k < c->runs; k++) {
      double x = NAN;

      rc = value_number(r, json_array_get(a, k), q, &x);
      if (rc != 0)
        return rc;
      fb_compare_figure_set(&c->summaries[k], f, x);
    }
  }
  return 0;
}

/* One histogram: {"count", "min", "max", "buckets": [[low, count], ...]},
 * the buckets summing to count.
 */
static int read_hist(struct reader *r, const json_t *o, const char *key,
                     struct fb_histogram *h) {
  struct path p = {"histograms", key};
  json_t *v, *b, *pair;
  uint64_t count, sum = 0;
  size_t i;
  int rc = field(r, o, p, &v);

  fb_histogram_init(h);
  if (rc != 0)
    return rc;
  if (!json_is_object(v))
    return wrong(r, p, v, "an object");
  rc = get_count(r, v, (struct path){key, "count"}, 0, INT64_MAX, &count);
  if (rc == 0 && count > 0)
    rc = get_count(r, v, (struct path){key, "min"}, 0, INT64_MAX, &h->min);
  if (rc == 0 && count > 0)
    rc = get_count(r, v, (struct path){key, "max"}, h->min, INT64_MAX, &h->max);
  if (rc == 0)
    rc = field(r, v, (struct path){key, "buckets"}, &b);
  if (rc != 0)
    return rc;
  if (!json_is_array(b))
    return wrong(r, (struct path){key, "buckets"}, b, "an array");
  json_array_foreach(b, i, pair) {
    json_t *lo = json_array_get(pair, 0), *n = json_array_get(pair, 1);

    if (!json_is_array(pair) || json_array_size(pair) != 2 ||
        !json_is_integer(lo) || !json_is_integer(n) ||
        json_integer_value(lo) < 0 || json_integer_value(n) < 1)
      return fail(r,
                  "field 'histograms.%s.buckets' item %zu is not [low, "
                  "count] of whole numbers",
                  key, i);
    if (fb_histogram_put(h, (uint64_t)json_integer_value(lo),
                         (uint64_t)json_integer_value(n)) != 0)
      return fail(r,
                  "field 'histograms.%s.buckets' item %zu: %lld is no "
                  "bucket's low end, or the counts overflow",
                  key, i, (long long)json_integer_value(lo));
    sum += (uint64_t)json_integer_value(n);
  }
  if (sum != count)
    return fail(r,
                "field 'histograms.%s': the buckets hold %llu values, "
                "'count' says %llu",
                key, (unsigned long long)sum, (unsigned long long)count);
  return 0;
}

static int read_hists(struct reader *r, const json_t *o, struct path p,
                      struct fb_summary_hists **out) {
  json_t *v;
  int rc = field(r, o, p, &v);

  *out = NULL;
  if (rc != 0 || json_is_null(v))
    return rc;
  if (!json_is_object(v))
    return wrong(r, p, v, "an object or null");
  *out = malloc(sizeof(**out));
  if (*out == NULL)
    return -ENOMEM;
  fb_summary_hists_init(*out);
  rc = read_hist(r, v, "latency", &(*out)->latency);
  if (rc == 0)
    rc = read_hist(r, v, "ttfb", &(*out)->ttfb);
  if (rc == 0)
    rc = read_hist(r, v, "tls", &(*out)->tls);
  /* Open loop only. */
  if (rc == 0 && json_object_get(v, "corrected") != NULL)
    rc = read_hist(r, v, "corrected", &(*out)->corrected);
  if (rc == 0 && json_object_get(v, "queue") != NULL)
    rc = read_hist(r, v, "queue", &(*out)->queue);
  return rc;
}

/* A cell's "engine" (a name: a suite's row may name a peer) and
 * "workers".
 */
static int read_name(struct reader *r, const json_t *o,
                     struct fb_compare_cell *c) {
  int rc = get_string(r, o, (struct path){NULL, "engine"}, &c->engine);

  if (rc == 0 && (c->engine == NULL || c->engine[0] == '\0'))
    return fail(r, "field 'engine' is %s, expected an engine's name",
                c->engine == NULL ? "null" : "empty");
  if (rc == 0)
    rc = get_unsigned(r, o, (struct path){NULL, "workers"}, 1, &c->workers);
  return rc;
}

static int read_cell(struct reader *r, const json_t *o,
                     struct fb_compare_cell *c) {
  const char *failure;
  uint64_t n;
  int rc;

  rc = read_name(r, o, c);
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
  rc = read_outcomes(r, o, c->outcomes, c->errors);
  for (size_t i = 0; rc == 0 && i < sizeof(stats) / sizeof(stats[0]); i++)
    rc = get_stat(r, o, stats[i].key, c->runs,
                  (struct fb_stat *)((char *)c + stats[i].offset));
  if (rc == 0)
    rc = get_maybe(r, o, (struct path){NULL, "ideal_s"}, &c->ideal_s);
  /* Open loop (optional: files of closed-loop sweeps may lack them). */
  c->rate = 0;
  c->corrected_p99_ms.median = c->corrected_p99_ms.min =
      c->corrected_p99_ms.max = NAN;
  c->corrected_p99_ms.lo = c->corrected_p99_ms.hi =
      c->corrected_p99_ms.coverage = NAN;
  if (rc == 0 && json_object_get(o, "rate") != NULL) {
    double rate;

    rc = get_maybe(r, o, (struct path){NULL, "rate"}, &rate);
    c->rate = rc == 0 && rate > 0 ? rate : 0;
  }
  if (rc == 0 && json_object_get(o, "corrected_p99_ms") != NULL)
    rc = get_stat(r, o, "corrected_p99_ms", c->runs, &c->corrected_p99_ms);
  if (rc == 0)
    rc = get_maybe(r, o, (struct path){NULL, "efficiency"}, &c->efficiency);
  if (rc == 0)
    rc = read_runs(r, o, c);
  if (rc == 0 && r->schema >= 2)
    rc = read_samples(r, o, c);
  if (rc == 0 && r->schema >= 2)
    rc = read_hists(r, o, (struct path){NULL, "histograms"}, &c->hists);
  if (rc == 0)
    rc = read_reference(r, o, c);
  return rc;
}

static const char *const context_keys[] = {
    "workload",  "origin",        "corpus",      "connection", "delay_ms",
    "jitter_ms", "repeats",       "machine",     "client_cpu", "origin_cpu",
    "scheme",    "workload_urls", "urls_digest", "precision",  "min_repeats",
};

/* What schema 2 adds: the workload's identity and --repeat auto's. */
static int read_context2(struct reader *r, const json_t *o,
                         struct fb_compare *cmp) {
  struct fb_compare_context *x = &cmp->ctx;
  json_t *v;
  double precision;
  int rc;

  rc = get_string(r, o, (struct path){NULL, "scheme"}, &x->scheme);
  if (rc == 0)
    rc = get_string(r, o, (struct path){NULL, "urls_digest"}, &x->urls_digest);
  if (rc == 0)
    rc = field(r, o, (struct path){NULL, "workload_urls"}, &v);
  if (rc == 0 && !json_is_null(v))
    rc = get_size(r, o, (struct path){NULL, "workload_urls"}, &x->urls);
  if (rc == 0)
    rc = get_number(r, o, (struct path){NULL, "precision"}, &precision);
  if (rc == 0)
    rc = get_unsigned(r, o, (struct path){NULL, "min_repeats"}, 1,
                      &cmp->min_repeats);
  if (rc != 0)
    return rc;
  cmp->precision = isnan(precision) ? 0 : precision;
  if (cmp->precision < 0 || cmp->min_repeats > cmp->repeats)
    return fail(r, "fields 'precision' and 'min_repeats' are out of range");
  return 0;
}

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
  if (rc == 0) {
    cmp->repeats = (unsigned)repeats;
    cmp->min_repeats = (unsigned)repeats;
  }
  if (rc == 0 && r->schema >= 2)
    rc = read_context2(r, o, cmp);
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
    json_t *v = json_object_get(o, p.key);
    json_t *was = json_object_get(r->context, p.key);

    /* A key of a later schema is on every line or on none. */
    if (v == NULL && was == NULL)
      continue;
    if (v == NULL)
      return fail(r, FIELD_FMT " missing", FIELD_ARGS(p));
    if (was == NULL || !json_equal(v, was))
      return fail(r,
                  FIELD_FMT " differs from line %zu's: two sweeps in one "
                            "file?",
                  FIELD_ARGS(p), r->context_line);
  }
  return 0;
}

static int read_row(struct reader *r, const json_t *o, struct fb_compare *cmp,
                    struct fb_compare_cell *c);

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
  rc = r->rows > 0 ? read_row(r, o, cmp, c) : read_cell(r, o, c);
  if (rc != 0)
    return rc;
  /* An open-loop sweep has a cell per rate. */
  for (size_t i = 0; i + 1 < cmp->ncells; i++)
    if (cmp->cells[i].workers == c->workers && cmp->cells[i].rate == c->rate &&
        strcmp(cmp->cells[i].engine, c->engine) == 0)
      return fail(r, "a second cell %s with %u workers%s", c->engine,
                  c->workers, c->rate > 0 ? " at that rate" : "");
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
  /* Open loop: the bound that names the knees (optional). */
  if (json_object_get(o, "slo_ms") != NULL) {
    double slo;

    rc = get_maybe(r, o, (struct path){NULL, "slo_ms"}, &slo);
    if (rc != 0)
      return rc;
    cmp->slo_ms = slo > 0 ? slo : 0;
  }
  if (cells != cmp->ncells)
    return fail(r, "the verdict counts %zu cells, the file holds %zu", cells,
                cmp->ncells);
  r->verdict = 1;
  return 0;
}

/* --- Rows of the bench suites --------------------------------------------- */

/* A field that is there with a value: missing and null both mean unknown. */
static int has(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);

  return v != NULL && !json_is_null(v);
}

/* Every row of the file belongs to one sweep, and to one origin delay. */
static int check_row(struct reader *r, const json_t *o,
                     struct fb_compare *cmp) {
  const char *sweep;
  double delay;
  int rc = 0;

  if (has(o, "sweep")) {
    rc = get_string(r, o, (struct path){NULL, "sweep"}, &sweep);
    if (rc != 0)
      return rc;
    if (r->sweep != NULL && strcmp(r->sweep, sweep) != 0)
      return fail(r,
                  "rows of sweeps '%s' and '%s' in one file: one sweep at a "
                  "time",
                  r->sweep, sweep);
    r->sweep = sweep;
  }
  /* A cell of compare's carries the sweep's context: the first one gives
   * the report its workload, machine and cores.
   */
  if (r->context == NULL && json_object_get(o, "schema") != NULL) {
    rc = read_context(r, o, cmp);
    if (rc != 0)
      return rc;
    r->context = (json_t *)o;
    r->context_line = r->line;
  }
  if (!has(o, "delay_ms"))
    return 0;
  rc = get_number(r, o, (struct path){NULL, "delay_ms"}, &delay);
  if (rc == 0 && cmp->delay_ms >= 0 && delay != cmp->delay_ms)
    return fail(r,
                "field 'delay_ms' is %g, an earlier row's %g: two workloads "
                "in one file?",
                delay, cmp->delay_ms);
  if (rc == 0)
    cmp->delay_ms = delay;
  return rc;
}

/* A statistic of a row: wall_s is required, the others unknown (NaN) when
 * missing or null.
 */
static int get_row_stat(struct reader *r, const json_t *o, const char *key,
                        unsigned runs, struct fb_stat *st) {
  if (strcmp(key, "wall_s") == 0 || has(o, key))
    return get_stat(r, o, key, runs, st);
  st->median = st->min = st->max = st->lo = st->hi = st->coverage = NAN;
  st->n = 0;
  return 0;
}

/* A row: a cell of compare's with the suite's fields added, a peer's cell
 * (its figures measured from outside, those it has) or a reference cell.
 */
static int read_row(struct reader *r, const json_t *o, struct fb_compare *cmp,
                    struct fb_compare_cell *c) {
  const char *note = NULL;
  const char *errors = has(o, "errors_total") ? "errors_total" : "errors";
  uint64_t runs;
  int rc = check_row(r, o, cmp);

  if (rc == 0)
    rc = read_name(r, o, c);
  if (rc == 0)
    rc = get_count(r, o, (struct path){NULL, "runs"}, 0, FB_RESULTS_MAX_RUNS,
                   &runs);
  if (rc == 0 && has(o, "urls"))
    rc = get_size(r, o, (struct path){NULL, "urls"}, &c->urls);
  if (rc == 0 && has(o, "failed_runs"))
    rc = get_unsigned(r, o, (struct path){NULL, "failed_runs"}, 0, &c->failed);
  if (rc == 0 && has(o, errors))
    rc = get_size(r, o, (struct path){NULL, errors}, &c->errors);
  if (rc == 0 && has(o, "note"))
    rc = get_string(r, o, (struct path){NULL, "note"}, &note);
  else if (rc == 0 && has(o, "failure"))
    rc = get_string(r, o, (struct path){NULL, "failure"}, &note);
  if (rc != 0)
    return rc;
  c->runs = (unsigned)runs;
  c->requests = c->urls * c->runs;
  if (c->urls > 0 && c->requests / c->urls != c->runs)
    return fail(r, "field 'urls' is %zu: too many for %u runs", c->urls,
                c->runs);
  if (c->errors > c->requests)
    return fail(r, "field '%s' is %zu, more than the %zu requests", errors,
                c->errors, c->requests);
  c->outcomes[FB_OUTCOME_OTHER] = c->errors;
  snprintf(c->note, sizeof(c->note), "%s", note != NULL ? note : "");
  for (size_t i = 0; rc == 0 && i < sizeof(stats) / sizeof(stats[0]); i++)
    rc = get_row_stat(r, o, stats[i].key, c->runs,
                      (struct fb_stat *)((char *)c + stats[i].offset));
  if (rc == 0)
    rc = get_row_stat(r, o, "corrected_p99_ms", c->runs, &c->corrected_p99_ms);
  c->ideal_s = c->efficiency = -1;
  c->rate = 0;
  if (rc == 0 && has(o, "rate"))
    rc = get_maybe(r, o, (struct path){NULL, "rate"}, &c->rate);
  if (c->rate < 0)
    c->rate = 0;
  /* The open loop's bound on corrected p99, for the plot's line. */
  if (rc == 0 && has(o, "slo_ms")) {
    double slo;

    rc = get_maybe(r, o, (struct path){NULL, "slo_ms"}, &slo);
    if (rc == 0 && slo > 0)
      cmp->slo_ms = slo;
  }
  if (rc == 0 && has(o, "ideal_s"))
    rc = get_maybe(r, o, (struct path){NULL, "ideal_s"}, &c->ideal_s);
  if (rc == 0 && has(o, "efficiency"))
    rc = get_maybe(r, o, (struct path){NULL, "efficiency"}, &c->efficiency);
  if (rc == 0)
    rc = read_reference(r, o, c);
  return rc != 0 ? rc : read_runs(r, o, c);
}

/* Its cells; the other lines of a suite's results (goals, ratios, bench
 * lines) are skipped.
 */
static int read_row_line(struct reader *r, json_t *o, struct fb_compare *cmp,
                         size_t *room) {
  json_t *kind = json_object_get(o, "kind");

  if (!json_is_string(kind) || strcmp(json_string_value(kind), "cell") != 0)
    return 0;
  return add_cell(r, o, cmp, room);
}

/* What compare's verdict line would have said: the runs, and "median of"
 * the most runs of any cell (at least 1, as in compare's files).
 */
static void rows_finish(struct fb_compare *cmp) {
  cmp->repeats = 1;
  cmp->precision = 0;
  cmp->runs_done = 0;
  cmp->elapsed_s = NAN;
  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *c = &cmp->cells[i];

    if (c->runs > cmp->repeats)
      cmp->repeats = c->runs;
    cmp->runs_done += c->runs + c->failed;
  }
  cmp->min_repeats = cmp->repeats;
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
  int rc;

  if (r->rows < 0)
    r->rows = json_object_get(o, "suite") != NULL;
  if (r->rows > 0)
    return read_row_line(r, o, cmp, room);
  rc = field(r, o, (struct path){NULL, "schema"}, &v);
  if (rc != 0)
    return fail(r, "field 'schema' missing: not what `compare --json` "
                   "writes");
  if (!json_is_integer(v))
    return wrong(r, (struct path){NULL, "schema"}, v, "a whole number");
  if (json_integer_value(v) < 1 || json_integer_value(v) > FB_REPORT_SCHEMA)
    return fail(r, "schema %lld: this fetchbench reads schema 1 to %d",
                (long long)json_integer_value(v), FB_REPORT_SCHEMA);
  r->schema = (int)json_integer_value(v);
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

/* --- Run reports (fetchbench merge) -------------------------------------- */

static int get_long(struct reader *r, const json_t *o, const char *key,
                    long *out) {
  uint64_t v = 0;
  int rc = get_count(r, o, (struct path){NULL, key}, 0, LONG_MAX, &v);

  if (rc == 0)
    *out = (long)v;
  return rc;
}

static int get_i64(struct reader *r, const json_t *o, const char *key,
                   int64_t *out) {
  uint64_t v;
  int rc = get_count(r, o, (struct path){NULL, key}, 0, INT64_MAX, &v);

  if (rc == 0)
    *out = (int64_t)v;
  return rc;
}

/* "workload": {...} and "shard": {"index", "count"}; either missing or
 * null means none.
 */
static int read_run_context(struct reader *r, const json_t *o,
                            struct fb_results_run *run) {
  struct fb_report_context *x = &run->ctx;
  json_t *w = json_object_get(o, "workload"), *sh = json_object_get(o, "shard");
  int rc = 0;

  x->delay_ms = -1;
  if (w != NULL && !json_is_null(w)) {
    if (!json_is_object(w))
      return wrong(r, (struct path){NULL, "workload"}, w, "an object or null");
    run->has_ctx = 1;
    rc = get_string(r, w, (struct path){"workload", "description"},
                    &x->workload);
    if (rc == 0)
      rc = get_string(r, w, (struct path){"workload", "origin"}, &x->origin);
    if (rc == 0)
      rc = get_string(r, w, (struct path){"workload", "corpus"}, &x->corpus);
    if (rc == 0)
      rc = get_string(r, w, (struct path){"workload", "connection"},
                      &x->connection);
    if (rc == 0)
      rc = get_string(r, w, (struct path){"workload", "scheme"}, &x->scheme);
    if (rc == 0)
      rc = get_size(r, w, (struct path){"workload", "urls"}, &x->workload_urls);
    if (rc == 0)
      rc = get_string(r, w, (struct path){"workload", "urls_digest"},
                      &x->urls_digest);
    if (rc == 0)
      rc = get_maybe(r, w, (struct path){"workload", "delay_ms"}, &x->delay_ms);
    if (rc == 0)
      rc = get_unsigned(r, w, (struct path){"workload", "jitter_ms"}, 0,
                        &x->jitter_ms);
  }
  if (rc != 0 || sh == NULL || json_is_null(sh))
    return rc;
  if (!json_is_object(sh))
    return wrong(r, (struct path){NULL, "shard"}, sh, "an object or null");
  rc = get_unsigned(r, sh, (struct path){"shard", "count"}, 1, &x->shards);
  if (rc == 0)
    rc = get_unsigned(r, sh, (struct path){"shard", "index"}, 0, &x->shard);
  if (rc == 0 && x->shard >= x->shards)
    return fail(r, "field 'shard.index' is %u, not below 'shard.count' %u",
                x->shard, x->shards);
  return rc;
}

static int read_run(struct reader *r, const json_t *o,
                    struct fb_results_run *run) {
  static const struct {
    const char *key;
    size_t offset;
  } numbers[] = {
#define NUM(key, field) {key, offsetof(struct fb_summary, field)}
      NUM("wall_s", wall_s),
      NUM("setup_s", setup_s),
      NUM("cpu_user_s", cpu_user_s),
      NUM("cpu_sys_s", cpu_sys_s),
      NUM("child_cpu_user_s", child_user_s),
      NUM("child_cpu_sys_s", child_sys_s),
#undef NUM
  };
  static const struct {
    const char *key;
    size_t offset;
  } sizes[] = {
#define SIZE(key) {#key, offsetof(struct fb_summary, key)}
      SIZE(urls),
      SIZE(done),
      SIZE(ok),
      SIZE(errors),
      SIZE(missing),
      SIZE(duplicates),
      SIZE(reused),
      SIZE(handshakes_full),
      SIZE(handshakes_resumed),
#undef SIZE
  };
  struct fb_summary *s = &run->s;
  uint64_t bytes;
  int rc;

  rc = get_string(r, o, (struct path){NULL, "engine"}, &s->engine);
  if (rc == 0 && (s->engine == NULL || s->engine[0] == '\0'))
    return fail(r, "field 'engine' is %s, expected an engine's name",
                s->engine == NULL ? "null" : "empty");
  if (rc == 0)
    rc = get_unsigned(r, o, (struct path){NULL, "workers"}, 1, &s->workers);
  if (rc == 0)
    rc = get_unsigned(r, o, (struct path){NULL, "workers_ran"}, 0,
                      &s->workers_ran);
  for (size_t i = 0; rc == 0 && i < sizeof(sizes) / sizeof(sizes[0]); i++)
    rc = get_size(r, o,
                  (struct path){NULL, strcmp(sizes[i].key, "errors") == 0
                                          ? "errors_total"
                                          : sizes[i].key},
                  (size_t *)((char *)s + sizes[i].offset));
  for (size_t i = 0; rc == 0 && i < sizeof(numbers) / sizeof(numbers[0]); i++)
    rc = get_number(r, o, (struct path){NULL, numbers[i].key},
                    (double *)((char *)s + numbers[i].offset));
  if (rc == 0 && s->missing > s->errors)
    return fail(r, "field 'missing' is %zu, more than 'errors_total' %zu",
                s->missing, s->errors);
  /* The lost results have no outcome: "errors" counts the others. */
  if (rc == 0)
    rc = read_outcomes(r, o, s->outcomes, s->errors - s->missing);
  if (rc == 0)
    rc = get_long(r, o, "max_rss_kib", &s->max_rss_kib);
  if (rc == 0)
    rc = get_long(r, o, "rss_sum_kib", &s->rss_sum_kib);
  if (rc == 0)
    rc = get_long(r, o, "vcsw", &s->vcsw);
  if (rc == 0)
    rc = get_long(r, o, "ivcsw", &s->ivcsw);
  if (rc == 0)
    rc = get_count(r, o, (struct path){NULL, "bytes"}, 0, UINT64_MAX, &bytes);
  if (rc == 0)
    rc = get_maybe(r, o, (struct path){NULL, "delay_ms"}, &s->delay_ms);
  if (rc == 0)
    rc = get_i64(r, o, "start_real_ns", &s->start_real_ns);
  if (rc == 0)
    rc = get_i64(r, o, "end_real_ns", &s->end_real_ns);
  if (rc == 0)
    rc = read_hists(r, o, (struct path){NULL, "histograms"}, &run->hists);
  if (rc == 0)
    rc = read_run_context(r, o, run);
  if (rc != 0)
    return rc;
  s->bytes = bytes;
  s->ideal_s = s->efficiency = -1;
  if (s->ok + s->errors != s->urls || s->done > s->urls ||
      s->missing > s->errors)
    return fail(r,
                "fields 'ok' (%zu), 'errors_total' (%zu), 'done' (%zu) "
                "and 'missing' (%zu) do not add up to 'urls' (%zu)",
                s->ok, s->errors, s->done, s->missing, s->urls);
  if (s->end_real_ns < s->start_real_ns)
    return fail(r, "field 'end_real_ns' is before 'start_real_ns'");
  if (run->hists != NULL && run->hists->latency.count > s->urls)
    return fail(r,
                "field 'histograms.latency' holds %llu values for %zu "
                "URLs",
                (unsigned long long)run->hists->latency.count, s->urls);
  s->hists = run->hists;
  return 0;
}

/* The report on line *line of name: the schema and kind checked first, so
 * that a compare file or an old report is named as such.
 */
static int read_run_line(struct reader *r, json_t *o,
                         struct fb_results_run *run) {
  json_t *v;
  int rc = field(r, o, (struct path){NULL, "schema"}, &v);

  if (rc != 0)
    return fail(r, "field 'schema' missing: not what `run --format json` "
                   "writes");
  if (!json_is_integer(v))
    return wrong(r, (struct path){NULL, "schema"}, v, "a whole number");
  if (json_integer_value(v) < 2 || json_integer_value(v) > FB_REPORT_SCHEMA)
    return fail(r,
                "schema %lld: this fetchbench merges run reports of schema 2 "
                "to %d (schema 1 has no histograms)",
                (long long)json_integer_value(v), FB_REPORT_SCHEMA);
  r->schema = (int)json_integer_value(v);
  if (json_object_get(o, "kind") != NULL)
    return fail(r, "a line of `compare --json`, not a `run --format json` "
                   "report");
  return read_run(r, o, run);
}

int fb_results_read_run(struct fb_results_run *run, FILE *in, const char *name,
                        size_t *line, char *err, size_t errlen) {
  struct reader r = {.name = name, .err = err, .errlen = errlen};
  char *text = NULL;
  size_t cap = 0;
  ssize_t n;
  json_t *o = NULL;
  int rc = 0;

  memset(run, 0, sizeof(*run));
  if (errlen > 0)
    err[0] = '\0';
  r.line = *line;
  errno = 0;
  while (o == NULL && (n = getline(&text, &cap, in)) >= 0) {
    r.line++;
    rc = parse_line(&r, text, (size_t)n, n == 0 || text[n - 1] != '\n', &o);
    if (rc != 0)
      break;
  }
  free(text);
  *line = r.line;
  if (rc == 0 && o == NULL) {
    if (!ferror(in))
      return 0;
    rc = errno != 0 ? -errno : -EIO;
    snprintf(err, errlen, "%s: %s", name, fb_strerror(rc));
    return rc;
  }
  if (rc == 0) {
    snprintf(run->where, sizeof(run->where), "%s:%zu", name, r.line);
    run->doc_ = o;
    rc = read_run_line(&r, o, run);
  }
  if (rc == -ENOMEM && errlen > 0)
    snprintf(err, errlen, "%s:%zu: %s", name, r.line, fb_strerror(rc));
  if (rc != 0) {
    if (run->doc_ == NULL)
      json_decref(o);
    fb_results_run_cleanup(run);
    return rc;
  }
  return 1;
}

void fb_results_run_cleanup(struct fb_results_run *run) {
  free(run->hists);
  run->hists = NULL;
  run->s.hists = NULL;
  json_decref(run->doc_);
  run->doc_ = NULL;
}

int fb_results_read(struct fb_results *res, FILE *in, const char *name,
                    char *err, size_t errlen) {
  struct reader r = {.name = name, .err = err, .errlen = errlen, .rows = -1};
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
  if (rc == 0 && r.rows > 0)
    rows_finish(&res->cmp);
  else if (rc == 0 && !r.verdict) {
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
    res->rows = r.rows > 0;
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
