/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "origin/corpus_int.h"

/* The size distribution of the 692 HTML pages of the Django documentation
 * (python-django-doc, Debian bookworm): quantiles in per mille and bytes.
 * Median 15,805 B, mean 41,937 B, largest 586,495 B. Sizes between two points
 * are interpolated on a log scale.
 */
static const struct {
  unsigned permille;
  unsigned bytes;
} quantiles[] = {
    {0, 4007},     {10, 5512},    {20, 5671},    {50, 5983},     {100, 6436},
    {150, 6920},   {200, 7382},   {250, 8072},   {300, 8957},    {350, 9955},
    {400, 11530},  {450, 13227},  {500, 15804},  {550, 19166},   {600, 24048},
    {650, 30190},  {700, 36373},  {750, 44988},  {800, 59241},   {850, 78098},
    {900, 103748}, {925, 124021}, {950, 167541}, {970, 230593},  {980, 247733},
    {990, 322129}, {995, 375048}, {998, 475346}, {1000, 586495},
};

#define NQUANTILES (sizeof(quantiles) / sizeof(quantiles[0]))

/* Pages whose size is taken from the real documentation, so the original
 * experiment fetches the same amount of bytes from either corpus.
 */
static const struct {
  const char *path;
  size_t bytes;
} pinned[] = {
    {"intro/tutorial01.html", 40955}, {"intro/tutorial02.html", 78912},
    {"intro/tutorial03.html", 58855}, {"intro/tutorial04.html", 46180},
    {"intro/tutorial05.html", 80582}, {"intro/tutorial06.html", 18354},
    {"intro/tutorial07.html", 46659}, {"topics/db/models.html", 175389},
    {"topics/http/urls.html", 93303}, {"ref/forms/api.html", 195210},
    {"genindex.html", 586495},        {"index.html", 30042},
};

#define NPINNED (sizeof(pinned) / sizeof(pinned[0]))

/* Sections of the documentation and how many pages each holds. */
static const struct {
  const char *dir;
  unsigned pages;
} sections[] = {
    {"_modules", 153}, {"faq", 9},   {"howto", 30},  {"internals", 21},
    {"misc", 4},       {"ref", 115}, {"topics", 65}, {"releases", 276},
};

static const char *const top_pages[] = {
    "contents.html", "genindex.html",    "glossary.html",
    "index.html",    "py-modindex.html", "search.html",
};

static const char *const intro_pages[] = {
    "intro/index.html",        "intro/tutorial01.html",
    "intro/tutorial02.html",   "intro/tutorial03.html",
    "intro/tutorial04.html",   "intro/tutorial05.html",
    "intro/tutorial06.html",   "intro/tutorial07.html",
    "intro/overview.html",     "intro/install.html",
    "intro/contributing.html", "intro/reusable-apps.html",
    "intro/whatsnext.html",
};

/* Named pages inside the generic sections (besides index.html). */
static const char *const named_pages[] = {
    "topics/db/models.html",
    "topics/http/urls.html",
    "ref/forms/api.html",
};

