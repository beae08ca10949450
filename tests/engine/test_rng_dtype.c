#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "en_dtype.h"
#include "en_rng.h"

Test(rng, same_seed_same_stream) {
    en_rng a, b;
    en_rng_seed(&a, 42); en_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) cr_assert_eq(en_rng_u64(&a), en_rng_u64(&b));
    en_rng_seed(&b, 43);
    cr_assert_neq(en_rng_u64(&a), en_rng_u64(&b));
}

Test(rng, normal_moments) {
    en_rng r; en_rng_seed(&r, 7);
    double s = 0, s2 = 0; int n = 200000;
    for (int i = 0; i < n; i++) { double x = en_rng_normal(&r); s += x; s2 += x * x; }
    double mean = s / n, var = s2 / n - mean * mean;
    cr_assert(fabs(mean) < 0.01, "mean %g", mean);
    cr_assert(fabs(var - 1) < 0.02, "var %g", var);
}

Test(rng, permutation_is_permutation) {
    en_rng r; en_rng_seed(&r, 1);
    int64_t p[257]; int seen[257] = {0};
    en_rng_permutation(&r, p, 257);
    for (int i = 0; i < 257; i++) { cr_assert(p[i] >= 0 && p[i] < 257); seen[p[i]]++; }
    for (int i = 0; i < 257; i++) cr_assert_eq(seen[i], 1);
}

Test(rng, below_in_range_and_uniform) {
    en_rng r; en_rng_seed(&r, 3);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) { uint64_t x = en_rng_below(&r, 7); cr_assert(x < 7); counts[x]++; }
    for (int i = 0; i < 7; i++) cr_assert(abs(counts[i] - 10000) < 500, "bucket %d: %d", i, counts[i]);
}

Test(dtype, f16_roundtrip_all_finite) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1f) == 31) continue; /* inf / nan */
        if (en_f32_to_f16(en_f16_to_f32((uint16_t)h)) != h) bad++;
    }
    cr_assert_eq(bad, 0, "%d half values do not round-trip", bad);
    cr_assert_float_eq(en_f16_to_f32(0x3c00), 1.0f, 0);
    cr_assert_float_eq(en_f16_to_f32(0xc000), -2.0f, 0);
    cr_assert(isinf(en_f16_to_f32(0x7c00)));
    cr_assert(isnan(en_f16_to_f32(0x7e00)));
    cr_assert_eq(en_f32_to_f16(65520.0f), 0x7c00); /* rounds to inf */
    cr_assert_eq(en_f32_to_f16(1.0f + 1.0f / 4096), 0x3c00); /* tie -> even */
}

Test(dtype, bf16) {
    cr_assert_float_eq(en_bf16_to_f32(0x3f80), 1.0f, 0);
    cr_assert_eq(en_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_eq(en_f32_to_bf16(3.14159265f), 0x4049);
    cr_assert(isnan(en_bf16_to_f32(en_f32_to_bf16(NAN))));
    cr_assert_eq(en_dtype_parse("BF16"), EN_BF16);
    cr_assert_eq(en_dtype_parse("X"), -1);
    cr_assert_eq(en_dtype_size(EN_I64), 8u);
}
