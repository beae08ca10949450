/* gpu_check — the GPU machine's test and benchmark program (make gpu-check;
 * tests/gpu/check.sh runs it). It links the engine's kernels and the CUDA
 * back end, no Lua, cairo, pango or Criterion, so it runs where only the CUDA
 * toolkit is installed.
 *
 *   gpu_check parity        the parity tests of tests/cuda/test_cuda.c
 *                           (CLIPBOOK_PRECISION picks the GEMM math)
 *   gpu_check bench         kernel timings at CLIP's batch-256 shapes and
 *                           the ceilings: a large cuBLAS GEMM and a D2D copy
 *   gpu_check encoders      the engine's whole image encoders on the device
 *                           (random-weight ViT-B/32 and RN50, batch 256,
 *                           fp32/tf32/bf16): images/s, features back on
 *                           the host
 *   gpu_check train         one training step of the mini towers on the
 *                           device (tests/gpu/torch_bench.py's model and
 *                           batch 256: both towers, the contrastive loss,
 *                           backward, AdamW), fp32, milliseconds
 *
 * Output: human lines, then `key value` lines that check.sh collects; the
 * exit status is 0 when every test passed (or all were skipped: no GPU).
 *
 * For profiling (check.sh runs these under ncu): GC_MODELS=vit_b32,rn50 and
 * GC_PRECS=fp32,tf32,bf16 pick what `encoders` runs; GC_PROFILE=1 brackets
 * the last timed batch (encoders) or step (train) with cudaProfilerStart /
 * Stop, so `ncu --profile-from-start off` sees exactly one of them. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_autograd.h"
#include "en_clip.h"
#include "en_device.h"
#include "en_error.h"
#include "en_optim.h"
#include "en_tensor.h"
#include "kn_backend.h"
#include "../cuda/cu_util.h"

/* cuda_profiler_api.h's two calls (cudaError_t is an int-sized enum) */
extern int cudaProfilerStart(void);
extern int cudaProfilerStop(void);

