/* SPDX-License-Identifier: MIT */
#ifndef FB_ORIGIN_TCP_H
#define FB_ORIGIN_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uv.h>

#include "origin/alarm.h"

/* The origin's connections are three layers, each calling only the one
 * below it and hearing back through callbacks, as libuv streams do:
 *
 *   HTTP (http.c: parse; respond.c, faultmodes.c: build; writer.c: write)
 *     | struct fb__stream (down)        ^ struct fb__up (up)
 *   TLS (tlsconn.c), or nothing: the stream is the transport itself
 *     | fb__tcp_* (down)                ^ struct fb__up (up)
 *   transport (tcp.c: accept, read, write, timers, round trips)
 *
 * Every layer's functions take the whole connection; each touches only its
 * own part of it.
 */

struct fb__conn;

/* What a layer tells the layer above it. Each is called with the
 * connection alive; after a call, the callee may have closed it.
 */
struct fb__up {
  /* The stream is established (TCP accepted; TLS handshake done): the
   * layer above starts its clock and its reading.
   */
  void (*ready)(struct fb__conn *c);
  /* n > 0 bytes arrived; p is valid only during the call. */
  void (*data)(struct fb__conn *c, const char *p, size_t n);
  /* The peer sends no more (reading has stopped). */
  void (*eof)(struct fb__conn *c);
  /* The write that returned 0 is out: the layer may write again. */
  void (*writable)(struct fb__conn *c);
};

/* The stream the HTTP layer writes to: the transport (fb__tcp_stream) or
 * TLS over it (fb__tlsconn_stream). One write is pending at a time.
 */
struct fb__stream {
  const char *name; /* "tcp", "tls" */
  /* Bytes per write at most (for TLS: what it encrypts ahead), 0: any. */
  uint64_t max_slice;
  /* Takes all of bufs (n <= FB__MAX_IOV). Returns 1 when they are out
   * (write again at will), 0 when part waits: the buffers' memory must
   * then stay as it is until up->writable, which comes once they are out.
   * Returns -1 when the connection failed and is closing (no callback
   * follows).
   */
  int (*write)(struct fb__conn *c, const uv_buf_t *bufs, unsigned n);
  /* The zero-copy path, NULL when the stream has none (TLS): sendmsg
   * (MSG_MORE when more says so) and sendfile straight to the socket.
   * Return the bytes sent, 0 when the socket is full or the flight is
   * held (a write then waits for the moment), -1 when the connection
   * failed and is closing.
   */
  ssize_t (*send)(struct fb__conn *c, const struct iovec *iov, int n, int more);
  ssize_t (*sendfile)(struct fb__conn *c, int fd, int64_t off, size_t len);
  /* Starts and stops delivering data (back pressure). */
  void (*read_start)(struct fb__conn *c);
  void (*read_stop)(struct fb__conn *c);
  /* Ends the connection once what was written is out: TLS says
   * close_notify, then FIN; what the peer still sends is drained, then
   * the connection closes (on EOF, or after FB__LINGER_MS).
   */
  void (*shutdown)(struct fb__conn *c);
  /* As shutdown, without TLS's close_notify: a truncation attack's cut. */
  void (*cut)(struct fb__conn *c);
  /* Closes at once with an RST. */
  void (*reset)(struct fb__conn *c);
  /* Closes at once (a FIN, or an RST if the peer's bytes were unread). */
  void (*close)(struct fb__conn *c);
};

#define FB__LINGER_MS 2000 /* draining a connection we shut down */
#define FB__MAX_IOV 16

/* The transport's part of a connection. */
struct fb__tcp {
  uv_tcp_t handle;
  uv_timer_t timer;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  const struct fb__up *up;             /* the layer above */
  void (*tick)(struct fb__conn *c);    /* what the timer or alarm runs */
  void (*release)(struct fb__conn *c); /* frees c once its handles closed */
  struct fb__alarm alarm;              /* the layer above's precise timer */
  struct fb__alarm hold;               /* the release of a held flight */
  int open_handles;
  int fd; /* the socket, for sendmsg and sendfile */
  unsigned closing : 1, eof : 1, reading : 1, draining : 1, writing : 1,
      held : 1, flight : 1, sent : 1, want_shutdown : 1;
  uint64_t drained;
  /* Round trips (fb__tcp_set_rtt): each flight of bytes we send leaves
   * one round trip after its first write; the first flight of a
   * connection one more, less the time the client waited before sending.
   */
  int64_t rtt_ns;
  int64_t accepted_ns, first_in_ns; /* fb_clock_ns times, 0: not yet */
  int64_t release_ns;               /* the current flight leaves then */
  int64_t flight_ns; /* when the next flight began (fb__tcp_flight), 0: at
                      * its first write */
  uv_buf_t held_bufs[FB__MAX_IOV]; /* a write waiting for release_ns */
  unsigned nheld;
};

extern const struct fb__stream fb__tcp_stream;

/* Initialises c->t's handle on the origin's loop, for the caller to
 * accept or open a socket into; up hears the transport's events, and
 * release(c) runs once the connection's handles are closed, to free c.
 */
void fb__tcp_init(struct fb__conn *c, const struct fb__up *up,
                  void (*release)(struct fb__conn *c));

/* Starts a connection whose handle is connected: its timer, the first
 * read, then up->ready. Returns 0, or a negative errno with the connection
 * closing.
 */
int fb__tcp_start(struct fb__conn *c);

/* Closes the handle of a connection that was not started; release runs. */
void fb__tcp_discard(struct fb__conn *c);

/* See struct fb__stream: the transport's own versions. */
int fb__tcp_write(struct fb__conn *c, const uv_buf_t *bufs, unsigned n);
void fb__tcp_read_start(struct fb__conn *c);
void fb__tcp_read_stop(struct fb__conn *c);
void fb__tcp_shutdown(struct fb__conn *c);
void fb__tcp_reset(struct fb__conn *c);
void fb__tcp_close(struct fb__conn *c);

/* Runs tick(c) after ms (on libuv's millisecond clock: for timeouts), or
 * at due_ns (fb_clock_ns, on time to well under a millisecond: for
 * emulated latency and pacing). Either replaces the one pending.
 */
void fb__tcp_timer(struct fb__conn *c, uint64_t ms,
                   void (*tick)(struct fb__conn *c));
void fb__tcp_at(struct fb__conn *c, int64_t due_ns,
                void (*tick)(struct fb__conn *c));

/* The emulated round trip for the flights that follow, in ns (0: none). */
void fb__tcp_set_rtt(struct fb__conn *c, int64_t rtt_ns);

/* What is written next starts a flight of its own, held one round trip from
 * then: for an answer the server thought about (--delay), whose think time
 * adds to the round trip even when something else (a TLS 1.3 session
 * ticket) went out as the request arrived.
 */
void fb__tcp_flight(struct fb__conn *c);

/* Bytes waiting in libuv's write queue. */
size_t fb__tcp_queued(const struct fb__conn *c);

#endif /* FB_ORIGIN_TCP_H */
