#include <errno.h>
#include <string.h>

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
