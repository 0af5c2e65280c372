/* SPDX-License-Identifier: MIT */
/* Allocation failure injected at every allocation site of the core, in a
 * loop: the 1st allocation of an operation fails, then the 2nd, and so on
 * until the operation runs with none failing. Each time the operation must
 * return its error (or, where its contract says so, degrade as documented),
 * must not crash, must leave no partial state, and everything must be freed.
 *
 * The program is linked with -Wl,--wrap for malloc and friends (see
 * tests/meson.build), so every call the core makes to them comes here first.
 * Allocations made inside libc or libcurl are out of reach, except where the
 * core calls an allocating function itself (getline, fopen, open_memstream,
 * curl_url...), which is wrapped too. Live allocations are counted by
 * pointer, so a leak shows as a count above zero after each iteration; the
 * sanitizer build adds LeakSanitizer on top.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "fetchbench/compare.h"
#include "fetchbench/fetchbench.h"
#include "scratch.h"

/* --- The injector --------------------------------------------------------- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int armed;    /* count (and maybe fail) wrapped calls */
static int per_url;  /* count the calls made per line or URL too:
                          * getline and libcurl's parser */
static long calls;   /* wrapped calls since armed */
static long fail_at; /* the call to fail, 1-based; 0: none */
static int fired;    /* the failure was injected */

#define LIVE_MAX 8192
static void *live[LIVE_MAX]; /* allocations handed out and not yet freed */
static size_t nlive;

static int inject(void) {
  int r;

  if (!__atomic_load_n(&armed, __ATOMIC_RELAXED))
    return 0;
  pthread_mutex_lock(&lock);
  r = ++calls == fail_at;
  if (r)
    fired = 1;
  pthread_mutex_unlock(&lock);
  return r;
}

static void track(void *p) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&lock);
  if (nlive < LIVE_MAX)
    live[nlive++] = p;
  pthread_mutex_unlock(&lock);
}

/* Pointers the core frees but libc allocated (getline's buffer) are not
 * ours: they are simply not found.
 */
static void untrack(void *p) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&lock);
  for (size_t i = nlive; i-- > 0;) {
    if (live[i] == p) {
      live[i] = live[--nlive];
      break;
    }
  }
  pthread_mutex_unlock(&lock);
}

static size_t live_count(void) {
  size_t n;

  pthread_mutex_lock(&lock);
  n = nlive;
  pthread_mutex_unlock(&lock);
  return n;
}

static void arm(long n, int each) {
  calls = 0;
  fired = 0;
  fail_at = n;
  per_url = each;
  __atomic_store_n(&armed, 1, __ATOMIC_RELAXED);
}

/* Returns whether the failure was injected. */
static int disarm(void) {
  __atomic_store_n(&armed, 0, __ATOMIC_RELAXED);
  return fired;
}

