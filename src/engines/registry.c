#include <string.h>

#include "fetchbench/engine.h"

extern const struct fb_engine fb_engine_sequential;
extern const struct fb_engine fb_engine_threads;
extern const struct fb_engine fb_engine_processes;
extern const struct fb_engine fb_engine_async;

/* Report order: the models of the original experiment, then the event loop.
 * Adding an engine is one line here and one file beside this one.
 */
const struct fb_engine *const fb_engines[] = {
    &fb_engine_sequential,
    &fb_engine_threads,
    &fb_engine_processes,
    &fb_engine_async,
    NULL,
};

const struct fb_engine *fb_engine_find(const char *name) {
  for (size_t i = 0; fb_engines[i] != NULL; i++)
    if (strcmp(fb_engines[i]->name, name) == 0)
      return fb_engines[i];
  return NULL;
}
