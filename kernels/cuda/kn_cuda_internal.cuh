/* kn_cuda_internal — what the CUDA back end's .cu files share (not for the
 * engine: it sees only kn_backend.h).
 *
 * Every CUDA and cuBLAS call goes through KN_CUDA_CHECK / KN_CUBLAS_CHECK,
 * and every kernel launch is followed by KN_LAUNCH_CHECK(name): an exit code
 * of 0 proves nothing on a GPU, so a failure names the kernel and the call,
 * then aborts (a failed launch leaves the device in an unknown state; the
 * engine cannot recover from it). Everything runs on one stream,
 * kn_cuda_stream(); nothing here synchronises except copies to the host and
 * sync().
 */
#ifndef KN_CUDA_INTERNAL_CUH
#define KN_CUDA_INTERNAL_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kn_backend.h"

/* Threads per block of the elementwise and row kernels. */
#define KN_CUDA_BLOCK 256
/* Most blocks a grid-stride elementwise kernel launches. */
#define KN_CUDA_MAX_BLOCKS 65535

cudaStream_t kn_cuda_stream(void);
cublasHandle_t kn_cuda_blas(void);

/* cuBLAS is opened with dlopen once a device is found (kn_cuda.cu), never
 * linked: linked, libcublas and libcublasLt (about 700 MB) cost every
 * clipbook process about 220 MB of resident memory and 0.2 s at start-up,
 * GPU or not. These are the C entry points this back end calls (the names
 * cublas_v2.h's macros map to), with cublas_api.h's signatures. */
typedef struct {
    cublasStatus_t (*create)(cublasHandle_t *handle);
    cublasStatus_t (*set_stream)(cublasHandle_t handle, cudaStream_t stream);
    cublasStatus_t (*gemm_ex)(cublasHandle_t handle, cublasOperation_t transa,
                              cublasOperation_t transb, int m, int n, int k, const void *alpha,
                              const void *A, cudaDataType Atype, int lda, const void *B,
                              cudaDataType Btype, int ldb, const void *beta, void *C,
                              cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                              cublasGemmAlgo_t algo);
    cublasStatus_t (*gemm_strided_batched_ex)(
        cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
        int k, const void *alpha, const void *A, cudaDataType Atype, int lda, long long strideA,
        const void *B, cudaDataType Btype, int ldb, long long strideB, const void *beta, void *C,
        cudaDataType Ctype, int ldc, long long strideC, int batchCount,
        cublasComputeType_t computeType, cublasGemmAlgo_t algo);
    const char *(*status_string)(cublasStatus_t status);
} kn_cublas_api;
extern kn_cublas_api kn_cublas;
/* Opens cuBLAS and resolves kn_cublas; 0, or -1 with the reason in why. */
int kn_cublas_open(char *why, size_t n);

/* Device scratch from the caching allocator (aborts with the out-of-memory
 * message when it cannot be had: scratch is the back end's own need). */
void *kn_cuda_scratch(size_t nbytes, const char *what);
void kn_cuda_scratch_free(void *p);

[[noreturn]] void kn_cuda_fail(const char *what, const char *call, const char *msg,
                                const char *file, int line);

