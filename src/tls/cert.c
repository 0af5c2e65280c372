/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fetchbench/error.h"
#include "tls/tls_int.h"

#define DAY (24L * 60 * 60)

static struct fb_tls_cert *cert_alloc(void) {
  return OPENSSL_zalloc(sizeof(struct fb_tls_cert));
}

void fb_tls_cert_destroy(struct fb_tls_cert *cert) {
  if (cert == NULL)
    return;
  X509_free(cert->x509);
  EVP_PKEY_free(cert->key);
  sk_X509_pop_free(cert->chain, X509_free);
  OPENSSL_free(cert);
}

/* Letters, digits, '-' and '.', as a SAN dNSName of a host must be; no
 * wildcard (OpenSSL would refuse *.localhost anyway). */
static int dns_name_ok(const char *name) {
  size_t n = strlen(name);

  if (n == 0 || n > 253)
    return 0;
  for (; *name; name++) {
    char c = *name;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

static int add_dns(GENERAL_NAMES *names, const char *dns) {
  GENERAL_NAME *gn = GENERAL_NAME_new();
  ASN1_IA5STRING *s = ASN1_IA5STRING_new();

  if (gn == NULL || s == NULL || !ASN1_STRING_set(s, dns, -1)) {
    GENERAL_NAME_free(gn);
    ASN1_IA5STRING_free(s);
    return 0;
  }
  GENERAL_NAME_set0_value(gn, GEN_DNS, s);
  if (!sk_GENERAL_NAME_push(names, gn)) {
    GENERAL_NAME_free(gn);
    return 0;
  }
  return 1;
}

static int add_ip(GENERAL_NAMES *names, const char *ip) {
  GENERAL_NAME *gn = GENERAL_NAME_new();
  ASN1_OCTET_STRING *s = a2i_IPADDRESS(ip);

  if (gn == NULL || s == NULL) {
    GENERAL_NAME_free(gn);
    ASN1_OCTET_STRING_free(s);
    return 0;
  }
  GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
  if (!sk_GENERAL_NAME_push(names, gn)) {
    GENERAL_NAME_free(gn);
    return 0;
  }
  return 1;
}

static int add_san(X509 *x, const struct fb_tls_cert_opts *o) {
  GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
  int ok = names != NULL;

  if (ok && o->kind == FB_TLS_CERT_OTHER_NAME) {
    ok = add_dns(names, o->other_name ? o->other_name : "other.invalid");
  } else if (ok) {
    ok = add_ip(names, "127.0.0.1") && add_ip(names, "::1") &&
         add_dns(names, "localhost");
    for (size_t i = 0; ok && o->dns_names && o->dns_names[i]; i++)
      ok = add_dns(names, o->dns_names[i]);
  }
  if (ok)
    ok = X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0,
                           X509V3_ADD_DEFAULT) == 1;
  GENERAL_NAMES_free(names);
  return ok;
}

static int add_ext(X509 *x, int nid, const char *value) {
  X509V3_CTX v3;
  X509_EXTENSION *ext;
  int ok;

  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  if (ext == NULL)
    return 0;
  ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

static int set_serial(X509 *x) {
  BIGNUM *bn = BN_new();
  int ok = bn != NULL && BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
           BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;

  BN_free(bn);
  return ok;
}

static int set_validity(X509 *x, const struct fb_tls_cert_opts *o) {
  long days = o->days ? (long)o->days : 30;

  if (o->kind == FB_TLS_CERT_EXPIRED)
    return X509_gmtime_adj(X509_getm_notBefore(x), -(days + 1) * DAY) &&
           X509_gmtime_adj(X509_getm_notAfter(x), -DAY);
  /* An hour back, for clocks a little behind ours. */
  return X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(x), days * DAY);
}

static int set_name(X509 *x, const char *cn) {
  X509_NAME *name = X509_get_subject_name(x);

  return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)"fetchbench", -1, -1,
                                    0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) &&
         X509_set_issuer_name(x, name);
}

