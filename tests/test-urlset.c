/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fetchbench/error.h"
#include "fetchbench/urlset.h"
#include "scratch.h"

static int group_setup(void **state) {
  (void)state;
  return scratch_create("urlset");
}

static int group_teardown(void **state) {
  (void)state;
  return scratch_remove();
}

static const char *write_str(const char *name, const char *data) {
  return scratch_write(name, data, strlen(data));
}

static struct fb_urlset *new_set(void) {
  struct fb_urlset *set = NULL;
  assert_int_equal(fb_urlset_create(&set), 0);
  assert_non_null(set);
  return set;
}

/* Loads path into a fresh set, expecting rc; err must hold every needle. */
static struct fb_urlset *load_expect(const char *path, int rc, char *err,
                                     size_t errlen) {
  struct fb_urlset *set = new_set();
  int got = fb_urlset_load(set, path, err, errlen);

  if (got != rc)
    fail_msg("load %s: got %s, want %s; err: %s", path, fb_err_name(got),
             fb_err_name(rc), err);
  if (rc != 0)
    assert_int_equal(fb_urlset_count(set), 0);
  return set;
}

static int count_lines(const char *s) {
  int n = *s != '\0';
  for (; *s != '\0'; s++)
    n += *s == '\n';
  return n;
}

static void test_add_good(void **state) {
  struct fb_urlset *set = new_set();
  char err[256];
  const char *good[] = {
      "http://127.0.0.1:8080/a",
      "https://example.com/path?q=1#frag",
      "HTTP://EXAMPLE.COM/",
      "http://[::1]:80/x",
      "https://user:pw@host.example:443/",
  };

  (void)state;
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    int rc = fb_urlset_add(set, good[i], strlen(good[i]), err, sizeof(err));
    if (rc != 0)
      fail_msg("%s: %s", good[i], err);
  }
  assert_int_equal(fb_urlset_count(set), 5);
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(fb_urlset_get(set, i), good[i]);
  assert_null(fb_urlset_get(set, 5));
  fb_urlset_destroy(set);
}

static void test_add_bad(void **state) {
  struct fb_urlset *set = new_set();
  char err[256];
  struct {
    const char *url;
    const char *reason; /* substring of the message */
  } bad[] = {
      {"ftp://example.com/file", "scheme \"ftp\""},
      {"file:///etc/passwd", "scheme \"file\""},
      {"mailto:someone@example.com", "scheme"},
      {"javascript:alert(1)", "scheme"},
      {"not a url", ""},
      {"http://", "host"},
      {"http://[::1/", "IPv6"},
      {"http://exa mple.com/", "hostname"},
      {"http://example.com/a b", ""},
      {"http://example.com:99999/", "Port"},
      {"", ""},
      {"/relative/path", ""},
      {"//example.com/x", ""},
      {"http://example.com/\x01", ""},
  };

  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc;
    /* A valid URL first: the parser must not resolve the next one against
     * it as a relative reference.
     */
    assert_int_equal(
        fb_urlset_add(set, "http://a.example/dir/", 21, err, sizeof(err)), 0);
    rc = fb_urlset_add(set, bad[i].url, strlen(bad[i].url), err, sizeof(err));
    if (rc != FB_EURL)
      fail_msg("\"%s\" accepted (%d)", bad[i].url, rc);
    assert_true(strlen(err) > 0);
    if (strstr(err, bad[i].reason) == NULL)
      fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", bad[i].url, err,
               bad[i].reason);
  }
  assert_int_equal(fb_urlset_count(set), sizeof(bad) / sizeof(bad[0]));
  fb_urlset_destroy(set);
}

