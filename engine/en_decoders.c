/* The VQ-VAE and the segmentation networks of en_decoders.h, over the
 * engine's differentiable ops. Every forward keeps the tensors it makes in a
 * small list released at the end of the step (the tape holds what backward
 * needs). */
#include "en_decoders.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_error.h"
#include "en_init.h"
#include "en_ops.h"
#include "en_ops_conv.h"
#include "en_optim.h"

/* ---- shared pieces ---------------------------------------------------------- */

#define MAX_LAYERS 32
#define MAX_TMP 256

typedef struct { en_tensor *w, *b; int k, stride, pad, transposed, trainable; } layer;

typedef struct {
    en_tensor *t[MAX_TMP];
    int n;
} tmp_list;

static en_tensor *keep(tmp_list *l, en_tensor *t) {
    EN_ASSERT(l->n < MAX_TMP);
    l->t[l->n++] = t;
    return t;
}

static void tmp_free(tmp_list *l) {
    for (int i = 0; i < l->n; i++) en_tensor_release(l->t[i]);
    l->n = 0;
}

/* PyTorch's default init for conv layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * for weights and biases (kaiming_uniform with a = sqrt(5)). */
static int layer_add(en_params *p, layer *L, int *nl, const char *name, int in, int out, int k, int stride,
                     int pad, int transposed, int trainable, en_rng *r) {
    EN_ASSERT(*nl < MAX_LAYERS);
    char nm[64];
    snprintf(nm, sizeof nm, "%s.%d.weight", name, *nl);
    int64_t ws[4] = {transposed ? in : out, transposed ? out : in, k, k};
    layer *ly = &L[*nl];
    ly->w = en_params_add(p, nm, 4, ws);
    snprintf(nm, sizeof nm, "%s.%d.bias", name, *nl);
    int64_t bs[1] = {out};
    ly->b = en_params_add(p, nm, 1, bs);
    if (!ly->w || !ly->b) return -1;
    ly->k = k; ly->stride = stride; ly->pad = pad; ly->transposed = transposed; ly->trainable = trainable;
    (void)r;
    (*nl)++;
    return 0;
}

/* Fills weights after every layer was added (the flat buffers stop moving);
 * PyTorch computes fan_in from dim 1 of the weight, for transposed too. */
static void layers_init(layer *L, int nl, en_rng *r) {
    for (int i = 0; i < nl; i++) {
        double bound = 1.0 / sqrt((double)L[i].w->shape[1] * L[i].k * L[i].k);
        en_init_uniform(r, en_tensor_f32(L[i].w), (size_t)en_tensor_numel(L[i].w), (float)-bound, (float)bound);
        en_init_uniform(r, en_tensor_f32(L[i].b), (size_t)en_tensor_numel(L[i].b), (float)-bound, (float)bound);
    }
}

static en_tensor *layer_fwd(tmp_list *tl, const layer *ly, en_tensor *x, int relu) {
    /* transposed: output_padding makes the output exactly stride x larger */
    en_tensor *y = ly->transposed ? en_conv_transpose2d(x, ly->w, ly->b, ly->stride, ly->pad, ly->stride + 2 * ly->pad - ly->k)
                                  : en_conv2d(x, ly->w, ly->b, ly->stride, ly->pad);
    if (!y) return NULL;
    keep(tl, y);
    if (relu) y = keep(tl, en_relu(y));
    return y;
}

static int log2_ratio(int image, int grid) {
    if (grid <= 0 || image < grid || image % grid) return -1;
    int k = 0, r = image / grid;
    while (r > 1) { if (r & 1) return -1; r >>= 1; k++; }
    return k;
}

/* AdamW over the trainable layers' parameters (flat segments). */
typedef struct {
    en_params *p;
    en_adamw opt;
    en_seg seg[2 * MAX_LAYERS];
    int nseg;
    size_t n;
} trainer;

