/* Training on the fake device (tests/cuda/fake_device.h): autograd, the
 * contrastive loss, gradient clipping and AdamW with every tensor on the
 * "device", against the same steps on the CPU.
 *
 * The fake runs the CPU's kernels behind PROT_NONE memory, so the device
 * path must give the CPU's bits exactly: the worst difference of the loss,
 * of every gradient and of every updated parameter is printed and must be
 * 0. Nothing may run on the host: no kernel fallback, no op on host copies,
 * no strided gather (counted), every gradient is a device tensor, and any
 * host read of device memory is a SIGSEGV. That the backward ran on the
 * device's kernels is checked directly too: the fake counts the calls of
 * each kernel family, and each family the step's backward needs must have
 * been called during en_backward. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "en_autograd.h"
#include "en_bpe.h"
#include "en_clip.h"
#include "en_device.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_ops_conv.h"
#include "en_optim.h"
#include "en_pretrain.h"
#include "en_shapes.h"
#include "en_tensor.h"
#include "cu_util.h"
#include "fake_device.h"
#include "kn_backend.h"

TestSuite(device_train, .init = fake_install, .fini = fake_remove);

static uint64_t host_runs(void) {
    uint64_t s = fake_fallbacks_total() + en_device_gather_count();
    for (int i = 0; i < EN_OP_COUNT; i++) s += en_device_host_op_count(i);
    return s;
}

static double worst_of(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= w)) w = d; /* NaN wins */
    }
    return w;
}

/* One model's state after a training step. */
typedef struct {
    float loss[2], norm[2];
    float *grad, *param; /* flat, numel floats (after the last step) */
    int calls[KN_KERNEL_COUNT]; /* the fake's kernel calls during the last backward */
} step_result;


/* Two full CLIP training steps on dev (both towers forward, the contrastive
 * loss, backward, clipping, AdamW; the second step reads AdamW's moments
 * and, for the ResNet, batch norm's updated running statistics). */
static void train(en_clip *m, en_device dev, en_tensor *img, en_tensor *tok, step_result *r) {
    en_params *p = en_clip_params(m);
    size_t n = (size_t)en_params_numel(p);
    if (dev != EN_CPU) cr_assert_eq(en_clip_to(m, dev), 0, "%s", en_error_msg());
    en_adamw o;
    cr_assert_eq(en_adamw_init(&o, n, NULL, 1e-3, 0.9, 0.98, 1e-6, 0.2), 0);
    if (dev != EN_CPU) cr_assert_eq(en_adamw_to(&o, dev), 0, "%s", en_error_msg());
    en_tensor *x = en_tensor_to(img, dev);
    en_clip_set_train(m, 1);
    for (int step = 0; step < 2; step++) {
        en_tensor *fi = en_clip_encode_image(m, x), *ft = en_clip_encode_text(m, tok);
        cr_assert(fi && ft, "%s", en_error_msg());
        en_tensor *loss = en_clip_contrastive_loss(fi, ft, en_clip_logit_scale(m));
        cr_assert(loss, "%s", en_error_msg());
        cr_expect_eq(en_tensor_device(loss), dev, "the loss stays on the device");
        r->loss[step] = en_tensor_item(loss);
        en_params_zero_grad(p);
        int before[KN_KERNEL_COUNT];
        for (int k = 0; k < KN_KERNEL_COUNT; k++) before[k] = fake_calls((kn_kernel)k);
        cr_assert_eq(en_backward(loss), 0, "%s", en_error_msg());
        for (int k = 0; k < KN_KERNEL_COUNT; k++) r->calls[k] = fake_calls((kn_kernel)k) - before[k];
        en_seg all = {en_params_data_on(p), en_params_grad_on(p), n};
        free(r->grad);
        r->grad = cu_to_host(dev, all.g, n); /* before clipping: the backward's own */
        r->norm[step] = en_clip_grad_norm_on(dev, &all, 1, 0.5f);
        en_adamw_step(&o, &all, 1);
        en_tensor_release(fi);
        en_tensor_release(ft);
        en_tensor_release(loss);
    }
    for (int i = 0; i < en_params_count(p); i++) {
        en_tensor *t = en_params_get(p, i), *g = en_tensor_grad(t);
        cr_expect(g && en_tensor_device(g) == dev, "%s: the gradient lives with the parameter",
                  en_params_name(p, i));
    }
    r->param = cu_to_host(dev, en_params_data_on(p), n);
    en_tensor_release(x);
    en_adamw_free(&o);
}

