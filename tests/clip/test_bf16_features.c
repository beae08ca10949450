/* BF16 inference (engine/en_bf16.h) on the committed test towers: image
 * features at precision bf16 against float32, per picture. The acceptance
 * bound is issue 16's target for the study's features, cosine >= 0.999:
 * each linear layer's products carry at most (2u + u^2) relative error,
 * u = 2^-8 (tests/kernels/test_bf16.c bounds the GEMM itself); through a
 * tower whose layer norms rescale every block the feature error stays of
 * the order of u (about 4e-3 relative, cosine 1 - 1e-5 by |e|^2 / 2),
 * so 0.999 leaves room for the ~20 linear layers' errors adding up in the
 * worst direction. Also: the bf16 path really ran (the features differ),
 * a ResNet's convolutions are left in float32, and the scope is closed
 * afterwards. A CPU without AVX512_BF16 skips, saying why.
 *
 * The text tower (embed-texts, the study's text features at precision
 * bf16): each of its linear layers, on the committed towers' own weights,
 * against float32 within the bound bf16's 8-bit mantissa and the sum's
 * length K give; then its features end to end (cosine, as above). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_bf16.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_tensor.h"
#include "en_rng.h"
#include "kn_bf16.h"

static void check(const char *name, int res) {
    char path[256];
    snprintf(path, sizeof path, "tests/clip/models/%s.safetensors", name);
    en_clip *m = en_clip_load(path);
    cr_assert(m, "%s", en_error_msg());
    enum { N = 6 };
    size_t px = (size_t)3 * res * res;
    float *x = malloc(sizeof(float) * N * px);
    en_rng r; en_rng_seed(&r, 81);
    for (size_t i = 0; i < N * px; i++) x[i] = (float)en_rng_uniform(&r);
    int64_t dims[3];
    en_clip_feature_dims(m, 0, dims);
    int64_t E = dims[0];
    float *f32 = malloc(sizeof(float) * N * E), *b16 = malloc(sizeof(float) * N * E);
    cr_assert_eq(en_clip_encode_images_precision(m, x, N, 0, 4, 0, EN_PREC_FP32, f32), 0, "%s", en_error_msg());
    cr_assert_eq(en_clip_encode_images_precision(m, x, N, 0, 4, 0, EN_PREC_BF16, b16), 0, "%s", en_error_msg());
    double worst = 1;
    size_t differ = 0;
    for (int i = 0; i < N; i++) {
        double d = 0, a = 0, b = 0;
        for (int64_t k = 0; k < E; k++) {
            double u = f32[i * E + k], v = b16[i * E + k];
            d += u * v; a += u * u; b += v * v;
            differ += u != v;
        }
        worst = fmin(worst, d / sqrt(a * b));
    }
    printf("%s: bf16 vs float32 image features, worst cosine %.6f (1 - %.2g), %zu of %lld values differ\n", name,
           worst, 1 - worst, differ, (long long)(N * E));
    cr_expect(worst >= 0.999, "%s: cosine %.6f below 0.999", name, worst);
    cr_expect(differ > 0, "%s: bf16 gave float32's bits: did it run?", name);
    float w = 1;
    cr_expect_null(en_bf16_weight(&w, 1, 1, 1), "the scope is still open after the encoder returned");
    free(x); free(f32); free(b16);
    en_clip_free(m);
}

Test(bf16_features, vit) {
    if (!kn_bf16_available()) cr_skip_test("%s", en_bf16_unavailable());
    check("vit", 32);
}

Test(bf16_features, resnet_attention_pool) {
    if (!kn_bf16_available()) cr_skip_test("%s", en_bf16_unavailable());
    check("rn_stem1", 32);
}

/* Every linear layer of the text transformer (transformer.resblocks.*:
 * attention in/out projections, MLP c_fc/c_proj), weights and biases as the
 * model has them, on 7 rows of U(-1,1) inputs, inside the bf16 scope
 * against outside it. Bound per output y_j = b_j + sum_k x_k w_jk: bf16
 * rounds x_k and w_jk to 8 significant bits (u = 2^-8), so each product is
 * off by at most (2u + u^2)|x_k w_jk|; both sides then sum K products and
 * the bias in float32, each within (K + 2) eps32 (sum |x w| + |b|) of its
 * exact sum (test_gemm's bound), so
 *   |y_bf16 - y_fp32| <= (2u + u^2) S + 2 (K + 2) eps32 (S + |b_j|),
 * S = sum_k |x_k w_jk|. Also: some outputs differ (the layer ran bf16). */
