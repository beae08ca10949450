/* en_decoders — the two decoders the study puts on CLIP's image features:
 *
 *  - a VQ-VAE [van den Oord et al. 2017] with an EMA codebook: an encoder to
 *    a grid of code vectors, nearest-code quantisation with the
 *    straight-through gradient, a transposed-convolution decoder back to
 *    pixels; loss = MSE(reconstruction, image) + beta * MSE(z_e, sg(z_q)),
 *    the codebook updated by exponential moving averages (decay 0.99,
 *    Laplace smoothing), not by gradients, initialised at encoder outputs of
 *    the first batch, and codes that fall out of use restarted at random
 *    encoder outputs (dead-code restarts, against codebook collapse);
 *  - a segmentation network: either a UNet11-style decoder (TernausNet's
 *    DecoderBlock: conv3x3+ReLU then a stride-2 transposed conv+ReLU) on a
 *    feature map, or a small UNet trained end to end on the pixels, both
 *    ending in one logit per pixel (foreground), trained with BCE.
 *
 * Either model reads its input from pixels (in_ch = 0: a trained encoder)
 * or from a precomputed feature map (in_ch = channels of the map, e.g. CLIP's
 * ResNet before its attention pool): the frozen encoder then costs nothing
 * per step. Images are f32 (N,3,R,R) in [0,1]; features (N,in_ch,g,g) with
 * R = g * 2^k. Training steps use the engine's autodiff and AdamW
 * (betas 0.9/0.999, no weight decay); frozen parameters are not stepped.
 */
#ifndef EN_DECODERS_H
#define EN_DECODERS_H

#include <stdint.h>

#include "en_rng.h"
#include "en_tensor.h"

typedef struct {
    int in_ch;      /* 0: encoder on pixels (trained); >0: channels of the feature map */
    int grid;       /* g: side of the code grid (the feature map's side) */
    int image;      /* R: side of the pictures; a power-of-two multiple of grid */
    int hidden;     /* channels of the hidden layers */
    int codes;      /* codebook size */
    int code_dim;   /* code vector size */
    int res_blocks; /* residual blocks at the grid in the decoder and the
                       trained encoder (the paper's models have 2; 0: none,
                       the plain convolutions; engine/NOTES.md "VQ-VAE"
                       measures both) */
    double beta;    /* commitment weight (0.25 in the paper) */
    double decay;   /* EMA decay of the codebook (0.99) */
    double dead_below; /* a code unused in a batch restarts at a random encoder
                          output of it when its EMA count (cells won per batch)
                          is below this (1; <= 0: 1) */
} en_vqvae_config;

typedef struct en_vqvae en_vqvae;

en_vqvae *en_vqvae_new(const en_vqvae_config *c, en_rng *r);
void      en_vqvae_free(en_vqvae *m);
/* One AdamW step on a batch; returns the loss (NaN + en_error on bad
 * shapes); *recon gets the reconstruction MSE alone (may be NULL). */
float     en_vqvae_train_step(en_vqvae *m, en_tensor *images, en_tensor *feats, double lr, float *recon);
/* Reconstructions (N,3,R,R), no tape; NULL + en_error on bad shapes. */
en_tensor *en_vqvae_reconstruct(en_vqvae *m, en_tensor *images, en_tensor *feats);
/* Decode n grids of code indices (n*g*g, row-major) to pictures. */
en_tensor *en_vqvae_decode_codes(en_vqvae *m, const int64_t *codes, int n);
/* The same, and *codes_in = how many distinct codes the batch used. */
en_tensor *en_vqvae_reconstruct_codes(en_vqvae *m, en_tensor *images, en_tensor *feats, int *codes_in);
/* Codes used in the last training step (how many distinct). */
int        en_vqvae_codes_used(const en_vqvae *m);
/* Dead-code restarts so far. */
long       en_vqvae_restarts(const en_vqvae *m);

/* The mean squared error of pictures (N,C,R,R) against their own means
 * over the cells of a g x g grid (each cell filled with its mean colour):
 * what a decoder reaches that knows one flat colour per code and nothing
 * finer, the blur a reconstruction must beat to show a shape. NAN +
 * en_error when R is not a multiple of g. */
double     en_cell_mean_mse(en_tensor *images, int grid);

typedef struct {
    int in_ch;        /* 0: UNet on pixels; >0: UNet11-style decoder on a feature map */
    int grid, image, hidden;
    int train_blocks; /* decoder on features: 0 leaves the decoder blocks at their
                         initialisation and trains the final layer only */
} en_segnet_config;

typedef struct en_segnet en_segnet;

en_segnet *en_segnet_new(const en_segnet_config *c, en_rng *r);
void       en_segnet_free(en_segnet *m);
/* masks: f32 (N,1,R,R) of 0/1. Returns the BCE loss of the batch. */
float      en_segnet_train_step(en_segnet *m, en_tensor *images, en_tensor *feats, en_tensor *masks, double lr);
/* Logits (N,1,R,R), no tape. */
en_tensor *en_segnet_logits(en_segnet *m, en_tensor *images, en_tensor *feats);
/* Trainable parameter count (what the optimiser steps). */
int64_t    en_segnet_trainable(const en_segnet *m);

#endif
