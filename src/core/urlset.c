/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetchbench/error.h"
#include "fetchbench/machine.h"
#include "fetchbench/urlset.h"

/* Arena chunks grow with the data (an eighth of what is stored, within these
 * bounds) so that the unused tail of the newest chunk stays a small fraction
 * of the whole, for ten URLs as for ten million.
 */
#define CHUNK_MIN (4u << 10)
#define CHUNK_MAX (1u << 20)

/* Diagnostics shown for a bad file before "... and N more bad lines". */
#define BAD_SHOWN 10

/* Below this many URLs a load validates on the calling thread only. */
#define PARALLEL_MIN (1u << 15)
#define PARALLEL_MAX_THREADS 8

struct chunk {
  struct chunk *prev;
  size_t cap;
  size_t used;
  char data[];
};

struct fb_urlset {
  char **urls;
  size_t count;
  size_t cap;
  struct chunk *arena; /* newest chunk; older ones via prev */
  size_t arena_bytes;  /* allocated: headers and data of every chunk */
  size_t data_bytes;   /* stored: URL bytes with their NULs */
  CURLU *cu;           /* reused for every validation on this thread */
};

/* Where a load started, so that a failed load leaves the set as it was. */
struct mark {
  size_t count;
  struct chunk *arena;
  size_t used;
  size_t arena_bytes;
  size_t data_bytes;
};

int fb_urlset_create(struct fb_urlset **out) {
  struct fb_urlset *set = calloc(1, sizeof(*set));

  *out = NULL;
  if (set == NULL)
    return -ENOMEM;
  set->cu = curl_url();
  if (set->cu == NULL) {
    free(set);
    return -ENOMEM;
  }
  *out = set;
  return 0;
}

void fb_urlset_destroy(struct fb_urlset *set) {
  if (set == NULL)
    return;
  while (set->arena != NULL) {
    struct chunk *prev = set->arena->prev;
    free(set->arena);
    set->arena = prev;
  }
  curl_url_cleanup(set->cu);
  free(set->urls);
  free(set);
}

size_t fb_urlset_count(const struct fb_urlset *set) {
  return set->count;
}

void fb_urlset_digest(const struct fb_urlset *set, const char *strip,
                      char out[FB_URLSET_DIGEST_LEN]) {
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t skip = strip != NULL ? strlen(strip) : 0;

  for (size_t i = 0; i < fb_urlset_count(set); i++) {
    const char *u = fb_urlset_get(set, i);

    if (skip > 0 && strncmp(u, strip, skip) == 0)
      u += skip;
    for (; *u != '\0'; u++)
      h = (h ^ (unsigned char)*u) * 0x100000001b3ULL;
    h = (h ^ '\n') * 0x100000001b3ULL;
  }
  snprintf(out, FB_URLSET_DIGEST_LEN, "%016llx", (unsigned long long)h);
}

const char *fb_urlset_scheme(const struct fb_urlset *set) {
  int http = 0, https = 0;

  for (size_t i = 0; i < fb_urlset_count(set); i++) {
    const char *u = fb_urlset_get(set, i);

    if (strncasecmp(u, "https:", 6) == 0)
      https = 1;
    else
      http = 1;
  }
  if (http && https)
    return "mixed";
  return https ? "https" : http ? "http" : "";
}

const char *fb_urlset_get(const struct fb_urlset *set, size_t i) {
  return i < set->count ? set->urls[i] : NULL;
}

size_t fb_urlset_memory(const struct fb_urlset *set) {
  return sizeof(*set) + set->cap * sizeof(*set->urls) + set->arena_bytes;
}

static void set_mark(const struct fb_urlset *set, struct mark *m) {
  m->count = set->count;
  m->arena = set->arena;
  m->used = set->arena != NULL ? set->arena->used : 0;
  m->arena_bytes = set->arena_bytes;
  m->data_bytes = set->data_bytes;
}

static void rollback(struct fb_urlset *set, const struct mark *m) {
  while (set->arena != m->arena) {
    struct chunk *prev = set->arena->prev;
    free(set->arena);
    set->arena = prev;
  }
  if (set->arena != NULL)
    set->arena->used = m->used;
  set->count = m->count;
  set->arena_bytes = m->arena_bytes;
  set->data_bytes = m->data_bytes;
}

