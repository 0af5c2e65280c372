/* SPDX-License-Identifier: MIT */
#ifndef FB_TESTS_ENGINES_FIXTURE_H
#define FB_TESTS_ENGINES_FIXTURE_H

/* What the engine tests share: a loopback origin child serving a corpus the
 * test also holds in memory (to know every page's bytes and XXH3), URL lists
 * built from it, and the checks every run must pass.
 */

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/testhooks.h"
#include "fetchbench/fetchbench.h"

/* The seed of the synthetic corpus, the same in the test and the origin. */
#define FX_SEED 1

struct fx_origin {
  struct fb_origin_proc proc;
  struct fb_corpus *corpus; /* the same pages, in memory */
  char cacert[256];         /* with fx_tls: the origin's certificate, PEM */
};

/* 1 when the test program runs over https (fx_scheme_args saw "https"):
 * origins serve TLS with a certificate of their own, and fx_job_init trusts
 * it.
 */
extern int fx_tls;

/* Takes an optional scheme argument ("http" or "https") at argv[i], if
 * there is one, into fx_tls. Returns 0, or -1 for another word.
 */
int fx_scheme_args(int argc, char **argv, int i);

/* fb_job_init, and over https origin o's certificate as the CA to trust. */
void fx_job_init(struct fb_job *job, const struct fx_origin *o);

/* Process-wide set-up for a test program: SIGPIPE ignored and
 * curl_global_init, as the CLI does.
 */
void fx_global_init(void);
void fx_global_cleanup(void);

/* 77 (a test program's skip) after printing why when this system refuses
 * engine e (fb_engine_available: io_uring under a seccomp policy, say),
 * else 0.
 */
int fx_engine_skip(const struct fb_engine *e);

/* 1 when this runs under valgrind (and its origin child with it). */
int fx_under_valgrind(void);

/* 1 when a test must not count on a thread of its own to run while engine
 * e's loop waits: under valgrind 3.19, which does not know that
 * io_uring_enter blocks and so runs no other thread of the process while
 * uring waits in it (the reason is printed, with the test's name); else 0.
 */
int fx_helper_thread_starves(const struct fb_engine *e, const char *test);

/* Starts an origin child on 127.0.0.1:0 serving corpus ("synthetic" or a
 * directory) and loads the same corpus. Returns 0 or a negative code (the
 * reason printed).
 */
int fx_origin_start(struct fx_origin *o, const char *corpus);
void fx_origin_stop(struct fx_origin *o);

/* The synthetic-corpus origin a test program shares, started by
 * fx_group_setup and stopped by fx_group_teardown (cmocka group fixtures).
 */
extern struct fx_origin fx_synthetic;
int fx_group_setup(void **state);
int fx_group_teardown(void **state);

/* A URL set of pages [first, first + count) of the corpus (count 0: all
 * from first), each followed by query when not NULL ("?delay=50"). Fails the
 * test on error.
 */
struct fb_urlset *fx_urls_pages(const struct fx_origin *o, size_t first,
                                size_t count, const char *query);

/* Appends pages [first, first + count) to u, as fx_urls_pages. */
void fx_urls_add_pages(struct fb_urlset *u, const struct fx_origin *o,
                       size_t first, size_t count, const char *query);

/* The seed pages of the original experiment, with query. */
struct fb_urlset *fx_urls_seed(const struct fx_origin *o, const char *query);

/* The corpus page a URL of o names (its path, query stripped), or NULL. */
const struct fb_page *fx_page_of(const struct fx_origin *o, const char *url);

/* A port on 127.0.0.1 where connections are never completed: a listener
 * with a backlog of 0 whose one queue place is taken, so that Linux drops
 * further SYNs. open returns 0, or -1 when this kernel completes
 * connections anyway.
 */
struct fx_black_hole {
  int listen_fd;
  int fill_fd;
  int port;
};
int fx_black_hole_open(struct fx_black_hole *bh);
void fx_black_hole_close(struct fx_black_hole *bh);

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
int fx_closed_port(void);

/* Seconds on the monotonic clock. */
double fx_now(void);

/* n URLs cycling over the synthetic origin's pages, or n URLs of its
 * smallest page (for tests that count loop events, not bytes), each with
 * query; fx_add_* append them to u.
 */
struct fb_urlset *fx_urls_cycle(size_t n, const char *query);
struct fb_urlset *fx_urls_small(size_t n, const char *query);
void fx_add_cycle(struct fb_urlset *u, size_t n, const char *query);
void fx_add_small(struct fb_urlset *u, size_t n, const char *query);

/* Runs fn(arg) in a forked child, where limits and hooks it sets stay,
 * and returns the child's exit status; a child killed by a signal fails the
 * test (naming what, when what is not NULL).
 */
int fx_in_child(int (*fn)(void *arg), void *arg, const char *what);

/* Raises the soft open-files limit to the hard one. Returns 0 when the
 * limit is then at least need, -EMFILE when not, -errno on failure.
 */
int fx_raise_nofile(unsigned long need);

/* Cancels the next run part-way, the way a user does: once request
 * after_index has started (the test build's before_request hook) and
 * 200 ms more have passed, a thread raises *flag, or sends SIGINT, whose
 * handler (installed by fx_cancel_arm, the old one restored by
 * fx_cancel_disarm) raises it.
 */
struct fx_cancel {
  pthread_t thread;
  size_t after_index;
  int use_signal;
  int started;
  struct sigaction old;
};
void fx_cancel_arm(struct fx_cancel *k, volatile sig_atomic_t *flag,
                   size_t after_index, int use_signal);
void fx_cancel_disarm(struct fx_cancel *k);

/* One run of an engine on a URL set: its job, the collector it filled, the
 * outcomes counted, and the loop's counters of a test build (each engine
 * fills its own; uring's loop part is copied into k). The run owns u.
 */
struct fx_run {
  struct fb_job job;
  struct fb_urlset *u;
  struct fb_collector *c;
  size_t oc[FB_OUTCOME_COUNT];
  struct fb__loop_counters k;   /* raw, uring */
  struct fb__uring_counters uk; /* uring */
};

/* A job of workers for u (fb_job_init's defaults otherwise). */
void fx_run_init(struct fx_run *r, struct fb_urlset *u, unsigned workers);

/* Runs e on r's job into a new collector (its clock restarted), counts the
 * outcomes; returns the run's code.
 */
int fx_run_go(struct fx_run *r, const struct fb_engine *e);

void fx_run_free(struct fx_run *r);

/* Asserts the one-result rule and that every result is ok with the body of
 * its page: status 200, bytes and XXH3 equal, sane times, worker below
 * workers. Returns how many requests were on a reused connection.
 */
size_t fx_assert_all_ok(const struct fx_origin *o, const struct fb_urlset *u,
                        const struct fb_collector *c, unsigned workers);

#endif /* FB_TESTS_ENGINES_FIXTURE_H */
