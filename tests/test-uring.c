/* SPDX-License-Identifier: MIT */
/* The uring engine's own tests, beside test-loop.c's (which it shares with
 * raw): one submission a loop turn and fewer of them than requests; the
 * completions the kernel holds back asked for again within the turn; the
 * io_uring features it used and said it used; each fallback, turned on
 * through the test hook (fb__test_hooks.uring_off) on a kernel that has
 * everything; the linked connect timeout; a ring the system refuses, for
 * real (a seccomp filter that answers io_uring_setup with EPERM or ENOSYS,
 * in a child), through the engine, `run` and `compare`; and the system
 * calls strace counts from outside.
 */

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines-fixture.h"
#include "engines/testhooks.h"
#include "scratch.h"

static const struct fb_engine *uring;

/* Runs with the features `off` turned off. */
static int run_go(struct fx_run *r, unsigned off) {
  int rc;

  fb__test_hooks.uring_off = off;
  rc = fx_run_go(r, uring);
  fb__test_hooks.uring_off = 0;
  return rc;
}

static const char *features_of(const struct fx_run *r) {
  return fb_collector_stats_const(r->c)->features;
}

/* Linux release >= major.minor. */
static int kernel_at_least(int major, int minor) {
  struct utsname u;
  int a = 0, b = 0;

  if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
    return 0;
  return a > major || (a == major && b >= minor);
}

/* --- Batching ------------------------------------------------------------ */

static int by_value(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

  return (x > y) - (x < y);
}

/* How many answers began within 1 ms of the one before them. */
static size_t answers_together(const struct fb_collector *c) {
  size_t n = fb_collector_size(c), k = 0;
  int64_t *t = malloc(n * sizeof(*t));

  assert_non_null(t);
  for (size_t i = 0; i < n; i++)
    t[i] = fb_collector_get(c, i)->t_first_byte;
  qsort(t, n, sizeof(*t), by_value);
  for (size_t i = 1; i < n; i++)
    k += t[i] - t[i - 1] <= 1000000;
  free(t);
  return k;
}

/* Keep-alive at steady state: 50 slots, each page delayed 100 ms so that
 * the answers of a round come together. One submission a loop turn (the
 * queue never filled), far fewer turns than requests, and a multishot
 * receive per connection rather than one per response.
 */
static void test_batching(void **state) {
  const size_t n = 500;
  struct fx_run r;
  double per_req;

  (void)state;
  fx_run_init(&r, fx_urls_small(n, "?delay=100"), 50);
  r.job.connection = FB_CONN_REUSE;
  assert_int_equal(run_go(&r, 0), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 50);
  per_req = (double)r.uk.submits / (double)n;
  fprintf(stderr,
          "keep-alive, %zu requests, 50 in flight: %llu turns, %llu submits "
          "(%.3f a request), %llu flushes, %llu SQEs (%.2f a request), %llu "
          "CQEs, %llu receives armed, %llu without buffers\n",
          n, (unsigned long long)r.uk.turns, (unsigned long long)r.uk.submits,
          per_req, (unsigned long long)r.uk.flushes,
          (unsigned long long)r.uk.sqes, (double)r.uk.sqes / (double)n,
          (unsigned long long)r.uk.cqes, (unsigned long long)r.uk.recv_arms,
          (unsigned long long)r.uk.nobufs);
  assert_int_equal(r.k.connects, 50);
  assert_int_equal(r.uk.flushes, 0);
  assert_int_equal(r.uk.submits, r.uk.turns + r.uk.taskrun_passes);
  if (fx_under_valgrind()) {
    fprintf(stderr, "under valgrind the origin answers one request at a "
                    "time: how many a turn handles is not checked\n");
    fx_run_free(&r);
    return;
  }
  /* A machine busy with other work may starve the origin, whose answers
   * then come one by one: nothing to batch.
   */
  if (answers_together(r.c) < n / 2) {
    fprintf(stderr,
            "only %zu of %zu answers came within 1 ms of another "
            "(the machine is busy): how many a turn handles is not "
            "checked\n",
            answers_together(r.c), n);
    fx_run_free(&r);
    return;
  }
  /* Ten rounds of 50 answers that come close together: one turn handles
   * several (about 0.13 submits a request on a busy 2-core machine).
   */
  assert_true(r.uk.submits < n / 2);
  assert_true(r.uk.sqes < 4 * n);
  if (r.uk.features & FB__URING_MULTISHOT)
    assert_true(r.uk.recv_arms <= r.k.connects + r.uk.nobufs);
  fx_run_free(&r);
}

