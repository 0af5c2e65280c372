/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tls/tls_int.h"

__attribute__((format(printf, 3, 0))) static void
vformat(char *err, size_t errlen, const char *fmt, va_list ap) {
  if (errlen == 0)
    return;
  vsnprintf(err, errlen, fmt, ap);
}

int fb__tls_errf(int code, char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vformat(err, errlen, fmt, ap);
  va_end(ap);
  return code;
}

int fb__tls_err(int code, char *err, size_t errlen, const char *fmt, ...) {
  unsigned long e = ERR_peek_error();
  size_t used;
  va_list ap;

  va_start(ap, fmt);
  vformat(err, errlen, fmt, ap);
  va_end(ap);
  ERR_clear_error();
  if (errlen == 0 || e == 0)
    return code;
  used = strlen(err);
  if (used + 2 < errlen) {
    const char *reason = ERR_reason_error_string(e);
    if (reason != NULL)
      snprintf(err + used, errlen - used, ": %s", reason);
    else
      ERR_error_string_n(e, err + used, errlen - used);
  }
  return code;
}

int fb__tls_file_check(const char *what, const char *path, char *err,
                       size_t errlen) {
  struct stat st;
  int fd;

  if (path == NULL || *path == '\0')
    return fb__tls_errf(-ENOENT, err, errlen, "%s: no file name given", what);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return fb__tls_errf(-e, err, errlen, "%s %s: %s", what, path, strerror(e));
  }
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return fb__tls_errf(-e, err, errlen, "%s %s: %s", what, path, strerror(e));
  }
  close(fd);
  if (S_ISDIR(st.st_mode))
    return fb__tls_errf(-EISDIR, err, errlen, "%s %s: %s", what, path,
                        strerror(EISDIR));
  return 0;
}