static int listed(const char *env, const char *name) {
    const char *v = getenv(env);
    if (!v || !*v) return 1;
    size_t n = strlen(name);
    for (const char *p = v; (p = strstr(p, name)); p += n)
        if ((p == v || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}
static int profiling(void) {
    const char *v = getenv("GC_PROFILE");
    return v && *v && *v != '0';
}

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
    /* RN50's convolutions at batch 256, forward by both output paths
     * (kn_cuda_conv.cu: "swap" and "direct") and backward, fp32 and tf32 */
    static const struct { const char *key; int C, H, OC, K, S, P; } cv[] = {
        {"stem2_32x112", 32, 112, 32, 3, 1, 1},    {"l1_3x3_64x56", 64, 56, 64, 3, 1, 1},
        {"l1_1x1_64to256x56", 64, 56, 256, 1, 1, 0}, {"l3_3x3_256x14", 256, 14, 256, 3, 1, 1},
        {"l4_3x3_512x7", 512, 7, 512, 3, 1, 1},
    };
    for (size_t k = 0; k < sizeof cv / sizeof cv[0]; k++) {
        int C = cv[k].C, H = cv[k].H, OC = cv[k].OC, KK = cv[k].K, S = cv[k].S, P = cv[k].P;
        int OH = (H + 2 * P - KK) / S + 1;
        size_t nx = (size_t)N * C * H * H, ny = (size_t)N * OC * OH * OH;
        float *x = dev_rand(g, nx, 20), *w = dev_rand(g, (size_t)OC * C * KK * KK, 21), *y = dev_rand(g, ny, 22),
              *dy = dev_rand(g, ny, 23), *dx = dev_rand(g, nx, 24), *dw = dev_rand(g, (size_t)OC * C * KK * KK, 25);
        size_t nsc = g->conv2d_scratch(N, C, H, H, OC, KK, KK, S, P);
        float *sc = g->alloc(nsc * sizeof(float));
        double fl = 2.0 * N * OC * OH * OH * (double)C * KK * KK;
        for (int p = 0; p < 2; p++) {
            kn_cuda_set_precision(precs[p]);
            const char *modes[2] = {"swap", "direct"};
            for (int m = 0; m < 2; m++) {
                kn_cuda_conv_out_mode(modes[m]);
                double t = TIME(g, 5, g->conv2d_fwd(y, sc, x, w, NULL, N, C, H, H, OC, KK, KK, S, P));
                printf("conv_%s_fwd_%s_%s_tflops %.1f\n", cv[k].key, modes[m], precs[p], fl / t / 1e12);
            }
            kn_cuda_conv_out_mode("swap");
            double t = TIME(g, 3, g->conv2d_bwd(dx, dw, NULL, sc, dy, x, w, N, C, H, H, OC, KK, KK, S, P, 0));
            printf("conv_%s_bwd_%s_tflops %.1f\n", cv[k].key, precs[p], 2.0 * fl / t / 1e12);
        }
        kn_cuda_set_precision("fp32");
        g->free(x); g->free(w); g->free(y); g->free(dy); g->free(dx); g->free(dw); g->free(sc);
    }
    size_t live, cached;
    kn_cuda_memory_stats(&live, &cached);
    printf("allocator_live_mib %.0f\nallocator_cached_mib %.0f\n", live / 1048576.0, cached / 1048576.0);
    return 0;
}

/* ---- encoders ------------------------------------------------------------ */
/* one model on the device, images already there (as a loader would keep
 * them), features copied back each batch: one warm-up batch, then the
 * median of 5 */
static void encoder_bench(const char *key, en_clip_config c) {
    if (!listed("GC_MODELS", key)) return;
    en_clip_config_finish(&c);
    en_rng r;
    en_rng_seed(&r, 1);
    en_clip *m = en_clip_new(&c, &r);
    if (!m || en_clip_to(m, EN_CUDA) != 0) {
        printf("encoders: %s: %s\n", key, en_error_msg());
        en_clip_free(m);
        return;
    }
    int B = 256, R = c.image_resolution;
    en_tensor *h = en_tensor_randn(EN_DIMS(B, 3, R, R), &r, 0, 1), *x = en_tensor_to(h, EN_CUDA);
    en_tensor_release(h);
    if (!x) {
        printf("encoders: %s: %s\n", key, en_error_msg());
        en_clip_free(m);
        return;
    }
    const char *precs[3] = {"fp32", "tf32", "bf16"};
    for (int p = 0; p < 3; p++) {
        if (!listed("GC_PRECS", precs[p])) continue;
        kn_cuda_set_precision(precs[p]);
        double t[6];
        for (int k = 0; k < 6; k++) {
            if (k == 5 && profiling()) cudaProfilerStart();
            double t0 = now();
            en_tensor *f = en_clip_encode_image(m, x), *fh = f ? en_tensor_cpu(f) : NULL;
            t[k] = now() - t0;
            if (k == 5 && profiling()) cudaProfilerStop();
            if (!f) printf("encoders: %s: %s\n", key, en_error_msg());
            en_tensor_release(f);
            en_tensor_release(fh);
        }
        for (int i = 1; i < 6; i++) /* sort the 5 timed runs */
            for (int j = i + 1; j < 6; j++)
                if (t[j] < t[i]) { double u = t[i]; t[i] = t[j]; t[j] = u; }
        printf("engine_%s_b256_%s_img_s %.0f\n", key, precs[p], B / t[3]);
        fflush(stdout);
    }
    kn_cuda_set_precision("fp32");
    char rep[256];
    printf("encoders: %s: %s\n", key, en_device_report(rep, sizeof rep));
    en_tensor_release(x);
    en_clip_free(m);
}

static int encoders(void) {
    if (!kn_cuda_backend()) {
        printf("skip: no CUDA device\n");
        return 0;
    }
    int prev = en_grad_set_enabled(0);
    encoder_bench("vit_b32", (en_clip_config){.embed_dim = 512, .image_resolution = 224, .vision_vit = 1,
                                              .vision_layers = {12}, .vision_width = 768,
                                              .vision_patch_size = 32, .context_length = 77,
                                              .vocab_size = 49408, .transformer_width = 512,
                                              .transformer_heads = 8, .transformer_layers = 12});
    encoder_bench("rn50", (en_clip_config){.embed_dim = 1024, .image_resolution = 224, .vision_vit = 0,
                                           .vision_layers = {3, 4, 6, 3}, .vision_width = 64,
                                           .context_length = 77, .vocab_size = 49408,
                                           .transformer_width = 512, .transformer_heads = 8,
                                           .transformer_layers = 12, .resnet_stem_stride = 2,
                                           .resnet_stem_pool = 2});
    en_grad_set_enabled(prev);
    return 0;
}

/* torch_bench.py's mini training step: CLIP(128, 32, 4, 128, 4, 2, 32, 1024,
 * 128, 2, 3), AdamW (5e-4, (0.9, 0.98), 1e-6, 0.2), batch 256, end token at
 * position 20; the median of 10 steps after one warm-up, each ending in a
 * sync (the loss read back). */
static int train(void) {
    if (!kn_cuda_backend()) {
        printf("skip: no CUDA device\n");
        return 0;
    }
    enum { B = 256, CTX = 32, VOCAB = 1024, REPS = 10 };
    en_clip_config c = {.embed_dim = 128, .image_resolution = 32, .vision_vit = 1, .vision_layers = {4},
                        .vision_width = 128, .vision_patch_size = 4, .vision_heads = 2, .context_length = CTX,
                        .vocab_size = VOCAB, .transformer_width = 128, .transformer_heads = 2,
                        .transformer_layers = 3};
    en_clip_config_finish(&c);
    en_rng r;
    en_rng_seed(&r, 0);
    en_clip *m = en_clip_new(&c, &r);
    if (!m || en_clip_to(m, EN_CUDA) < 0) {
        printf("train: %s\n", en_error_msg());
        en_clip_free(m);
        return 1;
    }
    en_params *p = en_clip_params(m);
    size_t n = (size_t)en_params_numel(p);
    en_adamw o;
    if (en_adamw_init(&o, n, NULL, 5e-4, 0.9, 0.98, 1e-6, 0.2) < 0 || en_adamw_to(&o, EN_CUDA) < 0) {
        printf("train: %s\n", en_error_msg());
        en_clip_free(m);
        return 1;
    }
    en_tensor *h = en_tensor_randn(EN_DIMS(B, 3, 32, 32), &r, 0, 1), *x = en_tensor_to(h, EN_CUDA);
    en_tensor_release(h);
    int64_t *ids = malloc((size_t)B * CTX * sizeof *ids);
    if (!ids || !x) {
        printf("train: %s\n", x ? "out of memory" : en_error_msg());
        free(ids);
        return 1;
    }
    for (int i = 0; i < B * CTX; i++) ids[i] = (int64_t)en_rng_below(&r, VOCAB - 2);
    for (int i = 0; i < B; i++) ids[i * CTX + 20] = VOCAB - 1;
    en_tensor *tok = en_tensor_from_i64(EN_DIMS(B, CTX), ids);
    free(ids);
    en_clip_set_train(m, 1);
    double t[REPS + 1];
    float lv = 0;
    for (int k = 0; k <= REPS; k++) {
        if (k == REPS && profiling()) cudaProfilerStart();
        double t0 = now();
        en_tensor *fi = en_clip_encode_image(m, x), *ft = en_clip_encode_text(m, tok);
        en_tensor *loss = fi && ft ? cu_contrastive_loss(fi, ft, en_clip_logit_scale(m)) : NULL;
        if (!loss) {
            printf("train: %s\n", en_error_msg());
            return 1;
        }
        en_params_zero_grad(p);
        en_backward(loss);
        en_seg all = {en_params_data_on(p), en_params_grad_on(p), n};
        en_adamw_step(&o, &all, 1);
        lv = en_tensor_item(loss); /* waits for the step */
        t[k] = now() - t0;
        if (k == REPS && profiling()) cudaProfilerStop();
        en_tensor_release(fi);
        en_tensor_release(ft);
        en_tensor_release(loss);
    }
    for (int i = 1; i <= REPS; i++) /* sort the timed steps */
        for (int j = i + 1; j <= REPS; j++)
            if (t[j] < t[i]) { double u = t[i]; t[i] = t[j]; t[j] = u; }
    char rep[256];
    printf("train: mini towers, batch %d, loss after %d steps %.4f; %s\n", B, REPS + 1, lv,
           en_device_report(rep, sizeof rep));
    printf("engine_train_mini_b%d_step_ms %.2f\n", B, 1e3 * t[1 + REPS / 2]);
    en_tensor_release(x);
    en_tensor_release(tok);
    en_adamw_free(&o);
    en_clip_free(m);
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "parity";
    printf("cuda_built %d\ncuda_devices %d\n", kn_cuda_built(), kn_cuda_device_count());
    /* the engine's default device, as a chapter on this machine would have
     * it (the reports below name it) */
    if (kn_cuda_device_count() > 0 && en_device_select("cuda") < 0)
        printf("device: %s\n", en_error_msg());
    if (!strcmp(mode, "parity")) return parity();
    if (!strcmp(mode, "bench")) return bench();
    if (!strcmp(mode, "encoders")) return encoders();
    if (!strcmp(mode, "train")) return train();
    fprintf(stderr, "usage: gpu_check parity|bench|encoders|train\n");
    return 2;
}
