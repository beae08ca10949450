/* Logistic regression against scikit-learn 1.2 (fixtures from
 * tests/reference/gen_logreg_fixtures.py), its gradient against finite
 * differences, and its errors. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_logreg.h"
#include "en_rng.h"

#include "fix_logreg.h"

typedef struct {
    const float *X, *Xt; const int64_t *y;
    int64_t N, D, K, NT;
    double C, tol; int max_iter, n_iter;
    const double *coef, *intercept, *proba; const int64_t *pred;
    double F;
} fixture;

#define FIXTURE(data, name) (fixture){ data##_X, data##_Xt, data##_y, data##_N, data##_D, name##_K, \
    data##_NT, name##_C, name##_tol, name##_max_iter, name##_n_iter, name##_coef, name##_intercept, \
    name##_proba, name##_pred, name##_F }


/* ---- the true optimum, in double, for stating tolerances ---------------
 * F is strictly convex except along one direction: adding a constant to
 * every intercept leaves it unchanged (u = [0 | 1,...,1] / sqrt(K)), and its
 * gradient has no component along u. So H + u u' is positive definite, and
 * its inverse minus u u' is H's pseudo-inverse H+ on the space the solvers
 * move in. Newton's method from the engine's solution converges in a few
 * steps to theta*; near it F(theta) - F* = g' H+ g / 2 to third order, and
 * over all gradients with max |g_i| <= t that is at most t^2 sum |H+_ij| / 2:
 * the suboptimality a stopping tolerance t allows, from the problem's own
 * conditioning. */
typedef struct { double F, Hsum, lmin, lmax; } optimum;

/* H = d2F/dtheta2 at theta (P = K*D + K), in double. */
static void hessian(const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K, double C,
                    const double *th, double *H) {
    const int64_t P = K * D + K;
    double z[16], p[16], xt[64];
    cr_assert(K <= 16 && D < 64);
    memset(H, 0, (size_t)(P * P) * sizeof *H);
    for (int64_t n = 0; n < N; n++) {
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; k++) {
            z[k] = th[K * D + k];
            for (int64_t j = 0; j < D; j++) z[k] += th[k * D + j] * (double)X[n * D + j];
            mx = fmax(mx, z[k]);
        }
        for (int64_t k = 0; k < K; k++) s += (p[k] = exp(z[k] - mx));
        for (int64_t k = 0; k < K; k++) p[k] /= s;
        for (int64_t j = 0; j < D; j++) xt[j] = X[n * D + j];
        xt[D] = 1;
        (void)y;
        /* d2 CE / dz_k dz_l = p_k (k == l) - p_k p_l; theta_(k,j) maps to z_k by xt_j */
        for (int64_t k = 0; k < K; k++)
            for (int64_t l = 0; l < K; l++) {
                double a = (k == l ? p[k] : 0) - p[k] * p[l];
                for (int64_t i = 0; i <= D; i++)
                    for (int64_t j = 0; j <= D; j++) {
                        int64_t r = i < D ? k * D + i : K * D + k, c = j < D ? l * D + j : K * D + l;
                        H[r * P + c] += a * xt[i] * xt[j];
                    }
            }
    }
    for (int64_t i = 0; i < K * D; i++) H[i * P + i] += 1 / C;
}

/* A <- its Cholesky factor L (lower); 0 if not positive definite. */
static int cholesky(double *A, int64_t P) {
    for (int64_t j = 0; j < P; j++) {
        double d = A[j * P + j];
        for (int64_t k = 0; k < j; k++) d -= A[j * P + k] * A[j * P + k];
        if (!(d > 0)) return 0;
        A[j * P + j] = sqrt(d);
        for (int64_t i = j + 1; i < P; i++) {
            double v = A[i * P + j];
            for (int64_t k = 0; k < j; k++) v -= A[i * P + k] * A[j * P + k];
            A[i * P + j] = v / A[j * P + j];
        }
    }
    return 1;
}
static void chol_solve(const double *L, int64_t P, double *x) {
    for (int64_t i = 0; i < P; i++) {
        for (int64_t k = 0; k < i; k++) x[i] -= L[i * P + k] * x[k];
        x[i] /= L[i * P + i];
    }
    for (int64_t i = P - 1; i >= 0; i--) {
        for (int64_t k = i + 1; k < P; k++) x[i] -= L[k * P + i] * x[k];
        x[i] /= L[i * P + i];
    }
}