static void trainer_init(trainer *t, layer *L, int nl) {
    float *data = en_params_data(t->p), *grad = en_params_grad(t->p);
    t->nseg = 0;
    t->n = 0;
    for (int i = 0; i < en_params_count(t->p); i++) {
        en_tensor *w = en_params_get(t->p, i);
        int trainable = 0;
        for (int j = 0; j < nl; j++)
            if (L[j].w == w || L[j].b == w) trainable = L[j].trainable;
        if (!trainable) continue;
        int64_t off = en_params_offset(t->p, i), numel = en_tensor_numel(w);
        t->seg[t->nseg++] = (en_seg){ data + off, grad + off, (size_t)numel };
        t->n += (size_t)numel;
    }
    EN_ASSERT(en_adamw_init(&t->opt, t->n, NULL, 1e-3, 0.9, 0.999, 1e-8, 0.0) == 0);
}

/* One optimisation step on loss: zero the gradients, backward, AdamW at lr.
 * Returns the loss, or NAN when the backward failed. */
static float trainer_step(trainer *t, en_tensor *loss, double lr) {
    float out = en_tensor_item(loss);
    en_params_zero_grad(t->p);
    if (en_backward(loss) < 0) return NAN;
    t->opt.lr = lr;
    en_adamw_step(&t->opt, t->seg, t->nseg);
    return out;
}

static int check_batch(const char *who, en_tensor *images, en_tensor *feats, int in_ch, int grid, int image) {
    if (in_ch == 0) {
        if (!images || images->ndim != 4 || images->shape[1] != 3 || images->shape[2] != image || images->shape[3] != image)
            return en_error("%s: images must be (N, 3, %d, %d)", who, image, image);
    } else {
        if (!feats || feats->ndim != 4 || feats->shape[1] != in_ch || feats->shape[2] != grid || feats->shape[3] != grid)
            return en_error("%s: features must be (N, %d, %d, %d)", who, in_ch, grid, grid);
        if (images && images->shape[0] != feats->shape[0]) return en_error("%s: images and features differ in N", who);
    }
    return 0;
}

/* ---- VQ-VAE ------------------------------------------------------------------ */

struct en_vqvae {
    en_vqvae_config c;
    en_params *p;
    layer L[MAX_LAYERS];
    int nl, nenc;          /* layers [0, nenc) encode, [nenc, nl) decode */
    int enc_plain;         /* encoder layers [0, enc_plain) in a row, ReLU after each */
    int enc_res, enc_nres; /* then (3x3 conv, 1x1 conv) pairs from enc_res; nenc-1 projects */
    int dec_res, dec_up;   /* decoder: layer nenc, pairs [dec_res, dec_up), then the ups */
    float *codebook;       /* [codes, D] */
    float *ema_size;       /* [codes] */
    float *ema_sum;        /* [codes, D] */
    int used;
    uint64_t restarts;
    en_rng rng;            /* picks the encoder outputs dead codes restart at */
    trainer tr;
};

