/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fetchbench/clock.h"
#include "fetchbench/error.h"
#include "fetchbench/machine.h"
#include "fetchbench/origin.h"

/* Long enough for a corpus load under valgrind. */
#define REPORT_TIMEOUT_MS 30000
#define REAP_GRACE_MS 2000

static void report(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(int fd, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (n > 0 &&
      write(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
    return;
}

/* The child keeps nothing of the parent's but stderr: an inherited pipe end
 * would hide a worker's death from its parent, an inherited stdout would keep
 * a test harness waiting.
 */
static int detach_fds(int keep) {
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
    return -1;
  if (keep != 3 && dup2(keep, 3) < 0)
    return -1;
  if (close_range(4, ~0u, 0) != 0) {
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = 4; fd < max; fd++)
      close((int)fd);
  }
  return 3;
}

/* The child's server, for its signal handler. */
static struct fb_origin *child_origin;

static void child_on_signal(int sig) {
  (void)sig;
  /* uv_async_send is async-signal-safe. */
  fb_origin_stop(child_origin);
}

/* The child stops on SIGINT/SIGTERM through a plain handler rather than a
 * uv_signal: libuv's signal machinery rests on a process-wide pipe that
 * libuv re-creates at fork, which detach_fds would then close under it.
 */
static int child_handle_signals(void) {
  struct sigaction sa;
  sigset_t mask;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = child_on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
    return -errno;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  return -pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
}

static void child_main(int fd, const struct fb_origin_config *cfg,
                       pid_t parent) {
  struct fb_origin *o = NULL;
  char err[400] = "";
  sigset_t mask;
  int rc;

  /* Dies with the parent; if the parent is already gone, the signal will
   * never come, so check after asking.
   */
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
    _exit(3);
  /* A process group of its own: a Ctrl-C at the terminal is for the client,
   * which then stops the origin itself (fb_origin_reap).
   */
  setpgid(0, 0);
  /* SIGINT and SIGTERM wait, blocked, until fb_origin_run handles them. */
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_SETMASK, &mask, NULL);
  fd = detach_fds(fd);
  if (fd < 0)
    _exit(3);
  if (cfg->cpu >= 0) {
    rc = fb_pin_self(cfg->cpu);
    if (rc < 0) {
      report(fd, "error cannot pin the origin to CPU %d: %s", cfg->cpu,
             fb_strerror(rc));
      _exit(2);
    }
  }
  rc = fb_origin_create(&o, cfg, err, sizeof(err));
  if (rc < 0) {
    report(fd, "error %s", err[0] ? err : fb_strerror(rc));
    _exit(2);
  }
  child_origin = o;
  rc = child_handle_signals();
  if (rc < 0) {
    report(fd, "error cannot handle signals: %s", fb_strerror(rc));
    _exit(2);
  }
  report(fd, "ok %d\n", fb_origin_port(o));
  close(fd);
  rc = fb_origin_run(o, 0);
  fb_origin_destroy(o);
  _exit(rc == 0 ? 0 : 1);
}

static int wait_exit(pid_t pid, int timeout_ms, int *status) {
  int64_t deadline = fb_clock_ns() + (int64_t)timeout_ms * FB_NS_PER_MS;

  for (;;) {
    pid_t r = waitpid(pid, status, timeout_ms < 0 ? 0 : WNOHANG);
    if (r == pid)
      return 0;
    if (r < 0 && errno != EINTR)
      return -errno;
    if (timeout_ms >= 0 && fb_clock_ns() >= deadline)
      return -ETIMEDOUT;
    if (r == 0) {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
}

static void kill_child(pid_t pid) {
  int status;

  kill(pid, SIGKILL);
  wait_exit(pid, -1, &status);
}

/* Reads the child's one-line report: "ok PORT" or "error TEXT". */
static int read_report(int fd, char *buf, size_t len) {
  int64_t deadline = fb_clock_ns() + REPORT_TIMEOUT_MS * FB_NS_PER_MS;
  size_t got = 0;

  while (got + 1 < len) {
    int left = (int)((deadline - fb_clock_ns()) / FB_NS_PER_MS);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t n;
    int r;

    if (left <= 0)
      return -ETIMEDOUT;
    r = poll(&pfd, 1, left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      return -ETIMEDOUT;
    n = read(fd, buf + got, len - 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      break;
    got += (size_t)n;
    if (memchr(buf, '\n', got) != NULL)
      break;
  }
  buf[got] = '\0';
  return (int)got;
}

int fb_origin_spawn(struct fb_origin_proc *p,
                    const struct fb_origin_config *cfg, char *err,
                    size_t errlen) {
  pid_t parent = getpid(), pid;
  char msg[512];
  int fds[2], rc, port;

  memset(p, 0, sizeof(*p));
  p->pid = -1;
  if (pipe2(fds, O_CLOEXEC) != 0) {
    rc = -errno;
    snprintf(err, errlen, "origin: pipe: %s", fb_strerror(rc));
    return rc;
  }
  pid = fork();
  if (pid < 0) {
    rc = -errno;
    close(fds[0]);
    close(fds[1]);
    snprintf(err, errlen, "origin: fork: %s", fb_strerror(rc));
    return rc;
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(fds[1], cfg, parent);
  }
  setpgid(pid, pid); /* as the child does: whichever runs first wins */
  close(fds[1]);
  rc = read_report(fds[0], msg, sizeof(msg));
  close(fds[0]);
  if (rc > 0 && sscanf(msg, "ok %d", &port) == 1) {
    const char *host = cfg->host != NULL ? cfg->host : "127.0.0.1";
    int v6 = strchr(host, ':') != NULL;

    p->pid = pid;
    p->port = port;
    snprintf(p->base_url, sizeof(p->base_url), "%s://%s%s%s:%d",
             cfg->tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
             port);
    return 0;
  }
  kill_child(pid);
  if (rc == -ETIMEDOUT)
    snprintf(err, errlen, "origin: no report from the child within %d s",
             REPORT_TIMEOUT_MS / 1000);
  else if (rc > 0 && strncmp(msg, "error ", 6) == 0)
    snprintf(err, errlen, "%s", msg + 6);
  else
    snprintf(err, errlen, "origin: the child exited before listening");
  return FB_EORIGIN;
}

int fb_origin_reap(struct fb_origin_proc *p) {
  int status = 0, rc;

  if (p->pid <= 0)
    return 0;
  kill(p->pid, SIGTERM);
  rc = wait_exit(p->pid, REAP_GRACE_MS, &status);
  if (rc == -ETIMEDOUT) {
    kill_child(p->pid);
    p->pid = -1;
    return FB_EORIGIN;
  }
  p->pid = -1;
  if (rc < 0)
    return rc;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : FB_EORIGIN;
}
