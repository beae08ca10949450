/* lab_rn_step — the mini profile's ResNet pre-training step (both towers
 * forward, contrastive loss, backward, AdamW) without data generation, for
 * timing and perf record (issue 17's budget: 750 of these are the mini
 * report's largest cost).
 *   lab_rn_step BATCH STEPS [vit]
 * vit: the mini ViT's step instead (width 64, 2 layers, patch 8).
 * prints the median and least wall seconds and the median CPU seconds per step after one warm-up step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_clip.h"
#include "en_error.h"
#include "en_machine.h"
#include "en_optim.h"
#include "en_pretrain.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    en_machine_install();
    int batch = argc > 1 ? atoi(argv[1]) : 256, steps = argc > 2 ? atoi(argv[2]) : 5;
    enum { CTX = 32, VOCAB = 600 };
    en_clip_config c = { .embed_dim = 64, .image_resolution = 32, .vision_vit = 0, .vision_layers = {1, 1, 1, 1},
                         .vision_width = 8, .context_length = CTX, .vocab_size = VOCAB,
                         .transformer_width = 64, .transformer_heads = 2, .transformer_layers = 2,
                         .resnet_stem_stride = 1, .resnet_stem_pool = 1 };
    if (argc > 3 && !strcmp(argv[3], "vit"))
        c = (en_clip_config){ .embed_dim = 64, .image_resolution = 32, .vision_vit = 1, .vision_layers = {2},
                              .vision_width = 64, .vision_patch_size = 8, .vision_heads = 2, .context_length = CTX,
                              .vocab_size = VOCAB, .transformer_width = 64, .transformer_heads = 2,
                              .transformer_layers = 2 };
    en_clip_config_finish(&c);
    en_rng r;
    en_rng_seed(&r, 0);
    en_clip *m = en_clip_new(&c, &r);
    if (!m) { fprintf(stderr, "lab_rn_step: %s\n", en_error_msg()); return 1; }
    en_params *p = en_clip_params(m);
    en_adamw opt;
    en_adamw_init(&opt, (size_t)en_params_numel(p), NULL, 2e-3, 0.9, 0.98, 1e-6, 0.2);
    en_tensor *x = en_tensor_randn(EN_DIMS(batch, 3, 32, 32), &r, 0, 1);
    int64_t *tok = calloc((size_t)batch * CTX, sizeof *tok);
    for (int i = 0; i < batch; i++) {
        int len = 6 + i % 10;
        tok[i * CTX] = VOCAB - 2;
        for (int k = 1; k <= len; k++) tok[i * CTX + k] = (i * 7 + k * 13) % (VOCAB - 2);
        tok[i * CTX + len + 1] = VOCAB - 1;
    }
    en_tensor *tk = en_tensor_from_i64(EN_DIMS(batch, CTX), tok);
    free(tok);
    double *t = malloc((size_t)(steps + 1) * sizeof *t), *cpu = malloc((size_t)(steps + 1) * sizeof *cpu);
    for (int i = 0; i <= steps; i++) {
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        en_tensor *fi = en_clip_encode_image(m, x), *ft = en_clip_encode_text(m, tk);
        en_tensor *loss = fi && ft ? en_clip_contrastive_loss(fi, ft, en_clip_logit_scale(m)) : NULL;
        if (!loss) { fprintf(stderr, "lab_rn_step: %s\n", en_error_msg()); return 1; }
        en_params_zero_grad(p);
        en_backward(loss);
        en_adamw_step_flat(&opt, en_params_data(p), en_params_grad(p), (size_t)en_params_numel(p));
        en_tensor_release(fi); en_tensor_release(ft); en_tensor_release(loss);
        t[i] = clock_s(CLOCK_MONOTONIC) - t0;
        cpu[i] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    qsort(t + 1, (size_t)steps, sizeof *t, cmp);
    qsort(cpu + 1, (size_t)steps, sizeof *cpu, cmp);
    printf("{\"median_s\": %.4f, \"min_s\": %.4f, \"per_s\": %.1f, \"cpu_s\": %.4f}\n", t[1 + steps / 2], t[1],
           batch / t[1 + steps / 2], cpu[1 + steps / 2]);
    free(t); free(cpu);
    en_tensor_release(x); en_tensor_release(tk);
    en_adamw_free(&opt);
    en_clip_free(m);
    return 0;
}
