/* en_fewshot — the few-shot linear head (contract in en_fewshot.h). One
 * epoch: S = X W^T (GEMM), per row z = scale·(S + b), loss = lse(z) - z_y,
 * dz = softmax(z) - onehot(y) (the softmax cross-entropy gradient of
 * en_logreg's objective), G = scale·dz / N, gW = G^T X (GEMM), gb = column
 * sums of G; then one en_adamw step for W (with decay) and one for b. */
#include "en_fewshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_optim.h"
#include "kn_backend.h"
#include "kn_gemm.h"

en_fewshot_opts en_fewshot_defaults(void) {
    en_fewshot_opts o = {0};
    o.epochs = 100;
    o.lr = 1e-3;
    o.scale = 1;
    return o;
}

/* The features of a head's training and validation splits are the left
 * operand of every epoch's score GEMM: packed once per en_fewshot_train
 * (kn_sgemm_pack_a) instead of once per epoch, which was a third of the
 * time of a head at paper scale (engine/NOTES.md). Only where kn_sgemm
 * itself runs the engine kernel for that shape, so that the path the
 * appendix names is the path that ran; the product is the same bits as
 * kn_sgemm's. */
typedef struct { float *Xp, *Wt; } packed_x;

static int pack_x(packed_x *p, const float *X, int64_t N, int64_t D, int64_t K) {
    p->Xp = p->Wt = NULL;
    if (!kn_sgemm_is_native() || kn_gemm_path_for((int)N, (int)K, (int)D) != KN_GEMM_ENGINE) return 0;
    p->Xp = malloc(kn_sgemm_packed_a_floats((int)N, (int)D) * sizeof(float));
    p->Wt = malloc((size_t)(D * K) * sizeof(float));
    if (!p->Xp || !p->Wt) { free(p->Xp); free(p->Wt); p->Xp = p->Wt = NULL; return -1; }
    kn_sgemm_pack_a(p->Xp, 0, (int)N, (int)D, 1.0f, X, (int)D);
    return 0;
}

static void packed_x_free(packed_x *p) { free(p->Xp); free(p->Wt); }

/* S (N, K) = X W^T + b; with px->Xp, as Xp · W^T, W^T stored (D, K) */
static void scores_px(float *S, const packed_x *px, const float *X, const float *W, const float *b, int64_t N,
                      int64_t D, int64_t K) {
    if (px && px->Xp) {
        for (int64_t k = 0; k < K; k++)
            for (int64_t d = 0; d < D; d++) px->Wt[d * K + k] = W[k * D + d];
        kn_sgemm_prepacked_a((int)N, (int)K, (int)D, px->Xp, px->Wt, (int)K, 0.0f, S, (int)K);
    } else {
        kn_cpu_backend()->gemm(0, 1, (int)N, (int)K, (int)D, 1.0f, X, (int)D, W, (int)D, 0.0f, S, (int)K);
    }
    #pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) S[n * K + k] += b[k];
}

/* Mean cross-entropy of the rows of S (N, K) scaled by scale, against y;
 * S becomes the gradient of that mean with respect to the unscaled scores
 * (scale * (softmax - onehot) / N). Rows are summed in order, so the loss
 * has the same bits at any thread count. */
double en_fewshot_xent(float *S, const int64_t *y, int64_t N, int64_t K, double scale) {
    double *rowloss = malloc((size_t)N * sizeof *rowloss);
    EN_ASSERT(rowloss);
    #pragma omp parallel
    {
        double *e = malloc((size_t)K * sizeof *e); /* each exp once, for the sum and the gradient */
        EN_ASSERT(e);
        #pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            float *p = S + n * K;
            double mx = -INFINITY, z = 0;
            for (int64_t k = 0; k < K; k++) {
                p[k] = (float)(scale * p[k]);
                if (p[k] > mx) mx = p[k];
            }
            for (int64_t k = 0; k < K; k++) z += e[k] = exp(p[k] - mx);
            rowloss[n] = mx + log(z) - p[y[n]];
            for (int64_t k = 0; k < K; k++) p[k] = (float)(scale * (e[k] / z) / (double)N);
            p[y[n]] -= (float)(scale / (double)N);
        }
        free(e);
    }
    double loss = 0;
    for (int64_t n = 0; n < N; n++) loss += rowloss[n];   /* in row order: the same at any thread count */
    free(rowloss);
    loss /= (double)N;
    return loss;
}