/* The wrappers. Prototypes first: -Wmissing-prototypes. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
ssize_t __real_getline(char **line, size_t *n, FILE *f);
ssize_t __real___getdelim(char **line, size_t *n, int delim, FILE *f);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_fopen64(const char *path, const char *mode);
FILE *__real_fdopen(int fd, const char *mode);
FILE *__real_open_memstream(char **buf, size_t *len);
CURLU *__real_curl_url(void);
CURLUcode __real_curl_url_set(CURLU *u, CURLUPart what, const char *part,
                              unsigned int flags);
CURLUcode __real_curl_url_get(const CURLU *u, CURLUPart what, char **part,
                              unsigned int flags);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
ssize_t __wrap_getline(char **line, size_t *n, FILE *f);
ssize_t __wrap___getdelim(char **line, size_t *n, int delim, FILE *f);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__wrap_fopen64(const char *path, const char *mode);
FILE *__wrap_fdopen(int fd, const char *mode);
FILE *__wrap_open_memstream(char **buf, size_t *len);
CURLU *__wrap_curl_url(void);
CURLUcode __wrap_curl_url_set(CURLU *u, CURLUPart what, const char *part,
                              unsigned int flags);
CURLUcode __wrap_curl_url_get(const CURLU *u, CURLUPart what, char **part,
                              unsigned int flags);

#define FAIL_NULL()                                                            \
  do {                                                                         \
    if (inject()) {                                                            \
      errno = ENOMEM;                                                          \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

void *__wrap_malloc(size_t n) {
  void *p;

  FAIL_NULL();
  p = __real_malloc(n);
  track(p);
  return p;
}

void *__wrap_calloc(size_t n, size_t size) {
  void *p;

  FAIL_NULL();
  p = __real_calloc(n, size);
  track(p);
  return p;
}

void *__wrap_realloc(void *p, size_t n) {
  void *q;

  FAIL_NULL();
  q = __real_realloc(p, n);
  if (q != NULL) {
    untrack(p);
    track(q);
  }
  return q;
}

void __wrap_free(void *p) {
  untrack(p);
  __real_free(p);
}

char *__wrap_strdup(const char *s) {
  char *p;

  FAIL_NULL();
  p = __real_strdup(s);
  track(p);
  return p;
}

char *__wrap_strndup(const char *s, size_t n) {
  char *p;

  FAIL_NULL();
  p = __real_strndup(s, n);
  track(p);
  return p;
}

/* getline fails as glibc's does when its buffer cannot grow: -1, errno
 * ENOMEM, and (glibc before 2.37) the stream's error flag left clear.
 */
ssize_t __wrap_getline(char **line, size_t *n, FILE *f) {
  if (per_url && inject()) {
    errno = ENOMEM;
    return -1;
  }
  return __real_getline(line, n, f);
}

ssize_t __wrap___getdelim(char **line, size_t *n, int delim, FILE *f) {
  if (per_url && inject()) {
    errno = ENOMEM;
    return -1;
  }
  return __real___getdelim(line, n, delim, f);
}

FILE *__wrap_fopen(const char *path, const char *mode) {
  FAIL_NULL();
  return __real_fopen(path, mode);
}

FILE *__wrap_fopen64(const char *path, const char *mode) {
  FAIL_NULL();
  return __real_fopen64(path, mode);
}

FILE *__wrap_fdopen(int fd, const char *mode) {
  FAIL_NULL();
  return __real_fdopen(fd, mode);
}

FILE *__wrap_open_memstream(char **buf, size_t *len) {
  FAIL_NULL();
  return __real_open_memstream(buf, len);
}

CURLU *__wrap_curl_url(void) {
  FAIL_NULL();
  return __real_curl_url();
}

/* Clearing a handle (part NULL) only frees: it cannot run out of memory. */
CURLUcode __wrap_curl_url_set(CURLU *u, CURLUPart what, const char *part,
                              unsigned int flags) {
  if (per_url && part != NULL && inject())
    return CURLUE_OUT_OF_MEMORY;
  return __real_curl_url_set(u, what, part, flags);
}

CURLUcode __wrap_curl_url_get(const CURLU *u, CURLUPart what, char **part,
                              unsigned int flags) {
  if (per_url && inject())
    return CURLUE_OUT_OF_MEMORY;
  return __real_curl_url_get(u, what, part, flags);
}

/* --- The loop ------------------------------------------------------------ */

/* One operation under test: runs it with the n-th allocation failing,
 * checks what it must, frees everything, and returns whether the failure was
 * injected (0: the operation ran untouched, the loop is over).
 */
typedef int (*op_fn)(long n);

static void loop(const char *what, op_fn op) {
  size_t base = live_count();
  long n;

  for (n = 1; n < 100000; n++) {
    int injected = op(n);

    if (live_count() != base)
      fail_msg("%s: %zu allocations left after failing allocation %ld", what,
               live_count() - base, n);
    if (!injected)
      break;
  }
  assert_true(n < 100000);
  fprintf(stderr, "%-28s %4ld allocation sites failed in turn\n", what, n - 1);
}

/* --- urlset -------------------------------------------------------------- */

