/* SPDX-License-Identifier: MIT */
#ifndef FB_ORIGIN_CORPUS_INT_H
#define FB_ORIGIN_CORPUS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fetchbench/corpus.h"

/* A corpus owns its page array, every path string, and the bodies: either
 * one allocation per page (a directory) or one arena for all of them
 * (synthetic), so destroy knows what to free.
 */
struct fb_corpus {
  char *name;
  struct fb_page *pages;
  size_t count;
  size_t cap;
  unsigned char *arena; /* bodies live here when non-NULL */
  size_t arena_len;
  int fd;          /* a memfd mapped at arena, or -1 (malloc'd arena) */
  uint32_t *slots; /* open addressing: page index + 1, 0 is empty */
  size_t mask;
};

/* An empty corpus called name (copied). Returns NULL when out of memory. */
struct fb_corpus *fb__corpus_new(const char *name);

/* Appends a page; takes ownership of path (malloc'd) and, when the corpus has
 * no arena, of body. Returns 0 or -ENOMEM (ownership taken either way).
 */
int fb__corpus_add(struct fb_corpus *c, char *path, unsigned char *body,
                   size_t len);

/* Gives c an arena of len bytes for its bodies: a memfd mapping (so pages
 * can go out with sendfile), else plain memory. Returns it, or NULL.
 */
unsigned char *fb__corpus_arena(struct fb_corpus *c, size_t len);

/* Sorts the pages by path, moves their bodies into an arena when they are
 * not in one yet, fills content types and checksums, builds the lookup
 * table. Returns 0, -ENOMEM, or FB_ECORPUS (duplicate path, empty).
 */
int fb__corpus_finish(struct fb_corpus *c);

/* The file holding page p's body and its offset there, or -1 when the
 * corpus is not file-backed.
 */
int fb__corpus_file(const struct fb_corpus *c, const struct fb_page *p,
                    int64_t *off);

/* The static Content-Type for a path, by its extension. */
const char *fb__content_type(const char *path);

/* Opens a corpus as fb_corpus_open does, building a synthetic one from seed. */
int fb__corpus_open(struct fb_corpus **out, const char *name, uint64_t seed,
                    char *err, size_t errlen);

/* The size of the seed page called path in the Django docs, or 0. */
size_t fb__seed_page_size(const char *path);

#endif /* FB_ORIGIN_CORPUS_INT_H */
