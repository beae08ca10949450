/* Multinomial logistic regression by L-BFGS (see en_logreg.h for the contract).
 *
 * Where the time goes: each objective evaluation needs the logits X Wᵀ
 * (N·D·K multiply-adds) and the gradient Rᵀ X of the same size. Both run on
 * cblas_sgemm, which is twice as fast as the dgemm scikit-learn uses; the
 * precision that single precision would cost is won back by never forming
 * the logits from scratch: the solver keeps Z = X Wᵀ in double and moves it
 * along the search direction, Z(α) = Z + α·(X dᵀ), where X dᵀ is computed
 * once per iteration. Every trial point of a line search, and the stopping
 * test on the relative reduction of F (2.2e-9 relative, far below float's
 * resolution), then compares values computed from the same double Z, so
 * F(α) is smooth in α to double precision. The search direction's W part is
 * rounded to float before use, so that the float GEMM sees exactly the
 * direction the double iterate moves along.
 */
#include "en_logreg.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"

#define HIST 10          /* L-BFGS-B's m, scipy's maxcor */
#define MAXLS 20         /* scipy's maxls */
#define MAXFUN 15000     /* scipy's maxfun */
#define FTOL_REL 2.2204460492503131e-09  /* scipy's ftol (factr · epsmch) */
#ifndef GRAD_CHUNK
#define GRAD_CHUNK 1024  /* rows per GEMM: X's chunk stays in cache between the two */
#endif

/* ---- a vectorisable double exp ---------------------------------------- */

/* exp(x) for x <= 0 to ~1 ulp; inputs below -708 give ~0 (the softmax
 * terms they stand for are far below double resolution of the sum). Written
 * out so that the row loops vectorise: glibc's exp would not. */
static inline double exp_neg(double x) {
    x = x < -708.0 ? -708.0 : x;
    const double shift = 0x1.8p52, log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double kd = x * log2e + shift;
    uint64_t ki;
    memcpy(&ki, &kd, sizeof ki);
    double n = kd - shift;
    double r = (x - n * ln2_hi) - n * ln2_lo;    /* |r| <= 0.347 */
    double p = 1.0 / 6227020800.0;               /* Taylor to r^13: error < 1e-17 */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t sbits = (ki + 1023) << 52;          /* 2^n, n in [-1022, 0] */
    double scale;
    memcpy(&scale, &sbits, sizeof scale);
    return p * scale;
}

/* ---- the objective ------------------------------------------------------ */

/* Threading: one OpenMP team does everything, each thread owning a fixed
 * block of rows and calling a single-threaded sgemm on it. Letting OpenBLAS
 * thread the GEMMs between OpenMP loops made the two runtimes' idle workers
 * spin against each other on a 2-core machine (38 % of the cycles went to
 * libgomp's spin-wait; see engine/NOTES.md, "logreg"). */

typedef struct {
    float *Rc;      /* [GRAD_CHUNK, K] softmax − one-hot of a chunk of rows */
    float *G;       /* [K, D] one chunk's Rᵀ X */
    double *Gd;     /* [K, D] the thread's gradient, summed in double */
    double *bg;     /* [K] the thread's intercept gradient */
    double *e;      /* [K] exp scratch */
    double loss;
} lr_thread;

typedef struct {
    const float *X;
    const int64_t *y;
    int64_t N, D, K;
    double C;
    int nthreads, blas_threads;
    double *Z;      /* [N, K] X Wᵀ at the current iterate (no intercept) */
    float *Zd;      /* [N, K] X dWᵀ for the current direction */
    float *Wf;      /* [K, D] the direction's W part in float */
    lr_thread *th;
} lr_ctx;

static void ctx_free(lr_ctx *c) {
    if (c->th)
        for (int t = 0; t < c->nthreads; t++) {
            free(c->th[t].Rc); free(c->th[t].G); free(c->th[t].Gd); free(c->th[t].bg); free(c->th[t].e);
        }
    free(c->th); free(c->Z); free(c->Zd); free(c->Wf);
    if (c->blas_threads > 0) openblas_set_num_threads(c->blas_threads);
    c->th = NULL; c->Z = NULL; c->Zd = NULL; c->Wf = NULL; c->blas_threads = 0;
}

