/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void vmessage(const struct fb_cli_cmd *cmd, const char *fmt,
                     va_list ap) {
  if (cmd != NULL)
    fprintf(stderr, "fetchbench %s: ", cmd->name);
  else
    fprintf(stderr, "fetchbench: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int fb__cli_usage_error(const struct fb_cli_cmd *cmd, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vmessage(cmd, fmt, ap);
  va_end(ap);
  if (cmd != NULL)
    fprintf(stderr, "Try 'fetchbench %s --help'.\n", cmd->name);
  else
    fprintf(stderr, "Try 'fetchbench --help'.\n");
  return FB_EXIT_USAGE;
}

void fb__cli_error(const struct fb_cli_cmd *cmd, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  vmessage(cmd, fmt, ap);
  va_end(ap);
}

/* Every command's -h, --help: looked up and shown after its own options. */
static const struct fb_cli_opt help_opts[] = {
    {-1, "help", 'h', NULL, "show this help and exit"},
    {0},
};

/* The option tables of cmd in help order: its own, help, then the groups'.
 * NULL past the last.
 */
static const struct fb_cli_opt *table(const struct fb_cli_cmd *cmd, size_t t) {
  if (t == 0)
    return cmd->opts;
  if (t == 1)
    return help_opts;
  if (cmd->groups == NULL || cmd->groups[t - 2].heading == NULL)
    return NULL;
  return cmd->groups[t - 2].opts;
}

/* By long name (name, len) or, when name is NULL, by short name c. */
static const struct fb_cli_opt *find(const struct fb_cli_cmd *cmd,
                                     const char *name, size_t len, int c) {
  const struct fb_cli_opt *o;

  for (size_t t = 0; (o = table(cmd, t)) != NULL; t++)
    for (; o->name != NULL; o++)
      if (name != NULL
              ? strlen(o->name) == len && memcmp(o->name, name, len) == 0
              : o->short_name != 0 && o->short_name == c)
        return o;
  return NULL;
}

/* What next() returns for an operand. */
static const struct fb_cli_opt operand_opt = {FB_CLI_OPERAND, "", 0, "", ""};

/* Walks argv[1..] of a command. */
struct args {
  const struct fb_cli_cmd *cmd;
  int argc;
  char **argv;
  int i;
  int operands_only; /* after "--" */
};

/* The value of o: after '=' (eq), glued to a short option (glued), or the
 * next argument. Returns o, or NULL after a usage error.
 */
static const struct fb_cli_opt *take_value(struct args *a,
                                           const struct fb_cli_opt *o,
                                           const char *given, const char *as,
                                           const char **value) {
  if (o->metavar == NULL) {
    if (given == NULL)
      return o;
    if (as[1] == '-')
      fb__cli_usage_error(a->cmd, "%s takes no value", as);
    else
      fb__cli_usage_error(a->cmd, "unknown option '%s%s'", as, given);
    return NULL;
  }
  if (given != NULL) {
    *value = given;
    return o;
  }
  if (a->i >= a->argc) {
    fb__cli_usage_error(a->cmd, "%s needs a value (%s)", as, o->metavar);
    return NULL;
  }
  *value = a->argv[a->i++];
  return o;
}

/* The next option with its value in *value (NULL for flags); NULL when argv
 * is exhausted or, with *err set, after a usage error.
 */
static const struct fb_cli_opt *next(struct args *a, const char **value,
                                     int *err) {
  const struct fb_cli_opt *o;
  const char *arg;
  char as[64];

  *value = NULL;
  *err = 0;
  if (a->i >= a->argc)
    return NULL;
  arg = a->argv[a->i++];
  if (!a->operands_only && strcmp(arg, "--") == 0) {
    a->operands_only = 1;
    if (a->i >= a->argc)
      return NULL;
    arg = a->argv[a->i++];
  } else if (a->operands_only) {
    /* An operand, below. */
  } else if (arg[0] == '-' && arg[1] == '-' && arg[2] != '\0') {
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);

    o = find(a->cmd, arg + 2, len, 0);
    if (o == NULL) {
      fb__cli_usage_error(a->cmd, "unknown option '--%.*s'", (int)len, arg + 2);
      *err = 1;
      return NULL;
    }
    snprintf(as, sizeof(as), "--%s", o->name);
    o = take_value(a, o, eq != NULL ? eq + 1 : NULL, as, value);
    *err = o == NULL;
    return o;
  } else if (arg[0] == '-' && arg[1] != '\0') {
    o = find(a->cmd, NULL, 0, (unsigned char)arg[1]);
    if (o == NULL) {
      fb__cli_usage_error(a->cmd, "unknown option '-%c'", arg[1]);
      *err = 1;
      return NULL;
    }
    snprintf(as, sizeof(as), "-%c", arg[1]);
    o = take_value(a, o, arg[2] != '\0' ? arg + 2 : NULL, as, value);
    *err = o == NULL;
    return o;
  }
  if (a->cmd->operands != NULL) {
    *value = arg;
    return &operand_opt;
  }
  fb__cli_usage_error(a->cmd, "unexpected argument '%s'", arg);
  *err = 1;
  return NULL;
}

