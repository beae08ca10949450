/* The engine's CLIP against tests/reference/clip_ref.py (PyTorch), on tiny
 * random-weight checkpoints with OpenAI's key names: a ViT (F32, heads from
 * metadata), an OpenAI-layout ResNet (F16, everything inferred from the
 * shapes) and clipbook's small-input ResNet variant (stem stride 1). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_clip.h"
#include "en_error.h"
#include "en_npy.h"
#include "en_safetensors.h"
#include "kn_gemm.h"

#define DIR "tests/clip/models/"

static const int64_t TOKENS[3][12] = {
    {9, 17, 3, 250, 0, 0, 0, 0, 0, 0, 0, 0},
    {9, 41, 42, 43, 44, 45, 46, 47, 48, 49, 299, 0},
    {9, 299, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static en_tensor *images(int n, int res) {
    int64_t count = (int64_t)n * 3 * res * res;
    float *d = malloc((size_t)count * sizeof *d);
    for (int64_t i = 0; i < count; i++) d[i] = (float)(sin(0.37 * (double)i + 0.11) * 1.5);
    en_tensor *t = en_tensor_from_f32(EN_DIMS(n, 3, res, res), d);
    free(d);
    return t;
}

/* max |got - want| / max |want| */
static double rel_err(const en_tensor *got, const char *npy) {
    en_ndbuf want;
    cr_assert_eq(en_npy_read_as(npy, EN_F32, &want), 0, "%s", en_error_msg());
    cr_assert_eq(got->ndim, want.ndim, "%s: rank %d vs %d", npy, got->ndim, want.ndim);
    for (int d = 0; d < got->ndim; d++)
        cr_assert_eq(got->shape[d], want.shape[d], "%s: dim %d: %lld vs %lld", npy, d,
                     (long long)got->shape[d], (long long)want.shape[d]);
    en_tensor *c = en_tensor_clone(got);
    const float *g = en_tensor_f32(c), *w = want.data;
    double maxd = 0, maxw = 0;
    for (size_t i = 0; i < en_ndbuf_numel(&want); i++) {
        maxd = fmax(maxd, fabs((double)g[i] - w[i]));
        maxw = fmax(maxw, fabs((double)w[i]));
    }
    en_tensor_release(c);
    en_ndbuf_free(&want);
    return maxd / maxw;
}

static void check_model(const char *name, int res) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s.safetensors", name);
    en_clip *m = en_clip_load(path);
    cr_assert(m, "load %s: %s", path, en_error_msg());
    cr_assert_eq(en_clip_get_config(m)->image_resolution, res);
    int prev = en_grad_set_enabled(0);
    en_tensor *x = images(2, res);
    en_tensor *img = en_clip_encode_image(m, x), *pre = en_clip_image_prepool(m, x);
    cr_assert(img && pre, "%s", en_error_msg());
    en_tensor *tok = en_tensor_from_i64(EN_DIMS(3, 12), &TOKENS[0][0]);
    en_tensor *txt = en_clip_encode_text(m, tok);
    cr_assert(txt, "%s", en_error_msg());
    const char *what[3] = { "image", "prepool", "text" };
    en_tensor *got[3] = { img, pre, txt };
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, DIR "%s.%s.npy", name, what[k]);
        double e = rel_err(got[k], path);
        cr_log_info("%s %s: relative error %.2e", name, what[k], e);
        cr_assert(e < 2e-5, "%s %s: relative error %.3g vs PyTorch", name, what[k], e);
        en_tensor_release(got[k]);
    }
    en_tensor_release(x);
    en_tensor_release(tok);
    en_grad_set_enabled(prev);
    en_clip_free(m);
}

Test(clip_models, vit_matches_reference) { check_model("vit", 32); }
Test(clip_models, resnet_f16_inferred_matches_reference) { check_model("rn", 64); }
Test(clip_models, resnet_small_input_variant_matches_reference) { check_model("rn_stem1", 32); }

Test(clip_models, save_load_roundtrip) {
    en_clip *m = en_clip_load(DIR "rn_stem1.safetensors");
    cr_assert(m, "%s", en_error_msg());
    char path[] = "/tmp/cb_clip_XXXXXX.safetensors";
    int fd = mkstemps(path, 12);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(en_clip_save(m, path), 0, "%s", en_error_msg());
    en_clip *m2 = en_clip_load(path);
    cr_assert(m2, "%s", en_error_msg());
    en_params *a = en_clip_params(m), *b = en_clip_params(m2);
    cr_assert_eq(en_params_numel(a), en_params_numel(b));
    cr_assert(!memcmp(en_params_data(a), en_params_data(b), (size_t)en_params_numel(a) * sizeof(float)));
    cr_assert_eq(en_clip_get_config(m2)->resnet_stem_stride, 1);
    en_clip_free(m); en_clip_free(m2);
    unlink(path);
}

