/* Optimisers, clipping, schedule and initialisers against PyTorch 1.13
 * (fixtures from tests/reference/gen_train_fixtures.py). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "en_error.h"
#include "en_init.h"
#include "en_optim.h"
#include "en_sched.h"

#include "fix_optim.h"

#define N (FIX_N1 + FIX_N2)

/* Worst relative difference (with an absolute floor of 1e-6) over n. */
static double worst(const float *a, const float *b, int n) {
    double w = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1e-6, fabs((double)b[i]));
        if (d > w || isnan(d)) w = d;
    }
    return w;
}

typedef void (*step_fn)(void *o, en_seg *segs, int nseg);
static void sgd_step(void *o, en_seg *s, int n) { en_sgd_step(o, s, n); }
static void adamw_step(void *o, en_seg *s, int n) { en_adamw_step(o, s, n); }

/* Runs FIX_STEPS steps on two segments and compares every step. */
static void run_case(const char *name, void *opt, step_fn step, const float *expect) {
    float p[N], g[N];
    memcpy(p, fix_p0, sizeof p);
    double w = 0;
    for (int s = 0; s < FIX_STEPS; s++) {
        memcpy(g, fix_grads + s * N, sizeof g);
        en_seg segs[2] = { { p, g, FIX_N1 }, { p + FIX_N1, g + FIX_N1, FIX_N2 } };
        step(opt, segs, 2);
        w = fmax(w, worst(p, expect + s * N, N));
    }
    cr_log_info("%s: worst relative difference to torch %.3g", name, w);
    cr_assert(w < 2e-6, "%s: worst relative difference %g", name, w);
}

Test(optim, sgd_plain) {
    en_sgd o; cr_assert_eq(en_sgd_init(&o, N, NULL, 0.1, 0, 0, 0, 0), 0);
    run_case("sgd_plain", &o, sgd_step, fix_sgd_plain); en_sgd_free(&o);
}
Test(optim, sgd_momentum_weight_decay) {
    en_sgd o; cr_assert_eq(en_sgd_init(&o, N, NULL, 0.05, 0.9, 0, 0.01, 0), 0);
    run_case("sgd_mom_wd", &o, sgd_step, fix_sgd_mom_wd); en_sgd_free(&o);
}
Test(optim, sgd_nesterov_caller_state) {
    float state[N];
    en_sgd o; cr_assert_eq(en_sgd_init(&o, N, state, 0.05, 0.9, 0, 0.001, 1), 0);
    cr_assert_eq(en_sgd_state_floats(N, 0.9), (size_t)N);
    run_case("sgd_nesterov", &o, sgd_step, fix_sgd_nesterov); en_sgd_free(&o);
}
Test(optim, sgd_dampening) {
    en_sgd o; cr_assert_eq(en_sgd_init(&o, N, NULL, 0.05, 0.8, 0.3, 0, 0), 0);
    run_case("sgd_damp", &o, sgd_step, fix_sgd_damp); en_sgd_free(&o);
}
Test(optim, adamw_default) {
    en_adamw o; cr_assert_eq(en_adamw_init(&o, N, NULL, 1e-3, 0.9, 0.999, 1e-8, 1e-2), 0);
    run_case("adamw_default", &o, adamw_step, fix_adamw_default); en_adamw_free(&o);
}
Test(optim, adamw_custom_caller_state) {
    float state[2 * N];
    en_adamw o; cr_assert_eq(en_adamw_init(&o, N, state, 0.01, 0.8, 0.99, 1e-6, 0.1), 0);
    run_case("adamw_custom", &o, adamw_step, fix_adamw_custom); en_adamw_free(&o);
}

/* The flat entry point walks the same state as one segment. */
Test(optim, flat_equals_segments) {
    float p[N], g[N];
    memcpy(p, fix_p0, sizeof p);
    en_adamw o; en_adamw_init(&o, N, NULL, 0.01, 0.8, 0.99, 1e-6, 0.1);
    for (int s = 0; s < FIX_STEPS; s++) {
        memcpy(g, fix_grads + s * N, sizeof g);
        en_adamw_step_flat(&o, p, g, N);
    }
    double w = worst(p, fix_adamw_custom + (FIX_STEPS - 1) * N, N);
    cr_assert(w < 2e-6, "flat adamw worst %g", w);
    en_adamw_free(&o);
}

