/* SPDX-License-Identifier: MIT */
/* The origin's alarm clock (src/origin/alarm.c): a min-heap of alarms on a
 * timerfd, checked on its own through its fire callbacks: order, cancels,
 * re-sets from inside a firing, never early, each alarm once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fetchbench/clock.h"
#include "origin/alarm.h"

#define N 300

static struct fb__alarms alarms;
static struct fb__alarm alarm_of[N];
static int64_t due[N];   /* what each alarm was last set for */
static int64_t fired[N]; /* fb_clock_ns() when it fired, 0: not */
static int order[N], nfired;
static int reset_once = -1; /* this one sets itself again when it fires */

static void fire(struct fb__alarm *a) {
  int i = (int)(a - alarm_of);

  assert_int_equal(a->slot, 0); /* off the heap before it fires */
  fired[i] = fb_clock_ns();
  order[nfired++] = i;
  if (i == reset_once) {
    reset_once = -1;
    fired[i] = 0;
    nfired--;
    due[i] = fb_clock_ns() + 2 * FB_NS_PER_MS;
    assert_int_equal(fb__alarm_set(&alarms, a, due[i]), 0);
  }
}

static void on_done(uv_timer_t *t) {
  uv_stop(t->loop);
}

static void heap_ok(void) {
  for (size_t i = 0; i < alarms.n; i++) {
    assert_int_equal(alarms.heap[i]->slot, i + 1);
    if (i > 0)
      assert_true(alarms.heap[(i - 1) / 2]->due <= alarms.heap[i]->due);
  }
}

static void test_order_cancel_reset(void **state) {
  uv_loop_t loop;
  uv_timer_t done;
  int64_t t0;
  int cancelled = 0;

  (void)state;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(fb__alarms_init(&alarms, &loop), 0);
  srand(7);
  t0 = fb_clock_ns();
  /* Due times shuffled over 40 ms, a few already past, many equal. */
  for (int i = 0; i < N; i++) {
    alarm_of[i].fire = fire;
    due[i] = t0 + (int64_t)(rand() % 41 - 2) * FB_NS_PER_MS;
    assert_int_equal(fb__alarm_set(&alarms, &alarm_of[i], due[i]), 0);
    heap_ok();
  }
  /* Moving an alarm replaces it; cancelling removes it from anywhere. */
  due[5] = t0 + 30 * FB_NS_PER_MS;
  assert_int_equal(fb__alarm_set(&alarms, &alarm_of[5], due[5]), 0);
  for (int i = 0; i < N; i += 7) {
    fb__alarm_cancel(&alarms, &alarm_of[i]);
    fb__alarm_cancel(&alarms, &alarm_of[i]); /* twice is harmless */
    due[i] = 0;
    cancelled++;
    heap_ok();
  }
  assert_int_equal(alarms.n, N - cancelled);
  reset_once = 11;

  uv_timer_init(&loop, &done);
  uv_timer_start(&done, on_done, 100, 0);
  uv_run(&loop, UV_RUN_DEFAULT);

  assert_int_equal(nfired, N - cancelled);
  assert_int_equal(alarms.n, 0);
  for (int i = 0; i < N; i++) {
    if (due[i] == 0) {
      assert_int_equal(fired[i], 0);
      continue;
    }
    assert_true(fired[i] >= due[i]); /* never early */
  }
  /* In due order (one firing pass may take several that are all due). */
  for (int k = 1; k < nfired; k++)
    assert_true(due[order[k - 1]] <= due[order[k]] ||
                fired[order[k - 1]] >= due[order[k]]);

  uv_close((uv_handle_t *)&done, NULL);
  uv_close((uv_handle_t *)&alarms.poll, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  fb__alarms_free(&alarms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_cancel_reset),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
