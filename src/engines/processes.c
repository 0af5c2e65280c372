/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engines/fetch.h"
#include "engines/engine_int.h"
#include "engines/testhooks.h"
#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/engine.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/urlset.h"

/* A pre-forked pool of N workers, like multiprocessing.Pool. Each worker has
 * two pipes: tasks (a chunk of URL indices) go down one, results come up the
 * other as fixed-size records no larger than PIPE_BUF, so every write is
 * atomic and a record that arrives in part was cut short by its writer. The
 * URLs themselves need not travel: a worker is a fork of the parent and holds
 * the same URL set. A worker asks for work by finishing its chunk; the parent
 * then hands it the next, so a slow URL idles nobody else.
 *
 * Only the parent touches the collector. It multiplexes the result pipes with
 * poll(), notices a worker's death by end-of-file on its pipe, reaps it with
 * wait4 (its CPU and peak RSS go into the engine statistics), records the
 * request it held as lost, gives back the rest of its chunk, and forks a
 * replacement, up to job->max_respawns deaths.
 *
 * Stopping (job->cancel raised, or one death too many) closes every task
 * pipe: a worker ends the request in flight and leaves. What has not come
 * back after GRACE_MS is SIGKILLed and recorded as cancelled; what never
 * started is cancelled or not_run. Workers ignore SIGINT so that a Ctrl-C
 * to the process group leaves the stopping to the parent.
 *
 * The caller has done curl_global_init before run(): it must not be done in
 * a child of a threaded process. Every curl handle is made in the child.
 * Workers get SIGKILL when the thread that forked them ends
 * (PR_SET_PDEATHSIG), which is the thread that calls run().
 */

#define PROCESSES_MAX 256
#define TICK_MS 50         /* how often the parent looks at job->cancel */
#define HANG_GRACE_MS 2000 /* beyond a request's timeout: the worker hangs */
#define GRACE_MS 500       /* to finish requests in flight when stopping */
#define REAP_WAIT_MS 1000  /* for a worker that closed its pipe to exit */
#define CHILD_EXIT_PIPE 71 /* the child could not use its pipes */
#define TASK_MAGIC 0x6b736174u   /* "task" */
#define RESULT_MAGIC 0x746c7372u /* "rslt" */

struct task_rec {
  uint32_t magic;
  uint32_t first; /* URL indices first .. first + count - 1 */
  uint32_t count;
  uint32_t pad_;
};

struct result_rec {
  uint32_t magic;
  uint32_t message_len; /* bytes of message, < FB_MESSAGE_MAX */
  uint64_t check;       /* XXH3 of r and message: catches torn records */
  struct fb_result r;   /* r.message is NULL on the wire */
  char message[FB_MESSAGE_MAX];
};

_Static_assert(sizeof(struct result_rec) <= PIPE_BUF,
               "a result record must fit one atomic pipe write");

struct worker {
  unsigned id;
  pid_t pid;     /* 0: not running */
  int task_fd;   /* parent's write end, -1 when closed */
  int result_fd; /* parent's read end (non-blocking), -1 when closed */
  int killed;    /* the parent sent SIGKILL */
  size_t first;  /* the chunk it holds: first .. first + count - 1, */
  size_t count;  /* of which done have come back */
  size_t done;
  size_t have; /* bytes of a record received so far */
  int64_t due; /* its request in flight must have ended by then, 0: none */
  int hung;    /* it missed due: its request is a timeout, not lost */
  union {
    struct result_rec rec;
    unsigned char bytes[sizeof(struct result_rec)];
  } in;
};

struct range {
  size_t first;
  size_t count;
};