static int op_urlset_create(long n) {
  struct fb_urlset *set = (struct fb_urlset *)1;
  int rc, injected;

  arm(n, 0);
  rc = fb_urlset_create(&set);
  injected = disarm();
  if (injected) {
    assert_int_equal(rc, -ENOMEM);
    assert_null(set);
  } else {
    assert_int_equal(rc, 0);
    assert_int_equal(fb_urlset_count(set), 0);
  }
  fb_urlset_destroy(set);
  return injected;
}

static void url_of(char *buf, size_t size, size_t i) {
  /* Long enough that 40 of them span several arena chunks. */
  snprintf(buf, size, "http://127.0.0.1:8080/%04zu/%0300zu", i, i);
}

/* Adds 40 URLs to a set that holds 3: every add either succeeds or fails
 * with -ENOMEM leaving the set as it was.
 */
static int op_urlset_add(long n) {
  struct fb_urlset *set = NULL;
  char url[400], err[256];
  size_t added = 3;
  int injected;

  assert_int_equal(fb_urlset_create(&set), 0);
  for (size_t i = 0; i < 3; i++) {
    url_of(url, sizeof(url), i);
    assert_int_equal(fb_urlset_add(set, url, strlen(url), err, sizeof(err)), 0);
  }
  arm(n, 1);
  for (size_t i = 3; i < 43; i++) {
    int rc;

    url_of(url, sizeof(url), i);
    rc = fb_urlset_add(set, url, strlen(url), err, sizeof(err));
    if (rc == 0)
      added++;
    else
      assert_int_equal(rc, -ENOMEM);
  }
  injected = disarm();
  if (!injected)
    assert_int_equal(added, 43);
  else
    assert_int_equal(added, 42);
  assert_int_equal(fb_urlset_count(set), added);
  /* The URLs are those that were added, in order, intact. */
  for (size_t i = 0, k = 0; i < 43 && k < added; i++) {
    url_of(url, sizeof(url), i);
    if (strcmp(fb_urlset_get(set, k), url) == 0)
      k++;
    else
      assert_true(injected);
  }
  fb_urlset_destroy(set);
  return injected;
}

static const char *good_file, *bad_file, *big_file;
static size_t big_count;

/* A load into a set that already holds 2 URLs: it succeeds as it would
 * have, or fails with -ENOMEM (or, for the bad file, its usual FB_EURL) and
 * leaves the set exactly as it was.
 */
static int load_op(long n, const char *path, int want, size_t want_added,
                   int each) {
  struct fb_urlset *set = NULL;
  char err[2048];
  int rc, injected;

  assert_int_equal(fb_urlset_create(&set), 0);
  assert_int_equal(fb_urlset_add(set, "http://a/1", 10, err, sizeof(err)), 0);
  assert_int_equal(fb_urlset_add(set, "http://a/2", 10, err, sizeof(err)), 0);
  arm(n, each);
  rc = fb_urlset_load(set, path, err, sizeof(err));
  injected = disarm();
  if (rc == want) {
    assert_int_equal(fb_urlset_count(set), 2 + (rc == 0 ? want_added : 0));
  } else {
    if (!injected || rc != -ENOMEM)
      fail_msg("load %s with allocation %ld failing: %s, want %s (%s)", path, n,
               rc == 0 ? "0" : fb_err_name(rc),
               want == 0 ? "0" : fb_err_name(want), err);
    assert_int_equal(fb_urlset_count(set), 2);
  }
  assert_string_equal(fb_urlset_get(set, 0), "http://a/1");
  assert_string_equal(fb_urlset_get(set, 1), "http://a/2");
  if (rc == 0)
    assert_string_equal(fb_urlset_get(set, 2), "http://127.0.0.1/page/0");
  fb_urlset_destroy(set);
  return injected;
}

static int op_load_good(long n) {
  return load_op(n, good_file, 0, 300, 1);
}

static int op_load_bad(long n) {
  return load_op(n, bad_file, FB_EURL, 0, 1);
}

/* Large enough to be validated on several threads; the per-line calls are
 * left to the smaller loads.
 */
