/* kn_cuda — the CUDA back end's table, device start-up, memory and copies.
 *
 * Memory: a caching allocator over plain cudaMalloc (never managed memory).
 * Requests are rounded up to a size class (512 B steps below 1 MiB, then
 * four classes per power of two) and a freed block goes on its class's free
 * list, so a training or inference step that repeats its sizes calls
 * cudaMalloc only in its first step. When cudaMalloc fails, the cached free
 * blocks are released and the call retried once; if that fails too, the
 * allocator prints one message naming the size asked for, the free memory
 * and what to lower, and returns NULL (the contract of kn_backend.alloc).
 * Transfers go through one pinned host staging buffer in chunks (pageable
 * engine memory cannot be DMA'd directly at full speed). One stream.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "kn_cuda_internal.cuh"

/* ---- start-up --------------------------------------------------------------- */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int n_devices = 0;              /* 0: no usable device */
static cudaStream_t stream;
static cublasHandle_t blas;
static kn_precision precision = KN_PREC_FP32;
static char last_error[512];

[[noreturn]] void kn_cuda_fail(const char *what, const char *call, const char *msg,
                                const char *file, int line) {
    fprintf(stderr, "cuda: %s: %s failed: %s (%s:%d)\n", what, call, msg, file, line);
    abort();
}

kn_cublas_api kn_cublas;

#ifndef KN_CUBLAS_SONAME
#define KN_CUBLAS_SONAME "libcublas.so"
#endif
#ifndef KN_CUDA_LIBDIR
#define KN_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

int kn_cublas_open(char *why, size_t n) {
    /* the soname of the toolkit it was built with, found through the
     * binary's run path or the loader's, then in the toolkit's folder */
    void *h = dlopen(KN_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen(KN_CUDA_LIBDIR "/" KN_CUBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, n, "cannot load %s (%s)", KN_CUBLAS_SONAME, dlerror());
        return -1;
    }
    struct { void **slot; const char *name; } fns[] = {
        { (void **)&kn_cublas.create, "cublasCreate_v2" },
        { (void **)&kn_cublas.set_stream, "cublasSetStream_v2" },
        { (void **)&kn_cublas.gemm_ex, "cublasGemmEx" },
        { (void **)&kn_cublas.gemm_strided_batched_ex, "cublasGemmStridedBatchedEx" },
        { (void **)&kn_cublas.status_string, "cublasGetStatusString" },
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        *fns[i].slot = dlsym(h, fns[i].name);
        if (!*fns[i].slot) {
            snprintf(why, n, "%s has no %s", KN_CUBLAS_SONAME, fns[i].name);
            memset(&kn_cublas, 0, sizeof kn_cublas);
            dlclose(h);
            return -1;
        }
    }
    return 0;
}

int kn_cuda_blas_probe(char *why, size_t n) { return kn_cublas_open(why, n); }

static void cuda_init(void) {
    int n = 0;
    /* A machine with the toolkit but no GPU (or no driver) answers with an
     * error here: that means "no device", silently, not a failure. */
    if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
        (void)cudaGetLastError();
        n_devices = 0;
        return;
    }
    char why[256];
    if (kn_cublas_open(why, sizeof why) != 0) {
        /* a GPU without cuBLAS cannot run this back end: say so once */
        fprintf(stderr, "cuda: a GPU is visible but %s; computing on the CPU\n", why);
        n_devices = 0;
        return;
    }
    KN_CUDA_CHECK(cudaSetDevice(0));
    KN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    KN_CUBLAS_CHECK(kn_cublas.create(&blas));
    KN_CUBLAS_CHECK(kn_cublas.set_stream(blas, stream));
    n_devices = n;
    const char *p = getenv("CLIPBOOK_PRECISION");
    if (p && *p && kn_cuda_set_precision(p) != 0) {
        fprintf(stderr, "cuda: CLIPBOOK_PRECISION=%s is not one of fp32, tf32, bf16; using fp32\n", p);
        precision = KN_PREC_FP32;
    }
}

int kn_cuda_device_count(void) {
    pthread_once(&init_once, cuda_init);
    return n_devices;
}

