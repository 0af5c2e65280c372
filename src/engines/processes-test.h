#ifndef FB_ENGINES_PROCESSES_TEST_H
#define FB_ENGINES_PROCESSES_TEST_H

/* Test-only hooks of the processes engine, for faults a worker cannot
 * produce through the public job (a result record cut short, say). Not part
 * of the public API; normal runs leave them NULL.
 */

#include <stddef.h>

/* When set, a worker calls it instead of writing each result record (len
 * bytes at record, for URL index) to fd, its end of the result pipe. The hook
 * writes what it likes, then returns (the worker goes on) or _exits. Set it
 * before the run starts; workers inherit it through fork.
 */
extern void (*fb__processes_result_hook)(int fd, const void *record, size_t len,
                                         size_t index);

#endif /* FB_ENGINES_PROCESSES_TEST_H */
