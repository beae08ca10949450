/* en_fewshot_methods — Tip-Adapter, LP++, CLAP and the cross-modal training
 * set (contract and references in en_fewshot_methods.h). The products of
 * features with weights are GEMMs on the CPU back end; per-row work runs as
 * OpenMP loops writing disjoint rows, and every sum that reaches a result
 * runs in a fixed order. */
#include "en_fewshot_methods.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_fewshot.h"
#include "en_optim.h"
#include "en_sched.h"
#include "kn_backend.h"

/* C (M, N) = A (M, Kd) Bᵀ, B (N, Kd) */
static void gemm_nt(float *C, const float *A, const float *B, int64_t M, int64_t N, int64_t Kd) {
    kn_cpu_backend()->gemm(0, 1, (int)M, (int)N, (int)Kd, 1.0f, A, (int)Kd, B, (int)Kd, 0.0f, C, (int)N);
}

static int check_sizes(const char *who, int64_t N, int64_t D, int64_t K) {
    if (N <= 0 || D <= 0 || K <= 0)
        return en_error("%s: empty problem (N %lld, D %lld, K %lld)", who, (long long)N, (long long)D, (long long)K);
    return 0;
}

static int check_labels(const char *who, const int64_t *y, int64_t N, int64_t K) {
    for (int64_t i = 0; i < N; i++)
        if (y[i] < 0 || y[i] >= K)
            return en_error("%s: label %lld at row %lld is outside 0..%lld", who, (long long)y[i], (long long)i + 1,
                            (long long)K - 1);
    return 0;
}

/* ---- Tip-Adapter ------------------------------------------------------------ */

int en_tip_logits(float *out, const float *Xq, int64_t M, const float *keys, const int64_t *labels,
                  int64_t NK, const float *Wzs, int64_t K, int64_t D, double scale, double beta, double alpha) {
    if (check_sizes("tip-adapter", M, D, K) < 0 || check_sizes("tip-adapter", NK, D, K) < 0) return -1;
    if (check_labels("tip-adapter", labels, NK, K) < 0) return -1;
    float *A = malloc((size_t)(M * NK) * sizeof *A);
    if (!A) return en_error("tip-adapter: out of memory for %lld affinities", (long long)(M * NK));
    gemm_nt(A, Xq, keys, M, NK, D);
    gemm_nt(out, Xq, Wzs, M, K, D);
    #pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < M; n++) {
        float *o = out + n * K;
        const float *a = A + n * NK;
        double acc[K];   /* K is the class count: small */
        for (int64_t k = 0; k < K; k++) acc[k] = 0;
        for (int64_t j = 0; j < NK; j++) acc[labels[j]] += exp(-beta * (1.0 - a[j]));
        for (int64_t k = 0; k < K; k++) o[k] = (float)(scale * o[k] + alpha * acc[k]);
    }
    free(A);
    return 0;
}

