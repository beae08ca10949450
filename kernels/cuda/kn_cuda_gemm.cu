/* kn_cuda_gemm — GEMM and batched GEMM through cuBLAS.
 *
 * The engine is row-major, cuBLAS column-major: a row-major (M,N) C is the
 * column-major (N,M) Cᵀ, and Cᵀ = op(B)ᵀ op(A)ᵀ, so each call passes B
 * before A with M and N swapped and the same leading dimensions. FP32 data
 * in and out always; the precision setting picks cuBLAS's compute type:
 * CUBLAS_COMPUTE_32F (fp32, default), _FAST_TF32 or _FAST_16BF (tensor
 * cores, inputs rounded inside cuBLAS; accumulation stays FP32).
 */
#include "kn_cuda_internal.cuh"

static cublasComputeType_t compute_type(void) {
    switch (kn_cuda_precision()) {
    case KN_PREC_TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case KN_PREC_BF16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    default: return CUBLAS_COMPUTE_32F;
    }
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
    KN_CUBLAS_CHECK(kn_cublas.gemm_strided_batched_ex(
        kn_cuda_blas(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K,
        &alpha, B, CUDA_R_32F, ldb, sb, A, CUDA_R_32F, lda, sa, &beta, C, CUDA_R_32F, ldc, sc,
        batch, compute_type(), CUBLAS_GEMM_DEFAULT));
}
