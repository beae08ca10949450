#include "en_pretrain.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "en_autograd.h"
#include "en_clip_internal.h"
#include "en_error.h"
#include "en_optim.h"
#include "kn_backend.h"
#include "en_preprocess.h"
#include "en_safetensors.h"
#include "en_sched.h"
#include "en_shapes.h"

#define STEP(x, expr) do { en_tensor *n_ = (expr); en_tensor_release(x); (x) = n_; } while (0)

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void en_pretrain_defaults(en_pretrain_cfg *c) {
    if (c->lr <= 0) c->lr = 5e-4;
    if (c->lr_min < 0) c->lr_min = 0;
    if (c->beta1 <= 0) c->beta1 = 0.9;
    if (c->beta2 <= 0) c->beta2 = 0.98;
    if (c->eps <= 0) c->eps = 1e-6;
    if (c->weight_decay < 0) c->weight_decay = 0;
    else if (c->weight_decay == 0) c->weight_decay = 0.2;
    if (c->warmup <= 0) c->warmup = c->steps / 20 > 0 ? c->steps / 20 : 1;
    if (c->batch <= 0) c->batch = 256;
    if (c->corpus <= 0) c->corpus = 50000;
}

en_tensor *en_clip_contrastive_loss(en_tensor *img, en_tensor *txt, en_tensor *logit_scale) {
    if (img->ndim != 2 || txt->ndim != 2 || img->shape[0] != txt->shape[0] || img->shape[1] != txt->shape[1])
        return en_error("contrastive loss: image and text features must both be (B, E)"), NULL;
    int64_t B = img->shape[0];
    en_tensor *in = en_l2_normalize(img, -1, 1e-12f), *tn = en_l2_normalize(txt, -1, 1e-12f);
    en_tensor *tt = en_transpose(tn, 0, 1);
    en_tensor *logits = en_matmul(in, tt);
    en_tensor *scale = en_exp(logit_scale);
    STEP(logits, en_mul(logits, scale));
    int64_t *lab = malloc((size_t)B * sizeof *lab);
    EN_ASSERT(lab != NULL);
    for (int64_t i = 0; i < B; i++) lab[i] = i;
    en_tensor *labels = en_tensor_from_i64(EN_DIMS(B), lab);
    free(lab);
    en_tensor *lt = en_transpose(logits, 0, 1);
    en_tensor *a = en_cross_entropy(logits, labels), *b = en_cross_entropy(lt, labels);
    en_tensor *sum = en_add(a, b), *loss = en_mul_scalar(sum, 0.5f);
    en_tensor_release(in); en_tensor_release(tn); en_tensor_release(tt); en_tensor_release(logits);
    en_tensor_release(scale); en_tensor_release(labels); en_tensor_release(lt);
    en_tensor_release(a); en_tensor_release(b); en_tensor_release(sum);
    return loss;
}

/* ---- data: which picture, which caption, for every step ------------------- */

/* The picture index at position `pos` of the endless stream of epochs. */
static int64_t stream_index(const en_pretrain_cfg *c, int64_t pos, int64_t **perm, int64_t *perm_epoch) {
    int64_t epoch = pos / c->corpus, at = pos % c->corpus;
    if (*perm_epoch != epoch) {
        en_rng base, r;
        en_rng_seed(&base, c->seed ^ 0x0da7a0da7aull);
        r = en_rng_fork(&base, (uint64_t)epoch);
        en_rng_permutation(&r, *perm, c->corpus);
        *perm_epoch = epoch;
    }
    return (*perm)[at];
}

/* ---- the resumable state --------------------------------------------------- */

typedef struct {
    en_clip *m;
    en_adamw opt_decay, opt_plain;
    en_seg *seg_decay, *seg_plain;
    int nseg_decay, nseg_plain;
    float *loss;
    int step;
} trainer;

static int is_decayed(const char *name, const en_tensor *t) {
    /* weights of linear and conv layers only (the CLIP paper: not gains, biases) */
    if (t->ndim < 2) return 0;
    if (strstr(name, "embedding") || strstr(name, "class_embedding")) return 0;
    return 1;
}