static int op_load_big(long n) {
  return load_op(n, big_file, 0, big_count, 0);
}

static void test_urlset(void **state) {
  char *text, *p;
  size_t cap = 64u << 20, len = 0;

  (void)state;
  text = malloc(cap);
  assert_non_null(text);
  /* Comments, blank lines, CRLF: every path of the reader. */
  p = text;
  len = 0;
  for (size_t i = 0; i < 300; i++)
    len += (size_t)snprintf(
        p + len, cap - len, "%s  http://127.0.0.1/page/%zu%s\n",
        i % 7 == 0 ? "# a comment\n\n" : "", i, i % 5 == 0 ? "\r" : "");
  good_file = scratch_write("good.txt", text, len);
  len = 0;
  for (size_t i = 0; i < 40; i++)
    len += (size_t)snprintf(p + len, cap - len, "%s\n",
                            i % 3 == 0 ? "ftp://x/bad" : "http://b/ok");
  bad_file = scratch_write("bad.txt", text, len);
  len = 0;
  big_count = (1u << 15) + 100;
  for (size_t i = 0; i < big_count; i++)
    len +=
        (size_t)snprintf(p + len, cap - len, "http://127.0.0.1/page/%zu\n", i);
  big_file = scratch_write("big.txt", text, len);
  free(text);

  loop("fb_urlset_create", op_urlset_create);
  loop("fb_urlset_add", op_urlset_add);
  loop("fb_urlset_load", op_load_good);
  loop("fb_urlset_load (bad lines)", op_load_bad);
  loop("fb_urlset_load (threads)", op_load_big);
}

/* --- collector, summary, run ----------------------------------------------- */

#define NRESULTS 50

static void result_for(struct fb_result *r, size_t i, char *msg, size_t size) {
  memset(r, 0, sizeof(*r));
  r->index = (uint32_t)i;
  r->outcome = i % 3 == 0 ? FB_OUTCOME_RECV : FB_OUTCOME_OK;
  r->http_status = 200;
  r->body_bytes = 1000 + i;
  r->t_start = (int64_t)i * 1000000;
  r->t_first_byte = r->t_start + 500000;
  r->t_done = r->t_start + 2000000;
  r->t_connected = r->t_start + 100000;
  snprintf(msg, size, "message %zu", i);
  r->message = i % 3 == 0 ? msg : NULL;
}

static int op_collector_create(long n) {
  struct fb_collector *c = (struct fb_collector *)1;
  int rc, injected;

  arm(n, 0);
  rc = fb_collector_create(&c, 1000);
  injected = disarm();
  if (injected) {
    assert_int_equal(rc, -ENOMEM);
    assert_null(c);
  } else {
    assert_int_equal(rc, 0);
    assert_int_equal(fb_collector_size(c), 1000);
    assert_int_equal(fb_collector_filled(c), 0);
  }
  fb_collector_destroy(c);
  return injected;
}

/* Puts, then fills the rest: a message that cannot be copied is dropped,
 * the result itself is always stored (collector.h).
 */
static int op_collector_put(long n) {
  struct fb_collector *c = NULL;
  struct fb_result r;
  char msg[64];
  int injected, nomem = 0;

  assert_int_equal(fb_collector_create(&c, NRESULTS + 5), 0);
  arm(n, 0);
  for (size_t i = 0; i < NRESULTS; i++) {
    int rc;

    result_for(&r, i, msg, sizeof(msg));
    rc = fb_collector_put(c, &r);
    if (rc == -ENOMEM) {
      nomem++;
      assert_null(fb_collector_get(c, i)->message);
    } else {
      assert_int_equal(rc, 0);
    }
    assert_int_equal(fb_collector_get(c, i)->outcome, r.outcome);
    assert_int_equal(fb_collector_get(c, i)->body_bytes, r.body_bytes);
  }
  assert_int_equal(fb_collector_fill(c, FB_OUTCOME_CANCELLED, "run cancelled"),
                   5);
  injected = disarm();
  assert_true(nomem <= 1);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  assert_int_equal(fb_collector_filled(c), NRESULTS + 5);
  for (size_t i = 0; i < NRESULTS + 5; i++) {
    const struct fb_result *got = fb_collector_get(c, i);
    const char *m = got->message;

    assert_non_null(got);
    if (i >= NRESULTS)
      assert_true(m == NULL || strcmp(m, "run cancelled") == 0);
    else if (i % 3 == 0 && !injected)
      assert_non_null(m);
  }
  fb_collector_destroy(c);
  return injected;
}

