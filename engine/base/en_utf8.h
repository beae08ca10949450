/* en_utf8 — UTF-8 code points, for the tokenizer, the checkpoint reader and
 * the math typesetter alike. Decoding is strict (no overlong forms, no
 * surrogates, nothing above U+10FFFF): an invalid sequence decodes as
 * U+FFFD of length 1, so a caller always moves on. */
#ifndef EN_UTF8_H
#define EN_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode one code point at s (n bytes left, n > 0); returns its length
 * (1..4). Reads no byte past the first that breaks the sequence, so for a
 * NUL-terminated string n = 4 is safe. */
int en_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* The code point at *s in a NUL-terminated string; *s moves past it. */
uint32_t en_utf8_next(const char **s);
/* Encode cp into out (4 bytes room, no NUL written); returns the length. */
int en_utf8_encode(uint32_t cp, char *out);
/* Byte offset of the first invalid sequence in s[0..n), or -1. */
long en_utf8_invalid_at(const char *s, size_t n);

#endif
