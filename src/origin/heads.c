/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>

#include "origin/origin_int.h"

/* Pieces of response heads: reason phrases, the end of a head, and the
 * small text/plain answers for a status.
 */

static const struct {
  int status;
  const char *reason;
} reasons[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {410, "Gone"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {418, "I'm a teapot"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *fb__heads_reason(int status) {
  for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
    if (reasons[i].status == status)
      return reasons[i].reason;
  return "Unknown";
}

const char *fb__heads_end(const struct fb__conn *c) {
  if (!c->keep_alive)
    return "Connection: close\r\n\r\n";
  if (c->http_minor == 0)
    return "Connection: keep-alive\r\n\r\n";
  return "\r\n";
}

/* A small text/plain response, "404 Not Found\n", head and body in hbuf. */
int fb__heads_status(struct fb__conn *c, int status, int head_only) {
  const char *reason = fb__heads_reason(status), *text;
  int blen = snprintf(NULL, 0, "%d %s\n", status, reason);
  size_t len;

  text = fb__writer_printf(
      c, &len,
      "HTTP/1.1 %d %s\r\nServer: fetchbench-origin\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
      "%s%s%d %s\n",
      status, reason, blen, status == 405 ? "Allow: GET, HEAD\r\n" : "",
      fb__heads_end(c), status, reason);
  if (text == NULL)
    return -ENOMEM;
  fb__writer_add(&c->resp, text, head_only ? len - (size_t)blen : len, 0);
  c->resp.status = status;
  return 0;
}
