/* SPDX-License-Identifier: MIT */
/* The result writers: fuzzed bytes become strings and numbers of a summary,
 * a collector's results, a sweep's cells, and raw bytes for
 * fb_json_string. What the writers produce is read back: JSON with a strict
 * validator (one object per line, valid UTF-8, proper escapes) and a
 * sweep's JSON with fb_results_read too, its HTML as balanced UTF-8, a JSON
 * string decoded to the very bytes written when they were valid UTF-8, CSV
 * per RFC 4180 with one row of 18 fields per URL whose url and message
 * fields read back as stored.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/collector.h"
#include "fetchbench/compare.h"
#include "fetchbench/report.h"
#include "fetchbench/results.h"
#include "fetchbench/summary.h"
#include "fetchbench/urlset.h"
#include "fuzz.h"
#include "html-check.h"
#include "json-check.h"

struct input {
  const uint8_t *p;
  size_t n;
};

static uint8_t take_u8(struct input *in) {
  uint8_t v = 0;

  if (in->n > 0) {
    v = *in->p++;
    in->n--;
  }
  return v;
}

static uint64_t take_u64(struct input *in) {
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = v << 8 | take_u8(in);
  return v;
}

/* Any bit pattern: NaN, infinities, denormals, -0. Now and then a plain
 * value, which exercises the shortest-digits path more.
 */
static double take_double(struct input *in) {
  uint64_t bits = take_u64(in);
  double d;

  if ((bits & 3) == 0)
    return (double)(int64_t)bits / 1e6;
  memcpy(&d, &bits, sizeof(d));
  return d;
}

/* A string of up to max - 1 bytes (a length byte, then the bytes); NUL
 * bytes end it early, as C strings do.
 */
static char *take_str(struct input *in, char *buf, size_t max) {
  size_t len = take_u8(in);

  if (len > 0x7f)
    len = (len - 0x7f) * 4; /* up to 512 */
  if (len > max - 1)
    len = max - 1;
  if (len > in->n)
    len = in->n;
  memcpy(buf, in->p, len);
  buf[len] = '\0';
  in->p += len;
  in->n -= len;
  return buf;
}

static void fill_summary(struct input *in, struct fb_summary *s,
                         const char *engine) {
  memset(s, 0, sizeof(*s));
  s->engine = engine;
  s->workers = (unsigned)take_u64(in);
  s->urls = take_u64(in);
  s->ok = take_u64(in);
  s->errors = take_u64(in);
  for (int o = 0; o < FB_OUTCOME_COUNT; o++)
    if (take_u8(in) & 1)
      s->outcomes[o] = take_u64(in);
  s->missing = take_u64(in);
  s->bytes = take_u64(in);
  s->wall_s = take_double(in);
  s->setup_s = take_double(in);
  s->cpu_user_s = take_double(in);
  s->cpu_sys_s = take_double(in);
  s->child_user_s = take_double(in);
  s->cpu_per_req_ms = take_double(in);
  s->max_rss_kib = (long)take_u64(in);
  s->rss_sum_kib = (long)take_u64(in);
  s->latency.p50 = take_double(in);
  s->latency.p99 = take_double(in);
  s->ttfb.p50 = take_double(in);
  s->req_per_s = take_double(in);
  s->bytes_per_s = take_double(in);
  s->delay_ms = take_double(in);
  s->ideal_s = take_double(in);
  s->efficiency = take_double(in);
}

/* Every line of text[0, len) is one JSON object. */
static void check_json_lines(const char *text, size_t len) {
  size_t start = 0;

  FZ_CHECK(len > 0 && text[len - 1] == '\n');
  while (start < len) {
    const char *nl = memchr(text + start, '\n', len - start);
    size_t end = (size_t)(nl - text);

    FZ_CHECK(text[start] == '{');
    FZ_CHECK(fz_json_value(text + start, end - start) == (long)(end - start));
    start = end + 1;
  }
}

/* Parses RFC 4180 CSV (LF line ends, as written); returns the rows, each
 * field's text NUL-terminated in fields[row][col] (owned by the caller:
 * one block per field).
 */
#define CSV_COLS 48
#define CSV_ROWS 16

struct csv {
  char *f[CSV_ROWS][CSV_COLS];
  size_t cols[CSV_ROWS];
  size_t rows;
};

