/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchbench/error.h"
#include "origin/corpus_int.h"

/* Deeper trees than this are a loop or a mistake, not documentation. */
#define MAX_DEPTH 64

struct walk {
  struct fb_corpus *c;
  char root[PATH_MAX]; /* the tree's real path */
  size_t root_len;
  char rel[PATH_MAX]; /* path below the root being visited */
  char *err;
  size_t errlen;
};

static int fail(struct walk *w, int rc, const char *what) {
  snprintf(w->err, w->errlen, "%s/%s: %s%s", w->root, w->rel, what,
           fb_strerror(rc));
  return rc;
}

static int read_all(int fd, size_t len, unsigned char **out) {
  unsigned char *buf = malloc(len ? len : 1);
  size_t got = 0;

  *out = NULL;
  if (buf == NULL)
    return -ENOMEM;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int rc = n < 0 ? -errno : -EIO; /* shrank while we read it */
      free(buf);
      return rc;
    }
    got += (size_t)n;
  }
  *out = buf;
  return 0;
}

static int add_file(struct walk *w, int fd) {
  struct stat st;
  unsigned char *body;
  char *path;
  int rc;

  if (fstat(fd, &st) != 0)
    return fail(w, -errno, "");
  if (!S_ISREG(st.st_mode))
    return 0;
  rc = read_all(fd, (size_t)st.st_size, &body);
  if (rc < 0)
    return fail(w, rc, "");
  path = strdup(w->rel);
  if (path == NULL) {
    free(body);
    return -ENOMEM;
  }
  return fb__corpus_add(w->c, path, body, (size_t)st.st_size);
}

/* A symbolic link counts only when it resolves to a regular file inside the
 * tree; links to directories are skipped so a cycle cannot trap the walk.
 */
static int add_link(struct walk *w) {
  char full[PATH_MAX], real[PATH_MAX];
  int fd, rc;

  if ((size_t)snprintf(full, sizeof(full), "%s/%s", w->root, w->rel) >=
      sizeof(full))
    return 0;
  if (realpath(full, real) == NULL)
    return 0;
  if (strncmp(real, w->root, w->root_len) != 0 || real[w->root_len] != '/')
    return 0;
  fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return 0;
  rc = add_file(w, fd);
  close(fd);
  return rc;
}

static int walk_dir(struct walk *w, int dfd, int depth) {
  size_t base = strlen(w->rel);
  struct dirent *de;
  DIR *d;
  int rc = 0;

  if (depth > MAX_DEPTH)
    return 0;
  d = fdopendir(dfd);
  if (d == NULL) {
    rc = -errno;
    close(dfd);
    return fail(w, rc, "");
  }
  while ((errno = 0, de = readdir(d)) != NULL) {
    struct stat st;
    int fd;

    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (base + 1 + strlen(de->d_name) + 1 > sizeof(w->rel))
      continue;
    snprintf(w->rel + base, sizeof(w->rel) - base, "%s%s", base ? "/" : "",
             de->d_name);
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      rc = fail(w, -errno, "");
      break;
    }
    if (S_ISLNK(st.st_mode)) {
      rc = add_link(w);
    } else if (S_ISDIR(st.st_mode)) {
      fd = openat(dirfd(d), de->d_name,
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      rc = fd < 0 ? fail(w, -errno, "") : walk_dir(w, fd, depth + 1);
    } else if (S_ISREG(st.st_mode)) {
      fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        rc = fail(w, -errno, "");
      } else {
        rc = add_file(w, fd);
        close(fd);
      }
    }
    w->rel[base] = '\0';
    if (rc < 0)
      break;
  }
  if (rc == 0 && errno != 0)
    rc = fail(w, -errno, "reading the directory: ");
  w->rel[base] = '\0';
  closedir(d);
  return rc;
}

int fb_corpus_load(struct fb_corpus **out, const char *dir, char *err,
                   size_t errlen) {
  struct walk *w = NULL;
  int fd = -1, rc;

  *out = NULL;
  w = calloc(1, sizeof(*w));
  if (w == NULL)
    return -ENOMEM;
  w->err = err;
  w->errlen = errlen;
  if (realpath(dir, w->root) == NULL) {
    rc = -errno;
    snprintf(err, errlen, "%s: %s", dir, fb_strerror(rc));
    goto out;
  }
  w->root_len = strlen(w->root);
  fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    rc = -errno;
    snprintf(err, errlen, "%s: %s", dir, fb_strerror(rc));
    goto out;
  }
  w->c = fb__corpus_new(w->root);
  if (w->c == NULL) {
    close(fd);
    rc = -ENOMEM;
    goto out;
  }
  rc = walk_dir(w, fd, 0);
  if (rc < 0)
    goto out;
  rc = fb__corpus_finish(w->c);
  if (rc == FB_ECORPUS)
    snprintf(err, errlen, "%s: no files to serve", dir);
  else if (rc < 0)
    snprintf(err, errlen, "%s: %s", dir, fb_strerror(rc));
out:
  if (rc == 0)
    *out = w->c;
  else
    fb_corpus_destroy(w->c);
  free(w);
  return rc;
}