struct pool {
  /* The easy handle every worker starts from, set up once here rather than
   * in each child: a worker inherits it (a copy on write) and only takes
   * its id. child_job is the job as the workers see it.
   */
  struct fb_fetch tmpl;
  struct fb_job child_job;
  int tmpl_ready;
  const struct fb_job *job;
  struct fb_collector *c;
  struct fb_engine_stats *stats;
  size_t n;
  size_t next;        /* first index never handed out */
  size_t chunk;       /* indices per task */
  struct range *back; /* handed out but given back by dead workers */
  size_t nback;
  size_t capback;
  struct worker *w;
  unsigned nw;
  unsigned alive;
  unsigned deaths;
  int spawn_err;    /* a fork that failed after the start */
  int stopping;     /* 0, FB_ECANCELED or FB_EWORKERS */
  int64_t deadline; /* of the grace period when stopping */
  int hard_killed;  /* SIGKILL sent to all after the grace */
  pid_t parent;
  sigset_t oldmask;
  struct pollfd *pfd;
  unsigned *pfd_worker;
};

/* --- The child ---------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  ssize_t n;

  while (got < len) {
    n = read(fd, (char *)buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    got += (size_t)n;
  }
  return got == len ? 1 : got == 0 ? 0 : -1;
}

static int write_full(int fd, const void *buf, size_t len) {
  size_t put = 0;
  ssize_t n;

  while (put < len) {
    n = write(fd, (const char *)buf + put, len - put);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    put += (size_t)n;
  }
  return 0;
}

static uint64_t record_check(const struct result_rec *rec) {
  XXH3_state_t st;

  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, &rec->r, sizeof(rec->r));
  XXH3_64bits_update(&st, rec->message, sizeof(rec->message));
  return XXH3_64bits_digest(&st);
}

/* The parent closes the task pipe to say "stop": between the requests of a
 * chunk the worker looks whether it did.
 */
static int task_pipe_closed(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};

  return poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) != 0 &&
         (p.revents & POLLIN) == 0;
}

static void send_result(int fd, struct fb_result *r) {
  struct result_rec rec;
  size_t len = 0;

  memset(&rec, 0, sizeof(rec));
  if (r->message != NULL)
    len = strnlen(r->message, FB_MESSAGE_MAX - 1);
  memcpy(rec.message, r->message != NULL ? r->message : "", len);
  rec.magic = RESULT_MAGIC;
  rec.message_len = (uint32_t)len;
  rec.r = *r;
  rec.r.message = NULL;
  rec.check = record_check(&rec);
#ifdef FB_UNITTEST
  if (fb__test_hooks.result_write != NULL) {
    fb__test_hooks.result_write(fd, &rec, sizeof(rec), r->index);
    return;
  }
#endif
  if (write_full(fd, &rec, sizeof(rec)) != 0)
    _exit(CHILD_EXIT_PIPE);
}

static void child_main(struct pool *p, unsigned id, int task_fd,
                       int result_fd) {
  const struct fb_job *job = &p->child_job;
  struct fb_fetch *f = &p->tmpl;
  struct task_rec task;
  struct fb_result r;
  CURLcode code;
  int rc;

  /* Die with the parent; if it is already gone, the signal never comes. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != p->parent)
    _exit(CHILD_EXIT_PIPE);
  /* The parent orchestrates stopping: a Ctrl-C to the process group must
   * not kill a worker before it reports. SIGTERM kills it outright.
   */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_SETMASK, &p->oldmask, NULL);
  /* Other workers' pipe ends must not stay open here, or their end-of-file
   * (which is how the parent sees them die, and they see it stop them)
   * would never come.
   */
  for (unsigned k = 0; k < p->nw; k++) {
    if (p->w[k].task_fd >= 0)
      close(p->w[k].task_fd);
    if (p->w[k].result_fd >= 0)
      close(p->w[k].result_fd);
  }
  f->worker = id;

  for (;;) {
    rc = read_full(task_fd, &task, sizeof(task));
    if (rc == 0)
      break;
    if (rc < 0 || task.magic != TASK_MAGIC)
      _exit(CHILD_EXIT_PIPE);
    for (uint32_t k = 0; k < task.count; k++) {
      if (k > 0 && task_pipe_closed(task_fd))
        goto out;
      /* Open loop: the parent hands the next index to the first free
       * worker, which waits for its due time (the parent stops a run by
       * closing the pipes, then kills what still waits).
       */
      fb__engine_wait_due(job, fb_collector_t0(p->c), task.first + k);
      if (fb__fetch_start(f, task.first + k) != 0)
        code = CURLE_FAILED_INIT;
      else
        code = fb__fetch_perform(f);
      fb__fetch_finish(f, code, &r);
      send_result(result_fd, &r);
    }
  }
