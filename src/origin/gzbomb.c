/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "origin/origin_int.h"

/* A gzip member whose single dynamic-Huffman deflate block inflates to
 * 1 GiB of zero bytes: one literal zero, then matches of length 258 at
 * distance 1, each coded in two bits (the literal/length code gives symbol
 * 285 a one-bit code, the distance code has a single one-bit code). About
 * 1 MiB on the wire, so a client must bound what it inflates.
 */

#define BOMB_SIZE (1ULL << 30)
#define MATCHES ((BOMB_SIZE - 1) / 258)
#define TAIL_LITERALS (BOMB_SIZE - 1 - MATCHES * 258)
/* CRC-32 of 2^30 zero bytes. */
#define BOMB_CRC 0x5b64c2b0u

struct bits {
  unsigned char *buf;
  uint64_t pos;
};

/* Plain values go in least significant bit first. */
static void put(struct bits *b, uint32_t value, int n) {
  for (int i = 0; i < n; i++, b->pos++)
    if (value >> i & 1)
      b->buf[b->pos >> 3] |= (unsigned char)(1u << (b->pos & 7));
}

/* Huffman codes go in most significant bit first. */
static void put_code(struct bits *b, uint32_t code, int len) {
  for (int i = len - 1; i >= 0; i--, b->pos++)
    if (code >> i & 1)
      b->buf[b->pos >> 3] |= (unsigned char)(1u << (b->pos & 7));
}

static void put_le32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static void deflate_bomb(struct bits *b) {
  /* Code length code lengths, in the order RFC 1951 lists them:
   * 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1. Only 18 (1 bit), 2 and 1
   * (2 bits each) are used.
   */
  static const unsigned char cl_lengths[18] = {0, 0, 1, 0, 0, 0, 0, 0, 0,
                                               0, 0, 0, 0, 0, 0, 2, 0, 2};
  /* Code length codes: 18 -> 0, 1 -> 10, 2 -> 11. */
  enum { CL18 = 0, CL1 = 2, CL2 = 3 };

  put(b, 1, 1);  /* BFINAL */
  put(b, 2, 2);  /* BTYPE: dynamic Huffman */
  put(b, 29, 5); /* HLIT: 286 literal/length codes */
  put(b, 0, 5);  /* HDIST: 1 distance code */
  put(b, 14, 4); /* HCLEN: 18 code length codes */
  for (int i = 0; i < 18; i++)
    put(b, cl_lengths[i], 3);
  /* Literal/length lengths: 0 -> 2, 1..255 -> 0, 256 -> 2, 257..284 -> 0,
   * 285 -> 1; then the distance length: 0 -> 1.
   */
  put_code(b, CL2, 2);
  put_code(b, CL18, 1);
  put(b, 138 - 11, 7);
  put_code(b, CL18, 1);
  put(b, 117 - 11, 7);
  put_code(b, CL2, 2);
  put_code(b, CL18, 1);
  put(b, 28 - 11, 7);
  put_code(b, CL1, 2);
  put_code(b, CL1, 2);
  /* Data: literal/length codes 285 -> 0, 0 -> 10, 256 -> 11; distance 0. */
  put_code(b, 2, 2);
  b->pos += 2 * (uint64_t)MATCHES; /* each match is two zero bits */
  for (unsigned i = 0; i < TAIL_LITERALS; i++)
    put_code(b, 2, 2);
  put_code(b, 3, 2); /* end of block */
}

int fb__gzbomb(struct fb_origin *o, const unsigned char **body, size_t *len) {
  static const unsigned char gzip_header[10] = {0x1f, 0x8b, 8, 0, 0,
                                                0,    0,    0, 0, 3};
  struct bits b;
  size_t size;

  if (o->gzbomb == NULL) {
    size = sizeof(gzip_header) + (2 * (uint64_t)MATCHES + 256) / 8 + 8;
    b.buf = calloc(1, size);
    if (b.buf == NULL)
      return -ENOMEM;
    memcpy(b.buf, gzip_header, sizeof(gzip_header));
    b.pos = 8 * sizeof(gzip_header);
    deflate_bomb(&b);
    size = (size_t)((b.pos + 7) / 8);
    put_le32(b.buf + size, BOMB_CRC);
    put_le32(b.buf + size + 4, (uint32_t)BOMB_SIZE);
    o->gzbomb = b.buf;
    o->gzbomb_len = size + 8;
  }
  *body = o->gzbomb;
  *len = o->gzbomb_len;
  return 0;
}