static int ctx_init(lr_ctx *c, const float *X, const int64_t *y, int64_t N, int64_t D,
                    int64_t K, double C) {
    memset(c, 0, sizeof *c);
    c->X = X; c->y = y; c->N = N; c->D = D; c->K = K; c->C = C;
    c->nthreads = omp_get_max_threads();
    if (c->nthreads > N) c->nthreads = (int)N;
    size_t nk = (size_t)N * K, kd = (size_t)K * D;
    c->Z = calloc(nk, sizeof *c->Z);
    c->Zd = calloc(nk, sizeof *c->Zd);
    c->Wf = malloc(kd * sizeof *c->Wf);
    c->th = calloc((size_t)c->nthreads, sizeof *c->th);
    int ok = c->Z && c->Zd && c->Wf && c->th;
    for (int t = 0; ok && t < c->nthreads; t++) {
        lr_thread *h = &c->th[t];
        h->Rc = malloc((size_t)GRAD_CHUNK * K * sizeof *h->Rc);
        h->G = malloc(kd * sizeof *h->G);
        h->Gd = malloc(kd * sizeof *h->Gd);
        h->bg = malloc((size_t)K * sizeof *h->bg);
        h->e = malloc((size_t)K * sizeof *h->e);
        ok = h->Rc && h->G && h->Gd && h->bg && h->e;
    }
    if (!ok) {
        ctx_free(c);
        return en_error("logreg: out of memory for %lld x %lld logits", (long long)N, (long long)K);
    }
    c->blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return 0;
}

/* Softmax, loss and intercept gradient of rows [r0, r0+rn), whose logits
 * are Z + alpha·Zd + b; writes the residuals to h->Rc. */
static void rows_softmax(const lr_ctx *c, lr_thread *h, int64_t r0, int64_t rn,
                         const double *b, double alpha) {
    const int64_t K = c->K;
    double *e = h->e, loss = 0;
    for (int64_t n = r0; n < r0 + rn; n++) {
        const double *z = c->Z + n * K;
        const float *zd = c->Zd + n * K;
        float *r = h->Rc + (n - r0) * K;
        double m = -INFINITY;
        #pragma omp simd
        for (int64_t k = 0; k < K; k++) e[k] = z[k] + alpha * (double)zd[k] + b[k];
        #pragma omp simd reduction(max:m)
        for (int64_t k = 0; k < K; k++) m = e[k] > m ? e[k] : m;
        int64_t yn = c->y[n];
        double vy = e[yn], s = 0;
        #pragma omp simd reduction(+:s)
        for (int64_t k = 0; k < K; k++) { e[k] = exp_neg(e[k] - m); s += e[k]; }
        double inv = 1.0 / s;
        loss += m + log(s) - vy;
        double *bg = h->bg;
        #pragma omp simd
        for (int64_t k = 0; k < K; k++) {
            double p = e[k] * inv;
            r[k] = (float)p;
            bg[k] += p;
        }
        r[yn] -= 1.0f;
        bg[yn] -= 1.0;
    }
    h->loss += loss;
}

/* F and ∇F at theta = [W | b], whose logits (without b) are Z + alpha·Zd.
 * With fwd set, each chunk of rows first catches up with the last accepted
 * step (Z += advance·Zd) and computes its Zd = X · Wfᵀ for the new direction,
 * so that the chunk of X is still in cache for the gradient GEMM: the first
 * trial point of each line search costs one pass over X instead of two.
 * ∇_W = Rᵀ X + W/C: float GEMMs over chunks of rows, summed in double so
 * that the cancellation near the optimum does not eat the tolerance.
 * Deterministic for a given thread count: fixed row blocks, partial sums
 * added in thread order. */