static void test_add_len(void **state) {
  struct fb_urlset *set = new_set();
  char err[8];
  const char with_nul[] = "http://a/\0b";

  (void)state;
  /* len counts, not the terminator. */
  assert_int_equal(fb_urlset_add(set, "http://a/xyz", 10, err, sizeof(err)), 0);
  assert_string_equal(fb_urlset_get(set, 0), "http://a/x");
  /* An embedded NUL is refused, not cut. */
  assert_int_equal(
      fb_urlset_add(set, with_nul, sizeof(with_nul) - 1, err, sizeof(err)),
      FB_EURL);
  /* A short err buffer still ends with a NUL. */
  assert_int_equal(fb_urlset_add(set, "ftp://x/", 8, err, sizeof(err)),
                   FB_EURL);
  assert_true(strlen(err) < sizeof(err));
  assert_int_equal(fb_urlset_add(set, "ftp://x/", 8, NULL, 0), FB_EURL);
  assert_int_equal(fb_urlset_count(set), 1);
  fb_urlset_destroy(set);
}

static void test_stable_pointers(void **state) {
  struct fb_urlset *set = new_set();
  char url[64];
  const char *first, *mid = NULL;

  (void)state;
  assert_int_equal(fb_urlset_add(set, "http://first.example/", 21, NULL, 0), 0);
  first = fb_urlset_get(set, 0);
  for (int i = 0; i < 100000; i++) {
    int n = snprintf(url, sizeof(url), "http://10.0.0.1/p%d", i);
    assert_int_equal(fb_urlset_add(set, url, (size_t)n, NULL, 0), 0);
    if (i == 500)
      mid = fb_urlset_get(set, 501);
  }
  assert_ptr_equal(fb_urlset_get(set, 0), first);
  assert_string_equal(first, "http://first.example/");
  assert_ptr_equal(fb_urlset_get(set, 501), mid);
  assert_string_equal(mid, "http://10.0.0.1/p500");
  assert_string_equal(fb_urlset_get(set, 100000), "http://10.0.0.1/p99999");
  fb_urlset_destroy(set);
}

static void test_load_bad_scheme(void **state) {
  const char *cases[][2] = {
      {"ftp.txt", "ftp://example.com/file"},
      {"file.txt", "file:///etc/passwd"},
      {"mailto.txt", "mailto:someone@example.com"},
  };

  (void)state;
  for (size_t i = 0; i < 3; i++) {
    char data[256], err[1024], want[512];
    const char *path;
    struct fb_urlset *set;

    snprintf(data, sizeof(data), "http://127.0.0.1/ok\n%s\n", cases[i][1]);
    path = write_str(cases[i][0], data);
    set = load_expect(path, FB_EURL, err, sizeof(err));
    snprintf(want, sizeof(want), "%s:2: ", path);
    if (strstr(err, want) == NULL)
      fail_msg("no \"%s\" in \"%s\"", want, err);
    assert_non_null(strstr(err, "cheme"));
    assert_int_equal(count_lines(err), 1);
    fb_urlset_destroy(set);
  }
}

static void test_load_malformed(void **state) {
  const char *lines[] = {
      "http://",
      "http://[::1",
      "http://exa mple.com/",
      "http://example.com/with space",
      "http://example.com:70000/",
      "just words",
  };

  (void)state;
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
    char data[256], err[1024], want[512], name[32];
    const char *path;
    struct fb_urlset *set;

    snprintf(name, sizeof(name), "malformed%zu.txt", i);
    snprintf(data, sizeof(data), "# header\n\nhttp://127.0.0.1/ok\n%s\n",
             lines[i]);
    path = write_str(name, data);
    set = load_expect(path, FB_EURL, err, sizeof(err));
    snprintf(want, sizeof(want), "%s:4: ", path);
    if (strstr(err, want) == NULL)
      fail_msg("no \"%s\" in \"%s\"", want, err);
    fb_urlset_destroy(set);
  }
}

