/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/error.h"

static struct fb_result result(size_t index, enum fb_outcome outcome) {
  struct fb_result r;

  memset(&r, 0, sizeof(r));
  r.index = (uint32_t)index;
  r.outcome = (uint16_t)outcome;
  r.t_start = 10;
  r.t_connected = 20;
  r.t_first_byte = 30;
  r.t_done = 40;
  return r;
}

static struct fb_collector *new_collector(size_t n) {
  struct fb_collector *c = NULL;
  assert_int_equal(fb_collector_create(&c, n), 0);
  assert_non_null(c);
  return c;
}

static void test_create(void **state) {
  struct fb_collector *c = NULL;
  int64_t before = fb_clock_ns(), t0;

  (void)state;
  assert_int_equal(fb_collector_create(&c, 0), FB_ERANGE);
  assert_null(c);
  c = new_collector(3);
  t0 = fb_collector_t0(c);
  assert_true(t0 >= before && t0 <= fb_clock_ns());
  fb_collector_restart(c);
  assert_true(fb_collector_t0(c) >= t0);
  assert_int_equal(fb_collector_size(c), 3);
  assert_int_equal(fb_collector_filled(c), 0);
  assert_int_equal(fb_collector_missing(c), 3);
  assert_int_equal(fb_collector_duplicates(c), 0);
  for (size_t i = 0; i < 3; i++)
    assert_null(fb_collector_get(c, i));
  assert_null(fb_collector_get(c, 3));
  fb_collector_stats(c)->workers_started = 7;
  assert_int_equal(fb_collector_stats_const(c)->workers_started, 7);
  fb_collector_destroy(c);
  fb_collector_destroy(NULL);
}

static void test_put_get(void **state) {
  struct fb_collector *c = new_collector(4);
  struct fb_result r = result(2, FB_OUTCOME_HTTP);
  const struct fb_result *got;
  size_t bad = 99;

  (void)state;
  r.http_status = 404;
  r.body_bytes = 1234;
  r.checksum = 0x0123456789abcdefULL;
  r.worker = 3;
  r.reused = 1;
  assert_int_equal(fb_collector_put(c, &r), 0);
  got = fb_collector_get(c, 2);
  assert_non_null(got);
  assert_int_equal(got->index, 2);
  assert_int_equal(got->outcome, FB_OUTCOME_HTTP);
  assert_int_equal(got->http_status, 404);
  assert_int_equal(got->body_bytes, 1234);
  assert_int_equal(got->checksum, 0x0123456789abcdefULL);
  assert_int_equal(got->worker, 3);
  assert_int_equal(got->reused, 1);
  assert_int_equal(got->t_done, 40);
  assert_null(got->message);
  assert_int_equal(fb_collector_filled(c), 1);
  assert_int_equal(fb_collector_missing(c), 3);
  assert_int_equal(fb_collector_check(c, &bad), FB_ELOST);
  assert_int_equal(bad, 0);

  for (size_t i = 0; i < 4; i++) {
    if (i == 2)
      continue;
    r = result(i, FB_OUTCOME_OK);
    assert_int_equal(fb_collector_put(c, &r), 0);
  }
  assert_int_equal(fb_collector_missing(c), 0);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  assert_int_equal(fb_collector_check(c, &bad), 0);
  fb_collector_destroy(c);
}

static void test_double_put(void **state) {
  struct fb_collector *c = new_collector(5);
  struct fb_result first = result(3, FB_OUTCOME_OK), second;
  size_t bad = 99;

  (void)state;
  first.message = "first";
  second = result(3, FB_OUTCOME_TIMEOUT);
  second.message = "second";
  assert_int_equal(fb_collector_put(c, &first), 0);
  assert_int_equal(fb_collector_put(c, &second), FB_EDUPLICATE);
  assert_int_equal(fb_collector_put(c, &second), FB_EDUPLICATE);
  second.index = 1;
  assert_int_equal(fb_collector_put(c, &second), 0);
  assert_int_equal(fb_collector_put(c, &second), FB_EDUPLICATE);
  /* The first result stays. */
  assert_int_equal(fb_collector_get(c, 3)->outcome, FB_OUTCOME_OK);
  assert_string_equal(fb_collector_get(c, 3)->message, "first");
  assert_int_equal(fb_collector_duplicates(c), 3);
  assert_int_equal(fb_collector_filled(c), 2);

  /* Missing results are reported before duplicates ... */
  assert_int_equal(fb_collector_check(c, &bad), FB_ELOST);
  assert_int_equal(bad, 0);
  for (size_t i = 0; i < 5; i++) {
    struct fb_result r = result(i, FB_OUTCOME_OK);
    if (i != 1 && i != 3)
      assert_int_equal(fb_collector_put(c, &r), 0);
  }
  /* ... then the first index offered twice. */
  assert_int_equal(fb_collector_check(c, &bad), FB_EDUPLICATE);
  assert_int_equal(bad, 3);
  assert_int_equal(fb_collector_check(c, NULL), FB_EDUPLICATE);
  fb_collector_destroy(c);
}