static double ctx_eval(lr_ctx *c, const double *theta, double alpha, double *grad,
                       int fwd, double advance) {
    const int64_t N = c->N, D = c->D, K = c->K;
    const double *b = theta + K * D;
    const int nt = c->nthreads;
    #pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), tn = omp_get_num_threads();
        lr_thread *h = &c->th[t];
        int64_t r0 = N * t / tn, r1 = N * (t + 1) / tn;
        h->loss = 0;
        memset(h->bg, 0, (size_t)K * sizeof *h->bg);
        if (grad) memset(h->Gd, 0, (size_t)K * D * sizeof *h->Gd);
        for (int64_t c0 = r0; c0 < r1; c0 += GRAD_CHUNK) {
            int64_t rn = r1 - c0 < GRAD_CHUNK ? r1 - c0 : GRAD_CHUNK;
            if (fwd) {
                if (advance != 0.0) {
                    double *z = c->Z + c0 * K;
                    const float *zd = c->Zd + c0 * K;
                    #pragma omp simd
                    for (int64_t i = 0; i < rn * K; i++) z[i] += advance * (double)zd[i];
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rn, (int)K, (int)D, 1.0f,
                            c->X + c0 * D, (int)D, c->Wf, (int)D, 0.0f, c->Zd + c0 * K, (int)K);
            }
            rows_softmax(c, h, c0, rn, b, alpha);
            if (!grad) continue;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)D, (int)rn, 1.0f,
                        h->Rc, (int)K, c->X + c0 * D, (int)D, 0.0f, h->G, (int)D);
            for (int64_t i = 0; i < K * D; i++) h->Gd[i] += h->G[i];
        }
    }
    double loss = 0;
    for (int t = 0; t < nt; t++) loss += c->th[t].loss;

    const double invC = 1.0 / c->C;
    double wsq = 0;
    for (int64_t i = 0; i < K * D; i++) wsq += theta[i] * theta[i];
    double f = loss + 0.5 * invC * wsq;
    if (!grad) return f;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < K * D; i++) {
        double s = 0;
        for (int t = 0; t < nt; t++) s += c->th[t].Gd[i];
        grad[i] = s + invC * theta[i];
    }
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int t = 0; t < nt; t++) s += c->th[t].bg[k];
        grad[K * D + k] = s;
    }
    return f;
}

/* A new search direction: its W part is rounded to float (Wf, and d itself)
 * so that the iterate moves exactly along what the float GEMM sees. */
static void ctx_set_direction(lr_ctx *c, double *d) {
    for (int64_t i = 0; i < c->K * c->D; i++) { c->Wf[i] = (float)d[i]; d[i] = c->Wf[i]; }
}

/* ---- input checks ------------------------------------------------------- */

static int check_inputs(const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K,
                        double C, int need_all_classes) {
    if (N <= 0) return en_error("logreg: no samples (N = %lld)", (long long)N);
    if (D <= 0) return en_error("logreg: no features (D = %lld)", (long long)D);
    if (K < 2) return en_error("logreg: needs at least 2 classes (K = %lld)", (long long)K);
    if (!(C > 0) || isinf(C)) return en_error("logreg: C must be a positive number (got %g)", C);
    if (N > INT32_MAX || D > INT32_MAX || K > INT32_MAX)  /* BLAS takes int dimensions */
        return en_error("logreg: %lld x %lld with %lld classes is too large (each must fit an int)",
                        (long long)N, (long long)D, (long long)K);
    int64_t bad = -1;
    #pragma omp parallel for schedule(static) reduction(max:bad)
    for (int64_t i = 0; i < N * D; i++)
        if (!isfinite(X[i]) && i > bad) bad = i;
    if (bad >= 0)
        return en_error("logreg: X contains NaN or infinity (row %lld, column %lld)",
                        (long long)(bad / D), (long long)(bad % D));
    int64_t *count = calloc((size_t)K, sizeof *count);
    if (!count) return en_error("logreg: out of memory");
    for (int64_t n = 0; n < N; n++) {
        if (y[n] < 0 || y[n] >= K) {
            free(count);
            return en_error("logreg: label %lld of row %lld is outside [0, %lld)",
                            (long long)y[n], (long long)n, (long long)K);
        }
        count[y[n]]++;
    }
    int present = 0;
    int64_t empty = -1;
    for (int64_t k = 0; k < K; k++) {
        if (count[k]) present++;
        else if (empty < 0) empty = k;
    }
    free(count);
    if (present < 2)
        return en_error("logreg: the data contain only one class (label %lld); at least 2 are needed",
                        (long long)y[0]);
    if (need_all_classes && empty >= 0)
        return en_error("logreg: class %lld of %lld has no samples", (long long)empty, (long long)K);
    return 0;
}

/* ---- Moré–Thuente line search (MINPACK-2 dcsrch/dcstep, as in L-BFGS-B) --- */

typedef enum { LS_FG, LS_CONV, LS_WARN, LS_ERROR } ls_task;

typedef struct {
    int brackt, stage;
    double ginit, gtest, gx, gy, finit, fx, fy, stx, sty, stmin, stmax, width, width1;
} ls_state;

