/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/report.h"
#include "fetchbench/summary.h"
#include "fetchbench/urlset.h"
#include "scratch.h"

extern char **environ;

static int python_missing;

static int group_setup(void **state) {
  (void)state;
  return scratch_create("report");
}

static int group_teardown(void **state) {
  (void)state;
  return scratch_remove();
}

/* Runs tests/json-check.py MODE ARGS... with python3; fails the test when
 * the check fails, skips it when python3 is not installed.
 */
static void python_check(const char *mode, const char *a, const char *b) {
  const char *root = getenv("FB_SOURCE_ROOT");
  char script[1024];
  char *argv[] = {"python3", script, (char *)mode, (char *)a, (char *)b, NULL};
  pid_t pid;
  int rc, status;

  if (root == NULL)
    root = "..";
  snprintf(script, sizeof(script), "%s/tests/json-check.py", root);
  rc = posix_spawnp(&pid, "python3", NULL, NULL, argv, environ);
  if (rc == ENOENT) {
    python_missing = 1;
    skip();
  }
  assert_int_equal(rc, 0);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("json-check.py %s %s failed (status %d)", mode, a, status);
}

/* fb_json_string's output for len bytes of s, in a malloc'ed string. */
static char *json_of(const char *s, size_t len) {
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);

  assert_non_null(f);
  assert_int_equal(fb_json_string(f, s, len), 0);
  assert_int_equal(fclose(f), 0);
  return buf;
}

static void expect_json(const char *s, size_t len, const char *want) {
  char *got = json_of(s, len);
  if (strcmp(got, want) != 0)
    fail_msg("json of %zu bytes: got %s, want %s", len, got, want);
  free(got);
}

#define EXPECT_JSON(lit, want) expect_json(lit, sizeof(lit) - 1, want)