static void trainer_segments(trainer *t) {
    en_params *p = en_clip_params(t->m);
    int n = en_params_count(p);
    t->seg_decay = calloc((size_t)n, sizeof *t->seg_decay);
    t->seg_plain = calloc((size_t)n, sizeof *t->seg_plain);
    EN_ASSERT(t->seg_decay && t->seg_plain);
    /* the back end's pointers: host ones on the CPU, the device's after trainer_place */
    float *data = en_params_data_on(p), *grad = en_params_grad_on(p);
    size_t nd = 0, np = 0;
    for (int i = 0; i < n; i++) {
        en_tensor *w = en_params_get(p, i);
        int64_t off = en_params_offset(p, i), numel = en_tensor_numel(w);
        en_seg s = { data + off, grad + off, (size_t)numel };
        if (is_decayed(en_params_name(p, i), w)) { t->seg_decay[t->nseg_decay++] = s; nd += (size_t)numel; }
        else { t->seg_plain[t->nseg_plain++] = s; np += (size_t)numel; }
    }
    t->opt_decay.n = nd;
    t->opt_plain.n = np;
}

/* The model (parameters, batch-norm buffers), the optimisers' moments and
 * the segments' pointers on dev (nothing moves when they are there). */
static int trainer_place(trainer *t, en_device dev) {
    if (en_clip_to(t->m, dev) < 0 || en_adamw_to(&t->opt_decay, dev) < 0 || en_adamw_to(&t->opt_plain, dev) < 0)
        return en_error_prefix("pretrain: moving the model to %s", dev == EN_CPU ? "the CPU" : "the device");
    free(t->seg_decay);
    free(t->seg_plain);
    t->nseg_decay = t->nseg_plain = 0;
    trainer_segments(t);
    return 0;
}

static int save_state(const trainer *t, const en_pretrain_cfg *c) {
    en_params *p = en_clip_params(t->m);
    int nb = t->m->nbuf, n = 5 + nb;
    const char **names = calloc((size_t)n, sizeof *names);
    en_ndbuf *bufs = calloc((size_t)n, sizeof *bufs);
    EN_ASSERT(names && bufs);
    struct { const char *name; float *d; size_t count; } fixed[5] = {
        { "params", en_params_data(p), (size_t)en_params_numel(p) },
        { "adam.decay.m", t->opt_decay.m, t->opt_decay.n }, { "adam.decay.v", t->opt_decay.v, t->opt_decay.n },
        { "adam.plain.m", t->opt_plain.m, t->opt_plain.n }, { "adam.plain.v", t->opt_plain.v, t->opt_plain.n },
    };
    for (int i = 0; i < 5; i++) {
        names[i] = fixed[i].name;
        bufs[i] = (en_ndbuf){ .dtype = EN_F32, .ndim = 1, .shape = { (int64_t)fixed[i].count },
                              .data = fixed[i].d, .nbytes = fixed[i].count * sizeof(float) };
    }
    for (int i = 0; i < nb; i++) {
        en_tensor *b = t->m->buf[i];
        names[5 + i] = t->m->buf_name[i];
        bufs[5 + i] = (en_ndbuf){ .dtype = EN_F32, .ndim = 1, .shape = { en_tensor_numel(b) },
                                  .data = en_tensor_f32(b), .nbytes = (size_t)en_tensor_numel(b) * sizeof(float) };
    }
    /* the loss log rides along as one more entry when there is any */
    char step[32], seed[32];
    snprintf(step, sizeof step, "%d", t->step);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    const char *keys[2] = { "step", "seed" }, *vals[2] = { step, seed };
    int rc;
    if (t->step > 0) {
        const char **names2 = realloc(names, (size_t)(n + 1) * sizeof *names);
        en_ndbuf *bufs2 = realloc(bufs, (size_t)(n + 1) * sizeof *bufs);
        EN_ASSERT(names2 && bufs2);
        names = names2; bufs = bufs2;
        names[n] = "loss";
        bufs[n] = (en_ndbuf){ .dtype = EN_F32, .ndim = 1, .shape = { t->step }, .data = t->loss,
                              .nbytes = (size_t)t->step * sizeof(float) };
        rc = en_st_write(c->state_path, n + 1, names, bufs, 2, keys, vals);
    } else {
        rc = en_st_write(c->state_path, n, names, bufs, 2, keys, vals);
    }
    free(names); free(bufs);
    return rc;
}

