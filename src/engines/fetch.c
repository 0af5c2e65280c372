/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "engines/fetch.h"
#include "engines/testhooks.h"
#include "tls/tls.h"
#include "fetchbench/clock.h"
#include "fetchbench/error.h"
#include "fetchbench/job.h"
#include "fetchbench/schedule.h"
#include "fetchbench/urlset.h"

static size_t write_body(char *data, size_t size, size_t nmemb, void *arg) {
  struct fb_fetch *f = arg;
  size_t n = size * nmemb;

  /* The cap applies to decoded bytes, so a gzip bomb stops here too.
   * Returning less than n makes libcurl fail with CURLE_WRITE_ERROR.
   */
  if (n > f->job->max_body - f->bytes) {
    f->too_large = 1;
    return 0;
  }
  XXH3_64bits_update(&f->hash, data, n);
  f->bytes += n;
  return n;
}

static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                    curl_off_t ultotal, curl_off_t ulnow) {
  const struct fb_fetch *f = arg;

  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  return fb_job_cancelled(f->job);
}

/* CURLOPT_OPENSOCKETFUNCTION: the socket libcurl would make, made here so
 * that a failure keeps its errno. libcurl 7.88 reports socket() failing
 * (EMFILE: out of descriptors) as "Couldn't connect to server" and leaves
 * CURLINFO_OS_ERRNO at 0, so a run short of descriptors would blame the
 * server.
 */
static curl_socket_t open_socket(void *arg, curlsocktype purpose,
                                 struct curl_sockaddr *addr) {
  struct fb_fetch *f = arg;
  curl_socket_t fd;

  (void)purpose;
  fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  f->socket_errno = fd == CURL_SOCKET_BAD ? errno : 0;
  return fd;
}

/* The SSL ex_data slot that marks a connection's handshake as counted. */
static int counted_index = -1;
static pthread_once_t counted_once = PTHREAD_ONCE_INIT;

static void counted_init(void) {
  counted_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Counts a connection's handshake once, when it completes: full, or
 * resumed from a cached session. libcurl 7.88 makes an SSL_CTX for every
 * new connection, so the context's app data is the transfer that opened it,
 * during whose transfer the handshake completes. TLS 1.3 may report a
 * finished handshake again (a ticket read later, maybe during a request of
 * another slot that reuses the connection): the SSL is marked, so only the
 * first counts.
 */
static void on_ssl_info(const SSL *ssl, int where, int ret) {
  struct fb_fetch *f;

  (void)ret;
  if (!(where & SSL_CB_HANDSHAKE_DONE) || counted_index < 0 ||
      SSL_get_ex_data(ssl, counted_index) != NULL)
    return;
  f = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  if (f == NULL || SSL_set_ex_data((SSL *)ssl, counted_index, f) != 1)
    return;
  f->handshake =
      SSL_session_reused((SSL *)ssl) ? FB_HANDSHAKE_RESUMED : FB_HANDSHAKE_FULL;
}

/* CURLOPT_SSL_CTX_FUNCTION, before every new TLS connection's handshake:
 * with FB_CA_SHARED the process's CA store replaces the empty one libcurl
 * made (libcurl was told to load no file: see fb__fetch_init), and the
 * handshake is counted.
 */
static CURLcode on_ssl_ctx(CURL *easy, void *sslctx, void *arg) {
  struct fb_fetch *f = arg;
  SSL_CTX *ctx = sslctx;
  X509_STORE *store;

  (void)easy;
  pthread_once(&counted_once, counted_init);
  /* Built on the process's first https connection (or before the run, by
   * fb_engine_check_job), then shared: a lookup.
   */
  if (f->job->ca_cache == FB_CA_SHARED) {
    if (fb_tls_ca_store(f->job->cacert, &store, f->errbuf, sizeof(f->errbuf)) !=
        0)
      return CURLE_SSL_CACERT_BADFILE;
    SSL_CTX_set1_cert_store(ctx, store);
  }
  SSL_CTX_set_app_data(ctx, f);
  SSL_CTX_set_info_callback(ctx, on_ssl_info);
  return CURLE_OK;
}

static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access a,
                       void *arg) {
  struct fb_fetch_share *s = arg;

  (void)easy;
  (void)data;
  (void)a;
  pthread_mutex_lock(&s->lock);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *arg) {
  struct fb_fetch_share *s = arg;

  (void)easy;
  (void)data;
  pthread_mutex_unlock(&s->lock);
}

