/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int is_stdout(const char *path) {
  return path == NULL || strcmp(path, "-") == 0;
}

static const char *display(const char *path) {
  return is_stdout(path) ? "standard output" : path;
}

/* The same file, by device and inode (both must exist). */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;

  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int fb__output_prepare(const struct fb_cli_cmd *cmd, struct fb_output *o,
                       const char *opt, const char *path, int probe_only,
                       const char *const *inputs) {
  struct stat st;
  int fd;

  memset(o, 0, sizeof(*o));
  o->opt = opt;
  o->path = path;
  if (is_stdout(path)) {
    o->f = stdout;
    return 0;
  }
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return fb__cli_usage_error(cmd, "%s: '%s' is a directory", opt, path);
  for (size_t i = 0; inputs != NULL && inputs[i] != NULL; i++)
    if (strcmp(inputs[i], "-") != 0 && same_file(path, inputs[i]))
      return fb__cli_usage_error(
          cmd, "%s: '%s' is the input %s; writing it would destroy it", opt,
          path, inputs[i]);
  /* Created now, before the first request, so that a long run never ends in
   * an output it cannot write. A file that did not exist and is never
   * written is removed again (fb__output_discard).
   */
  o->created = access(path, F_OK) != 0;
  fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    fb__cli_error(cmd, "%s: cannot write '%s': %s", opt, path, strerror(errno));
    return FB_EXIT_USAGE;
  }
  if (probe_only) {
    close(fd);
    return 0;
  }
  o->f = fdopen(fd, "w");
  if (o->f == NULL) {
    fb__cli_error(cmd, "%s: cannot write '%s': %s", opt, path, strerror(errno));
    close(fd);
    return FB_EXIT_USAGE;
  }
  return 0;
}

void fb__output_discard(struct fb_output *o) {
  if (o->f != NULL && o->f != stdout)
    fclose(o->f);
  o->f = NULL;
  if (o->created && o->path != NULL && !o->written)
    unlink(o->path);
  o->created = 0;
}

/* Writes with writer into f, flushed: 0 or a negative errno. */
static int write_to(FILE *f, int (*writer)(FILE *, const void *),
                    const void *arg) {
  int err = writer(f, arg);

  /* A full disk often shows only when the buffer is flushed. */
  if (fflush(f) != 0 && err == 0)
    err = -errno;
  if (ferror(f) && err == 0)
    err = -EIO;
  return err;
}

/* The suffix of path's last component (".html"), or "". */
static const char *suffix_of(const char *path) {
  const char *base = strrchr(path, '/');
  const char *dot = strrchr(base != NULL ? base : path, '.');

  return dot != NULL && strlen(dot) < 16 && strchr(dot, ' ') == NULL ? dot : "";
}

/* The report once more, into a file of its own in $TMPDIR, with the suffix
 * of the file it was meant for (a page still opens as one).
 */
static int write_fallback(const struct fb_cli_cmd *cmd, const char *what,
                          const char *meant,
                          int (*writer)(FILE *, const void *),
                          const void *arg) {
  char path[4096], kind[64];
  FILE *f;
  int err;

  /* "HTML report" -> fetchbench-HTML-report-XXXXXX.html */
  snprintf(kind, sizeof(kind), "%s", what);
  for (char *c = kind; *c; c++)
    if (*c == ' ' || *c == '/')
      *c = '-';
  err = fb__output_tmpfile(path, sizeof(path), kind,
                           meant != NULL ? suffix_of(meant) : "", &f);
  if (err != 0) {
    fb__cli_error(cmd, "the %s is lost: no fallback file either (%s)", what,
                  fb_strerror(err));
    return -1;
  }
  err = write_to(f, writer, arg);
  if (fclose(f) != 0 && err == 0)
    err = -errno;
  if (err != 0) {
    fb__cli_error(cmd, "the %s is lost: writing %s failed too: %s", what, path,
                  fb_strerror(err));
    return -1;
  }
  fb__cli_error(cmd, "the %s was written to %s instead", what, path);
  return 0;
}

int fb__output_write(const struct fb_cli_cmd *cmd, struct fb_output *o,
                     const char *what, int (*writer)(FILE *, const void *),
                     const void *arg) {
  struct stat st;
  int err;

  if (o->f == NULL)
    return FB_EXIT_USAGE;
  /* The file was opened without truncating it, so that it kept what it held
   * until now: a shorter report must not leave the old one's tail behind.
   */
  if (o->f != stdout && fstat(fileno(o->f), &st) == 0 && S_ISREG(st.st_mode) &&
      ftruncate(fileno(o->f), 0) != 0)
    err = -errno;
  else
    err = write_to(o->f, writer, arg);
  if (o->f != stdout && fclose(o->f) != 0 && err == 0)
    err = -errno;
  if (o->f != stdout)
    o->f = NULL;
  if (err == 0) {
    o->written = 1;
    return 0;
  }
  o->written = 1; /* what it holds is part of a report: keep it */
  fb__cli_error(cmd, "writing the %s to %s failed: %s", what, display(o->path),
                fb_strerror(err));
  /* Never lose a report: standard output, else a file of its own. */
  if (!is_stdout(o->path)) {
    fb__cli_error(cmd, "the %s follows on standard output", what);
    clearerr(stdout);
    if (write_to(stdout, writer, arg) == 0)
      return FB_EXIT_USAGE;
    clearerr(stdout);
  }
  write_fallback(cmd, what, o->path, writer, arg);
  return FB_EXIT_USAGE;
}

int fb__output_tmpfile(char *name, size_t len, const char *what,
                       const char *suffix, FILE **out) {
  const char *dir = getenv("TMPDIR");
  int fd;

  snprintf(name, len, "%s/fetchbench-%s-XXXXXX%s",
           dir != NULL && dir[0] ? dir : "/tmp", what, suffix);
  fd = mkstemps(name, (int)strlen(suffix));
  if (fd < 0)
    return -errno;
  *out = fdopen(fd, "w");
  if (*out == NULL) {
    int err = -errno;
    close(fd);
    unlink(name);
    return err;
  }
  return 0;
}
