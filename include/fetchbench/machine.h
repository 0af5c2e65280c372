/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_MACHINE_H
#define FETCHBENCH_MACHINE_H

#include <stddef.h>
#include <sys/types.h>

/* The CPUs this process may run on, in order, written to cpus (at most n).
 * Returns how many there are (which may exceed n), or -errno.
 */
int fb_cpus_allowed(int *cpus, size_t n);

/* Pins the calling process (all its future threads and children) to cpu.
 * Returns 0 or -errno.
 */
int fb_pin_self(int cpu);

/* Picks the cores for a benchmark: the origin gets one core and the client
 * another when at least two are allowed, else both -1 (no pinning).
 */
void fb_cpu_plan(int *client_cpu, int *origin_cpu);

/* Writes a one-line description of the machine (CPU model, cores, kernel)
 * into buf. Returns buf.
 */
char *fb_machine_describe(char *buf, size_t len);

/* The resident memory of process pid (0: this process), in KiB, from
 * /proc/PID/status: the current RSS (VmRSS) into *rss_kib and the peak
 * (VmHWM, which fb_usage_begin resets for this process) into *peak_kib;
 * either pointer may be NULL. Returns 0; -ENODATA when a figure asked for
 * is not there (a zombie or a kernel thread has none; it is then -1); or
 * -errno when the file cannot be read (-ENOENT: no such process), both
 * figures then -1.
 */
int fb_proc_rss_kib(pid_t pid, long *rss_kib, long *peak_kib);

#endif /* FETCHBENCH_MACHINE_H */
