/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_TLS_H
#define FETCHBENCH_TLS_H

/* The project's one TLS layer (OpenSSL 3), sans I/O: it never touches a
 * socket. The origin (server side) and the raw and uring client engines
 * (client side) read ciphertext from their sockets and feed it here, read
 * plaintext out, write plaintext in, and send the ciphertext this layer
 * hands them as iovecs. The curl engines use only its CA store
 * (fb_tls_ca_store, through CURLOPT_SSL_CTX_FUNCTION).
 *
 * Errors: 0 or a negative code (-errno, or FB_ETLS, FB_ETLSEOF,
 * FB_ETLSVERIFY, FB_ECERT from fetchbench/error.h). Functions that build
 * something write a message naming what failed (file, reason) into err
 * (errlen bytes, always NUL-terminated when errlen > 0); a connection keeps
 * only the OpenSSL error code and formats its message on demand with
 * fb_tls_error(), so that an idle connection stays small.
 *
 * Threads: a context may be shared by threads (its session cache has a
 * lock, the CA store is process-wide and shared by reference); a
 * connection belongs to one thread at a time.
 *
 * Memory per connection (bench/bench-tls counts it through OpenSSL's
 * allocator): about 9 KiB before the handshake (the SSL object is most of
 * it), 15 KiB for an idle established server connection and 19 KiB for a
 * client one (its session and the server's certificate included), with
 * OpenSSL's two record buffers (~17 KiB each) and this layer's input buffer
 * freed whenever the connection waits for input with nothing pending (that
 * is, after fb_tls_read said -EAGAIN); keep_buffers keeps them (~65 KiB).
 * A handshake in progress holds ~45 KiB a side. Pending ciphertext adds at
 * most out_max plus one record.
 *
 * kTLS: a connection on memory buffers cannot hand its keys to the kernel,
 * so large bodies are encrypted with fb_tls_write straight from the
 * caller's memory (a memfd mapping is fine); fb_tls_ktls_available() says
 * whether the kernel offers kTLS at all, for a report to say which path ran.
 */

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/types.h>

struct fb_tls_cert;
struct fb_tls_ctx;
struct fb_tls;

/* ---- Certificates (cert.c) -------------------------------------------- */

enum fb_tls_cert_kind {
  FB_TLS_CERT_GOOD = 0,   /* valid from now-1h to now+days */
  FB_TLS_CERT_EXPIRED,    /* valid from now-days-1d to now-1d: expired */
  FB_TLS_CERT_OTHER_NAME, /* valid, but only for other_name (no IPs) */
};

struct fb_tls_cert_opts {
  enum fb_tls_cert_kind kind;
  unsigned days; /* validity length in days; 0 means 30 */
  /* GOOD and EXPIRED: extra DNS names beside 127.0.0.1, ::1 and localhost,
   * NULL-terminated (NULL for none). List every fault host name: OpenSSL
   * refuses a wildcard such as *.localhost (one label after the star). */
  const char *const *dns_names;
  /* OTHER_NAME: the only DNS name; NULL means "other.invalid". */
  const char *other_name;
  const char *common_name; /* subject CN; NULL means "fetchbench" */
};

/* Generates a fresh EC P-256 key and a self-signed certificate for it
 * (SANs: IP 127.0.0.1, IP ::1, DNS localhost, then dns_names; serial
 * random). opts may be NULL (a GOOD certificate for 30 days). *out is owned
 * by the caller (fb_tls_cert_destroy). Returns 0, -ENOMEM, FB_EUSAGE (a bad
 * name in dns_names) or FB_ETLS, with a message in err. */
int fb_tls_cert_generate(struct fb_tls_cert **out,
                         const struct fb_tls_cert_opts *opts, char *err,
                         size_t errlen);

/* Loads a certificate (first PEM certificate of cert_file; further ones are
 * sent as its chain) and its private key (key_file; the same file when
 * key_file is NULL). Fails naming the file: -ENOENT, -EACCES, -EISDIR (not
 * found, unreadable, a directory) or FB_ECERT (no PEM certificate or key in
 * it, or a key that does not match the certificate). */
int fb_tls_cert_load(struct fb_tls_cert **out, const char *cert_file,
                     const char *key_file, char *err, size_t errlen);

/* Writes the PEM of n certificates (not their keys) to path, created or
 * truncated with mode 0644: a CA file that makes clients trust exactly
 * these certificates. Returns 0 or -errno with a message naming path. */
int fb_tls_cert_write_pem(const struct fb_tls_cert *const *certs, size_t n,
                          const char *path, char *err, size_t errlen);

/* Writes cert's private key as unencrypted PKCS#8 PEM to path (mode 0600),
 * for a peer server (nginx) that must present the same certificate. */
