#include <stdio.h>

#include "core/compare_int.h"
#include "core/report_int.h"

/* The sentence being built and where it goes when it ends. */
struct say {
  const struct fb_compare *cmp;
  void (*emit)(void *ctx, enum fb__verdict_part part, const char *text);
  void *ctx;
  struct fb__sb sb;
  char buf[4096];
};

static void begin(struct say *s) {
  s->sb.buf = s->buf;
  s->sb.size = sizeof(s->buf);
  s->sb.len = 0;
  s->buf[0] = '\0';
}

static void end(struct say *s, enum fb__verdict_part part) {
  s->emit(s->ctx, part, s->buf);
  begin(s);
}

static const char *plural(unsigned n) {
  return n == 1 ? "" : "s";
}

/* "async with 16 workers" */
static void who(struct say *s, int i) {
  const struct fb_compare_cell *c = &s->cmp->cells[i];

  fb__sb_printf(&s->sb, "%s with %u worker%s", c->engine, c->workers,
                plural(c->workers));
}

static void speed(struct say *s, const struct fb_verdict *v) {
  const struct fb_compare *cmp = s->cmp;
  const struct fb_compare_cell *f = &cmp->cells[v->fastest];
  const struct fb_compare_cell *w = &cmp->cells[v->slowest];

  fb__sb_printf(&s->sb, "fastest: ");
  who(s, v->fastest);
  fb__sb_printf(&s->sb, ", %.3f s median wall", f->wall_s.median);
  if (v->slowest != v->fastest && f->wall_s.median > 0)
    fb__sb_printf(&s->sb, ", %.1fx faster than the slowest (%s, %u: %.3f s)",
                  w->wall_s.median / f->wall_s.median, w->engine, w->workers,
                  w->wall_s.median);
  fb__sb_printf(&s->sb, ".");
  end(s, FB__VERDICT_POINT);
  if (v->runner_up >= 0) {
    const struct fb_compare_cell *r = &cmp->cells[v->runner_up];

    fb__sb_printf(&s->sb, "runner-up: ");
    who(s, v->runner_up);
    fb__sb_printf(&s->sb, ", %.3f s", r->wall_s.median);
    fb__sb_printf(&s->sb, " (%.1f%% slower",
                  (r->wall_s.median / f->wall_s.median - 1) * 100);
    if (v->noisy)
      fb__sb_printf(&s->sb, "): a tie within noise");
    else
      fb__sb_printf(&s->sb, ", min-max ranges apart)");
    fb__sb_printf(&s->sb, ".");
    end(s, FB__VERDICT_MORE);
  }
  if (v->best_efficiency >= 0) {
    const struct fb_compare_cell *e = &cmp->cells[v->best_efficiency];
    size_t rounds = (e->urls + e->workers - 1) / e->workers;
    const char *sep = " (";

    fb__sb_printf(&s->sb,
                  "at %u worker%s, closest to the ideal %.3f s (%zu "
                  "round%s of %.0f ms): %s, %.0f%% efficiency",
                  v->top_workers, plural(v->top_workers), e->ideal_s, rounds,
                  rounds == 1 ? "" : "s", cmp->delay_ms, e->engine,
                  e->efficiency * 100);
    for (size_t i = 0; i < cmp->ncells; i++) {
      const struct fb_compare_cell *c = &cmp->cells[i];

      if ((int)i == v->best_efficiency || c->workers != v->top_workers ||
          c->efficiency < 0 || c->runs == 0)
        continue;
      fb__sb_printf(&s->sb, "%s%s %.0f%%", sep, c->engine, c->efficiency * 100);
      sep = ", ";
    }
    fb__sb_printf(&s->sb, "%s.", sep[0] == ',' ? ")" : "");
    end(s, FB__VERDICT_POINT);
  }
}