en_vqvae *en_vqvae_new(const en_vqvae_config *c, en_rng *r) {
    int k = log2_ratio(c->image, c->grid);
    if (k < 1) { en_error("vqvae: image %d must be grid %d times a power of two", c->image, c->grid); return NULL; }
    if (c->hidden < 4 || c->codes < 2 || c->code_dim < 1 || c->in_ch < 0 || c->res_blocks < 0 || c->res_blocks > 4) {
        en_error("vqvae: bad sizes");
        return NULL;
    }
    en_vqvae *m = calloc(1, sizeof *m);
    EN_ASSERT(m);
    m->c = *c;
    if (m->c.beta <= 0) m->c.beta = 0.25;
    if (m->c.decay <= 0) m->c.decay = 0.99;
    if (m->c.dead_below <= 0) m->c.dead_below = 1.0;
    m->p = en_params_new();
    int H = c->hidden, D = c->code_dim, Hr = H / 2, nres = c->res_blocks, rc = 0;
    if (c->in_ch == 0) {
        /* the paper's encoder: strided 4x4 convolutions down to the grid (the
         * first to H/2 channels), a 3x3 convolution, residual blocks */
        int ch = 3;
        for (int i = 0; i < k; i++) {
            int out = i == k - 1 ? H : H / 2;
            rc |= layer_add(m->p, m->L, &m->nl, "enc", ch, out, 4, 2, 1, 0, 1, r);
            ch = out;
        }
        m->enc_plain = m->nl;
        if (nres) rc |= layer_add(m->p, m->L, &m->nl, "enc", H, H, 3, 1, 1, 0, 1, r);
    } else {
        /* frozen CLIP map: a 1x1 projection, nothing spatial of its own */
        rc |= layer_add(m->p, m->L, &m->nl, "enc", c->in_ch, H, 1, 1, 0, 0, 1, r);
        m->enc_plain = m->nl;
        nres = 0;
    }
    m->enc_res = m->nl;
    m->enc_nres = nres;
    for (int i = 0; i < nres; i++) {
        rc |= layer_add(m->p, m->L, &m->nl, "enc", H, Hr, 3, 1, 1, 0, 1, r);
        rc |= layer_add(m->p, m->L, &m->nl, "enc", Hr, H, 1, 1, 0, 0, 1, r);
    }
    rc |= layer_add(m->p, m->L, &m->nl, "enc", H, D, 1, 1, 0, 0, 1, r);
    m->nenc = m->nl;
    /* the decoder mirrors it: a 3x3 convolution from the codes, residual
     * blocks at the grid, transposed convolutions doubling up to the
     * picture (the last two at H/2 channels, then 3) */
    rc |= layer_add(m->p, m->L, &m->nl, "dec", D, H, 3, 1, 1, 0, 1, r);
    m->dec_res = m->nl;
    for (int i = 0; i < c->res_blocks; i++) {
        rc |= layer_add(m->p, m->L, &m->nl, "dec", H, Hr, 3, 1, 1, 0, 1, r);
        rc |= layer_add(m->p, m->L, &m->nl, "dec", Hr, H, 1, 1, 0, 0, 1, r);
    }
    m->dec_up = m->nl;
    int ch = H;
    for (int i = 0; i < k; i++) {
        int out = i == k - 1 ? 3 : (i == k - 2 ? H / 2 : H);
        rc |= layer_add(m->p, m->L, &m->nl, "dec", ch, out, 4, 2, 1, 1, 1, r);
        ch = out;
    }
    if (rc) { en_vqvae_free(m); return NULL; }
    layers_init(m->L, m->nl, r);
    m->codebook = malloc(sizeof(float) * (size_t)c->codes * D);
    m->ema_sum = malloc(sizeof(float) * (size_t)c->codes * D);
    m->ema_size = malloc(sizeof(float) * (size_t)c->codes);
    EN_ASSERT(m->codebook && m->ema_sum && m->ema_size);
    en_init_normal(r, m->codebook, (size_t)c->codes * D, 0.0f, 1.0f);
    memcpy(m->ema_sum, m->codebook, sizeof(float) * (size_t)c->codes * D);
    /* zero counts: the first batch restarts every code it does not use at one
     * of its own encoder outputs, a data-dependent initialisation */
    for (int i = 0; i < c->codes; i++) m->ema_size[i] = 0.0f;
    m->rng = en_rng_fork(r, 0x5eedc0de);
    m->tr.p = m->p;
    trainer_init(&m->tr, m->L, m->nl);
    return m;
}

void en_vqvae_free(en_vqvae *m) {
    if (!m) return;
    en_adamw_free(&m->tr.opt);
    en_params_free(m->p);
    free(m->codebook); free(m->ema_sum); free(m->ema_size);
    free(m);
}

int en_vqvae_codes_used(const en_vqvae *m) { return m->used; }
long en_vqvae_restarts(const en_vqvae *m) { return (long)m->restarts; }

/* Residual blocks x + conv1x1(relu(conv3x3(relu(x)))) for the n layer
 * pairs from `first`, then a ReLU (the paper's residual stack). */
static en_tensor *res_stack(tmp_list *tl, const layer *L, int first, int n, en_tensor *x) {
    for (int i = 0; i < n && x; i++) {
        en_tensor *h = keep(tl, en_relu(x));
        h = layer_fwd(tl, &L[first + 2 * i], h, 1);
        h = h ? layer_fwd(tl, &L[first + 2 * i + 1], h, 0) : NULL;
        x = h ? keep(tl, en_add(x, h)) : NULL;
    }
    return x ? keep(tl, en_relu(x)) : NULL;
}

