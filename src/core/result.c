/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "fetchbench/result.h"

static const char *const outcome_names[] = {
#define FB_OUTCOME_NAME(NAME, name, desc) #name,
    FB_OUTCOME_MAP(FB_OUTCOME_NAME)
#undef FB_OUTCOME_NAME
};

static const char *const outcome_descriptions[] = {
#define FB_OUTCOME_DESC(NAME, name, desc) desc,
    FB_OUTCOME_MAP(FB_OUTCOME_DESC)
#undef FB_OUTCOME_DESC
};

const char *fb_outcome_name(enum fb_outcome outcome) {
  if ((unsigned)outcome >= FB_OUTCOME_COUNT)
    return "?";
  return outcome_names[outcome];
}

const char *fb_outcome_describe(enum fb_outcome outcome) {
  if ((unsigned)outcome >= FB_OUTCOME_COUNT)
    return "?";
  return outcome_descriptions[outcome];
}

void fb_result_init(struct fb_result *r) {
  memset(r, 0, sizeof(*r));
  r->t_due = -1;
  r->t_start = -1;
  r->t_connected = -1;
  r->t_tls = -1;
  r->t_first_byte = -1;
  r->t_done = -1;
}

int fb_outcome_parse(const char *name) {
  for (int i = 0; i < FB_OUTCOME_COUNT; i++)
    if (strcmp(outcome_names[i], name) == 0)
      return i;
  return -1;
}