int en_tip_search(en_tip_choice *c, const float *Xv, const int64_t *yv, int64_t Nv, const float *keys,
                  const int64_t *labels, int64_t NK, const float *Wzs, int64_t K, int64_t D, double scale,
                  double beta_max, int n_beta, double alpha_max, int n_alpha) {
    if (check_sizes("tip-adapter", Nv, D, K) < 0 || check_sizes("tip-adapter", NK, D, K) < 0) return -1;
    if (n_beta < 1 || n_alpha < 1) return en_error("tip-adapter: the grid needs at least one beta and one alpha");
    if (check_labels("tip-adapter", labels, NK, K) < 0 || check_labels("tip-adapter validation", yv, Nv, K) < 0) return -1;
    float *A = malloc((size_t)(Nv * NK) * sizeof *A), *Z = malloc((size_t)(Nv * K) * sizeof *Z);
    double *C = malloc((size_t)(Nv * K) * sizeof *C);
    int64_t *right = malloc((size_t)n_alpha * sizeof *right);
    if (!A || !Z || !C || !right) {
        free(A); free(Z); free(C); free(right);
        return en_error("tip-adapter: out of memory for the search");
    }
    gemm_nt(A, Xv, keys, Nv, NK, D);
    gemm_nt(Z, Xv, Wzs, Nv, K, D);
    c->val = -1;
    for (int ib = 0; ib < n_beta; ib++) {
        double beta = ib * (beta_max - 0.1) / n_beta + 0.1;
        for (int ia = 0; ia < n_alpha; ia++) right[ia] = 0;
        #pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < Nv; n++) {
            double *cr = C + n * K;
            for (int64_t k = 0; k < K; k++) cr[k] = 0;
            for (int64_t j = 0; j < NK; j++) cr[labels[j]] += exp(-beta * (1.0 - A[n * NK + j]));
        }
        /* rows in parallel would race on right[]: the per-alpha counts are
         * integer sums, so a reduction per alpha is exact in any order */
        for (int ia = 0; ia < n_alpha; ia++) {
            double alpha = ia * (alpha_max - 0.1) / n_alpha + 0.1;
            int64_t r = 0;
            #pragma omp parallel for reduction(+ : r) schedule(static)
            for (int64_t n = 0; n < Nv; n++) {
                int64_t best = 0;
                float bs = -INFINITY;
                for (int64_t k = 0; k < K; k++) {
                    /* the same float rounding as en_tip_logits */
                    float s = (float)(scale * Z[n * K + k] + alpha * C[n * K + k]);
                    if (s > bs) { bs = s; best = k; }
                }
                r += best == yv[n];
            }
            right[ia] = r;
        }
        for (int ia = 0; ia < n_alpha; ia++) {
            double v = (double)right[ia] / (double)Nv;
            if (v > c->val) {
                c->val = v;
                c->beta = beta;
                c->alpha = ia * (alpha_max - 0.1) / n_alpha + 0.1;
            }
        }
    }
    free(A); free(Z); free(C); free(right);
    return 0;
}

/* ---- LP++ ------------------------------------------------------------------- */

double en_lpp_lr_w(const float *X, int64_t N, int64_t D) {
    /* λmax(XᵀX) = λmax(XXᵀ): power iteration on the smaller Gram matrix */
    int rows = N < D;                 /* Gram of rows (N x N) when N < D */
    int64_t m = rows ? N : D;
    double *G = calloc((size_t)(m * m), sizeof *G), *v = malloc((size_t)m * sizeof *v), *w = malloc((size_t)m * sizeof *w);
    EN_ASSERT(G && v && w);
    for (int64_t a = 0; a < m; a++)
        for (int64_t b = 0; b <= a; b++) {
            double s = 0;
            if (rows) for (int64_t d = 0; d < D; d++) s += (double)X[a * D + d] * X[b * D + d];
            else      for (int64_t n = 0; n < N; n++) s += (double)X[n * D + a] * X[n * D + b];
            G[a * m + b] = G[b * m + a] = s;
        }
    /* a start with a component along every eigenvector of a generic matrix */
    double nv = 0;
    for (int64_t a = 0; a < m; a++) { v[a] = 1.0 + 0.01 * (double)(a % 7); nv += v[a] * v[a]; }
    for (int64_t a = 0; a < m; a++) v[a] /= sqrt(nv);
    double lam = 0;
    for (int it = 0; it < 5000; it++) {
        double nw = 0, rq = 0;
        for (int64_t a = 0; a < m; a++) {
            double s = 0;
            for (int64_t b = 0; b < m; b++) s += G[a * m + b] * v[b];
            w[a] = s;
            nw += s * s;
            rq += s * v[a];
        }
        nw = sqrt(nw);
        if (nw == 0) break;
        for (int64_t a = 0; a < m; a++) v[a] = w[a] / nw;
        int done = fabs(rq - lam) <= 1e-14 * fabs(rq);
        lam = rq;     /* the Rayleigh quotient vᵀGv of the unit v */
        if (done) break;
    }
    free(G); free(v); free(w);
    return lam > 0 ? 4.0 * (double)N / lam : 0;
}

