/* The study's decoders (engine/en_decoders.h): each learns a tiny fixed
 * batch (the loss falls by a stated factor), frozen blocks are not
 * trained, and misuse is an error, not a crash. */
#include <criterion/criterion.h>
#include <math.h>

#include "en_decoders.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_rng.h"
#include "en_tensor.h"

static en_tensor *blobs(int n, int size, uint64_t seed) {
    /* pictures of one bright square each, on grey: learnable in a few steps */
    en_rng r;
    en_rng_seed(&r, seed);
    en_tensor *t = en_tensor_new(EN_F32, 4, (int64_t[]){n, 3, size, size});
    float *p = en_tensor_f32(t);
    for (int i = 0; i < n; i++) {
        int x0 = (int)en_rng_below(&r, (uint64_t)size / 2), y0 = (int)en_rng_below(&r, (uint64_t)size / 2);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    p[((i * 3 + c) * size + y) * size + x] =
                        (x >= x0 && x < x0 + size / 2 && y >= y0 && y < y0 + size / 2) ? (c == i % 3 ? 1.0f : 0.2f) : 0.5f;
    }
    return t;
}

Test(decoders, vqvae_learns_a_batch) {
    en_rng r;
    en_rng_seed(&r, 3);
    en_vqvae_config c = {.in_ch = 0, .grid = 2, .image = 8, .hidden = 16, .codes = 16, .code_dim = 4};
    en_vqvae *m = en_vqvae_new(&c, &r);
    cr_assert(m, "%s", en_error_msg());
    en_tensor *x = blobs(8, 8, 1);
    float first = 0, last = 0, recon = 0;
    for (int s = 0; s < 150; s++) {
        float l = en_vqvae_train_step(m, x, NULL, 3e-3, &recon);
        cr_assert(isfinite(l), "step %d: %s", s, en_error_msg());
        if (s == 0) first = recon;
        last = recon;
    }
    cr_log_info("vqvae reconstruction MSE %.4f -> %.4f, %d codes used", first, last, en_vqvae_codes_used(m));
    cr_assert(last < 0.5f * first, "reconstruction MSE fell only from %.4f to %.4f", first, last);
    en_tensor *rec = en_vqvae_reconstruct(m, x, NULL);
    cr_assert(rec && rec->shape[1] == 3 && rec->shape[2] == 8);
    int64_t bad[4] = {0, 1, 2, 99};
    cr_assert_null(en_vqvae_decode_codes(m, bad, 1), "a code out of range must be refused");
    int64_t good[4] = {0, 1, 2, 3};
    en_tensor *d = en_vqvae_decode_codes(m, good, 1);
    cr_assert(d && d->shape[0] == 1 && d->shape[3] == 8);
    en_tensor_release(d);
    en_tensor_release(rec);
    en_tensor_release(x);
    en_vqvae_free(m);
}

/* Codebook collapse: on varied pictures, a VQ-VAE trained for as many steps
 * as the mini profile's decoders keeps at least half of its codes in use
 * (on the whole set, after training). With restarts only once a code's EMA
 * count fell below 0.05 (the rule before, which no code reaches within 150
 * steps after the first batch's restarts), the set used 10 of the 32. */
static int codes_after_training(double dead_below, long *restarts) {
    en_rng r;
    en_rng_seed(&r, 5);
    en_vqvae_config c = {.in_ch = 0, .grid = 4, .image = 16, .hidden = 16, .codes = 32, .code_dim = 8,
                         .dead_below = dead_below};
    en_vqvae *m = en_vqvae_new(&c, &r);
    cr_assert(m, "%s", en_error_msg());
    en_tensor *x = blobs(96, 16, 2);
    int64_t idx[16];
    for (int s = 0; s < 150; s++) {
        for (int i = 0; i < 16; i++) idx[i] = (int64_t)en_rng_below(&r, 96);
        en_tensor *ix = en_tensor_from_i64(1, (int64_t[]){16}, idx);
        en_tensor *b = en_gather_rows(x, ix);
        cr_assert(isfinite(en_vqvae_train_step(m, b, NULL, 3e-3, NULL)), "%s", en_error_msg());
        en_tensor_release(b);
        en_tensor_release(ix);
    }
    int used = 0;
    en_tensor *rec = en_vqvae_reconstruct_codes(m, x, NULL, &used);
    cr_assert(rec);
    *restarts = en_vqvae_restarts(m);
    en_tensor_release(rec);
    en_tensor_release(x);
    en_vqvae_free(m);
    return used;
}