static void csv_parse(const char *s, size_t len, struct csv *t) {
  size_t i = 0;

  memset(t, 0, sizeof(*t));
  while (i < len) {
    size_t r = t->rows++;

    FZ_CHECK(r < CSV_ROWS);
    for (;;) {
      char *field = malloc(len + 1);
      size_t n = 0;

      FZ_CHECK(field != NULL);
      FZ_CHECK(t->cols[r] < CSV_COLS);
      t->f[r][t->cols[r]++] = field;
      if (i < len && s[i] == '"') {
        i++;
        for (;;) {
          FZ_CHECK(i < len);
          if (s[i] == '"') {
            if (i + 1 < len && s[i + 1] == '"') {
              field[n++] = '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          field[n++] = s[i++];
        }
      } else {
        while (i < len && s[i] != ',' && s[i] != '\n') {
          /* A bare field never holds what would need quoting. */
          FZ_CHECK(s[i] != '"' && s[i] != '\r');
          field[n++] = s[i++];
        }
      }
      field[n] = '\0';
      FZ_CHECK(i < len);
      if (s[i++] == '\n')
        break;
      FZ_CHECK(s[i - 1] == ',');
    }
  }
}

static void csv_free(struct csv *t) {
  for (size_t r = 0; r < t->rows; r++)
    for (size_t c = 0; c < t->cols[r]; c++)
      free(t->f[r][c]);
}

static void fuzz_json_string(const uint8_t *p, size_t n) {
  char *buf = NULL, *dec;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  long got;

  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_json_string(f, (const char *)p, n) == 0);
  FZ_CHECK(fclose(f) == 0);
  dec = malloc(len + 1);
  FZ_CHECK(dec != NULL);
  got = fz_json_string_decode(buf, len, dec);
  FZ_CHECK(got >= 0);
  FZ_CHECK(fz_utf8_valid((const unsigned char *)dec, (size_t)got));
  if (fz_utf8_valid(p, n))
    FZ_CHECK((size_t)got == n && memcmp(dec, p, n) == 0);
  free(dec);
  free(buf);
}

static void fuzz_run_reports(struct input *in) {
  static char engine[600], urls[8][600], msgs[8][600];
  size_t n = 1 + take_u8(in) % 8;
  struct fb_collector *c = NULL;
  struct fb_urlset *u = NULL;
  struct fb_summary s;
  struct csv t;
  char err[256], *buf = NULL;
  size_t len = 0;
  FILE *f;

  take_str(in, engine, sizeof(engine));
  fill_summary(in, &s, engine);
  f = open_memstream(&buf, &len);
  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_report_json(f, &s) == 0);
  FZ_CHECK(fclose(f) == 0);
  check_json_lines(buf, len);
  free(buf);

  f = fopen("/dev/null", "w");
  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_report_text(f, &s, 1) == 0);
  fclose(f);

  FZ_CHECK(fb_collector_create(&c, n) == 0);
  FZ_CHECK(fb_urlset_create(&u) == 0);
  for (size_t i = 0; i < n; i++) {
    struct fb_result r;
    uint8_t how = take_u8(in);

    take_str(in, urls[i], sizeof(urls[i]));
    if (fb_urlset_add(u, urls[i], strlen(urls[i]), err, sizeof(err)) != 0) {
      snprintf(urls[i], sizeof(urls[i]), "http://h/%zu", i);
      FZ_CHECK(fb_urlset_add(u, urls[i], strlen(urls[i]), err, sizeof(err)) ==
               0);
    }
    if (how & 1)
      continue; /* a missing result */
    memset(&r, 0, sizeof(r));
    r.index = (uint32_t)i;
    r.worker = (uint32_t)take_u64(in);
    r.outcome = (uint16_t)take_u64(in);
    r.http_status = (uint16_t)take_u64(in);
    r.error_code = (int32_t)take_u64(in);
    r.reused = take_u8(in);
    r.body_bytes = take_u64(in);
    r.checksum = take_u64(in);
    r.t_start = (int64_t)take_u64(in);
    r.t_connected = (int64_t)take_u64(in);
    r.t_first_byte = (int64_t)take_u64(in);
    r.t_done = (int64_t)take_u64(in);
    r.message = take_str(in, msgs[i], sizeof(msgs[i]));
    FZ_CHECK(fb_collector_put(c, &r) == 0);
  }

  buf = NULL;
  f = open_memstream(&buf, &len);
  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_report_csv(f, c, u, engine) == 0);
  FZ_CHECK(fclose(f) == 0);
  csv_parse(buf, len, &t);
  FZ_CHECK(t.rows == n + 1);
  for (size_t r = 0; r < t.rows; r++)
    FZ_CHECK(t.cols[r] == 18);
  for (size_t i = 0; i < n; i++) {
    const struct fb_result *r = fb_collector_get(c, i);

    FZ_CHECK(strcmp(t.f[i + 1][1], fb_urlset_get(u, i)) == 0);
    FZ_CHECK(strcmp(t.f[i + 1][2], engine) == 0);
    if (r == NULL)
      FZ_CHECK(strcmp(t.f[i + 1][4], "missing") == 0);
    else
      FZ_CHECK(strcmp(t.f[i + 1][17], r->message != NULL ? r->message : "") ==
               0);
  }
  csv_free(&t);
  free(buf);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
}

/* Counts as a run makes them, so that the saved sweep is one the reader
 * takes: the failed requests are the outcomes other than ok, and no more
 * than the URLs. Consumes no input.
 */