static en_tensor *vq_encode(en_vqvae *m, tmp_list *tl, en_tensor *images, en_tensor *feats) {
    en_tensor *x;
    if (m->c.in_ch == 0) x = keep(tl, en_add_scalar(images, -0.5f));
    else x = feats;
    /* the plain layers: ReLU after each, except a 3x3 convolution that feeds
     * residual blocks (they start with their own ReLU) */
    for (int i = 0; i < m->enc_res && x; i++) x = layer_fwd(tl, &m->L[i], x, i < m->enc_plain);
    if (x && m->enc_nres) x = res_stack(tl, m->L, m->enc_res, m->enc_nres, x);
    return x ? layer_fwd(tl, &m->L[m->nenc - 1], x, 0) : NULL;
}

static en_tensor *vq_decode(en_vqvae *m, tmp_list *tl, en_tensor *z) {
    z = layer_fwd(tl, &m->L[m->nenc], z, m->dec_res == m->dec_up);
    if (z && m->dec_res < m->dec_up) z = res_stack(tl, m->L, m->dec_res, (m->dec_up - m->dec_res) / 2, z);
    for (int i = m->dec_up; i < m->nl && z; i++) z = layer_fwd(tl, &m->L[i], z, i < m->nl - 1);
    return z ? keep(tl, en_add_scalar(z, 0.5f)) : NULL;
}

/* Nearest code for every cell of z_e (N,D,g,g): fills zq (same layout) and
 * idx [N*g*g]; with update, the EMA statistics and the codebook move. */
static void quantise(en_vqvae *m, const float *ze, float *zq, int64_t *idx, int64_t N, int update) {
    int D = m->c.code_dim, K = m->c.codes, G = m->c.grid * m->c.grid;
    int64_t cells = N * G;
    /* The codebook transposed (D, K), so that one cell's distances to all
     * codes run K lanes wide; each code's distance is still the sum over j
     * in order of (double)(z_j - e_j)^2, so the bits (and the argmin, the
     * first code at the least distance) are those of a loop over codes. */
    float *cbt = malloc((size_t)K * D * sizeof *cbt);
    EN_ASSERT(cbt != NULL);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < D; j++) cbt[(size_t)j * K + k] = m->codebook[(size_t)k * D + j];
    #pragma omp parallel
    {
        double *dist = malloc((size_t)K * sizeof *dist);
        float *v = malloc((size_t)D * sizeof *v);
        EN_ASSERT(dist && v);
        #pragma omp for schedule(static)
        for (int64_t c = 0; c < cells; c++) {
            int64_t n = c / G, s = c % G;
            for (int j = 0; j < D; j++) v[j] = ze[(n * D + j) * G + s];
            for (int k = 0; k < K; k++) dist[k] = 0;
            for (int j = 0; j < D; j++) {
                const float x = v[j], *e = cbt + (size_t)j * K;
                #pragma omp simd
                for (int k = 0; k < K; k++) {
                    double t = x - e[k];
                    dist[k] += t * t;
                }
            }
            int best = 0;
            double bd = INFINITY;
            for (int k = 0; k < K; k++)
                if (dist[k] < bd) { bd = dist[k]; best = k; }
            idx[c] = best;
            for (int j = 0; j < D; j++) zq[(n * D + j) * G + s] = m->codebook[(size_t)best * D + j];
        }
        free(dist); free(v);
    }
    free(cbt);
    if (!update) return;
    double *cnt = calloc((size_t)K, sizeof *cnt), *sum = calloc((size_t)K * D, sizeof *sum);
    EN_ASSERT(cnt && sum);
    for (int64_t c = 0; c < cells; c++) {
        int64_t n = c / G, s = c % G, k = idx[c];
        cnt[k] += 1;
        for (int j = 0; j < D; j++) sum[k * D + j] += ze[(n * D + j) * G + s];
    }
    double dec = m->c.decay, total = 0;
    int used = 0;
    for (int k = 0; k < K; k++) {
        used += cnt[k] > 0;
        m->ema_size[k] = (float)(dec * m->ema_size[k] + (1 - dec) * cnt[k]);
        total += m->ema_size[k];
        for (int j = 0; j < D; j++)
            m->ema_sum[(size_t)k * D + j] = (float)(dec * m->ema_sum[(size_t)k * D + j] + (1 - dec) * sum[k * D + j]);
    }
    for (int k = 0; k < K; k++) {
        double size = (m->ema_size[k] + 1e-5) / (total + K * 1e-5) * total; /* Laplace smoothing */
        for (int j = 0; j < D; j++) m->codebook[(size_t)k * D + j] = (float)(m->ema_sum[(size_t)k * D + j] / size);
    }
    /* Dead codes restart at a random encoder output of this batch, so the
     * codebook does not collapse to the few codes the first batches picked:
     * a code is dead when it was unused in this batch and its EMA count (the
     * cells it wins per batch, on average) is below dead_below (Jukebox's
     * restart rule, threshold 1 cell per batch). An absolute count decays by
     * only 1% a step, so a rule like "EMA count < 0.05" waits ~300 steps
     * before the first restart: longer than the mini profile trains. */
    for (int k = 0; k < K; k++) {
        if (cnt[k] > 0 || m->ema_size[k] >= m->c.dead_below) continue;
        int64_t c = (int64_t)en_rng_below(&m->rng, (uint64_t)cells);
        int64_t n = c / G, s = c % G;
        m->restarts++;
        /* the restarted code's EMA count: twice the threshold, so it has ~70
         * steps (ln 2 / (1 - decay)) to win a cell before it counts as dead
         * again; its EMA sum is that count times the vector, so the code is
         * the vector */
        double size = 2 * m->c.dead_below;
        for (int j = 0; j < D; j++) {
            m->codebook[(size_t)k * D + j] = ze[(n * D + j) * G + s];
            m->ema_sum[(size_t)k * D + j] = (float)(size * ze[(n * D + j) * G + s]);
        }
        m->ema_size[k] = (float)size;
    }
    m->used = used;
    free(cnt);
    free(sum);
}

