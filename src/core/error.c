/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "fetchbench/error.h"

const char *fb_strerror(int err) {
  switch (err) {
#define FB_STRERROR_CASE(name, msg)                                            \
  case FB_E##name:                                                             \
    return msg;
    FB_ERRNO_MAP(FB_STRERROR_CASE)
#undef FB_STRERROR_CASE
  default:
    break;
  }
  if (err < 0 && err > FB__EBASE)
    return strerror(-err);
  return "unknown error";
}

const char *fb_err_name(int err) {
  switch (err) {
#define FB_ERRNAME_CASE(name, msg)                                             \
  case FB_E##name:                                                             \
    return "FB_E" #name;
    FB_ERRNO_MAP(FB_ERRNAME_CASE)
#undef FB_ERRNAME_CASE
  default:
    break;
  }
  if (err < 0 && err > FB__EBASE) {
    const char *name = strerrorname_np(-err);
    if (name != NULL)
      return name;
  }
  return "UNKNOWN";
}