static void test_load_several_bad(void **state) {
  const char *data = "http://h/1\n"
                     "ftp://h/2\n"
                     "http://h/3\n"
                     "# comment\n"
                     "http://h 5/\n"
                     "\n"
                     "gopher://h/7\n"
                     "http://h/8\n";
  const char *path = write_str("several.txt", data);
  struct fb_urlset *set = new_set();
  char err[2048], want[512];

  (void)state;
  /* A set that already holds URLs keeps them, and only them. */
  assert_int_equal(fb_urlset_add(set, "http://kept/", 12, NULL, 0), 0);
  assert_int_equal(fb_urlset_load(set, path, err, sizeof(err)), FB_EURL);
  assert_int_equal(fb_urlset_count(set), 1);
  assert_string_equal(fb_urlset_get(set, 0), "http://kept/");
  assert_int_equal(count_lines(err), 3);
  for (int i = 0; i < 3; i++) {
    static const int line[] = {2, 5, 7};
    snprintf(want, sizeof(want), "%s:%d: ", path, line[i]);
    if (strstr(err, want) == NULL)
      fail_msg("no \"%s\" in \"%s\"", want, err);
  }
  /* In line order. */
  assert_true(strstr(err, ":2: ") < strstr(err, ":5: "));
  assert_true(strstr(err, ":5: ") < strstr(err, ":7: "));
  fb_urlset_destroy(set);
}

static void test_load_many_bad(void **state) {
  char data[4096] = "", err[4096];
  size_t len = 0;
  const char *path;
  struct fb_urlset *set;

  (void)state;
  for (int i = 1; i <= 25; i++)
    len += (size_t)snprintf(data + len, sizeof(data) - len,
                            "ftp://h/%d\nhttp://h/%d\n", i, i);
  path = write_str("many.txt", data);
  set = load_expect(path, FB_EURL, err, sizeof(err));
  /* The first ten, then the rest counted. */
  assert_int_equal(count_lines(err), 11);
  assert_non_null(strstr(err, ":19: "));
  assert_null(strstr(err, ":21: "));
  assert_non_null(strstr(err, "... and 15 more bad lines"));
  fb_urlset_destroy(set);
}

static void test_load_bad_large(void **state) {
  /* Big enough to be validated on several threads: the diagnostics must
   * still come in line order with the right numbers.
   */
  size_t n = 60000, cap = n * 40, len = 0;
  char *data = malloc(cap), err[2048];
  const char *path;
  struct fb_urlset *set;

  (void)state;
  assert_non_null(data);
  for (size_t i = 1; i <= n; i++) {
    const char *kind = "http://127.0.0.1:8080/p";
    if (i == 3 || i == 29999 || i == 30001 || i == 59999)
      kind = "ftp://127.0.0.1/p";
    else if (i % 1000 == 0)
      kind = "# comment ";
    len += (size_t)snprintf(data + len, cap - len, "%s%zu\n", kind, i);
  }
  path = scratch_write("large-bad.txt", data, len);
  free(data);
  set = load_expect(path, FB_EURL, err, sizeof(err));
  assert_int_equal(count_lines(err), 4);
  assert_non_null(strstr(err, ":3: "));
  assert_non_null(strstr(err, ":29999: "));
  assert_non_null(strstr(err, ":30001: "));
  assert_non_null(strstr(err, ":59999: "));
  assert_true(strstr(err, ":29999: ") < strstr(err, ":30001: "));
  fb_urlset_destroy(set);
}

static void test_load_missing(void **state) {
  char path[512], err[1024];
  struct fb_urlset *set;

  (void)state;
  snprintf(path, sizeof(path), "%s/does-not-exist.txt", scratch_dir());
  set = load_expect(path, -ENOENT, err, sizeof(err));
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, strerror(ENOENT)));
  fb_urlset_destroy(set);
}

static void test_load_directory(void **state) {
  char err[1024];
  struct fb_urlset *set;

  (void)state;
  set = load_expect(scratch_dir(), -EISDIR, err, sizeof(err));
  assert_non_null(strstr(err, scratch_dir()));
  assert_non_null(strstr(err, strerror(EISDIR)));
  fb_urlset_destroy(set);
}

static void test_load_empty(void **state) {
  char err[1024];
  const char *empty = write_str("empty.txt", "");
  const char *comments =
      write_str("comments.txt", "# only\n\n   \n\t# indented comment\r\n\n");
  struct fb_urlset *set;

  (void)state;
  set = load_expect(empty, FB_EEMPTY, err, sizeof(err));
  assert_non_null(strstr(err, empty));
  fb_urlset_destroy(set);
  set = load_expect(comments, FB_EEMPTY, err, sizeof(err));
  assert_non_null(strstr(err, comments));
  fb_urlset_destroy(set);
}

