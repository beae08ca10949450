/* kn_gemm — single-precision GEMM with an AVX-512 micro-kernel.
 *
 * Same contract as cblas_sgemm in row-major order:
 *     C (M,N) = alpha * op(A) * op(B) + beta * C,   op(A) (M,K), op(B) (K,N),
 * ta/tb = 1: A is stored (K,M) / B is stored (N,K). beta = 0 overwrites C
 * (NaNs in C do not leak through).
 *
 * Why: Debian's OpenBLAS runs its AVX2 kernels on this AVX-512 machine, about
 * half the core's peak. This is a BLIS-style GEMM: A and B packed into
 * micro-panels (alpha folded into A), an 8x48 register-blocked micro-kernel
 * (24 zmm accumulators). Outside an OpenMP parallel region it threads itself
 * with OpenMP over (row block, column block) tiles; inside one it runs on the
 * calling thread, so callers may run one GEMM per thread. It never starts
 * OpenBLAS's threads (which fight OpenMP's spinning workers).
 * Without AVX-512 at compile time it calls cblas_sgemm.
 * Packing buffers are per thread, kept between calls (no per-call malloc).
 */
#ifndef KN_GEMM_H
#define KN_GEMM_H

void kn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* 1 when the AVX-512 kernel is compiled in (else kn_sgemm is cblas_sgemm). */
int kn_sgemm_is_native(void);

/* The same GEMM (ta as above) with op(B) (K,N) never stored: packb writes
 * rows [p0, p0+kc) x columns [j0, j0+nc) of it into Bp as micro-panels of
 * KN_GEMM_NR columns, Bp[panel][k][KN_GEMM_NR], zero past nc. A convolution
 * packs straight from its input image this way (no im2col matrix). Native
 * build only (asserted). */
#define KN_GEMM_NR 48
typedef void (*kn_packb_fn)(float *Bp, const void *ctx, int p0, int kc, int j0, int nc);
void kn_sgemm_packed_b(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                       kn_packb_fn packb, const void *bctx, float beta, float *C, int ldc);

#endif
