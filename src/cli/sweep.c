/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fetchbench/compare.h"
#include "sweep.h"

/* What a cell's child sends back: this head, then the run's histograms
 * when it has them (about 117 KiB, far above PIPE_BUF, so the write is not
 * atomic). len counts every byte sent, head included: the parent reads
 * until it has len bytes, and a stream that ends short means the child died
 * before it finished.
 */
struct cell_head {
  uint64_t len;
  int32_t rc;
  int32_t has_hists;
  struct fb_summary s;
};

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;

  while (len > 0) {
    ssize_t n = write(fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    p += n;
    len -= (size_t)n;
  }
}

/* The child: measures the cell and reports. It never returns. */
static void child_main(const struct fb_sweep *sw, const struct fb_engine *e,
                       const struct fb_compare_cell *cell, int fd,
                       pid_t parent) {
  struct fb_job job = *sw->job;
  struct fb_schedule *schedule = NULL;
  struct fb_collector *c = NULL;
  struct fb_summary_hists *h = NULL;
  struct cell_head head;

  fb__signals_child();
  /* Die with the sweep: a killed parent must not leave cells running. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(1);
  memset(&head, 0, sizeof(head));
  job.workers = cell->workers;
  /* Open loop: the cell's rate, made here, outside the measured run. */
  if (cell->rate > 0) {
    head.rc =
        fb_schedule_create(&schedule, fb_urlset_count(job.urls), cell->rate,
                           (enum fb_arrival)sw->arrival, sw->seed);
    job.schedule = schedule;
  }
  if (head.rc == 0)
    head.rc = fb_run_measure(e, &job, sw->delay_ms, &head.s, &c);
  /* Without memory for the histograms the run still reports its summary. */
  if (c != NULL && (h = malloc(sizeof(*h))) != NULL) {
    fb_summary_hists(h, c);
    head.has_hists = 1;
  }
  head.s.hists = NULL;
  head.len = sizeof(head) + (head.has_hists ? sizeof(*h) : 0);
  write_all(fd, &head, sizeof(head));
  if (head.has_hists)
    write_all(fd, h, sizeof(*h));
  _exit(0);
}

static void describe_status(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status))
    snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
             strsignal(WTERMSIG(status)),
             WCOREDUMP(status) ? ", core dumped" : "");
  else if (WIFEXITED(status))
    snprintf(buf, len, "exited with status %d before reporting",
             WEXITSTATUS(status));
  else
    snprintf(buf, len, "ended with wait status %#x", status);
}

/* Reads the child's message into buf (room for size bytes) until it has
 * the length its head announces, EOF, the deadline or a cancel. Returns the
 * bytes read.
 */
