/* bench_train — one CLIP pre-training step (forward of both towers, the
 * symmetric contrastive loss, backward, AdamW) on a small model: ViT width
 * 128, 4 layers, 32x32 inputs, patch 4; text transformer width 128, 3
 * layers, context 32; embed 128; batch 256 (issue 2, "Speed").
 *   bench_train BATCH REPEATS [STEPS_ONLY]
 * prints {"median_s", "per_s", "cpu_s"} per step (CPU seconds of all
 * threads, the steadier figure on a shared machine). With STEPS_ONLY > 0 it
 * just runs that many steps (for perf record).
 *   bench_train pretrain STEPS
 * runs en_pretrain_run (data generation included) on the same model for
 * STEPS steps and prints {"per_s", "data_s"}: images/s of the whole loop,
 * and the seconds per step spent making the batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_machine.h"
#include "en_bpe.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_optim.h"
#include "en_pretrain.h"
#include "en_shapes.h"
#include <unistd.h>

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Forward, loss, backward, AdamW: the step of en_pretrain_run without the
 * data generation. */
static float train_step(en_clip *m, en_adamw *opt, en_tensor *x, en_tensor *tk) {
    en_params *p = en_clip_params(m);
    en_tensor *fi = en_clip_encode_image(m, x), *ft = en_clip_encode_text(m, tk);
    en_tensor *loss = fi && ft ? en_clip_contrastive_loss(fi, ft, en_clip_logit_scale(m)) : NULL;
    if (!loss) { fprintf(stderr, "bench_train: %s\n", en_error_msg()); exit(1); }
    float lv = en_tensor_item(loss);
    en_params_zero_grad(p);
    en_backward(loss);
    en_adamw_step_flat(opt, en_params_data(p), en_params_grad(p), (size_t)en_params_numel(p));
    en_tensor_release(fi); en_tensor_release(ft); en_tensor_release(loss);
    return lv;
}

static int bench_pretrain(int steps) {
    char path[] = "/tmp/cb_bench_vocab_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    enum { NCAP = 2000 };
    static char caps[NCAP][256];
    const char *texts[NCAP];
    for (int i = 0; i < NCAP; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 1, EN_SPLIT_PRETRAIN, (uint64_t)i);
        en_shapes_caption(&sc, 0, caps[i], sizeof caps[i], NULL);
        texts[i] = caps[i];
    }
    if (en_bpe_train(texts, NCAP, 500, path) < 0) { fprintf(stderr, "bench_train: %s\n", en_error_msg()); return 1; }
    en_bpe *b = en_bpe_load(path, -1);
    unlink(path);
    if (!b) { fprintf(stderr, "bench_train: %s\n", en_error_msg()); return 1; }
    en_pretrain_cfg c = {0};
    c.model = (en_clip_config){ .embed_dim = 128, .image_resolution = 32, .vision_vit = 1, .vision_layers = {4},
                                .vision_width = 128, .vision_patch_size = 4, .context_length = 32,
                                .vocab_size = en_bpe_vocab_size(b), .transformer_width = 128,
                                .transformer_layers = 3 };
    en_clip_config_finish(&c.model);
    c.steps = steps; c.batch = 256; c.seed = 1;
    en_pretrain_result r;
    if (en_pretrain_run(&c, b, &r) < 0) { fprintf(stderr, "bench_train: %s\n", en_error_msg()); return 1; }
    printf("{\"per_s\": %.3f, \"data_s\": %.4f}\n", r.images_per_s, r.data_s / steps);
    en_pretrain_result_free(&r);
    en_bpe_free(b);
    return 0;
}

int main(int argc, char **argv) {
    en_machine_install(); /* the paths clipbook takes on this machine (engine/en_machine.h) */
    if (argc >= 3 && !strcmp(argv[1], "pretrain")) return bench_pretrain(atoi(argv[2]));
    if (argc < 3) { fprintf(stderr, "usage: bench_train BATCH REPEATS [STEPS_ONLY]\n"); return 2; }
    int batch = atoi(argv[1]), reps = atoi(argv[2]), only = argc > 3 ? atoi(argv[3]) : 0;
    enum { CTX = 32, VOCAB = 1024 };
    en_clip_config c = { .embed_dim = 128, .image_resolution = 32, .vision_vit = 1, .vision_layers = {4},
                         .vision_width = 128, .vision_patch_size = 4, .context_length = CTX,
                         .vocab_size = VOCAB, .transformer_width = 128, .transformer_layers = 3 };
    en_clip_config_finish(&c);
    en_rng r;
    en_rng_seed(&r, 0);
    en_clip *m = en_clip_new(&c, &r);
    if (!m) { fprintf(stderr, "bench_train: %s\n", en_error_msg()); return 1; }
    en_params *p = en_clip_params(m);
    en_adamw opt;
    en_adamw_init(&opt, (size_t)en_params_numel(p), NULL, 5e-4, 0.9, 0.98, 1e-6, 0.2);
    en_tensor *x = en_tensor_randn(EN_DIMS(batch, 3, 32, 32), &r, 0, 1);
    /* captions: sot, 8-23 tokens, eot (the largest id), padding */
    int64_t *tok = calloc((size_t)batch * CTX, sizeof *tok);
    for (int i = 0; i < batch; i++) {
        int len = 8 + i % 16;
        tok[i * CTX] = VOCAB - 2;
        for (int k = 1; k <= len; k++) tok[i * CTX + k] = (i * 7 + k * 13) % (VOCAB - 2);
        tok[i * CTX + len + 1] = VOCAB - 1;
    }
    en_tensor *tk = en_tensor_from_i64(EN_DIMS(batch, CTX), tok);
    free(tok);
    if (only > 0) {
        for (int i = 0; i < only; i++) fprintf(stderr, "step %d loss %.4f\n", i, train_step(m, &opt, x, tk));
    } else {
        double *t = malloc((size_t)(reps + 1) * sizeof *t), *cpu = malloc((size_t)(reps + 1) * sizeof *cpu);
        for (int i = 0; i <= reps; i++) { /* the first step warms caches and page tables */
            double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            train_step(m, &opt, x, tk);
            t[i] = clock_s(CLOCK_MONOTONIC) - t0;
            cpu[i] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
        qsort(t + 1, (size_t)reps, sizeof *t, cmp);
        qsort(cpu + 1, (size_t)reps, sizeof *cpu, cmp);
        double med = t[1 + reps / 2];
        printf("{\"median_s\": %.4f, \"per_s\": %.3f, \"cpu_s\": %.4f}\n", med, batch / med, cpu[1 + reps / 2]);
        free(t); free(cpu);
    }
    en_tensor_release(x); en_tensor_release(tk);
    en_adamw_free(&opt);
    en_clip_free(m);
    return 0;
}