/* A submission queue of 8 entries for 32 slots on fresh connections: a
 * burst of connects with their linked timeouts is more than it holds, so
 * the full queue is submitted within the turn (a flush), and every page
 * arrives.
 */
static void test_flush(void **state) {
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_small(200, NULL), 32);
  r.job.connection = FB_CONN_FRESH;
  fb__test_hooks.uring_sq_entries = 8;
  assert_int_equal(run_go(&r, 0), 0);
  fb__test_hooks.uring_sq_entries = 0;
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 32);
  assert_int_equal(r.uk.sq_entries, 8);
  assert_true(r.uk.flushes > 0);
  assert_int_equal(r.uk.submits,
                   r.uk.turns + r.uk.flushes + r.uk.taskrun_passes);
  assert_int_equal(r.k.closes, 200);
  fx_run_free(&r);
}

/* 1,000 connections opened at once, their pages answered together: more
 * completions at a time than Linux 6.13 and later run in one io_uring_enter
 * of a ring that defers them (20 a pass). The turn enters again while the
 * kernel says it holds more (IORING_SQ_TASKRUN), so none waits for a later
 * turn: on such a kernel it did so, and never stopped with some left.
 */
static void test_taskrun(void **state) {
  struct fx_run r;

  (void)state;
  if (fx_raise_nofile(2 * 1000 + 64) != 0) {
    fprintf(stderr, "RLIMIT_NOFILE below 2064: skipped\n");
    skip();
  }
  fx_run_init(&r, fx_urls_small(3000, "?delay=50"), 1000);
  r.job.connection = FB_CONN_REUSE;
  assert_int_equal(run_go(&r, 0), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 1000);
  fprintf(stderr,
          "1000 in flight: %llu turns, %llu more enters for deferred "
          "completions, %llu turns that left some, %llu submits, %llu CQEs\n",
          (unsigned long long)r.uk.turns,
          (unsigned long long)r.uk.taskrun_passes,
          (unsigned long long)r.uk.taskrun_left,
          (unsigned long long)r.uk.submits, (unsigned long long)r.uk.cqes);
  assert_int_equal(r.uk.submits,
                   r.uk.turns + r.uk.flushes + r.uk.taskrun_passes);
  if (!(r.uk.features & FB__URING_DEFER_TASKRUN)) {
    assert_int_equal(r.uk.taskrun_passes, 0);
    fprintf(stderr, "no deferred task work on this kernel: nothing held\n");
  } else {
    assert_int_equal(r.uk.taskrun_left, 0);
    if (kernel_at_least(6, 13) && !fx_under_valgrind()) {
      assert_true(r.uk.taskrun_passes > 0);
      assert_non_null(strstr(features_of(&r), "asked for again while held"));
    }
  }
  fx_run_free(&r);

  /* Turned off (as test-loop's fresh run does), the turn never asks again. */
  fx_run_init(&r, fx_urls_small(1000, "?delay=50"), 1000);
  r.job.connection = FB_CONN_REUSE;
  assert_int_equal(run_go(&r, FB__URING_TASKRUN), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 1000);
  assert_int_equal(r.uk.taskrun_passes, 0);
  assert_int_equal(r.uk.submits, r.uk.turns + r.uk.flushes);
  assert_int_equal(r.uk.features & FB__URING_TASKRUN, 0);
  fx_run_free(&r);
}

/* --- Features and fallbacks ---------------------------------------------- */

/* What ran is what the stats say; on Linux 6.1 and later, everything: the
 * buffer ring with multishot receives, deferred task work, linked connect
 * timeouts, and (a cancel flag to watch) waits with a timeout argument.
 */