int fb__cli_parse(const struct fb_cli_cmd *cmd, int argc, char **argv,
                  const char **seen, size_t nseen,
                  int (*parse)(void *ctx, int id, const char *value),
                  void *ctx) {
  struct args a = {.cmd = cmd, .argc = argc, .argv = argv, .i = 1};
  const struct fb_cli_opt *o;
  const char *v;
  int err;

  while ((o = next(&a, &v, &err)) != NULL) {
    if (o == help_opts)
      return fb__cli_help(stdout, cmd) == 0 ? FB_EXIT_OK : FB_EXIT_USAGE;
    if (o == &operand_opt) {
      if (parse(ctx, FB_CLI_OPERAND, v) != 0)
        return FB_EXIT_USAGE;
      continue;
    }
    if (o->id < 0 || (size_t)o->id >= nseen)
      abort(); /* a table's id beyond the command's: a bug */
    if (seen[o->id] != NULL)
      return fb__cli_usage_error(cmd, "--%s given twice", o->name);
    seen[o->id] = v != NULL ? v : "";
    if (parse(ctx, o->id, v) != 0)
      return FB_EXIT_USAGE;
  }
  return err ? FB_EXIT_USAGE : FB_CLI_GO;
}

void fb__cli_wrap(FILE *out, int col, int indent, const char *text) {
  const char *p = text;

  while (*p != '\0') {
    size_t word = strcspn(p, " ");

    if (col > indent && col + 1 + (int)word > FB_CLI_WIDTH) {
      fprintf(out, "\n%*s", indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', out);
      col++;
    }
    fprintf(out, "%.*s", (int)word, p);
    col += (int)word;
    p += word;
    p += strspn(p, " ");
  }
  fputc('\n', out);
}

static void print_opt(FILE *out, const struct fb_cli_opt *o) {
  int n;

  if (o->short_name != 0)
    n = fprintf(out, "  -%c, --%s%s%s", o->short_name, o->name,
                o->metavar ? " " : "", o->metavar ? o->metavar : "");
  else
    n = fprintf(out, "      --%s%s%s", o->name, o->metavar ? " " : "",
                o->metavar ? o->metavar : "");
  if (n < 0)
    return;
  if (n >= 29)
    fprintf(out, "\n%30s", "");
  else
    fprintf(out, "%*s", 30 - n, "");
  fb__cli_wrap(out, 30, 30, o->help);
}

int fb__cli_help(FILE *out, const struct fb_cli_cmd *cmd) {
  const struct fb_cli_opt *o;

  fprintf(out, "Usage: fetchbench %s [OPTION]...%s%s\n%s\n\n%s\n\nOptions:\n",
          cmd->name, cmd->operands != NULL ? " " : "",
          cmd->operands != NULL ? cmd->operands : "", cmd->summary,
          cmd->description);
  for (size_t t = 0; (o = table(cmd, t)) != NULL; t++) {
    if (t >= 2)
      fprintf(out, "\n%s:\n", cmd->groups[t - 2].heading);
    for (; o->name != NULL; o++)
      print_opt(out, o);
  }
  fflush(out);
  return ferror(out) ? -EIO : 0;
}

/* Digits only, no overflow. Returns 0, -EINVAL or -ERANGE. */
static int parse_digits(const char *s, const char **end, uint64_t *out) {
  uint64_t v = 0;
  const char *p = s;

  if (*p < '0' || *p > '9')
    return -EINVAL;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -ERANGE;
    v = v * 10 + d;
  }
  *end = p;
  *out = v;
  return 0;
}