static void dcstep(double *stx, double *fx, double *dx, double *sty, double *fy, double *dy,
                   double *stp, double fp, double dp, int *brackt, double stpmin, double stpmax) {
    double sgnd = dp * (*dx / fabs(*dx)), stpf, stpc, stpq, theta, s, gamma, p, q, r;
    if (fp > *fx) {
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp < *stx) gamma = -gamma;
        p = (gamma - *dx) + theta;
        q = ((gamma - *dx) + gamma) + dp;
        r = p / q;
        stpc = *stx + r * (*stp - *stx);
        stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        stpf = fabs(stpc - *stx) < fabs(stpq - *stx) ? stpc : stpc + (stpq - stpc) / 2.0;
        *brackt = 1;
    } else if (sgnd < 0) {
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = ((gamma - dp) + gamma) + *dx;
        r = p / q;
        stpc = *stp + r * (*stx - *stp);
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
        *brackt = 1;
    } else if (fabs(dp) < fabs(*dx)) {
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = (gamma + (*dx - dp)) + gamma;
        r = p / q;
        if (r < 0 && gamma != 0) stpc = *stp + r * (*stx - *stp);
        else if (*stp > *stx) stpc = stpmax;
        else stpc = stpmin;
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (*brackt) {
            stpf = fabs(stpc - *stp) < fabs(stpq - *stp) ? stpc : stpq;
            if (*stp > *stx) stpf = fmin(*stp + 0.66 * (*sty - *stp), stpf);
            else stpf = fmax(*stp + 0.66 * (*sty - *stp), stpf);
        } else {
            stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
            stpf = fmin(stpmax, stpf);
            stpf = fmax(stpmin, stpf);
        }
    } else {
        if (*brackt) {
            theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            s = fmax(fabs(theta), fmax(fabs(*dy), fabs(dp)));
            gamma = s * sqrt((theta / s) * (theta / s) - (*dy / s) * (dp / s));
            if (*stp > *sty) gamma = -gamma;
            p = (gamma - dp) + theta;
            q = ((gamma - dp) + gamma) + *dy;
            r = p / q;
            stpc = *stp + r * (*sty - *stp);
            stpf = stpc;
        } else if (*stp > *stx) {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }
    if (fp > *fx) {
        *sty = *stp; *fy = fp; *dy = dp;
    } else {
        if (sgnd < 0) { *sty = *stx; *fy = *fx; *dy = *dx; }
        *stx = *stp; *fx = fp; *dx = dp;
    }
    *stp = stpf;
}

/* One call per function value, as the Fortran's reverse communication:
 * start != 0 on the first call of a search. */
static ls_task dcsrch(ls_state *st, int start, double f, double g, double *stp,
                      double ftol, double gtol, double xtol, double stpmin, double stpmax) {
    const double xtrapl = 1.1, xtrapu = 4.0;
    if (start) {
        if (*stp < stpmin || *stp > stpmax || g >= 0) return LS_ERROR;
        st->brackt = 0; st->stage = 1;
        st->finit = f; st->ginit = g; st->gtest = ftol * g;
        st->width = stpmax - stpmin; st->width1 = st->width / 0.5;
        st->stx = 0; st->fx = f; st->gx = g;
        st->sty = 0; st->fy = f; st->gy = g;
        st->stmin = 0; st->stmax = *stp + xtrapu * *stp;
        return LS_FG;
    }
    double ftest = st->finit + *stp * st->gtest;
    if (st->stage == 1 && f <= ftest && g >= 0) st->stage = 2;
    ls_task task = LS_FG;
    if (st->brackt && (*stp <= st->stmin || *stp >= st->stmax)) task = LS_WARN;
    if (st->brackt && st->stmax - st->stmin <= xtol * st->stmax) task = LS_WARN;
    if (*stp == stpmax && f <= ftest && g <= st->gtest) task = LS_WARN;
    if (*stp == stpmin && (f > ftest || g >= st->gtest)) task = LS_WARN;
    if (f <= ftest && fabs(g) <= gtol * (-st->ginit)) task = LS_CONV;
    if (task != LS_FG) return task;

    if (st->stage == 1 && f <= st->fx && f > ftest) {
        double fm = f - *stp * st->gtest, fxm = st->fx - st->stx * st->gtest,
               fym = st->fy - st->sty * st->gtest, gm = g - st->gtest,
               gxm = st->gx - st->gtest, gym = st->gy - st->gtest;
        dcstep(&st->stx, &fxm, &gxm, &st->sty, &fym, &gym, stp, fm, gm, &st->brackt,
               st->stmin, st->stmax);
        st->fx = fxm + st->stx * st->gtest; st->fy = fym + st->sty * st->gtest;
        st->gx = gxm + st->gtest; st->gy = gym + st->gtest;
    } else {
        dcstep(&st->stx, &st->fx, &st->gx, &st->sty, &st->fy, &st->gy, stp, f, g, &st->brackt,
               st->stmin, st->stmax);
    }
    if (st->brackt) {
        if (fabs(st->sty - st->stx) >= 0.66 * st->width1) *stp = st->stx + 0.5 * (st->sty - st->stx);
        st->width1 = st->width;
        st->width = fabs(st->sty - st->stx);
        st->stmin = fmin(st->stx, st->sty);
        st->stmax = fmax(st->stx, st->sty);
    } else {
        st->stmin = *stp + xtrapl * (*stp - st->stx);
        st->stmax = *stp + xtrapu * (*stp - st->stx);
    }
    *stp = fmax(*stp, stpmin);
    *stp = fmin(*stp, stpmax);
    if ((st->brackt && (*stp <= st->stmin || *stp >= st->stmax)) ||
        (st->brackt && st->stmax - st->stmin <= xtol * st->stmax))
        *stp = st->stx;
    return LS_FG;
}

