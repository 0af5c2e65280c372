/* SPDX-License-Identifier: MIT */
/* Test helper: runs the origin with flags and prints its base URL as the
 * first line on stdout, or runs one of the small tools the origin tests need.
 *
 *   origin-helper [OPTIONS]             serve in this process until SIGTERM
 *   origin-helper --spawn [OPTIONS]     serve from fb_origin_spawn's child;
 *                                       prints the URL, then "pid N"; on
 *                                       SIGTERM reaps it, prints "reap RC"
 *   origin-helper dump DIR [--corpus C] write the corpus below DIR
 *   origin-helper sizes [--corpus C]    print "SIZE PATH" per page
 *   origin-helper check-faults SPEC     print "ok" or the error (exit 1)
 *   origin-helper pick SPEC SEED TARGET...  print the fault of each target
 *   origin-helper make-cert CERT KEY    write a fresh certificate (for
 *                                       127.0.0.1, ::1, localhost) and key
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetchbench/corpus.h"
#include "fetchbench/error.h"
#include "fetchbench/machine.h"
#include "fetchbench/origin.h"
#include "origin/corpus_int.h"
#include "origin/origin_int.h"
#include "tls/tls.h"

static int usage(void) {
  fprintf(stderr, "usage: origin-helper [--spawn] [--corpus C] [--delay MS] "
                  "[--jitter MS] [--rate B/S] [--faults SPEC] [--seed N] "
                  "[--max-connections N] [--header-timeout MS] "
                  "[--idle-timeout MS] [--max-header-bytes N] "
                  "[--max-write-queue N] [--cpu N] [--port N] [--rtt MS] "
                  "[--tls [--cert F --key F] [--cert-out F] "
                  "[--tls-resume 0|1] [--handshake-timeout MS] "
                  "[--max-handshakes N]]\n");
  return 2;
}

static int mkdirs(char *path) {
  for (char *p = path + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  return 0;
}

static int dump(const char *dir, const char *corpus, uint64_t seed) {
  struct fb_corpus *c;
  char err[512];
  int rc = fb__corpus_open(&c, corpus, seed, err, sizeof(err));

  if (rc < 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  for (size_t i = 0; i < fb_corpus_count(c); i++) {
    const struct fb_page *p = fb_corpus_page(c, i);
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, p->path);
    if (mkdirs(path) < 0 || (f = fopen(path, "wb")) == NULL) {
      perror(path);
      return 1;
    }
    if (fwrite(p->body, 1, p->len, f) != p->len || fclose(f) != 0) {
      perror(path);
      return 1;
    }
  }
  fb_corpus_destroy(c);
  return 0;
}

static int sizes(const char *corpus, uint64_t seed) {
  struct fb_corpus *c;
  char err[512];
  int rc = fb__corpus_open(&c, corpus, seed, err, sizeof(err));

  if (rc < 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  for (size_t i = 0; i < fb_corpus_count(c); i++) {
    const struct fb_page *p = fb_corpus_page(c, i);
    printf("%zu %016llx %s\n", p->len, (unsigned long long)p->xxh3, p->path);
  }
  fb_corpus_destroy(c);
  return 0;
}

static int pick(int argc, char **argv) {
  struct fb__faults f;
  char err[2048];
  uint64_t seed;

  if (argc < 3)
    return usage();
  if (fb__faults_compile(&f, argv[0], err, sizeof(err)) < 0) {
    printf("%s\n", err);
    return 1;
  }
  seed = strtoull(argv[1], NULL, 0);
  for (int i = 2; i < argc; i++)
    printf("%s\n",
           fb_fault_name(fb__faults_pick(&f, seed, argv[i], strlen(argv[i]))));
  return 0;
}

static int make_cert(const char *cert_file, const char *key_file) {
  struct fb_tls_cert *cert;
  const struct fb_tls_cert *list[1];
  char err[512];
  int rc = fb_tls_cert_generate(&cert, NULL, err, sizeof(err));

  if (rc == 0) {
    list[0] = cert;
    rc = fb_tls_cert_write_pem(list, 1, cert_file, err, sizeof(err));
    if (rc == 0)
      rc = fb_tls_cert_write_key_pem(cert, key_file, err, sizeof(err));
    fb_tls_cert_destroy(cert);
  }
  if (rc != 0)
    fprintf(stderr, "origin-helper: %s\n", err);
  return rc == 0 ? 0 : 1;
}

static int spawned(struct fb_origin_config *cfg) {
  struct fb_origin_proc p;
  char err[512];
  sigset_t set;
  int sig, rc;

  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  rc = fb_origin_spawn(&p, cfg, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "origin-helper: %s\n", err);
    return 1;
  }
  printf("%s\npid %d\n", p.base_url, (int)p.pid);
  fflush(stdout);
  sigwait(&set, &sig);
  rc = fb_origin_reap(&p);
  printf("reap %d\n", rc);
  return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"corpus", required_argument, NULL, 'c'},
      {"delay", required_argument, NULL, 'd'},
      {"jitter", required_argument, NULL, 'j'},
      {"rate", required_argument, NULL, 'r'},
      {"faults", required_argument, NULL, 'f'},
      {"seed", required_argument, NULL, 's'},
      {"max-connections", required_argument, NULL, 'm'},
      {"header-timeout", required_argument, NULL, 'H'},
      {"idle-timeout", required_argument, NULL, 'I'},
      {"max-header-bytes", required_argument, NULL, 'B'},
      {"max-write-queue", required_argument, NULL, 'Q'},
      {"cpu", required_argument, NULL, 'C'},
      {"port", required_argument, NULL, 'p'},
      {"host", required_argument, NULL, 'h'},
      {"spawn", no_argument, NULL, 'S'},
      {"rtt", required_argument, NULL, 'R'},
      {"tls", no_argument, NULL, 'T'},
      {"cert", required_argument, NULL, 'e'},
      {"key", required_argument, NULL, 'k'},
      {"cert-out", required_argument, NULL, 'o'},
      {"tls-resume", required_argument, NULL, 'u'},
      {"handshake-timeout", required_argument, NULL, 'W'},
      {"max-handshakes", required_argument, NULL, 'M'},
      {NULL, 0, NULL, 0},
  };
  struct fb_origin_config cfg;
  struct fb_origin *o;
  char err[2048];
  int opt, spawn = 0, rc;
  sigset_t set;

  fb_origin_config_init(&cfg);
  while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      cfg.corpus = optarg;
      break;
    case 'd':
      cfg.delay_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'j':
      cfg.jitter_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'r':
      cfg.rate = strtoull(optarg, NULL, 10);
      break;
    case 'f':
      cfg.faults = optarg;
      break;
    case 's':
      cfg.seed = strtoull(optarg, NULL, 0);
      break;
    case 'm':
      cfg.max_connections = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'H':
      cfg.header_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'I':
      cfg.idle_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'B':
      cfg.max_header_bytes = strtoul(optarg, NULL, 10);
      break;
    case 'Q':
      cfg.max_write_queue = strtoul(optarg, NULL, 10);
      break;
    case 'C':
      cfg.cpu = (int)strtol(optarg, NULL, 10);
      break;
    case 'p':
      cfg.port = (int)strtol(optarg, NULL, 10);
      break;
    case 'h':
      cfg.host = optarg;
      break;
    case 'S':
      spawn = 1;
      break;
    case 'R':
      cfg.rtt_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'T':
      cfg.tls = 1;
      break;
    case 'e':
      cfg.cert_file = optarg;
      break;
    case 'k':
      cfg.key_file = optarg;
      break;
    case 'o':
      cfg.cert_out = optarg;
      break;
    case 'u':
      cfg.tls_resume = (int)strtol(optarg, NULL, 10);
      break;
    case 'W':
      cfg.handshake_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'M':
      cfg.max_handshakes = (unsigned)strtoul(optarg, NULL, 10);
      break;
    default:
      return usage();
    }
  }
  argc -= optind;
  argv += optind;
  if (argc > 0) {
    if (strcmp(argv[0], "dump") == 0 && argc == 2)
      return dump(argv[1], cfg.corpus, cfg.seed);
    if (strcmp(argv[0], "sizes") == 0 && argc == 1)
      return sizes(cfg.corpus, cfg.seed);
    if (strcmp(argv[0], "check-faults") == 0 && argc == 2) {
      rc = fb_origin_check_faults(argv[1], err, sizeof(err));
      printf("%s\n", rc == 0 ? "ok" : err);
      return rc == 0 ? 0 : 1;
    }
    if (strcmp(argv[0], "pick") == 0)
      return pick(argc - 1, argv + 1);
    if (strcmp(argv[0], "make-cert") == 0 && argc == 3)
      return make_cert(argv[1], argv[2]);
    return usage();
  }
  /* OpenSSL's heap, counted for /__stats (memory per TLS connection): from
   * before anything of OpenSSL's is allocated.
   */
  if (cfg.tls && fb_tls_mem_count_start() != 0)
    fprintf(stderr, "origin-helper: cannot count OpenSSL's memory\n");
  if (spawn)
    return spawned(&cfg);
  /* Blocked until fb_origin_run handles them: a SIGTERM right after the URL
   * is printed still stops the origin cleanly.
   */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  if (cfg.cpu >= 0 && fb_pin_self(cfg.cpu) < 0)
    fprintf(stderr, "origin-helper: cannot pin to CPU %d\n", cfg.cpu);
  rc = fb_origin_create(&o, &cfg, err, sizeof(err));
  if (rc < 0) {
    fprintf(stderr, "origin-helper: %s\n", err);
    return 1;
  }
  printf("%s://127.0.0.1:%d\n", cfg.tls ? "https" : "http", fb_origin_port(o));
  fflush(stdout);
  fprintf(stderr, "origin-helper: %s\n", fb_origin_describe(o, err, 512));
  rc = fb_origin_run(o, 1);
  fb_origin_destroy(o);
  return rc == 0 ? 0 : 1;
}