int fb_tls_cert_write_key_pem(const struct fb_tls_cert *cert, const char *path,
                              char *err, size_t errlen);

/* Frees cert. Contexts and connections that use it hold their own
 * references to its key and certificate, so this may come before them.
 * NULL is a no-op. */
void fb_tls_cert_destroy(struct fb_tls_cert *cert);

/* ---- Contexts (ctx.c) ---------------------------------------------------
 * One per role and configuration, shared by all the connections of a loop
 * (or of a process). Zeroed options are the defaults.
 */

/* Versions for min_version/max_version. */
#define FB_TLS_1_2 12
#define FB_TLS_1_3 13

/* Chooses the certificate a server presents to a client that asked for
 * server name `name` (SNI; NULL when the client sent none, as for IP
 * addresses). Called inside fb_tls_read/fb_tls_handshake while the
 * ClientHello is processed, before anything is sent back; conn's
 * fb_tls_data() says which caller connection it is, so the callback may
 * also mark it for a handshake-level fault: the ServerHello flight is
 * queued by the same call, and the caller may then drop it
 * (fb_tls_out_consume of all that is pending) and stall, send garbage or
 * reset instead. Returns the certificate to present (borrowed: it must
 * live until the handshake ends) or NULL for the context's default. */
typedef const struct fb_tls_cert *fb_tls_sni_cb(void *arg, struct fb_tls *conn,
                                                const char *name);

struct fb_tls_server_opts {
  const struct fb_tls_cert *cert; /* required: the default certificate */
  /* 1: no session tickets and no session cache (origin --tls-resume off);
   * 0: TLS 1.3 tickets and TLS 1.2 tickets and session IDs (cache of
   * 1,024 sessions). */
  int no_resume;
  fb_tls_sni_cb *sni; /* NULL: always the default certificate */
  void *sni_arg;
  int min_version; /* 0: FB_TLS_1_2 */
  int max_version; /* 0: FB_TLS_1_3 */
  /* Pending ciphertext at which fb_tls_write stops encrypting; 0: 64 KiB. */
  size_t out_max;
  /* 1: keep OpenSSL's record buffers while idle (more memory, a few
   * allocations fewer). */
  int keep_buffers;
};

struct fb_tls_client_opts {
  /* PEM file of trusted certificates (--cacert); NULL: the system store
   * (OpenSSL's default paths: SSL_CERT_FILE, /usr/lib/ssl/cert.pem). Loaded
   * once per process and shared (fb_tls_ca_store). */
  const char *cafile;
  /* 1: verify nothing (--insecure); the verification result is still
   * computed and reported by fb_tls_verify_error(). */
  int insecure;
  /* 1: no session cache (--tls-resume off). 0: the context keeps the
   * latest session per host:port and offers it to the next connection. */
  int no_resume;
  int no_alpn;     /* 1: offer no ALPN (tests; default offers http/1.1) */
  int min_version; /* 0: FB_TLS_1_2 */
  int max_version; /* 0: FB_TLS_1_3 */
  size_t out_max;  /* as for the server */
  int keep_buffers;
};

/* Creates a server context. Returns 0, -ENOMEM, FB_EUSAGE (no cert) or
 * FB_ETLS with a message in err. *out is owned by the caller. */
int fb_tls_ctx_server(struct fb_tls_ctx **out,
                      const struct fb_tls_server_opts *opts, char *err,
                      size_t errlen);

/* Creates a client context; loads (or shares) the CA store at once, so a
 * bad cafile fails here, naming it (see fb_tls_ca_store), not per
 * connection. */
int fb_tls_ctx_client(struct fb_tls_ctx **out,
                      const struct fb_tls_client_opts *opts, char *err,
                      size_t errlen);

/* Frees ctx and its session cache. Every connection made from it must be
 * destroyed first. NULL is a no-op. */
void fb_tls_ctx_destroy(struct fb_tls_ctx *ctx);

/* Counts of the client session cache: sessions stored now. */
size_t fb_tls_ctx_sessions(struct fb_tls_ctx *ctx);

/* ---- The process-wide CA store (castore.c) ------------------------------ */

/* Sets *out to the trusted store of cafile (a PEM file; NULL: the system
 * default paths), built on the first call for that source and shared by
 * every later call in the process, from any thread. The pointer is
 * BORROWED: valid until fb_tls_cleanup(); a user that keeps it in an
 * SSL_CTX must take its own reference (SSL_CTX_set1_cert_store does).
 * Only lookups are done on it after it is built (its flags are set once,
 * here: X509_V_FLAG_TRUSTED_FIRST and X509_V_FLAG_PARTIAL_CHAIN, as libcurl
 * sets them, so a caller has no need to write to it).
 * Errors name the file: -ENOENT, -EACCES, -EISDIR, FB_ECERT (no PEM
 * certificate in it) or -ENOMEM. A failure is not cached: the next call
 * tries again. */