static struct fb_collector *filled_collector(void) {
  struct fb_collector *c = NULL;
  struct fb_result r;
  char msg[64];

  assert_int_equal(fb_collector_create(&c, NRESULTS), 0);
  for (size_t i = 0; i < NRESULTS; i++) {
    result_for(&r, i, msg, sizeof(msg));
    assert_int_equal(fb_collector_put(c, &r), 0);
  }
  return c;
}

static int op_summary(long n) {
  struct fb_collector *c = filled_collector();
  struct fb_usage begin, end;
  struct fb_summary s;
  int rc, injected;

  fb_usage_sample(&begin);
  end = begin;
  end.t_ns += FB_NS_PER_S;
  arm(n, 0);
  rc = fb_summary_compute(&s, c, "sequential", 1, &begin, &end, 10);
  injected = disarm();
  /* Reading the peak RSS from /proc may fail: getrusage's figure stands in. */
  if (rc != 0) {
    assert_true(injected);
    assert_int_equal(rc, -ENOMEM);
  } else {
    assert_int_equal(s.urls, NRESULTS);
    assert_int_equal(s.ok + s.outcomes[FB_OUTCOME_RECV], NRESULTS);
    assert_true(s.latency.p50 > 1.9 && s.latency.p50 < 2.1);
  }
  fb_collector_destroy(c);
  return injected;
}

/* An engine that needs no network: ok for every URL. */
static int fake_run(const struct fb_job *job, struct fb_collector *c) {
  struct fb_result r;

  for (size_t i = 0; i < fb_urlset_count(job->urls); i++) {
    memset(&r, 0, sizeof(r));
    r.index = (uint32_t)i;
    r.outcome = FB_OUTCOME_OK;
    r.http_status = 200;
    r.t_start = r.t_connected = r.t_first_byte = r.t_done = 0;
    fb_collector_put(c, &r);
  }
  return 0;
}

static const struct fb_engine fake_engine = {"fake", "test", 4, fake_run, NULL};

static int op_run_measure(long n) {
  struct fb_collector *c = (struct fb_collector *)1;
  struct fb_urlset *u = NULL;
  struct fb_summary s;
  struct fb_job job;
  char err[64];
  int rc, injected;

  assert_int_equal(fb_urlset_create(&u), 0);
  for (int i = 0; i < 20; i++)
    assert_int_equal(fb_urlset_add(u, "http://a/", 9, err, sizeof(err)), 0);
  fb_job_init(&job);
  job.urls = u;
  arm(n, 0);
  rc = fb_run_measure(&fake_engine, &job, -1, &s, &c);
  injected = disarm();
  if (rc != 0) {
    assert_true(injected);
    assert_int_equal(rc, -ENOMEM);
  } else {
    assert_int_equal(s.ok, 20);
  }
  /* The collector is the caller's whenever one was made. */
  if (c != NULL)
    assert_int_equal(fb_collector_filled(c), 20);
  fb_collector_destroy(c);
  fb_urlset_destroy(u);
  return injected;
}

static void test_collector(void **state) {
  (void)state;
  loop("fb_collector_create", op_collector_create);
  loop("fb_collector_put/fill", op_collector_put);
  loop("fb_summary_compute", op_summary);
  loop("fb_run_measure", op_run_measure);
}

/* --- compare and reports ------------------------------------------------- */

#define CELLS 3
#define REPEATS 70 /* over fb_stat_compute's stack room */

