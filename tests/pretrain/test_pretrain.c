/* Pre-training on the shapes world, at smoke size: the loss falls, and an
 * interrupted run resumed from its state ends with the same weights. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "en_bpe.h"
#include "en_error.h"
#include "en_pretrain.h"
#include "en_shapes.h"

static en_bpe *smoke_vocab(void) {
    static char path[] = "/tmp/cb_pt_vocab_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    char caps[400][256];
    const char *texts[400];
    for (int i = 0; i < 400; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 1, EN_SPLIT_PRETRAIN, (uint64_t)i);
        en_shapes_caption(&sc, 0, caps[i], sizeof caps[i], NULL);
        texts[i] = caps[i];
    }
    cr_assert(en_bpe_train(texts, 400, 150, path) > 50);
    en_bpe *b = en_bpe_load(path, -1);
    cr_assert(b, "%s", en_error_msg());
    unlink(path);
    return b;
}

static en_pretrain_cfg smoke_cfg(int vocab) {
    en_pretrain_cfg c = {0};
    c.model = (en_clip_config){ .embed_dim = 32, .image_resolution = 16, .vision_vit = 1, .vision_layers = {1},
                                .vision_width = 32, .vision_patch_size = 4, .vision_heads = 2,
                                .context_length = 32, .vocab_size = vocab, .transformer_width = 32,
                                .transformer_heads = 2, .transformer_layers = 1 };
    c.steps = 150; c.batch = 32; c.lr = 3e-3; c.seed = 11; c.corpus = 512; c.warmup = 2;
    return c;
}

Test(pretrain, smoke_loss_falls) {
    en_bpe *b = smoke_vocab();
    en_pretrain_cfg c = smoke_cfg(en_bpe_vocab_size(b));
    en_pretrain_result r;
    cr_assert_eq(en_pretrain_run(&c, b, &r), 0, "%s", en_error_msg());
    cr_assert_eq(r.steps_done, 150);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++) { first += r.loss[i] / 5; last += r.loss[145 + i] / 5; }
    double chance = log(32.0);
    cr_log_info("smoke pre-training: loss %.3f -> %.3f (chance %.3f), %.0f images/s", first, last, chance, r.images_per_s);
    /* at logit scale 1/0.07 random features sit above chance; learning must
     * lower the loss by 0.5 nats and below chance (matching, not just a
     * flatter softmax) */
    cr_assert(first > chance - 0.2, "initial loss %.3f below chance %.3f: the features are not random", first, chance);
    cr_assert(last < first - 0.5, "loss fell only from %.3f to %.3f", first, last);
    cr_assert(last < chance - 0.1, "final loss %.3f not below chance %.3f", last, chance);
    en_pretrain_result_free(&r);
    en_bpe_free(b);
}

/* Caption noise reaches training: rates of zero train bit for bit as no
 * noise at all (the captions are the same bytes), captions about the
 * background alone change the losses from the first step; bad rates are
 * refused before any training. (What noise does to the towers is measured
 * by tests/world/sweep.lua.) */
Test(pretrain, caption_noise_reaches_training) {
    en_bpe *b = smoke_vocab();
    en_pretrain_cfg c = smoke_cfg(en_bpe_vocab_size(b));
    c.steps = 12;
    en_pretrain_result exact, zero, noisy;
    cr_assert_eq(en_pretrain_run(&c, b, &exact), 0, "%s", en_error_msg());
    en_caption_noise none = {0}, bg = { .background = 1 };
    c.caption_noise = &none;
    cr_assert_eq(en_pretrain_run(&c, b, &zero), 0, "%s", en_error_msg());
    c.caption_noise = &bg;
    cr_assert_eq(en_pretrain_run(&c, b, &noisy), 0, "%s", en_error_msg());
    double worst = 0, moved = 0;
    for (int i = 0; i < 12; i++) {
        worst = fmax(worst, fabs(exact.loss[i] - zero.loss[i]));
        moved = fmax(moved, fabs(exact.loss[i] - noisy.loss[i]));
    }
    cr_log_info("rates 0 vs none: worst loss difference %g; background only: up to %.3f", worst, moved);
    cr_assert_eq(worst, 0.0, "rates of zero changed the losses by up to %g", worst);
    cr_assert(moved > 1e-3, "background-only captions left the losses as they were (%g)", moved);
    en_pretrain_result_free(&exact);
    en_pretrain_result_free(&zero);
    en_pretrain_result_free(&noisy);
    en_caption_noise bad = { .wrong = 0.7, .synonym = 0.7 };
    c.caption_noise = &bad;
    cr_assert_eq(en_pretrain_run(&c, b, &noisy), -1);
    cr_assert(strstr(en_error_msg(), "exceeds 1"), "%s", en_error_msg());
    en_bpe_free(b);
}

Test(pretrain, resume_gives_same_weights) {
    en_bpe *b = smoke_vocab();
    en_pretrain_cfg c = smoke_cfg(en_bpe_vocab_size(b));
    c.steps = 10; c.model.vision_vit = 0; c.model.vision_width = 16; c.model.image_resolution = 16;
    c.model.vision_layers[0] = c.model.vision_layers[1] = c.model.vision_layers[2] = c.model.vision_layers[3] = 1;
    c.model.vision_heads = 2; c.model.resnet_stem_stride = 1; c.model.resnet_stem_pool = 1;
    c.batch = 16;
    /* 160 pictures from a corpus of 40: four epochs, batches that straddle
     * epochs, so the rendered-picture cache is used (and starts empty again
     * on resume); the uninterrupted run renders every picture afresh */
    c.corpus = 40;
    en_pretrain_result whole, part, rest;
    c.render_cache = -1;
    cr_assert_eq(en_pretrain_run(&c, b, &whole), 0, "%s", en_error_msg());
    c.render_cache = 0;
    char path[] = "/tmp/cb_pt_state_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    c.state_path = path;
    c.stop_after = 4;
    cr_assert_eq(en_pretrain_run(&c, b, &part), 0, "%s", en_error_msg());
    cr_assert(part.interrupted);
    cr_assert_eq(part.steps_done, 4);
    cr_assert_eq(access(path, R_OK), 0, "no state written");
    c.stop_after = 0;
    cr_assert_eq(en_pretrain_run(&c, b, &rest), 0, "%s", en_error_msg());
    cr_assert_eq(rest.resumed_from, 4);
    cr_assert_eq(rest.steps_done, 10);
    en_params *pa = en_clip_params(whole.model), *pb = en_clip_params(rest.model);
    size_t n = (size_t)en_params_numel(pa);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(en_params_data(pa)[i] - en_params_data(pb)[i]));
    cr_assert(worst == 0, "resumed weights differ by %g", worst);
    for (int i = 0; i < 10; i++) cr_assert_eq(whole.loss[i], rest.loss[i], "loss log differs at step %d", i);
    cr_assert_neq(access(path, F_OK), 0, "state left after a finished run");
    en_pretrain_result_free(&whole); en_pretrain_result_free(&part); en_pretrain_result_free(&rest);
    en_bpe_free(b);
}