/* ---- L-BFGS ------------------------------------------------------------- */

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

en_logreg_opts en_logreg_defaults(void) {
    return (en_logreg_opts){ .C = 1.0, .max_iter = 100, .tol = 1e-4, .verbose = 0 };
}

const char *en_logreg_status_name(en_logreg_status s) {
    static const char *names[] = {
        "converged (projected gradient <= tol)",
        "converged (relative reduction of the objective)",
        "stopped at max_iter",
        "stopped at the evaluation limit",
        "abnormal termination in the line search",
    };
    _Static_assert(sizeof names / sizeof names[0] == EN_LOGREG_STATUS_COUNT, "status names");
    return (unsigned)s < EN_LOGREG_STATUS_COUNT ? names[s] : "?";
}

void en_logreg_free(en_logreg *m) {
    free(m->W); free(m->b);
    m->W = m->b = NULL;
}

int en_logreg_fit(en_logreg *m, const float *X, const int64_t *y, int64_t N, int64_t D,
                  int64_t K, const en_logreg_opts *opts) {
    memset(m, 0, sizeof *m);
    en_logreg_opts o = opts ? *opts : en_logreg_defaults();
    if (o.max_iter < 1) return en_error("logreg: max_iter must be >= 1 (got %d)", o.max_iter);
    if (!(o.tol >= 0)) return en_error("logreg: tol must be >= 0 (got %g)", o.tol);
    if (check_inputs(X, y, N, D, K, o.C, 1)) return -1;

    lr_ctx c;
    if (ctx_init(&c, X, y, N, D, K, o.C)) return -1;
    const int64_t n = K * D + K;
    /* x, g, d, the line-search start t and r, and the history S, Y. */
    double *buf = malloc((size_t)n * (5 + 2 * HIST) * sizeof *buf);
    m->W = malloc((size_t)K * D * sizeof *m->W);
    m->b = malloc((size_t)K * sizeof *m->b);
    if (!buf || !m->W || !m->b) {
        free(buf); ctx_free(&c); en_logreg_free(m);
        return en_error("logreg: out of memory for the L-BFGS state (%lld variables)", (long long)n);
    }
    double *x = buf, *g = x + n, *d = g + n, *t = d + n, *r = t + n;
    double *S = r + n, *Y = S + (size_t)HIST * n;
    double rho[HIST], alph[HIST];
    memset(x, 0, (size_t)n * sizeof *x);

    double f = ctx_eval(&c, x, 0.0, g, 0, 0.0);
    int nfev = 1, iter = 0, col = 0, head = 0;
    double theta = 1.0, sbgnrm = max_abs(g, n), advance = 0;
    const double epsmch = 2.220446049250313e-16;
    en_logreg_status status = EN_LOGREG_CONV_PGTOL;
    int done = sbgnrm <= o.tol;

    while (!done) {
        /* Search direction: steepest descent with an empty memory, otherwise
         * the L-BFGS two-loop product with H0 = I/theta (what L-BFGS-B's
         * subspace minimisation reduces to without bounds). */
        if (col == 0) {
            for (int64_t i = 0; i < n; i++) d[i] = -g[i];
        } else {
            for (int64_t i = 0; i < n; i++) d[i] = g[i];
            for (int j = col - 1; j >= 0; j--) {
                int s = (head + j) % HIST;
                alph[j] = rho[s] * dot(S + (size_t)s * n, d, n);
                const double *ys = Y + (size_t)s * n;
                for (int64_t i = 0; i < n; i++) d[i] -= alph[j] * ys[i];
            }
            for (int64_t i = 0; i < n; i++) d[i] /= theta;
            for (int j = 0; j < col; j++) {
                int s = (head + j) % HIST;
                double beta = rho[s] * dot(Y + (size_t)s * n, d, n);
                const double *ss = S + (size_t)s * n;
                for (int64_t i = 0; i < n; i++) d[i] += (alph[j] - beta) * ss[i];
            }
            for (int64_t i = 0; i < n; i++) d[i] = -d[i];
        }
        ctx_set_direction(&c, d);

        /* Line search along d from x (lnsrlb). */
        double dnorm = sqrt(dot(d, d, n));
        double stp = iter == 0 ? fmin(1.0 / dnorm, 1e10) : 1.0;
        memcpy(t, x, (size_t)n * sizeof *t);
        memcpy(r, g, (size_t)n * sizeof *r);
        double fold = f, gd = dot(g, d, n), gdold = gd;
        int ifun = 0, failed = gd >= 0;   /* not a descent direction */
        ls_state ls;
        ls_task task = LS_FG;
        if (!failed) task = dcsrch(&ls, 1, f, gd, &stp, 1e-3, 0.9, 0.1, 0.0, 1e10);
        while (!failed) {
            if (task == LS_CONV || task == LS_WARN) break;
            if (task == LS_ERROR || ifun >= MAXLS) { failed = 1; break; }
            ifun++;
            for (int64_t i = 0; i < n; i++) x[i] = stp * d[i] + t[i];
            /* The first trial also computes the direction's logits. */
            f = ctx_eval(&c, x, stp, g, ifun == 1, advance);
            if (ifun == 1) advance = 0;
            nfev++;
            gd = dot(g, d, n);
            task = dcsrch(&ls, 0, f, gd, &stp, 1e-3, 0.9, 0.1, 0.0, 1e10);
        }
        if (failed) {
            memcpy(x, t, (size_t)n * sizeof *x);
            memcpy(g, r, (size_t)n * sizeof *g);
            f = fold;
            if (col == 0) { status = EN_LOGREG_LINE_SEARCH; iter++; break; }
            col = 0; head = 0; theta = 1.0;   /* refresh the memory and retry */
            continue;
        }
        advance = stp;   /* Z catches up with x in the next search's first evaluation */
        iter++;
        sbgnrm = max_abs(g, n);
        if (o.verbose)
            fprintf(stderr, "logreg: iter %4d  f %.10e  |g|max %.3e  step %.3e  evals %d\n",
                    iter, f, sbgnrm, stp, ifun);
        /* scipy checks its limits at each new iterate, before L-BFGS-B's own tests. */
        if (iter >= o.max_iter) { status = EN_LOGREG_MAX_ITER; break; }
        if (nfev > MAXFUN) { status = EN_LOGREG_MAX_FUN; break; }
        if (sbgnrm <= o.tol) { status = EN_LOGREG_CONV_PGTOL; break; }
        if (fold - f <= FTOL_REL * fmax(fmax(fabs(fold), fabs(f)), 1.0)) {
            status = EN_LOGREG_CONV_FTOL; break;
        }
        /* Update the memory with s = stp·d, y = g − g_old, unless the
         * curvature s'y is not safely positive. */
        double dr = (gd - gdold) * stp, ddum = -gdold * stp;
        if (dr <= epsmch * ddum) continue;
        int slot = col < HIST ? (head + col) % HIST : head;
        if (col < HIST) col++; else head = (head + 1) % HIST;
        double *ss = S + (size_t)slot * n, *ys = Y + (size_t)slot * n;
        for (int64_t i = 0; i < n; i++) { ss[i] = stp * d[i]; ys[i] = g[i] - r[i]; }
        rho[slot] = 1.0 / dr;
        theta = dot(ys, ys, n) / dr;
    }

    for (int64_t i = 0; i < K * D; i++) m->W[i] = (float)x[i];
    for (int64_t k = 0; k < K; k++) m->b[k] = (float)x[K * D + k];
    m->K = K; m->D = D;
    m->n_iter = iter; m->n_fev = nfev; m->loss = f;
    m->grad_max = max_abs(g, n);
    m->status = status;
    free(buf);
    ctx_free(&c);
    return 0;
}