static void consistent(struct fb_summary *s) {
  s->errors = 0;
  for (int o = 0; o < FB_OUTCOME_COUNT; o++) {
    s->outcomes[o] &= 0xffff;
    if (o != FB_OUTCOME_OK)
      s->errors += s->outcomes[o];
  }
  s->urls = s->errors + (s->urls & 0xffff);
  s->ok = s->urls - s->errors;
}

/* The JSON written reads back; written again after a first reading (which
 * may cut a note that U+FFFD made longer), it reads back to itself.
 */
static void round_trip(const struct fb_compare *cmp, const char *json,
                       size_t len) {
  struct fb_results a, b;
  char err[512], *j1, *j2;
  size_t n1, n2;
  FILE *f;

  /* A saved sweep has each cell once; these cells are drawn at random. */
  for (size_t i = 0; i < cmp->ncells; i++)
    for (size_t k = 0; k < i; k++)
      if (cmp->cells[i].workers == cmp->cells[k].workers &&
          strcmp(cmp->cells[i].engine, cmp->cells[k].engine) == 0)
        return;
  f = fmemopen((void *)json, len, "r");
  FZ_CHECK(f != NULL);
  if (fb_results_read(&a, f, "c.json", err, sizeof(err)) != 0)
    fz_fail(__FILE__, __LINE__, err);
  fclose(f);
  FZ_CHECK(a.cmp.ncells == cmp->ncells);
  for (size_t i = 0; i < cmp->ncells; i++) {
    FZ_CHECK(strcmp(a.cmp.cells[i].engine, cmp->cells[i].engine) == 0);
    FZ_CHECK(a.cmp.cells[i].runs == cmp->cells[i].runs);
    FZ_CHECK(a.cmp.cells[i].errors == cmp->cells[i].errors);
  }
  j1 = fz_written(fb_report_compare_json, &a.cmp, &n1);
  f = fmemopen(j1, n1, "r");
  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_results_read(&b, f, "c.json", err, sizeof(err)) == 0);
  fclose(f);
  j2 = fz_written(fb_report_compare_json, &b.cmp, &n2);
  FZ_CHECK(n1 == n2 && memcmp(j1, j2, n1) == 0);
  free(j1);
  free(j2);
  fb_results_cleanup(&a);
  fb_results_cleanup(&b);
}

static void fuzz_compare(struct input *in) {
  /* Engine names are identifiers from the registry (compare.h). */
  static const char *const names[] = {"sequential", "threads", "processes",
                                      "async", "x"};
  static char note[300];
  size_t cells = 1 + take_u8(in) % 3;
  unsigned repeats = 1 + take_u8(in) % 3;
  struct fb_compare cmp;
  struct fb_verdict v;
  struct fb_summary s;
  struct csv t;
  char *buf = NULL;
  size_t len = 0;
  FILE *f;

  FZ_CHECK(fb_compare_init(&cmp, cells, repeats, take_double(in)) == 0);
  cmp.ctx.workload = take_str(in, note, sizeof(note));
  for (size_t i = 0; i < cells; i++) {
    cmp.cells[i].engine = names[take_u8(in) % 5];
    cmp.cells[i].workers = 1 + take_u8(in);
    for (unsigned k = 0; k < repeats; k++) {
      uint8_t how = take_u8(in);

      if (how & 1) {
        fb_compare_fail(&cmp, i, -(int)(how >> 1) - 1,
                        take_str(in, note, sizeof(note)));
      } else {
        fill_summary(in, &s, cmp.cells[i].engine);
        consistent(&s);
        fb_compare_add(&cmp, i, &s, how & 2 ? -5 : 0,
                       take_str(in, note, sizeof(note)));
      }
    }
  }
  fb_compare_aggregate(&cmp);
  fb_compare_verdict(&cmp, &v);

  f = open_memstream(&buf, &len);
  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_report_compare_json(f, &cmp) == 0);
  FZ_CHECK(fclose(f) == 0);
  check_json_lines(buf, len);
  round_trip(&cmp, buf, len);
  free(buf);

  buf = fz_written(fb_report_compare_html, &cmp, &len);
  fz_html_check(buf, len);
  free(buf);

  buf = NULL;
  f = open_memstream(&buf, &len);
  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_report_compare_csv(f, &cmp) == 0);
  FZ_CHECK(fclose(f) == 0);
  csv_parse(buf, len, &t);
  FZ_CHECK(t.rows == cells + 1);
  for (size_t r = 1; r < t.rows; r++)
    FZ_CHECK(t.cols[r] == t.cols[0]);
  csv_free(&t);
  free(buf);

  f = fopen("/dev/null", "w");
  FZ_CHECK(f != NULL);
  FZ_CHECK(fb_report_compare_text(f, &cmp) == 0);
  fclose(f);
  fb_compare_cleanup(&cmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct input in = {data, size};
  uint8_t what = take_u8(&in);

  switch (what % 3) {
  case 0:
    fuzz_json_string(in.p, in.n);
    break;
  case 1:
    fuzz_run_reports(&in);
    break;
  default:
    fuzz_compare(&in);
    break;
  }
  return 0;
}
