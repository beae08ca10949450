/* The few-shot linear head (engine/en_fewshot.h): its gradient against
 * central finite differences of the objective, and whole trainings against
 * a plain-loop reference in double precision (the loops of the study's
 * first head trainer, with torch.optim.AdamW's update). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_fewshot.h"
#include "en_rng.h"

typedef struct {
    int64_t N, D, K, Nv;
    float *X, *W0, *b0, *Xv;
    int64_t *y, *yv;
} problem;

/* Clustered features (one centre per class plus noise), as few-shot CLIP
 * features look: separable but not trivially. */
static problem make_problem(int64_t N, int64_t D, int64_t K, int64_t Nv, uint64_t seed) {
    problem p = { N, D, K, Nv, NULL, NULL, NULL, NULL, NULL, NULL };
    en_rng r;
    en_rng_seed(&r, seed);
    float *centre = malloc(sizeof(float) * (size_t)(K * D));
    for (int64_t i = 0; i < K * D; i++) centre[i] = (float)en_rng_normal(&r);
    p.X = malloc(sizeof(float) * (size_t)(N * D));
    p.Xv = malloc(sizeof(float) * (size_t)(Nv * D));
    p.y = malloc(sizeof(int64_t) * (size_t)N);
    p.yv = malloc(sizeof(int64_t) * (size_t)Nv);
    for (int64_t n = 0; n < N + Nv; n++) {
        int64_t c = n % K;
        float *x = n < N ? p.X + n * D : p.Xv + (n - N) * D;
        for (int64_t d = 0; d < D; d++) x[d] = centre[c * D + d] + 1.5f * (float)en_rng_normal(&r);
        if (n < N) p.y[n] = c; else p.yv[n - N] = c;
    }
    p.W0 = malloc(sizeof(float) * (size_t)(K * D));
    p.b0 = malloc(sizeof(float) * (size_t)K);
    for (int64_t i = 0; i < K * D; i++) p.W0[i] = 0.1f * (float)en_rng_normal(&r);
    for (int64_t k = 0; k < K; k++) p.b0[k] = 0.1f * (float)en_rng_normal(&r);
    free(centre);
    return p;
}

static void free_problem(problem *p) {
    free(p->X); free(p->Xv); free(p->y); free(p->yv); free(p->W0); free(p->b0);
}

/* The objective in double: mean CE of scale (X W^T + b) + pull/2 |W - W0|^2. */
static double ref_objective(const problem *p, const double *W, const double *b, double scale, double pull,
                            double *gW, double *gb) {
    int64_t N = p->N, D = p->D, K = p->K;
    double loss = 0, *z = malloc(sizeof(double) * (size_t)K);
    if (gW) { memset(gW, 0, sizeof(double) * (size_t)(K * D)); memset(gb, 0, sizeof(double) * (size_t)K); }
    for (int64_t n = 0; n < N; n++) {
        const float *x = p->X + n * D;
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; k++) {
            double a = b[k];
            for (int64_t d = 0; d < D; d++) a += W[k * D + d] * x[d];
            z[k] = scale * a;
            mx = fmax(mx, z[k]);
        }
        for (int64_t k = 0; k < K; k++) s += exp(z[k] - mx);
        loss += mx + log(s) - z[p->y[n]];
        if (!gW) continue;
        for (int64_t k = 0; k < K; k++) {
            double c = scale * (exp(z[k] - mx) / s - (k == p->y[n])) / (double)N;
            for (int64_t d = 0; d < D; d++) gW[k * D + d] += c * x[d];
            gb[k] += c;
        }
    }
    free(z);
    loss /= (double)N;
    for (int64_t i = 0; i < K * D; i++) {
        double d = W[i] - p->W0[i];
        loss += 0.5 * pull * d * d;
        if (gW) gW[i] += pull * d;
    }
    return loss;
}

