#ifndef FETCHBENCH_MACHINE_H
#define FETCHBENCH_MACHINE_H

#include <stddef.h>

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

#endif /* FETCHBENCH_MACHINE_H */