out:
  fb__fetch_cleanup(f);
  _exit(0);
}

/* --- The parent --------------------------------------------------------- */

static int work_left(const struct pool *p) {
  return p->nback > 0 || p->next < p->n;
}

static int give_back(struct pool *p, size_t first, size_t count) {
  struct range *b;

  if (count == 0)
    return 0;
  if (p->nback == p->capback) {
    b = realloc(p->back, (p->capback * 2 + 4) * sizeof(*b));
    if (b == NULL)
      return -ENOMEM;
    p->back = b;
    p->capback = p->capback * 2 + 4;
  }
  p->back[p->nback].first = first;
  p->back[p->nback].count = count;
  p->nback++;
  return 0;
}

static int take(struct pool *p, size_t *first, size_t *count) {
  struct range *b;

  if (p->nback > 0) {
    b = &p->back[p->nback - 1];
    *first = b->first;
    *count = b->count < p->chunk ? b->count : p->chunk;
    b->first += *count;
    b->count -= *count;
    if (b->count == 0)
      p->nback--;
    return 1;
  }
  if (p->next >= p->n)
    return 0;
  *first = p->next;
  *count = p->n - p->next < p->chunk ? p->n - p->next : p->chunk;
  p->next += *count;
  return 1;
}

static void close_task(struct worker *w) {
  if (w->task_fd >= 0)
    close(w->task_fd);
  w->task_fd = -1;
}

static void begin_stop(struct pool *p, int why) {
  if (p->stopping)
    return;
  p->stopping = why;
  p->deadline = fb_clock_ns() + GRACE_MS * FB_NS_PER_MS;
  for (unsigned k = 0; k < p->nw; k++)
    close_task(&p->w[k]);
}

/* When a request handed out now must have come back: its own timeout (every
 * request has one, redirects included) and a grace for the worker's own
 * work. A worker past it is stopped (SIGSTOP), wedged or looping: the parent
 * kills it, rather than let the run wait for ever.
 */
static int64_t task_due(const struct pool *p, size_t index) {
  int64_t start = fb__engine_due_at(p->job, fb_collector_t0(p->c), index);
  int64_t now = fb_clock_ns();

  return (start > now ? start : now) +
         (p->job->timeout_ms + HANG_GRACE_MS) * (int64_t)FB_NS_PER_MS;
}

/* Hands worker w its next chunk, or closes its task pipe when there is none
 * (or the run is stopping), which makes it exit.
 */
static void dispatch(struct pool *p, struct worker *w) {
  struct task_rec task = {.magic = TASK_MAGIC};
  static const struct timespec zero;
  sigset_t pipe_set;
  size_t first, count;

  w->first = w->count = w->done = 0;
  if (w->task_fd < 0)
    return;
  if (p->stopping || !take(p, &first, &count)) {
    close_task(w);
    return;
  }
  task.first = (uint32_t)first;
  task.count = (uint32_t)count;
  /* One small record into an empty pipe: it never blocks. */
  if (write_full(w->task_fd, &task, sizeof(task)) != 0) {
    /* The worker is gone (EPIPE, with SIGPIPE blocked in this thread):
     * the chunk never reached it, so it goes back untouched. Its death
     * shows on the result pipe.
     */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigtimedwait(&pipe_set, NULL, &zero);
    if (give_back(p, first, count) != 0)
      begin_stop(p, -ENOMEM);
    close_task(w);
    return;
  }
  w->first = first;
  w->count = count;
  w->due = task_due(p, first);
}

