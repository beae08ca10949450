/* lx_study — what the study's chapters need beyond tensors and ops: CLIP
 * models (new, pre-train, load, save, encode), the linear probe's logistic
 * regression. Added by the chapters helper; folds into runner's bindings
 * when those grow the same functions.
 *
 * (cb.study_* where runner's lx_model.c / lx_fit.c have a function of the
 * same name with other semantics.)
 *
 *   cb.study_clip_new(cfg [, seed])    -> model   (OpenAI's initialisation)
 *   cb.clip_pretrain(cfg, bpe, opts)   -> model, { loss = {...}, wall_s=,
 *                                         images_per_s=, resumed_from= }
 *   cb.study_clip_load(path)           -> model | nil, message
 *   model:save(path)                   -> true | nil, message
 *   model:encode_image(images [, {normalized=}])  (N,3,R,R) -> (N,E)
 *   model:encode_text(tokens)          i64 (N,L) -> (N,E)
 *   model:prepool(images [, opts])     ResNet (N,C,h,w) | ViT (N,T,W)
 *   model:attnpool(feats)              ResNet only: (N,C,h,w) -> (N,E)
 *   model:logit_scale()                exp(t), a number
 *   model:config()                     the en_clip_config as a table
 *   cb.study_logreg_fit(X, y, {C=, max_iter=, tol=, classes=})
 *                                      -> { W = (K,D), b = (K), n_iter=, status= }
 *   cb.head_train(X, y, W0, b0, opts), cb.head_accuracy(X, y, W, b)
 *                                      linear heads (few-shot), see below
 *   cb.vqvae_new(cfg [, seed]), cb.segnet_new(cfg [, seed])
 *                                      the decoders of engine/en_decoders.h
 *
 * Images are in [0,1] (as cb.shapes.batch gives them) unless
 * normalized=true; they are normalised with CLIP's mean and std here, as
 * pre-training does. Encoding runs without the tape, in chunks of 256, so
 * a whole split can be encoded in one call.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_bpe.h"
#include "en_clip.h"
#include "en_decoders.h"
#include "en_error.h"
#include "en_logreg.h"
#include "en_preprocess.h"
#include "en_pretrain.h"
#include "en_rng.h"
#include "lx.h"
#include "lx_study.h"
#include "lx_tensor.h"

#define CLIP_MT "clipbook.StudyCLIP" /* not runner's clipbook.CLIP (lx_model.c) */
#define BPE_MT  "clipbook.BPE"

typedef struct { en_clip *m; } lx_clip;
typedef struct { en_bpe *b; } lx_bpe_handle; /* lx_bpe.c's layout: one pointer */

static lx_clip *new_clip(lua_State *L) {
    lx_clip *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, CLIP_MT);
    return u;
}

static en_clip *check_clip(lua_State *L, int i) {
    lx_clip *u = luaL_checkudata(L, i, CLIP_MT);
    if (!u->m) luaL_argerror(L, i, "model was freed");
    return u->m;
}

static int clip_release(lua_State *L) {
    lx_clip *u = luaL_checkudata(L, 1, CLIP_MT);
    en_clip_free(u->m);
    u->m = NULL;
    return 0;
}

static int field_int(lua_State *L, int t, const char *k, int def) {
    lua_getfield(L, t, k);
    int v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        lua_Integer x = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "config field '%s' must be an integer", k);
        v = (int)x;
    }
    lua_pop(L, 1);
    return v;
}

