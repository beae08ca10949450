/* Whole encoders on the real device (skipped without one: "skip: no CUDA
 * device"): random-weight ViT-B/32 and RN50 (OpenAI's configurations) at
 * batch 2, the same model on the CPU and, moved with en_clip_to, on the
 * GPU, on fresh random images; the worst difference is printed.
 *
 * Tolerance, norm-wise: ||gpu - cpu|| / ||cpu|| <= 4 sqrt(L) (u sqrt(K) for
 * fp32, u for tf32/bf16). A GEMM of reduction length K errs by about
 * u sqrt(K) relative in fp32 (partial sums, see cu_util.h) and by about
 * 0.8 u with inputs rounded to tf32/bf16 (u = 2^-11, 2^-8); L = 50 GEMM
 * layers in sequence (ViT-B/32: 12 blocks of 4 and 2; RN50: 53
 * convolutions and the pool's 4, taken as 50 after the residual sums),
 * independent errors adding in quadrature on a normalised residual stream;
 * 4 for the worst of the outputs. Not yet run on a GPU: the first run
 * (tests/gpu/check.sh) says whether these bounds hold. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "en_autograd.h"
#include "en_clip.h"
#include "en_device.h"
#include "en_error.h"
#include "en_tensor.h"
#include "cu_util.h"
#include "kn_backend.h"

static double tol_encoder(int64_t K, int L) {
    double u;
    switch (kn_cuda_precision()) {
    case KN_PREC_TF32: u = 1.0 / 2048; break;
    case KN_PREC_BF16: u = 1.0 / 256; break;
    default: u = 5.9604644775390625e-8 * sqrt((double)K);
    }
    return 4.0 * sqrt((double)L) * u;
}

static void encoder_parity(const char *name, en_clip_config c, int64_t K) {
    if (!kn_cuda_backend()) {
        printf("skip: no CUDA device\n");
        fflush(stdout);
        cr_skip_test("skip: no CUDA device");
    }
    int prev = en_grad_set_enabled(0);
    en_clip_config_finish(&c);
    en_clip *mc = cu_model(c, 5), *md = cu_model(c, 5);
    en_rng r;
    cr_assert(en_clip_to(md, EN_CUDA) == 0, "%s", en_error_msg());
    en_rng_seed(&r, 99);
    int R = c.image_resolution;
    en_tensor *img = en_tensor_randn(EN_DIMS(2, 3, R, R), &r, 0, 1);
    en_tensor *dimg = en_tensor_to(img, EN_CUDA);
    en_tensor *yc = en_clip_encode_image(mc, img), *yd = en_clip_encode_image(md, dimg);
    cr_assert(yc && yd, "%s", en_error_msg());
    en_tensor *hd = en_tensor_cpu(yd);
    double num = 0, den = 0, worst = 0;
    for (int64_t i = 0; i < en_tensor_numel(yc); i++) {
        double a = en_tensor_f32(yc)[i], b = en_tensor_f32(hd)[i];
        num += (a - b) * (a - b);
        den += a * a;
        if (!(fabs(a - b) <= worst)) worst = fabs(a - b);
    }
    double rel = sqrt(num / (den > 0 ? den : 1)), tol = tol_encoder(K, 50);
    char rep[256];
    printf("  %s: ||gpu - cpu|| / ||cpu|| %.3g (tolerance %.3g), worst |gpu - cpu| %.3g\n  %s\n", name,
           rel, tol, worst, en_device_report(rep, sizeof rep));
    printf("parity_encoder_%s_rel %.3g\n", c.vision_vit ? "vit_b32" : "rn50", rel);
    cr_expect(rel <= tol, "%s: %g > %g", name, rel, tol);
    en_tensor *rel_[] = {img, dimg, yc, yd, hd};
    for (int i = 0; i < 5; i++) en_tensor_release(rel_[i]);
    en_clip_free(mc);
    en_clip_free(md);
    en_grad_set_enabled(prev);
}

Test(cuda_encoders, vit_b32_batch2) {
    en_clip_config c = {.embed_dim = 512, .image_resolution = 224, .vision_vit = 1, .vision_layers = {12},
                        .vision_width = 768, .vision_patch_size = 32, .context_length = 77,
                        .vocab_size = 49408, .transformer_width = 512, .transformer_heads = 8,
                        .transformer_layers = 12};
    encoder_parity("ViT-B/32", c, 3072);
}

Test(cuda_encoders, rn50_batch2) {
    en_clip_config c = {.embed_dim = 1024, .image_resolution = 224, .vision_vit = 0,
                        .vision_layers = {3, 4, 6, 3}, .vision_width = 64, .context_length = 77,
                        .vocab_size = 49408, .transformer_width = 512, .transformer_heads = 8,
                        .transformer_layers = 12, .resnet_stem_stride = 2, .resnet_stem_pool = 2};
    encoder_parity("RN50", c, 4608); /* the 3x3 convolutions of the last stage: 512 x 9 */
}