Test(clip_models, new_model_shapes_and_errors) {
    en_clip_config c = { .embed_dim = 32, .image_resolution = 32, .vision_vit = 1, .vision_layers = {2},
                         .vision_width = 64, .vision_patch_size = 8, .context_length = 16,
                         .vocab_size = 100, .transformer_width = 64, .transformer_layers = 2 };
    en_rng r;
    en_rng_seed(&r, 1);
    en_clip *m = en_clip_new(&c, &r);
    cr_assert(m, "%s", en_error_msg());
    int prev = en_grad_set_enabled(0);
    en_tensor *bad = en_tensor_zeros(EN_DIMS(1, 3, 30, 30));
    cr_assert_null(en_clip_encode_image(m, bad));
    cr_assert(strstr(en_error_msg(), "(N, 3, 32, 32)"), "%s", en_error_msg());
    en_tensor *ok = en_tensor_zeros(EN_DIMS(2, 3, 32, 32));
    en_tensor *f = en_clip_encode_image(m, ok);
    cr_assert(f && f->shape[0] == 2 && f->shape[1] == 32);
    int64_t toks[2] = { 5, 200 };
    en_tensor *t = en_tensor_from_i64(EN_DIMS(1, 2), toks);
    cr_assert_null(en_clip_encode_text(m, t));
    cr_assert(strstr(en_error_msg(), "200"), "%s", en_error_msg());
    en_tensor_release(bad); en_tensor_release(ok); en_tensor_release(f); en_tensor_release(t);
    en_grad_set_enabled(prev);
    en_clip_free(m);
    c.image_resolution = 30;
    cr_assert_null(en_clip_new(&c, &r));
}

Test(clip_models, bad_checkpoints_name_the_key) {
    cr_assert_null(en_clip_load("/nonexistent.safetensors"));
    cr_assert(strstr(en_error_msg(), "/nonexistent.safetensors"));
}

/* Rewrites rn_stem1 with one change: drop `drop`, add `extra`, or give
 * `reshape` a wrong shape; returns the error of loading it. */
static const char *load_modified(const char *drop, const char *extra, const char *reshape) {
    static char msg[512];
    en_st_file *f = en_st_open(DIR "rn_stem1.safetensors");
    cr_assert(f);
    int n = en_st_count(f), k = 0;
    const char **names = calloc((size_t)n + 1, sizeof *names);
    en_ndbuf *bufs = calloc((size_t)n + 1, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const en_st_entry *e = en_st_entry_at(f, i);
        if (drop && !strcmp(e->name, drop)) continue;
        cr_assert_eq(en_st_read_ndbuf(f, e, &bufs[k]), 0);
        if (reshape && !strcmp(e->name, reshape)) { bufs[k].shape[0] = 1; bufs[k].nbytes = en_ndbuf_numel(&bufs[k]) * en_dtype_size(bufs[k].dtype); }
        names[k++] = e->name;
    }
    float one = 1;
    if (extra) { names[k] = extra; bufs[k++] = (en_ndbuf){ .dtype = EN_F32, .ndim = 1, .shape = {1}, .data = &one, .nbytes = 4 }; }
    char path[] = "/tmp/cb_clip_bad_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int nm = en_st_meta_count(f);
    const char *keys[32], *vals[32];
    for (int i = 0; i < nm && i < 32; i++) en_st_meta_at(f, i, &keys[i], &vals[i]);
    cr_assert_eq(en_st_write(path, k, names, bufs, nm, keys, vals), 0, "%s", en_error_msg());
    for (int i = 0; i < k; i++) if (!extra || i < k - 1) en_ndbuf_free(&bufs[i]);
    en_st_close(f);
    free(names); free(bufs);
    en_clip *m = en_clip_load(path);
    unlink(path);
    cr_assert_null(m, "a bad checkpoint loaded");
    snprintf(msg, sizeof msg, "%s", en_error_msg());
    return msg;
}

Test(clip_models, bad_keys_and_shapes_are_named) {
    const char *e = load_modified("visual.layer2.0.conv2.weight", NULL, NULL);
    cr_assert(strstr(e, "missing key 'visual.layer2.0.conv2.weight'"), "%s", e);
    e = load_modified(NULL, "visual.surprise", NULL);
    cr_assert(strstr(e, "unexpected key 'visual.surprise'"), "%s", e);
    e = load_modified(NULL, NULL, "visual.attnpool.c_proj.weight");
    cr_assert(strstr(e, "'visual.attnpool.c_proj.weight' has shape [1, 64], expected [16, 64]"), "%s", e);
}

/* The memo store keeps models as checkpoint bytes made in memory: the same
 * bytes as the file, and they load back to the same parameters. */