static int range_error(const struct fb_cli_cmd *cmd, const char *opt,
                       const char *s, uint64_t min, uint64_t max,
                       const char *what) {
  return fb__cli_usage_error(cmd, "%s: %s is out of range %llu..%llu%s%s", opt,
                             s, (unsigned long long)min,
                             (unsigned long long)max, what ? " " : "",
                             what ? what : "");
}

int fb__cli_u64(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                uint64_t min, uint64_t max, const char *what, uint64_t *out) {
  const char *end;
  uint64_t v;
  int err = parse_digits(s, &end, &v);

  if (err == -ERANGE)
    return range_error(cmd, opt, s, min, max, what);
  if (err != 0 || *end != '\0')
    return fb__cli_usage_error(cmd, "%s: '%s' is not a whole number", opt, s);
  if (v < min || v > max)
    return range_error(cmd, opt, s, min, max, what);
  *out = v;
  return 0;
}

int fb__cli_uint(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 unsigned min, unsigned max, unsigned *out) {
  uint64_t v;
  int err = fb__cli_u64(cmd, opt, s, min, max, NULL, &v);

  if (err == 0)
    *out = (unsigned)v;
  return err;
}

int fb__cli_long(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 long min, long max, long *out) {
  uint64_t v;
  int err;

  /* Every option that takes a long here is a non-negative count. */
  if (min < 0)
    min = 0;
  err = fb__cli_u64(cmd, opt, s, (uint64_t)min, (uint64_t)max, NULL, &v);
  if (err == 0)
    *out = (long)v;
  return err;
}

int fb__cli_bytes(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                  uint64_t min, uint64_t max, uint64_t *out) {
  static const struct {
    const char *suffix;
    unsigned shift;
  } units[] = {
      {"", 0},     {"B", 0},   {"k", 10},   {"K", 10},  {"KB", 10},
      {"KiB", 10}, {"kB", 10}, {"M", 20},   {"MB", 20}, {"MiB", 20},
      {"G", 30},   {"GB", 30}, {"GiB", 30},
  };
  const char *end;
  uint64_t v;
  int err = parse_digits(s, &end, &v);

  if (err == -ERANGE)
    return range_error(cmd, opt, s, min, max, NULL);
  if (err != 0)
    return fb__cli_usage_error(
        cmd, "%s: '%s' is not a byte count (e.g. 65536, 64k, 16M, 1G)", opt, s);
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (strcmp(end, units[i].suffix) != 0)
      continue;
    if (v > (UINT64_MAX >> units[i].shift))
      return range_error(cmd, opt, s, min, max, NULL);
    v <<= units[i].shift;
    if (v < min || v > max)
      return range_error(cmd, opt, s, min, max, NULL);
    *out = v;
    return 0;
  }
  return fb__cli_usage_error(
      cmd, "%s: '%s' is not a byte count (e.g. 65536, 64k, 16M, 1G)", opt, s);
}

