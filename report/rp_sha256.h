/* rp_sha256 — SHA-256 (FIPS 180-4), used for memo keys and entry checksums.
 * Incremental: init, update any number of times, final. rp_sha256_hex writes
 * 64 lowercase hex digits and a NUL into out[65]. */
#ifndef RP_SHA256_H
#define RP_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t buf[64];
    size_t nbuf;
} rp_sha256;

void rp_sha256_init(rp_sha256 *s);
void rp_sha256_update(rp_sha256 *s, const void *data, size_t n);
void rp_sha256_final(rp_sha256 *s, uint8_t digest[32]);
/* One-shot helpers. */
void rp_sha256_digest(uint8_t digest[32], const void *data, size_t n);
void rp_sha256_tohex(char out[65], const uint8_t digest[32]);

#endif