static double field_num(lua_State *L, int t, const char *k, double def) {
    lua_getfield(L, t, k);
    double v = def;
    if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1)) luaL_error(L, "field '%s' must be a number", k);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static en_clip_config read_config(lua_State *L, int t) {
    luaL_checktype(L, t, LUA_TTABLE);
    en_clip_config c = {0};
    c.embed_dim = field_int(L, t, "embed_dim", 64);
    c.image_resolution = field_int(L, t, "image_resolution", 32);
    c.vision_vit = field_int(L, t, "vision_vit", 1);
    lua_getfield(L, t, "vision_layers");
    if (lua_istable(L, -1)) {
        for (int i = 0; i < 4; i++) {
            lua_rawgeti(L, -1, i + 1);
            c.vision_layers[i] = (int)luaL_optinteger(L, -1, 0);
            lua_pop(L, 1);
        }
    } else if (lua_isinteger(L, -1)) {
        c.vision_layers[0] = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    c.vision_width = field_int(L, t, "vision_width", 64);
    c.vision_patch_size = field_int(L, t, "vision_patch_size", 4);
    c.vision_heads = field_int(L, t, "vision_heads", 0);
    c.context_length = field_int(L, t, "context_length", 32);
    c.vocab_size = field_int(L, t, "vocab_size", 0);
    c.transformer_width = field_int(L, t, "transformer_width", 64);
    c.transformer_heads = field_int(L, t, "transformer_heads", 0);
    c.transformer_layers = field_int(L, t, "transformer_layers", 1);
    c.resnet_stem_stride = field_int(L, t, "resnet_stem_stride", 0);
    c.resnet_stem_pool = field_int(L, t, "resnet_stem_pool", 0);
    en_clip_config_finish(&c);
    return c;
}

static void push_config(lua_State *L, const en_clip_config *c) {
    lua_createtable(L, 0, 16);
#define SETI(k, v) (lua_pushinteger(L, (v)), lua_setfield(L, -2, k))
    SETI("embed_dim", c->embed_dim);
    SETI("image_resolution", c->image_resolution);
    SETI("vision_vit", c->vision_vit);
    lua_createtable(L, 4, 0);
    for (int i = 0; i < 4; i++) { lua_pushinteger(L, c->vision_layers[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "vision_layers");
    SETI("vision_width", c->vision_width);
    SETI("vision_patch_size", c->vision_patch_size);
    SETI("vision_heads", c->vision_heads);
    SETI("context_length", c->context_length);
    SETI("vocab_size", c->vocab_size);
    SETI("transformer_width", c->transformer_width);
    SETI("transformer_heads", c->transformer_heads);
    SETI("transformer_layers", c->transformer_layers);
    SETI("resnet_stem_stride", c->resnet_stem_stride);
    SETI("resnet_stem_pool", c->resnet_stem_pool);
#undef SETI
}

static int cb_clip_new(lua_State *L) {
    en_clip_config c = read_config(L, 1);
    lua_Integer seed = luaL_optinteger(L, 2, 0);
    lx_clip *u = new_clip(L);
    en_rng r;
    en_rng_seed(&r, (uint64_t)seed);
    u->m = en_clip_new(&c, &r);
    if (!u->m) return luaL_error(L, "clip_new: %s", en_error_msg());
    return 1;
}

static int cb_clip_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lx_clip *u = new_clip(L);
    u->m = en_clip_load(path);
    if (!u->m) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    return 1;
}

static int clip_save(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (en_clip_save(m, path) < 0) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- pre-training ------------------------------------------------------- */

typedef struct { double last; int every; const char *label; } pt_progress;

static void pt_on_step(void *ctx, const en_pretrain_log *g) {
    pt_progress *p = ctx;
    if (g->step == g->steps || g->elapsed_s - p->last >= p->every) {
        p->last = g->elapsed_s;
        fprintf(stderr, "    %s step %d/%d  loss %.3f  scale %.1f  %.0f img/s  ETA %.0fs\n", p->label,
                g->step, g->steps, g->loss, g->logit_scale, g->images_per_s, g->eta_s);
    }
}

/* cb.clip_pretrain(cfg, bpe, {steps=, batch=, lr=, seed=, corpus=, warmup=,
 *   weight_decay=, grad_clip=, state=, checkpoint_every=, label=}) */
static int cb_clip_pretrain(lua_State *L) {
    en_clip_config mc = read_config(L, 1);
    lx_bpe_handle *bh = luaL_checkudata(L, 2, BPE_MT);
    if (!bh->b) return luaL_argerror(L, 2, "tokenizer was freed");
    luaL_checktype(L, 3, LUA_TTABLE);
    if (mc.vocab_size <= 0) mc.vocab_size = en_bpe_vocab_size(bh->b);
    en_pretrain_cfg c = {0};
    c.model = mc;
    c.steps = field_int(L, 3, "steps", 100);
    c.batch = field_int(L, 3, "batch", 256);
    c.lr = field_num(L, 3, "lr", 0);
    c.lr_min = field_num(L, 3, "lr_min", 0);
    c.weight_decay = field_num(L, 3, "weight_decay", 0);
    c.grad_clip = field_num(L, 3, "grad_clip", 0);
    c.warmup = field_int(L, 3, "warmup", 0);
    c.seed = (uint64_t)field_int(L, 3, "seed", 0);
    c.corpus = field_int(L, 3, "corpus", 50000);
    c.checkpoint_every = field_int(L, 3, "checkpoint_every", 0);
    lua_getfield(L, 3, "state");
    const char *state = lua_tostring(L, -1); /* kept alive by the options table */
    lua_pop(L, 1);
    c.state_path = state;
    lua_getfield(L, 3, "label");
    const char *label = lua_tostring(L, -1);
    lua_pop(L, 1);
    pt_progress prog = { -1e9, 10, label ? label : "pretrain" };
    c.on_step = pt_on_step;
    c.ctx = &prog;
    en_pretrain_defaults(&c);
    if (c.batch < 2 || c.batch > 1024) return luaL_error(L, "clip_pretrain: batch must be in 2..1024");
    lx_clip *u = new_clip(L);
    en_pretrain_result r;
    if (en_pretrain_run(&c, bh->b, &r) < 0) return luaL_error(L, "clip_pretrain: %s", en_error_msg());
    u->m = r.model;
    r.model = NULL;
    lua_createtable(L, 0, 6);
    lua_createtable(L, r.steps_done, 0);
    for (int i = 0; i < r.steps_done; i++) { lua_pushnumber(L, r.loss[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "loss");
    lua_pushnumber(L, r.wall_s); lua_setfield(L, -2, "wall_s");
    lua_pushnumber(L, r.images_per_s); lua_setfield(L, -2, "images_per_s");
    lua_pushinteger(L, r.resumed_from); lua_setfield(L, -2, "resumed_from");
    lua_pushboolean(L, r.interrupted); lua_setfield(L, -2, "interrupted");
    free(r.loss);
    return 2;
}

/* ---- encoding ----------------------------------------------------------- */

enum { ENC_IMAGE, ENC_PREPOOL, ENC_ATTNPOOL, ENC_TEXT };

static int opt_normalized(lua_State *L, int i) {
    if (!lua_istable(L, i)) return 0;
    lua_getfield(L, i, "normalized");
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Runs the tower over x in chunks of 256 rows, without the tape, and
 * concatenates the outputs. */
static int encode_chunked(lua_State *L, int what) {
    en_clip *m = check_clip(L, 1);
    en_tensor *x = lx_tensor_check(L, 2);
    const en_clip_config *c = en_clip_get_config(m);
    int normalized = opt_normalized(L, 3);
    if (what == ENC_TEXT) {
        if (x->dtype != EN_I64 || x->ndim != 2) return luaL_argerror(L, 2, "tokens must be an i64 (N, L) tensor");
        if (x->shape[1] > c->context_length) return luaL_argerror(L, 2, "more tokens than the context length");
    } else if (what == ENC_ATTNPOOL) {
        if (c->vision_vit) return luaL_error(L, "attnpool: the ViT has no attention pool (it pools with the class token)");
        if (x->dtype != EN_F32 || x->ndim != 4) return luaL_argerror(L, 2, "features must be f32 (N, C, h, w)");
    } else {
        if (x->dtype != EN_F32 || x->ndim != 4 || x->shape[1] != 3 || x->shape[2] != c->image_resolution ||
            x->shape[3] != c->image_resolution)
            return luaL_error(L, "encode_image: images must be f32 (N, 3, %d, %d)", c->image_resolution,
                              c->image_resolution);
    }
    int64_t N = x->shape[0];
    if (N <= 0) return luaL_argerror(L, 2, "no rows");
    int64_t chunk = 256, nparts = (N + chunk - 1) / chunk;
    en_tensor **parts = calloc((size_t)nparts, sizeof *parts);
    EN_ASSERT(parts);
    int prev = en_grad_set_enabled(0);
    static const float mean[3] = EN_CLIP_MEAN, stdv[3] = EN_CLIP_STD;
    const char *err = NULL;
    for (int64_t p = 0; p < nparts && !err; p++) {
        int64_t a = p * chunk, b = a + chunk < N ? a + chunk : N;
        en_tensor *sl = en_slice(x, 0, a, b, 1), *in = NULL;
        if ((what == ENC_IMAGE || what == ENC_PREPOOL) && !normalized) {
            in = en_tensor_new(EN_F32, 4, sl->shape);
            en_tensor *cs = en_contiguous(sl);
            const float *s = en_tensor_f32(cs);
            float *d = en_tensor_f32(in);
            int64_t px = sl->shape[2] * sl->shape[3];
            for (int64_t i = 0; i < b - a; i++)
                for (int ch = 0; ch < 3; ch++)
                    for (int64_t k = 0; k < px; k++) {
                        size_t o = ((size_t)i * 3 + ch) * px + k;
                        d[o] = (s[o] - mean[ch]) / stdv[ch];
                    }
            en_tensor_release(cs);
        } else {
            in = en_contiguous(sl);
        }
        en_tensor_release(sl);
        en_tensor *out = what == ENC_IMAGE ? en_clip_encode_image(m, in)
                       : what == ENC_PREPOOL ? en_clip_image_prepool(m, in)
                       : what == ENC_ATTNPOOL ? en_clip_attnpool(m, in)
                       : en_clip_encode_text(m, in);
        en_tensor_release(in);
        if (!out) err = en_error_msg();
        parts[p] = out;
    }
    en_tensor *all = NULL;
    if (!err) {
        all = nparts == 1 ? en_tensor_retain(parts[0]) : en_concat((int)nparts, parts, 0);
        if (!all) err = en_error_msg();
    }
    en_grad_set_enabled(prev);
    for (int64_t p = 0; p < nparts; p++) en_tensor_release(parts[p]);
    free(parts);
    if (err) return luaL_error(L, "encode: %s", err);
    en_tensor *cont = en_contiguous(all);
    en_tensor_release(all);
    lx_tensor_push(L, cont);
    return 1;
}

static int clip_encode_image(lua_State *L) { return encode_chunked(L, ENC_IMAGE); }
static int clip_prepool(lua_State *L) { return encode_chunked(L, ENC_PREPOOL); }
static int clip_attnpool(lua_State *L) { return encode_chunked(L, ENC_ATTNPOOL); }
static int clip_encode_text(lua_State *L) { return encode_chunked(L, ENC_TEXT); }

static int clip_logit_scale(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    lua_pushnumber(L, exp(en_tensor_item(en_clip_logit_scale(m))));
    return 1;
}

static int clip_config(lua_State *L) {
    push_config(L, en_clip_get_config(check_clip(L, 1)));
    return 1;
}

static int clip_nparams(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)en_params_numel(en_clip_params(check_clip(L, 1))));
    return 1;
}

/* ---- logistic regression -------------------------------------------------- */

static int cb_logreg_fit(lua_State *L) {
    en_tensor *X = lx_tensor_check(L, 1), *y = lx_tensor_check(L, 2);
    if (X->dtype != EN_F32 || X->ndim != 2) return luaL_argerror(L, 1, "X must be f32 (N, D)");
    if (y->dtype != EN_I64 || y->ndim != 1 || y->shape[0] != X->shape[0])
        return luaL_argerror(L, 2, "y must be i64 (N) with one label per row of X");
    en_logreg_opts o = en_logreg_defaults();
    int64_t K = 0;
    if (lua_istable(L, 3)) {
        o.C = field_num(L, 3, "C", o.C);
        o.max_iter = field_int(L, 3, "max_iter", o.max_iter);
        o.tol = field_num(L, 3, "tol", o.tol);
        K = field_int(L, 3, "classes", 0);
    }
    en_tensor *Xc = en_contiguous(X), *yc = en_contiguous(y);
    int64_t N = X->shape[0], D = X->shape[1];
    const int64_t *yy = en_tensor_i64(yc);
    for (int64_t i = 0; i < N; i++) if (yy[i] + 1 > K) K = yy[i] + 1;
    en_logreg m;
    int rc = en_logreg_fit(&m, en_tensor_f32(Xc), yy, N, D, K, &o);
    en_tensor_release(Xc);
    en_tensor_release(yc);
    if (rc < 0) return luaL_error(L, "logreg_fit: %s", en_error_msg());
    lua_createtable(L, 0, 6);
    en_tensor *W = en_tensor_from_f32(EN_DIMS(K, D), m.W), *b = en_tensor_from_f32(EN_DIMS(K), m.b);
    int n_iter = m.n_iter;
    double loss = m.loss;
    const char *st = en_logreg_status_name(m.status);
    en_logreg_free(&m);
    lx_tensor_push(L, W); lua_setfield(L, -2, "W");
    lx_tensor_push(L, b); lua_setfield(L, -2, "b");
    lua_pushinteger(L, n_iter); lua_setfield(L, -2, "n_iter");
    lua_pushnumber(L, loss); lua_setfield(L, -2, "loss");
    lua_pushstring(L, st); lua_setfield(L, -2, "status");
    return 1;
}


/* ---- linear heads (few-shot) ---------------------------------------------- */

/* Accuracy of scores = X W^T + b against y. */
static double head_accuracy(const float *W, const float *b, const float *X, const int64_t *y, int64_t N,
                            int64_t D, int64_t K) {
    int64_t right = 0;
    #pragma omp parallel for reduction(+ : right) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *x = X + n * D;
        int64_t best = 0;
        double bs = -INFINITY;
        for (int64_t k = 0; k < K; k++) {
            double s = b[k];
            const float *w = W + k * D;
            for (int64_t d = 0; d < D; d++) s += (double)w[d] * x[d];
            if (s > bs) { bs = s; best = k; }
        }
        right += best == y[n];
    }
    return (double)right / (double)N;
}

/* cb.head_train(X, y, W0, b0, {epochs=, lr=, weight_decay=, pull=,
 *   Xval=, yval=, scale=, early_stop=}) -> { W=, b=, val = {acc per epoch},
 *   best_epoch=, loss = {train loss per epoch} }
 * Full-batch AdamW (betas 0.9, 0.999) on the cross-entropy of
 * scale * (X W^T + b); pull adds (pull/2)·|W - W0|^2 (an L2 pull toward the
 * start); early_stop returns the weights of the epoch with the best
 * validation accuracy (the first on ties) instead of the last. */
static int cb_head_train(lua_State *L) {
    en_tensor *X = lx_tensor_check(L, 1), *y = lx_tensor_check(L, 2);
    en_tensor *W0 = lx_tensor_check(L, 3), *b0 = lx_tensor_check(L, 4);
    luaL_checktype(L, 5, LUA_TTABLE);
    if (X->dtype != EN_F32 || X->ndim != 2) return luaL_argerror(L, 1, "X must be f32 (N, D)");
    int64_t N = X->shape[0], D = X->shape[1];
    if (y->dtype != EN_I64 || y->ndim != 1 || y->shape[0] != N) return luaL_argerror(L, 2, "y must be i64 (N)");
    if (W0->dtype != EN_F32 || W0->ndim != 2 || W0->shape[1] != D) return luaL_argerror(L, 3, "W0 must be f32 (K, D)");
    int64_t K = W0->shape[0];
    if (b0->dtype != EN_F32 || b0->ndim != 1 || b0->shape[0] != K) return luaL_argerror(L, 4, "b0 must be f32 (K)");
    int epochs = field_int(L, 5, "epochs", 100);
    double lr = field_num(L, 5, "lr", 1e-3), wd = field_num(L, 5, "weight_decay", 0);
    double pull = field_num(L, 5, "pull", 0), scale = field_num(L, 5, "scale", 1);
    lua_getfield(L, 5, "early_stop");
    int early = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, 5, "Xval");
    en_tensor *Xv = lx_tensor_test(L, -1);
    lua_getfield(L, 5, "yval");
    en_tensor *yv = lx_tensor_test(L, -1);
    if ((Xv == NULL) != (yv == NULL)) return luaL_error(L, "head_train: give both Xval and yval, or neither");
    if (Xv && (Xv->dtype != EN_F32 || Xv->ndim != 2 || Xv->shape[1] != D || yv->dtype != EN_I64 ||
               yv->ndim != 1 || yv->shape[0] != Xv->shape[0]))
        return luaL_error(L, "head_train: Xval must be f32 (M, D) and yval i64 (M)");
    for (int64_t i = 0; i < N; i++) {
        int64_t c = en_tensor_i64(y)[i * y->stride[0]];
        if (c < 0 || c >= K) return luaL_argerror(L, 2, "label out of range");
    }
    /* every buffer a Lua-owned tensor, so an error below frees them */
    en_tensor *Xc = en_contiguous(X), *yc = en_contiguous(y);
    lx_tensor_push(L, Xc);
    lx_tensor_push(L, yc);
    en_tensor *Xvc = Xv ? en_contiguous(Xv) : NULL, *yvc = yv ? en_contiguous(yv) : NULL;
    if (Xv) { lx_tensor_push(L, Xvc); lx_tensor_push(L, yvc); }
    int64_t P = K * D + K;
    en_tensor *theta = en_tensor_zeros(EN_DIMS(P)), *th0 = en_tensor_zeros(EN_DIMS(P)),
              *best = en_tensor_zeros(EN_DIMS(P)), *g = en_tensor_zeros(EN_DIMS(P)),
              *m1 = en_tensor_zeros(EN_DIMS(P)), *m2 = en_tensor_zeros(EN_DIMS(P)),
              *pr = en_tensor_zeros(EN_DIMS(N, K));
    en_tensor *bufs[] = {theta, th0, best, g, m1, m2, pr};
    for (int i = 0; i < 7; i++) lx_tensor_push(L, bufs[i]);
    float *th = en_tensor_f32(theta), *t0 = en_tensor_f32(th0), *bt = en_tensor_f32(best), *gr = en_tensor_f32(g),
          *a1 = en_tensor_f32(m1), *a2 = en_tensor_f32(m2), *pp = en_tensor_f32(pr);
    {
        en_tensor *wc = en_contiguous(W0), *bc = en_contiguous(b0);
        memcpy(th, en_tensor_f32(wc), sizeof(float) * (size_t)(K * D));
        memcpy(th + K * D, en_tensor_f32(bc), sizeof(float) * (size_t)K);
        en_tensor_release(wc);
        en_tensor_release(bc);
    }
    memcpy(t0, th, sizeof(float) * (size_t)P);
    memcpy(bt, th, sizeof(float) * (size_t)P);
    const float *x = en_tensor_f32(Xc);
    const int64_t *yy = en_tensor_i64(yc);
    lua_createtable(L, epochs, 0);
    int val_idx = lua_gettop(L);
    lua_createtable(L, epochs, 0);
    int loss_idx = lua_gettop(L);
    double best_acc = -1;
    int best_epoch = 0;
    if (Xv) {
        best_acc = head_accuracy(th, th + K * D, en_tensor_f32(Xvc), en_tensor_i64(yvc), Xv->shape[0], D, K);
    }
    for (int e = 1; e <= epochs; e++) {
        const float *W = th, *b = th + K * D;
        double loss = 0;
        for (int64_t n = 0; n < N; n++) {
            float *p = pp + n * K;
            double mx = -INFINITY;
            for (int64_t k = 0; k < K; k++) {
                double s = b[k];
                for (int64_t d = 0; d < D; d++) s += (double)W[k * D + d] * x[n * D + d];
                p[k] = (float)(scale * s);
                if (p[k] > mx) mx = p[k];
            }
            double z = 0;
            for (int64_t k = 0; k < K; k++) z += exp(p[k] - mx);
            loss += mx + log(z) - p[yy[n]];
            for (int64_t k = 0; k < K; k++) p[k] = (float)(exp(p[k] - mx) / z);
            p[yy[n]] -= 1.0f;
        }
        loss /= (double)N;
        memset(gr, 0, sizeof(float) * (size_t)P);
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++) {
                float c = (float)(scale * pp[n * K + k] / (double)N);
                if (c == 0) continue;
                for (int64_t d = 0; d < D; d++) gr[k * D + d] += c * x[n * D + d];
                gr[K * D + k] += c;
            }
        if (pull > 0)
            for (int64_t i = 0; i < K * D; i++) {
                gr[i] += (float)(pull * (th[i] - t0[i]));
                loss += 0.5 * pull * (th[i] - t0[i]) * (th[i] - t0[i]);
            }
        double c1 = 1 - pow(0.9, e), c2 = 1 - pow(0.999, e);
        for (int64_t i = 0; i < P; i++) {
            a1[i] = 0.9f * a1[i] + 0.1f * gr[i];
            a2[i] = 0.999f * a2[i] + 0.001f * gr[i] * gr[i];
            if (i < K * D) th[i] -= (float)(lr * wd * th[i]);
            th[i] -= (float)(lr * (a1[i] / c1) / (sqrt(a2[i] / c2) + 1e-8));
        }
        lua_pushnumber(L, loss);
        lua_rawseti(L, loss_idx, e);
        if (Xv) {
            double acc = head_accuracy(th, th + K * D, en_tensor_f32(Xvc), en_tensor_i64(yvc), Xv->shape[0], D, K);
            lua_pushnumber(L, acc);
            lua_rawseti(L, val_idx, e);
            if (acc > best_acc) { best_acc = acc; best_epoch = e; memcpy(bt, th, sizeof(float) * (size_t)P); }
        }
    }
    const float *fin = early && Xv ? bt : th;
    lua_createtable(L, 0, 5);
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K, D), fin));
    lua_setfield(L, -2, "W");
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K), fin + K * D));
    lua_setfield(L, -2, "b");
    lua_pushvalue(L, val_idx);
    lua_setfield(L, -2, "val");
    lua_pushvalue(L, loss_idx);
    lua_setfield(L, -2, "loss");
    lua_pushinteger(L, best_epoch);
    lua_setfield(L, -2, "best_epoch");
    return 1;
}

