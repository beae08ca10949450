/* en_fewshot_methods — the few-shot methods published after the study, on
 * frozen, unit-norm features, each as its authors define it:
 *
 *  - Tip-Adapter [Zhang et al., ECCV 2022], training-free: a cache of the
 *    shots, logits = scale·X Wzsᵀ + alpha · exp(-beta (1 - X Fᵀ)) Y, with
 *    F the shots' features (keys), Y their one-hot labels (values), Wzs the
 *    zero-shot text weights; beta and alpha from a grid on validation
 *    (beta_i = 0.1 + i (beta_max - 0.1)/n_beta, i = 0..n_beta-1, alpha
 *    likewise: the authors' search_hp grid).
 *  - LP++ [Huang et al., CVPR 2024]: logits l_ik = f_i·(w_k + a_k t_k), the
 *    visual prototypes w initialised at the class sums of the shots (the
 *    authors' code), the blend a_k initialised at 250·mean(F Tᵀ) (their
 *    closed form), full-batch block descent: w by SGD (momentum 0.9) at the
 *    implicit step 4N/λmax(FᵀF), a every `alpha_every` epochs by a gradient
 *    step of N/(4·max_k Σ_i (f_i·t_k)²) with that epoch's gradient (the
 *    paper's block descent; the authors' code never zeroes a's gradient, so
 *    its steps sum every past one); the epoch kept is the best on validation
 *    (the last of ties, as their code). No bias, as the paper's logits.
 *  - CLAP [Silva-Rodriguez et al., CVPR 2024]: ZS-LP, prototypes P
 *    initialised at the text weights, logits = scale·x̂·p̂ᵀ with the rows of P
 *    normalised in the forward pass and CLIP's temperature (scale 100); with
 *    `constraint`, the class-adaptive penalty (1/K) Σ_k λ_k |p_k - t_k|²,
 *    λ_k the mean zero-shot probability of class k over its own shots.
 *    Full-batch SGD (momentum 0.9), one warm-up epoch at 1e-5, then cosine
 *    decay from lr (their configuration: SGD, lr 0.1, cosine, 300 epochs);
 *    the epoch kept is the best on validation (the first of ties).
 *  - cross-modal adaptation [Lin et al., CVPR 2023]: the class-name text
 *    embeddings as extra training rows of a linear head (en_fewshot.h),
 *    repeated so that text and pictures weigh the same in the loss (the
 *    authors' batches are half pictures, half text).
 *
 * Shapes: X f32 (N, D) row-major, unit rows; y i64 (N) in 0..K-1; T, Wzs
 * (K, D). Every function returns 0, or -1 with en_error on a bad size or
 * label or when out of memory (nothing to free then). Sums that reach a
 * result run in a fixed order, so results do not depend on the thread count. */
#ifndef EN_FEWSHOT_METHODS_H
#define EN_FEWSHOT_METHODS_H

#include <stdint.h>

/* ---- Tip-Adapter ------------------------------------------------------------ */

/* out (M, K) = scale·Xq Wzsᵀ + alpha·exp(-beta (1 - Xq keysᵀ)) onehot(labels). */
int en_tip_logits(float *out, const float *Xq, int64_t M, const float *keys, const int64_t *labels,
                  int64_t NK, const float *Wzs, int64_t K, int64_t D, double scale, double beta, double alpha);

typedef struct { double beta, alpha, val; } en_tip_choice;

/* The (beta, alpha) of the grid with the best accuracy on (Xv, yv): the
 * first in beta-major order on ties. */
int en_tip_search(en_tip_choice *c, const float *Xv, const int64_t *yv, int64_t Nv, const float *keys,
                  const int64_t *labels, int64_t NK, const float *Wzs, int64_t K, int64_t D, double scale,
                  double beta_max, int n_beta, double alpha_max, int n_alpha);

/* ---- LP++ ------------------------------------------------------------------- */

