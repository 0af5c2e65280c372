/* SPDX-License-Identifier: MIT */
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"

static const struct fb_cli_cmd *const commands[] = {
    &fb__cmd_run,
    &fb__cmd_compare,
    &fb__cmd_origin,
    &fb__cmd_report,
    &fb__cmd_diff,
    &fb__cmd_merge,
    NULL,
};

static const struct fb_cli_cmd *find_command(const char *name) {
  for (size_t i = 0; commands[i] != NULL; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

static int usage(FILE *out) {
  fprintf(out,
          "Usage: fetchbench COMMAND [OPTION]...\n"
          "How one thread, a pool of threads, a pool of processes and event "
          "loops (libcurl's\nmulti interface, raw libuv, io_uring) compare on "
          "an I/O-bound job: fetching web\npages over HTTPS.\n\n"
          "Commands:\n");
  for (size_t i = 0; commands[i] != NULL; i++)
    fprintf(out, "  %-10s%s\n", commands[i]->name, commands[i]->summary);
  fprintf(out, "  %-10s%s\n", "help", "Show the help of a command.");
  fprintf(out, "\nEngines:\n");
  for (size_t i = 0; fb_engines[i] != NULL; i++) {
    char text[512], why[256];

    snprintf(text, sizeof(text), "%s (workers 1..%u)", fb_engines[i]->summary,
             fb_engines[i]->max_workers);
    /* Said where the list is read: scripts leave such an engine out. */
    if (fb_engine_available(fb_engines[i], why, sizeof(why)) != 0)
      snprintf(text, sizeof(text), "%s (workers 1..%u); unavailable here: %s",
               fb_engines[i]->summary, fb_engines[i]->max_workers, why);
    fprintf(out, "  %-12s", fb_engines[i]->name);
    fb__cli_wrap(out, 14, 14, text);
  }
  fprintf(out,
          "\nOptions:\n"
          "  -h, --help    show this help and exit\n"
          "  -V, --version show the version and exit\n\n"
          "With no options, `fetchbench run` is the original experiment: the "
          "ten pages of\nthe Django documentation from an embedded origin "
          "over HTTPS with 70 ms of delay\nand a new connection per page, and "
          "`fetchbench compare` runs it with every\nengine at 1, 2, 4, 8 and "
          "16 workers.\n"
          "Run 'fetchbench COMMAND --help' for a command's options.\n\n"
          "Exit status: 0 success; 1 some requests failed; 2 usage, input "
          "or output\nerror; 130/143 cancelled by SIGINT/SIGTERM.\n");
  fflush(out);
  return ferror(out) ? FB_EXIT_USAGE : FB_EXIT_OK;
}

static int dispatch(int argc, char **argv) {
  const struct fb_cli_cmd *cmd;

  if (argc < 2) {
    usage(stderr);
    return FB_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
    return usage(stdout);
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    printf("fetchbench %s (%s)\n", fb_version(), curl_version());
    return fflush(stdout) == 0 && !ferror(stdout) ? FB_EXIT_OK : FB_EXIT_USAGE;
  }
  if (strcmp(argv[1], "help") == 0) {
    if (argc == 2)
      return usage(stdout);
    if (argc > 3)
      return fb__cli_usage_error(NULL, "help takes one command name");
    cmd = find_command(argv[2]);
    if (cmd == NULL)
      return fb__cli_usage_error(NULL, "unknown command '%s'", argv[2]);
    return fb__cli_help(stdout, cmd) == 0 && fflush(stdout) == 0
               ? FB_EXIT_OK
               : FB_EXIT_USAGE;
  }
  if (argv[1][0] == '-')
    return fb__cli_usage_error(NULL, "unknown option '%s'", argv[1]);
  cmd = find_command(argv[1]);
  if (cmd == NULL)
    return fb__cli_usage_error(NULL, "unknown command '%s'", argv[1]);
  return cmd->main(argc - 1, argv + 1);
}

/* libcurl converts an international host name (http://bücher.localhost/)
 * with libidn2 from the locale's character set, and a program starts in the
 * "C" locale, where such a name fails to convert. Host names come in UTF-8
 * (URL lists, RFC 3987), so when the environment names no UTF-8 locale, the
 * C.UTF-8 one glibc always has is taken. Only the character type: numbers
 * in reports keep their decimal point.
 */
static void set_ctype(void) {
  const char *cs;

  if (setlocale(LC_CTYPE, "") == NULL)
    setlocale(LC_CTYPE, "C");
  cs = nl_langinfo(CODESET);
  if (cs == NULL || (strcmp(cs, "UTF-8") != 0 && strcmp(cs, "utf8") != 0))
    setlocale(LC_CTYPE, "C.UTF-8");
}

int main(int argc, char **argv) {
  CURLcode code;
  int status;

  set_ctype();
  fb__signals_ignore_pipe();
  /* The origin's /__stats reports OpenSSL's heap (memory per TLS
   * connection): counting must start before libcurl loads OpenSSL. */
  if (argc > 1 && strcmp(argv[1], "origin") == 0)
    (void)fb_origin_count_tls_heap();
  /* Once, before any engine, thread or fork. */
  code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    fprintf(stderr, "fetchbench: curl_global_init failed: %s\n",
            curl_easy_strerror(code));
    return FB_EXIT_USAGE;
  }
  status = dispatch(argc, argv);
  curl_global_cleanup();
  return status;
}