/* cb.head_accuracy(X, y, W, b) -> fraction of rows whose arg-max is y */
static int cb_head_accuracy(lua_State *L) {
    en_tensor *X = lx_tensor_check(L, 1), *y = lx_tensor_check(L, 2), *W = lx_tensor_check(L, 3),
              *b = lx_tensor_check(L, 4);
    if (X->dtype != EN_F32 || X->ndim != 2 || y->dtype != EN_I64 || y->ndim != 1 || y->shape[0] != X->shape[0] ||
        W->dtype != EN_F32 || W->ndim != 2 || W->shape[1] != X->shape[1] || b->dtype != EN_F32 || b->ndim != 1 ||
        b->shape[0] != W->shape[0])
        return luaL_error(L, "head_accuracy: expects X f32 (N, D), y i64 (N), W f32 (K, D), b f32 (K)");
    en_tensor *ts[4] = {en_contiguous(X), en_contiguous(y), en_contiguous(W), en_contiguous(b)};
    double acc = head_accuracy(en_tensor_f32(ts[2]), en_tensor_f32(ts[3]), en_tensor_f32(ts[0]),
                               en_tensor_i64(ts[1]), X->shape[0], X->shape[1], W->shape[0]);
    for (int i = 0; i < 4; i++) en_tensor_release(ts[i]);
    lua_pushnumber(L, acc);
    return 1;
}

