/* The few-shot methods of engine/en_fewshot_methods.h against plain
 * references in double precision: Tip-Adapter's logits against the double
 * loop of its formula and its search against brute force over the grid;
 * LP++'s closed forms on problems whose answer is known, its gradient
 * against central differences and its training against the plain loop;
 * CLAP's λ, its gradient (through the normalisation) and its training;
 * the cross-modal set's loss as the half-and-half mean of the authors'
 * batches. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_fewshot.h"
#include "en_fewshot_methods.h"
#include "en_rng.h"

typedef struct {
    int64_t N, D, K, Nv;
    float *X, *Xv, *T;     /* unit rows */
    int64_t *y, *yv;
} problem;

static void unit_rows(float *X, int64_t N, int64_t D) {
    for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t d = 0; d < D; d++) s += (double)X[n * D + d] * X[n * D + d];
        for (int64_t d = 0; d < D; d++) X[n * D + d] = (float)(X[n * D + d] / sqrt(s));
    }
}

/* k shots per class around class centres, text prototypes near the centres
 * (as CLIP's: informative, not exact), everything on the unit sphere. */
static problem make_problem_t(int64_t k, int64_t D, int64_t K, int64_t Nv, uint64_t seed, float tnoise) {
    problem p = { k * K, D, K, Nv, NULL, NULL, NULL, NULL, NULL };
    en_rng r;
    en_rng_seed(&r, seed);
    float *c = malloc(sizeof(float) * (size_t)(K * D));
    for (int64_t i = 0; i < K * D; i++) c[i] = (float)en_rng_normal(&r);
    p.X = malloc(sizeof(float) * (size_t)(p.N * D));
    p.Xv = malloc(sizeof(float) * (size_t)(Nv * D));
    p.T = malloc(sizeof(float) * (size_t)(K * D));
    p.y = malloc(sizeof(int64_t) * (size_t)p.N);
    p.yv = malloc(sizeof(int64_t) * (size_t)Nv);
    for (int64_t n = 0; n < p.N + Nv; n++) {
        int64_t cl = n % K;
        float *x = n < p.N ? p.X + n * D : p.Xv + (n - p.N) * D;
        for (int64_t d = 0; d < D; d++) x[d] = c[cl * D + d] + 1.2f * (float)en_rng_normal(&r);
        if (n < p.N) p.y[n] = cl; else p.yv[n - p.N] = cl;
    }
    for (int64_t i = 0; i < K * D; i++) p.T[i] = c[i] + tnoise * (float)en_rng_normal(&r);
    unit_rows(p.X, p.N, D);
    unit_rows(p.Xv, Nv, D);
    unit_rows(p.T, K, D);
    free(c);
    return p;
}

static problem make_problem(int64_t k, int64_t D, int64_t K, int64_t Nv, uint64_t seed) {
    return make_problem_t(k, D, K, Nv, seed, 0.8f);
}

static void free_problem(problem *p) { free(p->X); free(p->Xv); free(p->T); free(p->y); free(p->yv); }

static double dot(const float *a, const float *b, int64_t D) {
    double s = 0;
    for (int64_t d = 0; d < D; d++) s += (double)a[d] * b[d];
    return s;
}

/* ---- Tip-Adapter ------------------------------------------------------------ */

static double ref_tip(const problem *p, int64_t n, int64_t k, double scale, double beta, double alpha) {
    const float *x = p->Xv + n * p->D;
    double s = scale * dot(x, p->T + k * p->D, p->D);
    for (int64_t j = 0; j < p->N; j++)
        if (p->y[j] == k) s += alpha * exp(-beta * (1 - dot(x, p->X + j * p->D, p->D)));
    return s;
}

