/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "fb_config.h"
#include "fetchbench/error.h"
#include "origin/corpus_int.h"

const char *const fb_seed_pages[FB_SEED_PAGE_COUNT] = {
    "intro/tutorial01.html", "intro/tutorial02.html", "intro/tutorial03.html",
    "intro/tutorial04.html", "intro/tutorial05.html", "intro/tutorial06.html",
    "intro/tutorial07.html", "topics/db/models.html", "topics/http/urls.html",
    "ref/forms/api.html",
};

static const struct {
  const char *ext;
  const char *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"gz", "application/gzip"},
    {"pdf", "application/pdf"},
};

const char *fb__content_type(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash != NULL ? slash : path, '.');

  if (dot != NULL) {
    for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]);
         i++)
      if (strcasecmp(dot + 1, content_types[i].ext) == 0)
        return content_types[i].type;
  }
  return "application/octet-stream";
}

struct fb_corpus *fb__corpus_new(const char *name) {
  struct fb_corpus *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return NULL;
  c->fd = -1;
  c->name = strdup(name);
  if (c->name == NULL) {
    free(c);
    return NULL;
  }
  return c;
}

unsigned char *fb__corpus_arena(struct fb_corpus *c, size_t len) {
  int fd = memfd_create("fetchbench-corpus", MFD_CLOEXEC);
  void *map = MAP_FAILED;

  if (fd >= 0 && len > 0 && ftruncate(fd, (off_t)len) == 0)
    map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map != MAP_FAILED) {
    c->arena = map;
    c->fd = fd;
  } else {
    if (fd >= 0)
      close(fd);
    c->arena = malloc(len ? len : 1);
    c->fd = -1;
  }
  c->arena_len = len;
  return c->arena;
}

int fb__corpus_file(const struct fb_corpus *c, const struct fb_page *p,
                    int64_t *off) {
  if (c->fd < 0)
    return -1;
  *off = (int64_t)(p->body - c->arena);
  return c->fd;
}

/* One arena for a corpus read page by page: the bodies move there. */
static int gather_bodies(struct fb_corpus *c) {
  size_t total = 0;

  for (size_t i = 0; i < c->count; i++)
    total += c->pages[i].len;
  if (fb__corpus_arena(c, total) == NULL)
    return -ENOMEM;
  total = 0;
  for (size_t i = 0; i < c->count; i++) {
    unsigned char *body = (unsigned char *)c->pages[i].body;
    memcpy(c->arena + total, body, c->pages[i].len);
    free(body);
    c->pages[i].body = c->arena + total;
    total += c->pages[i].len;
  }
  return 0;
}

int fb__corpus_add(struct fb_corpus *c, char *path, unsigned char *body,
                   size_t len) {
  if (c->count == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 256;
    struct fb_page *pages = NULL;

    if (cap < UINT32_MAX)
      pages = realloc(c->pages, cap * sizeof(*pages));
    if (pages == NULL) {
      free(path);
      if (c->arena == NULL)
        free(body);
      return -ENOMEM;
    }
    c->pages = pages;
    c->cap = cap;
  }
  c->pages[c->count++] =
      (struct fb_page){.path = path, .body = body, .len = len};
  return 0;
}

static int page_cmp(const void *a, const void *b) {
  return strcmp(((const struct fb_page *)a)->path,
                ((const struct fb_page *)b)->path);
}

static uint64_t path_hash(const char *path, size_t len) {
  return XXH3_64bits(path, len);
}

int fb__corpus_finish(struct fb_corpus *c) {
  size_t size = 2;

  if (c->count == 0)
    return FB_ECORPUS;
  if (c->arena == NULL && gather_bodies(c) < 0)
    return -ENOMEM;
  qsort(c->pages, c->count, sizeof(*c->pages), page_cmp);
  for (size_t i = 0; i + 1 < c->count; i++)
    if (strcmp(c->pages[i].path, c->pages[i + 1].path) == 0)
      return FB_ECORPUS;
  /* At most half full, so probes stay short and always end. */
  while (size < c->count * 2)
    size *= 2;
  c->slots = calloc(size, sizeof(*c->slots));
  if (c->slots == NULL)
    return -ENOMEM;
  c->mask = size - 1;
  for (size_t i = 0; i < c->count; i++) {
    struct fb_page *p = &c->pages[i];
    size_t plen = strlen(p->path);
    size_t slot = path_hash(p->path, plen) & c->mask;

    p->content_type = fb__content_type(p->path);
    p->xxh3 = XXH3_64bits(p->body, p->len);
    while (c->slots[slot] != 0)
      slot = (slot + 1) & c->mask;
    c->slots[slot] = (uint32_t)(i + 1);
  }
  return 0;
}

const struct fb_page *fb_corpus_find(const struct fb_corpus *c,
                                     const char *path, size_t len) {
  size_t slot;

  if (c == NULL || c->slots == NULL)
    return NULL;
  slot = path_hash(path, len) & c->mask;
  while (c->slots[slot] != 0) {
    const struct fb_page *p = &c->pages[c->slots[slot] - 1];
    if (strncmp(p->path, path, len) == 0 && p->path[len] == '\0')
      return p;
    slot = (slot + 1) & c->mask;
  }
  return NULL;
}

void fb_corpus_destroy(struct fb_corpus *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->count; i++) {
    free((char *)c->pages[i].path);
    if (c->arena == NULL)
      free((unsigned char *)c->pages[i].body);
  }
  free(c->pages);
  if (c->fd >= 0) {
    munmap(c->arena, c->arena_len);
    close(c->fd);
  } else {
    free(c->arena);
  }
  free(c->slots);
  free(c->name);
  free(c);
}

const char *fb_corpus_name(const struct fb_corpus *c) {
  return c->name;
}

size_t fb_corpus_count(const struct fb_corpus *c) {
  return c->count;
}

const struct fb_page *fb_corpus_page(const struct fb_corpus *c, size_t i) {
  return i < c->count ? &c->pages[i] : NULL;
}

const char *fb_corpus_default_dir(void) {
  struct stat st;

  if (stat(FB_DJANGO_DOCS_DIR, &st) == 0 && S_ISDIR(st.st_mode))
    return FB_DJANGO_DOCS_DIR;
  return NULL;
}

int fb__corpus_open(struct fb_corpus **out, const char *name, uint64_t seed,
                    char *err, size_t errlen) {
  const char *dir = name;
  int rc;

  *out = NULL;
  if (name == NULL || name[0] == '\0') {
    dir = fb_corpus_default_dir();
    if (dir == NULL)
      name = "synthetic";
  } else if (strcmp(name, "django") == 0) {
    dir = fb_corpus_default_dir();
    if (dir == NULL) {
      snprintf(err, errlen,
               "the Django documentation is not installed at %s "
               "(package python-django-doc)",
               FB_DJANGO_DOCS_DIR);
      return FB_ECORPUS;
    }
  }
  if (name != NULL && strcmp(name, "synthetic") == 0) {
    rc = fb_corpus_synthetic(out, seed);
    if (rc < 0)
      snprintf(err, errlen, "synthetic corpus: %s", fb_strerror(rc));
    return rc;
  }
  return fb_corpus_load(out, dir, err, errlen);
}

int fb_corpus_open(struct fb_corpus **out, const char *name, char *err,
                   size_t errlen) {
  return fb__corpus_open(out, name, 1, err, errlen);
}
