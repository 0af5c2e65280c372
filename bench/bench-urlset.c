/* SPDX-License-Identifier: MIT */
/* How fast a big URL file loads: 1,000,000 lines of
 * http://127.0.0.1:PORT/path-N, timed through fb_urlset_load (median of a
 * few runs), and the memory the set holds per URL. For scale it also times
 * libcurl's URL parser alone on the same URLs on one thread, the largest
 * part of a load's work.
 *
 * stdout: one JSON line; stderr: a human summary; both name the machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetchbench/fetchbench.h"

#define URLS 1000000
#define RUNS 5

static int write_urls(const char *path) {
  FILE *f = fopen(path, "w");

  if (f == NULL)
    return -1;
  for (int i = 0; i < URLS; i++)
    fprintf(f, "http://127.0.0.1:8080/path-%d\n", i);
  return fclose(f);
}

/* Seconds libcurl takes to parse every URL of set on this thread, the way
 * the loader checks one URL.
 */
static double curl_parse_seconds(const struct fb_urlset *set) {
  CURLU *cu = curl_url();
  int64_t t0 = fb_clock_ns();
  size_t bad = 0;

  for (size_t i = 0; i < fb_urlset_count(set); i++) {
    char *scheme = NULL;
    curl_url_set(cu, CURLUPART_URL, NULL, 0);
    if (curl_url_set(cu, CURLUPART_URL, fb_urlset_get(set, i), 0) != 0 ||
        curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) != 0)
      bad++;
    curl_free(scheme);
  }
  curl_url_cleanup(cu);
  if (bad != 0)
    fprintf(stderr, "bench-urlset: %zu URLs failed to parse\n", bad);
  return (double)(fb_clock_ns() - t0) / (double)FB_NS_PER_S;
}

int main(void) {
  char dir[] = "/tmp/fb-bench-urlset-XXXXXX", path[64], err[1024];
  double secs[RUNS], bytes_per_url = 0, curl_s = 0;
  int cpus = fb_cpus_allowed(NULL, 0), result = 1;
  struct fb_stat st;
  char machine[256];

  if (mkdtemp(dir) == NULL) {
    perror("bench-urlset: mkdtemp");
    return 1;
  }
  snprintf(path, sizeof(path), "%s/urls.txt", dir);
  if (write_urls(path) != 0) {
    perror("bench-urlset: writing the URL file");
    goto out;
  }
  for (int r = 0; r < RUNS; r++) {
    struct fb_urlset *set = NULL;
    int64_t t0;
    int rc = fb_urlset_create(&set);

    t0 = fb_clock_ns();
    if (rc == 0)
      rc = fb_urlset_load(set, path, err, sizeof(err));
    secs[r] = (double)(fb_clock_ns() - t0) / (double)FB_NS_PER_S;
    if (rc != 0 || fb_urlset_count(set) != URLS) {
      fprintf(stderr, "bench-urlset: load failed: %s\n%s\n", fb_strerror(rc),
              err);
      fb_urlset_destroy(set);
      goto out;
    }
    bytes_per_url = (double)fb_urlset_memory(set) / URLS;
    if (r == 0)
      curl_s = curl_parse_seconds(set);
    fb_urlset_destroy(set);
  }
  fb_stat_compute(&st, secs, RUNS);
  fb_machine_describe(machine, sizeof(machine));

  printf("{\"bench\":\"urlset_load\",\"urls\":%d,\"seconds\":%.4f,"
         "\"seconds_min\":%.4f,\"seconds_max\":%.4f,\"bytes_per_url\":%.1f,"
         "\"cpus\":%d,\"curl_parse_seconds_one_thread\":%.4f,\"machine\":",
         URLS, st.median, st.min, st.max, bytes_per_url, cpus, curl_s);
  fb_json_string(stdout, machine, strlen(machine));
  printf("}\n");
  fprintf(stderr,
          "urlset_load: %d URLs in %.3f s (median of %d, %.3f-%.3f), "
          "%.1f bytes/URL, %d CPUs\n"
          "  libcurl's parser alone on one thread: %.3f s (%.0f ns/URL)\n"
          "  machine: %s\n",
          URLS, st.median, RUNS, st.min, st.max, bytes_per_url, cpus, curl_s,
          curl_s * 1e9 / URLS, machine);
  result = 0;

out:
  unlink(path);
  rmdir(dir);
  return result;
}