Test(tip, logits_match_the_double_loop) {
    problem p = make_problem(3, 12, 5, 40, 1);
    float *out = malloc(sizeof(float) * (size_t)(p.Nv * p.K));
    cr_assert_eq(en_tip_logits(out, p.Xv, p.Nv, p.X, p.y, p.N, p.T, p.K, p.D, 100, 5.5, 2.0), 0, "%s", en_error_msg());
    double worst = 0;
    for (int64_t n = 0; n < p.Nv; n++)
        for (int64_t k = 0; k < p.K; k++) {
            double r = ref_tip(&p, n, k, 100, 5.5, 2.0);
            worst = fmax(worst, fabs(out[n * p.K + k] - r) / fmax(1, fabs(r)));
        }
    cr_log_info("tip-adapter logits: worst relative difference to the double loop %.3g", worst);
    /* float dot products of D = 12 unit vectors: ~D·u = 7e-7 relative on the
     * cosines, times scale 100 on logits of size ~100, times beta 5.5 inside
     * the exponentials (each <= 1): ~1e-6 relative; 1e-5 leaves a margin */
    cr_assert(worst < 1e-5, "tip logits differ by %g", worst);
    free(out);
    free_problem(&p);
}

Test(tip, search_finds_the_grid_optimum) {
    problem p = make_problem(4, 10, 6, 60, 2);
    en_tip_choice c;
    const int nb = 12, na = 9;
    const double bmax = 9, amax = 6;
    cr_assert_eq(en_tip_search(&c, p.Xv, p.yv, p.Nv, p.X, p.y, p.N, p.T, p.K, p.D, 100, bmax, nb, amax, na), 0);
    double best = -1, bb = 0, ba = 0;
    for (int ib = 0; ib < nb; ib++)
        for (int ia = 0; ia < na; ia++) {
            double beta = ib * (bmax - 0.1) / nb + 0.1, alpha = ia * (amax - 0.1) / na + 0.1;
            int64_t right = 0;
            for (int64_t n = 0; n < p.Nv; n++) {
                int64_t arg = 0;
                double bs = -INFINITY;
                for (int64_t k = 0; k < p.K; k++) {
                    double s = ref_tip(&p, n, k, 100, beta, alpha);
                    if (s > bs) { bs = s; arg = k; }
                }
                right += arg == p.yv[n];
            }
            double v = (double)right / (double)p.Nv;
            if (v > best) { best = v; bb = beta; ba = alpha; }
        }
    cr_log_info("tip-adapter search: beta %.3f alpha %.3f val %.4f; brute force beta %.3f alpha %.3f val %.4f",
                c.beta, c.alpha, c.val, bb, ba, best);
    cr_assert_eq(c.val, best, "search found %g, the grid's best is %g", c.val, best);
    cr_assert(c.beta == bb && c.alpha == ba, "search picked (%g, %g), brute force (%g, %g)", c.beta, c.alpha, bb, ba);
    /* the cache must matter on this problem, or the test proves little */
    double zs = en_fewshot_accuracy(p.Xv, p.yv, p.T, (float[6]){0}, p.Nv, p.D, p.K, NULL);
    cr_log_info("tip-adapter: zero-shot val %.4f", zs);
    cr_assert(best > zs, "the cache should beat zero-shot here (%g vs %g)", best, zs);
    free_problem(&p);
}

/* ---- LP++ ------------------------------------------------------------------- */

