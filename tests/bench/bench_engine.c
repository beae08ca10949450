/* bench_engine — the engine's speed on GEMM-bound layers and on a
 * ViT-B/32-shaped image-encoder forward (random weights).
 *
 *   bench_engine [threads] [vit_iters] [all|gemm|vit|vit-heap]
 *
 * Prints `key value` lines for tests/bench/bench_engine.sh:
 *   gemm_<shape>_engine / gemm_<shape>_raw   GFLOP/s (median of repeats)
 *   vit_img_s                                images/s (median of iters)
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_machine.h"
#include "en_autograd.h"
#include "en_error.h"
#include "en_ops.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- GEMM: en_linear against raw cblas_sgemm on the same shapes ---------- */
static void bench_gemm(const char *name, int M, int K, int N, en_arena *ar) {
    en_rng r;
    en_rng_seed(&r, 1);
    en_tensor *x = en_tensor_randn(EN_DIMS(M, K), &r, 0, 1);
    en_tensor *w = en_tensor_randn(EN_DIMS(N, K), &r, 0, 0.02f);
    float *c = aligned_alloc(64, (size_t)M * N * sizeof(float));
    memset(c, 0, (size_t)M * N * sizeof(float));
    double flop = 2.0 * M * N * K, raw[9], eng[9];
    for (int rep = -1; rep < 9; rep++) { /* rep -1 warms both up */
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, en_tensor_f32(x), K,
                    en_tensor_f32(w), K, 0.0f, c, N);
        double t1 = now();
        en_arena_begin(ar);
        en_tensor *y = en_linear(x, w, NULL);
        en_tensor_release(y);
        en_arena_end(ar);
        en_arena_reset(ar);
        double t2 = now();
        if (rep >= 0) {
            raw[rep] = flop / (t1 - t0) * 1e-9;
            eng[rep] = flop / (t2 - t1) * 1e-9;
        }
    }
    printf("gemm_%s_raw %.2f\n", name, median(raw, 9));
    printf("gemm_%s_engine %.2f\n", name, median(eng, 9));
    fflush(stdout);
    free(c);
    en_tensor_release(x);
    en_tensor_release(w);
}

/* ---- ViT-B/32 image encoder ------------------------------------------------ */
enum { WIDTH = 768, LAYERS = 12, HEADS = 12, PATCH = 32, RES = 224, OUT = 512 };
#define GRID (RES / PATCH)
#define TOK (GRID * GRID + 1)

typedef struct {
    en_tensor *ln1_w, *ln1_b, *in_w, *in_b, *out_w, *out_b, *ln2_w, *ln2_b, *fc_w, *fc_b, *pj_w, *pj_b;
} block;

typedef struct {
    en_params *p;
    en_tensor *conv1, *cls, *pos, *lnpre_w, *lnpre_b, *lnpost_w, *lnpost_b, *proj;
    block b[LAYERS];
} vit;

static en_tensor *padd(vit *m, en_rng *r, const char *name, int nd, const int64_t *shape, float std,
                       float fill) {
    en_tensor *t = en_params_add(m->p, name, nd, shape);
    if (std > 0) /* uniform with that std: quicker to draw than normals */
        en_rng_fill_uniform(r, en_tensor_f32(t), (size_t)en_tensor_numel(t), -1.732f * std, 1.732f * std);
    else en_tensor_fill_(t, fill);
    return t;
}

static void vit_init(vit *m) {
    en_rng r;
    en_rng_seed(&r, 7);
    m->p = en_params_new();
    char n[64];
    m->conv1 = padd(m, &r, "conv1.weight", EN_DIMS(WIDTH, 3 * PATCH * PATCH), 0.02f, 0);
    m->cls = padd(m, &r, "class_embedding", EN_DIMS(WIDTH), 0.02f, 0);
    m->pos = padd(m, &r, "positional_embedding", EN_DIMS(TOK, WIDTH), 0.02f, 0);
    m->lnpre_w = padd(m, &r, "ln_pre.weight", EN_DIMS(WIDTH), 0, 1);
    m->lnpre_b = padd(m, &r, "ln_pre.bias", EN_DIMS(WIDTH), 0, 0);
    for (int l = 0; l < LAYERS; l++) {
        block *b = &m->b[l];
#define P(field, key, ...) \
    (snprintf(n, sizeof n, "resblocks.%d." key, l), b->field = padd(m, &r, n, __VA_ARGS__))
        P(ln1_w, "ln_1.weight", EN_DIMS(WIDTH), 0, 1);
        P(ln1_b, "ln_1.bias", EN_DIMS(WIDTH), 0, 0);
        P(in_w, "attn.in_proj_weight", EN_DIMS(3 * WIDTH, WIDTH), 0.02f, 0);
        P(in_b, "attn.in_proj_bias", EN_DIMS(3 * WIDTH), 0, 0);
        P(out_w, "attn.out_proj.weight", EN_DIMS(WIDTH, WIDTH), 0.02f, 0);
        P(out_b, "attn.out_proj.bias", EN_DIMS(WIDTH), 0, 0);
        P(ln2_w, "ln_2.weight", EN_DIMS(WIDTH), 0, 1);
        P(ln2_b, "ln_2.bias", EN_DIMS(WIDTH), 0, 0);
        P(fc_w, "mlp.c_fc.weight", EN_DIMS(4 * WIDTH, WIDTH), 0.02f, 0);
        P(fc_b, "mlp.c_fc.bias", EN_DIMS(4 * WIDTH), 0, 0);
        P(pj_w, "mlp.c_proj.weight", EN_DIMS(WIDTH, 4 * WIDTH), 0.02f, 0);
        P(pj_b, "mlp.c_proj.bias", EN_DIMS(WIDTH), 0, 0);
#undef P
    }
    m->lnpost_w = padd(m, &r, "ln_post.weight", EN_DIMS(WIDTH), 0, 1);
    m->lnpost_b = padd(m, &r, "ln_post.bias", EN_DIMS(WIDTH), 0, 0);
    m->proj = padd(m, &r, "proj", EN_DIMS(WIDTH, OUT), 0.02f, 0);
}