int fb__fetch_share_init(struct fb_fetch_share *s, const struct fb_job *job,
                         int threaded) {
  CURLSHcode sc;

  memset(s, 0, sizeof(*s));
  if (!job->tls_resume)
    return 0;
  s->threaded = threaded;
  s->share = curl_share_init();
  if (s->share == NULL)
    return -ENOMEM;
  /* One lock for the one kind of data shared: a session lookup and store
   * are short, and threads contend for them once per new connection.
   */
  if (threaded) {
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
      fb__fetch_share_cleanup(s);
      return -ENOMEM;
    }
    s->lock_ready = 1;
    sc = curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
    if (sc == CURLSHE_OK)
      sc = curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    if (sc == CURLSHE_OK)
      sc = curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
    if (sc != CURLSHE_OK) {
      fb__fetch_share_cleanup(s);
      return FB_ECURL;
    }
  }
  sc = curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if (sc != CURLSHE_OK) {
    fb__fetch_share_cleanup(s);
    return sc == CURLSHE_NOMEM ? -ENOMEM : FB_ECURL;
  }
  return 0;
}

void fb__fetch_share_cleanup(struct fb_fetch_share *s) {
  if (s->share != NULL)
    curl_share_cleanup(s->share);
  s->share = NULL;
  if (s->lock_ready)
    pthread_mutex_destroy(&s->lock);
  s->lock_ready = 0;
}

/* Without CURLOPT_PROXY, libcurl 7.88 reads the proxy variables of the
 * environment for every request, reused connection or not (five getenv
 * calls a page, each a walk of the environment). The environment does not
 * change during a run: when it names no proxy, "no proxy for any host" says
 * so once, and a set variable keeps libcurl's behaviour.
 */
static int env_names_proxy(void) {
  static const char *const vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                     "all_proxy", "ALL_PROXY"};

  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
    const char *v = getenv(vars[i]);

    if (v != NULL && *v != '\0')
      return 1;
  }
  return 0;
}

/* libcurl reads into one buffer per easy handle, 16 KiB by default; the curl
 * tool asks for 100 KiB. A larger one means fewer recv calls and write
 * callbacks per page (the Django mix: 3.1 recv calls a page at 16 KiB, 1.3
 * at 64 KiB), but every transfer in flight holds one, so the buffers share a
 * budget: 64 KiB each up to 256 in flight, down to libcurl's 16 KiB from
 * 1,024 on.
 */
#define RECV_BUFFER_BUDGET (16L << 20)

static long recv_buffer_size(unsigned workers) {
  long size = RECV_BUFFER_BUDGET / (long)(workers > 0 ? workers : 1);

  if (size > 64L << 10)
    size = 64L << 10;
  return size < CURL_MAX_WRITE_SIZE ? CURL_MAX_WRITE_SIZE : size;
}

/* curl_easy_setopt with the option's name kept for the error message, as
 * curl's own code does `result = ...; if(result) goto out;`.
 */
#define SETOPT(e, opt, val)                                                    \
  do {                                                                         \
    rc = curl_easy_setopt((e), (opt), (val));                                  \
    if (rc != CURLE_OK) {                                                      \
      failed = #opt;                                                           \
      goto out;                                                                \
    }                                                                          \
  } while (0)

long fb__fetch_nofile_limit(void) {
  struct rlimit rl;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return -1;
  return (long)rl.rlim_cur;
}