Test(lpp, closed_forms_on_known_problems) {
    /* rows s_i e_{i mod D}: XᵀX = diag(Σ s_i² over each coordinate) */
    const int64_t N = 11, D = 4;
    float X[N * D];
    double col[4] = {0};
    memset(X, 0, sizeof X);
    for (int64_t i = 0; i < N; i++) {
        double s = 0.3 + 0.1 * (double)i;
        X[i * D + i % D] = (float)s;
        col[i % D] += (double)(float)s * (float)s;
    }
    double lmax = fmax(fmax(col[0], col[1]), fmax(col[2], col[3]));
    double lr = en_lpp_lr_w(X, N, D), want = 4.0 * N / lmax;
    /* rank one: rows c_i u with u unit, λmax = Σ c_i² (and N < D: the row Gram) */
    const int64_t N2 = 3, D2 = 5;
    float X2[N2 * D2], u[5] = {0.1f, -0.5f, 0.3f, 0.7f, 0.2f};
    unit_rows(u, 1, D2);
    double l2 = 0;
    for (int64_t i = 0; i < N2; i++) {
        float ci = (float)(1.0 + 0.5 * (double)i);
        for (int64_t d = 0; d < D2; d++) X2[i * D2 + d] = ci * u[d];
        l2 += dot(X2 + i * D2, X2 + i * D2, D2);
    }
    double lr2 = en_lpp_lr_w(X2, N2, D2), want2 = 4.0 * N2 / l2;
    cr_log_info("lp++ lr_w: diagonal %.12g vs %.12g, rank one %.12g vs %.12g", lr, want, lr2, want2);
    /* the Gram matrices are formed in double from float inputs: exact to ~1e-15 */
    cr_assert(fabs(lr - want) <= 1e-12 * want && fabs(lr2 - want2) <= 1e-12 * want2);

    problem p = make_problem(3, 8, 4, 4, 5);
    double mx = 0, s_all = 0;
    for (int64_t k = 0; k < p.K; k++) {
        double s = 0;
        for (int64_t n = 0; n < p.N; n++) { double d = dot(p.X + n * p.D, p.T + k * p.D, p.D); s += d * d; s_all += d; }
        mx = fmax(mx, s);
    }
    double la = en_lpp_lr_alpha(p.X, p.N, p.T, p.K, p.D), a0 = en_lpp_alpha0(p.X, p.y, p.N, p.T, p.K, p.D);
    /* balanced classes: the mean of class means is the mean over all rows */
    double want_la = (double)p.N / (4 * mx), want_a0 = 250 * s_all / (double)(p.N * p.K);
    cr_log_info("lp++ lr_alpha %.12g vs %.12g, alpha0 %.12g vs %.12g", la, want_la, a0, want_a0);
    cr_assert(fabs(la - want_la) <= 1e-12 * want_la && fabs(a0 - want_a0) <= 1e-12 * fabs(want_a0));
    free_problem(&p);
}

/* LP++'s objective in double: mean CE of x·(w_k + a_k t_k). */
static double ref_lpp_obj(const problem *p, const double *W, const double *a, double *gW, double *ga) {
    int64_t N = p->N, D = p->D, K = p->K;
    double loss = 0, z[16];
    if (gW) { memset(gW, 0, sizeof(double) * (size_t)(K * D)); memset(ga, 0, sizeof(double) * (size_t)K); }
    for (int64_t n = 0; n < N; n++) {
        const float *x = p->X + n * D;
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; k++) {
            double v = 0;
            for (int64_t d = 0; d < D; d++) v += (W[k * D + d] + a[k] * p->T[k * D + d]) * x[d];
            z[k] = v;
            mx = fmax(mx, v);
        }
        for (int64_t k = 0; k < K; k++) s += exp(z[k] - mx);
        loss += mx + log(s) - z[p->y[n]];
        if (!gW) continue;
        for (int64_t k = 0; k < K; k++) {
            double g = (exp(z[k] - mx) / s - (k == p->y[n])) / (double)N;
            for (int64_t d = 0; d < D; d++) gW[k * D + d] += g * x[d];
            ga[k] += g * dot(x, p->T + k * D, D);
        }
    }
    return loss / (double)N;
}

Test(lpp, gradient_matches_finite_differences) {
    problem p = make_problem(3, 7, 4, 0, 9);
    int64_t KD = p.K * p.D, P = KD + p.K;
    float *W = malloc(sizeof(float) * (size_t)KD), a[4] = {20, 35, 50, 28};
    for (int64_t i = 0; i < KD; i++) W[i] = 2.0f * p.X[i % (p.N * p.D)];
    float *gW = malloc(sizeof(float) * (size_t)KD), ga[4], *work = malloc(sizeof(float) * (size_t)(p.N * p.K));
    double f = en_lpp_objective(gW, ga, work, p.X, p.y, W, a, p.T, p.N, p.D, p.K);
    double *th = malloc(sizeof(double) * (size_t)P);
    for (int64_t i = 0; i < KD; i++) th[i] = W[i];
    for (int64_t k = 0; k < p.K; k++) th[KD + k] = a[k];
    double fr = ref_lpp_obj(&p, th, th + KD, NULL, NULL), worst = 0, h = 1e-5;
    for (int64_t i = 0; i < P; i++) {
        double keep = th[i];
        th[i] = keep + h; double fp = ref_lpp_obj(&p, th, th + KD, NULL, NULL);
        th[i] = keep - h; double fm = ref_lpp_obj(&p, th, th + KD, NULL, NULL);
        th[i] = keep;
        double fd = (fp - fm) / (2 * h), g = i < KD ? gW[i] : ga[i - KD];
        worst = fmax(worst, fabs(fd - g) / fmax(1.0, fabs(fd)));
    }
    cr_log_info("lp++ gradient: worst difference to central differences %.3g; objective %.9g vs %.9g", worst, f, fr);
    /* logits of size ~|a|·|t·x| ~ 50 in float: relative D·u ~ 4e-7, absolute
     * ~2e-5 on a logit, which moves a softmax probability (and so a gradient
     * entry of size <= 1/N·|x|) by ~2e-5/N ~ 2e-6; the α gradient carries one
     * more dot product. 1e-5 covers both; h = 1e-5 adds ~1e-9 */
    cr_assert(worst < 1e-5, "lp++ gradient differs by %g", worst);
    cr_assert(fabs(f - fr) < 1e-5 * fmax(1, fabs(fr)));
    free(W); free(gW); free(work); free(th);
    free_problem(&p);
}