static void test_missing(void **state) {
  struct fb_collector *c = new_collector(10);
  size_t bad = 99;

  (void)state;
  for (size_t i = 0; i < 10; i++) {
    struct fb_result r = result(i, FB_OUTCOME_OK);
    if (i != 6 && i != 8)
      assert_int_equal(fb_collector_put(c, &r), 0);
  }
  assert_int_equal(fb_collector_missing(c), 2);
  assert_int_equal(fb_collector_filled(c), 8);
  assert_int_equal(fb_collector_check(c, &bad), FB_ELOST);
  assert_int_equal(bad, 6);
  assert_null(fb_collector_get(c, 6));
  assert_null(fb_collector_get(c, 8));
  fb_collector_destroy(c);
}

static void test_fill(void **state) {
  struct fb_collector *c = new_collector(6);
  struct fb_result r = result(1, FB_OUTCOME_OK);
  char message[FB_MESSAGE_MAX + 50];

  (void)state;
  r.message = "done";
  assert_int_equal(fb_collector_put(c, &r), 0);
  r = result(4, FB_OUTCOME_RECV);
  assert_int_equal(fb_collector_put(c, &r), 0);

  memset(message, 'x', sizeof(message) - 1);
  message[sizeof(message) - 1] = '\0';
  assert_int_equal(fb_collector_fill(c, FB_OUTCOME_CANCELLED, message), 4);
  assert_int_equal(fb_collector_missing(c), 0);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  /* Filled slots are untouched. */
  assert_int_equal(fb_collector_get(c, 1)->outcome, FB_OUTCOME_OK);
  assert_string_equal(fb_collector_get(c, 1)->message, "done");
  assert_int_equal(fb_collector_get(c, 4)->outcome, FB_OUTCOME_RECV);
  assert_null(fb_collector_get(c, 4)->message);
  for (size_t i = 0; i < 6; i++) {
    const struct fb_result *got = fb_collector_get(c, i);
    if (i == 1 || i == 4)
      continue;
    assert_int_equal(got->index, i);
    assert_int_equal(got->outcome, FB_OUTCOME_CANCELLED);
    assert_int_equal(got->t_start, -1);
    assert_int_equal(got->t_done, -1);
    assert_int_equal(strlen(got->message), FB_MESSAGE_MAX - 1);
  }
  /* Nothing left to fill; a later put is a duplicate. */
  assert_int_equal(fb_collector_fill(c, FB_OUTCOME_NOT_RUN, NULL), 0);
  r = result(0, FB_OUTCOME_OK);
  assert_int_equal(fb_collector_put(c, &r), FB_EDUPLICATE);
  fb_collector_destroy(c);

  c = new_collector(2);
  assert_int_equal(fb_collector_fill(c, FB_OUTCOME_NOT_RUN, NULL), 2);
  assert_null(fb_collector_get(c, 0)->message);
  assert_int_equal(fb_collector_get(c, 1)->outcome, FB_OUTCOME_NOT_RUN);
  fb_collector_destroy(c);
}