static size_t read_msg(int fd, char *buf, size_t size, int64_t deadline,
                       pid_t pid, int *timed_out) {
  size_t got = 0, want = size;
  int64_t grace = -1;

  for (;;) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int64_t now = fb_clock_ns(), end = deadline;
    int ms, n;

    if (fb__cli_cancel && grace < 0)
      /* The signal was forwarded; give the cell a moment to report. */
      grace = now + 5 * FB_NS_PER_S;
    if (grace >= 0 && (end < 0 || grace < end))
      end = grace;
    ms = end < 0 ? -1 : (int)((end - now) / FB_NS_PER_MS);
    if (end >= 0 && ms <= 0) {
      kill(pid, SIGKILL);
      *timed_out = grace < 0 || end != grace;
      return got;
    }
    n = poll(&pfd, 1, ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return got;
    if (n == 0)
      continue;
    ssize_t r = read(fd, buf + got, want - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return got;
    got += (size_t)r;
    /* The head says how much follows; a length out of range is a broken
     * message, read no further.
     */
    if (want == size && got >= sizeof(uint64_t)) {
      uint64_t len;

      memcpy(&len, buf, sizeof(len));
      if (len < sizeof(struct cell_head) || len > size)
        return got;
      want = (size_t)len;
    }
    if (got >= want)
      return got;
  }
}

int fb__sweep_cell(const struct fb_sweep *sw, struct fb_compare *cmp,
                   size_t i) {
  struct fb_compare_cell *cell = &cmp->cells[i];
  const struct fb_engine *e = fb_engine_find(cell->engine);
  size_t size = sizeof(struct cell_head) + sizeof(struct fb_summary_hists);
  struct cell_head head;
  char *buf, note[160] = "";
  int fds[2], status = 0, timed_out = 0;
  pid_t pid, parent = getpid();
  size_t got;
  int64_t deadline = -1;

  if (e == NULL)
    return FB_EUSAGE;
  buf = malloc(size);
  if (buf == NULL)
    return -ENOMEM;
  if (pipe2(fds, O_CLOEXEC) != 0) {
    free(buf);
    return -errno;
  }
  /* Nothing buffered may be written twice by the child. */
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) {
    int err = -errno;
    close(fds[0]);
    close(fds[1]);
    free(buf);
    return err;
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(sw, e, cell, fds[1], parent);
  }
  close(fds[1]);
  fb__signals_forward(pid);
  if (sw->cell_timeout_s > 0)
    deadline = fb_clock_ns() + (int64_t)sw->cell_timeout_s * FB_NS_PER_S;
  got = read_msg(fds[0], buf, size, deadline, pid, &timed_out);
  close(fds[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  fb__signals_forward(0);

  memcpy(&head, buf, got < sizeof(head) ? got : sizeof(head));
  if (got >= sizeof(head) && got == head.len &&
      head.len == sizeof(head) +
                      (head.has_hists ? sizeof(struct fb_summary_hists) : 0)) {
    int rc = 0;

    if (head.rc == FB_ECANCELED || fb__cli_cancel) {
      free(buf);
      return FB_ECANCELED; /* a partial run is not a measurement */
    }
    head.s.engine = e->name; /* the child's pointer, same binary */
    head.s.hists = NULL;
    if (head.rc != 0)
      snprintf(note, sizeof(note), "%s", fb_strerror(head.rc));
    rc = fb_compare_add(cmp, i, &head.s, head.rc, note);
    if (rc == 0 && head.has_hists)
      rc = fb_compare_add_hists(
          cmp, i, (const struct fb_summary_hists *)(buf + sizeof(head)));
    free(buf);
    return rc;
  }
  free(buf);
  if (fb__cli_cancel)
    return FB_ECANCELED;
  if (timed_out)
    snprintf(note, sizeof(note), "killed after %u s (--cell-timeout)",
             sw->cell_timeout_s);
  else
    describe_status(status, note, sizeof(note));
  fb_compare_fail(cmp, i, FB_EWORKERS, note);
  return 0;
}

void fb__sweep_progress(const struct fb_sweep *sw, const struct fb_compare *cmp,
                        size_t k, size_t total, unsigned repeat, size_t cell,
                        int64_t t0) {
  double elapsed = (double)(fb_clock_ns() - t0) / FB_NS_PER_S;
  const struct fb_compare_cell *c = &cmp->cells[cell];

  if (!sw->progress)
    return;
  if (cmp->precision > 0) {
    /* Until the cells are precise: no total to count down from. */
    fprintf(stderr,
            "%scompare: run %zu (at most %zu): %s, %u worker%s, run %u of "
            "%u to %u",
            sw->tty ? "\r\033[K" : "", k + 1, total, c->engine, c->workers,
            c->workers == 1 ? "" : "s", c->runs + c->failed + 1,
            cmp->min_repeats, cmp->repeats);
  } else {
    fprintf(stderr,
            "%scompare: run %zu of %zu: %s, %u worker%s, repeat %u of %u",
            sw->tty ? "\r\033[K" : "", k + 1, total, c->engine, c->workers,
            c->workers == 1 ? "" : "s", repeat + 1, cmp->repeats);
    if (k > 0)
      fprintf(stderr, ", ETA %.0f s",
              elapsed / (double)k * (double)(total - k));
  }
  fprintf(stderr, "%s", sw->tty ? "" : "\n");
  fflush(stderr);
}

void fb__sweep_progress_end(const struct fb_sweep *sw) {
  if (sw->progress && sw->tty) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
}

void fb__sweep_header(char *buf, size_t len, const struct fb_compare *cmp) {
  const struct fb_compare_context *x = &cmp->ctx;
  char repeats[96], elapsed[32] = "";

  if (cmp->precision > 0)
    snprintf(repeats, sizeof(repeats),
             "until within +-%g %%, %u to %u per cell", cmp->precision * 100,
             cmp->min_repeats, cmp->repeats);
  else
    snprintf(repeats, sizeof(repeats), "%u per cell", cmp->repeats);
  /* A bench suite's rows come from several runs of several programs. */
  if (!isnan(cmp->elapsed_s))
    snprintf(elapsed, sizeof(elapsed), " in %.1f s", cmp->elapsed_s);
  snprintf(buf, len,
           "# fetchbench compare: %s\n# %s connections; %zu cells, %zu runs "
           "(%s)%s%s; machine: %s\n",
           x->workload != NULL ? x->workload : "(workload not saved)",
           x->connection != NULL ? x->connection : "?", cmp->ncells,
           cmp->runs_done, repeats, elapsed,
           cmp->cancelled ? " (cancelled)" : "",
           x->machine != NULL ? x->machine : "(not saved)");
}
