/* SPDX-License-Identifier: MIT */
/* The TLS layer's shared parts under threads (run under TSan in CI): the
 * process-wide CA store and a client context whose session cache several
 * threads use at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scratch.h"
#include "tls/pair.h"
#include "tls/tls.h"

#define THREADS 4
#define ROUNDS 12

static struct fb_tls_cert *cert;
static const char *cafile;
static pthread_barrier_t barrier;

static int group_setup(void **state) {
  char err[256];
  const struct fb_tls_cert *one[1];

  if (scratch_create("tls-threads") != 0 ||
      fb_tls_cert_generate(&cert, NULL, err, sizeof(err)) != 0)
    return -1;
  one[0] = cert;
  cafile = strdup(scratch_path("ca.pem"));
  return fb_tls_cert_write_pem(one, 1, cafile, err, sizeof(err)) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  fb_tls_cert_destroy(cert);
  free((void *)cafile);
  fb_tls_cleanup();
  return scratch_remove();
}

struct store_job {
  X509_STORE *file, *sys;
  int rc;
};

static void *store_thread(void *arg) {
  struct store_job *j = arg;
  char err[256];

  pthread_barrier_wait(&barrier);
  j->rc = fb_tls_ca_store(cafile, &j->file, err, sizeof(err));
  if (j->rc == 0)
    j->rc = fb_tls_ca_store(NULL, &j->sys, err, sizeof(err));
  return NULL;
}

/* Every thread asks at once; all get the same two stores. */
static void test_ca_store_once(void **state) {
  struct store_job jobs[THREADS] = {{0}};
  pthread_t t[THREADS];

  assert_int_equal(pthread_barrier_init(&barrier, NULL, THREADS), 0);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, store_thread, &jobs[i]), 0);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  pthread_barrier_destroy(&barrier);
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(jobs[i].rc, 0);
    assert_non_null(jobs[i].file);
    assert_non_null(jobs[i].sys);
    assert_ptr_equal(jobs[i].file, jobs[0].file);
    assert_ptr_equal(jobs[i].sys, jobs[0].sys);
  }
  assert_ptr_not_equal(jobs[0].file, jobs[0].sys);
}

struct conn_job {
  struct fb_tls_ctx *cctx, *sctx;
  int fails, resumed;
};

static void *conn_thread(void *arg) {
  struct conn_job *j = arg;

  pthread_barrier_wait(&barrier);
  for (int r = 0; r < ROUNDS; r++) {
    struct fb_tls *c = NULL, *s = NULL;
    char buf[16];
    long last;
    if (fb_tls_create(&c, j->cctx, "localhost", 443, NULL) != 0 ||
        fb_tls_create(&s, j->sctx, NULL, 0, NULL) != 0 ||
        fb_tls_pair_handshake(c, s, 0, NULL, NULL) != 0 ||
        fb_tls_write(s, "response", 8) != 8 ||
        fb_tls_pair_read(s, c, buf, 8, 0, &last) != 8 ||
        memcmp(buf, "response", 8) != 0)
      j->fails++;
    else
      j->resumed += fb_tls_resumed(c);
    fb_tls_destroy(c);
    fb_tls_destroy(s);
  }
  return NULL;
}

/* One client context (one session cache) and one server context shared by
 * all threads, handshaking at once to one host:port. */
static void test_shared_sessions(void **state) {
  struct fb_tls_server_opts so = {.cert = cert};
  struct fb_tls_client_opts co = {.cafile = cafile};
  struct fb_tls_ctx *cctx, *sctx;
  struct conn_job jobs[THREADS];
  pthread_t t[THREADS];
  char err[256];
  int resumed = 0;

  assert_int_equal(fb_tls_ctx_server(&sctx, &so, err, sizeof(err)), 0);
  assert_int_equal(fb_tls_ctx_client(&cctx, &co, err, sizeof(err)), 0);
  assert_int_equal(pthread_barrier_init(&barrier, NULL, THREADS), 0);
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (struct conn_job){cctx, sctx, 0, 0};
    assert_int_equal(pthread_create(&t[i], NULL, conn_thread, &jobs[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  pthread_barrier_destroy(&barrier);
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(jobs[i].fails, 0);
    resumed += jobs[i].resumed;
  }
  /* Every round after a thread's first found the cache's session (a few
   * may have raced the first one to store it). */
  assert_true(resumed >= THREADS * (ROUNDS - 2));
  assert_int_equal(fb_tls_ctx_sessions(cctx), 1);
  fb_tls_ctx_destroy(cctx);
  fb_tls_ctx_destroy(sctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ca_store_once),
      cmocka_unit_test(test_shared_sessions),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