static void test_message(void **state) {
  struct fb_collector *c = new_collector(4);
  struct fb_result r = result(0, FB_OUTCOME_CONNECT);
  char transient[64], longer[1000];

  (void)state;
  /* Copied: the engine's buffer may change right after the put. */
  snprintf(transient, sizeof(transient), "Connection refused");
  r.message = transient;
  assert_int_equal(fb_collector_put(c, &r), 0);
  memset(transient, 'Z', sizeof(transient) - 1);
  assert_string_equal(fb_collector_get(c, 0)->message, "Connection refused");
  assert_ptr_not_equal(fb_collector_get(c, 0)->message, transient);

  /* Cut at FB_MESSAGE_MAX - 1 bytes. */
  memset(longer, 'm', sizeof(longer) - 1);
  longer[sizeof(longer) - 1] = '\0';
  r = result(1, FB_OUTCOME_OTHER);
  r.message = longer;
  assert_int_equal(fb_collector_put(c, &r), 0);
  assert_int_equal(strlen(fb_collector_get(c, 1)->message), FB_MESSAGE_MAX - 1);
  assert_memory_equal(fb_collector_get(c, 1)->message, longer,
                      FB_MESSAGE_MAX - 1);

  /* "" stores no message. */
  r = result(2, FB_OUTCOME_OK);
  r.message = "";
  assert_int_equal(fb_collector_put(c, &r), 0);
  assert_null(fb_collector_get(c, 2)->message);
  fb_collector_destroy(c);
}

static void test_range(void **state) {
  struct fb_collector *c = new_collector(3);
  struct fb_result r = result(3, FB_OUTCOME_OK);

  (void)state;
  assert_int_equal(fb_collector_put(c, &r), FB_ERANGE);
  r.index = UINT32_MAX;
  assert_int_equal(fb_collector_put(c, &r), FB_ERANGE);
  assert_int_equal(fb_collector_filled(c), 0);
  assert_int_equal(fb_collector_duplicates(c), 0);
  assert_null(fb_collector_get(c, 3));
  assert_null(fb_collector_get(c, SIZE_MAX));
  fb_collector_destroy(c);
}

#define THREADS 8
#define PER_THREAD 20000

struct worker {
  struct fb_collector *c;
  pthread_barrier_t *go;
  unsigned id;
  size_t errors;
  size_t duplicates;
};

/* Thread id puts every index i with i % THREADS == id, each with a message
 * so that the copies race too.
 */
static void *put_distinct(void *arg) {
  struct worker *w = arg;
  char msg[32];

  pthread_barrier_wait(w->go);
  for (size_t i = w->id; i < (size_t)THREADS * PER_THREAD; i += THREADS) {
    struct fb_result r =
        result(i, i % 7 == 0 ? FB_OUTCOME_TIMEOUT : FB_OUTCOME_OK);
    r.worker = w->id;
    snprintf(msg, sizeof(msg), "from %u for %zu", w->id, i);
    r.message = msg;
    if (fb_collector_put(w->c, &r) != 0)
      w->errors++;
  }
  return NULL;
}

static void test_concurrent_distinct(void **state) {
  struct fb_collector *c = new_collector((size_t)THREADS * PER_THREAD);
  struct worker w[THREADS];
  pthread_t t[THREADS];
  pthread_barrier_t go;
  char want[32];

  (void)state;
  pthread_barrier_init(&go, NULL, THREADS);
  for (unsigned i = 0; i < THREADS; i++) {
    w[i] = (struct worker){c, &go, i, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, put_distinct, &w[i]), 0);
  }
  for (unsigned i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(w[i].errors, 0);
  }
  pthread_barrier_destroy(&go);
  assert_int_equal(fb_collector_filled(c), (size_t)THREADS * PER_THREAD);
  assert_int_equal(fb_collector_duplicates(c), 0);
  assert_int_equal(fb_collector_check(c, NULL), 0);
  for (size_t i = 0; i < (size_t)THREADS * PER_THREAD; i++) {
    const struct fb_result *r = fb_collector_get(c, i);
    assert_non_null(r);
    assert_int_equal(r->index, i);
    assert_int_equal(r->worker, i % THREADS);
    snprintf(want, sizeof(want), "from %zu for %zu", i % THREADS, i);
    assert_string_equal(r->message, want);
  }
  fb_collector_destroy(c);
}

#define RACE_ROUNDS 200
#define RACE_SLOTS 64

/* Every thread puts every index: for each slot exactly one put wins and
 * THREADS - 1 are refused as duplicates, and no result is torn.
 */
