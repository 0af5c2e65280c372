/* SPDX-License-Identifier: MIT */
#ifndef FB_FUZZ_JSON_CHECK_H
#define FB_FUZZ_JSON_CHECK_H

/* What the fuzz targets check JSON with: jansson's strict RFC 8259 parser
 * (UTF-8 validated: no overlong forms, surrogates or code points above
 * U+10FFFF; no control characters in strings; \u escapes paired when
 * surrogates; numbers in the RFC's grammar).
 */

#include <stddef.h>

/* Reads s[0, len) as one value with optional white space around it.
 * Returns len, or -1 when it is not exactly one valid value.
 */
long fz_json_value(const char *s, size_t len);

/* Decodes the JSON string (quotes included) at s[0, len) into out (at least
 * len bytes). Returns the decoded length, or -1 when it is not one valid
 * string filling exactly len bytes.
 */
long fz_json_string_decode(const char *s, size_t len, char *out);

/* Non-zero when s[0, len) is valid UTF-8 (as strict as above). */
int fz_utf8_valid(const unsigned char *s, size_t len);

#endif /* FB_FUZZ_JSON_CHECK_H */