/* Newton from th0 to theta*; returns F* and sum |H+_ij| at theta*. */
static optimum true_optimum(const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K,
                            double C, const double *th0) {
    const int64_t P = K * D + K;
    double *th = malloc(P * sizeof *th), *g = malloc(P * sizeof *g), *H = malloc(P * P * sizeof *H);
    memcpy(th, th0, P * sizeof *th);
    double F = en_logreg_objective_ref(X, y, N, D, K, C, th, g);
    for (int it = 0; it < 50; it++) {
        hessian(X, y, N, D, K, C, th, H);
        for (int64_t a = 0; a < K; a++)
            for (int64_t b = 0; b < K; b++) H[(K * D + a) * P + K * D + b] += 1.0 / K;
        cr_assert(cholesky(H, P), "H + uu' is not positive definite");
        chol_solve(H, P, g);
        for (int64_t i = 0; i < P; i++) th[i] -= g[i];
        double Fn = en_logreg_objective_ref(X, y, N, D, K, C, th, g);
        int done = !(Fn < F - 1e-15 * fabs(F));
        F = fmin(F, Fn);
        if (done) break;
    }
    /* sum |H+_ij|: H+ = (H + uu')^-1 - uu', column by column */
    hessian(X, y, N, D, K, C, th, H);
    for (int64_t a = 0; a < K; a++)
        for (int64_t b = 0; b < K; b++) H[(K * D + a) * P + K * D + b] += 1.0 / K;
    cr_assert(cholesky(H, P));
    double hsum = 0;
    for (int64_t c = 0; c < P; c++) {
        memset(g, 0, P * sizeof *g);
        g[c] = 1;
        chol_solve(H, P, g);
        for (int64_t r = 0; r < P; r++) {
            double u = (r >= K * D && c >= K * D) ? 1.0 / K : 0;
            hsum += fabs(g[r] - u);
        }
    }
    /* extreme eigenvalues of H on u's complement: power iteration on H and
     * on H+ (a solve with H + uu'), u projected out each step */
    double *v = malloc(P * sizeof *v), *Hd = malloc(P * P * sizeof *Hd), lam[2] = {0, 0};
    hessian(X, y, N, D, K, C, th, Hd);
    for (int which = 0; which < 2; which++) {
        for (int64_t i = 0; i < P; i++) v[i] = 1.0 + 0.01 * (double)(i % 7);
        for (int it = 0; it < 500; it++) {
            double mu = 0, nv = 0;
            for (int64_t k = K * D; k < P; k++) mu += v[k] / K;
            for (int64_t k = K * D; k < P; k++) v[k] -= mu;
            for (int64_t i = 0; i < P; i++) nv += v[i] * v[i];
            nv = sqrt(nv);
            for (int64_t i = 0; i < P; i++) v[i] /= nv;
            if (which == 0) {
                for (int64_t i = 0; i < P; i++) {
                    g[i] = 0;
                    for (int64_t j = 0; j < P; j++) g[i] += Hd[i * P + j] * v[j];
                }
            } else {
                memcpy(g, v, P * sizeof *g);
                chol_solve(H, P, g);
            }
            double r = 0;
            for (int64_t i = 0; i < P; i++) r += v[i] * g[i];
            lam[which] = r;
            memcpy(v, g, P * sizeof *v);
        }
    }
    free(v); free(Hd);
    free(th); free(g); free(H);
    return (optimum){ F, hsum, 1.0 / lam[1], lam[0] };
}

/* Fits and compares with scikit-learn's solution and with theta*. Every
 * bound comes from the problem (its Hessian at theta*) and the stopping
 * rules, not from one machine's result:
 * - objective: F* - e <= F_engine (no solver beats the optimum; e = N K eps64 F*,
 *   the double rounding of the sum) and F_engine - F* <= S, the suboptimality
 *   the stopping rule that fired allows: for "max |g| <= tol",
 *   tol^2 sum|H+| / 2 (above); for "relative reduction <= ftol", kappa ftol
 *   max(|F|, 1): a step that reduces F by at least 1/kappa of what is left
 *   (steepest descent's rate with condition number kappa = lmax / lmin, which
 *   L-BFGS matches or beats) stops with at most kappa times its last reduction
 *   left. Plus twice the gap between the engine's own F (float GEMMs on
 *   double logits) and F in double at its weights: the engine minimises the
 *   former. The engine's F may be lower than scikit-learn's: both stop within
 *   S of the optimum at points that depend on the rounding of each step (the
 *   issue-12 failure was a two-sided 1e-7 check on an ill-conditioned fit
 *   whose two solvers each stopped 1e-5 above F*).
 * - coefficients: to second order |theta - theta*|_2 <= sqrt(2 (F - F*) / lmin)
 *   for each solver, so they differ by at most the sum (relative to max |coef|).
 * - probabilities: softmax moves each p by at most half the largest logit
 *   change (|d p_k / d z|_1 = 2 p_k (1 - p_k) <= 1/2), and the logits of the two
 *   solutions differ by what their coefficients give; plus predict_proba's
 *   float rounding of D+1-term logits, (D + 1) eps32 sum |x_j theta_j|, and of p. */