static void test_load_crlf_bom(void **state) {
  const char *crlf = write_str("crlf.txt", "http://h/1\r\n"
                                           "# c\r\n"
                                           "\r\n"
                                           "https://h/2\r\n"
                                           "http://h/3");
  const char *bom =
      write_str("bom.txt", "\xef\xbb\xbfhttp://h/1\nhttp://h/2\n");
  const char *bom2 =
      write_str("bom2.txt", "http://h/1\n\xef\xbb\xbfhttp://h/2\n");
  const char *crlf_bad = write_str("crlf-bad.txt", "http://h/1\r\n\r\n"
                                                   "ftp://h/3\r\n");
  char err[1024];
  struct fb_urlset *set;

  (void)state;
  set = load_expect(crlf, 0, err, sizeof(err));
  assert_int_equal(fb_urlset_count(set), 3);
  assert_string_equal(fb_urlset_get(set, 0), "http://h/1");
  assert_string_equal(fb_urlset_get(set, 1), "https://h/2");
  assert_string_equal(fb_urlset_get(set, 2), "http://h/3");
  fb_urlset_destroy(set);

  set = load_expect(bom, 0, err, sizeof(err));
  assert_int_equal(fb_urlset_count(set), 2);
  assert_string_equal(fb_urlset_get(set, 0), "http://h/1");
  fb_urlset_destroy(set);

  /* A BOM is accepted at the start of the file only. */
  set = load_expect(bom2, FB_EURL, err, sizeof(err));
  assert_non_null(strstr(err, ":2: "));
  fb_urlset_destroy(set);

  set = load_expect(crlf_bad, FB_EURL, err, sizeof(err));
  assert_non_null(strstr(err, ":3: "));
  assert_null(strchr(err, '\r'));
  fb_urlset_destroy(set);
}

static void test_load_trim_comments(void **state) {
  const char *path = write_str("trim.txt", "  \thttp://h/1 \t\n"
                                           "   # comment after spaces\n"
                                           "\t#tabbed comment\n"
                                           "http://h/2#fragment\n"
                                           "\v\f http://h/3\f\n");
  char err[1024];
  struct fb_urlset *set;

  (void)state;
  set = load_expect(path, 0, err, sizeof(err));
  assert_int_equal(fb_urlset_count(set), 3);
  assert_string_equal(fb_urlset_get(set, 0), "http://h/1");
  assert_string_equal(fb_urlset_get(set, 1), "http://h/2#fragment");
  assert_string_equal(fb_urlset_get(set, 2), "http://h/3");
  fb_urlset_destroy(set);
}

static void test_load_nul_line(void **state) {
  const char data[] = "http://h/1\nhttp://h/\0evil\nhttp://h/3\n";
  const char *path = scratch_write("nul.txt", data, sizeof(data) - 1);
  char err[1024];
  struct fb_urlset *set;

  (void)state;
  set = load_expect(path, FB_EURL, err, sizeof(err));
  assert_non_null(strstr(err, ":2: "));
  assert_non_null(strstr(err, "NUL"));
  fb_urlset_destroy(set);
}

static void test_load_long_line(void **state) {
  size_t n = 100 * 1024;
  char *data = malloc(n + 64), err[1024];
  const char *path;
  struct fb_urlset *set;
  size_t len;

  (void)state;
  assert_non_null(data);
  len = (size_t)snprintf(data, 64, "http://127.0.0.1/");
  memset(data + len, 'a', n);
  len += n;
  memcpy(data + len, "\nhttp://h/2\n", 12);
  path = scratch_write("long.txt", data, len + 12);
  set = load_expect(path, 0, err, sizeof(err));
  assert_int_equal(fb_urlset_count(set), 2);
  assert_int_equal(strlen(fb_urlset_get(set, 0)), len);
  assert_memory_equal(fb_urlset_get(set, 0), data, len);
  assert_string_equal(fb_urlset_get(set, 1), "http://h/2");
  free(data);
  fb_urlset_destroy(set);
}