static void cost(struct say *s, const struct fb_verdict *v) {
  const struct fb_compare *cmp = s->cmp;
  const struct fb_compare_cell *c, *m, *h;
  int dearest = -1;

  for (size_t i = 0; i < cmp->ncells; i++) {
    const struct fb_compare_cell *x = &cmp->cells[i];
    if (x->runs == 0 || x->errors > 0 || x->failed > 0)
      continue;
    if (dearest < 0 ||
        x->cpu_per_req_ms.median > cmp->cells[dearest].cpu_per_req_ms.median)
      dearest = (int)i;
  }
  /* A median lost to a failed allocation (NaN) leaves no cheapest cell. */
  if (v->cheapest_cpu >= 0) {
    c = &cmp->cells[v->cheapest_cpu];
    fb__sb_printf(&s->sb, "cheapest in CPU: ");
    who(s, v->cheapest_cpu);
    fb__sb_printf(&s->sb, ", %.2f ms CPU per request",
                  c->cpu_per_req_ms.median);
    if (dearest >= 0 && dearest != v->cheapest_cpu) {
      const struct fb_compare_cell *d = &cmp->cells[dearest];

      fb__sb_printf(&s->sb, "; dearest: %s with %u, %.2f ms", d->engine,
                    d->workers, d->cpu_per_req_ms.median);
      if (c->cpu_per_req_ms.median > 0)
        fb__sb_printf(&s->sb, " (%.1fx)",
                      d->cpu_per_req_ms.median / c->cpu_per_req_ms.median);
    }
    fb__sb_printf(&s->sb, ".");
    end(s, FB__VERDICT_POINT);
  }
  if (v->cheapest_memory < 0)
    return;
  m = &cmp->cells[v->cheapest_memory];
  h = &cmp->cells[v->hungriest_memory];
  fb__sb_printf(&s->sb, "cheapest in memory: ");
  who(s, v->cheapest_memory);
  fb__sb_printf(&s->sb, ", %.1f MiB peak RSS", m->rss_sum_kib.median / 1024.0);
  if (v->hungriest_memory != v->cheapest_memory) {
    fb__sb_printf(&s->sb, "; most: %s with %u, %.1f MiB", h->engine, h->workers,
                  h->rss_sum_kib.median / 1024.0);
    if (m->rss_sum_kib.median > 0)
      fb__sb_printf(&s->sb, " (%.1fx)",
                    h->rss_sum_kib.median / m->rss_sum_kib.median);
  }
  fb__sb_printf(&s->sb, ".");
  end(s, FB__VERDICT_POINT);
}

static void scaling(struct say *s, const struct fb_verdict_scaling *sc) {
  const struct fb_compare *cmp = s->cmp;
  const struct fb_compare_cell *b = &cmp->cells[sc->before];

  fb__sb_printf(&s->sb, "%s: ", sc->engine);
  if (sc->after >= 0) {
    const struct fb_compare_cell *a = &cmp->cells[sc->after];

    fb__sb_printf(&s->sb, "adding workers stopped helping after %u",
                  b->workers);
    if (sc->gain >= 0)
      fb__sb_printf(&s->sb, " (%u saved %.0f%% of the wall time, under %.0f%%)",
                    a->workers, sc->gain * 100, FB_VERDICT_GAIN * 100);
    else
      fb__sb_printf(&s->sb, " (%u was %.0f%% slower)", a->workers,
                    -sc->gain * 100);
  } else if (sc->cells < 2) {
    fb__sb_printf(&s->sb, "one clean worker count only (%u)", b->workers);
  } else {
    fb__sb_printf(&s->sb,
                  "still gaining at %u workers (the last step saved %.0f%%)",
                  b->workers, sc->last_gain * 100);
  }
  if (sc->best >= 0 && sc->best != sc->before)
    fb__sb_printf(&s->sb, "; fastest at %u", cmp->cells[sc->best].workers);
  fb__sb_printf(&s->sb, ".");
  end(s, FB__VERDICT_POINT);
}

void fb__verdict_text(const struct fb_compare *cmp,
                      void (*emit)(void *ctx, enum fb__verdict_part part,
                                   const char *text),
                      void *ctx) {
  struct say s = {.cmp = cmp, .emit = emit, .ctx = ctx};
  struct fb_verdict v;
  size_t bad = 0;

  begin(&s);
  fb_compare_verdict(cmp, &v);
  for (size_t i = 0; i < cmp->ncells; i++)
    bad += cmp->cells[i].runs > 0 &&
           (cmp->cells[i].errors > 0 || cmp->cells[i].failed > 0);
  fb__sb_printf(&s.sb, "Verdict (medians of %u run%s per cell)", cmp->repeats,
                plural(cmp->repeats));
  end(&s, FB__VERDICT_TITLE);
  if (v.fastest < 0) {
    fb__sb_printf(&s.sb, "no cell ran without errors: nothing to compare.");
    end(&s, FB__VERDICT_POINT);
    return;
  }
  speed(&s, &v);
  cost(&s, &v);
  for (size_t k = 0; k < v.nscaling; k++)
    scaling(&s, &v.scaling[k]);
  if (bad > 0) {
    fb__sb_printf(&s.sb,
                  "%zu cell%s with errors or failed runs left out of the "
                  "verdict.",
                  bad, bad == 1 ? "" : "s");
    end(&s, FB__VERDICT_POINT);
  }
}
