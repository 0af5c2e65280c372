/* SPDX-License-Identifier: MIT */
#include <sched.h>
#include <string.h>

#include "cli.h"

enum {
  O_HOST,
  O_PORT,
  O_CORPUS,
  O_DELAY,
  O_JITTER,
  O_RATE,
  O_FAULT,
  O_SEED,
  O_MAX_CONNECTIONS,
  O_HEADER_TIMEOUT,
  O_IDLE_TIMEOUT,
  O_CPU,
  O_RTT,
  O_TLS,
  O_CERT,
  O_KEY,
  O_CERT_OUT,
  O_TLS_RESUME,
  O_HANDSHAKE_TIMEOUT,
  O_MAX_HANDSHAKES,
  O_COUNT,
};

static const struct fb_cli_opt origin_opts[] = {
    {O_HOST, "host", 0, "ADDR", "address to bind (default 127.0.0.1)"},
    {O_PORT, "port", 'p', "N", "port to bind (default 0: any free port)"},
    {O_CORPUS, "corpus", 0, "DIR|synthetic",
     "pages to serve (default: the Django docs when installed, else "
     "synthetic)"},
    {O_DELAY, "delay", 'd', "MS",
     "delay before the first byte of every response (default 0)"},
    {O_JITTER, "jitter", 0, "MS", "delay varies by +/- MS (default 0)"},
    {O_RATE, "rate", 0, "BYTES/S",
     "pace every body at this rate, e.g. 1M (default: unlimited)"},
    {O_FAULT, "fault", 0, "SPEC",
     "faults by probability, e.g. reset=0.01,stall=0.002"},
    {O_SEED, "seed", 0, "N",
     "seed for jitter, faults and the synthetic corpus (default 1)"},
    {O_MAX_CONNECTIONS, "max-connections", 0, "N",
     "connections beyond N are closed (default 20000)"},
    {O_HEADER_TIMEOUT, "header-timeout", 0, "MS",
     "a request's headers must arrive within MS (default 10000)"},
    {O_IDLE_TIMEOUT, "idle-timeout", 0, "MS",
     "idle keep-alive connections are closed after MS (default 60000)"},
    {O_CPU, "cpu", 0, "N", "pin the server to CPU N"},
    {O_RTT, "rtt", 0, "MS",
     "emulated round trip: each flight the origin sends leaves MS after the "
     "client's, a new connection's first one MS later still (default 0)"},
    {O_TLS, "tls", 0, NULL, "serve HTTPS (TLS 1.2 and 1.3) instead of HTTP"},
    {O_CERT, "cert", 0, "FILE",
     "with --tls: PEM certificate to present (with --key; default: a fresh "
     "EC P-256 one for 127.0.0.1, ::1 and localhost)"},
    {O_KEY, "key", 0, "FILE", "with --tls: PEM private key of --cert"},
    {O_CERT_OUT, "cert-out", 0, "FILE",
     "with --tls: write the certificates' PEM here, for clients to trust "
     "(--cacert FILE)"},
    {O_TLS_RESUME, "tls-resume", 0, "on|off",
     "with --tls: session tickets and IDs (default on)"},
    {O_HANDSHAKE_TIMEOUT, "handshake-timeout", 0, "MS",
     "with --tls: a TLS handshake must end within MS (default 10000)"},
    {O_MAX_HANDSHAKES, "max-handshakes", 0, "N",
     "with --tls: handshakes at once; more connections wait, unread "
     "(default 256)"},
    {0},
};

static int origin_main(int argc, char **argv);

#define FAULT_LINE(NAME, name, desc) "\n  " #name ": " desc