static int load_state(trainer *t, const en_pretrain_cfg *c) {
    en_st_file *f = en_st_open(c->state_path);
    if (!f) return -1;
    int rc = -1;
    const char *s = en_st_meta_get(f, "step"), *sd = en_st_meta_get(f, "seed");
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)c->seed);
    if (!s || !sd || strcmp(sd, want)) {
        en_error("%s: not a training state of this configuration (seed)", c->state_path);
        goto done;
    }
    t->step = atoi(s);
    if (t->step < 0 || t->step > c->steps) { en_error("%s: step %d out of range", c->state_path, t->step); goto done; }
    en_params *p = en_clip_params(t->m);
    struct { const char *name; float *d; size_t count; } fixed[5] = {
        { "params", en_params_data(p), (size_t)en_params_numel(p) },
        { "adam.decay.m", t->opt_decay.m, t->opt_decay.n }, { "adam.decay.v", t->opt_decay.v, t->opt_decay.n },
        { "adam.plain.m", t->opt_plain.m, t->opt_plain.n }, { "adam.plain.v", t->opt_plain.v, t->opt_plain.n },
    };
    for (int i = 0; i < 5; i++) {
        const en_st_entry *e = en_st_find(f, fixed[i].name);
        if (!e || e->numel != fixed[i].count) { en_error("%s: '%s' missing or of another size", c->state_path, fixed[i].name); goto done; }
        if (en_st_read_f32(f, e, fixed[i].d, fixed[i].count) < 0) goto done;
    }
    for (int i = 0; i < t->m->nbuf; i++) {
        const en_st_entry *e = en_st_find(f, t->m->buf_name[i]);
        size_t cnt = (size_t)en_tensor_numel(t->m->buf[i]);
        if (!e || e->numel != cnt) { en_error("%s: '%s' missing", c->state_path, t->m->buf_name[i]); goto done; }
        if (en_st_read_f32(f, e, en_tensor_f32(t->m->buf[i]), cnt) < 0) goto done;
    }
    if (t->step > 0) {
        const en_st_entry *e = en_st_find(f, "loss");
        if (!e || e->numel != (size_t)t->step) { en_error("%s: loss log missing", c->state_path); goto done; }
        if (en_st_read_f32(f, e, t->loss, (size_t)t->step) < 0) goto done;
    }
    t->opt_decay.step = t->opt_plain.step = t->step;
    rc = 0;
done:
    en_st_close(f);
    return rc;
}

/* ---- the loop ----------------------------------------------------------------- */