static int spawn(struct pool *p, struct worker *w) {
  int tp[2], rp[2];
  pid_t pid;
  int err;

  if (pipe2(tp, O_CLOEXEC) != 0)
    return -errno;
  if (pipe2(rp, O_CLOEXEC) != 0) {
    err = -errno;
    close(tp[0]);
    close(tp[1]);
    return err;
  }
  pid = fork();
  if (pid == 0) {
    close(tp[1]);
    close(rp[0]);
    child_main(p, w->id, tp[0], rp[1]);
    _exit(0);
  }
  err = pid < 0 ? -errno : 0;
  close(tp[0]);
  close(rp[1]);
  if (err != 0) {
    close(tp[1]);
    close(rp[0]);
    return err;
  }
  fcntl(rp[0], F_SETFL, fcntl(rp[0], F_GETFL) | O_NONBLOCK);
  w->pid = pid;
  w->task_fd = tp[1];
  w->result_fd = rp[0];
  w->killed = 0;
  w->hung = 0;
  w->due = 0;
  w->have = 0;
  w->first = w->count = w->done = 0;
  p->alive++;
  p->stats->workers_started++;
  if (p->alive > p->stats->workers_max)
    p->stats->workers_max = p->alive;
  return 0;
}

/* Waits for a worker that closed its pipe, SIGKILLs it when it lingers,
 * and adds its resource usage to the statistics.
 */
static int reap(struct pool *p, struct worker *w, int *status) {
  struct fb_engine_stats *s = p->stats;
  struct rusage ru;
  int lingering = 0;
  int waited = 0;
  pid_t got;

  for (;;) {
    got = wait4(w->pid, status, lingering ? 0 : WNOHANG, &ru);
    if (got == w->pid)
      break;
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return -errno; /* ECHILD: SIGCHLD ignored, the child reaped itself */
    if (++waited >= REAP_WAIT_MS) {
      kill(w->pid, SIGKILL);
      w->killed = 1;
      lingering = 1;
      continue;
    }
    poll(NULL, 0, 1);
  }
  timeradd(&s->child_utime, &ru.ru_utime, &s->child_utime);
  timeradd(&s->child_stime, &ru.ru_stime, &s->child_stime);
  if (ru.ru_maxrss > s->child_max_rss_kib)
    s->child_max_rss_kib = ru.ru_maxrss;
  s->child_rss_sum_kib += ru.ru_maxrss;
  return 0;
}

/* Handles the end of worker w: end-of-file on its result pipe, or a record
 * that was cut short or garbled (bad names the fault, and the worker is
 * killed first).
 */