static en_tensor *tokens(int B, int L) {
    int64_t *ids = calloc((size_t)B * L, sizeof *ids);
    cr_assert(ids != NULL);
    for (int i = 0; i < B; i++) {
        int len = 3 + (5 * i) % (L - 4);
        for (int j = 0; j < len; j++) ids[i * L + j] = (j * 37 + i * 11) % 98 + 1;
        ids[i * L + len] = 99; /* the end token: the largest id */
    }
    en_tensor *t = en_tensor_from_i64(EN_DIMS(B, L), ids);
    free(ids);
    return t;
}

/* the kernel families a CLIP step's backward must have run on the device */
static void expect_backward_on_device(const char *name, const step_result *d, int resnet) {
    kn_kernel need[] = {KN_K_GEMM, KN_K_UNARY, KN_K_LAYERNORM, KN_K_ATTENTION, KN_K_COPY_ND,
                        KN_K_BINARY, KN_K_REDUCE, KN_K_GATHER, KN_K_XENT, KN_K_L2NORM,
                        KN_K_CONV2D, KN_K_BATCHNORM2D, KN_K_POOL2D, KN_K_SOFTMAX};
    int nneed = resnet ? (int)(sizeof need / sizeof need[0]) : 10;
    char line[512];
    size_t k = 0;
    for (int i = 0; i < nneed && k < sizeof line; i++)
        k += (size_t)snprintf(line + k, sizeof line - k, " %s %d", kn_kernel_name(need[i]), d->calls[need[i]]);
    printf("    backward's device kernel calls:%s\n", line);
    for (int i = 0; i < nneed; i++)
        cr_expect(d->calls[need[i]] > 0, "%s: the backward ran no %s kernel on the device", name,
                  kn_kernel_name(need[i]));
}

static void step_parity(const char *name, en_clip_config c, int batch, int resnet) {
    en_clip *mc = cu_model(c, 5), *md = cu_model(c, 5);
    en_params *p = en_clip_params(mc);
    size_t n = (size_t)en_params_numel(p);
    int R = c.image_resolution;
    en_rng r;
    en_rng_seed(&r, 17);
    en_tensor *img = en_tensor_randn(EN_DIMS(batch, 3, R, R), &r, 0, 1);
    en_tensor *tok = tokens(batch, c.context_length);
    step_result sc = {0}, sd = {0};
    clock_t t0 = clock();
    train(mc, EN_CPU, img, tok, &sc);
    clock_t t1 = clock();
    uint64_t h0 = host_runs();
    train(md, EN_CUDA, img, tok, &sd);
    clock_t t2 = clock();
    uint64_t hr = host_runs() - h0;
    double wl = 0, wn = 0;
    for (int s = 0; s < 2; s++) {
        double dl = fabs((double)sc.loss[s] - sd.loss[s]), dn = fabs((double)sc.norm[s] - sd.norm[s]);
        if (!(dl <= wl)) wl = dl;
        if (!(dn <= wn)) wn = dn;
    }
    double wg = worst_of(sc.grad, sd.grad, n), wp = worst_of(sc.param, sd.param, n);
    /* the parameter with the worst gradient, to name it when it is not 0 */
    int worst_i = 0;
    double worst_pg = -1;
    for (int i = 0; i < en_params_count(p); i++) {
        int64_t off = en_params_offset(p, i), k = en_tensor_numel(en_params_get(p, i));
        double w = worst_of(sc.grad + off, sd.grad + off, (size_t)k);
        if (!(w <= worst_pg)) worst_pg = w, worst_i = i;
    }
    char rep[512];
    printf("  %s, batch %d, 2 steps (%d parameters, %zu values): loss %.6f %.6f, clip norm %.4f %.4f\n"
           "    worst |device - cpu|: loss %.3g, clip norm %.3g, gradients %.3g (worst: %s), "
           "updated parameters %.3g; host runs %llu (cpu %.2f s, fake device %.2f s)\n    %s\n",
           name, batch, en_params_count(p), n, sc.loss[0], sc.loss[1], sc.norm[0], sc.norm[1], wl, wn, wg,
           wg > 0 || wg != wg ? en_params_name(p, worst_i) : "none", wp, (unsigned long long)hr, (double)(t1 - t0) / CLOCKS_PER_SEC,
           (double)(t2 - t1) / CLOCKS_PER_SEC, en_device_report(rep, sizeof rep));
    expect_backward_on_device(name, &sd, resnet);
    cr_expect(isfinite(sc.loss[0]) && isfinite(sc.loss[1]), "%s: a finite loss", name);
    cr_expect(wl == 0, "%s: loss, worst %g", name, wl);
    cr_expect(wn == 0, "%s: clipping norm, worst %g", name, wn);
    cr_expect(wg == 0, "%s: gradients, worst %g (%s)", name, wg, en_params_name(p, worst_i));
    cr_expect(wp == 0, "%s: updated parameters, worst %g", name, wp);
    cr_expect_eq(hr, 0, "%s: no kernel fallback, host op or strided gather: %s", name, rep);
    free(sc.grad); free(sc.param); free(sd.grad); free(sd.param);
    en_tensor_release(img);
    en_tensor_release(tok);
    en_clip_free(mc);
    en_clip_free(md);
    cr_expect_eq(fake_live_count(), 0, "%s: every device buffer went back", name);
}

