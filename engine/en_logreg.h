/* en_logreg — multinomial logistic regression with an L2 penalty, fitted by
 * L-BFGS, with the semantics of scikit-learn 1.2's
 *   LogisticRegression(multi_class='multinomial', solver='lbfgs', C, max_iter, tol)
 *
 * It minimises what scikit-learn hands to scipy's L-BFGS-B:
 *   F(W, b) = Σ_n CE(softmax(W x_n + b), y_n) + ‖W‖² / (2C)
 * (C · F is the textbook C·Σ CE + ½‖W‖²; the scale matters because the
 * tolerance applies to F's gradient.) The intercept b is not penalised; the
 * start is W = 0, b = 0. The solver follows L-BFGS-B 3.0 as scipy drives it
 * with no bounds: history 10, Moré–Thuente line search (ftol 1e-3, gtol 0.9,
 * xtol 0.1, at most 20 evaluations, first step 1/‖g‖), restart from steepest
 * descent when a line search fails, and the stopping rules
 *   max_i |∂F/∂θ_i| <= tol                       (converged, projected gradient)
 *   (F_old − F) <= 2.22e-9 · max(|F_old|, |F|, 1)  (converged, relative reduction)
 *   iterations == max_iter, or evaluations > 15000 (stopped).
 * X is float32 [N, D] row-major, y int64 in [0, K); the products with X run
 * on cblas_sgemm, everything the line search and the stopping tests read
 * (logits, loss, the L-BFGS vectors) is double.
 *
 * Errors a user can cause (no rows, one class, an empty class, NaN/inf in X,
 * labels out of range, C <= 0) return -1 with en_error's message. */
#ifndef EN_LOGREG_H
#define EN_LOGREG_H

#include <stdint.h>

typedef enum {
    EN_LOGREG_CONV_PGTOL,     /* converged: projected gradient <= tol */
    EN_LOGREG_CONV_FTOL,      /* converged: relative reduction of F */
    EN_LOGREG_MAX_ITER,       /* stopped at max_iter (scikit-learn warns) */
    EN_LOGREG_MAX_FUN,        /* stopped after 15000 evaluations */
    EN_LOGREG_LINE_SEARCH,    /* abnormal termination in the line search */
    EN_LOGREG_STATUS_COUNT
} en_logreg_status;

typedef struct {
    double C;        /* inverse of the regularisation strength, > 0 */
    int max_iter;    /* scikit-learn's default is 100; the linear probe uses 1000 */
    double tol;      /* scikit-learn's default is 1e-4 */
    int verbose;     /* 1: one line per iteration on stderr */
} en_logreg_opts;

typedef struct {
    int64_t K, D;
    float *W;        /* [K, D] coef_ */
    float *b;        /* [K]    intercept_ */
    int n_iter;      /* L-BFGS iterations (scikit-learn's n_iter_) */
    int n_fev;       /* objective evaluations */
    double loss;     /* F at the returned weights */
    double grad_max; /* max |∂F/∂θ| at the returned weights */
    en_logreg_status status;
} en_logreg;

/* Defaults of scikit-learn: C 1, max_iter 100, tol 1e-4. */
en_logreg_opts en_logreg_defaults(void);
const char *en_logreg_status_name(en_logreg_status s);

int  en_logreg_fit(en_logreg *m, const float *X, const int64_t *y, int64_t N, int64_t D,
                   int64_t K, const en_logreg_opts *opts);
void en_logreg_free(en_logreg *m);

/* scores [N, K] = X Wᵀ + b; probabilities are their softmax; predict is
 * the arg-max (the first on ties, as numpy). Return -1 on out of memory. */
int en_logreg_decision(const en_logreg *m, const float *X, int64_t N, float *scores);
int en_logreg_predict_proba(const en_logreg *m, const float *X, int64_t N, float *proba);
int en_logreg_predict(const en_logreg *m, const float *X, int64_t N, int64_t *labels);

/* F and its gradient at theta = [W (K·D, row-major) | b (K)], both ways:
 * _ref in plain double loops (the reference the tests check against finite
 * differences), the other by the code path the fit uses (float GEMMs).
 * grad may be NULL. Return F, or NaN after en_error on bad input. */
double en_logreg_objective_ref(const float *X, const int64_t *y, int64_t N, int64_t D,
                               int64_t K, double C, const double *theta, double *grad);
double en_logreg_objective(const float *X, const int64_t *y, int64_t N, int64_t D,
                           int64_t K, double C, const double *theta, double *grad);

#endif
