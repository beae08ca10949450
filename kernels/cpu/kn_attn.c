/* kn_attn — attention's small per-head GEMMs. See kn_attn.h. */
#include "kn_attn.h"

#include <stddef.h>

#if defined(__AVX512F__)
#include <immintrin.h>

/* dst rows 0..15 (ldd apart) = columns of the 16 x 16 block at src: a
 * strided scalar store per element cost half as much as the GEMM after it
 * (engine/NOTES.md); in registers it is 16 loads, 64 shuffles, 16 stores. */
static void tr16(float *dst, int ldd, const float *src, int lds) {
    __m512 r[16], t[16], u[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + (size_t)i * lds);
    for (int i = 0; i < 16; i += 2) { /* lane k: [r_i[4k], r_i+1[4k], r_i[4k+1], r_i+1[4k+1]] */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* u_i+m lane k: rows i..i+3 at column 4k+m */
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int m = 0; m < 4; m++) { /* column 4k+m = lane k of u_m, u_4+m, u_8+m, u_12+m */
        __m512 v = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88), w = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
        __m512 x = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88), y = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
        _mm512_storeu_ps(dst + (size_t)m * ldd, _mm512_shuffle_f32x4(v, x, 0x88));
        _mm512_storeu_ps(dst + (size_t)(4 + m) * ldd, _mm512_shuffle_f32x4(w, y, 0x88));
        _mm512_storeu_ps(dst + (size_t)(8 + m) * ldd, _mm512_shuffle_f32x4(v, x, 0xDD));
        _mm512_storeu_ps(dst + (size_t)(12 + m) * ldd, _mm512_shuffle_f32x4(w, y, 0xDD));
    }
}

void kn_att_transpose(float *dst, const float *src, int rows, int cols, int lds) {
    int r16 = rows / 16 * 16, c16 = cols / 16 * 16;
    for (int i = 0; i < r16; i += 16)
        for (int j = 0; j < c16; j += 16) tr16(dst + (size_t)j * rows + i, rows, src + (size_t)i * lds + j, lds);
    for (int i = 0; i < rows; i++) /* the edges */
        for (int j = i < r16 ? c16 : 0; j < cols; j++) dst[(size_t)j * rows + i] = src[(size_t)i * lds + j];
}

/* MR rows (1..4) x NV vectors (1..5) of C; both compile-time constants at
 * every call, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void block(const int MR, const int NV, int ta, int K,
                                                        float alpha, const float *A, int lda,
                                                        const float *B, int ldb, float beta,
                                                        float *C, int ldc, __mmask16 last) {
    __m512 acc[4][5];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 5
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * ldb;
        __m512 bv[5];
#pragma GCC unroll 5
        for (int v = 0; v < NV; v++)
            bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(ta ? A[(size_t)k * lda + r] : A[(size_t)r * lda + k]);
#pragma GCC unroll 5
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(a, bv[v], acc[r][v]);
        }
    }
    __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 5
        for (int v = 0; v < NV; v++) {
            __mmask16 m = v == NV - 1 ? last : (__mmask16)0xFFFF;
            float *c = C + (size_t)r * ldc + 16 * v;
            __m512 o = _mm512_mul_ps(al, acc[r][v]);
            if (beta != 0.0f) o = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(m, c), o);
            _mm512_mask_storeu_ps(c, m, o);
        }
}

#define ROWS(MR, NV)                                                                             \
    block(MR, NV, ta, K, alpha, ta ? A + i : A + (size_t)i * lda, lda, B, ldb, beta,             \
          C + (size_t)i * ldc, ldc, last)
#define ALL_ROWS(NV)                                                                             \
    do {                                                                                         \
        for (; i + 4 <= M; i += 4) ROWS(4, NV);                                                  \
        for (; i < M; i++) ROWS(1, NV);                                                          \
    } while (0)

int kn_att_covers(int N) { return N > 0 && N <= KN_ATT_MAXN; }

int kn_att_gemm(int ta, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc) {
    if (N <= 0 || N > KN_ATT_MAXN) return -1;
    int nv = (N + 15) / 16, i = 0;
    __mmask16 last = (__mmask16)((1u << (N - 16 * (nv - 1))) - 1u);
    switch (nv) {
    case 1: ALL_ROWS(1); break;
    case 2: ALL_ROWS(2); break;
    case 3: ALL_ROWS(3); break;
    case 4: ALL_ROWS(4); break;
    default: ALL_ROWS(5); break;
    }
    return 0;
}

#else /* no AVX-512: the caller's general GEMM */

int kn_att_covers(int N) { (void)N; return 0; }

void kn_att_transpose(float *dst, const float *src, int rows, int cols, int lds) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(size_t)j * rows + i] = src[(size_t)i * lds + j];
}

int kn_att_gemm(int ta, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc) {
    (void)ta; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc;
    return -1;
}

#endif
