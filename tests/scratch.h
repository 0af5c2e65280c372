/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_TESTS_SCRATCH_H
#define FETCHBENCH_TESTS_SCRATCH_H

#include <stddef.h>

/* A scratch directory for one test program, and files written into it;
 * scratch_write fails the running cmocka test on any error.
 */

/* Creates /tmp/fb-test-NAME-XXXXXX; returns 0 or -1. For a group setup. */
int scratch_create(const char *name);

/* The directory's path. */
const char *scratch_dir(void);

/* Removes the directory and what is in it; returns 0 or -1. */
int scratch_remove(void);

/* The path of the file `name` in the directory; it stays valid for the
 * next 15 calls of scratch_path or scratch_write.
 */
const char *scratch_path(const char *name);

/* Writes len bytes to the file `name` in the directory; returns its path
 * (as scratch_path).
 */
const char *scratch_write(const char *name, const void *data, size_t len);

#endif /* FETCHBENCH_TESTS_SCRATCH_H */
