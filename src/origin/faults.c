/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fetchbench/error.h"
#include "origin/origin_int.h"

static const char *const fault_names[FB_FAULT_COUNT] = {
    [FB_FAULT_NONE] = "none",
#define FB_FAULT_NAME(NAME, name, desc) [FB_FAULT_##NAME] = #name,
    FB_FAULT_MAP(FB_FAULT_NAME)
#undef FB_FAULT_NAME
};

const char *fb_fault_name(enum fb_fault f) {
  if ((int)f < 0 || f >= FB_FAULT_COUNT)
    return "?";
  return fault_names[f];
}

int fb_fault_parse(const char *name, size_t len) {
  for (int f = FB_FAULT_NONE + 1; f < FB_FAULT_COUNT; f++)
    if (strlen(fault_names[f]) == len && memcmp(fault_names[f], name, len) == 0)
      return f;
  return -1;
}

int fb_fault_in_handshake(enum fb_fault f) {
  return f >= FB_FAULT_TLS_STALL && f <= FB_FAULT_TLS_EXPIRED;
}

static void valid_names(char *buf, size_t len) {
  size_t used = 0;

  buf[0] = '\0';
  for (int f = FB_FAULT_NONE + 1; f < FB_FAULT_COUNT && used < len; f++) {
    int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                     fault_names[f]);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

static const char *trim(const char *s, const char *end, const char **tend) {
  while (s < end && isspace((unsigned char)*s))
    s++;
  while (end > s && isspace((unsigned char)end[-1]))
    end--;
  *tend = end;
  return s;
}

int fb__faults_compile(struct fb__faults *f, const char *spec, char *err,
                       size_t errlen) {
  double prob[FB_FAULT_COUNT] = {0};
  unsigned char seen[FB_FAULT_COUNT] = {0};
  double sum = 0;
  const char *p = spec;

  memset(f, 0, sizeof(*f));
  if (spec == NULL || spec[strspn(spec, " \t")] == '\0')
    return 0;
  for (;;) {
    const char *end = strchr(p, ','), *eq, *name, *nend, *val, *vend;
    char num[64], *numend;
    int mode;
    double v;

    if (end == NULL)
      end = p + strlen(p);
    name = trim(p, end, &nend);
    if (name == nend) {
      snprintf(err, errlen, "fault spec '%s': empty entry", spec);
      return FB_ESPEC;
    }
    eq = memchr(name, '=', (size_t)(nend - name));
    if (eq == NULL) {
      snprintf(err, errlen, "fault '%.*s': missing '=probability'",
               (int)(nend - name), name);
      return FB_ESPEC;
    }
    val = trim(eq + 1, nend, &vend);
    name = trim(name, eq, &nend);
    mode = fb_fault_parse(name, (size_t)(nend - name));
    if (mode < 0) {
      char names[1024];
      valid_names(names, sizeof(names));
      snprintf(err, errlen, "unknown fault '%.*s' (valid: %s)",
               (int)(nend - name), name, names);
      return FB_ESPEC;
    }
    if (fb_fault_in_handshake((enum fb_fault)mode)) {
      char host[64];
      size_t i = 0;

      for (const char *n = fault_names[mode]; *n != '\0'; n++)
        host[i++] = *n == '_' ? '-' : *n;
      host[i] = '\0';
      snprintf(err, errlen,
               "fault '%s' is in the TLS handshake, before any request: ask "
               "for it with the server name %s.localhost",
               fault_names[mode], host);
      return FB_ESPEC;
    }
    if (seen[mode]) {
      snprintf(err, errlen, "fault '%s' given twice", fault_names[mode]);
      return FB_ESPEC;
    }
    seen[mode] = 1;
    if (val == vend || (size_t)(vend - val) >= sizeof(num)) {
      snprintf(err, errlen, "fault '%s': '%.*s' is not a probability",
               fault_names[mode], (int)(vend - val), val);
      return FB_ESPEC;
    }
    memcpy(num, val, (size_t)(vend - val));
    num[vend - val] = '\0';
    v = strtod(num, &numend);
    if (*numend != '\0' || !isfinite(v)) {
      snprintf(err, errlen, "fault '%s': '%s' is not a number",
               fault_names[mode], num);
      return FB_ESPEC;
    }
    if (v < 0 || v > 1) {
      snprintf(err, errlen, "fault '%s': probability %s is not in [0, 1]",
               fault_names[mode], num);
      return FB_ESPEC;
    }
    prob[mode] = v;
    sum += v;
    if (*end == '\0')
      break;
    p = end + 1;
  }
  if (sum > 1 + 1e-9) {
    snprintf(err, errlen, "fault probabilities sum to %g, more than 1", sum);
    return FB_ESPEC;
  }
  /* Cumulative slices in enum order: the order the spec was written in does
   * not change which request gets which fault.
   */
  sum = 0;
  for (int m = FB_FAULT_NONE + 1; m < FB_FAULT_COUNT; m++) {
    sum += prob[m];
    if (sum >= 1)
      f->upper[m] = UINT64_MAX;
    else
      f->upper[m] = (uint64_t)(sum * 0x1.0p64);
    if (prob[m] > 0)
      f->any = 1;
  }
  return 0;
}

int fb_origin_check_faults(const char *spec, char *err, size_t errlen) {
  struct fb__faults f;

  return fb__faults_compile(&f, spec, err, errlen);
}

enum fb_fault fb__faults_pick(const struct fb__faults *f, uint64_t seed,
                              const char *target, size_t len) {
  uint64_t h;

  if (!f->any)
    return FB_FAULT_NONE;
  h = XXH3_64bits_withSeed(target, len, seed);
  for (int m = FB_FAULT_NONE + 1; m < FB_FAULT_COUNT; m++)
    if (h < f->upper[m])
      return (enum fb_fault)m;
  return FB_FAULT_NONE;
}

unsigned fb__faults_jitter(unsigned delay_ms, unsigned jitter_ms, uint64_t seed,
                           const char *target, size_t len) {
  uint64_t h;
  int64_t d;

  if (jitter_ms == 0)
    return delay_ms;
  /* A different seed than fault selection, so the two stay independent. */
  h = XXH3_64bits_withSeed(target, len, seed ^ 0x6a09e667f3bcc909ULL);
  d = (int64_t)delay_ms + (int64_t)(h % (2 * (uint64_t)jitter_ms + 1)) -
      (int64_t)jitter_ms;
  return d < 0 ? 0 : (unsigned)d;
}