static int op_compare_init(long n) {
  struct fb_compare cmp;
  int rc, injected;

  arm(n, 0);
  rc = fb_compare_init(&cmp, CELLS, REPEATS, 10);
  injected = disarm();
  if (injected) {
    assert_int_equal(rc, -ENOMEM);
    assert_null(cmp.cells);
    assert_int_equal(cmp.ncells, 0);
  } else {
    assert_int_equal(rc, 0);
    assert_int_equal(cmp.ncells, CELLS);
  }
  fb_compare_cleanup(&cmp);
  return injected;
}

/* Cells of the sweep under test: 3, or 1 (then a lost median leaves the
 * verdict no cell at all to name).
 */
static size_t ncells = CELLS;

static void make_compare(struct fb_compare *cmp, struct fb_summary *s) {
  static const char *const names[CELLS] = {"sequential", "threads", "async"};

  assert_int_equal(fb_compare_init(cmp, ncells, REPEATS, 10), 0);
  cmp->ctx.workload = "test";
  for (size_t i = 0; i < ncells; i++) {
    cmp->cells[i].engine = names[i];
    cmp->cells[i].workers = i == 0 ? 1 : 8;
    for (unsigned r = 0; r < REPEATS; r++) {
      memset(s, 0, sizeof(*s));
      s->engine = names[i];
      s->workers = cmp->cells[i].workers;
      s->urls = s->ok = 100;
      s->outcomes[FB_OUTCOME_OK] = 100;
      s->wall_s = 1.0 / (double)(i + 1) + r * 1e-3;
      s->cpu_user_s = 0.1;
      s->cpu_per_req_ms = 1;
      s->max_rss_kib = 1000 + (long)i;
      s->req_per_s = 100.0 * (double)(i + 1);
      s->efficiency = -1;
      assert_int_equal(fb_compare_add(cmp, i, s, 0, NULL), 0);
    }
  }
}

static char *squeeze(const char *text, size_t len) {
  char *out = malloc(len + 1);
  size_t n = 0;

  assert_non_null(out);
  for (size_t i = 0; i < len; i++)
    if (text[i] != ' ' && text[i] != '\n')
      out[n++] = text[i];
  out[n] = '\0';
  return out;
}

/* The reports of a sweep, written to a temporary file. */
static FILE *write_reports(struct fb_compare *cmp, int *rc) {
  FILE *f = tmpfile();

  assert_non_null(f);
  *rc = fb_report_compare_text(f, cmp);
  if (*rc == 0)
    *rc = fb_report_compare_json(f, cmp);
  if (*rc == 0)
    *rc = fb_report_compare_csv(f, cmp);
  return f;
}

