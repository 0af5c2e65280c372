#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

FILE *fb__output_open(const struct fb_cli_cmd *cmd, const char *path) {
  FILE *f;

  if (path == NULL || strcmp(path, "-") == 0)
    return stdout;
  f = fopen(path, "w");
  if (f == NULL)
    fb__cli_error(cmd, "cannot write '%s': %s", path, strerror(errno));
  return f;
}

int fb__output_close(const struct fb_cli_cmd *cmd, FILE *f, const char *path,
                     int write_err) {
  int err = write_err;
  const char *name =
      path == NULL || strcmp(path, "-") == 0 ? "standard output" : path;

  if (f == NULL)
    return FB_EXIT_USAGE;
  /* A full disk often shows only when the buffer is flushed or closed. */
  if (fflush(f) != 0 && err == 0)
    err = -errno;
  if (ferror(f) && err == 0)
    err = -EIO;
  if (f != stdout && fclose(f) != 0 && err == 0)
    err = -errno;
  if (err == 0)
    return 0;
  fb__cli_error(cmd, "writing %s failed: %s", name, fb_strerror(err));
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

int fb__outfile_open(const struct fb_cli_cmd *cmd, const char *opt,
                     const char *path, struct fb__outfile *of) {
  of->path = path;
  of->fd = -1;
  of->created = 0;
  if (strcmp(path, "-") == 0)
    return 0;
  /* Created when missing, never truncated here: the file keeps what it
   * held until there is a report to replace it with.
   */
  of->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (of->fd >= 0)
    of->created = 1;
  else if (errno == EEXIST)
    of->fd = open(path, O_WRONLY | O_CLOEXEC);
  if (of->fd < 0)
    return fb__cli_usage_error(cmd, "%s: cannot write '%s': %s", opt, path,
                               strerror(errno));
  return 0;
}

/* The suffix of path's last component (".html"), or "". */
static const char *suffix_of(const char *path) {
  const char *base = strrchr(path, '/');
  const char *dot = strrchr(base != NULL ? base : path, '.');

  return dot != NULL && strlen(dot) < 16 ? dot : "";
}

/* The report in a temporary file, when writing where it was asked for
 * failed.
 */
static void fallback(const struct fb_cli_cmd *cmd, const char *path,
                     int (*writer)(FILE *, const struct fb_compare *),
                     const struct fb_compare *cmp) {
  char name[4096];
  FILE *f;
  int err =
      fb__output_tmpfile(name, sizeof(name), "report", suffix_of(path), &f);

  if (err == 0) {
    err = writer(f, cmp);
    if (fclose(f) != 0 && err == 0)
      err = errno != 0 ? -errno : -EIO;
    if (err == 0) {
      fb__cli_error(cmd, "the report %s was to hold is in %s instead", path,
                    name);
      return;
    }
    unlink(name);
  }
  fb__cli_error(cmd,
                "no fallback file either (%s): the report %s was to hold is "
                "lost",
                fb_strerror(err), path);
}

int fb__outfile_write(const struct fb_cli_cmd *cmd, struct fb__outfile *of,
                      int (*writer)(FILE *, const struct fb_compare *),
                      const struct fb_compare *cmp) {
  struct stat st;
  FILE *f;
  int err;

  if (of->fd < 0)
    return fb__output_close(cmd, stdout, "-", writer(stdout, cmp));
  if (fstat(of->fd, &st) == 0 && S_ISREG(st.st_mode) &&
      ftruncate(of->fd, 0) != 0) {
    err = -errno;
    goto failed;
  }
  f = fdopen(of->fd, "w");
  if (f == NULL) {
    err = -errno;
    goto failed;
  }
  of->fd = -1;
  of->created = 0;
  err = writer(f, cmp);
  if (fflush(f) != 0 && err == 0)
    err = -errno;
  if (ferror(f) && err == 0)
    err = -EIO;
  if (fclose(f) != 0 && err == 0)
    err = -errno;
  if (err == 0)
    return 0;
failed:
  fb__cli_error(cmd, "writing %s failed: %s", of->path, fb_strerror(err));
  fallback(cmd, of->path, writer, cmp);
  return FB_EXIT_USAGE;
}

void fb__outfile_close(struct fb__outfile *of) {
  if (of->fd < 0)
    return;
  close(of->fd);
  of->fd = -1;
  /* Opened by the check and never written: leave nothing behind. */
  if (of->created)
    unlink(of->path);
  of->created = 0;
}