static const char *const words[64] = {
    "the",        "model",    "view",     "query",    "field",   "form",
    "template",   "request",  "response", "database", "a",       "of",
    "to",         "and",      "in",       "is",       "for",     "with",
    "Django",     "URL",      "object",   "method",   "class",   "instance",
    "attribute",  "default",  "value",    "argument", "return",  "settings",
    "middleware", "session",  "user",     "admin",    "app",     "migration",
    "manager",    "queryset", "filter",   "save",     "create",  "delete",
    "update",     "context",  "render",   "path",     "include", "namespace",
    "test",       "client",   "cache",    "signal",   "backend", "storage",
    "static",     "file",     "you",      "can",      "this",    "that",
    "when",       "each",     "new",      "our",
};

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* A uniform double in [0, 1). */
static double uniform(uint64_t *state) {
  return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

size_t fb__seed_page_size(const char *path) {
  for (size_t i = 0; i < NPINNED; i++)
    if (strcmp(pinned[i].path, path) == 0)
      return pinned[i].bytes;
  return 0;
}

/* The size at quantile u in [0, 1]. */
static size_t quantile_size(double u) {
  double x = u * 1000.0;

  for (size_t k = 0; k + 1 < NQUANTILES; k++) {
    double p0 = quantiles[k].permille, p1 = quantiles[k + 1].permille;
    double l0 = log(quantiles[k].bytes), l1 = log(quantiles[k + 1].bytes);
    if (x <= p1)
      return (size_t)llround(exp(l0 + (l1 - l0) * (x - p0) / (p1 - p0)));
  }
  return quantiles[NQUANTILES - 1].bytes;
}

static int add_path(char **paths, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int add_path(char **paths, size_t *n, const char *fmt, ...) {
  va_list ap;
  int len;

  va_start(ap, fmt);
  len = vasprintf(&paths[*n], fmt, ap);
  va_end(ap);
  if (len < 0) {
    paths[*n] = NULL;
    return -ENOMEM;
  }
  (*n)++;
  return 0;
}

/* The 692 paths: the same on every machine, whatever the seed. */
static int make_paths(char **paths) {
  size_t n = 0;
  int rc = 0;

  for (size_t i = 0; rc == 0 && i < sizeof(top_pages) / sizeof(*top_pages); i++)
    rc = add_path(paths, &n, "%s", top_pages[i]);
  for (size_t i = 0; rc == 0 && i < sizeof(intro_pages) / sizeof(*intro_pages);
       i++)
    rc = add_path(paths, &n, "%s", intro_pages[i]);
  for (size_t s = 0; rc == 0 && s < sizeof(sections) / sizeof(*sections); s++) {
    const char *dir = sections[s].dir;
    unsigned left = sections[s].pages;

    if (strcmp(dir, "releases") == 0) {
      for (unsigned k = 0; rc == 0 && k < left; k++)
        rc = add_path(paths, &n, "releases/%u.%u.%u.html", 1 + k / 100,
                      k / 10 % 10, k % 10);
      continue;
    }
    if (strcmp(dir, "_modules") == 0) {
      for (unsigned k = 0; rc == 0 && k < left; k++)
        rc = add_path(paths, &n, "_modules/django/module-%03u.html", k);
      continue;
    }
    rc = add_path(paths, &n, "%s/index.html", dir);
    left--;
    for (size_t i = 0;
         rc == 0 && i < sizeof(named_pages) / sizeof(*named_pages); i++) {
      size_t dl = strlen(dir);
      if (strncmp(named_pages[i], dir, dl) == 0 && named_pages[i][dl] == '/') {
        rc = add_path(paths, &n, "%s", named_pages[i]);
        left--;
      }
    }
    for (unsigned k = 0; rc == 0 && k < left; k++)
      rc = add_path(paths, &n, "%s/page-%03u.html", dir, k);
  }
  if (rc == 0 && n != FB_SYNTHETIC_PAGES)
    rc = -EINVAL;
  return rc;
}

/* Stratified draws: one size from each of the 692 equal slices of the
 * distribution, so every seed reproduces the quantiles closely; the last
 * slice is the largest page itself.
 */
static void make_sizes(size_t *sizes, uint64_t *rng) {
  for (size_t i = 0; i < FB_SYNTHETIC_PAGES; i++)
    sizes[i] = quantile_size((i + uniform(rng)) / FB_SYNTHETIC_PAGES);
  sizes[FB_SYNTHETIC_PAGES - 1] = quantiles[NQUANTILES - 1].bytes;
}

/* Pinned pages take the drawn size nearest to their real one; the rest are
 * dealt out in a shuffled order.
 */
static void assign_sizes(char **paths, const size_t *sizes, size_t *out,
                         uint64_t *rng) {
  unsigned char used[FB_SYNTHETIC_PAGES] = {0};
  size_t order[FB_SYNTHETIC_PAGES];
  size_t free_n = 0, next = 0;

  for (size_t i = 0; i < FB_SYNTHETIC_PAGES; i++)
    out[i] = 0;
  for (size_t i = 0; i < FB_SYNTHETIC_PAGES; i++) {
    size_t want = fb__seed_page_size(paths[i]), best = SIZE_MAX;
    size_t best_diff = SIZE_MAX;

    if (want == 0)
      continue;
    for (size_t j = 0; j < FB_SYNTHETIC_PAGES; j++) {
      size_t diff = sizes[j] > want ? sizes[j] - want : want - sizes[j];
      if (!used[j] && diff < best_diff) {
        best = j;
        best_diff = diff;
      }
    }
    used[best] = 1;
    out[i] = sizes[best];
  }
  for (size_t j = 0; j < FB_SYNTHETIC_PAGES; j++)
    if (!used[j])
      order[free_n++] = j;
  for (size_t i = free_n; i > 1; i--) {
    size_t j = splitmix64(rng) % i;
    size_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
  for (size_t i = 0; i < FB_SYNTHETIC_PAGES; i++)
    if (out[i] == 0)
      out[i] = sizes[order[next++]];
}

static size_t put(unsigned char *dst, const char *s) {
  size_t n = strlen(s);
  memcpy(dst, s, n);
  return n;
}

/* Fills exactly len bytes of HTML-looking text: a head naming the page,
 * paragraphs of words chosen by a generator seeded from (seed, path), and a
 * closing tag.
 */
static void write_page(unsigned char *dst, size_t len, const char *path,
                       uint64_t seed) {
  static const char tail[] = "</div>\n</body>\n</html>\n";
  uint64_t rng = seed ^ XXH3_64bits(path, strlen(path));
  char head[512];
  size_t pos, end = len - (sizeof(tail) - 1);
  int n;

  n = snprintf(head, sizeof(head),
               "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
               "<meta charset=\"utf-8\">\n"
               "<title>%s | fetchbench synthetic corpus</title>\n"
               "</head>\n<body>\n<div class=\"document\">\n<h1>%s</h1>\n",
               path, path);
  pos = (size_t)n < end ? (size_t)n : end;
  memcpy(dst, head, pos);
  while (end - pos > 16) {
    /* One paragraph: "<p>" words "</p>\n", cut to fit at the end. */
    unsigned count = 40 + (unsigned)(splitmix64(&rng) % 80);
    uint64_t bits = 0;
    size_t room, plen = 0;

    pos += put(dst + pos, "<p>");
    room = end - pos - 5;
    for (unsigned w = 0; w < count; w++) {
      const char *word;
      size_t wl;

      if (w % 10 == 0)
        bits = splitmix64(&rng);
      word = words[bits & 63];
      bits >>= 6;
      wl = strlen(word);
      if (plen + wl + 1 > room)
        break;
      if (w > 0)
        dst[pos + plen++] = ' ';
      memcpy(dst + pos + plen, word, wl);
      plen += wl;
    }
    pos += plen;
    pos += put(dst + pos, "</p>\n");
  }
  memset(dst + pos, '\n', end - pos);
  memcpy(dst + end, tail, sizeof(tail) - 1);
}

int fb_corpus_synthetic(struct fb_corpus **out, uint64_t seed) {
  char *paths[FB_SYNTHETIC_PAGES] = {0};
  size_t sizes[FB_SYNTHETIC_PAGES], lens[FB_SYNTHETIC_PAGES];
  uint64_t rng = seed, total = 0;
  struct fb_corpus *c = NULL;
  int rc;

  *out = NULL;
  rc = make_paths(paths);
  if (rc < 0)
    goto out;
  make_sizes(sizes, &rng);
  assign_sizes(paths, sizes, lens, &rng);
  for (size_t i = 0; i < FB_SYNTHETIC_PAGES; i++)
    total += lens[i];
  rc = -ENOMEM;
  c = fb__corpus_new("synthetic");
  if (c == NULL)
    goto out;
  if (fb__corpus_arena(c, total) == NULL)
    goto out;
  total = 0;
  for (size_t i = 0; i < FB_SYNTHETIC_PAGES; i++) {
    write_page(c->arena + total, lens[i], paths[i], seed);
    rc = fb__corpus_add(c, paths[i], c->arena + total, lens[i]);
    paths[i] = NULL;
    if (rc < 0)
      goto out;
    total += lens[i];
  }
  rc = fb__corpus_finish(c);
out:
  for (size_t i = 0; i < FB_SYNTHETIC_PAGES; i++)
    free(paths[i]);
  if (rc == 0)
    *out = c;
  else
    fb_corpus_destroy(c);
  return rc;
}