Test(lpp, training_matches_the_plain_loop) {
    problem p = make_problem(2, 10, 5, 80, 13);
    en_lpp_opts o = { 40, 10, p.Xv, p.yv, p.Nv };
    en_lpp_result r;
    cr_assert_eq(en_lpp_train(&r, p.X, p.y, p.N, p.D, p.K, p.T, &o), 0, "%s", en_error_msg());
    int64_t KD = p.K * p.D;
    double *W = calloc((size_t)KD, sizeof(double)), *a = malloc(sizeof(double) * (size_t)p.K);
    double *gW = malloc(sizeof(double) * (size_t)KD), *ga = malloc(sizeof(double) * (size_t)p.K);
    double *buf = calloc((size_t)KD, sizeof(double)), *bestW = malloc(sizeof(double) * (size_t)KD);
    for (int64_t n = 0; n < p.N; n++)
        for (int64_t d = 0; d < p.D; d++) W[p.y[n] * p.D + d] += p.X[n * p.D + d];
    for (int64_t k = 0; k < p.K; k++) a[k] = r.alpha0;
    double best = -1;
    int best_e = 0, curve_same = 1;
    for (int e = 1; e <= o.epochs; e++) {
        ref_lpp_obj(&p, W, a, gW, ga);
        for (int64_t i = 0; i < KD; i++) {   /* torch.optim.SGD, momentum 0.9 */
            buf[i] = e == 1 ? gW[i] : 0.9 * buf[i] + gW[i];
            W[i] -= r.lr_w * buf[i];
        }
        if (e % o.alpha_every == 0) for (int64_t k = 0; k < p.K; k++) a[k] -= r.lr_alpha * ga[k];
        int64_t right = 0;
        for (int64_t n = 0; n < p.Nv; n++) {
            int64_t arg = 0;
            double bs = -INFINITY;
            for (int64_t k = 0; k < p.K; k++) {
                double s = 0;
                for (int64_t d = 0; d < p.D; d++) s += (W[k * p.D + d] + a[k] * p.T[k * p.D + d]) * p.Xv[n * p.D + d];
                if (s > bs) { bs = s; arg = k; }
            }
            right += arg == p.yv[n];
        }
        double v = (double)right / (double)p.Nv;
        curve_same &= v == r.val[e - 1];
        if (v >= best) {
            best = v; best_e = e;
            for (int64_t k = 0; k < p.K; k++)
                for (int64_t d = 0; d < p.D; d++) bestW[k * p.D + d] = W[k * p.D + d] + a[k] * p.T[k * p.D + d];
        }
    }
    double worst = 0, size = 0;
    for (int64_t i = 0; i < KD; i++) { worst = fmax(worst, fabs(r.W[i] - bestW[i])); size = fmax(size, fabs(bestW[i])); }
    cr_log_info("lp++ training: lr_w %.4g lr_alpha %.4g alpha0 %.4g; best epoch %d (ref %d); worst |W - W_ref| %.3g "
                "of max |W| %.3g; validation curve %s", r.lr_w, r.lr_alpha, r.alpha0, r.best_epoch, best_e, worst, size,
                curve_same ? "identical" : "differs");
    /* each step moves W by lr_w·|momentum buffer|; the float gradient differs
     * from the double one by ~D·u relative (~1e-6), so 40 steps with momentum
     * (a buffer up to 10x the gradient) carry ~40·10·1e-6 = 4e-4 relative of
     * the total movement, which is of the size of W: 1e-3·max|W| bounds it */
    cr_assert(worst < 1e-3 * size, "lp++ trajectory differs by %g", worst);
    cr_assert(curve_same && best_e == r.best_epoch, "lp++ validation curve or best epoch differs");
    free(W); free(a); free(gW); free(ga); free(buf); free(bestW);
    en_lpp_result_free(&r);
    free_problem(&p);
}