static void ended(struct pool *p, struct worker *w, const char *bad) {
  char msg[FB_MESSAGE_MAX];
  char why[FB_MESSAGE_MAX / 2] = "vanished";
  int task_closed = w->task_fd < 0;
  size_t held = w->count - w->done;
  struct fb_result r;
  int clean = 0;
  int status = 0;
  int code = 0;

  if (bad != NULL) {
    kill(w->pid, SIGKILL);
    w->killed = 1;
  }
  close_task(w);
  close(w->result_fd);
  w->result_fd = -1;
  /* reap fails only when SIGCHLD is ignored and the child reaped itself. */
  if (reap(p, w, &status) == 0) {
    if (WIFSIGNALED(status)) {
      code = WTERMSIG(status);
      snprintf(why, sizeof(why), "killed by signal %d (%s)", code,
               sigdescr_np(code) != NULL ? sigdescr_np(code) : "?");
    } else if (WIFEXITED(status)) {
      code = WEXITSTATUS(status);
      clean = code == 0 && bad == NULL;
      snprintf(why, sizeof(why), "exited with status %d", code);
    }
  }
  snprintf(msg, sizeof(msg), "worker %u (pid %ld) %s%s%s", w->id, (long)w->pid,
           bad != NULL ? bad : "", bad != NULL ? ", " : "", why);
  w->pid = 0;
  p->alive--;
  fb_result_init(&r);
  r.index = (uint32_t)(w->first + w->done);
  r.worker = w->id;
  r.error_code = code;
  r.t_done = fb_clock_ns() - fb_collector_t0(p->c);
  w->first = w->count = w->done = 0;

  /* The normal end: no work left, the worker was told and left. */
  if (clean && task_closed && held == 0)
    return;
  /* Stopped by us: a request we killed was cut short, not lost; the rest
   * of its chunk never started (the run's end fills those).
   */
  if (p->stopping && bad == NULL && (w->killed || clean)) {
    if (held > 0 && w->killed) {
      r.outcome = FB_OUTCOME_CANCELLED;
      r.error_code = 0;
      r.message = p->stopping == FB_ECANCELED ? "run cancelled"
                                              : "run stopped before it ended";
      (void)fb_collector_put(p->c, &r);
    }
    return;
  }

  p->deaths++;
  p->stats->workers_lost++;
  if (held > 0) {
    r.outcome = w->hung ? FB_OUTCOME_TIMEOUT : FB_OUTCOME_LOST;
    r.message = msg;
    (void)fb_collector_put(p->c, &r);
    /* The rest of the chunk never started: another worker takes it. */
    if (give_back(p, r.index + 1, held - 1) != 0)
      begin_stop(p, -ENOMEM);
  }
  if (p->stopping)
    return;
  if (p->deaths > p->job->max_respawns) {
    begin_stop(p, FB_EWORKERS);
    return;
  }
  if (!work_left(p))
    return;
  p->spawn_err = spawn(p, w);
  if (p->spawn_err == 0)
    dispatch(p, w);
}

static void accept_record(struct pool *p, struct worker *w) {
  struct result_rec *rec = &w->in.rec;
  struct fb_result r;

  if (rec->magic != RESULT_MAGIC || rec->message_len >= FB_MESSAGE_MAX ||
      rec->check != record_check(rec) || w->done >= w->count ||
      rec->r.index != w->first + w->done ||
      rec->r.outcome >= FB_OUTCOME_COUNT) {
    ended(p, w, "sent a malformed record");
    return;
  }
  r = rec->r;
  rec->message[rec->message_len] = '\0';
  r.message = rec->message_len > 0 ? rec->message : NULL;
  r.worker = w->id;
  (void)fb_collector_put(p->c, &r);
  w->done++;
  w->due = task_due(p, w->first + w->done);
  if (w->done == w->count)
    dispatch(p, w);
}

/* Reads what worker w sent: whole records, end-of-file, or the start of a
 * record and nothing more, which an atomic write never leaves.
 */
static void drain(struct pool *p, struct worker *w) {
  char bad[64];
  ssize_t n;

  while (w->result_fd >= 0) {
    n = read(w->result_fd, w->in.bytes + w->have, sizeof(w->in) - w->have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      if (w->have > 0) {
        snprintf(bad, sizeof(bad), "sent a partial record (%zu of %zu bytes)",
                 w->have, sizeof(w->in));
        ended(p, w, bad);
      }
      return;
    }
    if (n <= 0) {
      if (w->have > 0) {
        snprintf(bad, sizeof(bad), "sent a partial record (%zu of %zu bytes)",
                 w->have, sizeof(w->in));
        ended(p, w, bad);
      } else {
        ended(p, w, NULL);
      }
      return;
    }
    w->have += (size_t)n;
    if (w->have == sizeof(w->in)) {
      w->have = 0;
      accept_record(p, w);
    }
  }
}

static void kill_all(struct pool *p) {
  for (unsigned k = 0; k < p->nw; k++) {
    if (p->w[k].pid > 0) {
      kill(p->w[k].pid, SIGKILL);
      p->w[k].killed = 1;
    }
  }
  p->hard_killed = 1;
}

/* Kills the workers whose request is past its due time (see task_due) and
 * returns how long until the next one is due, at most TICK_MS.
 */