static void test_load_stdin(void **state) {
  const char *path = write_str("stdin.txt", "http://h/1\nhttps://h/2\n");
  const char *bad = write_str("stdin-bad.txt", "http://h/1\nftp://h/2\n");
  int saved = dup(STDIN_FILENO), fd;
  char err[1024];
  struct fb_urlset *set;

  (void)state;
  assert_true(saved >= 0);
  fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
  close(fd);
  set = load_expect("-", 0, err, sizeof(err));
  assert_int_equal(fb_urlset_count(set), 2);
  assert_string_equal(fb_urlset_get(set, 1), "https://h/2");
  fb_urlset_destroy(set);

  fd = open(bad, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
  close(fd);
  set = load_expect("-", FB_EURL, err, sizeof(err));
  assert_non_null(strstr(err, "<stdin>:2: "));
  fb_urlset_destroy(set);

  assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
  close(saved);
}

/* Bytes per URL of a set loaded from n generated URLs of one length. */
static double per_url(size_t n, size_t *url_len) {
  size_t cap = n * 48, len = 0;
  char *data = malloc(cap), err[256], name[64];
  struct fb_urlset *set = new_set();
  double per;

  assert_non_null(data);
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(data + len, cap - len,
                            "http://127.0.0.1:8080/page-%08zu\n", i);
  *url_len = strlen("http://127.0.0.1:8080/page-00000000");
  snprintf(name, sizeof(name), "mem-%zu.txt", n);
  assert_int_equal(
      fb_urlset_load(set, scratch_write(name, data, len), err, sizeof(err)), 0);
  assert_int_equal(fb_urlset_count(set), n);
  per = (double)fb_urlset_memory(set) / (double)n;
  free(data);
  fb_urlset_destroy(set);
  return per;
}

static void test_memory_flat(void **state) {
  size_t len;
  double small = per_url(1000, &len), big = per_url(100000, &len);
  /* The URL, its NUL and a pointer; the arena's slack is at most an eighth
   * of the data plus one small chunk spread over the set.
   */
  double floor = (double)len + 1 + sizeof(char *);
  double bound = floor + (double)(len + 1) / 8 + 8;

  (void)state;
  print_message("bytes per URL: %.1f (1,000), %.1f (100,000); URL %zu bytes\n",
                small, big, len);
  assert_true(small >= floor && big >= floor);
  assert_true(small <= bound);
  assert_true(big <= bound);
  assert_true(small - big < 8 && big - small < 8);
}

static void test_encode_path(void **state) {
  char out[64];

  (void)state;
  assert_int_equal(fb_url_encode_path(out, sizeof(out), "intro/a_b-c.~x.html"),
                   19);
  assert_string_equal(out, "intro/a_b-c.~x.html");
  assert_int_equal(fb_url_encode_path(out, sizeof(out), "a b%?#\xc3\xa9"), 20);
  assert_string_equal(out, "a%20b%25%3F%23%C3%A9");
  /* Truncated like snprintf: the needed length, a terminated prefix. */
  assert_int_equal(fb_url_encode_path(out, 5, "a b c"), 9);
  assert_string_equal(out, "a%20");
  assert_int_equal(fb_url_encode_path(out, 3, "a b"), 5);
  assert_string_equal(out, "a");
  assert_int_equal(fb_url_encode_path(NULL, 0, "a b"), 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_good),
      cmocka_unit_test(test_add_bad),
      cmocka_unit_test(test_add_len),
      cmocka_unit_test(test_stable_pointers),
      cmocka_unit_test(test_load_bad_scheme),
      cmocka_unit_test(test_load_malformed),
      cmocka_unit_test(test_load_several_bad),
      cmocka_unit_test(test_load_many_bad),
      cmocka_unit_test(test_load_bad_large),
      cmocka_unit_test(test_load_missing),
      cmocka_unit_test(test_load_directory),
      cmocka_unit_test(test_load_empty),
      cmocka_unit_test(test_load_crlf_bom),
      cmocka_unit_test(test_load_trim_comments),
      cmocka_unit_test(test_load_nul_line),
      cmocka_unit_test(test_load_long_line),
      cmocka_unit_test(test_load_stdin),
      cmocka_unit_test(test_memory_flat),
      cmocka_unit_test(test_encode_path),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