/* ---- CLAP ------------------------------------------------------------------- */

static double ref_clap_obj(const problem *p, const double *P, const double *lambda, double scale, double *gP) {
    int64_t N = p->N, D = p->D, K = p->K;
    double nrm[16], z[16], loss = 0, pen = 0;
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t d = 0; d < D; d++) s += P[k * D + d] * P[k * D + d];
        nrm[k] = sqrt(s);
    }
    double gh[16 * 32];
    memset(gh, 0, sizeof gh);
    for (int64_t n = 0; n < N; n++) {
        const float *x = p->X + n * D;
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; k++) {
            double v = 0;
            for (int64_t d = 0; d < D; d++) v += P[k * D + d] / nrm[k] * x[d];
            z[k] = scale * v;
            mx = fmax(mx, z[k]);
        }
        for (int64_t k = 0; k < K; k++) s += exp(z[k] - mx);
        loss += mx + log(s) - z[p->y[n]];
        for (int64_t k = 0; k < K; k++) {
            double g = scale * (exp(z[k] - mx) / s - (k == p->y[n])) / (double)N;
            for (int64_t d = 0; d < D; d++) gh[k * D + d] += g * x[d];
        }
    }
    loss /= (double)N;
    for (int64_t k = 0; k < K; k++) {
        double gp = 0;
        for (int64_t d = 0; d < D; d++) gp += gh[k * D + d] * P[k * D + d] / nrm[k];
        for (int64_t d = 0; d < D; d++) {
            double diff = P[k * D + d] - p->T[k * D + d];
            if (lambda) pen += lambda[k] * diff * diff;
            if (gP) gP[k * D + d] = (gh[k * D + d] - gp * P[k * D + d] / nrm[k]) / nrm[k]
                                   + (lambda ? 2 * lambda[k] * diff / (double)K : 0);
        }
    }
    return loss + pen / (double)K;
}

Test(clap, lambdas_are_the_zero_shot_confidence) {
    /* noisy text and a small scale, so the confidences spread over (0, 1) */
    problem p = make_problem_t(3, 9, 5, 0, 21, 2.5f);
    double lam[5];
    cr_assert_eq(en_clap_lambdas(lam, p.X, p.y, p.N, p.T, p.K, p.D, 5), 0);
    double worst = 0;
    for (int64_t c = 0; c < p.K; c++) {
        double s = 0;
        int cnt = 0;
        for (int64_t n = 0; n < p.N; n++) {
            if (p.y[n] != c) continue;
            double z[5], mx = -INFINITY, tot = 0;
            for (int64_t k = 0; k < p.K; k++) { z[k] = 5 * dot(p.X + n * p.D, p.T + k * p.D, p.D); mx = fmax(mx, z[k]); }
            for (int64_t k = 0; k < p.K; k++) tot += exp(z[k] - mx);
            s += exp(z[c] - mx) / tot;
            cnt++;
        }
        worst = fmax(worst, fabs(lam[c] - s / cnt));
    }
    cr_log_info("clap lambdas: worst difference to the double loop %.3g (lambda %.4f .. %.4f)", worst, lam[0], lam[4]);
    /* cosines in float (~D·u = 5e-7) times scale 5 move a logit by 3e-6 and
     * a probability by at most a quarter of that */
    cr_assert(worst < 2e-5, "lambdas differ by %g", worst);
    free_problem(&p);
}