#define FTOL_REL 2.2204460492503131e-09 /* scipy's factr * epsmch, as en_logreg.c */
static void check_fit(const char *name, fixture fx) {
    en_logreg_opts o = en_logreg_defaults();
    o.C = fx.C; o.max_iter = fx.max_iter; o.tol = fx.tol;
    en_logreg m;
    cr_assert_eq(en_logreg_fit(&m, fx.X, fx.y, fx.N, fx.D, fx.K, &o), 0, "%s", en_error_msg());
    const int64_t K = fx.K, D = fx.D, P = K * D + K;
    double cmax = 0, wc = 0, wp = 0;
    for (int64_t i = 0; i < K * D; i++) cmax = fmax(cmax, fabs(fx.coef[i]));
    for (int64_t i = 0; i < K * D; i++) wc = fmax(wc, fabs(m.W[i] - fx.coef[i]) / cmax);
    for (int64_t k = 0; k < K; k++) wc = fmax(wc, fabs(m.b[k] - fx.intercept[k]) / cmax);
    float *p = malloc(fx.NT * K * sizeof *p);
    int64_t *lab = malloc(fx.NT * sizeof *lab);
    en_logreg_predict_proba(&m, fx.Xt, fx.NT, p);
    en_logreg_predict(&m, fx.Xt, fx.NT, lab);
    for (int64_t i = 0; i < fx.NT * K; i++) wp = fmax(wp, fabs(p[i] - fx.proba[i]));
    int64_t same = 0;
    for (int64_t i = 0; i < fx.NT; i++) same += lab[i] == fx.pred[i];
    /* The objective at our solution (in double), and the optimum. */
    double *th = malloc(P * sizeof *th);
    for (int64_t i = 0; i < K * D; i++) th[i] = m.W[i];
    for (int64_t k = 0; k < K; k++) th[K * D + k] = m.b[k];
    double F = en_logreg_objective_ref(fx.X, fx.y, fx.N, D, K, fx.C, th, NULL);
    optimum opt = true_optimum(fx.X, fx.y, fx.N, D, K, fx.C, th);
    double kappa = opt.lmax / opt.lmin, e = (double)fx.N * K * DBL_EPSILON * fabs(opt.F);
    double S = m.status == EN_LOGREG_CONV_PGTOL ? 0.5 * fx.tol * fx.tol * opt.Hsum
             : kappa * FTOL_REL * fmax(fabs(opt.F), 1.0);
    S += 2 * fabs(m.loss - F);
    double Se = fmax(F - opt.F, 0), Ss = fmax(fx.F - opt.F, 0);
    double coef_tol = (sqrt(2 * Se / opt.lmin) + sqrt(2 * Ss / opt.lmin)) / cmax;
    double dzmax = 0, zmax = 0; /* the largest logit change between the two solutions */
    for (int64_t n = 0; n < fx.NT; n++)
        for (int64_t k = 0; k < K; k++) {
            double dz = (double)m.b[k] - fx.intercept[k], z = fabs(m.b[k]);
            for (int64_t j = 0; j < D; j++) {
                dz += ((double)m.W[k * D + j] - fx.coef[k * D + j]) * fx.Xt[n * D + j];
                z += fabs((double)fx.Xt[n * D + j] * m.W[k * D + j]);
            }
            dzmax = fmax(dzmax, fabs(dz));
            zmax = fmax(zmax, z);
        }
    double proba_tol = 0.5 * (dzmax + (D + 1) * FLT_EPSILON * zmax) + FLT_EPSILON;
    cr_log_info("%s: n_iter %d (sklearn %d), %s; F - F* %.3g (sklearn %.3g, allowed [%.1g, %.3g]: "
                "kappa %.3g, lmin %.3g); worst coef diff %.3g (bound %.3g), proba diff %.3g "
                "(bound %.3g), %lld/%lld predictions equal",
                name, m.n_iter, fx.n_iter, en_logreg_status_name(m.status), F - opt.F, fx.F - opt.F,
                -e, S, kappa, opt.lmin, wc, coef_tol, wp, proba_tol, (long long)same, (long long)fx.NT);
    cr_assert(fx.F - opt.F >= -e, "%s: the fixture's F %.12g is below the optimum %.12g", name, fx.F, opt.F);
    cr_assert(F - opt.F >= -e, "%s: F %.12g below the optimum %.12g", name, F, opt.F);
    cr_assert(F - opt.F <= S, "%s: F %.12g is %.3g above the optimum (allowed %.3g; scikit-learn %.12g)",
              name, F, F - opt.F, S, fx.F);
    cr_assert(wc <= coef_tol, "%s: coefficients differ by %g (bound %g)", name, wc, coef_tol);
    cr_assert(wp <= proba_tol, "%s: probabilities differ by %g (bound %g)", name, wp, proba_tol);
    cr_assert_eq(same, fx.NT, "%s: %lld of %lld predictions differ", name, (long long)(fx.NT - same), (long long)fx.NT);
    free(th); free(p); free(lab);
    en_logreg_free(&m);
}