cudaStream_t kn_cuda_stream(void) { return stream; }
cublasHandle_t kn_cuda_blas(void) { return blas; }

int kn_cuda_set_precision(const char *name) {
    if (!strcmp(name, "fp32")) precision = KN_PREC_FP32;
    else if (!strcmp(name, "tf32")) precision = KN_PREC_TF32;
    else if (!strcmp(name, "bf16")) precision = KN_PREC_BF16;
    else return -1;
    return 0;
}
kn_precision kn_cuda_precision(void) { return precision; }
const char *kn_cuda_last_error(void) { return last_error; }

/* ---- the caching allocator ------------------------------------------------ */
#define N_CLASSES 224 /* up to 2^40 bytes */

typedef struct block { void *p; size_t cls_bytes; int cls; } block;
typedef struct { void **p; int n, cap; } stack;

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static stack free_lists[N_CLASSES];
static block *live;            /* open-addressing table of live blocks by pointer */
static size_t live_cap, live_n;
static size_t bytes_cached, bytes_live;

/* Size class of n bytes and the bytes that class holds. Classes 0..2047
 * steps of 512 B cover < 1 MiB (folded into 0..N below); above, four per
 * power of two. Anything past the last class is its own exact size
 * (cls = -1, not cached). */
static int size_class(size_t n, size_t *bytes) {
    if (n <= ((size_t)1 << 20)) {
        size_t k = (n + 511) / 512; /* 1..2048 */
        if (k == 0) k = 1;
        /* round to 16 steps of 64 KiB above 64 KiB to keep the class count small */
        if (k > 128) k = (k + 127) / 128 * 128;
        *bytes = k * 512;
        return k <= 128 ? (int)k - 1 : 128 + (int)(k / 128) - 2; /* 0..127, 128..142 */
    }
    int e = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^e < n <= 2^(e+1) */
    size_t base = (size_t)1 << e, q = base / 4;
    size_t k = (n - base + q - 1) / q; /* 1..4 */
    *bytes = base + k * q;
    int c = 143 + (e - 20) * 4 + (int)k - 1;
    if (c >= N_CLASSES) { *bytes = (n + 511) & ~(size_t)511; return -1; }
    return c;
}

static size_t hash_ptr(const void *p) { return ((uintptr_t)p >> 9) * 0x9E3779B97F4A7C15ull; }

static void live_put(block b);
static void live_grow(void) {
    size_t old = live_cap;
    block *o = live;
    live_cap = old ? old * 2 : 1024;
    live = (block *)calloc(live_cap, sizeof *live);
    if (!live) kn_cuda_fail("alloc", "calloc", "host out of memory", __FILE__, __LINE__);
    live_n = 0;
    for (size_t i = 0; i < old; i++)
        if (o[i].p) live_put(o[i]);
    free(o);
}
static void live_put(block b) {
    if (2 * (live_n + 1) > live_cap) live_grow();
    size_t i = hash_ptr(b.p) & (live_cap - 1);
    while (live[i].p) i = (i + 1) & (live_cap - 1);
    live[i] = b;
    live_n++;
}
static int live_take(void *p, block *out) {
    if (!live_cap) return 0;
    size_t i = hash_ptr(p) & (live_cap - 1);
    while (live[i].p && live[i].p != p) i = (i + 1) & (live_cap - 1);
    if (!live[i].p) return 0;
    *out = live[i];
    live[i].p = NULL;
    live_n--;
    /* re-insert the rest of the cluster (linear probing without tombstones) */
    for (size_t j = (i + 1) & (live_cap - 1); live[j].p; j = (j + 1) & (live_cap - 1)) {
        block b = live[j];
        live[j].p = NULL;
        live_n--;
        live_put(b);
    }
    return 1;
}

static void release_cached(void) {
    for (int c = 0; c < N_CLASSES; c++) {
        for (int i = 0; i < free_lists[c].n; i++) KN_CUDA_CHECK(cudaFree(free_lists[c].p[i]));
        free_lists[c].n = 0;
    }
    bytes_cached = 0;
}

