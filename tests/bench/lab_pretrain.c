/* lab_pretrain — the mini profile's pre-training loop itself (en_pretrain_run:
 * batches made from the shapes world with the mini captions, the step,
 * AdamW), for STEPS steps of the mini ViT or ResNet, batch 256, corpus
 * 50,000 (chapters/profiles.lua). Prints pictures/s of the whole loop and
 * the milliseconds per step spent making batches, the two figures behind
 * chapter 2's pre-training time (issue 17's budget).
 *   lab_pretrain vit|rn STEPS [CORPUS]
 * CORPUS (default 50,000): a small one renders only in the first epoch, which
 * leaves the steady state of a long run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_bpe.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_machine.h"
#include "en_pretrain.h"
#include "en_shapes.h"

int main(int argc, char **argv) {
    en_machine_install();
    if (argc < 3) { fprintf(stderr, "usage: lab_pretrain vit|rn STEPS\n"); return 2; }
    int vit = !strcmp(argv[1], "vit"), steps = atoi(argv[2]);
    const en_caption_noise noise = { .synonym = 0.1, .merge = 0.55 };
    char path[] = "/tmp/cb_lab_vocab_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    enum { NCAP = 2000 };
    static char caps[NCAP][256];
    const char *texts[NCAP];
    for (int i = 0; i < NCAP; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 0, EN_SPLIT_PRETRAIN, (uint64_t)i);
        en_shapes_caption_noisy(&sc, 0, &noise, caps[i], sizeof caps[i], NULL);
        texts[i] = caps[i];
    }
    if (en_bpe_train(texts, NCAP, 400, path) < 0) { fprintf(stderr, "lab_pretrain: %s\n", en_error_msg()); return 1; }
    en_bpe *b = en_bpe_load(path, -1);
    unlink(path);
    if (!b) { fprintf(stderr, "lab_pretrain: %s\n", en_error_msg()); return 1; }
    en_pretrain_cfg c = {0};
    c.model = (en_clip_config){ .embed_dim = 64, .image_resolution = 32, .vision_vit = vit,
                                .vision_layers = {vit ? 2 : 1, vit ? 0 : 1, vit ? 0 : 1, vit ? 0 : 1},
                                .vision_width = vit ? 64 : 8, .vision_patch_size = vit ? 8 : 0,
                                .vision_heads = vit ? 2 : 0, .context_length = 32, .vocab_size = en_bpe_vocab_size(b),
                                .transformer_width = 64, .transformer_heads = 2, .transformer_layers = 2,
                                .resnet_stem_stride = vit ? 0 : 1, .resnet_stem_pool = vit ? 0 : 1 };
    en_clip_config_finish(&c.model);
    c.steps = steps; c.batch = 256; c.seed = 0; c.lr = 2e-3; c.corpus = argc > 3 ? atoi(argv[3]) : 50000; c.caption_noise = &noise;
    en_pretrain_defaults(&c);
    en_pretrain_result r;
    if (en_pretrain_run(&c, b, &r) < 0) { fprintf(stderr, "lab_pretrain: %s\n", en_error_msg()); return 1; }
    printf("{\"per_s\": %.1f, \"data_ms\": %.2f, \"step_ms\": %.2f}\n", r.images_per_s, 1e3 * r.data_s / steps,
           1e3 * r.wall_s / steps);
    en_pretrain_result_free(&r);
    en_bpe_free(b);
    return 0;
}
