#ifndef FB_FUZZ_JSON_CHECK_H
#define FB_FUZZ_JSON_CHECK_H

/* A strict JSON (RFC 8259) reader for the fuzz targets' checks: UTF-8
 * validated (no overlong forms, surrogates or code points above U+10FFFF),
 * no control characters in strings, \u escapes paired when surrogates,
 * numbers in the RFC's grammar, nesting at most 64 deep.
 */

#include <stddef.h>

/* Reads one value with optional white space around it from s[0, len).
 * Returns the bytes read, or -1 when s does not start with a valid value.
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