static int grow_urls(struct fb_urlset *set) {
  size_t cap = set->cap < 16 ? 16 : set->cap + set->cap / 2;
  char **urls;

  if (cap > SIZE_MAX / sizeof(*urls))
    return -ENOMEM;
  urls = realloc(set->urls, cap * sizeof(*urls));
  if (urls == NULL)
    return -ENOMEM;
  set->urls = urls;
  set->cap = cap;
  return 0;
}

/* Copies len bytes and a NUL into the arena and appends the copy. */
static int append(struct fb_urlset *set, const char *s, size_t len) {
  struct chunk *ch = set->arena;
  char *copy;

  if (set->count == set->cap && grow_urls(set) != 0)
    return -ENOMEM;
  if (len == SIZE_MAX)
    return -ENOMEM;
  if (ch == NULL || ch->cap - ch->used < len + 1) {
    size_t cap = set->data_bytes / 8;

    if (cap < CHUNK_MIN)
      cap = CHUNK_MIN;
    if (cap > CHUNK_MAX)
      cap = CHUNK_MAX;
    if (cap < len + 1)
      cap = len + 1;
    if (cap > SIZE_MAX - sizeof(*ch))
      return -ENOMEM;
    ch = malloc(sizeof(*ch) + cap);
    if (ch == NULL)
      return -ENOMEM;
    ch->prev = set->arena;
    ch->cap = cap;
    ch->used = 0;
    set->arena = ch;
    set->arena_bytes += sizeof(*ch) + cap;
  }
  copy = ch->data + ch->used;
  memcpy(copy, s, len);
  copy[len] = '\0';
  ch->used += len + 1;
  set->data_bytes += len + 1;
  set->urls[set->count++] = copy;
  return 0;
}

/* Quotes at most a screenful of url for a diagnostic, bytes outside printable
 * ASCII shown as \xNN, so that a binary line cannot garble a terminal.
 */
static void quote_url(char *buf, size_t size, const char *url) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0, shown = 0;

  for (; url[shown] != '\0' && shown < 60 && n + 5 < size; shown++) {
    unsigned char c = (unsigned char)url[shown];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      buf[n++] = (char)c;
    } else {
      buf[n++] = '\\';
      buf[n++] = 'x';
      buf[n++] = hex[c >> 4];
      buf[n++] = hex[c & 15];
    }
  }
  if (url[shown] != '\0' && n + 3 < size) {
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n < size ? n : size - 1] = '\0';
}

/* libcurl's longest input string, CURL_MAX_INPUT_LENGTH (lib/urldata.h). */
#define URL_MAX 8000000

/* Checks a NUL-terminated URL with libcurl's parser and the scheme rule.
 * Returns 0 or FB_EURL, with the reason in why (whysize > 0) when given.
 */
static int validate(CURLU *cu, const char *url, char *why, size_t whysize) {
  char quoted[256];
  char *scheme = NULL;
  CURLUcode rc;
  int result = 0;

  /* Clear the handle first: given a URL while it holds one, libcurl would
   * resolve a relative reference against the previous URL and accept it.
   */
  curl_url_set(cu, CURLUPART_URL, NULL, 0);
  rc = curl_url_set(cu, CURLUPART_URL, url, 0);
  if (rc == CURLUE_OK)
    rc = curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0);
  if (rc == CURLUE_OUT_OF_MEMORY)
    return -ENOMEM;
  if (rc != CURLUE_OK) {
    if (why != NULL) {
      quote_url(quoted, sizeof(quoted), url);
      /* libcurl refuses any input over 8 MB (CURL_MAX_INPUT_LENGTH) with
       * the same words as a malformed one.
       */
      if (rc == CURLUE_MALFORMED_INPUT && strlen(url) > URL_MAX)
        snprintf(why, whysize,
                 "URL of %zu bytes, over libcurl's limit of %d: \"%s\"",
                 strlen(url), URL_MAX, quoted);
      else
        snprintf(why, whysize, "%s: \"%s\"", curl_url_strerror(rc), quoted);
    }
    return FB_EURL;
  }
  if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
    if (why != NULL) {
      quote_url(quoted, sizeof(quoted), url);
      snprintf(why, whysize,
               "unsupported scheme \"%s\" (only http and https): \"%s\"",
               scheme, quoted);
    }
    result = FB_EURL;
  }
  curl_free(scheme);
  return result;
}