int en_pretrain_run(const en_pretrain_cfg *cfg_in, en_bpe *bpe, en_pretrain_result *out) {
    en_pretrain_cfg c = *cfg_in;
    en_pretrain_defaults(&c);
    memset(out, 0, sizeof *out);
    if (c.steps <= 0) return en_error("pretrain: steps must be positive");
    if (c.caption_noise && en_caption_noise_check(c.caption_noise) < 0) return -1;
    en_rng init;
    en_rng_seed(&init, c.seed);
    trainer t = {0};
    t.m = en_clip_new(&c.model, &init);
    if (!t.m) return -1;
    const en_clip_config *mc = en_clip_get_config(t.m);
    if (en_bpe_vocab_size(bpe) > mc->vocab_size) {
        en_clip_free(t.m);
        return en_error("pretrain: the vocabulary has %d tokens, the model %d", en_bpe_vocab_size(bpe), mc->vocab_size);
    }
    trainer_segments(&t);
    en_adamw_init(&t.opt_decay, t.opt_decay.n, NULL, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay);
    en_adamw_init(&t.opt_plain, t.opt_plain.n, NULL, c.lr, c.beta1, c.beta2, c.eps, 0.0);
    t.loss = calloc((size_t)c.steps, sizeof *t.loss);
    EN_ASSERT(t.loss != NULL);
    if (c.state_path) {
        FILE *probe = fopen(c.state_path, "rb");
        if (probe) {
            fclose(probe);
            if (load_state(&t, &c) < 0) goto fail;
        }
    }
    /* a state is read (and written) on the host; the steps run on the device */
    en_device dev = (en_device)c.device;
    if (dev != EN_CPU && trainer_place(&t, dev) < 0) goto fail;
    out->resumed_from = t.step;

    int R = mc->image_resolution, B = c.batch, ctx = mc->context_length;
    size_t px = (size_t)R * R;
    uint8_t *pix = malloc((size_t)B * px * 3);
    float *xf = malloc((size_t)B * px * 3 * sizeof *xf);
    int64_t *tok = malloc((size_t)B * ctx * sizeof *tok), *perm = malloc((size_t)c.corpus * sizeof *perm), perm_epoch = -1;
    int32_t *ids = malloc((size_t)ctx * sizeof *ids);
    EN_ASSERT(pix && xf && tok && perm && ids);
    /* Later epochs show the same pictures again: keep the rendered corpus
     * when it is small enough (32 px: 150 MB for 50,000 pictures), which
     * saves the renderer's share of every later step. */
    uint8_t *cache = NULL, *have = NULL;
    if (c.render_cache >= 0 && (int64_t)c.steps * B > c.corpus && (size_t)c.corpus * px * 3 <= ((size_t)512 << 20)) {
        cache = malloc((size_t)c.corpus * px * 3);
        have = calloc((size_t)c.corpus, 1);
        if (!cache || !have) { free(cache); free(have); cache = have = NULL; }
    }

    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    en_clip_set_train(t.m, 1);
    double t0 = now();
    int ran = 0, rc = 0;
    double data_s = 0;
    while (t.step < c.steps) {
        double d0 = now();
        /* the batch of this step */
        int64_t idx[1024], miss[1024];
        EN_ASSERT(B <= 1024);
        for (int i = 0; i < B; i++) idx[i] = stream_index(&c, (int64_t)t.step * B + i, &perm, &perm_epoch);
        int64_t epoch = ((int64_t)t.step * B) / c.corpus;
        if (cache) {
            /* render the pictures not seen yet (once each: a batch that
             * spans two epochs may hold a picture twice), then copy */
            int nmiss = 0;
            for (int i = 0; i < B; i++)
                if (!have[idx[i]]) { have[idx[i]] = 1; miss[nmiss++] = idx[i]; }
            #pragma omp parallel for schedule(dynamic, 8)
            for (int k = 0; k < nmiss; k++) {
                en_shapes_scene sc;
                en_shapes_scene_make(&sc, c.seed, EN_SPLIT_PRETRAIN, (uint64_t)miss[k]);
                en_shapes_render(&sc, R, cache + (size_t)miss[k] * px * 3, NULL, NULL);
            }
        }
        #pragma omp parallel for schedule(dynamic, 8)
        for (int i = 0; i < B; i++) {
            uint8_t *dst = pix + (size_t)i * px * 3;
            if (cache) {
                memcpy(dst, cache + (size_t)idx[i] * px * 3, px * 3);
            } else {
                en_shapes_scene sc;
                en_shapes_scene_make(&sc, c.seed, EN_SPLIT_PRETRAIN, (uint64_t)idx[i]);
                en_shapes_render(&sc, R, dst, NULL, NULL);
            }
            float *xi = xf + (size_t)i * 3 * px;
            for (int ch = 0; ch < 3; ch++)
                for (size_t k = 0; k < px; k++) xi[ch * px + k] = dst[k * 3 + ch] / 255.0f;
            en_clip_normalize(xi, 1, (int64_t)px, NULL, NULL);
        }
        for (int i = 0; i < B; i++) {
            en_shapes_scene sc;
            char cap[256];
            en_shapes_scene_make(&sc, c.seed, EN_SPLIT_PRETRAIN, (uint64_t)idx[i]);
            en_shapes_caption_noisy(&sc, (uint64_t)epoch, c.caption_noise, cap, sizeof cap, NULL);
            if (en_bpe_tokenize(bpe, cap, ctx, 1, ids) < 0) { rc = -1; break; }
            for (int k = 0; k < ctx; k++) tok[(size_t)i * ctx + k] = ids[k];
        }
        if (rc < 0) break;
        data_s += now() - d0;
        en_tensor *x = en_tensor_from_f32(EN_DIMS(B, 3, R, R), xf);
        if (dev != EN_CPU) { /* the batch goes over once */
            en_tensor *xd = en_tensor_to(x, dev);
            en_tensor_release(x);
            if (!xd) { rc = -1; break; }
            x = xd;
        }
        en_tensor *tk = en_tensor_from_i64(EN_DIMS(B, ctx), tok);
        en_tensor *fi = en_clip_encode_image(t.m, x), *ft = en_clip_encode_text(t.m, tk);
        en_tensor *loss = fi && ft ? en_clip_contrastive_loss(fi, ft, en_clip_logit_scale(t.m)) : NULL;
        if (!loss) { rc = -1; en_tape_clear(); en_tensor_release(x); en_tensor_release(tk); en_tensor_release(fi); en_tensor_release(ft); break; }
        float lv = en_tensor_item(loss);
        en_params_zero_grad(en_clip_params(t.m));
        en_backward(loss);
        if (c.grad_clip > 0 && dev != EN_CPU) {
            en_seg all = { en_params_data_on(en_clip_params(t.m)), en_params_grad_on(en_clip_params(t.m)),
                           (size_t)en_params_numel(en_clip_params(t.m)) };
            en_clip_grad_norm_on(dev, &all, 1, (float)c.grad_clip);
        } else if (c.grad_clip > 0) {
            en_seg all = { en_params_data(en_clip_params(t.m)), en_params_grad(en_clip_params(t.m)),
                           (size_t)en_params_numel(en_clip_params(t.m)) };
            en_clip_grad_norm(&all, 1, (float)c.grad_clip);
        }
        double lr = en_sched_warmup_cosine(t.step, c.steps, c.warmup, c.lr, c.lr_min);
        t.opt_decay.lr = t.opt_plain.lr = lr;
        en_adamw_step(&t.opt_decay, t.seg_decay, t.nseg_decay);
        en_adamw_step(&t.opt_plain, t.seg_plain, t.nseg_plain);
        float lsv;
        if (dev != EN_CPU) { /* the same clamp on a value read back (the loss's read waits anyway) */
            en_tensor *lst = en_clip_logit_scale(t.m);
            float v = en_tensor_item(lst), w = v;
            if (w > logf(100.0f)) w = logf(100.0f);
            if (w < 0) w = 0;
            if (w != v) kn_backend_get(dev)->copy(en_tensor_data(lst), &w, sizeof w, KN_COPY_H2D);
            lsv = w;
        } else {
            float *ls = en_tensor_f32(en_clip_logit_scale(t.m));
            if (*ls > logf(100.0f)) *ls = logf(100.0f);
            if (*ls < 0) *ls = 0;
            lsv = *ls;
        }
        en_tensor_release(x); en_tensor_release(tk); en_tensor_release(fi); en_tensor_release(ft); en_tensor_release(loss);
        if (!isfinite(lv)) { rc = en_error("pretrain: the loss became %g at step %d", lv, t.step); break; }
        t.loss[t.step++] = lv;
        ran++;
        double el = now() - t0;
        if (c.on_step) {
            en_pretrain_log lg = { t.step, c.steps, lv, (float)lr, expf(lsv), ran * (double)B / el,
                                   (c.steps - t.step) * el / ran, el };
            c.on_step(c.ctx, &lg);
        }
        int stop = stop_requested || (c.stop_after > 0 && ran >= c.stop_after);
        if (c.state_path && t.step < c.steps &&
            (stop || (c.checkpoint_every > 0 && t.step % c.checkpoint_every == 0))) {
            /* on a device: written from the host, then back (a checkpoint is rare) */
            if ((dev != EN_CPU && trainer_place(&t, EN_CPU) < 0) || save_state(&t, &c) < 0 ||
                (dev != EN_CPU && trainer_place(&t, dev) < 0)) {
                rc = -1;
                break;
            }
        }
        if (stop) { out->interrupted = 1; break; }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    en_clip_set_train(t.m, 0);
    free(pix); free(xf); free(tok); free(perm); free(ids); free(cache); free(have);
    if (rc < 0) goto fail;
    if (dev != EN_CPU && trainer_place(&t, EN_CPU) < 0) goto fail; /* the model goes back once */
    out->wall_s = now() - t0;
    out->data_s = data_s;
    out->images_per_s = ran ? ran * (double)B / out->wall_s : 0;
    out->steps_done = t.step;
    out->loss = t.loss;
    out->model = t.m;
    if (c.state_path && !out->interrupted) remove(c.state_path); /* done: nothing to resume */
    en_adamw_free(&t.opt_decay); en_adamw_free(&t.opt_plain);
    free(t.seg_decay); free(t.seg_plain);
    return 0;
fail:
    en_adamw_free(&t.opt_decay); en_adamw_free(&t.opt_plain);
    free(t.seg_decay); free(t.seg_plain); free(t.loss);
    en_clip_free(t.m);
    return -1;
}

void en_pretrain_report_stderr(void *ctx, const en_pretrain_log *l) {
    (void)ctx;
    static int tty = -1;
    if (tty < 0) tty = isatty(2);
    if (tty) {
        int width = 24, fill = (int)((double)width * l->step / l->steps);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r  pre-train [%s] %d/%d  loss %.3f  %.0f img/s  ETA %.0f s ",
                bar, l->step, l->steps, l->loss, l->images_per_s, l->eta_s);
        if (l->step == l->steps) fputc('\n', stderr);
    } else {
        int every = l->steps / 10 > 0 ? l->steps / 10 : 1;
        if (l->step % every == 0 || l->step == l->steps)
            fprintf(stderr, "  pre-train step %d/%d  loss %.3f  %.0f img/s  ETA %.0f s\n",
                    l->step, l->steps, l->loss, l->images_per_s, l->eta_s);
    }
}

void en_pretrain_result_free(en_pretrain_result *r) {
    en_clip_free(r->model);
    free(r->loss);
    memset(r, 0, sizeof *r);
}
