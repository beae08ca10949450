#include "en_ndbuf.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"

#ifdef __F16C__
#include <immintrin.h>
#endif

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the file formats are little-endian and read by memcpy");

int en_shape_size(const int64_t *shape, int ndim, size_t elsize, size_t *numel, size_t *nbytes) {
    if (ndim < 0 || ndim > EN_NDBUF_MAX_DIMS) return -1;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if ((uint64_t)shape[i] > SIZE_MAX) return -1;
        if (__builtin_mul_overflow(n, (size_t)shape[i], &n)) return -1;
    }
    size_t bytes = 0;
    if (elsize && __builtin_mul_overflow(n, elsize, &bytes)) return -1;
    if (numel) *numel = n;
    if (nbytes) *nbytes = bytes;
    return 0;
}

size_t en_ndbuf_numel(const en_ndbuf *b) {
    size_t n = 0;
    EN_ASSERT(en_shape_size(b->shape, b->ndim, 0, &n, NULL) == 0);
    return n;
}

int en_ndbuf_alloc(en_ndbuf *b, en_dtype dtype, int ndim, const int64_t *shape) {
    memset(b, 0, sizeof *b);
    size_t bytes;
    if ((unsigned)dtype >= EN_DTYPE_COUNT) return en_error("en_ndbuf_alloc: unknown dtype %d", (int)dtype);
    if (en_shape_size(shape, ndim, en_dtype_size(dtype), NULL, &bytes))
        return en_error("en_ndbuf_alloc: shape of %d dims is negative or too large", ndim);
    /* calloc(0) may return NULL; keep data non-NULL so "empty" is distinct. */
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) return en_error("en_ndbuf_alloc: out of memory for %zu bytes", bytes);
    b->dtype = dtype;
    b->ndim = ndim;
    memcpy(b->shape, shape, (size_t)ndim * sizeof *shape);
    b->data = p;
    b->nbytes = bytes;
    return 0;
}

void en_ndbuf_free(en_ndbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int is_float(en_dtype t) { return t == EN_F32 || t == EN_F16 || t == EN_BF16 || t == EN_F64; }

/* Element i of a possibly unaligned array, widened. */
static double load_f(const unsigned char *p, en_dtype t, size_t i) {
    switch (t) {
    case EN_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case EN_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case EN_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return en_f16_to_f32(v); }
    case EN_BF16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return en_bf16_to_f32(v); }
    default: EN_ASSERT(0); return 0;
    }
}

static int64_t load_i(const unsigned char *p, en_dtype t, size_t i) {
    switch (t) {
    case EN_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case EN_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    case EN_U8: case EN_BOOL: return p[i];
    default: EN_ASSERT(0); return 0;
    }
}

static void store_f(unsigned char *p, en_dtype t, size_t i, double v) {
    /* A double beyond float's range has no defined conversion in C: make
     * the overflow to infinity explicit. */
    if (t != EN_F64 && isfinite(v) && fabs(v) > FLT_MAX) v = v > 0 ? INFINITY : -INFINITY;
    switch (t) {
    case EN_F32: { float f = (float)v; memcpy(p + 4 * i, &f, 4); break; }
    case EN_F64: memcpy(p + 8 * i, &v, 8); break;
    case EN_F16: { uint16_t h = en_f32_to_f16((float)v); memcpy(p + 2 * i, &h, 2); break; }
    case EN_BF16: { uint16_t h = en_f32_to_bf16((float)v); memcpy(p + 2 * i, &h, 2); break; }
    default: EN_ASSERT(0);
    }
}

static void store_i(unsigned char *p, en_dtype t, size_t i, int64_t v) {
    switch (t) {
    case EN_I32: { int32_t x = (int32_t)v; memcpy(p + 4 * i, &x, 4); break; }
    case EN_I64: memcpy(p + 8 * i, &v, 8); break;
    case EN_U8: p[i] = (unsigned char)v; break;
    case EN_BOOL: p[i] = v != 0; break;
    default: EN_ASSERT(0);
    }
}

int en_convert(void *dst, en_dtype to, const void *src, en_dtype from, size_t n) {
    if ((unsigned)to >= EN_DTYPE_COUNT || (unsigned)from >= EN_DTYPE_COUNT)
        return en_error("en_convert: unknown dtype");
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (to == from) { memcpy(d, s, n * en_dtype_size(to)); return 0; }
    /* The hot paths of checkpoint loading get their own loops. */
    if (to == EN_F32 && from == EN_F16) {
        float *o = dst;
        size_t i = 0;
#ifdef __F16C__
        /* The hardware conversion is exact for every half value, like
         * en_f16_to_f32, and ~10x faster than the scalar call. */
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i))));
#endif
        for (; i < n; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); o[i] = en_f16_to_f32(h); }
        return 0;
    }
    if (to == EN_F32 && from == EN_BF16) {
        /* bf16 is the top half of a float32: a shift, which the compiler
         * vectorises when it sees it here rather than behind a call. */
        unsigned char *o = dst;
        for (size_t i = 0; i < n; i++) {
            uint16_t h; memcpy(&h, s + 2 * i, 2);
            uint32_t u = (uint32_t)h << 16;
            memcpy(o + 4 * i, &u, 4);
        }
        return 0;
    }
    if (is_float(to) && is_float(from)) {
        for (size_t i = 0; i < n; i++) store_f(d, to, i, load_f(s, from, i));
    } else if (is_float(to)) {
        for (size_t i = 0; i < n; i++) store_f(d, to, i, (double)load_i(s, from, i));
    } else if (is_float(from)) {
        if (to == EN_BOOL) return en_error("en_convert: %s to BOOL is not supported", en_dtype_name(from));
        /* A float outside the target's range has no defined cast in C. */
        double lo = to == EN_U8 ? 0 : to == EN_I32 ? -2147483648.0 : -9223372036854775808.0;
        double hi = to == EN_U8 ? 256 : to == EN_I32 ? 2147483648.0 : 9223372036854775808.0;
        for (size_t i = 0; i < n; i++) {
            double v = load_f(s, from, i);
            if (!(v > lo - 1 && v < hi))
                return en_error("en_convert: element %zu (%g) does not fit %s", i, v, en_dtype_name(to));
            store_i(d, to, i, (int64_t)v);
        }
    } else {
        int64_t lo = to == EN_U8 || to == EN_BOOL ? 0 : to == EN_I32 ? INT32_MIN : INT64_MIN;
        int64_t hi = to == EN_U8 ? 255 : to == EN_BOOL ? INT64_MAX : to == EN_I32 ? INT32_MAX : INT64_MAX;
        for (size_t i = 0; i < n; i++) {
            int64_t v = load_i(s, from, i);
            if (v < lo || v > hi)
                return en_error("en_convert: element %zu (%lld) does not fit %s", i, (long long)v, en_dtype_name(to));
            store_i(d, to, i, v);
        }
    }
    return 0;
}

int en_ndbuf_convert(const en_ndbuf *in, en_dtype to, en_ndbuf *out) {
    if (en_ndbuf_alloc(out, to, in->ndim, in->shape)) return -1;
    if (en_convert(out->data, to, in->data, in->dtype, en_ndbuf_numel(in))) {
        en_ndbuf_free(out);
        return -1;
    }
    return 0;
}
