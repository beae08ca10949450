/* A CLIP training step on the real device (skipped without one: "skip: no
 * CUDA device"): the mini ViT and the mini ResNet (tests/cuda/
 * test_device_train.c's configurations), the same random-weight model on
 * the CPU and, moved with en_clip_to, on the GPU; one step each (both
 * towers forward, the contrastive loss, backward, AdamW) on the same batch.
 *
 * Tolerance, norm-wise over all the parameters' values: ||gpu - cpu|| /
 * ||cpu|| <= 4 sqrt(L) u_K for the loss and the gradients, with u_K = 2^-24 sqrt(K) in fp32 (a GEMM's partial sums, see
 * cu_util.h), 2^-11 in tf32, 2^-8 in bf16; K = 272, the longest reduction
 * (the weight gradients sum over batch x tokens = 16 x 17 rows); L = 24
 * GEMM layers in sequence (forward and backward of the ViT's two blocks,
 * its patch and projection GEMMs, and the text tower's block), errors
 * adding in quadrature. fp32: about 1.9e-5, the "about 1e-5
 * relative". AdamW divides by sqrt(v) + eps, which turns a gradient's
 * relative error near 0 into a large one of its update (a gradient that is
 * 0 in exact arithmetic, as the key biases', is rounding noise of either
 * sign on both sides), so the updated parameters are checked against the
 * CPU's AdamW applied to the GPU's own gradient: an elementwise kernel,
 * cu_util.h's 1e-5 norm-wise (the difference from the CPU's step is
 * printed). In TF32 and BF16 the loss and gradient bound is measured
 * instead (see step_parity): first run on an H200 (session 8), the fixed
 * bound held at FP32 for both towers and at TF32/BF16 for the ViT only. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_clip.h"
#include "en_device.h"
#include "en_error.h"
#include "en_optim.h"
#include "en_tensor.h"
#include "cu_util.h"
#include "kn_backend.h"

static double tol_step(void) {
    double u;
    switch (kn_cuda_precision()) {
    case KN_PREC_TF32: u = 1.0 / 2048; break;
    case KN_PREC_BF16: u = 1.0 / 256; break;
    default: u = 5.9604644775390625e-8 * sqrt(272.0);
    }
    return 4.0 * sqrt(24.0) * u;
}

/* ||a - b|| / ||b|| */
static double rel_norm(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static float one_step(en_clip *m, en_device dev, en_tensor *img, en_tensor *tok, float **grad, float **param) {
    en_params *p = en_clip_params(m);
    size_t n = (size_t)en_params_numel(p);
    if (dev != EN_CPU) cr_assert_eq(en_clip_to(m, dev), 0, "%s", en_error_msg());
    en_adamw o;
    cr_assert_eq(en_adamw_init(&o, n, NULL, 1e-3, 0.9, 0.98, 1e-6, 0.2), 0);
    if (dev != EN_CPU) cr_assert_eq(en_adamw_to(&o, dev), 0, "%s", en_error_msg());
    en_tensor *x = en_tensor_to(img, dev);
    en_clip_set_train(m, 1);
    en_tensor *fi = en_clip_encode_image(m, x), *ft = en_clip_encode_text(m, tok);
    cr_assert(fi && ft, "%s", en_error_msg());
    en_tensor *loss = cu_contrastive_loss(fi, ft, en_clip_logit_scale(m));
    cr_assert(loss, "%s", en_error_msg());
    float lv = en_tensor_item(loss);
    en_params_zero_grad(p);
    cr_assert_eq(en_backward(loss), 0, "%s", en_error_msg());
    en_seg all = {en_params_data_on(p), en_params_grad_on(p), n};
    *grad = cu_to_host(dev, all.g, n);
    en_adamw_step(&o, &all, 1);
    *param = cu_to_host(dev, all.p, n);
    en_tensor *rel[] = {x, fi, ft, loss};
    for (int i = 0; i < 4; i++) en_tensor_release(rel[i]);
    en_adamw_free(&o);
    return lv;
}

static void step_parity(const char *name, en_clip_config c, int batch) {
    if (!kn_cuda_backend()) {
        printf("skip: no CUDA device\n");
        fflush(stdout);
        cr_skip_test("skip: no CUDA device");
    }
    en_clip_config_finish(&c);
    en_clip *mc = cu_model(c, 5), *md = cu_model(c, 5);
    en_rng r;
    en_rng_seed(&r, 17);
    int R = c.image_resolution, L = c.context_length;
    en_tensor *img = en_tensor_randn(EN_DIMS(batch, 3, R, R), &r, 0, 1);
    int64_t *ids = calloc((size_t)batch * L, sizeof *ids);
    cr_assert(ids != NULL);
    for (int i = 0; i < batch; i++) {
        int len = 3 + (5 * i) % (L - 4);
        for (int j = 0; j < len; j++) ids[i * L + j] = (j * 37 + i * 11) % (c.vocab_size - 2) + 1;
        ids[i * L + len] = c.vocab_size - 1; /* the end token: the largest id */
    }
    en_tensor *tok = en_tensor_from_i64(EN_DIMS(batch, L), ids);
    free(ids);
    size_t n = (size_t)en_params_numel(en_clip_params(mc));
    float *p0 = cu_to_host(EN_CPU, en_params_data(en_clip_params(mc)), n);
    float *gc, *pc, *gd, *pd;
    float lc = one_step(mc, EN_CPU, img, tok, &gc, &pc), ld = one_step(md, EN_CUDA, img, tok, &gd, &pd);
    en_adamw o; /* the CPU's step on the GPU's gradient: what the GPU's AdamW had to give */
    cr_assert_eq(en_adamw_init(&o, n, NULL, 1e-3, 0.9, 0.98, 1e-6, 0.2), 0);
    en_adamw_step_flat(&o, p0, gd, n);
    en_adamw_free(&o);
    double rl = fabs((double)ld - lc) / fabs((double)lc), rg = rel_norm(gd, gc, n);
    double rp = rel_norm(pd, p0, n), rpc = rel_norm(pd, pc, n);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)gd[i] - gc[i]) <= worst)) worst = fabs((double)gd[i] - gc[i]);
    double tol = tol_step(), tol_adamw = cu_tol_plain();
    if (kn_cuda_precision() != KN_PREC_FP32) {
        /* TF32/BF16: the step's own conditioning, measured. The GPU rounds
         * both operands of every product; the CPU's step with every weight
         * and input pixel rounded once (a relative perturbation uniform in
         * +-u, u = 2^-10 for TF32 by truncation, 2^-8 for BF16 to nearest)
         * shows how far one such rounding moves the loss and the
         * gradients. The bound is 4 sqrt(2) times that: the other operand,
         * and margin. A fixed per-layer bound held for the ViT (1.7e-3 at
         * TF32) but not for the ResNet's, whose batch norms over 8 samples
         * and cancelling weight-gradient sums amplify (2.7e-2 on the H200). */
        double up = kn_cuda_precision() == KN_PREC_TF32 ? 1.0 / 1024 : 1.0 / 256;
        en_clip *mp = cu_model(c, 5);
        float *w = en_params_data(en_clip_params(mp));
        en_rng pr;
        en_rng_seed(&pr, 29);
        for (size_t i = 0; i < n; i++) w[i] *= (float)(1.0 + up * (2.0 * en_rng_uniform(&pr) - 1.0));
        en_tensor *imgp = en_tensor_clone(img);
        float *x = en_tensor_f32(imgp);
        for (int64_t i = 0; i < en_tensor_numel(imgp); i++) x[i] *= (float)(1.0 + up * (2.0 * en_rng_uniform(&pr) - 1.0));
        float *gp, *pp;
        float lp = one_step(mp, EN_CPU, imgp, tok, &gp, &pp);
        double resp_g = rel_norm(gp, gc, n), resp_l = fabs((double)lp - lc) / fabs((double)lc);
        printf("  one rounding of the weights and pixels on the CPU moves the loss by %.3g and the gradients "
               "by %.3g (relative)\n", resp_l, resp_g);
        tol = 4.0 * sqrt(2.0) * (resp_g > resp_l ? resp_g : resp_l);
        free(gp); free(pp);
        en_tensor_release(imgp);
        en_clip_free(mp);
    }
    char rep[256];
    printf("  %s, batch %d, one step: loss %.6f (gpu %.6f); ||gpu - cpu|| / ||cpu||: loss %.3g, gradients %.3g "
           "(tolerance %.3g), updated parameters %.3g against the CPU's AdamW of the GPU's gradient "
           "(tolerance %.3g), %.3g against the CPU's step; worst |gradient difference| %.3g\n  %s\n",
           name, batch, lc, ld, rl, rg, tol, rp, tol_adamw, rpc, worst, en_device_report(rep, sizeof rep));
    printf("parity_train_%s_grad_rel %.3g\n", c.vision_vit ? "mini_vit" : "mini_resnet", rg);
    cr_expect(rl <= tol, "%s: loss %g > %g", name, rl, tol);
    cr_expect(rg <= tol, "%s: gradients %g > %g", name, rg, tol);
    cr_expect(rp <= tol_adamw, "%s: updated parameters %g > %g", name, rp, tol_adamw);
    free(gc); free(pc); free(gd); free(pd); free(p0);
    en_tensor_release(img);
    en_tensor_release(tok);
    en_clip_free(mc);
    en_clip_free(md);
}

Test(cuda_train, mini_vit_step) {
    step_parity("mini ViT", (en_clip_config){.embed_dim = 32, .image_resolution = 32, .vision_vit = 1,
                                             .vision_layers = {2}, .vision_width = 64, .vision_patch_size = 8,
                                             .vision_heads = 2, .context_length = 16, .vocab_size = 100,
                                             .transformer_width = 32, .transformer_heads = 2,
                                             .transformer_layers = 1}, 16);
}

Test(cuda_train, mini_resnet_step) {
    step_parity("mini ResNet", (en_clip_config){.embed_dim = 32, .image_resolution = 32, .vision_vit = 0,
                                                .vision_layers = {1, 1, 1, 1}, .vision_width = 8,
                                                .context_length = 16, .vocab_size = 100,
                                                .transformer_width = 32, .transformer_heads = 2,
                                                .transformer_layers = 1, .resnet_stem_stride = 2,
                                                .resnet_stem_pool = 2}, 8);
}