static double objective_px(float *gW, float *gb, float *work, const packed_x *px, const float *X, const int64_t *y,
                           const float *W, const float *b, const float *W0, double scale, double pull, int64_t N,
                           int64_t D, int64_t K) {
    float *S = work;
    scores_px(S, px, X, W, b, N, D, K);
    double loss = en_fewshot_xent(S, y, N, K, scale);
    kn_cpu_backend()->gemm(1, 0, (int)K, (int)D, (int)N, 1.0f, S, (int)K, X, (int)D, 0.0f, gW, (int)D);
    for (int64_t k = 0; k < K; k++) gb[k] = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) gb[k] += S[n * K + k];
    if (pull > 0) {
        double reg = 0;
        for (int64_t i = 0; i < K * D; i++) {
            double d = (double)W[i] - W0[i];
            gW[i] += (float)(pull * d);
            reg += d * d;
        }
        loss += 0.5 * pull * reg;
    }
    return loss;
}

double en_fewshot_objective(float *gW, float *gb, float *work, const float *X, const int64_t *y,
                            const float *W, const float *b, const float *W0, double scale, double pull,
                            int64_t N, int64_t D, int64_t K) {
    return objective_px(gW, gb, work, NULL, X, y, W, b, W0, scale, pull, N, D, K);
}

static double accuracy_px(const packed_x *px, const float *X, const int64_t *y, const float *W, const float *b,
                          int64_t N, int64_t D, int64_t K, float *work) {
    if (N <= 0) return 0;
    float *S = work ? work : malloc((size_t)(N * K) * sizeof *S);
    if (!S) return en_error("fewshot: out of memory for %lld scores", (long long)(N * K)), -1;
    scores_px(S, px, X, W, b, N, D, K);
    int64_t right = 0;
    #pragma omp parallel for reduction(+ : right) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *s = S + n * K;
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++) if (s[k] > s[best]) best = k;
        right += best == y[n];
    }
    if (!work) free(S);
    return (double)right / (double)N;
}

double en_fewshot_accuracy(const float *X, const int64_t *y, const float *W, const float *b,
                           int64_t N, int64_t D, int64_t K, float *work) {
    return accuracy_px(NULL, X, y, W, b, N, D, K, work);
}

void en_fewshot_result_free(en_fewshot_result *r) {
    free(r->W); free(r->b); free(r->loss); free(r->val);
    memset(r, 0, sizeof *r);
}

static int check_labels(const int64_t *y, int64_t N, int64_t K, const char *what) {
    for (int64_t i = 0; i < N; i++)
        if (y[i] < 0 || y[i] >= K)
            return en_error("fewshot: %s label %lld at row %lld is outside 0..%lld", what, (long long)y[i],
                            (long long)i + 1, (long long)K - 1);
    return 0;
}