Test(clap, gradient_matches_finite_differences) {
    problem p = make_problem(3, 8, 4, 0, 23);
    int64_t KD = p.K * p.D;
    double lam[4] = {0.3, 0.9, 0.1, 0.6};
    for (int with = 0; with < 2; with++) {
        float *P = malloc(sizeof(float) * (size_t)KD), *gP = malloc(sizeof(float) * (size_t)KD);
        float *work = malloc(sizeof(float) * (size_t)(p.N * p.K + KD));
        for (int64_t i = 0; i < KD; i++) P[i] = 1.3f * p.T[i] + 0.05f * (float)((i % 5) - 2);   /* not unit rows */
        double f = en_clap_objective(gP, work, p.X, p.y, P, p.T, with ? lam : NULL, 10, p.N, p.D, p.K);
        double *th = malloc(sizeof(double) * (size_t)KD), h = 1e-6, worst = 0;
        for (int64_t i = 0; i < KD; i++) th[i] = P[i];
        double fr = ref_clap_obj(&p, th, with ? lam : NULL, 10, NULL);
        for (int64_t i = 0; i < KD; i++) {
            double keep = th[i];
            th[i] = keep + h; double fp = ref_clap_obj(&p, th, with ? lam : NULL, 10, NULL);
            th[i] = keep - h; double fm = ref_clap_obj(&p, th, with ? lam : NULL, 10, NULL);
            th[i] = keep;
            worst = fmax(worst, fabs((fp - fm) / (2 * h) - gP[i]) / fmax(1.0, fabs((fp - fm) / (2 * h))));
        }
        cr_log_info("clap gradient (%s penalty): worst difference to central differences %.3g; objective %.9g vs %.9g",
                    with ? "with" : "no", worst, f, fr);
        /* scale 10 on float cosines: ~10·D·u = 5e-6 on a logit, the gradient
         * entries (<= scale/|p|) move by about as much relative */
        cr_assert(worst < 2e-5, "clap gradient differs by %g", worst);
        cr_assert(fabs(f - fr) < 1e-5 * fmax(1, fabs(fr)));
        free(P); free(gP); free(work); free(th);
    }
    free_problem(&p);
}

Test(clap, training_matches_the_plain_loop) {
    /* text far from the class centres, so that training moves the kept
     * epoch away from the start in both variants */
    problem p = make_problem_t(2, 10, 5, 80, 29, 2.5f);
    for (int constraint = 0; constraint < 2; constraint++) {
        en_clap_opts o = en_clap_defaults();
        o.epochs = 30; o.constraint = constraint;
        o.Xval = p.Xv; o.yval = p.yv; o.Nval = p.Nv;
        en_clap_result r;
        cr_assert_eq(en_clap_train(&r, p.X, p.y, p.N, p.D, p.K, p.T, &o), 0, "%s", en_error_msg());
        int64_t KD = p.K * p.D;
        double *P = malloc(sizeof(double) * (size_t)KD), *g = malloc(sizeof(double) * (size_t)KD);
        double *buf = calloc((size_t)KD, sizeof(double)), *bestP = malloc(sizeof(double) * (size_t)KD);
        for (int64_t i = 0; i < KD; i++) bestP[i] = P[i] = p.T[i];
        double best = -1;
        int best_e = 0, curve_same = 1;
        for (int e = 0; e <= o.epochs; e++) {
            if (e > 0) {
                ref_clap_obj(&p, P, constraint ? r.lambda : NULL, o.scale, g);
                double lr = e == 1 ? 1e-5 : 0.5 * o.lr * (1 + cos(M_PI * (double)(e - 1) / o.epochs));
                for (int64_t i = 0; i < KD; i++) {
                    buf[i] = e == 1 ? g[i] : 0.9 * buf[i] + g[i];
                    P[i] -= lr * buf[i];
                }
            }
            int64_t right = 0;
            for (int64_t n = 0; n < p.Nv; n++) {
                int64_t arg = 0;
                double bs = -INFINITY;
                for (int64_t k = 0; k < p.K; k++) {
                    double s = 0, nn = 0;
                    for (int64_t d = 0; d < p.D; d++) { s += P[k * p.D + d] * p.Xv[n * p.D + d]; nn += P[k * p.D + d] * P[k * p.D + d]; }
                    s /= sqrt(nn);
                    if (s > bs) { bs = s; arg = k; }
                }
                right += arg == p.yv[n];
            }
            double v = (double)right / (double)p.Nv;
            if (e > 0) curve_same &= v == r.val[e - 1];
            if (v > best) { best = v; best_e = e; memcpy(bestP, P, sizeof(double) * (size_t)KD); }
        }
        double worst = 0;
        for (int64_t i = 0; i < KD; i++) worst = fmax(worst, fabs(r.P[i] - bestP[i]));
        cr_log_info("clap training (%s): best epoch %d (ref %d), worst |P - P_ref| %.3g, validation curve %s",
                    constraint ? "class-adaptive" : "ZS-LP", r.best_epoch, best_e, worst, curve_same ? "identical" : "differs");
        /* 30 SGD steps of lr <= 0.1 on gradients of size ~scale/N·|x| ~ 10,
         * each wrong by ~D·u·100 (float cosines times the scale) = 6e-5
         * relative, with momentum (x10): ~30·10·0.1·10·6e-5 ~ 2e-3 absolute at
         * most; the prototypes are O(1) */
        cr_assert(worst < 2e-3, "clap trajectory differs by %g", worst);
        cr_assert(curve_same && best_e == r.best_epoch, "clap validation curve or best epoch differs");
        cr_assert(r.best_epoch > 0, "the test needs a problem where training helps");
        for (int64_t k = 0; constraint && k < p.K; k++) cr_assert(r.lambda[k] > 0 && r.lambda[k] <= 1);
        free(P); free(g); free(buf); free(bestP);
        en_clap_result_free(&r);
    }
    free_problem(&p);
}