float en_vqvae_train_step(en_vqvae *m, en_tensor *images, en_tensor *feats, double lr, float *recon) {
    if (check_batch("vqvae", images, m->c.in_ch ? feats : NULL, m->c.in_ch, m->c.grid, m->c.image) < 0) return NAN;
    if (!images || images->ndim != 4 || images->shape[2] != m->c.image)
    {
        en_error("vqvae: training needs the pictures (N, 3, %d, %d) as targets", m->c.image, m->c.image);
        return NAN;
    }
    tmp_list tl = {0};
    int prev = en_grad_set_enabled(1);
    float out = NAN;
    en_tensor *ze = vq_encode(m, &tl, images, feats);
    if (ze) {
        int64_t N = ze->shape[0];
        en_tensor *zq = keep(&tl, en_tensor_new(EN_F32, 4, ze->shape));
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)(N * m->c.grid * m->c.grid));
        EN_ASSERT(idx);
        quantise(m, en_tensor_f32(ze), en_tensor_f32(zq), idx, N, 1);
        free(idx);
        /* straight through: z_e + sg(z_q - z_e) */
        en_tensor *diff = keep(&tl, en_tensor_new(EN_F32, 4, ze->shape));
        const float *a = en_tensor_f32(zq), *b = en_tensor_f32(ze);
        float *d = en_tensor_f32(diff);
        for (int64_t i = 0; i < en_tensor_numel(ze); i++) d[i] = a[i] - b[i];
        en_tensor *zst = keep(&tl, en_add(ze, diff));
        en_tensor *xr = vq_decode(m, &tl, zst);
        en_tensor *target = keep(&tl, en_contiguous(images));
        en_tensor *target_c = keep(&tl, en_tensor_detach(target));
        if (xr) {
            en_tensor *lr_ = keep(&tl, en_mse(xr, target_c));
            en_tensor *lc = keep(&tl, en_mse(ze, zq));
            en_tensor *loss = keep(&tl, en_add(lr_, keep(&tl, en_mul_scalar(lc, (float)m->c.beta))));
            if (recon) *recon = en_tensor_item(lr_);
            out = trainer_step(&m->tr, loss, lr);
        }
    }
    if (isnan(out)) en_tape_clear();
    tmp_free(&tl);
    en_grad_set_enabled(prev);
    return out;
}