double en_lpp_lr_alpha(const float *X, int64_t N, const float *T, int64_t K, int64_t D) {
    double mx = 0;
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t n = 0; n < N; n++) {
            double d = 0;
            for (int64_t j = 0; j < D; j++) d += (double)X[n * D + j] * T[k * D + j];
            s += d * d;
        }
        if (s > mx) mx = s;
    }
    return mx > 0 ? (double)N / (4.0 * mx) : 0;
}

double en_lpp_alpha0(const float *X, const int64_t *y, int64_t N, const float *T, int64_t K, int64_t D) {
    double total = 0;
    int64_t classes = 0;
    for (int64_t c = 0; c < K; c++) {
        double s = 0;
        int64_t n_c = 0;
        for (int64_t n = 0; n < N; n++) {
            if (y[n] != c) continue;
            n_c++;
            for (int64_t k = 0; k < K; k++) {
                double d = 0;
                for (int64_t j = 0; j < D; j++) d += (double)X[n * D + j] * T[k * D + j];
                s += d;
            }
        }
        if (n_c) { total += s / (double)n_c; classes++; }
    }
    return classes ? 250.0 * total / (double)(classes * K) : 0;
}

double en_lpp_objective(float *gW, float *ga, float *work, const float *X, const int64_t *y, const float *W,
                        const float *a, const float *T, int64_t N, int64_t D, int64_t K) {
    /* work holds S = X Wᵀ, then the logits' gradient G; St = X Tᵀ is needed
     * for a's gradient and the logits, computed once per call */
    float *S = work;
    float *St = malloc((size_t)(N * K) * sizeof *St);
    double *rowloss = malloc((size_t)N * sizeof *rowloss);
    EN_ASSERT(St && rowloss);
    gemm_nt(S, X, W, N, K, D);
    gemm_nt(St, X, T, N, K, D);
    #pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        float *p = S + n * K;
        const float *st = St + n * K;
        double mx = -INFINITY, z = 0;
        for (int64_t k = 0; k < K; k++) {
            p[k] = p[k] + a[k] * st[k];
            if (p[k] > mx) mx = p[k];
        }
        for (int64_t k = 0; k < K; k++) z += exp(p[k] - mx);
        rowloss[n] = mx + log(z) - p[y[n]];
        for (int64_t k = 0; k < K; k++) p[k] = (float)((exp(p[k] - mx) / z) / (double)N);
        p[y[n]] -= (float)(1.0 / (double)N);
    }
    double loss = 0;
    for (int64_t n = 0; n < N; n++) loss += rowloss[n];
    if (gW) kn_cpu_backend()->gemm(1, 0, (int)K, (int)D, (int)N, 1.0f, S, (int)K, X, (int)D, 0.0f, gW, (int)D);
    if (ga)
        for (int64_t k = 0; k < K; k++) {
            double s = 0;
            for (int64_t n = 0; n < N; n++) s += (double)S[n * K + k] * St[n * K + k];
            ga[k] = (float)s;
        }
    free(St);
    free(rowloss);
    return loss / (double)N;
}

void en_lpp_result_free(en_lpp_result *r) {
    free(r->W); free(r->alpha); free(r->val);
    memset(r, 0, sizeof *r);
}

static void blend(float *out, const float *W, const float *a, const float *T, int64_t K, int64_t D) {
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < D; j++) out[k * D + j] = W[k * D + j] + a[k] * T[k * D + j];
}

