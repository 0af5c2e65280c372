/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_int.h"

/* The response side: llhttp's callbacks, the few headers the core reads
 * (Location, Content-Encoding), and the body into the hash and the cap.
 * Everything is parsed in place in the bytes the engine hands over; what
 * must outlive them (a Location, a coding name) is copied.
 */

static const char *const wanted[] = {
    [FB__HDR_LOCATION] = "location",
    [FB__HDR_ENCODING] = "content-encoding",
};

static struct fb_client_conn *conn_of(llhttp_t *p) {
  return p->data;
}

static int lower(int ch) {
  return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

void fb__response_reset(struct fb_client_conn *c) {
  c->in_value = 0;
  c->hdr = FB__HDR_NONE;
  c->hdr_match = 0;
  c->hdr_line = 0;
  c->location_len = 0;
  c->loc_done = 0;
  c->coding_len = 0;
  c->encoding = FB__ENC_IDENTITY;
  c->redirect = 0;
  c->head_done = 0;
}

static int header_line(struct fb_client_conn *c, size_t len) {
  c->hdr_line += len;
  if (c->hdr_line <= FB__MAX_HEADER_LINE)
    return 0;
  /* libcurl 7.88 keeps a header line in a buffer capped at
   * CURL_MAX_HTTP_HEADER and fails with CURLE_OUT_OF_MEMORY beyond it.
   */
  fb__client_fail(c, FB_OUTCOME_OTHER, CURLE_OUT_OF_MEMORY,
                  "a response header line over %u bytes (libcurl 7.88: Out "
                  "of memory)",
                  FB__MAX_HEADER_LINE);
  return HPE_USER;
}

static int on_message_begin(llhttp_t *p) {
  fb__response_reset(conn_of(p));
  return 0;
}

static int on_status_complete(llhttp_t *p) {
  conn_of(p)->status = p->status_code;
  return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  struct fb_client_conn *c = conn_of(p);

  if (c->in_value) {
    c->in_value = 0;
    c->hdr = FB__HDR_NONE;
    c->hdr_match = 0;
    c->hdr_line = 0;
  }
  c->status = p->status_code;
  if (header_line(c, len) != 0)
    return HPE_USER;
  for (size_t i = 0; i < len && c->hdr != FB__HDR_OTHER; i++) {
    int ch = lower((unsigned char)at[i]);

    if (c->hdr == FB__HDR_NONE)
      c->hdr = ch == 'l'   ? FB__HDR_LOCATION
               : ch == 'c' ? FB__HDR_ENCODING
                           : FB__HDR_OTHER;
    if (c->hdr != FB__HDR_OTHER) {
      const char *name = wanted[c->hdr];

      if (c->hdr_match >= strlen(name) || name[c->hdr_match] != ch)
        c->hdr = FB__HDR_OTHER;
      else
        c->hdr_match++;
    }
  }
  return 0;
}

static int on_header_field_complete(llhttp_t *p) {
  struct fb_client_conn *c = conn_of(p);

  if (c->hdr != FB__HDR_NONE && c->hdr != FB__HDR_OTHER &&
      c->hdr_match != strlen(wanted[c->hdr]))
    c->hdr = FB__HDR_OTHER;
  /* libcurl follows the first Location of a response. */
  if (c->hdr == FB__HDR_LOCATION && c->loc_done)
    c->hdr = FB__HDR_OTHER;
  /* Two Content-Encoding headers are a chain of codings, which this core
   * does not decode: the value is marked as unknown.
   */
  if (c->hdr == FB__HDR_ENCODING && c->coding_len > 0)
    c->coding_len = sizeof(c->coding);
  return 0;
}

static int location_add(struct fb_client_conn *c, const char *at, size_t len) {
  if (len == 0)
    return 0;
  if (c->location_len + len > c->location_cap) {
    size_t cap = c->location_cap ? c->location_cap : 256;
    char *loc;

    while (cap < c->location_len + len)
      cap *= 2;
    loc = realloc(c->location, cap);
    if (loc == NULL) {
      fb__client_fail(c, FB_OUTCOME_OTHER, CURLE_OUT_OF_MEMORY,
                      "out of memory for a Location header");
      return HPE_USER;
    }
    c->location = loc;
    c->location_cap = cap;
  }
  memcpy(c->location + c->location_len, at, len);
  c->location_len += len;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  struct fb_client_conn *c = conn_of(p);

  c->in_value = 1;
  if (header_line(c, len) != 0)
    return HPE_USER;
  if (c->hdr == FB__HDR_LOCATION && c->status / 100 == 3)
    return location_add(c, at, len);
  if (c->hdr == FB__HDR_ENCODING) {
    /* A long value is no coding this core knows: kept as such. */
    if (c->coding_len + len >= sizeof(c->coding)) {
      c->coding_len = sizeof(c->coding);
      return 0;
    }
    memcpy(c->coding + c->coding_len, at, len);
    c->coding_len = (uint8_t)(c->coding_len + len);
  }
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  struct fb_client_conn *c = conn_of(p);

  if (c->hdr == FB__HDR_LOCATION && c->location_len > 0)
    c->loc_done = 1;
  /* An empty value makes no call to on_header_value. */
  c->in_value = 1;
  return 0;
}

/* The coding named in Content-Encoding, white space trimmed. libcurl
 * (which asks for every coding it knows) decodes gzip, deflate, br and
 * zstd; this core asks for identity and inflates the two zlib knows, which
 * are the ones servers send anyway.
 */
static int coding(struct fb_client_conn *c) {
  const char *s = c->coding;
  size_t len = c->coding_len;

  if (len >= sizeof(c->coding))
    return -1;
  while (len > 0 && (*s == ' ' || *s == '\t'))
    s++, len--;
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  if (len == 0 || (len == 8 && strncasecmp(s, "identity", 8) == 0))
    return FB__ENC_IDENTITY;
  if ((len == 4 && strncasecmp(s, "gzip", 4) == 0) ||
      (len == 6 && strncasecmp(s, "x-gzip", 6) == 0))
    return FB__ENC_GZIP;
  if (len == 7 && strncasecmp(s, "deflate", 7) == 0)
    return FB__ENC_DEFLATE;
  return -1;
}

static int on_headers_complete(llhttp_t *p) {
  struct fb_client_conn *c = conn_of(p);
  const struct fb_job *job = c->cl->job;
  int enc;

  c->status = p->status_code;
  /* A protocol switch nobody asked for leaves nothing to read as HTTP. */
  if (c->status == 101) {
    fb__client_fail(c, FB_OUTCOME_PROTOCOL, CURLE_WEIRD_SERVER_REPLY,
                    "101 Switching Protocols, not asked for");
    return HPE_USER;
  }
  /* Other 1xx: no body; llhttp goes on to the response that follows. */
  if (c->status / 100 == 1)
    return 0;
  c->head_done = 1;
  if (job->follow_redirects && c->status / 100 == 3 && c->status != 304 &&
      c->location_len > 0) {
    if (job->max_redirects >= 0 && c->redirects >= job->max_redirects) {
      fb__client_fail(c, FB_OUTCOME_REDIRECT, CURLE_TOO_MANY_REDIRECTS,
                      "more than %ld redirects followed", job->max_redirects);
      return HPE_USER;
    }
    /* Its body is read and dropped, as libcurl does when it follows. */
    c->redirect = 1;
    return 0;
  }
  /* A Content-Length over the cap fails before the body, as libcurl's
   * CURLOPT_MAXFILESIZE does (CURLE_FILESIZE_EXCEEDED).
   */
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > job->max_body) {
    c->too_large = 1;
    fb__client_fail(c, FB_OUTCOME_TOO_LARGE, CURLE_FILESIZE_EXCEEDED,
                    "body over the cap of %llu bytes",
                    (unsigned long long)job->max_body);
    return HPE_USER;
  }
  enc = coding(c);
  if (enc < 0) {
    char shown[sizeof(c->coding)];
    size_t n = c->coding_len < sizeof(c->coding) ? c->coding_len : 0;

    /* The server's bytes, made printable; a long value is not shown. */
    for (size_t i = 0; i < n; i++)
      shown[i] =
          c->coding[i] > 0x20 && c->coding[i] < 0x7f ? c->coding[i] : '?';
    shown[n] = '\0';
    fb__client_fail(c, FB_OUTCOME_PROTOCOL, CURLE_BAD_CONTENT_ENCODING,
                    "Unrecognized content encoding type \"%s\" (asked for "
                    "identity; gzip and deflate are decoded)",
                    n > 0 ? shown : "(long)");
    return HPE_USER;
  }
  c->encoding = (uint8_t)enc;
  if (enc != FB__ENC_IDENTITY) {
    c->cl->k.decoded++;
    if (fb__decode_start(c) != 0) {
      fb__client_fail(c, FB_OUTCOME_OTHER, CURLE_OUT_OF_MEMORY,
                      "out of memory for an inflater");
      return HPE_USER;
    }
  }
  return 0;
}