static void test_json_exact(void **state) {
  (void)state;
  EXPECT_JSON("", "\"\"");
  EXPECT_JSON("plain", "\"plain\"");
  EXPECT_JSON("q\"b\\s/", "\"q\\\"b\\\\s/\"");
  EXPECT_JSON("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
  EXPECT_JSON("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
  EXPECT_JSON("a\0b", "\"a\\u0000b\"");
  EXPECT_JSON("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
              "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
  /* Each maximal ill-formed subpart becomes one U+FFFD. */
  EXPECT_JSON("\x80", "\"\xef\xbf\xbd\"");
  EXPECT_JSON("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_JSON("\xe0\x80\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_JSON("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_JSON("\xf4\x90\x80\x80",
              "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
  EXPECT_JSON("\xe2\x82", "\"\xef\xbf\xbd\"");
  EXPECT_JSON("\xf0\x9f\x98x", "\"\xef\xbf\xbdx\"");
  EXPECT_JSON("\xff\xfe", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
}

/* Appends one {"hex": ..., "s": ...} case to f. */
static void add_case(FILE *f, const unsigned char *s, size_t len, int first) {
  fprintf(f, "%s{\"hex\":\"", first ? "" : ",\n");
  for (size_t i = 0; i < len; i++)
    fprintf(f, "%02x", s[i]);
  fprintf(f, "\",\"s\":");
  assert_int_equal(fb_json_string(f, (const char *)s, len), 0);
  fprintf(f, "}");
}

static void test_json_hostile_python(void **state) {
  static const char *const fixed[] = {
      "\"quoted\" and \\backslashed\\",
      "\x7f del",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf",
      "\xc2\x80\xdf\xbf\xe0\xa0\x80\xf0\x90\x80\x80", /* smallest of each */
      "\x80\xbf",                                     /* stray continuation */
      "\xc0\x80\xc1\xbf",                             /* overlong 2-byte */
      "\xe0\x80\x80\xe0\x9f\xbf",                     /* overlong 3-byte */
      "\xf0\x80\x80\x80\xf0\x8f\xbf\xbf",             /* overlong 4-byte */
      "\xed\xa0\x80\xed\xbf\xbf\xed\x9f\xbf",         /* surrogates, then ok */
      "\xf4\x90\x80\x80\xf5\x80\x80\x80\xff",         /* above U+10FFFF */
      "\xe2\x82",                                     /* truncated at end */
      "\xe2\x82z\xf0\x9f\x98z\xf0\x9fz\xc3",          /* truncated inside */
      "\xf0\x9f\x98\x80\x80",                         /* one too many */
  };
  const char *path = scratch_path("strings.json");
  unsigned char all[256], ctl[32], buf[64];
  FILE *f = fopen(path, "w");

  (void)state;
  assert_non_null(f);
  fprintf(f, "[\n");
  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  for (int i = 0; i < 32; i++)
    ctl[i] = (unsigned char)i;
  add_case(f, all, sizeof(all), 1);
  add_case(f, ctl, sizeof(ctl), 0);
  for (int i = 0; i < 256; i++)
    add_case(f, &all[i], 1, 0);
  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
    add_case(f, (const unsigned char *)fixed[i], strlen(fixed[i]), 0);
  /* Random bytes, weighted towards UTF-8 lead and continuation bytes. */
  srand(12345);
  for (int n = 0; n < 3000; n++) {
    size_t len = (size_t)(rand() % (int)sizeof(buf));
    for (size_t i = 0; i < len; i++) {
      int r = rand() % 4;
      buf[i] = (unsigned char)(r == 0   ? rand() % 256
                               : r == 1 ? 0x80 + rand() % 64
                               : r == 2 ? 0xc0 + rand() % 64
                                        : 0x20 + rand() % 96);
    }
    add_case(f, buf, len, 0);
  }
  fprintf(f, "\n]\n");
  assert_int_equal(fclose(f), 0);
  python_check("strings", path, NULL);
}

/* A summary with every field set to a known value. */
static void full_summary(struct fb_summary *s) {
  memset(s, 0, sizeof(*s));
  s->engine = "thr\"eads\n\xc3\xa9\xff";
  s->workers = 8;
  s->workers_ran = 8;
  s->urls = 100;
  s->done = 99;
  s->ok = 95;
  s->errors = 5;
  s->outcomes[FB_OUTCOME_OK] = 95;
  s->outcomes[FB_OUTCOME_TIMEOUT] = 3;
  s->outcomes[FB_OUTCOME_HTTP] = 1;
  s->missing = 1;
  s->duplicates = 2;
  s->reused = 90;
  s->bytes = (1ULL << 53) + 1;
  s->wall_s = 0.1;
  s->setup_s = 0.002;
  s->cpu_user_s = 0.25;
  s->cpu_sys_s = 1e-6;
  s->child_user_s = 0.125;
  s->child_sys_s = 0;
  s->cpu_per_req_ms = 2.51;
  s->max_rss_kib = 100000;
  s->rss_sum_kib = 123456;
  s->vcsw = 10;
  s->ivcsw = 2;
  s->latency = (struct fb_percentiles){70.5, 80.25, 99.125, 100.0625, 1234.5};
  s->ttfb = (struct fb_percentiles){1, 2, 3, 3.5, 4};
  s->req_per_s = 1000;
  s->bytes_per_s = 9e15;
  s->delay_ms = 70;
  s->ideal_s = 0.091;
  s->efficiency = 0.091 / 0.1;
}

static void test_json_summary(void **state) {
  const char *path = scratch_path("summary.jsonl");
  struct fb_summary s;
  FILE *f = fopen(path, "w");

  (void)state;
  assert_non_null(f);
  full_summary(&s);
  assert_int_equal(fb_report_json(f, &s), 0);
  /* Unknown figures, and NaN and infinity that must never leak out. */
  memset(&s, 0, sizeof(s));
  s.engine = NULL;
  s.wall_s = -0.0;
  s.req_per_s = NAN;
  s.bytes_per_s = INFINITY;
  s.delay_ms = -1;
  s.ideal_s = -1;
  s.efficiency = -1;
  assert_int_equal(fb_report_json(f, &s), 0);
  assert_int_equal(fclose(f), 0);
  python_check("summary", path, NULL);
}

static struct fb_result result(size_t index, enum fb_outcome outcome) {
  struct fb_result r;

  fb_result_init(&r);
  r.index = (uint32_t)index;
  r.outcome = (uint16_t)outcome;
  return r;
}

/* Writes the JSON array of strings to f, as one expected CSV row. */
static void want_row(FILE *f, int first, ...) {
  va_list ap;
  const char *s;
  int n = 0;

  va_start(ap, first);
  fprintf(f, "%s[", first ? "" : ",\n");
  while ((s = va_arg(ap, const char *)) != NULL) {
    fprintf(f, "%s", n++ ? "," : "");
    assert_int_equal(fb_json_string(f, s, strlen(s)), 0);
  }
  fprintf(f, "]");
  va_end(ap);
}

static void test_csv_python(void **state) {
  const char *csv = scratch_path("report.csv"),
             *want = scratch_path("want.json");
  struct fb_urlset *urls = NULL;
  struct fb_collector *c = NULL;
  struct fb_result r;
  FILE *f;

  (void)state;
  assert_int_equal(fb_urlset_create(&urls), 0);
  assert_int_equal(fb_urlset_add(urls, "http://h/a,b", 12, NULL, 0), 0);
  for (int i = 1; i < 5; i++) {
    char u[32];
    int n = snprintf(u, sizeof(u), "http://h/%d", i);
    assert_int_equal(fb_urlset_add(urls, u, (size_t)n, NULL, 0), 0);
  }
  assert_int_equal(fb_collector_create(&c, 5), 0);
  r = result(0, FB_OUTCOME_OK);
  r.worker = 2;
  r.http_status = 200;
  r.body_bytes = 1000;
  r.checksum = 0xabc;
  r.t_due = 1000000;
  r.t_start = 1500000;
  r.t_connected = r.t_start + 250000;
  r.t_tls = r.t_start + 1250000;
  r.handshake = FB_HANDSHAKE_FULL;
  r.t_first_byte = r.t_start + 2000000;
  r.t_done = r.t_start + 3000500;
  assert_int_equal(fb_collector_put(c, &r), 0);
  r = result(1, FB_OUTCOME_HTTP);
  r.http_status = 404;
  r.t_start = 0;
  r.t_done = 999;
  r.message = "say \"hi\", then\nbye";
  assert_int_equal(fb_collector_put(c, &r), 0);
  r = result(3, FB_OUTCOME_RECV);
  r.worker = 7;
  r.error_code = 56;
  r.reused = 1;
  r.handshake = FB_HANDSHAKE_RESUMED;
  r.checksum = 0xdeadbeefULL;
  r.t_start = 12345678901LL;
  r.t_done = r.t_start + 1;
  r.message = "cut\r\nshort, \"really\"";
  assert_int_equal(fb_collector_put(c, &r), 0);
  r = result(4, FB_OUTCOME_CANCELLED);
  r.message = "run, stopped";
  assert_int_equal(fb_collector_put(c, &r), 0);
  /* Slot 2 stays empty: a lost result still gets its row. */

  f = fopen(csv, "w");
  assert_non_null(f);
  assert_int_equal(fb_report_csv(f, c, urls, "eng,ine"), 0);
  assert_int_equal(fclose(f), 0);

  f = fopen(want, "w");
  assert_non_null(f);
  fprintf(f, "[");
  want_row(f, 1, "index", "url", "engine", "worker", "outcome", "http_status",
           "error_code", "body_bytes", "checksum", "reused", "handshake",
           "due_ms", "start_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms",
           "message", NULL);
  want_row(f, 0, "0", "http://h/a,b", "eng,ine", "2", "ok", "200", "0", "1000",
           "0000000000000abc", "0", "full", "1.000", "1.500", "0.250", "1.250",
           "2.000", "3.000", "", NULL);
  want_row(f, 0, "1", "http://h/1", "eng,ine", "0", "http", "404", "0", "0",
           "0000000000000000", "0", "", "", "0.000", "", "", "", "0.000",
           "say \"hi\", then\nbye", NULL);
  want_row(f, 0, "2", "http://h/2", "eng,ine", "", "missing", "", "", "", "",
           "", "", "", "", "", "", "", "", "", NULL);
  want_row(f, 0, "3", "http://h/3", "eng,ine", "7", "recv", "0", "56", "0",
           "00000000deadbeef", "1", "resumed", "", "12345.678", "", "", "",
           "0.000", "cut\r\nshort, \"really\"", NULL);
  want_row(f, 0, "4", "http://h/4", "eng,ine", "0", "cancelled", "0", "0", "0",
           "0000000000000000", "0", "", "", "", "", "", "", "", "run, stopped",
           NULL);
  fprintf(f, "]\n");
  assert_int_equal(fclose(f), 0);
  python_check("csv", csv, want);
  fb_collector_destroy(c);
  fb_urlset_destroy(urls);
}

static void test_csv_plain(void **state) {
  struct fb_collector *c = NULL;
  struct fb_result r = result(0, FB_OUTCOME_OK);
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);

  (void)state;
  /* Without a URL set the url column is empty; plain fields are bare. */
  assert_int_equal(fb_collector_create(&c, 1), 0);
  r.t_start = 0;
  r.t_done = 70000000;
  assert_int_equal(fb_collector_put(c, &r), 0);
  assert_non_null(f);
  assert_int_equal(fb_report_csv(f, c, NULL, "sequential"), 0);
  assert_int_equal(fclose(f), 0);
  assert_non_null(strstr(buf, "\n0,,sequential,0,ok,0,0,0,0000000000000000,0,"
                              ",,0.000,,,,70.000,\n"));
  assert_null(strchr(buf, '"'));
  free(buf);
  fb_collector_destroy(c);
}

static void test_text_table(void **state) {
  struct fb_summary rows[3];
  char *buf = NULL, *line, *save = NULL;
  size_t size = 0, width = 0;
  int n = 0, table = 0;
  FILE *f = open_memstream(&buf, &size);

  (void)state;
  assert_non_null(f);
  full_summary(&rows[0]);
  rows[0].engine = "threads";
  memset(&rows[1], 0, sizeof(rows[1]));
  rows[1].engine = "sequential";
  rows[1].workers = 1;
  rows[1].workers_ran = 1;
  rows[1].urls = 10;
  rows[1].done = 10;
  rows[1].ok = 10;
  rows[1].wall_s = 0.71;
  rows[1].efficiency = -1;
  rows[2] = rows[1];
  rows[2].engine = "a-much-longer-engine-name";
  rows[2].workers = 1024;
  rows[2].workers_ran = 1024;
  rows[2].efficiency = 0.5;
  rows[2].req_per_s = 123456789.0;
  assert_int_equal(fb_report_text(f, rows, 3), 0);
  assert_int_equal(fclose(f), 0);

  for (line = strtok_r(buf, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save), n++) {
    if (n < 4) {
      /* Header and rows: aligned, so of one width. */
      if (n == 0)
        width = strlen(line);
      else
        assert_int_equal(strlen(line), width);
      table++;
    }
    if (n == 0) {
      static const char *const heads[] = {
          "engine",  "workers", "wall s", "user s", "sys s",  "CPU/req ms",
          "RSS MiB", "p50 ms",  "p99 ms", "req/s",  "errors", "eff"};
      for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
        assert_non_null(strstr(line, heads[i]));
    }
    if (n == 1) {
      assert_true(strncmp(line, "threads ", 8) == 0);
      assert_non_null(strstr(line, " 91%"));    /* efficiency */
      assert_non_null(strstr(line, " 120.6"));  /* RSS MiB */
      assert_non_null(strstr(line, " 0.100 ")); /* wall */
    }
    if (n == 2) {
      assert_true(strncmp(line, "sequential ", 11) == 0);
      assert_true(line[strlen(line) - 1] == '-');
    }
    if (n == 3) {
      assert_true(strncmp(line, "a-much-longer-engine-name ", 26) == 0);
      assert_non_null(strstr(line, " 1024 "));
      assert_non_null(strstr(line, " 50%"));
    }
    if (n == 4) {
      /* The error breakdown of the one row with errors. */
      assert_non_null(strstr(line, "threads"));
      assert_non_null(strstr(line, "5 errors"));
      assert_non_null(strstr(line, "http 1"));
      assert_non_null(strstr(line, "timeout 3"));
      assert_non_null(strstr(line, "missing 1"));
      assert_non_null(strstr(line, "2 duplicate"));
    }
    if (n == 5) {
      /* One result missing: the figures count the 99 that ran. */
      assert_non_null(strstr(line, "99 of 100 requests ran to an end"));
    }
  }
  assert_int_equal(table, 4);
  assert_int_equal(n, 6);
  free(buf);
}

static void test_dev_full(void **state) {
  struct fb_collector *c = NULL;
  struct fb_summary s;
  char *big = malloc(1 << 20);
  FILE *f;

  (void)state;
  assert_non_null(big);
  full_summary(&s);
  f = fopen("/dev/full", "w");
  if (f == NULL)
    skip();
  assert_int_equal(fb_report_json(f, &s), -ENOSPC);
  fclose(f);

  f = fopen("/dev/full", "w");
  assert_non_null(f);
  assert_int_equal(fb_report_text(f, &s, 1), -ENOSPC);
  fclose(f);

  /* Small and large CSV: the error shows at the final flush or mid-way. */
  assert_int_equal(fb_collector_create(&c, 20000), 0);
  fb_collector_fill(c, FB_OUTCOME_NOT_RUN, "not run");
  f = fopen("/dev/full", "w");
  assert_non_null(f);
  assert_int_equal(fb_report_csv(f, c, NULL, "e"), -ENOSPC);
  fclose(f);
  fb_collector_destroy(c);
  assert_int_equal(fb_collector_create(&c, 1), 0);
  f = fopen("/dev/full", "w");
  assert_non_null(f);
  assert_int_equal(fb_report_csv(f, c, NULL, "e"), -ENOSPC);
  fclose(f);
  fb_collector_destroy(c);

  /* A string bigger than any buffer fails in fb_json_string itself. */
  memset(big, 'x', 1 << 20);
  f = fopen("/dev/full", "w");
  assert_non_null(f);
  assert_int_equal(fb_json_string(f, big, 1 << 20), -ENOSPC);
  fclose(f);
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_exact),
      cmocka_unit_test(test_json_hostile_python),
      cmocka_unit_test(test_json_summary),
      cmocka_unit_test(test_csv_python),
      cmocka_unit_test(test_csv_plain),
      cmocka_unit_test(test_text_table),
      cmocka_unit_test(test_dev_full),
  };
  int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);

  /* Without python3 the parser checks could not run: say so with 77. */
  if (failed == 0 && python_missing) {
    fprintf(stderr, "python3 not found: JSON and CSV parse-back skipped\n");
    return 77;
  }
  return failed;
}