int en_lpp_train(en_lpp_result *r, const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K,
                 const float *T, const en_lpp_opts *o) {
    memset(r, 0, sizeof *r);
    if (check_sizes("lp++", N, D, K) < 0 || check_labels("lp++", y, N, K) < 0) return -1;
    if (o->epochs < 1 || o->alpha_every < 1) return en_error("lp++: epochs and alpha_every must be >= 1");
    if (!o->Xval || !o->yval || o->Nval <= 0) return en_error("lp++: needs a validation split");
    if (check_labels("lp++ validation", o->yval, o->Nval, K) < 0) return -1;
    size_t KD = (size_t)(K * D);
    int64_t Nw = o->Nval > N ? o->Nval : N;
    float *W = calloc(KD, sizeof *W), *gW = malloc(KD * sizeof *gW), *Weff = malloc(KD * sizeof *Weff);
    float *a = malloc((size_t)K * sizeof *a), *ga = malloc((size_t)K * sizeof *ga), *b0 = calloc((size_t)K, sizeof *b0);
    float *work = malloc((size_t)(Nw * K) * sizeof *work);
    r->W = malloc(KD * sizeof *r->W);
    r->alpha = malloc((size_t)K * sizeof *r->alpha);
    r->val = calloc((size_t)o->epochs, sizeof *r->val);
    en_sgd opt;
    int rc = 0;
    if (!W || !gW || !Weff || !a || !ga || !b0 || !work || !r->W || !r->alpha || !r->val)
        rc = en_error("lp++: out of memory for a %lld x %lld head", (long long)K, (long long)D);
    r->lr_w = rc ? 0 : en_lpp_lr_w(X, N, D);
    if (!rc && en_sgd_init(&opt, KD, NULL, r->lr_w, 0.9, 0, 0, 0) < 0) rc = -1;
    if (rc) {
        free(W); free(gW); free(Weff); free(a); free(ga); free(b0); free(work);
        en_lpp_result_free(r);
        return -1;
    }
    r->lr_alpha = en_lpp_lr_alpha(X, N, T, K, D);
    r->alpha0 = en_lpp_alpha0(X, y, N, T, K, D);
    for (int64_t n = 0; n < N; n++)      /* visual prototypes: the class sums */
        for (int64_t j = 0; j < D; j++) W[y[n] * D + j] += X[n * D + j];
    for (int64_t k = 0; k < K; k++) a[k] = (float)r->alpha0;
    double best = -1;
    for (int e = 1; e <= o->epochs; e++) {
        en_lpp_objective(gW, ga, work, X, y, W, a, T, N, D, K);
        en_sgd_step_flat(&opt, W, gW, KD);
        if (e % o->alpha_every == 0)
            for (int64_t k = 0; k < K; k++) a[k] = (float)(a[k] - r->lr_alpha * ga[k]);
        blend(Weff, W, a, T, K, D);
        double v = en_fewshot_accuracy(o->Xval, o->yval, Weff, b0, o->Nval, D, K, work);
        r->val[e - 1] = v;
        if (v >= best) {
            best = v;
            r->best_epoch = e;
            memcpy(r->W, Weff, KD * sizeof *Weff);
            memcpy(r->alpha, a, (size_t)K * sizeof *a);
        }
    }
    r->epochs = o->epochs;
    en_sgd_free(&opt);
    free(W); free(gW); free(Weff); free(a); free(ga); free(b0); free(work);
    return 0;
}

/* ---- CLAP ------------------------------------------------------------------- */

en_clap_opts en_clap_defaults(void) {
    en_clap_opts o = {0};
    o.epochs = 300;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.scale = 100;
    return o;
}

void en_clap_result_free(en_clap_result *r) {
    free(r->P); free(r->W); free(r->lambda); free(r->val);
    memset(r, 0, sizeof *r);
}

/* out = P with unit rows; norms[k] = |p_k| (double). */
static void normalise_rows(float *out, double *norms, const float *P, int64_t K, int64_t D) {
    for (int64_t k = 0; k < K; k++) {
        double s = 0;
        for (int64_t j = 0; j < D; j++) s += (double)P[k * D + j] * P[k * D + j];
        s = sqrt(s);
        if (norms) norms[k] = s;
        for (int64_t j = 0; j < D; j++) out[k * D + j] = s > 0 ? (float)(P[k * D + j] / s) : 0.0f;
    }
}