static void test_features(void **state) {
  static volatile sig_atomic_t never;
  struct fx_run r;

  (void)state;
  fx_run_init(&r, fx_urls_cycle(100, NULL), 8);
  r.job.cancel = &never;
  assert_int_equal(run_go(&r, 0), 0);
  fx_assert_all_ok(&fx_synthetic, r.u, r.c, 8);
  fprintf(stderr, "features 0x%x: %s\n", r.uk.features, features_of(&r));
  assert_int_equal(strncmp(features_of(&r), "io_uring: ", 10), 0);
  assert_true(r.uk.buffers >= 64 && r.uk.buffer_size == 16384);
  if (!kernel_at_least(6, 1)) {
    fprintf(stderr, "Linux before 6.1: not every feature expected\n");
    fx_run_free(&r);
    return;
  }
  assert_int_equal(r.uk.features & (FB__URING_BUF_RING | FB__URING_MULTISHOT |
                                    FB__URING_DEFER_TASKRUN |
                                    FB__URING_LINK_TIMEOUT | FB__URING_EXT_ARG),
                   FB__URING_BUF_RING | FB__URING_MULTISHOT |
                       FB__URING_DEFER_TASKRUN | FB__URING_LINK_TIMEOUT |
                       FB__URING_EXT_ARG);
  assert_non_null(strstr(features_of(&r),
                         "multishot recv into a buffer ring (64 x 16 KiB)"));
  assert_non_null(strstr(features_of(&r), "linked connect timeouts"));
  assert_non_null(strstr(features_of(&r), "timed waits"));
  assert_non_null(strstr(features_of(&r), "deferred task work"));
  fx_run_free(&r);
}

/* Each fallback, on a kernel that would not need it: keep-alive and fresh
 * runs of every page size intact, whole-request timeouts on time, and the
 * stats naming the way it went.
 */
static void check_fallback(unsigned off, const char *says, unsigned gone) {
  struct fx_run r;

  for (int fresh = 0; fresh < 2; fresh++) {
    fx_run_init(&r, fx_urls_cycle(120, NULL), 6);
    r.job.connection = fresh ? FB_CONN_FRESH : FB_CONN_REUSE;
    assert_int_equal(run_go(&r, off), 0);
    fx_assert_all_ok(&fx_synthetic, r.u, r.c, 6);
    fprintf(stderr, "off 0x%x, %s: %s\n", off, fresh ? "fresh" : "reuse",
            features_of(&r));
    assert_non_null(strstr(features_of(&r), says));
    assert_int_equal(r.uk.features & gone, 0);
    fx_run_free(&r);
  }
  fx_run_init(&r, fx_urls_small(6, "?delay=3000"), 3);
  r.job.timeout_ms = 150;
  assert_int_equal(run_go(&r, off), 0);
  assert_int_equal(r.oc[FB_OUTCOME_TIMEOUT], 6);
  for (size_t i = 0; i < 6; i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    assert_true(res->t_done - res->t_start >= 150 * FB_NS_PER_MS);
    assert_true(res->t_done - res->t_start < 2 * FB_NS_PER_S);
  }
  fx_run_free(&r);
}

static void test_fallback_oneshot(void **state) {
  (void)state;
  check_fallback(FB__URING_MULTISHOT, "io_uring: recv into a buffer ring",
                 FB__URING_MULTISHOT);
}

static void test_fallback_poll(void **state) {
  (void)state;
  check_fallback(FB__URING_BUF_RING | FB__URING_MULTISHOT,
                 "io_uring: poll then recv(2), no buffer ring",
                 FB__URING_BUF_RING | FB__URING_MULTISHOT);
}

static void test_fallback_plain(void **state) {
  (void)state;
  check_fallback(FB__URING_DEFER_TASKRUN | FB__URING_EXT_ARG |
                     FB__URING_LINK_TIMEOUT | FB__URING_TIMEOUT_UPDATE,
                 "ring timeouts",
                 FB__URING_DEFER_TASKRUN | FB__URING_EXT_ARG |
                     FB__URING_LINK_TIMEOUT | FB__URING_TIMEOUT_UPDATE);
}