en_tensor *en_vqvae_reconstruct(en_vqvae *m, en_tensor *images, en_tensor *feats) {
    return en_vqvae_reconstruct_codes(m, images, feats, NULL);
}

en_tensor *en_vqvae_reconstruct_codes(en_vqvae *m, en_tensor *images, en_tensor *feats, int *codes_in) {
    if (check_batch("vqvae", images, feats, m->c.in_ch, m->c.grid, m->c.image) < 0) return NULL;
    tmp_list tl = {0};
    int prev = en_grad_set_enabled(0);
    en_tensor *res = NULL, *ze = vq_encode(m, &tl, images, feats);
    if (ze) {
        int64_t N = ze->shape[0];
        en_tensor *zq = keep(&tl, en_tensor_new(EN_F32, 4, ze->shape));
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)(N * m->c.grid * m->c.grid));
        EN_ASSERT(idx);
        quantise(m, en_tensor_f32(ze), en_tensor_f32(zq), idx, N, 0);
        if (codes_in) {
            char *seen = calloc((size_t)m->c.codes, 1);
            EN_ASSERT(seen);
            *codes_in = 0;
            for (int64_t i = 0; i < N * m->c.grid * m->c.grid; i++)
                if (!seen[idx[i]]) { seen[idx[i]] = 1; (*codes_in)++; }
            free(seen);
        }
        free(idx);
        en_tensor *xr = vq_decode(m, &tl, zq);
        if (xr) res = en_tensor_retain(xr);
    }
    tmp_free(&tl);
    en_grad_set_enabled(prev);
    return res;
}

en_tensor *en_vqvae_decode_codes(en_vqvae *m, const int64_t *codes, int n) {
    int D = m->c.code_dim, G = m->c.grid * m->c.grid;
    int64_t sh[4] = {n, D, m->c.grid, m->c.grid};
    en_tensor *z = en_tensor_new(EN_F32, 4, sh);
    float *zz = en_tensor_f32(z);
    for (int i = 0; i < n; i++)
        for (int s = 0; s < G; s++) {
            int64_t k = codes[(size_t)i * G + s];
            if (k < 0 || k >= m->c.codes) { en_tensor_release(z); en_error("vqvae: code %lld out of range", (long long)k); return NULL; }
            for (int j = 0; j < D; j++) zz[((size_t)i * D + j) * G + s] = m->codebook[(size_t)k * D + j];
        }
    tmp_list tl = {0};
    int prev = en_grad_set_enabled(0);
    en_tensor *xr = vq_decode(m, &tl, z), *res = xr ? en_tensor_retain(xr) : NULL;
    tmp_free(&tl);
    en_tensor_release(z);
    en_grad_set_enabled(prev);
    return res;
}

double en_cell_mean_mse(en_tensor *images, int grid) {
    if (!images || images->ndim != 4 || images->dtype != EN_F32 || grid < 1 || images->shape[2] % grid ||
        images->shape[3] % grid) {
        en_error("cell_mean_mse: images must be f32 (N, C, H, W) with H and W multiples of the grid %d", grid);
        return NAN;
    }
    en_tensor *x = en_contiguous(images);
    const float *p = en_tensor_f32(x);
    int64_t planes = images->shape[0] * images->shape[1], H = images->shape[2], W = images->shape[3];
    int64_t bh = H / grid, bw = W / grid;
    /* per plane, summed in order afterwards: the same total for any thread count */
    double *se = calloc((size_t)planes, sizeof *se);
    EN_ASSERT(se);
    #pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < planes; q++)
        for (int gy = 0; gy < grid; gy++)
            for (int gx = 0; gx < grid; gx++) {
                const float *c0 = p + (q * H + gy * bh) * W + gx * bw;
                double s = 0, s2 = 0;
                for (int64_t y = 0; y < bh; y++)
                    for (int64_t x0 = 0; x0 < bw; x0++) { double v = c0[y * W + x0]; s += v; s2 += v * v; }
                se[q] += s2 - s * s / (double)(bh * bw);   /* the cell's sum of squared deviations */
            }
    double total = 0;
    for (int64_t q = 0; q < planes; q++) total += se[q];
    free(se);
    en_tensor_release(x);
    return total / (double)(planes * H * W);
}