int en_clap_lambdas(double *lambda, const float *X, const int64_t *y, int64_t N, const float *T, int64_t K,
                    int64_t D, double scale) {
    if (check_sizes("clap", N, D, K) < 0 || check_labels("clap", y, N, K) < 0) return -1;
    float *Th = malloc((size_t)(K * D) * sizeof *Th), *S = malloc((size_t)(N * K) * sizeof *S);
    int64_t *cnt = calloc((size_t)K, sizeof *cnt);
    if (!Th || !S || !cnt) { free(Th); free(S); free(cnt); return en_error("clap: out of memory"); }
    normalise_rows(Th, NULL, T, K, D);
    gemm_nt(S, X, Th, N, K, D);
    for (int64_t k = 0; k < K; k++) lambda[k] = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *s = S + n * K;
        double mx = -INFINITY, z = 0;
        for (int64_t k = 0; k < K; k++) if (scale * s[k] > mx) mx = scale * s[k];
        for (int64_t k = 0; k < K; k++) z += exp(scale * s[k] - mx);
        lambda[y[n]] += exp(scale * s[y[n]] - mx) / z;
        cnt[y[n]]++;
    }
    for (int64_t k = 0; k < K; k++) lambda[k] = cnt[k] ? lambda[k] / (double)cnt[k] : 0;
    free(Th); free(S); free(cnt);
    return 0;
}

double en_clap_objective(float *gP, float *work, const float *X, const int64_t *y, const float *P,
                         const float *T, const double *lambda, double scale, int64_t N, int64_t D, int64_t K) {
    float *S = work, *Ph = work + N * K;
    double *norm = malloc((size_t)K * sizeof *norm);
    EN_ASSERT(norm);
    normalise_rows(Ph, norm, P, K, D);
    gemm_nt(S, X, Ph, N, K, D);
    double loss = en_fewshot_xent(S, y, N, K, scale);
    if (gP) {
        /* g = Gᵀ X is the gradient at P̂; through p̂ = p/|p| it becomes
         * (g - (g·p̂) p̂) / |p| */
        kn_cpu_backend()->gemm(1, 0, (int)K, (int)D, (int)N, 1.0f, S, (int)K, X, (int)D, 0.0f, gP, (int)D);
        for (int64_t k = 0; k < K; k++) {
            double gp = 0;
            for (int64_t j = 0; j < D; j++) gp += (double)gP[k * D + j] * Ph[k * D + j];
            for (int64_t j = 0; j < D; j++)
                gP[k * D + j] = norm[k] > 0 ? (float)((gP[k * D + j] - gp * Ph[k * D + j]) / norm[k]) : 0.0f;
        }
    }
    if (lambda) {
        double pen = 0;
        for (int64_t k = 0; k < K; k++) {
            double s = 0;
            for (int64_t j = 0; j < D; j++) {
                double d = (double)P[k * D + j] - T[k * D + j];
                s += d * d;
                if (gP) gP[k * D + j] += (float)(2.0 * lambda[k] * d / (double)K);
            }
            pen += lambda[k] * s;
        }
        loss += pen / (double)K;
    }
    free(norm);
    return loss;
}