typedef struct {
    int epochs, alpha_every;      /* 300 and 10 in the authors' code */
    const float *Xval;            /* validation split (Nval, D), required */
    const int64_t *yval;
    int64_t Nval;
} en_lpp_opts;

typedef struct {
    float  *W;       /* (K, D): w_k + a_k t_k of the kept epoch */
    float  *alpha;   /* (K): a of the kept epoch */
    double *val;     /* [epochs] validation accuracy after each epoch */
    int     epochs, best_epoch;
    double  lr_w, lr_alpha, alpha0;   /* the closed forms used */
} en_lpp_result;

int  en_lpp_train(en_lpp_result *r, const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K,
                  const float *T, const en_lpp_opts *o);
void en_lpp_result_free(en_lpp_result *r);
/* The closed forms, exposed for the tests: 4N/λmax(XᵀX) (power iteration in
 * double), N/(4 max_k Σ_i (x_i·t_k)²), and 250·mean over classes c and k of
 * the mean over c's rows of x_i·t_k. */
double en_lpp_lr_w(const float *X, int64_t N, int64_t D);
double en_lpp_lr_alpha(const float *X, int64_t N, const float *T, int64_t K, int64_t D);
double en_lpp_alpha0(const float *X, const int64_t *y, int64_t N, const float *T, int64_t K, int64_t D);
/* Mean cross-entropy of l = X Wᵀ + a ∘ (X Tᵀ) and its gradients (gW (K, D),
 * ga (K), written; either may be NULL). work: N*K floats. */
double en_lpp_objective(float *gW, float *ga, float *work, const float *X, const int64_t *y, const float *W,
                        const float *a, const float *T, int64_t N, int64_t D, int64_t K);

/* ---- CLAP ------------------------------------------------------------------- */

typedef struct {
    int epochs;                   /* 300 in the authors' configuration */
    double lr, momentum, scale;   /* 0.1, 0.9, 100 */
    int constraint;               /* the class-adaptive penalty (CLAP); 0: ZS-LP */
    const float *Xval;            /* validation split, required */
    const int64_t *yval;
    int64_t Nval;
} en_clap_opts;

en_clap_opts en_clap_defaults(void);

typedef struct {
    float  *P;       /* (K, D) prototypes of the kept epoch (not normalised) */
    float  *W;       /* (K, D) the classifier they give: scale·P rows normalised */
    double *lambda;  /* (K) the penalty weights (0 without the constraint) */
    double *val;     /* [epochs] validation accuracy after each epoch */
    int     epochs, best_epoch;
} en_clap_result;

int  en_clap_train(en_clap_result *r, const float *X, const int64_t *y, int64_t N, int64_t D, int64_t K,
                   const float *T, const en_clap_opts *o);
void en_clap_result_free(en_clap_result *r);
/* λ_k: the mean over class k's rows of softmax(scale·X T̂ᵀ)_k (T̂: rows
 * normalised); 0 for a class without rows. */
int    en_clap_lambdas(double *lambda, const float *X, const int64_t *y, int64_t N, const float *T, int64_t K,
                       int64_t D, double scale);
/* Mean CE of scale·X P̂ᵀ + (1/K) Σ_k λ_k |p_k - t_k|² (lambda NULL: no
 * penalty) and its gradient gP (K, D) (written; may be NULL). work: N*K
 * floats + K*D floats. */
double en_clap_objective(float *gP, float *work, const float *X, const int64_t *y, const float *P,
                         const float *T, const double *lambda, double scale, int64_t N, int64_t D, int64_t K);

/* ---- cross-modal adaptation ---------------------------------------------------- */

/* The training set of a cross-modal head: Xo = [X; T repeated reps times],
 * yo = [y; 0..K-1 repeated], reps = max(1, round(N / K)), so that with k
 * shots per class the text rows weigh as much as the pictures. Xo and yo
 * are allocated ((N + reps K) rows, *No set); free() them. */
int en_crossmodal_set(float **Xo, int64_t **yo, int64_t *No, const float *X, const int64_t *y, int64_t N,
                      const float *T, int64_t K, int64_t D);

#endif
