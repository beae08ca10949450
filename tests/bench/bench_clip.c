/* bench_clip — CLIP encoder throughput with random weights at OpenAI's
 * sizes: ViT-B/32 and RN50 image towers (224 x 224) and the text tower.
 *   bench_clip vit|rn50|text BATCH REPEATS
 * prints {"median_s": per batch, "per_s": items per second}.
 * BENCH_CLOCK=cpu: process CPU time (one thread on a loaded machine);
 * KN_CONV_WINO=0: 3x3 convolutions without Winograd (kernel lab A/B). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_machine.h"
#include "en_clip.h"
#include "en_error.h"
#include "kn_conv.h"

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    en_machine_install(); /* the paths clipbook takes on this machine (engine/en_machine.h) */
    if (argc < 4) { fprintf(stderr, "usage: bench_clip vit|rn50|text BATCH REPEATS\n"); return 2; }
    const char *which = argv[1], *ck = getenv("BENCH_CLOCK"), *wino = getenv("KN_CONV_WINO");
    if (ck && !strcmp(ck, "cpu")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    if (wino && !strcmp(wino, "0")) kn_conv_set_wino(0);
    int batch = atoi(argv[2]), reps = atoi(argv[3]);
    en_clip_config c = { .embed_dim = 512, .image_resolution = 224, .vision_vit = 1, .vision_layers = {12},
                         .vision_width = 768, .vision_patch_size = 32, .context_length = 77,
                         .vocab_size = 49408, .transformer_width = 512, .transformer_heads = 8,
                         .transformer_layers = 12 };
    if (!strcmp(which, "rn50")) {
        c.embed_dim = 1024; c.vision_vit = 0; c.vision_width = 64; c.vision_patch_size = 0;
        c.vision_layers[0] = 3; c.vision_layers[1] = 4; c.vision_layers[2] = 6; c.vision_layers[3] = 3;
    }
    en_rng r;
    en_rng_seed(&r, 0);
    en_clip *m = en_clip_new(&c, &r);
    if (!m) { fprintf(stderr, "bench_clip: %s\n", en_error_msg()); return 1; }
    en_grad_set_enabled(0);
    en_tensor *x;
    if (!strcmp(which, "text")) {
        /* prompts like "a photo of a {class}.": sot, 6-9 tokens, eot, padding */
        int64_t *tok = calloc((size_t)batch * 77, sizeof *tok);
        for (int i = 0; i < batch; i++) {
            int len = 6 + i % 4;
            tok[i * 77] = 49406;
            for (int k = 1; k <= len; k++) tok[i * 77 + k] = 320 + (i * 7 + k * 13) % 5000;
            tok[i * 77 + len + 1] = 49407;
        }
        x = en_tensor_from_i64(EN_DIMS(batch, 77), tok);
        free(tok);
    } else {
        x = en_tensor_randn(EN_DIMS(batch, 3, 224, 224), &r, 0, 1);
    }
    double *t = malloc((size_t)(reps + 1) * sizeof *t);
    for (int i = 0; i <= reps; i++) { /* the first run warms caches and page tables */
        double t0 = now();
        en_tensor *f = !strcmp(which, "text") ? en_clip_encode_text(m, x) : en_clip_encode_image(m, x);
        if (!f) { fprintf(stderr, "bench_clip: %s\n", en_error_msg()); return 1; }
        en_tensor_release(f);
        t[i] = now() - t0;
    }
    qsort(t + 1, (size_t)reps, sizeof *t, cmp);
    double med = t[1 + reps / 2];
    printf("{\"median_s\": %.4f, \"per_s\": %.3f}\n", med, batch / med);
    en_tensor_release(x);
    en_clip_free(m);
    free(t);
    return 0;
}