int en_clap_train(en_clap_result *r, const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K,
                  const float *T, const en_clap_opts *o) {
    memset(r, 0, sizeof *r);
    if (check_sizes("clap", N, D, K) < 0 || check_labels("clap", y, N, K) < 0) return -1;
    if (o->epochs < 1) return en_error("clap: epochs must be >= 1");
    if (!(o->lr > 0) || !(o->momentum >= 0) || !(o->scale > 0)) return en_error("clap: lr and scale must be > 0, momentum >= 0");
    if (!o->Xval || !o->yval || o->Nval <= 0) return en_error("clap: needs a validation split");
    if (check_labels("clap validation", o->yval, o->Nval, K) < 0) return -1;
    size_t KD = (size_t)(K * D);
    int64_t Nw = o->Nval > N ? o->Nval : N;
    float *P = malloc(KD * sizeof *P), *gP = malloc(KD * sizeof *gP), *Ph = malloc(KD * sizeof *Ph);
    float *b0 = calloc((size_t)K, sizeof *b0), *work = malloc(((size_t)(Nw * K) + KD) * sizeof *work);
    r->P = malloc(KD * sizeof *r->P);
    r->W = malloc(KD * sizeof *r->W);
    r->lambda = calloc((size_t)K, sizeof *r->lambda);
    r->val = calloc((size_t)o->epochs, sizeof *r->val);
    en_sgd opt;
    int rc = 0;
    if (!P || !gP || !Ph || !b0 || !work || !r->P || !r->W || !r->lambda || !r->val)
        rc = en_error("clap: out of memory for a %lld x %lld head", (long long)K, (long long)D);
    if (!rc && o->constraint && en_clap_lambdas(r->lambda, X, y, N, T, K, D, o->scale) < 0) rc = -1;
    if (!rc && en_sgd_init(&opt, KD, NULL, o->lr, o->momentum, 0, 0, 0) < 0) rc = -1;
    if (rc) {
        free(P); free(gP); free(Ph); free(b0); free(work);
        en_clap_result_free(r);
        return -1;
    }
    memcpy(P, T, KD * sizeof *P);
    memcpy(r->P, P, KD * sizeof *P);
    normalise_rows(Ph, NULL, P, K, D);
    double best = en_fewshot_accuracy(o->Xval, o->yval, Ph, b0, o->Nval, D, K, work);
    for (int e = 1; e <= o->epochs; e++) {
        en_clap_objective(gP, work, X, y, P, T, o->constraint ? r->lambda : NULL, o->scale, N, D, K);
        /* one warm-up epoch at a constant 1e-5, then cosine decay */
        opt.lr = e == 1 ? 1e-5 : en_sched_warmup_cosine(e - 1, o->epochs, 0, o->lr, 0);
        en_sgd_step_flat(&opt, P, gP, KD);
        normalise_rows(Ph, NULL, P, K, D);
        double v = en_fewshot_accuracy(o->Xval, o->yval, Ph, b0, o->Nval, D, K, work);
        r->val[e - 1] = v;
        if (v > best) {
            best = v;
            r->best_epoch = e;
            memcpy(r->P, P, KD * sizeof *P);
        }
    }
    normalise_rows(r->W, NULL, r->P, K, D);
    for (size_t i = 0; i < KD; i++) r->W[i] = (float)(o->scale * r->W[i]);
    r->epochs = o->epochs;
    en_sgd_free(&opt);
    free(P); free(gP); free(Ph); free(b0); free(work);
    return 0;
}

/* ---- cross-modal adaptation ---------------------------------------------------- */

int en_crossmodal_set(float **Xo, int64_t **yo, int64_t *No, const float *X, const int64_t *y, int64_t N,
                      const float *T, int64_t K, int64_t D) {
    *Xo = NULL; *yo = NULL; *No = 0;
    if (check_sizes("cross-modal", N, D, K) < 0 || check_labels("cross-modal", y, N, K) < 0) return -1;
    int64_t reps = (N + K / 2) / K;
    if (reps < 1) reps = 1;
    int64_t M = N + reps * K;
    float *xo = malloc((size_t)(M * D) * sizeof *xo);
    int64_t *ys = malloc((size_t)M * sizeof *ys);
    if (!xo || !ys) { free(xo); free(ys); return en_error("cross-modal: out of memory for %lld rows", (long long)M); }
    memcpy(xo, X, (size_t)(N * D) * sizeof *xo);
    memcpy(ys, y, (size_t)N * sizeof *ys);
    for (int64_t r = 0; r < reps; r++) {
        memcpy(xo + (N + r * K) * D, T, (size_t)(K * D) * sizeof *xo);
        for (int64_t k = 0; k < K; k++) ys[N + r * K + k] = k;
    }
    *Xo = xo; *yo = ys; *No = M;
    return 0;
}