int fb_urlset_add(struct fb_urlset *set, const char *url, size_t len, char *err,
                  size_t errlen) {
  struct mark m;
  int rc;

  if (errlen > 0)
    err[0] = '\0';
  if (memchr(url, '\0', len) != NULL) {
    if (errlen > 0)
      snprintf(err, errlen, "URL contains a NUL byte");
    return FB_EURL;
  }
  set_mark(set, &m);
  rc = append(set, url, len);
  if (rc != 0)
    return rc;
  rc = validate(set->cu, set->urls[set->count - 1], errlen > 0 ? err : NULL,
                errlen);
  if (rc != 0)
    rollback(set, &m);
  return rc;
}

/* A growing diagnostic in the caller's buffer, cut (never overrun) when full.
 */
struct msg {
  char *buf;
  size_t size;
  size_t len;
};

static void msg_add(struct msg *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void msg_add(struct msg *m, const char *fmt, ...) {
  va_list ap;
  int n;

  if (m->size == 0 || m->len >= m->size - 1)
    return;
  va_start(ap, fmt);
  n = vsnprintf(m->buf + m->len, m->size - m->len, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  m->len += (size_t)n;
  if (m->len > m->size - 1)
    m->len = m->size - 1;
}

/* Line numbers of a load's URLs, kept sparsely: a jump is recorded wherever
 * skipped lines (blank, comment, rejected) break the run, so the map costs
 * nothing per URL.
 */
struct jump {
  size_t index; /* first URL (relative to the load) after the gap */
  size_t line;  /* its line number */
};

struct lines {
  struct jump *jumps;
  size_t n;
  size_t cap;
};

static int lines_note(struct lines *l, size_t index, size_t line) {
  if (l->n > 0) {
    const struct jump *last = &l->jumps[l->n - 1];
    if (last->line + (index - last->index) == line)
      return 0;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap < 16 ? 16 : 2 * l->cap;
    struct jump *jumps = realloc(l->jumps, cap * sizeof(*jumps));
    if (jumps == NULL)
      return -ENOMEM;
    l->jumps = jumps;
    l->cap = cap;
  }
  l->jumps[l->n].index = index;
  l->jumps[l->n].line = line;
  l->n++;
  return 0;
}

static size_t lines_find(const struct lines *l, size_t index) {
  size_t lo = 0, hi = l->n;

  /* The last jump at or before index; the first jump is at index 0. */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->jumps[mid].index <= index)
      lo = mid;
    else
      hi = mid;
  }
  return l->jumps[lo].line + (index - l->jumps[lo].index);
}

/* Bad lines seen so far: the first BAD_SHOWN, in line order, and a count. */
struct bad {
  size_t first[BAD_SHOWN];
  size_t shown;
  size_t count;
};

static void bad_note(struct bad *b, size_t what) {
  if (b->shown < BAD_SHOWN)
    b->first[b->shown++] = what;
  b->count++;
}

/* One validator's share of a load: URLs [lo, hi) of the set. */
struct part {
  const struct fb_urlset *set;
  CURLU *cu;
  size_t lo;
  size_t hi;
  struct bad bad; /* URL indices */
  int rc;         /* 0, or -ENOMEM */
  pthread_t thread;
  int started;
};

static void *validate_part(void *arg) {
  struct part *p = arg;

  for (size_t i = p->lo; i < p->hi; i++) {
    int rc = validate(p->cu, p->set->urls[i], NULL, 0);
    if (rc == FB_EURL) {
      bad_note(&p->bad, i);
    } else if (rc != 0) {
      p->rc = rc;
      break;
    }
  }
  return NULL;
}

