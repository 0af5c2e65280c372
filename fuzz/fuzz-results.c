/* SPDX-License-Identifier: MIT */
/* The reader of saved comparisons (results_read.c): any bytes as a results
 * file. A refusal names the file and its line; an accepted file is a sweep
 * that every compare writer reports, whose JSON reads back to the very same
 * JSON, and whose HTML is valid UTF-8 with its markup balanced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetchbench/compare.h"
#include "fetchbench/error.h"
#include "fetchbench/results.h"
#include "fuzz.h"
#include "html-check.h"
#include "json-check.h"

static int read_bytes(struct fb_results *res, const char *p, size_t n,
                      char *err, size_t errlen) {
  FILE *f = fmemopen((void *)p, n, "r");
  int rc;

  FZ_CHECK(f != NULL);
  rc = fb_results_read(res, f, "fuzz.json", err, errlen);
  fclose(f);
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fb_results res, again;
  char err[512], *json, *json2, *text, *html;
  size_t len, len2;
  int rc;

  if (size == 0)
    return 0; /* fmemopen refuses an empty buffer */
  rc = read_bytes(&res, (const char *)data, size, err, sizeof(err));
  if (rc != 0) {
    FZ_CHECK(rc == FB_ERESULTS || rc == -ENOMEM);
    FZ_CHECK(strncmp(err, "fuzz.json:", 10) == 0);
    FZ_CHECK(res.cmp.ncells == 0 && res.cmp.cells == NULL);
    fb_results_cleanup(&res);
    return 0;
  }
  json = fz_written(fb_report_compare_json, &res.cmp, &len);
  FZ_CHECK(read_bytes(&again, json, len, err, sizeof(err)) == 0);
  FZ_CHECK(again.cmp.ncells == res.cmp.ncells);
  json2 = fz_written(fb_report_compare_json, &again.cmp, &len2);
  FZ_CHECK(len == len2 && memcmp(json, json2, len) == 0);
  text = fz_written(fb_report_compare_text, &res.cmp, &len);
  html = fz_written(fb_report_compare_html, &res.cmp, &len);
  fz_html_check(html, len);
  free(json);
  free(json2);
  free(text);
  free(html);
  fb_results_cleanup(&again);
  fb_results_cleanup(&res);
  return 0;
}