int fb__cli_rate(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 double max, double *out) {
  double v = 0, scale = 0.1;
  const char *p = s;
  int digits = 0;

  for (; *p >= '0' && *p <= '9'; p++, digits++)
    v = v * 10 + (*p - '0');
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++, digits++, scale /= 10)
      v += (*p - '0') * scale;
  if (digits == 0 || *p != '\0' || digits > 18)
    return fb__cli_usage_error(
        cmd, "%s: '%s' is not a rate (requests per second, e.g. 100 or 0.5)",
        opt, s);
  if (!(v > 0) || v > max)
    return fb__cli_usage_error(cmd,
                               "%s: %s is out of range (more than 0, at most "
                               "%.0f requests per second)",
                               opt, s, max);
  *out = v;
  return 0;
}

int fb__cli_fraction(const struct fb_cli_cmd *cmd, const char *opt,
                     const char *s, double *out) {
  double v = 0, scale = 0.1;
  const char *p = s;
  int digits = 0;

  for (; *p >= '0' && *p <= '9'; p++, digits++)
    v = v * 10 + (*p - '0');
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++, digits++, scale /= 10)
      v += (*p - '0') * scale;
  if (digits == 0 || *p != '\0' || digits > 18)
    return fb__cli_usage_error(cmd, "%s: '%s' is not a number", opt, s);
  if (v > 1.0)
    return fb__cli_usage_error(cmd, "%s: %s is out of range 0..1", opt, s);
  *out = v;
  return 0;
}

int fb__cli_list(const struct fb_cli_cmd *cmd, const char *opt, const char *s,
                 char **items, size_t max, size_t *n, char **storage) {
  char *copy, *p;

  *n = 0;
  *storage = NULL;
  if (*s == '\0')
    return fb__cli_usage_error(cmd, "%s: empty list", opt);
  copy = strdup(s);
  if (copy == NULL) {
    fb__cli_error(cmd, "out of memory");
    return FB_EXIT_USAGE;
  }
  for (p = copy;;) {
    char *comma = strchr(p, ',');

    if (comma != NULL)
      *comma = '\0';
    if (*p == '\0') {
      free(copy);
      return fb__cli_usage_error(cmd, "%s: empty item in list '%s'", opt, s);
    }
    if (*n == max) {
      free(copy);
      return fb__cli_usage_error(cmd, "%s: more than %zu items in '%s'", opt,
                                 max, s);
    }
    for (size_t i = 0; i < *n; i++)
      if (strcmp(items[i], p) == 0) {
        fb__cli_usage_error(cmd, "%s: '%s' appears twice", opt, p);
        free(copy);
        return FB_EXIT_USAGE;
      }
    items[(*n)++] = p;
    if (comma == NULL)
      break;
    p = comma + 1;
  }
  *storage = copy;
  return 0;
}

const struct fb_engine *fb__cli_engine(const struct fb_cli_cmd *cmd,
                                       const char *opt, const char *name) {
  const struct fb_engine *e = fb_engine_find(name);
  char valid[256];
  size_t used = 0;

  if (e != NULL)
    return e;
  valid[0] = '\0';
  for (size_t i = 0; fb_engines[i] != NULL && used < sizeof(valid); i++) {
    int n = snprintf(valid + used, sizeof(valid) - used, "%s%s",
                     i > 0 ? ", " : "", fb_engines[i]->name);
    if (n < 0)
      break;
    used += (size_t)n;
  }
  fb__cli_usage_error(cmd, "%s: unknown engine '%s' (valid: %s)", opt, name,
                      valid);
  return NULL;
}

int fb__cli_connection(const struct fb_cli_cmd *cmd, const char *opt,
                       const char *s, enum fb_connection *out) {
  if (strcmp(s, "reuse") == 0)
    *out = FB_CONN_REUSE;
  else if (strcmp(s, "fresh") == 0)
    *out = FB_CONN_FRESH;
  else
    return fb__cli_usage_error(cmd, "%s: '%s' is not reuse or fresh", opt, s);
  return 0;
}