/* ---- prediction --------------------------------------------------------- */

int en_logreg_decision(const en_logreg *m, const float *X, int64_t N, float *scores) {
    const int64_t K = m->K, D = m->D;
    if (N <= 0) return 0;
    for (int64_t n = 0; n < N; n++) memcpy(scores + n * K, m->b, (size_t)K * sizeof *scores);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)K, (int)D, 1.0f,
                X, (int)D, m->W, (int)D, 1.0f, scores, (int)K);
    return 0;
}

int en_logreg_predict_proba(const en_logreg *m, const float *X, int64_t N, float *proba) {
    const int64_t K = m->K;
    if (en_logreg_decision(m, X, N, proba)) return -1;
    #pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *p = proba + n * K;
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; k++) mx = p[k] > mx ? p[k] : mx;
        for (int64_t k = 0; k < K; k++) s += exp((double)p[k] - mx);
        double lse = mx + log(s);
        for (int64_t k = 0; k < K; k++) p[k] = (float)exp((double)p[k] - lse);
    }
    return 0;
}

int en_logreg_predict(const en_logreg *m, const float *X, int64_t N, int64_t *labels) {
    const int64_t K = m->K;
    if (N <= 0) return 0;
    float *s = malloc((size_t)N * K * sizeof *s);
    if (!s) return en_error("logreg: out of memory for %lld scores", (long long)(N * K));
    en_logreg_decision(m, X, N, s);
    for (int64_t n = 0; n < N; n++) {
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (s[n * K + k] > s[n * K + best]) best = k;
        labels[n] = best;
    }
    free(s);
    return 0;
}