/* ---- segmentation ------------------------------------------------------------ */

struct en_segnet {
    en_segnet_config c;
    en_params *p;
    layer L[MAX_LAYERS];
    int nl, k;
    trainer tr;
};

en_segnet *en_segnet_new(const en_segnet_config *c, en_rng *r) {
    int k = log2_ratio(c->image, c->grid);
    if (c->in_ch > 0 && k < 1) { en_error("segnet: image %d must be grid %d times a power of two", c->image, c->grid); return NULL; }
    if (c->in_ch == 0) k = 3;
    if (c->hidden < 4) { en_error("segnet: hidden must be >= 4"); return NULL; }
    en_segnet *m = calloc(1, sizeof *m);
    EN_ASSERT(m);
    m->c = *c;
    m->k = k;
    m->p = en_params_new();
    int H = c->hidden, rc = 0;
    if (c->in_ch > 0) {
        /* TernausNet's DecoderBlock (conv3x3 + ReLU, then ConvTranspose2d(3,
         * stride 2, pad 1, output_padding 1) + ReLU), once per doubling */
        int ch = c->in_ch, tb = c->train_blocks;
        for (int i = 0; i < k; i++) {
            int mid = i == 0 ? H : (H >> i > 4 ? H >> i : 4);
            int out = H >> (i + 1) > 4 ? H >> (i + 1) : 4;
            rc |= layer_add(m->p, m->L, &m->nl, "dec", ch, mid, 3, 1, 1, 0, tb, r);
            rc |= layer_add(m->p, m->L, &m->nl, "dec", mid, out, 3, 2, 1, 1, tb, r);
            ch = out;
        }
        rc |= layer_add(m->p, m->L, &m->nl, "final", ch, 1, 1, 1, 0, 0, 1, r);
    } else {
        /* a UNet of three levels: enc1 (R), enc2 (R/2), enc3 (R/4), centre
         * (R/8); up-convolutions and skip concatenations back to R */
        rc |= layer_add(m->p, m->L, &m->nl, "enc", 3, H / 4, 3, 1, 1, 0, 1, r);      /* 0 */
        rc |= layer_add(m->p, m->L, &m->nl, "enc", H / 4, H / 2, 3, 1, 1, 0, 1, r);  /* 1 */
        rc |= layer_add(m->p, m->L, &m->nl, "enc", H / 2, H, 3, 1, 1, 0, 1, r);      /* 2 */
        rc |= layer_add(m->p, m->L, &m->nl, "center", H, H, 3, 1, 1, 0, 1, r);       /* 3 */
        rc |= layer_add(m->p, m->L, &m->nl, "up", H, H / 2, 3, 2, 1, 1, 1, r);       /* 4: R/8 -> R/4 */
        rc |= layer_add(m->p, m->L, &m->nl, "dec", H / 2 + H, H / 2, 3, 1, 1, 0, 1, r); /* 5 */
        rc |= layer_add(m->p, m->L, &m->nl, "up", H / 2, H / 4, 3, 2, 1, 1, 1, r);   /* 6: -> R/2 */
        rc |= layer_add(m->p, m->L, &m->nl, "dec", H / 4 + H / 2, H / 4, 3, 1, 1, 0, 1, r); /* 7 */
        rc |= layer_add(m->p, m->L, &m->nl, "up", H / 4, H / 4, 3, 2, 1, 1, 1, r);   /* 8: -> R */
        rc |= layer_add(m->p, m->L, &m->nl, "dec", H / 4 + H / 4, H / 4, 3, 1, 1, 0, 1, r); /* 9 */
        rc |= layer_add(m->p, m->L, &m->nl, "final", H / 4, 1, 1, 1, 0, 0, 1, r);    /* 10 */
    }
    if (rc) { en_segnet_free(m); return NULL; }
    layers_init(m->L, m->nl, r);
    m->tr.p = m->p;
    trainer_init(&m->tr, m->L, m->nl);
    return m;
}

