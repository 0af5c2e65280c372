/* SPDX-License-Identifier: MIT */
/* spawn: runs a peer for the bench harness and reports what it cost.
 *
 *   spawn [-c CPU] -o FILE -- PROG [ARG]...
 *
 * Forks, pins the child to CPU (-c), executes PROG, waits for it with wait4
 * and writes one line to FILE:
 *
 *   wall_s user_s sys_s max_rss_kib status
 *
 * status as a shell has it (128 + the signal for a killed child); spawn exits
 * with it too. Why a program of its own: Linux carries a process's peak RSS
 * across exec (ru_maxrss keeps the old image's high-water mark), so a peer
 * forked from the Python harness reports at least the harness's RSS. Forked
 * from this small process, it reports its own.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(const struct timeval *tv) {
  return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void) {
  fprintf(stderr, "usage: spawn [-c CPU] -o FILE -- PROG [ARG]...\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *out = NULL;
  struct rusage ru;
  FILE *f;
  double t0, wall;
  pid_t pid;
  int cpu = -1;
  int status, code, opt;

  while ((opt = getopt(argc, argv, "+c:o:")) != -1) {
    if (opt == 'c')
      cpu = atoi(optarg);
    else if (opt == 'o')
      out = optarg;
    else
      return usage();
  }
  if (out == NULL || optind >= argc)
    return usage();
  if (cpu >= 0) {
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      fprintf(stderr, "spawn: cannot pin to CPU %d: %s\n", cpu,
              strerror(errno));
      return 2;
    }
  }
  /* The harness times out a peer by killing its process group: this one,
   * and the peer with it. */
  t0 = now_s();
  pid = fork();
  if (pid < 0) {
    fprintf(stderr, "spawn: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    execvp(argv[optind], argv + optind);
    fprintf(stderr, "spawn: %s: %s\n", argv[optind], strerror(errno));
    _exit(127);
  }
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "spawn: wait4: %s\n", strerror(errno));
      return 2;
    }
  }
  wall = now_s() - t0;
  code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  f = fopen(out, "w");
  if (f == NULL ||
      fprintf(f, "%.9f %.6f %.6f %ld %d\n", wall, seconds(&ru.ru_utime),
              seconds(&ru.ru_stime), ru.ru_maxrss, code) < 0 ||
      fclose(f) != 0) {
    fprintf(stderr, "spawn: %s: %s\n", out, strerror(errno));
    return 2;
  }
  return code;
}