static void *cuda_alloc(size_t n) {
    if (kn_cuda_device_count() == 0) return NULL;
    size_t bytes;
    int c = size_class(n ? n : 1, &bytes);
    pthread_mutex_lock(&mem_lock);
    void *p = NULL;
    if (c >= 0 && free_lists[c].n > 0) {
        p = free_lists[c].p[--free_lists[c].n];
        bytes_cached -= bytes;
    } else {
        cudaError_t e = cudaMalloc(&p, bytes);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            /* the cached blocks may be what stands in the way */
            KN_CUDA_CHECK(cudaStreamSynchronize(stream));
            release_cached();
            e = cudaMalloc(&p, bytes);
        }
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            size_t fr = 0, tot = 0;
            (void)cudaMemGetInfo(&fr, &tot);
            snprintf(last_error, sizeof last_error,
                     "out of GPU memory: asked for %.1f MiB, %.1f MiB free of %.1f MiB "
                     "(%.1f MiB held by this process); lower the batch size",
                     bytes / 1048576.0, fr / 1048576.0, tot / 1048576.0, bytes_live / 1048576.0);
            fprintf(stderr, "cuda: %s\n", last_error);
            pthread_mutex_unlock(&mem_lock);
            return NULL;
        }
    }
    live_put((block){p, bytes, c});
    bytes_live += bytes;
    pthread_mutex_unlock(&mem_lock);
    return p;
}

static void cuda_free(void *p) {
    if (!p) return;
    pthread_mutex_lock(&mem_lock);
    block b;
    if (!live_take(p, &b)) {
        pthread_mutex_unlock(&mem_lock);
        kn_cuda_fail("free", "cuda_free", "pointer not from this allocator", __FILE__, __LINE__);
    }
    bytes_live -= b.cls_bytes;
    if (b.cls < 0) {
        KN_CUDA_CHECK(cudaFree(p));
    } else {
        /* kernels queued on the stream may still read the block: the next
         * user is on the same stream, so stream order keeps this safe */
        stack *s = &free_lists[b.cls];
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 16;
            s->p = (void **)realloc(s->p, (size_t)s->cap * sizeof *s->p);
            if (!s->p) kn_cuda_fail("free", "realloc", "host out of memory", __FILE__, __LINE__);
        }
        s->p[s->n++] = p;
        bytes_cached += b.cls_bytes;
    }
    pthread_mutex_unlock(&mem_lock);
}

void *kn_cuda_scratch(size_t nbytes, const char *what) {
    void *p = cuda_alloc(nbytes);
    if (!p) kn_cuda_fail(what, "scratch alloc", last_error, __FILE__, __LINE__);
    return p;
}
void kn_cuda_scratch_free(void *p) { cuda_free(p); }

void kn_cuda_memory_stats(size_t *live_bytes, size_t *cached_bytes) {
    pthread_mutex_lock(&mem_lock);
    if (live_bytes) *live_bytes = bytes_live;
    if (cached_bytes) *cached_bytes = bytes_cached;
    pthread_mutex_unlock(&mem_lock);
}

/* ---- copies ------------------------------------------------------------------ */
#define STAGE_BYTES ((size_t)8 << 20)
static void *stage; /* pinned, STAGE_BYTES */
static pthread_mutex_t copy_lock = PTHREAD_MUTEX_INITIALIZER;

static void cuda_copy(void *dst, const void *src, size_t n, int kind) {
    if (!n) return;
    if (kind == KN_COPY_D2D) {
        KN_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, stream));
        return;
    }
    pthread_mutex_lock(&copy_lock);
    if (!stage) KN_CUDA_CHECK(cudaMallocHost(&stage, STAGE_BYTES));
    for (size_t off = 0; off < n; off += STAGE_BYTES) {
        size_t m = n - off < STAGE_BYTES ? n - off : STAGE_BYTES;
        if (kind == KN_COPY_H2D) {
            memcpy(stage, (const char *)src + off, m);
            KN_CUDA_CHECK(cudaMemcpyAsync((char *)dst + off, stage, m, cudaMemcpyHostToDevice, stream));
            /* the staging buffer is reused by the next chunk */
            KN_CUDA_CHECK(cudaStreamSynchronize(stream));
        } else {
            KN_CUDA_CHECK(cudaMemcpyAsync(stage, (const char *)src + off, m, cudaMemcpyDeviceToHost, stream));
            KN_CUDA_CHECK(cudaStreamSynchronize(stream));
            memcpy((char *)dst + off, stage, m);
        }
    }
    pthread_mutex_unlock(&copy_lock);
}