Test(optim, bad_hyperparameters) {
    en_sgd s; en_adamw a;
    cr_assert_eq(en_sgd_init(&s, 4, NULL, -1, 0, 0, 0, 0), -1);
    cr_assert(strstr(en_error_msg(), "sgd") != NULL);
    cr_assert_eq(en_sgd_init(&s, 4, NULL, 0.1, 0, 0, 0, 1), -1);  /* nesterov without momentum */
    cr_assert_eq(en_adamw_init(&a, 4, NULL, 0.1, 1.0, 0.999, 1e-8, 0), -1);
    cr_assert(strstr(en_error_msg(), "betas") != NULL);
}

static void check_clip(const char *name, const float *in, const float *out, float maxn, float norm) {
    float g[N];
    memcpy(g, in, sizeof g);
    en_seg segs[2] = { { NULL, g, FIX_N1 }, { NULL, g + FIX_N1, FIX_N2 } };
    float total = en_clip_grad_norm(segs, 2, maxn);
    double dn = fabs(total - norm) / norm, w = worst(g, out, N);
    cr_log_info("%s: norm %.7g (torch %.7g), worst grad difference %.3g", name, total, norm, w);
    cr_assert(dn < 1e-6 && w < 1e-6, "%s: norm diff %g, grad diff %g", name, dn, w);
}

Test(clip, clips_above_threshold) {
    check_clip("clip_small", fix_clip_small_in, fix_clip_small_out, fix_clip_small_max, fix_clip_small_norm);
}
Test(clip, leaves_small_gradients) {
    check_clip("clip_big", fix_clip_big_in, fix_clip_big_out, fix_clip_big_max, fix_clip_big_norm);
}
Test(clip, flat_matches_norm) {
    float g[3] = { 3, 4, 0 };
    float t = en_clip_grad_norm_flat(g, 3, 1.0f);
    cr_assert_float_eq(t, 5.0f, 1e-6);
    cr_assert(fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[1] - 0.8f) < 1e-6f, "%g %g", g[0], g[1]);
}

Test(sched, warmup_cosine_key_steps) {
    const long S = 100, W = 10;
    const double hi = 1e-3, lo = 1e-5;
    double v0 = en_sched_warmup_cosine(0, S, W, hi, lo);
    double v4 = en_sched_warmup_cosine(4, S, W, hi, lo);
    double vW = en_sched_warmup_cosine(W, S, W, hi, lo);
    double vmid = en_sched_warmup_cosine(W + (S - W) / 2, S, W, hi, lo);
    double vlast = en_sched_warmup_cosine(S - 1, S, W, hi, lo);
    double vpast = en_sched_warmup_cosine(S + 5, S, W, hi, lo);
    cr_assert(fabs(v0 - hi / W) < 1e-15, "step 0: %g", v0);
    cr_assert(fabs(v4 - hi * 5 / W) < 1e-15, "step 4: %g", v4);
    cr_assert(fabs(vW - hi) < 1e-15, "end of warm-up: %g", vW);
    cr_assert(fabs(vmid - (hi + lo) / 2) < 1e-12, "midpoint: %g", vmid);
    double expect_last = lo + 0.5 * (hi - lo) * (1 + cos(M_PI * (S - 1 - W) / (double)(S - W)));
    cr_assert(fabs(vlast - expect_last) < 1e-15 && vlast > lo, "last: %g", vlast);
    cr_assert(vpast == lo, "past the end: %g", vpast);
    /* Monotone: up through warm-up (which ends at the peak, step W-1), the
     * peak held for step W, down after. */
    for (long s = 1; s < S; s++) {
        double a = en_sched_warmup_cosine(s - 1, S, W, hi, lo), b = en_sched_warmup_cosine(s, S, W, hi, lo);
        cr_assert(s < W ? b > a : s == W ? b == a : b < a, "step %ld: %g -> %g", s, a, b);
    }
    /* No warm-up starts at the peak. */
    cr_assert(en_sched_warmup_cosine(0, S, 0, hi, lo) == hi);
}

Test(init, fans_and_gains_match_torch) {
    for (size_t i = 0; i < sizeof fix_fans / sizeof fix_fans[0]; i++) {
        int64_t fi, fo;
        cr_assert_eq(en_init_fans(fix_fans[i].shape, fix_fans[i].ndim, &fi, &fo), 0);
        cr_assert(fi == fix_fans[i].fan_in && fo == fix_fans[i].fan_out, "shape %zu: %ld/%ld", i, (long)fi, (long)fo);
    }
    cr_assert(fabs(en_init_gain(EN_GAIN_RELU, 0) - fix_gain_relu) < 1e-15);
    cr_assert(fabs(en_init_gain(EN_GAIN_TANH, 0) - fix_gain_tanh) < 1e-15);
    cr_assert(fabs(en_init_gain(EN_GAIN_LEAKY_RELU, 0.2) - fix_gain_leaky02) < 1e-15);
    int64_t one[1] = { 5 }, fi, fo;
    cr_assert_eq(en_init_fans(one, 1, &fi, &fo), -1);
    cr_assert(strstr(en_error_msg(), "2 dimensions") != NULL);
}

