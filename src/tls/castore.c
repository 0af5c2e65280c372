/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fetchbench/error.h"
#include "tls/tls_int.h"

/* One X509_STORE per CA source, built once per process. Parsing Debian's
 * bundle (~140 certificates) costs milliseconds; libcurl 7.88 with
 * Debian's default CApath pays that per new connection. The list only
 * grows (a run uses one or two sources), under one lock; building happens
 * under the lock too, so two threads asking at once build it once. */
struct castore {
  struct castore *next;
  X509_STORE *store;
  char path[]; /* "" for the system default */
};

static pthread_mutex_t castore_lock = PTHREAD_MUTEX_INITIALIZER;
static struct castore *castores;

/* Adds every certificate (and CRL) of a PEM file; FB_ECERT when there is no
 * certificate in it. */
static int load_file(X509_STORE *store, const char *path, char *err,
                     size_t errlen) {
  STACK_OF(X509_INFO) *infos = NULL;
  BIO *bio = NULL;
  int rc, certs = 0;

  rc = fb__tls_file_check("CA file", path, err, errlen);
  if (rc != 0)
    return rc;
  bio = BIO_new_file(path, "r");
  if (bio == NULL)
    return fb__tls_err(-EIO, err, errlen, "CA file %s", path);
  ERR_clear_error();
  infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
  if (infos == NULL) {
    rc = fb__tls_err(FB_ECERT, err, errlen, "CA file %s: not PEM", path);
    goto out;
  }
  for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *info = sk_X509_INFO_value(infos, i);
    if (info->x509 != NULL) {
      if (!X509_STORE_add_cert(store, info->x509)) {
        rc = fb__tls_err(FB_ECERT, err, errlen, "CA file %s", path);
        goto out;
      }
      certs++;
    }
    if (info->crl != NULL && !X509_STORE_add_crl(store, info->crl)) {
      rc = fb__tls_err(FB_ECERT, err, errlen, "CA file %s", path);
      goto out;
    }
  }
  if (certs == 0)
    rc = fb__tls_errf(FB_ECERT, err, errlen,
                      "CA file %s: no PEM certificate in it", path);
out:
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  BIO_free(bio);
  return rc;
}

static int build(const char *cafile, X509_STORE **out, char *err,
                 size_t errlen) {
  X509_STORE *store = X509_STORE_new();
  int rc = 0;

  if (store == NULL)
    return fb__tls_errf(-ENOMEM, err, errlen, "CA store: out of memory");
  if (cafile != NULL) {
    rc = load_file(store, cafile, err, errlen);
  } else if (!X509_STORE_set_default_paths(store)) {
    rc = fb__tls_err(FB_ETLS, err, errlen, "system CA store");
  }
  /* Set once here so that no user has to write to a shared store (libcurl
   * sets the same flags on the store it uses). */
  if (rc == 0 && !X509_STORE_set_flags(store, X509_V_FLAG_TRUSTED_FIRST |
                                                  X509_V_FLAG_PARTIAL_CHAIN))
    rc = fb__tls_err(FB_ETLS, err, errlen, "CA store flags");
  if (rc != 0) {
    X509_STORE_free(store);
    return rc;
  }
  *out = store;
  return 0;
}

int fb_tls_ca_store(const char *cafile, X509_STORE **out, char *err,
                    size_t errlen) {
  const char *key = cafile ? cafile : "";
  struct castore *c;
  int rc = 0;

  *out = NULL;
  if (cafile != NULL && *cafile == '\0')
    return fb__tls_errf(-ENOENT, err, errlen, "CA file: empty file name");
  pthread_mutex_lock(&castore_lock);
  for (c = castores; c != NULL; c = c->next)
    if (strcmp(c->path, key) == 0)
      break;
  if (c == NULL) {
    size_t len = strlen(key);
    X509_STORE *store = NULL;
    rc = build(cafile, &store, err, errlen);
    if (rc == 0) {
      c = OPENSSL_malloc(sizeof(*c) + len + 1);
      if (c == NULL) {
        X509_STORE_free(store);
        rc = fb__tls_errf(-ENOMEM, err, errlen, "CA store: out of memory");
      } else {
        c->store = store;
        memcpy(c->path, key, len + 1);
        c->next = castores;
        castores = c;
      }
    }
  }
  if (c != NULL)
    *out = c->store;
  pthread_mutex_unlock(&castore_lock);
  return rc;
}

void fb_tls_cleanup(void) {
  struct castore *c, *next;

  pthread_mutex_lock(&castore_lock);
  for (c = castores; c != NULL; c = next) {
    next = c->next;
    X509_STORE_free(c->store);
    OPENSSL_free(c);
  }
  castores = NULL;
  pthread_mutex_unlock(&castore_lock);
}