Test(decoders, vqvae_keeps_half_its_codebook) {
    long restarts = 0;
    int used = codes_after_training(1.0, &restarts);
    cr_log_info("vqvae codes in use on the set after 150 steps: %d of 32 (%ld restarts)", used, restarts);
    cr_assert(used >= 16, "only %d of 32 codes in use", used);
}

Test(decoders, segnet_on_features_learns_and_frozen_blocks_stay) {
    en_rng r;
    en_rng_seed(&r, 5);
    /* features (N,4,2,2) whose channel 0 says which cells are foreground */
    int N = 8;
    en_tensor *f = en_tensor_new(EN_F32, 4, (int64_t[]){N, 4, 2, 2});
    en_tensor *mask = en_tensor_new(EN_F32, 4, (int64_t[]){N, 1, 8, 8});
    float *fp = en_tensor_f32(f), *mp = en_tensor_f32(mask);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 16; k++) fp[i * 16 + k] = 0.1f * (float)((i + k) % 3);
        for (int cell = 0; cell < 4; cell++) {
            int on = ((i >> (cell % 3)) & 1) ^ (cell == 3);
            fp[i * 16 + cell] = on ? 1.0f : -1.0f;
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++) mp[(i * 8 + (cell / 2) * 4 + y) * 8 + (cell % 2) * 4 + x] = (float)on;
        }
    }
    en_segnet_config c = {.in_ch = 4, .grid = 2, .image = 8, .hidden = 16, .train_blocks = 1};
    en_segnet *m = en_segnet_new(&c, &r);
    cr_assert(m, "%s", en_error_msg());
    float first = 0, last = 0;
    for (int s = 0; s < 200; s++) {
        float l = en_segnet_train_step(m, NULL, f, mask, 3e-3);
        cr_assert(isfinite(l), "%s", en_error_msg());
        if (s == 0) first = l;
        last = l;
    }
    cr_log_info("segnet BCE %.4f -> %.4f", first, last);
    cr_assert(last < 0.6f * first, "BCE fell only from %.4f to %.4f", first, last);

    c.train_blocks = 0;
    en_segnet *frozen = en_segnet_new(&c, &r);
    /* only the final 1x1 convolution: (channels of the last block) + 1 */
    int64_t n = en_segnet_trainable(frozen);
    cr_assert(n > 1 && n <= 17, "frozen decoder trains %lld parameters", (long long)n);
    cr_assert(en_segnet_trainable(m) > 10 * n);
    cr_assert(isnan(en_segnet_train_step(m, NULL, NULL, mask, 1e-3)), "missing features must be refused");
    en_segnet_free(frozen);
    en_segnet_free(m);
    en_tensor_release(f);
    en_tensor_release(mask);
}

Test(decoders, bad_sizes_are_errors) {
    en_rng r;
    en_rng_seed(&r, 1);
    en_vqvae_config c = {.in_ch = 0, .grid = 3, .image = 8, .hidden = 8, .codes = 4, .code_dim = 2};
    cr_assert_null(en_vqvae_new(&c, &r));
    en_segnet_config s = {.in_ch = 4, .grid = 3, .image = 8, .hidden = 8, .train_blocks = 1};
    cr_assert_null(en_segnet_new(&s, &r));
}
