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
 *
 * Which path runs: the environment variable CLIPBOOK_GEMM, read once at the
 * first GEMM: auto (the default: the AVX-512 kernel where compiled in, else
 * OpenBLAS), engine (the AVX-512 kernel; without it, a warning and blas) or
 * blas (every kn_sgemm through cblas_sgemm, and the convolutions through
 * im2col + cblas_sgemm instead of the packed kernel). OpenBLAS's own kernel
 * then follows OPENBLAS_CORETYPE. Direct cblas callers (en_logreg) are not
 * switched. The thread count is OpenMP's (OMP_NUM_THREADS, kn_set_num_threads).
 * Packing buffers are per thread, kept between calls (no per-call malloc).
 */
#ifndef KN_GEMM_H
#define KN_GEMM_H

#include <stddef.h>

void kn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* 1 when kn_sgemm runs the AVX-512 kernel: compiled in and not switched to
 * blas (else kn_sgemm is cblas_sgemm). Callers that use the packed entry
 * points below ask this first. */
int kn_sgemm_is_native(void);

typedef enum { KN_GEMM_AUTO, KN_GEMM_ENGINE, KN_GEMM_BLAS } kn_gemm_path;
/* "auto" | "engine" | "blas" -> *out; 0 if s is none of them. */
int kn_gemm_path_parse(const char *s, kn_gemm_path *out);
/* Overrides CLIPBOOK_GEMM for the rest of the process (tests). Not to be
 * called while another thread runs a GEMM. */
void kn_gemm_set_path(kn_gemm_path p);
/* The path kn_sgemm takes now: KN_GEMM_ENGINE or KN_GEMM_BLAS. */
kn_gemm_path kn_gemm_active(void);
const char *kn_gemm_active_name(void);

/* The same GEMM (ta as above) with op(B) (K,N) never stored: packb writes
 * rows [p0, p0+kc) x columns [j0, j0+nc) of it into Bp as micro-panels of
 * KN_GEMM_NR columns, Bp[panel][k][KN_GEMM_NR], zero past nc. A convolution
 * packs straight from its input image this way (no im2col matrix). Native
 * build only (asserted). */
#define KN_GEMM_NR 48
typedef void (*kn_packb_fn)(float *Bp, const void *ctx, int p0, int kc, int j0, int nc);
void kn_sgemm_packed_b(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                       kn_packb_fn packb, const void *bctx, float beta, float *C, int ldc);

/* A packed once for many GEMMs with the same left operand (Winograd's
 * transformed weights, used by every chunk of tiles): kn_sgemm_pack_a writes
 * op(A) (M,K) times alpha into Ap (kn_sgemm_packed_a_floats(M, K) floats);
 * kn_sgemm_prepacked_a then runs C = Ap * B + beta C, B (K,N) stored as is,
 * without repacking A (which costs as much as the FLOPs when N is ~100). */
size_t kn_sgemm_packed_a_floats(int M, int K);
void kn_sgemm_pack_a(float *Ap, int ta, int M, int K, float alpha, const float *A, int lda);
void kn_sgemm_prepacked_a(int M, int N, int K, const float *Ap, const float *B, int ldb,
                          float beta, float *C, int ldc);

#endif