/* A slot's timeout that must come sooner while one is set: a 100 ms
 * connect timeout under a 10 s whole-request one, fresh connections and
 * answers after 200 ms (the timeout set at the first connect's deadline
 * fires, is set again for the request's, and the next connect's comes
 * sooner). Moved in place, or removed and added again: every page
 * arrives either way.
 */
static void test_timeout_moves(void **state) {
  (void)state;
  for (int update = 1; update >= 0; update--) {
    struct fx_run r;

    fx_run_init(&r, fx_urls_small(12, "?delay=200"), 2);
    r.job.connection = FB_CONN_FRESH;
    r.job.connect_timeout_ms = 100;
    r.job.timeout_ms = 10000;
    assert_int_equal(run_go(&r, update ? 0 : FB__URING_TIMEOUT_UPDATE), 0);
    fx_assert_all_ok(&fx_synthetic, r.u, r.c, 2);
    fprintf(stderr, "timeouts %s: %llu timeout entries, %llu fired\n",
            update ? "updated" : "removed and added",
            (unsigned long long)r.uk.timer_sqes,
            (unsigned long long)r.k.timer_fires);
    assert_true(r.k.timer_fires >= 2);
    if (update && (r.uk.features & FB__URING_EXT_ARG))
      assert_true(r.uk.features & FB__URING_TIMEOUT_UPDATE);
    if (!update)
      assert_int_equal(r.uk.features & FB__URING_TIMEOUT_UPDATE, 0);
    fx_run_free(&r);
  }
}

/* A connect that never completes ends at its deadline by its linked
 * timeout (the kernel cancels it), as libcurl says it.
 */
static void test_connect_timeout(void **state) {
  struct fx_black_hole bh;
  struct fb_urlset *u = NULL;
  char url[128], err[128];
  struct fx_run r;

  (void)state;
  if (fx_black_hole_open(&bh) != 0) {
    fprintf(stderr, "this kernel completes connections to a full backlog\n");
    skip();
  }
  assert_int_equal(fb_urlset_create(&u), 0);
  for (int i = 0; i < 3; i++) {
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/p%d", bh.port, i);
    assert_int_equal(fb_urlset_add(u, url, strlen(url), err, sizeof(err)), 0);
  }
  fx_run_init(&r, u, 3);
  r.job.connect_timeout_ms = 300;
  assert_int_equal(run_go(&r, 0), 0);
  fx_black_hole_close(&bh);
  assert_int_equal(r.oc[FB_OUTCOME_TIMEOUT], 3);
  for (size_t i = 0; i < 3; i++) {
    const struct fb_result *res = fb_collector_get(r.c, i);

    assert_non_null(strstr(res->message, "Connection timed out after"));
    assert_true(res->t_done - res->t_start >= 300 * FB_NS_PER_MS);
    assert_true(res->t_done - res->t_start < 2 * FB_NS_PER_S);
  }
  if (r.uk.features & FB__URING_LINK_TIMEOUT)
    assert_int_equal(r.uk.link_fires, 3);
  assert_int_equal(r.k.closes, 3);
  assert_true(r.k.loop_closed);
  fx_run_free(&r);
}

/* --- A ring the system refuses ------------------------------------------- */

#if defined(__x86_64__)
#define FX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef FX_AUDIT_ARCH
/* Installs a seccomp filter on this process (and what it forks and execs)
 * that answers io_uring_setup with -err, as a container's policy does.
 * Returns 0 or -errno.
 */
static int refuse_io_uring(int err) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FX_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K,
               SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
    return -errno;
  return 0;
}
#endif

/* Runs the shell command cmd; its output (both streams) into out, the
 * exit status returned (-1 when it did not exit).
 */