int fb_tls_ca_store(const char *cafile, X509_STORE **out, char *err,
                    size_t errlen);

/* Frees the process-wide stores, for leak checkers at exit. No store may be
 * in use any more (no live context, no SSL_CTX holding only a borrowed
 * pointer). */
void fb_tls_cleanup(void);

/* ---- Connections (conn.c) ----------------------------------------------- */

/* Creates a connection of ctx's role. Client side: host is the name or IP
 * literal the URL gave (SNI is sent for names, none for IP literals; the
 * certificate is checked against the name, or against its IP SANs for an
 * IP), port with host keys the session cache; the handshake starts with the
 * first fb_tls_handshake(). Server side: host must be NULL. data is the
 * caller's, returned by fb_tls_data(). Returns 0, -ENOMEM or FB_ETLS. */
int fb_tls_create(struct fb_tls **out, struct fb_tls_ctx *ctx, const char *host,
                  unsigned port, void *data);

/* Frees conn and everything it holds; pointers from fb_tls_out_iov die.
 * Sends nothing (call fb_tls_shutdown first for a clean close). The session
 * of a client connection that failed (any FB_ETLS* result) is not resumed
 * again; one closed after a clean exchange stays resumable. */
void fb_tls_destroy(struct fb_tls *conn);

void *fb_tls_data(const struct fb_tls *conn);

/* -- Ciphertext in. Feed everything the socket gave, then call fb_tls_read
 * (or fb_tls_handshake) until it returns -EAGAIN: the input buffer holds
 * what was fed and not yet used, and grows with it. */

/* Copies len bytes of ciphertext in. Returns 0 or -ENOMEM. */
int fb_tls_feed(struct fb_tls *conn, const void *buf, size_t len);

/* The zero-copy way in: gives room for at least `want` bytes (0 means
 * FB_TLS_IN_ROOM, one full TLS record and more) at the end of the input buffer, to receive
 * into directly (a libuv alloc_cb, a plain io_uring recv). Then
 * fb_tls_in_commit(conn, n) with the n bytes received (n may be 0). Returns
 * 0 or -ENOMEM. */
#define FB_TLS_IN_ROOM 17408
int fb_tls_in_space(struct fb_tls *conn, size_t want, void **buf, size_t *len);
void fb_tls_in_commit(struct fb_tls *conn, size_t n);

/* The socket reached end of file (or was reset). Later reads return 0 if
 * the peer's close_notify came first, otherwise FB_ETLSEOF (truncation, as
 * OpenSSL 3 tells it: "unexpected eof while reading").
 * libcurl 7.88 (Debian's) does not tell them apart: its BIO reports no end
 * of file to OpenSSL, so SSL_read's bare SSL_ERROR_SYSCALL counts as the
 * plain end of the stream. Measured against a server that closes without
 * close_notify: a Content-Length body cut short ends as CURLE_PARTIAL_FILE
 * ("transfer closed with 50 bytes remaining to read"), a close-delimited
 * body as CURLE_OK, and a close in the middle of the handshake as
 * CURLE_SSL_CONNECT_ERROR ("OpenSSL SSL_connect: SSL_ERROR_SYSCALL in
 * connection to localhost:PORT"). An engine that must give the curl
 * engines' outcomes treats FB_ETLSEOF after the handshake as the socket's
 * plain end and lets the HTTP framing decide. */
void fb_tls_feed_eof(struct fb_tls *conn);

/* -- Progress. */

/* Drives the handshake. Returns 0 once it is done (and at every later
 * call), -EAGAIN when it needs more input (send fb_tls_out_* first: a
 * client's first call queues its ClientHello), FB_ETLSVERIFY when the
 * client refused the server's certificate (fb_tls_verify_error() says why),
 * FB_ETLSEOF when the input ended, or FB_ETLS. */
int fb_tls_handshake(struct fb_tls *conn);

/* Reads up to len bytes of plaintext into buf, driving the handshake first
 * when it is not done. Returns the count (> 0), 0 once the peer's
 * close_notify was read (clean end), -EAGAIN when more input is needed,
 * FB_ETLSEOF when the input ended without close_notify, FB_ETLSVERIFY or
 * FB_ETLS. An error is final: every later read returns it again. */
ssize_t fb_tls_read(struct fb_tls *conn, void *buf, size_t len);

