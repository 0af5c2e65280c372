/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "client/client_int.h"

/* Bodies a server encodes although asked for identity (the origin's
 * gzip_bomb does): inflated with zlib into the client's one output buffer,
 * piece by piece into the sink, so that the cap applies to decoded bytes
 * and a bomb costs at most one buffer, as it does libcurl.
 */

#define INFLATE_OUT (16u << 10)

static int z_init(z_stream *z, int encoding) {
  memset(z, 0, sizeof(*z));
  /* 16 + 15: gzip wrapper; 15: zlib wrapper; -15: raw deflate. */
  return inflateInit2(z, encoding == FB__ENC_RAW    ? -MAX_WBITS
                         : encoding == FB__ENC_GZIP ? 16 + MAX_WBITS
                                                    : MAX_WBITS);
}

int fb__decode_start(struct fb_client_conn *c) {
  struct fb_client *cl = c->cl;

  if (cl->inflate_out == NULL) {
    cl->inflate_out = malloc(INFLATE_OUT);
    if (cl->inflate_out == NULL)
      return -ENOMEM;
  }
  fb__decode_free(c);
  c->z = malloc(sizeof(*c->z));
  if (c->z == NULL)
    return -ENOMEM;
  if (z_init(c->z, c->encoding) != Z_OK) {
    free(c->z);
    c->z = NULL;
    return -ENOMEM;
  }
  return 0;
}

void fb__decode_free(struct fb_client_conn *c) {
  if (c->z == NULL)
    return;
  inflateEnd(c->z);
  free(c->z);
  c->z = NULL;
}

static int bad_data(struct fb_client_conn *c, const char *why) {
  fb__client_fail(c, FB_OUTCOME_PROTOCOL, CURLE_BAD_CONTENT_ENCODING,
                  "Error while processing content unencoding: %s",
                  why != NULL ? why : "invalid data");
  return -1;
}

/* Inflates len bytes into the sink. Returns 0, -1 when the sink refused
 * them, or Z_DATA_ERROR (the data is not what the coding says).
 */
static int pump(struct fb_client_conn *c, const char *p, size_t len) {
  unsigned char *out = c->cl->inflate_out;
  z_stream *z = c->z;
  int rc;

  z->next_in = (unsigned char *)(uintptr_t)p;
  z->avail_in = (unsigned)len;
  for (;;) {
    size_t made;

    z->next_out = out;
    z->avail_out = INFLATE_OUT;
    rc = inflate(z, Z_NO_FLUSH);
    /* What was decoded before an error counts, as it would have in pieces
     * of any other size.
     */
    made = INFLATE_OUT - z->avail_out;
    if (made > 0 && fb__body_sink(c, (const char *)out, made) != 0)
      return -1;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
      return Z_DATA_ERROR;
    if (rc == Z_STREAM_END) {
      /* What follows the stream is ignored, as libcurl does. */
      fb__decode_free(c);
      return 0;
    }
    /* Z_BUF_ERROR: no progress possible until more input comes. */
    if (rc == Z_BUF_ERROR || (z->avail_in == 0 && z->avail_out != 0))
      return 0;
  }
}

int fb__decode(struct fb_client_conn *c, const char *p, size_t len) {
  z_stream *z = c->z;
  uLong before;
  int rc;

  if (z == NULL)
    return 0; /* the stream ended: what follows is ignored */
  before = z->total_in;
  rc = pump(c, p, len);
  /* "deflate" is meant to be zlib-wrapped; some servers send it raw.
   * When the two-byte zlib header is refused, libcurl starts again without
   * the wrapper, and so do we, with the byte of that header an earlier
   * piece may have held (kept in c->coding, free once the headers are
   * read). A valid header and bad data after it is simply bad data.
   */
  if (rc == Z_DATA_ERROR && c->encoding == FB__ENC_DEFLATE && c->z != NULL &&
      c->z->total_out == 0 && c->z->total_in <= 2) {
    char first[2];
    size_t nfirst = before;

    memcpy(first, c->coding, nfirst);
    inflateEnd(z);
    c->encoding = FB__ENC_RAW;
    if (z_init(z, c->encoding) != Z_OK) {
      free(c->z);
      c->z = NULL;
      return bad_data(c, "inflateInit2 failed");
    }
    rc = nfirst > 0 ? pump(c, first, nfirst) : 0;
    if (rc == 0 && c->z != NULL)
      rc = pump(c, p, len);
  } else if (rc == 0 && c->encoding == FB__ENC_DEFLATE && c->z != NULL &&
             before < 2) {
    size_t take = c->z->total_in - before;

    if (before + take > 2)
      take = 2 - before;
    memcpy(c->coding + before, p, take);
  }
  if (rc == Z_DATA_ERROR)
    return bad_data(c, c->z != NULL ? c->z->msg : NULL);
  return rc;
}