/* Sample moments of each initialiser against its formula. */
static void moments(const float *p, size_t n, double *mean, double *sd, double *maxabs) {
    double s = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) { s += p[i]; s2 += (double)p[i] * p[i]; m = fmax(m, fabs(p[i])); }
    *mean = s / n; *sd = sqrt(s2 / n - *mean * *mean); *maxabs = m;
}

Test(init, kaiming_and_xavier_spread) {
    int64_t shape[4] = { 64, 32, 3, 3 };   /* fan_in 288, fan_out 576 */
    size_t n = 64 * 32 * 9;
    float *p = malloc(n * sizeof *p);
    en_rng r; en_rng_seed(&r, 5);
    double mean, sd, mx, want;

    cr_assert_eq(en_init_kaiming_normal(&r, p, shape, 4, 0, EN_FAN_IN, EN_GAIN_RELU), 0);
    moments(p, n, &mean, &sd, &mx); want = sqrt(2.0 / 288);
    cr_assert(fabs(sd / want - 1) < 0.02 && fabs(mean) < 0.01 * want * 10, "kaiming normal sd %g want %g", sd, want);

    cr_assert_eq(en_init_kaiming_uniform(&r, p, shape, 4, sqrt(5.0), EN_FAN_IN, EN_GAIN_LEAKY_RELU), 0);
    moments(p, n, &mean, &sd, &mx); want = sqrt(2.0 / 6.0) / sqrt(288.0);   /* nn.Linear's default */
    cr_assert(fabs(sd / want - 1) < 0.02 && mx <= sqrt(3.0) * want * (1 + 1e-6), "kaiming uniform sd %g want %g max %g", sd, want, mx);

    cr_assert_eq(en_init_kaiming_normal(&r, p, shape, 4, 0, EN_FAN_OUT, EN_GAIN_RELU), 0);
    moments(p, n, &mean, &sd, &mx); want = sqrt(2.0 / 576);
    cr_assert(fabs(sd / want - 1) < 0.02, "kaiming fan_out sd %g want %g", sd, want);

    cr_assert_eq(en_init_xavier_uniform(&r, p, shape, 4, 1.0), 0);
    moments(p, n, &mean, &sd, &mx); want = sqrt(2.0 / (288 + 576));
    cr_assert(fabs(sd / want - 1) < 0.02 && mx <= sqrt(3.0) * want * (1 + 1e-6), "xavier uniform sd %g want %g", sd, want);

    cr_assert_eq(en_init_xavier_normal(&r, p, shape, 4, 2.0), 0);
    moments(p, n, &mean, &sd, &mx); want = 2.0 * sqrt(2.0 / (288 + 576));
    cr_assert(fabs(sd / want - 1) < 0.02, "xavier normal sd %g want %g", sd, want);

    /* Same seed, same weights. */
    float *q = malloc(n * sizeof *q);
    en_rng a, b; en_rng_seed(&a, 9); en_rng_seed(&b, 9);
    en_init_xavier_normal(&a, p, shape, 4, 1.0); en_init_xavier_normal(&b, q, shape, 4, 1.0);
    cr_assert(memcmp(p, q, n * sizeof *p) == 0);
    free(p); free(q);
}

/* The threaded path: a large buffer, against a plain double sum. */
Test(clip, large_buffer_norm_and_scale) {
    size_t n = 300000;
    float *g = malloc(n * sizeof *g), *g0 = malloc(n * sizeof *g0);
    en_rng r; en_rng_seed(&r, 4);
    en_rng_fill_normal(&r, g, n, 0, 1);
    memcpy(g0, g, n * sizeof *g);
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    en_seg segs[2] = { { NULL, g, 100000 }, { NULL, g + 100000, n - 100000 } };
    float total = en_clip_grad_norm(segs, 2, 1.0f);
    double rel = fabs(total - sqrt(ss)) / sqrt(ss), coef = 1.0 / (sqrt(ss) + 1e-6), w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(g[i] - g0[i] * coef));
    cr_log_info("clip large: norm %.7g vs %.7g, worst scaled difference %.3g", total, sqrt(ss), w);
    cr_assert(rel < 1e-7 && w < 1e-8, "norm rel %g, scale %g", rel, w);
    free(g); free(g0);
}
