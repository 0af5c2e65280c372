/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_CORPUS_H
#define FETCHBENCH_CORPUS_H

#include <stddef.h>
#include <stdint.h>

/* The pages an origin serves, held in memory: either a directory tree read
 * at start-up (the Django documentation by default) or a deterministic
 * synthetic corpus with the Django documentation's size distribution.
 */
struct fb_corpus;

struct fb_page {
  const char *path; /* "intro/tutorial01.html": no leading '/' */
  const unsigned char *body;
  size_t len;
  const char *content_type; /* static, from the file name's extension */
  uint64_t xxh3;            /* XXH3-64 of body */
};

/* Pages of the original experiment, present in both corpora. */
#define FB_SEED_PAGE_COUNT 10
extern const char *const fb_seed_pages[FB_SEED_PAGE_COUNT];

/* Number of pages in the synthetic corpus, as in the Django docs. */
#define FB_SYNTHETIC_PAGES 692

/* Loads every regular file below dir (symbolic links are not followed out of
 * it). Returns 0, -errno (err names the path) or FB_ECORPUS (no files).
 */
int fb_corpus_load(struct fb_corpus **out, const char *dir, char *err,
                   size_t errlen);

/* Builds the synthetic corpus: FB_SYNTHETIC_PAGES HTML pages, the seed pages
 * among them, sizes drawn from the Django docs' distribution (median about
 * 16 KB, mean about 42 KB, largest about 590 KB). The same seed gives the
 * same bytes on every machine. Returns 0 or -ENOMEM.
 */
int fb_corpus_synthetic(struct fb_corpus **out, uint64_t seed);

/* Opens what a user means by name: NULL or "" for the default (the Django
 * docs when installed, else synthetic), "django" (the docs, or an error
 * naming the package), "synthetic" (seed 1, as the origin's default), or a
 * directory.
 */
int fb_corpus_open(struct fb_corpus **out, const char *name, char *err,
                   size_t errlen);

/* The Django docs directory when it exists (a static string), else NULL. */
const char *fb_corpus_default_dir(void);

void fb_corpus_destroy(struct fb_corpus *c);

/* "synthetic" or the directory it was loaded from (borrowed). */
const char *fb_corpus_name(const struct fb_corpus *c);

size_t fb_corpus_count(const struct fb_corpus *c);

/* Page i (i < count), sorted by path; borrowed until destroy. */
const struct fb_page *fb_corpus_page(const struct fb_corpus *c, size_t i);

/* The page at path (no leading '/'), or NULL. */
const struct fb_page *fb_corpus_find(const struct fb_corpus *c,
                                     const char *path, size_t len);

#endif /* FETCHBENCH_CORPUS_H */
