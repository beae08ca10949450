/* en_pretrain — contrastive pre-training of a CLIP model on the shapes
 * world: the symmetric InfoNCE loss with a learned temperature (logit scale
 * initialised at ln(1/0.07) and clamped at ln 100), AdamW with decoupled
 * weight decay on weights only (not on gains, biases, embeddings or the
 * logit scale), linear warm-up then cosine decay, gradient clipping.
 *
 * Resumable: every `checkpoint_every` steps, and when SIGINT/SIGTERM
 * arrives, the whole training state (parameters, batch-norm statistics,
 * optimiser moments, step, loss log) is written atomically to `state_path`;
 * a later run with the same configuration continues from there and ends
 * with the same weights as an uninterrupted run (data order and captions
 * are functions of (seed, step), not of the run's history).
 */
#ifndef EN_PRETRAIN_H
#define EN_PRETRAIN_H

#include <stdint.h>

#include "en_bpe.h"
#include "en_clip.h"
#include "en_shapes.h"

typedef struct {
    int step, steps;
    float loss, lr, logit_scale;
    double images_per_s, eta_s, elapsed_s;
} en_pretrain_log;

typedef struct {
    en_clip_config model;
    int steps, batch, warmup;
    double lr, lr_min, weight_decay, beta1, beta2, eps, grad_clip;
    uint64_t seed;
    int corpus;                 /* pictures in the corpus (EN_SPLIT_PRETRAIN) */
    const en_caption_noise *caption_noise;  /* how captions fall short of labels; NULL: exact */
    int render_cache;           /* 0: keep rendered pictures for later epochs when the
                                   corpus fits in 512 MiB; -1: render every time */
    const char *state_path;     /* resumable state; NULL: no checkpoints */
    int checkpoint_every;       /* steps; 0: only on interruption */
    int stop_after;             /* >0: stop (and checkpoint) after this many steps of this run (tests) */
    void (*on_step)(void *ctx, const en_pretrain_log *log);
    void *ctx;
    int device;                 /* en_device: 0 the CPU; else the model, the optimiser's
                                   moments and each batch live there (state files are the
                                   same; the returned model is back on the CPU) */
} en_pretrain_cfg;

typedef struct {
    en_clip *model;             /* owned by the caller after a successful run */
    int steps_done;             /* == cfg.steps unless stopped early */
    int resumed_from;           /* step the run started at (0: fresh) */
    float *loss;                /* per step [steps_done], malloc'd */
    double wall_s;              /* this run's training time */
    double images_per_s;        /* this run's throughput */
    double data_s;              /* of wall_s, the time spent making batches */
    int interrupted;            /* 1 when stopped by a signal or stop_after */
} en_pretrain_result;

/* Fills sensible defaults for the fields left zero (lr 5e-4, betas 0.9 /
 * 0.98, eps 1e-6, weight decay 0.2 as in the CLIP paper, warm-up 5 %). */
void en_pretrain_defaults(en_pretrain_cfg *cfg);

/* Runs (or resumes) pre-training with captions tokenised by bpe. 0 on
 * success (also when interrupted: check result->interrupted), -1 with
 * en_error() otherwise. */
int  en_pretrain_run(const en_pretrain_cfg *cfg, en_bpe *bpe, en_pretrain_result *out);
void en_pretrain_result_free(en_pretrain_result *r);

/* A ready on_step reporter on stderr: a one-line bar redrawn in place on a
 * terminal (step, loss, images/s, ETA), otherwise a plain line every 10 %
 * of the steps. ctx: NULL. */
void en_pretrain_report_stderr(void *ctx, const en_pretrain_log *log);

/* The symmetric contrastive loss of CLIP for image and text features
 * (B, E) and the logit-scale parameter (0-dim):
 *   logits = exp(t) * normalise(I) @ normalise(T)^T
 *   loss   = (CE(logits, arange B) + CE(logits^T, arange B)) / 2 */
en_tensor *en_clip_contrastive_loss(en_tensor *img, en_tensor *txt, en_tensor *logit_scale);

#endif