/* tol 1e-10 both sides: the gradient rule never fires; both stop on the
 * relative-reduction rule, ~5e-8 above F* (check_fit states the bounds). */
Test(logreg, matches_sklearn_tight) { check_fit("tight", FIXTURE(blob, tight)); }
/* scikit-learn's defaults (tol 1e-4): both stop near, not at, the optimum. */
Test(logreg, matches_sklearn_default_tol) { check_fit("default tol", FIXTURE(blob, dflt)); }
/* Separable classes, held finite by the penalty (C = 10). The valley is
 * flat (lmin ~4e-3), both solvers stop on the relative-reduction rule, and
 * float rounding moves the stopping point: coefficients 6e-5 apart with
 * OpenBLAS's Haswell kernels, 5e-4 with its Prescott ones (what a fixed 5e-4
 * tolerance failed); the bound from lmin and the two gaps to F* covers both. */
Test(logreg, separable_regularised) {
    fixture fx = FIXTURE(sepd, sep);
    check_fit("separable", fx);
    en_logreg_opts o = en_logreg_defaults(); o.C = fx.C; o.max_iter = fx.max_iter; o.tol = fx.tol;
    en_logreg m;
    en_logreg_fit(&m, fx.X, fx.y, fx.N, fx.D, fx.K, &o);
    int64_t lab[sepd_N];
    en_logreg_predict(&m, fx.X, fx.N, lab);
    for (int64_t i = 0; i < fx.N; i++) cr_assert_eq(lab[i], fx.y[i], "row %lld misclassified", (long long)i);
    double wmax = 0;
    for (int64_t i = 0; i < fx.K * fx.D; i++) wmax = fmax(wmax, fabs(m.W[i]));
    cr_assert(isfinite(wmax) && wmax < 100, "weights %g", wmax);
    en_logreg_free(&m);
}

static void random_problem(en_rng *r, int64_t N, int64_t D, int64_t K, float *X, int64_t *y, double *theta) {
    en_rng_fill_normal(r, X, N * D, 0, 1);
    for (int64_t n = 0; n < N; n++) y[n] = n % K;
    for (int64_t i = 0; i < K * D + K; i++) theta[i] = 0.5 * en_rng_normal(r);
}

Test(logreg, reference_gradient_vs_finite_differences) {
    enum { N = 23, D = 5, K = 4, P = K * D + K };
    float X[N * D]; int64_t y[N]; double th[P], g[P], w = 0;
    en_rng r; en_rng_seed(&r, 11);
    random_problem(&r, N, D, K, X, y, th);
    en_logreg_objective_ref(X, y, N, D, K, 0.7, th, g);
    for (int i = 0; i < P; i++) {
        const double h = 1e-5, t0 = th[i];
        th[i] = t0 + h; double fp = en_logreg_objective_ref(X, y, N, D, K, 0.7, th, NULL);
        th[i] = t0 - h; double fm = en_logreg_objective_ref(X, y, N, D, K, 0.7, th, NULL);
        th[i] = t0;
        w = fmax(w, fabs((fp - fm) / (2 * h) - g[i]) / fmax(1.0, fabs(g[i])));
    }
    cr_log_info("objective gradient vs central differences: worst %.3g", w);
    cr_assert(w < 1e-7, "worst gradient difference %g", w);
}

