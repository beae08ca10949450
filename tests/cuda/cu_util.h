/* Helpers of the CUDA parity tests: the CUDA back end or a skip, device
 * copies of host arrays, and the tolerances by precision.
 *
 * Tolerances (worst |gpu - cpu| / (1 + |cpu|), kt_worst):
 *  - kernels without a GEMM (elementwise, softmax, norms, pools, resampling):
 *    1e-5. The two sides differ by summation order over at most a few
 *    thousand terms and by expf/tanhf implementations of a few ulp.
 *  - FP32 GEMMs over a reduction of length K: max(1e-5, 4 ε sqrt(K)),
 *    ε = 2^-24. A running sum of K unit-normal products rounds with an error
 *    of about ε K / sqrt(6) (partial sums of size sqrt(k)), against a result
 *    of size sqrt(K): 0.41 ε sqrt(K) relative per side, 0.58 ε sqrt(K) for
 *    the difference of two orders; the worst of ~1e5 outputs near 5 sigma
 *    gives 3 ε sqrt(K), rounded up to 4 (K = 12544, RN50's stem dw:
 *    2.7e-5; K <= 1700: 1e-5).
 *  - TF32 / BF16 GEMMs round each input to 10 / 7 mantissa bits (unit
 *    roundoff u = 2^-11 / 2^-8); a dot product of unit-normal terms then
 *    errs by about 0.8 u relative (one standard deviation: the rounding of
 *    two inputs per product, uniform, summed over K, against an output of
 *    size sqrt(K)). The worst of ~1e5 outputs sits near 5 sigma, so the
 *    tolerance is 4 u: TF32 2e-3, BF16 1.6e-2. (The "about 3e-4 /
 *    1e-2" are the per-output typical errors, not the worst of a tensor.)
 */
#ifndef CU_UTIL_H
#define CU_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_clip.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_tensor.h"
#include "kn_backend.h"
#include "../kernels/kt_util.h"

static inline const kn_backend *cu_backend(void) {
    const kn_backend *g = kn_cuda_backend();
    if (!g) {
        /* Criterion's summary leaves skipped tests out; tests/run.sh counts
         * these lines into the suite's "skipped" */
        printf("skip: no CUDA device\n");
        fflush(stdout);
        cr_skip_test("skip: no CUDA device");
    }
    return g;
}

static inline en_rng cu_rng(uint64_t seed) {
    en_rng r;
    en_rng_seed(&r, seed);
    return r;
}

static inline double cu_tol_plain(void) { return 1e-5; }

/* A random-weight CLIP of config c, its weights drawn from seed: two calls
 * with one seed give two identical models (one for each side of a test). */
static inline en_clip *cu_model(en_clip_config c, uint64_t seed) {
    en_clip_config_finish(&c);
    en_rng r;
    en_rng_seed(&r, seed);
    en_clip *m = en_clip_new(&c, &r);
    cr_assert(m, "%s", en_error_msg());
    return m;
}

/* n floats of a device (or host) buffer, on the host (caller frees) */
static inline float *cu_to_host(en_device dev, const float *p, size_t n) {
    float *h = malloc((n ? n : 1) * sizeof *h);
    cr_assert(h != NULL);
    if (dev == EN_CPU) memcpy(h, p, n * sizeof *h);
    else kn_backend_get(dev)->copy(h, p, n * sizeof *h, KN_COPY_D2H);
    return h;
}

/* CLIP's symmetric contrastive loss with the ops of en_pretrain.c's
 * en_clip_contrastive_loss, for the GPU machine's program: linking
 * en_pretrain.o would pull in the BPE and safetensors readers (zlib, cJSON),
 * which that machine lacks. */
static inline en_tensor *cu_contrastive_loss(en_tensor *img, en_tensor *txt, en_tensor *logit_scale) {
    int64_t B = img->shape[0];
    en_tensor *in = en_l2_normalize(img, -1, 1e-12f), *tn = en_l2_normalize(txt, -1, 1e-12f);
    en_tensor *tt = en_transpose(tn, 0, 1), *cos = en_matmul(in, tt), *scale = en_exp(logit_scale);
    en_tensor *logits = en_mul(cos, scale), *lt = en_transpose(logits, 0, 1);
    int64_t *lab = malloc((size_t)B * sizeof *lab);
    for (int64_t i = 0; i < B; i++) lab[i] = i;
    en_tensor *labels = en_tensor_from_i64(EN_DIMS(B), lab);
    free(lab);
    en_tensor *a = en_cross_entropy(logits, labels), *b = en_cross_entropy(lt, labels);
    en_tensor *sum = en_add(a, b), *loss = en_mul_scalar(sum, 0.5f);
    en_tensor *rel[] = {in, tn, tt, cos, scale, logits, lt, labels, a, b, sum};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) en_tensor_release(rel[i]);
    return loss;
}
/* K: the length of the GEMM's reduction */
static inline double cu_tol_gemm(int64_t K) {
    double f32 = 4.0 * 5.9604644775390625e-8 * sqrt((double)(K > 0 ? K : 1));
    if (f32 < 1e-5) f32 = 1e-5;
    switch (kn_cuda_precision()) {
    case KN_PREC_TF32: return f32 + 4.0 / 2048;
    case KN_PREC_BF16: return f32 + 4.0 / 256;
    default: return f32;
    }
}