Test(fewshot, gradient_matches_finite_differences) {
    problem p = make_problem(24, 9, 5, 0, 7);
    int64_t KD = p.K * p.D, P = KD + p.K;
    const double scale = 2.5, pull = 0.7, h = 1e-5;
    /* a point away from W0, so the pull's gradient is not zero */
    float *W = malloc(sizeof(float) * (size_t)KD), *b = malloc(sizeof(float) * (size_t)p.K);
    for (int64_t i = 0; i < KD; i++) W[i] = p.W0[i] + 0.05f * (float)((i % 7) - 3);
    for (int64_t k = 0; k < p.K; k++) b[k] = p.b0[k];
    float *gW = malloc(sizeof(float) * (size_t)KD), *gb = malloc(sizeof(float) * (size_t)p.K);
    float *work = malloc(sizeof(float) * (size_t)(p.N * p.K));
    double f = en_fewshot_objective(gW, gb, work, p.X, p.y, W, b, p.W0, scale, pull, p.N, p.D, p.K);
    double *th = malloc(sizeof(double) * (size_t)P);
    for (int64_t i = 0; i < KD; i++) th[i] = W[i];
    for (int64_t k = 0; k < p.K; k++) th[KD + k] = b[k];
    double fr = ref_objective(&p, th, th + KD, scale, pull, NULL, NULL);
    double worst = 0;
    for (int64_t i = 0; i < P; i++) {
        double keep = th[i];
        th[i] = keep + h;
        double fp = ref_objective(&p, th, th + KD, scale, pull, NULL, NULL);
        th[i] = keep - h;
        double fm = ref_objective(&p, th, th + KD, scale, pull, NULL, NULL);
        th[i] = keep;
        double fd = (fp - fm) / (2 * h), g = i < KD ? gW[i] : gb[i - KD];
        worst = fmax(worst, fabs(fd - g) / fmax(1.0, fabs(fd)));
    }
    cr_log_info("fewshot gradient: worst difference to central differences %.3g; objective %.9g vs %.9g in double",
                worst, f, fr);
    /* The engine computes the scores and the gradient's GEMM in float: a
     * relative error of about D·u = 9·6e-8 on terms of size scale·|x| ~ 8,
     * so at most ~5e-6; central differences with h = 1e-5 add h²·f''' ~ 1e-9
     * and the double loss' rounding over 2h ~ 1e-11. */
    cr_assert(worst < 5e-6, "gradient differs from finite differences by %g", worst);
    cr_assert(fabs(f - fr) < 1e-5 * fmax(1.0, fabs(fr)), "objective %.9g, in double %.9g", f, fr);
    free(W); free(b); free(gW); free(gb); free(work); free(th);
    free_problem(&p);
}

typedef struct { double *W, *b, *val; int best_epoch; } ref_result;

/* The plain loop: full batch, torch.optim.AdamW (decay on W), in double. */
static ref_result ref_train(const problem *p, const en_fewshot_opts *o) {
    int64_t KD = p->K * p->D, P = KD + p->K;
    double *th = malloc(sizeof(double) * (size_t)P), *g = malloc(sizeof(double) * (size_t)P);
    double *m = calloc((size_t)P, sizeof(double)), *v = calloc((size_t)P, sizeof(double));
    for (int64_t i = 0; i < KD; i++) th[i] = p->W0[i];
    for (int64_t k = 0; k < p->K; k++) th[KD + k] = p->b0[k];
    ref_result r = { th, th + KD, calloc((size_t)o->epochs + 1, sizeof(double)), 0 };
    for (int e = 1; e <= o->epochs; e++) {
        ref_objective(p, th, th + KD, o->scale, o->pull, g, g + KD);
        double c1 = 1 - pow(0.9, e), c2 = 1 - pow(0.999, e);
        for (int64_t i = 0; i < P; i++) {
            if (i < KD) th[i] *= 1 - o->lr * o->weight_decay;
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
            th[i] -= o->lr / c1 * m[i] / (sqrt(v[i]) / sqrt(c2) + 1e-8);
        }
        int64_t right = 0;
        for (int64_t n = 0; n < p->Nv; n++) {
            int64_t best = 0;
            double bs = -INFINITY;
            for (int64_t k = 0; k < p->K; k++) {
                double s = th[KD + k];
                for (int64_t d = 0; d < p->D; d++) s += th[k * p->D + d] * p->Xv[n * p->D + d];
                if (s > bs) { bs = s; best = k; }
            }
            right += best == p->yv[n];
        }
        r.val[e - 1] = p->Nv ? (double)right / (double)p->Nv : 0;
    }
    free(g); free(m); free(v);
    return r;
}

