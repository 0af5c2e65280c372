/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engines/polltab.h"

void fb__polltab_init(struct fb__polltab *t, uv_loop_t *loop) {
  memset(t, 0, sizeof(*t));
  t->loop = loop;
}

static int grow(struct fb__polltab *t, size_t need) {
  size_t size = t->size > 0 ? t->size : 64;
  struct fb__poll **slots;

  while (size < need)
    size *= 2;
  slots = realloc(t->slots, size * sizeof(*slots));
  if (slots == NULL)
    return -ENOMEM;
  memset(slots + t->size, 0, (size - t->size) * sizeof(*slots));
  t->slots = slots;
  t->size = size;
  return 0;
}

int fb__polltab_get(struct fb__polltab *t, int fd, struct fb__poll **out) {
  struct fb__poll *p;
  int err;

  *out = NULL;
  if (fd < 0)
    return -EBADF;
  if ((size_t)fd >= t->size) {
    err = grow(t, (size_t)fd + 1);
    if (err != 0)
      return err;
  }
  p = t->slots[fd];
  if (p == NULL) {
    /* Slots are allocated one by one: libuv keeps pointers to the handles,
     * so they must never move when the table grows.
     */
    p = calloc(1, sizeof(*p));
    if (p == NULL)
      return -ENOMEM;
    err = uv_poll_init(t->loop, &p->handle, fd);
    if (err != 0) {
      free(p);
      return err;
    }
    p->handle.data = t;
    p->fd = fd;
    t->slots[fd] = p;
    t->inits++;
  }
  *out = p;
  return 0;
}

struct fb__poll *fb__polltab_find(const struct fb__polltab *t, int fd) {
  if (fd < 0 || (size_t)fd >= t->size)
    return NULL;
  return t->slots[fd];
}

int fb__poll_set(struct fb__polltab *t, struct fb__poll *p, int events,
                 uv_poll_cb cb) {
  int err;

  if (events == 0) {
    fb__poll_stop(t, p);
    return 0;
  }
  if (p->active == events)
    return 0;
  err = uv_poll_start(&p->handle, events, cb);
  if (err != 0)
    return err;
  p->active = events;
  t->starts++;
  return 0;
}

void fb__poll_stop(struct fb__polltab *t, struct fb__poll *p) {
  if (p->active == 0)
    return;
  /* uv_poll_stop always returns 0; it also drops the fd from epoll at once,
   * before libcurl gets the chance to close it.
   */
  (void)uv_poll_stop(&p->handle);
  p->active = 0;
  t->stops++;
}

void fb__poll_stopped(struct fb__poll *p) {
  p->active = 0;
}

static void on_close(uv_handle_t *h) {
  struct fb__polltab *t = h->data;
  struct fb__poll *p = (struct fb__poll *)h;

  t->closing--;
  free(p);
}

void fb__polltab_close(struct fb__polltab *t) {
  for (size_t fd = 0; fd < t->size; fd++) {
    struct fb__poll *p = t->slots[fd];

    if (p == NULL)
      continue;
    t->slots[fd] = NULL;
    t->closing++;
    uv_close((uv_handle_t *)&p->handle, on_close);
  }
}

size_t fb__polltab_closing(const struct fb__polltab *t) {
  return t->closing;
}

void fb__polltab_free(struct fb__polltab *t) {
  free(t->slots);
  t->slots = NULL;
  t->size = 0;
}