/* Sums of products (GEMM, convolution, their gradients) are checked
 * element by element against the size of their terms: scale[i] is the same
 * operation run on the CPU over the inputs' absolute values (|alpha||A||B| +
 * |beta||C| for a GEMM), the quantity the rounding error of a dot product
 * is proportional to (Higham, Accuracy and Stability of Numerical
 * Algorithms, 2nd ed., section 3.1). Judged by 1 + |c| instead, an element
 * whose terms cancel to near zero looks inaccurate when it is not.
 *
 * cu_tol_dot(K), for |gpu - cpu| / scale with reductions of length K:
 * both sides round an FP32 accumulation, each within about u sqrt(K) of
 * the scale with high probability (Higham and Mary's probabilistic bound;
 * 4 standard deviations each: 8 u sqrt(K), u = 2^-24). TF32 and BF16
 * round both factors of each product first (10 and 7 kept mantissa bits,
 * by truncation at worst), so each product is off by at most 2^-10 or
 * 2^-7 of itself twice over, whatever K is: 2 * 2^-10 and 2 * 2^-7 more. */
static inline double cu_tol_dot(int64_t K) {
    double t = 8.0 * 5.9604644775390625e-8 * sqrt((double)(K > 1 ? K : 1));
    switch (kn_cuda_precision()) {
    case KN_PREC_TF32: return t + 2.0 / 1024;
    case KN_PREC_BF16: return t + 2.0 / 128;
    default: return t;
    }
}

/* a fresh array of |h| */
static inline float *cu_abs(const float *h, size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    cr_assert(p);
    for (size_t i = 0; i < n; i++) p[i] = fabsf(h[i]);
    return p;
}

/* a device copy of n host floats */
static inline float *cu_up(const kn_backend *g, const float *h, size_t n) {
    float *d = g->alloc(n * sizeof(float));
    cr_assert(d, "device alloc of %zu floats: %s", n, kn_cuda_last_error());
    g->copy(d, h, n * sizeof(float), KN_COPY_H2D);
    return d;
}
/* a fresh host array of the n floats at d */
static inline float *cu_down(const kn_backend *g, const float *d, size_t n) {
    float *h = malloc((n ? n : 1) * sizeof(float));
    cr_assert(h);
    g->copy(h, d, n * sizeof(float), KN_COPY_D2H);
    return h;
}
static inline float *cu_dup(const float *h, size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    cr_assert(p);
    memcpy(p, h, n * sizeof(float));
    return p;
}

/* Compares the n device floats at d with host ref; prints and asserts. */
static inline void cu_check(const kn_backend *g, const char *what, const float *d,
                            const float *ref, size_t n, double tol) {
    float *h = cu_down(g, d, n);
    double w = kt_worst(what, h, ref, n);
    free(h);
    cr_expect(w <= tol, "%s: worst rel diff %.3g > %.3g", what, w, tol);
}

/* Compares the n device floats at d with host ref, each difference over
 * scale[i] (see cu_tol_dot); prints and asserts. */
static inline void cu_check_dot(const kn_backend *g, const char *what, const float *d,
                                const float *ref, const float *scale, size_t n, double tol) {
    float *h = cu_down(g, d, n);
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)h[i] - (double)ref[i]);
        double e = diff == 0 ? 0 : diff / ((double)scale[i] > 0 ? (double)scale[i] : 1e-300);
        if (!(e <= worst)) worst = e, at = i; /* NaN counts as worst */
    }
    printf("  %-40s worst |diff|/scale %.3g (at %zu)\n", what, worst, at);
    free(h);
    cr_expect(worst <= tol, "%s: worst |diff|/scale %.3g > %.3g", what, worst, tol);
}

#endif
