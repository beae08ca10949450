/* gpu_check — the GPU machine's test and benchmark program (make gpu-check;
 * tests/gpu/check.sh runs it). It links the engine's kernels and the CUDA
 * back end, no Lua, cairo, pango or Criterion, so it runs where only the CUDA
 * toolkit is installed.
 *
 *   gpu_check parity        the parity tests of tests/cuda/test_cuda.c
 *                           (CLIPBOOK_PRECISION picks the GEMM math)
 *   gpu_check bench         kernel timings at CLIP's batch-256 shapes and
 *                           the ceilings: a large cuBLAS GEMM and a D2D copy
 *
 * Output: human lines, then `key value` lines that check.sh collects; the
 * exit status is 0 when every test passed (or all were skipped: no GPU). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kn_backend.h"

#define GC_MAX 128
static gc_test tests[GC_MAX];
static int ntests = 0, cur_failed = 0;
static jmp_buf leave;

void gc_register(const char *suite, const char *name, void (*fn)(void)) {
    if (ntests < GC_MAX) tests[ntests++] = (gc_test){suite, name, fn};
}

void gc_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    cur_failed = 1;
    printf("FAIL %s:%d: %s", file, line, cond);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        printf(": ");
        vprintf(fmt, ap);
        va_end(ap);
    }
    printf("\n");
}

void gc_leave(int skipped, const char *why) {
    (void)why;
    longjmp(leave, skipped ? 2 : 1);
}

/* 0 ran to its end, 1 left by a failed cr_assert, 2 skipped */
static int run_one(const gc_test *t) {
    int r = setjmp(leave);
    if (r == 0) t->fn();
    return r;
}

static int parity(void) {
    int pass = 0, fail = 0, skip = 0;
    for (int i = 0; i < ntests; i++) {
        printf("[RUN ] %s::%s\n", tests[i].suite, tests[i].name);
        fflush(stdout);
        cur_failed = 0;
        int r = run_one(&tests[i]);
        if (r == 2) skip++;
        else if (cur_failed || r == 1) fail++, printf("[FAIL] %s::%s\n", tests[i].suite, tests[i].name);
        else pass++, printf("[ OK ] %s::%s\n", tests[i].suite, tests[i].name);
        fflush(stdout);
    }
    const char *p = getenv("CLIPBOOK_PRECISION");
    printf("parity_precision %s\nparity_passed %d\nparity_failed %d\nparity_skipped %d\n",
           p && *p ? p : "fp32", pass, fail, skip);
    return fail ? 1 : 0;
}

/* ---- bench ----------------------------------------------------------------- */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* median-free but warm: one untimed call, then reps timed as a block */
#define TIME(g, reps, stmt)                                                     \
    ({                                                                          \
        stmt;                                                                   \
        (g)->sync();                                                            \
        double t0_ = now();                                                     \
        for (int r_ = 0; r_ < (reps); r_++) stmt;                               \
        (g)->sync();                                                            \
        (now() - t0_) / (reps);                                                 \
    })

static float *dev_rand(const kn_backend *g, size_t n, unsigned seed) {
    float *h = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        h[i] = ((seed >> 8) / 16777216.0f - 0.5f);
    }
    float *d = g->alloc(n * sizeof(float));
    if (!d) {
        fprintf(stderr, "gpu_check: %s\n", kn_cuda_last_error());
        exit(1);
    }
    g->copy(d, h, n * sizeof(float), KN_COPY_H2D);
    free(h);
    return d;
}

