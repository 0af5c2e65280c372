/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/clock.h"
#include "fetchbench/collector.h"
#include "fetchbench/error.h"

/* A slot's life: EMPTY, then claimed (WRITING) by exactly one compare-and-
 * swap, then FULL once its result is written. The claim is what makes a
 * double delivery detectable instead of torn: the loser of the swap never
 * touches the slot. FULL_SHARED marks a result whose message belongs to the
 * collector (fb_collector_fill), not to the slot.
 */
enum {
  SLOT_EMPTY,
  SLOT_WRITING,
  SLOT_FULL,
  SLOT_FULL_SHARED,
};

/* Messages fb_collector_fill copied once for many slots. */
struct shared_msg {
  struct shared_msg *next;
  char text[];
};

struct fb_collector {
  size_t n;
  struct fb_result *results;
  _Atomic unsigned char *state;
  atomic_size_t filled;
  atomic_size_t duplicates;
  atomic_size_t first_duplicate; /* SIZE_MAX until one is offered */
  int64_t t0;
  struct fb_engine_stats stats;
  struct shared_msg *shared;
};

int fb_collector_create(struct fb_collector **out, size_t n) {
  struct fb_collector *c;

  *out = NULL;
  /* Result indices are 32-bit (they cross pipes as fixed records). */
  if (n < 1 || n > UINT32_MAX)
    return FB_ERANGE;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return -ENOMEM;
  c->n = n;
  c->results = calloc(n, sizeof(*c->results));
  c->state = calloc(n, sizeof(*c->state));
  if (c->results == NULL || c->state == NULL) {
    fb_collector_destroy(c);
    return -ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    atomic_init(&c->state[i], SLOT_EMPTY);
  atomic_init(&c->filled, 0);
  atomic_init(&c->duplicates, 0);
  atomic_init(&c->first_duplicate, SIZE_MAX);
  c->t0 = fb_clock_ns();
  *out = c;
  return 0;
}

void fb_collector_destroy(struct fb_collector *c) {
  if (c == NULL)
    return;
  if (c->results != NULL && c->state != NULL) {
    for (size_t i = 0; i < c->n; i++)
      if (atomic_load_explicit(&c->state[i], memory_order_relaxed) == SLOT_FULL)
        free((char *)c->results[i].message);
  }
  while (c->shared != NULL) {
    struct shared_msg *next = c->shared->next;
    free(c->shared);
    c->shared = next;
  }
  free(c->results);
  free((void *)c->state);
  free(c);
}

void fb_collector_restart(struct fb_collector *c) {
  c->t0 = fb_clock_ns();
}

int64_t fb_collector_t0(const struct fb_collector *c) {
  return c->t0;
}

size_t fb_collector_size(const struct fb_collector *c) {
  return c->n;
}

static int claim(struct fb_collector *c, size_t i) {
  unsigned char expected = SLOT_EMPTY;

  return atomic_compare_exchange_strong_explicit(
      &c->state[i], &expected, SLOT_WRITING, memory_order_acquire,
      memory_order_relaxed);
}

int fb_collector_put(struct fb_collector *c, const struct fb_result *r) {
  size_t i = r->index;
  struct fb_result *slot;
  int rc = 0;

  if (i >= c->n)
    return FB_ERANGE;
  if (!claim(c, i)) {
    size_t none = SIZE_MAX;
    atomic_fetch_add_explicit(&c->duplicates, 1, memory_order_relaxed);
    atomic_compare_exchange_strong_explicit(&c->first_duplicate, &none, i,
                                            memory_order_relaxed,
                                            memory_order_relaxed);
    return FB_EDUPLICATE;
  }
  slot = &c->results[i];
  *slot = *r;
  slot->message = NULL;
  if (r->message != NULL && r->message[0] != '\0') {
    slot->message = strndup(r->message, FB_MESSAGE_MAX - 1);
    if (slot->message == NULL)
      rc = -ENOMEM;
  }
  atomic_fetch_add_explicit(&c->filled, 1, memory_order_relaxed);
  atomic_store_explicit(&c->state[i], SLOT_FULL, memory_order_release);
  return rc;
}

size_t fb_collector_fill(struct fb_collector *c, enum fb_outcome outcome,
                         const char *message) {
  const char *text = NULL;
  size_t filled = 0;

  if (message != NULL && message[0] != '\0') {
    size_t len = strnlen(message, FB_MESSAGE_MAX - 1);
    struct shared_msg *m = malloc(sizeof(*m) + len + 1);
    /* Without memory the slots are still filled, only without the text. */
    if (m != NULL) {
      memcpy(m->text, message, len);
      m->text[len] = '\0';
      m->next = c->shared;
      c->shared = m;
      text = m->text;
    }
  }
  for (size_t i = 0; i < c->n; i++) {
    struct fb_result *slot = &c->results[i];

    if (atomic_load_explicit(&c->state[i], memory_order_relaxed) !=
            SLOT_EMPTY ||
        !claim(c, i))
      continue;
    fb_result_init(slot);
    slot->index = (uint32_t)i;
    slot->outcome = (uint16_t)outcome;
    slot->message = text;
    atomic_fetch_add_explicit(&c->filled, 1, memory_order_relaxed);
    atomic_store_explicit(&c->state[i], SLOT_FULL_SHARED, memory_order_release);
    filled++;
  }
  return filled;
}

const struct fb_result *fb_collector_get(const struct fb_collector *c,
                                         size_t i) {
  unsigned char s;

  if (i >= c->n)
    return NULL;
  s = atomic_load_explicit(&c->state[i], memory_order_acquire);
  return s == SLOT_FULL || s == SLOT_FULL_SHARED ? &c->results[i] : NULL;
}

size_t fb_collector_filled(const struct fb_collector *c) {
  return atomic_load_explicit(&c->filled, memory_order_relaxed);
}

size_t fb_collector_missing(const struct fb_collector *c) {
  return c->n - fb_collector_filled(c);
}

size_t fb_collector_duplicates(const struct fb_collector *c) {
  return atomic_load_explicit(&c->duplicates, memory_order_relaxed);
}

int fb_collector_check(const struct fb_collector *c, size_t *first_bad) {
  if (fb_collector_missing(c) > 0) {
    for (size_t i = 0; i < c->n; i++) {
      if (fb_collector_get(c, i) == NULL) {
        if (first_bad != NULL)
          *first_bad = i;
        break;
      }
    }
    return FB_ELOST;
  }
  if (fb_collector_duplicates(c) > 0) {
    if (first_bad != NULL)
      *first_bad =
          atomic_load_explicit(&c->first_duplicate, memory_order_relaxed);
    return FB_EDUPLICATE;
  }
  return 0;
}

struct fb_engine_stats *fb_collector_stats(struct fb_collector *c) {
  return &c->stats;
}

const struct fb_engine_stats *
fb_collector_stats_const(const struct fb_collector *c) {
  return &c->stats;
}