Test(clip_models, save_load_in_memory) {
    en_clip *m = en_clip_load(DIR "rn_stem1.safetensors");
    cr_assert(m, "%s", en_error_msg());
    void *bytes = NULL;
    size_t n = 0;
    cr_assert_eq(en_clip_save_mem(m, &bytes, &n), 0, "%s", en_error_msg());
    char path[] = "/tmp/cb_clip_XXXXXX.safetensors";
    int fd = mkstemps(path, 12);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(en_clip_save(m, path), 0, "%s", en_error_msg());
    FILE *f = fopen(path, "rb");
    char *disk = malloc(n + 1);
    size_t got = fread(disk, 1, n + 1, f);
    fclose(f);
    unlink(path);
    cr_assert(got == n && !memcmp(disk, bytes, n), "in-memory checkpoint differs from the file (%zu vs %zu bytes)", n, got);
    en_clip *m2 = en_clip_load_mem(bytes, n, "memo");
    cr_assert(m2, "%s", en_error_msg());
    en_params *a = en_clip_params(m), *b = en_clip_params(m2);
    cr_assert(!memcmp(en_params_data(a), en_params_data(b), (size_t)en_params_numel(a) * sizeof(float)));
    cr_assert_null(en_clip_load_mem(bytes, n / 2, "memo"), "a truncated checkpoint must not load");
    cr_assert(strstr(en_error_msg(), "memo"), "%s", en_error_msg());
    free(disk); free(bytes);
    en_clip_free(m); en_clip_free(m2);
}

/* The batched encoder: pictures in [0,1], normalised with CLIP's mean/std,
 * in chunks, gives exactly the rows of one call on normalised pictures. */
static void check_batched(const char *name, int res, int prepool) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s.safetensors", name);
    en_clip *m = en_clip_load(path);
    cr_assert(m, "%s", en_error_msg());
    int n = 5;
    en_tensor *x = images(n, res);
    float *px = en_tensor_f32(x);
    for (int64_t i = 0; i < en_tensor_numel(x); i++) px[i] = 0.5f + 0.3f * px[i];   /* into [0,1] */
    int64_t dims[3], per = 1;
    int nd = en_clip_feature_dims(m, prepool, dims);
    for (int d = 0; d < nd; d++) per *= dims[d];
    float *out = malloc(sizeof(float) * (size_t)(n * per));
    cr_assert_eq(en_clip_encode_images_batched(m, px, n, 0, 2, prepool, out), 0, "%s", en_error_msg());
    en_tensor *xn = en_tensor_from_f32(EN_DIMS(n, 3, res, res), px);
    static const float mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f }, sd[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
    float *q = en_tensor_f32(xn);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < res * res; k++) {
                size_t o = ((size_t)i * 3 + c) * (size_t)(res * res) + (size_t)k;
                q[o] = (q[o] - mean[c]) / sd[c];
            }
    en_tensor *ref = prepool ? en_clip_image_prepool(m, xn) : en_clip_encode_image(m, xn);
    cr_assert(ref, "%s", en_error_msg());
    en_tensor *rc = en_contiguous(ref);
    cr_assert_eq(en_tensor_numel(rc), n * per, "feature dims disagree with the encoder");
    double worst = 0;
    for (int64_t i = 0; i < n * per; i++) worst = fmax(worst, fabs((double)out[i] - en_tensor_f32(rc)[i]));
    cr_log_info("%s batched %s: worst |diff| %.3g", name, prepool ? "prepool" : "pooled", worst);
    /* rows are independent: a chunk of 2 and a batch of 5 may take other
     * GEMM blockings, so allow float rounding of the widest dot product
     * (width 32..64 terms of size ~1: ~64·6e-8 ≈ 4e-6) */
    cr_assert(worst < 1e-5, "%s: batched encoding differs by %g", name, worst);
    free(out);
    en_tensor_release(x); en_tensor_release(xn); en_tensor_release(ref); en_tensor_release(rc);
    en_clip_free(m);
}

Test(clip_models, batched_encoder_vit) { check_batched("vit", 32, 0); check_batched("vit", 32, 1); }
Test(clip_models, batched_encoder_resnet) { check_batched("rn_stem1", 32, 0); check_batched("rn_stem1", 32, 1); }

/* The text tower runs prompts in groups of similar length, each to its own
 * longest prompt (en_clip_encode_text): a batch of prompts of 2 to 30 tokens
 * must give each prompt's features exactly as the prompt encoded alone (rows
 * are independent and the engine's products give a row the same bits in any
 * batch), and the weights' gradient of a loss over the batch the sum of the
 * prompts' own gradients, up to the order of that sum. */