#define KN_CUDA_CHECK(call)                                                     \
    do {                                                                        \
        cudaError_t e_ = (call);                                                \
        if (e_ != cudaSuccess)                                                  \
            kn_cuda_fail(__func__, #call, cudaGetErrorString(e_), __FILE__, __LINE__); \
    } while (0)

#define KN_CUBLAS_CHECK(call)                                                   \
    do {                                                                        \
        cublasStatus_t s_ = (call);                                             \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                        \
            kn_cuda_fail(__func__, #call, kn_cublas.status_string(s_), __FILE__, __LINE__); \
    } while (0)

#define KN_LAUNCH_CHECK(name)                                                   \
    do {                                                                        \
        cudaError_t e_ = cudaGetLastError();                                    \
        if (e_ != cudaSuccess)                                                  \
            kn_cuda_fail(name, "kernel launch", cudaGetErrorString(e_), __FILE__, __LINE__); \
    } while (0)

/* Blocks for n elements at KN_CUDA_BLOCK threads (grid-stride beyond). */
static inline unsigned kn_cuda_blocks(int64_t n) {
    int64_t b = (n + KN_CUDA_BLOCK - 1) / KN_CUDA_BLOCK;
    if (b < 1) b = 1;
    return (unsigned)(b > KN_CUDA_MAX_BLOCKS ? KN_CUDA_MAX_BLOCKS : b);
}

/* Row kernels: a block takes rows (blockIdx.x, then gridDim.x apart) and
 * its threads a row's elements, KN_ROW_UNROLL at a time with every load
 * issued before the first store. The first versions launched a block per
 * 256 elements (millions of blocks for RN50's column matrices at batch
 * 256) and ran at 0.6-1 TB/s on an H200 against the 4.2 TB/s of a copy. */
#define KN_ROW_MAX_BLOCKS 8192
#define KN_ROW_UNROLL 4
struct kn_rows_launch {
    dim3 grid;
    unsigned threads;
};
static inline kn_rows_launch kn_rows(int64_t rows, int64_t cols) {
    kn_rows_launch l;
    int64_t t = cols >= KN_CUDA_BLOCK ? KN_CUDA_BLOCK : 32 * ((cols + 31) / 32);
    l.threads = (unsigned)(t < 32 ? 32 : t);
    l.grid = dim3((unsigned)(rows < 1 ? 1 : rows < KN_ROW_MAX_BLOCKS ? rows : KN_ROW_MAX_BLOCKS));
    return l;
}
/* for (row ...) over this block's rows; inside, KN_ROW_ELEMS(p, P, k) walks
 * the elements p of a row, KN_ROW_UNROLL per thread per step (k the slot) */
#define KN_ROWS(row, rows) for (int64_t row = blockIdx.x; row < (rows); row += gridDim.x)

#define KN_GRID_STRIDE(i, n)                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);   \
         i += (int64_t)gridDim.x * blockDim.x)

/* Block-wide sum / max over KN_CUDA_BLOCK threads; every thread gets the
 * result. `sh` holds KN_CUDA_BLOCK / 32 values. */
template <typename T> __device__ inline T kn_warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ inline float kn_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
template <typename T> __device__ inline T kn_block_sum(T v, T *sh) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = kn_warp_sum(v);
    __syncthreads(); /* sh may still be read from a previous call */
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    T r = lane < nw ? sh[lane] : (T)0;
    return kn_warp_sum(r);
}
__device__ inline float kn_block_max(float v, float *sh) {
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = kn_warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    float r = lane < nw ? sh[lane] : -INFINITY;
    return kn_warp_max(r);
}

/* The families' launchers, gathered into the table by kn_cuda.cu. */
void kn_cuda_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);
void kn_cuda_gemm_batched(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                          int lda, int64_t sa, const float *B, int ldb, int64_t sb, float beta,
                          float *C, int ldc, int64_t sc, int batch);
void kn_cuda_unary_fwd(kn_unary f, float *y, const float *x, int64_t n, float a, float b);
void kn_cuda_unary_bwd(kn_unary f, float *dx, const float *dy, const float *x, const float *y,
                       int64_t n, float a, float b, int acc);
void kn_cuda_softmax_fwd(float *y, const float *x, int64_t rows, int64_t C, int logsm);
void kn_cuda_softmax_bwd(float *dx, const float *dy, const float *y, int64_t rows, int64_t C,
                         int logsm, int acc);
void kn_cuda_layernorm_fwd(float *y, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int64_t N, int64_t C, float eps);
void kn_cuda_layernorm_bwd(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const float *mean, const float *rstd, int64_t N,
                           int64_t C, int accx);
void kn_cuda_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int H,
                           int causal);
void kn_cuda_attention_bwd(float *dqkv, const float *dout, const float *qkv, const float *att,
                           int B, int T, int C, int H, int acc);
size_t kn_cuda_conv2d_scratch(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                              int pad);
void kn_cuda_conv2d_fwd(float *out, float *scratch, const float *inp, const float *w,
                        const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                        int stride, int pad);
void kn_cuda_conv2d_bwd(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                        const float *inp, const float *w, int N, int C, int H, int W, int OC,
                        int KH, int KW, int stride, int pad, int acc);
size_t kn_cuda_convt2d_scratch(int N, int C, int H, int W, int OC, int KH, int KW, int stride,
                               int pad, int outpad);
void kn_cuda_convt2d_fwd(float *out, float *scratch, const float *inp, const float *w,
                         const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                         int stride, int pad, int outpad);
void kn_cuda_convt2d_bwd(float *dinp, float *dw, float *db, float *scratch, const float *dout,
                         const float *inp, const float *w, int N, int C, int H, int W, int OC,
                         int KH, int KW, int stride, int pad, int outpad, int acc);
