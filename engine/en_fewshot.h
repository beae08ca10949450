/* en_fewshot — a linear head on frozen features, the few-shot chapter's
 * model: scores = scale * (X W^T + b), trained full batch on the mean
 * softmax cross-entropy with AdamW (betas 0.9, 0.999, eps 1e-8; weight decay
 * on W only, as torch.optim.AdamW over the head's weight with the bias in a
 * no-decay group), optionally an L2 pull (pull/2)·|W - W0|^2 toward the
 * start weights, and early stopping on a validation split.
 *
 * Shapes: X f32 (N, D) row-major, y i64 (N) classes 0..K-1, W (K, D), b (K).
 * The logits and the weight gradient are GEMMs on the CPU back end
 * (kn_backend's gemm); the row-wise softmax runs as OpenMP loops; sums that
 * reach the result run in a fixed order, so a head is the same at any thread
 * count. */
#ifndef EN_FEWSHOT_H
#define EN_FEWSHOT_H

#include <stdint.h>

typedef struct {
    int    epochs;        /* full-batch steps (>= 0) */
    double lr, weight_decay, pull, scale;
    int    early_stop;    /* return the head of the best validation epoch */
    const float *Xval;    /* optional validation split (Mval, D), y in yval */
    const int64_t *yval;
    int64_t Nval;
} en_fewshot_opts;

/* lr 1e-3, weight_decay 0, pull 0, scale 1, 100 epochs, no validation. */
en_fewshot_opts en_fewshot_defaults(void);

typedef struct {
    float  *W, *b;        /* (K, D), (K): the last head, or with early_stop and
                           * validation the best one (the first on ties;
                           * epoch 0, the start, when no epoch beats it) */
    double *loss;         /* [epochs] objective at the start of each epoch */
    double *val;          /* [epochs] validation accuracy after each; NULL without */
    int     epochs, best_epoch;
} en_fewshot_result;

/* Trains from (W0, b0). 0, or -1 with en_error on a bad size or label
 * (nothing to free then). */
int  en_fewshot_train(en_fewshot_result *r, const float *X, const int64_t *y, int64_t N, int64_t D,
                      int64_t K, const float *W0, const float *b0, const en_fewshot_opts *o);
void en_fewshot_result_free(en_fewshot_result *r);

/* The objective at (W, b) and its gradient (gW (K, D), gb (K), written):
 * mean cross-entropy of scale·(X W^T + b) plus (pull/2)·|W - W0|^2 (W0 may
 * be NULL when pull is 0). work: N*K floats. */
double en_fewshot_objective(float *gW, float *gb, float *work, const float *X, const int64_t *y,
                            const float *W, const float *b, const float *W0, double scale, double pull,
                            int64_t N, int64_t D, int64_t K);

/* Mean scaled softmax cross-entropy of score rows S (N, K) against y; S is
 * overwritten with its gradient (scale * (softmax - onehot) / N). Shared by
 * the heads here and CLAP's objective (en_fewshot_methods.c). */
double en_fewshot_xent(float *S, const int64_t *y, int64_t N, int64_t K, double scale);

/* Fraction of rows whose arg-max score (X W^T + b, the first on ties) is y.
 * work: N*K floats, or NULL to allocate. -1 with en_error when out of memory. */
double en_fewshot_accuracy(const float *X, const int64_t *y, const float *W, const float *b,
                           int64_t N, int64_t D, int64_t K, float *work);

#endif