/* Validates URLs [from, set->count) on up to as many threads as this process
 * has cores: libcurl's parser takes about a microsecond per URL, the largest
 * cost of a big load. Each thread has its own CURLU handle.
 */
static int validate_all(struct fb_urlset *set, size_t from, struct part *parts,
                        size_t *nparts) {
  size_t n = set->count - from;
  size_t threads = 1;
  int rc = 0;

  if (n >= PARALLEL_MIN) {
    int cpus = fb_cpus_allowed(NULL, 0);
    threads = cpus > 1 ? (size_t)cpus : 1;
    if (threads > PARALLEL_MAX_THREADS)
      threads = PARALLEL_MAX_THREADS;
  }
  for (size_t t = 0; t < threads; t++) {
    struct part *p = &parts[t];
    memset(p, 0, sizeof(*p));
    p->set = set;
    p->lo = from + n * t / threads;
    p->hi = from + n * (t + 1) / threads;
    p->cu = t == 0 ? set->cu : curl_url();
    if (p->cu == NULL) {
      threads = t;
      rc = -ENOMEM;
      break;
    }
  }
  *nparts = threads;
  if (rc != 0)
    goto out;
  for (size_t t = 1; t < threads; t++)
    parts[t].started =
        pthread_create(&parts[t].thread, NULL, validate_part, &parts[t]) == 0;
  validate_part(&parts[0]);
  for (size_t t = 1; t < threads; t++) {
    if (parts[t].started)
      pthread_join(parts[t].thread, NULL);
    else
      validate_part(&parts[t]);
  }
  for (size_t t = 0; t < threads && rc == 0; t++)
    rc = parts[t].rc;

out:
  for (size_t t = 1; t < threads; t++)
    curl_url_cleanup(parts[t].cu);
  return rc;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

/* Trims white space at both ends of line[0, *len) in place. */
static char *trim(char *line, size_t *len) {
  size_t a = 0, b = *len;

  while (a < b && is_space(line[a]))
    a++;
  while (b > a && is_space(line[b - 1]))
    b--;
  line[b] = '\0';
  *len = b - a;
  return line + a;
}

/* Reads every line of f into the arena. URLs are validated later, all at
 * once; lines holding a NUL byte are diagnosed here (nul) since their copy
 * would read as a shorter, maybe valid, URL.
 */
static int read_lines(struct fb_urlset *set, FILE *f, struct lines *lines,
                      struct bad *nul, size_t from) {
  char *line = NULL;
  size_t size = 0, lineno = 0;
  ssize_t got;
  int rc = 0;

  /* errno is cleared before each read: glibc before 2.37 fails a line it
   * cannot allocate with -1 and ENOMEM but no error flag, which would
   * otherwise read as the end of the file.
   */
  while ((errno = 0, got = getline(&line, &size, f)) >= 0) {
    size_t len = (size_t)got;
    char *s = line;

    lineno++;
    if (lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
      s += 3;
      len -= 3;
    }
    if (memchr(s, '\0', len) != NULL) {
      bad_note(nul, lineno);
      continue;
    }
    s = trim(s, &len);
    if (len == 0 || s[0] == '#')
      continue;
    rc = lines_note(lines, set->count - from, lineno);
    if (rc == 0)
      rc = append(set, s, len);
    if (rc != 0)
      goto out;
  }
  if (ferror(f) || errno == ENOMEM)
    rc = errno != 0 ? -errno : -EIO;

out:
  free(line);
  return rc;
}

/* Writes the diagnostics of a bad load: NUL-byte lines and invalid URLs
 * merged in line order, the first BAD_SHOWN of them, then the rest counted.
 */
static size_t report_bad(struct fb_urlset *set, const char *name,
                         const struct lines *lines, const struct bad *nul,
                         const struct part *parts, size_t nparts, size_t from,
                         struct msg *m) {
  size_t total = nul->count, shown = 0, in = 0, p = 0, pi = 0;
  char why[512];

  for (size_t t = 0; t < nparts; t++)
    total += parts[t].bad.count;
  while (shown < BAD_SHOWN) {
    size_t url_line = SIZE_MAX, index = 0;

    while (p < nparts && pi >= parts[p].bad.shown) {
      p++;
      pi = 0;
    }
    if (p < nparts) {
      index = parts[p].bad.first[pi];
      url_line = lines_find(lines, index - from);
    }
    if (in < nul->shown && nul->first[in] < url_line) {
      msg_add(m, "%s%s:%zu: line contains a NUL byte", shown ? "\n" : "", name,
              nul->first[in]);
      in++;
    } else if (url_line != SIZE_MAX) {
      if (validate(set->cu, set->urls[index], why, sizeof(why)) != FB_EURL)
        snprintf(why, sizeof(why), "invalid URL");
      msg_add(m, "%s%s:%zu: %s", shown ? "\n" : "", name, url_line, why);
      pi++;
    } else {
      break;
    }
    shown++;
  }
  if (total > shown)
    msg_add(m, "\n... and %zu more bad line%s", total - shown,
            total - shown == 1 ? "" : "s");
  return total;
}

static int shrink_urls(struct fb_urlset *set) {
  char **urls;

  if (set->count == set->cap || set->count == 0)
    return 0;
  urls = realloc(set->urls, set->count * sizeof(*urls));
  if (urls != NULL) {
    set->urls = urls;
    set->cap = set->count;
  }
  return 0;
}

int fb_urlset_load(struct fb_urlset *set, const char *path, char *err,
                   size_t errlen) {
  struct msg m = {err, errlen, 0};
  struct part parts[PARALLEL_MAX_THREADS];
  struct lines lines = {NULL, 0, 0};
  struct bad nul = {{0}, 0, 0};
  const char *name = path;
  struct stat st;
  struct mark mk;
  size_t nparts = 0;
  char *buf = NULL;
  FILE *f = NULL;
  int rc = 0;

  if (errlen > 0)
    err[0] = '\0';
  set_mark(set, &mk);
  if (strcmp(path, "-") == 0) {
    int fd = dup(STDIN_FILENO);
    name = "<stdin>";
    if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
      rc = -errno;
      if (fd >= 0)
        close(fd);
    }
  } else if ((f = fopen(path, "re")) == NULL) {
    rc = -errno;
  }
  if (rc == 0 && fstat(fileno(f), &st) != 0)
    rc = -errno;
  else if (rc == 0 && S_ISDIR(st.st_mode))
    rc = -EISDIR;
  if (rc != 0) {
    msg_add(&m, "%s: %s", name, strerror(-rc));
    goto out;
  }
  /* A large stdio buffer halves the read calls' share of a big load. */
  buf = malloc(1u << 18);
  if (buf != NULL)
    setvbuf(f, buf, _IOFBF, 1u << 18);

  errno = 0;
  rc = read_lines(set, f, &lines, &nul, mk.count);
  if (rc != 0) {
    msg_add(&m, "%s: %s", name, strerror(-rc));
    goto out;
  }
  rc = validate_all(set, mk.count, parts, &nparts);
  if (rc != 0)
    goto out;
  if (report_bad(set, name, &lines, &nul, parts, nparts, mk.count, &m) > 0) {
    rc = FB_EURL;
  } else if (set->count == mk.count) {
    msg_add(&m, "%s: no URLs", name);
    rc = FB_EEMPTY;
  }

out:
  if (rc != 0)
    rollback(set, &mk);
  else
    shrink_urls(set);
  if (f != NULL)
    fclose(f);
  free(buf);
  free(lines.jumps);
  return rc;
}

size_t fb_url_encode_path(char *out, size_t cap, const char *path) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0, w = 0; /* needed, written: whole encodings only */

  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    int plain = isalnum(*p) || strchr("/-._~", *p) != NULL;

    if (w == n && n + (plain ? 1 : 3) < cap) {
      if (plain) {
        out[w++] = (char)*p;
      } else {
        out[w++] = '%';
        out[w++] = hex[*p >> 4];
        out[w++] = hex[*p & 15];
      }
    }
    n += plain ? 1 : 3;
  }
  if (cap > 0)
    out[w] = '\0';
  return n;
}
