/* SPDX-License-Identifier: MIT */
#ifndef FB_ENGINES_POLLTAB_H
#define FB_ENGINES_POLLTAB_H

/* An fd-indexed table of uv_poll_t handles for the sockets libcurl hands to
 * an event loop (the async engine's CURLMOPT_SOCKETFUNCTION).
 *
 * A slot is created the first time an fd number shows up and then serves
 * every socket that gets that number, until fb__polltab_close: a stopped
 * uv_poll_t holds nothing in the kernel but remembers its fd number, so
 * initialising a new one per connection would only cost an ioctl and two
 * epoll_ctl calls (libuv's pollability probe). So there are never two polls
 * on one fd, and a poll is only ever stopped, never closed, while libcurl
 * may still use or close its fd.
 */

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct fb__poll {
  uv_poll_t handle; /* handle.data points to the table */
  int fd;
  int want;    /* UV_READABLE | UV_WRITABLE the owner asked for, 0: none */
  int active;  /* events libuv polls for now, 0: stopped */
  int tracked; /* the owner's: it will hear before the fd is closed */
  void *owner; /* the owner's: who asked for the events (the table's user
                * sets it; the table never reads it) */
};

struct fb__polltab {
  uv_loop_t *loop;
  struct fb__poll **slots; /* indexed by fd; NULL: never seen */
  size_t size;
  size_t closing; /* close callbacks still to run */
  uint64_t inits; /* uv_poll_init calls */
  uint64_t starts;
  uint64_t stops;
};

/* Prepares an empty table for loop. Cannot fail. */
void fb__polltab_init(struct fb__polltab *t, uv_loop_t *loop);

/* The slot for fd in *out, created and uv_poll_init'ed on first use.
 * Returns 0, -ENOMEM, or libuv's error for uv_poll_init.
 */
int fb__polltab_get(struct fb__polltab *t, int fd, struct fb__poll **out);

/* The slot for fd, or NULL when fd was never seen. */
struct fb__poll *fb__polltab_find(const struct fb__polltab *t, int fd);

/* Polls p for events (UV_READABLE | UV_WRITABLE) with cb; 0 events stops it.
 * Does nothing when p already polls exactly events. Returns 0 or libuv's
 * error.
 */
int fb__poll_set(struct fb__polltab *t, struct fb__poll *p, int events,
                 uv_poll_cb cb);

/* Stops polling p; its fd may be closed afterwards. */
void fb__poll_stop(struct fb__polltab *t, struct fb__poll *p);

/* Records that libuv stopped p by itself (it does so before reporting an
 * error to the poll callback).
 */
void fb__poll_stopped(struct fb__poll *p);

/* Closes every handle. Run the loop afterwards until fb__polltab_closing
 * returns 0; the close callbacks free the slots.
 */
void fb__polltab_close(struct fb__polltab *t);

/* Close callbacks still outstanding. */
size_t fb__polltab_closing(const struct fb__polltab *t);

/* Frees the table itself. Call it once the close callbacks have run (slots
 * still open are leaked rather than freed under libuv's feet).
 */
void fb__polltab_free(struct fb__polltab *t);

#endif /* FB_ENGINES_POLLTAB_H */
