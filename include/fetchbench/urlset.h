/* SPDX-License-Identifier: MIT */
#ifndef FETCHBENCH_URLSET_H
#define FETCHBENCH_URLSET_H

#include <stddef.h>

/* An ordered, validated list of http:// and https:// URLs. URLs live in a
 * chunked arena (chunks never move) with one pointer per URL, so memory per
 * URL is the URL's bytes plus one pointer and a small fraction, whatever the
 * count.
 */
struct fb_urlset;

/* Creates an empty set in *out. Returns 0 or -ENOMEM. */
int fb_urlset_create(struct fb_urlset **out);

/* Frees the set and every string it handed out. NULL is allowed. */
void fb_urlset_destroy(struct fb_urlset *set);

/* Validates url (len bytes, no terminating NUL needed) with libcurl's URL
 * parser and appends it. Only http and https are accepted. On a bad URL,
 * returns FB_EURL and writes the reason to err (errlen bytes, always
 * NUL-terminated when errlen > 0). Returns -ENOMEM when out of memory.
 */
int fb_urlset_add(struct fb_urlset *set, const char *url, size_t len, char *err,
                  size_t errlen);

/* Reads URLs from path, or from stdin when path is "-": one URL per line;
 * blank lines and lines starting with '#' (after leading white space) are
 * skipped; CRLF line ends and a leading UTF-8 BOM are accepted; surrounding
 * white space is trimmed.
 *
 * Every bad line is diagnosed, not only the first: err receives up to a few
 * "path:line: reason" messages separated by newlines and a count of the rest
 * (stdin is named "<stdin>"). Returns 0, FB_EURL (bad lines; nothing is
 * added), FB_EEMPTY (no URL at all), or -errno when the file cannot be read
 * (err names path and errno; a directory is -EISDIR). On any error the set is
 * left as it was. Large files are validated on several threads.
 */
int fb_urlset_load(struct fb_urlset *set, const char *path, char *err,
                   size_t errlen);

/* Number of URLs. */
size_t fb_urlset_count(const struct fb_urlset *set);

/* The i-th URL (i < count), NUL-terminated and borrowed from the set: valid
 * until the set is destroyed; adding URLs does not move earlier ones.
 */
const char *fb_urlset_get(const struct fb_urlset *set, size_t i);

/* A digest of the list, so that two runs can tell whether they fetched the
 * same URLs: FNV-1a (64 bits) over every URL in order, each followed by a
 * newline, with the prefix strip removed from a URL that starts with it (an
 * embedded origin's base URL, whose port changes from run to run; NULL or
 * "": none). Written as 16 hex digits and a NUL into out.
 */
#define FB_URLSET_DIGEST_LEN 17
void fb_urlset_digest(const struct fb_urlset *set, const char *strip,
                      char out[FB_URLSET_DIGEST_LEN]);

/* "http" or "https" when every URL has that scheme, else "mixed"; "" for
 * an empty set. Static.
 */
const char *fb_urlset_scheme(const struct fb_urlset *set);

/* Bytes the set holds: arena chunks, the pointer array and the set itself. */
size_t fb_urlset_memory(const struct fb_urlset *set);

/* Percent-encodes path for a URL: every byte but ASCII letters, digits and
 * "/-._~" becomes %XX. Writes at most cap bytes to out, NUL-terminated when
 * cap > 0 (truncated if need be), and returns the length the whole encoding
 * needs, as snprintf does.
 */
size_t fb_url_encode_path(char *out, size_t cap, const char *path);

#endif /* FETCHBENCH_URLSET_H */