static en_clip_config mini_vit(void) {
    return (en_clip_config){.embed_dim = 32, .image_resolution = 32, .vision_vit = 1, .vision_layers = {2},
                            .vision_width = 64, .vision_patch_size = 8, .vision_heads = 2, .context_length = 16,
                            .vocab_size = 100, .transformer_width = 32, .transformer_heads = 2,
                            .transformer_layers = 1};
}

static en_clip_config mini_resnet(void) {
    return (en_clip_config){.embed_dim = 32, .image_resolution = 32, .vision_vit = 0,
                            .vision_layers = {1, 1, 1, 1}, .vision_width = 8, .context_length = 16,
                            .vocab_size = 100, .transformer_width = 32, .transformer_heads = 2,
                            .transformer_layers = 1, .resnet_stem_stride = 2, .resnet_stem_pool = 2};
}

/* batch 16: 16 x 17 = 272 ViT token rows, two of the bias gradient's
 * 256-row blocks */
Test(device_train, mini_vit_step, .timeout = 300) { step_parity("mini ViT", mini_vit(), 16, 0); }
Test(device_train, mini_resnet_step, .timeout = 300) { step_parity("mini ResNet (stem 2/2)", mini_resnet(), 8, 1); }

/* ---- single ops' backward, where the CLIP step does not reach ------------- */
typedef en_tensor *(*op_fn)(en_tensor *const *x);

/* backward of sum(f(x) * w) (w fixed) for inputs on the CPU and on the
 * device: the same input gradients, nothing on the host */
static void grad_check(const char *name, op_fn f, int nin, en_tensor *const *x) {
    en_tensor *hx[4], *dx[4];
    for (int i = 0; i < nin; i++) {
        hx[i] = en_tensor_clone(x[i]);
        dx[i] = en_tensor_to(x[i], EN_CUDA);
        en_requires_grad(hx[i], 1);
        en_requires_grad(dx[i], 1);
    }
    en_tensor *yc = f(hx);
    cr_assert(yc, "%s: %s", name, en_error_msg());
    en_rng r;
    en_rng_seed(&r, 3);
    en_tensor *w = en_tensor_randn(yc->ndim, yc->shape, &r, 0, 1), *dw = en_tensor_to(w, EN_CUDA);
    en_tensor *pc = en_mul(yc, w), *lc = en_sum_all(pc);
    cr_assert_eq(en_backward(lc), 0, "%s", en_error_msg());
    uint64_t h0 = host_runs();
    en_tensor *yd = f(dx), *pd = en_mul(yd, dw), *ld = en_sum_all(pd);
    cr_assert_eq(en_backward(ld), 0, "%s", en_error_msg());
    uint64_t hr = host_runs() - h0;
    double worst = 0;
    for (int i = 0; i < nin; i++) {
        en_tensor *gd = en_tensor_grad(dx[i]), *gc = en_tensor_grad(hx[i]);
        cr_assert(gc && gd, "%s: input %d got a gradient", name, i);
        cr_expect_eq(en_tensor_device(gd), EN_CUDA);
        en_tensor *hg = en_tensor_cpu(gd);
        double wi = worst_of(en_tensor_f32(gc), en_tensor_f32(hg), (size_t)en_tensor_numel(gc));
        if (!(wi <= worst)) worst = wi;
        en_tensor_release(hg);
    }
    printf("  %-34s backward: worst |device - cpu| %.3g, host runs %llu\n", name, worst, (unsigned long long)hr);
    cr_expect(worst == 0, "%s: worst %g", name, worst);
    cr_expect_eq(hr, 0, "%s: nothing on the host", name);
    en_tensor *rel[] = {yc, w, dw, pc, lc, yd, pd, ld};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) en_tensor_release(rel[i]);
    for (int i = 0; i < nin; i++) {
        en_tensor_release(hx[i]);
        en_tensor_release(dx[i]);
    }
}