static const char description[] =
    "An HTTP/1.1 server (libuv + llhttp) that serves the corpus with the "
    "given\nlatency, round trips, bandwidth and faults, over TCP or TLS. It "
    "prints its\nbase URL as the first line on standard output and serves "
    "until SIGINT or\nSIGTERM; with --tls, a line on standard error says how "
    "(the certificate,\nwhere its PEM went, the path bodies take).\n\n"
    "Every request may override the settings in its query string: "
    "delay=MS,\njitter=MS, rate=BYTES_PER_S, rtt=MS, fault=NAME; GET "
    "/__index lists the\npages, GET /__stats the counters.\n\n"
    "Faults, for --fault NAME=P,... and ?fault=NAME (those of the TLS\n"
    "handshake only by server name, e.g. "
    "https://tls-stall.localhost:PORT/):" FB_FAULT_MAP(
        FAULT_LINE) "\n\nExit status: 0 after a signal; 2 for a usage error, "
                    "an invalid "
                    "fault\nspec, an unreadable corpus, certificate or key, or "
                    "an address "
                    "that cannot\nbe bound.";

const struct fb_cli_cmd fb__cmd_origin = {
    .name = "origin",
    .summary = "Serve a corpus on loopback like a slow website.",
    .description = description,
    .opts = origin_opts,
    .main = origin_main,
};

/* The option a certificate error is about: the TLS layer's messages start
 * with the kind of file they name.
 */
static const char *cert_option(const char *err) {
  if (strstr(err, ": certificate file ") != NULL)
    return "--cert: ";
  if (strstr(err, ": key file ") != NULL)
    return "--key: ";
  if (strstr(err, ": writing the certificates' PEM") != NULL)
    return "--cert-out: ";
  return "";
}

static const char *opt_name(int id) {
  for (const struct fb_cli_opt *o = origin_opts; o->name != NULL; o++)
    if (o->id == id)
      return o->name;
  return "?";
}

static void list_faults(void) {
  fprintf(stderr, "Faults:");
  for (int f = 1; f < FB_FAULT_COUNT; f++)
    fprintf(stderr, "%s%s", f > 1 ? ", " : " ", fb_fault_name(f));
  fputc('\n', stderr);
}

static int parse_value(void *ctx, int o, const char *v) {
  const struct fb_cli_cmd *cmd = &fb__cmd_origin;
  struct fb_origin_config *cfg = ctx;
  char err[256] = "";
  unsigned u;
  int rc;

  switch (o) {
  case O_HOST:
    cfg->host = v;
    return 0;
  case O_PORT:
    rc = fb__cli_uint(cmd, "--port", v, 0, 65535, &u);
    cfg->port = (int)u;
    return rc;
  case O_CORPUS:
    cfg->corpus = v;
    return 0;
  case O_DELAY:
    return fb__cli_uint(cmd, "--delay", v, 0, 600000, &cfg->delay_ms);
  case O_JITTER:
    return fb__cli_uint(cmd, "--jitter", v, 0, 600000, &cfg->jitter_ms);
  case O_RATE:
    return fb__cli_bytes(cmd, "--rate", v, 1, 1ULL << 40, &cfg->rate);
  case O_FAULT:
    if (fb_origin_check_faults(v, err, sizeof(err)) != 0) {
      fb__cli_usage_error(cmd, "--fault: '%s': %s", v,
                          err[0] ? err : "invalid fault spec");
      list_faults();
      return FB_EXIT_USAGE;
    }
    cfg->faults = v;
    return 0;
  case O_SEED:
    return fb__cli_u64(cmd, "--seed", v, 0, UINT64_MAX, NULL, &cfg->seed);
  case O_MAX_CONNECTIONS:
    return fb__cli_uint(cmd, "--max-connections", v, 1, 1000000,
                        &cfg->max_connections);
  case O_HEADER_TIMEOUT:
    return fb__cli_uint(cmd, "--header-timeout", v, 1, 3600000,
                        &cfg->header_timeout_ms);
  case O_IDLE_TIMEOUT:
    return fb__cli_uint(cmd, "--idle-timeout", v, 1, 86400000,
                        &cfg->idle_timeout_ms);
  case O_CPU:
    rc = fb__cli_uint(cmd, "--cpu", v, 0, CPU_SETSIZE - 1, &u);
    cfg->cpu = (int)u;
    return rc;
  case O_RTT:
    return fb__cli_uint(cmd, "--rtt", v, 0, 60000, &cfg->rtt_ms);
  case O_TLS:
    cfg->tls = 1;
    return 0;
  case O_CERT:
    cfg->cert_file = v;
    return 0;
  case O_KEY:
    cfg->key_file = v;
    return 0;
  case O_CERT_OUT:
    cfg->cert_out = v;
    return 0;
  case O_TLS_RESUME:
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
      return fb__cli_usage_error(cmd, "--tls-resume: '%s' is not on or off", v);
    cfg->tls_resume = strcmp(v, "on") == 0;
    return 0;
  case O_HANDSHAKE_TIMEOUT:
    return fb__cli_uint(cmd, "--handshake-timeout", v, 1, 3600000,
                        &cfg->handshake_timeout_ms);
  case O_MAX_HANDSHAKES:
    return fb__cli_uint(cmd, "--max-handshakes", v, 1, 1000000,
                        &cfg->max_handshakes);
  default:
    return 0;
  }
}

