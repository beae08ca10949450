/* en_sha256 — SHA-256 (FIPS 180-4), used for memo keys and entry checksums.
 * Incremental: init, update any number of times, final. en_sha256_hex writes
 * 64 lowercase hex digits and a NUL into out[65]. */
#ifndef EN_SHA256_H
#define EN_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t buf[64];
    size_t nbuf;
} en_sha256;

void en_sha256_init(en_sha256 *s);
void en_sha256_update(en_sha256 *s, const void *data, size_t n);
void en_sha256_final(en_sha256 *s, uint8_t digest[32]);
/* One-shot helpers. */
void en_sha256_digest(uint8_t digest[32], const void *data, size_t n);
void en_sha256_tohex(char out[65], const uint8_t digest[32]);

#endif