/* ---- decoders (engine/en_decoders.h) ------------------------------------------ */

#define VQ_MT  "clipbook.VQVAE"
#define SEG_MT "clipbook.SegNet"

typedef struct { en_vqvae *m; } lx_vq;
typedef struct { en_segnet *m; } lx_seg;

static en_vqvae *check_vq(lua_State *L) {
    lx_vq *u = luaL_checkudata(L, 1, VQ_MT);
    if (!u->m) luaL_argerror(L, 1, "model was freed");
    return u->m;
}
static en_segnet *check_seg(lua_State *L) {
    lx_seg *u = luaL_checkudata(L, 1, SEG_MT);
    if (!u->m) luaL_argerror(L, 1, "model was freed");
    return u->m;
}
static int vq_release(lua_State *L) {
    lx_vq *u = luaL_checkudata(L, 1, VQ_MT);
    en_vqvae_free(u->m);
    u->m = NULL;
    return 0;
}
static int seg_release(lua_State *L) {
    lx_seg *u = luaL_checkudata(L, 1, SEG_MT);
    en_segnet_free(u->m);
    u->m = NULL;
    return 0;
}

/* cb.vqvae_new{in_ch=, grid=, image=, hidden=, codes=, code_dim=, beta=, decay=} [, seed] */
static int cb_vqvae_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    en_vqvae_config c = { field_int(L, 1, "in_ch", 0), field_int(L, 1, "grid", 4), field_int(L, 1, "image", 32),
                          field_int(L, 1, "hidden", 32), field_int(L, 1, "codes", 64), field_int(L, 1, "code_dim", 16),
                          field_num(L, 1, "beta", 0.25), field_num(L, 1, "decay", 0.99) };
    en_rng r;
    en_rng_seed(&r, (uint64_t)luaL_optinteger(L, 2, 0));
    lx_vq *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, VQ_MT);
    u->m = en_vqvae_new(&c, &r);
    if (!u->m) return luaL_error(L, "vqvae_new: %s", en_error_msg());
    return 1;
}