/* ---- cross-modal ------------------------------------------------------------ */

Test(crossmodal, text_weighs_as_much_as_the_pictures) {
    problem p = make_problem(4, 6, 3, 0, 31);
    float *Xo; int64_t *yo, No;
    cr_assert_eq(en_crossmodal_set(&Xo, &yo, &No, p.X, p.y, p.N, p.T, p.K, p.D), 0);
    cr_assert_eq(No, 2 * p.N, "k = 4 shots of 3 classes: 12 pictures and 12 text rows, got %lld", (long long)No);
    /* the head's mean CE on the set = ½ CE(pictures) + ½ CE(text): the
     * authors' half-and-half batches, full batch */
    float W[18], b[3] = {0.1f, -0.2f, 0.05f};
    for (int i = 0; i < 18; i++) W[i] = 0.3f * (float)((i * 7) % 5 - 2);
    float gW[18], gb[3], work[24 * 3];
    double f = en_fewshot_objective(gW, gb, work, Xo, yo, W, b, NULL, 4, 0, No, p.D, p.K);
    double ci = 0, ct = 0;
    for (int64_t n = 0; n < p.N + p.K; n++) {
        const float *x = n < p.N ? p.X + n * p.D : p.T + (n - p.N) * p.D;
        int64_t c = n < p.N ? p.y[n] : n - p.N;
        double z[3], mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < p.K; k++) { z[k] = 4 * (dot(x, W + k * p.D, p.D) + b[k]); mx = fmax(mx, z[k]); }
        for (int64_t k = 0; k < p.K; k++) s += exp(z[k] - mx);
        if (n < p.N) ci += mx + log(s) - z[c]; else ct += mx + log(s) - z[c];
    }
    double want = 0.5 * ci / (double)p.N + 0.5 * ct / (double)p.K;
    cr_log_info("cross-modal: loss on the set %.9g, half-and-half %.9g", f, want);
    cr_assert(fabs(f - want) < 1e-6 * fmax(1, want), "%g vs %g", f, want);
    free(Xo); free(yo);
    free_problem(&p);
}

Test(methods, bad_labels_are_errors) {
    problem p = make_problem(2, 4, 3, 8, 3);
    p.y[3] = 7;
    float out[24];
    cr_assert_eq(en_tip_logits(out, p.Xv, p.Nv, p.X, p.y, p.N, p.T, p.K, p.D, 100, 1, 1), -1);
    cr_assert(strstr(en_error_msg(), "row 4"), "%s", en_error_msg());
    en_lpp_opts lo = { 5, 1, p.Xv, p.yv, p.Nv };
    en_lpp_result lr;
    cr_assert_eq(en_lpp_train(&lr, p.X, p.y, p.N, p.D, p.K, p.T, &lo), -1);
    en_clap_opts co = en_clap_defaults();
    en_clap_result cr;
    cr_assert_eq(en_clap_train(&cr, p.X, p.y, p.N, p.D, p.K, p.T, &co), -1);
    free_problem(&p);
}
