/* SPDX-License-Identifier: MIT */
#include "fb_config.h"
#include "fetchbench/version.h"

const char *fb_version(void) {
  return FB_VERSION;
}

const char *fb_user_agent(void) {
  return "fetchbench/" FB_VERSION;
}