void kn_cuda_maxpool2d_fwd(float *out, int32_t *idx, const float *inp, int N, int C, int H,
                           int W, int KH, int KW, int stride, int pad);
void kn_cuda_maxpool2d_bwd(float *dinp, const float *dout, const int32_t *idx, int N, int C,
                           int H, int W, int OH, int OW, int acc);
void kn_cuda_avgpool2d_fwd(float *out, const float *inp, int N, int C, int H, int W, int KH,
                           int KW, int stride, int pad, int count_include_pad);
void kn_cuda_avgpool2d_bwd(float *dinp, const float *dout, int N, int C, int H, int W, int KH,
                           int KW, int stride, int pad, int count_include_pad, int acc);
void kn_cuda_adaptive_avgpool2d_fwd(float *out, const float *inp, int N, int C, int H, int W,
                                    int OH, int OW);
void kn_cuda_adaptive_avgpool2d_bwd(float *dinp, const float *dout, int N, int C, int H, int W,
                                    int OH, int OW, int acc);
void kn_cuda_upsample_nearest_fwd(float *out, const float *inp, int N, int C, int H, int W,
                                  int OH, int OW, double scale_h, double scale_w);
void kn_cuda_upsample_nearest_bwd(float *dinp, const float *dout, int N, int C, int H, int W,
                                  int OH, int OW, double scale_h, double scale_w, int acc);
void kn_cuda_upsample_bilinear_fwd(float *out, const float *inp, int N, int C, int H, int W,
                                   int OH, int OW, int align_corners, double scale_h,
                                   double scale_w);
void kn_cuda_upsample_bilinear_bwd(float *dinp, const float *dout, int N, int C, int H, int W,
                                   int OH, int OW, int align_corners, double scale_h,
                                   double scale_w, int acc);
void kn_cuda_batchnorm2d_fwd(float *out, float *mean, float *rstd, float *running_mean,
                             float *running_var, const float *inp, const float *gamma,
                             const float *beta, int N, int C, int HW, int training,
                             float momentum, float eps);
void kn_cuda_batchnorm2d_bwd(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *mean, const float *rstd,
                             const float *gamma, int N, int C, int HW, int training, int acc);

void kn_cuda_copy_nd(float *dst, const int64_t *ds, const float *src, const int64_t *ss, int nd,
                     const int64_t *shape, int acc);
void kn_cuda_binary_nd(kn_binary f, float *out, int nd, const int64_t *shape, const float *x,
                       const int64_t *sx, const float *y, const int64_t *sy, const float *z,
                       const int64_t *sz);
void kn_cuda_reduce_sum(float *out, const float *x, int64_t outer, int64_t R, int64_t inner,
                        float scale, int acc);
void kn_cuda_max_axis(float *val, int64_t *idx, const float *x, int64_t outer, int64_t K,
                      int64_t inner);
void kn_cuda_gather_rows(float *out, const float *x, const int64_t *idx, int64_t M, int64_t row);
void kn_cuda_scatter_rows(float *dx, const float *g, const int64_t *idx, int64_t M, int64_t row);
void kn_cuda_xent_fwd(float *loss, float *lse, const float *x, const int64_t *t, int64_t N,
                      int64_t K);
void kn_cuda_xent_bwd(float *dx, const float *g, const float *x, const float *lse,
                      const int64_t *t, int64_t N, int64_t K, int acc);

void kn_cuda_l2norm_fwd(float *y, float *nrm, const float *x, int64_t N, int64_t C, float eps);
void kn_cuda_l2norm_bwd(float *dx, const float *dy, const float *y, const float *nrm, int64_t N,
                        int64_t C, float eps, int acc);
void kn_cuda_adamw(float *p, const float *g, float *m, float *v, int64_t n, float decay,
                   float step, float bc2_sqrt, float b1, float b2, float eps, float a1, float a2);
void kn_cuda_sum_squares(double *out, const float *x, int64_t n, int parts);
void kn_cuda_max_axis_bwd(float *dx, const float *g, const int64_t *idx, int64_t outer, int64_t K,
                          int64_t inner);
void kn_cuda_pair_loss_fwd(float *loss, const float *x, const float *t, int64_t n, int bce);
void kn_cuda_pair_loss_bwd(float *d, const float *g, const float *x, const float *t, int64_t n,
                           int bce, int wrt_t, int acc);

/* y (=|+= by acc) v, n floats (the shared tail of many backward kernels). */
__device__ inline void kn_store(float *p, float v, int acc) { *p = acc ? *p + v : v; }

#endif