int fb__body_sink(struct fb_client_conn *c, const char *p, size_t len) {
  uint64_t cap = c->cl->job->max_body;

  /* As fetch.c's write callback: a piece that would pass the cap is
   * refused whole (libcurl's CURLE_WRITE_ERROR).
   */
  if (len > cap - c->body_bytes) {
    c->too_large = 1;
    fb__client_fail(c, FB_OUTCOME_TOO_LARGE, CURLE_WRITE_ERROR,
                    "body over the cap of %llu bytes", (unsigned long long)cap);
    return -1;
  }
  XXH3_64bits_update(&c->hash, p, len);
  c->body_bytes += len;
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len) {
  struct fb_client_conn *c = conn_of(p);
  int rc;

  if (c->redirect)
    return 0;
  if (c->encoding != FB__ENC_IDENTITY)
    rc = fb__decode(c, at, len);
  else
    rc = fb__body_sink(c, at, len);
  return rc == 0 ? 0 : HPE_USER;
}

static int on_message_complete(llhttp_t *p) {
  struct fb_client_conn *c = conn_of(p);

  if (c->status / 100 == 1)
    return 0;
  /* The response is whole: stop here, whatever follows it. */
  return HPE_PAUSED;
}

void fb__response_parser(struct fb_client_conn *c) {
  llhttp_init(&c->parser, HTTP_RESPONSE, &c->cl->settings);
  c->parser.data = c;
  /* libcurl takes header lines that end in a bare LF, and bytes in header
   * values that llhttp's strict mode refuses; a client that only reads a
   * few headers has nothing to fear from them.
   */
  llhttp_set_lenient_headers(&c->parser, 1);
}

void fb__client_settings(llhttp_settings_t *s) {
  llhttp_settings_init(s);
  s->on_message_begin = on_message_begin;
  s->on_status_complete = on_status_complete;
  s->on_header_field = on_header_field;
  s->on_header_field_complete = on_header_field_complete;
  s->on_header_value = on_header_value;
  s->on_header_value_complete = on_header_value_complete;
  s->on_headers_complete = on_headers_complete;
  s->on_body = on_body;
  s->on_message_complete = on_message_complete;
}
