/* kn_cuda_gemm — GEMM and batched GEMM through cuBLAS.
 *
 * The engine is row-major, cuBLAS column-major: a row-major (M,N) C is the
 * column-major (N,M) Cᵀ, and Cᵀ = op(B)ᵀ op(A)ᵀ, so each call passes B
 * before A with M and N swapped and the same leading dimensions. FP32 data
 * in and out always; the precision setting picks the math:
 *   fp32 (default)  CUBLAS_COMPUTE_32F, no tensor cores;
 *   tf32            CUBLAS_COMPUTE_32F_FAST_TF32: tensor cores, inputs
 *                   rounded to TF32 inside cuBLAS;
 *   bf16            A and B rounded to BF16 (nearest) into scratch here,
 *                   then a BF16 x BF16 -> FP32 GEMM with FP32 accumulation.
 * bf16 converts itself because CUBLAS_COMPUTE_32F_FAST_16BF only allows
 * cuBLAS to use BF16: on an H200 with cuBLAS 13.1 it ran the TF32 kernels
 * (the same results and the same 404 TFLOP/s at 8192^3 as tf32, against
 * PyTorch's 766 in BF16), so the setting did nothing.
 */
#include <cuda_bf16.h>

#include "kn_cuda_internal.cuh"

static cublasComputeType_t compute_type(void) {
    switch (kn_cuda_precision()) {
    case KN_PREC_TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    default: return CUBLAS_COMPUTE_32F;
    }
}

__global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, int64_t n) {
    KN_GRID_STRIDE(i, n) dst[i] = __float2bfloat16_rn(src[i]);
}

/* The elements an operand of `batch` matrices spans: rows of ld floats, the
 * last row `cols` long, matrices `stride` apart (0: one shared matrix). */
static int64_t span(int rows, int cols, int ld, int64_t stride, int batch) {
    return (int64_t)(batch - 1) * stride + (int64_t)(rows - 1) * ld + cols;
}

/* A BF16 copy of the n floats at src, in scratch the caller frees (on the
 * one stream, so the next user of the block runs after this GEMM). */
static __nv_bfloat16 *bf16_copy(const float *src, int64_t n, const char *what) {
    __nv_bfloat16 *d = (__nv_bfloat16 *)kn_cuda_scratch((size_t)n * sizeof(__nv_bfloat16), what);
    to_bf16_kernel<<<kn_cuda_blocks(n), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(d, src, n);
    KN_LAUNCH_CHECK("to_bf16_kernel");
    return d;
}

/* C (M,N) row-major, ldc apart: C *= beta (K = 0, where cuBLAS may not
 * touch C). */
__global__ void scale_rows_kernel(float *C, int M, int N, int ldc, float beta) {
    KN_GRID_STRIDE(i, (int64_t)M * N) {
        int64_t r = i / N, c = i % N;
        float *p = C + r * ldc + c;
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

static void scale_rows(float *C, int M, int N, int ldc, float beta) {
    scale_rows_kernel<<<kn_cuda_blocks((int64_t)M * N), KN_CUDA_BLOCK, 0, kn_cuda_stream()>>>(
        C, M, N, ldc, beta);
    KN_LAUNCH_CHECK("scale_rows_kernel");
}

void kn_cuda_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_rows(C, M, N, ldc, beta);
        return;
    }
    if (kn_cuda_precision() == KN_PREC_BF16) {
        __nv_bfloat16 *a = bf16_copy(A, span(ta ? K : M, ta ? M : K, lda, 0, 1), "gemm bf16 A"),
                      *b = bf16_copy(B, span(tb ? N : K, tb ? K : N, ldb, 0, 1), "gemm bf16 B");
        KN_CUBLAS_CHECK(kn_cublas.gemm_ex(kn_cuda_blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                          ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, b,
                                          CUDA_R_16BF, ldb, a, CUDA_R_16BF, lda, &beta, C,
                                          CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        kn_cuda_scratch_free(a);
        kn_cuda_scratch_free(b);
        return;
    }
    KN_CUBLAS_CHECK(kn_cublas.gemm_ex(kn_cuda_blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, CUDA_R_32F,
                                 ldb, A, CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc,
                                 compute_type(), CUBLAS_GEMM_DEFAULT));
}

void kn_cuda_gemm_batched(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                          int lda, int64_t sa, const float *B, int ldb, int64_t sb, float beta,
                          float *C, int ldc, int64_t sc, int batch) {
    if (batch <= 0 || M <= 0 || N <= 0) return;
    if (sc == 0) {
        /* every product adds into one C (the CPU back end's contract): the
         * batched call would race on it, so run them in order */
        for (int i = 0; i < batch; i++)
            kn_cuda_gemm(ta, tb, M, N, K, alpha, A + i * sa, lda, B + i * sb, ldb,
                         i > 0 ? 1.0f : beta, C, ldc);
        return;
    }
    if (K <= 0) {
        for (int i = 0; i < batch; i++) scale_rows(C + i * sc, M, N, ldc, beta);
        return;
    }
    if (kn_cuda_precision() == KN_PREC_BF16) {
        __nv_bfloat16 *a = bf16_copy(A, span(ta ? K : M, ta ? M : K, lda, sa, batch), "gemm bf16 A"),
                      *b = bf16_copy(B, span(tb ? N : K, tb ? K : N, ldb, sb, batch), "gemm bf16 B");
        KN_CUBLAS_CHECK(kn_cublas.gemm_strided_batched_ex(
            kn_cuda_blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M,
            K, &alpha, b, CUDA_R_16BF, ldb, sb, a, CUDA_R_16BF, lda, sa, &beta, C, CUDA_R_32F, ldc,
            sc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
        kn_cuda_scratch_free(a);
        kn_cuda_scratch_free(b);
        return;
    }
    KN_CUBLAS_CHECK(kn_cublas.gemm_strided_batched_ex(
        kn_cuda_blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
        &alpha, B, CUDA_R_32F, ldb, sb, A, CUDA_R_32F, lda, sa, &beta, C, CUDA_R_32F, ldc, sc,
        batch, compute_type(), CUBLAS_GEMM_DEFAULT));
}