static void compare_training(double pull, double wd) {
    problem p = make_problem(40, 16, 8, 64, 11);
    en_fewshot_opts o = en_fewshot_defaults();
    o.epochs = 60; o.lr = 1e-2; o.scale = 4; o.pull = pull; o.weight_decay = wd;
    o.Xval = p.Xv; o.yval = p.yv; o.Nval = p.Nv;
    en_fewshot_result r;
    cr_assert_eq(en_fewshot_train(&r, p.X, p.y, p.N, p.D, p.K, p.W0, p.b0, &o), 0, "%s", en_error_msg());
    ref_result ref = ref_train(&p, &o);
    double worst = 0;
    for (int64_t i = 0; i < p.K * p.D; i++) worst = fmax(worst, fabs(r.W[i] - ref.W[i]));
    for (int64_t k = 0; k < p.K; k++) worst = fmax(worst, fabs(r.b[k] - ref.b[k]));
    int curve_same = 1;
    for (int e = 0; e < o.epochs; e++) curve_same &= r.val[e] == ref.val[e];
    cr_log_info("fewshot pull %g wd %g: worst |W - W_ref| after %d epochs %.3g; validation curve %s",
                pull, wd, o.epochs, worst, curve_same ? "identical" : "differs");
    /* Each AdamW step moves a weight by at most lr·|m̂|/sqrt(v̂) <= ~lr; the
     * float gradient differs from the double one by ~D·u relative (1e-6),
     * which changes a step by about that fraction of lr while |g| >> eps.
     * Over 60 steps of lr 1e-2 that is ~1e-6; the bound allows 10x for the
     * steps where g is small and the step more sensitive. */
    cr_assert(worst < 1e-5, "trajectory differs from the plain loop by %g", worst);
    cr_assert(curve_same, "validation accuracy curve differs from the plain loop");
    free(ref.W); free(ref.val);
    en_fewshot_result_free(&r);
    free_problem(&p);
}

Test(fewshot, matches_plain_loop) { compare_training(0, 0); }
Test(fewshot, matches_plain_loop_pull_decay) { compare_training(0.5, 0.1); }

Test(fewshot, early_stop_returns_the_best_epoch) {
    problem p = make_problem(16, 8, 4, 200, 3);
    en_fewshot_opts o = en_fewshot_defaults();
    o.epochs = 80; o.lr = 5e-2; o.scale = 10; o.early_stop = 1;
    o.Xval = p.Xv; o.yval = p.yv; o.Nval = p.Nv;
    en_fewshot_result r, last;
    cr_assert_eq(en_fewshot_train(&r, p.X, p.y, p.N, p.D, p.K, p.W0, p.b0, &o), 0);
    cr_assert(r.best_epoch >= 1 && r.best_epoch <= o.epochs, "best epoch %d", r.best_epoch);
    for (int e = 0; e < o.epochs; e++) cr_assert(r.val[e] <= r.val[r.best_epoch - 1]);
    o.epochs = r.best_epoch; o.early_stop = 0;
    cr_assert_eq(en_fewshot_train(&last, p.X, p.y, p.N, p.D, p.K, p.W0, p.b0, &o), 0);
    cr_assert_eq(memcmp(r.W, last.W, sizeof(float) * (size_t)(p.K * p.D)), 0, "early stop must return epoch %d's head", r.best_epoch);
    double acc = en_fewshot_accuracy(p.Xv, p.yv, r.W, r.b, p.Nv, p.D, p.K, NULL);
    cr_assert_eq(acc, r.val[r.best_epoch - 1]);
    en_fewshot_result_free(&r);
    en_fewshot_result_free(&last);
    free_problem(&p);
}