int en_fewshot_train(en_fewshot_result *r, const float *X, const int64_t *y, int64_t N, int64_t D,
                     int64_t K, const float *W0, const float *b0, const en_fewshot_opts *o) {
    memset(r, 0, sizeof *r);
    if (N <= 0 || D <= 0 || K <= 0) return en_error("fewshot: empty problem (N %lld, D %lld, K %lld)",
                                                    (long long)N, (long long)D, (long long)K);
    if (o->epochs < 0) return en_error("fewshot: epochs must be >= 0");
    if (!(o->lr >= 0) || !(o->weight_decay >= 0) || !(o->pull >= 0))
        return en_error("fewshot: lr, weight_decay and pull must be >= 0");
    if (check_labels(y, N, K, "a") < 0) return -1;
    int val = o->Xval && o->yval && o->Nval > 0;
    if (val && check_labels(o->yval, o->Nval, K, "a validation") < 0) return -1;
    size_t KD = (size_t)(K * D);
    int64_t Nw = val && o->Nval > N ? o->Nval : N;
    float *W = malloc(KD * sizeof *W), *b = malloc((size_t)K * sizeof *b);
    float *gW = malloc(KD * sizeof *gW), *gb = malloc((size_t)K * sizeof *gb);
    float *bestW = malloc(KD * sizeof *bestW), *bestb = malloc((size_t)K * sizeof *bestb);
    float *work = malloc((size_t)(Nw * K) * sizeof *work);
    r->loss = calloc((size_t)o->epochs + 1, sizeof *r->loss);
    r->val = val ? calloc((size_t)o->epochs + 1, sizeof *r->val) : NULL;
    en_adamw aw, ab;
    int rc = 0;
    if (!W || !b || !gW || !gb || !bestW || !bestb || !work || !r->loss || (val && !r->val))
        rc = en_error("fewshot: out of memory for a %lld x %lld head", (long long)K, (long long)D);
    if (!rc) rc = en_adamw_init(&aw, KD, NULL, o->lr, 0.9, 0.999, 1e-8, o->weight_decay);
    if (!rc && en_adamw_init(&ab, (size_t)K, NULL, o->lr, 0.9, 0.999, 1e-8, 0) < 0) { en_adamw_free(&aw); rc = -1; }
    if (rc) {
        free(W); free(b); free(gW); free(gb); free(bestW); free(bestb); free(work);
        en_fewshot_result_free(r);
        return -1;
    }
    packed_x ptr, pval = {NULL, NULL};
    if (pack_x(&ptr, X, N, D, K) < 0 || (val && pack_x(&pval, o->Xval, o->Nval, D, K) < 0)) {
        /* out of memory for the packed copies: the plain GEMM needs none */
        packed_x_free(&ptr); packed_x_free(&pval);
        ptr.Xp = ptr.Wt = pval.Xp = pval.Wt = NULL;
    }
    memcpy(W, W0, KD * sizeof *W);
    memcpy(b, b0, (size_t)K * sizeof *b);
    memcpy(bestW, W, KD * sizeof *W);
    memcpy(bestb, b, (size_t)K * sizeof *b);
    double best_acc = val ? accuracy_px(&pval, o->Xval, o->yval, W, b, o->Nval, D, K, work) : -1;
    for (int e = 1; e <= o->epochs; e++) {
        r->loss[e - 1] = objective_px(gW, gb, work, &ptr, X, y, W, b, W0, o->scale, o->pull, N, D, K);
        en_adamw_step_flat(&aw, W, gW, KD);
        en_adamw_step_flat(&ab, b, gb, (size_t)K);
        if (val) {
            double acc = accuracy_px(&pval, o->Xval, o->yval, W, b, o->Nval, D, K, work);
            r->val[e - 1] = acc;
            if (acc > best_acc) {
                best_acc = acc;
                r->best_epoch = e;
                memcpy(bestW, W, KD * sizeof *W);
                memcpy(bestb, b, (size_t)K * sizeof *b);
            }
        }
    }
    en_adamw_free(&aw);
    en_adamw_free(&ab);
    packed_x_free(&ptr);
    packed_x_free(&pval);
    free(gW); free(gb); free(work);
    r->epochs = o->epochs;
    if (o->early_stop && val) {
        free(W); free(b);
        r->W = bestW; r->b = bestb;
    } else {
        free(bestW); free(bestb);
        r->W = W; r->b = b;
    }
    return 0;
}