Test(clip_models, text_groups_give_each_prompt_alone) {
    en_clip *m = en_clip_load(DIR "vit.safetensors");
    cr_assert(m, "%s", en_error_msg());
    const en_clip_config *cf = en_clip_get_config(m);
    enum { N = 24 };
    int L = cf->context_length < 30 ? cf->context_length : 30, V = cf->vocab_size;
    int64_t *tok = calloc((size_t)N * L, sizeof *tok);
    for (int i = 0; i < N; i++) {
        int len = i % 3 == 0 ? 2 + i % 5 : i % 3 == 1 ? L - 1 - i % 4 : 3 + (i * 7) % (L - 3);
        tok[i * L] = V - 2;
        for (int k = 1; k < len - 1; k++) tok[i * L + k] = (i * 13 + k * 7) % (V - 2);
        tok[i * L + len - 1] = V - 1;   /* the end token: the largest id */
    }
    en_params *p = en_clip_params(m);
    int64_t np = en_params_numel(p);
    float *wts = malloc(sizeof(float) * (size_t)N * 64), *gsum = calloc((size_t)np, sizeof *gsum);
    for (int i = 0; i < N * 64; i++) wts[i] = (float)sin(0.7 * i + 0.3);
    en_tensor *all = en_tensor_from_i64(EN_DIMS(N, L), tok);
    en_tensor *f = en_clip_encode_text(m, all);
    cr_assert(f, "%s", en_error_msg());
    int64_t E = f->shape[1];
    cr_assert(E <= 64);
    en_tensor *fc = en_contiguous(f);
    /* loss = sum_i <f_i, w_i>: its gradient through every prompt */
    en_tensor *w = en_tensor_from_f32(EN_DIMS(N, E), wts);
    en_params_zero_grad(p);
    en_tensor *fw = en_mul(f, w), *loss = en_sum_all(fw);
    en_backward(loss);
    float *gall = malloc(sizeof(float) * (size_t)np);
    memcpy(gall, en_params_grad(p), sizeof(float) * (size_t)np);
    /* bit for bit where the GEMM keeps a row's bits in any batch (the engine's
     * kernel, what the calibration keeps); a forced OpenBLAS (CLIPBOOK_GEMM=
     * blas) picks kernels by the product's size, so there the rows agree to
     * float rounding of the widest dot product (width 64..256: ~1e-5) */
    const int exact = !kn_gemm_uses_blas();
    size_t differ = 0;
    double worst = 0, fmax_all = 0;
    for (int i = 0; i < N; i++) {
        en_tensor *one = en_tensor_from_i64(EN_DIMS(1, L), tok + (size_t)i * L);
        en_tensor *fi = en_clip_encode_text(m, one);
        cr_assert(fi, "%s", en_error_msg());
        en_tensor *fic = en_contiguous(fi);
        differ += memcmp(en_tensor_f32(fic), en_tensor_f32(fc) + i * E, sizeof(float) * (size_t)E) != 0;
        for (int64_t k = 0; k < E; k++) {
            worst = fmax(worst, fabs((double)en_tensor_f32(fic)[k] - en_tensor_f32(fc)[i * E + k]));
            fmax_all = fmax(fmax_all, fabs((double)en_tensor_f32(fc)[i * E + k]));
        }
        en_tensor *wi = en_tensor_from_f32(EN_DIMS(1, E), wts + i * E);
        en_params_zero_grad(p);
        en_tensor *fwi = en_mul(fi, wi), *li = en_sum_all(fwi);
        en_backward(li);
        const float *g = en_params_grad(p);
        for (int64_t k = 0; k < np; k++) gsum[k] += g[k];
        en_tensor_release(one); en_tensor_release(fi); en_tensor_release(fic); en_tensor_release(wi);
        en_tensor_release(fwi); en_tensor_release(li);
    }
    double maxd = 0, maxg = 0;
    for (int64_t k = 0; k < np; k++) {
        maxd = fmax(maxd, fabs((double)gall[k] - gsum[k]));
        maxg = fmax(maxg, fabs((double)gsum[k]));
    }
    printf("text groups (%s): %zu of %d prompts differ from alone (worst %.2e of max |f|); gradient max |diff| / "
           "max |g| %.2e\n", exact ? "engine GEMM, bits" : "OpenBLAS, rounding", differ, N, worst / fmax_all,
           maxd / maxg);
    if (exact)
        cr_expect_eq(differ, 0, "%zu of %d prompts' features differ from the prompt encoded alone", differ, N);
    else
        cr_expect(worst <= 1e-5 * fmax_all, "features differ from alone by %.3g of their largest value",
                  worst / fmax_all);
    /* a sum of N = 24 prompts' float gradients in another order: ~N eps relative */
    cr_expect(maxd / maxg < 1e-5, "gradient differs by %.3g of its largest value", maxd / maxg);
    free(tok); free(wts); free(gsum); free(gall);
    en_tensor_release(all); en_tensor_release(f); en_tensor_release(fc); en_tensor_release(w); en_tensor_release(fw);
    en_tensor_release(loss);
    en_clip_free(m);
}
