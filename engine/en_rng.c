#include "en_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void en_rng_seed(en_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

en_rng en_rng_fork(const en_rng *r, uint64_t stream) {
    en_rng out;
    uint64_t x = r->s[0] ^ (r->s[2] << 1) ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++) out.s[i] = splitmix64(&x);
    return out;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t en_rng_u64(en_rng *r) {
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}

float en_rng_uniform(en_rng *r) { return (float)(en_rng_u64(r) >> 40) * 0x1.0p-24f; }

double en_rng_uniform_f64(en_rng *r) { return (double)(en_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t en_rng_below(en_rng *r, uint64_t n) {
    uint64_t limit = -n % n; /* 2^64 mod n: reject the short tail */
    for (;;) {
        uint64_t x = en_rng_u64(r);
        if (x >= limit) return x % n;
    }
}

float en_rng_normal(en_rng *r) {
    double u1 = 1.0 - en_rng_uniform_f64(r), u2 = en_rng_uniform_f64(r); /* u1 in (0,1] */
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void en_rng_fill_uniform(en_rng *r, float *out, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) out[i] = lo + (hi - lo) * en_rng_uniform(r);
}

void en_rng_fill_normal(en_rng *r, float *out, size_t n, float mean, float std) {
    for (size_t i = 0; i < n; i++) out[i] = mean + std * en_rng_normal(r);
}

void en_rng_permutation(en_rng *r, int64_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)en_rng_below(r, (uint64_t)i + 1), t = out[i];
        out[i] = out[j]; out[j] = t;
    }
}
