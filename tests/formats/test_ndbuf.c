#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "en_error.h"
#include "en_ndbuf.h"

Test(ndbuf, shape_size_checks_overflow) {
    size_t n, b;
    int64_t ok[3] = { 2, 3, 4 }, neg[2] = { 2, -1 }, big[3] = { 1LL << 31, 1LL << 31, 1LL << 31 };
    cr_assert_eq(en_shape_size(ok, 3, 4, &n, &b), 0);
    cr_assert(n == 24 && b == 96);
    cr_assert_eq(en_shape_size(ok, 0, 4, &n, &b), 0);
    cr_assert(n == 1 && b == 4, "a scalar has one element");
    cr_assert_eq(en_shape_size(neg, 2, 4, &n, &b), -1);
    cr_assert_eq(en_shape_size(big, 3, 1, &n, &b), -1);
    int64_t two[2] = { 1LL << 31, 1LL << 31 };
    cr_assert_eq(en_shape_size(two, 2, 1, &n, &b), 0);
    cr_assert_eq(en_shape_size(two, 2, 2, &n, &b), 0, "2^62 * 2 bytes fits 64 bits");
    cr_assert_eq(en_shape_size(two, 2, 4, &n, &b), -1, "2^62 * 4 bytes does not");
    int64_t three[2] = { 1LL << 32, 1LL << 31 };
    cr_assert_eq(en_shape_size(three, 2, 8, &n, &b), -1, "2^63 * 8 bytes must overflow");
    cr_assert_eq(en_shape_size(ok, EN_NDBUF_MAX_DIMS + 1, 4, &n, &b), -1);
}

Test(ndbuf, conversions) {
    double d[5] = { 1.5, -2.75, 1e300, -0.0, 65504.0 };
    float f[5];
    cr_assert_eq(en_convert(f, EN_F32, d, EN_F64, 5), 0);
    cr_assert(f[0] == 1.5f && f[1] == -2.75f && isinf(f[2]) && f[4] == 65504.0f);
    uint16_t h[5];
    cr_assert_eq(en_convert(h, EN_F16, f, EN_F32, 5), 0);
    cr_assert(en_f16_to_f32(h[1]) == -2.75f && isinf(en_f16_to_f32(h[2])) && en_f16_to_f32(h[4]) == 65504.0f);
    int32_t i[2];
    cr_assert_eq(en_convert(i, EN_I32, f, EN_F32, 2), 0);
    cr_assert(i[0] == 1 && i[1] == -2, "truncation toward zero: %d %d", i[0], i[1]);
    cr_assert_eq(en_convert(i, EN_I32, f, EN_F32, 3), -1, "inf does not fit I32");
    cr_assert(strstr(en_error_msg(), "element 2"), "%s", en_error_msg());
    int64_t big[2] = { 300, -1 };
    uint8_t u[2];
    cr_assert_eq(en_convert(u, EN_U8, big, EN_I64, 1), -1);
    cr_assert_eq(en_convert(u, EN_U8, big + 1, EN_I64, 1), -1);
    int64_t small[3] = { 0, 255, 7 };
    cr_assert_eq(en_convert(u, EN_U8, small, EN_I64, 2), 0);
    cr_assert(u[0] == 0 && u[1] == 255);
    uint8_t bools[3];
    cr_assert_eq(en_convert(bools, EN_BOOL, small, EN_I64, 3), 0);
    cr_assert(bools[0] == 0 && bools[1] == 1 && bools[2] == 1);
    cr_assert_eq(en_convert(bools, EN_BOOL, f, EN_F32, 1), -1);
    float back[3];
    cr_assert_eq(en_convert(back, EN_F32, small, EN_I64, 3), 0);
    cr_assert(back[1] == 255.0f);
    /* Unaligned source: every byte offset works. */
    unsigned char raw[17];
    float one = 3.25f;
    memcpy(raw + 1, &one, 4);
    cr_assert_eq(en_convert(back, EN_F32, raw + 1, EN_F32, 1), 0);
    cr_assert_eq(back[0], 3.25f);
    uint16_t bf = en_f32_to_bf16(one);
    memcpy(raw + 3, &bf, 2);
    cr_assert_eq(en_convert(back, EN_F32, raw + 3, EN_BF16, 1), 0);
    cr_assert_eq(back[0], 3.25f);
}

Test(ndbuf, alloc_and_free) {
    en_ndbuf b;
    int64_t s[2] = { 0, 5 };
    cr_assert_eq(en_ndbuf_alloc(&b, EN_F32, 2, s), 0);
    cr_assert(b.data && b.nbytes == 0 && en_ndbuf_numel(&b) == 0);
    en_ndbuf_free(&b);
    en_ndbuf_free(&b);
    int64_t huge[2] = { INT64_MAX, 2 };
    cr_assert_eq(en_ndbuf_alloc(&b, EN_F32, 2, huge), -1);
    cr_assert_null(b.data);
}

/* The vectorised F16 and BF16 paths agree with the scalar conversions on
 * every one of the 65536 bit patterns (NaNs: both NaN), at an odd length
 * and an odd offset so the scalar tail and unaligned loads run too. */
Test(ndbuf, half_fast_paths_match_scalar) {
    static uint16_t bits[65536 + 3];
    static float out[65536 + 3];
    for (uint32_t i = 0; i < 65536; i++) bits[i + 1] = (uint16_t)i;
    en_dtype types[2] = { EN_F16, EN_BF16 };
    for (int t = 0; t < 2; t++) {
        cr_assert_eq(en_convert(out, EN_F32, (unsigned char *)bits + 2, types[t], 65535), 0);
        int mismatches = 0;
        for (uint32_t i = 0; i < 65535; i++) {
            float want = t == 0 ? en_f16_to_f32((uint16_t)i) : en_bf16_to_f32((uint16_t)i);
            if (isnan(want) ? !isnan(out[i]) : memcmp(&want, &out[i], 4)) mismatches++;
        }
        cr_assert_eq(mismatches, 0, "%s: %d of 65535 values differ", en_dtype_name(types[t]), mismatches);
    }
}