/* Reads back and closes f; returns its bytes. */
static char *slurp(FILE *f, size_t *len) {
  long size = ftell(f);
  char *text;

  assert_true(size > 0);
  rewind(f);
  text = malloc((size_t)size + 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
  text[size] = '\0';
  fclose(f);
  *len = (size_t)size;
  return text;
}

/* The reports of the sweep with nothing failing, squeezed. */
static char *want_reports;

/* Aggregation and the reports: without memory the statistics come out
 * empty (NaN) and the verdict unwrapped, as documented; never a crash.
 */
static int op_compare_reports(long n) {
  struct fb_compare cmp;
  struct fb_summary s;
  struct fb_verdict v;
  int whole;
  char *got, *sq;
  FILE *f;
  size_t len;
  int rc, injected;

  make_compare(&cmp, &s);
  arm(n, 0);
  fb_compare_aggregate(&cmp);
  fb_compare_verdict(&cmp, &v);
  /* A statistic without room to sort has no median (compare.h). */
  whole = !fired;
  f = write_reports(&cmp, &rc);
  injected = disarm();
  got = slurp(f, &len);
  /* Without memory for a test of the verdict, the report says so and the
   * writer says the report is incomplete (compare.h).
   */
  if (rc != 0) {
    sq = squeeze(got, len);
    assert_int_equal(rc, -ENOMEM);
    assert_true(injected);
    assert_true(strstr(sq, "outofmemory:sometests") != NULL ||
                strstr(sq, "\"complete\":false") != NULL);
    free(sq);
    whole = 0;
  }
  for (size_t i = 0; i < ncells; i++) {
    const struct fb_stat *w = &cmp.cells[i].wall_s;

    if (isnan(w->median))
      assert_false(whole);
    else
      assert_true(w->min <= w->median && w->median <= w->max);
  }
  if (!injected)
    assert_int_equal(v.fastest, (int)ncells - 1);
  /* Every statistic whole: the words are those of an untouched run; only
   * the verdict's line wrapping may differ.
   */
  if (whole) {
    sq = squeeze(got, len);
    if (strcmp(sq, want_reports) != 0) {
      size_t k = 0;
      while (sq[k] == want_reports[k])
        k++;
      fail_msg("allocation %ld failing: reports differ at byte %zu: ...%.60s "
               "instead of ...%.60s",
               n, k, sq + (k > 20 ? k - 20 : 0),
               want_reports + (k > 20 ? k - 20 : 0));
    }
    free(sq);
  } else {
    assert_true(injected);
  }
  free(got);
  fb_compare_cleanup(&cmp);
  return injected;
}

static int op_stat(long n) {
  double v[100];
  struct fb_stat st;
  int injected;

  for (int i = 0; i < 100; i++)
    v[i] = (double)((i * 37) % 100);
  arm(n, 0);
  fb_stat_compute(&st, v, 100);
  injected = disarm();
  assert_true(st.min == 0 && st.max == 99);
  if (!injected)
    assert_true(st.median == 49.5);
  else
    assert_true(isnan(st.median) || st.median == 49.5);
  return injected;
}

/* The run reports allocate nothing of their own; the loop proves it. */
static int op_run_reports(long n) {
  struct fb_collector *c = filled_collector();
  struct fb_urlset *u = NULL;
  struct fb_summary s;
  struct fb_usage b;
  char err[64];
  FILE *f = tmpfile();
  int injected;

  assert_non_null(f);
  assert_int_equal(fb_urlset_create(&u), 0);
  for (int i = 0; i < NRESULTS; i++)
    assert_int_equal(fb_urlset_add(u, "http://a/x,y", 12, err, sizeof(err)), 0);
  fb_usage_sample(&b);
  assert_int_equal(fb_summary_compute(&s, c, "threads", 4, &b, &b, -1), 0);
  arm(n, 0);
  assert_int_equal(fb_report_text(f, &s, 1), 0);
  assert_int_equal(fb_report_json(f, &s), 0);
  assert_int_equal(fb_report_csv(f, c, u, "threads"), 0);
  assert_int_equal(fb_json_string(f, "a\0\xff", 3), 0);
  injected = disarm();
  fclose(f);
  fb_urlset_destroy(u);
  fb_collector_destroy(c);
  return injected;
}

static void test_compare(void **state) {
  static const size_t sweeps[] = {CELLS, 1};
  struct fb_compare cmp;
  struct fb_summary s;
  char *text;
  size_t len;
  int rc;

  (void)state;
  loop("fb_compare_init", op_compare_init);
  for (size_t k = 0; k < sizeof(sweeps) / sizeof(*sweeps); k++) {
    ncells = sweeps[k];
    make_compare(&cmp, &s);
    fb_compare_aggregate(&cmp);
    text = slurp(write_reports(&cmp, &rc), &len);
    assert_int_equal(rc, 0);
    want_reports = squeeze(text, len);
    free(text);
    fb_compare_cleanup(&cmp);
    loop(ncells == 1 ? "aggregate, reports (1 cell)"
                     : "aggregate, verdict, reports",
         op_compare_reports);
    free(want_reports);
  }
  loop("fb_stat_compute", op_stat);
  loop("fb_report_text/json/csv", op_run_reports);
}

/* ------------------------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  if (scratch_create("alloc") != 0)
    return -1;
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  curl_global_cleanup();
  return scratch_remove();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urlset),
      cmocka_unit_test(test_collector),
      cmocka_unit_test(test_compare),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