static void check_text_layers(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/clip/models/%s.safetensors", name);
    en_clip *m = en_clip_load(path);
    cr_assert(m, "%s", en_error_msg());
    en_params *P = en_clip_params(m);
    static const char *kinds[][2] = {{"attn.in_proj_weight", "attn.in_proj_bias"},
                                     {"attn.out_proj.weight", "attn.out_proj.bias"},
                                     {"mlp.c_fc.weight", "mlp.c_fc.bias"},
                                     {"mlp.c_proj.weight", "mlp.c_proj.bias"}};
    const double u = 1.0 / 256, e32 = FLT_EPSILON / 2;
    int prev = en_grad_set_enabled(0), layers = 0;
    double worst = 0;
    en_rng r; en_rng_seed(&r, 83);
    for (int l = 0; l < en_clip_get_config(m)->transformer_layers; l++)
        for (int k = 0; k < 4; k++) {
            char wn[128], bn[128];
            snprintf(wn, sizeof wn, "transformer.resblocks.%d.%s", l, kinds[k][0]);
            snprintf(bn, sizeof bn, "transformer.resblocks.%d.%s", l, kinds[k][1]);
            en_tensor *w = en_params_find(P, wn), *b = en_params_find(P, bn);
            cr_assert(w && b, "%s: no %s / %s", name, wn, bn);
            int64_t N = w->shape[0], K = w->shape[1], M = 7;
            float *xd = malloc(sizeof(float) * (size_t)(M * K));
            for (int64_t i = 0; i < M * K; i++) xd[i] = (float)(2 * en_rng_uniform(&r) - 1);
            en_tensor *x = en_tensor_from_f32(EN_DIMS(M, K), xd);
            en_tensor *y32 = en_linear(x, w, b);
            cr_assert_eq(en_bf16_begin(en_params_data(P), en_params_numel(P)), 1);
            en_tensor *y16 = en_linear(x, w, b);
            en_bf16_end();
            const float *a = en_tensor_f32(y32), *c = en_tensor_f32(y16), *wd = en_tensor_f32(w), *bd = en_tensor_f32(b);
            double lw = 0;
            size_t differ = 0;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double S = 0;
                    for (int64_t q = 0; q < K; q++) S += fabs((double)xd[i * K + q] * wd[j * K + q]);
                    double bound = (2 * u + u * u) * S + 2 * (K + 2) * e32 * (S + fabs(bd[j])) + DBL_MIN;
                    double d = fabs((double)c[i * N + j] - a[i * N + j]) / bound;
                    if (!(d <= lw)) lw = d;
                    differ += c[i * N + j] != a[i * N + j];
                }
            cr_expect(lw <= 1, "%s %s (%lld x %lld): error %.3g of the bound", name, wn, (long long)N, (long long)K, lw);
            cr_expect(differ > 0, "%s %s: bf16 gave float32's bits: did it run?", name, wn);
            if (!(lw <= worst)) worst = lw;
            layers++;
            en_tensor_release(x); en_tensor_release(y32); en_tensor_release(y16);
            free(xd);
        }
    printf("%s: %d text linear layers, bf16 vs float32, worst error %.3f of the bound\n", name, layers, worst);
    cr_expect_gt(layers, 0);
    en_grad_set_enabled(prev);
    en_clip_free(m);
}

/* The text features end to end: en_clip_encode_text_precision at bf16
 * against fp32, whose bits must be en_clip_encode_text's own (the default
 * path unchanged); cosine >= 0.999 per prompt as for the image features. */
static void check_text_features(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/clip/models/%s.safetensors", name);
    en_clip *m = en_clip_load(path);
    cr_assert(m, "%s", en_error_msg());
    static const int64_t tokens[3][12] = {
        {9, 17, 3, 250, 0, 0, 0, 0, 0, 0, 0, 0},
        {9, 41, 42, 43, 44, 45, 46, 47, 48, 49, 299, 0},
        {9, 299, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    };
    en_tensor *tok = en_tensor_from_i64(EN_DIMS(3, 12), &tokens[0][0]);
    int prev = en_grad_set_enabled(0);
    en_tensor *plain = en_clip_encode_text(m, tok);
    en_grad_set_enabled(prev);
    en_tensor *f32 = en_clip_encode_text_precision(m, tok, EN_PREC_FP32);
    en_tensor *b16 = en_clip_encode_text_precision(m, tok, EN_PREC_BF16);
    cr_assert(plain && f32 && b16, "%s", en_error_msg());
    int64_t n = f32->shape[0], E = f32->shape[1];
    cr_expect(!memcmp(en_tensor_f32(plain), en_tensor_f32(f32), sizeof(float) * (size_t)(n * E)),
              "%s: precision fp32 changed the text features' bits", name);
    const float *a = en_tensor_f32(f32), *c = en_tensor_f32(b16);
    double worst = 1;
    size_t differ = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = 0, p = 0, q = 0;
        for (int64_t k = 0; k < E; k++) {
            d += (double)a[i * E + k] * c[i * E + k];
            p += (double)a[i * E + k] * a[i * E + k];
            q += (double)c[i * E + k] * c[i * E + k];
            differ += a[i * E + k] != c[i * E + k];
        }
        worst = fmin(worst, d / sqrt(p * q));
    }
    printf("%s: bf16 vs float32 text features, worst cosine %.6f (1 - %.2g), %zu of %lld values differ\n", name, worst,
           1 - worst, differ, (long long)(n * E));
    cr_expect(worst >= 0.999, "%s: text cosine %.6f below 0.999", name, worst);
    cr_expect(differ > 0, "%s: bf16 gave float32's bits: did it run?", name);
    float w = 1;
    cr_expect_null(en_bf16_weight(&w, 1, 1, 1), "the scope is still open after the text encoder returned");
    en_tensor_release(tok); en_tensor_release(plain); en_tensor_release(f32); en_tensor_release(b16);
    en_clip_free(m);
}

Test(bf16_features, text_linear_layers_within_bf16_rounding) {
    if (!kn_bf16_available()) cr_skip_test("%s", en_bf16_unavailable());
    check_text_layers("vit");
    check_text_layers("rn_stem1");
}

Test(bf16_features, text_features) {
    if (!kn_bf16_available()) cr_skip_test("%s", en_bf16_unavailable());
    check_text_features("vit");
    check_text_features("rn_stem1");
}
