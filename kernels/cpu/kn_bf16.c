/* kn_bf16 — the AVX512_BF16 GEMM (contract in kn_bf16.h).
 *
 * A micro-tile is 8 rows x 32 columns of C in 16 zmm accumulators. Per pair
 * of k: two loads of the packed weight (16 columns x 2 k each), and per row
 * one 32-bit broadcast of A's (k, k+1) bf16 pair and two vdpbf16ps. A is
 * rounded to bf16 pairs row by row into a per-thread buffer (a row block
 * of MB rows at a time); the weight is packed once by the caller. */
#include "kn_bf16.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kn_assert.h"
#include "kn_cpuid.h"

int kn_bf16_available(void) {
#if defined(__x86_64__)
    return kn_cpu_info_get()->avx512bf16;
#else
    return 0;
#endif
}

const char *kn_bf16_unavailable_reason(void) {
#if defined(__x86_64__)
    if (kn_bf16_available()) return "";
    return kn_cpu_info_get()->avx512f ? "no AVX512_BF16 on this CPU (AVX-512 without the BF16 extension)"
                                      : "no AVX-512 on this CPU";
#else
    return "not an x86-64 build";
#endif
}

uint16_t kn_bf16_from_f32(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float kn_bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

#define PW 16 /* columns per packed panel */
#define MR 8
#define MB 64 /* rows of A rounded at a time */

size_t kn_bf16_packed_size(int N, int K) {
    return (size_t)((N + PW - 1) / PW) * PW * (size_t)((K + 1) / 2) * 2;
}

void kn_bf16_pack_w(uint16_t *Wp, const float *W, int ldw, int N, int K) {
    int KP = (K + 1) / 2, panels = (N + PW - 1) / PW;
    for (int p = 0; p < panels; p++)
        for (int kp = 0; kp < KP; kp++)
            for (int j = 0; j < PW; j++)
                for (int h = 0; h < 2; h++) {
                    int n = p * PW + j, k = 2 * kp + h;
                    float v = n < N && k < K ? W[(size_t)n * ldw + k] : 0.0f;
                    Wp[(((size_t)p * KP + kp) * PW + j) * 2 + h] = kn_bf16_from_f32(v);
                }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

static BF16_TARGET inline __mmask16 mask_n(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* C[0:mr, 0:nr] (nr <= 32) = or += sum over kp of a (mr rows of KP pairs,
 * row stride KP) x two panels b0, b1 (KP x 16 x 2 each). */
static BF16_TARGET void micro(int KP, const uint32_t *a, const uint16_t *b0, const uint16_t *b1, float *c,
                              int ldc, int mr, int nr, int acc) {
    __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    __m512 c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
    const uint32_t *a0 = a, *a1 = a + (mr > 1 ? KP : 0), *a2 = a + (mr > 2 ? 2 * KP : 0), *a3 = a + (mr > 3 ? 3 * KP : 0);
    const uint32_t *a4 = a + (mr > 4 ? 4 * KP : 0), *a5 = a + (mr > 5 ? 5 * KP : 0), *a6 = a + (mr > 6 ? 6 * KP : 0);
    const uint32_t *a7 = a + (mr > 7 ? 7 * KP : 0);
    for (int kp = 0; kp < KP; kp++) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512(b0 + (size_t)kp * 32);
        __m512bh w1 = (__m512bh)_mm512_loadu_si512(b1 + (size_t)kp * 32);
#define ROW(i)                                                                  \
        {                                                                       \
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)a##i[kp]);            \
            c##i##0 = _mm512_dpbf16_ps(c##i##0, x, w0);                          \
            c##i##1 = _mm512_dpbf16_ps(c##i##1, x, w1);                          \
        }
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    }
    __mmask16 m0 = mask_n(nr), m1 = mask_n(nr - 16);
#define STORE(i)                                                                \
    if ((i) < mr) {                                                             \
        float *r = c + (size_t)(i) * ldc;                                       \
        if (acc) {                                                              \
            c##i##0 = _mm512_add_ps(c##i##0, _mm512_maskz_loadu_ps(m0, r));      \
            c##i##1 = _mm512_add_ps(c##i##1, _mm512_maskz_loadu_ps(m1, r + 16)); \
        }                                                                       \
        _mm512_mask_storeu_ps(r, m0, c##i##0);                                  \
        _mm512_mask_storeu_ps(r + 16, m1, c##i##1);                             \
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
}

/* rows [i0, i0+mb) of A as bf16 pairs, row stride KP (zero past K) */
static void round_rows(uint32_t *ap, const float *A, int lda, int i0, int mb, int K) {
    int KP = (K + 1) / 2;
    for (int i = 0; i < mb; i++) {
        const float *r = A + (size_t)(i0 + i) * lda;
        uint32_t *d = ap + (size_t)i * KP;
        for (int kp = 0; kp < KP; kp++) {
            uint32_t lo = kn_bf16_from_f32(r[2 * kp]), hi = 2 * kp + 1 < K ? kn_bf16_from_f32(r[2 * kp + 1]) : 0;
            d[kp] = lo | hi << 16;
        }
    }
}

/* one block of C: rows [i0, i0+mb), column panel pair q (columns 32q..) */
static void block(int N, int K, const uint32_t *ap, int mb, const uint16_t *Wp, int q, float beta, float *C,
                  int ldc) {
    int KP = (K + 1) / 2, panels = (N + PW - 1) / PW;
    const uint16_t *b0 = Wp + (size_t)(2 * q) * KP * 32;
    const uint16_t *b1 = 2 * q + 1 < panels ? b0 + (size_t)KP * 32 : b0; /* past N: stored masked off */
    int nr = N - 32 * q < 32 ? N - 32 * q : 32;
    for (int ip = 0; ip < mb; ip += MR)
        micro(KP, ap + (size_t)ip * KP, b0, b1, C + (size_t)ip * ldc + 32 * q, ldc, mb - ip < MR ? mb - ip : MR, nr,
              beta != 0.0f);
}

void kn_bf16_gemm(int M, int N, int K, const float *A, int lda, const uint16_t *Wp, float beta, float *C,
                  int ldc) {
    KN_ASSERT(kn_bf16_available());
    KN_ASSERT(beta == 0.0f || beta == 1.0f);
    if (M <= 0 || N <= 0) return;
    int KP = (K + 1) / 2, nq = (N + 31) / 32, nI = (M + MB - 1) / MB;
    int par = !omp_in_parallel() && omp_get_max_threads() > 1 && (double)M * N * K > 4e6;
    /* rows rounded once per row block, shared by the threads */
    uint32_t *ap = malloc(sizeof(uint32_t) * (size_t)M * (KP > 0 ? KP : 1));
    KN_ASSERT(ap);
#pragma omp parallel for schedule(static) if (par)
    for (int ib = 0; ib < nI; ib++) {
        int i0 = ib * MB;
        round_rows(ap + (size_t)i0 * KP, A, lda, i0, M - i0 < MB ? M - i0 : MB, K);
    }
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int it = 0; it < nI * nq; it++) {
        int ib = it / nq, q = it % nq, i0 = ib * MB;
        block(N, K, ap + (size_t)i0 * KP, M - i0 < MB ? M - i0 : MB, Wp, q, beta, C + (size_t)i0 * ldc, ldc);
    }
    free(ap);
}
#else
void kn_bf16_gemm(int M, int N, int K, const float *A, int lda, const uint16_t *Wp, float beta, float *C,
                  int ldc) {
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)Wp; (void)beta; (void)C; (void)ldc;
    KN_ASSERT(!"kn_bf16_gemm needs AVX512_BF16 (kn_bf16_available)");
}
#endif
