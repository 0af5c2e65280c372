/* SPDX-License-Identifier: MIT */
/* The URL-list parser: fuzzed bytes as a URL file, loaded with
 * fb_urlset_load (through a memfd, no file system). Checked against a
 * plain re-reading of the same bytes: which lines are URLs (BOM, comments,
 * blank lines, white space), that each is accepted alone by fb_urlset_add
 * exactly when the load accepts the file, that a failed load leaves the set
 * as it was, and that the diagnostic is a terminated string naming the file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fetchbench/error.h"
#include "fetchbench/urlset.h"
#include "fuzz.h"

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

/* Re-reads data line by line as the contract describes. Returns the
 * expected code; the URL lines go to *want.
 */
static int expect(const uint8_t *data, size_t size, struct fb_urlset *want) {
  int bad = 0;
  size_t start = 0, lineno = 0;
  char err[256];

  while (start < size) {
    const uint8_t *nl = memchr(data + start, '\n', size - start);
    size_t end = nl != NULL ? (size_t)(nl - data) + 1 : size;
    size_t a = start, b = end;

    lineno++;
    if (lineno == 1 && b - a >= 3 && memcmp(data + a, "\xef\xbb\xbf", 3) == 0)
      a += 3;
    start = end;
    if (memchr(data + a, '\0', b - a) != NULL) {
      bad = 1;
      continue;
    }
    while (a < b && is_space(data[a]))
      a++;
    while (b > a && is_space(data[b - 1]))
      b--;
    if (a == b || data[a] == '#')
      continue;
    if (fb_urlset_add(want, (const char *)data + a, b - a, err, sizeof(err)) !=
        0)
      bad = 1;
  }
  if (bad)
    return FB_EURL;
  return fb_urlset_count(want) == 0 ? FB_EEMPTY : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fd = -1;
  struct fb_urlset *set = NULL, *want = NULL;
  char path[64], err[1024];
  int rc, want_rc;

  if (fd < 0) {
    fd = memfd_create("fuzz-urls", MFD_CLOEXEC);
    FZ_CHECK(fd >= 0);
  }
  FZ_CHECK(ftruncate(fd, 0) == 0);
  FZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

  FZ_CHECK(fb_urlset_create(&set) == 0);
  FZ_CHECK(fb_urlset_create(&want) == 0);
  FZ_CHECK(fb_urlset_add(set, "http://pre/", 11, err, sizeof(err)) == 0);
  memset(err, 'x', sizeof(err));
  rc = fb_urlset_load(set, path, err, sizeof(err));
  want_rc = expect(data, size, want);

  FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
  FZ_CHECK(rc == want_rc);
  FZ_CHECK(strcmp(fb_urlset_get(set, 0), "http://pre/") == 0);
  if (rc == 0) {
    FZ_CHECK(fb_urlset_count(set) == 1 + fb_urlset_count(want));
    for (size_t i = 0; i < fb_urlset_count(want); i++)
      FZ_CHECK(strcmp(fb_urlset_get(set, i + 1), fb_urlset_get(want, i)) == 0);
  } else {
    FZ_CHECK(fb_urlset_count(set) == 1);
    FZ_CHECK(strncmp(err, path, strlen(path)) == 0);
  }
  fb_urlset_destroy(want);
  fb_urlset_destroy(set);
  return 0;
}