/* vq:train_step(images, feats_or_nil, lr) -> loss, reconstruction MSE */
static int vq_train_step(lua_State *L) {
    en_vqvae *m = check_vq(L);
    en_tensor *img = lx_tensor_check(L, 2), *f = lx_tensor_test(L, 3);
    float recon = NAN;
    float loss = en_vqvae_train_step(m, img, f, luaL_checknumber(L, 4), &recon);
    if (isnan(loss)) return luaL_error(L, "vqvae: %s", en_error_msg());
    lua_pushnumber(L, loss);
    lua_pushnumber(L, recon);
    return 2;
}

static int vq_reconstruct(lua_State *L) {
    en_vqvae *m = check_vq(L);
    en_tensor *t = en_vqvae_reconstruct(m, lx_tensor_check(L, 2), lx_tensor_test(L, 3));
    if (!t) return luaL_error(L, "vqvae: %s", en_error_msg());
    lx_tensor_push(L, t);
    return 1;
}

/* vq:decode_codes(codes) codes i64 (n, g*g) */
static int vq_decode_codes(lua_State *L) {
    en_vqvae *m = check_vq(L);
    en_tensor *c = lx_tensor_check(L, 2);
    if (c->dtype != EN_I64 || c->ndim != 2) return luaL_argerror(L, 2, "codes must be i64 (n, g*g)");
    en_tensor *cc = en_contiguous(c);
    en_tensor *t = en_vqvae_decode_codes(m, en_tensor_i64(cc), (int)c->shape[0]);
    en_tensor_release(cc);
    if (!t) return luaL_error(L, "vqvae: %s", en_error_msg());
    lx_tensor_push(L, t);
    return 1;
}

