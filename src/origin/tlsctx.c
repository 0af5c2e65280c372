/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/error.h"
#include "origin/origin_int.h"
#include "tls/tls.h"

/* The origin's TLS server: its certificate (loaded, or made at start), the
 * certificates of the tls_wrong_name and tls_expired faults, the PEM file
 * clients trust them through, and the context every connection shares.
 */

int fb__tlsctx_init(struct fb_origin *o, const struct fb_origin_config *cfg,
                    char *err, size_t errlen) {
  /* The expired certificate names its fault's host, so that its date is
   * the only thing wrong with it there. Each has a subject of its own: a
   * verifier finds a certificate's issuer in its trust store by subject,
   * and would find the wrong one of three "CN=fetchbench".
   */
  static const char *const expired_names[] = {"tls-expired.localhost", NULL};
  const struct fb_tls_cert_opts expired = {.kind = FB_TLS_CERT_EXPIRED,
                                           .dns_names = expired_names,
                                           .common_name =
                                               "fetchbench tls_expired fault"};
  const struct fb_tls_cert_opts other = {.kind = FB_TLS_CERT_OTHER_NAME,
                                         .common_name =
                                             "fetchbench tls_wrong_name fault"};
  struct fb__tlsserver *s = &o->tls;
  struct fb_tls_server_opts so = {0};
  const struct fb_tls_cert *pem[3];
  const char *step = "";
  char msg[512] = "";
  int rc;

  if ((cfg->cert_file == NULL) != (cfg->key_file == NULL)) {
    snprintf(err, errlen,
             "origin: a certificate file and a key file go "
             "together (--cert and --key)");
    return FB_EUSAGE;
  }
  if (cfg->cert_file != NULL) {
    rc = fb_tls_cert_load(&s->cert, cfg->cert_file, cfg->key_file, msg,
                          sizeof(msg));
  } else {
    rc = fb_tls_cert_generate(&s->cert, NULL, msg, sizeof(msg));
    s->generated = 1;
  }
  if (rc == 0)
    rc = fb_tls_cert_generate(&s->expired, &expired, msg, sizeof(msg));
  if (rc == 0)
    rc = fb_tls_cert_generate(&s->other_name, &other, msg, sizeof(msg));
  if (rc == 0 && cfg->cert_out != NULL) {
    pem[0] = s->cert;
    pem[1] = s->expired;
    pem[2] = s->other_name;
    rc = fb_tls_cert_write_pem(pem, 3, cfg->cert_out, msg, sizeof(msg));
    step = "writing the certificates' PEM: ";
    if (rc == 0 && (s->cert_out = strdup(cfg->cert_out)) == NULL)
      rc = -ENOMEM;
  }
  if (rc == 0) {
    so.cert = s->cert;
    so.no_resume = !cfg->tls_resume;
    so.sni = fb__tlsconn_sni;
    so.sni_arg = o;
    rc = fb_tls_ctx_server(&s->ctx, &so, msg, sizeof(msg));
  }
  if (rc == 0 && (s->buf = malloc(FB__READ_BUF)) == NULL)
    rc = -ENOMEM;
  if (rc != 0) {
    snprintf(err, errlen, "origin: %s%s", step, msg[0] ? msg : fb_strerror(rc));
    return rc;
  }
  s->ktls = fb_tls_ktls_available();
  return 0;
}

void fb__tlsctx_free(struct fb_origin *o) {
  struct fb__tlsserver *s = &o->tls;

  fb_tls_ctx_destroy(s->ctx);
  fb_tls_cert_destroy(s->cert);
  fb_tls_cert_destroy(s->expired);
  fb_tls_cert_destroy(s->other_name);
  free(s->cert_out);
  free(s->buf);
  memset(s, 0, sizeof(*s));
}

char *fb_origin_describe(const struct fb_origin *o, char *buf, size_t len) {
  const struct fb__tlsserver *s = &o->tls;

  if (s->ctx == NULL) {
    snprintf(buf, len,
             "plain HTTP; bodies of %u KiB and more with sendfile from the "
             "corpus memfd, smaller ones in one sendmsg with their head",
             FB__SENDFILE_MIN >> 10);
    return buf;
  }
  snprintf(
      buf, len,
      "TLS 1.2 and 1.3, ALPN http/1.1, resumption %s; certificate: %s%s%s; "
      "bodies with SSL_write from the corpus mapping (kTLS: %s)",
      o->cfg.tls_resume ? "on" : "off",
      s->generated ? "made at start (EC P-256, for 127.0.0.1, ::1, "
                     "localhost)"
                   : "loaded",
      s->cert_out != NULL ? ", PEM in " : "",
      s->cert_out != NULL ? s->cert_out : "",
      s->ktls > 0    ? "the kernel has it, memory BIOs cannot use it"
      : s->ktls == 0 ? "not in this kernel"
                     : "unknown");
  return buf;
}