void en_segnet_free(en_segnet *m) {
    if (!m) return;
    en_adamw_free(&m->tr.opt);
    en_params_free(m->p);
    free(m);
}

int64_t en_segnet_trainable(const en_segnet *m) { return (int64_t)m->tr.n; }

static en_tensor *cat2(tmp_list *tl, en_tensor *a, en_tensor *b) {
    en_tensor *ts[2] = {a, b};
    return keep(tl, en_concat(2, ts, 1));
}

static en_tensor *seg_forward(en_segnet *m, tmp_list *tl, en_tensor *images, en_tensor *feats) {
    const layer *L = m->L;
    if (m->c.in_ch > 0) {
        en_tensor *x = feats;
        for (int i = 0; i < m->nl; i++) {
            x = layer_fwd(tl, &L[i], x, i < m->nl - 1);
            if (!x) return NULL;
        }
        return x;
    }
    en_tensor *x = keep(tl, en_add_scalar(images, -0.5f));
    en_tensor *e1 = layer_fwd(tl, &L[0], x, 1);
    en_tensor *p1 = e1 ? keep(tl, en_max_pool2d(e1, 2, 2, 0)) : NULL;
    en_tensor *e2 = p1 ? layer_fwd(tl, &L[1], p1, 1) : NULL;
    en_tensor *p2 = e2 ? keep(tl, en_max_pool2d(e2, 2, 2, 0)) : NULL;
    en_tensor *e3 = p2 ? layer_fwd(tl, &L[2], p2, 1) : NULL;
    en_tensor *p3 = e3 ? keep(tl, en_max_pool2d(e3, 2, 2, 0)) : NULL;
    en_tensor *c = p3 ? layer_fwd(tl, &L[3], p3, 1) : NULL;
    en_tensor *u3 = c ? layer_fwd(tl, &L[4], c, 1) : NULL;
    en_tensor *d3 = u3 ? layer_fwd(tl, &L[5], cat2(tl, u3, e3), 1) : NULL;
    en_tensor *u2 = d3 ? layer_fwd(tl, &L[6], d3, 1) : NULL;
    en_tensor *d2 = u2 ? layer_fwd(tl, &L[7], cat2(tl, u2, e2), 1) : NULL;
    en_tensor *u1 = d2 ? layer_fwd(tl, &L[8], d2, 1) : NULL;
    en_tensor *d1 = u1 ? layer_fwd(tl, &L[9], cat2(tl, u1, e1), 1) : NULL;
    return d1 ? layer_fwd(tl, &L[10], d1, 0) : NULL;
}

float en_segnet_train_step(en_segnet *m, en_tensor *images, en_tensor *feats, en_tensor *masks, double lr) {
    if (check_batch("segnet", images, feats, m->c.in_ch, m->c.grid, m->c.image) < 0) return NAN;
    if (!masks || masks->ndim != 4 || masks->shape[1] != 1 || masks->shape[2] != m->c.image)
    {
        en_error("segnet: masks must be (N, 1, %d, %d)", m->c.image, m->c.image);
        return NAN;
    }
    tmp_list tl = {0};
    int prev = en_grad_set_enabled(1);
    float out = NAN;
    en_tensor *logits = seg_forward(m, &tl, images, feats);
    if (logits) {
        en_tensor *loss = keep(&tl, en_bce_with_logits(logits, masks));
        if (loss) out = trainer_step(&m->tr, loss, lr);
    }
    if (isnan(out)) en_tape_clear();
    tmp_free(&tl);
    en_grad_set_enabled(prev);
    return out;
}

en_tensor *en_segnet_logits(en_segnet *m, en_tensor *images, en_tensor *feats) {
    if (check_batch("segnet", images, feats, m->c.in_ch, m->c.grid, m->c.image) < 0) return NULL;
    tmp_list tl = {0};
    int prev = en_grad_set_enabled(0);
    en_tensor *y = seg_forward(m, &tl, images, feats), *res = y ? en_tensor_retain(y) : NULL;
    tmp_free(&tl);
    en_grad_set_enabled(prev);
    return res;
}