static int vq_codes_used(lua_State *L) { lua_pushinteger(L, en_vqvae_codes_used(check_vq(L))); return 1; }

/* cb.segnet_new{in_ch=, grid=, image=, hidden=, train_blocks=} [, seed] */
static int cb_segnet_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "train_blocks");
    int tb = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    en_segnet_config c = { field_int(L, 1, "in_ch", 0), field_int(L, 1, "grid", 4), field_int(L, 1, "image", 32),
                           field_int(L, 1, "hidden", 32), tb };
    en_rng r;
    en_rng_seed(&r, (uint64_t)luaL_optinteger(L, 2, 0));
    lx_seg *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, SEG_MT);
    u->m = en_segnet_new(&c, &r);
    if (!u->m) return luaL_error(L, "segnet_new: %s", en_error_msg());
    return 1;
}

/* seg:train_step(images_or_nil, feats_or_nil, masks, lr) -> loss */
static int seg_train_step(lua_State *L) {
    en_segnet *m = check_seg(L);
    float loss = en_segnet_train_step(m, lx_tensor_test(L, 2), lx_tensor_test(L, 3), lx_tensor_check(L, 4),
                                      luaL_checknumber(L, 5));
    if (isnan(loss)) return luaL_error(L, "segnet: %s", en_error_msg());
    lua_pushnumber(L, loss);
    return 1;
}

