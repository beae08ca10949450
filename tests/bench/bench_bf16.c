/* bench_bf16 — BF16 against float32 image features (issue 16): a full-size
 * ViT-B/32 (224 px, patch 32, width 768, 12 layers, embed 512) with OpenAI's
 * random initialisation, batch 32 through en_clip_encode_images_precision at
 * both precisions, alternating, RUNS times; prints images/s (median) for
 * each and the worst and median cosine of bf16 against float32 features.
 * Random weights, not OpenAI's (none are reachable here): the cosine is of
 * this tower's features. A CPU without AVX512_BF16 prints why and exits 0.
 *
 *   bench_bf16 [threads] [runs]
 * Output lines "key value" for tests/bench/bench_bf16.sh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_machine.h"
#include "en_bf16.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_rng.h"
#include "en_tensor.h"
#include "kn_bf16.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, runs = argc > 2 ? atoi(argv[2]) : 3;
    if (runs > 16) runs = 16;
    en_set_num_threads(threads);
    en_machine_install();
    if (!kn_bf16_available()) { printf("bf16_skipped %s\n", en_bf16_unavailable()); return 0; }
    en_clip_config c = {0};
    c.embed_dim = 512; c.image_resolution = 224; c.vision_vit = 1; c.vision_layers[0] = 12;
    c.vision_width = 768; c.vision_patch_size = 32; c.context_length = 77; c.vocab_size = 49408;
    c.transformer_width = 512; c.transformer_heads = 8; c.transformer_layers = 1;
    en_clip_config_finish(&c);
    en_rng r;
    en_rng_seed(&r, 16);
    en_clip *m = en_clip_new(&c, &r);
    if (!m) { fprintf(stderr, "bench_bf16: %s\n", en_error_msg()); return 1; }
    enum { B = 32, E = 512 };
    size_t px = (size_t)3 * 224 * 224;
    float *x = malloc(sizeof(float) * B * px), *f32 = malloc(sizeof(float) * B * E), *b16 = malloc(sizeof(float) * B * E);
    for (size_t i = 0; i < B * px; i++) x[i] = en_rng_uniform(&r);
    double tf[16], tb[16];
    for (int it = -1; it < runs; it++) { /* -1: warm-up */
        double t0 = now();
        en_clip_encode_images_precision(m, x, B, 0, B, 0, EN_PREC_FP32, f32);
        double t1 = now();
        en_clip_encode_images_precision(m, x, B, 0, B, 0, EN_PREC_BF16, b16);
        double t2 = now();
        if (it >= 0) { tf[it] = B / (t1 - t0); tb[it] = B / (t2 - t1); }
    }
    double cs[B];
    for (int i = 0; i < B; i++) {
        double d = 0, a = 0, b = 0;
        for (int k = 0; k < E; k++) {
            double u = f32[i * E + k], v = b16[i * E + k];
            d += u * v; a += u * u; b += v * v;
        }
        cs[i] = d / sqrt(a * b);
    }
    qsort(tf, (size_t)runs, sizeof(double), cmp);
    qsort(tb, (size_t)runs, sizeof(double), cmp);
    qsort(cs, B, sizeof(double), cmp);
    printf("bf16_fp32_img_s %.3f\nbf16_bf16_img_s %.3f\nbf16_cos_min %.6f\nbf16_cos_median %.6f\n", tf[runs / 2],
           tb[runs / 2], cs[0], cs[B / 2]);
    free(x); free(f32); free(b16);
    en_clip_free(m);
    return 0;
}