static void cuda_memzero(void *p, size_t n) {
    if (n) KN_CUDA_CHECK(cudaMemsetAsync(p, 0, n, stream));
}

static void cuda_sync(void) { KN_CUDA_CHECK(cudaStreamSynchronize(stream)); }

/* Every kernel of the table has a CUDA version. */
static int cuda_supports(kn_kernel k) { return k >= 0 && k < KN_KERNEL_COUNT; }

static const kn_backend kn_cuda = {
    .name = "cuda",
    .device = 1,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .copy = cuda_copy,
    .memzero = cuda_memzero,
    .sync = cuda_sync,
    .supports = cuda_supports,
    .gemm = kn_cuda_gemm,
    .gemm_batched = kn_cuda_gemm_batched,
    .unary_fwd = kn_cuda_unary_fwd,
    .unary_bwd = kn_cuda_unary_bwd,
    .softmax_fwd = kn_cuda_softmax_fwd,
    .softmax_bwd = kn_cuda_softmax_bwd,
    .layernorm_fwd = kn_cuda_layernorm_fwd,
    .layernorm_bwd = kn_cuda_layernorm_bwd,
    .attention_fwd = kn_cuda_attention_fwd,
    .attention_bwd = kn_cuda_attention_bwd,
    .conv2d_scratch = kn_cuda_conv2d_scratch,
    .conv2d_fwd = kn_cuda_conv2d_fwd,
    .conv2d_bwd = kn_cuda_conv2d_bwd,
    .convt2d_scratch = kn_cuda_convt2d_scratch,
    .convt2d_fwd = kn_cuda_convt2d_fwd,
    .convt2d_bwd = kn_cuda_convt2d_bwd,
    .maxpool2d_fwd = kn_cuda_maxpool2d_fwd,
    .maxpool2d_bwd = kn_cuda_maxpool2d_bwd,
    .avgpool2d_fwd = kn_cuda_avgpool2d_fwd,
    .avgpool2d_bwd = kn_cuda_avgpool2d_bwd,
    .adaptive_avgpool2d_fwd = kn_cuda_adaptive_avgpool2d_fwd,
    .adaptive_avgpool2d_bwd = kn_cuda_adaptive_avgpool2d_bwd,
    .upsample_nearest_fwd = kn_cuda_upsample_nearest_fwd,
    .upsample_nearest_bwd = kn_cuda_upsample_nearest_bwd,
    .upsample_bilinear_fwd = kn_cuda_upsample_bilinear_fwd,
    .upsample_bilinear_bwd = kn_cuda_upsample_bilinear_bwd,
    .batchnorm2d_fwd = kn_cuda_batchnorm2d_fwd,
    .batchnorm2d_bwd = kn_cuda_batchnorm2d_bwd,
    .copy_nd = kn_cuda_copy_nd,
    .binary_nd = kn_cuda_binary_nd,
    .reduce_sum = kn_cuda_reduce_sum,
    .max_axis = kn_cuda_max_axis,
    .max_axis_bwd = kn_cuda_max_axis_bwd,
    .gather_rows = kn_cuda_gather_rows,
    .scatter_rows = kn_cuda_scatter_rows,
    .xent_fwd = kn_cuda_xent_fwd,
    .xent_bwd = kn_cuda_xent_bwd,
    .l2norm_fwd = kn_cuda_l2norm_fwd,
    .l2norm_bwd = kn_cuda_l2norm_bwd,
    .adamw = kn_cuda_adamw,
    .sum_squares = kn_cuda_sum_squares,
    .pair_loss_fwd = kn_cuda_pair_loss_fwd,
    .pair_loss_bwd = kn_cuda_pair_loss_bwd,
};

const kn_backend *kn_cuda_backend(void) { return kn_cuda_device_count() > 0 ? &kn_cuda : NULL; }
int kn_cuda_built(void) { return 1; }
