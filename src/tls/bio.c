/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>

#include "tls/tls_int.h"

/* A BIO of our own rather than two memory BIOs: OpenSSL's record is copied
 * once, into chunks that never move (so the caller may send straight from
 * them while other calls go on), where a memory BIO would copy it in,
 * realloc as it grows, and copy it out again. Input is one buffer that the
 * caller may receive into directly (fb_tls_in_space). */

/* Small writes (handshake messages, alerts, tickets) share a chunk of this
 * size; a full record gets a chunk of its own size. */
#define CHUNK_MIN 4096

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static struct fb__tls_chunk *chunk_new(size_t need) {
  size_t cap = need > CHUNK_MIN - sizeof(struct fb__tls_chunk)
                   ? need
                   : CHUNK_MIN - sizeof(struct fb__tls_chunk);
  struct fb__tls_chunk *c;

  if (cap > UINT32_MAX)
    return NULL;
  c = OPENSSL_malloc(sizeof(*c) + cap);
  if (c == NULL)
    return NULL;
  c->next = NULL;
  c->head = c->tail = 0;
  c->cap = (uint32_t)cap;
  return c;
}

static int bio_write(BIO *bio, const char *buf, int len) {
  struct fb_tls *conn = BIO_get_data(bio);
  struct fb__tls_chunk *c = conn->out_tail;
  size_t n = (size_t)len, room;

  BIO_clear_retry_flags(bio);
  if (len <= 0)
    return 0;
  room = c == NULL ? 0 : c->cap - c->tail;
  if (room < n) {
    /* The tail's room is left unused rather than splitting a record over
     * two chunks: one iovec per record is the common case. */
    struct fb__tls_chunk *fresh = chunk_new(n);
    if (fresh == NULL) {
      conn->flags |= FB__TLS_NOMEM;
      return -1;
    }
    if (c == NULL)
      conn->out_head = fresh;
    else
      c->next = fresh;
    conn->out_tail = c = fresh;
  }
  memcpy(c->data + c->tail, buf, n);
  c->tail += (uint32_t)n;
  conn->out_pending += n;
  return len;
}

static int bio_read(BIO *bio, char *buf, int len) {
  struct fb_tls *conn = BIO_get_data(bio);
  size_t avail = conn->in_len - conn->in_off;
  size_t n = (size_t)len;

  BIO_clear_retry_flags(bio);
  if (len <= 0)
    return 0;
  if (avail == 0) {
    /* End of input: 0 without a retry flag, and BIO_eof() true, is how
     * OpenSSL 3 tells a cut without close_notify ("unexpected eof"). */
    if (conn->flags & FB__TLS_EOF)
      return 0;
    BIO_set_retry_read(bio);
    return -1;
  }
  if (n > avail)
    n = avail;
  memcpy(buf, conn->in + conn->in_off, n);
  conn->in_off += n;
  fb__tls_in_release(conn); /* freed as soon as it is used up */
  return (int)n;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr) {
  struct fb_tls *conn = BIO_get_data(bio);

  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_EOF:
    return (conn->flags & FB__TLS_EOF) && conn->in_off == conn->in_len;
  case BIO_CTRL_PENDING:
    return (long)(conn->in_len - conn->in_off);
  case BIO_CTRL_WPENDING:
    return conn->out_pending > LONG_MAX ? LONG_MAX : (long)conn->out_pending;
  default:
    return 0;
  }
}

static int bio_create(BIO *bio) {
  BIO_set_init(bio, 1);
  return 1;
}

static void bio_method_init(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                               "fetchbench buffers");
  if (m == NULL)
    return;
  if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
      !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
    BIO_meth_free(m);
    return;
  }
  bio_method = m;
}

BIO *fb__tls_bio_new(struct fb_tls *conn) {
  BIO *bio;

  if (pthread_once(&bio_once, bio_method_init) != 0 || bio_method == NULL)
    return NULL;
  bio = BIO_new(bio_method);
  if (bio != NULL)
    BIO_set_data(bio, conn);
  return bio;
}

void fb__tls_out_free(struct fb_tls *conn) {
  struct fb__tls_chunk *c = conn->out_head, *next;

  for (; c != NULL; c = next) {
    next = c->next;
    OPENSSL_free(c);
  }
  conn->out_head = conn->out_tail = NULL;
  conn->out_pending = 0;
}

void fb__tls_in_release(struct fb_tls *conn) {
  if (conn->in_off != conn->in_len || conn->in == NULL)
    return;
  conn->in_off = conn->in_len = 0;
  if (conn->ctx->keep_buffers)
    return;
  OPENSSL_free(conn->in);
  conn->in = NULL;
  conn->in_cap = 0;
}

int fb_tls_in_space(struct fb_tls *conn, size_t want, void **buf, size_t *len) {
  size_t used = conn->in_len - conn->in_off;

  if (want == 0)
    want = FB_TLS_IN_ROOM;
  if (conn->in_cap - conn->in_len < want) {
    if (conn->in_off > 0) {
      /* Unread bytes go to the front before the buffer grows. */
      memmove(conn->in, conn->in + conn->in_off, used);
      conn->in_off = 0;
      conn->in_len = used;
    }
    if (conn->in_cap - conn->in_len < want) {
      size_t cap = conn->in_cap ? conn->in_cap : FB_TLS_IN_ROOM;
      unsigned char *p;
      while (cap - conn->in_len < want) {
        if (cap > SIZE_MAX / 2)
          return -ENOMEM;
        cap *= 2;
      }
      p = OPENSSL_realloc(conn->in, cap);
      if (p == NULL)
        return -ENOMEM;
      conn->in = p;
      conn->in_cap = cap;
    }
  }
  *buf = conn->in + conn->in_len;
  *len = conn->in_cap - conn->in_len;
  return 0;
}

void fb_tls_in_commit(struct fb_tls *conn, size_t n) {
  if (n > conn->in_cap - conn->in_len)
    n = conn->in_cap - conn->in_len;
  conn->in_len += n;
  fb__tls_in_release(conn);
}

int fb_tls_feed(struct fb_tls *conn, const void *buf, size_t len) {
  void *room;
  size_t cap;
  int rc;

  if (len == 0)
    return 0;
  rc = fb_tls_in_space(conn, len, &room, &cap);
  if (rc != 0)
    return rc;
  memcpy(room, buf, len);
  conn->in_len += len;
  return 0;
}

void fb_tls_feed_eof(struct fb_tls *conn) {
  conn->flags |= FB__TLS_EOF;
}

size_t fb_tls_out_pending(const struct fb_tls *conn) {
  return conn->out_pending;
}

int fb_tls_out_iov(const struct fb_tls *conn, size_t skip, struct iovec *iov,
                   int n) {
  const struct fb__tls_chunk *c = conn->out_head;
  int i = 0;

  for (; c != NULL && i < n; c = c->next) {
    size_t have = c->tail - c->head;
    if (skip >= have) {
      skip -= have;
      continue;
    }
    iov[i].iov_base = (void *)(c->data + c->head + skip);
    iov[i].iov_len = have - skip;
    skip = 0;
    i++;
  }
  return i;
}

void fb_tls_out_consume(struct fb_tls *conn, size_t n) {
  while (n > 0 && conn->out_head != NULL) {
    struct fb__tls_chunk *c = conn->out_head;
    size_t have = c->tail - c->head;
    if (n < have) {
      c->head += (uint32_t)n;
      conn->out_pending -= n;
      return;
    }
    n -= have;
    conn->out_pending -= have;
    conn->out_head = c->next;
    if (conn->out_head == NULL)
      conn->out_tail = NULL;
    OPENSSL_free(c);
  }
}