static int shell(const char *cmd, char *out, size_t len) {
  FILE *p = popen(cmd, "r");
  size_t got = 0;
  int st;

  out[0] = '\0';
  if (p == NULL)
    return -1;
  while (got + 1 < len) {
    size_t k = fread(out + got, 1, len - 1 - got, p);

    if (k == 0)
      break;
    got += k;
  }
  out[got] = '\0';
  st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether command `what` exited with want, saying why not. */
static int exited(const char *what, int st, int want, const char *out) {
  if (st == want)
    return 1;
  fprintf(stderr, "%s: exit %d, not %d:\n%s\n", what, st, want, out);
  return 0;
}

static int said(const char *what, const char *text, const char *needle) {
  if (strstr(text, needle) != NULL)
    return 1;
  fprintf(stderr, "%s: \"%s\" not in:\n%s\n", what, needle, text);
  return 0;
}

/* In the child, under the filter: the engine says it is unavailable and a
 * run of it fails the same way, every URL not_run with the reason; then
 * the fetchbench command: `run -e uring` exits 2 naming the errno,
 * `compare` leaves uring out with one line and runs raw, `compare` with
 * uring alone exits 2, and --help says it; arg points to the errno, the
 * URLs are the scratch urls.txt. Returns 0 when all held.
 */
static int refused_child(void *arg) {
  int err = *(const int *)arg;
  const char *urls_path = scratch_path("urls.txt");
  const char *bin = getenv("FB_BIN");
  char why[FB_MESSAGE_MAX], want[FB_MESSAGE_MAX], stopped[FB_MESSAGE_MAX + 64];
  char cmd[2048], *out = malloc(1 << 16);
  int ok = 1, rc, st;
  struct fx_run r;

#ifdef FX_AUDIT_ARCH
  rc = refuse_io_uring(err);
#else
  rc = -ENOSYS;
#endif
  if (rc != 0 || out == NULL) {
    fprintf(stderr, "cannot install the seccomp filter: %s\n", strerror(-rc));
    free(out);
    return 77;
  }
  snprintf(want, sizeof(want), "io_uring unavailable: %s (io_uring_setup: %s)",
           strerror(err), fb_err_name(-err));
  rc = fb_engine_available(uring, why, sizeof(why));
  fprintf(stderr, "refused with %s: %s\n", fb_err_name(-err), why);
  ok &= rc == FB_EUNAVAIL && said("available", why, want);

  fx_run_init(&r, fx_urls_small(5, NULL), 2);
  rc = run_go(&r, 0);
  snprintf(stopped, sizeof(stopped), "run stopped: %s", want);
  ok &= rc == FB_EUNAVAIL && r.oc[FB_OUTCOME_NOT_RUN] == 5 &&
        fb_collector_check(r.c, NULL) == 0 &&
        said("run", fb_collector_get(r.c, 4)->message, stopped);
  fx_run_free(&r);

  if (bin == NULL) {
    fprintf(stderr, "FB_BIN not set: the command not checked\n");
    free(out);
    return ok ? 0 : 1;
  }
  snprintf(cmd, sizeof(cmd), "'%s' run -e uring -w 2 --urls '%s' 2>&1", bin,
           urls_path);
  st = shell(cmd, out, 1 << 16);
  ok &= exited("run -e uring", st, 2, out) &&
        said("run -e uring", out, "engine uring cannot run here: ") &&
        said("run -e uring", out, want);
  snprintf(cmd, sizeof(cmd),
           "'%s' compare -q -e raw,uring -w 2 -r 1 --urls '%s' 2>&1", bin,
           urls_path);
  st = shell(cmd, out, 1 << 16);
  snprintf(stopped, sizeof(stopped), "engine uring left out: %s", want);
  ok &= exited("compare", st, 0, out) && said("compare", out, stopped) &&
        said("compare", out, "\nraw ") && strstr(out, "\nuring ") == NULL;
  snprintf(cmd, sizeof(cmd),
           "'%s' compare -q -e uring -w 2 -r 1 --urls '%s' 2>&1", bin,
           urls_path);
  st = shell(cmd, out, 1 << 16);
  ok &= exited("compare uring", st, 2, out) &&
        said("compare uring", out, "no engine to compare");
  snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1", bin);
  st = shell(cmd, out, 1 << 16);
  ok &= exited("--help", st, 0, out) &&
        said("--help", out, "unavailable here: io_uring");
  free(out);
  return ok ? 0 : 1;
}

static void refused(int err) {
  char urls[4096] = "";
  int status;

  for (int i = 0; i < 4; i++)
    snprintf(urls + strlen(urls), sizeof(urls) - strlen(urls),
             "%s/intro/tutorial01.html\n", fx_synthetic.proc.base_url);
  scratch_write("urls.txt", urls, strlen(urls));
  status = fx_in_child(refused_child, &err, NULL);
  if (status == 77)
    skip();
  assert_int_equal(status, 0);
}

static void test_refused_eperm(void **state) {
  (void)state;
  refused(EPERM);
}

static void test_refused_enosys(void **state) {
  (void)state;
  refused(ENOSYS);
}

/* --- From outside -------------------------------------------------------- */

/* strace -c -f counts io_uring_enter like any system call: the bench's way
 * to count system calls per request for every engine. At keep-alive with
 * 40 in flight, fewer io_uring_enter calls than requests.
 */
static void test_strace(void **state) {
  const char *bin = getenv("FB_BIN");
  char urls[64 << 10] = "", cmd[2048], *out, line[512];
  const size_t n = 400;
  long calls = -1;
  FILE *f;
  int st;

  (void)state;
  if (bin == NULL || system("strace -V >/dev/null 2>&1") != 0) {
    fprintf(stderr, "FB_BIN not set or no strace: skipped\n");
    skip();
  }
  if (fx_under_valgrind()) {
    fprintf(stderr, "under valgrind the origin answers one request at a "
                    "time: system calls a request are not counted\n");
    skip();
  }
  for (size_t i = 0; i < n; i++)
    snprintf(urls + strlen(urls), sizeof(urls) - strlen(urls),
             "%s/intro/tutorial01.html?delay=50&i=%zu\n",
             fx_synthetic.proc.base_url, i);
  scratch_write("many.txt", urls, strlen(urls));
  snprintf(cmd, sizeof(cmd),
           "strace -f -c -o '%s' '%s' run -e uring -w 40 --connection reuse "
           "--urls '%s' 2>&1",
           scratch_path("strace.txt"), bin, scratch_path("many.txt"));
  out = malloc(1 << 16);
  assert_non_null(out);
  st = shell(cmd, out, 1 << 16);
  if (st != 0 && strstr(out, "ptrace") != NULL) {
    fprintf(stderr, "strace cannot trace here: %s\n", out);
    free(out);
    skip();
  }
  if (st != 0)
    fail_msg("strace run exited %d: %s", st, out);
  free(out);
  f = fopen(scratch_path("strace.txt"), "r");
  assert_non_null(f);
  while (fgets(line, sizeof(line), f) != NULL) {
    double pct, secs;
    long usecs, c;
    char name[64];

    if (strstr(line, "io_uring_enter") != NULL &&
        sscanf(line, "%lf %lf %ld %ld %*s %63s", &pct, &secs, &usecs, &c,
               name) >= 4)
      calls = c;
  }
  fclose(f);
  fprintf(stderr, "strace -c -f: %ld io_uring_enter for %zu requests\n", calls,
          n);
  assert_true(calls > 0);
  assert_true((size_t)calls < n);
}

/* ------------------------------------------------------------------------- */

static int setup(void **state) {
  if (fx_group_setup(state) != 0 || scratch_create("uring") != 0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  scratch_remove();
  return fx_group_teardown(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refused_eperm),
      cmocka_unit_test(test_refused_enosys),
      cmocka_unit_test(test_batching),
      cmocka_unit_test(test_flush),
      cmocka_unit_test(test_taskrun),
      cmocka_unit_test(test_features),
      cmocka_unit_test(test_fallback_oneshot),
      cmocka_unit_test(test_fallback_poll),
      cmocka_unit_test(test_fallback_plain),
      cmocka_unit_test(test_timeout_moves),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_strace),
  };
  char why[FB_MESSAGE_MAX];
  int rc;

  uring = fb_engine_find("uring");
  if (uring == NULL)
    return 2;
  if (getenv("FB_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("FB_TEST_FILTER"));
  if (fb_engine_available(uring, why, sizeof(why)) != 0) {
    fprintf(stderr, "engine uring unavailable here, skipped: %s\n", why);
    return 77;
  }
  fx_global_init();
  rc = cmocka_run_group_tests_name("uring", tests, setup, teardown);
  fx_global_cleanup();
  return rc;
}