int fb_tls_cert_generate(struct fb_tls_cert **out,
                         const struct fb_tls_cert_opts *opts, char *err,
                         size_t errlen) {
  static const struct fb_tls_cert_opts defaults;
  const struct fb_tls_cert_opts *o = opts ? opts : &defaults;
  struct fb_tls_cert *cert = NULL;
  int rc = FB_ETLS;

  *out = NULL;
  if (o->kind == FB_TLS_CERT_OTHER_NAME && o->other_name &&
      !dns_name_ok(o->other_name))
    return fb__tls_errf(FB_EUSAGE, err, errlen,
                        "certificate name \"%s\": not a host name",
                        o->other_name);
  for (size_t i = 0; o->dns_names && o->dns_names[i]; i++)
    if (!dns_name_ok(o->dns_names[i]))
      return fb__tls_errf(FB_EUSAGE, err, errlen,
                          "certificate name \"%s\": not a host name (list "
                          "names; no wildcards)",
                          o->dns_names[i]);

  cert = cert_alloc();
  if (cert == NULL)
    return fb__tls_errf(-ENOMEM, err, errlen, "certificate: out of memory");
  cert->key = EVP_EC_gen("P-256");
  if (cert->key == NULL) {
    rc = fb__tls_err(FB_ETLS, err, errlen, "generating a P-256 key");
    goto out;
  }
  cert->x509 = X509_new();
  if (cert->x509 == NULL || !X509_set_version(cert->x509, X509_VERSION_3) ||
      !set_serial(cert->x509) || !set_validity(cert->x509, o) ||
      !set_name(cert->x509, o->common_name ? o->common_name : "fetchbench") ||
      !X509_set_pubkey(cert->x509, cert->key) || !add_san(cert->x509, o) ||
      !add_ext(cert->x509, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(cert->x509, NID_key_usage, "critical,digitalSignature") ||
      !add_ext(cert->x509, NID_ext_key_usage, "serverAuth") ||
      !add_ext(cert->x509, NID_subject_key_identifier, "hash") ||
      !X509_sign(cert->x509, cert->key, EVP_sha256())) {
    rc = fb__tls_err(FB_ETLS, err, errlen, "making a certificate");
    goto out;
  }
  *out = cert;
  cert = NULL;
  rc = 0;
out:
  fb_tls_cert_destroy(cert);
  return rc;
}

/* Opens path for reading after fb__tls_file_check, so that the common
 * mistakes get their own message. */
static int open_pem(const char *what, const char *path, BIO **bio, char *err,
                    size_t errlen) {
  int rc = fb__tls_file_check(what, path, err, errlen);

  if (rc != 0)
    return rc;
  *bio = BIO_new_file(path, "r");
  if (*bio == NULL)
    return fb__tls_err(-EIO, err, errlen, "%s %s", what, path);
  return 0;
}

int fb_tls_cert_load(struct fb_tls_cert **out, const char *cert_file,
                     const char *key_file, char *err, size_t errlen) {
  struct fb_tls_cert *cert = NULL;
  BIO *bio = NULL;
  X509 *extra;
  int rc;

  *out = NULL;
  if (key_file == NULL)
    key_file = cert_file;
  cert = cert_alloc();
  if (cert == NULL)
    return fb__tls_errf(-ENOMEM, err, errlen, "certificate: out of memory");

  rc = open_pem("certificate file", cert_file, &bio, err, errlen);
  if (rc != 0)
    goto out;
  ERR_clear_error();
  cert->x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  if (cert->x509 == NULL) {
    rc = fb__tls_err(FB_ECERT, err, errlen,
                     "certificate file %s: no PEM certificate", cert_file);
    goto out;
  }
  while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
    if (cert->chain == NULL)
      cert->chain = sk_X509_new_null();
    if (cert->chain == NULL || !sk_X509_push(cert->chain, extra)) {
      X509_free(extra);
      rc = fb__tls_errf(-ENOMEM, err, errlen, "certificate: out of memory");
      goto out;
    }
  }
  /* The loop ends on "no start line": the end of the file, not an error. */
  ERR_clear_error();
  BIO_free(bio);
  bio = NULL;

  rc = open_pem("key file", key_file, &bio, err, errlen);
  if (rc != 0)
    goto out;
  cert->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  if (cert->key == NULL) {
    rc = fb__tls_err(FB_ECERT, err, errlen,
                     "key file %s: no PEM private key (or an encrypted one)",
                     key_file);
    goto out;
  }
  if (X509_check_private_key(cert->x509, cert->key) != 1) {
    ERR_clear_error();
    rc = fb__tls_errf(FB_ECERT, err, errlen,
                      "key file %s: the key does not match the certificate "
                      "in %s",
                      key_file, cert_file);
    goto out;
  }
  *out = cert;
  cert = NULL;
  rc = 0;
out:
  BIO_free(bio);
  fb_tls_cert_destroy(cert);
  return rc;
}

/* Creates path with mode and writes through a BIO on its descriptor. */
static int write_file(const char *path, int mode,
                      int (*emit)(BIO *, const void *), const void *arg,
                      char *err, size_t errlen) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  BIO *bio;
  int rc = 0;

  if (fd < 0) {
    int e = errno;
    return fb__tls_errf(-e, err, errlen, "%s: %s", path, strerror(e));
  }
  /* An existing file keeps its mode otherwise: a key must not. */
  if (fchmod(fd, (mode_t)mode) != 0) {
    int e = errno;
    close(fd);
    return fb__tls_errf(-e, err, errlen, "%s: %s", path, strerror(e));
  }
  bio = BIO_new_fd(fd, BIO_NOCLOSE);
  if (bio == NULL || !emit(bio, arg) || BIO_flush(bio) != 1)
    rc = fb__tls_err(-EIO, err, errlen, "writing %s", path);
  BIO_free(bio);
  if (close(fd) != 0 && rc == 0) {
    int e = errno;
    rc = fb__tls_errf(-e, err, errlen, "%s: %s", path, strerror(e));
  }
  return rc;
}

struct cert_list {
  const struct fb_tls_cert *const *certs;
  size_t n;
};

static int emit_certs(BIO *bio, const void *arg) {
  const struct cert_list *l = arg;

  for (size_t i = 0; i < l->n; i++)
    if (!PEM_write_bio_X509(bio, l->certs[i]->x509))
      return 0;
  return 1;
}

static int emit_key(BIO *bio, const void *arg) {
  const struct fb_tls_cert *cert = arg;

  return PEM_write_bio_PrivateKey(bio, cert->key, NULL, NULL, 0, NULL, NULL);
}

int fb_tls_cert_write_pem(const struct fb_tls_cert *const *certs, size_t n,
                          const char *path, char *err, size_t errlen) {
  struct cert_list l = {certs, n};

  return write_file(path, 0644, emit_certs, &l, err, errlen);
}

int fb_tls_cert_write_key_pem(const struct fb_tls_cert *cert, const char *path,
                              char *err, size_t errlen) {
  return write_file(path, 0600, emit_key, cert, err, errlen);
}