static en_tensor *g_linear(en_tensor *const *x) { return en_linear(x[0], x[1], x[2]); }
static en_tensor *g_mul_bcast(en_tensor *const *x) { return en_mul(x[0], x[1]); }
static en_tensor *g_div_bcast(en_tensor *const *x) { return en_div(x[0], x[1]); }
static en_tensor *g_sub_bcast(en_tensor *const *x) { return en_sub(x[0], x[1]); }
static en_tensor *g_mean_12(en_tensor *const *x) { return en_mean(x[0], 2, (const int[]){1, 2}, 1); }
static en_tensor *g_slice_perm(en_tensor *const *x) {
    en_tensor *s = en_slice(x[0], 1, 1, 5, 2), *t = en_transpose(s, 0, 2), *c = en_contiguous(t);
    en_tensor_release(s);
    en_tensor_release(t);
    return c;
}
static en_tensor *g_concat(en_tensor *const *x) { return en_concat(2, x, 1); }
static en_tensor *g_expand(en_tensor *const *x) {
    return en_expand(x[0], EN_DIMS(3, 4, 5, 6));
}
static en_tensor *g_l2n(en_tensor *const *x) { return en_l2_normalize(x[0], -1, 1e-12f); }
static en_tensor *g_matmul_bt(en_tensor *const *x) {
    en_tensor *t = en_transpose(x[1], 1, 2), *y = en_matmul(x[0], t);
    en_tensor_release(t);
    return y;
}
/* b's second use adds into a gradient that is not 0: the CPU's order from it */
static en_tensor *g_fanout(en_tensor *const *x) {
    en_tensor *p = en_mul(x[0], x[1]), *q = en_div(x[0], x[1]), *y = en_add(p, q);
    en_tensor_release(p);
    en_tensor_release(q);
    return y;
}
static en_tensor *g_softmax(en_tensor *const *x) { return en_softmax(x[0], 0); }
static en_tensor *g_max(en_tensor *const *x) { return en_max(x[0], 1, 0); }
static en_tensor *g_convt(en_tensor *const *x) { return en_conv_transpose2d(x[0], x[1], x[2], 2, 1, 1); }
static en_tensor *g_maxpool(en_tensor *const *x) { return en_max_pool2d(x[0], 3, 2, 1); }
static en_tensor *g_adapt(en_tensor *const *x) { return en_adaptive_avg_pool2d(x[0], 3, 2); }
static en_tensor *g_near(en_tensor *const *x) { return en_upsample_nearest(x[0], 0, 0, 2.0, 1.5); }
static en_tensor *g_bilin(en_tensor *const *x) { return en_upsample_bilinear(x[0], 11, 9, 0, 0, 1); }
static en_tensor *g_logsm(en_tensor *const *x) { return en_log_softmax(x[0], -1); }
static en_tensor *g_mse(en_tensor *const *x) { return en_mse(x[0], x[1]); }
static en_tensor *g_bce(en_tensor *const *x) { return en_bce_with_logits(x[0], x[1]); }
static en_tensor *g_gelu(en_tensor *const *x) { return en_gelu(x[0]); }