/* ---- the objective on its own (tests) ------------------------------------ */

double en_logreg_objective_ref(const float *X, const int64_t *y, int64_t N, int64_t D,
                               int64_t K, double C, const double *theta, double *grad) {
    if (check_inputs(X, y, N, D, K, C, 0)) return NAN;
    const double *W = theta, *b = theta + K * D;
    double *z = malloc((size_t)K * sizeof *z);
    if (!z) return en_error("logreg: out of memory"), NAN;
    if (grad) memset(grad, 0, (size_t)(K * D + K) * sizeof *grad);
    double f = 0;
    for (int64_t n = 0; n < N; n++) {
        double mx = -INFINITY, s = 0;
        for (int64_t k = 0; k < K; k++) {
            double v = b[k];
            for (int64_t j = 0; j < D; j++) v += W[k * D + j] * (double)X[n * D + j];
            z[k] = v; mx = fmax(mx, v);
        }
        for (int64_t k = 0; k < K; k++) s += exp(z[k] - mx);
        double lse = mx + log(s);
        f += lse - z[y[n]];
        if (!grad) continue;
        for (int64_t k = 0; k < K; k++) {
            double rk = exp(z[k] - lse) - (k == y[n]);
            for (int64_t j = 0; j < D; j++) grad[k * D + j] += rk * (double)X[n * D + j];
            grad[K * D + k] += rk;
        }
    }
    for (int64_t i = 0; i < K * D; i++) {
        f += 0.5 / C * W[i] * W[i];
        if (grad) grad[i] += W[i] / C;
    }
    free(z);
    return f;
}

double en_logreg_objective(const float *X, const int64_t *y, int64_t N, int64_t D,
                           int64_t K, double C, const double *theta, double *grad) {
    if (check_inputs(X, y, N, D, K, C, 0)) return NAN;
    lr_ctx c;
    if (ctx_init(&c, X, y, N, D, K, C)) return NAN;
    /* Logits along the "direction" theta from W = 0, as the fit builds them. */
    double *w = malloc((size_t)(K * D) * sizeof *w);
    if (!w) { ctx_free(&c); return en_error("logreg: out of memory"), NAN; }
    memcpy(w, theta, (size_t)(K * D) * sizeof *w);
    ctx_set_direction(&c, w);
    double f = ctx_eval(&c, theta, 1.0, grad, 1, 0.0);
    free(w);
    ctx_free(&c);
    return f;
}