static int origin_main(int argc, char **argv) {
  const struct fb_cli_cmd *cmd = &fb__cmd_origin;
  struct fb_origin_config cfg;
  struct fb_origin *o = NULL;
  const char *seen[O_COUNT] = {0};
  char err[512] = "";
  int rc, status;

  fb_origin_config_init(&cfg);
  status = fb__cli_parse(cmd, argc, argv, seen, O_COUNT, parse_value, &cfg);
  if (status != FB_CLI_GO)
    return status;
  status = FB_EXIT_USAGE;
  if (cfg.cpu >= 0) {
    rc = fb_pin_self(cfg.cpu);
    if (rc != 0) {
      fb__cli_error(cmd, "--cpu: cannot pin to CPU %d: %s", cfg.cpu,
                    fb_strerror(rc));
      return FB_EXIT_USAGE;
    }
  }
  if (!cfg.tls) {
    static const int tls_only[] = {
        O_CERT,          O_KEY, O_CERT_OUT, O_TLS_RESUME, O_HANDSHAKE_TIMEOUT,
        O_MAX_HANDSHAKES};

    for (size_t i = 0; i < sizeof(tls_only) / sizeof(tls_only[0]); i++)
      if (seen[tls_only[i]] != NULL)
        return fb__cli_usage_error(cmd, "--%s needs --tls",
                                   opt_name(tls_only[i]));
  }
  if ((seen[O_CERT] == NULL) != (seen[O_KEY] == NULL))
    return fb__cli_usage_error(cmd, "--cert and --key go together");
  rc = fb_origin_create(&o, &cfg, err, sizeof(err));
  if (rc != 0) {
    fb__cli_error(cmd, "%s%s", cert_option(err),
                  err[0] ? err : fb_strerror(rc));
    return FB_EXIT_USAGE;
  }
  printf("%s://%s%s%s:%d\n", cfg.tls ? "https" : "http",
         strchr(cfg.host, ':') != NULL ? "[" : "", cfg.host,
         strchr(cfg.host, ':') != NULL ? "]" : "", fb_origin_port(o));
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fb__cli_error(cmd, "cannot write the base URL to standard output");
    goto out;
  }
  if (cfg.tls)
    fprintf(stderr, "fetchbench origin: %s\n",
            fb_origin_describe(o, err, sizeof(err)));
  rc = fb_origin_run(o, 1);
  if (rc != 0) {
    fb__cli_error(cmd, "server failed: %s", fb_strerror(rc));
    status = 1;
    goto out;
  }
  status = FB_EXIT_OK;
out:
  fb_origin_destroy(o);
  return status;
}
