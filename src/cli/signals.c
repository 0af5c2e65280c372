/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

volatile sig_atomic_t fb__cli_cancel;

static volatile sig_atomic_t caught;
static volatile sig_atomic_t child_mode;
static volatile sig_atomic_t forward_pid;

static void on_signal(int sig) {
  int saved = errno;

  if (fb__cli_cancel && sig == SIGINT && !child_mode) {
    static const char msg[] = "\nfetchbench: interrupted again, exiting\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)n;
    _exit(FB_EXIT_SIGINT);
  }
  if (caught == 0)
    caught = sig;
  fb__cli_cancel = 1;
  if (!child_mode && forward_pid > 0)
    kill((pid_t)forward_pid, sig);
  errno = saved;
}

void fb__signals_ignore_pipe(void) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPIPE, &sa, NULL);
}

int fb__signals_install(void) {
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  /* No SA_RESTART: a parent blocked in read() or poll() must wake up. */
  sa.sa_flags = 0;
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
    return -errno;
  return 0;
}

void fb__signals_child(void) {
  child_mode = 1;
  forward_pid = 0;
}

void fb__signals_forward(pid_t pid) {
  forward_pid = (sig_atomic_t)pid;
}

int fb__signals_caught(void) {
  return caught;
}

int fb__signals_exit_status(void) {
  return caught == SIGTERM ? FB_EXIT_SIGTERM : FB_EXIT_SIGINT;
}
