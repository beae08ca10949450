#include "en_dtype.h"

#include <string.h>

_Static_assert(EN_DTYPE_COUNT == 8, "update the tables below");

static const size_t en_dtype_sizes[EN_DTYPE_COUNT] = { 4, 2, 2, 8, 4, 8, 1, 1 };
static const char *const en_dtype_names[EN_DTYPE_COUNT] = {
    "F32", "F16", "BF16", "F64", "I32", "I64", "U8", "BOOL"
};

size_t en_dtype_size(en_dtype t) { return (unsigned)t < EN_DTYPE_COUNT ? en_dtype_sizes[t] : 0; }

const char *en_dtype_name(en_dtype t) { return (unsigned)t < EN_DTYPE_COUNT ? en_dtype_names[t] : "?"; }

int en_dtype_parse(const char *name) {
    for (int i = 0; i < EN_DTYPE_COUNT; i++)
        if (!strcmp(name, en_dtype_names[i])) return i;
    return -1;
}

static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

float en_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t en_f32_to_f16(float f) {
    uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000;
    uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into exp: fine */
    return (uint16_t)(sign | half);
}

float en_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t en_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}
