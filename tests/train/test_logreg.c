/* Logistic regression against scikit-learn 1.2 (fixtures from
 * tests/reference/gen_logreg_fixtures.py), its gradient against finite
 * differences, and its errors. */
#include <criterion/criterion.h>
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

/* Fits and compares; returns worst coefficient and probability differences
 * (absolute, coefficients relative to the largest |coef|). */
static void check_fit(const char *name, fixture fx, double coef_tol, double proba_tol, double F_tol) {
    en_logreg_opts o = en_logreg_defaults();
    o.C = fx.C; o.max_iter = fx.max_iter; o.tol = fx.tol;
    en_logreg m;
    cr_assert_eq(en_logreg_fit(&m, fx.X, fx.y, fx.N, fx.D, fx.K, &o), 0, "%s", en_error_msg());
    double cmax = 0, wc = 0, wp = 0;
    for (int64_t i = 0; i < fx.K * fx.D; i++) cmax = fmax(cmax, fabs(fx.coef[i]));
    for (int64_t i = 0; i < fx.K * fx.D; i++) wc = fmax(wc, fabs(m.W[i] - fx.coef[i]) / cmax);
    for (int64_t k = 0; k < fx.K; k++) wc = fmax(wc, fabs(m.b[k] - fx.intercept[k]) / cmax);
    float *p = malloc(fx.NT * fx.K * sizeof *p);
    int64_t *lab = malloc(fx.NT * sizeof *lab);
    en_logreg_predict_proba(&m, fx.Xt, fx.NT, p);
    en_logreg_predict(&m, fx.Xt, fx.NT, lab);
    for (int64_t i = 0; i < fx.NT * fx.K; i++) wp = fmax(wp, fabs(p[i] - fx.proba[i]));
    int64_t same = 0;
    for (int64_t i = 0; i < fx.NT; i++) same += lab[i] == fx.pred[i];
    /* The objective at the reference solution and at ours (in double). */
    double *th = malloc((fx.K * fx.D + fx.K) * sizeof *th);
    for (int64_t i = 0; i < fx.K * fx.D; i++) th[i] = m.W[i];
    for (int64_t k = 0; k < fx.K; k++) th[fx.K * fx.D + k] = m.b[k];
    double F = en_logreg_objective_ref(fx.X, fx.y, fx.N, fx.D, fx.K, fx.C, th, NULL);
    double dF = (F - fx.F) / fx.F;
    free(th);
    cr_log_info("%s: n_iter %d (sklearn %d), %s; F %.12g (sklearn %.12g, rel diff %.2g, tol %.1g); "
                "worst coef diff %.3g (tol %.1g), proba diff %.3g (tol %.1g), %lld/%lld predictions equal",
                name, m.n_iter, fx.n_iter, en_logreg_status_name(m.status), F, fx.F, dF, F_tol, wc, coef_tol,
                wp, proba_tol, (long long)same, (long long)fx.NT);
    cr_assert(fabs(dF) < F_tol, "%s: objective %.12g vs %.12g", name, F, fx.F);
    cr_assert(wc < coef_tol, "%s: coefficients differ by %g", name, wc);
    cr_assert(wp < proba_tol, "%s: probabilities differ by %g", name, wp);
    cr_assert_eq(same, fx.NT, "%s: %lld of %lld predictions differ", name, (long long)(fx.NT - same), (long long)fx.NT);
    free(p); free(lab);
    en_logreg_free(&m);
}

/* Solved to tol 1e-10 both sides: the unique optimum. */
Test(logreg, matches_sklearn_tight) { check_fit("tight", FIXTURE(blob, tight), 1e-5, 1e-6, 1e-9); }
/* scikit-learn's defaults (tol 1e-4): both stop near, not at, the optimum. */
Test(logreg, matches_sklearn_default_tol) { check_fit("default tol", FIXTURE(blob, dflt), 1e-3, 1e-4, 1e-8); }
/* Separable classes, held finite by the penalty (C = 10). The valley is
 * flat, both solvers stop on the relative-reduction rule, and float inputs
 * move the stopping point slightly: hence the looser coefficient tolerance. */
Test(logreg, separable_regularised) {
    fixture fx = FIXTURE(sepd, sep);
    check_fit("separable", fx, 5e-4, 1e-5, 1e-6);
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

/* Ill-conditioned features: a few hundred iterations of history and line
 * search, where rounding differences steer the path. scikit-learn itself,
 * given X perturbed by 1e-7 relative, takes 384–444 iterations (399 on X)
 * and its coefficients move by up to ~1e-3 of the largest; so the objective
 * is the tight check here, the coefficients a loose one. */
Test(logreg, matches_sklearn_ill_conditioned) {
    check_fit("ill-conditioned", FIXTURE(illd, illc), 5e-3, 1e-3, 1e-7);
}