/* Encrypts from buf (the caller's memory is read in place: a memfd mapping
 * is fine), in records of at most 16 KiB, until len bytes are done or the
 * pending ciphertext reaches out_max. Returns the bytes consumed (> 0), 0
 * when the pending ciphertext is already at out_max (send some first),
 * -EAGAIN while the handshake is not done, -EPIPE after fb_tls_shutdown,
 * or FB_ETLS. Never leaves a partial record behind: the next call may
 * pass any memory. */
ssize_t fb_tls_write(struct fb_tls *conn, const void *buf, size_t len);

/* Queues our close_notify (once; later calls are no-ops). A server that
 * must cut a body without it (fault) simply does not call this. Returns 0
 * or FB_ETLS. */
int fb_tls_shutdown(struct fb_tls *conn);

/* -- Ciphertext out. Any call may queue output (a handshake flight, a
 * KeyUpdate answer, tickets, an alert after an error): after each, send
 * what is pending. The pending bytes live in chunks this layer owns; a
 * byte's address never changes until it is consumed, whatever else is
 * called on conn in between (except fb_tls_destroy), so a uv_write or an
 * io_uring send may be in flight across other calls. */

/* Bytes of ciphertext waiting to be sent. */
size_t fb_tls_out_pending(const struct fb_tls *conn);

/* Fills up to n iovecs (uv_buf_t on Unix has the same layout) with the
 * pending ciphertext in order, starting `skip` bytes after the oldest
 * pending byte (the bytes of sends still in flight); returns how many were
 * filled (0 when nothing more is pending). */
int fb_tls_out_iov(const struct fb_tls *conn, size_t skip, struct iovec *iov,
                   int n);

/* Marks the first n pending bytes as sent (n <= fb_tls_out_pending). */
void fb_tls_out_consume(struct fb_tls *conn, size_t n);

/* -- State, for reports and per-request timestamps. */

/* Events since the last call (the caller timestamps them): a bit set of
 * FB_TLS_EV_*. Reading clears them. */
#define FB_TLS_EV_HELLO                                                        \
  0x1                         /* first flight of the peer read (a ClientHello
                               * on the server, a ServerHello on the client) */
#define FB_TLS_EV_DONE 0x2    /* handshake completed */
#define FB_TLS_EV_CLOSED 0x4  /* the peer's close_notify read */
#define FB_TLS_EV_SESSION 0x8 /* client: a session for resumption arrived */
unsigned fb_tls_events(struct fb_tls *conn);

int fb_tls_handshake_done(const struct fb_tls *conn); /* 1 or 0 */
int fb_tls_resumed(const struct fb_tls *conn); /* 1: an abbreviated handshake */

/* "TLSv1.2", "TLSv1.3" once negotiated, else NULL. Static. */
const char *fb_tls_version(const struct fb_tls *conn);

/* "http/1.1" when ALPN agreed on it, NULL when no ALPN was agreed. Static. */
const char *fb_tls_alpn(const struct fb_tls *conn);

/* Server side: the server name the client sent (SNI), NULL when none.
 * Borrowed from conn. */
const char *fb_tls_server_name(const struct fb_tls *conn);

/* Client side: why the server's certificate failed verification
 * ("certificate has expired", "hostname mismatch", "IP address mismatch",
 * "self-signed certificate", ...), or NULL when it passed or was not seen.
 * Set in insecure mode too. Static (OpenSSL's strings). For comparison,
 * libcurl 7.88 fails such handshakes with CURLE_PEER_FAILED_VERIFICATION
 * (60) and "SSL certificate problem: certificate has expired" (this
 * string after its prefix), but checks names itself: "SSL: no alternative
 * certificate subject name matches target host name 'localhost'". */
const char *fb_tls_verify_error(const struct fb_tls *conn);

/* Writes the message of conn's last error (FB_ETLS*: OpenSSL's reason, the
 * verification failure, the alert the peer sent) into buf, always
 * NUL-terminated; "" when there was none. Returns buf. */
char *fb_tls_error(const struct fb_tls *conn, char *buf, size_t len);

/* ---- Utilities (util.c) ------------------------------------------------- */

/* 1 when the kernel offers kTLS (`tls` is listed in
 * /proc/sys/net/ipv4/tcp_available_ulp), 0 when it does not, -errno when
 * that file cannot be read. Memory-buffer connections cannot use kTLS
 * either way; this is for a report to say why SSL_write ran. */
int fb_tls_ktls_available(void);

/* Counts OpenSSL's (and this layer's) heap in use, for memory-per-
 * connection figures: must be called before OpenSSL allocates anything in
 * the process (first thing in main). Returns 0 or FB_ETLS when too late. */
int fb_tls_mem_count_start(void);

/* Bytes of heap held through OpenSSL now (0 unless counting started). */
size_t fb_tls_mem_in_use(void);

#endif /* FETCHBENCH_TLS_H */
