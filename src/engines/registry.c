#include <string.h>

#include "fetchbench/engine.h"

extern const struct fb_engine fb_engine_sequential;

/* Report order: the models of the original experiment, then the event loop.
 * Adding an engine is one line here and one file beside this one.
 */
const struct fb_engine *const fb_engines[] = {
    &fb_engine_sequential,
    NULL,
};

const struct fb_engine *fb_engine_find(const char *name) {
  for (size_t i = 0; fb_engines[i] != NULL; i++)
    if (strcmp(fb_engines[i]->name, name) == 0)
      return fb_engines[i];
  return NULL;
}