static int check_hung(struct pool *p) {
  char bad[FB_MESSAGE_MAX / 2];
  int64_t now = fb_clock_ns(), next = TICK_MS;

  for (unsigned k = 0; k < p->nw; k++) {
    struct worker *w = &p->w[k];

    if (w->pid <= 0 || w->result_fd < 0 || w->done >= w->count || w->due == 0)
      continue;
    if (now >= w->due) {
      snprintf(bad, sizeof(bad),
               "stopped answering (no result %ld ms after its request's "
               "timeout)",
               (long)HANG_GRACE_MS);
      w->hung = 1;
      ended(p, w, bad);
      continue;
    }
    if ((w->due - now) / FB_NS_PER_MS + 1 < next)
      next = (w->due - now) / FB_NS_PER_MS + 1;
  }
  return (int)next;
}

static void loop(struct pool *p) {
  int64_t now;
  unsigned m;
  int timeout;
  int rc;

  while (p->alive > 0) {
    if (!p->stopping && fb_job_cancelled(p->job))
      begin_stop(p, FB_ECANCELED);
    timeout = p->stopping ? TICK_MS : check_hung(p);
    if (p->alive == 0)
      break;
    if (p->stopping && !p->hard_killed) {
      now = fb_clock_ns();
      if (now >= p->deadline) {
        kill_all(p);
      } else if ((p->deadline - now) / FB_NS_PER_MS < TICK_MS) {
        timeout = (int)((p->deadline - now) / FB_NS_PER_MS) + 1;
      }
    }
    m = 0;
    for (unsigned k = 0; k < p->nw; k++) {
      if (p->w[k].result_fd < 0)
        continue;
      p->pfd[m].fd = p->w[k].result_fd;
      p->pfd[m].events = POLLIN;
      p->pfd[m].revents = 0;
      p->pfd_worker[m++] = k;
    }
    rc = poll(p->pfd, m, timeout);
    if (rc < 0 && errno != EINTR)
      poll(NULL, 0, 1); /* cannot happen with valid fds; do not spin */
    for (unsigned k = 0; rc > 0 && k < m; k++)
      if (p->pfd[k].revents != 0)
        drain(p, &p->w[p->pfd_worker[k]]);
  }
}

/* nw forks of this parent in a row, each child leaving at once, as the pool
 * forks its workers: the time of one, for the bench to set the workers'
 * start beside (stats bare_fork_ns). Timed in the parent, to the last
 * fork's return, like the workers' start.
 */
static int64_t bare_forks(unsigned nw) {
  pid_t *pids = calloc(nw, sizeof(*pids));
  unsigned forked = 0;
  int64_t t0, t;

  if (pids == NULL)
    return 0;
  t0 = fb_clock_ns();
  for (unsigned k = 0; k < nw; k++) {
    pid_t pid = fork();

    if (pid == 0)
      _exit(0);
    if (pid > 0)
      pids[forked++] = pid;
  }
  t = fb_clock_ns() - t0;
  for (unsigned k = 0; k < forked; k++)
    while (waitpid(pids[k], NULL, 0) < 0 && errno == EINTR)
      ;
  free(pids);
  return forked > 0 ? t / forked : 0;
}