Test(device_train, op_backward_gives_the_cpu_bits, .timeout = 300) {
    int threads = en_get_num_threads();
    en_rng r;
    en_rng_seed(&r, 29);
    /* M = 2100 rows: the weight gradient's 1024-row blocks (three, the
     * last short) and nine of the bias gradient's 256-row blocks */
    en_tensor *x = en_tensor_randn(EN_DIMS(2100, 8), &r, 0, 1), *w = en_tensor_randn(EN_DIMS(6, 8), &r, 0, 1);
    en_tensor *b = en_tensor_randn(EN_DIMS(6), &r, 0, 1);
    grad_check("linear, 2100 rows", g_linear, 3, (en_tensor *[]){x, w, b});
    en_tensor *a4 = en_tensor_randn(EN_DIMS(3, 4, 5, 6), &r, 0, 1);
    en_tensor *b02 = en_tensor_uniform(EN_DIMS(4, 1, 6), &r, 0.5f, 2.0f); /* dims 0 and 2 summed: two runs */
    en_tensor *b1 = en_tensor_uniform(EN_DIMS(1, 4, 1, 1), &r, 0.5f, 2.0f);
    grad_check("mul, broadcast (4,1,6): two runs", g_mul_bcast, 2, (en_tensor *[]){a4, b02});
    grad_check("div, broadcast (1,4,1,1)", g_div_bcast, 2, (en_tensor *[]){a4, b1});
    grad_check("sub, broadcast (4,1,6)", g_sub_bcast, 2, (en_tensor *[]){a4, b02});
    grad_check("mul + div of one (4,1,6) (fan-out)", g_fanout, 2, (en_tensor *[]){a4, b02});
    grad_check("mean over 1, 2 keepdim", g_mean_12, 1, &a4);
    grad_check("slice, transpose, contiguous", g_slice_perm, 1, &a4);
    en_tensor *c2 = en_tensor_randn(EN_DIMS(3, 2, 5, 6), &r, 0, 1);
    grad_check("concat along 1", g_concat, 2, (en_tensor *[]){a4, c2});
    en_tensor *e = en_tensor_randn(EN_DIMS(4, 1, 6), &r, 0, 1);
    grad_check("expand (4,1,6) to (3,4,5,6)", g_expand, 1, &e);
    grad_check("l2_normalize", g_l2n, 1, &a4);
    en_tensor *m1 = en_tensor_randn(EN_DIMS(3, 4, 5), &r, 0, 1), *m2 = en_tensor_randn(EN_DIMS(3, 6, 5), &r, 0, 1);
    grad_check("batched matmul, b transposed", g_matmul_bt, 2, (en_tensor *[]){m1, m2});
    grad_check("softmax along 0", g_softmax, 1, &m1);
    grad_check("gelu", g_gelu, 1, &m1);
    grad_check("max along 1", g_max, 1, &m1);
    grad_check("log_softmax", g_logsm, 1, &m1);
    en_tensor *img = en_tensor_randn(EN_DIMS(2, 3, 7, 6), &r, 0, 1), *wt = en_tensor_randn(EN_DIMS(3, 4, 3, 3), &r, 0, 1);
    en_tensor *bt = en_tensor_randn(EN_DIMS(4), &r, 0, 1);
    grad_check("conv_transpose2d stride 2", g_convt, 3, (en_tensor *[]){img, wt, bt});
    grad_check("max_pool2d 3/2/1", g_maxpool, 1, &img);
    grad_check("adaptive_avg_pool2d 3x2", g_adapt, 1, &img);
    grad_check("upsample_nearest x2, x1.5", g_near, 1, &img);
    grad_check("upsample_bilinear 11x9 ac", g_bilin, 1, &img);
    en_tensor_release(img);
    en_tensor_release(wt);
    en_tensor_release(bt);
    en_tensor *m3 = en_tensor_uniform(EN_DIMS(3, 4, 5), &r, 0.0f, 1.0f);
    grad_check("mse", g_mse, 2, (en_tensor *[]){m1, m3});
    grad_check("bce_with_logits", g_bce, 2, (en_tensor *[]){m1, m3});
    en_tensor_release(m3);
    en_tensor *rel[] = {x, w, b, a4, b02, b1, c2, e, m1, m2};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) en_tensor_release(rel[i]);
    cr_expect_eq(fake_live_count(), 0, "every device buffer went back");
    en_set_num_threads(threads);
}

/* A parameter left on the CPU while the step runs on the device would get
 * no gradient (the per-call copy is not on the tape): that aborts. */