/* Releases `old` and returns `new`: keeps the forward readable. */
static en_tensor *step(en_tensor *old, en_tensor *new) {
    en_tensor_release(old);
    if (!new) {
        fprintf(stderr, "bench_engine: %s\n", en_error_msg());
        exit(1);
    }
    return new;
}

/* img (B, 3, 224, 224) -> (B, 512) */
static en_tensor *vit_forward(vit *m, en_tensor *img) {
    int64_t B = img->shape[0];
    /* the patch conv (stride = kernel = 32) is a reshape + matmul */
    en_tensor *x = en_reshape(img, EN_DIMS(B, 3, GRID, PATCH, GRID, PATCH));
    x = step(x, en_permute(x, (int[]){0, 2, 4, 1, 3, 5}));
    x = step(x, en_reshape(x, EN_DIMS(B * GRID * GRID, 3 * PATCH * PATCH)));
    x = step(x, en_linear(x, m->conv1, NULL));
    x = step(x, en_reshape(x, EN_DIMS(B, GRID * GRID, WIDTH)));
    en_tensor *c = en_reshape(m->cls, EN_DIMS(1, 1, WIDTH));
    c = step(c, en_expand(c, EN_DIMS(B, 1, WIDTH)));
    x = step(x, en_concat(2, (en_tensor *[]){c, x}, 1));
    en_tensor_release(c);
    x = step(x, en_add(x, m->pos));
    x = step(x, en_layer_norm(x, m->lnpre_w, m->lnpre_b, 1e-5f));
    for (int l = 0; l < LAYERS; l++) {
        block *b = &m->b[l];
        en_tensor *h = en_layer_norm(x, b->ln1_w, b->ln1_b, 1e-5f);
        h = step(h, en_mha(h, b->in_w, b->in_b, b->out_w, b->out_b, HEADS, 0));
        x = step(x, en_add(x, h));
        h = step(h, en_layer_norm(x, b->ln2_w, b->ln2_b, 1e-5f));
        h = step(h, en_linear(h, b->fc_w, b->fc_b));
        h = step(h, en_quick_gelu(h));
        h = step(h, en_linear(h, b->pj_w, b->pj_b));
        x = step(x, en_add(x, h));
        en_tensor_release(h);
    }
    x = step(x, en_select(x, 1, 0));
    x = step(x, en_layer_norm(x, m->lnpost_w, m->lnpost_b, 1e-5f));
    return step(x, en_matmul(x, m->proj));
}

static void bench_vit(int B, int iters, int use_arena) {
    vit m;
    vit_init(&m);
    en_rng r;
    en_rng_seed(&r, 3);
    en_tensor *img = en_tensor_uniform(EN_DIMS(B, 3, RES, RES), &r, -1.7f, 1.7f);
    en_tensor *out = en_tensor_empty(EN_DIMS(B, OUT));
    en_arena *ar = en_arena_new((size_t)256 << 20);
    double t[32], cpu[32];
    if (iters > 32) iters = 32;
    for (int it = -1; it < iters; it++) { /* it -1: warm-up (arena grows) */
        double t0 = now(), c0 = cpu_now();
        if (use_arena) en_arena_begin(ar);
        en_tensor *y = vit_forward(&m, img);
        en_tensor_copy_(out, y);
        if (use_arena) {
            en_arena_end(ar);
            en_arena_reset(ar);
        } else {
            en_tensor_release(y);
        }
        double dt = now() - t0;
        if (it >= 0) {
            t[it] = B / dt;
            cpu[it] = (cpu_now() - c0) / B;
        }
        fprintf(stderr, "vit iter %d: %.3f s (%.2f img/s)\n", it, dt, B / dt);
    }
    printf("vit_img_s %.3f\n", median(t, iters));
    printf("vit_cpu_ms_per_img %.1f\n", 1e3 * median(cpu, iters));
    printf("vit_arena_mb %.1f\n", en_arena_capacity(ar) / 1048576.0);
    printf("vit_checksum %.6f\n", en_tensor_f32(out)[0]);
    en_arena_free(ar);
    en_tensor_release(img);
    en_tensor_release(out);
    en_params_free(m.p);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, iters = argc > 2 ? atoi(argv[2]) : 5;
    const char *only = argc > 3 ? argv[3] : "all";
    en_set_num_threads(threads);
    en_machine_install(); /* the paths clipbook takes on this machine (engine/en_machine.h) */
    en_grad_set_enabled(0);
    printf("threads %d\n", threads);
    if (strcmp(only, "vit") != 0) {
        en_arena *ar = en_arena_new((size_t)64 << 20);
        bench_gemm("qkv_1600x768x2304", 1600, 768, 2304, ar);
        bench_gemm("fc_1600x768x3072", 1600, 768, 3072, ar);
        bench_gemm("proj_1600x3072x768", 1600, 3072, 768, ar);
        bench_gemm("out_1600x768x768", 1600, 768, 768, ar);
        bench_gemm("patch_1568x3072x768", 1568, 3072, 768, ar);
        en_arena_free(ar);
    }
    /* "vit-heap": the same forward without an arena (heap tensors, freed
     * as they go), to measure what the arena buys */
    if (strcmp(only, "gemm") != 0) bench_vit(32, iters, strcmp(only, "vit-heap") != 0);
    return 0;
}