static void *put_same(void *arg) {
  struct worker *w = arg;

  pthread_barrier_wait(w->go);
  for (size_t i = 0; i < RACE_SLOTS; i++) {
    struct fb_result r = result(i, FB_OUTCOME_OK);
    int rc;
    r.worker = w->id;
    r.body_bytes = w->id * 1000u + i;
    r.checksum = r.body_bytes ^ 0xa5a5a5a5a5a5a5a5ULL;
    r.message = w->id % 2 ? "odd" : "even";
    rc = fb_collector_put(w->c, &r);
    if (rc == FB_EDUPLICATE)
      w->duplicates++;
    else if (rc != 0)
      w->errors++;
  }
  return NULL;
}

static void test_concurrent_same_index(void **state) {
  (void)state;
  for (int round = 0; round < RACE_ROUNDS; round++) {
    struct fb_collector *c = new_collector(RACE_SLOTS);
    struct worker w[THREADS];
    pthread_t t[THREADS];
    pthread_barrier_t go;
    size_t dups = 0, first = 99;

    pthread_barrier_init(&go, NULL, THREADS);
    for (unsigned i = 0; i < THREADS; i++) {
      w[i] = (struct worker){c, &go, i, 0, 0};
      assert_int_equal(pthread_create(&t[i], NULL, put_same, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
      pthread_join(t[i], NULL);
      assert_int_equal(w[i].errors, 0);
      dups += w[i].duplicates;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(dups, (size_t)(THREADS - 1) * RACE_SLOTS);
    assert_int_equal(fb_collector_duplicates(c), dups);
    assert_int_equal(fb_collector_filled(c), RACE_SLOTS);
    assert_int_equal(fb_collector_check(c, &first), FB_EDUPLICATE);
    assert_true(first < RACE_SLOTS);
    for (size_t i = 0; i < RACE_SLOTS; i++) {
      const struct fb_result *r = fb_collector_get(c, i);
      /* One writer's result, whole. */
      assert_int_equal(r->body_bytes, r->worker * 1000u + i);
      assert_int_equal(r->checksum, r->body_bytes ^ 0xa5a5a5a5a5a5a5a5ULL);
      assert_string_equal(r->message, r->worker % 2 ? "odd" : "even");
    }
    fb_collector_destroy(c);
  }
}

/* One deliberate double delivery among many distinct puts is seen once. */
static void *put_with_one_double(void *arg) {
  struct worker *w = arg;

  pthread_barrier_wait(w->go);
  for (size_t i = w->id; i < 4000; i += THREADS) {
    struct fb_result r = result(i, FB_OUTCOME_OK);
    int rc = fb_collector_put(w->c, &r);
    if (rc == FB_EDUPLICATE)
      w->duplicates++;
    else if (rc != 0)
      w->errors++;
  }
  if (w->id == 5) {
    struct fb_result r = result(1234, FB_OUTCOME_OK);
    if (fb_collector_put(w->c, &r) == FB_EDUPLICATE)
      w->duplicates++;
  }
  return NULL;
}

static void test_concurrent_one_double(void **state) {
  struct fb_collector *c = new_collector(4000);
  struct worker w[THREADS];
  pthread_t t[THREADS];
  pthread_barrier_t go;
  size_t dups = 0, first = 99;

  (void)state;
  pthread_barrier_init(&go, NULL, THREADS);
  for (unsigned i = 0; i < THREADS; i++) {
    w[i] = (struct worker){c, &go, i, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, put_with_one_double, &w[i]),
                     0);
  }
  for (unsigned i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(w[i].errors, 0);
    dups += w[i].duplicates;
  }
  pthread_barrier_destroy(&go);
  assert_int_equal(dups, 1);
  assert_int_equal(fb_collector_duplicates(c), 1);
  assert_int_equal(fb_collector_check(c, &first), FB_EDUPLICATE);
  assert_int_equal(first, 1234);
  fb_collector_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create),
      cmocka_unit_test(test_put_get),
      cmocka_unit_test(test_double_put),
      cmocka_unit_test(test_missing),
      cmocka_unit_test(test_fill),
      cmocka_unit_test(test_message),
      cmocka_unit_test(test_range),
      cmocka_unit_test(test_concurrent_distinct),
      cmocka_unit_test(test_concurrent_same_index),
      cmocka_unit_test(test_concurrent_one_double),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
