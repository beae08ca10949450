/* en_rng — the seeded random generator. xoshiro256** seeded by splitmix64:
 * the same seed gives the same stream on every machine. Every random number
 * in clipbook comes from an en_rng passed explicitly (no global state), so a
 * run with the same seed and thread count gives the same numbers; threaded
 * code derives one generator per chunk with en_rng_fork(). */
#ifndef EN_RNG_H
#define EN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t s[4]; } en_rng;

void     en_rng_seed(en_rng *r, uint64_t seed);
/* An independent generator for stream `stream` of r's seed (r unchanged). */
en_rng   en_rng_fork(const en_rng *r, uint64_t stream);
uint64_t en_rng_u64(en_rng *r);
/* Uniform in [0, 1) with 24 random bits (float) or 53 (double). */
float    en_rng_uniform(en_rng *r);
double   en_rng_uniform_f64(en_rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t en_rng_below(en_rng *r, uint64_t n);
/* Standard normal (Box–Muller on doubles). */
float    en_rng_normal(en_rng *r);

void en_rng_fill_uniform(en_rng *r, float *out, size_t n, float lo, float hi);
void en_rng_fill_normal(en_rng *r, float *out, size_t n, float mean, float std);
/* out[0..n) = a uniformly random permutation of 0..n-1 (Fisher–Yates). */
void en_rng_permutation(en_rng *r, int64_t *out, int64_t n);

#endif