Test(device_train, a_model_not_moved_aborts_with_a_message, .signal = SIGABRT) {
    en_clip *m = cu_model(mini_vit(), 5);
    en_rng r;
    en_rng_seed(&r, 1);
    en_tensor *img = en_tensor_randn(EN_DIMS(2, 3, 32, 32), &r, 0, 1), *x = en_tensor_to(img, EN_CUDA);
    (void)en_clip_encode_image(m, x);
}

/* ---- the pre-training loop on the device ---------------------------------- */
static en_bpe *tiny_vocab(void) {
    char path[] = "/tmp/cb_dev_vocab_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    static char caps[200][256];
    const char *texts[200];
    for (int i = 0; i < 200; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 1, EN_SPLIT_PRETRAIN, (uint64_t)i);
        en_shapes_caption(&sc, 0, caps[i], sizeof caps[i], NULL);
        texts[i] = caps[i];
    }
    cr_assert(en_bpe_train(texts, 200, 120, path) > 50);
    en_bpe *b = en_bpe_load(path, -1);
    cr_assert(b, "%s", en_error_msg());
    unlink(path);
    return b;
}

/* en_pretrain_run with cfg.device on the fake device against the CPU: the
 * same loss log and the same final weights (the model comes back to the
 * CPU), with clipping on, and a run stopped after 3 of 6 steps (its state
 * written from the device) then resumed on the device ends as the
 * uninterrupted CPU run. The ResNet: its batch-norm buffers are state too. */
Test(device_train, pretrain_on_the_device_gives_the_cpu_run, .timeout = 300) {
    en_bpe *b = tiny_vocab();
    en_pretrain_cfg c = {0};
    c.model = (en_clip_config){.embed_dim = 32, .image_resolution = 16, .vision_vit = 0,
                               .vision_layers = {1, 1, 1, 1}, .vision_width = 16, .vision_heads = 2,
                               .context_length = 32, .vocab_size = en_bpe_vocab_size(b), .transformer_width = 32,
                               .transformer_heads = 2, .transformer_layers = 1, .resnet_stem_stride = 1,
                               .resnet_stem_pool = 1};
    c.steps = 6; c.batch = 8; c.lr = 3e-3; c.seed = 11; c.corpus = 64; c.warmup = 2; c.grad_clip = 1.0;
    en_pretrain_result cpu, part, rest;
    cr_assert_eq(en_pretrain_run(&c, b, &cpu), 0, "%s", en_error_msg());
    char path[] = "/tmp/cb_dev_state_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    c.device = EN_CUDA;
    c.state_path = path;
    c.stop_after = 3;
    uint64_t h0 = host_runs();
    cr_assert_eq(en_pretrain_run(&c, b, &part), 0, "%s", en_error_msg());
    cr_assert(part.interrupted && part.steps_done == 3);
    c.stop_after = 0;
    cr_assert_eq(en_pretrain_run(&c, b, &rest), 0, "%s", en_error_msg());
    uint64_t hr = host_runs() - h0;
    cr_assert_eq(rest.resumed_from, 3);
    cr_assert_eq(rest.steps_done, 6);
    en_params *pc = en_clip_params(cpu.model), *pd = en_clip_params(rest.model);
    cr_expect_eq(en_params_device(pd), EN_CPU, "the model comes back to the CPU");
    size_t n = (size_t)en_params_numel(pc);
    double wp = worst_of(en_params_data(pc), en_params_data(pd), n), wl = 0;
    for (int i = 0; i < 6; i++) {
        double d = fabs((double)cpu.loss[i] - rest.loss[i]);
        if (!(d <= wl)) wl = d;
    }
    printf("  pre-training, mini ResNet, 6 steps (3 + 3 resumed on the device): losses %.4f .. %.4f; "
           "worst |device - cpu| loss %.3g, final weights %.3g; host runs %llu\n",
           cpu.loss[0], cpu.loss[5], wl, wp, (unsigned long long)hr);
    cr_expect(wl == 0 && wp == 0, "loss %g, weights %g", wl, wp);
    cr_expect_eq(hr, 0, "nothing on the host but the state file");
    en_pretrain_result_free(&cpu);
    en_pretrain_result_free(&part);
    en_pretrain_result_free(&rest);
    en_bpe_free(b);
    cr_expect_eq(fake_live_count(), 0, "every device buffer went back");
}