static int run(const struct fb_job *job, struct fb_collector *c) {
  char why[FB_MESSAGE_MAX] = "";
  struct pool pool;
  struct pool *p = &pool;
  sigset_t pipe_set;
  int64_t t;
  int err = 0;

  memset(p, 0, sizeof(*p));
  p->job = job;
  p->c = c;
  p->stats = fb_collector_stats(c);
  p->n = fb_urlset_count(job->urls);
  p->chunk = job->chunk > 0 ? job->chunk : 1;
  p->stats->chunk = (unsigned)p->chunk;
  p->parent = getpid();
  p->nw = job->workers;
  if (p->nw < 1 || p->nw > PROCESSES_MAX || p->n > UINT32_MAX) {
    err = FB_ERANGE;
    goto out;
  }
  p->w = calloc(p->nw, sizeof(*p->w));
  p->pfd = calloc(p->nw, sizeof(*p->pfd));
  p->pfd_worker = calloc(p->nw, sizeof(*p->pfd_worker));
  if (p->w == NULL || p->pfd == NULL || p->pfd_worker == NULL) {
    err = -ENOMEM;
    goto out;
  }
  for (unsigned k = 0; k < p->nw; k++) {
    p->w[k].id = k;
    p->w[k].task_fd = p->w[k].result_fd = -1;
  }
  if (fb_job_cancelled(job)) {
    err = FB_ECANCELED;
    goto out;
  }
  /* A worker takes two pipes to start (four descriptors, two of which the
   * parent keeps), and its own socket once forked.
   */
  err = fb__engine_check_fds("processes", 4, 2 * p->nw + 2, why, sizeof(why));
  if (err != 0)
    goto out;
  /* A worker that dies makes writes to its task pipe fail: with SIGPIPE
   * blocked in this thread that is EPIPE, never the process's death.
   */
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &p->oldmask);

  t = fb_clock_ns();
  /* Only the parent sees the cancel flag change; it stops the workers. */
  p->child_job = *job;
  p->child_job.cancel = NULL;
  err = fb__fetch_init(&p->tmpl, &p->child_job, fb_collector_t0(c), 0, NULL);
  if (err != 0) {
    snprintf(why, sizeof(why), "%.*s", (int)sizeof(why) - 1, p->tmpl.errbuf);
    pthread_sigmask(SIG_SETMASK, &p->oldmask, NULL);
    goto out;
  }
  p->tmpl_ready = 1;
  /* Every worker first, then the work: a worker handed its task as soon
   * as it is forked would run its first request on the client's core while
   * the pool is still being forked, and each fork would wait for it (16
   * workers took three times as long as 16 bare forks of this parent).
   * Handing out the tasks still wakes each worker, which may take the core
   * for its first request before the next is handed out: that is inside
   * setup_ns, and holding all of them back until the last was handed out
   * made the whole run slower (4-5 ms of 420 at 16 workers).
   */
  for (unsigned k = 0; k < p->nw && err == 0; k++)
    err = spawn(p, &p->w[k]);
  for (unsigned k = 0; k < p->nw; k++)
    if (p->w[k].pid > 0)
      dispatch(p, &p->w[k]);
  p->stats->setup_ns = fb_clock_ns() - t;
  if (p->alive < p->nw)
    p->stats->workers_err = err;
  /* Fewer workers than asked still finish the job; none is an error. */
  if (p->alive > 0)
    err = 0;
  else if (err == -EMFILE || err == -ENFILE)
    err = fb__engine_nofile("processes", 4, 2 * p->nw + 2, why, sizeof(why));
  if (err == 0)
    loop(p);
  pthread_sigmask(SIG_SETMASK, &p->oldmask, NULL);

  if (err == 0)
    err = p->stopping;
  /* Everyone died and could not be replaced. */
  if (err == 0 && fb_collector_filled(c) < p->n)
    err = p->spawn_err != 0 ? p->spawn_err : FB_EWORKERS;

  /* Forks of this very parent, its heap as the workers saw it: the floor
   * of a worker's start, for the bench. */
  if (job->measure_fork)
    p->stats->bare_fork_ns = bare_forks(p->nw);

out:
  if (p->tmpl_ready)
    fb__fetch_cleanup(&p->tmpl);
  if (err != 0 && err != FB_ENOFILE && why[0] == '\0')
    snprintf(why, sizeof(why), "%s%s", fb_strerror(err),
             err == -EMFILE || err == -ENFILE ? " (open-files limit)" : "");
  err = fb__engine_finish(job, c, err, why);
  free(p->w);
  free(p->pfd);
  free(p->pfd_worker);
  free(p->back);
  return err;
}

const struct fb_engine fb_engine_processes = {
    .name = "processes",
    .summary = "a pre-forked pool of processes fed through pipes",
    .max_workers = PROCESSES_MAX,
    .run = run,
};