static int seg_logits(lua_State *L) {
    en_segnet *m = check_seg(L);
    en_tensor *t = en_segnet_logits(m, lx_tensor_test(L, 2), lx_tensor_test(L, 3));
    if (!t) return luaL_error(L, "segnet: %s", en_error_msg());
    lx_tensor_push(L, t);
    return 1;
}

static int seg_trainable(lua_State *L) { lua_pushinteger(L, (lua_Integer)en_segnet_trainable(check_seg(L))); return 1; }

static void decoders_open(lua_State *L) {
    static const luaL_Reg vq_methods[] = {
        {"train_step", vq_train_step}, {"reconstruct", vq_reconstruct}, {"decode_codes", vq_decode_codes},
        {"codes_used", vq_codes_used}, {"free", vq_release}, {NULL, NULL},
    };
    static const luaL_Reg seg_methods[] = {
        {"train_step", seg_train_step}, {"logits", seg_logits}, {"trainable", seg_trainable},
        {"free", seg_release}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, VQ_MT)) {
        luaL_newlib(L, vq_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, vq_release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, vq_release); lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, SEG_MT)) {
        luaL_newlib(L, seg_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, seg_release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, seg_release); lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}

static const luaL_Reg lx_study_functions[] = {
    {"study_clip_new", cb_clip_new}, {"study_clip_load", cb_clip_load}, {"clip_pretrain", cb_clip_pretrain},
    {"study_logreg_fit", cb_logreg_fit}, {"head_train", cb_head_train},
    {"head_accuracy", cb_head_accuracy}, {"vqvae_new", cb_vqvae_new}, {"segnet_new", cb_segnet_new},
    {NULL, NULL},
};

static void lx_study_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"save", clip_save}, {"encode_image", clip_encode_image}, {"encode_text", clip_encode_text},
        {"prepool", clip_prepool}, {"attnpool", clip_attnpool}, {"logit_scale", clip_logit_scale},
        {"config", clip_config}, {"nparams", clip_nparams}, {"free", clip_release}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, CLIP_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, clip_release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, clip_release); lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}

void lx_study_register(lua_State *L) {
    luaL_setfuncs(L, lx_study_functions, 0);
    lx_study_open(L);
    decoders_open(L);
}