Test(fewshot, bad_label_is_an_error) {
    problem p = make_problem(8, 4, 3, 0, 1);
    p.y[5] = 3;
    en_fewshot_opts o = en_fewshot_defaults();
    en_fewshot_result r;
    cr_assert_eq(en_fewshot_train(&r, p.X, p.y, p.N, p.D, p.K, p.W0, p.b0, &o), -1);
    cr_assert(strstr(en_error_msg(), "row 6"), "%s", en_error_msg());
    free_problem(&p);
}

/* en_fewshot_train packs the training and validation features once and
 * reuses them every epoch (speed, issue 14 item 7); that must be the same
 * computation, bit for bit, as the public one-epoch functions, which run
 * the plain kn_sgemm: the same loop rebuilt from en_fewshot_objective,
 * en_adamw_step_flat and en_fewshot_accuracy gives the same losses,
 * validation curve and head. Sizes put the scores GEMM in the skinny class
 * (100 classes) and past the single-thread bound, as at paper scale. */
#include "en_optim.h"
Test(fewshot, packed_features_same_bits_as_plain_gemm) {
    problem p = make_problem(700, 64, 100, 900, 71);
    int64_t N = p.N, D = p.D, K = p.K;
    en_fewshot_opts o = en_fewshot_defaults();
    o.epochs = 6; o.lr = 1e-2; o.scale = 10; o.pull = 0.5; o.weight_decay = 0.01;
    o.Xval = p.Xv; o.yval = p.yv; o.Nval = p.Nv;
    en_fewshot_result r;
    cr_assert_eq(en_fewshot_train(&r, p.X, p.y, N, D, K, p.W0, p.b0, &o), 0, "%s", en_error_msg());
    size_t KD = (size_t)(K * D);
    float *W = malloc(KD * sizeof *W), *b = malloc((size_t)K * sizeof *b), *gW = malloc(KD * sizeof *gW);
    float *gb = malloc((size_t)K * sizeof *gb), *work = malloc((size_t)(p.Nv * K) * sizeof *work);
    memcpy(W, p.W0, KD * sizeof *W);
    memcpy(b, p.b0, (size_t)K * sizeof *b);
    en_adamw aw, ab;
    cr_assert_eq(en_adamw_init(&aw, KD, NULL, o.lr, 0.9, 0.999, 1e-8, o.weight_decay), 0);
    cr_assert_eq(en_adamw_init(&ab, (size_t)K, NULL, o.lr, 0.9, 0.999, 1e-8, 0), 0);
    int loss_differ = 0, val_differ = 0;
    for (int e = 1; e <= o.epochs; e++) {
        double loss = en_fewshot_objective(gW, gb, work, p.X, p.y, W, b, p.W0, o.scale, o.pull, N, D, K);
        loss_differ += loss != r.loss[e - 1];
        en_adamw_step_flat(&aw, W, gW, KD);
        en_adamw_step_flat(&ab, b, gb, (size_t)K);
        val_differ += en_fewshot_accuracy(p.Xv, p.yv, W, b, p.Nv, D, K, work) != r.val[e - 1];
    }
    size_t w_differ = 0;
    for (size_t i = 0; i < KD; i++) w_differ += W[i] != r.W[i];
    for (int64_t k = 0; k < K; k++) w_differ += b[k] != r.b[k];
    printf("packed vs plain: %d of %d losses, %d validation accuracies, %zu weights differ\n", loss_differ, o.epochs,
           val_differ, w_differ);
    cr_expect(loss_differ == 0 && val_differ == 0 && w_differ == 0);
    en_adamw_free(&aw); en_adamw_free(&ab);
    free(W); free(b); free(gW); free(gb); free(work);
    en_fewshot_result_free(&r);
    free_problem(&p);
}
