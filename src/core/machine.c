/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fetchbench/machine.h"

int fb_cpus_allowed(int *cpus, size_t n) {
  cpu_set_t set;
  size_t found = 0;

  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return -errno;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &set))
      continue;
    if (found < n)
      cpus[found] = cpu;
    found++;
  }
  return (int)found;
}

int fb_pin_self(int cpu) {
  cpu_set_t set;

  if (cpu < 0 || cpu >= CPU_SETSIZE)
    return -EINVAL;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    return -errno;
  return 0;
}

void fb_cpu_plan(int *client_cpu, int *origin_cpu) {
  int cpus[2];

  *client_cpu = -1;
  *origin_cpu = -1;
  /* The origin takes the last allowed core, the client the first; with one
   * core, pinning both to it would only hide that they share it.
   */
  if (fb_cpus_allowed(cpus, 2) >= 2) {
    *client_cpu = cpus[0];
    *origin_cpu = cpus[1];
  }
}

static void cpu_model(char *buf, size_t len) {
  char line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");

  snprintf(buf, len, "unknown CPU");
  if (f == NULL)
    return;
  while (fgets(line, sizeof(line), f) != NULL) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) != 0 || colon == NULL)
      continue;
    colon += strspn(colon + 1, " \t") + 1;
    colon[strcspn(colon, "\n")] = '\0';
    snprintf(buf, len, "%s", colon);
    break;
  }
  fclose(f);
}

char *fb_machine_describe(char *buf, size_t len) {
  char model[128];
  struct utsname u;
  int allowed = fb_cpus_allowed(NULL, 0);

  cpu_model(model, sizeof(model));
  if (uname(&u) != 0)
    snprintf(u.release, sizeof(u.release), "?");
  snprintf(buf, len, "%s, %ld cores online, %d allowed, Linux %s", model,
           sysconf(_SC_NPROCESSORS_ONLN), allowed, u.release);
  return buf;
}

/* The number of a "Key:   123 kB" line, or -1 when line is another key. */
static long status_kib(const char *line, const char *key) {
  size_t n = strlen(key);
  char *end;
  long v;

  if (strncmp(line, key, n) != 0)
    return -1;
  v = strtol(line + n, &end, 10);
  return end != line + n && v >= 0 && v != LONG_MAX ? v : -1;
}

int fb_proc_rss_kib(pid_t pid, long *rss_kib, long *peak_kib) {
  char path[64], line[256];
  long rss = -1, peak = -1;
  FILE *f;

  if (pid == 0)
    snprintf(path, sizeof(path), "/proc/self/status");
  else
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
  if (rss_kib != NULL)
    *rss_kib = -1;
  if (peak_kib != NULL)
    *peak_kib = -1;
  f = fopen(path, "re");
  if (f == NULL)
    return -errno;
  while (fgets(line, sizeof(line), f) != NULL && (rss < 0 || peak < 0)) {
    if (rss < 0)
      rss = status_kib(line, "VmRSS:");
    if (peak < 0)
      peak = status_kib(line, "VmHWM:");
  }
  fclose(f);
  if (rss_kib != NULL)
    *rss_kib = rss;
  if (peak_kib != NULL)
    *peak_kib = peak;
  if ((rss_kib != NULL && rss < 0) || (peak_kib != NULL && peak < 0))
    return -ENODATA;
  return 0;
}