int fb__fetch_init(struct fb_fetch *f, const struct fb_job *job, int64_t t0,
                   unsigned worker, const struct fb_fetch_share *share) {
  const char *failed = NULL;
  CURLcode rc = CURLE_OK;
  CURL *e;

  memset(f, 0, sizeof(*f));
  f->job = job;
  f->t0 = t0;
  f->worker = worker;
  f->easy = e = curl_easy_init();
  if (e == NULL) {
    snprintf(f->errbuf, sizeof(f->errbuf), "curl_easy_init failed");
    return -ENOMEM;
  }

  /* Every limit is explicit: libcurl 7.88 follows unlimited redirects and has
   * no total timeout unless told.
   */
  SETOPT(e, CURLOPT_PRIVATE, f);
  SETOPT(e, CURLOPT_ERRORBUFFER, f->errbuf);
  SETOPT(e, CURLOPT_WRITEFUNCTION, write_body);
  SETOPT(e, CURLOPT_WRITEDATA, f);
  SETOPT(e, CURLOPT_NOSIGNAL, 1L);
  SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  SETOPT(e, CURLOPT_OPENSOCKETDATA, f);
  SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
  SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  SETOPT(e, CURLOPT_FOLLOWLOCATION, job->follow_redirects ? 1L : 0L);
  SETOPT(e, CURLOPT_MAXREDIRS, job->max_redirects);
  SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, job->connect_timeout_ms);
  SETOPT(e, CURLOPT_TIMEOUT_MS, job->timeout_ms);
  if (job->low_speed_secs > 0) {
    SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, job->low_speed_bytes);
    SETOPT(e, CURLOPT_LOW_SPEED_TIME, job->low_speed_secs);
  }
  SETOPT(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)job->max_body);
  SETOPT(e, CURLOPT_ACCEPT_ENCODING, "");
  SETOPT(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  SETOPT(e, CURLOPT_SSL_VERIFYPEER, job->verify_tls ? 1L : 0L);
  SETOPT(e, CURLOPT_SSL_VERIFYHOST, job->verify_tls ? 2L : 0L);
  /* Where the trusted CAs come from. Debian's libcurl 7.88 names a CA file
   * and a CA directory by default, and with a directory it neither caches
   * the store nor skips reading the file: every new connection parses the
   * whole bundle again (~25 ms of CPU here).
   */
  switch (job->ca_cache) {
  case FB_CA_SHARED:
    /* libcurl loads nothing; on_ssl_ctx hands it the process's store. */
    SETOPT(e, CURLOPT_CAINFO, NULL);
    SETOPT(e, CURLOPT_CAPATH, NULL);
    break;
  case FB_CA_CURL:
    /* libcurl's cache: kept per multi handle, once no directory is set. */
    if (job->cacert != NULL)
      SETOPT(e, CURLOPT_CAINFO, job->cacert);
    SETOPT(e, CURLOPT_CAPATH, NULL);
    break;
  case FB_CA_OFF:
    if (job->cacert != NULL)
      SETOPT(e, CURLOPT_CAINFO, job->cacert);
    break;
  }
  SETOPT(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
  SETOPT(e, CURLOPT_SSL_CTX_DATA, f);
  if (!job->tls_resume)
    SETOPT(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  else if (share != NULL && share->share != NULL)
    SETOPT(e, CURLOPT_SHARE, share->share);
  SETOPT(e, CURLOPT_USERAGENT, job->user_agent);
  SETOPT(e, CURLOPT_BUFFERSIZE, recv_buffer_size(job->workers));
  if (!env_names_proxy())
    SETOPT(e, CURLOPT_NOPROXY, "*");
  if (job->connection == FB_CONN_FRESH) {
    SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);
    SETOPT(e, CURLOPT_FORBID_REUSE, 1L);
  }
  /* The progress callback costs a call per socket event; install it only
   * when the run can be cancelled.
   */
  if (job->cancel != NULL) {
    SETOPT(e, CURLOPT_XFERINFOFUNCTION, progress);
    SETOPT(e, CURLOPT_XFERINFODATA, f);
    SETOPT(e, CURLOPT_NOPROGRESS, 0L);
  }
out:
  if (failed != NULL) {
    char why[CURL_ERROR_SIZE];

    snprintf(why, sizeof(why), "curl_easy_setopt(%s): %s", failed,
             curl_easy_strerror(rc));
    fb__fetch_cleanup(f);
    memcpy(f->errbuf, why, sizeof(why));
    return FB_ECURL;
  }
  return 0;
}

int fb__fetch_start(struct fb_fetch *f, size_t index) {
  const struct fb_job *job = f->job;

  f->index = index;
  f->bytes = 0;
  f->too_large = 0;
  f->socket_errno = 0;
  f->handshake = FB_HANDSHAKE_NONE;
  f->errbuf[0] = '\0';
  XXH3_64bits_reset(&f->hash);
  if (curl_easy_setopt(f->easy, CURLOPT_URL, fb_urlset_get(job->urls, index)) !=
      CURLE_OK) {
    snprintf(f->errbuf, sizeof(f->errbuf),
             "curl_easy_setopt(CURLOPT_URL) refused URL %zu", index);
    return FB_ECURL;
  }
  FB__TEST_BEFORE_REQUEST(index);
  f->t_start = fb_clock_ns();
  return 0;
}

enum fb_outcome fb__fetch_outcome(CURLcode code, long status, int too_large,
                                  int cancelled, long os_errno) {
  /* Out of descriptors on our side is not the server's failure, whatever
   * stage of the request it stopped.
   */
  if (code != CURLE_OK && code != CURLE_ABORTED_BY_CALLBACK &&
      (os_errno == EMFILE || os_errno == ENFILE))
    return FB_OUTCOME_RESOURCE;
  switch (code) {
  case CURLE_OK:
    return status >= 400 ? FB_OUTCOME_HTTP : FB_OUTCOME_OK;
  case CURLE_WRITE_ERROR:
    return too_large ? FB_OUTCOME_TOO_LARGE : FB_OUTCOME_OTHER;
  case CURLE_FILESIZE_EXCEEDED:
    return FB_OUTCOME_TOO_LARGE;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return FB_OUTCOME_RESOLVE;
  case CURLE_COULDNT_CONNECT:
    return FB_OUTCOME_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return FB_OUTCOME_TIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_CLIENTCERT:
  case CURLE_USE_SSL_FAILED:
    return FB_OUTCOME_TLS;
  case CURLE_SEND_ERROR:
    return FB_OUTCOME_SEND;
  case CURLE_RECV_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_GOT_NOTHING:
    return FB_OUTCOME_RECV;
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_HTTP3:
  case CURLE_URL_MALFORMAT:
  case CURLE_RANGE_ERROR:
    return FB_OUTCOME_PROTOCOL;
  case CURLE_TOO_MANY_REDIRECTS:
    return FB_OUTCOME_REDIRECT;
  case CURLE_ABORTED_BY_CALLBACK:
    return cancelled ? FB_OUTCOME_CANCELLED : FB_OUTCOME_OTHER;
  default:
    return FB_OUTCOME_OTHER;
  }
}

void fb__fetch_finish(struct fb_fetch *f, CURLcode code, struct fb_result *r) {
  long status = 0;
  long connects = 0;
  curl_off_t connect_us = 0;
  curl_off_t first_byte_us = 0;
  curl_off_t tls_us = 0;
  long os_errno = 0;
  int64_t start = f->t_start - f->t0;

  /* getinfo on a handle that ran cannot fail for these; if it somehow did,
   * the zeroes read as "phase not reached".
   */
  curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(f->easy, CURLINFO_NUM_CONNECTS, &connects);
  curl_easy_getinfo(f->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
  curl_easy_getinfo(f->easy, CURLINFO_STARTTRANSFER_TIME_T, &first_byte_us);
  curl_easy_getinfo(f->easy, CURLINFO_APPCONNECT_TIME_T, &tls_us);
  if (code != CURLE_OK && f->socket_errno != 0)
    os_errno = f->socket_errno;
  else if (code != CURLE_OK)
    curl_easy_getinfo(f->easy, CURLINFO_OS_ERRNO, &os_errno);

  fb_result_init(r);
  r->index = (uint32_t)f->index;
  r->worker = f->worker;
  r->outcome = (uint16_t)fb__fetch_outcome(code, status, f->too_large,
                                           fb_job_cancelled(f->job), os_errno);
  r->http_status = (uint16_t)(status > 0 && status < 1000 ? status : 0);
  r->error_code = (int32_t)code;
  r->body_bytes = f->bytes;
  r->checksum = XXH3_64bits_digest(&f->hash);
  r->t_start = start;
  if (f->job->schedule != NULL)
    r->t_due = fb_schedule_due(f->job->schedule, f->index);
  /* A reused connection reports a connect time of 0: connected at start. */
  if (connect_us > 0 || (connects == 0 && (status > 0 || first_byte_us > 0)))
    r->t_connected = start + connect_us * 1000;
  else
    r->t_connected = -1;
  r->t_first_byte = first_byte_us > 0 ? start + first_byte_us * 1000 : -1;
  /* A reused connection reports 0 here too: no handshake for this one. */
  if (tls_us > 0)
    r->t_tls = start + tls_us * 1000;
  r->handshake = f->handshake;
  r->reused = connects == 0 && r->t_connected >= 0;
  /* Our clock, not curl's TOTAL_TIME: every engine's latency then includes
   * the time it took to notice the end, as a user of that model would see.
   */
  r->t_done = fb_clock_ns() - f->t0;

  if (r->outcome == FB_OUTCOME_TOO_LARGE) {
    snprintf(f->errbuf, sizeof(f->errbuf), "body over the cap of %llu bytes",
             (unsigned long long)f->job->max_body);
    r->message = f->errbuf;
  } else if (r->outcome == FB_OUTCOME_RESOURCE) {
    char why[CURL_ERROR_SIZE];

    snprintf(why, sizeof(why), "%s",
             f->errbuf[0] != '\0' ? f->errbuf : curl_easy_strerror(code));
    if (f->socket_errno != 0)
      snprintf(f->errbuf, sizeof(f->errbuf),
               "could not make a socket: %s (open-files limit %ld)",
               strerror(f->socket_errno), fb__fetch_nofile_limit());
    else
      snprintf(f->errbuf, sizeof(f->errbuf),
               "%s (open-files limit %ld): %.160s", strerror((int)os_errno),
               fb__fetch_nofile_limit(), why);
    r->message = f->errbuf;
  } else if (code == CURLE_TOO_MANY_REDIRECTS) {
    /* libcurl may leave the message of an earlier, retried step in errbuf
     * (a reused connection the server had reset): the code says it all.
     */
    snprintf(f->errbuf, sizeof(f->errbuf), "more than %ld redirects followed",
             f->job->max_redirects);
    r->message = f->errbuf;
  } else if (code != CURLE_OK) {
    r->message = f->errbuf[0] != '\0' ? f->errbuf : curl_easy_strerror(code);
  }
}

CURLcode fb__fetch_perform(struct fb_fetch *f) {
  CURLcode code = CURLE_OK;
  CURLMcode mc;
  CURLMsg *msg;
  int running = 1;
  int left;
  int wait_ms = f->job->cancel != NULL ? FB_FETCH_POLL_MS : 1000;

  if (f->multi == NULL && (f->multi = curl_multi_init()) == NULL)
    return CURLE_OUT_OF_MEMORY;
  if (curl_multi_add_handle(f->multi, f->easy) != CURLM_OK)
    return CURLE_FAILED_INIT;

  for (;;) {
    mc = curl_multi_perform(f->multi, &running);
    if (mc != CURLM_OK) {
      code =
          mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
      break;
    }
    if (running == 0) {
      /* One handle, so the message, when there is one, is ours. */
      code = CURLE_FAILED_INIT;
      while ((msg = curl_multi_info_read(f->multi, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == f->easy)
          code = msg->data.result;
      break;
    }
    if (fb_job_cancelled(f->job)) {
      code = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    mc = curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL);
    if (mc != CURLM_OK) {
      code =
          mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
      break;
    }
  }
  /* Removing an unfinished transfer aborts it and closes its connection; a
   * finished one leaves its connection in the multi's pool for the next.
   */
  curl_multi_remove_handle(f->multi, f->easy);
  if (code == CURLE_ABORTED_BY_CALLBACK && fb_job_cancelled(f->job))
    snprintf(f->errbuf, sizeof(f->errbuf), "cancelled");
  return code;
}

void fb__fetch_cleanup(struct fb_fetch *f) {
  if (f->easy != NULL)
    curl_easy_cleanup(f->easy);
  f->easy = NULL;
  if (f->multi != NULL)
    curl_multi_cleanup(f->multi);
  f->multi = NULL;
}