static int bench(void) {
    const kn_backend *g = kn_cuda_backend();
    if (!g) {
        printf("skip: no CUDA device\n");
        return 0;
    }
    const char *precs[3] = {"fp32", "tf32", "bf16"};
    /* ceiling 1: a large square GEMM through the back end (= cuBLAS) */
    int n = 8192;
    float *A = dev_rand(g, (size_t)n * n, 1), *B = dev_rand(g, (size_t)n * n, 2),
          *C = dev_rand(g, (size_t)n * n, 3);
    for (int p = 0; p < 3; p++) {
        kn_cuda_set_precision(precs[p]);
        double t = TIME(g, 5, g->gemm(0, 0, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n));
        printf("gemm8192_%s_tflops %.1f\n", precs[p], 2.0 * n * n * (double)n / t / 1e12);
    }
    kn_cuda_set_precision("fp32");
    /* ceiling 2: device-to-device copy, 1 GiB */
    size_t nb = (size_t)1 << 30;
    void *s = g->alloc(nb), *d = g->alloc(nb);
    if (s && d) {
        double t = TIME(g, 10, g->copy(d, s, nb, KN_COPY_D2D));
        printf("d2d_copy_gbs %.0f\n", 2.0 * nb / t / 1e9); /* read + write */
    }
    g->free(s);
    g->free(d);
    g->free(A); g->free(B); g->free(C);
    /* CLIP ViT-B/32 at batch 256: one block's kernels */
    int Bt = 256, T = 50, W = 768, H = 12;
    size_t rows = (size_t)Bt * T;
    float *x = dev_rand(g, rows * W, 4), *y = dev_rand(g, rows * W, 5), *mean = dev_rand(g, rows, 6),
          *rstd = dev_rand(g, rows, 7), *qkv = dev_rand(g, rows * 3 * W, 8),
          *att = dev_rand(g, (size_t)Bt * H * T * T, 9), *w = dev_rand(g, (size_t)W * 4 * W, 10),
          *h4 = dev_rand(g, rows * 4 * W, 11);
    double t_ln = TIME(g, 20, g->layernorm_fwd(y, mean, rstd, x, NULL, NULL, (int64_t)rows, W, 1e-5f));
    printf("vit_b256_layernorm_us %.1f\nvit_b256_layernorm_gbs %.0f\n", 1e6 * t_ln, 2.0 * rows * W * 4 / t_ln / 1e9);
    double t_at = TIME(g, 20, g->attention_fwd(y, att, qkv, Bt, T, W, H, 0));
    printf("vit_b256_attention_fused_us %.1f\n", 1e6 * t_at);
    double t_gl = TIME(g, 20, g->unary_fwd(KN_U_QUICK_GELU, h4, h4, (int64_t)(rows * 4 * W), 0, 0));
    printf("vit_b256_quick_gelu_gbs %.0f\n", 2.0 * rows * 4 * W * 4 / t_gl / 1e9);
    for (int p = 0; p < 3; p++) {
        kn_cuda_set_precision(precs[p]);
        double t_mlp = TIME(g, 10, g->gemm(0, 1, (int)rows, 4 * W, W, 1.0f, x, W, w, W, 0.0f, h4, 4 * W));
        printf("vit_b256_mlp_fc_%s_tflops %.1f\n", precs[p], 2.0 * rows * 4 * W * W / t_mlp / 1e12);
    }
    kn_cuda_set_precision("fp32");
    g->free(x); g->free(y); g->free(mean); g->free(rstd); g->free(qkv); g->free(att); g->free(w); g->free(h4);
    /* RN50 at batch 256: a layer1 3x3 convolution (64 -> 64, 56x56) */
    int N = 256, Cc = 64, Hh = 56;
    float *ci = dev_rand(g, (size_t)N * Cc * Hh * Hh, 12), *cw = dev_rand(g, (size_t)Cc * Cc * 9, 13),
          *co = dev_rand(g, (size_t)N * Cc * Hh * Hh, 14);
    size_t ns = g->conv2d_scratch(N, Cc, Hh, Hh, Cc, 3, 3, 1, 1);
    float *cs = g->alloc(ns * sizeof(float));
    for (int p = 0; p < 3; p++) {
        kn_cuda_set_precision(precs[p]);
        double t_cv = TIME(g, 5, g->conv2d_fwd(co, cs, ci, cw, NULL, N, Cc, Hh, Hh, Cc, 3, 3, 1, 1));
        printf("rn50_b256_conv3x3_64_%s_tflops %.1f\n", precs[p],
               2.0 * N * Cc * Hh * Hh * Cc * 9 / t_cv / 1e12);
    }
    kn_cuda_set_precision("fp32");
    g->free(ci); g->free(cw); g->free(co); g->free(cs);
    size_t live, cached;
    kn_cuda_memory_stats(&live, &cached);
    printf("allocator_live_mib %.0f\nallocator_cached_mib %.0f\n", live / 1048576.0, cached / 1048576.0);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "parity";
    printf("cuda_built %d\ncuda_devices %d\n", kn_cuda_built(), kn_cuda_device_count());
    if (!strcmp(mode, "parity")) return parity();
    if (!strcmp(mode, "bench")) return bench();
    fprintf(stderr, "usage: gpu_check parity|bench\n");
    return 2;
}
