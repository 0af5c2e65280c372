/* SPDX-License-Identifier: MIT */
#include "fetchbench/clock.h"
#include "fuzz.h"
#include "origin-loop.h"
#include "origin/origin_int.h"

int fz_origin_fast_forward(struct fb_origin *o) {
  int any = 0;

  for (struct fb__conn *c = o->conns; c != NULL; c = c->next) {
    if (c->t.closing || (!uv_is_active((uv_handle_t *)&c->t.timer) &&
                         c->t.alarm.slot == 0 && c->t.hold.slot == 0))
      continue;
    if (c->phase == FB__PH_DELAY)
      c->resp.due_ns = 0;
    if (c->phase == FB__PH_PACE && c->resp.pace_t0 != 0)
      c->resp.pace_t0 -= FB_NS_PER_S;
    if (c->t.hold.slot != 0)
      fb__alarm_set(&o->alarms, &c->t.hold, 1);
    if (uv_is_active((uv_handle_t *)&c->t.timer) || c->t.alarm.slot != 0)
      fb__tcp_at(c, 1, c->t.tick);
    any = 1;
  }
  return any;
}

void fz_origin_close_all(struct fb_origin *o) {
  for (struct fb__conn *c = o->conns; c != NULL; c = c->next)
    fb__tcp_close(c);
  for (int i = 0; i < 8 && o->nconns > 0; i++)
    uv_run(&o->loop, UV_RUN_NOWAIT);
  FZ_CHECK(o->nconns == 0);
}