/* The fast path (float GEMMs, double logits) against the double reference. */
Test(logreg, fast_objective_matches_reference) {
    enum { N = 300, D = 17, K = 7, P = K * D + K };
    static float X[N * D]; static int64_t y[N]; static double th[P], g0[P], g1[P];
    en_rng r; en_rng_seed(&r, 12);
    random_problem(&r, N, D, K, X, y, th);
    double f0 = en_logreg_objective_ref(X, y, N, D, K, 0.316, th, g0);
    double f1 = en_logreg_objective(X, y, N, D, K, 0.316, th, g1);
    double gmax = 0, w = 0;
    for (int i = 0; i < P; i++) gmax = fmax(gmax, fabs(g0[i]));
    for (int i = 0; i < P; i++) w = fmax(w, fabs(g1[i] - g0[i]) / gmax);
    cr_log_info("fast objective: F %.12g vs %.12g, worst gradient diff %.3g of max", f1, f0, w);
    cr_assert(fabs(f1 - f0) / f0 < 1e-6 && w < 1e-5, "F %g vs %g, grad %g", f1, f0, w);
}

Test(logreg, max_iter_stops_and_reports) {
    fixture fx = FIXTURE(blob, tight);
    en_logreg_opts o = en_logreg_defaults(); o.C = fx.C; o.max_iter = 3; o.tol = 1e-10;
    en_logreg m;
    cr_assert_eq(en_logreg_fit(&m, fx.X, fx.y, fx.N, fx.D, fx.K, &o), 0);
    cr_assert_eq(m.n_iter, 3);
    cr_assert_eq(m.status, EN_LOGREG_MAX_ITER);
    /* F fell from N·log K at the start. */
    cr_assert(m.loss < fx.N * log((double)fx.K), "loss %g", m.loss);
    en_logreg_free(&m);
}

Test(logreg, same_inputs_same_bits) {
    fixture fx = FIXTURE(blob, dflt);
    en_logreg_opts o = en_logreg_defaults(); o.C = fx.C;
    en_logreg a, b;
    en_logreg_fit(&a, fx.X, fx.y, fx.N, fx.D, fx.K, &o);
    en_logreg_fit(&b, fx.X, fx.y, fx.N, fx.D, fx.K, &o);
    cr_assert(memcmp(a.W, b.W, fx.K * fx.D * sizeof(float)) == 0 && a.n_iter == b.n_iter);
    en_logreg_free(&a); en_logreg_free(&b);
}

static void expect_error(const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K,
                         double C, int max_iter, const char *needle) {
    en_logreg_opts o = en_logreg_defaults(); o.C = C; o.max_iter = max_iter;
    en_logreg m;
    en_error_clear();
    cr_assert_eq(en_logreg_fit(&m, X, y, N, D, K, &o), -1, "expected an error about '%s'", needle);
    cr_assert(strstr(en_error_msg(), needle) != NULL, "message '%s' lacks '%s'", en_error_msg(), needle);
    cr_assert(m.W == NULL && m.b == NULL);
}

Test(logreg, bad_input_is_an_error) {
    float X[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    int64_t y[4] = { 0, 1, 0, 1 }, one[4] = { 1, 1, 1, 1 }, out[4] = { 0, 1, 2, 0 };
    expect_error(X, y, 0, 2, 2, 1.0, 100, "no samples");
    expect_error(X, one, 4, 2, 2, 1.0, 100, "only one class");
    expect_error(X, out, 4, 2, 2, 1.0, 100, "outside [0, 2)");
    expect_error(X, y, 4, 2, 3, 1.0, 100, "class 2 of 3 has no samples");
    expect_error(X, y, 4, 2, 1, 1.0, 100, "at least 2 classes");
    expect_error(X, y, 4, 2, 2, 0.0, 100, "C must be");
    expect_error(X, y, 4, 2, 2, NAN, 100, "C must be");
    expect_error(X, y, 4, 2, 2, 1.0, 0, "max_iter");
    X[5] = NAN;
    expect_error(X, y, 4, 2, 2, 1.0, 100, "NaN or infinity (row 2, column 1)");
    X[5] = INFINITY;
    expect_error(X, y, 4, 2, 2, 1.0, 100, "NaN or infinity");
}

/* Ill-conditioned features (kappa ~2e4): a few hundred iterations of history
 * and line search, where rounding differences steer the path. scikit-learn
 * itself, given X perturbed by 1e-7 relative, takes 384–444 iterations (399
 * on X) and its coefficients move by up to ~1e-3 of the largest. Each solver
 * stops 5e-6 to 1.5e-5 above F* depending on the GEMM kernels (OpenBLAS
 * Haswell / SkylakeX / Prescott: 361 / 415 / 368 iterations), so the engine's
 * F is above or below scikit-learn's by ~1e-7 relative: a two-sided 1e-7
 * check failed on Intel (issue 12). check_fit bounds F against F* instead. */
Test(logreg, matches_sklearn_ill_conditioned) {
    check_fit("ill-conditioned", FIXTURE(illd, illc));
}
